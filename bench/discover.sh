#!/bin/bash
# bench/discover.sh - nhictl discover on a generated host tree (issue 15:
# 1,000 accounts and 10,000 files under the scanned paths in <= 5 s):
#
#     bench/discover.sh [BUILD_DIR]
#
# Builds nhictl with -O2 into BUILD_DIR (default /tmp/nhi-bench-build)
# unless it is there, generates under a temporary directory a tree with
# 1,000 accounts (passwd, shadow, group; each a home with authorized_keys,
# every 10th a crontab, a unit with User= and a world-readable .pgpass),
# and 10,000 world-readable files of 1 KiB under /srv, /opt and /var/lib
# (every 100th with an nhi look-alike whose checksum is wrong, every
# 1,000th a PEM private key), then times `discover --root TREE --json`
# (median and fastest of 5) and writes its section of bench/RESULTS.md.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/common.sh"
B=${1:-/tmp/nhi-bench-build}
OUT=$SRC/bench/RESULTS.md
bench_nhictl "$B"
W=$(mktemp -d /tmp/nhi-bench-discover.XXXXXX)
trap 'rm -rf "$W"' EXIT
R=$W/host
mkdir -p "$R/etc/systemd/system" "$R/var/spool/cron/crontabs" "$R/etc/sudoers.d" "$W/state"
printf 'state_dir = %s\nhost = bench\n' "$W/state" >"$W/nhi.conf"
export NHI_CONF=$W/nhi.conf
python3 - "$R" <<'EOF'
import os, sys
R = sys.argv[1]
key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkb0Kq0XbYvQ2uYxk3Q4m0x1bYcJ5b9aX0Wq7lTgq1C"
pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIB\n-----END PRIVATE KEY-----\n"
pw, sh, gr = ["root:x:0:0:root:/root:/bin/bash"], ["root:*:1:0:99999:7:::"], ["root:x:0:"]
for i in range(1000):
    n, u = "svc-%04d" % i, 20000 + i
    pw.append("%s:x:%d:%d::/home/%s:/usr/sbin/nologin" % (n, u, u, n))
    sh.append("%s:!:1:0:99999:7:::" % n)
    gr.append("%s:x:%d:" % (n, u))
    h = "%s/home/%s/.ssh" % (R, n)
    os.makedirs(h)
    open(h + "/authorized_keys", "w").write('from="10.0.0.1" %s %s\n%s other\n' % (key, n, key))
    if i % 10 == 0:
        open("%s/var/spool/cron/crontabs/%s" % (R, n), "w").write("*/5 * * * * /bin/true\n")
        open("%s/etc/systemd/system/%s.service" % (R, n), "w").write(
            "[Service]\nUser=%s\nEnvironment=MODE=prod\nExecStart=/bin/true\n" % n)
        p = "%s/home/%s/.pgpass" % (R, n)
        open(p, "w").write("db:5432:*:%s:x\n" % n)
        os.chmod(p, 0o644)
for f, lines in (("passwd", pw), ("shadow", sh), ("group", gr)):
    open("%s/etc/%s" % (R, f), "w").write("\n".join(lines) + "\n")
open(R + "/etc/sudoers", "w").write("root ALL=(ALL) ALL\nsvc-0001 ALL=(root) /bin/true\n")
body = ("x" * 63 + "\n") * 16
for i in range(10000):
    top = ("srv", "opt", "var/lib")[i % 3]
    d = "%s/%s/d%02d/e%02d" % (R, top, i % 50, (i // 50) % 20)
    os.makedirs(d, exist_ok=True)
    p = "%s/f%05d.txt" % (d, i)
    t = body
    if i % 100 == 0:
        t = "TOKEN=nhi_abcdefghijkl_" + "A" * 49 + "\n" + body
    if i % 1000 == 0:
        t = pem + body
    open(p, "w").write(t)
    os.chmod(p, 0o644)
EOF
files=$(find "$R/srv" "$R/opt" "$R/var/lib" -type f | wc -l)
NHICTL=$B/nhictl/nhictl
"$NHICTL" discover --root "$R" --json >"$W/out.json"
summary=$(python3 -c 'import json,sys,collections; d=json.load(open(sys.argv[1]))
c=collections.Counter(f["code"] for f in d["findings"])
print("%d accounts, %d files seen, %d read; findings: %s" % (len(d["accounts"]), d["files_seen"], d["files_read"], ", ".join("%s %d" % kv for kv in sorted(c.items()))))' "$W/out.json")
times=()
for k in 1 2 3 4 5; do
	s=$(date +%s%N)
	"$NHICTL" discover --root "$R" --json >/dev/null
	e=$(date +%s%N)
	times+=($(( (e - s) / 1000000 )))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | sed -n 3p)
fastest=$(echo "$sorted" | head -1)
section=$(cat <<EOF
<!-- bench/discover.sh: begin -->
## nhictl discover (bench/discover.sh)

$(date -u +%Y-%m-%d), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg).
A generated tree under \`--root\`: 1,000 accounts (each with
authorized_keys; every 10th a crontab, a unit with \`User=\` and a
world-readable \`.pgpass\`) and $files world-readable files of 1 KiB under
/srv, /opt and /var/lib (every 100th with an nhi token look-alike of a
wrong checksum, every 1,000th a PEM private key).
$summary.

| run | wall, median of 5 | wall, fastest | target |
| --- | --- | --- | --- |
| \`discover --root TREE --json\` | ${median} ms | ${fastest} ms | 5000 ms |
<!-- bench/discover.sh: end -->
EOF
)
bench_section discover "$section" "$OUT"

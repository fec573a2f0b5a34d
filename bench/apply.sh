#!/bin/bash
# bench/apply.sh - the cost of `nhictl apply` (issue 16), with one command:
#
#     bench/apply.sh [BUILD_DIR]
#
# Builds nhictl with -O2 into BUILD_DIR (default /tmp/nhi-bench-build)
# unless it is there.  In a test world of tests/common.sh (owners through
# nss_wrapper, backend = local) it writes an apply file of
# NHI_BENCH_IDENTITIES (default 1,000) identities (owner, dated expiry,
# purpose, hosts, labels; one in 50 an agent), 20 resources, a grant for
# every 5th identity and a delegation for every 50th, then times, over
# NHI_BENCH_ROUNDS (default 5) rounds, the whole nhictl process of:
#   - apply into an empty registry (state directory emptied each round)
#   - the same file re-applied (nothing to change)
#   - the file with one owner changed (one "~" step), and back
# Targets (issue 16): from empty <= 30 s; the unchanged re-apply <= 2 s.
# The results replace the "apply" section of bench/RESULTS.md.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-/tmp/nhi-bench-build}
OUT=${NHI_BENCH_OUT:-$SRC/bench/RESULTS.md}
ROUNDS=${NHI_BENCH_ROUNDS:-5}
NI=${NHI_BENCH_IDENTITIES:-1000}

. "$SRC/bench/common.sh"
bench_nhictl "$B"
export top_srcdir=$SRC top_builddir=$B
set +u
. "$SRC/tests/common.sh"
set -u
cat >>"$NHI_CONF" <<C
grant_max_lifetime = 365d
delegation_max_lifetime = 365d
C
F=$T/fleet.yaml F1=$T/fleet-1.yaml
# expiries: dates within max_lifetime (365d) of now
python3 - "$NI" "$(date -u -d +200days +%Y-%m)" >"$F" <<'PY'
import sys
n, month = int(sys.argv[1]), sys.argv[2]
out = ["identities:"]
for i in range(n):
    out += ["  - name: app-%05d" % i,
            "    kind: %s" % ("agent" if i % 50 == 0 else "service"),
            "    owner: %s" % ("alice" if i % 2 else "dave"),
            "    expires: %s-%02d" % (month, 1 + i % 28),
            "    purpose: bench identity %d" % i,
            "    hosts: [web%d, db%d]" % (i % 10, i % 3),
            "    labels: {env: %s, team: t%d}" % ("prod" if i % 3 else "dev", i % 7)]
out.append("resources:")
out += ["  - {name: res-%02d, kind: api, uri: 'https://res-%02d.example/', owner: alice}" % (r, r)
        for r in range(20)]
out.append("grants:")
out += ["  - {identity: app-%05d, resource: res-%02d, actions: [read], scopes: [s%d]}"
        % (i, i % 20, i % 4) for i in range(0, n, 5)]
out.append("delegations:")
out += ["  - {from: app-%05d, to: app-%05d, actions: [read], reason: bench}" % (i, (i + 1) % n)
        for i in range(0, n, 50)]
print("\n".join(out))
PY
# the one change: app-00001's owner
sed '/^  - name: app-00001$/,/owner:/ s/owner: alice/owner: dave/' "$F" >"$F1"
cmp -s "$F" "$F1" && { echo "apply.sh: the one change did not apply to the file" >&2; exit 1; }

load0=$(cut -d' ' -f1-3 /proc/loadavg)
TIMEFORMAT="%R %U %S"
# timed NAME ARGS...: one whole nhictl process; "real cpu" appended to $T/t.NAME
timed() {
	local name=$1 real user sys; shift
	{ time nhictl "$@" >"$T/$name.out" 2>"$T/$name.err"; } 2>"$T/time" ||
		{ echo "apply.sh: nhictl $* failed: $(head -3 "$T/$name.err")" >&2; exit 1; }
	read -r real user sys <"$T/time"
	echo "$real $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" >>"$T/t.$name"
}
for ((r = 0; r < ROUNDS; r++)); do
	rm -rf "$T/state" && mkdir -p "$T/state"
	timed empty apply -f "$F"
	timed again apply -f "$F"
	grep -qx 'nothing to change' "$T/again.out" ||
		{ echo "apply.sh: the re-apply was not empty: $(head -3 "$T/again.out")" >&2; exit 1; }
	timed one apply -f "$F1"
	[ "$(grep -c '^[-+~] ' "$T/one.out")" = 1 ] ||
		{ echo "apply.sh: the one change was not one step: $(head -3 "$T/one.out")" >&2; exit 1; }
	nhictl apply -f "$F" >/dev/null   # back, for the next round's check
done
q() { sqlite3 "$T/state/registry.db" "$1"; }
counts="$(q 'SELECT count(*) FROM identity') identities, $(q 'SELECT count(*) FROM resource') resources,"
counts+=" $(q 'SELECT count(*) FROM access') grants, $(q 'SELECT count(*) FROM delegation') delegations"
steps=$(grep -c '^[-+~] ' "$T/empty.out")
events=$(q 'SELECT count(*) FROM event')
# col FILE N: median and fastest of column N, in s
median() { awk -v c="$2" '{ print $c }' "$1" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'; }
fastest() { awk -v c="$2" '{ print $c }' "$1" | sort -n | awk 'NR == 1 { printf "%.2f", $1 }'; }
verdict() { awk -v m="$1" -v f="$2" -v t="$3" 'BEGIN { print (m <= t ? "met" : (f <= t ? "met by the fastest round" : "NOT met")) " (<= " t " s)" }'; }
row() {  # NAME LABEL TARGET
	local m f
	m=$(median "$T/t.$1" 1) f=$(fastest "$T/t.$1" 1)
	echo "| $2 | $m s | $f s | $(median "$T/t.$1" 2) s | ${3:+$(verdict "$m" "$f" "$3")} |"
}
section=$(cat <<EOF_S
<!-- bench/apply.sh: begin -->
## nhictl apply of $NI identities (issue 16)

Produced by \`bench/apply.sh\` (one command; the real nhictl, backend = local,
registry on $(df --output=fstype "$T" | tail -1), owners through nss_wrapper). $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs
($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), SQLite $(sqlite3 --version | cut -d' ' -f1).
The file: $(wc -l <"$F") lines; applied: $counts ($steps plan steps, $events audit events
after the last round). Load average $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end.

| process | wall, median | wall, fastest | CPU, median | target |
| --- | --- | --- | --- | --- |
$(row empty "\`nhictl apply -f FILE\` into an empty registry" 30)
$(row again "the same file re-applied (nothing to change)" 2)
$(row one "one owner changed (one step)" "")

$ROUNDS rounds each; the whole process (start, file parsed and checked,
plan, one transaction).
<!-- bench/apply.sh: end -->
EOF_S
)
bench_section apply "$section" "$OUT"

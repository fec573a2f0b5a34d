#!/bin/bash
# What suspend and retire reach on the host (nhictl/util/reach.c): the real
# nhictl reports an identity's real processes (started here as its uid
# with setpriv), its crontab and the systemd units that run as it (in a
# fake tree named by NHICTL_SCAN_ROOT), and with --terminate stops the
# processes: SIGTERM, then SIGKILL for one that ignores it, nothing of
# another uid.  Then nhi-authorized-keys' syslog line (LOG_AUTHPRIV) for
# every reason it withholds keys, captured on a private /dev/log in a
# private mount namespace.  Root only (setpriv, unshare); the host's /etc
# and /dev are never changed.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"

[ "$(id -u)" = 0 ] || { echo "# skip: needs root"; exit 77; }
command -v setpriv >/dev/null || { echo "# skip: no setpriv"; exit 77; }
ST=$T/state

# a uid no other test (running at the same time) hands out: the scan
# must find only this test's processes
U=$((2900000 + RANDOM * 2))
OTHER=$((U + 1))
pids=""
at_exit 'for p in $pids; do kill -9 $p 2>/dev/null; done'
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@" & pids="$pids $!"; }
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# wait_uid PID UID: until the process runs (real or effective) as UID
wait_uid() {
	local i
	for i in $(seq 100); do
		awk -v u="$2" '/^Uid:/ { exit !($2 == u || $3 == u) }' "/proc/$1/status" 2>/dev/null &&
			grep -q '^Name:.*sleep' "/proc/$1/status" && return 0
		sleep 0.05
	done
	return 1
}

mkdir -p "$T/home-r"
chown "$U:$U" "$T/home-r"
expect 0 "create svc-r" nhictl create svc-r --owner alice --expires +30d --uid "$U" --home "$T/home-r"

# ---- the fake tree: a crontab and units, some of them its own ----
R=$T/root
mkdir -p "$R/var/spool/cron/crontabs" "$R/etc/systemd/system/x.service.d" "$R/lib/systemd/system" \
	"$R/usr/lib/systemd/system" "$R/run/systemd/system" "$R/var/mail"
printf '# m h dom mon dow command\nMAILTO=root\n*/5 * * * * /usr/bin/true\n0 3 * * * /usr/bin/backup\n' \
	>"$R/var/spool/cron/crontabs/svc-r"
printf '[Service]\nUser=svc-r\nExecStart=/bin/true\n' >"$R/etc/systemd/system/r.service"
printf '[Service]\nUser=%s\nExecStart=/bin/true\n' "$U" >"$R/lib/systemd/system/by-uid.service"
printf '[Service]\n  User = svc-r\n' >"$R/etc/systemd/system/x.service.d/user.conf"
printf '[Service]\nUser=svc-rr\nExecStart=/bin/true\n' >"$R/usr/lib/systemd/system/other.service"
printf '[Service]\nUser=svc-r\n' >"$R/run/systemd/system/not-a-unit.txt"
export NHICTL_SCAN_ROOT=$R

# ---- its processes: one plain, one ignoring SIGTERM, one only with
# its effective uid; and one of another uid that must survive ----
as "$U" sleep 300; P1=$!
as "$U" sh -c 'trap "" TERM; exec sleep 301'; P2=$!
setpriv --euid="$U" sleep 302 & P3=$!; pids="$pids $P3"
as "$OTHER" sleep 303; P4=$!
for p in "$P1:$U" "$P2:$U" "$P3:$U" "$P4:$OTHER"; do
	wait_uid "${p%:*}" "${p#*:}" || nok "pid ${p%:*} runs sleep as uid ${p#*:}"
done

expect 0 "suspend (no --terminate) reports" nhictl suspend svc-r --json
eqv "json: still the identity" "svc-r suspended" "$(pyjson 'd["name"] + " " + d["state"]')"
eqv "json: its three processes, running" "$P1 running $P2 running $P3 running" \
	"$(pyjson '" ".join("%d %s" % (p["pid"], p["outcome"]) for p in sorted(d["processes"]["list"], key=lambda p: p["pid"]))')"
eqv "json: the effective-uid one is found (ruid 0)" "0 $U" \
	"$(pyjson '" ".join(str(p[k]) for p in d["processes"]["list"] if p["pid"] == '"$P3"' for k in ("ruid","euid"))')"
eqv "json: its crontab, 2 entries" "$R/var/spool/cron/crontabs/svc-r 2" \
	"$(pyjson 'd["crontab"]["path"] + " " + str(d["crontab"]["entries"])')"
eqv "json: its units (User=NAME, User=UID, a drop-in), no other" \
	"$R/etc/systemd/system/r.service:2 $R/etc/systemd/system/x.service.d/user.conf:2 $R/lib/systemd/system/by-uid.service:2" \
	"$(pyjson '" ".join(sorted("%s:%d" % (u["path"], u["line"]) for u in d["units"]["list"]))')"
eqv "json: suspend has no files category" False "$(pyjson '"files" in d')"
check "without --terminate nothing is stopped" alive "$P1"

expect 0 "suspend again, text" nhictl suspend svc-r
has out "the line as before" '^svc-r: already suspended \(nothing changed\)$'
has out "text: processes" "^  processes: 3 running as uid $U \(--terminate stops them\)"
has out "text: a process by pid" "^    pid $P1 sleep$"
has out "text: the crontab" "^  crontab: $R/var/spool/cron/crontabs/svc-r \(2 entries; remove it with 'crontab -r -u svc-r'\)"
has out "text: a unit with file:line" "^    $R/etc/systemd/system/r.service:2: User=svc-r$"

fails resume 2 "--terminate only with suspend and retire" "'--terminate' is not accepted" \
	nhictl resume svc-r --terminate

t0=$(date +%s)
expect 0 "suspend --terminate" nhictl suspend svc-r --terminate --json
t1=$(date +%s)
eqv "json: SIGTERM ended two, SIGKILL the one ignoring it" \
	"$P1 terminated $P2 killed $P3 terminated" \
	"$(pyjson '" ".join("%d %s" % (p["pid"], p["outcome"]) for p in sorted(d["processes"]["list"], key=lambda p: p["pid"]))')"
eqv "json: no survivors" 0 "$(pyjson 'd["processes"]["survivors"]')"
check "the wait for SIGTERM is bounded (under 10 s)" [ $((t1 - t0)) -lt 10 ]
wait "$P1"; eqv "pid $P1 died of SIGTERM" 143 $?
wait "$P2"; eqv "pid $P2 died of SIGKILL" 137 $?
wait "$P3"; eqv "pid $P3 (effective uid) died of SIGTERM" 143 $?
check "the process of another uid lives" alive "$P4"

expect 0 "nothing left: suspend --terminate again" nhictl suspend svc-r --terminate
has out "text: none running" "^  processes: none running as uid $U$"

# ---- retire: the same, and the files left ----
as "$U" sleep 304; P5=$!
wait_uid "$P5" "$U" || nok "pid $P5 runs sleep as uid $U"
echo mail >"$R/var/mail/svc-r"
expect 0 "retire --terminate" nhictl retire svc-r --terminate --reason done --json
eqv "json: retired" retired "$(pyjson 'd["state"]')"
eqv "json: its process terminated" "$P5 terminated" \
	"$(pyjson '" ".join("%d %s" % (p["pid"], p["outcome"]) for p in d["processes"]["list"])')"
eqv "json: files: the home directory, owned by its uid" "$T/home-r True $U" \
	"$(pyjson '" ".join(str(d["files"]["home"][k]) for k in ("path","exists","owner_uid"))')"
eqv "json: files: the mail spool" "$R/var/mail/svc-r True" \
	"$(pyjson '" ".join(str(d["files"]["mail"][k]) for k in ("path","exists"))')"
wait "$P5"; eqv "pid $P5 died of SIGTERM" 143 $?
expect 0 "retire again, text" nhictl retire svc-r
has out "text: the home directory is left" "^  files left: $T/home-r \(home directory, owner uid $U\)$"
has out "text: the crontab is still listed" "^  crontab: $R/var/spool/cron/crontabs/svc-r"
check "the process of another uid still lives" alive "$P4"

# ---- nhi-authorized-keys: why it withholds keys, to syslog (authpriv) ----
if [ -n "${NHI_ASAN_LIB:-}" ] || ! command -v unshare >/dev/null ||
   ! unshare -m --propagation private true 2>/dev/null || ! command -v python3 >/dev/null; then
	echo "# skip: the syslog part (sanitizer build, or no unshare -m / python3)"
	finish
fi
NHIAK=$top_builddir/nhictl/nhi-authorized-keys
expect 0 "create svc-k" nhictl create svc-k --owner alice --expires +30d --uid "$OTHER"
expect 0 "create svc-h (host scope)" nhictl create svc-h --owner alice --expires +30d --host elsewhere
expect 0 "create svc-n (no key)" nhictl create svc-n --owner alice --expires +30d
expect 0 "issue svc-k a key" nhictl cred add svc-k --kind ssh-key --out "$T/k1"
expect 0 "suspend svc-k" nhictl suspend svc-k
printf 'state_dir = %s/nothing\nhost = testhost\n' "$T" >"$T/etc/nosnap.conf"
cat >"$T/syslogd.py" <<'PY'
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
open(sys.argv[2], "w").close()
with open(sys.argv[1], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(4096).rstrip(b"\0\n") + b"\n")
PY
# inside the namespace: a tmpfs over /dev holding only null and the
# listener's /dev/log; each case runs nhi-authorized-keys as nobody
NSS_WRAPPER_PASSWD=$T/etc/passwd NSS_WRAPPER_GROUP=$T/etc/group PRELOAD=$(nss_preload) \
unshare -m --propagation private bash -s "$T" "$NHIAK" "$NHI_CONF" >"$T/ns.out" 2>&1 <<'NS'
T=$1 AK=$2 CONF=$3
mkdir -p "$T/olddev" && mount --bind /dev "$T/olddev" &&
mount -t tmpfs -o mode=755 tmpfs /dev && touch /dev/null && mount --bind "$T/olddev/null" /dev/null || exit 1
python3 "$T/syslogd.py" "$T/syslog.txt" "$T/syslog.ready" & L=$!
for i in $(seq 50); do [ -e "$T/syslog.ready" ] && break; sleep 0.1; done
run() { LD_PRELOAD=$PRELOAD setpriv --reuid=65534 --regid=65534 --clear-groups "$AK" "$@" >/dev/null 2>>"$T/ak.err"; }
run -c "$CONF" svc-k          # suspended
run -c "$CONF" svc-r          # retired
run -c "$CONF" svc-h          # host-out-of-scope
run -c "$CONF" svc-n          # allowed, no key
run -c "$CONF" legacy-svc     # unregistered service account (uid 850)
run -c "$CONF" alice          # a human: not logged
run -c "$CONF" root           # root: not logged
run -c "$T/etc/nosnap.conf" svc-k   # no snapshot
run -c "$CONF" "$(printf 'x\ny z')"  # not a name: no line of its own
sleep 0.3
kill $L
NS
sed 's/^/# /' "$T/ns.out"
if [ -s "$T/syslog.txt" ]; then
	sed 's/^/# syslog: /' "$T/syslog.txt"
	lines() { sed -n 's/^<\([0-9]*\)>.*nhi-authorized-keys: \(.*\)$/\1 \2/p' "$T/syslog.txt"; }
	eqv "one line per withheld user, authpriv.notice (<85>), the reason" \
"85 withheld; user=svc-k reason=suspended
85 withheld; user=svc-r reason=retired
85 withheld; user=svc-h reason=host-out-of-scope
85 withheld; user=svc-n reason=no-active-key
85 withheld; user=legacy-svc reason=unregistered
85 withheld; user=svc-k reason=snapshot-unavailable" "$(lines)"
	check "every line is one syslog record" [ "$(wc -l <"$T/syslog.txt")" -eq 6 ]
	check "no secret or key material in the log" bash -c "! grep -Eq 'ssh-ed25519|AAAA|BEGIN' '$T/syslog.txt'"
else
	nok "nothing reached the private /dev/log"
fi
kill "$P4"; wait "$P4" 2>/dev/null
finish

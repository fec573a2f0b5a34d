#!/bin/bash
# pam_nhi.so in a whole PAM stack: pamtester under pam_wrapper (service
# files from a temp dir) and nss_wrapper (the test world of common.sh), so
# users are classified through NSS by uid range and group, and the log
# lines pam_nhi sends through pam_syslog can be checked (pam_wrapper prints
# them on stderr with PAM_WRAPPER_DEBUGLEVEL=3).
. "$top_srcdir/tests/common.sh"

MKSNAP=$top_builddir/tests/mksnap
[ -x "$MKSNAP" ] || { echo "# skip: $MKSNAP not built"; exit 77; }
command -v pamtester >/dev/null || { echo "# skip: no pamtester"; exit 77; }
PWRAP=$(ldconfig -p | awk '/libpam_wrapper.so / {print $NF; exit}')
[ -n "$PWRAP" ] || { echo "# skip: no pam_wrapper"; exit 77; }
[ -f "$PAM_NHI_SO" ] || { echo "not ok - $PAM_NHI_SO not built"; exit 1; }

"$MKSNAP" "$T/state/nhi.cache" <<D || { echo "not ok - mksnap"; exit 1; }
ident svc-ok:2000001:2000001:ok:/srv/ok:/bin/sh:active:+200d:alice
ident svc-old:2000002:2000002:old:/srv/old:/bin/sh:active:-1d:alice
ident svc-susp:2000003:2000003:susp:/srv/s:/bin/sh:suspended:+200d:alice
D
cat >> "$NHI_CONF" <<C
service_groups = svcusers
C
mkdir -p "$T/pam.d"
# stack: pam_nhi's own answer comes out unchanged; PAM_IGNORE turns into
# pam_debug's "No module specific data is present"
stack() {
	local svc=$1; shift
	cat > "$T/pam.d/$svc" <<S
account  [success=done ignore=ignore default=die] $PAM_NHI_SO config=$NHI_CONF $*
account  required pam_debug.so acct=no_module_data
session  [success=done ignore=ignore default=die] $PAM_NHI_SO config=$NHI_CONF $*
session  required pam_debug.so open_session=no_module_data close_session=no_module_data
password [success=done ignore=ignore default=die] $PAM_NHI_SO config=$NHI_CONF $*
password required pam_debug.so prechauthtok=no_module_data chauthtok=no_module_data
S
}
preload=$PWRAP:libnss_wrapper.so
[ -n "${NHI_ASAN_LIB:-}" ] && preload=$NHI_ASAN_LIB:$preload
# pt SVC USER OP: run pamtester; its stdout+stderr in $T/out
pt() {
	LD_PRELOAD=$preload PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$T/pam.d \
	PAM_WRAPPER_DEBUGLEVEL=3 \
	NSS_WRAPPER_PASSWD=$T/etc/passwd NSS_WRAPPER_GROUP=$T/etc/group \
	ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0:detect_leaks=0 \
	pamtester -v "$1" "$2" "$3" 2>&1 </dev/null | grep -v '^PWRAP_TRACE' > "$T/out"
}
# expect DESCRIPTION SVC USER OP "pam_strerror text" ["log line" ...]
expect() {
	local d=$1 svc=$2 user=$3 op=$4 want=$5 ok=1; shift 5
	pt "$svc" "$user" "$op"
	grep -qF -- "$want" "$T/out" || ok=0
	for l in "$@"; do
		case $l in
		!*) grep -qF -- "${l#!}" "$T/out" && ok=0 ;;
		*) grep -qF -- "$l" "$T/out" || ok=0 ;;
		esac
	done
	if [ $ok = 1 ]; then ok "$d"; else nok "$d"; sed 's/^/#   /' "$T/out" | grep -v PWRAP_TRACE; fi
}
IGN="No module specific data is present"
DENIED="Permission denied"
EXPIRED="User account has expired"
UNAVAIL="Authentication service cannot retrieve authentication info"

stack sshd
# humans and root: ignored, and logged only with debug
expect "human ignored" sshd alice acct_mgmt "$IGN" "!user=alice"
expect "root ignored" sshd root acct_mgmt "$IGN" "!user=root"
stack dbg debug
expect "human logged with debug" dbg alice acct_mgmt "$IGN" \
	"ignore; user=alice service=dbg reason=not-a-service-account"
# classified through NSS: uid 850 is in the system range; dave is in svcusers
expect "system uid unregistered" sshd legacy-svc acct_mgmt "$DENIED" \
	"SYSLOG(5): deny; user=legacy-svc service=sshd reason=unregistered" \
	"unregistered service account"
expect "service group unregistered" sshd dave acct_mgmt "$DENIED" \
	"deny; user=dave service=sshd reason=unregistered"
# registered
expect "allowed" sshd svc-ok acct_mgmt "management done" \
	"SYSLOG(6): allow; user=svc-ok service=sshd reason=ok"
expect "expired" sshd svc-old acct_mgmt "$EXPIRED" \
	"SYSLOG(5): deny; user=svc-old service=sshd reason=expired" "identity svc-old expired on"
expect "suspended" sshd svc-susp acct_mgmt "$DENIED" \
	"deny; user=svc-susp service=sshd reason=suspended"
# mode = audit: logged as audit-deny, allowed
stack aud audit
expect "audit allows" aud svc-old acct_mgmt "management done" \
	"SYSLOG(5): audit-deny; user=svc-old service=aud reason=expired" "!identity svc-old expired"
expect "audit allows unregistered" aud legacy-svc acct_mgmt "management done" \
	"audit-deny; user=legacy-svc service=aud reason=unregistered"
# no snapshot
stack nosnap cache_path=$T/none.cache
expect "no snapshot: fail closed" nosnap legacy-svc acct_mgmt "$UNAVAIL" \
	"deny; user=legacy-svc service=nosnap reason=snapshot-unavailable" \
	"snapshot unavailable: $T/none.cache" "the nhi registry snapshot is unavailable"
expect "no snapshot: human ignored" nosnap alice acct_mgmt "$IGN"
stack nosnapign cache_path=$T/none.cache on_unavailable=ignore
expect "no snapshot, on_unavailable=ignore" nosnapign legacy-svc acct_mgmt "$IGN" \
	"SYSLOG(4): ignore; user=legacy-svc service=nosnapign reason=snapshot-unavailable"
# a broken configuration: service accounts refused, humans not, logged
stack broken frobnicate=1
expect "bad argument: service account refused" broken svc-ok acct_mgmt "$UNAVAIL" \
	"SYSLOG(3): configuration broken: module argument: unknown key 'frobnicate'; humans are left alone" \
	"correct pam_nhi's arguments in the PAM configuration of service 'broken' (/etc/pam.d/broken)" \
	"deny; user=svc-ok service=broken reason=config-error"
expect "bad argument: root not locked out" broken root acct_mgmt "$IGN"
expect "bad argument: a human not locked out" broken alice acct_mgmt "$IGN"
# session and password
expect "session records" sshd svc-ok open_session "successfully opened a session"
check "usage line" grep -Eq "^[0-9]+ svc-ok sshd testhost -$" "$T/state/usage.log"
expect "session ignores humans" sshd alice open_session "$IGN"
check "no human usage" bash -c "! grep -q alice '$T/state/usage.log'"
expect "password refused" sshd svc-ok chauthtok "$DENIED" \
	"deny; user=svc-ok service=sshd reason=password-managed" \
	"password of svc-ok is managed by nhi; use nhictl rotate"
expect "password of humans ignored" sshd alice chauthtok "$IGN"
# nothing in the log may forge a field: spaces and '=' in names are replaced
stack odd debug
expect "odd user name sanitised" odd "svc x=y;z" acct_mgmt "$IGN" \
	"ignore; user=svc?x?y?z service=odd reason=not-a-service-account"

# ---- an adopted account outside every classification (nhictl adopt
# --force), known without the snapshot from registered.uids ----
echo "odd-svc:x:5000:5000:odd:/srv/odd-home:/bin/sh" >>"$T/etc/passwd"
A=$T/state2
mkdir -p "$A"
printf 'state_dir = %s\nhost = testhost\n' "$A" >"$T/etc/adopt.conf"
nhictl -c "$T/etc/adopt.conf" adopt odd-svc --owner alice --expires +30d --force \
	>"$T/out" 2>&1 || { nok "adopt --force odd-svc"; cat "$T/out"; }
check "registered.uids lists it" grep -qx "5000 odd-svc" "$A/registered.uids"
stack adp state_dir=$A
expect "adopted, snapshot good: allowed" adp odd-svc acct_mgmt "management done"
nhictl -c "$T/etc/adopt.conf" suspend odd-svc >"$T/out" 2>&1 ||
	{ nok "suspend odd-svc"; cat "$T/out"; }
expect "adopted and suspended: denied" adp odd-svc acct_mgmt "$DENIED" \
	"deny; user=odd-svc service=adp reason=suspended"
# one bit of its home in the snapshot (and in the delta, which holds its
# newest version) flipped: the snapshot is damaged where it lives
cp "$A/nhi.cache" "$T/good.cache"
for f in "$A"/nhi.cache "$A"/nhi.cache.delta; do
	[ -f "$f" ] || continue
	python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
i = b.find(b'/srv/odd-home')
if i >= 0:
    b[i + 5] ^= 0x02
    open(p + '.tmp', 'wb').write(b)
PY
	[ -f "$f.tmp" ] && chmod 644 "$f.tmp" && mv "$f.tmp" "$f"
done
expect "adopted, suspended, snapshot damaged: fail closed" adp odd-svc acct_mgmt "$UNAVAIL" \
	"deny; user=odd-svc service=adp reason=snapshot-unavailable"
expect "snapshot damaged: a human still ignored" adp alice acct_mgmt "$IGN"
rm -f "$A/nhi.cache" "$A/nhi.cache.delta"
expect "adopted, snapshot removed: fail closed" adp odd-svc acct_mgmt "$UNAVAIL" \
	"deny; user=odd-svc service=adp reason=snapshot-unavailable"
expect "adopted, snapshot removed: session refused too" adp odd-svc open_session "$UNAVAIL"
expect "snapshot removed: a human still ignored" adp alice acct_mgmt "$IGN"
# registered.uids untrusted (group-writable) or gone: nothing more is
# known, and the account passes as the human it looks like (as before it)
chmod 664 "$A/registered.uids"
expect "registered.uids group-writable: not trusted" adp odd-svc acct_mgmt "$IGN"
rm -f "$A/registered.uids"
expect "registered.uids gone: taken for a human" adp odd-svc acct_mgmt "$IGN"
finish

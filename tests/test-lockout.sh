#!/bin/bash
# A broken or untrusted nhi.conf never locks a human out, and pam_nhi's
# session phase stops a denied identity where the stack has no account
# phase (runuser).  The host's own Debian PAM stacks, with pam_nhi added
# where pam-auth-update's profile puts it (common-account and
# common-session, both "required") and to runuser's stack, run by the
# real pamtester and runuser with the built pam_nhi.so and libnss_nhi.so.2
# in a private mount namespace (unshare -m), as in test-examples.sh.
# pam_wrapper is used only to read pam_nhi's log lines (this machine has
# no /dev/log): it hands libpam the very same /etc/pam.d.  The host's /etc
# is never changed.  Root only.
. "$top_srcdir/tests/common.sh"

[ "$(id -u)" = 0 ] || { echo "# skip: needs root"; exit 77; }
[ -z "${NHI_ASAN_LIB:-}" ] || { echo "# skip: sanitizer build (runuser is not instrumented)"; exit 77; }
command -v unshare >/dev/null && [ -x /usr/sbin/runuser ] || { echo "# skip: no unshare or runuser"; exit 77; }
command -v pamtester >/dev/null || { echo "# skip: no pamtester"; exit 77; }
for f in su runuser common-account common-session common-session-noninteractive common-auth; do
	[ -f "/etc/pam.d/$f" ] || { echo "# skip: no /etc/pam.d/$f"; exit 77; }
done
PWRAP=$(ldconfig -p | sed -n 's/.*libpam_wrapper\.so.* => //p' | head -1)
[ -n "$PWRAP" ] || { echo "# skip: no libpam_wrapper.so"; exit 77; }
MKSNAP=$top_builddir/tests/mksnap
[ -x "$MKSNAP" ] || { echo "# skip: $MKSNAP not built"; exit 77; }
[ -f "$NSS_NHI_DIR/libnss_nhi.so.2" ] || { echo "# skip: libnss_nhi.so.2 not built"; exit 77; }
unshare -m --propagation private true 2>/dev/null || { echo "# skip: unshare -m not permitted"; exit 77; }

"$MKSNAP" "$T/state/nhi.cache" <<D || { echo "not ok - mksnap"; exit 1; }
ident svc-ok:2000001:2000001:ok:/:/bin/sh:active:+200d:alice
ident svc-susp:2000003:2000003:susp:/:/bin/sh:suspended:+200d:alice
D
# where the snapshot is when nhi.conf cannot be used: the built-in state_dir
# (whatever the host keeps there is hidden below by a tmpfs)
DEF_CACHE=${NHI_BUILTIN_STATEDIR:?}/nhi.cache
DEF_BEFORE=$(md5sum "$DEF_CACHE" 2>/dev/null || echo absent)
DEF_TOP=$(dirname "$DEF_CACHE")
while [ ! -d "$DEF_TOP" ]; do DEF_TOP=$(dirname "$DEF_TOP"); done
[ "$DEF_TOP" != / ] || { echo "# skip: nothing to mount over for $DEF_CACHE"; exit 77; }

# the configurations: broken for the modules, broken for nhictl only, untrusted
C=$T/conf
mkdir -p "$C"
printf 'state_dir = %s\nhost = testhost\nfrobnicate = 1\n' "$T/state" > "$C/unknown.conf"
printf 'state_dir = %s\nhost = testhost\nmax_lifetime = 90\n' "$T/state" > "$C/maxlife.conf"
printf 'state_dir = %s\nhost = testhost\n' "$T/state" > "$C/good.conf"
cp "$C/good.conf" "$C/gw.conf"
chmod 644 "$C"/*.conf
chmod 664 "$C/gw.conf"

# the host's stacks, pam_nhi added as the pam-auth-update profile and
# pam_nhi(8) say (runuser's stack has no @include: its own line)
mkdir -p "$T/pam.d"
cp -p /etc/pam.d/* "$T/pam.d/"
echo "account required $PAM_NHI_SO" >> "$T/pam.d/common-account"
echo "session required $PAM_NHI_SO" >> "$T/pam.d/common-session"
echo "session required $PAM_NHI_SO" >> "$T/pam.d/runuser"
mkdir -p "$T/host"
cp -p /etc/passwd /etc/group /etc/shadow "$T/host/"
echo "nhi-human:x:1777:1777:A Human:/:/bin/sh" >> "$T/host/passwd"
echo "nhi-human:x:1777:" >> "$T/host/group"
echo "nhi-human:*:19000:0:99999:7:::" >> "$T/host/shadow"
printf 'passwd: files nhi\ngroup: files nhi\nshadow: files nhi\n' > "$T/nsswitch.conf"
echo "$NSS_NHI_DIR" > "$T/ld.so.conf"
ldconfig -X -C "$T/ld.so.cache" -f "$T/ld.so.conf" || { echo "not ok - ldconfig"; exit 1; }

cat > "$T/inside.sh" <<'I'
set -u
mount --bind "$T/pam.d" /etc/pam.d
mount -t tmpfs -o mode=755 tmpfs /run
mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
for f in passwd group shadow; do mount --bind "$T/host/$f" "/etc/$f"; done
mount --bind "$T/ld.so.cache" /etc/ld.so.cache
# the snapshot also at the built-in path, for the untrusted configuration
mount -t tmpfs -o mode=755 tmpfs "$DEF_TOP"
mkdir -p "$(dirname "$DEF_CACHE")"
cp "$T/state/nhi.cache" "$DEF_CACHE"
run() {  # run NAME CONF CMD...: output and exit status in $T/out.NAME
	local n=$1 conf=$2; shift 2
	NHI_CONF=$C/$conf timeout 20 "$@" > "$T/out.$n" 2>&1 </dev/null
	echo "rc=$?" >> "$T/out.$n"
}
# pamtester through the real stacks; pam_wrapper only shows the log
pt() {
	local n=$1 conf=$2; shift 2
	run "$n" "$conf" env LD_PRELOAD="$PWRAP" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=/etc/pam.d \
		PAM_WRAPPER_DEBUGLEVEL=3 pamtester -v "$@"
}
for c in unknown maxlife gw good; do
	run "getent-$c" "$c.conf" getent passwd svc-ok
	pt "su-human-$c" "$c.conf" su nhi-human acct_mgmt open_session close_session
	pt "sshd-human-$c" "$c.conf" sshd nhi-human acct_mgmt open_session close_session
	pt "su-svc-$c" "$c.conf" su svc-ok acct_mgmt
	pt "sess-svc-$c" "$c.conf" su svc-ok open_session
	pt "su-susp-$c" "$c.conf" su svc-susp acct_mgmt
done
run runuser-susp good.conf runuser -u svc-susp -- true
run runuser-ok good.conf runuser -u svc-ok -- true
run runuser-human good.conf runuser -u nhi-human -- true
run runuser-human-broken unknown.conf runuser -u nhi-human -- true
run runuser-svc-broken unknown.conf runuser -u svc-ok -- true
NHI_CONF=$C/good.conf "$NHICTL" -c "$C/good.conf" check svc-ok > "$T/out.check-good" 2>&1
I
T=$T C=$C PWRAP=$PWRAP DEF_CACHE=$DEF_CACHE DEF_TOP=$DEF_TOP NHICTL=$NHICTL \
	unshare -m --propagation private bash "$T/inside.sh"

rc() { tail -1 "$T/out.$1"; }
ok_rc() { test "$(rc "$1")" = rc=0; }
bad_rc() { test "$(rc "$1")" != rc=0; }
has() { grep -q -- "$2" "$T/out.$1"; }
count() { grep -c -- "$2" "$T/out.$1"; }

# (c) nss_nhi: identities stay, whatever nhi.conf says
for c in unknown maxlife gw; do
	check "nss, $c nhi.conf: getent passwd svc-ok still answers" has "getent-$c" "^svc-ok:x:2000001:"
done
# (a) humans: every phase through the real su and sshd stacks
for c in unknown gw; do
	for s in su sshd; do
		check "$s stack, $c nhi.conf: a human's account and session pass" ok_rc "$s-human-$c"
	done
	check "su stack, $c nhi.conf: a service account is refused (account)" \
		bash -c "[ \"\$(tail -1 '$T/out.su-svc-$c')\" != rc=0 ] &&
			 grep -q 'deny; user=svc-ok service=su reason=config-error' '$T/out.su-svc-$c'"
	check "su stack, $c nhi.conf: a service account is refused (session)" \
		bash -c "[ \"\$(tail -1 '$T/out.sess-svc-$c')\" != rc=0 ] &&
			 grep -q 'session-deny; user=svc-ok service=su reason=config-error' '$T/out.sess-svc-$c'"
	check "su stack, $c nhi.conf: the problem logged once for account + session" \
		test "$(count "su-human-$c" "configuration broken: ")" = 1
	check "su stack, $c nhi.conf: the log line says what to do" \
		has "su-human-$c" "run 'nhictl config check $C/$c.conf'"
done
check "unknown key: the log names file, line and key" \
	has su-human-unknown "configuration broken: $C/unknown.conf:3: unknown key 'frobnicate'"
check "group-writable: the log says not trusted" \
	has su-human-gw "configuration broken: $C/gw.conf: not trusted: writable by group or others (mode 0664)"
# a bad value of a key only nhictl reads breaks nothing
check "max_lifetime = 90: a human passes" ok_rc su-human-maxlife
check "max_lifetime = 90: svc-ok allowed as usual" ok_rc su-svc-maxlife
check "max_lifetime = 90: svc-susp denied as usual" \
	bash -c "[ \"\$(tail -1 '$T/out.su-susp-maxlife')\" != rc=0 ] &&
		 grep -q 'reason=suspended' '$T/out.su-susp-maxlife'"
check "max_lifetime = 90: logged once as a warning with the value" \
	test "$(count su-human-maxlife "configuration: $C/maxlife.conf:3: bad value for 'max_lifetime': bad duration '90'")" = 1
check "good nhi.conf: nothing logged about it" bash -c "! grep -q 'configuration' '$T/out.su-human-good'"
check "good nhi.conf: svc-ok allowed" ok_rc su-svc-good
# (b) runuser: only the session phase can stop it
check "runuser -u svc-susp: refused by the session phase" \
	bash -c "[ \"\$(tail -1 '$T/out.runuser-susp')\" != rc=0 ] && grep -q 'identity svc-susp is suspended' '$T/out.runuser-susp'"
check "runuser -u svc-ok: runs" ok_rc runuser-ok
check "runuser -u a human: runs" ok_rc runuser-human
check "runuser -u a human, broken nhi.conf: runs" ok_rc runuser-human-broken
check "runuser -u svc-ok, broken nhi.conf: refused" bad_rc runuser-svc-broken
check "nhictl check agrees: svc-ok allowed" grep -q "^svc-ok: allow (ok)" "$T/out.check-good"
check "host untouched: /etc/pam.d/common-account" bash -c "! grep -q pam_nhi /etc/pam.d/common-account"
check "host untouched: /etc/nsswitch.conf" bash -c "! grep -q nhi /etc/nsswitch.conf"
check "host untouched: $DEF_CACHE" test "$(md5sum "$DEF_CACHE" 2>/dev/null || echo absent)" = "$DEF_BEFORE"
for f in "$T"/out.*; do grep -v "PWRAP_\(DEBUG\|TRACE\)" "$f" | grep -v "^ *$" | sed "s|^|# ${f##*/}: |"; done
finish

#!/bin/bash
# The files in examples/ work as they are, with Debian's own PAM stacks:
# in a private mount namespace (unshare -m), /etc/nsswitch.conf is
# examples/nsswitch.conf verbatim, and /etc/pam.d/su, cron and sshd are
# examples/pam.d/* with only the module's path (and config=) filled in, so
# their "@include common-*" lines pull in the host's real common-account,
# common-session and common-password (pam_unix and friends).  util-linux su
# and pamtester then run them with the built pam_nhi.so and
# libnss_nhi.so.2.  The host's /etc is never changed.  Root only.
. "$top_srcdir/tests/common.sh"

[ "$(id -u)" = 0 ] || { echo "# skip: needs root"; exit 77; }
[ -z "${NHI_ASAN_LIB:-}" ] || { echo "# skip: sanitizer build (su is not instrumented)"; exit 77; }
command -v unshare >/dev/null && [ -x /usr/bin/su ] || { echo "# skip: no unshare or su"; exit 77; }
command -v pamtester >/dev/null || { echo "# skip: no pamtester"; exit 77; }
for f in common-account common-session common-session-noninteractive common-password; do
	[ -f "/etc/pam.d/$f" ] || { echo "# skip: no /etc/pam.d/$f"; exit 77; }
done
MKSNAP=$top_builddir/tests/mksnap
[ -x "$MKSNAP" ] || { echo "# skip: $MKSNAP not built"; exit 77; }
[ -f "$NSS_NHI_DIR/libnss_nhi.so.2" ] || { echo "# skip: libnss_nhi.so.2 not built"; exit 77; }
unshare -m --propagation private true 2>/dev/null || { echo "# skip: unshare -m not permitted"; exit 77; }
EX=$top_srcdir/examples

"$MKSNAP" "$T/state/nhi.cache" <<D || { echo "not ok - mksnap"; exit 1; }
ident svc-ok:2000001:2000001:ok:/:/bin/sh:active:+200d:alice
ident svc-old:2000002:2000002:old:/:/bin/sh:active:-1d:alice
ident svc-susp:2000003:2000003:susp:/:/bin/sh:suspended:+200d:alice
D

# the example stacks, each with the module's path filled in; they hold
# the account, session and password lines, and the auth phase comes
# from the service's own stack (su: root needs no password)
mkdir -p "$T/pam.d"
cp -p /etc/pam.d/common-* "$T/pam.d/"
fill() { sed "s|pam_nhi\.so|$PAM_NHI_SO config=$NHI_CONF|" "$EX/pam.d/$1"; }
{ printf 'auth sufficient pam_rootok.so\nauth required pam_deny.so\n'; fill su; } > "$T/pam.d/su"
{ printf 'auth required pam_deny.so\n'; fill cron; } > "$T/pam.d/cron"
{ printf 'auth required pam_deny.so\n'; fill sshd; } > "$T/pam.d/sshd"
check "the examples name the module once per phase" \
	test "$(grep -c "^[a-z]* *[a-z]* *$PAM_NHI_SO" "$T/pam.d/sshd")" = 3
# a human of the namespace's own (uid in login.defs' human range), added
# to copies of the host's account files
mkdir -p "$T/host"
cp -p /etc/passwd /etc/group /etc/shadow "$T/host/"
echo "nhi-human:x:1777:1777:A Human:/nonexistent:/bin/sh" >> "$T/host/passwd"
echo "nhi-human:x:1777:" >> "$T/host/group"
echo "nhi-human:*:19000:0:99999:7:::" >> "$T/host/shadow"
echo "$NSS_NHI_DIR" > "$T/ld.so.conf"
ldconfig -X -C "$T/ld.so.cache" -f "$T/ld.so.conf" || { echo "not ok - ldconfig"; exit 1; }

cat > "$T/inside.sh" <<'I'
set -u
mount --bind "$T/pam.d" /etc/pam.d
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -m 755 /run/sshd
mount --bind "$EX/nsswitch.conf" /etc/nsswitch.conf
for f in passwd group shadow; do mount --bind "$T/host/$f" "/etc/$f"; done
mount --bind "$T/ld.so.cache" /etc/ld.so.cache
run() {  # run NAME CMD...: output and exit status in $T/out.NAME
	local n=$1; shift
	NHI_CONF=$NHI_CONF timeout 20 "$@" > "$T/out.$n" 2>&1 </dev/null
	echo "rc=$?" >> "$T/out.$n"
}
run getent getent passwd svc-ok svc-susp
run shadow getent shadow svc-old
run su-ok su -s /bin/sh svc-ok -c 'id -un'
run su-old su -s /bin/sh svc-old -c 'id -un'
run su-susp su -s /bin/sh svc-susp -c 'id -un'
run su-human su -s /bin/sh nhi-human -c 'id -un'
run cron-ok pamtester -v cron svc-ok acct_mgmt open_session close_session
run cron-old pamtester -v cron svc-old acct_mgmt
run cron-susp pamtester -v cron svc-susp acct_mgmt
run cron-human pamtester -v cron nhi-human acct_mgmt
run sshd-ok pamtester -v sshd svc-ok acct_mgmt open_session close_session
run sshd-pw pamtester -v sshd svc-ok chauthtok
if [ -x /usr/sbin/sshd ]; then
	ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
	printf 'Include %s\nHostKey %s\nPidFile %s/sshd.pid\n' "$EX/sshd_config" "$T/hostkey" "$T" > "$T/sshd_config"
	run sshd-t /usr/sbin/sshd -t -f "$T/sshd_config"
	run sshd-T /usr/sbin/sshd -T -f "$T/sshd_config" -C user=svc-ok,host=h,addr=127.0.0.1
fi
I
T=$T EX=$EX NHI_CONF=$NHI_CONF unshare -m --propagation private bash "$T/inside.sh"

rc() { tail -1 "$T/out.$1"; }
check "nsswitch example: svc-ok resolves through nss_nhi" grep -q "^svc-ok:x:2000001:2000001:" "$T/out.getent"
check "nsswitch example: suspended svc-susp keeps its entry, nologin shell" \
	grep -q "^svc-susp:x:2000003:.*nologin$" "$T/out.getent"
check "nsswitch example: shadow from nss_nhi (svc-old expired, locked)" grep -q "^svc-old:!:" "$T/out.shadow"
check "su example: svc-ok allowed" bash -c "grep -qx svc-ok '$T/out.su-ok' && [ \"\$(tail -1 '$T/out.su-ok')\" = rc=0 ]"
check "su example: svc-old denied (pam_unix already refuses the expired shadow entry)" \
	test "$(rc su-old)" = rc=1
check "su example: svc-susp denied by pam_nhi, told why" \
	bash -c "grep -q 'identity svc-susp is suspended' '$T/out.su-susp' && [ \"\$(tail -1 '$T/out.su-susp')\" = rc=1 ]"
check "su example: a human is left alone" \
	bash -c "grep -qx nhi-human '$T/out.su-human' && [ \"\$(tail -1 '$T/out.su-human')\" = rc=0 ]"
check "cron example: svc-ok's job may run (account, session)" test "$(rc cron-ok)" = rc=0
check "cron example: svc-old's job refused" test "$(rc cron-old)" != rc=0
check "cron example: svc-susp's job refused" \
	bash -c "grep -q 'identity svc-susp is suspended' '$T/out.cron-susp' && [ \"\$(tail -1 '$T/out.cron-susp')\" != rc=0 ]"
check "cron example: a human's job runs" test "$(rc cron-human)" = rc=0
check "cron example: a usage record for svc-ok" grep -Eq "^[0-9]+ svc-ok cron testhost -$" "$T/state/usage.log"
check "sshd example: svc-ok allowed (account, session)" test "$(rc sshd-ok)" = rc=0
check "sshd example: a manual password change is refused" \
	bash -c "grep -q 'nhictl rotate' '$T/out.sshd-pw' && [ \"\$(tail -1 '$T/out.sshd-pw')\" != rc=0 ]"
if [ -f "$T/out.sshd-t" ]; then
	check "sshd_config example: sshd accepts it" test "$(rc sshd-t)" = rc=0
	check "sshd_config example: UsePAM and the AuthorizedKeysCommand as documented" bash -c "
		grep -qx 'usepam yes' '$T/out.sshd-T' &&
		grep -qx 'authorizedkeyscommand /usr/sbin/nhi-authorized-keys %u' '$T/out.sshd-T' &&
		grep -qx 'authorizedkeyscommanduser nobody' '$T/out.sshd-T'"
else
	echo "# skip: no /usr/sbin/sshd for the sshd_config example"
fi
for f in su cron sshd; do
	check "host untouched: /etc/pam.d/$f" bash -c "! grep -q pam_nhi /etc/pam.d/$f 2>/dev/null"
done
check "host untouched: /etc/nsswitch.conf" bash -c "! grep -q nhi /etc/nsswitch.conf"
check "host untouched: /etc/passwd" bash -c "! grep -q nhi-human /etc/passwd"
for f in "$T"/out.*; do [ "$f" = "$T/out.sshd-T" ] && continue; sed "s|^|# ${f##*/}: |" "$f"; done
finish

#!/bin/bash
# The classic stack, for real: pam_unix (not a wrapper) judging what
# libnss_nhi.so.2 serves through glibc.  In a private mount namespace
# (unshare -m) /etc/nsswitch.conf says "files nhi" for passwd, group and
# shadow, /etc/ld.so.cache also names the built module's directory, and
# /etc/pam.d holds this test's stacks; pamtester (and su) then run them.
# The host's /etc is never changed.  Root only.
#
#  - expiry (issue 12, item 2): an identity that expires later today
#    passes pam_unix's account check (sp_expire is the first day it is
#    expired all day), one expired an hour ago does not;
#  - issued passwords (item 3): `nhictl cred add --kind password` gives a
#    password pam_unix accepts (nss_nhi serves its hash from the root-only
#    nhi.shadow); after `nhictl rotate` the new one works through pam_unix
#    and the old one, during the grace, through pam_nhi's auth phase; a
#    revoked one, one past its not-after and those of a suspended,
#    expired or retired identity do not; no hash in the world-readable files; a
#    non-root getspnam gets nothing; and a real su, run by an unprivileged
#    user, takes the password from its prompt, and so does a real sshd's
#    password authentication (the old one during the grace too);
#  - the package's pam-auth-update profile (debian/pam-configs/nhi), run
#    through the real pam-auth-update on copies of /etc/pam.d: in the
#    common-auth it writes, the old password works during the grace, a
#    wrong one does not, and a human's own password still works with one
#    prompt.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"

[ "$(id -u)" = 0 ] || { echo "# skip: needs root"; exit 77; }
[ -z "${NHI_ASAN_LIB:-}" ] || { echo "# skip: sanitizer build (pam_unix, su are not instrumented)"; exit 77; }
command -v unshare >/dev/null || { echo "# skip: no unshare"; exit 77; }
command -v pamtester >/dev/null || { echo "# skip: no pamtester"; exit 77; }
MKSNAP=$top_builddir/tests/mksnap
[ -x "$MKSNAP" ] || { echo "# skip: $MKSNAP not built"; exit 77; }
have_nss || { echo "# skip: libnss_nhi.so.2 not built"; exit 77; }
unshare -m --propagation private true 2>/dev/null || { echo "# skip: unshare -m not permitted"; exit 77; }

# ---- the world: the registry (the real nhictl) and a second snapshot ----
now=$(date +%s)
end_of_today=$(( (now / 86400 + 1) * 86400 ))
if [ $((end_of_today - now)) -lt 300 ]; then   # "later today" needs some of today left
	sleep $((end_of_today - now + 1)); now=$(date +%s); end_of_today=$(( (now / 86400 + 1) * 86400 ))
fi
later=$((now + 6 * 3600))                        # +6h, but still today
[ "$later" -lt $((end_of_today - 120)) ] || later=$((end_of_today - 120))
later_iso=$(date -u -d "@$later" +%Y-%m-%dT%H:%M:%SZ)
expect 0 "create svc-today (expires later today, $later_iso)" \
	nhictl create svc-today --owner alice --expires "$later_iso"

# an identity that expired an hour ago (nhictl refuses to create one)
mkdir -p "$T/old"
cat > "$T/old/nhi.conf" <<C
state_dir = $T/old
C
"$MKSNAP" "$T/old/nhi.cache" <<D || { echo "not ok - mksnap"; exit 1; }
ident svc-expired:2100001:2100001:expired:/:/bin/sh:active:-1h:alice
D

# ---- passwords: issued, rotated, revoked, suspended, expired ----
pw() {  # pw NAME [cred add options]: issue a password, kept in $T/pw.NAME
	expect 0 "cred add $1 --kind password" nhictl cred add "$@" --kind password
	install -m 600 "$T/out" "$T/pw.$1"
}
for n in svc-pw svc-rot svc-rev svc-susp svc-notafter svc-ret; do
	expect 0 "create $n" nhictl create "$n" --owner alice --expires +30d
done
expect 0 "create svc-brief (expires in 4 s)" nhictl create svc-brief --owner alice --expires +4s
for n in svc-pw svc-rot svc-rev svc-susp svc-brief svc-ret; do pw "$n"; done
pw svc-notafter --expires +3s
mv "$T/pw.svc-rot" "$T/pw.svc-rot.old"
expect 0 "rotate svc-rot (grace 1h)" nhictl rotate svc-rot --grace 1h
install -m 600 "$T/out" "$T/pw.svc-rot"
expect 0 "revoke svc-rev's password" nhictl cred revoke svc-rev \
	"$(nhictl cred list svc-rev --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
expect 0 "suspend svc-susp" nhictl suspend svc-susp
expect 0 "retire svc-ret" nhictl retire svc-ret --reason test
echo "not-the-password" > "$T/pw.wrong"
ST=$T/state
eqv "nhi.shadow is 0600 root" "600:0" "$(stat -c %a:%u "$ST/nhi.shadow")"
eqv "nhi.shadow: svc-rot has two hashes (new, then the old in grace)" 2 \
	"$(grep -c '^svc-rot ' "$ST/nhi.shadow")"
eqv "nhi.shadow: nothing for the revoked password or the suspended identity" 0 \
	"$(grep -c '^svc-rev \|^svc-susp ' "$ST/nhi.shadow")"
check "no hash in the world-readable snapshot, its delta or the key index" \
	bash -c "! grep -l '\\\$y\\\$' '$ST'/nhi.cache* '$ST/authorized_keys.idx'"
sleep 5   # svc-notafter's password and svc-brief have expired

# ---- the namespace ----
mkdir -p "$T/pam.d"
printf 'account required pam_unix.so\n' > "$T/pam.d/nhi-acct"
# pam_unix alone: what su, login and sshd's password authentication use
printf 'auth sufficient pam_unix.so\nauth required pam_deny.so\n' > "$T/pam.d/nhi-unix"
# pam_nhi first: the old password during a rotation's grace
printf 'auth sufficient %s config=%s\nauth sufficient pam_unix.so try_first_pass\nauth required pam_deny.so\n' \
	"$PAM_NHI_SO" "$NHI_CONF" > "$T/pam.d/nhi-both"
# su, run by an unprivileged user: auth through pam_unix only
printf 'auth sufficient pam_rootok.so\nauth sufficient pam_unix.so\nauth required pam_deny.so\naccount required pam_unix.so\nsession required pam_permit.so\n' \
	> "$T/pam.d/su"
# setuid su ignores NHI_CONF: nss_nhi reads the built-in path, here the
# test's nhi.conf on a private mount (when that directory exists)
defconf=$(strings -a "$NSS_NHI_DIR/libnss_nhi.so.2" | grep -m1 '^/.*/nhi/nhi\.conf$' || true)
sysconf=${defconf%/nhi/nhi.conf}
if [ -n "$defconf" ] && [ "$sysconf" != /etc ] && [ -d "$sysconf" ]; then
	mkdir -p "$T/sysconf/nhi"; cp -p "$NHI_CONF" "$T/sysconf/nhi/nhi.conf"
else
	sysconf=""
fi
real_nss_files || { echo "not ok - ldconfig"; exit 1; }

cat > "$T/inside.sh" <<'I'
set -u
mount --bind "$T/pam.d" /etc/pam.d
mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
mount --bind "$T/ld.so.cache" /etc/ld.so.cache
run() {  # run NAME CONF CMD...: output and exit status in $T/out.NAME
	local n=$1 conf=$2; shift 2
	NHI_CONF=$conf timeout 20 "$@" > "$T/out.$n" 2>&1 </dev/null
	echo "rc=$?" >> "$T/out.$n"
}
run shadow-today "$NHI_CONF" getent shadow svc-today
run acct-today "$NHI_CONF" pamtester -v nhi-acct svc-today acct_mgmt
run acct-expired "$T/old/nhi.conf" pamtester -v nhi-acct svc-expired acct_mgmt
# the real su, run by root (pam_rootok; account: pam_unix alone)
run su-today "$NHI_CONF" su -s /bin/sh svc-today -c 'echo in:$(id -u)'
run su-expired "$T/old/nhi.conf" su -s /bin/sh svc-expired -c 'echo in:$(id -u)'
auth() {  # auth NAME STACK USER PWFILE: pamtester authenticate, the password on stdin
	local n=$1; shift
	NHI_CONF=$NHI_CONF timeout 20 pamtester -v "$1" "$2" authenticate < "$3" > "$T/out.$n" 2>&1
	echo "rc=$?" >> "$T/out.$n"
}
auth unix-pw nhi-unix svc-pw "$T/pw.svc-pw"
auth unix-pw-wrong nhi-unix svc-pw "$T/pw.wrong"
auth unix-rot-new nhi-unix svc-rot "$T/pw.svc-rot"
auth unix-rot-old nhi-unix svc-rot "$T/pw.svc-rot.old"
auth both-rot-old nhi-both svc-rot "$T/pw.svc-rot.old"
auth both-rot-new nhi-both svc-rot "$T/pw.svc-rot"
auth both-rot-wrong nhi-both svc-rot "$T/pw.wrong"
for n in svc-rev svc-susp svc-notafter svc-brief svc-ret; do
	auth "unix-$n" nhi-unix "$n" "$T/pw.$n"
	auth "both-$n" nhi-both "$n" "$T/pw.$n"
done
run shadow-pw "$NHI_CONF" getent shadow svc-pw
run shadow-nobody "$NHI_CONF" setpriv --reuid=65534 --regid=65534 --clear-groups getent shadow svc-pw
if [ -n "$SYSCONF" ]; then
	mount --bind "$T/sysconf" "$SYSCONF"
	chmod 755 "$T"
	# su reads the password from its stdin; 'nobody' is not root, so
	# pam_rootok does not let it in: pam_unix must accept the password
	for p in svc-pw wrong; do
		( cd / && timeout 20 setpriv --reuid=65534 --regid=65534 --clear-groups \
			su -s /bin/sh svc-pw -c 'id -un' < "$T/pw.$p" > "$T/out.su-$p" 2>&1
		  echo "rc=$?" >> "$T/out.su-$p" )
	done
fi
# last: a local account of svc-rot's name before nhi ("files nhi"): the
# identity's password (the old one, which only pam_nhi knows) must not
# open it
{ cat /etc/passwd; echo "svc-rot:x:3999:3999:local namesake:/:/bin/sh"; } > "$T/passwd.namesake"
mount --bind "$T/passwd.namesake" /etc/passwd
auth both-rot-namesake nhi-both svc-rot "$T/pw.svc-rot.old"
I
chmod 644 "$T"/pw.*   # read by su's caller, nobody, inside the namespace only
T=$T NHI_CONF=$NHI_CONF SYSCONF=$sysconf unshare -m --propagation private bash "$T/inside.sh"

rc() { tail -1 "$T/out.$1"; }
today=$((now / 86400))
check "shadow: svc-today's sp_expire is tomorrow, the first day it is expired all day" \
	grep -q "^svc-today:\*:[0-9]*:::::$((today + 1)):" "$T/out.shadow-today"
check "pam_unix account: svc-today (expires later today) is allowed" \
	test "$(rc acct-today)" = rc=0
check "real su: svc-today (expires later today) gets in" \
	bash -c "grep -q '^in:[0-9]' '$T/out.su-today' && [ \"\$(tail -1 '$T/out.su-today')\" = rc=0 ]"
check "real su: svc-expired (an hour ago) does not" \
	bash -c "! grep -q '^in:' '$T/out.su-expired' && [ \"\$(tail -1 '$T/out.su-expired')\" != rc=0 ]"
check "pam_unix account: svc-expired (an hour ago) is refused" \
	bash -c "[ \"\$(tail -1 '$T/out.acct-expired')\" != rc=0 ] && grep -qi 'expired' '$T/out.acct-expired'"

ok_rc() { test "$(rc "$1")" = rc=0; }
bad_rc() { test "$(rc "$1")" != rc=0; }
check "pam_unix accepts the issued password" ok_rc unix-pw
check "pam_unix refuses a wrong one" bad_rc unix-pw-wrong
check "after rotate: pam_unix accepts the new password" ok_rc unix-rot-new
check "after rotate: pam_unix alone does not know the old one" bad_rc unix-rot-old
check "after rotate: the old password works through pam_nhi during the grace" ok_rc both-rot-old
check "after rotate: the new one works with pam_nhi stacked first" ok_rc both-rot-new
check "after rotate: a wrong password is refused with pam_nhi stacked first" bad_rc both-rot-wrong
check "a local namesake (uid 3999) of svc-rot: pam_nhi refuses the identity's password for it" \
	bad_rc both-rot-namesake
for n in svc-rev svc-susp svc-notafter svc-brief svc-ret; do
	case $n in
	svc-ret) what="the password of a retired identity" ;;
	svc-rev) what="a revoked password" ;; svc-susp) what="the password of a suspended identity" ;;
	svc-notafter) what="a password past its not-after" ;; svc-brief) what="the password of an expired identity" ;;
	esac
	check "pam_unix refuses $what" bad_rc "unix-$n"
	check "pam_unix with pam_nhi first refuses $what" bad_rc "both-$n"
done
hash=$(awk '$1 == "svc-pw" { print $4; exit }' "$ST/nhi.shadow")
check "root's getspnam gets svc-pw's hash from nhi.shadow" \
	grep -qF "svc-pw:$hash:" "$T/out.shadow-pw"
check "a non-root getspnam gets nothing" \
	bash -c "! grep -q svc-pw '$T/out.shadow-nobody' && [ \"\$(tail -1 '$T/out.shadow-nobody')\" != rc=0 ]"
if [ -n "$sysconf" ]; then
	check "real su by an unprivileged user: the issued password logs in" \
		bash -c "grep -q '^\(Password: \)\?svc-pw\$' '$T/out.su-svc-pw' && [ \"\$(tail -1 '$T/out.su-svc-pw')\" = rc=0 ]"
	check "real su by an unprivileged user: a wrong password does not" \
		bash -c "! grep -q 'svc-pw\$' '$T/out.su-wrong' && [ \"\$(tail -1 '$T/out.su-wrong')\" != rc=0 ]"
else
	echo "# skip: the built-in config directory ($defconf) is not private-mountable: no unprivileged su"
fi
check "no password or hash in the output of the tests" \
	bash -c "! grep -rqF -f <(cat '$T'/pw.svc-*) '$T'/out.* && ! grep -rq '\\\$y\\\$' '$T'/out.unix-* '$T'/out.both-*"

# ---- sshd's password authentication, for real ----
if [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null && command -v ssh-keygen >/dev/null; then
	PORT=$(free_port)
	ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
	# the Debian profile's order: pam_unix, then pam_nhi for the old password in grace
	printf '%s\n' "auth sufficient pam_unix.so" \
		"auth sufficient $PAM_NHI_SO config=$NHI_CONF try_first_pass" \
		"auth required pam_deny.so" "account required pam_unix.so" \
		"session required pam_permit.so" "password required pam_deny.so" > "$T/pam.d/sshd"
	cat > "$T/sshd_config" <<C
ListenAddress 127.0.0.1
Port $PORT
HostKey $T/hostkey
PidFile $T/sshd.pid
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
StrictModes no
C
	cat > "$T/inside-sshd.sh" <<'I'
set -eu
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -m 755 /run/sshd
mount --bind "$T/pam.d/sshd" /etc/pam.d/sshd
mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
mount --bind "$T/ld.so.cache" /etc/ld.so.cache
exec /usr/sbin/sshd -D -e -f "$T/sshd_config"
I
	T=$T NHI_CONF=$NHI_CONF unshare -m --propagation private bash "$T/inside-sshd.sh" 2>"$T/sshd.log" &
	SSHD=$!
	at_exit "kill $SSHD 2>/dev/null; wait $SSHD 2>/dev/null"
	check "sshd listens on 127.0.0.1:$PORT" wait_port "$PORT"
	# ssh USER PWFILE: a password login (the password from SSH_ASKPASS) that
	# prints the user sshd started it as (the session has no NHI_CONF, so
	# NSS there could not name it)
	sshpw() {
		printf '#!/bin/sh\ncat %s\n' "$2" > "$T/askpass"; chmod 700 "$T/askpass"
		SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none timeout 30 \
			ssh -p "$PORT" -o PreferredAuthentications=password -o PubkeyAuthentication=no \
			-o NumberOfPasswordPrompts=1 -o UserKnownHostsFile="$T/known_hosts" \
			-o StrictHostKeyChecking=no -o ConnectTimeout=10 -o LogLevel=ERROR \
			"$1@127.0.0.1" 'echo "in:$USER"' > "$T/out" 2> "$T/err" < /dev/null
		rc=$?
	}
	sshpw svc-pw "$T/pw.svc-pw"
	check "sshd: svc-pw logs in with its issued password" \
		bash -c "[ $rc = 0 ] && grep -qx in:svc-pw '$T/out'"
	sshpw svc-rot "$T/pw.svc-rot.old"
	check "sshd: svc-rot logs in with its old password during the grace (pam_nhi)" \
		bash -c "[ $rc = 0 ] && grep -qx in:svc-rot '$T/out'"
	sshpw svc-pw "$T/pw.wrong"
	check "sshd: a wrong password is refused" test "$rc" = 255
	sshpw svc-rev "$T/pw.svc-rev"
	check "sshd: a revoked password is refused" test "$rc" = 255
	kill "$SSHD" 2>/dev/null; wait "$SSHD" 2>/dev/null
	check "sshd's log says how they got in" \
		bash -c "grep -q 'Accepted password for svc-pw' '$T/sshd.log' && grep -q 'Accepted password for svc-rot' '$T/sshd.log'"
	check "no password in sshd's log" bash -c "! grep -qF -f <(cat '$T'/pw.svc-* '$T/pw.wrong') '$T/sshd.log'"
	[ "$fail" -eq 0 ] || sed 's/^/# sshd: /' "$T/sshd.log" | tail -20
else
	echo "# skip: no sshd/ssh: no password login over ssh"
fi

# ---- the pam-auth-update profile, in the common-auth it writes ----
SEC=$(dirname "$(ls /usr/lib/*/security/pam_unix.so /lib/*/security/pam_unix.so 2>/dev/null | head -1)")
if command -v pam-auth-update >/dev/null && [ -d /usr/share/pam-configs ] && [ -d /var/lib/pam ] &&
   [ "$SEC" != . ] && command -v openssl >/dev/null; then
	P=$T/pau
	mkdir -p "$P"
	cp -a /etc/pam.d "$P/pam.d"
	cp -a /usr/share/pam-configs "$P/pam-configs"
	cp "$top_srcdir/debian/pam-configs/nhi" "$P/pam-configs/nhi"
	cp -a /var/lib/pam "$P/var-lib-pam"
	cp -a "$SEC" "$P/security"
	cp "$PAM_NHI_SO" "$P/security/pam_nhi.so"
	printf 'auth include common-auth\n' > "$P/pam.d/nhi-login"
	# a human of the namespace's own, with a password of its own
	cp -p /etc/passwd /etc/group /etc/shadow "$P/"
	echo "human-pw" > "$T/pw.human"
	echo "nhi-human:x:1777:1777:A Human:/nonexistent:/bin/sh" >> "$P/passwd"
	echo "nhi-human:x:1777:" >> "$P/group"
	echo "nhi-human:$(openssl passwd -6 human-pw):19000:0:99999:7:::" >> "$P/shadow"
	cat > "$T/inside2.sh" <<'I'
set -u
mount --bind "$P/pam.d" /etc/pam.d
mount --bind "$P/pam-configs" /usr/share/pam-configs
mount --bind "$P/var-lib-pam" /var/lib/pam
mount --bind "$P/security" "$SEC"
mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
mount --bind "$T/ld.so.cache" /etc/ld.so.cache
for f in passwd group shadow; do mount --bind "$P/$f" "/etc/$f"; done
DEBIAN_FRONTEND=noninteractive pam-auth-update --package --enable nhi > "$T/out.pau" 2>&1
echo "rc=$?" >> "$T/out.pau"
cp /etc/pam.d/common-auth "$T/common-auth"
auth() {  # as in inside.sh
	local n=$1; shift
	NHI_CONF=$NHI_CONF timeout 20 pamtester -v "$1" "$2" authenticate < "$3" > "$T/out.$n" 2>&1
	echo "rc=$?" >> "$T/out.$n"
}
auth pau-rot-old nhi-login svc-rot "$T/pw.svc-rot.old"
auth pau-rot-new nhi-login svc-rot "$T/pw.svc-rot"
auth pau-rot-wrong nhi-login svc-rot "$T/pw.wrong"
auth pau-rev nhi-login svc-rev "$T/pw.svc-rev"
auth pau-human nhi-login nhi-human "$T/pw.human"
auth pau-human-wrong nhi-login nhi-human "$T/pw.wrong"
I
	T=$T P=$P SEC=$SEC NHI_CONF=$NHI_CONF unshare -m --propagation private bash "$T/inside2.sh"
	sed 's/^/# common-auth: /' "$T/common-auth"
	check "pam-auth-update --enable nhi: pam_nhi follows pam_unix in common-auth's primary block" \
		bash -c "[ \"\$(tail -1 '$T/out.pau')\" = rc=0 ] &&
			grep -A1 '^auth.*pam_unix.so' '$T/common-auth' | grep -q 'default=ignore.*pam_nhi.so try_first_pass'"
	check "common-auth: the old password works during the grace" ok_rc pau-rot-old
	check "common-auth: the new password works" ok_rc pau-rot-new
	check "common-auth: a wrong password does not" bad_rc pau-rot-wrong
	check "common-auth: a revoked password does not" bad_rc pau-rev
	check "common-auth: a human's own password works, asked for once" \
		bash -c "[ \"\$(tail -1 '$T/out.pau-human')\" = rc=0 ] && [ \"\$(grep -o 'Password:' '$T/out.pau-human' | wc -l)\" = 1 ]"
	check "common-auth: a human's wrong password does not" bad_rc pau-human-wrong
	check "host untouched: /etc/pam.d/common-auth" bash -c "! grep -q pam_nhi /etc/pam.d/common-auth"
else
	echo "# skip: no pam-auth-update (or pam_unix, openssl): the profile is not tried"
fi
check "host untouched: /etc/nsswitch.conf" bash -c "! grep -q nhi /etc/nsswitch.conf"
for f in "$T"/out.*; do sed "s|^|# ${f##*/}: |" "$f"; done
finish

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
#    expired all day), one expired an hour ago does not.
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

# ---- the namespace ----
mkdir -p "$T/pam.d"
printf 'account required pam_unix.so\n' > "$T/pam.d/nhi-acct"
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
I
T=$T NHI_CONF=$NHI_CONF unshare -m --propagation private bash "$T/inside.sh"

rc() { tail -1 "$T/out.$1"; }
today=$((now / 86400))
check "shadow: svc-today's sp_expire is tomorrow, the first day it is expired all day" \
	grep -q "^svc-today:\*:[0-9]*:::::$((today + 1)):" "$T/out.shadow-today"
check "pam_unix account: svc-today (expires later today) is allowed" \
	test "$(rc acct-today)" = rc=0
check "pam_unix account: svc-expired (an hour ago) is refused" \
	bash -c "[ \"\$(tail -1 '$T/out.acct-expired')\" != rc=0 ] && grep -qi 'expired' '$T/out.acct-expired'"

check "host untouched: /etc/nsswitch.conf" bash -c "! grep -q nhi /etc/nsswitch.conf"
for f in "$T"/out.*; do sed "s|^|# ${f##*/}: |" "$f"; done
finish

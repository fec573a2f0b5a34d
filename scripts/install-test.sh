#!/bin/bash
# Installation test (as root): install the built .deb packages into a
# throw-away copy of this machine -- an overlay of / on a tmpfs inside a
# private mount namespace -- enable the modules the way the docs say
# (pam-auth-update, nsswitch.conf), and check real getent, id and su.
# The host's own /etc is compared before and after.
# Usage: scripts/install-test.sh DEBDIR
set -u
debdir=$(readlink -f "${1:?usage: $0 DEBDIR}")
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
ls "$debdir"/nhictl_*.deb "$debdir"/libpam-nhi_*.deb "$debdir"/libnss-nhi_*.deb >/dev/null || exit 1

before=$(cat /etc/nsswitch.conf /etc/pam.d/* /etc/passwd /etc/group 2>/dev/null | md5sum)
R=$(mktemp -d /tmp/nhi-install.XXXXXX)

cat >"$R/inside.sh" <<'IN'
set -u
pass=0 fail=0
ok() { pass=$((pass+1)); echo "ok - $*"; }
nok() { fail=$((fail+1)); echo "not ok - $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
export DEBIAN_FRONTEND=noninteractive
check "dpkg -i the three packages" sh -c "dpkg -i /tmp/debs/nhictl_*.deb /tmp/debs/libpam-nhi_*.deb /tmp/debs/libnss-nhi_*.deb >/tmp/dpkg.log 2>&1"
check "state dir /var/lib/nhi is 0755 root" test "$(stat -c %a:%U /var/lib/nhi)" = 755:root
check "pam-auth-update profile installed, not enabled by default" \
	sh -c '[ -f /usr/share/pam-configs/nhi ] && ! grep -q pam_nhi /etc/pam.d/common-account'
check "nsswitch.conf not edited by the package" sh -c '! grep -q nhi /etc/nsswitch.conf'
check "pam-auth-update --enable nhi" pam-auth-update --enable nhi
check "pam_nhi in common-account and common-session" \
	sh -c 'grep -q "pam_nhi.so" /etc/pam.d/common-account && grep -q "pam_nhi.so" /etc/pam.d/common-session'
sed -i -E 's/^(passwd|group|shadow):(.*)$/\1:\2 nhi/' /etc/nsswitch.conf
useradd -m -s /bin/bash alice-owner
check "nhictl create (owner a live local human)" \
	nhictl create svc-pkgtest --owner alice-owner --expires +1d --purpose "install test"
check "nhictl create an identity that expires in 2s" \
	nhictl create svc-expiring --owner alice-owner --expires +2s --purpose "install test"
check "getent passwd svc-pkgtest" sh -c 'getent passwd svc-pkgtest | grep -q "^svc-pkgtest:x:2000000:"'
check "id svc-pkgtest" sh -c 'id svc-pkgtest | grep -q "uid=2000000(svc-pkgtest)"'
check "su -s /bin/sh svc-pkgtest -c id works" sh -c 'su -s /bin/sh svc-pkgtest -c id | grep -q "uid=2000000"'
sleep 3
check "su refused for the expired identity" sh -c '! su -s /bin/sh svc-expiring -c id 2>/tmp/su.err'
echo "# su said: $(cat /tmp/su.err)"
useradd -r -u 990 -s /bin/sh rogue-svc
check "su refused for an unregistered system account" sh -c '! su -s /bin/sh rogue-svc -c id 2>/dev/null'
check "su still works for a human" sh -c 'su -s /bin/sh alice-owner -c id | grep -q alice-owner'
check "nhictl retire" nhictl retire svc-pkgtest
check "retired identity is gone" sh -c '! getent passwd svc-pkgtest'
check "dpkg -r removes the packages" sh -c "dpkg -r libpam-nhi libnss-nhi nhictl >/tmp/dpkg.log 2>&1"
check "pam_nhi gone from common-account after removal" sh -c '! grep -q pam_nhi /etc/pam.d/common-account'
echo "# $pass passed, $fail failed"
[ $fail -eq 0 ]
IN

unshare -m --propagation private bash -c '
set -e
R=$1; debdir=$2
mount -t tmpfs tmpfs "$R"
mkdir -p "$R/upper" "$R/work" "$R/root"
mount -t overlay overlay -o lowerdir=/,upperdir="$R/upper",workdir="$R/work" "$R/root"
mount -t proc proc "$R/root/proc"
mount --rbind /dev "$R/root/dev"
mount -t tmpfs tmpfs "$R/root/tmp"
mount -t tmpfs tmpfs "$R/root/run"
mkdir -p "$R/root/tmp/debs"
cp "$debdir"/*.deb "$R/root/tmp/debs/"
cp /proc/self/fd/3 "$R/root/tmp/inside.sh"
chroot "$R/root" bash /tmp/inside.sh
' _ "$R" "$debdir" 3<"$R/inside.sh"
rc=$?
after=$(cat /etc/nsswitch.conf /etc/pam.d/* /etc/passwd /etc/group 2>/dev/null | md5sum)
rm -rf "$R"
if [ "$before" = "$after" ]; then echo "ok - host /etc untouched"; else echo "not ok - host /etc changed"; rc=1; fi
exit $rc

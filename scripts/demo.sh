#!/bin/bash
# The README's first command: install the build dependencies, build nhi and
# walk through its main job on this machine, without touching /etc.
#
# A small "world" of users (a human owner, alice) is served to the programs
# through nss_wrapper, and PAM runs through pam_wrapper with a service file
# in a temp dir, so the host's /etc/nsswitch.conf and /etc/pam.d stay as
# they are.  Everything nhi writes goes to a temp state directory.
# Every step says what it should show; the demo checks that it did, and
# exits 1 (saying which step) if one did not.
#
# NHI_DEMO_BUILD=DIR: use the build in DIR as it is (no installs, no
# build; tests/test-demo.sh runs the demo so).
set -eu
cd "$(dirname "$0")/.."
top=$PWD
if [ -n "${NHI_DEMO_BUILD:-}" ]; then
	B=$NHI_DEMO_BUILD
else
	sh scripts/deps.sh demo
	if [ ! -x build/nhictl/nhictl ] || [ ! -f build/nss_nhi/.libs/libnss_nhi.so.2 ]; then
		echo "== building nhi (autoreconf, configure, make) ..."
		autoreconf -fi >/dev/null 2>&1
		mkdir -p build
		(cd build && ../configure -q && make -s -j"$(nproc)") >/dev/null
	fi
	B=$top/build
fi
# not under /tmp: nhi trusts a file only when no directory above it is
# writable by others (sticky or not), so the state lives in the build tree
# (make check's NHI_TEST_TMP when it runs the demo)
base=${NHI_TEST_TMP:-$top/build}
mkdir -p "$base"
D=$(mktemp -d "$base/nhi-demo.XXXXXX")
chmod 755 "$D"
trap 'rm -rf "$D"' EXIT
mkdir -p "$D/state" "$D/pam.d"
printf 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice Admin:/home/alice:/bin/bash\n' >"$D/passwd"
printf 'root:x:0:\nalice:x:1000:\n' >"$D/group"
printf 'root:*:19000:0:99999:7:::\nalice:$y$j9T$x:19000:0:99999:7:::\n' >"$D/shadow"
cat >"$D/nhi.conf" <<C
state_dir = $D/state
host = demo-host
C
echo "account required $B/pam_nhi/.libs/pam_nhi.so config=$D/nhi.conf" >"$D/pam.d/demo-login"
printf "auth required pam_deny.so\naccount required pam_deny.so\n" >"$D/pam.d/other"
export NHI_CONF=$D/nhi.conf

nss() {
	LD_PRELOAD=libnss_wrapper.so${PRELOAD_MORE:-} \
	NSS_WRAPPER_PASSWD=$D/passwd NSS_WRAPPER_GROUP=$D/group NSS_WRAPPER_SHADOW=$D/shadow \
	NSS_WRAPPER_MODULE_SO_PATH=$B/nss_nhi/.libs/libnss_nhi.so.2 NSS_WRAPPER_MODULE_FN_PREFIX=nhi \
	PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$D/pam.d "$@"
}
. "$top/scripts/demo-steps.sh"
nhictl() { nss "$B/nhictl/nhictl" "$@"; }
getent() { nss /usr/bin/getent "$@"; }
id() { nss /usr/bin/id "$@"; }
pam_account() { PRELOAD_MORE=:libpam_wrapper.so nss pamtester -v demo-login "$1" acct_mgmt; }

say "1. alice (a human) creates a service identity she owns; it expires in 8 seconds"
succeeds nhictl create svc-backup --owner alice --expires +8s --purpose "nightly backups to S3"
succeeds nhictl show svc-backup
say "2. every program sees it through nss_nhi (getent, id)"
succeeds getent passwd svc-backup
succeeds id svc-backup
say "3. PAM's account phase (pam_nhi through pamtester) allows it"
succeeds pam_account svc-backup
succeeds nhictl check svc-backup --service demo-login
say "4. an unregistered service account (uid in nhi's range) is refused"
echo "rogue:x:2000500:2000500::/nonexistent:/bin/sh" >>"$D/passwd"
fails pam_account rogue
say "5. eight seconds later the identity has expired: PAM refuses it"
sleep 9
fails pam_account svc-backup
fails nhictl check svc-backup --service demo-login
succeeds getent passwd svc-backup
say "6. retired, it is gone from the system"
succeeds nhictl retire svc-backup --reason "workload decommissioned"
fails getent passwd svc-backup
fails id svc-backup
say "7. the audit trail, hash-chained and verified"
succeeds nhictl log
succeeds nhictl log --verify
demo_end "nothing outside $D was changed."

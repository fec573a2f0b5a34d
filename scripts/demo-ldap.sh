#!/bin/bash
# The directory walkthrough of the README (as root, after scripts/demo.sh
# has built nhi into build/): a throwaway OpenLDAP slapd with nhi's schema
# (tests/slapd.sh: its own port, socket and data in a temp dir; the host's
# slapd and /etc/ldap are not used), and two "hosts" (two state dirs and
# configs) with backend = ldap:
#   host1 creates an identity in the directory -> host2 syncs and enforces
#   it (NSS, PAM) -> its owner is locked in the directory -> host2's next
#   sync orphans it and PAM there denies it -> host1 transfers it to a live
#   owner -> host2 allows it again.
# Programs see the test world's users through nss_wrapper and PAM runs
# through pam_wrapper, as in scripts/demo.sh: nothing in /etc changes.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
B=${NHI_BUILD:-$top/build}   # NHI_BUILD: another build directory
if [ ! -x "$B/nhictl/nhictl" ] || [ ! -f "$B/nss_nhi/.libs/libnss_nhi.so.2" ]; then
	echo "demo-ldap.sh: build nhi first (bash scripts/demo.sh builds it into build/)" >&2
	exit 1
fi
command -v slapd >/dev/null || [ -x /usr/sbin/slapd ] ||
	{ echo "demo-ldap.sh: slapd is needed (sh scripts/deps.sh test)" >&2; exit 1; }
export top_srcdir=$top top_builddir=$B
set +u
. "$top/tests/common.sh"   # a temp dir $T, the test world's users in $T/etc
. "$top/tests/slapd.sh"
set -u
slapd_start >/dev/null
: > "$T/ldap-empty.conf"
export LDAPCONF=$T/ldap-empty.conf LDAPNOINIT=1
mkdir -p "$T/pam.d"
echo "account required $B/pam_nhi/.libs/pam_nhi.so config=$T/host2.conf" > "$T/pam.d/demo-login"
printf "auth required pam_deny.so\naccount required pam_deny.so\n" > "$T/pam.d/other"
for h in host1 host2; do
	mkdir -p "$T/$h"
	cat > "$T/$h.conf" <<-EOF
	state_dir = $T/$h
	host = $h
	backend = ldap
	ldap_uri = $SLAPD_LDAPI_URI
	ldap_bind = external
	ldap_base = $SLAPD_NHI_BASE
	ldap_people_base = $SLAPD_PEOPLE_BASE
	orphan_grace = 0s
	EOF
done

. "$top/scripts/demo-steps.sh"
on() { local h=$1; shift; NHI_CONF=$T/$h.conf nsswrap "$B/nhictl/nhictl" "$@"; }
host1() { on host1 "$@"; }
host2() { on host2 "$@"; }
getent_host2() { NHI_CONF=$T/host2.conf nsswrap getent "$@"; }
pam_host2() {
	LD_PRELOAD=libnss_wrapper.so:libpam_wrapper.so \
	NSS_WRAPPER_PASSWD=$T/etc/passwd NSS_WRAPPER_GROUP=$T/etc/group \
	NSS_WRAPPER_SHADOW=$T/etc/shadow \
	NSS_WRAPPER_MODULE_SO_PATH=$B/nss_nhi/.libs/libnss_nhi.so.2 NSS_WRAPPER_MODULE_FN_PREFIX=nhi \
	NHI_CONF=$T/host2.conf PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$T/pam.d \
	pamtester -v demo-login "$1" acct_mgmt
}
ldapmod() { ldap_admin ldapmodify >/dev/null; }

say "0. a throwaway slapd with nhi's schema and syncprov at $SLAPD_LDAPI_URI"
succeeds ldap_admin ldapsearch -b "$SLAPD_PEOPLE_BASE" -s one uid
say "1. host1 creates an identity: it is written to the directory"
succeeds host1 create svc-report --owner alice --expires +30d --purpose "weekly reports"
succeeds ldap_admin ldapsearch -b "uid=svc-report,$SLAPD_NHI_BASE" -s base uidNumber owner nhiState nhiExpires
say "2. host2 syncs (RFC 4533: only what changed travels) and serves it through NSS"
succeeds host2 sync --json
succeeds getent_host2 passwd svc-report
say "3. PAM on host2 allows it"
if command -v pamtester >/dev/null; then succeeds pam_host2 svc-report; fi
succeeds host2 check svc-report --service demo-login
say "4. its owner alice is locked in the directory"
printf 'dn: uid=alice,%s\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 20260101000000Z\n' \
	"$SLAPD_PEOPLE_BASE" | ldapmod
say "5. host2's next sync finds no live owner: orphaned, in the directory too"
succeeds host2 sync --json
succeeds ldap_admin ldapsearch -b "uid=svc-report,$SLAPD_NHI_BASE" -s base nhiState nhiOrphanedSince
say "6. PAM on host2 denies it (orphan_grace is 0 in this demo)"
if command -v pamtester >/dev/null; then fails pam_host2 svc-report; fi
fails host2 check svc-report --service demo-login
say "7. host1 transfers it to dave, a live owner; host2 syncs and allows it again"
succeeds host1 transfer svc-report --to dave
succeeds host2 sync
succeeds host2 check svc-report --service demo-login
say "8. the directory stops: host2's sync fails, and it keeps answering from its snapshot"
slapd_stop
fails host2 sync
succeeds getent_host2 passwd svc-report
succeeds host2 check svc-report --service demo-login
demo_end "the directory and both hosts' state lived in $T and are gone."

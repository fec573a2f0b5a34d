#!/bin/bash
# nhictl/ldap/dirmap.c against a real slapd (tests/slapd.sh): identity DNs
# (RFC 4514 escaping), reading an identity entry into the registry's
# model, and resolving owners by user name and by DN with the liveness
# checks (pwdAccountLockedTime, shadowExpire, ldap_owner_filter), with
# filter-injection attempts that must never match anyone.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/slapd.sh"
. "$top_srcdir/tests/ldapw-lib.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
# slapd is there: a server that does not start (a schema error, say) is a failure
slapd_start || { nok "slapd starts"; finish; }
PROBE=$top_builddir/tests/dirmap-probe
: > "$T/ldap-empty.conf"
conf() {
	{
		echo "state_dir = $T/state"
		echo "ldap_uri = $SLAPD_LDAPI_URI"
		echo "ldap_base = $SLAPD_NHI_BASE"
		echo "ldap_people_base = $SLAPD_PEOPLE_BASE"
		echo "ldap_timeout = 3s"
		printf '%s\n' "$@"
	} > "$T/etc/probe.conf"
}
probe() { LDAPCONF=$T/ldap-empty.conf LDAPNOINIT=1 "$PROBE" "$T/etc/probe.conf" "$@" > "$T/out" 2> "$T/err"; rc=$?; out=$(cat "$T/out"); }
want() {   # DESC PATTERN... : every pattern (fixed string) in the output
	local d=$1 p; shift
	for p in "$@"; do
		if ! grep -qF -- "$p" "$T/out"; then nok "$d (no '$p')"; sed 's/^/#   /' "$T/out" "$T/err"; return; fi
	done
	ok "$d"
}
conf
P=$SLAPD_PEOPLE_BASE

# --- DNs -----------------------------------------------------------------
probe dn backup-svc
want "DN of an identity" "rc=0 dn=uid=backup-svc,$SLAPD_NHI_BASE"
probe dn 'a,b+c=d'
want "DN value escaped (RFC 4514)" 'rc=0 dn=uid=a\,b\+c\=d,'"$SLAPD_NHI_BASE"

# --- owners by name ---------------------------------------------------------
probe owner alice;  want "alice by name: live" "rc=0 dn=uid=alice,$P name=alice why="
probe owner dave;   want "dave by name: live" "rc=0 dn=uid=dave,$P name=dave"
probe owner bob;    want "bob: locked" "rc=-8 " "name=bob" "'bob' is locked"
probe owner carol;  want "carol: expired" "rc=-8 " "the account expired"
probe owner ghost;  want "no such person" "rc=-4 " "no such person"
# injection: not a name, not a DN under the people base -> nobody
for o in 'alice)(uid=*' '*' 'alice*' '(uid=*)' 'alice)(|(uid=*' 'x)(objectClass=*'; do
	probe owner "$o"
	want "injection '$o' matches nobody" "rc=-4 dn= name= "
done

# --- owners by DN -------------------------------------------------------------
probe owner "uid=alice,$P";     want "alice by DN" "rc=0 dn=uid=alice,$P name=alice"
probe owner "UID=alice, OU=people,DC=nhi,DC=test"
want "DN in another spelling" "rc=0 " "name=alice"
probe owner "uid=bob,$P";       want "bob by DN: locked" "rc=-8 " "locked"
probe owner "uid=ghost,$P";     want "missing DN" "rc=-4 " "no such person"
probe owner "uid=alice,$SLAPD_GROUPS_BASE"; want "DN outside the people base" "rc=-4 "
probe owner "cn=svcusers,$SLAPD_GROUPS_BASE"; want "a group DN is no owner" "rc=-4 "
probe owner "uid=*,$P";         want "DN with a '*' value: nobody" "rc=-4 "

# a person deeper in the people subtree
ldapw_add_contractor erin || nok "ldapadd erin"
probe owner erin; want "erin deeper in the subtree, by name" "rc=0 dn=uid=erin,ou=contractors,$P name=erin"
probe owner "uid=erin,ou=contractors,$P"; want "erin by DN" "rc=0 " "name=erin"

# --- ldap_owner_filter ----------------------------------------------------
conf "ldap_owner_filter = (!(uid=dave))"
probe owner dave;  want "owner filter excludes dave" "rc=-8 " "ldap_owner_filter"
probe owner alice; want "owner filter keeps alice" "rc=0 "
probe owner bob;   want "locked still refused with a filter" "rc=-8 " "locked"
conf "ldap_people_base = ou=groups,$SLAPD_BASE"
probe owner alice; want "alice is not in another people base" "rc=-4 "
conf

# --- reading identities ---------------------------------------------------
ldap_admin ldapadd > /dev/null <<EOF2 || nok "ldapadd"
dn: uid=backup-svc,$SLAPD_NHI_BASE
objectClass: account
objectClass: posixAccount
objectClass: shadowAccount
objectClass: nhiIdentity
uid: backup-svc
cn: backup-svc
uidNumber: 2000001
gidNumber: 2000001
homeDirectory: /home/backup-svc
loginShell: /usr/sbin/nologin
gecos: nightly backups
owner: uid=alice,$P
description: nightly backups, to tape
nhiKind: service
nhiExpires: 20270131000000Z
nhiCreated: 20260101120000Z
nhiState: active
nhiReviewInterval: 7776000
nhiReviewDue: 20270226000000.5+0100
host: web1
host: db*
nhiPamService: sshd

dn: uid=agent-x,$SLAPD_NHI_BASE
objectClass: account
objectClass: posixAccount
objectClass: nhiIdentity
uid: agent-x
cn: agent-x
uidNumber: 2000002
gidNumber: 2000002
homeDirectory: /srv/agent
owner: cn=someone,ou=elsewhere,dc=nhi,dc=test
nhiKind: AGENT
nhiExpires: 20270131000000Z
nhiState: Suspended
nhiRetiredAt: 20260301000000Z
nhiReason: moved

dn: uid=bad-state,$SLAPD_NHI_BASE
objectClass: account
objectClass: posixAccount
objectClass: nhiIdentity
uid: bad-state
cn: bad-state
uidNumber: 2000003
gidNumber: 2000003
homeDirectory: /x
nhiKind: service
nhiExpires: 20270131000000Z
nhiState: dormant

dn: uid=bad-home,$SLAPD_NHI_BASE
objectClass: account
objectClass: posixAccount
objectClass: nhiIdentity
uid: bad-home
cn: bad-home
uidNumber: 2000004
gidNumber: 2000004
homeDirectory: relative/home
nhiKind: service
nhiExpires: 20270131000000Z
nhiState: active

dn: uid=bad-expiry,$SLAPD_NHI_BASE
objectClass: account
objectClass: posixAccount
objectClass: nhiIdentity
uid: bad-expiry
cn: bad-expiry
uidNumber: 2000006
gidNumber: 2000006
homeDirectory: /x
nhiKind: service
nhiExpires: 19270131000000Z
nhiState: active

dn: uid=plain,$SLAPD_NHI_BASE
objectClass: account
objectClass: posixAccount
uid: plain
cn: plain
uidNumber: 2000005
gidNumber: 2000005
homeDirectory: /home/plain
EOF2
uuid=$(ldap_admin ldapsearch -b "uid=backup-svc,$SLAPD_NHI_BASE" -s base entryUUID | sed -n 's/^entryUUID: //p')
probe read backup-svc
want "read backup-svc" "rc=0" "name=backup-svc kind=service state=active uid=2000001 gid=2000001" \
	"home=/home/backup-svc shell=/usr/sbin/nologin gecos=nightly backups" \
	"owner=alice owner_dn=uid=alice,$P purpose=nightly backups, to tape" \
	"hosts=web1,db* services=sshd" "uuid=$uuid" \
	"expires=$(date -u -d 2027-01-31 +%s) created=$(date -u -d '2026-01-01 12:00' +%s) interval=7776000" \
	"due=$(( $(date -u -d 2027-02-26 +%s) - 3600 ))"
check "entryUUID read" test -n "$uuid"
probe read agent-x
want "read agent-x: owner outside the people base kept as DN, case folded, defaults" "rc=0" \
	"kind=agent state=suspended" "owner=cn=someone,ou=elsewhere,dc=nhi,dc=test" \
	"shell=/bin/sh" "reason=moved" "retired=$(date -u -d 2026-03-01 +%s)" \
	"interval=7776000"
probe read bad-state
want "bad nhiState refused, entry named" "rc=-6" "why=uid=bad-state,$SLAPD_NHI_BASE: nhiState 'dormant'"
probe read bad-home
want "relative home refused" "rc=-6" "homeDirectory"
probe read bad-expiry
want "an expiry before 1970 refused (nhictl would write it back as no time)" "rc=-6" \
	"why=uid=bad-expiry,$SLAPD_NHI_BASE: nhiExpires is not a GeneralizedTime from 1970 to 9999"
probe read plain
want "an entry without nhiIdentity is no identity" "rc=-4" "no identity 'plain'"
probe read nobody
want "missing identity" "rc=-4" "no identity 'nobody' in the directory"

# --- unreachable ------------------------------------------------------------
slapd_stop
probe owner alice
check "directory stopped: exit 1" test "$rc" = 1
check "directory stopped: clear message" grep -q "probe: directory unreachable: .*Can't contact" "$T/err"
finish

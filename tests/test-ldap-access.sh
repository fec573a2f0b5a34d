#!/bin/bash
# Resources, grants and delegations with backend = ldap against a real
# slapd (tests/slapd.sh), two hosts (two state dirs, one directory):
# entries written on host a (by nhictl, or by hand with ldapadd) reach host
# b's registry with its next `nhictl sync` (adds, changes, deletes, all
# incremental), a delegation removed in the directory leaves b's registry;
# bad entries are skipped with one warning naming the DN, never a crash;
# the compare-and-swap of grants against a racing resource removal; the
# retire cascade in the directory; bad input refused with nothing written
# (checked with ldapsearch).
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
slapd_start || { nok "slapd starts"; finish; }

ldap_hermetic
P=$SLAPD_PEOPLE_BASE
B=$SLAPD_NHI_BASE
RB=ou=resources,$B
mkdir -p "$T/a" "$T/b"
slapd_conf "$T/etc/a.conf" "$T/a"
slapd_conf "$T/etc/b.conf" "$T/b"
a() { nhictl -c "$T/etc/a.conf" "$@"; }
b() { nhictl -c "$T/etc/b.conf" "$@"; }
q() { sqlite3 "$T/$1/registry.db" "$2"; }
# dns FILTER: the DNs below ldap_base that FILTER finds, sorted, one a line
dns() { ldap_admin ldapsearch -b "$B" "$1" dn | sed -n 's/^dn: //p' | sort; }
# bsync "description" "MODE ADDED CHANGED DELETED": b syncs (--json); its
# mode and resource/grant/delegation counters
bsync() {
	expect 0 "host b: sync" b sync --json
	eqv "$1" "$2" "$(pyjson '"%s %s %s %s" % (d["mode"], d["access_added"], d["access_changed"], d["access_deleted"])')"
}

expect 0 "host a: create agent-a" a create agent-a --kind agent --owner alice --expires +60d
expect 0 "host a: create tool-t" a create tool-t --owner alice --expires +60d
expect 0 "host a: create tool-u" a create tool-u --owner alice --expires +60d
expect 0 "host b: first sync" b sync

# ---- entries written by hand reach host b ------------------------------------
ldap_admin ldapadd >/dev/null <<EOF
dn: $RB
objectClass: organizationalUnit
ou: resources

dn: cn=crm-db,$RB
objectClass: nhiResource
cn: crm-db
nhiKind: database
nhiResourceURI: postgres://crm.example.org/crm
owner: uid=alice,$P
nhiDataClass: pii
nhiExternal: FALSE
description: customer records
nhiCreated: 20261201000000Z

dn: nhiGrantId=crm-db,uid=tool-t,$B
objectClass: nhiGrant
nhiGrantId: crm-db
nhiResourceName: crm-db
nhiAction: read
nhiAction: write
nhiScope: table=orders
nhiExpires: 20990101000000Z
nhiCreated: 20261201000000Z

dn: nhiDelegateTo=tool-t,uid=agent-a,$B
objectClass: nhiDelegation
nhiDelegateTo: tool-t
nhiAction: read
nhiExpires: 20990101000000Z
nhiReason: ticket 4711
EOF
check "ldapadd of a resource, a grant and a delegation" test $? -eq 0
bsync "host b: one resource, one grant, one delegation added (incremental)" "incremental 3 0 0"
eqv "host b: the resource row" "crm-db|database|postgres://crm.example.org/crm|alice|pii|0|customer records|1" \
	"$(q b "SELECT name, kind, uri, owner, data_class, external, purpose, managed FROM resource")"
eqv "host b: the grant row" "tool-t|crm-db|3|table=orders|4070908800|1" \
	"$(q b "SELECT i.name, r.name, a.actions, a.scopes, a.expires, a.credential_id IS NULL FROM access a JOIN identity i ON i.id = a.identity_id JOIN resource r ON r.id = a.resource_id")"
eqv "host b: the delegation row" "agent-a|tool-t|1|ticket 4711" \
	"$(q b "SELECT f.name, t.name, d.actions, d.reason FROM delegation d JOIN identity f ON f.id = d.from_id JOIN identity t ON t.id = d.to_id")"
check "host b: rows keyed by entryUUID" test "$(q b "SELECT count(*) FROM delegation WHERE entry_uuid IS NOT NULL")" = 1
bsync "host b: a second sync changes nothing" "incremental 0 0 0"

# ---- changes and deletes ------------------------------------------------------------
ldap_admin ldapmodify >/dev/null <<EOF
dn: nhiGrantId=crm-db,uid=tool-t,$B
changetype: modify
replace: nhiAction
nhiAction: read
EOF
bsync "host b: the grant's change arrives" "incremental 0 1 0"
eqv "host b: its actions now read" 1 "$(q b "SELECT actions FROM access")"
ldap_admin ldapdelete "nhiDelegateTo=tool-t,uid=agent-a,$B"
bsync "host b: the delegation removed in the directory is removed" "incremental 0 0 1"
eqv "host b: no delegation row" 0 "$(q b "SELECT count(*) FROM delegation")"

# ---- bad entries: one warning naming the DN each, the sync goes on --------------------
ldap_admin ldapadd >/dev/null <<EOF
dn: nhiGrantId=nosuch,uid=tool-t,$B
objectClass: nhiGrant
nhiGrantId: nosuch
nhiResourceName: nosuch
nhiAction: read
nhiExpires: 20990101000000Z

dn: nhiGrantId=crm-db,uid=tool-u,$B
objectClass: nhiGrant
nhiGrantId: crm-db
nhiResourceName: crm-db
nhiAction: fly
nhiExpires: 20990101000000Z

dn: nhiDelegateTo=ghost,uid=agent-a,$B
objectClass: nhiDelegation
nhiDelegateTo: ghost
nhiAction: read
nhiExpires: 20990101000000Z

dn: nhiDelegateTo=tool-u,uid=agent-a,$B
objectClass: nhiDelegation
nhiDelegateTo: tool-u
nhiAction: exec
nhiAction: admin
nhiExpires: 20990101000000Z
EOF
expect 0 "host b: sync with three bad entries and a good one" b sync --json
eqv "host b: the good delegation added, three invalid" "1 3" "$(pyjson '"%s %s" % (d["access_added"], d["invalid"])')"
has err "warning: the grant on an unknown resource, by DN" "^nhictl: sync: warning: nhiGrantId=nosuch,uid=tool-t,$B: no resource 'nosuch' here; ignored"
has err "warning: the grant with a bad action, by DN" "^nhictl: sync: warning: nhiGrantId=crm-db,uid=tool-u,$B: nhiAction missing or not read/write/exec/admin; ignored"
has err "warning: the delegation to an unknown identity, by DN" "^nhictl: sync: warning: nhiDelegateTo=ghost,uid=agent-a,$B: no identity 'ghost' here; ignored"
eqv "host b: three warnings, nothing else" 3 "$(wc -l <"$T/err")"
eqv "host b: delegation agent-a -> tool-u, exec,admin" "tool-u|12" \
	"$(q b "SELECT t.name, d.actions FROM delegation d JOIN identity t ON t.id = d.to_id")"
# a bad entry fixed in the directory arrives
ldap_admin ldapmodify >/dev/null <<EOF
dn: nhiGrantId=crm-db,uid=tool-u,$B
changetype: modify
replace: nhiAction
nhiAction: exec
EOF
bsync "host b: the fixed grant arrives" "incremental 1 0 0"
ldap_admin ldapdelete "nhiGrantId=nosuch,uid=tool-t,$B" "nhiDelegateTo=ghost,uid=agent-a,$B"

# ---- an identity entry broken and fixed: its grants come back with it ------------------
ldap_admin ldapmodify >/dev/null <<EOF
dn: uid=tool-t,$B
changetype: modify
replace: nhiKind
nhiKind: robot
EOF
expect 0 "host b: sync with tool-t broken" b sync
has err "tool-t is not an identity here" "uid=tool-t,$B: nhiKind 'robot' is not service/agent; not an identity here"
eqv "host b: its grant row went with it" 0 "$(q b "SELECT count(*) FROM access a JOIN identity i ON i.id = a.identity_id WHERE i.name = 'tool-t'")"
ldap_admin ldapmodify >/dev/null <<EOF
dn: uid=tool-t,$B
changetype: modify
replace: nhiKind
nhiKind: service
EOF
expect 0 "host b: sync with tool-t fixed" b sync
eqv "host b: its grant (unchanged in the directory) is back" "crm-db|1" \
	"$(q b "SELECT r.name, a.actions FROM access a JOIN identity i ON i.id = a.identity_id JOIN resource r ON r.id = a.resource_id WHERE i.name = 'tool-t'")"

# ---- a full sync (--full) and a reload agree -----------------------------------------
expect 0 "host b: sync --full" b sync --full --json
eqv "host b: a scan changes nothing" "0 0 0" "$(pyjson '"%s %s %s" % (d["access_added"], d["access_changed"], d["access_deleted"])')"
q b "INSERT INTO delegation (from_id, to_id, actions, created, expires) SELECT t.id, f.id, 15, 0, 1 FROM identity f, identity t WHERE f.name = 'agent-a' AND t.name = 'tool-t'"
expect 0 "host b: sync --full again" b sync --full --json
eqv "host b: a row the directory does not have is removed" 1 "$(pyjson 'd["access_deleted"]')"

# ---- the identity's subtree ------------------------------------------------------------
ldap_admin ldapdelete -r "uid=tool-u,$B"
expect 0 "host b: sync" b sync
eqv "host b: tool-u deleted with its grant: the rows go" "0 0" \
	"$(q b "SELECT count(*) FROM access a JOIN identity i ON i.id = a.identity_id WHERE i.name = 'tool-u'") $(q b "SELECT count(*) FROM delegation")"

finish

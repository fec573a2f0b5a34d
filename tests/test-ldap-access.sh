#!/bin/bash
# Resources, grants and delegations with backend = ldap against a real
# slapd (tests/slapd.sh), two hosts (two state dirs, one directory):
# entries written on host a (by nhictl, or by hand with ldapadd) reach host
# b's registry with its next `nhictl sync` (adds, changes, deletes, all
# incremental), a delegation removed in the directory leaves b's registry;
# bad entries are skipped with one warning naming the DN, never a crash;
# an identity entry broken and fixed brings its unchanged grants back; a
# host that has not synced writes against the directory's truth (its
# write lock reads the entries the change checks first: the grant, the
# resource and its grants, the delegations max_delegations counts, a
# retired identity's edges, also on a resource the host never synced;
# and only those: other rows wait for its sync); updates, a rotation carrying a
# credential's grant, removals, the retire cascade and resource remove
# --force in the directory; bad input refused with nothing written
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

# ==== the verbs on host a, the directory, host b's sync =================================
ACC='(|(objectClass=nhiResource)(objectClass=nhiGrant)(objectClass=nhiDelegation))'
expect 0 "host a: sync (what was written by hand)" a sync
expect 0 "host a: create agent-v" a create agent-v --kind agent --owner alice --expires +60d
expect 0 "host a: create tool-w" a create tool-w --owner alice --expires +60d
expect 0 "host a: resource add mail-api" a resource add mail-api --kind api \
	--uri https://mail.example.org/v1 --owner alice --data-class confidential --external \
	--purpose "outbound mail"
eqv "directory: the resource entry" "api https://mail.example.org/v1 confidential TRUE uid=alice,$P" \
	"$(for at in nhiKind nhiResourceURI nhiDataClass nhiExternal owner; do
		ldap_admin ldapsearch -b "cn=mail-api,$RB" -s base "$at" | sed -n "s/^$at: //p"
	   done | paste -sd' ')"
expect 0 "host a: grant add tool-w mail-api" a grant add tool-w mail-api --actions read,exec \
	--scope queue:out --scope queue:bounce --expires +30d
eqv "directory: the grant entry below tool-w" "nhiGrantId=mail-api,uid=tool-w,$B" \
	"$(dns '(&(objectClass=nhiGrant)(nhiResourceName=mail-api))')"
eqv "directory: its actions and scopes" "exec queue:bounce queue:out read" \
	"$(ldap_admin ldapsearch -b "nhiGrantId=mail-api,uid=tool-w,$B" -s base nhiAction nhiScope |
	   sed -n 's/^nhi\(Action\|Scope\): //p' | sort | paste -sd' ')"
eqv "directory: the grant moved the resource's nhiSerial" 1 \
	"$(ldap_admin ldapsearch -b "cn=mail-api,$RB" -s base nhiSerial | sed -n 's/^nhiSerial: //p')"
expect 0 "host a: delegate add agent-v tool-w" a delegate add agent-v tool-w --actions read \
	--reason "mail triage"
eqv "directory: the delegation entry below agent-v" "nhiDelegateTo=tool-w,uid=agent-v,$B" \
	"$(dns '(&(objectClass=nhiDelegation)(nhiDelegateTo=tool-w))')"
expect 0 "host a: grant list --json (read back at once)" a grant list tool-w --json
eqv "host a: the grant, from the directory" "mail-api read,exec live" \
	"$(pyjson '" ".join([d[0]["resource"], ",".join(d[0]["actions"]), d[0]["state"]])')"
eqv "host a: the rows are the directory's (managed, entryUUID)" "1 1" \
	"$(q a "SELECT a.managed, a.entry_uuid IS NOT NULL FROM access a JOIN identity i ON i.id = a.identity_id WHERE i.name = 'tool-w'" | tr '|' ' ')"

expect 0 "host b: sync" b sync --json
eqv "host b: the resource, the grant and the delegation arrive" "3 0 0" \
	"$(pyjson '"%s %s %s" % (d["access_added"], d["access_changed"], d["access_deleted"])')"
expect 0 "host b: grant list --json" b grant list tool-w --json
eqv "host b: the grant" "tool-w mail-api read,exec queue:bounce,queue:out" \
	"$(pyjson '" ".join([d[0]["identity"], d[0]["resource"], ",".join(d[0]["actions"]), ",".join(d[0]["scopes"])])')"
expect 0 "host b: delegate list --json" b delegate list agent-v --json
eqv "host b: the delegation" "agent-v tool-w read mail triage live" \
	"$(pyjson '" ".join([d[0]["from"], d[0]["to"], ",".join(d[0]["actions"]), d[0]["reason"], d[0]["state"]])')"

# ---- an update on b (a Modify under an assertion), seen by a ---------------------------
expect 0 "host b: grant add again with other actions: an update" b grant add tool-w mail-api \
	--actions read --scope queue:out --expires +30d
eqv "directory: the grant's actions now read" "read" \
	"$(ldap_admin ldapsearch -b "nhiGrantId=mail-api,uid=tool-w,$B" -s base nhiAction | sed -n 's/^nhiAction: //p')"
expect 0 "host a: sync" a sync --json
eqv "host a: the change arrives" "0 1 0" \
	"$(pyjson '"%s %s %s" % (d["access_added"], d["access_changed"], d["access_deleted"])')"

# ---- the same delegation from both hosts: the directory holds one ------------------------
expect 0 "host b: delegate add agent-v tool-w again: nothing changes" b delegate add agent-v tool-w \
	--actions read --reason "mail triage"
eqv "directory: one delegation agent-v -> tool-w" 1 "$(dns '(nhiDelegateTo=tool-w)' | grep -c .)"

# ---- a credential's grant moves with a rotation ----------------------------------------
expect 0 "host a: tool-w password" a cred add tool-w --kind password
CW=$(a cred list tool-w --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["state"]=="active"][0])')
expect 0 "host a: grant add tool-w crm-db --cred $CW" a grant add tool-w crm-db --actions read --cred "$CW"
eqv "directory: the grant entry names the credential" "nhiGrantId=crm-db:$CW,uid=tool-w,$B" \
	"$(dns "(&(objectClass=nhiGrant)(nhiCredentialId=$CW))")"
expect 0 "host a: rotate tool-w" a rotate tool-w --cred "$CW" --grace 1h
CW2=$(a cred list tool-w --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["state"]=="active"][0])')
eqv "directory: the grant entry moved to the new credential" "nhiGrantId=crm-db:$CW2,uid=tool-w,$B" \
	"$(dns '(&(objectClass=nhiGrant)(nhiResourceName=crm-db)(nhiCredentialId=*))')"
expect 0 "host b: sync" b sync
expect 0 "host b: grant list tool-w --json" b grant list tool-w --json
eqv "host b: the grant bound to the new credential" "$CW2" \
	"$(pyjson '[g["credential"] for g in d if g["resource"] == "crm-db"][0]')"

# ---- removals reach host b ----------------------------------------------------------------
expect 0 "host a: delegate remove agent-v tool-w" a delegate remove agent-v tool-w
eqv "directory: the delegation entry is gone" "" "$(dns '(nhiDelegateTo=tool-w)')"
expect 0 "host b: sync" b sync --json
eqv "host b: one deleted" 1 "$(pyjson 'd["access_deleted"]')"
expect 0 "host b: delegate list agent-v --json" b delegate list agent-v --json
eqv "host b: the delegation is gone" "[]" "$(cat "$T/out")"

# ---- retire: grants and delegations leave the directory ------------------------------------
expect 0 "host a: delegate add agent-v tool-w" a delegate add agent-v tool-w
expect 0 "host a: delegate add tool-w agent-a" a delegate add tool-w agent-a
expect 0 "host b: sync" b sync
expect 0 "host a: retire tool-w" a retire tool-w --reason "replaced"
eqv "directory: no grant or delegation of or to tool-w" "" \
	"$(dns '(|(nhiDelegateTo=tool-w)(&(objectClass=nhiGrant)(nhiGrantId=*)))' | grep 'tool-w')"
expect 0 "host b: sync" b sync --json
eqv "host b: two grants and two delegations deleted" 4 "$(pyjson 'd["access_deleted"]')"
eqv "host b: none left of tool-w" "0 0" \
	"$(q b "SELECT count(*) FROM access a JOIN identity i ON i.id = a.identity_id WHERE i.name = 'tool-w'") $(q b "SELECT count(*) FROM delegation d JOIN identity i ON i.id IN (d.from_id, d.to_id) WHERE i.name = 'tool-w'")"

# ---- resource remove --force: its grants go too ----------------------------------------------
expect 0 "host a: grant add agent-v mail-api" a grant add agent-v mail-api --actions read
expect 0 "host a: resource remove mail-api --force" a resource remove mail-api --force
eqv "directory: the resource and its grant are gone" "" "$(dns '(|(cn=mail-api)(nhiResourceName=mail-api))')"
expect 0 "host b: sync" b sync --json
expect 0 "host b: resource list --json" b resource list --json
eqv "host b: mail-api is gone" "crm-db" "$(pyjson '" ".join(r["name"] for r in d)')"

# ---- a host that has not synced writes against the directory, not its stale rows -------
expect 0 "host a: resource add tmp-q" a resource add tmp-q --kind queue --uri amqp://q --owner alice
expect 0 "host b: sync (b has tmp-q)" b sync
expect 0 "host a: resource remove tmp-q" a resource remove tmp-q
fails grant 1 "host b (not synced): grant on tmp-q, gone from the directory: refused" "tmp-q" \
	b grant add agent-v tmp-q --actions read
eqv "directory: no grant on tmp-q" "" "$(dns '(nhiResourceName=tmp-q)')"
expect 0 "host b: sync" b sync
expect 0 "host b: resource list --json" b resource list --json
eqv "host b: tmp-q gone after its sync" "crm-db" "$(pyjson '" ".join(r["name"] for r in d)')"

# ---- a change reads what it checks from the directory, and only that ------------------
# (ldap_reach_lock with a scope, store.h): b has not synced after each of
# a's changes below, so its rows are stale; what b's verb checks agrees
# with the directory all the same.
expect 0 "host a: create tool-x" a create tool-x --owner alice --expires +60d
expect 0 "host a: create tool-y" a create tool-y --owner alice --expires +60d
expect 0 "host a: resource add tmp-r" a resource add tmp-r --kind queue --uri amqp://r --owner alice
expect 0 "host b: sync" b sync
expect 0 "host a: grant add tool-x crm-db" a grant add tool-x crm-db --actions read
expect 0 "host b (not synced): the same grant: there already, unchanged" b grant add tool-x crm-db \
	--actions read
has out "host b: says unchanged" "^grant tool-x on crm-db: read until .* \(unchanged\)$"
expect 0 "host a: grant remove tool-x crm-db" a grant remove tool-x crm-db
expect 0 "host b (not synced): grant remove tool-x crm-db: gone already" b grant remove tool-x crm-db
has out "host b: says nothing changed" "^no grant of tool-x on crm-db \(nothing changed\)$"
expect 0 "host a: grant add tool-y tmp-r" a grant add tool-y tmp-r --actions read
fails resource 1 "host b (not synced): resource remove tmp-r: it has a grant now" \
	"resource 'tmp-r' has 1 grant" b resource remove tmp-r
echo "max_delegations = 1" >>"$T/etc/b.conf"
expect 0 "host a: delegate add tool-x tool-y" a delegate add tool-x tool-y
fails delegate 1 "host b (not synced, max_delegations = 1): one more from tool-x: refused" \
	"'tool-x' already delegates to 1 identities: max_delegations = 1" b delegate add tool-x agent-v
fails delegate 1 "host b (not synced): one more to tool-y: refused" \
	"1 identities already delegate to 'tool-y': max_delegations = 1" b delegate add agent-a tool-y
eqv "directory: neither delegation was written" "nhiDelegateTo=tool-y,uid=tool-x,$B" \
	"$(dns '(|(nhiDelegateTo=agent-v)(nhiDelegateTo=tool-y))')"
# a grant on a resource b has never seen goes with the retire cascade too
expect 0 "host a: resource add tmp-s" a resource add tmp-s --kind queue --uri amqp://s --owner alice
expect 0 "host a: grant add tool-y tmp-s" a grant add tool-y tmp-s --actions read
expect 0 "host b (not synced, no tmp-s): retire tool-y" b retire tool-y --reason "replaced"
eqv "directory: no grant of tool-y and no delegation to it left" "" \
	"$(dns '(|(objectClass=nhiGrant)(nhiDelegateTo=tool-y))' | grep 'tool-y')"
# what the change does not check is left to sync: a delegation removed by
# hand stays in b's registry through b's grant add, and goes with its sync
expect 0 "host a: delegate add agent-a agent-v" a delegate add agent-a agent-v
expect 0 "host b: sync" b sync
ldap_admin ldapdelete "nhiDelegateTo=agent-v,uid=agent-a,$B"
expect 0 "host b: grant add tool-x crm-db" b grant add tool-x crm-db --actions read
eqv "host b: the delegation it did not check is still a row" 1 \
	"$(q b "SELECT count(*) FROM delegation d JOIN identity f ON f.id = d.from_id WHERE f.name = 'agent-a'")"
expect 0 "host b: sync" b sync
eqv "host b: gone after its sync" 0 \
	"$(q b "SELECT count(*) FROM delegation d JOIN identity f ON f.id = d.from_id WHERE f.name = 'agent-a'")"

# ---- bad input: refused, nothing written ----------------------------------------------------
before=$(dns "$ACC")
nrun a resource add 'x*)(cn=*' --kind api --uri https://x --owner alice
check "resource with filter metacharacters: refused (exit $rc)" test "$rc" -ne 0
nrun a resource add ctl-uri --kind api --uri "$(printf 'https://x/\001')" --owner alice
check "resource URI with a control character: refused (exit $rc)" test "$rc" -ne 0
nrun a grant add agent-v crm-db --actions read,fly
check "grant with an unknown action: refused (exit $rc)" test "$rc" -ne 0
nrun a grant add agent-v crm-db --actions read --scope 'a*)(b'
check "grant with a filter metacharacter in a scope: refused (exit $rc)" test "$rc" -ne 0
nrun a grant add 'agent-v)(uid=*' crm-db --actions read
check "grant for a name with filter metacharacters: refused (exit $rc)" test "$rc" -ne 0
nrun a delegate add agent-v agent-v
check "delegation to itself: refused (exit $rc)" test "$rc" -ne 0
nrun a delegate add agent-v nosuch
check "delegation to an unknown identity: refused (exit $rc)" test "$rc" -ne 0
nrun a grant add agent-v crm-db --actions read --expires +100y
check "grant past the lifetime cap: refused (exit $rc)" test "$rc" -ne 0
eqv "directory: nothing was written" "$before" "$(dns "$ACC")"

finish

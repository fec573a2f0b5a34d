#!/bin/bash
# Owners on any directory (issue 12): against a stock slapd WITHOUT the
# ppolicy overlay (the server does not know pwdAccountLockedTime) the
# built-in owner checks accept a live person and refuse a locked one
# (nsAccountLock, 389-ds's way, from a small test schema) or an expired
# one (shadowExpire); `directory check` warns when ldap_owner_filter names
# an attribute the schema lacks; a sync that would orphan more than
# orphan_max identities stops and changes nothing (registry, snapshot and
# directory), then goes through with --force.  Owners are entries: the
# owner's entryUUID is recorded, a new entry under the old DN orphans the
# identity, and an owner unlocked brings back what that lock orphaned
# (not a different person's).  With ppolicy loaded, a
# pwdAccountLockedTime (000001010000Z: locked for good) refuses the owner.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
slapd_start --no-ppolicy || { nok "slapd starts without ppolicy"; finish; }

ldap_hermetic
mkdir -p "$T/a"
conf() {  # conf [EXTRA-LINE...]: host a's nhi.conf
	{
		slapd_nhi_conf "$T/a" a
		printf '%s\n' "$@"
	} > "$T/a.conf"
}
on() { NHI_CONF=$T/a.conf nhictl "$@"; }
modify() { ldap_admin ldapmodify >/dev/null; }
schema_has() {
	ldap_admin ldapsearch -b cn=Subschema -s base '(objectClass=subschema)' attributeTypes |
		grep -qi "NAME '$1'"
}
conf

! schema_has pwdAccountLockedTime; check "the server does not know pwdAccountLockedTime (no ppolicy)" test $? = 0

# ---- the old default filter: Undefined on this server, every owner refused ----
conf "ldap_owner_filter = (!(pwdAccountLockedTime=*))"
expect 1 "with (!(pwdAccountLockedTime=*)) alice is refused (what the old default did)" \
	on create svc-old --owner alice --expires +30d
has err "not a live human" 'alice.*not a live human'
expect 0 "directory check with that filter: exit 0 (a warning)" on directory check
has out "warns: the schema lacks pwdAccountLockedTime" \
	"warning: ldap_owner_filter names 'pwdAccountLockedTime', which the schema .* does not know"
expect 0 "directory check --json" on directory check --json
eqv "the warning in --json" 1 "$(pyjson 'sum("pwdAccountLockedTime" in w for w in d["warnings"])')"
conf "ldap_owner_filter = (&(objectClass=posixAccount)(!(nsAccountLock=TRUE)))"
expect 0 "directory check, a filter of known attributes" on directory check
check "no schema warning then" test "$(grep -c "ldap_owner_filter names" "$T/out")" = 0
expect 0 "create with that user-set filter: alice accepted" on create svc-f --owner alice --expires +30d
expect 1 "the user-set filter still refuses bob (nsAccountLock TRUE)" \
	on create svc-g --owner bob --expires +30d
conf

# ---- the built-in default works here ----
expect 0 "default: create --owner alice on a stock directory" on create svc-a --owner alice --expires +30d
expect 0 "directory check with the default: no schema warning" on directory check
check "no schema warning" test "$(grep -c 'ldap_owner_filter names' "$T/out")" = 0
expect 1 "default: bob (nsAccountLock TRUE) refused" on create svc-b --owner bob --expires +30d
has err "the reason names nsAccountLock" "owner 'bob' is locked \(nsAccountLock"
expect 1 "default: carol (shadowExpire past) refused" on create svc-c --owner carol --expires +30d
has err "the reason names shadowExpire" "carol.*expired \(shadowExpire"
modify <<EOF
dn: uid=dave,$SLAPD_PEOPLE_BASE
changetype: modify
add: nsAccountLock
nsAccountLock: false
EOF
expect 0 "nsAccountLock false: dave is live" on create svc-d1 --owner dave --expires +30d
printf 'dn: uid=dave,%s\nchangetype: modify\nreplace: nsAccountLock\nnsAccountLock: true\n' \
	"$SLAPD_PEOPLE_BASE" | modify
expect 1 "nsAccountLock true (any case): dave locked" on create svc-d9 --owner dave --expires +30d
printf 'dn: uid=dave,%s\nchangetype: modify\ndelete: nsAccountLock\n' "$SLAPD_PEOPLE_BASE" | modify

# ---- orphan_max: a sync that would orphan too many stops ----
for i in 2 3 4; do
	expect 0 "create svc-d$i owned by dave" on create svc-d$i --owner dave --expires +30d
done
expect 0 "sync" on sync --json
conf "orphan_max = 3"
printf 'dn: uid=dave,%s\nchangetype: modify\nreplace: nsAccountLock\nnsAccountLock: TRUE\n' \
	"$SLAPD_PEOPLE_BASE" | modify
state() {
	sqlite3 "$T/a/registry.db" .dump | md5sum
	cat "$T/a"/nhi.cache* | md5sum
	ldap_admin ldapsearch -b "$SLAPD_NHI_BASE" '(objectClass=nhiIdentity)' \
		nhiState nhiOrphanedSince | md5sum
}
before=$(state)
fails sync 1 "sync that would orphan 4 > orphan_max 3: stops, says so" \
	'would orphan 4 identities at once, more than orphan_max \(3\); nothing was changed.*--force' \
	on sync
eqv "registry, snapshot and directory unchanged" "$before" "$(state)"
conf "orphan_max = 50%"
fails sync 1 "4 of 6 is more than orphan_max = 50%: stops" 'more than orphan_max \(50% of 6\)' on sync
eqv "still unchanged" "$before" "$(state)"
expect 0 "sync --force: past orphan_max" on sync --force --json
eqv "4 orphaned" 4 "$(pyjson 'd["orphaned"]')"
expect 0 "show svc-d2" on show svc-d2 --json
eqv "svc-d2 orphaned" orphaned "$(pyjson 'd["state"]')"
conf "orphan_max = 0"
expect 0 "orphan_max = 0: no limit (nothing more to orphan)" on sync

# ---- owners are entries (entryUUID), not names ----
dsearch() { ldap_admin ldapsearch -b "uid=$1,$SLAPD_NHI_BASE" -s base "(objectClass=*)" "$2" | sed -n "s/^$2: //p"; }
reg() { sqlite3 "$T/a/registry.db" "$1"; }
owner_id() { reg "SELECT coalesce(owner_id, 'NULL') || ' ' || orphan_cause FROM identity WHERE name = '$1'"; }
uuid_of() { ldap_admin ldapsearch -b "uid=$1,$SLAPD_PEOPLE_BASE" -s base "(objectClass=*)" entryUUID | sed -n 's/^entryUUID: //p'; }
eqv "create recorded alice's entryUUID" "$(uuid_of alice) " "$(owner_id svc-a)"
eqv "svc-d2 orphaned by dave's lock" "$(uuid_of dave) locked" "$(owner_id svc-d2)"
# dave unlocked: his four come back, in the directory and here
printf 'dn: uid=dave,%s\nchangetype: modify\ndelete: nsAccountLock\n' "$SLAPD_PEOPLE_BASE" | modify
expect 0 "sync: dave live again" on sync --json
eqv "4 identities back" 4 "$(pyjson 'd["owner_live_again"]')"
expect 0 "show svc-d2" on show svc-d2 --json
eqv "svc-d2 active, not orphaned" "active None" "$(pyjson 'd["state"]+" "+str(d["orphaned_since"])')"
eqv "svc-d2 active in the directory, nhiOrphanedSince gone" "active|" "$(dsearch svc-d2 nhiState)|$(dsearch svc-d2 nhiOrphanedSince)"
eqv "owner-live event" "owner live again: uid=dave,$SLAPD_PEOPLE_BASE (entryUUID $(uuid_of dave))" \
	"$(reg "SELECT detail FROM event WHERE action = 'owner-live' AND target = 'svc-d2'")"
expect 0 "sync again: nothing comes back twice" on sync --json
eqv "nothing back, nothing orphaned" "0 0" "$(pyjson '"%d %d" % (d["owner_live_again"], d["orphaned"])')"
# erin and hank, two more people
_slapd_person erin 1004 "Erin Ex" "" | ldap_admin ldapadd >/dev/null
_slapd_person hank 1005 "Hank Hold" "" | ldap_admin ldapadd >/dev/null
expect 0 "create svc-e owned by erin" on create svc-e --owner erin --expires +30d
expect 0 "create svc-h owned by hank" on create svc-h --owner hank --expires +30d
# a row from before entryUUIDs were kept: filled in while the owner resolves
reg "UPDATE identity SET owner_id = NULL WHERE name = 'svc-a'"
# erin deleted and added again: another entry (entryUUID) under the same DN
old_erin=$(uuid_of erin)
ldap_admin ldapdelete "uid=erin,$SLAPD_PEOPLE_BASE"
_slapd_person erin 1004 "Erin New" "" | ldap_admin ldapadd >/dev/null
# hank locked
printf 'dn: uid=hank,%s\nchangetype: modify\nadd: nsAccountLock\nnsAccountLock: TRUE\n' "$SLAPD_PEOPLE_BASE" | modify
expect 0 "sync: a new erin, hank locked" on sync --json
eqv "svc-e and svc-h orphaned" 2 "$(pyjson 'd["orphaned"]')"
eqv "svc-e: another person" "$old_erin other" "$(owner_id svc-e)"
eqv "svc-e orphaned in the directory" orphaned "$(dsearch svc-e nhiState)"
check "the event says a different entry" test "$(reg "SELECT count(*) FROM event WHERE action = 'orphan' \
	AND target = 'svc-e' AND detail LIKE '%is now entryUUID $(uuid_of erin), not entryUUID $old_erin%another person%'")" = 1
eqv "svc-a: the entryUUID filled in" "$(uuid_of alice) " "$(owner_id svc-a)"
check "... with an event" test "$(reg "SELECT count(*) FROM event WHERE action = 'owner-id' AND target = 'svc-a'")" = 1
eqv "svc-h: locked" "$(uuid_of hank) locked" "$(owner_id svc-h)"
# hank replaced by a new, live hank: not the same person, svc-h stays orphaned
ldap_admin ldapdelete "uid=hank,$SLAPD_PEOPLE_BASE"
_slapd_person hank 1005 "Hank New" "" | ldap_admin ldapadd >/dev/null
expect 0 "sync: a new, live hank" on sync --json
eqv "nothing comes back for a different hank" 0 "$(pyjson 'd["owner_live_again"]')"
eqv "svc-h still orphaned in the directory" orphaned "$(dsearch svc-h nhiState)"
expect 0 "transfer svc-e to the new erin" on transfer svc-e --to erin
eqv "transfer records the new entryUUID" "$(uuid_of erin) " "$(owner_id svc-e)"

# ---- with ppolicy: pwdAccountLockedTime locks, 000001010000Z included ----
slapd_stop
slapd_start || { nok "slapd starts with ppolicy"; finish; }
rm -rf "$T/a"; mkdir -p "$T/a"; conf
check "with ppolicy the server knows pwdAccountLockedTime" schema_has pwdAccountLockedTime
expect 1 "ppolicy: bob (pwdAccountLockedTime) refused" on create svc-b --owner bob --expires +30d
has err "the reason names pwdAccountLockedTime" "bob' is locked \(pwdAccountLockedTime"
expect 0 "ppolicy: alice accepted" on create svc-a --owner alice --expires +30d
printf 'dn: uid=alice,%s\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n' \
	"$SLAPD_PEOPLE_BASE" | modify
expect 1 "000001010000Z (locked for good) refuses alice" on create svc-a2 --owner alice --expires +30d
expect 0 "sync orphans svc-a" on sync --json
eqv "svc-a orphaned" 1 "$(pyjson 'd["orphaned"]')"
finish

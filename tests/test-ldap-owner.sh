#!/bin/bash
# Owners on any directory (issue 12): against a stock slapd WITHOUT the
# ppolicy overlay (the server does not know pwdAccountLockedTime) the
# built-in owner checks accept a live person and refuse a locked one
# (nsAccountLock, 389-ds's way, from a small test schema) or an expired
# one (shadowExpire); `directory check` warns when ldap_owner_filter names
# an attribute the schema lacks; a sync that would orphan more than
# orphan_max identities stops and changes nothing (registry, snapshot and
# directory), then goes through with --force.  With ppolicy loaded, a
# pwdAccountLockedTime (000001010000Z: locked for good) refuses the owner.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
slapd_start --no-ppolicy || { nok "slapd starts without ppolicy"; finish; }

: > "$T/ldap-empty.conf"
export LDAPCONF=$T/ldap-empty.conf LDAPNOINIT=1 NSS_WRAPPER_DISABLE_DEEPBIND=1
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

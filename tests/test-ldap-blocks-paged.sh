#!/bin/bash
# The uid blocks are read with the paged results control (issue 17): more
# block entries than the server's size limit for nhictl's bind still
# allocate.  The slapd's limit for the ldapi root identity is lowered to 3
# entries (size.soft and size.hard; paged searches may go on past it, as
# with slapd's default limits for other binds) and uid_block_size = 1, so
# every create claims one more block entry: the 4th create and later read
# more than 3; without paging they fail ("more block entries than the
# server's size limit").
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
slapd_start || { nok "slapd starts"; finish; }
ldap_hermetic
B=$SLAPD_NHI_BASE
mkdir -p "$T/state"
{ slapd_nhi_conf "$T/state" testhost; echo "uid_block_size = 1"; } > "$NHI_CONF"
ldap_admin ldapmodify >/dev/null <<EOF || nok "lower the size limit"
dn: olcDatabase={1}mdb,cn=config
changetype: modify
replace: olcLimits
olcLimits: {0}dn.exact="$SLAPD_EXTERNAL_DN" size.soft=3 size.hard=3 size.prtotal=unlimited time=unlimited
EOF
for i in 1 2 3 4 5 6 7; do
	expect 0 "create p-$i (block entry $i)" nhictl create "p-$i" --owner alice --expires +30d
done
nrun ldap_admin ldapsearch -b "$B" -s one '(cn=uid-block-*)' dn
eqv "the limit holds for a search without paging (exit 4: size limit exceeded)" 4 "$rc"
eqv "7 block entries, one uid each" 7 \
	"$(ldap_admin ldapsearch -E pr=100/noprompt -b "$B" -s one '(cn=uid-block-*)' dn | grep -c '^dn: ')"
eqv "7 distinct uids" 7 "$(sqlite3 "$T/state/registry.db" "SELECT count(DISTINCT uid) FROM identity WHERE name LIKE 'p-%'")"

# Every other search of many entries is paged too (dir_search_paged): the
# entries a reach write rereads first (a resource's removal: every grant
# on it, 4 here), and directory check's comparison of the servers'
# entries (the server listed twice in ldap_uri: every entry on each).
for i in 1 2 3 4; do
	expect 0 "resource r-$i" nhictl resource add "r-$i" --kind api --uri "https://r$i.example" --owner alice
done
for i in 1 2 3 4; do
	expect 0 "grant p-$i on r-1" nhictl grant add "p-$i" r-1 --actions read
done
expect 0 "grant p-1 on r-2" nhictl grant add p-1 r-2 --actions read
expect 0 "delegate p-1 -> p-2" nhictl delegate add p-1 p-2
eqv "the directory holds the 5 grants" 5 \
	"$(ldap_admin ldapsearch -E pr=100/noprompt -b "$B" '(objectClass=nhiGrant)' dn | grep -c '^dn: ')"
expect 0 "resource remove r-1 --force: its 4 grants reread first (more than the limit)" nhictl resource remove r-1 --force
eqv "the directory holds 1 grant, 3 resources" "1 3" \
	"$(ldap_admin ldapsearch -E pr=100/noprompt -b "$B" '(objectClass=nhiGrant)' dn | grep -c '^dn: ') $(ldap_admin ldapsearch -E pr=100/noprompt -b "$B" '(objectClass=nhiResource)' dn | grep -c '^dn: ')"
sed "s|^ldap_uri = .*|ldap_uri = $SLAPD_LDAPI_URI $SLAPD_LDAPI_URI|" "$NHI_CONF" > "$T/two.conf"
NHI_CONF=$T/two.conf nrun nhictl directory check
eqv "directory check, the server twice: exit 0" 0 "$rc"
eqv "no warning: the entries read, the same on both" 0 \
	"$(cat "$T/out" "$T/err" | grep -c 'reading the entries\|do not hold the same entries')"
mkdir -p "$T/state2"
sed "s|^state_dir = .*|state_dir = $T/state2|" "$NHI_CONF" > "$T/host2.conf"
# a sync is one search (RFC 4533, as a replica's): the size limit must be
# lifted for the bind, and sync says so
NHI_CONF=$T/host2.conf fails sync 1 "a sync under the size limit: refused, saying what to lift" \
	"Size limit exceeded.*lift the server's size limit for nhictl's bind" nhictl sync
ldap_admin ldapmodify >/dev/null <<EOF || nok "lift the size limit"
dn: olcDatabase={1}mdb,cn=config
changetype: modify
replace: olcLimits
olcLimits: {0}dn.exact="$SLAPD_EXTERNAL_DN" size=unlimited time=unlimited
EOF
NHI_CONF=$T/host2.conf expect 0 "lifted: a second host's first sync (7 identities, 3 resources, 1 grant)" nhictl sync
eqv "it holds them all" "7 3 1 1" "$(sqlite3 "$T/state2/registry.db" "SELECT (SELECT count(*) FROM identity) || ' ' || (SELECT count(*) FROM resource) || ' ' || (SELECT count(*) FROM access) || ' ' || (SELECT count(*) FROM delegation)")"
finish

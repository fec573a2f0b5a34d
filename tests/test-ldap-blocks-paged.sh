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
finish

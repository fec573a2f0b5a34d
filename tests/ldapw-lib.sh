# tests/ldapw-lib.sh - helpers of the backend = ldap write tests, sourced
# after tests/slapd.sh (and slapd_start).
# ldapw_add_contractor NAME: a live person uid=NAME,ou=contractors under
# $SLAPD_PEOPLE_BASE (a level deeper than the test world's people); the
# ou is created on first use.
ldapw_add_contractor() {
	local ou="ou=contractors,$SLAPD_PEOPLE_BASE"
	{
		if ! ldap_admin ldapsearch -b "$ou" -s base dn >/dev/null 2>&1; then
			printf 'dn: %s\nobjectClass: organizationalUnit\nou: contractors\n\n' "$ou"
		fi
		printf 'dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\n' \
			"$1" "$ou" "$1" "$1" "$1"
	} | ldap_admin ldapadd > /dev/null
}

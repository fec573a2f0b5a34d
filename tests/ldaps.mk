# nhictl sync against a real slapd (issue 3): tests/test-ldap-sync.sh
TESTS += tests/test-ldap-sync.sh
EXTRA_DIST += tests/test-ldap-sync.sh

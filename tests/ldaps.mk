# nhictl sync against a real slapd (issue 3): tests/test-ldap-sync.sh
TESTS += tests/test-ldap-sync.sh
EXTRA_DIST += tests/test-ldap-sync.sh
# owners on any directory, orphan_max (issue 12): tests/test-ldap-owner.sh
TESTS += tests/test-ldap-owner.sh
EXTRA_DIST += tests/test-ldap-owner.sh

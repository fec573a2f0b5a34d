# LDAP directory tests (issue 3): a throwaway slapd per test (tests/slapd.sh)
LDAP_TESTS = tests/test-ldap-schema.sh
TESTS += $(LDAP_TESTS)
EXTRA_DIST += $(LDAP_TESTS) tests/slapd.sh tests/slapd-repl.sh

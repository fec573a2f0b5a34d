# the directory (issue 3): escaping unit tests, `nhictl directory` against a real slapd
TESTS += tests/test-nhictl-directory.sh
EXTRA_DIST += tests/test-nhictl-directory.sh
if HAVE_CMOCKA
check_PROGRAMS += tests/test-ldap-escape
TESTS += tests/test-ldap-escape
tests_test_ldap_escape_SOURCES = tests/test-ldap-escape.c nhictl/ldap/ldap_escape.c nhictl/ldap/ldap.c
tests_test_ldap_escape_CFLAGS = $(AM_CFLAGS) $(NHICTL_INC) $(CMOCKA_CFLAGS) $(LDAP_CFLAGS)
tests_test_ldap_escape_LDADD = lib/libnhi.la $(CMOCKA_LIBS) $(LDAP_LIBS)
endif

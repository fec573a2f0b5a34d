# test-backends.sh: the same script on backend = local and ldap (store.h).
# backend = ldap, the write side (issue 3): nhictl/ldap/dirmap.c and the write
# verbs against a real slapd (tests/slapd.sh)
check_PROGRAMS += tests/dirmap-probe
tests_dirmap_probe_SOURCES = tests/dirmap-probe.c nhictl/ldap/dirmap.c nhictl/ldap/ldap.c \
	nhictl/ldap/ldap_escape.c
tests_dirmap_probe_CFLAGS = $(AM_CFLAGS) $(NHICTL_INC) $(SQLITE_CFLAGS) $(LDAP_CFLAGS)
tests_dirmap_probe_LDADD = lib/libnhi.la $(LDAP_LIBS)
LDAPW_TESTS = tests/test-dirmap.sh tests/test-ldap-write.sh tests/test-ldap-cred.sh \
	tests/test-ldap-access.sh \
	tests/test-backends.sh
TESTS += $(LDAPW_TESTS)
EXTRA_DIST += $(LDAPW_TESTS) tests/ldapw-lib.sh

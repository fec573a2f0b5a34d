# test-backends.sh: the same script on backend = local and ldap (store.h).
# backend = ldap, the write side (issue 3): nhictl/ldap/dirmap.c and the write
# verbs against a real slapd (tests/slapd.sh)
check_PROGRAMS += tests/dirmap-probe
# (the ldap/ layer linked alone over util/: tests/layers.mk says why)
tests_dirmap_probe_SOURCES = tests/dirmap-probe.c $(NHICTL_LDAP) $(NHICTL_UTIL)
tests_dirmap_probe_CFLAGS = $(AM_CFLAGS) $(NHICTL_INC) $(SQLITE_CFLAGS) $(LDAP_CFLAGS) $(CRYPTO_CFLAGS) $(CRYPT_CFLAGS)
tests_dirmap_probe_LDADD = lib/libnhiadmin.la lib/libnhi.la $(LDAP_LIBS) $(CRYPTO_LIBS) $(CRYPT_LIBS)
LDAPW_TESTS = tests/test-dirmap.sh tests/test-ldap-write.sh tests/test-ldap-cred.sh \
	tests/test-ldap-access.sh tests/test-ldap-access-race.sh tests/test-ldap-apply.sh \
	tests/test-backends.sh
TESTS += $(LDAPW_TESTS)
EXTRA_DIST += $(LDAPW_TESTS) tests/ldapw-lib.sh

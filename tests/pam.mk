# tests of the policy and of the built pam_nhi.so
if HAVE_CMOCKA
check_PROGRAMS += tests/test-policy tests/test-pam
TESTS += tests/test-policy tests/test-pam
tests_test_policy_SOURCES = tests/test-policy.c
tests_test_policy_LDADD = lib/libnhiadmin.la lib/libnhi.la $(CMOCKA_LIBS)
tests_test_policy_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_pam_SOURCES = tests/test-pam.c
tests_test_pam_LDADD = lib/libnhiadmin.la lib/libnhi.la $(PAM_LIBS) $(CRYPT_LIBS) $(CMOCKA_LIBS)
tests_test_pam_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CRYPT_CFLAGS)
endif
TESTS += tests/test-pam-exports.sh tests/test-pam-wrapper.sh tests/test-pam-su.sh \
	tests/test-examples.sh tests/test-lockout.sh tests/test-pam-ruser.sh
EXTRA_DIST += tests/test-pam-exports.sh tests/test-pam-wrapper.sh tests/test-pam-su.sh \
	tests/test-examples.sh tests/test-lockout.sh tests/test-pam-ruser.sh
# the real pam_unix on what nss_nhi serves (expiry days, issued passwords)
TESTS += tests/test-pam-unix.sh
EXTRA_DIST += tests/test-pam-unix.sh

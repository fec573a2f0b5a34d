# NSS module tests (libnss_nhi.so.2 through glibc, dlopen and nss_wrapper).
noinst_PROGRAMS += tests/mksnap
tests_mksnap_SOURCES = tests/mksnap.c
tests_mksnap_LDADD = lib/libnhiadmin.la lib/libnhi.la

if HAVE_CMOCKA
check_PROGRAMS += tests/test-nss
TESTS += tests/test-nss
tests_test_nss_SOURCES = tests/test-nss.c tests/nss-testutil.h
tests_test_nss_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_nss_LDADD = lib/libnhiadmin.la lib/libnhi.la $(CMOCKA_LIBS) -ldl
endif

check_PROGRAMS += tests/test-nss-threads
TESTS += tests/test-nss-threads
tests_test_nss_threads_SOURCES = tests/test-nss-threads.c tests/nss-testutil.h
tests_test_nss_threads_LDADD = lib/libnhiadmin.la lib/libnhi.la -ldl

TESTS += tests/test-nss-getent.sh tests/test-nss-exports.sh tests/test-nss-threads-nhictl.sh \
	tests/test-nss-settings.sh
EXTRA_DIST += tests/test-nss-getent.sh tests/test-nss-exports.sh tests/test-nss-threads-nhictl.sh \
	tests/test-nss-settings.sh

# cmocka unit tests of the shared library
if HAVE_CMOCKA
LIBTEST_LDADD = lib/libnhiadmin.la lib/libnhi.la $(CMOCKA_LIBS)
LIBTEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
check_PROGRAMS += tests/test-conf tests/test-time tests/test-snapshot
TESTS += tests/test-conf tests/test-time tests/test-snapshot
tests_test_conf_SOURCES = tests/test-conf.c
tests_test_conf_LDADD = $(LIBTEST_LDADD)
tests_test_conf_CFLAGS = $(LIBTEST_CFLAGS)
tests_test_time_SOURCES = tests/test-time.c
tests_test_time_LDADD = $(LIBTEST_LDADD)
tests_test_time_CFLAGS = $(LIBTEST_CFLAGS)
tests_test_snapshot_SOURCES = tests/test-snapshot.c
tests_test_snapshot_LDADD = $(LIBTEST_LDADD)
tests_test_snapshot_CFLAGS = $(LIBTEST_CFLAGS)
endif
# the mutation step (scripts/mutate.sh, docs/mutation.md): its list stays current
TESTS += tests/test-mutants.sh
EXTRA_DIST += tests/test-mutants.sh tests/mutants.txt scripts/mutate.sh docs/mutation.md

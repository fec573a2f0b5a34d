# The test build of nhictl: the same sources with NHI_TEST_HOOKS
# (lib/nhi_testhook.h), so NHI_TEST_FAULT and the crash points exist only
# here and never in the installed nhictl.  lib's file and snapshot writers
# are compiled in again with the hooks (their objects come before
# libnhiadmin, which is then not needed).
check_PROGRAMS += tests/nhictl-faulty
noinst_HEADERS += lib/nhi_testhook.h
tests_nhictl_faulty_SOURCES = $(nhictl_nhictl_SOURCES) lib/nhi_testhook.c \
	lib/nhi_file.c lib/nhi_snapwrite.c
tests_nhictl_faulty_CFLAGS = $(nhictl_nhictl_CFLAGS) -DNHI_TEST_HOOKS
tests_nhictl_faulty_LDADD = $(nhictl_nhictl_LDADD)
# every crash point of every write verb survived (docs/crash-points.md)
CRASH_TESTS = tests/test-crash-points.sh
TESTS += $(CRASH_TESTS)
EXTRA_DIST += $(CRASH_TESTS) docs/crash-points.md

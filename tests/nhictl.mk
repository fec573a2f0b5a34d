# nhictl: the real binary through nss_wrapper (tests/common.sh)
NHICTL_TESTS = tests/test-nhictl-lifecycle.sh tests/test-nhictl-errors.sh tests/test-nhictl-config.sh \
	tests/test-nhictl-state.sh \
	tests/test-nhictl-audit.sh tests/test-nhictl-reach.sh tests/test-nhictl-access.sh \
	tests/test-nhictl-usage.sh tests/test-nhictl-labels.sh tests/test-nhictl-apply.sh \
	tests/test-ansible-apply.sh \
	tests/test-nhictl-modify.sh
TESTS += $(NHICTL_TESTS)
EXTRA_DIST += $(NHICTL_TESTS) tests/nhictl-lib.sh
if HAVE_CMOCKA
check_PROGRAMS += tests/test-nhictl-json
TESTS += tests/test-nhictl-json
tests_test_nhictl_json_SOURCES = tests/test-nhictl-json.c nhictl/util/json.c
tests_test_nhictl_json_CFLAGS = $(AM_CFLAGS) $(NHICTL_INC) $(CMOCKA_CFLAGS) $(SQLITE_CFLAGS)
tests_test_nhictl_json_LDADD = lib/libnhi.la $(CMOCKA_LIBS)
endif
# a retired uid is never reused (issue 18): tests/test-nhictl-uid.sh
TESTS += tests/test-nhictl-uid.sh
EXTRA_DIST += tests/test-nhictl-uid.sh
# reach, who-can, chain, graph (issue 14)
TESTS += tests/test-nhictl-chain.sh tests/test-nhictl-report.sh
EXTRA_DIST += tests/test-nhictl-chain.sh tests/test-nhictl-report.sh
# discover and audit's host check (issue 15)
TESTS += tests/test-nhictl-discover.sh
EXTRA_DIST += tests/test-nhictl-discover.sh
# audit's findings over the registry (issue 15)
TESTS += tests/test-nhictl-findings.sh
EXTRA_DIST += tests/test-nhictl-findings.sh

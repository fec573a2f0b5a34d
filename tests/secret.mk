# Credential generation (issue 4, nhictl/util/secret.c): a cmocka unit test and
# a driver whose outputs are checked with ssh-keygen, openssl and slapd.
SECRET_LDADD = lib/libnhiadmin.la lib/libnhi.la $(CRYPTO_LIBS) $(CRYPT_LIBS)
SECRET_CFLAGS = $(AM_CFLAGS) $(NHICTL_INC) $(CRYPTO_CFLAGS) $(CRYPT_CFLAGS)
check_PROGRAMS += tests/secret-tool
tests_secret_tool_SOURCES = tests/secret-tool.c nhictl/util/secret.c
tests_secret_tool_CFLAGS = $(SECRET_CFLAGS)
tests_secret_tool_LDADD = $(SECRET_LDADD)
TESTS += tests/test-secret-tool.sh
EXTRA_DIST += tests/test-secret-tool.sh
if HAVE_CMOCKA
check_PROGRAMS += tests/test-secret
TESTS += tests/test-secret
tests_test_secret_SOURCES = tests/test-secret.c nhictl/util/secret.c
tests_test_secret_CFLAGS = $(SECRET_CFLAGS) $(CMOCKA_CFLAGS)
tests_test_secret_LDADD = $(SECRET_LDADD) $(CMOCKA_LIBS)
endif

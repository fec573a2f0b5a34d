# nhictl's layers kept by the linker (HACKING.md): registry/ and ldap/ are
# each linked alone over util/ and lib/, so a call from them upward (into
# store/, cmd/) or across (registry/ <-> ldap/) fails the build; and
# tests/test-layers.sh reads every call between nhictl's files from the
# built objects: all go down, none in a cycle.
#   tests/test-registry-layer   registry/ + util/: a real registry.db,
#                               publication read back with lib's reader
#   tests/dirmap-probe          ldap/ + util/ (tests/ldapw.mk; run by
#                               tests/test-dirmap.sh against a real slapd)
if HAVE_CMOCKA
check_PROGRAMS += tests/test-registry-layer
TESTS += tests/test-registry-layer
tests_test_registry_layer_SOURCES = tests/test-registry-layer.c $(NHICTL_REGISTRY) $(NHICTL_UTIL)
tests_test_registry_layer_CFLAGS = $(AM_CFLAGS) $(NHICTL_INC) $(CMOCKA_CFLAGS) $(SQLITE_CFLAGS) \
	$(CRYPTO_CFLAGS) $(CRYPT_CFLAGS)
tests_test_registry_layer_LDADD = lib/libnhiadmin.la lib/libnhikeys.la lib/libnhi.la \
	$(CMOCKA_LIBS) $(SQLITE_LIBS) $(CRYPTO_LIBS) $(CRYPT_LIBS)
endif
TESTS += tests/test-layers.sh
EXTRA_DIST += tests/test-layers.sh tests/test-registry-layer.c

# tests: each area keeps its rules in tests/<area>.mk
EXTRA_DIST += tests/common.sh tests/testtmp.h tests/lsan.supp
include tests/lib.mk
include tests/pam.mk
include tests/nss.mk
include tests/doc.mk
include tests/nhictl.mk
TESTS += tests/test-completion.sh
EXTRA_DIST += tests/test-completion.sh
TESTS += tests/test-systemd.sh
EXTRA_DIST += tests/test-systemd.sh
TESTS += tests/test-packaging.sh
EXTRA_DIST += tests/test-packaging.sh
include tests/directory.mk
include tests/ldap.mk
include tests/ldapw.mk
include tests/ldaps.mk
include tests/secret.mk
include tests/cred.mk
include tests/crash.mk
include tests/layers.mk

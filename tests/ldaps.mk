# nhictl sync against a real slapd (issue 3): tests/test-ldap-sync.sh
TESTS += tests/test-ldap-sync.sh
EXTRA_DIST += tests/test-ldap-sync.sh
# owners on any directory, orphan_max (issue 12): tests/test-ldap-owner.sh
TESTS += tests/test-ldap-owner.sh
EXTRA_DIST += tests/test-ldap-owner.sh
# replication conflicts at sync (issue 17): tests/test-ldap-conflict.sh
TESTS += tests/test-ldap-conflict.sh
EXTRA_DIST += tests/test-ldap-conflict.sh
# writes confirmed by a read-back (issue 17): tests/test-ldap-confirm.sh
TESTS += tests/test-ldap-confirm.sh
EXTRA_DIST += tests/test-ldap-confirm.sh
# real replication: two providers and a consumer (issue 17): tests/test-ldap-repl.sh
TESTS += tests/test-ldap-repl.sh
EXTRA_DIST += tests/test-ldap-repl.sh
# the recommended layout from docs/replication/*.ldif (delta-syncrepl, a
# consumer with olcUpdateref); writes through ldap_write_uri and referrals
TESTS += tests/test-ldap-topology.sh
EXTRA_DIST += tests/test-ldap-topology.sh
# uid blocks read in pages past the server's size limit (issue 17): tests/test-ldap-blocks-paged.sh
TESTS += tests/test-ldap-blocks-paged.sh
EXTRA_DIST += tests/test-ldap-blocks-paged.sh
# real replication, one identity changed on two providers at once (issue 17): tests/test-ldap-repl-races.sh
TESTS += tests/test-ldap-repl-races.sh
EXTRA_DIST += tests/test-ldap-repl-races.sh
# real replication, a grant or delegation removed on one provider while
# changed on the other (issue 17): tests/test-ldap-repl-remove.sh
TESTS += tests/test-ldap-repl-remove.sh
EXTRA_DIST += tests/test-ldap-repl-remove.sh
# real replication, a rotation's move to grace swapped by replication
# (issue 17): tests/test-ldap-repl-swap.sh
TESTS += tests/test-ldap-repl-swap.sh
EXTRA_DIST += tests/test-ldap-repl-swap.sh
# real replication, a removed grant back on the server written through,
# alone and inside a retire's cascade (issue 17): tests/test-ldap-repl-comeback.sh
TESTS += tests/test-ldap-repl-comeback.sh
EXTRA_DIST += tests/test-ldap-repl-comeback.sh

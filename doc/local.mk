# doc: man pages, example files and format/design notes (owner: docs).
dist_man_MANS += doc/nhictl.8 doc/nhi-authorized-keys.8 doc/pam_nhi.8 doc/nss_nhi.8 doc/nhi.conf.5

# Example files: shipped in the tarball; the packages install them
# (debian/nhictl.examples installs examples/*), make install does not.
EXTRA_DIST += examples/nhi.conf examples/nsswitch.conf examples/sshd_config \
	examples/pam.d/sshd examples/pam.d/su examples/pam.d/cron \
	docs/snapshot-format.md docs/design-notes.md docs/design.md docs/owasp-nhi.md
# the picture of README.md "Reach and chains" (nhictl graph --format dot | dot -Tsvg,
# of the fleet of tests/test-nhictl-chain.sh at its end)
EXTRA_DIST += doc/reach-example.svg docs/report.png
# how nhi behaves with replicated OpenLDAP (issue 17)
EXTRA_DIST += docs/replication.md
# the recommended layout's slapd configs, loaded by tests/test-ldap-topology.sh
EXTRA_DIST += docs/replication/provider1.ldif docs/replication/provider2.ldif \
	docs/replication/consumer.ldif

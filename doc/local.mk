# doc: man pages, example files and format/design notes (owner: docs).
dist_man_MANS += doc/nhictl.8 doc/nss_nhi.8 doc/nhi.conf.5
# doc/pam_nhi.8 supersedes pam_nhi/pam_nhi.8, which pam_nhi/local.mk still
# installs (two pages of one name make 'make install' fail).  When that
# line goes, move doc/pam_nhi.8 from EXTRA_DIST to dist_man_MANS above.
EXTRA_DIST += doc/pam_nhi.8

# Example files: shipped in the tarball; the packages install them
# (debian/nhictl.examples installs examples/*), make install does not.
EXTRA_DIST += examples/nhi.conf examples/nsswitch.conf examples/sshd_config \
	examples/pam.d/sshd examples/pam.d/su examples/pam.d/cron \
	docs/snapshot-format.md docs/design-notes.md

# systemd: nhi-sync.service (nhictl sync), nhi-audit.service (nhictl
# audit) and their timers.
# --with-systemdsystemunitdir=DIR (default: pkg-config systemd, else
# /lib/systemd/system; "no" installs no units).
EXTRA_DIST += systemd/nhi-sync.service.in systemd/nhi-audit.service.in
if HAVE_SYSTEMD
systemdsystemunit_DATA = systemd/nhi-sync.service systemd/nhi-audit.service
dist_systemdsystemunit_DATA = systemd/nhi-sync.timer systemd/nhi-audit.timer
else
EXTRA_DIST += systemd/nhi-sync.timer systemd/nhi-audit.timer
endif
CLEANFILES += systemd/nhi-sync.service systemd/nhi-audit.service
systemd/nhi-sync.service systemd/nhi-audit.service: Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@statedir[@]|$(statedir)|g' \
	    -e 's|@sysconfdir[@]|$(sysconfdir)|g' $(srcdir)/$@.in > $@.tmp && \
	mv $@.tmp $@
systemd/nhi-sync.service: $(srcdir)/systemd/nhi-sync.service.in
systemd/nhi-audit.service: $(srcdir)/systemd/nhi-audit.service.in
# make distcheck installs below its own prefix
AM_DISTCHECK_CONFIGURE_FLAGS = --with-systemdsystemunitdir='$${libdir}/systemd/system'

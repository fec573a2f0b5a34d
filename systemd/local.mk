# systemd: nhi-sync.service (nhictl sync) and its timer.
# --with-systemdsystemunitdir=DIR (default: pkg-config systemd, else
# /lib/systemd/system; "no" installs no units).
EXTRA_DIST += systemd/nhi-sync.service.in
if HAVE_SYSTEMD
systemdsystemunit_DATA = systemd/nhi-sync.service
dist_systemdsystemunit_DATA = systemd/nhi-sync.timer
else
EXTRA_DIST += systemd/nhi-sync.timer
endif
CLEANFILES += systemd/nhi-sync.service
systemd/nhi-sync.service: $(srcdir)/systemd/nhi-sync.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@statedir[@]|$(statedir)|g' \
	    -e 's|@sysconfdir[@]|$(sysconfdir)|g' $(srcdir)/systemd/nhi-sync.service.in > $@.tmp && \
	mv $@.tmp $@
# make distcheck installs below its own prefix
AM_DISTCHECK_CONFIGURE_FLAGS = --with-systemdsystemunitdir='$${libdir}/systemd/system'

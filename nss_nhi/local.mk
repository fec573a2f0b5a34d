# nss_nhi: libnss_nhi.so.2, installed into $(libdir) where glibc's NSS
# finds it (only the .so.2 is installed: no dev symlink, no .la).
nssmoddir = $(libdir)
nssmod_LTLIBRARIES = nss_nhi/libnss_nhi.la
nss_nhi_libnss_nhi_la_SOURCES = \
	nss_nhi/nss_common.c nss_nhi/nss_common.h \
	nss_nhi/nss_passwd.c nss_nhi/nss_group.c \
	nss_nhi/nss_shadow.c nss_nhi/nss_gshadow.c nss_nhi/nss_initgroups.c
nss_nhi_libnss_nhi_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden -ffunction-sections -fdata-sections
nss_nhi_libnss_nhi_la_LDFLAGS = -module -shared -version-info 2:0:0 \
	-no-undefined -Wl,-z,defs -Wl,-z,now -Wl,--gc-sections \
	-Wl,--version-script=$(srcdir)/nss_nhi/exports.map
nss_nhi_libnss_nhi_la_LIBADD = lib/libnhi.la
EXTRA_nss_nhi_libnss_nhi_la_DEPENDENCIES = nss_nhi/exports.map
EXTRA_DIST += nss_nhi/exports.map

# Prerequisite-only hook rules, so other parts may add their own.
install-data-hook: nss-nhi-install-hook
uninstall-hook: nss-nhi-uninstall-hook
nss-nhi-install-hook:
	rm -f $(DESTDIR)$(nssmoddir)/libnss_nhi.so $(DESTDIR)$(nssmoddir)/libnss_nhi.la
nss-nhi-uninstall-hook:
	rm -f $(DESTDIR)$(nssmoddir)/libnss_nhi.so.2 $(DESTDIR)$(nssmoddir)/libnss_nhi.so.2.0.0
.PHONY: nss-nhi-install-hook nss-nhi-uninstall-hook

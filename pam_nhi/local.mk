# pam_nhi: the PAM module (libc, libpam, libcrypt for crypt(3) in the
# auth phase - libc-level, what libpam and pam_unix link too - and nhi's
# libc-only libnhi).
pammod_LTLIBRARIES = pam_nhi/pam_nhi.la
pam_nhi_pam_nhi_la_SOURCES = pam_nhi/pam_nhi.c
pam_nhi_pam_nhi_la_LDFLAGS = -module -avoid-version -shared -no-undefined \
	-Wl,--version-script=$(srcdir)/pam_nhi/pam_nhi.map -Wl,-z,relro -Wl,-z,now -Wl,-z,defs
pam_nhi_pam_nhi_la_CFLAGS = $(AM_CFLAGS) $(CRYPT_CFLAGS)
pam_nhi_pam_nhi_la_LIBADD = lib/libnhi.la $(PAM_LIBS) $(CRYPT_LIBS)
EXTRA_pam_nhi_pam_nhi_la_DEPENDENCIES = $(srcdir)/pam_nhi/pam_nhi.map
EXTRA_DIST += pam_nhi/pam_nhi.map

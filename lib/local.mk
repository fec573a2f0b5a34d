# The shared internal library.  libnhi: libc only, linked into the PAM and
# NSS modules and nhictl.  libnhiadmin: what only nhictl needs (the writer).
noinst_LTLIBRARIES += lib/libnhi.la lib/libnhiadmin.la lib/libnhikeys.la
lib_libnhi_la_SOURCES = \
	lib/nhi_err.c lib/nhi_err.h \
	lib/nhi_conf.c lib/nhi_conf.h lib/nhi_ascii.h \
	lib/nhi_time.c lib/nhi_time.h \
	lib/nhi_hash.c lib/nhi_hash.h \
	lib/nhi_snapshot.c lib/nhi_snapshot.h \
	lib/nhi_policy.c lib/nhi_policy.h \
	lib/nhi_pwhash.c lib/nhi_pwhash.h
lib_libnhi_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden -ffunction-sections -fdata-sections
lib_libnhiadmin_la_SOURCES = lib/nhi_snapwrite.c lib/nhi_file.c lib/nhi_file.h
lib_libnhiadmin_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
# libnhikeys: the keys sshd may accept (nhictl and nhi-authorized-keys)
lib_libnhikeys_la_SOURCES = lib/nhi_keys.c lib/nhi_keys.h
lib_libnhikeys_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden

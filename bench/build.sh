#!/bin/bash
# bench/build.sh BUILD_DIR - configure BUILD_DIR with -O2 and the paths the
# packages use (/etc/nhi, /var/lib/nhi: debian/rules, rpm/nhi.spec), unless
# it holds a build already, and build what the benchmarks load: nss_nhi and
# bench/nhi-bench (for bench/run.sh and bench/sssd.sh).  The paths matter to
# a process's first lookup: the module checks every directory above its
# snapshot (four for /var/lib/nhi, six for /usr/local/var/lib/nhi).
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$1
if [ ! -f "$B/Makefile" ]; then
	[ -x "$SRC/configure" ] || (cd "$SRC" && autoreconf -fi)
	mkdir -p "$B"
	(cd "$B" && "$SRC/configure" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
		--with-statedir=/var/lib/nhi CFLAGS="-O2 -g" >/dev/null)
fi
(cd "$B" && make -j"$(nproc)" nss_nhi/libnss_nhi.la bench/nhi-bench >/dev/null)
[ -f "$B/nss_nhi/.libs/libnss_nhi.so.2" ] || { echo "bench/build.sh: no $B/nss_nhi/.libs/libnss_nhi.so.2" >&2; exit 1; }

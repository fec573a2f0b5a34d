#!/bin/bash
# bench/build.sh BUILD_DIR - configure BUILD_DIR with -O2 (unless it holds a
# build already) and build what the benchmarks load: nss_nhi and
# bench/nhi-bench (for bench/run.sh and bench/sssd.sh)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$1
if [ ! -f "$B/Makefile" ]; then
	[ -x "$SRC/configure" ] || (cd "$SRC" && autoreconf -fi)
	mkdir -p "$B"
	(cd "$B" && "$SRC/configure" CFLAGS="-O2 -g" >/dev/null)
fi
(cd "$B" && make -j"$(nproc)" nss_nhi/libnss_nhi.la bench/nhi-bench >/dev/null)
[ -f "$B/nss_nhi/.libs/libnss_nhi.so.2" ] || { echo "bench/build.sh: no $B/nss_nhi/.libs/libnss_nhi.so.2" >&2; exit 1; }

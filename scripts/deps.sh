#!/bin/sh
# Install what nhi needs on Debian 12: 'build' (to build it) or 'test'
# (to build it and run the whole test suite; chromium opens the page of
# tests/test-nhictl-report.sh; locales holds the sources tests/test-time
# makes a Latin-1 locale from; faketime freezes slapmodify's clock in
# tests/test-ldap-repl-swap.sh; strace shows which files
# tests/test-nss-settings.sh opens), or 'bench' (what bench/run.sh
# and bench/sssd.sh need; SSSD's packages are only unpacked, into
# $NHI_SSSD_ROOT, default /var/cache/nhi-bench/sssd-root: installing
# libnss-sss would add sss to the host's /etc/nsswitch.conf).  Run as root.
set -e
what=${1:-test}
build="build-essential autoconf automake libtool pkg-config libpam0g-dev \
libldap-dev libssl-dev libcrypt-dev libsqlite3-dev libyaml-dev libcmocka-dev"
demo="$build libnss-wrapper libpam-wrapper pamtester"
test="$build slapd ldap-utils openssh-client openssh-server libnss-wrapper libpam-wrapper pamtester sqlite3 python3 valgrind gdb \
man-db groff-base systemd debhelper lintian rpm fakeroot bash-completion dpkg-dev ansible-core python3-apt \
clang libclang-rt-14-dev graphviz chromium locales faketime strace"
case $what in
build) pkgs=$build ;;
demo) pkgs=$demo ;;
test) pkgs=$test ;;
bench) pkgs="$build hyperfine valgrind python3" ;;
*) echo "usage: $0 build|demo|test|bench" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "Installing:$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ "$what" = bench ]; then
	# SSSD 2.8 (sssd-common, its files and proxy providers, libnss-sss) and
	# the libraries it needs that the host lacks, unpacked into a private
	# root that bench/sssd.sh overlays on /usr in a private mount namespace
	root=${NHI_SSSD_ROOT:-/var/cache/nhi-bench/sssd-root}
	sssd="sssd-common sssd-proxy libnss-sss"
	[ -f "$root/.nhi-bench-sssd" ] && exit 0
	apt-get update -qq
	libs=$(apt-get install -s --no-install-recommends $sssd 2>/dev/null |
		sed -n 's/^Inst \(lib[^ ]*\) .*/\1/p' | grep -v -e '^libpam' -e '^libpwquality' -e '^libcrack')
	dl=$(mktemp -d)
	chmod 755 "$dl"   # apt-get download runs as _apt
	(cd "$dl" && apt-get download -qq $sssd $libs)
	rm -rf "$root"
	mkdir -p "$root"
	for f in "$dl"/*.deb; do dpkg -x "$f" "$root"; done
	# /lib is /usr/lib on Debian 12: the overlay on /usr must hold it all
	if [ -d "$root/lib" ]; then
		cp -a "$root/lib/." "$root/usr/lib/"
		rm -rf "$root/lib"
	fi
	dpkg-deb -f "$dl"/sssd-common_*.deb Version | sed 's/^/Version: /' > "$root/.nhi-bench-sssd"
	rm -rf "$dl"
	echo "SSSD unpacked into $root"
fi

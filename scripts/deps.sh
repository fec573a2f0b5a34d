#!/bin/sh
# Install what nhi needs on Debian 12: 'build' (to build it) or 'test'
# (to build it and run the whole test suite).  Run as root.
set -e
what=${1:-test}
build="build-essential autoconf automake libtool pkg-config libpam0g-dev \
libldap-dev libssl-dev libcrypt-dev libsqlite3-dev libcmocka-dev"
demo="$build libnss-wrapper libpam-wrapper pamtester"
test="$build slapd ldap-utils openssh-client openssh-server libnss-wrapper libpam-wrapper pamtester sqlite3 python3 valgrind gdb \
man-db groff-base systemd debhelper lintian rpm fakeroot bash-completion dpkg-dev ansible-core python3-apt \
clang libclang-rt-14-dev"
case $what in
build) pkgs=$build ;;
demo) pkgs=$demo ;;
test) pkgs=$test ;;
*) echo "usage: $0 build|demo|test" >&2; exit 2 ;;
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

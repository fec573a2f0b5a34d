# tests/common.sh - sourced by the shell tests.  Gives each test a private
# state directory and config, and runs programs with nhi's NSS module
# through nss_wrapper, so nothing of the host's /etc is read or changed.
set -u
: "${top_builddir:?run through make check}"
: "${top_srcdir:?run through make check}"
NHICTL=${NHICTL:-$top_builddir/nhictl/nhictl}
NSS_NHI_DIR=${NSS_NHI_DIR:-$top_builddir/nss_nhi/.libs}
PAM_NHI_SO=${PAM_NHI_SO:-$top_builddir/pam_nhi/.libs/pam_nhi.so}

# (NHI_TEST_TMP, the build tree's tests/tmp: see Makefile.am)
T=$(mktemp -d "${NHI_TEST_TMP:-/tmp}/nhi-test.XXXXXX")
chmod 755 "$T"
cleanup_hooks=""
at_exit() { cleanup_hooks="$1; $cleanup_hooks"; }
_cleanup() { eval "$cleanup_hooks"; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap _cleanup EXIT

pass=0 fail=0
ok()   { pass=$((pass+1)); echo "ok - $*"; }
nok()  { fail=$((fail+1)); echo "not ok - $*"; }
# check "description" command...: passes when the command exits 0
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
finish() { echo "# $pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

# The humans of the test world (owners) and one existing local service
# account for 'adopt'.  shadow: bob is locked, carol's account expired.
mkdir -p "$T/etc" "$T/state"
cat > "$T/etc/passwd" <<P
root:x:0:0:root:/root:/bin/bash
alice:x:1000:1000:Alice Admin:/home/alice:/bin/bash
bob:x:1001:1001:Bob Locked:/home/bob:/bin/bash
carol:x:1002:1002:Carol Expired:/home/carol:/bin/bash
dave:x:1003:1003:Dave Dev:/home/dave:/bin/bash
legacy-svc:x:850:850:old service:/srv/legacy:/usr/sbin/nologin
P
cat > "$T/etc/group" <<G
root:x:0:
alice:x:1000:
bob:x:1001:
carol:x:1002:
dave:x:1003:
legacy-svc:x:850:
svcusers:x:1500:dave
G
cat > "$T/etc/shadow" <<S
root:*:19000:0:99999:7:::
alice:\$y\$j9T\$x:19000:0:99999:7:::
bob:!\$y\$j9T\$x:19000:0:99999:7:::
carol:\$y\$j9T\$x:19000:0:99999:7::19001:
dave:\$y\$j9T\$x:19000:0:99999:7:::
legacy-svc:*:19000:0:99999:7:::
S
NHI_CONF=$T/etc/nhi.conf
cat > "$NHI_CONF" <<C
state_dir = $T/state
host = testhost
discover_paths = $T/scan
C
# audit's host check searches discover_paths: an empty tree of the test's
mkdir -p "$T/scan"
export NHI_CONF

# nsswrap CMD...: run a program we did not build (getent, id, pamtester)
# with files (the test world above) then nhi.  Under the sanitizers the
# instrumented module needs the sanitizer runtime first in the link order,
# and leaks of the foreign program are not ours to report.
nsswrap() {
	if [ -n "${NHI_ASAN_LIB:-}" ]; then
		_nsswrap "$NHI_ASAN_LIB:libnss_wrapper.so" \
			"${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0" "$@"
	else
		_nsswrap libnss_wrapper.so "${ASAN_OPTIONS:-}" "$@"
	fi
}
# nhictl through nss_wrapper (owners resolve against the test world);
# nhictl is our own build, so leak checking stays on.
nhictl() {
	_nsswrap libnss_wrapper.so "${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0" \
		"$NHICTL" "$@"
}
_nsswrap() {
	local preload=$1 asan=$2; shift 2
	LD_PRELOAD=$preload \
	NSS_WRAPPER_PASSWD=$T/etc/passwd NSS_WRAPPER_GROUP=$T/etc/group \
	NSS_WRAPPER_SHADOW=$T/etc/shadow \
	NSS_WRAPPER_MODULE_SO_PATH=$NSS_NHI_DIR/libnss_nhi.so.2 \
	NSS_WRAPPER_MODULE_FN_PREFIX=nhi \
	ASAN_OPTIONS=$asan \
	"$@"
}
# The LD_PRELOAD value for a foreign program under nss_wrapper (with the
# sanitizer runtime first when the build is instrumented).
nss_preload() {
	if [ -n "${NHI_ASAN_LIB:-}" ]; then echo "$NHI_ASAN_LIB:libnss_wrapper.so"; else echo libnss_wrapper.so; fi
}

# check_demo OUT SCRIPT [VAR=VALUE...]: run one of the README's demos
# (scripts/SCRIPT, with those variables) into OUT, show it, and check
# what every demo promises: exit 0, every step as described.
check_demo() {
	local out=$1 script=$2 rc=0
	shift 2
	env "$@" bash "$top_srcdir/scripts/$script" >"$out" 2>&1 || rc=$?
	sed 's/^/# /' "$out"
	check "$script ends with exit 0" [ $rc -eq 0 ]
	check "it says every step went as described" grep -q 'Done: every step as described' "$out"
	check "no step was unexpected" bash -c "! grep -q UNEXPECTED '$out'"
}

# clean_statedir CMD...: run CMD (a program, not a function) as on a host
# whose built-in state_dir ($NHI_BUILTIN_STATEDIR, what the modules and
# nhictl use without nhi.conf) is empty and that has no nhi.conf where the
# build looks for it ($NHI_BUILTIN_CONF).  When the host has either (a
# registry left by a run without NHI_CONF, an installed nhi.conf), CMD runs
# in a private mount namespace with an empty tmpfs over the state
# directory and over nhi.conf's directory: the host's files are never
# touched.  Without root or unshare -m, CMD runs as is, after a note on
# stderr that its answer is the host's.
clean_statedir() {
	local d=${NHI_BUILTIN_STATEDIR:-} e=${NHI_BUILTIN_CONF:+${NHI_BUILTIN_CONF%/*}}
	[ -n "$d" ] && [ -e "$d" ] || d=
	[ -n "$e" ] && [ -e "$e" ] || e=
	if [ -z "$d$e" ]; then "$@"; return; fi
	if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
		unshare -m --propagation private sh -c \
			'for m in "$0" "$1"; do [ -z "$m" ] || mount -t tmpfs -o mode=755 tmpfs "$m" || exit 1; done; shift; exec "$@"' \
			"$d" "$e" "$@"
		return
	fi
	echo "# note: $d$e exists on this host and cannot be hidden: the answer is the host's" >&2
	"$@"
}

# real_nss_files: $T/nsswitch.conf ("files nhi" for passwd, group and
# shadow) and $T/ld.so.cache that also names the built module's directory,
# for a private mount namespace (unshare -m) to bind-mount over
# /etc/nsswitch.conf and /etc/ld.so.cache: then real programs, setuid ones
# too, look users up through the built libnss_nhi.so.2.
real_nss_files() {
	printf 'passwd: files nhi\ngroup:  files nhi\nshadow: files nhi\n' > "$T/nsswitch.conf"
	echo "$NSS_NHI_DIR" > "$T/ld.so.conf"
	ldconfig -X -C "$T/ld.so.cache" -f "$T/ld.so.conf"
}

# free_port: a free TCP port on 127.0.0.1.  wait_port PORT: wait up to
# 5 s until something listens there; 0 when it does.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	local i
	for i in $(seq 50); do
		python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$1)))" && return 0
		sleep 0.1
	done
	return 1
}

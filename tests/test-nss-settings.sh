#!/bin/bash
# nss_nhi takes its settings (nologin_shell, enumerate, ...) from the
# snapshot at the built-in path when that base records them for the
# nhi.conf the module reads and the file is unchanged since
# (NHI_SNAP_F_CONF): then the module does not open nhi.conf at all.  When
# the file changed (another inode, size, mtime or ctime), is gone, or the
# base records nothing, the module reads nhi.conf as before.  Real
# libnss_nhi.so.2 through nss_wrapper, the real nhictl, system calls seen
# with strace; the built-in state_dir is a tmpfs of a private mount
# namespace (the host's is never touched).
if [ -z "${NHI_IN_NS:-}" ]; then
	if [ "$(id -u)" != 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
		echo "# skip: needs root and unshare -m"
		exit 77
	fi
	NHI_IN_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
have_nss || { echo "# skip: libnss_nhi.so.2 not built"; exit 77; }
command -v strace >/dev/null || { echo "# skip: no strace"; exit 77; }
DEF=${NHI_BUILTIN_STATEDIR:?}
top=$DEF
while [ ! -d "$top" ]; do top=$(dirname "$top"); done
[ "$top" != / ] || { echo "# skip: nothing to mount over for $DEF"; exit 77; }
mount -t tmpfs -o mode=755 tmpfs "$top" || { echo "not ok - tmpfs over $top"; exit 1; }
mkdir -p "$DEF"
# and no nhi.conf at the built-in path (where the steps without NHI_CONF look)
[ ! -d "${NHI_BUILTIN_CONF%/*}" ] || mount -t tmpfs -o mode=755 tmpfs "${NHI_BUILTIN_CONF%/*}" ||
	{ echo "not ok - tmpfs over ${NHI_BUILTIN_CONF%/*}"; exit 1; }

# nhictl and the module read $NHI_CONF; the state is in the built-in
# state_dir (no state_dir line), where the module looks first
conf() {
	printf 'host = testhost\nnologin_shell = %s\nenumerate = %s\n' "$1" "$2" > "$NHI_CONF"
	# a file changed less than 100 ms ago is not recorded (its next
	# change could keep its timestamps): let it age
	sleep 0.2
}
# looked PASSWD-ARGS: getent passwd through the module under strace;
# $T/out the answer, $T/st the files it opened or looked at
looked() {
	nsswrap strace -f -qq -e trace=openat,newfstatat,stat -o "$T/st" getent passwd "$@" \
		>"$T/out" 2>"$T/err"
	rc=$?
}
# opened: 1 when the module opened nhi.conf (NHI_CONF's, else the
# built-in path), 0 when it did not
opened() { grep -c "openat(.*\"${NHI_CONF:-$NHI_BUILTIN_CONF}\"" "$T/st"; }
shell() { cut -d: -f7 "$T/out"; }

conf /sbin/nologin-a yes
expect 0 "create svc-a" nhictl create svc-a --owner alice --expires +30d
expect 0 "suspend svc-a" nhictl suspend svc-a
expect 0 "publish (a base that records nhi.conf)" nhictl publish
check "the base is in the built-in state_dir" test -f "$DEF/nhi.cache"
flags=$(python3 -c 'import struct,sys; print(struct.unpack_from("=I", open(sys.argv[1],"rb").read(), 168)[0])' "$DEF/nhi.cache")
eqv "the base has NHI_SNAP_F_CONF (0x20)" 32 "$((flags & 32))"

looked svc-a
eqv "getent svc-a: suspended, the recorded nologin_shell" "0 /sbin/nologin-a" "$rc $(shell)"
eqv "nhi.conf was not opened" 0 "$(opened)"
check "its identity was looked at" grep -q "stat.*\"$NHI_CONF\"" "$T/st"
check "the snapshot was read" grep -q "openat(.*\"$DEF/nhi.cache\"" "$T/st"
looked
check "enumerate = yes (recorded): getent passwd lists svc-a" grep -q '^svc-a:' "$T/out"
# the first lookup waits on nothing: the module loads its settings under
# its own mutex, not pthread_once (whose futex wake was a system call in
# every process); strace -k names the caller of each futex (getent's
# setlocale makes one of its own).  Under the sanitizers their runtime
# makes its own.
if [ -z "${NHI_ASAN_LIB:-}" ]; then
	nsswrap strace -f -qq -k -e trace=futex -o "$T/fx" getent passwd svc-a >/dev/null 2>&1
	check "strace -k shows the callers of futex" grep -q '^ > .*libc\.so' "$T/fx"
	eqv "the first lookup: no futex call from nss_nhi" 0 \
		"$(awk '/^[0-9]+ futex/ { n += m; m = 0 } / > .*libnss_nhi/ { m = 1 } END { print n + m }' "$T/fx")"
fi

# nhi.conf changed, nothing published: the module reads the file
printf 'host = testhost\nnologin_shell = /sbin/nologin-b\nenumerate = no\n' > "$NHI_CONF"
looked svc-a
eqv "changed nhi.conf: getent svc-a shows its nologin_shell" "0 /sbin/nologin-b" "$rc $(shell)"
eqv "nhi.conf was opened" 1 "$(opened)"
looked
check "enumerate = no (read): getent passwd does not list svc-a" bash -c "! grep -q '^svc-a:' '$T/out'"

# published again: recorded again, not opened
sleep 0.2
expect 0 "publish again" nhictl publish
looked svc-a
eqv "after publish: getent svc-a, from the record" "0 /sbin/nologin-b 0" "$rc $(shell) $(opened)"

# changed in place, same size, its mtime put back (rsync --inplace -t, a
# restore that keeps timestamps): only the ctime tells, and it does
before=$(stat -c '%i %s %y' "$NHI_CONF") mt=$(stat -c %y "$NHI_CONF")
printf 'host = testhost\nnologin_shell = /sbin/nologin-x\nenumerate = no\n' 1<> "$NHI_CONF"
touch -d "$mt" "$NHI_CONF"
eqv "rewritten in place: same inode, size and mtime" "$before" "$(stat -c '%i %s %y' "$NHI_CONF")"
looked svc-a
eqv "only the ctime changed: read" "0 /sbin/nologin-x 1" "$rc $(shell) $(opened)"
printf 'host = testhost\nnologin_shell = /sbin/nologin-b\nenumerate = no\n' 1<> "$NHI_CONF"

# the same text in a new file (another inode): read, not trusted to be the same
cp -p "$NHI_CONF" "$NHI_CONF.new" && mv "$NHI_CONF.new" "$NHI_CONF"
looked svc-a
eqv "nhi.conf replaced by a copy: read" "0 /sbin/nologin-b 1" "$rc $(shell) $(opened)"

# a record of another nhi.conf (NHI_CONF names another file): read
cp -p "$NHI_CONF" "$T/other.conf"
sed -i 's|nologin-b|nologin-c|' "$T/other.conf"
NHI_CONF=$T/other.conf looked svc-a
eqv "another nhi.conf: read (its own nologin_shell)" "0 /sbin/nologin-c" "$rc $(shell)"
check "that file was opened" grep -q "openat(.*\"$T/other.conf\"" "$T/st"

# nhi.conf gone: the defaults; recorded as missing by the next publish
sleep 0.2
expect 0 "publish (nhi.conf as it is)" nhictl publish
mv "$NHI_CONF" "$T/away.conf"
looked svc-a
eqv "nhi.conf gone: the default nologin_shell" "0 /usr/sbin/nologin" "$rc $(shell)"
fails publish 1 "publish with NHI_CONF naming no file: refused" "no such file" nhictl publish
# a host without nhi.conf: nhictl and the module without NHI_CONF, the
# built-in path absent (nhictl's state_dir is then the built-in one)
conf_path=$NHI_CONF; unset NHI_CONF
expect 0 "publish without nhi.conf" nhictl publish
looked svc-a
eqv "recorded as missing: the defaults, nothing opened" "0 /usr/sbin/nologin 0" "$rc $(shell) $(opened)"
check "the module looked at the built-in path" grep -q "stat.*\"$NHI_BUILTIN_CONF\"" "$T/st"
export NHI_CONF=$conf_path
mv "$T/away.conf" "$NHI_CONF"
looked svc-a
eqv "nhi.conf back: read" "0 /sbin/nologin-b 1" "$rc $(shell) $(opened)"

# the base's delta mark (docs/snapshot-format.md, Deltas): after a full
# publication the empty delta beside the base is not even opened; a
# change published as a delta marks the base first, and is read
delta_opened() { grep -c "openat(.*\"$DEF/nhi.cache.delta\"" "$T/st"; }
stale_word() { python3 -c 'import struct,sys; print(struct.unpack_from("=I", open(sys.argv[1],"rb").read(), 20)[0])' "$DEF/nhi.cache"; }
sleep 0.2
expect 0 "publish (a fresh base)" nhictl publish
check "its empty delta is there" test -f "$DEF/nhi.cache.delta"
looked svc-a
eqv "a fresh base: unmarked, its delta not opened" "0 0 0" "$rc $(stale_word) $(delta_opened)"
expect 0 "create svc-b (published as a delta)" nhictl create svc-b --owner alice --expires +30d
looked svc-b
eqv "after the delta: the base marked (2), the delta opened, svc-b found" "0 2 1 svc-b" \
	"$rc $(stale_word) $(delta_opened) $(cut -d: -f1 "$T/out")"
finish

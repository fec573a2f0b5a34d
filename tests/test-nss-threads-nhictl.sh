#!/bin/bash
# 8 threads look identities up through glibc and libnss_nhi.so.2 while the
# real nhictl republishes the snapshot, suspending and resuming identities
# between publishes: no wrong answer, no crash.
. "$top_srcdir/tests/common.sh"
[ -x "$NHICTL" ] || { echo "nhictl not built"; exit 77; }
READER=$top_builddir/tests/test-nss-threads
[ -x "$READER" ] || { echo "no $READER"; exit 99; }

for i in $(seq -w 1 20); do
	nhictl create "svc-th$i" --owner alice --expires +30d --purpose "thread test $i" >/dev/null ||
		{ echo "nhictl create failed"; exit 99; }
done
check "20 identities published" test "$(nsswrap getent passwd | grep -c '^svc-th')" -eq 20

# the readers run 8 s; the sanitizer build's nhictl is several times
# slower (a suspend also scans /proc), so it gets 20 s for its republishes
secs=8
[ -z "${NHI_ASAN_LIB:-}" ] || secs=20
"$READER" --readers $secs > "$T/reader.out" 2>&1 &
rpid=$!
at_exit "kill $rpid 2>/dev/null"
n=0
# republish for as long as the readers run (they stop by themselves after a
# few seconds); a sanitizer build republishes fewer times in that window
end=$((SECONDS + 30))
while [ $SECONDS -lt $end ] && kill -0 $rpid 2>/dev/null; do
	k=$(( (n % 20) + 1 )); k=$(printf %02d $k)
	nhictl suspend "svc-th$k" >/dev/null || break
	nhictl resume "svc-th$k" >/dev/null || break
	nhictl publish >/dev/null || break
	n=$((n + 3))
done
wait $rpid; rc=$?
sed 's/^/#   /' "$T/reader.out"
check "nhictl republished $n times meanwhile" test $n -ge 10
check "readers: no wrong answer, no crash (exit $rc)" test $rc -eq 0
finish

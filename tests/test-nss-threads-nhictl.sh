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

# the readers run until nhictl has republished 12 times (a count, not a
# time: on a loaded machine or a sanitizer build each round is slower),
# at most 300 s
"$READER" --readers 300 "$T/stop" > "$T/reader.out" 2>&1 &
rpid=$!
at_exit "kill $rpid 2>/dev/null"
n=0
while [ $n -lt 12 ] && kill -0 $rpid 2>/dev/null; do
	k=$(( (n % 20) + 1 )); k=$(printf %02d $k)
	nhictl suspend "svc-th$k" >/dev/null || break
	nhictl resume "svc-th$k" >/dev/null || break
	nhictl publish >/dev/null || break
	n=$((n + 3))
done
touch "$T/stop"
wait $rpid; rc=$?
sed 's/^/#   /' "$T/reader.out"
check "nhictl republished $n times while the readers ran" test $n -ge 12
check "readers: no wrong answer, no crash (exit $rc)" test $rc -eq 0
finish

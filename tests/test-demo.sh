#!/bin/bash
# The README's Quick start: scripts/demo.sh, run on the build under test
# (NHI_DEMO_BUILD: no installs, no build of its own), walks through every
# step it promises, and checks each one itself: it must end with exit 0,
# and what it shows must be what the README says it shows.  Root (the
# demo's nhictl writes its state as root); nothing of the host's /etc is
# read or changed (nss_wrapper, pam_wrapper).
. "$top_srcdir/tests/common.sh"

[ "$(id -u)" = 0 ] || { echo "# skip: needs root"; exit 77; }
[ -z "${NHI_ASAN_LIB:-}" ] || { echo "# skip: sanitizer build (getent and pamtester are not instrumented)"; exit 77; }
command -v pamtester >/dev/null || { echo "# skip: no pamtester"; exit 77; }
for l in libnss_wrapper.so libpam_wrapper.so; do
	ldconfig -p | grep -q "$l" || { echo "# skip: no $l"; exit 77; }
done

out=$T/demo.out
check_demo "$out" demo.sh NHI_DEMO_BUILD="$top_builddir"
check "getent shows the identity through nss_nhi" grep -q '^svc-backup:x:2[0-9]*:2[0-9]*:' "$out"
check "id shows it" grep -q '^uid=2[0-9]*(svc-backup) gid=2[0-9]*(svc-backup)' "$out"
check "once expired, it keeps its entry with the nologin shell" \
	grep -q '^svc-backup:x:.*:/usr/sbin/nologin$' "$out"
check "the audit log verifies" grep -q '^audit log intact: 2 events, hash chain verified' "$out"
D=$(sed -n 's/.*nothing outside \(.*\) was changed.*/\1/p' "$out" | sed 's/\x1b\[[0-9;]*m//g')
check "it left nothing behind" bash -c "[ -n '$D' ] && [ ! -e '$D' ]"
finish

#!/bin/bash
# The README's directory walkthrough: scripts/demo-ldap.sh, run on the
# build under test (NHI_BUILD), starts its own throwaway slapd, walks
# through the joiner-mover-leaver story across two hosts and checks every
# step itself: it must end with exit 0, having shown what the README says.
. "$top_srcdir/tests/common.sh"

[ "$(id -u)" = 0 ] || { echo "# skip: needs root"; exit 77; }
[ -z "${NHI_ASAN_LIB:-}" ] || { echo "# skip: sanitizer build (getent and pamtester are not instrumented)"; exit 77; }
command -v slapd >/dev/null || [ -x /usr/sbin/slapd ] || { echo "# skip: no slapd"; exit 77; }
command -v pamtester >/dev/null || { echo "# skip: no pamtester"; exit 77; }

out=$T/demo.out
check_demo "$out" demo-ldap.sh NHI_BUILD="$top_builddir"
check "host1's identity is in the directory" grep -q '^dn: uid=svc-report,' "$out"
check "host2 serves it through nss_nhi" grep -q '^svc-report:x:2[0-9]*:2[0-9]*:weekly reports:' "$out"
check "the owner's lock orphans it in the directory" grep -q '^nhiState: orphaned' "$out"
check "PAM on host2 denies the orphan" grep -q '^identity svc-report has no live owner' "$out"
check "with the directory stopped, the sync says so" grep -q 'sync: directory unreachable' "$out"
D=$(sed -n 's/.*both hosts. state lived in \(.*\) and are gone.*/\1/p' "$out" | sed 's/\x1b\[[0-9;]*m//g')
check "it left nothing behind" bash -c "[ -n '$D' ] && [ ! -e '$D' ]"
finish

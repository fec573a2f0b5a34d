#!/bin/bash
# A real login program through the whole system, privately: in a mount
# namespace of its own (unshare -m), /etc/pam.d/su, /etc/nsswitch.conf and
# /etc/ld.so.cache are bind-mounted with test versions, so util-linux su
# resolves identities through the built libnss_nhi.so.2 and runs the built
# pam_nhi.so.  The host's /etc is never changed.  Root only.
. "$top_srcdir/tests/common.sh"

[ "$(id -u)" = 0 ] || { echo "# skip: needs root"; exit 77; }
[ -z "${NHI_ASAN_LIB:-}" ] || { echo "# skip: sanitizer build (su is not instrumented)"; exit 77; }
command -v unshare >/dev/null && [ -x /usr/bin/su ] || { echo "# skip: no unshare or su"; exit 77; }
MKSNAP=$top_builddir/tests/mksnap
[ -x "$MKSNAP" ] || { echo "# skip: $MKSNAP not built"; exit 77; }
[ -f "$NSS_NHI_DIR/libnss_nhi.so.2" ] || { echo "# skip: libnss_nhi.so.2 not built"; exit 77; }
unshare -m --propagation private true 2>/dev/null || { echo "# skip: unshare -m not permitted"; exit 77; }

"$MKSNAP" "$T/state/nhi.cache" <<D || { echo "not ok - mksnap"; exit 1; }
ident svc-ok:2000001:2000001:ok:/:/bin/sh:active:+200d:alice
ident svc-old:2000002:2000002:old:/:/bin/sh:active:-1d:alice
ident svc-susp:2000003:2000003:susp:/:/bin/sh:suspended:+200d:alice
ident svc-shadowed:2000004:2000004:shadowed:/:/bin/sh:active:+200d:alice
D
# a local account of a registered name, before nhi in nsswitch.conf
# (useradd while the snapshot was unreadable, a line added by hand)
{ cat /etc/passwd; echo "svc-shadowed:x:3999:3999:local:/:/bin/sh"; } > "$T/passwd"
mkdir -p "$T/pam.d"
cat > "$T/pam.d/su" <<S
auth     sufficient pam_rootok.so
auth     required   pam_deny.so
account  required   $PAM_NHI_SO config=$NHI_CONF
account  required   pam_permit.so
session  optional   $PAM_NHI_SO config=$NHI_CONF
session  required   pam_permit.so
S
real_nss_files || { echo "not ok - ldconfig"; exit 1; }

# the whole scenario runs in one private mount namespace
cat > "$T/inside.sh" <<'I'
set -u
mount --bind "$T/pam.d/su" /etc/pam.d/su
mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
mount --bind "$T/ld.so.cache" /etc/ld.so.cache
mount --bind "$T/passwd" /etc/passwd
try() {  # try USER: su to USER and run id -un; output in $T/su.USER
	NHI_CONF=$NHI_CONF timeout 20 su -s /bin/sh "$1" -c 'id -un' > "$T/su.$1" 2>&1 </dev/null
	echo "$?" >> "$T/su.$1"
}
getent passwd svc-ok > "$T/getent" 2>&1
try svc-ok; try svc-old; try svc-susp; try svc-shadowed; try root
I
T=$T NHI_CONF=$NHI_CONF unshare -m --propagation private bash "$T/inside.sh"

check "svc-ok resolves through nss_nhi" grep -q "^svc-ok:x:2000001:2000001:" "$T/getent"
check "su svc-ok allowed" grep -qx "svc-ok" "$T/su.svc-ok"
check "su svc-ok exit 0" bash -c "tail -1 '$T/su.svc-ok' | grep -qx 0"
check "su svc-old denied: expired" grep -qi "expired" "$T/su.svc-old"
check "su svc-old exit 1" bash -c "tail -1 '$T/su.svc-old' | grep -qx 1"
check "su svc-old told why" grep -q "identity svc-old expired on" "$T/su.svc-old"
check "su svc-susp denied" grep -q "Permission denied" "$T/su.svc-susp"
check "su svc-susp told why" grep -q "identity svc-susp is suspended" "$T/su.svc-susp"
check "su svc-shadowed denied: the local uid 3999 is not the identity's" grep -q "Permission denied" "$T/su.svc-shadowed"
check "su svc-shadowed told why" grep -q "svc-shadowed is registered with uid 2000004, but this system resolves it to uid 3999" "$T/su.svc-shadowed"
check "su svc-shadowed exit 1" bash -c "tail -1 '$T/su.svc-shadowed' | grep -qx 1"
check "su root ignored by pam_nhi" grep -qx "root" "$T/su.root"
check "usage recorded for svc-ok (su names its caller, root, as RUSER)" grep -Eq "^[0-9]+ svc-ok su testhost - ruser=root( |$)" "$T/state/usage.log"
cat "$T/state/usage.log" | sed "s/^/# usage: /"
check "no usage for root" bash -c "! grep -q ' root ' '$T/state/usage.log'"
check "host untouched: /etc/pam.d/su" bash -c "! grep -q pam_nhi /etc/pam.d/su"
for f in su.svc-ok su.svc-old su.svc-susp su.svc-shadowed su.root getent; do sed "s/^/# $f: /" "$T/$f"; done
finish

#!/bin/bash
# Real getent and id with libnss_nhi.so.2: through nss_wrapper (files = the
# test world of common.sh, then nhi), and, as root, through glibc itself
# in a private mount namespace with a test nsswitch.conf (shadow too).
# The host's /etc is never changed.
. "$top_srcdir/tests/common.sh"

MKSNAP=$top_builddir/tests/mksnap
[ -x "$MKSNAP" ] || { echo "no $MKSNAP"; exit 99; }
command -v getent >/dev/null || exit 77
[ -f /usr/lib/x86_64-linux-gnu/libnss_wrapper.so ] || ldconfig -p | grep -q libnss_wrapper.so || {
	echo "nss_wrapper not installed"; exit 77; }

CACHE=$T/state/nhi.cache
"$MKSNAP" "$CACHE" <<'D' || { echo "mksnap failed"; exit 99; }
ident svc-web:3001:3001:Web service:/srv/web:/bin/bash:active:+30d
ident svc-susp:3002:3002:Suspended:/srv/susp:/bin/bash:suspended:+30d
ident svc-exp:3003:3003:Expired:/srv/exp:/bin/bash:active:-1h
ident svc-gone:3004:3004:Retired:/srv/gone:/bin/bash:retired:+30d
ident agent-x:3005:3005:An agent:/srv/agent:/bin/sh:active:+30d:alice:agent
group svc-readers:3100:svc-web,svc-gone,agent-x,dave
D

out() { nsswrap "$@" 2>&1; }
withconf() { local c=$1; shift; NHI_CONF=$c nsswrap "$@"; }
eq() { # eq DESC EXPECTED COMMAND...
	local d=$1 want=$2; shift 2
	local got; got=$("$@" 2>&1)
	if [ "$got" = "$want" ]; then ok "$d"; else nok "$d"; echo "#   want: $want"; echo "#   got:  $got"; fi
}

eq "getent passwd NAME" "svc-web:x:3001:3001:Web service:/srv/web:/bin/bash" \
	nsswrap getent passwd svc-web
eq "getent passwd UID" "agent-x:x:3005:3005:An agent:/srv/agent:/bin/sh" \
	nsswrap getent passwd 3005
eq "suspended keeps its entry, nologin shell" \
	"svc-susp:x:3002:3002:Suspended:/srv/susp:/usr/sbin/nologin" nsswrap getent passwd svc-susp
eq "expired keeps its entry, nologin shell" \
	"svc-exp:x:3003:3003:Expired:/srv/exp:/usr/sbin/nologin" nsswrap getent passwd svc-exp
nsswrap getent passwd svc-gone >/dev/null; rc=$?
check "retired identity vanishes (getent exit $rc)" test $rc -eq 2
nsswrap getent passwd 3004 >/dev/null; rc=$?
check "retired uid vanishes (getent exit $rc)" test $rc -eq 2
eq "files entries still answer" "alice:x:1000:1000:Alice Admin:/home/alice:/bin/bash" \
	nsswrap getent passwd alice
eq "getent group NAME (own group)" "svc-web:x:3001:" nsswrap getent group svc-web
eq "getent group GID (registry group, retired member hidden)" \
	"svc-readers:x:3100:svc-web,agent-x,dave" nsswrap getent group 3100

pw=$(out getent passwd | cut -d: -f1 | tr '\n' ' ')
eq "getent passwd enumerates files then nhi, no retired" \
	"root alice bob carol dave legacy-svc agent-x svc-exp svc-susp svc-web " echo "$pw"
gr=$(out getent group | cut -d: -f1 | tr '\n' ' ')
case " $gr " in
*" svc-readers "*) case " $gr " in *" svc-web "*) ok "getent group enumerates nhi groups";;
	*) nok "getent group enumerates nhi groups ($gr)";; esac;;
*) nok "getent group enumerates nhi groups ($gr)";;
esac
case " $gr " in *" svc-gone "*) nok "no group for a retired identity";; *) ok "no group for a retired identity";; esac

eq "id NAME (initgroups through nhi)" \
	"uid=3001(svc-web) gid=3001(svc-web) groups=3001(svc-web),3100(svc-readers)" nsswrap id svc-web
eq "id of a human in a registry group" \
	"uid=1003(dave) gid=1003(dave) groups=1003(dave),1500(svcusers),3100(svc-readers)" nsswrap id dave
nsswrap id svc-gone >/dev/null 2>&1; rc=$?
check "id of a retired identity fails" test $rc -ne 0

# enumerate = no: lookups work, enumeration lists only the files entries
cp "$NHI_CONF" "$T/etc/noenum.conf"
echo "enumerate = no" >> "$T/etc/noenum.conf"
eq "enumerate=no: lookup still works" "svc-web:x:3001:3001:Web service:/srv/web:/bin/bash" \
	withconf "$T/etc/noenum.conf" getent passwd svc-web
n=$(NHI_CONF="$T/etc/noenum.conf" nsswrap getent passwd | wc -l)
check "enumerate=no: getent passwd lists only files ($n lines)" test "$n" -eq 6

# a bad config: the identities do not vanish (the good state_dir line
# counts), no crash
printf 'state_dir = %s\nno_such_key = 1\n' "$T/state" > "$T/etc/bad.conf"
eq "bad config: still served" "svc-web:x:3001:3001:Web service:/srv/web:/bin/bash" \
	withconf "$T/etc/bad.conf" getent passwd svc-web
NHI_CONF="$T/etc/bad.conf" nsswrap getent passwd >/dev/null 2>&1; rc=$?
check "bad config: enumeration does not crash (exit $rc)" test $rc -eq 0

# no snapshot: not found, no crash
mv "$CACHE" "$CACHE.away"
nsswrap getent passwd svc-web >/dev/null 2>&1; rc=$?
check "no snapshot: not found (exit $rc)" test $rc -eq 2
eq "no snapshot: files still answer" "alice:x:1000:1000:Alice Admin:/home/alice:/bin/bash" \
	nsswrap getent passwd alice
mv "$CACHE.away" "$CACHE"

# a snapshot, or a configuration, below a directory others may write to
# (as OpenSSH's safe_path: group-writable, or sticky like /tmp) is not
# trusted: not found (an untrusted configuration gives the defaults)
mkdir -p "$T/shared/s" && cp "$CACHE" "$T/shared/s/nhi.cache"
printf 'cache_path = %s\n' "$T/shared/s/nhi.cache" >"$T/shared/s/nhi.conf"
printf 'cache_path = %s\n' "$T/shared/s/nhi.cache" >"$T/etc/shared.conf"
eq "snapshot below safe directories: served" "svc-web:x:3001:3001:Web service:/srv/web:/bin/bash" \
	withconf "$T/etc/shared.conf" getent passwd svc-web
# a group-writable directory, and a sticky one that is not root's: not
# trusted; a sticky one of root's (as /tmp) is, since only root and an
# entry's owner may rename the (root's) entry below it
for m in 775 s1777; do
	chmod ${m#s} "$T/shared"
	[ "$m" = s1777 ] && chown 65534 "$T/shared"
	withconf "$T/etc/shared.conf" getent passwd svc-web >/dev/null 2>&1; rc=$?
	check "snapshot below a mode $m directory: not trusted (exit $rc)" test $rc -eq 2
	eq "snapshot below a mode $m directory: files still answer" \
		"alice:x:1000:1000:Alice Admin:/home/alice:/bin/bash" \
		withconf "$T/etc/shared.conf" getent passwd alice
	chown 0 "$T/shared"
done
chmod 1777 "$T/shared"
eq "snapshot below a sticky directory of root's (as /tmp): served" \
	"svc-web:x:3001:3001:Web service:/srv/web:/bin/bash" withconf "$T/etc/shared.conf" getent passwd svc-web
chmod 755 "$T/shared"
eq "configuration below safe directories: read" "svc-web:x:3001:3001:Web service:/srv/web:/bin/bash" \
	withconf "$T/shared/s/nhi.conf" getent passwd svc-web
chmod 775 "$T/shared"
withconf "$T/shared/s/nhi.conf" getent passwd svc-web >/dev/null 2>&1; rc=$?
check "configuration below a group-writable directory: not read (exit $rc)" test $rc -eq 2
chmod 755 "$T/shared"

# Through glibc itself (no wrapper), in a private mount namespace: a test
# nsswitch.conf bind-mounted over /etc/nsswitch.conf for this namespace
# only; LD_LIBRARY_PATH finds the module (getent and id are not setuid).
if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
	cat > "$T/etc/nsswitch.conf" <<N
passwd: files nhi
group: files nhi
shadow: files nhi
gshadow: files nhi
N
	cat > "$T/ns.sh" <<'S'
set -e
mount --bind "$T/etc/nsswitch.conf" /etc/nsswitch.conf
export LD_LIBRARY_PATH=$NSS_NHI_DIR
echo "passwd=$(getent passwd svc-web)"
echo "uid=$(getent passwd 3002)"
echo "shadow=$(getent shadow svc-web)"
echo "shadowexp=$(getent shadow svc-exp)"
echo "group=$(getent group svc-readers)"
echo "gshadow=$(getent gshadow svc-readers)"
echo "gshadowgone=$(getent gshadow svc-gone; echo rc=$?)"
echo "id=$(id svc-web)"
echo "nobody=$(setpriv --reuid=65534 --regid=65534 --clear-groups getent shadow svc-web; echo rc=$?)"
echo "nobodypw=$(setpriv --reuid=65534 --regid=65534 --clear-groups getent passwd svc-web)"
S
	res=$(unshare -m --propagation private env T="$T" NSS_NHI_DIR="$NSS_NHI_DIR" \
		LD_PRELOAD="${NHI_ASAN_LIB:-}" bash "$T/ns.sh" 2>&1)
	echo "$res" | sed 's/^/#   /'
	line() { echo "$res" | sed -n "s/^$1=//p"; }
	eq "glibc: getent passwd" "svc-web:x:3001:3001:Web service:/srv/web:/bin/bash" line passwd
	eq "glibc: getent passwd UID" "svc-susp:x:3002:3002:Suspended:/srv/susp:/usr/sbin/nologin" line uid
	today=$(( $(date +%s) / 86400 ))
	# not yet expired: the first day it is expired all day (rounded up)
	exp=$(( ( $(date +%s) + 30*86400 + 86399 ) / 86400 ))
	lst=$(( ( $(date +%s) - 86400 ) / 86400 ))
	eq "glibc: getent shadow (root; sp_expire)" "svc-web:*:$lst:::::$exp:" line shadow
	got=$(line shadowexp)
	se=$(echo "$got" | cut -d: -f8)
	check "glibc: expired identity locked ($got)" test "x$(echo "$got" | cut -d: -f2)" = "x!"
	check "glibc: expired identity has sp_expire <= today ($se <= $today)" test "${se:-99999999}" -le "$today"
	eq "glibc: getent group" "svc-readers:x:3100:svc-web,agent-x,dave" line group
	eq "glibc: getent gshadow (no group password, the visible members)" \
		"svc-readers:!::svc-web,agent-x,dave" line gshadow
	eq "glibc: getent gshadow: a retired identity's group is not there" "rc=2" line gshadowgone
	eq "glibc: id NAME" "uid=3001(svc-web) gid=3001(svc-web) groups=3001(svc-web),3100(svc-readers)" line id
	eq "glibc: shadow refused to non-root" "rc=2" line nobody
	eq "glibc: passwd answers non-root users" "svc-web:x:3001:3001:Web service:/srv/web:/bin/bash" line nobodypw
else
	echo "# not root or no unshare: skipping the glibc/shadow part"
fi

# A snapshot published by the real nhictl, when it is built.
if [ -x "$NHICTL" ] && nhictl create svc-real --owner alice --expires +30d --purpose "nss test" \
	>/dev/null 2>"$T/nhictl.err"; then
	got=$(nsswrap getent passwd svc-real)
	check "nhictl create: visible through nss_nhi ($got)" test -n "$got"
	uid=$(echo "$got" | cut -d: -f3)
	eq "nhictl create: by uid" "$got" nsswrap getent passwd "$uid"
	if nhictl suspend svc-real >/dev/null 2>&1; then
		eq "nhictl suspend: nologin shell" "/usr/sbin/nologin" \
			sh -c "LD_PRELOAD=$(nss_preload) NSS_WRAPPER_PASSWD=$T/etc/passwd NSS_WRAPPER_GROUP=$T/etc/group NSS_WRAPPER_MODULE_SO_PATH=$NSS_NHI_DIR/libnss_nhi.so.2 NSS_WRAPPER_MODULE_FN_PREFIX=nhi getent passwd svc-real | cut -d: -f7"
	fi
	if nhictl retire svc-real >/dev/null 2>&1; then
		nsswrap getent passwd svc-real >/dev/null; rc=$?
		check "nhictl retire: gone (exit $rc)" test $rc -eq 2
	fi
else
	echo "# nhictl not available (or create failed: $(head -c 200 "$T/nhictl.err" 2>/dev/null)); mksnap only"
fi
finish

#!/bin/bash
# libnss_nhi.so.2 exports only _nss_nhi_* entry points (and links only libc).
. "$top_srcdir/tests/common.sh"
so=$NSS_NHI_DIR/libnss_nhi.so.2
[ -f "$so" ] || { echo "no $so"; exit 99; }
# defined dynamic symbols, minus the version node itself (type A)
syms=$(nm -D --defined-only "$so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }')
bad=$(printf '%s\n' "$syms" | grep -v '^_nss_nhi_' || true)
check "only _nss_nhi_* exported${bad:+ (also: $(echo $bad))}" test -z "$bad"
for f in getpwnam_r getpwuid_r setpwent getpwent_r endpwent \
	 getgrnam_r getgrgid_r setgrent getgrent_r endgrent \
	 getspnam_r setspent getspent_r endspent initgroups_dyn \
	 getsgnam_r setsgent getsgent_r endsgent; do
	check "exports _nss_nhi_$f" grep -qx "_nss_nhi_$f" <<<"$syms"
done
# nothing that answers by the calling program's locale (<ctype.h>,
# strcasecmp, scanf, strto*): names, config words and files are ASCII
# (lib/nhi_ascii.h), whatever setlocale() the program made
imp=$(nm -D --undefined-only "$so" | awk '{ sub(/@.*/, "", $2); print $2 }')
bad=$(grep -xE '__ctype_.*|(str|strn)casecmp|__isoc99_.*scanf|.*scanf|strto.*|tolower|toupper' <<<"$imp" || true)
check "imports nothing locale-dependent${bad:+ (imports: $(echo $bad))}" test -z "$bad"
# (a sanitizer build also needs its runtimes)
needed=$(objdump -p "$so" | awk '$1 == "NEEDED" && $2 !~ /^lib(a|ub|t|l)san\./ { print $2 }')
check "links only libc (NEEDED: $(echo $needed))" test "$(echo $needed)" = "libc.so.6"
check "soname is libnss_nhi.so.2" sh -c "objdump -p '$so' | grep -q 'SONAME *libnss_nhi.so.2'"
finish

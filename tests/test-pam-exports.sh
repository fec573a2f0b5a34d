#!/bin/bash
# pam_nhi.so exports the pam_sm_* entry points and nothing else, and links
# no LDAP, TLS or SQLite library (docs/design.md: modules are libc + libpam only).
set -u
: "${PAM_NHI_SO:?run through make check}"
[ -f "$PAM_NHI_SO" ] || { echo "not ok - $PAM_NHI_SO not built"; exit 1; }
command -v nm >/dev/null || { echo "# skip: no nm"; exit 77; }
fail=0
syms=$(nm -D --defined-only "$PAM_NHI_SO" | awk '$2 ~ /^[TDBRVWi]$/ {print $3}' | sed 's/@.*//' | sort -u)
echo "# exported: $(echo $syms)"
for s in $syms; do
	case $s in
	pam_sm_*) ;;
	*) echo "not ok - unexpected export: $s"; fail=1 ;;
	esac
done
for s in pam_sm_acct_mgmt pam_sm_open_session pam_sm_close_session pam_sm_chauthtok \
	 pam_sm_authenticate pam_sm_setcred; do
	echo "$syms" | grep -qx "$s" || { echo "not ok - missing export: $s"; fail=1; }
done
# no undefined nhi_* symbols (libnhi is linked in, hidden)
if nm -D --undefined-only "$PAM_NHI_SO" | grep -q ' nhi_'; then
	echo "not ok - undefined nhi_ symbols"; fail=1
fi
if command -v readelf >/dev/null; then
	needed=$(readelf -d "$PAM_NHI_SO" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
	echo "# needed: $(echo $needed)"
	for n in $needed; do
		case $n in
		libldap*|liblber*|libssl*|libcrypto*|libsqlite*|libgnutls*)
			echo "not ok - links $n"; fail=1 ;;
		esac
	done
fi
[ $fail -eq 0 ] && echo "ok - pam_nhi.so exports only pam_sm_*"
exit $fail

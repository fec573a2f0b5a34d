#!/bin/bash
# What the packages do with a host's data and what they ship: the Debian
# postrm, run as dpkg runs it on purge (against a throwaway root through
# DPKG_ROOT), removes only what nhictl derives and keeps the registry,
# its audit log and registry.state, saying where; the packages ship the
# README and the audit timer beside the sync timer.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
postrm=$top_srcdir/debian/nhictl.postrm

# a host's state as nhictl leaves it: a real registry, snapshot and state
R=$T/root; S=$R/var/lib/nhi
mkdir -p "$S" "$R/etc/nhi"
printf 'state_dir = %s\n' "$S" >"$T/etc/root.conf"
expect 0 "a registry with an identity" nhictl -c "$T/etc/root.conf" create svc-a --owner alice --expires +9d
keep="registry.db registry.state"
for f in $keep nhi.cache authorized_keys.idx registered.uids; do check "$f exists before the purge" test -e "$S/$f"; done
sum=$(md5sum <"$S/registry.db")

for a in remove upgrade failed-upgrade abort-install disappear; do
	DPKG_ROOT=$R nrun sh "$postrm" "$a"
	eqv "postrm $a: exit 0, nothing touched" "0 $keep" \
		"$rc $(cd "$S" && ls registry.db registry.state | xargs)"
done
check "postrm remove keeps the snapshot" test -e "$S/nhi.cache"
DPKG_ROOT=$R nrun sh "$postrm" purge
eqv "postrm purge: exit 0" 0 "$rc"
for f in $keep; do check "purge keeps $f" test -e "$S/$f"; done
eqv "the registry is unchanged" "$sum" "$(md5sum <"$S/registry.db")"
for f in nhi.cache nhi.cache.delta nhi.cache.lock authorized_keys.idx registered.uids; do
	check "purge removes the derived $f" test ! -e "$S/$f"
done
has err "purge says where the registry stays" \
	"^nhictl: the registry and its audit log stay in /var/lib/nhi \(.*registry.db.*registry.state.*\): back them up or remove them by hand"
check "the empty /etc/nhi is removed" test ! -e "$R/etc/nhi"
# with nothing of value left, the state directory goes
rm -f "$S"/*
DPKG_ROOT=$R nrun sh "$postrm" purge
eqv "purge of an empty state dir: removed, silently" "0 " "$rc $(cat "$T/err")"
check "/var/lib/nhi removed" test ! -e "$S"

# what the packages ship
check "debian: nhictl.docs ships the README" grep -qx README.md "$top_srcdir/debian/nhictl.docs"
for u in nhi-audit.service nhi-audit.timer; do
	check "debian: nhictl.install has $u" grep -qx "lib/systemd/system/$u" "$top_srcdir/debian/nhictl.install"
	check "rpm: %files has $u" grep -qx "%{_unitdir}/$u" "$top_srcdir/rpm/nhi.spec"
done
check "debian: the audit timer is enabled like the sync timer" \
	grep -q 'dh_installsystemd -pnhictl nhi-audit.timer' "$top_srcdir/debian/rules"
check "rpm: %doc README.md" grep -qx '%doc README.md' "$top_srcdir/rpm/nhi.spec"
check "rpm: the audit timer is preset, stopped and restarted with the sync timer" \
	test "$(grep -c 'nhi-sync.timer nhi-audit.timer' "$top_srcdir/rpm/nhi.spec")" -ge 3
check "rpm: %postun says where the registry stays" grep -q 'registry and its audit log stay in' "$top_srcdir/rpm/nhi.spec"
check "rpm: nothing deletes the state directory" bash -c "! grep -Eq 'rm .*(sharedstatedir|/var/lib)/nhi' '$top_srcdir/rpm/nhi.spec'"
finish

#!/bin/bash
# Build the Debian and RPM packages from a distribution tarball and check
# the .debs with lintian.  Usage: scripts/packages.sh TARBALL OUTDIR
# Prints one "ok"/"not ok" line per step; exits non-zero on any failure.
set -u
tarball=$(readlink -f "$1"); out=$(readlink -f "${2:-pkg-out}")
rm -rf "$out"; mkdir -p "$out"
ver=$(basename "$tarball" .tar.gz); ver=${ver#nhi-}
fail=0
step() { local d=$1; shift; if "$@" >"$out/$(echo "$d" | tr ' /' '__').log" 2>&1; then echo "ok - $d"; else echo "not ok - $d"; tail -n 30 "$out/$(echo "$d" | tr ' /' '__').log"; fail=1; fi; }

# Debian: unpack the tarball (it carries debian/) and build binary packages
debbuild() {
	cd "$out" && tar xzf "$tarball" && cd "nhi-$ver" &&
	DEB_BUILD_OPTIONS=parallel=$(nproc) dpkg-buildpackage -us -uc -b
}
step "dpkg-buildpackage" debbuild
lint() {
	local debs; debs=$(ls "$out"/*.deb) || return 1
	# errors fail the step; warnings are shown
	lintian --fail-on error --suppress-tags bad-distribution-in-changes-file $debs
}
step "lintian (no errors)" lint
contents() {
	local d
	for d in "$out"/*.deb; do dpkg-deb -c "$d" | sed "s|^|$(basename "$d") |"; done >"$out/contents.txt"
	grep -q '^libnss-nhi_.*libnss_nhi.so.2' "$out/contents.txt" &&
	grep -q '^libpam-nhi_.*security/pam_nhi.so' "$out/contents.txt" &&
	grep -q '^libpam-nhi_.*usr/share/pam-configs/nhi' "$out/contents.txt" &&
	grep -q '^nhictl_.*usr/sbin/nhictl' "$out/contents.txt" &&
	grep -q '^nhictl_.*man8/nhictl.8' "$out/contents.txt" &&
	grep -q '^nhictl_.*lib/systemd/system/nhi-sync.timer' "$out/contents.txt" &&
	grep -q '^nhictl_.*lib/systemd/system/nhi-sync.service' "$out/contents.txt" &&
	grep -q '^nhictl_.*lib/systemd/system/nhi-audit.timer' "$out/contents.txt" &&
	grep -q '^nhictl_.*lib/systemd/system/nhi-audit.service' "$out/contents.txt" &&
	grep -q '^nhictl_.*usr/share/doc/nhictl/README.md' "$out/contents.txt" &&
	! grep -q '\.la$' "$out/contents.txt"
}
step "packages hold the right files and no .la" contents
# the installed nhictl has no test hook (docs/crash-points.md)
nohooks() {
	rm -rf "$out/nhictl-deb" && dpkg-deb -x "$out"/nhictl_*.deb "$out/nhictl-deb" &&
	test -x "$out/nhictl-deb/usr/sbin/nhictl" &&
	! strings -a "$out/nhictl-deb/usr/sbin/nhictl" | grep -E 'NHI_TEST_|registry-committed|secret-handed-over'
}
step "the packaged nhictl has no test hook" nohooks

# RPM: rpmbuild from the same tarball (--nodeps: Debian's rpm database is empty)
rpmb() {
	mkdir -p "$out/rpm/SOURCES" && cp "$tarball" "$out/rpm/SOURCES/" &&
	rpmbuild --define "_topdir $out/rpm" --nodeps -tb "$tarball"
}
if command -v rpmbuild >/dev/null; then
	step "rpmbuild" rpmb
	rpms() { ls "$out"/rpm/RPMS/*/pam_nhi-*.rpm "$out"/rpm/RPMS/*/nss_nhi-*.rpm "$out"/rpm/RPMS/*/nhictl-*.rpm; }
	step "rpm subpackages pam_nhi nss_nhi nhictl" rpms
else
	echo "not ok - rpmbuild not installed"; fail=1
fi
exit $fail

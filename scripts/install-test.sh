#!/bin/bash
# Installation test (as root), in two throw-away copies of this machine --
# each an overlay of / on a tmpfs inside a private mount namespace:
#  1. dpkg: install the built .deb packages with dpkg -i, enable the modules
#     the way the docs say (pam-auth-update, nsswitch.conf), check real
#     getent, id and su, retire, remove the packages, purge (the registry
#     stays);
#  2. ansible: publish the same .debs as a local apt repository and roll
#     nhi out with ansible-playbook and the examples/ansible the package
#     ships (site.yml, nhi.yml), as a sysadmin would: a dry run, the
#     rollout, the same login checks, then a second run and a --check
#     --diff run that change nothing (about a minute: ansible-playbook
#     takes 5-12 s a run here).
# The host's own /etc is compared before and after.
# Usage: scripts/install-test.sh DEBDIR
set -u
debdir=$(readlink -f "${1:?usage: $0 DEBDIR}")
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
ls "$debdir"/nhictl_*.deb "$debdir"/libpam-nhi_*.deb "$debdir"/libnss-nhi_*.deb >/dev/null || exit 1

# what the test must not change on the host
fingerprint() {
	{ cat /etc/nsswitch.conf /etc/pam.d/* /etc/passwd /etc/group /etc/apt/sources.list.d/* 2>/dev/null
	  ls -la /etc/nhi /etc/apt/sources.list.d 2>&1
	  dpkg-query -W -f='${Package} ${Status} ${Version}\n' nhictl libpam-nhi libnss-nhi 2>&1; } | md5sum
}
before=$(fingerprint)
R=$(mktemp -d /tmp/nhi-install.XXXXXX)

# --- shared by both parts (sourced inside the overlay) ---
cat >"$R/lib.sh" <<'IN'
set -u
pass=0 fail=0 tag=""
ok() { pass=$((pass+1)); echo "ok - $tag$*"; }
nok() { fail=$((fail+1)); echo "not ok - $tag$*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
export DEBIAN_FRONTEND=noninteractive
deb_version() { dpkg-deb -f /tmp/debs/"$1"_*.deb Version; }
# The login checks: LIVE (registered, uid UID) works for getent, id and
# su; EXPIRED (registered, expired by now) is refused by su; an
# unregistered system account is refused; the human OWNER still logs in.
logins() {
	local live=$1 uid=$2 expired=$3 owner=$4
	check "getent passwd $live" sh -c "getent passwd $live | grep -q '^$live:x:$uid:'"
	check "id $live" sh -c "id $live | grep -q 'uid=$uid($live)'"
	check "su -s /bin/sh $live -c id works" sh -c "su -s /bin/sh $live -c id | grep -q 'uid=$uid'"
	check "su refused for the expired identity" sh -c "! su -s /bin/sh $expired -c id 2>/tmp/su.err"
	echo "# su said: $(cat /tmp/su.err)"
	getent passwd rogue-svc >/dev/null || useradd -r -u 990 -s /bin/sh rogue-svc
	check "su refused for an unregistered system account" sh -c '! su -s /bin/sh rogue-svc -c id 2>/dev/null'
	check "su still works for a human" sh -c "su -s /bin/sh $owner -c id | grep -q $owner"
}
summary() { echo "# $tag$pass passed, $fail failed"; [ $fail -eq 0 ]; }
IN

# --- part 1: dpkg -i, enable by hand ---
cat >"$R/dpkg.sh" <<'IN'
. /tmp/lib.sh
check "dpkg -i the three packages" sh -c "dpkg -i /tmp/debs/nhictl_*.deb /tmp/debs/libpam-nhi_*.deb /tmp/debs/libnss-nhi_*.deb >/tmp/dpkg.log 2>&1"
check "state dir /var/lib/nhi is 0755 root" test "$(stat -c %a:%U /var/lib/nhi)" = 755:root
check "pam-auth-update profile installed, not enabled by default" \
	sh -c '[ -f /usr/share/pam-configs/nhi ] && ! grep -q pam_nhi /etc/pam.d/common-account'
check "nsswitch.conf not edited by the package" sh -c '! grep -q nhi /etc/nsswitch.conf'
check "pam-auth-update --enable nhi" pam-auth-update --enable nhi
check "pam_nhi in common-account and common-session" \
	sh -c 'grep -q "pam_nhi.so" /etc/pam.d/common-account && grep -q "pam_nhi.so" /etc/pam.d/common-session'
sed -i -E 's/^(passwd|group|shadow):(.*)$/\1:\2 nhi/' /etc/nsswitch.conf
useradd -m -s /bin/bash alice-owner
check "nhictl create (owner a live local human)" \
	nhictl create svc-pkgtest --owner alice-owner --expires +1d --purpose "install test"
check "nhictl create an identity that expires in 2s" \
	nhictl create svc-expiring --owner alice-owner --expires +2s --purpose "install test"
sleep 3
logins svc-pkgtest 2000000 svc-expiring alice-owner
rm -f /var/lib/nhi/nhi.shadow
check "an upgrade (the same nhictl again) publishes: nhi.shadow is back" \
	sh -c "dpkg -i /tmp/debs/nhictl_*.deb >/tmp/dpkg.log 2>&1 && test -f /var/lib/nhi/nhi.shadow"
check "nhictl retire" nhictl retire svc-pkgtest
check "retired identity is gone" sh -c '! getent passwd svc-pkgtest'
check "the audit timer ships beside the sync timer" \
	test -f /lib/systemd/system/nhi-audit.timer -a -f /lib/systemd/system/nhi-audit.service
check "the README ships" sh -c 'ls /usr/share/doc/nhictl/README.md* >/dev/null'
check "dpkg -r removes the packages" sh -c "dpkg -r libpam-nhi libnss-nhi nhictl >/tmp/dpkg.log 2>&1"
check "pam_nhi gone from common-account after removal" sh -c '! grep -q pam_nhi /etc/pam.d/common-account'
check "dpkg --purge nhictl" sh -c "dpkg --purge nhictl >/tmp/purge.log 2>&1"
check "purge keeps the registry and registry.state" test -f /var/lib/nhi/registry.db -a -f /var/lib/nhi/registry.state
check "purge removes the snapshot" test ! -e /var/lib/nhi/nhi.cache
check "purge says where the registry stays" grep -q 'registry and its audit log stay in /var/lib/nhi' /tmp/purge.log
summary
IN

# --- part 2: a local apt repository and ansible-playbook ---
cat >"$R/ansible.sh" <<'IN'
. /tmp/lib.sh
tag="ansible: "
repo=/srv/nhi-repo
mkdir -p $repo && cp /tmp/debs/*.deb $repo/
check "dpkg-scanpackages indexes the built packages" \
	sh -c "cd $repo && dpkg-scanpackages --multiversion . >Packages 2>/tmp/scan.log && grep -q '^Package: nhictl$' Packages"
echo "deb [trusted=yes] file:$repo ./" >/etc/apt/sources.list.d/nhi.list
# only the new source: the lists of the others are the host's, fresh from
# scripts/deps.sh, and kept (List-Cleanup=0)
check "apt-get update fetches the local repository" \
	sh -c "apt-get update -o Dir::Etc::sourcelist=sources.list.d/nhi.list -o Dir::Etc::sourceparts=- \
		-o APT::Get::List-Cleanup=0 >/tmp/update.log 2>&1"
# apt would install the version just built, from the local repository
from_repo() {
	local v; v=$(deb_version "$1")
	apt-cache policy "$1" | grep -qx "  Candidate: $v" &&
	apt-cache madison "$1" | grep -Eq "^ *$1 \| +$v \| file:$repo "
}
for p in nhictl libpam-nhi libnss-nhi; do
	check "apt's candidate for $p is the built $(deb_version $p) from $repo" from_repo $p
done

# The site: examples/ansible as the nhictl package ships it (site.yml,
# nhi.yml, group_vars with mode = audit), and this host's own settings in
# host_vars, as an admin enforcing nhi on it would write them.
ex=usr/share/doc/nhictl/examples/ansible
check "the nhictl package ships examples/ansible (site.yml, nhi.yml, group_vars/all.yml)" \
	sh -c "mkdir /tmp/x && dpkg-deb -x /tmp/debs/nhictl_*.deb /tmp/x && cp -r /tmp/x/$ex /tmp/ansible &&
		cd /tmp/ansible && [ -f site.yml ] && [ -f nhi.yml ] && [ -f group_vars/all.yml ]"
cd /tmp/ansible || exit 1
mkdir -p host_vars
cat >host_vars/localhost.yml <<'VARS'
nhi_mode: enforce
nhi_review: warn
nhi_conf_extra:
  orphan_grace: 3d
  warn_before: 7d
nhi_identities:
  - { name: svc-backup, owner: alice-owner, expires: "+30d", purpose: "nightly backups" }
  - { name: svc-expiring, owner: alice-owner, expires: "+2s", purpose: "expires during the test" }
VARS
useradd -m -s /bin/bash alice-owner
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=0
play() {  # LOG ARGS...: run the playbook, print its recap and duration
	local log=$1 t0 rc ms; shift
	t0=$(date +%s%N)
	ansible-playbook -c local -i localhost, site.yml "$@" >"$log" 2>&1; rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "# ansible-playbook $*: $(grep -E '^localhost +:' "$log" | tr -s ' ') ($((ms / 1000)).$((ms % 1000 / 100)) s)"
	[ $rc -eq 0 ] || [ -n "${expect_failure:-}" ] || tail -n 30 "$log" | sed 's/^/#   /'
	return $rc
}
recap() { grep -Eq "^localhost +: ok=[0-9]+ +changed=$2 +unreachable=0 +failed=0 " "$1"; }
no_diff() { recap "$1" 0 && ! grep -Eq '^(---|\+\+\+) (before|after)' "$1"; }
shows() { recap "$1" 1 && grep -qx -- "$2" "$1"; }
changes() { grep -E '^localhost +:' "$1" | sed -E 's/.* changed=([0-9]+) .*/\1/'; }
fails_with() {  # LOG MESSAGE ARGS...: the run fails with MESSAGE
	! expect_failure=1 play "$1" "${@:3}" && grep -q -- "$2" "$1" &&
	echo "# it said: $(grep -o "nhictl: [^\"]*$2[^\"]*" "$1" | head -1 | sed 's/\\n$//')"
}

# a dry run first, as a careful admin does: it must work on a host without
# nhi, show what it would do, and do nothing
check "--check --diff before the first run succeeds" play /tmp/run0.log --check --diff
check "--check --diff before the first run changed nothing" \
	sh -c '! dpkg -s nhictl >/dev/null 2>&1 && [ ! -e /etc/nhi/nhi.conf ] && ! grep -q nhi /etc/nsswitch.conf &&
		! grep -q pam_nhi /etc/pam.d/common-account'
check "first run succeeds" play /tmp/run1.log
check "first run reports changes" recap /tmp/run1.log '[1-9][0-9]*'
check "the dry run announced each of them (changed=$(changes /tmp/run1.log))" \
	recap /tmp/run0.log "$(changes /tmp/run1.log)"
# the installed files are those of the built .deb, byte for byte
is_built() {
	[ "$(dpkg-query -W -f='${Version}' "$1")" = "$(deb_version "$1")" ] && [ -z "$(dpkg -V "$1")" ] &&
	dpkg-deb -I /tmp/debs/"$1"_*.deb md5sums | cmp -s - "$(dpkg-query --control-path "$1" md5sums)"
}
for p in nhictl libpam-nhi libnss-nhi; do
	check "installed $p is the built $(deb_version $p) (version, dpkg -V, md5sums)" is_built $p
done
check "nhi.conf written, 0644 root, with the host's settings" \
	sh -c '[ "$(stat -c %a:%U /etc/nhi/nhi.conf)" = 644:root ] && grep -qx "mode = enforce" /etc/nhi/nhi.conf &&
		grep -qx "review = warn" /etc/nhi/nhi.conf && grep -qx "orphan_grace = 3d" /etc/nhi/nhi.conf &&
		grep -qx "warn_before = 7d" /etc/nhi/nhi.conf'
check "pam_nhi in common-account and common-session" \
	sh -c 'grep -q "pam_nhi.so" /etc/pam.d/common-account && grep -q "pam_nhi.so" /etc/pam.d/common-session'
check "nsswitch.conf: nhi once at the end of passwd, group, shadow" \
	sh -c '[ "$(grep -Ec "^(passwd|group|shadow):.* nhi$" /etc/nsswitch.conf)" = 3 ] &&
		[ "$(grep -c "\<nhi\>" /etc/nsswitch.conf)" = 3 ]'
check "both identities registered" sh -c 'nhictl show svc-backup >/dev/null && nhictl show svc-expiring >/dev/null'
sleep 2
logins svc-backup 2000000 svc-expiring alice-owner

snap() { md5sum /etc/nhi/nhi.conf /etc/nsswitch.conf /etc/pam.d/common-* /var/lib/nhi/registry.db; }
s1=$(snap)
check "second run succeeds" play /tmp/run2.log
check "second run reports changed=0 (idempotent)" recap /tmp/run2.log 0
check "--check --diff after it succeeds" play /tmp/run3.log --check --diff
check "--check --diff reports changed=0 and shows no diff" no_diff /tmp/run3.log
# --check does see a difference: a new setting is shown, not applied
play /tmp/run4.log --check --diff -e nhi_mode=audit
check "--check --diff -e nhi_mode=audit: changed=1, diff shows the new mode line" shows /tmp/run4.log "+mode = audit"
# a bad value is refused by nhictl before nhi.conf is replaced
check "-e nhi_mode=bogus fails the run, nhictl naming the line and key" \
	fails_with /tmp/run5.log ":2: bad value for 'mode'" -e nhi_mode=bogus
check "nhi.conf kept as it was after the failed run" grep -qx "mode = enforce" /etc/nhi/nhi.conf
check "the runs after the first changed nothing on disk" test "$(snap)" = "$s1"
check "su still works for svc-backup after them" sh -c "su -s /bin/sh svc-backup -c id | grep -q 'uid=2000000'"
summary
IN

# run_overlay SCRIPT: run SCRIPT (from $R) in a fresh overlay of /
run_overlay() {
	local o=$R/root-${1%.sh}
	mkdir -p "$o"
	unshare -m --propagation private bash -c '
	set -e
	o=$1; R=$2; debdir=$3; script=$4
	mount -t tmpfs tmpfs "$o"
	mkdir -p "$o/upper" "$o/work" "$o/root"
	mount -t overlay overlay -o lowerdir=/,upperdir="$o/upper",workdir="$o/work" "$o/root"
	mount -t proc proc "$o/root/proc"
	mount --rbind /dev "$o/root/dev"
	mount -t tmpfs tmpfs "$o/root/tmp"
	mount -t tmpfs tmpfs "$o/root/run"
	mkdir -p "$o/root/tmp/debs"
	cp "$debdir"/*.deb "$o/root/tmp/debs/"
	cp "$R/lib.sh" "$R/$script" "$o/root/tmp/"
	chroot "$o/root" bash /tmp/$script
	' _ "$o" "$R" "$debdir" "$1"
}

rc=0
run_overlay dpkg.sh || rc=1
if command -v ansible-playbook >/dev/null && command -v dpkg-scanpackages >/dev/null; then
	run_overlay ansible.sh || rc=1
else
	echo "not ok - ansible: ansible-playbook and dpkg-scanpackages installed (scripts/deps.sh test)"; rc=1
fi
after=$(fingerprint)
rm -rf "$R"
if [ "$before" = "$after" ]; then echo "ok - host /etc untouched"; else echo "not ok - host /etc changed"; rc=1; fi
exit $rc

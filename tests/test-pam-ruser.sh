#!/bin/bash
# PAM_RUSER end to end (issue 14): delegations (nhictl delegate) reach
# the snapshot (full publication, triggers of migration 7 -> 8), nhictl
# check --ruser decides as pam_nhi does, a suspension cuts every path
# through an identity at its next publication (a delta), and a real
# util-linux su run by one identity to become another, in a private mount
# namespace (as tests/test-pam-su.sh), is allowed only along a live
# delegation.  The host's /etc is never changed.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"

have_nss || { echo "# skip: libnss_nhi.so.2 not built"; exit 77; }
DB=$T/state/registry.db

# nudge: an unrelated change, so that nhictl publishes after a row was
# changed straight in registry.db
# (a day further each time: a random one could repeat the last, within
# the same second, and then change nothing and publish nothing)
nudges=0
nudge() { nudges=$((nudges + 1)); nhictl extend pub-nudge --expires "+$((100 + nudges))d" >/dev/null; }
delegate() { nhictl delegate add "$1" "$2" --expires +30d >/dev/null; }
undelegate() { nhictl delegate remove "$1" "$2" >/dev/null; }
# expire_edge FROM TO: its expiry a day ago (no verb does that)
expire_edge() {
	sqlite3 "$DB" "UPDATE delegation SET expires = strftime('%s','now') - 86400 WHERE
		from_id = (SELECT id FROM identity WHERE name = '$1') AND
		to_id = (SELECT id FROM identity WHERE name = '$2')" && nudge
}
uid_of() { nsswrap getent passwd "$1" | cut -d: -f3; }
inode() { stat -c %i "$T/state/nhi.cache"; }

for n in agent-a agent-c svc-ok pub-nudge; do
	expect 0 "create $n" nhictl create "$n" --owner alice --expires +90d
done
check "delegation table present (migration 6 -> 7)" \
	test "$(sqlite3 "$DB" 'PRAGMA user_version')" -ge 8

# ---- the publisher and check --ruser ----
expect 1 "no delegation yet: agent-a may not become svc-ok" \
	nhictl check svc-ok --ruser agent-a
has out "reason no-delegation" 'deny \(no-delegation\)'
has out "message names the missing edge" 'no delegation agent-a -> svc-ok'
ino=$(inode)
delegate agent-a svc-ok
check "a new delegation republished in full (a new base)" [ "$(inode)" != "$ino" ]
expect 0 "delegation agent-a -> svc-ok: allowed" nhictl check svc-ok --ruser agent-a
has out "reason ok" 'allow \(ok\)'
expect 1 "agent-c has none" nhictl check svc-ok --ruser agent-c
expect 1 "nor svc-ok -> agent-a (direction)" nhictl check agent-a --ruser svc-ok
expect 0 "--json has ruser" nhictl check svc-ok --ruser agent-a --json
eqv "json ruser" agent-a "$(pyjson 'd["ruser"]')"
eqv "json reason" ok "$(pyjson 'd["reason"]')"
expect 0 "root: unaffected" nhictl check svc-ok --ruser root
expect 0 "a human (alice): allowed under human_use = log" nhictl check svc-ok --ruser alice
has out "reason human-use" 'allow \(human-use\)'
fails check 2 "a bad --ruser" "invalid user name" nhictl check svc-ok --ruser 'a;b'

# ---- cascade: suspend cuts every path through the identity at once ----
ino=$(inode)
expect 0 "suspend agent-a" nhictl suspend agent-a
check "suspend published a delta, not a new base" [ "$(inode)" = "$ino" ]
expect 1 "suspended FROM: denied" nhictl check svc-ok --ruser agent-a
has out "cut at agent-a" 'delegation cut: agent-a is suspended'
expect 0 "resume agent-a" nhictl resume agent-a
expect 0 "resumed: allowed again" nhictl check svc-ok --ruser agent-a
expect 0 "suspend svc-ok (the target)" nhictl suspend svc-ok
expect 1 "suspended TO: its own denial" nhictl check svc-ok --ruser agent-a
has out "reason suspended" 'deny \(suspended\)'
expect 0 "resume svc-ok" nhictl resume svc-ok

# ---- an expired edge, a removed one ----
delegate agent-c svc-ok
expect 0 "delegation agent-c -> svc-ok: allowed" nhictl check svc-ok --ruser agent-c
expire_edge agent-c svc-ok
expect 1 "an expired delegation: denied" nhictl check svc-ok --ruser agent-c
has out "cut: expired" 'the delegation expired on'
undelegate agent-a svc-ok
expect 1 "a removed delegation: denied" nhictl check svc-ok --ruser agent-a
has out "reason no-delegation" 'no delegation agent-a -> svc-ok'
delegate agent-a svc-ok
# retire removes an identity's delegations: the next publication is full
expect 0 "create agent-r" nhictl create agent-r --owner alice --expires +90d
delegate agent-r agent-a
delegate agent-r svc-ok
expect 0 "agent-r -> agent-a: allowed" nhictl check agent-a --ruser agent-r
ino=$(inode)
expect 0 "retire agent-r" nhictl retire agent-r --reason test
check "its delegations went with it: a new base" [ "$(inode)" != "$ino" ]
eqv "no edge left from agent-r" 0 "$(sqlite3 "$DB" "SELECT count(*) FROM delegation d JOIN identity i ON i.id = d.from_id WHERE i.name = 'agent-r'")"
expect 1 "retired FROM: denied" nhictl check agent-a --ruser agent-r
expect 1 "... on every path" nhictl check svc-ok --ruser agent-r

# ---- a renamed FROM (a directory entry renamed, as sync writes it: the
# row keeps its id and uid): the edges are keyed by FROM's name, so the
# rename queues a full publication (migration 11 -> 12) and the edge holds
# under the new name at once ----
expect 0 "create agent-n" nhictl create agent-n --owner alice --expires +90d
delegate agent-n svc-ok
expect 0 "agent-n -> svc-ok: allowed" nhictl check svc-ok --ruser agent-n
ino=$(inode)
sqlite3 "$DB" "UPDATE identity SET name = 'agent-m' WHERE name = 'agent-n'" && nudge
check "the rename republished in full (a new base)" [ "$(inode)" != "$ino" ]
expect 0 "renamed agent-m -> svc-ok: allowed at once" nhictl check svc-ok --ruser agent-m
ino=$(inode)
expect 0 "suspend agent-m" nhictl suspend agent-m
check "suspend of a FROM: a delta, not a new base" [ "$(inode)" = "$ino" ]
expect 1 "suspended agent-m: the delta's state wins over the edge's copy" \
	nhictl check svc-ok --ruser agent-m
has out "cut at agent-m" 'delegation cut: agent-m is suspended'
# a rename of an identity with no edge from it publishes a delta only
ino=$(inode)
sqlite3 "$DB" "UPDATE identity SET name = 'pub-nudge2' WHERE name = 'pub-nudge'" &&
	nhictl extend pub-nudge2 --expires +150d >/dev/null
check "a rename without edges: a delta, not a new base" [ "$(inode)" = "$ino" ]

# ---- a real su, run by agent-a and agent-c, in a private namespace ----
real_su() {
	[ "$(id -u)" = 0 ] || { echo "# skip su: needs root"; return 1; }
	[ -z "${NHI_ASAN_LIB:-}" ] || { echo "# skip su: sanitizer build"; return 1; }
	command -v unshare >/dev/null && command -v setpriv >/dev/null && [ -u /usr/bin/su ] ||
		{ echo "# skip su: no unshare, setpriv or setuid su"; return 1; }
	unshare -m --propagation private true 2>/dev/null || { echo "# skip su: unshare -m"; return 1; }
	sysconf=$(sed -n 's/^sysconfdir = //p' "$top_builddir/Makefile")
	prefix=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")
	sysconf=${sysconf//\$\{prefix\}/$prefix}
	[ -d "$sysconf" ] || { echo "# skip su: $sysconf does not exist"; return 1; }
	return 0
}
if real_su; then
	mkdir -p "$T/pam.d" "$T/ov/up/nhi" "$T/ov/work"
	# su as a non-root user is setuid: nss_nhi ignores NHI_CONF then and
	# reads SYSCONFDIR/nhi/nhi.conf, laid over in the namespace
	cp "$NHI_CONF" "$T/ov/up/nhi/nhi.conf"
	cat > "$T/pam.d/su" <<S
auth     sufficient pam_permit.so
account  required   $PAM_NHI_SO config=$NHI_CONF
account  required   pam_permit.so
session  optional   $PAM_NHI_SO config=$NHI_CONF
session  required   pam_permit.so
S
	real_nss_files || nok "ldconfig"
	ua=$(uid_of agent-a) uc=$(uid_of agent-c)
	cat > "$T/inside.sh" <<I
set -u
mount -t overlay overlay -o lowerdir=$sysconf,upperdir=$T/ov/up,workdir=$T/ov/work $sysconf || exit 3
mount --bind "$T/pam.d/su" /etc/pam.d/su
mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
mount --bind "$T/ld.so.cache" /etc/ld.so.cache
try() {  # try TAG UID USER: UID runs su USER -c 'id -un'; output in $T/su.TAG
	timeout 20 setpriv --reuid="\$2" --regid="\$2" --clear-groups \
		su -s /bin/sh "\$3" -c 'id -un' > "$T/su.\$1" 2>&1 </dev/null
	echo "\$?" >> "$T/su.\$1"
}
try a $ua svc-ok
try c $uc svc-ok
I
	unshare -m --propagation private bash "$T/inside.sh"
	rc=$?
	if [ $rc -eq 3 ]; then
		echo "# skip su: overlay mount over $sysconf not possible"
	else
		check "su by agent-a (delegated) becomes svc-ok" grep -qx "svc-ok" "$T/su.a"
		check "su by agent-a exit 0" bash -c "tail -1 '$T/su.a' | grep -qx 0"
		check "su by agent-c (its delegation expired) refused" grep -q "agent-c may not act as svc-ok: delegation cut: the delegation expired" "$T/su.c"
		check "su by agent-c exit 1" bash -c "tail -1 '$T/su.c' | grep -qx 1"
		# cascade on the real path: suspend agent-a, su again
		expect 0 "suspend agent-a" nhictl suspend agent-a
		unshare -m --propagation private bash "$T/inside.sh"
		check "su by a suspended agent-a refused" grep -q "delegation cut: agent-a is suspended" "$T/su.a"
		check "host untouched: /etc/pam.d/su" bash -c "! grep -q pam_nhi /etc/pam.d/su"
		for f in su.a su.c; do sed "s/^/# $f: /" "$T/$f"; done
	fi
fi
finish

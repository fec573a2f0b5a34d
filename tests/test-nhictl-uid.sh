#!/bin/bash
# A retired identity's uid is never handed out again (local backend),
# asserted where the uid is chosen (alloc_id), not left to the registry's
# UNIQUE constraint: each new identity gets exactly the first free id above
# the high-water mark, whichever of its two copies (meta in registry.db,
# registry.state beside it) survives, and when a retired identity's row is
# gone from the registry (as after restoring an older backup).
# The real nhictl binary, the test world of tests/common.sh.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
ST=$T/state DB=$T/state/registry.db
uid_of() { nhictl show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["uid"])'; }
high_meta() { sqlite3 "$DB" "SELECT value FROM meta WHERE key = 'id_high'"; }
high_state() { sed -n 's/^id_high //p' "$ST/registry.state"; }
# create_next NAME: create NAME and check it got the mark + 1, above every
# retired uid in $retired
create_next() {
	local want=$(( $(high_meta) + 1 )) u r bad=""
	expect 0 "create $1" nhictl create "$1" --owner alice --expires +30d
	u=$(uid_of "$1")
	for r in $retired; do [ "$u" != "$r" ] || bad=" = retired $r"; done
	if [ "$u" = "$want" ] && [ -z "$bad" ]; then ok "$1: uid $u, the high-water mark + 1"
	else nok "$1: uid $u$bad, wanted $want (the high-water mark + 1)"; fi
}

retired=""
for n in a b c d; do expect 0 "create svc-$n" nhictl create svc-$n --owner alice --expires +30d; done
eqv "the uids are uid_min upwards" "2000000 2000001 2000002 2000003" \
	"$(for n in a b c d; do uid_of svc-$n; done | xargs)"
for n in b d; do
	expect 0 "retire svc-$n" nhictl retire svc-$n --reason test
	retired="$retired $(uid_of svc-$n)"
done
eqv "the mark is the highest uid handed out, in both copies" "2000003 2000003" "$(high_meta) $(high_state)"
for i in 1 2 3 4 5 6; do create_next svc-n$i; done
eqv "no uid held twice" "" "$(sqlite3 "$DB" 'SELECT uid FROM identity GROUP BY uid HAVING count(*) > 1')"
# asked for by --uid: a retired identity's uid is in use, said so before
# anything is written (not left to the registry's UNIQUE constraint)
uid_d=$(uid_of svc-d)
fails create 1 "create --uid of retired svc-d ($uid_d) is refused" "uid/gid $uid_d is already in use" \
	nhictl create svc-again --owner alice --expires +30d --uid "$uid_d"
eqv "and svc-again was not created" 0 "$(sqlite3 "$DB" "SELECT count(*) FROM identity WHERE name = 'svc-again'")"

# the retired identities' rows gone (an older registry restored by hand):
# their uids are still not free.  First with meta's copy of the mark only,
# then with registry.state's only.
expect 0 "retire svc-n6" nhictl retire svc-n6 --reason test
retired="$retired $(uid_of svc-n6)"
sqlite3 "$DB" "DELETE FROM identity WHERE state = 'retired'"
eqv "no retired row left" 0 "$(sqlite3 "$DB" "SELECT count(*) FROM identity WHERE state = 'retired'")"
sed -i 's/^id_high .*/id_high 0/' "$ST/registry.state"
create_next svc-m1
check "svc-m1 is above the retired svc-n6 (meta's mark alone)" test "$(uid_of svc-m1)" -gt "${retired##* }"
expect 0 "retire svc-m1" nhictl retire svc-m1 --reason test
retired="$retired $(uid_of svc-m1)"
sqlite3 "$DB" "DELETE FROM identity WHERE state = 'retired'; DELETE FROM meta WHERE key = 'id_high'"
want=$(( $(high_state) + 1 ))
expect 0 "create svc-s1 (registry.state's mark alone)" nhictl create svc-s1 --owner alice --expires +30d
eqv "svc-s1: uid is registry.state's mark + 1, not the retired svc-m1's" "$want" "$(uid_of svc-s1)"

# a deleted group's gid is not reused either (groups share the id space)
expect 0 "group create svc-grp" nhictl group create svc-grp
gid=$(sqlite3 "$DB" "SELECT gid FROM grp WHERE name = 'svc-grp'")
expect 0 "group delete svc-grp" nhictl group delete svc-grp
retired="$retired $gid"
create_next svc-g1

# the range runs out: refused, nothing created, the retired uid not taken
mkdir "$T/small"
printf 'state_dir = %s\nuid_min = 5000\nuid_max = 5002\n' "$T/small" >"$T/etc/small.conf"
for n in x y z; do
	expect 0 "small range: create svc-$n" nhictl -c "$T/etc/small.conf" create svc-$n --owner alice --expires +1d
done
expect 0 "small range: retire svc-z (uid 5002)" nhictl -c "$T/etc/small.conf" retire svc-z
fails create 1 "small range: full, though svc-z is retired" \
	"no free id left in 5003\\.\\.5002 \\(above the high-water mark 5002, up to uid_max\\)" \
	nhictl -c "$T/etc/small.conf" create svc-w --owner alice --expires +1d
eqv "and svc-w was not created" 0 "$(sqlite3 "$T/small/registry.db" "SELECT count(*) FROM identity WHERE name = 'svc-w'")"
finish

#!/bin/bash
# Two hosts (two state dirs, one slapd: tests/slapd.sh, as
# tests/test-ldap-access.sh) change the same grant, delegation or resource
# at the same moment, many rounds (both in the background, then wait).
# Each round: at least one host wins; a host that loses exits 1 and says
# so on one line ("changed in the directory meanwhile ... try again", or
# the directory's "already exists"); the directory holds the value of a
# host that was told it won (the winner's alone when the other lost, and
# every value a host was told it wrote when the two wrote different
# entries); after `sync` on both, the two registries hold the same
# grants, delegations and resources as each other and as the directory.
# Nothing is lost silently.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
slapd_start || { nok "slapd starts"; finish; }

ldap_hermetic
B=$SLAPD_NHI_BASE
RB=ou=resources,$B
ROUNDS=${NHI_RACE_ROUNDS:-8}
mkdir -p "$T/a" "$T/b"
slapd_conf "$T/etc/a.conf" "$T/a"
slapd_conf "$T/etc/b.conf" "$T/b"
a() { nhictl -c "$T/etc/a.conf" "$@"; }
b() { nhictl -c "$T/etc/b.conf" "$@"; }
q() { sqlite3 "$T/$1/registry.db" "$2"; }
# attr DN ATTR: its values in the directory, sorted, space-separated
attr() {
	ldap_admin ldapsearch -b "$1" -s base "$2" 2>/dev/null | sed -n "s/^$2: //p" | sort | paste -sd' '
}
# dump HOST: its grants, delegations and resources, one a line
dump() {
	q "$1" "SELECT 'grant', i.name, r.name, a.actions, a.scopes, a.expires FROM access a
		JOIN identity i ON i.id = a.identity_id JOIN resource r ON r.id = a.resource_id
		ORDER BY 2, 3;
		SELECT 'delegation', f.name, t.name, d.actions, d.scopes, d.expires FROM delegation d
		JOIN identity f ON f.id = d.from_id JOIN identity t ON t.id = d.to_id ORDER BY 2, 3;
		SELECT 'resource', name, kind, uri, owner, data_class FROM resource ORDER BY 2"
}
# race "ARGS OF A" "ARGS OF B": both at once; ra, rb their exit codes,
# $T/ra.err, $T/rb.err what they said
race() {
	local pa pb
	( eval "a $1" >"$T/ra.out" 2>"$T/ra.err"; echo $? >"$T/ra.rc" ) &
	pa=$!
	( eval "b $2" >"$T/rb.out" 2>"$T/rb.err"; echo $? >"$T/rb.rc" ) &
	pb=$!
	wait "$pa" "$pb"    # not a bare wait: slapd is a child too
	ra=$(cat "$T/ra.rc") rb=$(cat "$T/rb.rc")
}
bad=""     # what went wrong, round by round
won=""     # per scenario: rounds a won alone, b alone, both
note() { bad="$bad$1"$'\n'; }
# loser HOST RC: a host that lost says so (exit 1, one line)
loser() {
	local err=$T/r$1.err
	[ "$2" = 1 ] || { note "$scen round $i: host $1 exit $2: $(head -c 300 "$err")"; return; }
	# one line; or, when its write went through and the other host
	# removed the entry before it was read back, the failed read and then
	# that (store_ldap_access.c, behind())
	[ "$(grep -c . "$err")" = 1 ] || { [ "$(grep -c . "$err")" = 2 ] &&
		grep -q 'removed in the directory meanwhile, right after this change' "$err"; } ||
		note "$scen round $i: host $1: not one line: $(head -c 300 "$err")"
	# refused, or its write went through and the other's replaced it before
	# its read-back (store_ldap_access.c: "the directory now holds ...")
	tail -1 "$err" | grep -Eq '^nhictl: [a-z]+: .*(in the directory meanwhile|already exists|the directory now holds .*: another writer or a replica changed)' ||
		note "$scen round $i: host $1 lost without saying why: $(head -c 300 "$err")"
}
# judge VALUE-A VALUE-B DIRECTORY: one entry both wrote
judge() {
	case "$ra$rb" in
	00) won="$won both"
	    [ "$3" = "$1" ] || [ "$3" = "$2" ] ||
		note "$scen round $i: both won, the directory holds neither: '$3'" ;;
	0*) won="$won a"; loser b "$rb"
	    [ "$3" = "$1" ] || note "$scen round $i: a won, the directory holds '$3', not '$1'" ;;
	*0) won="$won b"; loser a "$ra"
	    [ "$3" = "$2" ] || note "$scen round $i: b won, the directory holds '$3', not '$2'" ;;
	*)  note "$scen round $i: both lost: a $ra: $(head -c 200 "$T/ra.err"); b $rb: $(head -c 200 "$T/rb.err")" ;;
	esac
}
# settle: both hosts sync; their registries agree
settle() {
	a sync >/dev/null 2>"$T/sa.err" || note "$scen round $i: host a: sync failed: $(cat "$T/sa.err")"
	b sync >/dev/null 2>"$T/sb.err" || note "$scen round $i: host b: sync failed: $(cat "$T/sb.err")"
	[ "$(dump a)" = "$(dump b)" ] ||
		note "$scen round $i: the registries differ after sync: $(diff <(dump a) <(dump b) | tr '\n' ' ')"
}

expect 0 "host a: create agent-a" a create agent-a --kind agent --owner alice --expires +60d
expect 0 "host a: create tool-t" a create tool-t --owner alice --expires +60d
expect 0 "host a: resource add crm-db" a resource add crm-db --kind database \
	--uri postgres://crm/0 --owner alice
expect 0 "host a: grant add tool-t crm-db" a grant add tool-t crm-db --actions read --scope s:0
expect 0 "host a: delegate add agent-a tool-t" a delegate add agent-a tool-t --actions read --scope s:0
expect 0 "host b: first sync" b sync
eqv "both hosts start alike" "$(dump a)" "$(dump b)"
GDN=nhiGrantId=crm-db,uid=tool-t,$B
DDN=nhiDelegateTo=tool-t,uid=agent-a,$B

# ---- the same grant changed on both hosts -----------------------------------
scen=grant
for i in $(seq 1 "$ROUNDS"); do
	race "grant add tool-t crm-db --actions read --scope s:a$i" \
	     "grant add tool-t crm-db --actions read,write --scope s:b$i"
	judge "s:a$i" "s:b$i" "$(attr "$GDN" nhiScope)"
	settle
done
echo "# grant: won by$won"; won=""

# ---- the same delegation changed on both hosts ------------------------------
scen=delegation
for i in $(seq 1 "$ROUNDS"); do
	race "delegate add agent-a tool-t --actions read --scope s:a$i" \
	     "delegate add agent-a tool-t --actions read,exec --scope s:b$i"
	judge "s:a$i" "s:b$i" "$(attr "$DDN" nhiScope)"
	settle
done
echo "# delegation: won by$won"; won=""

# ---- the same resource changed on both hosts --------------------------------
scen=resource
for i in $(seq 1 "$ROUNDS"); do
	race "resource add crm-db --kind database --uri postgres://crm/a$i --owner alice" \
	     "resource add crm-db --kind database --uri postgres://crm/b$i --owner alice"
	judge "postgres://crm/a$i" "postgres://crm/b$i" "$(attr "cn=crm-db,$RB" nhiResourceURI)"
	settle
done
echo "# resource: won by$won"; won=""

# ---- a grant on a resource and the resource itself (its nhiSerial) at once:
# two entries, so every change a host was told it made is in the directory --
scen=grant+resource
for i in $(seq 1 "$ROUNDS"); do
	race "grant add tool-t crm-db --actions read --scope s:g$i" \
	     "resource add crm-db --kind database --uri postgres://crm/r$i --owner alice"
	case "$ra$rb" in
	00) won="$won both" ;;
	0*) won="$won a"; loser b "$rb" ;;
	*0) won="$won b"; loser a "$ra" ;;
	*)  note "$scen round $i: both lost" ;;
	esac
	[ "$ra" != 0 ] || [ "$(attr "$GDN" nhiScope)" = "s:g$i" ] ||
		note "$scen round $i: a was told its grant was written; the directory has '$(attr "$GDN" nhiScope)'"
	[ "$rb" != 0 ] || [ "$(attr "cn=crm-db,$RB" nhiResourceURI)" = "postgres://crm/r$i" ] ||
		note "$scen round $i: b was told its resource was written; the directory has '$(attr "cn=crm-db,$RB" nhiResourceURI)'"
	settle
done
echo "# grant+resource: won by$won"; won=""

# ---- a grant removed on one host while changed on the other ------------------
scen=remove
for i in $(seq 1 "$ROUNDS"); do
	race "grant remove tool-t crm-db" \
	     "grant add tool-t crm-db --actions read --scope s:b$i"
	d=$(attr "$GDN" nhiScope)
	case "$ra$rb" in
	00) [ -z "$d" ] || [ "$d" = "s:b$i" ] || note "$scen round $i: the directory holds '$d'" ;;
	0*) loser b "$rb"; [ -z "$d" ] || note "$scen round $i: a removed it, the directory holds '$d'" ;;
	*0) loser a "$ra"; [ "$d" = "s:b$i" ] || note "$scen round $i: b won, the directory holds '$d'" ;;
	*)  note "$scen round $i: both lost" ;;
	esac
	settle
	# the next round starts from a grant
	[ -n "$d" ] || a grant add tool-t crm-db --actions read --scope s:0 >/dev/null 2>&1 ||
		note "$scen round $i: the grant could not be added back"
	settle
done

# ---- the end: both hosts and the directory agree -----------------------------
eqv "nothing went wrong in $ROUNDS rounds of each race" "" "$bad"
expect 0 "host a: sync" a sync
expect 0 "host b: sync" b sync
eqv "the registries agree" "$(dump a)" "$(dump b)"
eqv "the grant's scope is the directory's" "$(attr "$GDN" nhiScope)" \
	"$(q a "SELECT a.scopes FROM access a JOIN identity i ON i.id = a.identity_id WHERE i.name = 'tool-t'")"
eqv "the delegation's scope is the directory's" "$(attr "$DDN" nhiScope)" \
	"$(q b "SELECT scopes FROM delegation")"
eqv "the resource's uri is the directory's" "$(attr "cn=crm-db,$RB" nhiResourceURI)" \
	"$(q b "SELECT uri FROM resource WHERE name = 'crm-db'")"
finish

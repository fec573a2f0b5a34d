#!/bin/bash
# Replicated OpenLDAP (issue 17), with real replication: two writable
# providers p1 and p2 (multi-provider syncrepl) and a read-only consumer
# c1, from tests/slapd-repl.sh.  Two hosts, a writing to p1 and b to p2
# (each lists both providers in ldap_uri, its own first: a uid block claim
# is written to and checked on every server of ldap_uri):
# - 50 rounds of one create on each host at once: after the servers
#   converge every uidNumber and every name is unique on p1, p2 and c1,
#   every identity is on every server, and every host's sync is clean
#   (exit 0, no conflict held) and holds all of them (host r syncs from
#   the consumer, which has no syncprov: sync falls back to a scan);
# - failover: p1 stopped, host a goes on creating through p2 (from the uid
#   block it holds), p1 restarted, converged: all unique still;
# - a partition (p1 and p2 stop replicating), the same name created on
#   both sides, healed: the conflict rule holds both back on every host
#   (sync exit 3, one line naming them), nothing silently dropped.
# The measured figures (time to converge, creates per second) are printed
# as TAP comments.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
. "$top_srcdir/tests/slapd-repl.sh"
repl_test_begin
PAIRS=${NHI_REPL_PAIRS:-50}
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", n / (b - a) }'; }
# on SERVER: uidNumber and uid of every identity, "UID NAME" sorted
idents() {
	repl_admin "$1" ldapsearch -b "$B" -s one '(objectClass=nhiIdentity)' uid uidNumber |
		awk '/^uid: / { n = $2 } /^uidNumber: / { u = $2 } /^$/ { if (n != "") print u, n; n = u = "" }
		     END { if (n != "") print u, n }' | sort
}
# unique SERVER WHAT: count of identities, duplicate uids, duplicate names
unique() {
	local s=$1 l
	l=$(idents "$s")
	printf '%s %s %s\n' "$(printf '%s\n' "$l" | grep -c .)" \
		"$(printf '%s\n' "$l" | awk '{ print $1 }' | sort | uniq -d | wc -l)" \
		"$(printf '%s\n' "$l" | awk '{ print $2 }' | sort | uniq -d | wc -l)"
}
names() { sqlite3 "$T/$1/registry.db" "SELECT count(*) FROM identity WHERE name LIKE '$2%'"; }
held() { sqlite3 "$T/$1/registry.db" "SELECT group_concat(name || '/' || uid, ' ') FROM (SELECT name, uid FROM dir_conflict ORDER BY name, uid)"; }
# converge: wait for the servers, print the time it took
converge() {
	local t0 t1
	t0=$(now)
	repl_converge "${1:-60}" || { nok "$2: the servers converge"; return 1; }
	t1=$(now)
	ok "$2: the servers converge"
	echo "# $2: converged in $(secs "$t0" "$t1") s"
}
# all_unique N WHAT: p1, p2 and c1 each hold N identities, no uid or name twice
all_unique() {
	local s
	for s in p1 p2 c1; do
		eqv "$2: $s holds $1 identities, no uidNumber and no name twice" "$1 0 0" "$(unique "$s")"
	done
	for s in p2 c1; do
		if [ "$(idents p1)" = "$(idents "$s")" ]; then ok "$2: p1 and $s hold the same identities"
		else nok "$2: p1 and $s hold the same identities: $(diff <(idents p1) <(idents "$s") | head -5 | paste -sd' ')"; fi
	done
}

repl_host a p1 p2
repl_host b p2 p1
repl_host r c1           # a reading host: syncs from the consumer

# ---- concurrent creates: PAIRS rounds, one create on each host at once ----
t0=$(now)
bad=0
for ((i = 1; i <= PAIRS; i++)); do
	on a create "ra-$i" --owner alice --expires +30d >"$T/ca.out" 2>>"$T/ca.err" &
	pa=$!
	on b create "rb-$i" --owner alice --expires +30d >"$T/cb.out" 2>>"$T/cb.err" &
	pb=$!
	wait "$pa" || bad=$((bad + 1))
	wait "$pb" || bad=$((bad + 1))
done
t1=$(now)
eqv "$PAIRS pairs of creates at once: every create succeeded" 0 "$bad"
[ "$bad" = 0 ] || { cat "$T/ca.err" "$T/cb.err" | head -5 | sed 's/^/# /'; }
echo "# $((2 * PAIRS)) creates on 2 providers in $(secs "$t0" "$t1") s: $(rate $((2 * PAIRS)) "$t0" "$t1") creates/s"
converge 60 "after the concurrent creates"
all_unique $((2 * PAIRS)) "after the concurrent creates"
for h in a b r; do
	expect 0 "host $h: sync clean (exit 0)" on "$h" sync
	eqv "host $h: every identity of both hosts" "$PAIRS $PAIRS" "$(names "$h" ra-) $(names "$h" rb-)"
	eqv "host $h: nothing held by the conflict rule" "" "$(held "$h")"
done
expect 0 "host r again" on r sync --json
eqv "host r: the consumer (no syncprov) refuses the Sync control: sync scans" scan "$(pyjson 'd["mode"]')"
nrun on r create r-1 --owner alice --expires +30d
eqv "host r: a create through the consumer fails (exit 1: the consumer answers a referral)" 1 "$rc"
eqv "host r: one line" 1 "$(wc -l < "$T/err")"
echo "# host r create: $(cat "$T/err")"
eqv "host r: the consumer and p1 hold no r-1" "0 0" "$(names r r-1) $(idents p1 | grep -c ' r-1$')"

# ---- directory check: the topology from the contextCSN ----------------------
expect 0 "host a: directory check" on a directory check
has out "two providers, by their server IDs" '^topology: +two providers \(a mirror pair or multi-provider\) \(server IDs [0-9a-f]+, [0-9a-f]+\)$'
has out "several writers: what holds" '^guarantees: +several writers: uid blocks are claimed on every server of ldap_uri'
check "host a lists both providers: no warning" bash -c "! grep -q '^warning: the directory has' '$T/out'"
repl_host one p1
expect 0 "a host listing p1 only: directory check (exit 0, a warning)" on one directory check
has out "warns that ldap_uri lists fewer servers than there are providers" \
	'^warning: the directory has 2 providers .* but ldap_uri lists 1 server: list every provider'
expect 0 "--json" on one directory check --json
eqv "--json: kind, server IDs, uris" "two providers (a mirror pair or multi-provider) 2 1" \
	"$(pyjson 'd["topology"]["kind"]+" "+str(len(d["topology"]["server_ids"]))+" "+str(d["topology"]["uris"])')"

# ---- failover: p1 down, host a writes through p2 ---------------------------
repl_stop p1
t0=$(now)
bad=0
for ((i = 1; i <= 10; i++)); do
	on a create "fa-$i" --owner alice --expires +30d >"$T/fa.out" 2>>"$T/fa.err" || bad=$((bad + 1))
done
t1=$(now)
eqv "p1 down: host a's 10 creates succeeded through p2" 0 "$bad"
echo "# p1 down: 10 creates by host a through p2 in $(secs "$t0" "$t1") s: $(rate 10 "$t0" "$t1") creates/s"
expect 0 "p1 down: host a syncs through p2" on a sync
eqv "p1 down: host a has its new identities" 10 "$(names a fa-)"
repl_start1 p1 || nok "p1 restarts"
converge 60 "p1 restarted"
all_unique $((2 * PAIRS + 10)) "p1 restarted"
for h in a b r; do
	expect 0 "p1 restarted: host $h sync clean" on "$h" sync
	eqv "p1 restarted: host $h has host a's identities made during failover" 10 "$(names "$h" fa-)"
done

# ---- partition: the same name on both sides --------------------------------
# Both creates succeed (each provider alone is consistent).  nhi names an
# identity's entry uid=NAME,<ldap_base>, so the two entries have ONE DN:
# when the partition heals, syncrepl keeps the one with the later entryCSN
# and drops the other (OpenLDAP makes no conflict entry), so no server
# ever holds two entries for sync's conflict rule to see.  What holds: the
# servers agree, every host's registry holds what stands (the same
# entryUUID everywhere).  The losing create is not silent: the host that
# made it is told at its next sync (a warning naming both entries, an
# audit event sync-replaced, outcome overwritten).
repl_partition || nok "partition"
uuid() { repl_admin "$1" ldapsearch -b "uid=$2,$B" -s base entryUUID | sed -n 's/^entryUUID: //p'; }
expect 0 "partitioned: host a creates dup-x on p1" on a create dup-x --owner alice --purpose "from a" --expires +30d
expect 0 "partitioned: host b creates dup-x on p2" on b create dup-x --owner alice --purpose "from b" --expires +30d
ua=$(uuid p1 dup-x) ub=$(uuid p2 dup-x)
[ -n "$ua" ] && [ "$ua" != "$ub" ] && ok "partitioned: p1 and p2 hold different dup-x entries" ||
	nok "partitioned: p1 and p2 hold different dup-x entries ($ua, $ub)"
t0=$(now)
repl_heal || nok "heal"
converge 60 "healed"
u1=$(uuid p1 dup-x)
eqv "healed: p2 holds the dup-x p1 holds" "$u1" "$(uuid p2 dup-x)"
eqv "healed: c1 holds the dup-x p1 holds" "$u1" "$(uuid c1 dup-x)"
case $u1 in "$ua"|"$ub") ok "healed: the one kept is one of the two creates" ;;
*) nok "healed: the one kept is one of the two creates ($u1)" ;; esac
all_unique $((2 * PAIRS + 11)) "healed"
[ "$u1" = "$ua" ] && loser=b || loser=a
for h in a b r; do
	expect 0 "healed: host $h sync (exit 0)" on "$h" sync
	eqv "healed: host $h holds the dup-x that stands" "$u1" \
		"$(sqlite3 "$T/$h/registry.db" "SELECT entry_uuid FROM identity WHERE name = 'dup-x'")"
	n=$(grep -c "^nhictl: sync: warning: dup-x: the directory entry this registry knew .* was replaced by another (entryUUID $u1, " "$T/err")
	ev=$(sqlite3 "$T/$h/registry.db" "SELECT count(*) FROM event WHERE action = 'sync-replaced' AND target = 'dup-x' AND outcome = 'overwritten'")
	if [ "$h" = "$loser" ]; then
		eqv "healed: host $h, whose create lost, is told so (one line, one audit event)" "1 1" "$n $ev"
		sed 's/^/#   /' "$T/err"
	else
		eqv "healed: host $h, whose registry never held the losing entry, is told nothing" "0 0" "$n $ev"
	fi
done

# ---- the same uid on two providers: the conflict rule on every host --------
# (nhictl never does this: blocks; a directory manager's ldapadd on each
# side of a partition does) two entries, two names, one uidNumber: after
# the heal every host holds both back and names them, sync exits 3.
repl_partition || nok "partition again"
slapd_ident man-p 2100999 alice | repl_admin p1 ldapadd >/dev/null
slapd_ident man-q 2100999 alice | repl_admin p2 ldapadd >/dev/null
repl_heal || nok "heal again"
converge 60 "healed again"
for h in a b r; do
	nrun on "$h" sync
	eqv "healed: host $h: sync exit 3" 3 "$rc"
	has err "healed: host $h: sync names both entries of uid 2100999" \
		"^nhictl: sync: conflict: man-[pq] \(uid 2100999, entryUUID [-0-9a-f]+\) and man-[pq] \(uid 2100999, entryUUID [-0-9a-f]+\) share a uidNumber: both denied"
	eqv "healed: host $h holds both back" "man-p/2100999 man-q/2100999" "$(held "$h")"
done
finish

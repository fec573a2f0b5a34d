#!/bin/bash
# Replicated OpenLDAP (issue 17): two hosts change ONE identity at the same
# moment, host a through provider p1, host b through provider p2 (the
# harness of tests/slapd-repl.sh: plain syncrepl between p1 and p2, which
# replicates whole entries: of two changes of one entry the later entryCSN
# replaces the other on both servers).  Whatever the timing, the outcome
# must be honest: a host that says done (exit 0) made a change that stands
# on both servers after they converge; a host whose change was overwritten
# says so (non-zero exit, "the directory now holds ..."), prints nothing as
# done, and its registry and audit log hold what stands.
# - suspend (host a) against extend (host b), NHI_RACE_ROUNDS rounds;
# - rotate of one password on both hosts: at most one rotation stands,
#   the losing host hands no secret out, the secret handed out binds on
#   both servers and `cred verify` accepts it on both hosts, and no
#   credential entry of the losing rotation is left;
# - cred add --kind password on both hosts: the same (one userPassword
#   set survives replication: the losing host withdraws its entry and
#   hands no password out);
# - transfer to two different owners from both hosts: both servers and
#   both hosts agree on the owner, and each host's report matches it.
# The rounds, outcomes and times are printed as TAP comments (recorded in
# docs/replication.md).
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
. "$top_srcdir/tests/slapd-repl.sh"
repl_test_begin
ROUNDS=${NHI_RACE_ROUNDS:-20}
# attr SERVER NAME ATTR: the values of ATTR of uid=NAME on SERVER, sorted, one line
attr() {
	repl_admin "$1" ldapsearch -b "uid=$2,$B" -s base "$3" |
		sed -n "s/^$3:: *//p; s/^$3: //p" | sort | paste -sd' '
}
reg() { sqlite3 "$T/$1/registry.db" "$2"; }
# converge WHAT: wait for the servers; the time taken goes to $T/conv
converge() {
	local t0 t1
	t0=$(now)
	if ! repl_converge 60; then nok "$1: the servers converge"; return 1; fi
	t1=$(now)
	echo "$(secs "$t0" "$t1")" >> "$T/conv"
}
conv_figures() {
	sort -n "$T/conv" | awk '{ v[NR] = $1 } END { if (NR) printf "min %s s, median %s s, max %s s", v[1], v[int((NR + 1) / 2)], v[NR] }'
	rm -f "$T/conv"
}


# agree WHAT PREFIX COLUMNS: both hosts sync, then hold the same COLUMNS
# (an SQL expression) for the identities named PREFIX*
agree() {
	local h q="SELECT group_concat(name || ' ' || $3, ' ') FROM (SELECT * FROM identity WHERE name LIKE '$2%' AND $(not_diverged) ORDER BY name)"
	for h in a b; do
		expect 0 "host $h: sync afterwards" on "$h" sync
	done
	eqv "after sync: hosts a and b hold the same $1" "$(reg a "$q")" "$(reg b "$q")"
}

# diverged_seen NAME WHY ERR...: p1 and p2 hold NAME differently after
# converging; every command's stderr ERR must carry the warning that the
# servers do not agree (else bad is counted).  NAME goes to DIVERGED.
DIVERGED=
diverged_seen() {
	local name=$1 why=$2 f
	shift 2
	DIVERGED="$DIVERGED${DIVERGED:+ }$name"
	echo "# $why: the servers diverged"
	for f in "$@"; do
		grep -q "warning: $name: the entry is not yet the same on every server of ldap_uri after 10 s" "$f" ||
			{ bad=$((bad + 1)); nok "$why: the servers diverged, unsaid in ${f##*/}"; }
	done
}
# differing: the uid= entries p1 and p2 hold with different entryCSNs
# (read from the servers, one name a line).  The rounds above catch the
# entries whose values differ; an entry can also stand with the same
# values under two entryCSNs (each server kept its own write of one
# value), which only this finds.
differing() {
	local s
	for s in p1 p2; do
		repl_admin "$s" ldapsearch -b "$B" -s one '(uid=*)' uid entryCSN |
			awk '/^uid: /{u=$2} /^entryCSN: /{c=$2} /^$/{ if (u != "") print u, c; u = c = "" }
			     END { if (u != "") print u, c }' | sort > "$T/csn.$s"
	done
	comm -3 "$T/csn.p1" "$T/csn.p2" | awk '{print $1}' | sort -u
}
# not_diverged: an SQL condition leaving out the names in DIVERGED
not_diverged() { local n l=; for n in $DIVERGED; do l="$l${l:+, }'$n'"; done; echo "name NOT IN (${l:-''})"; }

# race ROUND TAG ARGS-A... -- ARGS-B...: tests/slapd-repl.sh
race() { repl_race "$@"; }

repl_host a p1 p2
repl_host b p2 p1

# ---- suspend (a, through p1) against extend (b, through p2) ---------------
for ((i = 1; i <= ROUNDS; i++)); do
	on a create "se-$i" --owner alice --expires +30d >/dev/null 2>>"$T/setup.err" ||
		nok "create se-$i"
done
converge "the identities made" || finish
expect 0 "host b syncs them" on b sync
wins_a=0 wins_b=0 both=0 bad=0 t_all0=$(now)
for ((i = 1; i <= ROUNDS; i++)); do
	race "$i" s suspend "se-$i" -- extend "se-$i" --expires +60d
	converge "suspend/extend $i" || break
	s1=$(attr p1 "se-$i" nhiState) s2=$(attr p2 "se-$i" nhiState)
	e1=$(attr p1 "se-$i" nhiExpires) e2=$(attr p2 "se-$i" nhiExpires)
	sa=$(reg a "SELECT state FROM identity WHERE name = 'se-$i'")
	oa=$(reg a "SELECT outcome FROM event WHERE action = 'suspend' AND target = 'se-$i' ORDER BY id DESC LIMIT 1")
	ob=$(reg b "SELECT outcome FROM event WHERE action = 'extend' AND target = 'se-$i' ORDER BY id DESC LIMIT 1")
	why="round $i: a exit $ra, b exit $rb, p1 $s1 $e1, p2 $s2 $e2, a's registry $sa, events $oa/$ob; $(cat "$T/sa.err" "$T/sb.err" | paste -sd' ')"
	# the servers agree
	# servers that diverged for good (an OpenLDAP race of plain syncrepl
	# between providers, seen in about 1 round of 20): each command must
	# have said it could not tell what stands (the wait timed out)
	if [ "$s1 $e1" != "$s2 $e2" ]; then
		diverged_seen "se-$i" "$why" "$T/sa.err" "$T/sb.err"
		continue
	fi
	# host a: exit 0 only when the suspension stands; else said, and its
	# registry and audit log hold what stands
	if [ "$ra" = 0 ] && [ "$s1" != suspended ]; then
		bad=$((bad + 1)); nok "$why: host a said done, the suspension is lost"; continue
	fi
	if [ "$ra" != 0 ] && { [ "$s1" = suspended ] || [ "$sa" != "$s1" ] || [ "$oa" != overwritten ] ||
	                      ! grep -q '^nhictl: suspend: the directory now holds state active, not suspended: another writer or a replica changed' "$T/sa.err" ||
	                      [ -s "$T/sa.out" ]; }; then
		bad=$((bad + 1)); nok "$why: host a's failure is not the honest overwritten report"; continue
	fi
	# host b the same for its extension (the expiry it set: on the servers, or said)
	if [ "$rb" = 0 ] && [ "$(reg b "SELECT count(*) FROM identity WHERE name = 'se-$i' AND expires = (SELECT CAST(strftime('%s', substr('$e1',1,4)||'-'||substr('$e1',5,2)||'-'||substr('$e1',7,2)||' '||substr('$e1',9,2)||':'||substr('$e1',11,2)||':'||substr('$e1',13,2)) AS INTEGER))")" != 1 ]; then
		bad=$((bad + 1)); nok "$why: host b said done, its registry does not hold the expiry that stands"; continue
	fi
	if [ "$rb" != 0 ] && { [ "$ob" != overwritten ] || [ -s "$T/sb.out" ]; }; then
		bad=$((bad + 1)); nok "$why: host b's failure is not the honest overwritten report"; continue
	fi
	[ "$ra" = 0 ] && [ "$rb" = 0 ] && both=$((both + 1))
	[ "$ra" = 0 ] && [ "$rb" != 0 ] && wins_a=$((wins_a + 1))
	[ "$ra" != 0 ] && [ "$rb" = 0 ] && wins_b=$((wins_b + 1))
	[ "$ra" != 0 ] && [ "$rb" != 0 ] && { bad=$((bad + 1)); nok "$why: both hosts failed"; }
done
t_all1=$(now)
eqv "suspend against extend, $ROUNDS rounds: every outcome honest" 0 "$bad"
echo "# suspend/extend: $ROUNDS rounds in $(secs "$t_all0" "$t_all1") s: servers diverged (said by both hosts) $(wc -w <<<"$DIVERGED"), both stand $both, suspension overwritten (a said so) $wins_b, extension overwritten (b said so) $wins_a; converge $(conv_figures)"
agree "states and expiries" se- "state || expires"

# ---- rotate on both hosts at once ---------------------------------------
RR=$(( (ROUNDS + 1) / 2 ))
pwd_of() { head -n1 "$1"; }
# bind SERVER NAME PASSWORD: the password binds on SERVER.  Only "invalid
# credentials" (49) is an answer that it does not; no answer (a server
# too busy to take the connection in time, on a loaded machine) is asked
# again, twice.  A refusal is shown with both servers' identity entry.
bind() {
	local k rc=0
	for ((k = 0; k < 3; k++)); do
		ldapwhoami -x -H "$(_repl_var "$1" LDAP)" -D "uid=$2,$B" -w "$3" >/dev/null 2>"$T/bind.err" && return 0
		rc=$?
		[ "$rc" = 49 ] && break
		sleep 0.5
	done
	echo "# bind of $2 on $1: exit $rc: $(paste -sd' ' "$T/bind.err")"
	for k in p1 p2; do
		echo "# $k: $(repl_admin "$k" ldapsearch -b "uid=$2,$B" -s base entryCSN nhiSerial userPassword |
			grep -E '^(entryCSN|nhiSerial|userPassword)' | paste -sd' ')"
	done
	return 1
}
# handed_out NAME HOST OUT: the password HOST handed out (first line of
# OUT) binds on p1 and p2, and both hosts' cred verify accept it after a
# sync (else bad is counted, with $why)
handed_out() {
	local P v
	P=$(pwd_of "$3")
	bind p1 "$1" "$P" && bind p2 "$1" "$P" ||
		{ bad=$((bad + 1)); nok "$why: host $2's password does not bind on both servers"; }
	for v in a b; do
		on "$v" sync >/dev/null 2>&1
		on "$v" cred verify "$1" <<<"$P" >/dev/null 2>&1 ||
			{ bad=$((bad + 1)); nok "$why: host $v's cred verify refuses host $2's password"; }
	done
}
# made_with PREFIX KIND: PREFIX-1 .. PREFIX-RR made on host a, each with a
# credential of KIND, replicated, and synced by host b
made_with() {
	local i
	for ((i = 1; i <= RR; i++)); do
		on a create "$1-$i" --owner alice --expires +30d >/dev/null 2>>"$T/setup.err" &&
		on a cred add "$1-$i" --kind "$2" >/dev/null 2>>"$T/setup.err" ||
			nok "create $1-$i with a $2"
	done
	converge "the $1- identities made" || finish
	expect 0 "host b syncs them" on b sync
}
made_with ro password
ra_ok=0 rb_ok=0 none=0 serial=0 ovw=0 cas=0 bad=0 t_all0=$(now)
for ((i = 1; i <= RR; i++)); do
	race "$i" r rotate "ro-$i" --grace 1h -- rotate "ro-$i" --grace 1h
	converge "rotate $i" || break
	why="round $i: a exit $ra, b exit $rb; $(cat "$T/ra.err" "$T/rb.err" | paste -sd' ')"
	# both done only when one came after the other (it rotated the
	# credential the first one made): then both secrets bind, checked below
	[ "$ra" = 0 ] && [ "$rb" = 0 ] && serial=$((serial + 1))
	# the rotations that stand on p1: entries replacing another
	n1=$(repl_admin p1 ldapsearch -b "uid=ro-$i,$B" -s one '(nhiReplaces=*)' dn | grep -c '^dn:')
	n2=$(repl_admin p2 ldapsearch -b "uid=ro-$i,$B" -s one '(nhiReplaces=*)' dn | grep -c '^dn:')
	if [ "$n1 $n2" != "$(((ra == 0) + (rb == 0))) $(((ra == 0) + (rb == 0)))" ]; then
		bad=$((bad + 1)); nok "$why: replacing entries on p1 $n1, p2 $n2"; continue
	fi
	for h in a b; do
		[ "$h" = a ] && r=$ra || r=$rb
		if [ "$r" != 0 ]; then
			# no secret handed out: nothing on stdout
			if [ -s "$T/r$h.out" ]; then bad=$((bad + 1)); nok "$why: host $h failed but wrote to stdout"; fi
			continue
		fi
		handed_out "ro-$i" "$h" "$T/r$h.out"
	done
	[ "$ra" = 0 ] && ra_ok=$((ra_ok + 1))
	[ "$rb" = 0 ] && rb_ok=$((rb_ok + 1))
	ovw=$((ovw + $(cat "$T/ra.err" "$T/rb.err" | grep -c '^nhictl: rotate: the directory now holds another rotation of ro-')))
	cas=$((cas + $(cat "$T/ra.err" "$T/rb.err" | grep -c 'another rotation?): refused, nothing changed$')))
	[ "$ra" != 0 ] && [ "$rb" != 0 ] && none=$((none + 1))
done
t_all1=$(now)
eqv "rotate against rotate, $RR rounds: every outcome honest" 0 "$bad"
echo "# rotate/rotate: $RR rounds in $(secs "$t_all0" "$t_all1") s: host a's rotation stood $ra_ok, host b's $rb_ok (one after the other, both stand: $serial), neither $none; the loser told overwritten after the servers agreed $ovw, refused by the nhiSerial compare-and-swap $cas; converge $(conv_figures)"

# A rotation the servers do not agree on in time (a partition longer than
# the wait): whether it stands cannot be told, so it is withdrawn like one
# overwritten: exit 1, no secret handed out, its entry and hash gone, the
# old password still good; after the heal a rotation goes through.
on a create ro-long --owner alice --expires +30d >/dev/null 2>>"$T/setup.err" &&
on a cred add ro-long --kind password >"$T/long0.out" 2>>"$T/setup.err" || nok "create ro-long with a password"
converge "ro-long made" || true
repl_partition || nok "long partition"
# a shorter wait than the default 10 s (nhi.conf ldap_settle_wait)
cp "$T/a.conf" "$T/a-wait.conf"
echo "ldap_settle_wait = 2s" >> "$T/a-wait.conf"
NHI_CONF=$T/a-wait.conf nhictl rotate ro-long --grace 1h >"$T/long.out" 2>"$T/long.err"; rl=$?
repl_heal || nok "heal after the long partition"
converge "ro-long healed" || true
eqv "unconfirmed rotation: exit 1" 1 "$rl"
check "unconfirmed rotation: no secret on stdout" test ! -s "$T/long.out"
has long.err "unconfirmed rotation: said so" "^nhictl: rotate: rotation of ro-long credential .* not confirmed on every server of ldap_uri: .* withdrawn, no secret handed out"
has long.err "unconfirmed rotation: the wait was ldap_settle_wait" "^nhictl: rotate: warning: ro-long: the entry is not yet the same on every server of ldap_uri after 2 s"
eqv "unconfirmed rotation: audit outcome" unconfirmed \
	"$(reg a "SELECT outcome FROM event WHERE action = 'rotate' AND target = 'ro-long' ORDER BY id DESC LIMIT 1")"
eqv "unconfirmed rotation: no replacing entry on p1 or p2" "0 0" \
	"$(repl_admin p1 ldapsearch -b "uid=ro-long,$B" -s one '(nhiReplaces=*)' dn | grep -c '^dn:') $(repl_admin p2 ldapsearch -b "uid=ro-long,$B" -s one '(nhiReplaces=*)' dn | grep -c '^dn:')"
P0=$(pwd_of "$T/long0.out")
bind p1 ro-long "$P0" && bind p2 ro-long "$P0" && ok "the old password still binds on both" ||
	nok "the old password no longer binds on both servers"
expect 0 "after the heal: rotate ro-long" on a rotate ro-long --grace 1h
P1=$(head -n1 "$T/out")
bind p1 ro-long "$P1" && bind p2 ro-long "$P1" && ok "its password binds on both" ||
	{ converge "ro-long rotated" || true; bind p1 ro-long "$P1" && bind p2 ro-long "$P1" &&
		ok "its password binds on both (after replication)" || nok "the new password does not bind on both"; }
cat "$T/ra.err" "$T/rb.err" | sed 's/^/#   last round: /'

# ---- cred add --kind password on both hosts at once -------------------------
for ((i = 1; i <= RR; i++)); do
	on a create "ca-$i" --owner alice --expires +30d >/dev/null 2>>"$T/setup.err" || nok "create ca-$i"
done
converge "the identities for cred add made" || finish
expect 0 "host b syncs them" on b sync
ca_ok=0 cb_ok=0 covw=0 bad=0 t_all0=$(now)
for ((i = 1; i <= RR; i++)); do
	race "$i" c cred add "ca-$i" --kind password -- cred add "ca-$i" --kind password
	converge "cred add $i" || break
	why="round $i: a exit $ra, b exit $rb; $(cat "$T/ca.err" "$T/cb.err" | paste -sd' ')"
	# the servers diverged on the identity entry (the OpenLDAP race): no
	# password may have been handed out unless it binds on both (below)
	[ "$(attr p1 "ca-$i" entryCSN)" = "$(attr p2 "ca-$i" entryCSN)" ] ||
		{ DIVERGED="$DIVERGED${DIVERGED:+ }ca-$i"; echo "# $why: the servers diverged"; }
	n1=$(repl_admin p1 ldapsearch -b "uid=ca-$i,$B" -s one '(nhiKind=password)' dn | grep -c '^dn:')
	n2=$(repl_admin p2 ldapsearch -b "uid=ca-$i,$B" -s one '(nhiKind=password)' dn | grep -c '^dn:')
	[ "$n1 $n2" = "$(((ra == 0) + (rb == 0))) $(((ra == 0) + (rb == 0)))" ] ||
		{ bad=$((bad + 1)); nok "$why: password entries on p1 $n1, p2 $n2"; }
	for h in a b; do
		[ "$h" = a ] && r=$ra || r=$rb
		if [ "$r" != 0 ]; then
			[ -s "$T/c$h.out" ] && { bad=$((bad + 1)); nok "$why: host $h failed but wrote to stdout"; }
			grep -q "^nhictl: cred: the directory now holds other credentials (password [0-9a-f]* is not among them; withdrawn, no secret handed out): another writer or a replica changed ca-$i\$" "$T/c$h.err" &&
				covw=$((covw + 1))
			continue
		fi
		handed_out "ca-$i" "$h" "$T/c$h.out"
	done
	[ "$ra" = 0 ] && ca_ok=$((ca_ok + 1))
	[ "$rb" = 0 ] && cb_ok=$((cb_ok + 1))
done
t_all1=$(now)
eqv "cred add against cred add, $RR rounds: every outcome honest" 0 "$bad"
echo "# cred add/cred add: $RR rounds in $(secs "$t_all0" "$t_all1") s: host a's password stood $ca_ok, host b's $cb_ok, the loser told overwritten $covw; converge $(conv_figures)"

# ---- token rotate on both hosts at once ----------------------------------
# A token lives in its own credential entry (a new DN for each), so two
# rotations of one token through two providers overwrite nothing but the
# old entry's move to grace (the same on both): both new tokens stand, and
# each token handed out verifies on both hosts.  Or the second is refused
# by the nhiSerial compare-and-swap when the first reached its server, or
# asks which token to rotate when it read the first half-replicated.
made_with tk token
ka=0 kb=0 kboth=0 kcas=0 ktwo=0 bad=0 t_all0=$(now)
for ((i = 1; i <= RR; i++)); do
	race "$i" k rotate "tk-$i" --grace 1h -- rotate "tk-$i" --grace 1h
	converge "token rotate $i" || break
	why="round $i: a exit $ra, b exit $rb; $(cat "$T/ka.err" "$T/kb.err" | paste -sd' ')"
	# one token entry per rotation that said done, beside the original
	# (active, or in grace when the later rotation rotated the earlier's)
	q='(&(nhiKind=token)(|(nhiState=active)(nhiState=grace)))'
	n1=$(repl_admin p1 ldapsearch -b "uid=tk-$i,$B" -s one "$q" dn | grep -c '^dn:')
	n2=$(repl_admin p2 ldapsearch -b "uid=tk-$i,$B" -s one "$q" dn | grep -c '^dn:')
	[ "$n1 $n2" = "$((1 + (ra == 0) + (rb == 0))) $((1 + (ra == 0) + (rb == 0)))" ] ||
		{ bad=$((bad + 1)); nok "$why: usable token entries on p1 $n1, p2 $n2"; }
	for v in a b; do on "$v" sync >/dev/null 2>&1; done
	for h in a b; do
		[ "$h" = a ] && r=$ra || r=$rb
		if [ "$r" != 0 ]; then
			[ -s "$T/k$h.out" ] && { bad=$((bad + 1)); nok "$why: host $h failed but wrote to stdout"; }
			# refused by the compare-and-swap; or the other's rotation had
			# reached this host's server half-way (its new token there, the
			# old one's move to grace not yet) when this one read: two
			# active tokens, and rotate asks which (nothing written)
			if grep -q "changed in the directory meanwhile" "$T/k$h.err"; then
				kcas=$((kcas + 1))
			elif grep -q "^nhictl: rotate: identity 'tk-$i' has 2 active credentials: name one with --cred ID" "$T/k$h.err"; then
				ktwo=$((ktwo + 1))
			else
				bad=$((bad + 1)); nok "$why: host $h failed, not by the compare-and-swap"
			fi
			continue
		fi
		for v in a b; do
			on "$v" cred verify "tk-$i" < <(head -n1 "$T/k$h.out") >/dev/null 2>&1 ||
				{ bad=$((bad + 1)); nok "$why: host $v's cred verify refuses host $h's token"; }
		done
	done
	[ "$ra" = 0 ] && ka=$((ka + 1))
	[ "$rb" = 0 ] && kb=$((kb + 1))
	[ "$ra" = 0 ] && [ "$rb" = 0 ] && kboth=$((kboth + 1))
	[ "$ra" != 0 ] && [ "$rb" != 0 ] && { bad=$((bad + 1)); nok "$why: both failed"; }
done
t_all1=$(now)
eqv "token rotate against token rotate, $RR rounds: every outcome honest" 0 "$bad"
echo "# token rotate/rotate: $RR rounds in $(secs "$t_all0" "$t_all1") s: host a's token stands $ka, host b's $kb (both: $kboth), refused by the nhiSerial compare-and-swap $kcas, refused seeing two active tokens (the other rotation half-replicated) $ktwo; converge $(conv_figures)"

# ---- one grant written on both hosts at once, with other actions ---------
# One DN for both: each provider takes its own add (or update, when the
# other's had arrived), replication keeps one entry; the host whose
# actions do not stand must say so, its registry holding what stands.
on a resource add gr-res --kind api --uri https://gr.example --owner alice >/dev/null 2>>"$T/setup.err" ||
	nok "resource gr-res"
for ((i = 1; i <= RR; i++)); do
	on a create "gr-$i" --owner alice --expires +30d >/dev/null 2>>"$T/setup.err" || nok "create gr-$i"
done
converge "the granted identities made" || finish
expect 0 "host b syncs them" on b sync
gacts() { repl_admin "$1" ldapsearch -b "nhiGrantId=gr-res,uid=$2,$B" -s base nhiAction | sed -n 's/^nhiAction: //p' | sort | paste -sd,; }
ga=0 gb=0 gboth=0 govw=0 gref=0 bad=0 t_all0=$(now)
for ((i = 1; i <= RR; i++)); do
	race "$i" g grant add "gr-$i" gr-res --actions read -- grant add "gr-$i" gr-res --actions write
	converge "grant $i" || break
	g1=$(gacts p1 "gr-$i") g2=$(gacts p2 "gr-$i")
	why="round $i: a exit $ra, b exit $rb, p1 $g1, p2 $g2; $(cat "$T/ga.err" "$T/gb.err" | paste -sd' ')"
	if [ "$g1" != "$g2" ]; then
		diverged_seen "gr-$i" "$why" "$T/ga.err" "$T/gb.err"
		continue
	fi
	ea=$(reg a "SELECT action FROM event WHERE target = 'gr-$i' AND action LIKE 'grant-%' ORDER BY id DESC LIMIT 1")
	eb=$(reg b "SELECT action FROM event WHERE target = 'gr-$i' AND action LIKE 'grant-%' ORDER BY id DESC LIMIT 1")
	# done: its actions stand, or the other host's update came after it
	if { [ "$ra" = 0 ] && [ "$g1" != read ] && ! { [ "$rb" = 0 ] && [ "$eb" = grant-update ]; }; } ||
	   { [ "$rb" = 0 ] && [ "$g1" != write ] && ! { [ "$ra" = 0 ] && [ "$ea" = grant-update ]; }; }; then
		bad=$((bad + 1)); nok "$why ($ea / $eb): a host said done, its grant does not stand"; continue
	fi
	for h in a b; do
		[ "$h" = a ] && r=$ra || r=$rb
		[ "$r" = 0 ] && continue
		[ -s "$T/g$h.out" ] && { bad=$((bad + 1)); nok "$why: host $h failed and printed on stdout"; }
		if grep -q "^nhictl: grant: the directory now holds its grant of gr-$i on gr-res with actions $g1, .*another writer or a replica changed gr-$i\$" "$T/g$h.err"; then
			govw=$((govw + 1))
		elif grep -q "^nhictl: grant: gr-$i already has a grant on gr-res in the directory\$" "$T/g$h.err"; then
			gref=$((gref + 1))   # the other's add had arrived: refused
		else
			bad=$((bad + 1)); nok "$why: host $h's failure is neither the overwritten report nor a refusal"
		fi
		[ "$(reg "$h" "SELECT count(*) FROM access a JOIN identity i ON i.id = a.identity_id WHERE i.name = 'gr-$i' AND a.actions = $([ "$g1" = read ] && echo 1 || echo 2)")" = 1 ] ||
			[ "$(reg "$h" "SELECT count(*) FROM access a JOIN identity i ON i.id = a.identity_id WHERE i.name = 'gr-$i'")" = 0 ] ||
			{ bad=$((bad + 1)); nok "$why: host $h's registry holds a grant that does not stand"; }
	done
	[ "$ra" = 0 ] && ga=$((ga + 1))
	[ "$rb" = 0 ] && gb=$((gb + 1))
	[ "$ra" = 0 ] && [ "$rb" = 0 ] && gboth=$((gboth + 1))
done
t_all1=$(now)
eqv "grant add against grant add, $RR rounds: every outcome honest" 0 "$bad"
echo "# grant/grant: $RR rounds in $(secs "$t_all0" "$t_all1") s: host a's (read) stood $ga, host b's (write) $gb (one after the other, both done: $gboth), the loser told overwritten $govw, refused (the other's add had arrived) $gref; converge $(conv_figures)"

# ---- transfer to two owners at once -------------------------------------
# a second live owner beside dave: erin (added on p1, replicated)
_slapd_person erin 1004 "Erin Ops" "" | sed 1d | repl_admin p1 ldapadd >/dev/null || nok "add erin"
for ((i = 1; i <= RR; i++)); do
	on a create "tr-$i" --owner alice --expires +30d >/dev/null 2>>"$T/setup.err" || nok "create tr-$i"
done
converge "the transferred identities made" || finish
expect 0 "host b syncs them" on b sync
ta=0 tb=0 tboth=0 tovw=0 tcas=0 diverged=0 bad=0 t_all0=$(now)
for ((i = 1; i <= RR; i++)); do
	race "$i" t transfer "tr-$i" --to dave -- transfer "tr-$i" --to erin
	t0=$(now)
	if ! repl_converge 20 2>/dev/null; then
		diverged=$((diverged + 1))
		echo "# transfer $i: the servers did not converge: p1 $(attr p1 "tr-$i" owner), p2 $(attr p2 "tr-$i" owner)"
		continue
	fi
	echo "$(secs "$t0" "$(now)")" >> "$T/conv"
	o1=$(attr p1 "tr-$i" owner) o2=$(attr p2 "tr-$i" owner)
	c1=$(attr p1 "tr-$i" entryCSN) c2=$(attr p2 "tr-$i" entryCSN)
	why="round $i: a exit $ra, b exit $rb, p1 $o1 $c1, p2 $o2 $c2; $(cat "$T/ta.err" "$T/tb.err" | paste -sd' ')"
	if [ "$o1" != "$o2" ] || [ "$c1" != "$c2" ]; then
		diverged=$((diverged + 1))
		diverged_seen "tr-$i" "$why" "$T/ta.err" "$T/tb.err"
		continue
	fi
	case $o1 in uid=dave,*) want=a ;; uid=erin,*) want=b ;; *) want=none ;; esac
	# a host that said done: its owner stands, or the other host's
	# transfer came after it (that one's audit event: "owner MINE -> ...")
	da=$(reg a "SELECT detail FROM event WHERE action = 'transfer' AND target = 'tr-$i' ORDER BY id DESC LIMIT 1")
	db=$(reg b "SELECT detail FROM event WHERE action = 'transfer' AND target = 'tr-$i' ORDER BY id DESC LIMIT 1")
	if { [ "$ra" = 0 ] && [ "$want" != a ] && ! { [ "$rb" = 0 ] && [[ $db == "owner dave -> erin"* ]]; }; } ||
	   { [ "$rb" = 0 ] && [ "$want" != b ] && ! { [ "$ra" = 0 ] && [[ $da == "owner erin -> dave"* ]]; }; }; then
		bad=$((bad + 1)); nok "$why ($da / $db): a host said done, its owner does not stand"; continue
	fi
	for h in a b; do
		[ "$h" = a ] && r=$ra || r=$rb
		[ "$r" = 0 ] && continue
		# told overwritten (its write stood a moment), or refused by the
		# owner compare and swap (its server held the other's transfer)
		oh=$(reg "$h" "SELECT outcome FROM event WHERE action = 'transfer' AND target = 'tr-$i' ORDER BY id DESC LIMIT 1")
		if grep -q "^nhictl: transfer: identity 'tr-$i' was changed in the directory meanwhile (its owner is no longer uid=alice,.*); nothing done" "$T/t$h.err"; then
			tcas=$((tcas + 1))
			[ "$oh" = conflict ] || { bad=$((bad + 1)); nok "$why: host $h refused, its audit outcome is '$oh', not conflict"; }
		elif grep -q "^nhictl: transfer: the directory now holds owner .*another writer or a replica changed tr-$i" "$T/t$h.err"; then
			[ "$oh" = overwritten ] || { bad=$((bad + 1)); nok "$why: host $h overwritten, its audit outcome is '$oh'"; }
		else
			bad=$((bad + 1)); nok "$why: host $h's failure is neither the overwritten report nor the refusal"
		fi
		[ -s "$T/t$h.out" ] && { bad=$((bad + 1)); nok "$why: host $h failed and printed on stdout"; }
		[ "$(reg "$h" "SELECT owner_dn FROM identity WHERE name = 'tr-$i'")" = "$o1" ] ||
			{ bad=$((bad + 1)); nok "$why: host $h's registry does not hold the owner that stands"; }
	done
	[ "$ra" = 0 ] && ta=$((ta + 1))
	[ "$rb" = 0 ] && tb=$((tb + 1))
	[ "$ra" = 0 ] && [ "$rb" = 0 ] && tboth=$((tboth + 1))
	tovw=$((tovw + $(cat "$T/ta.err" "$T/tb.err" | grep -c '^nhictl: transfer: the directory now holds owner')))
done
t_all1=$(now)
eqv "transfer against transfer, $RR rounds: every outcome honest" 0 "$bad"
echo "# transfer/transfer: $RR rounds in $(secs "$t_all0" "$t_all1") s: host a's stood $ta, host b's $tb (one after the other, both done: $tboth), the loser told overwritten $tovw, refused by the owner compare-and-swap $tcas, servers diverged $diverged; converge $(conv_figures)"
agree owners tr- owner_dn

# ---- directory check compares the servers of ldap_uri ----------------------
nrun on a directory check
grep 'do not hold the same' "$T/out" | sed 's/^/# after the races: /'
# entries the servers hold under two entryCSNs though no round saw their
# values differ: shown with what each server holds, and repaired below
# like the others
SILENT=
for n in $(differing); do
	case " $DIVERGED " in *" $n "*) continue ;; esac
	SILENT="$SILENT${SILENT:+ }$n"
	for s in p1 p2; do
		echo "# same values, two entryCSNs: $n on $s: $(repl_admin "$s" ldapsearch -b "uid=$n,$B" -s base \
			entryCSN nhiState nhiExpires nhiSerial owner description | grep -v '^dn:' | paste -sd' ')"
	done
done
if [ -z "$DIVERGED$SILENT" ]; then
	eqv "directory check after the races: exit 0, the servers hold the same entries" "0 0" \
		"$rc $(grep -c 'do not hold the same entries' "$T/out")"
else
	eqv "directory check after the races: exit 0, says the servers diverged" "0 1" \
		"$rc $(grep -c 'do not hold the same entries' "$T/out")"
fi
# what an admin does about diverged servers: write the entry again on one
# provider (a new entryCSN that replication carries everywhere)
for n in $DIVERGED $SILENT; do
	case $n in
	gr-*) # a grant entry that differs (add against add)
		printf 'dn: nhiGrantId=gr-res,uid=%s,%s\nchangetype: modify\nreplace: nhiScope\nnhiScope: repaired\n' "$n" "$B" ;;
	*)	printf 'dn: uid=%s,%s\nchangetype: modify\nreplace: description\ndescription: repaired\n' "$n" "$B" ;;
	esac | repl_admin p1 ldapmodify >/dev/null
done
if [ -n "$DIVERGED$SILENT" ]; then
	converge "repaired" || true
	expect 0 "written again on p1: directory check" on a directory check
	eqv "written again on p1: the servers agree ($DIVERGED $SILENT)" 0 "$(grep -c 'do not hold the same entries' "$T/out")"
fi
# servers that disagree: a change on p1 alone (partitioned)
repl_partition || nok "partition"
printf 'dn: uid=tr-1,%s\nchangetype: modify\nreplace: description\ndescription: p1 only\n' "$B" |
	repl_admin p1 ldapmodify >/dev/null
expect 0 "p1 and p2 disagree: directory check (exit 0, a warning)" on a directory check
has out "names the entry that differs" \
	"^warning: the servers of ldap_uri do not hold the same entries \(2 differences; uid=tr-1: entryCSN [^ ]+ on [^ ]+, not on [^ ]+\): replication is behind, or the servers diverged"
expect 0 "--json: in the warnings" on a directory check --json
eqv "--json: one warning about it" 1 "$(pyjson 'sum("do not hold the same" in w for w in d["warnings"])')"
repl_heal || nok "heal"
converge "healed" || true
expect 0 "healed: directory check" on a directory check
eqv "healed: no difference left" 0 "$(grep -c 'do not hold the same entries' "$T/out")"
finish

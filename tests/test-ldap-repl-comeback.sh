#!/bin/bash
# Replicated OpenLDAP (issue 17): a removal whose entry comes back.  Plain
# syncrepl re-adds an entry that one provider deletes while another
# changes it (the changed entry arrives whole).  The races of
# tests/test-ldap-repl-remove.sh reach that only by chance; here it is
# made at the very point (the test build's hook remove-settle-exec, after
# the delete and before the wait: the grant entry added again on p1, the
# server written through, as replication would):
# - grant remove: exit 1, one line "the directory now holds its grant ...
#   again", nothing on stdout; the registry holds the grant that stands,
#   the audit log says overwritten;
# - retire, whose cascade removes the grant: the retire says the grant came
#   back and that the next run finishes the removal, exit non-zero, nothing
#   recorded (its intent pending); the next run (sync) finishes it from the
#   intent: retired on both servers, no grant left anywhere, one retire
#   event, no intent left;
# - a grant and a delegation that come back after the retire finished
#   (another host's update through p2, carried to p1 whole): the next sync
#   removes them from both servers and the registry, each with its event,
#   and warns once, naming the identity; the sync after it says nothing.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
. "$top_srcdir/tests/slapd-repl.sh"
[ -x "$NHICTL_FAULTY" ] || { echo "# skip: no $NHICTL_FAULTY"; exit 77; }
repl_test_begin
repl_host a p1 p2
reg() { sqlite3 "$T/a/registry.db" "$1"; }
# comeback NAME: $T/comeback.sh adds NAME's grant entry (as it is now on
# p1) again on p1, once
comeback() {
	repl_admin p1 ldapsearch -b "nhiGrantId=cb-res,uid=$1,$B" -s base '*' > "$T/grant.ldif"
	grep -q '^dn: ' "$T/grant.ldif" || nok "the grant entry of $1 read"
	rm -f "$T/cb.done"
	cat > "$T/comeback.sh" <<-EOF
	#!/bin/sh
	[ -e '$T/cb.done' ] && exit 0
	: > '$T/cb.done'
	LDAPNOINIT=1 ldapadd -H '$REPL_P1_URI' -Y EXTERNAL -Q -f '$T/grant.ldif' >'$T/cb.log' 2>&1
	EOF
	chmod +x "$T/comeback.sh"
}
at_remove() { NHICTL=$NHICTL_FAULTY NHI_TEST_FAULT=remove-settle-exec NHI_TEST_FAULT_EXEC=$T/comeback.sh repl_on a "$@"; }
on_both() { local s; for s in p1 p2; do repl_admin "$s" ldapsearch -b "$1" -s base "$2" 2>/dev/null | sed -n "s/^$2: //p" | paste -sd,; done | paste -sd' '; }

repl_on a resource add cb-res --kind api --uri https://cb.example --owner alice >/dev/null 2>>"$T/setup.err" ||
	nok "resource cb-res ($(cat "$T/setup.err"))"
for n in cb-1 cb-2; do
	repl_on a create "$n" --owner alice --expires +30d >/dev/null 2>>"$T/setup.err" &&
	repl_on a grant add "$n" cb-res --actions read >/dev/null 2>>"$T/setup.err" || nok "create $n with a grant"
done
repl_converge 30 || nok "converged"

# ---- grant remove ----------------------------------------------------------
comeback cb-1
at_remove grant remove cb-1 cb-res >"$T/out" 2>"$T/err"; rc=$?
eqv "grant remove, the grant back: exit 1 ($(paste -sd' ' "$T/err"))" 1 "$rc"
[ -e "$T/cb.done" ] && ok "the hook added the grant again" || nok "the hook ran"
eqv "grant remove: nothing on stdout" "" "$(cat "$T/out")"
eqv "grant remove: one line" 1 "$(grep -c . "$T/err")"
has err "grant remove: says the grant came back" \
	"^nhictl: grant: the directory now holds its grant of cb-1 on cb-res again, with .*: another writer or a replica changed cb-1"
repl_converge 30 || nok "converged after the remove"
eqv "grant remove: the grant stands on p1 and p2" "read read" "$(on_both "nhiGrantId=cb-res,uid=cb-1,$B" nhiAction)"
eqv "grant remove: the registry holds it" 1 \
	"$(reg "SELECT count(*) FROM access a JOIN identity i ON i.id = a.identity_id WHERE i.name = 'cb-1'")"
eqv "grant remove: audited as overwritten" 1 \
	"$(reg "SELECT count(*) FROM event WHERE action = 'grant-remove' AND target = 'cb-1' AND outcome = 'overwritten'")"
eqv "grant remove: no intent left" 0 "$(reg "SELECT count(*) FROM intent")"

# ---- retire: the grant comes back inside its cascade -----------------------
comeback cb-2
at_remove retire cb-2 >"$T/out" 2>"$T/err"; rc=$?
check "retire, the grant back in its cascade: non-zero exit ($rc; $(paste -sd' ' "$T/err"))" test "$rc" -ne 0
[ -e "$T/cb.done" ] && ok "the hook added the grant again" || nok "the hook ran"
eqv "retire: nothing on stdout" "" "$(cat "$T/out")"
has err "retire: says the grant came back, the next run finishes it" \
	"^nhictl: retire: the directory holds its grant of cb-2 on cb-res again, with .*: another writer or a replica changed cb-2 while it was being removed; the next nhictl run finishes the removal$"
eqv "retire: no retire event yet" 0 "$(reg "SELECT count(*) FROM event WHERE action = 'retire' AND target = 'cb-2'")"
check "retire: its intent pending" test "$(reg "SELECT count(*) FROM intent")" -ge 1
repl_converge 30 || nok "converged after the retire"
expect 0 "the next run (sync) finishes the retire" repl_on a sync
repl_converge 30 || nok "converged after the sync"
eqv "retired on p1 and p2" "retired retired" "$(on_both "uid=cb-2,$B" nhiState)"
eqv "no grant of it on p1 or p2" " " "$(on_both "nhiGrantId=cb-res,uid=cb-2,$B" nhiAction)"
eqv "host a's registry: retired, no grant" "retired 0" \
	"$(reg "SELECT state FROM identity WHERE name = 'cb-2'") $(reg "SELECT count(*) FROM access a JOIN identity i ON i.id = a.identity_id WHERE i.name = 'cb-2'")"
eqv "one retire event" 1 \
	"$(reg "SELECT count(*) FROM event WHERE action = 'retire' AND target = 'cb-2' AND outcome IN ('ok', 'recovered')")"
eqv "no intent left" 0 "$(reg "SELECT count(*) FROM intent")"

# ---- retire done, then its grant and delegation come back ------------------
repl_on a create cb-3 --owner alice --expires +30d >/dev/null 2>>"$T/setup.err" &&
	repl_on a grant add cb-3 cb-res --actions read >/dev/null 2>>"$T/setup.err" &&
	repl_on a delegate add cb-3 cb-1 --actions read >/dev/null 2>>"$T/setup.err" ||
	nok "create cb-3 with a grant and a delegation ($(cat "$T/setup.err"))"
repl_converge 30 || nok "converged"
for dn in "nhiGrantId=cb-res,uid=cb-3,$B" "nhiDelegateTo=cb-1,uid=cb-3,$B"; do
	repl_admin p1 ldapsearch -b "$dn" -s base '*' | sed '/^#/d; /^$/d; /^entryCSN:/d; /^entryUUID:/d; /^modifiersName:/d; /^modifyTimestamp:/d; /^creatorsName:/d; /^createTimestamp:/d; /^structuralObjectClass:/d; /^entryDN:/d; /^subschemaSubentry:/d; /^hasSubordinates:/d' >>"$T/edges.ldif"
	echo >>"$T/edges.ldif"
done
eqv "the edge entries of cb-3 read" 2 "$(grep -c '^dn: ' "$T/edges.ldif")"
expect 0 "retire cb-3" repl_on a retire cb-3
repl_converge 30 || nok "converged after the retire"
eqv "retire cb-3: no grant on p1 or p2" " " "$(on_both "nhiGrantId=cb-res,uid=cb-3,$B" nhiAction)"
# another host that had not seen the retire wrote them through p2
LDAPNOINIT=1 ldapadd -H "$REPL_P2_URI" -Y EXTERNAL -Q -f "$T/edges.ldif" >"$T/add.log" 2>&1 ||
	nok "the edges added again on p2 ($(cat "$T/add.log"))"
repl_converge 30 || nok "converged after the edges came back"
eqv "cb-3's grant back on p1 and p2" "read read" "$(on_both "nhiGrantId=cb-res,uid=cb-3,$B" nhiAction)"
nrun repl_on a sync
eqv "sync with a retired identity's edges back: exit 0 ($(paste -sd' ' "$T/err"))" 0 "$rc"
has err "sync: warns once, naming the identity and what it removed" \
	"^nhictl: sync: warning: retired identity cb-3 held grants or delegations written while it was retired .*; removed from the directory \(1 grant, 1 delegation\) and here$"
eqv "sync: one warning line" 1 "$(grep -c 'retired identity' "$T/err")"
repl_converge 30 || nok "converged after the sync"
eqv "no grant of cb-3 on p1 or p2" " " "$(on_both "nhiGrantId=cb-res,uid=cb-3,$B" nhiAction)"
eqv "no delegation of cb-3 on p1 or p2" " " "$(on_both "nhiDelegateTo=cb-1,uid=cb-3,$B" nhiAction)"
eqv "host a's registry: cb-3 retired, no grant, no delegation" "retired 0 0" \
	"$(reg "SELECT state FROM identity WHERE name = 'cb-3'") $(reg "SELECT count(*) FROM access a JOIN identity i ON i.id = a.identity_id WHERE i.name = 'cb-3'") $(reg "SELECT count(*) FROM delegation d JOIN identity i ON i.id = d.from_id WHERE i.name = 'cb-3'")"
eqv "the sync's removals audited (grant-remove, delegate-remove; outcome ok)" "1 1" \
	"$(reg "SELECT count(*) FROM event WHERE action = 'grant-remove' AND target = 'cb-3' AND outcome = 'ok' AND detail LIKE '%removed by sync%'") $(reg "SELECT count(*) FROM event WHERE action = 'delegate-remove' AND target = 'cb-3' AND outcome = 'ok' AND detail LIKE '%removed by sync%'")"
nrun repl_on a sync
eqv "the next sync: exit 0, no warning" "0 0" "$rc $(grep -c 'retired identity' "$T/err")"
finish

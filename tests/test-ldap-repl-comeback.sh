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
#   event, no intent left.
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
finish

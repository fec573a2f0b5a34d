#!/bin/bash
# nhictl audit (owners re-evaluated, usage ingested, findings; orphan_max
# stopping a mass orphaning with nothing changed, --force going ahead;
# owners known by uid: a new user under the old name orphans, an owner
# unlocked brings back what that lock orphaned) and the
# hash-chained audit log (log --verify finds altered and removed rows,
# edited with the sqlite3 shell as an intruder would).
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
ST=$T/state
DB=$ST/registry.db

# two more humans who will leave
echo "erin:x:1004:1004:Erin Leaving:/home/erin:/bin/bash" >>"$T/etc/passwd"
echo "erin:x:1004:" >>"$T/etc/group"
echo 'erin:$y$j9T$x:19000:0:99999:7:::' >>"$T/etc/shadow"
cat >>"$NHI_CONF" <<C
orphan_grace = 2s
never_used_grace = 1s
C

expect 0 "create svc-d owned by dave" nhictl create svc-d --owner dave --expires +30d
expect 0 "create svc-e owned by erin" nhictl create svc-e --owner erin --expires +30d
expect 0 "create svc-s owned by dave, then suspended" nhictl create svc-s --owner dave --expires +30d
expect 0 "suspend svc-s" nhictl suspend svc-s
expect 0 "create svc-u (will be used)" nhictl create svc-u --owner alice --expires +30d --review-every 1s
expect 0 "create svc-x expiring in 1s" nhictl create svc-x --owner alice --expires +1s

# ---- audit with nothing to change ----
g0=$(sqlite3 "$DB" "SELECT value FROM meta WHERE key='generation'")
n0=$(sqlite3 "$DB" "SELECT count(*) FROM event")
expect 0 "audit: all owners live" nhictl audit --json
eqv "nothing orphaned" 0 "$(pyjson 'len(d["orphaned_now"])')"
eqv "audit without changes writes no event" "$n0" "$(sqlite3 "$DB" "SELECT count(*) FROM event")"
eqv "audit without changes does not republish" "$g0" "$(sqlite3 "$DB" "SELECT value FROM meta WHERE key='generation'")"

# ---- owners leave: dave removed from passwd, erin locked ----
sed -i '/^dave:/d' "$T/etc/passwd"
sed -i 's/^erin:\$/erin:!$/' "$T/etc/shadow"

# ---- orphan_max: three at once is more than 2: audit stops, changes nothing ----
echo "orphan_max = 2" >>"$NHI_CONF"
state() { sqlite3 "$DB" .dump | md5sum; cat "$ST"/nhi.cache* 2>/dev/null | md5sum; }
before=$(state)
fails audit 1 "audit past orphan_max: stops, says how many, the limit, the override" \
	'would orphan 3 identities at once, more than orphan_max \(2\); nothing was changed.*--force' \
	nhictl audit
eqv "registry and snapshot unchanged" "$before" "$(state)"
fails audit 1 "audit --json past orphan_max: no half JSON on stdout" 'more than orphan_max' \
	nhictl audit --json
sed -i 's/^orphan_max = .*/orphan_max = 50%/' "$NHI_CONF"
expect 1 "3 of 5 is more than orphan_max = 50%: stops" nhictl audit
has err "the fraction named" 'more than orphan_max \(50% of 5\)'
eqv "registry and snapshot still unchanged" "$before" "$(state)"
# usage records as pam_nhi's session phase writes them
now=$(date +%s)
{
	echo "$((now - 100)) svc-u sshd testhost 10.0.0.1"
	echo "$((now - 50)) svc-u cron testhost -"
	echo "garbage line"
	echo "$((now - 10)) not-registered sshd testhost -"
} >"$ST/usage.log"
chmod 600 "$ST/usage.log"
sleep 2   # svc-x expires, svc-u's review falls due
expect 0 "audit --json --force: past orphan_max" nhictl audit --json --force
eqv "orphaned now: svc-d svc-e svc-s" "svc-d,svc-e,svc-s" "$(pyjson '",".join(sorted(d["orphaned_now"]))')"
eqv "usage records ingested" "3 1" "$(pyjson '"%d %d" % (d["usage_records"], d["usage_malformed"])')"
findings=$(pyjson '" ".join(sorted(f["name"]+":"+f["finding"] for f in d["findings"]))')
for f in svc-d:orphaned svc-e:orphaned svc-s:orphaned svc-s:suspended svc-x:expired \
	svc-u:review-overdue svc-d:never-used; do
	check "finding $f" grep -qw "$f" <<<"$findings"
done
check "svc-u used: no never-used finding" test "${findings/svc-u:never-used/}" = "$findings"
# each finding: a stable code, its OWASP NHI risk, a severity, evidence, a remedy
eqv "svc-d orphaned: code, risk, severity, remedy" "NHI1-ORPHANED NHI1 high nhictl transfer svc-d NEW-OWNER (or nhictl retire svc-d)" \
	"$(pyjson '" ".join("%s %s %s %s" % (f["code"], f["risk"], f["severity"], f["remedy"]) for f in d["findings"] if f["name"] == "svc-d" and f["finding"] == "orphaned")')"
eqv "the counts by severity add up" "$(pyjson 'len(d["findings"])')" "$(pyjson 'sum(d["counts"].values())')"
expect 3 "--fail-on high: an orphaned identity is high: exit 3" nhictl audit --fail-on high
has out "text: severity, code, subject, evidence" '^high +NHI1-ORPHANED +svc-d since .*: owner .dave. is not a live human'
has out "text: the remedy under it" '^ +fix: nhictl transfer svc-d NEW-OWNER'
expect 3 "--fail-on low --json: exit 3, the JSON still printed" nhictl audit --fail-on low --json
eqv "the JSON is whole" 1 "$(pyjson '1 if d["findings"] else 0')"
fails audit 2 "--fail-on with a bad level" "--fail-on: expected low, medium or high, not 'severe'" nhictl audit --fail-on severe
fails audit 2 "--fail-on info is not a gate" "--fail-on: expected low, medium or high" nhictl audit --fail-on info
check "usage.log consumed" test ! -s "$ST/usage.log"
check "no leftover ingest file" test ! -e "$ST/usage.log.ingest"
expect 0 "show svc-u" nhictl show svc-u --json
eqv "last_used = newest record" "$(date -u -d "@$((now - 50))" +%Y-%m-%dT%H:%M:%SZ)" "$(pyjson 'd["last_used"]')"
eqv "usage per host and service" "cron|testhost|1 sshd|testhost|1" \
	"$(sqlite3 "$DB" "SELECT service || '|' || host || '|' || count FROM usage ORDER BY service" | tr '\n' ' ' | sed 's/ $//')"
expect 0 "show svc-d" nhictl show svc-d --json
eqv "svc-d state orphaned, orphaned_since set" "orphaned True" "$(pyjson 'd["state"]+" "+str(d["orphaned_since"] is not None)')"
expect 0 "show svc-s" nhictl show svc-s --json
eqv "suspended stays suspended (orphaned_since set)" "suspended True" "$(pyjson 'd["state"]+" "+str(d["orphaned_since"] is not None)')"
expect 0 "list --orphaned" nhictl list --orphaned --json
eqv "list --orphaned" "svc-d svc-e svc-s" "$(pyjson '" ".join(i["name"] for i in d)')"
expect 0 "log has orphan events" nhictl log --json
check "orphan event names the reason" test "$(pyjson '[e["detail"] for e in d if e["action"]=="orphan" and e["target"]=="svc-d"][0]')" = "owner 'dave': no such user"
check "usage-ingest event" test "$(pyjson 'sum(1 for e in d if e["action"]=="usage-ingest")')" = 1
n1=$(sqlite3 "$DB" "SELECT count(*) FROM event")
expect 0 "audit again: nothing new" nhictl audit
eqv "second audit writes no event" "$n1" "$(sqlite3 "$DB" "SELECT count(*) FROM event")"

# ---- the policy sees it: warning within orphan_grace, denial after ----
nrun nhictl check svc-d --json
if [ "$(pyjson 'd["reason"]')" = ok ]; then
	eqv "within orphan_grace: allowed with a warning" "allow orphaned" "$(pyjson 'd["decision"]+" "+",".join(d["warnings"])')"
fi
sleep 2
expect 1 "after orphan_grace: denied" nhictl check svc-d
has out "reason orphaned" 'deny \(orphaned\)'
fails review 1 "review an orphaned identity" "no live owner" nhictl review svc-d
fails resume 1 "resume an orphaned identity" "orphaned, not suspended" nhictl resume svc-d
expect 0 "resume suspended svc-s whose owner left: orphaned" nhictl resume svc-s
has out "state orphaned" 'svc-s: orphaned'
fails transfer 1 "transfer to the departed owner" "no such user" nhictl transfer svc-d --to dave
expect 0 "transfer svc-d to alice" nhictl transfer svc-d --to alice --json
eqv "transfer clears orphaned" "active alice None" "$(pyjson 'd["state"]+" "+d["owner"]+" "+str(d["orphaned_since"])')"
expect 0 "check after transfer: allowed" nhictl check svc-d

# ---- owners are who they are, not their names (uid recorded) ----
owner_id() { sqlite3 "$DB" "SELECT coalesce(owner_id, 'NULL') || ' ' || orphan_cause FROM identity WHERE name = '$1'"; }
eqv "create recorded the owner's uid" "1000 " "$(owner_id svc-u)"
eqv "svc-e orphaned by erin's lock" "1004 locked" "$(owner_id svc-e)"
eqv "svc-s orphaned because dave was gone" "1003 gone" "$(owner_id svc-s)"
# erin is unlocked (usermod -U), dave comes back with his old uid
sed -i 's/^erin:!\$/erin:$/' "$T/etc/shadow"
echo "dave:x:1003:1003:Dave Dev:/home/dave:/bin/bash" >>"$T/etc/passwd"
# frank and gina, two more humans; a registry row from before the uid was kept
echo "frank:x:1006:1006:Frank:/home/frank:/bin/bash" >>"$T/etc/passwd"
echo "gina:x:1007:1007:Gina:/home/gina:/bin/bash" >>"$T/etc/passwd"
printf '%s:$y$j9T$x:19000:0:99999:7:::\n' frank gina >>"$T/etc/shadow"
expect 0 "create svc-f owned by frank" nhictl create svc-f --owner frank --expires +30d
expect 0 "create svc-g owned by gina" nhictl create svc-g --owner gina --expires +30d
sqlite3 "$DB" "UPDATE identity SET owner_id = NULL WHERE name = 'svc-u'"
expect 0 "audit: erin live again" nhictl audit --json
eqv "svc-e back (orphaned by that lock); svc-s not (its owner was gone)" "svc-e" \
	"$(pyjson '",".join(d["owner_live_again"])')"
expect 0 "show svc-e" nhictl show svc-e --json
eqv "svc-e active, not orphaned" "active None" "$(pyjson 'd["state"]+" "+str(d["orphaned_since"])')"
expect 0 "show svc-s" nhictl show svc-s --json
check "svc-s still orphaned" test "$(pyjson 'd["orphaned_since"] is not None')" = True
eqv "owner-live event says why" "owner live again: 'erin' (uid 1004)" \
	"$(sqlite3 "$DB" "SELECT detail FROM event WHERE action = 'owner-live' AND target = 'svc-e'")"
eqv "a row without the uid: filled while the name resolves" "1000 " "$(owner_id svc-u)"
check "... with an event saying so" test "$(sqlite3 "$DB" "SELECT count(*) FROM event WHERE \
	action = 'owner-id' AND target = 'svc-u' AND detail LIKE '%uid 1000 (recorded now%'")" = 1
# a new frank under another uid is not the owner
sed -i 's/^frank:x:1006:1006:/frank:x:1016:1016:/' "$T/etc/passwd"
# gina is locked, then replaced by a new (live) gina under another uid
sed -i 's/^gina:\$/gina:!$/' "$T/etc/shadow"
expect 0 "audit: frank is another person now, gina locked" nhictl audit --json
eqv "svc-f and svc-g orphaned" "svc-f,svc-g" "$(pyjson '",".join(sorted(d["orphaned_now"]))')"
eqv "svc-f: another person" "1006 other" "$(owner_id svc-f)"
eqv "the event says why" "owner 'frank' is now uid 1016, not uid 1006 the identity was given to: another person under that name" \
	"$(sqlite3 "$DB" "SELECT detail FROM event WHERE action = 'orphan' AND target = 'svc-f'")"
eqv "svc-g: locked" "1007 locked" "$(owner_id svc-g)"
sed -i 's/^gina:x:1007:1007:/gina:x:1017:1017:/' "$T/etc/passwd"
sed -i 's/^gina:!\$/gina:$/' "$T/etc/shadow"
expect 0 "audit: a new, live gina" nhictl audit --json
eqv "svc-g does not come back for a different gina" "" "$(pyjson '",".join(d["owner_live_again"])')"
eqv "svc-g still orphaned by the lock" "1007 locked" "$(owner_id svc-g)"
expect 0 "transfer svc-g to the new gina" nhictl transfer svc-g --to gina
eqv "transfer records the new uid" "1017 " "$(owner_id svc-g)"

# ---- the audit log: intact, then tampered with ----
expect 0 "log --verify: intact" nhictl log --verify --json
eqv "verify json" "True" "$(pyjson 'd["intact"]')"
total=$(sqlite3 "$DB" "SELECT count(*) FROM event")
# tamper SQL...: run log --verify on a copy of the registry changed by SQL
tamper() {
	rm -f "$T/copy.db"*
	sqlite3 "$DB" ".backup '$T/copy.db'"
	sqlite3 "$T/copy.db" "$1"
	printf 'state_dir = %s\nregistry_path = %s\ncache_path = %s\n' "$ST" "$T/copy.db" "$T/copy.cache" \
		>"$T/etc/copy.conf"
	nrun nhictl -c "$T/etc/copy.conf" log --verify
}
tamper "UPDATE event SET detail = 'owner alice -> mallory' WHERE id = 3"
eqv "altered detail: exit 1" 1 "$rc"
has err "names event 3 as altered" '^nhictl: log: audit log tampered: event 3: hash mismatch'
tamper "UPDATE event SET actor = 'nobody' WHERE id = 1"
has err "altered actor of the first event" 'event 1: hash mismatch'
tamper "UPDATE event SET ts = ts + 1 WHERE id = 2"
has err "altered time" 'event 2: hash mismatch'
tamper "DELETE FROM event WHERE id = 4"
eqv "removed row: exit 1" 1 "$rc"
has err "names the missing event 4" 'event 4 is missing'
tamper "DELETE FROM event WHERE id = $total"
has err "newest row removed" 'newest rows removed'
tamper "DELETE FROM event WHERE id = 4; UPDATE event SET id = id - 1 WHERE id > 4"
has err "removed and renumbered" 'event 4: prev_hash does not match'
tamper "UPDATE event SET hash = '$(printf '0%.0s' $(seq 64))' WHERE id = 5"
has err "replaced hash" 'event 5: hash mismatch'
tamper "DELETE FROM event"
has err "whole log removed" 'newest rows removed'
# the chain, computed here from its definition (SHA-256 of the previous
# hash and each column as "<length>:<bytes>\n"): every stored hash is
# what the definition gives, so each covers the one before it
chain() {  # chain DB [K]: check every hash; with K, rewrite event K's detail
	python3 - "$@" <<'PY'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT id, ts, actor, action, target, outcome, detail, prev_hash, hash"
                  " FROM event ORDER BY id").fetchall()
def h(prev, row):
    m = hashlib.sha256(prev.encode())
    for f in [str(row[0]), str(row[1])] + list(row[2:7]):
        b = f.encode()
        m.update(b"%d:" % len(b) + b + b"\n")
    return m.hexdigest()
if len(sys.argv) == 2:
    prev = "0" * 64
    for r in rows:
        if r[7] != prev or h(prev, r) != r[8]:
            sys.exit("event %d: not the defined chain" % r[0])
        prev = r[8]
    print(len(rows))
else:
    # an intruder who knows the scheme: event k altered and hashed again,
    # event k+1's link fixed; only k+1's own hash (which covers the link)
    # can tell
    k = int(sys.argv[2])
    r = list(rows[k - 1]); r[6] = "owner alice -> mallory"
    new = h(r[7], r)
    db.execute("UPDATE event SET detail = ?, hash = ? WHERE id = ?", (r[6], new, k))
    db.execute("UPDATE event SET prev_hash = ? WHERE id = ?", (new, k + 1))
    db.commit()
PY
}
eqv "every stored hash is SHA-256 of the previous one and the event" "$total" "$(chain "$DB")"
cp "$DB" "$T/kat.db"
tamper "SELECT 1"
chain "$T/copy.db" 3
nrun nhictl -c "$T/etc/copy.conf" log --verify
eqv "event 3 rewritten consistently, event 4's link fixed: exit 1" 1 "$rc"
has err "caught at event 4, whose hash covers the link" 'event 4: hash mismatch'
tamper "DELETE FROM event WHERE id = $total; UPDATE meta SET value = value - 1 WHERE key = 'log_count'"
eqv "newest event removed and the count adjusted: exit 1" 1 "$rc"
tamper "SELECT 1"
eqv "an untouched copy verifies" 0 "$rc"
expect 0 "the real log is still intact" nhictl log --verify
has out "event count" "intact: $total events"

# ---- the actor: the audit session's login uid, SUDO_USER only a note ----
# session UID SUDO_USER CMD...: run CMD in a subshell whose login uid is
# UID (root with CAP_AUDIT_CONTROL may set it; 4294967295 unsets it) and
# SUDO_USER that value ("-": unset)
session() {
	local u=$1 s=$2; shift 2
	( echo "$u" >/proc/self/loginuid || exit 99
	  if [ "$s" = - ]; then unset SUDO_USER; else export SUDO_USER=$s; fi
	  "$@" )
}
last_actor() { nhictl log --json >"$T/out" 2>"$T/err"; pyjson 'd[-1]["actor"]'; }
if ( echo 4294967295 >/proc/self/loginuid ) 2>/dev/null; then
	n=0
	for c in "1001 dave|bob (SUDO_USER=dave)" "1000 alice|alice" "1000 -|alice" \
		 "4294967295 dave|root (SUDO_USER=dave)" "4294967295 -|root" \
		 "4321 -|uid 4321" "1003 a;b|dave (SUDO_USER=?)"; do
		u=${c%% *} s=${c#* }; s=${s%%|*}
		n=$((n+1))
		expect 0 "login uid $u, SUDO_USER=$s: create" \
			session "$u" "$s" nhictl create svc-act$n --owner alice --expires +30d
		eqv "login uid $u, SUDO_USER=$s: actor" "${c#*|}" "$(last_actor)"
	done
	expect 0 "log --verify after the actors" nhictl log --verify
	expect 0 "log" nhictl log
	has out "the log's text names the actor with its note" 'bob \(SUDO_USER=dave\)'
else
	ok "# SKIP setting the login uid needs CAP_AUDIT_CONTROL"
fi
finish

#!/bin/bash
# nhictl audit's findings over the registry (issue 15), asserted by code:
# NHI1-EXPIRED-ACCESS, NHI1-STALE (and stale_action = suspend, audited,
# in audit's own transaction; list --stale), NHI3-EXTERNAL-LONG-GRANT,
# NHI3-EXTERNAL-OWNER-LEFT, NHI4-PASSWORD-WITH-KEY, NHI5-OVER-CAP,
# NHI5-WIDENING (through more than one delegation, within the
# delegations' action limits), NHI7-CRED-OLD, NHI7-CRED-NO-EXPIRY,
# NHI7-NOT-ROTATED.  State is built with the real verbs; times in the
# past with short durations and sleep, and usage records as pam_nhi
# writes them.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
ST=$T/state
DB=$ST/registry.db

# erin will leave
echo "erin:x:1004:1004:Erin Leaving:/home/erin:/bin/bash" >>"$T/etc/passwd"
echo "erin:x:1004:" >>"$T/etc/group"
echo 'erin:$y$j9T$x:19000:0:99999:7:::' >>"$T/etc/shadow"
cat >>"$NHI_CONF" <<C
stale_after = 100s
external_grant_max = 30d
max_grants = 2
rotation_interval = 0s
C
# "CODE subject | evidence | remedy" of each finding, one a line
codes() { pyjson '"\n".join("%s %s | %s | %s" % (f["code"], f["name"], f["evidence"], f["remedy"]) for f in d["findings"])' >"$T/codes"; }
# hasf "description" PATTERN / hasnt "description" PATTERN: in $T/codes
hasf() { if grep -Eq -- "$2" "$T/codes"; then ok "$1"; else nok "$1: no /$2/ in: $(cat "$T/codes")"; fi; }
hasnt() { if grep -Eq -- "$2" "$T/codes"; then nok "$1: /$2/ in: $(grep -E -- "$2" "$T/codes")"; else ok "$1"; fi; }
cred_id() { nhictl cred list "$1" --json | python3 -c "import json,sys; print([c['id'] for c in json.load(sys.stdin) if c['kind']=='$2' and c['state']=='active'][0])"; }

for n in agent-a; do
	expect 0 "create $n" nhictl create $n --owner alice --kind agent --expires +60d
done
for n in tool-t tool-u tool-v svc-p svc-k svc-x svc-old svc-fresh svc-clean; do
	expect 0 "create $n" nhictl create $n --owner alice --expires +60d
done
expect 0 "create svc-e owned by erin" nhictl create svc-e --owner erin --expires +60d
expect 0 "resource add crm-db" nhictl resource add crm-db --kind database --uri pg://crm --owner alice
expect 0 "resource add queue" nhictl resource add queue --kind queue --uri amqp://q --owner alice
expect 0 "resource add ext-api --external" nhictl resource add ext-api --kind api \
	--uri https://api.example.com --owner alice --external

# a clean audit first: none of these findings
expect 0 "audit of a clean registry" nhictl audit --json --no-host
codes
hasnt "clean: none of the registry's findings" \
	'^NHI(1-EXPIRED-ACCESS|1-STALE|3-|4-|5-|7-)'
eqv "clean: suspended_now is there, empty" 0 "$(pyjson 'len(d["suspended_now"])')"

# NHI5-WIDENING: agent-a holds read on crm-db; through tool-t it gets
# write; through tool-u (limit read) it reads ext-api; through tool-u ->
# tool-v it reads queue (two hops); tool-v's write-only grant on crm-db is
# outside the read limit: no path
expect 0 "agent-a: read on crm-db" nhictl grant add agent-a crm-db --actions read
expect 0 "tool-t: read,write on crm-db" nhictl grant add tool-t crm-db --actions read,write
expect 0 "tool-u: read on ext-api, 10 days" nhictl grant add tool-u ext-api --actions read --expires +10d
expect 0 "tool-v: read on queue" nhictl grant add tool-v queue --actions read
expect 0 "tool-v: write on crm-db" nhictl grant add tool-v crm-db --actions write
expect 0 "delegate agent-a -> tool-t" nhictl delegate add agent-a tool-t
expect 0 "delegate agent-a -> tool-u, read only" nhictl delegate add agent-a tool-u --actions read
expect 0 "delegate tool-u -> tool-v" nhictl delegate add tool-u tool-v
# NHI3: write on the external resource for 90 days (past 30d), and a read
expect 0 "tool-t: write on ext-api (grant_lifetime 90d)" nhictl grant add tool-t ext-api --actions write
expect 0 "svc-clean: read on ext-api, 90 days" nhictl grant add svc-clean ext-api --actions read
expect 0 "svc-e (erin's): read on ext-api" nhictl grant add svc-e ext-api --actions read
# NHI5-OVER-CAP: tool-t holds 3 grants, max_grants is 2
expect 0 "tool-t: read on queue" nhictl grant add tool-t queue --actions read
# NHI4: a password beside a key
expect 0 "svc-p: ssh-key" nhictl cred add svc-p --kind ssh-key --out "$T/p.key"
expect 0 "svc-p: password" nhictl cred add svc-p --kind password --out "$T/p.pw"
expect 0 "svc-k: ssh-key" nhictl cred add svc-k --kind ssh-key --out "$T/k.key"
expect 0 "svc-k: token" nhictl cred add svc-k --kind token --out "$T/k.tok"
PW=$(cred_id svc-p password)
# NHI1-EXPIRED-ACCESS: svc-x's grant was made for 30 days, then svc-x was
# cut short (extend caps its credentials, not its grants)
expect 0 "svc-x: read on crm-db for 30 days" nhictl grant add svc-x crm-db --actions read --expires +30d
expect 0 "svc-x: ssh-key" nhictl cred add svc-x --kind ssh-key --out "$T/x.key"
expect 0 "svc-x: extend to 2 seconds from now" nhictl extend svc-x --expires +2s
# NHI1-STALE: svc-old last used 1000 s ago, svc-fresh 5 s ago (usage records)
now=$(date +%s)
{
	echo "$((now - 1000)) svc-old sshd testhost -"
	echo "$((now - 5)) svc-fresh sshd testhost -"
} >"$ST/usage.log"
chmod 600 "$ST/usage.log"
sed -i '/^erin:/d' "$T/etc/passwd"
sleep 3

expect 0 "audit --json" nhictl audit --json --no-host
codes
hasf "NHI5-WIDENING: agent-a gets write on crm-db through tool-t, beyond its read" \
	'^NHI5-WIDENING agent-a \| agent-a -> tool-t -> crm-db \(write\) beyond its own grant \| nhictl delegate remove agent-a tool-t \(or, if it is meant to, nhictl grant add agent-a crm-db --actions read,write\)$'
hasf "NHI5-WIDENING: agent-a reads ext-api through tool-u (limit read)" \
	'^NHI5-WIDENING agent-a \| agent-a -> tool-u -> ext-api \(read\) \|'
hasf "NHI5-WIDENING: two hops: agent-a -> tool-u -> tool-v -> queue" \
	'^NHI5-WIDENING agent-a \| agent-a -> tool-u -> tool-v -> queue \(read\) \|'
hasnt "no widening outside the delegation's limit (tool-v's write on crm-db)" 'agent-a -> tool-u -> tool-v -> crm-db'
hasf "but tool-u, without a limit, gets tool-v's write on crm-db" \
	'^NHI5-WIDENING tool-u \| tool-u -> tool-v -> crm-db \(write\) \| nhictl delegate remove tool-u tool-v'
hasf "and tool-v's read on queue" '^NHI5-WIDENING tool-u \| tool-u -> tool-v -> queue \(read\) \|'
hasnt "none for those that delegate nothing (the grantees)" '^NHI5-WIDENING (tool-t|tool-v)'
hasf "NHI3-EXTERNAL-LONG-GRANT: tool-t's write on ext-api, renewed within the limit" \
	'^NHI3-EXTERNAL-LONG-GRANT tool-t \| write on external resource ext-api until .*external_grant_max \(30d\) .*\| nhictl grant add tool-t ext-api --actions write --expires \+30d$'
hasnt "no long-grant for read, nor for write within 10 days" '^NHI3-EXTERNAL-LONG-GRANT (svc-clean|tool-u|svc-e)'
hasf "NHI3-EXTERNAL-OWNER-LEFT: erin's svc-e on ext-api" \
	"^NHI3-EXTERNAL-OWNER-LEFT svc-e \\| read on external resource ext-api; owner 'erin' left \\| nhictl grant remove svc-e ext-api"
eqv "svc-e was orphaned by this audit" svc-e "$(pyjson '",".join(d["orphaned_now"])')"
hasnt "no owner-left for a live owner" '^NHI3-EXTERNAL-OWNER-LEFT (tool|svc-clean)'
hasf "NHI5-OVER-CAP: tool-t holds 3 grants, max_grants 2" \
	'^NHI5-OVER-CAP tool-t \| 3 grants, more than max_grants \(2\)'
hasnt "no over-cap at the cap (agent-a: 1 grant, 2 delegations)" '^NHI5-OVER-CAP agent-a'
hasf "NHI4-PASSWORD-WITH-KEY: svc-p, the password named, revoke it" \
	"^NHI4-PASSWORD-WITH-KEY svc-p \\| password $PW beside ssh-key c[0-9a-f]+ \\| nhictl cred revoke svc-p $PW\$"
hasnt "no password-with-key for key and token" '^NHI4-PASSWORD-WITH-KEY svc-k'
hasf "NHI1-EXPIRED-ACCESS: svc-x's grant on crm-db named (its key was capped)" \
	'^NHI1-EXPIRED-ACCESS svc-x \| 0 credentials, 1 grant on crm-db, 0 delegations still active \| nhictl retire svc-x$'
hasf "NHI1-EXPIRED (and still NHI1-EXPIRED) for svc-x" '^NHI1-EXPIRED svc-x'
hasf "NHI1-STALE: svc-old, last used 1000 s ago" '^NHI1-STALE svc-old \| not used for more than stale_after \(1m40s\), state active \| nhictl retire svc-old \(or nhictl suspend svc-old\)'
hasnt "svc-fresh is not stale" 'STALE svc-fresh'
hasnt "never used is not stale" '^NHI1-STALE (svc-p|svc-k|tool)'
eqv "stale_action = report: nothing suspended" 0 "$(pyjson 'len(d["suspended_now"])')"
eqv "svc-old still active" active "$(sqlite3 "$DB" "SELECT state FROM identity WHERE name='svc-old'")"
hasnt "rotation_interval = 0: no not-rotated" '^NHI7-NOT-ROTATED'
hasnt "no credential old or without expiry yet" '^NHI7-CRED-(OLD|NO-EXPIRY)'
eqv "since of stale: the last use" "$((now - 1000))" \
	"$(pyjson '[f["since"] for f in d["findings"] if f["code"]=="NHI1-STALE"][0]' | python3 -c "import sys,calendar,time; print(calendar.timegm(time.strptime(sys.stdin.read().strip(),'%Y-%m-%dT%H:%M:%SZ')))")"
expect 0 "text: the audit" nhictl audit --no-host
has out "text: widening with its path" '^high +NHI5-WIDENING +agent-a: agent-a -> tool-u -> tool-v -> queue \(read\)'

# list --stale: never used counts from its creation
expect 0 "list --stale 100s: svc-old only" nhictl list --stale 100s --json
eqv "list --stale 100s" svc-old "$(pyjson '",".join(i["name"] for i in d)')"
expect 0 "list --stale 2s: and the never used (created more than 2 s ago)" nhictl list --stale 2s --json
check "list --stale 2s: svc-p (never used) is in" grep -q '"svc-p"' "$T/out"
check "list --stale 2s: svc-fresh (used 5 s ago) is in" grep -q '"svc-fresh"' "$T/out"
expect 0 "list --stale 1h: none" nhictl list --stale 1h
eqv "list --stale 1h: the header only" 1 "$(wc -l <"$T/out")"
fails list 2 "list --stale with a bad duration" "bad --stale 'soon'" nhictl list --stale soon

# ---- NHI5-OVER-CAP of delegations, NHI7 ----
cat >>"$NHI_CONF" <<C
max_delegations = 1
rotation_interval = 2s
max_credential_age = 2s
C
KSSH=$(cred_id svc-k ssh-key)
KTOK=$(cred_id svc-k token)
expect 0 "rotate svc-k's ssh-key" nhictl rotate svc-k --cred "$KSSH" --grace 1h --out "$T/k2.key"
NEW=$(cred_id svc-k ssh-key)
# a directory entry without nhiNotAfter, synced in (backend = ldap), has
# no expiry: nhictl itself never issues one without
sqlite3 "$DB" "UPDATE credential SET not_after = 0 WHERE cred_id = '$KTOK'"
expect 0 "audit --json" nhictl audit --json --no-host
codes
hasf "NHI5-OVER-CAP: agent-a's 2 delegations, max_delegations 1" \
	'^NHI5-OVER-CAP agent-a \| 2 delegations from it, 0 to it, more than max_delegations \(1\) \| nhictl delegate list agent-a'
hasf "NHI7-NOT-ROTATED: svc-k's token" "^NHI7-NOT-ROTATED svc-k \\| token $KTOK not rotated within rotation_interval \\(2s\\) \\| nhictl rotate svc-k --cred $KTOK\$"
hasnt "the rotated key (in grace) and its new one are not" "NOT-ROTATED svc-k \\| ssh-key"
hasf "NHI7-NOT-ROTATED: svc-p's password" "^NHI7-NOT-ROTATED svc-p \\| password $PW"
hasf "NHI7-CRED-OLD: svc-p's password, older than 2s" "^NHI7-CRED-OLD svc-p \\| password $PW is older than max_credential_age \\(2s\\)"
hasnt "the new key is not old" "CRED-OLD svc-k \\| ssh-key $NEW"
hasf "NHI7-CRED-NO-EXPIRY: svc-k's token" "^NHI7-CRED-NO-EXPIRY svc-k \\| token $KTOK has no not-after \\| nhictl rotate svc-k --cred $KTOK\$"
hasnt "only that one has no expiry" "NO-EXPIRY svc-p"
hasnt "retired or expired creds of svc-x: none in NHI7" '^NHI7-[A-Z-]+ svc-x'

# ---- stale_action = suspend: in audit's transaction, audited ----
echo "stale_action = suspend" >>"$NHI_CONF"
n0=$(sqlite3 "$DB" "SELECT count(*) FROM event WHERE action = 'suspend'")
expect 0 "audit --json: suspends svc-old" nhictl audit --json --no-host
eqv "suspended_now: svc-old" svc-old "$(pyjson '",".join(d["suspended_now"])')"
eqv "svc-old is suspended" suspended "$(sqlite3 "$DB" "SELECT state FROM identity WHERE name='svc-old'")"
eqv "one suspend event" "$((n0 + 1))" "$(sqlite3 "$DB" "SELECT count(*) FROM event WHERE action = 'suspend'")"
eqv "its detail: why" 1 "$(sqlite3 "$DB" "SELECT count(*) FROM event WHERE action = 'suspend' AND target = 'svc-old' AND detail LIKE 'state active -> suspended: stale (last used %stale_action = suspend)%'")"
codes
hasf "still NHI1-STALE, remedy retire" '^NHI1-STALE svc-old \| .*state suspended \| nhictl retire svc-old$'
hasf "and NHI1-SUSPENDED" '^NHI1-SUSPENDED svc-old'
expect 0 "log --verify: the chain holds" nhictl log --verify
expect 0 "audit again: nothing more to suspend" nhictl audit --no-host
check "text: no suspended now line" sh -c "! grep -q 'suspended now' '$T/out'"
eqv "svc-fresh still active" active "$(sqlite3 "$DB" "SELECT state FROM identity WHERE name='svc-fresh'")"
sed -i 's/^stale_action = suspend/stale_action = report/' "$NHI_CONF"

# the text form of a suspension
now=$(date +%s)
echo "$((now - 500)) tool-v sshd testhost -" >"$ST/usage.log"
chmod 600 "$ST/usage.log"
echo "stale_action = suspend" >>"$NHI_CONF"
expect 0 "audit (text): suspends tool-v" nhictl audit --no-host
has out "text: suspended now: NAME" '^suspended now: tool-v \(stale: last used '

finish

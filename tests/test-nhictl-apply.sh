#!/bin/bash
# nhictl apply (issue 16) with the real nhictl on backend = local: from
# empty; an unchanged re-apply (exit 0, --changed-exit); changes of owner,
# expiry, purpose, labels, hosts and services; --dry-run changes nothing
# (registry and audit log); a file with many errors reports each with
# FILE:LINE:COL and applies nothing; JSON input and stdin; a failure in
# the middle leaves nothing applied; --prune retires only what apply
# created; apply_max_retire stops, --force passes; examples/apply.yaml.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"

ST=$T/state
cat >>"$NHI_CONF" <<C
grant_lifetime = 10d
grant_max_lifetime = 60d
delegation_lifetime = 5d
delegation_max_lifetime = 20d
C
rows() { sqlite3 "$ST/registry.db" "SELECT count(*) FROM $1"; }
q() { sqlite3 "$ST/registry.db" "$1"; }
F=$T/fleet.yaml

cat >"$F" <<'Y'
identities:
  - name: app-x
    owner: alice
    expires: 2027-06-30
    purpose: the shop
    review_interval: 30d
    hosts: [web1, web2]
    services: [sshd]
    labels: {env: prod}
  - name: agent-y
    kind: agent
    owner: dave
    expires: 60d
resources:
  - name: db1
    kind: database
    uri: postgres://db1/shop
    owner: alice    # the database's
    data_class: pii
grants:
  - identity: app-x
    resource: db1
    actions: read,write
    scopes: [orders]
delegations:
  - from: agent-y
    to: app-x
    actions: [read]
    reason: reports
Y

# ---- help, usage ----
expect 0 "apply --help" nhictl apply --help
has out "its usage" "usage: nhictl apply -f FILE"
fails apply 2 "no -f" "-f FILE is required" nhictl apply

# ---- --dry-run on an empty registry: the plan, nothing written ----
nhictl list >/dev/null 2>&1   # the registry exists
EV0=$(rows event)
expect 0 "dry run" nhictl apply -f "$F" --dry-run
has out "plan: + identity app-x" '^\+ identity app-x$'
has out "plan: + grant app-x db1" '^\+ grant app-x db1$'
has out "plan: + delegation agent-y -> app-x" '^\+ delegation agent-y -> app-x$'
eqv "dry run: no identity" 0 "$(rows identity)"
eqv "dry run: no audit event" "$EV0" "$(rows event)"
expect 3 "dry run with --changed-exit 3: would change" nhictl apply -f "$F" --dry-run --changed-exit 3

# ---- from empty ----
expect 0 "apply from empty" nhictl apply -f "$F"
eqv "2 identities" 2 "$(rows identity)"
eqv "app-x owner" alice "$(q "SELECT owner FROM identity WHERE name='app-x'")"
eqv "app-x labels" "env=prod" "$(q "SELECT labels FROM identity WHERE name='app-x'")"
eqv "a grant" "1" "$(rows access)"
eqv "a delegation" "1" "$(rows delegation)"
eqv "one audit event per change (create x2, resource, grant, delegation)" 5 \
	"$(( $(rows event) - EV0 ))"
expect 0 "show app-x" nhictl show app-x --json
eqv "app-x expires as stated" "2027-06-30T00:00:00Z" "$(pyjson 'd["expires"]')"
eqv "app-x hosts" "web1,web2" "$(pyjson '",".join(sorted(d["hosts"]))' 2>/dev/null || pyjson 'd["hosts"]')"
EXP_Y=$(q "SELECT expires FROM identity WHERE name='agent-y'")

# ---- unchanged re-apply ----
EV1=$(rows event)
expect 0 "re-apply: exit 0" nhictl apply -f "$F"
has out "nothing to change" '^nothing to change$'
expect 0 "re-apply with --changed-exit 4: still 0" nhictl --changed-exit 4 apply -f "$F"
expect 0 "re-apply --changed-exit on the verb: still 0" nhictl apply -f "$F" --changed-exit 4
expect 0 "re-apply --json" nhictl apply -f "$F" --json
eqv "json: changed false" False "$(pyjson 'd["changed"]')"
eqv "json: empty plan" 0 "$(pyjson 'len(d["plan"])')"
eqv "re-apply wrote no event" "$EV1" "$(rows event)"
eqv "a duration is not re-evaluated" "$EXP_Y" "$(q "SELECT expires FROM identity WHERE name='agent-y'")"

# ---- changes ----
sed -i -e 's/owner: alice$/owner: dave/' -e 's/2027-06-30/2027-05-31/' -e 's/the shop/the new shop/' \
	-e 's/{env: prod}/{env: prod, team: web}/' -e 's/\[web1, web2\]/[web1]/' \
	-e 's/services: \[sshd\]/services: [sshd, cron]/' "$F"
expect 0 "--dry-run --json shows each field" nhictl apply -f "$F" --dry-run --json
eqv "json: changed" True "$(pyjson 'd["changed"]')"
eqv "json: dry_run" True "$(pyjson 'd["dry_run"]')"
expect 0 "--dry-run shows each field" nhictl apply -f "$F" --dry-run
has out "owner change" '^~ identity app-x owner: alice -> dave$'
has out "expiry change" '^~ identity app-x expires: 2027-06-30T00:00:00Z -> 2027-05-31T00:00:00Z$'
has out "purpose change" "^~ identity app-x purpose: the shop -> the new shop$"
has out "labels change" '^~ identity app-x labels: env=prod -> env=prod,team=web$'
has out "hosts change" '^~ identity app-x hosts: web1,web2 -> web1$'
has out "services change" '^~ identity app-x services: sshd -> cron,sshd$'
eqv "dry run left the owner" alice "$(q "SELECT owner FROM identity WHERE name='app-x'")"
EV2=$(rows event)
expect 5 "apply the changes, --changed-exit 5" nhictl --changed-exit 5 apply -f "$F"
eqv "one event for the identity's change" $((EV2 + 1)) "$(rows event)"
expect 0 "show app-x" nhictl show app-x --json
eqv "owner now dave" dave "$(pyjson 'd["owner"]')"
eqv "expiry now" "2027-05-31T00:00:00Z" "$(pyjson 'd["expires"]')"
eqv "labels now" "env=prod,team=web" "$(q "SELECT labels FROM identity WHERE name='app-x'")"
eqv "purpose now" "the new shop" "$(pyjson 'd["purpose"]')"
eqv "hosts now" "['web1']" "$(pyjson 'd["hosts"]')"
eqv "services now" "['cron', 'sshd']" "$(pyjson 'sorted(d["services"])')"
expect 0 "and re-applied: nothing" nhictl apply -f "$F"
has out "nothing to change" '^nothing to change$'
# a duration only shortens
sed -i 's/expires: 60d/expires: 10d/' "$F"
expect 0 "a shorter duration shortens" nhictl apply -f "$F" --dry-run
has out "agent-y shortened" '^~ identity agent-y expires: '
# a grant's scope
sed -i 's/scopes: \[orders\]/scopes: [orders, refunds]/' "$F"
expect 0 "scope change" nhictl apply -f "$F"
has out "grant scopes" '^~ grant app-x db1 scopes: orders -> orders,refunds$'
eqv "scopes stored" "orders,refunds" "$(q "SELECT scopes FROM access")"
expect 0 "nothing left" nhictl apply -f "$F"
has out "nothing to change" '^nothing to change$'

# ---- a bad file: every error, line:col, nothing applied ----
cat >"$T/bad.yaml" <<'Y'
identities:
  - name: Bad_Name
    owner: alice
    expires: 30d
  - name: app-new
    owner: nobody-here
    expires: someday
    colour: blue
    hosts: web1
  - name: app-new
    owner: bob
    expires: 30d
resources:
  - name: r1
    kind: db
    uri: "x y"
    owner: alice
    data_class: topsecret
grants:
  - identity: ghost
    resource: r1
    actions: read,fly
delegations:
  - from: app-x
    to: nobody2
Y
EV3=$(rows event); NI=$(rows identity)
nrun nhictl apply -f "$T/bad.yaml"
eqv "bad file: exit 1" 1 "$rc"
has err "bad name at 2:11" "^nhictl: apply: $T/bad.yaml:2:11: invalid identity name 'Bad_Name'"
has err "unknown owner at 6:12" "^nhictl: apply: $T/bad.yaml:6:12: owner 'nobody-here': no such user$"
has err "bad date at 7:14" "^nhictl: apply: $T/bad.yaml:7:14: bad expires 'someday'"
has err "unknown key at 8:5" "^nhictl: apply: $T/bad.yaml:8:5: unknown key 'colour'"
has err "wrong type at 9:12" "^nhictl: apply: $T/bad.yaml:9:12: 'hosts' must be a list"
has err "duplicate name at 10:11" "^nhictl: apply: $T/bad.yaml:10:11: identity 'app-new' given twice"
has err "locked owner at 11:12" "^nhictl: apply: $T/bad.yaml:11:12: owner 'bob'"
has err "bad uri at 16:10" "^nhictl: apply: $T/bad.yaml:16:10: bad uri"
has err "bad data class at 18:17" "^nhictl: apply: $T/bad.yaml:18:17: bad data_class"
has err "unknown identity in a grant at 20:15" "^nhictl: apply: $T/bad.yaml:20:15: identity 'ghost' is neither"
has err "bad action at 22:14" "^nhictl: apply: $T/bad.yaml:22:14: bad actions 'read,fly'"
has err "unknown identity in a delegation at 25:9" "^nhictl: apply: $T/bad.yaml:25:9: identity 'nobody2'"
has err "the summary" "nothing was applied$"
eqv "nothing written (events)" "$EV3" "$(rows event)"
eqv "nothing written (identities)" "$NI" "$(rows identity)"
# Linux-PAM lower-cases the service name: an upper-case one never matches
printf 'identities:\n  - name: app-svc\n    owner: alice\n    expires: 30d\n    services: [sshd, CRON]\n' >"$T/upper.yaml"
nrun nhictl apply -f "$T/upper.yaml"
eqv "services: [sshd, CRON]: exit 1" 1 "$rc"
has err "the upper-case service named at its place" \
	"^nhictl: apply: $T/upper.yaml:5:22: PAM service 'CRON' would never match: Linux-PAM lower-cases"
eqv "... nothing written" "$NI" "$(rows identity)"
printf 'identities:\n  - name: a\n    owner: [alice\n' >"$T/syntax.yaml"
nrun nhictl apply -f "$T/syntax.yaml"
eqv "syntax error: exit 1" 1 "$rc"
has err "syntax error with line:col" "^nhictl: apply: $T/syntax.yaml:[0-9]+:[0-9]+: syntax: "
# a newline inside a quoted key or value stays on its error's line (found
# by fuzz/fuzz-applyfile); a top-level list given twice is an error also
# when the first one is empty
printf 'identities:\n  - {"colour\\nnhictl: apply: forged": 1, name: "a\\nb", owner: alice, expires: 30d}\n' >"$T/nl.yaml"
nrun nhictl apply -f "$T/nl.yaml"
eqv "newlines: exit 1" 1 "$rc"
eqv "every error line is one message" 0 "$(grep -vc '^nhictl: apply: ' "$T/err")"
has err "the key, made one line" "^nhictl: apply: $T/nl.yaml:2:6: unknown key 'colour\?nhictl: apply: forged'"
has err "the name, made one line" "^nhictl: apply: $T/nl.yaml:2:[0-9]+: invalid identity name 'a\?b'"
printf 'identities: []\nidentities:\n  - {name: app-dup, owner: alice, expires: 30d}\n' >"$T/dup.yaml"
nrun nhictl apply -f "$T/dup.yaml" --dry-run
eqv "identities twice: exit 1" 1 "$rc"
has err "identities given twice after an empty one" "^nhictl: apply: $T/dup.yaml:2:1: key 'identities' given twice"
printf 'identities:\n  - name: app-dup\n    owner: alice\n    expires: 30d\n    labels: {env: a, env: b}\n' >"$T/duplabel.yaml"
nrun nhictl apply -f "$T/duplabel.yaml" --dry-run
eqv "a label key twice: exit 1" 1 "$rc"
has err "  ... at the second, both named" "^nhictl: apply: $T/duplabel.yaml:5:[0-9]+: label key 'env' given twice \('env=a', 'env=b'\)"

# ---- JSON input, stdin ----
cat >"$T/fleet.json" <<'J'
{"identities": [{"name": "app-j", "owner": "alice", "expires": "2027-03-01",
                 "labels": {"env": "dev"}}],
 "grants": [{"identity": "app-j", "resource": "db1", "actions": ["read"]}]}
J
expect 0 "a JSON document" nhictl apply -f "$T/fleet.json"
has out "app-j created" '^\+ identity app-j$'
eqv "app-j's grant" 1 "$(q "SELECT count(*) FROM access a JOIN identity i ON i.id = a.identity_id WHERE i.name='app-j'")"
nrun nhictl apply -f - <"$T/fleet.json"
eqv "from stdin: exit 0" 0 "$rc"
has out "stdin: nothing to change" '^nothing to change$'
printf 'identities: 5\n' | nhictl apply -f - 2>"$T/err" >/dev/null
has err "stdin errors are named <stdin>" "^nhictl: apply: <stdin>:1:13: 'identities' must be a list"

# ---- all or nothing: the 2nd of 3 changes fails ----
cat >"$T/three.yaml" <<'Y'
resources:
  - {name: r-one, kind: api, uri: "https://one", owner: alice}
  - {name: r-two, kind: api, uri: "https://two", owner: alice}
  - {name: r-three, kind: api, uri: "https://three", owner: alice}
Y
q "CREATE TRIGGER fail_two BEFORE INSERT ON resource WHEN NEW.name = 'r-two' BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
EV4=$(rows event); NR=$(rows resource)
expect 1 "a failing 2nd change" nhictl apply -f "$T/three.yaml"
has err "says why" "injected failure"
eqv "no resource written" "$NR" "$(rows resource)"
eqv "no event written" "$EV4" "$(rows event)"
q "DROP TRIGGER fail_two"
expect 0 "then it applies" nhictl apply -f "$T/three.yaml"
eqv "3 resources more" $((NR + 3)) "$(rows resource)"

# ---- --prune: only what apply created ----
expect 0 "a hand-made identity" nhictl create hand-made --owner alice --expires +30d
expect 0 "a hand-made resource" nhictl resource add hand-res --kind api --uri https://h --owner alice
expect 0 "a hand-made grant on r-one (an applied resource)" nhictl grant add hand-made r-one \
	--actions read
cat >"$T/small.yaml" <<'Y'
identities:
  - {name: app-x, owner: dave, expires: 2027-05-31}
resources:
  - {name: db1, kind: database, uri: "postgres://db1/shop", owner: alice, data_class: pii}
Y
expect 0 "without --prune nothing goes" nhictl apply -f "$T/small.yaml"
eqv "agent-y still active" active "$(q "SELECT state FROM identity WHERE name='agent-y'")"
cat >>"$NHI_CONF" <<C
apply_max_retire = 2
C
expect 1 "--prune past apply_max_retire stops" nhictl apply -f "$T/small.yaml" --prune
has err "names the key" "apply_max_retire \(2\); nothing was changed"
eqv "agent-y still active after the stop" active "$(q "SELECT state FROM identity WHERE name='agent-y'")"
expect 0 "--prune --dry-run lists what goes" nhictl apply -f "$T/small.yaml" --prune --dry-run --force
has out "agent-y retired" '^- identity agent-y$'
has out "app-j retired" '^- identity app-j$'
has out "r-one removed" '^- resource r-one$'
has out "the grant removed" '^- grant app-x db1$'
has out "the delegation removed" '^- delegation agent-y -> app-x$'
has out "the hand-made grant on r-one goes with it, in the plan" '^- grant hand-made r-one$'
if grep -v '^- grant hand-made r-one$' "$T/out" | grep -q 'hand-made\|hand-res'; then
	nok "prune names a hand-made object"; else ok "prune leaves hand-made objects"; fi
expect 0 "--prune --force" nhictl apply -f "$T/small.yaml" --prune --force
eqv "agent-y retired" retired "$(q "SELECT state FROM identity WHERE name='agent-y'")"
eqv "hand-made stays" active "$(q "SELECT state FROM identity WHERE name='hand-made'")"
eqv "hand-res stays" 1 "$(q "SELECT count(*) FROM resource WHERE name='hand-res'")"
eqv "r-one removed" 0 "$(q "SELECT count(*) FROM resource WHERE name='r-one'")"
eqv "the hand-made grant removed, with its event" "0 1" \
	"$(q "SELECT count(*) FROM access a JOIN identity i ON i.id = a.identity_id WHERE i.name = 'hand-made'") $(q "SELECT count(*) FROM event WHERE action = 'grant-remove' AND target = 'hand-made'")"
expect 0 "pruned: nothing left to do" nhictl apply -f "$T/small.yaml" --prune
has out "nothing to change" '^nothing to change$'

# ---- README.md's "Declarative state" example, and its plan as shown ----
sed -n '/^    # fleet.yaml$/,/^$/s/^    //p' "$top_srcdir/README.md" >"$T/readme.yaml"
expect 0 "README's example: dry run" nhictl apply -f "$T/readme.yaml" --dry-run
for l in "+ identity billing-api" "+ resource billing-db" "+ grant billing-api billing-db" \
	"(dry run: nothing changed)"; do
	check "README's plan: $l" grep -qxF "$l" "$T/out"
	check "README shows: $l" grep -qxF "    $l" "$top_srcdir/README.md"
done
expect 0 "README's example applies" nhictl apply -f "$T/readme.yaml"
expect 0 "and again" nhictl apply -f "$T/readme.yaml"
has out "nothing to change" '^nothing to change$'

# ---- the example of the README ----
expect 0 "examples/apply.yaml applies" nhictl apply -f "$top_srcdir/examples/apply.yaml"
expect 0 "and again: nothing" nhictl apply -f "$top_srcdir/examples/apply.yaml"
has out "nothing to change" '^nothing to change$'

expect 0 "the audit log is intact" nhictl log --verify
finish

#!/bin/bash
# nhictl reach, who-can, chain and graph (issue 14) on a small fleet built
# with the real verbs (resource, grant, delegate): a 3-hop chain, a
# delegation's action limit narrowing a grant, a suspended tool cutting
# the path (named), an expired delegation, a revoked credential under a
# bound grant, a cycle A -> B -> A reported once, who-can --action, the
# chain lines, the expiry as the earliest on the path, the graph as JSON
# Graph Format v2 (checked with python) and as DOT (rendered by dot).
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
DB=$T/state/registry.db
A=$'\xe2\x86\x92'   # →

# ---- the fleet --------------------------------------------------------------
for n in agent-a agent-b; do
	expect 0 "create $n (agent)" nhictl create $n --kind agent --owner alice --expires +30d
done
for n in tool-x tool-y tool-s tool-z; do
	expect 0 "create $n" nhictl create $n --owner dave --expires +30d
done
expect 0 "resource crm-db (pii)" nhictl resource add crm-db --kind database \
	--uri postgres://crm.example/crm --owner alice --data-class pii
expect 0 "resource webhook (external)" nhictl resource add webhook --kind api \
	--uri https://hooks.example.net/in --owner alice --external
expect 0 "resource billing" nhictl resource add billing --kind api --uri https://billing.example/ --owner dave
expect 0 "resource ledger" nhictl resource add ledger --kind database --uri postgres://ledger/ --owner dave
expect 0 "a token of tool-y" nhictl cred add tool-y --kind token --json
TOK=$(pyjson 'd["id"]')
expect 0 "grant tool-x crm-db read,write" nhictl grant add tool-x crm-db --actions read,write
expect 0 "grant tool-y webhook write" nhictl grant add tool-y webhook --actions write --expires +20d
expect 0 "grant tool-y billing write,exec, bound to its token" \
	nhictl grant add tool-y billing --actions write,exec --cred "$TOK"
expect 0 "grant tool-s ledger read,write" nhictl grant add tool-s ledger --actions read,write
expect 0 "grant tool-z billing admin" nhictl grant add tool-z billing --actions admin
expect 0 "delegate agent-a -> agent-b" nhictl delegate add agent-a agent-b
expect 0 "delegate agent-b -> agent-a (a cycle)" nhictl delegate add agent-b agent-a
expect 0 "delegate agent-b -> tool-x, limited to read" nhictl delegate add agent-b tool-x --actions read
expect 0 "delegate agent-a -> tool-y" nhictl delegate add agent-a tool-y --expires +10d
expect 0 "delegate agent-a -> tool-s" nhictl delegate add agent-a tool-s
expect 0 "delegate agent-a -> tool-z, expiring in 2s" nhictl delegate add agent-a tool-z --expires +2s
expect 0 "suspend tool-s" nhictl suspend tool-s

# ---- chain: before anything is cut (the token is live) ------------------------
expect 0 "chain agent-a" nhictl chain agent-a
has out "chain line: pii source, agent, tool, external system (write), flagged" \
	"^crm-db $A agent-a $A tool-y $A webhook \(write\)  ! pii data to an external system\$"
has out "chain line through the bound credential" \
	"^crm-db $A agent-a $A tool-y\[$TOK\] $A billing \(write,exec\)\$"
check "no chain from a source to itself" bash -c "! grep -q '$A crm-db (' '$T/out'"
has out "the suspended tool's path is left out and counted" "cut paths? left out"
expect 0 "chain agent-a --json" nhictl chain agent-a --json
eqv "chain --json: the sources" "crm-db" "$(pyjson '",".join(s["resource"] for s in d["sources"])')"
eqv "chain --json: through agent-a, tool-y to webhook" "agent-a,tool-y" \
	"$(pyjson '",".join([",".join(c["through"]) for c in d["chains"] if c["system"] == "webhook"])')"
eqv "chain --json: pii to external flagged" "True" \
	"$(pyjson '[c["sensitive_to_external"] for c in d["chains"] if c["system"] == "webhook"][0]')"

sleep 3   # agent-a -> tool-z expires

# ---- reach ----------------------------------------------------------------------
expect 0 "reach agent-a --json" nhictl reach agent-a --json
cp "$T/out" "$T/reach.json"
path() {   # RESOURCE: "identity,identity,... actions live cut-type cut-at why"
	python3 - "$T/reach.json" "$1" <<-'EOF'
	import json, sys
	d = json.load(open(sys.argv[1]))
	for p in d["paths"]:
	    if p["resource"] == sys.argv[2]:
	        c = p["cut"] or {}
	        print(",".join(h["identity"] for h in p["path"] if "identity" in h),
	              ",".join(p["actions"]), p["live"], c.get("type"), c.get("at"), c.get("why"))
	EOF
}
eqv "3-hop chain to crm-db, narrowed to read by the delegation's limit" \
	"agent-a,agent-b,tool-x read True None None None" "$(path crm-db)"
eqv "the suspended tool cuts the path to ledger, named" \
	"agent-a,tool-s read,write False identity tool-s suspended" "$(path ledger)"
eqv "the expired delegation cuts the path to billing through tool-z, named" \
	"agent-a,tool-z admin False delegation agent-a $A tool-z expired" "$(path billing | grep tool-z)"
eqv "the bound token's path to billing is live" \
	"agent-a,tool-y write,exec True None None None" "$(path billing | grep tool-y)"
eqv "the cycle reported once" "agent-a $A agent-b $A agent-a" "$(pyjson '"|".join(d["cycles"])')"
eqv "counts: 4 resources, 3 live, 2 cut" "4 3 2" "$(pyjson '"%d %d %d" % (d["resources"], d["live"], d["cut"])')"
# the expiry is the earliest on the path: here the delegation agent-a -> tool-y (+10d)
dexp=$(sqlite3 "$DB" "SELECT d.expires FROM delegation d JOIN identity f ON f.id = d.from_id
	JOIN identity t ON t.id = d.to_id WHERE f.name = 'agent-a' AND t.name = 'tool-y'")
eqv "expiry of agent-a -> tool-y -> webhook: the delegation's" \
	"$(date -u -d "@$dexp" +%Y-%m-%dT%H:%M:%SZ)" \
	"$(pyjson '[p["expires"] for p in d["paths"] if p["resource"] == "webhook"][0]')"
eqv "the bound grant's hop names its credential" "$TOK" \
	"$(pyjson '[p["path"][-1]["grant"]["credential"] for p in d["paths"] if p["resource"] == "billing" and p["live"]][0]')"
expect 0 "tool-x reach: its own grant, read,write" nhictl reach tool-x --json
eqv "tool-x holds read,write itself" "read,write" "$(pyjson '",".join(d["paths"][0]["actions"])')"

expect 0 "reach agent-a (text)" nhictl reach agent-a
has out "text: the 3-hop path" "^crm-db +read +[0-9T:Z-]+ agent-a $A agent-b $A tool-x $A crm-db\$"
has out "text: the cut at the suspended tool" "agent-a $A tool-s $A ledger  CUT at tool-s: suspended\$"
has out "text: the cut at the expired delegation" "CUT at delegation agent-a $A tool-z: expired\$"
eqv "text: one cycle line" 1 "$(grep -c '^cycle' "$T/out")"
has out "text: the summary" "^agent-a can reach 4 resources: 5 paths, 3 live, 2 cut\$"
expect 0 "reach agent-b" nhictl reach agent-b
eqv "from agent-b the same cycle, once" 1 "$(grep -c "^cycle (not followed twice): agent-b $A agent-a $A agent-b\$" "$T/out")"

# ---- a revoked credential cuts its grant's path -----------------------------------
expect 0 "revoke tool-y's token" nhictl cred revoke tool-y "$TOK"
expect 0 "reach agent-a --json" nhictl reach agent-a --json
cp "$T/out" "$T/reach.json"
eqv "the revoked token cuts the path to billing" \
	"agent-a,tool-y write,exec False credential $TOK revoked" "$(path billing | grep tool-y)"

# ---- who-can --------------------------------------------------------------------
expect 0 "who-can crm-db --action write --json" nhictl who-can crm-db --action write --json
eqv "only tool-x can write crm-db (the agents are limited to read)" "tool-x" \
	"$(pyjson '",".join(p["identity"] for p in d["paths"])')"
expect 0 "who-can crm-db --action read --json" nhictl who-can crm-db --action read --json
eqv "read: agent-a (via agent-b), agent-b, tool-x, with owners" \
	"agent-a:alice:agent-a>agent-b>tool-x agent-b:alice:agent-b>tool-x tool-x:dave:tool-x" \
	"$(pyjson '" ".join(p["identity"] + ":" + p["owner"] + ":" + ">".join(h["identity"] for h in p["path"] if "identity" in h) for p in d["paths"])')"
eqv "who-can reports the cycle met on the way" "agent-b $A agent-a $A agent-b" "$(pyjson '"|".join(d["cycles"])')"
expect 0 "who-can billing --json (two grants, both behind the cycle)" nhictl who-can billing --json
eqv "the cycle met from both grants is reported once" "agent-a $A agent-b $A agent-a" "$(pyjson '"|".join(d["cycles"])')"
expect 0 "who-can ledger (text)" nhictl who-can ledger
has out "text: the resource, then its identities" "^ledger \(database, internal, owner dave\): 3 identities can reach it: 3 paths, 0 live, 3 cut\$"
has out "text: agent-a through the suspended tool, cut" \
	"^agent-a +alice +read,write .*agent-a $A tool-s $A ledger  CUT at tool-s: suspended\$"

# ---- graph --------------------------------------------------------------------------
expect 0 "graph --format json" nhictl graph --format json
check "JSON Graph Format v2: nodes an object, edges a list, every end a node, relations known" \
	python3 - "$T/out" <<-'EOF'
	import json, sys
	g = json.load(open(sys.argv[1]))["graph"]
	assert isinstance(g["nodes"], dict) and isinstance(g["edges"], list)
	for k, n in g["nodes"].items():
	    assert isinstance(n["label"], str) and n["metadata"]["type"] == k.split(":")[0], k
	for e in g["edges"]:
	    assert e["source"] in g["nodes"] and e["target"] in g["nodes"], e
	rel = {e["relation"] for e in g["edges"]}
	assert rel == {"owner", "grant", "delegation", "holds-credential"}, rel
	kinds = {k.split(":")[0] for k in g["nodes"]}
	assert kinds == {"identity", "resource", "credential", "owner"}, kinds
	EOF
eqv "graph: the suspended tool is cut" "suspended" "$(pyjson 'd["graph"]["nodes"]["identity:tool-s"]["metadata"]["cut"]')"
eqv "graph: the expired delegation is cut" "expired" \
	"$(pyjson '[e["metadata"]["cut"] for e in d["graph"]["edges"] if e["relation"] == "delegation" and e["target"] == "identity:tool-z"][0]')"
eqv "graph: the bound grant starts at the credential" "credential:$TOK" \
	"$(pyjson '[e["source"] for e in d["graph"]["edges"] if e["relation"] == "grant" and e["target"] == "resource:billing" and e["metadata"]["identity"] == "tool-y"][0]')"
eqv "graph: the delegation to tool-x limited to read" "read" \
	"$(pyjson '",".join(",".join(e["metadata"]["actions"]) for e in d["graph"]["edges"] if e["relation"] == "delegation" and e["target"] == "identity:tool-x")')"
expect 0 "graph tool-x: only what tool-x reaches" nhictl graph tool-x --format json
eqv "graph tool-x: its nodes" "identity:tool-x owner:alice owner:dave resource:crm-db" \
	"$(pyjson '" ".join(sorted(d["graph"]["nodes"]))')"
expect 0 "graph --format dot" nhictl graph --format dot
cp "$T/out" "$T/g.dot"
has out "DOT: the suspended tool drawn dashed and red" '^  "identity:tool-s" .*\(suspended\).*color=red.*style="dashed'
has out "DOT: the expired delegation dashed and red" \
	'^  "identity:agent-a" -> "identity:tool-z" .*style=dashed.*color=red'
if command -v dot >/dev/null; then
	check "dot -Tsvg renders it" bash -c "dot -Tsvg '$T/g.dot' > '$T/g.svg' && grep -q '<svg' '$T/g.svg'"
else
	nok "dot (graphviz) is installed: scripts/deps.sh test"
fi

# ---- bad input: one line, nothing on stdout -------------------------------------------
fails reach 1 "reach of an unknown identity" "no identity 'nobody'" nhictl reach nobody
fails reach 2 "reach without a name" "missing identity name" nhictl reach
fails who-can 1 "who-can of an unknown resource" "no resource 'nothing'" nhictl who-can nothing
fails who-can 2 "who-can --action bogus" "bad --action 'bogus'" nhictl who-can crm-db --action bogus
fails who-can 2 "who-can: a control character in the name" "invalid resource name" nhictl who-can $'crm\ndb'
fails graph 2 "graph --format png" "bad --format 'png'" nhictl graph --format png
fails chain 2 "chain --action (who-can's only)" "unknown option" nhictl chain agent-a --action read
finish

#!/bin/bash
# nhictl report --html (issue 16): a small fleet (agents and services, a
# suspended one, one expiring soon, resources, grants, delegations, a
# token, findings, a purpose with markup and quotes) written as one page;
# checked: self-contained (nothing fetched, no reference outside the file),
# read-only (registry.db unchanged), escaped, its counts equal to
# audit --json and list --json, the graph an inline SVG (its XML prolog
# stripped), the page without Graphviz, the chains of a fleet too big to
# draw; then opened in headless Chromium: a PNG, no console message, no
# load of anything but the page, and the counts in the rendered DOM.
# Exit 77 (skip) only when chromium is not installed.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
# report names the host (gethostname): nss_wrapper then dlopens libc with
# RTLD_DEEPBIND, which the sanitizer runtime refuses
export NSS_WRAPPER_DISABLE_DEEPBIND=1
CHROMIUM=${CHROMIUM:-chromium}
command -v "$CHROMIUM" >/dev/null 2>&1 || { echo "# skip: $CHROMIUM not installed"; exit 77; }
DB=$T/state/registry.db
EVIL='<script>alert(1)</script> "quoted" '\''single'\'' & more'

# ---- the fleet --------------------------------------------------------------
expect 0 "create agent-a (agent; a purpose with markup and quotes)" \
	nhictl create agent-a --kind agent --owner alice --expires +60d --purpose "$EVIL" --label env=prod
expect 0 "create agent-b (agent)" nhictl create agent-b --kind agent --owner alice --expires +30d
for n in tool-x tool-y tool-s; do
	expect 0 "create $n" nhictl create $n --owner dave --expires +90d
done
expect 0 "create tool-soon, expiring in 3 days" nhictl create tool-soon --owner dave --expires +3d
expect 0 "resource crm-db (pii)" nhictl resource add crm-db --kind database \
	--uri postgres://crm.example/crm --owner alice --data-class pii
expect 0 "resource webhook (external)" nhictl resource add webhook --kind api \
	--uri https://hooks.example.net/in --owner alice --external
expect 0 "a token of tool-y" nhictl cred add tool-y --kind token --json
TOK=$(pyjson 'd["id"]')
expect 0 "grant tool-x crm-db read" nhictl grant add tool-x crm-db --actions read
expect 0 "grant tool-y webhook write" nhictl grant add tool-y webhook --actions write
expect 0 "delegate agent-a -> agent-b" nhictl delegate add agent-a agent-b
expect 0 "delegate agent-b -> tool-x" nhictl delegate add agent-b tool-x
expect 0 "delegate agent-a -> tool-y" nhictl delegate add agent-a tool-y
expect 0 "delegate agent-a -> tool-s" nhictl delegate add agent-a tool-s
expect 0 "suspend tool-s (a finding)" nhictl suspend tool-s
# overdue: one identity past its expiry, one past its review, as a registry
# not swept since looks (set in the registry: nhictl refuses both dates)
expect 0 "create tool-old" nhictl create tool-old --owner dave --expires +90d
expect 0 "create tool-late" nhictl create tool-late --owner dave --expires +90d
sqlite3 "$DB" "UPDATE identity SET expires = strftime('%s', 'now') - 2 * 86400 WHERE name = 'tool-old';
	UPDATE identity SET review_due = strftime('%s', 'now') - 86400 WHERE name = 'tool-late'"

# ---- the page ---------------------------------------------------------------
H=$T/report.html
sum0=$(sha256sum "$DB" | cut -d' ' -f1)
expect 0 "report --html FILE" nhictl report --html "$H" --no-host
check "the page is written" test -s "$H"
eqv "report writes nothing to the registry" "$sum0" "$(sha256sum "$DB" | cut -d' ' -f1)"
expect 0 "report --html - (stdout)" nhictl report --html - --no-host
check "stdout holds the page" grep -q '^<!DOCTYPE html>' "$T/out"
fails report 2 "report without --html" "--html FILE is required" nhictl report --no-host

# self-contained: no URL but the SVG namespaces, no src=, no stylesheet or
# script fetched, no link but to the page's own anchors
check "no http:// or https:// but the SVG namespaces" bash -c \
	"! grep -oE 'https?://[^\"<> ]*' '$H' | grep -vE '^http://www\.w3\.org/(2000/svg|1999/xlink)\$'"
check "no src= attribute" bash -c "! grep -qiE '\\bsrc=' '$H'"
check "no <script, <link, <iframe, <object, <img, @import or url(" bash -c \
	"! grep -qiE '<script|<link|<iframe|<object|<embed|<img|@import|url\\(' '$H'"
check "every href is an anchor of the page" bash -c \
	"! grep -oE 'href=\"[^\"]*\"' '$H' | grep -v '^href=\"#'"

# escaped
check "the purpose is escaped" grep -qF \
	'&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; &#39;single&#39; &amp; more' "$H"

# the graph: inline SVG from dot, without its prolog
check "the graph is an inline <svg>" grep -q '^<svg width="[0-9]*pt"' "$H"
check "no XML prolog or DOCTYPE svg inlined" bash -c "! grep -qE '<\\?xml|<!DOCTYPE svg' '$H'"
check "the graph names the agents" grep -q '>agent&#45;a<\|>agent-a<' "$H"

# ---- the counts: audit --json and list --json ---------------------------------
counts() {   # KEY=N, one a line, from the page's data-count cells
	python3 - "$1" <<-'EOF'
	import re, sys
	for k, v in re.findall(r'data-count="([^"]+)">(\d+)<', open(sys.argv[1]).read()):
	    print("%s=%s" % (k, v))
	EOF
}
counts "$H" > "$T/page.counts"
check "the page has counts" test -s "$T/page.counts"
expect 0 "list --all --json" nhictl list --all --json
python3 - "$T/out" > "$T/list.counts" <<-'EOF'
import json, sys, collections
d = json.load(open(sys.argv[1]))
ids = d if isinstance(d, list) else d.get("identities", d)
st = collections.Counter(i["state"] for i in ids)
for s in ("active", "suspended", "orphaned", "retired"):
    print("identities-%s=%d" % (s, st[s]))
kinds = collections.Counter(i["kind"] for i in ids if i["state"] != "retired")
for k in sorted(kinds):
    print("identities-kind-%s=%d" % (k, kinds[k]))
print("identities-total=%d" % sum(1 for i in ids if i["state"] != "retired"))
EOF
expect 0 "audit --json --no-host" nhictl audit --json --no-host
python3 - "$T/out" > "$T/audit.counts" <<-'EOF'
import json, sys, collections
d = json.load(open(sys.argv[1]))
for s, n in d["counts"].items():
    print("findings-%s=%d" % (s, n))
print("findings-total=%d" % len(d["findings"]))
for c, n in sorted(collections.Counter(f["code"] for f in d["findings"]).items()):
    print("finding-%s=%d" % (c, n))
for r, n in sorted(collections.Counter(f["risk"] for f in d["findings"]).items()):
    print("risk-%s=%d" % (r, n))
EOF
check "audit found something" grep -q '^finding-NHI1-SUSPENDED=1$' "$T/audit.counts"
while IFS= read -r kv; do
	check "page agrees with list --json: $kv" grep -qxF "$kv" "$T/page.counts"
done < "$T/list.counts"
while IFS= read -r kv; do
	check "page agrees with audit --json: $kv" grep -qxF "$kv" "$T/page.counts"
done < "$T/audit.counts"
eqv "no finding code on the page that audit does not report" \
	"$(grep -c '^finding-' "$T/audit.counts")" "$(grep -c '^finding-' "$T/page.counts")"
eqv "one credential" "credentials-total=1" "$(grep '^credentials-total=' "$T/page.counts")"
eqv "a credential younger than 30 days" "cred-age-lt30d=1" "$(grep '^cred-age-lt30d=' "$T/page.counts")"
eqv "tool-soon expires in the first week" "timeline-week1-expires=1" \
	"$(grep '^timeline-week1-expires=' "$T/page.counts")"
eqv "one identity expired, not retired" "identities-expired=1" \
	"$(grep '^identities-expired=' "$T/page.counts")"
eqv "two things overdue" "timeline-overdue=2" "$(grep '^timeline-overdue=' "$T/page.counts")"
overdue() { python3 - "$H" <<-'EOF'
	import re, sys
	t = re.search(r'<table id="overdue">(.*?)</table>', open(sys.argv[1]).read(), re.S).group(1)
	for what, name in re.findall(r'<tr><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td></tr>', t):
	    print("%s %s" % (name, what))
	EOF
}
eqv "the overdue table names them" "tool-old expires|tool-late review due" "$(overdue | paste -sd'|')"
check "tool-old is marked expired in the inventory" grep -q 'class="st-expired">.*(expired)' "$H"

# ---- read-only: a pending usage record stays for audit to ingest -------------------
echo "$(date +%s) tool-x sshd testhost -" > "$T/state/usage.log"
chmod 600 "$T/state/usage.log"
sum0=$(sha256sum "$DB" "$T/state/usage.log")
expect 0 "report with a usage record pending" nhictl report --html "$T/r2.html" --no-host
eqv "report ingests nothing, changes nothing" "$sum0" "$(sha256sum "$DB" "$T/state/usage.log")"
expect 0 "audit --json ingests it" nhictl audit --json --no-host
eqv "(the record was a good one)" "1" "$(pyjson 'd["usage_records"]')"

# ---- without Graphviz; a fleet too big to draw ----------------------------------
expect 0 "report --dot /nonexistent: succeeds" nhictl report --html "$T/nodot.html" --no-host \
	--dot "$T/no/dot"
has err "a warning on stderr" "^nhictl: report: warning: the graph is not drawn: .*no/dot"
check "the page says the graph is not drawn" grep -q 'id="no-graph"' "$T/nodot.html"
check "and has no SVG graph" bash -c "! grep -q 'class=\"graph\"' '$T/nodot.html'"
printf '#!/bin/sh\ncat >/dev/null; echo "Error: syntax" >&2; exit 3\n' > "$T/baddot"
chmod +x "$T/baddot"
expect 0 "report with a dot that fails: succeeds" nhictl report --html "$T/baddot.html" --no-host \
	--dot "$T/baddot"
has err "a warning naming its exit status" "^nhictl: report: warning: .*baddot exited with status 3"
check "the page says the graph is not drawn" grep -q 'id="no-graph"' "$T/baddot.html"
# a dot that hangs (reads its input, then never ends) is killed at the
# timeout (30 s) and the page is written without the graph
# (a sleep of this test's own length: another test run at once has its own)
HANG=60$$
printf '#!/bin/sh\ncat >/dev/null; exec sleep %s\n' "$HANG" > "$T/hangdot"
chmod +x "$T/hangdot"
expect 0 "report with a dot that hangs: succeeds" nhictl report --html "$T/hang.html" \
	--no-host --dot "$T/hangdot"
has err "a warning naming the timeout" "^nhictl: report: warning: .*hangdot took longer than 30 s"
check "the page is written without the graph" grep -q 'id="no-graph"' "$T/hang.html"
check "the hung dot was killed" bash -c "! pgrep -f '^sleep $HANG\$' >/dev/null"
expect 0 "report --graph-max 3: chains instead" nhictl report --html "$T/big.html" --no-host \
	--graph-max 3
check "the page says why" grep -q 'more than the 3 drawn at most' "$T/big.html"
check "each agent's chains, as nhictl chain prints them" grep -q '<h3>agent-a</h3>' "$T/big.html"
check "the chain line of agent-a" grep -q 'crm-db → agent-a → tool-y → webhook (write)  ! pii data' "$T/big.html"

# ---- headless Chromium ------------------------------------------------------------
# A private HOME and profile; --v=1 logs every file the page loads
# (FileURLLoader) and the console (CONSOLE); the page has no script, so
# any console line is an error.
chrome() {   # OUT-PREFIX FILE ARGS...: stdout in $T/PREFIX.out, log in $T/PREFIX.log
	local p=$1 f=$2; shift 2
	HOME=$T/chrome-home timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--user-data-dir="$T/chrome-profile" --no-first-run --disable-extensions \
		--enable-logging=stderr --v=1 "$@" "file://$f" >"$T/$p.out" 2>"$T/$p.log"
}
browser_ok() {   # PREFIX FILE: no console line, nothing loaded but FILE
	! grep -q ':CONSOLE' "$T/$1.log" &&
	! grep -oE 'FileURLLoader::Start: [^ ]*' "$T/$1.log" | grep -vxF "FileURLLoader::Start: file://$2"
}
mkdir -p "$T/chrome-home"
chrome shot "$H" --screenshot="$T/report.png" --window-size=1280,2000
check "chromium wrote a screenshot" test -s "$T/report.png"
eqv "the screenshot is a PNG" "89504e470d0a1a0a" "$(head -c 8 "$T/report.png" | od -An -tx1 | tr -d ' \n')"
check "no console message, nothing loaded but the page" browser_ok shot "$H"
chrome dom "$H" --dump-dom
counts "$T/dom.out" > "$T/dom.counts"
check "the rendered DOM has the counts" test -s "$T/dom.counts"
eqv "the rendered DOM shows the page's counts" "$(cat "$T/page.counts")" "$(cat "$T/dom.counts")"
check "no script element in the rendered DOM" bash -c "! grep -qi '<script' '$T/dom.out'"
check "the purpose is text in the rendered DOM" grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' "$T/dom.out"
# the browser check catches a script error and a broken reference
sed 's|</body>|<script>nosuch.call();</script></body>|' "$H" > "$T/planted-js.html"
chrome js "$T/planted-js.html" --screenshot="$T/js.png" --window-size=1280,800
browser_fails() { ! browser_ok "$@"; }
check "a planted script error is caught" browser_fails js "$T/planted-js.html"
check "(as a console line)" grep -q ':CONSOLE.*nosuch' "$T/js.log"
sed 's|</body>|<img alt="x" src="missing.png"></body>|' "$H" > "$T/planted-ref.html"
chrome ref "$T/planted-ref.html" --screenshot="$T/ref.png" --window-size=1280,800
check "a planted broken reference is caught" browser_fails ref "$T/planted-ref.html"

finish

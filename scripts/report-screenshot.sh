#!/bin/bash
# Make docs/report.png, the README's picture of `nhictl report --html`: the
# example fleet of README's "Reach and chains" (tests/test-nhictl-chain.sh:
# two agents, four tools, four resources, a token, grants, delegations, a
# suspended tool, an expired delegation) plus an identity expiring soon,
# built with the real verbs in a temporary directory (NHI_CONF there, owners
# through nss_wrapper as in the tests: never the default state dir), its
# report written and photographed by headless Chromium.
#   scripts/report-screenshot.sh [BUILDDIR] [OUT.png]   (default: build, docs/report.png)
set -eu
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=$(cd "${1:-$top_srcdir/build}" && pwd)
out=${2:-$top_srcdir/docs/report.png}
command -v chromium >/dev/null || { echo "$0: chromium is not installed" >&2; exit 1; }
[ -x "$top_builddir/nhictl/nhictl" ] || { echo "$0: build nhictl in $top_builddir first" >&2; exit 1; }
export top_srcdir top_builddir
# the tests' private world: $T, NHI_CONF=$T/etc/nhi.conf, the owners, nhictl()
set +u
. "$top_srcdir/tests/common.sh"
set -u

for n in agent-a agent-b; do
	nhictl create $n --kind agent --owner alice --expires +60d --purpose "an LLM agent" --label env=prod >/dev/null
done
for n in tool-x tool-y tool-s tool-z; do
	nhictl create $n --owner dave --expires +90d --purpose "a tool the agents call" >/dev/null
done
nhictl create backup-svc --owner dave --expires +5d --purpose "nightly backups" >/dev/null
nhictl resource add crm-db --kind database --uri postgres://crm.example/crm --owner alice --data-class pii
nhictl resource add webhook --kind api --uri https://hooks.example.net/in --owner alice --external
nhictl resource add billing --kind api --uri https://billing.example/ --owner dave
nhictl resource add ledger --kind database --uri postgres://ledger/ --owner dave
tok=$(nhictl --json cred add tool-y --kind token | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
nhictl cred add backup-svc --kind ssh-key >/dev/null
nhictl grant add tool-x crm-db --actions read,write
nhictl grant add tool-y webhook --actions write --expires +20d
nhictl grant add tool-y billing --actions write,exec --cred "$tok"
nhictl grant add tool-s ledger --actions read,write
nhictl grant add tool-z billing --actions admin
nhictl delegate add agent-a agent-b
nhictl delegate add agent-b agent-a
nhictl delegate add agent-b tool-x --actions read
nhictl delegate add agent-a tool-y --expires +10d
nhictl delegate add agent-a tool-s
nhictl delegate add agent-a tool-z --expires +2s
nhictl suspend tool-s >/dev/null
sleep 3   # agent-a -> tool-z expires
nhictl report --html "$T/report.html" --no-host
mkdir -p "$T/home"
HOME=$T/home timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
	--user-data-dir="$T/profile" --no-first-run --window-size=1280,3400 \
	--screenshot="$T/report.png" "file://$T/report.html" >/dev/null 2>&1
cp "$T/report.png" "$out"
echo "wrote $out"

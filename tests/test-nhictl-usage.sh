#!/bin/bash
# Usage records (issue 15): pam_nhi's record with ruser=, tty=, human= and
# key= (a real session of the built pam_nhi.so through pamtester, in a
# private mount namespace: /etc/pam.d is a temp dir there), old
# five-field lines still ingested; audit's NHI9-OUT-OF-SCOPE-USE,
# NHI9-SHARED and NHI10-HUMAN-USE by code; a credential's last use and
# use count (cred verify, the SSH key sshd accepted) in cred list; review
# --due ordering and --owner.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
ST=$T/state
DB=$ST/registry.db
command -v ssh-keygen >/dev/null || { echo "# skip: no ssh-keygen"; exit 77; }
nogrep() { ! grep "$@"; }

expect 0 "create svc-a (scoped: host testhost, service cron)" \
	nhictl create svc-a --owner alice --expires +30d --host testhost --service cron
expect 0 "create svc-t (token holder)" nhictl create svc-t --owner dave --expires +30d
expect 0 "create svc-k (ssh key)" nhictl create svc-k --owner dave --expires +30d
expect 0 "cred add token" nhictl cred add svc-t --kind token
TOKEN=$(cat "$T/out")
expect 0 "cred add ssh-key" nhictl cred add svc-k --kind ssh-key
expect 0 "cred list svc-k --json" nhictl cred list svc-k --json
PUB=$(pyjson 'd[0]["public"]')
KTYPE=${PUB%% *}; KB64=$(cut -d' ' -f2 <<<"$PUB")

# ---- a real pam_nhi session: the record it appends --------------------------
if [ "$(id -u)" = 0 ] && command -v pamtester >/dev/null && [ -z "${NHI_ASAN_LIB:-}" ] &&
	unshare -m --propagation private true 2>/dev/null; then
	mkdir -p "$T/pam.d"
	printf 'session required %s config=%s\n' "$PAM_NHI_SO" "$NHI_CONF" > "$T/pam.d/nhi-usage"
	cp "$T/pam.d/nhi-usage" "$T/pam.d/cron"   # svc-a's scope: service cron
	rm -f "$ST/usage.log"
	unshare -m --propagation private sh -c '
		mount --bind "$1/pam.d" /etc/pam.d || exit 9
		pamtester -I ruser=alice -I "tty=/dev/pts/9" cron svc-a open_session &&
		pamtester -I rhost=192.0.2.9 -I tty=ssh -E "SSH_AUTH_INFO_0=publickey $2 $3" \
			nhi-usage svc-k open_session &&
		pamtester -I tty=/dev/pts/4 nhi-usage svc-t open_session &&
		pamtester -I "ruser=ev il" -I "tty=/dev/pts/1 human=no" nhi-usage svc-t open_session
	' sh "$T" "$KTYPE" "$KB64" > "$T/pamtester.out" 2>&1
	check "pamtester sessions opened" grep -q "successfully opened" "$T/pamtester.out"
	L=$(cat "$ST/usage.log")
	check "human RUSER on a tty: ruser=, tty=, human=human-use" \
		grep -Eq "^[0-9]+ svc-a cron testhost - ruser=alice tty=/dev/pts/9 human=human-use$" <<<"$L"
	check "sshd-like session: the accepted key, no human" \
		grep -Eq "^[0-9]+ svc-k nhi-usage testhost 192.0.2.9 tty=ssh key=$KTYPE:${KB64//+/\\+}$" <<<"$L"
	check "client-side RUSER and TTY cannot inject fields (an unknown RUSER is a human)" \
		grep -Eq "^[0-9]+ svc-t nhi-usage testhost - ruser=ev\?il tty=/dev/pts/1\?human\?no human=human-use$" <<<"$L"
	check "an interactive session without RUSER: human=interactive" \
		grep -Eq "^[0-9]+ svc-t nhi-usage testhost - tty=/dev/pts/4 human=interactive$" <<<"$L"
	PAMTESTED=1
else
	echo "# skip: the real pam_nhi session (needs root, pamtester, unshare -m, no ASan)"
	PAMTESTED=0
fi

# ---- records as pam_nhi writes them, old and new --------------------------
now=$(date +%s)
{
	echo "$((now - 300)) svc-a cron testhost -"
	echo "$((now - 200)) svc-a sshd otherhost 10.0.0.2"
	echo "$((now - 100)) svc-a su testhost - ruser=carol tty=/dev/pts/3 human=human-use"
	echo "$((now - 90)) svc-k sshd testhost 10.0.0.3 tty=ssh key=$KTYPE:$KB64 future=1"
	echo "$((now - 80)) svc-k sshd testhost 10.0.0.3 key=ssh-ed25519:AAAAnotthekey"
	echo "$((now - 70)) svc-a cron testhost - tty=tty1 human=interactive"
	echo "not a record"
} >> "$ST/usage.log"
chmod 600 "$ST/usage.log"

# cred verify: exit as before, the use appended (root) for the next audit
expect 0 "cred verify the token" nhictl cred verify svc-t <<<"$TOKEN"
check "cred verify appended a record" grep -Eq "^[0-9]+ svc-t - testhost - cred=" "$ST/usage.log"
expect 1 "a wrong token: not valid, nothing appended" nhictl cred verify svc-t <<<"nhi_wrong"
eqv "one cred= record" 1 "$(grep -c ' cred=' "$ST/usage.log")"

# ---- delegations: svc-a delegated to by identities of two owners -----------
expect 0 "create agent-1 (alice)" nhictl create agent-1 --owner alice --expires +30d
expect 0 "create agent-2 (dave)" nhictl create agent-2 --owner dave --expires +30d
expect 0 "create agent-3 (alice)" nhictl create agent-3 --owner alice --expires +30d
expect 0 "create svc-one (delegated to by alice's only)" nhictl create svc-one --owner alice --expires +30d
for e in "agent-1 svc-a" "agent-2 svc-a" "agent-1 svc-one" "agent-3 svc-one"; do
	expect 0 "delegate $e" nhictl delegate add $e --expires +10d
done

expect 0 "audit --json --no-host" nhictl audit --json --no-host
eqv "records ingested, one malformed" "$((7 + 4 * PAMTESTED)) 1" \
	"$(pyjson '"%d %d" % (d["usage_records"], d["usage_malformed"])')"
codes() { pyjson '"\n".join(sorted("%s %s" % (f["code"], f["name"]) for f in d["findings"]))'; }
F=$(codes)
check "NHI9-OUT-OF-SCOPE-USE svc-a (sshd on otherhost)" grep -qx "NHI9-OUT-OF-SCOPE-USE svc-a" <<<"$F"
eqv "out of scope: the otherhost/sshd and testhost/su rows, not cron" \
	"2" "$(pyjson 'sum(1 for f in d["findings"] if f["code"]=="NHI9-OUT-OF-SCOPE-USE")')"
has out "evidence names host, service, scope" 'used on host otherhost through service sshd .*outside its scope \(hosts testhost; services cron\)'
check "NHI9-SHARED svc-a (alice and dave)" grep -qx "NHI9-SHARED svc-a" <<<"$F"
check "no NHI9-SHARED for svc-one (one owner)" nogrep -qx "NHI9-SHARED svc-one" <<<"$F"
has out "shared evidence" 'delegated to by identities of 2 owners: agent-[12] \(owner [a-z]+\), agent-[12]'
eqv "NHI10-HUMAN-USE: carol's su and the tty1 session (+ pamtester's three)" \
	"$((2 + 3 * PAMTESTED))" "$(pyjson 'sum(1 for f in d["findings"] if f["code"]=="NHI10-HUMAN-USE")')"
eqv "human use evidence and remedy" \
	"human-use|testhost|su|ruser carol, tty /dev/pts/3|nhictl rotate svc-a|human_use = deny" \
	"$(pyjson '["|".join(["human-use" if "human-use at" in f["evidence"] else "?", "testhost" if "host testhost" in f["evidence"] else "?", "su" if "through su" in f["evidence"] else "?", f["evidence"].split(": ",1)[1], "nhictl rotate svc-a" if "nhictl rotate svc-a" in f["remedy"] else "?", "human_use = deny" if "human_use = deny" in f["remedy"] else "?"]) for f in d["findings"] if f["code"]=="NHI10-HUMAN-USE" and "carol" in f["evidence"]][0]')"
eqv "human_use rows" "$((2 + 3 * PAMTESTED))" "$(sqlite3 "$DB" 'SELECT count(*) FROM human_use')"
eqv "human use is high, NHI10" "high NHI10" "$(pyjson '[f["severity"]+" "+f["risk"] for f in d["findings"] if f["code"]=="NHI10-HUMAN-USE"][0]')"

# the credentials' use
expect 0 "cred list svc-k --json" nhictl cred list svc-k --json
eqv "ssh key: used by the matching records only" "$((1 + PAMTESTED))" "$(pyjson 'd[0]["use_count"]')"
check "ssh key: last use set" test "$(pyjson 'd[0]["last_used"]')" != None
expect 0 "cred list svc-t --json" nhictl cred list svc-t --json
eqv "token: cred verify counted once" 1 "$(pyjson 'd[0]["use_count"]')"
expect 0 "cred list svc-t (text)" nhictl cred list svc-t
has out "text: LAST_USED and USES columns" '^ID .*LAST_USED +USES +FINGERPRINT'
has out "text: the use shown" 'active .*[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+Z +1 '
eqv "identity last use from cred verify" 1 "$(sqlite3 "$DB" "SELECT last_used > 0 FROM identity WHERE name = 'svc-t'")"
eqv "cred verify's record is no usage row (no service)" 0 \
	"$(sqlite3 "$DB" "SELECT count(*) FROM usage u JOIN identity i ON i.id = u.identity_id WHERE i.name = 'svc-t' AND u.service = '-'")"

# a read-only caller: verify answers as before (nothing can be appended)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	chmod 644 "$DB" 2>/dev/null
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env NHI_CONF="$NHI_CONF" \
		"$NHICTL" cred verify svc-t <<<"$TOKEN" 2>&1); rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 1 ] && ok "cred verify as nobody: no crash (exit $rc: $out)" ||
		nok "cred verify as nobody: exit $rc: $out"
fi

# a clean registry gives none of these: svc-one, agent-3
check "no usage findings for svc-one" nogrep -Eq "NHI(9|10)-[A-Z-]+ svc-one" <<<"$F"

# ---- review --due ---------------------------------------------------------
DAY=86400
setdue() { sqlite3 "$DB" "UPDATE identity SET review_due = $(( now + $2 )) WHERE name = '$1'"; }
echo "warn_before = 14d" >> "$NHI_CONF"
setdue svc-a $((5 * DAY)); setdue agent-1 $((-2 * DAY)); setdue agent-3 $((1 * DAY))
setdue svc-t $((3 * DAY)); setdue svc-k $((60 * DAY)); setdue agent-2 $((10 * DAY))
sqlite3 "$DB" "UPDATE identity SET review_due = 0 WHERE name IN ('svc-one')"
expect 0 "review --due --json" nhictl review --due --json
eqv "grouped by owner, soonest first" "alice:agent-1,agent-3,svc-a dave:svc-t,agent-2" \
	"$(pyjson '" ".join(o["owner"]+":"+",".join(i["name"] for i in o["identities"]) for o in d["owners"])')"
eqv "overdue flag" "True False" "$(pyjson '"%s %s" % (d["owners"][0]["identities"][0]["overdue"], d["owners"][0]["identities"][1]["overdue"])')"
expect 0 "review --due --owner dave --json" nhictl review --due --owner dave --json
eqv "--owner filter" "dave:svc-t,agent-2" \
	"$(pyjson '" ".join(o["owner"]+":"+",".join(i["name"] for i in o["identities"]) for o in d["owners"])')"
expect 0 "review --due (text)" nhictl review --due
has out "text: owner header" '^owner alice:'
has out "text: overdue line with the command" '^  agent-1 +overdue since .* nhictl review agent-1$'
expect 0 "review --due --owner zed: nothing" nhictl review --due --owner zed
has out "nothing due" 'nothing due for review by zed'
fails review 2 "review --due NAME: usage error" 'unexpected argument' nhictl review --due svc-a
fails review 2 "review --due --owner 'a;b'" 'invalid user name' nhictl review --due --owner 'a;b'
expect 0 "review NAME still records a review" nhictl review agent-1
expect 0 "review --due after it" nhictl review --due --json
check "agent-1 no longer due" nogrep -q agent-1 "$T/out"
finish

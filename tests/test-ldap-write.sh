#!/bin/bash
# nhictl's write verbs with backend = ldap against a real slapd
# (tests/slapd.sh): every verb changes the directory (checked with
# ldapsearch) and, read back, the local registry and snapshot at once
# (checked with nhictl show/list --json and getent through nss_nhi);
# uid allocation by racing creators on two "hosts" (state dirs); owners by
# name and DN, dead/locked ones refused, filter injection; StartTLS with
# the test CA and the wrong one; a write the server refuses and a stopped
# directory leave registry and snapshot untouched.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
. "$top_srcdir/tests/ldapw-lib.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
# slapd is there: a server that does not start (a schema error, say) is a failure
slapd_start --tls || { nok "slapd starts"; finish; }

# libldap must work from nhi.conf alone (no ~/.ldaprc, no /etc/ldap);
# nss_wrapper + sanitizers: no RTLD_DEEPBIND (see test-nhictl-directory.sh)
ldap_hermetic
ST=$T/state
P=$SLAPD_PEOPLE_BASE
B=$SLAPD_NHI_BASE
base_conf() {   # STATE-DIR CONF-LINES...
	local st=$1; shift
	echo "state_dir = $st"
	echo "host = testhost"
	echo "backend = ldap"
	echo "ldap_base = $B"
	echo "ldap_people_base = $P"
	echo "ldap_timeout = 3s"
	printf '%s\n' "$@"
}
base_conf "$ST" "ldap_uri = $SLAPD_LDAPI_URI" > "$NHI_CONF"

# attr NAME ATTR: the values of ATTR of identity NAME in the directory
attr() { ldap_admin ldapsearch -b "uid=$1,$B" -s base "$2" | sed -n "s/^$2: //p" | sort | paste -sd' '; }
# the next value of this host's first uid block (issue 17: per-host blocks)
counter() { ldap_admin ldapsearch -b "cn=uid-block-2000000-testhost-1,$B" -s base nhiNextUid | sed -n 's/^nhiNextUid: //p'; }
n_entries() { ldap_admin ldapsearch -b "$B" "(objectClass=nhiIdentity)" dn | grep -c '^dn:'; }
# (registry.db by its content: a write announced in the intent journal and
# refused leaves the same rows, not the same bytes)
sums() { { sqlite3 "$ST"/registry.db .dump; cat "$ST"/nhi.cache "$ST"/nhi.cache.delta; } 2>/dev/null | sha256sum | cut -c1-16; }
gentime() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }
epoch() { python3 -c 'import calendar,time,sys; print(calendar.timegm(time.strptime(sys.argv[1],"%Y-%m-%dT%H:%M:%SZ")))' "$1"; }

# ---- configuration ---------------------------------------------------------
printf 'state_dir = %s\nbackend = ldap\nldap_base = %s\n' "$ST" "$B" > "$T/etc/nouri.conf"
fails create 1 "backend = ldap without ldap_uri: file:line" "nouri.conf:2: backend = ldap needs ldap_uri" \
	nhictl -c "$T/etc/nouri.conf" create x --owner alice --expires +1d

# ---- create ------------------------------------------------------------------
expect 0 "create svc-a" nhictl create svc-a --owner alice --expires +30d --purpose "nightly backups" \
	--host web1 --host 'db*' --service sshd
has out "create reports uid and owner" '^created svc-a: uid 2000000, owner alice, expires '
eqv "directory: object classes" "account nhiIdentity posixAccount shadowAccount" "$(attr svc-a objectClass)"
eqv "directory: uid/gid" "2000000 2000000" "$(attr svc-a uidNumber) $(attr svc-a gidNumber)"
eqv "directory: owner DN" "uid=alice,$P" "$(attr svc-a owner)"
eqv "directory: state, kind" "active service" "$(attr svc-a nhiState) $(attr svc-a nhiKind)"
eqv "directory: purpose, gecos" "nightly backups|nightly backups" "$(attr svc-a description)|$(attr svc-a gecos)"
eqv "directory: home, shell" "/home/svc-a /bin/sh" "$(attr svc-a homeDirectory) $(attr svc-a loginShell)"
eqv "directory: scopes" "db* web1|sshd" "$(attr svc-a host)|$(attr svc-a nhiPamService)"
eqv "directory: the host's uid block was claimed and moved on" 2000001 "$(counter)"
eqv "directory: the block is held by testhost" "uid block 2000000-2000099 of testhost: held" \
	"$(ldap_admin ldapsearch -b "cn=uid-block-2000000-testhost-1,$B" -s base description | sed -n 's/^description: //p')"
exp_a=$(attr svc-a nhiExpires)
# rounded up: the first day svc-a is expired all day (pam_unix refuses
# the whole of day shadowExpire); a date-only expiry (below) is that day
eqv "directory: shadowExpire = nhiExpires in days, rounded up" \
	"$(( ($(date -u -d "${exp_a:0:8} ${exp_a:8:2}:${exp_a:10:2}:${exp_a:12:2}" +%s) + 86399) / 86400 ))" "$(attr svc-a shadowExpire)"
expect 0 "show svc-a --json (read your writes)" nhictl show svc-a --json
eqv "registry: uid, owner, state" "2000000 alice active" "$(pyjson 'd["uid"], d["owner"], d["state"]' | tr -d "(),'")"
eqv "registry: expires = directory's" "$exp_a" "$(gentime "$(epoch "$(pyjson 'd["expires"]')")")"
eqv "registry: scopes" "db*+web1 sshd" "$(pyjson '"+".join(d["hosts"]) + " " + "+".join(d["services"])')"
eqv "registry: owner_dn and entryUUID kept" "uid=alice,$P $(ldap_admin ldapsearch -b "uid=svc-a,$B" -s base entryUUID | sed -n 's/^entryUUID: //p')" \
	"$(sqlite3 "$ST/registry.db" "SELECT owner_dn || ' ' || entry_uuid FROM identity WHERE name = 'svc-a'")"
if have_nss; then
	expect 0 "getent passwd svc-a through nss_nhi" nsswrap getent passwd svc-a
	has out "getent: the new identity" '^svc-a:x:2000000:2000000:nightly backups:/home/svc-a:/bin/sh$'
fi
expect 0 "log: a create event marked (directory)" nhictl log --target svc-a
has out "create event" 'create.*svc-a.*owner=alice.*\(directory\)'

expect 0 "create svc-b by owner DN, --json" nhictl create svc-b --owner "uid=dave,$P" \
	--expires +10d --kind agent --json
eqv "json: owner is the user name" dave "$(pyjson 'd["owner"]')"
eqv "json: next uid from the counter" 2000001 "$(pyjson 'd["uid"]')"
eqv "directory: owner DN of dave" "uid=dave,$P" "$(attr svc-b owner)"
eqv "directory: agent" agent "$(attr svc-b nhiKind)"
ldapw_add_contractor erin || nok "ldapadd erin"
expect 0 "transfer svc-b to erin, deeper in the people subtree" nhictl transfer svc-b --to erin --json
eqv "registry: owner erin (the user name)" "erin" "$(pyjson 'd["owner"]')"
eqv "directory: erin's DN" "uid=erin,ou=contractors,$P" "$(attr svc-b owner)"

# ---- owners: dead, locked, missing, injection ------------------------------------
before=$(n_entries)
fails create 1 "locked owner refused" "'bob' is locked" nhictl create x1 --owner bob --expires +1d
fails create 1 "expired owner refused" "'carol': the account expired" nhictl create x1 --owner carol --expires +1d
fails create 1 "unknown owner refused" "'ghost': no such person" nhictl create x1 --owner ghost --expires +1d
fails create 1 "locked owner by DN refused" "locked" nhictl create x1 --owner "uid=bob,$P" --expires +1d
for o in 'alice)(uid=*' "uid=*,$P" 'x)(|(uid=*' "uid=alice,$SLAPD_GROUPS_BASE"; do
	fails create 1 "injection/foreign owner '$o' matches nobody" "neither a user name nor a DN" \
		nhictl create x1 --owner "$o" --expires +1d
done
# no '=': not a DN, and no user name either (as transfer --to)
for o in '*' 'alice*'; do
	fails create 2 "injection owner '$o': a usage error" "--owner: invalid user name" \
		nhictl create x1 --owner "$o" --expires +1d
done
for n in 'x)(uid=*' '*' 'svc-a,ou=x' 'svc-a)'; do
	fails create 2 "injection in a name '$n': a usage error" "invalid identity name" \
		nhictl create "$n" --owner alice --expires +1d
	fails suspend 2 "injection in a name '$n' (suspend)" "invalid identity name" nhictl suspend "$n"
done
eqv "no entry was added by the refused creates" "$before" "$(n_entries)"
eqv "the counter did not move" 2000002 "$(counter)"

# ---- names and ids taken --------------------------------------------------------
fails create 1 "name taken in the directory" "identity 'svc-a' is already registered in the directory" \
	nhictl create svc-a --owner alice --expires +1d
fails create 1 "name taken locally (NSS)" "a local account 'legacy-svc' exists" \
	nhictl create legacy-svc --owner alice --expires +1d
ldap_admin ldapadd > /dev/null <<EOF || nok "ldapadd plain"
dn: uid=plain,$B
objectClass: account
objectClass: posixAccount
uid: plain
cn: plain
uidNumber: 2000002
gidNumber: 2000002
homeDirectory: /home/plain
EOF
fails create 1 "a plain directory account under ldap_base is a taken name" "'plain' is already registered" \
	nhictl create plain --owner alice --expires +1d
fails create 1 "--uid taken in the directory only" "uid/gid 2000002 is already in use" \
	nhictl create svc-u --owner alice --expires +1d --uid 2000002
fails create 1 "--uid of a local account" "uid/gid 1000 is already in use" \
	nhictl create svc-u --owner alice --expires +1d --uid 1000
expect 0 "create with a free --uid" nhictl create svc-u --owner alice --expires +1d --uid 2500000
eqv "directory: --uid honoured" 2500000 "$(attr svc-u uidNumber)"
eqv "the counter is not used for --uid" 2000002 "$(counter)"
# the counter points at 2000002 (the plain account) and 2000003 is a local
# user: allocation skips both
echo "squatter:x:2000003:1000:taken:/nonexistent:/usr/sbin/nologin" >> "$T/etc/passwd"
expect 0 "create svc-c: the counter skips ids in use" nhictl create svc-c --owner alice --expires +1d
has out "skipped the directory's and NSS's ids" 'uid 2000004,'
eqv "counter after skipping" 2000005 "$(counter)"

# ---- adopt -------------------------------------------------------------------------
expect 0 "adopt legacy-svc" nhictl adopt legacy-svc --owner dave --expires +20d
has out "adopted" '^adopted legacy-svc: uid 850, owner dave'
eqv "directory: adopted account keeps uid, home, shell, gecos" "850 850 /srv/legacy /usr/sbin/nologin old service TRUE" \
	"$(attr legacy-svc uidNumber) $(attr legacy-svc gidNumber) $(attr legacy-svc homeDirectory) $(attr legacy-svc loginShell) $(attr legacy-svc gecos) $(attr legacy-svc nhiAdopted)"
fails adopt 1 "adopt again: already registered" "'legacy-svc' is already registered in the directory" \
	nhictl adopt legacy-svc --owner dave --expires +20d
fails adopt 1 "adopt without a local account" "no local account 'nobody-here'" \
	nhictl adopt nobody-here --owner dave --expires +20d
# release: the entry and its credential entries leave the directory, the
# row the registry; adopting again undoes it
expect 0 "issue legacy-svc a token (an entry below it)" nhictl cred add legacy-svc --kind token --out "$T/legacy.tok"
expect 0 "release legacy-svc" nhictl release legacy-svc
has out "released" '^released legacy-svc: uid 850 is no longer registered'
eqv "directory: the entry and its credential are gone" 0 \
	"$(ldap_admin ldapsearch -b "$B" "(|(uid=legacy-svc)(objectClass=nhiCredential))" dn | grep -c 'legacy-svc')"
fails show 1 "registry: the row is gone" "no identity 'legacy-svc'" nhictl show legacy-svc
fails release 1 "release a created identity: refused" "created by nhictl, not adopted" \
	nhictl release svc-a
fails release 1 "release what the directory does not have" "no identity 'legacy-svc' in the directory" \
	nhictl release legacy-svc
expect 0 "adopt legacy-svc again" nhictl adopt legacy-svc --owner dave --expires +20d

# ---- extend ----------------------------------------------------------------------
expect 0 "extend svc-a" nhictl extend svc-a --expires 2027-01-31
has out "extend message" '^svc-a: expires 2027-01-31T00:00:00Z'
eqv "directory: nhiExpires, shadowExpire" "20270131000000Z $(( $(date -u -d 2027-01-31 +%s) / 86400 ))" \
	"$(attr svc-a nhiExpires) $(attr svc-a shadowExpire)"
expect 0 "show after extend" nhictl show svc-a --json
eqv "registry: new expiry" 2027-01-31T00:00:00Z "$(pyjson 'd["expires"]')"
expect 0 "extend to the same expiry: unchanged" nhictl --changed-exit 3 extend svc-a --expires 2027-01-31
has out "nothing changed" 'nothing changed'
expect 3 "extend with --changed-exit 3: a change exits 3" nhictl --changed-exit 3 extend svc-a --expires 2027-02-01
fails extend 1 "extend an unknown identity" "no identity 'ghost-svc' in the directory" \
	nhictl extend ghost-svc --expires +1d

# ---- suspend / resume -----------------------------------------------------------------
expect 0 "suspend svc-a" nhictl suspend svc-a
eqv "directory: suspended" suspended "$(attr svc-a nhiState)"
expect 0 "list --json (read your writes)" nhictl list --json
eqv "registry: suspended" suspended "$(pyjson '[i["state"] for i in d if i["name"] == "svc-a"][0]')"
if have_nss; then
	expect 0 "getent after suspend" nsswrap getent passwd svc-a
	has out "suspended: nologin shell through NSS" '^svc-a:.*:/usr/sbin/nologin$'
fi
expect 0 "suspend again: exit 0" nhictl --changed-exit 3 suspend svc-a
has out "unchanged" 'already suspended \(nothing changed\)'
expect 0 "resume svc-a" nhictl resume svc-a
eqv "directory: active again" active "$(attr svc-a nhiState)"
expect 0 "resume again: unchanged" nhictl resume svc-a
has out "already active" 'already active'

# ---- review -----------------------------------------------------------------------------
expect 0 "review svc-a" nhictl review svc-a --json
lr=$(attr svc-a nhiLastReview)
check "directory: nhiLastReview set to now" test -n "$lr" -a "$(( $(date -u +%s) - $(epoch "${lr:0:4}-${lr:4:2}-${lr:6:2}T${lr:8:2}:${lr:10:2}:${lr:12:2}Z") ))" -lt 60
eqv "registry: last_review = directory's" "$lr" "$(gentime "$(epoch "$(pyjson 'd["last_review"]')")")"
eqv "registry: review_due = directory's" "$(attr svc-a nhiReviewDue)" "$(gentime "$(epoch "$(pyjson 'd["review_due"]')")")"

# ---- transfer, orphaned ---------------------------------------------------------------
expect 0 "transfer svc-a to dave" nhictl transfer svc-a --to dave
has out "transfer message" '^svc-a: owner is now dave'
eqv "directory: owner dave" "uid=dave,$P" "$(attr svc-a owner)"
expect 0 "transfer to the same owner: unchanged" nhictl transfer svc-a --to "uid=dave,$P"
has out "unchanged" 'already owned'
fails transfer 1 "transfer to a locked owner" "locked" nhictl transfer svc-a --to bob
fails transfer 1 "transfer: injection in --to" "neither a user name nor a DN" nhictl transfer svc-a --to 'dave)(uid=*'
eqv "directory: owner still dave" "uid=dave,$P" "$(attr svc-a owner)"
# the owner is found gone (as sync will do): orphaned in the directory
ldap_admin ldapmodify > /dev/null <<EOF || nok "ldapmodify orphan"
dn: uid=svc-a,$B
changetype: modify
replace: nhiState
nhiState: orphaned
-
replace: nhiOrphanedSince
nhiOrphanedSince: 20260101000000Z
EOF
fails resume 1 "resume an orphaned identity: refused" "is orphaned, not suspended" nhictl resume svc-a
fails review 1 "review an orphaned identity: refused" "no live owner" nhictl review svc-a
expect 0 "transfer the orphaned svc-a to alice by DN" nhictl transfer svc-a --to "uid=alice,$P" --json
eqv "json: active, owner alice, orphaned_since cleared" "active alice None" \
	"$(pyjson 'd["state"], d["owner"], d["orphaned_since"]' | tr -d "(),'")"
eqv "directory: orphaned cleared, active, owner alice" "|active|uid=alice,$P" \
	"$(attr svc-a nhiOrphanedSince)|$(attr svc-a nhiState)|$(attr svc-a owner)"
expect 0 "log: transfer recorded" nhictl log --target svc-a
has out "transfer event" 'transfer.*owner dave -> alice \(was orphaned\) \(directory\)'

# ---- retire -----------------------------------------------------------------------------
expect 0 "retire svc-b" nhictl retire svc-b --reason "project ended"
eqv "directory: retired, reason, time" "retired|project ended|yes" \
	"$(attr svc-b nhiState)|$(attr svc-b nhiReason)|$([ -n "$(attr svc-b nhiRetiredAt)" ] && echo yes)"
expect 0 "show retired svc-b" nhictl show svc-b --json
eqv "registry: retired with the reason" "retired project ended" "$(pyjson 'd["state"], d["retire_reason"]' | tr -d "(),'")"
if have_nss; then
	nrun nsswrap getent passwd svc-b
	eqv "retired identity gone from NSS (getent exit 2)" 2 "$rc"
fi
expect 0 "retire again: unchanged" nhictl retire svc-b
has out "already retired" 'already retired'
fails suspend 1 "suspend a retired identity" "is retired" nhictl suspend svc-b

expect 0 "log --verify" nhictl log --verify

# ---- groups and audit with backend = ldap -------------------------------------------------
fails group 1 "group create refused with backend = ldap" "not kept in the directory" \
	nhictl group create team
expect 0 "group list still works" nhictl group list
# audit reads the registry as last synced; the writing steps are sync's
expect 0 "audit runs with backend = ldap (the registry's findings)" nhictl audit --no-host
has err "audit: a note: usage, owners and stale_action left to sync" "^nhictl: audit: note: backend = ldap: usage, owners and stale_action are left to 'nhictl sync'"

# ---- two hosts creating at once: distinct uids ------------------------------------------
base_conf "$T/host1" "ldap_uri = $SLAPD_LDAPI_URI" > "$T/etc/host1.conf"
base_conf "$T/host2" "ldap_uri = $SLAPD_LDAPI_URI" > "$T/etc/host2.conf"
# no block: the first pair (one host name, two nhictl) also races to claim it
ldap_admin ldapdelete "cn=uid-block-2000000-testhost-1,$B" || nok "ldapdelete the uid block"
for i in 1 2 3 4 5 6 7 8; do
	nhictl -c "$T/etc/host1.conf" create "race-a$i" --owner alice --expires +1d > "$T/race1.$i" 2>&1 &
	p1=$!
	nhictl -c "$T/etc/host2.conf" create "race-b$i" --owner dave --expires +1d > "$T/race2.$i" 2>&1 &
	p2=$!
	wait "$p1"; r1=$?
	wait "$p2"; r2=$?
	[ "$r1$r2" = 00 ] || nok "race pair $i: exit $r1/$r2: $(cat "$T/race1.$i" "$T/race2.$i")"
done
uids=$(ldap_admin ldapsearch -b "$B" "(|(uid=race-a*)(uid=race-b*))" uidNumber | sed -n 's/^uidNumber: //p' | sort)
eqv "16 racing creates: 16 entries" 16 "$(echo "$uids" | grep -c .)"
eqv "16 racing creates: 16 distinct uids" 16 "$(echo "$uids" | sort -u | grep -c .)"
eqv "all uids distinct across the directory" "" \
	"$(ldap_admin ldapsearch -b "$B" "(objectClass=posixAccount)" uidNumber | sed -n 's/^uidNumber: //p' | sort | uniq -d)"
expect 0 "host1 sees its own creates" nhictl -c "$T/etc/host1.conf" list --json
eqv "host1's registry has its 8" 8 "$(pyjson 'len([i for i in d if i["name"].startswith("race-a")])')"

# ---- the writes as nhictl sync sees them ------------------------------------------------
# host2 learns host1's identities; on the writing host, sync finds the
# entries it stored after each write unchanged (one mapping both ways)
expect 0 "host2 syncs" nhictl -c "$T/etc/host2.conf" sync --json
expect 0 "host2 lists host1's creates" nhictl -c "$T/etc/host2.conf" list --json
eqv "host2 has race-a1..8 too" 8 "$(pyjson 'len([i for i in d if i["name"].startswith("race-a")])')"
expect 0 "sync on the writing host" nhictl sync --json
eqv "sync: host1/host2's 16 added, nothing of ours changed" "16 0 0" "$(pyjson 'd["added"], d["changed"], d["deleted"]' | tr -d "(),'")"

# ---- StartTLS with the test CA; the wrong CA refused ---------------------------------------
TLS=("ldap_uri = $SLAPD_LDAP_URI" "ldap_bind = simple" "ldap_bind_dn = $SLAPD_ADMIN_DN"
	"ldap_bind_password_file = $SLAPD_DIR/admin.pw")
base_conf "$ST" "${TLS[@]}" "ldap_tls_cacert = $SLAPD_CA" > "$T/etc/tls.conf"
expect 0 "create over StartTLS with the test CA" nhictl -c "$T/etc/tls.conf" create svc-tls --owner alice --expires +1d
eqv "directory: svc-tls" active "$(attr svc-tls nhiState)"
base_conf "$ST" "${TLS[@]}" "ldap_tls_cacert = $SLAPD_WRONG_CA" > "$T/etc/wrongca.conf"
s0=$(sums)
fails suspend 1 "the wrong CA: refused, clearly" "directory unreachable: .*StartTLS failed.*$SLAPD_WRONG_CA" \
	nhictl -c "$T/etc/wrongca.conf" suspend svc-tls
eqv "wrong CA: directory unchanged" active "$(attr svc-tls nhiState)"
eqv "wrong CA: registry and snapshot untouched" "$s0" "$(sums)"

# ---- a write the server refuses (read-only bind) -----------------------------------------
printf 'alice-pw' > "$T/alice.pw"; chmod 600 "$T/alice.pw"
base_conf "$ST" "ldap_uri = $SLAPD_LDAPI_URI" "ldap_bind = simple" "ldap_bind_dn = uid=alice,$P" \
	"ldap_bind_password_file = $T/alice.pw" > "$T/etc/ro.conf"
s0=$(sums); n0=$(n_entries)
fails create 1 "read-only bind: create refused with the server's reason" "directory refused: Insufficient access" \
	nhictl -c "$T/etc/ro.conf" create svc-ro --owner alice --expires +1d --uid 2600000
fails create 1 "read-only bind: the uid counter refused too" "directory refused moving on uid block 2000000-2000099: Insufficient access" \
	nhictl -c "$T/etc/ro.conf" create svc-ro --owner alice --expires +1d
fails suspend 1 "read-only bind: suspend refused" "directory refused: Insufficient access" \
	nhictl -c "$T/etc/ro.conf" suspend svc-a
eqv "refused writes: no entry added" "$n0" "$(n_entries)"
eqv "refused writes: svc-a still active" active "$(attr svc-a nhiState)"
eqv "refused writes: registry and snapshot untouched" "$s0" "$(sums)"

# ---- the directory hung (SIGSTOP: connections accepted, nothing answers) -----------------
kill -STOP "$SLAPD_PID"
at_exit 'kill -CONT $SLAPD_PID 2>/dev/null'
s0=$(sums)
t0=$(date +%s)
fails suspend 1 "directory hung: exit 1" "svc-a|$SLAPD_LDAPI_URI" nhictl suspend svc-a
took=$(( $(date +%s) - t0 ))
check "directory hung: gave up in ${took}s (< 3 x ldap_timeout)" test "$took" -lt 9
eqv "directory hung: registry and snapshot untouched" "$s0" "$(sums)"
kill -CONT "$SLAPD_PID"
eqv "after the hang: svc-a still active in the directory" active "$(attr svc-a nhiState)"

# ---- a write the directory does not answer (ldap_timeout) -----------------------------------
# (the test build stops slapd right before suspend's Modify: the Modify is
# sent, nothing answers it within ldap_timeout; it may land later.)  The
# intent is not dropped: the next run asks the directory and records the
# suspend once, recovered when the Modify landed, not-done when it did not
ev_sus() { sqlite3 "$ST/registry.db" "SELECT group_concat(outcome, ' ') FROM event WHERE action = 'suspend' AND target = 'svc-a'"; }
e0=$(ev_sus)
NHI_TEST_FAULT=update-write-exec NHI_TEST_FAULT_EXEC="kill -STOP $SLAPD_PID" nhictl_t suspend svc-a >"$T/out" 2>"$T/err"
eqv "unanswered write: exit 1" 1 "$?"
kill -CONT "$SLAPD_PID"
has err "unanswered write: said so" "the directory did not answer the suspend of svc-a: whether it was made is not known"
eqv "unanswered write: its intent stays for the next run" "suspend svc-a" \
	"$(sqlite3 "$ST/registry.db" "SELECT action || ' ' || target FROM intent")"
eqv "unanswered write: no event yet" "$e0" "$(ev_sus)"
expect 0 "unanswered write: the next sync" nhictl sync
has err "unanswered write: the sync asked the directory" "^nhictl: sync: the interrupted suspend of svc-a .* recorded as (recovered|not done)"
want=not-done; [ "$(attr svc-a nhiState)" = suspended ] && want=recovered
eqv "unanswered write: one event, as the directory says ($want)" "${e0:+$e0 }$want" "$(ev_sus)"
eqv "unanswered write: registry and directory agree" "$(attr svc-a nhiState)" \
	"$(sqlite3 "$ST/registry.db" "SELECT state FROM identity WHERE name = 'svc-a'")"
eqv "unanswered write: no intent left" 0 "$(sqlite3 "$ST/registry.db" "SELECT count(*) FROM intent")"
check "unanswered write: the audit chain verifies" nhictl log --verify

# ---- the directory stopped ----------------------------------------------------------------
slapd_stop
s0=$(sums)
t0=$(date +%s)
fails suspend 1 "directory stopped: exit 1, clear message" "directory unreachable: .*Can't contact LDAP server" \
	nhictl suspend svc-a
took=$(( $(date +%s) - t0 ))
check "directory stopped: gave up in ${took}s (< 6s)" test "$took" -lt 6
fails create 1 "directory stopped: create" "directory unreachable" nhictl create svc-z --owner alice --expires +1d
eqv "directory stopped: registry and snapshot untouched" "$s0" "$(sums)"
expect 0 "the registry still answers while the directory is down" nhictl show svc-a
finish

#!/bin/bash
# nhictl sync against a real slapd (tests/slapd.sh): initial content,
# incremental changes and deletes with the cookie kept in registry.db, two
# hosts (two state dirs) seeing each other's changes, a stale cookie
# answered with e-syncRefreshRequired -> full reload, a present phase after
# a slapd restart, entries newer than the server's contextCSN (left out of
# a refresh, read apart), the full scan (--full, and a server without syncprov)
# reconciling deletes, owners locked or deleted -> orphaned in the
# directory and locally (and PAM's decision), usage pushed as nhiLastUsed,
# and the directory unreachable or stopped mid-sync leaving registry.db
# and nhi.cache (with its delta) byte-identical.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
# slapd is there: a server that does not start (a schema error, say) is a failure
slapd_start || { nok "slapd starts"; finish; }
# a stopped slapd must be continued before slapd_stop (hooks run last-in first)
at_exit 'kill -CONT $SLAPD_PID 2>/dev/null'

# libldap must read nothing but nhi.conf; nss_wrapper must not dlopen with
# RTLD_DEEPBIND under the sanitizers (libldap resolves host names)
ldap_hermetic

# host NAME: a state dir and config of its own; "on NAME CMD..." runs
# nhictl (through nss_wrapper) as that host
host() {
	mkdir -p "$T/$1"
	slapd_nhi_conf "$T/$1" "$1" > "$T/$1.conf"
}
on() { local h=$1; shift; NHI_CONF=$T/$h.conf nhictl "$@"; }
host a; host b

# ident NAME UID [OWNER]: LDIF of an identity (tests/slapd.sh)
ident() { slapd_ident "$@"; }
add() { ident "$@" | ldap_admin ldapadd >/dev/null; }
# replace NAME ATTR VALUE: one attribute of an identity, changed in the directory
replace() {
	printf 'dn: uid=%s,%s\nchangetype: modify\nreplace: %s\n%s: %s\n' \
		"$1" "$SLAPD_NHI_BASE" "$2" "$2" "$3" | ldap_admin ldapmodify >/dev/null
}
# sync HOST [ARGS]: nhictl sync --json, summary fields in $S_*
sync() {
	local h=$1; shift
	nrun on "$h" sync --json "$@"
	S_mode=failed S_added= S_changed= S_deleted= S_orphaned= S_entries= S_invalid= S_usage_pushed= S_usage_records= S_refused_writes= S_late_entries=
	if [ "$rc" -eq 0 ]; then
		eval "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in ("mode","added","changed","deleted","orphaned","entries","invalid","usage_pushed","usage_records","refused_writes","late_entries"): print("S_%s=%s" % (k, d[k]))' "$T/out")"
	else
		S_mode=failed
	fi
}
# counts "desc" "MODE ADDED CHANGED DELETED ORPHANED": check the last summary
counts() { eqv "$1" "$2" "$S_mode $S_added $S_changed $S_deleted $S_orphaned"; }
# names HOST: the identities in its registry that are not retired
names() { sqlite3 "$T/$1/registry.db" "SELECT group_concat(name, ' ') FROM (SELECT name FROM identity WHERE state != 'retired' ORDER BY name)"; }

# ---- initial content ------------------------------------------------------
expect 0 "sync --help" on a sync --help
has out "help names --full" '--full'
expect 0 "sync --condition: backend = ldap (nhi-sync.service runs)" on a sync --condition
expect 1 "sync --condition: backend = local (nhi-sync.service skips)" nhictl sync --condition
check "--condition prints nothing" test ! -s "$T/out" -a ! -s "$T/err"
fails sync 1 "sync with backend = local: one line" "backend is 'local'" nhictl sync
fails sync 2 "sync: unknown option" "unknown option" on a sync --bogus
fails sync 2 "sync: an argument" "unexpected argument 'x'" on a sync x
add svc-a 2000001; add svc-b 2000002
sync a
check "first sync succeeds" test "$rc" -eq 0
counts "first sync: full, 2 added" "full 2 0 0 0"
eqv "host a has both" "svc-a svc-b" "$(names a)"
expect 0 "show svc-a" on a show svc-a --json
eqv "svc-a as in the directory" "2000001 alice purpose of svc-a active 2099-12-31T00:00:00Z" \
	"$(pyjson '"%d %s %s %s %s" % (d["uid"], d["owner"], d["purpose"], d["state"], d["expires"])')"
check "cookie stored" test -n "$(sqlite3 "$T/a/registry.db" "SELECT length(cookie) FROM sync_state")"
check "owner DN and entryUUID stored" test "$(sqlite3 "$T/a/registry.db" \
	"SELECT owner_dn || ' ' || length(entry_uuid) FROM identity WHERE name = 'svc-a'")" = \
	"uid=alice,$SLAPD_PEOPLE_BASE 36"
if have_nss; then
	NHI_CONF=$T/a.conf expect 0 "getent passwd svc-a (nss_nhi, host a)" nsswrap getent passwd svc-a
	has out "passwd line" '^svc-a:x:2000001:2000001:'
fi
ev=$(sqlite3 "$T/a/registry.db" "SELECT count(*) FROM event WHERE action = 'sync'")
eqv "one sync event" 1 "$ev"

# ---- incremental: only the change travels ---------------------------------
gen=$(sqlite3 "$T/a/registry.db" "SELECT value FROM meta WHERE key = 'generation'")
sync a
counts "nothing new: incremental, no counts" "incremental 0 0 0 0"
eqv "no entries transferred" 0 "$S_entries"
eqv "nothing new: no new snapshot" "$gen" "$(sqlite3 "$T/a/registry.db" "SELECT value FROM meta WHERE key = 'generation'")"
eqv "nothing new: no sync event" 1 "$(sqlite3 "$T/a/registry.db" "SELECT count(*) FROM event WHERE action = 'sync'")"
ldap_admin ldapmodify >/dev/null <<EOF
dn: uid=svc-a,$SLAPD_NHI_BASE
changetype: modify
replace: description
description: changed purpose
-
add: host
host: a
EOF
sync a
counts "one change: incremental, 1 changed" "incremental 0 1 0 0"
eqv "only the changed entry was sent" 1 "$S_entries"
expect 0 "show svc-a after the change" on a show svc-a --json
eqv "purpose and hosts changed" "changed purpose a" "$(pyjson 'd["purpose"]+" "+",".join(d["hosts"])')"
ldap_admin ldapdelete "uid=svc-b,$SLAPD_NHI_BASE"
sync a
counts "a delete: incremental, 1 deleted" "incremental 0 0 1 0"
eqv "svc-b gone on host a" "svc-a" "$(names a)"
fails show 1 "show svc-b: gone" "no identity 'svc-b'" on a show svc-b
if have_nss; then
	NHI_CONF=$T/a.conf expect 2 "getent passwd svc-b: gone from the snapshot" nsswrap getent passwd svc-b
fi

# ---- two hosts ---------------------------------------------------------------
sync b
counts "host b's first sync" "full 1 0 0 0"
add svc-c 2000003
replace svc-a nhiState suspended
sync a; counts "host a sees the add and the change" "incremental 1 1 0 0"
sync b; counts "host b sees the add and the change" "incremental 1 1 0 0"
eqv "hosts agree" "$(names a)" "$(names b)"
if have_nss; then
	NHI_CONF=$T/b.conf expect 0 "getent passwd svc-c on host b (nss_nhi)" nsswrap getent passwd svc-c
	has out "host b's passwd line" '^svc-c:x:2000003:2000003:'
fi
ldap_admin ldapdelete "uid=svc-c,$SLAPD_NHI_BASE"
sync b; counts "host b sees the delete" "incremental 0 0 1 0"
sync a; counts "host a sees the delete" "incremental 0 0 1 0"
eqv "hosts agree after the delete" "svc-a|svc-a" "$(names a)|$(names b)"
expect 1 "suspended svc-a: PAM denies on host b" on b check svc-a --service sshd
has out "reason suspended" 'suspended'

# ---- the write verbs on one host, sync on the other ---------------------------
expect 0 "host a: create svc-w (written to the directory)" on a create svc-w --owner alice \
	--expires +30d --purpose "written by host a"
sync b
counts "host b learns host a's create" "incremental 1 0 0 0"
if have_nss; then
	NHI_CONF=$T/b.conf expect 0 "getent passwd svc-w on host b (nss_nhi)" nsswrap getent passwd svc-w
fi
expect 0 "check svc-w on host b: allowed" on b check svc-w --service sshd
sync a
counts "host a's sync finds its own write already stored" "incremental 0 0 0 0"
expect 0 "host b: retire svc-w" on b retire svc-w --reason "done"
sync a
counts "host a learns host b's retirement" "incremental 0 1 0 0"
expect 1 "check svc-w on host a: retired" on a check svc-w --service sshd
has out "reason retired" 'retired'

# ---- a rename keeps the row (matched by entryUUID) -------------------------
ldap_admin ldapmodrdn -r "uid=svc-a,$SLAPD_NHI_BASE" "uid=svc-r" >/dev/null
sync a
counts "rename: one change" "incremental 0 1 0 0"
eqv "renamed on host a" "svc-r" "$(names a)"

# ---- a stale cookie: e-syncRefreshRequired -> full reload -----------------
add svc-d 2000004
sqlite3 "$T/a/registry.db" "INSERT INTO identity (name, kind, uid, gid, home, shell, owner, \
	created, expires, review_interval, state, entry_uuid) VALUES ('stale-x', 'service', \
	2000099, 2000099, '/', '/bin/false', 'alice', 0, 4102444800, 0, 'active', \
	'00000000-0000-0000-0000-000000000001')"
sqlite3 "$T/a/registry.db" "UPDATE sync_state SET \
	cookie = CAST('rid=000,csn=20000101000000.000000Z#000000#000#000000' AS BLOB)"
sync a
counts "stale cookie: full reload (adds svc-d, removes what the directory lacks)" "full 1 0 1 0"
eqv "after the reload" "svc-d svc-r" "$(names a)"
sync a
counts "after the reload: incremental again" "incremental 0 0 0 0"

# ---- after a restart syncprov's session log is empty: a present phase -------
slapd_restart
ldap_admin ldapdelete "uid=svc-d,$SLAPD_NHI_BASE"
sync a
eqv "present phase: svc-d deleted" "1 svc-r" "$S_deleted $(names a)"
eqv "mode" incremental "$S_mode"

# ---- entries newer than the server's contextCSN ---------------------------
# slapd can keep its contextCSN behind a committed write until the next one
# (of two writes at once, the later CSN committed first moves nothing and
# the earlier one moves it to its own CSN only), and a refresh leaves out
# every entry newer than it (seen: a resource changed on one host while
# another changed a grant; every sync after it missed the change).  Made
# here by setting the contextCSN back under a stopped slapd: svc-m changed
# at C1, then svc-l suspended; the contextCSN set back to C1.  After the
# restart the cookie (C0) gets a present phase.
add svc-l 2000013; add svc-m 2000014
sync a
# ctx: the server's contextCSN; csn NAME: an identity's entryCSN
ctx() { ldap_admin ldapsearch -b "$SLAPD_BASE" -s base contextCSN | sed -n 's/^contextCSN: //p'; }
csn() { ldap_admin ldapsearch -b "uid=$1,$SLAPD_NHI_BASE" -s base entryCSN | sed -n 's/^entryCSN: //p'; }
state() { sqlite3 "$T/$1/registry.db" "SELECT state FROM identity WHERE name = '$2'"; }
replace svc-m description "changed at C1"
c1=$(ctx)
replace svc-l nhiState suspended
printf 'dn: %s\nchangetype: modify\nreplace: contextCSN\ncontextCSN: %s\n' "$SLAPD_BASE" "$c1" \
	> "$T/ctx.ldif"
slapd_stop
expect 0 "the contextCSN set back to C1 (slapmodify, slapd stopped)" \
	slapmodify -F "$SLAPD_DIR/slapd.d" -b "$SLAPD_BASE" -l "$T/ctx.ldif"
slapd_restart
check "the server's contextCSN is C1, svc-l's entryCSN newer" test "$(ctx)" = "$c1" -a "$(csn svc-l)" \> "$c1"
sync a
eqv "two changed: svc-m from the refresh, svc-l (left out of it) read apart: suspended here too" \
	"2 1 suspended" "$S_changed $S_late_entries $(state a svc-l)"
sync a
eqv "the next sync (the cookie is the contextCSN): svc-l read apart again, nothing changed" \
	"incremental 1 0 0" "$S_mode $S_late_entries $S_changed $S_deleted"
replace svc-m description "changed after"
sync a
eqv "a write moves the contextCSN past svc-l: nothing read apart" "1 0" "$S_changed $S_late_entries"
ldap_admin ldapdelete "uid=svc-l,$SLAPD_NHI_BASE" "uid=svc-m,$SLAPD_NHI_BASE"
sync a
eqv "svc-l and svc-m deleted" "2 svc-r" "$S_deleted $(names a)"

# ---- owners: locked and deleted -> orphaned, in the directory and here ------
add svc-o 2000005 dave; add svc-p 2000006 dave; add svc-q 2000007 carol
sync a
counts "svc-q's owner carol is expired: orphaned at once" "incremental 3 0 0 1"
dsearch() { ldap_admin ldapsearch -b "uid=$1,$SLAPD_NHI_BASE" -s base "(objectClass=*)" "$2" | sed -n "s/^$2: //p"; }
eqv "svc-q orphaned in the directory" orphaned "$(dsearch svc-q nhiState)"
check "nhiOrphanedSince in the directory" test -n "$(dsearch svc-q nhiOrphanedSince)"
ldap_admin ldapmodify >/dev/null <<EOF
dn: uid=dave,$SLAPD_PEOPLE_BASE
changetype: modify
add: pwdAccountLockedTime
pwdAccountLockedTime: 20260101000000Z
EOF
sync a
counts "dave locked: his two identities orphaned" "incremental 0 0 0 2"
expect 0 "show svc-o" on a show svc-o --json
eqv "svc-o orphaned locally, with the time" "orphaned True" "$(pyjson 'd["state"]+" "+str(d["orphaned_since"] is not None)')"
eqv "svc-o orphaned in the directory" orphaned "$(dsearch svc-o nhiState)"
expect 1 "check svc-o: denied (orphan_grace 0)" on a check svc-o --service sshd
has out "reason: no live owner" 'no live owner'
check "orphan event names the owner" test "$(sqlite3 "$T/a/registry.db" \
	"SELECT count(*) FROM event WHERE action = 'orphan' AND target = 'svc-o' AND detail LIKE '%uid=dave%'")" = 1
sync b
eqv "host b gets the orphans from the directory, orphans nothing itself" "0 3" \
	"$S_orphaned $(sqlite3 "$T/b/registry.db" "SELECT count(*) FROM identity WHERE state = 'orphaned'")"
# The real pam_nhi.so on host b, after its sync: pamtester's account phase
# under pam_wrapper, the users resolved through nss_nhi (nss_wrapper).
pam_setup "$T/b.conf" sshd
pam_b() { pam_acct sshd "$1"; }  # USER: the exit code of host b's PAM account stack
if [ $pam_ok = 1 ]; then
	pam_b svc-o; rc=$?
	check "host b, real pam_nhi: orphaned svc-o denied after sync (grace 0)" \
		test $rc -ne 0 -a "$(grep -c 'successfully' "$T/pam.out")" = 0
	sed 's/^/#   /' "$T/pam.out"
else
	echo "# skip: PAM checks on host b (pamtester or pam_wrapper missing)"
fi
expect 0 "host b: transfer svc-o to a live owner" on b transfer svc-o --to alice
if [ $pam_ok = 1 ]; then
	check "host b, real pam_nhi: svc-o allowed after the transfer" pam_b svc-o
	sed 's/^/#   /' "$T/pam.out"
fi
sync a
counts "host a learns the transfer" "incremental 0 1 0 0"
expect 0 "check svc-o on host a: allowed again" on a check svc-o --service sshd
add svc-g 2000008 alice
sync a
ldap_admin ldapdelete "uid=alice,$SLAPD_PEOPLE_BASE"
sync a
counts "alice deleted: svc-g, svc-o and svc-r orphaned" "incremental 0 0 0 3"
sync a
counts "orphans are not orphaned again" "incremental 0 0 0 0"

# ---- usage pushed as nhiLastUsed, only when newer -------------------------------
now=$(date +%s)
printf '%s svc-g sshd a 10.0.0.1\n' $((now - 100)) > "$T/a/usage.log"; chmod 600 "$T/a/usage.log"
sync a
eqv "usage pushed" "1 1" "$S_usage_records $S_usage_pushed"
eqv "nhiLastUsed in the directory" "$(date -u -d "@$((now - 100))" +%Y%m%d%H%M%SZ)" "$(dsearch svc-g nhiLastUsed)"
check "usage.log consumed" test ! -e "$T/a/usage.log.ingest"
printf '%s svc-g sshd b -\n' $((now - 500)) > "$T/b/usage.log"; chmod 600 "$T/b/usage.log"
sync b
eqv "older usage from host b is not pushed" "1 0 $(date -u -d "@$((now - 100))" +%Y%m%d%H%M%SZ)" \
	"$S_usage_records $S_usage_pushed $(dsearch svc-g nhiLastUsed)"
expect 0 "show svc-g on host b" on b show svc-g --json
eqv "host b learns the newer last use" "$(date -u -d "@$((now - 100))" +%Y-%m-%dT%H:%M:%SZ)" "$(pyjson 'd["last_used"]')"

# ---- a read-only bind: sync works, orphans stay on the host, a warning says so ----
ldap_admin ldapadd >/dev/null <<EOF
dn: cn=reader,ou=hosts,$SLAPD_BASE
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: reader-pw
EOF
printf 'reader-pw' > "$T/reader.pw"; chmod 600 "$T/reader.pw"
host r
sed -i -e "s|^ldap_uri = .*|ldap_uri = $SLAPD_LDAP_URI|" -e '/^ldap_bind = external/d' "$T/r.conf"
printf '%s\n' "ldap_bind = simple" "ldap_bind_dn = cn=reader,ou=hosts,$SLAPD_BASE" \
	"ldap_bind_password_file = $T/reader.pw" "ldap_starttls = no" >> "$T/r.conf"
sync r
check "a read-only host syncs (simple bind, read access only)" test "$rc" -eq 0
add svc-z 2000012 carol   # carol's account has expired
sync r
eqv "the read-only host orphans svc-z, on this host only" "1 1" "$S_orphaned $S_refused_writes"
has err "a warning names the refusal" 'refused 1 write .*Insufficient access'
eqv "the directory still says active" active "$(dsearch svc-z nhiState)"
expect 1 "check svc-z on the read-only host: denied" on r check svc-z --service sshd
sync a
eqv "a host with write access orphans it in the directory" "1 orphaned" "$S_orphaned $(dsearch svc-z nhiState)"

# ---- invalid entries are not identities here ------------------------------------
replace svc-g nhiKind robot
nrun on a sync
check "invalid entry: sync still succeeds" test "$rc" -eq 0
has err "invalid entry named" 'svc-g'
fails show 1 "invalid entry removed locally" "no identity 'svc-g'" on a show svc-g

# ---- the directory unreachable: nothing changes, exit 1 quickly ------------------
cp "$T/a/registry.db" "$T/reg.before"; cat "$T/a/nhi.cache" "$T/a/nhi.cache.delta" >"$T/cache.before"
slapd_stop
t0=$(date +%s%N)
fails sync 1 "directory stopped: one line, exit 1" "unreachable|Can't contact" on a sync
t1=$(date +%s%N)
check "failed within 5 s" test $(((t1 - t0) / 1000000)) -lt 5000
check "registry.db byte-identical" cmp -s "$T/reg.before" "$T/a/registry.db"
check "nhi.cache and its delta byte-identical" cmp -s "$T/cache.before" <(cat "$T/a/nhi.cache" "$T/a/nhi.cache.delta")
expect 1 "check still answers from the snapshot" on a check svc-o --service sshd
has out "still the orphan decision" 'no live owner'

# ---- the directory stopped (SIGSTOP) and killed mid-sync -------------------------
slapd_gen_idents 20000 bulk- > "$T/bulk.ldif"
slapd_start --ldif "$T/bulk.ldif" || { nok "slapd with 20000 entries"; finish; }
host c
sync c
eqv "20000 identities in a full sync" "full 20000" "$S_mode $S_added"
check "no progress without a terminal" test ! -s "$T/err"
# on a terminal (script(1) gives it one) a long sync shows its progress
host f
NHI_CONF=$T/f.conf script -qec "$NHICTL sync" /dev/null > "$T/tty.out" 2>&1
has tty.out "progress on a terminal" 'nhictl: sync: [0-9]+ entries \([0-9]+ added'
has tty.out "then the summary line" 'sync \(full\) from .*: 20000 added'
# read_2mb PID: wait (up to 5 s) until process PID has read 2 MB (rchar of
# /proc/PID/io) or has ended
read_2mb() {
	local i
	for ((i = 0; i < 500; i++)); do
		[ "$(awk '/^rchar/ {print $2}' /proc/$1/io 2>/dev/null || echo 0)" -gt 2000000 ] && break
		kill -0 "$1" 2>/dev/null || break
		sleep 0.01
	done
}
# mid SIGNAL: a full sync of the 20000 into a fresh host e, and SIGNAL to
# slapd once nhictl has read 2 MB of them (rchar of /proc/PID/io)
mid() {
	local sig=$1 pid
	rm -rf "$T/e"; host e
	sqlite3 "$T/e/registry.db" "PRAGMA user_version" >/dev/null
	on e publish >/dev/null 2>&1
	cp "$T/e/registry.db" "$T/e.reg"; cat "$T/e/nhi.cache" "$T/e/nhi.cache.delta" >"$T/e.cache"
	# nhictl itself (sync needs no NSS), so that $! is its pid
	NHI_CONF=$T/e.conf "$NHICTL" sync >"$T/out" 2>"$T/err" &
	pid=$!
	read_2mb $pid
	kill -"$sig" "$SLAPD_PID"
	t0=$(date +%s%N)
	# (quietly: bash reports the killed slapd job at the next wait)
	{ wait $pid; rc=$?; } 2>/dev/null
	t1=$(date +%s%N)
	[ "$sig" = STOP ] && kill -CONT "$SLAPD_PID"
	eqv "slapd $sig mid-sync: exit 1" 1 "$rc"
	has err "one clear line" "^nhictl: sync: .*(no answer within 2 seconds|Can't contact|during the sync)"
	eqv "one line only" 1 "$(wc -l < "$T/err")"
	check "slapd $sig mid-sync: failed within 5 s" test $(((t1 - t0) / 1000000)) -lt 5000
	check "slapd $sig mid-sync: registry.db byte-identical" cmp -s "$T/e.reg" "$T/e/registry.db"
	check "slapd $sig mid-sync: nhi.cache and its delta byte-identical" cmp -s "$T/e.cache" <(cat "$T/e/nhi.cache" "$T/e/nhi.cache.delta")
}
mid STOP
# the same on host c, which serves the 20000 already: a full re-sync
# (--full) interrupted; the old snapshot keeps serving PAM's policy and NSS
mid_serving() {
	local pid
	cp "$T/c/registry.db" "$T/c.reg"; cat "$T/c/nhi.cache" "$T/c/nhi.cache.delta" >"$T/c.cache"
	NHI_CONF=$T/c.conf "$NHICTL" sync --full >"$T/out" 2>"$T/err" &
	pid=$!
	read_2mb $pid
	kill -STOP "$SLAPD_PID"
	{ wait $pid; rc=$?; } 2>/dev/null
	kill -CONT "$SLAPD_PID"
	eqv "slapd stopped mid-sync on a serving host: exit 1" 1 "$rc"
	check "serving host: registry.db byte-identical" cmp -s "$T/c.reg" "$T/c/registry.db"
	check "serving host: nhi.cache and its delta byte-identical" cmp -s "$T/c.cache" <(cat "$T/c/nhi.cache" "$T/c/nhi.cache.delta")
	expect 0 "serving host: the policy still allows bulk-17 from the old snapshot" \
		on c check bulk-17 --service sshd
	if have_nss; then
		NHI_CONF=$T/c.conf expect 0 "serving host: getent passwd bulk-17 (nss_nhi, old snapshot)" \
			nsswrap getent passwd bulk-17
		has out "serving host: its passwd line" '^bulk-17:x:'
	fi
}
mid_serving
mid KILL
{ wait "$SLAPD_PID"; } 2>/dev/null; SLAPD_PID=

# ---- no syncprov: the full scan, reconciling deletes -------------------------------
slapd_start --no-syncprov
add svc-a 2000001; add svc-n 2000011
sync a
eqv "no syncprov: a scan; only what the directory holds remains" "scan svc-a svc-n" "$S_mode $(names a)"
ldap_admin ldapdelete "uid=svc-n,$SLAPD_NHI_BASE"
sync a --full
counts "--full: the delete reconciled" "scan 0 0 1 0"

# ---- a sync of many changes publishes a full snapshot, one of few a delta ----
host d
echo "snapshot_delta_max = 2" >>"$T/d.conf"
add svc-d1 2000021; add svc-d2 2000022; add svc-d3 2000023; add svc-d4 2000024
# hdr FIELD-OFFSET FILE: a u64 (a u32 at 64: n_idents) of a snapshot header
hdr() { python3 -c 'import struct,sys; o=int(sys.argv[1]); print(struct.unpack_from("=I" if o == 64 else "=Q", open(sys.argv[2],"rb").read(), o)[0])' "$1" "$2"; }
snapinfo() { echo "$(hdr 24 "$T/d/nhi.cache") $(hdr 160 "$T/d/nhi.cache.delta") $(hdr 64 "$T/d/nhi.cache.delta") $(hdr 64 "$T/d/nhi.cache")"; }
sync d
counts "host d: five identities" "scan 5 0 0 0"
g=$(sqlite3 "$T/d/registry.db" "SELECT value FROM meta WHERE key='generation'")
eqv "more than snapshot_delta_max changed: a full snapshot of five, an empty delta" "$g $g 0 5" "$(snapinfo)"
eqv "nothing left pending" 0 "$(sqlite3 "$T/d/registry.db" 'SELECT count(*) FROM snap_pending')"
replace svc-d2 description "changed purpose d2"
ldap_admin ldapdelete "uid=svc-d3,$SLAPD_NHI_BASE"
sync d --full
counts "host d: a change and a delete" "scan 0 1 1 0"
eqv "two changes: a delta of two over the same base" "$g $g 2 5" "$(snapinfo)"
expect 0 "host d: check svc-d2 (from the delta)" on d check svc-d2 --service sshd
eqv "host d: svc-d3 gone from the registry" "svc-a svc-d1 svc-d2 svc-d4" "$(names d)"
if have_nss; then
	NHI_CONF=$T/d.conf expect 0 "host d: getent passwd svc-d1 svc-d4 (base)" nsswrap getent passwd svc-d1 svc-d4
	NHI_CONF=$T/d.conf nrun nsswrap getent passwd svc-d3
	eqv "host d: svc-d3 gone through the delta's tombstone (getent exit 2)" 2 "$rc"
fi
finish

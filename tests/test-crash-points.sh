#!/bin/bash
# The test hooks (lib/nhi_testhook.h, NHI_TEST_FAULT) exist only in the
# test build of nhictl (tests/nhictl-faulty), never in the nhictl that is
# installed; and every crash point of the write verbs is survived
# (docs/crash-points.md): each of create, adopt, retire, cred add (to
# stdout and --out), rotate, publish and sync, on both backends (local;
# ldap against a throwaway slapd), is killed (SIGKILL) at its crash point
# 1, 2, ... until it completes without reaching N; after each kill the
# snapshot must be a valid one, and after the next command (the same again,
# then publish or sync) registry, snapshot and directory agree, every
# secret that reached its holder verifies, and the audit chain verifies
# with exactly one event per completed change.  Then random kills in a
# stream of changes: NHI_CRASH_KILLS of them per backend (default 40; 1000
# with `NHI_CRASH_KILLS=500 make check TESTS=tests/test-crash-points.sh`, per backend).
# As root, in a private mount namespace with the tests' temp root
# (NHI_TEST_TMP, where common.sh makes $T) on tmpfs: a SIGKILL leaves the
# page cache intact, so what is tested is the same, and the thousands of
# fsyncs cost nothing (nothing outside the namespace sees the tmpfs; not
# /tmp, which may hold the source and build trees themselves).
if [ "$(id -u)" -eq 0 ] && [ -z "${NHI_CRASH_TMPFS:-}" ] && [ -n "${NHI_TEST_TMP:-}" ] &&
   [ -d "$NHI_TEST_TMP" ] && unshare -m true 2>/dev/null; then
	export NHI_CRASH_TMPFS=1
	exec unshare -m --propagation private bash -c \
		'mount -t tmpfs -o size=1g,mode=755 nhi-crash "$NHI_TEST_TMP" && exec bash "$0"' "$0"
fi
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"

# ---- the installed nhictl carries no test hook ------------------------------
# (the names and symbols below are all in the test build: the check can fail)
hook_strings='NHI_TEST_[A-Z_]+|registry-committed|file-renamed|secret-handed-over|rotate-after-journal-crash'
for b in "$NHICTL" "$NHICTL_FAULTY"; do
	strings -a "$b" | grep -Eo "$hook_strings" | sort -u | paste -sd' ' >"$T/strings.$(basename "$b")"
	nm "$b" 2>/dev/null | awk '$3 == "fault" || $3 == "nhi_crash_point" { print $3 }' | sort |
		paste -sd' ' >"$T/nm.$(basename "$b")"
done
eqv "nhictl: no test hook among its strings" "" "$(cat "$T/strings.nhictl")"
eqv "nhictl: no fault() or nhi_crash_point() symbol" "" "$(cat "$T/nm.nhictl")"
eqv "nhictl-faulty: has them (so the check above can fail)" \
	"NHI_TEST_CRASH_AT NHI_TEST_CRASH_LOG NHI_TEST_FAULT NHI_TEST_FAULT_EXEC NHI_TEST_FAULT_GATE file-renamed registry-committed rotate-after-journal-crash secret-handed-over|fault nhi_crash_point" \
	"$(cat "$T/strings.nhictl-faulty")|$(cat "$T/nm.nhictl-faulty")"

# ---- the harness --------------------------------------------------------------
ST=$T/state
KILLS=0 CHECKS=0 I=0 BACKEND=local
declare -A POINTS
# fk ARGS: the test build, killed at its crash point $AT (0: never); the
# points it reached in $T/cp.log, stdout/stderr in $T/k.out/.err, exit in $krc
fk() {
	: >"$T/cp.log"
	NHI_TEST_CRASH_AT=$AT NHI_TEST_CRASH_LOG=$T/cp.log nhictl_t "$@" >"$T/k.out" 2>"$T/k.err"
	krc=$?
}
# q: nhictl's checks and next commands, quiet (the invariants judge)
q() { nhictl "$@" >/dev/null 2>&1; }
# inv "what" CMD...: an invariant (counted; only a failure prints)
inv() {
	local d=$1; shift
	CHECKS=$((CHECKS + 1))
	"$@" || nok "$BACKEND $CTX, killed at crash point $AT: $d"
}
sql() { sqlite3 "$ST/registry.db" "$1" 2>/dev/null; }
state_of() { sql "SELECT state FROM identity WHERE name = '$1'"; }
n_events() { sql "SELECT count(*) FROM event WHERE action = '$2' AND target = '$1' AND outcome IN ('$3', 'recovered')"; }
is() { [ "x$1" = "x$2" ]; }
# the snapshot is a valid one: nss_nhi (through glibc) answers for the
# anchor identity, and pam_nhi's policy (nhictl check) finds a snapshot
snap_valid() { [ "$(nsswrap getent passwd anchor | cut -d: -f3)" = "$ANCHOR_UID" ]; }
# events_ok GOT WANT: the audit events of a change: exactly as many.
# With backend = ldap a kill after the directory write and before the
# registry commit leaves the verb's intent, which the next run resolves
# into the verb's own event, outcome 'recovered' (docs/crash-points.md;
# n_events counts those with 'ok'); no event lost, none twice.
events_ok() { [ "$1" = "$2" ]; }
# snapshot (and directory) agree with the registry on NAME
agrees() {
	local st uid got
	st=$(state_of "$1")
	uid=$(sql "SELECT uid FROM identity WHERE name = '$1'")
	got=$(nsswrap getent passwd "$1" | cut -d: -f3)
	case $st in
	# (a released identity's local account stays as it was)
	""|retired) [ -z "$got" ] || grep -q "^$1:x:$got:" "$T/etc/passwd" || return 1 ;;
	*) [ "$got" = "$uid" ] || return 1 ;;
	esac
	[ "$BACKEND" = local ] || [ "$(dir_state "$1")" = "$st" ]
}
dir_state() { ldap_admin ldapsearch -b "uid=$1,$SLAPD_NHI_BASE" -s base nhiState 2>/dev/null | sed -n 's/^nhiState: //p'; }
# verifies NAME FILE: the secret in FILE (when there is one) is valid
verifies() { [ ! -s "$2" ] || nhictl cred verify "$1" <"$2" >/dev/null 2>&1; }
# settle: what brings a host up to date after a kill.  With the local
# backend nothing more than the next command itself (it publishes a
# snapshot a kill left behind before it runs, even when it then has
# nothing to do); with ldap the next sync.
settle() { if [ "$BACKEND" = local ]; then :; else q sync; fi; }
common_inv() {   # NAME: after the next command
	inv "log --verify passes" q log --verify
	inv "snapshot and registry agree on $1" agrees "$1"
	inv "snapshot and registry agree on anchor" agrees anchor
	inv "no intent left unresolved" is "$(sql "SELECT count(*) FROM intent")" 0
}

# The scenarios: pre_X NAME (set up, not killed), run_X NAME (the killed
# command), next_X NAME (the next commands), post_X NAME (invariants).
pre_create() { :; }
run_create() { fk create "$1" --owner alice --expires +30d; }
next_create() { q create "$1" --owner alice --expires +30d; settle; }
post_create() {
	inv "$1 exists" is "$(state_of "$1")" active
	inv "one create event for $1" events_ok "$(n_events "$1" create ok)" 1
}
# create right after a full publication: its delta is the first over the
# new base, so it marks the base first (crash point snapshot-base-marked),
# and readers of that base must see the delta once it is published
pre_pubcreate() { q publish; }
run_pubcreate() { run_create "$@"; }
next_pubcreate() { next_create "$@"; }
post_pubcreate() {
	post_create "$1"
	inv "$1 reaches NSS (the delta over the marked base is read)" is \
		"$(nsswrap getent passwd "$1" | cut -d: -f1)" "$1"
}
pre_adopt() { echo "$1:x:$((6000 + I)):$((6000 + I))::/nonexistent:/usr/sbin/nologin" >>"$T/etc/passwd"; }
run_adopt() { fk adopt "$1" --owner alice --expires +30d --force; }
next_adopt() { q adopt "$1" --owner alice --expires +30d --force; settle; }
post_adopt() {
	inv "$1 adopted" is "$(state_of "$1")" active
	inv "one adopt event for $1" events_ok "$(n_events "$1" adopt ok)" 1
}
pre_retire() { q create "$1" --owner alice --expires +30d; }
run_retire() { fk retire "$1"; }
next_retire() { q retire "$1"; settle; }
post_retire() {
	inv "$1 retired" is "$(state_of "$1")" retired
	inv "one retire event for $1" events_ok "$(n_events "$1" retire ok)" 1
}
# every credential the registry holds was added by exactly one event
n_creds() { sql "SELECT count(*) FROM credential c JOIN identity i ON i.id = c.identity_id WHERE i.name = '$1'"; }
pre_credadd() { q create "$1" --owner alice --expires +30d; }
run_credadd() { fk cred add "$1" --kind token; cp "$T/k.out" "$T/s1"; }
next_credadd() { nhictl cred add "$1" --kind token >"$T/s2" 2>/dev/null; settle; }
post_credadd() {
	inv "a secret handed out before the kill verifies" verifies "$1" "$T/s1"
	inv "the next one verifies" verifies "$1" "$T/s2"
	inv "one cred-add event per credential of $1" events_ok "$(n_events "$1" cred-add ok)" "$(n_creds "$1")"
}
pre_credout() { q create "$1" --owner alice --expires +30d; rm -f "$T/out.tok"; }
run_credout() { fk cred add "$1" --kind token --out "$T/out.tok"; }
next_credout() { settle; }
post_credout() {
	inv "a secret written before the kill verifies" verifies "$1" "$T/out.tok"
	inv "one cred-add event per credential of $1" events_ok "$(n_events "$1" cred-add ok)" "$(n_creds "$1")"
}
pre_rotate() { q create "$1" --owner alice --expires +30d; nhictl cred add "$1" --kind token >"$T/s0" 2>/dev/null; }
run_rotate() { fk rotate "$1" --grace 1h; cp "$T/k.out" "$T/s1"; }
# a run that changes credentials recovers an interrupted rotation
next_rotate() { nhictl cred add "$1" --kind token >"$T/s2" 2>/dev/null; settle; }
post_rotate() {
	inv "the old secret still verifies (grace)" verifies "$1" "$T/s0"
	inv "a secret handed out before the kill verifies" verifies "$1" "$T/s1"
	inv "the next one verifies" verifies "$1" "$T/s2"
	inv "no rotation left pending" is "$(sql "SELECT count(*) FROM rotation WHERE state = 'pending'")" 0
	inv "one rotate event per finished rotation of $1" is \
		"$(sql "SELECT count(*) FROM event WHERE action = 'rotate' AND target = '$1'")" \
		"$(sql "SELECT count(*) FROM rotation r JOIN credential c ON c.id = r.credential_id JOIN identity i ON i.id = c.identity_id WHERE i.name = '$1'")"
}
pre_publish() { q create "$1" --owner alice --expires +30d; }
run_publish() { fk publish; }
next_publish() { q publish; }
post_publish() { :; }
# apply: each run's file names a new identity with its resource and grant,
# and this run's purpose for apl-keep; --prune retires what the previous
# run created (--force: one of one is past apply_max_retire)
PREV_APPLY=
pre_apply() {
	cat >"$T/apply.yaml" <<-EOF
	identities:
	  - {name: $1, owner: alice, expires: 30d}
	  - {name: apl-keep, owner: alice, expires: 30d, purpose: run $1}
	resources:
	  - {name: $1-r, kind: api, uri: "https://$1.example/", owner: alice}
	grants:
	  - {identity: $1, resource: $1-r, actions: read}
	EOF
}
run_apply() { fk apply -f "$T/apply.yaml" --prune --force; }
next_apply() { q apply -f "$T/apply.yaml" --prune --force; settle; }
post_apply() {
	inv "$1 exists" is "$(state_of "$1")" active
	inv "one create event for $1" events_ok "$(n_events "$1" create ok)" 1
	inv "one resource-add event for $1-r" events_ok "$(n_events "$1-r" resource-add ok)" 1
	inv "one grant-add event for $1" events_ok "$(n_events "$1" grant-add ok)" 1
	inv "$1's grant on $1-r is there" is "$(sql "SELECT count(*) FROM access a JOIN identity i ON i.id = a.identity_id JOIN resource r ON r.id = a.resource_id WHERE i.name = '$1' AND r.name = '$1-r'")" 1
	inv "apl-keep has this run's purpose" is "$(sql "SELECT purpose FROM identity WHERE name = 'apl-keep'")" "run $1"
	if [ -n "$PREV_APPLY" ]; then
		inv "the previous run's $PREV_APPLY retired" is "$(state_of "$PREV_APPLY")" retired
		inv "one retire event for $PREV_APPLY" events_ok "$(n_events "$PREV_APPLY" retire ok)" 1
		inv "snapshot and registry agree on $PREV_APPLY" agrees "$PREV_APPLY"
	fi
	inv "snapshot and registry agree on apl-keep" agrees apl-keep
	PREV_APPLY=$1
}
# backend = ldap: an identity created in the directory by another host
# (PREFIX-1, uid 3000000 + I), imported by sync
pre_sync() { slapd_gen_idents 1 "$1-" alice $((3000000 + I)) | ldap_admin ldapadd >/dev/null; }
run_sync() { fk sync; }
next_sync() { q sync; }
post_sync() {
	inv "$1-1 imported" is "$(state_of "$1-1")" active
	inv "snapshot, registry and directory agree on $1-1" agrees "$1-1"
}

# ---- the edges (backend = ldap): each change of a resource, grant or
# delegation, and the cascade of retire and release, is announced
# (docs/crash-points.md); a kill after the directory step is finished by
# the next run's recovery, never an event lost or twice
# edges NAME: its grants and delegations (from and to it) in the
# registry, then in the directory
edges() {
	local n
	n=$(ldap_admin ldapsearch -b "$SLAPD_NHI_BASE" "(|(&(objectClass=nhiGrant)(nhiGrantId=$1-r*))(&(objectClass=nhiDelegation)(|(nhiDelegateTo=$1)(nhiDelegateTo=$1-t))))" dn 2>/dev/null | grep -c '^dn:')
	echo "$(sql "SELECT count(*) FROM access a JOIN identity i ON i.id = a.identity_id WHERE i.name = '$1'")" \
		"$(sql "SELECT count(*) FROM delegation d JOIN identity f ON f.id = d.from_id JOIN identity t ON t.id = d.to_id WHERE '$1' IN (f.name, t.name)")" "$n"
}
# dir_attr RDN NAME ATTR: the values of ATTR of the edge entry RDN below NAME
dir_attr() { ldap_admin ldapsearch -b "$1,uid=$2,$SLAPD_NHI_BASE" -s base "$3" 2>/dev/null | sed -n "s/^$3: //p" | sort | paste -sd' '; }
# with_edges NAME: a grant of NAME on NAME-r, a delegation from NAME to NAME-t
with_edges() {
	q create "$1-t" --owner alice --expires +30d
	q resource add "$1-r" --kind api --uri "https://$1.example/" --owner alice
	q grant add "$1" "$1-r" --actions read
	q delegate add "$1" "$1-t" --actions read
}
post_edges_gone() {
	inv "no edge of $1 left (registry, directory)" is "$(edges "$1")" "0 0 0"
	inv "one grant-remove event for $1" events_ok "$(n_events "$1" grant-remove ok)" 1
	inv "one delegate-remove event for $1" events_ok "$(n_events "$1" delegate-remove ok)" 1
}
pre_retirex() { q create "$1" --owner alice --expires +30d; with_edges "$1"; }
run_retirex() { fk retire "$1"; }
next_retirex() { q retire "$1"; settle; }
post_retirex() { post_retire "$1"; post_edges_gone "$1"; }
pre_release() { pre_adopt "$1"; q adopt "$1" --owner alice --expires +30d --force; with_edges "$1"; }
run_release() { fk release "$1"; }
next_release() { q release "$1"; settle; }
post_release() {
	inv "$1 released (registry, directory)" is "$(state_of "$1")|$(dir_state "$1")" "|"
	inv "one release event for $1" events_ok "$(n_events "$1" release ok)" 1
	post_edges_gone "$1"
}
pre_grantupd() { q create "$1" --owner alice --expires +30d; with_edges "$1"; }
run_grantupd() { fk grant add "$1" "$1-r" --actions read,write; }
next_grantupd() { q grant add "$1" "$1-r" --actions read,write; settle; }
post_grantupd() {
	inv "$1's grant updated (registry, directory)" is \
		"$(sql "SELECT a.actions FROM access a JOIN identity i ON i.id = a.identity_id WHERE i.name = '$1'")|$(dir_attr "nhiGrantId=$1-r" "$1" nhiAction)" "3|read write"
	inv "one grant-update event for $1" events_ok "$(n_events "$1" grant-update ok)" 1
}
pre_resupd() { q resource add "$1-r" --kind api --uri "https://$1.example/" --owner alice; }
run_resupd() { fk resource add "$1-r" --kind api --uri "https://$1.example/v2" --owner alice; }
next_resupd() { q resource add "$1-r" --kind api --uri "https://$1.example/v2" --owner alice; settle; }
post_resupd() {
	inv "$1-r updated (registry, directory)" is "$(sql "SELECT uri FROM resource WHERE name = '$1-r'")|$(
		ldap_admin ldapsearch -b "$SLAPD_NHI_BASE" "(&(objectClass=nhiResource)(cn=$1-r))" nhiResourceURI 2>/dev/null | sed -n 's/^nhiResourceURI: //p')" \
		"https://$1.example/v2|https://$1.example/v2"
	inv "one resource-update event for $1-r" events_ok "$(n_events "$1-r" resource-update ok)" 1
}
n_deleg() { sql "SELECT group_concat(d.actions) FROM delegation d JOIN identity f ON f.id = d.from_id JOIN identity t ON t.id = d.to_id WHERE f.name = '$1' AND t.name = '$1-t'"; }
pre_delegadd() { q create "$1" --owner alice --expires +30d; q create "$1-t" --owner alice --expires +30d; }
run_delegadd() { fk delegate add "$1" "$1-t" --actions read; }
next_delegadd() { q delegate add "$1" "$1-t" --actions read; settle; }
post_delegadd() {
	inv "$1 delegates to $1-t (registry, directory)" is "$(n_deleg "$1")|$(dir_attr "nhiDelegateTo=$1-t" "$1" nhiAction)" "1|read"
	inv "one delegate-add event for $1" events_ok "$(n_events "$1" delegate-add ok)" 1
}
pre_delegupd() { pre_delegadd "$1"; q delegate add "$1" "$1-t" --actions read; }
run_delegupd() { fk delegate add "$1" "$1-t" --actions read,write; }
next_delegupd() { q delegate add "$1" "$1-t" --actions read,write; settle; }
post_delegupd() {
	inv "$1's delegation updated (registry, directory)" is "$(n_deleg "$1")|$(dir_attr "nhiDelegateTo=$1-t" "$1" nhiAction)" "3|read write"
	inv "one delegate-update event for $1" events_ok "$(n_events "$1" delegate-update ok)" 1
}
pre_delegrm() { pre_delegupd "$1"; }
run_delegrm() { fk delegate remove "$1" "$1-t"; }
next_delegrm() { q delegate remove "$1" "$1-t"; settle; }
post_delegrm() {
	inv "$1's delegation removed (registry, directory)" is "$(edges "$1")" "0 0 0"
	inv "one delegate-remove event for $1" events_ok "$(n_events "$1" delegate-remove ok)" 1
}
EDGE_VERBS="retirex release grantupd resupd delegadd delegupd delegrm"

# crash_all VERB: kill VERB at its crash point 1, 2, ... until it completes
crash_all() {
	local verb=$1 n failed=$fail
	AT=0 CTX=$verb
	while :; do
		AT=$((AT + 1)) I=$((I + 1)) n=$verb$I
		pre_$verb "$n"
		run_$verb "$n"
		if [ "$krc" -ne 137 ]; then
			inv "completes (exit 0) when not killed" is "$krc" 0
			next_$verb "$n"; common_inv "$n"; post_$verb "$n"
			break
		fi
		KILLS=$((KILLS + 1))
		inv "the kill leaves a valid snapshot" snap_valid
		next_$verb "$n"; common_inv "$n"; post_$verb "$n"
	done
	POINTS[$BACKEND $verb]=$((AT - 1))
	[ "$fail" -gt "$failed" ] ||
		ok "$BACKEND $verb: killed at each of its $((AT - 1)) crash points, the invariants held"
}
# crash_random K: K random kills in a stream of changes
crash_random() {
	local k=0 verb n max failed=$fail verbs=("${@:2}")
	while [ $k -lt "$1" ]; do
		verb=${verbs[RANDOM % ${#verbs[@]}]}
		max=${POINTS[$BACKEND $verb]}
		AT=$((RANDOM % (max + 2) + 1)) I=$((I + 1)) n=$verb$I CTX="random $verb"
		pre_$verb "$n"
		run_$verb "$n"
		[ "$krc" -eq 137 ] && k=$((k + 1)) KILLS=$((KILLS + 1)) && inv "the kill leaves a valid snapshot" snap_valid
		next_$verb "$n"; common_inv "$n"; post_$verb "$n"
	done
	[ "$fail" -gt "$failed" ] || ok "$BACKEND: $1 random kills in a stream of changes, the invariants held"
}
# run_backend VERB...: the common scenarios and these (NHI_CRASH_ONLY="VERB
# ...": only those, and with backend = ldap only: a quick run of a few)
run_backend() {
	local before=$CHECKS kills=$KILLS
	q create anchor --owner alice --expires +30d
	ANCHOR_UID=$(sql "SELECT uid FROM identity WHERE name = 'anchor'")
	# shellcheck disable=SC2086
	if [ -n "${NHI_CRASH_ONLY:-}" ]; then set -- $NHI_CRASH_ONLY
	else set -- create pubcreate adopt retire credadd credout rotate publish "$@"; fi
	for v in "$@"; do crash_all "$v"; done
	# (fewer under the sanitizers, where each run is slower)
	crash_random "${NHI_CRASH_KILLS:-$([ -n "${NHI_ASAN_LIB:-}" ] && echo 10 || echo 40)}" "$@"
	echo "# $BACKEND: $((KILLS - kills)) kills, $((CHECKS - before)) invariant checks," \
		"$(sql "SELECT count(*) FROM event WHERE outcome = 'recovered'") events recovered from intents," \
		"$(sql "SELECT count(*) FROM event WHERE outcome = 'not-done'") intents not done;" \
		"crash points: $(for v in "$@"; do
			printf '%s %s, ' "$v" "${POINTS[$BACKEND $v]}"; done)"
}

# ---- the intent journal, point by point (backend = ldap) ------------------
# create's crash points: after the intent's commit (its first
# registry-committed) the directory write (the next ldap-write)
ev_of() { sql "SELECT group_concat(outcome || '/' || actor, ' ') FROM event WHERE action = 'create' AND target = '$1'"; }
intent_cases() {
	local c w actor
	# (the first run on a new registry has more points: a second one counts)
	q create ij00 --owner alice --expires +30d
	AT=0 CTX=intent; fk create ij0 --owner alice --expires +30d
	actor=$(sql "SELECT actor FROM event WHERE action = 'create' AND target = 'ij0'")
	c=$(awk '/ registry-committed/ { print $1; exit }' "$T/cp.log")
	w=$(awk '/ registry-committed/ { c = 1 } c && / ldap-write / { print $1; exit }' "$T/cp.log")
	AT=$w; fk create ij1 --owner alice --expires +30d
	eqv "intent: create killed after its directory write ($w)" 137 "$krc"
	eqv "intent: recorded before it" "create ij1 ident-add" \
		"$(sql "SELECT action || ' ' || target || ' ' || kind FROM intent")"
	# the recovery (the next sync's first points: its event, its commit)
	# killed before and after its commit
	AT=2; fk sync
	eqv "intent: recovery killed before its commit: no event yet" "137|registry-commit-before|" \
		"$krc|$(tail -n1 "$T/cp.log" | cut -d' ' -f2)|$(ev_of ij1)"
	AT=3; fk sync
	eqv "intent: recovery killed after its commit: the event, once" \
		"137|registry-committed|recovered/$actor|0" "$krc|$(tail -n1 "$T/cp.log" | cut -d' ' -f2)|$(ev_of ij1)|$(sql "SELECT count(*) FROM intent")"
	q sync; q create ij1 --owner alice --expires +30d
	eqv "intent: the next sync and create write no second one" "recovered/$actor" "$(ev_of ij1)"
	eqv "intent: the identity was read back" active "$(state_of ij1)"
	# killed after the intent's commit, before the directory write: not done
	AT=$c; fk create ij2 --owner alice --expires +30d
	nhictl sync >/dev/null 2>"$T/sync.err"
	has sync.err "intent: said on stderr" "^nhictl: sync: the interrupted create of ij2 .* had not reached the directory: recorded as not done"
	eqv "intent: killed before the directory write: recorded as not done, nothing made" \
		"137|not-done/$actor||" "$krc|$(ev_of ij2)|$(state_of ij2)|$(dir_state ij2)"
	q create ij2 --owner alice --expires +30d
	eqv "intent: then created as usual" "not-done/$actor ok/$actor|active" "$(ev_of ij2)|$(state_of ij2)"
	inv "intent: log --verify passes" q log --verify
}

have_nss || { echo "# skip: no libnss_nhi.so.2 built"; finish; }

# ---- cred add: a secret that cannot be handed over is revoked again ----------
# (the credential is committed first, so that one handed over is never lost)
q create hf --owner alice --expires +30d
nhictl cred add hf --kind token >/dev/full 2>"$T/err"
eqv "cred add, stdout full: exit 1" 1 "$?"
eqv "cred add, stdout full: the credential is revoked again" revoked \
	"$(sql "SELECT group_concat(c.state) FROM credential c JOIN identity i ON i.id = c.identity_id WHERE i.name = 'hf'")"
eqv "cred add, stdout full: audited as added, then revoked" "cred-add cred-revoke" \
	"$(sql "SELECT group_concat(action, ' ') FROM (SELECT action FROM event WHERE target = 'hf' AND action LIKE 'cred-%' ORDER BY id)")"
check "cred add, stdout full: the chain verifies" q log --verify

[ -n "${NHI_CRASH_ONLY:-}" ] || run_backend apply
if [ -x "$SLAPD_BIN" ]; then
	slapd_start || { nok "slapd starts"; finish; }
	ldap_hermetic
	BACKEND=ldap ST=$T/lstate NHI_CONF=$T/etc/ldap.conf
	printf 'state_dir = %s\nhost = testhost\nbackend = ldap\nldap_base = %s\n' "$ST" "$SLAPD_NHI_BASE" >"$NHI_CONF"
	printf 'ldap_people_base = %s\nldap_timeout = 3s\nldap_uri = %s\n' "$SLAPD_PEOPLE_BASE" \
		"$SLAPD_LDAPI_URI" >>"$NHI_CONF"
	PREV_APPLY=
	[ -n "${NHI_CRASH_ONLY:-}" ] || intent_cases
	# shellcheck disable=SC2086
	run_backend sync apply $EDGE_VERBS
else
	echo "# skip (backend = ldap): no slapd"
fi
echo "# in all: $KILLS kills, $CHECKS invariant checks"

finish

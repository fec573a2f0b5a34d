#!/bin/bash
# Replication conflicts at sync (issue 17), on one slapd: the states a
# multi-provider directory leaves behind (two identity entries with one
# uidNumber, two with one name under different DNs) are planted with
# ldapadd as the directory manager.  Every host applies ONE rule, whatever
# order the entries come in: both entries are held back (neither in the
# registry nor the snapshot: PAM denies both), sync names each pair on one
# line and exits 3, sync --json lists them, audit (backend = ldap) reports
# NHI9-DIR-CONFLICT; once the directory holds one entry only, it comes back
# on every host.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
slapd_start || { nok "slapd starts"; finish; }
ldap_hermetic

host() {
	mkdir -p "$T/$1"
	slapd_nhi_conf "$T/$1" "$1" > "$T/$1.conf"
}
on() { local h=$1; shift; NHI_CONF=$T/$h.conf nhictl "$@"; }
host a; host b; host c

# ident NAME UID [RDN]: an identity (RDN: another DN, the same uid attribute)
ident() { slapd_ident "$1" "$2" alice "${3:-}"; }
add() { ident "$@" | ldap_admin ldapadd >/dev/null; }
touch_entry() {
	printf 'dn: %s,%s\nchangetype: modify\nreplace: description\ndescription: %s\n' \
		"$1" "$SLAPD_NHI_BASE" "$2" | ldap_admin ldapmodify >/dev/null
}
names() { sqlite3 "$T/$1/registry.db" "SELECT group_concat(name, ' ') FROM (SELECT name FROM identity ORDER BY name)"; }
held() { sqlite3 "$T/$1/registry.db" "SELECT group_concat(name || '/' || uid, ' ') FROM (SELECT name, uid FROM dir_conflict ORDER BY name, uid)"; }
# listing HOST: list --json without what is this host's own
listing() { on "$1" list --json > "$T/list-$1.json" 2>/dev/null; python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
print(json.dumps(d, sort_keys=True))' "$T/list-$1.json"; }

add svc-ok 2000001
# ---- a uidNumber on two entries, seen in different orders -----------------
# host a sees app-x alone first, then app-y (incremental), then app-x
# changed (incremental: app-x last); host b sees both at once (app-x first),
# host c scans (--full).  Without the rule a kept app-y, then app-x; b app-y.
add app-x 2000010
expect 0 "host a: first sync, app-x alone" on a sync
eqv "host a has app-x" "app-x svc-ok" "$(names a)"
add app-y 2000010
fails sync 3 "host a: sync with two entries of uid 2000010: one line, exit 3" \
	"conflict: app-[xy] \(uid 2000010, entryUUID [-0-9a-f]+\) and app-[xy] \(uid 2000010, entryUUID [-0-9a-f]+\) share a uidNumber: both denied" \
	on a sync
eqv "host a: neither app-x nor app-y in the registry" "svc-ok" "$(names a)"
eqv "host a: both held" "app-x/2000010 app-y/2000010" "$(held a)"
touch_entry uid=app-x "changed x"
expect 3 "host a: app-x changed again (incremental, app-x last): still exit 3" on a sync
eqv "host a: still neither" "svc-ok" "$(names a)"
expect 3 "host b: one full sync (app-x first)" on b sync
eqv "host b: neither" "svc-ok" "$(names b)"
expect 3 "host c: the scan (--full)" on c sync --full
eqv "host c: neither" "svc-ok" "$(names c)"
eqv "hosts a and b: the same list --json" "$(listing a)" "$(listing b)"
eqv "hosts a and c: the same list --json" "$(listing a)" "$(listing c)"
if have_nss; then
	NHI_CONF=$T/a.conf expect 2 "getent passwd 2000010: not in the snapshot" nsswrap getent passwd 2000010
	NHI_CONF=$T/a.conf expect 0 "getent passwd svc-ok: there" nsswrap getent passwd svc-ok
fi
expect 0 "check app-x: not a service account here (NSS does not know it)" on a check app-x --service sshd
has out "check: not-a-service-account" "not-a-service-account"

# ---- one name under two DNs ---------------------------------------------
add app-n 2000020
expect 3 "host b: sync (app-n alone is fine, the uid conflict stays)" on b sync
eqv "host b: app-n there" "app-n svc-ok" "$(names b)"
add app-n 2000021 cn=app-n-copy
nrun on b sync --json
eqv "host b: sync --json exit 3" 3 "$rc"
eqv "sync --json lists both conflicts" "name app-n 2000020 app-n 2000021 uid app-x 2000010 app-y 2000010" \
	"$(pyjson '" ".join(c["shared"]+" "+" ".join("%s %d" % (e["name"], e["uid"]) for e in sorted(c["entries"], key=lambda e: e["uid"])) for c in sorted(d["conflicts"], key=lambda c: c["shared"]))')"
eqv "sync --json: one line per pair on stderr" 2 "$(grep -c '^nhictl: sync: conflict: ' "$T/err")"
has err "the name pair" "conflict: app-n \(uid 200002[01].*\) and app-n \(uid 200002[01].*\) share a name"
expect 3 "host a: sync" on a sync
eqv "host a: app-n gone too" "svc-ok" "$(names a)"
eqv "hosts a and b: the same list --json" "$(listing a)" "$(listing b)"

# ---- audit (backend = ldap): the finding, from the registry only ----------
nrun on a audit --no-host --json
eqv "audit on backend = ldap runs (exit 0)" 0 "$rc"
has err "audit says what it leaves to sync" "^nhictl: audit: note: backend = ldap"
eqv "audit: NHI9-DIR-CONFLICT for each of the 4 entries" "app-n app-n app-x app-y" \
	"$(pyjson '" ".join(sorted(f["name"] for f in d["findings"] if f["code"] == "NHI9-DIR-CONFLICT"))')"
eqv "audit --json: the finding's severity" "high" \
	"$(pyjson '[f["severity"] for f in d["findings"] if f["code"] == "NHI9-DIR-CONFLICT"][0]')"
expect 3 "audit --fail-on high: exit 3" on a audit --no-host --fail-on high
has out "audit text names the code" "NHI9-DIR-CONFLICT"

# ---- resolved in the directory: the one left comes back everywhere --------
ldap_admin ldapdelete "uid=app-y,$SLAPD_NHI_BASE"
ldap_admin ldapdelete "cn=app-n-copy,$SLAPD_NHI_BASE"
expect 0 "host a: sync after the duplicates were deleted: exit 0" on a sync
eqv "host a: app-x and app-n back" "app-n app-x svc-ok" "$(names a)"
eqv "host a: nothing held" "" "$(held a)"
expect 0 "host b: the same" on b sync
expect 0 "host c: the same (--full)" on c sync --full
eqv "hosts a and b: the same list --json" "$(listing a)" "$(listing b)"
eqv "hosts a and c: the same list --json" "$(listing a)" "$(listing c)"
expect 0 "audit: no conflict finding left" on a audit --no-host --fail-on high
finish

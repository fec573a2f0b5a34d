#!/bin/bash
# The applied marks (issue 16: what `nhictl apply` manages) and `nhictl
# modify` on backend = local with the real nhictl: the registry migration
# 9 -> 10 (an applied column on identity, resource, access, delegation),
# "applied" in show/list/resource show/grant list/delegate list --json;
# modify: purpose, review interval (review_due moved), hosts and services
# replaced whole, --any-host/--any-service, unchanged (exit 0, or N with
# --changed-exit when changed), one audit event naming the changed
# fields, bad input refused as create refuses it with nothing written, a
# retired identity refused; a new service scope reaches PAM at once
# (nhictl check, and the real pam_nhi.so through pamtester).
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"

ST=$T/state
db() { sqlite3 "$ST/registry.db" "$1"; }

# ---- the applied marks: stored, read back, false by default ----
expect 0 "create svc-a" nhictl create svc-a --owner alice --expires +60d --purpose "nightly" \
	--host testhost --service sshd
expect 0 "create agent-b" nhictl create agent-b --owner alice --expires +60d --kind agent
expect 0 "resource add db1" nhictl resource add db1 --kind postgres --uri pg://db1 --owner alice
expect 0 "grant svc-a on db1" nhictl grant add svc-a db1 --actions read
expect 0 "delegate svc-a -> agent-b" nhictl delegate add svc-a agent-b --actions read
eqv "schema version 13" 13 "$(db 'PRAGMA user_version')"
expect 0 "show --json" nhictl show svc-a --json
eqv "show --json: applied false" False "$(pyjson 'd["applied"]')"
db "UPDATE identity SET applied = 1 WHERE name = 'svc-a'; UPDATE resource SET applied = 1;
    UPDATE access SET applied = 1; UPDATE delegation SET applied = 1"
expect 0 "show --json" nhictl show svc-a --json
eqv "show --json: applied read back" True "$(pyjson 'd["applied"]')"
expect 0 "list --json" nhictl list --json
eqv "list --json: applied per identity" "agent-b:False svc-a:True" \
	"$(pyjson '" ".join(i["name"]+":"+str(i["applied"]) for i in d)')"
expect 0 "resource show --json" nhictl resource show db1 --json
eqv "resource show --json: applied" True "$(pyjson 'd["applied"]')"
expect 0 "grant list --json" nhictl grant list --json
eqv "grant list --json: applied" True "$(pyjson 'd[0]["applied"]')"
expect 0 "delegate list --json" nhictl delegate list --json
eqv "delegate list --json: applied" True "$(pyjson 'd[0]["applied"]')"
# a change by another verb keeps the mark
expect 0 "resource add db1 again (new uri)" nhictl resource add db1 --kind postgres \
	--uri pg://db1b --owner alice
eqv "resource update keeps applied" 1 "$(db "SELECT applied FROM resource WHERE name = 'db1'")"

# ---- migrations 9 -> 12: a version-9 registry gets the columns, all 0 ----
sqlite3 "$ST/registry.db" "VACUUM INTO '$T/v9.db'"
sqlite3 "$T/v9.db" "ALTER TABLE identity DROP COLUMN applied;
	ALTER TABLE resource DROP COLUMN applied; ALTER TABLE access DROP COLUMN applied;
	ALTER TABLE delegation DROP COLUMN applied; DROP TABLE dir_conflict; DROP TABLE intent;
	DROP TRIGGER snap_deleg_name;
	PRAGMA user_version = 9"
eqv "the version-9 registry has no applied column" 0 \
	"$(sqlite3 "$T/v9.db" "SELECT count(*) FROM pragma_table_info('identity') WHERE name = 'applied'")"
cp "$T/v9.db" "$ST/registry.db"
rm -f "$ST/registry.db-wal" "$ST/registry.db-shm"
expect 0 "list --json on a version-9 registry" nhictl list --json
eqv "migrated to 13" 13 "$(db 'PRAGMA user_version')"
for t in identity resource access delegation; do
	eqv "$t.applied added (NOT NULL DEFAULT 0), 0 everywhere" "00" \
		"$(db "SELECT count(*) FROM $t WHERE applied != 0")$(db "SELECT count(*) - 1 FROM pragma_table_info('$t') WHERE name = 'applied' AND \"notnull\" = 1 AND dflt_value = '0'")"
done
eqv "list --json after the migration: applied false" "agent-b:False svc-a:False" \
	"$(pyjson '" ".join(i["name"]+":"+str(i["applied"]) for i in d)')"
expect 0 "grant list --json after the migration" nhictl grant list --json
eqv "grants still there, applied false" "svc-a:False" \
	"$(pyjson '" ".join(g["identity"]+":"+str(g["applied"]) for g in d)')"

# ---- modify ----
expect 0 "modify --help" nhictl modify --help
has out "modify --help is its usage" "usage: nhictl modify NAME"
expect 0 "help modify" nhictl help modify
has out "help lists it" "usage: nhictl modify"
ev() { db "SELECT count(*) FROM event WHERE action = 'modify'"; }
snap() { stat -c %Y.%s.%i "$ST/nhi.cache"; }

expect 0 "modify svc-a with nothing to change" nhictl modify svc-a --purpose nightly --host testhost
has out "says unchanged" '^svc-a: unchanged$'
eqv "no audit event" 0 "$(ev)"
expect 0 "unchanged with --changed-exit 3: exit 0" nhictl --changed-exit 3 modify svc-a \
	--service sshd

# pamtester's account phase with the real pam_nhi.so under pam_wrapper
pam_setup "$NHI_CONF" sshd cron
pam() { pam_acct "$@"; }  # SERVICE USER: the exit code of the PAM account stack
expect 0 "before: svc-a through sshd allowed" nhictl check svc-a --service sshd --host testhost
expect 1 "before: svc-a through cron denied" nhictl check svc-a --service cron --host testhost
if [ $pam_ok = 1 ]; then
	check "before, real pam_nhi: sshd login of svc-a allowed" pam sshd svc-a
	pam cron svc-a && rc=0 || rc=$?
	check "before, real pam_nhi: cron denied" test $rc -ne 0
fi

before=$(db "SELECT review_due - created FROM identity WHERE name = 'svc-a'")
expect 3 "modify svc-a: purpose, interval, services (--changed-exit 3)" nhictl \
	--changed-exit 3 modify svc-a --purpose "weekly reports" --review-every 30d --service cron
has out "prints the purpose change" '^purpose: "nightly" -> "weekly reports"$'
has out "prints the interval change" '^review_interval: 90d -> 30d$'
has out "prints the services change" '^services: sshd -> cron$'
check "the review interval was not the same before" test "$before" != 2592000
eqv "review_due = created + new interval (no review yet)" 2592000 \
	"$(db "SELECT review_due - created FROM identity WHERE name = 'svc-a'")"
has out "the gecos follows the purpose" '^gecos: "nightly" -> "weekly reports"$'
eqv "one audit event naming the changed fields" 'purpose "nightly" -> "weekly reports"; gecos "nightly" -> "weekly reports"; review_interval 90d -> 30d; services sshd -> cron' \
	"$(db "SELECT detail FROM event WHERE action = 'modify' AND target = 'svc-a'")"
expect 1 "after: svc-a through sshd denied at once" nhictl check svc-a --service sshd --host testhost
expect 0 "after: svc-a through cron allowed" nhictl check svc-a --service cron --host testhost
if [ $pam_ok = 1 ]; then
	pam sshd svc-a && rc=0 || rc=$?
	check "after, real pam_nhi: the sshd login that was allowed is denied" test $rc -ne 0
	sed 's/^/#   /' "$T/pam.out"
	check "after, real pam_nhi: cron allowed" pam cron svc-a
else
	echo "# skip: real pam_nhi checks (pamtester, pam_wrapper or nss_nhi missing)"
fi

# a review, then a new interval: due from the last review
expect 0 "review svc-a" nhictl review svc-a
db "UPDATE identity SET last_review = last_review - 86400 WHERE name = 'svc-a'"
expect 0 "modify --review-interval 7d" nhictl modify svc-a --review-interval 7d --json
eqv "json changed" True "$(pyjson 'd["changed"]')"
eqv "json changes" "review_interval:30d->1w" \
	"$(pyjson '" ".join(k+":"+v["from"]+"->"+v["to"] for k,v in d["changes"].items())')"
eqv "json review_interval" 604800 "$(pyjson 'd["review_interval"]')"
eqv "review_due = last_review + new interval" 604800 \
	"$(db "SELECT review_due - last_review FROM identity WHERE name = 'svc-a'")"

# hosts replaced whole; --any-host, --any-service
expect 0 "modify --host web1 --host 'db*' --host web1" nhictl modify svc-a --host web1 \
	--host 'db*' --host web1
has out "hosts replaced whole, sorted, once each" '^hosts: testhost -> db\*,web1$'
eqv "identity_host rows" "db*,web1" \
	"$(db "SELECT group_concat(host) FROM (SELECT host FROM identity_host h JOIN identity i ON i.id = h.identity_id WHERE i.name = 'svc-a' ORDER BY host)")"
expect 1 "check on testhost: denied now" nhictl check svc-a --service cron --host testhost
expect 0 "check on web1: allowed" nhictl check svc-a --service cron --host web1
expect 0 "modify --any-host --any-service" nhictl modify svc-a --any-host --any-service
has out "hosts: any" '^hosts: db\*,web1 -> any$'
has out "services: any" '^services: cron -> any$'
expect 0 "check through sshd anywhere: allowed" nhictl check svc-a --service sshd --host elsewhere
expect 0 "modify --purpose '': removed" nhictl modify svc-a --purpose ''
has out "purpose removed" '^purpose: "weekly reports" -> ""$'
expect 0 "show --json" nhictl show svc-a --json
eqv "show: purpose, hosts, services" "|[]|[]" \
	"$(pyjson 'd["purpose"]+"|"+str(d["hosts"])+"|"+str(d["services"])')"
eqv "the gecos went with it" "" "$(db "SELECT gecos FROM identity WHERE name = 'svc-a'")"

# the gecos follows the purpose while it is the one the purpose gave: a
# purpose passwd cannot hold (':' or ',') leaves it empty, and a gecos set
# otherwise (adopted, by hand) is left alone
expect 0 "modify --purpose 'backups, nightly' (a comma)" nhictl modify svc-a --purpose 'backups, nightly'
eqv "gecos empty: passwd cannot hold a comma" "" "$(db "SELECT gecos FROM identity WHERE name = 'svc-a'")"
expect 0 "modify --purpose 'backups'" nhictl modify svc-a --purpose backups
eqv "gecos backups" "backups" "$(db "SELECT gecos FROM identity WHERE name = 'svc-a'")"
if have_nss; then
	expect 0 "getent passwd svc-a (nss_nhi)" nsswrap getent passwd svc-a
	has out "the published passwd line has the new gecos" '^svc-a:x:[0-9]+:[0-9]+:backups:'
fi
db "UPDATE identity SET gecos = 'Backup Robot' WHERE name = 'svc-a'"
expect 0 "modify --purpose 'restores' on a gecos set otherwise" nhictl modify svc-a --purpose restores
check "no gecos change printed" bash -c "! grep -q '^gecos:' '$T/out'"
eqv "the gecos set otherwise stays" "Backup Robot" "$(db "SELECT gecos FROM identity WHERE name = 'svc-a'")"

# bad input: refused as create refuses it, nothing written
n_ev=$(db "SELECT count(*) FROM event")
fails modify 2 "a bad host" "invalid host" nhictl modify svc-a --host 'a b'
fails modify 2 "a bad service" "invalid PAM service" nhictl modify svc-a --service 'x/y'
fails modify 2 "a bad interval" "bad --review-every" nhictl modify svc-a --review-every soon
fails modify 2 "a zero interval" "must be positive" nhictl modify svc-a --review-every 0d
fails modify 2 "a purpose with a control character" "bad --purpose" \
	nhictl modify svc-a --purpose "$(printf 'a\tb')"
fails modify 2 "--host with --any-host" "exclude each other" nhictl modify svc-a --host a --any-host
fails modify 2 "no name" "identity name" nhictl modify --purpose x
fails modify 1 "an unknown identity" "nope" nhictl modify nope --purpose x
eqv "nothing written" "$n_ev" "$(db "SELECT count(*) FROM event")"
expect 0 "retire agent-b" nhictl retire agent-b
fails modify 1 "a retired identity" "identity 'agent-b' is retired" \
	nhictl modify agent-b --purpose x

finish

#!/bin/bash
# The applied marks (issue 16: what `nhictl apply` manages) and `nhictl
# modify` on backend = local with the real nhictl: the registry migration
# 9 -> 10 (an applied column on identity, resource, access, delegation),
# "applied" in show/list/resource show/grant list/delegate list --json.
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
eqv "schema version 10" 10 "$(db 'PRAGMA user_version')"
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

# ---- migration 9 -> 10: a version-9 registry gets the columns, all 0 ----
sqlite3 "$ST/registry.db" "VACUUM INTO '$T/v9.db'"
sqlite3 "$T/v9.db" "ALTER TABLE identity DROP COLUMN applied;
	ALTER TABLE resource DROP COLUMN applied; ALTER TABLE access DROP COLUMN applied;
	ALTER TABLE delegation DROP COLUMN applied; PRAGMA user_version = 9"
eqv "the version-9 registry has no applied column" 0 \
	"$(sqlite3 "$T/v9.db" "SELECT count(*) FROM pragma_table_info('identity') WHERE name = 'applied'")"
cp "$T/v9.db" "$ST/registry.db"
rm -f "$ST/registry.db-wal" "$ST/registry.db-shm"
expect 0 "list --json on a version-9 registry" nhictl list --json
eqv "migrated to 10" 10 "$(db 'PRAGMA user_version')"
for t in identity resource access delegation; do
	eqv "$t.applied added (NOT NULL DEFAULT 0), 0 everywhere" "00" \
		"$(db "SELECT count(*) FROM $t WHERE applied != 0")$(db "SELECT count(*) - 1 FROM pragma_table_info('$t') WHERE name = 'applied' AND \"notnull\" = 1 AND dflt_value = '0'")"
done
eqv "list --json after the migration: applied false" "agent-b:False svc-a:False" \
	"$(pyjson '" ".join(i["name"]+":"+str(i["applied"]) for i in d)')"
expect 0 "grant list --json after the migration" nhictl grant list --json
eqv "grants still there, applied false" "svc-a:False" \
	"$(pyjson '" ".join(g["identity"]+":"+str(g["applied"]) for g in d)')"

finish

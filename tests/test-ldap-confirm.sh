#!/bin/bash
# Writes confirmed (issue 17), on one slapd: a create records the
# entryUUID the directory returned in its Post-Read control (RFC 4527); a
# state change, an extension or a transfer reads the entry back and
# compares it with what was written.  Another writer (a replica's older
# value winning, played here by ldapmodify as the directory manager, run by
# the test build's fault hook between the write and the read-back:
# NHI_TEST_FAULT=...-exec, NHI_TEST_FAULT_EXEC) is reported: one line
# "the directory now holds ...: another writer or a replica changed NAME",
# exit 1, nothing printed as done; the registry holds what the directory
# holds and the audit log records it (outcome "overwritten").
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
[ -x "$NHICTL_FAULTY" ] || { echo "# skip: no $NHICTL_FAULTY"; exit 77; }
slapd_start || { nok "slapd starts"; finish; }
ldap_hermetic
B=$SLAPD_NHI_BASE
slapd_nhi_conf "$T/state" testhost > "$NHI_CONF"
mkdir -p "$T/state"
attr() { ldap_admin ldapsearch -b "uid=$1,$B" -s base "$2" | sed -n "s/^$2: //p"; }
reg() { sqlite3 "$T/state/registry.db" "$1"; }
# writer FILE: a script that applies the LDIF FILE as the directory manager
# (the other writer), for NHI_TEST_FAULT_EXEC
writer() {
	cat > "$T/writer.sh" <<-EOF
	#!/bin/sh
	LDAPNOINIT=1 ldapmodify -a -c -H '$SLAPD_LDAPI_URI' -Y EXTERNAL -Q -f '$1' >/dev/null
	EOF
	chmod +x "$T/writer.sh"
}
# at_write POINT LDIF-FILE VERB ARGS: the test build, the other writer at POINT
at_write() {
	local point=$1 ldif=$2; shift 2
	writer "$ldif"
	NHI_TEST_FAULT=$point NHI_TEST_FAULT_EXEC=$T/writer.sh nhictl_t "$@"
}
last_event() { nhictl log --target "$1" --json > "$T/log.json"; python3 -c '
import json,sys; e=json.load(open(sys.argv[1]))[-1]; print(e["action"], e["outcome"], e["detail"])' "$T/log.json"; }

# ---- create: the entryUUID of the Post-Read control is the one recorded ------
expect 0 "create svc-a" nhictl create svc-a --owner alice --expires +30d
eqv "registry: the entryUUID the directory gave the entry" "$(attr svc-a entryUUID)" \
	"$(reg "SELECT entry_uuid FROM identity WHERE name = 'svc-a'")"

# another writer deletes the new entry and adds its own under the name
cat > "$T/replace.ldif" <<EOF
dn: uid=svc-z,$B
changetype: delete

EOF
slapd_ident svc-z 2100777 dave | sed '1a changetype: add' >> "$T/replace.ldif"
fails create 1 "create svc-z: another entry under the name at once: reported" \
	"the directory now holds another entry for it \(entryUUID [-0-9a-f]+, not [-0-9a-f]+ which this create made\): another writer or a replica changed svc-z$" \
	at_write add-readback-exec "$T/replace.ldif" create svc-z --owner alice --expires +30d
eqv "registry: svc-z is the other writer's entry (what stands)" "2100777 dave $(attr svc-z entryUUID)" \
	"$(reg "SELECT uid || ' ' || owner || ' ' || entry_uuid FROM identity WHERE name = 'svc-z'")"
eqv "audit log: the create is recorded as overwritten" "create overwritten" \
	"$(last_event svc-z | cut -d' ' -f1,2)"

# ---- suspend overwritten by another writer's state -----------------------------
cat > "$T/active.ldif" <<EOF
dn: uid=svc-a,$B
changetype: modify
replace: nhiState
nhiState: active
EOF
fails suspend 1 "suspend: the directory holds active again: reported, not done" \
	"the directory now holds state active, not suspended: another writer or a replica changed svc-a$" \
	at_write update-readback-exec "$T/active.ldif" suspend svc-a
eqv "directory: active" active "$(attr svc-a nhiState)"
expect 0 "show svc-a" nhictl show svc-a --json
eqv "registry: active (what the directory holds)" active "$(pyjson 'd["state"]')"
eqv "audit log: suspend overwritten, with what stands" \
	"suspend overwritten the directory now holds state active, not suspended" \
	"$(last_event svc-a | sed 's/ (directory)$//')"

# ---- extend overwritten -------------------------------------------------------
cat > "$T/expires.ldif" <<EOF
dn: uid=svc-a,$B
changetype: modify
replace: nhiExpires
nhiExpires: 20990101000000Z
EOF
fails extend 1 "extend: another expiry stands: reported" \
	"the directory now holds expiry 2099-01-01T00:00:00Z, not 20[0-9-]+T[0-9:]+Z: another writer or a replica changed svc-a$" \
	at_write update-readback-exec "$T/expires.ldif" extend svc-a --expires +40d

# ---- transfer overwritten ------------------------------------------------------
cat > "$T/owner.ldif" <<EOF
dn: uid=svc-a,$B
changetype: modify
replace: owner
owner: uid=alice,$SLAPD_PEOPLE_BASE
EOF
fails transfer 1 "transfer: the old owner stands: reported" \
	"the directory now holds owner alice, not dave: another writer or a replica changed svc-a$" \
	at_write update-readback-exec "$T/owner.ldif" transfer svc-a --to dave

# ---- refused: another writer's change reached the server before the write -----
# (the verb read the entry, the other writer changed it, then the verb's
# Modify: its compare and swap of what it read refuses it)
# modify_ldif DN ATTR VALUE: another writer's change; replace_ldif ATTR
# VALUE: of svc-a
modify_ldif() { printf 'dn: %s\nchangetype: modify\nreplace: %s\n%s: %s\n' "$1" "$2" "$2" "$3"; }
replace_ldif() { modify_ldif "uid=svc-a,$B" "$1" "$2"; }
replace_ldif owner "uid=carol,$SLAPD_PEOPLE_BASE" > "$T/owner-carol.ldif"
fails transfer 1 "transfer: another transfer between the read and the write: refused" \
	"identity 'svc-a' was changed in the directory meanwhile \(its owner is no longer uid=alice,$SLAPD_PEOPLE_BASE\); nothing done, try again$" \
	at_write update-write-exec "$T/owner-carol.ldif" transfer svc-a --to dave
eqv "directory: the other writer's owner stands" "uid=carol,$SLAPD_PEOPLE_BASE" "$(attr svc-a owner)"
eqv "registry: the owner that stands" "carol" "$(reg "SELECT owner FROM identity WHERE name = 'svc-a'")"
eqv "audit log: the transfer recorded as a conflict, with what stands" \
	"transfer conflict refused: changed in the directory meanwhile (now state active, owner carol)" \
	"$(last_event svc-a | sed 's/ (directory)$//')"
replace_ldif nhiState suspended > "$T/suspended.ldif"
fails suspend 1 "suspend: another writer suspended it between the read and the write: refused" \
	"identity 'svc-a' was changed in the directory meanwhile \(its state is no longer active\); nothing done, try again$" \
	at_write update-write-exec "$T/suspended.ldif" suspend svc-a
eqv "registry: suspended (what stands)" suspended "$(reg "SELECT state FROM identity WHERE name = 'svc-a'")"
eqv "audit log: suspend conflict" "suspend conflict" "$(last_event svc-a | cut -d' ' -f1,2)"
expect 0 "resume svc-a after the refusal" nhictl resume svc-a
expect 0 "transfer svc-a back to alice" nhictl transfer svc-a --to alice

# ---- grants and delegations: another writer's entry stands -------------------
expect 0 "resource r-api" nhictl resource add r-api --kind api --uri https://api.example --owner alice
expect 0 "create svc-g" nhictl create svc-g --owner alice --expires +30d
modify_ldif "nhiGrantId=r-api,uid=svc-g,$B" nhiAction admin > "$T/grant.ldif"
fails grant 1 "grant add: another writer's actions stand: reported" \
	"the directory now holds its grant of svc-g on r-api with actions admin, .*, not actions read, .*: another writer or a replica changed svc-g$" \
	at_write grant-readback-exec "$T/grant.ldif" grant add svc-g r-api --actions read
expect 0 "grant list svc-g --json" nhictl grant list svc-g --json
eqv "registry: the actions that stand" "admin" "$(pyjson '",".join(d[0]["actions"]) if isinstance(d[0]["actions"], list) else d[0]["actions"]')"
eqv "audit log: grant-add overwritten" "grant-add overwritten" "$(last_event svc-g | cut -d' ' -f1,2)"
expect 0 "create svc-h" nhictl create svc-h --owner alice --expires +30d
modify_ldif "nhiDelegateTo=svc-h,uid=svc-g,$B" nhiAction read > "$T/deleg.ldif"
fails delegate 1 "delegate add: another writer's limit stands: reported" \
	"the directory now holds its delegation svc-g -> svc-h with actions read, .*: another writer or a replica changed svc-g$" \
	at_write deleg-readback-exec "$T/deleg.ldif" delegate add svc-g svc-h
eqv "audit log: delegate-add overwritten" "delegate-add overwritten" "$(last_event svc-g | cut -d' ' -f1,2)"
expect 0 "the same grant, no other writer: confirmed" nhictl_t grant add svc-g r-api --actions read
modify_ldif "cn=r-api,ou=resources,$B" nhiResourceURI https://other.example > "$T/res.ldif"
fails resource 1 "resource update: another writer's URI stands: reported" \
	"the directory now holds resource r-api with kind api, uri https://other\\.example, .*, not kind api, uri https://new\\.example, .*: another writer or a replica changed r-api$" \
	at_write resource-readback-exec "$T/res.ldif" resource add r-api --kind api --uri https://new.example --owner alice
eqv "registry: the URI that stands" "https://other.example" \
	"$(reg "SELECT uri FROM resource WHERE name = 'r-api'")"
eqv "audit log: resource-update overwritten" "resource-update overwritten" "$(last_event r-api | cut -d' ' -f1,2)"

# ---- without another writer the same verbs are confirmed -----------------------
expect 0 "suspend svc-a (test build, no fault)" nhictl_t suspend svc-a
has out "done" "svc-a"
eqv "directory: suspended" suspended "$(attr svc-a nhiState)"
expect 0 "resume svc-a" nhictl_t resume svc-a
expect 0 "transfer svc-a dave" nhictl_t transfer svc-a --to dave
eqv "audit log: transfer ok" "transfer ok" "$(last_event svc-a | cut -d' ' -f1,2)"
finish

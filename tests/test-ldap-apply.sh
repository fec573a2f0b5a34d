#!/bin/bash
# nhictl modify and nhictl apply (issue 16) with backend = ldap against a
# real slapd (tests/slapd.sh), two hosts a and b (two state dirs):
# modify's purpose, review interval, hosts, services, --any-host and
# --any-service land in the directory entry (ldapsearch), host b's sync
# sees them and the real pam_nhi.so on host b (pamtester under
# pam_wrapper) enforces the new scope; apply on host a creates identities,
# resources, grants and delegations marked nhiApplied TRUE, an unchanged
# re-apply writes nothing (the suffix's contextCSN stays), a changed file
# rewrites exactly the changed entry (entryCSN of the others stays),
# --prune retires only applied entries, host b sees the same after sync;
# another writer between apply's plan and its write (the test build's
# fault hook apply-write-exec) changing the purpose, the hosts or the
# services apply replaces is detected (the assertion control), not
# silently overwritten.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
slapd_start || { nok "slapd starts"; finish; }
ldap_hermetic
B=$SLAPD_NHI_BASE
P=$SLAPD_PEOPLE_BASE

# host NAME: a state dir and config of its own; "on NAME CMD..." runs
# nhictl as that host (host a is the default NHI_CONF)
host() {
	mkdir -p "$T/$1"
	slapd_nhi_conf "$T/$1" "$1" > "$T/$1.conf"
	printf 'max_lifetime = 400d\n' >> "$T/$1.conf"
}
on() { local h=$1; shift; NHI_CONF=$T/$h.conf nhictl "$@"; }
host a; host b
cp "$T/a.conf" "$NHI_CONF"
# attr DN ATTR: the values of ATTR of the entry DN, sorted, space-separated
attr() { ldap_admin ldapsearch -b "$1" -s base "$2" | sed -n "s/^$2: //p" | sort | paste -sd' '; }
iattr() { attr "uid=$1,$B" "$2"; }
# the suffix's contextCSN (syncprov): moves with every write to the database
csn() { attr "$SLAPD_BASE" contextCSN; }
# ecsn DN: the entry's entryCSN (moves when the entry is written)
ecsn() { attr "$1" entryCSN; }
# dn_of FILTER: the DN of the one entry under the base matching FILTER
dn_of() { ldap_admin ldapsearch -b "$B" "$1" dn | sed -n 's/^dn: //p'; }
applied_n() { ldap_admin ldapsearch -b "$B" "(nhiApplied=TRUE)" dn | grep -c '^dn:'; }
sync_b() { on b sync >/dev/null 2>"$T/sync.err" || { nok "host b syncs"; cat "$T/sync.err"; }; }

# ---- PAM on host b: pamtester's account phase with the real pam_nhi.so ----
pam_setup "$T/b.conf" sshd cron
pam_b() { pam_acct "$@"; }  # SERVICE USER: the exit code of host b's PAM account stack
# pam_is allow|deny SERVICE USER WHAT
pam_is() {
	[ $pam_ok = 1 ] || { echo "# skip: real pam_nhi on host b: $4"; return; }
	local rc=0
	pam_b "$2" "$3" || rc=$?
	if [ "$1" = allow ]; then
		check "host b, real pam_nhi: $4" test $rc -eq 0
	else
		check "host b, real pam_nhi: $4" test $rc -ne 0 -a "$(grep -c 'successfully' "$T/pam.out")" = 0
	fi
	sed 's/^/#   /' "$T/pam.out"
}
[ $pam_ok = 1 ] || echo "# skip: PAM checks on host b (pamtester, pam_wrapper or nss_nhi missing)"

# ==== modify ==================================================================
expect 0 "a: create svc-m (host b, sshd)" nhictl create svc-m --owner alice --expires +60d \
	--purpose "nightly" --host b --service sshd
created=$(iattr svc-m nhiCreated)
sync_b
pam_is allow sshd svc-m "before: sshd login of svc-m allowed"
pam_is deny cron svc-m "before: cron denied (not in its services)"

expect 0 "a: modify svc-m --purpose --review-every --service cron" nhictl modify svc-m \
	--purpose "weekly reports" --review-every 30d --service cron
has out "prints the purpose change" '^purpose: "nightly" -> "weekly reports"$'
eqv "directory: description" "weekly reports" "$(iattr svc-m description)"
eqv "directory: nhiReviewInterval" 2592000 "$(iattr svc-m nhiReviewInterval)"
eqv "directory: nhiReviewDue = nhiCreated + 30d" \
	"$(date -u -d "@$(( $(date -u -d "${created:0:8} ${created:8:2}:${created:10:2}:${created:12:2}" +%s) + 2592000 ))" +%Y%m%d%H%M%SZ)" \
	"$(iattr svc-m nhiReviewDue)"
eqv "directory: nhiPamService replaced whole" cron "$(iattr svc-m nhiPamService)"
eqv "directory: host untouched" b "$(iattr svc-m host)"
sync_b
expect 0 "b: show svc-m --json after sync" on b show svc-m --json
eqv "b: purpose, services, hosts as modified" "weekly reports|cron|b" \
	"$(pyjson 'd["purpose"] + "|" + ",".join(d["services"]) + "|" + ",".join(d["hosts"])')"
eqv "b: review interval" 2592000 "$(sqlite3 "$T/b/registry.db" "SELECT review_interval FROM identity WHERE name = 'svc-m'")"
pam_is deny sshd svc-m "after modify: the sshd login that was allowed is denied"
pam_is allow cron svc-m "after modify: cron allowed"

expect 0 "a: modify svc-m --host a --host 'web*' (not b)" nhictl modify svc-m --host a --host 'web*'
eqv "directory: host replaced whole" "a web*" "$(iattr svc-m host)"
sync_b
pam_is deny cron svc-m "host scope a, web*: cron on b denied"

expect 0 "a: modify svc-m --any-host --any-service" nhictl modify svc-m --any-host --any-service
eqv "directory: no host, no nhiPamService left" "|" "$(iattr svc-m host)|$(iattr svc-m nhiPamService)"
expect 0 "a: modify again, nothing to change" nhictl modify svc-m --any-host --any-service
has out "unchanged" '^svc-m: unchanged$'
sync_b
expect 0 "b: show svc-m --json" on b show svc-m --json
eqv "b: any host, any service" "0 0" "$(pyjson 'len(d["hosts"]), len(d["services"])' | tr -d '(),')"
pam_is allow sshd svc-m "any host, any service: sshd on b allowed"
pam_is allow cron svc-m "any host, any service: cron on b allowed"
expect 0 "a: modify --purpose '' clears it" nhictl modify svc-m --purpose ""
eqv "directory: no description" "" "$(iattr svc-m description)"

# ==== apply ===================================================================
F=$T/fleet.yaml
cat >"$F" <<'Y'
identities:
  - name: app-x
    owner: alice
    expires: 2027-06-30
    purpose: the shop
    review_interval: 30d
    hosts: [b, web2]
    services: [sshd]
    labels: {env: prod}
  - name: agent-y
    kind: agent
    owner: dave
    expires: 60d
resources:
  - name: db1
    kind: database
    uri: postgres://db1/shop
    owner: alice
    data_class: pii
grants:
  - identity: app-x
    resource: db1
    actions: read,write
    scopes: [orders]
delegations:
  - from: agent-y
    to: app-x
    actions: [read]
    reason: reports
Y
N0=$(applied_n)
expect 0 "a: apply from empty" nhictl apply -f "$F"
has out "plan: + identity app-x" '^\+ identity app-x$'
has out "plan: + delegation" '^\+ delegation agent-y -> app-x$'
eqv "directory: 5 entries more marked nhiApplied TRUE" $((N0 + 5)) "$(applied_n)"
eqv "directory: app-x applied" TRUE "$(iattr app-x nhiApplied)"
eqv "directory: app-x purpose, interval" "the shop|2592000" "$(iattr app-x description)|$(iattr app-x nhiReviewInterval)"
eqv "directory: app-x hosts, services" "b web2|sshd" "$(iattr app-x host)|$(iattr app-x nhiPamService)"
eqv "directory: app-x expires" 20270630000000Z "$(iattr app-x nhiExpires)"
eqv "directory: agent-y applied, an agent" "TRUE agent" "$(iattr agent-y nhiApplied) $(iattr agent-y nhiKind)"
RDN=$(dn_of "(&(objectClass=nhiResource)(cn=db1))")
GDN=$(dn_of "(objectClass=nhiGrant)")
DDN=$(dn_of "(objectClass=nhiDelegation)")
eqv "directory: resource db1 applied" TRUE "$(attr "$RDN" nhiApplied)"
eqv "directory: the grant applied" TRUE "$(attr "$GDN" nhiApplied)"
eqv "directory: the delegation applied" TRUE "$(attr "$DDN" nhiApplied)"
expect 0 "a: show app-x --json" nhictl show app-x --json
eqv "a: registry: applied" True "$(pyjson 'd["applied"]')"

# ---- an unchanged re-apply: an empty plan, no directory write ----
C1=$(csn)
expect 0 "a: re-apply" nhictl apply -f "$F"
has out "nothing to change" '^nothing to change$'
expect 0 "a: re-apply --json" nhictl apply -f "$F" --json
eqv "json: empty plan" "False 0" "$(pyjson 'd["changed"], len(d["plan"])' | tr -d '(),')"
eqv "re-apply: the suffix's contextCSN did not move (no write)" "$C1" "$(csn)"

# host b syncs and applies the same file: nothing to change either
sync_b
expect 0 "b: the same file: nothing to change" on b apply -f "$F"
has out "b: nothing to change" '^nothing to change$'
eqv "b's re-apply: no write" "$C1" "$(csn)"

# ---- a changed file: exactly what changed is written ----
sed -i -e 's/the shop/the new shop/' -e 's/\[b, web2\]/[b]/' "$F"
CY=$(ecsn "uid=agent-y,$B"); CR=$(ecsn "$RDN"); CG=$(ecsn "$GDN"); CD=$(ecsn "$DDN")
CX=$(ecsn "uid=app-x,$B")
expect 0 "a: apply the changed file" nhictl apply -f "$F"
has out "purpose change" '^~ identity app-x purpose: the shop -> the new shop$'
has out "hosts change" '^~ identity app-x hosts: b,web2 -> b$'
eqv "plan: two changes, nothing else" 2 "$(grep -c '^[-+~] ' "$T/out")"
eqv "directory: app-x purpose, hosts" "the new shop|b" "$(iattr app-x description)|$(iattr app-x host)"
eqv "directory: app-x still applied" TRUE "$(iattr app-x nhiApplied)"
check "directory: app-x's entry was written" test "$CX" != "$(ecsn "uid=app-x,$B")"
eqv "directory: agent-y, db1, the grant, the delegation untouched" "$CY $CR $CG $CD" \
	"$(ecsn "uid=agent-y,$B") $(ecsn "$RDN") $(ecsn "$GDN") $(ecsn "$DDN")"
C2=$(csn)
expect 0 "a: and again: nothing" nhictl apply -f "$F"
has out "nothing to change" '^nothing to change$'
eqv "no write" "$C2" "$(csn)"
sync_b
pam_is allow sshd app-x "applied app-x, hosts [b], sshd: allowed on b"
pam_is deny cron app-x "applied app-x: cron denied on b"

# ---- --prune: only what apply created ----
expect 0 "a: a hand-made identity (plain create)" nhictl create hand-made --owner alice --expires +30d
eqv "directory: hand-made not applied" "" "$(iattr hand-made nhiApplied)"
cat >"$T/small.yaml" <<'Y'
identities:
  - {name: app-x, owner: alice, expires: 2027-06-30, purpose: the new shop, hosts: [b]}
resources:
  - {name: db1, kind: database, uri: "postgres://db1/shop", owner: alice, data_class: pii}
Y
C3=$(csn)
expect 0 "a: without --prune nothing goes" nhictl apply -f "$T/small.yaml"
has out "nothing to change" '^nothing to change$'
eqv "no write" "$C3" "$(csn)"
expect 0 "a: --prune --dry-run" nhictl apply -f "$T/small.yaml" --prune --dry-run --force
has out "agent-y retired" '^- identity agent-y$'
has out "the grant removed" '^- grant app-x db1$'
has out "the delegation removed" '^- delegation agent-y -> app-x$'
if grep -q 'hand-made\|svc-m' "$T/out"; then nok "prune names a hand-made identity"
else ok "prune leaves hand-made identities (hand-made, svc-m)"; fi
eqv "dry run: no write" "$C3" "$(csn)"
expect 0 "a: --prune --force" nhictl apply -f "$T/small.yaml" --prune --force
eqv "directory: agent-y retired" retired "$(iattr agent-y nhiState)"
eqv "directory: hand-made, svc-m, app-x active" "active active active" \
	"$(iattr hand-made nhiState) $(iattr svc-m nhiState) $(iattr app-x nhiState)"
eqv "directory: the grant and the delegation gone" "0 0" \
	"$(ldap_admin ldapsearch -b "$B" "(objectClass=nhiGrant)" dn | grep -c '^dn:') $(ldap_admin ldapsearch -b "$B" "(objectClass=nhiDelegation)" dn | grep -c '^dn:')"
eqv "directory: db1 stays" "$RDN" "$(dn_of "(&(objectClass=nhiResource)(cn=db1))")"
C4=$(csn)
expect 0 "a: pruned: nothing left" nhictl apply -f "$T/small.yaml" --prune
has out "nothing to change" '^nothing to change$'
eqv "no write" "$C4" "$(csn)"

# ---- host b after sync sees the same state ----
sync_b
for h in a b; do
	on $h list --all --json > "$T/list.$h.json" 2>/dev/null
	python3 -c 'import json,sys
for i in sorted(json.load(open(sys.argv[1])), key=lambda i: i["name"]):
    print(i["name"], i["state"], i["owner"], i["applied"])' "$T/list.$h.json" > "$T/state.$h"
	on $h grant list --json > "$T/g.$h.json" 2>/dev/null
	on $h delegate list --json > "$T/d.$h.json" 2>/dev/null
	python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))), len(json.load(open(sys.argv[2]))))' \
		"$T/g.$h.json" "$T/d.$h.json" >> "$T/state.$h"
done
sed 's/^/#   a: /' "$T/state.a"
eqv "host b after sync: identities, states, owners, marks, grants and delegations as host a" \
	"$(cat "$T/state.a")" "$(cat "$T/state.b")"
expect 0 "b: show app-x --json" on b show app-x --json
eqv "b: app-x as applied" "the new shop|b|True" \
	"$(pyjson 'd["purpose"] + "|" + ",".join(d["hosts"]) + "|" + str(d["applied"])')"
expect 0 "b: resource show db1 --json" on b resource show db1 --json
eqv "b: db1 applied" True "$(pyjson 'd["applied"]')"

# ==== another writer between apply's plan and its write =======================
# the test build's fault hook runs the other writer (ldapmodify as the
# directory manager) after the plan is printed, before anything is written
if [ -x "$NHICTL_FAULTY" ]; then
# other LDIF-LINES...: a script applying a change of app-x as another writer
other() {
	{ printf 'dn: uid=app-x,%s\nchangetype: modify\n' "$B"; printf '%s\n' "$@"; } > "$T/other.ldif"
	printf '#!/bin/sh\nLDAPNOINIT=1 ldapmodify -H %s -Y EXTERNAL -Q -f %s >/dev/null\n' \
		"'$SLAPD_LDAPI_URI'" "'$T/other.ldif'" > "$T/other.sh"
	chmod +x "$T/other.sh"
}
at_write() { NHI_TEST_FAULT=apply-write-exec NHI_TEST_FAULT_EXEC=$T/other.sh nhictl_t "$@"; }
sed 's/purpose: the new shop/purpose: the third shop/' "$T/small.yaml" > "$T/p3.yaml"
other "replace: description" "description: the other writer's shop"
nrun at_write apply -f "$T/p3.yaml"
eqv "purpose changed meanwhile: apply fails" 1 "$rc"
has err "says the entry changed meanwhile" "identity 'app-x' was changed in the directory meanwhile"
eqv "directory: the other writer's purpose stands" "the other writer's shop" "$(iattr app-x description)"
expect 0 "a: show app-x" nhictl show app-x --json
eqv "a: the registry does not claim the apply's purpose" 0 \
	"$(pyjson 'int(d["purpose"] == "the third shop")')"
# the hosts changed meanwhile while apply changes the hosts
sed 's/hosts: \[b\]/hosts: [b, web9]/' "$T/small.yaml" > "$T/h.yaml"
other "replace: host" "host: db7"
nrun at_write apply -f "$T/h.yaml"
has out "plan: the hosts" '^~ identity app-x hosts: b -> b,web9$'
if [ "$rc" = 1 ] && grep -q 'changed in the directory meanwhile' "$T/err"; then
	ok "hosts changed meanwhile: detected"
	eqv "directory: the other writer's hosts stand" db7 "$(iattr app-x host)"
else
	nok "hosts changed meanwhile: not detected (exit $rc), directory host: $(iattr app-x host | tr '\n' ' ')"
fi
# the services replaced meanwhile while apply replaces them
sed 's/hosts: \[b\]/hosts: [b], services: [sshd, cron]/' "$T/small.yaml" > "$T/s.yaml"
other "replace: nhiPamService" "nhiPamService: ftp"
nrun at_write apply -f "$T/s.yaml"
eqv "services replaced meanwhile: apply fails" 1 "$rc"
has err "says so" "identity 'app-x' was changed in the directory meanwhile"
eqv "directory: the other writer's services stand" ftp "$(iattr app-x nhiPamService)"
else
	echo "# skip: another writer between plan and write (no $NHICTL_FAULTY)"
fi

finish

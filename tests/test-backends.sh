#!/bin/bash
# The same lifecycle and credential script (issue, revoke, rotate with a
# grace window) against both backends: the real nhictl with backend =
# local, and with backend = ldap against a throwaway slapd
# (tests/slapd.sh).  Every step's exit code and every result (states,
# owners, credential states, expiries) is recorded per backend; the two
# records must be the same.  Among the steps: `extend` that shortens an
# identity caps the not-after of its credentials at the new expiry on both
# backends (a credential never outlives its identity; with ldap in the
# directory too, so a second host's sync pulls the cap).  Then resources,
# grants and delegations (issue 14): add, update, refusals, removal, the
# retire cascade; with ldap a second host's sync sees the same.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
slapd_start || { nok "slapd starts"; finish; }

ldap_hermetic
B=$SLAPD_NHI_BASE
mkdir -p "$T/local" "$T/ldap" "$T/ldap2"
printf 'state_dir = %s\nhost = testhost\n' "$T/local" > "$T/etc/local.conf"
ldap_conf() {   # STATE-DIR
	printf 'state_dir = %s\nhost = testhost\nbackend = ldap\nldap_base = %s\n' "$1" "$B"
	printf 'ldap_people_base = %s\nldap_timeout = 3s\nldap_uri = %s\n' \
		"$SLAPD_PEOPLE_BASE" "$SLAPD_LDAPI_URI"
	printf 'token_pepper_file = %s\n' "$T/pepper"
}
ldap_conf "$T/ldap" > "$T/etc/ldap.conf"
ldap_conf "$T/ldap2" > "$T/etc/ldap2.conf"

# the identity's state, owner and expiry, and each credential's kind,
# state and not-after (sorted), as one line; expiries relative to the
# identity's ("=" the same instant, "<" before, ">" after)
summary() {   # BACKEND NAME
	nhictl -c "$T/etc/$1.conf" show "$2" --json > "$T/show.json" || { echo "show failed"; return; }
	nhictl -c "$T/etc/$1.conf" cred list "$2" --json > "$T/creds.json" || { echo "cred list failed"; return; }
	python3 - "$T/show.json" "$T/creds.json" <<'P'
import json, sys
i = json.load(open(sys.argv[1])); cs = json.load(open(sys.argv[2]))
def rel(t):
    return "none" if t is None else "=" if t == i["expires"] else "<" if t < i["expires"] else ">"
print(i["state"], i["owner"], " ".join(sorted("%s:%s:%s" % (c["kind"], c["state"], rel(c["not_after"])) for c in cs)))
P
}

# run BACKEND: the script; one line per step into $T/BACKEND.rec
run() {
	local be=$1 rec=$T/$1.rec n=0 e60 e20
	e60=$(date -u -d '+60 days' +%Y-%m-%dT%H:%M:%SZ)
	e20=$(date -u -d '+20 days' +%Y-%m-%dT%H:%M:%SZ)
	: > "$rec"
	step() {   # DESCRIPTION NHICTL-ARGS...
		local d=$1; shift
		n=$((n + 1))
		nrun nhictl -c "$T/etc/$be.conf" "$@"
		echo "$n $d: exit $rc" >> "$rec"
	}
	state() { echo "   $(summary "$be" "$1")" >> "$rec"; }
	step "create" create svc-b --owner alice --expires +30d --purpose "both backends"
	step "create again: refused" create svc-b --owner alice --expires +30d
	step "create with a locked owner: refused" create svc-c --owner bob --expires +30d
	step "create owning itself: refused" create svc-b2 --owner svc-b2 --expires +30d
	state svc-b
	step "a token" cred add svc-b --kind token
	step "a password" cred add svc-b --kind password
	step "a password expiring in 5 days" cred add svc-b --kind password --expires +5d
	state svc-b
	step "extend to 60 days: no credential grows" extend svc-b --expires "$e60"
	state svc-b
	step "extend to the same: unchanged" extend svc-b --expires "$e60"
	step "shorten to 10 days" extend svc-b --expires +10d
	state svc-b
	step "suspend" suspend svc-b
	step "suspend again: unchanged" suspend svc-b
	state svc-b
	step "review while suspended" review svc-b
	step "resume" resume svc-b
	step "resume again: unchanged" resume svc-b
	state svc-b
	step "transfer to dave" transfer svc-b --to dave
	step "transfer to dave again: unchanged" transfer svc-b --to dave
	step "transfer to a locked owner: refused" transfer svc-b --to bob
	state svc-b
	step "revoke the token" cred revoke svc-b "$(nhictl -c "$T/etc/$be.conf" cred list svc-b --json |
		python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["kind"]=="token"][0])')"
	state svc-b
	step "rotate the 5-day password, an hour's grace" rotate svc-b --grace 1h --cred \
		"$(nhictl -c "$T/etc/$be.conf" cred list svc-b --json | python3 -c 'import json,sys
cs = [c for c in json.load(sys.stdin) if c["kind"] == "password"]
print(min(cs, key=lambda c: c["not_after"])["id"])')"
	state svc-b
	step "retire" retire svc-b --reason "done"
	step "retire again: unchanged" retire svc-b
	step "extend a retired one: refused" extend svc-b --expires +20d
	state svc-b
	step "a missing identity" suspend svc-none
	nhictl -c "$T/etc/$be.conf" log --target svc-b --json > "$T/out"
	echo "   log: $(pyjson '" ".join(e["action"] for e in d)')" >> "$rec"
	# reach (issue 14): resources, grants, delegations, the retire cascade
	reach() { echo "   reach: $(reach_summary "$be")" >> "$rec"; }
	step "create agent-r" create agent-r --kind agent --owner alice --expires +30d
	step "create tool-r" create tool-r --owner alice --expires +30d
	step "resource add" resource add db-r --kind database --uri postgres://db/r --owner alice \
		--data-class pii --purpose "records"
	step "resource add again: unchanged" resource add db-r --kind database --uri postgres://db/r \
		--owner alice --data-class pii --purpose "records"
	step "resource add with a locked owner: refused" resource add db-s --kind api --uri https://s \
		--owner bob
	step "grant add" grant add tool-r db-r --actions read,write --scope table:a --expires "$e20"
	step "grant add again: unchanged" grant add tool-r db-r --actions read,write --scope table:a \
		--expires "$e20"
	step "grant with an unknown action: refused" grant add tool-r db-r --actions read,fly
	step "grant on an unknown resource: refused" grant add tool-r db-none --actions read
	step "grant update: read only" grant add tool-r db-r --actions read --scope table:a \
		--expires "$e20"
	step "delegate add" delegate add agent-r tool-r --actions read --reason "ticket 7"
	step "delegate to itself: refused" delegate add agent-r agent-r
	step "delegate to an unknown identity: refused" delegate add agent-r nobody-r
	reach
	step "resource remove with a grant: refused" resource remove db-r
	step "delegate remove" delegate remove agent-r tool-r
	step "delegate remove again: nothing to do" delegate remove agent-r tool-r
	step "delegate add again" delegate add agent-r tool-r
	reach
	step "retire tool-r: its grant and delegation go" retire tool-r
	reach
	step "resource remove" resource remove db-r
	reach
	nhictl -c "$T/etc/$be.conf" log --json > "$T/out"
	echo "   reach log: $(pyjson '" ".join(e["action"] for e in d if e["action"].split("-")[0] in ("resource", "grant", "delegate"))')" >> "$rec"
	# labels (issue 15): on create and resource add, changed by label
	labels() { echo "   labels: $(labels_summary "$be")" >> "$rec"; }
	step "create with labels" create app-l --owner alice --expires +30d --label team=x \
		--label env=prod
	step "create with a bad label: refused" create app-m --owner alice --expires +30d --label Env=x
	step "resource add with a label" resource add db-l --kind database --uri pg://l --owner alice \
		--label env=dev
	labels
	step "label app-l: change one, remove one" label app-l env=dev team-
	step "label app-l again: unchanged" label app-l env=dev
	step "label --resource db-l: add one" label --resource db-l tier=db
	step "resource add db-l --label: kept and changed" resource add db-l --kind database \
		--uri pg://l --owner alice --label env=test
	step "label a missing identity: refused" label nobody-l env=x
	step "17 labels: refused" label app-l a=1 b=1 c=1 d=1 e=1 f=1 g=1 h=1 i=1 j=1 k=1 l=1 m=1 \
		n=1 o=1 p=1
	labels
	step "label app-l: remove all" label app-l env-
	labels
}

# identity app-l's and resource db-l's labels; list --label env=dev
labels_summary() {   # BACKEND
	local c=$T/etc/$1.conf
	nhictl -c "$c" show app-l --json > "$T/l1.json" &&
	nhictl -c "$c" resource show db-l --json > "$T/l2.json" &&
	nhictl -c "$c" list --label env=dev --json > "$T/l3.json" &&
	nhictl -c "$c" resource list --label tier=db --json > "$T/l4.json" ||
		{ echo "show failed"; return; }
	python3 - "$T/l1.json" "$T/l2.json" "$T/l3.json" "$T/l4.json" <<'P'
import json, sys
i, r, l, rl = (json.load(open(f)) for f in sys.argv[1:5])
fmt = lambda d: ",".join("%s=%s" % kv for kv in sorted(d.items()))
print("app-l:", fmt(i["labels"]), "db-l:", fmt(r["labels"]),
      "env=dev:", " ".join(x["name"] for x in l), "tier=db:", " ".join(x["name"] for x in rl))
P
}

# resources (name kind class grants), grants (identity resource actions
# scopes state), delegations (from to limit state), as one line
reach_summary() {   # BACKEND
	local c=$T/etc/$1.conf
	nhictl -c "$c" resource list --json > "$T/res.json" &&
	nhictl -c "$c" grant list --json > "$T/grants.json" &&
	nhictl -c "$c" delegate list --json > "$T/delegs.json" || { echo "list failed"; return; }
	python3 - "$T/res.json" "$T/grants.json" "$T/delegs.json" <<'P'
import json, sys
r, g, d = (json.load(open(f)) for f in sys.argv[1:4])
print("R:", " ".join("%s/%s/%s/%s" % (x["name"], x["kind"], x["data_class"], x["grants"]) for x in r),
      "G:", " ".join("%s/%s/%s/%s/%s" % (x["identity"], x["resource"], ",".join(x["actions"]),
                     ",".join(x["scopes"]), x["state"]) for x in g),
      "D:", " ".join("%s/%s/%s/%s" % (x["from"], x["to"], ",".join(x["actions"]), x["state"]) for x in d))
P
}

run local
run ldap
sed 's/^/# /' "$T/local.rec"
if diff -u "$T/local.rec" "$T/ldap.rec" > "$T/diff"; then
	ok "both backends: the same exit codes and results at every step"
else
	nok "the backends differ: $(cat "$T/diff")"
fi

# what the record must say (on both, by the comparison above)
has_rec() { if grep -Eq -- "$2" "$T/local.rec"; then ok "$1"; else nok "$1: no /$2/ in the record"; fi; }
has_rec "created: exit 0" '^1 create: exit 0$'
has_rec "refused steps exit 1" '^2 create again: refused: exit 1$'
has_rec "extend to 60 days: no credential grows past its own not-after" \
	'^   active alice password:active:< password:active:< token:active:<$'
has_rec "shortened: every credential capped at the new expiry" \
	'^   active alice password:active:< password:active:= token:active:=$'
has_rec "rotated: the new one active, the old one in its grace" \
	'^   active dave password:active:= password:active:= password:grace:< token:revoked:=$'
has_rec "reach: the grant (updated) and the delegation" \
	'^   reach: R: db-r/database/pii/1 G: tool-r/db-r/read/table:a/live D: agent-r/tool-r/read/live$'
has_rec "reach: retire took tool-r's grant and delegation" \
	'^   reach: R: db-r/database/pii/0 G:  D: $'
has_rec "labels: as created" \
	'^   labels: app-l: env=prod,team=x db-l: env=dev env=dev:  tier=db: $'
has_rec "labels: changed by label and resource add" \
	'^   labels: app-l: env=dev db-l: env=test,tier=db env=dev: app-l tier=db: db-l$'
has_rec "labels: a 17th label refused" '^[0-9]+ 17 labels: refused: exit 2$'
has_rec "retired: every credential revoked" \
	'^   retired dave password:revoked:. password:revoked:. password:revoked:. token:revoked:.$'

# ldap: the cap is in the directory, and a second host pulls it
exp=$(nhictl -c "$T/etc/ldap.conf" show svc-b --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["expires"])')
gt=$(date -u -d "$exp" +%Y%m%d%H%M%SZ)
eqv "directory: no credential entry's nhiNotAfter after the identity's nhiExpires" "" \
	"$(ldap_admin ldapsearch -b "uid=svc-b,$B" -s one '(objectClass=nhiCredential)' nhiNotAfter |
		sed -n 's/^nhiNotAfter: //p' | awk -v e="$gt" '$1 > e')"
eqv "directory: three credentials at nhiExpires (two capped, one issued after)" 3 \
	"$(ldap_admin ldapsearch -b "uid=svc-b,$B" -s one '(objectClass=nhiCredential)' nhiNotAfter |
		grep -c "^nhiNotAfter: $gt")"
expect 0 "a second host syncs" nhictl -c "$T/etc/ldap2.conf" sync
eqv "the second host has the same credentials and expiries" "$(summary ldap svc-b)" "$(summary ldap2 svc-b)"
eqv "the second host has the same resources, grants and delegations" "$(reach_summary ldap)" \
	"$(reach_summary ldap2)"
eqv "the second host has the same labels" "$(labels_summary ldap)" "$(labels_summary ldap2)"
eqv "directory: the resource's nhiLabel values" "env=test tier=db" \
	"$(ldap_admin ldapsearch -b "cn=db-l,ou=resources,$B" -s base nhiLabel |
		sed -n 's/^nhiLabel: //p' | sort | tr '\n' ' ' | sed 's/ $//')"

# libldap is loaded only when the directory is used (nhictl/ldap/ldapdl.h):
# not by a verb of the local backend, and by one of the directory's
ldlibs() { LD_DEBUG=libs "$NHICTL" -c "$T/etc/$1.conf" "${@:2}" 2>&1 >/dev/null | grep -c 'calling init: .*libldap'; }
eqv "backend = local: libldap not loaded" 0 "$(ldlibs local list)"
eqv "backend = ldap: libldap loaded by sync" 1 "$(ldlibs ldap2 sync)"
eqv "nhictl does not link libldap" 0 "$(readelf -d "$NHICTL" | grep -c 'NEEDED.*libldap')"
finish

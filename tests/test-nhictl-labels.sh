#!/bin/bash
# Labels (issue 15, NHI8 environment isolation) with the real nhictl on
# backend = local: --label on create, adopt and resource add; nhictl label
# (KEY=VALUE, KEY-) on identities and --resource; every bad label one line,
# exit 2, nothing written; show, list and resource list/show in text and
# JSON; list --label and resource list --label filters; audit's
# NHI8-CROSS-ENV (direct grants, the identity's own env, one hop of
# delegation), and none when the environments agree.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"

ST=$T/state
rows() { sqlite3 "$ST/registry.db" "SELECT count(*) FROM $1"; }
col() { sqlite3 "$ST/registry.db" "SELECT labels FROM $1 WHERE name = '$2'"; }
snap_events() { N_EV=$(rows event); }
none_written() { eqv "$1: nothing written" "$N_EV" "$(rows event)"; }
# the codes and subjects of audit --json's findings of risk NHI8
nhi8() { pyjson '" ".join(sorted(f["code"]+":"+f["name"] for f in d["findings"] if f["risk"] == "NHI8"))'; }

expect 0 "label --help" nhictl label --help
has out "label --help is its usage" "usage: nhictl label NAME KEY=VALUE"

# ---- create with labels: sorted by key, stored in identity.labels ----
expect 0 "create app-prod --label env=prod --label team=crm" nhictl create app-prod \
	--owner alice --expires +60d --label team=crm --label env=prod
eqv "identity.labels sorted by key" "env=prod,team=crm" "$(col identity app-prod)"
expect 0 "create app-dev --label env=dev" nhictl create app-dev --owner alice --expires +60d \
	--label env=dev --json
eqv "create --json: labels object" "{'env': 'dev'}" "$(pyjson 'd["labels"]')"
expect 0 "create app-none (no label)" nhictl create app-none --owner alice --expires +60d
expect 0 "create tool-dev" nhictl create tool-dev --owner alice --expires +60d

# ---- bad labels: one line, exit 2, nothing written ----
snap_events
fails create 2 "a key with upper case" "bad label 'Env=prod'" \
	nhictl create bad1 --owner alice --expires +60d --label Env=prod
fails create 2 "no '='" "bad label 'envprod': KEY=VALUE" \
	nhictl create bad1 --owner alice --expires +60d --label envprod
fails create 2 "an empty value" "bad label 'env=': the value" \
	nhictl create bad1 --owner alice --expires +60d --label env=
fails create 2 "a value with a space" "the value" \
	nhictl create bad1 --owner alice --expires +60d --label 'env=pr od'
long=$(printf 'k%.0s' $(seq 64))
fails create 2 "a key of 64 bytes" "the key is 1 to 63" \
	nhictl create bad1 --owner alice --expires +60d --label "$long=v"
fails create 2 "a value of 64 bytes" "the value is 1 to 63" \
	nhictl create bad1 --owner alice --expires +60d --label "k=$long"
fails create 2 "KEY- is not for create" "bad label 'env-': KEY=VALUE" \
	nhictl create bad1 --owner alice --expires +60d --label env-
many=()
for i in $(seq 17); do many+=(--label "k$i=v"); done
fails create 2 "17 labels" "too many --label options \\(at most 16\\)" \
	nhictl create bad1 --owner alice --expires +60d "${many[@]}"
fails label 2 "label: a bad op" "bad label 'x=Y'" nhictl label app-prod x=Y
fails label 2 "label: nothing to do" "missing KEY=VALUE" nhictl label app-prod
fails label 2 "label: one key set twice" "label key 'env' given twice \('env=a', 'env=b'\)" \
	nhictl label app-prod env=a env=b
fails label 2 "label: one key set and removed" "label key 'env' given twice \('env=a', 'env-'\)" \
	nhictl label app-prod env=a env-
fails resource 2 "resource add: one key twice" "label key 'env' given twice" nhictl resource add r1 \
	--kind database --uri pg://r1 --owner alice --label env=a --label env=b
fails resource 2 "resource add: a bad label" "bad label 'env=a,b'" nhictl resource add r1 \
	--kind database --uri pg://r1 --owner alice --label env=a,b
fails list 2 "list --label: a bad filter" "bad label" nhictl list --label env
none_written "bad labels"
eqv "no identity bad1" 0 "$(sqlite3 "$ST/registry.db" "SELECT count(*) FROM identity WHERE name = 'bad1'")"

# ---- 16 labels are fine; a 17th through label is refused ----
sixteen=()
for i in $(seq 16); do sixteen+=(--label "k$i=v"); done
expect 0 "create app-many with 16 labels" nhictl create app-many --owner alice --expires +60d "${sixteen[@]}"
snap_events
fails label 2 "a 17th label" "too many labels \\(at most 16\\)" nhictl label app-many k17=v
none_written "a 17th label"
expect 0 "replacing one of 16 is fine" nhictl label app-many k1=w
eqv "k1 replaced, sorted by key" "k1=w,k10=v,k11=v" "$(col identity app-many | cut -d, -f1-3)"

# ---- nhictl label: set, change, remove; audited; unchanged ----
expect 0 "label app-none env=prod tier=web" nhictl label app-none env=prod tier=web
has out "says the labels" "app-none: labels env=prod,tier=web"
eqv "stored" "env=prod,tier=web" "$(col identity app-none)"
eqv "audited as label" 1 "$(sqlite3 "$ST/registry.db" "SELECT count(*) FROM event WHERE action = 'label' AND target = 'app-none' AND detail LIKE 'labels - -> env=prod,tier=web%'")"
expect 0 "label app-none tier- (remove)" nhictl label app-none tier-
eqv "tier removed" "env=prod" "$(col identity app-none)"
expect 0 "label app-none env=prod again" nhictl label app-none env=prod
has out "unchanged" "nothing changed"
fails label 1 "label: no such identity" "nosuch" nhictl label nosuch env=prod
expect 0 "label app-none env- --json" nhictl label app-none env- --json
eqv "label --json: no labels" "{}" "$(pyjson 'd["labels"]')"

# ---- show and list ----
expect 0 "show app-prod" nhictl show app-prod
has out "show: labels" "^labels: +env=prod,team=crm$"
expect 0 "show app-prod --json" nhictl show app-prod --json
eqv "show --json: labels" "{'env': 'prod', 'team': 'crm'}" "$(pyjson 'd["labels"]')"
expect 0 "list --json" nhictl list --json
eqv "list --json: labels of each" "app-dev={'env': 'dev'} app-none={}" \
	"$(pyjson '" ".join("%s=%s" % (i["name"], i["labels"]) for i in d if i["name"] in ("app-dev", "app-none"))')"
expect 0 "list --label env=prod" nhictl list --label env=prod --json
eqv "list --label env=prod: only app-prod" "app-prod" "$(pyjson '" ".join(i["name"] for i in d)')"
expect 0 "list --label env=prod --label team=crm" nhictl list --label env=prod --label team=crm
has out "text list filtered" "^app-prod "
check "text list: not app-dev" test "$(grep -c '^app-dev ' "$T/out")" = 0
expect 0 "list --label env=prod --label team=web: none" nhictl list --label env=prod --label team=web --json
eqv "no identity has both" "0" "$(pyjson 'len(d)')"
expect 0 "list: a LABELS column" nhictl list
has out "text list: the labels" "^app-prod .* env=prod,team=crm"

# ---- adopt --label ----
expect 0 "adopt legacy-svc --label env=dev" nhictl adopt legacy-svc --owner alice --expires +60d \
	--label env=dev
eqv "adopt: labels stored" "env=dev" "$(col identity legacy-svc)"
fails adopt 2 "adopt: a bad label" "bad label" nhictl adopt legacy-svc --owner alice \
	--expires +60d --label ENV=x

# ---- resources ----
expect 0 "resource add db-prod --label env=prod" nhictl resource add db-prod --kind database \
	--uri pg://prod --owner alice --label env=prod --json
eqv "resource add --json: labels" "{'env': 'prod'}" "$(pyjson 'd["labels"]')"
expect 0 "resource add db-dev --label env=dev" nhictl resource add db-dev --kind database \
	--uri pg://dev --owner alice --label env=dev
expect 0 "resource add db-dev2 --label env=dev" nhictl resource add db-dev2 --kind database \
	--uri pg://dev2 --owner alice --label env=dev
expect 0 "resource add wiki (no label)" nhictl resource add wiki --kind api --uri https://wiki \
	--owner alice
expect 0 "resource add db-dev again with --label tier=db: kept and added" nhictl resource add \
	db-dev --kind database --uri pg://dev --owner alice --label tier=db
eqv "resource.labels merged, sorted" "env=dev,tier=db" "$(col resource db-dev)"
eqv "audited as resource-update" 1 "$(sqlite3 "$ST/registry.db" "SELECT count(*) FROM event WHERE action = 'resource-update' AND target = 'db-dev' AND detail LIKE 'labels env=dev -> env=dev,tier=db%'")"
expect 0 "label --resource db-dev tier-" nhictl label --resource db-dev tier-
eqv "resource label removed" "env=dev" "$(col resource db-dev)"
fails label 1 "label --resource: no such resource" "no resource 'nosuch'" nhictl label --resource nosuch env=dev
expect 0 "resource show db-prod" nhictl resource show db-prod
has out "resource show: labels" "^labels: +env=prod$"
expect 0 "resource show db-prod --json" nhictl resource show db-prod --json
eqv "resource show --json: labels" "{'env': 'prod'}" "$(pyjson 'd["labels"]')"
expect 0 "resource list --label env=dev" nhictl resource list --label env=dev --json
eqv "resource list --label env=dev" "db-dev db-dev2" "$(pyjson '" ".join(r["name"] for r in d)')"
expect 0 "resource list --label env=de: no partial match" nhictl resource list --label env=de --json
eqv "resource list: env=de matches none" "0" "$(pyjson 'len(d)')"
expect 0 "resource list (all)" nhictl resource list --json
eqv "resource list: wiki has no labels" "{}" "$(pyjson '[r["labels"] for r in d if r["name"] == "wiki"][0]')"

# ---- NHI8-CROSS-ENV ----
expect 0 "audit: no grants yet, no NHI8" nhictl audit --json
eqv "no NHI8 finding" "" "$(nhi8)"
# envs agree: app-prod (env=prod) on db-prod; app-dev (env=dev) on two dev dbs; unlabelled wiki
expect 0 "grant app-prod db-prod" nhictl grant add app-prod db-prod --actions read
expect 0 "grant app-dev db-dev" nhictl grant add app-dev db-dev --actions read
expect 0 "grant app-dev db-dev2" nhictl grant add app-dev db-dev2 --actions read
expect 0 "grant app-dev wiki" nhictl grant add app-dev wiki --actions read
expect 0 "audit: envs agree" nhictl audit --json
eqv "no NHI8 finding when envs agree" "" "$(nhi8)"
# an unlabelled identity on prod and dev
expect 0 "grant app-none db-prod" nhictl grant add app-none db-prod --actions read
expect 0 "grant app-none db-dev" nhictl grant add app-none db-dev --actions read
# an identity labelled env=prod on a dev resource
expect 0 "grant app-prod db-dev2" nhictl grant add app-prod db-dev2 --actions read
expect 0 "audit: cross-env" nhictl audit --json
eqv "NHI8 findings: app-none, app-prod" "NHI8-CROSS-ENV:app-none NHI8-CROSS-ENV:app-prod" "$(nhi8)"
eqv "app-prod: severity, evidence, remedy" \
	"high|labelled env=prod; db-dev2 (env=dev), db-prod (env=prod)|nhictl grant remove app-prod db-dev2" \
	"$(pyjson '"|".join([f["severity"], f["evidence"].split(": ", 1)[1], f["remedy"]]) if False else [ "|".join([f["severity"], f["evidence"].split(": ", 1)[1], f["remedy"]]) for f in d["findings"] if f["name"] == "app-prod" and f["code"] == "NHI8-CROSS-ENV"][0]')"
has out "app-none: both envs in the evidence" 'db-dev \(env=dev\).*db-prod \(env=prod\)'
# the remedy works: remove the grant, the finding goes
expect 0 "the remedy: nhictl grant remove app-prod db-dev2" nhictl grant remove app-prod db-dev2
expect 0 "audit again" nhictl audit --json
eqv "app-prod: no finding after the remedy" "NHI8-CROSS-ENV:app-none" "$(nhi8)"
# one hop of delegation: tool-dev holds dev grants, app-prod (prod) delegates to it
expect 0 "grant tool-dev db-dev" nhictl grant add tool-dev db-dev --actions read
expect 0 "delegate app-prod -> tool-dev" nhictl delegate add app-prod tool-dev
expect 0 "audit: through a delegation" nhictl audit --json
eqv "NHI8: app-prod through tool-dev" "NHI8-CROSS-ENV:app-none NHI8-CROSS-ENV:app-prod" "$(nhi8)"
eqv "evidence names the delegate, remedy removes the delegation" \
	"db-dev (env=dev) through tool-dev|nhictl delegate remove app-prod tool-dev" \
	"$(pyjson '[ f["evidence"].split("; ")[1].split(", ")[0] + "|" + f["remedy"] for f in d["findings"] if f["name"] == "app-prod" and f["code"] == "NHI8-CROSS-ENV"][0]')"
expect 3 "--fail-on high: NHI8 is high" nhictl audit --fail-on high
has out "text: the code and subject" "^high +NHI8-CROSS-ENV +app-prod "
# the labels change: app-prod becomes env=dev-free: relabel the prod db as dev
expect 0 "delegate remove app-prod tool-dev" nhictl delegate remove app-prod tool-dev
expect 0 "grant remove app-none db-prod" nhictl grant remove app-none db-prod
expect 0 "audit: clean again" nhictl audit --json
eqv "no NHI8 finding left" "" "$(nhi8)"
# an expired or retired holder does not count
expect 0 "grant app-none db-prod again" nhictl grant add app-none db-prod --actions read
expect 0 "retire app-none" nhictl retire app-none
expect 0 "audit: a retired identity has no grants" nhictl audit --json
eqv "no NHI8 for a retired identity" "" "$(nhi8)"

expect 0 "the audit chain is intact" nhictl log --verify
finish

#!/bin/bash
# examples/ansible with nhictl apply (issue 16): the real ansible-playbook
# (local connection) runs the identity tasks of nhi.yml (--tags
# nhi_identities) with the real nhictl of the build (backend = local, a
# test world's registry and owners).  Shows: --check changes nothing; the
# first run is changed, the second not (idempotent); a changed owner,
# expiry and host scope in the variables changes exactly that; an
# identity dropped from the list stays without nhi_prune and is retired
# with it; a bad list fails the run and keeps the apply file.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
command -v ansible-playbook >/dev/null || { echo "skip: ansible-playbook not installed"; exit 77; }

A=$T/ansible
cp -r "$top_srcdir/examples/ansible" "$A"
chmod -R u+w "$A"
mkdir -p "$A/host_vars" "$T/bin"
# nhictl as the tasks find it on PATH: the build's, in the test world
cat >"$T/bin/nhictl" <<W
#!/bin/sh
LD_PRELOAD=libnss_wrapper.so NSS_WRAPPER_PASSWD=$T/etc/passwd NSS_WRAPPER_GROUP=$T/etc/group \\
NSS_WRAPPER_SHADOW=$T/etc/shadow NSS_WRAPPER_MODULE_SO_PATH=$NSS_NHI_DIR/libnss_nhi.so.2 \\
NSS_WRAPPER_MODULE_FN_PREFIX=nhi NSS_WRAPPER_DISABLE_DEEPBIND=1 \\
ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0 \\
NHI_CONF=$NHI_CONF exec $NHICTL "\$@"
W
chmod +x "$T/bin/nhictl"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=0 \
	ANSIBLE_LOCAL_TEMP=$T/.ansible/tmp ANSIBLE_REMOTE_TEMP=$T/.ansible/tmp \
	ANSIBLE_HOME=$T/.ansible ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3

# vars PRUNE IDENTITY...: host_vars/localhost.yml
vars() {
	local prune=$1; shift
	{ echo "nhi_apply_file: $T/identities.yaml"; echo "nhi_prune: $prune"; echo "nhi_identities:"
	  printf '  - %s\n' "$@"; } >"$A/host_vars/localhost.yml"
}
SVC_A='{name: svc-a, owner: alice, expires: "2027-06-30", purpose: backups, hosts: [web1, web2], services: [sshd]}'
SVC_B='{name: svc-b, owner: alice, expires: "2027-06-30", purpose: reports}'
SVC_C='{name: svc-c, kind: agent, owner: dave, expires: "60d"}'
play() {  # LOG ARGS...
	local log=$1; shift
	(cd "$A" && PATH=${PLAY_PATH:-$T/bin:$PATH} ansible-playbook -c local -i localhost, site.yml \
		--tags nhi_identities "$@") >"$log" 2>&1
	local rc=$?
	[ $rc -eq 0 ] || [ -n "${expect_failure:-}" ] || tail -n 30 "$log" | sed 's/^/#   /'
	return $rc
}
changed() { grep -E '^localhost +:' "$1" | sed -E 's/.* changed=([0-9]+) .*/\1/'; }
# status LOG TASK: ok / changed / fatal of the task
status() { awk -v t="TASK [$2]" 'index($0, t) == 1 { f = 1; next } f && /^(ok|changed|fatal|skipping):/ { sub(/:.*/, ""); print; exit }' "$1"; }
q() { sqlite3 "$T/state/registry.db" "$1"; }
row() { q "SELECT owner, expires, purpose, state FROM identity WHERE name = '$1'"; }
APPLY="Apply the identities (nhictl apply)"

vars false "$SVC_A" "$SVC_B" "$SVC_C"
nhictl list >/dev/null 2>&1   # the registry exists, empty

# ---- --check on a host without nhictl yet (scripts/install-test.sh's
# first dry run): it reports the identities it would register ----
if ! PATH=/usr/sbin:/usr/bin:/sbin:/bin type -P nhictl >/dev/null; then
	play_bare() { PLAY_PATH=/usr/sbin:/usr/bin:/sbin:/bin play "$@"; }
	check "--check without nhictl succeeds" play_bare "$T/rn.log" --check
	eqv "--check without nhictl: the stand-in reports the change" changed \
		"$(status "$T/rn.log" "Apply the identities (--check, nhictl not installed yet)")"
fi

# ---- --check first: shows the change, makes none ----
check "--check succeeds" play "$T/r0.log" --check -v
eqv "--check: the apply task would change" changed "$(status "$T/r0.log" "$APPLY")"
check "--check ran nhictl apply -f - --dry-run" grep -q '"cmd": \[.*"apply", "--json", "-f", "-", "--dry-run"' "$T/r0.log"
eqv "--check: no identity created" 0 "$(q 'SELECT count(*) FROM identity')"
check "--check: no apply file written" test ! -e "$T/identities.yaml"

# ---- first run, second run ----
check "first run succeeds" play "$T/r1.log"
eqv "first run: apply changed" changed "$(status "$T/r1.log" "$APPLY")"
eqv "first run: changed=2 (the file, the apply)" 2 "$(changed "$T/r1.log")"
eqv "3 identities" 3 "$(q "SELECT count(*) FROM identity WHERE state = 'active'")"
eqv "svc-a as stated" "alice|$(date -u -d 2027-06-30 +%s)|backups|active" "$(row svc-a)"
eqv "svc-a hosts" "web1,web2" "$(q "SELECT group_concat(host, ',') FROM (SELECT h.host FROM identity_host h JOIN identity i ON i.id = h.identity_id WHERE i.name = 'svc-a' ORDER BY h.host)")"
check "the apply file is on the host" grep -q 'name: svc-a' "$T/identities.yaml"
B_ROW=$(row svc-b) C_ROW=$(row svc-c) EV1=$(q 'SELECT count(*) FROM event')
check "second run succeeds" play "$T/r2.log"
eqv "second run: changed=0 (idempotent)" 0 "$(changed "$T/r2.log")"
eqv "second run: apply ok" ok "$(status "$T/r2.log" "$APPLY")"
eqv "second run wrote no audit event" "$EV1" "$(q 'SELECT count(*) FROM event')"
check "--check after it succeeds" play "$T/r2c.log" --check
eqv "--check after it: changed=0" 0 "$(changed "$T/r2c.log")"

# ---- owner, expiry and host scope changed in the variables ----
vars false "${SVC_A/owner: alice/owner: dave}" "${SVC_B/2027-06-30/2027-05-31}" "$SVC_C"
sed -i 's/hosts: \[web1, web2\]/hosts: [web1]/' "$A/host_vars/localhost.yml"
check "--check of the changes succeeds" play "$T/r3c.log" --check
eqv "--check of the changes: apply would change" changed "$(status "$T/r3c.log" "$APPLY")"
eqv "--check of the changes changed nothing" "$EV1" "$(q 'SELECT count(*) FROM event')"
check "the changes run" play "$T/r3.log"
eqv "the changes: apply changed" changed "$(status "$T/r3.log" "$APPLY")"
expect 0 "show svc-a" nhictl show svc-a --json
eqv "svc-a owner now dave" dave "$(pyjson 'd["owner"]')"
eqv "svc-a hosts now web1" "['web1']" "$(pyjson 'd["hosts"]')"
eqv "svc-a purpose kept" backups "$(pyjson 'd["purpose"]')"
eqv "svc-b expiry now 2027-05-31" "alice|$(date -u -d 2027-05-31 +%s)|reports|active" "$(row svc-b)"
eqv "svc-c untouched" "$C_ROW" "$(row svc-c)"
EV3=$(( $(q 'SELECT count(*) FROM event') - EV1 ))
eqv "one modify event each for svc-a and svc-b" "modify svc-a,modify svc-b" \
	"$(q "SELECT group_concat(x, ',') FROM (SELECT action || ' ' || target AS x FROM (SELECT * FROM event ORDER BY id DESC LIMIT $EV3) ORDER BY x)")"
check "and again: changed=0" play "$T/r4.log"
eqv "and again: changed=0" 0 "$(changed "$T/r4.log")"

# ---- an identity dropped from the list ----
vars false "${SVC_A/owner: alice/owner: dave}" "${SVC_B/2027-06-30/2027-05-31}"
sed -i 's/hosts: \[web1, web2\]/hosts: [web1]/' "$A/host_vars/localhost.yml"
check "dropped, nhi_prune false: the run succeeds" play "$T/r5.log"
eqv "without prune: apply ok (nothing removed)" ok "$(status "$T/r5.log" "$APPLY")"
eqv "without prune: svc-c stays active" active "$(q "SELECT state FROM identity WHERE name = 'svc-c'")"
sed -i 's/^nhi_prune: false/nhi_prune: true/' "$A/host_vars/localhost.yml"
check "nhi_prune true, --check succeeds" play "$T/r6c.log" --check
eqv "prune --check: apply would change" changed "$(status "$T/r6c.log" "$APPLY")"
eqv "prune --check: svc-c still active" active "$(q "SELECT state FROM identity WHERE name = 'svc-c'")"
check "nhi_prune true: the run succeeds" play "$T/r6.log"
eqv "prune: apply changed" changed "$(status "$T/r6.log" "$APPLY")"
eqv "prune: svc-c retired" retired "$(q "SELECT state FROM identity WHERE name = 'svc-c'")"
eqv "prune: svc-a, svc-b active" "active active" "$(q "SELECT state FROM identity WHERE name IN ('svc-a', 'svc-b') ORDER BY name" | tr '\n' ' ' | sed 's/ $//')"
check "and again with prune: the run succeeds" play "$T/r7.log"
eqv "and again with prune: changed=0" 0 "$(changed "$T/r7.log")"

# ---- a bad list fails the run, before the file is replaced ----
cp "$T/identities.yaml" "$T/identities.before"
vars true "$SVC_A" '{name: svc-d, owner: nobody-here, expires: "30d"}'
! expect_failure=1 play "$T/r8.log"
ok "a bad owner fails the run"
check "nhictl named the owner" grep -q "owner 'nobody-here'" "$T/r8.log"
check "the apply file stays as it was" cmp -s "$T/identities.yaml" "$T/identities.before"
eqv "no svc-d" 0 "$(q "SELECT count(*) FROM identity WHERE name = 'svc-d'")"
finish

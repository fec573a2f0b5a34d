#!/bin/bash
# Credentials and rotation with backend = ldap against a real slapd
# (tests/slapd.sh): a password nhictl issues lets the identity bind
# (ldapwhoami as the identity); after `rotate --grace` the old and the new
# password both bind, after the grace (swept by the next sync) only the new
# one; a rotation with the directory stopped between steps leaves the old
# password working, exits 1, and the next run cleans up; a crash after the
# directory step is undone, one after the hand-over completed; a second
# host's concurrent rotation of the same credential is refused by the
# compare-and-swap, not interleaved; tokens and SSH keys reach a second
# host through sync; suspend locks the password in the directory, resume
# restores it, retire revokes everything; no secret in the directory but
# hashes.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
# slapd is there: a server that does not start (a schema error, say) is a failure
slapd_start || { nok "slapd starts"; finish; }

ldap_hermetic
P=$SLAPD_PEOPLE_BASE
B=$SLAPD_NHI_BASE
ST=$T/state ST2=$T/state2
mkdir -p "$ST2"
conf() {   # STATE-DIR
	printf 'state_dir = %s\nhost = testhost\nbackend = ldap\nldap_base = %s\n' "$1" "$B"
	printf 'ldap_people_base = %s\nldap_timeout = 3s\nldap_uri = %s\n' "$P" "$SLAPD_LDAPI_URI"
	printf 'token_pepper_file = %s\n' "$T/pepper"
}
conf "$ST" > "$NHI_CONF"
conf "$ST2" > "$T/etc/host2.conf"
h2() { nhictl -c "$T/etc/host2.conf" "$@"; }
SECRETS=$T/secrets
secret() { head -n1 "$T/out" | tee -a "$SECRETS"; }
# bind NAME PASSWORD: a simple bind as the identity's entry
bind() { ldapwhoami -x -H "$SLAPD_LDAPI_URI" -D "uid=$1,$B" -w "$2" >/dev/null 2>&1; }
attr() { ldap_admin ldapsearch -b "uid=$1,$B" -s base "$2" | sed -n "s/^$2: //p" | sort | paste -sd' '; }
# pw NAME: the identity's userPassword values, one a line (LDIF gives them base64)
pw() { ldap_admin ldapsearch -b "uid=$1,$B" -s base userPassword | sed -n 's/^userPassword:: //p' |
	while read -r v; do printf '%s\n' "$(printf '%s' "$v" | base64 -d)"; done; }
npw() { pw "$1" | grep -c .; }
cattr() { ldap_admin ldapsearch -b "nhiCredentialId=$2,uid=$1,$B" -s base "$3" | sed -n "s/^$3: //p"; }
active_id() { nhictl cred list "$1" --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["state"]=="active"][0])'; }

expect 0 "create svc-p" nhictl create svc-p --owner alice --expires +30d

# ---- a password binds ---------------------------------------------------------
expect 0 "cred add svc-p --kind password" nhictl cred add svc-p --kind password
P1=$(secret)
C1=$(active_id svc-p)
check "the identity binds with it (ldapwhoami)" bind svc-p "$P1"
check "a wrong password does not bind" bash -c '! ldapwhoami -x -H "$1" -D "$2" -w wrong >/dev/null 2>&1' _ \
	"$SLAPD_LDAPI_URI" "uid=svc-p,$B"
eqv "directory: userPassword is a {CRYPT} yescrypt hash" 1 "$(pw svc-p | grep -c '^{CRYPT}\$y\$')"
eqv "directory: the credential entry" "password active" "$(cattr svc-p "$C1" nhiKind) $(cattr svc-p "$C1" nhiState)"
eqv "directory: nhiSerial moved to 1" 1 "$(attr svc-p nhiSerial)"
eqv "registry: read back at once" "$C1 active" "$(nhictl cred list svc-p --json >"$T/out"; pyjson 'd[0]["id"] + " " + d[0]["state"]')"

# ---- rotate with a grace window -------------------------------------------------
# the grace is 8 s, so the checks inside it hold on a loaded machine too;
# the sweep below waits until it has passed
t_rot=$(date +%s)
expect 0 "rotate --grace 8s" nhictl rotate svc-p --grace 8s
P2=$(secret)
check "during the grace: the old password binds" bind svc-p "$P1"
check "during the grace: the new password binds" bind svc-p "$P2"
eqv "directory: two userPassword values" 2 "$(npw svc-p)"
eqv "directory: the old entry in grace" grace "$(cattr svc-p "$C1" nhiState)"
C2=$(active_id svc-p)
eqv "directory: the new entry replaces the old" "$C1" "$(cattr svc-p "$C2" nhiReplaces)"
expect 0 "cred verify (old, during the grace)" nhictl cred verify svc-p <<<"$P1"
while [ "$(date +%s)" -le $((t_rot + 9)) ]; do sleep 0.5; done
expect 0 "after the grace: the next sync sweeps" nhictl sync --json
eqv "sync: one credential expired" 1 "$(pyjson 'd["credentials_expired"]')"
check "after the grace: the old password no longer binds" bash -c '! ldapwhoami -x -H "$1" -D "$2" -w "$3" >/dev/null 2>&1' _ \
	"$SLAPD_LDAPI_URI" "uid=svc-p,$B" "$P1"
check "after the grace: the new password binds" bind svc-p "$P2"
eqv "directory: the old entry revoked" revoked "$(cattr svc-p "$C1" nhiState)"
fails cred 1 "cred verify (old, after the grace)" "not valid" nhictl cred verify svc-p <<<"$P1"

# ---- the directory stopped between steps ---------------------------------------------
G=$(gate_new stop)
NHI_TEST_FAULT_GATE=$G NHI_TEST_FAULT=rotate-after-journal-pause nhictl_t rotate svc-p --grace 1h \
	>"$T/out" 2>"$T/err" &
rpid=$!
gate_wait "$G" || nok "the rotation reaches its pause"
slapd_stop
gate_open "$G"
wait "$rpid"; rc=$?
cat "$T/out" >>"$SECRETS"
eqv "directory stopped mid-rotation: exit 1" 1 "$rc"
has err "it says so, and that the old credential stays" "could not be undone in the directory now: $C2 stays valid"
slapd_restart
check "the old password still binds" bind svc-p "$P2"
eqv "directory: one userPassword value" 1 "$(npw svc-p)"
expect 0 "the next run rotates" nhictl rotate svc-p --grace 1h
P3=$(secret)
has err "after undoing the interrupted one" "rolled back the interrupted rotation of svc-p credential $C2"
check "... and its new password binds" bind svc-p "$P3"
check "... with the old one in its grace" bind svc-p "$P2"

# ---- crash after the directory step, before the hand-over: undone ---------------------
expect 0 "create svc-q" nhictl create svc-q --owner alice --expires +30d
expect 0 "svc-q password" nhictl cred add svc-q --kind password
Q1=$(secret)
NHI_TEST_FAULT=rotate-after-directory-crash nhictl_t rotate svc-q --grace 1h >"$T/out" 2>"$T/err"; rc=$?
eqv "killed after the directory step" 137 "$rc"
eqv "directory: the new hash was added" 2 "$(npw svc-q)"
expect 0 "the next run (cred list is read-only: use cred add)" nhictl cred add svc-q --kind token
has err "rolled back" "rolled back the interrupted rotation of svc-q"
check "the old password binds" bind svc-q "$Q1"
eqv "directory: the new hash removed again" 1 "$(npw svc-q)"
eqv "directory: the new entry deleted, the old active" "1 active" \
	"$(ldap_admin ldapsearch -b "uid=svc-q,$B" -s one '(&(objectClass=nhiCredential)(nhiKind=password))' dn | grep -c '^dn:') $(cattr svc-q "$(nhictl cred list svc-q --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["kind"]=="password"][0])')" nhiState)"

# ---- crash after the hand-over: completed ---------------------------------------------
QP=$(nhictl cred list svc-q --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["kind"]=="password" and c["state"]=="active"][0])')
NHI_TEST_FAULT=rotate-after-handover-crash nhictl_t rotate svc-q --cred "$QP" --grace 1h >"$T/out" 2>"$T/err"; rc=$?
Q2=$(secret)
eqv "killed after the hand-over" 137 "$rc"
nrun nhictl rotate svc-q --cred nosuch   # the next run recovers first
has err "rolled forward" "rolled forward the interrupted rotation of svc-q credential $QP"
check "the handed-over password binds" bind svc-q "$Q2"
check "the old one binds during its grace" bind svc-q "$Q1"

# ---- concurrent rotations from two hosts: compare-and-swap ------------------------------
expect 0 "host2: first sync" h2 sync
G=$(gate_new cas)
NHI_TEST_FAULT_GATE=$G NHI_TEST_FAULT=rotate-after-journal-pause nhictl_t rotate svc-p \
	--cred "$(active_id svc-p)" --grace 1h >"$T/out1" 2>"$T/err1" &
rpid=$!
gate_wait "$G" || nok "host1's rotation reaches its pause"
expect 0 "host2 rotates the same credential meanwhile" h2 rotate svc-p --cred "$(active_id svc-p)" --grace 1h
P4=$(secret)
gate_open "$G"
wait "$rpid"; rc=$?
cat "$T/out1" >>"$SECRETS"
eqv "host1's rotation, now stale, exits 1" 1 "$rc"
check "it was refused by the compare-and-swap" grep -q "changed in the directory meanwhile" "$T/err1"
check "host2's new password binds" bind svc-p "$P4"
check "the password it replaced binds during its grace" bind svc-p "$P3"
eqv "directory: three passwords (two in grace, host2's new one), none of host1's" 3 "$(npw svc-p)"

# ---- tokens and SSH keys reach the other host ------------------------------------------------
expect 0 "create svc-t" nhictl create svc-t --owner alice --expires +30d
expect 0 "svc-t token" nhictl cred add svc-t --kind token
T1=$(secret)
expect 0 "svc-t ssh-key" nhictl cred add svc-t --kind ssh-key --json
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$T/out" >>"$SECRETS"
PUB=$(pyjson 'd["public"]')
TID=$(nhictl cred list svc-t --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["kind"]=="token"][0])')
eqv "directory: the token's MAC, not the token" 1 "$(cattr svc-t "$TID" nhiSecretHash | grep -cx '[0-9a-f]\{64\}')"
expect 0 "host2 syncs" h2 sync --json
# svc-t (new) and svc-p (host2's own rotation since its last sync: every
# changed identity that holds credentials is pulled, serial moved or not)
eqv "host2: credentials of the two changed identities pulled" 2 "$(pyjson 'd["credentials_pulled"]')"
expect 0 "host2: the token verifies (same pepper file)" h2 cred verify svc-t <<<"$T1"
[ "${T1: -1}" = x ] && repl=y || repl=x   # (a token ending in x: changed all the same)
fails cred 1 "host2: a tampered token fails" "not valid" h2 cred verify svc-t <<<"${T1%?}$repl"
expect 0 "host2: authorized-keys serves the key" h2 authorized-keys svc-t
eqv "host2: the key" "$PUB" "$(cat "$T/out")"
expect 0 "host2: nothing new, nothing pulled" h2 sync --json
eqv "host2: an unchanged identity is not pulled again" 0 "$(pyjson 'd["credentials_pulled"]')"

# ---- certificates: signed by the configured CA, in the directory, on host2 ----------------
openssl req -x509 -newkey ed25519 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" \
	-subj "/CN=nhi test CA" -days 30 2>/dev/null
chmod 600 "$T/ca.key"
printf 'ca_cert = %s\nca_key = %s\n' "$T/ca.pem" "$T/ca.key" | tee -a "$NHI_CONF" >> "$T/etc/host2.conf"
expect 0 "create svc-x" nhictl create svc-x --owner alice --expires +30d
expect 0 "svc-x certificate --out" nhictl cred add svc-x --kind certificate --out "$T/x1.pem"
grep -v -- '-----' "$T/x1.pem" | sed -n '/./p' | tail -n 1 >>"$SECRETS"
openssl x509 -in "$T/x1.pem" -out "$T/x1.crt" 2>/dev/null
expect 0 "openssl verify against the CA" openssl verify -CAfile "$T/ca.pem" "$T/x1.crt"
check "CN is the identity's name" bash -c "openssl x509 -in '$T/x1.crt' -noout -subject | grep -q 'CN *= *svc-x'"
X1=$(active_id svc-x)
eqv "directory: the certificate's serial" \
	"$(openssl x509 -in "$T/x1.crt" -noout -serial | cut -d= -f2 | tr A-F a-f)" \
	"$(cattr svc-x "$X1" nhiCertSerial | tr A-F a-f)"
eqv "directory: notAfter = the certificate's" \
	"$(date -u -d "$(openssl x509 -in "$T/x1.crt" -noout -enddate | cut -d= -f2)" +%Y%m%d%H%M%SZ)" \
	"$(cattr svc-x "$X1" nhiNotAfter)"
check "directory: the certificate (not its key) as the public part" \
	bash -c 'ldap_out=$(ldapsearch -LLL -o ldif-wrap=no -Q -Y EXTERNAL -H "$1" -b "$2" -s base nhiPublicPart) &&
		 printf "%s" "$ldap_out" | grep -q "^nhiPublicPart::" && ! printf "%s" "$ldap_out" | base64 -d 2>/dev/null | grep -q PRIVATE' _ \
	"$SLAPD_LDAPI_URI" "nhiCredentialId=$X1,uid=svc-x,$B"
expect 0 "rotate the certificate" nhictl rotate svc-x --grace 1h --out "$T/x2.pem"
grep -v -- '-----' "$T/x2.pem" | sed -n '/./p' | tail -n 1 >>"$SECRETS"
openssl x509 -in "$T/x2.pem" -out "$T/x2.crt" 2>/dev/null
expect 0 "the new certificate verifies" openssl verify -CAfile "$T/ca.pem" "$T/x2.crt"
check "with a new serial" test "$(openssl x509 -in "$T/x1.crt" -noout -serial)" != "$(openssl x509 -in "$T/x2.crt" -noout -serial)"
expect 0 "host2 syncs" h2 sync
# the password hashes reach host2's root-only nhi.shadow (nss_nhi serves
# them to pam_unix): the same set as the directory's userPassword
eqv "host2: nhi.shadow is 0600 root" "600:0" "$(stat -c %a:%u "$ST2/nhi.shadow")"
want=$(pw svc-p | sed 's/^{CRYPT}//' | sort | paste -sd' ')
got=$(awk '$1 == "svc-p" { print $4 }' "$ST2/nhi.shadow" | sort | paste -sd' ')
check "host2: nhi.shadow holds svc-p's usable hashes (3), as the directory does" \
	test -n "$want" -a "$want" = "$got" -a "$(wc -w <<<"$got")" = 3
expect 0 "host2: cred list svc-x" h2 cred list svc-x --json
# (both made in the same second: host2 pulled them in the directory's order)
eqv "host2: the old certificate in grace, the new one active" "certificate:active certificate:grace" \
	"$(pyjson '" ".join(sorted(c["kind"] + ":" + c["state"] for c in d))')"

# ---- suspend, resume, retire -------------------------------------------------------------
expect 0 "suspend svc-p" nhictl suspend svc-p
check "suspended: no password binds" bash -c '! ldapwhoami -x -H "$1" -D "$2" -w "$3" >/dev/null 2>&1' _ \
	"$SLAPD_LDAPI_URI" "uid=svc-p,$B" "$P4"
eqv "directory: no userPassword while suspended" 0 "$(npw svc-p)"
expect 0 "host2 syncs the suspension" h2 sync
eqv "host2: no hash of the suspended svc-p in nhi.shadow" 0 "$(grep -c '^svc-p ' "$ST2/nhi.shadow")"
expect 0 "resume svc-p" nhictl resume svc-p
check "resumed: the current password binds again" bind svc-p "$P4"
check "resumed: the one in its grace too" bind svc-p "$P3"
expect 0 "retire svc-t" nhictl retire svc-t
eqv "directory: every credential entry of a retired identity revoked" "revoked revoked" \
	"$(ldap_admin ldapsearch -b "uid=svc-t,$B" -s one '(objectClass=nhiCredential)' nhiState | sed -n 's/^nhiState: //p' | paste -sd' ')"
expect 0 "host2 syncs the retirement" h2 sync
fails cred 1 "host2: the retired identity's token is refused" "not valid" h2 cred verify svc-t <<<"$T1"
expect 0 "host2: no keys for it" h2 authorized-keys svc-t
eqv "host2: nothing served" "" "$(cat "$T/out")"
expect 0 "retire svc-q" nhictl retire svc-q
check "retired: no password binds" bash -c '! ldapwhoami -x -H "$1" -D "$2" -w "$3" >/dev/null 2>&1' _ \
	"$SLAPD_LDAPI_URI" "uid=svc-q,$B" "$Q2"

# ---- no secret anywhere but its holder -------------------------------------------------------
ldap_admin ldapsearch -b "$B" '(objectClass=*)' '*' + > "$T/dump.ldif"
n=0; found=0
while IFS= read -r s; do
	[ -n "$s" ] || continue
	n=$((n + 1))
	for f in "$T/dump.ldif" "$ST/registry.db" "$ST/registry.db-wal" "$ST/nhi.cache" "$ST/nhi.cache.delta" "$ST2/registry.db" "$ST2/registry.db-wal" "$ST2/nhi.cache" "$ST2/nhi.cache.delta" "$SLAPD_DIR/slapd.log"; do
		[ -f "$f" ] && grep -qF -- "$s" "$f" && { found=1; echo "# secret found in $f"; }
	done
done < <(grep -v '^-----' "$SECRETS" | grep '.\{16,\}')
check "no issued secret ($n checked) in the directory, the registries, the snapshots or slapd's log" [ "$found" = 0 ]
finish

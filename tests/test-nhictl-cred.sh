#!/bin/bash
# Credentials end to end with the real nhictl: issuing each kind, listing,
# revoking, verifying (tokens, tampered tokens, passwords), the caps on
# not-after, --out files, rotation with a grace window, a concurrent
# rotation refused, interrupted rotations rolled back on the next run,
# suspend/retire, a certificate checked with `openssl verify`, and no
# issued secret anywhere in the state directory or on stderr.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"

command -v openssl >/dev/null || { echo "# skip: no openssl"; exit 77; }
command -v ssh-keygen >/dev/null || { echo "# skip: no ssh-keygen"; exit 77; }
ST=$T/state
SECRETS=$T/secrets      # every secret issued, one line each (private keys: each line)
ERRS=$T/stderr.all      # every stderr of nhictl, checked for secrets at the end
: >"$SECRETS"; : >"$ERRS"
keep_err() { cat "$T/err" >>"$ERRS"; }
secret_of() { cat "$T/out" >>"$SECRETS"; }   # stdout is the secret (no --json)
epoch() { python3 -c "import calendar,time,sys; print(calendar.timegm(time.strptime(sys.argv[1],'%Y-%m-%dT%H:%M:%SZ')))" "$1"; }

# a throwaway CA, its key root-only
openssl req -x509 -newkey ed25519 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" \
	-subj "/CN=nhi test CA" -days 30 2>/dev/null || { echo "not ok - make a CA"; exit 1; }
chmod 600 "$T/ca.key"
cat >>"$NHI_CONF" <<C
ca_cert = $T/ca.pem
ca_key = $T/ca.key
max_credential_age = 40d
cert_lifetime = 2d
rotation_grace = 1h
C

expect 0 "create svc-a" nhictl create svc-a --owner alice --expires +60d
expect 0 "create svc-b" nhictl create svc-b --owner dave --expires +60d
expect 0 "create svc-short (expires in 5 days)" nhictl create svc-short --owner alice --expires +5d
UID_A=$(nhictl show svc-a --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["uid"], d["gid"])')

# ---- a fresh host: a key index that holds no key yet ----
# (its header alone, "# nhi-keys 1 N" with a one-digit N, 15 bytes)
check "the key index is its header alone" test "$(wc -c <"$ST/authorized_keys.idx")" -le 16
expect 0 "authorized-keys with no key issued: nothing, exit 0 (not 'bad size')" nhictl authorized-keys svc-a
eqv "  ... no key printed, nothing said" "" "$(cat "$T/out" "$T/err")"

# ---- help and usage ----
for v in cred rotate authorized-keys; do
	expect 0 "$v --help" nhictl "$v" --help
	has out "$v --help is its usage" "usage: nhictl $v"
done
fails cred 2 "cred add without --kind" "--kind is required" nhictl cred add svc-a
fails cred 2 "cred add --kind bogus" "bad --kind 'bogus'" nhictl cred add svc-a --kind bogus
fails cred 2 "unknown sub-command" "unknown sub-command 'frob'" nhictl cred frob svc-a
fails cred 2 "revoke without ID" "missing credential ID" nhictl cred revoke svc-a
fails cred 2 "--kind with list" "are for 'cred add'" nhictl cred list svc-a --kind token
fails cred 2 "relative --out" "bad --out" nhictl cred add svc-a --kind token --out rel/file
fails cred 2 "bad --expires" "bad --expires 'soonish'" nhictl cred add svc-a --kind token --expires soonish
fails cred 1 "unknown identity" "no identity 'nobody-here'" nhictl cred add nobody-here --kind token
fails rotate 2 "rotate bad --grace" "bad --grace 'x'" nhictl rotate svc-a --grace x
fails rotate 1 "rotate with no credential" "has no active credential" nhictl rotate svc-a

# ---- password ----
expect 0 "cred add password" nhictl cred add svc-a --kind password
secret_of; keep_err
PW=$(cat "$T/out")
check "password: one line of 32 characters" test "${#PW}" -eq 32 -a "$(wc -l <"$T/out")" -eq 1
has err "the note names the credential, not the secret" 'issued password c[0-9a-f]{12}, not after'
expect 0 "cred verify the password" nhictl cred verify svc-a <<<"$PW"
has out "verify names the credential" '^svc-a: valid \(password c[0-9a-f]{12}, active\)$'
keep_err
[ "${PW: -1}" = x ] && repl=y || repl=x
fails cred 1 "a wrong password (last character changed)" \
	"svc-a: not valid: no credential of this identity matches" nhictl cred verify svc-a <<<"${PW%?}$repl"
fails cred 1 "empty stdin" "no secret on stdin" nhictl cred verify svc-a </dev/null
fails cred 1 "the password of svc-a is not svc-b's" "not valid" nhictl cred verify svc-b <<<"$PW"

# ---- token ----
expect 0 "cred add token" nhictl cred add svc-a --kind token
secret_of; keep_err
TOK=$(cat "$T/out")
check "token looks like nhi_<id>_<secret><crc>" grep -Eq '^nhi_[0-9A-Za-z]{12}_[0-9A-Za-z]+$' "$T/out"
TOKID=$(echo "$TOK" | cut -c5-16)
check "pepper file created root-only" test "$(stat -c '%a %u' "$ST/token.pepper")" = "600 0"
expect 0 "cred verify the token" nhictl cred verify svc-a --json <<<"$TOK"
eqv "verify --json: valid" True "$(pyjson 'd["valid"]')"
eqv "verify --json: the token's id" "$TOKID" "$(pyjson 'd["id"]')"
eqv "verify --json: no reason when valid" None "$(pyjson 'd["reason"]')"
# one character changed anywhere: the checksum catches it before any lookup
last=${TOK: -1}; [ "$last" = a ] && repl=b || repl=a
fails cred 1 "a tampered token fails (last character)" "not valid" nhictl cred verify svc-a <<<"${TOK%?}$repl"
mid=$(( ${#TOK} / 2 )); c=${TOK:$mid:1}; [ "$c" = a ] && repl=b || repl=a
fails cred 1 "a tampered token fails (middle character)" "not valid" \
	nhictl cred verify svc-a <<<"${TOK:0:$mid}$repl${TOK:$((mid+1))}"
fails cred 1 "svc-a's token is not svc-b's" "no credential of this identity matches" \
	nhictl cred verify svc-b <<<"$TOK"

# ---- ssh-key ----
expect 0 "cred add ssh-key" nhictl cred add svc-a --kind ssh-key
keep_err
grep -v -- '-----' "$T/out" >>"$SECRETS"
cp "$T/out" "$T/svc-a.key"; chmod 600 "$T/svc-a.key"
check "an OpenSSH private key" grep -q 'BEGIN OPENSSH PRIVATE KEY' "$T/svc-a.key"
expect 0 "cred list --json" nhictl cred list svc-a --json
SSHPUB=$(pyjson '[c["public"] for c in d if c["kind"]=="ssh-key"][0]')
SSHFP=$(pyjson '[c["fingerprint"] for c in d if c["kind"]=="ssh-key"][0]')
eqv "the public key stored is the private key's" "$(ssh-keygen -y -f "$T/svc-a.key" | cut -d' ' -f1-2)" \
	"$(echo "$SSHPUB" | cut -d' ' -f1-2)"
eqv "the fingerprint is ssh-keygen's" "$(ssh-keygen -lf "$T/svc-a.key" | cut -d' ' -f2)" "$SSHFP"
check "ed25519" test "${SSHPUB%% *}" = ssh-ed25519

# ---- certificate, with --out ----
expect 0 "cred add certificate --out" nhictl cred add svc-a --kind certificate --out "$T/svc-a.pem"
keep_err
has out "stdout says where the secret went" 'issued certificate c[0-9a-f]{12} SHA256:[0-9A-Fa-f:]+, not after .*, written to '
check "no secret on stdout with --out" bash -c "! grep -q 'PRIVATE KEY' '$T/out'"
eqv "--out file: mode 0600, owned by the identity" "600 $UID_A" "$(stat -c '%a %u %g' "$T/svc-a.pem")"
grep -v -- '-----' "$T/svc-a.pem" | sed -n '/./p' | tail -n 1 >>"$SECRETS"  # the key's line
openssl x509 -in "$T/svc-a.pem" -out "$T/svc-a.crt" 2>/dev/null
expect 0 "openssl verify against the test CA" openssl verify -CAfile "$T/ca.pem" "$T/svc-a.crt"
has out "the certificate verifies" ': OK$'
check "the certificate's key is in the file" grep -q 'PRIVATE KEY' "$T/svc-a.pem"
check "CN is the identity's name" bash -c "openssl x509 -in '$T/svc-a.crt' -noout -subject | grep -q 'CN *= *svc-a'"
expect 0 "cred list --json" nhictl cred list svc-a --json
CERT_NA=$(pyjson '[c["not_after"] for c in d if c["kind"]=="certificate"][0]')
eqv "the certificate's notAfter is the credential's not-after" "$(epoch "$CERT_NA")" \
	"$(date -u -d "$(openssl x509 -in "$T/svc-a.crt" -noout -enddate | cut -d= -f2)" +%s)"
CREATED=$(pyjson '[c["created"] for c in d if c["kind"]=="certificate"][0]')
eqv "a certificate lives cert_lifetime (2d) by default" 172800 $(( $(epoch "$CERT_NA") - $(epoch "$CREATED") ))
eqv "the serial is recorded" "$(openssl x509 -in "$T/svc-a.crt" -noout -serial | cut -d= -f2 | tr A-F a-f | sed 's/^0*//')" \
	"$(pyjson '[c["serial"] for c in d if c["kind"]=="certificate"][0]' | tr A-F a-f | tr -d : | sed 's/^0*//')"
expect 0 "cred list (text)" nhictl cred list svc-a
has out "text list has a header" '^ID +KIND +STATE +CREATED +NOT_AFTER +GRACE_UNTIL +LAST_USED +USES +FINGERPRINT'
eqv "four credentials listed" 4 "$(($(wc -l <"$T/out") - 1))"

# ---- caps: identity expiry, max_credential_age ----
expect 0 "token for svc-short, --expires past the identity" \
	nhictl cred add svc-short --kind token --expires +10d --json
keep_err
pyjson 'd["secret"]' >>"$SECRETS"
has err "a note says it was capped" "capped at the expiry of 'svc-short'"
eqv "not-after capped at the identity's expiry" "$(nhictl show svc-short --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["expires"])')" \
	"$(pyjson 'd["not_after"]')"
fails cred 1 "--expires beyond max_credential_age refused" "beyond max_credential_age" \
	nhictl cred add svc-a --kind token --expires +41d
expect 0 "default not-after: max_credential_age" nhictl cred list svc-a --json
na=$(pyjson '[c["not_after"] for c in d if c["kind"]=="token"][0]')
cr=$(pyjson '[c["created"] for c in d if c["kind"]=="token"][0]')
eqv "a token lives max_credential_age (40d)" 3456000 $(( $(epoch "$na") - $(epoch "$cr") ))
expect 0 "extend svc-short to +1d" nhictl extend svc-short --expires +1d
expect 0 "cred list svc-short" nhictl cred list svc-short --json
eqv "shortening the identity caps its credentials" "$(nhictl show svc-short --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["expires"])')" \
	"$(pyjson 'd[0]["not_after"]')"

# ---- revoke ----
expect 0 "revoke the password" nhictl cred revoke svc-a "$(nhictl cred list svc-a --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["kind"]=="password"][0])')"
has out "revoked" 'revoked$'
fails cred 1 "a revoked password no longer verifies" "not valid" nhictl cred verify svc-a <<<"$PW"
PWID=$(nhictl cred list svc-a --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["kind"]=="password"][0])')
expect 0 "revoking it again changes nothing" nhictl cred revoke svc-a "$PWID"
has out "says so" 'already revoked'
expect 0 "revoke --json (again)" nhictl cred revoke svc-a "$PWID" --json
eqv "revoke --json: the credential, unchanged" "svc-a $PWID password revoked False" \
	"$(pyjson '" ".join(str(d[k]) for k in ("name","id","kind","state","changed"))')"
fails cred 1 "revoke an unknown ID" "has no credential 'cdeadbeef0000'" nhictl cred revoke svc-a cdeadbeef0000
expect 0 "issue svc-b a token to revoke with --json" nhictl cred add svc-b --kind token --out "$T/tok-j"
TJ=$(nhictl cred list svc-b --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["kind"]=="token" and c["state"]=="active"][-1])')
expect 0 "cred revoke --json" nhictl cred revoke svc-b "$TJ" --json
eqv "revoke --json: revoked now" "$TJ token revoked True" \
	"$(pyjson '" ".join(str(d[k]) for k in ("id","kind","state","changed"))')"
check "revoke --json: revoked_at is set" python3 -c "import json,sys; sys.exit(not json.load(open('$T/out'))['revoked_at'])"
expect 0 "the token still verifies" nhictl cred verify svc-a <<<"$TOK"

# ---- rotation with a grace window ----
expect 0 "create svc-r" nhictl create svc-r --owner alice --expires +60d
expect 0 "svc-r token" nhictl cred add svc-r --kind token
secret_of; keep_err; OLD=$(cat "$T/out")
expect 0 "rotate svc-r --grace 3s" nhictl rotate svc-r --grace 3s
secret_of; keep_err; NEW=$(cat "$T/out")
has err "rotate names the new credential" 'rotated to token [0-9A-Za-z]{12}'
check "the new token differs" test "$OLD" != "$NEW"
expect 0 "during the grace: the old token verifies" nhictl cred verify svc-r <<<"$OLD"
has out "as grace" 'grace\)$'
expect 0 "during the grace: the new token verifies" nhictl cred verify svc-r <<<"$NEW"
expect 0 "cred list svc-r" nhictl cred list svc-r --json
eqv "states: grace then active" "grace active" "$(pyjson '" ".join(c["state"] for c in d)')"
eqv "the new one replaces the old" "$(pyjson 'd[0]["id"]')" "$(pyjson 'd[1]["replaces"]')"
fails rotate 1 "a credential in grace is not rotated" "only an active credential" \
	nhictl rotate svc-r --cred "$(pyjson 'd[0]["id"]')"
sleep 4
fails cred 1 "after the grace: the old token fails" "is revoked" nhictl cred verify svc-r <<<"$OLD"
expect 0 "after the grace: the new token verifies" nhictl cred verify svc-r <<<"$NEW"
expect 0 "the next write records the end of the grace" nhictl cred add svc-b --kind password
secret_of; keep_err
expect 0 "log" nhictl log --json
check "audit: grace ended, revoked" python3 -c "
import json,sys; d=json.load(open('$T/out'))
sys.exit(not any(e['action']=='cred-revoke' and 'grace ended' in e['detail'] and e['target']=='svc-r' for e in d))"
check "audit: rotate names ids only" python3 -c "
import json,sys; d=json.load(open('$T/out'))
sys.exit(not any(e['action']=='rotate' and e['outcome']=='ok' and '->' in e['detail'] for e in d))"
expect 0 "rotate --grace 0s: the old one revoked at once" nhictl rotate svc-r --grace 0s
secret_of; keep_err; NEW2=$(cat "$T/out")
fails cred 1 "the previous token is revoked" "not valid" nhictl cred verify svc-r <<<"$NEW"
expect 0 "the new one verifies" nhictl cred verify svc-r <<<"$NEW2"
expect 0 "rotate --out" nhictl rotate svc-r --out "$T/svc-r.tok" --grace 1h
eqv "rotate --out: 0600, the identity's" "600 $(nhictl show svc-r --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["uid"], d["gid"])')" \
	"$(stat -c '%a %u %g' "$T/svc-r.tok")"
cat "$T/svc-r.tok" >>"$SECRETS"
expect 0 "the token from the file verifies" nhictl cred verify svc-r <"$T/svc-r.tok"
# a grace past the credential's not_after or the identity's expiry (svc-r:
# +60d) ends with the earlier, said
expect 0 "cred list svc-r --json" nhictl cred list svc-r --json
NA=$(pyjson '[c for c in d if c["state"] == "active"][0]["not_after"]')
EXP=$(nhictl show svc-r --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["expires"])')
END=$(printf '%s\n%s\n' "$NA" "$EXP" | sort | head -1)
nrun nhictl rotate svc-r --grace 400d
eqv "rotate --grace 400d on an identity that expires in 60 days: exit 0" 0 "$rc"
secret_of; keep_err
has err "... warns that the grace ends earlier, and when" \
	"^nhictl: rotate: warning: --grace reaches past the (credential's not_after|identity's expiry) \([0-9-]+T[0-9:]+Z\): the old credential's grace ends then$"
expect 0 "cred list svc-r --json" nhictl cred list svc-r --json
eqv "... the old credential's grace_until is its not_after or the expiry ($NA, $EXP), not 400 days on" "$END" \
	"$(pyjson 'max((c for c in d if c["state"] == "grace"), key=lambda c: c["grace_until"])["grace_until"]')"
nrun nhictl rotate svc-r --grace 1h
secret_of; keep_err
eqv "a grace within the expiry: no warning" "0 " "$rc $(grep -c warning "$T/err" | grep -v '^0$')"
fails rotate 1 "three active credentials: --cred needed" "has 3 active credentials: name one with --cred" \
	nhictl rotate svc-a

# passwords and certificates rotate the same way
expect 0 "create svc-p" nhictl create svc-p --owner alice --expires +60d
expect 0 "svc-p password" nhictl cred add svc-p --kind password
secret_of; keep_err; P1=$(cat "$T/out")
expect 0 "rotate the password" nhictl rotate svc-p --grace 1h
secret_of; keep_err; P2=$(cat "$T/out")
expect 0 "old password valid during the grace" nhictl cred verify svc-p <<<"$P1"
expect 0 "new password valid" nhictl cred verify svc-p <<<"$P2"
PID2=$(nhictl cred list svc-p --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["kind"]=="password" and c["state"]=="active"][0])')
expect 0 "rotate the password again, no grace" nhictl rotate svc-p --grace 0s
secret_of; keep_err; P3=$(cat "$T/out")
fails cred 1 "a revoked password is named as such (as a token is)" \
	"svc-p: not valid: credential $PID2 is revoked$" nhictl cred verify svc-p <<<"$P2"
expect 0 "the newest password valid" nhictl cred verify svc-p <<<"$P3"
expect 0 "svc-p certificate" nhictl cred add svc-p --kind certificate --out "$T/p1.pem"
grep -v -- '-----' "$T/p1.pem" | sed -n '/./p' | tail -n 1 >>"$SECRETS"
CID=$(nhictl cred list svc-p --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["kind"]=="certificate"][0])')
expect 0 "rotate the certificate" nhictl rotate svc-p --cred "$CID" --out "$T/p2.pem"
grep -v -- '-----' "$T/p2.pem" | sed -n '/./p' | tail -n 1 >>"$SECRETS"
openssl x509 -in "$T/p2.pem" -out "$T/p2.crt" 2>/dev/null
expect 0 "the new certificate verifies against the CA" openssl verify -CAfile "$T/ca.pem" "$T/p2.crt"
check "with a new serial" test "$(openssl x509 -in "$T/p1.pem" -noout -serial)" != "$(openssl x509 -in "$T/p2.crt" -noout -serial)"

# ---- a concurrent rotation is refused, not interleaved ----
expect 0 "create svc-c" nhictl create svc-c --owner alice --expires +60d
expect 0 "svc-c token" nhictl cred add svc-c --kind token
secret_of; keep_err; C1=$(cat "$T/out")
G=$(gate_new rot1)
(ulimit -S -c unlimited 2>/dev/null
 NHI_TEST_FAULT_GATE=$G NHI_TEST_FAULT=rotate-after-journal-pause nhictl_t rotate svc-c) \
	>"$T/rot1.out" 2>"$T/rot1.err" &
rot1=$!
gate_wait "$G" || nok "the first rotation reaches its pause"
eqv "the first rotation is pending" 1 \
	"$(nhictl cred list svc-c --json 2>/dev/null | grep -c '"rotation_pending": *true')"
fails rotate 1 "a second rotation of the same credential is refused" "already in progress: refused" \
	nhictl rotate svc-c
# a process that holds secrets dumps no core (started with the limit raised)
rpid=$(pgrep -n -f "$NHICTL_FAULTY rotate svc-c")
eqv "no core dumps while holding the secret (RLIMIT_CORE 0)" 0 \
	"$(prlimit --pid "$rpid" --core --noheadings -o SOFT 2>&1 | tr -d ' ')"
gate_open "$G"
wait $rot1; rc1=$?
eqv "the first rotation completes" 0 "$rc1"
cat "$T/rot1.out" >>"$SECRETS"; cat "$T/rot1.err" >>"$ERRS"
expect 0 "its new token verifies" nhictl cred verify svc-c <"$T/rot1.out"
# wiped after use: a core of a finished rotation (taken by gdb while it
# waits at its end) holds neither the new token nor the new password
core_check() {   # CRED-ID KIND
	local pid f
	NHI_TEST_FAULT=rotate-done-pause nhictl_t rotate svc-core --cred "$1" --grace 1h \
		>"$T/rotcore.out" 2>>"$ERRS" &
	pid=$!
	for i in $(seq 40); do
		[ -s "$T/rotcore.out" ] && break
		sleep 0.1
	done
	sleep 0.5
	rm -f "$T"/dump.*
	# (at most 1 GiB: a core of the plain build is some 20 MB)
	( ulimit -f 1048576; gcore -o "$T/dump" "$(pgrep -n -f "$NHICTL_FAULTY rotate svc-core" || echo "$pid")" ) >/dev/null 2>&1
	wait "$pid"
	f=$(ls "$T"/dump.[0-9]* 2>/dev/null | head -1)
	cat "$T/rotcore.out" >>"$SECRETS"
	if [ -z "$f" ]; then
		echo "# gcore could not dump nhictl here (no ptrace): not checked"
		return
	fi
	check "the new $2 was handed over" test -s "$T/rotcore.out"
	# its last 20 characters: free() reuses a chunk's first bytes, so an
	# unwiped secret would survive only in part
	head -n1 "$T/rotcore.out" | tr -d '\n' | tail -c 20 >"$T/rotcore.tail"
	check "a core of nhictl after handing over a $2 does not hold it" \
		bash -c '! grep -aqF -f "$1" "$2"' _ "$T/rotcore.tail" "$f"
	rm -f "$f"
}
cred_of() { nhictl cred list svc-core --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["kind"]==sys.argv[1] and c["state"]=="active"][0])' "$1"; }
if [ -n "${NHI_ASAN_LIB:-}" ]; then
	# a sanitizer build maps terabytes of shadow memory, which gcore
	# would write out as zeros: the plain build's run checks the core
	echo "# sanitizer build: the core-dump check runs in the plain build"
elif command -v gcore >/dev/null 2>&1; then
	expect 0 "create svc-core" nhictl create svc-core --owner alice --expires +60d
	expect 0 "svc-core token" nhictl cred add svc-core --kind token
	secret_of
	expect 0 "svc-core password" nhictl cred add svc-core --kind password
	secret_of
	core_check "$(cred_of token)" token
	core_check "$(cred_of password)" password
else
	nok "gcore (gdb) is not installed: scripts/deps.sh test installs it"
fi
expect 0 "cred list svc-c" nhictl cred list svc-c --json
eqv "exactly one new credential" "grace active" "$(pyjson '" ".join(c["state"] for c in d)')"

# ---- an interrupted rotation is rolled back on the next run ----
expect 0 "create svc-i" nhictl create svc-i --owner alice --expires +60d
expect 0 "svc-i token" nhictl cred add svc-i --kind token
secret_of; keep_err; I1=$(cat "$T/out")
NHI_TEST_FAULT=rotate-after-journal-crash nhictl_t rotate svc-i >"$T/out" 2>"$T/err"; rc=$?
keep_err
eqv "killed after journaling the intent" 137 "$rc"
check "nothing handed over" test ! -s "$T/out"
expect 0 "cred list shows the pending rotation" nhictl cred list svc-i --json
eqv "rotation pending" True "$(pyjson 'd[0]["rotation_pending"]')"
expect 0 "the old token still works meanwhile" nhictl cred verify svc-i <<<"$I1"
expect 0 "the next run: rotate again" nhictl rotate svc-i --grace 1h
secret_of; keep_err; I2=$(cat "$T/out")
has err "with a message: rolled back" "rolled back the interrupted rotation of svc-i credential"
expect 0 "the old token still works" nhictl cred verify svc-i <<<"$I1"
expect 0 "the new token works" nhictl cred verify svc-i <<<"$I2"
# killed after the secret was printed, before it was made valid
NHI_TEST_FAULT=rotate-after-handover-crash nhictl_t rotate svc-i --cred "$(nhictl cred list svc-i --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["state"]=="active"][0])')" >"$T/out" 2>"$T/err"; rc=$?
keep_err; secret_of; I3=$(cat "$T/out")
eqv "killed after the hand-over" 137 "$rc"
expect 0 "the next run (cred add) completes it: the holder has the new secret" \
	nhictl cred add svc-i --kind password
secret_of; keep_err
has err "rolled forward, naming both" "rolled forward the interrupted rotation of svc-i credential .*: .* is valid"
expect 0 "the handed-over secret is valid" nhictl cred verify svc-i <<<"$I3"
expect 0 "the one it replaces works for its grace" nhictl cred verify svc-i <<<"$I2"
expect 0 "cred list svc-i" nhictl cred list svc-i --json
eqv "the new one and the password active, the two before it in grace" "active active grace grace" \
	"$(pyjson '" ".join(sorted(c["state"] for c in d))')"
# a hand-over that fails (never journaled as handed over): nobody can be
# sure to have the secret, so it is rolled back at once
NHI_TEST_FAULT=rotate-handover-fail nhictl_t rotate svc-i --cred "$(echo "$I3" | cut -c5-16)" >"$T/out" 2>"$T/err"; rc=$?
keep_err
eqv "a failed hand-over: exit 1" 1 "$rc"
expect 0 "the handed-over secret still works" nhictl cred verify svc-i <<<"$I3"
expect 0 "log" nhictl log --json
check "audit: the roll-back and the roll-forward are recorded" python3 -c "
import json,sys; d=json.load(open('$T/out'))
n = lambda o: sum(1 for e in d if e['action']=='rotate' and e['outcome']==o and e['target']=='svc-i')
sys.exit(not (n('rolled-back') == 1 and n('rolled-forward') == 1))"
# a directory backend resolves a pending row from what the directory shows;
# the test faults recover-forward / recover-unknown stand in for its answers
expect 0 "create svc-f" nhictl create svc-f --owner alice --expires +60d
expect 0 "svc-f token" nhictl cred add svc-f --kind token
secret_of; keep_err; F1=$(cat "$T/out")
NHI_TEST_FAULT=rotate-after-handover-crash nhictl_t rotate svc-f --grace 1h >"$T/out" 2>"$T/err"; rc=$?
keep_err; secret_of; F2=$(cat "$T/out")
eqv "killed after the hand-over" 137 "$rc"
NHI_TEST_FAULT=recover-forward nhictl_t cred add svc-b --kind password >"$T/out" 2>"$T/err"; rc=$?
keep_err; secret_of
eqv "the next run, told the swap happened" 0 "$rc"
has err "rolls forward" "rolled forward the interrupted rotation of svc-f credential"
expect 0 "the handed-over token is valid" nhictl cred verify svc-f <<<"$F2"
expect 0 "the old one is valid for its grace" nhictl cred verify svc-f <<<"$F1"
has out "in grace" 'grace\)$'
NHI_TEST_FAULT=rotate-after-journal-crash nhictl_t rotate svc-f --cred "$(echo "$F2" | cut -c5-16)" >/dev/null 2>&1
NHI_TEST_FAULT=recover-unknown nhictl_t cred add svc-b --kind password >"$T/out" 2>"$T/err"
keep_err; secret_of
has err "unresolved: kept for the next run" "cannot be resolved yet \(attempt 1 of 3\)"
NHI_TEST_FAULT=recover-unknown nhictl_t rotate svc-f --cred "$(echo "$F2" | cut -c5-16)" >"$T/out" 2>"$T/err"; rc=$?
keep_err
eqv "meanwhile no new rotation of that credential" 1 "$rc"
has err "unresolved again, attempt 2" "cannot be resolved yet \(attempt 2 of 3\)"
has err "and the new rotation is refused" "already in progress: refused"
NHI_TEST_FAULT=recover-unknown nhictl_t cred add svc-b --kind password >"$T/out" 2>"$T/err"
keep_err; secret_of
has err "the retries are bounded: set aside" "could not be resolved in 3 attempts: set aside as failed"
expect 0 "the token it was to replace still works" nhictl cred verify svc-f <<<"$F2"
expect 0 "and can be rotated again" nhictl rotate svc-f --cred "$(echo "$F2" | cut -c5-16)"
secret_of; keep_err

# a failing step: exit 1, rolled back at once, the old credential untouched
TOKI=$(nhictl cred list svc-i --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["state"]=="active" and c["kind"]=="token"][0])')
NHI_TEST_FAULT=rotate-directory-fail nhictl_t rotate svc-i --cred "$TOKI" >"$T/out" 2>"$T/err"; rc=$?
keep_err
eqv "a failed directory step exits 1" 1 "$rc"
has err "and says it was rolled back" "failed at 'directory' and was rolled back"
NHI_TEST_FAULT=rotate-handover-fail nhictl_t rotate svc-i --cred "$TOKI" >"$T/out" 2>"$T/err"; rc=$?
keep_err
eqv "a failed hand-over exits 1" 1 "$rc"
expect 1 "--out into a missing directory fails" nhictl rotate svc-i --cred "$TOKI" --out "$T/no/such/dir/f"
keep_err
has err "and is rolled back" "failed at 'handover' and was rolled back"
expect 0 "after three failed rotations the old token works" nhictl cred verify svc-i <<<"$I2"
expect 0 "cred list svc-i" nhictl cred list svc-i --json
eqv "no rotation pending, nothing added" "False 0" \
	"$(pyjson 'str(any(c["rotation_pending"] for c in d)) + " " + str(sum(1 for c in d if c["replaces"]=="'"$TOKI"'"))')"

# ---- the identity and its owner rule ----
expect 0 "suspend svc-a" nhictl suspend svc-a
fails cred 1 "a suspended identity's token is refused" "not valid: identity svc-a is suspended" \
	nhictl cred verify svc-a <<<"$TOK"
fails cred 1 "no credential for a suspended identity" "refused: identity svc-a is suspended" \
	nhictl cred add svc-a --kind token
expect 0 "resume svc-a" nhictl resume svc-a
expect 0 "resumed: the token works again" nhictl cred verify svc-a <<<"$TOK"
cp "$T/etc/shadow" "$T/shadow.orig"
sed -i 's/^alice:/alice:!/' "$T/etc/shadow"
fails rotate 1 "rotation refused while the owner is not live" "owner 'alice' is locked" \
	nhictl rotate svc-r --cred "$(nhictl cred list svc-r --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["state"]=="active"][0])')"
fails cred 1 "verify refuses while the owner is not live" "not valid: .*locked" \
	nhictl cred verify svc-a <<<"$TOK"
cp "$T/shadow.orig" "$T/etc/shadow"
expect 0 "retire svc-a" nhictl retire svc-a --reason done
expect 0 "log" nhictl log --json
check "retire's audit event counts the revoked credentials" python3 -c "
import json,sys; d=json.load(open('$T/out'))
sys.exit(not any(e['action']=='retire' and '3 credentials revoked' in e['detail'] for e in d))"
expect 0 "cred list svc-a" nhictl cred list svc-a --json
eqv "every credential of a retired identity is revoked" "revoked revoked revoked revoked" \
	"$(pyjson '" ".join(c["state"] for c in d)')"
fails cred 1 "a retired identity's token is refused" "not valid" nhictl cred verify svc-a <<<"$TOK"

# ---- what pam_nhi logs (pam_syslog, shown by pam_wrapper at debug level
# 3) for identities holding credentials, with an issued password typed at
# every prompt: the account, session and (refused) password phases ----
PWRAP=$(ldconfig -p | awk '/libpam_wrapper.so / {print $NF; exit}')
if [ -n "$PWRAP" ] && command -v pamtester >/dev/null 2>&1; then
	mkdir -p "$T/pam.d"
	for ph in account session password; do
		echo "$ph required $PAM_NHI_SO config=$NHI_CONF debug"
	done > "$T/pam.d/sshd"
	preload=$PWRAP:libnss_wrapper.so
	[ -n "${NHI_ASAN_LIB:-}" ] && preload=$NHI_ASAN_LIB:$preload
	pw1=$(grep -m1 -x '[A-Za-z0-9]\{32\}' "$SECRETS")
	for n in svc-a svc-p svc-c svc-core; do
		for op in acct_mgmt open_session chauthtok; do
			printf '%s\n%s\n%s\n' "$pw1" "$pw1" "$pw1" |
			LD_PRELOAD=$preload PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$T/pam.d \
			PAM_WRAPPER_DEBUGLEVEL=3 \
			NSS_WRAPPER_PASSWD=$T/etc/passwd NSS_WRAPPER_GROUP=$T/etc/group \
			NSS_WRAPPER_MODULE_SO_PATH=$NSS_NHI_DIR/libnss_nhi.so.2 NSS_WRAPPER_MODULE_FN_PREFIX=nhi \
			ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0:detect_leaks=0 \
			pamtester -v sshd "$n" "$op" 2>&1
		done
	done | grep -v '^PWRAP_TRACE' > "$T/pamlog.txt"
	check "pam_nhi logged its decisions (pam_syslog through pam_wrapper)" grep -q 'user=svc-a' "$T/pamlog.txt"
	sed -i '/^$/d' "$SECRETS"
	check "no issued secret in what pam_nhi logs" bash -c '! grep -aqF -f "$1" "$2"' _ "$SECRETS" "$T/pamlog.txt"
else
	nok "pam_wrapper and pamtester are needed (scripts/deps.sh test installs them)"
fi

# ---- no secret anywhere it should not be ----
check "secrets were collected" test "$(wc -l <"$SECRETS")" -ge 15
sed -i '/^$/d' "$SECRETS"
leaks=""
for f in "$ST"/* "$ERRS"; do
	[ -f "$f" ] || continue
	if grep -aqF -f "$SECRETS" "$f"; then leaks="$leaks $(basename "$f")"; fi
done
check "no issued secret in the state dir (registry, WAL, snapshot, key index, usage log) or stderr${leaks:+ (found in:$leaks)}" \
	test -z "$leaks"
for n in svc-a svc-b svc-short svc-r svc-p svc-c svc-i svc-f; do
	nhictl cred list "$n" --json
	nhictl show "$n" --json
done >"$T/lists.txt" 2>&1
check "no issued secret in what cred list and show print" bash -c "! grep -aqF -f '$SECRETS' '$T/lists.txt'"
nhictl log >"$T/log.txt" 2>&1
check "no issued secret in the audit log" bash -c "! grep -aqF -f '$SECRETS' '$T/log.txt'"
check "the audit log chain is intact" nhictl log --verify

# ---- the key index after a grace ended: a publish drops the old key ----
expect 0 "create svc-kx" nhictl create svc-kx --owner alice --expires +30d
expect 0 "an ssh-key for svc-kx" nhictl cred add svc-kx --kind ssh-key --out "$T/kx1"
expect 0 "rotate it with a 2s grace" nhictl rotate svc-kx --grace 2s --out "$T/kx2"
eqv "during the grace the index holds both" 2 "$(grep -c '^svc-kx ' "$ST/authorized_keys.idx")"
kx1=$(awk '$1 == "svc-kx" && $2 != 0 { print $5 }' "$ST/authorized_keys.idx")
check "the old key is the one in grace" test -n "$kx1"
sleep 3
expect 0 "publish after the grace (no other write)" nhictl publish
eqv "the index holds only the new key" 1 "$(grep -c '^svc-kx ' "$ST/authorized_keys.idx")"
check "... not the old one" bash -c "! grep -qF '$kx1' '$ST/authorized_keys.idx'"

# ---- extend caps a credential without an end (an older registry's) ----
expect 0 "a token for svc-kx" nhictl cred add svc-kx --kind token --out "$T/kx.tok"
sqlite3 "$ST/registry.db" "UPDATE credential SET not_after = 0 WHERE kind = 'token' AND identity_id = (SELECT id FROM identity WHERE name = 'svc-kx')"
expect 0 "extend svc-kx to +2d" nhictl extend svc-kx --expires +2d
eqv "the token now ends with the identity" "$(sqlite3 "$ST/registry.db" "SELECT expires FROM identity WHERE name = 'svc-kx'")" \
	"$(sqlite3 "$ST/registry.db" "SELECT not_after FROM credential WHERE kind = 'token' AND identity_id = (SELECT id FROM identity WHERE name = 'svc-kx')")"
finish

#!/bin/bash
# SSH logins with keys issued by nhictl, end to end: a real sshd on
# 127.0.0.1 whose AuthorizedKeysCommand is the built nhi-authorized-keys
# (what `nhictl authorized-keys` prints, without nhictl's libraries), run
# as the unprivileged user nobody.  sshd runs in a
# private mount namespace (unshare -m) with a test /etc/pam.d/sshd
# (pam_nhi's account phase), nsswitch.conf and ld.so.cache bind-mounted
# over the host's, so it resolves the identities through the built
# libnss_nhi.so.2.  An identity logs in with its issued key; after
# `rotate --grace` both keys work, after the grace only the new one;
# suspended, no key works until resumed; retired, none.  The host's /etc
# is never changed.  Root only.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"

[ "$(id -u)" = 0 ] || { echo "# skip: needs root"; exit 77; }
[ -z "${NHI_ASAN_LIB:-}" ] || { echo "# skip: sanitizer build (sshd is not instrumented)"; exit 77; }
[ -x /usr/sbin/sshd ] && command -v ssh >/dev/null && command -v ssh-keygen >/dev/null ||
	{ echo "# skip: no sshd/ssh (openssh-server, openssh-client)"; exit 77; }
command -v unshare >/dev/null && command -v setpriv >/dev/null || { echo "# skip: no unshare/setpriv"; exit 77; }
[ -f "$NSS_NHI_DIR/libnss_nhi.so.2" ] && [ -f "$PAM_NHI_SO" ] || { echo "# skip: modules not built"; exit 77; }
unshare -m --propagation private true 2>/dev/null || { echo "# skip: unshare -m not permitted"; exit 77; }
ST=$T/state
NOBODY_UID=$(id -u nobody 2>/dev/null) || { echo "# skip: no user nobody"; exit 77; }

# ---- the identity and its first key ----
expect 0 "create svc-ssh" nhictl create svc-ssh --owner alice --expires +30d --service sshd --home "$T"
expect 0 "issue an ssh-key to a file" nhictl cred add svc-ssh --kind ssh-key --out "$T/k1"
SSH_UID=$(nhictl show svc-ssh --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["uid"])')
check "the key index is root's, 0644" test "$(stat -c '%a %u' "$ST/authorized_keys.idx")" = "644 0"

# authorized-keys as nobody, the way sshd runs it: no registry, no root.
# Every call (but --json) also asks nhi-authorized-keys, which must say
# exactly the same on stdout, with the same exit code.
NHIAK=$top_builddir/nhictl/nhi-authorized-keys
ak_calls=0 ak_differ=""
ak() {
	local rc1 rc2
	setpriv --reuid="$NOBODY_UID" --regid=65534 --clear-groups "$NHICTL" -c "$NHI_CONF" \
		authorized-keys "$@" >"$T/ak1.out" 2>"$T/ak1.err"
	rc1=$?
	cat "$T/ak1.out"; cat "$T/ak1.err" >&2
	case " $* " in *" --json "*) return $rc1 ;; esac
	setpriv --reuid="$NOBODY_UID" --regid=65534 --clear-groups "$NHIAK" -c "$NHI_CONF" \
		"$@" >"$T/ak2.out" 2>"$T/ak2.err"
	rc2=$?
	ak_calls=$((ak_calls + 1))
	cmp -s "$T/ak1.out" "$T/ak2.out" && [ "$rc1" = "$rc2" ] ||
		ak_differ="$ak_differ [$* -> nhictl $rc1, helper $rc2: $(head -c 200 "$T/ak2.err")]"
	return $rc1
}
nrun ak svc-ssh
eqv "authorized-keys as nobody: exit 0" 0 "$rc"
eqv "it prints the issued public key" "$(ssh-keygen -y -f "$T/k1" | cut -d' ' -f1-2)" "$(cut -d' ' -f1-2 "$T/out")"
nrun ak alice
eqv "a human: exit 0, nothing" "0 0" "$rc $(wc -c <"$T/out")"
nrun ak no-such-user
eqv "an unknown user: exit 0, nothing" "0 0" "$rc $(wc -c <"$T/out")"
nrun ak 'John.Doe@EXAMPLE'
eqv "a name no identity can have: exit 0, nothing" "0 0" "$rc $(wc -c <"$T/out")"
nrun ak
eqv "no name: usage error" 2 "$rc"
nrun ak svc-ssh --json
eqv "--json: the key and its grace" "$(ssh-keygen -y -f "$T/k1" | cut -d' ' -f2) None" \
	"$(pyjson 'd[0]["key"].split()[1] + " " + str(d[0]["grace_until"])')"
# nhi-authorized-keys' own errors: one line, the documented exit codes
nrun "$NHIAK" -c "$NHI_CONF" --bogus svc-ssh
eqv "nhi-authorized-keys: an unknown option is a usage error" 2 "$rc"
has err "and says which" "^nhi-authorized-keys: unknown option '--bogus'$"
nrun "$NHIAK" -c
eqv "nhi-authorized-keys: -c without a file" "2 1" "$rc $(wc -l <"$T/err")"
nrun "$NHIAK" -c "$NHI_CONF" svc-ssh extra
eqv "nhi-authorized-keys: a second name" "2 1" "$rc $(wc -l <"$T/err")"
# the key index and snapshot below a directory others may write to (as
# OpenSSH's safe_path): not trusted, no key served
mkdir -p "$T/shared" && cp -a "$ST" "$T/shared/st"
printf 'state_dir = %s\nhost = testhost\n' "$T/shared/st" >"$T/etc/shared-ak.conf"
nrun "$NHIAK" -c "$T/etc/shared-ak.conf" svc-ssh
eqv "index below safe directories: the key served" "0 1" "$rc $(wc -l <"$T/out")"
chmod 775 "$T/shared"
nrun "$NHIAK" -c "$T/etc/shared-ak.conf" svc-ssh
eqv "index below a group-writable directory: exit 1, nothing served" "1 0" "$rc $(wc -c <"$T/out")"
has err "and says why" "directory $T/shared is writable by group or others"
chmod 755 "$T/shared"
printf 'state_dir = %s\nno_such_key = 1\n' "$ST" >"$T/etc/bad-ak.conf"
nrun "$NHIAK" -c "$T/etc/bad-ak.conf" svc-ssh
eqv "nhi-authorized-keys: a bad configuration: exit 1, nothing printed" "1 0" "$rc $(wc -c <"$T/out")"
has err "naming file and line" "^nhi-authorized-keys: .*bad-ak.conf:2: "
nrun "$NHIAK" -c "$NHI_CONF" -- --help
eqv "nhi-authorized-keys -- --help: a user name, no identity's: exit 0, nothing" "0 0" "$rc $(wc -c <"$T/out")"
nrun "$NHIAK" -c "$NHI_CONF" -- svc-ssh
eqv "nhi-authorized-keys -- svc-ssh: the key" "0 $(ssh-keygen -y -f "$T/k1" | cut -d' ' -f1-2)" "$rc $(cut -d' ' -f1-2 "$T/out")"
nrun "$NHIAK" --help
eqv "nhi-authorized-keys --help: exit 0" 0 "$rc"
has out "and a usage line" "^usage: nhi-authorized-keys"
check "registry.db stays root-only (nobody could not read it)" test "$(stat -c %a "$ST/registry.db")" = 600
# an index that anyone may write is not trusted
cp -p "$ST/authorized_keys.idx" "$T/idx.save"
chmod 666 "$ST/authorized_keys.idx"
nrun ak svc-ssh
eqv "a group/world-writable key index: exit 1, nothing served" "1 0" "$rc $(wc -c <"$T/out")"
has err "and says why" "not trusted: writable by group or others"
cp -p "$T/idx.save" "$ST/authorized_keys.idx"
sed -i 's/^# nhi-keys 1 [0-9]*/# nhi-keys 1 0/' "$ST/authorized_keys.idx"
nrun ak svc-ssh
eqv "a key index older than the snapshot: exit 1" 1 "$rc"
has err "and says why" "older than the snapshot"
expect 0 "publish writes it again" nhictl publish
nrun ak svc-ssh
eqv "served again" 1 "$(wc -l <"$T/out")"
# lines are parsed within the mapping, which no NUL ends: an index of
# exactly one page whose last line is the user's numbers and no key (a
# scan for a third field would run past the mapping's end), and lines
# whose numbers are bad or overflow, are skipped; the good key is served
cp -p "$ST/authorized_keys.idx" "$T/idx.page"
{ echo "svc-ssh 99999999999999999999 0 ssh-ed25519 AAAAoverflow"
  echo "svc-ssh 0x1 0 ssh-ed25519 AAAAhex"
  echo "svc-ssh 0 ssh-ed25519 AAAAonefield"; } >>"$T/idx.page"
python3 - "$T/idx.page" <<'PY'
import sys
p = sys.argv[1]
b = open(p, "rb").read()
tail = b"svc-ssh 0 0\n"
pad = 4096 - len(b) - len(tail) - len(b"filler \n")
open(p, "wb").write(b + b"filler " + b"x" * pad + b"\n" + tail)
PY
check "the index is one page long" test "$(wc -c <"$T/idx.page")" = 4096
cp -p "$T/idx.page" "$ST/authorized_keys.idx"
nrun ak svc-ssh
eqv "an index of one page, damaged lines at its end: the good key only" \
	"0 1 $(ssh-keygen -y -f "$T/k1" | cut -d' ' -f2)" "$rc $(wc -l <"$T/out") $(cut -d' ' -f2 "$T/out")"
cp -p "$T/idx.save" "$ST/authorized_keys.idx"
expect 0 "publish writes it again" nhictl publish
# the index is written again only when what it lists may have changed
idx() { stat -c '%i %Y' "$ST/authorized_keys.idx"; }
i0=$(idx)
expect 0 "extend svc-ssh (no key changes)" nhictl extend svc-ssh --expires +40d
expect 0 "create another identity (no keys)" nhictl create svc-nokeys --owner alice --expires +30d
eqv "the key index was not rewritten" "$i0" "$(idx)"
nrun ak svc-ssh
eqv "and still serves, with the newer snapshot" "0 1" "$rc $(wc -l <"$T/out")"
expect 0 "suspend svc-ssh" nhictl suspend svc-ssh
check "a state change rewrites the index" test "$(idx)" != "$i0"
nrun ak svc-ssh
eqv "suspended: nothing served" "0 0" "$rc $(wc -c <"$T/out")"
expect 0 "resume svc-ssh" nhictl resume svc-ssh
i1=$(idx)
expect 0 "a second key" nhictl cred add svc-ssh --kind ssh-key --out "$T/k1b"
check "a new key rewrites the index" test "$(idx)" != "$i1"
nrun ak svc-ssh
eqv "both keys served" "0 2" "$rc $(wc -l <"$T/out")"
expect 0 "revoke the second key" nhictl cred revoke svc-ssh "$(nhictl cred list svc-ssh --json | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin) if c["kind"]=="ssh-key" and c["state"]=="active"][-1])')"
nrun ak svc-ssh
eqv "the revoked key is no longer served" "0 1" "$rc $(wc -l <"$T/out")"
eqv "the one left is the first" "$(ssh-keygen -y -f "$T/k1" | cut -d' ' -f1-2)" "$(cut -d' ' -f1-2 "$T/out")"
# an old index put back is refused: it predates the key changes
cp -p "$T/idx.save" "$ST/authorized_keys.idx.tmp" && mv "$ST/authorized_keys.idx.tmp" "$ST/authorized_keys.idx"
nrun ak svc-ssh
eqv "an index from before the key changes: exit 1" 1 "$rc"
expect 0 "publish mends it" nhictl publish

# ---- sshd in a private mount namespace ----
PORT=$(free_port)
ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
mkdir -p "$T/pam.d"
cat >"$T/pam.d/sshd" <<S
auth     required   pam_deny.so
account  required   $PAM_NHI_SO config=$NHI_CONF
account  required   pam_permit.so
session  optional   $PAM_NHI_SO config=$NHI_CONF
session  required   pam_permit.so
password required   pam_deny.so
S
printf 'passwd: files nhi\ngroup:  files nhi\nshadow: files nhi\n' >"$T/nsswitch.conf"
echo "$NSS_NHI_DIR" >"$T/ld.so.conf"
ldconfig -X -C "$T/ld.so.cache" -f "$T/ld.so.conf" || { echo "not ok - ldconfig"; exit 1; }
# sshd wants the command and every directory above it root-owned and not
# writable by others: /run is a root-owned tmpfs inside the namespace
cat >"$T/sshd_config" <<C
ListenAddress 127.0.0.1
Port $PORT
HostKey $T/hostkey
PidFile $T/sshd.pid
UsePAM yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AuthorizedKeysFile none
AuthorizedKeysCommand /run/nhi-test/nhi-authorized-keys -c $NHI_CONF %u
AuthorizedKeysCommandUser nobody
ExposeAuthInfo yes
StrictModes no
LogLevel VERBOSE
C
cat >"$T/inside.sh" <<'I'
set -eu
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -m 755 /run/sshd /run/nhi-test
cp "$NHIAK" /run/nhi-test/nhi-authorized-keys
chmod 755 /run/nhi-test/nhi-authorized-keys
mount --bind "$T/pam.d/sshd" /etc/pam.d/sshd
mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
mount --bind "$T/ld.so.cache" /etc/ld.so.cache
exec /usr/sbin/sshd -D -e -f "$T/sshd_config"
I
T=$T NHI_CONF=$NHI_CONF NHIAK=$NHIAK unshare -m --propagation private bash "$T/inside.sh" \
	2>"$T/sshd.log" &
SSHD=$!
at_exit "kill $SSHD 2>/dev/null; wait $SSHD 2>/dev/null"
check "sshd listens on 127.0.0.1:$PORT" wait_port "$PORT"

# login KEY: ssh in as svc-ssh with KEY, run id -u (the session's environment
# has no NHI_CONF, so it names no user); output in $T/out, exit in $rc
login() {
	timeout 30 ssh -p "$PORT" -i "$1" -o BatchMode=yes -o IdentitiesOnly=yes \
		-o UserKnownHostsFile="$T/known_hosts" -o StrictHostKeyChecking=no \
		-o ConnectTimeout=10 -o LogLevel=ERROR svc-ssh@127.0.0.1 id -u >"$T/out" 2>"$T/err" </dev/null
	rc=$?
}
can()    { login "$2"; if [ "$rc" -eq 0 ] && grep -qx "$SSH_UID" "$T/out"; then ok "$1"; else nok "$1: exit $rc: $(head -c 300 "$T/err")"; fi; }
cannot() { login "$2"; if [ "$rc" -eq 255 ] && [ ! -s "$T/out" ]; then ok "$1"; else nok "$1: exit $rc, out $(head -c 100 "$T/out")"; fi; }
cp "$T/k1" "$T/k1.client"; chmod 600 "$T/k1.client"
ssh-keygen -q -t ed25519 -N '' -f "$T/stranger"

can "svc-ssh logs in with its issued key" "$T/k1.client"
cannot "a key nhictl did not issue is refused" "$T/stranger"
# the session record names the key sshd accepted (ExposeAuthInfo): audit
# counts it as that credential's use, not the identity's alone
check "pam_nhi's record carries the accepted key" grep -Eq "^[0-9]+ svc-ssh sshd [^ ]+ 127.0.0.1 .*key=ssh-ed25519:" "$ST/usage.log"
expect 0 "audit ingests the sshd session" nhictl audit --no-host --json
expect 0 "cred list svc-ssh" nhictl cred list svc-ssh --json
eqv "the issued key: one use, a last use" "1 True" \
	"$(pyjson '" ".join("%d %s" % (c["use_count"], c["last_used"] is not None) for c in d if c["kind"] == "ssh-key" and c["state"] == "active")')"

# ---- rotation with a grace window: both keys, then only the new one ----
expect 0 "rotate --grace 12s" nhictl rotate svc-ssh --grace 12s --out "$T/k2"
cp "$T/k2" "$T/k2.client"; chmod 600 "$T/k2.client"
grace_start=$(date +%s)
can "during the grace: the old key logs in" "$T/k1.client"
can "during the grace: the new key logs in" "$T/k2.client"
nrun ak svc-ssh
eqv "authorized-keys serves both" 2 "$(wc -l <"$T/out")"
sleep $(( grace_start + 13 - $(date +%s) ))
cannot "after the grace: the old key is refused" "$T/k1.client"
can "after the grace: the new key logs in" "$T/k2.client"

# ---- a key's own expiry (not_after) ends it without a publish ----
expect 0 "an ssh-key that expires in 6s" nhictl cred add svc-ssh --kind ssh-key --expires +6s --out "$T/k3"
k3_start=$(date +%s) k3=$(ssh-keygen -y -f "$T/k3" | cut -d' ' -f2)
nrun ak svc-ssh
check "before its expiry: authorized-keys prints it" grep -qF "$k3" "$T/out"
sleep $(( k3_start + 7 - $(date +%s) ))
nrun ak svc-ssh
check "after its expiry, the index unchanged: no longer printed" bash -c "! grep -qF '$k3' '$T/out'"
check "... the other key still is" grep -qF "$(ssh-keygen -y -f "$T/k2" | cut -d' ' -f2)" "$T/out"

# ---- a name that another identity's name begins with ----
# (svc-ssh and svc-ssh4102444800: the index line of the longer one read
# for svc-ssh would parse, its digits as a time in 2100)
L=svc-ssh4102444800
expect 0 "create $L" nhictl create $L --owner alice --expires +30d --service sshd --home "$T"
expect 0 "$L gets a key" nhictl cred add $L --kind ssh-key --out "$T/k4"
k4=$(ssh-keygen -y -f "$T/k4" | cut -d' ' -f2)
nrun ak $L
check "authorized-keys $L prints its key" grep -qF "$k4" "$T/out"
nrun ak svc-ssh
check "authorized-keys svc-ssh does not print $L's key" bash -c "! grep -qF '$k4' '$T/out'"
eqv "... only svc-ssh's own key" 1 "$(wc -l <"$T/out")"

# ---- suspend, resume, retire ----
expect 0 "suspend svc-ssh" nhictl suspend svc-ssh
cannot "suspended: no key logs in" "$T/k2.client"
nrun ak svc-ssh
eqv "suspended: authorized-keys prints nothing" "0 0" "$rc $(wc -c <"$T/out")"
expect 0 "resume svc-ssh" nhictl resume svc-ssh
can "resumed: the key logs in again" "$T/k2.client"
expect 0 "retire svc-ssh" nhictl retire svc-ssh
cannot "retired: no key logs in" "$T/k2.client"
check "retired: its keys are gone from the index" bash -c "! grep -q '^svc-ssh ' '$ST/authorized_keys.idx'"

kill "$SSHD" 2>/dev/null; wait "$SSHD" 2>/dev/null
check "sshd ran the command (its log names the key)" grep -q "Accepted publickey for svc-ssh" "$T/sshd.log"

# ---- no private key anywhere but where it was handed over ----
grep -hv -- '-----' "$T/k1" "$T/k2" | grep -v '^b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ' >"$T/secret-lines"
leaks=""
for f in "$ST"/* "$T/sshd.log"; do
	[ -f "$f" ] && grep -aqF -f "$T/secret-lines" "$f" && leaks="$leaks $(basename "$f")"
done
check "no private key in the state dir or sshd's log${leaks:+ (found in:$leaks)}" test -z "$leaks"
check "host untouched: /etc/pam.d/sshd" bash -c "! grep -q pam_nhi /etc/pam.d/sshd"
check "nhi-authorized-keys printed what nhictl authorized-keys printed ($ak_calls calls)${ak_differ:+:$ak_differ}" \
	test -z "$ak_differ" -a "$ak_calls" -gt 10
[ "$fail" -eq 0 ] || sed 's/^/# sshd: /' "$T/sshd.log" | tail -40
finish

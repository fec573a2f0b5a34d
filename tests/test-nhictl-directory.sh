#!/bin/bash
# nhictl directory check against a real slapd (tests/slapd.sh): SASL
# EXTERNAL over ldapi and over TLS with a client certificate, simple bind
# with a root-only password file, StartTLS with the test CA and refusal
# with the wrong one, ldap_starttls = no (allowed, with a warning), failover
# from a dead URI, a stopped and a hung server costing seconds, a missing
# base, --json, usage errors, and nothing changed locally.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/slapd.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
# slapd is there: a server that does not start (a schema error, say) is a failure
slapd_start --tls || { nok "slapd starts"; finish; }
# a hung (SIGSTOPped) slapd must be continued before slapd_stop (hooks run last-in first)
at_exit 'kill -CONT $SLAPD_PID 2>/dev/null'

# libldap reads ~/.ldaprc and /etc/ldap/ldap.conf otherwise: nhictl must
# work from nhi.conf alone.  libldap resolves the URI's host, and
# nss_wrapper then dlopens libc with RTLD_DEEPBIND, which the sanitizer
# runtime refuses: NSS_WRAPPER_DISABLE_DEEPBIND.
: > "$T/ldap-empty.conf"
dnhictl() {
	LDAPCONF=$T/ldap-empty.conf LDAPNOINIT=1 NSS_WRAPPER_DISABLE_DEEPBIND=1 nhictl "$@"
}
TIMEOUT=2
dir_check() {   # CONF-LINES... -> runs 'nhictl [--json] directory check', sets rc, out, errout
	local json=
	if [ "$1" = --json ]; then json=--json; shift; fi
	{
		echo "state_dir = $T/state"
		echo "host = testhost"
		echo "ldap_timeout = ${TIMEOUT}s"
		printf '%s\n' "$@"
	} > "$T/etc/dir.conf"
	dnhictl -c "$T/etc/dir.conf" $json directory check > "$T/out" 2> "$T/err"
	rc=$?
	out=$(cat "$T/out"); errout=$(cat "$T/err")
}
show() { sed 's/^/#   /' "$T/out" "$T/err"; }
expect() {   # DESC RC [grep-pattern-in-stdout|stderr]...
	local d=$1 want=$2 p; shift 2
	if [ "$rc" != "$want" ]; then nok "$d (exit $rc, want $want)"; show; return; fi
	for p in "$@"; do
		if ! printf '%s\n%s\n' "$out" "$errout" | grep -qF -- "$p"; then
			nok "$d (no '$p')"; show; return
		fi
	done
	ok "$d"
}

BASES=("ldap_base = $SLAPD_NHI_BASE" "ldap_people_base = $SLAPD_PEOPLE_BASE")
TLS=("ldap_uri = $SLAPD_LDAP_URI" "ldap_tls_cacert = $SLAPD_CA")
SIMPLE=("ldap_bind = simple" "ldap_bind_dn = $SLAPD_ADMIN_DN"
	"ldap_bind_password_file = $SLAPD_DIR/admin.pw")

# --- SASL EXTERNAL over ldapi: the peercred identity ----------------------
dir_check "ldap_uri = $SLAPD_LDAPI_URI" "ldap_bind = external" "${BASES[@]}"
expect "EXTERNAL over ldapi" 0 "uri:" "$SLAPD_LDAPI_URI" \
	"bound as:        dn:gidNumber=$(id -g)+uidNumber=$(id -u),cn=peercred,cn=external,cn=auth" \
	"tls:             no (ldapi" "syncrepl:        yes" \
	"base:            ok ($SLAPD_NHI_BASE)" "people base:     ok ($SLAPD_PEOPLE_BASE)"
expect "one provider: its topology and what holds" 0 \
	"topology:        single provider (server IDs 000)" \
	"guarantees:      one writer: compare-and-swap writes and uid blocks hold on that server"
dir_check --json "ldap_uri = $SLAPD_LDAPI_URI" "ldap_bind = external" "${BASES[@]}"
expect "--json: the topology" 0 '"topology":{"kind":"single provider","server_ids":["000"],"uris":1,'

# --- simple bind over StartTLS with the test CA ----------------------------
dir_check "${TLS[@]}" "${SIMPLE[@]}" "${BASES[@]}"
expect "simple bind, StartTLS, test CA" 0 "tls:             yes (starttls)" \
	"bound as:        dn:$SLAPD_ADMIN_DN (simple)" "base:            ok"
case $out$errout in *warning*) nok "no warnings expected"; show;; *) ok "no warnings";; esac

# the password file: 0600 with a trailing newline is fine, 0644 refused
printf '%s\n' "$SLAPD_ADMIN_PW" > "$T/pw"; chmod 600 "$T/pw"
dir_check "${TLS[@]}" "ldap_bind = simple" "ldap_bind_dn = $SLAPD_ADMIN_DN" \
	"ldap_bind_password_file = $T/pw" "${BASES[@]}"
expect "password file 0600 with a newline" 0 "bound as:        dn:$SLAPD_ADMIN_DN"
chmod 644 "$T/pw"
dir_check "${TLS[@]}" "ldap_bind = simple" "ldap_bind_dn = $SLAPD_ADMIN_DN" \
	"ldap_bind_password_file = $T/pw" "${BASES[@]}"
expect "password file 0644 refused, named" 1 "password file $T/pw" "0644"
chmod 400 "$T/pw"
printf 'wrong\n' > "$T/pw.bad"; chmod 600 "$T/pw.bad"
dir_check "${TLS[@]}" "ldap_bind = simple" "ldap_bind_dn = $SLAPD_ADMIN_DN" \
	"ldap_bind_password_file = $T/pw.bad" "${BASES[@]}"
expect "wrong password: the server's reason" 1 "$SLAPD_LDAP_URI" "Invalid credentials"
dir_check "${TLS[@]}" "ldap_bind = simple" "${BASES[@]}"
expect "simple bind without ldap_bind_dn" 1 "ldap_bind_dn"

# --- SASL EXTERNAL with a TLS client certificate ---------------------------
# libldap 2.5.13's GnuTLS backend leaks the client key and certificate it
# loads (gnutls_x509_privkey_init, _crt_init; nhictl never calls GnuTLS):
# not ours to report under LeakSanitizer.
printf 'leak:libgnutls.so\nleak:libtasn1.so\nleak:libgmp.so\n' > "$T/lsan.supp"
LSAN_OPTIONS=${LSAN_OPTIONS:-}${LSAN_OPTIONS:+:}suppressions=$T/lsan.supp \
dir_check "${TLS[@]}" "ldap_bind = external" "ldap_tls_cert = $SLAPD_CLIENT_CERT" \
	"ldap_tls_key = $SLAPD_CLIENT_KEY" "${BASES[@]}"
expect "EXTERNAL with a client certificate" 0 "tls:             yes (starttls)" \
	"bound as:        dn:$SLAPD_CLIENT_DN (SASL EXTERNAL)"

# --- the wrong CA: refused, with the certificate named as the reason -------
dir_check "ldap_uri = $SLAPD_LDAP_URI" "ldap_tls_cacert = $SLAPD_WRONG_CA" "${SIMPLE[@]}" "${BASES[@]}"
expect "wrong CA refused" 1 "$SLAPD_LDAP_URI: StartTLS failed" "cert" "$SLAPD_WRONG_CA"
# no CA configured: the system's CAs do not know the test CA either
dir_check "ldap_uri = $SLAPD_LDAP_URI" "${SIMPLE[@]}" "${BASES[@]}"
expect "no CA configured: refused" 1 "StartTLS failed"

# --- ldap:// without StartTLS: allowed when configured, with a warning ------
dir_check "ldap_uri = $SLAPD_LDAP_URI" "ldap_starttls = no" "${SIMPLE[@]}" "${BASES[@]}"
expect "ldap_starttls = no: works, warns" 0 "tls:             no" "warning:" "no TLS"

# --- failover: a dead URI first --------------------------------------------
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
dir_check "ldap_uri = ldap://127.0.0.1:$dead $SLAPD_LDAP_URI" "ldap_tls_cacert = $SLAPD_CA" \
	"${SIMPLE[@]}" "${BASES[@]}"
expect "first URI dead: falls over to the second" 0 "uri:             $SLAPD_LDAP_URI" \
	"skipped: ldap://127.0.0.1:$dead"

# --- bases -----------------------------------------------------------------
dir_check "ldap_uri = $SLAPD_LDAPI_URI" "ldap_base = ou=nowhere,$SLAPD_BASE"
expect "ldap_base missing: named" 1 "ldap_base 'ou=nowhere,$SLAPD_BASE' does not exist" \
	"$SLAPD_LDAPI_URI"
dir_check "ldap_uri = $SLAPD_LDAPI_URI" "ldap_base = $SLAPD_NHI_BASE" \
	"ldap_people_base = ou=ghosts,$SLAPD_BASE"
expect "ldap_people_base missing: named" 1 "ldap_people_base 'ou=ghosts,$SLAPD_BASE'" \
	"base:            ok"
dir_check "ldap_uri = $SLAPD_LDAPI_URI"
expect "no ldap_base" 1 "no ldap_base"
dir_check "ldap_base = $SLAPD_NHI_BASE"
expect "no ldap_uri" 1 "no ldap_uri"

# --- --json ------------------------------------------------------------------
dir_check --json "${TLS[@]}" "${SIMPLE[@]}" "${BASES[@]}"
check "--json: exit 0" test "$rc" = 0
check "--json: fields" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True, d
assert d["uri"] == sys.argv[2], d
assert d["tls"] is True and d["tls_mode"] == "starttls", d
assert d["bind"] == "simple" and d["bound_as"] == "dn:" + sys.argv[3], d
assert d["syncrepl"] is True, d
assert d["base"] == sys.argv[4] and d["base_ok"] is True, d
assert d["people_base_ok"] is True, d
assert sys.argv[5] in d["naming_contexts"], d
assert "1.3.6.1.4.1.1466.20037" in d["supported_extensions"], d
assert d["warnings"] == [] and d["errors"] == [], d
' "$T/out" "$SLAPD_LDAP_URI" "$SLAPD_ADMIN_DN" "$SLAPD_NHI_BASE" "$SLAPD_BASE"
dir_check --json "ldap_uri = $SLAPD_LDAPI_URI" "ldap_base = ou=nowhere,$SLAPD_BASE"
check "--json on failure: exit 1, ok false, the error listed" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert sys.argv[2] == "1", sys.argv[2]
assert d["ok"] is False and d["base_ok"] is False, d
assert any("ou=nowhere" in e for e in d["errors"]), d
' "$T/out" "$rc"

# --- usage -------------------------------------------------------------------
dnhictl directory >/dev/null 2>&1
check "no sub-command: exit 2" test $? = 2
dnhictl directory frobnicate >/dev/null 2>&1
check "unknown sub-command: exit 2" test $? = 2
dnhictl directory check extra >/dev/null 2>&1
check "extra argument: exit 2" test $? = 2
dnhictl directory check --bogus >/dev/null 2>&1
check "unknown option: exit 2" test $? = 2
dnhictl directory --help | grep -q "nhictl directory check"
check "directory --help" test $? = 0
dnhictl --help | grep -q "^  directory"
check "directory in the verb list" test $? = 0

# --- a hung server (SIGSTOP: TCP still accepted, nothing answers) ----------
kill -STOP "$SLAPD_PID"
for uri in "$SLAPD_LDAP_URI" "$SLAPD_LDAPI_URI"; do
	start=$(date +%s)
	dir_check "ldap_uri = $uri" "ldap_tls_cacert = $SLAPD_CA" "${BASES[@]}"
	took=$(( $(date +%s) - start ))
	expect "hung server at $uri: exit 1" 1 "$uri"
	check "hung server at $uri: gave up in ${took}s (< $((3 * TIMEOUT))s)" test "$took" -lt $((3 * TIMEOUT))
done
kill -CONT "$SLAPD_PID"

# --- a hung ldaps:// server: a socket that takes connections and never
# answers.  libldap 2.5 ignores its network timeout in the ldaps:// TLS
# handshake; nhictl's watchdog gives up after twice ldap_timeout (+1 s).
python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(60)' > "$T/hung.port" &
hung_pid=$!
at_exit "kill $hung_pid 2>/dev/null"
for i in 1 2 3 4 5 6 7 8 9 10; do [ -s "$T/hung.port" ] && break; sleep 0.2; done
hung=ldaps://127.0.0.1:$(cat "$T/hung.port")
TIMEOUT=3
t0=$EPOCHREALTIME
dir_check "ldap_uri = $hung" "ldap_tls_cacert = $SLAPD_CA" "${SIMPLE[@]}" "${BASES[@]}"
ms=$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))
expect "hung ldaps:// server: exit 1 naming it" 1 "$hung" "no answer within"
check "hung ldaps:// server: gave up in ${ms} ms (< $((3 * TIMEOUT)) s)" test "$ms" -lt $((3 * TIMEOUT * 1000))
kill "$hung_pid" 2>/dev/null
TIMEOUT=2

# --- a stopped server: refused at once ---------------------------------------
slapd_stop
start=$(date +%s)
dir_check "${TLS[@]}" "${SIMPLE[@]}" "${BASES[@]}"
took=$(( $(date +%s) - start ))
expect "stopped server: exit 1 naming the URI and reason" 1 "$SLAPD_LDAP_URI" "Can't contact LDAP server"
check "stopped server: ${took}s (< $((3 * TIMEOUT))s)" test "$took" -lt $((3 * TIMEOUT))

dir_check --json "ldap_uri = $SLAPD_LDAPI_URI $SLAPD_LDAP_URI" "ldap_tls_cacert = $SLAPD_CA" "${BASES[@]}"
check "--json, no server: exit 1, ok false, uri null, both URIs in the error" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert sys.argv[2] == "1", sys.argv[2]
assert d["ok"] is False and d["uri"] is None and d["bound_as"] is None, d
assert len(d["errors"]) == 1, d
assert sys.argv[3] in d["errors"][0] and sys.argv[4] in d["errors"][0], d
' "$T/out" "$rc" "$SLAPD_LDAPI_URI" "$SLAPD_LDAP_URI"

# --- it changed nothing ----------------------------------------------------
check "no registry or snapshot created" test -z "$(ls -A "$T/state")"
finish

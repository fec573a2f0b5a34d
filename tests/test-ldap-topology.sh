#!/bin/bash
# The recommended layout of docs/replication.md, started from its example
# configs (docs/replication/provider1.ldif, provider2.ldif, consumer.ldif)
# with only the URIs and paths replaced: two providers in multi-provider
# mode with delta-syncrepl (accesslog), a consumer with olcUpdateref and
# syncprov.  Hosts read and sync from the consumer and write to a
# provider (issue 17):
# - host w: ldap_uri = the consumer, ldap_write_uri = p1 p2 (a dead URI
#   first: failover): create, cred add, suspend, rotate go to p1; its
#   sync reads the consumer and sees them;
# - host f: ldap_uri = the consumer only: every write is referred to p1,
#   followed with the same bind (SASL EXTERNAL over ldapi), said once;
# - host r: reads the consumer only: after sync it sees both hosts' changes;
# - a referral to a URI of another scheme, or back to the consumer (a
#   loop), fails with one line and changes nothing; so does a write to a
#   consumer without olcUpdateref (directory check: "refused");
# - host t reads c1 over ldaps:// with a client certificate: the
#   referral to p1's ldaps:// URL is followed with the same certificate
#   (the entry is written as the host, not anonymously);
# - `directory check` names the read and the write server and warns when
#   writes would go to a consumer; `config check` refuses a bad
#   ldap_write_uri.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
. "$top_srcdir/tests/slapd.sh"
[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
[ -e /usr/lib/ldap/accesslog.so ] || { echo "# skip: no accesslog overlay"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "# skip: replication binds as uid 0 (SASL EXTERNAL over ldapi)"; exit 77; }
ldap_hermetic
EX=$top_srcdir/docs/replication
SUFFIX=dc=example,dc=org
B=ou=nhi,$SUFFIX
P=ou=people,$SUFFIX

# TLS files where the examples expect them (replication here runs over
# ldapi, but slapd loads its certificate at start)
SLAPD_DIR=$T/ex/tls-home
mkdir -p "$SLAPD_DIR"
_slapd_certs || { nok "certificates"; finish; }
TLS=$SLAPD_DIR/tls
cp "$TLS/client.pem" "$TLS/replicator.pem" && cp "$TLS/client.key" "$TLS/replicator.key"

P1=$(slapd_example_uri p1) P2=$(slapd_example_uri p2) C1=$(slapd_example_uri c1)
# only URIs and paths: the hosts' names become the servers' sockets
subst() {
	printf '%s\n' "s#ldaps://ldap1\\.example\\.org#$P1#g" "s#ldaps://ldap2\\.example\\.org#$P2#g" \
		"s#/run/slapd/#$T/ex/$1/#g" "s#/var/lib/ldap/#$T/ex/$1/#g" \
		"s#/etc/ldap/tls/#$TLS/#g" "s#/usr/share/nhi/schema/#$top_srcdir/schema/#g"
}
configure() { local e; mapfile -t e < <(subst "$1"); slapd_example_config "$1" "$2" "${e[@]}"; }

cat > "$T/base.ldif" <<EOF2
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
dc: example
o: example

dn: $B
objectClass: organizationalUnit
ou: nhi

dn: $P
objectClass: organizationalUnit
ou: people

dn: uid=alice,$P
objectClass: inetOrgPerson
objectClass: posixAccount
uid: alice
cn: Alice Admin
sn: Admin
uidNumber: 1000
gidNumber: 1000
homeDirectory: /home/alice

dn: ou=hosts,$SUFFIX
objectClass: organizationalUnit
ou: hosts

dn: cn=s,ou=hosts,$SUFFIX
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: s
userPassword: s-host-secret
EOF2

# p1 and c1 listen on ldaps:// too, for a host with a client certificate
PORT_P1=$((40000 + RANDOM % 10000)) PORT_C1=$((50000 + RANDOM % 10000))
S1=ldaps://127.0.0.1:$PORT_P1 SC=ldaps://127.0.0.1:$PORT_C1
if configure p1 "$EX/provider1.ldif" && configure p2 "$EX/provider2.ldif" &&
   configure c1 "$EX/consumer.ldif" && slapd_example_load p1 "$SUFFIX" "$T/base.ldif" &&
   slapd_example_launch p1 "$S1/" && slapd_example_launch p2 && slapd_example_launch c1 "$SC/"; then
	ok "p1, p2 and c1 start from docs/replication/*.ldif (URIs and paths replaced)"
else
	nok "p1, p2 and c1 start from docs/replication/*.ldif (URIs and paths replaced)"; finish
fi
for f in provider1 provider2 consumer; do
	eqv "$f.ldif: the test changed only URIs and paths" "" \
		"$(diff <(sed -e 's#ldaps://ldap[12]\.example\.org#URI#g' -e 's#/[^ "]*/#PATH/#g' "$EX/$f.ldif") \
			<(sed -e "s#ldapi://[^ ]*#URI#g" -e 's#/[^ "]*/#PATH/#g' \
				"$T/ex/$(case $f in provider1) echo p1;; provider2) echo p2;; *) echo c1;; esac)/config.ldif"))"
done

# wait until SERVER holds DN (replication), up to 30 s
holds() {
	local i
	for ((i = 0; i < 300; i++)); do
		slapd_example_admin "$1" ldapsearch -b "$2" -s base dn 2>/dev/null | grep -q '^dn:' && return 0
		sleep 0.1
	done
	return 1
}
# becomes SERVER NAME ATTR VALUE: wait (up to 30 s) until it holds VALUE
becomes() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(attr "$1" "$2" "$3")" = "$4" ] && return 0
		sleep 0.1
	done
	return 1
}
attr() { slapd_example_admin "$1" ldapsearch -b "uid=$2,$B" -s base "$3" | sed -n "s/^$3: //p" | sort | paste -sd' '; }
check "the base entries reach p2 (delta-syncrepl)" holds p2 "uid=alice,$P"
check "the base entries reach c1 (delta-syncrepl)" holds c1 "uid=alice,$P"
eqv "p1 logs writes in cn=accesslog (delta-syncrepl's log)" 1 \
	"$(slapd_example_admin p1 ldapsearch -b cn=accesslog -s base dn | grep -c '^dn: cn=accesslog')"

# host NAME CONF-LINES...: a host's nhi.conf in $T/NAME.conf
host() {
	local h=$1; shift
	mkdir -p "$T/$h"
	{
		printf '%s\n' "state_dir = $T/$h" "host = $h" "backend = ldap" "ldap_bind = external" \
			"ldap_base = $B" "ldap_people_base = $P" "ldap_timeout = 3s" \
			"uid_min = 2100000" "uid_max = 2199999"
		printf '%s\n' "$@"
	} > "$T/$h.conf"
}
on() { local h=$1; shift; NHI_CONF=$T/$h.conf nhictl "$@"; }
# re TEXT: TEXT as a literal in an extended regular expression
re() { sed 's/[][\\.*^$()+?{}|]/\\&/g' <<<"$1"; }
lacks() { if grep -Eq -- "$3" "$T/$1"; then nok "$2: $1 has /$3/"; else ok "$2"; fi; }
Q1=$(re "$P1") QC=$(re "$C1")
state() { sqlite3 "$T/$1/registry.db" "SELECT state FROM identity WHERE name = '$2'"; }
ncred() { sqlite3 "$T/$1/registry.db" "SELECT count(*) FROM credential c JOIN identity i ON c.identity_id = i.id WHERE i.name = '$2' AND c.state = '$3'"; }

# ---- nhictl config: ldap_write_uri is checked ------------------------------------
host bad "ldap_uri = $C1" "ldap_write_uri = http://ldap1.example.org"
expect 1 "config check: ldap_write_uri of another scheme: exit 1" nhictl config check "$T/bad.conf"
has out "config check: names the key and the value" \
	"bad.conf:[0-9]+: bad value for 'ldap_write_uri'.*'http://ldap1\\.example\\.org' is not an ldap://, ldaps:// or ldapi:// URI"

# ---- host w: reads from c1, writes to ldap_write_uri ----------------------------------
host w "ldap_uri = $C1" "ldap_write_uri = $P1 $P2"
expect 0 "w: create through ldap_write_uri" on w create w-svc --owner alice --expires +30d
eqv "w: the entry was made on p1 (not refused by the consumer)" "w-svc" "$(attr p1 w-svc uid)"
lacks err "w: nothing said about a referral" "referral"
# failover across ldap_write_uri: a dead URI first (the uid block is held:
# no new claim, which needs every server of the list)
host w "ldap_uri = $C1" "ldap_write_uri = ldapi://%2Fnonexistent%2Fsock $P1 $P2"
expect 0 "w: cred add (a dead write URI first: failover to p1)" on w cred add w-svc --kind password
expect 0 "w: rotate" on w rotate w-svc --grace 1h
expect 0 "w: create another from the block held" on w create w-svc2 --owner alice --expires +30d
expect 0 "w: suspend" on w suspend w-svc
eqv "w: p1 holds the suspension" suspended "$(attr p1 w-svc nhiState)"
eqv "w: registry read back from the write server: suspended" suspended "$(state w w-svc)"
check "c1 gets w-svc2 by replication" holds c1 "uid=w-svc2,$B"

# ---- host f: reads from c1, writes follow its referral --------------------------------
host f "ldap_uri = $C1"
expect 0 "f: create on a consumer: its referral followed" on f create f-svc --owner alice --expires +30d
has err "f: says once which provider took the write" \
	"^nhictl: create: $QC is read-only \\(a consumer\\): writing to $Q1, the provider its referral names"
eqv "f: said once" 1 "$(grep -c 'read-only' "$T/err")"
eqv "f: the entry is on p1" "f-svc" "$(attr p1 f-svc uid)"
eqv "f: a uid from f's own block" 1 "$(attr p1 f-svc uidNumber | grep -c '^21')"
expect 0 "f: cred add (referral)" on f cred add f-svc --kind password
expect 0 "f: rotate (referral)" on f rotate f-svc --grace 1h
eqv "f: the rotation's new credential and the old one in its grace" "1 1" \
	"$(ncred f f-svc active) $(ncred f f-svc grace)"
expect 0 "f: suspend (referral)" on f suspend f-svc
eqv "f: p1 holds the suspension" suspended "$(attr p1 f-svc nhiState)"
check "c1 gets f-svc's suspension by replication" becomes c1 f-svc nhiState suspended

# ---- host s: a simple bind (a host entry and its password), writes follow the
# referral and bind again on the provider with the same DN and password
printf '%s\n' s-host-secret > "$T/s.pw" && chmod 600 "$T/s.pw"
host s "ldap_uri = $C1" "ldap_bind = simple" "ldap_bind_dn = cn=s,ou=hosts,$SUFFIX" \
	"ldap_bind_password_file = $T/s.pw"
check "cn=s reaches c1 (its bind there)" holds c1 "cn=s,ou=hosts,$SUFFIX"
expect 0 "s: create on the consumer with a simple bind: its referral followed" \
	on s create s-svc --owner alice --expires +30d
has err "s: the write went to p1" "^nhictl: create: $QC is read-only \\(a consumer\\): writing to $Q1"
eqv "s: the entry is on p1" "s-svc" "$(attr p1 s-svc uid)"
expect 0 "s: cred add (referral, simple bind)" on s cred add s-svc --kind password
expect 0 "s: suspend (referral, simple bind)" on s suspend s-svc
eqv "s: p1 holds the suspension" suspended "$(attr p1 s-svc nhiState)"
expect 0 "s: sync from the consumer with its simple bind" on s sync
eqv "s: its registry holds the suspension" suspended "$(state s s-svc)"
printf '%s\n' wrong > "$T/s.pw"
expect 1 "s: a wrong password: refused (exit 1)" on s resume s-svc
has err "s: it says the bind failed" "Invalid credentials"
eqv "s: nothing written" suspended "$(attr p1 s-svc nhiState)"

# ---- sync from the consumer: every host sees the changes -----------------------------
host r "ldap_uri = $C1"
for h in w f r; do
	expect 0 "$h: sync from the consumer" on "$h" sync
done
for h in w f r; do
	eqv "$h: sees w-svc suspended" suspended "$(state "$h" w-svc)"
	eqv "$h: sees f-svc suspended" suspended "$(state "$h" f-svc)"
done
eqv "r: the rotated credentials of both (1 active + 1 in grace each)" "1 1 1 1" \
	"$(ncred r w-svc active) $(ncred r w-svc grace) $(ncred r f-svc active) $(ncred r f-svc grace)"

# ---- directory check: read and write servers ---------------------------------------
expect 0 "w: directory check" on w directory check
has out "w: the read server is the consumer" "^read server: *$QC\$"
has out "w: the write server is p1, a provider" "^write server: *$Q1 \\(provider\\)\$"
lacks out "w: no warning about writes" "^warning: writes"
expect 0 "f: directory check" on f directory check
has out "f: the write server is the consumer, referring to p1" \
	"^write server: *$QC \\(consumer \\(referral\\): to $Q1\\)\$"
has out "f: a warning: writes would go to a consumer" "^warning: writes would go to a consumer: $QC answers them with a referral to $Q1"
expect 0 "f: directory check --json" on f directory check --json
eqv "f: json: read_uri, write_uri, writes, write_referral" "$C1 $C1 consumer (referral) $P1" \
	"$(pyjson 'd["read_uri"] + " " + d["write_uri"] + " " + d["writes"] + " " + d["write_referral"]')"

# ---- referrals not followed: another scheme, a loop ------------------------------------
n_before=$(slapd_example_admin p1 ldapsearch -b "$B" -s one '(objectClass=nhiIdentity)' dn | grep -c '^dn:')
updateref() {
	printf 'dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\nreplace: olcUpdateref\nolcUpdateref: %s\n' "$1" |
		slapd_example_admin c1 ldapmodify >/dev/null
}
updateref http://ldap1.example.org
fails create 1 "f: a referral to http:// is not followed: one line" \
	"referral to http://ldap1\\.example\\.org[^ ]* not followed: not an ldap://, ldaps:// or ldapi:// URI" \
	on f create f-svc2 --owner alice --expires +30d
eqv "f: one line on stderr" 1 "$(grep -c . "$T/err")"
updateref "$C1"
fails resume 1 "f: a referral back to the consumer: a loop, one line" "referral loop: $QC -> $QC" \
	on f resume f-svc
eqv "f: one line on stderr (loop)" 1 "$(grep -c . "$T/err")"
eqv "nothing was written on the providers" "$n_before suspended" \
	"$(slapd_example_admin p1 ldapsearch -b "$B" -s one '(objectClass=nhiIdentity)' dn | grep -c '^dn:') $(attr p1 f-svc nhiState)"
printf 'dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\ndelete: olcUpdateref\n' |
	slapd_example_admin c1 ldapmodify >/dev/null
expect 0 "f: directory check, the consumer without olcUpdateref" on f directory check
has out "f: the write server refuses writes" "^write server: *$QC \\(refused \\(read-only\\)\\)\$"
has out "f: a warning: every write verb fails" "^warning: writes would go to a consumer: $QC refuses them .*every write verb fails"
fails resume 1 "f: a consumer without olcUpdateref: one line" "shadow context; no update referral" \
	on f resume f-svc
updateref "$P1"
expect 0 "f: the referral to p1 back: resume" on f resume f-svc
eqv "f: p1 holds the resume" active "$(attr p1 f-svc nhiState)"

# ---- a referral followed over TLS with the host's client certificate -------------------
# host t reads c1 over ldaps:// and binds with SASL EXTERNAL as its
# certificate's subject (cn=host1,ou=hosts,dc=example,dc=org, whom the
# example ACLs let write); the consumer refers to p1's ldaps:// URL: the
# write there must be made as host1 again (an anonymous bind may not write)
(
	set -e
	cd "$TLS"
	export OPENSSL_CONF=/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout host1.key \
		-out host1.csr -subj /DC=org/DC=example/OU=hosts/CN=host1 2>/dev/null
	printf '%s\n' basicConstraints=CA:FALSE extendedKeyUsage=clientAuth > host1.ext
	openssl x509 -req -in host1.csr -CA ca.pem -CAkey ca.key -set_serial 9 -days 2 \
		-extfile host1.ext -out host1.pem 2>/dev/null
	chmod 600 host1.key
) || nok "host1's client certificate"
updateref "$S1"
host t "ldap_uri = $SC" "ldap_tls_cacert = $TLS/ca.pem" "ldap_tls_cert = $TLS/host1.pem" \
	"ldap_tls_key = $TLS/host1.key"
expect 0 "t: create through c1's referral to p1's ldaps:// URL" on t create t-svc --owner alice --expires +30d
has err "t: says which provider took it" "writing to $(re "$S1"), the provider its referral names"
eqv "t: p1 holds t-svc, written as host1 (the certificate's identity, not anonymous)" \
	"cn=host1,ou=hosts,dc=example,dc=org" "$(attr p1 t-svc creatorsName)"
expect 0 "t: suspend (referral over TLS)" on t suspend t-svc
eqv "t: p1 holds the suspension, modified by host1" "suspended cn=host1,ou=hosts,dc=example,dc=org" \
	"$(attr p1 t-svc nhiState) $(attr p1 t-svc modifiersName)"
updateref "$P1"
finish

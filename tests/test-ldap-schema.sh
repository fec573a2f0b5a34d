#!/bin/bash
# test-ldap-schema.sh - nhi's LDAP schema in a real slapd: both forms load
# and define the same thing, and the directory itself answers nhi's
# questions (expiring before T, owned by X, review due, state), refuses
# incomplete identities, and gives the race-free uid allocation primitive
# (a Modify deleting the old counter value and adding the new one).
# Also tests the harness (tests/slapd.sh): StartTLS with the right and the
# wrong CA, restart keeps the data, stop leaves no slapd.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/slapd.sh"

[ -x /usr/sbin/slapd ] && command -v ldapsearch >/dev/null ||
	{ echo "# slapd or ldap-utils not installed"; exit 77; }

S=$top_srcdir/schema
P=$SLAPD_PEOPLE_BASE
N=$SLAPD_NHI_BASE
ALICE=uid=alice,$P

# names FILTER [BASE] [SCOPE]: the uids (or cn/nhiCredentialId) found,
# sorted, space-separated
names() {
	ldap_admin ldapsearch -b "${2:-$N}" -s "${3:-sub}" "$1" uid cn nhiCredentialId |
		sed -n 's/^\(uid\|cn\|nhiCredentialId\): //p' | sort -u | tr '\n' ' ' | sed 's/ $//'
}
# expect DESC WANT FILTER [BASE] [SCOPE]
expect() {
	local d=$1 want=$2 got; shift 2
	got=$(names "$@")
	if [ "$got" = "$want" ]; then ok "$d"; else nok "$d: want '$want', got '$got'"; fi
}
# rc_of CMD...: prints the exit status (the LDAP result code for ldap-utils)
rc_of() { "$@" >"$T/out" 2>&1; echo $?; }

# --- the two forms ----------------------------------------------------------

check "nhi.ldif is generated from nhi.schema (schema2ldif.sh)" \
	cmp -s <(sh "$S/schema2ldif.sh" "$S/nhi.schema") "$S/nhi.ldif"
for f in nhi.schema nhi.ldif README; do
	check "$f names the RFC 5612 arc as a placeholder" \
		grep -qi 'placeholder' "$S/$f"
done
check "all OIDs are under 1.3.6.1.4.1.32473" \
	bash -c '! grep -E "^(attributetype|objectclass) \(" "$1" | grep -v "( 1\.3\.6\.1\.4\.1\.32473\.1\."' _ "$S/nhi.schema"
check "no OID is defined twice" \
	bash -c '[ -z "$(grep -oE "^(attributetype|objectclass) \( [0-9.]+" "$1" | sort | uniq -d)" ]' _ "$S/nhi.schema"

# The slapd.conf form: slaptest accepts it (with indexes on nhi attributes)
# and converts it to cn=config.
mkdir -p "$T/conf/db" "$T/conf/slapd.d"
cat > "$T/conf/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
include $S/nhi.schema
pidfile $T/conf/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "dc=nhi,dc=test"
directory $T/conf/db
index nhiExpires,nhiReviewDue,nhiState,owner eq
EOF
check "slaptest -f accepts nhi.schema" \
	slaptest -Q -u -f "$T/conf/slapd.conf"
# (slaptest opens databases read-only: convert the schema part alone)
sed '/^modulepath/,$d' "$T/conf/slapd.conf" > "$T/conf/schema-only.conf"
check "slaptest converts nhi.schema to cn=config" \
	slaptest -Q -f "$T/conf/schema-only.conf" -F "$T/conf/slapd.d"

# defs FILE-OR-LDIF-ON-STDIN: the definitions, unfolded, without the {N}
# ordering prefix, whitespace collapsed, one per line
defs() {
	sed -e '/^#/d' "$@" | awk '
		/^ / { cur = cur substr($0, 2); next }
		{ if (cur != "") print cur; cur = $0 }
		END { if (cur != "") print cur }' |
	sed -n 's/^olc\(AttributeTypes\|ObjectClasses\): \({[0-9]*}\)\{0,1\}/\1 /p' |
	tr -s ' \t' '  ' | sed 's/ *$//'
}
defs "$T"/conf/slapd.d/cn=config/cn=schema/cn=\{4\}nhi.ldif > "$T/from-schema"

# --- the cn=config form, loaded into a running slapd -------------------------

slapd_start --no-schema || { nok "slapd starts"; finish; }
ok "slapd starts (port $SLAPD_PORT)"
check "nhi.ldif loads into cn=config over ldapi" \
	ldap_admin ldapadd -f "$S/nhi.ldif"
# (its {N} follows the schemas slapd.sh loads, the test lock schema too)
ldap_admin ldapsearch -b cn=schema,cn=config -s one "(cn=*}nhi)" \
	olcAttributeTypes olcObjectClasses | defs > "$T/from-ldif"
check "nhi.schema and nhi.ldif define the same, in slapd's own words" \
	diff -u "$T/from-schema" "$T/from-ldif"
check "47 attribute types and 7 object classes" \
	bash -c '[ "$(grep -c ^AttributeTypes "$1")" = 47 ] && [ "$(grep -c ^ObjectClasses "$1")" = 7 ]' _ "$T/from-ldif"
check "indexes on nhi attributes can be added at run time" \
	ldap_admin ldapmodify <<EOF
dn: olcDatabase={1}mdb,cn=config
changetype: modify
add: olcDbIndex
olcDbIndex: owner,nhiCoOwner eq
olcDbIndex: nhiExpires,nhiReviewDue,nhiState,nhiKind eq
olcDbIndex: nhiFrom,nhiTo eq
olcDbIndex: nhiResourceName,nhiDelegateTo,nhiGrantId eq
EOF
# Server-side sorting needs an ORDERING rule: load sssvlv to show it.
check "sssvlv overlay loads (for sorted searches)" \
	ldap_admin ldapmodify <<EOF
dn: cn=module{0},cn=config
changetype: modify
add: olcModuleLoad
olcModuleLoad: sssvlv

dn: olcOverlay=sssvlv,olcDatabase={1}mdb,cn=config
changetype: add
objectClass: olcOverlayConfig
objectClass: olcSssVlvConfig
olcOverlay: sssvlv
EOF

# nhiSecretHash exists now: protect it like userPassword (the harness does
# this itself when it loads the schema at start).
check "the ACL on secrets is extended to nhiSecretHash" ldap_admin ldapmodify <<EOF
dn: olcDatabase={1}mdb,cn=config
changetype: modify
delete: olcAccess
olcAccess: {0}
-
add: olcAccess
olcAccess: {0}to attrs=userPassword,nhiSecretHash by dn.exact=$SLAPD_EXTERNAL_DN write by self write by anonymous auth by * none
EOF

# --- identities -------------------------------------------------------------

# ident NAME UID KIND EXPIRES STATE OWNER REVIEWDUE [EXTRA-LINES]
ident() {
	cat <<EOF
dn: uid=$1,$N
objectClass: account
objectClass: posixAccount
objectClass: shadowAccount
objectClass: nhiIdentity
uid: $1
cn: $1
uidNumber: $2
gidNumber: $2
homeDirectory: /home/$1
loginShell: /usr/sbin/nologin
gecos: $1 service
description: purpose of $1
nhiKind: $3
nhiExpires: $4
nhiState: $5
owner: $6
nhiReviewDue: $7
nhiReviewInterval: 7776000
nhiCreated: 20261128120000Z
${8:-}
EOF
}
{
	ident svc-a 2000001 service 20270101000000Z active "$ALICE" 20261201000000Z \
		"nhiPamService: sshd
nhiPamService: cron
host: web1
nhiLabel: team=payments"
	echo
	ident svc-b 2000002 service 20270301000000Z suspended "uid=dave,$P" 20261101000000Z
	echo
	ident agent-c 2000003 agent 20261215000000Z orphaned "$ALICE" 20270115000000Z \
		"nhiOrphanedSince: 20261120000000Z
nhiLastUsed: 20261127101500Z
shadowExpire: 20802"
	echo
	ident svc-d 2000004 service 20280101000000Z retired "uid=carol,$P" 20260601000000Z
	echo
	# expires exactly at T: "before or at T" includes it
	ident svc-e 2000005 agent 20270131000000Z active "uid=dave,$P" 20261215000000Z
} > "$T/idents.ldif"
check "identities (account+posixAccount+shadowAccount+nhiIdentity) are added" \
	ldap_admin ldapadd -f "$T/idents.ldif"

TT=20270131000000Z
expect "expiring before T: (nhiExpires<=T) gives exactly those" \
	"agent-c svc-a svc-e" "(&(objectClass=nhiIdentity)(nhiExpires<=$TT))"
expect "expiring after T: (nhiExpires>=T)" \
	"svc-b svc-d svc-e" "(&(objectClass=nhiIdentity)(nhiExpires>=$TT))"
expect "expiring in a window (T1 <= nhiExpires <= T2)" \
	"svc-a svc-e" "(&(nhiExpires>=20270101000000Z)(nhiExpires<=$TT))"
expect "generalizedTime ordering compares instants, not strings (+0100 offset)" \
	"agent-c svc-a" "(nhiExpires<=20270101010000+0100)"
expect "owned by alice: (owner=DN)" \
	"agent-c svc-a" "(&(objectClass=nhiIdentity)(owner=$ALICE))"
expect "owner matching is DN matching (case and spaces)" \
	"agent-c svc-a" "(owner=UID=Alice, OU=People, DC=nhi, DC=test)"
expect "owned by nobody of that name" "" "(owner=uid=mallory,$P)"
expect "review due by 2026-12-01" \
	"svc-a svc-b svc-d" "(nhiReviewDue<=20261201000000Z)"
got=$(ldap_admin ldapsearch -b "$N" -E '!sss=nhiReviewDue' '(objectClass=nhiIdentity)' uid |
	sed -n 's/^uid: //p' | tr '\n' ' ')
if [ "$got" = "svc-d svc-b svc-a svc-e agent-c " ]; then
	ok "server-side sort by nhiReviewDue (ordering rule) gives review order"
else
	nok "sorted by nhiReviewDue: got '$got'"
fi
got=$(ldap_admin ldapsearch -b "$N" -E '!sss=-nhiExpires' '(objectClass=nhiIdentity)' uid |
	sed -n 's/^uid: //p' | tr '\n' ' ')
check "reverse sort by nhiExpires" [ "$got" = "svc-d svc-b svc-e svc-a agent-c " ]
expect "state filter: suspended (case-insensitive)" "svc-b" "(nhiState=SUSPENDED)"
expect "state filter: not retired" "agent-c svc-a svc-b svc-e" \
	"(&(objectClass=nhiIdentity)(!(nhiState=retired)))"
expect "kind filter: agents" "agent-c svc-e" "(nhiKind=agent)"
expect "orphaned since before a time" "agent-c" "(nhiOrphanedSince<=20261121000000Z)"
expect "PAM service scope (multi-valued)" "svc-a" "(nhiPamService=cron)"
expect "integer ordering on the review interval" \
	"agent-c svc-a svc-b svc-d svc-e" "(nhiReviewInterval>=7776000)"
expect "no match below the interval" "" "(nhiReviewInterval<=86400)"
expect "identity by uidNumber" "svc-b" "(uidNumber=2000002)"

# --- refusals ---------------------------------------------------------------

ident bad-1 2000009 service 20270101000000Z active "$ALICE" 20261201000000Z |
	sed '/^nhiExpires:/d' > "$T/bad1.ldif"
rc=$(rc_of ldap_admin ldapadd -f "$T/bad1.ldif")
if [ "$rc" = 65 ] && grep -q "nhiExpires" "$T/out"; then
	ok "an nhiIdentity without nhiExpires is refused (objectClassViolation)"
else
	nok "identity without nhiExpires: rc $rc: $(cat "$T/out")"
fi
ident bad-2 2000009 service 20270101000000Z active "$ALICE" 20261201000000Z |
	sed '/^nhiState:/d' > "$T/bad2.ldif"
check "an nhiIdentity without nhiState is refused (65)" \
	[ "$(rc_of ldap_admin ldapadd -f "$T/bad2.ldif")" = 65 ]
ident bad-3 2000009 service "next tuesday" active "$ALICE" 20261201000000Z > "$T/bad3.ldif"
check "a non-GeneralizedTime nhiExpires is refused (invalidAttributeSyntax 21)" \
	[ "$(rc_of ldap_admin ldapadd -f "$T/bad3.ldif")" = 21 ]
ident bad-4 2000009 service 20270101000000Z active "$ALICE" 20261201000000Z \
	"nhiExpires: 20280101000000Z" > "$T/bad4.ldif"
check "nhiExpires is single-valued" \
	[ "$(rc_of ldap_admin ldapadd -f "$T/bad4.ldif")" != 0 ]
rc=$(rc_of ldap_admin ldapmodify <<EOF
dn: uid=svc-a,$N
changetype: modify
delete: nhiExpires
EOF
)
check "nhiExpires cannot be removed from an identity (65)" [ "$rc" = 65 ]
check "owner must be a DN" \
	[ "$(rc_of ldap_admin ldapmodify <<EOF
dn: uid=svc-a,$N
changetype: modify
add: nhiCoOwner
nhiCoOwner: not a dn
EOF
)" = 21 ]

# --- credentials: child entries, compare-and-swap on nhiSerial ---------------

C=nhiCredentialId=k1,uid=svc-a,$N
check "a credential child entry is added" ldap_admin ldapadd <<EOF
dn: $C
objectClass: nhiCredential
nhiCredentialId: k1
nhiKind: ssh-key
nhiState: active
nhiFingerprint: SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU
nhiPublicPart: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl svc-a
nhiNotAfter: 20270101000000Z
nhiSerial: 1
nhiCreated: 20261128120000Z

dn: nhiCredentialId=t1,uid=svc-a,$N
objectClass: nhiCredential
nhiCredentialId: t1
nhiKind: token
nhiState: grace
nhiSecretHash: \$argon2id\$v=19\$m=65536,t=3,p=1\$c2FsdHNhbHQ\$aGFzaGhhc2hoYXNoaGFzaA
nhiSerial: 7
EOF
expect "the identity's credentials (one level below it)" "k1 t1" \
	"(objectClass=nhiCredential)" "uid=svc-a,$N" one
expect "credentials in grace" "t1" "(&(objectClass=nhiCredential)(nhiState=grace))"
expect "credentials valid until before T" "k1" "(nhiNotAfter<=$TT)"
cas() {
	rc_of ldap_admin ldapmodify <<EOF
dn: $C
changetype: modify
delete: nhiSerial
nhiSerial: $1
-
add: nhiSerial
nhiSerial: $2
-
replace: nhiState
nhiState: revoked
EOF
}
check "compare-and-swap on nhiSerial 1->2 succeeds" [ "$(cas 1 2)" = 0 ]
check "the same swap again fails (noSuchAttribute 16)" [ "$(cas 1 2)" = 16 ]
expect "and the first one took effect" "k1" "(&(nhiSerial=2)(nhiState=revoked))"
check "a credential needs an id, kind and state (65)" \
	[ "$(rc_of ldap_admin ldapadd <<EOF
dn: nhiCredentialId=k2,uid=svc-a,$N
objectClass: nhiCredential
nhiCredentialId: k2
nhiState: active
EOF
)" = 65 ]
# ACL of the harness: bound users read identities but not secret hashes
got=$(ldapsearch -LLL -x -H "$SLAPD_LDAP_URI" -D "$ALICE" -w alice-pw \
	-b "nhiCredentialId=t1,uid=svc-a,$N" -s base '*' 2>&1)
if grep -q '^nhiSerial: 7' <<<"$got" && ! grep -q nhiSecretHash <<<"$got"; then
	ok "a bound user reads credentials but not nhiSecretHash"
else
	nok "ACL on nhiSecretHash: $got"
fi
check "anonymous users see no identities" \
	[ -z "$(ldapsearch -LLL -x -H "$SLAPD_LDAP_URI" -b "$N" '(uid=svc-a)' dn 2>/dev/null)" ]

# --- resources and edges ----------------------------------------------------

check "resources and edges are added" ldap_admin ldapadd <<EOF
dn: ou=resources,$N
objectClass: organizationalUnit
ou: resources

dn: cn=github-mcp,ou=resources,$N
objectClass: nhiResource
cn: github-mcp
nhiKind: tool
nhiTransport: http
nhiResourceURI: https://mcp.example.com/github
owner: $ALICE

dn: cn=crm-db,ou=resources,$N
objectClass: nhiResource
cn: crm-db
nhiKind: system
nhiDataClass: pii
nhiExternal: FALSE
nhiResourceURI: postgresql://crm.example.com/crm

dn: ou=edges,$N
objectClass: organizationalUnit
ou: edges

dn: nhiEdgeId=e1,ou=edges,$N
objectClass: nhiEdge
nhiEdgeId: e1
nhiEdgeType: may-invoke
nhiFrom: uid=agent-c,$N
nhiTo: cn=github-mcp,ou=resources,$N
nhiScope: repo:read
nhiScope: issues:write
nhiAudience: https://mcp.example.com
nhiApprovalRequired: TRUE
nhiTokenMode: exchange
nhiExpires: 20261231000000Z
nhiOrigin: declared
nhiFirstSeen: 20261101000000Z
nhiLastSeen: 20261127000000Z
nhiReason: triage bot

dn: nhiEdgeId=e2,ou=edges,$N
objectClass: nhiEdge
nhiEdgeId: e2
nhiEdgeType: reads-from
nhiFrom: uid=agent-c,$N
nhiTo: cn=crm-db,ou=resources,$N
nhiAction: read
nhiOrigin: observed
nhiFirstSeen: 20261120000000Z
nhiLastSeen: 20261127000000Z
EOF
names_attr() {
	ldap_admin ldapsearch -b "$N" "$1" "$2" | sed -n "s/^$2: //p" | sort | tr '\n' ' ' | sed 's/ $//'
}
check "edges from an agent (nhiFrom=DN)" \
	[ "$(names_attr "(&(objectClass=nhiEdge)(nhiFrom=uid=agent-c,$N))" nhiEdgeId)" = "e1 e2" ]
check "what reads PII: systems by data class" \
	[ "$(names_attr "(&(objectClass=nhiResource)(nhiDataClass=pii)(nhiExternal=FALSE))" cn)" = "crm-db" ]
check "observed edges" \
	[ "$(names_attr "(&(objectClass=nhiEdge)(nhiOrigin=observed))" nhiEdgeId)" = "e2" ]
check "an edge needs from and to (65)" \
	[ "$(rc_of ldap_admin ldapadd <<EOF
dn: nhiEdgeId=e3,ou=edges,$N
objectClass: nhiEdge
nhiEdgeId: e3
nhiEdgeType: uses
nhiFrom: uid=svc-a,$N
EOF
)" = 65 ]

# --- the uid counter: the race-free allocation primitive ---------------------

CTR=cn=uid-counter,$N
check "the counter entry is added" ldap_admin ldapadd <<EOF
dn: $CTR
objectClass: nhiCounter
cn: uid-counter
nhiNextUid: 2000006
EOF
bump() {
	ldap_admin ldapmodify <<EOF
dn: $CTR
changetype: modify
delete: nhiNextUid
nhiNextUid: $1
-
add: nhiNextUid
nhiNextUid: $2
EOF
}
check "delete-old/add-new Modify takes uid 2000006" bump 2000006 2000007
check "the same Modify again fails (the value was taken)" \
	[ "$(rc_of bump 2000006 2000007)" = 16 ]
check "the counter holds exactly the new value" \
	[ "$(ldap_admin ldapsearch -b "$CTR" -s base nhiNextUid | sed -n 's/^nhiNextUid: //p')" = 2000007 ]
# Eight writers race for the same value: exactly one wins.
pids=
for i in 1 2 3 4 5 6 7 8; do
	( bump 2000007 2000008 >/dev/null 2>&1; echo $? > "$T/race.$i" ) &
	pids+=" $!"
done
wait $pids	# not a bare wait: slapd is our child too
won=$(cat "$T"/race.* | grep -cx 0)
lost=$(cat "$T"/race.* | grep -cx 16)
check "8 concurrent allocations of the same value: 1 wins, 7 get 16 ($won/$lost)" \
	[ "$won.$lost" = 1.7 ]
check "and the counter moved by one" \
	[ "$(ldap_admin ldapsearch -b "$CTR" -s base nhiNextUid | sed -n 's/^nhiNextUid: //p')" = 2000008 ]

# --- the harness: restart keeps data, stop stops ---------------------------

port=$SLAPD_PORT
check "slapd_restart" slapd_restart
check "  ... keeps the data" [ "$(names '(uid=svc-b)')" = svc-b ]
check "  ... and the port" [ "$SLAPD_PORT" = "$port" ]
check "syncprov answers a refreshOnly sync request" \
	bash -c 'ldapsearch -LLL -H "$SLAPD_LDAPI_URI" -Y EXTERNAL -Q -b "$SLAPD_NHI_BASE" \
		-E "!sync=ro" "(uid=svc-a)" dn | grep -q "^dn: uid=svc-a"'
pid=$SLAPD_PID
slapd_stop
check "slapd_stop stops slapd" bash -c '! kill -0 "$1" 2>/dev/null' _ "$pid"
check "slapd_stop is idempotent" slapd_stop
check "a stopped directory refuses connections" \
	[ "$(rc_of env LDAPNOINIT=1 ldapsearch -x -H "$SLAPD_LDAP_URI" -b "" -s base -o nettimeout=2)" = 255 ]

# --- StartTLS with the test CA ----------------------------------------------

slapd_start --tls || { nok "slapd starts with --tls"; finish; }
ok "slapd starts with --tls (port $SLAPD_PORT)"
# tls_search [CA]: a search over StartTLS as alice (CA: LDAPTLS_CACERT)
tls_search() {
	${1:+env LDAPTLS_CACERT=$1} ldapsearch -LLL -x -ZZ -H "$SLAPD_LDAP_URI" -D "$ALICE" -w alice-pw \
		-b "$SLAPD_PEOPLE_BASE" -o nettimeout=5 '(uid=dave)' uid
}
check "StartTLS (-ZZ) with LDAPTLS_CACERT=\$SLAPD_CA works" \
	grep -q '^uid: dave' <(tls_search "$SLAPD_CA" 2>&1)
check "StartTLS with the ldap.conf the harness wrote (LDAPCONF) works" \
	grep -q '^uid: dave' <(tls_search 2>&1)
rc=$(rc_of tls_search "$SLAPD_WRONG_CA")
if [ "$rc" != 0 ] && grep -q 'start_tls' "$T/out"; then
	ok "StartTLS with the wrong CA is refused ($(head -n1 "$T/out"))"
else
	nok "wrong CA: rc $rc: $(cat "$T/out")"
fi
# libldap checks the server's name against the certificate: "localhost"
# is replaced by the machine's own name, which the certificate lacks.
check "a name not in the certificate is refused (name checks are on)" \
	[ "$(LDAPTLS_CACERT=$SLAPD_CA rc_of ldapwhoami -x -ZZ -H "ldap://localhost:$SLAPD_PORT" -o nettimeout=5)" != 0 ]
got=$(LDAPTLS_CACERT=$SLAPD_CA LDAPTLS_CERT=$SLAPD_CLIENT_CERT LDAPTLS_KEY=$SLAPD_CLIENT_KEY \
	ldapwhoami -ZZ -Y EXTERNAL -Q -H "$SLAPD_LDAP_URI" -o nettimeout=5 2>&1)
check "SASL EXTERNAL with the client certificate ($got)" \
	[ "$got" = "dn:$SLAPD_CLIENT_DN" ]
check "  ... and writes over TLS as that identity" \
	bash -c 'LDAPTLS_CACERT=$SLAPD_CA LDAPTLS_CERT=$SLAPD_CLIENT_CERT LDAPTLS_KEY=$SLAPD_CLIENT_KEY \
		ldapmodify -ZZ -Y EXTERNAL -Q -H "$SLAPD_LDAP_URI" >/dev/null <<EOF
dn: $SLAPD_NHI_BASE
changetype: modify
replace: description
description: written by testhost
EOF'
check "the nhi schema is loaded by default" \
	[ -n "$(ldap_admin ldapsearch -b cn=schema,cn=config -s one "(cn={4}nhi)" dn)" ]
slapd_stop
finish

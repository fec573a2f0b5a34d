# tests/slapd.sh - a throwaway OpenLDAP slapd for the directory tests.
# Source it AFTER tests/common.sh (which gives $T, at_exit, ok/nok/check).
# Everything lives in $T/slapd; the host's slapd, /etc/ldap and ldap.conf
# are never used or changed.  Runs slapd as the calling user (root in CI).
#
# INTERFACE
#   slapd_start [--tls] [--no-schema] [--no-syncprov] [--no-ppolicy] [--ldif FILE]
#       Writes a cn=config (back_mdb, syncprov, ppolicy module for
#       pwdAccountLockedTime; schemas core, cosine, nis, inetorgperson and
#       schema/nhi.ldif unless --no-schema), an mdb database for
#       dc=nhi,dc=test with syncprov (checkpoint 100 10, sessionlog 1000),
#       loads the base entries below with slapadd, starts slapd on a free
#       port in 20000-40000 and on an ldapi socket, waits until it answers
#       and registers slapd_stop with at_exit.  Call it in the test's own
#       shell (not in $(...) or a pipe).  After slapd_stop it may be
#       called again for a fresh server (new port, new data).
#       slapd is a background child of the test's shell: never use a bare
#       `wait` (it would wait for slapd); wait for your own pids.
#       --tls: throwaway CA + server cert (SAN DNS:localhost,IP:127.0.0.1),
#       StartTLS (and TLS client certificates, verify "try") enabled.
#       --no-schema: nhi.ldif is not loaded (load it with ldap_admin
#       ldapadd -f "$top_srcdir/schema/nhi.ldif").
#       --no-syncprov: neither the syncprov module nor the overlay (a
#       directory without RFC 4533 content synchronisation).
#       --no-ppolicy: no ppolicy module (a stock directory: the server
#       does not know pwdAccountLockedTime); bob is locked the 389-ds
#       way instead (nsAccountLock: TRUE).  Either way a small test schema
#       defines nsAccountLock (389-ds's OID) and the auxiliary class
#       nhiTestAccountLock that may hold it (every person has it).
#       --ldif FILE: slapadd FILE too, after the base entries (fast bulk
#       loading; see slapd_gen_idents).
#       syncprov has olcSpReloadHint TRUE: a consumer's cookie older than
#       the data is answered with e-syncRefreshRequired (4096).  Its
#       session log is in memory: after slapd_restart, a consumer's cookie
#       is served by a present phase until new changes are logged.
#   slapd_stop      SIGTERM (+ SIGCONT, in case a test stopped it) + wait;
#                   idempotent.
#   slapd_restart   stop, then start again on the same port and data.
#   slapd_gen_idents N [PREFIX] [OWNER] [FIRST-UID]
#       prints LDIF of N nhi identities PREFIX1..PREFIXN (default "gen-")
#       under $SLAPD_NHI_BASE, owned by OWNER (default alice), uids from
#       FIRST-UID (default 3000000); for ldapadd or slapd_start --ldif.
#   ldap_hermetic
#       exports LDAPCONF (an empty file in $T), LDAPNOINIT=1 and
#       NSS_WRAPPER_DISABLE_DEEPBIND=1: libldap reads nothing but nhi.conf
#       (not the host's ldap.conf or LDAP* variables), and nss_wrapper does
#       not dlopen with RTLD_DEEPBIND, which the sanitizers refuse (libldap
#       resolves host names).
#   slapd_nhi_conf STATE-DIR HOST
#       prints the nhi.conf of a host of this slapd: backend ldap over
#       ldapi with SASL EXTERNAL, the bases above, ldap_timeout 2s,
#       orphan_grace 0s, uids 2100000-2199999.
#   ldap_admin CMD [ARGS...]
#       runs an ldap-utils CMD (ldapsearch, ldapadd, ldapmodify, ldapdelete,
#       ldapmodrdn, ldapcompare...) as root over ldapi with SASL EXTERNAL
#       (-H $SLAPD_LDAPI_URI -Y EXTERNAL -Q); for ldapsearch also
#       -LLL -o ldif-wrap=no.  That identity has manage on cn=config and on
#       the data, and no size limit.
#   ldap_root CMD [ARGS...]
#       the same with a simple bind as the rootdn over $SLAPD_LDAP_URI
#       (plain, no TLS: add -ZZ yourself when started with --tls).
#
# EXPORTED after slapd_start
#   SLAPD_DIR        $T/slapd (config.ldif, slapd.d/, data/, slapd.log)
#   SLAPD_PORT       e.g. 23456
#   SLAPD_LDAP_URI   ldap://127.0.0.1:$SLAPD_PORT   (use 127.0.0.1, the
#                    cert has IP:127.0.0.1 and DNS:localhost, but libldap
#                    replaces the name "localhost" by the machine's own
#                    name before checking, so ldap://localhost fails TLS)
#   SLAPD_LDAPI_URI  ldapi://%2Ftmp%2Fnhi-test.XXXXXX%2Fslapd%2Fldapi
#   SLAPD_PID        pid of slapd
#   SLAPD_BASE       dc=nhi,dc=test
#   SLAPD_NHI_BASE   ou=nhi,dc=nhi,dc=test      (identities go here)
#   SLAPD_PEOPLE_BASE ou=people,dc=nhi,dc=test
#   SLAPD_GROUPS_BASE ou=groups,dc=nhi,dc=test
#   SLAPD_ADMIN_DN   cn=admin,dc=nhi,dc=test    (rootdn)
#   SLAPD_ADMIN_PW   secret   (also in $SLAPD_DIR/admin.pw, mode 0600, no newline)
#   SLAPD_EXTERNAL_DN gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth
#   LDAPCONF         $SLAPD_DIR/ldap.conf: TLS_REQCERT demand (+ TLS_CACERT
#                    $SLAPD_CA with --tls); read after /etc/ldap/ldap.conf,
#                    so it overrides its TLS_CACERT.  LDAPTLS_CACERT in the
#                    environment overrides both.  ldap_admin sets LDAPNOINIT=1.
#   with --tls also:
#   SLAPD_CA         CA certificate (PEM) that signed the server cert
#   SLAPD_WRONG_CA   an unrelated CA (for refusal tests)
#   SLAPD_CLIENT_CERT, SLAPD_CLIENT_KEY   client cert/key signed by SLAPD_CA
#   SLAPD_CLIENT_DN  cn=testhost,ou=hosts,dc=nhi,dc=test: its SASL EXTERNAL
#                    identity over TLS, with write on the data
#
# DATA (people are inetOrgPerson + posixAccount + shadowAccount, like the
# test world of common.sh):
#   dc=nhi,dc=test; ou=nhi, ou=people, ou=groups under it
#   uid=alice  uidNumber 1000  live               userPassword alice-pw
#   uid=bob    uidNumber 1001  locked: pwdAccountLockedTime 20250101000000Z
#                              (--no-ppolicy: nsAccountLock TRUE)
#   uid=carol  uidNumber 1002  expired: shadowExpire 19001 (2022-01-08)
#   uid=dave   uidNumber 1003  live
#   cn=svcusers,ou=groups  posixGroup gidNumber 1500 memberUid dave
#   No uid counter entry: whoever allocates creates it.
# ACCESS: userPassword/nhiSecretHash: external root and client cert write,
# self write, anonymous auth.  Everything else: those write, bound users
# read, anonymous nothing.  The rootdn can do anything.
# LIMITS: only the ldapi root identity is unlimited; other binds have
# slapd's default size limit of 500 entries (use paged results).

SLAPD_BIN=${SLAPD_BIN:-/usr/sbin/slapd}
SLAPD_DIR=$T/slapd
SLAPD_BASE=dc=nhi,dc=test
SLAPD_NHI_BASE=ou=nhi,$SLAPD_BASE
SLAPD_PEOPLE_BASE=ou=people,$SLAPD_BASE
SLAPD_GROUPS_BASE=ou=groups,$SLAPD_BASE
SLAPD_ADMIN_DN=cn=admin,$SLAPD_BASE
SLAPD_ADMIN_PW=secret
SLAPD_EXTERNAL_DN=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth
SLAPD_CLIENT_DN=cn=testhost,ou=hosts,$SLAPD_BASE
SLAPD_PID=
SLAPD_PORT=
_slapd_registered=
export SLAPD_DIR SLAPD_BASE SLAPD_NHI_BASE SLAPD_PEOPLE_BASE SLAPD_GROUPS_BASE \
	SLAPD_ADMIN_DN SLAPD_ADMIN_PW SLAPD_EXTERNAL_DN

# _slapd_urlencode STRING: percent-encode everything but [A-Za-z0-9._~-]
_slapd_urlencode() {
	local s=$1 out='' c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9._~-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

# _slapd_certs: CA, wrong CA, server and client certificates (EC P-256:
# fast to make).  openssl runs with an empty config, so the host's
# openssl.cnf plays no part.
_slapd_certs() {
	local d=$SLAPD_DIR/tls
	mkdir -p "$d" && chmod 700 "$d" || return 1
	(
		set -e
		cd "$d"
		export OPENSSL_CONF=/dev/null
		ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
		for ca in ca wrong-ca; do
			openssl req -x509 $ec -keyout $ca.key -out $ca.pem -days 2 \
				-subj "/CN=nhi test $ca" \
				-addext basicConstraints=critical,CA:TRUE \
				-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
		done
		openssl req $ec -keyout server.key -out server.csr \
			-subj /CN=localhost 2>/dev/null
		printf '%s\n' subjectAltName=DNS:localhost,IP:127.0.0.1 \
			basicConstraints=CA:FALSE extendedKeyUsage=serverAuth > server.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
			-set_serial 2 -days 2 -extfile server.ext -out server.pem 2>/dev/null
		openssl req $ec -keyout client.key -out client.csr \
			-subj /DC=test/DC=nhi/OU=hosts/CN=testhost 2>/dev/null
		printf '%s\n' basicConstraints=CA:FALSE extendedKeyUsage=clientAuth > client.ext
		openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key \
			-set_serial 3 -days 2 -extfile client.ext -out client.pem 2>/dev/null
		chmod 600 ./*.key
	) || { echo "slapd.sh: cannot make test certificates" >&2; return 1; }
	SLAPD_CA=$d/ca.pem
	SLAPD_WRONG_CA=$d/wrong-ca.pem
	SLAPD_CLIENT_CERT=$d/client.pem
	SLAPD_CLIENT_KEY=$d/client.key
	export SLAPD_CA SLAPD_WRONG_CA SLAPD_CLIENT_CERT SLAPD_CLIENT_KEY SLAPD_CLIENT_DN
}

_slapd_config() {
	local tls=$1 schema=$2 syncprov=$3 ppolicy=$4 d=$SLAPD_DIR s
	local ext="dn.exact=$SLAPD_EXTERNAL_DN" who
	who="by $ext write"
	[ -n "$tls" ] && who="$who by dn.exact=$SLAPD_CLIENT_DN write"
	{
		cat <<-EOF
		dn: cn=config
		objectClass: olcGlobal
		cn: config
		olcPidFile: $d/slapd.pid
		olcArgsFile: $d/slapd.args
		EOF
		if [ -n "$tls" ]; then
			cat <<-EOF
			olcTLSCACertificateFile: $d/tls/ca.pem
			olcTLSCertificateFile: $d/tls/server.pem
			olcTLSCertificateKeyFile: $d/tls/server.key
			olcTLSVerifyClient: try
			olcAuthzRegexp: {0}"^cn=testhost,ou=hosts,dc=nhi,dc=test\$" "$SLAPD_CLIENT_DN"
			EOF
		fi
		cat <<-EOF

		dn: cn=module{0},cn=config
		objectClass: olcModuleList
		cn: module{0}
		olcModulePath: /usr/lib/ldap
		olcModuleLoad: {0}back_mdb
		olcModuleLoad: {1}syncprov
		olcModuleLoad: {2}ppolicy

		dn: cn=schema,cn=config
		objectClass: olcSchemaConfig
		cn: schema

		EOF
		for s in core cosine nis inetorgperson; do
			echo "include: file:///etc/ldap/schema/$s.ldif"
			echo
		done
		if [ -n "$schema" ]; then
			echo "include: file://$top_srcdir/schema/nhi.ldif"
			echo
		fi
		cat <<-EOF
		dn: cn=nhitestlock,cn=schema,cn=config
		objectClass: olcSchemaConfig
		cn: nhitestlock
		olcAttributeTypes: ( 2.16.840.1.113730.3.1.610 NAME 'nsAccountLock'
		  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
		olcObjectClasses: ( 1.3.6.1.4.1.99999.4203.1 NAME 'nhiTestAccountLock'
		  AUXILIARY MAY nsAccountLock )

		EOF
		cat <<-EOF
		dn: olcDatabase={-1}frontend,cn=config
		objectClass: olcDatabaseConfig
		objectClass: olcFrontendConfig
		olcDatabase: {-1}frontend

		dn: olcDatabase={0}config,cn=config
		objectClass: olcDatabaseConfig
		olcDatabase: {0}config
		olcAccess: {0}to * by $ext manage by * break

		dn: olcDatabase={1}mdb,cn=config
		objectClass: olcDatabaseConfig
		objectClass: olcMdbConfig
		olcDatabase: {1}mdb
		olcDbDirectory: $d/data
		olcSuffix: $SLAPD_BASE
		olcRootDN: $SLAPD_ADMIN_DN
		olcRootPW: $SLAPD_ADMIN_PW
		olcDbMaxSize: 4294967296
		olcDbNoSync: TRUE
		olcDbIndex: objectClass eq
		olcDbIndex: entryCSN,entryUUID eq
		olcDbIndex: uid,cn eq
		olcDbIndex: uidNumber,gidNumber eq
		olcDbIndex: owner,nhiCoOwner eq
		olcDbIndex: nhiExpires,nhiReviewDue,nhiState,nhiKind eq
		olcDbIndex: nhiCredentialId,nhiFingerprint eq
		olcDbIndex: nhiFrom,nhiTo,nhiEdgeType eq
		olcDbIndex: nhiResourceName,nhiDelegateTo,nhiGrantId eq
		olcLimits: {0}dn.exact="$SLAPD_EXTERNAL_DN" size=unlimited time=unlimited
		olcAccess: {0}to attrs=userPassword,nhiSecretHash $who by self write by anonymous auth by * none
		olcAccess: {1}to * $who by users read by * none

		dn: olcOverlay={0}syncprov,olcDatabase={1}mdb,cn=config
		objectClass: olcOverlayConfig
		objectClass: olcSyncProvConfig
		olcOverlay: {0}syncprov
		olcSpCheckpoint: 100 10
		olcSpSessionlog: 1000
		olcSpReloadHint: TRUE
		EOF
	} > "$d/config.ldif"
	# Without syncprov: no module, no overlay (the entry is the file's last).
	[ -n "$syncprov" ] || sed -i -e '/^olcModuleLoad: {1}syncprov/d' \
		-e 's/^olcModuleLoad: {2}ppolicy/olcModuleLoad: {1}ppolicy/' \
		-e '/^dn: olcOverlay={0}syncprov/,$d' "$d/config.ldif"
	# Without ppolicy: a stock slapd that knows no pwdAccountLockedTime.
	[ -n "$ppolicy" ] || sed -i -e '/^olcModuleLoad: {[12]}ppolicy/d' "$d/config.ldif"
	# Without nhi's schema, slapd refuses indexes on nhi attributes.
	[ -n "$schema" ] || sed -i -e '/^olcDbIndex: .*nhi/d' \
		-e 's/attrs=userPassword,nhiSecretHash/attrs=userPassword/' "$d/config.ldif"

	cat > "$d/base.ldif" <<-EOF
	dn: $SLAPD_BASE
	objectClass: dcObject
	objectClass: organization
	dc: nhi
	o: nhi test

	dn: $SLAPD_NHI_BASE
	objectClass: organizationalUnit
	ou: nhi

	dn: $SLAPD_PEOPLE_BASE
	objectClass: organizationalUnit
	ou: people

	dn: $SLAPD_GROUPS_BASE
	objectClass: organizationalUnit
	ou: groups

	dn: ou=hosts,$SLAPD_BASE
	objectClass: organizationalUnit
	ou: hosts

	dn: cn=svcusers,$SLAPD_GROUPS_BASE
	objectClass: posixGroup
	cn: svcusers
	gidNumber: 1500
	memberUid: dave
	EOF
	_slapd_person alice 1000 "Alice Admin" "userPassword: alice-pw" >> "$d/base.ldif"
	if [ -n "$ppolicy" ]; then
		_slapd_person bob 1001 "Bob Locked" "pwdAccountLockedTime: 20250101000000Z"
	else
		_slapd_person bob 1001 "Bob Locked" "nsAccountLock: TRUE"
	fi >> "$d/base.ldif"
	_slapd_person carol 1002 "Carol Expired" "shadowExpire: 19001" >> "$d/base.ldif"
	_slapd_person dave 1003 "Dave Dev" "" >> "$d/base.ldif"
}

# _slapd_person NAME UID GECOS EXTRA-LINE
_slapd_person() {
	cat <<-EOF

	dn: uid=$1,$SLAPD_PEOPLE_BASE
	objectClass: inetOrgPerson
	objectClass: posixAccount
	objectClass: shadowAccount
	objectClass: nhiTestAccountLock
	uid: $1
	cn: $3
	sn: ${3#* }
	uidNumber: $2
	gidNumber: $2
	homeDirectory: /home/$1
	loginShell: /bin/bash
	gecos: $3
	EOF
	[ -z "$4" ] || echo "$4"
}

# _slapd_launch PORT: start slapd, wait until it answers on ldapi.
# Returns 1 when slapd exited (e.g. the port is taken).
_slapd_launch() {
	local port=$1 i
	SLAPD_PORT=$port
	SLAPD_LDAP_URI=ldap://127.0.0.1:$port
	export SLAPD_PORT SLAPD_LDAP_URI
	"$SLAPD_BIN" -h "$SLAPD_LDAP_URI/ $SLAPD_LDAPI_URI" -F "$SLAPD_DIR/slapd.d" \
		-d 0 >>"$SLAPD_DIR/slapd.log" 2>&1 </dev/null &
	SLAPD_PID=$!
	export SLAPD_PID
	for ((i = 0; i < 200; i++)); do
		if LDAPNOINIT=1 ldapsearch -x -H "$SLAPD_LDAPI_URI" -b "" -s base \
			-o nettimeout=1 namingContexts >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$SLAPD_PID" 2>/dev/null; then
			wait "$SLAPD_PID" 2>/dev/null
			SLAPD_PID=
			return 1
		fi
		sleep 0.02
	done
	echo "slapd.sh: slapd did not answer within 4 s" >&2
	slapd_stop
	return 1
}

slapd_start() {
	local tls='' schema=1 syncprov=1 ppolicy=1 ldif='' try
	while [ $# -gt 0 ]; do
		case $1 in
		--tls) tls=1 ;;
		--no-schema) schema= ;;
		--no-syncprov) syncprov= ;;
		--no-ppolicy) ppolicy= ;;
		--ldif) ldif=$2; shift ;;
		*) echo "slapd_start: unknown option $1" >&2; return 2 ;;
		esac
		shift
	done
	if [ -n "$SLAPD_PID" ]; then
		echo "slapd_start: already running" >&2
		return 1
	fi
	rm -rf "$SLAPD_DIR"
	mkdir -p "$SLAPD_DIR/slapd.d" "$SLAPD_DIR/data" || return 1
	chmod 700 "$SLAPD_DIR"
	SLAPD_LDAPI_URI=ldapi://$(_slapd_urlencode "$SLAPD_DIR/ldapi")
	export SLAPD_LDAPI_URI
	printf '%s' "$SLAPD_ADMIN_PW" > "$SLAPD_DIR/admin.pw"
	chmod 600 "$SLAPD_DIR/admin.pw"

	if [ -n "$tls" ]; then
		_slapd_certs || return 1
		printf 'TLS_REQCERT demand\nTLS_CACERT %s\n' "$SLAPD_CA" > "$SLAPD_DIR/ldap.conf"
	else
		printf 'TLS_REQCERT demand\n' > "$SLAPD_DIR/ldap.conf"
	fi
	LDAPCONF=$SLAPD_DIR/ldap.conf
	export LDAPCONF

	_slapd_config "$tls" "$schema" "$syncprov" "$ppolicy" || return 1
	[ -z "$ldif" ] || { echo; cat "$ldif"; } >> "$SLAPD_DIR/base.ldif" || return 1
	if ! slapadd -n0 -F "$SLAPD_DIR/slapd.d" -l "$SLAPD_DIR/config.ldif" \
			>"$SLAPD_DIR/slapadd.log" 2>&1 ||
	   ! slapadd -q -F "$SLAPD_DIR/slapd.d" -b "$SLAPD_BASE" -w \
			-l "$SLAPD_DIR/base.ldif" >>"$SLAPD_DIR/slapadd.log" 2>&1; then
		echo "slapd.sh: slapadd failed:" >&2
		cat "$SLAPD_DIR/slapadd.log" >&2
		return 1
	fi

	if [ -z "$_slapd_registered" ]; then
		at_exit slapd_stop
		_slapd_registered=1
		# Make a signal run the EXIT trap (and so slapd_stop).
		trap 'exit 129' HUP
		trap 'exit 130' INT
		trap 'exit 143' TERM
	fi
	for try in 1 2 3 4 5 6 7 8 9 10; do
		_slapd_launch $((20000 + RANDOM % 20001)) && return 0
	done
	echo "slapd.sh: slapd would not start; log:" >&2
	tail -20 "$SLAPD_DIR/slapd.log" >&2
	return 1
}

slapd_stop() {
	local pid=$SLAPD_PID i
	[ -n "$pid" ] || return 0
	SLAPD_PID=
	kill -TERM "$pid" 2>/dev/null
	kill -CONT "$pid" 2>/dev/null	# a test may have SIGSTOPped it ("hung")
	for ((i = 0; i < 250; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "slapd.sh: slapd $pid ignored SIGTERM, killing it" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

slapd_restart() {
	local port=$SLAPD_PORT try
	slapd_stop
	for try in 1 2 3 4 5 6 7 8 9 10; do
		_slapd_launch "$port" && return 0
		sleep 0.1
	done
	echo "slapd.sh: slapd would not restart on port $port" >&2
	return 1
}

ldap_admin() {
	local cmd=$1; shift
	case $cmd in
	ldapsearch) set -- -LLL -o ldif-wrap=no "$@" ;;
	esac
	LDAPNOINIT=1 "$cmd" -H "$SLAPD_LDAPI_URI" -Y EXTERNAL -Q "$@"
}

ldap_root() {
	local cmd=$1; shift
	case $cmd in
	ldapsearch) set -- -LLL -o ldif-wrap=no "$@" ;;
	esac
	"$cmd" -H "$SLAPD_LDAP_URI" -x -D "$SLAPD_ADMIN_DN" -y "$SLAPD_DIR/admin.pw" "$@"
}

ldap_hermetic() {
	: >"$T/ldap-empty.conf"
	export LDAPCONF=$T/ldap-empty.conf LDAPNOINIT=1 NSS_WRAPPER_DISABLE_DEEPBIND=1
}

slapd_nhi_conf() {
	cat <<-EOF
	state_dir = $1
	host = $2
	backend = ldap
	ldap_uri = $SLAPD_LDAPI_URI
	ldap_bind = external
	ldap_base = $SLAPD_NHI_BASE
	ldap_people_base = $SLAPD_PEOPLE_BASE
	ldap_timeout = 2s
	orphan_grace = 0s
	uid_min = 2100000
	uid_max = 2199999
	EOF
}

slapd_gen_idents() {
	local n=$1 prefix=${2:-gen-} owner=${3:-alice} first=${4:-3000000}
	awk -v n="$n" -v p="$prefix" -v base="$SLAPD_NHI_BASE" -v first="$first" \
		-v owner="uid=$owner,$SLAPD_PEOPLE_BASE" 'BEGIN {
		for (i = 1; i <= n; i++) {
			u = first + i
			printf "dn: uid=%s%d,%s\nobjectClass: account\nobjectClass: posixAccount\n", p, i, base
			printf "objectClass: shadowAccount\nobjectClass: nhiIdentity\nuid: %s%d\ncn: %s%d\n", p, i, p, i
			printf "uidNumber: %d\ngidNumber: %d\nhomeDirectory: /var/lib/%s%d\n", u, u, p, i
			printf "loginShell: /usr/sbin/nologin\nowner: %s\ndescription: generated %d\n", owner, i
			printf "nhiKind: service\nnhiState: active\nnhiExpires: 20991231000000Z\n"
			printf "nhiCreated: 20260101000000Z\nnhiReviewInterval: 7776000\n"
			printf "nhiReviewDue: 20990101000000Z\n\n"
		}
	}'
}

# slapd_ident NAME UID [OWNER] [RDN]: LDIF of an active service identity
# below $SLAPD_NHI_BASE (RDN: another DN with the same uid attribute, as a
# replication conflict leaves it)
slapd_ident() {
	cat <<-EOF
	dn: ${4:-uid=$1},$SLAPD_NHI_BASE
	objectClass: account
	objectClass: posixAccount
	objectClass: shadowAccount
	objectClass: nhiIdentity
	uid: $1
	cn: $1
	uidNumber: $2
	gidNumber: $2
	homeDirectory: /var/lib/$1
	loginShell: /usr/sbin/nologin
	owner: uid=${3:-alice},$SLAPD_PEOPLE_BASE
	description: purpose of $1
	nhiKind: service
	nhiState: active
	nhiExpires: 20991231000000Z
	nhiCreated: 20260101000000Z
	nhiReviewInterval: 7776000
	nhiReviewDue: 20990101000000Z

	EOF
}

# ---- slapds from the example configs (docs/replication/*.ldif) -----------
#   slapd_example_config NAME LDIF [SED-EXPR...]
#       $T/ex/NAME/config.ldif: LDIF with only the SED-EXPRs applied (the
#       test replaces URIs and paths, nothing else), slapadded as cn=config
#       into $T/ex/NAME/slapd.d.  The ldapi URI of NAME (its socket
#       $T/ex/NAME/ldapi) is known before: slapd_example_uri NAME.
#   slapd_example_load NAME SUFFIX LDIF
#       slapadd LDIF into NAME's database of SUFFIX (with contextCSN).
#   slapd_example_launch NAME [URL...]
#       start NAME on its ldapi socket (and the URLs, e.g.
#       ldaps://127.0.0.1:PORT/), wait until it answers; stopped (SIGTERM +
#       wait) when the test exits.
#   slapd_example_admin NAME CMD ARGS...   an ldap-utils CMD as root over
#       NAME's socket with SASL EXTERNAL (ldapsearch: -LLL, no wrapping).
slapd_example_uri() { printf 'ldapi://%s' "$(_slapd_urlencode "$T/ex/$1/ldapi")"; }

slapd_example_config() {
	local name=$1 src=$2 dir=$T/ex/$1 e
	shift 2
	mkdir -p "$dir/slapd.d" "$dir/data" "$dir/accesslog" && chmod 700 "$dir" || return 1
	cp "$src" "$dir/config.ldif" || return 1
	for e in "$@"; do
		sed -i -e "$e" "$dir/config.ldif" || return 1
	done
	slapadd -n0 -F "$dir/slapd.d" -l "$dir/config.ldif" >"$dir/slapadd.log" 2>&1 ||
		{ echo "slapd.sh: slapadd of $src for $name failed:" >&2; cat "$dir/slapadd.log" >&2; return 1; }
}

slapd_example_load() {
	slapadd -q -w -F "$T/ex/$1/slapd.d" -b "$2" -l "$3" >>"$T/ex/$1/slapadd.log" 2>&1 ||
		{ echo "slapd.sh: slapadd of $3 into $1 failed:" >&2; cat "$T/ex/$1/slapadd.log" >&2; return 1; }
}

_slapd_example_pids=
_slapd_example_stop_all() {
	local pid i
	for pid in $_slapd_example_pids; do
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 250; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.02
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	_slapd_example_pids=
}

slapd_example_launch() {
	local name=$1 dir=$T/ex/$1 uri pid i
	shift
	uri=$(slapd_example_uri "$name")
	[ -n "$_slapd_example_pids" ] || at_exit _slapd_example_stop_all
	"$SLAPD_BIN" -h "$uri${*:+ $*}" -F "$dir/slapd.d" -d 0 >>"$dir/slapd.log" 2>&1 </dev/null &
	pid=$!
	_slapd_example_pids="$_slapd_example_pids $pid"
	for ((i = 0; i < 250; i++)); do
		LDAPNOINIT=1 ldapsearch -x -H "$uri" -b "" -s base -o nettimeout=1 namingContexts \
			>/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	echo "slapd.sh: $name did not start:" >&2
	tail -20 "$dir/slapd.log" >&2
	return 1
}

slapd_example_admin() {
	local name=$1
	shift
	SLAPD_LDAPI_URI=$(slapd_example_uri "$name") ldap_admin "$@"
}

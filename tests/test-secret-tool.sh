#!/bin/bash
# test-secret-tool.sh - the credentials nhictl/util/secret.c makes, checked with
# the real tools that will consume them: ssh-keygen reads the OpenSSH
# private key, derives the public key and fingerprint and signs with it;
# openssl verifies the certificate against a CA made here and shows its
# name, expiry and serial; a real slapd lets an entry bind with a password
# hashed by the module ({CRYPT}$y$ yescrypt).  tests/secret-tool.c is the
# driver.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/slapd.sh"

ST=${SECRET_TOOL:-$top_builddir/tests/secret-tool}
W=$T/secret
mkdir -m 700 "$W"
export OPENSSL_CONF=/dev/null   # the host's openssl.cnf plays no part

# expect_fail DESC PATTERN CMD...: exits 1 with one line on stderr
# matching PATTERN, nothing on stdout
expect_fail() {
	local d=$1 pat=$2 rc; shift 2
	"$@" >"$T/out" 2>"$T/err"; rc=$?
	if [ $rc -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$pat" "$T/err" &&
		[ ! -s "$T/out" ]; then
		ok "$d"
	else
		nok "$d: rc $rc, stderr: $(cat "$T/err"), stdout: $(cat "$T/out")"
	fi
}
mode_of() { stat -c %a "$1"; }
# quiet CMD...: CMD with its output discarded (for check: a redirection
# after 'check' would swallow the ok line)
quiet() { "$@" >/dev/null 2>&1; }
# fails CMD...: CMD exits non-zero (a command that cannot run does not count)
fails() { "$@"; local rc=$?; [ $rc -ne 0 ] && [ $rc -ne 126 ] && [ $rc -ne 127 ]; }
# check_re DESC STRING REGEX (bash regex)
check_re() { if [[ $2 =~ $3 ]]; then ok "$1"; else nok "$1: '$2'"; fi; }
# check_in DESC GREP-ARGS...: grep -q on the text of the last certificate
check_in() { local d=$1; shift; check "$d" grep -q "$@" "$T/cert.txt"; }

# --- SSH keys ---------------------------------------------------------------

if command -v ssh-keygen >/dev/null; then
	fp=$("$ST" ssh-new "svc-deploy@nhi-test" "$W/id" "$W/id.pub")
	check "ssh-new prints a SHA256 fingerprint" [ "${fp#SHA256:}" != "$fp" ]
	check "the private key file is 0600" [ "$(mode_of "$W/id")" = 600 ]
	ssh-keygen -y -f "$W/id" >"$T/derived.pub"
	check "ssh-keygen reads the private key (ssh-keygen -y)" [ $? -eq 0 ]
	check "ssh-keygen -y reproduces the public key line" \
		[ "$(cut -d' ' -f1,2 "$T/derived.pub")" = "$(cut -d' ' -f1,2 "$W/id.pub")" ]
	check "the public line is 'ssh-ed25519 AAAA... comment'" \
		grep -qxE 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} svc-deploy@nhi-test' "$W/id.pub"
	check "ssh-keygen -l on the public key prints the same fingerprint" \
		[ "$(ssh-keygen -l -f "$W/id.pub" | cut -d' ' -f2)" = "$fp" ]
	check "ssh-keygen -l on the private key: same fingerprint and the comment" \
		[ "$(ssh-keygen -l -f "$W/id" | cut -d' ' -f2,3)" = "$fp svc-deploy@nhi-test" ]
	check "the private key is base64 wrapped at 70 columns like ssh-keygen's" \
		[ "$(sed '1d;$d' "$W/id" | sed '$d' | awk 'length != 70' | wc -l)" = 0 ]
	# the seed and the public key belong together: sign and verify
	echo "message" >"$T/msg"
	echo "svc-deploy $(cut -d' ' -f1,2 "$W/id.pub")" >"$T/allowed"
	if ssh-keygen -Y sign -f "$W/id" -n nhi-test "$T/msg" >/dev/null 2>&1; then
		verify_msg() {
			ssh-keygen -Y verify -f "$T/allowed" -I svc-deploy -n nhi-test \
				-s "$T/msg.sig" <"$1" >/dev/null 2>&1
		}
		echo "other" >"$T/msg2"
		check "a signature made with the private key verifies with the public key" \
			verify_msg "$T/msg"
		check "... and fails for another message" fails verify_msg "$T/msg2"
	else
		nok "ssh-keygen -Y sign with the private key"
	fi
	fp2=$("$ST" ssh-new "" "$W/id2" "$W/id2.pub")
	check "a second key differs" [ "$fp2" != "$fp" ]
	check "... and so does its private key file" fails cmp -s "$W/id" "$W/id2"
	check "ssh-keygen accepts a key without a comment" quiet ssh-keygen -y -f "$W/id2"
	# the module's fingerprint of keys ssh-keygen made
	for t in ed25519 ecdsa; do
		ssh-keygen -q -t $t -N '' -C ref -f "$T/ref-$t" </dev/null
		check "ssh-fp of an ssh-keygen $t key equals ssh-keygen -l" \
			[ "$("$ST" ssh-fp "$T/ref-$t.pub")" = "$(ssh-keygen -l -f "$T/ref-$t.pub" | cut -d' ' -f2)" ]
	done
	printf 'ssh-ed25519 AAAA\n' >"$T/bad.pub"
	expect_fail "ssh-fp refuses a truncated public key" "ssh-fp" "$ST" ssh-fp "$T/bad.pub"
	expect_fail "ssh-new refuses a comment with a newline" "ssh-new" \
		"$ST" ssh-new $'a\nb' "$W/id3" "$W/id3.pub"
	check "... and writes no file" [ ! -e "$W/id3" ]
else
	nok "ssh-keygen (openssh-client) is not installed"
fi

# --- certificates -----------------------------------------------------------

# mkca NAME [openssl req key options]: a CA made by openssl req
mkca() {
	local n=$1; shift
	openssl req -x509 "$@" -nodes -keyout "$T/$n.key" -out "$T/$n.pem" -days 30 \
		-subj "/CN=nhi test $n" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null && chmod 600 "$T/$n.key"
}
if mkca ca -newkey ec -pkeyopt ec_paramgen_curve:P-256 && mkca edca -newkey ed25519; then
	na=$(( $(date +%s) + 7200 ))
	out=$("$ST" cert-new "$T/ca.pem" "$T/ca.key" svc-web "$na" "$W/web.pem" "$W/web.key")
	serial=${out%% *} cfp=${out#* }
	check "openssl verify -CAfile ca.pem: OK" \
		[ "$(openssl verify -CAfile "$T/ca.pem" "$W/web.pem" 2>&1)" = "$W/web.pem: OK" ]
	check "openssl verify -purpose sslclient: OK" \
		quiet openssl verify -purpose sslclient -CAfile "$T/ca.pem" "$W/web.pem"
	check "the certificate does not verify against another CA" \
		fails quiet openssl verify -CAfile "$T/edca.pem" "$W/web.pem"
	{ openssl x509 -in "$W/web.pem" -noout -text -nameopt RFC2253
	  openssl x509 -in "$W/web.pem" -noout -subject -nameopt RFC2253; } >"$T/cert.txt"
	check_in "subject CN=svc-web" -x 'subject=CN=svc-web'
	check_in "issuer is the CA" 'Issuer: CN=nhi test ca$'
	check_in "SAN DNS:svc-web" -x ' *DNS:svc-web'
	check "notAfter is the one asked for" \
		[ "$(openssl x509 -in "$W/web.pem" -noout -enddate)" = "notAfter=$(LC_ALL=C date -u -d "@$na" '+%b %e %H:%M:%S %Y GMT')" ]
	nb=$(openssl x509 -in "$W/web.pem" -noout -startdate | cut -d= -f2)
	nbs=$(date -u -d "$nb" +%s)
	age=$(( $(date +%s) - nbs ))
	check "notBefore is about 5 minutes ago" [ $age -ge 295 -a $age -le 400 ]
	check "the serial printed is the certificate's" \
		[ "$(openssl x509 -in "$W/web.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)" = "$serial" ]
	check_re "the serial has 128 bits, the top one set (positive, 16 bytes)" "$serial" '^[89a-f][0-9a-f]{31}$'
	check "the fingerprint printed is the SHA-256 of the DER certificate" \
		[ "SHA256:$(openssl x509 -in "$W/web.pem" -outform DER | sha256sum | cut -d' ' -f1)" = "$cfp" ]
	ext() { openssl x509 -in "$W/web.pem" -noout -ext "$1" | sed 1d | tr -d ' '; }
	check "basicConstraints critical CA:FALSE" \
		[ "$(openssl x509 -in "$W/web.pem" -noout -ext basicConstraints | tr -d ' ' | tr '\n' ' ')" = "X509v3BasicConstraints:critical CA:FALSE " ]
	check "keyUsage critical digitalSignature only" \
		[ "$(openssl x509 -in "$W/web.pem" -noout -ext keyUsage | tr -d ' ' | tr '\n' ' ')" = "X509v3KeyUsage:critical DigitalSignature " ]
	check "extendedKeyUsage clientAuth only" [ "$(ext extendedKeyUsage)" = "TLSWebClientAuthentication" ]
	cakid=$(openssl x509 -in "$T/ca.pem" -noout -ext subjectKeyIdentifier | sed 1d | tr -d ' ')
	check "authorityKeyIdentifier is the CA's subjectKeyIdentifier" \
		[ -n "$cakid" -a "$(ext authorityKeyIdentifier)" = "$cakid" ]
	check "subjectKeyIdentifier is the SHA-1 of the public key" \
		[ "$(ext subjectKeyIdentifier | tr -d : | tr A-F a-f)" = "$(openssl x509 -in "$W/web.pem" -noout -pubkey | openssl pkey -pubin -outform DER | tail -c 65 | sha1sum | cut -d' ' -f1)" ]
	check "the private key belongs to the certificate" \
		[ "$(openssl pkey -in "$W/web.key" -pubout)" = "$(openssl x509 -in "$W/web.pem" -noout -pubkey)" ]
	check "the key file is 0600, the certificate too (written by secret_write_file)" \
		[ "$(mode_of "$W/web.key") $(mode_of "$W/web.pem")" = "600 600" ]
	# a TLS client authenticates with it to a server trusting the CA
	if command -v timeout >/dev/null; then
		mkca srv -newkey ec -pkeyopt ec_paramgen_curve:P-256 >/dev/null
		# tls_login CERT KEY: an HTTPS GET with that client certificate
		# from a server (on a free port) that requires one from the CA
		tls_login() {
			local port='' spid
			timeout 20 openssl s_server -accept 127.0.0.1:0 -cert "$T/srv.pem" -key "$T/srv.key" \
				-CAfile "$T/ca.pem" -Verify 1 -verify_return_error -naccept 1 -www \
				>"$T/s_server.out" 2>&1 &
			spid=$!
			for _ in $(seq 100); do
				port=$(sed -n 's/^ACCEPT 127.0.0.1:\([0-9]*\)$/\1/p' "$T/s_server.out")
				[ -n "$port" ] && break
				sleep 0.1
			done
			printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$port" \
				-cert "$1" -key "$2" -CAfile "$T/srv.pem" -quiet >"$T/s_client.out" 2>&1
			kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
			grep -q '^HTTP/1.0 200 ok' "$T/s_client.out"
		}
		check "a TLS server requiring client certificates from the CA accepts it" \
			tls_login "$W/web.pem" "$W/web.key"
		check "... and refuses a certificate from another CA" \
			fails tls_login "$T/srv.pem" "$T/srv.key"
	fi
	# an Ed25519 CA, a name that is no DNS name
	"$ST" cert-new "$T/edca.pem" "$T/edca.key" svc_agent "$na" "$W/a.pem" "$W/a.key" >/dev/null
	check "an Ed25519 CA signs a certificate that verifies" \
		quiet openssl verify -CAfile "$T/edca.pem" "$W/a.pem"
	openssl x509 -in "$W/a.pem" -noout -ext subjectAltName >"$T/cert.txt"
	check_in "a name with '_' gets SAN URI:urn:nhi:NAME" -x ' *URI:urn:nhi:svc_agent'
	# refusals
	chmod 644 "$T/ca.key"
	expect_fail "a CA key readable by others is refused, naming it" "$T/ca.key.*readable by group or others" \
		"$ST" cert-new "$T/ca.pem" "$T/ca.key" svc-web "$na" "$W/x.pem" "$W/x.key"
	chmod 640 "$T/ca.key"
	expect_fail "a CA key readable by the group is refused" "readable by group or others" \
		"$ST" cert-new "$T/ca.pem" "$T/ca.key" svc-web "$na" "$W/x.pem" "$W/x.key"
	chmod 600 "$T/ca.key"
	if [ "$(id -u)" = 0 ]; then
		chown 4321 "$T/ca.key"
		expect_fail "a CA key owned by another user is refused" "owned by uid 4321" \
			"$ST" cert-new "$T/ca.pem" "$T/ca.key" svc-web "$na" "$W/x.pem" "$W/x.key"
		chown 0 "$T/ca.key"
	fi
	ln -s "$T/ca.key" "$T/ca-link.key"
	expect_fail "a CA key behind a symbolic link is refused" "symbolic link" \
		"$ST" cert-new "$T/ca.pem" "$T/ca-link.key" svc-web "$na" "$W/x.pem" "$W/x.key"
	expect_fail "a CA key that is not the CA certificate's is refused" "does not match" \
		"$ST" cert-new "$T/ca.pem" "$T/edca.key" svc-web "$na" "$W/x.pem" "$W/x.key"
	expect_fail "a certificate that is no CA's cannot sign" "not a CA certificate" \
		"$ST" cert-new "$W/web.pem" "$W/web.key" svc-web "$na" "$W/x.pem" "$W/x.key"
	expect_fail "a not-after in the past is refused" "in the past" \
		"$ST" cert-new "$T/ca.pem" "$T/ca.key" svc-web "$(( $(date +%s) - 10 ))" "$W/x.pem" "$W/x.key"
	expect_fail "a certificate outliving its CA is refused" "later than the CA" \
		"$ST" cert-new "$T/ca.pem" "$T/ca.key" svc-web "$(( $(date +%s) + 400 * 86400 ))" "$W/x.pem" "$W/x.key"
	check "... and no certificate or key file was written" [ ! -e "$W/x.pem" -a ! -e "$W/x.key" ]
else
	nok "openssl req cannot make a test CA"
fi

# --- tokens -----------------------------------------------------------------

read -r tok id < <("$ST" token-new)
check_re "token-new: nhi_ID_SECRETCRC" "$tok" '^nhi_[0-9A-Za-z]{12}_[0-9A-Za-z]{49}$'
check "token-parse gives back the id" [ "$("$ST" token-parse "$tok")" = "$id" ]
bad=${tok:0:30}$([ "${tok:30:1}" = x ] && echo y || echo x)${tok:31}
expect_fail "a token with one character changed fails its checksum" "token-parse" \
	"$ST" token-parse "$bad"
mac=$(echo "$tok" | "$ST" token-mac "$W/pepper")
check "the pepper file is made 0600, 32 bytes" \
	[ "$(stat -c '%a %s' "$W/pepper")" = "600 32" ]
check_re "the MAC is 64 hex digits" "$mac" '^[0-9a-f]{64}$'
check "the MAC is HMAC-SHA-256 with the pepper as key" \
	[ "$(printf %s "$tok" | openssl dgst -sha256 -mac HMAC -macopt hexkey:"$(od -An -tx1 -v "$W/pepper" | tr -d ' \n')" | sed 's/.*= //')" = "$mac" ]
check "token-verify accepts the token" bash -c 'echo "$1" | "$2" token-verify "$3" "$4"' _ "$tok" "$ST" "$W/pepper" "$mac"
expect_fail "token-verify refuses a tampered token" "token-verify" \
	bash -c 'echo "$1" | "$2" token-verify "$3" "$4"' _ "$bad" "$ST" "$W/pepper" "$mac"
# concurrent first uses agree on one pepper: it is created with link(2),
# never replaced
pids=""
for i in 1 2 3 4 5 6; do
	echo "$tok" | "$ST" token-mac "$W/pepper2" >"$T/mac.$i" 2>&1 &
	pids="$pids $!"
done
for p in $pids; do wait "$p"; done
check "six concurrent first uses of a new pepper compute the same MAC" \
	[ "$(cat "$T"/mac.[1-6] | sort -u | wc -l)" = 1 -a -s "$T/mac.1" ]
check "... with the pepper left on disk (and no temp file)" \
	[ "$(cat "$T/mac.1")" = "$(echo "$tok" | "$ST" token-mac "$W/pepper2")" -a -z "$(ls "$W" | grep 'pepper2.tmp')" ]
chmod 644 "$W/pepper"
expect_fail "a pepper readable by others is refused" "$W/pepper.*readable" \
	bash -c 'echo "$1" | "$2" token-mac "$3"' _ "$tok" "$ST" "$W/pepper"

# --- secret_write_file ------------------------------------------------------

mkdir -m 777 "$T/open"
expect_fail "write refuses a directory everyone can write to" "writable by others" \
	bash -c 'echo data | "$1" write "$2"' _ "$ST" "$T/open/f"
check "... and leaves nothing in it" [ -z "$(ls -A "$T/open")" ]
echo data | "$ST" write "$W/f"
check "write makes a 0600 file with the data" [ "$(mode_of "$W/f"):$(cat "$W/f")" = "600:data" ]
# every directory on the way is checked, not only the last: a user who
# owns an ancestor could swap the root-owned directory below it for a
# symbolic link between the check and the write
if [ "$(id -u)" = 0 ]; then
	mkdir -m 755 "$T/svcown" "$T/target"
	mkdir -m 700 "$T/svcown/keys"
	chown 54321 "$T/svcown"
	expect_fail "write refuses a path through a directory another user owns" \
		"svcown belongs to uid 54321" bash -c 'echo data | "$1" write "$2"' _ "$ST" "$T/svcown/keys/f"
	check "... and leaves nothing behind" [ -z "$(ls -A "$T/svcown/keys")" ]
	# the swap itself: the owner replaced keys/ with a link to root's directory
	mv "$T/svcown/keys" "$T/svcown/keys.old"; ln -s "$T/target" "$T/svcown/keys"
	chown -h 54321 "$T/svcown/keys"
	expect_fail "... and through the link that user planted" "belongs to uid 54321" \
		bash -c 'echo data | "$1" write "$2"' _ "$ST" "$T/svcown/keys/f"
	check "... which reached nothing" [ -z "$(ls -A "$T/target")" ]
	# root's own link in root's directory is followed, and its target walked
	mkdir -m 755 "$T/safe"; ln -s "$T/target" "$T/safe/link"
	echo data | "$ST" write "$T/safe/link/f"
	check "a link of root's in root's directory is followed" [ "$(cat "$T/target/f" 2>/dev/null)" = data ]
	ln -s "$T/svcown/keys.old" "$T/safe/link2"
	expect_fail "... but its target is walked and checked too" "belongs to uid 54321" \
		bash -c 'echo data | "$1" write "$2"' _ "$ST" "$T/safe/link2/f"
	# in a sticky directory (as /tmp), only root's links are followed
	mkdir -m 1777 "$T/sticky"; ln -s "$T/target" "$T/sticky/ulink"; chown -h 54321 "$T/sticky/ulink"
	expect_fail "a link another user owns in a sticky directory is not followed" \
		"symbolic link ulink" bash -c 'echo data | "$1" write "$2"' _ "$ST" "$T/sticky/ulink/g"
	check "... and nothing reached its target" [ ! -e "$T/target/g" ]
fi

# --- passwords in a real slapd ----------------------------------------------

if [ -x "$SLAPD_BIN" ] && command -v ldapwhoami >/dev/null; then
	slapd_start
	pw=$("$ST" password-new)
	check_re "password-new: 32 characters of the unambiguous alphabet" "$pw" '^[2-9A-HJ-NP-Za-kmnp-z]{32}$'
	hash=$(printf '%s\n' "$pw" | "$ST" password-hash)
	check "the hash is {CRYPT}\$y\$ (yescrypt)" [ "${hash:0:10}" = '{CRYPT}$y$' ]
	pw2=$("$ST" password-new)
	hash2=$(printf '%s\n' "$pw2" | "$ST" password-hash)
	DN=uid=svc-bind,$SLAPD_PEOPLE_BASE
	ldap_admin ldapadd >/dev/null <<EOF
dn: $DN
objectClass: inetOrgPerson
uid: svc-bind
cn: svc-bind
sn: svc-bind
userPassword: $hash
EOF
	check "an entry with the hash as userPassword is added" [ $? -eq 0 ]
	check "slapd lets the entry bind with the password (ldapwhoami)" \
		[ "$(ldapwhoami -x -H "$SLAPD_LDAP_URI" -D "$DN" -w "$pw" 2>&1)" = "dn:$DN" ]
	ldapwhoami -x -H "$SLAPD_LDAP_URI" -D "$DN" -w "${pw}x" >/dev/null 2>&1; rc=$?
	check "a wrong password is refused by slapd (invalid credentials, 49)" [ $rc -eq 49 ]
	ldapwhoami -x -H "$SLAPD_LDAP_URI" -D "$DN" -w "$pw2" >/dev/null 2>&1; rc=$?
	check "another generated password is refused (49)" [ $rc -eq 49 ]
	# the overlap of a rotation: two values, both bind
	ldap_admin ldapmodify >/dev/null <<EOF
dn: $DN
changetype: modify
add: userPassword
userPassword: $hash2
EOF
	check "a second hash is added to userPassword" [ $? -eq 0 ]
	check "with two hashes stored, the old password binds" \
		quiet ldapwhoami -x -H "$SLAPD_LDAP_URI" -D "$DN" -w "$pw"
	check "... and the new one" quiet ldapwhoami -x -H "$SLAPD_LDAP_URI" -D "$DN" -w "$pw2"
	stored=$(ldap_admin ldapsearch -b "$DN" -s base userPassword | head -2 | tail -1)
	case $stored in
	"userPassword:: "*) stored=$(printf '%s' "${stored#userPassword:: }" | base64 -d) ;;
	*) stored=${stored#userPassword: } ;;
	esac
	check "the module verifies the hash slapd stored" \
		bash -c 'printf "%s\n" "$1" | "$2" password-verify "$3"' _ "$pw" "$ST" "$stored"
	slapd_stop
else
	nok "slapd or ldap-utils not installed"
fi
expect_fail "password-verify refuses a wrong password" "password-verify" \
	bash -c 'printf "wrong\n" | "$1" password-verify "$2"' _ "$ST" "${hash:-x}"

finish

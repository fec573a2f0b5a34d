# tests/slapd-repl.sh - replicated OpenLDAP for the tests (issue 17): two
# writable providers replicating each other (multi-provider) and one
# read-only consumer, each a throwaway slapd like tests/slapd.sh's.
# Source it AFTER tests/common.sh and tests/slapd.sh (it reuses
# _slapd_config: the same schema, ACLs, indexes and base entries).
# Runs as root (replication binds with SASL EXTERNAL over ldapi as
# uid 0, SLAPD_EXTERNAL_DN).
#
# Replication is plain syncrepl (refreshAndPersist, full entries), not
# delta-syncrepl: no accesslog database.  Each provider has olcServerID
# 1 or 2, the syncprov overlay, one olcSyncrepl to the other over its
# ldapi socket and olcMultiProvider TRUE; the consumer (olcServerID 3,
# no syncprov, olcUpdateRef to p1) has one olcSyncrepl to p1 (a host's
# `nhictl sync` from it is refused the Sync control and scans).
# The base entries are slapadded into p1 only; p2 and c1 start empty
# and get them by replication (an entry slapadded into two servers would
# have two entryUUIDs).
#
# INTERFACE
#   repl_start      starts p1, p2 and c1 (in that order) in $T/repl/NAME,
#                   waits until all three hold the base entries and
#                   registers repl_stop_all with at_exit.  Exports per
#                   server NAME (p1 p2 c1): REPL_<NAME>_URI (ldapi),
#                   REPL_<NAME>_LDAP (ldap://127.0.0.1:PORT), and
#                   REPL_SERVERS="p1 p2 c1".
#   repl_stop NAME  SIGTERM + wait (a provider down: failover).
#   repl_start1 NAME  start a stopped server again (same port, same data).
#   repl_partition  the providers stop replicating each other (their
#                   olcSyncrepl is removed over cn=config): both stay up
#                   and writable, neither sees the other's writes.
#   repl_heal       put the olcSyncrepl values back (both resync).
#   repl_resync     restart every running server's syncrepl, the
#                   consumer's too (a stalled refresh starts over).
#   repl_converge [SECS]  wait (default 30 s) until every running server
#                   has the same contextCSN set on the suffix; 1 on timeout
#                   (the values are printed to stderr).
#   repl_csn NAME   the suffix's contextCSN values on NAME, sorted, one line.
#   repl_admin NAME CMD ARGS...  ldap_admin against server NAME.
#   repl_host NAME URI-NAMES...  host NAME: repl_nhi_conf into $T/NAME.conf,
#                   state in $T/NAME; repl_on NAME ARGS...  nhictl on it.
#   repl_now, repl_secs A B  timestamps and their difference (s, 2 places).
#   repl_nhi_conf NAME STATE-DIR HOST URI-NAMES...
#                   nhi.conf of a host writing to the servers URI-NAMES
#                   (in that order: ldap_uri), as slapd_nhi_conf.

REPL_SERVERS="p1 p2 c1"
_repl_registered=

_repl_var() { eval "printf '%s' \"\${REPL_${1^^}_$2}\""; }
_repl_set() { eval "REPL_${1^^}_$2=\$3; export REPL_${1^^}_$2"; }

# _repl_syncrepl RID PROVIDER-LDAPI-URI: one olcSyncrepl value
_repl_syncrepl() {
	printf 'rid=%03d provider=%s bindmethod=sasl saslmech=EXTERNAL searchbase="%s" type=refreshAndPersist retry="1 +" timeout=3 network-timeout=2 keepalive=60:3:5 schemachecking=off' \
		"$1" "$2" "$SLAPD_BASE"
}

# _repl_source NAME: the server NAME replicates from, and the rid it
# uses for it: p1 from p2, p2 and c1 from p1
_repl_source() {
	case $1 in
	p1) echo "p2 2" ;;
	*) echo "p1 1" ;;
	esac
}

# _repl_config NAME SID: config.ldif of server NAME in $T/repl/NAME
_repl_config() {
	local name=$1 sid=$2 dir=$T/repl/$1 peer rid
	SLAPD_DIR=$dir
	_slapd_config '' 1 1 1 || return 1
	sed -i -e "/^cn: config\$/a olcServerID: $sid" "$dir/config.ldif"
	read -r peer rid <<<"$(_repl_source "$name")"
	{
		echo "olcSyncrepl: {0}$(_repl_syncrepl "$rid" "$(_repl_var "$peer" URI)")"
		if [ "$name" = c1 ]; then
			echo "olcUpdateRef: $(_repl_var p1 LDAP)"
		else
			echo "olcMultiProvider: TRUE"
		fi
	} > "$dir/repl.ldif"
	sed -i -e "/^olcRootPW: /r $dir/repl.ldif" "$dir/config.ldif"
	# the consumer: no syncprov overlay (the file's last entry)
	[ "$name" != c1 ] || sed -i -e '/^dn: olcOverlay={0}syncprov/,$d' "$dir/config.ldif"
}

# _repl_launch NAME: start server NAME on its port and socket, wait until
# it answers.
_repl_launch() {
	local name=$1 dir=$T/repl/$1 uri ldap pid i
	uri=$(_repl_var "$name" URI)
	ldap=$(_repl_var "$name" LDAP)
	"$SLAPD_BIN" -h "$ldap/ $uri" -F "$dir/slapd.d" -d 0 >>"$dir/slapd.log" 2>&1 </dev/null &
	pid=$!
	_repl_set "$name" PID "$pid"
	for ((i = 0; i < 250; i++)); do
		if LDAPNOINIT=1 ldapsearch -x -H "$uri" -b "" -s base -o nettimeout=1 \
			namingContexts >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; _repl_set "$name" PID ''; return 1; }
		sleep 0.02
	done
	echo "slapd-repl.sh: $name did not answer within 5 s" >&2
	return 1
}

repl_start() {
	local name sid=0 port
	rm -rf "$T/repl"
	for name in $REPL_SERVERS; do
		mkdir -p "$T/repl/$name/slapd.d" "$T/repl/$name/data" || return 1
		chmod 700 "$T/repl/$name"
		_repl_set "$name" URI "ldapi://$(_slapd_urlencode "$T/repl/$name/ldapi")"
		# distinct ports: 20000-29999, 30000-39999 ... by server
		port=$((20000 + sid * 6000 + RANDOM % 6000))
		sid=$((sid + 1))
		_repl_set "$name" PORT "$port"
		_repl_set "$name" LDAP "ldap://127.0.0.1:$port"
	done
	sid=0
	for name in $REPL_SERVERS; do
		sid=$((sid + 1))
		_repl_config "$name" "$sid" || return 1
		if ! slapadd -n0 -F "$T/repl/$name/slapd.d" -l "$T/repl/$name/config.ldif" \
				>"$T/repl/$name/slapadd.log" 2>&1 ||
		   { [ "$name" = p1 ] && ! slapadd -q -F "$T/repl/$name/slapd.d" -b "$SLAPD_BASE" \
				-w -l "$T/repl/$name/base.ldif" >>"$T/repl/$name/slapadd.log" 2>&1; }; then
			echo "slapd-repl.sh: slapadd failed for $name:" >&2
			cat "$T/repl/$name/slapadd.log" >&2
			return 1
		fi
	done
	SLAPD_DIR=$T/slapd
	printf 'TLS_REQCERT demand\n' > "$T/repl/ldap.conf"
	export LDAPCONF=$T/repl/ldap.conf
	if [ -z "$_repl_registered" ]; then
		at_exit repl_stop_all
		_repl_registered=1
		trap 'exit 129' HUP
		trap 'exit 130' INT
		trap 'exit 143' TERM
	fi
	for name in $REPL_SERVERS; do
		_repl_launch "$name" || { tail -20 "$T/repl/$name/slapd.log" >&2; return 1; }
	done
	repl_converge 30
}

repl_stop() {
	local name=$1 pid i
	pid=$(_repl_var "$name" PID)
	[ -n "$pid" ] || return 0
	_repl_set "$name" PID ''
	kill -TERM "$pid" 2>/dev/null
	kill -CONT "$pid" 2>/dev/null
	for ((i = 0; i < 250; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

repl_start1() {
	local name=$1 try
	[ -z "$(_repl_var "$name" PID)" ] || return 0
	for try in 1 2 3 4 5 6 7 8 9 10; do
		_repl_launch "$name" && return 0
		sleep 0.2
	done
	echo "slapd-repl.sh: $name would not restart" >&2
	return 1
}

repl_stop_all() {
	local name
	for name in $REPL_SERVERS; do
		repl_stop "$name"
	done
}

repl_admin() {
	local name=$1 cmd=$2
	shift 2
	case $cmd in
	ldapsearch) set -- -LLL -o ldif-wrap=no "$@" ;;
	esac
	LDAPNOINIT=1 "$cmd" -H "$(_repl_var "$name" URI)" -Y EXTERNAL -Q "$@"
}

# _repl_syncrepl_mod NAME add|delete
_repl_syncrepl_mod() {
	local name=$1 op=$2 peer rid
	read -r peer rid <<<"$(_repl_source "$name")"
	if [ "$op" = delete ]; then
		printf 'dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\ndelete: olcSyncrepl\n'
	else
		printf 'dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\nadd: olcSyncrepl\nolcSyncrepl: %s\n' \
			"$(_repl_syncrepl "$rid" "$(_repl_var "$peer" URI)")"
	fi | repl_admin "$name" ldapmodify >/dev/null
}

repl_partition() {
	_repl_syncrepl_mod p1 delete && _repl_syncrepl_mod p2 delete
}

repl_heal() {
	_repl_syncrepl_mod p1 add && _repl_syncrepl_mod p2 add
}

# repl_resync: every running server's syncrepl removed and added again (as
# an admin restarts a stalled consumer): each refreshes from its source
repl_resync() {
	local name op
	for op in delete add; do
		for name in $REPL_SERVERS; do
			[ -n "$(_repl_var "$name" PID)" ] || continue
			_repl_syncrepl_mod "$name" "$op" || return 1
		done
	done
}

repl_csn() {
	repl_admin "$1" ldapsearch -b "$SLAPD_BASE" -s base contextCSN 2>/dev/null |
		sed -n 's/^contextCSN: //p' | sort | paste -sd' '
}

repl_converge() {
	local secs=${1:-30} i name first csn ok
	for ((i = 0; i < secs * 10; i++)); do
		ok=1 first=
		for name in $REPL_SERVERS; do
			[ -n "$(_repl_var "$name" PID)" ] || continue
			csn=$(repl_csn "$name")
			[ -n "$csn" ] || { ok=; break; }
			if [ -z "$first" ]; then first=$csn
			elif [ "$csn" != "$first" ]; then ok=; break
			fi
		done
		[ -n "$ok" ] && return 0
		sleep 0.1
	done
	for name in $REPL_SERVERS; do
		echo "slapd-repl.sh: $name contextCSN: $(repl_csn "$name")" >&2
	done
	return 1
}

repl_nhi_conf() {
	local name=$1 st=$2 host=$3 uris='' n
	shift 3
	for n in "$@"; do
		uris="$uris${uris:+ }$(_repl_var "$n" URI)"
	done
	cat <<-EOF
	state_dir = $st
	host = $host
	backend = ldap
	ldap_uri = $uris
	ldap_bind = external
	ldap_base = $SLAPD_NHI_BASE
	ldap_people_base = $SLAPD_PEOPLE_BASE
	ldap_timeout = 2s
	orphan_grace = 0s
	uid_min = 2100000
	uid_max = 2199999
	token_pepper_file = $T/token.pepper
	EOF
}

# repl_host NAME URI-NAMES...: host NAME's nhi.conf in $T/NAME.conf, its
# state in $T/NAME (repl_nhi_conf, host name NAME)
repl_host() {
	local h=$1
	shift
	mkdir -p "$T/$h"
	repl_nhi_conf "$h" "$T/$h" "$h" "$@" > "$T/$h.conf"
}
# repl_on NAME ARGS...: nhictl ARGS on host NAME
repl_on() {
	local h=$1
	shift
	NHI_CONF=$T/$h.conf nhictl "$@"
}
# repl_now: seconds since the epoch, with nanoseconds; repl_secs A B: B - A
repl_now() { date +%s.%N; }
repl_secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# Two hosts' commands racing (tests/test-ldap-repl-races.sh,
# test-ldap-repl-remove.sh): odd rounds start both commands at once; even
# rounds force the overlap: the providers are partitioned before the two
# commands run and healed once both have written (each provider's
# contextCSN moved, plus 0.5 s), while both commands still wait for the
# servers to agree.
# repl_race_begin ROUND / repl_race_end ROUND: around the two background
# commands
repl_race_begin() {
	(($1 % 2)) && return 0
	repl_partition || nok "round $1: partition"
	_repl_c1=$(repl_csn p1) _repl_c2=$(repl_csn p2)
}
repl_race_end() {
	local k
	(($1 % 2)) && return 0
	for ((k = 0; k < 100; k++)); do
		[ "$(repl_csn p1)" != "$_repl_c1" ] && [ "$(repl_csn p2)" != "$_repl_c2" ] && break
		sleep 0.05
	done
	sleep 0.5
	repl_heal || nok "round $1: heal"
}

# repl_race ROUND TAG ARGS-A... -- ARGS-B...: nhictl ARGS-A on host a and
# ARGS-B on host b at once, around repl_race_begin/_end (output in
# $T/TAGa.out, .err ...); their exit codes in ra and rb
repl_race() {
	local i=$1 tag=$2 pa pb
	local -a ca=()
	shift 2
	while [ "$1" != -- ]; do ca+=("$1"); shift; done
	shift
	repl_race_begin "$i"
	repl_on a "${ca[@]}" >"$T/${tag}a.out" 2>"$T/${tag}a.err" &
	pa=$!
	repl_on b "$@" >"$T/${tag}b.out" 2>"$T/${tag}b.err" &
	pb=$!
	repl_race_end "$i"
	wait "$pa"; ra=$?
	wait "$pb"; rb=$?
}

# repl_test_begin: what a replication test does first: skip without slapd
# or root (replication binds as uid 0, SASL EXTERNAL), a hermetic libldap,
# p1, p2 and c1 started (one check), B the base, and the short names
# on/now/secs for repl_on/repl_now/repl_secs
repl_test_begin() {
	[ -x "$SLAPD_BIN" ] || { echo "# skip: no slapd"; exit 77; }
	[ "$(id -u)" = 0 ] || { echo "# skip: replication binds as uid 0 (SASL EXTERNAL)"; exit 77; }
	ldap_hermetic
	repl_start || { nok "p1, p2 and c1 start and converge"; finish; }
	ok "p1, p2 and c1 start and converge"
	B=$SLAPD_NHI_BASE
	on() { repl_on "$@"; }
	now() { repl_now; }
	secs() { repl_secs "$@"; }
}

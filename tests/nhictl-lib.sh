# tests/nhictl-lib.sh - helpers of the nhictl shell tests (after common.sh).
# nrun CMD...: run, stdout in $T/out, stderr in $T/err, exit code in $rc
nrun() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# expect RC "description" CMD...: run CMD and check its exit code
expect() {
	local want=$1 d=$2; shift 2
	nrun "$@"
	if [ "$rc" -eq "$want" ]; then ok "$d (exit $rc)"
	else nok "$d: exit $rc, wanted $want; out: $(head -c 300 "$T/out"); err: $(head -c 300 "$T/err")"; fi
}
# has FILE "description" PATTERN: grep -E in $T/out or $T/err
has() {
	local f=$1 d=$2 pat=$3
	if grep -Eq -- "$pat" "$T/$f"; then ok "$d"
	else nok "$d: $f lacks /$pat/: $(head -c 400 "$T/$f")"; fi
}
# fails VERB RC "description" PATTERN CMD...: exit RC and exactly one line
# "nhictl: VERB: ..." on stderr matching PATTERN, nothing on stdout
fails() {
	local verb=$1 want=$2 d=$3 pat=$4; shift 4
	nrun "$@"
	if [ "$rc" -eq "$want" ] && [ "$(wc -l <"$T/err")" -eq 1 ] && [ ! -s "$T/out" ] &&
	   grep -Eq -- "^nhictl: $verb: .*$pat" "$T/err"; then
		ok "$d (exit $rc: $(cat "$T/err"))"
	else
		nok "$d: exit $rc (wanted $want), err: $(head -c 400 "$T/err"), out: $(head -c 200 "$T/out")"
	fi
}
# pyjson "python expression on d" : evaluate on the JSON in $T/out
pyjson() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$T/out"; }
# eqv "description" WANT GOT
eqv() { if [ "x$2" = "x$3" ]; then ok "$1 ($3)"; else nok "$1: got '$3', wanted '$2'"; fi; }
have_nss() { [ -f "$NSS_NHI_DIR/libnss_nhi.so.2" ]; }
# slapd_conf FILE STATE_DIR: an nhi.conf for the throwaway slapd of
# tests/slapd.sh (backend = ldap, SASL EXTERNAL over its ldapi socket)
slapd_conf() {
	cat >"$1" <<-EOF
	state_dir = $2
	backend = ldap
	ldap_uri = $SLAPD_LDAPI_URI
	ldap_bind = external
	ldap_base = $SLAPD_NHI_BASE
	ldap_people_base = $SLAPD_PEOPLE_BASE
	ldap_timeout = 5s
	EOF
}
# nhictl_t ARGS: the test build of nhictl (tests/nhictl-faulty, tests/crash.mk:
# NHI_TEST_FAULT and the crash points of lib/nhi_testhook.h compiled in)
NHICTL_FAULTY=${NHICTL_FAULTY:-$top_builddir/tests/nhictl-faulty}
nhictl_t() { NHICTL=$NHICTL_FAULTY nhictl "$@"; }
# A test build's "-pause" fault point as a gate (proc.c): export
# NHI_TEST_FAULT_GATE=$(gate_new NAME) before starting the paused run;
# gate_wait GATE waits until the run stands at the point (60 s at most:
# 1 when it never got there), gate_open GATE lets it go on.
gate_new() { rm -f "$T/gate-$1".*; echo "$T/gate-$1"; }
gate_wait() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ -e "$1.reached" ] && return 0
		sleep 0.1
	done
	echo "# the paused run did not reach its fault point in 60 s" >&2
	return 1
}
gate_open() { : > "$1.go"; }

# pam_setup CONF SERVICE...: $T/pam.d/SERVICE whose account stack is the
# real pam_nhi.so with config=CONF; pam_ok=1 when pamtester, pam_wrapper
# and nss_nhi are there to run it.  pam_acct SERVICE USER: the exit code
# of that stack for USER (pamtester under pam_wrapper, users resolved
# through nss_nhi with nss_wrapper, NHI_CONF=CONF); its output in $T/pam.out.
pam_setup() {
	local svc
	PAM_CONF=$1; shift
	PWRAP=$(ldconfig -p | awk '/libpam_wrapper.so / {print $NF; exit}')
	pam_ok=0
	command -v pamtester >/dev/null && [ -n "$PWRAP" ] && [ -f "$PAM_NHI_SO" ] && have_nss && pam_ok=1
	mkdir -p "$T/pam.d"
	for svc; do
		printf 'account required %s config=%s\n' "$PAM_NHI_SO" "$PAM_CONF" > "$T/pam.d/$svc"
	done
}
pam_acct() {
	NHI_CONF=$PAM_CONF _nsswrap "$PWRAP:$(nss_preload)" \
		"${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0:detect_leaks=0" \
		env PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pam.d" \
		pamtester "$1" "$2" acct_mgmt </dev/null >"$T/pam.out" 2>&1
}

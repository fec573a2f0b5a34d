#!/bin/bash
# The systemd units that run `nhictl sync`: they parse (systemd-analyze
# verify, with the built nhictl where the unit names it), the timer spreads
# a fleet's runs and catches up missed ones, and the service's
# ExecCondition skips hosts with backend = local while ExecStart syncs
# hosts with backend = ldap (the command lines as the unit has them).
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
command -v systemd-analyze >/dev/null 2>&1 ||
	{ echo "skip: systemd-analyze not installed (scripts/deps.sh test installs systemd)"; exit 77; }

U=$T/units; mkdir -p "$U"
# the unit as the Makefile builds it, with the build's nhictl as @sbindir@/nhictl
mkdir -p "$T/sbin"; ln -s "$NHICTL" "$T/sbin/nhictl"
sed -e "s|@sbindir@|$T/sbin|g" -e "s|@statedir@|$T/state|g" -e "s|@sysconfdir@|$T/etc|g" \
	"$top_srcdir/systemd/nhi-sync.service.in" >"$U/nhi-sync.service"
cp "$top_srcdir/systemd/nhi-sync.timer" "$U/"
check "no @placeholder@ left in the service" bash -c '! grep -q "@[a-z]*@" "$1"' _ "$U/nhi-sync.service"

nrun systemd-analyze verify --man=no "$U/nhi-sync.service" "$U/nhi-sync.timer"
eqv "systemd-analyze verify: the service and the timer" "0 " "$rc $(grep -v '^$' "$T/err" | head -3)"
# and verify is a real check: a broken timer is refused
mkdir -p "$U/bad"; cp "$U/nhi-sync.service" "$U/bad/"
sed 's/^OnCalendar=.*/OnCalendar=every tuesday-ish/' "$U/nhi-sync.timer" >"$U/bad/nhi-sync.timer"
nrun systemd-analyze verify --man=no "$U/bad/nhi-sync.service" "$U/bad/nhi-sync.timer"
check "a timer with a bad OnCalendar fails verify" test "$rc" -ne 0

# unit KEY FILE: the value of KEY= in a unit file
unit() { sed -n "s/^$1=//p" "$2"; }
nrun systemd-analyze calendar "$(unit OnCalendar "$U/nhi-sync.timer")"
eqv "the timer's calendar: every 10 minutes" "0 *-*-* *:00/10:00" "$rc $(sed -n 's/^Normalized form: //p' "$T/out")"
nrun systemd-analyze timespan "$(unit RandomizedDelaySec "$U/nhi-sync.timer")"
delay_us=$(sed -n 's/^ *μs: //p' "$T/out")
check "a randomised delay, between 1 s and the 10-minute period ($delay_us µs)" \
	test "${delay_us:-0}" -ge 1000000 -a "${delay_us:-0}" -le 600000000
eqv "missed runs happen at boot (Persistent)" true "$(unit Persistent "$U/nhi-sync.timer")"
eqv "installed into timers.target" timers.target "$(unit WantedBy "$U/nhi-sync.timer")"
eqv "the service is a oneshot" oneshot "$(unit Type "$U/nhi-sync.service")"
check "the service may write only the state directory" \
	test "$(unit ProtectSystem "$U/nhi-sync.service")" = strict -a \
	"$(unit ReadWritePaths "$U/nhi-sync.service")" = "-$T/state"

# the service's own command lines, run as systemd would (no shell)
read -ra cond <<<"$(unit ExecCondition "$U/nhi-sync.service")"
read -ra start <<<"$(unit ExecStart "$U/nhi-sync.service")"
eqv "ExecCondition runs the built nhictl" "$T/sbin/nhictl sync --condition" "${cond[*]}"
# backend = local (common.sh's configuration): skipped, not failed
# (ExecCondition: exit 1-254 skips the unit)
nrun "${cond[@]}"
eqv "backend = local: ExecCondition exits 1 (skip), silently" "1 " "$rc $(cat "$T/out" "$T/err")"
# backend = ldap: runs, and ExecStart syncs from a real directory
if command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ]; then
	set +u; . "$top_srcdir/tests/slapd.sh"; set -u
	slapd_start >/dev/null || { nok "slapd did not start"; finish; }
	cat >"$T/etc/ldap.conf" <<-EOF
	state_dir = $T/state-ldap
	backend = ldap
	ldap_uri = $SLAPD_LDAPI_URI
	ldap_bind = external
	ldap_base = $SLAPD_NHI_BASE
	ldap_people_base = $SLAPD_PEOPLE_BASE
	ldap_timeout = 5s
	EOF
	NHI_CONF=$T/etc/ldap.conf nrun "${cond[@]}"
	eqv "backend = ldap: ExecCondition exits 0 (run)" 0 "$rc"
	NHI_CONF=$T/etc/ldap.conf nrun "${start[@]}"
	eqv "backend = ldap: ExecStart syncs, silently (no terminal)" "0 " "$rc $(cat "$T/out" "$T/err")"
	check "the registry and the snapshot exist after it" \
		test -s "$T/state-ldap/registry.db" -a -s "$T/state-ldap/nhi.cache"
	slapd_stop
else
	echo "# slapd not installed: ExecStart against a directory not run"
fi
finish

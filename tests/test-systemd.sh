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
sed -e "s|@sbindir@|$T/sbin|g" -e "s|@statedir@|$T/state|g" -e "s|@sysconfdir@|$T/etc|g" \
	"$top_srcdir/systemd/nhi-audit.service.in" >"$U/nhi-audit.service"
cp "$top_srcdir/systemd/nhi-audit.timer" "$U/"
check "no @placeholder@ left in the audit service" bash -c '! grep -q "@[a-z]*@" "$1"' _ "$U/nhi-audit.service"

nrun systemd-analyze verify --man=no "$U/nhi-sync.service" "$U/nhi-sync.timer"
eqv "systemd-analyze verify: the service and the timer" "0 " "$rc $(grep -v '^$' "$T/err" | head -3)"
nrun systemd-analyze verify --man=no "$U/nhi-audit.service" "$U/nhi-audit.timer"
eqv "systemd-analyze verify: the audit service and timer" "0 " "$rc $(grep -v '^$' "$T/err" | head -3)"
# and verify is a real check: a broken timer is refused
mkdir -p "$U/bad"; cp "$U/nhi-sync.service" "$U/bad/"
sed 's/^OnCalendar=.*/OnCalendar=every tuesday-ish/' "$U/nhi-sync.timer" >"$U/bad/nhi-sync.timer"
nrun systemd-analyze verify --man=no "$U/bad/nhi-sync.service" "$U/bad/nhi-sync.timer"
check "a timer with a bad OnCalendar fails verify" test "$rc" -ne 0

# unit KEY FILE: the value of KEY= in a unit file
unit() { sed -n "s/^$1=//p" "$2"; }
# timer NAME CALENDAR PERIOD_US WHAT: the checks every timer and its
# service pass: the calendar, a randomised delay between 1 s and the
# period, missed runs at boot, timers.target, a oneshot service that may
# write only the state directory
timer() {
	local n=$1 cal=$2 period=$3 what=$4 delay_us
	nrun systemd-analyze calendar "$(unit OnCalendar "$U/$n.timer")"
	eqv "$n.timer's calendar: $what" "0 $cal" "$rc $(sed -n 's/^Normalized form: //p' "$T/out")"
	nrun systemd-analyze timespan "$(unit RandomizedDelaySec "$U/$n.timer")"
	delay_us=$(sed -n 's/^ *μs: //p' "$T/out")
	check "$n.timer: a randomised delay, between 1 s and the period ($delay_us µs)" \
		test "${delay_us:-0}" -ge 1000000 -a "${delay_us:-0}" -le "$period"
	eqv "$n.timer: missed runs happen at boot (Persistent)" true "$(unit Persistent "$U/$n.timer")"
	eqv "$n.timer: installed into timers.target" timers.target "$(unit WantedBy "$U/$n.timer")"
	eqv "$n.service is a oneshot" oneshot "$(unit Type "$U/$n.service")"
	check "$n.service may write only the state directory" \
		test "$(unit ProtectSystem "$U/$n.service")" = strict -a \
		"$(unit ReadWritePaths "$U/$n.service")" = "-$T/state"
}
timer nhi-sync "*-*-* *:00/10:00" 600000000 "every 10 minutes"

# the audit timer: daily, spread over an hour; its service runs only
# where a registry exists (the timer never creates one)
timer nhi-audit "*-*-* 00:00:00" 86400000000 daily
eqv "audit: runs only with a registry" "$T/state/registry.db" "$(unit ConditionPathExists "$U/nhi-audit.service")"
eqv "audit: ExecStart runs the built nhictl audit" "$T/sbin/nhictl audit" "$(unit ExecStart "$U/nhi-audit.service")"
# ExecCondition through /bin/sh, as systemd runs it: backend = local runs
acond=$(unit ExecCondition "$U/nhi-audit.service")
eval "acond_argv=($acond)"
nrun "${acond_argv[@]}"
eqv "audit, backend = local: ExecCondition exits 0 (run)" "0 " "$rc $(cat "$T/out" "$T/err")"
expect 0 "audit, backend = local: ExecStart audits" $(unit ExecStart "$U/nhi-audit.service")
printf 'state_dir = %s\nbackend = ldap\nldap_uri = ldapi:///\nldap_base = dc=x\n' "$T/state-l" >"$T/etc/l.conf"
NHI_CONF=$T/etc/l.conf nrun "${acond_argv[@]}"
eqv "audit, backend = ldap: ExecCondition exits 1 (skip), silently" "1 " "$rc $(cat "$T/out" "$T/err")"

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
	slapd_conf "$T/etc/ldap.conf" "$T/state-ldap"
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

#!/bin/bash
# bench/reach-ldap.sh - bench/reach.sh's queries with backend = ldap:
#
#     bench/reach-ldap.sh [BUILD_DIR]
#
# A throwaway slapd (tests/slapd.sh, everything under the test world's
# temp dir), the fleet of bench/fleet.sh built into the directory through
# the real nhictl (FLEET_* as there: the sizes can be made smaller), then on
# that host the instructions (callgrind) and wall time (median of
# NHI_BENCH_ROUNDS, default 5) of show, reach, who-can, graph --format json
# and audit, and of one write verb (grant add, then grant remove: each
# rereads every resource, grant and delegation entry first, ldap_reach_lock).
# Prints a table; does not write bench/RESULTS.md.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-/tmp/nhi-bench-build}
ROUNDS=${NHI_BENCH_ROUNDS:-5}
. "$SRC/bench/common.sh"
bench_nhictl "$B"
export top_srcdir=$SRC top_builddir=$B
set +u
. "$SRC/tests/common.sh"
. "$SRC/tests/slapd.sh"
. "$SRC/bench/fleet.sh"
set -u
slapd_start || { echo "reach-ldap.sh: slapd did not start" >&2; exit 1; }
ldap_hermetic
slapd_nhi_conf "$T/state" benchhost >"$NHI_CONF"
echo "token_pepper_file = $T/pepper" >>"$NHI_CONF"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)
fleet_build
build_s=$(( $(date +%s) - t0 ))
wall() { # ARGS...: median wall ms of ROUNDS runs
	local r ms=()
	for ((r = 0; r < ROUNDS; r++)); do
		local a=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		ms+=($(( ($(date +%s%N) - a) / 1000000 )))
	done
	printf '%s\n' "${ms[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | sed -n 's/.*Collected : //p'; }
echo "backend = ldap, fleet: $(awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }' "$FLEET_DIR/fleet.times"); built in $build_s s; load average $load0"
echo "| process | instructions | wall, median of $ROUNDS |"
echo "| --- | --- | --- |"
for c in "show agent-03" "reach agent-03" "who-can res-005" "graph --format json"; do
	echo "| \`$c\` | $(ir "$NHICTL" $c) | $(wall "$NHICTL" $c) ms |"
done
echo "| \`audit\` | n/a | $(wall nhictl audit) ms |"
echo "| \`grant add tool-001 res-099 --actions read\` | $(ir "$NHICTL" grant add tool-001 res-099 --actions read) | - |"
echo "| \`grant remove tool-001 res-099\` | $(ir "$NHICTL" grant remove tool-001 res-099) | - |"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

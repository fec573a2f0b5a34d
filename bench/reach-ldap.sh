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
# and audit, and of the write verbs grant add, grant remove, delegate
# remove and delegate add (each leaves the fleet as it found it).  With
# NHI_BENCH_BEFORE=PATH (another build's nhictl, e.g. one from before a
# change) the write verbs are measured with it too, on the same directory
# and registry, in a second column; with NHI_BENCH_PROFILE=DIR the
# callgrind profiles of the write verbs are kept there
# (callgrind.VERB.after / .before).
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
ir() { valgrind --tool=callgrind --callgrind-out-file="${OUT:-/dev/null}" "$@" 2>&1 >/dev/null | sed -n 's/.*Collected : //p'; }
BEFORE=${NHI_BENCH_BEFORE:-}
PROF=${NHI_BENCH_PROFILE:-}
# wir TAG ARGS...: ir of a write verb, the profile kept as PROF/callgrind.TAG.WHICH
wir() {
	local tag=$1.$2
	shift 2
	OUT=${PROF:+$PROF/callgrind.$tag} ir "$@"
}
echo "backend = ldap, fleet: $(awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }' "$FLEET_DIR/fleet.times"); built in $build_s s; load average $load0"
echo "| process | instructions | wall, median of $ROUNDS |"
echo "| --- | --- | --- |"
for c in "show agent-03" "reach agent-03" "who-can res-005" "graph --format json"; do
	echo "| \`$c\` | $(ir "$NHICTL" $c) | $(wall "$NHICTL" $c) ms |"
done
echo "| \`audit\` | n/a | $(wall nhictl audit) ms |"
echo
echo "| write verb | instructions |${BEFORE:+ instructions, $BEFORE |}"
echo "| --- | --- |${BEFORE:+ --- |}"
for w in "grant-add:grant add tool-001 res-099 --actions read" "grant-remove:grant remove tool-001 res-099" \
	 "delegate-remove:delegate remove agent-00 tool-001" "delegate-add:delegate add agent-00 tool-001"; do
	tag=${w%%:*} c=${w#*:}
	after=$(wir "$tag" after "$NHICTL" $c)
	before=""
	# the verb undone, then done again by the other build
	if [ -n "$BEFORE" ]; then
		case $tag in
		grant-add) "$NHICTL" grant remove tool-001 res-099 >/dev/null ;;
		grant-remove) "$NHICTL" grant add tool-001 res-099 --actions read >/dev/null ;;
		delegate-remove) "$NHICTL" delegate add agent-00 tool-001 >/dev/null ;;
		delegate-add) "$NHICTL" delegate remove agent-00 tool-001 >/dev/null ;;
		esac
		before=" $(wir "$tag" before "$BEFORE" $c) |"
	fi
	echo "| \`$c\` | $after |$before"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

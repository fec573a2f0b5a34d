#!/bin/bash
# bench/fleet.sh - the example fleet of issue 14 ("ten agents calling a
# hundred tools"), built through the real nhictl:
#
#     bench/fleet.sh [BUILD_DIR]          (or sourced: fleet_build)
#
#   10 agents          agent-00 .. agent-09 (owner alice)
#   100 tool accounts  tool-000 .. tool-099 (owner dave)
#   100 resources      res-000 .. res-099: every 10th a pii source
#                      (res-000, res-010, ..), every 10th from res-005
#                      external, kinds api, database, queue, bucket, mcp
#   10,000 credentials 100 tokens per tool account (FLEET_TOKENS)
#   1,000 grants       10 per tool on resources (7t + 13k) mod 100, actions
#                      read | read,write | write | read,exec | all; the
#                      first of each bound to one of the tool's tokens
#   1,000 delegations  every agent to every tool; to every third tool
#                      limited to read
#
# One nhictl process per object, except the tokens: one `cred add --count`
# per tool account (one transaction, one snapshot publication for its 100
# tokens, whose secrets go to /dev/null).  The writes run FLEET_JOBS
# (default: the number of CPUs) at a time; SQLite serializes them (busy
# timeout 10 s).  The time of each phase goes to stderr and to
# $FLEET_DIR/fleet.times ("phase objects seconds").  Standalone, the fleet
# is built in a kept test world (tests/common.sh: nss_wrapper with the
# owners alice and dave) whose directory is printed at the end.
FLEET_AGENTS=${FLEET_AGENTS:-10}
FLEET_TOOLS=${FLEET_TOOLS:-100}
FLEET_RESOURCES=${FLEET_RESOURCES:-100}
FLEET_TOKENS=${FLEET_TOKENS:-100}
FLEET_GRANTS=${FLEET_GRANTS:-10}    # per tool
FLEET_JOBS=${FLEET_JOBS:-$(nproc)}

fleet_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# fleet_phase NAME COUNT: run the commands on stdin (one per line, the
# arguments of nhictl) FLEET_JOBS at a time; fails on the first failure
fleet_phase() {
	local name=$1 count=$2 t0 t1
	t0=$(fleet_ms)
	# nhictl: the function of tests/common.sh (nss_wrapper), exported
	xargs -P "$FLEET_JOBS" -L 1 bash -c 'e=$(nhictl "$@" 2>&1 >/dev/null) || { echo "$e" >&2; exit 255; }' _ || {
		echo "fleet.sh: $name failed" >&2
		return 1
	}
	t1=$(fleet_ms)
	echo "$name $count $(awk -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", t / 1000 }')" >>"$FLEET_DIR/fleet.times"
	echo "fleet.sh: $name: $count in $(( (t1 - t0) / 1000 )) s" >&2
}

fleet_build() {
	local a t r k kinds=(api database queue bucket mcp) acts=(read read,write write read,exec read,write,exec,admin)
	FLEET_DIR=${FLEET_DIR:-$T}
	: >"$FLEET_DIR/fleet.times"
	export -f nhictl _nsswrap 2>/dev/null
	export NHICTL NSS_NHI_DIR T NHI_CONF
	# the registry first: parallel writers must not race to create it
	[ -e "$FLEET_DIR/state/registry.db" ] || nhictl init >/dev/null || return 1
	for ((a = 0; a < FLEET_AGENTS; a++)); do
		printf 'create agent-%02d --kind agent --owner alice --expires +300d --purpose fleet\n' $a
	done | fleet_phase agents "$FLEET_AGENTS" || return 1
	for ((t = 0; t < FLEET_TOOLS; t++)); do
		printf 'create tool-%03d --owner dave --expires +300d --purpose fleet\n' $t
	done | fleet_phase tools "$FLEET_TOOLS" || return 1
	for ((r = 0; r < FLEET_RESOURCES; r++)); do
		printf 'resource add res-%03d --kind %s --uri https://res-%03d.example/ --owner %s%s%s\n' \
			$r "${kinds[r % 5]}" $r "$( ((r % 2)) && echo dave || echo alice)" \
			"$( ((r % 10 == 0)) && echo ' --data-class pii')" "$( ((r % 10 == 5)) && echo ' --external')"
	done | fleet_phase resources "$FLEET_RESOURCES" || return 1
	for ((t = 0; t < FLEET_TOOLS; t++)); do
		printf 'cred add tool-%03d --kind token --count %d\n' $t "$FLEET_TOKENS"
	done | fleet_phase tokens "$((FLEET_TOOLS * FLEET_TOKENS))" || return 1
	for ((t = 0; t < FLEET_TOOLS; t++)); do
		local first
		first=$(nhictl cred list "$(printf tool-%03d $t)" | awk 'NR == 2 { print $1 }')
		for ((k = 0; k < FLEET_GRANTS; k++)); do
			printf 'grant add tool-%03d res-%03d --actions %s%s\n' $t $(( (7 * t + 13 * k) % FLEET_RESOURCES )) \
				"${acts[k % 5]}" "$( ((k == 0)) && echo " --cred $first")"
		done
	done | fleet_phase grants "$((FLEET_TOOLS * FLEET_GRANTS))" || return 1
	for ((a = 0; a < FLEET_AGENTS; a++)); do
		for ((t = 0; t < FLEET_TOOLS; t++)); do
			printf 'delegate add agent-%02d tool-%03d%s\n' $a $t "$( ((t % 3 == 0)) && echo ' --actions read')"
		done
	done | fleet_phase delegations "$((FLEET_AGENTS * FLEET_TOOLS))" || return 1
}

# standalone
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -eu
	SRC=$(cd "$(dirname "$0")/.." && pwd)
	B=${1:-/tmp/nhi-bench-build}
	. "$SRC/bench/common.sh"
	bench_nhictl "$B"
	export top_srcdir=$SRC top_builddir=$B KEEP=1
	set +u
	. "$SRC/tests/common.sh"
	set -u
	fleet_build
	echo "$T"
fi

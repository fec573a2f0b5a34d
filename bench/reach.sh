#!/bin/bash
# bench/reach.sh - the cost of the reach queries on the example fleet of
# issue 14, with one command:
#
#     bench/reach.sh [BUILD_DIR]
#
# Builds nhictl with -O2 into BUILD_DIR (default /tmp/nhi-bench-build)
# unless it is there, builds the fleet with bench/fleet.sh (10 agents, 100
# tools, 100 resources, 10,000 credentials, 1,000 grants, 1,000
# delegations; backend = local, through the real nhictl) in a test world
# of tests/common.sh, then times, NHI_BENCH_ROUNDS (default 11) rounds with
# the cases taking turns, the whole nhictl process of:
#   - show agent-03                 (a baseline: start, open the registry, one row)
#   - reach agent-03                (1,000 paths: every tool, every grant)
#   - who-can res-005               (every tool granted on it, every agent through them)
#   - graph --format json           (the whole fleet: 10,000 credential nodes)
#   - audit                         (owners re-checked, findings)
# and, when valgrind is installed, the instructions of one run of each
# (callgrind: repeatable where times on a shared machine are not).
# Targets (issue 14): reach and who-can <= 20 ms, the whole graph <= 1 s.
# NHI_BENCH_FLEET=DIR measures a fleet bench/fleet.sh built and kept
# (its last line names DIR) instead of building one.
# The results replace the "reach" section of bench/RESULTS.md.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-/tmp/nhi-bench-build}
OUT=${NHI_BENCH_OUT:-$SRC/bench/RESULTS.md}
ROUNDS=${NHI_BENCH_ROUNDS:-11}

. "$SRC/bench/common.sh"
bench_nhictl "$B"
export top_srcdir=$SRC top_builddir=$B
set +u
. "$SRC/tests/common.sh"
. "$SRC/bench/fleet.sh"
set -u

load0=$(cut -d' ' -f1-3 /proc/loadavg)
if [ -n "${NHI_BENCH_FLEET:-}" ]; then
	# a fleet bench/fleet.sh built and kept: measure it again (the
	# test world's directory, kept as well)
	KEEP=1 T=$NHI_BENCH_FLEET FLEET_DIR=$NHI_BENCH_FLEET NHI_CONF=$NHI_BENCH_FLEET/etc/nhi.conf
	build_s=$(awk '{ s += $3 } END { printf "%d", s }' "$FLEET_DIR/fleet.times")
else
	t0=$(date +%s)
	fleet_build
	build_s=$(( $(date +%s) - t0 ))
fi

# the fleet as built
q() { sqlite3 "$T/state/registry.db" "$1"; }
counts="$(q 'SELECT count(*) FROM identity') identities, $(q 'SELECT count(*) FROM resource') resources,"
counts+=" $(q 'SELECT count(*) FROM credential') credentials, $(q 'SELECT count(*) FROM access') grants"
counts+=" ($(q 'SELECT count(*) FROM access WHERE credential_id IS NOT NULL') bound to a credential),"
counts+=" $(q 'SELECT count(*) FROM delegation') delegations"

CASES=(true show reach who-can graph audit)
declare -A ARGS=([true]="" [show]="show agent-03" [reach]="reach agent-03" [who-can]="who-can res-005"
	[graph]="graph --format json" [audit]="audit")
# run CASE: the process, output to $T/CASE.out.  The queries need no owner
# lookup and run as on a host; audit re-checks the owners, so it runs in
# the test world (nss_wrapper); true is /bin/true, what starting any
# process costs on this machine now.
run() {
	case $1 in
	true) /bin/true >"$T/$1.out" 2>&1 ;;
	audit) nhictl ${ARGS[$1]} >"$T/$1.out" 2>&1 ;;
	*) "$NHICTL" ${ARGS[$1]} >"$T/$1.out" 2>&1 ;;
	esac
}
declare -A MS CPU IR
for c in "${CASES[@]}"; do run "$c" || true; done   # warm the page cache
TIMEFORMAT="%R %U %S"
for ((r = 0; r < ROUNDS; r++)); do
	for c in "${CASES[@]}"; do
		{ time run "$c" 2>"$T/$c.err"; } 2>"$T/time" ||
			{ echo "reach.sh: nhictl ${ARGS[$c]} failed: $(head -3 "$T/$c.out")" >&2; exit 1; }
		read -r real user sys <"$T/time"
		MS[$c]+="$real "
		CPU[$c]+="$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }') "
	done
done
median() { printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] * 1000 }'; }
fastest() { printf '%s\n' $1 | sort -n | awk 'NR == 1 { printf "%.1f", $1 * 1000 }'; }
for c in "${CASES[@]}"; do
	IR[$c]=n/a
	if command -v valgrind >/dev/null && [ "$c" != audit ] && [ "$c" != true ]; then
		IR[$c]=$(valgrind --tool=callgrind --callgrind-out-file="$T/cg.$c" "$NHICTL" ${ARGS[$c]} 2>&1 >/dev/null |
			sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
	fi
done
python3 - "$T/graph.out" <<-'EOF' || { echo "reach.sh: the graph is not JSON Graph Format" >&2; exit 1; }
import json, sys
g = json.load(open(sys.argv[1]))["graph"]
assert isinstance(g["nodes"], dict) and isinstance(g["edges"], list) and g["edges"]
EOF
graph_size=$(python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["graph"]; print("%d nodes, %d edges, %d bytes" % (len(g["nodes"]), len(g["edges"]), len(open(sys.argv[1]).read())))' "$T/graph.out")
paths=$(head -1 "$T/reach.out")
who=$(head -1 "$T/who-can.out")

row() { # CASE LABEL TARGET-MS
	local m f c
	m=$(median "${MS[$1]}") f=$(fastest "${MS[$1]}") c=$(median "${CPU[$1]}")
	printf '| %s | %s ms | %s ms | %s | %s ms | %s | %s |\n' "$2" "$m" "$f" \
		"$(case $1 in true | show) echo - ;; *) awk -v f="$f" -v b="$(fastest "${MS[show]}")" \
			'BEGIN { printf "%+.1f ms", f - b }' ;; esac)" "$c" "${IR[$1]}" \
		"$( [ -z "$3" ] && echo - || awk -v m="$m" -v f="$f" -v t="$3" 'BEGIN {
			print (m <= t ? "met" : (f <= t ? "met by the fastest round" : "NOT met")) " (<= " t " ms)" }')"
}
times=$(awk '{ printf "%s%s: %s in %.0f s", (NR > 1 ? "; " : ""), $1, $2, $3 }' "$FLEET_DIR/fleet.times")
section=$(cat <<EOF
<!-- bench/reach.sh: begin -->
## Reach queries on the example fleet (issue 14)

Produced by \`bench/reach.sh\` (one command; the fleet built by
\`bench/fleet.sh\` through the real nhictl, backend = local, registry on
$(df --output=fstype "$T" | tail -1)). $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs
($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), SQLite $(sqlite3 --version | cut -d' ' -f1).
The fleet: $counts.
Wall time of the whole \`nhictl\` process, median and fastest of $ROUNDS
rounds with the cases taking turns, and its CPU time (user + system,
median); instructions of one run (callgrind). Load average $load0 at
the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end: on a shared machine the CPU
time and the instruction counts are the repeatable numbers.

| process | wall, median | wall, fastest | fastest, over \`show\` | CPU, median | instructions | target |
| --- | --- | --- | --- | --- | --- | --- |
$(row true "\`/bin/true\` (what starting a process costs here now)" "")
$(row show "\`show agent-03\` (baseline: start, open the registry, one row)" "")
$(row reach "\`reach agent-03\`" 20)
$(row who-can "\`who-can res-005\`" 20)
$(row graph "\`graph --format json\`, the whole fleet" 1000)
$(row audit "\`audit\` (owners re-checked through nss_wrapper)" "")

\`show\` is the floor of any nhictl verb that reads the registry: starting
the process (ld.so relocating OpenSSL, SQLite, libcrypt, libyaml and libc:
about 4.0 million instructions; libldap and its closure of 12 libraries
are loaded only when the directory is used, nhictl/ldap/ldapdl.h),
reading nhi.conf, opening registry.db (SQLite parsing the schema: 2.5
million); "over \`show\`" is what the query itself adds (loading the
graph with five queries, the walk, sorting and printing the paths).

\`reach agent-03\`: "$paths". \`who-can res-005\`: "$who".
The graph: $graph_size.

Building the fleet took $build_s s, one nhictl process per object, the
tokens one \`cred add --count $FLEET_TOKENS\` per tool account
($FLEET_JOBS at a time): $times.
Each \`grant add\` and \`delegate add\` is a process with its own transaction,
audit event and snapshot publication.
<!-- bench/reach.sh: end -->
EOF
)
bench_section reach "$section" "$OUT"

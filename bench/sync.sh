#!/bin/bash
# bench/sync.sh - the cost of `nhictl sync` against a local slapd, with one
# command (as root, like the tests: slapd runs as the calling user):
#
#     bench/sync.sh [BUILD_DIR]
#
# Builds nhictl with -O2 into BUILD_DIR (default /tmp/nhi-bench-build)
# unless it is there, then for 10k and 100k identities (slapadd'ed into a
# throwaway slapd from tests/slapd.sh, with syncprov, over ldapi with SASL
# EXTERNAL):
#   1. a full sync into an empty registry (RFC 4533 initial content),
#   2. an incremental sync with nothing new,
#   3. an incremental sync of one changed entry,
#   4. a full scan (--full: paged search, deletes reconciled by entryUUID),
#   5. nhictl publish: a full snapshot, what a change costs once more than
#      snapshot_delta_max identities changed since the last one,
# each the median wall time of NHI_BENCH_ROUNDS (default 3) runs, with
# nhictl's own --json summary checked (mode and counts).  The results
# replace the "nhictl sync" section of bench/RESULTS.md.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-/tmp/nhi-bench-build}
OUT=${NHI_BENCH_OUT:-$SRC/bench/RESULTS.md}
SIZES=${NHI_BENCH_SYNC_SIZES:-10000 100000}
ROUNDS=${NHI_BENCH_ROUNDS:-3}

command -v slapd >/dev/null || [ -x /usr/sbin/slapd ] || { echo "sync.sh: slapd is needed" >&2; exit 1; }
. "$SRC/bench/common.sh"
bench_nhictl "$B"
export top_srcdir=$SRC top_builddir=$B
. "$SRC/tests/common.sh"
set +u
. "$SRC/tests/slapd.sh"
set -u
: > "$T/ldap-empty.conf"
export LDAPCONF=$T/ldap-empty.conf LDAPNOINIT=1

ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
# run_sync STATE WANT-MODE [ARGS]: one sync, prints its wall time in ms;
# fails when the summary is not the expected mode
run_sync() {
	local st=$1 want=$2 t0 t1; shift 2
	t0=$(ms)
	NHI_CONF=$T/$st.conf "$NHICTL" sync --json "$@" > "$T/sum.json"
	t1=$(ms)
	python3 - "$T/sum.json" "$want" <<-'EOF' || return 1
	import json, sys
	d = json.load(open(sys.argv[1]))
	if d["mode"] != sys.argv[2]:
	    sys.exit("sync.sh: mode %s, wanted %s" % (d["mode"], sys.argv[2]))
	EOF
	cp "$T/sum.json" "$T/last.json"
	echo $((t1 - t0))
}
mkhost() {
	rm -rf "${T:?}/$1"; mkdir -p "$T/$1"
	cat > "$T/$1.conf" <<-EOF
	state_dir = $T/$1
	host = bench
	backend = ldap
	ldap_uri = $SLAPD_LDAPI_URI
	ldap_bind = external
	ldap_base = $SLAPD_NHI_BASE
	ldap_people_base = $SLAPD_PEOPLE_BASE
	EOF
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/last.json" "$1"; }

declare -A R
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for n in $SIZES; do
	echo "sync.sh: $n identities" >&2
	slapd_gen_idents "$n" bench- > "$T/gen.ldif"
	t0=$(ms)
	slapd_start --ldif "$T/gen.ldif" >&2
	R[load,$n]=$(( $(ms) - t0 ))
	full=() none=() one=() scan=() pub=()
	for ((r = 0; r < ROUNDS; r++)); do
		mkhost h
		full+=("$(run_sync h full)")
		[ "$(field added)" = "$n" ] || { echo "sync.sh: full sync added $(field added)" >&2; exit 1; }
		none+=("$(run_sync h incremental)")
		ldap_admin ldapmodify >/dev/null <<-EOF
		dn: uid=bench-$((r + 1)),$SLAPD_NHI_BASE
		changetype: modify
		replace: description
		description: changed in round $r
		EOF
		one+=("$(run_sync h incremental)")
		[ "$(field changed) $(field entries)" = "1 1" ] ||
			{ echo "sync.sh: incremental sync: $(cat "$T/last.json")" >&2; exit 1; }
		scan+=("$(run_sync h scan --full)")
		t0=$(ms)
		NHI_CONF=$T/h.conf "$NHICTL" publish >/dev/null
		pub+=("$(( $(ms) - t0 ))")
	done
	R[full,$n]=$(printf '%s\n' "${full[@]}" | median)
	R[none,$n]=$(printf '%s\n' "${none[@]}" | median)
	R[one,$n]=$(printf '%s\n' "${one[@]}" | median)
	R[scan,$n]=$(printf '%s\n' "${scan[@]}" | median)
	R[pub,$n]=$(printf '%s\n' "${pub[@]}" | median)
	R[db,$n]=$(du -k "$T/h/registry.db" | cut -f1)
	R[cache,$n]=$(du -k "$T/h/nhi.cache" | cut -f1)
	slapd_stop
done

cols=""; sep=""
for n in $SIZES; do cols+=" | $n"; sep+=" | ---"; done
row() {   # LABEL KEY UNIT-DIVISOR
	local line="| $1" n v
	for n in $SIZES; do
		v=${R[$2,$n]}
		line+=" | $(awk -v v="$v" 'BEGIN { if (v >= 1000) printf "%.2f s", v / 1000; else printf "%d ms", v }')"
	done
	echo "$line |"
}
section=$(cat <<EOF
<!-- bench/sync.sh: begin -->
## nhictl sync

Produced by \`bench/sync.sh\` (one command; a throwaway slapd from tests/slapd.sh
with syncprov, mdb, identities loaded with slapadd; nhictl over ldapi with SASL
EXTERNAL). $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, slapd $(slapd -VV 2>&1 | sed -n 's/.*slapd \([0-9.]*\).*/\1/p' | head -1).
Wall time of the whole \`nhictl sync\` process, median of $ROUNDS rounds; every
run's --json summary checked (mode, counts).  Load average $load0 at the
start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (a shared machine).

| identities in the directory$cols |
| ---$sep |
$(row "full sync into an empty registry (initial content)" full)
$(row "incremental sync, nothing new" none)
$(row "incremental sync, one entry changed" one)
$(row "full scan (\`--full\`, paged search)" scan)
$(row "\`nhictl publish\` (a full snapshot; see below)" pub)
$(row "(slapadd of the directory, for scale)" load)

The incremental sync transfers only the changed entry (the summary says
\`entries: 1\`), publishes only \`nhi.cache.delta\` (the identities changed
since the last full snapshot, docs/snapshot-format.md "Deltas"), and
re-checks the distinct owners (one directory lookup per owner, here one)
found by a loose scan of an index, one step per owner: none of it grows
with the directory.  With nothing new it commits just the cookie and does
not republish.  A full snapshot (\`nhictl publish\`) costs time in
proportion to the registry; a change pays it once more than
\`snapshot_delta_max\` (1000) identities changed since the last one, or on
a registry group change.
<!-- bench/sync.sh: end -->
EOF
)
bench_section sync "$section" "$OUT"

#!/bin/bash
# Run the libFuzzer harnesses of fuzz/ (docs/fuzzing.md).
#
#   scripts/fuzz.sh smoke            each target briefly over its corpus (CI)
#   scripts/fuzz.sh long [SECONDS]   each target SECONDS (default 180), niced
#   scripts/fuzz.sh list             the targets
#
# FUZZ_BIN: the built harnesses (default build/fuzz; `make fuzz` builds
# them); FUZZ_CORPUS: the committed corpora (default fuzz/corpus beside this
# script), only read: new inputs go to FUZZ_WORK/TARGET (default
# FUZZ_BIN/work), crashes to FUZZ_WORK/TARGET-crash-*.  FUZZ_TARGETS: a
# subset.  Prints "ok - fuzz TARGET (...)" or "not ok - fuzz TARGET" per
# target and exits 1 if any failed.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${FUZZ_BIN:-$here/build/fuzz}
corpus=${FUZZ_CORPUS:-$here/fuzz/corpus}
work=${FUZZ_WORK:-$bin/work}
targets=${FUZZ_TARGETS:-snapshot delta conf time ldap-escape keys token dirmap applyfile}
mode=${1:-}

case $mode in
smoke) secs=4; runs=(-runs=20000) ;;   # ~4 s each, at most 20000 inputs
long) secs=${2:-180}; runs=() ;;
list) echo "$targets"; exit 0 ;;
*) echo "usage: $0 smoke|long [SECONDS]|list" >&2; exit 2 ;;
esac

fail=0
for t in $targets; do
	prog=$bin/fuzz-$t
	if [ ! -x "$prog" ]; then
		echo "not ok - fuzz $t # $prog missing (make fuzz)"; fail=1; continue
	fi
	# a smoke run starts from the committed corpus alone (the same run each time)
	[ "$mode" = smoke ] && rm -rf "$work/$t"
	mkdir -p "$work/$t"
	log=$work/$t.log
	# new inputs go to the first directory (work), never into the tree
	nice -n 10 "$prog" -seed=1 -max_total_time="$secs" "${runs[@]}" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$work/$t-" "$work/$t" "$corpus/$t" >"$log" 2>&1
	rc=$?
	stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 |
		sed -E 's/^#([0-9]+)[[:space:]]+DONE[[:space:]]+cov: ([0-9]+) ft: ([0-9]+).*/\1 execs, cov: \2, ft: \3/')
	if [ $rc -eq 0 ] && [ -n "$stats" ]; then
		echo "ok - fuzz $t ($stats)"
	else
		echo "not ok - fuzz $t (exit $rc)"
		grep -E 'ERROR|SUMMARY|property failed|Test unit written' "$log" | head -n 10 | sed 's/^/#   /'
		fail=1
	fi
done
exit $fail

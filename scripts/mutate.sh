#!/bin/bash
# scripts/mutate.sh - nhi's own mutation testing: plant each mutant of a
# list (tests/mutants.txt) one at a time in a copy of the source, build it
# incrementally, run the tests named for it, and report which mutants the
# tests killed and which survived.  The source tree is never modified: the
# copy and its build live in a temporary directory (or -w DIR, kept and
# reused for a faster next run).
#
# usage: scripts/mutate.sh [-f FILE] [-w DIR] [-j N] [-t SECS] [--check] [NAME...]
#   -f FILE   the list of mutants (default: tests/mutants.txt)
#   -w DIR    work directory (copy and build); kept; reused when it exists
#   -j N      make -j N (default 2)
#   -t SECS   per-mutant time limit for its tests (default 600; over it = killed)
#   --check   only check the list: each original occurs exactly once in its
#             file, each test is one of the suite's; nothing is built
#   NAME...   only these mutants (default: all)
# Exit: 0 every mutant killed (or --check passed), 1 some survived or
# could not be planted or built, 2 usage or the unmutated build failing.
#
# The list: one mutant a line, five fields separated by TABs:
#   NAME  FILE  ORIGINAL  REPLACEMENT  TESTS
# ORIGINAL must occur exactly once in FILE; \t and \n in ORIGINAL and
# REPLACEMENT stand for a tab and a newline, \\ for a backslash.  TESTS
# are names as `make check TESTS=...` takes them.  # starts a comment.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
list=$top/tests/mutants.txt work="" jobs=2 limit=600 check_only=0 keep=0
while [ $# -gt 0 ]; do
	case $1 in
	-f) list=$2; shift 2 ;;
	-w) work=$2; keep=1; shift 2 ;;
	-j) jobs=$2; shift 2 ;;
	-t) limit=$2; shift 2 ;;
	--check) check_only=1; shift ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "mutate.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ -f "$list" ] || { echo "mutate.sh: $list: no such file" >&2; exit 2; }
case $list in /*) ;; *) list=$PWD/$list ;; esac

# mutant SRC NAME FILE ORIG REPL MODE: MODE check (count ORIG in SRC/FILE,
# print it) or plant (replace it in place)
mutant() {
	python3 - "$@" <<'PY'
import sys
src, name, f, orig, repl, mode = sys.argv[1:7]
def unesc(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == '\\' and i + 1 < len(s) and s[i + 1] in 'tn\\':
            out.append({'t': '\t', 'n': '\n', '\\': '\\'}[s[i + 1]]); i += 2
        else:
            out.append(s[i]); i += 1
    return ''.join(out)
orig, repl = unesc(orig), unesc(repl)
try:
    text = open(src + '/' + f).read()
except OSError as e:
    print(f'{name}: {f}: {e.strerror}'); sys.exit(1)
n = text.count(orig)
if n != 1:
    print(f'{name}: the original occurs {n} times in {f}, not once'); sys.exit(1)
if orig == repl:
    print(f'{name}: the replacement is the original'); sys.exit(1)
if mode == 'plant':
    open(src + '/' + f, 'w').write(text.replace(orig, repl))
PY
}

# the suite's test names, from Makefile.am and tests/*.mk
suite_tests() {
	cat "$top/Makefile.am" "$top"/tests/*.mk |
		sed -n 's/^\(TESTS\|[A-Z_]*_TESTS\) *+\{0,1\}= *//p; /^\t/p' |
		tr ' \t\\' '\n\n\n' | grep -E '^tests/test-[A-Za-z0-9_.-]+$' | sort -u
}

want=" $* " names="" n_bad=0
declare -A F O R TS SEEN
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	case $line in ''|'#'*) continue ;; esac
	IFS=$'\t' read -r name file orig repl tests extra <<<"$line"
	if [ -z "${tests:-}" ] || [ -n "${extra:-}" ]; then
		echo "mutate.sh: $list:$lineno: not five TAB-separated fields" >&2; exit 2
	fi
	[ -z "${SEEN[$name]:-}" ] || { echo "mutate.sh: $list:$lineno: mutant $name twice" >&2; exit 2; }
	SEEN[$name]=1
	[ $# -eq 0 ] || [[ $want == *" $name "* ]] || continue
	F[$name]=$file O[$name]=$orig R[$name]=$repl TS[$name]=$tests
	names="$names $name"
done <"$list"
for m in "$@"; do
	[ -n "${F[$m]:-}" ] || { echo "mutate.sh: no mutant $m in $list" >&2; exit 2; }
done
[ -n "$names" ] || { echo "mutate.sh: no mutant selected" >&2; exit 2; }

if [ "$check_only" = 1 ]; then
	known=$(suite_tests)
	for m in $names; do
		mutant "$top" "$m" "${F[$m]}" "${O[$m]}" "${R[$m]}" check || n_bad=$((n_bad + 1))
		for t in ${TS[$m]}; do
			grep -qx -- "$t" <<<"$known" || { echo "$m: $t is not a test of the suite"; n_bad=$((n_bad + 1)); }
		done
	done
	echo "# $(wc -w <<<"$names") mutants, $n_bad problems"
	[ "$n_bad" -eq 0 ]; exit $?
fi

# ---- a copy of the source, built once ----
if [ -z "$work" ]; then work=$(mktemp -d /tmp/nhi-mutate.XXXXXX); fi
mkdir -p "$work/src" "$work/orig" "$work/build" "$work/logs"
work=$(cd "$work" && pwd)
[ "$keep" = 1 ] || trap 'rm -rf "$work"' EXIT
echo "# work directory $work"
copy() {  # the tracked and untracked (not ignored) files of the tree, into $1
	(cd "$top" && git ls-files -z -co --exclude-standard) |
		(cd "$top" && tar --null -T - -cf -) | tar -C "$1" -xf -
}
rm -rf "$work/orig.new" && mkdir "$work/orig.new" && copy "$work/orig.new"
# sync the pristine copy into src, keeping the mtime of unchanged files
(cd "$work/orig.new" && find . -type f) | while read -r f; do
	if ! cmp -s "$work/orig.new/$f" "$work/src/$f"; then
		mkdir -p "$work/src/$(dirname "$f")" && cp -p "$work/orig.new/$f" "$work/src/$f"
	fi
done
rm -rf "$work/orig" && mv "$work/orig.new" "$work/orig"
mk() { nice make -C "$work/build" -j"$jobs" "$@"; }
if [ ! -f "$work/build/Makefile" ]; then
	echo "# configuring a build of the copy"
	(cd "$work/src" && autoreconf -fi) >"$work/logs/configure" 2>&1 &&
	(cd "$work/build" && "$work/src/configure" CFLAGS="-O1 -g") >>"$work/logs/configure" 2>&1 ||
		{ echo "mutate.sh: configure failed: $work/logs/configure" >&2; exit 2; }
fi
# the tests of the selected mutants pass on the unmutated source
all_tests=$(for m in $names; do echo ${TS[$m]}; done | tr ' ' '\n' | sort -u | xargs)
echo "# building the unmutated copy; running its tests: $all_tests"
if ! mk check TESTS="$all_tests" >"$work/logs/baseline" 2>&1; then
	echo "mutate.sh: the unmutated source fails its build or tests: $work/logs/baseline" >&2
	grep -E '^(FAIL|ERROR):' "$work/logs/baseline" >&2
	exit 2
fi

# ---- each mutant ----
killed=0 survived=0 invalid=0 total=0 surv_names=""
for m in $names; do
	total=$((total + 1))
	f=${F[$m]} log=$work/logs/$m
	if ! msg=$(mutant "$work/src" "$m" "$f" "${O[$m]}" "${R[$m]}" plant); then
		echo "INVALID  $m: $msg"; invalid=$((invalid + 1)); continue
	fi
	start=$(date +%s)
	if ! mk check TESTS= >"$log" 2>&1; then
		res=INVALID why="does not build (see $log)"
	else
		timeout "$limit" nice make -C "$work/build" -j"$jobs" check TESTS="${TS[$m]}" >>"$log" 2>&1
		rc=$?
		if [ "$rc" -eq 124 ]; then res=KILLED why="timed out after ${limit}s"
		elif [ "$rc" -ne 0 ]; then
			res=KILLED why="by $(grep -E '^(FAIL|ERROR):' "$log" | cut -d' ' -f2 | xargs)"
			# what the failing tests said, kept beside the make output
			for t in $(grep -E '^(FAIL|ERROR):' "$log" | cut -d' ' -f2); do
				echo "== $t"
				grep -E '^not ok|\[  FAILED|\[  ERROR|Error' "$work/build/${t%.sh}.log" 2>/dev/null | head -20
			done >>"$log"
		else res=SURVIVED why="${TS[$m]} passed"; fi
	fi
	cp -p "$work/orig/$f" "$work/src/$f" && touch "$work/src/$f"
	case $res in
	KILLED) killed=$((killed + 1)) ;;
	SURVIVED) survived=$((survived + 1)); surv_names="$surv_names $m" ;;
	*) invalid=$((invalid + 1)) ;;
	esac
	printf '%-8s %s (%s: %s) %ss\n' "$res" "$m" "$f" "$why" "$(( $(date +%s) - start ))"
done
# leave the build matching the source again
mk >/dev/null 2>&1
echo "# score: $killed of $total mutants killed, $survived survived, $invalid invalid"
[ -z "$surv_names" ] || echo "# survived:$surv_names"
[ "$survived" -eq 0 ] && [ "$invalid" -eq 0 ]

#!/bin/bash
# The mutation step stays usable: every mutant of tests/mutants.txt still
# finds its original text exactly once and names tests of the suite
# (scripts/mutate.sh --check), and --check notices a list that went stale.
# The full run (a build per mutant) is scripts/mutate.sh, docs/mutation.md.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
M=$top_srcdir/scripts/mutate.sh
expect 0 "mutate.sh --check: tests/mutants.txt is current" bash "$M" --check
has out "and counts its mutants" "^# [0-9]+ mutants, 0 problems$"
n=$(grep -c "$(printf '\t')" "$top_srcdir/tests/mutants.txt")
check "at least 30 mutants ($n)" test "$n" -ge 30
printf 'gone\tlib/nhi_time.c\tno such text here\tx\ttests/test-time\n' >"$T/stale.txt"
printf 'twice\tlib/nhi_time.c\t86400\t86401\ttests/test-time\n' >>"$T/stale.txt"
printf 'badtest\tlib/nhi_time.c\tcase '"'"'w'"'"': mult = 7 * 86400;\tx\ttests/test-nope\n' >>"$T/stale.txt"
expect 1 "--check on a stale list fails" bash "$M" --check -f "$T/stale.txt"
has out "an original no longer in the source" "^gone: the original occurs 0 times in lib/nhi_time.c"
has out "an original that is not unique" "^twice: the original occurs [0-9]+ times"
has out "a test the suite does not have" "^badtest: tests/test-nope is not a test of the suite"
printf 'short\tlib/nhi_time.c\tx\n' >"$T/short.txt"
expect 2 "a line without five fields is a usage error" bash "$M" --check -f "$T/short.txt"
has err "naming file:line" "short.txt:1: not five TAB-separated fields"
expect 2 "an unknown mutant name is a usage error" bash "$M" --check no-such-mutant
has err "saying which" "no mutant no-such-mutant in "
head -1 "$T/stale.txt" >"$T/twice.txt"; head -1 "$T/stale.txt" >>"$T/twice.txt"
expect 2 "a name used twice is a usage error" bash "$M" --check -f "$T/twice.txt"
has err "naming the second line" "twice.txt:2: mutant gone twice"
finish

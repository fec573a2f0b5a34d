#!/bin/sh
# Count test cases in the logs of a 'make check' run (cmocka's PASSED/FAILED
# lines and the shell tests' ok/not ok lines) and print one closing line.
# A test program that failed without reporting cases counts as one failure.
dir=${1:-.}
pass=0 fail=0
for trs in $(find "$dir/tests" -name '*.trs' 2>/dev/null | sort); do
	log=${trs%.trs}.log
	result=$(sed -n 's/^:test-result: //p' "$trs" | head -1)
	p=$(grep -cE '^(ok |\[       OK \])' "$log" 2>/dev/null)
	f=$(grep -cE '^(not ok |\[  FAILED  \] [a-z_])' "$log" 2>/dev/null)
	case $result in
	PASS) [ "$p" -gt 0 ] || p=1 ;;
	SKIP) p=0; f=0 ;;
	*) [ "$f" -gt 0 ] || f=1 ;;
	esac
	pass=$((pass + p)); fail=$((fail + f))
done
echo "$pass passed, $fail failed"

# scripts/demo-steps.sh - sourced by scripts/demo.sh and demo-ldap.sh: the
# steps of a walkthrough, each of which says what it should show and is
# checked.
#   say TITLE          start a step
#   succeeds CMD...    run CMD (shown); it should exit 0
#   fails CMD...       run CMD (shown); it should exit non-zero
#   demo_end           "Done: ..." and exit 0, or list the steps that were
#                      not as described and exit 1
demo_step="" demo_unexpected=""
say() { demo_step=$*; printf '\n\033[1m%s\033[0m\n' "$*"; }
succeeds() {
	local rc=0
	printf '$ %s\n' "$*"
	"$@" || rc=$?
	[ $rc -eq 0 ] && return 0
	printf '(exit %d: UNEXPECTED)\n' $rc
	demo_unexpected="$demo_unexpected
  $demo_step: $*"
}
fails() {
	local rc=0
	printf '$ %s\n' "$*"
	"$@" || rc=$?
	if [ $rc -ne 0 ]; then
		printf '(exit %d, as it should)\n' $rc
		return 0
	fi
	printf '(exit 0: UNEXPECTED)\n'
	demo_unexpected="$demo_unexpected
  $demo_step: $*"
}
demo_end() {  # the rest of the last line ("nothing outside DIR was changed")
	if [ -n "$demo_unexpected" ]; then
		printf '\nNot as described:%s\n' "$demo_unexpected"
		exit 1
	fi
	say "Done: every step as described; $*"
	exit 0
}

#!/bin/bash
# The test hooks (lib/nhi_testhook.h, NHI_TEST_FAULT) exist only in the
# test build of nhictl (tests/nhictl-faulty), never in the nhictl that is
# installed; and every crash point of the write verbs is survived
# (docs/crash-points.md).
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"

# ---- the installed nhictl carries no test hook ------------------------------
# (the names and symbols below are all in the test build: the check can fail)
hook_strings='NHI_TEST_[A-Z_]+|registry-committed|file-renamed|secret-handed-over|rotate-after-journal-crash'
for b in "$NHICTL" "$NHICTL_FAULTY"; do
	strings -a "$b" | grep -Eo "$hook_strings" | sort -u | paste -sd' ' >"$T/strings.$(basename "$b")"
	nm "$b" 2>/dev/null | awk '$3 == "fault" || $3 == "nhi_crash_point" { print $3 }' | sort |
		paste -sd' ' >"$T/nm.$(basename "$b")"
done
eqv "nhictl: no test hook among its strings" "" "$(cat "$T/strings.nhictl")"
eqv "nhictl: no fault() or nhi_crash_point() symbol" "" "$(cat "$T/nm.nhictl")"
eqv "nhictl-faulty: has them (so the check above can fail)" \
	"NHI_TEST_CRASH_AT NHI_TEST_CRASH_LOG NHI_TEST_FAULT file-renamed registry-committed rotate-after-journal-crash secret-handed-over|fault nhi_crash_point" \
	"$(cat "$T/strings.nhictl-faulty")|$(cat "$T/nm.nhictl-faulty")"

finish

#!/bin/sh
# LOG_COMPILER for the valgrind run of the compiled tests: any memory error
# or definite leak fails the test.  Through libtool, so that tests linked
# against a libtool library (run by a wrapper script) are traced as well.
# --fair-sched=yes: valgrind runs one thread at a time, and with its default
# lock a busy thread can starve the others (test-nss-threads' 8 readers
# once kept its publishing main thread waiting for over 17 minutes).
exec "${top_builddir:?}/libtool" --mode=execute valgrind -q --fair-sched=yes --error-exitcode=99 \
	--leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
	--track-origins=yes "$@"

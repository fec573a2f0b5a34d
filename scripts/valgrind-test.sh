#!/bin/sh
# LOG_COMPILER for the valgrind run of the compiled tests: any memory error
# or definite leak fails the test.  Through libtool, so that tests linked
# against a libtool library (run by a wrapper script) are traced as well.
exec "${top_builddir:?}/libtool" --mode=execute valgrind -q --error-exitcode=99 \
	--leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
	--track-origins=yes "$@"

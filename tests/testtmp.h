/* testtmp.h - where the compiled tests make their temp dirs. */
#ifndef NHI_TESTTMP_H
#define NHI_TESTTMP_H

#include <stdio.h>
#include <stdlib.h>

/* "$NHI_TEST_TMP/NAME.XXXXXX" into buf, for mkdtemp(3).  make check sets
 * NHI_TEST_TMP to a directory no one else may write to, nor any directory
 * above it: nhi trusts files only there (under /tmp, sticky but
 * world-writable, it trusts nothing).  /tmp without it. */
static inline char *test_tmpdir(char *buf, size_t len, const char *name)
{
	const char *base = getenv("NHI_TEST_TMP");

	snprintf(buf, len, "%s/%s.XXXXXX", base != NULL && base[0] == '/' ? base : "/tmp", name);
	return buf;
}

#endif

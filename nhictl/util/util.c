/* util.c - how every layer of nhictl talks to its user: the one-line
 * error message.  (The exit codes are the verbs' edge: cmd/common.c.)
 */
#include <stdarg.h>
#include <stdio.h>
#include "util.h"

int nerr(struct nhictl *x, int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	if (x != NULL && x->verb != NULL)
		fprintf(stderr, "nhictl: %s: ", x->verb);
	else
		fputs("nhictl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

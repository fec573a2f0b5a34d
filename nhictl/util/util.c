/* util.c - how every layer of nhictl talks to its user: the one-line
 * error message.  (The exit codes are the verbs' edge: cmd/common.c.)
 */
#include <stdarg.h>
#include <stdio.h>
#include "nhi_time.h"
#include "util.h"

/* A message is one line of at most this many bytes as printed (escapes
 * included), whatever a value in it holds. */
#define NERR_MAX 4096

/* Write the n bytes of s (of a message of total bytes) to stderr as one
 * line: control characters (C0, DEL, C1) and bytes that are not UTF-8
 * escaped (\n, \t, \xHH), so that a value with a newline or a terminal
 * escape in it can neither split the message nor act on the terminal;
 * cut at NERR_MAX bytes printed, with the count of what is left out. */
static void put_line(const char *s, size_t n, size_t total)
{
	size_t out = 0, i, k;

	for (i = 0; i < n && out < NERR_MAX; i += k) {
		unsigned char c = (unsigned char)s[i];

		k = c < 0x80 ? 1 : nhi_utf8_len(s + i, n - i);
		if (c == '\n' || c == '\t') {
			out += (size_t)fprintf(stderr, "\\%c", c == '\n' ? 'n' : 't');
		} else if (c < 0x20 || c == 0x7f || k == 0 || nhi_utf8_is_c1(s + i)) {
			if (k == 0)
				k = 1;
			for (size_t j = 0; j < k; j++)
				out += (size_t)fprintf(stderr, "\\x%02x", (unsigned char)s[i + j]);
		} else {
			fwrite(s + i, 1, k, stderr);
			out += k;
		}
	}
	if (i < total)
		fprintf(stderr, "... (%zu bytes more)", total - i);
	fputc('\n', stderr);
}

int nerr(struct nhictl *x, int code, const char *fmt, ...)
{
	char buf[NERR_MAX + 1];
	va_list ap;
	int n;

	fflush(stdout);
	if (x != NULL && x->verb != NULL)
		fprintf(stderr, "nhictl: %s: ", x->verb);
	else
		fputs("nhictl: ", stderr);
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	put_line(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1, (size_t)n);
	return code;
}

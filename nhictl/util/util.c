/* util.c - what every layer of nhictl uses to talk to its user: the
 * one-line error message, the verb's exit code from an internal result,
 * and the common option and argument errors.  Nothing here knows a verb,
 * a backend or the registry.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include "nhictl.h"

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

int exit_code(int r)
{
	return r < 0 ? EXIT_FAIL : r;
}

int opt_error(struct nhictl *x, int c, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";

	if (c == ':')
		nerr(x, 0, "option '%s' needs a value", arg);
	else if (optopt != 0)
		nerr(x, 0, "unknown option '-%c' (try 'nhictl %s --help')", optopt, x->verb);
	else
		nerr(x, 0, "unknown option '%s' (try 'nhictl %s --help')", arg, x->verb);
	return EXIT_USAGE;
}

int one_name(struct nhictl *x, int argc, char **argv, const char **name, const char *what)
{
	if (optind >= argc)
		return nerr(x, EXIT_USAGE, "missing %s (try 'nhictl %s --help')", what, x->verb);
	if (optind + 1 < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind + 1]);
	*name = argv[optind];
	if (!nhi_valid_name(*name))
		return nerr(x, EXIT_USAGE, "invalid %s '%s' (lower case letters, digits, '_', "
			    "'.', '-'; starting with a letter or '_'; at most 32)", what, *name);
	return 0;
}

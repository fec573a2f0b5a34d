/* test-nhictl-json.c - nhictl's JSON emitter: separators, nesting and
 * string escaping (control characters, quotes, backslashes, UTF-8). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "util.h"

static char *buf;
static size_t len;

static FILE *mem(void)
{
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	return f;
}

static void done(FILE *f, const char *want)
{
	fclose(f);
	assert_string_equal(buf, want);
	free(buf);
	buf = NULL;
}

static void test_escaping(void **state)
{
	struct json j;
	FILE *f = mem();

	(void)state;
	json_init(&j, f);
	json_str(&j, "q\" b\\ nl\n tab\t cr\r bs\b ff\f nul-free \x01\x1f\x7f é/");
	json_end(&j);
	done(f, "\"q\\\" b\\\\ nl\\n tab\\t cr\\r bs\\b ff\\f nul-free \\u0001\\u001f\\u007f é/\"\n");
}

static void test_nesting(void **state)
{
	struct json j;
	FILE *f = mem();

	(void)state;
	json_init(&j, f);
	json_obj(&j);
	json_kstr(&j, "a", "x");
	json_kint(&j, "n", -42);
	json_kbool(&j, "t", 1);
	json_kbool(&j, "f", 0);
	json_kstr(&j, "null", NULL);
	json_ktime(&j, "never", 0);
	json_ktime(&j, "when", 1800000000);
	json_klist(&j, "l", "h1,,h2");
	json_klist(&j, "empty", "");
	json_key(&j, "arr");
	json_arr(&j);
	json_obj(&j);
	json_obj_end(&j);
	json_arr(&j);
	json_int(&j, 1);
	json_int(&j, 2);
	json_arr_end(&j);
	json_null(&j);
	json_arr_end(&j);
	json_obj_end(&j);
	json_end(&j);
	done(f, "{\"a\":\"x\",\"n\":-42,\"t\":true,\"f\":false,\"null\":null,\"never\":null,"
		"\"when\":\"2027-01-15T08:00:00Z\",\"l\":[\"h1\",\"h2\"],\"empty\":[],"
		"\"arr\":[{},[1,2],null]}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_nesting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests: durations, ISO 8601 times, names. */
#include <ctype.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "nhi_ascii.h"
#include "nhi_err.h"
#include "nhi_time.h"
#include "testtmp.h"

static int64_t dur(const char *s)
{
	int64_t v = -1;
	char err[200];
	assert_int_equal(nhi_parse_duration(s, &v, err, sizeof(err)), 0);
	return v;
}

static void dur_bad(const char *s, const char *needle)
{
	int64_t v = -1;
	char err[200] = "";
	assert_int_equal(nhi_parse_duration(s, &v, err, sizeof(err)), NHI_ERR_INVAL);
	assert_int_equal(v, -1);
	assert_non_null(strstr(err, needle));
}

static void test_durations(void **state)
{
	assert_int_equal(dur("2s"), 2);
	assert_int_equal(dur("+90d"), 90 * 86400);
	assert_int_equal(dur("90d"), 90 * 86400);
	assert_int_equal(dur("1w"), 7 * 86400);
	assert_int_equal(dur("12h"), 12 * 3600);
	assert_int_equal(dur("30m"), 1800);
	assert_int_equal(dur("1d12h"), 86400 + 12 * 3600);
	assert_int_equal(dur("0s"), 0);
	dur_bad("", "empty");
	dur_bad("90", "missing unit");
	dur_bad("90x", "unknown unit");
	dur_bad("d", "expected a number");
	dur_bad("-5d", "expected a number");
	dur_bad("99999999999999999999d", "too large");
	dur_bad("1d ", "expected a number");
}

static time_t tm_ok(const char *s, time_t now)
{
	time_t t = -1;
	char err[200];
	assert_int_equal(nhi_parse_time(s, now, &t, err, sizeof(err)), 0);
	return t;
}

static void tm_bad(const char *s)
{
	time_t t = -1;
	char err[200] = "";
	assert_int_equal(nhi_parse_time(s, 0, &t, err, sizeof(err)), NHI_ERR_INVAL);
	assert_true(strlen(err) > 0);
	assert_non_null(strstr(err, s[0] ? s : "empty"));
	assert_int_equal(t, -1);
}

static void test_times(void **state)
{
	assert_int_equal(tm_ok("1970-01-01T00:00:01Z", 5), 1);
	assert_int_equal(tm_ok("9999-12-31T23:59:59Z", 5), NHI_TIME_MAX);
	assert_int_equal(tm_ok("9999-12-31T23:59:59+01:00", 5), NHI_TIME_MAX - 3600);
	assert_int_equal(tm_ok("2027-01-31", 5), 1801353600);
	assert_int_equal(tm_ok("2027-01-31T12:00:00Z", 5), 1801353600 + 43200);
	assert_int_equal(tm_ok("2027-01-31T12:00Z", 5), 1801353600 + 43200);
	assert_int_equal(tm_ok("2027-01-31 12:00:00", 5), 1801353600 + 43200);
	assert_int_equal(tm_ok("2027-01-31T12:00:00+02:00", 5), 1801353600 + 36000);
	assert_int_equal(tm_ok("2027-01-31T12:00:00-0530", 5), 1801353600 + 43200 + 19800);
	assert_int_equal(tm_ok("2024-02-29", 5), 1709164800);
	assert_int_equal(tm_ok("+90d", 1000), 1000 + 90 * 86400);
	assert_int_equal(tm_ok("+2s", 1000), 1002);
	assert_int_equal(tm_ok("now", 1234), 1234);
	tm_bad("");
	tm_bad("2027-13-01");
	tm_bad("2027-02-29");
	tm_bad("2023-02-29");
	tm_bad("2027-01-32");
	tm_bad("2027-1-31");
	tm_bad("2027-01-31T25:00Z");
	tm_bad("2027-01-31T12:00:00Q");
	tm_bad("2027-01-31x");
	tm_bad("tomorrow");
	tm_bad("+90");
	/* outside where the formatter gives back what the parser reads: 0 is
	 * "no time", year 10000 has five digits */
	tm_bad("1970-01-01");
	tm_bad("1970-01-01T00:30:00+01:00");
	tm_bad("9999-12-31T23:59:59-00:01");
	tm_bad("9999-12-31T20:00:00-14:00");
	{
		time_t t = -1;
		assert_int_equal(nhi_parse_time("+1w", NHI_TIME_MAX - 86400, &t, NULL, 0),
				 NHI_ERR_INVAL);
		assert_int_equal(t, -1);
	}
}

static void test_format(void **state)
{
	char b[NHI_TIME_BUFSZ], d[32];
	assert_string_equal(nhi_format_time(1801353600 + 43200, b), "2027-01-31T12:00:00Z");
	assert_string_equal(nhi_format_time(0, b), "");
	assert_string_equal(nhi_format_duration(90 * 86400, d, sizeof(d)), "90d");
	assert_string_equal(nhi_format_duration(14 * 86400, d, sizeof(d)), "2w");
	assert_string_equal(nhi_format_duration(9000, d, sizeof(d)), "2h30m");
	assert_string_equal(nhi_format_duration(0, d, sizeof(d)), "0s");
	/* round trip */
	time_t t = -1;
	assert_int_equal(nhi_parse_time(nhi_format_time(1801353600 + 61, b), 0, &t, NULL, 0), 0);
	assert_int_equal(t, 1801353600 + 61);
	/* both ends of the accepted range round-trip */
	assert_int_equal(nhi_parse_time(nhi_format_time(NHI_TIME_MAX, b), 0, &t, NULL, 0), 0);
	assert_int_equal(t, NHI_TIME_MAX);
	assert_string_equal(b, "9999-12-31T23:59:59Z");
	assert_int_equal(nhi_parse_time(nhi_format_time(NHI_TIME_MIN, b), 0, &t, NULL, 0), 0);
	assert_int_equal(t, NHI_TIME_MIN);
}

/* The ASCII classes and parsers (nhi_ascii.h) the config, names and
 * files are read with. */
static void test_ascii(void **state)
{
	const char *p;
	uint64_t v = 7;

	(void)state;
	assert_true(nhi_caseeq("Yes", "yes") && nhi_caseeq("", "") && nhi_caseeq("OFF", "off"));
	assert_false(nhi_caseeq("yes", "ye") || nhi_caseeq("ye", "yes") || nhi_caseeq("y\xc9s", "y\xe9s"));
	assert_true(nhi_prefix("ldaps://h", "ldaps://") && nhi_prefix("x", ""));
	assert_false(nhi_prefix("ldap", "ldap://") || nhi_prefix("", "l"));
	p = "4294967294x";
	assert_int_equal(nhi_parse_dec(&p, 4294967294ULL, &v), 0);
	assert_true(v == 4294967294ULL && *p == 'x');
	p = "4294967295";
	assert_int_equal(nhi_parse_dec(&p, 4294967294ULL, &v), -1);
	assert_string_equal(p, "4294967295");
	p = "18446744073709551615";
	assert_int_equal(nhi_parse_dec(&p, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	p = "18446744073709551616";
	assert_int_equal(nhi_parse_dec(&p, UINT64_MAX, &v), -1);
	p = "9";
	assert_int_equal(nhi_parse_dec(&p, 5, &v), -1);          /* one digit over a small max */
	p = " 1";
	assert_int_equal(nhi_parse_dec(&p, 9, &v), -1);          /* no space, no sign */
	p = "-1";
	assert_int_equal(nhi_parse_dec(&p, 9, &v), -1);
	p = "+1";
	assert_int_equal(nhi_parse_dec(&p, 9, &v), -1);
}

/* Names do not depend on the locale of the program the module runs in:
 * in a Latin-1 locale <ctype.h>'s islower(0xe9) is true, and "caf\xe9"
 * must stay invalid.  The locale is made here with localedef(1) (the
 * Debian package 'locales' provides its sources); without them, skipped. */
static void test_names_locale(void **state)
{
	char dir[4096], cmd[4200];

	(void)state;
	test_tmpdir(dir, sizeof(dir), "locale");
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "localedef -i fr_FR -f ISO-8859-1 %s/fr_FR.ISO-8859-1 "
		 ">/dev/null 2>&1", dir);
	if (system(cmd) != 0 || setenv("LOCPATH", dir, 1) != 0 ||
	    setlocale(LC_CTYPE, "fr_FR.ISO-8859-1") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		(void)system(cmd);
		skip();
	}
	assert_true(islower(0xe9));          /* the locale took effect */
	assert_false(nhi_valid_name("caf\xe9"));
	assert_false(nhi_valid_name("\xe9t\xe9"));
	assert_false(nhi_valid_host("h\xf4te"));
	assert_false(nhi_valid_service("s\xe9rvice"));
	assert_true(nhi_valid_name("cafe"));
	setlocale(LC_CTYPE, "C");
	unsetenv("LOCPATH");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_names(void **state)
{
	assert_true(nhi_valid_name("svc-backup"));
	assert_true(nhi_valid_name("_apt"));
	assert_true(nhi_valid_name("a"));
	assert_true(nhi_valid_name("machine$"));
	assert_true(nhi_valid_name("agent.v2_x"));
	assert_false(nhi_valid_name(""));
	assert_false(nhi_valid_name("Svc"));
	assert_false(nhi_valid_name("1svc"));
	assert_false(nhi_valid_name("-svc"));
	assert_false(nhi_valid_name("svc x"));
	assert_false(nhi_valid_name("svc*)(uid=*"));
	assert_false(nhi_valid_name("a$b"));
	assert_false(nhi_valid_name("abcdefghijklmnopqrstuvwxyz0123456"));
	assert_true(nhi_valid_name("abcdefghijklmnopqrstuvwxyz012345"));
	assert_true(nhi_valid_host("web-*.example.org"));
	assert_false(nhi_valid_host("web host"));
	assert_false(nhi_valid_host(""));
	assert_true(nhi_valid_service("sshd"));
	assert_true(nhi_valid_service("cron*"));
	assert_false(nhi_valid_service("ss/hd"));
	assert_true(nhi_valid_text("Nightly backup to S3", 200, 1));
	assert_false(nhi_valid_text("a:b", 200, 1));
	assert_true(nhi_valid_text("a:b", 200, 0));
	assert_false(nhi_valid_text("line\nbreak", 200, 0));
	assert_false(nhi_valid_text("xxxx", 3, 0));
	/* UTF-8: well-formed text passes, anything else is refused */
	assert_true(nhi_valid_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91", 200, 1));
	assert_false(nhi_valid_text("bad \xff\xfe", 200, 0));        /* never in UTF-8 */
	assert_false(nhi_valid_text("a\x80", 200, 0));                /* stray continuation */
	assert_false(nhi_valid_text("\xc3", 200, 0));                 /* cut short */
	assert_false(nhi_valid_text("\xc3(", 200, 0));
	assert_false(nhi_valid_text("\xc0\xaf", 200, 0));             /* overlong '/' */
	assert_false(nhi_valid_text("\xe0\x80\xaf", 200, 0));
	assert_false(nhi_valid_text("\xf0\x80\x80\xaf", 200, 0));
	assert_false(nhi_valid_text("\xed\xa0\x80", 200, 0));         /* a surrogate */
	assert_false(nhi_valid_text("\xf4\x90\x80\x80", 200, 0));     /* above U+10FFFF */
	assert_false(nhi_valid_text("\xc2\x9b" "31m", 200, 0));        /* C1 CSI */
	assert_true(nhi_valid_text("\xc2\xa0", 200, 0));               /* U+00A0 */
	assert_true(nhi_valid_text("\xed\x9f\xbf \xf4\x8f\xbf\xbf", 200, 0));
	assert_int_equal(nhi_utf8_len("\xe2\x82\xac", 3), 3);
	assert_int_equal(nhi_utf8_len("\xe2\x82\xac", 2), 0);       /* n counts */
	assert_int_equal(nhi_utf8_len("\xf0\x9f\x94\x91", 4), 4);
	assert_int_equal(nhi_utf8_len("\xe2\x82", 3), 0);            /* its NUL ends it */
	assert_int_equal(nhi_utf8_len("A", 1), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_names_locale),
		cmocka_unit_test(test_ascii),
	};
	return cmocka_run_group_tests_name("time", tests, NULL, NULL);
}

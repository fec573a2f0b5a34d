/* Unit tests: RFC 4515 filter and RFC 4514 DN escaping (nhictl/ldap/ldap_escape.c)
 * and the password-file checks of nhictl/ldap/ldap.c.  Escaped DNs are parsed
 * back with libldap's own ldap_str2dn(), so an injection attempt that
 * escaped wrongly would show up as extra RDNs or a changed value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "nhi_err.h"
#include "ldap.h"

static void filt(const char *in, const char *want)
{
	char out[512];

	assert_int_equal(nhi_ldap_escape_filter(in, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void dnv(const char *in, const char *want)
{
	char out[512];

	assert_int_equal(nhi_ldap_escape_dn_value(in, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

/* Undo RFC 4515 escaping; the escaped form must hold no bare specials. */
static void filter_roundtrip(const char *in)
{
	char out[1024], back[512];
	const char *p;
	size_t n = 0;

	assert_int_equal(nhi_ldap_escape_filter(in, out, sizeof(out)), 0);
	for (p = out; *p; p++) {
		assert_null(strchr("*()", *p));
		assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
		if (*p == '\\') {
			unsigned v;

			assert_true(sscanf(p + 1, "%2x", &v) == 1);
			assert_non_null(strchr("0123456789abcdef", p[1]));
			assert_non_null(strchr("0123456789abcdef", p[2]));
			back[n++] = (char)v;
			p += 2;
		} else
			back[n++] = *p;
	}
	back[n] = '\0';
	assert_string_equal(back, in);
}

/* "uid=<escaped>,ou=people,dc=example,dc=org" parses as exactly 4 RDNs
 * and the first has attribute uid with the original value. */
static void dn_roundtrip(const char *in)
{
	char esc[1024], dn[1200];
	LDAPDN ldn = NULL;
	int n;

	assert_int_equal(nhi_ldap_escape_dn_value(in, esc, sizeof(esc)), 0);
	snprintf(dn, sizeof(dn), "uid=%s,ou=people,dc=example,dc=org", esc);
	assert_int_equal(ldap_str2dn(dn, &ldn, LDAP_DN_FORMAT_LDAPV3), LDAP_SUCCESS);
	for (n = 0; ldn[n] != NULL; n++)
		;
	assert_int_equal(n, 4);
	assert_non_null(ldn[0][0]);
	assert_null(ldn[0][1]);   /* a single-valued RDN: no '+' got through */
	assert_int_equal(ldn[0][0]->la_attr.bv_len, 3);
	assert_memory_equal(ldn[0][0]->la_attr.bv_val, "uid", 3);
	assert_int_equal(ldn[0][0]->la_value.bv_len, strlen(in));
	assert_memory_equal(ldn[0][0]->la_value.bv_val, in, strlen(in));
	ldap_dnfree(ldn);
}

static const char *attacks[] = {
	"*)(uid=*))(|(uid=*",
	"admin)(|(objectClass=*",
	"*",
	"a\\2a",
	"\\",
	"a,ou=evil",
	"a+uid=root",
	"x,dc=example,dc=org",
	"#x",
	" x ",
	" ",
	"  ",
	"a\"b",
	"<script>",
	"semi;colon",
	"eq=ual",
	"tab\there",
	"new\nline",
	"Lu\xc4\x8di\xc4\x87",
	"J\xc3\xbcrgen M\xc3\xbcller",
	"\xe5\xb1\xb1\xe7\x94\xb0",
	"",
};

static void test_filter_rfc4515_examples(void **state)
{
	(void)state;
	/* RFC 4515 section 4 */
	filt("Parens R Us (for all your parenthetical needs)",
	     "Parens R Us \\28for all your parenthetical needs\\29");
	filt("*", "\\2a");
	filt("C:\\MyFile", "C:\\5cMyFile");
	filt("Lu\xc4\x8di\xc4\x87", "Lu\\c4\\8di\\c4\\87");
	filt("alice", "alice");
	filt("", "");
	filt(NULL, "");
	filt("a\x01" "b\x7f", "a\\01b\\7f");
}

static void test_filter_injection(void **state)
{
	size_t i;

	(void)state;
	filt("*)(uid=*))(|(uid=*", "\\2a\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a");
	filt("admin)(|(objectClass=*", "admin\\29\\28|\\28objectClass=\\2a");
	for (i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++)
		filter_roundtrip(attacks[i]);
}

static void test_dn_rfc4514_examples(void **state)
{
	(void)state;
	/* RFC 4514 section 4 */
	dnv("James \"Jim\" Smith, III", "James \\\"Jim\\\" Smith\\, III");
	dnv("Before\rAfter", "Before\\0dAfter");
	dnv("Sales+J. Smith", "Sales\\+J. Smith");
	dnv("Lu\xc4\x8di\xc4\x87", "Lu\xc4\x8di\xc4\x87");   /* UTF-8 kept */
	dnv("a,ou=evil", "a\\,ou\\=evil");
	dnv("#x", "\\#x");
	dnv("x#", "x#");
	dnv(" x ", "\\ x\\ ");
	dnv(" ", "\\ ");
	dnv("a b", "a b");
	dnv("<a>;\\", "\\<a\\>\\;\\\\");
	dnv("", "");
	dnv(NULL, "");
}

static void test_dn_injection(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++)
		if (attacks[i][0] != '\0')
			dn_roundtrip(attacks[i]);
}

static void test_range(void **state)
{
	char out[16];

	(void)state;
	/* "*" needs 4 bytes: "\2a" and the NUL */
	assert_int_equal(nhi_ldap_escape_filter("*", out, 4), 0);
	assert_string_equal(out, "\\2a");
	memcpy(out, "junk", 5);
	assert_int_equal(nhi_ldap_escape_filter("*", out, 3), NHI_ERR_RANGE);
	assert_string_equal(out, "");
	assert_int_equal(nhi_ldap_escape_filter("abc", out, 4), 0);
	assert_int_equal(nhi_ldap_escape_filter("abcd", out, 4), NHI_ERR_RANGE);
	assert_string_equal(out, "");
	assert_int_equal(nhi_ldap_escape_filter("", out, 0), NHI_ERR_RANGE);
	assert_int_equal(nhi_ldap_escape_dn_value("a,", out, 4), 0);
	assert_string_equal(out, "a\\,");
	assert_int_equal(nhi_ldap_escape_dn_value("a,", out, 3), NHI_ERR_RANGE);
	assert_string_equal(out, "");
	assert_int_equal(nhi_ldap_escape_dn_value("\r", out, 3), NHI_ERR_RANGE);
	assert_int_equal(nhi_ldap_escape_dn_value("\r", out, 4), 0);
	assert_string_equal(out, "\\0d");
}

/* ---- the password file of a simple bind ------------------------------ */

static char dir[64];

static const char *pwfile(const char *name, const char *content, mode_t mode)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void test_password_file(void **state)
{
	char pw[64], err[512], link[160];
	const char *p;

	(void)state;
	p = pwfile("ok", "s3cret\n", 0600);
	assert_int_equal(nhi_ldap_read_password(p, pw, sizeof(pw), err, sizeof(err)), 0);
	assert_string_equal(pw, "s3cret");
	p = pwfile("ro", "s3cret", 0400);
	assert_int_equal(nhi_ldap_read_password(p, pw, sizeof(pw), err, sizeof(err)), 0);
	assert_string_equal(pw, "s3cret");
	p = pwfile("crlf", "pw with spaces \r\n", 0600);
	assert_int_equal(nhi_ldap_read_password(p, pw, sizeof(pw), err, sizeof(err)), 0);
	assert_string_equal(pw, "pw with spaces ");

	p = pwfile("world", "s3cret\n", 0644);
	assert_int_equal(nhi_ldap_read_password(p, pw, sizeof(pw), err, sizeof(err)), NHI_ERR_PERM);
	assert_non_null(strstr(err, p));
	assert_non_null(strstr(err, "0644"));
	assert_string_equal(pw, "");
	p = pwfile("group", "s3cret\n", 0640);
	assert_int_equal(nhi_ldap_read_password(p, pw, sizeof(pw), err, sizeof(err)), NHI_ERR_PERM);
	p = pwfile("exec", "s3cret\n", 0700);
	assert_int_equal(nhi_ldap_read_password(p, pw, sizeof(pw), err, sizeof(err)), NHI_ERR_PERM);

	p = pwfile("empty", "\n", 0600);
	assert_int_equal(nhi_ldap_read_password(p, pw, sizeof(pw), err, sizeof(err)), NHI_ERR_INVAL);
	assert_non_null(strstr(err, "empty"));
	p = pwfile("twolines", "a\nb\n", 0600);
	assert_int_equal(nhi_ldap_read_password(p, pw, sizeof(pw), err, sizeof(err)), NHI_ERR_INVAL);
	p = pwfile("long", "0123456789012345678901234567890123456789012345678901234567890123456789", 0600);
	assert_int_equal(nhi_ldap_read_password(p, pw, sizeof(pw), err, sizeof(err)), NHI_ERR_RANGE);
	assert_string_equal(pw, "");

	p = pwfile("target", "s3cret\n", 0600);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(p, link), 0);
	assert_int_equal(nhi_ldap_read_password(link, pw, sizeof(pw), err, sizeof(err)), NHI_ERR_PERM);
	assert_non_null(strstr(err, link));
	assert_int_equal(nhi_ldap_read_password(dir, pw, sizeof(pw), err, sizeof(err)), NHI_ERR_PERM);
	snprintf(link, sizeof(link), "%s/missing", dir);
	assert_int_equal(nhi_ldap_read_password(link, pw, sizeof(pw), err, sizeof(err)), NHI_ERR_IO);
	assert_non_null(strstr(err, link));
	assert_int_equal(nhi_ldap_read_password("", pw, sizeof(pw), err, sizeof(err)), NHI_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_rfc4515_examples),
		cmocka_unit_test(test_filter_injection),
		cmocka_unit_test(test_dn_rfc4514_examples),
		cmocka_unit_test(test_dn_injection),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_password_file),
	};
	char cmd[96];
	int r;

	snprintf(dir, sizeof(dir), "/tmp/nhi-ldap-escape.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		r = 1;
	return r;
}

/* fuzz-ldap-escape.c - LDAP filter (RFC 4515) and DN value (RFC 4514)
 * escaping (nhictl/ldap/ldap_escape.c), with round trips, not only crashes:
 *   filter: the escaped value holds no '*', '(', ')' or byte outside
 *     printable ASCII, every '\' starts a two-digit hex escape, and
 *     unescaping it gives the input back;
 *   DN: libldap's own DN parser (ldap_str2dn) reads "cn=<escaped>,dc=x"
 *     as two RDNs whose first value is exactly the input (for input that
 *     is valid UTF-8: libldap refuses the rest, whatever the escaping);
 *   both: 3 * strlen + 1 bytes always suffice, the exact length needed
 *     works and one byte less is NHI_ERR_RANGE with "" in the buffer.
 * The input is the value (up to its first NUL). */
#include <ldap.h>
#include "fuzz.h"
#include "ldap.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 4515's reading of an escaped assertion value. */
static void filter_check(const char *in, const char *esc)
{
	size_t n = strlen(in), j = 0;
	char *back = malloc(strlen(esc) + 1);

	if (back == NULL)
		abort();
	for (const char *p = esc; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		FUZZ_ASSERT(c >= 0x20 && c < 0x7f && c != '*' && c != '(' && c != ')');
		if (c == '\\') {
			FUZZ_ASSERT(hexval(p[1]) >= 0 && hexval(p[2]) >= 0);
			back[j++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
			p += 2;
		} else {
			back[j++] = (char)c;
		}
	}
	FUZZ_ASSERT(j == n && memcmp(back, in, n) == 0);
	free(back);
}

/* A valid UTF-8 string (what an LDAP DN may hold). */
static int utf8_ok(const unsigned char *s)
{
	while (*s != '\0') {
		int n = *s < 0x80 ? 0 : (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2 :
			(*s & 0xf8) == 0xf0 ? 3 : -1;

		if (n < 0 || (n == 1 && *s < 0xc2) || (n == 3 && *s > 0xf4))
			return 0;
		s++;
		for (int i = 0; i < n; i++, s++)
			if ((*s & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

static void dn_check(const char *in, const char *esc)
{
	size_t n = strlen(in), len = strlen(esc) + 16;
	char *dnstr = malloc(len);
	LDAPDN dn = NULL;

	if (dnstr == NULL)
		abort();
	snprintf(dnstr, len, "cn=%s,dc=x", esc);
	/* no unescaped separator: the value cannot split the DN */
	for (const char *p = esc; *p != '\0'; p++) {
		if (*p == '\\') {
			FUZZ_ASSERT(p[1] != '\0');
			p++;
			continue;
		}
		FUZZ_ASSERT(strchr("\"+,;<>=", *p) == NULL && (unsigned char)*p >= 0x20 && *p != 0x7f);
	}
	if (utf8_ok((const unsigned char *)in)) {
		int r = ldap_str2dn(dnstr, &dn, LDAP_DN_FORMAT_LDAPV3);

		if (r != LDAP_SUCCESS)
			fprintf(stderr, "ldap_str2dn refuses '%s': %s\n", dnstr, ldap_err2string(r));
		FUZZ_ASSERT(r == LDAP_SUCCESS);
		FUZZ_ASSERT(dn != NULL && dn[0] != NULL && dn[1] != NULL && dn[2] == NULL);
		FUZZ_ASSERT(dn[0][0] != NULL && dn[0][1] == NULL);
		FUZZ_ASSERT(dn[0][0]->la_value.bv_len == n &&
			    memcmp(dn[0][0]->la_value.bv_val, in, n) == 0);
		ldap_dnfree(dn);
	}
	free(dnstr);
}

static void exact(int (*esc)(const char *, char *, size_t), const char *in, size_t need)
{
	char *b = malloc(need);

	if (b == NULL)
		abort();
	FUZZ_ASSERT(esc(in, b, need) == 0 && strlen(b) == need - 1);
	free(b);
	b = malloc(need - 1 > 0 ? need - 1 : 1);
	if (b == NULL)
		abort();
	FUZZ_ASSERT(esc(in, b, need - 1) == NHI_ERR_RANGE);
	FUZZ_ASSERT(need - 1 == 0 || b[0] == '\0');
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), *out;
	size_t n, max;

	if (in == NULL)
		abort();
	memcpy(in, data, size);
	in[size] = '\0';
	n = strlen(in);
	max = 3 * n + 1;
	out = malloc(max);
	if (out == NULL)
		abort();

	FUZZ_ASSERT(nhi_ldap_escape_filter(in, out, max) == 0);
	filter_check(in, out);
	exact(nhi_ldap_escape_filter, in, strlen(out) + 1);

	FUZZ_ASSERT(nhi_ldap_escape_dn_value(in, out, max) == 0);
	dn_check(in, out);
	exact(nhi_ldap_escape_dn_value, in, strlen(out) + 1);

	free(out);
	free(in);
	return 0;
}

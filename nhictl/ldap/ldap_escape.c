/* ldap_escape.c - escaping input for LDAP filters (RFC 4515) and DNs
 * (RFC 4514).  Every filter or DN that nhictl builds from a name, an owner
 * or any other input goes through these; nothing is ever pasted raw.
 */
#include <string.h>
#include "nhi_err.h"
#include "ldap.h"

static const char hex[] = "0123456789abcdef";

struct out {
	char *p;
	size_t left;   /* bytes left, including the one for the final NUL */
};

static int put(struct out *o, char ch)
{
	if (o->left <= 1)
		return NHI_ERR_RANGE;
	*o->p++ = ch;
	o->left--;
	return 0;
}

static int put_hex(struct out *o, unsigned char ch)
{
	if (o->left <= 3)
		return NHI_ERR_RANGE;
	*o->p++ = '\\';
	*o->p++ = hex[ch >> 4];
	*o->p++ = hex[ch & 0xf];
	o->left -= 3;
	return 0;
}

int nhi_ldap_escape_filter(const char *value, char *out, size_t outlen)
{
	struct out o = { out, outlen };
	const unsigned char *s;
	int r = 0;

	if (out == NULL || outlen == 0)
		return NHI_ERR_RANGE;
	if (value == NULL)
		value = "";
	for (s = (const unsigned char *)value; *s != '\0' && r == 0; s++) {
		if (*s == '*' || *s == '(' || *s == ')' || *s == '\\' ||
		    *s < 0x20 || *s >= 0x7f)
			r = put_hex(&o, *s);
		else
			r = put(&o, (char)*s);
	}
	if (r < 0) {
		out[0] = '\0';
		return r;
	}
	*o.p = '\0';
	return 0;
}

int nhi_ldap_escape_dn_value(const char *value, char *out, size_t outlen)
{
	struct out o = { out, outlen };
	const unsigned char *s, *start;
	size_t len;
	int r = 0;

	if (out == NULL || outlen == 0)
		return NHI_ERR_RANGE;
	if (value == NULL)
		value = "";
	start = (const unsigned char *)value;
	len = strlen(value);
	for (s = start; *s != '\0' && r == 0; s++) {
		if (*s < 0x20 || *s == 0x7f)
			r = put_hex(&o, *s);
		else if (strchr("\"+,;<>\\=", *s) != NULL ||
			 (s == start && (*s == ' ' || *s == '#')) ||
			 (s == start + len - 1 && *s == ' ')) {
			if ((r = put(&o, '\\')) == 0)
				r = put(&o, (char)*s);
		} else
			r = put(&o, (char)*s);
	}
	if (r < 0) {
		out[0] = '\0';
		return r;
	}
	*o.p = '\0';
	return 0;
}

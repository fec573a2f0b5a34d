/* nhi_ascii.h - ASCII character classes, case-blind comparison and
 * prefix tests that do not depend on the caller's locale.
 *
 * <ctype.h> answers by the process's LC_CTYPE: nss_nhi and pam_nhi run
 * inside programs that call setlocale(), and in a Latin-1 locale
 * islower(0xe9) is true, so a name check built on it would let "caf\xe9"
 * through in one program and not in another.  nhi's names, hosts, config
 * words and numbers are ASCII everywhere.  Being inline, these also keep
 * libnss_nhi.so.2 from importing __ctype_b_loc, strcasecmp and strncmp:
 * every libc symbol the module imports is bound by ld.so in every process
 * that loads it (see bench/RESULTS.md). */
#ifndef NHI_ASCII_H
#define NHI_ASCII_H

#include <stdint.h>

static inline int nhi_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

static inline int nhi_islower(int c)
{
	return c >= 'a' && c <= 'z';
}

static inline int nhi_isupper(int c)
{
	return c >= 'A' && c <= 'Z';
}

static inline int nhi_isalnum(int c)
{
	return nhi_isdigit(c) || nhi_islower(c) || nhi_isupper(c);
}

static inline int nhi_isxdigit(int c)
{
	return nhi_isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline int nhi_tolower(int c)
{
	return nhi_isupper(c) ? c - 'A' + 'a' : c;
}

/* a and b equal, ASCII letters compared without case */
static inline int nhi_caseeq(const char *a, const char *b)
{
	for (; nhi_tolower((unsigned char)*a) == nhi_tolower((unsigned char)*b); a++, b++)
		if (*a == '\0')
			return 1;
	return 0;
}

/* Does s begin with prefix?  (Reads s no further than its NUL.) */
static inline int nhi_prefix(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++)
		if (*s != *prefix)
			return 0;
	return 1;
}

/* Decimal digits at *pp (at least one, no sign, no space) into *out, at
 * most max: 0, *pp past them; -1 (nothing digits, or more than max),
 * *pp unmoved. */
static inline int nhi_parse_dec(const char **pp, uint64_t max, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (!nhi_isdigit((unsigned char)*p))
		return -1;
	for (; nhi_isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*pp = p;
	*out = v;
	return 0;
}

#endif

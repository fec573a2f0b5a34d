/* nhi_time.c - durations, ISO 8601 times and name validation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nhi_ascii.h"
#include "nhi_err.h"
#include "nhi_time.h"

/* Upper bound for any duration: 200 years. */
#define MAX_SECS (200LL * 366 * 86400)

int nhi_parse_duration(const char *s, int64_t *secs, char *err, size_t errlen)
{
	const char *p = s;
	int64_t total = 0;
	int groups = 0;

	if (s == NULL || *s == '\0')
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "empty duration");
	if (*p == '+')
		p++;
	while (*p != '\0') {
		int64_t n = 0, mult;

		if (!nhi_isdigit((unsigned char)*p))
			return nhi_seterr(err, errlen, NHI_ERR_INVAL,
					  "bad duration '%s': expected a number at '%s'", s, p);
		while (nhi_isdigit((unsigned char)*p)) {
			n = n * 10 + (*p - '0');
			if (n > MAX_SECS)
				return nhi_seterr(err, errlen, NHI_ERR_INVAL,
						  "bad duration '%s': too large", s);
			p++;
		}
		switch (*p) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		case 'w': mult = 7 * 86400; break;
		case '\0':
			return nhi_seterr(err, errlen, NHI_ERR_INVAL,
					  "bad duration '%s': missing unit (s, m, h, d or w)", s);
		default:
			return nhi_seterr(err, errlen, NHI_ERR_INVAL,
					  "bad duration '%s': unknown unit '%c' (s, m, h, d or w)", s, *p);
		}
		p++;
		if (n > MAX_SECS / mult || total + n * mult > MAX_SECS)
			return nhi_seterr(err, errlen, NHI_ERR_INVAL, "bad duration '%s': too large", s);
		total += n * mult;
		groups++;
	}
	if (groups == 0)
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "bad duration '%s'", s);
	*secs = total;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

/* Read exactly n digits. */
static int digits(const char **pp, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!nhi_isdigit((unsigned char)(*pp)[i]))
			return -1;
		v = v * 10 + ((*pp)[i] - '0');
	}
	*pp += n;
	*out = v;
	return 0;
}

/* A parsed time must lie where it round-trips through nhi_format_time:
 * after the epoch (0 means "no time" everywhere in nhi) and no later
 * than 9999-12-31T23:59:59Z (an offset or a relative time must not carry
 * it into a five-digit year that the parser refuses). */
static int in_range(const char *s, int64_t t, time_t *out, char *err, size_t errlen)
{
	if (t < NHI_TIME_MIN || t > NHI_TIME_MAX)
		return nhi_seterr(err, errlen, NHI_ERR_INVAL,
				  "bad time '%s': outside 1970-01-01T00:00:01Z..9999-12-31T23:59:59Z", s);
	*out = (time_t)t;
	return 0;
}

int nhi_parse_time(const char *s, time_t now, time_t *out, char *err, size_t errlen)
{
	const char *p = s;
	int y, mo, d, hh = 0, mi = 0, ss = 0, oh = 0, om = 0, sign = 0;
	int64_t t;

	if (s == NULL || *s == '\0')
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "empty time");
	if (strcmp(s, "now") == 0) {
		*out = now;
		return 0;
	}
	if (*s == '+') {
		int64_t secs;
		int r = nhi_parse_duration(s, &secs, err, errlen);
		if (r < 0)
			return r;
		return in_range(s, (int64_t)now + secs, out, err, errlen);
	}
	if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 ||
	    *p++ != '-' || digits(&p, 2, &d) < 0)
		goto bad;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "bad time '%s': no such date", s);
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &hh) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0)
			goto bad;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &ss) < 0)
				goto bad;
		}
		if (hh > 23 || mi > 59 || ss > 60)
			return nhi_seterr(err, errlen, NHI_ERR_INVAL, "bad time '%s': no such time of day", s);
		if (ss == 60)
			ss = 59;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p == '+' ? 1 : -1;
			p++;
			if (digits(&p, 2, &oh) < 0)
				goto bad;
			if (*p == ':')
				p++;
			if (digits(&p, 2, &om) < 0)
				goto bad;
			if (oh > 14 || om > 59)
				return nhi_seterr(err, errlen, NHI_ERR_INVAL, "bad time '%s': bad UTC offset", s);
		} else if (*p != '\0') {
			goto bad;
		}
		/* no zone: UTC */
	}
	if (*p != '\0')
		goto bad;
	t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mi * 60 + ss;
	t -= sign * (oh * 3600 + om * 60);
	return in_range(s, t, out, err, errlen);
bad:
	return nhi_seterr(err, errlen, NHI_ERR_INVAL,
			  "bad time '%s': expected YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss][Z|+hh:mm], +DURATION or now", s);
}

long nhi_days_floor(int64_t t)
{
	int64_t d = t / 86400;

	if (t % 86400 != 0 && t < 0)
		d--;
	return (long)d;
}

long nhi_expire_days(int64_t expires, int64_t now)
{
	long d = nhi_days_floor(expires);

	if (now >= expires)
		return d;
	return expires % 86400 != 0 ? d + 1 : d;
}

char *nhi_format_time(time_t t, char buf[NHI_TIME_BUFSZ])
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL) {
		buf[0] = '\0';
		return buf;
	}
	strftime(buf, NHI_TIME_BUFSZ, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

char *nhi_format_duration(int64_t secs, char *buf, size_t len)
{
	static const struct { char u; int64_t n; } units[] = {
		{ 'w', 7 * 86400 }, { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
	};
	size_t off = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (secs <= 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	/* whole days are easier to read than weeks+days: use w only when exact */
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && secs > 0; i++) {
		if (units[i].u == 'w' && secs % units[i].n != 0)
			continue;
		if (secs >= units[i].n) {
			int w = snprintf(buf + off, len - off, "%lld%c",
					 (long long)(secs / units[i].n), units[i].u);
			if (w < 0 || (size_t)w >= len - off)
				break;
			off += (size_t)w;
			secs %= units[i].n;
		}
	}
	return buf;
}

int nhi_valid_name(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > 32)
		return 0;
	if (!(nhi_islower((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '$' && i == n - 1)
			continue;
		if (!(nhi_islower(c) || nhi_isdigit(c) || c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

static int valid_chars(const char *s, size_t maxlen, const char *extra)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > maxlen)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(nhi_isalnum(c) || strchr(extra, c) != NULL) || c == '\0')
			return 0;
	}
	return 1;
}

int nhi_valid_host(const char *s)
{
	return valid_chars(s, 253, ".-_*?");
}

int nhi_valid_service(const char *s)
{
	return valid_chars(s, 64, ".-_*?");
}

int nhi_service_upper(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			return 1;
	return 0;
}

size_t nhi_utf8_len(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t k;

	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		k = 2;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		k = 3;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		k = 4;
	else
		return 0;   /* a continuation byte, C0/C1 (overlong) or F5..FF */
	/* the second byte's range rules out overlong forms (E0, F0),
	 * surrogates (ED) and code points above U+10FFFF (F4) */
	if (u[0] == 0xe0)
		lo = 0xa0;
	else if (u[0] == 0xed)
		hi = 0x9f;
	else if (u[0] == 0xf0)
		lo = 0x90;
	else if (u[0] == 0xf4)
		hi = 0x8f;
	if (n < k || u[1] < lo || u[1] > hi)
		return 0;
	for (size_t i = 2; i < k; i++)
		if ((u[i] & 0xc0) != 0x80)
			return 0;
	return k;
}

int nhi_valid_text(const char *s, size_t maxlen, int passwd_safe)
{
	size_t n, k;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n > maxlen)
		return 0;
	for (size_t i = 0; i < n; i += k) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
		if (passwd_safe && (c == ':' || c == ','))
			return 0;
		if ((k = nhi_utf8_len(s + i, n - i)) == 0 || nhi_utf8_is_c1(s + i))
			return 0;
	}
	return 1;
}

/* nhi_time.h - parsing and formatting of times, durations and names. */
#ifndef NHI_TIME_H
#define NHI_TIME_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

/* Durations: one or more <number><unit> groups, unit one of s m h d w
 * ("90d", "+90d", "1w2d", "12h", "2s").  A leading '+' is allowed.
 * Returns 0 or NHI_ERR_INVAL (with a reason in err). */
int nhi_parse_duration(const char *s, int64_t *secs, char *err, size_t errlen);

/* Points in time: ISO 8601 date "2027-01-31" (00:00:00 UTC of that day),
 * date-time "2027-01-31T12:00:00Z", "2027-01-31T12:00Z", with an offset
 * "+02:00" / "-0500", a space instead of 'T', or a relative time "+90d"
 * (now + duration), or "now".  The result lies in [NHI_TIME_MIN,
 * NHI_TIME_MAX], where nhi_format_time gives what this parses back.
 * Returns 0 or NHI_ERR_INVAL. */
#define NHI_TIME_MIN 1LL                 /* 1970-01-01T00:00:01Z (0 is "no time") */
#define NHI_TIME_MAX 253402300799LL      /* 9999-12-31T23:59:59Z */
int nhi_parse_time(const char *s, time_t now, time_t *out, char *err, size_t errlen);

/* shadow(5)'s expiry day (sp_expire, shadowExpire: days since the epoch;
 * the classic stack, pam_unix and shadow-utils, treat the whole of that
 * day as expired) for an identity that expires at 'expires' (> 0):
 *  - before the expiry instant (now < expires), the first day on which the
 *    identity is expired all day: the day count rounded UP, so an identity
 *    that expires later today is not refused from the start of today;
 *  - from the expiry instant on, the day in which it expired (rounded
 *    down), so pam_unix refuses it at once.
 * Between the two the classic stack allows until the end of the last day
 * at most; pam_nhi enforces the exact time.  A value written once (the
 * directory's shadowExpire) passes now = 0: always the first form. */
long nhi_expire_days(int64_t expires, int64_t now);
/* Days since the epoch, rounded down (sp_lstchg and the like). */
long nhi_days_floor(int64_t t);

#define NHI_TIME_BUFSZ 32
/* "2027-01-31T12:00:00Z"; 0 gives "" (no time). */
char *nhi_format_time(time_t t, char buf[NHI_TIME_BUFSZ]);
/* "90d", "1w", "2h30m", "0s". */
char *nhi_format_duration(int64_t secs, char *buf, size_t len);

/* A POSIX portable user/group name as Debian's adduser accepts it:
 * [a-z_][a-z0-9_.-]* (optionally ending in '$'), 1..32 characters. */
int nhi_valid_name(const char *s);
/* A host name or pattern for scopes: [A-Za-z0-9.*?_-], 1..253 characters. */
int nhi_valid_host(const char *s);
/* A PAM service name: [A-Za-z0-9._-], 1..64 characters (may also be a
 * glob with * and ?). */
int nhi_valid_service(const char *s);
/* Does service name (or pattern) s hold an upper-case letter?  Linux-PAM
 * lower-cases the name an application passes to pam_start(), so
 * PAM_SERVICE never does: such a scope would never match (nhictl refuses
 * to write one; one read from a directory is kept as it is). */
int nhi_service_upper(const char *s);
/* Free text (purpose, gecos, reason): well-formed UTF-8 (nhi_utf8_len),
 * no control characters (C0, DEL or C1) and no ':' or ',' where
 * 'passwd_safe' is set; <= maxlen bytes. */
int nhi_valid_text(const char *s, size_t maxlen, int passwd_safe);
/* The length of the well-formed UTF-8 sequence that starts at p, of the
 * n bytes there (n >= 1): 1 to 4, or 0 when it is none (a stray
 * continuation byte, an overlong form, a surrogate, above U+10FFFF or
 * cut short; RFC 3629). */
size_t nhi_utf8_len(const char *p, size_t n);
/* The same for the sequence at s inside a NUL-terminated string (the NUL
 * is no continuation byte: nothing past it is read). */
static inline size_t nhi_utf8_len_str(const char *s)
{
	return nhi_utf8_len(s, strnlen(s, 4));
}
/* Is the well-formed sequence at p (nhi_utf8_len > 0) a C1 control,
 * U+0080..U+009F (0x9b is a terminal's CSI)? */
static inline int nhi_utf8_is_c1(const char *p)
{
	return (unsigned char)p[0] == 0xc2 && (unsigned char)p[1] < 0xa0;
}

#endif

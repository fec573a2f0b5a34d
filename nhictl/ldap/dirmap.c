/* dirmap.c - identities between the directory and the local registry: the
 * directory side of dirmap.h (connecting, DNs, reading an identity entry
 * into a struct ident, resolving and checking owners).
 *
 * Every filter built from input is escaped (RFC 4515) and every DN built
 * from input is escaped (RFC 4514), see ldap_escape.c.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "nhi_policy.h"
#include "ldap.h"
#include "dirmap.h"

char *dir_ident_attrs[] = {
	"uid", "uidNumber", "gidNumber", "homeDirectory", "loginShell", "gecos",
	"owner", "description", "nhiKind", "nhiState", "nhiExpires", "nhiCreated",
	"nhiReviewInterval", "nhiLastReview", "nhiReviewDue", "nhiOrphanedSince",
	"nhiRetiredAt", "nhiReason", "host", "nhiPamService", "nhiLastUsed",
	"nhiAdopted", "nhiSerial", "entryUUID", "nhiLabel", "nhiApplied", NULL
};

static int open_list(struct nhictl *x, struct dir *d, int write)
{
	struct nhi_ldap_info info;
	char err[2048];
	int r;

	d->ld = NULL;
	d->x = x;
	d->seen[0] = '\0';
	d->referred = 0;
	if (x->conf.ldap_base[0] == '\0')
		return nerr(x, NHI_ERR_INVAL, "no ldap_base in %s",
			    x->conf.path[0] ? x->conf.path : "the configuration");
	/* a server that goes away mid-write must be an error, not SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	r = write ? nhi_ldap_connect_write(&x->conf, &d->ld, &info, err, sizeof(err))
		  : nhi_ldap_connect_info(&x->conf, &d->ld, &info, err, sizeof(err));
	if (r < 0)
		return nerr(x, r, "directory unreachable: %s", err);
	snprintf(d->seen, sizeof(d->seen), "%s", info.uri);
	return 0;
}

int dir_open(struct nhictl *x, struct dir *d)
{
	return open_list(x, d, 0);
}

void dir_close(struct dir *d)
{
	if (d->ld != NULL)
		ldap_unbind_ext_s(d->ld, NULL, NULL);
	d->ld = NULL;
}

struct dir dir_conn;

static void dir_conn_release(void)
{
	dir_close(&dir_conn);
}

int dir_need(struct nhictl *x)
{
	int r;

	if (dir_conn.ld != NULL)
		return 0;
	r = open_list(x, &dir_conn, 1);

	if (r < 0)
		return r;
	atexit(dir_conn_release);
	return 0;
}

int dir_referral(struct dir *d, int rc)
{
	char from[2048], to[1024], err[2048];

	/* no answer from the server (libldap's own codes: a timeout, the
	 * connection lost): the write may have landed (intent.c) */
	if ((rc < 0 || rc == LDAP_TIMELIMIT_EXCEEDED) && d->x != NULL)
		d->x->write_unsure = 1;
	if (rc != LDAP_REFERRAL || d->ld == NULL)
		return 0;
	snprintf(from, sizeof(from), "%s", d->seen);
	if (nhi_ldap_follow_referral(&d->x->conf, &d->ld, d->seen, sizeof(d->seen), to, sizeof(to),
				     err, sizeof(err)) < 0) {
		ldap_set_option(d->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, err);
		return 0;
	}
	if (!d->referred++) {
		char *last = strrchr(from, ' ');

		nerr(d->x, 0, "%s is read-only (a consumer): writing to %s, the provider its "
		     "referral names (set ldap_write_uri to write there directly)",
		     last != NULL ? last + 1 : from, to);
	}
	return 1;
}

int dir_ident_dn(const struct nhi_conf *c, const char *name, char *out, size_t len)
{
	char esc[3 * 64 + 1];
	int n;

	if (strlen(name) >= 64 || nhi_ldap_escape_dn_value(name, esc, sizeof(esc)) < 0)
		return NHI_ERR_RANGE;
	n = snprintf(out, len, "uid=%s,%s", esc, c->ldap_base);
	if (n < 0 || (size_t)n >= len) {
		if (len)
			out[0] = '\0';
		return NHI_ERR_RANGE;
	}
	return 0;
}

/* ---- values ------------------------------------------------------------ */

struct timeval dir_timeout(const struct nhi_conf *c)
{
	struct timeval tv = { .tv_sec = (time_t)(c->ldap_timeout > 0 ? c->ldap_timeout : 10) };

	return tv;
}

#define DIR_PAGE 500   /* entries per page: slapd's default size limit */

int dir_search_paged(const struct nhi_conf *c, LDAP *ld, const char *base, int scope,
		     const char *filter, char **attrs, dir_page_fn fn, void *ctx, char *why,
		     size_t len)
{
	struct timeval tv = dir_timeout(c);
	struct berval cookie = { 0, NULL };
	LDAPMessage *res = NULL;
	LDAPControl *page = NULL, *sctrls[2] = { NULL, NULL }, **rctrls = NULL, *pc;
	char reason[512];
	int rc, err, r = 0;

	do {
		ber_int_t count = 0;
		struct berval next = { 0, NULL };

		if (ldap_create_page_control(ld, DIR_PAGE, &cookie, 0, &page) != LDAP_SUCCESS) {
			snprintf(why, len, "cannot build the paged results control");
			r = NHI_ERR_NOMEM;
			break;
		}
		sctrls[0] = page;
		rc = ldap_search_ext_s(ld, base, scope, filter, attrs, 0, sctrls, NULL, &tv, 0, &res);
		ldap_control_free(page);
		page = NULL;
		err = rc;
		if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED || rc == LDAP_NO_SUCH_OBJECT)
			rc = res != NULL ? ldap_parse_result(ld, res, &err, NULL, NULL, NULL, &rctrls, 0)
					 : rc;
		if (rc == LDAP_SUCCESS && err == LDAP_NO_SUCH_OBJECT)
			break;   /* no base: no entries */
		if (rc == LDAP_SUCCESS && err == LDAP_SIZELIMIT_EXCEEDED) {
			snprintf(why, len, "%s under %s: more entries than the server's size limit for "
				 "paged searches of this bind (raise it: slapd's olcLimits size.prtotal)",
				 filter, base);
			r = NHI_ERR_IO;
			break;
		}
		if (rc != LDAP_SUCCESS || err != LDAP_SUCCESS) {
			nhi_ldap_reason(ld, rc != LDAP_SUCCESS ? rc : err, reason, sizeof(reason));
			snprintf(why, len, "%s under %s: %s", filter, base, reason);
			r = NHI_ERR_IO;
			break;
		}
		if ((r = fn(ld, res, ctx)) != 0)
			break;
		pc = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL);
		if (pc != NULL && ldap_parse_pageresponse_control(ld, pc, &count, &next) !=
		    LDAP_SUCCESS) {
			snprintf(why, len, "%s under %s: a malformed paged results control", filter,
				 base);
			r = NHI_ERR_FORMAT;
			break;
		}
		ber_memfree(cookie.bv_val);
		cookie = next;
		ldap_controls_free(rctrls);
		rctrls = NULL;
		ldap_msgfree(res);
		res = NULL;
	} while (cookie.bv_val != NULL && cookie.bv_len > 0);
	ber_memfree(cookie.bv_val);
	ldap_controls_free(rctrls);
	ldap_msgfree(res);
	return r;
}

void dir_gentime(int64_t t, char out[16])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, 16, "%Y%m%d%H%M%SZ", &tm) == 0)
		snprintf(out, 16, "19700101000000Z");
}

int dir_dn_under(const char *dn, const char *base)
{
	size_t n = strlen(dn), b = strlen(base);

	if (b == 0 || n < b || strcasecmp(dn + n - b, base) != 0)
		return 0;
	return n == b || dn[n - b - 1] == ',';
}

void dir_context_of(const char *base, struct berval **contexts, char *out, size_t len)
{
	char ctx[1024];
	int i;

	out[0] = '\0';
	for (i = 0; contexts != NULL && contexts[i] != NULL; i++) {
		if (contexts[i]->bv_len >= sizeof(ctx) || contexts[i]->bv_len >= len)
			continue;
		snprintf(ctx, sizeof(ctx), "%.*s", (int)contexts[i]->bv_len, contexts[i]->bv_val);
		if (dir_dn_under(base, ctx) && strlen(ctx) >= strlen(out))
			snprintf(out, len, "%s", ctx);
	}
}

/* The first value of 'attr' as a string in buf: 1 present, 0 absent,
 * -1 too long or containing a NUL. */
int dir_first_value(LDAP *ld, LDAPMessage *e, const char *attr, char *buf, size_t len)
{
	struct berval **v = ldap_get_values_len(ld, e, attr);
	int r = 0;

	buf[0] = '\0';
	if (v != NULL && v[0] != NULL) {
		if (v[0]->bv_len >= len || memchr(v[0]->bv_val, '\0', v[0]->bv_len) != NULL)
			r = -1;
		else {
			memcpy(buf, v[0]->bv_val, v[0]->bv_len);
			buf[v[0]->bv_len] = '\0';
			r = 1;
		}
	}
	ldap_value_free_len(v);
	return r;
}

/* A GeneralizedTime (RFC 4517 3.3.13): YYYYMMDDHH[MM[SS]][(.|,)frac]
 * (Z|(+|-)HH[MM]).  0 or -1. */
static int parse_gentime(const char *s, int64_t *out)
{
	struct tm tm;
	int f[6] = { 0, 0, 0, 0, 0, 0 }, widths[6] = { 4, 2, 2, 2, 2, 2 };
	int i, k, off = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	for (i = 0; i < 6; i++) {
		if (i >= 4 && !isdigit((unsigned char)*s))
			break;
		for (k = 0; k < widths[i]; k++, s++) {
			if (!isdigit((unsigned char)*s))
				return -1;
			f[i] = f[i] * 10 + (*s - '0');
		}
	}
	if (*s == '.' || *s == ',') {
		s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if (*s == 'Z')
		s++;
	else if (*s == '+' || *s == '-') {
		int sign = *s++ == '-' ? -1 : 1, hh, mm = 0;

		if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
			return -1;
		hh = (s[0] - '0') * 10 + (s[1] - '0');
		s += 2;
		if (isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1])) {
			mm = (s[0] - '0') * 10 + (s[1] - '0');
			s += 2;
		}
		if (hh > 23 || mm > 59)
			return -1;
		off = sign * (hh * 3600 + mm * 60);
	} else
		return -1;
	if (*s != '\0' || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 ||
	    f[4] > 59 || f[5] > 60)
		return -1;
	tm.tm_year = f[0] - 1900;
	tm.tm_mon = f[1] - 1;
	tm.tm_mday = f[2];
	tm.tm_hour = f[3];
	tm.tm_min = f[4];
	tm.tm_sec = f[5];
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != f[2])   /* Feb 30 and the like */
		return -1;
	*out = (int64_t)t - off;
	return 0;
}

static int parse_int64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* All values of a multi-valued attribute, comma-separated, each checked
 * with 'valid'.  0 or -1 with the bad value named in why. */
static int list_values(LDAP *ld, LDAPMessage *e, const char *attr, int (*valid)(const char *),
		       char *out, size_t len, char *bad, size_t badlen)
{
	struct berval **v = ldap_get_values_len(ld, e, attr);
	size_t used = 0;
	int i, r = 0;

	out[0] = '\0';
	for (i = 0; v != NULL && v[i] != NULL && r == 0; i++) {
		char val[256];
		int n;

		if (v[i]->bv_len >= sizeof(val) || memchr(v[i]->bv_val, '\0', v[i]->bv_len)) {
			snprintf(bad, badlen, "%s: a value is too long", attr);
			r = -1;
			break;
		}
		memcpy(val, v[i]->bv_val, v[i]->bv_len);
		val[v[i]->bv_len] = '\0';
		if (!valid(val) || strchr(val, ',') != NULL) {
			snprintf(bad, badlen, "%s: bad value '%.64s'", attr, val);
			r = -1;
			break;
		}
		n = snprintf(out + used, len - used, "%s%s", used ? "," : "", val);
		if (n < 0 || (size_t)n >= len - used) {
			snprintf(bad, badlen, "%s: too many values", attr);
			r = -1;
			break;
		}
		used += (size_t)n;
	}
	ldap_value_free_len(v);
	return r;
}

int dir_labels(LDAP *ld, LDAPMessage *e, char *out, size_t len, char *bad, size_t badlen)
{
	struct berval **v = ldap_get_values_len(ld, e, "nhiLabel");
	char vals[LABELS_MAX][2 * LABEL_WORD_MAX + 2], why[256];
	const char *ops[LABELS_MAX];
	int i, n = 0, r = 0;

	out[0] = '\0';
	for (i = 0; v != NULL && v[i] != NULL; i++) {
		if (n >= LABELS_MAX) {
			snprintf(bad, badlen, "nhiLabel: more than %d values", LABELS_MAX);
			r = -1;
			break;
		}
		if (v[i]->bv_len >= sizeof(vals[0]) || memchr(v[i]->bv_val, '\0', v[i]->bv_len)) {
			snprintf(bad, badlen, "nhiLabel: a value is too long");
			r = -1;
			break;
		}
		memcpy(vals[n], v[i]->bv_val, v[i]->bv_len);
		vals[n][v[i]->bv_len] = '\0';
		if (label_check(vals[n], 0, why, sizeof(why)) < 0) {
			snprintf(bad, badlen, "nhiLabel: %s", why);
			r = -1;
			break;
		}
		ops[n] = vals[n];
		n++;
	}
	ldap_value_free_len(v);
	if (r == 0 && labels_apply(out, len, ops, n, why, sizeof(why)) < 0) {
		snprintf(bad, badlen, "nhiLabel: %s", why);
		r = -1;
	}
	return r;
}

/* A DN in its LDAPv3 string form (for comparing DNs).  0 or -1. */
int dir_bool_attr(LDAP *ld, LDAPMessage *e, const char *attr, int *out)
{
	char buf[8];
	int k = dir_first_value(ld, e, attr, buf, sizeof(buf));

	*out = k == 1 && strcmp(buf, "TRUE") == 0;
	return k < 0 || (k == 1 && !*out && strcmp(buf, "FALSE") != 0) ? -1 : 0;
}

static int dn_norm(const char *in, char *out, size_t len)
{
	LDAPDN dn = NULL;
	char *s = NULL;
	int r = -1;

	if (ldap_str2dn(in, &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || dn == NULL)
		goto out;
	if (ldap_dn2str(dn, &s, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || s == NULL)
		goto out;
	if (strlen(s) < len) {
		memcpy(out, s, strlen(s) + 1);
		r = 0;
	}
out:
	ldap_memfree(s);
	ldap_dnfree(dn);
	return r;
}

static int n_rdns(LDAPDN dn)
{
	int n = 0;

	while (dn != NULL && dn[n] != NULL)
		n++;
	return n;
}

/* If 'dn' is uid=NAME,...,<people base> (in the people subtree, the first
 * RDN a single uid AVA), NAME in name and 1; 0 if it is another DN; -1 if
 * 'dn' is not a DN at all. */
static int people_uid(const struct nhi_conf *c, const char *dn_str, char *name, size_t len)
{
	char base[1024], rest[1024];
	LDAPDN dn = NULL, bdn = NULL;
	LDAPAVA *ava;
	char *s = NULL;
	int r = 0, n, nb;

	name[0] = '\0';
	if (ldap_str2dn(dn_str, &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || dn == NULL) {
		r = -1;
		goto out;
	}
	if (c->ldap_people_base[0] == '\0' ||
	    ldap_str2dn(c->ldap_people_base, &bdn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
		goto out;
	n = n_rdns(dn);
	nb = n_rdns(bdn);
	if (n <= nb || dn[0][0] == NULL || dn[0][1] != NULL)
		goto out;
	ava = dn[0][0];
	if (ava->la_attr.bv_len != 3 || strncasecmp(ava->la_attr.bv_val, "uid", 3) != 0 ||
	    ava->la_value.bv_len >= len || ava->la_value.bv_len == 0 ||
	    memchr(ava->la_value.bv_val, '\0', ava->la_value.bv_len) != NULL)
		goto out;
	if (ldap_dn2str(dn + (n - nb), &s, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || s == NULL ||
	    snprintf(rest, sizeof(rest), "%s", s) >= (int)sizeof(rest) ||
	    dn_norm(c->ldap_people_base, base, sizeof(base)) < 0 || strcasecmp(rest, base) != 0)
		goto out;
	memcpy(name, ava->la_value.bv_val, ava->la_value.bv_len);
	name[ava->la_value.bv_len] = '\0';
	r = 1;
out:
	ldap_memfree(s);
	ldap_dnfree(dn);
	ldap_dnfree(bdn);
	return r;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int valid_service(const char *s) { return nhi_valid_service(s); }
static int valid_host(const char *s) { return nhi_valid_host(s); }

/* Read a time attribute: 0 if absent (*out = 0), -1 if it does not parse. */
int dir_time_attr(LDAP *ld, LDAPMessage *e, const char *attr, int64_t *out)
{
	char buf[64];
	int r = dir_first_value(ld, e, attr, buf, sizeof(buf));

	*out = 0;
	if (r == 0)
		return 0;
	if (r < 0 || parse_gentime(buf, out) < 0)
		return -1;
	/* the range nhictl accepts and writes (nhi_parse_time): dir_gentime
	 * would write a time before 1970 back as 19700101000000Z, which
	 * reads as no time at all (found by fuzz/fuzz-dirmap.c) */
	if (*out < 0 || *out > NHI_TIME_MAX) {
		*out = 0;
		return -1;
	}
	return 0;
}

int dir_entry_to_ident(struct dir *d, LDAPMessage *e, struct ident *id,
		       char *owner_dn, size_t owner_dn_len,
		       char *uuid, size_t uuid_len, char *why, size_t why_len)
{
	static const struct { const char *attr; size_t off; } times[] = {
		{ "nhiExpires", offsetof(struct ident, expires) },
		{ "nhiCreated", offsetof(struct ident, created) },
		{ "nhiLastReview", offsetof(struct ident, last_review) },
		{ "nhiReviewDue", offsetof(struct ident, review_due) },
		{ "nhiOrphanedSince", offsetof(struct ident, orphaned_since) },
		{ "nhiRetiredAt", offsetof(struct ident, retired_at) },
		{ "nhiLastUsed", offsetof(struct ident, last_used) },
	};
	const struct nhi_conf *c = &d->x->conf;
	LDAP *ld = d->ld;
	char *dn = ldap_get_dn(ld, e);
	char buf[1024], odn[1024], bad[256] = "";
	const char *dnp = dn != NULL ? dn : "(entry without a DN)";
	int64_t v;
	size_t i;
	int r;

	memset(id, 0, sizeof(*id));
	if (owner_dn != NULL && owner_dn_len > 0)
		owner_dn[0] = '\0';
	if (uuid != NULL && uuid_len > 0)
		uuid[0] = '\0';
#define BAD(...) do { snprintf(bad, sizeof(bad), __VA_ARGS__); goto out; } while (0)
	if (dir_first_value(ld, e, "uid", id->name, sizeof(id->name)) != 1 || !nhi_valid_name(id->name))
		BAD("uid missing or not a valid user name");
	/* both are caseIgnoreMatch in the schema */
	if (dir_first_value(ld, e, "nhiKind", id->kind, sizeof(id->kind)) != 1)
		BAD("nhiKind missing");
	lower(id->kind);
	if (nhi_kind_parse(id->kind) < 0)
		BAD("nhiKind '%s' is not service/agent", id->kind);
	if (dir_first_value(ld, e, "nhiState", id->state, sizeof(id->state)) != 1)
		BAD("nhiState missing");
	lower(id->state);
	if (strcmp(id->state, "active") != 0 && strcmp(id->state, "suspended") != 0 &&
	    strcmp(id->state, "orphaned") != 0 && strcmp(id->state, "retired") != 0)
		BAD("nhiState '%s' is not active/suspended/orphaned/retired", id->state);
	if (dir_first_value(ld, e, "uidNumber", buf, sizeof(buf)) != 1 || parse_int64(buf, &v) < 0 ||
	    v <= 0 || v >= 0xffffffffLL)
		BAD("uidNumber missing or not a number from 1");
	id->uid = (uint32_t)v;
	if (dir_first_value(ld, e, "gidNumber", buf, sizeof(buf)) != 1 || parse_int64(buf, &v) < 0 ||
	    v < 0 || v >= 0xffffffffLL)
		BAD("gidNumber missing or not a number");
	id->gid = (uint32_t)v;
	if (dir_first_value(ld, e, "homeDirectory", id->home, sizeof(id->home)) != 1 ||
	    id->home[0] != '/' || !nhi_valid_text(id->home, sizeof(id->home) - 1, 1))
		BAD("homeDirectory missing or not an absolute path");
	r = dir_first_value(ld, e, "loginShell", id->shell, sizeof(id->shell));
	if (r == 0)
		snprintf(id->shell, sizeof(id->shell), "%s", c->default_shell);
	else if (r < 0 || id->shell[0] != '/' || !nhi_valid_text(id->shell, sizeof(id->shell) - 1, 1))
		BAD("loginShell is not an absolute path");
	if (dir_first_value(ld, e, "gecos", id->gecos, sizeof(id->gecos)) < 0 ||
	    !nhi_valid_text(id->gecos, 256, 1))
		BAD("gecos is not printable text without ':' or ',' (at most 256 bytes)");
	if (dir_first_value(ld, e, "description", id->purpose, sizeof(id->purpose)) < 0 ||
	    !nhi_valid_text(id->purpose, 256, 0))
		BAD("description is not printable text of at most 256 bytes");
	if (dir_first_value(ld, e, "nhiReason", id->retire_reason, sizeof(id->retire_reason)) < 0 ||
	    !nhi_valid_text(id->retire_reason, 256, 0))
		BAD("nhiReason is not printable text of at most 256 bytes");
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		if (dir_time_attr(ld, e, times[i].attr, (int64_t *)((char *)id + times[i].off)) < 0)
			BAD("%s is not a GeneralizedTime from 1970 to 9999", times[i].attr);
	if (id->expires == 0)
		BAD("nhiExpires missing");
	r = dir_first_value(ld, e, "nhiReviewInterval", buf, sizeof(buf));
	if (r == 0)
		id->review_interval = c->review_interval;
	else if (r < 0 || parse_int64(buf, &id->review_interval) < 0 || id->review_interval <= 0)
		BAD("nhiReviewInterval is not a positive number of seconds");
	if (list_values(ld, e, "host", valid_host, id->hosts, sizeof(id->hosts), bad, sizeof(bad)) < 0 ||
	    list_values(ld, e, "nhiPamService", valid_service, id->services, sizeof(id->services),
			bad, sizeof(bad)) < 0 ||
	    dir_labels(ld, e, id->labels, sizeof(id->labels), bad, sizeof(bad)) < 0)
		goto out;
	r = dir_first_value(ld, e, "owner", odn, sizeof(odn));
	if (r < 0)
		BAD("owner is too long");
	if (r > 0) {
		r = people_uid(c, odn, id->owner, sizeof(id->owner));
		if (r < 0)
			BAD("owner '%.200s' is not a DN", odn);
		if (r == 0)   /* outside the people base: the DN itself (may be cut) */
			snprintf(id->owner, sizeof(id->owner), "%.*s", (int)sizeof(id->owner) - 1, odn);
		if (owner_dn != NULL && (size_t)snprintf(owner_dn, owner_dn_len, "%s", odn) >= owner_dn_len)
			BAD("owner DN too long");
	}
	if (uuid != NULL && dir_first_value(ld, e, "entryUUID", uuid, uuid_len) < 0)
		BAD("entryUUID too long");
	if (dir_bool_attr(ld, e, "nhiApplied", &id->applied) < 0)
		BAD("nhiApplied is not TRUE/FALSE");
out:
#undef BAD
	if (bad[0] != '\0') {
		r = nhi_seterr(why, why_len, NHI_ERR_FORMAT, "%s: %s", dnp, bad);
		memset(id, 0, sizeof(*id));
	} else
		r = 0;
	ldap_memfree(dn);
	return r;
}

int dir_ident_read(struct dir *d, const char *name, struct ident *id,
		   char *owner_dn, size_t owner_dn_len,
		   char *uuid, size_t uuid_len, char *why, size_t why_len)
{
	const struct nhi_conf *c = &d->x->conf;
	struct timeval tv = dir_timeout(c);
	LDAPMessage *res = NULL, *e = NULL;
	char dn[1024], reason[512];
	int rc, r;

	if (dir_ident_dn(c, name, dn, sizeof(dn)) < 0)
		return nhi_seterr(why, why_len, NHI_ERR_RANGE, "identity '%s': DN too long", name);
	rc = ldap_search_ext_s(d->ld, dn, LDAP_SCOPE_BASE, "(objectClass=nhiIdentity)",
			       dir_ident_attrs, 0, NULL, NULL, &tv, 1, &res);
	if (rc == LDAP_NO_SUCH_OBJECT || (rc == LDAP_SUCCESS && (e = ldap_first_entry(d->ld, res)) == NULL)) {
		r = nhi_seterr(why, why_len, NHI_ERR_NOTFOUND, "no identity '%s' in the directory (%s)",
			       name, dn);
		goto out;
	}
	if (rc != LDAP_SUCCESS) {
		nhi_ldap_reason(d->ld, rc, reason, sizeof(reason));
		r = nhi_seterr(why, why_len, NHI_ERR_IO, "reading %s: %s", dn, reason);
		goto out;
	}
	r = dir_entry_to_ident(d, e, id, owner_dn, owner_dn_len, uuid, uuid_len, why, why_len);
out:
	ldap_msgfree(res);
	return r;
}

/* ---- owners ---------------------------------------------------------- */

/* A configured ldap_owner_filter, limited to people that are not
 * identities: a base search on the owner's entry must find it. */
static int live_filter(const struct nhi_conf *c, char *out, size_t len)
{
	int n = snprintf(out, len, "(&(!(objectClass=nhiIdentity))%s)", c->ldap_owner_filter);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Does attribute 'attr' of e hold 'value' (case-insensitive)? */
static int has_value(LDAP *ld, LDAPMessage *e, const char *attr, const char *value)
{
	struct berval **v = ldap_get_values_len(ld, e, attr);
	int i, found = 0;

	for (i = 0; v != NULL && v[i] != NULL && !found; i++)
		found = v[i]->bv_len == strlen(value) &&
			strncasecmp(v[i]->bv_val, value, v[i]->bv_len) == 0;
	ldap_value_free_len(v);
	return found;
}

/* The built-in liveness checks, decided here from attributes the entry
 * was asked for (an attribute the server does not know is simply not
 * returned, so this works with and without ppolicy, on 389-ds too):
 * locked by ppolicy (pwdAccountLockedTime, any value:
 * 000001010000Z is "locked for good"), by 389-ds/FreeIPA (nsAccountLock
 * TRUE), expired (shadowExpire, days since 1970, in the past), or an
 * identity itself.  0 live, else NHI_ERR_PERM with the reason. */
static int entry_live(struct dir *d, LDAPMessage *e, const char *uid, char *why, size_t why_len)
{
	char buf[64];
	int64_t exp;

	if (has_value(d->ld, e, "objectClass", "nhiIdentity"))
		return nhi_seterr(why, why_len, NHI_ERR_PERM, "owner '%s' is an identity, "
				  "not a live human", uid);
	if (dir_first_value(d->ld, e, "pwdAccountLockedTime", buf, sizeof(buf)) != 0)
		return nhi_seterr(why, why_len, NHI_ERR_PERM, "owner '%s' is locked "
				  "(pwdAccountLockedTime; not a live human)", uid);
	if (has_value(d->ld, e, "nsAccountLock", "TRUE"))
		return nhi_seterr(why, why_len, NHI_ERR_PERM, "owner '%s' is locked "
				  "(nsAccountLock; not a live human)", uid);
	if (dir_first_value(d->ld, e, "shadowExpire", buf, sizeof(buf)) == 1 &&
	    parse_int64(buf, &exp) == 0 && exp > 0 && (int64_t)d->x->now >= exp * 86400)
		return nhi_seterr(why, why_len, NHI_ERR_PERM, "owner '%s': the account expired "
				  "(shadowExpire; not a live human)", uid);
	return 0;
}

int dir_owner_lookup(struct dir *d, const char *owner, struct dir_owner *o,
		     char *why, size_t why_len)
{
	static char *attrs[] = { "uid", "objectClass", "entryUUID", "shadowExpire",
				 "pwdAccountLockedTime", "nsAccountLock", NULL };
	const struct nhi_conf *c = &d->x->conf;
	struct timeval tv = dir_timeout(c);
	LDAPMessage *res = NULL, *e = NULL;
	char filter[1024], esc[3 * 64 + 1], edn[1024], uid[64], buf[64], reason[512];
	char *found = NULL;
	int rc, r, n;

	memset(o, 0, sizeof(*o));
	if (c->ldap_people_base[0] == '\0')
		return nhi_seterr(why, why_len, NHI_ERR_NOTFOUND,
				  "owner '%s': no ldap_people_base configured to find people in", owner);
	if (nhi_valid_name(owner)) {
		/* a user name: the one person with that uid in the people subtree */
		if (nhi_ldap_escape_filter(owner, esc, sizeof(esc)) < 0)
			return nhi_seterr(why, why_len, NHI_ERR_NOTFOUND, "owner '%s': too long", owner);
		snprintf(filter, sizeof(filter), "(uid=%s)", esc);
		rc = ldap_search_ext_s(d->ld, c->ldap_people_base, LDAP_SCOPE_SUBTREE, filter,
				       attrs, 0, NULL, NULL, &tv, 2, &res);
		if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
			nhi_ldap_reason(d->ld, rc, reason, sizeof(reason));
			r = nhi_seterr(why, why_len, NHI_ERR_IO, "owner '%s': searching %s: %s",
				       owner, c->ldap_people_base, reason);
			goto out;
		}
		n = ldap_count_entries(d->ld, res);
		if (n == 0) {
			r = nhi_seterr(why, why_len, NHI_ERR_NOTFOUND, "owner '%s': no such person "
				       "in %s", owner, c->ldap_people_base);
			goto out;
		}
		if (n > 1 || rc == LDAP_SIZELIMIT_EXCEEDED) {
			r = nhi_seterr(why, why_len, NHI_ERR_NOTFOUND, "owner '%s' is ambiguous: "
				       "several people in %s have that uid (give the DN)",
				       owner, c->ldap_people_base);
			goto out;
		}
		e = ldap_first_entry(d->ld, res);
		found = ldap_get_dn(d->ld, e);
		if (found == NULL || snprintf(edn, sizeof(edn), "%s", found) >= (int)sizeof(edn)) {
			r = nhi_seterr(why, why_len, NHI_ERR_IO, "owner '%s': bad DN in the answer", owner);
			goto out;
		}
		snprintf(uid, sizeof(uid), "%s", owner);
	} else {
		/* a DN: it must name uid=NAME in the people subtree */
		if (strchr(owner, '=') == NULL || people_uid(c, owner, uid, sizeof(uid)) != 1 ||
		    !nhi_valid_name(uid)) {
			r = nhi_seterr(why, why_len, NHI_ERR_NOTFOUND, "owner '%s' is neither a user "
				       "name nor a DN uid=NAME,...,%s", owner, c->ldap_people_base);
			goto out;
		}
		if (snprintf(edn, sizeof(edn), "%s", owner) >= (int)sizeof(edn)) {
			r = nhi_seterr(why, why_len, NHI_ERR_NOTFOUND, "owner DN too long");
			goto out;
		}
		rc = ldap_search_ext_s(d->ld, edn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
				       NULL, NULL, &tv, 1, &res);
		if (rc == LDAP_NO_SUCH_OBJECT || (rc == LDAP_SUCCESS && ldap_first_entry(d->ld, res) == NULL)) {
			r = nhi_seterr(why, why_len, NHI_ERR_NOTFOUND, "owner '%s': no such person", owner);
			goto out;
		}
		if (rc != LDAP_SUCCESS) {
			nhi_ldap_reason(d->ld, rc, reason, sizeof(reason));
			r = nhi_seterr(why, why_len, NHI_ERR_IO, "owner '%s': %s", owner, reason);
			goto out;
		}
		e = ldap_first_entry(d->ld, res);
		/* the uid of the entry itself (the RDN may differ in case) */
		if (dir_first_value(d->ld, e, "uid", buf, sizeof(buf)) == 1 && nhi_valid_name(buf))
			snprintf(uid, sizeof(uid), "%s", buf);
	}
	snprintf(o->dn, sizeof(o->dn), "%s", edn);
	snprintf(o->name, sizeof(o->name), "%s", uid);
	if (dir_first_value(d->ld, e, "entryUUID", o->uuid, sizeof(o->uuid)) != 1)
		o->uuid[0] = '\0';
	lower(o->uuid);   /* compared in lower case, as dirstore.c does */
	r = entry_live(d, e, uid, why, why_len);
	if (r < 0 || c->ldap_owner_filter[0] == '\0')
		goto out;
	/* ... and a configured ldap_owner_filter: a base search on it */
	ldap_msgfree(res);
	res = NULL;
	if (live_filter(c, filter, sizeof(filter)) < 0) {
		r = nhi_seterr(why, why_len, NHI_ERR_RANGE, "ldap_owner_filter too long");
		goto out;
	}
	rc = ldap_search_ext_s(d->ld, edn, LDAP_SCOPE_BASE, filter, attrs, 1, NULL, NULL, &tv, 1, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
		nhi_ldap_reason(d->ld, rc, reason, sizeof(reason));
		r = nhi_seterr(why, why_len, NHI_ERR_IO, "owner '%s': %s", uid, reason);
		goto out;
	}
	if (rc == LDAP_NO_SUCH_OBJECT || ldap_first_entry(d->ld, res) == NULL) {
		r = nhi_seterr(why, why_len, NHI_ERR_PERM, "owner '%s' is not a live human "
			       "(the entry does not match ldap_owner_filter)", uid);
		goto out;
	}
	r = 0;
out:
	ldap_memfree(found);
	ldap_msgfree(res);
	return r;
}

int dir_owner_resolve(struct dir *d, const char *owner, char *dn, size_t dn_len,
		      char *name, size_t name_len, char *why, size_t why_len)
{
	struct dir_owner o;
	int r = dir_owner_lookup(d, owner, &o, why, why_len);

	if (dn != NULL && dn_len > 0)
		snprintf(dn, dn_len, "%s", r == NHI_ERR_NOTFOUND || r == NHI_ERR_IO ? "" : o.dn);
	if (name != NULL && name_len > 0)
		snprintf(name, name_len, "%s", r == NHI_ERR_NOTFOUND || r == NHI_ERR_IO ? "" : o.name);
	return r;
}

int dir_owner_name(const struct nhi_conf *c, const char *dn, char *name, size_t len)
{
	int r = people_uid(c, dn, name, len);

	if (r < 0)
		return -1;
	if (r == 0)   /* outside the people base: the DN itself (may be cut) */
		snprintf(name, len, "%.*s", (int)len - 1, dn);
	return 0;
}

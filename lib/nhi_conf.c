/* nhi_conf.c - the one parser of nhi.conf and of pam_nhi's arguments. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "nhi_ascii.h"
#include "nhi_conf.h"
#include "nhi_err.h"
#include "nhi_time.h"

#define LOGIN_DEFS "/etc/login.defs"
#define CONF_MAX_SIZE (1024 * 1024)
#define DEFAULT_UID_MIN 2000000
#define DEFAULT_UID_MAX 2999999

const char *nhi_strlist_first(const struct nhi_strlist *l)
{
	return l->n > 0 ? l->buf : NULL;
}

const char *nhi_strlist_next(const struct nhi_strlist *l, const char *w)
{
	const char *end = l->buf + sizeof(l->buf);
	const char *p = w + strlen(w) + 1;
	unsigned idx = 0;

	/* find which word w is, to stop after the n-th */
	for (const char *q = l->buf; q < w; q += strlen(q) + 1)
		idx++;
	if (idx + 1 >= l->n || p >= end)
		return NULL;
	return p;
}

static void init_strings(struct nhi_conf *c);

void nhi_conf_init(struct nhi_conf *c)
{
	/* only the fixed part: the lists, the problem and the arena are
	 * empty by their counts (this runs on NSS's first lookup) */
	memset(c, 0, offsetof(struct nhi_conf, service_groups));
	c->service_groups.n = 0;
	c->service_names.n = 0;
	c->problem[0] = '\0';
	init_strings(c);
	c->backend = NHI_BACKEND_LOCAL;
	c->state_dir = NHI_STATEDIR;
	c->uid_min = DEFAULT_UID_MIN;
	c->uid_max = DEFAULT_UID_MAX;
	c->uid_block_size = 100;
	c->service_uids_system = 1;
	c->max_lifetime = 365LL * 86400;
	c->review_interval = 90LL * 86400;
	c->review_grace = 14LL * 86400;
	c->orphan_grace = 7LL * 86400;
	c->orphan_max = 10;
	c->apply_max_retire = 10;
	c->apply_max_retire_percent = 1;
	c->warn_before = 14LL * 86400;
	c->mode = NHI_MODE_ENFORCE;
	c->review = NHI_REVIEW_WARN;
	c->on_unavailable = NHI_UNAVAIL_DENY;
	c->human_use = NHI_HUMAN_LOG;
	c->default_shell = "/bin/sh";
	c->nologin_shell = "/usr/sbin/nologin";
	c->home_base = "/home";
	c->enumerate = 1;
	c->sys_uid_min = 100;
	c->sys_uid_max = 999;
	c->ldap_bind = NHI_LDAP_BIND_EXTERNAL;
	c->ldap_starttls = 1;
	c->ldap_timeout = 10;
	c->ldap_settle_wait = 10;
	c->snapshot_delta_max = 1000;
	c->max_credential_age = 90LL * 86400;
	c->cert_lifetime = 7LL * 86400;
	c->rotation_grace = 86400;
	c->grant_lifetime = 90LL * 86400;
	c->grant_max_lifetime = 365LL * 86400;
	c->delegation_lifetime = 90LL * 86400;
	c->delegation_max_lifetime = 365LL * 86400;
	c->max_delegations = 100;
	c->max_grants = 100;
	c->stale_after = 90LL * 86400;
	c->never_used_grace = 30LL * 86400;
	c->rotation_interval = 90LL * 86400;
	c->external_grant_max = 90LL * 86400;
	c->discover_max_size = 1024 * 1024;
	c->discover_paths = "/etc /home /opt /srv /var/lib";
}

/* ---- value parsers --------------------------------------------------- */

/* The end of the arena kept for the name of the file read and the paths
 * derived from state_dir (those fall back to the defaults' when even that
 * is not enough): the values of keys stop short of it. */
#define ARENA_RESERVE 512

/* Keep a copy of v[0..n) in the arena and point *field at it. */
static int arena_put(struct nhi_conf *c, const char **field, const char *v, size_t n,
		     size_t reserve, char *why, size_t whylen)
{
	if (n + reserve >= sizeof(c->arena) - c->arena_used)
		return nhi_seterr(why, whylen, NHI_ERR_INVAL,
				  "too long: the configuration's text is at most %d bytes in all",
				  NHI_CONF_ARENA - ARENA_RESERVE);
	memcpy(c->arena + c->arena_used, v, n);
	c->arena[c->arena_used + n] = '\0';
	*field = c->arena + c->arena_used;
	c->arena_used += n + 1;
	return 0;
}

static int put_str(struct nhi_conf *c, void *field, const char *v, char *why, size_t whylen)
{
	return arena_put(c, field, v, strlen(v), ARENA_RESERVE, why, whylen);
}

typedef int (*setter)(struct nhi_conf *c, void *field, size_t size,
		      const char *v, char *why, size_t whylen);

static int set_path(struct nhi_conf *c, void *field, size_t size,
		    const char *v, char *why, size_t whylen)
{
	if (v[0] != '/')
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "must be an absolute path");
	if (strlen(v) >= size)
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "path too long");
	if (strchr(v, ':') != NULL || strchr(v, '\n') != NULL)
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "path may not contain ':'");
	return put_str(c, field, v, why, whylen);
}

static int parse_bool(const char *v, int *out)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (nhi_caseeq(v, yes[i])) {
			*out = 1;
			return 0;
		}
		if (nhi_caseeq(v, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int set_bool(struct nhi_conf *c, void *field, size_t size,
		    const char *v, char *why, size_t whylen)
{
	if (parse_bool(v, field) < 0)
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "expected yes or no");
	return 0;
}

static int parse_u32(const char *v, uint32_t *out)
{
	uint64_t n;

	if (nhi_parse_dec(&v, 4294967294ULL, &n) < 0 || *v != '\0')
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static int set_u32(struct nhi_conf *c, void *field, size_t size,
		   const char *v, char *why, size_t whylen)
{
	if (parse_u32(v, field) < 0)
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "expected a number from 0 to 4294967294");
	return 0;
}

/* orphan_max, apply_max_retire: a count, or a percentage "N%" (0..100) */
static int parse_count_pct(const char *v, uint32_t *val, int *pct, char *why, size_t whylen)
{
	char num[16];
	size_t n = strlen(v);

	*pct = n > 0 && v[n - 1] == '%';
	if (n >= sizeof(num))
		goto bad;
	memcpy(num, v, n + 1);
	if (*pct)
		num[n - 1] = '\0';
	if (parse_u32(num, val) < 0 || (*pct && *val > 100))
		goto bad;
	return 0;
bad:
	return nhi_seterr(why, whylen, NHI_ERR_INVAL,
			  "expected a count or a percentage like 10%% (0 = no limit)");
}

/* orphan_max, apply_max_retire: the count, and its flag "a percentage" */
static int set_count_pct(struct nhi_conf *c, void *field, size_t size,
			 const char *v, char *why, size_t whylen)
{
	uint32_t val;
	int pct;

	(void)size;
	if (parse_count_pct(v, &val, &pct, why, whylen) < 0)
		return NHI_ERR_INVAL;
	*(uint32_t *)field = val;
	if (field == &c->orphan_max)
		c->orphan_max_percent = pct;
	else
		c->apply_max_retire_percent = pct;
	return 0;
}

static int set_duration(struct nhi_conf *c, void *field, size_t size,
			const char *v, char *why, size_t whylen)
{
	return nhi_parse_duration(v, field, why, whylen);
}

/* ldap_settle_wait: a duration of at most an hour (a verb waits that long) */
static int set_settle_wait(struct nhi_conf *c, void *field, size_t size,
			   const char *v, char *why, size_t whylen)
{
	int r = nhi_parse_duration(v, field, why, whylen);

	if (r == 0 && *(int64_t *)field > 3600)
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "at most 1h");
	return r;
}

static int set_host(struct nhi_conf *c, void *field, size_t size,
		    const char *v, char *why, size_t whylen)
{
	if (!nhi_valid_host(v) || strlen(v) >= size)
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "not a host name");
	return put_str(c, field, v, why, whylen);
}

/* Split a value into words (spaces or commas) and call fn for each. */
/* strcspn(3), strstr(3) and strnlen(3), written out: every libc function nss_nhi
 * calls is one more symbol ld.so binds in each process that loads it. */
static size_t span_not(const char *p, const char *stop)
{
	size_t n = 0;

	while (p[n] != '\0' && strchr(stop, p[n]) == NULL)
		n++;
	return n;
}

static int contains(const char *s, const char *w)
{
	for (; *s != '\0'; s++)
		if (nhi_prefix(s, w))
			return 1;
	return *w == '\0';
}

static size_t len_upto(const char *s, size_t max)
{
	const char *e = memchr(s, '\0', max);

	return e != NULL ? (size_t)(e - s) : max;
}

static int each_word(const char *v, int (*fn)(void *arg, const char *w, char *why, size_t whylen),
		     void *arg, char *why, size_t whylen)
{
	char w[256];
	const char *p = v;

	while (*p != '\0') {
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		n = span_not(p, " \t,");
		if (n >= sizeof(w))
			return nhi_seterr(why, whylen, NHI_ERR_INVAL, "word too long");
		memcpy(w, p, n);
		w[n] = '\0';
		int r = fn(arg, w, why, whylen);
		if (r < 0)
			return r;
		p += n;
	}
	return 0;
}

struct list_arg {
	struct nhi_strlist *l;
	int (*valid)(const char *);
	size_t used;
};

static int add_word(void *arg, const char *w, char *why, size_t whylen)
{
	struct list_arg *a = arg;
	size_t n = strlen(w) + 1;

	if (a->valid != NULL && !a->valid(w))
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "'%s' is not valid here", w);
	if (a->used + n > sizeof(a->l->buf))
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "list too long");
	memcpy(a->l->buf + a->used, w, n);
	a->used += n;
	a->l->n++;
	return 0;
}

static int valid_pattern(const char *s)
{
	for (const char *p = s; *p; p++)
		if (!(nhi_islower((unsigned char)*p) || nhi_isdigit((unsigned char)*p) ||
		      strchr("_-.$*?[]!", *p) != NULL))
			return 0;
	return *s != '\0';
}

static int set_list(struct nhi_strlist *l, int (*valid)(const char *),
		    const char *v, char *why, size_t whylen)
{
	struct nhi_strlist tmp;
	struct list_arg a = { &tmp, valid, 0 };
	int r;

	memset(&tmp, 0, sizeof(tmp));
	r = each_word(v, add_word, &a, why, whylen);
	if (r < 0)
		return r;
	*l = tmp;
	return 0;
}

static int set_groups(struct nhi_conf *c, void *field, size_t size,
		      const char *v, char *why, size_t whylen)
{
	return set_list(field, nhi_valid_name, v, why, whylen);
}

static int set_patterns(struct nhi_conf *c, void *field, size_t size,
			const char *v, char *why, size_t whylen)
{
	return set_list(field, valid_pattern, v, why, whylen);
}

struct range_arg {
	struct nhi_uid_range r[NHI_CONF_MAX_RANGES];
	unsigned n;
	int system;
};

static int add_range(void *arg, const char *w, char *why, size_t whylen)
{
	struct range_arg *a = arg;
	char lo[32], *dash;
	uint32_t l, h;

	if (strcmp(w, "system") == 0) {
		a->system = 1;
		return 0;
	}
	if (strlen(w) >= sizeof(lo))
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "bad uid range '%s'", w);
	strcpy(lo, w);
	dash = strchr(lo, '-');
	if (dash != NULL)
		*dash = '\0';
	if (parse_u32(lo, &l) < 0 || (dash != NULL ? parse_u32(dash + 1, &h) : (h = l, 0)) < 0)
		return nhi_seterr(why, whylen, NHI_ERR_INVAL,
				  "bad uid range '%s' (expected N, N-M or 'system')", w);
	if (h < l)
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "bad uid range '%s': end before start", w);
	if (a->n >= NHI_CONF_MAX_RANGES)
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "too many uid ranges (at most %d)",
				  NHI_CONF_MAX_RANGES);
	a->r[a->n].lo = l;
	a->r[a->n].hi = h;
	a->n++;
	return 0;
}

static int set_ranges(struct nhi_conf *c, void *field, size_t size,
		      const char *v, char *why, size_t whylen)
{
	struct range_arg a;
	int r;

	memset(&a, 0, sizeof(a));
	r = each_word(v, add_range, &a, why, whylen);
	if (r < 0)
		return r;
	memcpy(c->service_uids, a.r, sizeof(a.r));
	c->n_service_uids = a.n;
	c->service_uids_system = a.system;
	return 0;
}

struct enum_val { const char *name; int value; };

static int set_enum(const struct enum_val *vals, int *field, const char *v,
		    char *why, size_t whylen)
{
	char list[128] = "";

	for (const struct enum_val *e = vals; e->name; e++) {
		if (strcmp(v, e->name) == 0) {
			*field = e->value;
			return 0;
		}
		nhi_format(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 e == vals ? "" : (e[1].name ? ", " : " or "), e->name);
	}
	return nhi_seterr(why, whylen, NHI_ERR_INVAL, "expected %s", list);
}

static const struct enum_val backend_vals[] = { { "local", NHI_BACKEND_LOCAL }, { "ldap", NHI_BACKEND_LDAP }, { NULL, 0 } };
static const struct enum_val mode_vals[] = { { "enforce", NHI_MODE_ENFORCE }, { "audit", NHI_MODE_AUDIT }, { NULL, 0 } };
static const struct enum_val review_vals[] = { { "enforce", NHI_REVIEW_ENFORCE }, { "warn", NHI_REVIEW_WARN }, { "off", NHI_REVIEW_OFF }, { NULL, 0 } };
static const struct enum_val unavail_vals[] = { { "deny", NHI_UNAVAIL_DENY }, { "ignore", NHI_UNAVAIL_IGNORE }, { NULL, 0 } };

static const struct enum_val human_vals[] = { { "allow", NHI_HUMAN_ALLOW }, { "log", NHI_HUMAN_LOG }, { "owner", NHI_HUMAN_OWNER }, { "deny", NHI_HUMAN_DENY }, { NULL, 0 } };

static int set_human_use(struct nhi_conf *c, void *field, size_t size, const char *v, char *why, size_t whylen)
{
	int m = 0, r = set_enum(human_vals, &m, v, why, whylen);
	if (r == 0)
		c->human_use = (enum nhi_human_use)m;
	return r;
}

static int set_backend(struct nhi_conf *c, void *field, size_t size, const char *v, char *why, size_t whylen)
{
	int b = 0, r = set_enum(backend_vals, &b, v, why, whylen);
	if (r < 0)
		return r;
	c->backend = (enum nhi_backend)b;
	return 0;
}

static int set_mode(struct nhi_conf *c, void *field, size_t size, const char *v, char *why, size_t whylen)
{
	int m = 0, r = set_enum(mode_vals, &m, v, why, whylen);
	if (r == 0)
		c->mode = (enum nhi_mode)m;
	return r;
}

static int set_review(struct nhi_conf *c, void *field, size_t size, const char *v, char *why, size_t whylen)
{
	int m = 0, r = set_enum(review_vals, &m, v, why, whylen);
	if (r == 0)
		c->review = (enum nhi_review_policy)m;
	return r;
}

static int set_unavail(struct nhi_conf *c, void *field, size_t size, const char *v, char *why, size_t whylen)
{
	int m = 0, r = set_enum(unavail_vals, &m, v, why, whylen);
	if (r == 0)
		c->on_unavailable = (enum nhi_unavail)m;
	return r;
}

static const struct enum_val stale_vals[] = { { "report", NHI_STALE_REPORT }, { "suspend", NHI_STALE_SUSPEND }, { NULL, 0 } };

static int set_stale_action(struct nhi_conf *c, void *field, size_t size, const char *v, char *why, size_t whylen)
{
	return set_enum(stale_vals, &c->stale_action, v, why, whylen);
}

static const struct enum_val bind_vals[] = { { "external", NHI_LDAP_BIND_EXTERNAL }, { "simple", NHI_LDAP_BIND_SIMPLE }, { NULL, 0 } };

static int set_ldap_bind(struct nhi_conf *c, void *field, size_t size, const char *v, char *why, size_t whylen)
{
	int m = 0, r = set_enum(bind_vals, &m, v, why, whylen);
	if (r == 0)
		c->ldap_bind = m;
	return r;
}

/* A value that must fit its field and hold no control characters. */
static int set_text(struct nhi_conf *c, void *field, size_t size, const char *v,
		    char *why, size_t whylen)
{
	if (strlen(v) >= size)
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "too long (at most %zu bytes)", size - 1);
	if (!nhi_valid_text(v, size - 1, 0))
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "control characters are not allowed");
	return put_str(c, field, v, why, whylen);
}

static int abs_path_word(void *arg, const char *w, char *why, size_t whylen)
{
	(void)arg;
	if (w[0] != '/')
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "'%s' is not an absolute path", w);
	return 0;
}

/* Absolute paths, space-separated, kept as written. */
static int set_paths(struct nhi_conf *c, void *field, size_t size, const char *v, char *why, size_t whylen)
{
	int r = each_word(v, abs_path_word, NULL, why, whylen);

	if (r < 0)
		return r;
	return set_text(c, field, size, v, why, whylen);
}

/* A DN: non-empty, at least one '=', no control characters (the
 * directory checks the rest). */
static int set_dn(struct nhi_conf *c, void *field, size_t size, const char *v, char *why, size_t whylen)
{
	if (*v == '\0' || strchr(v, '=') == NULL)
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "expected a DN such as ou=nhi,dc=example,dc=org");
	return set_text(c, field, size, v, why, whylen);
}

/* A filter: parenthesised and balanced. */
static int set_filter(struct nhi_conf *c, void *field, size_t size, const char *v, char *why, size_t whylen)
{
	int depth = 0;

	if (v[0] != '(')
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "expected a filter in parentheses");
	for (const char *p = v; *p; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth < 0)
			break;
	}
	if (depth != 0)
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "unbalanced parentheses");
	return set_text(c, field, size, v, why, whylen);
}

/* URIs: ldap://, ldaps:// or ldapi://, space-separated. */
static int set_uris(struct nhi_conf *c, void *field, size_t size, const char *v, char *why, size_t whylen)
{
	const char *p = v;

	if (*p == '\0')
		return nhi_seterr(why, whylen, NHI_ERR_INVAL, "expected one or more ldap://, ldaps:// or ldapi:// URIs");
	while (*p) {
		size_t n;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		n = span_not(p, " \t");
		if (!nhi_prefix(p, "ldap://") && !nhi_prefix(p, "ldaps://") &&
		    !nhi_prefix(p, "ldapi://"))
			return nhi_seterr(why, whylen, NHI_ERR_INVAL,
					  "'%.*s' is not an ldap://, ldaps:// or ldapi:// URI", (int)n, p);
		p += n;
	}
	return set_text(c, field, size, v, why, whylen);
}

#define F(x) offsetof(struct nhi_conf, x), sizeof(((struct nhi_conf *)0)->x)
#define S(x, max) offsetof(struct nhi_conf, x), (max)  /* a string: its longest value */
#define BOOLKEY 0x1  /* may stand alone as a module argument */
#define CTL     0x2  /* read by nhictl only: a bad value never breaks the modules */
#define STR     0x4  /* a string field (const char *) */

static const struct key {
	const char *name;
	setter set;
	size_t off, size;
	int flags;
} keys[] = {
	{ "backend", set_backend, F(backend), CTL },
	{ "state_dir", set_path, S(state_dir, PATH_MAX), STR },
	{ "registry_path", set_path, S(registry_path, PATH_MAX), CTL | STR },
	{ "cache_path", set_path, S(cache_path, PATH_MAX), STR },
	{ "usage_log", set_path, S(usage_log, PATH_MAX), STR },
	{ "uid_min", set_u32, F(uid_min), 0 },
	{ "uid_max", set_u32, F(uid_max), 0 },
	{ "uid_block_size", set_u32, F(uid_block_size), CTL },
	{ "service_uids", set_ranges, F(service_uids), 0 },
	{ "service_groups", set_groups, F(service_groups), 0 },
	{ "service_names", set_patterns, F(service_names), 0 },
	{ "max_lifetime", set_duration, F(max_lifetime), CTL },
	{ "review_interval", set_duration, F(review_interval), CTL },
	{ "review_grace", set_duration, F(review_grace), 0 },
	{ "orphan_grace", set_duration, F(orphan_grace), 0 },
	{ "orphan_max", set_count_pct, F(orphan_max), CTL },
	{ "apply_max_retire", set_count_pct, F(apply_max_retire), CTL },
	{ "warn_before", set_duration, F(warn_before), 0 },
	{ "mode", set_mode, F(mode), 0 },
	{ "review", set_review, F(review), 0 },
	{ "on_unavailable", set_unavail, F(on_unavailable), 0 },
	{ "human_use", set_human_use, F(human_use), 0 },
	{ "default_shell", set_path, S(default_shell, PATH_MAX), STR },
	{ "nologin_shell", set_path, S(nologin_shell, PATH_MAX), STR },
	{ "home_base", set_path, S(home_base, PATH_MAX), CTL | STR },
	{ "create_home", set_bool, F(create_home), CTL },
	{ "host", set_host, S(host, NHI_CONF_HOST_MAX), STR },
	{ "enumerate", set_bool, F(enumerate), BOOLKEY },
	{ "debug", set_bool, F(debug), BOOLKEY },
	{ "quiet", set_bool, F(quiet), BOOLKEY },
	{ "ldap_uri", set_uris, S(ldap_uri, NHI_CONF_URI_MAX), CTL | STR },
	{ "ldap_write_uri", set_uris, S(ldap_write_uri, NHI_CONF_URI_MAX), CTL | STR },
	{ "ldap_base", set_dn, S(ldap_base, NHI_CONF_DN_MAX), CTL | STR },
	{ "ldap_people_base", set_dn, S(ldap_people_base, NHI_CONF_DN_MAX), CTL | STR },
	{ "ldap_owner_filter", set_filter, S(ldap_owner_filter, NHI_CONF_DN_MAX), CTL | STR },
	{ "ldap_bind", set_ldap_bind, F(ldap_bind), CTL },
	{ "ldap_bind_dn", set_dn, S(ldap_bind_dn, NHI_CONF_DN_MAX), CTL | STR },
	{ "ldap_bind_password_file", set_path, S(ldap_bind_password_file, PATH_MAX), CTL | STR },
	{ "ldap_starttls", set_bool, F(ldap_starttls), CTL },
	{ "ldap_tls_cacert", set_path, S(ldap_tls_cacert, PATH_MAX), CTL | STR },
	{ "ldap_tls_cert", set_path, S(ldap_tls_cert, PATH_MAX), CTL | STR },
	{ "ldap_tls_key", set_path, S(ldap_tls_key, PATH_MAX), CTL | STR },
	{ "ldap_timeout", set_duration, F(ldap_timeout), CTL },
	{ "ldap_settle_wait", set_settle_wait, F(ldap_settle_wait), CTL },
	{ "ca_cert", set_path, S(ca_cert, PATH_MAX), CTL | STR },
	{ "ca_key", set_path, S(ca_key, PATH_MAX), CTL | STR },
	{ "max_credential_age", set_duration, F(max_credential_age), CTL },
	{ "cert_lifetime", set_duration, F(cert_lifetime), CTL },
	{ "rotation_grace", set_duration, F(rotation_grace), CTL },
	{ "token_pepper_file", set_path, S(token_pepper_file, PATH_MAX), CTL | STR },
	{ "snapshot_delta_max", set_u32, F(snapshot_delta_max), CTL },
	{ "grant_lifetime", set_duration, F(grant_lifetime), CTL },
	{ "grant_max_lifetime", set_duration, F(grant_max_lifetime), CTL },
	{ "delegation_lifetime", set_duration, F(delegation_lifetime), CTL },
	{ "delegation_max_lifetime", set_duration, F(delegation_max_lifetime), CTL },
	{ "max_delegations", set_u32, F(max_delegations), CTL },
	{ "max_grants", set_u32, F(max_grants), CTL },
	{ "stale_after", set_duration, F(stale_after), CTL },
	{ "stale_action", set_stale_action, F(stale_action), CTL },
	{ "never_used_grace", set_duration, F(never_used_grace), CTL },
	{ "rotation_interval", set_duration, F(rotation_interval), CTL },
	{ "external_grant_max", set_duration, F(external_grant_max), CTL },
	{ "discover_paths", set_paths, S(discover_paths, 1024), CTL | STR },
	{ "discover_max_size", set_u32, F(discover_max_size), CTL },
};

/* Every string field "": those of the keys, and the few set otherwise. */
static void init_strings(struct nhi_conf *c)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].flags & STR)
			*(const char **)((char *)c + keys[i].off) = "";
	c->path = c->backend_where = c->key_index = c->registered_path = c->shadow_file = "";
}

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Does a problem with this key break the modules?  Unknown keys do: one
 * may be a misspelt key they read. */
static int key_breaks(const char *name)
{
	const struct key *k = find_key(name);

	return k == NULL || !(k->flags & CTL);
}

/* The value as read, for a message: at most 64 bytes, printable ASCII. */
static const char *shown(char *dst, size_t len, const char *v)
{
	size_t i = 0;

	for (; *v != '\0' && i + 1 < len && i < 64; v++)
		dst[i++] = (*v >= 0x20 && *v < 0x7f) ? *v : '?';
	dst[i] = '\0';
	return dst;
}

/* Where a line of a file is, "FILE:LINE", for a message: made only when
 * one is needed (not for every line: this runs on NSS's first lookup). */
struct line_at {
	const char *path;
	unsigned lineno;
	char buf[NHI_CONF_MSG_MAX / 2];
};

static const char *line_where(struct line_at *at)
{
	if (at->buf[0] == '\0')
		nhi_format(at->buf, sizeof(at->buf), "%s:%u", at->path, at->lineno);
	return at->buf;
}

/* nhi_conf_set, where 'where' is the text given or, when NULL, at's. */
static int set_at(struct nhi_conf *c, const char *key, const char *value,
		  const char *where, struct line_at *at, char *err, size_t errlen)
{
	const struct key *k = find_key(key);
	char why[200], val[72], quoted[80];

	if (k == NULL)
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s: unknown key '%s'",
				  where != NULL ? where : line_where(at), key);
	why[0] = '\0';
	if (k->set(c, (char *)c + k->off, k->size, value, why, sizeof(why)) < 0) {
		if (where == NULL)
			where = line_where(at);
		/* name the value read, unless the reason already does */
		nhi_format(quoted, sizeof(quoted), "'%s'", shown(val, sizeof(val), value));
		if (contains(why, quoted))
			return nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s: bad value for '%s': %s",
					  where, key, why);
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s: bad value for '%s' (%s): %s",
				  where, key, quoted, why);
	}
	if (strcmp(key, "backend") == 0) {  /* for the checks of nhi_conf_finish */
		if (where == NULL)
			where = line_where(at);
		(void)arena_put(c, &c->backend_where, where, strlen(where), 0, NULL, 0);
	}
	return 0;
}

int nhi_conf_set(struct nhi_conf *c, const char *key, const char *value,
		 const char *where, char *err, size_t errlen)
{
	return set_at(c, key, value, where, NULL, err, errlen);
}

int nhi_conf_set_arg(struct nhi_conf *c, const char *arg, char *err, size_t errlen)
{
	char key[64];
	const char *eq = strchr(arg, '=');
	size_t n = eq != NULL ? (size_t)(eq - arg) : strlen(arg);

	if (n == 0 || n >= sizeof(key))
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "module argument '%s': unknown key", arg);
	memcpy(key, arg, n);
	key[n] = '\0';
	if (eq == NULL) {
		const struct key *k = find_key(key);

		if (k != NULL && (k->flags & BOOLKEY))
			return nhi_conf_set(c, key, "yes", "module argument", err, errlen);
		/* "audit" alone is short for mode=audit */
		if (strcmp(key, "audit") == 0)
			return nhi_conf_set(c, "mode", "audit", "module argument", err, errlen);
		return nhi_seterr(err, errlen, NHI_ERR_INVAL,
				  "module argument '%s': expected key=value", arg);
	}
	return nhi_conf_set(c, key, eq + 1, "module argument", err, errlen);
}

/* Is a directory (or the file) safe: owned by root or euid, writable by no
 * one else (OpenSSH's safe_path, auth_secure_path)?  One refinement: a
 * sticky directory of root's (/tmp) is safe as an ancestor, since in it
 * only root and an entry's owner may rename or remove that entry, and the
 * walk checks that the entry below it is root's (or ours) too. */
static int unsafe_owner(const struct stat *st)
{
	return st->st_uid != 0 && st->st_uid != geteuid();
}

/* Every directory above 'path' (absolute), up to "/", by name with lstat.
 * A symbolic link on the way is not judged itself (its directory is):
 * *links is set, and the caller walks realpath(3) too. */
static int walk_up(const char *path, int *links, char *err, size_t errlen)
{
	/* a copy to cut: on the stack when short (the usual case: this runs
	 * on every process's first NSS lookup, twice) */
	char buf[256], *dir = buf, *slash;
	size_t n = strlen(path);
	struct stat st;
	int r = 0;

	if (n >= sizeof(buf) && (dir = malloc(n + 1)) == NULL)
		return nhi_seterr(err, errlen, NHI_ERR_NOMEM, "%s: out of memory", path);
	memcpy(dir, path, n + 1);
	slash = dir + n;
	for (;;) {
		while (slash > dir && *slash != '/')
			slash--;
		if (*slash != '/')
			break;
		slash[slash == dir] = '\0';    /* the parent ("/" stays "/") */
		if (fstatat(AT_FDCWD, dir, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s: %s", path, dir, strerror(errno));
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			*links = 1;
		} else if (!S_ISDIR(st.st_mode)) {
			r = nhi_seterr(err, errlen, NHI_ERR_PERM, "%s: not trusted: %s is not a directory",
				       path, dir);
			break;
		} else if (unsafe_owner(&st)) {
			r = nhi_seterr(err, errlen, NHI_ERR_PERM, "%s: not trusted: directory %s is "
				       "owned by uid %u, not root", path, dir, (unsigned)st.st_uid);
			break;
		} else if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
			   !((st.st_mode & S_ISVTX) && st.st_uid == 0)) {
			r = nhi_seterr(err, errlen, NHI_ERR_PERM, "%s: not trusted: directory %s is "
				       "writable by group or others (mode %04o)", path, dir,
				       (unsigned)(st.st_mode & 07777));
			break;
		}
		if (dir[1] == '\0')
			break;
	}
	if (dir != buf)
		free(dir);
	return r;
}

/* The directories above 'path' (see nhi_check_trusted): those it is
 * named by, and, when a link is on the way (the file itself one) or the
 * path is relative, those of its realpath(3) too: where the link leads,
 * and where the link is. */
static int check_ancestors(const char *path, int flags, char *err, size_t errlen)
{
	struct stat st;
	char *real;
	int links = path[0] != '/', r = 0, ignored = 0;

	/* (a file opened with O_NOFOLLOW is no link: nhi_open_trusting) */
	if (!links && !(flags & NHI_TRUST_NOT_LINK) &&
	    fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		links = 1;
	if (path[0] == '/' && !(flags & NHI_TRUST_DIRS_CHECKED))
		r = walk_up(path, &links, err, errlen);
	if (r < 0 || !links)
		return r;
	real = realpath(path, NULL);
	if (real == NULL)
		return nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", path, strerror(errno));
	r = walk_up(real, &ignored, err, errlen);
	free(real);
	return r;
}

int nhi_check_trusted(int fd, const char *path, int flags, struct stat *stp,
		      char *err, size_t errlen)
{
	struct stat own, *st = stp != NULL ? stp : &own;

	if (fstatat(fd, "", st, AT_EMPTY_PATH) < 0)
		return nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return nhi_seterr(err, errlen, NHI_ERR_PERM, "%s: not a regular file", path);
	if (unsafe_owner(st))
		return nhi_seterr(err, errlen, NHI_ERR_PERM,
				  "%s: not trusted: owned by uid %u, not root", path, (unsigned)st->st_uid);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return nhi_seterr(err, errlen, NHI_ERR_PERM,
				  "%s: not trusted: writable by group or others (mode %04o)",
				  path, (unsigned)(st->st_mode & 07777));
	return check_ancestors(path, flags, err, errlen);
}

int nhi_check_trusted_fd(int fd, const char *path, char *err, size_t errlen)
{
	return nhi_check_trusted(fd, path, 0, NULL, err, errlen);
}

int nhi_open_trusting(const char *path, int oflags, int *trust_flags)
{
	int fd = open(path, oflags | O_NOFOLLOW);

	/* a link (ELOOP): opened as one, its target checked too */
	if (fd < 0 && errno == ELOOP)
		return open(path, oflags);
	if (fd >= 0)
		*trust_flags |= NHI_TRUST_NOT_LINK;
	return fd;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* The whole file on fd into *out (NUL-terminated), *len its length.
 * size: its length as fstat(2) told (0: unknown): once that much is read
 * the file is taken as read, without a read(2) that finds its end (this
 * runs on every process's first NSS lookup); one that grew meanwhile is
 * read on to its end. */
static int read_fd(int fd, const char *path, size_t size, char **out, size_t *len, char *err,
		   size_t errlen)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);

	if (buf == NULL)
		return nhi_seterr(err, errlen, NHI_ERR_NOMEM, "%s: out of memory", path);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;
			if (cap >= CONF_MAX_SIZE) {
				free(buf);
				return nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s: file too large", path);
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				free(buf);
				return nhi_seterr(err, errlen, NHI_ERR_NOMEM, "%s: out of memory", path);
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			return nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == size && n < cap)
			break;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Where the problems of a lenient read go besides struct nhi_conf
 * (nhi_conf_check: every one of them). */
struct reporter {
	void (*fn)(void *arg, const char *msg, int breaks);
	void *arg;
};

/* One problem.  Strict (c->lenient == 0) it is the answer: its code, the
 * message in err.  Lenient it is counted, kept when it is the first (or
 * the first that breaks), reported, and reading goes on: 0. */
static int problem(struct nhi_conf *c, const struct reporter *rep, int breaks, int code,
		   char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static int problem(struct nhi_conf *c, const struct reporter *rep, int breaks, int code,
		   char *err, size_t errlen, const char *fmt, ...)
{
	char msg[NHI_CONF_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!c->lenient)
		return nhi_seterr(err, errlen, code, "%s", msg);
	c->n_problems++;
	if ((breaks && !c->broken) || c->problem[0] == '\0') {
		size_t n = len_upto(msg, sizeof(c->problem) - 1);   /* (a long one is cut) */

		memcpy(c->problem, msg, n);
		c->problem[n] = '\0';
		c->broken |= breaks;
	}
	if (rep != NULL && rep->fn != NULL)
		rep->fn(rep->arg, msg, breaks);
	return 0;
}

static int load(struct nhi_conf *c, const char *path, int flags, const struct reporter *rep,
		char *err, size_t errlen)
{
	char *buf = NULL, *line, *next, msg[NHI_CONF_MSG_MAX];
	struct stat st = { 0 };
	size_t len = 0;
	unsigned lineno = 0;
	int fd, r, tflags = 0;

	if (flags & NHI_CONF_LENIENT)
		c->lenient = 1;
	fd = nhi_open_trusting(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, &tflags);
	if (fd < 0) {
		if (errno == ENOENT) {
			if (flags & NHI_CONF_MISSING_OK)
				return 0;
			return problem(c, rep, 1, NHI_ERR_NOTFOUND, err, errlen, "%s: no such file", path);
		}
		return problem(c, rep, 1, NHI_ERR_IO, err, errlen, "%s: %s", path, strerror(errno));
	}
	if (!(flags & NHI_CONF_NO_TRUST) &&
	    nhi_check_trusted(fd, path, tflags, &st, msg, sizeof(msg)) < 0) {
		r = problem(c, rep, 1, NHI_ERR_PERM, err, errlen, "%s", msg);
		/* an untrusted file gives nothing; only a check reads on */
		if (r < 0 || rep == NULL)
			goto out;
		st.st_size = 0;
	}
	r = read_fd(fd, path, (flags & NHI_CONF_NO_TRUST) || st.st_size < 0 ? 0 :
		    (size_t)st.st_size, &buf, &len, msg, sizeof(msg));
	if (r < 0) {
		r = problem(c, rep, 1, r, err, errlen, "%s", msg);
		goto out;
	}
	if (memchr(buf, '\0', len) != NULL) {
		r = problem(c, rep, 1, NHI_ERR_INVAL, err, errlen, "%s: contains a NUL byte", path);
		goto out;
	}
	line = buf;
	/* a UTF-8 byte-order mark, as some editors write one: not part of
	 * the first key */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		line += 3;
	for (; line != NULL && *line != '\0'; line = next) {
		struct line_at at;
		char *eq, *key, *val;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		line = trim(line);
		if (*line == '\0' || *line == '#')
			continue;
		at.path = path;
		at.lineno = lineno;
		at.buf[0] = '\0';
		eq = strchr(line, '=');
		if (eq == NULL) {
			r = problem(c, rep, 1, NHI_ERR_INVAL, err, errlen,
				    "%s: expected 'key = value'", line_where(&at));
			if (r < 0)
				goto out;
			continue;
		}
		*eq = '\0';
		key = trim(line);
		val = trim(eq + 1);
		if (*key == '\0') {
			r = problem(c, rep, 1, NHI_ERR_INVAL, err, errlen,
				    "%s: missing key before '='", line_where(&at));
			if (r < 0)
				goto out;
			continue;
		}
		/* an optional pair of double quotes around the value */
		len = strlen(val);
		if (len >= 2 && val[0] == '"' && val[len - 1] == '"') {
			val[len - 1] = '\0';
			val++;
		}
		r = set_at(c, key, val, NULL, &at, msg, sizeof(msg));
		if (r < 0 && (r = problem(c, rep, key_breaks(key), r, err, errlen, "%s", msg)) < 0)
			goto out;
	}
	/* (only named in messages: cut to what is left) */
	(void)arena_put(c, &c->path, path,
			len_upto(path, sizeof(c->arena) - c->arena_used - 1), 0, NULL, 0);
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

int nhi_conf_load_file(struct nhi_conf *c, const char *path, int flags,
		       char *err, size_t errlen)
{
	return load(c, path, flags, NULL, err, errlen);
}

const char *nhi_conf_default_path(void)
{
	const char *p = secure_getenv("NHI_CONF");

	return (p != NULL && p[0] == '/') ? p : NHI_CONF_DEFAULT;
}

static void read_login_defs(struct nhi_conf *c)
{
	FILE *f = fopen(LOGIN_DEFS, "re");
	char line[256];

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char key[64];
		unsigned long v;

		const char *p = line;

		while (*p == ' ' || *p == '\t')
			p++;
		/* cheap test first: login.defs is long and this runs in PAM */
		if (!nhi_prefix(p, "SYS_UID_M"))
			continue;
		if (sscanf(p, "%63s %lu", key, &v) != 2 || v > 4294967294UL)
			continue;
		if (strcmp(key, "SYS_UID_MIN") == 0)
			c->sys_uid_min = (uint32_t)v;
		else if (strcmp(key, "SYS_UID_MAX") == 0)
			c->sys_uid_max = (uint32_t)v;
	}
	fclose(f);
}

static int derive(struct nhi_conf *c, size_t d, const char **dst, const char *file, size_t f)
{
	char *at = c->arena + c->arena_used;
	size_t room = sizeof(c->arena) - c->arena_used, n = d + 1 + f;

	if ((*dst)[0] != '\0')
		return 0;
	if (n >= room || n >= PATH_MAX)
		return -1;
	/* (no snprintf: this runs on every process's first NSS lookup) */
	memcpy(at, c->state_dir, d);
	at[d] = '/';
	memcpy(at + d + 1, file, f + 1);
	*dst = at;
	c->arena_used += n + 1;
	return 0;
}

/* The paths derived from state_dir (those not set on their own). */
static int derive_all(struct nhi_conf *c)
{
	size_t d = strlen(c->state_dir);
#define DERIVE(field, file) derive(c, d, &c->field, file, sizeof(file) - 1)

	if (DERIVE(registry_path, "registry.db") < 0 ||
	    DERIVE(cache_path, "nhi.cache") < 0 ||
	    DERIVE(usage_log, "usage.log") < 0 ||
	    DERIVE(token_pepper_file, "token.pepper") < 0 ||
	    DERIVE(key_index, "authorized_keys.idx") < 0 ||
	    DERIVE(registered_path, "registered.uids") < 0 ||
	    DERIVE(shadow_file, "nhi.shadow") < 0)
		return -1;
#undef DERIVE
	return 0;
}

/* The derived paths of the default state_dir, for those still unset. */
static void derive_defaults(struct nhi_conf *c)
{
	if (c->registry_path[0] == '\0')
		c->registry_path = NHI_STATEDIR "/registry.db";
	if (c->cache_path[0] == '\0')
		c->cache_path = NHI_STATEDIR "/nhi.cache";
	if (c->usage_log[0] == '\0')
		c->usage_log = NHI_STATEDIR "/usage.log";
	if (c->token_pepper_file[0] == '\0')
		c->token_pepper_file = NHI_STATEDIR "/token.pepper";
	if (c->key_index[0] == '\0')
		c->key_index = NHI_STATEDIR "/authorized_keys.idx";
	if (c->registered_path[0] == '\0')
		c->registered_path = NHI_STATEDIR "/registered.uids";
	if (c->shadow_file[0] == '\0')
		c->shadow_file = NHI_STATEDIR "/nhi.shadow";
}

/* What a long state_dir (or a full arena) could not give comes from the
 * default. */
static void derive_fallback(struct nhi_conf *c)
{
	c->state_dir = NHI_STATEDIR;
	if (derive_all(c) < 0)
		derive_defaults(c);
}

void nhi_conf_finish_paths(struct nhi_conf *c)
{
	if (derive_all(c) < 0)
		derive_fallback(c);
}

int nhi_conf_load_module(struct nhi_conf *c, const char *path)
{
	int r;

	nhi_conf_init(c);
	r = nhi_conf_load_file(c, path, NHI_CONF_MISSING_OK | NHI_CONF_LENIENT, NULL, 0);
	if (r == 0)
		nhi_conf_finish_paths(c);
	return r;
}

/* The checks across keys.  Lenient, a problem with what the modules use
 * (state_dir, the uid range) falls back to the default of those keys. */
static int finish(struct nhi_conf *c, const struct reporter *rep, char *err, size_t errlen)
{
	const char *where = c->path[0] ? c->path : "configuration";
	int r = 0;

	if (derive_all(c) < 0) {
		r = problem(c, rep, 1, NHI_ERR_INVAL, err, errlen, "%s: state_dir too long", where);
		if (r < 0)
			return r;
		derive_fallback(c);
	}
	if (c->uid_min == 0 || c->uid_max < c->uid_min) {
		r = problem(c, rep, 1, NHI_ERR_INVAL, err, errlen,
			    "%s: uid_min..uid_max (%u..%u) is not a valid range above 0",
			    where, c->uid_min, c->uid_max);
		c->uid_min = DEFAULT_UID_MIN;
		c->uid_max = DEFAULT_UID_MAX;
	}
	if (r == 0 && c->uid_block_size == 0)
		r = problem(c, rep, 0, NHI_ERR_INVAL, err, errlen,
			    "%s: uid_block_size must be at least 1", where);
	if (r == 0 && c->max_lifetime <= 0)
		r = problem(c, rep, 0, NHI_ERR_INVAL, err, errlen,
			    "%s: max_lifetime must be positive", where);
	if (r == 0 && c->review_interval <= 0)
		r = problem(c, rep, 0, NHI_ERR_INVAL, err, errlen,
			    "%s: review_interval must be positive", where);
	if (r == 0 && c->backend == NHI_BACKEND_LDAP &&
	    (c->ldap_uri[0] == '\0' || c->ldap_base[0] == '\0'))
		r = problem(c, rep, 0, NHI_ERR_INVAL, err, errlen, "%s: backend = ldap needs %s",
			    c->backend_where[0] ? c->backend_where : where,
			    c->ldap_uri[0] == '\0' ? "ldap_uri (the directory servers)"
						   : "ldap_base (where identities live)");
	if (r == 0 && c->max_credential_age <= 0)
		r = problem(c, rep, 0, NHI_ERR_INVAL, err, errlen,
			    "%s: max_credential_age must be positive", where);
	if (r == 0 && c->cert_lifetime <= 0)
		r = problem(c, rep, 0, NHI_ERR_INVAL, err, errlen,
			    "%s: cert_lifetime must be positive", where);
	if (r == 0 && (c->grant_lifetime <= 0 || c->grant_max_lifetime < c->grant_lifetime))
		r = problem(c, rep, 0, NHI_ERR_INVAL, err, errlen, "%s: grant_lifetime must be "
			    "positive and at most grant_max_lifetime", where);
	if (r == 0 && (c->delegation_lifetime <= 0 ||
		       c->delegation_max_lifetime < c->delegation_lifetime))
		r = problem(c, rep, 0, NHI_ERR_INVAL, err, errlen, "%s: delegation_lifetime must "
			    "be positive and at most delegation_max_lifetime", where);
	if (r == 0 && (c->ca_cert[0] == '\0') != (c->ca_key[0] == '\0'))
		r = problem(c, rep, 0, NHI_ERR_INVAL, err, errlen, "%s: ca_cert and ca_key go "
			    "together (set both or neither)", where);
	if (r < 0)
		return r;
	if (c->service_uids_system)
		read_login_defs(c);
	return 0;
}

int nhi_conf_finish(struct nhi_conf *c, char *err, size_t errlen)
{
	return finish(c, NULL, err, errlen);
}

unsigned nhi_conf_check(const char *path,
			void (*report)(void *arg, const char *msg, int breaks), void *arg)
{
	static struct nhi_conf c;   /* large; nhictl only, one thread */
	struct reporter rep = { report, arg };

	nhi_conf_init(&c);
	c.lenient = 1;
	if (load(&c, path, NHI_CONF_LENIENT, &rep, NULL, 0) == 0)
		finish(&c, &rep, NULL, 0);
	return c.n_problems;
}

int nhi_conf_load_args(struct nhi_conf *c, int argc, const char **argv,
		       char *err, size_t errlen)
{
	const char *path = NULL;
	char msg[512], key[64];

	nhi_conf_init(c);
	c->lenient = 1;
	for (int i = 0; i < argc; i++)
		if (nhi_prefix(argv[i], "config="))
			path = argv[i] + 7;
	if (path != NULL && path[0] != '/')
		problem(c, NULL, 1, NHI_ERR_INVAL, err, errlen,
			"module argument config=%s: must be an absolute path", path);
	else if (path != NULL)
		load(c, path, NHI_CONF_LENIENT, NULL, err, errlen);
	else
		load(c, nhi_conf_default_path(), NHI_CONF_MISSING_OK | NHI_CONF_LENIENT, NULL,
		     err, errlen);
	for (int i = 0; i < argc; i++) {
		if (nhi_prefix(argv[i], "config="))
			continue;
		if (nhi_conf_set_arg(c, argv[i], msg, sizeof(msg)) < 0) {
			nhi_format(key, sizeof(key), "%.*s", (int)strcspn(argv[i], "="), argv[i]);
			problem(c, NULL, key_breaks(key), NHI_ERR_INVAL, err, errlen, "%s", msg);
		}
	}
	return finish(c, NULL, err, errlen);
}

const char *nhi_conf_hostname(const struct nhi_conf *c, char *buf, size_t len)
{
	if (c->host[0] != '\0') {
		nhi_format(buf, len, "%s", c->host);
		return buf;
	}
	if (gethostname(buf, len) < 0 || len == 0) {
		nhi_format(buf, len, "localhost");
		return buf;
	}
	buf[len - 1] = '\0';
	return buf;
}

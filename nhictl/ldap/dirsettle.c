/* dirsettle.c - waiting until a written entry is the same on every server
 * of ldap_uri (see dirsettle.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ldap.h"
#include "dirsettle.h"

#define SETTLE_MAX_URIS 16

/* The entry's entryCSN on ld into csn ("" when the entry is gone): 0, or
 * the LDAP result code of a failed read. */
static int entry_csn(struct dir *d, LDAP *ld, const char *dn, char *csn, size_t len)
{
	char *attrs[] = { "entryCSN", NULL };
	struct timeval tv = dir_timeout(&d->x->conf);
	LDAPMessage *res = NULL, *e;
	int rc;

	csn[0] = '\0';
	rc = ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
			       &tv, 1, &res);
	if (rc == LDAP_SUCCESS && (e = ldap_first_entry(ld, res)) != NULL)
		dir_first_value(ld, e, "entryCSN", csn, len);
	ldap_msgfree(res);
	return rc == LDAP_NO_SUCH_OBJECT ? 0 : rc;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int dir_settle(struct dir *d, const char *dn, const char *name)
{
	LDAP *ld[SETTLE_MAX_URIS] = { NULL };
	char uris[NHI_CONF_URI_MAX], *uri, *save = NULL, *names[SETTLE_MAX_URIS];
	char mine[128], csn[SETTLE_MAX_URIS][128], err[2048], lag[300] = "";
	struct nhi_conf *one = NULL;
	struct timespec t0, t;
	int n = 0, i, rc, r = 0, same;
	int64_t wait = d->x->conf.ldap_settle_wait;

	snprintf(uris, sizeof(uris), "%s", d->x->conf.ldap_uri);
	for (uri = strtok_r(uris, " \t", &save); uri != NULL && n < SETTLE_MAX_URIS;
	     uri = strtok_r(NULL, " \t", &save))
		names[n++] = uri;
	if (n < 2 || wait <= 0)
		return 0;
	rc = entry_csn(d, d->ld, dn, mine, sizeof(mine));
	if (rc != LDAP_SUCCESS) {
		nhi_ldap_reason(d->ld, rc, err, sizeof(err));
		return nerr(d->x, NHI_ERR_IO, "reading %s back: %s", dn, err);
	}
	one = malloc(sizeof(*one));
	if (one == NULL)
		return nerr(d->x, NHI_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		*one = d->x->conf;
		one->ldap_uri = names[i];
		if (nhi_ldap_connect(one, &ld[i], err, sizeof(err)) < 0) {
			ld[i] = NULL;
			nerr(d->x, 0, "warning: %s: cannot tell whether the change stands on %s "
			     "(unreachable: %s): the next 'nhictl sync' reads what stands", name,
			     names[i], err);
			r = 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		same = 1;
		for (i = 0; i < n; i++) {
			if (ld[i] == NULL)
				continue;
			if (entry_csn(d, ld[i], dn, csn[i], sizeof(csn[i])) != LDAP_SUCCESS)
				csn[i][0] = '\0';
			/* the write (or a later one) arrived, and the same everywhere */
			if (csn[i][0] == '\0' || strcmp(csn[i], mine) < 0)
				same = 0;
		}
		/* every reachable server against every other */
		for (i = 0; same && i < n; i++) {
			int j;

			for (j = i + 1; j < n; j++)
				if (ld[i] != NULL && ld[j] != NULL && strcmp(csn[i], csn[j]) != 0)
					same = 0;
		}
		if (same)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= wait) {
			for (i = 0; i < n; i++)
				if (ld[i] != NULL && (csn[i][0] == '\0' || strcmp(csn[i], mine) < 0))
					snprintf(lag + strlen(lag), sizeof(lag) - strlen(lag), "%s%s",
						 lag[0] ? ", " : "", names[i]);
			nerr(d->x, 0, "warning: %s: the entry is not yet the same on every server "
			     "of ldap_uri after %d s%s%s (replication delay, a partition, or servers "
			     "that disagree: see docs/replication.md): the next 'nhictl sync' reads "
			     "what stands", name, (int)wait, lag[0] ? "; behind: " : "", lag);
			r = 1;
			break;
		}
		pause_ms(50);
	}
	for (i = 0; i < n; i++)
		if (ld[i] != NULL)
			ldap_unbind_ext_s(ld[i], NULL, NULL);
	free(one);
	return r;
}

/* ---- do the servers agree? ------------------------------------------- */

struct csns {
	char **v;          /* "NAME\tentryCSN", sorted */
	size_t n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void csns_free(struct csns *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* One page of identity entries into a csns (grown as pages come). */
static int csns_page(LDAP *ld, LDAPMessage *res, void *ctx)
{
	struct csns *s = ctx;
	LDAPMessage *e;
	char name[256], csn[128];
	int n = ldap_count_entries(ld, res);
	char **v;

	if (n <= 0)
		return 0;
	if ((v = realloc(s->v, (s->n + (size_t)n) * sizeof(*s->v))) == NULL)
		return NHI_ERR_NOMEM;
	s->v = v;
	for (e = ldap_first_entry(ld, res); e != NULL; e = ldap_next_entry(ld, e)) {
		char line[sizeof(name) + sizeof(csn) + 1];

		if (dir_first_value(ld, e, "uid", name, sizeof(name)) <= 0)
			continue;
		if (dir_first_value(ld, e, "entryCSN", csn, sizeof(csn)) <= 0)
			csn[0] = '\0';
		snprintf(line, sizeof(line), "%s\t%s", name, csn);
		if ((s->v[s->n] = strdup(line)) == NULL)
			return NHI_ERR_NOMEM;
		s->n++;
	}
	return 0;
}

/* Every identity entry under ldap_base on ld, as "NAME\tentryCSN",
 * read in pages (dir_search_paged). */
static int csns_read(struct nhictl *x, LDAP *ld, const char *uri, struct csns *s,
		     char *why, size_t len)
{
	char *attrs[] = { "uid", "entryCSN", NULL }, reason[1024] = "";
	int r;

	r = dir_search_paged(&x->conf, ld, x->conf.ldap_base, LDAP_SCOPE_ONELEVEL,
			     "(objectClass=nhiIdentity)", attrs, csns_page, s, reason,
			     sizeof(reason));
	if (r == NHI_ERR_NOMEM)
		return r;
	if (r < 0) {
		snprintf(why, len, "%s: reading the identity entries: %s", uri, reason);
		return r;
	}
	if (s->n > 0)
		qsort(s->v, s->n, sizeof(*s->v), cmp_str);
	return 0;
}

/* Entries of a not in b, the first one named in first (if still ""). */
static int csns_missing(const struct csns *a, const char *uri_a, const struct csns *b,
			const char *uri_b, char *first, size_t len)
{
	size_t i;
	int n = 0;

	for (i = 0; i < a->n; i++) {
		const char *tab;

		if (b->n > 0 && bsearch(&a->v[i], b->v, b->n, sizeof(*b->v), cmp_str) != NULL)
			continue;
		if (n++ == 0 && first[0] == '\0') {
			tab = strchr(a->v[i], '\t');
			snprintf(first, len, "%.*s: entryCSN %s on %s, not on %s",
				 (int)(tab - a->v[i]), a->v[i], tab + 1, uri_a, uri_b);
		}
	}
	return n;
}

int dir_servers_compare(struct nhictl *x, char *first, size_t len)
{
	char uris[NHI_CONF_URI_MAX], *uri, *save = NULL, err[2048];
	struct csns s[SETTLE_MAX_URIS] = { { NULL, 0 } };
	char *names[SETTLE_MAX_URIS];
	struct nhi_conf *one;
	LDAP *ld;
	int n = 0, i, r = 0, differ = 0;

	first[0] = '\0';
	snprintf(uris, sizeof(uris), "%s", x->conf.ldap_uri);
	for (uri = strtok_r(uris, " \t", &save); uri != NULL && n < SETTLE_MAX_URIS;
	     uri = strtok_r(NULL, " \t", &save))
		names[n++] = uri;
	if (n < 2)
		return 0;
	if ((one = malloc(sizeof(*one))) == NULL)
		return NHI_ERR_NOMEM;
	for (i = 0; i < n && r == 0; i++) {
		*one = x->conf;
		one->ldap_uri = names[i];
		if (nhi_ldap_connect(one, &ld, err, sizeof(err)) < 0) {
			snprintf(first, len, "%s", err);
			r = NHI_ERR_IO;
			break;
		}
		r = csns_read(x, ld, names[i], &s[i], first, len);
		ldap_unbind_ext_s(ld, NULL, NULL);
	}
	/* an entry differs when it is not the same (name and entryCSN) on
	 * the first server and on another: counted once per other server */
	for (i = 1; i < n && r == 0; i++)
		differ += csns_missing(&s[0], names[0], &s[i], names[i], first, len) +
			  csns_missing(&s[i], names[i], &s[0], names[0], first, len);
	for (i = 0; i < n; i++)
		csns_free(&s[i]);
	free(one);
	return r < 0 ? r : differ;
}

/* dirsettle.c - waiting until a written entry is the same on every server
 * of ldap_uri (see dirsettle.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "nhi_hash.h"
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

/* ---- what each server has seen: its contextCSN values ------------------ */

#define SETTLE_MAX_SIDS 16

/* The contextCSN values of a server's naming context, one per server ID
 * that wrote to it (RFC 4533's CSN: time#count#sid#mod); n -1: not read. */
struct seen {
	int n;
	char csn[SETTLE_MAX_SIDS][64];
};

/* The server ID field of a CSN ("" when it has none), its length in *len. */
static const char *csn_sid(const char *csn, size_t *len)
{
	const char *p = strchr(csn, '#');

	if (p == NULL || (p = strchr(p + 1, '#')) == NULL) {
		*len = 0;
		return "";
	}
	p++;
	*len = strcspn(p, "#");
	return p;
}

/* The index of s's value for the server ID of csn, or -1. */
static int seen_find(const struct seen *s, const char *csn)
{
	size_t l, k;
	const char *sid = csn_sid(csn, &l), *o;
	int i;

	for (i = 0; i < s->n; i++) {
		o = csn_sid(s->csn[i], &k);
		if (k == l && memcmp(o, sid, l) == 0)
			return i;
	}
	return -1;
}

/* The naming context holding ldap_base (the longest namingContexts value
 * of the root DSE above it) into ctx, "" when none is told. */
static void naming_context(struct dir *d, char *ctx, size_t len)
{
	char *attrs[] = { "namingContexts", NULL };
	struct timeval tv = dir_timeout(&d->x->conf);
	LDAPMessage *res = NULL, *e;
	struct berval **vals;

	ctx[0] = '\0';
	if (ldap_search_ext_s(d->ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
			      &tv, 1, &res) == LDAP_SUCCESS && (e = ldap_first_entry(d->ld, res)) != NULL) {
		vals = ldap_get_values_len(d->ld, e, "namingContexts");
		dir_context_of(d->x->conf.ldap_base, vals, ctx, len);
		ldap_value_free_len(vals);
	}
	ldap_msgfree(res);
}

static void seen_read(struct dir *d, LDAP *ld, const char *ctx, struct seen *s)
{
	char *attrs[] = { "contextCSN", NULL };
	struct timeval tv = dir_timeout(&d->x->conf);
	LDAPMessage *res = NULL, *e;
	struct berval **v = NULL;
	int i;

	s->n = -1;
	if (ldap_search_ext_s(ld, ctx, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
			      &tv, 1, &res) == LDAP_SUCCESS && (e = ldap_first_entry(ld, res)) != NULL) {
		v = ldap_get_values_len(ld, e, "contextCSN");
		s->n = 0;
		for (i = 0; v != NULL && v[i] != NULL && s->n < SETTLE_MAX_SIDS; i++)
			if (v[i]->bv_len < sizeof(s->csn[0]))
				snprintf(s->csn[s->n++], sizeof(s->csn[0]), "%.*s", (int)v[i]->bv_len,
					 v[i]->bv_val);
		ldap_value_free_len(v);
	}
	ldap_msgfree(res);
}

/* m becomes the newest of m and s for each server ID */
static void seen_max(struct seen *m, const struct seen *s)
{
	int i, j;

	for (i = 0; i < s->n; i++) {
		j = seen_find(m, s->csn[i]);
		if (j < 0 && m->n < SETTLE_MAX_SIDS)
			snprintf(m->csn[m->n++], sizeof(m->csn[0]), "%s", s->csn[i]);
		else if (j >= 0 && strcmp(s->csn[i], m->csn[j]) > 0)
			snprintf(m->csn[j], sizeof(m->csn[0]), "%s", s->csn[i]);
	}
}

/* Has s seen everything m has (each server ID's CSN at least m's)? */
static int seen_covers(const struct seen *s, const struct seen *m)
{
	int i, j;

	for (i = 0; i < m->n; i++)
		if ((j = seen_find(s, m->csn[i])) < 0 || strcmp(s->csn[j], m->csn[i]) < 0)
			return 0;
	return m->n == 0 || s->n >= 0;
}

/* Have all n servers answered, with the entry on each, not all with one
 * entryCSN, and each seen every change the others have (the same
 * contextCSN values)?  Then replication has nothing left to carry that
 * would make them agree: two providers' concurrent changes of the entry
 * were each applied over the other's (plain syncrepl can swap them). */
static int swapped_now(LDAP **ld, char (*csn)[128], const struct seen *seen, int n)
{
	struct seen all = { 0 };
	int i, differ = 0;

	for (i = 0; i < n; i++) {
		if (ld[i] == NULL || csn[i][0] == '\0' || seen[i].n <= 0)
			return 0;
		differ |= strcmp(csn[i], csn[0]) != 0;
		seen_max(&all, &seen[i]);
	}
	for (i = 0; i < n; i++)
		if (!seen_covers(&seen[i], &all))
			return 0;
	return differ;
}

/* Polls in a row that find the servers swapped before it counts: a
 * few when the server written through holds the newest version (the one
 * that last-writer-wins would keep: its writer mends), more when it holds
 * an older one, so that of two hosts that both wait on the entry one
 * mends and the other sees that arrive (two mends at once are two
 * concurrent changes again, which can swap again); if nobody else
 * mends, it does. */
#define SETTLE_SWAP_POLLS 4
#define SETTLE_SWAP_POLLS_OLDER 30

/* Does the server written through hold the entry with an entryCSN at
 * least every other server's? */
static int own_newest(struct dir *d, const char *dn, char (*csn)[128], int n)
{
	char own[128];
	int i;

	if (entry_csn(d, d->ld, dn, own, sizeof(own)) != LDAP_SUCCESS || own[0] == '\0')
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(own, csn[i]) < 0)
			return 0;
	return 1;
}

/* The values of 'attr' in 'dn' on ld into *v (NULL when it has none, or
 * the read failed): the search's LDAP result code (LDAP_NO_SUCH_OBJECT:
 * the entry is gone). */
static int attr_values(struct dir *d, LDAP *ld, const char *dn, const char *attr,
		       struct berval ***v)
{
	char *attrs[] = { (char *)attr, NULL };
	struct timeval tv = dir_timeout(&d->x->conf);
	LDAPMessage *res = NULL, *e;
	int rc;

	*v = NULL;
	rc = ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
			       &tv, 1, &res);
	if (rc == LDAP_SUCCESS && (e = ldap_first_entry(ld, res)) != NULL)
		*v = ldap_get_values_len(ld, e, attr);
	else if (rc == LDAP_SUCCESS)
		rc = LDAP_NO_SUCH_OBJECT;
	ldap_msgfree(res);
	return rc;
}

/* A read that tells what the server holds: the values, or no entry. */
static int read_ok(int rc)
{
	return rc == LDAP_SUCCESS || rc == LDAP_NO_SUCH_OBJECT;
}

static size_t nvals(struct berval **v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

/* Does every value of b appear in a?  (Values are compared byte by byte,
 * as the servers store them.) */
static int vals_cover(struct berval **a, struct berval **b)
{
	size_t i, j;

	for (i = 0; b != NULL && b[i] != NULL; i++) {
		for (j = 0; a != NULL && a[j] != NULL; j++)
			if (a[j]->bv_len == b[i]->bv_len &&
			    memcmp(a[j]->bv_val, b[i]->bv_val, b[i]->bv_len) == 0)
				break;
		if (a == NULL || a[j] == NULL)
			return 0;
	}
	return 1;
}

/* With every server holding 'dn' with one entryCSN: do they hold the
 * same values of 'attr'?  Two providers' concurrent changes of a
 * multi-valued attribute can be merged differently (slapd 2.5: one server
 * kept a value the other dropped, the same entryCSN on both), which no
 * entryCSN tells.  0 the same (or a server could not be read: nothing
 * known), 1 they differ; *own_covers: the server written through holds
 * every value any of them holds (its writer mends first). */
static int values_differ(struct dir *d, LDAP **ld, int n, const char *dn, const char *attr,
			 int *own_covers)
{
	struct berval **own, **v;
	int i, covered, differ = 0;

	*own_covers = 0;
	if (!read_ok(attr_values(d, d->ld, dn, attr, &own)))
		return 0;
	*own_covers = 1;
	for (i = 0; i < n; i++) {
		if (ld[i] == NULL)
			continue;
		if (!read_ok(attr_values(d, ld[i], dn, attr, &v))) {
			differ = 0;
			break;
		}
		covered = vals_cover(own, v);
		if (!covered || nvals(v) != nvals(own))
			differ = 1;
		if (!covered)
			*own_covers = 0;
		ldap_value_free_len(v);
	}
	ldap_value_free_len(own);
	return differ;
}

/* Poll every server of ldap_uri for the entry 'dn' until they agree on
 * it: after a write (mine: the entryCSN read on the connection written
 * through), each holds it with one entryCSN, at least mine; after a
 * delete (mine NULL), each holds it with one entryCSN or none holds it.
 * Agreeing once is not enough: a change another provider had taken
 * before (a delete of the entry, say) may not have reached every server
 * yet, and undo the agreement when it does.  So when the entry first
 * agrees, what the servers have seen between them (each server ID's
 * newest contextCSN, 'known') is noted, and the wait ends when every
 * server has seen all of it and the entry still agrees.  With 'attr'
 * (the attribute a mend writes again), servers that hold the entry
 * swapped (swapped_now), or agree on its entryCSN but hold other values
 * of 'attr' (values_differ), for the polls of SETTLE_SWAP_POLLS*, end
 * the wait too, unwarned.  0 agreed; 1 not within ldap_settle_wait, or a
 * server did not answer (warned, naming the servers behind); 2 swapped;
 * 3 one entryCSN, other values; NHI_ERR_NOMEM. */
static int settle_poll(struct dir *d, const char *dn, const char *name, const char *mine,
		       const char *attr)
{
	LDAP *ld[SETTLE_MAX_URIS] = { NULL };
	char uris[NHI_CONF_URI_MAX], *uri, *save = NULL, *names[SETTLE_MAX_URIS];
	char csn[SETTLE_MAX_URIS][128], err[2048], lag[300] = "", ctx[1024];
	struct seen seen[SETTLE_MAX_URIS], known;
	struct nhi_conf *one = NULL;
	struct timespec t0, t;
	int n = 0, i, r = 0, same, armed = 0, swaps = 0, merged = 0, covers = 0;
	int64_t wait = d->x->conf.ldap_settle_wait;

	snprintf(uris, sizeof(uris), "%s", d->x->conf.ldap_uri);
	for (uri = strtok_r(uris, " \t", &save); uri != NULL && n < SETTLE_MAX_URIS;
	     uri = strtok_r(NULL, " \t", &save))
		names[n++] = uri;
	naming_context(d, ctx, sizeof(ctx));
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
			/* what it has seen first: a change it holds then is in it */
			seen[i].n = 0;
			if (ctx[0] != '\0')
				seen_read(d, ld[i], ctx, &seen[i]);
			if (entry_csn(d, ld[i], dn, csn[i], sizeof(csn[i])) != LDAP_SUCCESS)
				csn[i][0] = '\0';
			/* the write (or a later one) arrived */
			if (mine != NULL && (csn[i][0] == '\0' || strcmp(csn[i], mine) < 0))
				same = 0;
		}
		/* and the same everywhere: every reachable server against every other */
		for (i = 0; same && i < n; i++) {
			int j;

			for (j = i + 1; j < n; j++)
				if (ld[i] != NULL && ld[j] != NULL && strcmp(csn[i], csn[j]) != 0)
					same = 0;
		}
		if (!same) {
			armed = 0;
			merged = 0;
			swaps = attr != NULL && swapped_now(ld, csn, seen, n) ? swaps + 1 : 0;
			if (swaps >= SETTLE_SWAP_POLLS_OLDER ||
			    (swaps >= SETTLE_SWAP_POLLS && own_newest(d, dn, csn, n))) {
				r = 2;
				break;
			}
		} else {
			if (!armed) {
				known.n = 0;
				for (i = 0; i < n; i++)
					if (ld[i] != NULL)
						seen_max(&known, &seen[i]);
				armed = 1;
			}
			for (i = 0; i < n; i++)
				if (ld[i] != NULL && !seen_covers(&seen[i], &known))
					break;
			if (i == n && (attr == NULL || mine == NULL ||
				       !values_differ(d, ld, n, dn, attr, &covers))) {
				merged = 0;
				break;
			}
			/* agreed on the entryCSN, not on the values: as a swap,
			 * the writer whose server holds them all mends first */
			if (i == n && (++merged >= SETTLE_SWAP_POLLS_OLDER ||
				       (merged >= SETTLE_SWAP_POLLS && covers))) {
				r = 3;
				break;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= wait) {
			for (i = 0; i < n; i++)
				if (ld[i] != NULL && ((mine != NULL ? csn[i][0] == '\0' ||
						       strcmp(csn[i], mine) < 0 : csn[i][0] != '\0') ||
						      (armed && !seen_covers(&seen[i], &known))))
					snprintf(lag + strlen(lag), sizeof(lag) - strlen(lag), "%s%s",
						 lag[0] ? ", " : "", names[i]);
			nerr(d->x, 0, "warning: %s: the entry is not yet %s every server of "
			     "ldap_uri after %d s%s%s (replication delay, a partition, or servers "
			     "that disagree: see docs/replication.md): the next 'nhictl sync' reads "
			     "what stands", name, mine != NULL ? "the same on" : "gone from",
			     (int)wait, lag[0] ? (mine != NULL ? "; behind: " : "; still held by: ") : "",
			     lag);
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

/* Several servers to wait for? */
static int settle_wanted(struct dir *d)
{
	const char *u = d->x->conf.ldap_uri;

	u += strspn(u, " \t");
	u += strcspn(u, " \t");
	u += strspn(u, " \t");
	return *u != '\0' && d->x->conf.ldap_settle_wait > 0;
}

/* The entryCSN of 'dn' on the server written through ("" gone): 0, or
 * NHI_ERR_IO (printed). */
static int own_csn(struct dir *d, const char *dn, char *csn, size_t len)
{
	char err[2048];
	int rc = entry_csn(d, d->ld, dn, csn, len);

	if (rc == LDAP_SUCCESS)
		return 0;
	nhi_ldap_reason(d->ld, rc, err, sizeof(err));
	return nerr(d->x, NHI_ERR_IO, "reading %s back: %s", dn, err);
}

/* The entry written again through d: 'attr' replaced by the values it
 * has there (a new entryCSN, the same content; none: 'attr' removed
 * everywhere).  0, or NHI_ERR_IO (printed). */
static int rewrite(struct dir *d, const char *dn, const char *attr)
{
	char err[2048];
	struct berval **v;
	LDAPMod m = { LDAP_MOD_REPLACE | LDAP_MOD_BVALUES, (char *)attr, { NULL } }, *mods[] = { &m, NULL };
	int rc = attr_values(d, d->ld, dn, attr, &v);

	/* (none there: replaced by none, gone everywhere) */
	if (rc == LDAP_SUCCESS) {
		m.mod_bvalues = v;
		do
			rc = ldap_modify_ext_s(d->ld, dn, mods, NULL, NULL);
		while (dir_referral(d, rc));
	}
	ldap_value_free_len(v);
	if (rc == LDAP_SUCCESS)
		return 0;
	nhi_ldap_reason(d->ld, rc, err, sizeof(err));
	return nerr(d->x, NHI_ERR_IO, "writing %s again: %s", dn, err);
}

/* dir_settle, and with 'attr' dir_settle_mend (see dirsettle.h). */
static int settle_written(struct dir *d, const char *dn, const char *name, const char *attr)
{
	char mine[128];
	int r, i;

	if (!settle_wanted(d))
		return 0;
	if (own_csn(d, dn, mine, sizeof(mine)) < 0)
		return NHI_ERR_IO;
	/* (a mend is a change too, and may meet another host's: a few) */
	for (i = 0; i < 3 && (r = settle_poll(d, dn, name, mine, attr)) >= 2; i++) {
		if (r == 2)
			nerr(d->x, 0, "note: %s: the servers of ldap_uri each held the other's "
			     "concurrent change of %s (replication swapped them): written again, as "
			     "the server written through holds it", name, dn);
		else
			nerr(d->x, 0, "note: %s: the servers of ldap_uri held %s with one entryCSN "
			     "but different %s values (concurrent changes merged differently by "
			     "replication): written again, as the server written through holds it",
			     name, dn, attr);
		if (rewrite(d, dn, attr) < 0 || own_csn(d, dn, mine, sizeof(mine)) < 0)
			return NHI_ERR_IO;
	}
	return r < 2 ? r : settle_poll(d, dn, name, mine, NULL);
}

int dir_settle(struct dir *d, const char *dn, const char *name)
{
	return settle_written(d, dn, name, NULL);
}

int dir_settle_mend(struct dir *d, const char *dn, const char *name, const char *attr)
{
	return settle_written(d, dn, name, attr);
}

int dir_settle_gone(struct dir *d, const char *dn, const char *name)
{
	char csn[128];
	int rc;

	if (!settle_wanted(d))
		return 0;
	if ((rc = settle_poll(d, dn, name, NULL, NULL)) < 0)
		return rc;
	/* what the server written through holds now */
	if (own_csn(d, dn, csn, sizeof(csn)) < 0)
		return NHI_ERR_IO;
	return csn[0] != '\0';
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

/* An identity entry's userPassword values, appended to its entryCSN
 * (", userPassword values #DIGEST": an order-free digest of the values):
 * two servers can hold one entryCSN with different hashes (two password
 * changes at once merged differently by replication, docs/replication.md),
 * which the entryCSN alone does not tell. */
static void pw_digest(LDAP *ld, LDAPMessage *e, char *csn, size_t len)
{
	struct berval **v = ldap_get_values_len(ld, e, "userPassword");
	uint64_t sum = 0;
	size_t i, l = strlen(csn);

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		sum += nhi_mix64(nhi_hash_mem(v[i]->bv_val, v[i]->bv_len));
	snprintf(csn + l, len - l, ", userPassword values #%016llx", (unsigned long long)sum);
	ldap_value_free_len(v);
}

/* One page of entries into a csns (grown as pages come), each named by
 * its DN without ",ldap_base" (uid=NAME, nhiGrantId=R,uid=NAME, ...). */
struct csns_ctx {
	struct csns *s;
	const char *base;
};

static int csns_page(LDAP *ld, LDAPMessage *res, void *ctx)
{
	struct csns_ctx *c = ctx;
	struct csns *s = c->s;
	LDAPMessage *e;
	size_t bl = strlen(c->base);
	char csn[128];
	int n = ldap_count_entries(ld, res);
	char **v;

	if (n <= 0)
		return 0;
	if ((v = realloc(s->v, (s->n + (size_t)n) * sizeof(*s->v))) == NULL)
		return NHI_ERR_NOMEM;
	s->v = v;
	for (e = ldap_first_entry(ld, res); e != NULL; e = ldap_next_entry(ld, e)) {
		char *dn = ldap_get_dn(ld, e), *line;
		size_t dl;

		if (dn == NULL)
			continue;
		dl = strlen(dn);
		/* the base itself is not compared; the rest named below it */
		if (dir_dn_under(dn, c->base)) {
			if (dl == bl) {
				ldap_memfree(dn);
				continue;
			}
			dl -= bl + 1;
		}
		if (dir_first_value(ld, e, "entryCSN", csn, sizeof(csn)) <= 0)
			csn[0] = '\0';
		pw_digest(ld, e, csn, sizeof(csn));
		line = malloc(dl + strlen(csn) + 2);
		if (line == NULL) {
			ldap_memfree(dn);
			return NHI_ERR_NOMEM;
		}
		memcpy(line, dn, dl);
		line[dl] = '\t';
		strcpy(line + dl + 1, csn);
		ldap_memfree(dn);
		s->v[s->n++] = line;
	}
	return 0;
}

/* Every entry under ldap_base on ld (identities, their credentials,
 * grants and delegations, resources, uid blocks), as "NAME\tentryCSN",
 * read in pages (dir_search_paged). */
static int csns_read(struct nhictl *x, LDAP *ld, const char *uri, struct csns *s,
		     char *why, size_t len)
{
	char *attrs[] = { "entryCSN", "userPassword", NULL }, reason[1024] = "";
	struct csns_ctx c = { s, x->conf.ldap_base };
	int r;

	r = dir_search_paged(&x->conf, ld, x->conf.ldap_base, LDAP_SCOPE_SUBTREE,
			     "(objectClass=*)", attrs, csns_page, &c, reason, sizeof(reason));
	if (r == NHI_ERR_NOMEM)
		return r;
	if (r < 0) {
		snprintf(why, len, "%s: reading the entries: %s", uri, reason);
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

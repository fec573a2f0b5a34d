/* audit_env.c - NHI8 environment isolation: NHI8-CROSS-ENV, one identity
 * that reaches resources of different environments (the label env of
 * resources and identities, labels.c).  What an identity reaches: its own
 * live grants (active, unexpired, credential usable), and one hop of
 * delegation: the live grants of each identity it delegates to (a live
 * delegation).  Its own env label counts as one of its environments. */
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "cmd_reach.h"
#include "audit_checks.h"

struct reached {
	char subject[64], own[LABEL_WORD_MAX + 1];      /* the subject's env, "" none */
	char resource[RES_NAME_MAX], env[LABEL_WORD_MAX + 1];
	char via[64], cred[CRED_ID_MAX];                /* delegate; bound credential */
	int64_t since;
};

struct reach_set {
	struct reached *v;
	size_t n, cap;
};

static int by_subject(const void *a, const void *b)
{
	const struct reached *x = a, *y = b;
	int c = strcmp(x->subject, y->subject);

	if (c == 0)
		c = strcmp(x->env, y->env);
	if (c == 0)
		c = strcmp(x->resource, y->resource);
	return c != 0 ? c : strcmp(x->via, y->via);
}

/* The rows of st: GRANT_COLS, then (from GRANT_NCOLS on) the resource's
 * labels, the subject's name and env, the delegate ("" direct), the edge's
 * start; only live grants (and live delegations: the query's). */
static int collect(struct nhictl *x, sqlite3_stmt *st, struct reach_set *s)
{
	char why[256], labels[LABELS_BUFSZ];
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct access_row g;
		struct reached *e;

		grant_from_row(st, &g);
		col_cpy(labels, sizeof(labels), st, GRANT_NCOLS);
		if (strcmp(reach_grant_state(x, &g, why, sizeof(why)), "live") != 0)
			continue;
		if (s->n == s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 64;
			struct reached *v = realloc(s->v, cap * sizeof(*v));

			if (v == NULL) {
				sqlite3_finalize(st);
				return nerr(x, NHI_ERR_NOMEM, "out of memory");
			}
			s->v = v;
			s->cap = cap;
		}
		e = &s->v[s->n];
		memset(e, 0, sizeof(*e));
		if (labels_get(labels, "env", e->env, sizeof(e->env)) == NULL)
			continue;
		col_cpy(e->subject, sizeof(e->subject), st, GRANT_NCOLS + 1);
		col_cpy(labels, sizeof(labels), st, GRANT_NCOLS + 2);
		labels_get(labels, "env", e->own, sizeof(e->own));
		col_cpy(e->via, sizeof(e->via), st, GRANT_NCOLS + 3);
		snprintf(e->resource, sizeof(e->resource), "%s", g.resource);
		snprintf(e->cred, sizeof(e->cred), "%s", e->via[0] ? "" : g.cred);
		e->since = sqlite3_column_int64(st, GRANT_NCOLS + 4);
		if (g.created > e->since)
			e->since = g.created;
		s->n++;
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

/* One subject's entries v[0..n): a finding when they (and its own env)
 * name more than one environment. */
static void judge(struct nhictl *x, struct audit_ctx *a, const struct reached *v, size_t n)
{
	char ev[2048], fix[1024], own[LABEL_WORD_MAX + 1] = "", keep[LABEL_WORD_MAX + 1];
	size_t i, u = 0, fu = 0, best = 0;
	int64_t since = 0;
	int distinct = 0;

	snprintf(own, sizeof(own), "%s", v[0].own);
	/* the environment kept: its own, else the one most of it is in */
	if (own[0]) {
		snprintf(keep, sizeof(keep), "%s", own);
	} else {
		for (i = 0; i < n;) {
			size_t k = i;

			while (k < n && strcmp(v[k].env, v[i].env) == 0)
				k++;
			if (k - i > best) {
				best = k - i;
				snprintf(keep, sizeof(keep), "%s", v[i].env);
			}
			i = k;
		}
	}
	for (i = 0; i < n; i++)
		if (strcmp(v[i].env, keep) != 0 && (i == 0 || strcmp(v[i].env, v[i - 1].env) != 0))
			distinct++;
	if (distinct == 0)
		return;
	ev[0] = fix[0] = '\0';
	if (own[0])
		u += (size_t)snprintf(ev, sizeof(ev), "labelled env=%s; ", own);
	for (i = 0; i < n && u < sizeof(ev); i++)
		u += (size_t)snprintf(ev + u, sizeof(ev) - u, "%s%s (env=%s)%s%s", i ? ", " : "",
				      v[i].resource, v[i].env, v[i].via[0] ? " through " : "",
				      v[i].via);
	for (i = 0; i < n && fu < sizeof(fix); i++) {
		if (strcmp(v[i].env, keep) == 0)
			continue;
		if (v[i].since > since)
			since = v[i].since;
		if (v[i].via[0])
			fu += (size_t)snprintf(fix + fu, sizeof(fix) - fu, "%snhictl delegate remove "
					       "%s %s", fu ? "; " : "", v[i].subject, v[i].via);
		else
			fu += (size_t)snprintf(fix + fu, sizeof(fix) - fu, "%snhictl grant remove %s "
					       "%s%s%s", fu ? "; " : "", v[i].subject, v[i].resource,
					       v[i].cred[0] ? " --cred " : "", v[i].cred);
	}
	finding_add(x, a->f, "NHI8-CROSS-ENV", v[0].subject, since, fix,
		    "reaches %d environment%s: %s", distinct + 1, distinct ? "s" : "", ev);
}

int audit_env(struct nhictl *x, struct audit_ctx *a)
{
	struct reach_set s = { 0 };
	size_t i, k;
	int r;

	/* the subject's own grants */
	r = collect(x, reg_prep(x, "SELECT " GRANT_COLS ", r.labels, i.name, i.labels, '', 0 "
				"FROM " GRANT_FROM " WHERE i.state != 'retired' AND r.labels != ''",
				""), &s);
	/* one hop: the grants of the identities it delegates to */
	if (r == 0)
		r = collect(x, reg_prep(x, "SELECT " GRANT_COLS ", r.labels, f.name, f.labels, "
					"i.name, d.created FROM " GRANT_FROM " JOIN delegation d ON "
					"d.to_id = a.identity_id JOIN identity f ON f.id = d.from_id "
					"WHERE r.labels != '' AND "
					"(d.expires = 0 OR d.expires > ?) AND (f.expires = 0 OR "
					"f.expires > ?) AND f.state = 'active'", "ii",
					(int64_t)x->now, (int64_t)x->now), &s);
	if (r == 0 && s.n > 0) {
		qsort(s.v, s.n, sizeof(s.v[0]), by_subject);
		for (i = 0; i < s.n; i = k) {
			for (k = i; k < s.n && strcmp(s.v[k].subject, s.v[i].subject) == 0; k++)
				;
			judge(x, a, s.v + i, k - i);
		}
	}
	free(s.v);
	return r;
}

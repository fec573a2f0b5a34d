/* chain.c - delegation chains over the registry (chain.h): the graph is
 * loaded with one query per table, then walked in memory depth first. */
#include <stdlib.h>
#include <string.h>
#include "access.h"
#include "chain.h"

static char *dup_col(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return strdup(s ? (const char *)s : "");
}

static int grow(void **p, int *cap, int n, size_t size)
{
	void *q;
	int c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 64;
	q = realloc(*p, (size_t)c * size);
	if (q == NULL)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

/* Index of the row with database id 'id' in an array sorted by id (the
 * queries order by id; id is each struct's first member), or -1. */
static int find_id(const void *base, int n, size_t size, int64_t id)
{
	int lo = 0, hi = n - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int64_t v = *(const int64_t *)(const void *)((const char *)base + (size_t)mid * size);

		if (v == id)
			return mid;
		if (v < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static int find_ident_id(const struct chain_graph *g, int64_t id)
{
	return find_id(g->ident, g->n_ident, sizeof(*g->ident), id);
}

static int find_res_id(const struct chain_graph *g, int64_t id)
{
	return find_id(g->res, g->n_res, sizeof(*g->res), id);
}

static int find_cred_id(const struct chain_graph *g, int64_t id)
{
	return find_id(g->cred, g->n_cred, sizeof(*g->cred), id);
}

static int oom(struct nhictl *x)
{
	nerr(x, 1, "out of memory");
	return NHI_ERR_NOMEM;
}

static int load_idents(struct nhictl *x, struct chain_graph *g)
{
	sqlite3_stmt *st;
	int cap = 0, r;

	st = reg_prep(x, "SELECT id, name, kind, state, owner, expires FROM identity ORDER BY id", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct ch_ident *i;

		if (grow((void **)&g->ident, &cap, g->n_ident, sizeof(*g->ident)) < 0)
			break;
		i = &g->ident[g->n_ident++];
		memset(i, 0, sizeof(*i));
		i->id = sqlite3_column_int64(st, 0);
		i->name = dup_col(st, 1);
		col_cpy(i->kind, sizeof(i->kind), st, 2);
		col_cpy(i->state, sizeof(i->state), st, 3);
		i->owner = dup_col(st, 4);
		i->expires = sqlite3_column_int64(st, 5);
		if (i->name == NULL || i->owner == NULL)
			break;
	}
	sqlite3_finalize(st);
	if (r == SQLITE_ROW)
		return oom(x);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

static int load_resources(struct nhictl *x, struct chain_graph *g)
{
	sqlite3_stmt *st;
	int cap = 0, r;

	st = reg_prep(x, "SELECT id, name, kind, uri, owner, data_class, external, orphaned_since"
		      " FROM resource ORDER BY id", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct ch_resource *s;

		if (grow((void **)&g->res, &cap, g->n_res, sizeof(*g->res)) < 0)
			break;
		s = &g->res[g->n_res++];
		memset(s, 0, sizeof(*s));
		s->id = sqlite3_column_int64(st, 0);
		s->name = dup_col(st, 1);
		s->kind = dup_col(st, 2);
		s->uri = dup_col(st, 3);
		s->owner = dup_col(st, 4);
		col_cpy(s->data_class, sizeof(s->data_class), st, 5);
		s->external = sqlite3_column_int(st, 6) != 0;
		s->orphaned = sqlite3_column_int64(st, 7) != 0;
		if (!s->name || !s->kind || !s->uri || !s->owner)
			break;
	}
	sqlite3_finalize(st);
	if (r == SQLITE_ROW)
		return oom(x);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

static int load_creds(struct nhictl *x, struct chain_graph *g, int all)
{
	sqlite3_stmt *st;
	int cap = 0, r;

	/* a graph shows every credential but the revoked ones no grant
	 * names; a walk needs only those of grants */
	st = reg_prep(x, all ?
		      "SELECT id, identity_id, cred_id, kind, state, not_after, grace_until"
		      " FROM credential c WHERE state <> 'revoked' OR EXISTS"
		      " (SELECT 1 FROM access a WHERE a.credential_id = c.id) ORDER BY id" :
		      "SELECT id, identity_id, cred_id, kind, state, not_after, grace_until"
		      " FROM credential WHERE id IN (SELECT credential_id FROM access"
		      " WHERE credential_id IS NOT NULL) ORDER BY id", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct ch_cred *c;

		if (grow((void **)&g->cred, &cap, g->n_cred, sizeof(*g->cred)) < 0)
			break;
		c = &g->cred[g->n_cred++];
		memset(c, 0, sizeof(*c));
		c->id = sqlite3_column_int64(st, 0);
		c->ident = find_ident_id(g, sqlite3_column_int64(st, 1));
		col_cpy(c->cred_id, sizeof(c->cred_id), st, 2);
		col_cpy(c->kind, sizeof(c->kind), st, 3);
		col_cpy(c->state, sizeof(c->state), st, 4);
		c->not_after = sqlite3_column_int64(st, 5);
		c->grace_until = sqlite3_column_int64(st, 6);
	}
	sqlite3_finalize(st);
	if (r == SQLITE_ROW)
		return oom(x);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

/* The order of the walks: delegations by from, then to (each identity's
 * contiguous); grants by identity, resource, then credential (the
 * identity's own first).  Indices follow the database ids (the arrays are
 * loaded by id), so this is ORDER BY from_id, to_id and the order of
 * index access_one.  Sorted here: SQLite reading each table in its own
 * order, with no index lookup a row, and the delegations' text left out
 * for the walks, load the example fleet's graph (1,000 grants, 1,000
 * delegations) in 7.1 million instructions instead of 8.8. */
static int del_cmp(const void *a, const void *b)
{
	const struct ch_del *p = a, *q = b;

	if (p->from != q->from)
		return p->from < q->from ? -1 : 1;
	return p->to < q->to ? -1 : p->to > q->to;
}

static int grant_cmp(const void *a, const void *b)
{
	const struct ch_grant *p = a, *q = b;

	if (p->ident != q->ident)
		return p->ident < q->ident ? -1 : 1;
	if (p->resource != q->resource)
		return p->resource < q->resource ? -1 : 1;
	return p->cred < q->cred ? -1 : p->cred > q->cred;
}

static int load_dels(struct nhictl *x, struct chain_graph *g, int text)
{
	sqlite3_stmt *st;
	int cap = 0, r;

	/* scopes and reason only for a graph (text): the walks need neither */
	st = reg_prep(x, text ? "SELECT id, from_id, to_id, actions, expires, scopes, reason "
		      "FROM delegation" : "SELECT id, from_id, to_id, actions, expires, '', '' "
		      "FROM delegation", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct ch_del *d;
		int from = find_ident_id(g, sqlite3_column_int64(st, 1));
		int to = find_ident_id(g, sqlite3_column_int64(st, 2));

		if (from < 0 || to < 0 || from == to)
			continue;
		if (grow((void **)&g->del, &cap, g->n_del, sizeof(*g->del)) < 0)
			break;
		d = &g->del[g->n_del++];
		d->id = sqlite3_column_int64(st, 0);
		d->from = from;
		d->to = to;
		d->actions = (unsigned)sqlite3_column_int(st, 3) & NHI_ACT_ALL;
		d->expires = sqlite3_column_int64(st, 4);
		d->scopes = dup_col(st, 5);
		d->reason = dup_col(st, 6);
		if (!d->scopes || !d->reason)
			break;
	}
	sqlite3_finalize(st);
	if (r == SQLITE_ROW)
		return oom(x);
	if (r != SQLITE_DONE)
		return reg_dberr(x);
	if (g->n_del > 1)	/* g->del is NULL when there is none */
		qsort(g->del, (size_t)g->n_del, sizeof(*g->del), del_cmp);
	return 0;
}

static int load_grants(struct nhictl *x, struct chain_graph *g)
{
	sqlite3_stmt *st;
	int cap = 0, r;

	st = reg_prep(x, "SELECT a.id, a.identity_id, a.resource_id, a.credential_id, a.actions,"
		      " a.expires, a.scopes FROM access a", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct ch_grant *a;
		int who = find_ident_id(g, sqlite3_column_int64(st, 1));
		int res = find_res_id(g, sqlite3_column_int64(st, 2));
		int cred = -1;

		if (sqlite3_column_type(st, 3) != SQLITE_NULL &&
		    (cred = find_cred_id(g, sqlite3_column_int64(st, 3))) < 0)
			continue;
		if (who < 0 || res < 0)
			continue;
		if (grow((void **)&g->grant, &cap, g->n_grant, sizeof(*g->grant)) < 0)
			break;
		a = &g->grant[g->n_grant++];
		a->id = sqlite3_column_int64(st, 0);
		a->ident = who;
		a->resource = res;
		a->cred = cred;
		a->actions = (unsigned)sqlite3_column_int(st, 4) & NHI_ACT_ALL;
		a->expires = sqlite3_column_int64(st, 5);
		a->scopes = dup_col(st, 6);
		if (!a->scopes)
			break;
	}
	sqlite3_finalize(st);
	if (r == SQLITE_ROW)
		return oom(x);
	if (r != SQLITE_DONE)
		return reg_dberr(x);
	if (g->n_grant > 1)
		qsort(g->grant, (size_t)g->n_grant, sizeof(*g->grant), grant_cmp);
	return 0;
}

/* The reverse indexes: delegations by target, grants by resource
 * (counting sort: stable, so each keeps the load's order). */
static int index_graph(struct nhictl *x, struct chain_graph *g)
{
	int i, *pos;

	g->del_in = malloc(sizeof(int) * (size_t)(g->n_del + 1));
	g->grant_in = malloc(sizeof(int) * (size_t)(g->n_grant + 1));
	pos = calloc((size_t)(g->n_ident > g->n_res ? g->n_ident : g->n_res) + 1, sizeof(int));
	if (!g->del_in || !g->grant_in || !pos) {
		free(pos);
		return oom(x);
	}
	for (i = 0; i < g->n_del; i++) {
		struct ch_del *d = &g->del[i];

		if (g->ident[d->from].n_out++ == 0)
			g->ident[d->from].out = i;
		g->ident[d->to].n_in++;
	}
	for (i = 0; i < g->n_ident; i++) {
		g->ident[i].in = i ? g->ident[i - 1].in + g->ident[i - 1].n_in : 0;
		pos[i] = g->ident[i].in;
	}
	for (i = 0; i < g->n_del; i++)
		g->del_in[pos[g->del[i].to]++] = i;
	for (i = 0; i < g->n_grant; i++) {
		struct ch_grant *a = &g->grant[i];

		if (g->ident[a->ident].n_grants++ == 0)
			g->ident[a->ident].grants = i;
		g->res[a->resource].n_grants++;
	}
	for (i = 0; i < g->n_res; i++) {
		g->res[i].grants = i ? g->res[i - 1].grants + g->res[i - 1].n_grants : 0;
		pos[i] = g->res[i].grants;
	}
	for (i = 0; i < g->n_grant; i++)
		g->grant_in[pos[g->grant[i].resource]++] = i;
	/* credentials come by id; an identity's are found by a scan (graph) */
	free(pos);
	return 0;
}

int chain_load(struct nhictl *x, struct chain_graph *g, int flags)
{
	int r;

	memset(g, 0, sizeof(*g));
	g->now = x->now;
	if ((r = load_idents(x, g)) < 0 || (r = load_resources(x, g)) < 0 ||
	    (r = load_creds(x, g, flags & CHAIN_ALL_CREDS)) < 0 ||
	    (r = load_dels(x, g, flags & CHAIN_DEL_TEXT)) < 0 || (r = load_grants(x, g)) < 0 ||
	    (r = index_graph(x, g)) < 0) {
		chain_free(g);
		return r;
	}
	return 0;
}

void chain_free(struct chain_graph *g)
{
	int i;

	for (i = 0; i < g->n_ident; i++) {
		free(g->ident[i].name);
		free(g->ident[i].owner);
	}
	for (i = 0; i < g->n_res; i++) {
		free(g->res[i].name);
		free(g->res[i].kind);
		free(g->res[i].uri);
		free(g->res[i].owner);
	}
	for (i = 0; i < g->n_del; i++) {
		free(g->del[i].scopes);
		free(g->del[i].reason);
	}
	for (i = 0; i < g->n_grant; i++)
		free(g->grant[i].scopes);
	for (i = 0; i < g->n_cycles; i++)
		free(g->cycles[i]);
	free(g->cycles);
	free(g->ident);
	free(g->res);
	free(g->cred);
	free(g->del);
	free(g->grant);
	free(g->del_in);
	free(g->grant_in);
	memset(g, 0, sizeof(*g));
}

int chain_ident(const struct chain_graph *g, const char *name)
{
	int i;

	for (i = 0; i < g->n_ident; i++)
		if (strcmp(g->ident[i].name, name) == 0)
			return i;
	return -1;
}

int chain_resource(const struct chain_graph *g, const char *name)
{
	int i;

	for (i = 0; i < g->n_res; i++)
		if (strcmp(g->res[i].name, name) == 0)
			return i;
	return -1;
}

/* ---- what cuts a path ------------------------------------------------ */

static int expired(int64_t t, time_t now) { return t != 0 && t <= (int64_t)now; }

const char *chain_ident_cut(const struct chain_graph *g, int i)
{
	const struct ch_ident *d = &g->ident[i];

	if (strcmp(d->state, "active") != 0)
		return d->state;   /* suspended, orphaned, retired */
	return expired(d->expires, g->now) ? "expired" : "";
}

const char *chain_del_cut(const struct chain_graph *g, int d)
{
	return expired(g->del[d].expires, g->now) ? "expired" : "";
}

const char *chain_grant_cut(const struct chain_graph *g, int gr)
{
	return expired(g->grant[gr].expires, g->now) ? "expired" : "";
}

const char *chain_cred_cut(const struct chain_graph *g, int c)
{
	const struct ch_cred *k = &g->cred[c];

	if (strcmp(k->state, "revoked") == 0)
		return "revoked";
	if (strcmp(k->state, "grace") == 0 && expired(k->grace_until, g->now))
		return "grace ended";
	return expired(k->not_after, g->now) ? "expired" : "";
}

void chain_cut(const struct chain_graph *g, const struct chain_path *p, struct chain_cut *c)
{
	const struct ch_grant *a = &g->grant[p->grant];
	int i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < p->n; i++) {
		if (*(c->why = chain_ident_cut(g, p->id[i]))) {
			c->kind = CUT_IDENT, c->at = p->id[i];
			return;
		}
		if (i + 1 < p->n && *(c->why = chain_del_cut(g, p->del[i]))) {
			c->kind = CUT_DEL, c->at = p->del[i];
			return;
		}
	}
	if (a->cred >= 0 && *(c->why = chain_cred_cut(g, a->cred))) {
		c->kind = CUT_CRED, c->at = a->cred;
		return;
	}
	if (*(c->why = chain_grant_cut(g, p->grant))) {
		c->kind = CUT_GRANT, c->at = p->grant;
		return;
	}
	c->why = "";
}

static int64_t earliest(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

/* ---- the walks ----------------------------------------------------------- */

struct walk {
	struct chain_graph *g;
	chain_path_fn fn;
	chain_cycle_fn cyc;
	void *arg;
	struct chain_path p;     /* identities on the path so far */
	unsigned limit;          /* & of the delegations' limits so far */
	int64_t expires;         /* earliest of them (and the identities) */
	int reverse;             /* chain_who: the path grows at its start */
	int stop;
};

/* A cycle closed by delegation 'd' back to identity 'to', which is on
 * the path: report it unless reported already (as a set of delegations). */
static void cycle(struct walk *w, const int *ids, const int *dels, int n)
{
	struct chain_graph *g = w->g;
	int *key, i, j;

	if (w->cyc == NULL || n < 1)
		return;
	key = malloc(sizeof(int) * (size_t)(n + 1));
	if (key == NULL)
		return;
	key[0] = n;
	for (i = 0; i < n; i++)
		key[i + 1] = dels[i];
	/* insertion sort: cycles are short */
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && key[j - 1] > key[j]; j--) {
			int t = key[j];
			key[j] = key[j - 1];
			key[j - 1] = t;
		}
	for (i = 0; i < g->n_cycles; i++)
		if (g->cycles[i][0] == n && memcmp(g->cycles[i], key, sizeof(int) * (size_t)(n + 1)) == 0) {
			free(key);
			return;
		}
	if (grow((void **)&g->cycles, &g->cap_cycles, g->n_cycles, sizeof(*g->cycles)) < 0) {
		free(key);
		return;
	}
	g->cycles[g->n_cycles++] = key;
	w->cyc(g, ids, n, w->arg);
}

static void emit(struct walk *w, int grant)
{
	struct chain_graph *g = w->g;
	struct ch_grant *a = &g->grant[grant];
	struct chain_path *p = &w->p;

	p->actions = a->actions & w->limit;
	if (p->actions == 0)
		return;   /* the limits leave nothing of this grant */
	if (g->paths >= CHAIN_MAX_PATHS) {
		g->truncated = 1;
		w->stop = 1;
		return;
	}
	p->grant = grant;
	p->expires = earliest(w->expires, a->expires);
	if (a->cred >= 0) {
		const struct ch_cred *c = &g->cred[a->cred];

		p->expires = earliest(p->expires, c->not_after);
		if (strcmp(c->state, "grace") == 0)
			p->expires = earliest(p->expires, c->grace_until);
	}
	g->paths++;
	if (w->fn(g, p, w->arg) != 0)
		w->stop = 1;
}

/* Forward: the path is p.id[0 .. n); extend it from its last identity. */
static void walk_out(struct walk *w)
{
	struct chain_graph *g = w->g;
	struct chain_path *p = &w->p;
	int u = p->id[p->n - 1], k;
	struct ch_ident *I = &g->ident[u];

	for (k = 0; k < I->n_grants && !w->stop; k++)
		emit(w, I->grants + k);
	if (p->n >= CHAIN_MAX_DEPTH)
		return;
	for (k = 0; k < I->n_out && !w->stop; k++) {
		int d = I->out + k, v = g->del[d].to, j;
		unsigned limit = w->limit;
		int64_t exp = w->expires;

		p->del[p->n - 1] = d;
		if (g->ident[v].on_path) {
			for (j = 0; p->id[j] != v; j++)
				;
			cycle(w, p->id + j, p->del + j, p->n - j);
			continue;
		}
		if ((w->limit &= g->del[d].actions) == 0) {
			w->limit = limit;
			continue;
		}
		w->expires = earliest(earliest(exp, g->del[d].expires), g->ident[v].expires);
		g->ident[v].on_path = 1;
		p->id[p->n++] = v;
		walk_out(w);
		p->n--;
		g->ident[v].on_path = 0;
		w->limit = limit;
		w->expires = exp;
	}
}

int chain_reach(struct chain_graph *g, int actor, chain_path_fn fn, chain_cycle_fn cyc, void *arg)
{
	struct walk w;

	memset(&w, 0, sizeof(w));
	w.g = g, w.fn = fn, w.cyc = cyc, w.arg = arg;
	w.limit = NHI_ACT_ALL;
	w.expires = g->ident[actor].expires;
	w.p.n = 1;
	w.p.id[0] = actor;
	g->paths = 0;
	g->ident[actor].on_path = 1;
	walk_out(&w);
	g->ident[actor].on_path = 0;
	return 0;
}

/* Backward: the path is p.id[CHAIN_MAX_DEPTH - n .. CHAIN_MAX_DEPTH), built
 * from its grantee towards the actor in a scratch copy; each prefix is a
 * path of its own (its first identity the actor). */
struct rwalk {
	struct walk w;
	int id[CHAIN_MAX_DEPTH], del[CHAIN_MAX_DEPTH];
	int n;                   /* identities at the end of id[] */
};

static void rwalk_emit(struct rwalk *r, int grant)
{
	struct chain_path *p = &r->w.p;
	int s = CHAIN_MAX_DEPTH - r->n;

	p->n = r->n;
	memcpy(p->id, r->id + s, sizeof(int) * (size_t)r->n);
	memcpy(p->del, r->del + s, sizeof(int) * (size_t)r->n);
	emit(&r->w, grant);
}

static void walk_in(struct rwalk *r, int grant)
{
	struct walk *w = &r->w;
	struct chain_graph *g = w->g;
	int u = r->id[CHAIN_MAX_DEPTH - r->n], k;
	struct ch_ident *I = &g->ident[u];

	rwalk_emit(r, grant);
	if (r->n >= CHAIN_MAX_DEPTH)
		return;
	for (k = 0; k < I->n_in && !w->stop; k++) {
		int d = g->del_in[I->in + k], v = g->del[d].from, s;
		unsigned limit = w->limit;
		int64_t exp = w->expires;

		if (g->ident[v].on_path) {
			/* v -> u -> .. -> v: the identities from u to v, then d */
			int ids[CHAIN_MAX_DEPTH], dels[CHAIN_MAX_DEPTH], m = 0, j;

			s = CHAIN_MAX_DEPTH - r->n;
			ids[m] = v, dels[m++] = d;
			for (j = s; r->id[j] != v; j++)
				ids[m] = r->id[j], dels[m++] = r->del[j];
			cycle(w, ids, dels, m);
			continue;
		}
		if (((w->limit &= g->del[d].actions) & g->grant[grant].actions) == 0) {
			w->limit = limit;
			continue;
		}
		w->expires = earliest(earliest(exp, g->del[d].expires), g->ident[v].expires);
		g->ident[v].on_path = 1;
		r->n++;
		s = CHAIN_MAX_DEPTH - r->n;
		r->id[s] = v;
		r->del[s] = d;
		walk_in(r, grant);
		r->n--;
		g->ident[v].on_path = 0;
		w->limit = limit;
		w->expires = exp;
	}
}

int chain_who(struct chain_graph *g, int res, chain_path_fn fn, chain_cycle_fn cyc, void *arg)
{
	struct rwalk r;
	int k;

	memset(&r, 0, sizeof(r));
	r.w.g = g, r.w.fn = fn, r.w.cyc = cyc, r.w.arg = arg;
	g->paths = 0;
	for (k = 0; k < g->res[res].n_grants && !r.w.stop; k++) {
		int gr = g->grant_in[g->res[res].grants + k], t = g->grant[gr].ident;

		r.w.limit = NHI_ACT_ALL;
		r.w.expires = g->ident[t].expires;
		r.n = 1;
		r.id[CHAIN_MAX_DEPTH - 1] = t;
		g->ident[t].on_path = 1;
		walk_in(&r, gr);
		g->ident[t].on_path = 0;
	}
	return 0;
}

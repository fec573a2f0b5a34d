/* cmd_chain.c - reach, who-can and chain: the delegation chains of
 * registry/chain.c, read from registry.db, written for a sysadmin or as
 * JSON (graph: cmd_graph.c). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "chain.h"

#define ARROW " \xe2\x86\x92 "   /* " → " */

struct cycles {
	char **text;             /* "a → b → a" */
	int n;
};

/* The paths of one walk, kept to be sorted and printed, and its cycles. */
struct paths {
	struct chain_path *p;
	int n, cap, live;
	int failed;              /* out of memory: the walk stopped */
	struct nhictl *x;
	unsigned want;           /* who-can --action: every bit of it */
	struct cycles cy;
};

static int keep_path(const struct chain_graph *g, const struct chain_path *p, void *arg)
{
	struct paths *ps = arg;
	struct chain_cut c;

	if ((p->actions & ps->want) != ps->want)
		return 0;
	if (ps->n == ps->cap) {
		int cap = ps->cap ? ps->cap * 2 : 64;
		struct chain_path *q = realloc(ps->p, sizeof(*q) * (size_t)cap);

		if (q == NULL)
			return ps->failed = nerr(ps->x, 1, "out of memory");
		ps->p = q, ps->cap = cap;
	}
	ps->p[ps->n++] = *p;
	chain_cut(g, p, &c);
	ps->live += c.kind == CUT_NONE;
	return 0;
}

static void keep_cycle(const struct chain_graph *g, const int *id, int n, void *arg)
{
	struct cycles *cy = &((struct paths *)arg)->cy;
	size_t len = 1;
	char *s, **t;
	int i;

	for (i = 0; i < n; i++)
		len += strlen(g->ident[id[i]].name) + sizeof(ARROW);
	len += strlen(g->ident[id[0]].name);
	if ((s = malloc(len)) == NULL || (t = realloc(cy->text, sizeof(*t) * (size_t)(cy->n + 1))) == NULL) {
		free(s);
		return;
	}
	s[0] = 0;
	for (i = 0; i < n; i++) {
		strcat(s, g->ident[id[i]].name);
		strcat(s, ARROW);
	}
	strcat(s, g->ident[id[0]].name);
	cy->text = t;
	cy->text[cy->n++] = s;
}

static void cycles_free(struct cycles *cy)
{
	int i;

	for (i = 0; i < cy->n; i++)
		free(cy->text[i]);
	free(cy->text);
}

/* A path's place in the order: by resource, then actor (each by name),
 * live before cut, shorter first, then by the identities on it; paths
 * alike in all that keep the walk's order (idx). */
struct order {
	int res, actor;          /* ranks of the names */
	int cut, n, idx;
};

static const struct chain_graph *sort_g;
static const struct chain_path *sort_p;

static int ident_name_cmp(const void *a, const void *b)
{
	return strcmp(sort_g->ident[*(const int *)a].name, sort_g->ident[*(const int *)b].name);
}

static int res_name_cmp(const void *a, const void *b)
{
	return strcmp(sort_g->res[*(const int *)a].name, sort_g->res[*(const int *)b].name);
}

static int order_cmp(const void *a, const void *b)
{
	const struct order *p = a, *q = b;
	int r;

	if (p->res != q->res)
		return p->res < q->res ? -1 : 1;
	if (p->actor != q->actor)
		return p->actor < q->actor ? -1 : 1;
	if (p->cut != q->cut)
		return p->cut ? 1 : -1;
	if (p->n != q->n)
		return p->n - q->n;
	r = memcmp(sort_p[p->idx].id, sort_p[q->idx].id, sizeof(int) * (size_t)p->n);
	return r != 0 ? r : p->idx - q->idx;
}

/* rank[i]: the place of element i's name among the n names (names are
 * unique, so comparing ranks is comparing the names, once each). */
static void name_ranks(int *rank, int *by, int n, int (*cmp)(const void *, const void *))
{
	int i;

	for (i = 0; i < n; i++)
		by[i] = i;
	qsort(by, (size_t)n, sizeof(*by), cmp);
	for (i = 0; i < n; i++)
		rank[by[i]] = i;
}

/* After a walk: sorted, and a note on stderr when it stopped early.  The
 * names are ranked once and chain_cut runs once a path, not in each of
 * qsort's comparisons.  0, or NHI_ERR_NOMEM (printed). */
static int sort_paths(struct nhictl *x, const struct chain_graph *g, struct paths *ps)
{
	int n_names = g->n_ident + g->n_res, i, r = 0;
	int *rank = malloc(sizeof(int) * (size_t)(2 * n_names + 1));
	struct order *o = malloc(sizeof(*o) * (size_t)(ps->n + 1));
	struct chain_path *sorted = malloc(sizeof(*sorted) * (size_t)(ps->n + 1));

	if (g->truncated)
		fprintf(stderr, "nhictl: %s: more than %d paths; the first %d are shown\n",
			x->verb, CHAIN_MAX_PATHS, CHAIN_MAX_PATHS);
	if (rank == NULL || o == NULL || sorted == NULL) {
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
		goto out;
	}
	sort_g = g;
	sort_p = ps->p;
	name_ranks(rank, rank + n_names, g->n_ident, ident_name_cmp);
	name_ranks(rank + g->n_ident, rank + n_names, g->n_res, res_name_cmp);
	for (i = 0; i < ps->n; i++) {
		const struct chain_path *p = &ps->p[i];
		struct chain_cut c;

		chain_cut(g, p, &c);
		o[i] = (struct order){ .res = rank[g->n_ident + g->grant[p->grant].resource],
				       .actor = rank[p->id[0]], .cut = c.kind != CUT_NONE,
				       .n = p->n, .idx = i };
	}
	qsort(o, (size_t)ps->n, sizeof(*o), order_cmp);
	for (i = 0; i < ps->n; i++)
		sorted[i] = ps->p[o[i].idx];
	free(ps->p);
	ps->p = sorted;
	sorted = NULL;
out:
	free(rank);
	free(o);
	free(sorted);
	return r;
}

/* "a → b → t[cred] → resource" */
static void path_text(const struct chain_graph *g, const struct chain_path *p, FILE *f)
{
	const struct ch_grant *a = &g->grant[p->grant];
	int i;

	for (i = 0; i < p->n; i++) {
		fputs(g->ident[p->id[i]].name, f);
		if (i == p->n - 1 && a->cred >= 0)
			fprintf(f, "[%s]", g->cred[a->cred].cred_id);
		fputs(ARROW, f);
	}
	fputs(g->res[a->resource].name, f);
}

/* "cut at tool-x: suspended" */
static void cut_text(const struct chain_graph *g, const struct chain_cut *c, FILE *f)
{
	switch (c->kind) {
	case CUT_IDENT:
		fprintf(f, "at %s: %s", g->ident[c->at].name, c->why);
		break;
	case CUT_DEL:
		fprintf(f, "at delegation %s" ARROW "%s: %s", g->ident[g->del[c->at].from].name,
			g->ident[g->del[c->at].to].name, c->why);
		break;
	case CUT_GRANT:
		fprintf(f, "at grant %s" ARROW "%s: %s", g->ident[g->grant[c->at].ident].name,
			g->res[g->grant[c->at].resource].name, c->why);
		break;
	case CUT_CRED:
		fprintf(f, "at credential %s of %s: %s", g->cred[c->at].cred_id,
			g->ident[g->cred[c->at].ident].name, c->why);
		break;
	}
}

static void json_actions(struct json *j, const char *k, unsigned a)
{
	char buf[32];

	json_klist(j, k, access_actions_format(a, buf, sizeof(buf)));
}

static void cut_json(const struct chain_graph *g, const struct chain_cut *c, struct json *j)
{
	static const char *const what[] = { "", "identity", "delegation", "grant", "credential" };
	char at[160];

	json_key(j, "cut");
	if (c->kind == CUT_NONE) {
		json_null(j);
		return;
	}
	json_obj(j);
	json_kstr(j, "type", what[c->kind]);
	switch (c->kind) {
	case CUT_IDENT: snprintf(at, sizeof(at), "%s", g->ident[c->at].name); break;
	case CUT_DEL:
		snprintf(at, sizeof(at), "%s" ARROW "%s", g->ident[g->del[c->at].from].name,
			 g->ident[g->del[c->at].to].name);
		break;
	case CUT_GRANT:
		snprintf(at, sizeof(at), "%s" ARROW "%s", g->ident[g->grant[c->at].ident].name,
			 g->res[g->grant[c->at].resource].name);
		break;
	default: snprintf(at, sizeof(at), "%s", g->cred[c->at].cred_id); break;
	}
	json_kstr(j, "at", at);
	json_kstr(j, "why", c->why);
	json_obj_end(j);
}

/* One path as an object: the resource, effective actions, expiry, live
 * or cut, and each hop (identities, delegations, the grant and its
 * credential). */
static void path_json(const struct chain_graph *g, const struct chain_path *p, struct json *j)
{
	const struct ch_grant *a = &g->grant[p->grant];
	const struct ch_resource *r = &g->res[a->resource];
	struct chain_cut c;
	int i;

	chain_cut(g, p, &c);
	json_obj(j);
	json_kstr(j, "identity", g->ident[p->id[0]].name);
	json_kstr(j, "owner", g->ident[p->id[0]].owner);
	json_kstr(j, "resource", r->name);
	json_kstr(j, "data_class", r->data_class);
	json_kbool(j, "external", r->external);
	json_actions(j, "actions", p->actions);
	json_ktime(j, "expires", p->expires);
	json_kbool(j, "live", c.kind == CUT_NONE);
	cut_json(g, &c, j);
	json_key(j, "path");
	json_arr(j);
	for (i = 0; i < p->n; i++) {
		const struct ch_ident *d = &g->ident[p->id[i]];

		json_obj(j);
		json_kstr(j, "identity", d->name);
		json_kstr(j, "kind", d->kind);
		json_kstr(j, "state", d->state);
		if (i > 0) {
			const struct ch_del *e = &g->del[p->del[i - 1]];

			json_key(j, "delegation");
			json_obj(j);
			json_actions(j, "actions", e->actions);
			json_ktime(j, "expires", e->expires);
			json_obj_end(j);
		}
		json_obj_end(j);
	}
	json_obj(j);
	json_kstr(j, "resource", r->name);
	json_key(j, "grant");
	json_obj(j);
	json_actions(j, "actions", a->actions);
	json_klist(j, "scopes", a->scopes);
	json_ktime(j, "expires", a->expires);
	json_kstr(j, "credential", a->cred >= 0 ? g->cred[a->cred].cred_id : NULL);
	json_obj_end(j);
	json_obj_end(j);
	json_arr_end(j);
	json_obj_end(j);
}

static void cycles_json(const struct cycles *cy, struct json *j)
{
	int i;

	json_key(j, "cycles");
	json_arr(j);
	for (i = 0; i < cy->n; i++)
		json_str(j, cy->text[i]);
	json_arr_end(j);
}

static void cycles_text(FILE *out, const struct cycles *cy)
{
	int i;

	for (i = 0; i < cy->n; i++)
		fprintf(out, "cycle (not followed twice): %s\n", cy->text[i]);
}

/* nhi_format_time of the many expiries of one walk, which fall on few
 * days: the date of the last day kept, the time of day written by hand
 * (the same text; 1.4 million instructions of strftime in one `reach` of
 * 932 paths).  "never" for 0. */
struct day_text {
	int64_t day;
	size_t n;                  /* of date: "YYYY-MM-DDT"; 0: none yet */
	char date[NHI_TIME_BUFSZ];
};

static const char *expiry_text(struct day_text *d, int64_t t, char buf[NHI_TIME_BUFSZ])
{
	const char *tp;
	int64_t s = t % 86400;

	if (t == 0)
		return "never";
	if (t < 0)
		return nhi_format_time((time_t)t, buf);
	if (d->n == 0 || d->day != t / 86400) {
		d->day = t / 86400;
		d->n = 0;
		nhi_format_time((time_t)(d->day * 86400), d->date);
		if ((tp = strchr(d->date, 'T')) == NULL || (size_t)(tp - d->date) + 11 > NHI_TIME_BUFSZ)
			return nhi_format_time((time_t)t, buf);
		d->n = (size_t)(tp - d->date) + 1;
	}
	memcpy(buf, d->date, d->n);
	buf[d->n] = (char)('0' + s / 36000);
	buf[d->n + 1] = (char)('0' + s / 3600 % 10);
	buf[d->n + 2] = ':';
	buf[d->n + 3] = (char)('0' + s / 600 % 6);
	buf[d->n + 4] = (char)('0' + s / 60 % 10);
	buf[d->n + 5] = ':';
	buf[d->n + 6] = (char)('0' + s % 60 / 10);
	buf[d->n + 7] = (char)('0' + s % 10);
	buf[d->n + 8] = 'Z';
	buf[d->n + 9] = '\0';
	return buf;
}

/* The table of paths: one line each. */
static void paths_text(const struct chain_graph *g, const struct paths *ps, int who)
{
	char b[NHI_TIME_BUFSZ], act[32];
	struct day_text day = { 0 };
	int i, w1 = 8, w2 = 5;

	for (i = 0; i < ps->n; i++) {
		const struct chain_path *p = &ps->p[i];
		int l1 = (int)strlen(who ? g->ident[p->id[0]].name : g->res[g->grant[p->grant].resource].name);
		int l2 = (int)strlen(g->ident[p->id[0]].owner);

		w1 = l1 > w1 ? l1 : w1;
		w2 = l2 > w2 ? l2 : w2;
	}
	if (who)
		printf("%-*s %-*s %-21s %-20s %s\n", w1, "IDENTITY", w2, "OWNER", "ACTIONS", "EXPIRES", "PATH");
	else
		printf("%-*s %-21s %-20s %s\n", w1, "RESOURCE", "ACTIONS", "EXPIRES", "PATH");
	for (i = 0; i < ps->n; i++) {
		const struct chain_path *p = &ps->p[i];
		const char *exp = expiry_text(&day, p->expires, b);
		struct chain_cut c;

		chain_cut(g, p, &c);
		access_actions_format(p->actions, act, sizeof(act));
		/* one printf a line */
		if (who)
			printf("%-*s %-*s %-21s %-20s ", w1, g->ident[p->id[0]].name, w2,
			       g->ident[p->id[0]].owner, act, exp);
		else
			printf("%-*s %-21s %-20s ", w1, g->res[g->grant[p->grant].resource].name, act,
			       exp);
		path_text(g, p, stdout);
		if (c.kind != CUT_NONE) {
			fputs("  CUT ", stdout);
			cut_text(g, &c, stdout);
		}
		putchar('\n');
	}
}

static int distinct_resources(const struct chain_graph *g, const struct paths *ps)
{
	int i, n = 0;

	for (i = 0; i < ps->n; i++)   /* sorted by resource */
		n += i == 0 || g->grant[ps->p[i].grant].resource != g->grant[ps->p[i - 1].grant].resource;
	return n;
}

static int distinct_actors(const struct chain_graph *g, const struct paths *ps)
{
	int i, n = 0;
	char *seen = calloc((size_t)g->n_ident + 1, 1);

	if (seen == NULL)
		return ps->n;
	for (i = 0; i < ps->n; i++)
		if (!seen[ps->p[i].id[0]]++)
			n++;
	free(seen);
	return n;
}

/* The end of reach's and who-can's JSON object: counts, cycles, paths. */
static void paths_json_end(const struct chain_graph *g, const struct paths *ps, struct json *j)
{
	int i;

	json_kint(j, "live", ps->live);
	json_kint(j, "cut", ps->n - ps->live);
	json_kbool(j, "truncated", g->truncated);
	cycles_json(&ps->cy, j);
	json_key(j, "paths");
	json_arr(j);
	for (i = 0; i < ps->n; i++)
		path_json(g, &ps->p[i], j);
	json_arr_end(j);
	json_obj_end(j);
	json_end(j);
}

static void paths_free(struct chain_graph *g, struct paths *ps)
{
	free(ps->p);
	cycles_free(&ps->cy);
	chain_free(g);
}

static const char reach_help[] =
	"usage: nhictl reach NAME [--json]\n"
	"\n"
	"The blast radius of an identity: every resource NAME can reach, with its own\n"
	"grants and through delegations, one line per path: the effective actions (the\n"
	"grant's, narrowed by every delegation's limit on the way), the expiry (the\n"
	"earliest of every identity, edge and credential on it), and the path.  A path\n"
	"through a suspended, retired, orphaned or expired identity, or an expired\n"
	"delegation, grant or credential, is CUT: the line says where and why.\n"
	"A delegation cycle is reported once and never followed twice.\n"
	"\n"
	"      --json              an object with every path and its hops\n";

static const char who_help[] =
	"usage: nhictl who-can RESOURCE [--action ACTION] [--json]\n"
	"\n"
	"Every identity that can reach RESOURCE, with its owner, directly or through\n"
	"delegations (one line per path, live and cut told apart as in `reach`).\n"
	"\n"
	"  -a, --action ACTION     only paths that allow ACTION (read, write, exec,\n"
	"                          admin; a comma list: all of them)\n"
	"      --json              an object with every path and its hops\n";

static const char chain_help[] =
	"usage: nhictl chain NAME [--json]\n"
	"\n"
	"For an agent: each end-to-end chain from a data source NAME can read (a\n"
	"resource it reaches with read on a live path) to each action it can take on\n"
	"another system (a live path with write, exec or admin), one line each:\n"
	"\n"
	"  source \xe2\x86\x92 agent \xe2\x86\x92 tool \xe2\x86\x92 system (actions)\n"
	"\n"
	"Cut paths are left out (counted; see `nhictl reach`).\n"
	"\n"
	"      --json              an object with the sources and the chains\n";

/* Parse [--action A] (want != NULL: who-can) [--json] and one name;
 * -1 after --help. */
static int parse(struct nhictl *x, int argc, char **argv, const char *help, const char **name,
		 const char *what, unsigned *want)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "action", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option opts_plain[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, want ? ":a:h" : ":h", want ? opts : opts_plain,
				NULL)) != -1) {
		switch (c) {
		case 'a':
			if (access_actions_parse(optarg, want, NULL) < 0)
				return nerr(x, EXIT_USAGE, "bad --action '%s' (read, write, exec, admin)",
					    optarg);
			break;
		case 'j': x->json = 1; break;
		case 'h': fputs(help, stdout); return -1;
		default: return opt_error(x, c, argv);
		}
	}
	if (want == NULL)
		return one_name(x, argc, argv, name, what);
	/* a resource name: looked up, never written; one line for any */
	if (optind >= argc)
		return nerr(x, EXIT_USAGE, "missing %s (try 'nhictl %s --help')", what, x->verb);
	if (optind + 1 < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind + 1]);
	*name = argv[optind];
	for (c = 0; (*name)[c]; c++)
		if ((unsigned char)(*name)[c] < 0x20 || (*name)[c] == 0x7f)
			return nerr(x, EXIT_USAGE, "invalid %s (a control character)", what);
	return 0;
}

static int load_ident(struct nhictl *x, struct chain_graph *g, int flags, const char *name, int *i)
{
	int r = chain_load(x, g, flags);

	if (r < 0)
		return EXIT_FAIL;
	if ((*i = chain_ident(g, name)) < 0) {
		chain_free(g);
		return nerr(x, EXIT_FAIL, "no identity '%s' in the registry", name);
	}
	return 0;
}

int cmd_reach(struct nhictl *x, int argc, char **argv)
{
	struct chain_graph g;
	struct paths ps = { .x = x };
	const char *name;
	int r, a;

	if ((r = parse(x, argc, argv, reach_help, &name, "identity name", NULL)) != 0)
		return r < 0 ? EXIT_OK : r;
	if ((r = load_ident(x, &g, 0, name, &a)) != 0)
		return r;
	chain_reach(&g, a, keep_path, keep_cycle, &ps);
	if (ps.failed) {
		paths_free(&g, &ps);
		return EXIT_FAIL;
	}
	if (sort_paths(x, &g, &ps) < 0) {
		paths_free(&g, &ps);
		return EXIT_FAIL;
	}
	if (x->json) {
		struct json j;

		json_init(&j, stdout);
		json_obj(&j);
		json_kstr(&j, "identity", name);
		json_kint(&j, "resources", distinct_resources(&g, &ps));
		paths_json_end(&g, &ps, &j);
	} else {
		printf("%s can reach %d resource%s: %d path%s, %d live, %d cut\n", name,
		       distinct_resources(&g, &ps), distinct_resources(&g, &ps) == 1 ? "" : "s",
		       ps.n, ps.n == 1 ? "" : "s", ps.live, ps.n - ps.live);
		if (ps.n > 0)
			paths_text(&g, &ps, 0);
		cycles_text(stdout, &ps.cy);
	}
	paths_free(&g, &ps);
	return EXIT_OK;
}

int cmd_who_can(struct nhictl *x, int argc, char **argv)
{
	struct chain_graph g;
	struct paths ps = { .x = x };
	const char *name;
	char act[32];
	int r, res;

	if ((r = parse(x, argc, argv, who_help, &name, "resource name", &ps.want)) != 0)
		return r < 0 ? EXIT_OK : r;
	if (chain_load(x, &g, 0) < 0)
		return EXIT_FAIL;
	if ((res = chain_resource(&g, name)) < 0) {
		chain_free(&g);
		return nerr(x, EXIT_FAIL, "no resource '%s' in the registry", name);
	}
	chain_who(&g, res, keep_path, keep_cycle, &ps);
	if (ps.failed) {
		paths_free(&g, &ps);
		return EXIT_FAIL;
	}
	if (sort_paths(x, &g, &ps) < 0) {
		paths_free(&g, &ps);
		return EXIT_FAIL;
	}
	if (x->json) {
		struct json j;

		json_init(&j, stdout);
		json_obj(&j);
		json_kstr(&j, "resource", name);
		json_kstr(&j, "kind", g.res[res].kind);
		json_kstr(&j, "owner", g.res[res].owner);
		json_kstr(&j, "data_class", g.res[res].data_class);
		json_kbool(&j, "external", g.res[res].external);
		json_kstr(&j, "action", ps.want ? access_actions_format(ps.want, act, sizeof(act)) : NULL);
		json_kint(&j, "identities", distinct_actors(&g, &ps));
		paths_json_end(&g, &ps, &j);
	} else {
		printf("%s (%s, %s%s, owner %s): %d identit%s can reach it%s%s: %d path%s, "
		       "%d live, %d cut\n", name, g.res[res].kind, g.res[res].data_class,
		       g.res[res].external ? ", external" : "", g.res[res].owner,
		       distinct_actors(&g, &ps), distinct_actors(&g, &ps) == 1 ? "y" : "ies",
		       ps.want ? " with " : "", ps.want ? access_actions_format(ps.want, act, sizeof(act)) : "",
		       ps.n, ps.n == 1 ? "" : "s", ps.live, ps.n - ps.live);
		if (ps.n > 0)
			paths_text(&g, &ps, 1);
		cycles_text(stdout, &ps.cy);
	}
	paths_free(&g, &ps);
	return EXIT_OK;
}

#define SINKS (NHI_ACT_WRITE | NHI_ACT_EXEC | NHI_ACT_ADMIN)

/* A source or sink is a live path of the walk. */
static int live(const struct chain_graph *g, const struct chain_path *p)
{
	struct chain_cut c;

	chain_cut(g, p, &c);
	return c.kind == CUT_NONE;
}

static int sensitive(const struct ch_resource *r)
{
	return strcmp(r->data_class, "pii") == 0 || strcmp(r->data_class, "secret") == 0 ||
	       strcmp(r->data_class, "confidential") == 0;
}

int chain_agent(struct nhictl *x, struct chain_graph *g, int a, FILE *out)
{
	struct paths ps = { .x = x };
	const char *name = g->ident[a].name;
	int r, i, k, n_src = 0, n_sink = 0, n_cut = 0, n = 0;
	int *src = NULL;
	struct json j;
	char act[32];

	g->truncated = 0;     /* this walk's (report walks one g for each agent) */
	chain_reach(g, a, keep_path, keep_cycle, &ps);
	if (ps.failed) {
		r = NHI_ERR_NOMEM;
		goto out;
	}
	if ((r = sort_paths(x, g, &ps)) < 0)
		goto out;
	/* the sources: distinct resources read on a live path (the paths
	 * are sorted by resource) */
	src = malloc(sizeof(int) * (size_t)(ps.n + 1));
	if (src == NULL) {
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < ps.n; i++) {
		int res = g->grant[ps.p[i].grant].resource;

		if (!live(g, &ps.p[i])) {
			n_cut++;
			continue;
		}
		if ((ps.p[i].actions & NHI_ACT_READ) && (n_src == 0 || src[n_src - 1] != res))
			src[n_src++] = res;
		n_sink += (ps.p[i].actions & SINKS) != 0;
	}
	if (x->json) {
		json_init(&j, out);
		json_obj(&j);
		json_kstr(&j, "agent", name);
		json_kint(&j, "cut", n_cut);
		cycles_json(&ps.cy, &j);
		json_key(&j, "sources");
		json_arr(&j);
		for (i = 0; i < n_src; i++) {
			json_obj(&j);
			json_kstr(&j, "resource", g->res[src[i]].name);
			json_kstr(&j, "data_class", g->res[src[i]].data_class);
			json_kbool(&j, "external", g->res[src[i]].external);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_key(&j, "chains");
		json_arr(&j);
	} else {
		fprintf(out, "%s: %d data source%s, %d action path%s; %d cut path%s left out\n", name,
		       n_src, n_src == 1 ? "" : "s", n_sink, n_sink == 1 ? "" : "s", n_cut,
		       n_cut == 1 ? "" : "s");
	}
	for (i = 0; i < n_src; i++)
		for (k = 0; k < ps.n; k++) {
			const struct chain_path *p = &ps.p[k];
			const struct ch_grant *gr = &g->grant[p->grant];
			const struct ch_resource *sys = &g->res[gr->resource];
			int h;

			if (!(p->actions & SINKS) || gr->resource == src[i] || !live(g, p))
				continue;
			n++;
			if (x->json) {
				json_obj(&j);
				json_kstr(&j, "source", g->res[src[i]].name);
				json_key(&j, "through");
				json_arr(&j);
				for (h = 0; h < p->n; h++)
					json_str(&j, g->ident[p->id[h]].name);
				json_arr_end(&j);
				json_kstr(&j, "credential", gr->cred >= 0 ? g->cred[gr->cred].cred_id : NULL);
				json_kstr(&j, "system", sys->name);
				json_actions(&j, "actions", p->actions);
				json_ktime(&j, "expires", p->expires);
				json_kbool(&j, "external", sys->external);
				json_kbool(&j, "sensitive_to_external",
					   sensitive(&g->res[src[i]]) && sys->external);
				json_obj_end(&j);
				continue;
			}
			fprintf(out, "%s" ARROW, g->res[src[i]].name);
			path_text(g, p, out);
			fprintf(out, " (%s)", access_actions_format(p->actions, act, sizeof(act)));
			if (sensitive(&g->res[src[i]]) && sys->external)
				fprintf(out, "  ! %s data to an external system", g->res[src[i]].data_class);
			fputc('\n', out);
		}
	if (x->json) {
		json_arr_end(&j);
		json_obj_end(&j);
		json_end(&j);
	} else {
		if (n == 0)
			fprintf(out, "no chain: %s\n", n_src == 0 ? "no data source it can read" :
			       "no action on another system");
		cycles_text(out, &ps.cy);
	}
	r = 0;
out:
	free(src);
	free(ps.p);
	cycles_free(&ps.cy);
	return r;
}

int cmd_chain(struct nhictl *x, int argc, char **argv)
{
	struct chain_graph g;
	const char *name;
	int r, a;

	if ((r = parse(x, argc, argv, chain_help, &name, "identity name", NULL)) != 0)
		return r < 0 ? EXIT_OK : r;
	if ((r = load_ident(x, &g, 0, name, &a)) != 0)
		return r;
	r = chain_agent(x, &g, a, stdout);
	chain_free(&g);
	return exit_code(r);
}

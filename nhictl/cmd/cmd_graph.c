/* cmd_graph.c - nhictl graph: the registry as a graph, in JSON Graph
 * Format v2 (jsongraphformat.info) or Graphviz DOT.  Nodes: identities,
 * resources, credentials, owners; edges: owner, grant, delegation,
 * holds-credential; what is cut is marked (DOT: dashed, red). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "chain.h"

struct gctx {
	struct nhictl *x;
	struct chain_graph *g;
	struct json j;
	int dot;
	FILE *out;               /* where DOT goes */
	char **owners;           /* distinct owners of what is kept, sorted */
	int n_owners;
	int first;               /* no node or edge written yet (json) */
};

/* ---- what is in the picture ---------------------------------------------- */

static int ident_edges(const struct chain_graph *g, int i)
{
	return g->ident[i].n_out || g->ident[i].n_in || g->ident[i].n_grants;
}

/* With a root: the identities it delegates to, transitively (whether cut
 * or not: a cut is shown), their grants' resources, their credentials. */
static int select_root(struct chain_graph *g, int root)
{
	int *queue = malloc(sizeof(int) * (size_t)(g->n_ident + 1)), head = 0, tail = 0, i, k;

	if (queue == NULL)
		return -1;
	g->ident[root].keep = 1;
	queue[tail++] = root;
	while (head < tail) {
		const struct ch_ident *u = &g->ident[queue[head++]];

		for (k = 0; k < u->n_out; k++) {
			int v = g->del[u->out + k].to;

			if (!g->ident[v].keep) {
				g->ident[v].keep = 1;
				queue[tail++] = v;
			}
		}
		for (k = 0; k < u->n_grants; k++)
			g->res[g->grant[u->grants + k].resource].keep = 1;
	}
	free(queue);
	for (i = 0; i < g->n_cred; i++)
		g->cred[i].keep = g->cred[i].ident >= 0 && g->ident[g->cred[i].ident].keep;
	return 0;
}

static void select_all(struct chain_graph *g)
{
	int i;

	/* retired identities only while an edge still names them */
	for (i = 0; i < g->n_ident; i++)
		g->ident[i].keep = strcmp(g->ident[i].state, "retired") != 0 || ident_edges(g, i);
	for (i = 0; i < g->n_res; i++)
		g->res[i].keep = 1;
	for (i = 0; i < g->n_cred; i++)
		g->cred[i].keep = g->cred[i].ident >= 0 && g->ident[g->cred[i].ident].keep;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int collect_owners(struct gctx *c)
{
	struct chain_graph *g = c->g;
	int i, n = 0;

	c->owners = malloc(sizeof(char *) * (size_t)(g->n_ident + g->n_res + 1));
	if (c->owners == NULL)
		return -1;
	for (i = 0; i < g->n_ident; i++)
		if (g->ident[i].keep && g->ident[i].owner[0])
			c->owners[n++] = g->ident[i].owner;
	for (i = 0; i < g->n_res; i++)
		if (g->res[i].keep && g->res[i].owner[0])
			c->owners[n++] = g->res[i].owner;
	qsort(c->owners, (size_t)n, sizeof(char *), str_cmp);
	for (i = 0; i < n; i++)
		if (c->n_owners == 0 || strcmp(c->owners[c->n_owners - 1], c->owners[i]) != 0)
			c->owners[c->n_owners++] = c->owners[i];
	return 0;
}

/* ---- writing ------------------------------------------------------------- */

/* A DOT string's inside: quotes and backslashes escaped, control
 * characters as '?'. */
static void dot_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fputc('\\', f);
		fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, f);
	}
}

/* The id of a node in DOT: "identity:NAME", "resource:NAME",
 * "credential:ID", "owner:USER" (the same as in JSON). */
static void node_id(FILE *f, const char *type, const char *name)
{
	fputc('"', f);
	fputs(type, f);
	fputc(':', f);
	dot_text(f, name);
	fputc('"', f);
}

static void json_node_start(struct gctx *c, const char *type, const char *name, const char *label)
{
	char id[320];

	snprintf(id, sizeof(id), "%s:%s", type, name);
	json_key(&c->j, id);
	json_obj(&c->j);
	json_kstr(&c->j, "label", label);
	json_key(&c->j, "metadata");
	json_obj(&c->j);
	json_kstr(&c->j, "type", type);
}

static void json_node_end(struct gctx *c, const char *cut)
{
	json_kstr(&c->j, "cut", *cut ? cut : NULL);
	json_obj_end(&c->j);
	json_obj_end(&c->j);
}

/* DOT attributes of something cut */
#define DOT_CUT "color=red, fontcolor=red"

static void dot_node(struct gctx *c, const char *type, const char *name, const char *label2,
		     const char *attrs, const char *cut)
{
	FILE *f = c->out;

	fputs("  ", f);
	node_id(f, type, name);
	fputs(" [label=\"", f);
	dot_text(f, name);
	if (label2 && *label2) {
		fputs("\\n", f);
		dot_text(f, label2);
	}
	if (*cut) {
		fputs("\\n(", f);
		dot_text(f, cut);
		fputc(')', f);
	}
	fprintf(f, "\", %s", attrs);
	if (*cut)
		fputs(", " DOT_CUT ", style=\"dashed", f), fputs(strstr(attrs, "rounded") ? ",rounded\"" : "\"", f);
	fputs("];\n", f);
}

static void nodes(struct gctx *c)
{
	struct chain_graph *g = c->g;
	int i;

	for (i = 0; i < c->n_owners; i++) {
		if (c->dot) {
			dot_node(c, "owner", c->owners[i], "owner", "shape=ellipse, color=gray40", "");
			continue;
		}
		json_node_start(c, "owner", c->owners[i], c->owners[i]);
		json_node_end(c, "");
	}
	for (i = 0; i < g->n_ident; i++) {
		const struct ch_ident *d = &g->ident[i];
		const char *cut = chain_ident_cut(g, i);

		if (!d->keep)
			continue;
		if (c->dot) {
			dot_node(c, "identity", d->name, d->kind, strcmp(d->kind, "agent") == 0 ?
				 "shape=box, style=\"rounded\"" : "shape=box", cut);
			continue;
		}
		json_node_start(c, "identity", d->name, d->name);
		json_kstr(&c->j, "kind", d->kind);
		json_kstr(&c->j, "state", d->state);
		json_kstr(&c->j, "owner", d->owner);
		json_ktime(&c->j, "expires", d->expires);
		json_node_end(c, cut);
	}
	for (i = 0; i < g->n_res; i++) {
		const struct ch_resource *r = &g->res[i];
		char l2[96], attrs[96];

		if (!r->keep)
			continue;
		if (c->dot) {
			snprintf(l2, sizeof(l2), "%s, %s%s", r->kind, r->data_class, r->external ? ", external" : "");
			snprintf(attrs, sizeof(attrs), "shape=cylinder%s%s",
				 strcmp(r->data_class, "pii") == 0 || strcmp(r->data_class, "secret") == 0 ?
				 ", style=filled, fillcolor=lightyellow" : "",
				 r->external ? ", peripheries=2" : "");
			dot_node(c, "resource", r->name, l2, attrs, "");
			continue;
		}
		json_node_start(c, "resource", r->name, r->name);
		json_kstr(&c->j, "kind", r->kind);
		json_kstr(&c->j, "uri", r->uri);
		json_kstr(&c->j, "owner", r->owner);
		json_kstr(&c->j, "data_class", r->data_class);
		json_kbool(&c->j, "external", r->external);
		json_kbool(&c->j, "orphaned", r->orphaned);
		json_node_end(c, "");
	}
	for (i = 0; i < g->n_cred; i++) {
		const struct ch_cred *k = &g->cred[i];
		const char *cut = chain_cred_cut(g, i);

		if (!k->keep)
			continue;
		if (c->dot) {
			dot_node(c, "credential", k->cred_id, k->kind, "shape=note, fontsize=8", cut);
			continue;
		}
		json_node_start(c, "credential", k->cred_id, k->cred_id);
		json_kstr(&c->j, "kind", k->kind);
		json_kstr(&c->j, "state", k->state);
		json_kstr(&c->j, "holder", g->ident[k->ident].name);
		json_ktime(&c->j, "not_after", k->not_after);
		json_node_end(c, cut);
	}
}

/* One edge; 'cut' "" when not cut; 'label' a DOT label (may be ""). */
static void edge(struct gctx *c, const char *st, const char *sn, const char *tt, const char *tn,
		 const char *rel, const char *cut, const char *label, const char *color,
		 const char *attrs)
{
	char id[320];

	if (c->dot) {
		FILE *f = c->out;

		fputs("  ", f);
		node_id(f, st, sn);
		fputs(" -> ", f);
		node_id(f, tt, tn);
		fputs(" [label=\"", f);
		dot_text(f, label);
		if (*cut) {
			fputs(*label ? "\\n" : "", f);
			fputs("cut: ", f);
			dot_text(f, cut);
		}
		/* cut: dashed and red instead of its own style and colour */
		if (*cut)
			fputs("\", style=dashed, penwidth=1.5, " DOT_CUT "];\n", f);
		else
			fprintf(f, "\", color=%s%s%s];\n", color, *attrs ? ", " : "", attrs);
		return;
	}
	json_obj(&c->j);
	snprintf(id, sizeof(id), "%s:%s", st, sn);
	json_kstr(&c->j, "source", id);
	snprintf(id, sizeof(id), "%s:%s", tt, tn);
	json_kstr(&c->j, "target", id);
	json_kstr(&c->j, "relation", rel);
	json_kbool(&c->j, "directed", 1);
	json_key(&c->j, "metadata");
	json_obj(&c->j);
	json_kstr(&c->j, "cut", *cut ? cut : NULL);
}

static void edge_end(struct gctx *c)
{
	if (c->dot)
		return;
	json_obj_end(&c->j);
	json_obj_end(&c->j);
}

/* An edge is cut by itself or by an unusable identity at either end:
 * "expired", or "NAME: suspended". */
static const char *why_ident(const struct chain_graph *g, int i, char *buf, size_t len)
{
	const char *w = chain_ident_cut(g, i);

	if (!*w)
		return "";
	snprintf(buf, len, "%s %s", g->ident[i].name, w);
	return buf;
}

static void edges(struct gctx *c)
{
	struct chain_graph *g = c->g;
	char act[32], lab[64], b1[128], b2[128];
	int i;

	for (i = 0; i < g->n_ident; i++)
		if (g->ident[i].keep && g->ident[i].owner[0]) {
			const char *cut = strcmp(g->ident[i].state, "orphaned") == 0 ? "orphaned" : "";

			edge(c, "owner", g->ident[i].owner, "identity", g->ident[i].name, "owner", cut, "",
			     "gray40", "arrowhead=odot");
			edge_end(c);
		}
	for (i = 0; i < g->n_res; i++)
		if (g->res[i].keep && g->res[i].owner[0]) {
			edge(c, "owner", g->res[i].owner, "resource", g->res[i].name, "owner",
			     g->res[i].orphaned ? "orphaned" : "", "", "gray40", "arrowhead=odot");
			edge_end(c);
		}
	for (i = 0; i < g->n_cred; i++) {
		const struct ch_cred *k = &g->cred[i];
		const char *cut;

		if (!k->keep)
			continue;
		cut = chain_cred_cut(g, i);
		if (!*cut)
			cut = why_ident(g, k->ident, b1, sizeof(b1));
		edge(c, "identity", g->ident[k->ident].name, "credential", k->cred_id, "holds-credential",
		     cut, "", "black", "style=dotted, arrowhead=none");
		edge_end(c);
	}
	for (i = 0; i < g->n_del; i++) {
		const struct ch_del *d = &g->del[i];
		const char *cut;

		if (!g->ident[d->from].keep || !g->ident[d->to].keep)
			continue;
		cut = chain_del_cut(g, i);
		if (!*cut && !*(cut = why_ident(g, d->from, b1, sizeof(b1))))
			cut = why_ident(g, d->to, b2, sizeof(b2));
		snprintf(lab, sizeof(lab), "%s%s", d->actions == NHI_ACT_ALL ? "delegates" : "limit ",
			 d->actions == NHI_ACT_ALL ? "" : access_actions_format(d->actions, act, sizeof(act)));
		edge(c, "identity", g->ident[d->from].name, "identity", g->ident[d->to].name, "delegation",
		     cut, lab, "blue", "");
		if (!c->dot) {
			json_klist(&c->j, "actions", access_actions_format(d->actions, act, sizeof(act)));
			json_klist(&c->j, "scopes", d->scopes);
			json_ktime(&c->j, "expires", d->expires);
			json_kstr(&c->j, "reason", d->reason);
		}
		edge_end(c);
	}
	for (i = 0; i < g->n_grant; i++) {
		const struct ch_grant *a = &g->grant[i];
		const char *cut;

		if (!g->ident[a->ident].keep || !g->res[a->resource].keep)
			continue;
		cut = chain_grant_cut(g, i);
		if (!*cut && a->cred >= 0)
			cut = chain_cred_cut(g, a->cred);
		if (!*cut)
			cut = why_ident(g, a->ident, b1, sizeof(b1));
		access_actions_format(a->actions, act, sizeof(act));
		if (a->cred >= 0)
			edge(c, "credential", g->cred[a->cred].cred_id, "resource", g->res[a->resource].name,
			     "grant", cut, act, "darkgreen", "");
		else
			edge(c, "identity", g->ident[a->ident].name, "resource", g->res[a->resource].name,
			     "grant", cut, act, "darkgreen", "");
		if (!c->dot) {
			json_klist(&c->j, "actions", act);
			json_klist(&c->j, "scopes", a->scopes);
			json_ktime(&c->j, "expires", a->expires);
			json_kstr(&c->j, "identity", g->ident[a->ident].name);
			json_kstr(&c->j, "credential", a->cred >= 0 ? g->cred[a->cred].cred_id : NULL);
		}
		edge_end(c);
	}
}

static void dot_write(struct gctx *c)
{
	fputs("digraph nhi {\n  rankdir=LR;\n"
	      "  node [fontname=\"Helvetica\", fontsize=10];\n"
	      "  edge [fontname=\"Helvetica\", fontsize=8];\n", c->out);
	nodes(c);
	edges(c);
	fputs("}\n", c->out);
}

int graph_dot(struct nhictl *x, FILE *out, int max_nodes, int *n_nodes)
{
	struct chain_graph g;
	struct gctx c;
	int i, r = 0;

	memset(&c, 0, sizeof(c));
	c.x = x;
	c.g = &g;
	c.dot = 1;
	c.out = out;
	if (chain_load(x, &g, CHAIN_ALL_CREDS | CHAIN_DEL_TEXT) < 0)
		return NHI_ERR_DB;
	select_all(&g);
	if (collect_owners(&c) < 0) {
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
		goto out;
	}
	*n_nodes = c.n_owners;
	for (i = 0; i < g.n_ident; i++)
		*n_nodes += g.ident[i].keep;
	for (i = 0; i < g.n_res; i++)
		*n_nodes += g.res[i].keep;
	for (i = 0; i < g.n_cred; i++)
		*n_nodes += g.cred[i].keep;
	if (*n_nodes > max_nodes) {
		r = 1;
		goto out;
	}
	dot_write(&c);
out:
	free(c.owners);
	chain_free(&g);
	return r;
}

static const char graph_help[] =
	"usage: nhictl graph [NAME] [--format json|dot]\n"
	"\n"
	"The registry as a graph: identities, resources, credentials and owners as\n"
	"nodes; owner, grant, delegation and holds-credential as edges.  With NAME,\n"
	"only what NAME reaches: the identities it delegates to (transitively), their\n"
	"grants, resources and credentials.  What is cut (an identity suspended,\n"
	"retired, orphaned or expired; an edge or credential expired or revoked) is\n"
	"marked: in DOT dashed and red.  Revoked credentials no grant names are left out.\n"
	"\n"
	"  -f, --format FORMAT     json (JSON Graph Format v2, the default) or dot\n"
	"                          (Graphviz: nhictl graph --format dot | dot -Tsvg)\n";

int cmd_graph(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct chain_graph g;
	struct gctx c;
	const char *name = NULL;
	int ch, r, root = -1;

	memset(&c, 0, sizeof(c));
	c.x = x;
	c.g = &g;
	c.out = stdout;
	while ((ch = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (strcmp(optarg, "dot") != 0 && strcmp(optarg, "json") != 0)
				return nerr(x, EXIT_USAGE, "bad --format '%s' (json, dot)", optarg);
			c.dot = strcmp(optarg, "dot") == 0;
			break;
		case 'j': c.dot = 0; break;
		case 'h': fputs(graph_help, stdout); return EXIT_OK;
		default: return opt_error(x, ch, argv);
		}
	}
	if (optind < argc && (r = one_name(x, argc, argv, &name, "identity name")) != 0)
		return r;
	if (chain_load(x, &g, CHAIN_ALL_CREDS | CHAIN_DEL_TEXT) < 0)
		return EXIT_FAIL;
	if (name && (root = chain_ident(&g, name)) < 0) {
		chain_free(&g);
		return nerr(x, EXIT_FAIL, "no identity '%s' in the registry", name);
	}
	if (root >= 0 ? select_root(&g, root) < 0 : (select_all(&g), 0)) {
		chain_free(&g);
		return nerr(x, EXIT_FAIL, "out of memory");
	}
	if (collect_owners(&c) < 0) {
		chain_free(&g);
		return nerr(x, EXIT_FAIL, "out of memory");
	}
	if (c.dot) {
		dot_write(&c);
	} else {
		json_init(&c.j, stdout);
		json_obj(&c.j);
		json_key(&c.j, "graph");
		json_obj(&c.j);
		json_kstr(&c.j, "id", name ? name : "nhi");
		json_kstr(&c.j, "type", "nhi-reach");
		json_kstr(&c.j, "label", name ? name : "nhi registry");
		json_kbool(&c.j, "directed", 1);
		json_key(&c.j, "metadata");
		json_obj(&c.j);
		json_ktime(&c.j, "generated", (int64_t)x->now);
		json_kstr(&c.j, "root", name);
		json_obj_end(&c.j);
		json_key(&c.j, "nodes");
		json_obj(&c.j);
		nodes(&c);
		json_obj_end(&c.j);
		json_key(&c.j, "edges");
		json_arr(&c.j);
		edges(&c);
		json_arr_end(&c.j);
		json_obj_end(&c.j);
		json_obj_end(&c.j);
		json_end(&c.j);
	}
	free(c.owners);
	chain_free(&g);
	return EXIT_OK;
}

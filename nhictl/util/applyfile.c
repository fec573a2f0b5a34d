/* applyfile.c - reading the file of `nhictl apply` (applyfile.h) with
 * libyaml's document loader: the node tree keeps each node's start mark,
 * which gives every problem its line and column.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "applyfile.h"

struct ctx {
	yaml_document_t *doc;
	af_error_fn err;
	void *ectx;
	int n;                         /* problems reported */
	int oom;
};

/* A message is one line: a control byte of a key or value quoted in it
 * (a newline in a quoted key) becomes '?'. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void problem(struct ctx *c, const yaml_node_t *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct ctx *c, const yaml_node_t *at, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	one_line(buf);
	c->err(c->ectx, at ? (int)at->start_mark.line + 1 : 0,
	       at ? (int)at->start_mark.column + 1 : 0, buf);
	c->n++;
}

static struct af_pos pos_of(const yaml_node_t *n)
{
	struct af_pos p = { (int)n->start_mark.line + 1, (int)n->start_mark.column + 1 };

	return p;
}

static const char *type_name(const yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE ? "a mapping" :
	       n->type == YAML_SEQUENCE_NODE ? "a list" : "a string";
}

static char *dup_scalar(struct ctx *c, const yaml_node_t *n)
{
	char *s = malloc(n->data.scalar.length + 1);

	if (s == NULL) {
		c->oom = 1;
		return NULL;
	}
	memcpy(s, n->data.scalar.value, n->data.scalar.length);
	s[n->data.scalar.length] = '\0';
	return s;
}

/* A scalar value (no NUL inside) into s. */
static void get_str(struct ctx *c, const char *key, const yaml_node_t *v, struct af_str *s)
{
	if (v->type != YAML_SCALAR_NODE) {
		problem(c, v, "'%s' must be a string, not %s", key, type_name(v));
		return;
	}
	if (memchr(v->data.scalar.value, '\0', v->data.scalar.length) != NULL) {
		problem(c, v, "'%s' contains a NUL byte", key);
		return;
	}
	free(s->v);
	s->v = dup_scalar(c, v);
	s->pos = pos_of(v);
}

static int list_add(struct ctx *c, struct af_list *l, char *s, struct af_pos p)
{
	char **nv;
	struct af_pos *np;

	if (s == NULL)
		return -1;
	nv = realloc(l->v, sizeof(*nv) * (size_t)(l->n + 1));
	if (nv == NULL)
		goto oom;
	l->v = nv;
	np = realloc(l->pos, sizeof(*np) * (size_t)(l->n + 1));
	if (np == NULL)
		goto oom;
	l->pos = np;
	l->v[l->n] = s;
	l->pos[l->n++] = p;
	return 0;
oom:
	free(s);
	c->oom = 1;
	return -1;
}

/* A list of scalars; with 'csv' a scalar "a,b" is accepted too (kept whole). */
static void get_list(struct ctx *c, const char *key, const yaml_node_t *v, struct af_list *l,
		     int csv)
{
	yaml_node_item_t *it;

	l->given = 1;
	l->at = pos_of(v);
	if (v->type == YAML_SCALAR_NODE && csv) {
		struct af_str s = { NULL, { 0, 0 } };

		get_str(c, key, v, &s);
		if (s.v != NULL)
			list_add(c, l, s.v, s.pos);
		return;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		problem(c, v, "'%s' must be a list, not %s", key, type_name(v));
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);
		struct af_str s = { NULL, { 0, 0 } };

		if (e == NULL)
			continue;
		get_str(c, key, e, &s);
		if (s.v != NULL && list_add(c, l, s.v, s.pos) < 0)
			return;
	}
}

/* labels: a mapping KEY: VALUE, kept as "KEY=VALUE" strings. */
static void get_labels(struct ctx *c, const yaml_node_t *v, struct af_list *l)
{
	yaml_node_pair_t *p;

	l->given = 1;
	l->at = pos_of(v);
	if (v->type != YAML_MAPPING_NODE) {
		problem(c, v, "'labels' must be a mapping (KEY: VALUE), not %s", type_name(v));
		return;
	}
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *e = yaml_document_get_node(c->doc, p->value);
		char *s;
		size_t kl, el;

		if (k == NULL || e == NULL)
			continue;
		if (k->type != YAML_SCALAR_NODE || e->type != YAML_SCALAR_NODE) {
			problem(c, k->type != YAML_SCALAR_NODE ? k : e,
				"a label's key and value must be strings");
			continue;
		}
		kl = k->data.scalar.length;
		el = e->data.scalar.length;
		s = malloc(kl + el + 2);
		if (s == NULL) {
			c->oom = 1;
			return;
		}
		memcpy(s, k->data.scalar.value, kl);
		s[kl] = '=';
		memcpy(s + kl + 1, e->data.scalar.value, el);
		s[kl + 1 + el] = '\0';
		if (strlen(s) != kl + el + 1) {
			problem(c, k, "a label contains a NUL byte");
			free(s);
			continue;
		}
		if (list_add(c, l, s, pos_of(k)) < 0)
			return;
	}
}

/* One key of an object: its name and where its value goes. */
struct field {
	const char *key;
	enum { F_STR, F_LIST, F_CSV, F_LABELS } type;
	size_t off;
};

#define FS(t, f) { #f, F_STR, offsetof(t, f) }
static const struct field ident_fields[] = {
	FS(struct af_ident, name), FS(struct af_ident, kind), FS(struct af_ident, owner),
	FS(struct af_ident, expires), FS(struct af_ident, purpose),
	FS(struct af_ident, review_interval),
	{ "hosts", F_LIST, offsetof(struct af_ident, hosts) },
	{ "services", F_LIST, offsetof(struct af_ident, services) },
	{ "labels", F_LABELS, offsetof(struct af_ident, labels) },
	{ NULL, 0, 0 },
};
static const struct field resource_fields[] = {
	FS(struct af_resource, name), FS(struct af_resource, kind), FS(struct af_resource, uri),
	FS(struct af_resource, owner), FS(struct af_resource, data_class),
	FS(struct af_resource, external), FS(struct af_resource, purpose),
	{ "labels", F_LABELS, offsetof(struct af_resource, labels) },
	{ NULL, 0, 0 },
};
static const struct field grant_fields[] = {
	{ "identity", F_STR, offsetof(struct af_edge, from) },
	{ "resource", F_STR, offsetof(struct af_edge, to) },
	{ "actions", F_CSV, offsetof(struct af_edge, actions) },
	{ "scopes", F_LIST, offsetof(struct af_edge, scopes) },
	FS(struct af_edge, expires),
	{ NULL, 0, 0 },
};
static const struct field delegation_fields[] = {
	FS(struct af_edge, from), FS(struct af_edge, to),
	{ "actions", F_CSV, offsetof(struct af_edge, actions) },
	{ "scopes", F_LIST, offsetof(struct af_edge, scopes) },
	FS(struct af_edge, expires), FS(struct af_edge, reason),
	{ NULL, 0, 0 },
};
#undef FS

/* actions: a list joined with commas, or the scalar as it is */
static void get_csv(struct ctx *c, const char *key, const yaml_node_t *v, struct af_str *s)
{
	struct af_list l = { 0 };
	size_t len = 1;
	int i;

	get_list(c, key, v, &l, 1);
	for (i = 0; i < l.n; i++)
		len += strlen(l.v[i]) + 1;
	free(s->v);
	s->v = NULL;
	s->pos = pos_of(v);
	if (!c->oom && (l.n > 0 || v->type == YAML_SEQUENCE_NODE) && (s->v = malloc(len)) != NULL) {
		s->v[0] = '\0';
		for (i = 0; i < l.n; i++) {
			if (i)
				strcat(s->v, ",");
			strcat(s->v, l.v[i]);
		}
	} else if (!c->oom && (l.n > 0 || v->type == YAML_SEQUENCE_NODE)) {
		c->oom = 1;
	}
	for (i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	free(l.pos);
}

/* One object (a mapping) of a list: its keys by the table. */
static void get_object(struct ctx *c, const char *what, const yaml_node_t *m,
		       const struct field *tab, void *obj, struct af_pos *at)
{
	yaml_node_pair_t *p;
	unsigned long seen = 0;        /* the fields of tab given so far */

	*at = pos_of(m);
	if (m->type != YAML_MAPPING_NODE) {
		problem(c, m, "each of '%s' must be a mapping, not %s", what, type_name(m));
		return;
	}
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top && !c->oom; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const struct field *f;
		const char *key;

		if (k == NULL || v == NULL)
			continue;
		if (k->type != YAML_SCALAR_NODE) {
			problem(c, k, "a key must be a string");
			continue;
		}
		key = (const char *)k->data.scalar.value;
		for (f = tab; f->key != NULL && strcmp(f->key, key) != 0; f++)
			;
		if (f->key == NULL) {
			problem(c, k, "unknown key '%.64s' in %s", key, what);
			continue;
		}
		/* a table's fields are few: one bit each (no pass over the keys
		 * before this one, which a hostile mapping makes quadratic) */
		if (seen & (1ul << (f - tab))) {
			problem(c, k, "key '%.64s' given twice", key);
			continue;
		}
		seen |= 1ul << (f - tab);
		switch (f->type) {
		case F_STR:
			get_str(c, f->key, v, (struct af_str *)((char *)obj + f->off));
			break;
		case F_CSV:
			get_csv(c, f->key, v, (struct af_str *)((char *)obj + f->off));
			break;
		case F_LIST:
			get_list(c, f->key, v, (struct af_list *)((char *)obj + f->off), 0);
			break;
		case F_LABELS:
			get_labels(c, v, (struct af_list *)((char *)obj + f->off));
			break;
		}
	}
}

/* A top-level list: each item an object of 'size' bytes into *arr. */
static void get_objects(struct ctx *c, const char *what, const yaml_node_t *v,
			const struct field *tab, void **arr, int *n, size_t size,
			size_t at_off)
{
	yaml_node_item_t *it;
	size_t cnt;
	char *a;

	if (v->type == YAML_SCALAR_NODE && v->data.scalar.length == 0)
		return;   /* "identities:" with nothing: an empty list */
	if (v->type != YAML_SEQUENCE_NODE) {
		problem(c, v, "'%s' must be a list, not %s", what, type_name(v));
		return;
	}
	cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (cnt == 0)
		return;
	a = calloc(cnt, size);
	if (a == NULL) {
		c->oom = 1;
		return;
	}
	*arr = a;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !c->oom; it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);
		char *obj = a + size * (size_t)*n;

		if (e == NULL)
			continue;
		++*n;
		get_object(c, what, e, tab, obj, (struct af_pos *)(obj + at_off));
	}
}

static void at_problem(struct ctx *c, struct af_pos p, char *what)
{
	one_line(what);
	c->err(c->ectx, p.line, p.col, what);
	c->n++;
}

/* Finding what is given twice in O(n log n): the objects' keys sorted
 * with their positions; first[i] is the index of the first object with
 * i's key, or -1 when i is that first one (or has no key). */
struct keyed {
	const char *a, *b;             /* the key: a name, or (from, to) */
	int i;
};

static int keyed_cmp(const void *x, const void *y)
{
	const struct keyed *p = x, *q = y;
	int r = strcmp(p->a, q->a);

	if (r == 0 && p->b != NULL)
		r = strcmp(p->b, q->b);
	return r != 0 ? r : (p->i > q->i) - (p->i < q->i);
}

/* keys[0..n) filled by the caller (a == NULL: no key); returns first[]
 * (malloc'd, n entries) or NULL when out of memory. */
static int *first_of(struct keyed *keys, int n)
{
	int *first = malloc((size_t)(n > 0 ? n : 1) * sizeof(*first));
	int i, m = 0, g;

	if (first == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		first[i] = -1;
		if (keys[i].a != NULL)
			keys[m++] = keys[i];
	}
	if (m > 1)
		qsort(keys, (size_t)m, sizeof(*keys), keyed_cmp);
	for (i = 0; i < m; i = g) {
		for (g = i + 1; g < m && keyed_cmp(&(struct keyed){ keys[i].a, keys[i].b, 0 },
						   &(struct keyed){ keys[g].a, keys[g].b, 0 }) == 0; g++)
			first[keys[g].i] = keys[i].i;
	}
	return first;
}

/* Names given twice, and the keys every object needs. */
static void check_unique(struct ctx *c, struct applyfile *f)
{
	char buf[200];
	int i, k, n;
	struct keyed *keys;
	int *first;

	n = f->n_idents;
	if (f->n_resources > n)
		n = f->n_resources;
	if (f->n_grants > n)
		n = f->n_grants;
	if (f->n_delegations > n)
		n = f->n_delegations;
	keys = malloc((size_t)(n > 0 ? n : 1) * sizeof(*keys));
	if (keys == NULL) {
		c->oom = 1;
		return;
	}
	for (i = 0; i < f->n_idents; i++)
		keys[i] = (struct keyed){ f->idents[i].name.v, NULL, i };
	if ((first = first_of(keys, f->n_idents)) == NULL)
		goto oom;
	for (i = 0; i < f->n_idents; i++) {
		struct af_ident *a = &f->idents[i];

		if (a->name.v == NULL) {
			c->err(c->ectx, a->at.line, a->at.col, "an identity needs a 'name'");
			c->n++;
		} else if ((k = first[i]) >= 0) {
			snprintf(buf, sizeof(buf), "identity '%.64s' given twice (also at "
				 "line %d)", a->name.v, f->idents[k].name.pos.line);
			at_problem(c, a->name.pos, buf);
		}
	}
	free(first);
	for (i = 0; i < f->n_resources; i++)
		keys[i] = (struct keyed){ f->resources[i].name.v, NULL, i };
	if ((first = first_of(keys, f->n_resources)) == NULL)
		goto oom;
	for (i = 0; i < f->n_resources; i++) {
		struct af_resource *a = &f->resources[i];

		if (a->name.v == NULL) {
			c->err(c->ectx, a->at.line, a->at.col, "a resource needs a 'name'");
			c->n++;
		} else if ((k = first[i]) >= 0) {
			snprintf(buf, sizeof(buf), "resource '%.64s' given twice (also at "
				 "line %d)", a->name.v, f->resources[k].name.pos.line);
			at_problem(c, a->name.pos, buf);
		}
	}
	free(first);
	for (int d = 0; d < 2; d++) {
		struct af_edge *e = d ? f->delegations : f->grants;
		int ne = d ? f->n_delegations : f->n_grants;

		for (i = 0; i < ne; i++)
			keys[i] = (struct keyed){ e[i].from.v && e[i].to.v ? e[i].from.v : NULL,
						  e[i].to.v, i };
		if ((first = first_of(keys, ne)) == NULL)
			goto oom;
		for (i = 0; i < ne; i++) {
			if (e[i].from.v == NULL || e[i].to.v == NULL) {
				c->err(c->ectx, e[i].at.line, e[i].at.col, d ?
				       "a delegation needs 'from' and 'to'" :
				       "a grant needs 'identity' and 'resource'");
				c->n++;
			} else if ((k = first[i]) >= 0) {
				if (d)
					snprintf(buf, sizeof(buf), "delegation %.64s -> %.64s "
						 "given twice (also at line %d)", e[i].from.v,
						 e[i].to.v, e[k].at.line);
				else
					snprintf(buf, sizeof(buf), "grant of %.64s on %.64s "
						 "given twice (also at line %d)", e[i].from.v,
						 e[i].to.v, e[k].at.line);
				at_problem(c, e[i].at, buf);
			}
		}
		free(first);
	}
	free(keys);
	return;
oom:
	free(keys);
	c->oom = 1;
}

int applyfile_parse(const char *buf, size_t len, struct applyfile *f, af_error_fn err, void *ectx)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	yaml_node_pair_t *p;
	struct ctx c = { .doc = &doc, .err = err, .ectx = ectx };
	static const char *const top[4] = { "identities", "resources", "grants", "delegations" };
	unsigned seen = 0;
	int i;

	memset(f, 0, sizeof(*f));
	if (!yaml_parser_initialize(&parser))
		return -1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		char what[300];

		snprintf(what, sizeof(what), "syntax: %s%s%s",
			 parser.problem ? parser.problem : "not YAML",
			 parser.context ? " " : "", parser.context ? parser.context : "");
		err(ectx, (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
		    what);
		yaml_parser_delete(&parser);
		return 1;
	}
	root = yaml_document_get_root_node(&doc);
	if (root == NULL) {
		err(ectx, 1, 1, "the file is empty (a mapping with identities, resources, grants, "
		    "delegations)");
		c.n++;
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		problem(&c, root, "the file must be a mapping (identities, resources, grants, "
			"delegations), not %s", type_name(root));
		goto out;
	}
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top && !c.oom; p++) {
		yaml_node_t *k = yaml_document_get_node(&doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&doc, p->value);
		const char *key;

		if (k == NULL || v == NULL)
			continue;
		key = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
		for (i = 0; i < 4 && strcmp(key, top[i]) != 0; i++)
			;
		if (i == 4) {
			problem(&c, k, "unknown key '%.64s' (identities, resources, grants, "
				"delegations)", key);
			continue;
		}
		if (seen & (1u << i)) {   /* also when the first one was empty */
			problem(&c, k, "key '%s' given twice", key);
			continue;
		}
		seen |= 1u << i;
		if (i == 0)
			get_objects(&c, "identities", v, ident_fields, (void **)&f->idents,
				    &f->n_idents, sizeof(struct af_ident), offsetof(struct af_ident, at));
		else if (i == 1)
			get_objects(&c, "resources", v, resource_fields, (void **)&f->resources,
				    &f->n_resources, sizeof(struct af_resource),
				    offsetof(struct af_resource, at));
		else if (i == 2)
			get_objects(&c, "grants", v, grant_fields, (void **)&f->grants,
				    &f->n_grants, sizeof(struct af_edge), offsetof(struct af_edge, at));
		else
			get_objects(&c, "delegations", v, delegation_fields,
				    (void **)&f->delegations, &f->n_delegations,
				    sizeof(struct af_edge), offsetof(struct af_edge, at));
	}
	if (!c.oom)
		check_unique(&c, f);
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return c.oom ? -1 : c.n;
}

static void str_free(struct af_str *s)
{
	free(s->v);
}

static void list_free(struct af_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->pos);
}

void applyfile_free(struct applyfile *f)
{
	int i;

	for (i = 0; i < f->n_idents; i++) {
		struct af_ident *a = &f->idents[i];

		str_free(&a->name); str_free(&a->kind); str_free(&a->owner);
		str_free(&a->expires); str_free(&a->purpose); str_free(&a->review_interval);
		list_free(&a->hosts); list_free(&a->services); list_free(&a->labels);
	}
	for (i = 0; i < f->n_resources; i++) {
		struct af_resource *a = &f->resources[i];

		str_free(&a->name); str_free(&a->kind); str_free(&a->uri); str_free(&a->owner);
		str_free(&a->data_class); str_free(&a->external); str_free(&a->purpose);
		list_free(&a->labels);
	}
	for (int d = 0; d < 2; d++) {
		struct af_edge *e = d ? f->delegations : f->grants;
		int n = d ? f->n_delegations : f->n_grants;

		for (i = 0; i < n; i++) {
			str_free(&e[i].from); str_free(&e[i].to); str_free(&e[i].actions);
			str_free(&e[i].expires); str_free(&e[i].reason);
			list_free(&e[i].scopes);
		}
	}
	free(f->idents);
	free(f->resources);
	free(f->grants);
	free(f->delegations);
	memset(f, 0, sizeof(*f));
}

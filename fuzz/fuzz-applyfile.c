/* fuzz-applyfile.c - the file of `nhictl apply` (nhictl/util/applyfile.c,
 * libyaml's document loader): the input is the file.  Properties:
 *   - applyfile_parse returns the number of problems it reported (-1 only
 *     when out of memory), each with a message of one non-empty line and
 *     a position inside the input (line 1..size+1, column >= 1: libyaml
 *     also breaks lines at \r, NEL, LS and PS, and reads UTF-16);
 *   - a file without problems is complete: every identity and resource
 *     has a name, every grant an identity and a resource, every
 *     delegation a from and a to, no name (nor edge) is given twice, a
 *     label is KEY=VALUE, no string holds a NUL;
 *   - written back as YAML (flow style, every string double-quoted with
 *     escapes) it parses again without problems into the same values: the
 *     parser keeps each value exactly;
 *   - applyfile_free leaves the structure zeroed. */
#include "fuzz.h"
#include "applyfile.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

struct errs {
	int n;
	size_t size;
};

static void on_error(void *ctx, int line, int col, const char *what)
{
	struct errs *e = ctx;

	FUZZ_ASSERT(what != NULL && what[0] != '\0');
	FUZZ_ASSERT(strchr(what, '\n') == NULL);
	FUZZ_ASSERT(line >= 1 && (size_t)line <= e->size + 1);
	FUZZ_ASSERT(col >= 1);
	e->n++;
}

static void never(void *ctx, int line, int col, const char *what)
{
	fprintf(stderr, "written back: %d:%d: %s\n", line, col, what);
	FUZZ_ASSERT(!"the written-back file has no problem");
}

/* ---- writing the parsed file back ---- */

struct out {
	char *b;
	size_t n, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->n + n + 1 > o->cap) {
		o->cap = (o->n + n + 1) * 2;
		o->b = realloc(o->b, o->cap);
		if (o->b == NULL)
			abort();
	}
	memcpy(o->b + o->n, s, n);
	o->n += n;
	o->b[o->n] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* a double-quoted YAML scalar: ASCII printable as is (\ and " escaped),
 * everything else as \xNN, \uNNNN or \UNNNNNNNN of its code point (the
 * values are UTF-8: libyaml refuses anything else) */
static void quoted(struct out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char buf[16];

	puts_(o, "\"");
	while (*p) {
		uint32_t cp;
		int len;

		if (*p >= 0x20 && *p < 0x7f) {
			if (*p == '"' || *p == '\\')
				puts_(o, "\\");
			put(o, (const char *)p++, 1);
			continue;
		}
		if (*p < 0x80) {
			cp = *p;
			len = 1;
		} else if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f;
			len = 2;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f;
			len = 3;
		} else {
			FUZZ_ASSERT((*p & 0xf8) == 0xf0);
			cp = *p & 0x07;
			len = 4;
		}
		for (int i = 1; i < len; i++) {
			FUZZ_ASSERT((p[i] & 0xc0) == 0x80);
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		p += len;
		if (cp < 0x100)
			snprintf(buf, sizeof(buf), "\\x%02X", (unsigned)cp);
		else if (cp < 0x10000)
			snprintf(buf, sizeof(buf), "\\u%04X", (unsigned)cp);
		else
			snprintf(buf, sizeof(buf), "\\U%08X", (unsigned)cp);
		puts_(o, buf);
	}
	puts_(o, "\"");
}

static void kv(struct out *o, const char *key, const struct af_str *s)
{
	if (s->v == NULL)
		return;
	puts_(o, key);
	puts_(o, ": ");
	quoted(o, s->v);
	puts_(o, ", ");
}

static void klist(struct out *o, const char *key, const struct af_list *l)
{
	if (!l->given)
		return;
	puts_(o, key);
	puts_(o, ": [");
	for (int i = 0; i < l->n; i++) {
		if (i)
			puts_(o, ", ");
		quoted(o, l->v[i]);
	}
	puts_(o, "], ");
}

/* labels "KEY=VALUE" back as a mapping (split at the first '=': a key
 * with '=' in it gives the same string back) */
static void klabels(struct out *o, const struct af_list *l)
{
	if (!l->given)
		return;
	puts_(o, "labels: {");
	for (int i = 0; i < l->n; i++) {
		char *eq = strchr(l->v[i], '=');

		FUZZ_ASSERT(eq != NULL);
		*eq = '\0';
		if (i)
			puts_(o, ", ");
		quoted(o, l->v[i]);
		puts_(o, ": ");
		quoted(o, eq + 1);
		*eq = '=';
	}
	puts_(o, "}, ");
}

static void write_edges(struct out *o, const char *what, const struct af_edge *e, int n,
			int deleg)
{
	puts_(o, what);
	puts_(o, ": [");
	for (int i = 0; i < n; i++) {
		puts_(o, "{");
		kv(o, deleg ? "from" : "identity", &e[i].from);
		kv(o, deleg ? "to" : "resource", &e[i].to);
		kv(o, "actions", &e[i].actions);
		klist(o, "scopes", &e[i].scopes);
		kv(o, "expires", &e[i].expires);
		if (deleg)
			kv(o, "reason", &e[i].reason);
		puts_(o, "}, ");
	}
	puts_(o, "],\n");
}

static void write_back(struct out *o, const struct applyfile *f)
{
	int i;

	puts_(o, "{identities: [");
	for (i = 0; i < f->n_idents; i++) {
		const struct af_ident *a = &f->idents[i];

		puts_(o, "{");
		kv(o, "name", &a->name);
		kv(o, "kind", &a->kind);
		kv(o, "owner", &a->owner);
		kv(o, "expires", &a->expires);
		kv(o, "purpose", &a->purpose);
		kv(o, "review_interval", &a->review_interval);
		klist(o, "hosts", &a->hosts);
		klist(o, "services", &a->services);
		klabels(o, &a->labels);
		puts_(o, "}, ");
	}
	puts_(o, "],\nresources: [");
	for (i = 0; i < f->n_resources; i++) {
		const struct af_resource *a = &f->resources[i];

		puts_(o, "{");
		kv(o, "name", &a->name);
		kv(o, "kind", &a->kind);
		kv(o, "uri", &a->uri);
		kv(o, "owner", &a->owner);
		kv(o, "data_class", &a->data_class);
		kv(o, "external", &a->external);
		kv(o, "purpose", &a->purpose);
		klabels(o, &a->labels);
		puts_(o, "}, ");
	}
	puts_(o, "],\n");
	write_edges(o, "grants", f->grants, f->n_grants, 0);
	write_edges(o, "delegations", f->delegations, f->n_delegations, 1);
	puts_(o, "}\n");
}

/* ---- comparing ---- */

static void same_str(const struct af_str *a, const struct af_str *b)
{
	FUZZ_ASSERT((a->v == NULL) == (b->v == NULL));
	FUZZ_ASSERT(a->v == NULL || strcmp(a->v, b->v) == 0);
}

static void same_list(const struct af_list *a, const struct af_list *b)
{
	FUZZ_ASSERT(a->given == b->given && a->n == b->n);
	for (int i = 0; i < a->n; i++)
		FUZZ_ASSERT(strcmp(a->v[i], b->v[i]) == 0);
}

static void same_edges(const struct af_edge *a, const struct af_edge *b, int n)
{
	for (int i = 0; i < n; i++) {
		same_str(&a[i].from, &b[i].from);
		same_str(&a[i].to, &b[i].to);
		same_str(&a[i].actions, &b[i].actions);
		same_str(&a[i].expires, &b[i].expires);
		same_str(&a[i].reason, &b[i].reason);
		same_list(&a[i].scopes, &b[i].scopes);
	}
}

static void same(const struct applyfile *a, const struct applyfile *b)
{
	int i;

	FUZZ_ASSERT(a->n_idents == b->n_idents && a->n_resources == b->n_resources &&
		    a->n_grants == b->n_grants && a->n_delegations == b->n_delegations);
	for (i = 0; i < a->n_idents; i++) {
		const struct af_ident *x = &a->idents[i], *y = &b->idents[i];

		same_str(&x->name, &y->name);
		same_str(&x->kind, &y->kind);
		same_str(&x->owner, &y->owner);
		same_str(&x->expires, &y->expires);
		same_str(&x->purpose, &y->purpose);
		same_str(&x->review_interval, &y->review_interval);
		same_list(&x->hosts, &y->hosts);
		same_list(&x->services, &y->services);
		same_list(&x->labels, &y->labels);
	}
	for (i = 0; i < a->n_resources; i++) {
		const struct af_resource *x = &a->resources[i], *y = &b->resources[i];

		same_str(&x->name, &y->name);
		same_str(&x->kind, &y->kind);
		same_str(&x->uri, &y->uri);
		same_str(&x->owner, &y->owner);
		same_str(&x->data_class, &y->data_class);
		same_str(&x->external, &y->external);
		same_str(&x->purpose, &y->purpose);
		same_list(&x->labels, &y->labels);
	}
	same_edges(a->grants, b->grants, a->n_grants);
	same_edges(a->delegations, b->delegations, a->n_delegations);
}

/* ---- a complete file ---- */

static void complete(const struct applyfile *f)
{
	int i, k;

	for (i = 0; i < f->n_idents; i++) {
		FUZZ_ASSERT(f->idents[i].name.v != NULL);
		for (k = 0; k < i; k++)
			FUZZ_ASSERT(strcmp(f->idents[k].name.v, f->idents[i].name.v) != 0);
		for (k = 0; k < f->idents[i].labels.n; k++)
			FUZZ_ASSERT(strchr(f->idents[i].labels.v[k], '=') != NULL);
	}
	for (i = 0; i < f->n_resources; i++) {
		FUZZ_ASSERT(f->resources[i].name.v != NULL);
		for (k = 0; k < i; k++)
			FUZZ_ASSERT(strcmp(f->resources[k].name.v, f->resources[i].name.v) != 0);
	}
	for (int d = 0; d < 2; d++) {
		const struct af_edge *e = d ? f->delegations : f->grants;
		int n = d ? f->n_delegations : f->n_grants;

		for (i = 0; i < n; i++) {
			FUZZ_ASSERT(e[i].from.v != NULL && e[i].to.v != NULL);
			for (k = 0; k < i; k++)
				FUZZ_ASSERT(strcmp(e[k].from.v, e[i].from.v) != 0 ||
					    strcmp(e[k].to.v, e[i].to.v) != 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct applyfile zero;
	struct applyfile f, g;
	struct errs e = { 0, size };
	struct out o = { NULL, 0, 0 };
	int r;

	if (size > 65536)
		return 0;
	r = applyfile_parse((const char *)data, size, &f, on_error, &e);
	FUZZ_ASSERT(r >= 0);              /* no allocation fails here */
	FUZZ_ASSERT(r == e.n);
	if (r == 0) {
		complete(&f);
		write_back(&o, &f);
		r = applyfile_parse(o.b, o.n, &g, never, NULL);
		if (r != 0)
			fprintf(stderr, "written back:\n%s", o.b);
		FUZZ_ASSERT(r == 0);
		same(&f, &g);
		applyfile_free(&g);
		free(o.b);
	}
	applyfile_free(&f);
	FUZZ_ASSERT(memcmp(&f, &zero, sizeof(f)) == 0);
	return 0;
}

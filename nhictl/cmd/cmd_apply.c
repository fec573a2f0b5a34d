/* cmd_apply.c - nhictl apply: the registry made to agree with a file of
 * identities, resources, grants and delegations (applyfile.h).
 *
 *   1. read and check the file: every problem as FILE:LINE:COL, all of
 *      them, then exit 1 with nothing written;
 *   2. the plan: what to create, what to change field by field and (with
 *      --prune) what apply created that the file no longer names;
 *   3. print it, and unless --dry-run write it through the store with the
 *      single verbs' writers (ident_add_audited, ident_retire,
 *      resource_write, grant_write ...: one audit event per change):
 *      backend = local in one registry transaction, ldap entry by entry
 *      (each change committed after the directory took it; the plan made
 *      after an incremental sync, so against what the directory holds).
 *
 * Expiries: an absolute date is compared as stated (capped, for an edge,
 * at its identities' expiry).  A duration ("90d") sets the expiry at
 * create; afterwards it only shortens: the expiry changes to now + the
 * duration when the stored one lies beyond that.  So a file re-applied
 * daily does not renew anything, and re-applying it changes nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmd.h"
#include "cmd_reach.h"
#include "lifecycle.h"
#include "applyfile.h"

#define SCOPE_MAX 64   /* hosts, services of an identity */

static const char apply_help[] =
	"usage: nhictl apply -f FILE|- [--dry-run] [--prune] [--force] [--json]\n"
	"                    [--changed-exit N]\n"
	"\n"
	"Make the registry agree with FILE (YAML, or JSON): its identities,\n"
	"resources, grants and delegations are created or changed field by field;\n"
	"keys a file leaves out are left as they are.  The plan is printed, one\n"
	"line per change (+ create, ~ change, - retire or remove), then applied:\n"
	"backend = local in one transaction, ldap entry by entry; each change one\n"
	"audit event.  Every error in the file is reported as FILE:LINE:COL and\n"
	"nothing is applied.  Applying the same file again changes nothing.\n"
	"A duration as expiry (90d) sets it at create and later only shortens it;\n"
	"a date is kept as stated.\n"
	"\n"
	"  -f, --file FILE       the desired state ('-': standard input)\n"
	"  -n, --dry-run         print the plan, change nothing\n"
	"      --prune           retire the identities and remove the resources,\n"
	"                        grants and delegations apply created that FILE no\n"
	"                        longer names (never anything else)\n"
	"      --force           prune past apply_max_retire\n"
	"      --json            {\"changed\": BOOL, \"dry_run\": BOOL, \"plan\": [...]}\n"
	"      --changed-exit N  exit N instead of 0 when the plan was not empty\n";

/* ---- the plan ---- */

struct step {
	char op;                       /* '+', '~', '-' */
	const char *type;              /* identity, resource, grant, delegation */
	char *name;                    /* "app-x", "app-x db1", "a -> b" */
	const char *field;             /* '~': the field */
	char *from, *to;
};

struct want_ident {
	const struct af_ident *a;
	int kind, have;
	char owner[64], owner_dn[1024];
	int64_t expires, interval;     /* the target; interval 0: leave */
	const char *hosts[SCOPE_MAX], *services[SCOPE_MAX];
	int n_hosts, n_services;
	char labels[LABELS_BUFSZ];
	struct ident cur;
	int changes;                   /* fields that differ */
};

struct want_res {
	const struct af_resource *a;
	int have, changes;
	struct resource_row r, old;
};

struct want_edge {
	const struct af_edge *a;
	int have, changes;
	struct access_row g, gold;
	struct delegation_row d, dold;
};

struct apply {
	struct nhictl *x;
	const char *file;
	int errors;
	int dry_run, prune, force;
	struct applyfile f;
	struct want_ident *wi;
	struct want_res *wr;
	struct want_edge *wg, *wd;
	struct step *plan;
	int n_plan, cap_plan;
	/* --prune: what goes (rows loaded from the registry) */
	struct ident *gone_i;
	struct resource_row *gone_r;
	struct access_row *gone_g;
	struct delegation_row *gone_d;
	int n_gone_i, n_gone_r, n_gone_g, n_gone_d;
	int64_t managed;               /* objects apply manages (apply_max_retire) */
};

static void perr(struct apply *p, struct af_pos at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(struct apply *p, struct af_pos at, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* one line: a value quoted in the message may hold a newline */
	for (char *s = buf; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
	nerr(p->x, 0, "%s:%d:%d: %s", p->file, at.line, at.col, buf);
	p->errors++;
}

static void file_err(void *ctx, int line, int col, const char *what)
{
	struct af_pos at = { line, col };

	perr(ctx, at, "%s", what);
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (d == NULL) {
		fputs("nhictl: apply: out of memory\n", stderr);
		exit(EXIT_FAIL);
	}
	return d;
}

static void step(struct apply *p, char op, const char *type, const char *name,
		 const char *field, const char *from, const char *to)
{
	struct step *s;

	if (p->n_plan == p->cap_plan) {
		p->cap_plan = p->cap_plan ? 2 * p->cap_plan : 64;
		p->plan = realloc(p->plan, sizeof(*p->plan) * (size_t)p->cap_plan);
		if (p->plan == NULL) {
			fputs("nhictl: apply: out of memory\n", stderr);
			exit(EXIT_FAIL);
		}
	}
	s = &p->plan[p->n_plan++];
	s->op = op;
	s->type = type;
	s->name = xstrdup(name);
	s->field = field;
	s->from = field ? xstrdup(from) : NULL;
	s->to = field ? xstrdup(to) : NULL;
}

static void plan_free(struct apply *p)
{
	for (int i = 0; i < p->n_plan; i++) {
		free(p->plan[i].name);
		free(p->plan[i].from);
		free(p->plan[i].to);
	}
	free(p->plan);
}

/* ---- reading the file ---- */

static int read_all(struct apply *p, const char *path, char **buf, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	size_t cap = 0, n;
	char *b = NULL;

	*len = 0;
	if (f == NULL)
		return nerr(p->x, EXIT_FAIL, "cannot read %s: %s", path, strerror(errno));
	do {
		if (*len + 65536 > cap) {
			cap = cap ? 2 * cap : 65536;
			if (cap > 64u << 20) {
				nerr(p->x, 0, "%s: larger than 64 MiB", p->file);
				goto fail;
			}
			char *nb = realloc(b, cap);

			if (nb == NULL) {
				nerr(p->x, 0, "out of memory");
				goto fail;
			}
			b = nb;
		}
		n = fread(b + *len, 1, cap - *len, f);
		*len += n;
	} while (n > 0);
	if (ferror(f)) {
		nerr(p->x, 0, "cannot read %s: %s", p->file, strerror(errno));
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	*buf = b;
	return 0;
fail:
	if (f != stdin)
		fclose(f);
	free(b);
	return EXIT_FAIL;
}

/* ---- checking the values, with the single verbs' validators ---- */

/* An expiry as written: a duration (relative) or a point in time. */
struct when {
	int given, rel;
	int64_t dur;
	time_t at;
};

static void parse_when(struct apply *p, const struct af_str *s, struct when *w)
{
	char err[256];

	memset(w, 0, sizeof(*w));
	if (s->v == NULL)
		return;
	w->given = 1;
	if (s->v[0] != '\0' && nhi_parse_duration(s->v, &w->dur, err, sizeof(err)) == 0 &&
	    w->dur > 0) {
		w->rel = 1;
		return;
	}
	if (nhi_parse_time(s->v, p->x->now, &w->at, err, sizeof(err)) < 0)
		perr(p, s->pos, "bad expires '%.64s': %s", s->v, err);
}

/* The expiry to have: 'cur' what is stored (0: new), dflt the default
 * lifetime of a new one (0: required), max the limit named maxkey; capped
 * at 'cap' (0: none).  An expiry that would change is checked against now
 * and max. */
static int64_t target_expiry(struct apply *p, const struct when *w, const struct af_str *s,
			     int64_t cur, int64_t dflt, int64_t max, const char *maxkey,
			     int64_t cap)
{
	struct nhictl *x = p->x;
	int64_t t;
	char why[256];

	if (!w->given)
		t = cur ? cur : (int64_t)x->now + dflt;
	else if (!w->rel)
		t = (int64_t)w->at;
	else if (cur == 0 || cur > (int64_t)x->now + w->dur)
		t = (int64_t)x->now + w->dur;
	else
		t = cur;
	if (w->given && t != cur && expiry_why(x, (time_t)t, max, maxkey, why, sizeof(why)) < 0)
		perr(p, s->pos, "%s", why);
	if (cap != 0 && t > cap)
		t = cap;
	return t;
}

static int text_ok(struct apply *p, const struct af_str *s, const char *key, size_t max)
{
	if (s->v != NULL && !nhi_valid_text(s->v, max, 0)) {
		perr(p, s->pos, "bad %s: printable text of at most %zu bytes", key, max);
		return 0;
	}
	return 1;
}

/* The owner: a live human, through the store (as create and resource add). */
static void owner_check(struct apply *p, const struct af_str *s, char *name, size_t nlen,
			char *dn, size_t dlen)
{
	char why[1024] = "";
	int r;

	if (s->v == NULL)
		return;
	if (!nhi_valid_name(s->v) && !(p->x->store->owner_dn_ok && strchr(s->v, '='))) {
		perr(p, s->pos, "invalid owner '%.64s': a user name", s->v);
		return;
	}
	r = p->x->store->owner_resolve(p->x, s->v, name, nlen, dn, dlen, why, sizeof(why));
	if (r < 0 && why[0])      /* the reason names the owner */
		perr(p, s->pos, "%s", why);
	else if (r < 0)
		perr(p, s->pos, "owner '%.64s': cannot be checked", s->v);
}

/* labels: KEY: VALUE each checked (label_check), sorted (labels_apply). */
static void labels_check(struct apply *p, const struct af_list *l, char *out, size_t len)
{
	char why[256];
	int i, bad = 0;

	out[0] = '\0';
	for (i = 0; i < l->n; i++)
		if (label_check(l->v[i], 0, why, sizeof(why)) < 0) {
			perr(p, l->pos[i], "%s", why);
			bad = 1;
		}
	if (!bad && (i = label_dup((const char *const *)l->v, l->n, why, sizeof(why))) >= 0) {
		perr(p, l->pos[i], "%s", why);
		bad = 1;
	}
	if (!bad && labels_apply(out, len, (const char *const *)l->v, l->n, why, sizeof(why)) < 0)
		perr(p, l->at, "%s", why);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* hosts, services: each checked as create does; sorted */
static int scope_list(struct apply *p, const struct af_list *l, const char **out, int host)
{
	int i;

	if (l->n > SCOPE_MAX) {
		perr(p, l->at, "at most %d %s", SCOPE_MAX, host ? "hosts" : "services");
		return 0;
	}
	for (i = 0; i < l->n; i++) {
		if (host ? !nhi_valid_host(l->v[i]) : !nhi_valid_service(l->v[i]))
			perr(p, l->pos[i], "invalid %s '%.64s'", host ? "host" : "PAM service",
			     l->v[i]);
		else if (!host && nhi_service_upper(l->v[i]))
			perr(p, l->pos[i], "PAM service '%.64s' " SERVICE_UPPER_WHY, l->v[i]);
		out[i] = l->v[i];
	}
	qsort(out, (size_t)l->n, sizeof(*out), cmp_str);
	return l->n;
}

/* "a,b" of a list (sorted copy), for comparing and showing */
static void join_sorted(const char *const *v, int n, char *out, size_t len)
{
	const char *s[SCOPE_MAX + 1];
	size_t u = 0;
	int i;

	if (n > SCOPE_MAX)
		n = SCOPE_MAX;
	if (n > 0)
		memcpy(s, v, sizeof(*s) * (size_t)n);
	if (n > 1)
		qsort(s, (size_t)n, sizeof(*s), cmp_str);
	out[0] = '\0';
	for (i = 0; i < n && u < len; i++)
		u += (size_t)snprintf(out + u, len - u, "%s%s", i ? "," : "", s[i]);
}

/* the stored "b,a" as sorted "a,b" */
static void sort_csv(const char *csv, char *out, size_t len)
{
	char copy[1024];
	const char *v[SCOPE_MAX];
	int n = 0;

	snprintf(copy, sizeof(copy), "%s", csv);
	for (char *t = strtok(copy, ","); t != NULL && n < SCOPE_MAX; t = strtok(NULL, ","))
		v[n++] = t;
	join_sorted(v, n, out, len);
}

static struct want_ident *want_ident_find(struct apply *p, const char *name)
{
	for (int i = 0; i < p->f.n_idents; i++)
		if (p->f.idents[i].name.v && strcmp(p->f.idents[i].name.v, name) == 0)
			return &p->wi[i];
	return NULL;
}

static void check_ident(struct apply *p, int i)
{
	struct nhictl *x = p->x;
	const struct af_ident *a = &p->f.idents[i];
	struct want_ident *w = &p->wi[i];
	char err[256];
	struct when exp;
	int r;

	w->a = a;
	if (a->name.v == NULL)
		return;
	if (!nhi_valid_name(a->name.v)) {
		perr(p, a->name.pos, "invalid identity name '%.64s' (lower case letters, digits, "
		     "'_', '.', '-'; starting with a letter or '_'; at most 32)", a->name.v);
		return;
	}
	r = ident_load(x, a->name.v, &w->cur);
	if (r < 0 && r != NHI_ERR_NOTFOUND) {
		p->errors++;
		return;
	}
	w->have = r == 0;
	if (w->have && strcmp(w->cur.state, "retired") == 0)
		perr(p, a->name.pos, "identity '%s' is retired (its name stays reserved)", a->name.v);
	if (!w->have && (getpwnam(a->name.v) != NULL || getgrnam(a->name.v) != NULL))
		perr(p, a->name.pos, "a local account or group '%s' exists (register it with "
		     "'nhictl adopt')", a->name.v);
	w->kind = a->kind.v ? nhi_kind_parse(a->kind.v) : NHI_KIND_SERVICE;
	if (w->kind < 0)
		perr(p, a->kind.pos, "bad kind '%.64s' (service or agent)", a->kind.v);
	else if (w->have && a->kind.v && strcmp(nhi_kind_str(w->kind), w->cur.kind) != 0)
		perr(p, a->kind.pos, "identity '%s' is a%s %s: the kind cannot change", a->name.v,
		     w->cur.kind[0] == 'a' ? "n" : "", w->cur.kind);
	if (a->owner.v == NULL)
		perr(p, a->at, "identity '%s' needs an 'owner'", a->name.v);
	else if (strcmp(a->owner.v, a->name.v) == 0)
		perr(p, a->owner.pos, "an identity cannot own itself");
	owner_check(p, &a->owner, w->owner, sizeof(w->owner), w->owner_dn, sizeof(w->owner_dn));
	if (a->expires.v == NULL)
		perr(p, a->at, "identity '%s' needs 'expires' (identities always expire)",
		     a->name.v);
	parse_when(p, &a->expires, &exp);
	w->expires = target_expiry(p, &exp, &a->expires, w->have ? w->cur.expires : 0, 0,
				   x->conf.max_lifetime, "max_lifetime", 0);
	text_ok(p, &a->purpose, "purpose", 256);
	if (a->review_interval.v != NULL) {
		if (nhi_parse_duration(a->review_interval.v, &w->interval, err, sizeof(err)) < 0)
			perr(p, a->review_interval.pos, "bad review_interval '%.64s': %s",
			     a->review_interval.v, err);
		else if (w->interval <= 0)
			perr(p, a->review_interval.pos, "bad review_interval '%.64s': must be "
			     "positive", a->review_interval.v);
	}
	w->n_hosts = scope_list(p, &a->hosts, w->hosts, 1);
	w->n_services = scope_list(p, &a->services, w->services, 0);
	labels_check(p, &a->labels, w->labels, sizeof(w->labels));
}

static void check_resource(struct apply *p, int i)
{
	struct nhictl *x = p->x;
	const struct af_resource *a = &p->f.resources[i];
	struct want_res *w = &p->wr[i];
	struct resource_row *r = &w->r;
	char why[256];
	int rc;

	w->a = a;
	if (a->name.v == NULL)
		return;
	if (!reach_word_ok(a->name.v, RES_NAME_MAX - 1, "")) {
		perr(p, a->name.pos, "invalid resource name '%.64s' (letters, digits, '.', '_', "
		     "'-'; starting with a letter or digit; at most %d)", a->name.v,
		     RES_NAME_MAX - 1);
		return;
	}
	rc = resource_load(x, a->name.v, &w->old);
	if (rc < 0 && rc != NHI_ERR_NOTFOUND) {
		p->errors++;
		return;
	}
	w->have = rc == 0;
	if (w->have) {
		*r = w->old;
	} else {
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", a->name.v);
		snprintf(r->data_class, sizeof(r->data_class), "internal");
		r->created = (int64_t)x->now;
		r->applied = 1;
	}
	if (a->kind.v == NULL || a->uri.v == NULL || a->owner.v == NULL)
		perr(p, a->at, "resource '%s' needs 'kind', 'uri' and 'owner'", a->name.v);
	if (a->kind.v && !reach_word_ok(a->kind.v, RES_KIND_MAX - 1, ""))
		perr(p, a->kind.pos, "bad kind '%.64s' (letters, digits, '.', '_', '-'; at most %d)",
		     a->kind.v, RES_KIND_MAX - 1);
	else if (a->kind.v)
		snprintf(r->kind, sizeof(r->kind), "%s", a->kind.v);
	if (a->uri.v && uri_why(a->uri.v, why, sizeof(why)) < 0)
		perr(p, a->uri.pos, "bad uri: %s", why);
	else if (a->uri.v)
		snprintf(r->uri, sizeof(r->uri), "%s", a->uri.v);
	owner_check(p, &a->owner, r->owner, sizeof(r->owner), r->owner_dn, sizeof(r->owner_dn));
	if (a->data_class.v && !data_class_valid(a->data_class.v))
		perr(p, a->data_class.pos, "bad data_class '%.64s' (" DATA_CLASSES ")",
		     a->data_class.v);
	else if (a->data_class.v)
		snprintf(r->data_class, sizeof(r->data_class), "%s", a->data_class.v);
	if (a->external.v) {
		const char *e = a->external.v;

		if (!strcmp(e, "true") || !strcmp(e, "yes"))
			r->external = 1;
		else if (!strcmp(e, "false") || !strcmp(e, "no"))
			r->external = 0;
		else
			perr(p, a->external.pos, "bad external '%.16s' (true or false)", e);
	}
	if (text_ok(p, &a->purpose, "purpose", RES_TEXT_MAX) && a->purpose.v)
		snprintf(r->purpose, sizeof(r->purpose), "%s", a->purpose.v);
	if (a->labels.given)
		labels_check(p, &a->labels, r->labels, sizeof(r->labels));
}

/* actions and scopes of an edge, checked as grant add / delegate add do */
static void check_actions_scopes(struct apply *p, const struct af_edge *a, unsigned dflt,
				 unsigned *actions, char *scopes, size_t len)
{
	struct reach_args ra;
	const char *bad;
	int i, ok = 1;

	*actions = dflt;
	if (a->actions.v == NULL && dflt == 0)
		perr(p, a->at, "a grant needs 'actions' (read, write, exec, admin)");
	else if (a->actions.v && access_actions_parse(a->actions.v, actions, &bad) < 0)
		perr(p, a->actions.pos, "bad actions '%.64s': unknown, repeated or empty action "
		     "(read, write, exec, admin)", a->actions.v);
	memset(&ra, 0, sizeof(ra));
	if (a->scopes.n > REACH_SCOPES_MAX) {
		perr(p, a->scopes.at, "at most %d scopes", REACH_SCOPES_MAX);
		return;
	}
	for (i = 0; i < a->scopes.n; i++) {
		if (!reach_word_ok(a->scopes.v[i], 128, ":/@")) {
			perr(p, a->scopes.pos[i], "bad scope '%.64s' (letters, digits, '.', '_', "
			     "'-', ':', '/', '@'; at most 128)", a->scopes.v[i]);
			ok = 0;
		}
		ra.scopes[ra.nscopes++] = a->scopes.v[i];
	}
	if (ok && reach_check_scopes(p->x, &ra, scopes, len) != 0)
		p->errors++;
}

/* An identity an edge names: in the file, or registered and not retired.
 * Its expiry (the target when in the file) into *expires; the registry
 * row (0: not created yet) into *row. */
static int edge_ident(struct apply *p, const struct af_str *s, int64_t *expires, int64_t *row)
{
	struct want_ident *w;
	struct ident id;
	int r;

	*expires = 0;
	*row = 0;
	if (!nhi_valid_name(s->v)) {
		perr(p, s->pos, "invalid identity name '%.64s'", s->v);
		return -1;
	}
	if ((w = want_ident_find(p, s->v)) != NULL) {
		*expires = w->expires;
		*row = w->have ? w->cur.id : 0;
		return 0;
	}
	r = ident_load(p->x, s->v, &id);
	if (r == NHI_ERR_NOTFOUND || (r == 0 && strcmp(id.state, "retired") == 0)) {
		perr(p, s->pos, r == 0 ? "identity '%.64s' is retired" :
		     "identity '%.64s' is neither in the file nor registered", s->v);
		return -1;
	}
	if (r < 0) {
		p->errors++;
		return -1;
	}
	*expires = id.expires;
	*row = id.id;
	return 0;
}

static void check_grant(struct apply *p, int i)
{
	struct nhictl *x = p->x;
	const struct af_edge *a = &p->f.grants[i];
	struct want_edge *w = &p->wg[i];
	struct access_row *g = &w->g;
	struct resource_row res;
	struct when exp;
	int64_t cap, row, res_row = 0;
	int in_file = 0, r, bad = 0;

	w->a = a;
	if (a->from.v == NULL || a->to.v == NULL)
		return;
	memset(g, 0, sizeof(*g));
	check_actions_scopes(p, a, 0, &g->actions, g->scopes, sizeof(g->scopes));
	bad = edge_ident(p, &a->from, &cap, &row) < 0;
	for (int k = 0; k < p->f.n_resources; k++)
		if (p->f.resources[k].name.v && strcmp(p->f.resources[k].name.v, a->to.v) == 0) {
			in_file = 1;
			res_row = p->wr[k].have ? p->wr[k].old.id : 0;
		}
	if (!in_file) {
		r = reach_word_ok(a->to.v, RES_NAME_MAX - 1, "") ? resource_load(x, a->to.v, &res) :
		    NHI_ERR_NOTFOUND;
		if (r == NHI_ERR_NOTFOUND) {
			perr(p, a->to.pos, "resource '%.64s' is neither in the file nor registered",
			     a->to.v);
			bad = 1;
		} else if (r < 0) {
			p->errors++;
			bad = 1;
		} else {
			res_row = res.id;
		}
	}
	if (bad)
		return;
	snprintf(g->identity, sizeof(g->identity), "%s", a->from.v);
	snprintf(g->resource, sizeof(g->resource), "%s", a->to.v);
	g->identity_id = row;
	g->resource_id = res_row;
	w->have = row && res_row && grant_load(x, row, res_row, 0, &w->gold) == 0;
	parse_when(p, &a->expires, &exp);
	g->expires = target_expiry(p, &exp, &a->expires, w->have ? w->gold.expires : 0,
				   x->conf.grant_lifetime, x->conf.grant_max_lifetime,
				   "grant_max_lifetime", cap);
	if (w->have) {
		g->id = w->gold.id;
		g->created = w->gold.created;
		g->managed = w->gold.managed;
		g->applied = w->gold.applied;
		snprintf(g->entry_uuid, sizeof(g->entry_uuid), "%s", w->gold.entry_uuid);
	} else {
		g->created = (int64_t)x->now;
		g->applied = 1;
	}
}

static void check_delegation(struct apply *p, int i)
{
	struct nhictl *x = p->x;
	const struct af_edge *a = &p->f.delegations[i];
	struct want_edge *w = &p->wd[i];
	struct delegation_row *d = &w->d;
	struct when exp;
	int64_t cf, ct, rf, rt;
	int bad;

	w->a = a;
	if (a->from.v == NULL || a->to.v == NULL)
		return;
	memset(d, 0, sizeof(*d));
	check_actions_scopes(p, a, NHI_ACT_ALL, &d->actions, d->scopes, sizeof(d->scopes));
	if (text_ok(p, &a->reason, "reason", RES_TEXT_MAX) && a->reason.v)
		snprintf(d->reason, sizeof(d->reason), "%s", a->reason.v);
	bad = edge_ident(p, &a->from, &cf, &rf) < 0;
	bad |= edge_ident(p, &a->to, &ct, &rt) < 0;
	if (!bad && strcmp(a->from.v, a->to.v) == 0) {
		perr(p, a->to.pos, "'%.64s' cannot delegate to itself", a->from.v);
		bad = 1;
	}
	if (bad)
		return;
	snprintf(d->from, sizeof(d->from), "%s", a->from.v);
	snprintf(d->to, sizeof(d->to), "%s", a->to.v);
	d->from_id = rf;
	d->to_id = rt;
	w->have = rf && rt && delegation_load(x, rf, rt, &w->dold) == 0;
	if (w->have && a->reason.v == NULL)
		snprintf(d->reason, sizeof(d->reason), "%s", w->dold.reason);
	parse_when(p, &a->expires, &exp);
	d->expires = target_expiry(p, &exp, &a->expires, w->have ? w->dold.expires : 0,
				   x->conf.delegation_lifetime, x->conf.delegation_max_lifetime,
				   "delegation_max_lifetime", cf && ct ? (cf < ct ? cf : ct) : cf + ct);
	if (w->have) {
		d->id = w->dold.id;
		d->created = w->dold.created;
		d->managed = w->dold.managed;
		d->applied = w->dold.applied;
		snprintf(d->entry_uuid, sizeof(d->entry_uuid), "%s", w->dold.entry_uuid);
	} else {
		d->created = (int64_t)x->now;
		d->applied = 1;
	}
}

/* ---- the plan: what differs ---- */

static void diff_str(struct apply *p, int *n, const char *type, const char *name,
		     const char *field, const char *from, const char *to)
{
	if (strcmp(from, to) == 0)
		return;
	step(p, '~', type, name, field, from[0] ? from : "-", to[0] ? to : "-");
	++*n;
}

static void diff_time(struct apply *p, int *n, const char *type, const char *name,
		      int64_t from, int64_t to)
{
	char b1[NHI_TIME_BUFSZ], b2[NHI_TIME_BUFSZ];

	if (from != to)
		diff_str(p, n, type, name, "expires", nhi_format_time((time_t)from, b1),
			 nhi_format_time((time_t)to, b2));
}

static void plan_ident(struct apply *p, struct want_ident *w)
{
	const struct af_ident *a = w->a;
	const struct ident *c = &w->cur;
	const char *n = a->name.v;
	char b1[1024], b2[1024];

	if (!w->have) {
		step(p, '+', "identity", n, NULL, NULL, NULL);
		return;
	}
	diff_str(p, &w->changes, "identity", n, "owner", c->owner, w->owner);
	diff_time(p, &w->changes, "identity", n, c->expires, w->expires);
	if (a->purpose.v)
		diff_str(p, &w->changes, "identity", n, "purpose", c->purpose, a->purpose.v);
	if (w->interval && w->interval != c->review_interval)
		diff_str(p, &w->changes, "identity", n, "review_interval",
			 nhi_format_duration(c->review_interval, b1, sizeof(b1)),
			 nhi_format_duration(w->interval, b2, sizeof(b2)));
	if (a->hosts.given) {
		sort_csv(c->hosts, b1, sizeof(b1));
		join_sorted(w->hosts, w->n_hosts, b2, sizeof(b2));
		diff_str(p, &w->changes, "identity", n, "hosts", b1, b2);
	}
	if (a->services.given) {
		sort_csv(c->services, b1, sizeof(b1));
		join_sorted(w->services, w->n_services, b2, sizeof(b2));
		diff_str(p, &w->changes, "identity", n, "services", b1, b2);
	}
	if (a->labels.given)
		diff_str(p, &w->changes, "identity", n, "labels", c->labels, w->labels);
}

static void plan_resource(struct apply *p, struct want_res *w)
{
	const struct resource_row *o = &w->old, *r = &w->r;
	const char *n = r->name;

	if (!w->have) {
		step(p, '+', "resource", n, NULL, NULL, NULL);
		return;
	}
	diff_str(p, &w->changes, "resource", n, "kind", o->kind, r->kind);
	diff_str(p, &w->changes, "resource", n, "uri", o->uri, r->uri);
	diff_str(p, &w->changes, "resource", n, "owner", o->owner, r->owner);
	diff_str(p, &w->changes, "resource", n, "data_class", o->data_class, r->data_class);
	diff_str(p, &w->changes, "resource", n, "external", o->external ? "true" : "false",
		 r->external ? "true" : "false");
	diff_str(p, &w->changes, "resource", n, "purpose", o->purpose, r->purpose);
	diff_str(p, &w->changes, "resource", n, "labels", o->labels, r->labels);
}

static void plan_edge(struct apply *p, struct want_edge *w, int deleg)
{
	char name[200], a1[ACT_BUFSZ], a2[ACT_BUFSZ];
	const char *type = deleg ? "delegation" : "grant";
	unsigned oa = deleg ? w->dold.actions : w->gold.actions;
	unsigned na = deleg ? w->d.actions : w->g.actions;

	snprintf(name, sizeof(name), deleg ? "%s -> %s" : "%s %s", w->a->from.v, w->a->to.v);
	if (!w->have) {
		step(p, '+', type, name, NULL, NULL, NULL);
		return;
	}
	diff_str(p, &w->changes, type, name, "actions", access_actions_format(oa, a1, sizeof(a1)),
		 access_actions_format(na, a2, sizeof(a2)));
	diff_str(p, &w->changes, type, name, "scopes", deleg ? w->dold.scopes : w->gold.scopes,
		 deleg ? w->d.scopes : w->g.scopes);
	diff_time(p, &w->changes, type, name, deleg ? w->dold.expires : w->gold.expires,
		  deleg ? w->d.expires : w->g.expires);
	if (deleg)
		diff_str(p, &w->changes, type, name, "reason", w->dold.reason, w->d.reason);
}

/* --prune: what apply created that the file no longer names.  The names
 * a file edge uses stay (it needs them). */
static int named(struct apply *p, const char *name, int res)
{
	int i;

	if (res) {
		for (i = 0; i < p->f.n_resources; i++)
			if (p->f.resources[i].name.v && !strcmp(p->f.resources[i].name.v, name))
				return 1;
		for (i = 0; i < p->f.n_grants; i++)
			if (p->f.grants[i].to.v && !strcmp(p->f.grants[i].to.v, name))
				return 1;
		return 0;
	}
	if (want_ident_find(p, name) != NULL)
		return 1;
	for (i = 0; i < p->f.n_grants; i++)
		if (p->f.grants[i].from.v && !strcmp(p->f.grants[i].from.v, name))
			return 1;
	for (i = 0; i < p->f.n_delegations; i++)
		if ((p->f.delegations[i].from.v && !strcmp(p->f.delegations[i].from.v, name)) ||
		    (p->f.delegations[i].to.v && !strcmp(p->f.delegations[i].to.v, name)))
			return 1;
	return 0;
}

static int edge_named(struct apply *p, const struct af_edge *e, int n, const char *from,
		      const char *to)
{
	for (int i = 0; i < n; i++)
		if (e[i].from.v && e[i].to.v && !strcmp(e[i].from.v, from) && !strcmp(e[i].to.v, to))
			return 1;
	return 0;
}

static void *grow(void *arr, int n, size_t size)
{
	void *a = realloc(arr, size * (size_t)(n + 1));

	if (a == NULL) {
		fputs("nhictl: apply: out of memory\n", stderr);
		exit(EXIT_FAIL);
	}
	return a;
}

/* A resource removed takes every grant on it (resource remove's rule),
 * also those apply did not make (by hand, or a credential's): each one
 * into the plan, so that it is shown and counted against
 * apply_max_retire, and removed before its resource. */
static int prune_resource_grants(struct apply *p)
{
	struct nhictl *x = p->x;
	char name[200];
	int k, i, r = SQLITE_DONE;

	for (k = 0; k < p->n_gone_r && r == SQLITE_DONE; k++) {
		sqlite3_stmt *st = reg_prep(x, "SELECT " GRANT_COLS " FROM " GRANT_FROM
					    " WHERE a.resource_id = ? ORDER BY i.name, c.cred_id", "i",
					    p->gone_r[k].id);

		if (st == NULL)
			return NHI_ERR_DB;
		while ((r = sqlite3_step(st)) == SQLITE_ROW) {
			struct access_row g;

			grant_from_row(st, &g);
			for (i = 0; i < p->n_gone_g && p->gone_g[i].id != g.id; i++)
				;
			if (i < p->n_gone_g)
				continue;
			p->gone_g = grow(p->gone_g, p->n_gone_g, sizeof(g));
			p->gone_g[p->n_gone_g++] = g;
			snprintf(name, sizeof(name), "%s %s%s%s", g.identity, g.resource,
				 g.cred[0] ? " --cred " : "", g.cred);
			step(p, '-', "grant", name, NULL, NULL, NULL);
		}
		sqlite3_finalize(st);
	}
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

static int plan_prune(struct apply *p)
{
	struct nhictl *x = p->x;
	sqlite3_stmt *st;
	char name[200];
	int r;

	/* every object apply manages, for apply_max_retire */
	if (reg_int(x, &p->managed, 0, "SELECT (SELECT count(*) FROM identity WHERE applied = 1 "
		    "AND state <> 'retired') + (SELECT count(*) FROM resource WHERE applied = 1) + "
		    "(SELECT count(*) FROM access WHERE applied = 1) + (SELECT count(*) FROM "
		    "delegation WHERE applied = 1)", "") < 0)
		return NHI_ERR_DB;
	st = reg_prep(x, "SELECT " GRANT_COLS " FROM " GRANT_FROM " WHERE a.applied = 1 "
		      "ORDER BY i.name, r.name", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct access_row g;

		grant_from_row(st, &g);
		if (g.credential_id || edge_named(p, p->f.grants, p->f.n_grants, g.identity,
						  g.resource))
			continue;
		p->gone_g = grow(p->gone_g, p->n_gone_g, sizeof(g));
		p->gone_g[p->n_gone_g++] = g;
		snprintf(name, sizeof(name), "%s %s", g.identity, g.resource);
		step(p, '-', "grant", name, NULL, NULL, NULL);
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return reg_dberr(x);
	st = reg_prep(x, "SELECT " DELEGATION_COLS " FROM " DELEGATION_FROM " WHERE d.applied = 1 "
		      "ORDER BY f.name, t.name", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct delegation_row d;

		delegation_from_row(st, &d);
		if (edge_named(p, p->f.delegations, p->f.n_delegations, d.from, d.to))
			continue;
		p->gone_d = grow(p->gone_d, p->n_gone_d, sizeof(d));
		p->gone_d[p->n_gone_d++] = d;
		snprintf(name, sizeof(name), "%s -> %s", d.from, d.to);
		step(p, '-', "delegation", name, NULL, NULL, NULL);
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return reg_dberr(x);
	st = reg_prep(x, "SELECT " RESOURCE_COLS " FROM resource r WHERE r.applied = 1 "
		      "ORDER BY r.name", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct resource_row res;

		resource_from_row(st, &res);
		if (named(p, res.name, 1))
			continue;
		p->gone_r = grow(p->gone_r, p->n_gone_r, sizeof(res));
		p->gone_r[p->n_gone_r++] = res;
		step(p, '-', "resource", res.name, NULL, NULL, NULL);
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return reg_dberr(x);
	if ((r = prune_resource_grants(p)) < 0)
		return r;
	st = reg_prep(x, "SELECT name FROM identity WHERE applied = 1 AND state <> 'retired' "
		      "ORDER BY name", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(st, 0);

		if (n == NULL || named(p, n, 0))
			continue;
		p->gone_i = grow(p->gone_i, p->n_gone_i, sizeof(struct ident));
		if (ident_load(x, n, &p->gone_i[p->n_gone_i]) < 0) {
			r = SQLITE_ERROR;
			break;
		}
		p->n_gone_i++;
		step(p, '-', "identity", n, NULL, NULL, NULL);
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return r == SQLITE_ERROR ? NHI_ERR_DB : reg_dberr(x);
	return 0;
}

/* apply_max_retire: a count, or a percentage of what apply manages (at
 * least one); 0 no limit. */
static int retire_limit(struct apply *p)
{
	const struct nhi_conf *c = &p->x->conf;
	int64_t n = p->n_gone_i + p->n_gone_r + p->n_gone_g + p->n_gone_d, max;
	char limit[64];

	if (n == 0 || p->force || c->apply_max_retire == 0)
		return 0;
	if (c->apply_max_retire_percent) {
		max = (p->managed * c->apply_max_retire + 99) / 100;
		if (max < 1)
			max = 1;
		snprintf(limit, sizeof(limit), "%u%% of %lld", (unsigned)c->apply_max_retire,
			 (long long)p->managed);
	} else {
		max = c->apply_max_retire;
		snprintf(limit, sizeof(limit), "%u", (unsigned)c->apply_max_retire);
	}
	if (n <= max)
		return 0;
	return nerr(p->x, EXIT_FAIL, "the plan retires or removes %lld objects, more than "
		    "apply_max_retire (%s); nothing was changed.  If they really are gone, run "
		    "again with --force", (long long)n, limit);
}

/* ---- printing the plan ---- */

static void plan_print(struct apply *p)
{
	struct json j;

	if (!p->x->json) {
		for (int i = 0; i < p->n_plan; i++) {
			const struct step *s = &p->plan[i];

			if (s->field)
				printf("%c %s %s %s: %s -> %s\n", s->op, s->type, s->name, s->field,
				       s->from, s->to);
			else
				printf("%c %s %s\n", s->op, s->type, s->name);
		}
		if (p->n_plan == 0)
			printf("nothing to change\n");
		else if (p->dry_run)
			printf("(dry run: nothing changed)\n");
		return;
	}
	json_init(&j, stdout);
	json_obj(&j);
	json_kbool(&j, "changed", p->n_plan > 0);
	json_kbool(&j, "dry_run", p->dry_run);
	json_key(&j, "plan");
	json_arr(&j);
	for (int i = 0; i < p->n_plan; i++) {
		const struct step *s = &p->plan[i];

		json_obj(&j);
		json_kstr(&j, "op", s->op == '+' ? "create" : s->op == '~' ? "update" :
			  strcmp(s->type, "identity") == 0 ? "retire" : "remove");
		json_kstr(&j, "type", s->type);
		json_kstr(&j, "name", s->name);
		if (s->field) {
			json_kstr(&j, "field", s->field);
			json_kstr(&j, "from", s->from);
			json_kstr(&j, "to", s->to);
		}
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_end(&j);
}

/* ---- writing ---- */

/* backend = ldap: each change is committed once the directory took it,
 * so that registry.db keeps agreeing with the directory if a later one
 * fails; local: one transaction, committed at the end. */
static int step_done(struct apply *p)
{
	if (p->x->conf.backend == NHI_BACKEND_LOCAL)
		return 0;
	if (reg_commit(p->x) < 0 || reg_begin(p->x) < 0)
		return NHI_ERR_DB;
	return 0;
}

static int write_ident(struct apply *p, struct want_ident *w)
{
	struct nhictl *x = p->x;
	const struct af_ident *a = w->a;
	char home[PATH_MAX], gecos[264], det[2600 + 2 * LABELS_BUFSZ];
	struct ident got;
	int r;

	if (!w->have) {
		struct store_new n = { 0 };
		uint32_t uid;

		if ((r = x->store->alloc_uid(x, &uid)) < 0)
			return r;
		snprintf(home, sizeof(home), "%s/%s", x->conf.home_base, a->name.v);
		snprintf(gecos, sizeof(gecos), "%s", purpose_gecos(a->purpose.v));
		n.name = a->name.v;
		n.kind = w->kind;
		n.uid = n.gid = uid;
		n.gecos = gecos;
		n.home = home;
		n.shell = x->conf.default_shell;
		n.purpose = a->purpose.v;
		n.owner = w->owner;
		n.owner_dn = w->owner_dn;
		n.expires = (time_t)w->expires;
		n.interval = w->interval ? w->interval : x->conf.review_interval;
		n.hosts = w->hosts;
		n.services = w->services;
		n.n_hosts = w->n_hosts;
		n.n_services = w->n_services;
		n.labels = w->labels;
		n.applied = 1;
		if ((r = ident_add_audited(x, &n, &got)) < 0)
			return r;
		w->cur = got;
		return step_done(p);
	}
	if (w->changes == 0)
		return 0;
	{
		struct store_change c = { 0 };
		const struct ident *o = &w->cur;
		size_t u = 0;

		det[0] = '\0';
		for (int i = 0; i < p->n_plan; i++) {
			const struct step *s = &p->plan[i];

			if (s->field && s->op == '~' && strcmp(s->type, "identity") == 0 &&
			    strcmp(s->name, a->name.v) == 0 && u < sizeof(det))
				u += (size_t)snprintf(det + u, sizeof(det) - u, "%s%s %s -> %s",
						      u ? "; " : "", s->field, s->from, s->to);
		}
		if (strcmp(o->owner, w->owner) != 0) {
			c.owner = w->owner;
			c.owner_dn = w->owner_dn;
			c.clear_orphaned = 1;
			if (strcmp(o->state, "orphaned") == 0) {
				c.state_from = o->state;
				c.state_to = "active";
			}
		}
		if (o->expires != w->expires)
			c.expires = (time_t)w->expires;
		if (a->purpose.v && strcmp(o->purpose, a->purpose.v) != 0) {
			c.purpose = a->purpose.v;
			c.gecos = gecos_follow(o, c.purpose);
		}
		if (w->interval && w->interval != o->review_interval)
			c.interval = w->interval;
		if (a->hosts.given) {
			c.set_hosts = 1;
			c.hosts = w->hosts;
			c.n_hosts = w->n_hosts;
		}
		if (a->services.given) {
			c.set_services = 1;
			c.services = w->services;
			c.n_services = w->n_services;
		}
		if (a->labels.given && strcmp(o->labels, w->labels) != 0)
			c.labels = w->labels;
		if ((r = x->store->update(x, o, &c)) < 0)
			return r;
		if ((c.owner != NULL && (r = owner_id_record(x, a->name.v)) < 0) ||
		    (r = reg_event(x, "modify", a->name.v, "ok", "%s (nhictl apply)%s", det,
				   x->store->audit_tag)) < 0) {
			x->store->abort(x);
			return r;
		}
	}
	return step_done(p);
}

/* the registry row of an identity or resource the file names (created
 * earlier in this run, or registered) */
static int row_of(struct apply *p, const char *name, int res, int64_t *row)
{
	struct resource_row rr;
	struct ident id;
	int r = res ? resource_load(p->x, name, &rr) : ident_load(p->x, name, &id);

	if (r < 0)
		return nerr(p->x, NHI_ERR_NOTFOUND, "%s '%s' is not in the registry", res ?
			    "resource" : "identity", name);
	*row = res ? rr.id : id.id;
	return 0;
}

static int write_edge(struct apply *p, struct want_edge *w, int deleg)
{
	struct nhictl *x = p->x;
	int r;

	if (w->have && w->changes == 0)
		return 0;
	if (deleg) {
		if ((r = row_of(p, w->d.from, 0, &w->d.from_id)) < 0 ||
		    (r = row_of(p, w->d.to, 0, &w->d.to_id)) < 0)
			return r;
		if (!w->have && delegation_room_ids(x, w->d.from_id, w->d.from, w->d.to_id,
						    w->d.to) != 0)
			return NHI_ERR_PERM;
		r = delegation_write(x, w->have ? &w->dold : NULL, &w->d);
	} else {
		if ((r = row_of(p, w->g.identity, 0, &w->g.identity_id)) < 0 ||
		    (r = row_of(p, w->g.resource, 1, &w->g.resource_id)) < 0)
			return r;
		r = grant_write(x, w->have ? &w->gold : NULL, &w->g);
	}
	return r < 0 ? r : step_done(p);
}

static int write_plan(struct apply *p)
{
	struct nhictl *x = p->x;
	int64_t n;
	int i, r = 0;

	for (i = 0; i < p->f.n_idents && r == 0; i++)
		r = write_ident(p, &p->wi[i]);
	for (i = 0; i < p->f.n_resources && r == 0; i++)
		if (!p->wr[i].have || p->wr[i].changes)
			r = resource_write(x, p->wr[i].have ? &p->wr[i].old : NULL, &p->wr[i].r);
	if (r == 0)
		r = x->conf.backend == NHI_BACKEND_LOCAL ? 0 : step_done(p);
	for (i = 0; i < p->f.n_grants && r == 0; i++)
		r = write_edge(p, &p->wg[i], 0);
	for (i = 0; i < p->f.n_delegations && r == 0; i++)
		r = write_edge(p, &p->wd[i], 1);
	for (i = 0; i < p->n_gone_g && r == 0; i++)
		if ((r = grant_remove_write(x, &p->gone_g[i], "no longer in the file (nhictl "
					    "apply --prune)")) == 0)
			r = step_done(p);
	for (i = 0; i < p->n_gone_d && r == 0; i++)
		if ((r = delegation_remove_write(x, &p->gone_d[i], "no longer in the file "
						 "(nhictl apply --prune)")) == 0)
			r = step_done(p);
	for (i = 0; i < p->n_gone_r && r == 0; i++)
		if ((r = resource_remove_write(x, &p->gone_r[i], "resource no longer in the file "
					       "(nhictl apply --prune)", &n)) == 0)
			r = step_done(p);
	for (i = 0; i < p->n_gone_i && r == 0; i++)
		if ((r = ident_retire(x, &p->gone_i[i], "no longer in the file (nhictl apply "
				      "--prune)")) == 0)
			r = step_done(p);
	if (r < 0) {
		x->store->abort(x);
		return EXIT_FAIL;
	}
	if (reg_commit(x) < 0)
		return EXIT_FAIL;
	return EXIT_OK;
}

/* ---- the verb ---- */

static int parse_opts(struct apply *p, int argc, char **argv, const char **file)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "prune", no_argument, NULL, 'P' },
		{ "force", no_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "changed-exit", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct nhictl *x = p->x;
	char *end;
	long v;
	int c;

	while ((c = getopt_long(argc, argv, ":f:nh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': *file = optarg; break;
		case 'n': p->dry_run = 1; break;
		case 'P': p->prune = 1; break;
		case 'F': p->force = 1; break;
		case 'j': x->json = 1; break;
		case 'x':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 0 || v > 255)
				return nerr(x, EXIT_USAGE, "bad --changed-exit '%s'", optarg);
			x->changed_exit = (int)v;
			break;
		case 'h':
			fputs(apply_help, stdout);
			return -1;
		default:
			return opt_error(x, c, argv);
		}
	}
	if (optind < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s' (the file is given with -f)",
			    argv[optind]);
	if (*file == NULL)
		return nerr(x, EXIT_USAGE, "-f FILE is required ('-': standard input)");
	return 0;
}

int cmd_apply(struct nhictl *x, int argc, char **argv)
{
	struct apply p = { .x = x };
	const char *file = NULL;
	size_t len = 0;
	char *buf = NULL;
	int i, r, rc = EXIT_FAIL;

	if ((r = parse_opts(&p, argc, argv, &file)) != 0)
		return r < 0 ? EXIT_OK : r;
	p.file = strcmp(file, "-") == 0 ? "<stdin>" : file;
	if (read_all(&p, file, &buf, &len) != 0)
		return EXIT_FAIL;
	r = applyfile_parse(buf, len, &p.f, file_err, &p);
	free(buf);
	if (r < 0) {
		nerr(x, 0, "out of memory");
		goto out;
	}
	/* backend = ldap: the plan is made against the directory as it is
	 * now, so an incremental sync first: what other hosts wrote, and what
	 * an apply interrupted after a directory write left behind */
	if (x->conf.backend == NHI_BACKEND_LDAP && sync_pull(x) != 0)
		goto out;
	/* the registry as it is, under the write lock (ldap: every reach
	 * entry read in: the plan compares them all) */
	if (x->store->reach_lock(x, NULL) < 0)
		goto out;
	p.wi = calloc((size_t)p.f.n_idents + 1, sizeof(*p.wi));
	p.wr = calloc((size_t)p.f.n_resources + 1, sizeof(*p.wr));
	p.wg = calloc((size_t)p.f.n_grants + 1, sizeof(*p.wg));
	p.wd = calloc((size_t)p.f.n_delegations + 1, sizeof(*p.wd));
	if (!p.wi || !p.wr || !p.wg || !p.wd) {
		nerr(x, 0, "out of memory");
		goto out;
	}
	for (i = 0; i < p.f.n_idents; i++)
		check_ident(&p, i);
	for (i = 0; i < p.f.n_resources; i++)
		check_resource(&p, i);
	for (i = 0; i < p.f.n_grants; i++)
		check_grant(&p, i);
	for (i = 0; i < p.f.n_delegations; i++)
		check_delegation(&p, i);
	if (p.errors > 0) {
		nerr(x, 0, "%s: %d error%s; nothing was applied", p.file, p.errors,
		     p.errors == 1 ? "" : "s");
		goto out;
	}
	for (i = 0; i < p.f.n_idents; i++)
		plan_ident(&p, &p.wi[i]);
	for (i = 0; i < p.f.n_resources; i++)
		plan_resource(&p, &p.wr[i]);
	for (i = 0; i < p.f.n_grants; i++)
		plan_edge(&p, &p.wg[i], 0);
	for (i = 0; i < p.f.n_delegations; i++)
		plan_edge(&p, &p.wd[i], 1);
	if (p.prune && plan_prune(&p) < 0)
		goto out;
	if ((rc = retire_limit(&p)) != 0)
		goto out;
	plan_print(&p);
	if (p.dry_run || p.n_plan == 0) {
		/* --changed-exit tells "would change" apart */
		x->changed = p.n_plan > 0;
		rc = EXIT_OK;
		goto out;
	}
	if (fflush(stdout) != 0)
		goto out;
	/* tests: another writer between the plan and its write */
	fault("apply-write-exec");
	rc = write_plan(&p);
out:
	plan_free(&p);
	free(p.wi);
	free(p.wr);
	free(p.wg);
	free(p.wd);
	free(p.gone_i);
	free(p.gone_r);
	free(p.gone_g);
	free(p.gone_d);
	applyfile_free(&p.f);
	return rc;
}

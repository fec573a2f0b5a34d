/* reach_args.c - what the reach verbs share (cmd_reach.h), below them:
 * the option parser and sub-command table, the checks of names and
 * values, and the state of a grant now (cmd_resource.c and cmd_grant.c
 * both call here, never each other).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "cmd_reach.h"

/* ---- the shared parser ---- */

static const struct option reach_opts[] = {
	{ "kind", required_argument, NULL, 'k' },
	{ "uri", required_argument, NULL, 'u' },
	{ "owner", required_argument, NULL, 'o' },
	{ "data-class", required_argument, NULL, 'd' },
	{ "external", optional_argument, NULL, 'X' },
	{ "purpose", required_argument, NULL, 'p' },
	{ "actions", required_argument, NULL, 'a' },
	{ "scope", required_argument, NULL, 's' },
	{ "cred", required_argument, NULL, 'c' },
	{ "expires", required_argument, NULL, 'e' },
	{ "reason", required_argument, NULL, 'r' },
	{ "resource", required_argument, NULL, 'R' },
	{ "force", no_argument, NULL, 'f' },
	{ "label", required_argument, NULL, 'l' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char *long_name(int c)
{
	for (const struct option *o = reach_opts; o->name != NULL; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

/* One option into a; 0, or an exit code. */
static int take(struct nhictl *x, struct reach_args *a, int c, const char *v)
{
	size_t n = strlen(a->given);

	char why[256];

	if (strchr(a->given, c) != NULL && c != 's' && c != 'l')
		return nerr(x, EXIT_USAGE, "option '--%s' given twice", long_name(c));
	if (n + 1 < sizeof(a->given)) {
		a->given[n] = (char)c;
		a->given[n + 1] = '\0';
	}
	switch (c) {
	case 'k': a->kind = v; break;
	case 'u': a->uri = v; break;
	case 'o': a->owner = v; break;
	case 'd': a->data_class = v; break;
	case 'p': a->purpose = v; break;
	case 'a': a->actions = v; break;
	case 'c': a->cred = v; break;
	case 'e': a->expires = v; break;
	case 'r': a->reason = v; break;
	case 'R': a->resource = v; break;
	case 'f': a->force = 1; break;
	case 'X':
		if (v == NULL || strcmp(v, "yes") == 0)
			a->external = 1;
		else if (strcmp(v, "no") == 0)
			a->external = 0;
		else
			return nerr(x, EXIT_USAGE, "bad --external '%s' (yes or no)", v);
		break;
	case 'l':
		if (label_check(v, 0, why, sizeof(why)) < 0)
			return nerr(x, EXIT_USAGE, "%s", why);
		if (a->nlabel >= LABELS_MAX)
			return nerr(x, EXIT_USAGE, "too many --label options (at most %d)", LABELS_MAX);
		a->label[a->nlabel++] = v;
		if (label_dup(a->label, a->nlabel, why, sizeof(why)) >= 0)
			return nerr(x, EXIT_USAGE, "%s", why);
		break;
	case 's':
		if (a->nscopes >= REACH_SCOPES_MAX)
			return nerr(x, EXIT_USAGE, "at most %d --scope", REACH_SCOPES_MAX);
		a->scopes[a->nscopes++] = v;
		break;
	}
	return 0;
}

int reach_run(struct nhictl *x, int argc, char **argv, const struct reach_sub *subs, size_t n,
	      const char *help)
{
	struct reach_args a;
	const struct reach_sub *sub = NULL;
	char names[128] = "";
	const char *s;
	size_t i;
	int c, r;

	memset(&a, 0, sizeof(a));
	a.external = -1;
	for (i = 0; i < n; i++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 i ? ", " : "", subs[i].name);
	while ((c = getopt_long(argc, argv, ":k:u:o:d:p:a:s:c:e:r:R:l:fh", reach_opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(help, stdout);
			return EXIT_OK;
		}
		if (c == 'j') {
			x->json = 1;
			continue;
		}
		if (c == '?' || c == ':')
			return opt_error(x, c, argv);
		if ((r = take(x, &a, c, optarg)) != 0)
			return r;
	}
	if (optind >= argc)
		return nerr(x, EXIT_USAGE, "missing sub-command (%s)", names);
	for (i = 0; i < n; i++)
		if (strcmp(subs[i].name, argv[optind]) == 0)
			sub = &subs[i];
	if (sub == NULL)
		return nerr(x, EXIT_USAGE, "unknown sub-command '%s' (%s)", argv[optind], names);
	if (x->store != NULL && x->store->reach_lock == NULL)
		return nerr(x, EXIT_FAIL, "not available with backend = %s", x->store->name);
	for (s = a.given; *s; s++)
		if (strchr(sub->opts, *s) == NULL)
			return nerr(x, EXIT_USAGE, "option '--%s' is not accepted by '%s %s' (try "
				    "'nhictl %s --help')", long_name(*s), x->verb, sub->name, x->verb);
	a.narg = argc - optind - 1;
	if (a.narg < sub->min)
		return nerr(x, EXIT_USAGE, "%s: missing argument (try 'nhictl %s --help')",
			    sub->name, x->verb);
	if (a.narg > sub->max)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind + 1 + sub->max]);
	for (i = 0; i < (size_t)a.narg; i++)
		a.arg[i] = argv[optind + 1 + i];
	return sub->fn(x, &a);
}

/* ---- checks ---- */

int reach_check_ident_name(struct nhictl *x, const char *name)
{
	if (!nhi_valid_name(name))
		return nerr(x, EXIT_USAGE, "invalid identity name '%s' (lower case letters, "
			    "digits, '_', '.', '-'; starting with a letter or '_'; at most 32)", name);
	return 0;
}

/* [A-Za-z0-9._-], starting with a letter or digit: nothing a DN or an
 * LDAP filter gives a meaning to */
int reach_word_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
				   (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-' || (ch != '\0' && strchr(extra, ch))))
			return 0;
	}
	return 1;
}

int reach_check_resource_name(struct nhictl *x, const char *name)
{
	if (!reach_word_ok(name, RES_NAME_MAX - 1, ""))
		return nerr(x, EXIT_USAGE, "invalid resource name '%s' (letters, digits, '.', "
			    "'_', '-'; starting with a letter or digit; at most %d)", name,
			    RES_NAME_MAX - 1);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int reach_check_scopes(struct nhictl *x, const struct reach_args *a, char *out, size_t len)
{
	const char *v[REACH_SCOPES_MAX];
	size_t used = 0;
	int i, n = a->nscopes;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!reach_word_ok(a->scopes[i], 128, ":/@"))
			return nerr(x, EXIT_USAGE, "bad --scope '%s' (letters, digits, '.', '_', '-', "
				    "':', '/', '@'; at most 128)", a->scopes[i]);
		v[i] = a->scopes[i];
	}
	qsort(v, (size_t)n, sizeof(v[0]), cmp_str);
	for (i = 0; i < n; i++) {
		int k;

		if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
			continue;
		k = snprintf(out + used, len - used, "%s%s", used ? "," : "", v[i]);
		if (k < 0 || (size_t)k >= len - used)
			return nerr(x, EXIT_USAGE, "too many scopes (at most %zu bytes)", len - 1);
		used += (size_t)k;
	}
	return 0;
}

int reach_check_actions(struct nhictl *x, const char *s, unsigned dflt, unsigned *out)
{
	const char *bad;
	size_t n;

	if (s == NULL && dflt == 0)
		return nerr(x, EXIT_USAGE, "--actions is required (read, write, exec, admin)");
	if (s == NULL) {
		*out = dflt;
		return 0;
	}
	if (access_actions_parse(s, out, &bad) == 0)
		return 0;
	n = strcspn(bad, ",");
	if (*s == '\0' || n == 0)
		return nerr(x, EXIT_USAGE, "bad --actions '%s': an empty action (read, write, "
			    "exec, admin)", s);
	return nerr(x, EXIT_USAGE, "bad --actions '%s': unknown or repeated action '%.*s' "
		    "(read, write, exec, admin)", s, (int)n, bad);
}

int reach_expiry(struct nhictl *x, const char *when, int64_t dflt, int64_t max,
		 const char *maxkey, int64_t *out)
{
	char err[256];
	time_t t;

	if (when == NULL) {
		*out = (int64_t)x->now + dflt;
		return 0;
	}
	if (nhi_parse_time(when, x->now, &t, err, sizeof(err)) < 0)
		return nerr(x, EXIT_USAGE, "bad --expires '%s': %s", when, err);
	if (expiry_why(x, t, max, maxkey, err, sizeof(err)) < 0)
		return nerr(x, EXIT_FAIL, "%s", err);
	*out = (int64_t)t;
	return 0;
}

void reach_cap(struct nhictl *x, int64_t *expires, int64_t limit, int asked, const char *what)
{
	char b1[NHI_TIME_BUFSZ];

	if (limit == 0 || *expires <= limit)
		return;
	if (asked)
		fprintf(stderr, "nhictl: %s: note: expiry capped at that of %s (%s)\n", x->verb,
			what, nhi_format_time((time_t)limit, b1));
	*expires = limit;
}

int reach_ident(struct nhictl *x, const char *name, struct ident *id, int live)
{
	int r = reach_check_ident_name(x, name);

	if (r != 0)
		return r;
	r = ident_load(x, name, id);
	if (r == NHI_ERR_NOTFOUND)
		return nerr(x, EXIT_FAIL, "no identity '%s' in the registry", name);
	if (r < 0)
		return EXIT_FAIL;
	if (live && strcmp(id->state, "retired") == 0)
		return nerr(x, EXIT_FAIL, "identity '%s' is retired", name);
	return 0;
}

int reach_resource(struct nhictl *x, const char *name, struct resource_row *r)
{
	int rc = reach_check_resource_name(x, name);

	if (rc != 0)
		return rc;
	rc = resource_load(x, name, r);
	if (rc == NHI_ERR_NOTFOUND)
		return nerr(x, EXIT_FAIL, "no resource '%s' in the registry", name);
	return rc < 0 ? EXIT_FAIL : 0;
}

int reach_list(struct nhictl *x, sqlite3_stmt *st, const char *header,
	       void (*row)(struct nhictl *x, sqlite3_stmt *st, struct json *j))
{
	struct json j;
	int r;

	if (st == NULL)
		return EXIT_FAIL;
	if (x->json) {
		json_init(&j, stdout);
		json_arr(&j);
	} else if (header != NULL) {
		fputs(header, stdout);
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		row(x, st, x->json ? &j : NULL);
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return exit_code(reg_dberr(x));
	if (x->json) {
		json_arr_end(&j);
		json_end(&j);
	}
	return EXIT_OK;
}

/* ---- state of an edge now ---- */

/* An identity on an edge: why it cuts the edge ("" when it does not). */
void reach_ident_cut(struct nhictl *x, const char *name, const char *state, int64_t expires,
		     char *why, size_t len)
{
	if (why[0] != '\0')
		return;
	if (strcmp(state, "active") != 0)
		snprintf(why, len, "identity '%s' is %s", name, state);
	else if (expires != 0 && expires <= (int64_t)x->now)
		snprintf(why, len, "identity '%s' expired", name);
}

/* "live", "expired" or "cut" (why) from the edge's expiry and 'why'. */
const char *reach_edge_state(struct nhictl *x, int64_t expires, char *why, size_t len)
{
	if (expires <= (int64_t)x->now) {
		snprintf(why, len, "%s", "");
		return "expired";
	}
	return why[0] ? "cut" : "live";
}

const char *reach_grant_state(struct nhictl *x, const struct access_row *g, char *why,
			      size_t len)
{
	sqlite3_stmt *st;

	why[0] = '\0';
	st = reg_prep_cached(x, "SELECT i.state, i.expires, c.state, c.not_after, c.grace_until "
			     "FROM identity i LEFT JOIN credential c ON c.id = ? WHERE i.id = ?",
			     "ii", g->credential_id, g->identity_id);
	if (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		char istate[16], cstate[16];
		int64_t na = sqlite3_column_int64(st, 3), gu = sqlite3_column_int64(st, 4);

		col_cpy(istate, sizeof(istate), st, 0);
		col_cpy(cstate, sizeof(cstate), st, 2);
		reach_ident_cut(x, g->identity, istate, sqlite3_column_int64(st, 1), why, len);
		if (why[0] == '\0' && g->credential_id != 0) {
			if (strcmp(cstate, "revoked") == 0)
				snprintf(why, len, "credential %s is revoked", g->cred);
			else if (strcmp(cstate, "grace") == 0 && gu <= (int64_t)x->now)
				snprintf(why, len, "credential %s is revoked (grace ended)", g->cred);
			else if (na != 0 && na <= (int64_t)x->now)
				snprintf(why, len, "credential %s expired", g->cred);
		}
	}
	reg_release(st);
	return reach_edge_state(x, g->expires, why, len);
}


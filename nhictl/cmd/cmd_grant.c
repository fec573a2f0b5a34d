/* cmd_grant.c - grants (identity -> resource): grant add|list|remove;
 * delegations (identity -> identity): delegate add|list|remove; the
 * reach of a credential (cred list) and the retire cascade.
 *
 * Every grant and delegation expires: --expires, at most grant_max_lifetime
 * (delegation_max_lifetime) from now, else grant_lifetime
 * (delegation_lifetime); never past either identity's expiry nor the bound
 * credential's not-after (capped, with a note when --expires asked for
 * more).  Adding the same edge again changes nothing (exit 0); with other
 * actions, scopes, --expires or --reason it is updated (without --expires
 * the expiry stays).  Removing one that is not there changes nothing.
 * max_delegations caps the delegations from, and to, one identity.
 */
#include <string.h>
#include "cmd.h"
#include "cmd_reach.h"

static const char *delegation_state(struct nhictl *x, const struct delegation_row *d, char *why,
				    size_t len)
{
	sqlite3_stmt *st;

	why[0] = '\0';
	st = reg_prep_cached(x, "SELECT f.state, f.expires, t.state, t.expires FROM identity f, "
			     "identity t WHERE f.id = ? AND t.id = ?", "ii", d->from_id, d->to_id);
	if (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		char fs[16], ts[16];

		col_cpy(fs, sizeof(fs), st, 0);
		col_cpy(ts, sizeof(ts), st, 2);
		reach_ident_cut(x, d->from, fs, sqlite3_column_int64(st, 1), why, len);
		reach_ident_cut(x, d->to, ts, sqlite3_column_int64(st, 3), why, len);
	}
	reg_release(st);
	return reach_edge_state(x, d->expires, why, len);
}

/* ---- output ---- */

static void grant_json_fields(struct nhictl *x, struct json *j, const struct access_row *g)
{
	char acts[ACT_BUFSZ], why[256];
	const char *state = reach_grant_state(x, g, why, sizeof(why));

	json_kstr(j, "identity", g->identity);
	json_kstr(j, "resource", g->resource);
	json_kstr(j, "credential", g->cred[0] ? g->cred : NULL);
	json_klist(j, "actions", access_actions_format(g->actions, acts, sizeof(acts)));
	json_klist(j, "scopes", g->scopes);
	json_ktime(j, "created", g->created);
	json_ktime(j, "expires", g->expires);
	json_kstr(j, "state", state);
	json_kstr(j, "reason", why[0] ? why : NULL);
	json_kbool(j, "applied", g->applied);
}

static void delegation_json_fields(struct nhictl *x, struct json *j, const struct delegation_row *d)
{
	char acts[ACT_BUFSZ], why[256];
	const char *state = delegation_state(x, d, why, sizeof(why));

	json_kstr(j, "from", d->from);
	json_kstr(j, "to", d->to);
	json_klist(j, "actions", access_actions_format(d->actions, acts, sizeof(acts)));
	json_klist(j, "scopes", d->scopes);
	json_kstr(j, "reason", d->reason);
	json_ktime(j, "created", d->created);
	json_ktime(j, "expires", d->expires);
	json_kstr(j, "state", state);
	json_kstr(j, "cut", why[0] ? why : NULL);
	json_kbool(j, "applied", d->applied);
}

/* The answer of add and remove: 'line', or the edge as JSON with
 * "result" (added, updated, unchanged, removed) and "changed". */
static int edge_answer(struct nhictl *x, const struct access_row *g, const struct delegation_row *d,
		       const char *result, const char *line)
{
	struct json j;

	if (!x->json) {
		printf("%s\n", line);
		return EXIT_OK;
	}
	json_init(&j, stdout);
	json_obj(&j);
	if (g != NULL)
		grant_json_fields(x, &j, g);
	else
		delegation_json_fields(x, &j, d);
	json_kstr(&j, "result", result);
	json_kbool(&j, "changed", strcmp(result, "unchanged") != 0);
	json_obj_end(&j);
	json_end(&j);
	return EXIT_OK;
}

/* The change and its audit event are written: commit, the answer. */
static int edge_commit(struct nhictl *x, const struct access_row *g,
		       const struct delegation_row *d, const char *result, const char *line)
{
	if (reg_commit(x) < 0)
		return EXIT_FAIL;
	return edge_answer(x, g, d, result, line);
}

/* The audit event of an edge's change (the change written): 0, or
 * NHI_ERR_* after rolling back. */
static int edge_event(struct nhictl *x, const char *action, const char *target,
		      const char *detail)
{
	int r = reg_event(x, action, target, "ok", "%s%s", detail, x->store->audit_tag);

	if (r < 0)
		x->store->abort(x);
	return r;
}

/* "actions=read,write scopes=a,b expires=..." for the audit log */
static void edge_detail(char *buf, size_t len, unsigned actions, const char *scopes,
			int64_t expires)
{
	char acts[ACT_BUFSZ], b1[NHI_TIME_BUFSZ];

	snprintf(buf, len, "actions=%s%s%s expires=%s",
		 access_actions_format(actions, acts, sizeof(acts)), scopes[0] ? " scopes=" : "",
		 scopes, nhi_format_time((time_t)expires, b1));
}

/* ---- grant ---- */

static const char grant_help[] =
	"usage: nhictl grant add NAME RESOURCE --actions ACTIONS [--scope S]... [--cred ID]\n"
	"                        [--expires WHEN] [--json]\n"
	"       nhictl grant list [NAME] [--resource RESOURCE] [--json]\n"
	"       nhictl grant remove NAME RESOURCE [--cred ID] [--json]\n"
	"\n"
	"Grants: what identity NAME may do on RESOURCE.  With --cred the grant is\n"
	"that credential's: it ends when the credential is revoked or expires,\n"
	"and a rotation carries it to the new credential.  Every grant expires\n"
	"(grant_lifetime, at most grant_max_lifetime; never after the identity or\n"
	"the credential).  Adding the same grant again changes nothing (exit 0);\n"
	"other actions, scopes or --expires update it.  'list' shows each grant's\n"
	"state: live, expired, or cut (why: the identity or credential).\n"
	"\n"
	"  -a, --actions ACTIONS   comma list of read, write, exec, admin\n"
	"  -s, --scope S           a scope within the resource (repeatable)\n"
	"  -c, --cred ID           bound to the identity's credential ID\n"
	"  -e, --expires WHEN      expiry (date, or +DURATION)\n"
	"  -R, --resource R        list: the grants on resource R\n"
	"      --json              machine-readable output\n";

/* NAME RESOURCE [--cred ID]: the identity (not retired), the resource and
 * the credential row (0 without --cred).  0 or an exit code. */
static int grant_target(struct nhictl *x, struct reach_args *a, struct ident *id,
			struct resource_row *res, struct cred *c)
{
	/* the resource's row and the identity's grants on it */
	const struct reach_scope s = { .resource = a->arg[1], .ident = a->arg[0] };
	int r;

	if ((r = reach_check_ident_name(x, a->arg[0])) != 0 ||
	    (r = reach_check_resource_name(x, a->arg[1])) != 0)
		return r;
	if (a->cred != NULL && !nhi_valid_text(a->cred, CRED_ID_MAX - 1, 1))
		return nerr(x, EXIT_USAGE, "invalid credential ID '%s'", a->cred);
	memset(c, 0, sizeof(*c));
	if (x->store->reach_lock(x, &s) < 0)
		return EXIT_FAIL;
	if ((r = reach_ident(x, a->arg[0], id, 1)) != 0 ||
	    (r = reach_resource(x, a->arg[1], res)) != 0)
		return r;
	if (a->cred != NULL && cred_load(x, id, a->cred, c) < 0)
		return EXIT_FAIL;
	return 0;
}

static int grant_add(struct nhictl *x, struct reach_args *a)
{
	char scopes[SCOPES_MAX], line[512], b1[NHI_TIME_BUFSZ], acts[ACT_BUFSZ];
	struct access_row old, g;
	struct resource_row res;
	struct ident id;
	struct cred c;
	unsigned actions;
	int64_t expires;
	int r, have;

	if ((r = reach_check_actions(x, a->actions, 0, &actions)) != 0 ||
	    (r = reach_check_scopes(x, a, scopes, sizeof(scopes))) != 0)
		return r;
	/* the expiry's syntax before anything is looked up */
	if ((r = reach_expiry(x, a->expires, x->conf.grant_lifetime, x->conf.grant_max_lifetime,
			      "grant_max_lifetime", &expires)) != 0)
		return r;
	if ((r = grant_target(x, a, &id, &res, &c)) != 0)
		return r;
	if (a->cred != NULL && !cred_usable(&c, x->now))
		return nerr(x, EXIT_FAIL, "credential %s of '%s' is %s: a grant cannot be bound to "
			    "it", c.id, id.name, cred_state(&c, x->now));
	reach_cap(x, &expires, id.expires, a->expires != NULL, "the identity");
	if (a->cred != NULL)
		reach_cap(x, &expires, c.not_after, a->expires != NULL, "the credential");
	r = grant_load(x, id.id, res.id, c.row, &old);
	if (r < 0 && r != NHI_ERR_NOTFOUND)
		return EXIT_FAIL;
	have = r == 0;
	if (have) {
		g = old;
	} else {
		memset(&g, 0, sizeof(g));
		g.identity_id = id.id;
		g.resource_id = res.id;
		g.credential_id = c.row;
		snprintf(g.identity, sizeof(g.identity), "%s", id.name);
		snprintf(g.resource, sizeof(g.resource), "%s", res.name);
		snprintf(g.cred, sizeof(g.cred), "%s", c.id);
		g.created = (int64_t)x->now;
	}
	g.actions = actions;
	snprintf(g.scopes, sizeof(g.scopes), "%s", scopes);
	/* without --expires an existing grant keeps its expiry: adding it
	 * again is not a renewal */
	if (!have || a->expires != NULL)
		g.expires = expires;
	snprintf(line, sizeof(line), "grant %s on %s%s%s: %s until %s", g.identity, g.resource,
		 g.cred[0] ? " through credential " : "", g.cred,
		 access_actions_format(g.actions, acts, sizeof(acts)),
		 nhi_format_time((time_t)g.expires, b1));
	if (have && old.actions == g.actions && strcmp(old.scopes, g.scopes) == 0 &&
	    old.expires == g.expires) {
		strncat(line, " (unchanged)", sizeof(line) - strlen(line) - 1);
		return edge_answer(x, &old, NULL, "unchanged", line);
	}
	if (grant_write(x, have ? &old : NULL, &g) < 0)
		return EXIT_FAIL;
	strncat(line, have ? " (updated)" : " (added)", sizeof(line) - strlen(line) - 1);
	return edge_commit(x, &g, NULL, have ? "updated" : "added", line);
}

int grant_write(struct nhictl *x, const struct access_row *old, struct access_row *g)
{
	char det[1400];
	int r;

	r = old ? x->store->grant_update(x, old, g) : x->store->grant_add(x, g);
	if (r < 0)
		return r;
	edge_detail(det, sizeof(det), g->actions, g->scopes, g->expires);
	snprintf(det + strlen(det), sizeof(det) - strlen(det), " resource=%s%s%s%s", g->resource,
		 g->cred[0] ? " cred=" : "", g->cred, g->applied && !old ? " (nhictl apply)" : "");
	return edge_event(x, old ? "grant-update" : "grant-add", g->identity, det);
}

int grant_remove_write(struct nhictl *x, const struct access_row *g, const char *why)
{
	char det[1400];
	int r;

	if ((r = x->store->grant_remove(x, g)) < 0)
		return r;
	edge_detail(det, sizeof(det), g->actions, g->scopes, g->expires);
	snprintf(det + strlen(det), sizeof(det) - strlen(det), " resource=%s%s%s%s%s", g->resource,
		 g->cred[0] ? " cred=" : "", g->cred, why[0] ? ": " : "", why);
	return edge_event(x, "grant-remove", g->identity, det);
}

static int grant_remove(struct nhictl *x, struct reach_args *a)
{
	char line[512];
	struct resource_row res;
	struct access_row g;
	struct ident id;
	struct cred c;
	int r;

	if ((r = grant_target(x, a, &id, &res, &c)) != 0)
		return r;
	r = grant_load(x, id.id, res.id, c.row, &g);
	if (r == NHI_ERR_NOTFOUND) {
		snprintf(line, sizeof(line), "no grant of %s on %s%s%s (nothing changed)", id.name,
			 res.name, a->cred ? " through credential " : "", a->cred ? a->cred : "");
		if (!x->json) {
			printf("%s\n", line);
			return EXIT_OK;
		}
		memset(&g, 0, sizeof(g));
		snprintf(g.identity, sizeof(g.identity), "%s", id.name);
		snprintf(g.resource, sizeof(g.resource), "%s", res.name);
		snprintf(g.cred, sizeof(g.cred), "%s", c.id);
		g.identity_id = id.id;
		g.expires = (int64_t)x->now;
		return edge_answer(x, &g, NULL, "unchanged", line);
	}
	if (r < 0 || grant_remove_write(x, &g, "") < 0)
		return EXIT_FAIL;
	snprintf(line, sizeof(line), "grant %s on %s%s%s removed", g.identity, g.resource,
		 g.cred[0] ? " through credential " : "", g.cred);
	return edge_commit(x, &g, NULL, "removed", line);
}

static void grant_row(struct nhictl *x, sqlite3_stmt *st, struct json *j)
{
	char acts[ACT_BUFSZ], b1[NHI_TIME_BUFSZ], why[256];
	struct access_row g;
	const char *state;

	grant_from_row(st, &g);
	if (j != NULL) {
		json_obj(j);
		grant_json_fields(x, j, &g);
		json_obj_end(j);
		return;
	}
	state = reach_grant_state(x, &g, why, sizeof(why));
	printf("%-20s %-24s %-22s %-14s %-20s %-8s %s%s%s\n", g.identity, g.resource,
	       access_actions_format(g.actions, acts, sizeof(acts)), g.cred[0] ? g.cred : "-",
	       nhi_format_time((time_t)g.expires, b1), state, g.scopes[0] ? g.scopes : "-",
	       why[0] ? "  # " : "", why);
}

static int grant_list(struct nhictl *x, struct reach_args *a)
{
	struct resource_row res = { 0 };
	struct ident id = { 0 };
	char header[160];
	int r;

	if ((a->narg > 0 && (r = reach_ident(x, a->arg[0], &id, 0)) != 0) ||
	    (a->resource != NULL && (r = reach_resource(x, a->resource, &res)) != 0))
		return r;
	snprintf(header, sizeof(header), "%-20s %-24s %-22s %-14s %-20s %-8s %s\n", "IDENTITY",
		 "RESOURCE", "ACTIONS", "CREDENTIAL", "EXPIRES", "STATE", "SCOPES");
	return reach_list(x, reg_prep(x, "SELECT " GRANT_COLS " FROM " GRANT_FROM " WHERE (?1 = 0 "
				      "OR a.identity_id = ?1) AND (?2 = 0 OR a.resource_id = ?2) "
				      "ORDER BY i.name, r.name, a.id", "ii", id.id, res.id),
			  header, grant_row);
}

int cmd_grant(struct nhictl *x, int argc, char **argv)
{
	static const struct reach_sub subs[] = {
		{ "add", grant_add, 2, 2, "asce" },
		{ "list", grant_list, 0, 1, "R" },
		{ "remove", grant_remove, 2, 2, "c" },
	};

	return reach_run(x, argc, argv, subs, sizeof(subs) / sizeof(subs[0]), grant_help);
}

/* ---- delegate ---- */

static const char delegate_help[] =
	"usage: nhictl delegate add FROM TO [--actions ACTIONS] [--scope S]... [--expires WHEN]\n"
	"                           [--reason TEXT] [--json]\n"
	"       nhictl delegate list [NAME] [--json]\n"
	"       nhictl delegate remove FROM TO [--json]\n"
	"\n"
	"Delegations: identity FROM (an agent) may act through identity TO (a tool\n"
	"account, another agent).  --actions limits what FROM gets through TO (it\n"
	"never widens TO's grants; default: no limit).  Every delegation expires\n"
	"(delegation_lifetime, at most delegation_max_lifetime; never after either\n"
	"identity).  max_delegations caps the delegations from, and to, one\n"
	"identity.  Adding the same delegation again changes nothing (exit 0).\n"
	"'list NAME' shows those from and to NAME.\n"
	"\n"
	"  -a, --actions ACTIONS   the limit: comma list of read, write, exec, admin\n"
	"  -s, --scope S           a scope (repeatable)\n"
	"  -e, --expires WHEN      expiry (date, or +DURATION)\n"
	"  -r, --reason TEXT       why (shown, audited)\n"
	"      --json              machine-readable output\n";

/* FROM TO: names, not the same, both registered and not retired. */
static int delegation_target(struct nhictl *x, struct reach_args *a, struct ident *from,
			     struct ident *to)
{
	/* the pair's delegation, and those max_delegations counts */
	const struct reach_scope s = { .from = a->arg[0], .to = a->arg[1] };
	int r;

	if ((r = reach_check_ident_name(x, a->arg[0])) != 0 ||
	    (r = reach_check_ident_name(x, a->arg[1])) != 0)
		return r;
	if (strcmp(a->arg[0], a->arg[1]) == 0)
		return nerr(x, EXIT_FAIL, "'%s' cannot delegate to itself", a->arg[0]);
	if (x->store->reach_lock(x, &s) < 0)
		return EXIT_FAIL;
	if ((r = reach_ident(x, a->arg[0], from, 1)) != 0 ||
	    (r = reach_ident(x, a->arg[1], to, 1)) != 0)
		return r;
	return 0;
}

/* max_delegations: one more from 'from' and to 'to'?  0 or EXIT_FAIL. */
int delegation_room_ids(struct nhictl *x, int64_t from, const char *from_name, int64_t to,
			const char *to_name)
{
	int64_t nf = 0, nt = 0;
	uint32_t max = x->conf.max_delegations;

	if (max == 0)
		return 0;
	if (reg_int(x, &nf, 0, "SELECT count(*) FROM delegation WHERE from_id = ?", "i", from) < 0 ||
	    reg_int(x, &nt, 0, "SELECT count(*) FROM delegation WHERE to_id = ?", "i", to) < 0)
		return EXIT_FAIL;
	if (nf >= max)
		return nerr(x, EXIT_FAIL, "'%s' already delegates to %lld identities: "
			    "max_delegations = %u", from_name, (long long)nf, max);
	if (nt >= max)
		return nerr(x, EXIT_FAIL, "%lld identities already delegate to '%s': "
			    "max_delegations = %u", (long long)nt, to_name, max);
	return 0;
}

static int delegation_room(struct nhictl *x, const struct ident *from, const struct ident *to)
{
	return delegation_room_ids(x, from->id, from->name, to->id, to->name);
}

static int delegate_add(struct nhictl *x, struct reach_args *a)
{
	char scopes[SCOPES_MAX], line[512], b1[NHI_TIME_BUFSZ], acts[ACT_BUFSZ];
	struct delegation_row old, d;
	struct ident from, to;
	unsigned actions;
	int64_t expires;
	int r, have;

	if ((r = reach_check_actions(x, a->actions, NHI_ACT_ALL, &actions)) != 0 ||
	    (r = reach_check_scopes(x, a, scopes, sizeof(scopes))) != 0)
		return r;
	if (a->reason != NULL && !nhi_valid_text(a->reason, RES_TEXT_MAX, 0))
		return nerr(x, EXIT_USAGE, "bad --reason: printable text of at most %d bytes",
			    RES_TEXT_MAX);
	if ((r = reach_expiry(x, a->expires, x->conf.delegation_lifetime,
			      x->conf.delegation_max_lifetime, "delegation_max_lifetime",
			      &expires)) != 0)
		return r;
	if ((r = delegation_target(x, a, &from, &to)) != 0)
		return r;
	reach_cap(x, &expires, from.expires, a->expires != NULL, "the delegating identity");
	reach_cap(x, &expires, to.expires, a->expires != NULL, "the identity delegated to");
	r = delegation_load(x, from.id, to.id, &old);
	if (r < 0 && r != NHI_ERR_NOTFOUND)
		return EXIT_FAIL;
	have = r == 0;
	if (have) {
		d = old;
	} else {
		memset(&d, 0, sizeof(d));
		d.from_id = from.id;
		d.to_id = to.id;
		snprintf(d.from, sizeof(d.from), "%s", from.name);
		snprintf(d.to, sizeof(d.to), "%s", to.name);
		d.created = (int64_t)x->now;
	}
	d.actions = actions;
	snprintf(d.scopes, sizeof(d.scopes), "%s", scopes);
	if (a->reason != NULL)
		snprintf(d.reason, sizeof(d.reason), "%s", a->reason);
	if (!have || a->expires != NULL)
		d.expires = expires;
	snprintf(line, sizeof(line), "delegation %s -> %s: %s until %s", d.from, d.to,
		 d.actions == NHI_ACT_ALL ? "no limit" :
		 access_actions_format(d.actions, acts, sizeof(acts)),
		 nhi_format_time((time_t)d.expires, b1));
	if (have && old.actions == d.actions && strcmp(old.scopes, d.scopes) == 0 &&
	    old.expires == d.expires && strcmp(old.reason, d.reason) == 0) {
		strncat(line, " (unchanged)", sizeof(line) - strlen(line) - 1);
		return edge_answer(x, NULL, &old, "unchanged", line);
	}
	if (!have && (r = delegation_room(x, &from, &to)) != 0)
		return r;
	if (delegation_write(x, have ? &old : NULL, &d) < 0)
		return EXIT_FAIL;
	strncat(line, have ? " (updated)" : " (added)", sizeof(line) - strlen(line) - 1);
	return edge_commit(x, NULL, &d, have ? "updated" : "added", line);
}

int delegation_write(struct nhictl *x, const struct delegation_row *old, struct delegation_row *d)
{
	char det[1700];
	int r;

	r = old ? x->store->delegation_update(x, old, d) : x->store->delegation_add(x, d);
	if (r < 0)
		return r;
	edge_detail(det, sizeof(det), d->actions, d->scopes, d->expires);
	snprintf(det + strlen(det), sizeof(det) - strlen(det), " to=%s%s%s%s%s", d->to,
		 d->reason[0] ? " reason='" : "", d->reason, d->reason[0] ? "'" : "",
		 d->applied && !old ? " (nhictl apply)" : "");
	return edge_event(x, old ? "delegate-update" : "delegate-add", d->from, det);
}

int delegation_remove_write(struct nhictl *x, const struct delegation_row *d, const char *why)
{
	char det[1700];
	int r;

	if ((r = x->store->delegation_remove(x, d)) < 0)
		return r;
	edge_detail(det, sizeof(det), d->actions, d->scopes, d->expires);
	snprintf(det + strlen(det), sizeof(det) - strlen(det), " to=%s%s%s", d->to,
		 why[0] ? ": " : "", why);
	return edge_event(x, "delegate-remove", d->from, det);
}

static int delegate_remove(struct nhictl *x, struct reach_args *a)
{
	char line[512];
	struct delegation_row d;
	struct ident from, to;
	int r;

	if ((r = delegation_target(x, a, &from, &to)) != 0)
		return r;
	r = delegation_load(x, from.id, to.id, &d);
	if (r == NHI_ERR_NOTFOUND) {
		snprintf(line, sizeof(line), "no delegation %s -> %s (nothing changed)", from.name,
			 to.name);
		if (!x->json) {
			printf("%s\n", line);
			return EXIT_OK;
		}
		memset(&d, 0, sizeof(d));
		snprintf(d.from, sizeof(d.from), "%s", from.name);
		snprintf(d.to, sizeof(d.to), "%s", to.name);
		d.from_id = from.id;
		d.to_id = to.id;
		d.expires = (int64_t)x->now;
		return edge_answer(x, NULL, &d, "unchanged", line);
	}
	if (r < 0 || delegation_remove_write(x, &d, "") < 0)
		return EXIT_FAIL;
	snprintf(line, sizeof(line), "delegation %s -> %s removed", d.from, d.to);
	return edge_commit(x, NULL, &d, "removed", line);
}

static void delegation_row(struct nhictl *x, sqlite3_stmt *st, struct json *j)
{
	char acts[ACT_BUFSZ], b1[NHI_TIME_BUFSZ], why[256];
	struct delegation_row d;
	const char *state;

	delegation_from_row(st, &d);
	if (j != NULL) {
		json_obj(j);
		delegation_json_fields(x, j, &d);
		json_obj_end(j);
		return;
	}
	state = delegation_state(x, &d, why, sizeof(why));
	printf("%-20s %-20s %-22s %-20s %-8s %s%s%s\n", d.from, d.to,
	       d.actions == NHI_ACT_ALL ? "-" : access_actions_format(d.actions, acts, sizeof(acts)),
	       nhi_format_time((time_t)d.expires, b1), state, d.reason, why[0] ? "  # " : "", why);
}

static int delegate_list(struct nhictl *x, struct reach_args *a)
{
	struct ident id = { 0 };
	char header[160];
	int r;

	if (a->narg > 0 && (r = reach_ident(x, a->arg[0], &id, 0)) != 0)
		return r;
	snprintf(header, sizeof(header), "%-20s %-20s %-22s %-20s %-8s %s\n", "FROM", "TO",
		 "LIMIT", "EXPIRES", "STATE", "REASON");
	return reach_list(x, reg_prep(x, "SELECT " DELEGATION_COLS " FROM " DELEGATION_FROM
				      " WHERE ?1 = 0 OR d.from_id = ?1 OR d.to_id = ?1 "
				      "ORDER BY f.name, t.name", "i", id.id), header, delegation_row);
}

int cmd_delegate(struct nhictl *x, int argc, char **argv)
{
	static const struct reach_sub subs[] = {
		{ "add", delegate_add, 2, 2, "aser" },
		{ "list", delegate_list, 0, 1, "" },
		{ "remove", delegate_remove, 2, 2, "" },
	};

	return reach_run(x, argc, argv, subs, sizeof(subs) / sizeof(subs[0]), delegate_help);
}

/* ---- cred list: what each credential reaches ---- */

int reach_cred_grants(struct nhictl *x, int64_t cred_row, struct json *j)
{
	char acts[ACT_BUFSZ], b1[NHI_TIME_BUFSZ], why[256];
	sqlite3_stmt *st;
	int r;

	st = reg_prep(x, "SELECT " GRANT_COLS " FROM " GRANT_FROM " WHERE a.credential_id = ? "
		      "ORDER BY r.name", "i", cred_row);
	if (st == NULL)
		return NHI_ERR_DB;
	if (j != NULL) {
		json_key(j, "reaches");
		json_arr(j);
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct access_row g;
		const char *state;

		grant_from_row(st, &g);
		state = reach_grant_state(x, &g, why, sizeof(why));
		if (j != NULL) {
			json_obj(j);
			json_kstr(j, "resource", g.resource);
			json_klist(j, "actions", access_actions_format(g.actions, acts, sizeof(acts)));
			json_klist(j, "scopes", g.scopes);
			json_ktime(j, "expires", g.expires);
			json_kstr(j, "state", state);
			json_obj_end(j);
		} else {
			printf("    reaches %s (%s) until %s, %s\n", g.resource,
			       access_actions_format(g.actions, acts, sizeof(acts)),
			       nhi_format_time((time_t)g.expires, b1), state);
		}
	}
	sqlite3_finalize(st);
	if (j != NULL)
		json_arr_end(j);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

/* ---- retire: the identity's edges go with it ---- */

int reach_retire(struct nhictl *x, const struct ident *id, const char *what, int *grants,
		 int *delegations)
{
	/* every grant of the identity, every delegation from and to it */
	const struct reach_scope s = { .ident = id->name, .from = id->name, .to = id->name };
	char det[1700];
	sqlite3_stmt *st;
	int64_t row = 0;
	int r;

	*grants = *delegations = 0;
	/* a store without the reach operations holds no edges */
	if (x->store->reach_lock == NULL)
		return 0;
	if (x->store->reach_lock(x, &s) < 0)
		return NHI_ERR_DB;
	/* the registry's row (a store's fetch need not know it) */
	if (reg_int(x, &row, 0, "SELECT id FROM identity WHERE name = ?", "s", id->name) < 0)
		return NHI_ERR_DB;
	st = reg_prep(x, "SELECT " GRANT_COLS " FROM " GRANT_FROM " WHERE a.identity_id = ? "
		      "ORDER BY a.id", "i", row);
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct access_row g;

		grant_from_row(st, &g);
		edge_detail(det, sizeof(det), g.actions, g.scopes, g.expires);
		if ((r = x->store->grant_remove(x, &g)) < 0 ||
		    (r = reg_event(x, "grant-remove", g.identity, "ok", "%s resource=%s%s%s: "
				   "identity %s%s", det, g.resource, g.cred[0] ? " cred=" : "",
				   g.cred, what, x->store->audit_tag)) < 0)
			break;
		++*grants;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return r < 0 ? r : reg_dberr(x);
	st = reg_prep(x, "SELECT " DELEGATION_COLS " FROM " DELEGATION_FROM " WHERE "
		      "d.from_id = ?1 OR d.to_id = ?1 ORDER BY d.id", "i", row);
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct delegation_row d;

		delegation_from_row(st, &d);
		edge_detail(det, sizeof(det), d.actions, d.scopes, d.expires);
		if ((r = x->store->delegation_remove(x, &d)) < 0 ||
		    (r = reg_event(x, "delegate-remove", d.from, "ok", "%s to=%s: identity '%s' "
				   "%s%s", det, d.to, id->name, what, x->store->audit_tag)) < 0)
			break;
		++*delegations;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return r < 0 ? r : reg_dberr(x);
	return 0;
}

/* audit_registry.c - audit's checks over what the registry holds (issue
 * 15): expired identities still holding access and stale ones (NHI1),
 * write on external resources (NHI3), passwords beside keys (NHI4), caps
 * and widening delegations (NHI5), old and unrotated credentials (NHI7);
 * and the one step of audit that changes something here: stale_action =
 * suspend.
 *
 * One query per check (not one per identity): audit runs daily over the
 * whole registry (bench/audit.sh).  "Active" below is what still works:
 * a credential not revoked and not past its not-after (or its grace), a
 * grant or delegation not past its expiry.
 */
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "chain.h"
#include "audit_checks.h"
#include "dirstore.h"

#define TXT(st, i) ((const char *)sqlite3_column_text((st), (i)) ? \
		    (const char *)sqlite3_column_text((st), (i)) : "")

/* a credential that still works at ?1 */
#define CRED_LIVE(c) "(" c ".state != 'revoked' AND (" c ".not_after = 0 OR " c ".not_after > ?1)" \
	" AND (" c ".state != 'grace' OR " c ".grace_until > ?1))"

/* NHI1-EXPIRED-ACCESS: an expired identity (not retired) whose credentials,
 * grants or delegations still work: each names them. */
int audit_expired_access(struct nhictl *x, struct audit_ctx *a)
{
	sqlite3_stmt *st;
	int r;

	st = reg_prep(x, "SELECT i.name, i.expires,"
		      " (SELECT count(*) || ' ' || group_concat(c.kind || ' ' || c.cred_id, ', ')"
		      "  FROM credential c WHERE c.identity_id = i.id AND " CRED_LIVE("c") "),"
		      " (SELECT count(*) || ' ' || group_concat(r.name, ', ') FROM access g"
		      "  JOIN resource r ON r.id = g.resource_id WHERE g.identity_id = i.id"
		      "  AND (g.expires = 0 OR g.expires > ?1)),"
		      " (SELECT count(*) || ' ' || group_concat(f.name || ' -> ' || t.name, ', ')"
		      "  FROM delegation d JOIN identity f ON f.id = d.from_id"
		      "  JOIN identity t ON t.id = d.to_id WHERE (d.from_id = i.id OR d.to_id = i.id)"
		      "  AND (d.expires = 0 OR d.expires > ?1))"
		      " FROM identity i WHERE i.state != 'retired' AND i.expires != 0 AND i.expires <= ?1"
		      " ORDER BY i.name", "i", (int64_t)x->now);
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = TXT(st, 0), *cr = TXT(st, 2), *gr = TXT(st, 3), *de = TXT(st, 4);
		long nc = atol(cr), ng = atol(gr), nd = atol(de);
		char fix[256];

		if (nc + ng + nd == 0)
			continue;
		snprintf(fix, sizeof(fix), "nhictl retire %s", name);
		finding_add(x, a->f, "NHI1-EXPIRED-ACCESS", name, sqlite3_column_int64(st, 1), fix,
			    "%ld credential%s%s%s, %ld grant%s%s%s, %ld delegation%s%s%s still active",
			    nc, nc == 1 ? "" : "s", nc ? ": " : "", nc ? strchr(cr, ' ') + 1 : "",
			    ng, ng == 1 ? "" : "s", ng ? " on " : "", ng ? strchr(gr, ' ') + 1 : "",
			    nd, nd == 1 ? "" : "s", nd ? ": " : "", nd ? strchr(de, ' ') + 1 : "");
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

/* NHI1-STALE: used once, not for longer than stale_after (never used is
 * NHI1-NEVER-USED, audit_identities). */
int audit_stale(struct nhictl *x, struct audit_ctx *a)
{
	char fix[256], d[32];
	sqlite3_stmt *st;
	int r;

	if (x->conf.stale_after <= 0)
		return 0;
	st = reg_prep(x, "SELECT name, last_used, state FROM identity WHERE state != 'retired' "
		      "AND last_used != 0 AND ?1 - last_used > ?2 ORDER BY name", "ii",
		      (int64_t)x->now, x->conf.stale_after);
	if (st == NULL)
		return NHI_ERR_DB;
	nhi_format_duration(x->conf.stale_after, d, sizeof(d));
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = TXT(st, 0), *state = TXT(st, 2);

		if (strcmp(state, "active") == 0)
			snprintf(fix, sizeof(fix), "nhictl retire %s (or nhictl suspend %s)", name, name);
		else
			snprintf(fix, sizeof(fix), "nhictl retire %s", name);
		finding_add(x, a->f, "NHI1-STALE", name, sqlite3_column_int64(st, 1), fix,
			    "not used for more than stale_after (%s), state %s", d, state);
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

/* stale_action = suspend: the active stale identities suspended, each
 * through the store and audited as 'nhictl suspend' is, in audit's
 * transaction (committed with the rest of its changes).  The names go to
 * j's open array (or a line each on stdout). */
int audit_stale_suspend(struct nhictl *x, struct json *j, int *n_done)
{
	struct ident *v = NULL, *nv;
	size_t n = 0, i;
	char d[32];
	sqlite3_stmt *st;
	int r;

	*n_done = 0;
	if (x->conf.stale_action != NHI_STALE_SUSPEND || x->conf.stale_after <= 0)
		return 0;
	st = reg_prep(x, "SELECT " IDENT_COLS " FROM identity WHERE state = 'active' "
		      "AND last_used != 0 AND ?1 - last_used > ?2 ORDER BY name", "ii",
		      (int64_t)x->now, x->conf.stale_after);
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (nv == NULL) {
			r = nerr(x, NHI_ERR_NOMEM, "out of memory");
			break;
		}
		v = nv;
		if (ident_from_row(x, st, &v[n]) < 0) {
			r = NHI_ERR_DB;
			break;
		}
		n++;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		free(v);
		return r < 0 ? r : reg_dberr(x);
	}
	nhi_format_duration(x->conf.stale_after, d, sizeof(d));
	r = 0;
	for (i = 0; r == 0 && i < n; i++) {
		struct store_change c = { .state_from = v[i].state, .state_to = "suspended" };
		char b[NHI_TIME_BUFSZ];

		if ((r = x->store->update(x, &v[i], &c)) < 0)
			break;
		r = reg_event(x, "suspend", v[i].name, "ok", "state %s -> suspended: stale "
			      "(last used %s, stale_after %s, stale_action = suspend)%s", v[i].state,
			      nhi_format_time((time_t)v[i].last_used, b), d, x->store->audit_tag);
		if (r < 0)
			break;
		(*n_done)++;
		if (j != NULL)
			json_str(j, v[i].name);
		else
			printf("suspended now: %s (stale: last used %s)\n", v[i].name,
			       nhi_format_time((time_t)v[i].last_used, b));
	}
	free(v);
	return r;
}

/* NHI3: write or admin on an external resource whose grant does not
 * expire within external_grant_max from now (the remedy, adding it again
 * with --expires, renews it within), and any grant on an
 * external resource held by an orphaned identity. */
int audit_external(struct nhictl *x, struct audit_ctx *a)
{
	sqlite3_stmt *st;
	int r;

	st = reg_prep(x, "SELECT i.name, r.name, a.actions, a.created, a.expires, "
		      "IFNULL(c.cred_id, ''), i.orphaned_since, i.owner FROM " GRANT_FROM
		      " WHERE r.external = 1 AND i.state != 'retired' AND (a.expires = 0 OR a.expires > ?1)"
		      " ORDER BY i.name, r.name", "i", (int64_t)x->now);
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = TXT(st, 0), *res = TXT(st, 1), *cred = TXT(st, 5);
		unsigned act = (unsigned)sqlite3_column_int(st, 2);
		int64_t created = sqlite3_column_int64(st, 3), expires = sqlite3_column_int64(st, 4);
		int64_t orph = sqlite3_column_int64(st, 6);
		char acts[ACT_BUFSZ], fix[512], b[NHI_TIME_BUFSZ], d[32], on[64] = "";

		access_actions_format(act, acts, sizeof(acts));
		if (cred[0] != '\0')
			snprintf(on, sizeof(on), " --cred %s", cred);
		if ((act & (NHI_ACT_WRITE | NHI_ACT_ADMIN)) && x->conf.external_grant_max > 0 &&
		    (expires == 0 || expires - (int64_t)x->now > x->conf.external_grant_max)) {
			snprintf(fix, sizeof(fix), "nhictl grant add %s %s --actions %s%s --expires +%s",
				 name, res, acts, on,
				 nhi_format_duration(x->conf.external_grant_max, d, sizeof(d)));
			finding_add(x, a->f, "NHI3-EXTERNAL-LONG-GRANT", name, created, fix,
				    "%s on external resource %s until %s, more than external_grant_max "
				    "(%s) from now", acts, res,
				    expires ? nhi_format_time((time_t)expires, b) : "never", d);
		}
		if (orph != 0) {
			snprintf(fix, sizeof(fix), "nhictl grant remove %s %s%s (or nhictl transfer %s "
				 "NEW-OWNER)", name, res, on, name);
			finding_add(x, a->f, "NHI3-EXTERNAL-OWNER-LEFT", name, orph, fix,
				    "%s on external resource %s; owner '%s' left", acts, res, TXT(st, 7));
		}
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

/* NHI4-PASSWORD-WITH-KEY: an active password beside an active key, token
 * or certificate. */
int audit_password_with_key(struct nhictl *x, struct audit_ctx *a)
{
	sqlite3_stmt *st;
	int r;

	st = reg_prep(x, "SELECT i.name,"
		      " group_concat(CASE WHEN c.kind = 'password' THEN c.cred_id END, ', '),"
		      " group_concat(CASE WHEN c.kind != 'password' THEN c.kind || ' ' || c.cred_id END, ', '),"
		      " min(CASE WHEN c.kind = 'password' THEN c.cred_id END)"
		      " FROM credential c JOIN identity i ON i.id = c.identity_id"
		      " WHERE i.state != 'retired' AND c.state = 'active' AND (c.not_after = 0 OR c.not_after > ?1)"
		      " GROUP BY i.id HAVING sum(c.kind = 'password') > 0 AND sum(c.kind != 'password') > 0"
		      " ORDER BY i.name", "i", (int64_t)x->now);
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = TXT(st, 0);
		char fix[256];

		snprintf(fix, sizeof(fix), "nhictl cred revoke %s %s", name, TXT(st, 3));
		finding_add(x, a->f, "NHI4-PASSWORD-WITH-KEY", name, 0, fix,
			    "password %s beside %s", TXT(st, 1), TXT(st, 2));
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

/* NHI5-OVER-CAP: more active grants than max_grants, more active
 * delegations from or to one identity than max_delegations (0: no cap). */
int audit_over_cap(struct nhictl *x, struct audit_ctx *a)
{
	int64_t mg = x->conf.max_grants ? x->conf.max_grants : INT64_MAX;
	int64_t md = x->conf.max_delegations ? x->conf.max_delegations : INT64_MAX;
	sqlite3_stmt *st;
	int r;

	st = reg_prep(x, "SELECT i.name, IFNULL(g.n, 0), IFNULL(f.n, 0), IFNULL(t.n, 0) FROM identity i"
		      " LEFT JOIN (SELECT identity_id id, count(*) n FROM access"
		      "  WHERE expires = 0 OR expires > ?1 GROUP BY identity_id) g ON g.id = i.id"
		      " LEFT JOIN (SELECT from_id id, count(*) n FROM delegation"
		      "  WHERE expires = 0 OR expires > ?1 GROUP BY from_id) f ON f.id = i.id"
		      " LEFT JOIN (SELECT to_id id, count(*) n FROM delegation"
		      "  WHERE expires = 0 OR expires > ?1 GROUP BY to_id) t ON t.id = i.id"
		      " WHERE i.state != 'retired' AND (g.n > ?2 OR f.n > ?3 OR t.n > ?3)"
		      " ORDER BY i.name", "iii", (int64_t)x->now, mg, md);
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = TXT(st, 0);
		int64_t ng = sqlite3_column_int64(st, 1), nf = sqlite3_column_int64(st, 2);
		int64_t nt = sqlite3_column_int64(st, 3);
		char fix[256];

		if (ng > mg) {
			snprintf(fix, sizeof(fix), "nhictl grant list %s, then nhictl grant remove %s "
				 "RESOURCE", name, name);
			finding_add(x, a->f, "NHI5-OVER-CAP", name, 0, fix,
				    "%lld grants, more than max_grants (%lld)", (long long)ng, (long long)mg);
		}
		if (nf > md || nt > md) {
			snprintf(fix, sizeof(fix), "nhictl delegate list %s, then nhictl delegate remove "
				 "FROM TO", name);
			finding_add(x, a->f, "NHI5-OVER-CAP", name, 0, fix,
				    "%lld delegations from it, %lld to it, more than max_delegations (%lld)",
				    (long long)nf, (long long)nt, (long long)md);
		}
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

/* NHI5-WIDENING: a live path actor -> ... -> grantee -> resource through
 * delegations, giving the actor actions on a resource it holds no live
 * grant of its own for (or more actions than its own grants there). */
struct widen {
	struct nhictl *x;
	struct audit_ctx *a;
};

static int widen_path(const struct chain_graph *g, const struct chain_path *p, void *arg)
{
	struct widen *w = arg;
	const struct ch_ident *A = &g->ident[p->id[0]];
	const struct ch_grant *gr = &g->grant[p->grant];
	struct chain_cut cut;
	unsigned own = 0, more;
	char path[1024], acts[ACT_BUFSZ], acts2[ACT_BUFSZ], fix[512];
	size_t len = 0;
	int k;

	if (p->n < 2)
		return 0;
	chain_cut(g, p, &cut);
	if (cut.kind != CUT_NONE)
		return 0;
	for (k = 0; k < A->n_grants; k++) {
		const struct ch_grant *o = &g->grant[A->grants + k];

		if (o->resource == gr->resource && !*chain_grant_cut(g, A->grants + k) &&
		    (o->cred < 0 || !*chain_cred_cut(g, o->cred)))
			own |= o->actions;
	}
	more = p->actions & ~own;
	if (more == 0)
		return 0;
	for (k = 0; k < p->n && len < sizeof(path); k++)
		len += (size_t)snprintf(path + len, sizeof(path) - len, "%s -> ", g->ident[p->id[k]].name);
	if (len < sizeof(path))
		snprintf(path + len, sizeof(path) - len, "%s", g->res[gr->resource].name);
	access_actions_format(more, acts, sizeof(acts));
	snprintf(fix, sizeof(fix), "nhictl delegate remove %s %s (or, if it is meant to, "
		 "nhictl grant add %s %s --actions %s)", A->name, g->ident[p->id[1]].name, A->name,
		 g->res[gr->resource].name, access_actions_format(p->actions | own, acts2, sizeof(acts2)));
	finding_add(w->x, w->a->f, "NHI5-WIDENING", A->name, 0, fix, "%s (%s)%s", path, acts,
		    own ? " beyond its own grant" : "");
	return 0;
}

int audit_widening(struct nhictl *x, struct audit_ctx *a)
{
	struct chain_graph g;
	struct widen w = { x, a };
	int i, r;

	if ((r = chain_load(x, &g, 0)) < 0)
		return r;
	for (i = 0; i < g.n_ident; i++)
		if (g.ident[i].n_out > 0 && !*chain_ident_cut(&g, i))
			chain_reach(&g, i, widen_path, NULL, &w);
	chain_free(&g);
	return 0;
}

/* NHI7: active credentials older than max_credential_age, without an
 * expiry (nhictl always sets one; a directory entry without nhiNotAfter
 * synced in has none), or not rotated within rotation_interval (no newer
 * credential of the same kind for that identity). */
int audit_cred_age(struct nhictl *x, struct audit_ctx *a)
{
	int64_t ri = x->conf.rotation_interval > 0 ? x->conf.rotation_interval : INT64_MAX;
	char fix[256], d1[32], d2[32];
	sqlite3_stmt *st;
	int r;

	st = reg_prep(x, "SELECT i.name, c.cred_id, c.kind, c.created, c.not_after,"
		      " (?1 - c.created > ?2 AND NOT EXISTS (SELECT 1 FROM credential n"
		      "  WHERE n.identity_id = c.identity_id AND n.kind = c.kind AND n.created > c.created"
		      "  AND n.state != 'revoked'))"
		      " FROM credential c JOIN identity i ON i.id = c.identity_id"
		      " WHERE i.state != 'retired' AND c.state = 'active' AND (c.not_after = 0 OR c.not_after > ?1)"
		      " AND (c.not_after = 0 OR ?1 - c.created > ?3 OR ?1 - c.created > ?2)"
		      " ORDER BY i.name, c.created", "iii", (int64_t)x->now, ri,
		      x->conf.max_credential_age);
	if (st == NULL)
		return NHI_ERR_DB;
	nhi_format_duration(x->conf.max_credential_age, d1, sizeof(d1));
	nhi_format_duration(x->conf.rotation_interval, d2, sizeof(d2));
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = TXT(st, 0), *id = TXT(st, 1), *kind = TXT(st, 2);
		int64_t created = sqlite3_column_int64(st, 3), not_after = sqlite3_column_int64(st, 4);

		snprintf(fix, sizeof(fix), "nhictl rotate %s --cred %s", name, id);
		if (x->now - created > x->conf.max_credential_age)
			finding_add(x, a->f, "NHI7-CRED-OLD", name, created, fix,
				    "%s %s is older than max_credential_age (%s)", kind, id, d1);
		if (not_after == 0)
			finding_add(x, a->f, "NHI7-CRED-NO-EXPIRY", name, created, fix,
				    "%s %s has no not-after", kind, id);
		if (sqlite3_column_int(st, 5))
			finding_add(x, a->f, "NHI7-NOT-ROTATED", name, created, fix,
				    "%s %s not rotated within rotation_interval (%s)", kind, id, d2);
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

int audit_dir_conflict(struct nhictl *x, struct audit_ctx *a)
{
	struct dir_conflict *c = NULL;
	char fix[1200];
	size_t n = 0, i;
	int k;

	if (dir_conflicts(x, &c, &n) < 0)
		return NHI_ERR_DB;
	for (i = 0; i < n; i++)
		for (k = 0; k < 2; k++) {
			snprintf(fix, sizeof(fix), "keep one: delete or renumber the other entry "
				 "in the directory (%s), then nhictl sync",
				 c[i].e[1 - k].dn[0] ? c[i].e[1 - k].dn : c[i].e[1 - k].uuid);
			finding_add(x, a->f, "NHI9-DIR-CONFLICT", c[i].e[k].name, c[i].since, fix,
				    "entry %s (uid %u, entryUUID %s) shares its %s with %s (uid %u, "
				    "entryUUID %s): both denied by sync's conflict rule",
				    c[i].e[k].dn, c[i].e[k].uid, c[i].e[k].uuid,
				    c[i].same_uid ? (c[i].same_name ? "name and uidNumber" : "uidNumber")
						  : "name",
				    c[i].e[1 - k].name, c[i].e[1 - k].uid, c[i].e[1 - k].uuid);
		}
	free(c);
	return 0;
}

/* audit_usage.c - audit's checks of how identities are used, from the
 * usage records pam_nhi appends and audit ingests first (registry/usage.c):
 *   NHI9-OUT-OF-SCOPE-USE  a usage row (host, service) outside the
 *                          identity's scope, matched as pam_nhi matches it
 *                          (nhi_scope_match: fnmatch globs, hosts casefold);
 *                          pam_nhi refuses such a login, so a row means the
 *                          scope was narrowed after the use, the record
 *                          came from a host whose snapshot was behind, or
 *                          mode = audit let it through;
 *   NHI9-SHARED            one identity delegated to by identities (agents)
 *                          of different owners: several teams reuse it;
 *   NHI10-HUMAN-USE        each human use pam_nhi recorded (a human RUSER,
 *                          an interactive session), with its evidence.
 */
#include <string.h>
#include "nhi_policy.h"
#include "audit_checks.h"

int audit_out_of_scope(struct nhictl *x, struct audit_ctx *a)
{
	sqlite3_stmt *st, *u;
	char fix[512], b[NHI_TIME_BUFSZ], scope[2200];
	int r, ru = SQLITE_DONE;

	/* only identities with a scope can be used outside it */
	st = reg_prep(x, "SELECT " IDENT_COLS " FROM identity WHERE state != 'retired' AND "
		      "(EXISTS (SELECT 1 FROM identity_host h WHERE h.identity_id = identity.id) OR "
		      "EXISTS (SELECT 1 FROM identity_service s WHERE s.identity_id = identity.id)) "
		      "ORDER BY name", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct ident id;

		if (ident_from_row(x, st, &id) < 0)
			break;
		u = reg_prep(x, "SELECT host, service, last_used, count FROM usage "
			     "WHERE identity_id = ? ORDER BY host, service", "i", id.id);
		if (u == NULL)
			break;
		while ((ru = sqlite3_step(u)) == SQLITE_ROW) {
			const char *host = (const char *)sqlite3_column_text(u, 0);
			const char *svc = (const char *)sqlite3_column_text(u, 1);
			int hok = nhi_scope_match(id.hosts, host, 1);
			int sok = nhi_scope_match(id.services, svc, 0);

			if (hok && sok)
				continue;
			snprintf(fix, sizeof(fix), "stop using %s from %s/%s, or give that use an "
				 "identity of its own: nhictl create NAME --owner %s --host %s "
				 "--service %s", id.name, host, svc, id.owner, host, svc);
			snprintf(scope, sizeof(scope), "%s%s%s%s%s", hok ? "" : "hosts ",
				 hok ? "" : id.hosts, hok || sok ? "" : "; ", sok ? "" : "services ",
				 sok ? "" : id.services);
			finding_add(x, a->f, "NHI9-OUT-OF-SCOPE-USE", id.name, 0, fix,
				    "used on host %s through service %s (%lld times, last %s) outside "
				    "its scope (%s)", host, svc, (long long)sqlite3_column_int64(u, 3),
				    nhi_format_time((time_t)sqlite3_column_int64(u, 2), b), scope);
		}
		sqlite3_finalize(u);
		if (ru != SQLITE_DONE)
			break;
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE && ru == SQLITE_DONE ? 0 : reg_dberr(x);
}

int audit_shared(struct nhictl *x, struct audit_ctx *a)
{
	sqlite3_stmt *st;
	char fix[512];
	int r;

	/* live delegations into a live identity, grouped by the target: the
	 * delegating identities and their owners, when the owners differ */
	st = reg_prep(x, "SELECT t.name, count(DISTINCT f.owner), "
		      "group_concat(f.name || ' (owner ' || f.owner || ')', ', ') "
		      "FROM delegation d JOIN identity f ON f.id = d.from_id "
		      "JOIN identity t ON t.id = d.to_id "
		      "WHERE (d.expires = 0 OR d.expires > ?1) AND f.state != 'retired' "
		      "AND t.state != 'retired' GROUP BY t.id HAVING count(DISTINCT f.owner) > 1 "
		      "ORDER BY t.name", "i", (int64_t)x->now);
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		snprintf(fix, sizeof(fix), "give each owner's agents an identity of their own "
			 "(nhictl create NAME --owner OWNER), then nhictl delegate remove FROM %s",
			 name);
		finding_add(x, a->f, "NHI9-SHARED", name, 0, fix,
			    "delegated to by identities of %d owners: %s",
			    sqlite3_column_int(st, 1), (const char *)sqlite3_column_text(st, 2));
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

int audit_human_use(struct nhictl *x, struct audit_ctx *a)
{
	sqlite3_stmt *st;
	char fix[512], b[NHI_TIME_BUFSZ];
	int r;

	st = reg_prep(x, "SELECT i.name, h.at, h.host, h.service, h.ruser, h.tty, h.reason "
		      "FROM human_use h JOIN identity i ON i.id = h.identity_id "
		      "WHERE i.state != 'retired' ORDER BY i.name, h.at, h.id", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *ruser = (const char *)sqlite3_column_text(st, 4);
		const char *tty = (const char *)sqlite3_column_text(st, 5);
		int64_t at = sqlite3_column_int64(st, 1);

		snprintf(fix, sizeof(fix), "issue %s access of their own, then nhictl rotate %s "
			 "(the human knew its secret) or set human_use = deny in nhi.conf",
			 ruser[0] ? ruser : "the human", name);
		finding_add(x, a->f, "NHI10-HUMAN-USE", name, at, fix,
			    "%s at %s on host %s through %s: ruser %s, tty %s",
			    (const char *)sqlite3_column_text(st, 6), nhi_format_time((time_t)at, b),
			    (const char *)sqlite3_column_text(st, 2),
			    (const char *)sqlite3_column_text(st, 3), ruser[0] ? ruser : "-",
			    tty[0] ? tty : "-");
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

/* dirstore_access.c - resources, grants and delegations from the directory
 * into the registry (backend = ldap): the registry side of diraccess.h.
 * See dirstore_access.h.
 *
 * A row is found by its entryUUID, else by its natural key (a resource's
 * name; a grant's identity, resource and credential; a delegation's pair),
 * and then written with one INSERT ... ON CONFLICT (id) DO UPDATE whose
 * WHERE leaves an unchanged row alone, so "changed" is what SQLite
 * counts.  Another row holding the natural key under another entryUUID
 * is stale (its entry was deleted or renamed): it is removed.
 */
#include <ctype.h>
#include <string.h>
#include "nhictl.h"
#include "dirstore_access.h"

static void lower_uuid(const char *in, char out[64])
{
	size_t i;

	for (i = 0; in[i] != '\0' && i < 63; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

/* *rid: the row of entryUUID uuid, else by_key (the row holding the
 * entry's natural key; 0: none).  A by_key row other than *rid is stale
 * (its entry was deleted or renamed): dropped. */
static int pick_row(struct nhictl *x, const char *table, const char *uuid, int64_t by_key,
		    int64_t *rid)
{
	char sql[128];

	*rid = 0;
	snprintf(sql, sizeof(sql), "SELECT id FROM %s WHERE entry_uuid = ?", table);
	if (uuid[0] != '\0' && reg_int(x, rid, 0, sql, "s", uuid) < 0)
		return NHI_ERR_DB;
	if (*rid == 0)
		*rid = by_key;
	else if (by_key != 0 && by_key != *rid) {
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = ?", table);
		if (reg_exec(x, sql, "i", by_key) < 0)
			return NHI_ERR_DB;
	}
	return 0;
}

static void set_changed(struct nhictl *x, int64_t rid, int *changed)
{
	if (changed != NULL)
		*changed = sqlite3_changes(x->db) == 0 ? 0 : rid ? 1 : 2;
}

int dirstore_resource(struct nhictl *x, const struct da_resource *r, int *changed)
{
	char u[64];
	int64_t rid, key = 0;
	int rc;

	if (changed != NULL)
		*changed = 0;
	lower_uuid(r->uuid, u);
	if (reg_int(x, &key, 0, "SELECT id FROM resource WHERE name = ?", "s", r->name) < 0 ||
	    pick_row(x, "resource", u, key, &rid) < 0)
		return NHI_ERR_DB;
	rc = reg_exec(x, "INSERT INTO resource (id, name, kind, uri, owner, owner_dn, data_class, "
		      "external, purpose, created, entry_uuid) VALUES (nullif(?, 0), ?, ?, ?, ?, ?, "
		      "?, ?, ?, ?, nullif(?, '')) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
		      "kind = excluded.kind, uri = excluded.uri, owner = excluded.owner, "
		      "owner_dn = excluded.owner_dn, data_class = excluded.data_class, "
		      "external = excluded.external, purpose = excluded.purpose, "
		      "created = excluded.created, entry_uuid = excluded.entry_uuid, "
		      /* who the owner is stays known while the owner does */
		      "owner_id = CASE WHEN owner_dn IS excluded.owner_dn AND owner IS excluded.owner "
		      "THEN owner_id END "
		      "WHERE (name, kind, uri, owner, owner_dn, data_class, external, purpose, created) "
		      "IS NOT (excluded.name, excluded.kind, excluded.uri, excluded.owner, "
		      "excluded.owner_dn, excluded.data_class, excluded.external, excluded.purpose, "
		      "excluded.created) OR entry_uuid IS NOT excluded.entry_uuid",
		      "issssssisis", rid, r->name, r->kind, r->uri, r->owner, r->owner_dn,
		      r->data_class, (int64_t)r->external, r->purpose,
		      r->created ? r->created : (int64_t)x->now, u);
	if (rc == 0)
		set_changed(x, rid, changed);
	return rc;
}

/* An entry that cannot be a row here: a row it had goes. */
static int unknown(struct nhictl *x, const char *uuid, char *why, size_t len, const char *fmt,
		   const char *a, const char *b)
{
	int gone;

	if (dirstore_access_forget(x, uuid, &gone) < 0)
		return NHI_ERR_DB;
	snprintf(why, len, fmt, a, b);
	return NHI_ERR_NOTFOUND;
}

static int ident_row(struct nhictl *x, const char *name, int64_t *id)
{
	return reg_int(x, id, 0, "SELECT id FROM identity WHERE name = ?", "s", name);
}

int dirstore_grant(struct nhictl *x, const struct da_grant *g, int *changed,
		   char *why, size_t len)
{
	int64_t ident = 0, res = 0, cred = 0, rid, key = 0;
	char u[64];
	int rc;

	if (changed != NULL)
		*changed = 0;
	lower_uuid(g->uuid, u);
	if (ident_row(x, g->ident, &ident) < 0 ||
	    reg_int(x, &res, 0, "SELECT id FROM resource WHERE name = ?", "s", g->resource) < 0 ||
	    (g->cred_id[0] != '\0' &&
	     reg_int(x, &cred, 0, "SELECT id FROM credential WHERE cred_id = ? AND identity_id = ?",
		     "si", g->cred_id, ident) < 0))
		return NHI_ERR_DB;
	if (ident == 0)
		return unknown(x, u, why, len, "no identity '%s' here%s", g->ident, "");
	if (res == 0)
		return unknown(x, u, why, len, "no resource '%s' here%s", g->resource, "");
	if (g->cred_id[0] != '\0' && cred == 0)
		return unknown(x, u, why, len, "no credential '%s' of %s here", g->cred_id, g->ident);
	if (reg_int(x, &key, 0, "SELECT id FROM access WHERE identity_id = ? AND resource_id = ? "
		    "AND IFNULL(credential_id, 0) = ?", "iii", ident, res, cred) < 0 ||
	    pick_row(x, "access", u, key, &rid) < 0)
		return NHI_ERR_DB;
	rc = reg_exec(x, "INSERT INTO access (id, identity_id, resource_id, credential_id, actions, "
		      "scopes, created, expires, entry_uuid) VALUES (nullif(?, 0), ?, ?, nullif(?, 0), "
		      "?, ?, ?, ?, nullif(?, '')) ON CONFLICT (id) DO UPDATE SET "
		      "identity_id = excluded.identity_id, resource_id = excluded.resource_id, "
		      "credential_id = excluded.credential_id, actions = excluded.actions, "
		      "scopes = excluded.scopes, created = excluded.created, "
		      "expires = excluded.expires, entry_uuid = excluded.entry_uuid "
		      "WHERE (identity_id, resource_id, credential_id, actions, scopes, created, "
		      "expires, entry_uuid) IS NOT (excluded.identity_id, excluded.resource_id, "
		      "excluded.credential_id, excluded.actions, excluded.scopes, excluded.created, "
		      "excluded.expires, excluded.entry_uuid)",
		      "iiiiisiis", rid, ident, res, cred, (int64_t)g->actions, g->scopes,
		      g->created ? g->created : (int64_t)x->now, g->expires, u);
	if (rc == 0)
		set_changed(x, rid, changed);
	return rc;
}

int dirstore_deleg(struct nhictl *x, const struct da_deleg *g, int *changed,
		   char *why, size_t len)
{
	int64_t from = 0, to = 0, rid, key = 0;
	char u[64];
	int rc;

	if (changed != NULL)
		*changed = 0;
	lower_uuid(g->uuid, u);
	if (ident_row(x, g->from, &from) < 0 || ident_row(x, g->to, &to) < 0)
		return NHI_ERR_DB;
	if (from == 0 || to == 0)
		return unknown(x, u, why, len, "no identity '%s' here%s", from ? g->to : g->from, "");
	if (reg_int(x, &key, 0, "SELECT id FROM delegation WHERE from_id = ? AND to_id = ?", "ii",
		    from, to) < 0 || pick_row(x, "delegation", u, key, &rid) < 0)
		return NHI_ERR_DB;
	rc = reg_exec(x, "INSERT INTO delegation (id, from_id, to_id, actions, scopes, created, "
		      "expires, reason, entry_uuid) VALUES (nullif(?, 0), ?, ?, ?, ?, ?, ?, ?, "
		      "nullif(?, '')) ON CONFLICT (id) DO UPDATE SET from_id = excluded.from_id, "
		      "to_id = excluded.to_id, actions = excluded.actions, scopes = excluded.scopes, "
		      "created = excluded.created, expires = excluded.expires, "
		      "reason = excluded.reason, entry_uuid = excluded.entry_uuid "
		      "WHERE (from_id, to_id, actions, scopes, created, expires, reason, entry_uuid) "
		      "IS NOT (excluded.from_id, excluded.to_id, excluded.actions, excluded.scopes, "
		      "excluded.created, excluded.expires, excluded.reason, excluded.entry_uuid)",
		      "iiiisiiss", rid, from, to, (int64_t)g->actions, g->scopes,
		      g->created ? g->created : (int64_t)x->now, g->expires, g->reason, u);
	if (rc == 0)
		set_changed(x, rid, changed);
	return rc;
}

static const char *const tables[] = { "access", "delegation", "resource" };

int dirstore_access_forget(struct nhictl *x, const char *uuid, int *gone)
{
	char u[64], sql[128];
	size_t i;

	*gone = 0;
	lower_uuid(uuid, u);
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]) && !*gone; i++) {
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE entry_uuid = ?", tables[i]);
		if (reg_exec(x, sql, "s", u) < 0)
			return NHI_ERR_DB;
		*gone = sqlite3_changes(x->db) > 0;
	}
	return 0;
}

int dirstore_access_reconcile(struct nhictl *x, long *n)
{
	char sql[256];
	size_t i;

	*n = 0;
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE entry_uuid IS NULL OR entry_uuid "
			 "NOT IN (SELECT uuid FROM temp.sync_seen)", tables[i]);
		if (reg_exec(x, sql, "") < 0)
			return NHI_ERR_DB;
		*n += sqlite3_changes(x->db);
	}
	return 0;
}

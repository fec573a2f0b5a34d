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
#include <stdlib.h>
#include <string.h>
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

/* An entry without nhiCreated: the row keeps its time (now for a new one). */
static int created_of(struct nhictl *x, const char *table, int64_t rid, int64_t given,
		      int64_t *out)
{
	char sql[96];

	*out = given;
	if (given != 0)
		return 0;
	snprintf(sql, sizeof(sql), "SELECT created FROM %s WHERE id = ?", table);
	return reg_int(x, out, (int64_t)x->now, sql, "i", rid);
}

static void set_changed(struct nhictl *x, int64_t rid, int *changed)
{
	if (changed != NULL)
		*changed = sqlite3_changes(x->db) == 0 ? 0 : rid ? 1 : 2;
}

int dirstore_resource(struct nhictl *x, const struct da_resource *r, int *changed)
{
	char u[64];
	int64_t rid, key = 0, created;
	int rc;

	if (changed != NULL)
		*changed = 0;
	lower_uuid(r->uuid, u);
	if (reg_int(x, &key, 0, "SELECT id FROM resource WHERE name = ?", "s", r->name) < 0 ||
	    pick_row(x, "resource", u, key, &rid) < 0 ||
	    created_of(x, "resource", rid, r->created, &created) < 0)
		return NHI_ERR_DB;
	rc = reg_exec(x, "INSERT INTO resource (id, name, kind, uri, owner, owner_dn, data_class, "
		      "external, purpose, created, managed, entry_uuid, labels, applied) VALUES "
		      "(nullif(?, 0), ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, nullif(?, ''), ?, ?) "
		      "ON CONFLICT (id) DO UPDATE SET "
		      "name = excluded.name, labels = excluded.labels, applied = excluded.applied, "
		      "kind = excluded.kind, uri = excluded.uri, owner = excluded.owner, "
		      "owner_dn = excluded.owner_dn, data_class = excluded.data_class, "
		      "external = excluded.external, purpose = excluded.purpose, "
		      "created = excluded.created, managed = 1, entry_uuid = excluded.entry_uuid, "
		      /* who the owner is stays known while the owner does */
		      "owner_id = CASE WHEN owner_dn IS excluded.owner_dn AND owner IS excluded.owner "
		      "THEN owner_id END "
		      "WHERE (name, kind, uri, owner, owner_dn, data_class, external, purpose, created, "
		      "labels, applied) IS NOT (excluded.name, excluded.kind, excluded.uri, "
		      "excluded.owner, excluded.owner_dn, excluded.data_class, excluded.external, "
		      "excluded.purpose, excluded.created, excluded.labels, excluded.applied) OR "
		      "entry_uuid IS NOT excluded.entry_uuid OR managed != 1",
		      "issssssisissi", rid, r->name, r->kind, r->uri, r->owner, r->owner_dn,
		      r->data_class, (int64_t)r->external, r->purpose, created, u, r->labels,
		      (int64_t)(r->applied != 0));
	if (rc == 0)
		set_changed(x, rid, changed);
	return rc;
}

/* An entry that cannot be a row here (why says so): a row it had goes. */
static int unknown(struct nhictl *x, const char *uuid)
{
	int gone;

	if (dirstore_access_forget(x, uuid, &gone) < 0)
		return NHI_ERR_DB;
	return NHI_ERR_NOTFOUND;
}

static int ident_row(struct nhictl *x, const char *name, int64_t *id)
{
	return reg_int(x, id, 0, "SELECT id FROM identity WHERE name = ?", "s", name);
}

int dirstore_grant(struct nhictl *x, const struct da_grant *g, int *changed,
		   char *why, size_t len)
{
	int64_t ident = 0, res = 0, cred = 0, rid, key = 0, created;
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
	if (ident == 0 || res == 0 || (g->cred_id[0] != '\0' && cred == 0)) {
		if (ident == 0)
			snprintf(why, len, "no identity '%s' here", g->ident);
		else if (res == 0)
			snprintf(why, len, "no resource '%s' here", g->resource);
		else
			snprintf(why, len, "no credential '%s' of %s here", g->cred_id, g->ident);
		return unknown(x, u);
	}
	if (reg_int(x, &key, 0, "SELECT id FROM access WHERE identity_id = ? AND resource_id = ? "
		    "AND IFNULL(credential_id, 0) = ?", "iii", ident, res, cred) < 0 ||
	    pick_row(x, "access", u, key, &rid) < 0 ||
	    created_of(x, "access", rid, g->created, &created) < 0)
		return NHI_ERR_DB;
	rc = reg_exec(x, "INSERT INTO access (id, identity_id, resource_id, credential_id, actions, "
		      "scopes, created, expires, managed, entry_uuid, applied) VALUES (nullif(?, 0), ?, "
		      "?, nullif(?, 0), ?, ?, ?, ?, 1, nullif(?, ''), ?) ON CONFLICT (id) DO UPDATE SET "
		      "identity_id = excluded.identity_id, resource_id = excluded.resource_id, "
		      "credential_id = excluded.credential_id, actions = excluded.actions, "
		      "scopes = excluded.scopes, created = excluded.created, "
		      "expires = excluded.expires, managed = 1, entry_uuid = excluded.entry_uuid, "
		      "applied = excluded.applied "
		      "WHERE (identity_id, resource_id, credential_id, actions, scopes, created, "
		      "expires, managed, entry_uuid, applied) IS NOT (excluded.identity_id, "
		      "excluded.resource_id, excluded.credential_id, excluded.actions, excluded.scopes, "
		      "excluded.created, excluded.expires, 1, excluded.entry_uuid, excluded.applied)",
		      "iiiiisiisi", rid, ident, res, cred, (int64_t)g->actions, g->scopes,
		      created, g->expires, u, (int64_t)(g->applied != 0));
	if (rc == 0)
		set_changed(x, rid, changed);
	return rc;
}

int dirstore_deleg(struct nhictl *x, const struct da_deleg *g, int *changed,
		   char *why, size_t len)
{
	int64_t from = 0, to = 0, rid, key = 0, created;
	char u[64];
	int rc;

	if (changed != NULL)
		*changed = 0;
	lower_uuid(g->uuid, u);
	if (ident_row(x, g->from, &from) < 0 || ident_row(x, g->to, &to) < 0)
		return NHI_ERR_DB;
	if (from == 0 || to == 0) {
		snprintf(why, len, "no identity '%s' here", from ? g->to : g->from);
		return unknown(x, u);
	}
	if (reg_int(x, &key, 0, "SELECT id FROM delegation WHERE from_id = ? AND to_id = ?", "ii",
		    from, to) < 0 || pick_row(x, "delegation", u, key, &rid) < 0 ||
	    created_of(x, "delegation", rid, g->created, &created) < 0)
		return NHI_ERR_DB;
	rc = reg_exec(x, "INSERT INTO delegation (id, from_id, to_id, actions, scopes, created, "
		      "expires, reason, managed, entry_uuid, applied) VALUES (nullif(?, 0), ?, ?, ?, ?, "
		      "?, ?, ?, 1, nullif(?, ''), ?) ON CONFLICT (id) DO UPDATE SET "
		      "from_id = excluded.from_id, applied = excluded.applied, "
		      "to_id = excluded.to_id, actions = excluded.actions, scopes = excluded.scopes, "
		      "created = excluded.created, expires = excluded.expires, "
		      "reason = excluded.reason, managed = 1, entry_uuid = excluded.entry_uuid "
		      "WHERE (from_id, to_id, actions, scopes, created, expires, reason, managed, "
		      "entry_uuid, applied) IS NOT (excluded.from_id, excluded.to_id, excluded.actions, "
		      "excluded.scopes, excluded.created, excluded.expires, excluded.reason, 1, "
		      "excluded.entry_uuid, excluded.applied)",
		      "iiiisiissi", rid, from, to, (int64_t)g->actions, g->scopes,
		      created, g->expires, g->reason, u, (int64_t)(g->applied != 0));
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

#define UNSEEN "(entry_uuid IS NULL OR entry_uuid NOT IN (SELECT uuid FROM temp.sync_seen))"
#define IDENT_ROW "(SELECT id FROM identity WHERE name = ?1)"

/* One part of a scope: 'sql' run with 'name' as ?1 (and 'res' as ?2 when
 * not NULL), when name is set; *n counts. */
static int unseen_gone(struct nhictl *x, const char *sql, const char *name, const char *res,
		       long *n)
{
	if (name == NULL)
		return 0;
	if ((res ? reg_exec(x, sql, "ss", name, res) : reg_exec(x, sql, "s", name)) < 0)
		return NHI_ERR_DB;
	*n += sqlite3_changes(x->db);
	return 0;
}

int dirstore_access_reconcile_scope(struct nhictl *x, const struct reach_scope *s, long *n)
{
	*n = 0;
	if (unseen_gone(x, "DELETE FROM resource WHERE name = ?1 AND " UNSEEN, s->resource, NULL,
			n) < 0 ||
	    unseen_gone(x, "DELETE FROM access WHERE resource_id IN (SELECT id FROM resource WHERE "
			"name = ?1) AND " UNSEEN, s->grants_on ? s->resource : NULL, NULL, n) < 0 ||
	    /* ?2 '': the identity's grants on any resource */
	    unseen_gone(x, "DELETE FROM access WHERE identity_id IN " IDENT_ROW " AND (?2 = '' "
			"OR resource_id IN (SELECT id FROM resource WHERE name = ?2)) AND " UNSEEN,
			s->ident, s->resource ? s->resource : "", n) < 0 ||
	    unseen_gone(x, "DELETE FROM delegation WHERE from_id IN " IDENT_ROW " AND " UNSEEN,
			s->from, NULL, n) < 0 ||
	    unseen_gone(x, "DELETE FROM delegation WHERE to_id IN " IDENT_ROW " AND " UNSEEN,
			s->to, NULL, n) < 0)
		return NHI_ERR_DB;
	return 0;
}

/* ---- batches ------------------------------------------------------------ */

static void warn(struct dirstore_batch *b, const char *what, const char *why)
{
	b->invalid++;
	if (!b->quiet)
		nerr(b->x, 0, "warning: %s%s%s; ignored", what, what[0] ? ": " : "", why);
}

static int count(struct dirstore_batch *b, int changed)
{
	if (changed == 2)
		b->added++;
	else if (changed == 1)
		b->changed++;
	return 0;
}

static int seen(struct dirstore_batch *b, const char *uuid)
{
	char u[64];

	if (!b->mark || uuid[0] == '\0')
		return 0;
	lower_uuid(uuid, u);
	return reg_exec(b->x, "INSERT OR IGNORE INTO temp.sync_seen VALUES (?)", "s", u);
}

/* Room for one more of n items of 'size' in *p (capacity *cap).  0 or -1. */
static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? 2 * *cap : 64;
	void *np;

	if (n < *cap)
		return 0;
	if ((np = realloc(*p, c * size)) == NULL)
		return -1;
	*p = np;
	*cap = c;
	return 0;
}

int dirstore_batch_add(void *ctx, enum da_type t, const void *entry, const char *why)
{
	struct dirstore_batch *b = ctx;
	int ch = 0, r, gone;

	if (entry == NULL) {
		warn(b, "", why);
		return b->uuid != NULL ? dirstore_access_forget(b->x, b->uuid, &gone) : 0;
	}
	if (t == DA_RESOURCE) {
		r = dirstore_resource(b->x, entry, &ch);
		if (r == 0)
			r = seen(b, ((const struct da_resource *)entry)->uuid);
		return r < 0 ? r : count(b, ch);
	}
	if (t == DA_GRANT) {
		if (grow((void **)&b->g, &b->capg, b->ng, sizeof(*b->g)) < 0)
			return nerr(b->x, NHI_ERR_NOMEM, "out of memory");
		b->g[b->ng++] = *(const struct da_grant *)entry;
	} else if (t == DA_DELEG) {
		if (grow((void **)&b->dl, &b->capd, b->nd, sizeof(*b->dl)) < 0)
			return nerr(b->x, NHI_ERR_NOMEM, "out of memory");
		b->dl[b->nd++] = *(const struct da_deleg *)entry;
	}
	return 0;
}

int dirstore_batch_apply(struct dirstore_batch *b)
{
	char why[512], dn[1600];
	size_t i;
	int r = 0, ch;

	for (i = 0; r == 0 && i < b->ng + b->nd; i++) {
		int grant = i < b->ng;
		const void *e = grant ? (const void *)&b->g[i] : (const void *)&b->dl[i - b->ng];
		const char *uuid = grant ? b->g[i].uuid : b->dl[i - b->ng].uuid;

		ch = 0;
		r = grant ? dirstore_grant(b->x, e, &ch, why, sizeof(why))
			  : dirstore_deleg(b->x, e, &ch, why, sizeof(why));
		if (r == NHI_ERR_NOTFOUND) {
			if (da_dn_of(b->d, grant ? DA_GRANT : DA_DELEG, e, dn, sizeof(dn)) < 0)
				snprintf(dn, sizeof(dn), "(entryUUID %s)", uuid);
			warn(b, dn, why);
			r = 0;
			continue;
		}
		if (r == 0)
			r = seen(b, uuid);
		if (r == 0)
			count(b, ch);
	}
	b->ng = b->nd = 0;
	return r;
}

void dirstore_batch_free(struct dirstore_batch *b)
{
	free(b->g);
	free(b->dl);
	b->g = NULL;
	b->dl = NULL;
	b->ng = b->nd = b->capg = b->capd = 0;
}

/* access.c - resources, grants and delegations as registry rows (access.h). */
#include <string.h>
#include "access.h"

static const char *const act_names[] = { "read", "write", "exec", "admin" };

int access_actions_parse(const char *s, unsigned *out, const char **bad)
{
	const char *p = s;
	unsigned bits = 0;

	*out = 0;
	if (bad != NULL)
		*bad = s;
	if (s == NULL || *s == '\0')
		return NHI_ERR_FORMAT;
	for (;;) {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < 4; i++)
			if (strlen(act_names[i]) == n && strncmp(p, act_names[i], n) == 0)
				break;
		if (i == 4 || (bits & (1u << i))) {
			if (bad != NULL)
				*bad = p;
			return NHI_ERR_FORMAT;
		}
		bits |= 1u << i;
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	*out = bits;
	return 0;
}

const char *access_actions_format(unsigned actions, char *buf, size_t len)
{
	size_t used = 0, i;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	/* by hand, not snprintf: reach formats the actions of every path
	 * (1.2 million instructions of one `reach` of 932 paths); cut short
	 * where snprintf would cut it */
	for (i = 0; i < 4; i++) {
		const char *sep = used ? "," : "";
		size_t ns = strlen(sep), n = strlen(act_names[i]), room = len - used - 1, k;

		if (!(actions & (1u << i)))
			continue;
		if (ns + n > room) {
			k = ns < room ? ns : room;
			memcpy(buf + used, sep, k);
			memcpy(buf + used + k, act_names[i], room - k);
			buf[len - 1] = '\0';
			break;
		}
		memcpy(buf + used, sep, ns);
		memcpy(buf + used + ns, act_names[i], n + 1);
		used += ns + n;
	}
	return buf;
}

int data_class_valid(const char *s)
{
	static const char *const classes[] = { "public", "internal", "confidential", "pii", "secret" };

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strcmp(s, classes[i]) == 0)
			return 1;
	return 0;
}

/* ---- rows ---- */

void resource_from_row(sqlite3_stmt *st, struct resource_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	col_cpy(r->name, sizeof(r->name), st, 1);
	col_cpy(r->kind, sizeof(r->kind), st, 2);
	col_cpy(r->uri, sizeof(r->uri), st, 3);
	col_cpy(r->owner, sizeof(r->owner), st, 4);
	col_cpy(r->owner_dn, sizeof(r->owner_dn), st, 5);
	col_cpy(r->owner_id, sizeof(r->owner_id), st, 6);
	col_cpy(r->data_class, sizeof(r->data_class), st, 7);
	r->external = sqlite3_column_int(st, 8) != 0;
	col_cpy(r->purpose, sizeof(r->purpose), st, 9);
	r->created = sqlite3_column_int64(st, 10);
	r->orphaned_since = sqlite3_column_int64(st, 11);
	r->managed = sqlite3_column_int(st, 12);
	col_cpy(r->entry_uuid, sizeof(r->entry_uuid), st, 13);
	col_cpy(r->labels, sizeof(r->labels), st, 14);
	r->applied = sqlite3_column_int(st, 15) != 0;
}

void grant_from_row(sqlite3_stmt *st, struct access_row *g)
{
	memset(g, 0, sizeof(*g));
	g->id = sqlite3_column_int64(st, 0);
	g->identity_id = sqlite3_column_int64(st, 1);
	g->resource_id = sqlite3_column_int64(st, 2);
	g->credential_id = sqlite3_column_int64(st, 3);
	col_cpy(g->identity, sizeof(g->identity), st, 4);
	col_cpy(g->resource, sizeof(g->resource), st, 5);
	col_cpy(g->cred, sizeof(g->cred), st, 6);
	g->actions = (unsigned)sqlite3_column_int(st, 7);
	col_cpy(g->scopes, sizeof(g->scopes), st, 8);
	g->created = sqlite3_column_int64(st, 9);
	g->expires = sqlite3_column_int64(st, 10);
	g->managed = sqlite3_column_int(st, 11);
	col_cpy(g->entry_uuid, sizeof(g->entry_uuid), st, 12);
	g->applied = sqlite3_column_int(st, 13) != 0;
}

void delegation_from_row(sqlite3_stmt *st, struct delegation_row *d)
{
	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(st, 0);
	d->from_id = sqlite3_column_int64(st, 1);
	d->to_id = sqlite3_column_int64(st, 2);
	col_cpy(d->from, sizeof(d->from), st, 3);
	col_cpy(d->to, sizeof(d->to), st, 4);
	d->actions = (unsigned)sqlite3_column_int(st, 5);
	col_cpy(d->scopes, sizeof(d->scopes), st, 6);
	col_cpy(d->reason, sizeof(d->reason), st, 7);
	d->created = sqlite3_column_int64(st, 8);
	d->expires = sqlite3_column_int64(st, 9);
	d->managed = sqlite3_column_int(st, 10);
	col_cpy(d->entry_uuid, sizeof(d->entry_uuid), st, 11);
	d->applied = sqlite3_column_int(st, 12) != 0;
}

/* One row of a prepared query through 'fill'; NOTFOUND without one. */
static int load_one(struct nhictl *x, sqlite3_stmt *st, void (*fill)(sqlite3_stmt *, void *),
		    void *out)
{
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		fill(st, out);
		r = 0;
	} else {
		r = r == SQLITE_DONE ? NHI_ERR_NOTFOUND : reg_dberr(x);
	}
	sqlite3_finalize(st);
	return r;
}

static void fill_resource(sqlite3_stmt *st, void *p) { resource_from_row(st, p); }
static void fill_grant(sqlite3_stmt *st, void *p) { grant_from_row(st, p); }
static void fill_delegation(sqlite3_stmt *st, void *p) { delegation_from_row(st, p); }

int resource_load(struct nhictl *x, const char *name, struct resource_row *r)
{
	return load_one(x, reg_prep(x, "SELECT " RESOURCE_COLS " FROM resource r WHERE r.name = ?",
				    "s", name), fill_resource, r);
}

int grant_load(struct nhictl *x, int64_t ident, int64_t res, int64_t cred, struct access_row *g)
{
	return load_one(x, reg_prep(x, "SELECT " GRANT_COLS " FROM " GRANT_FROM " WHERE "
				    "a.identity_id = ? AND a.resource_id = ? AND "
				    "IFNULL(a.credential_id, 0) = ?", "iii", ident, res, cred),
			fill_grant, g);
}

int delegation_load(struct nhictl *x, int64_t from, int64_t to, struct delegation_row *d)
{
	return load_one(x, reg_prep(x, "SELECT " DELEGATION_COLS " FROM " DELEGATION_FROM
				    " WHERE d.from_id = ? AND d.to_id = ?", "ii", from, to),
			fill_delegation, d);
}

/* "" as NULL (entry_uuid, owner_id: UNIQUE or unknown) */
static const char *or_null(const char *s)
{
	return s[0] ? s : NULL;
}

/* Each *_put: the row of the key, then UPDATE it or INSERT a new one. */
int resource_put(struct nhictl *x, struct resource_row *r)
{
	int64_t id = 0;
	int rc;

	if (reg_int(x, &id, 0, "SELECT id FROM resource WHERE name = ?", "s", r->name) < 0)
		return NHI_ERR_DB;
	if (id == 0) {
		rc = reg_exec(x, "INSERT INTO resource (name, kind, uri, owner, owner_dn, owner_id, "
			      "data_class, external, purpose, created, orphaned_since, managed, "
			      "entry_uuid, labels, applied) "
			      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			      "sssssssisiiissi", r->name, r->kind, r->uri, r->owner, r->owner_dn,
			      or_null(r->owner_id), r->data_class, (int64_t)r->external, r->purpose,
			      r->created, r->orphaned_since, (int64_t)r->managed,
			      or_null(r->entry_uuid), r->labels, (int64_t)(r->applied != 0));
		id = sqlite3_last_insert_rowid(x->db);
	} else {
		rc = reg_exec(x, "UPDATE resource SET kind = ?, uri = ?, owner = ?, owner_dn = ?, "
			      "owner_id = ?, data_class = ?, external = ?, purpose = ?, "
			      "orphaned_since = ?, managed = ?, entry_uuid = ?, labels = ?, applied = ? "
			      "WHERE id = ?", "ssssssisiissii", r->kind, r->uri, r->owner, r->owner_dn,
			      or_null(r->owner_id), r->data_class, (int64_t)r->external, r->purpose,
			      r->orphaned_since, (int64_t)r->managed, or_null(r->entry_uuid),
			      r->labels, (int64_t)(r->applied != 0), id);
	}
	if (rc == 0)
		r->id = id;
	return rc;
}

int resource_delete(struct nhictl *x, int64_t id)
{
	return reg_exec(x, "DELETE FROM resource WHERE id = ?", "i", id);
}

int grant_put(struct nhictl *x, struct access_row *g)
{
	int64_t id = 0;
	int rc;

	if (reg_int(x, &id, 0, "SELECT id FROM access WHERE identity_id = ? AND resource_id = ? "
		    "AND IFNULL(credential_id, 0) = ?", "iii", g->identity_id, g->resource_id,
		    g->credential_id) < 0)
		return NHI_ERR_DB;
	if (id == 0) {
		rc = reg_exec(x, "INSERT INTO access (identity_id, resource_id, credential_id, "
			      "actions, scopes, created, expires, managed, entry_uuid, applied) "
			      "VALUES (?, ?, NULLIF(?, 0), ?, ?, ?, ?, ?, ?, ?)", "iiiisiiisi",
			      g->identity_id, g->resource_id, g->credential_id, (int64_t)g->actions,
			      g->scopes, g->created, g->expires, (int64_t)g->managed,
			      or_null(g->entry_uuid), (int64_t)(g->applied != 0));
		id = sqlite3_last_insert_rowid(x->db);
	} else {
		rc = reg_exec(x, "UPDATE access SET actions = ?, scopes = ?, expires = ?, "
			      "managed = ?, entry_uuid = ?, applied = ? WHERE id = ?", "isiisii",
			      (int64_t)g->actions, g->scopes, g->expires, (int64_t)g->managed,
			      or_null(g->entry_uuid), (int64_t)(g->applied != 0), id);
	}
	if (rc == 0)
		g->id = id;
	return rc;
}

int grant_delete(struct nhictl *x, int64_t id)
{
	return reg_exec(x, "DELETE FROM access WHERE id = ?", "i", id);
}

int delegation_put(struct nhictl *x, struct delegation_row *d)
{
	int64_t id = 0;
	int rc;

	if (reg_int(x, &id, 0, "SELECT id FROM delegation WHERE from_id = ? AND to_id = ?", "ii",
		    d->from_id, d->to_id) < 0)
		return NHI_ERR_DB;
	if (id == 0) {
		rc = reg_exec(x, "INSERT INTO delegation (from_id, to_id, actions, scopes, created, "
			      "expires, reason, managed, entry_uuid, applied) "
			      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "iiisiisisi", d->from_id, d->to_id, (int64_t)d->actions, d->scopes,
			      d->created, d->expires, d->reason, (int64_t)d->managed,
			      or_null(d->entry_uuid), (int64_t)(d->applied != 0));
		id = sqlite3_last_insert_rowid(x->db);
	} else {
		rc = reg_exec(x, "UPDATE delegation SET actions = ?, scopes = ?, expires = ?, "
			      "reason = ?, managed = ?, entry_uuid = ?, applied = ? WHERE id = ?",
			      "isisisii", (int64_t)d->actions, d->scopes, d->expires, d->reason,
			      (int64_t)d->managed, or_null(d->entry_uuid), (int64_t)(d->applied != 0),
			      id);
	}
	if (rc == 0)
		d->id = id;
	return rc;
}

int delegation_delete(struct nhictl *x, int64_t id)
{
	return reg_exec(x, "DELETE FROM delegation WHERE id = ?", "i", id);
}

int grant_carry(struct nhictl *x, int64_t old, int64_t new_row, int *n)
{
	char acts[ACT_BUFSZ];
	sqlite3_stmt *st;
	int r, count = 0;

	st = reg_prep(x, "SELECT " GRANT_COLS ", (SELECT cred_id FROM credential WHERE id = ?) "
		      "FROM " GRANT_FROM " WHERE a.credential_id = ? ORDER BY a.id", "ii",
		      new_row, old);
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct access_row g;
		char to[CRED_ID_MAX];

		grant_from_row(st, &g);
		col_cpy(to, sizeof(to), st, GRANT_NCOLS);
		r = reg_exec(x, "UPDATE access SET credential_id = ? WHERE id = ?", "ii",
			     new_row, g.id);
		if (r == 0)
			r = reg_event(x, "grant-carry", g.identity, "ok", "resource=%s actions=%s "
				      "cred %s -> %s (rotation)", g.resource,
				      access_actions_format(g.actions, acts, sizeof(acts)), g.cred, to);
		if (r < 0)
			break;
		count++;
		r = SQLITE_DONE;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return r < 0 ? r : reg_dberr(x);
	if (n != NULL)
		*n = count;
	return 0;
}

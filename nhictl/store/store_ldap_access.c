/* store_ldap_access.c - the reach operations of backend = ldap (store.h):
 * resources, grants and delegations are entries of the directory
 * (diraccess.h).  Each change is written there first (one Add, Modify or
 * Delete; a Modify under an assertion of what the verb read), then read
 * back into the registry row (dirstore_access.c) in the transaction the
 * verb holds, so this host sees its own write at once and other hosts at
 * their next `nhictl sync`.  A refused write changes nothing locally.
 */
#include <string.h>
#include "store.h"
#include "diraccess.h"
#include "dirstore_access.h"
#include "store_ldap_access.h"

/* ---- registry rows <-> directory structs --------------------------------- */

static void res_to_da(const struct resource_row *r, struct da_resource *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", r->name);
	snprintf(o->kind, sizeof(o->kind), "%s", r->kind);
	snprintf(o->uri, sizeof(o->uri), "%s", r->uri);
	snprintf(o->data_class, sizeof(o->data_class), "%s", r->data_class);
	snprintf(o->purpose, sizeof(o->purpose), "%s", r->purpose);
	snprintf(o->owner, sizeof(o->owner), "%s", r->owner);
	snprintf(o->owner_dn, sizeof(o->owner_dn), "%s", r->owner_dn);
	o->external = r->external;
	o->created = r->created;
	snprintf(o->labels, sizeof(o->labels), "%s", r->labels);
	o->applied = r->applied;
}

static void grant_to_da(const struct access_row *g, struct da_grant *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->ident, sizeof(o->ident), "%s", g->identity);
	snprintf(o->resource, sizeof(o->resource), "%s", g->resource);
	snprintf(o->cred_id, sizeof(o->cred_id), "%s", g->cred);
	snprintf(o->scopes, sizeof(o->scopes), "%s", g->scopes);
	o->actions = (int)g->actions;
	o->created = g->created;
	o->expires = g->expires;
	o->applied = g->applied;
}

static void deleg_to_da(const struct delegation_row *d, struct da_deleg *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->from, sizeof(o->from), "%s", d->from);
	snprintf(o->to, sizeof(o->to), "%s", d->to);
	snprintf(o->scopes, sizeof(o->scopes), "%s", d->scopes);
	snprintf(o->reason, sizeof(o->reason), "%s", d->reason);
	o->actions = (int)d->actions;
	o->created = d->created;
	o->expires = d->expires;
	o->applied = d->applied;
}

/* The directory was written: a failure to read it back leaves the
 * registry behind (the verb aborts; `nhictl sync` catches up). */
static int behind(struct nhictl *x, int r)
{
	if (r == 0)
		return 0;
	if (r == NHI_ERR_NOTFOUND)   /* another host removed it right after this write */
		return nerr(x, NHI_ERR_CONFLICT, "it was removed in the directory meanwhile, right "
			    "after this change was written: the local registry is not updated "
			    "(run 'nhictl sync')");
	return nerr(x, r == NHI_ERR_DB ? r : NHI_ERR_IO, "the directory was changed, but reading "
		    "it back failed: the local registry is not updated (run 'nhictl sync')");
}

static int stored(struct nhictl *x, int r, const char *why)
{
	if (r == NHI_ERR_NOTFOUND)
		nerr(x, 0, "%s", why);
	return behind(x, r);
}

/* ---- the lock: the rows made to agree with the directory ----------------- */

/* The entries of scope s (store.h), each part by its own search: a write
 * reads what it checks, not the whole directory (issue 14: a `grant add`
 * cost 49 million instructions of reading 300 entries). */
static int scope_read(struct nhictl *x, const struct reach_scope *s, struct dirstore_batch *b)
{
	int r = 0;

	if (s->resource != NULL)
		r = da_resource_entries(&dir_conn, s->resource, s->grants_on, dirstore_batch_add, b);
	if (r == 0 && s->ident != NULL)
		r = da_ident_grants(&dir_conn, s->ident, s->resource, dirstore_batch_add, b);
	if (r == 0 && s->from != NULL)
		r = da_delegs_from(&dir_conn, s->from, dirstore_batch_add, b);
	if (r == 0 && s->to != NULL)
		r = da_delegs_to(&dir_conn, s->to, dirstore_batch_add, b);
	return r;
}

/* The resources that the grants read name and the registry lacks (not
 * synced here yet), read in too: such a grant is a row, as it is after
 * reading every entry, so a retire cascade removes it. */
static int named_resources(struct nhictl *x, struct dirstore_batch *b)
{
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && i < b->ng; i++) {
		int64_t have = 0;

		if (reg_int(x, &have, 0, "SELECT count(*) FROM resource WHERE name = ?", "s",
			    b->g[i].resource) < 0)
			return NHI_ERR_DB;
		if (have == 0)
			r = da_resource_entries(&dir_conn, b->g[i].resource, 0, dirstore_batch_add,
						b);
	}
	return r;
}

int ldap_reach_lock(struct nhictl *x, const struct reach_scope *s)
{
	struct dirstore_batch b = { .x = x, .d = &dir_conn, .quiet = 1, .mark = 1 };
	long gone = 0;
	int r;

	if (dir_need(x) != 0)
		return NHI_ERR_IO;
	if (reg_begin(x) < 0)
		return NHI_ERR_DB;
	r = reg_exec(x, "CREATE TEMP TABLE IF NOT EXISTS sync_seen (uuid TEXT PRIMARY KEY) "
		     "WITHOUT ROWID", "");
	if (r == 0)
		r = reg_exec(x, "DELETE FROM temp.sync_seen", "");
	if (r == 0 && s == NULL)
		r = da_each(&dir_conn, x->conf.ldap_base, LDAP_SCOPE_SUBTREE, DA_ACCESS_FILTER,
			    dirstore_batch_add, &b);
	else if (r == 0)
		r = scope_read(x, s, &b);
	if (r == 0 && s != NULL)
		r = named_resources(x, &b);
	if (r == 0)
		r = dirstore_batch_apply(&b);
	if (r == 0)
		r = s == NULL ? dirstore_access_reconcile(x, &gone)
			      : dirstore_access_reconcile_scope(x, s, &gone);
	dirstore_batch_free(&b);
	if (r < 0)
		reg_rollback(x);
	return r;
}

/* ---- resources ------------------------------------------------------------ */

/* Read resource 'name' back into its row, with what only the registry
 * keeps (owner_id, orphaned_since) from the verb's r; r reloaded. */
static int resource_back(struct nhictl *x, struct resource_row *r)
{
	struct da_resource got;
	int64_t orphaned = r->orphaned_since;
	char owner_id[sizeof(r->owner_id)];
	int rc;

	snprintf(owner_id, sizeof(owner_id), "%s", r->owner_id);
	rc = da_resource_read(&dir_conn, r->name, &got);
	if (rc == 0)
		rc = dirstore_resource(x, &got, NULL);
	if (rc == 0)
		rc = reg_exec(x, "UPDATE resource SET owner_id = nullif(?, ''), orphaned_since = ? "
			      "WHERE name = ?", "sis", owner_id, orphaned, r->name);
	if (rc == 0)
		rc = resource_load(x, r->name, r);
	return behind(x, rc);
}

int ldap_resource_add(struct nhictl *x, struct resource_row *r)
{
	struct da_resource n;
	int rc;

	res_to_da(r, &n);
	if (reg_intent(x, "resource-add", r->name, "resource-add", r->name, NULL, "kind=%s uri=%s "
		       "owner=%s", r->kind, r->uri, r->owner) < 0)
		return NHI_ERR_DB;
	if ((rc = da_resource_add(&dir_conn, &n)) < 0) {
		reg_intent_void(x);
		return rc;
	}
	return resource_back(x, r);
}

int ldap_resource_update(struct nhictl *x, const struct resource_row *old,
				struct resource_row *r)
{
	struct da_resource o, n;
	int rc;

	res_to_da(old, &o);
	res_to_da(r, &n);
	if ((rc = da_resource_modify(&dir_conn, &o, &n)) < 0)
		return rc;
	return resource_back(x, r);
}

int ldap_resource_remove(struct nhictl *x, const struct resource_row *r)
{
	int grants = 0, rc;

	if (reg_intent(x, "resource-remove", r->name, "resource-remove", r->name, NULL,
		       "kind=%s uri=%s owner=%s", r->kind, r->uri, r->owner) < 0)
		return NHI_ERR_DB;
	if ((rc = da_resource_remove(&dir_conn, r->name, &grants)) < 0)
		return rc;
	if (grants > 0)   /* added by another host meanwhile, or unknown here */
		nerr(x, 0, "warning: %d grant%s on %s that this host did not have removed from "
		     "the directory with it", grants, grants == 1 ? "" : "s", r->name);
	return behind(x, resource_delete(x, r->id));
}

/* ---- grants ---------------------------------------------------------------- */

/* A grant's intent: its key "RESOURCE<TAB>CRED_ID" (ldap_access_intent). */
static int grant_intent(struct nhictl *x, const char *action, const struct access_row *g)
{
	char key[DA_NAME_MAX + CRED_ID_MAX + 2];

	snprintf(key, sizeof(key), "%s\t%s", g->resource, g->cred);
	return reg_intent(x, action, g->identity, action, key, NULL, "resource=%s%s%s",
			  g->resource, g->cred[0] ? " credential=" : "", g->cred);
}

static int grant_back(struct nhictl *x, struct access_row *g)
{
	struct da_grant got;
	char why[512];
	int rc = da_grant_read(&dir_conn, g->identity, g->resource, g->cred, &got);

	if (rc == 0)
		rc = stored(x, dirstore_grant(x, &got, NULL, why, sizeof(why)), why);
	if (rc == 0)
		rc = grant_load(x, g->identity_id, g->resource_id, g->credential_id, g);
	return behind(x, rc);
}

int ldap_grant_add(struct nhictl *x, struct access_row *g)
{
	struct da_grant n;
	int rc;

	grant_to_da(g, &n);
	if (grant_intent(x, "grant-add", g) < 0)
		return NHI_ERR_DB;
	if ((rc = da_grant_add(&dir_conn, &n)) < 0) {
		reg_intent_void(x);
		return rc;
	}
	return grant_back(x, g);
}

int ldap_grant_update(struct nhictl *x, const struct access_row *old, struct access_row *g)
{
	struct da_grant o, n;
	int rc;

	grant_to_da(old, &o);
	grant_to_da(g, &n);
	if ((rc = da_grant_modify(&dir_conn, &o, &n)) < 0)
		return rc;
	return grant_back(x, g);
}

int ldap_grant_remove(struct nhictl *x, const struct access_row *g)
{
	int rc;

	if (grant_intent(x, "grant-remove", g) < 0)
		return NHI_ERR_DB;
	rc = da_grant_remove(&dir_conn, g->identity, g->resource, g->cred);
	return rc < 0 ? rc : behind(x, grant_delete(x, g->id));
}

/* ---- delegations ------------------------------------------------------------ */

static int deleg_back(struct nhictl *x, struct delegation_row *d)
{
	struct da_deleg got;
	char why[512];
	int rc = da_deleg_read(&dir_conn, d->from, d->to, &got);

	if (rc == 0)
		rc = stored(x, dirstore_deleg(x, &got, NULL, why, sizeof(why)), why);
	if (rc == 0)
		rc = delegation_load(x, d->from_id, d->to_id, d);
	return behind(x, rc);
}

int ldap_delegation_add(struct nhictl *x, struct delegation_row *d)
{
	struct da_deleg n;
	int rc;

	deleg_to_da(d, &n);
	if ((rc = da_deleg_add(&dir_conn, &n)) < 0)
		return rc;
	return deleg_back(x, d);
}

int ldap_delegation_update(struct nhictl *x, const struct delegation_row *old,
				  struct delegation_row *d)
{
	struct da_deleg o, n;
	int rc;

	deleg_to_da(old, &o);
	deleg_to_da(d, &n);
	if ((rc = da_deleg_modify(&dir_conn, &o, &n)) < 0)
		return rc;
	return deleg_back(x, d);
}

int ldap_delegation_remove(struct nhictl *x, const struct delegation_row *d)
{
	int rc = da_deleg_remove(&dir_conn, d->from, d->to);

	return rc < 0 ? rc : behind(x, delegation_delete(x, d->id));
}

/* ---- rotation: the grants bound to the old credential move on ----------- */

int ldap_grant_carry(struct nhictl *x, const char *name, int64_t old_row, const char *old_id,
		     const char *new_id)
{
	struct dirstore_batch b = { .x = x, .d = &dir_conn };
	int64_t new_row = 0;
	int r;

	if (reg_int(x, &new_row, 0, "SELECT c.id FROM credential c JOIN identity i ON "
		    "i.id = c.identity_id WHERE i.name = ? AND c.cred_id = ?", "ss", name,
		    new_id) < 0)
		return NHI_ERR_DB;
	if (new_row == 0)
		return nerr(x, NHI_ERR_NOTFOUND, "credential %s of %s is not in the registry",
			    new_id, name);
	/* the directory's entries, then the rows (audited), then the rows
	 * take the new entries' entryUUIDs */
	r = da_grant_rebind(&dir_conn, name, old_id, new_id, NULL);
	if (r == 0)
		r = grant_carry(x, old_row, new_row, NULL);
	if (r < 0)
		return r;
	r = da_cred_grants(&dir_conn, name, new_id, dirstore_batch_add, &b);
	if (r == 0)
		r = dirstore_batch_apply(&b);
	dirstore_batch_free(&b);
	return r;
}

/* ---- the intents of killed runs ------------------------------------------- */

/* What a read of the entry tells of an intent: 1 done, 0 not (or the
 * read's NHI_ERR_*), READ_BACK when it was added and is there. */
#define READ_BACK 2
static int entry_tells(int rc, int add)
{
	if (rc == NHI_ERR_NOTFOUND)
		return !add;
	if (rc < 0)
		return rc;
	return add ? READ_BACK : 0;
}

int ldap_access_intent(struct nhictl *x, const struct intent *it)
{
	char res[DA_NAME_MAX], why[512];
	const char *tab = strchr(it->key, '\t');
	int add = strstr(it->kind, "-add") != NULL, rc;

	if (strncmp(it->kind, "resource-", 9) == 0) {
		struct da_resource got;

		if ((rc = entry_tells(da_resource_read(&dir_conn, it->target, &got), add)) !=
		    READ_BACK)
			return rc;
		return behind(x, dirstore_resource(x, &got, NULL)) < 0 ? NHI_ERR_IO : 1;
	}
	if (strncmp(it->kind, "grant-", 6) == 0 && tab != NULL) {
		struct da_grant got;

		snprintf(res, sizeof(res), "%.*s", (int)(tab - it->key), it->key);
		if ((rc = entry_tells(da_grant_read(&dir_conn, it->target, res, tab + 1, &got),
				      add)) != READ_BACK)
			return rc;
		rc = dirstore_grant(x, &got, NULL, why, sizeof(why));
		/* a grant whose identity or resource this host has not synced
		 * yet: held in the directory all the same (sync reads it) */
		return rc == NHI_ERR_NOTFOUND ? 1 : rc < 0 ? behind(x, rc) : 1;
	}
	return nerr(x, NHI_ERR_FORMAT, "intent %lld: unknown kind '%s'", (long long)it->id,
		    it->kind);
}

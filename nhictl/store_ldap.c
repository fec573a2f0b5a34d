/* store_ldap.c - the store of backend = ldap: the directory is the truth.
 * Each change is one Add or Modify there (dirwrite.c), the credential
 * entries follow (dircred.c), and the entry read back is stored in the
 * registry in one transaction (left open for the verb's audit event), so
 * this host sees its own write at once.  A refused write changes nothing
 * locally.  See store.h.
 */
#include <string.h>
#include "nhictl.h"
#include "store.h"
#include "dirwrite.h"
#include "dircred.h"

/* The dir*.c functions print and return EXIT_FAIL (or -EXIT_FAIL). */
static int dir_err(int r)
{
	return r == 0 ? 0 : NHI_ERR_IO;
}

static int ldap_fetch(struct nhictl *x, const char *name, struct ident *id)
{
	char why[1024];
	int r;

	if (dir_need(x) != 0)
		return NHI_ERR_IO;
	r = dir_ident_read(&dir_conn, name, id, NULL, 0, NULL, 0, why, sizeof(why));
	if (r == NHI_ERR_NOTFOUND)
		return nerr(x, r, "no identity '%s' in the directory", name);
	if (r < 0)
		return nerr(x, r, "%s", why);
	return 0;
}

static int ldap_name_free(struct nhictl *x, const char *name, const char *what)
{
	(void)what;
	if (dir_need(x) != 0)
		return NHI_ERR_IO;
	return dir_err(dw_name_free(&dir_conn, name));
}

static int ldap_owner_resolve(struct nhictl *x, const char *owner, char *name, size_t name_len,
			      char *dn, size_t dn_len, char *why, size_t why_len)
{
	if (dir_need(x) != 0)
		return NHI_ERR_IO;
	return dir_owner_resolve(&dir_conn, owner, dn, dn_len, name, name_len, why, why_len);
}

static int ldap_uid_free(struct nhictl *x, uint32_t id)
{
	int r = id_free(x, id), used;

	if (r <= 0)
		return r;
	used = dw_id_in_use(&dir_conn, id, 0);
	return used < 0 ? NHI_ERR_IO : !used;
}

static int ldap_uid_registered(struct nhictl *x, uint32_t id)
{
	int used = dw_id_in_use(&dir_conn, id, 1);

	(void)x;
	return used < 0 ? NHI_ERR_IO : used;
}

static int ldap_alloc_uid(struct nhictl *x, uint32_t *uid)
{
	(void)x;
	return dir_err(dw_alloc_uid(&dir_conn, uid));
}

static int ldap_add(struct nhictl *x, const struct store_new *n, struct ident *got)
{
	struct dw_new w = {
		.name = n->name, .kind = nhi_kind_str(n->kind), .gecos = n->gecos,
		.home = n->home, .shell = n->shell, .owner_dn = n->owner_dn,
		.purpose = n->purpose, .uid = n->uid, .gid = n->gid, .expires = n->expires,
		.interval = n->interval, .adopted = n->adopted, .hosts = n->hosts,
		.services = n->services, .n_hosts = n->n_hosts, .n_services = n->n_services,
	};

	(void)x;
	return dir_err(dw_add(&dir_conn, &w) || dw_store(&dir_conn, n->name, got));
}

static int ldap_update(struct nhictl *x, const struct ident *id, struct store_change *c)
{
	struct dw_change w = {
		.state_from = c->state_from, .state_to = c->state_to, .expires = c->expires,
		.last_review = c->last_review, .review_due = c->review_due,
		.owner_dn = c->owner_dn, .clear_orphaned = c->clear_orphaned,
		.retired_at = c->retired_at, .reason = c->reason,
	};
	struct ident got;
	int creds = 0;

	c->revoked = -1;
	/* the credentials follow the state: no password binds while the
	 * identity is suspended; retired, they are revoked for good */
	if (c->state_to != NULL && strcmp(c->state_to, "suspended") == 0)
		creds = DC_SUSPEND;
	else if (c->state_to != NULL && strcmp(c->state_to, "retired") == 0)
		creds = DC_RETIRE;
	else if (c->state_to != NULL && strcmp(c->state_from, "suspended") == 0)
		creds = DC_RESUME;
	if (dw_modify(&dir_conn, id->name, &w) != 0 ||
	    (creds && dc_lock_creds(&dir_conn, id->name, creds) != 0) ||
	    /* no credential outlives its identity */
	    (c->expires != 0 && dc_cap_not_after(&dir_conn, id->name, c->expires) != 0) ||
	    dw_store(&dir_conn, id->name, &got) != 0)
		return NHI_ERR_IO;
	if (dc_refresh(&dir_conn, id->name) != 0) {
		x->store->abort(x);
		return NHI_ERR_IO;
	}
	return 0;
}

static int ldap_adopted(struct nhictl *x, const struct ident *id)
{
	int r = dw_adopted(&dir_conn, id->name);

	(void)x;
	return r < 0 ? NHI_ERR_IO : r;
}

static int ldap_release(struct nhictl *x, const struct ident *id)
{
	(void)x;
	return dir_err(dw_delete(&dir_conn, id->name));
}

/* The directory was written but the registry could not be: roll back. */
static void ldap_abort(struct nhictl *x)
{
	reg_rollback(x);
	nerr(x, 0, "the directory was changed, but the local registry was not "
	     "updated (run 'nhictl sync')");
}

const struct store_ops store_ldap = {
	.name = "ldap",
	.audit_tag = " (directory)",
	.where = " in the directory",
	.owner_dn_ok = 1,
	.fetch = ldap_fetch,
	.name_free = ldap_name_free,
	.owner_resolve = ldap_owner_resolve,
	.uid_free = ldap_uid_free,
	.uid_registered = ldap_uid_registered,
	.alloc_uid = ldap_alloc_uid,
	.add = ldap_add,
	.update = ldap_update,
	.adopted = ldap_adopted,
	.release = ldap_release,
	.abort = ldap_abort,
};

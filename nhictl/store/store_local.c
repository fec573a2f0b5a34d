/* store_local.c - the store of backend = local: registry.db is the
 * truth, every change is one transaction there.  See store.h.
 */
#include <pwd.h>
#include <string.h>
#include "store.h"

static int db_err(int r)
{
	return r < 0 ? r : r > 0 ? NHI_ERR_DB : 0;
}

static int local_fetch(struct nhictl *x, const char *name, struct ident *id)
{
	int r = ident_load(x, name, id);

	if (r == NHI_ERR_NOTFOUND)
		nerr(x, 0, "no identity '%s' in the registry", name);
	return r;
}

static int local_name_free(struct nhictl *x, const char *name, const char *what)
{
	int64_t n = 0;

	if (reg_int(x, &n, 0, "SELECT count(*) FROM identity WHERE name = ?", "s", name) < 0)
		return NHI_ERR_DB;
	if (n > 0)
		return nerr(x, NHI_ERR_EXISTS, "%s'%s' is already registered", what, name);
	return 0;
}

static int local_owner_resolve(struct nhictl *x, const char *owner, char *name, size_t name_len,
			       char *dn, size_t dn_len, char *why, size_t why_len)
{
	snprintf(name, name_len, "%s", owner);
	snprintf(dn, dn_len, "%s", "");
	return owner_live(x, owner, why, why_len);
}

static int local_owner_now(struct nhictl *x, const char *owner, const char *owner_dn,
			   char *id, size_t idlen, char *why, size_t why_len)
{
	uid_t uid;
	int r, have;

	(void)owner_dn;
	r = owner_live_uid(x, owner, &uid, &have, why, why_len);
	if ((r == 0 || r == NHI_ERR_PERM) && have)
		snprintf(id, idlen, "%u", (unsigned)uid);
	return r;
}

static int local_uid_free(struct nhictl *x, uint32_t id)
{
	return id_free(x, id);
}

static int local_uid_registered(struct nhictl *x, uint32_t id)
{
	int64_t n = 0;

	if (reg_int(x, &n, 0, "SELECT count(*) FROM identity WHERE uid = ?", "u", id) < 0)
		return NHI_ERR_DB;
	return n > 0;
}

static int local_alloc_uid(struct nhictl *x, uint32_t *uid)
{
	return db_err(alloc_id(x, uid));
}

static int local_add(struct nhictl *x, const struct store_new *n, struct ident *got)
{
	int64_t row;
	int i, r;

	memset(got, 0, sizeof(*got));
	snprintf(got->name, sizeof(got->name), "%s", n->name);
	snprintf(got->owner, sizeof(got->owner), "%s", n->owner);
	got->uid = n->uid;
	got->gid = n->gid;
	got->expires = n->expires;
	got->applied = n->applied != 0;
	if (reg_begin(x) < 0)
		return NHI_ERR_DB;
	r = reg_exec(x, "INSERT INTO identity (name, kind, uid, gid, gecos, home, shell, owner, "
		     "purpose, created, expires, review_interval, review_due, state, adopted, labels, "
		     "applied) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
		     "ssuusssssiiiiisi", n->name, nhi_kind_str(n->kind), n->uid, n->gid, n->gecos,
		     n->home, n->shell, n->owner, n->purpose ? n->purpose : "", (int64_t)x->now,
		     (int64_t)n->expires, n->interval, (int64_t)x->now + n->interval,
		     (int64_t)n->adopted, n->labels ? n->labels : "", (int64_t)(n->applied != 0));
	row = sqlite3_last_insert_rowid(x->db);
	for (i = 0; r == 0 && i < n->n_hosts; i++)
		r = reg_exec(x, "INSERT OR IGNORE INTO identity_host VALUES (?, ?)", "is",
			     row, n->hosts[i]);
	for (i = 0; r == 0 && i < n->n_services; i++)
		r = reg_exec(x, "INSERT OR IGNORE INTO identity_service VALUES (?, ?)", "is",
			     row, n->services[i]);
	if (r < 0)
		reg_rollback(x);
	return db_err(r);
}

static int local_update(struct nhictl *x, const struct ident *id, struct store_change *c)
{
	int r;

	c->revoked = -1;
	if (reg_begin(x) < 0)
		return NHI_ERR_DB;
	r = 0;
	if (c->state_to != NULL)
		r = reg_exec(x, "UPDATE identity SET state = ? WHERE id = ?", "si", c->state_to, id->id);
	if (r == 0 && c->retired_at != 0) {
		r = reg_exec(x, "UPDATE identity SET retired_at = ?, retire_reason = ? WHERE id = ?",
			     "isi", c->retired_at, c->reason ? c->reason : "", id->id);
		/* its credentials die with it: revoked now, rotations cancelled */
		c->revoked = 0;
		if (r == 0)
			r = cred_revoke_all(x, id, &c->revoked);
	}
	if (r == 0 && c->expires != 0)
		r = reg_exec(x, "UPDATE identity SET expires = ? WHERE id = ?", "ii",
			     (int64_t)c->expires, id->id);
	/* no credential outlives its identity */
	if (r == 0 && c->expires != 0)
		r = reg_exec(x, "UPDATE credential SET not_after = ?1 WHERE identity_id = ?2 AND "
			     "(not_after = 0 OR not_after > ?1)", "ii", (int64_t)c->expires, id->id);
	if (r == 0 && c->last_review != 0)
		r = reg_exec(x, "UPDATE identity SET last_review = ?, review_due = ? WHERE id = ?",
			     "iii", c->last_review, c->review_due, id->id);
	if (r == 0 && c->owner != NULL)
		r = reg_exec(x, "UPDATE identity SET owner = ? WHERE id = ?", "si", c->owner, id->id);
	if (r == 0 && c->clear_orphaned)
		r = reg_exec(x, "UPDATE identity SET orphaned_since = 0 WHERE id = ?", "i", id->id);
	if (r == 0 && c->labels != NULL)
		r = reg_exec(x, "UPDATE identity SET labels = ? WHERE id = ?", "si", c->labels, id->id);
	if (r == 0 && c->purpose != NULL)
		r = reg_exec(x, "UPDATE identity SET purpose = ? WHERE id = ?", "si", c->purpose,
			     id->id);
	if (r == 0 && c->gecos != NULL)
		r = reg_exec(x, "UPDATE identity SET gecos = ? WHERE id = ?", "si", c->gecos, id->id);
	/* a new review interval moves the due date: from the last review, or
	 * from the creation when there was none */
	if (r == 0 && c->interval != 0)
		r = reg_exec(x, "UPDATE identity SET review_interval = ?1, review_due = CASE WHEN "
			     "last_review > 0 THEN last_review ELSE created END + ?1 WHERE id = ?2",
			     "ii", c->interval, id->id);
	/* the scope, replaced whole (the snapshot triggers queue the name) */
	if (r == 0 && c->set_hosts) {
		r = reg_exec(x, "DELETE FROM identity_host WHERE identity_id = ?", "i", id->id);
		for (int i = 0; r == 0 && i < c->n_hosts; i++)
			r = reg_exec(x, "INSERT OR IGNORE INTO identity_host VALUES (?, ?)", "is",
				     id->id, c->hosts[i]);
	}
	if (r == 0 && c->set_services) {
		r = reg_exec(x, "DELETE FROM identity_service WHERE identity_id = ?", "i", id->id);
		for (int i = 0; r == 0 && i < c->n_services; i++)
			r = reg_exec(x, "INSERT OR IGNORE INTO identity_service VALUES (?, ?)", "is",
				     id->id, c->services[i]);
	}
	if (r == 0 && c->applied != 0)
		r = reg_exec(x, "UPDATE identity SET applied = ? WHERE id = ?", "ii",
			     (int64_t)(c->applied > 0), id->id);
	if (r < 0)
		reg_rollback(x);
	return db_err(r);
}

static int local_adopted(struct nhictl *x, const struct ident *id)
{
	int64_t adopted = 0;

	if (reg_int(x, &adopted, 0, "SELECT adopted FROM identity WHERE id = ?", "i", id->id) < 0)
		return NHI_ERR_DB;
	return adopted != 0;
}

static int local_release(struct nhictl *x, const struct ident *id)
{
	(void)x;
	(void)id;
	return 0;   /* the registry row is all there is */
}

static void local_abort(struct nhictl *x)
{
	reg_rollback(x);
}

/* ---- credentials: the registry is the truth; the verb's rows are all ---- */

static int local_cred_open(struct nhictl *x)
{
	(void)x;
	return 0;
}

static int local_cred_sweep(struct nhictl *x, int *n)
{
	return cred_sweep(x, NULL, n);
}

static int local_cred_lock(struct nhictl *x, const char *name, long long *serial)
{
	(void)name;
	*serial = 0;
	return reg_begin(x) < 0 ? NHI_ERR_DB : 0;
}

static int local_cred_add(struct nhictl *x, const struct ident *id, const struct newcred *n,
			  long long serial)
{
	(void)serial;
	return db_err(cred_insert(x, id, n, NULL));
}

static int local_cred_unadd(struct nhictl *x, const struct ident *id, const struct newcred *n)
{
	(void)x;
	(void)id;
	(void)n;
	return 0;   /* the registry is the truth: the verb revokes its row */
}

static int local_cred_revoke(struct nhictl *x, const struct ident *id, const struct cred *c,
			     long long serial)
{
	(void)x;
	(void)id;
	(void)c;
	(void)serial;
	return 0;
}

/* rotation_finish() changes the registry in one transaction: no step 3 */
static int local_rot_apply(struct nhictl *x, const struct store_rot *r)
{
	(void)x;
	(void)r;
	return 0;
}

static int local_rot_undo(struct nhictl *x, const struct store_rot *r)
{
	(void)x;
	(void)r;
	return 0;
}

static int local_rot_finish(struct nhictl *x, const struct store_rot *rt)
{
	struct ident now_id;
	char why[512];
	int r;

	/* the identity may have been suspended or retired meanwhile */
	r = ident_load(x, rt->id->name, &now_id);
	if (r == NHI_ERR_NOTFOUND)
		return nerr(x, r, "no identity '%s' in the registry", rt->id->name);
	if (r < 0)
		return r;
	r = store_ident_usable(x, &now_id, why, sizeof(why));
	if (r == NHI_ERR_DB)
		return r;
	if (r < 0)
		return nerr(x, r, "refused: %s", why);
	r = cred_insert(x, rt->id, rt->n, rt->old->id);
	/* the old credential's grants go with it (audited) */
	if (r == 0)
		r = grant_carry(x, rt->old->row, sqlite3_last_insert_rowid(x->db), NULL);
	if (r == 0 && rt->grace > 0)
		r = reg_exec(x, "UPDATE credential SET state = 'grace', grace_until = ? WHERE id = ?",
			     "ii", rt->grace_until, rt->old->row);
	else if (r == 0)
		r = reg_exec(x, "UPDATE credential SET state = 'revoked', revoked_at = ? "
			     "WHERE id = ?", "ii", (int64_t)x->now, rt->old->row);
	return db_err(r);
}

static int local_rot_keep(struct nhictl *x)
{
	(void)x;
	return 0;
}

/* Roll forward: make the journaled credential valid, the old one grace. */
static int local_rot_forward(struct nhictl *x, int64_t rid, int64_t cred_row, int64_t grace,
			     const char *name)
{
	int64_t until = (int64_t)x->now + grace;
	int r;

	(void)name;
	r = reg_exec(x, "INSERT INTO credential (identity_id, cred_id, kind, fingerprint, "
		     "public_part, secret_hash, serial, created, not_after, state, replaces) "
		     "SELECT c.identity_id, r.new_cred_id, c.kind, r.new_fingerprint, "
		     "r.new_public_part, r.new_secret_hash, r.new_serial, ?, r.new_not_after, "
		     "'active', c.cred_id FROM rotation r JOIN credential c ON c.id = r.credential_id "
		     "WHERE r.id = ?", "ii", (int64_t)x->now, rid);
	if (r == 0)
		r = grant_carry(x, cred_row, sqlite3_last_insert_rowid(x->db), NULL);
	if (r == 0 && grace > 0)
		r = reg_exec(x, "UPDATE credential SET state = 'grace', grace_until = ? "
			     "WHERE id = ? AND state = 'active'", "ii", until, cred_row);
	else if (r == 0)
		r = reg_exec(x, "UPDATE credential SET state = 'revoked', revoked_at = ? "
			     "WHERE id = ? AND state = 'active'", "ii", (int64_t)x->now, cred_row);
	return r;
}

/* the registry is the truth: its journal row says which */
static enum resolution local_rot_resolve(struct nhictl *x, int64_t rid, const char *name,
					 const char *step)
{
	(void)x;
	(void)rid;
	(void)name;
	return strcmp(step, "handed-over") == 0 ? ROLL_FORWARD : ROLL_BACK;
}

static int local_rot_back(struct nhictl *x, const char *name)
{
	(void)x;
	(void)name;
	return 0;
}

const struct store_ops store_local = {
	.name = "local",
	.audit_tag = "",
	.where = "",
	.groups = 1,
	.owner_dn_ok = 0,
	.fetch = local_fetch,
	.name_free = local_name_free,
	.owner_resolve = local_owner_resolve,
	.owner_now = local_owner_now,
	.uid_free = local_uid_free,
	.uid_registered = local_uid_registered,
	.alloc_uid = local_alloc_uid,
	.add = local_add,
	.update = local_update,
	.adopted = local_adopted,
	.release = local_release,
	.abort = local_abort,
	.owner_check = owner_live,
	.cred_open = local_cred_open,
	.cred_sweep = local_cred_sweep,
	.cred_lock = local_cred_lock,
	.cred_add = local_cred_add,
	.cred_unadd = local_cred_unadd,
	.cred_revoke = local_cred_revoke,
	.rot_apply = local_rot_apply,
	.rot_undo = local_rot_undo,
	.rot_finish = local_rot_finish,
	.rot_keep = local_rot_keep,
	.rot_resolve = local_rot_resolve,
	.rot_forward = local_rot_forward,
	.rot_back = local_rot_back,
	LOCAL_ACCESS_OPS
};

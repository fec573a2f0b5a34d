/* store_ldap.c - the store of backend = ldap: the directory is the truth.
 * Each change is one Add or Modify there (dirwrite.c), the credential
 * entries follow (dircred.c), and the entry read back is stored in the
 * registry in one transaction (left open for the verb's audit event), so
 * this host sees its own write at once.  A refused write changes nothing
 * locally.  See store.h.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include "store.h"
#include "dirwrite.h"
#include "diralloc.h"
#include "dircred.h"
#include "dirstore.h"
#include "diraccess.h"
#include "dirsettle.h"
#include "store_ldap_access.h"

/* A chain of dir*.c calls joined with || answers 1 on failure (printed);
 * a single call's NHI_ERR_* is kept. */
static int dir_err(int r)
{
	return r < 0 ? r : r > 0 ? NHI_ERR_IO : 0;
}

/* The owner DN the last fetch read, by name: a transfer compares and
 * swaps it (ldap_update). */
static struct {
	char name[64], owner_dn[1024];
} fetched;

static int ldap_fetch(struct nhictl *x, const char *name, struct ident *id)
{
	char why[1024];
	int r;

	if (dir_need(x) != 0)
		return NHI_ERR_IO;
	fetched.name[0] = '\0';
	r = dir_ident_read(&dir_conn, name, id, fetched.owner_dn, sizeof(fetched.owner_dn), NULL,
			   0, why, sizeof(why));
	if (r == 0)
		snprintf(fetched.name, sizeof(fetched.name), "%s", name);
	if (r == NHI_ERR_NOTFOUND)
		return nerr(x, r, "no identity '%s' in the directory", name);
	if (r < 0)
		return nerr(x, r, "%s", why);
	/* its registry row, as with local (0: not synced here yet): what
	 * hangs off it (grants, delegations) is found by it */
	return reg_int(x, &id->id, 0, "SELECT id FROM identity WHERE name = ?", "s", name) < 0 ?
	       NHI_ERR_DB : 0;
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

static int ldap_owner_now(struct nhictl *x, const char *owner, const char *owner_dn,
			  char *id, size_t idlen, char *why, size_t why_len)
{
	struct dir_owner o;
	int r;

	if (dir_need(x) != 0)
		return NHI_ERR_IO;
	r = dir_owner_lookup(&dir_conn, owner_dn != NULL && owner_dn[0] ? owner_dn : owner,
			     &o, why, why_len);
	if (r == 0 || r == NHI_ERR_PERM)
		snprintf(id, idlen, "%s", o.uuid);
	return r;
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

/* From this host's uid block (diralloc.h); the registry keeps the
 * highest id given out (meta ldap_id_high), so that an id is never given
 * out twice even through a server that has not yet seen the block's
 * latest nhiNextUid. */
static int ldap_alloc_uid(struct nhictl *x, uint32_t *uid)
{
	int64_t high = 0;
	int r;

	if (dir_need(x) != 0)
		return NHI_ERR_IO;
	if (reg_int(x, &high, 0, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'ldap_id_high'",
		    "") < 0)
		return NHI_ERR_DB;
	r = dw_alloc_uid(&dir_conn, id_free, high > 0 ? (uint64_t)high : 0, uid);
	if (r < 0)
		return r;
	return reg_exec(x, "INSERT OR REPLACE INTO meta VALUES ('ldap_id_high', ?)", "i",
			(int64_t)*uid) < 0 ? NHI_ERR_DB : 0;
}

static int ldap_add(struct nhictl *x, const struct store_new *n, struct ident *got)
{
	struct dw_new w = {
		.name = n->name, .kind = nhi_kind_str(n->kind), .gecos = n->gecos,
		.home = n->home, .shell = n->shell, .owner_dn = n->owner_dn,
		.purpose = n->purpose, .uid = n->uid, .gid = n->gid, .expires = n->expires,
		.interval = n->interval, .adopted = n->adopted, .hosts = n->hosts,
		.services = n->services, .n_hosts = n->n_hosts, .n_services = n->n_services,
		.labels = n->labels, .applied = n->applied,
	};

	char made[64], holds[64] = "", key[32];
	int64_t have = 0;

	snprintf(key, sizeof(key), "%u", (unsigned)n->uid);
	if (reg_intent(x, n->adopted ? "adopt" : "create", n->name, "ident-add", key, NULL,
		       "uid=%u owner=%s", (unsigned)n->uid, n->owner ? n->owner : "") < 0)
		return NHI_ERR_DB;
	if (dw_add(&dir_conn, &w, made, sizeof(made)) != 0) {
		reg_intent_void(x);
		return NHI_ERR_IO;
	}
	fault("add-readback-exec");
	if (dir_ident_readback(&dir_conn, n->name, got) != 0)
		return NHI_ERR_IO;
	/* the entry under the name is the one this add made (its entryUUID,
	 * from the post-read control), not another writer's or a replica's */
	if (reg_int(x, &have, 0, "SELECT count(*) FROM identity WHERE name = ? AND entry_uuid = ?",
		    "ss", n->name, made) < 0)
		return NHI_ERR_DB;
	if (have == 0) {
		sqlite3_stmt *st = reg_prep(x, "SELECT entry_uuid FROM identity WHERE name = ?", "s",
					    n->name);

		if (st != NULL && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			snprintf(holds, sizeof(holds), "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		return dir_confirm_failed(x, x->verb, n->name, "another entry for it (entryUUID %s, not %s "
				      "which this %s made)", holds[0] ? holds : "?", made, x->verb);
	}
	return 0;
}

/* The audit action of a change (the verb's event: intent.c matches it). */
static const char *update_action(struct nhictl *x, const struct store_change *c)
{
	if (c->state_to != NULL && strcmp(c->state_to, "retired") == 0)
		return "retire";
	if (c->state_to != NULL && strcmp(c->state_to, "suspended") == 0)
		return "suspend";
	if (c->state_to != NULL && c->state_from != NULL && strcmp(c->state_from, "suspended") == 0)
		return "resume";
	if (strcmp(x->verb, "apply") == 0 || strcmp(x->verb, "audit") == 0)
		return "modify";
	return x->verb;
}

/* The intent of a change, with what shows it in the directory (key, read
 * by ldap_intent_resolve): the new state, else the expiry, the last
 * review, the owner, the purpose; "" when none of them changes (the entry
 * is then taken to hold it). */
static int update_intent(struct nhictl *x, const struct ident *id, const struct store_change *c)
{
	char key[1100] = "";

	if (c->state_to != NULL)
		snprintf(key, sizeof(key), "state=%s", c->state_to);
	else if (c->expires != 0)
		snprintf(key, sizeof(key), "expires=%lld", (long long)c->expires);
	else if (c->last_review != 0)
		snprintf(key, sizeof(key), "review=%lld", (long long)c->last_review);
	else if (c->owner_dn != NULL)
		snprintf(key, sizeof(key), "owner=%s", c->owner_dn);
	else if (c->purpose != NULL)
		snprintf(key, sizeof(key), "purpose=%s", c->purpose);
	return reg_intent(x, update_action(x, c), id->name, "ident-update", key, c->reason,
			  "%s", key[0] ? key : "changed");
}

/* A change refused by its compare and swap (another writer's change
 * meanwhile): the registry takes what the directory holds now, and the
 * audit log the attempt (outcome conflict), so that what this host shows
 * is what stands.  The refusal was printed (dw_modify). */
static void refused_readback(struct nhictl *x, const char *name)
{
	struct ident got;

	if (dir_ident_readback(&dir_conn, name, &got) != 0 ||
	    reg_event(x, x->verb, name, "conflict", "refused: changed in the directory meanwhile "
		      "(now state %s, owner %s)%s", got.state, got.owner, x->store->audit_tag) < 0 ||
	    reg_commit(x) < 0)
		reg_rollback(x);
}

static int ldap_update(struct nhictl *x, const struct ident *id, struct store_change *c)
{
	struct dw_change w = {
		.state_from = c->state_from, .state_to = c->state_to, .expires = c->expires,
		.last_review = c->last_review, .review_due = c->review_due,
		.owner_dn = c->owner_dn, .clear_orphaned = c->clear_orphaned,
		.retired_at = c->retired_at, .reason = c->reason, .labels = c->labels,
		.purpose = c->purpose, .purpose_from = id->purpose, .gecos = c->gecos,
		.interval = c->interval,
		.interval_from = id->review_interval, .set_hosts = c->set_hosts,
		.set_services = c->set_services, .hosts = c->hosts, .services = c->services,
		.n_hosts = c->n_hosts, .n_services = c->n_services, .applied = c->applied,
		.hosts_from = id->hosts, .services_from = id->services,
	};
	struct ident got;
	char dn[1024];
	int creds = 0, r;

	c->revoked = -1;
	/* the state a change without a new one asserts (compare and swap) */
	if (w.state_to == NULL)
		w.state_from = id->state;
	/* a transfer swaps the owner it read: of two transfers through two
	 * providers, the one that did not see the other is refused */
	if (c->owner_dn != NULL && strcmp(fetched.name, id->name) == 0)
		w.owner_from = fetched.owner_dn;
	/* a new review interval moves the due date: from the last review, or
	 * from the creation when there was none (as store_local) */
	if (c->interval != 0)
		w.review_due = (id->last_review > 0 ? id->last_review : id->created) + c->interval;
	/* the credentials follow the state: no password binds while the
	 * identity is suspended; retired, they are revoked for good */
	if (c->state_to != NULL && strcmp(c->state_to, "suspended") == 0)
		creds = DC_SUSPEND;
	else if (c->state_to != NULL && strcmp(c->state_to, "retired") == 0)
		creds = DC_RETIRE;
	else if (c->state_to != NULL && strcmp(c->state_from, "suspended") == 0)
		creds = DC_RESUME;
	if (update_intent(x, id, c) < 0)
		return NHI_ERR_DB;
	fault("update-write-exec");
	if ((r = dw_modify(&dir_conn, id->name, &w)) != 0) {
		reg_intent_void(x);
		if (r == NHI_ERR_CONFLICT)
			refused_readback(x, id->name);
		return NHI_ERR_IO;
	}
	if ((creds && dc_lock_creds(&dir_conn, id->name, creds) != 0) ||
	    /* no credential outlives its identity */
	    (c->expires != 0 && dc_cap_not_after(&dir_conn, id->name, c->expires) != 0))
		return NHI_ERR_IO;
	/* replicated: what stands once every server of ldap_uri holds the
	 * same entry (a whole-entry replica of another writer's change may
	 * still replace this one) */
	if (dir_ident_dn(&x->conf, id->name, dn, sizeof(dn)) < 0 ||
	    dir_settle(&dir_conn, dn, id->name) < 0)
		return NHI_ERR_IO;
	fault("update-readback-exec");
	if (dir_ident_readback(&dir_conn, id->name, &got) != 0)
		return NHI_ERR_IO;
	/* what was written is what the directory holds now */
	if (c->state_to != NULL && strcmp(got.state, c->state_to) != 0)
		return dir_confirm_failed(x, x->verb, id->name, "state %s, not %s", got.state, c->state_to);
	if (c->expires != 0 && got.expires != c->expires) {
		char a[NHI_TIME_BUFSZ], b[NHI_TIME_BUFSZ];

		return dir_confirm_failed(x, x->verb, id->name, "expiry %s, not %s",
				      nhi_format_time(got.expires, a),
				      nhi_format_time(c->expires, b));
	}
	if (c->last_review != 0 && got.last_review != c->last_review)
		return dir_confirm_failed(x, x->verb, id->name, "another last review");
	if (c->owner_dn != NULL) {
		int64_t same = 0;

		if (reg_int(x, &same, 0, "SELECT count(*) FROM identity WHERE name = ? AND "
			    "owner_dn = ?", "ss", id->name, c->owner_dn) < 0)
			return NHI_ERR_DB;
		if (!same)
			return dir_confirm_failed(x, x->verb, id->name, "owner %s, not %s", got.owner,
					      c->owner ? c->owner : c->owner_dn);
	}
	if (dir_creds_refresh(&dir_conn, id->name) != 0) {
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
	if (reg_intent(x, "release", id->name, "ident-delete", "", NULL, "uid=%u state was %s",
		       (unsigned)id->uid, id->state) < 0)
		return NHI_ERR_DB;
	/* its grants and delegations go with its entry; those to it too */
	return dir_err(da_cut(&dir_conn, id->name, NULL, NULL) || dw_delete(&dir_conn, id->name));
}

/* The directory was written but the registry could not be: roll back. */
static void ldap_abort(struct nhictl *x)
{
	reg_rollback(x);
	nerr(x, 0, "the directory was changed, but the local registry was not "
	     "updated (run 'nhictl sync')");
}

/* Once every server of ldap_uri holds the same identity entry, with
 * the same userPassword values (dir_settle_mend: an entry swapped by
 * replication, or two rotations' hashes merged differently on two
 * servers under one entryCSN, is written again as the server written
 * through holds it), does its userPassword hold 'hash'?  1 yes, 2 cannot
 * be told (the servers did not agree in time, or one did not answer:
 * warned), 0 another writer's set stands, NHI_ERR_IO. */
static int pw_stands(struct nhictl *x, const char *name, const char *hash)
{
	char dn[1024];
	int h;

	fault("pw-settle-exec");
	if (dir_ident_dn(&x->conf, name, dn, sizeof(dn)) < 0 ||
	    (h = dir_settle_mend(&dir_conn, dn, name, "userPassword")) < 0)
		return NHI_ERR_IO;
	if (h > 0)
		return 2;
	h = dc_has_password(&dir_conn, name, hash);
	return h < 0 ? NHI_ERR_IO : h;
}

/* ---- credentials: the identity entry's serial is compared and swapped
 * by every change (dircred.h), then the entries are read back ---- */

static int ldap_owner_check(struct nhictl *x, const char *owner, char *why, size_t len)
{
	(void)x;
	if (dir_conn.ld == NULL)
		return 0;
	return dir_owner_resolve(&dir_conn, owner, NULL, 0, NULL, 0, why, len);
}

static int ldap_cred_open(struct nhictl *x)
{
	return dir_need(x) != 0 ? NHI_ERR_IO : 0;
}

static int ldap_cred_sweep(struct nhictl *x, int *n)
{
	return cred_sweep(x, &dir_conn, n);
}

static int ldap_cred_lock(struct nhictl *x, const char *name, long long *serial)
{
	struct ident got;

	/* dir_ident_readback takes the write lock */
	if (dc_read(&dir_conn, name, serial, NULL, 0) != 0 ||
	    dir_ident_readback(&dir_conn, name, &got) != 0)
		return NHI_ERR_IO;
	if (dir_creds_pull(&dir_conn, name, *serial) != 0) {
		reg_rollback(x);
		return NHI_ERR_IO;
	}
	return 0;
}

static void conflict(struct nhictl *x, const char *name)
{
	nerr(x, 0, "the credentials of %s were changed in the directory meanwhile; "
	     "nothing done, try again", name);
}

/* The intent of a change of credential cid (its key "CRED_ID SERIAL":
 * the serial the change compares and swaps, read by cred_intent). */
static int cred_announce(struct nhictl *x, const char *action, const char *name,
			 const char *cid, const char *kind, const char *fp, long long serial)
{
	char key[64];

	snprintf(key, sizeof(key), "%s %lld", cid, serial);
	return reg_intent(x, action, name, action, key, NULL, "id=%s kind=%s fingerprint=%s",
			  cid, kind, fp);
}

/* The new entry, then the compare-and-swap that makes it count (a
 * password's hash added to the identity), then read back. */
static int ldap_cred_add(struct nhictl *x, const struct ident *id, const struct newcred *n,
			 long long serial)
{
	int r;

	if (cred_announce(x, "cred-add", id->name, n->id, n->kind, n->fingerprint, serial) < 0)
		return NHI_ERR_DB;
	if (dc_add(&dir_conn, id->name, n, NULL) != 0) {
		reg_intent_void(x);
		return NHI_ERR_IO;
	}
	r = dc_bump(&dir_conn, id->name, serial,
		    strcmp(n->kind, "password") == 0 ? n->hash : NULL, NULL, NULL);
	if (r == NHI_ERR_CONFLICT)
		conflict(x, id->name);
	if (r != 0) {
		if (dc_delete(&dir_conn, id->name, n->id) == 0)
			reg_intent_void(x);   /* undone */
		return NHI_ERR_IO;
	}
	/* replicated: a password added through another provider at once
	 * may stand instead (one userPassword set survives); ours then is
	 * withdrawn before its secret is handed over */
	if (strcmp(n->kind, "password") == 0 && (r = pw_stands(x, id->name, n->hash)) != 1) {
		/* not known to bind on every server: not handed out either */
		if (r == 2 && dc_unadd(&dir_conn, id->name, n) == 0)
			return nerr(x, NHI_ERR_IO, "password %s of %s is not confirmed on every "
				    "server of ldap_uri: withdrawn, no secret handed out; try again",
				    n->id, id->name);
		if (r == 0 && dc_delete(&dir_conn, id->name, n->id) == 0 &&
		    dir_creds_refresh(&dir_conn, id->name) == 0)
			return dir_confirm_failed(x, x->verb, id->name, "other credentials (password %s is "
					      "not among them; withdrawn, no secret handed out)",
					      n->id);
		return NHI_ERR_IO;
	}
	/* a token, key or certificate moved only the serial, which another
	 * host's add through another provider may have moved alike */
	if ((strcmp(n->kind, "password") != 0 && dc_settle_ident(&dir_conn, id->name) < 0) ||
	    dir_creds_pull(&dir_conn, id->name, serial + 1) != 0) {
		if (dc_unadd(&dir_conn, id->name, n) == 0)
			reg_intent_void(x);
		return NHI_ERR_IO;
	}
	return 0;
}

static int ldap_cred_unadd(struct nhictl *x, const struct ident *id, const struct newcred *n)
{
	(void)x;
	return dc_unadd(&dir_conn, id->name, n) == 0 ? 0 : NHI_ERR_IO;
}

static int ldap_cred_revoke(struct nhictl *x, const struct ident *id, const struct cred *c,
			    long long serial)
{
	int r;

	if (cred_announce(x, "cred-revoke", id->name, c->id, c->kind, c->fingerprint, serial) < 0)
		return NHI_ERR_DB;
	/* the swap first: a password stops binding at once */
	r = dc_bump(&dir_conn, id->name, serial, NULL,
		    strcmp(c->kind, "password") == 0 ? c->hash : NULL, NULL);
	if (r != 0)
		reg_intent_void(x);

	if (r == NHI_ERR_CONFLICT)
		conflict(x, id->name);
	if (r == 0)
		r = dc_set_state(&dir_conn, id->name, c->id, "revoked", (int64_t)x->now, 1);
	/* another host revoking it at once through another provider writes
	 * the same: the same on every server before it is read back */
	if (r == 0 && (dc_settle(&dir_conn, id->name, c->id) < 0 ||
		       (strcmp(c->kind, "password") != 0 &&
			dc_settle_ident(&dir_conn, id->name) < 0)))
		r = NHI_ERR_IO;
	if (r != 0) {
		reg_rollback(x);
		return NHI_ERR_IO;
	}
	return 0;
}

static struct dc_rot dc_rot_of(const struct store_rot *r)
{
	return (struct dc_rot){ .name = r->id->name, .kind = r->old->kind,
				.old_id = r->old->id, .old_hash = r->old->hash, .n = r->n,
				.grace_until = r->grace_until };
}

static int ldap_rot_undo(struct nhictl *x, const struct store_rot *r)
{
	struct dc_rot dr = dc_rot_of(r);

	if (dc_rot_undo(&dir_conn, &dr) == 0)
		return 0;
	return nerr(x, NHI_ERR_STATE, "rotation of %s credential %s stopped and could not be "
		    "undone in the directory now: %s stays valid; the next nhictl run that "
		    "changes credentials (or 'nhictl sync') finishes undoing it", r->id->name,
		    r->old->id, r->old->id);
}

/* The registry takes the credentials of 'name' that the directory holds
 * (a withdrawn rotation's); when it cannot, says so (sync repairs it). */
static void creds_take(struct nhictl *x, const char *name)
{
	if (reg_begin(x) < 0 || dir_creds_refresh(&dir_conn, name) != 0 || reg_commit(x) < 0) {
		reg_rollback(x);
		nerr(x, 0, "the local registry is not updated (run 'nhictl sync')");
	}
}

/* A password rotation written through one provider while another
 * rotation of the same credential went through another: the servers keep
 * one identity entry, and so one of the two new hashes.  Once they agree
 * (dir_settle), ours must be in it; if not, our credential entry is
 * withdrawn (nobody has its secret yet), the registry takes what stands,
 * and the rotation ends as overwritten.  When the servers did not agree
 * in time (a slow or partitioned replica: warned), whether ours stands
 * cannot be told: the rotation is undone (our entry and hash withdrawn,
 * the old credential active again), since a secret handed out that the
 * other servers may replace is the password that does not bind; it is run
 * again.  (Had another host's rotation gone through meanwhile, its own
 * wait timed out too, and it undid itself the same way.)  0 ours stands
 * (or not a password: its own entry, overwritten by nobody),
 * NHI_ERR_EXISTS overwritten, NHI_ERR_BUSY not confirmed (both printed,
 * ours withdrawn), another NHI_ERR_* failed. */
static int rot_stands(struct nhictl *x, const struct store_rot *r)
{
	int h;

	if (strcmp(r->n->kind, "password") != 0)
		return 0;
	if ((h = pw_stands(x, r->id->name, r->n->hash)) == 2) {
		struct dc_rot dr = dc_rot_of(r);

		if (dc_rot_undo(&dir_conn, &dr) != 0)
			return NHI_ERR_IO;
		creds_take(x, r->id->name);
		return nerr(x, NHI_ERR_BUSY, "rotation of %s credential %s not confirmed on every "
			    "server of ldap_uri: %s withdrawn, no secret handed out; %s stays "
			    "active; try again", r->id->name, r->old->id, r->n->id, r->old->id);
	}
	if (h != 0)
		return h > 0 ? 0 : h;
	if (dc_delete(&dir_conn, r->id->name, r->n->id) != 0)
		return NHI_ERR_IO;
	creds_take(x, r->id->name);
	return nerr(x, NHI_ERR_EXISTS, "the directory now holds another rotation of %s "
		    "credential %s: another writer or a replica changed %s; %s withdrawn, no "
		    "secret handed out", r->id->name, r->old->id, r->id->name, r->n->id);
}

static int ldap_rot_apply(struct nhictl *x, const struct store_rot *r)
{
	struct dc_rot dr = dc_rot_of(r);
	int rc = dc_rot_apply(&dir_conn, &dr, r->serial);

	if (rc == NHI_ERR_CONFLICT)
		return nerr(x, NHI_ERR_CONFLICT, "the credentials of %s were changed in the "
			    "directory meanwhile (another rotation?): refused, nothing changed",
			    r->id->name);
	/* overwritten, or not confirmed: ours is withdrawn already; undoing
	 * the rotation would bring the old credential back over one that may
	 * stand */
	if (rc == 0 && ((rc = rot_stands(x, r)) == NHI_ERR_EXISTS || rc == NHI_ERR_BUSY))
		return rc;
	/* the old credential's move to grace (or revocation), which another
	 * host's rotation of it may have made at once through another
	 * provider: the same on every server before anything is read back
	 * (once ours stands: a password's identity entry waited in
	 * rot_stands) */
	if (rc == 0)
		fault("rotate-settle-exec");
	if (rc == 0 && dc_settle(&dir_conn, r->id->name, r->old->id) < 0)
		rc = NHI_ERR_IO;
	/* and, when only its serial moved, the identity entry */
	if (rc == 0 && strcmp(r->n->kind, "password") != 0 &&
	    dc_settle_ident(&dir_conn, r->id->name) < 0)
		rc = NHI_ERR_IO;
	/* outside a transaction (autocommit): the next run knows */
	if (rc == 0 && reg_exec(x, "UPDATE rotation SET step = 'directory' WHERE id = ?", "i",
				r->journal_row) < 0)
		rc = NHI_ERR_DB;
	if (rc != 0) {
		rc = ldap_rot_undo(x, r);
		return rc < 0 ? rc : NHI_ERR_IO;
	}
	return 0;
}

/* the directory has it all: read it back; the old credential's grants
 * move to the new one (directory and rows) */
static int ldap_rot_finish(struct nhictl *x, const struct store_rot *r)
{
	int rc = dir_err(dir_creds_refresh(&dir_conn, r->id->name));

	return rc != 0 ? rc : ldap_grant_carry(x, r->id->name, r->old->row, r->old->id, r->n->id);
}

/* the directory holds the new credential and its holder has it: keep
 * both; the registry catches up at the next sync */
static int ldap_rot_keep(struct nhictl *x)
{
	reg_rollback(x);
	nerr(x, 0, "rotated in the directory, but the local registry is not updated "
	     "(run 'nhictl sync')");
	return 1;
}

/* backend = ldap: a rotation whose secret was handed over is completed in
 * the directory (its holder has the new secret; the old one gets its
 * grace), any other is undone there (nobody has the new secret).  Both
 * are repeatable, so it does not matter which of the directory steps the
 * interrupted run had done.  Unreachable directory: unknown. */
static enum resolution ldap_rot_resolve(struct nhictl *x, int64_t rid, const char *name,
					const char *step_done)
{
	struct newcred n;
	struct dc_rot dr;
	char step[32] = "", kind[16] = "", old_id[CRED_ID_MAX] = "", old_hash[256] = "";
	char pub[CRED_PUB_MAX] = "";
	int64_t grace = 0;
	sqlite3_stmt *st;
	int r, found = 0;

	(void)step_done;   /* the journal row is read again, with what undo/redo need */
	memset(&n, 0, sizeof(n));
	st = reg_prep(x, "SELECT r.step, r.new_cred_id, r.new_fingerprint, r.new_public_part, "
		      "r.new_secret_hash, r.new_serial, r.new_not_after, r.grace, c.kind, "
		      "c.cred_id, c.secret_hash FROM rotation r JOIN credential c ON "
		      "c.id = r.credential_id WHERE r.id = ?", "i", rid);
	if (st == NULL)
		return UNKNOWN;
	if (sqlite3_step(st) == SQLITE_ROW) {
		found = 1;
		col_cpy(step, sizeof(step), st, 0);
		col_cpy(n.id, sizeof(n.id), st, 1);
		col_cpy(n.fingerprint, sizeof(n.fingerprint), st, 2);
		col_cpy(pub, sizeof(pub), st, 3);
		col_cpy(n.hash, sizeof(n.hash), st, 4);
		col_cpy(n.serial, sizeof(n.serial), st, 5);
		n.not_after = sqlite3_column_int64(st, 6);
		grace = sqlite3_column_int64(st, 7);
		col_cpy(kind, sizeof(kind), st, 8);
		col_cpy(old_id, sizeof(old_id), st, 9);
		col_cpy(old_hash, sizeof(old_hash), st, 10);
	}
	sqlite3_finalize(st);
	if (!found || dir_need(x) != 0)
		return UNKNOWN;
	snprintf(n.kind, sizeof(n.kind), "%s", kind);
	n.public_part = pub;
	dr = (struct dc_rot){ .name = name, .kind = kind, .old_id = old_id, .old_hash = old_hash,
			      .n = &n, .grace_until = grace > 0 ? (int64_t)x->now + grace : 0 };
	if (strcmp(step, "handed-over") == 0) {
		r = dc_rot_redo(&dir_conn, &dr);
		OPENSSL_cleanse(n.hash, sizeof(n.hash));
		return r == 0 ? ROLL_FORWARD : UNKNOWN;
	}
	r = dc_rot_undo(&dir_conn, &dr);
	return r == 0 ? ROLL_BACK : UNKNOWN;
}

/* with a directory, what it now holds is read back */
static int ldap_rot_forward(struct nhictl *x, int64_t rid, int64_t cred_row, int64_t grace,
			    const char *name)
{
	char old_id[CRED_ID_MAX] = "", new_id[CRED_ID_MAX] = "";
	sqlite3_stmt *st;

	(void)grace;
	if (dir_creds_refresh(&dir_conn, name) != 0)
		return NHI_ERR_IO;
	st = reg_prep(x, "SELECT c.cred_id, r.new_cred_id FROM rotation r JOIN credential c ON "
		      "c.id = ? WHERE r.id = ?", "ii", cred_row, rid);
	if (st == NULL)
		return NHI_ERR_DB;
	if (sqlite3_step(st) == SQLITE_ROW) {
		col_cpy(old_id, sizeof(old_id), st, 0);
		col_cpy(new_id, sizeof(new_id), st, 1);
	}
	sqlite3_finalize(st);
	if (old_id[0] == '\0' || new_id[0] == '\0')
		return 0;
	return ldap_grant_carry(x, name, cred_row, old_id, new_id);
}

static int ldap_rot_back(struct nhictl *x, const char *name)
{
	(void)x;
	return dir_creds_refresh(&dir_conn, name) != 0 ? NHI_ERR_IO : 0;
}

/* ---- the intents of killed runs (intent_recover, upkeep.c) ---- */

/* "CRED_ID SERIAL": the credential and the identity's serial its change
 * compares and swaps; *moved: the serial moved past it since. */
static int cred_key(const struct intent *it, char *cid, size_t len, int *moved)
{
	long long from = 0, now = 0;
	const char *sp = strchr(it->key, ' ');

	if (sp == NULL || (size_t)(sp - it->key) >= len)
		return NHI_ERR_FORMAT;
	snprintf(cid, len, "%.*s", (int)(sp - it->key), it->key);
	from = strtoll(sp + 1, NULL, 10);
	if (dc_read(&dir_conn, it->target, &now, NULL, 0) != 0)
		return NHI_ERR_IO;
	*moved = now > from;
	return 0;
}

/* The state the directory holds for credential cid ("" none). */
static int dir_cred_state(const char *name, const char *cid, char *state, size_t len)
{
	struct cred *v = NULL;
	size_t n = 0, i;

	state[0] = '\0';
	if (dc_creds(&dir_conn, name, &v, &n) != 0)
		return NHI_ERR_IO;
	for (i = 0; i < n; i++)
		if (strcmp(v[i].id, cid) == 0)
			snprintf(state, len, "%s", v[i].state);
	free(v);
	return 0;
}

/* Does the identity entry read hold the change the key names? */
static int ident_holds(const struct ident *got, const char *owner_dn, const char *key)
{
	const char *v = strchr(key, '=');

	if (v == NULL)
		return 1;
	v++;
	if (strncmp(key, "state=", 6) == 0)
		return strcmp(got->state, v) == 0;
	if (strncmp(key, "expires=", 8) == 0)
		return got->expires == strtoll(v, NULL, 10);
	if (strncmp(key, "review=", 7) == 0)
		return got->last_review == strtoll(v, NULL, 10);
	if (strncmp(key, "owner=", 6) == 0)
		return strcasecmp(owner_dn, v) == 0;
	if (strncmp(key, "purpose=", 8) == 0)
		return strcmp(got->purpose, v) == 0;
	return 1;
}

static int ident_intent(struct nhictl *x, const struct intent *it)
{
	struct ident got;
	char owner_dn[1024] = "", why[1024];
	int r, how = 0;

	r = dir_ident_read(&dir_conn, it->target, &got, owner_dn, sizeof(owner_dn), NULL, 0, why,
			   sizeof(why));
	/* a release: the entry gone, so are its grants and delegations
	 * (da_cut came first); the rows go */
	if (strcmp(it->kind, "ident-delete") == 0 && r == NHI_ERR_NOTFOUND)
		return (r = ldap_edges_cut(x, it, "released")) < 0 ? r :
		       ident_unregister(x, it->target) < 0 ? NHI_ERR_DB : 1;
	if (strcmp(it->kind, "ident-delete") == 0)
		return r < 0 ? nerr(x, r, "%s", why) : 0;
	if (r == NHI_ERR_NOTFOUND)
		return 0;
	if (r < 0)
		return nerr(x, r, "%s", why);
	if (strcmp(it->kind, "ident-add") == 0 ? got.uid != (uint32_t)strtoul(it->key, NULL, 10) :
	    !ident_holds(&got, owner_dn, it->key))
		return 0;
	/* what the run did after the entry's change: its credentials follow
	 * the state (repeatable) */
	if (strcmp(it->key, "state=retired") == 0)
		how = DC_RETIRE;
	else if (strcmp(it->key, "state=suspended") == 0)
		how = DC_SUSPEND;
	if (how && dc_lock_creds(&dir_conn, it->target, how) != 0)
		return NHI_ERR_IO;
	/* a retire's grants and delegations go with it */
	if (how == DC_RETIRE && (r = ldap_edges_cut(x, it, "retired")) < 0)
		return r;
	if (dir_ident_readback(&dir_conn, it->target, &got) != 0 ||
	    dir_creds_refresh(&dir_conn, it->target) != 0)
		return NHI_ERR_IO;
	return 1;
}

/* A credential added: it counts once the identity's serial was swapped
 * past the one the run read; an entry without that swap is the run's
 * leftover, deleted.  A credential revoked: its entry says so, or the
 * swap was made and the entry is revoked now (the run's next step). */
static int cred_intent(struct nhictl *x, const struct intent *it)
{
	char cid[CRED_ID_MAX], state[16];
	int moved = 0, r;

	if ((r = cred_key(it, cid, sizeof(cid), &moved)) < 0 ||
	    (r = dir_cred_state(it->target, cid, state, sizeof(state))) < 0)
		return r == NHI_ERR_FORMAT ? nerr(x, r, "intent %lld: bad key '%s'",
						  (long long)it->id, it->key) : r;
	if (strcmp(it->kind, "cred-add") == 0) {
		if (state[0] != '\0' && !moved)
			return dc_delete(&dir_conn, it->target, cid) == 0 ? 0 : NHI_ERR_IO;
		if (state[0] == '\0')
			return 0;
	} else if (strcmp(state, "revoked") != 0) {
		if (!moved)
			return 0;
		if (dc_set_state(&dir_conn, it->target, cid, "revoked", it->started, 1) != 0)
			return NHI_ERR_IO;
	}
	return dir_creds_refresh(&dir_conn, it->target) != 0 ? NHI_ERR_IO : 1;
}

static int ldap_intent_resolve(struct nhictl *x, const struct intent *it)
{
	if (dir_need(x) != 0)
		return NHI_ERR_IO;
	if (strncmp(it->kind, "ident-", 6) == 0)
		return ident_intent(x, it);
	if (strncmp(it->kind, "cred-", 5) == 0)
		return cred_intent(x, it);
	return ldap_access_intent(x, it);
}

const struct store_ops store_ldap = {
	.name = "ldap",
	.audit_tag = " (directory)",
	.where = " in the directory",
	.groups = 0,
	.owner_dn_ok = 1,
	.fetch = ldap_fetch,
	.name_free = ldap_name_free,
	.owner_resolve = ldap_owner_resolve,
	.owner_now = ldap_owner_now,
	.uid_free = ldap_uid_free,
	.uid_registered = ldap_uid_registered,
	.alloc_uid = ldap_alloc_uid,
	.add = ldap_add,
	.update = ldap_update,
	.adopted = ldap_adopted,
	.release = ldap_release,
	.abort = ldap_abort,
	.owner_check = ldap_owner_check,
	.cred_open = ldap_cred_open,
	.cred_sweep = ldap_cred_sweep,
	.cred_lock = ldap_cred_lock,
	.cred_add = ldap_cred_add,
	.cred_unadd = ldap_cred_unadd,
	.cred_revoke = ldap_cred_revoke,
	.rot_apply = ldap_rot_apply,
	.rot_undo = ldap_rot_undo,
	.rot_finish = ldap_rot_finish,
	.rot_keep = ldap_rot_keep,
	.rot_resolve = ldap_rot_resolve,
	.rot_forward = ldap_rot_forward,
	.rot_back = ldap_rot_back,
	.intent_resolve = ldap_intent_resolve,
	LDAP_ACCESS_OPS
};

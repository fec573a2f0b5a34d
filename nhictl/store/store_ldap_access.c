/* store_ldap_access.c - the reach operations of backend = ldap (store.h):
 * resources, grants and delegations are entries of the directory
 * (diraccess.h).  Each change is written there first (one Add, Modify or
 * Delete; a Modify under an assertion of what the verb read), then read
 * back into the registry row (dirstore_access.c) in the transaction the
 * verb holds, so this host sees its own write at once and other hosts at
 * their next `nhictl sync`.  A refused write changes nothing locally.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "nhi_hash.h"
#include "store.h"
#include "diraccess.h"
#include "dirstore.h"
#include "dirstore_access.h"
#include "dirsettle.h"
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

/* ---- what shows a change in the directory (an update's intent key) ------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "k=v" text of an edge's values or a resource's, hashed: what an update
 * wrote, compared with the entry read back by the next run
 * (ldap_access_intent).  Scopes sorted (the directory's order is its
 * own), DNs and the data class in lower case, no data class "internal". */
static void sig_hex(const char *text, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)nhi_hash_str(text));
}

static void edge_sig(int actions, const char *scopes, int64_t expires, const char *reason,
		     int applied, char out[17])
{
	char buf[DA_SCOPES_MAX], text[DA_SCOPES_MAX + 400], *v[64], *save = NULL, *t;
	size_t n = 0, i, used;

	snprintf(buf, sizeof(buf), "%s", scopes);
	for (t = strtok_r(buf, ",", &save); t != NULL && n < 64; t = strtok_r(NULL, ",", &save))
		v[n++] = t;
	qsort(v, n, sizeof(v[0]), cmp_str);
	used = (size_t)snprintf(text, sizeof(text), "actions=%d expires=%lld applied=%d "
				"reason=%s scopes=", actions, (long long)expires, applied != 0,
				reason ? reason : "");
	for (i = 0; i < n && used < sizeof(text); i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%s,", v[i]);
	sig_hex(text, out);
}

static void res_sig(const struct da_resource *r, char out[17])
{
	char text[sizeof(r->kind) + sizeof(r->uri) + sizeof(r->owner_dn) + sizeof(r->purpose) +
		  sizeof(r->labels) + 128];
	char dn[sizeof(r->owner_dn)], dc[sizeof(r->data_class)];
	size_t i;

	for (i = 0; i + 1 < sizeof(dn) && r->owner_dn[i]; i++)
		dn[i] = (char)tolower((unsigned char)r->owner_dn[i]);
	dn[i] = '\0';
	for (i = 0; i + 1 < sizeof(dc) && r->data_class[i]; i++)
		dc[i] = (char)tolower((unsigned char)r->data_class[i]);
	dc[i] = '\0';
	snprintf(text, sizeof(text), "kind=%s uri=%s owner=%s class=%s external=%d purpose=%s "
		 "labels=%s applied=%d", r->kind, r->uri, dn, dc[0] ? dc : "internal",
		 r->external != 0, r->purpose, r->labels, r->applied != 0);
	sig_hex(text, out);
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

/* The entry this run wrote was removed by another writer before its
 * read-back: the row goes (r: that deletion), and the run says so,
 * recorded with audit action 'action' (dir_confirm_failed). */
static int gone_after(struct nhictl *x, const char *action, const char *name,
		      const char *what, int r)
{
	if (r < 0)
		return behind(x, r);
	return dir_confirm_failed(x, action, name, "no %s: it was removed in the directory "
				  "meanwhile, right after this change was written", what);
}

/* After the delete of 'entry' (type t): 0 the removal stands (the entry
 * is gone from the server written through, dir_settle_gone); 1 that
 * server holds it again: another host changed it through another provider
 * and replication carried that change after the delete (plain syncrepl
 * re-adds the entry); NHI_ERR_IO. */
static int removal_undone(enum da_type t, const void *entry, const char *what)
{
	char dn[2048];

	if (da_dn_of(&dir_conn, t, entry, dn, sizeof(dn)) < 0)
		return NHI_ERR_IO;
	fault("remove-settle-exec");
	return dir_settle_gone(&dir_conn, dn, what);
}

/* The entry a removal deleted is back (removal_undone), holding 'detail';
 * the caller stored it in the registry.  When the removal is the run's
 * only pending change, the run says so, recorded (dir_confirm_failed:
 * outcome overwritten).  Inside a bigger change (a retire's cascade, the
 * retire's intent pending too: committing here would end that intent
 * without its event) nothing is recorded: said, and the verb gives up (its
 * transaction rolled back); the next run's recovery of the retire's intent
 * finishes the cascade (da_cut), with the events. */
static int came_back(struct nhictl *x, const char *action, const char *name,
		     const char *detail)
{
	if (x->n_intents > 1)
		return nerr(x, NHI_ERR_CONFLICT, "the directory holds %s: another writer or a "
			    "replica changed %s while it was being removed; the next nhictl run "
			    "finishes the removal", detail, name);
	return dir_confirm_failed(x, action, name, "%s", detail);
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

/* Replicated (several servers in ldap_uri): wait until every server holds
 * the entry just written with one entryCSN (dir_settle), so that the
 * read-back after it is what stands (of two writes of one grant or
 * delegation through two providers, replication keeps one entry).  0, or
 * NHI_ERR_IO (printed).  A wait that timed out was warned about; the
 * read-back then takes what the server written through holds. */
static int settled(enum da_type t, const void *entry, const char *what)
{
	char dn[2048];

	if (da_dn_of(&dir_conn, t, entry, dn, sizeof(dn)) < 0)
		return NHI_ERR_IO;
	return dir_settle(&dir_conn, dn, what) < 0 ? NHI_ERR_IO : 0;
}


/* Read resource 'name' back into its row, with what only the registry
 * keeps (owner_id, orphaned_since) from the verb's r; r reloaded. */
/* "kind K, uri U, data class C, owner O, external yes|no, purpose 'P'" */
static const char *res_terms(const struct da_resource *r, char *buf, size_t len)
{
	snprintf(buf, len, "kind %s, uri %s, data class %s, owner %s, external %s, purpose '%s'",
		 r->kind, r->uri, r->data_class, r->owner_dn, r->external ? "yes" : "no",
		 r->purpose);
	return buf;
}

static int resource_back(struct nhictl *x, struct resource_row *r, int add)
{
	struct da_resource want, got;
	int64_t orphaned = r->orphaned_since;
	char owner_id[sizeof(r->owner_id)], what[100], t1[2600], t2[2600];
	int rc;

	snprintf(owner_id, sizeof(owner_id), "%s", r->owner_id);
	res_to_da(r, &want);
	snprintf(what, sizeof(what), "resource %s", r->name);
	fault("resource-readback-exec");
	if ((rc = settled(DA_RESOURCE, &want, what)) < 0)
		return rc;
	rc = da_resource_read(&dir_conn, r->name, &got);
	if (rc == 0)
		rc = dirstore_resource(x, &got, NULL);
	if (rc == 0 && (strcmp(got.kind, want.kind) != 0 || strcmp(got.uri, want.uri) != 0 ||
			strcmp(got.data_class, want.data_class) != 0 ||
			strcasecmp(got.owner_dn, want.owner_dn) != 0 ||
			got.external != want.external || strcmp(got.purpose, want.purpose) != 0))
		return dir_confirm_failed(x, add ? "resource-add" : "resource-update", r->name,
					   "%s with %s, not %s", what,
					   res_terms(&got, t1, sizeof(t1)),
					   res_terms(&want, t2, sizeof(t2)));
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
	return resource_back(x, r, 1);
}

int ldap_resource_update(struct nhictl *x, const struct resource_row *old,
				struct resource_row *r)
{
	struct da_resource o, n;
	char sig[17];
	int rc;

	res_to_da(old, &o);
	res_to_da(r, &n);
	res_sig(&n, sig);
	if (reg_intent(x, "resource-update", r->name, "resource-update", sig, NULL, "kind=%s uri=%s "
		       "owner=%s", r->kind, r->uri, r->owner) < 0)
		return NHI_ERR_DB;
	if ((rc = da_resource_modify(&dir_conn, &o, &n)) < 0) {
		reg_intent_void(x);
		return rc;
	}
	return resource_back(x, r, 0);
}

int ldap_resource_remove(struct nhictl *x, const struct resource_row *r)
{
	struct da_resource want, got;
	char what[100], t[2600], det[2800];
	int grants = 0, rc;

	if (reg_intent(x, "resource-remove", r->name, "resource-remove", r->name, NULL,
		       "kind=%s uri=%s owner=%s", r->kind, r->uri, r->owner) < 0)
		return NHI_ERR_DB;
	if ((rc = da_resource_remove(&dir_conn, r->name, &grants)) < 0)
		return rc;
	if (grants > 0)   /* added by another host meanwhile, or unknown here */
		nerr(x, 0, "warning: %d grant%s on %s that this host did not have removed from "
		     "the directory with it", grants, grants == 1 ? "" : "s", r->name);
	res_to_da(r, &want);
	snprintf(what, sizeof(what), "resource %s", r->name);
	rc = removal_undone(DA_RESOURCE, &want, what);
	if (rc == 1 && (rc = da_resource_read(&dir_conn, r->name, &got)) == 0) {
		/* back: the registry holds what stands, and the run says so */
		if ((rc = behind(x, dirstore_resource(x, &got, NULL))) < 0)
			return rc;
		snprintf(det, sizeof(det), "%s again, with %s", what, res_terms(&got, t, sizeof(t)));
		return came_back(x, "resource-remove", r->name, det);
	}
	if (rc < 0 && rc != NHI_ERR_NOTFOUND)
		return rc;
	return behind(x, resource_delete(x, r->id));
}

/* ---- grants ---------------------------------------------------------------- */

/* A grant's intent: its key "RESOURCE<TAB>CRED_ID", an update's with
 * "<TAB>SIGNATURE" of what it writes (ldap_access_intent). */
static int grant_intent(struct nhictl *x, const char *action, const struct access_row *g)
{
	char key[DA_NAME_MAX + CRED_ID_MAX + 20], sig[17] = "";

	if (strcmp(action, "grant-update") == 0)
		edge_sig((int)g->actions, g->scopes, g->expires, NULL, g->applied, sig);
	snprintf(key, sizeof(key), "%s\t%s%s%s", g->resource, g->cred, sig[0] ? "\t" : "", sig);
	return reg_intent(x, action, g->identity, action, key, NULL, "resource=%s%s%s",
			  g->resource, g->cred[0] ? " credential=" : "", g->cred);
}

/* What a grant or delegation holds that a write sets. */
struct edge_terms_of {
	int actions;
	int64_t expires;
	const char *scopes;
};

/* "actions A, expires E, scopes 'S'" */
static const char *edge_terms(const struct edge_terms_of *t, char *buf, size_t len)
{
	char a[ACT_BUFSZ], e[NHI_TIME_BUFSZ];

	snprintf(buf, len, "actions %s, expires %s, scopes '%s'",
		 access_actions_format((unsigned)t->actions, a, sizeof(a)),
		 nhi_format_time((time_t)t->expires, e), t->scopes);
	return buf;
}

/* The terms of the edge 'what' of identity 'name' as read back (got) and
 * as written (want): 0 when they are the same, else dir_confirm_failed
 * (NHI_ERR_CONFLICT: said, and recorded with audit action 'action'). */
static int edge_stands(struct nhictl *x, const char *action, const char *name,
		       const char *what, struct edge_terms_of got, struct edge_terms_of want)
{
	char t1[1300], t2[1300];

	if (got.actions == want.actions && got.expires == want.expires &&
	    strcmp(got.scopes, want.scopes) == 0)
		return 0;
	return dir_confirm_failed(x, action, name, "its %s with %s, not %s", what,
				  edge_terms(&got, t1, sizeof(t1)), edge_terms(&want, t2, sizeof(t2)));
}

/* A removed grant or delegation of 'name' is back, holding 'got'; rc:
 * storing it in the registry (came_back). */
static int edge_came_back(struct nhictl *x, const char *action, const char *name,
			  const char *what, struct edge_terms_of got, int rc)
{
	char t[1300], det[1600];

	if (rc < 0)
		return rc;
	snprintf(det, sizeof(det), "its %s again, with %s", what, edge_terms(&got, t, sizeof(t)));
	return came_back(x, action, name, det);
}

static int grant_back(struct nhictl *x, struct access_row *g, int add)
{
	struct da_grant want, got;
	char why[512], what[200];
	int rc;

	grant_to_da(g, &want);
	snprintf(what, sizeof(what), "grant of %s on %s", g->identity, g->resource);
	fault("grant-readback-exec");
	if ((rc = settled(DA_GRANT, &want, what)) < 0)
		return rc;
	rc = da_grant_read(&dir_conn, g->identity, g->resource, g->cred, &got);
	if (rc == NHI_ERR_NOTFOUND)
		return gone_after(x, add ? "grant-add" : "grant-update", g->identity, what,
				  grant_delete(x, g->id));
	if (rc == 0)
		rc = stored(x, dirstore_grant(x, &got, NULL, why, sizeof(why)), why);
	if (rc == 0 && (rc = edge_stands(x, add ? "grant-add" : "grant-update", g->identity, what,
			 (struct edge_terms_of){ got.actions, got.expires, got.scopes },
			 (struct edge_terms_of){ want.actions, want.expires, want.scopes })) != 0)
		return rc;   /* said, and recorded */
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
	return grant_back(x, g, 1);
}

int ldap_grant_update(struct nhictl *x, const struct access_row *old, struct access_row *g)
{
	struct da_grant o, n;
	int rc;

	grant_to_da(old, &o);
	grant_to_da(g, &n);
	if (grant_intent(x, "grant-update", g) < 0)
		return NHI_ERR_DB;
	if ((rc = da_grant_modify(&dir_conn, &o, &n)) < 0) {
		reg_intent_void(x);
		return rc;
	}
	return grant_back(x, g, 0);
}

int ldap_grant_remove(struct nhictl *x, const struct access_row *g)
{
	struct da_grant want, got;
	char what[200], why[512];
	int rc;

	if (grant_intent(x, "grant-remove", g) < 0)
		return NHI_ERR_DB;
	if ((rc = da_grant_remove(&dir_conn, g->identity, g->resource, g->cred)) < 0)
		return rc;
	grant_to_da(g, &want);
	snprintf(what, sizeof(what), "grant of %s on %s", g->identity, g->resource);
	rc = removal_undone(DA_GRANT, &want, what);
	if (rc == 1 && (rc = da_grant_read(&dir_conn, g->identity, g->resource, g->cred,
					   &got)) == 0)
		return edge_came_back(x, "grant-remove", g->identity, what,
				      (struct edge_terms_of){ got.actions, got.expires, got.scopes },
				      stored(x, dirstore_grant(x, &got, NULL, why, sizeof(why)), why));
	if (rc < 0 && rc != NHI_ERR_NOTFOUND)
		return rc;
	return behind(x, grant_delete(x, g->id));
}

/* ---- delegations ------------------------------------------------------------ */

/* A delegation's intent (target FROM): its key "TO", an update's with
 * "<TAB>SIGNATURE" of what it writes (ldap_access_intent). */
static int deleg_intent(struct nhictl *x, const char *action, const struct delegation_row *d)
{
	char key[DA_NAME_MAX + 20], sig[17] = "";

	if (strcmp(action, "delegate-update") == 0)
		edge_sig((int)d->actions, d->scopes, d->expires, d->reason, d->applied, sig);
	snprintf(key, sizeof(key), "%s%s%s", d->to, sig[0] ? "\t" : "", sig);
	return reg_intent(x, action, d->from, action, key, NULL, "to=%s", d->to);
}

static int deleg_back(struct nhictl *x, struct delegation_row *d, int add)
{
	struct da_deleg want, got;
	char why[512], what[200];
	int rc;

	deleg_to_da(d, &want);
	snprintf(what, sizeof(what), "delegation %s -> %s", d->from, d->to);
	fault("deleg-readback-exec");
	if ((rc = settled(DA_DELEG, &want, what)) < 0)
		return rc;
	rc = da_deleg_read(&dir_conn, d->from, d->to, &got);
	if (rc == NHI_ERR_NOTFOUND)
		return gone_after(x, add ? "delegate-add" : "delegate-update", d->from, what,
				  delegation_delete(x, d->id));
	if (rc == 0)
		rc = stored(x, dirstore_deleg(x, &got, NULL, why, sizeof(why)), why);
	if (rc == 0 && (rc = edge_stands(x, add ? "delegate-add" : "delegate-update", d->from, what,
			 (struct edge_terms_of){ got.actions, got.expires, got.scopes },
			 (struct edge_terms_of){ want.actions, want.expires, want.scopes })) != 0)
		return rc;   /* said, and recorded */
	if (rc == 0)
		rc = delegation_load(x, d->from_id, d->to_id, d);
	return behind(x, rc);
}

int ldap_delegation_add(struct nhictl *x, struct delegation_row *d)
{
	struct da_deleg n;
	int rc;

	deleg_to_da(d, &n);
	if (deleg_intent(x, "delegate-add", d) < 0)
		return NHI_ERR_DB;
	if ((rc = da_deleg_add(&dir_conn, &n)) < 0) {
		reg_intent_void(x);
		return rc;
	}
	return deleg_back(x, d, 1);
}

int ldap_delegation_update(struct nhictl *x, const struct delegation_row *old,
				  struct delegation_row *d)
{
	struct da_deleg o, n;
	int rc;

	deleg_to_da(old, &o);
	deleg_to_da(d, &n);
	if (deleg_intent(x, "delegate-update", d) < 0)
		return NHI_ERR_DB;
	if ((rc = da_deleg_modify(&dir_conn, &o, &n)) < 0) {
		reg_intent_void(x);
		return rc;
	}
	return deleg_back(x, d, 0);
}

int ldap_delegation_remove(struct nhictl *x, const struct delegation_row *d)
{
	struct da_deleg want, got;
	char what[200], why[512];
	int rc;

	if (deleg_intent(x, "delegate-remove", d) < 0)
		return NHI_ERR_DB;
	if ((rc = da_deleg_remove(&dir_conn, d->from, d->to)) < 0)
		return rc;
	deleg_to_da(d, &want);
	snprintf(what, sizeof(what), "delegation %s -> %s", d->from, d->to);
	rc = removal_undone(DA_DELEG, &want, what);
	if (rc == 1 && (rc = da_deleg_read(&dir_conn, d->from, d->to, &got)) == 0)
		return edge_came_back(x, "delegate-remove", d->from, what,
				      (struct edge_terms_of){ got.actions, got.expires, got.scopes },
				      stored(x, dirstore_deleg(x, &got, NULL, why, sizeof(why)), why));
	if (rc < 0 && rc != NHI_ERR_NOTFOUND)
		return rc;
	return behind(x, delegation_delete(x, d->id));
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

/* An intent's key split at its tabs: up to 3 parts ("" for missing). */
static void key_parts(const char *key, char p[3][DA_SCOPES_MAX])
{
	const char *k = key;
	int i;

	for (i = 0; i < 3; i++) {
		const char *tab = k != NULL ? strchr(k, '\t') : NULL;

		if (k == NULL)
			p[i][0] = '\0';
		else if (tab == NULL)
			snprintf(p[i], DA_SCOPES_MAX, "%s", k);
		else
			snprintf(p[i], DA_SCOPES_MAX, "%.*s", (int)(tab - k), k);
		k = tab != NULL ? tab + 1 : NULL;
	}
}

/* What the directory's read of the entry tells of an intent of kind
 * "...-add", "...-update" (sig: the entry's values, want: the intent's)
 * or "...-remove": 1 done, 0 not, or the read's NHI_ERR_*. */
static int entry_tells(const char *kind, int rc, const char *sig, const char *want)
{
	int removal = strstr(kind, "-remove") != NULL;

	if (rc == NHI_ERR_NOTFOUND)
		return removal;
	if (rc < 0)
		return rc;
	if (removal)
		return 0;
	return strstr(kind, "-update") == NULL || strcmp(sig, want) == 0;
}

/* A grant or delegation read back, as by the verb: one whose identity or
 * resource this host has not synced yet is held in the directory all the
 * same (sync reads it). */
static int edge_stored(struct nhictl *x, int rc)
{
	return rc == NHI_ERR_NOTFOUND ? 1 : rc < 0 ? behind(x, rc) : 1;
}

static int resource_intent(struct nhictl *x, const struct intent *it)
{
	struct da_resource got;
	char sig[17] = "";
	int rc = da_resource_read(&dir_conn, it->target, &got);

	if (rc == 0)
		res_sig(&got, sig);
	if ((rc = entry_tells(it->kind, rc, sig, it->key)) != 1)
		return rc;
	/* removed: the row goes (its grants cascade) */
	if (strcmp(it->kind, "resource-remove") == 0)
		return behind(x, reg_exec(x, "DELETE FROM resource WHERE name = ?", "s",
					  it->target)) < 0 ? NHI_ERR_IO : 1;
	return behind(x, dirstore_resource(x, &got, NULL)) < 0 ? NHI_ERR_IO : 1;
}

/* key: RESOURCE, CRED_ID, an update's signature */
static int grant_intent_of(struct nhictl *x, const struct intent *it)
{
	char p[3][DA_SCOPES_MAX], sig[17] = "", why[512];
	struct da_grant got;
	int rc;

	key_parts(it->key, p);
	rc = da_grant_read(&dir_conn, it->target, p[0], p[1], &got);
	if (rc == 0)
		edge_sig(got.actions, got.scopes, got.expires, NULL, got.applied, sig);
	if ((rc = entry_tells(it->kind, rc, sig, p[2])) != 1)
		return rc;
	if (strcmp(it->kind, "grant-remove") == 0)
		return behind(x, reg_exec(x, "DELETE FROM access WHERE identity_id = (SELECT id FROM "
					  "identity WHERE name = ?1) AND resource_id = (SELECT id "
					  "FROM resource WHERE name = ?2) AND IFNULL(credential_id, "
					  "0) = IFNULL((SELECT c.id FROM credential c JOIN identity i "
					  "ON i.id = c.identity_id WHERE i.name = ?1 AND c.cred_id = "
					  "?3), 0)", "sss", it->target, p[0], p[1])) < 0 ?
		       NHI_ERR_IO : 1;
	return edge_stored(x, dirstore_grant(x, &got, NULL, why, sizeof(why)));
}

/* target FROM; key: TO, an update's signature */
static int deleg_intent_of(struct nhictl *x, const struct intent *it)
{
	char p[3][DA_SCOPES_MAX], sig[17] = "", why[512];
	struct da_deleg got;
	int rc;

	key_parts(it->key, p);
	rc = da_deleg_read(&dir_conn, it->target, p[0], &got);
	if (rc == 0)
		edge_sig(got.actions, got.scopes, got.expires, got.reason, got.applied, sig);
	if ((rc = entry_tells(it->kind, rc, sig, p[1])) != 1)
		return rc;
	if (strcmp(it->kind, "delegate-remove") == 0)
		return behind(x, reg_exec(x, "DELETE FROM delegation WHERE from_id = (SELECT id FROM "
					  "identity WHERE name = ?1) AND to_id = (SELECT id FROM "
					  "identity WHERE name = ?2)", "ss", it->target, p[0])) < 0 ?
		       NHI_ERR_IO : 1;
	return edge_stored(x, dirstore_deleg(x, &got, NULL, why, sizeof(why)));
}

int ldap_access_intent(struct nhictl *x, const struct intent *it)
{
	if (strncmp(it->kind, "resource-", 9) == 0)
		return resource_intent(x, it);
	if (strncmp(it->kind, "grant-", 6) == 0)
		return grant_intent_of(x, it);
	if (strncmp(it->kind, "delegate-", 9) == 0)
		return deleg_intent_of(x, it);
	return nerr(x, NHI_ERR_FORMAT, "intent %lld: unknown kind '%s'", (long long)it->id,
		    it->kind);
}

/* The registry's rows of identity 'name''s grants and delegations (from
 * and to it), once their entries are gone from the directory: each with
 * its event (actor, time, outcome), the detail ending in 'why'. */
static int edges_forget(struct nhictl *x, const char *name, const char *actor, int64_t when,
			const char *outcome, const char *why)
{
	sqlite3_stmt *st;
	int r = 0, step;

	st = reg_prep(x, "SELECT r.name, IFNULL(c.cred_id, '') FROM access a JOIN identity i ON "
		      "i.id = a.identity_id JOIN resource r ON r.id = a.resource_id LEFT JOIN "
		      "credential c ON c.id = a.credential_id WHERE i.name = ? ORDER BY a.id", "s",
		      name);
	if (st == NULL)
		return NHI_ERR_DB;
	while (r == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *cred = (const char *)sqlite3_column_text(st, 1);

		r = reg_event_as(x, actor, when, "grant-remove", name, outcome, "resource=%s%s%s: "
				 "identity %s%s", (const char *)sqlite3_column_text(st, 0),
				 cred[0] ? " cred=" : "", cred, why, x->store->audit_tag);
	}
	sqlite3_finalize(st);
	if (r == 0)
		r = reg_exec(x, "DELETE FROM access WHERE identity_id IN (SELECT id FROM identity "
			     "WHERE name = ?)", "s", name);
	if (r < 0)
		return r;
	st = reg_prep(x, "SELECT f.name, t.name FROM delegation d JOIN identity f ON f.id = "
		      "d.from_id JOIN identity t ON t.id = d.to_id WHERE f.name = ?1 OR t.name = ?1 "
		      "ORDER BY d.id", "s", name);
	if (st == NULL)
		return NHI_ERR_DB;
	while (r == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		r = reg_event_as(x, actor, when, "delegate-remove",
				 (const char *)sqlite3_column_text(st, 0), outcome, "to=%s: "
				 "identity '%s' %s%s", (const char *)sqlite3_column_text(st, 1), name,
				 why, x->store->audit_tag);
	sqlite3_finalize(st);
	if (r == 0)
		r = reg_exec(x, "DELETE FROM delegation WHERE from_id IN (SELECT id FROM identity "
			     "WHERE name = ?1) OR to_id IN (SELECT id FROM identity WHERE name = ?1)",
			     "s", name);
	return r;
}

/* The edges a killed retire or release left: the verb's cascade
 * (cmd_grant.c reach_retire) finished.  The directory's entries go
 * (da_cut: those this host does not know too), then the rows, each with
 * the event the verb would have written, as the killed run's (outcome
 * recovered). */
int ldap_edges_cut(struct nhictl *x, const struct intent *it, const char *what)
{
	char why[256];

	if (da_cut(&dir_conn, it->target, NULL, NULL) != 0)
		return NHI_ERR_IO;
	snprintf(why, sizeof(why), "%s; recovered by %s: the run (pid %lld) was killed before "
		 "removing it", what, x->actor, (long long)it->pid);
	return edges_forget(x, it->target, it->actor, it->started, "recovered", why);
}

int ldap_retired_edges_cut(struct nhictl *x, int *n)
{
	char **names;
	size_t k, i;
	int r;

	*n = 0;
	r = dir_strings_of(x, reg_prep(x, "SELECT name FROM identity i WHERE state = 'retired' "
				      "AND (EXISTS (SELECT 1 FROM access WHERE identity_id = i.id) OR "
				      "EXISTS (SELECT 1 FROM delegation WHERE from_id = i.id OR "
				      "to_id = i.id)) ORDER BY name", ""), &names, &k);
	for (i = 0; r == 0 && i < k; i++) {
		int g = 0, d = 0;

		/* one the directory refuses now keeps its rows: retried at the
		 * next sync (as cred_sweep) */
		if (dir_need(x) != 0 || da_cut(&dir_conn, names[i], &g, &d) != 0) {
			nerr(x, 0, "warning: retired identity %s holds grants or delegations that the "
			     "directory would not let this host remove; retried at the next sync",
			     names[i]);
			continue;
		}
		nerr(x, 0, "warning: retired identity %s held grants or delegations written while "
		     "it was retired (another host or server: see docs/replication.md); removed "
		     "from the directory (%d grant%s, %d delegation%s) and here", names[i], g,
		     g == 1 ? "" : "s", d, d == 1 ? "" : "s");
		r = edges_forget(x, names[i], x->actor, x->now, "ok", "retired; removed by sync: "
				 "written while it was retired (another host or server)");
		if (r == 0)
			(*n)++;
	}
	dir_strings_free(names, k);
	return r;
}

/* store.c - what both stores share: the checks the verbs and the stores
 * both make, and the owner's identity recorded.  See store.h; the choice
 * of one store is select.c.
 */
#include <string.h>
#include "nhi_policy.h"
#include "store.h"

/* The identity may get or use credentials: active, unexpired, review not
 * overdue under review = enforce (the policy PAM runs), owner live. */
int store_ident_usable(struct nhictl *x, const struct ident *id, char *why, size_t len)
{
	struct nhi_decision d;
	struct nhi_ident ni;
	char ow[256];
	int r;

	ident_to_nhi(id, &ni);
	nhi_policy_decide(&x->conf, &ni, x->now, NULL, NULL, &d);
	if (d.verdict != NHI_V_ALLOW)
		return nhi_seterr(why, len, NHI_ERR_PERM, "%s", d.message);
	if (strcmp(id->state, "active") != 0)
		return nhi_seterr(why, len, NHI_ERR_PERM, "identity %s is %s", id->name, id->state);
	/* with a directory, a write verb asks it; 'cred verify' reads only
	 * local state, where the last sync recorded an owner's departure (the
	 * identity is orphaned then, refused above) */
	r = x->store->owner_check(x, id->owner, ow, sizeof(ow));
	if (r == NHI_ERR_DB)
		return r;
	if (r < 0)
		return nhi_seterr(why, len, NHI_ERR_PERM, "identity %s: %s", id->name, ow);
	return 0;
}

int owner_now(struct nhictl *x, const char *owner, const char *owner_dn, char *id, size_t idlen,
	      char *why, size_t why_len)
{
	id[0] = '\0';
	return x->store->owner_now(x, owner, owner_dn, id, idlen, why, why_len);
}

int owner_id_record(struct nhictl *x, const char *name)
{
	sqlite3_stmt *st = reg_prep(x, "SELECT owner, owner_dn FROM identity WHERE name = ?", "s", name);
	char owner[64] = "", dn[1024] = "", id[64], why[1024];
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		snprintf(owner, sizeof(owner), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(dn, sizeof(dn), "%s", (const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	if (r != SQLITE_ROW)
		return r == SQLITE_DONE ? NHI_ERR_NOTFOUND : reg_dberr(x);
	r = owner_now(x, owner, dn, id, sizeof(id), why, sizeof(why));
	if (r == NHI_ERR_DB || r == NHI_ERR_IO)
		return nerr(x, r, "%s", why);
	return reg_exec(x, "UPDATE identity SET owner_id = nullif(?, ''), orphan_cause = '' "
			"WHERE name = ?", "ss", id, name);
}

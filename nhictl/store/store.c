/* store.c - what both stores share: the choice of one (the only place
 * `backend =` picks code) and the checks the verbs and the stores both
 * make.  See store.h.
 */
#include <string.h>
#include "nhi_policy.h"
#include "nhictl.h"
#include "store.h"

const struct store_ops *store_select(int backend)
{
	return backend == NHI_BACKEND_LDAP ? &store_ldap : &store_local;
}

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

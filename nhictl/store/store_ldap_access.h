/* store_ldap_access.h - the reach operations of backend = ldap
 * (store_ldap_access.c), listed in store_ldap's table by this macro. */
#ifndef NHICTL_STORE_LDAP_ACCESS_H
#define NHICTL_STORE_LDAP_ACCESS_H

#include "store.h"

#define LDAP_ACCESS_OPS \
	.reach_lock = ldap_reach_lock, .resource_add = ldap_resource_add, \
	.resource_update = ldap_resource_update, .resource_remove = ldap_resource_remove, \
	.grant_add = ldap_grant_add, .grant_update = ldap_grant_update, \
	.grant_remove = ldap_grant_remove, .delegation_add = ldap_delegation_add, \
	.delegation_update = ldap_delegation_update, \
	.delegation_remove = ldap_delegation_remove,
int ldap_reach_lock(struct nhictl *x, const struct reach_scope *s);
int ldap_resource_add(struct nhictl *x, struct resource_row *r);
int ldap_resource_update(struct nhictl *x, const struct resource_row *old,
			 struct resource_row *r);
int ldap_resource_remove(struct nhictl *x, const struct resource_row *r);
int ldap_grant_add(struct nhictl *x, struct access_row *g);
int ldap_grant_update(struct nhictl *x, const struct access_row *old, struct access_row *g);
int ldap_grant_remove(struct nhictl *x, const struct access_row *g);
int ldap_delegation_add(struct nhictl *x, struct delegation_row *d);
int ldap_delegation_update(struct nhictl *x, const struct delegation_row *old,
			   struct delegation_row *d);
int ldap_delegation_remove(struct nhictl *x, const struct delegation_row *d);
/* An intent of a killed run (store.h: intent_resolve) that wrote a
 * resource, a grant or a delegation (added, updated or removed): 1 (the
 * directory holds the change; the entry read back, or the removed one's
 * row deleted), 0, or NHI_ERR_*. */
int ldap_access_intent(struct nhictl *x, const struct intent *it);
/* The retire or release of intent 'it' done (what: "retired",
 * "released"): its grants and delegations, from and to it, removed in
 * the directory and in the registry, each row with its event (outcome
 * recovered), in the current transaction.  0 or NHI_ERR_*. */
int ldap_edges_cut(struct nhictl *x, const struct intent *it, const char *what);
/* Sync (cmd_sync.c), after the directory's edges were read: a retired
 * identity holds no grant or delegation, yet one written on another
 * server (or by a host that had not seen the retire) can come back
 * through replication after the retire's cascade.  Each retired identity
 * with rows is cut in the directory and here (events, outcome ok), with a
 * warning; one the directory refuses keeps its rows (retried next sync).
 * *n counts the identities cut.  0 or NHI_ERR_*. */
int ldap_retired_edges_cut(struct nhictl *x, int *n);
/* Rotation (rot_finish, rot_forward): the grants bound to credential
 * old_id (row old_row) of identity 'name' move to new_id, in the
 * directory and in the registry (grant_carry, audited). */
int ldap_grant_carry(struct nhictl *x, const char *name, int64_t old_row, const char *old_id,
		     const char *new_id);

#endif

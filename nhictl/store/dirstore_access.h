/* dirstore_access.h - resources, grants and delegations read from the
 * directory (diraccess.h) into registry rows (backend = ldap, issue 14):
 * tables resource, access and delegation, each row keyed by the entryUUID
 * of its entry (entry_uuid), so `nhictl sync` applies adds, changes and
 * deletes, and a write verb reads its own write back.
 *
 * Everything is written in the caller's transaction.  Each function
 * returns 0 or a negative NHI_ERR_*; *changed (may be NULL) is 0 when the
 * row was as the entry says, 1 when it was updated, 2 when inserted.
 */
#ifndef NHICTL_DIRSTORE_ACCESS_H
#define NHICTL_DIRSTORE_ACCESS_H

#include "dirstore.h"
#include "diraccess.h"

int dirstore_resource(struct nhictl *x, const struct da_resource *r, int *changed);
/* NHI_ERR_NOTFOUND, with the reason in why (not printed), when the
 * registry has no such identity, resource or credential: the entry
 * cannot be a row here (a row it had is removed). */
int dirstore_grant(struct nhictl *x, const struct da_grant *g, int *changed,
		   char *why, size_t len);
int dirstore_deleg(struct nhictl *x, const struct da_deleg *g, int *changed,
		   char *why, size_t len);
/* The row of entryUUID uuid in any of the three tables removed; *gone 1
 * if there was one. */
int dirstore_access_forget(struct nhictl *x, const char *uuid, int *gone);
/* After a sync that saw every entry (a present phase, a reload, a scan):
 * rows whose entryUUID is not in temp.sync_seen removed; *n how many. */
int dirstore_access_reconcile(struct nhictl *x, long *n);
/* The same for what scope s (store.h) covers, after reading its entries
 * (reach_lock): its rows whose entryUUID is not in temp.sync_seen
 * removed. */
int dirstore_access_reconcile_scope(struct nhictl *x, const struct reach_scope *s, long *n);

/* Entries as they come (a sync, reach_lock): resources are stored at
 * once, grants and delegations kept until dirstore_batch_apply, when the
 * identities, credentials and resources they name are all there.  An
 * entry that does not convert, or names what the registry does not have,
 * is skipped with one warning naming its DN (counted in invalid; quiet:
 * counted only); a row it had goes.  With 'mark', the entryUUIDs of the
 * entries stored go into temp.sync_seen (for dirstore_access_reconcile). */
struct dirstore_batch {
	struct nhictl *x;
	struct dir *d;
	int quiet, mark;
	const char *uuid;          /* the entry's, from the sync state control (or NULL) */
	struct da_grant *g;
	struct da_deleg *dl;
	size_t ng, nd, capg, capd;
	long added, changed, invalid;
};
/* A da_fn (diraccess.h): ctx is the batch. */
int dirstore_batch_add(void *ctx, enum da_type t, const void *entry, const char *why);
int dirstore_batch_apply(struct dirstore_batch *b);
void dirstore_batch_free(struct dirstore_batch *b);

#endif

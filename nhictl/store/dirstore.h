/* dirstore.h - the registry side of the directory (backend = ldap): what
 * the directory holds, written into registry.db, in the current
 * transaction.  Used by store_ldap.c (read your own writes) and sync.
 * The ldap/ layer reads entries into structs; only this writes rows.
 */
#ifndef NHICTL_DIRSTORE_H
#define NHICTL_DIRSTORE_H

#include "store.h"
#include "dircred.h"

/* Insert or update the registry row of an identity read from the
 * directory, matched by entryUUID, else by name: identity row with
 * owner_dn and entry_uuid, its hosts and services.  *changed (may be NULL)
 * is set to 0 if nothing differed, 1 if the row was updated, 2 if it was
 * inserted.  0 or NHI_ERR_DB. */
int dir_ident_store(struct nhictl *x, const struct ident *id, const char *owner_dn,
		    const char *uuid, int *changed);

/* Remove the registry row with this entryUUID (a delete seen by sync).
 * *gone set to 1 if a row was removed.  0 or NHI_ERR_DB. */
int dir_ident_forget(struct nhictl *x, const char *uuid, int *gone);

/* Read identity 'name' back from the directory after a write and store it
 * in the registry, taking the write lock; *out gets what was read.  On
 * failure the message says the directory was changed but the registry
 * not (run sync). */
int dir_ident_readback(struct dir *d, const char *name, struct ident *out);
/* The identity's credential entries into the registry: rows added or
 * updated by credential id, local rows the directory no longer has
 * revoked, identity.cred_serial = serial. */
int dir_creds_pull(struct dir *d, const char *name, long long serial);
/* Read the identity's serial and pull its credentials (dc_read, then
 * dir_creds_pull). */
int dir_creds_refresh(struct dir *d, const char *name);

#endif

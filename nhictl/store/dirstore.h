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
 * inserted, 3 if the entry is held by the conflict rule (strict: sync;
 * dn, the entry's DN, is recorded with it; see dirstore.c).  0 or
 * NHI_ERR_DB. */
int dir_ident_store(struct nhictl *x, const struct ident *id, const char *owner_dn,
		    const char *uuid, const char *dn, int strict, int *changed);

/* Held entries that share nothing any more (the other entry fixed or
 * deleted): removed from dir_conflict, their entryUUIDs into *uuids
 * (dir_strings_free) for sync to read again. */
int dir_conflict_release(struct nhictl *x, char ***uuids, size_t *n);
/* The first column of every row of statement st (finalized here; NULL:
 * its preparation failed, said) into *out, *n of them (dir_strings_free).
 * 0, NHI_ERR_NOMEM or NHI_ERR_DB (said); nothing kept on failure. */
int dir_strings_of(struct nhictl *x, sqlite3_stmt *st, char ***out, size_t *n);
void dir_strings_free(char **v, size_t n);

/* The entries held by the conflict rule, one pair each (sharing a name
 * or a uidNumber), in an order of their values (the same on every host). */
struct dir_conflict {
	struct {
		char name[64], uuid[64], dn[1024];
		uint32_t uid;
	} e[2];
	int same_name, same_uid;
	int64_t since;                 /* held since (this host's first sight) */
};
int dir_conflicts(struct nhictl *x, struct dir_conflict **v, size_t *n);

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
/* A write that the directory does not show when read back, once the
 * servers agreed: another writer or a replica changed the entry in
 * between.  The registry (read back by the caller) is committed with the
 * audit event (action, outcome overwritten, "the directory now holds
 * WHAT"), and one line says "the directory now holds WHAT: another writer
 * or a replica changed NAME".  Returns NHI_ERR_CONFLICT. */
int dir_confirm_failed(struct nhictl *x, const char *action, const char *name,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif

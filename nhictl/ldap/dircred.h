/* dircred.h - credentials in the directory (backend = ldap, issue 4).
 *
 * Layout (schema/README):
 *   nhiCredentialId=<id>,uid=<name>,<ldap_base>   one nhiCredential entry per
 *       credential: nhiKind, nhiState (active|grace|revoked), nhiFingerprint,
 *       nhiPublicPart (SSH public key line, certificate PEM), nhiSecretHash
 *       (a password's {CRYPT} hash, a token's HMAC: never the secret),
 *       nhiCreated, nhiNotAfter, nhiGraceUntil, nhiRevokedAt, nhiReplaces,
 *       nhiCertSerial;
 *   the identity entry's userPassword holds the hashes of its usable
 *       password credentials (so the identity binds with them; two values
 *       during a rotation's grace window), and its nhiSerial counts changes
 *       of its credentials.
 *
 * Every change of an identity's credentials starts with ONE Modify of the
 * identity entry that moves nhiSerial from the value read to the next one
 * under an assertion (compare-and-swap: a concurrent change by another
 * host makes it fail) and, for a password, adds or deletes its hash.  That
 * Modify also makes `nhictl sync` on every other host see the identity as
 * changed and pull its credential entries (dir_creds_pull, store/dirstore.c).
 *
 * Every function prints its own message and returns 0 or a negative
 * NHI_ERR_* code: NHI_ERR_CONFLICT (dc_bump, not printed: the serial
 * moved meanwhile), NHI_ERR_NOTFOUND (no such identity), NHI_ERR_DB,
 * NHI_ERR_IO (the directory failed or refused).
 */
#ifndef NHICTL_DIRCRED_H
#define NHICTL_DIRCRED_H

#include "dirmap.h"

/* The identity entry's nhiSerial (0 when absent) and state. */
int dc_read(struct dir *d, const char *name, long long *serial, char *state, size_t len);
/* The compare-and-swap Modify: nhiSerial from -> from + 1; add_pw / del_pw
 * a userPassword value to add / delete (NULL: none); with set_pw the
 * userPassword values become exactly set_pw (NULL-terminated; empty:
 * none), for suspend, resume and retire. */
int dc_bump(struct dir *d, const char *name, long long from, const char *add_pw,
	    const char *del_pw, const char *const *set_pw);
/* A new credential entry (state active). */
int dc_add(struct dir *d, const char *name, const struct newcred *n, const char *replaces);
/* Set a credential entry's state: "grace" (nhiGraceUntil = when), "revoked"
 * (nhiRevokedAt = when) or "active" (both removed).  A missing entry is
 * fine when 'missing_ok'. */
int dc_set_state(struct dir *d, const char *name, const char *cid, const char *state,
		 int64_t when, int missing_ok);
/* Undo dc_add and its bump (a hand-over that failed): the entry deleted,
 * a password's hash removed from the identity. */
int dc_unadd(struct dir *d, const char *name, const struct newcred *n);
/* A credential whose grace ended (sweep): its entry revoked, its
 * password hash (del_pw, or NULL) removed from the identity. */
int dc_revoke(struct dir *d, const char *name, const char *cid, const char *del_pw,
	      int64_t when);
/* Wait until every server of ldap_uri holds credential entry cid as
 * the server written through does (dir_settle_mend: a version swapped
 * by replication is written again).  0, 1 not within
 * ldap_settle_wait (warned), NHI_ERR_*. */
int dc_settle(struct dir *d, const char *name, const char *cid);
/* The same for the identity entry after a change of credentials that
 * only moved its nhiSerial (a token, key or certificate: two hosts doing
 * it at once through two providers write the same serial, and
 * replication can swap their versions the same way). */
int dc_settle_ident(struct dir *d, const char *name);
/* Delete a credential entry (gone already is fine). */
int dc_delete(struct dir *d, const char *name, const char *cid);
/* The identity's credential entries, valid ones only (a bad entry is
 * named in a warning and skipped): *out a heap array of *n (free() it;
 * NULL when there are none). */
int dc_creds(struct dir *d, const char *name, struct cred **out, size_t *n);
/* The hashes of the identity's usable password credentials, from its
 * entries (for resume): up to max - 1 strings of SECRET_HASH_MAX in
 * hashes, pointers in out (NULL-terminated). */
int dc_password_hashes(struct dir *d, const char *name, char (*hashes)[256],
		       const char **out, int max);

/* With the identity's state: DC_SUSPEND removes every userPassword value
 * (no bind), DC_RESUME puts back those of its usable password
 * credentials, DC_RETIRE revokes every credential entry and removes them
 * all.  One compare-and-swap Modify each (retried when another writer
 * moves the serial). */
enum { DC_SUSPEND = 1, DC_RESUME, DC_RETIRE };
int dc_lock_creds(struct dir *d, const char *name, int how);
/* extend: no credential outlives its identity.  Every credential entry
 * with no nhiNotAfter or one past 'until' gets nhiNotAfter = until, and
 * the serial moves (one compare-and-swap) when one did. */
int dc_cap_not_after(struct dir *d, const char *name, int64_t until);
/* ---- rotation (cmd_cred.c, and recovery in cred.c) ------------------- */
struct dc_rot {
	const char *name;
	const char *kind;                   /* of old and new */
	const char *old_id, *old_hash;      /* the credential rotated */
	const struct newcred *n;            /* its replacement */
	int64_t grace_until;                /* 0: the old one revoked at once */
};
/* Step 3: the compare-and-swap from 'serial' (new password hash added;
 * the old one deleted when there is no grace), the new entry, the old
 * entry in grace (or revoked).  NHI_ERR_CONFLICT when the serial moved: nothing
 * was changed.  After a failure past the swap, dc_rot_undo. */
int dc_rot_apply(struct dir *d, const struct dc_rot *r, long long serial);
/* Does the identity entry hold the password hash 'pw' now (userPassword)?
 * 1, 0, or NHI_ERR_IO (printed). */
int dc_has_password(struct dir *d, const char *name, const char *pw);
/* The same, repeatable, from whatever serial the entry has (roll forward). */
int dc_rot_redo(struct dir *d, const struct dc_rot *r);
/* Undo it, repeatable: the new entry deleted, the old one active again
 * with its password hash, the new hash gone (roll back). */
int dc_rot_undo(struct dir *d, const struct dc_rot *r);

#endif

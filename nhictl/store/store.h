/* store.h - the store interface: where identities (and, later, their
 * credentials) are written.  One implementation per backend, chosen once
 * from `backend =` (store_select, called by main):
 *
 *   store_local.c   backend = local: registry.db is the truth
 *   store_ldap.c    backend = ldap: the directory is the truth; every
 *                   change is written there first, then read back into
 *                   registry.db (dirwrite.c, dircred.c)
 *
 * A verb (cmd_*.c) checks its arguments, asks the store, and builds the
 * audit text and the answer once, for both backends.  Reads go to
 * registry.db (ident.c) except fetch, which asks the truth.
 *
 * Every operation prints its own message and returns 0 or a negative
 * NHI_ERR_* code; the verb turns that into an exit code (exit_code in
 * nhictl.h).  add, update and release leave a registry transaction open
 * holding the change: the verb appends the audit event and commits, or
 * calls abort (which also says when the directory was changed already).
 */
#ifndef NHICTL_STORE_H
#define NHICTL_STORE_H

#include "registry.h"
#include "access.h"

struct dir;   /* dirmap.h */

/* What a change of reach checks and writes (store_ops.reach_lock): the
 * rows that must agree with the truth before it.  A field NULL (0) is
 * not wanted. */
struct reach_scope {
	const char *resource;      /* resource RESOURCE's row, */
	int grants_on;             /* with grants_on: and every grant on it */
	const char *ident;         /* IDENT's grants: on 'resource' only when it is set */
	const char *from, *to;     /* every delegation from FROM; every delegation to TO */
};

/* A new identity (create, adopt). */
struct store_new {
	const char *name;
	int kind;                      /* NHI_KIND_* */
	uint32_t uid, gid;
	const char *gecos, *home, *shell, *purpose;
	const char *owner, *owner_dn;  /* the owner's user name; its DN (ldap) */
	time_t expires;
	int64_t interval;              /* review interval */
	int adopted;
	const char *const *hosts, *const *services;
	int n_hosts, n_services;
	const char *labels;            /* "k=v,k=v" sorted (labels.c), NULL/"" none */
	int applied;                   /* created by `nhictl apply`: its --prune may retire it */
};

/* A change of an existing identity; NULL / 0 = leave alone. */
struct store_change {
	const char *state_from, *state_to;
	time_t expires;                /* also caps its credentials' not-after */
	int64_t last_review, review_due;
	const char *owner, *owner_dn;  /* a new owner: user name, DN (ldap) */
	int clear_orphaned;
	int64_t retired_at;            /* retire: with reason ("" none) */
	const char *reason;
	int revoked;                   /* out (retire): credentials revoked, -1 not counted */
	const char *labels;            /* the new labels, whole ("" none); NULL leave */
	/* modify / apply (issue 16): */
	const char *purpose;           /* the new purpose ("" none); NULL leave */
	const char *gecos;             /* the new gecos ("" none); NULL leave */
	int64_t interval;              /* the new review interval (seconds); 0 leave */
	int set_hosts, set_services;   /* 1: replace the list with hosts/services */
	const char *const *hosts, *const *services;   /* n == 0: any */
	int n_hosts, n_services;
	int applied;                   /* 1: mark managed by apply, -1: unmark, 0 leave */
};

/* What becomes of a rotation interrupted by a crash (rotation_recover). */
enum resolution { ROLL_BACK, ROLL_FORWARD, UNKNOWN };

/* A rotation in flight (cmd_rotate). */
struct store_rot {
	const struct ident *id;
	const struct cred *old;        /* the credential rotated */
	const struct newcred *n;       /* its replacement */
	int64_t grace;                 /* seconds; 0: the old one revoked at once */
	int64_t grace_until;           /* now + grace, or 0 */
	long long serial;              /* read by cred_lock */
	int64_t journal_row;           /* the rotation's row in the journal */
};

struct store_ops {
	const char *name;              /* "local", "ldap" */
	const char *audit_tag;         /* appended to every audit detail */
	const char *where;             /* "" or " in the directory", for messages */
	int owner_dn_ok;               /* an owner may be given as a DN */
	int groups;                    /* registry groups (nhictl group); with
					* ldap they are posixGroup entries */
	/* The identity as the truth has it.  NHI_ERR_NOTFOUND (printed). */
	int (*fetch)(struct nhictl *x, const char *name, struct ident *id);
	/* NHI_ERR_EXISTS (printed) when the name is registered; what
	 * prefixes the name in the message ("identity " or ""). */
	int (*name_free)(struct nhictl *x, const char *name, const char *what);
	/* A live human owner: user name in name, DN in dn ("" local);
	 * NHI_ERR_PERM or NOTFOUND with the reason in why (not printed). */
	int (*owner_resolve)(struct nhictl *x, const char *owner, char *name, size_t name_len,
			     char *dn, size_t dn_len, char *why, size_t why_len);
	/* Who the owner is now (owner_now in nhictl.h): live or not, and
	 * the owner's uid (local) or entryUUID (ldap) in id. */
	int (*owner_now)(struct nhictl *x, const char *owner, const char *owner_dn,
			 char *id, size_t idlen, char *why, size_t why_len);
	/* 1 if 'id' may be a new uid and gid, 0 if it is in use, or NHI_ERR_*. */
	int (*uid_free)(struct nhictl *x, uint32_t id);
	/* 1 if an identity has uid 'id' (adopt), 0 if not, or NHI_ERR_*. */
	int (*uid_registered)(struct nhictl *x, uint32_t id);
	int (*alloc_uid)(struct nhictl *x, uint32_t *uid);
	/* Write the new identity; *got is what was stored (uid, gid,
	 * owner, expires).  Transaction left open. */
	int (*add)(struct nhictl *x, const struct store_new *n, struct ident *got);
	/* Write the change (credentials follow: suspended ones cannot be
	 * used, retired ones are revoked, none outlives the expiry).
	 * Transaction left open. */
	int (*update)(struct nhictl *x, const struct ident *id, struct store_change *c);
	/* release: 1 if the identity was adopted, 0 if not, or NHI_ERR_*. */
	int (*adopted)(struct nhictl *x, const struct ident *id);
	/* release: remove it from the truth (the registry rows are the
	 * verb's, in its transaction). */
	int (*release)(struct nhictl *x, const struct ident *id);
	/* Roll back the open transaction after a failure. */
	void (*abort)(struct nhictl *x);

	/* ---- credentials (cmd_cred.c) ---- */
	/* Is the owner still a live human?  As owner_live(); with ldap
	 * asked of the directory when connected (a write verb), else 0
	 * (cred verify reads only local state). */
	int (*owner_check)(struct nhictl *x, const char *owner, char *why, size_t len);
	/* Before a change of credentials: connect (ldap). */
	int (*cred_open)(struct nhictl *x);
	/* Revoke the credentials whose grace window has ended (cred_sweep),
	 * in the current transaction. */
	int (*cred_sweep)(struct nhictl *x, int *n);
	/* The write lock (a registry transaction, left open) with the
	 * identity's credentials as the truth has them; *serial: what the
	 * change will compare and swap (ldap), 0 (local). */
	int (*cred_lock)(struct nhictl *x, const char *name, long long *serial);
	/* Add the new credential (active), in the locked transaction. */
	int (*cred_add)(struct nhictl *x, const struct ident *id, const struct newcred *n,
			long long serial);
	/* Undo cred_add in the truth (the hand-over failed after the commit:
	 * the verb then revokes the registry's row): 0 or NHI_ERR_*. */
	int (*cred_unadd)(struct nhictl *x, const struct ident *id, const struct newcred *n);
	/* Revoke c in the truth before the registry rows are changed. */
	int (*cred_revoke)(struct nhictl *x, const struct ident *id, const struct cred *c,
			   long long serial);
	/* Rotation step 3, the truth's part, recorded in the journal row
	 * (step 'directory'): 0, NHI_ERR_CONFLICT (another writer moved the
	 * serial: nothing changed), NHI_ERR_EXISTS (replicated: another
	 * rotation of the credential stands on every server; ours withdrawn,
	 * the registry holds what stands, printed), NHI_ERR_BUSY (replicated:
 * the servers did not agree in time; the rotation undone all the same:
 * ours withdrawn, the old credential active, printed), or NHI_ERR_* after
	 * undoing it (rot_undo's
	 * NHI_ERR_STATE when that failed too). */
	int (*rot_apply)(struct nhictl *x, const struct store_rot *r);
	/* Undo rot_apply: 0, or NHI_ERR_STATE when it could not be undone
	 * now (printed: the journal row stays pending for the next run). */
	int (*rot_undo)(struct nhictl *x, const struct store_rot *r);
	/* Step 5, in the rotation's transaction: the new credential valid,
	 * the old one in grace (or revoked). */
	int (*rot_finish)(struct nhictl *x, const struct store_rot *r);
	/* Step 5 failed: 1 when the truth keeps the rotation (the registry
	 * rolled back, printed), 0 when the verb rolls it back. */
	int (*rot_keep)(struct nhictl *x);
	/* An interrupted rotation (journal row rid, its last step): roll
	 * forward once the secret was handed over, else back; with ldap the
	 * directory is made to agree first (UNKNOWN when it cannot be now). */
	enum resolution (*rot_resolve)(struct nhictl *x, int64_t rid, const char *name,
				       const char *step);
	/* Then, in the recovery's transaction, the registry made to agree. */
	int (*rot_forward)(struct nhictl *x, int64_t rid, int64_t cred_row, int64_t grace,
			   const char *name);
	int (*rot_back)(struct nhictl *x, const char *name);
	/* An intent a killed run left (registry/intent.c; NULL: the backend
	 * writes none): 1 when the directory holds its change (then read
	 * back into the registry in the current transaction, and what the
	 * run left of it finished), 0 when it does not (what it left
	 * half-written undone), NHI_ERR_* when that cannot be told now. */
	int (*intent_resolve)(struct nhictl *x, const struct intent *it);

	/* ---- reach (issue 14): resources, grants, delegations (access.h) ----
	 * cmd_resource.c and cmd_grant.c check everything before they write:
	 * syntax, names, the owner (owner_resolve), the identities (registered,
	 * not retired), lifetimes and caps, max_delegations, and whether
	 * anything changes at all, against the registry rows read inside
	 * reach_lock's transaction.  An operation then writes one change: to
	 * the truth first (ldap: one Add, Modify or Delete of the entry under
	 * ldap_base, LDAP-escaped), then the registry row in the open
	 * transaction (the *_put / *_delete of access.h).  It neither begins,
	 * commits nor audits: the verb appends the audit event (reg_event, with
	 * audit_tag) and commits, or calls abort (which says when the
	 * directory was changed already).  Each prints its own message on
	 * failure (nerr, "... in the directory" where it helps) and returns 0
	 * or a negative NHI_ERR_*; NHI_ERR_EXISTS / NHI_ERR_NOTFOUND /
	 * NHI_ERR_CONFLICT when the truth disagrees with the rows the verb read
	 * (another writer; nothing written).  Rows of the struct that the verb
	 * leaves 0 or "" (id, entry_uuid, managed) are the store's to fill. */
	/* The write lock for a change of reach: a registry transaction, left
	 * open, whose resource, access and delegation rows in scope s agree
	 * with the truth (ldap: connect, read those entries into the
	 * registry, remove the rows of s whose entry is gone); s NULL: every
	 * such row (nhictl apply).  The rows a verb checks must be in s. */
	int (*reach_lock)(struct nhictl *x, const struct reach_scope *s);
	/* A new resource; r->id (and entry_uuid, ldap) set on return. */
	int (*resource_add)(struct nhictl *x, struct resource_row *r);
	/* Resource 'old' (as loaded) gets the values of 'r' (same name; kind,
	 * uri, owner, owner_dn, owner_id, data_class, external, purpose). */
	int (*resource_update)(struct nhictl *x, const struct resource_row *old,
			       struct resource_row *r);
	/* Remove the resource; the verb has removed its grants first
	 * (grant_remove, each audited). */
	int (*resource_remove)(struct nhictl *x, const struct resource_row *r);
	/* A new grant (identity_id, resource_id, credential_id and the names
	 * filled by the verb); g->id set on return. */
	int (*grant_add)(struct nhictl *x, struct access_row *g);
	/* Grant 'old' (as loaded) gets actions, scopes and expires of 'g'. */
	int (*grant_update)(struct nhictl *x, const struct access_row *old, struct access_row *g);
	/* Remove the grant.  Also the retire cascade's: cmd_retire, after
	 * update (transaction open), calls reach_lock (reg_begin is then a
	 * no-op) and removes every grant of the identity and every delegation
	 * from or to it, with these ops, one audit event each. */
	int (*grant_remove)(struct nhictl *x, const struct access_row *g);
	/* The same three for delegations (FROM -> TO). */
	int (*delegation_add)(struct nhictl *x, struct delegation_row *d);
	int (*delegation_update)(struct nhictl *x, const struct delegation_row *old,
				 struct delegation_row *d);
	int (*delegation_remove)(struct nhictl *x, const struct delegation_row *d);
	/* Grants bound to a credential: they end with it (revoked, expired,
	 * grace ended: the rows stay, shown cut) and a rotation carries them to
	 * the new credential: rot_finish and rot_forward also move them
	 * (grant_carry, which audits each; ldap: their entries too). */
};

extern const struct store_ops store_local, store_ldap;
/* store_local_access.c: the reach operations of backend = local, listed
 * in store_local's table by this macro. */
#define LOCAL_ACCESS_OPS \
	.reach_lock = local_reach_lock, .resource_add = local_resource_add, \
	.resource_update = local_resource_update, .resource_remove = local_resource_remove, \
	.grant_add = local_grant_add, .grant_update = local_grant_update, \
	.grant_remove = local_grant_remove, .delegation_add = local_delegation_add, \
	.delegation_update = local_delegation_update, \
	.delegation_remove = local_delegation_remove,
int local_reach_lock(struct nhictl *x, const struct reach_scope *s);
int local_resource_add(struct nhictl *x, struct resource_row *r);
int local_resource_update(struct nhictl *x, const struct resource_row *old,
			  struct resource_row *r);
int local_resource_remove(struct nhictl *x, const struct resource_row *r);
int local_grant_add(struct nhictl *x, struct access_row *g);
int local_grant_update(struct nhictl *x, const struct access_row *old, struct access_row *g);
int local_grant_remove(struct nhictl *x, const struct access_row *g);
int local_delegation_add(struct nhictl *x, struct delegation_row *d);
int local_delegation_update(struct nhictl *x, const struct delegation_row *old,
			    struct delegation_row *d);
int local_delegation_remove(struct nhictl *x, const struct delegation_row *d);
/* The one place a backend is chosen (select.c). */
const struct store_ops *store_select(int backend);
/* The identity may get or use credentials: active, unexpired, review
 * not overdue under review = enforce (the policy PAM runs), owner live
 * (owner_check).  0 or NHI_ERR_* with the reason in why. */
int store_ident_usable(struct nhictl *x, const struct ident *id, char *why, size_t len);

/* ---- what every backend shares (store.c, upkeep.c) ------------------ */

/* Who the owner is now (store.c: the store's owner_now): owner_live()
 * (local) or dir_owner_lookup() (ldap, by owner_dn when set), and the
 * owner's uid (local) or entryUUID (ldap) in id ("" when unknown; set for
 * 0 and NHI_ERR_PERM). */
int owner_now(struct nhictl *x, const char *owner, const char *owner_dn, char *id, size_t idlen,
	      char *why, size_t why_len);
/* Record the current owner's uid/entryUUID as identity NAME's owner_id
 * (create, adopt, transfer), in the current transaction.  0 or NHI_ERR_*. */
int owner_id_record(struct nhictl *x, const char *name);
/* Revoke the credentials whose grace window has ended (one audit event
 * each), in the current transaction; *n counts them (upkeep.c).  With a
 * directory (d, backend = ldap) each is revoked there first, its password
 * hash removed; one the directory refuses now is left for the next sweep. */
int cred_sweep(struct nhictl *x, struct dir *d, int *n);
/* Roll back the pending rotations whose process is gone (a crash between
 * the journal and its end), in the current transaction, with a message on
 * stderr and an audit event each.  *n counts them (upkeep.c). */
int rotation_recover(struct nhictl *x, int *n);
/* Resolve the intents whose run is gone (a kill between announcing a
 * change and committing it, registry/intent.c), outside a transaction:
 * each, in one transaction with its deletion, gets the verb's audit event
 * with the killed run's actor and time, outcome 'recovered' when the
 * directory holds the change, 'not-done' when it does not; one that
 * cannot be resolved now (the directory unreachable) stays for the next
 * run (a warning).  Every writing verb and sync run it first; *n counts
 * the resolved ones (upkeep.c). */
int intent_recover(struct nhictl *x, int *n);

#endif

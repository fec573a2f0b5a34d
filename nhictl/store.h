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

#include "nhictl.h"

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
};

struct store_ops {
	const char *name;              /* "local", "ldap" */
	const char *audit_tag;         /* appended to every audit detail */
	const char *where;             /* "" or " in the directory", for messages */
	int owner_dn_ok;               /* an owner may be given as a DN */
	/* The identity as the truth has it.  NHI_ERR_NOTFOUND (printed). */
	int (*fetch)(struct nhictl *x, const char *name, struct ident *id);
	/* NHI_ERR_EXISTS (printed) when the name is registered; what
	 * prefixes the name in the message ("identity " or ""). */
	int (*name_free)(struct nhictl *x, const char *name, const char *what);
	/* A live human owner: user name in name, DN in dn ("" local);
	 * NHI_ERR_PERM or NOTFOUND with the reason in why (not printed). */
	int (*owner_resolve)(struct nhictl *x, const char *owner, char *name, size_t name_len,
			     char *dn, size_t dn_len, char *why, size_t why_len);
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
};

extern const struct store_ops store_local, store_ldap;
/* The one place a backend is chosen. */
const struct store_ops *store_select(int backend);

#endif

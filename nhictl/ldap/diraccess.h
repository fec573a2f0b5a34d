/* diraccess.h - resources, grants and delegations in the directory
 * (backend = ldap, issue 14).
 *
 * Layout (schema/README):
 *   cn=<name>,ou=resources,<ldap_base>          nhiResource: nhiKind,
 *       nhiResourceURI, owner (DN), nhiDataClass, nhiExternal,
 *       description (purpose), nhiCreated, nhiSerial (moved on by every
 *       grant added on it: compare-and-swap against a racing removal);
 *   nhiGrantId=<resource>[:<cred id>],uid=<name>,<ldap_base>   nhiGrant:
 *       nhiResourceName, nhiAction (one value per action), nhiScope
 *       (multi), nhiExpires, nhiCreated, nhiCredentialId;
 *   nhiDelegateTo=<to>,uid=<from>,<ldap_base>    nhiDelegation:
 *       nhiAction (the limit), nhiScope, nhiExpires, nhiCreated, nhiReason.
 *
 * The RDNs make the directory refuse a second resource of a name, grant
 * of an identity (and credential) on a resource, or delegation of a pair:
 * of two hosts adding the same, one gets NHI_ERR_EXISTS.  Every value
 * put into a DN is escaped (RFC 4514), every value put into a filter too
 * (RFC 4515); a value with control characters is refused before anything
 * is written.
 *
 * Only the directory side lives here (no SQLite): entries are read into
 * the structs below; store/dirstore_access.c writes them as registry
 * rows.  Every function prints its own message ("nhictl: VERB: ...") and
 * returns 0 or a negative NHI_ERR_*, unless it says it fills 'why'.
 */
#ifndef NHICTL_DIRACCESS_H
#define NHICTL_DIRACCESS_H

#include "dirmap.h"

#define DA_NAME_MAX 64         /* a resource's name, with its NUL (RES_NAME_MAX) */
#define DA_SCOPES_MAX 1024     /* scopes, comma-separated */

struct da_resource {
	char name[DA_NAME_MAX], kind[32], uri[1024], data_class[16], purpose[264];
	char owner[64];            /* the owner's user name (dir_owner_name) */
	char owner_dn[1024];
	int external;
	int64_t created;
	char uuid[64];             /* entryUUID (read only) */
	char labels[LABELS_BUFSZ]; /* nhiLabel values as "k=v,k=v" sorted (labels.c) */
	int applied;               /* nhiApplied TRUE: managed by nhictl apply */
};

struct da_grant {
	char ident[64];            /* the identity: the parent entry's uid */
	char resource[DA_NAME_MAX];
	char cred_id[CRED_ID_MAX]; /* "" = the identity's own */
	int actions;               /* DA_ACT_* bits, 1..15 */
	char scopes[DA_SCOPES_MAX];
	int64_t created, expires;
	char uuid[64];
	int applied;               /* nhiApplied */
};

struct da_deleg {
	char from[64], to[64];     /* from: the parent entry's uid */
	int actions;               /* the limit, 1..15 */
	char scopes[DA_SCOPES_MAX];
	char reason[264];
	int64_t created, expires;
	char uuid[64];
	int applied;               /* nhiApplied */
};

/* The action bits (the registry's NHI_ACT_* values) and their names as
 * nhiAction values, in this order. */
enum { DA_ACT_READ = 1, DA_ACT_WRITE = 2, DA_ACT_EXEC = 4, DA_ACT_ADMIN = 8 };

/* ---- reading (sync and read-back) ----------------------------------- */

/* What `nhictl sync` searches for below ldap_base (subtree), and the
 * attributes it asks for: identities and these three. */
#define DA_SYNC_FILTER "(|(objectClass=nhiIdentity)(objectClass=nhiResource)" \
	"(objectClass=nhiGrant)(objectClass=nhiDelegation))"
extern char *da_sync_attrs[];

enum da_type { DA_OTHER = 0, DA_IDENTITY, DA_RESOURCE, DA_GRANT, DA_DELEG };
/* Which of them an entry is (by objectClass). */
enum da_type da_entry_type(LDAP *ld, LDAPMessage *e);

/* 1 if an identity entry the (subtree) sync search found is where nhictl
 * puts identities, directly below ldap_base (dir_ident_dn); 0 if not. */
int da_ident_in_place(struct dir *d, LDAPMessage *e);

/* One entry into the struct.  0, or NHI_ERR_FORMAT with "DN: what is
 * wrong" in why (not printed): a missing or bad value, an entry outside
 * its place (a resource not directly below ou=resources, a grant or
 * delegation not directly below an identity entry of ldap_base). */
int da_entry_to_resource(struct dir *d, LDAPMessage *e, struct da_resource *r,
			 char *why, size_t len);
int da_entry_to_grant(struct dir *d, LDAPMessage *e, struct da_grant *g, char *why, size_t len);
int da_entry_to_deleg(struct dir *d, LDAPMessage *e, struct da_deleg *g, char *why, size_t len);

/* Read one entry back by its names.  0, NHI_ERR_NOTFOUND, NHI_ERR_FORMAT,
 * NHI_ERR_IO (all printed). */
int da_resource_read(struct dir *d, const char *name, struct da_resource *r);
int da_grant_read(struct dir *d, const char *ident, const char *resource, const char *cred_id,
		  struct da_grant *g);
int da_deleg_read(struct dir *d, const char *from, const char *to, struct da_deleg *g);

/* ---- writing ---------------------------------------------------------- */

/* A new resource entry (ou=resources created on first use):
 * NHI_ERR_EXISTS when the directory has one of that name. */
int da_resource_add(struct dir *d, const struct da_resource *r);
/* Delete the resource and every grant on it (*grants: how many, may be
 * NULL): the grants, then the resource under an assertion of the
 * nhiSerial read first; a grant added meanwhile moved it, so it starts
 * over (bounded).  NHI_ERR_NOTFOUND when there is no such resource. */
int da_resource_remove(struct dir *d, const char *name, int *grants);

/* A new grant entry, then the resource's serial moved on (compare and
 * swap); a resource gone by then: the entry deleted again,
 * NHI_ERR_NOTFOUND.  NHI_ERR_EXISTS: granted already; NHI_ERR_NOTFOUND:
 * no such identity or resource in the directory. */
int da_grant_add(struct dir *d, const struct da_grant *g);
/* NHI_ERR_NOTFOUND when there is no such grant. */
int da_grant_remove(struct dir *d, const char *ident, const char *resource, const char *cred_id);
/* A rotation carries the grants bound to credential old_id to new_id:
 * each re-added under its new RDN, the old entry deleted (repeatable).
 * *n: how many (may be NULL). */
int da_grant_rebind(struct dir *d, const char *ident, const char *old_id, const char *new_id,
		    int *n);

/* A new delegation entry below 'from'.  NHI_ERR_EXISTS, NHI_ERR_NOTFOUND
 * (no identity 'from' or 'to' in the directory). */
int da_deleg_add(struct dir *d, const struct da_deleg *g);
int da_deleg_remove(struct dir *d, const char *from, const char *to);

/* Retire (or release) 'name': its grants and delegations and every
 * delegation to it deleted.  Counts in *grants and *delegs (may be NULL). */
int da_cut(struct dir *d, const char *name, int *grants, int *delegs);

/* Change an entry from 'old' (as the verb read it) to the new values, in
 * one Modify under an assertion of the old ones: NHI_ERR_CONFLICT when
 * another writer changed them meanwhile, NHI_ERR_NOTFOUND when it is
 * gone (nothing changed either way).  A resource: kind, URI, owner, data
 * class, external, purpose; a grant: actions, scopes, expiry; a
 * delegation: those and the reason. */
int da_resource_modify(struct dir *d, const struct da_resource *old, const struct da_resource *r);
int da_grant_modify(struct dir *d, const struct da_grant *old, const struct da_grant *g);
int da_deleg_modify(struct dir *d, const struct da_deleg *old, const struct da_deleg *g);

/* ---- many entries ------------------------------------------------------ */

/* Called with each converted entry (t says which struct 'entry' is), or
 * with entry NULL and why ("DN: what is wrong") for one that does not
 * convert.  0 to go on, or a negative NHI_ERR_* to stop. */
typedef int (*da_fn)(void *ctx, enum da_type t, const void *entry, const char *why);
/* One search result entry: a resource, grant or delegation is converted
 * and handed to fn; any other entry is skipped (0). */
int da_convert(struct dir *d, LDAPMessage *e, da_fn fn, void *ctx);
/* Every entry 'filter' finds below base (scope), through da_convert. */
int da_each(struct dir *d, const char *base, int scope, const char *filter, da_fn fn, void *ctx);
/* The grants of identity 'ident' bound to credential cred_id. */
int da_cred_grants(struct dir *d, const char *ident, const char *cred_id, da_fn fn, void *ctx);
/* The grants and delegations of identity 'name' and the delegations to it. */
int da_ident_edges(struct dir *d, const char *name, da_fn fn, void *ctx);
/* The entries a change of reach checks (store.h: reach_lock), each search
 * bounded by a DN or an equality on an indexed attribute, never a read of
 * all: resource 'name' (with grants: and every grant on it); the grants
 * of identity 'ident' (on resource 'resource' only, unless NULL); the
 * delegations from identity 'from'; those to identity 'to'.  What is not
 * there is no entry (0); any name is looked up (escaped), none refused. */
int da_resource_entries(struct dir *d, const char *name, int grants, da_fn fn, void *ctx);
int da_ident_grants(struct dir *d, const char *ident, const char *resource, da_fn fn, void *ctx);
int da_delegs_from(struct dir *d, const char *from, da_fn fn, void *ctx);
int da_delegs_to(struct dir *d, const char *to, da_fn fn, void *ctx);
#define DA_ACCESS_FILTER "(|(objectClass=nhiResource)(objectClass=nhiGrant)" \
	"(objectClass=nhiDelegation))"

/* The DN of a converted entry (for messages).  0 or NHI_ERR_*. */
int da_dn_of(struct dir *d, enum da_type t, const void *entry, char *out, size_t len);

/* "read,write" for the bits (buf of at least 24 bytes). */
const char *da_actions_str(int actions, char *buf, size_t len);

#endif

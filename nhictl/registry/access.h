/* access.h - reach (issue 14): resources, grants and delegations as
 * registry rows (tables resource, access, delegation of migration 6 -> 7;
 * docs/design.md "The registry's model").
 *
 *   resource     a downstream system identities reach: an API, database,
 *                host, queue, bucket, SaaS tenant, MCP server; a live
 *                human owner, as an identity has
 *   grant        identity -> resource with actions (and scopes), optionally
 *                bound to one of the identity's credentials: then it ends
 *                with that credential (revoked, expired, grace ended) and a
 *                rotation carries it to the replacement
 *   delegation   identity FROM may act through identity TO; its actions
 *                are a LIMIT on what FROM gets through TO (15 = no limit)
 *
 * Every grant and delegation expires (grant_lifetime / grant_max_lifetime,
 * delegation_lifetime / delegation_max_lifetime in nhi.conf), never after
 * either identity (nor the bound credential).  Chains are computed, never
 * stored (the query verbs).
 *
 * Actions are bits, written as a comma list in this order: "read,write".
 * The functions here are the registry layer: no printing except the
 * loaders' SQLite errors (reg_dberr), 0 or a negative NHI_ERR_*.
 */
#ifndef NHICTL_ACCESS_H
#define NHICTL_ACCESS_H

#include "registry.h"

#define NHI_ACT_READ  1
#define NHI_ACT_WRITE 2
#define NHI_ACT_EXEC  4
#define NHI_ACT_ADMIN 8
#define NHI_ACT_ALL   15
/* "read,write,exec,admin" and its NUL */
#define ACT_BUFSZ 24

/* "read,write" (any order, each once at most) into bits.  0, or
 * NHI_ERR_FORMAT for an empty list, an unknown or repeated word (*bad, if
 * not NULL, points at the first bad word in s). */
int access_actions_parse(const char *s, unsigned *out, const char **bad);
/* The bits as "read,write" (in the order read, write, exec, admin; "" for
 * 0); returns buf. */
const char *access_actions_format(unsigned actions, char *buf, size_t len);

/* The data classes of a resource, least to most sensitive. */
#define DATA_CLASSES "public, internal, confidential, pii or secret"
int data_class_valid(const char *s);

#define RES_NAME_MAX 64
#define RES_KIND_MAX 32
#define RES_URI_MAX  1024
#define RES_TEXT_MAX 256      /* purpose, reason */
#define SCOPES_MAX   1024     /* comma-separated, each a printable word */
#define UUID_MAX     64

struct resource_row {
	int64_t id;                          /* registry row; 0 before it is stored */
	char name[RES_NAME_MAX];
	char kind[RES_KIND_MAX];             /* free text: api, database, host, queue, mcp ... */
	char uri[RES_URI_MAX];
	char owner[64];                      /* the owner's user name */
	char owner_dn[1024];                 /* its DN (ldap), "" local */
	char owner_id[64];                   /* uid (local) or entryUUID (ldap), "" unknown */
	char data_class[16];                 /* DATA_CLASSES */
	int external;                        /* outside the organisation */
	char purpose[RES_TEXT_MAX + 8];
	int64_t created, orphaned_since;
	int managed;                         /* written by the directory (ldap): sync owns it */
	char entry_uuid[UUID_MAX];           /* the directory entry's, "" local */
	char labels[LABELS_BUFSZ];           /* "k=v,k=v" sorted (labels.c), "" none */
	int applied;                         /* managed by `nhictl apply`: --prune may remove it */
};

struct access_row {                      /* a grant */
	int64_t id;                          /* registry row; 0 before it is stored */
	int64_t identity_id, resource_id;    /* registry rows */
	int64_t credential_id;               /* credential row; 0: the identity's own */
	char identity[64];                   /* its name */
	char resource[RES_NAME_MAX];         /* its name */
	char cred[CRED_ID_MAX];              /* the bound credential's id, "" none */
	unsigned actions;                    /* NHI_ACT_* bits, 1..15 */
	char scopes[SCOPES_MAX];             /* comma-separated, "" none */
	int64_t created, expires;
	int managed;
	char entry_uuid[UUID_MAX];
	int applied;                         /* managed by `nhictl apply`: --prune may remove it */
};

struct delegation_row {
	int64_t id;                          /* registry row; 0 before it is stored */
	int64_t from_id, to_id;              /* identity rows */
	char from[64], to[64];               /* their names */
	unsigned actions;                    /* the limit, 1..15 (15: none) */
	char scopes[SCOPES_MAX];
	char reason[RES_TEXT_MAX + 8];
	int64_t created, expires;
	int managed;
	char entry_uuid[UUID_MAX];
	int applied;                         /* managed by `nhictl apply`: --prune may remove it */
};

/* ---- loading (the verbs; ldap's read-back) ---- */

/* Resource NAME: 0, NHI_ERR_NOTFOUND (not printed) or NHI_ERR_DB. */
int resource_load(struct nhictl *x, const char *name, struct resource_row *r);
/* The grant of identity row 'ident' on resource row 'res' bound to
 * credential row 'cred' (0: the identity's own): 0, NHI_ERR_NOTFOUND (not
 * printed) or NHI_ERR_DB. */
int grant_load(struct nhictl *x, int64_t ident, int64_t res, int64_t cred,
	       struct access_row *g);
/* The delegation FROM -> TO (identity rows): 0, NHI_ERR_NOTFOUND or NHI_ERR_DB. */
int delegation_load(struct nhictl *x, int64_t from, int64_t to, struct delegation_row *d);

/* SELECT lists and row readers, for loops over many rows:
 *   SELECT RESOURCE_COLS FROM resource r ...
 *   SELECT GRANT_COLS FROM GRANT_FROM ...        (a = access, i = identity,
 *                                                 r = resource, c = credential)
 *   SELECT DELEGATION_COLS FROM DELEGATION_FROM ... (d, f = from, t = to) */
#define RESOURCE_COLS "r.id, r.name, r.kind, r.uri, r.owner, r.owner_dn, r.owner_id, " \
	"r.data_class, r.external, r.purpose, r.created, r.orphaned_since, r.managed, r.entry_uuid, " \
	"r.labels, r.applied"
#define RESOURCE_NCOLS 16         /* the first column a query adds after them */
#define GRANT_COLS "a.id, a.identity_id, a.resource_id, IFNULL(a.credential_id, 0), i.name, " \
	"r.name, IFNULL(c.cred_id, ''), a.actions, a.scopes, a.created, a.expires, a.managed, " \
	"a.entry_uuid, a.applied"
#define GRANT_NCOLS 14
#define GRANT_FROM "access a JOIN identity i ON i.id = a.identity_id " \
	"JOIN resource r ON r.id = a.resource_id LEFT JOIN credential c ON c.id = a.credential_id"
#define DELEGATION_COLS "d.id, d.from_id, d.to_id, f.name, t.name, d.actions, d.scopes, " \
	"d.reason, d.created, d.expires, d.managed, d.entry_uuid, d.applied"
#define DELEGATION_NCOLS 13
#define DELEGATION_FROM "delegation d JOIN identity f ON f.id = d.from_id " \
	"JOIN identity t ON t.id = d.to_id"
void resource_from_row(sqlite3_stmt *st, struct resource_row *r);
void grant_from_row(sqlite3_stmt *st, struct access_row *g);
void delegation_from_row(sqlite3_stmt *st, struct delegation_row *d);

/* ---- writing the rows (store_local; store_ldap after the directory) ----
 * In the current transaction; 0 or NHI_ERR_DB (printed).  The *_put
 * functions insert, or update the row of the same key (resource: name;
 * grant: identity, resource, credential; delegation: from, to) with every
 * other column of the struct, and set ->id to the row.  entry_uuid ""
 * is stored as NULL. */
int resource_put(struct nhictl *x, struct resource_row *r);
int resource_delete(struct nhictl *x, int64_t id);
int grant_put(struct nhictl *x, struct access_row *g);
int grant_delete(struct nhictl *x, int64_t id);
int delegation_put(struct nhictl *x, struct delegation_row *d);
int delegation_delete(struct nhictl *x, int64_t id);
/* Rotation: the grants bound to credential row 'old' now bound to 'new'
 * (store's rot_finish, rot_forward); *n counts them (NULL: not wanted). */
int grant_carry(struct nhictl *x, int64_t old, int64_t new_row, int *n);

#endif

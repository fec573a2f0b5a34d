/* chain.h - delegation chains, computed from the registry (issue 14).
 *
 * chain_load() reads the identity, delegation, access (grant), resource
 * and credential tables once, with one query each, into memory; the walks
 * then run without SQL.  Nothing is written.
 *
 * A path starts at an identity (the actor), follows zero or more
 * delegations (actor -> ... -> grantee) and ends with one of the
 * grantee's grants (optionally bound to one of its credentials) on a
 * resource.  Its actions are the grant's & every delegation's limit; its
 * expiry the earliest of every identity, delegation, the grant and the
 * credential on it (0: none of them expires).  It is cut at the first
 * identity that is suspended, retired, orphaned or expired, the first
 * expired delegation, an expired grant, or a credential revoked, expired
 * or past its grace (chain_cut says where and why).  A walk never enters
 * an identity twice on one path: a delegation back to one already on it
 * is a cycle, reported once (chain_cycle_fn), and not followed.
 */
#ifndef NHI_CHAIN_H
#define NHI_CHAIN_H

#include <stdint.h>
#include "registry.h"

#include "access.h"       /* NHI_ACT_* */

#define CHAIN_MAX_DEPTH 16       /* identities on one path */
#define CHAIN_MAX_PATHS 200000   /* paths one walk reports at most */

struct ch_ident {
	int64_t id, expires;
	char *name, *owner;
	char kind[8], state[12];
	int out, n_out;          /* delegations from it: g->del[out .. out+n_out) */
	int in, n_in;            /* delegations to it: g->del_in[in .. in+n_in) */
	int grants, n_grants;    /* its grants: g->grant[grants ..) */
	int on_path;             /* walk state */
	int keep;                /* graph: in the picture */
};

struct ch_resource {
	int64_t id;
	char *name, *kind, *uri, *owner;
	char data_class[16];
	int external, orphaned;
	int grants, n_grants;    /* its grants: g->grant_in[grants ..) */
	int keep;
};

struct ch_cred {
	int64_t id, not_after, grace_until;
	int ident;               /* holder, index into g->ident */
	char cred_id[CRED_ID_MAX], kind[16], state[12];
	int keep;
};

struct ch_del {
	int64_t id, expires;
	int from, to;            /* identity indices */
	unsigned actions;
	char *scopes, *reason;   /* "" unless loaded with CHAIN_DEL_TEXT */
};

struct ch_grant {
	int64_t id, expires;
	int ident, resource;     /* indices */
	int cred;                /* index into g->cred, -1: the identity's own */
	unsigned actions;
	char *scopes;
};

struct chain_graph {
	time_t now;
	struct ch_ident *ident;
	struct ch_resource *res;
	struct ch_cred *cred;
	struct ch_del *del;
	struct ch_grant *grant;
	int n_ident, n_res, n_cred, n_del, n_grant;
	int *del_in;             /* delegation indices by to */
	int *grant_in;           /* grant indices by resource */
	/* cycles reported so far (each as its sorted delegation indices) */
	int **cycles;
	int n_cycles, cap_cycles;
	long paths;              /* reported by the current walk */
	int truncated;           /* a walk stopped at CHAIN_MAX_PATHS */
};

/* chain_load flags */
#define CHAIN_ALL_CREDS 1        /* every credential (graph), not only those of grants */
#define CHAIN_DEL_TEXT 2         /* delegations' scopes and reason (graph); else "" */

struct chain_path {
	int n;                           /* identities: id[0] actor .. id[n-1] grantee */
	int id[CHAIN_MAX_DEPTH];
	int del[CHAIN_MAX_DEPTH];        /* del[i]: id[i] -> id[i+1] */
	int grant;
	unsigned actions;                /* effective */
	int64_t expires;                 /* earliest on the path, 0 = never */
};

/* Where and why a path is cut.  kind: CUT_NONE (live), CUT_IDENT (at
 * identity 'at'), CUT_DEL (delegation 'at'), CUT_GRANT, CUT_CRED. */
enum { CUT_NONE = 0, CUT_IDENT, CUT_DEL, CUT_GRANT, CUT_CRED };
struct chain_cut {
	int kind, at;
	const char *why;         /* "suspended", "expired", "revoked", ... */
};

/* 0, or NHI_ERR_* (printed). */
int chain_load(struct nhictl *x, struct chain_graph *g, int flags);
void chain_free(struct chain_graph *g);
/* An index, or -1. */
int chain_ident(const struct chain_graph *g, const char *name);
int chain_resource(const struct chain_graph *g, const char *name);

/* Called for each path; a nonzero return stops the walk with it. */
typedef int (*chain_path_fn)(const struct chain_graph *g, const struct chain_path *p, void *arg);
/* Called once for each cycle: the identities id[0] -> .. -> id[n-1] -> id[0]. */
typedef void (*chain_cycle_fn)(const struct chain_graph *g, const int *id, int n, void *arg);

/* Every path from identity 'actor' (its own grants and through delegations). */
int chain_reach(struct chain_graph *g, int actor, chain_path_fn fn, chain_cycle_fn cyc, void *arg);
/* Every path that ends on resource 'res' (whoever the actor). */
int chain_who(struct chain_graph *g, int res, chain_path_fn fn, chain_cycle_fn cyc, void *arg);

void chain_cut(const struct chain_graph *g, const struct chain_path *p, struct chain_cut *c);
/* Why one element is unusable on its own ("" if it is usable). */
const char *chain_ident_cut(const struct chain_graph *g, int i);
const char *chain_del_cut(const struct chain_graph *g, int d);
const char *chain_grant_cut(const struct chain_graph *g, int gr);
const char *chain_cred_cut(const struct chain_graph *g, int c);

#endif

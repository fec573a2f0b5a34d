/* audit_checks.h - the checks `audit` runs after the owners are
 * re-evaluated and usage ingested: each reports findings (finding.h)
 * about one part of what nhi knows, or about the host.  They are listed,
 * in the order they run, in checks[] of cmd_audit.c; each lives with the
 * verbs of its data (or in its own audit_*.c) and returns 0 or a negative
 * NHI_ERR_* (printed).  They read the registry; none writes to it.
 */
#ifndef NHICTL_AUDIT_CHECKS_H
#define NHICTL_AUDIT_CHECKS_H

#include "finding.h"

struct audit_ctx {
	struct findings *f;
	const char *root;       /* the host tree the host checks scan ("" = /) */
	int host;               /* 0: --no-host, skip the host checks */
};

/* identities: expired, review overdue, orphaned, suspended, never used (cmd_audit.c) */
int audit_identities(struct nhictl *x, struct audit_ctx *a);
/* resources whose owner left (cmd_resource.c) */
int audit_resources(struct nhictl *x, struct audit_ctx *a);
/* the registry's access and credentials (audit_registry.c) */
/* NHI1-EXPIRED-ACCESS: expired, still holding credentials, grants, delegations */
int audit_expired_access(struct nhictl *x, struct audit_ctx *a);
/* NHI1-STALE: not used for longer than stale_after */
int audit_stale(struct nhictl *x, struct audit_ctx *a);
/* NHI3-EXTERNAL-LONG-GRANT, NHI3-EXTERNAL-OWNER-LEFT */
int audit_external(struct nhictl *x, struct audit_ctx *a);
/* NHI4-PASSWORD-WITH-KEY */
int audit_password_with_key(struct nhictl *x, struct audit_ctx *a);
/* NHI5-OVER-CAP */
int audit_over_cap(struct nhictl *x, struct audit_ctx *a);
/* NHI5-WIDENING: paths through delegations (registry/chain.h) */
int audit_widening(struct nhictl *x, struct audit_ctx *a);
/* NHI7-CRED-OLD, NHI7-CRED-NO-EXPIRY, NHI7-NOT-ROTATED */
int audit_cred_age(struct nhictl *x, struct audit_ctx *a);
/* NHI8-CROSS-ENV: an identity reaching resources of different env labels,
 * or labelled env=X and reaching env=Y; one hop of delegation (audit_env.c) */
int audit_env(struct nhictl *x, struct audit_ctx *a);
/* NHI9: usage outside an identity's hosts or services (audit_usage.c) */
int audit_out_of_scope(struct nhictl *x, struct audit_ctx *a);
/* NHI9: an identity delegated to by identities of different owners (audit_usage.c) */
int audit_shared(struct nhictl *x, struct audit_ctx *a);
/* NHI9-DIR-CONFLICT: directory entries sync's conflict rule holds back
 * (backend = ldap; dirstore.h), each entry of each pair (audit_registry.c) */
int audit_dir_conflict(struct nhictl *x, struct audit_ctx *a);
/* NHI10: the human uses pam_nhi recorded (audit_usage.c) */
int audit_human_use(struct nhictl *x, struct audit_ctx *a);

/* the host: the scan of 'nhictl discover' (root a->root), its leaks and
 * the artefacts of registered identities (cmd_discover.c) */
int audit_host(struct nhictl *x, struct audit_ctx *a);

/* Every check of checks[] (cmd_audit.c), in order: what audit reports
 * after its own changes, and all that `report` runs (it writes nothing).
 * 0 or the first check's negative NHI_ERR_*. */
int audit_checks_run(struct nhictl *x, struct audit_ctx *a);

/* Not a check: audit's step for stale_action = suspend (audit_registry.c),
 * in audit's transaction before its commit: suspends the active stale
 * identities through the store, each with a 'suspend' event; their names
 * into j's open array (NULL: "suspended now: NAME" lines); *n counts them. */
int audit_stale_suspend(struct nhictl *x, struct json *j, int *n);

#endif

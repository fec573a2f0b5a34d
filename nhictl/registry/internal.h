/* internal.h - what the files of registry/ share and nothing above them
 * uses.  Within the layer calls go one way: db.c at the bottom; audit.c,
 * ident.c, cred.c, usage.c, access.c, snapdeleg.c over it; regstate.c
 * over audit.c; schema.c (opening), verify.c and publish.c on top.
 */
#ifndef NHICTL_REGISTRY_INTERNAL_H
#define NHICTL_REGISTRY_INTERNAL_H

#include <openssl/evp.h>
#include "registry.h"

/* no full publication is queued (schema.c's triggers, publish.c) */
#define SNAP_NO_FULL "NOT EXISTS (SELECT 1 FROM snap_pending WHERE name = '')"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* One statement without values (BEGIN, COMMIT, PRAGMA, a migration), with
 * the crash points around COMMIT.  0 or NHI_ERR_DB (printed). */
int reg_exec_plain(struct nhictl *x, const char *sql);
/* A meta value into buf.  0, NHI_ERR_NOTFOUND or NHI_ERR_DB. */
int reg_meta_get(struct nhictl *x, const char *key, char *buf, size_t len);
/* An event's hash (hex) from its fields and the previous hash. */
int reg_event_hash(int64_t id, int64_t ts, const char *actor, const char *action,
		   const char *target, const char *outcome, const char *detail,
		   const char *prev, char out[65]);

#endif

/* registry.h - registry.db: opening it and its schema (schema.c),
 * statements and transactions (db.c), the hash-chained audit log
 * (audit.c, verify.c), publishing the snapshot (publish.c, snapdeleg.c);
 * what must outlive registry.db (regstate.c); identity and credential rows
 * (ident.c, cred.c) with the key index and password file they publish;
 * pam_nhi's usage records (usage.c).
 *
 * Below the verbs and the store: every function prints its own message
 * and returns 0 or a negative NHI_ERR_*; nothing here knows a backend
 * or the directory (tests/layers.mk links this folder alone).
 */
#ifndef NHICTL_REGISTRY_H
#define NHICTL_REGISTRY_H

#include <sqlite3.h>
#include "util.h"

/* ---- schema.c, db.c, audit.c, verify.c, publish.c ------------------ */

int reg_open(struct nhictl *x);
void reg_close(struct nhictl *x);
int reg_begin(struct nhictl *x);          /* BEGIN IMMEDIATE */
int reg_commit(struct nhictl *x);         /* bump generation, COMMIT, publish */
void reg_rollback(struct nhictl *x);
/* Commit without publishing (the rotation journal's own steps). */
int reg_commit_journal(struct nhictl *x);
/* Run one statement with bound values; 'types' has one letter per '?':
 * 's' const char * (NULL = NULL), 'i' int64_t, 'u' uint32_t.  Returns 0 or
 * NHI_ERR_DB (after printing the SQLite message). */
int reg_exec(struct nhictl *x, const char *sql, const char *types, ...);
/* Prepare with the same binding; NULL on error (printed). */
sqlite3_stmt *reg_prep(struct nhictl *x, const char *sql, const char *types, ...);
/* The same, from a cache of prepared statements kept until reg_close():
 * for a query run very often (once per identity) by a caller that never
 * has two of it open at once.  Give it back with reg_release() (not
 * sqlite3_finalize). */
sqlite3_stmt *reg_prep_cached(struct nhictl *x, const char *sql, const char *types, ...);
void reg_release(sqlite3_stmt *st);
/* A single integer answer of a query (or 'dflt' when there is no row). */
int reg_int(struct nhictl *x, int64_t *out, int64_t dflt, const char *sql, const char *types, ...);
int reg_dberr(struct nhictl *x);          /* print sqlite3_errmsg; NHI_ERR_DB */
/* Append an audit event in the current transaction (hash chained). */
int reg_event(struct nhictl *x, const char *action, const char *target,
	      const char *outcome, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* The same with another actor and time: an event recovered from an
 * intent (intent.c) is the killed run's, when it ran. */
int reg_event_as(struct nhictl *x, const char *actor, int64_t ts, const char *action,
		 const char *target, const char *outcome, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* Recompute the chain; 0 if intact, else NHI_ERR_FORMAT with the first bad
 * row named in 'why' (NHI_ERR_STATE: it does not reach the head the state
 * file recorded; NHI_ERR_DB, NHI_ERR_IO: the database or the state file
 * could not be read, said on stderr).  *n receives the number of events
 * checked. */
int reg_verify_log(struct nhictl *x, int64_t *n, char *why, size_t len);
/* Compile registry.db into the snapshot and publish it: a delta
 * (nhi.cache.delta) with what changed since the last full snapshot while
 * that stays within snapshot_delta_max, else (or with 'full') a full one
 * and an empty delta. */
int reg_publish(struct nhictl *x, int full, uint64_t *generation);
/* The delegation edges of a full snapshot into w (snapdeleg.c). */
int reg_snap_delegations(struct nhictl *x, struct nhi_snap_writer *w);
/* Publish when the snapshot readers see is missing, unusable or older
 * than the registry (a run killed between its commit and its
 * publication); outside a transaction. */
int reg_publish_behind(struct nhictl *x);
/* In a write transaction about to change many identities: the next
 * publication is full, and until then nothing is recorded per identity. */
int reg_snap_full(struct nhictl *x);

/* ---- intent.c: the intent journal (backend = ldap) ----------------- */

/* A change announced before it is written to the directory, as its row. */
struct intent {
	int64_t id, started, pid;
	char action[32];             /* the audit event's action: create, retire, ... */
	char target[256];            /* and its target */
	char kind[24];               /* what is written: ident-add, ident-update, ... */
	char key[1024];              /* what shows it in the directory (store_ldap.c) */
	char change[512];            /* the change, for the recovered event */
	char actor[96], reason[256], pid_start[32];
};
/* Record an intent durably before a directory write: the row inserted
 * and the open transaction committed with it (a generation bump first
 * when the transaction changed rows, so that a kill before the verb's own
 * commit leaves a snapshot the next run sees behind), then a transaction
 * begun again when one was open.  The run keeps it pending (x->intents);
 * reg_event deletes it, in its transaction, when an event of the same
 * action and target is written, and reg_commit with the commit.  0 or
 * NHI_ERR_*. */
int reg_intent(struct nhictl *x, const char *action, const char *target, const char *kind,
	       const char *key, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* The write just announced failed.  Refused by the directory (nothing
 * changed): the intent is deleted when the verb rolls back (reg_rollback)
 * or commits.  Unanswered (x->write_unsure: a timeout, the connection
 * lost; it may have landed): said on stderr, and the intent is left to
 * the next run's recovery, which asks the directory. */
void reg_intent_void(struct nhictl *x);
/* In the current transaction: delete the run's pending intents (all of
 * them, or with 'action' the innermost of that action and target).
 * publish.c and audit.c call it; reg_rollback (db.c) deletes the
 * refused ones (autocommit) and leaves the others for the next run. */
int reg_intent_clear(struct nhictl *x, const char *action, const char *target);
/* The intents whose run is gone (not a live process with its pid and
 * start time): *v a heap array of *n (free() it), the oldest run's
 * first, and of one run the innermost first (a grant removal of a
 * retire's cascade before the retire, which finishes the cascade). */
int reg_intents_stale(struct nhictl *x, struct intent **v, size_t *n);

/* ---- regstate.c: what must outlive registry.db -------------------- */

struct reg_state {
	int present;             /* the state file exists */
	int64_t id_high;         /* the highest id alloc_id() handed out */
	int64_t log_count;       /* events in the audit chain when written */
	char log_head[65];       /* the hash of event log_count */
	int64_t generation;      /* the snapshot generation published */
};
/* registry_path with .db replaced by .state */
int regstate_path(struct nhictl *x, char *buf, size_t len);
/* 0 (s->present = 0 when there is none) or NHI_ERR_* (printed). */
int regstate_load(struct nhictl *x, struct reg_state *s);
int regstate_save(struct nhictl *x, const struct reg_state *s);
/* reg_open(): note the chain's length. */
int regstate_opened(struct nhictl *x);
/* NHI_ERR_STATE (why says what is lost) when the chain does not hold the
 * recorded head. */
int regstate_check_log(struct nhictl *x, const struct reg_state *s, char *why, size_t len);
/* In the publication's transaction: load the state, raise the registry's
 * id_high to it, record a lost head as a 'log-gap' event. */
int regstate_reconcile(struct nhictl *x, struct reg_state *s);
/* The values to save, from the registry as of this transaction. */
int regstate_fill(struct nhictl *x, struct reg_state *s, int64_t generation);
/* registry.db is missing or empty (how: "missing", "empty (0 bytes)"):
 * 0 if it may be created, else NHI_ERR_STATE (printed: what is missing,
 * what exists, what to do). */
int regstate_missing(struct nhictl *x, const char *how);

/* ---- ident.c: identities as rows --------------------------------- */

#define IDENT_COLS "id, name, kind, state, gecos, home, shell, owner, purpose, " \
	"retire_reason, uid, gid, created, expires, review_interval, last_review, " \
	"review_due, orphaned_since, retired_at, last_used, labels, applied"
#define IDENT_NCOLS 22            /* columns a query adds after IDENT_COLS start here */
/* Copy text column i of a row into dst ("" for NULL), truncating. */
void col_cpy(char *dst, size_t len, sqlite3_stmt *st, int i);
/* Fill from a row selected with IDENT_COLS, then its hosts and services. */
int ident_from_row(struct nhictl *x, sqlite3_stmt *st, struct ident *id);
/* 0, NHI_ERR_NOTFOUND or NHI_ERR_DB. */
int ident_load(struct nhictl *x, const char *name, struct ident *id);
/* In the current transaction: identity 'name' leaves the registry (a
 * release), with its credentials and their rotations; its hosts,
 * services, usage, grants and delegations cascade, the snapshot gets a
 * tombstone (the snap_pending trigger).  0 or NHI_ERR_DB. */
int ident_unregister(struct nhictl *x, const char *name);
/* A live human owner: resolves through NSS, is not a service account
 * (configuration or registry), not locked, not expired.  0 or NHI_ERR_*
 * with the reason in why. */
int owner_live(struct nhictl *x, const char *owner, char *why, size_t len);
/* The same, and the owner's uid when NSS knows the name (*have_uid).  The
 * host's answers are kept per owner for the life of the process. */
int owner_live_uid(struct nhictl *x, const char *owner, uid_t *uid, int *have_uid,
		   char *why, size_t len);
/* Lowest id in uid_min..uid_max free as uid and gid everywhere. */
int alloc_id(struct nhictl *x, uint32_t *out);
/* 1 if 'id' is unused as uid/gid in the registry and through NSS. */
int id_free(struct nhictl *x, uint32_t id);

/* ---- usage.c: usage records ---------------------------------------- */

/* Ingest usage_log (renamed to usage_log.ingest first; its path is left in
 * ingest_path, "" when there was nothing) into identity.last_used and the
 * usage table, in the current transaction.  Unlink ingest_path after the
 * commit.  0 or NHI_ERR_* (printed). */
int usage_ingest(struct nhictl *x, char *ingest_path, size_t plen, long *records, long *bad);
/* Append a record of a credential's use ("EPOCH USER - HOST - cred=ID",
 * cred verify) to usage_log, as pam_nhi appends its own; ingested with
 * them.  0, or NHI_ERR_* (not printed: a caller that may not write
 * usage_log, not root, verifies all the same). */
int usage_append(struct nhictl *x, const char *user, const char *cred_id);

/* ---- cred.c: credentials as rows, the key index, the password file -- */

#define CRED_COLS "c.id, c.identity_id, c.cred_id, c.kind, c.state, c.fingerprint, " \
	"c.serial, c.replaces, c.public_part, c.secret_hash, c.created, c.not_after, " \
	"c.grace_until, c.revoked_at, c.last_used, " \
	"EXISTS (SELECT 1 FROM rotation r WHERE r.credential_id = c.id AND r.state = 'pending'), " \
	"c.use_count"
void cred_from_row(sqlite3_stmt *st, struct cred *c);
/* 0, NHI_ERR_NOTFOUND (message printed) or NHI_ERR_DB. */
int cred_load(struct nhictl *x, const struct ident *id, const char *cred_id, struct cred *c);
/* Insert the new credential as active (in the current transaction). */
int cred_insert(struct nhictl *x, const struct ident *id, const struct newcred *n,
		const char *replaces);
/* Revoke every credential of an identity and cancel its pending
 * rotations (retire); *n counts the revoked ones. */
int cred_revoke_all(struct nhictl *x, const struct ident *id, int *n);
/* Write the public-key index for `nhictl authorized-keys` (0644,
 * atomically), from the registry as of this (read) transaction. */
int keyidx_write(struct nhictl *x, uint64_t generation);
/* The generation the key index names, or -1. */
int64_t keyidx_generation(struct nhictl *x);
/* Write the password file nhi.shadow (0600 root, atomically; see
 * nhi_pwhash.h), with the key index: the same triggers mark both out of
 * date.  pwfile_generation: the generation it names, or -1. */
int pwfile_write(struct nhictl *x, uint64_t generation);
int64_t pwfile_generation(struct nhictl *x);

#endif

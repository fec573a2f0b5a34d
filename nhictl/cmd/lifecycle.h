/* lifecycle.h - what the joiner, mover and leaver verbs share
 * (lifecycle.c); private to cmd_joiner.c, cmd_mover.c, cmd_leaver.c.
 *
 * Every change is one transaction holding the change and its audit event,
 * followed by publishing the snapshot.  Asking for the state an identity is
 * already in (suspend a suspended one, retire a retired one, extend to the
 * same expiry, transfer to the current owner) changes nothing: a message,
 * exit 0, no audit event, no republish ("--changed-exit N" tells them apart).
 * These return exit codes (the verbs' edge).
 */
#ifndef NHICTL_LIFECYCLE_H
#define NHICTL_LIFECYCLE_H

#include "cmd.h"

/* What the answer adds, set by a verb before it prints anything: with
 * suspend and retire what the identity has on this host (reach.c), its
 * processes stopped with --terminate; with extend the expiry before, for
 * "previous_expires" and "shortened". */
struct lc_report {
	int on, terminate, files;
	int64_t extend_from;
};
extern struct lc_report lc_report;

/* ---- what create (and adopt) check, shared with modify ---------------- */

#define MAX_SCOPE 64
/* --host / --service V appended to arr (at most MAX_SCOPE); 0 or EXIT_USAGE. */
int scope_add(struct nhictl *x, const char **arr, int *n, const char *v, int host);
/* --review-every DUR: a positive duration; 0 or EXIT_USAGE. */
int review_every_parse(struct nhictl *x, const char *s, int64_t *interval);
/* --purpose TEXT (NULL: none given): 0 or EXIT_USAGE. */
int purpose_check(struct nhictl *x, const char *purpose);
/* The gecos a purpose gives an identity made by nhictl: the purpose where
 * it is safe in passwd (no ':' or ','), else "".  Points into purpose or
 * is "". */
const char *purpose_gecos(const char *purpose);
/* The gecos that follows id's new purpose, or NULL to leave it: a gecos
 * not the one its old purpose gave (adopted, set by hand) stays. */
const char *gecos_follow(const struct ident *id, const char *purpose);

/* The owner: a live human through the store (a user name, or with ldap a
 * DN); 'name' gets the user name, 'dn' the DN ("" local). */
int check_owner(struct nhictl *x, const char *owner, char *name, size_t name_len,
		char *dn, size_t dn_len);
/* create, adopt, transfer: nobody owns themselves */
int not_self(struct nhictl *x, const char *name, const char *owner);
/* Print 'line' (or the identity as JSON), with the report. */
int answer(struct nhictl *x, const struct ident *id, const char *line);
/* Commit a change already written; print 'line' (or the identity as JSON). */
int done_line(struct nhictl *x, const char *name, const char *line);
/* The same with "NAME: msg". */
int done(struct nhictl *x, const char *name, const char *msg);
/* The change is written (an open transaction), but what follows failed:
 * roll back (the store says when the directory was changed already). */
int not_stored(struct nhictl *x);

/* ---- verbs on one existing identity ---------------------------------- */

struct one {
	const char *help;
	const char *name;
	const char *expires, *reason, *to;
	int terminate_ok, terminate;   /* --terminate (suspend, retire) */
};
/* Options shared by the one-identity verbs: --help (-1 after printing it),
 * --json and the one value option the verb takes ('e' expires, 'r'
 * reason, 't' to); then NAME. */
int parse_one(struct nhictl *x, int argc, char **argv, struct one *o, int want);
/* The identity as it is now (the store's truth).  0 or an exit code. */
int fetch(struct nhictl *x, const char *name, struct ident *id);
/* Write the change through the store, then the audit event ('detail' and
 * the store's tag), commit, and the answer ("NAME: msg"). */
int apply(struct nhictl *x, const struct ident *id, struct store_change *c,
	  const char *action, const char *detail, const char *msg);
/* "NAME: what (nothing changed)" */
int unchanged(struct nhictl *x, const struct ident *id, const char *what);
int not_retired(struct nhictl *x, const struct ident *id);
/* suspend, resume, retire: the state change with its audit text */
int set_state(struct nhictl *x, struct ident *id, const char *state, const char *action,
	      const char *detail);

/* create, adopt, apply: write the new identity, its owner's id and the
 * audit event in the open transaction; 0 or NHI_ERR_* (printed; rolled
 * back through the store's abort). */
int ident_add_audited(struct nhictl *x, const struct store_new *n, struct ident *got);
/* retire, apply --prune: retire id (not retired) with its credentials,
 * grants and delegations, one audit event, in the open transaction (not
 * committed); 0 or NHI_ERR_* (printed, rolled back). */
int ident_retire(struct nhictl *x, const struct ident *id, const char *reason);

#endif

/* cmd_reach.h - what the reach verbs share (cmd_resource.c: resource;
 * cmd_grant.c: grant, delegate): one option parser, the sub-command
 * table, the checks of names and values, and the retire cascade.
 */
#ifndef NHICTL_CMD_REACH_H
#define NHICTL_CMD_REACH_H

#include "cmd.h"
#include "access.h"

#define REACH_SCOPES_MAX 32

/* The options and arguments of one sub-command, as given. */
struct reach_args {
	const char *arg[2];          /* positional arguments after the sub-command */
	int narg;
	const char *kind, *uri, *owner, *data_class, *purpose;
	const char *actions, *cred, *expires, *reason, *resource;
	const char *scopes[REACH_SCOPES_MAX];
	int nscopes;
	const char *label[LABELS_MAX];   /* --label KEY=VALUE (checked as given) */
	int nlabel;
	int external;                /* -1 not given, 0 --external=no, 1 --external */
	int force;
	char given[32];              /* the short letters of the options given */
};

/* A sub-command: its function, how many positional arguments (min..max)
 * and which options (short letters, as in reach_run's table) it takes. */
struct reach_sub {
	const char *name;
	int (*fn)(struct nhictl *x, struct reach_args *a);
	int min, max;
	const char *opts;
};

/* Parse argv (argv[0] the verb), choose the sub-command from the table,
 * refuse an option it does not take, and run it.  The exit code. */
int reach_run(struct nhictl *x, int argc, char **argv, const struct reach_sub *subs, size_t n,
	      const char *help);

/* Checks of the values given (each prints its one line): 0 or EXIT_USAGE. */
int reach_check_ident_name(struct nhictl *x, const char *name);
int reach_check_resource_name(struct nhictl *x, const char *name);
/* The --scope values, sorted and without repeats, into out (comma-separated). */
int reach_check_scopes(struct nhictl *x, const struct reach_args *a, char *out, size_t len);
/* --actions into bits; 'dflt' when not given (0: required). */
int reach_check_actions(struct nhictl *x, const char *s, unsigned dflt, unsigned *out);
/* An expiry for an edge: --expires WHEN (parse: EXIT_USAGE; not in the
 * future or past now + max: EXIT_FAIL naming 'maxkey'), else now + dflt. */
int reach_expiry(struct nhictl *x, const char *when, int64_t dflt, int64_t max,
		 const char *maxkey, int64_t *out);
/* Cap *expires at 'limit' (an identity's expiry, a credential's
 * not-after; 0 = none), with a note on stderr naming 'what' when the
 * expiry was asked for. */
void reach_cap(struct nhictl *x, int64_t *expires, int64_t limit, int asked, const char *what);

/* The identity NAME (checked), registered and, with 'live', not retired;
 * the resource NAME (checked), registered.  0 or an exit code (printed). */
int reach_ident(struct nhictl *x, const char *name, struct ident *id, int live);
int reach_resource(struct nhictl *x, const char *name, struct resource_row *r);

/* A list: the rows of st (finalized here) one by one through 'row', as a
 * JSON array (j given) or text lines under 'header' (j NULL).  The exit code. */
int reach_list(struct nhictl *x, sqlite3_stmt *st, const char *header,
	       void (*row)(struct nhictl *x, sqlite3_stmt *st, struct json *j));

/* [A-Za-z0-9._-] plus 'extra', starting with a letter or digit, at most
 * max: nothing a DN or an LDAP filter gives a meaning to.  1 if so. */
int reach_word_ok(const char *s, size_t max, const char *extra);
/* An identity on an edge (its state and expiry): why it cuts the edge,
 * into why ("" when it does not). */
void reach_ident_cut(struct nhictl *x, const char *name, const char *state, int64_t expires,
		     char *why, size_t len);
/* "live", "expired" or "cut" (why) from the edge's expiry and 'why'. */
const char *reach_edge_state(struct nhictl *x, int64_t expires, char *why, size_t len);
/* The state of a grant or delegation now: "live", "expired" or "cut",
 * with why (the identity, credential ...) in 'why' ("" when live). */
const char *reach_grant_state(struct nhictl *x, const struct access_row *g, char *why,
			      size_t len);

/* The reach of a credential for cred list: its grants as text (one line
 * each, indented) or, with j, a "reaches" array. */
int reach_cred_grants(struct nhictl *x, int64_t cred_row, struct json *j);

/* Retire and release: remove every grant of the identity and every
 * delegation from or to it, through the store, one audit event each
 * ("identity 'NAME' WHAT"), in the open transaction.  The identity is
 * found by name in the registry.  *grants, *delegations count them.
 * 0 or NHI_ERR_*. */
int reach_retire(struct nhictl *x, const struct ident *id, const char *what, int *grants,
		 int *delegations);

/* audit: re-check every resource's owner, in the audit's transaction: a
 * resource whose owner is no longer a live human (or another person under
 * the name) is orphaned (orphaned_since, event resource-orphan; its name
 * into j's open array or a line); one whose same owner is live again
 * comes back (resource-owner-live).  *n counts the changes.  0 or NHI_ERR_*. */
int reach_owner_check(struct nhictl *x, struct json *j, int *n);

/* label --resource NAME: apply the checked KEY=VALUE / KEY- ops to the
 * resource's labels (cmd_resource.c); an exit code. */
int resource_label(struct nhictl *x, const char *name, const char *const *ops, int nops);

/* A resource's URI: 0, or -1 with the reason in why (no spaces, control
 * characters or LDAP filter metacharacters; 1 to RES_URI_MAX - 1 bytes). */
int uri_why(const char *uri, char *why, size_t len);
/* resource add, apply: write r (new when old is NULL, else old's update)
 * with its audit event, in the open transaction.  0 or NHI_ERR_*
 * (printed, rolled back). */
int resource_write(struct nhictl *x, const struct resource_row *old, struct resource_row *r);
/* resource remove --force, apply --prune: remove the resource's grants
 * (each audited, 'why' in the detail) and the resource, in the open
 * transaction; *done counts the grants.  0 or NHI_ERR_* (rolled back). */
int resource_remove_write(struct nhictl *x, const struct resource_row *res, const char *why,
			  int64_t *done);
/* grant add, delegate add, apply: write the edge (new when old is NULL)
 * with its audit event, in the open transaction; the same for removing
 * one ('why' in the detail, "" none).  0 or NHI_ERR_* (printed, rolled
 * back). */
int grant_write(struct nhictl *x, const struct access_row *old, struct access_row *g);
int delegation_write(struct nhictl *x, const struct delegation_row *old, struct delegation_row *d);
int grant_remove_write(struct nhictl *x, const struct access_row *g, const char *why);
int delegation_remove_write(struct nhictl *x, const struct delegation_row *d, const char *why);
/* max_delegations: room for one more from 'from' and to 'to' (registry
 * rows)?  0 or EXIT_FAIL (printed). */
int delegation_room_ids(struct nhictl *x, int64_t from, const char *from_name, int64_t to,
			const char *to_name);

#endif

/* cmd.h - the verbs (one family per cmd_*.c, listed in nhictl.c's table)
 * and what several of them share (common.c: loading and printing an
 * identity, expiry bounds, the orphan limit; credgen.c: issuing a
 * credential and handing it over).  This is the verbs' edge: these may
 * return exit codes (EXIT_FAIL, EXIT_USAGE) as a verb does.
 */
#ifndef NHICTL_CMD_H
#define NHICTL_CMD_H

#include "store.h"

/* ---- common.c ------------------------------------------------------- */

/* A verb's exit code from an internal result: 0 EXIT_OK, a negative
 * NHI_ERR_* (already printed) EXIT_FAIL, an exit code as it is. */
int exit_code(int r);
/* The message for a getopt_long error ('?' or ':'); returns EXIT_USAGE. */
int opt_error(struct nhictl *x, int c, char **argv);
/* One positional NAME after the options: EXIT_USAGE if missing or extra. */
int one_name(struct nhictl *x, int argc, char **argv, const char **name, const char *what);
/* Load NAME or print "no identity 'NAME'"; returns 0 or an exit code. */
int ident_get(struct nhictl *x, const char *name, struct ident *id);
void ident_json(struct nhictl *x, const struct ident *id);
/* The identity's keys into an object the caller opened (and closes). */
void ident_json_fields(struct nhictl *x, const struct ident *id, struct json *j);
void ident_text(struct nhictl *x, const struct ident *id);
/* Parse an expiry and check it against now and max_lifetime:
 * returns 0, EXIT_USAGE (does not parse) or EXIT_FAIL (out of bounds). */
int parse_expiry(struct nhictl *x, const char *s, time_t *out);
/* t in the future and at most max (named maxkey, e.g. "max_lifetime")
 * from now: 0, or -1 with the reason in why. */
int expiry_why(struct nhictl *x, time_t t, int64_t max, const char *maxkey, char *why,
	       size_t len);
/* orphan_max: may an owner re-check orphan n identities at once?  0 yes
 * (or force); else the stop message is printed (how many, the limit, how
 * to override) and NHI_ERR_PERM returned: the caller changes nothing. */
int orphan_limit(struct nhictl *x, long n, int force);

/* A verb's sub-commands (`cred add|list|...`, `group ...`, `directory
 * check`): one table, looked up by name, with what is checked once for
 * all of them here.  fn gets the operands after the sub-command's name
 * (argc, argv) and the verb's parsed options (opt).  Operands: at least
 * min (else "SUB: missing" + missing), at most max (-1: any).  only: the
 * option bits (the verb's own) the sub-command takes; one given to
 * another is refused with only_msg. */
struct subcmd {
	const char *name;
	int (*fn)(struct nhictl *x, int argc, char **argv, void *opt);
	int min, max;
	unsigned only;
	const char *missing;
};
/* Run the sub-command argv[optind] of tab (ended by a NULL name) with the
 * option bits 'given'; its exit code, or EXIT_USAGE (printed: missing or
 * unknown sub-command, operands, an option it does not take). */
int subcmd_run(struct nhictl *x, const struct subcmd *tab, int argc, char **argv, void *opt,
	       unsigned given, const char *only_msg);

/* ---- credgen.c ------------------------------------------------------ */

/* The not-after of a new credential: 'expires' (NULL = the default:
 * cert_lifetime for certificates, max_credential_age otherwise), never past
 * max_credential_age (refused) nor the identity's expiry (capped, with a
 * note).  0 or an exit code. */
int cred_not_after(struct nhictl *x, const struct ident *id, const char *kind,
		   const char *expires, int64_t *not_after);
/* Generate a credential of 'kind' for 'id' (OpenSSL CSPRNG).  0 or EXIT_FAIL. */
int cred_generate(struct nhictl *x, const struct ident *id, const char *kind,
		  int64_t not_after, struct newcred *n);
/* Hand the secret over once: to 'out' (0600, owned by the identity,
 * atomically) or stdout.  With x->json the credential is printed as JSON
 * (with the secret when it goes to stdout).  0 or EXIT_FAIL. */
int cred_handover(struct nhictl *x, const struct ident *id, const struct newcred *n,
		  const char *out, const char *what);
/* The same for the 'count' credentials n[0..count): with 'out' their
 * secrets one after another in that one file; with x->json and 'list' a
 * JSON array of them.  0 or EXIT_FAIL. */
int cred_handover_list(struct nhictl *x, const struct ident *id, const struct newcred *n,
		       size_t count, int list, const char *out, const char *what);

/* ---- the verbs ----------------------------------------------------- */

#define CMD(n) int cmd_##n(struct nhictl *x, int argc, char **argv)
CMD(create); CMD(adopt); CMD(list); CMD(show); CMD(extend); CMD(suspend);
CMD(resume); CMD(retire); CMD(review); CMD(transfer); CMD(modify); CMD(check); CMD(log);
CMD(group); CMD(publish); CMD(audit); CMD(directory); CMD(sync);
CMD(discover); CMD(cred); CMD(rotate); CMD(authorized_keys); CMD(release);
CMD(config);
CMD(init); CMD(backup);
CMD(resource); CMD(grant); CMD(delegate); CMD(label);
CMD(reach); CMD(who_can); CMD(chain); CMD(graph); CMD(apply); CMD(report);
#undef CMD

/* ---- cmd_graph.c, cmd_chain.c: what report draws -------------------- */

/* The registry as `graph --format dot` writes it, to out; *n_nodes is the
 * number of nodes.  More than max_nodes: nothing is written, returns 1.
 * 0, 1, or a negative NHI_ERR_* (printed). */
int graph_dot(struct nhictl *x, FILE *out, int max_nodes, int *n_nodes);
struct chain_graph;
/* `chain NAME` for identity a of g (walked, not freed), as text to out
 * (JSON with x->json).  0 or a negative NHI_ERR_*. */
int chain_agent(struct nhictl *x, struct chain_graph *g, int a, FILE *out);

/* ---- cmd_sync.c ------------------------------------------------------ */

/* An incremental sync, quiet (backend = ldap): what a verb that plans
 * against the registry runs first (apply).  0 or EXIT_FAIL (printed). */
int sync_pull(struct nhictl *x);

/* ---- cmd_review_due.c ------------------------------------------------ */

/* review --due [--owner USER] [--json] (cmd_review passes it on). */
int cmd_review_due(struct nhictl *x, int argc, char **argv);

/* Why a PAM service scope with an upper-case letter is refused (create,
 * modify, apply): the text after "PAM service 'SVC' ". */
#define SERVICE_UPPER_WHY "would never match: Linux-PAM lower-cases the service name " \
	"an application gives (write it in lower case)"

#endif

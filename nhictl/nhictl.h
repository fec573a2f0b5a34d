/* nhictl.h - what the parts of nhictl share.
 *
 * nhictl is the only writer of the registry (registry.db) and of the
 * snapshot (nhi.cache).  Every verb lives in a cmd_<group>.c file and is
 * listed in the table of nhictl.c.  A verb returns its exit code:
 *
 *   0  done (also: nothing to do, e.g. suspending a suspended identity)
 *   1  failed: refused by validation or policy, not found, I/O, database
 *   2  usage: unknown option, missing or malformed argument (a name, time
 *      or duration that does not parse)
 *
 * `check` answers 0 allowed, 1 denied, 2 error.  With the global option
 * --changed-exit=N a verb that changed the registry exits N instead of 0
 * (for configuration management).
 */
#ifndef NHICTL_H
#define NHICTL_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <sqlite3.h>
#include "nhi_conf.h"
#include "nhi_err.h"
#include "nhi_time.h"
#include "nhi_snapshot.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

struct nhictl {
	struct nhi_conf conf;
	sqlite3 *db;
	time_t now;
	const char *verb;        /* for messages */
	int json;                /* --json given (globally or to the verb) */
	int changed;             /* a transaction was committed */
	int changed_exit;        /* --changed-exit N, 0 = off */
	char actor[96];          /* who runs nhictl, for the audit log */
};

/* "nhictl: VERB: message" on stderr; returns 'code'. */
int nerr(struct nhictl *x, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The message for a getopt_long error ('?' or ':'); returns EXIT_USAGE. */
int opt_error(struct nhictl *x, int c, char **argv);
/* One positional NAME after the options: EXIT_USAGE if missing or extra. */
int one_name(struct nhictl *x, int argc, char **argv, const char **name, const char *what);

/* ---- registry.c ---------------------------------------------------- */

int reg_open(struct nhictl *x);
void reg_close(struct nhictl *x);
int reg_begin(struct nhictl *x);          /* BEGIN IMMEDIATE */
int reg_commit(struct nhictl *x);         /* bump generation, COMMIT, publish */
void reg_rollback(struct nhictl *x);
/* Run one statement with bound values; 'types' has one letter per '?':
 * 's' const char * (NULL = NULL), 'i' int64_t, 'u' uint32_t.  Returns 0 or
 * NHI_ERR_DB (after printing the SQLite message). */
int reg_exec(struct nhictl *x, const char *sql, const char *types, ...);
/* Prepare with the same binding; NULL on error (printed). */
sqlite3_stmt *reg_prep(struct nhictl *x, const char *sql, const char *types, ...);
/* A single integer answer of a query (or 'dflt' when there is no row). */
int reg_int(struct nhictl *x, int64_t *out, int64_t dflt, const char *sql, const char *types, ...);
int reg_dberr(struct nhictl *x);          /* print sqlite3_errmsg; NHI_ERR_DB */
/* Append an audit event in the current transaction (hash chained). */
int reg_event(struct nhictl *x, const char *action, const char *target,
	      const char *outcome, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Recompute the chain; 0 if intact, else NHI_ERR_FORMAT with the first bad
 * row named in 'why'.  *n receives the number of events checked. */
int reg_verify_log(struct nhictl *x, int64_t *n, char *why, size_t len);
/* Compile registry.db into the snapshot and publish it. */
int reg_publish(struct nhictl *x, uint64_t *generation);

/* ---- ident.c: identities as rows --------------------------------- */

struct ident {
	int64_t id;
	char name[64], kind[16], state[16];
	char gecos[264], home[PATH_MAX], shell[PATH_MAX];
	char owner[64], purpose[264], retire_reason[264];
	char hosts[1024], services[1024];   /* comma-separated, "" = any */
	uint32_t uid, gid;
	int64_t created, expires, review_interval, last_review, review_due;
	int64_t orphaned_since, retired_at, last_used;
};

#define IDENT_COLS "id, name, kind, state, gecos, home, shell, owner, purpose, " \
	"retire_reason, uid, gid, created, expires, review_interval, last_review, " \
	"review_due, orphaned_since, retired_at, last_used"
/* Fill from a row selected with IDENT_COLS, then its hosts and services. */
int ident_from_row(struct nhictl *x, sqlite3_stmt *st, struct ident *id);
/* 0, NHI_ERR_NOTFOUND or NHI_ERR_DB. */
int ident_load(struct nhictl *x, const char *name, struct ident *id);
/* Load NAME or print "no identity 'NAME'"; returns 0 or an exit code. */
int ident_get(struct nhictl *x, const char *name, struct ident *id);
void ident_json(struct nhictl *x, const struct ident *id);
void ident_text(struct nhictl *x, const struct ident *id);

/* A live human owner: resolves through NSS, is not a service account
 * (configuration or registry), not locked, not expired.  0 or NHI_ERR_*
 * with the reason in why. */
int owner_live(struct nhictl *x, const char *owner, char *why, size_t len);
/* Lowest id in uid_min..uid_max free as uid and gid everywhere. */
int alloc_id(struct nhictl *x, uint32_t *out);
/* 1 if 'id' is unused as uid/gid in the registry and through NSS. */
int id_free(struct nhictl *x, uint32_t id);
/* Parse an expiry and check it against now and max_lifetime:
 * returns 0, EXIT_USAGE (does not parse) or EXIT_FAIL (out of bounds). */
int parse_expiry(struct nhictl *x, const char *s, time_t *out);

/* ---- cmd_audit.c: usage records ------------------------------------ */

/* Ingest usage_log (renamed to usage_log.ingest first; its path is left in
 * ingest_path, "" when there was nothing) into identity.last_used and the
 * usage table, in the current transaction.  Unlink ingest_path after the
 * commit.  0 or NHI_ERR_* (printed). */
int usage_ingest(struct nhictl *x, char *ingest_path, size_t plen, long *records, long *bad);

/* ---- json.c -------------------------------------------------------- */

struct json {
	FILE *f;
	int depth;
	unsigned char first[32];   /* no element yet at this depth */
	int after_key;
};
void json_init(struct json *j, FILE *f);
void json_obj(struct json *j);
void json_obj_end(struct json *j);
void json_arr(struct json *j);
void json_arr_end(struct json *j);
void json_key(struct json *j, const char *k);
void json_str(struct json *j, const char *s);   /* NULL = null */
void json_int(struct json *j, long long v);
void json_bool(struct json *j, int v);
void json_num(struct json *j, double v);         /* %.3f */
void json_null(struct json *j);
void json_time(struct json *j, int64_t t);      /* 0 = null */
void json_kstr(struct json *j, const char *k, const char *s);
void json_kint(struct json *j, const char *k, long long v);
void json_kbool(struct json *j, const char *k, int v);
void json_ktime(struct json *j, const char *k, int64_t t);
/* A comma-separated list as an array of strings. */
void json_klist(struct json *j, const char *k, const char *csv);
void json_end(struct json *j);                  /* newline after the top value */

/* ---- the verbs ----------------------------------------------------- */

#define CMD(n) int cmd_##n(struct nhictl *x, int argc, char **argv)
CMD(create); CMD(adopt); CMD(list); CMD(show); CMD(extend); CMD(suspend);
CMD(resume); CMD(retire); CMD(review); CMD(transfer); CMD(check); CMD(log);
CMD(group); CMD(publish); CMD(audit); CMD(directory); CMD(sync);
#undef CMD

#endif

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
#include "nhi_testhook.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

struct store_ops;

struct nhictl {
	struct nhi_conf conf;
	const struct store_ops *store;   /* the backend's (store.h), chosen once */
	sqlite3 *db;
	time_t now;
	const char *verb;        /* for messages */
	int json;                /* --json given (globally or to the verb) */
	int changed;             /* a transaction was committed */
	int changed_exit;        /* --changed-exit N, 0 = off */
	char actor[96];          /* who runs nhictl, for the audit log */
	const char *conf_path;   /* -c FILE; NULL: the default */
	int reg_how;             /* a missing registry.db: REG_USE, REG_FORCE, REG_CACHE */
	int reg_created;         /* reg_open() created registry.db */
};

/* How reg_open() treats a missing registry.db (regstate.c): create it on
 * a fresh host only (REG_USE); also over the state of a lost one
 * (REG_FORCE: init --force); with backend = ldap, as a cache the directory
 * fills again (REG_CACHE: sync). */
enum { REG_USE = 0, REG_FORCE, REG_CACHE };

/* ---- util.c: messages and exit codes ------------------------------- */

/* "nhictl: VERB: message" on stderr; returns 'code'. */
int nerr(struct nhictl *x, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A verb's exit code from an internal result: 0 EXIT_OK, a negative
 * NHI_ERR_* (already printed) EXIT_FAIL, an exit code as it is. */
int exit_code(int r);
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
/* Recompute the chain; 0 if intact, else NHI_ERR_FORMAT with the first bad
 * row named in 'why'.  *n receives the number of events checked. */
int reg_verify_log(struct nhictl *x, int64_t *n, char *why, size_t len);
/* Compile registry.db into the snapshot and publish it: a delta
 * (nhi.cache.delta) with what changed since the last full snapshot while
 * that stays within snapshot_delta_max, else (or with 'full') a full one
 * and an empty delta. */
int reg_publish(struct nhictl *x, int full, uint64_t *generation);
/* Publish when the snapshot readers see is missing, unusable or older
 * than the registry (a run killed between its commit and its
 * publication); outside a transaction. */
int reg_publish_behind(struct nhictl *x);
/* In a write transaction about to change many identities: the next
 * publication is full, and until then nothing is recorded per identity. */
int reg_snap_full(struct nhictl *x);

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
/* registry.db is missing: 0 if it may be created, else NHI_ERR_STATE
 * (printed: what is missing, what exists, what to do). */
int regstate_missing(struct nhictl *x);

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
/* Copy text column i of a row into dst ("" for NULL), truncating. */
void col_cpy(char *dst, size_t len, sqlite3_stmt *st, int i);
/* Fill from a row selected with IDENT_COLS, then its hosts and services. */
int ident_from_row(struct nhictl *x, sqlite3_stmt *st, struct ident *id);
/* 0, NHI_ERR_NOTFOUND or NHI_ERR_DB. */
int ident_load(struct nhictl *x, const char *name, struct ident *id);
/* Load NAME or print "no identity 'NAME'"; returns 0 or an exit code. */
int ident_get(struct nhictl *x, const char *name, struct ident *id);
void ident_json(struct nhictl *x, const struct ident *id);
/* The identity's keys into an object the caller opened (and closes). */
struct json;
void ident_json_fields(struct nhictl *x, const struct ident *id, struct json *j);
void ident_text(struct nhictl *x, const struct ident *id);
/* The policy record of an identity row (pointers into 'id'). */
void ident_to_nhi(const struct ident *id, struct nhi_ident *ni);

/* A live human owner: resolves through NSS, is not a service account
 * (configuration or registry), not locked, not expired.  0 or NHI_ERR_*
 * with the reason in why. */
int owner_live(struct nhictl *x, const char *owner, char *why, size_t len);
/* orphan_max: may an owner re-check orphan n identities at once?  0 yes
 * (or force); else the stop message is printed (how many, the limit, how
 * to override) and NHI_ERR_PERM returned: the caller changes nothing. */
int orphan_limit(struct nhictl *x, long n, int force);
/* One identity after its owner's re-check (audit, sync). */
struct owner_plan {
	int64_t id;
	char name[64], state[16], why[1280], cause[8], owner_id[64];
	int orphan;                   /* 1 orphan it; 0 only record owner_id */
};
/* Decide from the re-check's result r (0 live, NHI_ERR_PERM not live,
 * else gone; why its reason) and the owner's id as recorded ('had', ""
 * if unknown) and now ('now', "" if unknown; 'what' names it: "uid",
 * "entryUUID"): orphan ('other' when had and now differ: another person
 * under the name; 'locked'; 'gone'), record owner_id, or nothing (0). */
int owner_decide(struct owner_plan *o, const char *owner, const char *had, const char *now,
		 int r, const char *why, const char *what);
/* Who the owner is now (store.c: the store's owner_now): owner_live()
 * (local) or dir_owner_lookup() (ldap, by owner_dn when set), and the
 * owner's uid (local) or entryUUID (ldap) in id ("" when unknown; set for
 * 0 and NHI_ERR_PERM). */
int owner_now(struct nhictl *x, const char *owner, const char *owner_dn, char *id, size_t idlen,
	      char *why, size_t why_len);
/* Record the current owner's uid/entryUUID as identity NAME's owner_id
 * (create, adopt, transfer), in the current transaction.  0 or NHI_ERR_*. */
int owner_id_record(struct nhictl *x, const char *name);
/* Lowest id in uid_min..uid_max free as uid and gid everywhere. */
int alloc_id(struct nhictl *x, uint32_t *out);
/* 1 if 'id' is unused as uid/gid in the registry and through NSS. */
int id_free(struct nhictl *x, uint32_t id);
/* Parse an expiry and check it against now and max_lifetime:
 * returns 0, EXIT_USAGE (does not parse) or EXIT_FAIL (out of bounds). */
int parse_expiry(struct nhictl *x, const char *s, time_t *out);

/* ---- home.c: the local system at create and adopt ------------------- */

/* Warnings on stderr: a uid in login.defs' human range (UID_MIN..UID_MAX),
 * a shell that does not exist or is not executable (NULL: not checked). */
void ident_warnings(struct nhictl *x, const char *name, uint32_t uid, const char *shell);
/* create --create-home: 0 when 'home' may be made (*exists = 0) or is a
 * directory of uid already (*exists = 1, left as it is); else an exit
 * code (printed). */
int home_check(struct nhictl *x, const char *home, uint32_t uid, int *exists);
/* Make 'home' like useradd -m: /etc/skel copied, owned by uid:gid, mode
 * HOME_MODE of login.defs or 0750.  0 or EXIT_FAIL (printed, nothing
 * left behind). */
int home_make(struct nhictl *x, const char *home, uint32_t uid, uint32_t gid);
/* Remove a home home_make made (the registry change failed after it). */
void home_unmake(const char *home);

/* ---- usage.c: usage records ---------------------------------------- */

/* Ingest usage_log (renamed to usage_log.ingest first; its path is left in
 * ingest_path, "" when there was nothing) into identity.last_used and the
 * usage table, in the current transaction.  Unlink ingest_path after the
 * commit.  0 or NHI_ERR_* (printed). */
int usage_ingest(struct nhictl *x, char *ingest_path, size_t plen, long *records, long *bad);

/* ---- cred.c: credentials, the rotation journal, the key index ------ */

#define CRED_ID_MAX 24
#define CRED_FP_MAX 128
#define CRED_PUB_MAX 8192

struct cred {
	int64_t row, identity_id;
	char id[CRED_ID_MAX], kind[16], state[16];
	char fingerprint[CRED_FP_MAX], serial[80], replaces[CRED_ID_MAX];
	char public_part[CRED_PUB_MAX];
	char hash[256];
	int64_t created, not_after, grace_until, revoked_at, last_used;
	int rotating;                /* a rotation of it is pending */
};

/* A credential just generated, before it is handed over.  'secret' is what
 * the holder receives (password, token, OpenSSH private key, certificate
 * PEM followed by its key): wiped and freed by newcred_free(). */
struct newcred {
	char id[CRED_ID_MAX], kind[16], fingerprint[CRED_FP_MAX], serial[80];
	char hash[256];
	char *public_part;           /* heap */
	char *secret;                /* heap, wiped */
	size_t secret_len;
	int64_t not_after;
};

#define CRED_COLS "c.id, c.identity_id, c.cred_id, c.kind, c.state, c.fingerprint, " \
	"c.serial, c.replaces, c.public_part, c.secret_hash, c.created, c.not_after, " \
	"c.grace_until, c.revoked_at, c.last_used, " \
	"EXISTS (SELECT 1 FROM rotation r WHERE r.credential_id = c.id AND r.state = 'pending')"
void cred_from_row(sqlite3_stmt *st, struct cred *c);
/* The state at 'now': "active", "grace", "revoked" (also a grace window
 * that has ended) or "expired" (past not_after). */
const char *cred_state(const struct cred *c, time_t now);
/* 1 if the credential may be used at 'now' (active or in its grace window,
 * before not_after). */
int cred_usable(const struct cred *c, time_t now);
/* 0, NHI_ERR_NOTFOUND (message printed) or NHI_ERR_DB. */
int cred_load(struct nhictl *x, const struct ident *id, const char *cred_id, struct cred *c);
/* 1 if kind names a credential kind. */
int cred_kind_valid(const char *kind);
/* The not-after of a new credential: 'expires' (NULL = the default:
 * cert_lifetime for certificates, max_credential_age otherwise), never past
 * max_credential_age (refused) nor the identity's expiry (capped, with a
 * note).  0 or an exit code. */
int cred_not_after(struct nhictl *x, const struct ident *id, const char *kind,
		   const char *expires, int64_t *not_after);
/* Generate a credential of 'kind' for 'id' (OpenSSL CSPRNG).  0 or EXIT_FAIL. */
int cred_generate(struct nhictl *x, const struct ident *id, const char *kind,
		  int64_t not_after, struct newcred *n);
void newcred_free(struct newcred *n);
/* Insert the new credential as active (in the current transaction). */
int cred_insert(struct nhictl *x, const struct ident *id, const struct newcred *n,
		const char *replaces);
/* Hand the secret over once: to 'out' (0600, owned by the identity,
 * atomically) or stdout.  With x->json the credential is printed as JSON
 * (with the secret when it goes to stdout).  0 or EXIT_FAIL. */
int cred_handover(struct nhictl *x, const struct ident *id, const struct newcred *n,
		  const char *out, const char *what);
/* Revoke the credentials whose grace window has ended (one audit event
 * each), in the current transaction; *n counts them.  With a directory
 * (d, backend = ldap) each is revoked there first, its password hash
 * removed; one the directory refuses now is left for the next sweep. */
struct dir;
int cred_sweep(struct nhictl *x, struct dir *d, int *n);
/* Revoke every credential of an identity and cancel its pending
 * rotations (retire); *n counts the revoked ones. */
int cred_revoke_all(struct nhictl *x, const struct ident *id, int *n);
/* Roll back the pending rotations whose process is gone (a crash between
 * the journal and its end), in the current transaction, with a message on
 * stderr and an audit event each.  *n counts them. */
int rotation_recover(struct nhictl *x, int *n);
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
/* Test-only fault injection, in the test build only (NHI_TEST_HOOKS,
 * lib/nhi_testhook.h): when secure_getenv("NHI_TEST_FAULT") names 'point',
 * act (kill the process, or return 1 for a simulated failure).  Elsewhere
 * never a fault, and no trace of the hook in the binary. */
#ifdef NHI_TEST_HOOKS
int fault(const char *point);
#else
static inline int no_fault(void) { return 0; }
#define fault(point) no_fault()
#endif
/* The start time of a process (field 22 of /proc/PID/stat), to tell a
 * live pid from a reused one.  0 or -1. */
int proc_start_time(pid_t pid, char *out, size_t len);
/* The same with the command name (comm, NULL = not wanted) and the
 * state letter (state, NULL = not wanted). */
int proc_stat(pid_t pid, char *comm, size_t clen, char *state, char *start, size_t slen);

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
CMD(cred); CMD(rotate); CMD(authorized_keys); CMD(release);
CMD(config);
CMD(init); CMD(backup);
CMD(resource); CMD(grant); CMD(delegate);
CMD(reach); CMD(who_can); CMD(chain); CMD(graph);
#undef CMD

#endif

/* cmd_cred.c - credentials: cred add|list|revoke|verify, rotate, and
 * authorized-keys for sshd.
 *
 * Rotation follows docs/design.md "Rotation that loses nothing":
 *
 *   1. lock (BEGIN IMMEDIATE), refuse unless the identity is active, unexpired
 *      and its owner live, and unless the credential is active with no
 *      rotation pending (the rotation table's partial UNIQUE index);
 *   2. generate the new secret and its hash; journal the intent (a pending
 *      rotation row holding the new public part and hash, our pid and its
 *      start time) and COMMIT;                           rotation_journal()
 *   3. the directory step (backend = ldap: one Modify that swaps nhiSerial
 *      as a compare-and-swap and adds the new hash); nothing for the local
 *      backend, where the registry is the truth;       rotation_directory()
 *   4. journal 'handed-over' (from here its holder may have the secret: a
 *      crash is completed, not undone), then hand the secret over once
 *      (stdout or a 0600 file);                           cred_handover()
 *   5. lock again, check that the row is still ours and pending and the
 *      identity still active; insert the new credential, put the old one
 *      in its grace window, mark the row done, audit; COMMIT and publish.
 *                                                         rotation_finish()
 *
 * Each step's backend part goes through the store (store.h: cred_lock,
 * rot_apply, rot_undo, rot_finish).  With backend = ldap the directory
 * is the truth (store_ldap.c, dircred.h): step 1 reads
 * the identity and its credentials from it, step 3 is a compare-and-swap
 * Modify of the identity entry from the serial read in step 1 (another
 * host's rotation in between makes it fail: refused), then the new
 * credential entry and the old one in grace; the journal records each
 * step reached ('directory', 'handed-over'), and step 5 reads the result
 * back into the registry.
 *
 * A failure at 3-5 rolls the journal back (rotation_abort), and the
 * directory's part with it (the store's rot_undo): the old credential keeps
 * working and nhictl exits 1.  A crash between 2 and 5
 * leaves a pending row whose process is gone: the next run completes it
 * when the secret had been handed over, and rolls it back otherwise
 * (rotation_recover in cred.c).  NHI_TEST_FAULT (secure_getenv, in the
 * test build tests/nhictl-faulty only) stops or fails a run at a named step.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "nhi_keys.h"
#include "nhi_policy.h"
#include "cmd.h"
#include "secret.h"
#include "cmd_reach.h"

static const char cred_help[] =
	"usage: nhictl cred add NAME --kind KIND [--expires WHEN] [--count N] [--out FILE]\n"
	"                        [--json]\n"
	"       nhictl cred list NAME [--json]\n"
	"       nhictl cred revoke NAME ID [--json]\n"
	"       nhictl cred verify NAME [--json]  < SECRET\n"
	"\n"
	"The credentials of an identity.  'add' issues one of KIND password, token,\n"
	"ssh-key or certificate and hands the secret over once: on stdout, or\n"
	"written to FILE (mode 0600, owned by the identity).  Only its hash or\n"
	"public part is kept.  A password is the identity's login password (su,\n"
	"ssh): its hash goes to the root-only nhi.shadow, not the snapshot.\n"
	"'verify' reads a password or token on stdin and exits 0 when it is a\n"
	"valid credential (active, or old within a rotation's grace) of an\n"
	"identity that may be used now, 1 otherwise.  A successful verify run by\n"
	"root appends a usage record (cred=ID) to usage_log: the next audit or\n"
	"sync counts it in the credential's last use and use count.  'list'\n"
	"shows them; an SSH key's uses come from pam_nhi's records (sshd's\n"
	"SSH_AUTH_INFO_0).\n"
	"\n"
	"  -k, --kind KIND       password, token, ssh-key or certificate\n"
	"  -e, --expires WHEN    not after WHEN (default: cert_lifetime for a\n"
	"                        certificate, max_credential_age otherwise; never\n"
	"                        past the identity's expiry)\n"
	"  -o, --out FILE        write the secret to FILE instead of stdout\n"
	"      --count N         issue N credentials (1 to 10000) in one\n"
	"                        transaction and one snapshot publication; their\n"
	"                        secrets one after another on stdout or in FILE,\n"
	"                        with --json a list\n"
	"      --json            machine-readable output\n";

static const char rotate_help[] =
	"usage: nhictl rotate NAME [--cred ID] [--grace DURATION] [--out FILE] [--json]\n"
	"\n"
	"Replace a credential by a new one of the same kind.  The old one stays\n"
	"valid for the grace window (state 'grace'), then is revoked.  The new\n"
	"secret is handed over once, as by 'cred add'.  The next run resolves a\n"
	"rotation that was interrupted: completed if the new secret had been handed\n"
	"over (the old one in its grace), else rolled back (the old one keeps working).\n"
	"\n"
	"  -i, --cred ID         the credential (default: the identity's only\n"
	"                        active credential)\n"
	"  -g, --grace DURATION  overlap of old and new (default: rotation_grace;\n"
	"                        0s revokes the old one at once; it ends no later\n"
	"                        than the old one's not_after and the identity's\n"
	"                        expiry)\n"
	"  -o, --out FILE        write the secret to FILE instead of stdout\n"
	"      --json            machine-readable output\n";

static const char keys_help[] =
	"usage: nhictl authorized-keys USER [--json]\n"
	"\n"
	"For sshd's AuthorizedKeysCommand: print the SSH public keys of USER that\n"
	"may log in now (active, or old within a rotation's grace) when USER is an\n"
	"identity that pam_nhi would allow through sshd; nothing for anyone else.\n"
	"Reads only the snapshot and the key index (no registry, no root needed).\n"
	"Exit 0 (also when nothing is printed), 1 when the snapshot or the key\n"
	"index is unusable, 2 usage.\n"
	"\n"
	"      --json            the keys as a JSON array\n";

/* Secrets in this process: no core dump, no ptrace by the same uid. */
static void no_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static int check_out(struct nhictl *x, const char *out)
{
	if (out != NULL && (out[0] != '/' || !nhi_valid_text(out, PATH_MAX - 1, 0)))
		return nerr(x, EXIT_USAGE, "bad --out '%s': an absolute path", out);
	return 0;
}

/* Writes start with the grace windows that ended and the rotations that a
 * crash interrupted, each recorded and audited. */
static int housekeeping(struct nhictl *x)
{
	int n1 = 0, n2 = 0;

	if (reg_begin(x) < 0 || rotation_recover(x, &n1) < 0 ||
	    x->store->cred_sweep(x, &n2) < 0) {
		reg_rollback(x);
		return EXIT_FAIL;
	}
	if (n1 + n2 > 0)
		return reg_commit(x) < 0 ? EXIT_FAIL : 0;
	return 0;
}

/* What every change of credentials starts with: housekeeping, the write
 * lock and the identity with its credentials as the truth has them (the
 * store's cred_lock; *serial is what the change will compare and swap).
 * 0 or an exit code. */
static int lock_ident(struct nhictl *x, const char *name, struct ident *id, long long *serial)
{
	int r;

	*serial = 0;
	if (x->store->cred_open(x) < 0)
		return EXIT_FAIL;
	if ((r = housekeeping(x)) != 0)
		return r;
	if (x->store->cred_lock(x, name, serial) < 0)
		return EXIT_FAIL;
	return ident_get(x, name, id);
}

/* What issuing and rotating start with: the --out path, no core dumps,
 * lock_ident, and an identity that may hold credentials (store_ident_usable).
 * 0 or an exit code. */
static int lock_usable(struct nhictl *x, const char *name, const char *out, struct ident *id,
		       long long *serial)
{
	char why[512];
	int r;

	if ((r = check_out(x, out)) != 0)
		return r;
	no_dumps();
	if ((r = lock_ident(x, name, id, serial)) != 0)
		return r;
	r = store_ident_usable(x, id, why, sizeof(why));
	if (r == NHI_ERR_DB)
		return EXIT_FAIL;
	if (r < 0)
		return nerr(x, EXIT_FAIL, "refused: %s", why);
	return 0;
}

/* ---- cred add ---------------------------------------------------------- */

/* The handover failed after the commit: the credentials nobody got are
 * revoked again, audited (their entries in the truth removed first). */
static void unissue(struct nhictl *x, const struct ident *id, const struct newcred *n,
		    size_t count)
{
	size_t i;
	int r = reg_begin(x);

	for (i = 0; i < count && r == 0; i++)
		if (x->store->cred_unadd(x, id, &n[i]) != 0 ||
		    reg_exec(x, "UPDATE credential SET state = 'revoked', revoked_at = ? WHERE "
			     "identity_id = ? AND cred_id = ? AND state != 'revoked'", "iis",
			     (int64_t)x->now, id->id, n[i].id) != 0 ||
		    reg_event(x, "cred-revoke", id->name, "ok", "id=%s kind=%s: never handed over",
			      n[i].id, n[i].kind) != 0)
			r = -1;
	if (r == 0 && reg_commit(x) == 0)
		return;
	reg_rollback(x);
	for (i = 0; i < count; i++)
		nerr(x, 0, "credential %s of %s was not handed over and could not be revoked: "
		     "run 'nhictl cred revoke %s %s'", n[i].id, id->name, id->name, n[i].id);
}

static void newcreds_free(struct newcred *n, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		newcred_free(&n[i]);
	free(n);
}

/* 'count' credentials of one kind in one transaction (one audit event
 * each, one snapshot publication); with the directory each is its own
 * entry and compare-and-swap, those already made are removed again when
 * one fails.  'list' (--count given): --json prints an array. */
static int cred_add(struct nhictl *x, const char *name, const char *kind,
		    const char *expires, const char *out, size_t count, int list)
{
	char b1[NHI_TIME_BUFSZ];
	struct newcred *n;
	struct ident id;
	int64_t not_after;
	long long serial;
	size_t i, made = 0;
	int r = 0, was_changed = x->changed;

	if (kind == NULL)
		return nerr(x, EXIT_USAGE, "--kind is required (password, token, ssh-key or "
			    "certificate)");
	if (!cred_kind_valid(kind))
		return nerr(x, EXIT_USAGE, "bad --kind '%s' (password, token, ssh-key or "
			    "certificate)", kind);
	if ((r = lock_usable(x, name, out, &id, &serial)) != 0)
		return r;
	if ((r = cred_not_after(x, &id, kind, expires, &not_after)) != 0)
		return r;
	if ((n = calloc(count, sizeof(*n))) == NULL)
		return nerr(x, EXIT_FAIL, "out of memory");
	for (i = 0; i < count && r == 0; i++) {
		if ((r = cred_generate(x, &id, kind, not_after, &n[i])) != 0)
			break;
		made = i + 1;
		r = x->store->cred_add(x, &id, &n[i], serial + (long long)i);
		if (r == 0)
			r = reg_event(x, "cred-add", id.name, "ok", "id=%s kind=%s fingerprint=%s "
				      "not_after=%s%s%s", n[i].id, n[i].kind, n[i].fingerprint,
				      nhi_format_time((time_t)n[i].not_after, b1),
				      out ? " out=" : "", out ? out : "");
		else
			made = i;   /* the store removed its own part */
	}
	if (r != 0) {
		for (i = 0; i < made; i++)
			x->store->cred_unadd(x, &id, &n[i]);
		reg_rollback(x);
		newcreds_free(n, count);
		return EXIT_FAIL;
	}
	/* committed before the secrets are handed over, so a secret its holder
	 * has is never one a crash made the registry forget (a crash between
	 * leaves a credential nobody holds; 'cred revoke' ends it).  When the
	 * commit itself failed, nothing was added (when only publishing the
	 * snapshot failed, it was: hand over, exit 1). */
	x->changed = 0;
	r = reg_commit(x);
	if (!x->changed) {
		x->changed = was_changed;
		newcreds_free(n, count);
		return EXIT_FAIL;
	}
	if (cred_handover_list(x, &id, n, count, list, out, "issued") != 0) {
		unissue(x, &id, n, count);
		r = NHI_ERR_IO;
	} else {
		NHI_CRASH_POINT("secret-handed-over", id.name);
	}
	newcreds_free(n, count);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

/* ---- cred list ---------------------------------------------------------- */

static int cred_list(struct nhictl *x, const char *name)
{
	char b1[NHI_TIME_BUFSZ], b2[NHI_TIME_BUFSZ], b3[NHI_TIME_BUFSZ], b4[NHI_TIME_BUFSZ];
	sqlite3_stmt *st;
	struct ident id;
	struct json j;
	int r;

	if ((r = ident_get(x, name, &id)) != 0)
		return r;
	st = reg_prep(x, "SELECT " CRED_COLS " FROM credential c WHERE c.identity_id = ? "
		      "ORDER BY c.created, c.id", "i", id.id);
	if (st == NULL)
		return EXIT_FAIL;
	if (x->json) {
		json_init(&j, stdout);
		json_arr(&j);
	} else {
		printf("%-14s %-11s %-8s %-20s %-20s %-20s %-20s %-5s %s\n", "ID", "KIND", "STATE",
		       "CREATED", "NOT_AFTER", "GRACE_UNTIL", "LAST_USED", "USES", "FINGERPRINT");
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct cred c;
		const char *state;

		cred_from_row(st, &c);
		state = cred_state(&c, x->now);
		if (x->json) {
			json_obj(&j);
			json_kstr(&j, "id", c.id);
			json_kstr(&j, "kind", c.kind);
			json_kstr(&j, "state", state);
			json_kstr(&j, "fingerprint", c.fingerprint);
			json_kstr(&j, "public", c.public_part[0] ? c.public_part : NULL);
			json_kstr(&j, "serial", c.serial[0] ? c.serial : NULL);
			json_ktime(&j, "created", c.created);
			json_ktime(&j, "not_after", c.not_after);
			json_ktime(&j, "grace_until", c.grace_until);
			json_ktime(&j, "revoked_at", strcmp(state, "revoked") == 0 && !c.revoked_at
				   ? c.grace_until : c.revoked_at);
			json_kstr(&j, "replaces", c.replaces[0] ? c.replaces : NULL);
			json_kbool(&j, "rotation_pending", c.rotating);
			json_ktime(&j, "last_used", c.last_used);
			json_kint(&j, "use_count", c.use_count);
			if (reach_cred_grants(x, c.row, &j) < 0)
				break;
			json_obj_end(&j);
		} else {
			printf("%-14s %-11s %-8s %-20s %-20s %-20s %-20s %-5lld %s%s\n", c.id, c.kind,
			       state, nhi_format_time((time_t)c.created, b1),
			       c.not_after ? nhi_format_time((time_t)c.not_after, b2) : "-",
			       c.grace_until ? nhi_format_time((time_t)c.grace_until, b3) : "-",
			       c.last_used ? nhi_format_time((time_t)c.last_used, b4) : "-",
			       (long long)c.use_count, c.fingerprint, c.rotating ? " (rotation pending)" : "");
			/* what it reaches: its grants */
			if (reach_cred_grants(x, c.row, NULL) < 0)
				break;
		}
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		reg_dberr(x);
		return EXIT_FAIL;
	}
	if (x->json) {
		json_arr_end(&j);
		json_end(&j);
	}
	return EXIT_OK;
}

/* ---- cred revoke --------------------------------------------------------- */

/* The answer of cred revoke: a line, or the credential as JSON. */
static int revoked(struct nhictl *x, const struct ident *id, const struct cred *c, int changed)
{
	struct json j;

	if (!x->json) {
		printf(changed ? "%s: credential %s revoked\n"
			       : "%s: credential %s is already revoked (nothing changed)\n",
		       id->name, c->id);
		return EXIT_OK;
	}
	json_init(&j, stdout);
	json_obj(&j);
	json_kstr(&j, "name", id->name);
	json_kstr(&j, "id", c->id);
	json_kstr(&j, "kind", c->kind);
	json_kstr(&j, "fingerprint", c->fingerprint);
	json_kstr(&j, "state", "revoked");
	json_ktime(&j, "revoked_at", changed ? (int64_t)x->now : c->revoked_at);
	json_kbool(&j, "changed", changed);
	json_obj_end(&j);
	json_end(&j);
	return EXIT_OK;
}

static int cred_revoke(struct nhictl *x, const char *name, const char *cid)
{
	struct ident id;
	struct cred c;
	long long serial;
	int r;

	if ((r = lock_ident(x, name, &id, &serial)) != 0)
		return r;
	r = cred_load(x, &id, cid, &c);
	if (r < 0)
		return EXIT_FAIL;
	if (strcmp(c.state, "revoked") == 0)
		return revoked(x, &id, &c, 0);
	if (x->store->cred_revoke(x, &id, &c, serial) < 0)
		return EXIT_FAIL;
	r = reg_exec(x, "UPDATE credential SET state = 'revoked', revoked_at = ? WHERE id = ?",
		     "ii", (int64_t)x->now, c.row);
	/* a rotation of it in flight cannot finish any more */
	if (r == 0)
		r = reg_exec(x, "UPDATE rotation SET state = 'rolled-back', finished = ? "
			     "WHERE credential_id = ? AND state = 'pending'", "ii",
			     (int64_t)x->now, c.row);
	if (r == 0)
		r = reg_event(x, "cred-revoke", id.name, "ok", "id=%s kind=%s fingerprint=%s%s",
			      c.id, c.kind, c.fingerprint, c.rotating ? " (rotation cancelled)" : "");
	if (r < 0) {
		reg_rollback(x);
		return EXIT_FAIL;
	}
	if (reg_commit(x) < 0)
		return EXIT_FAIL;
	return revoked(x, &id, &c, 1);
}

/* ---- cred verify ---------------------------------------------------------- */

/* Read the presented secret from stdin (read(2), our own buffer). */
static int read_secret(char *buf, size_t len, size_t *n)
{
	*n = 0;
	for (;;) {
		ssize_t r = read(0, buf + *n, len - 1 - *n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		*n += (size_t)r;
		if (*n >= len - 1)
			return -1;   /* longer than any secret we issue */
	}
	buf[*n] = '\0';
	/* one line: the final newline (or CRLF) is not part of it */
	if (*n > 0 && buf[*n - 1] == '\n')
		buf[--*n] = '\0';
	if (*n > 0 && buf[*n - 1] == '\r')
		buf[--*n] = '\0';
	return 0;
}

static void verify_result(struct nhictl *x, const char *name, const struct cred *c,
			  const char *why)
{
	struct json j;

	if (x->json) {
		json_init(&j, stdout);
		json_obj(&j);
		json_kstr(&j, "identity", name);
		json_kbool(&j, "valid", c != NULL);
		json_kstr(&j, "id", c ? c->id : NULL);
		json_kstr(&j, "kind", c ? c->kind : NULL);
		json_kstr(&j, "state", c ? cred_state(c, x->now) : NULL);
		json_kstr(&j, "reason", why);
		json_obj_end(&j);
		json_end(&j);
	} else if (c != NULL) {
		printf("%s: valid (%s %s, %s)\n", name, c->kind, c->id, cred_state(c, x->now));
	}
	if (c == NULL)
		nerr(x, 0, "%s: not valid: %s", name, why);
}

#define OLD_PASSWORDS_TRIED 4

/* Find the credential the secret belongs to.  1 found (*c), 0 not. */
static int match_secret(struct nhictl *x, const struct ident *id, const char *sec,
			struct cred *c, char *why, size_t len)
{
	unsigned char pepper[SECRET_PEPPER_LEN];
	char tid[CRED_ID_MAX], err[512];
	sqlite3_stmt *st;
	int token, found = 0, old = 0, r;

	token = secret_token_parse(sec, tid, sizeof(tid)) == 0;
	if (!token && strncmp(sec, SECRET_TOKEN_PREFIX, strlen(SECRET_TOKEN_PREFIX)) == 0) {
		nhi_seterr(why, len, NHI_ERR_FORMAT, "not a well-formed token (bad checksum)");
		return 0;
	}
	if (token) {
		r = secret_pepper_load(x->conf.token_pepper_file, 0, pepper, err, sizeof(err));
		if (r < 0) {
			nhi_seterr(why, len, r, "%s", err);
			return r;
		}
		st = reg_prep(x, "SELECT " CRED_COLS " FROM credential c WHERE c.identity_id = ? "
			      "AND c.kind = 'token' AND c.cred_id = ?", "is", id->id, tid);
	} else {
		st = reg_prep(x, "SELECT " CRED_COLS " FROM credential c WHERE c.identity_id = ? "
			      "AND c.kind = 'password' ORDER BY c.id DESC", "i", id->id);
	}
	if (st == NULL) {
		OPENSSL_cleanse(pepper, sizeof(pepper));
		return NHI_ERR_DB;
	}
	while (!found && (r = sqlite3_step(st)) == SQLITE_ROW) {
		cred_from_row(st, c);
		if (token)
			found = secret_token_verify(pepper, sizeof(pepper), sec, c->hash) == 0;
		/* an expired or revoked password (the newest few: each costs a
		 * hash) is named as a token is, not "no credential matches" */
		else if (cred_usable(c, x->now) || old++ < OLD_PASSWORDS_TRIED)
			found = c->hash[0] != '\0' && secret_password_verify(sec, c->hash) == 0;
	}
	sqlite3_finalize(st);
	OPENSSL_cleanse(pepper, sizeof(pepper));
	if (!found) {
		nhi_seterr(why, len, NHI_ERR_PERM, "no credential of this identity matches");
		return 0;
	}
	if (!cred_usable(c, x->now)) {
		nhi_seterr(why, len, NHI_ERR_PERM, "credential %s is %s", c->id,
			   cred_state(c, x->now));
		return 0;
	}
	return 1;
}

static int cred_verify(struct nhictl *x, const char *name)
{
	char sec[4096], why[512] = "";
	struct ident id;
	struct cred c;
	size_t n;
	int r;

	no_dumps();
	if ((r = ident_get(x, name, &id)) != 0)
		return r;
	r = read_secret(sec, sizeof(sec), &n);
	if (r < 0 || n == 0) {
		OPENSSL_cleanse(sec, sizeof(sec));
		verify_result(x, name, NULL, r < 0 ? "cannot read the secret from stdin"
						   : "no secret on stdin");
		return EXIT_FAIL;
	}
	/* the identity first: a suspended or expired one has no valid secret */
	r = store_ident_usable(x, &id, why, sizeof(why));
	if (r == 0)
		r = match_secret(x, &id, sec, &c, why, sizeof(why));
	OPENSSL_cleanse(sec, sizeof(sec));
	if (r == NHI_ERR_DB)
		return EXIT_FAIL;
	verify_result(x, name, r == 1 ? &c : NULL, r == 1 ? NULL : why);
	/* the use, counted at the next audit or sync (not for a caller that
	 * cannot write usage_log: verify answers all the same) */
	if (r == 1)
		(void)usage_append(x, id.name, c.id);
	OPENSSL_cleanse(c.hash, sizeof(c.hash));
	return r == 1 ? EXIT_OK : EXIT_FAIL;
}

/* cred's options, and which sub-command takes them (subcmd_run) */
enum { CRED_KIND = 1, CRED_EXPIRES = 2, CRED_OUT = 4, CRED_COUNT = 8 };
#define CRED_COUNT_MAX 10000
struct cred_opt {
	const char *kind, *expires, *out, *count;
};

/* NAME, the first operand of every cred sub-command */
static int cred_name(struct nhictl *x, const char *name)
{
	if (!nhi_valid_name(name))
		return nerr(x, EXIT_USAGE, "invalid identity name '%s'", name);
	return 0;
}

static int sub_add(struct nhictl *x, int argc, char **argv, void *opt)
{
	const struct cred_opt *o = opt;

	char *end;
	unsigned long count = 1;

	(void)argc;
	if (o->count != NULL) {
		errno = 0;
		count = strtoul(o->count, &end, 10);
		if (o->count[0] < '1' || o->count[0] > '9' || *end != '\0' || errno != 0 ||
		    count > CRED_COUNT_MAX)
			return nerr(x, EXIT_USAGE, "bad --count '%s': a number from 1 to %d",
				    o->count, CRED_COUNT_MAX);
	}
	return cred_name(x, argv[0]) ? EXIT_USAGE : cred_add(x, argv[0], o->kind, o->expires,
							      o->out, count, o->count != NULL);
}

static int sub_list(struct nhictl *x, int argc, char **argv, void *opt)
{
	(void)argc, (void)opt;
	return cred_name(x, argv[0]) ? EXIT_USAGE : cred_list(x, argv[0]);
}

static int sub_verify(struct nhictl *x, int argc, char **argv, void *opt)
{
	(void)argc, (void)opt;
	return cred_name(x, argv[0]) ? EXIT_USAGE : cred_verify(x, argv[0]);
}

static int sub_revoke(struct nhictl *x, int argc, char **argv, void *opt)
{
	(void)opt;
	if (cred_name(x, argv[0]))
		return EXIT_USAGE;
	if (argc < 2)
		return nerr(x, EXIT_USAGE, "revoke: missing credential ID (see 'nhictl cred list %s')",
			    argv[0]);
	if (!nhi_valid_text(argv[1], CRED_ID_MAX - 1, 1))
		return nerr(x, EXIT_USAGE, "invalid credential ID '%s'", argv[1]);
	return cred_revoke(x, argv[0], argv[1]);
}

static const struct subcmd cred_subs[] = {
	{ "add", sub_add, 1, 1, CRED_KIND | CRED_EXPIRES | CRED_OUT | CRED_COUNT, "identity name" },
	{ "list", sub_list, 1, 1, 0, "identity name" },
	{ "revoke", sub_revoke, 1, 2, 0, "identity name" },
	{ "verify", sub_verify, 1, 1, 0, "identity name" },
	{ NULL, NULL, 0, 0, 0, NULL },
};

int cmd_cred(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "expires", required_argument, NULL, 'e' },
		{ "out", required_argument, NULL, 'o' },
		{ "count", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cred_opt o = { NULL, NULL, NULL, NULL };
	unsigned given = 0;
	int c;

	while ((c = getopt_long(argc, argv, ":k:e:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': o.kind = optarg; given |= CRED_KIND; break;
		case 'e': o.expires = optarg; given |= CRED_EXPIRES; break;
		case 'o': o.out = optarg; given |= CRED_OUT; break;
		case 'n': o.count = optarg; given |= CRED_COUNT; break;
		case 'j': x->json = 1; break;
		case 'h': fputs(cred_help, stdout); return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	return subcmd_run(x, cred_subs, argc, argv, &o, given,
			  "--kind, --expires, --out and --count are for 'cred add'");
}

/* ---- rotate ---------------------------------------------------------------- */

struct rotation {
	int64_t row;              /* the journal row */
	struct cred old;
	struct newcred n;
	int64_t grace;
	const char *out;
	long long serial;         /* read by the store's cred_lock at step 1 */
	struct store_rot sr;      /* what the store's rot_* see */
};

/* Steps 1-2: the checks, the new secret and the journal row, committed. */
static int rotation_journal(struct nhictl *x, const struct ident *id, struct rotation *rt)
{
	char start[32];
	int64_t pending = 0;
	int r;

	if (rt->old.rotating ||
	    reg_int(x, &pending, 0, "SELECT count(*) FROM rotation WHERE credential_id = ? AND "
		    "state = 'pending'", "i", rt->old.row) < 0 || pending)
		return nerr(x, EXIT_FAIL, "a rotation of %s credential %s is already in progress: "
			    "refused", id->name, rt->old.id);
	if (proc_start_time(getpid(), start, sizeof(start)) < 0)
		return nerr(x, EXIT_FAIL, "cannot read /proc/self/stat: %s", strerror(errno));
	r = reg_exec(x, "INSERT INTO rotation (credential_id, state, step, new_cred_id, "
		     "new_fingerprint, new_public_part, new_secret_hash, new_serial, "
		     "new_not_after, grace, out_path, started, pid, pid_start, actor, dir_serial) "
		     "VALUES (?, 'pending', 'journaled', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		     "isssssiisiissi", rt->old.row, rt->n.id, rt->n.fingerprint, rt->n.public_part,
		     rt->n.hash, rt->n.serial, rt->n.not_after, rt->grace,
		     rt->out ? rt->out : "", (int64_t)x->now, (int64_t)getpid(), start, x->actor,
		     (int64_t)rt->serial);
	if (r < 0)
		return EXIT_FAIL;
	rt->row = sqlite3_last_insert_rowid(x->db);
	return reg_commit_journal(x) < 0 ? EXIT_FAIL : 0;
}

/* The journal row's step, outside a transaction (autocommit). */
static int journal_step(struct nhictl *x, const struct rotation *rt, const char *step)
{
	if (reg_exec(x, "UPDATE rotation SET step = ? WHERE id = ?", "si", step, rt->row) < 0)
		return EXIT_FAIL;
	NHI_CRASH_POINT("rotation-journal-step", step);
	return 0;
}

/* Step 3: the truth's part (the store's rot_apply: nothing with backend
 * = local, whose truth rotation_finish() changes in one transaction; with
 * ldap the journal row's step becomes 'directory').
 * 0; NHI_ERR_STATE when it failed and could not be undone (the journal
 * row stays pending for the next run); another NHI_ERR_* when it failed
 * and nothing is left of it. */
static int rotation_directory(struct nhictl *x, const struct ident *id, struct rotation *rt)
{
	int r;

	if (fault("rotate-directory-fail"))
		return nerr(x, NHI_ERR_IO, "the directory step failed (test fault)");
	rt->sr = (struct store_rot){ .id = id, .old = &rt->old, .n = &rt->n, .grace = rt->grace,
				     .grace_until = rt->grace > 0 ? (int64_t)x->now + rt->grace : 0,
				     .serial = rt->serial, .journal_row = rt->row };
	if ((r = x->store->rot_apply(x, &rt->sr)) < 0)
		return r;
	fault("rotate-after-directory-crash");
	return 0;
}

/* The old credential's grace ends no later than the credential itself
 * (its not_after) or the identity (its expiry) would: past either it is
 * refused anyway, and 'show' would promise a window that is not there.
 * A --grace given that reaches past them is said (a warning). */
static void grace_clamp(struct nhictl *x, const struct ident *id, const struct cred *old,
			int64_t *grace, int given)
{
	char b[NHI_TIME_BUFSZ];
	int64_t end = 0;
	const char *what = NULL;

	if (old->not_after > 0)
		end = old->not_after, what = "the credential's not_after";
	if (id->expires > 0 && (end == 0 || id->expires < end))
		end = id->expires, what = "the identity's expiry";
	if (end == 0 || (int64_t)x->now + *grace <= end)
		return;
	*grace = end > (int64_t)x->now ? end - (int64_t)x->now : 0;
	if (given)
		nerr(x, 0, "warning: --grace reaches past %s (%s): the old credential's grace "
		     "ends then", what, nhi_format_time((time_t)end, b));
}

/* Step 5: make the new credential valid, the old one grace; done. */
static int rotation_finish(struct nhictl *x, const struct ident *id, struct rotation *rt)
{
	char why[512], b1[NHI_TIME_BUFSZ], state[16] = "";
	sqlite3_stmt *st;
	int64_t until = (int64_t)x->now + rt->grace;
	int r;

	if (reg_begin(x) < 0)
		return EXIT_FAIL;
	st = reg_prep(x, "SELECT state FROM rotation WHERE id = ?", "i", rt->row);
	if (st == NULL)
		return EXIT_FAIL;
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(state, sizeof(state), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (strcmp(state, "pending") != 0)
		return nerr(x, EXIT_FAIL, "the rotation of %s credential %s was cancelled meanwhile "
			    "(%s)", id->name, rt->old.id, state[0] ? state : "gone");
	/* the new credential valid, the old one in grace or revoked (with
	 * a directory: read back from it) */
	r = x->store->rot_finish(x, &rt->sr);
	if (r == 0)
		r = reg_exec(x, "UPDATE rotation SET state = 'done', step = 'done', finished = ? "
			     "WHERE id = ?", "ii", (int64_t)x->now, rt->row);
	if (r == 0)
		r = reg_event(x, "rotate", id->name, "ok", "id=%s -> %s kind=%s fingerprint=%s "
			      "not_after=%s; old %s %s %s", rt->old.id, rt->n.id, rt->n.kind,
			      rt->n.fingerprint, nhi_format_time((time_t)rt->n.not_after, b1),
			      rt->old.id, rt->grace > 0 ? "in grace until" : "revoked at",
			      nhi_format_time((time_t)(rt->grace > 0 ? until : (int64_t)x->now),
					      why));
	if (r < 0) {
		reg_rollback(x);
		return EXIT_FAIL;
	}
	return reg_commit(x) < 0 ? EXIT_FAIL : 0;
}

/* A failed step: the journal row rolled back, audited; the old credential
 * was never touched. */
static void rotation_abort(struct nhictl *x, const struct ident *id, struct rotation *rt,
			   const char *step)
{
	/* another rotation stood (the store said so and withdrew ours): the
	 * old credential is that rotation's to keep or retire */
	int lost = strcmp(step, "overwritten") == 0;
	/* or the servers did not agree in time: ours withdrawn (said) */
	int unconfirmed = strcmp(step, "unconfirmed") == 0;

	reg_rollback(x);
	if (reg_begin(x) < 0)
		return;
	if (reg_exec(x, "UPDATE rotation SET state = 'rolled-back', step = ?, finished = ? "
		     "WHERE id = ? AND state = 'pending'", "sii", step, (int64_t)x->now,
		     rt->row) < 0 ||
	    (lost ? reg_event(x, "rotate", id->name, "overwritten", "id=%s -> %s: another "
			      "rotation of %s stands in the directory; %s withdrawn, never handed "
			      "over", rt->old.id, rt->n.id, rt->old.id, rt->n.id)
	     : unconfirmed ? reg_event(x, "rotate", id->name, "unconfirmed", "id=%s -> %s: the "
				       "servers of ldap_uri did not agree in time; %s withdrawn, "
				       "never handed over; %s active again", rt->old.id, rt->n.id,
				       rt->n.id, rt->old.id)
		  : reg_event(x, "rotate", id->name, "failed", "id=%s -> %s: failed at %s; "
			      "rolled back", rt->old.id, rt->n.id, step)) < 0 ||
	    reg_commit_journal(x) < 0) {
		reg_rollback(x);
		return;
	}
	if (!lost && !unconfirmed)
		nerr(x, 0, "rotation of %s credential %s failed at '%s' and was rolled back: %s "
		     "stays valid", id->name, rt->old.id, step, rt->old.id);
}

/* The credential to rotate: --cred ID, or the only active one. */
static int pick_cred(struct nhictl *x, const struct ident *id, const char *cid, struct cred *c)
{
	sqlite3_stmt *st;
	int n = 0, r;

	if (cid != NULL) {
		if (cred_load(x, id, cid, c) < 0)
			return EXIT_FAIL;
		if (strcmp(cred_state(c, x->now), "active") != 0)
			return nerr(x, EXIT_FAIL, "credential %s is %s: only an active credential "
				    "is rotated", c->id, cred_state(c, x->now));
		return 0;
	}
	st = reg_prep(x, "SELECT " CRED_COLS " FROM credential c WHERE c.identity_id = ? AND "
		      "c.state = 'active' AND (c.not_after = 0 OR c.not_after > ?) ORDER BY c.id",
		      "ii", id->id, (int64_t)x->now);
	if (st == NULL)
		return EXIT_FAIL;
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		if (n++ == 0)
			cred_from_row(st, c);
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		reg_dberr(x);
		return EXIT_FAIL;
	}
	if (n == 0)
		return nerr(x, EXIT_FAIL, "identity '%s' has no active credential to rotate "
			    "('nhictl cred add %s --kind KIND')", id->name, id->name);
	if (n > 1)
		return nerr(x, EXIT_FAIL, "identity '%s' has %d active credentials: name one with "
			    "--cred ID ('nhictl cred list %s')", id->name, n, id->name);
	return 0;
}

int cmd_rotate(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cred", required_argument, NULL, 'i' },
		{ "grace", required_argument, NULL, 'g' },
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name, *cid = NULL, *grace_s = NULL;
	char why[512];
	struct rotation rt;
	struct ident id;
	int c, r;

	memset(&rt, 0, sizeof(rt));
	rt.grace = x->conf.rotation_grace;
	while ((c = getopt_long(argc, argv, ":i:g:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': cid = optarg; break;
		case 'g': grace_s = optarg; break;
		case 'o': rt.out = optarg; break;
		case 'j': x->json = 1; break;
		case 'h': fputs(rotate_help, stdout); return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	if ((r = one_name(x, argc, argv, &name, "identity name")) != 0)
		return r;
	if (grace_s != NULL && nhi_parse_duration(grace_s, &rt.grace, why, sizeof(why)) < 0)
		return nerr(x, EXIT_USAGE, "bad --grace '%s': %s", grace_s, why);
	if (rt.grace < 0)
		return nerr(x, EXIT_USAGE, "bad --grace '%s': may not be negative", grace_s);
	if (cid != NULL && !nhi_valid_text(cid, CRED_ID_MAX - 1, 1))
		return nerr(x, EXIT_USAGE, "invalid credential ID '%s'", cid);
	/* 1. lock and check */
	if ((r = lock_usable(x, name, rt.out, &id, &rt.serial)) != 0)
		return r;
	if ((r = pick_cred(x, &id, cid, &rt.old)) != 0)
		return r;
	grace_clamp(x, &id, &rt.old, &rt.grace, grace_s != NULL);
	/* 2. the new secret, of the same kind, and the journal */
	if ((r = cred_not_after(x, &id, rt.old.kind, NULL, &rt.n.not_after)) != 0 ||
	    (r = cred_generate(x, &id, rt.old.kind, rt.n.not_after, &rt.n)) != 0)
		return r;
	if ((r = rotation_journal(x, &id, &rt)) != 0)
		goto out;
	fault("rotate-after-journal-crash");
	fault("rotate-after-journal-pause");
	/* 3. the directory */
	if ((r = rotation_directory(x, &id, &rt)) != 0) {
		if (r != NHI_ERR_STATE)   /* else left pending for the next run */
			rotation_abort(x, &id, &rt, r == NHI_ERR_EXISTS ? "overwritten" :
				       r == NHI_ERR_BUSY ? "unconfirmed" : "directory");
		r = EXIT_FAIL;
		goto out;
	}
	/* 4. hand over, journaled first: once the holder may have the new
	 * secret, an interrupted rotation is completed, never undone */
	r = journal_step(x, &rt, "handed-over");
	if (r == 0 && fault("rotate-handover-fail"))
		r = nerr(x, EXIT_FAIL, "handing the secret over failed (test fault)");
	else if (r == 0)
		r = cred_handover(x, &id, &rt.n, rt.out, "rotated to");
	if (r == 0)
		NHI_CRASH_POINT("secret-handed-over", id.name);
	if (r != 0) {
		/* not handed over after all: a row left pending is undone */
		journal_step(x, &rt, "handover-failed");
		if (x->store->rot_undo(x, &rt.sr) == 0)   /* else left pending */
			rotation_abort(x, &id, &rt, "handover");
		r = EXIT_FAIL;
		goto out;
	}
	fault("rotate-after-handover-crash");
	/* 5. done */
	r = rotation_finish(x, &id, &rt);
	/* the store may keep it (the truth holds the new credential and its
	 * holder has it); else rolled back */
	if (r != 0 && !x->store->rot_keep(x))
		rotation_abort(x, &id, &rt, "finish");
out:
	newcred_free(&rt.n);
	fault("rotate-done-pause");   /* tests: a core taken now holds no secret */
	return r;
}

/* ---- authorized-keys --------------------------------------------------------- */

/* authorized-keys: each key as a line for sshd, or an object of --json. */
struct keys_out {
	struct nhictl *x;
	struct json *j;
};

static int print_key(void *ctx, const struct nhi_key *k)
{
	struct keys_out *o = ctx;

	if (o->x->json) {
		char key[4096];

		snprintf(key, sizeof(key), "%.*s", (int)k->len, k->line);
		json_obj(o->j);
		json_kstr(o->j, "key", key);
		json_ktime(o->j, "grace_until", k->grace_until);
		json_ktime(o->j, "not_after", k->not_after);
		json_obj_end(o->j);
	} else {
		fwrite(k->line, 1, k->len, stdout);
		putchar('\n');
	}
	return 0;
}

int cmd_authorized_keys(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct nhi_decision d;
	struct keys_out o;
	const char *user;
	char err[PATH_MAX + 256];
	struct json j;
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': x->json = 1; break;
		case 'h': fputs(keys_help, stdout); return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	if (optind >= argc)
		return nerr(x, EXIT_USAGE, "missing user name (try 'nhictl %s --help')", x->verb);
	if (optind + 1 < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind + 1]);
	user = argv[optind];
	if (x->json) {
		json_init(&j, stdout);
		json_arr(&j);
	}
	o.x = x;
	o.j = &j;
	r = nhi_keys_for(&x->conf, user, x->now, print_key, &o, &d, err, sizeof(err));
	if (r < 0)
		r = nerr(x, EXIT_FAIL, "%s", err);
	else if (d.registered && d.verdict != NHI_V_ALLOW)
		nerr(x, 0, "%s: %s (%s): no keys", user, nhi_verdict_str(d.verdict),
		     nhi_reason_str(d.reason));
	if (x->json) {
		json_arr_end(&j);
		json_end(&j);
	}
	return r < 0 ? EXIT_FAIL : r;
}

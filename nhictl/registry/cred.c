/* cred.c - credentials as registry rows, issuing and handing them over,
 * the rotation journal's recovery, and the public-key index that
 * `nhictl authorized-keys` reads.
 *
 * A credential row holds only what is not secret: its public id, kind,
 * fingerprint, public part (SSH public key, certificate PEM) and the hash
 * of the secret (yescrypt for passwords, HMAC-SHA-256 with a root-only
 * pepper for tokens).  The secret itself exists only in memory, from its
 * generation (secret.c, OpenSSL's CSPRNG) until it is handed over, and is
 * wiped then.  It is written with write(2) or into a buffer of our own,
 * never through stdio's buffers, and never into a message or the audit log.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "nhi_file.h"
#include "nhi_hash.h"
#include "nhi_pwhash.h"
#include "nhictl.h"
#include "secret.h"
#include "dircred.h"
#include "store.h"

void cred_from_row(sqlite3_stmt *st, struct cred *c)
{
	memset(c, 0, sizeof(*c));
	c->row = sqlite3_column_int64(st, 0);
	c->identity_id = sqlite3_column_int64(st, 1);
	col_cpy(c->id, sizeof(c->id), st, 2);
	col_cpy(c->kind, sizeof(c->kind), st, 3);
	col_cpy(c->state, sizeof(c->state), st, 4);
	col_cpy(c->fingerprint, sizeof(c->fingerprint), st, 5);
	col_cpy(c->serial, sizeof(c->serial), st, 6);
	col_cpy(c->replaces, sizeof(c->replaces), st, 7);
	col_cpy(c->public_part, sizeof(c->public_part), st, 8);
	col_cpy(c->hash, sizeof(c->hash), st, 9);
	c->created = sqlite3_column_int64(st, 10);
	c->not_after = sqlite3_column_int64(st, 11);
	c->grace_until = sqlite3_column_int64(st, 12);
	c->revoked_at = sqlite3_column_int64(st, 13);
	c->last_used = sqlite3_column_int64(st, 14);
	c->rotating = sqlite3_column_int(st, 15);
}

const char *cred_state(const struct cred *c, time_t now)
{
	if (strcmp(c->state, "revoked") == 0)
		return "revoked";
	if (strcmp(c->state, "grace") == 0 && c->grace_until <= (int64_t)now)
		return "revoked";   /* lazily: the next rotate or sync records it */
	if (c->not_after != 0 && c->not_after <= (int64_t)now)
		return "expired";
	return c->state;
}

int cred_usable(const struct cred *c, time_t now)
{
	const char *s = cred_state(c, now);

	return strcmp(s, "active") == 0 || strcmp(s, "grace") == 0;
}

int cred_kind_valid(const char *kind)
{
	return strcmp(kind, "password") == 0 || strcmp(kind, "token") == 0 ||
	       strcmp(kind, "ssh-key") == 0 || strcmp(kind, "certificate") == 0;
}

int cred_load(struct nhictl *x, const struct ident *id, const char *cred_id, struct cred *c)
{
	sqlite3_stmt *st = reg_prep(x, "SELECT " CRED_COLS " FROM credential c "
				    "WHERE c.identity_id = ? AND c.cred_id = ?", "is",
				    id->id, cred_id);
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		cred_from_row(st, c);
		r = 0;
	} else if (r == SQLITE_DONE) {
		r = nerr(x, NHI_ERR_NOTFOUND, "identity '%s' has no credential '%s'",
			 id->name, cred_id);
	} else {
		r = reg_dberr(x);
	}
	sqlite3_finalize(st);
	return r;
}

int cred_not_after(struct nhictl *x, const struct ident *id, const char *kind,
		   const char *expires, int64_t *not_after)
{
	char err[256], b1[NHI_TIME_BUFSZ], d[32];
	int64_t max = (int64_t)x->now + x->conf.max_credential_age;
	time_t t;

	if (expires != NULL) {
		if (nhi_parse_time(expires, x->now, &t, err, sizeof(err)) < 0)
			return nerr(x, EXIT_USAGE, "bad --expires '%s': %s", expires, err);
		if ((int64_t)t <= (int64_t)x->now)
			return nerr(x, EXIT_FAIL, "not-after %s is not in the future",
				    nhi_format_time(t, b1));
		if ((int64_t)t > max)
			return nerr(x, EXIT_FAIL, "not-after %s is beyond max_credential_age "
				    "(%s from now)", nhi_format_time(t, b1),
				    nhi_format_duration(x->conf.max_credential_age, d, sizeof(d)));
		*not_after = (int64_t)t;
	} else if (strcmp(kind, "certificate") == 0) {
		*not_after = (int64_t)x->now + x->conf.cert_lifetime;
		if (*not_after > max)
			*not_after = max;
	} else {
		*not_after = max;
	}
	/* no credential outlives its identity */
	if (*not_after > id->expires) {
		if (expires != NULL)
			fprintf(stderr, "nhictl: %s: note: not-after capped at the expiry of "
				"'%s' (%s)\n", x->verb, id->name,
				nhi_format_time((time_t)id->expires, b1));
		*not_after = id->expires;
	}
	return 0;
}

void newcred_free(struct newcred *n)
{
	free(n->public_part);
	secret_free(n->secret);
	OPENSSL_cleanse(n->hash, sizeof(n->hash));
	memset(n, 0, sizeof(*n));
}

/* "c" + 12 hex digits: a public name for a credential that has none of its
 * own (a token's id is part of the token). */
static int new_id(char *out, size_t len)
{
	unsigned char b[6];
	size_t i;

	if (len < 14 || RAND_bytes(b, sizeof(b)) != 1)
		return NHI_ERR_IO;
	out[0] = 'c';
	for (i = 0; i < sizeof(b); i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", b[i]);
	return 0;
}

static char *heap_copy(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

static int gen_password(struct nhictl *x, struct newcred *n, char *err, size_t errlen)
{
	char pw[SECRET_PASSWORD_LEN + 1];
	int r;

	r = secret_password_new(pw, sizeof(pw));
	if (r == 0)
		r = secret_password_hash(pw, n->hash, sizeof(n->hash));
	if (r == 0 && (n->secret = malloc(sizeof(pw) + 1)) == NULL)
		r = NHI_ERR_NOMEM;
	if (r == 0) {
		n->secret_len = (size_t)snprintf(n->secret, sizeof(pw) + 1, "%s\n", pw);
		snprintf(n->fingerprint, sizeof(n->fingerprint), "%s", n->id);
		n->public_part = heap_copy("");
		if (n->public_part == NULL)
			r = NHI_ERR_NOMEM;
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	if (r < 0)
		nhi_seterr(err, errlen, r, "cannot generate a password: %s", nhi_strerror(r));
	(void)x;
	return r;
}

static int gen_token(struct nhictl *x, struct newcred *n, char *err, size_t errlen)
{
	unsigned char pepper[SECRET_PEPPER_LEN];
	char tok[SECRET_TOKEN_MAX + 1];
	int r;

	r = secret_pepper_load(x->conf.token_pepper_file, 1, pepper, err, errlen);
	if (r < 0)
		return r;
	r = secret_token_new(tok, sizeof(tok), n->id, sizeof(n->id));
	if (r == 0)
		r = secret_token_mac(pepper, sizeof(pepper), tok, n->hash, sizeof(n->hash));
	if (r == 0 && (n->secret = malloc(sizeof(tok) + 1)) == NULL)
		r = NHI_ERR_NOMEM;
	if (r == 0) {
		n->secret_len = (size_t)snprintf(n->secret, sizeof(tok) + 1, "%s\n", tok);
		snprintf(n->fingerprint, sizeof(n->fingerprint), "%s%s", SECRET_TOKEN_PREFIX, n->id);
		n->public_part = heap_copy("");
		if (n->public_part == NULL)
			r = NHI_ERR_NOMEM;
	}
	OPENSSL_cleanse(tok, sizeof(tok));
	OPENSSL_cleanse(pepper, sizeof(pepper));
	if (r < 0)
		nhi_seterr(err, errlen, r, "cannot generate a token: %s", nhi_strerror(r));
	return r;
}

static int gen_ssh(struct nhictl *x, const struct ident *id, struct newcred *n,
		   char *err, size_t errlen)
{
	char comment[128];
	int r;

	snprintf(comment, sizeof(comment), "%s nhi:%s", id->name, n->id);
	r = secret_ssh_new(comment, &n->secret, &n->public_part, n->fingerprint,
			   sizeof(n->fingerprint));
	if (r < 0)
		return nhi_seterr(err, errlen, r, "cannot generate an SSH key: %s", nhi_strerror(r));
	n->secret_len = strlen(n->secret);
	(void)x;
	return 0;
}

static int gen_cert(struct nhictl *x, const struct ident *id, struct newcred *n,
		    char *err, size_t errlen)
{
	char *cert = NULL, *key = NULL;
	size_t lc, lk;
	int r;

	if (x->conf.ca_cert[0] == '\0')
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "certificates need a CA: set ca_cert "
				  "and ca_key in %s", x->conf.path[0] ? x->conf.path : "nhi.conf");
	r = secret_cert_new(x->conf.ca_cert, x->conf.ca_key, id->name, (time_t)n->not_after,
			    &cert, &key, n->serial, sizeof(n->serial), n->fingerprint,
			    sizeof(n->fingerprint), err, errlen);
	if (r < 0)
		goto out;
	/* the holder gets the certificate followed by its private key */
	lc = strlen(cert);
	lk = strlen(key);
	n->secret = malloc(lc + lk + 1);
	if (n->secret == NULL) {
		r = nhi_seterr(err, errlen, NHI_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(n->secret, cert, lc);
	memcpy(n->secret + lc, key, lk + 1);
	n->secret_len = lc + lk;
	n->public_part = cert;
	cert = NULL;
out:
	free(cert);
	secret_free(key);
	return r;
}

int cred_generate(struct nhictl *x, const struct ident *id, const char *kind,
		  int64_t not_after, struct newcred *n)
{
	char err[512] = "";
	int r;

	memset(n, 0, sizeof(*n));
	snprintf(n->kind, sizeof(n->kind), "%s", kind);
	n->not_after = not_after;
	if (strcmp(kind, "token") != 0 && new_id(n->id, sizeof(n->id)) < 0)
		return nerr(x, EXIT_FAIL, "the random generator failed");
	if (strcmp(kind, "password") == 0)
		r = gen_password(x, n, err, sizeof(err));
	else if (strcmp(kind, "token") == 0)
		r = gen_token(x, n, err, sizeof(err));
	else if (strcmp(kind, "ssh-key") == 0)
		r = gen_ssh(x, id, n, err, sizeof(err));
	else
		r = gen_cert(x, id, n, err, sizeof(err));
	if (r < 0) {
		newcred_free(n);
		return nerr(x, EXIT_FAIL, "%s", err[0] ? err : nhi_strerror(r));
	}
	return 0;
}

int cred_insert(struct nhictl *x, const struct ident *id, const struct newcred *n,
		const char *replaces)
{
	return reg_exec(x, "INSERT INTO credential (identity_id, cred_id, kind, fingerprint, "
			"public_part, secret_hash, serial, created, not_after, state, replaces) "
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?)", "issssssiis",
			id->id, n->id, n->kind, n->fingerprint, n->public_part, n->hash,
			n->serial, (int64_t)x->now, n->not_after, replaces ? replaces : "");
}

/* The credential as JSON, with the secret when 'secret' is set: written
 * into a buffer of our own (unbuffered stream), sent with write(2), wiped. */
static int handover_json(struct nhictl *x, const struct ident *id, const struct newcred *n,
			 const char *out, int with_secret)
{
	size_t cap = 6 * n->secret_len + 6 * strlen(n->public_part) + 4096;
	char *buf = calloc(1, cap);
	struct json j;
	FILE *f;
	int r = 0;

	if (buf == NULL)
		return nerr(x, EXIT_FAIL, "out of memory");
	f = fmemopen(buf, cap, "w");
	if (f == NULL) {
		free(buf);
		return nerr(x, EXIT_FAIL, "out of memory");
	}
	setvbuf(f, NULL, _IONBF, 0);
	json_init(&j, f);
	json_obj(&j);
	json_kstr(&j, "identity", id->name);
	json_kstr(&j, "id", n->id);
	json_kstr(&j, "kind", n->kind);
	json_kstr(&j, "fingerprint", n->fingerprint);
	json_kstr(&j, "public", n->public_part[0] ? n->public_part : NULL);
	json_kstr(&j, "serial", n->serial[0] ? n->serial : NULL);
	json_ktime(&j, "created", (int64_t)x->now);
	json_ktime(&j, "not_after", n->not_after);
	json_kstr(&j, "out", out);
	if (with_secret) {
		/* a password or token without the newline that ends it on stdout */
		int strip = n->secret_len > 0 && n->secret[n->secret_len - 1] == '\n' &&
			    (strcmp(n->kind, "password") == 0 || strcmp(n->kind, "token") == 0);

		if (strip)
			n->secret[n->secret_len - 1] = '\0';
		json_kstr(&j, "secret", n->secret);
		if (strip)
			n->secret[n->secret_len - 1] = '\n';
	}
	json_obj_end(&j);
	json_end(&j);
	if (ferror(f) || ftell(f) < 0 || (size_t)ftell(f) >= cap)
		r = nerr(x, EXIT_FAIL, "the JSON output did not fit");
	else if (fflush(stdout) != 0 || nhi_write_all(1, buf, (size_t)ftell(f)) < 0)
		r = nerr(x, EXIT_FAIL, "cannot write to stdout: %s", strerror(errno));
	fclose(f);
	OPENSSL_cleanse(buf, cap);
	free(buf);
	return r;
}

int cred_handover(struct nhictl *x, const struct ident *id, const struct newcred *n,
		  const char *out, const char *what)
{
	char err[PATH_MAX + 256], b1[NHI_TIME_BUFSZ];
	int r;

	if (out != NULL) {
		r = secret_write_file(out, n->secret, n->secret_len, (uid_t)id->uid,
				      (gid_t)id->gid, err, sizeof(err));
		if (r < 0)
			return nerr(x, EXIT_FAIL, "%s", err);
		if (x->json)
			return handover_json(x, id, n, out, 0);
		printf("%s: %s %s %s %s, not after %s, written to %s\n", id->name, what, n->kind,
		       n->id, n->fingerprint, nhi_format_time((time_t)n->not_after, b1), out);
		return fflush(stdout) == 0 ? 0 : nerr(x, EXIT_FAIL, "cannot write to stdout");
	}
	if (x->json)
		return handover_json(x, id, n, NULL, 1);
	if (fflush(stdout) != 0 || nhi_write_all(1, n->secret, n->secret_len) < 0)
		return nerr(x, EXIT_FAIL, "cannot write the secret to stdout: %s", strerror(errno));
	fprintf(stderr, "nhictl: %s: %s: %s %s %s, not after %s (the secret above is shown "
		"once)\n", x->verb, id->name, what, n->kind, n->id,
		nhi_format_time((time_t)n->not_after, b1));
	return 0;
}

/* ---- grace windows, retire, recovery -------------------------------- */

int cred_sweep(struct nhictl *x, struct dir *d, int *n)
{
	sqlite3_stmt *st;
	char b1[NHI_TIME_BUFSZ];
	int r;

	*n = 0;
	st = reg_prep(x, "SELECT i.name, c.cred_id, c.kind, c.fingerprint, c.grace_until, "
		      "c.secret_hash, c.id "
		      "FROM credential c JOIN identity i ON i.id = c.identity_id "
		      "WHERE c.state = 'grace' AND c.grace_until <= ? ORDER BY c.id", "i",
		      (int64_t)x->now);
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *cid = (const char *)sqlite3_column_text(st, 1);
		const char *kind = (const char *)sqlite3_column_text(st, 2);

		/* the directory first (the old password stops binding); one
		 * that cannot be written now stays 'grace' here, to be retried
		 * (cred_state already answers 'revoked' for it) */
		if (d != NULL && dc_revoke(d, name, cid, strcmp(kind, "password") == 0 ?
					   (const char *)sqlite3_column_text(st, 5) : NULL,
					   sqlite3_column_int64(st, 4)) != 0) {
			nerr(x, 0, "warning: %s credential %s: its grace ended, but the directory "
			     "could not be updated; retried next time", name, cid);
			continue;
		}
		r = reg_exec(x, "UPDATE credential SET state = 'revoked', revoked_at = grace_until "
			     "WHERE id = ?", "i", sqlite3_column_int64(st, 6));
		if (r == 0)
			r = reg_event(x, "cred-revoke", name, "ok", "id=%s kind=%s fingerprint=%s: "
			      "grace ended %s", sqlite3_column_text(st, 1),
			      sqlite3_column_text(st, 2), sqlite3_column_text(st, 3),
			      nhi_format_time((time_t)sqlite3_column_int64(st, 4), b1));
		if (r < 0)
			goto out;
		(*n)++;
	}
	r = r == SQLITE_DONE ? 0 : reg_dberr(x);
out:
	sqlite3_finalize(st);
	return r;
}

int cred_revoke_all(struct nhictl *x, const struct ident *id, int *n)
{
	int64_t k = 0;
	int r;

	r = reg_int(x, &k, 0, "SELECT count(*) FROM credential WHERE identity_id = ? "
		    "AND state != 'revoked'", "i", id->id);
	if (r == 0)
		r = reg_exec(x, "UPDATE rotation SET state = 'rolled-back', finished = ? "
			     "WHERE state = 'pending' AND credential_id IN "
			     "(SELECT id FROM credential WHERE identity_id = ?)", "ii",
			     (int64_t)x->now, id->id);
	if (r == 0)
		r = reg_exec(x, "UPDATE credential SET state = 'revoked', revoked_at = ? "
			     "WHERE identity_id = ? AND state != 'revoked'", "ii",
			     (int64_t)x->now, id->id);
	*n = (int)k;
	return r;
}

#ifdef NHI_TEST_HOOKS
int fault(const char *point)
{
	const char *f = secure_getenv("NHI_TEST_FAULT");

	if (f == NULL || strcmp(f, point) != 0)
		return 0;
	if (strstr(point, "-crash") != NULL) {
		fflush(NULL);
		raise(SIGKILL);   /* as sudden as a power cut: no cleanup */
	}
	if (strstr(point, "-pause") != NULL) {
		sleep(4);
		return 0;
	}
	return 1;   /* a simulated failure */
}
#endif

/* Does the journaled process still run?  pid and its start time (field 22
 * of /proc/PID/stat), so a reused pid is not mistaken for it. */
int proc_stat(pid_t pid, char *comm, size_t clen, char *state, char *start, size_t slen)
{
	char path[64], buf[1024], *p, *open_paren;
	ssize_t n;
	int fd, i;

	start[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	open_paren = strchr(buf, '(');
	p = strrchr(buf, ')');   /* the command name may hold spaces */
	if (p == NULL || open_paren == NULL || p < open_paren || p[1] != ' ')
		return -1;
	if (comm != NULL)
		snprintf(comm, clen, "%.*s", (int)(p - open_paren - 1), open_paren + 1);
	if (state != NULL)
		*state = p[2];
	/* after ") " come fields 3.. ; the start time is field 22 */
	for (i = 3; i < 22 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return -1;
	p++;
	snprintf(start, slen, "%.*s", (int)strcspn(p, " "), p);
	return 0;
}

int proc_start_time(pid_t pid, char *out, size_t len)
{
	return proc_stat(pid, NULL, 0, NULL, out, len);
}

static int proc_alive(int64_t pid, const char *start)
{
	char now[32];

	if (pid <= 0 || proc_start_time((pid_t)pid, now, sizeof(now)) < 0)
		return 0;
	return strcmp(now, start) == 0;
}

#define RECOVER_MAX_ATTEMPTS 3


/* Where did an interrupted rotation get to?  The rule of both backends:
 * once the new secret may have been handed over (journal step
 * 'handed-over', written just before the handover) its holder may have
 * it, so the rotation is completed (roll forward: the new credential
 * valid, the old one in its grace); before that nobody has it, so it is
 * undone (roll back: the old credential alone, as before).
 * With the local backend the registry is the truth and the journal row
 * says which.  A directory backend also makes the directory agree (redo
 * or undo its part); directory unreachable -> unknown, try again next
 * run.  The test faults recover-forward and recover-unknown stand in for
 * a directory's answers. */
static enum resolution rotation_resolve(struct nhictl *x, int64_t rid, const char *name,
					const char *step)
{
	if (fault("recover-forward"))
		return ROLL_FORWARD;
	if (fault("recover-unknown"))
		return UNKNOWN;
	return x->store->rot_resolve(x, rid, name, step);
}

struct pending {
	int64_t rid, cred_row, attempts, grace;
	char newid[CRED_ID_MAX], oldid[CRED_ID_MAX], name[64], step[32];
	char out[PATH_MAX];
};

/* The pending rows whose process is gone (collected first: they are then
 * changed one by one). */
static int stale_rows(struct nhictl *x, struct pending **rows, size_t *n)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int r;

	*rows = NULL;
	*n = 0;
	st = reg_prep(x, "SELECT r.id, r.pid, r.pid_start, r.attempts, r.new_cred_id, "
		      "r.out_path, c.cred_id, i.name, r.step, r.credential_id, r.grace "
		      "FROM rotation r JOIN credential c ON c.id = r.credential_id "
		      "JOIN identity i ON i.id = c.identity_id "
		      "WHERE r.state = 'pending' ORDER BY r.id", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct pending *p;

		if (proc_alive(sqlite3_column_int64(st, 1), (const char *)sqlite3_column_text(st, 2)))
			continue;   /* in progress in another nhictl */
		if (*n == cap) {
			struct pending *nr = realloc(*rows, (cap ? 2 * cap : 4) * sizeof(**rows));

			if (nr == NULL) {
				r = nerr(x, NHI_ERR_NOMEM, "out of memory");
				goto out;
			}
			*rows = nr;
			cap = cap ? 2 * cap : 4;
		}
		p = &(*rows)[(*n)++];
		p->rid = sqlite3_column_int64(st, 0);
		p->attempts = sqlite3_column_int64(st, 3);
		col_cpy(p->newid, sizeof(p->newid), st, 4);
		col_cpy(p->out, sizeof(p->out), st, 5);
		col_cpy(p->oldid, sizeof(p->oldid), st, 6);
		col_cpy(p->name, sizeof(p->name), st, 7);
		col_cpy(p->step, sizeof(p->step), st, 8);
		p->cred_row = sqlite3_column_int64(st, 9);
		p->grace = sqlite3_column_int64(st, 10);
	}
	r = r == SQLITE_DONE ? 0 : reg_dberr(x);
out:
	sqlite3_finalize(st);
	return r;
}

static int recover_one(struct nhictl *x, const struct pending *p)
{
	enum resolution res = rotation_resolve(x, p->rid, p->name, p->step);
	int64_t attempts = p->attempts + 1;
	int r;

	if (res == UNKNOWN && attempts < RECOVER_MAX_ATTEMPTS) {
		fprintf(stderr, "nhictl: %s: the interrupted rotation of %s credential %s cannot be "
			"resolved yet (attempt %lld of %d); %s stays valid\n", x->verb, p->name,
			p->oldid, (long long)attempts, RECOVER_MAX_ATTEMPTS, p->oldid);
		return reg_exec(x, "UPDATE rotation SET attempts = ? WHERE id = ?", "ii",
				attempts, p->rid);
	}
	if (res == UNKNOWN) {
		r = reg_exec(x, "UPDATE rotation SET state = 'failed', finished = ?, attempts = ? "
			     "WHERE id = ?", "iii", (int64_t)x->now, attempts, p->rid);
		if (r == 0)
			r = reg_event(x, "rotate", p->name, "failed", "id=%s -> %s: unresolved after "
				      "%lld attempts; set aside", p->oldid, p->newid, (long long)attempts);
		fprintf(stderr, "nhictl: %s: the interrupted rotation of %s credential %s could not "
			"be resolved in %d attempts: set aside as failed; %s stays valid\n", x->verb,
			p->name, p->oldid, RECOVER_MAX_ATTEMPTS, p->oldid);
		return r;
	}
	if (res == ROLL_FORWARD) {
		/* with a directory, what it now holds is read back */
		r = x->store->rot_forward(x, p->rid, p->cred_row, p->grace, p->name);
		if (r == 0)
			r = reg_exec(x, "UPDATE rotation SET state = 'done', finished = ?, attempts = ? "
				     "WHERE id = ?", "iii", (int64_t)x->now, attempts, p->rid);
		if (r == 0)
			r = reg_event(x, "rotate", p->name, "rolled-forward", "id=%s -> %s: "
				      "interrupted after step %s", p->oldid, p->newid, p->step);
		fprintf(stderr, "nhictl: %s: rolled forward the interrupted rotation of %s "
			"credential %s: %s is valid, %s stays valid for its grace\n", x->verb,
			p->name, p->oldid, p->newid, p->oldid);
		return r;
	}
	r = x->store->rot_back(x, p->name);
	if (r == 0)
		r = reg_exec(x, "UPDATE rotation SET state = 'rolled-back', finished = ?, "
			     "attempts = ? WHERE id = ?", "iii", (int64_t)x->now, attempts, p->rid);
	if (r == 0)
		r = reg_event(x, "rotate", p->name, "rolled-back", "id=%s -> %s: interrupted after "
			      "step %s", p->oldid, p->newid, p->step);
	fprintf(stderr, "nhictl: %s: rolled back the interrupted rotation of %s credential %s "
		"(stopped after '%s'): %s stays valid, %s was never made valid%s%s\n", x->verb,
		p->name, p->oldid, p->step, p->oldid, p->newid, p->out[0] ? "; discard " : "",
		p->out);
	return r;
}

int rotation_recover(struct nhictl *x, int *n)
{
	struct pending *rows;
	size_t i, k;
	int r;

	*n = 0;
	r = stale_rows(x, &rows, &k);
	for (i = 0; r == 0 && i < k; i++) {
		r = recover_one(x, &rows[i]);
		(*n)++;
	}
	free(rows);
	return r;
}

/* ---- the public-key index -------------------------------------------- */

/* The generation in the first line of the key index or the password
 * file (after 'magic'), or -1 (none, not ours). */
static int64_t file_generation(const char *path, const char *magic)
{
	unsigned long long gen;
	size_t m = strlen(magic);
	char line[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

	if (fd < 0)
		return -1;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	line[n] = '\0';
	if (strncmp(line, magic, m) != 0 || sscanf(line + m, "%llu", &gen) != 1 ||
	    gen > INT64_MAX)
		return -1;
	return (int64_t)gen;
}

int64_t keyidx_generation(struct nhictl *x)
{
	return file_generation(x->conf.key_index, "# nhi-keys 1 ");
}

/* One line per SSH key that may be served: "NAME GRACE_UNTIL NOT_AFTER
 * KEY..." (GRACE_UNTIL 0 = active), after a header naming the generation.
 * No secrets; 0644, written like the snapshot (temp file, fsync, rename). */
int keyidx_write(struct nhictl *x, uint64_t generation)
{
	char err[PATH_MAX + 256];
	sqlite3_stmt *st;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	st = reg_prep(x, "SELECT i.name, c.state, c.grace_until, c.not_after, c.public_part "
		      "FROM credential c JOIN identity i ON i.id = c.identity_id "
		      "WHERE c.kind = 'ssh-key' AND i.state != 'retired' AND "
		      "(c.state = 'active' OR (c.state = 'grace' AND c.grace_until > ?1)) "
		      "AND (c.not_after = 0 OR c.not_after > ?1) ORDER BY i.name, c.id", "i",
		      (int64_t)x->now);
	if (st == NULL)
		return NHI_ERR_DB;
	f = open_memstream(&buf, &len);
	if (f == NULL) {
		sqlite3_finalize(st);
		return nerr(x, NHI_ERR_NOMEM, "out of memory");
	}
	fprintf(f, "# nhi-keys 1 %llu\n", (unsigned long long)generation);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 4);
		int grace = strcmp((const char *)sqlite3_column_text(st, 1), "grace") == 0;

		if (key == NULL || strpbrk(key, "\n\r") != NULL || strncmp(key, "ssh-", 4) != 0)
			continue;   /* not a key line: never served */
		fprintf(f, "%s %lld %lld %s\n", sqlite3_column_text(st, 0),
			grace ? (long long)sqlite3_column_int64(st, 2) : 0LL,
			(long long)sqlite3_column_int64(st, 3), key);
	}
	r = r == SQLITE_DONE ? 0 : reg_dberr(x);
	sqlite3_finalize(st);
	if (fclose(f) != 0 && r == 0)
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
	if (r == 0) {
		r = nhi_write_atomic(x->conf.key_index, buf, len, 0644, 0, 0, 0, err, sizeof(err));
		if (r < 0)
			nerr(x, r, "%s", err);
	}
	free(buf);
	return r;
}

/* ---- the password file ------------------------------------------------ */

int64_t pwfile_generation(struct nhictl *x)
{
	return file_generation(x->conf.shadow_file, NHI_PWH_MAGIC);
}

/* nhi.shadow (nhi_pwhash.h): the crypt(3) hashes of the password
 * credentials usable now of the identities that are active or orphaned,
 * active newest first, then those in grace; 0600 root, written like the
 * snapshot (temp file, fsync, rename), the buffer wiped.  Identities that
 * have expired keep their records: the readers check the expiry in the
 * snapshot, so an `extend` (which does not rewrite this file) brings the
 * password back. */
int pwfile_write(struct nhictl *x, uint64_t generation)
{
	char err[PATH_MAX + 256], head[128];
	sqlite3_stmt *st;
	char *body = NULL, *all = NULL;
	size_t blen = 0, hlen, count = 0;
	FILE *f;
	int r;

	st = reg_prep(x, "SELECT i.name, c.state, c.grace_until, c.not_after, c.secret_hash "
		      "FROM credential c JOIN identity i ON i.id = c.identity_id "
		      "WHERE c.kind = 'password' AND i.state IN ('active', 'orphaned') AND "
		      "(c.state = 'active' OR (c.state = 'grace' AND c.grace_until > ?1)) "
		      "AND (c.not_after = 0 OR c.not_after > ?1) "
		      "ORDER BY i.name, c.state = 'grace', c.created DESC, c.id DESC", "i",
		      (int64_t)x->now);
	if (st == NULL)
		return NHI_ERR_DB;
	f = open_memstream(&body, &blen);
	if (f == NULL) {
		sqlite3_finalize(st);
		return nerr(x, NHI_ERR_NOMEM, "out of memory");
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 4);
		int grace = strcmp((const char *)sqlite3_column_text(st, 1), "grace") == 0;

		/* only crypt(3) hashes, which pam_unix verifies; "{CRYPT}" is
		 * the LDAP scheme tag (RFC 3112 style) in front of them */
		if (h == NULL || strncasecmp(h, "{CRYPT}", 7) != 0 ||
		    !nhi_pwh_valid_hash(h + 7, strlen(h + 7)))
			continue;
		fprintf(f, "%s %lld %lld %s\n", sqlite3_column_text(st, 0),
			grace ? (long long)sqlite3_column_int64(st, 2) : 0LL,
			(long long)sqlite3_column_int64(st, 3), h + 7);
		count++;
	}
	r = r == SQLITE_DONE ? 0 : reg_dberr(x);
	sqlite3_finalize(st);
	if (fclose(f) != 0 && r == 0)
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
	if (r < 0)
		goto out;
	hlen = (size_t)snprintf(head, sizeof(head), NHI_PWH_MAGIC "%llu %zu %016llx\n",
				(unsigned long long)generation, count,
				(unsigned long long)nhi_checksum(body, blen, generation));
	all = malloc(hlen + blen + 1);
	if (all == NULL) {
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(all, head, hlen);
	memcpy(all + hlen, body, blen);
	r = nhi_write_atomic(x->conf.shadow_file, all, hlen + blen, 0600, 0, 0, 0, err,
			     sizeof(err));
	if (r < 0)
		nerr(x, r, "%s", err);
out:
	if (all != NULL)
		OPENSSL_cleanse(all, hlen + blen);
	if (body != NULL)
		OPENSSL_cleanse(body, blen);
	free(all);
	free(body);
	return r;
}

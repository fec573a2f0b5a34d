/* cred.c - credentials as registry rows, and what is published from them:
 * the public-key index that `nhictl authorized-keys` reads and the
 * password file nhi.shadow.
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
#include "secret.h"
#include "registry.h"

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
	c->use_count = sqlite3_column_int64(st, 16);
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

int cred_insert(struct nhictl *x, const struct ident *id, const struct newcred *n,
		const char *replaces)
{
	return reg_exec(x, "INSERT INTO credential (identity_id, cred_id, kind, fingerprint, "
			"public_part, secret_hash, serial, created, not_after, state, replaces) "
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?)", "issssssiis",
			id->id, n->id, n->kind, n->fingerprint, n->public_part, n->hash,
			n->serial, (int64_t)x->now, n->not_after, replaces ? replaces : "");
}

/* ---- grace windows, retire, recovery -------------------------------- */

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

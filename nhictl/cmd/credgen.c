/* credgen.c - issuing a credential and handing its secret over (cmd.h).
 *
 * The secret exists only in memory, from its generation (secret.c,
 * OpenSSL's CSPRNG) until it is handed over, and is wiped then.  It is
 * written with write(2) or into a buffer of our own, never through
 * stdio's buffers, and never into a message or the audit log.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "cmd.h"

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

/* The credential as JSON, with the secret when 'secret' is set: written
 * into a buffer of our own (unbuffered stream), sent with write(2), wiped.
 * 'pre' and 'post' go around it (a list's brackets and commas). */
static int handover_json(struct nhictl *x, const struct ident *id, const struct newcred *n,
			 const char *out, int with_secret, const char *pre, const char *post)
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
	fputs(pre, f);
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
	if (*post)
		fputs(post, f);
	else
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

/* The secrets of n[0..count) one after another, into one 0600 file. */
static int write_out(struct nhictl *x, const struct ident *id, const struct newcred *n,
		     size_t count, const char *out)
{
	char err[PATH_MAX + 256], *all;
	size_t i, len = 0, at = 0;
	int r;

	if (count == 1)
		all = n[0].secret, len = n[0].secret_len;
	else {
		for (i = 0; i < count; i++)
			len += n[i].secret_len;
		if ((all = malloc(len + 1)) == NULL)
			return nerr(x, EXIT_FAIL, "out of memory");
		for (i = 0; i < count; at += n[i].secret_len, i++)
			memcpy(all + at, n[i].secret, n[i].secret_len);
		all[len] = '\0';
	}
	r = secret_write_file(out, all, len, (uid_t)id->uid, (gid_t)id->gid, err, sizeof(err));
	if (count != 1) {
		OPENSSL_cleanse(all, len);
		free(all);
	}
	return r < 0 ? nerr(x, EXIT_FAIL, "%s", err) : 0;
}

int cred_handover_list(struct nhictl *x, const struct ident *id, const struct newcred *n,
		       size_t count, int list, const char *out, const char *what)
{
	char b1[NHI_TIME_BUFSZ];
	size_t i;
	int r = 0;

	if (out != NULL && write_out(x, id, n, count, out) != 0)
		return EXIT_FAIL;
	for (i = 0; i < count && r == 0; i++) {
		if (x->json)
			r = handover_json(x, id, &n[i], out, out == NULL,
					  !list ? "" : i == 0 ? "[\n" : "",
					  !list ? "" : i + 1 < count ? ",\n" : "\n]\n");
		else if (out != NULL)
			r = printf("%s: %s %s %s %s, not after %s, written to %s\n", id->name, what,
				   n[i].kind, n[i].id, n[i].fingerprint,
				   nhi_format_time((time_t)n[i].not_after, b1), out) < 0;
		else if (fflush(stdout) != 0 ||
			 nhi_write_all(1, n[i].secret, n[i].secret_len) < 0)
			r = nerr(x, EXIT_FAIL, "cannot write the secret to stdout: %s",
				 strerror(errno));
	}
	if (r == 0 && !x->json && out != NULL && fflush(stdout) != 0)
		r = nerr(x, EXIT_FAIL, "cannot write to stdout");
	if (r != 0 || x->json || out != NULL)
		return r ? EXIT_FAIL : 0;
	for (i = 0; i < count; i++) {
		char nth[64] = "the secret";

		if (count > 1)
			snprintf(nth, sizeof(nth), "secret %zu of %zu", i + 1, count);
		fprintf(stderr, "nhictl: %s: %s: %s %s %s, not after %s (%s above is shown "
			"once)\n", x->verb, id->name, what, n[i].kind, n[i].id,
			nhi_format_time((time_t)n[i].not_after, b1), nth);
	}
	return 0;
}

int cred_handover(struct nhictl *x, const struct ident *id, const struct newcred *n,
		  const char *out, const char *what)
{
	return cred_handover_list(x, id, n, 1, 0, out, what);
}

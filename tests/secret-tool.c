/* secret-tool - drives nhictl/util/secret.c for tests/test-secret-tool.sh, so
 * that its outputs can be checked with the real tools (ssh-keygen,
 * openssl, slapd).  Secrets read from stdin (one line, no newline kept);
 * files written with secret_write_file().  Exit 0 ok, 1 failed, 2 usage.
 *
 *   secret-tool password-new              print a new password
 *   secret-tool password-hash             hash the password on stdin
 *   secret-tool password-verify HASH      verify the password on stdin
 *   secret-tool token-new                 print "TOKEN ID"
 *   secret-tool token-parse TOKEN         print the id
 *   secret-tool token-mac PEPPER          MAC of the token on stdin
 *   secret-tool token-verify PEPPER MAC   verify the token on stdin
 *   secret-tool ssh-new COMMENT PRIV PUB  write a key pair, print the fingerprint
 *   secret-tool ssh-fp PUBFILE            print the fingerprint of a public key
 *   secret-tool cert-new CA_CERT CA_KEY NAME NOT_AFTER CERT KEY
 *                                         NOT_AFTER in seconds since the epoch;
 *                                         print "SERIAL FINGERPRINT"
 *   secret-tool write FILE                write stdin to FILE (0600, atomic)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "nhi_err.h"
#include "secret.h"

static char line[4096];

static const char *read_line(void)
{
	size_t n;

	if (fgets(line, sizeof(line), stdin) == NULL)
		return "";
	n = strlen(line);
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	return line;
}

static int fail(const char *what, int r, const char *err)
{
	fprintf(stderr, "secret-tool: %s: %s\n", what, err != NULL && *err ? err : nhi_strerror(r));
	return 1;
}

static int write_out(const char *path, const char *data)
{
	char err[512] = "";
	int r = secret_write_file(path, data, strlen(data), geteuid(), getegid(), err, sizeof(err));

	return r < 0 ? fail("write", r, err) : 0;
}

static int slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}

static int run(int argc, char **argv)
{
	const char *cmd = argv[1];
	char buf[SECRET_HASH_MAX], err[512] = "";
	int r;

	if (strcmp(cmd, "password-new") == 0 && argc == 2) {
		char pw[SECRET_PASSWORD_LEN + 1];
		r = secret_password_new(pw, sizeof(pw));
		if (r == 0)
			printf("%s\n", pw);
		OPENSSL_cleanse(pw, sizeof(pw));
		return r < 0 ? fail(cmd, r, NULL) : 0;
	}
	if (strcmp(cmd, "password-hash") == 0 && argc == 2) {
		r = secret_password_hash(read_line(), buf, sizeof(buf));
		if (r < 0)
			return fail(cmd, r, NULL);
		printf("%s\n", buf);
		return 0;
	}
	if (strcmp(cmd, "password-verify") == 0 && argc == 3) {
		r = secret_password_verify(read_line(), argv[2]);
		return r < 0 ? fail(cmd, r, NULL) : 0;
	}
	if (strcmp(cmd, "token-new") == 0 && argc == 2) {
		char tok[SECRET_TOKEN_MAX], id[SECRET_TOKEN_ID_LEN + 1];
		r = secret_token_new(tok, sizeof(tok), id, sizeof(id));
		if (r == 0)
			printf("%s %s\n", tok, id);
		OPENSSL_cleanse(tok, sizeof(tok));
		return r < 0 ? fail(cmd, r, NULL) : 0;
	}
	if (strcmp(cmd, "token-parse") == 0 && argc == 3) {
		char id[SECRET_TOKEN_ID_LEN + 1];
		r = secret_token_parse(argv[2], id, sizeof(id));
		if (r < 0)
			return fail(cmd, r, NULL);
		printf("%s\n", id);
		return 0;
	}
	if ((strcmp(cmd, "token-mac") == 0 && argc == 3) ||
	    (strcmp(cmd, "token-verify") == 0 && argc == 4)) {
		unsigned char pepper[SECRET_PEPPER_LEN];
		r = secret_pepper_load(argv[2], 1, pepper, err, sizeof(err));
		if (r < 0)
			return fail(cmd, r, err);
		if (argc == 3) {
			r = secret_token_mac(pepper, sizeof(pepper), read_line(), buf, sizeof(buf));
			if (r == 0)
				printf("%s\n", buf);
		} else {
			r = secret_token_verify(pepper, sizeof(pepper), read_line(), argv[3]);
		}
		OPENSSL_cleanse(pepper, sizeof(pepper));
		return r < 0 ? fail(cmd, r, NULL) : 0;
	}
	if (strcmp(cmd, "ssh-new") == 0 && argc == 5) {
		char *priv = NULL, *pub = NULL, fp[SECRET_FP_MAX];
		r = secret_ssh_new(argv[2], &priv, &pub, fp, sizeof(fp));
		if (r < 0)
			return fail(cmd, r, NULL);
		r = write_out(argv[3], priv);
		secret_free(priv);
		if (r == 0) {
			size_t n = strlen(pub);
			char *publine = malloc(n + 2);
			if (publine == NULL) {
				free(pub);
				return fail(cmd, NHI_ERR_NOMEM, NULL);
			}
			snprintf(publine, n + 2, "%s\n", pub);
			r = write_out(argv[4], publine);
			free(publine);
		}
		free(pub);
		if (r == 0)
			printf("%s\n", fp);
		return r;
	}
	if (strcmp(cmd, "ssh-fp") == 0 && argc == 3) {
		char pub[8192], fp[SECRET_FP_MAX];
		if (slurp(argv[2], pub, sizeof(pub)) < 0)
			return fail(argv[2], NHI_ERR_IO, NULL);
		r = secret_ssh_fingerprint(pub, fp, sizeof(fp));
		if (r < 0)
			return fail(cmd, r, NULL);
		printf("%s\n", fp);
		return 0;
	}
	if (strcmp(cmd, "cert-new") == 0 && argc == 8) {
		char *cert = NULL, *key = NULL, serial[64], fp[SECRET_FP_MAX];
		r = secret_cert_new(argv[2], argv[3], argv[4], (time_t)strtoll(argv[5], NULL, 10),
				    &cert, &key, serial, sizeof(serial), fp, sizeof(fp), err,
				    sizeof(err));
		if (r < 0)
			return fail(cmd, r, err);
		r = write_out(argv[6], cert);
		if (r == 0)
			r = write_out(argv[7], key);
		free(cert);
		secret_free(key);
		if (r == 0)
			printf("%s %s\n", serial, fp);
		return r;
	}
	if (strcmp(cmd, "write") == 0 && argc == 3) {
		static char data[65536];
		size_t n = fread(data, 1, sizeof(data), stdin);
		r = secret_write_file(argv[2], data, n, geteuid(), getegid(), err, sizeof(err));
		OPENSSL_cleanse(data, sizeof(data));
		return r < 0 ? fail(cmd, r, err) : 0;
	}
	fprintf(stderr, "secret-tool: bad usage (see tests/secret-tool.c)\n");
	return 2;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc < 2) {
		fprintf(stderr, "secret-tool: bad usage (see tests/secret-tool.c)\n");
		return 2;
	}
	rc = run(argc, argv);
	OPENSSL_cleanse(line, sizeof(line));
	return rc;
}

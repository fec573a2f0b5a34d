/* Unit tests: nhictl/util/secret.c, credential generation (issue 4).  The
 * outputs are checked against the real tools in test-secret-tool.sh. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <crypt.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "nhi_err.h"
#include "secret.h"
#include "testtmp.h"

static char dir[300];

/* dir/name; freed at teardown */
static char *paths[256];
static size_t npaths;

static const char *path_in(const char *name)
{
	char *p;

	assert_true(npaths < sizeof(paths) / sizeof(paths[0]));
	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	paths[npaths++] = p;
	return p;
}

static void put_file(const char *path, const void *data, size_t n, mode_t mode)
{
	FILE *f;

	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* The number of entries in d whose name contains ".tmp." */
static int temp_files(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	int n = 0;

	assert_non_null(dp);
	while ((e = readdir(dp)) != NULL)
		if (strstr(e->d_name, ".tmp.") != NULL)
			n++;
	closedir(dp);
	return n;
}

/* ---- passwords ---- */

static void test_password(void **state)
{
	char pw[SECRET_PASSWORD_LEN + 1], pw2[SECRET_PASSWORD_LEN + 1];
	char hash[SECRET_HASH_MAX], hash2[SECRET_HASH_MAX], small[8];

	(void)state;
	assert_int_equal(secret_password_new(pw, sizeof(pw)), 0);
	assert_int_equal(secret_password_new(pw2, sizeof(pw2)), 0);
	assert_int_equal(strlen(pw), SECRET_PASSWORD_LEN);
	assert_string_not_equal(pw, pw2);
	for (size_t i = 0; i < SECRET_PASSWORD_LEN; i++) {
		assert_true(isalnum((unsigned char)pw[i]));
		assert_null(strchr("01lIoO", pw[i]));
	}
	assert_int_equal(secret_password_new(small, sizeof(small)), NHI_ERR_RANGE);

	assert_int_equal(secret_password_hash(pw, hash, sizeof(hash)), 0);
	assert_int_equal(strncmp(hash, "{CRYPT}$y$", 10), 0);
	assert_null(strstr(hash, pw));
	assert_int_equal(secret_password_verify(pw, hash), 0);
	assert_int_equal(secret_password_verify(pw2, hash), NHI_ERR_PERM);
	assert_int_equal(secret_password_verify("", hash), NHI_ERR_PERM);
	pw[0] ^= 1;
	assert_int_equal(secret_password_verify(pw, hash), NHI_ERR_PERM);
	pw[0] ^= 1;
	/* a new salt each time */
	assert_int_equal(secret_password_hash(pw, hash2, sizeof(hash2)), 0);
	assert_string_not_equal(hash, hash2);
	assert_int_equal(secret_password_verify(pw, hash2), 0);
	/* the scheme tag is case-insensitive, as in slapd */
	memcpy(hash2, "{crypt}", 7);
	assert_int_equal(secret_password_verify(pw, hash2), 0);
	assert_int_equal(secret_password_hash(pw, small, sizeof(small)), NHI_ERR_RANGE);
	/* beyond libcrypt's limit: not hashed, and never matches */
	{
		char *longpw = malloc(CRYPT_MAX_PASSPHRASE_SIZE + 1);
		assert_non_null(longpw);
		memset(longpw, 'a', CRYPT_MAX_PASSPHRASE_SIZE);
		longpw[CRYPT_MAX_PASSPHRASE_SIZE] = '\0';
		assert_int_equal(secret_password_hash(longpw, hash2, sizeof(hash2)), NHI_ERR_INVAL);
		assert_string_equal(hash2, "");
		assert_int_equal(secret_password_verify(longpw, hash), NHI_ERR_PERM);
		free(longpw);
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(pw2, sizeof(pw2));
}

static void test_password_bad_hash(void **state)
{
	struct crypt_data cd;
	char sha[300];

	(void)state;
	assert_int_equal(secret_password_verify("x", "{SSHA}abc"), NHI_ERR_FORMAT);
	assert_int_equal(secret_password_verify("x", "$y$j9T$abc"), NHI_ERR_FORMAT);
	assert_int_equal(secret_password_verify("x", "{CRYPT}"), NHI_ERR_FORMAT);
	assert_int_equal(secret_password_verify("x", "{CRYPT}!$y$j9T$x$y"), NHI_ERR_FORMAT);
	assert_int_equal(secret_password_verify("x", "{CRYPT}$y$garbage"), NHI_ERR_FORMAT);
	assert_int_equal(secret_password_verify("x", NULL), NHI_ERR_FORMAT);
	/* other crypt schemes libcrypt knows verify too (sha512crypt) */
	memset(&cd, 0, sizeof(cd));
	snprintf(sha, sizeof(sha), "{CRYPT}%s", crypt_r("pass", "$6$saltsalt$", &cd));
	assert_int_equal(secret_password_verify("pass", sha), 0);
	assert_int_equal(secret_password_verify("Pass", sha), NHI_ERR_PERM);
}

/* ---- tokens ---- */

static void test_token_format(void **state)
{
	char tok[SECRET_TOKEN_MAX], tok2[SECRET_TOKEN_MAX], id[SECRET_TOKEN_ID_LEN + 1];
	char id2[SECRET_TOKEN_ID_LEN + 1], small[4];

	(void)state;
	assert_int_equal(secret_token_new(tok, sizeof(tok), id, sizeof(id)), 0);
	assert_int_equal(secret_token_new(tok2, sizeof(tok2), id2, sizeof(id2)), 0);
	assert_int_equal(strlen(tok), 4 + 12 + 1 + 43 + 6);
	assert_true(strlen(tok) < SECRET_TOKEN_MAX);
	assert_int_equal(strncmp(tok, SECRET_TOKEN_PREFIX, 4), 0);
	assert_int_equal(strlen(id), SECRET_TOKEN_ID_LEN);
	assert_memory_equal(tok + 4, id, SECRET_TOKEN_ID_LEN);
	assert_int_equal(tok[16], '_');
	for (size_t i = 4; i < strlen(tok); i++)
		if (i != 16)
			assert_true(isalnum((unsigned char)tok[i]));
	assert_string_not_equal(tok, tok2);
	assert_string_not_equal(id, id2);
	assert_memory_not_equal(tok + 17, tok2 + 17, 43);

	memset(id2, 0, sizeof(id2));
	assert_int_equal(secret_token_parse(tok, id2, sizeof(id2)), 0);
	assert_string_equal(id, id2);
	assert_int_equal(secret_token_parse(tok, NULL, 0), 0);
	assert_int_equal(secret_token_parse(tok, small, sizeof(small)), NHI_ERR_RANGE);
	assert_int_equal(secret_token_new(small, sizeof(small), id, sizeof(id)), NHI_ERR_RANGE);
	OPENSSL_cleanse(tok, sizeof(tok));
	OPENSSL_cleanse(tok2, sizeof(tok2));
}

/* Every single-character change anywhere in a token is caught by the
 * shape check or the CRC-32. */
static void test_token_checksum(void **state)
{
	char tok[SECRET_TOKEN_MAX], bad[SECRET_TOKEN_MAX], id[SECRET_TOKEN_ID_LEN + 1];
	const size_t n = 66; /* 4 + 12 + 1 + 43 + 6 */
	int tried = 0;

	(void)state;
	for (int round = 0; round < 4; round++) {
		assert_int_equal(secret_token_new(tok, sizeof(tok), id, sizeof(id)), 0);
		assert_int_equal(strlen(tok), n);
		for (size_t i = 0; i < n; i++)
			for (int c = 1; c < 256; c++) {
				if (c == (unsigned char)tok[i])
					continue;
				memcpy(bad, tok, n + 1);
				bad[i] = (char)c;
				assert_int_equal(secret_token_parse(bad, id, sizeof(id)), NHI_ERR_FORMAT);
				tried++;
			}
		/* shorter, longer, swapped neighbours */
		memcpy(bad, tok, n + 1);
		bad[n - 1] = '\0';
		assert_int_equal(secret_token_parse(bad, id, sizeof(id)), NHI_ERR_FORMAT);
		memcpy(bad, tok, n + 1);
		bad[n] = 'A';
		bad[n + 1] = '\0';
		assert_int_equal(secret_token_parse(bad, id, sizeof(id)), NHI_ERR_FORMAT);
		for (size_t i = 17; i + 1 < n; i++) {
			if (tok[i] == tok[i + 1])
				continue;
			memcpy(bad, tok, n + 1);
			bad[i] = tok[i + 1];
			bad[i + 1] = tok[i];
			assert_int_equal(secret_token_parse(bad, id, sizeof(id)), NHI_ERR_FORMAT);
		}
	}
	assert_true(tried > 4 * 66 * 250);
	assert_int_equal(secret_token_parse("", id, sizeof(id)), NHI_ERR_FORMAT);
	assert_int_equal(secret_token_parse(NULL, id, sizeof(id)), NHI_ERR_FORMAT);
	assert_int_equal(secret_token_parse("ghp_abc", id, sizeof(id)), NHI_ERR_FORMAT);
	OPENSSL_cleanse(tok, sizeof(tok));
}

static void test_token_mac(void **state)
{
	unsigned char pepper[SECRET_PEPPER_LEN], other[SECRET_PEPPER_LEN];
	char tok[SECRET_TOKEN_MAX], tok2[SECRET_TOKEN_MAX], id[SECRET_TOKEN_ID_LEN + 1];
	char mac[SECRET_MAC_HEX], mac2[SECRET_MAC_HEX], small[10];

	(void)state;
	/* RFC 4231 test case 2: it is HMAC-SHA-256 */
	assert_int_equal(secret_token_mac((const unsigned char *)"Jefe", 4,
					  "what do ya want for nothing?", mac, sizeof(mac)), 0);
	assert_string_equal(mac, "5bdcc146bf60754e6a042426089575c7"
				 "5a003f089d2739839dec58b964ec3843");

	memset(pepper, 0x5a, sizeof(pepper));
	memset(other, 0x5b, sizeof(other));
	assert_int_equal(secret_token_new(tok, sizeof(tok), id, sizeof(id)), 0);
	assert_int_equal(secret_token_new(tok2, sizeof(tok2), id, sizeof(id)), 0);
	assert_int_equal(secret_token_mac(pepper, sizeof(pepper), tok, mac, sizeof(mac)), 0);
	assert_int_equal(strlen(mac), 64);
	assert_null(strstr(mac, tok + 17));
	assert_int_equal(secret_token_mac(pepper, sizeof(pepper), tok, mac2, sizeof(mac2)), 0);
	assert_string_equal(mac, mac2);
	assert_int_equal(secret_token_mac(pepper, sizeof(pepper), tok, small, sizeof(small)),
			 NHI_ERR_RANGE);

	assert_int_equal(secret_token_verify(pepper, sizeof(pepper), tok, mac), 0);
	/* another (well-formed) token, another pepper, a changed MAC */
	assert_int_equal(secret_token_verify(pepper, sizeof(pepper), tok2, mac), NHI_ERR_PERM);
	assert_int_equal(secret_token_verify(other, sizeof(other), tok, mac), NHI_ERR_PERM);
	tok[20] = tok[20] == 'a' ? 'b' : 'a';
	assert_int_equal(secret_token_verify(pepper, sizeof(pepper), tok, mac), NHI_ERR_PERM);
	tok[20] = tok[20] == 'a' ? 'b' : 'a';
	mac2[63] = mac2[63] == '0' ? '1' : '0';
	assert_int_equal(secret_token_verify(pepper, sizeof(pepper), tok, mac2), NHI_ERR_PERM);
	mac2[63] = '\0';
	assert_int_equal(secret_token_verify(pepper, sizeof(pepper), tok, mac2), NHI_ERR_FORMAT);
	assert_int_equal(secret_token_verify(pepper, sizeof(pepper), tok, NULL), NHI_ERR_FORMAT);
	OPENSSL_cleanse(tok, sizeof(tok));
	OPENSSL_cleanse(tok2, sizeof(tok2));
}

/* ---- the pepper file ---- */

static void test_pepper(void **state)
{
	unsigned char p1[SECRET_PEPPER_LEN], p2[SECRET_PEPPER_LEN], raw[40] = { 0 };
	const char *path = path_in("pepper");
	char err[512];
	struct stat st;

	(void)state;
	unlink(path);
	assert_int_equal(secret_pepper_load(path, 0, p1, err, sizeof(err)), NHI_ERR_IO);
	assert_non_null(strstr(err, path));
	assert_int_equal(stat(path, &st), -1);

	assert_int_equal(secret_pepper_load(path, 1, p1, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_size, SECRET_PEPPER_LEN);
	assert_int_equal(temp_files(dir), 0);
	/* an existing pepper is loaded, never replaced */
	assert_int_equal(secret_pepper_load(path, 1, p2, err, sizeof(err)), 0);
	assert_memory_equal(p1, p2, sizeof(p1));
	assert_int_equal(secret_pepper_load(path, 0, p2, err, sizeof(err)), 0);
	assert_memory_equal(p1, p2, sizeof(p1));
	assert_memory_not_equal(p1, raw, sizeof(p1));

	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(secret_pepper_load(path, 0, p2, err, sizeof(err)), 0);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(secret_pepper_load(path, 1, p2, err, sizeof(err)), NHI_ERR_PERM);
	assert_non_null(strstr(err, "0640"));
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(secret_pepper_load(path, 1, p2, err, sizeof(err)), NHI_ERR_PERM);
	assert_int_equal(chmod(path, 0620), 0);
	assert_int_equal(secret_pepper_load(path, 1, p2, err, sizeof(err)), NHI_ERR_PERM);

	put_file(path, raw, 31, 0600);
	assert_int_equal(secret_pepper_load(path, 1, p2, err, sizeof(err)), NHI_ERR_FORMAT);
	assert_non_null(strstr(err, "shorter"));
	put_file(path, raw, 33, 0600);
	assert_int_equal(secret_pepper_load(path, 1, p2, err, sizeof(err)), NHI_ERR_FORMAT);
	put_file(path, raw, 0, 0600);
	assert_int_equal(secret_pepper_load(path, 1, p2, err, sizeof(err)), NHI_ERR_FORMAT);
	/* exactly 32 bytes of our own is accepted */
	put_file(path, raw, 32, 0600);
	assert_int_equal(secret_pepper_load(path, 0, p2, err, sizeof(err)), 0);
	assert_memory_equal(p2, raw, 32);

	/* a symbolic link is not followed */
	unlink(path_in("pepper-link"));
	assert_int_equal(symlink(path, path_in("pepper-link")), 0);
	assert_int_equal(secret_pepper_load(path_in("pepper-link"), 1, p2, err, sizeof(err)),
			 NHI_ERR_PERM);
	/* nor is a directory read */
	mkdir(path_in("pepper-dir"), 0700);
	assert_int_equal(secret_pepper_load(path_in("pepper-dir"), 1, p2, err, sizeof(err)),
			 NHI_ERR_PERM);
	if (geteuid() == 0) { /* someone else's file */
		assert_int_equal(chown(path, 4242, 4242), 0);
		assert_int_equal(secret_pepper_load(path, 1, p2, err, sizeof(err)), NHI_ERR_PERM);
		assert_non_null(strstr(err, "4242"));
	}
	OPENSSL_cleanse(p1, sizeof(p1));
	OPENSSL_cleanse(p2, sizeof(p2));
}

/* ---- handing over: secret_write_file ---- */

static void test_write_file(void **state)
{
	const char *path = path_in("out/secret"), *sub = path_in("out");
	char err[512], buf[64];
	struct stat st, st2;
	uid_t uid = geteuid() == 0 ? 4243 : geteuid();
	gid_t gid = geteuid() == 0 ? 4244 : getegid();
	FILE *f;

	(void)state;
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(secret_write_file(path, "one\n", 4, uid, gid, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
	assert_int_equal(st.st_size, 4);

	/* replaced by a new file: a reader of the old one never sees a mix */
	assert_int_equal(secret_write_file(path, "second\n", 7, uid, gid, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_not_equal(st.st_ino, st2.st_ino);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "second\n");
	assert_int_equal(temp_files(sub), 0);

	/* the umask does not widen it */
	umask(0);
	assert_int_equal(secret_write_file(path, "x", 1, geteuid(), getegid(), err, sizeof(err)), 0);
	umask(022);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* an error after the temp file was made leaves nothing behind:
	 * the target is a directory, rename fails */
	assert_int_equal(mkdir(path_in("out/isdir"), 0700), 0);
	assert_int_equal(secret_write_file(path_in("out/isdir"), "x", 1, geteuid(), getegid(),
					   err, sizeof(err)), NHI_ERR_IO);
	assert_non_null(strstr(err, "isdir"));
	assert_int_equal(temp_files(sub), 0);

	/* no such directory */
	assert_int_equal(secret_write_file(path_in("nodir/x"), "x", 1, geteuid(), getegid(),
					   err, sizeof(err)), NHI_ERR_IO);
	assert_non_null(strstr(err, "nodir"));
	/* a trailing slash names no file */
	assert_int_equal(secret_write_file(path_in("out/"), "x", 1, geteuid(), getegid(),
					   err, sizeof(err)), NHI_ERR_INVAL);

	/* a directory others can write to is refused, unless sticky */
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(secret_write_file(path, "y", 1, geteuid(), getegid(), err, sizeof(err)),
			 NHI_ERR_PERM);
	assert_non_null(strstr(err, "writable by others"));
	assert_int_equal(chmod(sub, 0770), 0);
	assert_int_equal(secret_write_file(path, "y", 1, geteuid(), getegid(), err, sizeof(err)),
			 NHI_ERR_PERM);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 1); /* still the "x" */
	assert_int_equal(chmod(sub, 01777), 0);
	assert_int_equal(secret_write_file(path, "yy", 2, geteuid(), getegid(), err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 2);
	assert_int_equal(chmod(sub, 0700), 0);
	if (geteuid() == 0) { /* a directory owned by someone else */
		assert_int_equal(chown(sub, 4245, 0), 0);
		assert_int_equal(secret_write_file(path, "z", 1, 0, 0, err, sizeof(err)),
				 NHI_ERR_PERM);
		assert_int_equal(chown(sub, 0, 0), 0);
	} else { /* a chown we may not do fails cleanly */
		assert_int_equal(secret_write_file(path, "z", 1, 0, 0, err, sizeof(err)),
				 NHI_ERR_PERM);
		assert_int_equal(temp_files(sub), 0);
	}
	assert_int_equal(temp_files(sub), 0);
}

/* ---- SSH keys ---- */

static void test_ssh(void **state)
{
	char *priv = NULL, *pub = NULL, *priv2 = NULL, *pub2 = NULL;
	char fp[SECRET_FP_MAX], fp2[SECRET_FP_MAX], small[10];
	const char *l;

	(void)state;
	assert_int_equal(secret_ssh_new("svc-a@host", &priv, &pub, fp, sizeof(fp)), 0);
	assert_non_null(priv);
	assert_non_null(pub);
	assert_int_equal(strncmp(priv, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36), 0);
	assert_non_null(strstr(priv, "\n-----END OPENSSH PRIVATE KEY-----\n"));
	/* wrapped at 70 columns */
	for (l = priv; *l != '\0'; l = strchr(l, '\n') + 1)
		assert_true(strcspn(l, "\n") <= 70 || strncmp(l, "-----", 5) == 0);
	assert_int_equal(strncmp(pub, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 37), 0);
	assert_string_equal(pub + strlen(pub) - 11, " svc-a@host");
	assert_int_equal(strncmp(fp, "SHA256:", 7), 0);
	assert_int_equal(strlen(fp), 7 + 43); /* unpadded base64 of 32 bytes */
	assert_null(strchr(fp, '='));

	assert_int_equal(secret_ssh_fingerprint(pub, fp2, sizeof(fp2)), 0);
	assert_string_equal(fp, fp2);
	assert_int_equal(secret_ssh_fingerprint(pub, small, sizeof(small)), NHI_ERR_RANGE);

	assert_int_equal(secret_ssh_new(NULL, &priv2, &pub2, fp2, sizeof(fp2)), 0);
	assert_string_not_equal(fp, fp2);
	assert_string_not_equal(priv, priv2);
	assert_null(strchr(pub2 + 12, ' ')); /* no comment, no trailing blank */
	secret_free(priv);
	secret_free(priv2);
	free(pub);
	free(pub2);
	secret_free(NULL);

	priv = pub = (char *)"unchanged";
	assert_int_equal(secret_ssh_new("two\nlines", &priv, &pub, fp, sizeof(fp)), NHI_ERR_INVAL);
	assert_null(priv);
	assert_null(pub);

	assert_int_equal(secret_ssh_fingerprint("", fp, sizeof(fp)), NHI_ERR_FORMAT);
	assert_int_equal(secret_ssh_fingerprint("ssh-ed25519", fp, sizeof(fp)), NHI_ERR_FORMAT);
	assert_int_equal(secret_ssh_fingerprint("ssh-ed25519 AAA$", fp, sizeof(fp)), NHI_ERR_FORMAT);
	assert_int_equal(secret_ssh_fingerprint("ssh-ed25519 A=AA", fp, sizeof(fp)), NHI_ERR_FORMAT);
	/* the blob's type must be the line's */
	assert_int_equal(secret_ssh_fingerprint("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGKQzGZ6H7SahQlyryDq"
						"umsBK/l4Te5OT4ViU6PI3e86", fp, sizeof(fp)),
			 NHI_ERR_FORMAT);
	assert_int_equal(secret_ssh_fingerprint("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGKQzGZ6H7Sa"
						"hQlyryDqumsBK/l4Te5OT4ViU6PI3e86 c", fp, sizeof(fp)), 0);
	assert_string_equal(fp, "SHA256:N/u6NZWkBT5TEjmXS/9YemSLr1QmLuBajkGsg0+SWGs");
}

/* ---- certificates ---- */

static int make_ca(const char *name)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout %s/%s.key -out %s/%s.pem -subj /CN=%s -days 30 >/dev/null 2>&1 && "
		 "chmod 600 %s/%s.key", dir, name, dir, name, name, dir, name);
	return system(cmd);
}

static void test_cert(void **state)
{
	char *cert = NULL, *key = NULL, serial[64], fp[SECRET_FP_MAX], err[512], cn[128];
	const char *ca = path_in("ca.pem"), *cakey = path_in("ca.key");
	time_t na = time(NULL) + 3600;
	ASN1_TIME *t;
	BIO *bio;
	X509 *x;

	(void)state;
	if (make_ca("ca") != 0 || make_ca("other") != 0)
		skip();
	assert_int_equal(secret_cert_new(ca, cakey, "svc-web", na, &cert, &key, serial,
					 sizeof(serial), fp, sizeof(fp), err, sizeof(err)), 0);
	assert_non_null(cert);
	assert_non_null(key);
	assert_int_equal(strncmp(cert, "-----BEGIN CERTIFICATE-----\n", 28), 0);
	assert_int_equal(strncmp(key, "-----BEGIN PRIVATE KEY-----\n", 28), 0);
	assert_int_equal(strlen(serial), 32);
	assert_true(strspn(serial, "0123456789abcdef") == 32);
	assert_true(strchr("89abcdef", serial[0]) != NULL); /* top bit set */
	assert_int_equal(strncmp(fp, "SHA256:", 7), 0);
	assert_int_equal(strlen(fp), 7 + 64);

	bio = BIO_new_mem_buf(cert, -1);
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	assert_non_null(x);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, "svc-web");
	t = ASN1_TIME_set(NULL, na);
	assert_non_null(t);
	assert_int_equal(ASN1_TIME_compare(t, X509_get0_notAfter(x)), 0);
	ASN1_TIME_free(t);
	X509_free(x);
	BIO_free(bio);
	free(cert);
	secret_free(key);

	/* refusals: each one names what is wrong */
	cert = key = NULL;
	assert_int_equal(secret_cert_new(ca, cakey, "svc-web", time(NULL) - 1, &cert, &key, serial,
					 sizeof(serial), fp, sizeof(fp), err, sizeof(err)), NHI_ERR_INVAL);
	assert_int_equal(secret_cert_new(ca, cakey, "svc-web", time(NULL) + 365 * 86400, &cert, &key,
					 serial, sizeof(serial), fp, sizeof(fp), err, sizeof(err)),
			 NHI_ERR_INVAL);
	assert_non_null(strstr(err, "CA"));
	assert_int_equal(secret_cert_new(ca, cakey, "bad name", na, &cert, &key, serial,
					 sizeof(serial), fp, sizeof(fp), err, sizeof(err)), NHI_ERR_INVAL);
	assert_int_equal(secret_cert_new(ca, path_in("other.key"), "svc-web", na, &cert, &key, serial,
					 sizeof(serial), fp, sizeof(fp), err, sizeof(err)), NHI_ERR_FORMAT);
	assert_non_null(strstr(err, "does not match"));
	assert_int_equal(secret_cert_new(ca, path_in("none.key"), "svc-web", na, &cert, &key,
					 serial, sizeof(serial), fp, sizeof(fp), err, sizeof(err)),
			 NHI_ERR_NOTFOUND);
	assert_int_equal(secret_cert_new(cakey, cakey, "svc-web", na, &cert, &key, serial,
					 sizeof(serial), fp, sizeof(fp), err, sizeof(err)), NHI_ERR_FORMAT);
	assert_int_equal(chmod(cakey, 0640), 0);
	assert_int_equal(secret_cert_new(ca, cakey, "svc-web", na, &cert, &key, serial,
					 sizeof(serial), fp, sizeof(fp), err, sizeof(err)), NHI_ERR_PERM);
	assert_non_null(strstr(err, cakey));
	assert_int_equal(chmod(cakey, 0644), 0);
	assert_int_equal(secret_cert_new(ca, cakey, "svc-web", na, &cert, &key, serial,
					 sizeof(serial), fp, sizeof(fp), err, sizeof(err)), NHI_ERR_PERM);
	assert_null(cert);
	assert_null(key);
	assert_int_equal(chmod(cakey, 0600), 0);
	assert_int_equal(secret_cert_new(ca, cakey, "svc-web", na, &cert, &key, serial, 8, fp,
					 sizeof(fp), err, sizeof(err)), NHI_ERR_RANGE);
	assert_null(cert);
	assert_null(key);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(test_tmpdir(dir, sizeof(dir), "nhi-secret-test")) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	while (npaths > 0)
		free(paths[--npaths]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_password_bad_hash),
		cmocka_unit_test(test_token_format),
		cmocka_unit_test(test_token_checksum),
		cmocka_unit_test(test_token_mac),
		cmocka_unit_test(test_pepper),
		cmocka_unit_test(test_write_file),
		cmocka_unit_test(test_ssh),
		cmocka_unit_test(test_cert),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

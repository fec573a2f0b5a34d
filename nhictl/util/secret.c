/* secret.c - generating, hashing and handing over credentials (issue 4).
 *
 * See secret.h for the contract.  Every secret byte comes from
 * RAND_priv_bytes() (OpenSSL's private DRBG); identifiers that are not
 * secret (token ids, certificate serials, check ints) from RAND_bytes().
 * Every buffer that held a secret is wiped with OPENSSL_cleanse() on every
 * path, the error paths included.
 *
 * Choices the header leaves open:
 * - password alphabet: 56 symbols without 0 O o 1 l I (32 of them: 185 bits);
 * - token: id and secret are base62 (0-9A-Za-z), the checksum is the CRC-32
 *   (zlib's) of "nhi_ID_SECRET" in 6 base62 digits, most significant first;
 *   MACs are lowercase hex;
 * - certificate: the new key is EC P-256 (every TLS stack takes it); the
 *   serial is 32 lowercase hex digits, the fingerprint "SHA256:" + 64
 *   lowercase hex digits of the SHA-256 of the DER certificate; SAN is a
 *   URI when the name has a ':', else DNS when it is a DNS name, else
 *   "urn:nhi:NAME"; a not-after later than the CA's is refused; EdDSA CA
 *   keys sign without a digest, others with SHA-256.
 */
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "nhi_conf.h"
#include "nhi_err.h"
#include "nhi_file.h"
#include "secret.h"

/* ---- helpers --------------------------------------------------------- */

void secret_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int b62_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 36;
	return -1;
}

/* n characters drawn uniformly from 'alphabet' (rejection sampling, so no
 * modulo bias); 'priv' selects the private DRBG.  out gets n + 1 bytes. */
static int random_chars(char *out, size_t n, const char *alphabet, int priv)
{
	size_t k = strlen(alphabet), have = 0;
	unsigned int limit = 256 - 256 % (unsigned int)k;
	unsigned char buf[64];
	int r = 0;

	while (have < n) {
		int ok = priv ? RAND_priv_bytes(buf, sizeof(buf)) : RAND_bytes(buf, sizeof(buf));

		if (ok != 1) {
			r = NHI_ERR_IO;
			goto out;
		}
		for (size_t i = 0; i < sizeof(buf) && have < n; i++)
			if (buf[i] < limit)
				out[have++] = alphabet[buf[i] % k];
	}
	out[n] = '\0';
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	if (r < 0)
		OPENSSL_cleanse(out, n + 1);
	return r;
}

/* ---- passwords ------------------------------------------------------- */

/* No 0/O/o, 1/l/I: 56 symbols, 32 of them are 185 bits. */
static const char pw_alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz";

#define CRYPT_TAG "{CRYPT}"
#define CRYPT_TAG_LEN 7

int secret_password_new(char *out, size_t len)
{
	if (out == NULL || len < SECRET_PASSWORD_LEN + 1)
		return NHI_ERR_RANGE;
	return random_chars(out, SECRET_PASSWORD_LEN, pw_alphabet, 1);
}

/* crypt_rn into a heap crypt_data (it is 32 KiB); the result is copied to
 * 'out' and the work area wiped. */
static int do_crypt(const char *pw, const char *setting, char *out, size_t outlen)
{
	struct crypt_data *cd;
	const char *h;
	int r = 0;

	if (strlen(pw) >= CRYPT_MAX_PASSPHRASE_SIZE)
		return NHI_ERR_INVAL;
	cd = calloc(1, sizeof(*cd));
	if (cd == NULL)
		return NHI_ERR_NOMEM;
	h = crypt_rn(pw, setting, cd, (int)sizeof(*cd));
	if (h == NULL || h[0] == '*') {
		r = NHI_ERR_FORMAT;
		goto out;
	}
	if (strlen(h) >= outlen) {
		r = NHI_ERR_RANGE;
		goto out;
	}
	memcpy(out, h, strlen(h) + 1);
out:
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return r;
}

int secret_password_hash(const char *pw, char *hash, size_t len)
{
	unsigned char rb[16];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	int r;

	if (pw == NULL || hash == NULL)
		return NHI_ERR_INVAL;
	if (len < CRYPT_TAG_LEN + 1)
		return NHI_ERR_RANGE;
	if (RAND_priv_bytes(rb, sizeof(rb)) != 1) {
		r = NHI_ERR_IO;
		goto out;
	}
	if (crypt_gensalt_rn("$y$", 0, (const char *)rb, (int)sizeof(rb), setting,
			     (int)sizeof(setting)) == NULL) {
		r = NHI_ERR_IO;
		goto out;
	}
	memcpy(hash, CRYPT_TAG, CRYPT_TAG_LEN);
	r = do_crypt(pw, setting, hash + CRYPT_TAG_LEN, len - CRYPT_TAG_LEN);
	if (r < 0)
		hash[0] = '\0';
out:
	OPENSSL_cleanse(rb, sizeof(rb));
	OPENSSL_cleanse(setting, sizeof(setting));
	return r;
}

int secret_password_verify(const char *pw, const char *hash)
{
	char computed[CRYPT_OUTPUT_SIZE];
	const char *stored;
	size_t n;
	int r;

	if (pw == NULL || hash == NULL || strncasecmp(hash, CRYPT_TAG, CRYPT_TAG_LEN) != 0)
		return NHI_ERR_FORMAT;
	stored = hash + CRYPT_TAG_LEN;
	if (stored[0] == '\0' || stored[0] == '!' || stored[0] == '*')
		return NHI_ERR_FORMAT;
	r = do_crypt(pw, stored, computed, sizeof(computed));
	if (r == NHI_ERR_INVAL) { /* a pass phrase too long cannot match */
		r = NHI_ERR_PERM;
		goto out;
	}
	if (r < 0) {
		r = NHI_ERR_FORMAT;
		goto out;
	}
	n = strlen(computed);
	/* the length of a hash is no secret; its bytes are compared in
	 * constant time */
	if (n != strlen(stored) || CRYPTO_memcmp(computed, stored, n) != 0)
		r = NHI_ERR_PERM;
out:
	OPENSSL_cleanse(computed, sizeof(computed));
	return r;
}

/* ---- tokens ---------------------------------------------------------- */

#define TOK_PREFIX_LEN (sizeof(SECRET_TOKEN_PREFIX) - 1)
#define TOK_SECRET_LEN 43 /* 43 base62 characters: 256 bits */
#define TOK_CRC_LEN 6     /* 62^6 > 2^32 */
#define TOK_BODY_LEN (TOK_PREFIX_LEN + SECRET_TOKEN_ID_LEN + 1 + TOK_SECRET_LEN)
#define TOK_LEN (TOK_BODY_LEN + TOK_CRC_LEN)

/* CRC-32 (IEEE 802.3, reflected 0xEDB88320), as zlib's crc32(). */
static uint32_t crc32_ieee(const unsigned char *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
	}
	return c ^ 0xFFFFFFFFu;
}

static void crc_b62(const char *body, char out[TOK_CRC_LEN + 1])
{
	uint32_t c = crc32_ieee((const unsigned char *)body, TOK_BODY_LEN);

	for (int i = TOK_CRC_LEN - 1; i >= 0; i--) {
		out[i] = b62[c % 62];
		c /= 62;
	}
	out[TOK_CRC_LEN] = '\0';
}

int secret_token_new(char *tok, size_t toklen, char *id, size_t idlen)
{
	char *p;
	int r;

	if (tok == NULL || id == NULL)
		return NHI_ERR_INVAL;
	if (toklen < TOK_LEN + 1 || idlen < SECRET_TOKEN_ID_LEN + 1)
		return NHI_ERR_RANGE;
	p = tok;
	memcpy(p, SECRET_TOKEN_PREFIX, TOK_PREFIX_LEN);
	p += TOK_PREFIX_LEN;
	r = random_chars(p, SECRET_TOKEN_ID_LEN, b62, 0);
	if (r < 0)
		goto out;
	p += SECRET_TOKEN_ID_LEN;
	*p++ = '_';
	r = random_chars(p, TOK_SECRET_LEN, b62, 1);
	if (r < 0)
		goto out;
	p += TOK_SECRET_LEN;
	crc_b62(tok, p);
	memcpy(id, tok + TOK_PREFIX_LEN, SECRET_TOKEN_ID_LEN);
	id[SECRET_TOKEN_ID_LEN] = '\0';
out:
	if (r < 0)
		OPENSSL_cleanse(tok, toklen);
	return r;
}

int secret_token_parse(const char *tok, char *id, size_t idlen)
{
	char crc[TOK_CRC_LEN + 1];
	size_t i;

	if (tok == NULL || strnlen(tok, TOK_LEN + 1) != TOK_LEN ||
	    memcmp(tok, SECRET_TOKEN_PREFIX, TOK_PREFIX_LEN) != 0 ||
	    tok[TOK_PREFIX_LEN + SECRET_TOKEN_ID_LEN] != '_')
		return NHI_ERR_FORMAT;
	for (i = TOK_PREFIX_LEN; i < TOK_LEN; i++)
		if (i != TOK_PREFIX_LEN + SECRET_TOKEN_ID_LEN && b62_val(tok[i]) < 0)
			return NHI_ERR_FORMAT;
	crc_b62(tok, crc);
	/* the checksum is a function of the token: comparing it reveals
	 * nothing the holder of the token does not know */
	if (memcmp(crc, tok + TOK_BODY_LEN, TOK_CRC_LEN) != 0)
		return NHI_ERR_FORMAT;
	if (id != NULL) {
		if (idlen < SECRET_TOKEN_ID_LEN + 1)
			return NHI_ERR_RANGE;
		memcpy(id, tok + TOK_PREFIX_LEN, SECRET_TOKEN_ID_LEN);
		id[SECRET_TOKEN_ID_LEN] = '\0';
	}
	return 0;
}

static void hex_lower(const unsigned char *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int secret_token_mac(const unsigned char *pepper, size_t pepperlen, const char *tok,
		     char *hex, size_t hexlen)
{
	unsigned char mac[32];
	size_t maclen = 0;
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	int r = NHI_ERR_IO;

	if (pepper == NULL || pepperlen == 0 || tok == NULL || hex == NULL)
		return NHI_ERR_INVAL;
	if (hexlen < SECRET_MAC_HEX)
		return NHI_ERR_RANGE;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (m == NULL || (ctx = EVP_MAC_CTX_new(m)) == NULL)
		goto out;
	if (EVP_MAC_init(ctx, pepper, pepperlen, params) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)tok, strlen(tok)) != 1 ||
	    EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) != 1 || maclen != sizeof(mac))
		goto out;
	hex_lower(mac, sizeof(mac), hex);
	r = 0;
out:
	EVP_MAC_CTX_free(ctx); /* cleanses its key schedule */
	EVP_MAC_free(m);
	OPENSSL_cleanse(mac, sizeof(mac));
	return r;
}

int secret_token_verify(const unsigned char *pepper, size_t pepperlen, const char *tok,
			const char *mac_hex)
{
	char computed[SECRET_MAC_HEX];
	int r;

	if (mac_hex == NULL || strnlen(mac_hex, SECRET_MAC_HEX) != SECRET_MAC_HEX - 1)
		return NHI_ERR_FORMAT;
	r = secret_token_mac(pepper, pepperlen, tok, computed, sizeof(computed));
	if (r == 0 && CRYPTO_memcmp(computed, mac_hex, SECRET_MAC_HEX - 1) != 0)
		r = NHI_ERR_PERM;
	OPENSSL_cleanse(computed, sizeof(computed));
	return r;
}

/* ---- files ----------------------------------------------------------- */

/* An open secret file we are about to trust: a regular file owned by root
 * or the euid, no permission bits for group or others. */
static int check_private_fd(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int r = nhi_check_trusted_fd(fd, path, err, errlen);

	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", path, strerror(errno));
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return nhi_seterr(err, errlen, NHI_ERR_PERM,
				  "%s: not trusted: readable by group or others (mode %04o, want 0600)",
				  path, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* Read a whole (small) file from fd into a new buffer (NUL-terminated);
 * the buffer is grown by copying and the old one wiped, as it may hold a
 * private key.  Free with OPENSSL_clear_free(*out, *len + 1). */
static int read_secret_fd(int fd, const char *path, size_t max, char **out, size_t *len,
			  char *err, size_t errlen)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1), *nb;
	int r = 0;

	if (buf == NULL)
		return nhi_seterr(err, errlen, NHI_ERR_NOMEM, "%s: out of memory", path);
	for (;;) {
		ssize_t k;

		if (n == cap) {
			if (cap >= max) {
				r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: file too large", path);
				goto out;
			}
			nb = malloc(2 * cap + 1);
			if (nb == NULL) {
				r = nhi_seterr(err, errlen, NHI_ERR_NOMEM, "%s: out of memory", path);
				goto out;
			}
			memcpy(nb, buf, n);
			OPENSSL_clear_free(buf, cap + 1);
			buf = nb;
			cap *= 2;
		}
		k = read(fd, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	buf[n] = '\0';
out:
	if (r < 0) {
		OPENSSL_clear_free(buf, cap + 1);
		return r;
	}
	/* shrink to n + 1 so the caller knows the size to wipe */
	nb = malloc(n + 1);
	if (nb == NULL) {
		OPENSSL_clear_free(buf, cap + 1);
		return nhi_seterr(err, errlen, NHI_ERR_NOMEM, "%s: out of memory", path);
	}
	memcpy(nb, buf, n + 1);
	OPENSSL_clear_free(buf, cap + 1);
	*out = nb;
	*len = n;
	return 0;
}

int secret_write_file(const char *path, const char *data, size_t len,
		      uid_t uid, gid_t gid, char *err, size_t errlen)
{
	return nhi_write_atomic(path, data, len, 0600, uid, gid, NHI_WRITE_SAFE_DIR | NHI_WRITE_CHOWN,
				err, errlen);
}

int secret_pepper_load(const char *path, int create, unsigned char *out,
		       char *err, size_t errlen)
{
	unsigned char buf[SECRET_PEPPER_LEN];
	char *data = NULL;
	size_t n = 0;
	int fd = -1, r;

	if (path == NULL || out == NULL)
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "pepper: no file given");
	for (int attempt = 0;; attempt++) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd >= 0 || errno != ENOENT || !create || attempt > 0)
			break;
		/* create it; a concurrent creator may win: then load theirs */
		r = RAND_priv_bytes(buf, SECRET_PEPPER_LEN) == 1 ? 0 : NHI_ERR_IO;
		if (r < 0) {
			nhi_seterr(err, errlen, r, "%s: no random bytes", path);
			goto out;
		}
		r = nhi_write_atomic(path, buf, SECRET_PEPPER_LEN, 0600, 0, 0,
				     NHI_WRITE_SAFE_DIR | NHI_WRITE_NOREPLACE, err, errlen);
		OPENSSL_cleanse(buf, sizeof(buf));
		if (r < 0 && r != NHI_ERR_EXISTS)
			goto out;
	}
	if (fd < 0) {
		r = nhi_seterr(err, errlen, errno == ELOOP ? NHI_ERR_PERM : NHI_ERR_IO,
			       "%s: %s", path, errno == ELOOP ? "is a symbolic link" : strerror(errno));
		goto out;
	}
	r = check_private_fd(fd, path, err, errlen);
	if (r < 0)
		goto out;
	r = read_secret_fd(fd, path, SECRET_PEPPER_LEN, &data, &n, err, errlen);
	if (r < 0)
		goto out;
	if (n != SECRET_PEPPER_LEN) {
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: %s than %d bytes", path,
			       n < SECRET_PEPPER_LEN ? "shorter" : "longer", SECRET_PEPPER_LEN);
		goto out;
	}
	memcpy(out, data, SECRET_PEPPER_LEN);
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (data != NULL)
		OPENSSL_clear_free(data, n + 1);
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

/* ---- SSH keys -------------------------------------------------------- */

/* A growing byte buffer whose old copies are wiped (it holds private
 * keys).  'failed' sticks after an allocation failure. */
struct sbuf {
	unsigned char *p;
	size_t len, cap;
	int failed;
};

static void sb_free(struct sbuf *b)
{
	if (b->p != NULL)
		OPENSSL_clear_free(b->p, b->cap);
	b->p = NULL;
	b->len = b->cap = 0;
}

static void sb_put(struct sbuf *b, const void *d, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		unsigned char *np;

		while (cap < b->len + n)
			cap *= 2;
		np = OPENSSL_malloc(cap);
		if (np == NULL) {
			b->failed = 1;
			return;
		}
		if (b->len > 0)
			memcpy(np, b->p, b->len);
		if (b->p != NULL)
			OPENSSL_clear_free(b->p, b->cap);
		b->p = np;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void sb_u32(struct sbuf *b, uint32_t v)
{
	unsigned char x[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 8), (unsigned char)v };
	sb_put(b, x, 4);
}

static void sb_string(struct sbuf *b, const void *d, size_t n)
{
	sb_u32(b, (uint32_t)n);
	sb_put(b, d, n);
}

static void sb_cstring(struct sbuf *b, const char *s)
{
	sb_string(b, s, strlen(s));
}

/* Base64 (with padding) of p[0..n), wrapped every 'wrap' columns when
 * wrap > 0 (each line ends in '\n').  malloc'd; NULL when out of memory. */
static char *base64(const unsigned char *p, size_t n, size_t wrap)
{
	size_t enc = 4 * ((n + 2) / 3), lines = wrap ? (enc + wrap - 1) / wrap : 0;
	char *flat = malloc(enc + 1), *out;
	size_t o = 0;

	if (flat == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)flat, p, (int)n);
	if (wrap == 0)
		return flat;
	out = malloc(enc + lines + 1);
	if (out != NULL) {
		for (size_t i = 0; i < enc; i += wrap) {
			size_t k = enc - i < wrap ? enc - i : wrap;
			memcpy(out + o, flat + i, k);
			o += k;
			out[o++] = '\n';
		}
		out[o] = '\0';
	}
	OPENSSL_clear_free(flat, enc + 1);
	return out;
}

/* "SHA256:" + unpadded base64 of the SHA-256 of a key blob. */
static int ssh_fp_blob(const unsigned char *blob, size_t n, char *fp, size_t fplen)
{
	unsigned char md[32];
	char *b;
	size_t k;

	if (EVP_Digest(blob, n, md, NULL, EVP_sha256(), NULL) != 1)
		return NHI_ERR_IO;
	b = base64(md, sizeof(md), 0);
	if (b == NULL)
		return NHI_ERR_NOMEM;
	k = strlen(b);
	while (k > 0 && b[k - 1] == '=')
		b[--k] = '\0';
	if ((size_t)snprintf(fp, fplen, "SHA256:%s", b) >= fplen) {
		free(b);
		return NHI_ERR_RANGE;
	}
	free(b);
	return 0;
}

#define ED25519_LEN 32
#define SSH_ED25519 "ssh-ed25519"
#define SSH_COMMENT_MAX 1024

static int valid_comment(const char *c)
{
	if (strlen(c) > SSH_COMMENT_MAX)
		return 0;
	for (; *c != '\0'; c++)
		if (iscntrl((unsigned char)*c))
			return 0;
	return 1;
}

int secret_ssh_new(const char *comment, char **priv, char **pub, char *fp, size_t fplen)
{
	unsigned char seed[ED25519_LEN], pk[ED25519_LEN], check[4];
	size_t seedlen = sizeof(seed), pklen = sizeof(pk);
	struct sbuf pubblob = { 0 }, sect = { 0 }, file = { 0 };
	EVP_PKEY *key = NULL;
	char *b64 = NULL, *pubb64 = NULL, *privout = NULL, *pubout = NULL;
	size_t need = 0, publen;
	int r;

	if (priv == NULL || pub == NULL || fp == NULL)
		return NHI_ERR_INVAL;
	*priv = *pub = NULL;
	if (comment == NULL)
		comment = "";
	if (!valid_comment(comment))
		return NHI_ERR_INVAL;
	/* the private key comes from the private DRBG (OpenSSL generates
	 * private keys with it) */
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (key == NULL || EVP_PKEY_get_raw_private_key(key, seed, &seedlen) != 1 ||
	    EVP_PKEY_get_raw_public_key(key, pk, &pklen) != 1 || seedlen != ED25519_LEN ||
	    pklen != ED25519_LEN || RAND_bytes(check, sizeof(check)) != 1) {
		r = NHI_ERR_IO;
		goto out;
	}
	sb_cstring(&pubblob, SSH_ED25519);
	sb_string(&pubblob, pk, sizeof(pk));

	/* the private section (PROTOCOL.key): check ints, the key, padding */
	sb_put(&sect, check, sizeof(check));
	sb_put(&sect, check, sizeof(check));
	sb_cstring(&sect, SSH_ED25519);
	sb_string(&sect, pk, sizeof(pk));
	sb_u32(&sect, 2 * ED25519_LEN);
	sb_put(&sect, seed, sizeof(seed));
	sb_put(&sect, pk, sizeof(pk));
	sb_cstring(&sect, comment);
	for (unsigned char pad = 1; sect.len % 8 != 0; pad++)
		sb_put(&sect, &pad, 1);

	sb_put(&file, "openssh-key-v1", sizeof("openssh-key-v1")); /* with its NUL */
	sb_cstring(&file, "none");	/* cipher */
	sb_cstring(&file, "none");	/* kdf */
	sb_string(&file, "", 0);	/* kdf options */
	sb_u32(&file, 1);		/* number of keys */
	sb_string(&file, pubblob.p, pubblob.len);
	sb_string(&file, sect.p, sect.len);
	if (pubblob.failed || sect.failed || file.failed) {
		r = NHI_ERR_NOMEM;
		goto out;
	}
	b64 = base64(file.p, file.len, 70);
	pubb64 = base64(pubblob.p, pubblob.len, 0);
	if (b64 == NULL || pubb64 == NULL) {
		r = NHI_ERR_NOMEM;
		goto out;
	}
	need = strlen(b64) + 80;
	publen = strlen(pubb64) + strlen(comment) + sizeof(SSH_ED25519) + 2;
	privout = malloc(need);
	pubout = malloc(publen);
	if (privout == NULL || pubout == NULL) {
		r = NHI_ERR_NOMEM;
		goto out;
	}
	snprintf(privout, need, "-----BEGIN OPENSSH PRIVATE KEY-----\n%s"
		 "-----END OPENSSH PRIVATE KEY-----\n", b64);
	snprintf(pubout, publen, "%s %s%s%s", SSH_ED25519, pubb64, *comment ? " " : "", comment);
	r = ssh_fp_blob(pubblob.p, pubblob.len, fp, fplen);
	if (r < 0)
		goto out;
	*priv = privout;
	*pub = pubout;
	privout = pubout = NULL;
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	EVP_PKEY_free(key);
	sb_free(&pubblob);
	sb_free(&sect);
	sb_free(&file);
	secret_free(b64);
	free(pubb64);
	if (privout != NULL)
		OPENSSL_clear_free(privout, need);
	free(pubout);
	return r;
}

int secret_ssh_fingerprint(const char *pub, char *fp, size_t fplen)
{
	const char *t, *b, *e;
	unsigned char *blob = NULL;
	size_t tlen, blen, pad = 0;
	int n, r = NHI_ERR_FORMAT;

	if (pub == NULL || fp == NULL)
		return NHI_ERR_INVAL;
	for (t = pub; *t == ' ' || *t == '\t'; t++)
		;
	tlen = strcspn(t, " \t\r\n");
	for (b = t + tlen; *b == ' ' || *b == '\t'; b++)
		;
	blen = strcspn(b, " \t\r\n");
	if (tlen == 0 || blen == 0 || blen % 4 != 0 || blen > 65536)
		return NHI_ERR_FORMAT;
	while (pad < 2 && b[blen - 1 - pad] == '=')
		pad++;
	for (e = b; e < b + blen - pad; e++)
		if (!(isalnum((unsigned char)*e) || *e == '+' || *e == '/'))
			return NHI_ERR_FORMAT;
	blob = malloc(blen / 4 * 3 + 1);
	if (blob == NULL)
		return NHI_ERR_NOMEM;
	n = EVP_DecodeBlock(blob, (const unsigned char *)b, (int)blen);
	if (n < 0 || (size_t)n < pad)
		goto out;
	n -= (int)pad;
	/* the blob begins with the key type, the same as the line's */
	if (n < 4 || ((size_t)blob[0] << 24 | (size_t)blob[1] << 16 | (size_t)blob[2] << 8 |
		      blob[3]) != tlen || (size_t)n < 4 + tlen || memcmp(blob + 4, t, tlen) != 0)
		goto out;
	r = ssh_fp_blob(blob, (size_t)n, fp, fplen);
out:
	free(blob);
	return r;
}

/* ---- certificates ---------------------------------------------------- */

#define PEM_FILE_MAX (1u << 20)

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1; /* an encrypted CA key cannot be used unattended */
}

/* Open and check a CA file (private: the key; else: the certificate) and
 * read it whole. */
static int read_ca_file(const char *path, int private, char **data, size_t *len,
			char *err, size_t errlen)
{
	int fd, r;

	if (path == NULL || *path == '\0')
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s not configured",
				  private ? "ca_key" : "ca_cert");
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return nhi_seterr(err, errlen, errno == ENOENT ? NHI_ERR_NOTFOUND : NHI_ERR_IO,
				  "%s: %s", path, errno == ELOOP ? "is a symbolic link" : strerror(errno));
	r = private ? check_private_fd(fd, path, err, errlen)
		    : nhi_check_trusted_fd(fd, path, err, errlen);
	if (r == 0)
		r = read_secret_fd(fd, path, PEM_FILE_MAX, data, len, err, errlen);
	close(fd);
	return r;
}

static int load_ca(const char *ca_cert, const char *ca_key, X509 **cert, EVP_PKEY **key,
		   char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	int r;

	r = read_ca_file(ca_cert, 0, &data, &len, err, errlen);
	if (r < 0)
		goto out;
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio == NULL) {
		r = nhi_seterr(err, errlen, NHI_ERR_NOMEM, "%s: out of memory", ca_cert);
		goto out;
	}
	*cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	bio = NULL;
	OPENSSL_clear_free(data, len + 1);
	data = NULL;
	if (*cert == NULL) {
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: no PEM certificate", ca_cert);
		goto out;
	}
	if (X509_check_ca(*cert) == 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: not a CA certificate", ca_cert);
		goto out;
	}

	r = read_ca_file(ca_key, 1, &data, &len, err, errlen);
	if (r < 0)
		goto out;
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio == NULL) {
		r = nhi_seterr(err, errlen, NHI_ERR_NOMEM, "%s: out of memory", ca_key);
		goto out;
	}
	*key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (*key == NULL) {
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT,
			       "%s: no unencrypted PEM private key", ca_key);
		goto out;
	}
	if (X509_check_private_key(*cert, *key) != 1) {
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: does not match the CA certificate %s",
			       ca_key, ca_cert);
		goto out;
	}
	r = 0;
out:
	BIO_free(bio);
	if (data != NULL)
		OPENSSL_clear_free(data, len + 1);
	ERR_clear_error();
	return r;
}

static int valid_dns(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!(isalnum(c) || (c == '-' && label > 0)) || ++label > 63)
			return 0;
	}
	return 1;
}

/* RFC 3986 characters (no spaces, quotes or controls). */
static int valid_uri_chars(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("-._~:/?#[]@!$&'()*+,;=%", *s) == NULL)
			return 0;
	return 1;
}

/* SAN for 'name': a URI as given (it has a ':'), a DNS name, or else
 * "urn:nhi:NAME" (identity names may carry '_' or a final '$'). */
static int add_san(X509 *x, const char *name)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	char uri[128];
	int type = GEN_DNS, r = NHI_ERR_NOMEM;
	const char *v = name;

	if (gens == NULL || g == NULL || ia5 == NULL)
		goto out;
	if (strchr(name, ':') != NULL) {
		type = GEN_URI;
	} else if (!valid_dns(name)) {
		type = GEN_URI;
		snprintf(uri, sizeof(uri), "urn:nhi:%s", name); /* name <= 64 */
		v = uri;
	}
	if (!ASN1_STRING_set(ia5, v, -1))
		goto out;
	GENERAL_NAME_set0_value(g, type, ia5);
	ia5 = NULL;
	if (!sk_GENERAL_NAME_push(gens, g))
		goto out;
	g = NULL;
	r = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1 ? 0
										  : NHI_ERR_IO;
out:
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(g);
	GENERAL_NAMES_free(gens);
	return r;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;

	if (ext == NULL)
		return NHI_ERR_IO;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : NHI_ERR_NOMEM;
}

/* authorityKeyIdentifier: the CA's subjectKeyIdentifier, or when its
 * certificate has none, the SHA-1 of its public key (RFC 5280 4.2.1.2),
 * which is what the CA's own SKI would be. */
static int add_akid(X509 *x, X509 *ca)
{
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(ca);
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int r = NHI_ERR_IO;

	if (akid == NULL)
		return NHI_ERR_NOMEM;
	if (skid != NULL) {
		akid->keyid = ASN1_OCTET_STRING_dup(skid);
	} else if (X509_pubkey_digest(ca, EVP_sha1(), md, &n) == 1) {
		akid->keyid = ASN1_OCTET_STRING_new();
		if (akid->keyid != NULL && !ASN1_OCTET_STRING_set(akid->keyid, md, (int)n)) {
			ASN1_OCTET_STRING_free(akid->keyid);
			akid->keyid = NULL;
		}
	}
	if (akid->keyid != NULL &&
	    X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, X509V3_ADD_DEFAULT) == 1)
		r = 0;
	AUTHORITY_KEYID_free(akid);
	return r;
}

/* The contents of a memory BIO as a new string; the BIO is wiped. */
static char *bio_string(BIO *bio)
{
	BUF_MEM *bm = NULL;
	char *s = NULL;

	BIO_get_mem_ptr(bio, &bm);
	if (bm == NULL)
		return NULL;
	s = malloc(bm->length + 1);
	if (s != NULL) {
		memcpy(s, bm->data, bm->length);
		s[bm->length] = '\0';
	}
	OPENSSL_cleanse(bm->data, bm->length);
	return s;
}

int secret_cert_new(const char *ca_cert, const char *ca_key, const char *name,
		    time_t not_after, char **cert_pem, char **key_pem,
		    char *serial, size_t seriallen, char *fp, size_t fplen,
		    char *err, size_t errlen)
{
	X509 *ca = NULL, *x = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	X509_NAME *subj = NULL;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	BIO *cbio = NULL, *kbio = NULL;
	char *hex = NULL, *cpem = NULL, *kpem = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	X509V3_CTX ctx;
	time_t now = time(NULL);
	int r;

	if (cert_pem == NULL || key_pem == NULL || serial == NULL || fp == NULL)
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "certificate: missing output");
	*cert_pem = *key_pem = NULL;
	if (name == NULL || *name == '\0' || strlen(name) > 64 || !valid_uri_chars(name))
		return nhi_seterr(err, errlen, NHI_ERR_INVAL,
				  "certificate: name '%s' is not usable as CN and SAN",
				  name != NULL && valid_comment(name) ? name : "?");
	if (not_after <= now)
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "certificate: not-after is in the past");
	r = load_ca(ca_cert, ca_key, &ca, &cakey, err, errlen);
	if (r < 0)
		goto out;
	if (X509_cmp_time(X509_get0_notAfter(ca), &not_after) <= 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_INVAL,
			       "certificate: not-after is later than the CA's (%s)", ca_cert);
		goto out;
	}
	r = NHI_ERR_IO;
	x = X509_new();
	bn = BN_new();
	subj = X509_NAME_new();
	if (x == NULL || bn == NULL || subj == NULL)
		goto crypto_failed;
	/* 128 random bits, the top one set: positive, always 16 bytes */
	if (BN_rand(bn, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL || (hex = BN_bn2hex(bn)) == NULL)
		goto crypto_failed;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (key == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
	    X509_set_serialNumber(x, sn) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
	    X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_UTF8,
				       (const unsigned char *)name, -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, subj) != 1 ||
	    ASN1_TIME_set(X509_getm_notBefore(x), now - 300) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), not_after) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto crypto_failed;
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, &ctx, NID_ext_key_usage, "clientAuth") < 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
	    add_akid(x, ca) < 0 ||
	    add_san(x, name) < 0)
		goto crypto_failed;
	/* EdDSA keys sign without a separate digest */
	if (X509_sign(x, cakey, EVP_PKEY_is_a(cakey, "ED25519") || EVP_PKEY_is_a(cakey, "ED448")
				    ? NULL : EVP_sha256()) <= 0)
		goto crypto_failed;
	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
		goto crypto_failed;
	cbio = BIO_new(BIO_s_mem());
	kbio = BIO_new(BIO_s_mem());
	if (cbio == NULL || kbio == NULL || PEM_write_bio_X509(cbio, x) != 1 ||
	    PEM_write_bio_PrivateKey(kbio, key, NULL, NULL, 0, NULL, NULL) != 1)
		goto crypto_failed;
	cpem = bio_string(cbio);
	kpem = bio_string(kbio);
	if (cpem == NULL || kpem == NULL) {
		r = nhi_seterr(err, errlen, NHI_ERR_NOMEM, "certificate: out of memory");
		goto out;
	}
	if (strlen(hex) >= seriallen || fplen < sizeof("SHA256:") + 64) {
		r = nhi_seterr(err, errlen, NHI_ERR_RANGE, "certificate: buffer too small");
		goto out;
	}
	for (size_t i = 0; hex[i] != '\0'; i++)
		serial[i] = (char)tolower((unsigned char)hex[i]);
	serial[strlen(hex)] = '\0';
	memcpy(fp, "SHA256:", 7);
	hex_lower(md, 32, fp + 7);
	*cert_pem = cpem;
	*key_pem = kpem;
	cpem = kpem = NULL;
	r = 0;
	goto out;
crypto_failed:
	r = nhi_seterr(err, errlen, NHI_ERR_IO, "certificate for %s: OpenSSL: %s", name,
		       ERR_reason_error_string(ERR_peek_last_error()) != NULL
			       ? ERR_reason_error_string(ERR_peek_last_error())
			       : "failed");
out:
	ERR_clear_error();
	X509_free(ca);
	X509_free(x);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);
	X509_NAME_free(subj);
	BN_free(bn);
	ASN1_INTEGER_free(sn);
	BIO_free(cbio);
	BIO_free(kbio);
	OPENSSL_free(hex);
	free(cpem);
	secret_free(kpem);
	return r;
}

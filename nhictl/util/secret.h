/* secret.h - generating, hashing and handing over credentials (issue 4).
 *
 * Every secret comes from OpenSSL's CSPRNG (RAND_priv_bytes).  Buffers that
 * hold a secret are the caller's; the caller wipes them with
 * OPENSSL_cleanse() (or explicit_bzero()) after use.  Heap strings returned
 * here that hold a secret (private keys) are freed by the caller with
 * secret_free(), which wipes them first.  Nothing here logs or prints.
 *
 * All functions return 0 or a negative NHI_ERR_* code (nhi_err.h); where an
 * 'err' buffer is given it receives one line saying what failed.
 */
#ifndef NHICTL_SECRET_H
#define NHICTL_SECRET_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Wipe and free a heap string from this module (NULL is fine). */
void secret_free(char *s);

/* ---- passwords --------------------------------------------------------
 * A full-entropy password: 32 characters of an unambiguous alphabet
 * (at least 180 bits).  Stored as "{CRYPT}$y$..." (yescrypt through
 * libcrypt's crypt_gensalt_rn/crypt_rn), a value slapd's {CRYPT} scheme
 * verifies on bind.  'out' needs SECRET_PASSWORD_LEN + 1 bytes. */
#define SECRET_PASSWORD_LEN 32
#define SECRET_HASH_MAX 256
int secret_password_new(char *out, size_t len);
int secret_password_hash(const char *pw, char *hash, size_t len);
/* 0 if pw matches the "{CRYPT}..." hash (constant-time compare of the
 * computed hash), NHI_ERR_PERM if not, NHI_ERR_FORMAT for a bad hash. */
int secret_password_verify(const char *pw, const char *hash);

/* ---- tokens -----------------------------------------------------------
 * "nhi_" + 12-character id + "_" + 43-character secret (base62, 256 bits)
 * + 6-character base62 CRC-32 of everything before it, like GitHub's
 * tokens, so secret scanners can find a leaked one and a typo is caught
 * before any lookup.  The id names the credential (it is not secret).
 * Stored as hex HMAC-SHA-256(pepper, token); the pepper is a root-only
 * local file of 32 random bytes. */
#define SECRET_TOKEN_PREFIX "nhi_"
#define SECRET_TOKEN_ID_LEN 12
#define SECRET_TOKEN_MAX 80
#define SECRET_MAC_HEX 65
int secret_token_new(char *tok, size_t toklen, char *id, size_t idlen);
/* Check prefix, shape and checksum; copy the id out.  0 or NHI_ERR_FORMAT. */
int secret_token_parse(const char *tok, char *id, size_t idlen);
int secret_token_mac(const unsigned char *pepper, size_t pepperlen, const char *tok,
		     char *hex, size_t hexlen);
/* 0 if the MAC of tok equals mac_hex (CRYPTO_memcmp), else NHI_ERR_PERM. */
int secret_token_verify(const unsigned char *pepper, size_t pepperlen, const char *tok,
			const char *mac_hex);
/* Load the pepper file (regular, owned by root or the euid, mode 0600 or
 * 0400, exactly 32 bytes); with 'create', make it (0600, atomically) when
 * it does not exist.  0, NHI_ERR_PERM, NHI_ERR_IO, NHI_ERR_FORMAT. */
#define SECRET_PEPPER_LEN 32
int secret_pepper_load(const char *path, int create, unsigned char *out,
		       char *err, size_t errlen);

/* ---- SSH keys (Ed25519) -------------------------------------------------
 * *priv: the private key in OpenSSH format ("-----BEGIN OPENSSH PRIVATE
 * KEY-----", unencrypted), free with secret_free(); *pub: the public key
 * line "ssh-ed25519 AAAA... comment", free with free(); fp: "SHA256:..."
 * as ssh-keygen -l prints it. */
#define SECRET_FP_MAX 128
int secret_ssh_new(const char *comment, char **priv, char **pub, char *fp, size_t fplen);
/* The SHA256 fingerprint of a public key line ("ssh-ed25519 AAAA..."). */
int secret_ssh_fingerprint(const char *pub, char *fp, size_t fplen);

/* ---- certificates -------------------------------------------------------
 * An X.509 v3 certificate for 'name' (CN=name, SAN DNS or URI from the
 * name), a new key (Ed25519 or EC P-256), random 128-bit serial,
 * notBefore now - 5 min, notAfter 'not_after', signed by the CA whose
 * certificate and key are read from ca_cert/ca_key (the key file must be
 * root-only: checked).  *cert_pem (free()) and *key_pem (secret_free());
 * serial as hex; fp: "SHA256:" hex fingerprint of the certificate. */
int secret_cert_new(const char *ca_cert, const char *ca_key, const char *name,
		    time_t not_after, char **cert_pem, char **key_pem,
		    char *serial, size_t seriallen, char *fp, size_t fplen,
		    char *err, size_t errlen);

/* ---- handing a secret over ----------------------------------------------
 * Write data to 'path' atomically (temp file in the same directory,
 * O_EXCL, mode 0600, fchown to uid/gid, fsync, rename, fsync of the
 * directory), relative to the directory opened by a walk of the whole
 * path that refuses any directory on the way not owned by root/the euid
 * or writable by others without the sticky bit (nhi_write_atomic with
 * NHI_WRITE_SAFE_DIR).  0, NHI_ERR_IO, NHI_ERR_PERM. */
int secret_write_file(const char *path, const char *data, size_t len,
		      uid_t uid, gid_t gid, char *err, size_t errlen);

#endif

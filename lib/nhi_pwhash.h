/* nhi_pwhash.h - the password hashes of identities: the root-only file
 * nhi.shadow (state_dir/nhi.shadow, mode 0600 root) that nhictl publishes
 * beside the snapshot, and its reader for nss_nhi (getspnam: sp_pwdp) and
 * pam_nhi (auth: every usable hash, old ones in a rotation's grace too).
 *
 * The snapshot is world-readable and holds no secret; the hashes live in
 * this file only, which nhictl writes with the key index (same generation,
 * temp file + fsync + rename) at every publication that may change them.
 *
 * Format (text, one record a line, '\n' ends every line):
 *
 *   # nhi-shadow 1 GENERATION COUNT CHECKSUM
 *   NAME GRACE_UNTIL NOT_AFTER HASH
 *   ...
 *
 * GENERATION is the snapshot generation the file was written at; a reader
 * refuses a file older than the snapshot's keys_generation (written
 * together), so a hash revoked in a publication is never served from an
 * older file.  COUNT is the number of records; CHECKSUM is 16 hex digits
 * of nhi_checksum(the records, their length, GENERATION).  A record:
 * the identity's name, the end of the hash's rotation grace (0 = active),
 * its not-after (0 = none), and a crypt(3) hash ("$y$..."; printable, no
 * space or ':', at most NHI_PWH_HASH_MAX bytes).  Records are sorted by
 * name, and for one name the active hashes come first, newest first,
 * then those in grace.  Only identities that are active or orphaned have
 * records; only hashes usable when written.
 *
 * The reader trusts the file only when it is a regular file owned by root
 * (or the effective uid) with no permission for group or others, no
 * larger than NHI_PWH_MAX_SIZE, with a well-formed header, the right
 * count and checksum and every record well formed: anything else is
 * refused as a whole, with one line naming the file (and line).
 */
#ifndef NHI_PWHASH_H
#define NHI_PWHASH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "nhi_snapshot.h"

#define NHI_PWH_MAGIC "# nhi-shadow 1 "
#define NHI_PWH_HASH_MAX 255
#define NHI_PWH_MAX_SIZE ((size_t)64 * 1024 * 1024)

struct nhi_pwh;

/* Read and check the file at path; it must be at least as new as snap's
 * keys_generation (snap NULL: no such check).  0, NHI_ERR_NOTFOUND (no
 * file), NHI_ERR_PERM (not trusted), NHI_ERR_FORMAT (damaged or older
 * than the snapshot), NHI_ERR_IO or NHI_ERR_NOMEM, with one line in err. */
int nhi_pwh_load(const char *path, const struct nhi_snap *snap, struct nhi_pwh **out,
		 char *err, size_t errlen);

/* Called for each usable hash, in file order (active newest first, then
 * grace); 'hash' is NUL-terminated and wiped after the call.  Non-zero
 * stops the walk and is returned by nhi_pwh_each. */
typedef int (*nhi_pwh_fn)(void *ctx, const char *hash, int grace);

/* The hashes of 'user' usable at 'now': only when user is an identity of
 * snap that is active or orphaned and not expired (suspended, retired,
 * expired: none), and each hash's grace and not-after not passed. */
int nhi_pwh_each(const struct nhi_pwh *f, const struct nhi_snap *snap, const char *user,
		 time_t now, nhi_pwh_fn fn, void *ctx);

/* Wipe and free (NULL is fine). */
void nhi_pwh_free(struct nhi_pwh *f);

/* 1 when s is a hash the file may hold (see the format above). */
int nhi_pwh_valid_hash(const char *s, size_t len);

#endif

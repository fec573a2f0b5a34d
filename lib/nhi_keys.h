/* nhi_keys.h - the SSH keys sshd may accept for a user: what `nhictl
 * authorized-keys` and nhi-authorized-keys print for sshd's
 * AuthorizedKeysCommand.
 *
 * Reads only the world-readable snapshot and key index (no registry, no
 * root needed).  A key is served when the user is an identity pam_nhi
 * would let in through sshd (the same nhi_account_check), the key is
 * active or within its rotation's grace, and it has not expired; the key
 * index must be at least as new as the snapshot's keys_generation, so a
 * key revoked in a publication is never served from an older index.
 */
#ifndef NHI_KEYS_H
#define NHI_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "nhi_conf.h"
#include "nhi_policy.h"

/* One key: 'line' is the key text (len bytes, no newline, not
 * NUL-terminated: it points into the mapped index, valid only during
 * the callback). */
struct nhi_key {
	const char *line;
	size_t len;
	int64_t grace_until;   /* 0 = active */
	int64_t not_after;     /* 0 = does not expire */
};

/* Called for each key in index order; non-zero stops the walk and is
 * returned. */
typedef int (*nhi_key_fn)(void *ctx, const struct nhi_key *k);

/* The keys of 'user' at 'now', to fn.  *d is pam_nhi's decision for
 * user through sshd (d->registered 0 and verdict NHI_V_IGNORE for a name
 * that can be no identity's, upper case or with a domain, as sshd asks
 * for every user).  Returns 0 (no key is not an error: d says why), what
 * fn returned, or a negative code with err: the snapshot or the key index
 * is missing, untrusted or damaged, or the index is older than the
 * snapshot. */
int nhi_keys_for(const struct nhi_conf *c, const char *user, time_t now, nhi_key_fn fn,
		 void *ctx, struct nhi_decision *d, char *err, size_t errlen);

#endif

/* nhi_keys.c - the SSH keys sshd may accept for a user (see nhi_keys.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "nhi_err.h"
#include "nhi_keys.h"
#include "nhi_snapshot.h"
#include "nhi_time.h"

/* Map the key index after checking it is ours (root-owned, not writable
 * by others), well formed and at least as new as the snapshot's keys. */
static int keyidx_map(const char *path, const struct nhi_snap *snap, char **map, size_t *len,
		      char *err, size_t errlen)
{
	unsigned long long gen = 0;
	char head[64];
	struct stat st;
	int fd, r;

	*map = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return nhi_seterr(err, errlen, errno == ENOENT ? NHI_ERR_NOTFOUND : NHI_ERR_IO,
				  "%s: %s (run 'nhictl publish')", path, strerror(errno));
	/* opened with O_NOFOLLOW: no link; the check's fstat fills st */
	r = nhi_check_trusted(fd, path, NHI_TRUST_NOT_LINK, &st, err, errlen);
	if (r == 0 && (st.st_size < (off_t)sizeof("# nhi-keys 1 0\n") - 1 ||
		       st.st_size > (off_t)256 * 1024 * 1024))
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: bad size", path);
	if (r == 0) {
		*map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (*map == MAP_FAILED) {
			*map = NULL;
			r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", path, strerror(errno));
		}
	}
	close(fd);
	if (r < 0)
		return r;
	*len = (size_t)st.st_size;
	/* the header line, NUL-terminated (the mapping is not) */
	memcpy(head, *map, *len < sizeof(head) ? *len : sizeof(head) - 1);
	head[*len < sizeof(head) ? *len - 1 : sizeof(head) - 1] = '\0';
	if (sscanf(head, "# nhi-keys 1 %llu\n", &gen) != 1 || (*map)[*len - 1] != '\n')
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: not a key index", path);
	else if (gen < nhi_snap_keys_generation(snap))
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT,
			       "%s: older than the snapshot (run 'nhictl publish')", path);
	if (r < 0) {
		munmap(*map, *len);
		*map = NULL;
	}
	return r;
}

/* One decimal field of a key index line in [*pp, end): spaces, an
 * optional '-', digits, then a space.  Bounded by end (the mapping is
 * not NUL-terminated, so no sscanf or strtoll on it), no overflow.
 * Returns 0 and moves *pp to the space, or -1. */
static int index_field(const char **pp, const char *end, long long *v)
{
	const char *p = *pp;
	unsigned long long acc = 0, lim;
	int neg = 0;

	while (p < end && *p == ' ')
		p++;
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
	if (p >= end || *p < '0' || *p > '9')
		return -1;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (acc > (lim - d) / 10)
			return -1;
		acc = acc * 10 + d;
	}
	if (p >= end || *p != ' ')
		return -1;
	*v = neg ? (long long)(0 - acc) : (long long)acc;
	*pp = p;
	return 0;
}

int nhi_keys_for(const struct nhi_conf *c, const char *user, time_t now, nhi_key_fn fn,
		 void *ctx, struct nhi_decision *d, char *err, size_t errlen)
{
	struct nhi_snap *snap = NULL;
	const char *p, *end;
	char *map = NULL, why[PATH_MAX + 128];
	size_t len = 0, ulen;
	int r;

	memset(d, 0, sizeof(*d));
	d->verdict = d->would = NHI_V_IGNORE;
	if (!nhi_valid_name(user))
		return 0;
	r = nhi_snap_open(c->cache_path, NHI_SNAP_VERIFY_READ | NHI_SNAP_TRUST, &snap, why,
			  sizeof(why));
	if (r < 0)
		return nhi_seterr(err, errlen, r, "snapshot unusable: %s", why);
	/* the decision pam_nhi makes for sshd; keys only when it allows */
	nhi_account_check(c, snap, user, NULL, "sshd", now, d);
	if (d->verdict != NHI_V_ALLOW || !d->registered)
		goto out;
	if ((r = keyidx_map(c->key_index, snap, &map, &len, err, errlen)) < 0)
		goto out;
	ulen = strlen(user);
	for (p = map; p < map + len && r == 0; p = end + 1) {
		struct nhi_key k;
		long long grace, not_after;
		const char *q;

		end = memchr(p, '\n', (size_t)(map + len - p));
		if (end == NULL)
			break;
		if ((size_t)(end - p) <= ulen || memcmp(p, user, ulen) != 0 || p[ulen] != ' ')
			continue;
		q = p + ulen;
		if (index_field(&q, end, &grace) < 0 || index_field(&q, end, &not_after) < 0)
			continue;
		while (q < end && *q == ' ')
			q++;
		if (q >= end)
			continue;
		if ((grace != 0 && grace <= (long long)now) ||
		    (not_after != 0 && not_after <= (long long)now))
			continue;
		k.line = q;
		k.len = (size_t)(end - k.line);
		k.grace_until = grace;
		k.not_after = not_after;
		r = fn(ctx, &k);
	}
out:
	if (map != NULL)
		munmap(map, len);
	nhi_snap_close(snap);
	return r;
}

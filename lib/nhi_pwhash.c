/* nhi_pwhash.c - reader of nhi.shadow, the identities' password hashes
 * (see nhi_pwhash.h).  libc only: loaded into nss_nhi and pam_nhi. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "nhi_ascii.h"
#include "nhi_conf.h"
#include "nhi_err.h"
#include "nhi_hash.h"
#include "nhi_pwhash.h"
#include "nhi_time.h"

struct nhi_pwh {
	char *buf;            /* the whole file, NUL-terminated */
	size_t len;
	const char *recs;     /* the first record, after the header */
};

/* One record, pointing into the buffer. */
struct rec {
	const char *name, *hash;
	size_t name_len, hash_len;
	int64_t grace_until, not_after;
};

int nhi_pwh_valid_hash(const char *s, size_t len)
{
	if (len == 0 || len > NHI_PWH_HASH_MAX || s[0] != '$')
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == ':')
			return 0;
	return 1;
}

/* A decimal number of at most 18 digits ending at a space. */
static const char *parse_num(const char *p, const char *end, int64_t *v)
{
	int n = 0;

	*v = 0;
	for (; p < end && *p >= '0' && *p <= '9' && n < 18; p++, n++)
		*v = *v * 10 + (*p - '0');
	return n > 0 && p < end && *p == ' ' ? p + 1 : NULL;
}

/* "NAME GRACE_UNTIL NOT_AFTER HASH" in [p, end) (end at the '\n'). */
static int parse_rec(const char *p, const char *end, struct rec *r)
{
	char name[40];
	const char *sp = memchr(p, ' ', (size_t)(end - p));

	if (sp == NULL || sp == p || (size_t)(sp - p) >= sizeof(name))
		return -1;
	memcpy(name, p, (size_t)(sp - p));
	name[sp - p] = '\0';
	if (!nhi_valid_name(name))
		return -1;
	r->name = p;
	r->name_len = (size_t)(sp - p);
	p = parse_num(sp + 1, end, &r->grace_until);
	if (p == NULL || (p = parse_num(p, end, &r->not_after)) == NULL)
		return -1;
	r->hash = p;
	r->hash_len = (size_t)(end - p);
	return nhi_pwh_valid_hash(r->hash, r->hash_len) ? 0 : -1;
}

/* The header line (its '\n' a NUL): NHI_PWH_MAGIC, then "GEN COUNT SUM"
 * as the writer makes it (decimal, decimal, 16 hex digits; one space
 * between).  0, or -1. */
static int parse_head(const char *h, uint64_t *gen, uint64_t *count, uint64_t *sum)
{
	int i;

	if (!nhi_prefix(h, NHI_PWH_MAGIC))
		return -1;
	h += strlen(NHI_PWH_MAGIC);
	if (nhi_parse_dec(&h, UINT64_MAX, gen) < 0 || *h++ != ' ' ||
	    nhi_parse_dec(&h, UINT64_MAX, count) < 0 || *h++ != ' ')
		return -1;
	*sum = 0;
	for (i = 0; i < 16; i++, h++) {
		if (!nhi_isxdigit((unsigned char)*h))
			return -1;
		*sum = *sum << 4 | (uint64_t)(nhi_isdigit((unsigned char)*h) ? *h - '0' :
					       nhi_tolower((unsigned char)*h) - 'a' + 10);
	}
	return *h == '\0' ? 0 : -1;
}

/* The header and every record; *recs is the first record. */
static int check(const char *path, const char *buf, size_t len, const struct nhi_snap *snap,
		 const char **recs, char *err, size_t errlen)
{
	uint64_t gen, count, sum;
	const char *p, *nl = memchr(buf, '\n', len);
	char head[128];
	size_t n = 0, line = 1;

	if (nl == NULL || (size_t)(nl - buf) >= sizeof(head) || buf[len - 1] != '\n')
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: not a password file", path);
	memcpy(head, buf, (size_t)(nl - buf));
	head[nl - buf] = '\0';
	if (parse_head(head, &gen, &count, &sum) < 0)
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s:1: not a password file header",
				  path);
	*recs = nl + 1;
	if (nhi_checksum(*recs, len - (size_t)(*recs - buf), (uint64_t)gen) != (uint64_t)sum)
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: checksum mismatch (damaged "
				  "file; run 'nhictl publish')", path);
	for (p = *recs; p < buf + len; p = nl + 1) {
		struct rec r;

		line++;
		nl = memchr(p, '\n', (size_t)(buf + len - p));
		if (parse_rec(p, nl, &r) < 0)
			return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s:%zu: bad record", path,
					  line);
		n++;
	}
	if (n != count)
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: %zu records, the header says "
				  "%llu", path, n, (unsigned long long)count);
	if (snap != NULL && gen < nhi_snap_keys_generation(snap))
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: older than the snapshot "
				  "(run 'nhictl publish')", path);
	return 0;
}

int nhi_pwh_load(const char *path, const struct nhi_snap *snap, struct nhi_pwh **out,
		 char *err, size_t errlen)
{
	struct nhi_pwh *f = NULL;
	struct stat st;
	size_t got = 0;
	int fd, r;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return nhi_seterr(err, errlen, errno == ENOENT ? NHI_ERR_NOTFOUND : NHI_ERR_IO,
				  "%s: %s", path, strerror(errno));
	/* opened with O_NOFOLLOW: no link; the check's fstat fills st */
	r = nhi_check_trusted(fd, path, NHI_TRUST_NOT_LINK, &st, err, errlen);
	if (r < 0)
		goto out;
	/* it holds secrets: nobody else may even read it */
	if (st.st_mode & 077) {
		r = nhi_seterr(err, errlen, NHI_ERR_PERM, "%s: not trusted: readable by group or "
			       "others (mode %04o, must be 0600)", path,
			       (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size < (off_t)strlen(NHI_PWH_MAGIC) || (size_t)st.st_size > NHI_PWH_MAX_SIZE) {
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: bad size %lld", path,
			       (long long)st.st_size);
		goto out;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = nhi_seterr(err, errlen, NHI_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	f->len = (size_t)st.st_size;
	while (got < f->len) {
		ssize_t k = read(fd, f->buf + got, f->len - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r = nhi_seterr(err, errlen, k < 0 ? NHI_ERR_IO : NHI_ERR_FORMAT, "%s: %s",
				       path, k < 0 ? strerror(errno) : "truncated while read");
			goto out;
		}
		got += (size_t)k;
	}
	f->buf[f->len] = '\0';
	r = check(path, f->buf, f->len, snap, &f->recs, err, errlen);
	if (r == 0) {
		*out = f;
		f = NULL;
	}
out:
	nhi_pwh_free(f);
	close(fd);
	return r;
}

int nhi_pwh_each(const struct nhi_pwh *f, const struct nhi_snap *snap, const char *user,
		 time_t now, nhi_pwh_fn fn, void *ctx)
{
	char hash[NHI_PWH_HASH_MAX + 1];
	size_t ulen = strlen(user);
	struct nhi_ident id;
	const char *p, *nl, *end = f->buf + f->len;
	int r = 0;

	if (nhi_snap_ident_by_name(snap, user, &id) < 0 ||
	    (id.state != NHI_STATE_ACTIVE && id.state != NHI_STATE_ORPHANED) ||
	    (id.expires != 0 && (int64_t)now >= id.expires))
		return 0;
	for (p = f->recs; p < end && r == 0; p = nl + 1) {
		struct rec rc;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL || parse_rec(p, nl, &rc) < 0)
			break;   /* checked at load: cannot happen */
		if (rc.name_len != ulen || memcmp(rc.name, user, ulen) != 0)
			continue;
		if ((rc.grace_until != 0 && rc.grace_until <= (int64_t)now) ||
		    (rc.not_after != 0 && rc.not_after <= (int64_t)now))
			continue;
		memcpy(hash, rc.hash, rc.hash_len);
		hash[rc.hash_len] = '\0';
		r = fn(ctx, hash, rc.grace_until != 0);
		explicit_bzero(hash, sizeof(hash));
	}
	return r;
}

void nhi_pwh_free(struct nhi_pwh *f)
{
	if (f == NULL)
		return;
	if (f->buf != NULL) {
		explicit_bzero(f->buf, f->len + 1);
		free(f->buf);
	}
	free(f);
}

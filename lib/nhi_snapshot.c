/* nhi_snapshot.c - the snapshot reader: mmap, bounds checks, hash lookups.
 * libc only: it runs inside every process that looks up a user. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "nhi_conf.h"
#include "nhi_err.h"
#include "nhi_hash.h"
#include "nhi_snapshot.h"

_Static_assert(sizeof(struct nhi_snap_hdr) == 256, "snapshot header is 256 bytes");
_Static_assert(sizeof(struct nhi_snap_ident_rec) == 96, "ident record size");
_Static_assert(sizeof(struct nhi_snap_group_rec) == 16, "group record size");
_Static_assert(sizeof(struct nhi_snap_memb_rec) == 16, "memb record size");

struct nhi_snap {
	const unsigned char *map;
	size_t size;
	const struct nhi_snap_hdr *hdr;
	const struct nhi_snap_ident_rec *idents;
	const struct nhi_snap_group_rec *groups;
	const struct nhi_snap_memb_rec *membs;
	const uint32_t *u32;
	const char *strings;
	const uint32_t *name_idx, *uid_idx, *gname_idx, *gid_idx, *memb_idx;
	dev_t dev;
	ino_t ino;
	off_t st_size;
	struct timespec mtime;
	char path[PATH_MAX];
};

static const char *const kinds[] = { "service", "agent" };
static const char *const states[] = { "active", "suspended", "orphaned", "retired" };

const char *nhi_kind_str(int kind)
{
	return kind >= 0 && kind < 2 ? kinds[kind] : "unknown";
}

const char *nhi_state_str(int state)
{
	return state >= 0 && state < 4 ? states[state] : "unknown";
}

int nhi_kind_parse(const char *s)
{
	for (int i = 0; i < 2; i++)
		if (strcmp(s, kinds[i]) == 0)
			return i;
	return -1;
}

int nhi_state_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, states[i]) == 0)
			return i;
	return -1;
}

/* A section of count*elem bytes at off, aligned to align, inside the data. */
static int section_ok(const struct nhi_snap_hdr *h, uint64_t off, uint64_t count,
		      uint64_t elem, uint64_t align)
{
	uint64_t bytes = count * elem;

	if (count > UINT32_MAX)
		return 0;
	if (off % align != 0)
		return 0;
	if (off < h->hdr_size || off > h->file_size)
		return 0;
	return bytes <= h->file_size - off;
}

static int pow2_or_zero(uint32_t n)
{
	return (n & (n - 1)) == 0;
}

static int validate(struct nhi_snap *s, int flags, const char *path, char *err, size_t errlen)
{
	const struct nhi_snap_hdr *h = s->hdr;
	struct nhi_snap_hdr copy;

	if (s->size < sizeof(*h))
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT,
				  "%s: truncated (%zu bytes, header needs %zu)", path, s->size, sizeof(*h));
	if (memcmp(h->magic, NHI_SNAP_MAGIC, sizeof(h->magic)) != 0)
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: not an nhi snapshot (bad magic)", path);
	if (h->endian != NHI_SNAP_ENDIAN)
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: built for another byte order", path);
	if (h->version != NHI_SNAP_VERSION)
		return nhi_seterr(err, errlen, NHI_ERR_VERSION,
				  "%s: snapshot format version %u, this build reads version %u",
				  path, h->version, NHI_SNAP_VERSION);
	if (h->hdr_size != sizeof(*h))
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: bad header size", path);
	memcpy(&copy, h, sizeof(copy));
	copy.stale = 0;
	copy.hdr_checksum = 0;
	if (nhi_checksum(&copy, sizeof(copy), 0) != h->hdr_checksum)
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: header checksum mismatch", path);
	if (h->file_size != s->size)
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT,
				  "%s: truncated or extended (%zu bytes, header says %llu)",
				  path, s->size, (unsigned long long)h->file_size);
	if (!section_ok(h, h->idents_off, h->n_idents, sizeof(struct nhi_snap_ident_rec), 8) ||
	    !section_ok(h, h->groups_off, h->n_groups, sizeof(struct nhi_snap_group_rec), 8) ||
	    !section_ok(h, h->membs_off, h->n_membs, sizeof(struct nhi_snap_memb_rec), 8) ||
	    !section_ok(h, h->u32_off, h->u32_count, 4, 4) ||
	    !section_ok(h, h->name_idx_off, h->name_idx_size, 4, 4) ||
	    !section_ok(h, h->uid_idx_off, h->uid_idx_size, 4, 4) ||
	    !section_ok(h, h->gname_idx_off, h->gname_idx_size, 4, 4) ||
	    !section_ok(h, h->gid_idx_off, h->gid_idx_size, 4, 4) ||
	    !section_ok(h, h->memb_idx_off, h->memb_idx_size, 4, 4) ||
	    !section_ok(h, h->strings_off, h->strings_size, 1, 1))
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: a section lies outside the file", path);
	if (!pow2_or_zero(h->name_idx_size) || !pow2_or_zero(h->uid_idx_size) ||
	    !pow2_or_zero(h->gname_idx_size) || !pow2_or_zero(h->gid_idx_size) ||
	    !pow2_or_zero(h->memb_idx_size) ||
	    (h->n_idents > 0 && (h->name_idx_size == 0 || h->uid_idx_size == 0)) ||
	    (h->n_groups > 0 && (h->gname_idx_size == 0 || h->gid_idx_size == 0)) ||
	    (h->n_membs > 0 && h->memb_idx_size == 0))
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: bad index size", path);
	if (h->strings_size == 0 || s->map[h->strings_off] != '\0' ||
	    s->map[h->strings_off + h->strings_size - 1] != '\0')
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: bad string table", path);
	if ((flags & NHI_SNAP_VERIFY) &&
	    nhi_checksum(s->map + h->hdr_size, s->size - h->hdr_size, h->generation) != h->data_checksum)
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: data checksum mismatch (corrupt file)", path);

	s->idents = (const void *)(s->map + h->idents_off);
	s->groups = (const void *)(s->map + h->groups_off);
	s->membs = (const void *)(s->map + h->membs_off);
	s->u32 = (const void *)(s->map + h->u32_off);
	s->strings = (const char *)s->map + h->strings_off;
	s->name_idx = (const void *)(s->map + h->name_idx_off);
	s->uid_idx = (const void *)(s->map + h->uid_idx_off);
	s->gname_idx = (const void *)(s->map + h->gname_idx_off);
	s->gid_idx = (const void *)(s->map + h->gid_idx_off);
	s->memb_idx = (const void *)(s->map + h->memb_idx_off);
	return 0;
}

int nhi_snap_open(const char *path, int flags, struct nhi_snap **out,
		  char *err, size_t errlen)
{
	struct nhi_snap *s = NULL;
	struct stat st;
	void *map = MAP_FAILED;
	int fd, r;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return nhi_seterr(err, errlen, NHI_ERR_NOTFOUND, "%s: no snapshot (run nhictl publish)", path);
		return nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", path, strerror(errno));
	}
	if (flags & NHI_SNAP_TRUST) {
		r = nhi_check_trusted_fd(fd, path, err, errlen);
		if (r < 0)
			goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: not a regular file", path);
		goto out;
	}
	if ((size_t)st.st_size < sizeof(struct nhi_snap_hdr)) {
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: truncated (%lld bytes)", path,
			       (long long)st.st_size);
		goto out;
	}
	if ((uint64_t)st.st_size > UINT32_MAX) {
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: too large", path);
		goto out;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: mmap: %s", path, strerror(errno));
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		r = nhi_seterr(err, errlen, NHI_ERR_NOMEM, "out of memory");
		goto out;
	}
	s->map = map;
	s->size = (size_t)st.st_size;
	s->hdr = map;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->st_size = st.st_size;
	s->mtime = st.st_mtim;
	snprintf(s->path, sizeof(s->path), "%s", path);
	r = validate(s, flags, path, err, errlen);
	if (r < 0)
		goto out;
	*out = s;
	s = NULL;
	map = MAP_FAILED;
out:
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	free(s);
	close(fd);
	return r;
}

void nhi_snap_close(struct nhi_snap *s)
{
	if (s == NULL)
		return;
	munmap((void *)s->map, s->size);
	free(s);
}

int nhi_snap_stale(const struct nhi_snap *s)
{
	return __atomic_load_n(&s->hdr->stale, __ATOMIC_RELAXED) != 0;
}

int nhi_snap_replaced(const struct nhi_snap *s)
{
	struct stat st;

	if (stat(s->path, &st) < 0)
		return 1;
	return st.st_dev != s->dev || st.st_ino != s->ino || st.st_size != s->st_size ||
	       st.st_mtim.tv_sec != s->mtime.tv_sec || st.st_mtim.tv_nsec != s->mtime.tv_nsec;
}

const struct nhi_snap_hdr *nhi_snap_header(const struct nhi_snap *s)
{
	return s->hdr;
}

uint32_t nhi_snap_n_idents(const struct nhi_snap *s)
{
	return s->hdr->n_idents;
}

uint32_t nhi_snap_n_groups(const struct nhi_snap *s)
{
	return s->hdr->n_groups;
}

/* A string of the table, or NULL when the offset is out of bounds. */
static inline const char *str_at(const struct nhi_snap *s, uint32_t off)
{
	return off < s->hdr->strings_size ? s->strings + off : NULL;
}

static int fill_ident(const struct nhi_snap *s, const struct nhi_snap_ident_rec *r,
		      struct nhi_ident *o)
{
	o->name = str_at(s, r->name);
	o->gecos = str_at(s, r->gecos);
	o->home = str_at(s, r->home);
	o->shell = str_at(s, r->shell);
	o->owner = str_at(s, r->owner);
	o->purpose = str_at(s, r->purpose);
	o->hosts = str_at(s, r->hosts);
	o->services = str_at(s, r->services);
	if (!o->name || !o->gecos || !o->home || !o->shell || !o->owner || !o->purpose ||
	    !o->hosts || !o->services || r->kind > NHI_KIND_AGENT || r->state > NHI_STATE_RETIRED)
		return NHI_ERR_FORMAT;
	o->uid = r->uid;
	o->gid = r->gid;
	o->kind = r->kind;
	o->state = r->state;
	o->created = r->created;
	o->expires = r->expires;
	o->review_interval = r->review_interval;
	o->review_due = r->review_due;
	o->orphaned_since = r->orphaned_since;
	o->last_used = r->last_used;
	return 0;
}

static int fill_group(const struct nhi_snap *s, const struct nhi_snap_group_rec *r,
		      struct nhi_group *o)
{
	o->name = str_at(s, r->name);
	if (o->name == NULL || r->members_off > s->hdr->u32_count ||
	    r->n_members > s->hdr->u32_count - r->members_off)
		return NHI_ERR_FORMAT;
	o->gid = r->gid;
	o->n_members = r->n_members;
	o->members_ = s->u32 + r->members_off;
	return 0;
}

/* Probe an open-addressing index for a record that matches the key.
 * Returns 0 with *found = record index, NHI_ERR_NOTFOUND, or
 * NHI_ERR_FORMAT for a bucket pointing outside the table.  Inlined into
 * each lookup with its match function, so the hot path has no call
 * through a pointer. */
typedef int (*match_fn)(const struct nhi_snap *s, uint32_t rec, const void *key);

static inline __attribute__((always_inline)) int
probe(const struct nhi_snap *s, const uint32_t *idx, uint32_t size, uint32_t n,
      uint64_t h, match_fn match, const void *key, uint32_t *found)
{
	uint32_t pos;

	if (size == 0)
		return NHI_ERR_NOTFOUND;
	pos = (uint32_t)h & (size - 1);
	for (uint32_t i = 0; i < size; i++, pos = (pos + 1) & (size - 1)) {
		uint32_t v = idx[pos];
		int m;

		if (v == 0)
			return NHI_ERR_NOTFOUND;
		if (v > n)
			return NHI_ERR_FORMAT;
		m = match(s, v - 1, key);
		if (m < 0)
			return m;
		if (m) {
			*found = v - 1;
			return 0;
		}
	}
	return NHI_ERR_NOTFOUND;
}

/* Match functions: 1 match, 0 no match, NHI_ERR_FORMAT bad string offset. */
static inline int str_match(const struct nhi_snap *s, uint32_t off, const char *key)
{
	const char *nm = str_at(s, off);

	if (nm == NULL)
		return NHI_ERR_FORMAT;
	return strcmp(nm, key) == 0;
}

static int ident_name_match(const struct nhi_snap *s, uint32_t rec, const void *key)
{
	return str_match(s, s->idents[rec].name, key);
}

static int ident_uid_match(const struct nhi_snap *s, uint32_t rec, const void *key)
{
	return s->idents[rec].uid == *(const uint32_t *)key;
}

static int group_name_match(const struct nhi_snap *s, uint32_t rec, const void *key)
{
	return str_match(s, s->groups[rec].name, key);
}

static int group_gid_match(const struct nhi_snap *s, uint32_t rec, const void *key)
{
	return s->groups[rec].gid == *(const uint32_t *)key;
}

static int memb_name_match(const struct nhi_snap *s, uint32_t rec, const void *key)
{
	return str_match(s, s->membs[rec].name, key);
}

int nhi_snap_ident_by_name(const struct nhi_snap *s, const char *name, struct nhi_ident *out)
{
	const struct nhi_snap_hdr *h = s->hdr;
	uint32_t i;
	int r = probe(s, s->name_idx, h->name_idx_size, h->n_idents, nhi_hash_str(name),
		      ident_name_match, name, &i);

	return r < 0 ? r : fill_ident(s, &s->idents[i], out);
}

int nhi_snap_ident_by_uid(const struct nhi_snap *s, uint32_t uid, struct nhi_ident *out)
{
	const struct nhi_snap_hdr *h = s->hdr;
	uint32_t i;
	int r = probe(s, s->uid_idx, h->uid_idx_size, h->n_idents, nhi_hash_u32(uid),
		      ident_uid_match, &uid, &i);

	return r < 0 ? r : fill_ident(s, &s->idents[i], out);
}

int nhi_snap_ident_at(const struct nhi_snap *s, uint32_t i, struct nhi_ident *out)
{
	if (i >= s->hdr->n_idents)
		return NHI_ERR_NOTFOUND;
	return fill_ident(s, &s->idents[i], out);
}

int nhi_snap_group_by_name(const struct nhi_snap *s, const char *name, struct nhi_group *out)
{
	const struct nhi_snap_hdr *h = s->hdr;
	uint32_t i;
	int r = probe(s, s->gname_idx, h->gname_idx_size, h->n_groups, nhi_hash_str(name),
		      group_name_match, name, &i);

	return r < 0 ? r : fill_group(s, &s->groups[i], out);
}

int nhi_snap_group_by_gid(const struct nhi_snap *s, uint32_t gid, struct nhi_group *out)
{
	const struct nhi_snap_hdr *h = s->hdr;
	uint32_t i;
	int r = probe(s, s->gid_idx, h->gid_idx_size, h->n_groups, nhi_hash_u32(gid),
		      group_gid_match, &gid, &i);

	return r < 0 ? r : fill_group(s, &s->groups[i], out);
}

int nhi_snap_group_at(const struct nhi_snap *s, uint32_t i, struct nhi_group *out)
{
	if (i >= s->hdr->n_groups)
		return NHI_ERR_NOTFOUND;
	return fill_group(s, &s->groups[i], out);
}

const char *nhi_snap_group_member(const struct nhi_snap *s, const struct nhi_group *g, uint32_t i)
{
	if (i >= g->n_members)
		return NULL;
	return str_at(s, g->members_[i]);
}

int nhi_snap_user_gids(const struct nhi_snap *s, const char *user,
		       const uint32_t **gids, uint32_t *n)
{
	const struct nhi_snap_hdr *h = s->hdr;
	const struct nhi_snap_memb_rec *m;
	uint32_t i;
	int r = probe(s, s->memb_idx, h->memb_idx_size, h->n_membs, nhi_hash_str(user),
		      memb_name_match, user, &i);

	if (r < 0)
		return r;
	m = &s->membs[i];
	if (m->gids_off > h->u32_count || m->n_gids > h->u32_count - m->gids_off)
		return NHI_ERR_FORMAT;
	*gids = s->u32 + m->gids_off;
	*n = m->n_gids;
	return 0;
}

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
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "nhi_conf.h"
#include "nhi_err.h"
#include "nhi_hash.h"
#include "nhi_snapshot.h"

_Static_assert(sizeof(struct nhi_snap_hdr) == 256, "snapshot header is 256 bytes");
_Static_assert(sizeof(struct nhi_snap_ident_rec) == 32, "ident record size");
_Static_assert(sizeof(struct nhi_snap_ident_cold) == 48, "ident cold record size");
_Static_assert(sizeof(struct nhi_snap_bucket) == 8, "index bucket size");
_Static_assert(offsetof(struct nhi_snap_hdr, stale) == 20, "stale stays where every version has it");
_Static_assert(offsetof(struct nhi_snap_ident_rec, expires) == 16 &&
	       offsetof(struct nhi_snap_ident_rec, len) == 24, "hot record layout (docs/snapshot-format.md)");
_Static_assert(offsetof(struct nhi_snap_ident_cold, created) == 8 &&
	       offsetof(struct nhi_snap_ident_cold, last_used) == 40, "cold record layout");

/* The smallest hot and cold records: four empty strings each. */
#define HOT_MIN (sizeof(struct nhi_snap_ident_rec) + NHI_SNAP_NHOT)
#define COLD_MIN (sizeof(struct nhi_snap_ident_cold) + NHI_SNAP_NSTR - NHI_SNAP_NHOT)
_Static_assert(sizeof(struct nhi_snap_group_rec) == 16, "group record size");
_Static_assert(sizeof(struct nhi_snap_memb_rec) == 16, "memb record size");
_Static_assert(sizeof(struct nhi_snap_deleg_rec) == 80 &&
	       offsetof(struct nhi_snap_deleg_rec, checksum) == NHI_SNAP_DELEG_SUMMED,
	       "delegation slot: 72 checksummed bytes and the checksum");
_Static_assert(offsetof(struct nhi_snap_hdr, n_delegs) == 224, "delegation fields after the shadow ones");

/* One mapped file: the base or the delta. */
struct snapf {
	const unsigned char *map;
	size_t size;
	const struct nhi_snap_hdr *hdr;
	uint32_t idents_lo, idents_hi;     /* hot identity records lie in [lo, hi) */
	uint32_t colds_lo, colds_hi;       /* cold ones in [lo, hi) */
	uint32_t name_mask, uid_mask;      /* index size - 1 */
	const uint32_t *order;
	const struct nhi_snap_group_rec *groups;
	const struct nhi_snap_memb_rec *membs;
	const uint32_t *u32;
	const char *strings;
	const struct nhi_snap_bucket *name_idx, *uid_idx, *gname_idx, *gid_idx, *memb_idx;
	const uint32_t *shadow, *gshadow;  /* a delta's shadow indexes, or NULL */
	uint32_t shadow_mask, gshadow_mask;
	/* a base's delegation table (NHI_SNAP_F_DELEG), or NULL */
	const struct nhi_snap_deleg_rec *delegs;
	uint32_t deleg_mask;
	/* NHI_SNAP_VERIFY_READ: the block table and a bit per block, set once
	 * the block's checksum matched (atomically: readers may share the
	 * file); NULL when the file was verified whole or not at all */
	const uint64_t *blocks;
	uint64_t *vbits;
	dev_t dev;
	ino_t ino;
	off_t st_size;
	struct timespec mtime;
};

/* What nhi_snap_open returns: the base, and the delta when there is one
 * ('applies' when it is for this base; one for an older base is mapped
 * only so its stale word can be watched).  Lookups consult the delta only
 * when it applies and holds something ('overlay'). */
struct nhi_snap {
	struct snapf base, delta;
	/* no_delta: the delta was not opened, as the base's mark said none
	 * was published over it (NHI_SNAP_F_DMARK) */
	int have_delta, applies, overlay, no_delta;
	const char *path, *dpath;    /* into names */
	char names[];                /* path, NUL, path + ".delta", NUL: not
				      * two PATH_MAX arrays, which calloc
				      * zeroed on every process's first lookup */
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

uint64_t nhi_snap_hdr_checksum(const struct nhi_snap_hdr *h)
{
	struct nhi_snap_hdr copy;

	memcpy(&copy, (const void *)h, sizeof(copy));
	copy.stale = 0;
	copy.hdr_checksum = 0;
	return nhi_checksum(&copy, sizeof(copy), 0);
}

static int validate(struct snapf *s, int flags, const char *path, char *err, size_t errlen)
{
	const struct nhi_snap_hdr *h = s->hdr;

	if (s->size < sizeof(*h))
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT,
				  "%s: truncated (%zu bytes, header needs %zu)", path, s->size, sizeof(*h));
	if (memcmp(h->magic, NHI_SNAP_MAGIC, sizeof(h->magic)) != 0)
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: not an nhi snapshot (bad magic)", path);
	if (h->endian != NHI_SNAP_ENDIAN)
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: built for another byte order", path);
	if (h->version != NHI_SNAP_VERSION)
		return nhi_seterr(err, errlen, NHI_ERR_VERSION,
				  "%s: snapshot format version %u, this build reads version %u "
				  "(run nhictl publish to rewrite it)",
				  path, h->version, NHI_SNAP_VERSION);
	if (h->hdr_size != sizeof(*h))
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: bad header size", path);
	if (nhi_snap_hdr_checksum(h) != h->hdr_checksum)
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: header checksum mismatch", path);
	if (h->file_size != s->size)
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT,
				  "%s: truncated or extended (%zu bytes, header says %llu)",
				  path, s->size, (unsigned long long)h->file_size);
	if (!section_ok(h, h->idents_off, h->idents_size, 1, 8) ||
	    !section_ok(h, h->colds_off, h->colds_size, 1, 8) ||
	    !section_ok(h, h->order_off, h->n_idents, 4, 4) ||
	    !section_ok(h, h->groups_off, h->n_groups, sizeof(struct nhi_snap_group_rec), 8) ||
	    !section_ok(h, h->membs_off, h->n_membs, sizeof(struct nhi_snap_memb_rec), 8) ||
	    !section_ok(h, h->u32_off, h->u32_count, 4, 4) ||
	    !section_ok(h, h->name_idx_off, h->name_idx_size, sizeof(struct nhi_snap_bucket), 8) ||
	    !section_ok(h, h->uid_idx_off, h->uid_idx_size, sizeof(struct nhi_snap_bucket), 8) ||
	    !section_ok(h, h->gname_idx_off, h->gname_idx_size, sizeof(struct nhi_snap_bucket), 8) ||
	    !section_ok(h, h->gid_idx_off, h->gid_idx_size, sizeof(struct nhi_snap_bucket), 8) ||
	    !section_ok(h, h->memb_idx_off, h->memb_idx_size, sizeof(struct nhi_snap_bucket), 8) ||
	    !section_ok(h, h->strings_off, h->strings_size, 1, 1))
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: a section lies outside the file", path);
	if (!pow2_or_zero(h->name_idx_size) || !pow2_or_zero(h->uid_idx_size) ||
	    !pow2_or_zero(h->gname_idx_size) || !pow2_or_zero(h->gid_idx_size) ||
	    !pow2_or_zero(h->memb_idx_size) ||
	    (h->n_idents > 0 && (h->name_idx_size == 0 || h->uid_idx_size == 0)) ||
	    (h->n_groups > 0 && (h->gname_idx_size == 0 || h->gid_idx_size == 0)) ||
	    (h->n_membs > 0 && h->memb_idx_size == 0))
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: bad index size", path);
	if ((h->flags & NHI_SNAP_F_SHADOW) &&
	    (!(h->flags & NHI_SNAP_F_DELTA) ||
	     h->shadow_idx_size == 0 || !pow2_or_zero(h->shadow_idx_size) ||
	     !section_ok(h, h->shadow_idx_off, h->shadow_idx_size, 4, 4) ||
	     !pow2_or_zero(h->gshadow_idx_size) ||
	     (h->gshadow_idx_size != 0 &&
	      !section_ok(h, h->gshadow_idx_off, h->gshadow_idx_size, 4, 4))))
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: bad shadow index", path);
	if ((h->flags & NHI_SNAP_F_DELEG) &&
	    ((h->flags & NHI_SNAP_F_DELTA) ||
	     h->deleg_slots == 0 || !pow2_or_zero(h->deleg_slots) || h->deleg_slots <= h->n_delegs ||
	     !section_ok(h, h->delegs_off, h->deleg_slots, sizeof(struct nhi_snap_deleg_rec), 8)))
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: bad delegation section", path);
	/* the table's NULs: checked here when verifying; otherwise (nss_nhi)
	 * by str_at at each use, so that opening the file does not read a
	 * page the lookup may never need (the table lies near the end) */
	if (h->strings_size == 0 ||
	    ((flags & (NHI_SNAP_VERIFY | NHI_SNAP_VERIFY_READ)) &&
	     (s->map[h->strings_off] != '\0' || s->map[h->strings_off + h->strings_size - 1] != '\0')))
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: bad string table", path);
	/* the block table: the last section, one checksum per block before it */
	if (h->n_blocks != 0 &&
	    (h->block_shift < NHI_SNAP_BLOCK_SHIFT_MIN || h->block_shift > NHI_SNAP_BLOCK_SHIFT_MAX ||
	     h->blocks_off % 8 != 0 || h->blocks_off <= h->hdr_size ||
	     h->blocks_off + (uint64_t)h->n_blocks * 8 != h->file_size ||
	     h->n_blocks != ((uint64_t)h->blocks_off - h->hdr_size + (1u << h->block_shift) - 1) >>
			    h->block_shift))
		return nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: bad block table", path);
	/* verify it whole: asked to, or asked to verify what is read of a file
	 * with no block table or only a few blocks */
	if ((flags & NHI_SNAP_VERIFY) ||
	    ((flags & NHI_SNAP_VERIFY_READ) && h->n_blocks <= NHI_SNAP_VERIFY_READ_WHOLE)) {
		if (nhi_checksum(s->map + h->hdr_size, s->size - h->hdr_size, h->generation) !=
		    h->data_checksum)
			return nhi_seterr(err, errlen, NHI_ERR_FORMAT,
					  "%s: data checksum mismatch (corrupt file)", path);
	} else if (flags & NHI_SNAP_VERIFY_READ) {
		s->blocks = (const void *)(s->map + h->blocks_off);
		if (nhi_checksum(s->blocks, (size_t)h->n_blocks * 8, h->generation) != h->blocks_checksum)
			return nhi_seterr(err, errlen, NHI_ERR_FORMAT,
					  "%s: block table checksum mismatch (corrupt file)", path);
		s->vbits = calloc(((size_t)h->n_blocks + 63) / 64, sizeof(uint64_t));
		if (s->vbits == NULL)
			return nhi_seterr(err, errlen, NHI_ERR_NOMEM, "out of memory");
	}

	s->idents_lo = h->idents_off;
	s->idents_hi = h->idents_off + h->idents_size;
	s->colds_lo = h->colds_off;
	s->colds_hi = h->colds_off + h->colds_size;
	s->name_mask = h->name_idx_size - 1;
	s->uid_mask = h->uid_idx_size - 1;
	s->order = (const void *)(s->map + h->order_off);
	s->groups = (const void *)(s->map + h->groups_off);
	s->membs = (const void *)(s->map + h->membs_off);
	s->u32 = (const void *)(s->map + h->u32_off);
	s->strings = (const char *)s->map + h->strings_off;
	s->name_idx = (const void *)(s->map + h->name_idx_off);
	s->uid_idx = (const void *)(s->map + h->uid_idx_off);
	s->gname_idx = (const void *)(s->map + h->gname_idx_off);
	s->gid_idx = (const void *)(s->map + h->gid_idx_off);
	s->memb_idx = (const void *)(s->map + h->memb_idx_off);
	if (h->flags & NHI_SNAP_F_DELEG) {
		s->delegs = (const void *)(s->map + h->delegs_off);
		s->deleg_mask = h->deleg_slots - 1;
	}
	if (h->flags & NHI_SNAP_F_SHADOW) {
		s->shadow = (const void *)(s->map + h->shadow_idx_off);
		s->shadow_mask = h->shadow_idx_size - 1;
		/* a delta with a uid set alone (size 0) answers groups by name */
		if (h->gshadow_idx_size != 0) {
			s->gshadow = (const void *)(s->map + h->gshadow_idx_off);
			s->gshadow_mask = h->gshadow_idx_size - 1;
		}
	}
	return 0;
}

/* Map one file into f.  want_delta: it must be a delta (else a base). */
static int map_file(struct snapf *f, const char *path, int flags, int want_delta,
		    char *err, size_t errlen)
{
	struct stat st;
	void *map = MAP_FAILED;
	int fd, r, tflags = 0;

	memset(f, 0, sizeof(*f));
	fd = nhi_open_trusting(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, &tflags);
	if (fd < 0) {
		if (errno == ENOENT)
			return nhi_seterr(err, errlen, NHI_ERR_NOTFOUND, "%s: no snapshot (run nhictl publish)", path);
		return nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", path, strerror(errno));
	}
	if (flags & NHI_SNAP_TRUST) {
		/* the delta is beside the base, whose directories were checked;
		 * the check's fstat is the one below */
		r = nhi_check_trusted(fd, path, tflags | (want_delta ? NHI_TRUST_DIRS_CHECKED : 0),
				      &st, err, errlen);
		if (r < 0)
			goto out;
	} else if (fstatat(fd, "", &st, AT_EMPTY_PATH) < 0) {
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
	f->map = map;
	f->size = (size_t)st.st_size;
	f->hdr = map;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->st_size = st.st_size;
	f->mtime = st.st_mtim;
	/* a delta is small (at most snapshot_delta_max identities): verified
	 * whole where the base is verified block by block */
	if (want_delta && (flags & NHI_SNAP_VERIFY_READ))
		flags |= NHI_SNAP_VERIFY;
	r = validate(f, flags, path, err, errlen);
	if (r == 0 && want_delta && !(f->hdr->flags & NHI_SNAP_F_DELTA))
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: not a delta", path);
	if (r == 0 && !want_delta && (f->hdr->flags & NHI_SNAP_F_DELTA))
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: a delta where the base should be", path);
	if (r == 0 && !want_delta && (f->hdr->flags & NHI_SNAP_F_BASE) &&
	    f->hdr->n_reg_groups > f->hdr->n_groups)
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: bad registry group count", path);
	if (r < 0)
		goto out;
	map = MAP_FAILED;
out:
	if (map != MAP_FAILED) {
		munmap(map, (size_t)st.st_size);
		f->map = NULL;
		free(f->vbits);
		f->vbits = NULL;
	}
	close(fd);
	return r;
}

static void unmap_file(struct snapf *f)
{
	if (f->map != NULL)
		munmap((void *)f->map, f->size);
	f->map = NULL;
	free(f->vbits);
	f->vbits = NULL;
}

/* How often nhi_snap_open maps the pair again when the delta names a
 * newer base than the one it mapped (a full publication between the two
 * opens); more than a few in a row means something is wrong. */
#define OPEN_TRIES 8

int nhi_snap_open(const char *path, int flags, struct nhi_snap **out,
		  char *err, size_t errlen)
{
	size_t n = strlen(path), sl = strlen(NHI_SNAP_DELTA_SUFFIX);
	struct nhi_snap *s;
	char *p;
	int r = 0;

	*out = NULL;
	if (n + sl >= PATH_MAX)
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s: path too long", path);
	s = calloc(1, sizeof(*s) + 2 * n + sl + 2);
	if (s == NULL)
		return nhi_seterr(err, errlen, NHI_ERR_NOMEM, "out of memory");
	p = s->names;
	memcpy(p, path, n);
	s->path = p;
	p += n + 1;
	memcpy(p, path, n);
	memcpy(p + n, NHI_SNAP_DELTA_SUFFIX, sl + 1);
	s->dpath = p;
	for (int i = 0; i < OPEN_TRIES; i++) {
		uint64_t bgen, want;

		r = map_file(&s->base, path, flags, 0, err, errlen);
		if (r < 0)
			goto out;
		if (flags & NHI_SNAP_NO_DELTA)
			goto out;     /* asked for the base alone */
		/* a marked base whose word is still 0: no delta has been
		 * published over it (PATH.delta is empty or for an older
		 * base), so it is neither opened nor mapped (4 system calls
		 * and a page fault in every process's first lookup) */
		if (nhi_snap_marks_deltas(s->base.hdr) &&
		    __atomic_load_n(&s->base.hdr->stale, __ATOMIC_ACQUIRE) == 0) {
			s->no_delta = 1;
			goto out;
		}
		r = map_file(&s->delta, s->dpath, flags, 1, err, errlen);
		if (r == NHI_ERR_NOTFOUND) {
			uint32_t word = __atomic_load_n(&s->base.hdr->stale, __ATOMIC_ACQUIRE);

			if (word & NHI_SNAP_STALE_REPLACED) {
				unmap_file(&s->base);  /* a new base meanwhile: again */
				continue;
			}
			/* a marked base says a delta was published over it:
			 * without it, what changed since (a suspension, a
			 * retirement) would be undone, so nothing is answered
			 * (a writer never removes PATH.delta; someone did, or a
			 * copy left it behind) */
			if (nhi_snap_marks_deltas(s->base.hdr) && (word & NHI_SNAP_STALE_DELTA)) {
				r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s is missing, but a "
					       "delta was published over %s: the snapshot is "
					       "incomplete ('nhictl publish' writes it again)",
					       s->dpath, path);
				goto out;
			}
			r = 0;        /* no delta (a writer before deltas): the base alone */
			goto out;
		}
		if (r < 0)
			goto out;
		s->have_delta = 1;
		bgen = s->base.hdr->generation;
		want = s->delta.hdr->base_generation;
		if (want == bgen) {
			if (!(s->base.hdr->flags & NHI_SNAP_F_BASE) ||
			    s->delta.hdr->generation < bgen) {
				r = nhi_seterr(err, errlen, NHI_ERR_FORMAT,
					       "%s: delta does not fit its base", s->dpath);
				goto out;
			}
			s->applies = 1;
			s->overlay = s->delta.hdr->n_idents > 0 || s->delta.hdr->n_groups > 0;
			goto out;
		}
		if (want < bgen)
			goto out;     /* an older base's delta: the base holds it */
		/* the delta is for a newer base than the one mapped */
		unmap_file(&s->delta);
		unmap_file(&s->base);
		s->have_delta = 0;
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT,
			       "%s: names base generation %llu, %s has %llu", s->dpath,
			       (unsigned long long)want, path, (unsigned long long)bgen);
	}
out:
	if (r < 0) {
		nhi_snap_close(s);
		return r;
	}
	*out = s;
	return 0;
}

void nhi_snap_close(struct nhi_snap *s)
{
	if (s == NULL)
		return;
	unmap_file(&s->base);
	unmap_file(&s->delta);
	free(s);
}

int nhi_snap_base_generation(const char *path, uint64_t *gen, char *err, size_t errlen)
{
	struct snapf f;
	int r = map_file(&f, path, 0, 0, err, errlen);

	if (r < 0)
		return r;
	*gen = f.hdr->generation;
	if (!(f.hdr->flags & NHI_SNAP_F_BASE))
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "%s: not a base a delta may overlay", path);
	unmap_file(&f);
	return r;
}

int nhi_snap_stale(const struct nhi_snap *s)
{
	uint32_t b = __atomic_load_n(&s->base.hdr->stale, __ATOMIC_RELAXED);

	/* with a delta mapped, the base's delta mark is expected */
	if (s->have_delta)
		return (b & NHI_SNAP_STALE_REPLACED) ||
		       __atomic_load_n(&s->delta.hdr->stale, __ATOMIC_RELAXED) != 0;
	return b != 0;
}

const volatile uint32_t *nhi_snap_stale_word(const struct nhi_snap *s)
{
	return s->have_delta ? &s->delta.hdr->stale : &s->base.hdr->stale;
}

static int file_replaced(const struct snapf *f, const char *path, int have)
{
	struct stat st;

	if (fstatat(AT_FDCWD, path, &st, 0) < 0)
		return have || errno != ENOENT;
	if (!have)
		return 1;
	return st.st_dev != f->dev || st.st_ino != f->ino || st.st_size != f->st_size ||
	       st.st_mtim.tv_sec != f->mtime.tv_sec || st.st_mtim.tv_nsec != f->mtime.tv_nsec;
}

int nhi_snap_replaced(const struct nhi_snap *s)
{
	/* a delta left unopened (no_delta) is the base's word's to report */
	return file_replaced(&s->base, s->path, 1) ||
	       (!s->no_delta && file_replaced(&s->delta, s->dpath, s->have_delta));
}

const struct nhi_snap_hdr *nhi_snap_header(const struct nhi_snap *s)
{
	return s->base.hdr;
}

const struct nhi_snap_hdr *nhi_snap_delta_header(const struct nhi_snap *s)
{
	return s->applies ? s->delta.hdr : NULL;
}

uint64_t nhi_snap_generation(const struct nhi_snap *s)
{
	return s->applies ? s->delta.hdr->generation : s->base.hdr->generation;
}

uint64_t nhi_snap_keys_generation(const struct nhi_snap *s)
{
	const struct nhi_snap_hdr *h = s->applies ? s->delta.hdr : s->base.hdr;

	return h->keys_generation != 0 ? h->keys_generation : h->generation;
}

uint32_t nhi_snap_n_idents(const struct nhi_snap *s)
{
	return s->base.hdr->n_idents + (s->overlay ? s->delta.hdr->n_idents : 0);
}

uint32_t nhi_snap_n_groups(const struct nhi_snap *s)
{
	return s->base.hdr->n_groups + (s->overlay ? s->delta.hdr->n_groups : 0);
}

/* A string of the table, or NULL when the offset is out of bounds or
 * the table does not end with a NUL (validate checks that only when
 * verifying). */
static inline const char *str_at(const struct snapf *s, uint32_t off)
{
	uint32_t n = s->hdr->strings_size;

	return off < n && s->strings[n - 1] == '\0' ? s->strings + off : NULL;
}

/* Can a record of at least min bytes start at off, inside [lo, hi)? */
static inline int rec_fits(uint32_t off, uint32_t min, uint32_t lo, uint32_t hi)
{
	return off >= lo && (uint64_t)off + min <= hi && (off & 7) == 0;
}

/* The bytes a hot or cold record and its strings take (without padding),
 * as its lengths say. */
static inline uint32_t hot_size(const struct nhi_snap_ident_rec *r)
{
	uint32_t need = HOT_MIN;

	for (int i = 0; i < NHI_SNAP_NHOT; i++)
		need += r->len[i];
	return need;
}

static inline uint32_t cold_size(const struct nhi_snap_ident_cold *c)
{
	uint32_t need = COLD_MIN;

	for (int i = 0; i < NHI_SNAP_NSTR - NHI_SNAP_NHOT; i++)
		need += c->len[i];
	return need;
}

/* The hot identity record at file offset off, or NULL when it does not
 * lie whole inside the idents section (its strings and their NULs
 * included: the lengths say where they end). */
static inline const struct nhi_snap_ident_rec *ident_rec(const struct snapf *s, uint32_t off)
{
	const struct nhi_snap_ident_rec *r;

	if (!rec_fits(off, HOT_MIN, s->idents_lo, s->idents_hi))
		return NULL;
	r = (const void *)(s->map + off);
	/* the record's strings usually reach into the next cache line: ask
	 * for it now, not once the lengths below have arrived */
	__builtin_prefetch((const char *)r + 64);
	if (hot_size(r) > s->idents_hi - off)
		return NULL;
	return r;
}

/* Point *field at the next string p of a record with length len;
 * NHI_ERR_FORMAT unless its first NUL is the one at len (a NUL inside
 * would make C see a shorter string than the record says).  (The record
 * was checked to hold its strings.) */
#define NEXT_STR(field, len) do {                       \
		(field) = p;                            \
		if (strlen(p) != (len))                 \
			return NHI_ERR_FORMAT;          \
		p += (len) + 1;                         \
	} while (0)

#if defined(__SSE2__)
/* The mask of the NUL bytes of p[0..n), 16 <= n <= 64 (bit i for byte
 * i): four 16-byte compares at 0, 16, 32 and n - 16, each moved back to
 * end at n at the latest, so that none reads outside p[0..n). */
static inline uint64_t nul_mask(const char *p, uint32_t n)
{
	const __m128i zero = _mm_setzero_si128();
	uint32_t last = n - 16, o1 = last < 16 ? last : 16, o2 = last < 32 ? last : 32;
	uint64_t m;

#define NULS_AT(o) ((uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8( \
		_mm_loadu_si128((const __m128i *)(const void *)(p + (o))), zero)) << (o))
	m = NULS_AT(0) | NULS_AT(o1) | NULS_AT(o2) | NULS_AT(last);
#undef NULS_AT
	return m;
}
#endif

/* The passwd view of a record checked by ident_rec: the strings and the
 * state are checked at once, and only what passwd needs is stored.  Each
 * string's first NUL must be the one its length names: a record named
 * "root\0..." must not answer as root to getpwuid (the lengths are what
 * the copy uses, the NULs what C sees).  The four strings lie back to
 * back with their NULs in p[0..n); when 16 <= n <= 64 (the usual case,
 * with SSE2) the mask of every NUL in them must be exactly the four
 * terminators' bits, else each terminator is checked and strlen() of each
 * string.  The mask costs about a third of the four strlen() calls. */
static inline __attribute__((always_inline)) int
fill_pw(const struct nhi_snap_ident_rec *r, struct nhi_pw *o)
{
	const char *p = (const char *)(r + 1);
	uint32_t gecos = r->len[NHI_SNAP_S_NAME] + 1u;
	uint32_t home = gecos + r->len[NHI_SNAP_S_GECOS] + 1u;
	uint32_t shell = home + r->len[NHI_SNAP_S_HOME] + 1u;
	uint32_t n = shell + r->len[NHI_SNAP_S_SHELL] + 1u;

	if (r->state > NHI_STATE_RETIRED)
		return NHI_ERR_FORMAT;
#if defined(__SSE2__)
	if (n - 16u <= 48u) {
		if (nul_mask(p, n) != ((1ULL << (gecos - 1)) | (1ULL << (home - 1)) |
				       (1ULL << (shell - 1)) | (1ULL << (n - 1))))
			return NHI_ERR_FORMAT;
	} else
#endif
	if ((p[gecos - 1] | p[home - 1] | p[shell - 1] | p[n - 1]) != '\0' ||
	    strlen(p) != r->len[NHI_SNAP_S_NAME] || strlen(p + gecos) != r->len[NHI_SNAP_S_GECOS] ||
	    strlen(p + home) != r->len[NHI_SNAP_S_HOME] ||
	    strlen(p + shell) != r->len[NHI_SNAP_S_SHELL])
		return NHI_ERR_FORMAT;
	o->name = p;
	o->name_len = r->len[NHI_SNAP_S_NAME];
	o->gecos_len = r->len[NHI_SNAP_S_GECOS];
	o->home_len = r->len[NHI_SNAP_S_HOME];
	o->shell_len = r->len[NHI_SNAP_S_SHELL];
	o->uid = r->uid;
	o->gid = r->gid;
	o->state = r->state;
	o->expires = r->expires;
	return 0;
}

/* The whole identity: the hot record and the cold one it points to. */
static int fill_ident(const struct snapf *s, const struct nhi_snap_ident_rec *r,
		      struct nhi_ident *o)
{
	const struct nhi_snap_ident_cold *c;
	const char *p;
	uint32_t off = r->cold;
	struct nhi_pw pw;
	int e = fill_pw(r, &pw);

	if (e < 0)
		return e;
	if (r->kind > NHI_KIND_AGENT)
		return NHI_ERR_FORMAT;
	o->name = pw.name;
	o->gecos = nhi_pw_gecos(&pw);
	o->home = nhi_pw_home(&pw);
	o->shell = nhi_pw_shell(&pw);
	o->name_len = pw.name_len;
	o->gecos_len = pw.gecos_len;
	o->home_len = pw.home_len;
	o->shell_len = pw.shell_len;
	o->uid = pw.uid;
	o->gid = pw.gid;
	o->kind = r->kind;
	o->state = pw.state;
	o->expires = pw.expires;
	if (!rec_fits(off, COLD_MIN, s->colds_lo, s->colds_hi))
		return NHI_ERR_FORMAT;
	c = (const void *)(s->map + off);
	if (cold_size(c) > s->colds_hi - off)
		return NHI_ERR_FORMAT;
	p = (const char *)(c + 1);
	NEXT_STR(o->owner, c->len[NHI_SNAP_S_OWNER - NHI_SNAP_NHOT]);
	NEXT_STR(o->purpose, c->len[NHI_SNAP_S_PURPOSE - NHI_SNAP_NHOT]);
	NEXT_STR(o->hosts, c->len[NHI_SNAP_S_HOSTS - NHI_SNAP_NHOT]);
	NEXT_STR(o->services, c->len[NHI_SNAP_S_SERVICES - NHI_SNAP_NHOT]);
	o->created = c->created;
	o->review_interval = c->review_interval;
	o->review_due = c->review_due;
	o->orphaned_since = c->orphaned_since;
	o->last_used = c->last_used;
	return 0;
}
#undef NEXT_STR

static int fill_group(const struct snapf *s, const struct nhi_snap_group_rec *r,
		      struct nhi_group *o)
{
	o->name = str_at(s, r->name);
	if (o->name == NULL || r->members_off > s->hdr->u32_count ||
	    r->n_members > s->hdr->u32_count - r->members_off)
		return NHI_ERR_FORMAT;
	o->gid = r->gid;
	o->n_members = r->n_members;
	o->members_ = s->u32 + r->members_off;
	o->file_ = s;
	return 0;
}

/* Probe an open-addressing index for a record that matches the key.
 * Returns 0 with *found = the bucket's ref, NHI_ERR_NOTFOUND, or
 * NHI_ERR_FORMAT for a ref pointing outside its section.  Only buckets
 * whose tag equals the key's (hash >> 32) are looked at further, so a
 * probe past other keys reads no record.  Inlined into each lookup with its
 * match function, so the hot path has no call through a pointer. */
typedef int (*match_fn)(const struct snapf *s, uint32_t ref, const void *key);

static inline __attribute__((always_inline)) int
probe(const struct snapf *s, const struct nhi_snap_bucket *idx, uint32_t size,
      uint64_t h, match_fn match, const void *key, uint32_t *found)
{
	uint32_t tag = (uint32_t)(h >> 32), pos;

	if (size == 0)
		return NHI_ERR_NOTFOUND;
	pos = (uint32_t)h & (size - 1);
	for (uint32_t i = 0; i < size; i++, pos = (pos + 1) & (size - 1)) {
		struct nhi_snap_bucket b = idx[pos];
		int m;

		if (b.ref == 0)
			return NHI_ERR_NOTFOUND;
		if (b.tag != tag)
			continue;
		m = match(s, b.ref, key);
		if (m < 0)
			return m;
		if (m) {
			*found = b.ref;
			return 0;
		}
	}
	return NHI_ERR_NOTFOUND;
}

/* Match functions: 1 match, 0 no match, NHI_ERR_FORMAT bad ref or offset. */
static inline int str_match(const struct snapf *s, uint32_t off, const char *key)
{
	const char *nm = str_at(s, off);

	if (nm == NULL)
		return NHI_ERR_FORMAT;
	return strcmp(nm, key) == 0;
}

struct name_key {
	const char *name;
	size_t len;
};

/* memcmp(a, b, n) == 0 without a call, for names (a few to a few dozen
 * bytes): whole words, the last one overlapping the one before. */
static inline __attribute__((always_inline)) int
bytes_eq(const char *a, const char *b, size_t n)
{
	uint64_t x, y;
	uint32_t u, v;
	size_t i;

	if (n >= 8) {
		for (i = 0; i + 8 < n; i += 8) {
			memcpy(&x, a + i, 8);
			memcpy(&y, b + i, 8);
			if (x != y)
				return 0;
		}
		memcpy(&x, a + n - 8, 8);
		memcpy(&y, b + n - 8, 8);
		return x == y;
	}
	if (n >= 4) {
		memcpy(&u, a, 4);
		memcpy(&v, b, 4);
		if (u != v)
			return 0;
		memcpy(&u, a + n - 4, 4);
		memcpy(&v, b + n - 4, 4);
		return u == v;
	}
	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

static inline __attribute__((always_inline)) int
ident_name_match(const struct snapf *s, uint32_t ref, const void *key)
{
	const struct name_key *k = key;
	const struct nhi_snap_ident_rec *r = ident_rec(s, ref);

	if (r == NULL)
		return NHI_ERR_FORMAT;
	return r->len[NHI_SNAP_S_NAME] == k->len && bytes_eq((const char *)(r + 1), k->name, k->len);
}

static inline __attribute__((always_inline)) int
ident_uid_match(const struct snapf *s, uint32_t ref, const void *key)
{
	const struct nhi_snap_ident_rec *r = ident_rec(s, ref);

	if (r == NULL)
		return NHI_ERR_FORMAT;
	return r->uid == *(const uint32_t *)key;
}

static int group_name_match(const struct snapf *s, uint32_t ref, const void *key)
{
	if (ref > s->hdr->n_groups)
		return NHI_ERR_FORMAT;
	return str_match(s, s->groups[ref - 1].name, key);
}

static int group_gid_match(const struct snapf *s, uint32_t ref, const void *key)
{
	if (ref > s->hdr->n_groups)
		return NHI_ERR_FORMAT;
	return s->groups[ref - 1].gid == *(const uint32_t *)key;
}

static int memb_name_match(const struct snapf *s, uint32_t ref, const void *key)
{
	if (ref > s->hdr->n_membs)
		return NHI_ERR_FORMAT;
	return str_match(s, s->membs[ref - 1].name, key);
}

/* The record a successful ident probe found (ident_rec checked it). */
static inline const struct nhi_snap_ident_rec *found_rec(const struct snapf *s, uint32_t ref)
{
	return (const void *)(s->map + ref);
}

/* The hot record of an identity by name (its hash h and key k) or uid
 * (0 or a negative code). */
static inline __attribute__((always_inline)) int
rec_by_name(const struct snapf *s, uint64_t h, const struct name_key *k,
	    const struct nhi_snap_ident_rec **rec)
{
	uint32_t ref;
	int r = probe(s, s->name_idx, s->name_mask + 1, h, ident_name_match, k, &ref);

	*rec = r == 0 ? found_rec(s, ref) : NULL;
	return r;
}

static inline __attribute__((always_inline)) int
rec_by_uid(const struct snapf *s, uint32_t uid, const struct nhi_snap_ident_rec **rec)
{
	uint32_t ref;
	int r = probe(s, s->uid_idx, s->uid_mask + 1, nhi_hash_u32(uid), ident_uid_match, &uid, &ref);

	*rec = r == 0 ? found_rec(s, ref) : NULL;
	return r;
}

/* ---- the overlay ------------------------------------------------------ */

/* Is the identity NAME (len bytes) in the delta, current or gone?  1 yes,
 * 0 no, NHI_ERR_FORMAT.  Only asked when a delta applies. */
static inline int in_delta(const struct nhi_snap *s, const char *name, size_t len)
{
	struct name_key k = { name, len };
	uint32_t ref;
	int r = probe(&s->delta, s->delta.name_idx, s->delta.name_mask + 1,
		      nhi_hash_mem(name, len), ident_name_match, &k, &ref);

	return r == 0 ? 1 : r == NHI_ERR_NOTFOUND ? 0 : r;
}

/* Is v in a shadow index (NHI_SNAP_F_SHADOW: slots of v + 1) of
 * mask + 1 slots?  1 yes, 0 no. */
static inline int in_set(const uint32_t *set, uint32_t mask, uint32_t v)
{
	uint32_t pos = (uint32_t)nhi_hash_u32(v) & mask;

	for (uint32_t i = 0; i <= mask; i++, pos = (pos + 1) & mask) {
		uint32_t x = set[pos];

		if (x == 0)
			return 0;
		if (x == v + 1u)
			return 1;
	}
	return 0;
}

/* Does the delta replace the base's record with this uid? */
static inline int in_shadow(const struct snapf *d, uint32_t uid)
{
	return in_set(d->shadow, d->shadow_mask, uid);
}

/* A record the base answered, unless the delta replaces it: 0 (keep it),
 * NHI_ERR_NOTFOUND (the delta has it, or had: gone) or NHI_ERR_FORMAT. */
static inline int base_holds(const struct nhi_snap *s, const struct nhi_snap_ident_rec *rec)
{
	int d;

	if (!s->overlay)
		return 0;
	/* base uids are unique, so its uid stands for the record */
	if (s->delta.shadow != NULL)
		return in_shadow(&s->delta, rec->uid) ? NHI_ERR_NOTFOUND : 0;
	d = in_delta(s, (const char *)(rec + 1), rec->len[NHI_SNAP_S_NAME]);
	return d < 0 ? d : d ? NHI_ERR_NOTFOUND : 0;
}

/* The hot record of an identity, and the file it is in: the delta's
 * version when there is one (NHI_ERR_NOTFOUND for a tombstone), else the
 * base's. */
static inline int find_by_name(const struct nhi_snap *s, const char *name,
			       const struct snapf **f, const struct nhi_snap_ident_rec **rec)
{
	struct name_key k;
	uint64_t h = nhi_hash_str_len(name, &k.len);
	int r;

	k.name = name;
	if (s->overlay) {
		r = rec_by_name(&s->delta, h, &k, rec);
		if (r == 0) {
			*f = &s->delta;
			return (*rec)->state == NHI_SNAP_STATE_GONE ? NHI_ERR_NOTFOUND : 0;
		}
		if (r != NHI_ERR_NOTFOUND)
			return r;
	}
	*f = &s->base;
	return rec_by_name(&s->base, h, &k, rec);
}

static inline int find_by_uid(const struct nhi_snap *s, uint32_t uid,
			      const struct snapf **f, const struct nhi_snap_ident_rec **rec)
{
	int r;

	if (s->overlay) {
		r = rec_by_uid(&s->delta, uid, rec);
		if (r == 0) {
			*f = &s->delta;
			return (*rec)->state == NHI_SNAP_STATE_GONE ? NHI_ERR_NOTFOUND : 0;
		}
		if (r != NHI_ERR_NOTFOUND)
			return r;
	}
	*f = &s->base;
	r = rec_by_uid(&s->base, uid, rec);
	return r < 0 ? r : base_holds(s, *rec);
}

/* ---- verifying what is read (NHI_SNAP_VERIFY_READ) ----------------------- */

/* Check the checksum of every block of [off, off + len) not checked yet:
 * 0 or NHI_ERR_FORMAT.  Bytes outside the blocks are the header (its own
 * checksum) or the block table (checked at open); bounds are the
 * lookup's business, this only verifies. */
static int touch(const struct snapf *f, uint64_t off, uint64_t len)
{
	const struct nhi_snap_hdr *h = f->hdr;
	uint64_t end = off + len, b, last;

	if (f->vbits == NULL || len == 0)
		return 0;
	if (end > h->blocks_off)
		end = h->blocks_off;
	if (off < h->hdr_size)
		off = h->hdr_size;
	if (off >= end)
		return 0;
	last = (end - 1 - h->hdr_size) >> h->block_shift;
	for (b = (off - h->hdr_size) >> h->block_shift; b <= last; b++) {
		uint64_t bit = 1ULL << (b & 63), at, n;

		if (__atomic_load_n(&f->vbits[b >> 6], __ATOMIC_ACQUIRE) & bit)
			continue;
		at = h->hdr_size + (b << h->block_shift);
		n = h->blocks_off - at;
		if (n > (1ULL << h->block_shift))
			n = 1ULL << h->block_shift;
		if (nhi_checksum(f->map + at, (size_t)n, h->generation + b) != f->blocks[b])
			return NHI_ERR_FORMAT;
		__atomic_fetch_or(&f->vbits[b >> 6], bit, __ATOMIC_RELEASE);
	}
	return 0;
}

/* An identity's hot record at off: verified before its lengths are
 * trusted.  Offsets out of bounds are left to the lookup, which refuses
 * them. */
static int touch_hot(const struct snapf *f, uint32_t off)
{
	int e;

	if (!rec_fits(off, HOT_MIN, f->idents_lo, f->idents_hi))
		return 0;
	if ((e = touch(f, off, HOT_MIN)) < 0)
		return e;
	return touch(f, off, hot_size((const void *)(f->map + off)));
}

/* And its cold record. */
static int touch_ident(const struct snapf *f, uint32_t off)
{
	const struct nhi_snap_ident_rec *r;
	int e;

	if ((e = touch_hot(f, off)) < 0 || !rec_fits(off, HOT_MIN, f->idents_lo, f->idents_hi))
		return e;
	r = (const void *)(f->map + off);
	off = r->cold;
	if (!rec_fits(off, COLD_MIN, f->colds_lo, f->colds_hi))
		return 0;
	if ((e = touch(f, off, COLD_MIN)) < 0)
		return e;
	return touch(f, off, cold_size((const void *)(f->map + off)));
}

/* Everything a probe of idx for hash h may read: the buckets from h's
 * home to the empty one that ends the run, and the records of those
 * with h's tag (their names or uids are compared, and one is the
 * answer). */
static int touch_probe(const struct snapf *f, const struct nhi_snap_bucket *idx, uint32_t size,
		       uint64_t h, int (*touch_ref)(const struct snapf *f, uint32_t ref))
{
	uint32_t tag = (uint32_t)(h >> 32), pos;
	int e;

	if (f->vbits == NULL || size == 0)
		return 0;
	pos = (uint32_t)h & (size - 1);
	for (uint32_t i = 0; i < size; i++, pos = (pos + 1) & (size - 1)) {
		struct nhi_snap_bucket b;

		if ((e = touch(f, (uint64_t)((const unsigned char *)&idx[pos] - f->map), sizeof(b))) < 0)
			return e;
		b = idx[pos];
		if (b.ref == 0)
			return 0;
		if (b.tag == tag && (e = touch_ref(f, b.ref)) < 0)
			return e;
	}
	return 0;
}

int nhi_snap_ident_by_name(const struct nhi_snap *s, const char *name, struct nhi_ident *out)
{
	const struct nhi_snap_ident_rec *rec = NULL;
	const struct snapf *f = &s->base;
	int r = touch_probe(f, f->name_idx, f->name_mask + 1, nhi_hash_str(name), touch_ident);

	if (r == 0)
		r = find_by_name(s, name, &f, &rec);
	return r < 0 ? r : fill_ident(f, rec, out);
}

int nhi_snap_ident_by_uid(const struct nhi_snap *s, uint32_t uid, struct nhi_ident *out)
{
	const struct nhi_snap_ident_rec *rec = NULL;
	const struct snapf *f = &s->base;
	int r = touch_probe(f, f->uid_idx, f->uid_mask + 1, nhi_hash_u32(uid), touch_ident);

	if (r == 0)
		r = find_by_uid(s, uid, &f, &rec);
	return r < 0 ? r : fill_ident(f, rec, out);
}

int nhi_snap_pw_by_name_verified(const struct nhi_snap *s, const char *name, struct nhi_pw *out)
{
	const struct nhi_snap_ident_rec *rec;
	const struct snapf *f = &s->base;
	int r = touch_probe(f, f->name_idx, f->name_mask + 1, nhi_hash_str(name), touch_hot);

	if (r == 0)
		r = find_by_name(s, name, &f, &rec);
	return r < 0 ? r : fill_pw(rec, out);
}

int nhi_snap_pw_by_name(const struct nhi_snap *s, const char *name, struct nhi_pw *out)
{
	const struct nhi_snap_ident_rec *rec;
	const struct snapf *f = &s->base;
	int r = find_by_name(s, name, &f, &rec);

	return r < 0 ? r : fill_pw(rec, out);
}

int nhi_snap_pw_by_uid(const struct nhi_snap *s, uint32_t uid, struct nhi_pw *out)
{
	const struct nhi_snap_ident_rec *rec;
	const struct snapf *f = &s->base;
	int r = find_by_uid(s, uid, &f, &rec);

	return r < 0 ? r : fill_pw(rec, out);
}

/* The record of the i-th identity in name order (the base's, then the
 * delta's), and its file: 0, NHI_ERR_NOTFOUND past the end or for one the
 * delta replaced or removed, NHI_ERR_FORMAT. */
static int rec_at(const struct nhi_snap *s, uint32_t i, const struct snapf **fp,
		  const struct nhi_snap_ident_rec **rp)
{
	const struct nhi_snap_ident_rec *r;
	const struct snapf *f = &s->base;
	int e;

	if (i >= f->hdr->n_idents) {
		i -= f->hdr->n_idents;
		f = &s->delta;
		if (!s->overlay || i >= f->hdr->n_idents)
			return NHI_ERR_NOTFOUND;
	}
	if ((e = touch(f, f->hdr->order_off + (uint64_t)i * 4, 4)) < 0 ||
	    (e = touch_ident(f, f->order[i])) < 0)
		return e;
	r = ident_rec(f, f->order[i]);
	if (r == NULL)
		return NHI_ERR_FORMAT;
	if (f == &s->delta && r->state == NHI_SNAP_STATE_GONE)
		return NHI_ERR_NOTFOUND;
	if (f == &s->base && (e = base_holds(s, r)) < 0)
		return e;
	*fp = f;
	*rp = r;
	return 0;
}

int nhi_snap_ident_at(const struct nhi_snap *s, uint32_t i, struct nhi_ident *out)
{
	const struct nhi_snap_ident_rec *r;
	const struct snapf *f;
	int e = rec_at(s, i, &f, &r);

	return e < 0 ? e : fill_ident(f, r, out);
}

int nhi_snap_pw_at(const struct nhi_snap *s, uint32_t i, struct nhi_pw *out)
{
	const struct nhi_snap_ident_rec *r;
	const struct snapf *f;
	int e = rec_at(s, i, &f, &r);

	return e < 0 ? e : fill_pw(r, out);
}

/* A group the base answered (its index i), unless it is the identity group
 * of an identity the delta has: registry groups come first and only the
 * base has them. */
static int base_group(const struct nhi_snap *s, uint32_t i, struct nhi_group *out)
{
	int r = fill_group(&s->base, &s->base.groups[i], out);

	if (r < 0 || !s->overlay || i < s->base.hdr->n_reg_groups)
		return r;
	/* base group gids are unique, so its gid stands for the group */
	if (s->delta.gshadow != NULL)
		return in_set(s->delta.gshadow, s->delta.gshadow_mask, out->gid) ? NHI_ERR_NOTFOUND : 0;
	r = in_delta(s, out->name, strlen(out->name));
	return r < 0 ? r : r ? NHI_ERR_NOTFOUND : 0;
}

int nhi_snap_group_by_name(const struct nhi_snap *s, const char *name, struct nhi_group *out)
{
	const struct snapf *f = &s->base;
	uint64_t h = nhi_hash_str(name);
	uint32_t ref;
	int r;

	if (s->overlay) {
		r = probe(&s->delta, s->delta.gname_idx, s->delta.hdr->gname_idx_size,
			  h, group_name_match, name, &ref);
		if (r == 0)
			return fill_group(&s->delta, &s->delta.groups[ref - 1], out);
		if (r != NHI_ERR_NOTFOUND)
			return r;
	}
	r = probe(f, f->gname_idx, f->hdr->gname_idx_size, h, group_name_match, name, &ref);
	return r < 0 ? r : base_group(s, ref - 1, out);
}

int nhi_snap_group_by_gid(const struct nhi_snap *s, uint32_t gid, struct nhi_group *out)
{
	const struct snapf *f = &s->base;
	uint32_t ref;
	int r;

	if (s->overlay) {
		r = probe(&s->delta, s->delta.gid_idx, s->delta.hdr->gid_idx_size,
			  nhi_hash_u32(gid), group_gid_match, &gid, &ref);
		if (r == 0)
			return fill_group(&s->delta, &s->delta.groups[ref - 1], out);
		if (r != NHI_ERR_NOTFOUND)
			return r;
	}
	r = probe(f, f->gid_idx, f->hdr->gid_idx_size, nhi_hash_u32(gid),
		  group_gid_match, &gid, &ref);
	return r < 0 ? r : base_group(s, ref - 1, out);
}

int nhi_snap_group_at(const struct nhi_snap *s, uint32_t i, struct nhi_group *out)
{
	if (i < s->base.hdr->n_groups)
		return base_group(s, i, out);
	i -= s->base.hdr->n_groups;
	if (!s->overlay || i >= s->delta.hdr->n_groups)
		return NHI_ERR_NOTFOUND;
	return fill_group(&s->delta, &s->delta.groups[i], out);
}

const char *nhi_snap_group_member(const struct nhi_snap *s, const struct nhi_group *g, uint32_t i)
{
	const struct snapf *f = g->file_ == &s->delta ? &s->delta : &s->base;

	if (i >= g->n_members)
		return NULL;
	return str_at(f, g->members_[i]);
}

/* Memberships come from registry groups, which only the base has. */
int nhi_snap_user_gids(const struct nhi_snap *s, const char *user,
		       const uint32_t **gids, uint32_t *n)
{
	const struct snapf *f = &s->base;
	const struct nhi_snap_hdr *h = f->hdr;
	const struct nhi_snap_memb_rec *m;
	uint32_t ref;
	int r = probe(f, f->memb_idx, h->memb_idx_size, nhi_hash_str(user),
		      memb_name_match, user, &ref);

	if (r < 0)
		return r;
	m = &f->membs[ref - 1];
	if (m->gids_off > h->u32_count || m->n_gids > h->u32_count - m->gids_off)
		return NHI_ERR_FORMAT;
	*gids = f->u32 + m->gids_off;
	*n = m->n_gids;
	return 0;
}

/* ---- delegation edges (NHI_SNAP_F_DELEG: the base's) -------------------- */

int nhi_snap_has_delegations(const struct nhi_snap *s)
{
	return s->base.delegs != NULL;
}

uint32_t nhi_snap_n_delegations(const struct nhi_snap *s)
{
	return s->base.delegs != NULL ? s->base.hdr->n_delegs : 0;
}

int nhi_snap_settings(const struct nhi_snap *s, struct nhi_snap_settings *out)
{
	const struct nhi_snap_hdr *h = s->base.hdr;
	const struct nhi_snap_conf_rec *rec;
	const char *str[NHI_SNAP_CONF_NSTR];
	const char *p;
	size_t at;

	if (!(h->flags & NHI_SNAP_F_CONF) || (h->flags & NHI_SNAP_F_DELTA))
		return NHI_ERR_NOTFOUND;
	if (!section_ok(h, h->conf_off, h->conf_size, 1, 8) || h->conf_size < sizeof(*rec))
		return NHI_ERR_FORMAT;
	p = (const char *)s->base.map + h->conf_off;
	rec = (const void *)p;
	at = sizeof(*rec);
	for (int i = 0; i < NHI_SNAP_CONF_NSTR; i++) {
		size_t n = rec->len[i];

		/* the NUL where the length says, and none before it */
		if (n >= h->conf_size - at || p[at + n] != '\0' || memchr(p + at, '\0', n) != NULL)
			return NHI_ERR_FORMAT;
		str[i] = p + at;
		at += n + 1;
	}
	out->flags = rec->flags;
	out->dev = rec->dev;
	out->ino = rec->ino;
	out->size = rec->size;
	out->mtime_sec = rec->mtime_sec;
	out->mtime_nsec = rec->mtime_nsec;
	out->ctime_sec = rec->ctime_sec;
	out->ctime_nsec = rec->ctime_nsec;
	out->conf_path = str[0];
	out->cache_path = str[1];
	out->default_shell = str[2];
	out->nologin_shell = str[3];
	out->shadow_file = str[4];
	return 0;
}

/* The base's slot of the edge from the identity named NAME (len bytes)
 * to TO: 0 (*out), NHI_ERR_NOTFOUND, or NHI_ERR_FORMAT (under
 * NHI_SNAP_VERIFY_READ, a slot read that fails its own checksum; a block
 * already verified is trusted as it stands). */
static int deleg_slot(const struct snapf *f, const char *name, size_t len, uint32_t to,
		      const struct nhi_snap_deleg_rec **out)
{
	uint32_t mask = f->deleg_mask, pos;

	if (f->delegs == NULL || len == 0 || len > NHI_SNAP_DELEG_NAME_MAX)
		return NHI_ERR_NOTFOUND;
	pos = (uint32_t)nhi_hash_edge(name, len, to) & mask;
	for (uint32_t i = 0; i <= mask; i++, pos = (pos + 1) & mask) {
		const struct nhi_snap_deleg_rec *d = &f->delegs[pos];

		if (f->vbits != NULL &&
		    nhi_checksum(d, NHI_SNAP_DELEG_SUMMED, NHI_SNAP_DELEG_SEED(f->hdr->generation, pos)) !=
			    d->checksum)
			return NHI_ERR_FORMAT;
		if (d->from_len == 0)
			return NHI_ERR_NOTFOUND;   /* an empty slot ends the run */
		if (d->to_uid == to && d->from_len == len && memcmp(d->from_name, name, len) == 0) {
			*out = d;
			return 0;
		}
	}
	return NHI_ERR_NOTFOUND;
}

static void fill_deleg(const struct nhi_snap_deleg_rec *d, struct nhi_deleg *g)
{
	g->from_uid = d->from_uid;
	g->to_uid = d->to_uid;
	g->expires = d->expires;
}

int nhi_snap_delegation(const struct nhi_snap *s, uint32_t from_uid, uint32_t to_uid,
			struct nhi_deleg *out)
{
	const struct snapf *f = &s->base;
	const struct nhi_snap_ident_rec *rec;
	const struct nhi_snap_deleg_rec *d;
	int r;

	if (f->delegs == NULL)
		return NHI_ERR_NOTFOUND;
	r = touch_probe(f, f->uid_idx, f->uid_mask + 1, nhi_hash_u32(from_uid), touch_hot);
	if (r == 0)
		r = rec_by_uid(f, from_uid, &rec);
	if (r == 0)
		r = deleg_slot(f, (const char *)(rec + 1), rec->len[NHI_SNAP_S_NAME], to_uid, &d);
	if (r == 0 && d->from_uid != from_uid)
		r = NHI_ERR_NOTFOUND;
	if (r == 0)
		fill_deleg(d, out);
	return r;
}

int nhi_snap_ruser_delegation(const struct nhi_snap *s, const char *from_name, uint32_t to_uid,
			      struct nhi_deleg *g, struct nhi_pw *from)
{
	const struct nhi_snap_ident_rec *rec = NULL;
	const struct nhi_snap_deleg_rec *d;
	struct name_key k;
	uint64_t h = nhi_hash_str_len(from_name, &k.len);
	int r;

	if (s->base.delegs == NULL)
		return NHI_ERR_NOTFOUND;
	k.name = from_name;
	if (s->overlay) {
		/* the delta has FROM_NAME: its record wins (suspended,
		 * retired, expired or gone there: so it is now) */
		r = rec_by_name(&s->delta, h, &k, &rec);
		if (r == 0 && rec->state == NHI_SNAP_STATE_GONE)
			return NHI_ERR_NOTFOUND;
		if (r < 0 && r != NHI_ERR_NOTFOUND)
			return r;
	}
	r = deleg_slot(&s->base, from_name, k.len, to_uid, &d);
	if (r < 0)
		return r;
	if (rec != NULL) {
		if (rec->uid != d->from_uid)
			return NHI_ERR_NOTFOUND;   /* another identity by that name now */
		if ((r = fill_pw(rec, from)) < 0)
			return r;
	} else {
		/* the base's record of FROM stands unless the delta replaces
		 * its uid (renamed away): then it is not FROM_NAME's any more */
		if (s->overlay && s->delta.shadow != NULL && in_shadow(&s->delta, d->from_uid))
			return NHI_ERR_NOTFOUND;
		memset(from, 0, sizeof(*from));
		from->name = d->from_name;
		from->name_len = d->from_len;
		from->uid = d->from_uid;
		from->state = d->from_state;
		from->expires = d->from_expires;
	}
	fill_deleg(d, g);
	return 0;
}

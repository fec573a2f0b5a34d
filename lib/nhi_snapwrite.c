/* nhi_snapwrite.c - compile and publish the snapshot (nhictl only).
 *
 * The writer collects identities and groups, lays the file out in memory,
 * then writes it to a temp file beside the target, fsyncs, renames it into
 * place, fsyncs the directory and finally marks the previous file stale so
 * that readers which have it mapped move to the new one. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "nhi_file.h"
#include "nhi_err.h"
#include "nhi_hash.h"
#include "nhi_snapshot.h"

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	unsigned char *np;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	np = realloc(b->p, cap);
	if (np == NULL)
		return NHI_ERR_NOMEM;
	b->p = np;
	b->cap = cap;
	return 0;
}

static int buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return NHI_ERR_NOMEM;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

struct wgroup {
	uint32_t name, gid;
	uint32_t first_member, n_members;  /* into w->members (string offsets) */
};

struct nhi_snap_writer {
	struct buf strings;                /* string pool; offset 0 = "" */
	struct nhi_snap_ident_rec *idents;
	size_t n_idents, cap_idents;
	struct wgroup *groups;
	size_t n_groups, cap_groups;
	uint32_t *members;                 /* string offsets of group members */
	size_t n_members, cap_members;
	int failed;                        /* a previous add ran out of memory */
};

static int grow(void **p, size_t *cap, size_t n, size_t elem)
{
	size_t nc;
	void *np;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 64;
	np = realloc(*p, nc * elem);
	if (np == NULL)
		return NHI_ERR_NOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

struct nhi_snap_writer *nhi_snapw_new(void)
{
	struct nhi_snap_writer *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	if (buf_add(&w->strings, "", 1) < 0) {
		free(w);
		return NULL;
	}
	return w;
}

void nhi_snapw_free(struct nhi_snap_writer *w)
{
	if (w == NULL)
		return;
	free(w->strings.p);
	free(w->idents);
	free(w->groups);
	free(w->members);
	free(w);
}

static int add_str(struct nhi_snap_writer *w, const char *s, uint32_t *off)
{
	size_t n;

	if (s == NULL || *s == '\0') {
		*off = 0;
		return 0;
	}
	n = strlen(s) + 1;
	if (w->strings.len + n > UINT32_MAX / 2)
		return NHI_ERR_RANGE;
	*off = (uint32_t)w->strings.len;
	return buf_add(&w->strings, s, n);
}

int nhi_snapw_add_ident(struct nhi_snap_writer *w, const struct nhi_ident *id)
{
	struct nhi_snap_ident_rec r;
	int e;

	if (id->name == NULL || *id->name == '\0')
		return NHI_ERR_INVAL;
	memset(&r, 0, sizeof(r));
	if ((e = add_str(w, id->name, &r.name)) < 0 || (e = add_str(w, id->gecos, &r.gecos)) < 0 ||
	    (e = add_str(w, id->home, &r.home)) < 0 || (e = add_str(w, id->shell, &r.shell)) < 0 ||
	    (e = add_str(w, id->owner, &r.owner)) < 0 || (e = add_str(w, id->purpose, &r.purpose)) < 0 ||
	    (e = add_str(w, id->hosts, &r.hosts)) < 0 || (e = add_str(w, id->services, &r.services)) < 0)
		goto fail;
	r.uid = id->uid;
	r.gid = id->gid;
	r.kind = (uint8_t)id->kind;
	r.state = (uint8_t)id->state;
	r.created = id->created;
	r.expires = id->expires;
	r.review_interval = id->review_interval;
	r.review_due = id->review_due;
	r.orphaned_since = id->orphaned_since;
	r.last_used = id->last_used;
	if ((e = grow((void **)&w->idents, &w->cap_idents, w->n_idents, sizeof(r))) < 0)
		goto fail;
	w->idents[w->n_idents++] = r;
	return 0;
fail:
	w->failed = 1;
	return e;
}

int nhi_snapw_add_group(struct nhi_snap_writer *w, const char *name, uint32_t gid,
			const char *const *members, size_t n_members)
{
	struct wgroup g;
	int e;

	if (name == NULL || *name == '\0')
		return NHI_ERR_INVAL;
	memset(&g, 0, sizeof(g));
	if ((e = add_str(w, name, &g.name)) < 0)
		goto fail;
	g.gid = gid;
	g.first_member = (uint32_t)w->n_members;
	for (size_t i = 0; i < n_members; i++) {
		uint32_t off;
		if ((e = add_str(w, members[i], &off)) < 0 ||
		    (e = grow((void **)&w->members, &w->cap_members, w->n_members, sizeof(uint32_t))) < 0)
			goto fail;
		w->members[w->n_members++] = off;
	}
	g.n_members = (uint32_t)n_members;
	if ((e = grow((void **)&w->groups, &w->cap_groups, w->n_groups, sizeof(g))) < 0)
		goto fail;
	w->groups[w->n_groups++] = g;
	return 0;
fail:
	w->failed = 1;
	return e;
}

/* ---- layout ----------------------------------------------------------- */

static const char *wstr(const struct nhi_snap_writer *w, uint32_t off)
{
	return (const char *)w->strings.p + off;
}

static const struct nhi_snap_writer *sort_ctx;

static int cmp_ident(const void *a, const void *b)
{
	const struct nhi_snap_ident_rec *x = a, *y = b;
	return strcmp(wstr(sort_ctx, x->name), wstr(sort_ctx, y->name));
}

struct pair { uint32_t user; uint32_t gid; };

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = strcmp(wstr(sort_ctx, x->user), wstr(sort_ctx, y->user));
	if (c != 0)
		return c;
	return x->gid < y->gid ? -1 : x->gid > y->gid;
}

static uint32_t index_size(size_t n)
{
	uint32_t s = 8;
	while (s < 2 * n)
		s *= 2;
	return s;
}

typedef int (*same_fn)(const void *recs, uint32_t a, uint32_t b, const struct nhi_snap_writer *w);

/* Insert record i with hash h into an index; a record equal to an earlier
 * one (same_fn) is a duplicate: NHI_ERR_EXISTS. */
static int idx_insert(uint32_t *idx, uint32_t size, uint64_t h, uint32_t i,
		      const void *recs, same_fn same, const struct nhi_snap_writer *w)
{
	uint32_t pos = (uint32_t)h & (size - 1);

	while (idx[pos] != 0) {
		if (same(recs, idx[pos] - 1, i, w))
			return NHI_ERR_EXISTS;
		pos = (pos + 1) & (size - 1);
	}
	idx[pos] = i + 1;
	return 0;
}

static int same_ident_name(const void *r, uint32_t a, uint32_t b, const struct nhi_snap_writer *w)
{
	const struct nhi_snap_ident_rec *x = r;
	return strcmp(wstr(w, x[a].name), wstr(w, x[b].name)) == 0;
}
static int same_ident_uid(const void *r, uint32_t a, uint32_t b, const struct nhi_snap_writer *w)
{
	const struct nhi_snap_ident_rec *x = r;
	return x[a].uid == x[b].uid;
}
static int same_group_name(const void *r, uint32_t a, uint32_t b, const struct nhi_snap_writer *w)
{
	const struct nhi_snap_group_rec *x = r;
	return strcmp(wstr(w, x[a].name), wstr(w, x[b].name)) == 0;
}
static int same_group_gid(const void *r, uint32_t a, uint32_t b, const struct nhi_snap_writer *w)
{
	const struct nhi_snap_group_rec *x = r;
	return x[a].gid == x[b].gid;
}
static int same_memb(const void *r, uint32_t a, uint32_t b, const struct nhi_snap_writer *w)
{
	const struct nhi_snap_memb_rec *x = r;
	return strcmp(wstr(w, x[a].name), wstr(w, x[b].name)) == 0;
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* A set of the registry groups' gids and names, so that giving every
 * identity its own group stays O(n). */
struct gset {
	uint32_t *slots;   /* group index + 1 */
	uint32_t size;
};

static int gset_init(struct gset *g, size_t n)
{
	g->size = 8;
	while (g->size < 2 * n + 2)
		g->size *= 2;
	g->slots = calloc(g->size, sizeof(*g->slots));
	return g->slots == NULL ? NHI_ERR_NOMEM : 0;
}

/* Find the slot for a gid (by_gid) or a name: the slot holding an equal
 * key, or the empty slot where it would go. */
static uint32_t gset_slot(const struct gset *g, const struct nhi_snap_writer *w, int by_gid,
			  uint32_t gid, uint32_t name)
{
	uint64_t h = by_gid ? nhi_hash_u32(gid) : nhi_hash_str(wstr(w, name));
	uint32_t pos = (uint32_t)h & (g->size - 1);

	while (g->slots[pos] != 0) {
		const struct wgroup *o = &w->groups[g->slots[pos] - 1];
		if (by_gid ? o->gid == gid : strcmp(wstr(w, o->name), wstr(w, name)) == 0)
			break;
		pos = (pos + 1) & (g->size - 1);
	}
	return pos;
}

/* Build the whole file in *out. */
static int build(struct nhi_snap_writer *w, uint64_t generation, time_t built_at,
		 struct buf *out, char *err, size_t errlen)
{
	struct nhi_snap_hdr h;
	struct nhi_snap_group_rec *grecs = NULL;
	struct nhi_snap_memb_rec *mrecs = NULL;
	struct pair *pairs = NULL;
	uint32_t *u32 = NULL, *idx = NULL;
	size_t n_pairs = 0, n_groups, n_membs = 0, n_u32, n_reg_groups = w->n_groups;
	size_t off;
	uint32_t isz[5];
	struct gset by_gid = { NULL, 0 }, by_name = { NULL, 0 };
	int r;

	/* every non-retired identity gets its own group unless its name or
	 * gid is taken by a registry group (or an earlier identity group) */
	r = gset_init(&by_gid, w->n_groups + w->n_idents);
	if (r == 0)
		r = gset_init(&by_name, w->n_groups + w->n_idents);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < w->n_groups; i++) {
		by_gid.slots[gset_slot(&by_gid, w, 1, w->groups[i].gid, 0)] = (uint32_t)i + 1;
		by_name.slots[gset_slot(&by_name, w, 0, 0, w->groups[i].name)] = (uint32_t)i + 1;
	}
	for (size_t i = 0; i < w->n_idents; i++) {
		const struct nhi_snap_ident_rec *id = &w->idents[i];
		uint32_t gi = (uint32_t)w->n_groups, gpos, npos;

		if (id->state == NHI_STATE_RETIRED)
			continue;
		gpos = gset_slot(&by_gid, w, 1, id->gid, 0);
		npos = gset_slot(&by_name, w, 0, 0, id->name);
		if (by_gid.slots[gpos] != 0 || by_name.slots[npos] != 0)
			continue;
		r = grow((void **)&w->groups, &w->cap_groups, w->n_groups, sizeof(*w->groups));
		if (r < 0)
			goto out;
		w->groups[gi].name = id->name;
		w->groups[gi].gid = id->gid;
		w->groups[gi].first_member = 0;
		w->groups[gi].n_members = 0;
		by_gid.slots[gpos] = gi + 1;
		by_name.slots[npos] = gi + 1;
		w->n_groups++;
	}
	n_groups = w->n_groups;

	sort_ctx = w;
	if (w->n_idents > 0)
		qsort(w->idents, w->n_idents, sizeof(*w->idents), cmp_ident);

	/* user -> gids, from the registry groups' member lists */
	pairs = calloc(w->n_members + 1, sizeof(*pairs));
	if (pairs == NULL) {
		r = NHI_ERR_NOMEM;
		goto out;
	}
	for (size_t g = 0; g < n_reg_groups; g++)
		for (uint32_t m = 0; m < w->groups[g].n_members; m++) {
			pairs[n_pairs].user = w->members[w->groups[g].first_member + m];
			pairs[n_pairs].gid = w->groups[g].gid;
			n_pairs++;
		}
	if (n_pairs > 0)
		qsort(pairs, n_pairs, sizeof(*pairs), cmp_pair);

	n_u32 = w->n_members + n_pairs;
	u32 = calloc(n_u32 + 1, sizeof(*u32));
	grecs = calloc(n_groups + 1, sizeof(*grecs));
	mrecs = calloc(n_pairs + 1, sizeof(*mrecs));
	if (u32 == NULL || grecs == NULL || mrecs == NULL) {
		r = NHI_ERR_NOMEM;
		goto out;
	}
	if (w->n_members > 0)
		memcpy(u32, w->members, w->n_members * sizeof(*u32));
	for (size_t g = 0; g < n_groups; g++) {
		grecs[g].name = w->groups[g].name;
		grecs[g].gid = w->groups[g].gid;
		grecs[g].members_off = w->groups[g].first_member;
		grecs[g].n_members = w->groups[g].n_members;
	}
	{
		size_t pool = w->n_members;
		for (size_t i = 0; i < n_pairs; i++) {
			if (n_membs == 0 || strcmp(wstr(w, mrecs[n_membs - 1].name), wstr(w, pairs[i].user)) != 0) {
				mrecs[n_membs].name = pairs[i].user;
				mrecs[n_membs].gids_off = (uint32_t)pool;
				mrecs[n_membs].n_gids = 0;
				n_membs++;
			} else if (u32[pool - 1] == pairs[i].gid) {
				continue;  /* listed twice in one group */
			}
			u32[pool++] = pairs[i].gid;
			mrecs[n_membs - 1].n_gids++;
		}
		n_u32 = pool;
	}

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, NHI_SNAP_MAGIC, sizeof(h.magic));
	h.version = NHI_SNAP_VERSION;
	h.hdr_size = sizeof(h);
	h.endian = NHI_SNAP_ENDIAN;
	h.generation = generation;
	h.built_at = built_at;
	isz[0] = index_size(w->n_idents);
	isz[1] = isz[0];
	isz[2] = index_size(n_groups);
	isz[3] = isz[2];
	isz[4] = index_size(n_membs);

	off = sizeof(h);
	h.n_idents = (uint32_t)w->n_idents; h.idents_off = (uint32_t)off;
	off = align8(off + w->n_idents * sizeof(struct nhi_snap_ident_rec));
	h.n_groups = (uint32_t)n_groups; h.groups_off = (uint32_t)off;
	off = align8(off + n_groups * sizeof(struct nhi_snap_group_rec));
	h.n_membs = (uint32_t)n_membs; h.membs_off = (uint32_t)off;
	off = align8(off + n_membs * sizeof(struct nhi_snap_memb_rec));
	h.u32_count = (uint32_t)n_u32; h.u32_off = (uint32_t)off;
	off = align8(off + n_u32 * 4);
	h.name_idx_size = isz[0]; h.name_idx_off = (uint32_t)off; off += isz[0] * 4;
	h.uid_idx_size = isz[1]; h.uid_idx_off = (uint32_t)off; off += isz[1] * 4;
	h.gname_idx_size = isz[2]; h.gname_idx_off = (uint32_t)off; off += isz[2] * 4;
	h.gid_idx_size = isz[3]; h.gid_idx_off = (uint32_t)off; off += isz[3] * 4;
	h.memb_idx_size = isz[4]; h.memb_idx_off = (uint32_t)off; off += isz[4] * 4;
	h.strings_off = (uint32_t)off; h.strings_size = (uint32_t)w->strings.len;
	off += w->strings.len;
	off = align8(off);
	if (off > UINT32_MAX) {
		r = nhi_seterr(err, errlen, NHI_ERR_RANGE, "snapshot would exceed 4 GiB");
		goto out;
	}
	h.file_size = off;

	r = buf_reserve(out, off);
	if (r < 0)
		goto out;
	memset(out->p, 0, off);
	out->len = off;
	if (w->n_idents > 0)
		memcpy(out->p + h.idents_off, w->idents, w->n_idents * sizeof(*w->idents));
	memcpy(out->p + h.groups_off, grecs, n_groups * sizeof(*grecs));
	memcpy(out->p + h.membs_off, mrecs, n_membs * sizeof(*mrecs));
	memcpy(out->p + h.u32_off, u32, n_u32 * 4);
	memcpy(out->p + h.strings_off, w->strings.p, w->strings.len);

	idx = (uint32_t *)(out->p + h.name_idx_off);
	for (uint32_t i = 0; i < h.n_idents; i++)
		if (idx_insert(idx, isz[0], nhi_hash_str(wstr(w, w->idents[i].name)), i,
			       w->idents, same_ident_name, w) < 0) {
			r = nhi_seterr(err, errlen, NHI_ERR_EXISTS, "duplicate identity name '%s'",
				       wstr(w, w->idents[i].name));
			goto out;
		}
	idx = (uint32_t *)(out->p + h.uid_idx_off);
	for (uint32_t i = 0; i < h.n_idents; i++)
		if (idx_insert(idx, isz[1], nhi_hash_u32(w->idents[i].uid), i,
			       w->idents, same_ident_uid, w) < 0) {
			r = nhi_seterr(err, errlen, NHI_ERR_EXISTS, "duplicate uid %u ('%s')",
				       w->idents[i].uid, wstr(w, w->idents[i].name));
			goto out;
		}
	idx = (uint32_t *)(out->p + h.gname_idx_off);
	for (uint32_t i = 0; i < h.n_groups; i++)
		if (idx_insert(idx, isz[2], nhi_hash_str(wstr(w, grecs[i].name)), i,
			       grecs, same_group_name, w) < 0) {
			r = nhi_seterr(err, errlen, NHI_ERR_EXISTS, "duplicate group name '%s'",
				       wstr(w, grecs[i].name));
			goto out;
		}
	idx = (uint32_t *)(out->p + h.gid_idx_off);
	for (uint32_t i = 0; i < h.n_groups; i++)
		if (idx_insert(idx, isz[3], nhi_hash_u32(grecs[i].gid), i,
			       grecs, same_group_gid, w) < 0) {
			r = nhi_seterr(err, errlen, NHI_ERR_EXISTS, "duplicate gid %u ('%s')",
				       grecs[i].gid, wstr(w, grecs[i].name));
			goto out;
		}
	idx = (uint32_t *)(out->p + h.memb_idx_off);
	for (uint32_t i = 0; i < h.n_membs; i++)
		if (idx_insert(idx, isz[4], nhi_hash_str(wstr(w, mrecs[i].name)), i,
			       mrecs, same_memb, w) < 0) {
			r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "internal: duplicate member");
			goto out;
		}

	h.data_checksum = nhi_checksum(out->p + sizeof(h), off - sizeof(h), generation);
	h.hdr_checksum = 0;
	h.stale = 0;
	h.hdr_checksum = nhi_checksum(&h, sizeof(h), 0);
	memcpy(out->p, &h, sizeof(h));
	r = 0;
out:
	/* drop the identity groups added above so publish can be called again */
	w->n_groups = n_reg_groups;
	free(by_gid.slots);
	free(by_name.slots);
	free(pairs);
	free(u32);
	free(grecs);
	free(mrecs);
	return r;
}

int nhi_snapw_publish(struct nhi_snap_writer *w, const char *path,
		      uint64_t generation, time_t built_at, char *err, size_t errlen)
{
	struct buf out = { NULL, 0, 0 };
	int oldfd = -1, r;

	if (w->failed)
		return nhi_seterr(err, errlen, NHI_ERR_NOMEM, "snapshot: an earlier add failed");
	r = build(w, generation, built_at, &out, err, errlen);
	if (r < 0)
		goto out;
	/* hold the old file open so it can be marked stale after the rename */
	oldfd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	r = nhi_write_atomic(path, out.p, out.len, 0644, 0, 0, 0, err, errlen);
	if (r < 0)
		goto out;
	if (oldfd >= 0) {
		char magic[8];
		uint32_t one = 1;
		if (pread(oldfd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
		    memcmp(magic, NHI_SNAP_MAGIC, sizeof(magic)) == 0)
			(void)!pwrite(oldfd, &one, sizeof(one), offsetof(struct nhi_snap_hdr, stale));
	}
	r = 0;
out:
	if (oldfd >= 0)
		close(oldfd);
	free(out.p);
	return r;
}

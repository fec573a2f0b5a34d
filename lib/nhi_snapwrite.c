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
#include "nhi_conf.h"
#include "nhi_file.h"
#include "nhi_err.h"
#include "nhi_hash.h"
#include "nhi_snapshot.h"
#include "nhi_testhook.h"

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

/* An identity as the writer keeps it until the layout: its two records
 * without their strings (the string lengths are in them). */
struct wident {
	struct nhi_snap_ident_rec h;       /* cold set by the layout */
	struct nhi_snap_ident_cold c;
	uint32_t str[NHI_SNAP_NSTR];       /* offsets into w->istrings */
	uint32_t off;                      /* file offset of h, set by the layout */
};

/* Where each hot identity record starts (a multiple of 8). */
#define REC_ALIGN 8
/* A delta's indexes hold DELTA_SPREAD times the slots a base's would. */
#define DELTA_SPREAD 2

struct nhi_snap_writer {
	struct buf strings;                /* group string pool; offset 0 = "" */
	struct buf istrings;               /* identity strings; offset 0 = "" */
	struct wident *idents;
	size_t n_idents, cap_idents;
	struct wgroup *groups;
	size_t n_groups, cap_groups;
	uint32_t *members;                 /* string offsets of group members */
	size_t n_members, cap_members;
	int failed;                        /* the error of a previous add, or 0 */
	int delta;                         /* nhi_snapw_set_delta() was called */
	uint64_t base_generation;
	uint64_t keys_generation;
	unsigned block_shift;              /* of the block checksums */
	size_t n_gone;                     /* tombstones among idents */
	/* a delta's shadow indexes (shadow_from_base): have_shadow when the
	 * base could be read; the uids and the gids they hold */
	int have_shadow;
	uint32_t *shadow, *gshadow;
	size_t n_shadow, n_gshadow;
	/* delegation edges (a base only) */
	struct nhi_snap_deleg_rec *delegs;
	size_t n_delegs, cap_delegs;
	/* the nhi.conf settings section (a base only): the record followed
	 * by its strings, conf_len bytes; NULL: none */
	unsigned char *conf;
	size_t conf_len;
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
	if (buf_add(&w->strings, "", 1) < 0 || buf_add(&w->istrings, "", 1) < 0) {
		free(w->strings.p);
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
	free(w->istrings.p);
	free(w->idents);
	free(w->groups);
	free(w->members);
	free(w->shadow);
	free(w->gshadow);
	free(w->delegs);
	free(w->conf);
	free(w);
}

static int pool_add(struct buf *pool, const char *s, uint32_t *off)
{
	size_t n;

	if (s == NULL || *s == '\0') {
		*off = 0;
		return 0;
	}
	n = strlen(s) + 1;
	if (pool->len + n > UINT32_MAX / 2)
		return NHI_ERR_RANGE;
	*off = (uint32_t)pool->len;
	return buf_add(pool, s, n);
}

static int add_str(struct nhi_snap_writer *w, const char *s, uint32_t *off)
{
	return pool_add(&w->strings, s, off);
}

/* String i of an identity: at most NHI_SNAP_STR_MAX bytes. */
static int add_istr(struct nhi_snap_writer *w, const char *s, struct wident *r, int i)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n > NHI_SNAP_STR_MAX)
		return NHI_ERR_RANGE;
	if (i < NHI_SNAP_NHOT)
		r->h.len[i] = (uint16_t)n;
	else
		r->c.len[i - NHI_SNAP_NHOT] = (uint16_t)n;
	return pool_add(&w->istrings, s, &r->str[i]);
}

/* Length of string i of an identity. */
static size_t ilen(const struct wident *r, int i)
{
	return i < NHI_SNAP_NHOT ? r->h.len[i] : r->c.len[i - NHI_SNAP_NHOT];
}

int nhi_snapw_add_ident(struct nhi_snap_writer *w, const struct nhi_ident *id)
{
	const char *const strs[NHI_SNAP_NSTR] = {
		[NHI_SNAP_S_NAME] = id->name, [NHI_SNAP_S_GECOS] = id->gecos,
		[NHI_SNAP_S_HOME] = id->home, [NHI_SNAP_S_SHELL] = id->shell,
		[NHI_SNAP_S_OWNER] = id->owner, [NHI_SNAP_S_PURPOSE] = id->purpose,
		[NHI_SNAP_S_HOSTS] = id->hosts, [NHI_SNAP_S_SERVICES] = id->services,
	};
	struct wident r;
	int e = 0;

	if (id->name == NULL || *id->name == '\0')
		return NHI_ERR_INVAL;
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < NHI_SNAP_NSTR && e == 0; i++)
		e = add_istr(w, strs[i], &r, i);
	if (e < 0)
		goto fail;
	r.h.uid = id->uid;
	r.h.gid = id->gid;
	r.h.kind = (uint8_t)id->kind;
	r.h.state = (uint8_t)id->state;
	r.h.expires = id->expires;
	r.c.created = id->created;
	r.c.review_interval = id->review_interval;
	r.c.review_due = id->review_due;
	r.c.orphaned_since = id->orphaned_since;
	r.c.last_used = id->last_used;
	if ((e = grow((void **)&w->idents, &w->cap_idents, w->n_idents, sizeof(r))) < 0)
		goto fail;
	w->idents[w->n_idents++] = r;
	return 0;
fail:
	w->failed = e;
	return e;
}

int nhi_snapw_add_delegation(struct nhi_snap_writer *w, uint32_t from_uid, uint32_t to_uid,
			     int64_t expires)
{
	int e;

	if (from_uid == to_uid)
		return NHI_ERR_INVAL;
	e = grow((void **)&w->delegs, &w->cap_delegs, w->n_delegs, sizeof(*w->delegs));
	if (e < 0) {
		w->failed = e;
		return e;
	}
	memset(&w->delegs[w->n_delegs], 0, sizeof(*w->delegs));
	w->delegs[w->n_delegs].from_uid = from_uid;
	w->delegs[w->n_delegs].to_uid = to_uid;
	w->delegs[w->n_delegs].expires = expires;
	w->n_delegs++;
	return 0;
}

int nhi_snapw_add_gone(struct nhi_snap_writer *w, const char *name)
{
	struct nhi_ident id;
	int e;

	memset(&id, 0, sizeof(id));
	id.name = name;
	id.state = NHI_SNAP_STATE_GONE;
	e = nhi_snapw_add_ident(w, &id);
	if (e == 0)
		w->n_gone++;
	return e;
}

void nhi_snapw_set_delta(struct nhi_snap_writer *w, uint64_t base_generation)
{
	w->delta = 1;
	w->base_generation = base_generation;
}

void nhi_snap_settings_of(struct nhi_snap_settings *st, const char *path, const struct stat *sb,
			  const struct nhi_conf *m)
{
	memset(st, 0, sizeof(*st));
	if (sb != NULL) {
		st->dev = (uint64_t)sb->st_dev;
		st->ino = (uint64_t)sb->st_ino;
		st->size = (uint64_t)sb->st_size;
		st->mtime_sec = sb->st_mtim.tv_sec;
		st->mtime_nsec = sb->st_mtim.tv_nsec;
		st->ctime_sec = sb->st_ctim.tv_sec;
		st->ctime_nsec = sb->st_ctim.tv_nsec;
	} else {
		st->flags |= NHI_SNAP_CONF_MISSING;
	}
	if (m->enumerate)
		st->flags |= NHI_SNAP_CONF_ENUMERATE;
	st->conf_path = path;
	st->cache_path = m->cache_path;
	st->default_shell = m->default_shell;
	st->nologin_shell = m->nologin_shell;
	st->shadow_file = m->shadow_file;
}

int nhi_snapw_set_settings(struct nhi_snap_writer *w, const struct nhi_snap_settings *st)
{
	const char *str[NHI_SNAP_CONF_NSTR] = { st->conf_path, st->cache_path, st->default_shell,
						st->nologin_shell, st->shadow_file };
	struct nhi_snap_conf_rec rec = {
		.dev = st->dev, .ino = st->ino, .size = st->size,
		.mtime_sec = st->mtime_sec, .mtime_nsec = st->mtime_nsec,
		.ctime_sec = st->ctime_sec, .ctime_nsec = st->ctime_nsec, .flags = st->flags,
	};
	size_t len = sizeof(rec), at;
	unsigned char *p;

	for (int i = 0; i < NHI_SNAP_CONF_NSTR; i++) {
		size_t n = str[i] != NULL ? strlen(str[i]) : 0;

		if (n > 4095)
			return NHI_ERR_RANGE;
		rec.len[i] = (uint16_t)n;
		len += n + 1;
	}
	p = calloc(1, len);
	if (p == NULL)
		return NHI_ERR_NOMEM;
	memcpy(p, &rec, sizeof(rec));
	at = sizeof(rec);
	for (int i = 0; i < NHI_SNAP_CONF_NSTR; i++) {
		if (rec.len[i] > 0)
			memcpy(p + at, str[i], rec.len[i]);
		at += rec.len[i] + 1u;
	}
	free(w->conf);
	w->conf = p;
	w->conf_len = len;
	return 0;
}

void nhi_snapw_set_keys_generation(struct nhi_snap_writer *w, uint64_t keys_generation)
{
	w->keys_generation = keys_generation;
}

int nhi_snapw_set_block_shift(struct nhi_snap_writer *w, unsigned shift)
{
	if (shift < NHI_SNAP_BLOCK_SHIFT_MIN || shift > NHI_SNAP_BLOCK_SHIFT_MAX)
		return NHI_ERR_INVAL;
	w->block_shift = shift;
	return 0;
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
	w->failed = e;
	return e;
}

/* ---- layout ----------------------------------------------------------- */

static const char *wstr(const struct nhi_snap_writer *w, uint32_t off)
{
	return (const char *)w->strings.p + off;
}

/* The name of an identity. */
static const char *iname(const struct nhi_snap_writer *w, const struct wident *r)
{
	return (const char *)w->istrings.p + r->str[NHI_SNAP_S_NAME];
}

static const struct nhi_snap_writer *sort_ctx;

static int cmp_ident(const void *a, const void *b)
{
	return strcmp(iname(sort_ctx, a), iname(sort_ctx, b));
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

/* Fill an index (zeroed buckets, size a power of two) with n records
 * whose hashes are h[]; the ref of record i is refs[i], or i + 1 when refs
 * is NULL.  slot is scratch of 'size' entries.  Returns -1, or the index of
 * a record equal (same_fn) to an earlier one: a duplicate. */
static long idx_build(struct nhi_snap_bucket *idx, uint32_t *slot, uint32_t size,
		      const uint64_t *h, uint32_t n, const uint32_t *refs,
		      const void *recs, same_fn same, const struct nhi_snap_writer *w)
{
	memset(slot, 0, size * sizeof(*slot));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t pos = (uint32_t)h[i] & (size - 1);

		while (slot[pos] != 0) {
			if (same(recs, slot[pos] - 1, i, w))
				return i;
			pos = (pos + 1) & (size - 1);
		}
		slot[pos] = i + 1;
		idx[pos].tag = (uint32_t)(h[i] >> 32);
		idx[pos].ref = refs != NULL ? refs[i] : i + 1;
	}
	return -1;
}

/* A shadow index (NHI_SNAP_F_SHADOW): the n values v of vals as v + 1 in
 * 'size' zeroed slots (a power of two, more than n). */
static void set_fill(uint32_t *set, uint32_t size, const uint32_t *vals, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t pos = (uint32_t)nhi_hash_u32(vals[i]) & (size - 1);

		while (set[pos] != 0 && set[pos] != vals[i] + 1u)
			pos = (pos + 1) & (size - 1);
		set[pos] = vals[i] + 1u;
	}
}

static int same_ident_name(const void *r, uint32_t a, uint32_t b, const struct nhi_snap_writer *w)
{
	const struct wident *x = r;
	return strcmp(iname(w, &x[a]), iname(w, &x[b])) == 0;
}
static int same_ident_uid(const void *r, uint32_t a, uint32_t b, const struct nhi_snap_writer *w)
{
	const struct wident *x = r;
	return x[a].h.uid == x[b].h.uid;
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

static int cmp_deleg(const void *a, const void *b)
{
	const struct nhi_snap_deleg_rec *x = a, *y = b;

	if (x->from_uid != y->from_uid)
		return x->from_uid < y->from_uid ? -1 : 1;
	return x->to_uid < y->to_uid ? -1 : x->to_uid > y->to_uid;
}

static int cmp_uid_ident(const void *a, const void *b)
{
	uint32_t x = sort_ctx->idents[*(const uint32_t *)a].h.uid;
	uint32_t y = sort_ctx->idents[*(const uint32_t *)b].h.uid;

	return x < y ? -1 : x > y;
}

/* Each edge's FROM, from the identities (sorted by name): its name,
 * state and expiry into the edge.  The edges are sorted; a pair twice is
 * NHI_ERR_EXISTS, an unknown FROM or a name too long for a slot
 * NHI_ERR_INVAL. */
static int deleg_from(struct nhi_snap_writer *w, char *err, size_t errlen)
{
	struct nhi_snap_deleg_rec *d = w->delegs;
	uint32_t *by_uid = calloc(w->n_idents + 1, sizeof(*by_uid));
	int r = 0;

	if (by_uid == NULL)
		return NHI_ERR_NOMEM;
	for (size_t i = 1; i < w->n_delegs; i++)
		if (cmp_deleg(&d[i - 1], &d[i]) == 0) {
			r = nhi_seterr(err, errlen, NHI_ERR_EXISTS, "duplicate delegation %u -> %u",
				       d[i].from_uid, d[i].to_uid);
			goto out;
		}
	for (size_t i = 0; i < w->n_idents; i++)
		by_uid[i] = (uint32_t)i;
	sort_ctx = w;
	qsort(by_uid, w->n_idents, sizeof(*by_uid), cmp_uid_ident);
	for (size_t i = 0; i < w->n_delegs; i++) {
		size_t lo = 0, hi = w->n_idents;
		const struct wident *id = NULL;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (w->idents[by_uid[mid]].h.uid < d[i].from_uid)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < w->n_idents && w->idents[by_uid[lo]].h.uid == d[i].from_uid)
			id = &w->idents[by_uid[lo]];
		if (id == NULL || ilen(id, NHI_SNAP_S_NAME) > NHI_SNAP_DELEG_NAME_MAX) {
			r = nhi_seterr(err, errlen, NHI_ERR_INVAL,
				       "delegation %u -> %u: %s", d[i].from_uid, d[i].to_uid,
				       id == NULL ? "no identity has the uid it is from"
						  : "the name it is from is too long");
			goto out;
		}
		d[i].from_expires = id->h.expires;
		d[i].from_state = id->h.state;
		d[i].from_len = (uint8_t)ilen(id, NHI_SNAP_S_NAME);
		memset(d[i].from_name, 0, sizeof(d[i].from_name));
		memcpy(d[i].from_name, iname(w, id), d[i].from_len);
	}
out:
	free(by_uid);
	return r;
}

/* The delegation table (NHI_SNAP_F_DELEG): the edges in their slots
 * (zeroed: empty), by linear probing, then every slot's checksum. */
static void deleg_fill(struct nhi_snap_deleg_rec *slots, uint32_t size,
		       const struct nhi_snap_deleg_rec *d, size_t n, uint64_t generation)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t pos = (uint32_t)nhi_hash_edge(d[i].from_name, d[i].from_len, d[i].to_uid) &
			       (size - 1);

		while (slots[pos].from_len != 0)
			pos = (pos + 1) & (size - 1);
		slots[pos] = d[i];
		slots[pos].checksum = 0;
	}
	for (uint32_t i = 0; i < size; i++)
		slots[i].checksum = nhi_checksum(&slots[i], NHI_SNAP_DELEG_SUMMED,
						 NHI_SNAP_DELEG_SEED(generation, i));
}

static size_t align_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

static size_t align8(size_t n)
{
	return align_up(n, 8);
}

/* Bytes of the hot (or cold) record of an identity: the struct, its
 * strings with their NULs, padding to 8. */
static size_t rec_size(const struct wident *r, int cold)
{
	size_t n = cold ? sizeof(struct nhi_snap_ident_cold) : sizeof(struct nhi_snap_ident_rec);

	for (int i = cold ? NHI_SNAP_NHOT : 0; i < (cold ? NHI_SNAP_NSTR : NHI_SNAP_NHOT); i++)
		n += ilen(r, i) + 1;
	return align_up(n, 8);
}

/* Copy strings [from, to) of r to p (zeroed: the NULs are there). */
static void put_strs(const struct nhi_snap_writer *w, const struct wident *r, int from, int to,
		     unsigned char *p)
{
	for (int i = from; i < to; i++) {
		memcpy(p, w->istrings.p + r->str[i], ilen(r, i));
		p += ilen(r, i) + 1;
	}
}

/* Write the hot and cold records of r at their offsets in out (zeroed). */
static void put_rec(const struct nhi_snap_writer *w, const struct wident *r, unsigned char *out)
{
	uint32_t cold = r->h.cold;

	memcpy(out + r->off, &r->h, sizeof(r->h));
	put_strs(w, r, 0, NHI_SNAP_NHOT, out + r->off + sizeof(r->h));
	memcpy(out + cold, &r->c, sizeof(r->c));
	put_strs(w, r, NHI_SNAP_NHOT, NHI_SNAP_NSTR, out + cold + sizeof(r->c));
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
			  uint32_t gid, const char *name)
{
	uint64_t h = by_gid ? nhi_hash_u32(gid) : nhi_hash_str(name);
	uint32_t pos = (uint32_t)h & (g->size - 1);

	while (g->slots[pos] != 0) {
		const struct wgroup *o = &w->groups[g->slots[pos] - 1];
		if (by_gid ? o->gid == gid : strcmp(wstr(w, o->name), name) == 0)
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
	uint32_t *u32 = NULL, *slot = NULL, *order;
	uint64_t *hv = NULL;
	size_t n_pairs = 0, n_groups, n_membs = 0, n_u32, n_reg_groups = w->n_groups;
	/* a delta leaves the registry groups out: it was given them only to
	 * know which names and gids identity groups may not take */
	size_t gfirst = w->delta ? w->n_groups : 0;
	struct wident *live = NULL;
	uint32_t *lrefs = NULL;
	size_t strings_len = w->strings.len, off, most;
	uint32_t isz[5], nslot = 0;
	struct gset by_gid = { NULL, 0 }, by_name = { NULL, 0 };
	long dup;
	int r;

	/* every non-retired identity gets its own group unless its name or
	 * gid is taken by a registry group (or an earlier identity group) */
	r = gset_init(&by_gid, w->n_groups + w->n_idents);
	if (r == 0)
		r = gset_init(&by_name, w->n_groups + w->n_idents);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < w->n_groups; i++) {
		by_gid.slots[gset_slot(&by_gid, w, 1, w->groups[i].gid, NULL)] = (uint32_t)i + 1;
		by_name.slots[gset_slot(&by_name, w, 0, 0, wstr(w, w->groups[i].name))] = (uint32_t)i + 1;
	}
	for (size_t i = 0; i < w->n_idents; i++) {
		const struct wident *id = &w->idents[i];
		uint32_t gi = (uint32_t)w->n_groups, gpos, npos;

		if (id->h.state == NHI_STATE_RETIRED || id->h.state == NHI_SNAP_STATE_GONE)
			continue;
		gpos = gset_slot(&by_gid, w, 1, id->h.gid, NULL);
		npos = gset_slot(&by_name, w, 0, 0, iname(w, id));
		if (by_gid.slots[gpos] != 0 || by_name.slots[npos] != 0)
			continue;
		r = grow((void **)&w->groups, &w->cap_groups, w->n_groups, sizeof(*w->groups));
		if (r == 0)
			r = add_str(w, iname(w, id), &w->groups[gi].name);
		if (r < 0)
			goto out;
		w->groups[gi].gid = id->h.gid;
		w->groups[gi].first_member = 0;
		w->groups[gi].n_members = 0;
		by_gid.slots[gpos] = gi + 1;
		by_name.slots[npos] = gi + 1;
		w->n_groups++;
	}
	n_groups = w->n_groups - gfirst;
	if (w->n_gone > 0 && !w->delta) {
		r = nhi_seterr(err, errlen, NHI_ERR_INVAL, "a tombstone in a base snapshot");
		goto out;
	}
	if (w->n_delegs > 0 && w->delta) {
		r = nhi_seterr(err, errlen, NHI_ERR_INVAL, "delegation edges in a delta");
		goto out;
	}
	if (w->n_delegs > 0)
		qsort(w->delegs, w->n_delegs, sizeof(*w->delegs), cmp_deleg);

	sort_ctx = w;
	if (w->n_idents > 0)
		qsort(w->idents, w->n_idents, sizeof(*w->idents), cmp_ident);
	if (w->n_delegs > 0 && (r = deleg_from(w, err, errlen)) < 0)
		goto out;

	/* user -> gids, from the registry groups' member lists */
	pairs = calloc(w->n_members + 1, sizeof(*pairs));
	if (pairs == NULL) {
		r = NHI_ERR_NOMEM;
		goto out;
	}
	for (size_t g = 0; g < (w->delta ? 0 : n_reg_groups); g++)
		for (uint32_t m = 0; m < w->groups[g].n_members; m++) {
			pairs[n_pairs].user = w->members[w->groups[g].first_member + m];
			pairs[n_pairs].gid = w->groups[g].gid;
			n_pairs++;
		}
	if (n_pairs > 0)
		qsort(pairs, n_pairs, sizeof(*pairs), cmp_pair);

	n_u32 = (w->delta ? 0 : w->n_members) + n_pairs;
	u32 = calloc(n_u32 + 1, sizeof(*u32));
	grecs = calloc(n_groups + 1, sizeof(*grecs));
	mrecs = calloc(n_pairs + 1, sizeof(*mrecs));
	if (u32 == NULL || grecs == NULL || mrecs == NULL) {
		r = NHI_ERR_NOMEM;
		goto out;
	}
	if (w->n_members > 0 && !w->delta)
		memcpy(u32, w->members, w->n_members * sizeof(*u32));
	for (size_t g = 0; g < n_groups; g++) {
		grecs[g].name = w->groups[gfirst + g].name;
		grecs[g].gid = w->groups[gfirst + g].gid;
		grecs[g].members_off = w->groups[gfirst + g].first_member;
		grecs[g].n_members = w->groups[gfirst + g].n_members;
	}
	{
		size_t pool = w->delta ? 0 : w->n_members;
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
	h.keys_generation = w->keys_generation;
	if (w->delta) {
		h.flags = NHI_SNAP_F_DELTA;
		h.base_generation = w->base_generation;
	} else {
		h.flags = NHI_SNAP_F_BASE | NHI_SNAP_F_DELEG | NHI_SNAP_F_DMARK;
		h.n_reg_groups = (uint32_t)n_reg_groups;
	}
	/* a delta is asked first on every lookup and most often does not
	 * know the key: its identity indexes (and shadow indexes) are sized
	 * for at most a quarter load, so that a miss usually ends at the
	 * first bucket (it is small: at most snapshot_delta_max identities) */
	isz[0] = index_size(w->delta ? DELTA_SPREAD * w->n_idents : w->n_idents);
	isz[1] = isz[0];
	isz[2] = index_size(n_groups);
	isz[3] = isz[2];
	isz[4] = index_size(n_membs);

	/* first the settings nss_nhi reads at its first lookup, on the
	 * header's page (no page fault of their own) */
	off = sizeof(h);
	if (w->conf != NULL && !w->delta) {
		h.flags |= NHI_SNAP_F_CONF;
		h.conf_off = (uint32_t)off;
		h.conf_size = (uint32_t)w->conf_len;
		off = align8(off + w->conf_len);
	}
	/* hot identity records, each at a multiple of REC_ALIGN, then the
	 * cold ones */
	off = align_up(off, REC_ALIGN);
	h.n_idents = (uint32_t)w->n_idents; h.idents_off = (uint32_t)off;
	for (size_t i = 0; i < w->n_idents && off <= UINT32_MAX; i++) {
		off = align_up(off, REC_ALIGN);
		w->idents[i].off = (uint32_t)off;
		off += rec_size(&w->idents[i], 0);
	}
	h.idents_size = (uint32_t)(off - h.idents_off);
	h.colds_off = (uint32_t)off;
	for (size_t i = 0; i < w->n_idents && off <= UINT32_MAX; i++) {
		w->idents[i].h.cold = (uint32_t)off;
		off += rec_size(&w->idents[i], 1);
	}
	h.colds_size = (uint32_t)(off - h.colds_off);
	h.order_off = (uint32_t)off;
	off = align8(off + w->n_idents * 4);
	h.n_groups = (uint32_t)n_groups; h.groups_off = (uint32_t)off;
	off = align8(off + n_groups * sizeof(struct nhi_snap_group_rec));
	h.n_membs = (uint32_t)n_membs; h.membs_off = (uint32_t)off;
	off = align8(off + n_membs * sizeof(struct nhi_snap_memb_rec));
	h.u32_count = (uint32_t)n_u32; h.u32_off = (uint32_t)off;
	off = align8(off + n_u32 * 4);
	if (h.flags & NHI_SNAP_F_DELEG) {
		h.n_delegs = (uint32_t)w->n_delegs; h.delegs_off = (uint32_t)off;
		h.deleg_slots = index_size(w->n_delegs);
		off += (size_t)h.deleg_slots * sizeof(struct nhi_snap_deleg_rec);
	}
#define PLACE_IDX(name, i) do {                                                   \
		h.name##_idx_size = isz[i]; h.name##_idx_off = (uint32_t)off;     \
		off += (size_t)isz[i] * sizeof(struct nhi_snap_bucket);           \
	} while (0)
	PLACE_IDX(name, 0);
	PLACE_IDX(uid, 1);
	PLACE_IDX(gname, 2);
	PLACE_IDX(gid, 3);
	PLACE_IDX(memb, 4);
#undef PLACE_IDX
	if (w->delta && w->have_shadow) {
		h.flags |= NHI_SNAP_F_SHADOW;
		h.shadow_idx_size = index_size(DELTA_SPREAD * w->n_shadow);
		h.shadow_idx_off = (uint32_t)off;
		off = align8(off + (size_t)h.shadow_idx_size * 4);
		h.gshadow_idx_size = index_size(DELTA_SPREAD * w->n_gshadow);
		h.gshadow_idx_off = (uint32_t)off;
		off = align8(off + (size_t)h.gshadow_idx_size * 4);
	}
	h.strings_off = (uint32_t)off; h.strings_size = (uint32_t)w->strings.len;
	off += w->strings.len;
	off = align8(off);
	/* the block checksums last: one per block of the data before them */
	h.block_shift = w->block_shift ? w->block_shift : NHI_SNAP_BLOCK_SHIFT;
	h.blocks_off = (uint32_t)off;
	h.n_blocks = (uint32_t)((off - sizeof(h) + ((size_t)1 << h.block_shift) - 1) >> h.block_shift);
	off += (size_t)h.n_blocks * 8;
	if (off > UINT32_MAX) {
		r = nhi_seterr(err, errlen, NHI_ERR_RANGE, "snapshot would exceed 4 GiB");
		goto out;
	}
	h.file_size = off;

	most = w->n_idents > n_groups ? w->n_idents : n_groups;
	most = most > n_membs ? most : n_membs;
	hv = calloc(most + 1, sizeof(*hv));
	for (int i = 0; i < 5; i++)
		nslot = isz[i] > nslot ? isz[i] : nslot;
	slot = calloc(nslot, sizeof(*slot));  /* scratch for idx_build */
	r = hv == NULL || slot == NULL ? NHI_ERR_NOMEM : buf_reserve(out, off);
	if (r < 0)
		goto out;
	memset(out->p, 0, off);
	out->len = off;
	order = (uint32_t *)(out->p + h.order_off);
	for (size_t i = 0; i < w->n_idents; i++) {
		put_rec(w, &w->idents[i], out->p);
		order[i] = w->idents[i].off;
	}
	memcpy(out->p + h.groups_off, grecs, n_groups * sizeof(*grecs));
	memcpy(out->p + h.membs_off, mrecs, n_membs * sizeof(*mrecs));
	memcpy(out->p + h.u32_off, u32, n_u32 * 4);
	memcpy(out->p + h.strings_off, w->strings.p, w->strings.len);
	if (h.flags & NHI_SNAP_F_CONF)
		memcpy(out->p + h.conf_off, w->conf, w->conf_len);

#define INDEX(name) ((struct nhi_snap_bucket *)(out->p + h.name##_idx_off))
	for (uint32_t i = 0; i < h.n_idents; i++)
		hv[i] = nhi_hash_str(iname(w, &w->idents[i]));
	dup = idx_build(INDEX(name), slot, isz[0], hv, h.n_idents, order, w->idents, same_ident_name, w);
	if (dup >= 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_EXISTS, "duplicate identity name '%s'",
			       iname(w, &w->idents[dup]));
		goto out;
	}
	/* by uid: the live records (a tombstone is found by name only) */
	{
		const struct wident *recs = w->idents;
		const uint32_t *refs = order;
		uint32_t k = 0;

		if (w->n_gone > 0) {
			live = calloc(w->n_idents, sizeof(*live));
			lrefs = calloc(w->n_idents, sizeof(*lrefs));
			if (live == NULL || lrefs == NULL) {
				r = NHI_ERR_NOMEM;
				goto out;
			}
			recs = live;
			refs = lrefs;
		}
		for (uint32_t i = 0; i < h.n_idents; i++) {
			if (w->idents[i].h.state == NHI_SNAP_STATE_GONE)
				continue;
			if (live != NULL) {
				live[k] = w->idents[i];
				lrefs[k] = order[i];
			}
			hv[k++] = nhi_hash_u32(w->idents[i].h.uid);
		}
		dup = idx_build(INDEX(uid), slot, isz[1], hv, k, refs, recs, same_ident_uid, w);
		if (dup >= 0) {
			r = nhi_seterr(err, errlen, NHI_ERR_EXISTS, "duplicate uid %u ('%s')",
				       recs[dup].h.uid, iname(w, &recs[dup]));
			goto out;
		}
	}
	for (uint32_t i = 0; i < h.n_groups; i++)
		hv[i] = nhi_hash_str(wstr(w, grecs[i].name));
	dup = idx_build(INDEX(gname), slot, isz[2], hv, h.n_groups, NULL, grecs, same_group_name, w);
	if (dup >= 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_EXISTS, "duplicate group name '%s'",
			       wstr(w, grecs[dup].name));
		goto out;
	}
	for (uint32_t i = 0; i < h.n_groups; i++)
		hv[i] = nhi_hash_u32(grecs[i].gid);
	dup = idx_build(INDEX(gid), slot, isz[3], hv, h.n_groups, NULL, grecs, same_group_gid, w);
	if (dup >= 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_EXISTS, "duplicate gid %u ('%s')",
			       grecs[dup].gid, wstr(w, grecs[dup].name));
		goto out;
	}
	for (uint32_t i = 0; i < h.n_membs; i++)
		hv[i] = nhi_hash_str(wstr(w, mrecs[i].name));
	if (idx_build(INDEX(memb), slot, isz[4], hv, h.n_membs, NULL, mrecs, same_memb, w) >= 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_FORMAT, "internal: duplicate member");
		goto out;
	}
	if (h.flags & NHI_SNAP_F_DELEG) {
		deleg_fill((struct nhi_snap_deleg_rec *)(out->p + h.delegs_off), h.deleg_slots,
			   w->delegs, w->n_delegs, generation);
	}
#undef INDEX
	if (h.flags & NHI_SNAP_F_SHADOW) {
		set_fill((uint32_t *)(out->p + h.shadow_idx_off), h.shadow_idx_size,
			 w->shadow, w->n_shadow);
		set_fill((uint32_t *)(out->p + h.gshadow_idx_off), h.gshadow_idx_size,
			 w->gshadow, w->n_gshadow);
	}

	{
		uint64_t *blocks = (uint64_t *)(out->p + h.blocks_off);
		size_t bsize = (size_t)1 << h.block_shift;

		for (uint32_t b = 0; b < h.n_blocks; b++) {
			size_t at = sizeof(h) + (size_t)b * bsize;
			size_t n = h.blocks_off - at < bsize ? h.blocks_off - at : bsize;

			blocks[b] = nhi_checksum(out->p + at, n, generation + b);
		}
		h.blocks_checksum = nhi_checksum(blocks, (size_t)h.n_blocks * 8, generation);
	}
	h.data_checksum = nhi_checksum(out->p + sizeof(h), off - sizeof(h), generation);
	h.hdr_checksum = nhi_snap_hdr_checksum(&h);
	memcpy(out->p, &h, sizeof(h));
	r = 0;
out:
	/* drop the identity groups and their names added above so publish
	 * can be called again */
	w->n_groups = n_reg_groups;
	w->strings.len = strings_len;
	free(live);
	free(lrefs);
	free(by_gid.slots);
	free(by_name.slots);
	free(pairs);
	free(u32);
	free(grecs);
	free(mrecs);
	free(hv);
	free(slot);
	return r;
}

/* The base beside the delta at path (PATH.delta) into bpath
 * (PATH_MAX bytes): 1, or 0 when path does not end in the suffix. */
static int base_path(const char *path, char *bpath)
{
	size_t n = strlen(path), sl = strlen(NHI_SNAP_DELTA_SUFFIX);

	if (n <= sl || n - sl >= PATH_MAX || strcmp(path + n - sl, NHI_SNAP_DELTA_SUFFIX) != 0)
		return 0;
	memcpy(bpath, path, n - sl);
	bpath[n - sl] = '\0';
	return 1;
}

/* A delta's shadow indexes (NHI_SNAP_F_SHADOW): the uids its identities
 * have in the base at path without its ".delta", and the gids of the
 * base's groups named after them, when that base is of the generation
 * the delta names.  When there is no such base, or a lookup in it fails,
 * the delta gets none and readers ask it by name.  0 or NHI_ERR_NOMEM. */
static int shadow_from_base(struct nhi_snap_writer *w, const char *path)
{
	struct nhi_snap *base = NULL;
	char bpath[PATH_MAX];
	int r = 0;

	w->have_shadow = 0;
	w->n_shadow = w->n_gshadow = 0;
	if (w->n_idents == 0 || !base_path(path, bpath))
		return 0;  /* an empty delta overlays nothing */
	/* trusted as readers require it, and verified block by block: a
	 * damaged base gives no shadow, not a wrong one */
	if (nhi_snap_open(bpath, NHI_SNAP_NO_DELTA | NHI_SNAP_VERIFY_READ | NHI_SNAP_TRUST, &base,
			  NULL, 0) < 0)
		return 0;
	if (nhi_snap_generation(base) != w->base_generation)
		goto out;
	free(w->shadow);
	free(w->gshadow);
	w->shadow = malloc((w->n_idents + 1) * sizeof(*w->shadow));
	w->gshadow = malloc((w->n_idents + 1) * sizeof(*w->gshadow));
	if (w->shadow == NULL || w->gshadow == NULL) {
		r = NHI_ERR_NOMEM;
		goto out;
	}
	w->have_shadow = 1;
	for (size_t i = 0; i < w->n_idents && w->have_shadow; i++) {
		const char *name = iname(w, &w->idents[i]);
		struct nhi_ident id;
		struct nhi_group g;
		int e = nhi_snap_ident_by_name(base, name, &id);

		if (e == 0)
			w->shadow[w->n_shadow++] = id.uid;
		/* a registry group of that name may come back: its gid is no
		 * identity group's (the writer gives it none), so harmless */
		if (e == 0 || e == NHI_ERR_NOTFOUND) {
			e = nhi_snap_group_by_name(base, name, &g);
			if (e == 0)
				w->gshadow[w->n_gshadow++] = g.gid;
		}
		if (e < 0 && e != NHI_ERR_NOTFOUND)
			w->have_shadow = 0;
	}
out:
	nhi_snap_close(base);
	return r;
}

/* Write a built file to path atomically, then mark the file it replaced
 * stale. */
static int put_file(const char *path, const struct buf *out, char *err, size_t errlen)
{
	int oldfd, r;

	/* hold the old file open so it can be marked stale after the rename */
	oldfd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	r = nhi_write_atomic(path, out->p, out->len, 0644, 0, 0, 0, err, errlen);
	if (r == 0 && oldfd >= 0) {
		char magic[8];
		uint32_t one = 1;
		if (pread(oldfd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
		    memcmp(magic, NHI_SNAP_MAGIC, sizeof(magic)) == 0)
			(void)!pwrite(oldfd, &one, sizeof(one), offsetof(struct nhi_snap_hdr, stale));
		NHI_CRASH_POINT("snapshot-old-marked-stale", path);
	}
	if (oldfd >= 0)
		close(oldfd);
	return r;
}

/* Before a delta over the base at bpath is published: set
 * NHI_SNAP_STALE_DELTA in that base's stale word, durably, when it is the
 * base the delta names and carries NHI_SNAP_F_DMARK (readers of a marked
 * base whose word is 0 do not read the delta).  Marked first, so no
 * reader, nor a crash, ever pairs an unmarked base with a delta that
 * holds something.  0, or an error when the mark could not be made (the
 * delta must then not be published). */
static int mark_base(const char *bpath, uint64_t base_generation, char *err, size_t errlen)
{
	struct nhi_snap_hdr h;
	uint32_t word;
	int fd, r = 0;

	fd = open(bpath, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", bpath,
						       strerror(errno));
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, NHI_SNAP_MAGIC, sizeof(h.magic)) != 0 ||
	    h.generation != base_generation ||
	    !nhi_snap_marks_deltas(&h) ||
	    h.stale != 0)
		goto out;  /* not the delta's base, unmarkable, or marked already */
	word = NHI_SNAP_STALE_DELTA;
	if (pwrite(fd, &word, sizeof(word), offsetof(struct nhi_snap_hdr, stale)) !=
	    (ssize_t)sizeof(word) || fdatasync(fd) < 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: marking it for its delta: %s", bpath,
			       strerror(errno));
		goto out;
	}
	NHI_CRASH_POINT("snapshot-base-marked", bpath);
out:
	close(fd);
	return r;
}

/* mark_base for the base beside the delta at path (PATH.delta). */
static int delta_base_mark(const struct nhi_snap_writer *w, const char *path, char *err,
			   size_t errlen)
{
	char bpath[PATH_MAX];

	if (!base_path(path, bpath))
		return 0;  /* no base beside it */
	return mark_base(bpath, w->base_generation, err, errlen);
}

int nhi_snapw_publish(struct nhi_snap_writer *w, const char *path,
		      uint64_t generation, time_t built_at, char *err, size_t errlen)
{
	struct nhi_snap_writer *empty = NULL;
	struct buf out = { NULL, 0, 0 };
	char dpath[PATH_MAX];
	int r;

	if (w->failed)
		return nhi_seterr(err, errlen, w->failed, "snapshot: an earlier add failed: %s",
				  nhi_strerror(w->failed));
	if (!w->delta && snprintf(dpath, sizeof(dpath), "%s%s", path, NHI_SNAP_DELTA_SUFFIX) >=
	    (int)sizeof(dpath))
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s: path too long", path);
	if (w->delta && shadow_from_base(w, path) < 0)
		return nhi_seterr(err, errlen, NHI_ERR_NOMEM, "out of memory");
	r = build(w, generation, built_at, &out, err, errlen);
	if (r == 0 && w->delta)
		r = delta_base_mark(w, path, err, errlen);
	if (r == 0)
		r = put_file(path, &out, err, errlen);
	if (r < 0 || w->delta)
		goto out;
	/* a base: replace the delta with an empty one over it, which marks
	 * the old delta stale, the word readers with a delta watch */
	empty = nhi_snapw_new();
	if (empty == NULL) {
		r = nhi_seterr(err, errlen, NHI_ERR_NOMEM, "out of memory");
		goto out;
	}
	nhi_snapw_set_delta(empty, generation);
	nhi_snapw_set_keys_generation(empty, w->keys_generation);
	out.len = 0;
	r = build(empty, generation, built_at, &out, err, errlen);
	if (r == 0)
		r = put_file(dpath, &out, err, errlen);
out:
	nhi_snapw_free(empty);
	free(out.p);
	return r;
}

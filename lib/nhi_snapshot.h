/* nhi_snapshot.h - the snapshot nhi.cache: format, reader and writer.
 *
 * The snapshot is compiled by nhictl from registry.db after every committed
 * change, written to a temp file, fsync'd and renamed over the old one.  It
 * is immutable once published, world-readable and holds no secrets.  The
 * PAM and NSS modules read it through mmap, with O(1) hash lookups and no
 * locks; every offset is checked against the file size before use.
 *
 * Format version 2 (host byte order; the endian word tells; docs/snapshot-format.md
 * describes it byte by byte):
 *
 *   header  struct nhi_snap_hdr (256 bytes)
 *   idents  the hot part of each identity, what a passwd lookup reads, in
 *           two cache lines or three: struct nhi_snap_ident_rec (32 bytes)
 *           followed by name, gecos, home and shell (NUL-terminated,
 *           lengths in the record), padded to 8 bytes; sorted by name
 *   colds   the rest of each identity: struct nhi_snap_ident_cold (48
 *           bytes) followed by owner, purpose, hosts and services
 *   order   n_idents x uint32_t: file offsets of the records, sorted by name
 *   groups  n_groups x struct nhi_snap_group_rec (identity groups + registry groups)
 *   membs   n_membs  x struct nhi_snap_memb_rec  (user -> supplementary gids)
 *   u32     u32_count x uint32_t pool (group member name offsets, gid lists)
 *   index   five open-addressing tables of struct nhi_snap_bucket {tag, ref}
 *           (ref 0 = empty, linear probing, size a power of two; tag = the
 *           high 32 bits of the key's hash, so a probe skips other keys
 *           without reading their records): ident by name (nhi_hash_str)
 *           and by uid (nhi_hash_u32), ref = the record's file offset;
 *           group by name, group by gid, memb by name, ref = index + 1
 *   strings NUL-terminated strings of groups and memberships; offsets are
 *           relative to strings_off; offset 0 is the empty string; the
 *           section ends with a NUL.
 *
 * Deltas: a commit that changes a few identities need not rewrite the
 * whole file.  nhictl then publishes PATH.delta instead, in the same
 * format: every identity changed since the base PATH was built (the
 * current version, or a tombstone for one deleted) and their identity
 * groups.  A reader maps both (the base alone while a marked base says
 * no delta was published over it: NHI_SNAP_F_DMARK); what the delta holds replaces what the
 * base says about those identities.  A delta applies only to the base
 * whose generation it names; one naming an older base is ignored (the
 * base already holds it), one naming a newer base means the base was
 * just replaced and is mapped again.  Every publication, full or delta,
 * replaces PATH.delta (a full one with an empty delta) and marks the old
 * delta stale, so a reader watching the delta's stale word sees every
 * change.  Registry groups and memberships live only in the base: a
 * change to them makes the next publication a full one.
 *
 * hdr_checksum covers the header with hdr_checksum and stale zeroed;
 * data_checksum covers bytes [hdr_size, file_size).  'stale' is the only
 * word ever written after publication: the writer sets it to 1
 * (NHI_SNAP_STALE_REPLACED) in the OLD file once the new one has been
 * renamed into place, so readers that have the old file mapped see at
 * their next lookup that they must remap; and in a base with
 * NHI_SNAP_F_DMARK it sets NHI_SNAP_STALE_DELTA before the first delta
 * over that base is published (so a reader of a base whose word is 0
 * knows there is no delta to read).
 */
#ifndef NHI_SNAPSHOT_H
#define NHI_SNAPSHOT_H

#include <stdint.h>
#include <stddef.h>
#include <time.h>

#define NHI_SNAP_MAGIC "NHISNAP"   /* 8 bytes with the NUL */
#define NHI_SNAP_VERSION 2
#define NHI_SNAP_ENDIAN 0x01020304u

enum nhi_kind { NHI_KIND_SERVICE = 0, NHI_KIND_AGENT = 1 };
enum nhi_state {
	NHI_STATE_ACTIVE = 0,
	NHI_STATE_SUSPENDED = 1,
	NHI_STATE_ORPHANED = 2,
	NHI_STATE_RETIRED = 3,
};
const char *nhi_kind_str(int kind);     /* "service", "agent" */
const char *nhi_state_str(int state);   /* "active", ... */
int nhi_kind_parse(const char *s);      /* -1 if unknown */
int nhi_state_parse(const char *s);     /* -1 if unknown */

struct nhi_snap_hdr {
	char magic[8];
	uint32_t version;
	uint32_t hdr_size;
	uint32_t endian;
	volatile uint32_t stale;
	uint64_t generation;
	int64_t built_at;
	uint64_t file_size;
	uint64_t data_checksum;
	uint64_t hdr_checksum;
	uint32_t n_idents, idents_off;
	uint32_t idents_size, order_off;   /* bytes of the idents section; the order table */
	uint32_t colds_size, colds_off;    /* bytes and offset of the colds section */
	uint32_t n_groups, groups_off;
	uint32_t n_membs, membs_off;
	uint32_t u32_count, u32_off;
	uint32_t strings_size, strings_off;
	uint32_t name_idx_size, name_idx_off;  /* sizes in buckets */
	uint32_t uid_idx_size, uid_idx_off;
	uint32_t gname_idx_size, gname_idx_off;
	uint32_t gid_idx_size, gid_idx_off;
	uint32_t memb_idx_size, memb_idx_off;
	/* deltas (below): the generation of the base a delta overlays (0 in
	 * a base), NHI_SNAP_F_*, and in a base the number of registry groups
	 * at the start of the groups section (the rest are identity groups) */
	uint64_t base_generation;
	uint32_t flags;
	uint32_t n_reg_groups;
	/* the oldest key index (nhictl's authorized_keys.idx) and password
	 * file (nhi.shadow, written with it) that go with this file: nhictl
	 * rewrites them only when credentials change; 0 (a writer before
	 * this field) = this file's generation */
	uint64_t keys_generation;
	/* block checksums, for readers that verify only what they read
	 * (NHI_SNAP_VERIFY_READ): the data [hdr_size, blocks_off) in blocks
	 * of 1 << block_shift bytes (the last one may be shorter); at
	 * blocks_off, the last section, n_blocks u64 checksums, block b's
	 * nhi_checksum(block, its length, generation + b); blocks_checksum =
	 * nhi_checksum(that table, 8 * n_blocks, generation).  n_blocks 0 (a
	 * writer before these fields): no table */
	uint32_t blocks_off, n_blocks;
	uint32_t block_shift, reserved32;
	uint64_t blocks_checksum;
	/* in a delta with NHI_SNAP_F_SHADOW: the shadow indexes, sets of the
	 * uids its identities have in its base and of the gids of the base
	 * groups named after them (see NHI_SNAP_F_SHADOW) */
	uint32_t shadow_idx_size, shadow_idx_off;
	uint32_t gshadow_idx_size, gshadow_idx_off;
	/* with NHI_SNAP_F_DELEG (a base only): the n_delegs delegation edges
	 * in an open-addressing table of deleg_slots slots (a power of two,
	 * more than n_delegs) of struct nhi_snap_deleg_rec at delegs_off,
	 * placed by linear probing from nhi_hash_edge(FROM's name, to_uid); a
	 * slot with from_len == 0 is empty.  Ignored without the flag (zero
	 * from older writers; NHI_SNAP_F_DELEG_V1's are ignored too). */
	uint32_t n_delegs, deleg_slots;
	uint32_t delegs_off, reserved_deleg;
	/* with NHI_SNAP_F_CONF (a base only): struct nhi_snap_conf_rec and
	 * its strings, conf_size bytes at conf_off */
	uint32_t conf_off, conf_size;
	uint8_t reserved[256 - 64 - 24 * 4 - 24 - 24 - 16 - 16 - 8];
};

#define NHI_SNAP_BLOCK_SHIFT 14       /* nhictl's blocks: 16 KiB */
#define NHI_SNAP_BLOCK_SHIFT_MIN 12
#define NHI_SNAP_BLOCK_SHIFT_MAX 24

/* A base records n_reg_groups, so a delta may overlay it. */
#define NHI_SNAP_F_BASE  0x1
/* The file is a delta, PATH.delta: the identities changed since the base
 * of generation base_generation (their identity groups with them), and
 * a tombstone (state NHI_SNAP_STATE_GONE, in the name index only) for
 * each one deleted. */
#define NHI_SNAP_F_DELTA 0x2
#define NHI_SNAP_STATE_GONE 4   /* in a delta only: the identity is gone */
/* A delta that carries shadow indexes: for each of its identities (and
 * tombstones) that its base also has, the uid the base's record has
 * (shadow_idx), and the gid of the base's group of that name, if there is
 * one (gshadow_idx).  Each is a set of *_idx_size u32 slots (a power of
 * two), linear probing from nhi_hash_u32(v) & (size - 1); a slot holds
 * v + 1, 0 = empty.  A lookup that the base answers with an identity or
 * an identity group asks these sets, not the delta's name index, whether
 * the delta replaced it: no name to hash.  Without the flag (a writer
 * before it, or no base to read) readers ask by name; gshadow_idx_size 0
 * (no gid set) does the same for groups. */
#define NHI_SNAP_F_SHADOW 0x4
/* A base that carries the delegation edges (n_delegs, delegs_off,
 * delegs_off): every delegation FROM -> TO of the registry whose two
 * identities exist, keyed by FROM's name and TO's uid, with its expiry
 * and what the check needs of FROM (uid, state, expiry), each slot with
 * its own checksum.  Whether an edge is
 * live is decided at use (lib/nhi_policy.c).  A base without the flag (a
 * writer before it) has no edges: every identity-to-identity use is then
 * "no-delegation".  A delta never carries edges (a change of a delegation
 * makes the next publication a full one); readers take them from the
 * base, and identity states from the overlay, so a suspension that a
 * delta carries cuts every path through that identity at once.  Readers
 * that know nothing of the flag ignore the section (it lies before the
 * block table, inside the checksummed data). */
#define NHI_SNAP_F_DELEG 0x10
/* The first delegation table (16-byte slots keyed by the uid pair, no
 * slot checksums), of writers from before NHI_SNAP_F_DELEG: readers
 * ignore it (no edges: "no-delegation" until the next publication);
 * writers never set it. */
#define NHI_SNAP_F_DELEG_V1 0x8
#define NHI_SNAP_DELTA_SUFFIX ".delta"
/* A base that records the settings nss_nhi takes from nhi.conf (the
 * section at conf_off): the file the module reads (NHI_CONF, else
 * /etc/nhi/nhi.conf), its identity when nhictl read it (device, inode,
 * size, mtime, ctime; or "missing"), and what nhi_conf_load_module()
 * made of it (cache_path, default_shell, nologin_shell, shadow_file,
 * enumerate).  A module whose stat of that file gives the same identity
 * takes the settings from here and does not open, check, read and parse
 * nhi.conf (most of its first lookup's system calls): nothing but root
 * can change a file without moving its ctime, and a file put in its
 * place has another inode.  The section lies before the block table,
 * inside the checksummed data; readers that know nothing of the flag
 * ignore it. */
#define NHI_SNAP_F_CONF 0x20
/* A base whose writer marks it before publishing a delta over it: it
 * sets NHI_SNAP_STALE_DELTA in the base's stale word (and makes that
 * durable) before the delta is renamed into place.  So while the word is
 * still 0, no delta with anything in it has been published over this
 * base (PATH.delta is the empty one of its full publication, or one for
 * an older base): readers then neither open nor map the delta and watch
 * the base's word, which the next delta's mark or the next full
 * publication turns non-zero.  A base without the flag (a writer before
 * it) is never marked: readers open its delta as before. */
#define NHI_SNAP_F_DMARK 0x40
/* The bits of the stale word: the file was replaced (both kinds); a
 * delta has been published over this base (NHI_SNAP_F_DMARK bases). */
#define NHI_SNAP_STALE_REPLACED 0x1
#define NHI_SNAP_STALE_DELTA    0x2
/* 1 for a base its writer marks before a delta over it (the reader's
 * test before skipping the delta, and the writer's before marking). */
static inline int nhi_snap_marks_deltas(const struct nhi_snap_hdr *h)
{
	return (h->flags & (NHI_SNAP_F_BASE | NHI_SNAP_F_DMARK)) ==
	       (NHI_SNAP_F_BASE | NHI_SNAP_F_DMARK);
}
#define NHI_SNAP_CONF_MISSING   0x1   /* there was no such file: the defaults */
#define NHI_SNAP_CONF_ENUMERATE 0x2
#define NHI_SNAP_CONF_NSTR 5          /* conf path, cache_path, default_shell,
				       * nologin_shell, shadow_file */
struct nhi_snap_conf_rec {
	uint64_t dev, ino, size;
	int64_t mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
	uint32_t flags;                      /* NHI_SNAP_CONF_* */
	uint16_t len[NHI_SNAP_CONF_NSTR];    /* each string's length; the strings
					      * follow, each NUL-terminated */
	uint16_t pad;
};


/* The strings of an identity, in this order: the first NHI_SNAP_NHOT in
 * its hot record, the others in its cold record. */
enum {
	NHI_SNAP_S_NAME, NHI_SNAP_S_GECOS, NHI_SNAP_S_HOME, NHI_SNAP_S_SHELL,
	NHI_SNAP_S_OWNER, NHI_SNAP_S_PURPOSE, NHI_SNAP_S_HOSTS, NHI_SNAP_S_SERVICES,
	NHI_SNAP_NSTR
};
#define NHI_SNAP_NHOT 4
#define NHI_SNAP_STR_MAX 65535  /* longest string of an identity */

/* The hot record of an identity: this, then name, gecos, home and shell
 * (len[i] bytes and a NUL each), zero padding to a multiple of 8 bytes.
 * 'cold' is the file offset of its cold record. */
struct nhi_snap_ident_rec {
	uint32_t cold;
	uint32_t uid, gid;
	uint8_t kind, state, reserved8[2];
	int64_t expires;                   /* 0 = never (not allowed by nhictl) */
	uint16_t len[NHI_SNAP_NHOT];       /* string lengths, without the NUL */
};

/* The cold record: this, then owner, purpose, hosts and services, zero
 * padding as above. */
struct nhi_snap_ident_cold {
	uint16_t len[NHI_SNAP_NSTR - NHI_SNAP_NHOT];
	int64_t created;
	int64_t review_interval, review_due; /* 0 = no review schedule */
	int64_t orphaned_since;            /* 0 = not orphaned */
	int64_t last_used;                 /* 0 = never seen */
};

/* A bucket of an index: ref 0 is empty. */
struct nhi_snap_bucket {
	uint32_t tag;                      /* hash >> 32 */
	uint32_t ref;                      /* idents: file offset; others: index + 1 */
};

struct nhi_snap_group_rec {
	uint32_t name, gid;
	uint32_t members_off, n_members;   /* into the u32 pool: string offsets */
};

struct nhi_snap_memb_rec {
	uint32_t name;                     /* user name */
	uint32_t gids_off, n_gids;         /* into the u32 pool: gids */
	uint32_t reserved;
};

/* A delegation edge (80 bytes), a slot of the delegation table: FROM may
 * act through TO until expires (0 = never; nhictl always writes one).
 * Its slot: linear probing from nhi_hash_edge(from_name, to_uid).  The
 * record is the slot, and it carries what the PAM_RUSER check needs of
 * FROM as the same base's record has it (uid, state, expiry), so the
 * check reads one slot (rarely a few) and nothing else of the base; a
 * delta's record of FROM, when there is one, takes precedence.  Each
 * slot (empty ones too) has its own checksum, nhi_checksum(its first 72
 * bytes, NHI_SNAP_DELEG_SEED(generation, slot)): under
 * NHI_SNAP_VERIFY_READ a lookup verifies the slots it reads, not their
 * 16 KiB block.  from_len 0: an empty slot. */
struct nhi_snap_deleg_rec {
	uint32_t from_uid, to_uid;
	int64_t expires;
	int64_t from_expires;              /* FROM's expiry (0 = never) */
	uint8_t from_state;                /* FROM's state (NHI_STATE_*) */
	uint8_t from_len;                  /* strlen(from_name), 1..NHI_SNAP_DELEG_NAME_MAX */
	uint16_t reserved0;                /* zero */
	uint32_t reserved1;                /* zero */
	char from_name[40];                /* FROM's name, NUL-padded */
	uint64_t checksum;
};
#define NHI_SNAP_DELEG_NAME_MAX 39
#define NHI_SNAP_DELEG_SUMMED 72       /* the bytes a slot's checksum covers */
#define NHI_SNAP_DELEG_SEED(gen, slot) ((gen) + (((uint64_t)(slot) + 1) << 32))

/* ---- reader (libc only; used by PAM, NSS and nhictl) ---------------- */

/* A view of one identity; the pointers point into the mapping and stay
 * valid until the nhi_snap it came from is closed. */
struct nhi_ident {
	const char *name, *gecos, *home, *shell, *owner, *purpose;
	const char *hosts, *services;
	/* strlen() of name, gecos, home and shell (what NSS copies); the
	 * writer ignores them */
	size_t name_len, gecos_len, home_len, shell_len;
	uint32_t uid, gid;
	int kind, state;
	int64_t created, expires, review_interval, review_due;
	int64_t orphaned_since, last_used;
};

/* The passwd view of an identity: its hot record only, what NSS copies.
 * name, gecos, home and shell lie back to back in the mapping, in that
 * order, each ended by its NUL (checked), so one copy of
 * nhi_pw_strings_len() bytes from 'name' takes all four.  Valid until the
 * nhi_snap it came from is closed. */
struct nhi_pw {
	const char *name;
	uint32_t name_len, gecos_len, home_len, shell_len;
	uint32_t uid, gid;
	int state;
	int64_t expires;                   /* 0: never */
};
static inline const char *nhi_pw_gecos(const struct nhi_pw *p)
{
	return p->name + p->name_len + 1;
}
static inline const char *nhi_pw_home(const struct nhi_pw *p)
{
	return nhi_pw_gecos(p) + p->gecos_len + 1;
}
static inline const char *nhi_pw_shell(const struct nhi_pw *p)
{
	return nhi_pw_home(p) + p->home_len + 1;
}
/* The four strings with their NULs. */
static inline size_t nhi_pw_strings_len(const struct nhi_pw *p)
{
	return (size_t)p->name_len + p->gecos_len + p->home_len + p->shell_len + 4;
}

struct nhi_group {
	const char *name;
	uint32_t gid;
	uint32_t n_members;
	const uint32_t *members_;          /* private: use nhi_snap_group_member() */
	const void *file_;                 /* private: the file (base or delta) it is in */
};

struct nhi_snap;                           /* opaque; owns the mapping */

#define NHI_SNAP_VERIFY 0x1  /* verify data_checksum (O(size)); nhictl does */
#define NHI_SNAP_TRUST  0x2  /* require owner root/euid and no group/other write */
/* Verify what identity lookups read, block by block: at open only the
 * header, the block table and a delta (small by design: at most
 * snapshot_delta_max identities); then nhi_snap_ident_by_name, _by_uid
 * and _at check the checksum of every block of the base they read (the
 * index buckets probed, the records looked at) the first time they read
 * it, and fail with NHI_ERR_FORMAT on a mismatch.  O(1) per lookup where
 * NHI_SNAP_VERIFY is O(file size): what pam_nhi and `nhictl check` and
 * `authorized-keys` use.  Other lookups (groups, memberships, the pw_*
 * ones) are not verified.  A file without a block table, or one of at
 * most NHI_SNAP_VERIFY_READ_WHOLE blocks, is verified whole at open. */
#define NHI_SNAP_VERIFY_READ 0x4
#define NHI_SNAP_VERIFY_READ_WHOLE 8
/* Map the base alone, even when a delta lies beside it (the writer reads
 * a delta's base this way). */
#define NHI_SNAP_NO_DELTA 0x8

/* Map 'path' and, when there is one, its delta 'path'.delta (same flags;
 * a delta that is corrupt or untrusted fails the open like the base).
 * Returns 0 and *out, or NHI_ERR_NOTFOUND (no file),
 * NHI_ERR_IO, NHI_ERR_PERM, NHI_ERR_VERSION, NHI_ERR_FORMAT (truncated,
 * bad magic, bad checksum, an offset or size out of bounds); err says which. */
int nhi_snap_open(const char *path, int flags, struct nhi_snap **out,
		  char *err, size_t errlen);
void nhi_snap_close(struct nhi_snap *s);
/* The generation of the base at 'path' when a delta may overlay it: it
 * passes nhi_snap_open's checks of the header and the layout (not the
 * data checksum) and is a base with NHI_SNAP_F_BASE.  0, or a negative
 * code with err. */
int nhi_snap_base_generation(const char *path, uint64_t *gen, char *err, size_t errlen);

/* 1 when the writer has replaced the base or the delta, or (with no
 * delta mapped) published a delta over the base (memory reads). */
int nhi_snap_stale(const struct nhi_snap *s);
/* The one word a reader may watch instead (any non-zero value: map
 * again): the delta's stale word when a delta is mapped (every
 * publication replaces the delta), else the base's (which the next
 * delta's mark or the next full publication sets). */
const volatile uint32_t *nhi_snap_stale_word(const struct nhi_snap *s);
/* 1 when the files at the paths are no longer the ones mapped (stats). */
int nhi_snap_replaced(const struct nhi_snap *s);

/* The base's header; nhi_snap_delta_header() the delta's, or NULL when
 * no delta applies (none, or one for an older base). */
const struct nhi_snap_hdr *nhi_snap_header(const struct nhi_snap *s);
const struct nhi_snap_hdr *nhi_snap_delta_header(const struct nhi_snap *s);
/* The generation of what is served: the delta's when one applies. */
uint64_t nhi_snap_generation(const struct nhi_snap *s);
/* The oldest key index that goes with what is served (keys_generation,
 * or the generation where that is 0). */
uint64_t nhi_snap_keys_generation(const struct nhi_snap *s);
/* What hdr_checksum must be for a header: its checksum with
 * hdr_checksum and stale taken as 0. */
uint64_t nhi_snap_hdr_checksum(const struct nhi_snap_hdr *h);
/* Bounds for nhi_snap_ident_at() and nhi_snap_group_at(): the base's
 * records followed by the delta's.  Some indexes below the bound are
 * NHI_ERR_NOTFOUND (a base record the delta replaces, a tombstone):
 * enumerations skip them. */
uint32_t nhi_snap_n_idents(const struct nhi_snap *s);
uint32_t nhi_snap_n_groups(const struct nhi_snap *s);

/* Lookups return 0, NHI_ERR_NOTFOUND or NHI_ERR_FORMAT (a record that
 * points outside the file).  They include retired identities; NSS skips
 * them, PAM reports them as retired. */
int nhi_snap_ident_by_name(const struct nhi_snap *s, const char *name, struct nhi_ident *out);
int nhi_snap_ident_by_uid(const struct nhi_snap *s, uint32_t uid, struct nhi_ident *out);
int nhi_snap_ident_at(const struct nhi_snap *s, uint32_t i, struct nhi_ident *out);
/* The same lookups reading only an identity's hot record (struct
 * nhi_pw): what NSS's passwd needs, and the cheapest answer. */
int nhi_snap_pw_by_name(const struct nhi_snap *s, const char *name, struct nhi_pw *out);
int nhi_snap_pw_by_uid(const struct nhi_snap *s, uint32_t uid, struct nhi_pw *out);
int nhi_snap_pw_at(const struct nhi_snap *s, uint32_t i, struct nhi_pw *out);
/* nhi_snap_pw_by_name, with NHI_SNAP_VERIFY_READ verifying what it reads
 * (the index buckets and the hot records; NHI_ERR_FORMAT on a mismatch):
 * the cheapest verified answer to "who is this, in which state, until
 * when" (pam_nhi's check of PAM_RUSER). */
int nhi_snap_pw_by_name_verified(const struct nhi_snap *s, const char *name, struct nhi_pw *out);
int nhi_snap_group_by_name(const struct nhi_snap *s, const char *name, struct nhi_group *out);
int nhi_snap_group_by_gid(const struct nhi_snap *s, uint32_t gid, struct nhi_group *out);
int nhi_snap_group_at(const struct nhi_snap *s, uint32_t i, struct nhi_group *out);
/* Member i of a group (a user name), or NULL if out of bounds. */
const char *nhi_snap_group_member(const struct nhi_snap *s, const struct nhi_group *g, uint32_t i);
/* The supplementary gids of a user (from registry groups); *gids points
 * into the mapping.  NHI_ERR_NOTFOUND when the user is in no group. */
int nhi_snap_user_gids(const struct nhi_snap *s, const char *user,
		       const uint32_t **gids, uint32_t *n);

/* A delegation edge as read. */
struct nhi_deleg {
	uint32_t from_uid, to_uid;
	int64_t expires;                   /* 0: never */
};
/* 1 when the base carries the delegation section (NHI_SNAP_F_DELEG). */
int nhi_snap_has_delegations(const struct nhi_snap *s);
/* The base's edge FROM -> TO by their uids (FROM's name from the base's
 * record; no overlay): 0, NHI_ERR_NOTFOUND (none, or no section),
 * NHI_ERR_FORMAT (with NHI_SNAP_VERIFY_READ, a slot or block that fails
 * its checksum: fail closed). */
int nhi_snap_delegation(const struct nhi_snap *s, uint32_t from_uid, uint32_t to_uid,
			struct nhi_deleg *out);
/* What pam_nhi's PAM_RUSER check asks: the edge from the identity named
 * FROM_NAME to TO_UID, and FROM as the snapshot (base and delta) has it
 * now (name, uid, state, expiry; the other fields of *from zero).  FROM's
 * record is the delta's when the delta has FROM_NAME (its uid must be
 * the edge's), else the slot's copy of the base's (unless the delta
 * replaces that uid: renamed or gone).  0; NHI_ERR_NOTFOUND (no such
 * edge here: the caller looks FROM up the ordinary way to tell a human,
 * an unregistered account and an identity without the edge apart);
 * NHI_ERR_FORMAT (a damaged slot: fail closed).  One hash, one probe of
 * 80-byte slots, each verified alone under NHI_SNAP_VERIFY_READ. */
int nhi_snap_ruser_delegation(const struct nhi_snap *s, const char *from_name, uint32_t to_uid,
			      struct nhi_deleg *g, struct nhi_pw *from);
/* How many edges the base carries. */
uint32_t nhi_snap_n_delegations(const struct nhi_snap *s);

/* The nhi.conf settings a base records (NHI_SNAP_F_CONF), as read: the
 * strings point into the mapping (valid while s is open). */
struct nhi_snap_settings {
	uint32_t flags;                    /* NHI_SNAP_CONF_* */
	uint64_t dev, ino, size;
	int64_t mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
	const char *conf_path, *cache_path, *default_shell, *nologin_shell, *shadow_file;
};
/* 0 and *out; NHI_ERR_NOTFOUND (the base records none); NHI_ERR_FORMAT
 * (the section lies outside the file, or a string's length disagrees
 * with its NUL). */
int nhi_snap_settings(const struct nhi_snap *s, struct nhi_snap_settings *out);

/* ---- writer (nhictl only; libnhiadmin) ------------------------------ */

struct nhi_snap_writer;
struct nhi_snap_writer *nhi_snapw_new(void);
void nhi_snapw_free(struct nhi_snap_writer *w);
/* Copies everything it is given.  Strings may be NULL (= ""). */
int nhi_snapw_add_ident(struct nhi_snap_writer *w, const struct nhi_ident *id);
int nhi_snapw_add_group(struct nhi_snap_writer *w, const char *name, uint32_t gid,
			const char *const *members, size_t n_members);
/* A delegation edge FROM -> TO (uids) for a base: NHI_ERR_INVAL for
 * from == to; publish refuses a duplicate pair (NHI_ERR_EXISTS), any
 * edge in a delta (NHI_ERR_INVAL), and an edge whose FROM is not among
 * the identities added or has a name longer than NHI_SNAP_DELEG_NAME_MAX
 * (NHI_ERR_INVAL): it copies FROM's name, state and expiry into the
 * slot.  Every base nhictl writes carries the
 * section (NHI_SNAP_F_DELEG), empty or not. */
int nhi_snapw_add_delegation(struct nhi_snap_writer *w, uint32_t from_uid, uint32_t to_uid,
			     int64_t expires);
/* A tombstone for a delta: the identity NAME is gone. */
int nhi_snapw_add_gone(struct nhi_snap_writer *w, const char *name);
/* Make the file a delta over the base of generation base_generation: it
 * holds the identities added (their groups with them, never one whose
 * name or gid a registry group has) but not the registry groups, which
 * the writer is still given so it can tell.  Without this call the file
 * is a base (NHI_SNAP_F_BASE); a base may hold no tombstone. */
void nhi_snapw_set_delta(struct nhi_snap_writer *w, uint64_t base_generation);
/* The header's keys_generation (default 0); a base's empty delta gets the
 * same. */
void nhi_snapw_set_keys_generation(struct nhi_snap_writer *w, uint64_t keys_generation);
/* The settings record of the nhi.conf at 'path' as nss_nhi would take it:
 * m is what nhi_conf_load_module() made of the file, sb its stat (NULL:
 * there was no such file, NHI_SNAP_CONF_MISSING).  The strings of *st
 * point into path and m. */
struct nhi_conf;
struct stat;
void nhi_snap_settings_of(struct nhi_snap_settings *st, const char *path, const struct stat *sb,
			  const struct nhi_conf *m);
/* The nhi.conf settings a base records (NHI_SNAP_F_CONF; copied; a
 * delta ignores them).  NHI_ERR_RANGE: a string longer than 4095. */
int nhi_snapw_set_settings(struct nhi_snap_writer *w, const struct nhi_snap_settings *st);
/* The size of the checksummed blocks, 1 << shift bytes (default
 * NHI_SNAP_BLOCK_SHIFT); NHI_ERR_INVAL outside NHI_SNAP_BLOCK_SHIFT_MIN..MAX. */
int nhi_snapw_set_block_shift(struct nhi_snap_writer *w, unsigned shift);
/* Build and publish atomically: write PATH.tmp.XXXXXX in the same
 * directory (mode 0644), fsync, rename over PATH, fsync the directory, then
 * mark the previous file stale.  A base is followed by an empty delta over
 * it, published the same way at PATH.delta (so every publication replaces
 * the delta: the old one's stale word turns 1).  Every identity gets its own group (name =
 * identity name, gid = identity gid) unless a group with that gid was
 * added.  Returns 0 or a negative code with err. */
int nhi_snapw_publish(struct nhi_snap_writer *w, const char *path,
		      uint64_t generation, time_t built_at, char *err, size_t errlen);

#endif

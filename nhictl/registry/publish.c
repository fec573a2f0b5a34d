/* publish.c - a committed change reaches the modules: reg_commit() bumps
 * the generation, commits and publishes; the snapshot is compiled from
 * the committed state (identities, groups, delegation edges) and written
 * atomically, as a delta while few identities changed, with the key index,
 * the password file and registered.uids beside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "nhi_conf.h"
#include "nhi_file.h"
#include "internal.h"

int reg_commit(struct nhictl *x)
{
	int r;

	/* the run's pending intents (their events are in this transaction) */
	r = reg_intent_clear(x, NULL, NULL);
	if (r == 0)
		r = reg_exec(x, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
			     "WHERE key = 'generation'", "");
	if (r == 0)
		r = reg_exec_plain(x, "COMMIT");
	if (r < 0) {
		reg_rollback(x);
		return r;
	}
	x->changed = 1;
	r = reg_publish(x, 0, NULL);
	if (r < 0)
		nerr(x, 0, "the change is committed but the snapshot was not published; "
		     "run 'nhictl publish'");
	return r;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

static int add_groups(struct nhictl *x, struct nhi_snap_writer *w)
{
	sqlite3_stmt *g = NULL, *m = NULL;
	const char **members = NULL;
	char **copies = NULL;
	size_t n = 0, cap = 0, i;
	int r;

	g = reg_prep(x, "SELECT id, name, gid FROM grp ORDER BY name", "");
	m = reg_prep(x, "SELECT member FROM grp_member WHERE grp_id = ? ORDER BY member", "");
	if (g == NULL || m == NULL) {
		r = NHI_ERR_DB;
		goto out;
	}
	while ((r = sqlite3_step(g)) == SQLITE_ROW) {
		sqlite3_reset(m);
		sqlite3_bind_int64(m, 1, sqlite3_column_int64(g, 0));
		n = 0;
		while ((r = sqlite3_step(m)) == SQLITE_ROW) {
			if (n == cap) {
				size_t nc = cap ? 2 * cap : 16;
				char **nco = realloc(copies, nc * sizeof(*copies));

				if (nco == NULL) {
					r = NHI_ERR_NOMEM;
					goto out;
				}
				copies = nco;
				cap = nc;
			}
			copies[n] = strdup(col_text(m, 0));
			if (copies[n] == NULL) {
				r = NHI_ERR_NOMEM;
				goto out;
			}
			n++;
		}
		if (r != SQLITE_DONE) {
			r = reg_dberr(x);
			goto out;
		}
		free(members);
		members = calloc(n ? n : 1, sizeof(*members));
		if (members == NULL) {
			r = NHI_ERR_NOMEM;
			goto out;
		}
		for (i = 0; i < n; i++)
			members[i] = copies[i];
		r = nhi_snapw_add_group(w, col_text(g, 1), (uint32_t)sqlite3_column_int64(g, 2),
					members, n);
		for (i = 0; i < n; i++)
			free(copies[i]);
		n = 0;
		if (r < 0)
			goto out;
	}
	r = r == SQLITE_DONE ? 0 : reg_dberr(x);
out:
	for (i = 0; i < n; i++)
		free(copies[i]);
	free(copies);
	free(members);
	sqlite3_finalize(g);
	sqlite3_finalize(m);
	return r;
}

/* The generation of the base snapshot at the cache path when it is one a
 * delta may overlay (whole, as readers check it, with NHI_SNAP_F_BASE),
 * else -1: a missing, truncated or damaged base is compiled again in
 * full, not overlaid. */
static int64_t base_on_disk(struct nhictl *x)
{
	char err[PATH_MAX + 128];
	uint64_t gen;

	if (nhi_snap_base_generation(x->conf.cache_path, &gen, err, sizeof(err)) < 0 ||
	    gen > INT64_MAX)
		return -1;
	return (int64_t)gen;
}

/* One identity of the registry into w. */
static int add_one(struct nhictl *x, struct nhi_snap_writer *w, const struct ident *id)
{
	struct nhi_ident ni;
	int r;

	ident_to_nhi(id, &ni);
	if (ni.kind < 0 || ni.state < 0)
		return nerr(x, NHI_ERR_FORMAT, "%s: identity %s has a bad kind or state",
			    x->conf.registry_path, id->name);
	r = nhi_snapw_add_ident(w, &ni);
	return r < 0 ? nerr(x, r, "snapshot: %s", nhi_strerror(r)) : 0;
}

/* Every identity of the registry into w (a full snapshot), or (pending)
 * the identities changed since the base (a delta): each one's current
 * version, or a tombstone for one no longer in the registry. */
static int add_idents(struct nhictl *x, struct nhi_snap_writer *w, int pending)
{
	sqlite3_stmt *st;
	int r;

	st = pending ? reg_prep(x, "SELECT name FROM snap_pending WHERE name != '' ORDER BY seq", "")
		     : reg_prep(x, "SELECT " IDENT_COLS " FROM identity ORDER BY name", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		char name[sizeof(((struct ident *)0)->name)];
		struct ident id;

		if (!pending) {
			r = ident_from_row(x, st, &id);
		} else {
			col_cpy(name, sizeof(name), st, 0);
			r = ident_load(x, name, &id);
			if (r == NHI_ERR_NOTFOUND) {
				r = nhi_snapw_add_gone(w, name);
				if (r < 0)
					r = nerr(x, r, "snapshot: %s", nhi_strerror(r));
				if (r < 0)
					goto out;
				continue;
			}
		}
		if (r == 0)
			r = add_one(x, w, &id);
		if (r < 0)
			goto out;
	}
	r = r == SQLITE_DONE ? 0 : reg_dberr(x);
out:
	sqlite3_finalize(st);
	return r;
}

/* registered.uids (lib/nhi_policy.c): "UID NAME" of every identity
 * outside uid_min..uid_max (adopted accounts), so that pam_nhi knows them
 * as service accounts when the snapshot is missing or damaged.  Written
 * like the snapshot, before it; left alone when unchanged. */
static int registered_write(struct nhictl *x)
{
	char err[512], *buf = NULL, old[4096];
	sqlite3_stmt *st;
	size_t len = 0;
	ssize_t n = -1;
	FILE *f;
	int r, fd;

	f = open_memstream(&buf, &len);
	if (f == NULL)
		return nerr(x, NHI_ERR_NOMEM, "out of memory");
	st = reg_prep(x, "SELECT uid, name FROM identity WHERE uid < ? OR uid > ? ORDER BY uid",
		      "uu", x->conf.uid_min, x->conf.uid_max);
	if (st == NULL) {
		fclose(f);
		free(buf);
		return NHI_ERR_DB;
	}
	fputs("# nhi: registered identities outside uid_min..uid_max (UID NAME)\n", f);
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		fprintf(f, "%lld %s\n", (long long)sqlite3_column_int64(st, 0),
			sqlite3_column_text(st, 1));
	r = r == SQLITE_DONE ? 0 : reg_dberr(x);
	sqlite3_finalize(st);
	if (fclose(f) != 0 && r == 0)
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
	fd = open(x->conf.registered_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd >= 0) {
		n = read(fd, old, sizeof(old));
		close(fd);
	}
	if (r == 0 && !(n >= 0 && (size_t)n == len && memcmp(old, buf, len) == 0)) {
		r = nhi_write_atomic(x->conf.registered_path, buf, len, 0644, 0, 0, 0, err,
				     sizeof(err));
		if (r < 0)
			nerr(x, r, "%s", err);
	}
	free(buf);
	return r;
}

/* ---- what nss_nhi reads of nhi.conf, recorded in the base ------------- */

/* A file changed this recently may change again within its timestamps'
 * granularity without a new ctime (git's "racy" index entries): its
 * settings are not recorded (the module then reads the file). */
#define CONF_RACY_NS 100000000LL

static int same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* stat of 'path': 1 (st filled), 0 (no such file), -1 */
static int conf_stat(const char *path, struct stat *st)
{
	if (stat(path, st) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/* nss_nhi's settings as it would read them now (nhi_conf_load_module of
 * the file it reads) and that file's identity, into *st (strings in *m):
 * 1; 0 when they cannot be recorded (the file changed while read, just
 * changed, or could not be looked at): the module reads the file then. */
static int module_settings(struct nhi_conf *m, struct nhi_snap_settings *st)
{
	const char *path = nhi_conf_default_path();
	struct stat a, b;
	struct timespec now;
	int ha, hb;

	clock_gettime(CLOCK_REALTIME, &now);
	ha = conf_stat(path, &a);
	if (ha < 0 || nhi_conf_load_module(m, path) < 0 || m->cache_path[0] == '\0')
		return 0;
	hb = conf_stat(path, &b);
	if (hb != ha || (ha == 1 && (!same_stat(&a, &b) ||
				     ts_ns(&a.st_ctim) > ts_ns(&now) - CONF_RACY_NS ||
				     ts_ns(&a.st_mtim) > ts_ns(&now) - CONF_RACY_NS)))
		return 0;
	nhi_snap_settings_of(st, path, ha == 1 ? &a : NULL, m);
	return 1;
}

int reg_snap_full(struct nhictl *x)
{
	return reg_exec(x, "INSERT INTO snap_pending (name) SELECT '' WHERE " SNAP_NO_FULL, "");
}

int reg_publish_behind(struct nhictl *x)
{
	struct nhi_snap *s = NULL;
	char err[PATH_MAX + 128];
	int64_t gen = 0;
	int behind = 1;

	if (reg_int(x, &gen, 0, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'",
		    "") < 0)
		return NHI_ERR_DB;
	if (nhi_snap_open(x->conf.cache_path, 0, &s, err, sizeof(err)) == 0) {
		behind = nhi_snap_generation(s) < (uint64_t)gen;
		nhi_snap_close(s);
	}
	return behind ? reg_publish(x, 0, NULL) : 0;
}

int reg_publish(struct nhictl *x, int full, uint64_t *generation)
{
	struct nhi_snap_writer *w = NULL;
	char lock[PATH_MAX + 8], dpath[PATH_MAX + 8], err[512];
	struct reg_state rs = { 0 };
	struct nhi_snap_settings st;
	struct nhi_conf *m = NULL;
	int64_t gen = 0, base = -1, pending = 0, maxseq = 0, whole = 0, keys = -1;
	int lfd = -1, r, intx = 0, have_st = 0;

	/* one publisher at a time, each compiling the latest committed state,
	 * so the newest snapshot always wins */
	snprintf(lock, sizeof(lock), "%s.lock", x->conf.cache_path);
	snprintf(dpath, sizeof(dpath), "%s%s", x->conf.cache_path, NHI_SNAP_DELTA_SUFFIX);
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX) < 0) {
		r = nerr(x, NHI_ERR_IO, "%s: %s", lock, strerror(errno));
		goto out;
	}
	w = nhi_snapw_new();
	m = malloc(sizeof(*m));
	if (w == NULL || m == NULL) {
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
		goto out;
	}
	have_st = module_settings(m, &st);
	/* the write lock from reading what is pending to dropping what a full
	 * snapshot covered: no change commits in between (see migration 5) */
	r = reg_exec_plain(x, "BEGIN IMMEDIATE");
	if (r < 0)
		goto out;
	intx = 1;
	/* the id high-water mark and a lost chain head (regstate.c) */
	r = regstate_reconcile(x, &rs);
	if (r < 0)
		goto out;
	r = reg_int(x, &gen, 0, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'", "");
	if (r == 0)
		r = reg_int(x, &base, -1, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'snap_base'", "");
	if (r == 0)
		r = reg_int(x, &pending, 0, "SELECT count(*) FROM snap_pending", "");
	if (r == 0)
		r = reg_int(x, &maxseq, 0, "SELECT coalesce(max(seq), 0) FROM snap_pending", "");
	if (r == 0)
		r = reg_int(x, &whole, 0, "SELECT count(*) FROM snap_pending WHERE name = ''", "");
	if (r == 0)
		r = reg_int(x, &keys, -1, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'keys_gen'", "");
	if (r < 0)
		goto out;
	/* a delta holds everything changed since its base: only when that
	 * base is the one on disk, and while it stays small */
	if (!full && (x->conf.snapshot_delta_max == 0 || base < 0 || whole > 0 ||
		      pending > (int64_t)x->conf.snapshot_delta_max || base_on_disk(x) != base))
		full = 1;
	if (have_st && (r = nhi_snapw_set_settings(w, &st)) < 0) {
		nerr(x, r, "snapshot: nhi.conf settings: %s", nhi_strerror(r));
		goto out;
	}
	r = add_idents(x, w, !full);
	if (r == 0 && full)
		r = reg_snap_delegations(x, w);
	if (r < 0)
		goto out;
	/* the registry groups: in a full snapshot; a delta needs them to
	 * know which identity groups a registry group overrides */
	r = add_groups(x, w);
	if (r < 0) {
		if (r != NHI_ERR_DB)
			nerr(x, r, "snapshot: %s", nhi_strerror(r));
		goto out;
	}
	/* the key index and the password file first, when what they list
	 * may have changed (or they are not the ones last written): a reader
	 * accepts them when at least as new as the snapshot's
	 * keys_generation, so a key or password revoked in this generation
	 * is never served.  Also when they were last written at generation 0
	 * (a fresh registry's first publication): a header's keys_generation
	 * of 0 means "the generation" to readers, so a delta over it would
	 * ask for an index as new as the delta and refuse theirs */
	if (full || keys <= 0 || keyidx_generation(x) != keys || pwfile_generation(x) != keys) {
		r = keyidx_write(x, (uint64_t)gen);
		if (r == 0)
			r = pwfile_write(x, (uint64_t)gen);
		if (r == 0)
			r = reg_exec(x, "UPDATE meta SET value = ? WHERE key = 'keys_gen'", "i", gen);
		if (r < 0)
			goto out;
		keys = gen;
	}
	r = registered_write(x);
	if (r < 0)
		goto out;
	nhi_snapw_set_keys_generation(w, (uint64_t)keys);
	if (!full)
		nhi_snapw_set_delta(w, (uint64_t)base);
	r = nhi_snapw_publish(w, full ? x->conf.cache_path : dpath, (uint64_t)gen, x->now,
			      err, sizeof(err));
	if (r < 0) {
		nerr(x, r, "%s", err);
		goto out;
	}
	NHI_CRASH_POINT("snapshot-published", full ? "base" : "delta");
	if (generation != NULL)
		*generation = (uint64_t)gen;
	/* the base is this generation and holds all that was pending.  If
	 * this fails, the next publication is full again: no harm. */
	if (full && (reg_exec(x, "UPDATE meta SET value = ? WHERE key = 'snap_base'", "i", gen) < 0 ||
		     reg_exec(x, "DELETE FROM snap_pending WHERE seq <= ?", "i", maxseq) < 0)) {
		reg_rollback(x);
		intx = 0;
	}
	/* what outlives registry.db, saved once this is committed */
	if (intx && regstate_fill(x, &rs, gen) < 0)
		intx = 0;
out:
	if (intx && reg_exec_plain(x, "COMMIT") < 0) {
		reg_rollback(x);
		intx = 0;
	}
	if (r == 0 && intx && regstate_save(x, &rs) < 0)
		r = NHI_ERR_IO;
	nhi_snapw_free(w);
	free(m);
	if (lfd >= 0)
		close(lfd);
	return r;
}


/* db.c - registry.db underneath everything else in registry/: statements
 * with bound values (and a cache of prepared ones), transactions, the
 * meta table, and the one-line database error.  Calls nothing else in
 * the layer (internal.h, registry.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

void col_cpy(char *dst, size_t len, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(dst, len, "%s", t ? (const char *)t : "");
}

/* reg_exec() and reg_int() run each statement to its end, so they keep
 * their prepared statements for the next call with the same SQL (so does
 * reg_prep_cached(), until reg_release()): a sync
 * stores each of 100k entries with the same few statements, and preparing
 * them anew each time was most of its cost.  Keyed by the SQL's address
 * and checked against its text; reg_close() finalizes them. */
#define STMT_CACHE 32
static struct {
	sqlite3 *db;
	const char *sql[STMT_CACHE];
	sqlite3_stmt *st[STMT_CACHE];
	unsigned char held[STMT_CACHE];   /* handed out by reg_prep_cached() */
	unsigned next;
} cache;

/* SQLite's message, and the system's reason where SQLite's own says
 * only "disk I/O error" or "unable to open database file" (a full disk,
 * a read-only filesystem, a permission) */
static void db_say(struct nhictl *x, const char *msg)
{
	int code = x->db ? sqlite3_extended_errcode(x->db) & 0xff : 0;
	int e = x->db ? sqlite3_system_errno(x->db) : 0;

	if (x->db_readonly && code == SQLITE_READONLY)
		nerr(x, 0, "%s: %s: %s is on a read-only filesystem (remount it read-write)",
		     x->conf.registry_path, msg, x->conf.state_dir);
	else if (e != 0 && (code == SQLITE_IOERR || code == SQLITE_CANTOPEN ||
			    code == SQLITE_FULL || code == SQLITE_READONLY))
		nerr(x, 0, "%s: %s (%s)", x->conf.registry_path, msg, strerror(e));
	else
		nerr(x, 0, "%s: %s", x->conf.registry_path, msg);
}

int reg_dberr(struct nhictl *x)
{
	db_say(x, x->db ? sqlite3_errmsg(x->db) : "not open");
	return NHI_ERR_DB;
}

int reg_exec_plain(struct nhictl *x, const char *sql)
{
	char *msg = NULL;

	if (strcmp(sql, "COMMIT") == 0)
		NHI_CRASH_POINT("registry-commit-before", "");
	if (sqlite3_exec(x->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		db_say(x, msg ? msg : "error");
		sqlite3_free(msg);
		return NHI_ERR_DB;
	}
	if (strcmp(sql, "COMMIT") == 0)
		NHI_CRASH_POINT("registry-committed", "");
	return 0;
}

static void cache_clear(void)
{
	unsigned i;

	for (i = 0; i < STMT_CACHE; i++) {
		sqlite3_finalize(cache.st[i]);
		cache.st[i] = NULL;
		cache.sql[i] = NULL;
		cache.held[i] = 0;
	}
	cache.db = NULL;
	cache.next = 0;
}

void reg_close(struct nhictl *x)
{
	if (cache.db != NULL && cache.db == x->db)
		cache_clear();
	if (x->db != NULL) {
		sqlite3_close_v2(x->db);
		x->db = NULL;
	}
}

static int bindv(struct nhictl *x, sqlite3_stmt *st, const char *types, va_list ap)
{
	int i, r = SQLITE_OK;

	for (i = 0; types[i] != '\0' && r == SQLITE_OK; i++) {
		switch (types[i]) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			r = s ? sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT)
			      : sqlite3_bind_null(st, i + 1);
			break;
		}
		case 'i':
			r = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
			break;
		case 'u':
			r = sqlite3_bind_int64(st, i + 1, (int64_t)va_arg(ap, uint32_t));
			break;
		default:
			r = SQLITE_MISUSE;
		}
	}
	return r == SQLITE_OK ? 0 : reg_dberr(x);
}

static sqlite3_stmt *vprep(struct nhictl *x, const char *sql, const char *types, va_list ap)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(x->db, sql, -1, &st, NULL) != SQLITE_OK) {
		reg_dberr(x);
		return NULL;
	}
	if (bindv(x, st, types, ap) < 0) {
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

sqlite3_stmt *reg_prep(struct nhictl *x, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;

	va_start(ap, types);
	st = vprep(x, sql, types, ap);
	va_end(ap);
	return st;
}

/* A statement for sql with the values bound: from the cache, or prepared
 * and cached (NULL on error, printed).  Give it back with cache_done(). */
static sqlite3_stmt *cached_prep(struct nhictl *x, int hold, const char *sql,
				 const char *types, va_list ap)
{
	sqlite3_stmt *st;
	unsigned i, k;

	if (cache.db != x->db)
		cache_clear();
	for (i = 0; i < STMT_CACHE; i++) {
		if (cache.sql[i] != sql || cache.held[i] ||
		    strcmp(sqlite3_sql(cache.st[i]), sql) != 0)
			continue;
		st = cache.st[i];
		sqlite3_clear_bindings(st);
		if (bindv(x, st, types, ap) < 0)
			return NULL;
		cache.held[i] = (unsigned char)hold;
		return st;
	}
	st = vprep(x, sql, types, ap);
	if (st == NULL)
		return NULL;
	/* a slot whose statement is not handed out (else: not cached) */
	for (k = 0; k < STMT_CACHE; k++) {
		i = cache.next++ % STMT_CACHE;
		if (!cache.held[i]) {
			sqlite3_finalize(cache.st[i]);
			cache.db = x->db;
			cache.sql[i] = sql;
			cache.st[i] = st;
			cache.held[i] = (unsigned char)hold;
			return st;
		}
	}
	sqlite3_finalize(st);   /* 32 handed out at once: a bug */
	nerr(x, 0, "internal error: statement cache full");
	return NULL;
}

static void cache_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
}

sqlite3_stmt *reg_prep_cached(struct nhictl *x, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;

	va_start(ap, types);
	st = cached_prep(x, 1, sql, types, ap);
	va_end(ap);
	return st;
}

void reg_release(sqlite3_stmt *st)
{
	unsigned i;

	if (st == NULL)
		return;
	cache_done(st);
	for (i = 0; i < STMT_CACHE; i++)
		if (cache.st[i] == st)
			cache.held[i] = 0;
}

int reg_exec(struct nhictl *x, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int r;

	va_start(ap, types);
	st = cached_prep(x, 0, sql, types, ap);
	va_end(ap);
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		;
	r = r == SQLITE_DONE ? 0 : reg_dberr(x);
	cache_done(st);
	return r;
}

int reg_int(struct nhictl *x, int64_t *out, int64_t dflt, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int r;

	va_start(ap, types);
	st = cached_prep(x, 0, sql, types, ap);
	va_end(ap);
	if (st == NULL)
		return NHI_ERR_DB;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*out = sqlite3_column_type(st, 0) == SQLITE_NULL ? dflt : sqlite3_column_int64(st, 0);
		r = 0;
	} else if (r == SQLITE_DONE) {
		*out = dflt;
		r = 0;
	} else {
		r = reg_dberr(x);
	}
	cache_done(st);
	return r;
}

/* A verb that writes runs in one write transaction from start to end
 * (nhictl.c begins it before the verb runs), so its checks (free uid,
 * name not taken, current state) and its change are atomic against other
 * nhictl processes; a nested reg_begin() is then a no-op. */
int reg_begin(struct nhictl *x)
{
	if (!sqlite3_get_autocommit(x->db))
		return 0;
	x->tx_changes = sqlite3_total_changes(x->db);
	return reg_exec_plain(x, "BEGIN IMMEDIATE");
}

/* A pending intent whose directory write was refused is deleted once the
 * verb gives up (autocommit): nothing happened that the next run should
 * resolve.  Any other stays for it (intent_recover). */
void reg_rollback(struct nhictl *x)
{
	if (x->db != NULL && !sqlite3_get_autocommit(x->db))
		sqlite3_exec(x->db, "ROLLBACK", NULL, NULL, NULL);
	for (int i = 0; x->db != NULL && i < x->n_intents; i++)
		if (x->intents[i].refused)
			reg_exec(x, "DELETE FROM intent WHERE id = ?", "i", x->intents[i].row);
	x->n_intents = 0;
}

int reg_commit_journal(struct nhictl *x)
{
	int r = reg_exec_plain(x, "COMMIT");

	if (r < 0)
		reg_rollback(x);
	return r;
}

int reg_meta_get(struct nhictl *x, const char *key, char *buf, size_t len)
{
	sqlite3_stmt *st = reg_prep(x, "SELECT value FROM meta WHERE key = ?", "s", key);
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	buf[0] = '\0';
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
		r = 0;
	} else {
		r = r == SQLITE_DONE ? NHI_ERR_NOTFOUND : reg_dberr(x);
	}
	sqlite3_finalize(st);
	return r;
}

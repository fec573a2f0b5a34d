/* registry.c - registry.db: schema and migrations, transactions, the
 * hash-chained audit log, and publishing the snapshot.
 *
 * The schema is versioned with PRAGMA user_version: migrations[i] takes the
 * database from version i to i+1, each in its own transaction.  Every change
 * a verb makes and the audit event describing it are written in ONE
 * transaction (BEGIN IMMEDIATE, so writers are serialised); after COMMIT the
 * snapshot is compiled from the committed state and published atomically.
 *
 * Audit chain: event.hash = hex(SHA-256(prev_hash || canonical row text)),
 * prev_hash of the first event is 64 zeros.  meta keeps the head hash and
 * the count, so removing the newest rows is detected as well.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "nhi_file.h"
#include "nhictl.h"

/* (migration 5) the triggers that keep snap_pending record nothing while
 * a full publication is queued */
#define SNAP_NO_FULL "NOT EXISTS (SELECT 1 FROM snap_pending WHERE name = '')"
#define SNAP_TRACKED "WHEN " SNAP_NO_FULL
/* and those that mark the key index out of date, once until it is written */
#define KEYS_TRACKED "WHEN (SELECT value FROM meta WHERE key = 'keys_gen') != '-1'"
#define KEYS_STALE "UPDATE meta SET value = '-1' WHERE key = 'keys_gen';"

static const char *const migrations[] = {
	/* 0 -> 1: the model of docs/design.md */
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"INSERT INTO meta VALUES ('generation', '0');"
	"CREATE TABLE identity ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" kind TEXT NOT NULL CHECK (kind IN ('service','agent')),"
	" uid INTEGER NOT NULL UNIQUE,"
	" gid INTEGER NOT NULL,"
	" gecos TEXT NOT NULL DEFAULT '',"
	" home TEXT NOT NULL,"
	" shell TEXT NOT NULL,"
	" owner TEXT NOT NULL,"
	" purpose TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL,"
	" expires INTEGER NOT NULL,"
	" review_interval INTEGER NOT NULL,"
	" last_review INTEGER NOT NULL DEFAULT 0,"
	" review_due INTEGER NOT NULL DEFAULT 0,"
	" state TEXT NOT NULL CHECK (state IN ('active','suspended','orphaned','retired')),"
	" orphaned_since INTEGER NOT NULL DEFAULT 0,"
	" retired_at INTEGER NOT NULL DEFAULT 0,"
	" retire_reason TEXT NOT NULL DEFAULT '',"
	" last_used INTEGER NOT NULL DEFAULT 0,"
	" adopted INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX identity_gid ON identity(gid);"
	"CREATE INDEX identity_owner ON identity(owner);"
	"CREATE TABLE identity_host ("
	" identity_id INTEGER NOT NULL REFERENCES identity(id) ON DELETE CASCADE,"
	" host TEXT NOT NULL, PRIMARY KEY (identity_id, host));"
	"CREATE TABLE identity_service ("
	" identity_id INTEGER NOT NULL REFERENCES identity(id) ON DELETE CASCADE,"
	" service TEXT NOT NULL, PRIMARY KEY (identity_id, service));"
	"CREATE TABLE grp ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" gid INTEGER NOT NULL UNIQUE,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE grp_member ("
	" grp_id INTEGER NOT NULL REFERENCES grp(id) ON DELETE CASCADE,"
	" member TEXT NOT NULL, PRIMARY KEY (grp_id, member));"
	"CREATE TABLE credential ("
	" id INTEGER PRIMARY KEY,"
	" identity_id INTEGER NOT NULL REFERENCES identity(id),"
	" kind TEXT NOT NULL CHECK (kind IN ('password','token','ssh-key','certificate')),"
	" fingerprint TEXT NOT NULL,"
	" public_part TEXT NOT NULL DEFAULT '',"
	" secret_hash TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL,"
	" not_after INTEGER NOT NULL DEFAULT 0,"
	" state TEXT NOT NULL CHECK (state IN ('active','grace','revoked')),"
	" last_used INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (identity_id, fingerprint));"
	"CREATE TABLE resource ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" kind TEXT NOT NULL CHECK (kind IN ('tool','system')),"
	" transport TEXT NOT NULL DEFAULT '',"
	" uri TEXT NOT NULL DEFAULT '',"
	" external INTEGER NOT NULL DEFAULT 0,"
	" data_class TEXT NOT NULL DEFAULT 'internal'"
	"  CHECK (data_class IN ('pii','secret','internal','public')),"
	" owner TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL);"
	"CREATE TABLE edge ("
	" id INTEGER PRIMARY KEY,"
	" kind TEXT NOT NULL"
	"  CHECK (kind IN ('may_invoke','delegates_to','uses','grants','reads_from')),"
	" src_type TEXT NOT NULL, src TEXT NOT NULL,"
	" dst_type TEXT NOT NULL, dst TEXT NOT NULL,"
	" origin TEXT NOT NULL CHECK (origin IN ('declared','observed')),"
	" scopes TEXT NOT NULL DEFAULT '', actions TEXT NOT NULL DEFAULT '',"
	" audience TEXT NOT NULL DEFAULT '', token_mode TEXT NOT NULL DEFAULT '',"
	" max_depth INTEGER NOT NULL DEFAULT 0,"
	" approval_required INTEGER NOT NULL DEFAULT 0,"
	" expires INTEGER NOT NULL DEFAULT 0,"
	" first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
	" reason TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE event ("
	" id INTEGER PRIMARY KEY,"
	" ts INTEGER NOT NULL,"
	" actor TEXT NOT NULL,"
	" action TEXT NOT NULL,"
	" target TEXT NOT NULL,"
	" outcome TEXT NOT NULL,"
	" detail TEXT NOT NULL DEFAULT '',"
	" prev_hash TEXT NOT NULL,"
	" hash TEXT NOT NULL);"
	"CREATE TABLE usage ("
	" identity_id INTEGER NOT NULL REFERENCES identity(id) ON DELETE CASCADE,"
	" host TEXT NOT NULL, service TEXT NOT NULL,"
	" last_used INTEGER NOT NULL, count INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (identity_id, host, service));",
	/* 1 -> 2: backend = ldap (dirstore.c, cmd_sync.c): the directory
	 * entry an identity row mirrors, its owner's DN, the last-used time
	 * the directory holds (usage newer than it is pushed), and the sync
	 * state: the RFC 4533 cookie, committed with the changes it covers */
	"ALTER TABLE identity ADD COLUMN entry_uuid TEXT;"
	"ALTER TABLE identity ADD COLUMN owner_dn TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE identity ADD COLUMN dir_last_used INTEGER NOT NULL DEFAULT 0;"
	"CREATE UNIQUE INDEX identity_entry_uuid ON identity(entry_uuid)"
	" WHERE entry_uuid IS NOT NULL;"
	"CREATE INDEX identity_owner_dn ON identity(owner_dn, owner);"
	"CREATE INDEX identity_unpushed ON identity(id) WHERE last_used > dir_last_used;"
	"CREATE TABLE sync_state ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" cookie BLOB,"
	" server TEXT NOT NULL DEFAULT '',"
	" last_sync INTEGER NOT NULL DEFAULT 0,"
	" last_mode TEXT NOT NULL DEFAULT '');"
	"INSERT INTO sync_state (id) VALUES (1);",
	/* 2 -> 3: credentials and rotation (issue 4): a public id for each credential
	 * (a token's own id, else "c" + 12 hex digits), the end of its grace
	 * window, when it was revoked, a certificate's serial, the credential
	 * a rotation replaced; and the rotation journal of docs/design.md
	 * "Rotation that loses nothing": at most one pending rotation per
	 * credential (a partial UNIQUE index), the new credential's public
	 * part and hash journaled before the secret is handed over. */
	"ALTER TABLE credential ADD COLUMN cred_id TEXT;"
	"UPDATE credential SET cred_id = 'c' || lower(hex(randomblob(6)));"
	"CREATE UNIQUE INDEX credential_cred_id ON credential(cred_id);"
	"ALTER TABLE credential ADD COLUMN grace_until INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE credential ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE credential ADD COLUMN serial TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE credential ADD COLUMN replaces TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX credential_identity ON credential(identity_id, state);"
	"CREATE TABLE rotation ("
	" id INTEGER PRIMARY KEY,"
	" credential_id INTEGER NOT NULL REFERENCES credential(id),"
	" state TEXT NOT NULL CHECK (state IN ('pending','done','rolled-back','failed')),"
	" step TEXT NOT NULL DEFAULT 'journaled',"
	" new_cred_id TEXT NOT NULL,"
	" new_fingerprint TEXT NOT NULL,"
	" new_public_part TEXT NOT NULL DEFAULT '',"
	" new_secret_hash TEXT NOT NULL DEFAULT '',"
	" new_serial TEXT NOT NULL DEFAULT '',"
	" new_not_after INTEGER NOT NULL,"
	" grace INTEGER NOT NULL,"
	" out_path TEXT NOT NULL DEFAULT '',"
	" started INTEGER NOT NULL,"
	" finished INTEGER NOT NULL DEFAULT 0,"
	" pid INTEGER NOT NULL,"
	" pid_start TEXT NOT NULL DEFAULT '',"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" actor TEXT NOT NULL);"
	"CREATE UNIQUE INDEX rotation_pending ON rotation(credential_id) WHERE state = 'pending';",
	/* 3 -> 4: credentials in the directory (backend = ldap): the identity
	 * entry's nhiSerial as last pulled (a different one in a synced entry
	 * means its credential entries changed), and the serial a rotation's
	 * compare-and-swap starts from */
	"ALTER TABLE identity ADD COLUMN cred_serial INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE rotation ADD COLUMN dir_serial INTEGER NOT NULL DEFAULT 0;",
	/* 4 -> 5: the cost of a change independent of the registry's size.
	 * Snapshot deltas (reg_publish): the generation of the last full
	 * snapshot (-1: none yet, the next publication is full) and the names
	 * of the identities changed since, kept by triggers so that no writer
	 * can forget one.  Only what the snapshot holds counts.  The name ''
	 * (no identity's) means "the next publication is full": queued by a
	 * change to a registry group, which only a full snapshot carries, and
	 * by a bulk change (reg_snap_full); while it is queued the triggers
	 * record nothing, so a sync of 100k entries does not pay for 100k
	 * names.  (reg_publish holds the write lock from reading the pending
	 * names to dropping them, so no change slips between the two.  Each
	 * trigger deletes, then inserts: an outer statement's conflict clause,
	 * such as an upsert's, would override one of its own.) */
	"INSERT INTO meta VALUES ('snap_base', '-1');"
	/* and the owners a sync re-checks, found without a scan of every
	 * identity (cmd_sync.c, check_owners) */
	"CREATE INDEX identity_live_owner ON identity(owner_dn, owner) WHERE orphaned_since = 0"
	" AND state IN ('active', 'suspended') AND entry_uuid IS NOT NULL;"
	"CREATE TABLE snap_pending (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL UNIQUE);"
	"CREATE TRIGGER snap_ident_ins AFTER INSERT ON identity " SNAP_TRACKED " BEGIN"
	" DELETE FROM snap_pending WHERE name = NEW.name; INSERT INTO snap_pending (name) VALUES (NEW.name); END;"
	"CREATE TRIGGER snap_ident_del AFTER DELETE ON identity " SNAP_TRACKED " BEGIN"
	" DELETE FROM snap_pending WHERE name = OLD.name; INSERT INTO snap_pending (name) VALUES (OLD.name); END;"
	"CREATE TRIGGER snap_ident_upd AFTER UPDATE ON identity WHEN (OLD.name IS NOT NEW.name OR"
	" OLD.kind IS NOT NEW.kind OR OLD.state IS NOT NEW.state OR"
	" OLD.uid IS NOT NEW.uid OR OLD.gid IS NOT NEW.gid OR OLD.gecos IS NOT NEW.gecos OR"
	" OLD.home IS NOT NEW.home OR OLD.shell IS NOT NEW.shell OR OLD.owner IS NOT NEW.owner OR"
	" OLD.purpose IS NOT NEW.purpose OR OLD.created IS NOT NEW.created OR"
	" OLD.expires IS NOT NEW.expires OR OLD.review_interval IS NOT NEW.review_interval OR"
	" OLD.review_due IS NOT NEW.review_due OR OLD.orphaned_since IS NOT NEW.orphaned_since OR"
	" OLD.last_used IS NOT NEW.last_used) AND " SNAP_NO_FULL " BEGIN"
	" DELETE FROM snap_pending WHERE name = OLD.name; INSERT INTO snap_pending (name) VALUES (OLD.name);"
	" DELETE FROM snap_pending WHERE name = NEW.name; INSERT INTO snap_pending (name) VALUES (NEW.name); END;"
	"CREATE TRIGGER snap_host_ins AFTER INSERT ON identity_host " SNAP_TRACKED " BEGIN"
	" DELETE FROM snap_pending WHERE name = (SELECT name FROM identity WHERE id = NEW.identity_id);"
	" INSERT INTO snap_pending (name) SELECT name FROM identity WHERE id = NEW.identity_id; END;"
	"CREATE TRIGGER snap_host_del AFTER DELETE ON identity_host " SNAP_TRACKED " BEGIN"
	" DELETE FROM snap_pending WHERE name = (SELECT name FROM identity WHERE id = OLD.identity_id);"
	" INSERT INTO snap_pending (name) SELECT name FROM identity WHERE id = OLD.identity_id; END;"
	"CREATE TRIGGER snap_service_ins AFTER INSERT ON identity_service " SNAP_TRACKED " BEGIN"
	" DELETE FROM snap_pending WHERE name = (SELECT name FROM identity WHERE id = NEW.identity_id);"
	" INSERT INTO snap_pending (name) SELECT name FROM identity WHERE id = NEW.identity_id; END;"
	"CREATE TRIGGER snap_service_del AFTER DELETE ON identity_service " SNAP_TRACKED " BEGIN"
	" DELETE FROM snap_pending WHERE name = (SELECT name FROM identity WHERE id = OLD.identity_id);"
	" INSERT INTO snap_pending (name) SELECT name FROM identity WHERE id = OLD.identity_id; END;"
	"CREATE TRIGGER snap_grp_ins AFTER INSERT ON grp " SNAP_TRACKED " BEGIN"
	" INSERT INTO snap_pending (name) VALUES (''); END;"
	"CREATE TRIGGER snap_grp_upd AFTER UPDATE ON grp " SNAP_TRACKED " BEGIN"
	" INSERT INTO snap_pending (name) VALUES (''); END;"
	"CREATE TRIGGER snap_grp_del AFTER DELETE ON grp " SNAP_TRACKED " BEGIN"
	" INSERT INTO snap_pending (name) VALUES (''); END;"
	"CREATE TRIGGER snap_member_ins AFTER INSERT ON grp_member " SNAP_TRACKED " BEGIN"
	" INSERT INTO snap_pending (name) VALUES (''); END;"
	"CREATE TRIGGER snap_member_upd AFTER UPDATE ON grp_member " SNAP_TRACKED " BEGIN"
	" INSERT INTO snap_pending (name) VALUES (''); END;"
	"CREATE TRIGGER snap_member_del AFTER DELETE ON grp_member " SNAP_TRACKED " BEGIN"
	" INSERT INTO snap_pending (name) VALUES (''); END;"
	/* the key index is rewritten only when what it lists may have
	 * changed: keys_gen is the generation it was last written at, -1
	 * when a credential, or an identity's name or state, changed since */
	"INSERT INTO meta VALUES ('keys_gen', '-1');"
	"CREATE TRIGGER keys_cred_ins AFTER INSERT ON credential " KEYS_TRACKED " BEGIN " KEYS_STALE " END;"
	"CREATE TRIGGER keys_cred_del AFTER DELETE ON credential " KEYS_TRACKED " BEGIN " KEYS_STALE " END;"
	"CREATE TRIGGER keys_cred_upd AFTER UPDATE OF identity_id, kind, public_part, state,"
	" grace_until, not_after ON credential " KEYS_TRACKED " BEGIN " KEYS_STALE " END;"
	"CREATE TRIGGER keys_ident_upd AFTER UPDATE OF name, state ON identity " KEYS_TRACKED
	" BEGIN " KEYS_STALE " END;"
	"CREATE TRIGGER keys_ident_del AFTER DELETE ON identity " KEYS_TRACKED " BEGIN " KEYS_STALE " END;",
	/* 5 -> 6: owners by who they are, not by name (issue 12): owner_id is
	 * the owner's uid (backend = local, from NSS) or entryUUID (ldap) when
	 * the identity was created, adopted or transferred; NULL when not known
	 * (rows from before: the next owner re-check fills it in while the name
	 * still resolves, with an event).  orphan_cause is why an identity was
	 * orphaned: 'locked' (its owner, the same person, not live: an owner
	 * live again brings it back), 'gone', 'other' (a different person under
	 * that name), '' (not orphaned, or orphaned elsewhere). */
	"ALTER TABLE identity ADD COLUMN owner_id TEXT;"
	"ALTER TABLE identity ADD COLUMN orphan_cause TEXT NOT NULL DEFAULT '';",
	/* 6 -> 7: reach (issue 14): resources, grants (identity -> resource,
	 * optionally bound to one credential), delegations (identity -> identity).
	 * The resource and edge tables of version 1 were never written: replaced. */
	"DROP TABLE edge;"
	"DROP TABLE resource;"
	"CREATE TABLE resource ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" kind TEXT NOT NULL,"
	" uri TEXT NOT NULL,"
	" owner TEXT NOT NULL,"
	" owner_dn TEXT NOT NULL DEFAULT '',"
	" owner_id TEXT,"
	" data_class TEXT NOT NULL DEFAULT 'internal'"
	"  CHECK (data_class IN ('public','internal','confidential','pii','secret')),"
	" external INTEGER NOT NULL DEFAULT 0,"
	" purpose TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL,"
	" orphaned_since INTEGER NOT NULL DEFAULT 0,"
	" managed INTEGER NOT NULL DEFAULT 0,"
	" entry_uuid TEXT UNIQUE);"
	/* a grant ("grant" is an SQL keyword); credential_id NULL: the
	 * identity's own; actions: NHI_ACT_* bits; scopes comma-separated */
	"CREATE TABLE access ("
	" id INTEGER PRIMARY KEY,"
	" identity_id INTEGER NOT NULL REFERENCES identity(id) ON DELETE CASCADE,"
	" resource_id INTEGER NOT NULL REFERENCES resource(id) ON DELETE CASCADE,"
	" credential_id INTEGER REFERENCES credential(id) ON DELETE CASCADE,"
	" actions INTEGER NOT NULL CHECK (actions BETWEEN 1 AND 15),"
	" scopes TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL,"
	" expires INTEGER NOT NULL,"
	" managed INTEGER NOT NULL DEFAULT 0,"
	" entry_uuid TEXT UNIQUE);"
	"CREATE UNIQUE INDEX access_one ON access(identity_id, resource_id, IFNULL(credential_id, 0));"
	"CREATE INDEX access_resource ON access(resource_id);"
	/* actions: the limit (15 = none) */
	"CREATE TABLE delegation ("
	" id INTEGER PRIMARY KEY,"
	" from_id INTEGER NOT NULL REFERENCES identity(id) ON DELETE CASCADE,"
	" to_id INTEGER NOT NULL REFERENCES identity(id) ON DELETE CASCADE,"
	" actions INTEGER NOT NULL DEFAULT 15 CHECK (actions BETWEEN 1 AND 15),"
	" scopes TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL,"
	" expires INTEGER NOT NULL,"
	" reason TEXT NOT NULL DEFAULT '',"
	" managed INTEGER NOT NULL DEFAULT 0,"
	" entry_uuid TEXT UNIQUE,"
	" UNIQUE (from_id, to_id),"
	" CHECK (from_id <> to_id));"
	"CREATE INDEX delegation_to ON delegation(to_id);",
};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

int reg_dberr(struct nhictl *x)
{
	nerr(x, 0, "%s: %s", x->conf.registry_path, x->db ? sqlite3_errmsg(x->db) : "not open");
	return NHI_ERR_DB;
}

static int exec_plain(struct nhictl *x, const char *sql)
{
	char *msg = NULL;

	if (strcmp(sql, "COMMIT") == 0)
		NHI_CRASH_POINT("registry-commit-before", "");
	if (sqlite3_exec(x->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		nerr(x, 0, "%s: %s", x->conf.registry_path, msg ? msg : "error");
		sqlite3_free(msg);
		return NHI_ERR_DB;
	}
	if (strcmp(sql, "COMMIT") == 0)
		NHI_CRASH_POINT("registry-committed", "");
	return 0;
}

/* Create dir and its missing parents with exactly 'mode', whatever the
 * umask: a hardened umask (077) must not make the state directory 0700,
 * which would hide the snapshot, and so every identity, from every
 * process but root's.  Directories that exist are left as they are
 * (state_dir_check says when one of them hides the snapshot). */
static int mkdirs(const char *dir, mode_t mode)
{
	char p[PATH_MAX];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(p))
		return -1;
	memcpy(p, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, mode) == 0) {
			if (chmod(p, mode) < 0)
				return -1;
		} else if (errno != EEXIST) {
			return -1;
		}
		p[i] = i < n ? '/' : '\0';
	}
	return 0;
}

/* Can every process reach the snapshot in the state directory?  Each
 * directory from / down must be searchable by others (the snapshot is
 * world-readable; nss_nhi runs as every user).  A warning, once per run:
 * the registry itself is root's, and tests may keep state anywhere. */
static void state_dir_check(struct nhictl *x)
{
	char p[PATH_MAX];
	size_t n = strlen(x->conf.state_dir);
	struct stat st;

	if (n == 0 || n >= sizeof(p))
		return;
	memcpy(p, x->conf.state_dir, n + 1);
	for (size_t i = n;; i--) {
		if (p[i] == '/' || i == n) {
			char keep = p[i];

			p[i] = '\0';
			if (stat(i == 0 ? "/" : p, &st) == 0 && !(st.st_mode & S_IXOTH)) {
				fprintf(stderr, "nhictl: warning: %s is mode %04o: only root can reach "
					"the snapshot in %s, so identities are invisible to every other "
					"process (chmod o+x %s)\n", i == 0 ? "/" : p,
					(unsigned)(st.st_mode & 07777), x->conf.state_dir,
					i == 0 ? "/" : p);
				return;
			}
			p[i] = keep;
		}
		if (i == 0)
			break;
	}
}

static int migrate(struct nhictl *x)
{
	int64_t v;
	int r;

	if (reg_int(x, &v, 0, "PRAGMA user_version", "") < 0)
		return NHI_ERR_DB;
	if (v > N_MIGRATIONS)
		return nerr(x, NHI_ERR_VERSION, "%s: schema version %lld is newer than this nhictl (%d)",
			    x->conf.registry_path, (long long)v, N_MIGRATIONS);
	for (; v < N_MIGRATIONS; v++) {
		char pragma[64];

		if (exec_plain(x, "BEGIN IMMEDIATE") < 0)
			return NHI_ERR_DB;
		r = exec_plain(x, migrations[v]);
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %lld", (long long)v + 1);
		if (r == 0)
			r = exec_plain(x, pragma);
		if (r == 0)
			r = exec_plain(x, "COMMIT");
		if (r < 0) {
			sqlite3_exec(x->db, "ROLLBACK", NULL, NULL, NULL);
			return r;
		}
	}
	return 0;
}

int reg_open(struct nhictl *x)
{
	struct stat st;
	mode_t old;
	int r;

	if (x->db != NULL)
		return 0;
	/* from nothing only on a fresh host (regstate.c); nothing created
	 * when refused */
	if (stat(x->conf.registry_path, &st) < 0 && errno == ENOENT) {
		if (regstate_missing(x) < 0)
			return NHI_ERR_STATE;
		x->reg_created = 1;
	}
	if (stat(x->conf.state_dir, &st) < 0) {
		if (errno != ENOENT || mkdirs(x->conf.state_dir, 0755) < 0)
			return nerr(x, NHI_ERR_IO, "%s: %s", x->conf.state_dir, strerror(errno));
	}
	state_dir_check(x);
	old = umask(077);
	r = sqlite3_open_v2(x->conf.registry_path, &x->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	umask(old);
	if (r != SQLITE_OK) {
		reg_dberr(x);
		reg_close(x);
		return NHI_ERR_DB;
	}
	/* an existing file with a loose mode is tightened: it holds the audit
	 * log and (later) credential hashes */
	if (stat(x->conf.registry_path, &st) == 0 && (st.st_mode & 077) != 0)
		(void)chmod(x->conf.registry_path, 0600);
	sqlite3_busy_timeout(x->db, 10000);
	sqlite3_extended_result_codes(x->db, 1);
	if (exec_plain(x, "PRAGMA journal_mode = WAL") < 0 ||
	    exec_plain(x, "PRAGMA foreign_keys = ON") < 0 ||
	    exec_plain(x, "PRAGMA synchronous = FULL") < 0 ||
	    migrate(x) < 0 || regstate_opened(x) < 0) {
		reg_close(x);
		return NHI_ERR_DB;
	}
	return 0;
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
	return exec_plain(x, "BEGIN IMMEDIATE");
}

void reg_rollback(struct nhictl *x)
{
	if (x->db != NULL && !sqlite3_get_autocommit(x->db))
		sqlite3_exec(x->db, "ROLLBACK", NULL, NULL, NULL);
}

int reg_commit_journal(struct nhictl *x)
{
	int r = exec_plain(x, "COMMIT");

	if (r < 0)
		reg_rollback(x);
	return r;
}

int reg_commit(struct nhictl *x)
{
	int r;

	r = reg_exec(x, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
		     "WHERE key = 'generation'", "");
	if (r == 0)
		r = exec_plain(x, "COMMIT");
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

/* ---- the audit chain ------------------------------------------------ */

static void put_field(EVP_MD_CTX *md, const char *s)
{
	char len[32];
	int n = snprintf(len, sizeof(len), "%zu:", strlen(s));

	EVP_DigestUpdate(md, len, (size_t)n);
	EVP_DigestUpdate(md, s, strlen(s));
	EVP_DigestUpdate(md, "\n", 1);
}

/* hex(SHA-256(prev || canonical text)); the canonical text is every
 * column but the hashes, each as "<length>:<bytes>\n". */
static int event_hash(int64_t id, int64_t ts, const char *actor, const char *action,
		      const char *target, const char *outcome, const char *detail,
		      const char *prev, char out[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	char num[32];
	int ok;

	if (md == NULL)
		return NHI_ERR_NOMEM;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	if (ok) {
		EVP_DigestUpdate(md, prev, strlen(prev));
		snprintf(num, sizeof(num), "%lld", (long long)id);
		put_field(md, num);
		snprintf(num, sizeof(num), "%lld", (long long)ts);
		put_field(md, num);
		put_field(md, actor);
		put_field(md, action);
		put_field(md, target);
		put_field(md, outcome);
		put_field(md, detail);
		ok = EVP_DigestFinal_ex(md, dig, &n);
	}
	EVP_MD_CTX_free(md);
	if (!ok || n != 32)
		return NHI_ERR_IO;
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", dig[i]);
	return 0;
}

static int meta_get(struct nhictl *x, const char *key, char *buf, size_t len)
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

int reg_event(struct nhictl *x, const char *action, const char *target,
	      const char *outcome, const char *fmt, ...)
{
	char detail[1024], prev[80], hash[65];
	int64_t id;
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	r = meta_get(x, "log_head", prev, sizeof(prev));
	if (r == NHI_ERR_NOTFOUND)
		snprintf(prev, sizeof(prev), "%s", ZERO_HASH);
	else if (r < 0)
		return r;
	if (reg_int(x, &id, 0, "SELECT max(id) FROM event", "") < 0)
		return NHI_ERR_DB;
	id++;
	r = event_hash(id, (int64_t)x->now, x->actor, action, target, outcome, detail, prev, hash);
	if (r < 0)
		return nerr(x, r, "cannot hash the audit event");
	r = reg_exec(x, "INSERT INTO event (id, ts, actor, action, target, outcome, detail, "
		     "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", "iisssssss",
		     id, (int64_t)x->now, x->actor, action, target, outcome, detail, prev, hash);
	if (r == 0)
		r = reg_exec(x, "INSERT OR REPLACE INTO meta VALUES ('log_head', ?)", "s", hash);
	if (r == 0)
		r = reg_exec(x, "INSERT OR REPLACE INTO meta VALUES ('log_count', ?)", "i", id);
	if (r == 0)
		NHI_CRASH_POINT("audit-event", action);
	return r;
}

int reg_verify_log(struct nhictl *x, int64_t *n, char *why, size_t len)
{
	char prev[80] = ZERO_HASH, hash[65], head[80], count[32];
	sqlite3_stmt *st;
	int64_t expect = 1;
	int r;

	*n = 0;
	st = reg_prep(x, "SELECT id, ts, actor, action, target, outcome, detail, prev_hash, hash "
		      "FROM event ORDER BY id", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *col[8];
		int i;

		for (i = 1; i < 9; i++) {
			const unsigned char *t = sqlite3_column_text(st, i);

			col[i - 1] = t ? (const char *)t : "";
		}
		if (id != expect) {
			r = nhi_seterr(why, len, NHI_ERR_FORMAT,
				       "event %lld is missing (next row is event %lld): rows removed",
				       (long long)expect, (long long)id);
			goto out;
		}
		if (strcmp(col[6], prev) != 0) {
			r = nhi_seterr(why, len, NHI_ERR_FORMAT,
				       "event %lld: prev_hash does not match event %lld: "
				       "row altered or removed", (long long)id, (long long)id - 1);
			goto out;
		}
		if (event_hash(id, sqlite3_column_int64(st, 1), col[1], col[2], col[3], col[4],
			       col[5], prev, hash) < 0) {
			r = nhi_seterr(why, len, NHI_ERR_IO, "cannot hash event %lld", (long long)id);
			goto out;
		}
		if (strcmp(hash, col[7]) != 0) {
			r = nhi_seterr(why, len, NHI_ERR_FORMAT,
				       "event %lld: hash mismatch: row altered", (long long)id);
			goto out;
		}
		snprintf(prev, sizeof(prev), "%s", hash);
		expect++;
		(*n)++;
	}
	if (r != SQLITE_DONE) {
		r = reg_dberr(x);
		goto out;
	}
	r = meta_get(x, "log_head", head, sizeof(head));
	if (r == NHI_ERR_NOTFOUND && *n == 0) {
		r = 0;
		goto out;
	}
	if (r == 0)
		r = meta_get(x, "log_count", count, sizeof(count));
	if (r == NHI_ERR_NOTFOUND)
		r = nhi_seterr(why, len, NHI_ERR_FORMAT, "the log's head record is missing");
	if (r < 0)
		goto out;
	if (strtoll(count, NULL, 10) != *n || strcmp(head, prev) != 0) {
		r = nhi_seterr(why, len, NHI_ERR_FORMAT,
			       "the log ends at event %lld but %s events were written: "
			       "newest rows removed", (long long)*n, count);
		goto out;
	}
	r = 0;
out:
	/* an intact chain may still lack the head recorded outside
	 * registry.db: a restored or recreated registry (regstate.c) */
	if (r == 0) {
		struct reg_state rs;

		r = regstate_load(x, &rs);
		if (r == 0)
			r = regstate_check_log(x, &rs, why, len);
		else
			r = nhi_seterr(why, len, r, "the registry's state file cannot be read");
	}
	sqlite3_finalize(st);
	return r;
}

/* ---- publishing ------------------------------------------------------ */

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
	int64_t gen = 0, base = -1, pending = 0, maxseq = 0, whole = 0, keys = -1;
	int lfd = -1, r, intx = 0;

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
	if (w == NULL) {
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* the write lock from reading what is pending to dropping what a full
	 * snapshot covered: no change commits in between (see migration 5) */
	r = exec_plain(x, "BEGIN IMMEDIATE");
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
	r = add_idents(x, w, !full);
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
	 * is never served */
	if (full || keys < 0 || keyidx_generation(x) != keys || pwfile_generation(x) != keys) {
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
	if (intx && exec_plain(x, "COMMIT") < 0) {
		reg_rollback(x);
		intx = 0;
	}
	if (r == 0 && intx && regstate_save(x, &rs) < 0)
		r = NHI_ERR_IO;
	nhi_snapw_free(w);
	if (lfd >= 0)
		close(lfd);
	return r;
}


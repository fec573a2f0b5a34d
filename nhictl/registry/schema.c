/* schema.c - opening registry.db: the state directory made (whatever the
 * umask), the schema versioned with PRAGMA user_version (migrations[i]
 * takes the database from version i to i+1, each in its own transaction),
 * and a missing registry refused unless the host is fresh (regstate.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "internal.h"
#include "nhi_file.h"

/* (migration 5) the triggers that keep snap_pending record nothing while
 * a full publication is queued (SNAP_NO_FULL: internal.h) */
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
	/* 7 -> 8: the snapshot carries the delegation edges (by the uids of
	 * their two identities, with their expiry) for pam_nhi's PAM_RUSER
	 * rule.  Only a full snapshot carries them (docs/snapshot-format.md):
	 * a change of an edge, and a new uid of an identity that has one,
	 * queue a full publication, as a registry group change does.  (A
	 * deleted identity's edges go with it, ON DELETE CASCADE, which fires
	 * the delete trigger.)  Actions, scopes and reason are not in the
	 * snapshot: changing them publishes nothing new. */
	"CREATE TRIGGER snap_deleg_ins AFTER INSERT ON delegation " SNAP_TRACKED " BEGIN"
	" INSERT INTO snap_pending (name) VALUES (''); END;"
	"CREATE TRIGGER snap_deleg_upd AFTER UPDATE ON delegation WHEN (OLD.from_id IS NOT NEW.from_id"
	" OR OLD.to_id IS NOT NEW.to_id OR OLD.expires IS NOT NEW.expires) AND " SNAP_NO_FULL " BEGIN"
	" INSERT INTO snap_pending (name) VALUES (''); END;"
	"CREATE TRIGGER snap_deleg_del AFTER DELETE ON delegation " SNAP_TRACKED " BEGIN"
	" INSERT INTO snap_pending (name) VALUES (''); END;"
	"CREATE TRIGGER snap_deleg_uid AFTER UPDATE OF uid ON identity WHEN OLD.uid IS NOT NEW.uid"
	" AND EXISTS (SELECT 1 FROM delegation WHERE from_id = NEW.id OR to_id = NEW.id)"
	" AND " SNAP_NO_FULL " BEGIN"
	" INSERT INTO snap_pending (name) VALUES (''); END;",
	/* 8 -> 9: audit and discovery (issue 15).  Labels ("key=value,...",
	 * sorted by key) on identities and resources (NHI8: environments);
	 * how often a credential was used (cred verify, sshd's key lookups);
	 * the human uses of an identity pam_nhi recorded (NHI10), kept as
	 * evidence: when, where, who (RUSER), the tty and pam_nhi's reason. */
	"ALTER TABLE identity ADD COLUMN labels TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE resource ADD COLUMN labels TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE credential ADD COLUMN use_count INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE human_use ("
	" id INTEGER PRIMARY KEY,"
	" identity_id INTEGER NOT NULL REFERENCES identity(id) ON DELETE CASCADE,"
	" at INTEGER NOT NULL, host TEXT NOT NULL, service TEXT NOT NULL,"
	" ruser TEXT NOT NULL DEFAULT '', tty TEXT NOT NULL DEFAULT '',"
	" reason TEXT NOT NULL);"
	"CREATE INDEX human_use_identity ON human_use(identity_id, at);",
	/* 9 -> 10: declarative state (issue 16).  What `nhictl apply` created
	 * (or took over) is marked: only those rows may its --prune remove.
	 * Not in the snapshot. */
	"ALTER TABLE identity ADD COLUMN applied INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE resource ADD COLUMN applied INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE access ADD COLUMN applied INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE delegation ADD COLUMN applied INTEGER NOT NULL DEFAULT 0;",
	/* 10 -> 11: directory entries held back by sync's conflict rule (issue
	 * 17, dirstore.c): two entries with one name or one uidNumber are
	 * both kept out of the identity table (and so the snapshot) on every
	 * host, by entryUUID, until the directory holds one of them only. */
	"CREATE TABLE dir_conflict ("
	" entry_uuid TEXT PRIMARY KEY,"
	" name TEXT NOT NULL, uid INTEGER NOT NULL,"
	" dn TEXT NOT NULL DEFAULT '',"
	" since INTEGER NOT NULL);",
	/* 11 -> 12: the snapshot's delegation slots are keyed by FROM's name
	 * (docs/snapshot-format.md, NHI_SNAP_F_DELEG 0x10): a new name of an
	 * identity that has an edge from it (a directory entry renamed, synced)
	 * queues a full publication, so its delegations hold under the new
	 * name at once; and one full publication now, so the base on disk
	 * (which may carry the old uid-keyed table, NHI_SNAP_F_DELEG_V1,
	 * ignored by readers) gets the new table at the next publication. */
	"CREATE TRIGGER snap_deleg_name AFTER UPDATE OF name ON identity WHEN OLD.name IS NOT NEW.name"
	" AND EXISTS (SELECT 1 FROM delegation WHERE from_id = NEW.id)"
	" AND " SNAP_NO_FULL " BEGIN"
	" INSERT INTO snap_pending (name) VALUES (''); END;"
	"INSERT OR IGNORE INTO snap_pending (name) VALUES ('');",
	/* 12 -> 13: the intent journal (backend = ldap, issue 18, intent.c):
	 * a verb's change recorded, in its own committed transaction, before
	 * it is written to the directory, and deleted in the transaction of
	 * its audit event; one a killed run left behind is resolved by the
	 * next writing run (upkeep.c: intent_recover) from what the
	 * directory holds, with the verb's event marked recovered, exactly
	 * once. */
	"CREATE TABLE intent ("
	" id INTEGER PRIMARY KEY,"
	" action TEXT NOT NULL,"
	" target TEXT NOT NULL,"
	" kind TEXT NOT NULL,"
	" key TEXT NOT NULL DEFAULT '',"
	" change TEXT NOT NULL DEFAULT '',"
	" actor TEXT NOT NULL,"
	" reason TEXT NOT NULL DEFAULT '',"
	" started INTEGER NOT NULL,"
	" pid INTEGER NOT NULL,"
	" pid_start TEXT NOT NULL DEFAULT '');",
};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

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

		if (reg_exec_plain(x, "BEGIN IMMEDIATE") < 0)
			return NHI_ERR_DB;
		r = reg_exec_plain(x, migrations[v]);
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %lld", (long long)v + 1);
		if (r == 0)
			r = reg_exec_plain(x, pragma);
		if (r == 0)
			r = reg_exec_plain(x, "COMMIT");
		if (r < 0) {
			sqlite3_exec(x->db, "ROLLBACK", NULL, NULL, NULL);
			return r;
		}
	}
	return 0;
}

/* "file:" URI of a path (RFC 3986 percent-encoding of what SQLite's URI
 * parser would take for itself: '%', '?', '#') with ?immutable=1 */
static int immutable_uri(char *out, size_t len, const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (len < 6)
		return -1;
	memcpy(out, "file:", 5);
	o = 5;
	for (const char *p = path; *p != '\0'; p++) {
		if (o + 4 >= len)
			return -1;
		if (*p == '%' || *p == '?' || *p == '#') {
			out[o++] = '%';
			out[o++] = hex[(unsigned char)*p >> 4];
			out[o++] = hex[(unsigned char)*p & 15];
		} else {
			out[o++] = *p;
		}
	}
	if (o + sizeof("?immutable=1") > len)
		return -1;
	memcpy(out + o, "?immutable=1", sizeof("?immutable=1"));
	return 0;
}

/* The state directory on a read-only filesystem (a rescue boot, a
 * read-only container volume): SQLite cannot open a WAL database there
 * (it needs the -shm beside it), but nothing can change the file either,
 * so it is read as immutable.  What would write says so (reg_dberr). */
static int open_readonly(struct nhictl *x)
{
	char uri[PATH_MAX + 64], wal[PATH_MAX + 8];
	struct stat st;
	int64_t v = 0;

	if (x->reg_created)
		return nerr(x, NHI_ERR_IO, "%s is missing and %s is on a read-only filesystem",
			    x->conf.registry_path, x->conf.state_dir);
	if (x->want_write)
		return nerr(x, NHI_ERR_IO, "%s is on a read-only filesystem: '%s' changes the "
			    "registry (remount it read-write)", x->conf.state_dir, x->verb);
	/* committed transactions still in the write-ahead log would be
	 * missed by an immutable read */
	if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", x->conf.registry_path) < sizeof(wal) &&
	    stat(wal, &st) == 0 && st.st_size > 0)
		return nerr(x, NHI_ERR_IO, "%s is on a read-only filesystem and %s holds changes "
			    "not yet in registry.db: remount it read-write to read them",
			    x->conf.state_dir, wal);
	if (immutable_uri(uri, sizeof(uri), x->conf.registry_path) < 0)
		return nerr(x, NHI_ERR_RANGE, "%s: path too long", x->conf.registry_path);
	if (sqlite3_open_v2(uri, &x->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		reg_dberr(x);
		reg_close(x);
		return NHI_ERR_DB;
	}
	x->db_readonly = 1;
	sqlite3_extended_result_codes(x->db, 1);
	if (reg_int(x, &v, 0, "PRAGMA user_version", "") < 0 ||
	    reg_exec_plain(x, "PRAGMA foreign_keys = ON") < 0) {
		reg_close(x);
		return NHI_ERR_DB;
	}
	if (v != N_MIGRATIONS) {
		nerr(x, 0, "%s: schema version %lld, this nhictl's is %d: %s is on a read-only "
		     "filesystem, where it cannot be migrated", x->conf.registry_path,
		     (long long)v, N_MIGRATIONS, x->conf.state_dir);
		reg_close(x);
		return NHI_ERR_VERSION;
	}
	if (regstate_opened(x) < 0) {
		reg_close(x);
		return NHI_ERR_DB;
	}
	return 0;
}

/* Can only root change the state directory and every directory above it
 * (nhi_dir_check, as publish will require)?  A part not made yet is
 * made by mkdirs below, root's, inside what was checked. */
static int state_dir_trusted(struct nhictl *x)
{
	char err[2 * PATH_MAX + 256], name[PATH_MAX + 16];
	int r;

	snprintf(name, sizeof(name), "state_dir %s", x->conf.state_dir);
	r = nhi_dir_check(x->conf.state_dir, name, err, sizeof(err));
	return r < 0 ? nerr(x, r, "%s (nothing written)", err) : 0;
}

int reg_open(struct nhictl *x)
{
	const char *gone = NULL;  /* why there is no registry yet */
	struct statvfs vfs;
	struct stat st;
	mode_t old;
	int r;

	if (x->db != NULL)
		return 0;
	x->db_readonly = 0;
	/* from nothing only on a fresh host (regstate.c); nothing created
	 * when refused */
	if (stat(x->conf.registry_path, &st) < 0)
		gone = errno == ENOENT ? "missing" : NULL;
	else if (S_ISREG(st.st_mode) && st.st_size == 0)
		gone = "empty (0 bytes)";  /* SQLite would take it for a new registry */
	/* what writes there (the registry, the snapshot, the key files) must
	 * be where nobody but root can swap them: refused before anything is
	 * written (publish's nhi_write_atomic would refuse only after the
	 * commit) */
	if ((x->want_write || gone != NULL) && (r = state_dir_trusted(x)) < 0)
		return r;
	if (gone != NULL) {
		if (regstate_missing(x, gone) < 0)
			return NHI_ERR_STATE;
		x->reg_created = 1;
	}
	if (stat(x->conf.state_dir, &st) < 0) {
		if (errno != ENOENT || mkdirs(x->conf.state_dir, 0755) < 0)
			return nerr(x, NHI_ERR_IO, "%s: %s", x->conf.state_dir, strerror(errno));
	}
	if (statvfs(x->conf.state_dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
		return open_readonly(x);
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
	if (reg_exec_plain(x, "PRAGMA journal_mode = WAL") < 0 ||
	    reg_exec_plain(x, "PRAGMA foreign_keys = ON") < 0 ||
	    reg_exec_plain(x, "PRAGMA synchronous = FULL") < 0 ||
	    migrate(x) < 0 || regstate_opened(x) < 0) {
		reg_close(x);
		return NHI_ERR_DB;
	}
	return 0;
}

/* dirstore.c - identities read from the directory into the registry
 * (backend = ldap): the registry side of dirmap.h.
 *
 * A registry row mirrors one directory entry, keyed by its entryUUID
 * (identity.entry_uuid), so renames and re-creations under the same name
 * are told apart.  The rows are written in the caller's transaction; the
 * caller commits (and so publishes) once for a whole sync or write verb.
 *
 * A write verb's read-back (strict 0) trusts the entry it just wrote: the
 * verb checked name and uid against the directory, so another row holding
 * either is stale and is removed.
 *
 * sync (strict 1) applies the conflict rule (issue 17): a replicated
 * directory can hold two entries with one uidNumber, or one name (uid)
 * under two DNs.  Neither can be served safely (NSS would map one uid to
 * two names, PAM could admit the wrong one), and "keep one" would keep
 * whichever came first in this host's search: so BOTH are held back, on
 * every host, whatever the order: each is recorded in dir_conflict (by
 * entryUUID, with its name and uid) and has no identity row, so the
 * snapshot does not have it and PAM denies it (fails closed).  The rule is
 * a closure: an entry sharing a name or uid with a held entry is held too.
 * dir_conflict_release brings back held entries no longer sharing
 * anything (the other one fixed or deleted), read again from the
 * directory by sync.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "dirstore.h"

#define STORE_COLS IDENT_COLS ", owner_dn, entry_uuid, dir_last_used"

/* entryUUIDs are compared in lower case (RFC 4122 text form). */
static void norm_uuid(const char *in, char *out, size_t len)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < len; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A comma-separated list, sorted and without empty items or duplicates
 * (the order of LDAP values is not significant; the registry lists them
 * sorted). */
static void norm_list(const char *in, char *out, size_t len)
{
	char buf[1024], *items[256], *p, *save = NULL;
	size_t n = 0, i, used = 0;

	snprintf(buf, sizeof(buf), "%s", in);
	for (p = strtok_r(buf, ",", &save); p != NULL && n < 256; p = strtok_r(NULL, ",", &save))
		if (*p != '\0')
			items[n++] = p;
	qsort(items, n, sizeof(items[0]), cmp_str);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		int k;

		if (i > 0 && strcmp(items[i], items[i - 1]) == 0)
			continue;
		k = snprintf(out + used, len - used, "%s%s", used ? "," : "", items[i]);
		if (k < 0 || (size_t)k >= len - used)
			break;
		used += (size_t)k;
	}
}

/* Delete one row and what hangs off it (hosts, services and usage go by
 * ON DELETE CASCADE; credentials are the identity's children in the
 * directory too). */
static int forget_row(struct nhictl *x, int64_t rid)
{
	int r = reg_exec(x, "DELETE FROM credential WHERE identity_id = ?", "i", rid);

	if (r == 0)
		r = reg_exec(x, "DELETE FROM identity WHERE id = ?", "i", rid);
	return r;
}

static int put_list(struct nhictl *x, int64_t rid, const char *csv, int hosts)
{
	char buf[1024], *p, *save = NULL;
	int r;

	r = reg_exec(x, hosts ? "DELETE FROM identity_host WHERE identity_id = ?"
			      : "DELETE FROM identity_service WHERE identity_id = ?", "i", rid);
	snprintf(buf, sizeof(buf), "%s", csv);
	for (p = strtok_r(buf, ",", &save); r == 0 && p != NULL; p = strtok_r(NULL, ",", &save))
		r = reg_exec(x, hosts ? "INSERT OR IGNORE INTO identity_host VALUES (?, ?)"
				      : "INSERT OR IGNORE INTO identity_service VALUES (?, ?)",
			     "is", rid, p);
	return r;
}

/* The stored row 'rid': identity fields, owner_dn, entry_uuid and the
 * directory's last-used time. */
static int load_row(struct nhictl *x, int64_t rid, struct ident *cur, char *owner_dn,
		    size_t dnlen, char *uuid, size_t ulen, int64_t *dir_last_used)
{
	sqlite3_stmt *st = reg_prep(x, "SELECT " STORE_COLS " FROM identity WHERE id = ?", "i", rid);
	const unsigned char *t;
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	r = sqlite3_step(st);
	if (r != SQLITE_ROW) {
		sqlite3_finalize(st);
		return r == SQLITE_DONE ? NHI_ERR_NOTFOUND : reg_dberr(x);
	}
	r = ident_from_row(x, st, cur);
	t = sqlite3_column_text(st, IDENT_NCOLS);
	snprintf(owner_dn, dnlen, "%s", t ? (const char *)t : "");
	t = sqlite3_column_text(st, IDENT_NCOLS + 1);
	snprintf(uuid, ulen, "%s", t ? (const char *)t : "");
	*dir_last_used = sqlite3_column_int64(st, IDENT_NCOLS + 2);
	sqlite3_finalize(st);
	return r;
}

static int same(const struct ident *a, const struct ident *b)
{
	return strcmp(a->name, b->name) == 0 && strcmp(a->kind, b->kind) == 0 &&
	       strcmp(a->state, b->state) == 0 && strcmp(a->gecos, b->gecos) == 0 &&
	       strcmp(a->home, b->home) == 0 && strcmp(a->shell, b->shell) == 0 &&
	       strcmp(a->owner, b->owner) == 0 && strcmp(a->purpose, b->purpose) == 0 &&
	       strcmp(a->retire_reason, b->retire_reason) == 0 &&
	       strcmp(a->hosts, b->hosts) == 0 && strcmp(a->services, b->services) == 0 &&
	       strcmp(a->labels, b->labels) == 0 &&
	       a->uid == b->uid && a->gid == b->gid && a->created == b->created &&
	       a->expires == b->expires && a->review_interval == b->review_interval &&
	       a->last_review == b->last_review && a->review_due == b->review_due &&
	       a->orphaned_since == b->orphaned_since && a->retired_at == b->retired_at &&
	       a->last_used == b->last_used && a->applied == b->applied;
}

/* The conflict rule (strict): does another row (not 'rid') or another
 * held entry (not u) share id's name or uid?  If so, those rows are
 * held too (moved into dir_conflict), and so is this entry (its row
 * 'rid', if any, removed): *held = 1.  If not, the entry is no longer
 * held: *held = 0. */
static int conflict_hold(struct nhictl *x, const struct ident *id, const char *u,
			 const char *dn, int64_t rid, int *held)
{
	int64_t n_rows = 0, n_held = 0;
	int r;

	*held = 0;
	if (reg_int(x, &n_rows, 0, "SELECT count(*) FROM identity WHERE (name = ? OR uid = ?) "
		    "AND id != ? AND entry_uuid IS NOT NULL", "sui", id->name, id->uid, rid) < 0 ||
	    reg_int(x, &n_held, 0, "SELECT count(*) FROM dir_conflict WHERE (name = ? OR uid = ?) "
		    "AND entry_uuid != ?", "sus", id->name, id->uid, u) < 0)
		return NHI_ERR_DB;
	if (n_rows + n_held == 0)
		return reg_exec(x, "DELETE FROM dir_conflict WHERE entry_uuid = ?", "s", u);
	*held = 1;
	/* the rows it meets are held from now on (rows without an entryUUID
	 * are not the directory's: they just go) */
	r = reg_exec(x, "INSERT OR IGNORE INTO dir_conflict (entry_uuid, name, uid, since) "
		     "SELECT entry_uuid, name, uid, ? FROM identity WHERE (name = ? OR uid = ?) "
		     "AND id != ? AND entry_uuid IS NOT NULL", "isui", (int64_t)x->now, id->name,
		     id->uid, rid);
	while (r == 0) {
		int64_t other = 0;

		if (reg_int(x, &other, 0, "SELECT id FROM identity WHERE (name = ? OR uid = ?) AND "
			    "id != ? LIMIT 1", "sui", id->name, id->uid, rid) < 0)
			return NHI_ERR_DB;
		if (other == 0)
			break;
		r = forget_row(x, other);
	}
	if (r == 0 && rid != 0)
		r = forget_row(x, rid);
	if (r == 0)
		r = reg_exec(x, "INSERT INTO dir_conflict (entry_uuid, name, uid, dn, since) "
			     "VALUES (?, ?, ?, ?, ?) ON CONFLICT (entry_uuid) DO UPDATE SET "
			     "name = excluded.name, uid = excluded.uid, dn = excluded.dn",
			     "ssusi", u, id->name, id->uid, dn ? dn : "", (int64_t)x->now);
	return r;
}

/* Remove rows other than 'keep' that hold this name or uid. */
/* Said and recorded when the entry of a name is another one now: deleted
 * and made again, or (replicated directory) another provider's create of
 * the same name won over the one this registry knew. */
static int say_replaced(struct nhictl *x, const struct ident *id, const char *uuid,
			const char *owner_dn, const char *was_uuid, const char *was_owner)
{
	nerr(x, 0, "warning: %s: the directory entry this registry knew (entryUUID %s, owner %s) "
	     "was replaced by another (entryUUID %s, owner %s); the directory's stands",
	     id->name, was_uuid, was_owner, uuid, id->owner);
	return reg_event(x, "sync-replaced", id->name, "overwritten", "entryUUID %s -> %s; owner "
			 "%s -> %s%s%s%s", was_uuid, uuid, was_owner, id->owner,
			 owner_dn[0] ? " (" : "", owner_dn, owner_dn[0] ? ")" : "");
}

/* A new row for a name whose row this run forgot (a delete seen first,
 * then the entry that replaced it). */
static int replaced_in_run(struct nhictl *x, const struct ident *id, const char *uuid,
			   const char *owner_dn)
{
	char was_uuid[64] = "", was_owner[64] = "";
	sqlite3_stmt *st;
	int64_t n = 0;
	int r;

	if (reg_int(x, &n, 0, "SELECT count(*) FROM sqlite_temp_master WHERE name = "
		    "'dir_forgotten'", "") < 0)
		return NHI_ERR_DB;
	if (n == 0)
		return 0;
	st = reg_prep(x, "SELECT uuid, owner FROM temp.dir_forgotten WHERE name = ? AND uuid != ?",
		      "ss", id->name, uuid);
	if (st == NULL)
		return NHI_ERR_DB;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		snprintf(was_uuid, sizeof(was_uuid), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(was_owner, sizeof(was_owner), "%s", (const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return reg_dberr(x);
	if (was_uuid[0] == '\0')
		return 0;
	r = say_replaced(x, id, uuid, owner_dn, was_uuid, was_owner);
	if (r == 0)
		r = reg_exec(x, "DELETE FROM temp.dir_forgotten WHERE name = ?", "s", id->name);
	return r;
}

static int drop_conflicts(struct nhictl *x, const struct ident *id, const char *uuid,
			  const char *owner_dn, int64_t keep)
{
	sqlite3_stmt *st;
	int64_t rows[2];
	char was_uuid[2][64], was_owner[2][64];
	int n = 0, i, r;

	st = reg_prep(x, "SELECT id, name, uid, IFNULL(entry_uuid, ''), owner FROM identity "
		      "WHERE (name = ? OR uid = ?) AND id != ?", "sui", id->name, id->uid, keep);
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW && n < 2) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *u = (const char *)sqlite3_column_text(st, 3);
		const char *o = (const char *)sqlite3_column_text(st, 4);

		rows[n] = sqlite3_column_int64(st, 0);
		was_uuid[n][0] = '\0';
		if (name != NULL && strcmp(name, id->name) != 0)
			nerr(x, 0, "warning: uid %u of %s was %s's in the registry; "
			     "%s is removed (two directory entries with one uidNumber?)",
			     id->uid, id->name, name, name);
		else if (uuid[0] != '\0' && u != NULL && u[0] != '\0' && strcmp(u, uuid) != 0) {
			snprintf(was_uuid[n], sizeof(was_uuid[n]), "%s", u);
			snprintf(was_owner[n], sizeof(was_owner[n]), "%s", o ? o : "");
		}
		n++;
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE) {
		sqlite3_finalize(st);
		return reg_dberr(x);
	}
	sqlite3_finalize(st);
	for (i = 0, r = 0; r == 0 && i < n; i++) {
		if (was_uuid[i][0] != '\0')
			r = say_replaced(x, id, uuid, owner_dn, was_uuid[i], was_owner[i]);
		if (r == 0)
			r = forget_row(x, rows[i]);
	}
	if (r == 0 && keep == 0 && uuid[0] != '\0')
		r = replaced_in_run(x, id, uuid, owner_dn);
	return r;
}

int dir_ident_store(struct nhictl *x, const struct ident *id, const char *owner_dn,
		    const char *uuid, const char *dn, int strict, int *changed)
{
	char u[64] = "", cur_dn[1024], cur_uuid[64];
	struct ident want, cur;
	int64_t rid = 0, dir_used = 0;
	int r;

	if (changed != NULL)
		*changed = 0;
	memset(&cur, 0, sizeof(cur));
	if (uuid != NULL)
		norm_uuid(uuid, u, sizeof(u));
	want = *id;
	norm_list(id->hosts, want.hosts, sizeof(want.hosts));
	norm_list(id->services, want.services, sizeof(want.services));
	if (owner_dn == NULL)
		owner_dn = "";

	if (u[0] != '\0' &&
	    reg_int(x, &rid, 0, "SELECT id FROM identity WHERE entry_uuid = ?", "s", u) < 0)
		return NHI_ERR_DB;
	if (rid == 0 &&
	    reg_int(x, &rid, 0, strict && u[0] != '\0'
		    ? "SELECT id FROM identity WHERE name = ? AND entry_uuid IS NULL"
		    : "SELECT id FROM identity WHERE name = ?", "s", id->name) < 0)
		return NHI_ERR_DB;
	if (strict && u[0] != '\0') {
		int held;

		r = conflict_hold(x, &want, u, dn, rid, &held);
		if (r < 0 || held) {
			if (r == 0 && changed != NULL)
				*changed = 3;
			return r;
		}
	}

	if (rid != 0) {
		r = load_row(x, rid, &cur, cur_dn, sizeof(cur_dn), cur_uuid, sizeof(cur_uuid),
			     &dir_used);
		if (r < 0)
			return r;
		/* usage seen on this host and not yet pushed stays */
		if (cur.last_used > want.last_used)
			want.last_used = cur.last_used;
		want.id = cur.id;
		if (same(&cur, &want) && strcmp(cur_dn, owner_dn) == 0 &&
		    strcmp(cur_uuid, u) == 0 && dir_used == id->last_used)
			return 0;
	}
	r = drop_conflicts(x, &want, u, owner_dn, rid);
	if (r < 0)
		return r;
	/* one statement for both: a new row (rid 0: id NULL) or an update */
	r = reg_exec(x, "INSERT INTO identity (id, name, kind, uid, gid, gecos, home, shell, "
		     "owner, owner_dn, purpose, created, expires, review_interval, last_review, "
		     "review_due, state, orphaned_since, retired_at, retire_reason, last_used, "
		     "dir_last_used, entry_uuid, labels, applied) VALUES (nullif(?, 0), ?, ?, ?, ?, ?, "
		     "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
		     "ON CONFLICT (id) DO UPDATE SET applied = excluded.applied, "
		     "name = excluded.name, kind = excluded.kind, uid = excluded.uid, "
		     "gid = excluded.gid, gecos = excluded.gecos, home = excluded.home, "
		     "shell = excluded.shell, owner = excluded.owner, owner_dn = excluded.owner_dn, "
		     "purpose = excluded.purpose, created = excluded.created, "
		     "expires = excluded.expires, review_interval = excluded.review_interval, "
		     "last_review = excluded.last_review, review_due = excluded.review_due, "
		     "state = excluded.state, orphaned_since = excluded.orphaned_since, "
		     "retired_at = excluded.retired_at, retire_reason = excluded.retire_reason, "
		     "last_used = excluded.last_used, dir_last_used = excluded.dir_last_used, "
		     "entry_uuid = excluded.entry_uuid, labels = excluded.labels, "
		     /* who the owner is stays known while the owner does (a new
		      * owner's is recorded at the next re-check); why it was
		      * orphaned, while it is */
		     "owner_id = CASE WHEN owner_dn IS excluded.owner_dn AND owner IS excluded.owner "
		     "THEN owner_id END, orphan_cause = CASE WHEN excluded.orphaned_since = 0 "
		     "THEN '' ELSE orphan_cause END",
		     "issuussssssiiiiisiisiissi", rid, want.name, want.kind, want.uid, want.gid,
		     want.gecos, want.home, want.shell, want.owner, owner_dn, want.purpose,
		     want.created, want.expires, want.review_interval, want.last_review,
		     want.review_due, want.state, want.orphaned_since, want.retired_at,
		     want.retire_reason, want.last_used, id->last_used, u[0] ? u : NULL,
		     want.labels, (int64_t)(want.applied != 0));
	if (rid == 0)
		rid = sqlite3_last_insert_rowid(x->db);
	if (r == 0 && (!cur.id || strcmp(cur.hosts, want.hosts) != 0))
		r = put_list(x, rid, want.hosts, 1);
	if (r == 0 && (!cur.id || strcmp(cur.services, want.services) != 0))
		r = put_list(x, rid, want.services, 0);
	if (r == 0 && changed != NULL)
		*changed = cur.id ? 1 : 2;
	return r;
}

int dir_ident_forget(struct nhictl *x, const char *uuid, int *gone)
{
	char u[64];
	int64_t rid = 0;
	int r;

	if (gone != NULL)
		*gone = 0;
	norm_uuid(uuid, u, sizeof(u));
	if (reg_exec(x, "DELETE FROM dir_conflict WHERE entry_uuid = ?", "s", u) < 0 ||
	    reg_int(x, &rid, 0, "SELECT id FROM identity WHERE entry_uuid = ?", "s", u) < 0)
		return NHI_ERR_DB;
	if (rid == 0)
		return 0;
	/* kept for this run: an entry of the same name that comes next is
	 * this one replaced (dir_ident_store says so) */
	r = reg_exec(x, "CREATE TEMP TABLE IF NOT EXISTS dir_forgotten (name TEXT PRIMARY KEY, "
		     "uuid TEXT NOT NULL, owner TEXT NOT NULL)", "");
	if (r == 0)
		r = reg_exec(x, "INSERT OR REPLACE INTO temp.dir_forgotten SELECT name, entry_uuid, "
			     "owner FROM identity WHERE id = ?", "i", rid);
	if (r == 0)
		r = forget_row(x, rid);
	if (r == 0 && gone != NULL)
		*gone = 1;
	return r;
}

int dir_ident_readback(struct dir *d, const char *name, struct ident *out)
{
	char owner_dn[1024], uuid[64], why[1024] = "";
	int r;

	r = dir_ident_read(d, name, out, owner_dn, sizeof(owner_dn), uuid, sizeof(uuid),
			   why, sizeof(why));
	if (r == 0)
		r = reg_begin(d->x);
	if (r == 0)
		r = dir_ident_store(d->x, out, owner_dn, uuid, NULL, 0, NULL);
	if (r < 0) {
		if (why[0] != '\0' && r != NHI_ERR_DB)
			nerr(d->x, 0, "%s", why);
		return nerr(d->x, NHI_ERR_IO, "the directory was changed, but reading it back "
			    "failed: the local registry is not updated (run 'nhictl sync')");
	}
	return 0;
}

int dir_creds_pull(struct dir *d, const char *name, long long serial)
{
	struct nhictl *x = d->x;
	struct cred *v = NULL;
	int64_t ident_row = 0;
	size_t n = 0, i;
	int r;

	if (reg_int(x, &ident_row, 0, "SELECT id FROM identity WHERE name = ?", "s", name) < 0)
		return NHI_ERR_DB;
	if (ident_row == 0)
		return nerr(x, NHI_ERR_NOTFOUND, "identity '%s' is not in the local registry", name);
	r = dc_creds(d, name, &v, &n);
	if (r < 0)
		return r;
	r = reg_exec(x, "CREATE TEMP TABLE IF NOT EXISTS dc_seen (cred_id TEXT PRIMARY KEY)", "");
	if (r == 0)
		r = reg_exec(x, "DELETE FROM temp.dc_seen", "");
	for (i = 0; r == 0 && i < n; i++) {
		const struct cred *c = &v[i];

		r = reg_exec(x, "INSERT INTO credential (identity_id, cred_id, kind, fingerprint, "
			     "public_part, secret_hash, serial, created, not_after, state, "
			     "grace_until, revoked_at, replaces) "
			     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
			     "ON CONFLICT (cred_id) DO UPDATE SET state = excluded.state, "
			     "not_after = excluded.not_after, grace_until = excluded.grace_until, "
			     "revoked_at = excluded.revoked_at, secret_hash = excluded.secret_hash, "
			     "public_part = excluded.public_part "
			     "WHERE identity_id = excluded.identity_id", "issssssiisiis",
			     ident_row, c->id, c->kind, c->fingerprint, c->public_part, c->hash,
			     c->serial, c->created, c->not_after, c->state, c->grace_until,
			     c->revoked_at, c->replaces);
		if (r == 0)
			r = reg_exec(x, "INSERT OR IGNORE INTO temp.dc_seen VALUES (?)", "s", c->id);
	}
	free(v);
	/* what the directory no longer has is not a credential any more */
	if (r == 0)
		r = reg_exec(x, "UPDATE credential SET state = 'revoked', revoked_at = ? "
			     "WHERE identity_id = ? AND state != 'revoked' AND "
			     "cred_id NOT IN (SELECT cred_id FROM temp.dc_seen)", "ii",
			     (int64_t)x->now, ident_row);
	if (r == 0)
		r = reg_exec(x, "UPDATE identity SET cred_serial = ? WHERE id = ?", "ii",
			     (int64_t)serial, ident_row);
	return r < 0 ? r : 0;
}

int dir_creds_refresh(struct dir *d, const char *name)
{
	long long serial;

	if (dc_read(d, name, &serial, NULL, 0) != 0)
		return NHI_ERR_IO;
	return dir_creds_pull(d, name, serial);
}

/* The held entries that share nothing any more, as one condition. */
#define RELEASABLE "SELECT entry_uuid FROM dir_conflict c WHERE NOT EXISTS (SELECT 1 FROM " \
	"dir_conflict o WHERE o.entry_uuid != c.entry_uuid AND (o.name = c.name OR " \
	"o.uid = c.uid)) AND NOT EXISTS (SELECT 1 FROM identity i WHERE i.name = c.name " \
	"OR i.uid = c.uid)"

void dir_strings_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int dir_strings_of(struct nhictl *x, sqlite3_stmt *st, char ***out, size_t *n)
{
	char **v = NULL, **nv;
	int r;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		nv = realloc(v, (*n + 1) * sizeof(*v));
		if (nv == NULL) {
			r = SQLITE_NOMEM;
			break;
		}
		v = nv;
		if ((v[*n] = strdup((const char *)sqlite3_column_text(st, 0))) == NULL) {
			r = SQLITE_NOMEM;
			break;
		}
		(*n)++;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		r = r == SQLITE_NOMEM ? nerr(x, NHI_ERR_NOMEM, "out of memory") : reg_dberr(x);
		dir_strings_free(v, *n);
		*n = 0;
		return r;
	}
	*out = v;
	return 0;
}

int dir_conflict_release(struct nhictl *x, char ***uuids, size_t *n)
{
	int r;

	r = dir_strings_of(x, reg_prep(x, RELEASABLE " ORDER BY entry_uuid", ""), uuids, n);
	if (r == 0)
		r = reg_exec(x, "DELETE FROM dir_conflict WHERE entry_uuid IN (" RELEASABLE ")", "");
	if (r < 0) {
		dir_strings_free(*uuids, *n);
		*uuids = NULL;
		*n = 0;
	}
	return r;
}

int dir_conflicts(struct nhictl *x, struct dir_conflict **out, size_t *n)
{
	sqlite3_stmt *st;
	struct dir_conflict *v = NULL, *nv;
	int r, i;

	*out = NULL;
	*n = 0;
	/* one row per pair, each pair once, in an order of the entries' own
	 * values only: the same list on every host */
	st = reg_prep(x, "SELECT a.name, a.uid, a.entry_uuid, a.dn, b.name, b.uid, b.entry_uuid, "
		      "b.dn, min(a.since, b.since) FROM dir_conflict a JOIN dir_conflict b ON "
		      "a.entry_uuid < b.entry_uuid AND (a.name = b.name OR a.uid = b.uid) "
		      "ORDER BY a.uid, a.name, a.entry_uuid, b.entry_uuid", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct dir_conflict c;

		memset(&c, 0, sizeof(c));
		for (i = 0; i < 2; i++) {
			const unsigned char *t;

			t = sqlite3_column_text(st, 4 * i);
			snprintf(c.e[i].name, sizeof(c.e[i].name), "%s", t ? (const char *)t : "");
			c.e[i].uid = (uint32_t)sqlite3_column_int64(st, 4 * i + 1);
			t = sqlite3_column_text(st, 4 * i + 2);
			snprintf(c.e[i].uuid, sizeof(c.e[i].uuid), "%s", t ? (const char *)t : "");
			t = sqlite3_column_text(st, 4 * i + 3);
			snprintf(c.e[i].dn, sizeof(c.e[i].dn), "%s", t ? (const char *)t : "");
		}
		c.same_name = strcmp(c.e[0].name, c.e[1].name) == 0;
		c.same_uid = c.e[0].uid == c.e[1].uid;
		c.since = sqlite3_column_int64(st, 8);
		nv = realloc(v, (*n + 1) * sizeof(*v));
		if (nv == NULL) {
			r = SQLITE_NOMEM;
			break;
		}
		v = nv;
		v[(*n)++] = c;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		free(v);
		*n = 0;
		return r == SQLITE_NOMEM ? nerr(x, NHI_ERR_NOMEM, "out of memory") : reg_dberr(x);
	}
	*out = v;
	return 0;
}

/* A write that the directory does not show when read back (dirstore.h). */
int dir_confirm_failed(struct nhictl *x, const char *action, const char *name,
			const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* this event ends the run's intent (reg_commit deletes it) */
	if (reg_event(x, action, name, "overwritten", "the directory now holds %s%s", what,
		      x->store->audit_tag) < 0 || reg_commit(x) < 0)
		reg_rollback(x);
	return nerr(x, NHI_ERR_CONFLICT, "the directory now holds %s: another writer or a "
		    "replica changed %s", what, name);
}

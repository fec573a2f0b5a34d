/* cmd_sync.c - `nhictl sync`: the registry as a cache of the directory
 * (backend = ldap, issue 3).
 *
 * RFC 4533 content synchronisation in refreshOnly mode, written against
 * libldap's plain message API (the request control built with ber_printf,
 * the state/done controls and sync info messages parsed with ber_scanf):
 *
 *   - no cookie (first sync, or the server answered e-syncRefreshRequired
 *     (4096) to ours): initial content, every entry sent; whatever the
 *     registry holds that was not sent is removed;
 *   - with a cookie: only the changes since, ending in a delete phase
 *     (deleted entries named, one by one or in syncIdSets with
 *     refreshDeletes TRUE) or a present phase (unchanged entries named as
 *     present, often as syncIdSets; the rest are gone).
 *
 * Without the sync control in the root DSE (no syncprov), or with --full,
 * a paged search reads every identity and deletes are found by comparing
 * the sets of entryUUIDs.  The entryUUIDs seen are kept in a temporary
 * table; dirstore.c writes the rows.
 *
 * Everything - the changes, the orphans found, the usage ingested and the
 * new cookie - is written in ONE transaction, held from before the search
 * to the commit (so a write verb's read-your-writes row cannot be lost to
 * a concurrent sync's older view).  Any failure rolls it all back: the
 * registry, the snapshot and the old cookie stay as they were.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "cmd.h"
#include "ldap.h"
#include "dirmap.h"
#include "dirstore.h"
#include "diraccess.h"
#include "dirstore_access.h"
#include "store_ldap_access.h"

#define PAGE_SIZE 1000
/* identities are directly below ldap_base (dir_ident_dn); resources below
 * ou=resources, grants and delegations below their identity: the subtree,
 * in one search (one cookie) */
#define SYNC_FILTER DA_SYNC_FILTER
/* meta key: the cookie is one of this search (older ones were of the
 * identities alone, one level: reload once) */
#define SYNC_SCOPE "ident+access"
#define REFRESH_REQUIRED 1   /* e-syncRefreshRequired (4096): reload */
#define NO_SYNC_HERE 2       /* the Sync control refused here (a consumer without
                              * syncprov while another database has it): scan */

static const char sync_help[] =
	"usage: nhictl sync [--full] [--force] [--json]\n"
	"       nhictl sync --condition\n"
	"\n"
	"Bring the registry (and so the snapshot PAM and NSS read) up to date with\n"
	"the directory (backend = ldap).  RFC 4533 content synchronisation: only\n"
	"the changes since the last sync travel, named by the cookie kept in\n"
	"registry.db; entries deleted in the directory are removed.  A server\n"
	"without the sync control (no syncprov) gets a full scan instead.\n"
	"Each sync also re-checks every owner against ldap_people_base and\n"
	"ldap_owner_filter: an identity whose owner is gone or no longer live\n"
	"becomes orphaned (nhiOrphanedSince = now), in the directory and here;\n"
	"pam_nhi denies it once orphan_grace has passed.  The owner's entryUUID\n"
	"is recorded: another entry under the owner's DN is another person (the\n"
	"identity is orphaned); an owner live again (unlocked) brings back what\n"
	"this host orphaned for that lock.  A sync that would\n"
	"orphan more than orphan_max identities at once stops before changing\n"
	"anything (exit 1) and says so.  Usage records of\n"
	"usage_log are pushed to the directory as nhiLastUsed (when newer).\n"
	"Resources, grants and delegations come in the same search: added,\n"
	"changed and deleted entries reach the registry (one that names an\n"
	"identity, resource or credential this host lacks is skipped, named).\n"
	"The credentials of an identity whose nhiSerial changed are read; old\n"
	"credentials whose grace window ended are revoked in the directory (an\n"
	"old password stops binding); interrupted rotations are resolved.\n"
	"A retired identity's grants and delegations that came back through\n"
	"replication (written elsewhere while it was retired) are removed, in\n"
	"the directory and here, with a warning.\n"
	"\n"
	"  --full       read every identity (a paged search) and reconcile\n"
	"               deletes by entryUUID, whatever the cookie says\n"
	"  --force      orphan past orphan_max (the owners really are gone)\n"
	"  --json       a summary: mode (incremental, full or scan), added,\n"
	"               changed, deleted (identities), access_added,\n"
	"               access_changed, access_deleted (resources, grants,\n"
	"               delegations), orphaned, invalid, usage_pushed,\n"
	"               credentials_pulled, credentials_expired, refused_writes,\n"
	"               late_entries (read apart: newer than the server's\n"
	"               contextCSN, below), conflicts (pairs held by the\n"
	"               conflict rule), duration\n"
	"               (seconds), server\n"
	"  --condition  exit 0 when backend = ldap, 1 otherwise; nothing else\n"
	"               (ExecCondition of nhi-sync.service)\n"
	"\n"
	"A refresh leaves out entries newer than the server's contextCSN (slapd\n"
	"can keep it behind a committed write until the next one); sync reads\n"
	"those with a plain search (entryCSN after each CSN of the cookie, for\n"
	"that server ID) and stores them too.\n"
	"\n"
	"Progress is shown on a terminal; otherwise sync is silent unless\n"
	"something changed.  When the directory is unreachable or fails during\n"
	"the sync: exit 1 with one line; the registry, the snapshot and the\n"
	"cookie are left exactly as they were.\n"
	"\n"
	"Two identity entries with one uidNumber, or one name under two DNs (a\n"
	"replication conflict), are BOTH held back on every host (neither in the\n"
	"snapshot): each pair is named on one line, and sync exits 3 while the\n"
	"directory holds both.\n";

struct row {
	int64_t id, t;
	char *a, *b;
};

struct checked_owner {
	struct row o;                  /* a: owner DN, b: owner name */
	int r;                         /* dir_owner_lookup: 0, NOTFOUND, PERM */
	char uuid[64];                 /* the owner's entryUUID now */
	char why[1024];
};

struct sync {
	struct nhictl *x;
	struct dir d;
	struct berval cookie;          /* malloc'd; bv_val NULL = none */
	int present;                   /* a present phase: unseen rows go */
	int reload;                    /* initial content (no cookie sent) */
	const char *mode;
	long entries, added, changed, deleted, orphaned, invalid, pushed;
	long held;                     /* entries held by the conflict rule (seen now) */
	long late;                     /* entries the refresh left out (catch_up) */
	long creds;                    /* identities whose credentials were pulled */
	long swept;                    /* credentials whose grace ended */
	long refused;                  /* writes the directory refused (access) */
	char refused_why[1024];        /* the first one's reason */
	struct checked_owner *dead;    /* owners with identities to change */
	size_t n_dead;
	long would_orphan;             /* identities they would orphan */
	long back;                     /* identities whose owner is live again */
	int force;                     /* --force: past orphan_max */
	int bulk;                      /* reg_snap_full done: many changes */
	int progress;                  /* stderr is a terminal */
	int shown;                     /* a progress line is on it */
	struct timespec t0, last_progress;
	char server[1024];
	struct dirstore_batch acc;     /* resources, grants, delegations */
	long acc_deleted;
};

static double since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

static void progress(struct sync *s, int done)
{
	if (!s->progress || (done && !s->shown))
		return;
	if (!done && since(&s->last_progress) < 0.25)
		return;
	clock_gettime(CLOCK_MONOTONIC, &s->last_progress);
	s->shown = !done;
	if (done)
		fputs("\r\033[K", stderr);
	else
		fprintf(stderr, "\rnhictl: sync: %ld entries (%ld added, %ld changed, %ld deleted)",
			s->entries, s->added, s->changed, s->deleted);
	fflush(stderr);
}

static int set_cookie(struct sync *s, const struct berval *c)
{
	char *v = NULL;

	if (c != NULL && c->bv_len > 0) {
		v = malloc(c->bv_len);
		if (v == NULL)
			return nerr(s->x, NHI_ERR_NOMEM, "out of memory");
		memcpy(v, c->bv_val, c->bv_len);
	}
	free(s->cookie.bv_val);
	s->cookie.bv_val = v;
	s->cookie.bv_len = v ? c->bv_len : 0;
	return 0;
}

/* ---- sync state in registry.db ------------------------------------- */

static int load_cookie(struct sync *s)
{
	sqlite3_stmt *st = reg_prep(s->x, "SELECT cookie FROM sync_state WHERE id = 1 AND "
				    "(SELECT value FROM meta WHERE key = 'sync_scope') = ?", "s",
				    SYNC_SCOPE);
	struct berval c = { 0, NULL };
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		c.bv_val = (char *)sqlite3_column_blob(st, 0);
		c.bv_len = (ber_len_t)sqlite3_column_bytes(st, 0);
	}
	r = (r == SQLITE_ROW || r == SQLITE_DONE) ? set_cookie(s, &c) : reg_dberr(s->x);
	sqlite3_finalize(st);
	return r;
}

static int save_state(struct sync *s)
{
	sqlite3_stmt *st = reg_prep(s->x, "UPDATE sync_state SET cookie = ?, server = ?, "
				    "last_sync = ?, last_mode = ? WHERE id = 1", "");
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	if (s->cookie.bv_val != NULL)
		sqlite3_bind_blob(st, 1, s->cookie.bv_val, (int)s->cookie.bv_len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 1);
	sqlite3_bind_text(st, 2, s->server, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, (int64_t)s->x->now);
	sqlite3_bind_text(st, 4, s->mode, -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : reg_dberr(s->x);
	sqlite3_finalize(st);
	if (r == 0)
		r = reg_exec(s->x, "INSERT OR REPLACE INTO meta VALUES ('sync_scope', ?)", "s",
			     SYNC_SCOPE);
	return r;
}

/* ---- entries --------------------------------------------------------- */

/* The 16 bytes of a syncUUID as the text form of entryUUID. */
static int uuid_text(const struct berval *raw, char out[37])
{
	const unsigned char *u = (const unsigned char *)raw->bv_val;
	size_t i, o = 0;

	if (raw->bv_len != 16)
		return -1;
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		snprintf(out + o, 3, "%02x", u[i]);
		o += 2;
	}
	out[o] = '\0';
	return 0;
}

static int mark_seen(struct sync *s, const char *uuid)
{
	return reg_exec(s->x, "INSERT OR IGNORE INTO temp.sync_seen VALUES (?)", "s", uuid);
}

static int forget(struct sync *s, const char *uuid)
{
	int gone = 0, r = dir_ident_forget(s->x, uuid, &gone);

	s->deleted += gone;
	if (r == 0 && !gone) {   /* a resource, grant or delegation? */
		r = dirstore_access_forget(s->x, uuid, &gone);
		s->acc_deleted += gone;
	}
	return r;
}

/* Every change of an identity's credentials moves its nhiSerial
 * (dircred.h): an entry whose serial is not the one its credentials were
 * last pulled at gets them pulled (one search below it).  So does every
 * changed entry that holds credentials (serial > 0) even when its serial
 * is the one pulled: two hosts that changed credentials of one identity
 * through two providers at once both moved the serial from N to N + 1,
 * and replication keeps one identity entry with N + 1 and both new
 * credential entries; the serial alone would hide the other host's from
 * each (seen: a token rotated on both at once verified only on the host
 * that issued it).  An entry comes to sync only when it changed since the
 * last one. */
static int pull_creds(struct sync *s, LDAPMessage *e, const char *name)
{
	char buf[32];
	long long serial = 0;
	int64_t have = 0;

	if (dir_first_value(s->d.ld, e, "nhiSerial", buf, sizeof(buf)) > 0)
		serial = strtoll(buf, NULL, 10);
	if (reg_int(s->x, &have, 0, "SELECT cred_serial FROM identity WHERE name = ?", "s",
		    name) < 0)
		return NHI_ERR_DB;
	if (serial == have && serial == 0)
		return 0;
	if (dir_creds_pull(&s->d, name, serial) != 0)
		return NHI_ERR_IO;
	s->creds++;
	return 0;
}


/* Once this sync has changed more identities than a snapshot delta may
 * hold, its publication will be full: stop recording them one by one. */
static int bulk_check(struct sync *s)
{
	if (s->bulk || s->added + s->changed + s->deleted <= (long)s->x->conf.snapshot_delta_max)
		return 0;
	s->bulk = 1;
	return reg_snap_full(s->x);
}

/* An added or changed entry: convert and store.  An entry that is not a
 * valid identity (bad time, missing attribute, bad name) is removed from
 * the registry, so PAM denies it, and named on stderr. */
static int store_entry(struct sync *s, LDAPMessage *e, const char *uuid)
{
	char owner_dn[1024], euuid[64], why[1024];
	struct ident id;
	int r, ch = 0;

	if (da_entry_type(s->d.ld, e) != DA_IDENTITY) {
		/* resources now, grants and delegations once all is read */
		s->acc.uuid = uuid;
		r = da_convert(&s->d, e, dirstore_batch_add, &s->acc);
		s->acc.uuid = NULL;
		return r;
	}
	if (!da_ident_in_place(&s->d, e)) {
		char *dn = ldap_get_dn(s->d.ld, e);

		progress(s, 1);
		nerr(s->x, 0, "warning: %s: an identity entry not directly below %s; ignored",
		     dn != NULL ? dn : "?", s->x->conf.ldap_base);
		ldap_memfree(dn);
		s->invalid++;
		return forget(s, uuid);
	}
	r = dir_entry_to_ident(&s->d, e, &id, owner_dn, sizeof(owner_dn), euuid, sizeof(euuid),
			       why, sizeof(why));
	if (r == 0 && (nhi_kind_parse(id.kind) < 0 || nhi_state_parse(id.state) < 0)) {
		snprintf(why, sizeof(why), "%s: nhiKind '%s' / nhiState '%s' not known",
			 id.name, id.kind, id.state);
		r = NHI_ERR_FORMAT;
	}
	if (r == NHI_ERR_FORMAT) {
		progress(s, 1);
		nerr(s->x, 0, "warning: %s; not an identity here", why);
		s->invalid++;
		return forget(s, uuid);
	}
	if (r < 0)
		return nerr(s->x, r, "%s", why);
	{
		char *dn = ldap_get_dn(s->d.ld, e);

		r = dir_ident_store(s->x, &id, owner_dn, uuid, dn != NULL ? dn : "", 1, &ch);
		ldap_memfree(dn);
	}
	if (r == 0 && ch == 3) {
		s->held++;   /* held by the conflict rule: reported at the end */
		return 0;
	}
	if (r == 0 && ch == 2 && !s->reload) {
		/* a row new here (an entry fixed or back): its grants and
		 * delegations, unchanged in the directory, come with it */
		s->acc.mark = 1;
		r = da_ident_edges(&s->d, id.name, dirstore_batch_add, &s->acc);
		s->acc.mark = 0;
	}
	if (ch == 2)
		s->added++;
	else if (ch == 1)
		s->changed++;
	if (r == 0)
		r = bulk_check(s);
	return r == 0 ? pull_creds(s, e, id.name) : r;
}

/* One search result entry of the sync search, with its Sync State
 * Control: SEQUENCE { state ENUMERATED, entryUUID OCTET STRING, cookie
 * OCTET STRING OPTIONAL }. */
static int sync_entry(struct sync *s, LDAPMessage *e)
{
	LDAPControl **ctrls = NULL, *c;
	BerElement *ber = NULL;
	struct berval uuid_raw, ck;
	ber_int_t state = -1;
	ber_len_t len;
	char uuid[37];
	int r;

	s->entries++;
	if (ldap_get_entry_controls(s->d.ld, e, &ctrls) != LDAP_SUCCESS ||
	    (c = ldap_control_find(LDAP_CONTROL_SYNC_STATE, ctrls, NULL)) == NULL) {
		r = nerr(s->x, NHI_ERR_FORMAT, "the server sent an entry without a sync state");
		goto out;
	}
	ber = ber_init(&c->ldctl_value);
	if (ber == NULL || ber_scanf(ber, "{em" /*}*/, &state, &uuid_raw) == LBER_ERROR ||
	    uuid_text(&uuid_raw, uuid) < 0) {
		r = nerr(s->x, NHI_ERR_FORMAT, "the server sent a malformed sync state control");
		goto out;
	}
	if (ber_peek_tag(ber, &len) == LDAP_TAG_SYNC_COOKIE) {
		if (ber_scanf(ber, "m", &ck) == LBER_ERROR) {
			r = nerr(s->x, NHI_ERR_FORMAT, "the server sent a malformed sync cookie");
			goto out;
		}
		r = set_cookie(s, &ck);
		if (r < 0)
			goto out;
	}
	switch (state) {
	case LDAP_SYNC_PRESENT:
		r = mark_seen(s, uuid);
		break;
	case LDAP_SYNC_ADD:
	case LDAP_SYNC_MODIFY:
		r = mark_seen(s, uuid);
		if (r == 0)
			r = store_entry(s, e, uuid);
		break;
	case LDAP_SYNC_DELETE:
		r = forget(s, uuid);
		break;
	default:
		r = nerr(s->x, NHI_ERR_FORMAT, "the server sent sync state %d", (int)state);
	}
out:
	if (ber != NULL)
		ber_free(ber, 1);
	ldap_controls_free(ctrls);
	return r;
}

/* The start of a syncIdSet, refreshDelete/refreshPresent or Sync Done
 * value: SEQUENCE { cookie OPTIONAL, BOOLEAN (refreshDeletes or
 * refreshDone) OPTIONAL, ...; *flag keeps its default when absent.
 * 0, 1 (malformed) or a failure (printed). */
static int seq_head(struct sync *s, BerElement *ber, ber_int_t *flag)
{
	struct berval ck;
	ber_len_t len;
	int r;

	if (ber_scanf(ber, "{" /*}*/) == LBER_ERROR)
		return 1;
	if (ber_peek_tag(ber, &len) == LDAP_TAG_SYNC_COOKIE) {
		if (ber_scanf(ber, "m", &ck) == LBER_ERROR)
			return 1;
		r = set_cookie(s, &ck);
		if (r < 0)
			return r;
	}
	/* LDAP_TAG_REFRESHDELETES and LDAP_TAG_REFRESHDONE: both BOOLEAN */
	if (ber_peek_tag(ber, &len) == LDAP_TAG_REFRESHDELETES &&
	    ber_scanf(ber, "b", flag) == LBER_ERROR)
		return 1;
	return 0;
}

/* A syncIdSet: UUIDs that are present (refreshDeletes FALSE) or deleted. */
static int sync_idset(struct sync *s, BerElement *ber)
{
	ber_int_t deletes = 0;
	BerVarray uuids = NULL;
	char uuid[37];
	int r, i;

	r = seq_head(s, ber, &deletes);
	if (r < 0)
		return r;
	if (r == 1 || ber_scanf(ber, "[W]", &uuids) == LBER_ERROR)
		goto bad;
	if (!deletes)
		s->present = 1;
	for (i = 0; r == 0 && uuids != NULL && uuids[i].bv_val != NULL; i++) {
		if (uuid_text(&uuids[i], uuid) < 0)
			goto bad;
		r = deletes ? forget(s, uuid) : mark_seen(s, uuid);
		s->entries++;
	}
	ber_bvarray_free(uuids);
	return r;
bad:
	ber_bvarray_free(uuids);
	return nerr(s->x, NHI_ERR_FORMAT, "the server sent a malformed syncIdSet");
}

/* A Sync Info Message (an intermediate response). */
static int sync_info(struct sync *s, LDAPMessage *msg)
{
	struct berval *data = NULL, ck;
	BerElement *ber = NULL;
	char *oid = NULL;
	ber_tag_t tag;
	ber_len_t len;
	ber_int_t done = 1;
	int r = 0;

	if (ldap_parse_intermediate(s->d.ld, msg, &oid, &data, NULL, 0) != LDAP_SUCCESS ||
	    oid == NULL || strcmp(oid, LDAP_SYNC_INFO) != 0 || data == NULL)
		goto out;   /* not ours: ignored */
	ber = ber_init(data);
	if (ber == NULL) {
		r = nerr(s->x, NHI_ERR_NOMEM, "out of memory");
		goto out;
	}
	tag = ber_peek_tag(ber, &len);
	switch (tag) {
	case LDAP_TAG_SYNC_NEW_COOKIE:
		if (ber_scanf(ber, "m", &ck) == LBER_ERROR)
			goto bad;
		r = set_cookie(s, &ck);
		break;
	case LDAP_TAG_SYNC_REFRESH_DELETE:
	case LDAP_TAG_SYNC_REFRESH_PRESENT:
		r = seq_head(s, ber, &done);
		if (r == 1)
			goto bad;
		if (tag == LDAP_TAG_SYNC_REFRESH_PRESENT)
			s->present = 1;
		break;
	case LDAP_TAG_SYNC_ID_SET:
		r = sync_idset(s, ber);
		break;
	default:
		goto bad;
	}
	goto out;
bad:
	r = nerr(s->x, NHI_ERR_FORMAT, "the server sent a malformed sync info message");
out:
	if (ber != NULL)
		ber_free(ber, 1);
	ber_bvfree(data);
	ldap_memfree(oid);
	return r;
}

/* The end of the search: 0, REFRESH_REQUIRED for e-syncRefreshRequired,
 * NO_SYNC_HERE for unavailableCriticalExtension, or a failure (printed). */
static int sync_done(struct sync *s, LDAPMessage *msg)
{
	LDAPControl **ctrls = NULL, *c;
	BerElement *ber = NULL;
	char *diag = NULL, reason[1024];
	ber_int_t deletes = 0;
	int rc = 0, r;

	r = ldap_parse_result(s->d.ld, msg, &rc, NULL, &diag, NULL, &ctrls, 0);
	if (r != LDAP_SUCCESS) {
		nhi_ldap_reason(s->d.ld, r, reason, sizeof(reason));
		r = nerr(s->x, NHI_ERR_IO, "%s: %s", s->server, reason);
		goto out;
	}
	if (rc == LDAP_SYNC_REFRESH_REQUIRED) {
		r = REFRESH_REQUIRED;
		goto out;
	}
	if (rc == LDAP_UNAVAILABLE_CRITICAL_EXTENSION) {
		r = NO_SYNC_HERE;
		goto out;
	}
	if (rc != LDAP_SUCCESS) {
		r = nerr(s->x, NHI_ERR_IO, "%s: sync search in %s failed: %s%s%s%s", s->server,
			 s->x->conf.ldap_base, ldap_err2string(rc), diag && *diag ? ": " : "",
			 diag ? diag : "", rc != LDAP_SIZELIMIT_EXCEEDED ? "" :
			 " (a sync reads every entry under ldap_base in one search, as a replica "
			 "does: lift the server's size limit for nhictl's bind, e.g. slapd's "
			 "olcLimits dn.exact=\"BIND DN\" size=unlimited)");
		goto out;
	}
	r = 0;
	c = ldap_control_find(LDAP_CONTROL_SYNC_DONE, ctrls, NULL);
	if (c == NULL) {
		s->present = 1;   /* no done control: treat as a present phase */
		goto out;
	}
	ber = ber_init(&c->ldctl_value);
	r = ber == NULL ? 1 : seq_head(s, ber, &deletes);
	if (r == 1)
		goto bad;
	if (r == 0 && !deletes)
		s->present = 1;
	goto out;
bad:
	r = nerr(s->x, NHI_ERR_FORMAT, "the server sent a malformed sync done control");
out:
	if (ber != NULL)
		ber_free(ber, 1);
	ldap_controls_free(ctrls);
	ldap_memfree(diag);
	return r;
}

/* Wait for the next message of 'msgid'; a server that stops answering
 * costs ldap_timeout, not forever. */
static int next_msg(struct sync *s, int msgid, LDAPMessage **msg)
{
	struct timeval tv = { .tv_sec = (time_t)(s->x->conf.ldap_timeout > 0 ?
						 s->x->conf.ldap_timeout : 10) };
	char reason[1024];
	int rc;

	*msg = NULL;
	rc = ldap_result(s->d.ld, msgid, LDAP_MSG_ONE, &tv, msg);
	if (rc == 0) {
		ldap_abandon_ext(s->d.ld, msgid, NULL, NULL);
		return nerr(s->x, NHI_ERR_IO, "%s: no answer within %ld seconds during the sync; "
			    "nothing changed", s->server, (long)tv.tv_sec);
	}
	if (rc < 0) {
		ldap_get_option(s->d.ld, LDAP_OPT_RESULT_CODE, &rc);
		nhi_ldap_reason(s->d.ld, rc, reason, sizeof(reason));
		return nerr(s->x, NHI_ERR_IO, "%s: %s during the sync; nothing changed",
			    s->server, reason);
	}
	return rc;
}

static int sync_request(struct sync *s, LDAPControl **out)
{
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	struct berval bv;
	int r = NHI_ERR_NOMEM;

	*out = NULL;
	if (ber == NULL)
		goto out;
	/* syncRequestValue: mode refreshOnly, the cookie, reloadHint FALSE
	 * (so a stale cookie is answered with e-syncRefreshRequired) */
	if (ber_printf(ber, "{e" /*}*/, (ber_int_t)LDAP_SYNC_REFRESH_ONLY) < 0 ||
	    (s->cookie.bv_val != NULL && ber_printf(ber, "O", &s->cookie) < 0) ||
	    ber_printf(ber, /*{*/ "N}") < 0 || ber_flatten2(ber, &bv, 0) < 0)
		goto out;
	if (ldap_control_create(LDAP_CONTROL_SYNC, 1, &bv, 1, out) == LDAP_SUCCESS)
		r = 0;
out:
	if (ber != NULL)
		ber_free(ber, 1);
	return r == 0 ? 0 : nerr(s->x, r, "cannot build the sync request control");
}

static int reset_seen(struct sync *s)
{
	s->present = 0;
	return reg_exec(s->x, "DELETE FROM temp.sync_seen", "");
}

/* One refreshOnly search.  REFRESH_REQUIRED: the server wants a reload. */
static int sync_search(struct sync *s)
{
	LDAPControl *req = NULL, *sctrls[2] = { NULL, NULL };
	LDAPMessage *msg = NULL;
	char reason[1024];
	int msgid, rc, r;

	s->reload = s->cookie.bv_val == NULL;
	r = reset_seen(s);
	if (r == 0)
		r = sync_request(s, &req);
	if (r < 0)
		return r;
	sctrls[0] = req;
	rc = ldap_search_ext(s->d.ld, s->x->conf.ldap_base, LDAP_SCOPE_SUBTREE, SYNC_FILTER,
			     da_sync_attrs, 0, sctrls, NULL, NULL, LDAP_NO_LIMIT, &msgid);
	ldap_control_free(req);
	if (rc != LDAP_SUCCESS) {
		nhi_ldap_reason(s->d.ld, rc, reason, sizeof(reason));
		return nerr(s->x, NHI_ERR_IO, "%s: cannot start the sync: %s", s->server, reason);
	}
	for (;;) {
		rc = next_msg(s, msgid, &msg);
		if (rc < 0)
			return rc;
		switch (rc) {
		case LDAP_RES_SEARCH_ENTRY:
			r = sync_entry(s, msg);
			break;
		case LDAP_RES_INTERMEDIATE:
			r = sync_info(s, msg);
			break;
		case LDAP_RES_SEARCH_RESULT:
			r = sync_done(s, msg);
			ldap_msgfree(msg);
			return r;
		default:
			r = 0;   /* references: not followed */
		}
		ldap_msgfree(msg);
		if (r < 0) {
			ldap_abandon_ext(s->d.ld, msgid, NULL, NULL);
			return r;
		}
		progress(s, 0);
	}
}

/* ---- entries the refresh left out ------------------------------------ */

/* Seconds after a contextCSN in which an entry it left behind may lie: an
 * operation that took its CSN later but committed earlier (far more than
 * any write lasts). */
#define LATE_WINDOW 600

/* slapd's syncprov sends in a refresh only the entries whose entryCSN is
 * at most its contextCSN for that server ID (newer ones wait for the
 * persist phase, which refreshOnly does not have), and the contextCSN can
 * stay behind a committed write: of two writes at once, the one with the
 * later CSN that commits first does not move it (an earlier one is
 * pending), and the earlier one then moves it to its own CSN only.  Until
 * the next write, every refresh leaves that entry out, and the cookie
 * says the consumer is up to date (seen with slapd 2.5: a resource changed
 * by one host while another changed a grant; `sync` on the first missed
 * it, and so did every sync after it).  So, for each CSN of the cookie the
 * refresh ended with, the entries of that server ID whose entryCSN is
 * newer are read by a plain search and stored as the refresh would have
 * (before the rows unseen are reconciled: a present phase or a reload
 * does not list them either).  A later refresh sends them again; storing
 * is idempotent. */

/* The next CSN of cookie text c[0..n) from *pos ("rid=R,sid=S,csn=A;B"):
 * 1 and out filled, or 0 at the end. */
static int cookie_csn(const char *c, size_t n, size_t *pos, char *out, size_t len)
{
	size_t i = *pos, k;

	if (i == 0) {   /* to the value of csn= */
		for (; i + 4 <= n; i++)
			if ((i == 0 || c[i - 1] == ',') && memcmp(c + i, "csn=", 4) == 0)
				break;
		if (i + 4 > n)
			return 0;
		i += 4;
	}
	if (i >= n || c[i] == ',')
		return 0;
	for (k = 0; i < n && c[i] != ';' && c[i] != ','; i++)
		if (k + 1 < len)
			out[k++] = c[i];
	out[k] = '\0';
	*pos = i < n && c[i] == ';' ? i + 1 : n;
	return 1;
}

/* A CSN "YYYYmmddHHMMSS.ffffffZ#cccccc#sss#mmmmmm": its server ID (sid,
 * three hex digits) and, in upper, the greatest CSN LATE_WINDOW seconds
 * later.  0, or -1 when it is not one. */
static int csn_parts(const char *csn, char sid[4], char *upper, size_t len)
{
	struct tm tm = { 0 };
	time_t t;
	size_t i;

	if (strlen(csn) != 40 || csn[14] != '.' || csn[21] != 'Z' || csn[22] != '#' ||
	    csn[29] != '#' || csn[33] != '#')
		return -1;
	for (i = 0; i < 14; i++)
		if (!isdigit((unsigned char)csn[i]))
			return -1;
	for (i = 30; i < 33; i++)
		if (!isxdigit((unsigned char)csn[i]))
			return -1;
	memcpy(sid, csn + 30, 3);
	sid[3] = '\0';
	tm.tm_year = (csn[0] - '0') * 1000 + (csn[1] - '0') * 100 + (csn[2] - '0') * 10 +
		     (csn[3] - '0') - 1900;
	tm.tm_mon = (csn[4] - '0') * 10 + (csn[5] - '0') - 1;
	tm.tm_mday = (csn[6] - '0') * 10 + (csn[7] - '0');
	tm.tm_hour = (csn[8] - '0') * 10 + (csn[9] - '0');
	tm.tm_min = (csn[10] - '0') * 10 + (csn[11] - '0');
	tm.tm_sec = (csn[12] - '0') * 10 + (csn[13] - '0');
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	t += LATE_WINDOW;
	if (gmtime_r(&t, &tm) == NULL || strftime(upper, len, "%Y%m%d%H%M%S", &tm) != 14)
		return -1;
	snprintf(upper + 14, len - 14, ".999999Z#ffffff#fff#ffffff");
	return 0;
}

/* The entries the refresh left out for one CSN of the cookie. */
static int late_for(struct sync *s, const char *ctx)
{
	char filter[sizeof(SYNC_FILTER) + 200], upper[48], sid[4], csn[64], uuid[64];
	char *attrs[64], reason[1024];
	struct timeval tv = { .tv_sec = (time_t)(s->x->conf.ldap_timeout > 0 ?
						 s->x->conf.ldap_timeout : 10) };
	LDAPMessage *res = NULL, *e;
	size_t i;
	int rc, r = 0;

	if (csn_parts(ctx, sid, upper, sizeof(upper)) < 0)
		return 0;   /* not a CSN slapd's way: nothing known to look for */
	for (i = 0; da_sync_attrs[i] != NULL && i + 2 < sizeof(attrs) / sizeof(attrs[0]); i++)
		attrs[i] = da_sync_attrs[i];
	attrs[i++] = "entryCSN";
	attrs[i] = NULL;
	snprintf(filter, sizeof(filter), "(&%s(entryCSN>=%s)(entryCSN<=%s))", SYNC_FILTER, ctx,
		 upper);
	rc = ldap_search_ext_s(s->d.ld, s->x->conf.ldap_base, LDAP_SCOPE_SUBTREE, filter, attrs,
			       0, NULL, NULL, &tv, LDAP_NO_LIMIT, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
		ldap_msgfree(res);
		nhi_ldap_reason(s->d.ld, rc, reason, sizeof(reason));
		return nerr(s->x, NHI_ERR_IO, "%s: reading the entries newer than the server's "
			    "contextCSN: %s; nothing changed", s->server, reason);
	}
	for (e = ldap_first_entry(s->d.ld, res); r == 0 && e != NULL;
	     e = ldap_next_entry(s->d.ld, e)) {
		if (dir_first_value(s->d.ld, e, "entryCSN", csn, sizeof(csn)) <= 0 ||
		    strlen(csn) != 40 || strncasecmp(csn + 30, sid, 3) != 0 ||
		    strcmp(csn, ctx) <= 0 ||
		    dir_first_value(s->d.ld, e, "entryUUID", uuid, sizeof(uuid)) <= 0)
			continue;   /* sent by the refresh, or not one to take */
		for (i = 0; uuid[i]; i++)
			uuid[i] = (char)tolower((unsigned char)uuid[i]);
		s->late++;
		s->entries++;
		r = mark_seen(s, uuid);
		if (r == 0)
			r = store_entry(s, e, uuid);
	}
	ldap_msgfree(res);
	return r;
}

static int catch_up(struct sync *s)
{
	char ctx[64];
	size_t pos = 0;
	int r = 0;

	while (r == 0 && s->cookie.bv_val != NULL &&
	       cookie_csn(s->cookie.bv_val, s->cookie.bv_len, &pos, ctx, sizeof(ctx)))
		r = late_for(s, ctx);
	return r;
}

/* ---- the full scan ----------------------------------------------------- */

static int scan_page(struct sync *s, struct berval *page_cookie)
{
	LDAPControl *page = NULL, *sctrls[2] = { NULL, NULL }, **rctrls = NULL, *c;
	LDAPMessage *msg = NULL;
	char reason[1024], *diag = NULL;
	struct berval next = { 0, NULL };
	ber_int_t count = 0;
	int msgid, rc, r = 0, err = 0;

	rc = ldap_create_page_control(s->d.ld, PAGE_SIZE, page_cookie, 1, &page);
	if (rc != LDAP_SUCCESS)
		return nerr(s->x, NHI_ERR_NOMEM, "cannot build the paged results control");
	sctrls[0] = page;
	rc = ldap_search_ext(s->d.ld, s->x->conf.ldap_base, LDAP_SCOPE_SUBTREE, SYNC_FILTER,
			     da_sync_attrs, 0, sctrls, NULL, NULL, LDAP_NO_LIMIT, &msgid);
	ldap_control_free(page);
	if (rc != LDAP_SUCCESS) {
		nhi_ldap_reason(s->d.ld, rc, reason, sizeof(reason));
		return nerr(s->x, NHI_ERR_IO, "%s: cannot search %s: %s", s->server,
			    s->x->conf.ldap_base, reason);
	}
	for (;;) {
		rc = next_msg(s, msgid, &msg);
		if (rc < 0)
			return rc;
		if (rc == LDAP_RES_SEARCH_RESULT)
			break;
		if (rc == LDAP_RES_SEARCH_ENTRY) {
			char uuid[64] = "";
			struct berval **v = ldap_get_values_len(s->d.ld, msg, "entryUUID");

			if (v != NULL && v[0] != NULL && v[0]->bv_len < sizeof(uuid)) {
				memcpy(uuid, v[0]->bv_val, v[0]->bv_len);
				uuid[v[0]->bv_len] = '\0';
			}
			ldap_value_free_len(v);
			s->entries++;
			if (uuid[0] == '\0')
				r = nerr(s->x, NHI_ERR_FORMAT, "%s: an entry without entryUUID",
					 s->server);
			else
				r = mark_seen(s, uuid);
			if (r == 0)
				r = store_entry(s, msg, uuid);
			progress(s, 0);
		}
		ldap_msgfree(msg);
		if (r < 0) {
			ldap_abandon_ext(s->d.ld, msgid, NULL, NULL);
			return r;
		}
	}
	r = ldap_parse_result(s->d.ld, msg, &err, NULL, &diag, NULL, &rctrls, 1);
	if (r != LDAP_SUCCESS || err != LDAP_SUCCESS) {
		r = nerr(s->x, NHI_ERR_IO, "%s: search in %s failed: %s%s%s", s->server,
			 s->x->conf.ldap_base, ldap_err2string(r != LDAP_SUCCESS ? r : err),
			 diag && *diag ? ": " : "", diag ? diag : "");
		goto out;
	}
	c = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL);
	if (c != NULL && ldap_parse_pageresponse_control(s->d.ld, c, &count, &next) != LDAP_SUCCESS) {
		r = nerr(s->x, NHI_ERR_FORMAT, "%s: malformed paged results control", s->server);
		goto out;
	}
	ber_memfree(page_cookie->bv_val);
	*page_cookie = next;
	next.bv_val = NULL;
	r = 0;
out:
	ber_memfree(next.bv_val);
	ldap_controls_free(rctrls);
	ldap_memfree(diag);
	return r;
}

static int scan(struct sync *s)
{
	struct berval page_cookie = { 0, NULL };
	int r;

	s->mode = "scan";
	r = reset_seen(s);
	do {
		if (r == 0)
			r = scan_page(s, &page_cookie);
	} while (r == 0 && page_cookie.bv_val != NULL && page_cookie.bv_len > 0);
	ber_memfree(page_cookie.bv_val);
	s->present = 1;
	return r;
}

/* A registry row as the passes below need it: every query they run
 * selects (INTEGER id, INTEGER t, TEXT a, TEXT b). */
static void rows_free(struct row *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].a);
		free(v[i].b);
	}
	free(v);
}

/* All rows of st (finalized here) into *out (rows_free it) and *n. */
static int rows(struct sync *s, sqlite3_stmt *st, struct row **out, size_t *n)
{
	struct row *v = NULL, *nv;
	size_t cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *a = sqlite3_column_text(st, 2), *b = sqlite3_column_text(st, 3);

		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL)
				break;
			v = nv;
		}
		v[*n].id = sqlite3_column_int64(st, 0);
		v[*n].t = sqlite3_column_int64(st, 1);
		v[*n].a = strdup(a ? (const char *)a : "");
		v[*n].b = strdup(b ? (const char *)b : "");
		if (v[(*n)++].b == NULL || v[*n - 1].a == NULL)
			break;
	}
	if (r == SQLITE_DONE)
		r = 0;
	else if (r == SQLITE_ROW)
		r = nerr(s->x, NHI_ERR_NOMEM, "out of memory");
	else
		r = reg_dberr(s->x);
	sqlite3_finalize(st);
	if (r < 0) {
		rows_free(v, *n);
		*n = 0;
		return r;
	}
	*out = v;
	return 0;
}

/* After a present phase, a reload or a scan: rows whose entry was not
 * seen are gone from the directory (rows without an entryUUID too: the
 * directory is the truth). */
static int reconcile(struct sync *s)
{
	struct row *v;
	size_t n, i;
	int r;

	if (!s->present && !s->reload)
		return 0;
	r = rows(s, reg_prep(s->x, "SELECT id, 0, '', '' FROM identity WHERE entry_uuid IS NULL "
			     "OR entry_uuid NOT IN (SELECT uuid FROM temp.sync_seen)", ""), &v, &n);
	for (i = 0; r == 0 && i < n; i++) {
		r = reg_exec(s->x, "DELETE FROM credential WHERE identity_id = ?", "i", v[i].id);
		if (r == 0)
			r = reg_exec(s->x, "DELETE FROM identity WHERE id = ?", "i", v[i].id);
		s->deleted++;
		if (r == 0)
			r = bulk_check(s);
	}
	rows_free(v, n);
	/* and held entries no longer there */
	if (r == 0)
		r = reg_exec(s->x, "DELETE FROM dir_conflict WHERE entry_uuid NOT IN "
			     "(SELECT uuid FROM temp.sync_seen)", "");
	return r;
}

/* Held entries whose other entry was fixed or deleted come back: read
 * again from the directory (by entryUUID) and stored (dirstore.c's
 * conflict rule). */
static int release_held(struct sync *s)
{
	char **v = NULL, filter[128], reason[1024];
	struct timeval tv = dir_timeout(&s->x->conf);
	size_t n = 0, i;
	int r, rc;

	r = dir_conflict_release(s->x, &v, &n);
	for (i = 0; r == 0 && i < n; i++) {
		LDAPMessage *res = NULL, *e;

		snprintf(filter, sizeof(filter), "(entryUUID=%s)", v[i]);
		rc = ldap_search_ext_s(s->d.ld, s->x->conf.ldap_base, LDAP_SCOPE_SUBTREE, filter,
				       da_sync_attrs, 0, NULL, NULL, &tv,
				       LDAP_NO_LIMIT, &res);
		if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
			nhi_ldap_reason(s->d.ld, rc, reason, sizeof(reason));
			r = nerr(s->x, NHI_ERR_IO, "%s: cannot read entry %s again: %s", s->server,
				 v[i], reason);
		} else if ((e = ldap_first_entry(s->d.ld, res)) != NULL) {
			r = store_entry(s, e, v[i]);
		}
		ldap_msgfree(res);
	}
	dir_strings_free(v, n);
	return r;
}

/* ---- owners and usage, written to the directory ------------------------ */


/* One Modify replacing up to two attributes, under an assertion (RFC
 * 4528) so that it applies only to the entry as this sync saw it.
 * 0, 1 (assertion failed or entry gone: changed meanwhile), 2 (refused:
 * the bind identity may not write it; counted, the reason kept), or a
 * failure (printed). */
static int modify_if(struct sync *s, const char *name, const char *assertion,
		     const char *a1, const char *v1, const char *a2, const char *v2)
{
	char dn[1024], reason[1024], *vals1[2] = { (char *)v1, NULL }, *vals2[2] = { (char *)v2, NULL };
	LDAPMod m1 = { LDAP_MOD_REPLACE, (char *)a1, { vals1 } };
	LDAPMod m2 = { LDAP_MOD_REPLACE, (char *)a2, { vals2 } };
	LDAPMod *mods[3] = { &m1, a2 ? &m2 : NULL, NULL };
	LDAPControl *ctrl = NULL, *sctrls[2] = { NULL, NULL };
	int rc;

	if (dir_ident_dn(&s->x->conf, name, dn, sizeof(dn)) < 0)
		return nerr(s->x, NHI_ERR_RANGE, "%s: DN too long", name);
	/* reads from ldap_uri, writes to the write connection (ldap_write_uri,
	 * or a consumer's referral followed) */
	if (dir_need(s->x) != 0)
		return NHI_ERR_IO;
	rc = ldap_create_assertion_control(dir_conn.ld, (char *)assertion, 1, &ctrl);
	if (rc != LDAP_SUCCESS)
		return nerr(s->x, NHI_ERR_NOMEM, "cannot build an assertion control");
	sctrls[0] = ctrl;
	do
		rc = ldap_modify_ext_s(dir_conn.ld, dn, mods, sctrls, NULL);
	while (dir_referral(&dir_conn, rc));
	ldap_control_free(ctrl);
	NHI_CRASH_POINT("ldap-write", "modify");
	if (rc == LDAP_SUCCESS)
		return 0;
	if (rc == LDAP_ASSERTION_FAILED || rc == LDAP_NO_SUCH_OBJECT)
		return 1;
	nhi_ldap_reason(dir_conn.ld, rc, reason, sizeof(reason));
	if (rc == LDAP_INSUFFICIENT_ACCESS || rc == LDAP_UNWILLING_TO_PERFORM ||
	    rc == LDAP_STRONG_AUTH_REQUIRED || rc == LDAP_CONFIDENTIALITY_REQUIRED) {
		/* a read-only host still syncs (and still orphans, locally) */
		if (s->refused++ == 0)
			snprintf(s->refused_why, sizeof(s->refused_why), "%.500s: %.500s", dn, reason);
		return 2;
	}
	return nerr(s->x, NHI_ERR_IO, "%s: cannot modify %s: %s", s->server, dn, reason);
}

/* The identities of one checked owner: orphan those owner_decide()
 * says (in the directory, under an assertion that the entry still has
 * that owner and is not orphaned, and here), record the entryUUID of the
 * owner where the registry did not know it. */
static int orphan_owner(struct sync *s, const struct checked_owner *c)
{
	char esc[3 * 1024 + 1], assertion[3 * 1024 + 64], when[16];
	const struct row *o = &c->o;
	struct row *v;
	size_t n, i;
	int r;

	dir_gentime((int64_t)s->x->now, when);
	if (o->a[0] != '\0') {
		if (nhi_ldap_escape_filter(o->a, esc, sizeof(esc)) < 0)
			return nerr(s->x, NHI_ERR_RANGE, "owner DN too long: %s", o->a);
		snprintf(assertion, sizeof(assertion), "(&(owner=%s)(!(nhiOrphanedSince=*)))", esc);
	} else {
		snprintf(assertion, sizeof(assertion), "(&(!(owner=*))(!(nhiOrphanedSince=*)))");
	}
	r = rows(s, reg_prep(s->x, "SELECT id, 0, name, state || ' ' || coalesce(owner_id, '') "
			     "FROM identity WHERE owner_dn = ? "
			     "AND owner = ? AND orphaned_since = 0 AND state IN ('active', 'suspended') "
			     "AND entry_uuid IS NOT NULL ORDER BY name", "ss", o->a, o->b), &v, &n);
	for (i = 0; r == 0 && i < n; i++) {
		struct owner_plan p;
		char *had = strchr(v[i].b, ' ');
		int active, w;

		*had++ = '\0';   /* "state owner_id" */
		active = strcmp(v[i].b, "active") == 0;
		memset(&p, 0, sizeof(p));
		if (!owner_decide(&p, o->a[0] ? o->a : o->b, had, c->uuid, c->r, c->why, "entryUUID"))
			continue;
		if (!p.orphan) {
			r = reg_exec(s->x, "UPDATE identity SET owner_id = ? WHERE id = ?", "si",
				     p.owner_id, v[i].id);
			if (r == 0)
				r = reg_event(s->x, "owner-id", v[i].a, "ok", "%s", p.why);
			continue;
		}
		w = modify_if(s, v[i].a, assertion, "nhiOrphanedSince", when,
			      active ? "nhiState" : NULL, "orphaned");
		if (w == 1)     /* transferred or orphaned meanwhile: next sync */
			continue;
		/* refused by the directory (w == 2): orphaned on this host only */
		r = w < 0 ? w : reg_exec(s->x, "UPDATE identity SET orphaned_since = ?, state = ?, "
					 "orphan_cause = ?, owner_id = nullif(?, '') WHERE id = ?",
					 "isssi", (int64_t)s->x->now, active ? "orphaned" : v[i].b,
					 p.cause, p.owner_id, v[i].id);
		if (r == 0)
			r = reg_event(s->x, "orphan", v[i].a, "ok", "owner %s: %s%s",
				      o->a[0] ? o->a : o->b, p.why, w == 2 ?
				      " (the directory refused the write: this host only)" : "");
		if (r == 0)
			s->orphaned++;
	}
	rows_free(v, n);
	return r;
}

/* The distinct owners (DN, name) of the identities not orphaned yet, in
 * order: one step along the partial index identity_live_owner per owner
 * (a "loose index scan"), not a scan of every identity, so the cost grows
 * with the owners, not the identities. */
#define LIVE_OWNER "FROM identity WHERE orphaned_since = 0 AND state IN ('active', 'suspended') " \
	"AND entry_uuid IS NOT NULL"
static int live_owners(struct sync *s, struct row **out, size_t *n)
{
	struct row *v = NULL, *one, *nv;
	size_t k = 0, got;
	int r;

	*out = NULL;
	*n = 0;
	for (;;) {
		/* the next owner name under the same DN, else the next DN: two
		 * seeks (a row-value "(dn, owner) > (?, ?)" made SQLite walk
		 * every identity of the current owner) */
		if (k == 0)
			r = rows(s, reg_prep(s->x, "SELECT 0, 0, owner_dn, owner " LIVE_OWNER
					     " ORDER BY owner_dn, owner LIMIT 1", ""), &one, &got);
		else
			r = rows(s, reg_prep(s->x, "SELECT 0, 0, owner_dn, owner " LIVE_OWNER
					     " AND owner_dn = ? AND owner > ? ORDER BY owner LIMIT 1",
					     "ss", v[k - 1].a, v[k - 1].b), &one, &got);
		if (r == 0 && got == 0 && k > 0)
			r = rows(s, reg_prep(s->x, "SELECT 0, 0, owner_dn, owner " LIVE_OWNER
					     " AND owner_dn > ? ORDER BY owner_dn, owner LIMIT 1",
					     "s", v[k - 1].a), &one, &got);
		if (r < 0 || got == 0)
			break;
		nv = realloc(v, (k + 1) * sizeof(*v));
		if (nv == NULL) {
			rows_free(one, got);
			r = nerr(s->x, NHI_ERR_NOMEM, "out of memory");
			break;
		}
		v = nv;
		v[k++] = one[0];
		free(one);
	}
	if (r < 0) {
		rows_free(v, k);
		return r;
	}
	*out = v;
	*n = k;
	return 0;
}

/* Re-check every owner of an identity that is not orphaned yet: one
 * directory lookup per distinct owner.  Nothing is changed here: the
 * owners whose identities are to be orphaned (gone, not live, or another
 * person under the name: a new entryUUID) or to have the owner's
 * entryUUID recorded are kept in s->dead, and s->would_orphan counts the
 * identities, so that orphan_max can stop the sync before anything is
 * written. */
static int check_owners(struct sync *s)
{
	struct checked_owner *nd, c;
	struct dir_owner d;
	struct row *o;
	size_t n, i;
	int64_t k, fill;
	int r;

	r = live_owners(s, &o, &n);
	for (i = 0; r == 0 && i < n; i++) {
		const char *who = o[i].a[0] ? o[i].a : o[i].b;

		memset(&c, 0, sizeof(c));
		if (*who == '\0') {
			snprintf(c.why, sizeof(c.why), "no owner");
			c.r = NHI_ERR_NOTFOUND;
		} else {
			c.r = dir_owner_lookup(&s->d, who, &d, c.why, sizeof(c.why));
			snprintf(c.uuid, sizeof(c.uuid), "%s", d.uuid);
		}
		if (c.r == NHI_ERR_IO) {
			r = nerr(s->x, NHI_ERR_IO, "%s: cannot check owner %s: %s", s->server, who, c.why);
			break;
		}
		k = fill = 0;
		/* all of a dead owner's identities; of a live one's, those given
		 * to another entryUUID */
		r = reg_int(s->x, &k, 0, "SELECT count(*) " LIVE_OWNER " AND owner_dn = ?1 AND owner = ?2"
			    " AND (?3 != 0 OR (owner_id IS NOT NULL AND ?4 != '' AND owner_id != ?4))",
			    "ssis", o[i].a, o[i].b, (int64_t)(c.r != 0), c.uuid);
		if (r == 0 && c.r == 0 && c.uuid[0] != '\0')
			r = reg_int(s->x, &fill, 0, "SELECT count(*) " LIVE_OWNER " AND owner_dn = ? "
				    "AND owner = ? AND owner_id IS NULL", "ss", o[i].a, o[i].b);
		if (r < 0 || k + fill == 0)
			continue;
		nd = realloc(s->dead, (s->n_dead + 1) * sizeof(*nd));
		if (nd == NULL) {
			r = nerr(s->x, NHI_ERR_NOMEM, "out of memory");
			break;
		}
		s->dead = nd;
		c.o = o[i];            /* the strings move to s->dead */
		o[i].a = o[i].b = NULL;
		s->dead[s->n_dead++] = c;
		s->would_orphan += (long)k;
	}
	rows_free(o, n);
	return r;
}

/* Orphan (and record) what check_owners found. */
static int orphan_dead(struct sync *s)
{
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && i < s->n_dead; i++)
		r = orphan_owner(s, &s->dead[i]);
	return r;
}

/* Identities orphaned here because their owner was locked or expired
 * come back when that owner, the same entry (entryUUID), is live again:
 * nhiOrphanedSince removed (and nhiState active) in the directory, under
 * an assertion that the entry still has that owner and is orphaned. */
static int owner_live_again(struct sync *s)
{
	char esc[3 * 1024 + 1], assertion[3 * 1024 + 64], why[1024];
	struct row *v;
	struct dir_owner d;
	size_t n, i;
	int r;

	r = rows(s, reg_prep(s->x, "SELECT id, 0, name, state || ' ' || owner_dn || ' ' || owner_id "
			     "FROM identity WHERE orphan_cause = 'locked' AND orphaned_since != 0 "
			     "AND owner_id IS NOT NULL AND owner_dn != '' AND entry_uuid IS NOT NULL "
			     "AND state IN ('orphaned', 'suspended') ORDER BY name", ""), &v, &n);
	for (i = 0; r == 0 && i < n; i++) {
		char *dn = strchr(v[i].b, ' '), *had;
		int orphaned, w;

		*dn++ = '\0';   /* "state owner_dn owner_id": the id has no blank */
		had = strrchr(dn, ' ');
		*had++ = '\0';
		orphaned = strcmp(v[i].b, "orphaned") == 0;
		w = dir_owner_lookup(&s->d, dn, &d, why, sizeof(why));
		if (w == NHI_ERR_IO) {
			r = nerr(s->x, NHI_ERR_IO, "%s: cannot check owner %s: %s", s->server, dn, why);
			break;
		}
		if (w != 0 || strcmp(d.uuid, had) != 0)
			continue;
		if (nhi_ldap_escape_filter(dn, esc, sizeof(esc)) < 0)
			continue;
		snprintf(assertion, sizeof(assertion), "(&(owner=%s)(nhiOrphanedSince=*))", esc);
		w = modify_if(s, v[i].a, assertion, "nhiOrphanedSince", NULL,
			      orphaned ? "nhiState" : NULL, "active");
		if (w == 1)
			continue;
		r = w < 0 ? w : reg_exec(s->x, "UPDATE identity SET orphaned_since = 0, state = ?, "
					 "orphan_cause = '' WHERE id = ?", "si",
					 orphaned ? "active" : v[i].b, v[i].id);
		if (r == 0)
			r = reg_event(s->x, "owner-live", v[i].a, "ok", "owner live again: %s "
				      "(entryUUID %s)%s", dn, had, w == 2 ?
				      " (the directory refused the write: this host only)" : "");
		if (r == 0)
			s->back++;
	}
	rows_free(v, n);
	return r;
}

static void dead_free(struct sync *s)
{
	size_t i;

	for (i = 0; i < s->n_dead; i++) {
		free(s->dead[i].o.a);
		free(s->dead[i].o.b);
	}
	free(s->dead);
	s->dead = NULL;
	s->n_dead = 0;
}

/* Push local usage newer than the directory's nhiLastUsed. */
static int push_usage(struct sync *s)
{
	char when[16], assertion[64];
	struct row *v;
	size_t n, i;
	int r;

	/* (WHERE as in the partial index identity_unpushed) */
	r = rows(s, reg_prep(s->x, "SELECT id, last_used, name, coalesce(entry_uuid, '') "
			     "FROM identity WHERE last_used > dir_last_used", ""), &v, &n);
	for (i = 0; r == 0 && i < n; i++) {
		if (v[i].b[0] == '\0')
			continue;   /* not from the directory */
		dir_gentime(v[i].t, when);
		/* only when newer than what the directory holds */
		snprintf(assertion, sizeof(assertion), "(!(nhiLastUsed>=%s))", when);
		r = modify_if(s, v[i].a, assertion, "nhiLastUsed", when, NULL, NULL);
		if (r == 2) {   /* refused: tried again next time */
			r = 0;
			continue;
		}
		if (r == 0)
			s->pushed++;
		if (r >= 0)
			r = reg_exec(s->x, "UPDATE identity SET dir_last_used = last_used WHERE id = ?",
				     "i", v[i].id);
	}
	rows_free(v, n);
	return r;
}

/* The grants and delegations read (kept until now: the identities,
 * credentials and resources they name are all stored), then, after a
 * sync that saw everything, the rows whose entries are gone. */
static int sync_access(struct sync *s)
{
	long gone = 0;
	int r = dirstore_batch_apply(&s->acc);

	if (r == 0 && (s->present || s->reload))
		r = dirstore_access_reconcile(s->x, &gone);
	s->acc_deleted += gone;
	return r;
}

/* Does the root DSE list the sync control? */
static int has_syncprov(struct sync *s)
{
	char *attrs[] = { "supportedControl", NULL }, reason[1024];
	struct timeval tv = { .tv_sec = (time_t)(s->x->conf.ldap_timeout > 0 ?
						 s->x->conf.ldap_timeout : 10) };
	LDAPMessage *res = NULL, *e;
	struct berval **v = NULL;
	int rc, i, found = 0;

	rc = ldap_search_ext_s(s->d.ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
			       NULL, NULL, &tv, 1, &res);
	if (rc != LDAP_SUCCESS) {
		ldap_msgfree(res);
		nhi_ldap_reason(s->d.ld, rc, reason, sizeof(reason));
		return nerr(s->x, NHI_ERR_IO, "%s: cannot read the root DSE: %s", s->server, reason);
	}
	e = ldap_first_entry(s->d.ld, res);
	if (e != NULL)
		v = ldap_get_values_len(s->d.ld, e, "supportedControl");
	for (i = 0; v != NULL && v[i] != NULL; i++)
		if (v[i]->bv_len == strlen(LDAP_CONTROL_SYNC) &&
		    memcmp(v[i]->bv_val, LDAP_CONTROL_SYNC, v[i]->bv_len) == 0)
			found = 1;
	ldap_value_free_len(v);
	ldap_msgfree(res);
	return found;
}

/* Everything between connecting and committing, in one transaction. */
static int run(struct sync *s, int full, long *records, char *ingest_path, size_t plen)
{
	long bad = 0;
	int r, syncprov = 0;

	if (!full) {
		syncprov = has_syncprov(s);
		if (syncprov < 0)
			return syncprov;
	}
	if (reg_begin(s->x) < 0)
		return NHI_ERR_DB;
	r = reg_exec(s->x, "CREATE TEMP TABLE IF NOT EXISTS sync_seen (uuid TEXT PRIMARY KEY) "
		     "WITHOUT ROWID", "");
	if (r == 0)
		r = load_cookie(s);
	if (r < 0)
		return r;
	if (syncprov) {
		s->mode = s->cookie.bv_val != NULL ? "incremental" : "full";
		r = sync_search(s);
		if (r == REFRESH_REQUIRED) {
			/* the cookie is stale (older than the server's history) or
			 * from another directory: start over from initial content */
			r = set_cookie(s, NULL);
			s->mode = "full";
			if (r == 0)
				r = sync_search(s);
			if (r == REFRESH_REQUIRED)
				r = nerr(s->x, NHI_ERR_FORMAT, "%s: refresh required without a cookie",
					 s->server);
		}
		if (r == 0)
			r = catch_up(s);
		if (r == NO_SYNC_HERE)
			r = scan(s);
	} else {
		r = scan(s);
	}
	if (r == 0)
		r = reconcile(s);
	if (r == 0)
		r = release_held(s);
	if (r == 0)
		r = sync_access(s);
	progress(s, 1);
	/* the owners first: past orphan_max nothing may be written, in the
	 * directory either (credential sweeps write there) */
	if (r == 0)
		r = check_owners(s);
	if (r == 0)
		r = orphan_limit(s->x, s->would_orphan, s->force);
	if (r == 0) {
		int n = 0;

		/* rotations a crash or an outage interrupted, resolved from what
		 * the directory shows; grace windows that ended: the old values
		 * leave the directory */
		r = rotation_recover(s->x, &n);
		if (r == 0)
			r = cred_sweep(s->x, &s->d, &n);
		s->swept = n;
		/* retired is final: edges that came back through replication
		 * (written elsewhere while the retire ran) go */
		if (r == 0)
			r = ldap_retired_edges_cut(s->x, &n);
	}
	if (r == 0)
		r = orphan_dead(s);
	if (r == 0)
		r = owner_live_again(s);
	if (r == 0)
		r = usage_ingest(s->x, ingest_path, plen, records, &bad);
	if (r == 0)
		r = push_usage(s);
	if (r == 0)
		r = save_state(s);
	if (r == 0 && s->refused)
		nerr(s->x, 0, "warning: the directory refused %ld write%s (%s): orphans are "
		     "recorded on this host only and usage is not pushed; the bind identity "
		     "needs write access to nhiState, nhiOrphanedSince and nhiLastUsed",
		     s->refused, s->refused == 1 ? "" : "s", s->refused_why);
	return r;
}

static long access_changes(const struct sync *s)
{
	return s->acc.added + s->acc.changed + s->acc_deleted;
}

/* The conflict rule's pairs, one line each on stderr (and in --json). */
static void conflict_lines(struct sync *s, const struct dir_conflict *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		nerr(s->x, 0, "conflict: %s (uid %u, entryUUID %s) and %s (uid %u, entryUUID %s) "
		     "share a %s: both denied on every host until the directory holds one",
		     c[i].e[0].name, c[i].e[0].uid, c[i].e[0].uuid, c[i].e[1].name, c[i].e[1].uid,
		     c[i].e[1].uuid, c[i].same_uid ? (c[i].same_name ? "name and uidNumber"
						    : "uidNumber") : "name");
}

static void conflicts_json(struct json *j, const struct dir_conflict *c, size_t n)
{
	size_t i;
	int k;

	json_key(j, "conflicts");
	json_arr(j);
	for (i = 0; i < n; i++) {
		json_obj(j);
		json_kstr(j, "shared", c[i].same_uid ? (c[i].same_name ? "name,uid" : "uid")
						    : "name");
		json_key(j, "entries");
		json_arr(j);
		for (k = 0; k < 2; k++) {
			json_obj(j);
			json_kstr(j, "name", c[i].e[k].name);
			json_kint(j, "uid", c[i].e[k].uid);
			json_kstr(j, "entry_uuid", c[i].e[k].uuid);
			json_kstr(j, "dn", c[i].e[k].dn);
			json_obj_end(j);
		}
		json_arr_end(j);
		json_obj_end(j);
	}
	json_arr_end(j);
}

static void summary(struct sync *s, double secs, long records, const struct dir_conflict *c,
		    size_t n_c)
{
	struct json j;

	if (s->x->json) {
		json_init(&j, stdout);
		json_obj(&j);
		json_kstr(&j, "mode", s->mode);
		json_kstr(&j, "server", s->server);
		json_kint(&j, "entries", s->entries);
		json_kint(&j, "added", s->added);
		json_kint(&j, "changed", s->changed);
		json_kint(&j, "deleted", s->deleted);
		json_kint(&j, "orphaned", s->orphaned);
		json_kint(&j, "owner_live_again", s->back);
		json_kint(&j, "invalid", s->invalid + s->acc.invalid);
		json_kint(&j, "access_added", s->acc.added);
		json_kint(&j, "access_changed", s->acc.changed);
		json_kint(&j, "access_deleted", s->acc_deleted);
		json_kint(&j, "credentials_pulled", s->creds);
		json_kint(&j, "credentials_expired", s->swept);
		json_kint(&j, "usage_records", records);
		json_kint(&j, "usage_pushed", s->pushed);
		json_kint(&j, "refused_writes", s->refused);
		json_kint(&j, "late_entries", s->late);
		conflicts_json(&j, c, n_c);
		json_key(&j, "duration");
		json_num(&j, secs);
		json_obj_end(&j);
		json_end(&j);
		return;
	}
	if (s->added + s->changed + s->deleted + s->orphaned + s->back + s->invalid + s->pushed + records +
	    s->creds + s->swept + access_changes(s) + s->acc.invalid == 0 &&
	    !isatty(STDOUT_FILENO))
		return;   /* a timer's sync with nothing new stays quiet */
	printf("sync (%s) from %s: %ld added, %ld changed, %ld deleted, %ld orphaned, "
	       "%ld back (owner live again), %ld usage pushed, credentials of %ld pulled, "
	       "%ld expired, resources/grants/delegations %ld added, %ld changed, %ld deleted%s "
	       "in %.2f s\n", s->mode, s->server, s->added, s->changed, s->deleted,
	       s->orphaned, s->back, s->pushed, s->creds,
	       s->swept, s->acc.added, s->acc.changed, s->acc_deleted,
	       s->invalid + s->acc.invalid ? " (invalid entries skipped)" : "", secs);
}

/* One sync run into s (the directory's changes into the registry, usage
 * pushed, the snapshot published; nothing printed but errors): 0, or
 * EXIT_FAIL (printed).  s is left for the summary. */
static int sync_core(struct nhictl *x, struct sync *s, int full, int force, int show,
		     long *records)
{
	char ingest_path[PATH_MAX + 16] = "", *uri = NULL;
	int r;

	memset(s, 0, sizeof(*s));
	s->x = x;
	s->acc.x = x;
	s->acc.d = &s->d;
	s->force = force;
	s->mode = "incremental";
	s->progress = show && isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &s->t0);
	s->last_progress = s->t0;   /* a short sync shows nothing */
	x->reg_how = REG_CACHE;   /* a lost cache is rebuilt from the directory */
	if (reg_open(x) < 0)
		return EXIT_FAIL;
	/* a write killed after the directory took it: its own audit event
	 * first, not this sync's import of the change */
	if (intent_recover(x, &r) < 0)
		nerr(x, 0, "warning: the intents of interrupted runs could not be resolved now "
		     "(the next writing run retries)");
	if (dir_open(x, &s->d) != 0)
		return EXIT_FAIL;
	if (ldap_get_option(s->d.ld, LDAP_OPT_URI, &uri) == LDAP_OPT_SUCCESS && uri != NULL)
		snprintf(s->server, sizeof(s->server), "%s", uri);
	ldap_memfree(uri);
	r = run(s, full, records, ingest_path, sizeof(ingest_path));
	progress(s, 1);
	if (r == 0 && s->added + s->changed + s->deleted + s->orphaned + s->back + s->invalid + *records +
	    access_changes(s) + s->acc.invalid + s->held > 0) {
		r = reg_event(x, "sync", s->server, "ok", "mode=%s added=%ld changed=%ld deleted=%ld "
			      "orphaned=%ld owner_live_again=%ld invalid=%ld usage=%ld pushed=%ld "
			      "access_added=%ld access_changed=%ld access_deleted=%ld held=%ld",
			      s->mode, s->added, s->changed, s->deleted, s->orphaned, s->back,
			      s->invalid + s->acc.invalid, *records, s->pushed, s->acc.added,
			      s->acc.changed, s->acc_deleted, s->held);
		if (r == 0)
			r = reg_commit(x);
	} else if (r == 0) {
		/* only the cookie and the time moved: no new snapshot, unless
		 * there is none yet (a new host of an empty directory: the
		 * modules must not find "no snapshot" and fail closed) or it
		 * is older than the registry (a run killed before publishing) */
		NHI_CRASH_POINT("registry-commit-before", "");
		r = reg_exec(x, "COMMIT", "");
		if (r == 0)
			NHI_CRASH_POINT("registry-committed", "");
		if (r == 0)
			r = reg_publish_behind(x);
	}
	if (r < 0)
		reg_rollback(x);
	dir_close(&s->d);
	dead_free(s);
	dirstore_batch_free(&s->acc);
	free(s->cookie.bv_val);
	if (r < 0)
		return EXIT_FAIL;
	if (ingest_path[0] != '\0' && unlink(ingest_path) < 0 && errno != ENOENT)
		nerr(x, 0, "%s: %s", ingest_path, strerror(errno));
	return 0;
}

int sync_pull(struct nhictl *x)
{
	struct sync s;
	long records = 0;

	return sync_core(x, &s, 0, 0, 0, &records) == 0 ? 0 : EXIT_FAIL;
}

int cmd_sync(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "full", no_argument, NULL, 'f' },
		{ "force", no_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "condition", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sync s;
	struct dir_conflict *conf = NULL;
	size_t n_conf = 0;
	long records = 0;
	int c, full = 0, condition = 0, force = 0;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': full = 1; break;
		case 'F': force = 1; break;
		case 'j': x->json = 1; break;
		case 'C': condition = 1; break;
		case 'h': fputs(sync_help, stdout); return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	if (optind < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (condition)
		return x->conf.backend == NHI_BACKEND_LDAP ? EXIT_OK : EXIT_FAIL;
	if (x->conf.backend != NHI_BACKEND_LDAP)
		return nerr(x, EXIT_FAIL, "backend is 'local' in %s: there is no directory to sync "
			    "from (set backend = ldap and the ldap_* keys)",
			    x->conf.path[0] ? x->conf.path : "the configuration");
	if (sync_core(x, &s, full, force, 1, &records) != 0)
		return EXIT_FAIL;
	/* what the conflict rule holds back: reported by every sync while
	 * the directory keeps both entries (exit 3) */
	if (dir_conflicts(x, &conf, &n_conf) < 0)
		return EXIT_FAIL;
	conflict_lines(&s, conf, n_conf);
	summary(&s, since(&s.t0), records, conf, n_conf);
	free(conf);
	return n_conf > 0 ? EXIT_FINDINGS : EXIT_OK;
}

/* ident.c - identities as registry rows: loading them, and the checks
 * on the host they need (a live owner, free ids). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <stdlib.h>
#include <string.h>
#include "registry.h"
#include "nhi_policy.h"

/* The comma-separated values of one column of a child table. */
static int child_list(struct nhictl *x, const char *sql, int64_t id, char *out, size_t len)
{
	sqlite3_stmt *st = reg_prep_cached(x, sql, "i", id);   /* once per identity */
	size_t used = 0;
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	out[0] = '\0';
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		int n = snprintf(out + used, len - used, "%s%s", used ? "," : "", v ? v : "");

		if (n < 0 || (size_t)n >= len - used) {
			reg_release(st);
			return nerr(x, NHI_ERR_RANGE, "identity %lld: scope list too long", (long long)id);
		}
		used += (size_t)n;
	}
	r = r == SQLITE_DONE ? 0 : reg_dberr(x);
	reg_release(st);
	return r;
}

int ident_from_row(struct nhictl *x, sqlite3_stmt *st, struct ident *id)
{
	int r;

	memset(id, 0, sizeof(*id));
	id->id = sqlite3_column_int64(st, 0);
	col_cpy(id->name, sizeof(id->name), st, 1);
	col_cpy(id->kind, sizeof(id->kind), st, 2);
	col_cpy(id->state, sizeof(id->state), st, 3);
	col_cpy(id->gecos, sizeof(id->gecos), st, 4);
	col_cpy(id->home, sizeof(id->home), st, 5);
	col_cpy(id->shell, sizeof(id->shell), st, 6);
	col_cpy(id->owner, sizeof(id->owner), st, 7);
	col_cpy(id->purpose, sizeof(id->purpose), st, 8);
	col_cpy(id->retire_reason, sizeof(id->retire_reason), st, 9);
	id->uid = (uint32_t)sqlite3_column_int64(st, 10);
	id->gid = (uint32_t)sqlite3_column_int64(st, 11);
	id->created = sqlite3_column_int64(st, 12);
	id->expires = sqlite3_column_int64(st, 13);
	id->review_interval = sqlite3_column_int64(st, 14);
	id->last_review = sqlite3_column_int64(st, 15);
	id->review_due = sqlite3_column_int64(st, 16);
	id->orphaned_since = sqlite3_column_int64(st, 17);
	id->retired_at = sqlite3_column_int64(st, 18);
	id->last_used = sqlite3_column_int64(st, 19);
	col_cpy(id->labels, sizeof(id->labels), st, 20);
	id->applied = sqlite3_column_int(st, 21) != 0;
	r = child_list(x, "SELECT host FROM identity_host WHERE identity_id = ? ORDER BY host",
		       id->id, id->hosts, sizeof(id->hosts));
	if (r == 0)
		r = child_list(x, "SELECT service FROM identity_service WHERE identity_id = ? "
			       "ORDER BY service", id->id, id->services, sizeof(id->services));
	return r;
}

int ident_unregister(struct nhictl *x, const char *name)
{
	/* what hangs off the row without ON DELETE CASCADE, then the row */
	int r = reg_exec(x, "DELETE FROM rotation WHERE credential_id IN (SELECT c.id FROM "
			 "credential c JOIN identity i ON i.id = c.identity_id WHERE i.name = ?)",
			 "s", name);

	if (r == 0)
		r = reg_exec(x, "DELETE FROM credential WHERE identity_id IN "
			     "(SELECT id FROM identity WHERE name = ?)", "s", name);
	if (r == 0)
		r = reg_exec(x, "DELETE FROM identity WHERE name = ?", "s", name);
	return r;
}

int ident_load(struct nhictl *x, const char *name, struct ident *id)
{
	sqlite3_stmt *st = reg_prep(x, "SELECT " IDENT_COLS " FROM identity WHERE name = ?",
				    "s", name);
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		r = ident_from_row(x, st, id);
	else if (r == SQLITE_DONE)
		r = NHI_ERR_NOTFOUND;
	else
		r = reg_dberr(x);
	sqlite3_finalize(st);
	return r;
}

/* ---- checks ----------------------------------------------------------- */

static int in_group(const char *user, gid_t pgid, const char *group)
{
	struct group *gr = getgrnam(group);
	char **m;

	if (gr == NULL)
		return 0;
	if (gr->gr_gid == pgid)
		return 1;
	for (m = gr->gr_mem; m && *m; m++)
		if (strcmp(*m, user) == 0)
			return 1;
	return 0;
}

/* A locked password field: usermod -L / passwd -l put a '!' in front of
 * the hash ("!$y$..."), or of an unset password ("!!").  A bare "!" (or
 * "*") is what useradd leaves when no password was ever set: a human who
 * logs in with an SSH key, not a locked account. */
static int pw_locked(const char *p)
{
	if (p[0] != '!')
		return 0;
	if (p[1] == '!')
		return 1;
	return p[1] != '\0' && strcmp(p + 1, "*") != 0;
}

/* What the host's user database says of an owner: the checks before the
 * registry's (passwd, classification, groups) and after it (shadow), each
 * 0 or NHI_ERR_* with its reason.  A command asks about the same few owners
 * again and again (apply: every identity, several times), and each miss
 * walks every NSS module (systemd's userdb: some thirty system calls), so
 * the answers are kept for the life of the process: nhictl is one short
 * command, and nothing it does changes the host's users. */
struct owner_host {
	char name[33];                 /* nhi_valid_name: at most 32 */
	int pre, post;
	int have_uid;
	uid_t uid;
	char why_pre[200], why_post[200];
};

static void owner_host_check(struct nhictl *x, const char *owner, struct owner_host *h)
{
	struct passwd *pw;
	struct spwd *sp;
	const char *g;

	h->pre = h->post = h->have_uid = 0;
	h->why_pre[0] = h->why_post[0] = '\0';
	errno = 0;
	pw = getpwnam(owner);
	if (pw == NULL) {
		h->pre = nhi_seterr(h->why_pre, sizeof(h->why_pre), NHI_ERR_NOTFOUND,
				    "owner '%s': no such user", owner);
		return;
	}
	h->have_uid = 1;
	h->uid = pw->pw_uid;
	if (pw->pw_uid == 0) {
		h->pre = nhi_seterr(h->why_pre, sizeof(h->why_pre), NHI_ERR_PERM,
				    "owner '%s': root is not a person; name a human owner", owner);
		return;
	}
	/* Debian's static system accounts (uid 1..99, below SYS_UID_MIN) and
	 * nobody are nobody's person either, whatever service_uids says */
	if (pw->pw_uid < x->conf.sys_uid_min || pw->pw_uid == 65534) {
		h->pre = nhi_seterr(h->why_pre, sizeof(h->why_pre), NHI_ERR_PERM,
				    "owner '%s' is a system account (uid %u), not a human",
				    owner, (unsigned)pw->pw_uid);
		return;
	}
	if (nhi_classify_static(&x->conf, owner, pw->pw_uid)) {
		h->pre = nhi_seterr(h->why_pre, sizeof(h->why_pre), NHI_ERR_PERM,
				    "owner '%s' is a service account (uid %u), not a human",
				    owner, (unsigned)pw->pw_uid);
		return;
	}
	for (g = nhi_strlist_first(&x->conf.service_groups); g;
	     g = nhi_strlist_next(&x->conf.service_groups, g))
		if (in_group(owner, pw->pw_gid, g)) {
			h->pre = nhi_seterr(h->why_pre, sizeof(h->why_pre), NHI_ERR_PERM,
					    "owner '%s' is a service account (group %s), not a human",
					    owner, g);
			return;
		}
	/* shadow: locked or expired accounts are not live; when shadow cannot
	 * be read (not root) the passwd entry alone has to do */
	sp = getspnam(owner);
	if (sp != NULL) {
		if (sp->sp_pwdp != NULL && pw_locked(sp->sp_pwdp))
			h->post = nhi_seterr(h->why_post, sizeof(h->why_post), NHI_ERR_PERM,
					     "owner '%s' is locked (not a live human)", owner);
		else if (sp->sp_expire > 0 && (int64_t)x->now >= (int64_t)sp->sp_expire * 86400)
			h->post = nhi_seterr(h->why_post, sizeof(h->why_post), NHI_ERR_PERM,
					     "owner '%s': the account expired (not a live human)", owner);
	}
}

/* The kept answers: a small table searched in order (a command names few
 * owners); past its size an owner is simply looked up each time. */
#define OWNER_MEMO 64
static struct owner_host owner_memo[OWNER_MEMO];
static int owner_memo_n;

static const struct owner_host *owner_host(struct nhictl *x, const char *owner,
					   struct owner_host *tmp)
{
	int i;

	for (i = 0; i < owner_memo_n; i++)
		if (strcmp(owner_memo[i].name, owner) == 0)
			return &owner_memo[i];
	owner_host_check(x, owner, tmp);
	snprintf(tmp->name, sizeof(tmp->name), "%s", owner);
	if (owner_memo_n < OWNER_MEMO) {
		owner_memo[owner_memo_n] = *tmp;
		return &owner_memo[owner_memo_n++];
	}
	return tmp;
}

int owner_live_uid(struct nhictl *x, const char *owner, uid_t *uid, int *have_uid,
		   char *why, size_t len)
{
	struct owner_host tmp;
	const struct owner_host *h;
	int64_t reg = 0;

	*have_uid = 0;
	if (!nhi_valid_name(owner))
		return nhi_seterr(why, len, NHI_ERR_INVAL, "'%s' is not a valid user name", owner);
	h = owner_host(x, owner, &tmp);
	*have_uid = h->have_uid;
	*uid = h->uid;
	if (h->pre < 0)
		return nhi_seterr(why, len, h->pre, "%s", h->why_pre);
	if (x->db != NULL) {
		if (reg_int(x, &reg, 0, "SELECT count(*) FROM identity WHERE name = ?", "s", owner) < 0)
			return NHI_ERR_DB;
		if (reg)
			return nhi_seterr(why, len, NHI_ERR_PERM,
					  "owner '%s' is a registered identity, not a human", owner);
	}
	if (h->post < 0)
		return nhi_seterr(why, len, h->post, "%s", h->why_post);
	return 0;
}

int owner_live(struct nhictl *x, const char *owner, char *why, size_t len)
{
	uid_t uid;
	int have;

	return owner_live_uid(x, owner, &uid, &have, why, len);
}

int id_free(struct nhictl *x, uint32_t id)
{
	int64_t n = 0;

	if (reg_int(x, &n, 0, "SELECT (SELECT count(*) FROM identity WHERE uid = ?1 OR gid = ?1)"
		    " + (SELECT count(*) FROM grp WHERE gid = ?1)", "u", id) < 0)
		return NHI_ERR_DB;
	if (n > 0)
		return 0;
	if (getpwuid((uid_t)id) != NULL || getgrgid((gid_t)id) != NULL)
		return 0;
	return 1;
}

/* Above the high-water mark: the highest id ever handed out, kept in the
 * registry and in the state file beside it (regstate.c), so that a
 * registry restored from an old backup or recreated never gives a retired
 * identity's uid (its files, crontab, processes) to a new one. */
int alloc_id(struct nhictl *x, uint32_t *out)
{
	struct reg_state s;
	uint64_t id;
	int64_t high = 0;
	int r;

	if (regstate_load(x, &s) < 0 ||
	    reg_int(x, &high, 0, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'id_high'",
		    "") < 0)
		return NHI_ERR_DB;
	if (s.id_high > high)
		high = s.id_high;
	id = high >= (int64_t)x->conf.uid_min ? (uint64_t)high + 1 : x->conf.uid_min;
	for (; id <= x->conf.uid_max; id++) {
		r = id_free(x, (uint32_t)id);
		if (r < 0)
			return r;
		if (r) {
			*out = (uint32_t)id;
			return reg_exec(x, "INSERT OR REPLACE INTO meta VALUES ('id_high', ?)", "i",
					(int64_t)id);
		}
	}
	if (high >= (int64_t)x->conf.uid_min)
		return nerr(x, NHI_ERR_RANGE, "no free id left in %lld..%u (above the high-water "
			    "mark %lld, up to uid_max)", (long long)high + 1, x->conf.uid_max,
			    (long long)high);
	return nerr(x, NHI_ERR_RANGE, "no free id left in %u..%u (uid_min..uid_max)",
		    x->conf.uid_min, x->conf.uid_max);
}

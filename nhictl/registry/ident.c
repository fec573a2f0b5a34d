/* ident.c - identities as registry rows: loading, printing, and the checks
 * shared by several verbs (live owner, free ids, expiry bounds). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <stdlib.h>
#include <string.h>
#include "nhictl.h"
#include "nhi_policy.h"

void col_cpy(char *dst, size_t len, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(dst, len, "%s", t ? (const char *)t : "");
}

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
	r = child_list(x, "SELECT host FROM identity_host WHERE identity_id = ? ORDER BY host",
		       id->id, id->hosts, sizeof(id->hosts));
	if (r == 0)
		r = child_list(x, "SELECT service FROM identity_service WHERE identity_id = ? "
			       "ORDER BY service", id->id, id->services, sizeof(id->services));
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

int ident_get(struct nhictl *x, const char *name, struct ident *id)
{
	int r = ident_load(x, name, id);

	if (r == NHI_ERR_NOTFOUND)
		return nerr(x, EXIT_FAIL, "no identity '%s' in the registry", name);
	return r < 0 ? EXIT_FAIL : 0;
}

void ident_to_nhi(const struct ident *id, struct nhi_ident *ni)
{
	memset(ni, 0, sizeof(*ni));
	ni->name = id->name;
	ni->gecos = id->gecos;
	ni->home = id->home;
	ni->shell = id->shell;
	ni->owner = id->owner;
	ni->purpose = id->purpose;
	ni->hosts = id->hosts;
	ni->services = id->services;
	ni->uid = id->uid;
	ni->gid = id->gid;
	ni->kind = nhi_kind_parse(id->kind);
	ni->state = nhi_state_parse(id->state);
	ni->created = id->created;
	ni->expires = id->expires;
	ni->review_interval = id->review_interval;
	ni->review_due = id->review_due;
	ni->orphaned_since = id->orphaned_since;
	ni->last_used = id->last_used;
}

void ident_json(struct nhictl *x, const struct ident *id)
{
	struct json j;

	json_init(&j, stdout);
	json_obj(&j);
	ident_json_fields(x, id, &j);
	json_obj_end(&j);
	json_end(&j);
}

void ident_json_fields(struct nhictl *x, const struct ident *id, struct json *j)
{
	json_kstr(j, "name", id->name);
	json_kstr(j, "kind", id->kind);
	json_kint(j, "uid", id->uid);
	json_kint(j, "gid", id->gid);
	json_kstr(j, "owner", id->owner);
	json_kstr(j, "purpose", id->purpose);
	json_kstr(j, "gecos", id->gecos);
	json_kstr(j, "home", id->home);
	json_kstr(j, "shell", id->shell);
	json_ktime(j, "created", id->created);
	json_ktime(j, "expires", id->expires);
	json_kbool(j, "expired", id->expires != 0 && x->now >= id->expires);
	json_kint(j, "review_interval", id->review_interval);
	json_ktime(j, "last_review", id->last_review);
	json_ktime(j, "review_due", id->review_due);
	json_kbool(j, "review_overdue", id->review_due != 0 && x->now >= id->review_due &&
		   strcmp(id->state, "retired") != 0);
	json_kstr(j, "state", id->state);
	json_klist(j, "hosts", id->hosts);
	json_klist(j, "services", id->services);
	json_ktime(j, "last_used", id->last_used);
	json_ktime(j, "orphaned_since", id->orphaned_since);
	json_ktime(j, "retired_at", id->retired_at);
	json_key(j, "retire_reason");
	json_str(j, id->retired_at ? id->retire_reason : NULL);
}

static const char *tm_or(int64_t t, char *buf, const char *none)
{
	return t ? nhi_format_time((time_t)t, buf) : none;
}

void ident_text(struct nhictl *x, const struct ident *id)
{
	char b[NHI_TIME_BUFSZ], d[32];
	const char *st = id->state;

	printf("name:            %s\n", id->name);
	printf("kind:            %s\n", id->kind);
	if (strcmp(st, "retired") != 0 && id->expires != 0 && x->now >= id->expires)
		printf("state:           %s (expired)\n", st);
	else
		printf("state:           %s\n", st);
	printf("uid/gid:         %u/%u\n", id->uid, id->gid);
	printf("owner:           %s\n", id->owner);
	printf("purpose:         %s\n", id->purpose);
	printf("home:            %s\n", id->home);
	printf("shell:           %s\n", id->shell);
	printf("created:         %s\n", tm_or(id->created, b, "-"));
	printf("expires:         %s\n", tm_or(id->expires, b, "-"));
	printf("review every:    %s\n", nhi_format_duration(id->review_interval, d, sizeof(d)));
	printf("last review:     %s\n", tm_or(id->last_review, b, "never"));
	printf("review due:      %s\n", tm_or(id->review_due, b, "-"));
	printf("hosts:           %s\n", id->hosts[0] ? id->hosts : "any");
	printf("services:        %s\n", id->services[0] ? id->services : "any");
	printf("last used:       %s\n", tm_or(id->last_used, b, "never"));
	if (id->orphaned_since)
		printf("orphaned since:  %s\n", tm_or(id->orphaned_since, b, "-"));
	if (id->retired_at)
		printf("retired:         %s (%s)\n", tm_or(id->retired_at, b, "-"),
		       id->retire_reason[0] ? id->retire_reason : "no reason given");
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

int owner_live(struct nhictl *x, const char *owner, char *why, size_t len)
{
	struct passwd *pw;
	struct spwd *sp;
	const char *g;
	int64_t reg = 0;

	if (!nhi_valid_name(owner))
		return nhi_seterr(why, len, NHI_ERR_INVAL, "'%s' is not a valid user name", owner);
	errno = 0;
	pw = getpwnam(owner);
	if (pw == NULL)
		return nhi_seterr(why, len, NHI_ERR_NOTFOUND, "owner '%s': no such user", owner);
	if (pw->pw_uid == 0)
		return nhi_seterr(why, len, NHI_ERR_PERM,
				  "owner '%s': root is not a person; name a human owner", owner);
	/* Debian's static system accounts (uid 1..99, below SYS_UID_MIN) and
	 * nobody are nobody's person either, whatever service_uids says */
	if (pw->pw_uid < x->conf.sys_uid_min || pw->pw_uid == 65534)
		return nhi_seterr(why, len, NHI_ERR_PERM,
				  "owner '%s' is a system account (uid %u), not a human",
				  owner, (unsigned)pw->pw_uid);
	if (nhi_classify_static(&x->conf, owner, pw->pw_uid))
		return nhi_seterr(why, len, NHI_ERR_PERM,
				  "owner '%s' is a service account (uid %u), not a human",
				  owner, (unsigned)pw->pw_uid);
	for (g = nhi_strlist_first(&x->conf.service_groups); g;
	     g = nhi_strlist_next(&x->conf.service_groups, g))
		if (in_group(owner, pw->pw_gid, g))
			return nhi_seterr(why, len, NHI_ERR_PERM,
					  "owner '%s' is a service account (group %s), not a human",
					  owner, g);
	if (x->db != NULL) {
		if (reg_int(x, &reg, 0, "SELECT count(*) FROM identity WHERE name = ?", "s", owner) < 0)
			return NHI_ERR_DB;
		if (reg)
			return nhi_seterr(why, len, NHI_ERR_PERM,
					  "owner '%s' is a registered identity, not a human", owner);
	}
	/* shadow: locked or expired accounts are not live; when shadow cannot
	 * be read (not root) the passwd entry alone has to do */
	sp = getspnam(owner);
	if (sp != NULL) {
		if (sp->sp_pwdp != NULL && pw_locked(sp->sp_pwdp))
			return nhi_seterr(why, len, NHI_ERR_PERM,
					  "owner '%s' is locked (not a live human)", owner);
		if (sp->sp_expire > 0 && (int64_t)x->now >= (int64_t)sp->sp_expire * 86400)
			return nhi_seterr(why, len, NHI_ERR_PERM,
					  "owner '%s': the account expired (not a live human)", owner);
	}
	return 0;
}

int owner_id_record(struct nhictl *x, const char *name)
{
	sqlite3_stmt *st = reg_prep(x, "SELECT owner, owner_dn FROM identity WHERE name = ?", "s", name);
	char owner[64] = "", dn[1024] = "", id[64], why[1024];
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		snprintf(owner, sizeof(owner), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(dn, sizeof(dn), "%s", (const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	if (r != SQLITE_ROW)
		return r == SQLITE_DONE ? NHI_ERR_NOTFOUND : reg_dberr(x);
	r = owner_now(x, owner, dn, id, sizeof(id), why, sizeof(why));
	if (r == NHI_ERR_DB || r == NHI_ERR_IO)
		return nerr(x, r, "%s", why);
	return reg_exec(x, "UPDATE identity SET owner_id = nullif(?, ''), orphan_cause = '' "
			"WHERE name = ?", "ss", id, name);
}

int owner_decide(struct owner_plan *o, const char *owner, const char *had, const char *now,
		 int r, const char *why, const char *what)
{
	o->orphan = 1;
	snprintf(o->owner_id, sizeof(o->owner_id), "%s", had[0] ? had : now);
	if (had[0] && now[0] && strcmp(had, now) != 0) {
		snprintf(o->cause, sizeof(o->cause), "other");
		snprintf(o->why, sizeof(o->why), "owner '%.200s' is now %s %s, not %s %s the "
			 "identity was given to: another person under that name", owner, what,
			 now, what, had);
		return 1;
	}
	if (r == 0) {
		o->orphan = 0;
		snprintf(o->why, sizeof(o->why), "owner '%.200s' is %s %s (recorded now: "
			 "the registry did not know it)", owner, what, now);
		return !had[0] && now[0];
	}
	snprintf(o->cause, sizeof(o->cause), "%s", r == NHI_ERR_PERM ? "locked" : "gone");
	snprintf(o->why, sizeof(o->why), "%s", why);
	return 1;
}

int orphan_limit(struct nhictl *x, long n, int force)
{
	const struct nhi_conf *c = &x->conf;
	int64_t total = 0;
	char limit[32];

	if (n <= 0 || force || c->orphan_max == 0)
		return 0;
	if (c->orphan_max_percent) {
		if (reg_int(x, &total, 0, "SELECT count(*) FROM identity WHERE state != 'retired'",
			    "") < 0)
			return NHI_ERR_DB;
		if ((int64_t)n * 100 <= (int64_t)c->orphan_max * total)
			return 0;
		snprintf(limit, sizeof(limit), "%u%% of %lld", (unsigned)c->orphan_max,
			 (long long)total);
	} else {
		if (n <= (long)c->orphan_max)
			return 0;
		snprintf(limit, sizeof(limit), "%u", (unsigned)c->orphan_max);
	}
	return nerr(x, NHI_ERR_PERM, "stopped: the owner re-check would orphan %ld identities "
		    "at once, more than orphan_max (%s); nothing was changed.  If their owners "
		    "really are gone, run it again with --force, or raise orphan_max in %s "
		    "(a broken ldap_owner_filter or people base looks like this)", n, limit,
		    c->path[0] ? c->path : "nhi.conf");
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

int parse_expiry(struct nhictl *x, const char *s, time_t *out)
{
	char err[256], b1[NHI_TIME_BUFSZ], d[32];

	if (nhi_parse_time(s, x->now, out, err, sizeof(err)) < 0)
		return nerr(x, EXIT_USAGE, "bad --expires '%s': %s", s, err);
	if (*out <= x->now)
		return nerr(x, EXIT_FAIL, "expiry %s is not in the future",
			    nhi_format_time(*out, b1));
	if ((int64_t)*out - (int64_t)x->now > x->conf.max_lifetime)
		return nerr(x, EXIT_FAIL, "expiry %s is beyond max_lifetime (%s from now)",
			    nhi_format_time(*out, b1),
			    nhi_format_duration(x->conf.max_lifetime, d, sizeof(d)));
	return 0;
}

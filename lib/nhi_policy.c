/* nhi_policy.c - classification and the account decision (docs/design.md,
 * "PAM decisions").  Shared by pam_nhi and `nhictl check`. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "nhi_err.h"
#include "nhi_policy.h"
#include "nhi_time.h"

const char *nhi_verdict_str(enum nhi_verdict v)
{
	switch (v) {
	case NHI_V_IGNORE: return "ignore";
	case NHI_V_ALLOW: return "allow";
	case NHI_V_DENY: return "deny";
	case NHI_V_EXPIRED: return "expired";
	case NHI_V_UNAVAIL: return "unavailable";
	}
	return "unknown";
}

const char *nhi_reason_str(enum nhi_reason r)
{
	switch (r) {
	case NHI_R_ROOT: return "root";
	case NHI_R_HUMAN: return "not-a-service-account";
	case NHI_R_OK: return "ok";
	case NHI_R_UNREGISTERED: return "unregistered";
	case NHI_R_EXPIRED: return "expired";
	case NHI_R_SUSPENDED: return "suspended";
	case NHI_R_RETIRED: return "retired";
	case NHI_R_ORPHANED: return "orphaned";
	case NHI_R_REVIEW_OVERDUE: return "review-overdue";
	case NHI_R_HOST_SCOPE: return "host-out-of-scope";
	case NHI_R_SERVICE_SCOPE: return "service-out-of-scope";
	case NHI_R_NO_SNAPSHOT: return "snapshot-unavailable";
	case NHI_R_CONFIG: return "config-error";
	case NHI_R_NO_DELEGATION: return "no-delegation";
	case NHI_R_HUMAN_USE: return "human-use";
	case NHI_R_UID_MISMATCH: return "uid-mismatch";
	}
	return "unknown";
}

static int in_range(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi;
}

enum nhi_rule nhi_classify_rule(const struct nhi_conf *c, const char *name, uid_t uid,
				struct nhi_rule_match *m)
{
	struct nhi_rule_match own, *w = m != NULL ? m : &own;

	w->index = 0;
	w->pattern = NULL;
	if (uid == 0)
		return NHI_RULE_NONE;
	if (in_range(uid, c->uid_min, c->uid_max))
		return NHI_RULE_UID_RANGE;
	/* "system": Debian's static system accounts (1-99), the dynamic
	 * system range of login.defs, and nobody (65534) */
	if (c->service_uids_system &&
	    (in_range(uid, 1, c->sys_uid_max) || uid == 65534))
		return NHI_RULE_SYSTEM;
	for (unsigned i = 0; i < c->n_service_uids; i++)
		if (in_range(uid, c->service_uids[i].lo, c->service_uids[i].hi)) {
			w->index = i;
			return NHI_RULE_SERVICE_UIDS;
		}
	if (name != NULL)
		for (const char *p = nhi_strlist_first(&c->service_names); p;
		     p = nhi_strlist_next(&c->service_names, p))
			if (fnmatch(p, name, 0) == 0) {
				w->pattern = p;
				return NHI_RULE_SERVICE_NAMES;
			}
	return NHI_RULE_NONE;
}

int nhi_classify_static(const struct nhi_conf *c, const char *name, uid_t uid)
{
	return nhi_classify_rule(c, name, uid, NULL) != NHI_RULE_NONE;
}

/* Does a comma-separated list of globs match? "" matches everything. */
int nhi_scope_match(const char *list, const char *what, int casefold)
{
	char pat[256];
	const char *p = list;

	if (list == NULL || *list == '\0' || what == NULL)
		return 1;
	while (*p != '\0') {
		size_t n;

		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 0 && n < sizeof(pat)) {
			memcpy(pat, p, n);
			pat[n] = '\0';
			if (fnmatch(pat, what, casefold ? FNM_CASEFOLD : 0) == 0)
				return 1;
		}
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	return 0;
}

static void set(struct nhi_decision *d, enum nhi_verdict v, enum nhi_reason r,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#include <stdarg.h>
static void set(struct nhi_decision *d, enum nhi_verdict v, enum nhi_reason r,
		const char *fmt, ...)
{
	va_list ap;

	d->verdict = v;
	d->would = v;
	d->reason = r;
	if (v != NHI_V_ALLOW)
		d->warnings = 0;  /* a denial carries no warnings */
	va_start(ap, fmt);
	vsnprintf(d->message, sizeof(d->message), fmt, ap);
	va_end(ap);
}

/* Time arithmetic on values from the snapshot and the configuration,
 * which may be extreme (a damaged or hostile record): saturate instead of
 * overflowing, so that a time past the end of time stays there. */
static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return b > 0 ? INT64_MIN : INT64_MAX;
	return r;
}

void nhi_policy_decide(const struct nhi_conf *c, const struct nhi_ident *id,
		       time_t now, const char *host, const char *service,
		       struct nhi_decision *d)
{
	char t1[NHI_TIME_BUFSZ];

	memset(d, 0, sizeof(*d));
	d->service_account = 1;
	if (id == NULL) {
		set(d, NHI_V_DENY, NHI_R_UNREGISTERED,
		    "unregistered service account: register it with nhictl adopt");
		return;
	}
	d->registered = 1;
	if (id->state == NHI_STATE_RETIRED) {
		set(d, NHI_V_DENY, NHI_R_RETIRED, "identity %s is retired", id->name);
		return;
	}
	if (id->expires != 0 && now >= id->expires) {
		set(d, NHI_V_EXPIRED, NHI_R_EXPIRED, "identity %s expired on %s",
		    id->name, nhi_format_time(id->expires, t1));
		return;
	}
	if (id->state == NHI_STATE_SUSPENDED) {
		set(d, NHI_V_DENY, NHI_R_SUSPENDED, "identity %s is suspended", id->name);
		return;
	}
	if (id->state == NHI_STATE_ORPHANED) {
		if (id->orphaned_since == 0 || now >= sat_add(id->orphaned_since, c->orphan_grace)) {
			set(d, NHI_V_DENY, NHI_R_ORPHANED,
			    "identity %s has no live owner (orphaned since %s)",
			    id->name, nhi_format_time(id->orphaned_since, t1));
			return;
		}
		d->warnings |= NHI_W_ORPHANED;
	}
	if (!nhi_scope_match(id->hosts, host, 1)) {
		set(d, NHI_V_DENY, NHI_R_HOST_SCOPE, "identity %s may not be used on host %s",
		    id->name, host);
		return;
	}
	if (!nhi_scope_match(id->services, service, 0)) {
		set(d, NHI_V_DENY, NHI_R_SERVICE_SCOPE, "identity %s may not be used through %s",
		    id->name, service);
		return;
	}
	if (c->review != NHI_REVIEW_OFF && id->review_due != 0) {
		if (now >= sat_add(id->review_due, c->review_grace)) {
			if (c->review == NHI_REVIEW_ENFORCE) {
				set(d, NHI_V_DENY, NHI_R_REVIEW_OVERDUE,
				    "identity %s: review overdue since %s (owner: nhictl review %s)",
				    id->name, nhi_format_time(id->review_due, t1), id->name);
				return;
			}
			d->warnings |= NHI_W_REVIEW_OVERDUE;
		} else if (now >= id->review_due) {
			d->warnings |= NHI_W_REVIEW_OVERDUE;
		} else if (now >= sat_sub(id->review_due, c->warn_before)) {
			d->warnings |= NHI_W_REVIEW_NEAR;
		}
	}
	if (id->expires != 0 && now >= sat_sub(id->expires, c->warn_before))
		d->warnings |= NHI_W_EXPIRY_NEAR;

	set(d, NHI_V_ALLOW, NHI_R_OK, "%s", "");
	/* one line for the user naming the most urgent warning */
	if (d->warnings & NHI_W_ORPHANED)
		snprintf(d->message, sizeof(d->message),
			 "warning: identity %s has no live owner; it will be denied after %s",
			 id->name, nhi_format_time((time_t)sat_add(id->orphaned_since, c->orphan_grace), t1));
	else if (d->warnings & NHI_W_REVIEW_OVERDUE)
		snprintf(d->message, sizeof(d->message),
			 "warning: identity %s: review overdue since %s",
			 id->name, nhi_format_time(id->review_due, t1));
	else if (d->warnings & NHI_W_EXPIRY_NEAR)
		snprintf(d->message, sizeof(d->message), "warning: identity %s expires on %s",
			 id->name, nhi_format_time(id->expires, t1));
	else if (d->warnings & NHI_W_REVIEW_NEAR)
		snprintf(d->message, sizeof(d->message), "warning: identity %s: review due on %s",
			 id->name, nhi_format_time(id->review_due, t1));
}

/* getpwnam_r/getgrnam_r into a heap buffer grown on ERANGE (a PAM call
 * keeps its stack small: a caller's thread may have only 16 KB).  The
 * buffer is *buf, to free; the answer *res (NULL when none). */
static void *nss_get(int group, const char *name, void *ent, char **buf, void **res)
{
	size_t len = 1024;
	int e;

	*res = NULL;
	for (;;) {
		*buf = malloc(len);
		if (*buf == NULL)
			return NULL;
		e = group ? getgrnam_r(name, ent, *buf, len, (struct group **)res)
			  : getpwnam_r(name, ent, *buf, len, (struct passwd **)res);
		if (e != ERANGE || len >= 1024 * 1024)
			break;
		free(*buf);
		len *= 4;
	}
	if (e != 0)
		*res = NULL;
	return *res;
}

const char *nhi_service_group(const struct nhi_conf *c, const char *user, gid_t pgid)
{
	gid_t stackbuf[64], *groups = stackbuf;
	const char *found = NULL;
	int n = 64;

	if (c->service_groups.n == 0)
		return NULL;
	if (getgrouplist(user, pgid, groups, &n) < 0) {
		if (n <= 64 || n > 65536)
			return NULL;
		groups = calloc((size_t)n, sizeof(*groups));
		if (groups == NULL)
			return NULL;
		if (getgrouplist(user, pgid, groups, &n) < 0)
			goto out;
	}
	for (const char *g = nhi_strlist_first(&c->service_groups); g && !found;
	     g = nhi_strlist_next(&c->service_groups, g)) {
		struct group gr, *res;
		char *buf;

		res = nss_get(1, g, &gr, &buf, (void **)&res);
		for (int i = 0; res != NULL && i < n; i++)
			if (groups[i] == res->gr_gid)
				found = g;
		free(buf);
	}
out:
	if (groups != stackbuf)
		free(groups);
	return found;
}

#define REGISTERED_MAX (16 * 1024 * 1024)

/* Is 'user' (or 'uid', unless (uid_t)-1) in registered.uids?  nhictl
 * lists there, with every publication, the registered identities outside
 * uid_min..uid_max (adopted accounts), which the configuration alone does
 * not make service accounts: without a usable snapshot they must still
 * fail closed.  Lines "UID NAME", '#' comments.  0 when the file is
 * missing, untrusted or unreadable (nothing more is known then). */
static int listed_registered(const struct nhi_conf *c, const char *user, uid_t uid)
{
	char err[256], *buf = NULL, *p, *end;
	struct stat st;
	int fd, found = 0;
	ssize_t n;

	fd = open(c->registered_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return 0;
	/* opened with O_NOFOLLOW: no link; the check's fstat fills st */
	if (nhi_check_trusted(fd, c->registered_path, NHI_TRUST_NOT_LINK, &st, err,
			      sizeof(err)) < 0 || st.st_size <= 0 || st.st_size > REGISTERED_MAX ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto out;
	n = read(fd, buf, (size_t)st.st_size);
	if (n <= 0)
		goto out;
	buf[n] = '\0';
	for (p = buf; p < buf + n && !found; p = end + 1) {
		char *name;
		unsigned long v;

		end = memchr(p, '\n', (size_t)(buf + n - p));
		if (end == NULL)
			break;   /* a line without its end: cut short */
		*end = '\0';
		if (*p == '#')
			continue;
		errno = 0;
		v = strtoul(p, &name, 10);
		if (name == p || *name != ' ' || errno != 0 || v >= 4294967295UL)
			continue;
		name++;
		found = strcmp(name, user) == 0 || (uid != (uid_t)-1 && (uid_t)v == uid);
	}
out:
	free(buf);
	close(fd);
	return found;
}

/* A service account while nhi.conf is broken: fail closed. */
static void config_broken(const struct nhi_conf *c, const char *user, struct nhi_decision *d)
{
	d->service_account = 1;
	set(d, NHI_V_UNAVAIL, NHI_R_CONFIG,
	    "service account %s: refused while the nhi configuration is broken", user);
}

/* The account the caller gets for USER is the identity's: a local
 * account of the same name listed before nhi in nsswitch.conf (useradd
 * while the snapshot was unreadable, a line added to /etc/passwd) would
 * otherwise be let in with the identity's credentials and policy.  A
 * name NSS does not resolve is left alone (a PAM-only host). */
static void same_uid(const char *user, const struct nhi_ident *id, struct nhi_decision *d)
{
	struct passwd pw, *res = NULL;
	char *buf = NULL;

	res = nss_get(0, user, &pw, &buf, (void **)&res);
	if (res != NULL && res->pw_uid != (uid_t)id->uid)
		set(d, NHI_V_DENY, NHI_R_UID_MISMATCH, "%s is registered with uid %u, but this "
		    "system resolves it to uid %u: a local account of that name shadows the "
		    "identity", user, (unsigned)id->uid, (unsigned)res->pw_uid);
	free(buf);
}

/* The account check without mode=audit and on_unavailable; *id is
 * USER's record when d->registered. */
static void account_check(const struct nhi_conf *c, const struct nhi_snap *snap,
			  const char *user, const char *host, const char *service,
			  time_t now, struct nhi_decision *d, struct nhi_ident *idp)
{
	struct passwd pw, *res = NULL;
	char *pwbuf = NULL, hostbuf[256];
	int registered = 0, service_account;

	memset(d, 0, sizeof(*d));
	if (user == NULL || *user == '\0' || strcmp(user, "root") == 0) {
		set(d, NHI_V_IGNORE, NHI_R_ROOT, "%s", "");
		return;
	}
	if (host == NULL)
		host = nhi_conf_hostname(c, hostbuf, sizeof(hostbuf));
	if (snap != NULL) {
		int r = nhi_snap_ident_by_name(snap, user, idp);

		if (r == 0) {
			registered = 1;
		} else if (r != NHI_ERR_NOTFOUND) {
			/* a block whose checksum fails (NHI_SNAP_VERIFY_READ) or a
			 * record out of bounds: as good as no snapshot */
			d->snapshot_damaged = 1;
			snap = NULL;
		}
	}

	if (registered) {
		if (idp->uid == 0) {
			set(d, NHI_V_IGNORE, NHI_R_ROOT, "%s", "");
			return;
		}
		if (c->broken) {
			d->registered = 1;
			config_broken(c, user, d);
		} else {
			nhi_policy_decide(c, idp, now, host, service, d);
		}
	} else {
		/* classify through NSS; unknown users only by name pattern */
		res = nss_get(0, user, &pw, &pwbuf, (void **)&res);
		if (res != NULL && res->pw_uid == 0) {
			free(pwbuf);
			set(d, NHI_V_IGNORE, NHI_R_ROOT, "%s", "");
			return;
		}
		if (res != NULL)
			service_account = nhi_classify_static(c, user, res->pw_uid) ||
					  nhi_service_group(c, user, res->pw_gid) != NULL ||
					  (snap == NULL && listed_registered(c, user, res->pw_uid));
		else if (snap == NULL)
			service_account = 1;  /* may be one of ours, gone with the snapshot */
		else
			service_account = nhi_classify_static(c, user, (uid_t)-1);
		free(pwbuf);
		if (!service_account) {
			set(d, NHI_V_IGNORE, NHI_R_HUMAN, "%s", "");
			return;
		}
		if (c->broken) {
			config_broken(c, user, d);
		} else if (snap == NULL) {
			d->service_account = 1;
			set(d, NHI_V_UNAVAIL, NHI_R_NO_SNAPSHOT,
			    "service account %s: the nhi registry snapshot is unavailable", user);
		} else {
			nhi_policy_decide(c, NULL, now, host, service, d);
		}
	}
}

/* mode = audit and on_unavailable, last. */
static void apply_modes(const struct nhi_conf *c, struct nhi_decision *d)
{
	if (d->verdict == NHI_V_UNAVAIL && d->reason == NHI_R_NO_SNAPSHOT &&
	    c->on_unavailable == NHI_UNAVAIL_IGNORE) {
		d->verdict = NHI_V_IGNORE;
		return;
	}
	if (c->mode == NHI_MODE_AUDIT &&
	    (d->verdict == NHI_V_DENY || d->verdict == NHI_V_EXPIRED || d->verdict == NHI_V_UNAVAIL)) {
		d->verdict = NHI_V_ALLOW;
		d->warnings |= NHI_W_AUDIT;
	}
}

void nhi_account_check(const struct nhi_conf *c, const struct nhi_snap *snap,
		       const char *user, const char *host, const char *service,
		       time_t now, struct nhi_decision *d)
{
	struct nhi_ident id;

	account_check(c, snap, user, host, service, now, d, &id);
	if (d->verdict == NHI_V_ALLOW && d->registered)
		same_uid(user, &id, d);
	apply_modes(c, d);
}

/* ---- PAM_RUSER: delegations and human use --------------------------- */

/* A lookup found the snapshot damaged: fail closed, as for USER. */
static void ruser_damaged(struct nhi_decision *d, const char *user, const char *ruser)
{
	d->snapshot_damaged = 1;
	set(d, NHI_V_UNAVAIL, NHI_R_NO_SNAPSHOT,
	    "service account %s (requested by %s): the nhi registry snapshot is damaged",
	    user, ruser);
}

/* Why the path FROM -> TO through edge g is cut, or NULL when it is live. */
static const char *cut_at(const struct nhi_pw *from, const struct nhi_ident *to,
			  const struct nhi_deleg *g, time_t now, char *buf, size_t len)
{
	char t[NHI_TIME_BUFSZ];

	if (g->expires != 0 && now >= g->expires)
		snprintf(buf, len, "the delegation expired on %s", nhi_format_time(g->expires, t));
	else if (from->state != NHI_STATE_ACTIVE)
		snprintf(buf, len, "%s is %s", from->name, nhi_state_str(from->state));
	else if (from->expires != 0 && now >= from->expires)
		snprintf(buf, len, "%s expired on %s", from->name, nhi_format_time(from->expires, t));
	else if (to->state != NHI_STATE_ACTIVE)
		snprintf(buf, len, "%s is %s", to->name, nhi_state_str(to->state));
	else
		return NULL;
	return buf;
}

/* RUSER is the registered identity 'from' along edge g (found): allowed
 * only when the path is live. */
static void ruser_edge(const struct nhi_pw *from, const struct nhi_ident *to,
		       const struct nhi_deleg *g, time_t now, struct nhi_decision *d)
{
	char why[160];

	if (cut_at(from, to, g, now, why, sizeof(why)) != NULL)
		set(d, NHI_V_DENY, NHI_R_NO_DELEGATION, "%s may not act as %s: delegation cut: %s",
		    from->name, to->name, why);
}

/* RUSER is the registered identity 'from', with no edge to 'to'. */
static void ruser_no_edge(const struct nhi_snap *snap, const struct nhi_pw *from,
			  const struct nhi_ident *to, struct nhi_decision *d)
{
	set(d, NHI_V_DENY, NHI_R_NO_DELEGATION, "%s may not act as %s: no delegation %s -> %s%s",
	    from->name, to->name, from->name, to->name,
	    nhi_snap_has_delegations(snap) ? "" : " (the snapshot carries none: nhictl publish)");
}

/* RUSER is a human: human_use. */
static void ruser_human(const struct nhi_conf *c, const struct nhi_ident *to, const char *ruser,
			int resolves, struct nhi_decision *d)
{
	switch (c->human_use) {
	case NHI_HUMAN_ALLOW:
		return;
	case NHI_HUMAN_LOG:
		break;
	case NHI_HUMAN_OWNER:
		/* owners are user names (no glob characters): one, or a
		 * comma-separated list of co-owners */
		if (resolves && to->owner[0] != '\0' && nhi_scope_match(to->owner, ruser, 0))
			break;
		set(d, NHI_V_DENY, NHI_R_HUMAN_USE,
		    "%s may not act as %s: only its owner may (human_use = owner)", ruser, to->name);
		return;
	case NHI_HUMAN_DENY:
	default:
		set(d, NHI_V_DENY, NHI_R_HUMAN_USE,
		    "%s may not act as %s: humans may not use identities (human_use = deny)",
		    ruser, to->name);
		return;
	}
	d->reason = NHI_R_HUMAN_USE;  /* allowed, logged as human use */
}

/* The PAM_RUSER part, in a frame of its own (not inlined): its records
 * are not on the stack while account_check runs (a PAM call's stack stays
 * within test-pam's 16 KB thread, under ASan too). */
static __attribute__((noinline)) void ruser_check(const struct nhi_conf *c,
						  const struct nhi_snap *snap, const char *user,
						  const char *ruser, const struct nhi_ident *to,
						  time_t now, struct nhi_decision *d)
{
	struct nhi_pw from;      /* its hot record: name, uid, state, expiry */
	struct nhi_deleg g;
	struct passwd pw, *res = NULL;
	char *pwbuf = NULL;
	int r, service_account;

	/* the edge first: its slot carries what is needed of RUSER (the
	 * delta's record of it wins), one slot read and verified */
	r = nhi_snap_ruser_delegation(snap, ruser, to->uid, &g, &from);
	if (r == 0) {
		if (from.uid != 0)
			ruser_edge(&from, to, &g, now, d);
		return;
	}
	if (r == NHI_ERR_NOTFOUND)
		r = nhi_snap_pw_by_name_verified(snap, ruser, &from);
	if (r == 0) {
		if (from.uid != 0)
			ruser_no_edge(snap, &from, to, d);
		return;
	}
	if (r != NHI_ERR_NOTFOUND) {
		ruser_damaged(d, user, ruser);
		return;
	}
	/* not registered: root, an unregistered service account, or a human */
	res = nss_get(0, ruser, &pw, &pwbuf, (void **)&res);
	if (res != NULL && res->pw_uid == 0)
		goto out;
	service_account = res != NULL ? nhi_classify_static(c, ruser, res->pw_uid) ||
					nhi_service_group(c, ruser, res->pw_gid) != NULL
				      : nhi_classify_static(c, ruser, (uid_t)-1);
	if (service_account)
		set(d, NHI_V_DENY, NHI_R_NO_DELEGATION,
		    "%s may not act as %s: %s is a service account nhi does not know", ruser, user,
		    ruser);
	else
		ruser_human(c, to, ruser, res != NULL, d);
out:
	free(pwbuf);
}

void nhi_account_check_ruser(const struct nhi_conf *c, const struct nhi_snap *snap,
			     const char *user, const char *ruser, const char *host,
			     const char *service, time_t now, struct nhi_decision *d)
{
	struct nhi_ident to;

	account_check(c, snap, user, host, service, now, d, &to);
	/* after account_check's frame is gone: the NSS lookup is the deepest
	 * part of a PAM call (a 16 KB thread stack, test-pam) */
	if (d->verdict == NHI_V_ALLOW && d->registered)
		same_uid(user, &to, d);
	if (d->verdict == NHI_V_ALLOW && d->registered && snap != NULL && ruser != NULL &&
	    *ruser != '\0' && strcmp(ruser, "root") != 0 && strcmp(ruser, user) != 0)
		ruser_check(c, snap, user, ruser, &to, now, d);
	apply_modes(c, d);
}

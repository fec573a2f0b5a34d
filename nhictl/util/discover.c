/* discover.c - what a host has: accounts, their artefacts, and secrets
 * lying around (see discover.h for what is read and the bounds).
 *
 * Every path is opened from a descriptor of the root, one component at a
 * time with O_NOFOLLOW (ropen): a symlink anywhere below the root is not
 * followed, so an absolute link in an image cannot lead out of it.
 * Allocation failures set d->oom and are reported once at the end.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util.h"
#include "reach.h"
#include "secret.h"
#include "discover.h"
#include "nhi_policy.h"

#define SYS_FILE_MAX (64u * 1024 * 1024)   /* passwd, shadow, group, sudoers */
#define TOKEN_LEN 66                       /* "nhi_" 12 "_" 43 + 6 (secret.h) */

struct grp {
	char *name, *members;   /* members: "a,b,c" */
	uint32_t gid;
};

struct scan {
	struct nhictl *x;
	struct disc *d;
	int rootfd, oom;
	uint32_t max_size;
	struct grp *grps;
	size_t n_grps;
	struct disc_account **by_uid;   /* sorted by uid */
	char **creds;                   /* credential files reported, sorted */
	size_t n_creds;
};

static char *sdup(struct scan *s, const char *p)
{
	char *r = strdup(p != NULL ? p : "");

	if (r == NULL)
		s->oom = 1;
	return r;
}

static void *grow(struct scan *s, void *v, size_t *cap, size_t n, size_t sz)
{
	void *nv;
	size_t c;

	if (n < *cap)
		return v;
	c = *cap ? *cap * 2 : 8;
	nv = realloc(v, c * sz);
	if (nv == NULL) {
		s->oom = 1;
		return NULL;
	}
	*cap = c;
	return nv;
}

static void note(struct scan *s, const char *rel, const char *why, int skipped)
{
	struct disc *d = s->d;
	struct disc_note *v = grow(s, d->notes, &d->cap_notes, d->n_notes, sizeof(*v));
	char path[PATH_MAX];

	if (v == NULL)
		return;
	d->notes = v;
	snprintf(path, sizeof(path), "%s%s", d->root, rel);
	v[d->n_notes].path = sdup(s, path);
	v[d->n_notes].why = sdup(s, why);
	v[d->n_notes].skipped = skipped;
	d->n_notes++;
}

static void note_errno(struct scan *s, const char *rel, int e)
{
	if (e == ENOENT)
		return;
	if (e == ELOOP || e == ENOTDIR)
		note(s, rel, "a symlink on the way: not followed", 0);
	else
		note(s, rel, strerror(e), 0);
}

/* Open ROOT/rel (rel starts with '/'), no symlink followed in any
 * component; flags O_DIRECTORY for a directory.  -1 with errno. */
static int ropen(struct scan *s, const char *rel, int flags)
{
	char buf[PATH_MAX], *save = NULL, *c, *next;
	int fd, nfd;

	if (snprintf(buf, sizeof(buf), "%s", rel) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = dup(s->rootfd);
	if (fd < 0)
		return -1;
	c = strtok_r(buf, "/", &save);
	while (c != NULL) {
		next = strtok_r(NULL, "/", &save);
		if (strcmp(c, "..") == 0) {
			close(fd);
			errno = EPERM;
			return -1;
		}
		if (strcmp(c, ".") != 0) {
			if (next != NULL)
				nfd = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			else
				nfd = openat(fd, c, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | flags);
			close(fd);
			if (nfd < 0)
				return -1;
			fd = nfd;
		}
		c = next;
	}
	return fd;
}

/* Read a regular file from fd (closed) up to max bytes: NULL when it is
 * not regular, larger than max (noted as skipped), or unreadable. */
static char *slurp_fd(struct scan *s, int fd, const char *rel, uint32_t max, size_t *len,
		      struct stat *sb)
{
	char *buf = NULL, why[128];
	ssize_t n;
	size_t got = 0;

	if (fstat(fd, sb) < 0 || !S_ISREG(sb->st_mode))
		goto out;
	if ((uint64_t)sb->st_size > max) {
		snprintf(why, sizeof(why), "skipped: %lld bytes, more than discover_max_size %u",
			 (long long)sb->st_size, max);
		note(s, rel, why, 1);
		goto out;
	}
	buf = malloc((size_t)sb->st_size + 1);
	if (buf == NULL) {
		s->oom = 1;
		goto out;
	}
	while (got < (size_t)sb->st_size &&
	       (n = read(fd, buf + got, (size_t)sb->st_size - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			note_errno(s, rel, errno);
			free(buf);
			buf = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*len = got;
	s->d->files_read++;
out:
	close(fd);
	return buf;
}

static char *rslurp(struct scan *s, const char *rel, uint32_t max, size_t *len, struct stat *sb)
{
	int fd = ropen(s, rel, 0);

	if (fd < 0) {
		note_errno(s, rel, errno);
		return NULL;
	}
	return slurp_fd(s, fd, rel, max, len, sb);
}

/* opendir ROOT/rel without following symlinks; NULL (noted) when it fails */
static DIR *ropendir(struct scan *s, const char *rel)
{
	int fd = ropen(s, rel, O_DIRECTORY);
	DIR *dir;

	if (fd < 0) {
		note_errno(s, rel, errno);
		return NULL;
	}
	if ((dir = fdopendir(fd)) == NULL)
		close(fd);
	return dir;
}

/* The next line of a buffer (cut in place), NULL at the end. */
static char *next_line(char **p)
{
	char *l = *p, *e;

	if (l == NULL || *l == '\0')
		return NULL;
	e = strchr(l, '\n');
	if (e != NULL) {
		*e = '\0';
		*p = e + 1;
	} else {
		*p = l + strlen(l);
	}
	return l;
}

/* Split a colon-separated line into at most n fields; their count. */
static int fields(char *l, char sep, char **f, int n)
{
	int i = 0;

	while (i < n) {
		f[i++] = l;
		l = strchr(l, sep);
		if (l == NULL)
			break;
		*l++ = '\0';
	}
	return i;
}

static int acc_cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct disc_account *)a)->name, ((const struct disc_account *)b)->name);
}

static int acc_cmp_uid(const void *a, const void *b)
{
	const struct disc_account *x = *(struct disc_account *const *)a;
	const struct disc_account *y = *(struct disc_account *const *)b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

struct disc_account *disc_account(const struct disc *d, const char *name)
{
	struct disc_account key;

	key.name = (char *)(uintptr_t)name;
	if (d->n_acc == 0)
		return NULL;
	return bsearch(&key, d->acc, d->n_acc, sizeof(*d->acc), acc_cmp_name);
}

static struct disc_account *by_uid(const struct scan *s, uint32_t uid)
{
	size_t lo = 0, hi = s->d->n_acc;

	while (lo < hi) {
		size_t m = (lo + hi) / 2;

		if (s->by_uid[m]->uid == uid)
			return s->by_uid[m];
		if (s->by_uid[m]->uid < uid)
			lo = m + 1;
		else
			hi = m;
	}
	return NULL;
}

/* Readable by others: mode & 004, or group-readable with a group other
 * than the owning account's primary group (an owner without an account:
 * only mode & 004). */
static int others_read(const struct scan *s, const struct stat *sb)
{
	const struct disc_account *a;

	if (sb->st_mode & S_IROTH)
		return 1;
	if (!(sb->st_mode & S_IRGRP))
		return 0;
	a = by_uid(s, (uint32_t)sb->st_uid);
	return a != NULL && a->gid != (uint32_t)sb->st_gid;
}

static struct disc_item *item_add(struct scan *s, struct disc_account *a, enum disc_art kind,
				  const char *rel, long line, const char *text)
{
	struct disc_item *v = grow(s, a->items, &a->cap_items, a->n_items, sizeof(*v));
	char path[PATH_MAX];

	if (v == NULL)
		return NULL;
	a->items = v;
	v += a->n_items++;
	memset(v, 0, sizeof(*v));
	v->kind = kind;
	snprintf(path, sizeof(path), "%s%s", s->d->root, rel);
	v->path = sdup(s, path);
	v->line = line;
	v->text = sdup(s, text);
	return v;
}

static void leak_add(struct scan *s, enum disc_leak_kind kind, const char *path, long line,
		     const char *what, unsigned mode)
{
	struct disc *d = s->d;
	struct disc_leak *v = grow(s, d->leaks, &d->cap_leaks, d->n_leaks, sizeof(*v));

	if (v == NULL)
		return;
	d->leaks = v;
	v += d->n_leaks++;
	v->kind = kind;
	v->path = sdup(s, path);
	v->line = line;
	v->what = sdup(s, what);
	v->mode = mode;
}

/* ---- accounts: passwd, shadow, group ----------------------------------- */

static int shell_usable(const char *sh)
{
	static const char *const no[] = { "nologin", "false", "sync", "shutdown", "halt", "true" };
	const char *b = strrchr(sh, '/');
	size_t i;

	if (sh[0] == '\0')
		return 1;       /* /bin/sh */
	if (strcmp(sh, "/dev/null") == 0)
		return 0;
	b = b != NULL ? b + 1 : sh;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcmp(b, no[i]) == 0)
			return 0;
	return 1;
}

/* 1 a usable hash, 2 empty (no password at all), 0 locked or none */
static int hash_usable(const char *h)
{
	if (h[0] == '\0')
		return 2;
	if (h[0] == '!' || h[0] == '*' || strcmp(h, "x") == 0)
		return 0;
	return 1;
}

static void trim_slash(char *p)
{
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
}

static int read_passwd(struct scan *s)
{
	struct disc *d = s->d;
	char *buf, *p, *l, *f[7];
	size_t len, cap = 0;
	struct stat sb;

	buf = rslurp(s, "/etc/passwd", SYS_FILE_MAX, &len, &sb);
	if (buf == NULL)
		return nerr(s->x, NHI_ERR_IO, "cannot read %s/etc/passwd", d->root);
	p = buf;
	while ((l = next_line(&p)) != NULL) {
		struct disc_account *a;

		if (l[0] == '#' || l[0] == '+' || l[0] == '-' || fields(l, ':', f, 7) != 7 ||
		    f[0][0] == '\0')
			continue;
		a = grow(s, d->acc, &cap, d->n_acc, sizeof(*a));
		if (a == NULL)
			break;
		d->acc = a;
		a += d->n_acc++;
		memset(a, 0, sizeof(*a));
		a->name = sdup(s, f[0]);
		a->uid = (uint32_t)strtoul(f[2], NULL, 10);
		a->gid = (uint32_t)strtoul(f[3], NULL, 10);
		a->home = sdup(s, f[5]);
		if (a->home != NULL)
			trim_slash(a->home);
		a->shell = sdup(s, f[6]);
		a->login_shell = shell_usable(f[6]);
		if (strcmp(f[1], "x") != 0)
			a->password = hash_usable(f[1]);
	}
	free(buf);
	if (s->oom)
		return 0;
	if (d->n_acc > 0)
		qsort(d->acc, d->n_acc, sizeof(*d->acc), acc_cmp_name);
	s->by_uid = malloc((d->n_acc + 1) * sizeof(*s->by_uid));
	if (s->by_uid == NULL) {
		s->oom = 1;
		return 0;
	}
	for (size_t i = 0; i < d->n_acc; i++)
		s->by_uid[i] = &d->acc[i];
	qsort(s->by_uid, d->n_acc, sizeof(*s->by_uid), acc_cmp_uid);
	return 0;
}

static void read_shadow(struct scan *s)
{
	char *buf, *p, *l, *f[3];
	size_t len;
	struct stat sb;

	buf = rslurp(s, "/etc/shadow", SYS_FILE_MAX, &len, &sb);
	if (buf == NULL)
		return;
	p = buf;
	while ((l = next_line(&p)) != NULL) {
		struct disc_account *a;

		if (fields(l, ':', f, 3) < 2 || (a = disc_account(s->d, f[0])) == NULL)
			continue;
		a->password = hash_usable(f[1]);
	}
	explicit_bzero(buf, len);
	free(buf);
}

static void read_group(struct scan *s)
{
	char *buf, *p, *l, *f[4];
	size_t len, cap = 0;
	struct stat sb;

	buf = rslurp(s, "/etc/group", SYS_FILE_MAX, &len, &sb);
	if (buf == NULL)
		return;
	p = buf;
	while ((l = next_line(&p)) != NULL) {
		struct grp *g;

		if (fields(l, ':', f, 4) != 4)
			continue;
		g = grow(s, s->grps, &cap, s->n_grps, sizeof(*g));
		if (g == NULL)
			break;
		s->grps = g;
		g += s->n_grps++;
		g->name = sdup(s, f[0]);
		g->gid = (uint32_t)strtoul(f[2], NULL, 10);
		g->members = sdup(s, f[3]);
	}
	free(buf);
}

static int in_list(const char *csv, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = csv; p != NULL && *p; ) {
		size_t k = strcspn(p, ",");

		if (k == n && strncmp(p, name, n) == 0)
			return 1;
		p += k + (p[k] == ',');
	}
	return 0;
}

static int in_group(const struct scan *s, const struct disc_account *a, const char *group)
{
	for (size_t i = 0; i < s->n_grps; i++)
		if (s->grps[i].name != NULL && strcmp(s->grps[i].name, group) == 0)
			return a->gid == s->grps[i].gid || in_list(s->grps[i].members, a->name);
	return 0;
}

/* The classification PAM uses (nhi_classify_static, then service_groups),
 * with the groups of ROOT/etc/group instead of NSS. */
static void classify(struct scan *s)
{
	const struct nhi_conf *c = &s->x->conf;

	for (size_t i = 0; i < s->d->n_acc; i++) {
		struct disc_account *a = &s->d->acc[i];

		a->system = a->uid != 0 && (a->uid <= c->sys_uid_max || a->uid == 65534);
		a->service = nhi_classify_static(c, a->name, (uid_t)a->uid);
		for (const char *g = nhi_strlist_first(&c->service_groups); g && !a->service && a->uid;
		     g = nhi_strlist_next(&c->service_groups, g))
			a->service = in_group(s, a, g);
	}
}

/* ---- per account: authorized_keys, credential files -------------------- */

static int key_type(const char *t)
{
	return strncmp(t, "ssh-", 4) == 0 || strncmp(t, "ecdsa-", 6) == 0 ||
	       strncmp(t, "sk-", 3) == 0;
}

/* One authorized_keys line: [options] type base64 [comment]. */
static void akey_line(struct scan *s, struct disc_account *a, const char *rel, long n, char *l)
{
	char opts[256] = "", from[512] = "", *type, *blob, *e;
	int q = 0, command = 0, has_from = 0;
	struct disc_item *it;
	char *p = l + strspn(l, " \t");

	if (*p == '#' || *p == '\0' || *p == '\r')
		return;
	if (!key_type(p)) {
		/* the options: up to the first blank outside quotes */
		char *o = p, *start = p;

		for (; *o && (q || (*o != ' ' && *o != '\t')); o++)
			if (*o == '"')
				q = !q;
		if (*o == '\0')
			return;
		*o = '\0';
		p = o + 1 + strspn(o + 1, " \t");
		/* name[=value] pairs split at commas outside quotes */
		for (char *c = start; *c; ) {
			char *end = c, *eq;

			q = 0;
			while (*end && (q || *end != ',')) {
				if (*end == '"')
					q = !q;
				end++;
			}
			if (*end)
				*end++ = '\0';
			eq = strchr(c, '=');
			if (eq != NULL)
				*eq = '\0';
			if (strlen(opts) + strlen(c) + 2 < sizeof(opts))
				snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), "%s%s",
					 opts[0] ? "," : "", c);
			if (strcasecmp(c, "from") == 0 && eq != NULL) {
				char *v = eq + 1;
				size_t k;

				if (*v == '"')
					v++;
				k = strcspn(v, "\"");
				snprintf(from, sizeof(from), "%.*s", (int)k, v);
				has_from = 1;
			}
			if (strcasecmp(c, "command") == 0)
				command = 1;
			c = end;
		}
	}
	type = p;
	e = type + strcspn(type, " \t");
	if (*e == '\0')
		return;
	*e = '\0';
	blob = e + 1 + strspn(e + 1, " \t");
	blob[strcspn(blob, " \t\r")] = '\0';
	if (!key_type(type) || blob[0] == '\0')
		return;
	it = item_add(s, a, DISC_AKEY, rel, n, type);
	if (it == NULL)
		return;
	{
		size_t k = strlen(type) + strlen(blob) + 2;

		it->key = malloc(k);
		if (it->key == NULL)
			s->oom = 1;
		else
			snprintf(it->key, k, "%s %s", type, blob);
	}
	it->options = sdup(s, opts);
	it->from = has_from ? sdup(s, from) : NULL;
	it->command = command;
}

static void cred_add(struct scan *s, struct disc_account *a, const char *rel, const char *kind,
		     const struct stat *sb)
{
	struct disc_item *it;
	char **v;

	if (!S_ISREG(sb->st_mode) || !others_read(s, sb))
		return;
	it = item_add(s, a, DISC_CRED, rel, 0, kind);
	if (it == NULL)
		return;
	it->mode = sb->st_mode & 07777;
	v = realloc(s->creds, (s->n_creds + 1) * sizeof(*v));
	if (v == NULL) {
		s->oom = 1;
		return;
	}
	s->creds = v;
	s->creds[s->n_creds++] = sdup(s, it->path);
}

static const struct {
	const char *file, *kind;
} cred_files[] = {
	{ ".pgpass", "PostgreSQL password file" },
	{ ".netrc", "netrc password file" },
	{ ".my.cnf", "MySQL client configuration" },
	{ ".git-credentials", "git credentials" },
	{ ".aws/credentials", "AWS credentials" },
	{ ".docker/config.json", "Docker registry credentials" },
	{ ".kube/config", "Kubernetes configuration" },
	{ ".config/gcloud/application_default_credentials.json", "Google Cloud credentials" },
	{ ".nhi/token", "nhi token file" },
};

static void home_scan(struct scan *s, struct disc_account *a)
{
	char rel[PATH_MAX], *buf, *p, *l;
	struct dirent *de;
	struct stat sb;
	size_t len;
	long n = 0;
	int fd;
	DIR *dir;

	if (a->home == NULL || a->home[0] != '/' || a->home[1] == '\0')
		return;
	/* ~/.ssh: authorized_keys and id_* private keys */
	snprintf(rel, sizeof(rel), "%s/.ssh", a->home);
	fd = ropen(s, rel, O_DIRECTORY);
	if (fd < 0) {
		/* ENOTDIR: a home that is a symlink (/bin) or a file: nothing of it */
		if (errno != ENOENT && errno != ENOTDIR)
			note_errno(s, rel, errno);
	} else if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
	} else {
		while ((de = readdir(dir)) != NULL) {
			if (strncmp(de->d_name, "id_", 3) != 0 || strstr(de->d_name, ".pub") != NULL ||
			    fstatat(dirfd(dir), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			snprintf(rel, sizeof(rel), "%s/.ssh/%s", a->home, de->d_name);
			cred_add(s, a, rel, "SSH private key", &sb);
		}
		fd = openat(dirfd(dir), "authorized_keys", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		snprintf(rel, sizeof(rel), "%s/.ssh/authorized_keys", a->home);
		if (fd < 0)
			note_errno(s, rel, errno);
		else if ((buf = slurp_fd(s, fd, rel, s->max_size, &len, &sb)) != NULL) {
			p = buf;
			while ((l = next_line(&p)) != NULL)
				akey_line(s, a, rel, ++n, l);
			free(buf);
		}
		closedir(dir);
	}
	for (size_t i = 0; i < sizeof(cred_files) / sizeof(cred_files[0]); i++) {
		snprintf(rel, sizeof(rel), "%s/%s", a->home, cred_files[i].file);
		fd = ropen(s, rel, O_PATH);
		if (fd < 0)
			continue;
		if (fstat(fd, &sb) == 0)
			cred_add(s, a, rel, cred_files[i].kind, &sb);
		close(fd);
	}
}

/* ---- crontabs ------------------------------------------------------------ */

/* A crontab line: its schedule (5 fields or @word) in sched, the rest
 * after it; NULL for a comment, blank or VAR=value line. */
static char *cron_split(char *l, char *sched, size_t len)
{
	char *p = l + strspn(l, " \t"), *q = p;
	int nf = p[0] == '@' ? 1 : 5;

	if (*p == '#' || *p == '\0' || *p == '\r' ||
	    (strchr(p, '=') != NULL && strcspn(p, "=") < strcspn(p, " \t")))
		return NULL;
	for (int i = 0; i < nf; i++) {
		q += strcspn(q, " \t");
		if (*q == '\0')
			return NULL;
		q += strspn(q, " \t");
	}
	snprintf(sched, len, "%.*s", (int)(q - p), p);
	sched[strcspn(sched, "\r")] = '\0';
	while (sched[0] && strchr(" \t", sched[strlen(sched) - 1]))
		sched[strlen(sched) - 1] = '\0';
	return q;
}

/* with_user: /etc/crontab and cron.d (the 6th field names the user);
 * else a spool crontab of account a. */
static void cron_file(struct scan *s, const char *rel, struct disc_account *a, int with_user)
{
	char *buf, *p, *l, *rest, sched[128], user[64];
	struct stat sb;
	size_t len;
	long n = 0;

	buf = rslurp(s, rel, s->max_size, &len, &sb);
	if (buf == NULL)
		return;
	p = buf;
	while ((l = next_line(&p)) != NULL) {
		struct disc_account *who = a;

		n++;
		if ((rest = cron_split(l, sched, sizeof(sched))) == NULL)
			continue;
		if (with_user) {
			snprintf(user, sizeof(user), "%.*s", (int)strcspn(rest, " \t\r"), rest);
			who = disc_account(s->d, user);
		}
		if (who != NULL)
			item_add(s, who, DISC_CRON, rel, n, sched);
	}
	free(buf);
}

static void cron_dir(struct scan *s, const char *reldir, int with_user)
{
	char rel[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *dir = ropendir(s, reldir);

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		struct disc_account *a = NULL;

		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(dir), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
			continue;
		if (!with_user && (a = disc_account(s->d, de->d_name)) == NULL)
			continue;
		/* cron.d: run-parts names only (no dots: no .dpkg-old, no ~) */
		if (with_user && de->d_name[strcspn(de->d_name, ".~")] != '\0')
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", reldir, de->d_name);
		cron_file(s, rel, a, with_user);
	}
	closedir(dir);
}

/* ---- systemd units --------------------------------------------------------- */

static int secret_name(const char *n)
{
	static const char *const w[] = { "PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY",
					 "APIKEY", "PRIVATE_KEY", "CREDENTIAL", "ACCESS_KEY" };
	char up[128];
	size_t i;

	for (i = 0; n[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)n[i]);
	up[i] = '\0';
	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (strstr(up, w[i]) != NULL)
			return 1;
	return 0;
}

/* The first nhi token (checksum verified) in buf[0..len): its offset, or -1. */
static long find_token(const char *buf, size_t len)
{
	const char *p = buf, *e = buf + len;

	while (p < e && (p = memmem(p, (size_t)(e - p), SECRET_TOKEN_PREFIX, 4)) != NULL) {
		char tok[TOKEN_LEN + 1];

		if ((p == buf || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) &&
		    e - p >= TOKEN_LEN && (e - p == TOKEN_LEN || !isalnum((unsigned char)p[TOKEN_LEN]))) {
			memcpy(tok, p, TOKEN_LEN);
			tok[TOKEN_LEN] = '\0';
			if (secret_token_parse(tok, NULL, 0) == 0)
				return p - buf;
		}
		p += 4;
	}
	return -1;
}

/* Environment=A=b "C=d e" 'F=g': each assignment checked. */
static void env_line(struct scan *s, const char *path, long n, const char *v)
{
	char what[192];

	while (*v && *v != '\r') {
		char a[1024], *eq;
		size_t k = 0;
		char q = 0;

		v += strspn(v, " \t");
		if (*v == '"' || *v == '\'')
			q = *v++;
		while (*v && (q ? *v != q : (*v != ' ' && *v != '\t' && *v != '\r'))) {
			if (k < sizeof(a) - 1)
				a[k++] = *v;
			v++;
		}
		if (q && *v == q)
			v++;
		a[k] = '\0';
		if (k == 0)
			break;
		eq = strchr(a, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		if (find_token(eq + 1, strlen(eq + 1)) >= 0) {
			snprintf(what, sizeof(what), "an nhi token in variable %.64s", a);
			leak_add(s, DISC_UNIT_ENV, path, n, what, 0);
		} else if (secret_name(a) && eq[1] != '\0') {
			snprintf(what, sizeof(what), "variable %.64s", a);
			leak_add(s, DISC_UNIT_ENV, path, n, what, 0);
		}
		explicit_bzero(a, sizeof(a));
	}
}

static void unit_file(struct scan *s, int dfd, const char *rel, const char *name, int dropin)
{
	char path[PATH_MAX], *buf, *p, *l;
	struct stat sb;
	size_t len;
	long n = 0;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK), env = 0;

	if (fd < 0) {
		if (errno != ELOOP)     /* enablement symlinks: scanned where they point */
			note_errno(s, rel, errno);
		return;
	}
	buf = slurp_fd(s, fd, rel, s->max_size, &len, &sb);
	if (buf == NULL)
		return;
	snprintf(path, sizeof(path), "%s%s", s->d->root, rel);
	p = buf;
	while ((l = next_line(&p)) != NULL) {
		const char *v;

		n++;
		if ((v = reach_setting(l, "User")) != NULL) {
			char u[64];
			struct disc_account *a;
			char *end;
			unsigned long uid;

			snprintf(u, sizeof(u), "%.*s", (int)strcspn(v, " \t\r"), v);
			a = disc_account(s->d, u);
			uid = strtoul(u, &end, 10);
			if (a == NULL && u[0] && *end == '\0')
				a = by_uid(s, (uint32_t)uid);
			if (a != NULL) {
				char set[96];

				snprintf(set, sizeof(set), "User=%s", u);
				item_add(s, a, DISC_UNIT, rel, n, set);
			}
		} else if ((v = reach_setting(l, "Environment")) != NULL) {
			env = 1;
			env_line(s, path, n, v);
		}
	}
	explicit_bzero(buf, len);
	free(buf);
	if (dropin && env && others_read(s, &sb))
		leak_add(s, DISC_UNIT_DROPIN, path, 0, "drop-in with Environment=", sb.st_mode & 07777);
	if (sb.st_mode & S_IWOTH)
		leak_add(s, DISC_UNIT_WRITABLE, path, 0, dropin ? "drop-in" : "unit", sb.st_mode & 07777);
}

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

static void unit_dir(struct scan *s, const char *reldir, int dropin)
{
	char rel[PATH_MAX];
	struct dirent *de;
	DIR *dir = ropendir(s, reldir);

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(rel, sizeof(rel), "%s/%s", reldir, de->d_name) >= sizeof(rel))
			continue;
		if (dropin ? has_suffix(de->d_name, ".conf") : has_suffix(de->d_name, ".service"))
			unit_file(s, dirfd(dir), rel, de->d_name, dropin);
		else if (!dropin && has_suffix(de->d_name, ".service.d"))
			unit_dir(s, rel, 1);
	}
	closedir(dir);
}

static void units_scan(struct scan *s)
{
	char dirs[REACH_N_UNIT_DIRS][PATH_MAX];
	size_t rl = strlen(s->d->root), n = reach_unit_dirs(s->d->root, dirs, REACH_N_UNIT_DIRS);

	for (size_t i = 0; i < n; i++)
		unit_dir(s, dirs[i] + rl, 0);
}

/* ---- sudoers --------------------------------------------------------------- */

static void sudo_rule(struct scan *s, const char *rel, long n, char *rule)
{
	char users[1024], text[256];
	size_t k;

	rule += strspn(rule, " \t");
	if (*rule == '#' || *rule == '\0' || strncmp(rule, "Defaults", 8) == 0 ||
	    strstr(rule, "_Alias") != NULL)
		return;
	k = strcspn(rule, " \t");
	snprintf(users, sizeof(users), "%.*s", (int)k, rule);
	snprintf(text, sizeof(text), "%s", rule);
	for (char *save = NULL, *u = strtok_r(users, ",", &save); u != NULL;
	     u = strtok_r(NULL, ",", &save)) {
		struct disc_account *a;

		if (u[0] == '%') {
			for (size_t i = 0; i < s->d->n_acc; i++)
				if (in_group(s, &s->d->acc[i], u + 1))
					item_add(s, &s->d->acc[i], DISC_SUDO, rel, n, text);
		} else if (u[0] == '#') {
			if ((a = by_uid(s, (uint32_t)strtoul(u + 1, NULL, 10))) != NULL)
				item_add(s, a, DISC_SUDO, rel, n, text);
		} else if ((a = disc_account(s->d, u)) != NULL) {
			item_add(s, a, DISC_SUDO, rel, n, text);
		}
	}
}

static void sudo_file(struct scan *s, const char *rel)
{
	char *buf, *p, *l, *rule = NULL;
	struct stat sb;
	size_t len, rlen = 0;
	long n = 0, start = 0;

	buf = rslurp(s, rel, SYS_FILE_MAX, &len, &sb);
	if (buf == NULL)
		return;
	p = buf;
	while ((l = next_line(&p)) != NULL) {
		size_t k = strlen(l);
		char *nr;

		n++;
		if (rule == NULL)
			start = n;
		nr = realloc(rule, rlen + k + 2);
		if (nr == NULL) {
			s->oom = 1;
			break;
		}
		rule = nr;
		memcpy(rule + rlen, l, k + 1);
		rlen += k;
		if (rlen > 0 && rule[rlen - 1] == '\\') {   /* continued */
			rule[--rlen] = ' ';
			rule[++rlen] = '\0';
			continue;
		}
		sudo_rule(s, rel, start, rule);
		free(rule);
		rule = NULL;
		rlen = 0;
	}
	free(rule);
	free(buf);
}

static void sudo_scan(struct scan *s)
{
	char rel[PATH_MAX];
	struct dirent *de;
	DIR *dir;

	sudo_file(s, "/etc/sudoers");
	if ((dir = ropendir(s, "/etc/sudoers.d")) == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		/* as sudo's @includedir: no name with a '.' or ending in '~' */
		if (de->d_name[0] == '.' || strchr(de->d_name, '.') != NULL ||
		    has_suffix(de->d_name, "~"))
			continue;
		snprintf(rel, sizeof(rel), "/etc/sudoers.d/%s", de->d_name);
		sudo_file(s, rel);
	}
	closedir(dir);
}

/* ---- processes ------------------------------------------------------------- */

static void proc_scan(struct scan *s)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();

	if (dir == NULL) {
		note(s, "/proc", strerror(errno), 0);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		char *end, comm[32];
		long pid = strtol(de->d_name, &end, 10);
		uint32_t ruid, euid;
		struct disc_account *a;

		if (*end != '\0' || pid <= 0 || (pid_t)pid == self ||
		    reach_proc_info((pid_t)pid, comm, sizeof(comm), &ruid, &euid) < 0)
			continue;
		if ((a = by_uid(s, ruid)) != NULL)
			item_add(s, a, DISC_PROC, "", pid, comm);
		if (euid != ruid && (a = by_uid(s, euid)) != NULL)
			item_add(s, a, DISC_PROC, "", pid, comm);
	}
	closedir(dir);
	s->d->procs = 1;
}

/* ---- secrets lying around ------------------------------------------------- */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void search_file(struct scan *s, int dfd, const char *rel, const char *name,
			const struct stat *st)
{
	char path[PATH_MAX], *buf, *key, *pp = path, what[96];
	struct stat sb;
	size_t len;
	long off;
	int fd;

	snprintf(path, sizeof(path), "%s%s", s->d->root, rel);
	/* an account's credential file is reported as such */
	if (s->n_creds > 0 && bsearch(&pp, s->creds, s->n_creds, sizeof(*s->creds), str_cmp))
		return;
	if ((uint64_t)st->st_size > s->max_size) {
		snprintf(what, sizeof(what), "skipped: %lld bytes, more than discover_max_size %u",
			 (long long)st->st_size, s->max_size);
		note(s, rel, what, 1);
		return;
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		note_errno(s, rel, errno);
		return;
	}
	buf = slurp_fd(s, fd, rel, s->max_size, &len, &sb);
	if (buf == NULL)
		return;
	if ((off = find_token(buf, len)) >= 0) {
		long line = 1;

		for (long i = 0; i < off; i++)
			line += buf[i] == '\n';
		leak_add(s, DISC_TOKEN, path, line, "nhi token", sb.st_mode & 07777);
	}
	for (char *p = buf; (key = memmem(p, len - (size_t)(p - buf), "-----BEGIN ", 11)) != NULL;
	     p = key + 11) {
		char *e = key + 11, *eol = memchr(e, '\n', len - (size_t)(e - buf));
		size_t k = eol != NULL ? (size_t)(eol - e) : len - (size_t)(e - buf);
		char *m = memmem(e, k, "PRIVATE KEY-----", 16);

		if (m != NULL && m - e < 40) {
			long line = 1;

			for (char *i = buf; i < key; i++)
				line += *i == '\n';
			snprintf(what, sizeof(what), "%.*sPRIVATE KEY", (int)(m - e), e);
			leak_add(s, DISC_PRIVKEY, path, line, what, sb.st_mode & 07777);
			break;
		}
	}
	explicit_bzero(buf, len);
	free(buf);
}

static void walk(struct scan *s, int dfd, const char *reldir, int depth)
{
	char rel[PATH_MAX];
	struct dirent *de;
	DIR *dir = fdopendir(dfd);

	if (dir == NULL) {
		note_errno(s, reldir, errno);
		close(dfd);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_LNK || (de->d_type != DT_DIR && de->d_type != DT_REG &&
					     de->d_type != DT_UNKNOWN))
			continue;
		if ((size_t)snprintf(rel, sizeof(rel), "%s/%s", reldir, de->d_name) >= sizeof(rel))
			continue;
		if (fstatat(dirfd(dir), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			int fd;

			if (depth >= DISC_DEPTH_MAX) {
				note(s, rel, "deeper than the walk goes: not searched", 0);
				continue;
			}
			fd = openat(dirfd(dir), de->d_name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				note_errno(s, rel, errno);
			else
				walk(s, fd, rel, depth + 1);
		} else if (S_ISREG(sb.st_mode)) {
			s->d->files_seen++;
			if (others_read(s, &sb))
				search_file(s, dirfd(dir), rel, de->d_name, &sb);
		}
	}
	closedir(dir);
}

static void secrets_scan(struct scan *s)
{
	const char *p = s->x->conf.discover_paths;

	if (s->n_creds > 0)
		qsort(s->creds, s->n_creds, sizeof(*s->creds), str_cmp);
	while (p != NULL && *p) {
		char rel[PATH_MAX];
		size_t k;
		int fd;

		p += strspn(p, " \t");
		k = strcspn(p, " \t");
		if (k == 0)
			break;
		snprintf(rel, sizeof(rel), "%.*s", (int)k, p);
		p += k;
		trim_slash(rel);
		fd = ropen(s, rel, O_DIRECTORY);
		if (fd < 0) {
			note_errno(s, rel, errno);
			continue;
		}
		walk(s, fd, strcmp(rel, "/") == 0 ? "" : rel, 0);
	}
}

int disc_scan(struct nhictl *x, const char *root, int procs, struct disc *d)
{
	struct scan s;
	int r = 0;

	memset(d, 0, sizeof(*d));
	memset(&s, 0, sizeof(s));
	snprintf(d->rootbuf, sizeof(d->rootbuf), "%s", root);
	trim_slash(d->rootbuf);
	if (strcmp(d->rootbuf, "/") == 0)
		d->rootbuf[0] = '\0';
	d->root = root = d->rootbuf;
	s.x = x;
	s.d = d;
	s.max_size = x->conf.discover_max_size;
	s.rootfd = open(root[0] ? root : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s.rootfd < 0)
		return nerr(x, NHI_ERR_IO, "%s: %s", root, strerror(errno));
	r = read_passwd(&s);
	if (r < 0 || s.oom)
		goto out;
	read_shadow(&s);
	read_group(&s);
	classify(&s);
	for (size_t i = 0; i < d->n_acc && !s.oom; i++)
		home_scan(&s, &d->acc[i]);
	cron_dir(&s, "/var/spool/cron/crontabs", 0);
	cron_dir(&s, "/var/spool/cron", 0);
	cron_file(&s, "/etc/crontab", NULL, 1);
	cron_dir(&s, "/etc/cron.d", 1);
	units_scan(&s);
	sudo_scan(&s);
	if (procs && root[0] == '\0')
		proc_scan(&s);
	secrets_scan(&s);
out:
	close(s.rootfd);
	for (size_t i = 0; i < s.n_grps; i++) {
		free(s.grps[i].name);
		free(s.grps[i].members);
	}
	free(s.grps);
	for (size_t i = 0; i < s.n_creds; i++)
		free(s.creds[i]);
	free(s.creds);
	free(s.by_uid);
	if (r == 0 && s.oom)
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
	return r;
}

void disc_free(struct disc *d)
{
	for (size_t i = 0; i < d->n_acc; i++) {
		struct disc_account *a = &d->acc[i];

		for (size_t k = 0; k < a->n_items; k++) {
			free(a->items[k].path);
			free(a->items[k].text);
			free(a->items[k].key);
			free(a->items[k].from);
			free(a->items[k].options);
		}
		free(a->items);
		free(a->name);
		free(a->home);
		free(a->shell);
	}
	free(d->acc);
	for (size_t i = 0; i < d->n_leaks; i++) {
		free(d->leaks[i].path);
		free(d->leaks[i].what);
	}
	free(d->leaks);
	for (size_t i = 0; i < d->n_notes; i++) {
		free(d->notes[i].path);
		free(d->notes[i].why);
	}
	free(d->notes);
	memset(d, 0, sizeof(*d));
}

/* reach.c - what an identity has left running on this host, for suspend
 * and retire: its processes (real or effective uid), its crontab, the
 * systemd units that run as it and (retire) the files it leaves.
 *
 * Suspending or retiring changes the registry and the snapshot, which
 * stop new logins; nothing of it reaches a process already running, a
 * crontab cron keeps trying, or a unit with User=NAME.  This tells the
 * admin what is there and, with --terminate, stops the processes:
 * SIGTERM, up to REACH_TERM_WAIT_MS for them to go, then SIGKILL to what
 * is left (also to children forked meanwhile), never pid 1 or nhictl.
 *
 * The scan is bounded: /proc, two crontab spools, the top level (and
 * *.service.d drop-ins) of four unit directories, the home directory and
 * mail spool; no walk of the filesystem.  The environment variable
 * NHICTL_SCAN_ROOT (secure_getenv) prefixes the crontab, unit and mail
 * paths, so tests can point them at a tree of their own; /proc is always
 * the real one.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util.h"
#include "reach.h"

#define REACH_TERM_WAIT_MS 5000
#define REACH_KILL_WAIT_MS 2000
#define REACH_KILL_ROUNDS 3
#define REACH_DIR_MAX 4096      /* entries looked at per unit directory */
#define REACH_UNITS_MAX 256
#define REACH_UNIT_FILE_MAX (256 * 1024)

struct pinfo {
	char state;
	char comm[32], start[32];
	uint32_t ruid, euid;
};

/* /proc/PID/stat (state, comm, start time) and status (Uid:). */
static int pinfo_read(pid_t pid, struct pinfo *p)
{
	char path[64], buf[256], *q;
	unsigned long r = 0, e = 0;
	FILE *f;
	int i;

	memset(p, 0, sizeof(*p));
	if (proc_stat(pid, p->comm, sizeof(p->comm), &p->state, p->start, sizeof(p->start)) < 0)
		return -1;
	for (q = p->comm; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	i = -1;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (sscanf(buf, "Uid: %lu %lu", &r, &e) == 2) {
			i = 0;
			break;
		}
	fclose(f);
	p->ruid = (uint32_t)r;
	p->euid = (uint32_t)e;
	return i;
}

int reach_proc_info(pid_t pid, char *comm, size_t clen, uint32_t *ruid, uint32_t *euid)
{
	struct pinfo p;

	if (pinfo_read(pid, &p) < 0 || p.state == 'Z' || p.state == 'X')
		return -1;
	snprintf(comm, clen, "%s", p.comm);
	*ruid = p.ruid;
	*euid = p.euid;
	return 0;
}

/* Still the same live process of the identity (not gone, not a zombie,
 * not a reused pid, not setuid to someone else since)? */
static int still_there(const struct reach_proc *rp, uint32_t uid)
{
	struct pinfo p;

	if (pinfo_read(rp->pid, &p) < 0 || p.state == 'Z' || p.state == 'X')
		return 0;
	return strcmp(p.start, rp->start) == 0 && (p.ruid == uid || p.euid == uid);
}

static int proc_add(struct reach *r, pid_t pid, const struct pinfo *p)
{
	struct reach_proc *rp;
	size_t i;

	for (i = 0; i < r->n_procs; i++)
		if (r->procs[i].pid == pid && strcmp(r->procs[i].start, p->start) == 0)
			return 0;
	if (r->n_procs == r->cap_procs) {
		size_t cap = r->cap_procs ? r->cap_procs * 2 : 16;

		rp = realloc(r->procs, cap * sizeof(*rp));
		if (rp == NULL)
			return NHI_ERR_NOMEM;
		r->procs = rp;
		r->cap_procs = cap;
	}
	rp = &r->procs[r->n_procs++];
	memset(rp, 0, sizeof(*rp));
	rp->pid = pid;
	rp->ruid = p->ruid;
	rp->euid = p->euid;
	snprintf(rp->comm, sizeof(rp->comm), "%s", p->comm);
	snprintf(rp->start, sizeof(rp->start), "%s", p->start);
	return 1;
}

/* Add the live processes of uid not in the list yet; *added counts them. */
static int proc_scan(struct reach *r, int *added)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();
	int n = 0, rc = 0;

	if (d == NULL)
		return NHI_ERR_IO;
	while ((de = readdir(d)) != NULL) {
		struct pinfo p;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end != '\0' || pid <= 1 || (pid_t)pid == self)
			continue;
		if (pinfo_read((pid_t)pid, &p) < 0 || p.state == 'Z' || p.state == 'X')
			continue;
		if (p.ruid != r->uid && p.euid != r->uid)
			continue;
		rc = proc_add(r, (pid_t)pid, &p);
		if (rc < 0)
			break;
		n += rc;
		rc = 0;
	}
	closedir(d);
	if (added != NULL)
		*added = n;
	return rc;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Wait up to ms for the signalled processes to go; 1 when all are gone. */
static int wait_gone(struct reach *r, long ms)
{
	long waited = 0;

	for (;;) {
		int left = 0;
		size_t i;

		for (i = 0; i < r->n_procs; i++) {
			struct reach_proc *rp = &r->procs[i];

			if (rp->outcome == REACH_SIGNALLED && !still_there(rp, r->uid))
				rp->outcome = rp->signal == SIGKILL ? REACH_KILLED : REACH_TERMINATED;
			left += rp->outcome == REACH_SIGNALLED;
		}
		if (left == 0)
			return 1;
		if (waited >= ms)
			return 0;
		sleep_ms(50);
		waited += 50;
	}
}

static void sig_send(struct reach_proc *rp, int sig)
{
	rp->signal = sig;
	if (kill(rp->pid, sig) == 0) {
		rp->outcome = REACH_SIGNALLED;
	} else if (errno == ESRCH) {
		rp->outcome = REACH_TERMINATED;   /* went by itself */
	} else {
		rp->outcome = REACH_SURVIVED;
		rp->err = errno;
	}
}

static void terminate(struct reach *r)
{
	size_t i;
	int round, added;

	for (i = 0; i < r->n_procs; i++)
		sig_send(&r->procs[i], SIGTERM);
	if (wait_gone(r, REACH_TERM_WAIT_MS) && (proc_scan(r, &added) < 0 || added == 0))
		goto out;
	/* what is left, and what was forked meanwhile: SIGKILL */
	for (round = 0; round < REACH_KILL_ROUNDS; round++) {
		int sent = 0;

		for (i = 0; i < r->n_procs; i++) {
			struct reach_proc *rp = &r->procs[i];

			if (rp->outcome == REACH_RUNNING ||
			    (rp->outcome == REACH_SIGNALLED && still_there(rp, r->uid))) {
				sig_send(rp, SIGKILL);
				sent++;
			}
		}
		if (sent == 0)
			break;
		wait_gone(r, REACH_KILL_WAIT_MS);
		if (proc_scan(r, &added) < 0)
			break;
	}
out:
	for (i = 0; i < r->n_procs; i++) {
		struct reach_proc *rp = &r->procs[i];

		if (rp->outcome == REACH_SIGNALLED || rp->outcome == REACH_RUNNING)
			rp->outcome = REACH_SURVIVED;
		r->survivors += rp->outcome == REACH_SURVIVED;
	}
}

static void rooted(char *out, size_t len, const char *root, const char *path)
{
	snprintf(out, len, "%s%s", root, path);
}

static void crontab_scan(struct reach *r, const char *root, const char *name)
{
	static const char *const spools[] = {
		"/var/spool/cron/crontabs/",   /* Debian */
		"/var/spool/cron/",            /* Red Hat (cronie) */
	};
	char path[PATH_MAX], line[1024];
	struct stat sb;
	size_t i;
	FILE *f;

	for (i = 0; i < sizeof(spools) / sizeof(spools[0]); i++) {
		snprintf(path, sizeof(path), "%s%s%s", root, spools[i], name);
		if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode))
			break;
	}
	if (i == sizeof(spools) / sizeof(spools[0]))
		return;
	snprintf(r->crontab, sizeof(r->crontab), "%s", path);
	r->crontab_entries = 0;
	f = fopen(path, "re");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = line + strspn(line, " \t");

		/* entries, not comments, blank lines or VAR=value */
		if (*p != '#' && *p != '\n' && *p != '\0' &&
		    !(strchr(p, '=') != NULL && strcspn(p, "=") < strcspn(p, " \t")))
			r->crontab_entries++;
	}
	fclose(f);
}

static int unit_add(struct reach *r, const char *path, int line, const char *setting)
{
	struct reach_unit *u;

	if (r->n_units >= REACH_UNITS_MAX) {
		r->units_truncated = 1;
		return 0;
	}
	if (r->n_units == r->cap_units) {
		size_t cap = r->cap_units ? r->cap_units * 2 : 8;

		u = realloc(r->units, cap * sizeof(*u));
		if (u == NULL)
			return NHI_ERR_NOMEM;
		r->units = u;
		r->cap_units = cap;
	}
	u = &r->units[r->n_units++];
	snprintf(u->path, sizeof(u->path), "%s", path);
	u->line = line;
	snprintf(u->setting, sizeof(u->setting), "%s", setting);
	return 0;
}

const char *reach_setting(const char *line, const char *key)
{
	size_t k = strlen(key);
	const char *v;

	line += strspn(line, " \t");
	if (strncmp(line, key, k) != 0)
		return NULL;
	v = line + k + strspn(line + k, " \t");
	if (*v != '=')
		return NULL;
	v++;
	return v + strspn(v, " \t");
}

/* User=NAME or User=UID in one unit file or drop-in (regular files only:
 * the symlinks of enablement point at files scanned where they are). */
static int unit_file(struct reach *r, const char *path, const char *name)
{
	char line[4096], uidbuf[16];
	struct stat sb;
	int n = 0, rc = 0;
	FILE *f;

	if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > REACH_UNIT_FILE_MAX)
		return 0;
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	snprintf(uidbuf, sizeof(uidbuf), "%u", r->uid);
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		const char *set = reach_setting(line, "User");
		char *v, *e;

		n++;
		if (set == NULL)
			continue;
		v = line + (set - line);
		e = v + strcspn(v, " \t\r\n");
		*e = '\0';
		if (strcmp(v, name) == 0 || strcmp(v, uidbuf) == 0) {
			char setting[96];

			snprintf(setting, sizeof(setting), "User=%.64s", v);
			rc = unit_add(r, path, n, setting);
		}
	}
	fclose(f);
	return rc;
}

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

static int unit_dir(struct reach *r, const char *dir, const char *name, int dropin)
{
	char path[PATH_MAX];
	struct dirent *de;
	int seen = 0, rc = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL && seen++ < REACH_DIR_MAX) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		if (dropin) {
			if (has_suffix(de->d_name, ".conf"))
				rc = unit_file(r, path, name);
		} else if (has_suffix(de->d_name, ".service")) {
			rc = unit_file(r, path, name);
		} else if (has_suffix(de->d_name, ".service.d")) {
			rc = unit_dir(r, path, name, 1);
		}
	}
	if (seen > REACH_DIR_MAX)
		r->units_truncated = 1;
	closedir(d);
	return rc;
}

static const char *const unit_dirs[] = {
	"/etc/systemd/system", "/run/systemd/system",
	/* /usr/lib first: with a merged /usr, /lib is the symlink (dropped as
	 * the same directory), and discover follows no symlink */
	"/usr/lib/systemd/system", "/lib/systemd/system",
};

size_t reach_unit_dirs(const char *root, char out[][PATH_MAX], size_t max)
{
	char canon[REACH_N_UNIT_DIRS][PATH_MAX];
	size_t i, k, n = 0;

	for (i = 0; i < REACH_N_UNIT_DIRS && n < max; i++) {
		rooted(out[n], PATH_MAX, root, unit_dirs[i]);
		/* merged /usr: /lib is /usr/lib; scan it once */
		if (realpath(out[n], canon[n]) == NULL)
			continue;
		for (k = 0; k < n; k++)
			if (strcmp(canon[k], canon[n]) == 0)
				break;
		if (k == n)
			n++;
	}
	return n;
}

static int units_scan(struct reach *r, const char *root, const char *name)
{
	char dirs[REACH_N_UNIT_DIRS][PATH_MAX];
	size_t i, n = reach_unit_dirs(root, dirs, REACH_N_UNIT_DIRS);
	int rc = 0;

	for (i = 0; rc == 0 && i < n; i++)
		rc = unit_dir(r, dirs[i], name, 0);
	return rc;
}

static void file_stat(struct reach_file *f, const char *path)
{
	struct stat sb;

	snprintf(f->path, sizeof(f->path), "%s", path);
	f->exists = lstat(path, &sb) == 0;
	if (f->exists) {
		f->uid = (uint32_t)sb.st_uid;
		f->dir = S_ISDIR(sb.st_mode);
	}
}

int reach_scan(struct nhictl *x, const struct ident *id, int do_terminate, int files,
	       struct reach *r)
{
	const char *root = secure_getenv("NHICTL_SCAN_ROOT");
	char path[PATH_MAX];
	int rc;

	memset(r, 0, sizeof(*r));
	r->uid = id->uid;
	r->terminate = do_terminate;
	r->files = files;
	if (root == NULL)
		root = "";
	/* never uid 0: that would be every root process */
	if (id->uid != 0) {
		rc = proc_scan(r, NULL);
		if (rc < 0)
			return nerr(x, rc, "cannot scan /proc for the processes of '%s'", id->name);
		if (do_terminate && r->n_procs > 0)
			terminate(r);
	}
	crontab_scan(r, root, id->name);
	rc = units_scan(r, root, id->name);
	if (rc < 0)
		return nerr(x, rc, "out of memory scanning systemd units");
	if (files) {
		if (id->home[0] == '/' && strcmp(id->home, "/") != 0)
			file_stat(&r->home, id->home);
		snprintf(path, sizeof(path), "%s/var/mail/%s", root, id->name);
		file_stat(&r->mail, path);
	}
	return 0;
}

void reach_free(struct reach *r)
{
	free(r->procs);
	free(r->units);
	r->procs = NULL;
	r->units = NULL;
}

static const char *outcome_str(int o)
{
	switch (o) {
	case REACH_TERMINATED: return "terminated";
	case REACH_KILLED: return "killed";
	case REACH_SURVIVED: return "survived";
	default: return "running";
	}
}

void reach_text(const struct reach *r, const char *name)
{
	size_t i;

	if (r->n_procs == 0) {
		printf("  processes: none running as uid %u\n", r->uid);
	} else {
		printf("  processes: %zu running as uid %u%s\n", r->n_procs, r->uid,
		       r->terminate ? "" : " (--terminate stops them)");
		for (i = 0; i < r->n_procs; i++) {
			const struct reach_proc *p = &r->procs[i];

			if (!r->terminate)
				printf("    pid %d %s\n", (int)p->pid, p->comm);
			else if (p->outcome == REACH_SURVIVED && p->err)
				printf("    pid %d %s: survived (%s)\n", (int)p->pid, p->comm,
				       strerror(p->err));
			else
				printf("    pid %d %s: %s%s\n", (int)p->pid, p->comm,
				       outcome_str(p->outcome),
				       p->outcome == REACH_TERMINATED ? " (SIGTERM)" :
				       p->outcome == REACH_KILLED ? " (SIGKILL)" : "");
		}
	}
	if (r->crontab[0])
		printf("  crontab: %s (%d entr%s; remove it with 'crontab -r -u %s')\n", r->crontab,
		       r->crontab_entries, r->crontab_entries == 1 ? "y" : "ies", name);
	else
		printf("  crontab: none\n");
	if (r->n_units == 0)
		printf("  systemd units: none run as it\n");
	else
		printf("  systemd units: %zu setting%s run as it%s\n", r->n_units,
		       r->n_units == 1 ? "" : "s", r->units_truncated ? " (scan truncated)" : "");
	for (i = 0; i < r->n_units; i++)
		printf("    %s:%d: %s\n", r->units[i].path, r->units[i].line, r->units[i].setting);
	if (!r->files)
		return;
	if (r->home.exists)
		printf("  files left: %s (%s, owner uid %u)\n", r->home.path,
		       r->home.dir ? "home directory" : "home, not a directory", r->home.uid);
	if (r->mail.exists)
		printf("  files left: %s (mail spool, owner uid %u)\n", r->mail.path, r->mail.uid);
	if (!r->home.exists && !r->mail.exists)
		printf("  files left: none found (home directory%s%s, mail spool)\n",
		       r->home.path[0] ? " " : "", r->home.path);
}

static void file_json(struct json *j, const char *k, const struct reach_file *f)
{
	json_key(j, k);
	if (f->path[0] == '\0') {
		json_null(j);
		return;
	}
	json_obj(j);
	json_kstr(j, "path", f->path);
	json_kbool(j, "exists", f->exists);
	json_key(j, "owner_uid");
	if (f->exists)
		json_int(j, f->uid);
	else
		json_null(j);
	json_obj_end(j);
}

void reach_json(struct json *j, const struct reach *r)
{
	size_t i;

	json_key(j, "processes");
	json_obj(j);
	json_kint(j, "uid", r->uid);
	json_kint(j, "count", (long long)r->n_procs);
	json_kbool(j, "terminate", r->terminate);
	json_kint(j, "survivors", r->survivors);
	json_key(j, "list");
	json_arr(j);
	for (i = 0; i < r->n_procs; i++) {
		json_obj(j);
		json_kint(j, "pid", r->procs[i].pid);
		json_kstr(j, "comm", r->procs[i].comm);
		json_kint(j, "ruid", r->procs[i].ruid);
		json_kint(j, "euid", r->procs[i].euid);
		json_kstr(j, "outcome", r->terminate ? outcome_str(r->procs[i].outcome) : "running");
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);

	json_key(j, "crontab");
	json_obj(j);
	json_kstr(j, "path", r->crontab[0] ? r->crontab : NULL);
	json_kbool(j, "exists", r->crontab[0] != '\0');
	json_kint(j, "entries", r->crontab_entries);
	json_obj_end(j);

	json_key(j, "units");
	json_obj(j);
	json_kint(j, "count", (long long)r->n_units);
	json_kbool(j, "truncated", r->units_truncated);
	json_key(j, "list");
	json_arr(j);
	for (i = 0; i < r->n_units; i++) {
		json_obj(j);
		json_kstr(j, "path", r->units[i].path);
		json_kint(j, "line", r->units[i].line);
		json_kstr(j, "setting", r->units[i].setting);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);

	if (!r->files)
		return;
	json_key(j, "files");
	json_obj(j);
	file_json(j, "home", &r->home);
	file_json(j, "mail", &r->mail);
	json_obj_end(j);
}

/* cmd_backup.c - init: create the registry explicitly; backup: an online,
 * verified copy of it (SQLite's online backup API). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cmd.h"

static const char init_help[] =
	"usage: nhictl init [--force] [--json]\n"
	"\n"
	"Create the registry (registry.db) explicitly.  On a fresh host the first\n"
	"change creates it as well; init is for provisioning and for starting anew\n"
	"after the registry was lost.  An existing registry is left unchanged (exit\n"
	"0; with --changed-exit N, N only when the registry was created).  Without\n"
	"--force, init refuses (exit 1) when registry.db is missing but other nhi\n"
	"state (the snapshot, registry.state, usage.log, token.pepper, the key\n"
	"index) shows that one existed: restore it from a backup instead.\n"
	"\n"
	"  -f, --force   start a new, empty registry over the state of a lost one;\n"
	"                the id high-water mark is kept, the lost audit chain is\n"
	"                recorded as a 'log-gap' event, and the next snapshot is\n"
	"                empty (every identity of the lost registry leaves NSS)\n"
	"      --json    {registry, created, schema_version}\n";

/* The options of init and backup: --force, --json, --help.  0 to go on,
 * else the exit code (help printed, or a usage error). */
static int force_opts(struct nhictl *x, int argc, char **argv, const char *help, int *force)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*force = 0;
	while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': *force = 1; break;
		case 'j': x->json = 1; break;
		case 'h': fputs(help, stdout); return -1;
		default: return opt_error(x, c, argv);
		}
	}
	return 0;
}

int cmd_init(struct nhictl *x, int argc, char **argv)
{
	int64_t version = 0;
	struct json j;
	int force, r;

	r = force_opts(x, argc, argv, init_help, &force);
	if (r != 0)
		return r < 0 ? EXIT_OK : r;
	if (optind < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	x->reg_how = force ? REG_FORCE : REG_USE;
	if (reg_open(x) < 0)
		return EXIT_FAIL;
	if (x->reg_created) {
		r = reg_begin(x);
		if (r == 0)
			r = reg_event(x, "init", x->conf.registry_path, "ok", "new registry%s",
				      force ? " (init --force)" : "");
		if (r == 0)
			r = reg_commit(x);
		if (r < 0)
			return EXIT_FAIL;
	}
	if (reg_int(x, &version, 0, "PRAGMA user_version", "") < 0)
		return EXIT_FAIL;
	if (x->json) {
		json_init(&j, stdout);
		json_obj(&j);
		json_kstr(&j, "registry", x->conf.registry_path);
		json_kbool(&j, "created", x->reg_created);
		json_kint(&j, "schema_version", version);
		json_obj_end(&j);
		json_end(&j);
	} else if (x->reg_created) {
		printf("registry %s created (schema version %lld)\n", x->conf.registry_path,
		       (long long)version);
	} else {
		printf("registry %s exists (schema version %lld): unchanged\n",
		       x->conf.registry_path, (long long)version);
	}
	return EXIT_OK;
}

static const char backup_help[] =
	"usage: nhictl backup [--force] [--json] FILE\n"
	"\n"
	"Copy the registry to FILE while nhictl and the timers keep running\n"
	"(SQLite's online backup: one consistent state).  The copy is checked\n"
	"(PRAGMA integrity_check) before it is renamed into place, mode 0600,\n"
	"a single self-contained file.  Restore: nhictl(8), RESTORE.\n"
	"\n"
	"  -f, --force   replace an existing FILE (else refused, exit 1)\n"
	"      --json    {path, bytes, identities, events, generation, integrity}\n";

/* a sibling of 'path' for the copy; the file exists (0600, empty) */
static int backup_tmp(struct nhictl *x, const char *path, char *tmp, size_t len)
{
	int fd;

	if ((size_t)snprintf(tmp, len, "%s.tmp.XXXXXX", path) >= len)
		return nerr(x, NHI_ERR_RANGE, "%s: path too long", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return nerr(x, NHI_ERR_IO, "%s: %s", tmp, strerror(errno));
	close(fd);
	return 0;
}

static void unlink_db(const char *path)
{
	static const char *const sfx[] = { "", "-journal", "-wal", "-shm" };
	char p[PATH_MAX + 16];
	size_t i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		unlink(p);
	}
}

/* The copy: online backup, rollback journal (one file), integrity check,
 * its counts.  0 or NHI_ERR_* (printed). */
static int backup_copy(struct nhictl *x, const char *tmp, int64_t counts[3])
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	sqlite3_stmt *st = NULL;
	const char *what = tmp;
	int r, rc;

	rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto dberr;
	sqlite3_busy_timeout(dst, 10000);
	b = sqlite3_backup_init(dst, "main", x->db, "main");
	if (b == NULL)
		goto dberr;
	do {
		rc = sqlite3_backup_step(b, -1);   /* all pages under one read lock */
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(50);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		what = x->conf.registry_path;
		goto dberr;
	}
	rc = sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto dberr;
	rc = sqlite3_prepare_v2(dst, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto dberr;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		r = nerr(x, NHI_ERR_FORMAT, "%s: the copy fails PRAGMA integrity_check: %s", tmp,
			 rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0)
					  : sqlite3_errmsg(dst));
		goto out;
	}
	sqlite3_finalize(st);
	rc = sqlite3_prepare_v2(dst, "SELECT (SELECT count(*) FROM identity), "
				"(SELECT count(*) FROM event), (SELECT CAST(value AS INTEGER) "
				"FROM meta WHERE key = 'generation')", -1, &st, NULL);
	if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		goto dberr;
	for (r = 0; r < 3; r++)
		counts[r] = sqlite3_column_int64(st, r);
	r = 0;
	goto out;
dberr:
	r = nerr(x, NHI_ERR_DB, "%s: %s", what,
		 what == tmp ? (dst ? sqlite3_errmsg(dst) : "cannot open") : sqlite3_errmsg(x->db));
out:
	sqlite3_finalize(st);
	if (dst != NULL && sqlite3_close(dst) != SQLITE_OK && r == 0)
		r = nerr(x, NHI_ERR_DB, "%s: cannot close", tmp);
	return r;
}

/* fsync the copy, move it into place (link: never over an existing file
 * unless force), fsync the directory */
static int backup_place(struct nhictl *x, const char *tmp, const char *path, int force,
			int64_t *bytes)
{
	char dir[PATH_MAX], *slash;
	struct stat st;
	int fd, dfd, r = 0;

	fd = open(tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fchmod(fd, 0600) < 0 || fsync(fd) < 0 || fstat(fd, &st) < 0) {
		r = nerr(x, NHI_ERR_IO, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	close(fd);
	*bytes = (int64_t)st.st_size;
	if (force ? rename(tmp, path) < 0 : link(tmp, path) < 0)
		return errno == EEXIST
			       ? nerr(x, NHI_ERR_EXISTS, "%s exists (--force replaces it)", path)
			       : nerr(x, NHI_ERR_IO, "%s: %s", path, strerror(errno));
	if (!force)
		unlink(tmp);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		slash[slash == dir] = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		r = nerr(x, NHI_ERR_IO, "%s: fsync: %s", dir, strerror(errno));
	if (dfd >= 0)
		close(dfd);
	return r;
}

int cmd_backup(struct nhictl *x, int argc, char **argv)
{
	char tmp[PATH_MAX + 16] = "";
	int64_t counts[3] = { 0, 0, 0 }, bytes = 0;
	const char *path;
	struct stat st;
	struct json j;
	int force, r;

	r = force_opts(x, argc, argv, backup_help, &force);
	if (r != 0)
		return r < 0 ? EXIT_OK : r;
	if (optind >= argc)
		return nerr(x, EXIT_USAGE, "missing FILE (try 'nhictl backup --help')");
	if (optind + 1 < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind + 1]);
	path = argv[optind];
	if (path[0] == '\0' || path[strlen(path) - 1] == '/')
		return nerr(x, EXIT_USAGE, "bad FILE '%s'", path);
	if (lstat(path, &st) == 0 && (!force || S_ISDIR(st.st_mode)))
		return nerr(x, EXIT_FAIL, "%s exists%s", path,
			    S_ISDIR(st.st_mode) ? " and is a directory" : " (--force replaces it)");
	r = backup_tmp(x, path, tmp, sizeof(tmp));
	if (r == 0)
		r = backup_copy(x, tmp, counts);
	if (r == 0)
		r = backup_place(x, tmp, path, force, &bytes);
	if (tmp[0] != '\0')
		unlink_db(tmp);
	if (r < 0)
		return EXIT_FAIL;
	if (x->json) {
		json_init(&j, stdout);
		json_obj(&j);
		json_kstr(&j, "path", path);
		json_kint(&j, "bytes", bytes);
		json_kint(&j, "identities", counts[0]);
		json_kint(&j, "events", counts[1]);
		json_kint(&j, "generation", counts[2]);
		json_kstr(&j, "integrity", "ok");
		json_obj_end(&j);
		json_end(&j);
	} else {
		printf("backup %s: %lld bytes, %lld identities, %lld events, generation %lld, "
		       "integrity ok\n", path, (long long)bytes, (long long)counts[0],
		       (long long)counts[1], (long long)counts[2]);
	}
	return EXIT_OK;
}

/* home.c - what create and adopt check of the local system: the human
 * uid range of /etc/login.defs, the shell, and the home directory that
 * `create --create-home` makes as `useradd -m` does (from /etc/skel, owned
 * by the identity, mode HOME_MODE of login.defs or 0750).
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util.h"

#define LOGIN_DEFS "/etc/login.defs"
#define SKEL "/etc/skel"
#define SKEL_DEPTH_MAX 16

struct login_defs {
	unsigned long uid_min, uid_max, home_mode;
};

/* UID_MIN, UID_MAX and HOME_MODE, with shadow's defaults. */
static void login_defs_read(struct login_defs *d)
{
	FILE *f = fopen(LOGIN_DEFS, "re");
	char line[256], key[64], val[64];

	d->uid_min = 1000;
	d->uid_max = 60000;
	d->home_mode = 0750;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *end;
		unsigned long v;

		if (sscanf(line, " %63s %63s", key, val) != 2 || key[0] == '#')
			continue;
		errno = 0;
		v = strtoul(val, &end, strcmp(key, "HOME_MODE") == 0 ? 8 : 10);
		if (errno || *end != '\0' || end == val)
			continue;
		if (strcmp(key, "UID_MIN") == 0)
			d->uid_min = v;
		else if (strcmp(key, "UID_MAX") == 0)
			d->uid_max = v;
		else if (strcmp(key, "HOME_MODE") == 0 && v <= 07777)
			d->home_mode = v;
	}
	fclose(f);
}

void login_defs_humans(unsigned long *uid_min, unsigned long *uid_max)
{
	struct login_defs d;

	login_defs_read(&d);
	*uid_min = d.uid_min;
	*uid_max = d.uid_max;
}

void ident_warnings(struct nhictl *x, const char *name, uint32_t uid, const char *shell)
{
	struct login_defs d;

	login_defs_read(&d);
	if (uid >= d.uid_min && uid <= d.uid_max)
		fprintf(stderr, "nhictl: %s: warning: uid %u of '%s' is in the range of human "
			"accounts (UID_MIN..UID_MAX %lu..%lu in " LOGIN_DEFS "): useradd may "
			"hand out its neighbours to people\n", x->verb, uid, name, d.uid_min,
			d.uid_max);
	if (shell != NULL && access(shell, X_OK) != 0)
		fprintf(stderr, "nhictl: %s: warning: the shell %s of '%s' does not exist or is "
			"not executable: logins as it will fail\n", x->verb, shell, name);
}

int home_check(struct nhictl *x, const char *home, uint32_t uid, int *exists)
{
	char parent[PATH_MAX], *slash;
	struct stat sb;

	*exists = 0;
	if (lstat(home, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode) || sb.st_uid != uid)
			return nerr(x, NHI_ERR_EXISTS, "--create-home: %s exists and is not a directory "
				    "owned by uid %u: refused (choose another --home)", home, uid);
		*exists = 1;
		return 0;
	}
	if (errno != ENOENT)
		return nerr(x, NHI_ERR_IO, "--create-home: %s: %s", home, strerror(errno));
	snprintf(parent, sizeof(parent), "%s", home);
	slash = strrchr(parent, '/');
	if (slash != NULL)
		slash[slash == parent] = '\0';
	if (stat(parent, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return nerr(x, NHI_ERR_NOTFOUND, "--create-home: the parent directory %s does not exist",
			    parent);
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

void home_unmake(const char *home)
{
	nftw(home, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Copy the tree src (a directory) into the existing directory dst, owned
 * by uid:gid, keeping modes; symlinks are copied as links. */
static int copy_tree(const char *src, const char *dst, uid_t uid, gid_t gid, int depth)
{
	char s[PATH_MAX], d[PATH_MAX], buf[65536];
	struct dirent *de;
	DIR *dir;
	int rc = 0;

	if (depth > SKEL_DEPTH_MAX)
		return 0;
	dir = opendir(src);
	if (dir == NULL)
		return errno == ENOENT ? 0 : -errno;
	while (rc == 0 && (de = readdir(dir)) != NULL) {
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(s, sizeof(s), "%s/%s", src, de->d_name) >= sizeof(s) ||
		    (size_t)snprintf(d, sizeof(d), "%s/%s", dst, de->d_name) >= sizeof(d)) {
			rc = -ENAMETOOLONG;
			break;
		}
		if (lstat(s, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			if (mkdir(d, 0700) != 0)
				rc = -errno;
			else
				rc = copy_tree(s, d, uid, gid, depth + 1);
		} else if (S_ISLNK(sb.st_mode)) {
			ssize_t n = readlink(s, buf, sizeof(buf) - 1);

			if (n < 0)
				continue;
			buf[n] = '\0';
			if (symlink(buf, d) != 0)
				rc = -errno;
		} else if (S_ISREG(sb.st_mode)) {
			int in = open(s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			int out = in < 0 ? -1 : open(d, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
						     O_CLOEXEC, 0600);
			ssize_t n = 0;

			while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
				if (write(out, buf, (size_t)n) != n) {
					n = -1;
					break;
				}
			if (in < 0 || out < 0 || n < 0)
				rc = -(errno ? errno : EIO);
			if (out >= 0 && close(out) != 0 && rc == 0)
				rc = -errno;
			if (in >= 0)
				close(in);
		} else {
			continue;   /* no devices or fifos from a skeleton */
		}
		if (rc == 0 && lchown(d, uid, gid) != 0)
			rc = -errno;
		if (rc == 0 && !S_ISLNK(sb.st_mode) && chmod(d, sb.st_mode & 07777) != 0)
			rc = -errno;
	}
	closedir(dir);
	return rc;
}

int home_make(struct nhictl *x, const char *home, uint32_t uid, uint32_t gid)
{
	struct login_defs d;
	int rc;

	login_defs_read(&d);
	if (mkdir(home, 0700) != 0)
		return nerr(x, NHI_ERR_IO, "--create-home: mkdir %s: %s", home, strerror(errno));
	rc = copy_tree(SKEL, home, (uid_t)uid, (gid_t)gid, 0);
	if (rc == 0 && chown(home, (uid_t)uid, (gid_t)gid) != 0)
		rc = -errno;
	if (rc == 0 && chmod(home, (mode_t)d.home_mode) != 0)
		rc = -errno;
	if (rc < 0) {
		home_unmake(home);
		return nerr(x, NHI_ERR_IO, "--create-home: %s from " SKEL ": %s", home, strerror(-rc));
	}
	return 0;
}

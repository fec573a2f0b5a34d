/* nhi_file.c - writing files safely: the snapshot (nhi_snapwrite.c) and
 * secrets handed over by nhictl (nhictl/util/secret.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "nhi_err.h"
#include "nhi_file.h"
#include "nhi_testhook.h"

int nhi_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The directory of path, for the checks and the fsync. */
static int dir_of(const char *path, char *dir, size_t dirlen)
{
	char *slash;

	if ((size_t)snprintf(dir, dirlen, "%s", path) >= dirlen)
		return -1;
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, dirlen, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	return 0;
}

/* Can only root or we add, remove or rename entries in a directory?  It
 * must be owned by root or the effective uid, and writable by no one
 * else unless sticky (as /tmp, where others cannot touch our entries). */
static int dir_trusted(const struct stat *st)
{
	return S_ISDIR(st->st_mode) && (st->st_uid == 0 || st->st_uid == geteuid()) &&
	       (!(st->st_mode & (S_IWGRP | S_IWOTH)) || (st->st_mode & S_ISVTX));
}

static int untrusted(char *err, size_t errlen, const char *path, const char *dir,
		     const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return nhi_seterr(err, errlen, NHI_ERR_PERM,
				  "%s: directory %s belongs to uid %u, who could swap what it "
				  "holds (only root's directories are trusted)",
				  path, dir, (unsigned)st->st_uid);
	return nhi_seterr(err, errlen, NHI_ERR_PERM,
			  "%s: directory %s is writable by others (owner uid %u, mode %04o)",
			  path, dir, (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
}

/* Open directory 'dir' as OpenSSH's safe_path() would trust it, but
 * without a window between check and use: from '/', one component at a
 * time with O_NOFOLLOW, each directory checked by dir_trusted() on the
 * descriptor that the next step opens from.  A symbolic link is followed
 * (its target walked the same way) only when the directory holding it is
 * trusted and, in a sticky one, the link is root's or ours; at most 40.
 * Returns an O_DIRECTORY descriptor or a negative code with err; with
 * 'missing' not NULL, a component that does not exist ends the walk with
 * 0 and *missing set (what exists above it was checked). */
static int open_safe_dir(const char *path, const char *dir, int *missing, char *err,
			 size_t errlen)
{
	char walk[2 * PATH_MAX], comp[NAME_MAX + 1], link[PATH_MAX], cwd[PATH_MAX];
	char at[PATH_MAX] = "";   /* the directory dfd is, as walked: for messages */
	const char *p;
	struct stat st;
	int dfd, links = 0, r;

	if (dir[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    (size_t)snprintf(walk, sizeof(walk), "%s/%s", cwd, dir) >= sizeof(walk))
			return nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s: path too long", path);
	} else if ((size_t)snprintf(walk, sizeof(walk), "%s", dir) >= sizeof(walk)) {
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s: path too long", path);
	}
	dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) < 0)
		goto io;
	if (!dir_trusted(&st)) {
		r = untrusted(err, errlen, path, "/", &st);
		goto out;
	}
	p = walk;
	for (;;) {
		size_t n;
		int nfd;

		while (*p == '/')
			p++;
		if (*p == '\0')
			return dfd;
		n = strcspn(p, "/");
		if (n > NAME_MAX) {
			r = nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s: path too long", path);
			goto out;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		if (strcmp(comp, ".") == 0)
			continue;
		if (fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) < 0)
			goto io_comp;
		if (S_ISLNK(st.st_mode)) {
			struct stat parent;
			ssize_t k;

			if (fstat(dfd, &parent) < 0)
				goto io_comp;
			if (++links > 40 || ((parent.st_mode & S_ISVTX) && st.st_uid != 0 &&
					     st.st_uid != geteuid())) {
				r = nhi_seterr(err, errlen, NHI_ERR_PERM,
					       "%s: symbolic link %s in %s is not to be trusted (owner "
					       "uid %u in a sticky directory, or too many links)",
					       path, comp, dir, (unsigned)st.st_uid);
				goto out;
			}
			k = readlinkat(dfd, comp, link, sizeof(link) - 1);
			if (k < 0)
				goto io_comp;
			link[k] = '\0';
			/* the rest of the walk: the link's target, then what followed */
			if ((size_t)k + 1 + strlen(p) + 1 > sizeof(walk)) {
				r = nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s: path too long", path);
				goto out;
			}
			memmove(walk + k + 1, p, strlen(p) + 1);
			memcpy(walk, link, (size_t)k);
			walk[k] = '/';
			p = walk;
			if (link[0] == '/') {
				at[0] = '\0';
				close(dfd);
				dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (dfd < 0)
					goto io;
			}
			continue;
		}
		nfd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0)
			goto io_comp;
		close(dfd);
		dfd = nfd;
		n = strlen(at);
		if (n + 1 + strlen(comp) < sizeof(at))
			snprintf(at + n, sizeof(at) - n, "/%s", comp);
		if (fstat(dfd, &st) < 0)
			goto io_comp;
		if (!dir_trusted(&st)) {
			r = untrusted(err, errlen, path, at, &st);
			goto out;
		}
	}
io_comp:
	if (errno == ENOENT && missing != NULL) {
		*missing = 1;   /* every directory above was checked */
		r = 0;
		goto out;
	}
	r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s: %s", path, comp, strerror(errno));
	goto out;
io:
	r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: /: %s", path, strerror(errno));
out:
	if (dfd >= 0)
		close(dfd);
	return r;
}

/* A temp file beside the target, in dfd: name.tmp.XXXXXX, O_EXCL, 0600. */
static int open_temp(int dfd, const char *base, char *tmp, size_t tmplen)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

	for (int tries = 0; tries < 100; tries++) {
		unsigned char rnd[6];
		char sfx[7];
		int fd;

		if (getentropy(rnd, sizeof(rnd)) < 0)
			return -1;
		for (size_t i = 0; i < sizeof(rnd); i++)
			sfx[i] = chars[rnd[i] % (sizeof(chars) - 1)];
		sfx[6] = '\0';
		if ((size_t)snprintf(tmp, tmplen, "%s.tmp.%s", base, sfx) >= tmplen) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

int nhi_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		     uid_t uid, gid_t gid, int flags, char *err, size_t errlen)
{
	char tmp[NAME_MAX + 1], dir[PATH_MAX];
	struct stat st;
	int fd = -1, dfd = -1, r;
	const char *base;

	tmp[0] = '\0';
	if (path == NULL || *path == '\0' || (data == NULL && len > 0))
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "write: no file given");
	base = strrchr(path, '/');
	base = base == NULL ? path : base + 1;
	if (*base == '\0')
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s: names a directory", path);
	if (dir_of(path, dir, sizeof(dir)) < 0 || strlen(base) + 12 > NAME_MAX)
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s: path too long", path);
	/* Everything after this works relative to dfd, so no path component
	 * can be swapped between the checks and the writes.  Someone else
	 * able to add, remove or rename entries in the directory or any above
	 * it could swap the file or the directory: with SAFE_DIR, the whole
	 * path is walked and checked (open_safe_dir). */
	if (flags & NHI_WRITE_SAFE_DIR) {
		dfd = open_safe_dir(path, dir, NULL, err, errlen);
		if (dfd < 0)
			return dfd;
	} else {
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fstat(dfd, &st) < 0) {
			r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", dir, strerror(errno));
			goto out;
		}
	}
	fd = open_temp(dfd, base, tmp, sizeof(tmp));
	if (fd < 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s/%s: %s", dir, base, strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	if ((flags & NHI_WRITE_CHOWN) && fchown(fd, uid, gid) < 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_PERM, "%s: chown to %u:%u: %s", path,
			       (unsigned)uid, (unsigned)gid, strerror(errno));
		goto out;
	}
	/* after the chown, which may clear set-id bits */
	if (fchmod(fd, mode) < 0 || nhi_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s/%s: %s", dir, tmp, strerror(errno));
		goto out;
	}
	r = close(fd);
	fd = -1;
	if (r < 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s/%s: %s", dir, tmp, strerror(errno));
		goto out;
	}
	NHI_CRASH_POINT("file-temp-fsynced", base);
	if (flags & NHI_WRITE_NOREPLACE) {
		if (linkat(dfd, tmp, dfd, base, 0) < 0) {
			r = errno == EEXIST
				    ? nhi_seterr(err, errlen, NHI_ERR_EXISTS, "%s: already exists", path)
				    : nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		unlinkat(dfd, tmp, 0);
	} else if (renameat(dfd, tmp, dfd, base) < 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "rename %s: %s", path, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	NHI_CRASH_POINT("file-renamed", base);
	if (fsync(dfd) < 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: fsync: %s", dir, strerror(errno));
		goto out;
	}
	NHI_CRASH_POINT("file-dir-fsynced", base);
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0] != '\0')
		unlinkat(dfd, tmp, 0);
	if (dfd >= 0)
		close(dfd);
	return r;
}

int nhi_dir_check(const char *dir, const char *name, char *err, size_t errlen)
{
	int fd, missing = 0;

	fd = open_safe_dir(name != NULL ? name : dir, dir, &missing, err, errlen);
	if (fd < 0)
		return fd;
	if (!missing)
		close(fd);
	return 0;
}

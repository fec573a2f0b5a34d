/* nhi_file.c - writing files safely: the snapshot (nhi_snapwrite.c) and
 * secrets handed over by nhictl (nhictl/secret.c). */
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

int nhi_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		     uid_t uid, gid_t gid, int flags, char *err, size_t errlen)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	int fd = -1, dfd = -1, r;
	const char *base;

	tmp[0] = '\0';
	if (path == NULL || *path == '\0' || (data == NULL && len > 0))
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "write: no file given");
	base = strrchr(path, '/');
	if (*(base == NULL ? path : base + 1) == '\0')
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s: names a directory", path);
	if (dir_of(path, dir, sizeof(dir)) < 0 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp))
		return nhi_seterr(err, errlen, NHI_ERR_INVAL, "%s: path too long", path);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) < 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", dir, strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	/* someone else able to add, remove or rename entries beside the file
	 * could swap it; the sticky bit stops that (as in /tmp) */
	if ((flags & NHI_WRITE_SAFE_DIR) && !(st.st_mode & S_ISVTX) &&
	    ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)))) {
		r = nhi_seterr(err, errlen, NHI_ERR_PERM,
			       "%s: directory %s is writable by others (owner uid %u, mode %04o)",
			       path, dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		tmp[0] = '\0';
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC); /* O_EXCL, mode 0600 */
	if (fd < 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", tmp, strerror(errno));
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
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	r = close(fd);
	fd = -1;
	if (r < 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (flags & NHI_WRITE_NOREPLACE) {
		if (link(tmp, path) < 0) {
			r = errno == EEXIST
				    ? nhi_seterr(err, errlen, NHI_ERR_EXISTS, "%s: already exists", path)
				    : nhi_seterr(err, errlen, NHI_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		unlink(tmp);
	} else if (rename(tmp, path) < 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "rename %s: %s", path, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	if (fsync(dfd) < 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s: fsync: %s", dir, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0] != '\0')
		unlink(tmp);
	if (dfd >= 0)
		close(dfd);
	return r;
}

/* nss-testutil.h - shared by the NSS test programs: make glibc find the
 * built libnss_nhi.so.2, a private state directory and nhi.conf, and
 * snapshot publishing with lib's writer. */
#ifndef NSS_TESTUTIL_H
#define NSS_TESTUTIL_H

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "nhi_snapshot.h"
#include "testtmp.h"

/* Load the built module by its absolute path.  glibc's NSS later dlopens
 * "libnss_nhi.so.2" by name and gets this already loaded object (dlopen
 * matches loaded objects by soname), so __nss_configure_lookup() works
 * without LD_LIBRARY_PATH, a re-exec or an installed module.  Exits 77
 * (skipped) when the module's directory is unknown. */
static inline void *nsst_load_module(void)
{
	const char *dir = getenv("NSS_NHI_DIR");
	char path[PATH_MAX];
	void *h;

	if (dir == NULL || dir[0] == '\0')
		dir = "nss_nhi/.libs";
	snprintf(path, sizeof(path), "%s/libnss_nhi.so.2", dir);
	if (access(path, R_OK) != 0) {
		fprintf(stderr, "%s: not built (set NSS_NHI_DIR; run through make check)\n", path);
		exit(77);
	}
	h = dlopen(path, RTLD_NOW);
	if (h == NULL) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		exit(99);
	}
	return h;
}

struct nsst_env {
	char dir[256];
	char conf[PATH_MAX];
	char cache[PATH_MAX];
};

/* A private state dir with nhi.conf (extra lines appended); NHI_CONF set. */
static inline int nsst_setup(struct nsst_env *e, const char *extra)
{
	FILE *f;

	if (mkdtemp(test_tmpdir(e->dir, sizeof(e->dir), "nhi-nsstest")) == NULL)
		return -1;
	chmod(e->dir, 0755);
	snprintf(e->conf, sizeof(e->conf), "%s/nhi.conf", e->dir);
	snprintf(e->cache, sizeof(e->cache), "%s/nhi.cache", e->dir);
	f = fopen(e->conf, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "# written by an nhi test\nstate_dir = %s\n%s", e->dir, extra ? extra : "");
	if (fclose(f) != 0)
		return -1;
	chmod(e->conf, 0644);
	setenv("NHI_CONF", e->conf, 1);
	return 0;
}

static inline void nsst_cleanup(struct nsst_env *e)
{
	char cmd[PATH_MAX + 16];

	if (e->dir[0] == '\0' || getenv("KEEP") != NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", e->dir);
}

/* What the writer does to a file it replaces: set the 'stale' word, so
 * readers that have it mapped move on at their next lookup. */
static inline void nsst_mark_stale(const char *path)
{
	uint32_t one = 1;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	if (pwrite(fd, &one, sizeof(one), offsetof(struct nhi_snap_hdr, stale)) != sizeof(one))
		perror("mark stale");
	close(fd);
}

/* Put arbitrary bytes in place of the snapshot, as a writer would
 * (temp file, rename, old one marked stale). */
static inline int nsst_install_bytes_mode(const char *path, const void *p, size_t n, mode_t mode)
{
	char tmp[PATH_MAX + 16];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.bytes", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (n > 0 && write(fd, p, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	close(fd);
	chmod(tmp, mode);
	{
		/* keep the old file to mark it after the rename */
		char old[PATH_MAX + 16];
		snprintf(old, sizeof(old), "%s.old", path);
		if (link(path, old) != 0)
			old[0] = '\0';
		if (rename(tmp, path) != 0)
			return -1;
		if (old[0] != '\0') {
			nsst_mark_stale(old);
			unlink(old);
		}
	}
	return 0;
}

static inline int nsst_install_bytes(const char *path, const void *p, size_t n)
{
	return nsst_install_bytes_mode(path, p, n, 0644);
}

/* Remove the snapshot (marking it stale first). */
static inline void nsst_remove(const char *path)
{
	nsst_mark_stale(path);
	unlink(path);
}

/* Read a whole file. */
static inline unsigned char *nsst_slurp(const char *path, size_t *n)
{
	struct stat st;
	unsigned char *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	p = malloc((size_t)st.st_size + 1);
	if (p != NULL && read(fd, p, (size_t)st.st_size) != st.st_size) {
		free(p);
		p = NULL;
	}
	close(fd);
	*n = (size_t)st.st_size;
	return p;
}

#endif

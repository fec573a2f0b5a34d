/* nhi_file.h - writing files safely (nhictl only: libnhiadmin). */
#ifndef NHI_FILE_H
#define NHI_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* write(2) all n bytes, retrying on EINTR and short writes; 0 or -1 (errno
 * kept). */
int nhi_write_all(int fd, const void *buf, size_t n);

enum {
	NHI_WRITE_NOREPLACE = 1, /* never replace an existing file: NHI_ERR_EXISTS */
	NHI_WRITE_SAFE_DIR = 2,  /* refuse a path through any directory others own or may
				  * write to (not sticky): walked without following
				  * links others could plant */
	NHI_WRITE_CHOWN = 4,     /* give the file to uid:gid */
};

/* Write data to 'path' atomically: a temp file beside it (O_EXCL), 'mode',
 * fsync, rename (or link, with NHI_WRITE_NOREPLACE) and fsync of the
 * directory, each relative to the directory's descriptor.  Readers see the old file or the new one, never a mix; on any
 * error no temp file is left behind.  0, NHI_ERR_INVAL, NHI_ERR_IO,
 * NHI_ERR_PERM, NHI_ERR_EXISTS; 'err' names the file. */
int nhi_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		     uid_t uid, gid_t gid, int flags, char *err, size_t errlen);

/* Is directory 'dir' one that only root (or the effective uid) can change,
 * and so is every directory above it, as NHI_WRITE_SAFE_DIR requires
 * (walked from '/' without following links others could plant)?  0, or
 * NHI_ERR_PERM / NHI_ERR_IO / NHI_ERR_INVAL with err ("NAME: directory D
 * belongs to uid N, ..."; NAME is 'dir' when NULL).  A part of 'dir' that
 * does not exist yet ends the walk with 0: the directories above it were
 * checked, and what the caller makes there is its own. */
int nhi_dir_check(const char *dir, const char *name, char *err, size_t errlen);

#endif

/* nhi_err.h - error codes shared by every part of nhi.
 *
 * Library functions return 0 on success or one of the negative codes below;
 * they never call exit() and never print.  Where more detail is useful the
 * caller passes an error buffer (char *err, size_t errlen) that receives one
 * line naming what and where (e.g. "/etc/nhi/nhi.conf:12: unknown key 'foo'").
 */
#ifndef NHI_ERR_H
#define NHI_ERR_H

#include <stddef.h>

enum {
	NHI_OK = 0,
	NHI_ERR_NOMEM = -1,    /* out of memory */
	NHI_ERR_INVAL = -2,    /* bad argument or input */
	NHI_ERR_IO = -3,       /* system call failed (errno is kept) */
	NHI_ERR_NOTFOUND = -4, /* no such entry */
	NHI_ERR_RANGE = -5,    /* caller's buffer too small */
	NHI_ERR_FORMAT = -6,   /* corrupt file or answer */
	NHI_ERR_VERSION = -7,  /* unsupported format version */
	NHI_ERR_PERM = -8,     /* file not trusted (owner/mode) or not permitted */
	NHI_ERR_EXISTS = -9,   /* already exists */
	NHI_ERR_DB = -10,      /* registry database error */
	NHI_ERR_STATE = -11,   /* operation not valid in the current state */
	NHI_ERR_BUSY = -12,    /* locked by someone else */
	NHI_ERR_CONFLICT = -13, /* changed by someone else meanwhile (compare-and-swap) */
};

/* A static English description of an error code. */
const char *nhi_strerror(int err);

/* printf into an error buffer; err may be NULL.  Always returns 'code'. */
int nhi_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* snprintf(3), void; buf may be NULL.  (The library formats through this
 * and nhi_seterr, both on vsnprintf: each libc symbol libnss_nhi.so.2
 * imports costs every process that loads it a binding.) */
void nhi_format(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif

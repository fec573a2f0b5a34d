/* nhi_err.c - error codes and the error buffer. */
#include <stdarg.h>
#include <stdio.h>
#include "nhi_err.h"

const char *nhi_strerror(int err)
{
	switch (err) {
	case NHI_OK: return "success";
	case NHI_ERR_NOMEM: return "out of memory";
	case NHI_ERR_INVAL: return "invalid argument";
	case NHI_ERR_IO: return "input/output error";
	case NHI_ERR_NOTFOUND: return "not found";
	case NHI_ERR_RANGE: return "buffer too small";
	case NHI_ERR_FORMAT: return "corrupt data";
	case NHI_ERR_VERSION: return "unsupported version";
	case NHI_ERR_PERM: return "not trusted or not permitted";
	case NHI_ERR_EXISTS: return "already exists";
	case NHI_ERR_DB: return "registry database error";
	case NHI_ERR_STATE: return "not allowed in the current state";
	case NHI_ERR_BUSY: return "busy";
	case NHI_ERR_CONFLICT: return "changed meanwhile";
	}
	return "unknown error";
}

int nhi_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

void nhi_format(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf != NULL && len > 0) {
		va_start(ap, fmt);
		vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
}

/* lib/nhi_testhook.c - the crash points of lib/nhi_testhook.h; linked
 * only into the test build of nhictl (tests/nhictl-faulty). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "nhi_testhook.h"

static long crash_count;

void nhi_crash_point(const char *step, const char *detail)
{
	const char *at = secure_getenv("NHI_TEST_CRASH_AT");
	const char *log = secure_getenv("NHI_TEST_CRASH_LOG");
	int saved = errno, fd;
	long n = ++crash_count;

	if (log != NULL && *log != '\0') {
		fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			dprintf(fd, "%ld %s %s\n", n, step, detail != NULL ? detail : "");
			close(fd);
		}
	}
	if (at != NULL && strtol(at, NULL, 10) == n) {
		fflush(NULL);
		raise(SIGKILL);   /* as sudden as a power cut: no cleanup */
	}
	errno = saved;
}

/* proc.c - processes on this host (/proc), and the test build's fault
 * hook (util.h). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util.h"

#ifdef NHI_TEST_HOOKS
int fault(const char *point)
{
	const char *f = secure_getenv("NHI_TEST_FAULT");

	if (f == NULL || strcmp(f, point) != 0)
		return 0;
	if (strstr(point, "-crash") != NULL) {
		fflush(NULL);
		raise(SIGKILL);   /* as sudden as a power cut: no cleanup */
	}
	if (strstr(point, "-pause") != NULL) {
		/* NHI_TEST_FAULT_GATE=PATH: PATH.reached made, then wait for
		 * PATH.go (at most 120 s), so a test acts while this process
		 * stands here however loaded the machine; else 4 s */
		const char *gate = secure_getenv("NHI_TEST_FAULT_GATE");
		char p[4096];
		int i, fd;

		if (gate == NULL || snprintf(p, sizeof(p), "%s.reached", gate) >= (int)sizeof(p)) {
			sleep(4);
			return 0;
		}
		fflush(NULL);
		if ((fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0)
			close(fd);
		snprintf(p, sizeof(p), "%s.go", gate);
		for (i = 0; i < 2400 && access(p, F_OK) != 0; i++)
			usleep(50000);
		return 0;
	}
	if (strstr(point, "-exec") != NULL) {
		/* another writer, at this very point: NHI_TEST_FAULT_EXEC */
		const char *cmd = secure_getenv("NHI_TEST_FAULT_EXEC");

		fflush(NULL);
		if (cmd != NULL && system(cmd) != 0)
			fprintf(stderr, "NHI_TEST_FAULT_EXEC failed: %s\n", cmd);
		return 0;
	}
	return 1;   /* a simulated failure */
}
#endif

/* Does the journaled process still run?  pid and its start time (field 22
 * of /proc/PID/stat), so a reused pid is not mistaken for it. */
int proc_stat(pid_t pid, char *comm, size_t clen, char *state, char *start, size_t slen)
{
	char path[64], buf[1024], *p, *open_paren;
	ssize_t n;
	int fd, i;

	start[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	open_paren = strchr(buf, '(');
	p = strrchr(buf, ')');   /* the command name may hold spaces */
	if (p == NULL || open_paren == NULL || p < open_paren || p[1] != ' ')
		return -1;
	if (comm != NULL)
		snprintf(comm, clen, "%.*s", (int)(p - open_paren - 1), open_paren + 1);
	if (state != NULL)
		*state = p[2];
	/* after ") " come fields 3.. ; the start time is field 22 */
	for (i = 3; i < 22 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return -1;
	p++;
	snprintf(start, slen, "%.*s", (int)strcspn(p, " "), p);
	return 0;
}

int proc_start_time(pid_t pid, char *out, size_t len)
{
	return proc_stat(pid, NULL, 0, NULL, out, len);
}

int proc_alive(int64_t pid, const char *start)
{
	char now[32];

	if (pid <= 0 || proc_start_time((pid_t)pid, now, sizeof(now)) < 0)
		return 0;
	return strcmp(now, start) == 0;
}

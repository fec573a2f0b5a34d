/* reach.h - what an identity has left running on this host (reach.c):
 * processes, crontab, systemd units, files; for suspend and retire. */
#ifndef NHICTL_REACH_H
#define NHICTL_REACH_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include "nhictl.h"

enum { REACH_RUNNING = 0, REACH_SIGNALLED, REACH_TERMINATED, REACH_KILLED, REACH_SURVIVED };

struct reach_proc {
	pid_t pid;
	char comm[32], start[32];   /* start: field 22 of /proc/PID/stat */
	uint32_t ruid, euid;
	int outcome, signal, err;
};

struct reach_unit {
	char path[PATH_MAX];
	int line;
	char setting[96];
};

struct reach_file {
	char path[PATH_MAX];     /* "" = not looked at */
	int exists, dir;
	uint32_t uid;
};

struct reach {
	uint32_t uid;
	int terminate, files, survivors;
	struct reach_proc *procs;
	size_t n_procs, cap_procs;
	char crontab[PATH_MAX];  /* "" = none */
	int crontab_entries;
	struct reach_unit *units;
	size_t n_units, cap_units;
	int units_truncated;
	struct reach_file home, mail;
};

/* Scan (and with do_terminate stop the processes of) identity 'id';
 * 'files' adds the files it leaves (retire).  0 or NHI_ERR_* (printed).
 * r->survivors counts processes still there after SIGKILL. */
int reach_scan(struct nhictl *x, const struct ident *id, int do_terminate, int files,
	       struct reach *r);
void reach_free(struct reach *r);
/* Indented lines after the verb's own line. */
void reach_text(const struct reach *r, const char *name);
/* The keys "processes", "crontab", "units" (and "files") of an open object. */
void reach_json(struct json *j, const struct reach *r);

/* Shared with discover (discover.c) */
/* comm, real and effective uid of a live process (not a zombie): 0 or -1 */
int reach_proc_info(pid_t pid, char *comm, size_t clen, uint32_t *ruid, uint32_t *euid);
/* The value of "KEY=value" (blanks around '=' allowed) in a unit file's
 * line, leading blanks skipped; NULL when the line sets another key. */
const char *reach_setting(const char *line, const char *key);
/* The systemd unit directories under root that exist, each once (merged
 * /usr: /lib is /usr/lib); their count. */
#define REACH_N_UNIT_DIRS 4
size_t reach_unit_dirs(const char *root, char out[][PATH_MAX], size_t max);

#endif

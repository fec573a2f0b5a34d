/* util.h - the bottom layer of nhictl: the one-line message (util.c),
 * JSON (json.c), the host (home.c: homes; proc.c: processes; reach.c has
 * its own header), the test build's fault hook, and the records every
 * layer passes (model.h).  Nothing here knows a verb, a backend, the
 * registry or the directory.
 */
#ifndef NHICTL_UTIL_H
#define NHICTL_UTIL_H

#include <sys/types.h>
#include "nhictl.h"
#include "nhi_testhook.h"
#include "model.h"

/* ---- util.c: the one-line message ----------------------------------- */

/* "nhictl: VERB: message" on stderr; returns 'code'. */
int nerr(struct nhictl *x, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* ---- json.c -------------------------------------------------------- */

struct json {
	FILE *f;
	int depth;
	unsigned char first[32];   /* no element yet at this depth */
	int after_key;
};
void json_init(struct json *j, FILE *f);
void json_obj(struct json *j);
void json_obj_end(struct json *j);
void json_arr(struct json *j);
void json_arr_end(struct json *j);
void json_key(struct json *j, const char *k);
void json_str(struct json *j, const char *s);   /* NULL = null */
void json_int(struct json *j, long long v);
void json_bool(struct json *j, int v);
void json_num(struct json *j, double v);         /* %.3f */
void json_null(struct json *j);
void json_time(struct json *j, int64_t t);      /* 0 = null */
void json_kstr(struct json *j, const char *k, const char *s);
void json_kint(struct json *j, const char *k, long long v);
void json_kbool(struct json *j, const char *k, int v);
void json_ktime(struct json *j, const char *k, int64_t t);
/* A comma-separated list as an array of strings. */
void json_klist(struct json *j, const char *k, const char *csv);
void json_end(struct json *j);                  /* newline after the top value */
/* Labels "k=v,k=v" as an object {"k": "v"} (labels.c). */
void json_klabels(struct json *j, const char *k, const char *labels);

/* ---- home.c: the local system at create and adopt ------------------- */

/* Warnings on stderr: a uid in login.defs' human range (UID_MIN..UID_MAX),
 * a shell that does not exist or is not executable (NULL: not checked). */
void ident_warnings(struct nhictl *x, const char *name, uint32_t uid, const char *shell);
/* login.defs' range of human accounts, UID_MIN..UID_MAX (shadow's
 * defaults 1000..60000 without the file or the keys). */
void login_defs_humans(unsigned long *uid_min, unsigned long *uid_max);
/* create --create-home: 0 when 'home' may be made (*exists = 0) or is a
 * directory of uid already (*exists = 1, left as it is); else NHI_ERR_*
 * (printed). */
int home_check(struct nhictl *x, const char *home, uint32_t uid, int *exists);
/* Make 'home' like useradd -m: /etc/skel copied, owned by uid:gid, mode
 * HOME_MODE of login.defs or 0750.  0 or NHI_ERR_IO (printed, nothing
 * left behind). */
int home_make(struct nhictl *x, const char *home, uint32_t uid, uint32_t gid);
/* Remove a home home_make made (the registry change failed after it). */
void home_unmake(const char *home);

/* ---- proc.c: processes, and the test build's fault hook ------------- */

/* Test-only fault injection, in the test build only (NHI_TEST_HOOKS,
 * lib/nhi_testhook.h): when secure_getenv("NHI_TEST_FAULT") names 'point',
 * act (kill the process: "-crash"; sleep 4 s: "-pause"; run the shell
 * command NHI_TEST_FAULT_EXEC, another writer at that point: "-exec"; else
 * return 1 for a simulated failure).  Elsewhere
 * never a fault, and no trace of the hook in the binary. */
#ifdef NHI_TEST_HOOKS
int fault(const char *point);
#else
static inline int no_fault(void) { return 0; }
#define fault(point) no_fault()
#endif
/* The start time of a process (field 22 of /proc/PID/stat), to tell a
 * live pid from a reused one.  0 or -1. */
int proc_start_time(pid_t pid, char *out, size_t len);
/* 1 when pid is a live process started at 'start' (proc_start_time), so
 * not one that reused the pid; else 0. */
int proc_alive(int64_t pid, const char *start);
/* The same with the command name (comm, NULL = not wanted) and the
 * state letter (state, NULL = not wanted). */
int proc_stat(pid_t pid, char *comm, size_t clen, char *state, char *start, size_t slen);

#endif

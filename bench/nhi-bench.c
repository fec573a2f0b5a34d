/* nhi-bench - how fast is a user lookup through libnss_nhi.so.2?
 *
 * For each size (default 1k, 10k, 100k accounts svc-000000.. with uids
 * from 2,000,000) it publishes a snapshot with lib's writer and writes the
 * same accounts as a passwd file, then measures nanoseconds per lookup by
 * name and by uid (random accounts, every answer checked, the median of
 * -r rounds; the first four modes take turns within each round, so that
 * load from other programs on a shared machine hits them alike) for:
 *   bare       a bare open-addressing hash in an mmap'd file (same hash
 *              functions, fixed-size records), lookup only: the limit
 *   bare+copy  the same, copying the answer into struct passwd and the
 *              caller's buffer as any NSS module must
 *   bare+full  the same with records that hold every passwd field (name,
 *              gecos, home, shell, uid: about the bytes of a snapshot's
 *              hot record; the bare records store no gecos or shell):
 *              a reference for what the data alone costs as it grows
 *   entry      _nss_nhi_getpwnam_r/_getpwuid_r called directly (dlopen)
 *   glibc-nhi  getpwnam_r/getpwuid_r with passwd: nhi (__nss_configure_lookup;
 *              glibc then skips its per-call check of /etc/nsswitch.conf)
 *   nsswitch-nhi getpwnam_r/getpwuid_r with a real /etc/nsswitch.conf saying
 *              "passwd: nhi" (what every process pays)
 *   glibc-files getpwnam_r/getpwuid_r with "passwd: files" and the generated
 *              passwd file over /etc/passwd
 *   entry-sss, nsswitch-sss  the same as entry and nsswitch-nhi for SSSD's
 *              memory cache (libnss_sss.so.2): only with -m, under a running
 *              sssd that serves the same accounts (bench/sssd.sh)
 * The last two run in a child process in a private mount namespace, with
 * the test files bind-mounted over /etc/nsswitch.conf and /etc/passwd
 * (root only; the host sees nothing).
 *
 *   nhi-bench [-n SIZES] [-r ROUNDS] [-t SECONDS] [-d DIR] [-m MODES]
 *             (MODES: the names above, comma-separated; default all)
 *   nhi-bench -G -n SIZE -d DIR   (only write DIR/nhi.cache, DIR/nhi.conf,
 *             DIR/passwd and DIR/group with SIZE accounts, for bench/run.sh)
 *   nhi-bench -c MODE -n SIZE -k COUNT -d DIR   (COUNT lookups by name of
 *             one mode and nothing else, on the files -G wrote: run it
 *             under callgrind with COUNT and with 0 to count instructions
 *             per lookup)
 *   nhi-bench -F MODE -n SIZE [-k 0]   (the first lookup of this fresh
 *             process, by name, in ns: MODE entry or entry-sss loads the
 *             module, then times its entry point's first call; nsswitch
 *             times the first getpwnam_r;
 *             -k 0 looks nothing up, callgrind's baseline. -c ... -u counts
 *             lookups by uid instead of by name)
 *   nhi-bench -S   (print the snapshot path built into nss_nhi: where the
 *             module looks for the settings a base records, and so where
 *             nhictl's publications save it reading nhi.conf)
 *   -C PATH   (with any of them) the cache_path DIR/nhi.conf names and the
 *             base records; the snapshot is still written to DIR/nhi.cache:
 *             bench/sssd.sh binds it to PATH in its private namespace
 *   nhi-bench -O [-n SIZES] [-r ROUNDS] [-t SECONDS] [-d DIR]   (what one
 *             pam_nhi account check costs in the snapshot: open it, look a
 *             random identity up by name with nhi_snap_ident_by_name, close
 *             it; microseconds for each way of checking the data, as a
 *             markdown table)
 *   nhi-bench -P [-n SIZES] [-r ROUNDS] [-t SECONDS] [-d DIR]   (a pam_nhi
 *             account decision with PAM_RUSER along a delegation against
 *             one without: the snapshot also holds 10 agents svc-000000..9
 *             delegated to 100 tools svc-000010..109, 1,000 edges; each
 *             check opens the snapshot as pam_nhi does, decides with
 *             nhi_account_check (plain) or nhi_account_check_ruser (agent
 *             -> tool, a live edge) and closes it; also the decision alone
 *             on an open snapshot; a markdown table)
 *   nhi-bench -P -Q plain|deleg -n SIZE -k COUNT [-d DIR]   (publish that
 *             snapshot, then COUNT decisions of one kind and nothing else:
 *             run it under callgrind with COUNT and with 0 to count
 *             instructions per decision)
 *
 * libnss_nhi.so.2 is found through LD_LIBRARY_PATH (bench/run.sh sets it).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <sched.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "nhi_conf.h"
#include "nhi_hash.h"
#include "nhi_policy.h"
#include "nhi_snapshot.h"

#define FIRST_UID 2000000u
#define NQ 8192

enum { M_BARE, M_BARECOPY, M_BAREFULL, M_ENTRY, M_GLIBC_NHI, M_NSW_NHI, M_GLIBC_FILES,
       M_SSS_ENTRY, M_NSW_SSS, N_MODES };
/* the modes measured in this process (the others in a child) */
#define IN_PROCESS ((1 << M_BARE) | (1 << M_BARECOPY) | (1 << M_BAREFULL) | (1 << M_ENTRY) | \
		    (1 << M_GLIBC_NHI) | (1 << M_SSS_ENTRY))
/* SSSD's modes need a running sssd (bench/sssd.sh): only when asked for */
#define SSS_MODES ((1 << M_SSS_ENTRY) | (1 << M_NSW_SSS))
static const char *mode_names[N_MODES] = { "bare", "bare+copy", "bare+full", "entry",
					   "glibc-nhi", "nsswitch-nhi", "glibc-files",
					   "entry-sss", "nsswitch-sss" };
static const char *mode_titles[N_MODES] = {
	"bare mmap hash, lookup only (the limit)",
	"bare mmap hash + copy into struct passwd",
	"the same, records with every passwd field (reference: the snapshot's data)",
	"nss_nhi entry point, called directly",
	"getpwnam_r/getpwuid_r, glibc -> nss_nhi (__nss_configure_lookup)",
	"getpwnam_r/getpwuid_r, glibc -> nss_nhi (nsswitch.conf `passwd: nhi`)",
	"getpwnam_r/getpwuid_r, glibc -> nss_files (nsswitch.conf `passwd: files`)",
	"SSSD memcache entry point (libnss_sss), called directly",
	"getpwnam_r/getpwuid_r, glibc -> nss_sss (nsswitch.conf `passwd: sss`)",
};

typedef enum nss_status (*pwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*pwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);
static pwnam_fn e_pwnam, s_pwnam;
static pwuid_fn e_pwuid, s_pwuid;

static char dir[256] = "/tmp/nhi-bench";
static char cache[512];
static char conf_cache[512];    /* the cache_path nhi.conf names (-C; else cache) */
static int rounds = 5;
static double round_secs = 0.15;

/* ---- the accounts ------------------------------------------------------- */

struct acct {
	char name[16];
	char home[24];
	uint32_t uid;
};
static struct acct *accts;
static size_t n_accts;
static const char *const gecos = "generated service";
static const char *const shell = "/bin/sh";
/* bare+full's records: every string a passwd answer has, in the order of
 * a snapshot's hot record */
struct acct_full {
	char name[16];
	char gecos[24];
	char home[24];
	char shell[16];
	uint32_t uid;
};

static void make_accounts(size_t n)
{
	free(accts);
	accts = calloc(n, sizeof(*accts));
	if (accts == NULL)
		exit(1);
	n_accts = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(accts[i].name, sizeof(accts[i].name), "svc-%06u", (unsigned)i);
		snprintf(accts[i].home, sizeof(accts[i].home), "/srv/%s", accts[i].name);
		accts[i].uid = FIRST_UID + (uint32_t)i;
	}
}

static size_t n_delta;                  /* -D: accounts also in a delta */
static int with_delegs;                 /* -P: the fleet's delegation edges */
#define N_AGENTS 10                     /* svc-000000..9 */
#define N_TOOLS 100                     /* svc-000010..109 */

/* As nhictl publishes: the base records the settings nss_nhi takes from
 * the nhi.conf it reads (NHI_CONF, written by write_conf) and that file's
 * identity, so that the module's first lookup finds them in the snapshot
 * instead of reading the file.  0, or -1 (the file cannot be read). */
static int record_settings(struct nhi_snap_writer *w)
{
	static struct nhi_conf m;
	const char *path = nhi_conf_default_path();
	struct nhi_snap_settings st;
	struct stat sb;

	if (stat(path, &sb) != 0 || nhi_conf_load_module(&m, path) < 0 || m.cache_path[0] == '\0')
		return -1;
	nhi_snap_settings_of(&st, path, &sb, &m);
	return nhi_snapw_set_settings(w, &st) < 0 ? -1 : 0;
}

/* The snapshot of every account (a base), or with delta the delta over
 * it that nhictl would publish after n_delta of them changed: every
 * (n_accts / n_delta)-th account, with the same data, so every answer is
 * still checked against accts. */
static int publish_one(const char *path, uint64_t gen, int delta)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	size_t step = delta && n_delta ? (n_accts + n_delta - 1) / n_delta : 1;
	time_t now = time(NULL);
	char err[256];
	int r;

	if (w == NULL)
		return -1;
	if (delta)
		nhi_snapw_set_delta(w, gen - 1);
	else if (record_settings(w) < 0)
		fprintf(stderr, "nhi-bench: the base records no settings (the module will read nhi.conf)\n");
	for (size_t i = 0; i < n_accts; i += step) {
		struct nhi_ident id;
		memset(&id, 0, sizeof(id));
		id.name = accts[i].name;
		id.uid = id.gid = accts[i].uid;
		id.gecos = gecos;
		id.home = accts[i].home;
		id.shell = shell;
		id.owner = "alice";
		id.purpose = "benchmark";
		id.created = now;
		id.expires = now + 365 * 86400;
		if (nhi_snapw_add_ident(w, &id) < 0)
			return -1;
	}
	/* every agent to every tool */
	for (size_t a = 0; !delta && with_delegs && a < N_AGENTS; a++)
		for (size_t t = N_AGENTS; t < N_AGENTS + N_TOOLS && t < n_accts; t++)
			if (nhi_snapw_add_delegation(w, accts[a].uid, accts[t].uid, now + 86400) < 0)
				return -1;
	r = nhi_snapw_publish(w, path, gen, now, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "nhi-bench: %s\n", err);
	nhi_snapw_free(w);
	return r;
}

static int publish(const char *path, uint64_t gen)
{
	char dpath[PATH_MAX];

	if (publish_one(path, gen, 0) < 0)
		return -1;
	if (n_delta == 0)
		return 0;
	snprintf(dpath, sizeof(dpath), "%s%s", path, NHI_SNAP_DELTA_SUFFIX);
	return publish_one(dpath, gen + 1, 1);
}

static int write_files(const char *passwd, const char *group)
{
	FILE *p = fopen(passwd, "w"), *g = fopen(group, "w");

	if (p == NULL || g == NULL)
		return -1;
	/* root first, as on a real system */
	fprintf(p, "root:x:0:0:root:/root:/bin/bash\n");
	fprintf(g, "root:x:0:\n");
	for (size_t i = 0; i < n_accts; i++) {
		fprintf(p, "%s:x:%u:%u:%s:%s:%s\n", accts[i].name, accts[i].uid, accts[i].uid,
			gecos, accts[i].home, shell);
		fprintf(g, "%s:x:%u:\n", accts[i].name, accts[i].uid);
	}
	return (fclose(p) | fclose(g)) == 0 ? 0 : -1;
}

/* ---- the bare hash -------------------------------------------------------- */

/* Like the limit in PERFORMANCE.md, the bare hash is a file mapped with
 * mmap (as the snapshot is), not heap memory: two tables of uint32_t
 * buckets (record index + 1) followed by fixed-size records.  Two of
 * them: bare (struct acct) and bare+full (struct acct_full). */
struct bare {
	const uint32_t *name, *uid;        /* the two bucket tables */
	const void *recs;
	uint32_t size;
	void *map;
	size_t len;
};
static struct bare bare_lean, bare_full;

static void bare_build_one(struct bare *t, const char *file, const void *recs, size_t rsize)
{
	uint32_t *idx_name, *idx_uid;
	char path[600];
	size_t len;
	int fd;

	if (t->map != NULL)
		munmap(t->map, t->len);
	t->size = 8;
	while (t->size < 2 * n_accts)
		t->size *= 2;
	len = 2 * (size_t)t->size * sizeof(uint32_t) + n_accts * rsize;
	idx_name = calloc(t->size, sizeof(uint32_t));
	idx_uid = calloc(t->size, sizeof(uint32_t));
	if (idx_name == NULL || idx_uid == NULL)
		exit(1);
	for (uint32_t i = 0; i < n_accts; i++) {
		uint32_t p = (uint32_t)nhi_hash_str(accts[i].name) & (t->size - 1);
		while (idx_name[p])
			p = (p + 1) & (t->size - 1);
		idx_name[p] = i + 1;
		p = (uint32_t)nhi_hash_u32(accts[i].uid) & (t->size - 1);
		while (idx_uid[p])
			p = (p + 1) & (t->size - 1);
		idx_uid[p] = i + 1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, idx_name, t->size * sizeof(uint32_t)) < 0 ||
	    write(fd, idx_uid, t->size * sizeof(uint32_t)) < 0 ||
	    write(fd, recs, n_accts * rsize) < 0) {
		perror("nhi-bench: bare hash");
		exit(1);
	}
	t->map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (t->map == MAP_FAILED)
		exit(1);
	t->len = len;
	t->name = t->map;
	t->uid = t->name + t->size;
	t->recs = t->uid + t->size;
	free(idx_name);
	free(idx_uid);
}

static void bare_build(void)
{
	struct acct_full *full = calloc(n_accts, sizeof(*full));

	if (full == NULL)
		exit(1);
	for (size_t i = 0; i < n_accts; i++) {
		memcpy(full[i].name, accts[i].name, sizeof(full[i].name));
		snprintf(full[i].gecos, sizeof(full[i].gecos), "%s", gecos);
		memcpy(full[i].home, accts[i].home, sizeof(full[i].home));
		snprintf(full[i].shell, sizeof(full[i].shell), "%s", shell);
		full[i].uid = accts[i].uid;
	}
	bare_build_one(&bare_lean, "bare.hash", accts, sizeof(*accts));
	bare_build_one(&bare_full, "bare-full.hash", full, sizeof(*full));
	free(full);
}

/* The lookups of one table and record type (inline, as a hand-written
 * lookup would be). */
#define BARE_LOOKUPS(fn, type, t)                                                       \
	static const type *fn##_by_name(const char *name)                               \
	{                                                                               \
		const type *recs = (t).recs;                                            \
		uint32_t p = (uint32_t)nhi_hash_str(name) & ((t).size - 1), v;          \
		while ((v = (t).name[p]) != 0) {                                        \
			if (strcmp(recs[v - 1].name, name) == 0)                        \
				return &recs[v - 1];                                    \
			p = (p + 1) & ((t).size - 1);                                   \
		}                                                                       \
		return NULL;                                                            \
	}                                                                               \
	static const type *fn##_by_uid(uint32_t uid)                                    \
	{                                                                               \
		const type *recs = (t).recs;                                            \
		uint32_t p = (uint32_t)nhi_hash_u32(uid) & ((t).size - 1), v;           \
		while ((v = (t).uid[p]) != 0) {                                         \
			if (recs[v - 1].uid == uid)                                     \
				return &recs[v - 1];                                    \
			p = (p + 1) & ((t).size - 1);                                   \
		}                                                                       \
		return NULL;                                                            \
	}
BARE_LOOKUPS(bare, struct acct, bare_lean)
BARE_LOOKUPS(full, struct acct_full, bare_full)

static char *put(char **b, const char *s)
{
	size_t n = strlen(s) + 1;
	char *r = memcpy(*b, s, n);
	*b += n;
	return r;
}

static int bare_fill(const struct acct *a, struct passwd *pw, char *buf)
{
	if (a == NULL)
		return -1;
	pw->pw_name = put(&buf, a->name);
	pw->pw_passwd = put(&buf, "x");
	pw->pw_gecos = put(&buf, gecos);
	pw->pw_dir = put(&buf, a->home);
	pw->pw_shell = put(&buf, shell);
	pw->pw_uid = pw->pw_gid = a->uid;
	return 0;
}

static int full_fill(const struct acct_full *a, struct passwd *pw, char *buf)
{
	if (a == NULL)
		return -1;
	pw->pw_name = put(&buf, a->name);
	pw->pw_passwd = put(&buf, "x");
	pw->pw_gecos = put(&buf, a->gecos);
	pw->pw_dir = put(&buf, a->home);
	pw->pw_shell = put(&buf, a->shell);
	pw->pw_uid = pw->pw_gid = a->uid;
	return 0;
}

/* ---- measuring ------------------------------------------------------------- */

static uint32_t q[NQ];             /* random account indexes */
static long wrong;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* k lookups of one mode, by name (byuid = 0) or uid; answers checked. */
static void run(int mode, int byuid, long k)
{
	struct passwd pw, *res;
	char buf[1024];
	int err;

	for (long j = 0; j < k; j++) {
		const struct acct *want = &accts[q[j & (NQ - 1)]];
		uint32_t got = 0;

		switch (mode) {
		case M_BARE: {
			const struct acct *a = byuid ? bare_by_uid(want->uid) : bare_by_name(want->name);
			got = a ? a->uid : 0;
			__asm__ volatile("" : : "r"(a) : "memory");
			break;
		}
		case M_BARECOPY:
			if (bare_fill(byuid ? bare_by_uid(want->uid) : bare_by_name(want->name), &pw, buf) == 0)
				got = pw.pw_uid;
			break;
		case M_BAREFULL:
			if (full_fill(byuid ? full_by_uid(want->uid) : full_by_name(want->name), &pw, buf) == 0)
				got = pw.pw_uid;
			break;
		case M_ENTRY:
			if ((byuid ? e_pwuid(want->uid, &pw, buf, sizeof(buf), &err)
				   : e_pwnam(want->name, &pw, buf, sizeof(buf), &err)) == NSS_STATUS_SUCCESS)
				got = pw.pw_uid;
			break;
		case M_SSS_ENTRY:
			if ((byuid ? s_pwuid(want->uid, &pw, buf, sizeof(buf), &err)
				   : s_pwnam(want->name, &pw, buf, sizeof(buf), &err)) == NSS_STATUS_SUCCESS)
				got = pw.pw_uid;
			break;
		default:
			res = NULL;
			if (byuid)
				getpwuid_r(want->uid, &pw, buf, sizeof(buf), &res);
			else
				getpwnam_r(want->name, &pw, buf, sizeof(buf), &res);
			if (res != NULL)
				got = pw.pw_uid;
			break;
		}
		if (got != want->uid || (mode != M_BARE && byuid && strcmp(pw.pw_name, want->name) != 0))
			wrong++;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Lookups of one mode that take about round_secs. */
static long calibrate(int mode, int byuid)
{
	double t0, est;
	long k = 16;

	/* grow k until a run takes 20 ms */
	for (;;) {
		t0 = now_ns();
		run(mode, byuid, k);
		est = (now_ns() - t0) / (double)k;
		if (now_ns() - t0 > 20e6 || k > 50000000)
			break;
		k *= 4;
	}
	k = (long)(round_secs * 1e9 / est);
	return k < 8 ? 8 : k;
}

static double median(double *r, int n)
{
	qsort(r, (size_t)n, sizeof(double), cmp_double);
	return r[n / 2];
}

/* Median ns/lookup over 'rounds' rounds of about round_secs each. */
static double measure(int mode, int byuid)
{
	double t0, r[16];
	long k = calibrate(mode, byuid);

	for (int i = 0; i < rounds; i++) {
		t0 = now_ns();
		run(mode, byuid, k);
		r[i] = (now_ns() - t0) / (double)k;
	}
	return median(r, rounds);
}

/* The same for every in-process mode in 'modes', the modes taking turns
 * within each round, so that a burst of load on this shared machine hits
 * them all alike and their ratios stay fair. */
static double best[N_MODES][8][2];  /* the fastest round of each */

static void measure_interleaved(int modes, double res[N_MODES][8][2], int size)
{
	static double r[N_MODES][2][16];
	long k[N_MODES][2];

	for (int m = 0; m < N_MODES; m++)
		if (modes & (1 << m))
			for (int b = 0; b < 2; b++)
				k[m][b] = calibrate(m, b);
	for (int i = 0; i < rounds; i++)
		for (int m = 0; m < N_MODES; m++)
			for (int b = 0; b < 2 && (modes & (1 << m)); b++) {
				double t0 = now_ns();
				run(m, b, k[m][b]);
				r[m][b][i] = (now_ns() - t0) / (double)k[m][b];
			}
	for (int m = 0; m < N_MODES; m++)
		if (modes & (1 << m))
			for (int b = 0; b < 2; b++) {
				res[m][size][b] = median(r[m][b], rounds);
				best[m][size][b] = r[m][b][0];  /* sorted by median() */
			}
}

/* ---- -O: a PAM call's snapshot open ------------------------------------------ */

/* Microseconds per open + one identity lookup + close with these flags
 * (median of 'rounds' rounds of about round_secs). */
static double open_cost(int flags)
{
	double r[16];
	char err[256];

	for (int i = 0; i < rounds; i++) {
		double t0 = now_ns(), t;
		long k = 0;

		do {
			struct nhi_snap *s;
			struct nhi_ident id;
			const struct acct *want = &accts[(size_t)rand() % n_accts];

			if (nhi_snap_open(cache, flags, &s, err, sizeof(err)) < 0) {
				fprintf(stderr, "nhi-bench: %s\n", err);
				exit(1);
			}
			if (nhi_snap_ident_by_name(s, want->name, &id) != 0 || id.uid != want->uid)
				wrong++;
			nhi_snap_close(s);
			k++;
			t = now_ns() - t0;
		} while (t < round_secs * 1e9);
		r[i] = t / (double)k / 1000;
	}
	return median(r, rounds);
}

static int open_table(const size_t *sizes, int n_sizes)
{
	static const struct { int flags; const char *title; } ways[] = {
		{ NHI_SNAP_TRUST, "no data checksum (what nss_nhi does)" },
		{ NHI_SNAP_TRUST | NHI_SNAP_VERIFY_READ,
		  "`NHI_SNAP_VERIFY_READ`: the blocks the lookup reads (pam_nhi)" },
		{ NHI_SNAP_TRUST | NHI_SNAP_VERIFY, "`NHI_SNAP_VERIFY`: the whole data (pam_nhi before)" },
	};
	double res[3][8];
	struct stat st;
	size_t bytes[8];

	for (int z = 0; z < n_sizes; z++) {
		make_accounts(sizes[z]);
		if (publish(cache, (uint64_t)z + 1) < 0 || stat(cache, &st) < 0)
			return 1;
		bytes[z] = (size_t)st.st_size;
		for (int w = 0; w < 3; w++) {
			res[w][z] = open_cost(ways[w].flags);
			fprintf(stderr, "# %zu accounts: %-60s %8.1f us\n", sizes[z], ways[w].title,
				res[w][z]);
		}
	}
	if (wrong != 0) {
		fprintf(stderr, "nhi-bench: %ld wrong answers\n", wrong);
		return 1;
	}
	printf("| snapshot open + one lookup + close (µs) |");
	for (int z = 0; z < n_sizes; z++)
		printf(" %zuk accounts (%.1f MB) |", sizes[z] / 1000, (double)bytes[z] / 1e6);
	printf("\n| --- |");
	for (int z = 0; z < n_sizes; z++)
		printf(" --- |");
	printf("\n");
	for (int w = 0; w < 3; w++) {
		printf("| %s |", ways[w].title);
		for (int z = 0; z < n_sizes; z++)
			printf(" %.1f µs |", res[w][z]);
		printf("\n");
	}
	return 0;
}

/* ---- -P: the PAM_RUSER delegation check -------------------------------- */

static struct nhi_conf pconf;

/* One decision as pam_nhi's account phase makes it: open the snapshot
 * (opened: use s instead), decide for a random tool, with a random agent
 * as PAM_RUSER when deleg, close; wrong++ unless allowed. */
static void pam_decision(struct nhi_snap *s, int deleg, time_t now)
{
	const struct acct *tool = &accts[N_AGENTS + (size_t)rand() % N_TOOLS];
	const struct acct *agent = &accts[(size_t)rand() % N_AGENTS];
	struct nhi_snap *mine = NULL;
	struct nhi_decision d;
	char err[256];

	if (s == NULL) {
		if (nhi_snap_open(cache, NHI_SNAP_TRUST | NHI_SNAP_VERIFY_READ, &mine, err,
				  sizeof(err)) < 0) {
			fprintf(stderr, "nhi-bench: %s\n", err);
			exit(1);
		}
		s = mine;
	}
	if (deleg)
		nhi_account_check_ruser(&pconf, s, tool->name, agent->name, NULL, "su", now, &d);
	else
		nhi_account_check(&pconf, s, tool->name, NULL, "su", now, &d);
	if (d.verdict != NHI_V_ALLOW || d.reason != NHI_R_OK)
		wrong++;
	nhi_snap_close(mine);
}

/* Microseconds per decision, plain ([0]) and with the delegation ([1]),
 * taking turns one by one (median of the rounds). */
static void pam_cost(struct nhi_snap *s, double out[2])
{
	double r[2][16];
	time_t now = time(NULL);

	for (int i = 0; i < rounds; i++) {
		double t[2] = { 0, 0 }, t0 = now_ns();
		long k = 0;

		do {
			for (int m = 0; m < 2; m++) {
				double a = now_ns();
				pam_decision(s, m, now);
				t[m] += now_ns() - a;
			}
			k++;
		} while (now_ns() - t0 < round_secs * 1e9);
		r[0][i] = t[0] / (double)k / 1000;
		r[1][i] = t[1] / (double)k / 1000;
	}
	out[0] = median(r[0], rounds);
	out[1] = median(r[1], rounds);
}

static int pam_table(const size_t *sizes, int n_sizes, int only, long count)
{
	double res[2][8][2];
	char err[256];

	nhi_conf_init(&pconf);
	pconf.host = "benchhost";
	pconf.service_uids_system = 0;
	if (nhi_conf_finish(&pconf, err, sizeof(err)) < 0) {
		fprintf(stderr, "nhi-bench: %s\n", err);
		return 1;
	}
	with_delegs = 1;
	if (only >= 0) {
		/* callgrind: COUNT decisions of one kind (the publication and the
		 * first decision are in the baseline of -k 0 too) */
		make_accounts(sizes[0] < N_AGENTS + N_TOOLS ? N_AGENTS + N_TOOLS : sizes[0]);
		if (publish(cache, 1) < 0)
			return 1;
		pam_decision(NULL, only, time(NULL));
		for (long i = 0; i < count; i++)
			pam_decision(NULL, only, time(NULL));
		return wrong != 0;
	}
	for (int z = 0; z < n_sizes; z++) {
		struct nhi_snap *s;

		make_accounts(sizes[z] < N_AGENTS + N_TOOLS ? N_AGENTS + N_TOOLS : sizes[z]);
		if (publish(cache, (uint64_t)z + 1) < 0)
			return 1;
		pam_cost(NULL, res[0][z]);
		if (nhi_snap_open(cache, NHI_SNAP_TRUST | NHI_SNAP_VERIFY_READ, &s, err, sizeof(err)) < 0)
			return 1;
		pam_cost(s, res[1][z]);
		nhi_snap_close(s);
		fprintf(stderr, "# %zu accounts: %.2f / %.2f us (open+check+close), %.3f / %.3f us "
			"(check)\n", n_accts, res[0][z][0], res[0][z][1], res[1][z][0], res[1][z][1]);
	}
	if (wrong != 0) {
		fprintf(stderr, "nhi-bench: %ld wrong answers\n", wrong);
		return 1;
	}
	printf("| pam_nhi account decision (µs), plain / with PAM_RUSER along a delegation (ratio) |");
	for (int z = 0; z < n_sizes; z++)
		printf(" %zuk accounts |", sizes[z] / 1000);
	printf("\n| --- |");
	for (int z = 0; z < n_sizes; z++)
		printf(" --- |");
	printf("\n");
	for (int w = 0; w < 2; w++) {
		printf("| %s |", w == 0 ? "snapshot open + decision + close (what a PAM call does)"
					: "the decision alone, snapshot open");
		for (int z = 0; z < n_sizes; z++)
			printf(" %.2f / %.2f µs (%.2fx) |", res[w][z][0], res[w][z][1],
			       res[w][z][1] / res[w][z][0]);
		printf("\n");
	}
	return 0;
}

/* A glibc mode in a child process, in a private mount namespace with
 * nsswitch.conf (and passwd, if given) bind-mounted over /etc. */
static int measure_child(int mode, const char *nsswitch, const char *passwd, double out[2])
{
	int fds[2], status;
	pid_t pid;

	if (geteuid() != 0 || pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char a_size[32], a_rounds[16], a_secs[32];
		close(fds[0]);
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount(nsswitch, "/etc/nsswitch.conf", NULL, MS_BIND, NULL) < 0 ||
		    (passwd != NULL && mount(passwd, "/etc/passwd", NULL, MS_BIND, NULL) < 0)) {
			perror("nhi-bench: private /etc");
			_exit(1);
		}
		/* a fresh process: glibc reads the bind-mounted nsswitch.conf */
		snprintf(a_size, sizeof(a_size), "%zu", n_accts);
		snprintf(a_rounds, sizeof(a_rounds), "%d", rounds);
		snprintf(a_secs, sizeof(a_secs), "%g", round_secs);
		if (dup2(fds[1], 1) < 0)
			_exit(1);
		execl("/proc/self/exe", "nhi-bench", "-x", mode_names[mode], "-n", a_size,
		      "-r", a_rounds, "-t", a_secs, "-d", dir, (char *)NULL);
		perror("nhi-bench: exec");
		_exit(1);
	}
	close(fds[1]);
	{
		char line[128];
		FILE *f = fdopen(fds[0], "r");
		out[0] = out[1] = -1;
		if (f == NULL || fgets(line, sizeof(line), f) == NULL ||
		    sscanf(line, "%lf %lf", &out[0], &out[1]) != 2)
			out[0] = out[1] = -1;
		if (f != NULL)
			fclose(f);
		else
			close(fds[0]);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return out[0] < 0 ? -1 : 0;
}

static int write_nsswitch(const char *path, const char *service)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "passwd: %s\ngroup: %s\nshadow: files\nhosts: files\n", service, service);
	return fclose(f);
}

static int write_conf(void)
{
	char path[600], want[1024], have[sizeof(want)];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/nhi.conf", dir);
	snprintf(want, sizeof(want), "cache_path = %s\nstate_dir = %s\n", conf_cache[0] ? conf_cache : cache, dir);
	setenv("NHI_CONF", path, 1);
	/* left alone when it already says so: the base records the file's
	 * identity (record_settings), which a rewrite would change */
	f = fopen(path, "r");
	if (f != NULL) {
		n = fread(have, 1, sizeof(have) - 1, f);
		fclose(f);
		if (n == strlen(want) && memcmp(have, want, n) == 0)
			return 0;
	}
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(want, f);
	if (fclose(f) != 0)
		return -1;
	chmod(path, 0644);
	return 0;
}

/* service "nhi" or "sss": dlopen libnss_SERVICE.so.2, find its entry points */
static int load_service(const char *service, pwnam_fn *nam, pwuid_fn *uid)
{
	char lib[64], sym[64];
	void *h;

	snprintf(lib, sizeof(lib), "libnss_%s.so.2", service);
	h = dlopen(lib, RTLD_NOW);
	if (h == NULL) {
		fprintf(stderr, "nhi-bench: %s (set LD_LIBRARY_PATH to nss_nhi/.libs)\n", dlerror());
		return -1;
	}
	snprintf(sym, sizeof(sym), "_nss_%s_getpwnam_r", service);
	*nam = (pwnam_fn)dlsym(h, sym);
	snprintf(sym, sizeof(sym), "_nss_%s_getpwuid_r", service);
	*uid = (pwuid_fn)dlsym(h, sym);
	return *nam && *uid ? 0 : -1;
}

static int load_module(void)
{
	return load_service("nhi", &e_pwnam, &e_pwuid);
}

/* -F: the first lookup of a fresh process, by name, of a random account:
 * MODE entry or entry-sss (the module's entry point's first call after
 * dlopen: module init, config, opening the data, the lookup) or nsswitch
 * (the first getpwnam_r, as /etc/nsswitch.conf says: glibc's NSS setup,
 * reading nsswitch.conf and loading the module too). Prints nanoseconds; with -k 0 it looks nothing up and prints 0
 * (callgrind's baseline: Ir(-k 1) - Ir(-k 0) is the first lookup's). */
static int first_lookup(const char *mode, long count)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	pwnam_fn nam = NULL;
	pwuid_fn uid = NULL;
	const struct acct *want;
	double t0, t1;
	int err, ok = 0;

	int entry = strcmp(mode, "entry") == 0 || strcmp(mode, "entry-sss") == 0;

	if (!entry && strcmp(mode, "nsswitch") != 0) {
		fprintf(stderr, "nhi-bench: -F: no mode '%s' (entry, entry-sss, nsswitch)\n", mode);
		return 2;
	}
	/* one random account, made as make_accounts makes them all */
	accts = calloc(1, sizeof(*accts));
	if (accts == NULL)
		return 1;
	srand((unsigned)getpid());
	{
		unsigned i = (unsigned)((size_t)rand() % n_accts);
		snprintf(accts[0].name, sizeof(accts[0].name), "svc-%06u", i);
		accts[0].uid = FIRST_UID + i;
	}
	want = &accts[0];
	/* the module is loaded (as glibc would have it) before the clock starts */
	if (entry && load_service(mode[5] ? "sss" : "nhi", &nam, &uid) < 0)
		return 1;
	if (count == 0) {
		printf("0\n");
		return 0;
	}
	t0 = now_ns();
	if (entry)
		ok = nam(want->name, &pw, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS;
	else
		ok = getpwnam_r(want->name, &pw, buf, sizeof(buf), &res) == 0 && res != NULL;
	t1 = now_ns();
	if (!ok || pw.pw_uid != want->uid) {
		fprintf(stderr, "nhi-bench: -F %s: wrong answer for %s\n", mode, want->name);
		return 1;
	}
	printf("%.0f\n", t1 - t0);
	return 0;
}

static void fmt_ns(char *b, size_t n, double v)
{
	if (v < 0)
		snprintf(b, n, "n/a");
	else if (v >= 10000)
		snprintf(b, n, "%.0f µs", v / 1000);
	else if (v >= 1000)
		snprintf(b, n, "%.2f µs", v / 1000);
	else
		snprintf(b, n, "%.0f ns", v);
}

/* "what: 1k 1.21x / 1.45x; ... (<= limit: met|not met at ...)" */
static void ratio_line(const char *what, int m, int base, double res[N_MODES][8][2],
		       const size_t *sizes, int n_sizes, double limit)
{
	char missed[256] = "";
	size_t used = 0;

	printf("%s:", what);
	for (int s = 0; s < n_sizes; s++) {
		double a = res[m][s][0] / res[base][s][0], b = res[m][s][1] / res[base][s][1];

		printf(" %zuk %.2fx / %.2fx%s", sizes[s] / 1000, a, b, s + 1 < n_sizes ? ";" : "");
		if ((a > limit || b > limit) && used < sizeof(missed))
			used += (size_t)snprintf(missed + used, sizeof(missed) - used, "%s%zuk",
						 used ? ", " : "", sizes[s] / 1000);
	}
	if (limit > 0)
		printf(" (target <= %.1fx: %s%s)\n", limit, missed[0] ? "NOT met at " : "met", missed);
	else
		printf(" (a reference, no target)\n");
}

/* " 2.31x / 2.10x": time at the largest size over time at the smallest */
static void flat(int m, double res[N_MODES][8][2], int n_sizes)
{
	printf(" %.2fx / %.2fx", res[m][n_sizes - 1][0] / res[m][0][0],
	       res[m][n_sizes - 1][1] / res[m][0][1]);
}

int main(int argc, char **argv)
{
	size_t sizes[8] = { 1000, 10000, 100000 };
	int n_sizes = 3, c, modes = ((1 << N_MODES) - 1) & ~SSS_MODES, one = -1, child = -1;
	int gen_only = 0, opens = 0, byuid = 0, pam = 0, pam_only = -1;
	long count = -1;
	const char *first = NULL;
	static double res[N_MODES][8][2];
	char passwd[600], group[600], nsw_nhi[600], nsw_files[600], nsw_sss[600];

	while ((c = getopt(argc, argv, "n:r:t:d:m:c:k:x:GD:OPQ:F:uC:S")) != -1) {
		switch (c) {
		case 'F': first = optarg; break;
		case 'C': snprintf(conf_cache, sizeof(conf_cache), "%s", optarg); break;
		case 'S': puts(NHI_STATEDIR "/nhi.cache"); return 0;
		case 'u': byuid = 1; break;
		case 'O': opens = 1; break;
		case 'P': pam = 1; break;
		case 'Q': pam_only = strcmp(optarg, "deleg") == 0; break;
		case 'D': n_delta = strtoul(optarg, NULL, 10); break;
		case 'n':
			n_sizes = 0;
			for (char *t = strtok(optarg, ","); t && n_sizes < 8; t = strtok(NULL, ","))
				if ((sizes[n_sizes] = strtoul(t, NULL, 10)) > 0)
					n_sizes++;
			if (n_sizes == 0)
				return 2;
			break;
		case 'r': rounds = atoi(optarg); break;
		case 't': round_secs = atof(optarg); break;
		case 'd': snprintf(dir, sizeof(dir), "%s", optarg); break;
		case 'm':
			modes = 0;
			for (char *tok = strtok(optarg, ","); tok != NULL; tok = strtok(NULL, ",")) {
				int m;
				for (m = 0; m < N_MODES && strcmp(tok, mode_names[m]) != 0; m++)
					;
				if (m == N_MODES) {
					fprintf(stderr, "nhi-bench: -m: no mode '%s'\n", tok);
					return 2;
				}
				modes |= 1 << m;
			}
			break;
		case 'c':
			for (int m = 0; m < N_MODES; m++)
				if (strcmp(optarg, mode_names[m]) == 0)
					one = m;
			break;
		case 'k': count = atol(optarg); break;
		case 'G': gen_only = 1; break;
		case 'x':
			for (int m = 0; m < N_MODES; m++)
				if (strcmp(optarg, mode_names[m]) == 0)
					child = m;
			break;
		default:
			fprintf(stderr, "usage: nhi-bench [-n 1000,10000,100000] [-r ROUNDS] [-t SECS] "
				"[-d DIR] [-m MODES] [-D DELTA]\n       nhi-bench -G -n SIZE -d DIR\n       nhi-bench -c MODE [-u] -n SIZE -k COUNT -d DIR\n"
				"       nhi-bench -O [-n SIZES] [-r ROUNDS] [-t SECS] [-d DIR]\n"
				"       nhi-bench -P [-n SIZES] [-r ROUNDS] [-t SECS] [-d DIR]\n"
				"       nhi-bench -P -Q plain|deleg -n SIZE -k COUNT [-d DIR]\n"
				"       nhi-bench -F entry|entry-sss|nsswitch -n SIZE [-k 0]\n"
				"       nhi-bench -S\n       (any of them: -C CACHE_PATH)\n");
			return 2;
		}
	}
	if (rounds < 1 || rounds > 15)
		rounds = 5;
	if (first != NULL) {
		/* a fresh process: nothing before the first lookup (NHI_CONF
		 * comes from the caller) */
		n_accts = sizes[0];
		return first_lookup(first, count);
	}
	mkdir(dir, 0755);
	snprintf(cache, sizeof(cache), "%s/nhi.cache", dir);
	if (child >= 0) {
		/* measure_child's process: the snapshot is published already */
		double r[2];
		make_accounts(sizes[0]);
		srand(42);
		for (int i = 0; i < NQ; i++)
			q[i] = (uint32_t)rand() % (uint32_t)n_accts;
		r[0] = measure(child, 0);
		r[1] = measure(child, 1);
		printf("%.3f %.3f\n", r[0], r[1]);
		return wrong ? 1 : 0;
	}
	if (opens)
		return open_table(sizes, n_sizes);
	if (pam)
		return pam_table(sizes, n_sizes, pam_only, count < 0 ? 0 : count);
	if (write_conf() < 0 || load_module() < 0)
		return 1;
	if (((modes & (1 << M_SSS_ENTRY)) || one == M_SSS_ENTRY || child == M_SSS_ENTRY) &&
	    load_service("sss", &s_pwnam, &s_pwuid) < 0)
		return 1;
	snprintf(nsw_nhi, sizeof(nsw_nhi), "%s/nsswitch.nhi", dir);
	snprintf(nsw_files, sizeof(nsw_files), "%s/nsswitch.files", dir);
	snprintf(nsw_sss, sizeof(nsw_sss), "%s/nsswitch.sss", dir);
	if (write_nsswitch(nsw_nhi, "nhi") < 0 || write_nsswitch(nsw_files, "files") < 0 ||
	    write_nsswitch(nsw_sss, "sss") < 0)
		return 1;
	srand(42);

	if (gen_only) {
		make_accounts(sizes[0]);
		snprintf(passwd, sizeof(passwd), "%s/passwd", dir);
		snprintf(group, sizeof(group), "%s/group", dir);
		return publish(cache, 1) < 0 || write_files(passwd, group) < 0;
	}
	if (one >= 0) {
		/* callgrind mode: COUNT lookups by name of one mode, on what -G wrote */
		make_accounts(sizes[0]);
		for (int i = 0; i < NQ; i++)
			q[i] = (uint32_t)rand() % (uint32_t)n_accts;
		if (one == M_BARE || one == M_BARECOPY || one == M_BAREFULL)
			bare_build();
		if (one == M_GLIBC_NHI && __nss_configure_lookup("passwd", "nhi") != 0)
			return 1;
		run(one, byuid, 1); /* map the snapshot, load config: not counted by -k 0 either */
		wrong = 0;
		run(one, byuid, count < 0 ? 0 : count);
		return wrong ? 1 : 0;
	}

	for (int s = 0; s < n_sizes; s++) {
		make_accounts(sizes[s]);
		for (int i = 0; i < NQ; i++)
			q[i] = (uint32_t)rand() % (uint32_t)n_accts;
		snprintf(passwd, sizeof(passwd), "%s/passwd.%zu", dir, sizes[s]);
		snprintf(group, sizeof(group), "%s/group.%zu", dir, sizes[s]);
		if (publish(cache, (uint64_t)s + 1) < 0 || write_files(passwd, group) < 0)
			return 1;
		bare_build();
		fprintf(stderr, "# %zu accounts\n", sizes[s]);
		for (int m = 0; m < N_MODES; m++)
			res[m][s][0] = res[m][s][1] = -1;
		/* glibc-nhi: getpwnam_r goes to nss_nhi alone from here on; the
		 * other in-process modes do not call glibc's getpw* */
		if ((modes & (1 << M_GLIBC_NHI)) && __nss_configure_lookup("passwd", "nhi") != 0)
			return 1;
		measure_interleaved(modes & IN_PROCESS, res, s);
		for (int m = 0; m < N_MODES; m++) {
			if (!(modes & (1 << m)))
				continue;
			if (m == M_GLIBC_FILES || m == M_NSW_NHI || m == M_NSW_SSS) {
				if (measure_child(m, m == M_NSW_NHI ? nsw_nhi : m == M_NSW_SSS ? nsw_sss : nsw_files,
						  m == M_GLIBC_FILES ? passwd : NULL, res[m][s]) < 0)
					fprintf(stderr, "#   %s: not measured (needs root and mount namespaces)\n",
						mode_names[m]);
			}
			fprintf(stderr, "#   %-12s %10.1f ns by name %10.1f ns by uid\n", mode_names[m],
				res[m][s][0], res[m][s][1]);
		}
	}
	if (wrong != 0) {
		fprintf(stderr, "nhi-bench: %ld wrong answers\n", wrong);
		return 1;
	}

	/* the table: ns per lookup, by name / by uid */
	printf("| method (ns per lookup, by name / by uid) |");
	for (int s = 0; s < n_sizes; s++)
		printf(" %zuk accounts |", sizes[s] / 1000);
	printf("\n| --- |");
	for (int s = 0; s < n_sizes; s++)
		printf(" --- |");
	printf("\n");
	for (int m = 0; m < N_MODES; m++) {
		if (!(modes & (1 << m)))
			continue;
		printf("| %s |", mode_titles[m]);
		for (int s = 0; s < n_sizes; s++) {
			char a[32], b[32];
			fmt_ns(a, sizeof(a), res[m][s][0]);
			fmt_ns(b, sizeof(b), res[m][s][1]);
			printf(" %s / %s |", a, b);
		}
		printf("\n");
	}
	if ((modes & (1 << M_ENTRY)) && (modes & (1 << M_BARECOPY)) && (modes & (1 << M_BARE))) {
		printf("\n");
		ratio_line("entry point / bare hash + copy", M_ENTRY, M_BARECOPY, res, sizes, n_sizes, 1.5);
		ratio_line("entry point / bare hash (lookup only)", M_ENTRY, M_BARE, res, sizes, n_sizes, 1.5);
		if (modes & (1 << M_BAREFULL))
			ratio_line("entry point / bare hash + copy, full records", M_ENTRY, M_BAREFULL, res,
				   sizes, n_sizes, 0);
		printf("The same with the fastest round of each mode (less disturbed by other load):\n");
		ratio_line("entry point / bare hash + copy", M_ENTRY, M_BARECOPY, best, sizes, n_sizes, 1.5);
		ratio_line("entry point / bare hash (lookup only)", M_ENTRY, M_BARE, best, sizes, n_sizes, 1.5);
		if (n_sizes > 1) {
			printf("largest / smallest size (flatness): entry point");
			flat(M_ENTRY, res, n_sizes);
			printf("; bare hash + copy");
			flat(M_BARECOPY, res, n_sizes);
			printf("; bare hash");
			flat(M_BARE, res, n_sizes);
			if (modes & (1 << M_BAREFULL)) {
				printf("; bare hash + copy, full records");
				flat(M_BAREFULL, res, n_sizes);
			}
			printf("\n");
		}
	}
	if (modes & (1 << M_NSW_NHI)) {
		double worst = 0;
		for (int s = 0; s < n_sizes; s++)
			for (int b = 0; b < 2; b++)
				if (res[M_NSW_NHI][s][b] > worst)
					worst = res[M_NSW_NHI][s][b];
		printf("through getpwnam_r/getpwuid_r (nsswitch.conf) <= 1.0 µs: %s (at most %.2f µs)\n",
		       worst > 0 && worst <= 1000 ? "met" : "NOT met", worst / 1000);
	}
	return 0;
}

/* test-nss-threads.c - 8 threads look users up through glibc and
 * libnss_nhi.so.2 while the snapshot is republished many times; every
 * answer must be consistent and nothing may crash.
 *
 * Generation g of the snapshot holds N identities svc-t0000.. where
 * svc-tI has uid BASE + (g % SLOTS) * N + I, gid = uid, gecos "gen g" and
 * home "/srv/g<g>/svc-tI".  An answer that mixes two generations (a torn
 * read of a remapped file) or names the wrong identity is detectable: the
 * name, uid, gecos and home must all agree on one generation.
 *
 * The republisher is lib's writer, the same code nhictl publishes with
 * (temp file, fsync, rename, old file marked stale), alternating full
 * snapshots and deltas over them, as nhictl does.  After each publish
 * the process forks while the readers remap: the child's lookup must
 * answer (no lock left held by a thread the child does not have).
 *
 * "test-nss-threads --readers SECONDS [STOPFILE]" only reads (until
 * STOPFILE exists, at most SECONDS), for
 * test-nss-threads-nhictl.sh, where the real nhictl republishes (and
 * suspends and resumes identities) meanwhile: every identity found at the
 * start must keep its uid, gid, gecos and home, its shell may only switch
 * between its own and the nologin shell.
 */
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "nhi_snapshot.h"
#include "nss-testutil.h"

#define N 200
#define SLOTS 4
#define BASE 100000u
#define THREADS 8
#define PUBLISHES 300

static struct nsst_env env;
static atomic_int stop, bad, lookups, found;
static atomic_ulong max_gen_seen;
static pthread_mutex_t report_mu = PTHREAD_MUTEX_INITIALIZER;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&report_mu);
	if (atomic_fetch_add(&bad, 1) < 10) {
		printf("# inconsistent: ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	pthread_mutex_unlock(&report_mu);
}

/* Generation gen: every fourth one (1, 5, ...) a full snapshot of all N
 * identities (and the empty delta the writer puts beside it); the others
 * a delta over the last full one, with the identities i where
 * i % 4 < gen - base: a growing part of them at this generation, the rest
 * still at the base's.  (The uid slots of the two never collide.) */
static int publish(uint64_t gen)
{
	static uint64_t base;
	struct nhi_snap_writer *w = nhi_snapw_new();
	char err[256], name[32], gecos[32], home[64], dpath[PATH_MAX + 16];
	int r = -1, full = gen % 4 == 1;

	if (w == NULL)
		return -1;
	if (full)
		base = gen;
	for (unsigned i = 0; i < N; i++) {
		struct nhi_ident id;

		if (!full && i % 4 >= gen - base)
			continue;
		memset(&id, 0, sizeof(id));
		snprintf(name, sizeof(name), "svc-t%04u", i);
		snprintf(gecos, sizeof(gecos), "gen %llu", (unsigned long long)gen);
		snprintf(home, sizeof(home), "/srv/g%llu/%s", (unsigned long long)gen, name);
		id.name = name;
		id.uid = id.gid = BASE + (uint32_t)(gen % SLOTS) * N + i;
		id.gecos = gecos;
		id.home = home;
		id.shell = "/bin/sh";
		id.owner = "alice";
		id.expires = time(NULL) + 86400;
		if (nhi_snapw_add_ident(w, &id) < 0)
			goto out;
	}
	snprintf(dpath, sizeof(dpath), "%s%s", env.cache, NHI_SNAP_DELTA_SUFFIX);
	if (!full)
		nhi_snapw_set_delta(w, base);
	if (nhi_snapw_publish(w, full ? env.cache : dpath, gen, time(NULL), err, sizeof(err)) < 0) {
		fprintf(stderr, "publish: %s\n", err);
		goto out;
	}
	r = 0;
out:
	nhi_snapw_free(w);
	return r;
}

/* Check one passwd answer; i is the identity index it must be. */
static void check(const struct passwd *pw, unsigned i)
{
	unsigned long gen;
	char want[64];

	if (sscanf(pw->pw_gecos, "gen %lu", &gen) != 1) {
		report("%s: gecos '%s'", pw->pw_name, pw->pw_gecos);
		return;
	}
	snprintf(want, sizeof(want), "svc-t%04u", i);
	if (strcmp(pw->pw_name, want) != 0 ||
	    pw->pw_uid != BASE + (gen % SLOTS) * N + i || pw->pw_gid != pw->pw_uid) {
		report("%s gen %lu: uid %u gid %u, want %s", pw->pw_name, gen, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid, want);
		return;
	}
	snprintf(want, sizeof(want), "/srv/g%lu/svc-t%04u", gen, i);
	if (strcmp(pw->pw_dir, want) != 0)
		report("%s gen %lu: home %s, want %s", pw->pw_name, gen, pw->pw_dir, want);
	unsigned long m = atomic_load(&max_gen_seen);
	while (gen > m && !atomic_compare_exchange_weak(&max_gen_seen, &m, gen))
		;
}

static void *reader(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
	char buf[512];

	while (!atomic_load(&stop)) {
		struct passwd pw, *res = NULL;
		unsigned i = (unsigned)rand_r(&seed) % N;
		int r;

		if (rand_r(&seed) & 1) {
			char name[32];
			snprintf(name, sizeof(name), "svc-t%04u", i);
			r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
			if (r != 0 || res == NULL) {
				report("getpwnam_r(%s) failed: %d", name, r);
				continue;
			}
			check(&pw, i);
		} else {
			uid_t uid = BASE + (uid_t)((unsigned)rand_r(&seed) % (SLOTS * N));
			r = getpwuid_r(uid, &pw, buf, sizeof(buf), &res);
			if (r != 0) {
				report("getpwuid_r(%u) failed: %d", (unsigned)uid, r);
				continue;
			}
			if (res != NULL) {
				check(&pw, (unsigned)((uid - BASE) % N));
				atomic_fetch_add(&found, 1);
			}
		}
		atomic_fetch_add(&lookups, 1);
	}
	return NULL;
}

/* fork() while the readers remap the snapshot just republished: the
 * child's first lookup takes the module's lock, which must not be left
 * held by a reader that does not exist in the child.  The child answers
 * within 2 s (else SIGALRM ends it: counted in *hung) and finds
 * svc-t0004 (else counted in *lost).  It says so through a pipe and ends
 * by SIGKILL: under valgrind, a normal exit would report the vanished
 * threads' memory as lost. */
static void fork_probe(int *hung, int *lost)
{
	int status, fds[2];
	char answer = 0;
	pid_t pid;

	if (pipe(fds) < 0 || (pid = fork()) < 0) {
		(*lost)++;
		return;
	}
	if (pid == 0) {
		struct passwd pw, *res = NULL;
		char buf[512];

		close(fds[0]);
		signal(SIGALRM, SIG_DFL);
		alarm(2);
		answer = getpwnam_r("svc-t0004", &pw, buf, sizeof(buf), &res) == 0 && res != NULL
				 ? 'y' : 'n';
		if (write(fds[1], &answer, 1) != 1)
			_exit(3);
		raise(SIGKILL);
	}
	close(fds[1]);
	while (read(fds[0], &answer, 1) < 0 && errno == EINTR)
		;
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (answer == 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		(*hung)++;
	else if (answer != 'y')
		(*lost)++;
}

/* ---- --readers: a snapshot published by someone else -------------------- */

#define MAXID 256
static struct passwd base[MAXID];
static int n_base;

static int same(const struct passwd *a, const struct passwd *b)
{
	return strcmp(a->pw_name, b->pw_name) == 0 && a->pw_uid == b->pw_uid &&
	       a->pw_gid == b->pw_gid && strcmp(a->pw_gecos, b->pw_gecos) == 0 &&
	       strcmp(a->pw_dir, b->pw_dir) == 0 &&
	       (strcmp(a->pw_shell, b->pw_shell) == 0 ||
		strcmp(a->pw_shell, "/usr/sbin/nologin") == 0);
}

static void *base_reader(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
	char buf[1024];

	while (!atomic_load(&stop)) {
		const struct passwd *b = &base[(unsigned)rand_r(&seed) % (unsigned)n_base];
		struct passwd pw, *res = NULL;
		int r;

		if (rand_r(&seed) & 1)
			r = getpwnam_r(b->pw_name, &pw, buf, sizeof(buf), &res);
		else
			r = getpwuid_r(b->pw_uid, &pw, buf, sizeof(buf), &res);
		if (r != 0 || res == NULL)
			report("%s: lookup failed (%d)", b->pw_name, r);
		else if (!same(&pw, b))
			report("%s: got %s:%u:%u:%s:%s:%s", b->pw_name, pw.pw_name, (unsigned)pw.pw_uid,
			       (unsigned)pw.pw_gid, pw.pw_gecos, pw.pw_dir, pw.pw_shell);
		atomic_fetch_add(&lookups, 1);
	}
	return NULL;
}

/* Until STOPFILE exists (when given), at most SECS seconds. */
static int readers_only(double secs, const char *stopfile)
{
	struct timespec t0, t1;
	pthread_t th[THREADS];
	struct passwd pw, *res;
	char buf[1024];
	int t;

	setpwent();
	while (n_base < MAXID && getpwent_r(&pw, buf, sizeof(buf), &res) == 0 && res != NULL) {
		struct passwd *b = &base[n_base++];
		*b = pw;
		b->pw_name = strdup(pw.pw_name);
		b->pw_gecos = strdup(pw.pw_gecos);
		b->pw_dir = strdup(pw.pw_dir);
		b->pw_shell = strdup(pw.pw_shell);
	}
	endpwent();
	printf("1..1\n# %d identities\n", n_base);
	if (n_base == 0) {
		printf("not ok 1 - no identities in the snapshot\n");
		return 1;
	}
	fflush(stdout);
	for (t = 0; t < THREADS; t++)
		if (pthread_create(&th[t], NULL, base_reader, (void *)(uintptr_t)t) != 0)
			return 99;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		usleep(20000);
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((stopfile == NULL || access(stopfile, F_OK) != 0) &&
		 (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	atomic_store(&stop, 1);
	for (t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	printf("%s 1 - %d lookups in %d threads, %d wrong answers\n",
	       atomic_load(&bad) == 0 ? "ok" : "not ok", atomic_load(&lookups), THREADS,
	       atomic_load(&bad));
	return atomic_load(&bad) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	pthread_t th[THREADS];
	struct timespec t0, t1;
	int failed = 0, t, latest, forks = 0, hung = 0, lost = 0;
	uint64_t g, last;

	nsst_load_module();
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "--readers") == 0) {
		/* NHI_CONF names someone else's configuration */
		if (__nss_configure_lookup("passwd", "nhi") != 0)
			return 99;
		return readers_only(atof(argv[2]), argc == 4 ? argv[3] : NULL);
	}
	if (nsst_setup(&env, NULL) < 0 || publish(1) < 0) {
		perror("setup");
		return 99;
	}
	if (__nss_configure_lookup("passwd", "nhi") != 0)
		return 99;
	printf("1..5\n");
	for (t = 0; t < THREADS; t++)
		if (pthread_create(&th[t], NULL, reader, (void *)(uintptr_t)t) != 0)
			return 99;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* PUBLISHES republishes, or as many as fit in 5 s (under valgrind) */
	for (g = 2; g < 2 + PUBLISHES; g++) {
		if (publish(g) < 0) {
			failed = 1;
			break;
		}
		/* the readers remap now: fork in the middle of it */
		if (hung == 0) {
			fork_probe(&hung, &lost);
			forks++;
		}
		if (g % 50 == 0)
			usleep(2000);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec >= 5 && g >= 6)
			break;
	}
	last = g < 2 + PUBLISHES ? g : g - 1;
	usleep(100000);
	atomic_store(&stop, 1);
	for (t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	{
		/* this process now sees the last generation (svc-t0004 is in
		 * every delta) */
		struct passwd pw, *res = NULL;
		char buf[512], want[32];
		snprintf(want, sizeof(want), "gen %llu", (unsigned long long)last);
		latest = getpwnam_r("svc-t0004", &pw, buf, sizeof(buf), &res) == 0 && res != NULL &&
			 strcmp(pw.pw_gecos, want) == 0;
	}

	printf("%s 1 - %llu republishes\n", failed ? "not ok" : "ok", (unsigned long long)(last - 1));
	printf("%s 2 - %d lookups in %d threads (%d by uid found), %d inconsistent answers\n",
	       atomic_load(&bad) == 0 ? "ok" : "not ok", atomic_load(&lookups), THREADS,
	       atomic_load(&found), atomic_load(&bad));
	/* readers followed the republishing, not stayed on generation 1 */
	printf("%s 3 - the readers saw up to generation %lu of %llu (%.2f s)\n",
	       atomic_load(&max_gen_seen) > 1 ? "ok" : "not ok",
	       atomic_load(&max_gen_seen), (unsigned long long)last,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("%s 4 - a lookup after the last publish sees it\n", latest ? "ok" : "not ok");
	printf("%s 5 - %d forks while the readers remapped: %d children hung, %d lost the answer\n",
	       hung == 0 && lost == 0 ? "ok" : "not ok", forks, hung, lost);
	failed |= hung != 0 || lost != 0;
	failed |= !latest || atomic_load(&max_gen_seen) <= 1;
	failed |= atomic_load(&bad) != 0;
	nsst_cleanup(&env);
	return failed ? 1 : 0;
}

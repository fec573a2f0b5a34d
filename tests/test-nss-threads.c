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
 * (temp file, fsync, rename, old file marked stale).  With NHI_TEST_NHICTL
 * set to an nhictl binary that has a 'publish' verb, that is used as well.
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

static int publish(uint64_t gen)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	char err[256], name[32], gecos[32], home[64];
	int r = -1;

	if (w == NULL)
		return -1;
	for (unsigned i = 0; i < N; i++) {
		struct nhi_ident id;
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
	if (nhi_snapw_publish(w, env.cache, gen, time(NULL), err, sizeof(err)) < 0) {
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

int main(int argc, char **argv)
{
	pthread_t th[THREADS];
	struct timespec t0, t1;
	int failed = 0, t;

	nsst_load_module();
	if (nsst_setup(&env, NULL) < 0 || publish(1) < 0) {
		perror("setup");
		return 99;
	}
	if (__nss_configure_lookup("passwd", "nhi") != 0)
		return 99;
	printf("1..3\n");
	for (t = 0; t < THREADS; t++)
		if (pthread_create(&th[t], NULL, reader, (void *)(uintptr_t)t) != 0)
			return 99;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t g = 2; g < 2 + PUBLISHES; g++) {
		if (publish(g) < 0) {
			failed = 1;
			break;
		}
		if (g % 50 == 0)
			usleep(2000);
	}
	usleep(100000);
	atomic_store(&stop, 1);
	for (t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	printf("%s 1 - %d republishes\n", failed ? "not ok" : "ok", PUBLISHES);
	printf("%s 2 - %d lookups in %d threads (%d by uid found), %d inconsistent answers\n",
	       atomic_load(&bad) == 0 ? "ok" : "not ok", atomic_load(&lookups), THREADS,
	       atomic_load(&found), atomic_load(&bad));
	/* readers must have followed the republishing, not stayed on gen 1 */
	printf("%s 3 - the readers saw generation %lu of %d (%.2f s)\n",
	       atomic_load(&max_gen_seen) >= PUBLISHES ? "ok" : "not ok",
	       atomic_load(&max_gen_seen), PUBLISHES + 1,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	failed |= atomic_load(&bad) != 0 || atomic_load(&max_gen_seen) < PUBLISHES;
	nsst_cleanup(&env);
	return failed ? 1 : 0;
}

/* test-nss.c - the built libnss_nhi.so.2, through glibc
 * (__nss_configure_lookup: this process's getpwnam_r & co. go to the
 * module) and through its entry points (dlopen: exact status codes).
 * Snapshots are made here with lib's writer in a private directory. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <gshadow.h>
#include <nss.h>
#include <pwd.h>
#include <shadow.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "nhi_hash.h"
#include "nhi_snapshot.h"
#include "nss-testutil.h"

static struct nsst_env env;
static time_t now;
static void *mod;

typedef enum nss_status (*pwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*pwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*grnam_fn)(const char *, struct group *, char *, size_t, int *);
typedef enum nss_status (*grgid_fn)(gid_t, struct group *, char *, size_t, int *);
typedef enum nss_status (*sgnam_fn)(const char *, struct sgrp *, char *, size_t, int *);
typedef enum nss_status (*spnam_fn)(const char *, struct spwd *, char *, size_t, int *);
typedef enum nss_status (*setent_fn)(int);
typedef enum nss_status (*endent_fn)(void);
typedef enum nss_status (*pwent_fn)(struct passwd *, char *, size_t, int *);
typedef enum nss_status (*grent_fn)(struct group *, char *, size_t, int *);
typedef enum nss_status (*spent_fn)(struct spwd *, char *, size_t, int *);
typedef enum nss_status (*initgroups_fn)(const char *, gid_t, long int *, long int *,
					 gid_t **, long int, int *);

static void *sym(const char *name)
{
	void *p = dlsym(mod, name);

	if (p == NULL)
		fail_msg("%s not exported: %s", name, dlerror());
	return p;
}

/* ---- the test world ------------------------------------------------------ */

#define N_EXTRA_GROUPS 10

static void add(struct nhi_snap_writer *w, const char *name, uint32_t uid, const char *gecos,
		const char *shell, int state, int kind, time_t expires)
{
	struct nhi_ident id;
	char home[64];

	memset(&id, 0, sizeof(id));
	/* svc-long has no home: NSS shows /nonexistent */
	snprintf(home, sizeof(home), "%s%s", strcmp(name, "svc-long") ? "/srv/" : "",
		 strcmp(name, "svc-long") ? name : "");
	id.name = name;
	id.uid = id.gid = uid;
	id.gecos = gecos;
	id.home = home;
	id.shell = shell;
	id.owner = "alice";
	id.purpose = "testing";
	id.state = state;
	id.kind = kind;
	id.created = now - 10 * 86400;
	id.expires = expires;
	assert_int_equal(nhi_snapw_add_ident(w, &id), 0);
}

/* Generation 1 is the world below; generation 2 moves svc-web to uid 4001. */
static void publish_world_at(const char *path, uint64_t gen)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	const char *readers[] = { "svc-web", "svc-gone", "agent-x" };
	const char *ops[] = { "svc-web" };
	char err[256];

	assert_non_null(w);
	add(w, "svc-web", gen == 2 ? 4001 : 3001, "Web service", "/bin/bash",
	    NHI_STATE_ACTIVE, NHI_KIND_SERVICE, now + 30 * 86400);
	add(w, "svc-susp", 3002, "Suspended", "/bin/bash", NHI_STATE_SUSPENDED,
	    NHI_KIND_SERVICE, now + 30 * 86400);
	add(w, "svc-exp", 3003, "Expired", "/bin/bash", NHI_STATE_ACTIVE,
	    NHI_KIND_SERVICE, now - 3600);
	add(w, "svc-gone", 3004, "Retired", "/bin/bash", NHI_STATE_RETIRED,
	    NHI_KIND_SERVICE, now + 30 * 86400);
	add(w, "agent-x", 3005, "An agent", "/bin/sh", NHI_STATE_ORPHANED,
	    NHI_KIND_AGENT, now + 30 * 86400);
	add(w, "svc-long", 3006, "A rather long gecos field to make the buffer arithmetic count",
	    "", NHI_STATE_ACTIVE, NHI_KIND_SERVICE, now + 86400);
	assert_int_equal(nhi_snapw_add_group(w, "svc-readers", 3100, readers, 3), 0);
	assert_int_equal(nhi_snapw_add_group(w, "svc-ops", 3101, ops, 1), 0);
	for (int i = 0; i < N_EXTRA_GROUPS; i++) {
		char name[32];
		snprintf(name, sizeof(name), "extra%d", i);
		assert_int_equal(nhi_snapw_add_group(w, name, 3200 + (uint32_t)i, ops, 1), 0);
	}
	if (nhi_snapw_publish(w, path, gen, now, err, sizeof(err)) != 0)
		fail_msg("publish: %s", err);
	nhi_snapw_free(w);
}

static void publish_world(uint64_t gen)
{
	publish_world_at(env.cache, gen);
}

static int setup(void **state)
{
	publish_world(1);
	return 0;
}

/* ---- through glibc --------------------------------------------------------- */

static void test_passwd_by_name(void **state)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	assert_int_equal(getpwnam_r("svc-web", &pw, buf, sizeof(buf), &res), 0);
	assert_ptr_equal(res, &pw);
	assert_string_equal(pw.pw_name, "svc-web");
	assert_string_equal(pw.pw_passwd, "x");
	assert_int_equal(pw.pw_uid, 3001);
	assert_int_equal(pw.pw_gid, 3001);
	assert_string_equal(pw.pw_gecos, "Web service");
	assert_string_equal(pw.pw_dir, "/srv/svc-web");
	assert_string_equal(pw.pw_shell, "/bin/bash");
	/* an empty shell in the registry gives default_shell, an empty home
	 * /nonexistent */
	assert_int_equal(getpwnam_r("svc-long", &pw, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_string_equal(pw.pw_shell, "/bin/sh");
	assert_string_equal(pw.pw_dir, "/nonexistent");
	assert_string_equal(pw.pw_passwd, "x");
}

static void test_passwd_by_uid(void **state)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	assert_int_equal(getpwuid_r(3005, &pw, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_string_equal(pw.pw_name, "agent-x");
	assert_string_equal(pw.pw_shell, "/bin/sh");  /* orphaned keeps its shell */
}

static void test_passwd_absent(void **state)
{
	struct passwd pw, *res = &pw;
	char buf[1024];

	assert_int_equal(getpwnam_r("no-such-svc", &pw, buf, sizeof(buf), &res), 0);
	assert_null(res);
	res = &pw;
	assert_int_equal(getpwuid_r(2999, &pw, buf, sizeof(buf), &res), 0);
	assert_null(res);
}

static void test_locked_get_nologin(void **state)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	assert_int_equal(getpwnam_r("svc-susp", &pw, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_string_equal(pw.pw_shell, "/usr/sbin/nologin");
	assert_int_equal(getpwuid_r(3003, &pw, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_string_equal(pw.pw_name, "svc-exp");
	assert_string_equal(pw.pw_shell, "/usr/sbin/nologin");
}

static void test_retired_vanish(void **state)
{
	struct passwd pw, *res = &pw;
	struct group gr, *gres = NULL;
	char buf[1024];

	assert_int_equal(getpwnam_r("svc-gone", &pw, buf, sizeof(buf), &res), 0);
	assert_null(res);
	res = &pw;
	assert_int_equal(getpwuid_r(3004, &pw, buf, sizeof(buf), &res), 0);
	assert_null(res);
	gres = &gr;
	assert_int_equal(getgrnam_r("svc-gone", &gr, buf, sizeof(buf), &gres), 0);
	assert_null(gres);
	/* and it is not listed as a member of a registry group */
	assert_int_equal(getgrnam_r("svc-readers", &gr, buf, sizeof(buf), &gres), 0);
	assert_non_null(gres);
	assert_string_equal(gr.gr_mem[0], "svc-web");
	assert_string_equal(gr.gr_mem[1], "agent-x");
	assert_null(gr.gr_mem[2]);
}

static void test_group(void **state)
{
	struct group gr, *res = NULL;
	char buf[1024];

	assert_int_equal(getgrnam_r("svc-web", &gr, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_int_equal(gr.gr_gid, 3001);
	assert_string_equal(gr.gr_passwd, "x");
	assert_null(gr.gr_mem[0]);
	assert_int_equal(getgrgid_r(3101, &gr, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_string_equal(gr.gr_name, "svc-ops");
	assert_string_equal(gr.gr_mem[0], "svc-web");
	assert_null(gr.gr_mem[1]);
	res = &gr;
	assert_int_equal(getgrgid_r(3999, &gr, buf, sizeof(buf), &res), 0);
	assert_null(res);
}

/* gshadow (getsgnam_r through glibc): each group with password "!", no
 * administrators, the visible members; the retired identity's own group
 * is absent, as in group. */
static void test_gshadow(void **state)
{
	struct sgrp sg, *res = NULL;
	char buf[1024];

	assert_int_equal(getsgnam_r("svc-readers", &sg, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_string_equal(sg.sg_namp, "svc-readers");
	assert_string_equal(sg.sg_passwd, "!");
	assert_null(sg.sg_adm[0]);
	assert_string_equal(sg.sg_mem[0], "svc-web");
	assert_string_equal(sg.sg_mem[1], "agent-x");
	assert_null(sg.sg_mem[2]);
	assert_int_equal(getsgnam_r("svc-web", &sg, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_null(sg.sg_mem[0]);
	res = &sg;
	assert_int_equal(getsgnam_r("svc-gone", &sg, buf, sizeof(buf), &res), 0);
	assert_null(res);
	res = &sg;
	assert_int_equal(getsgnam_r("nosuch", &sg, buf, sizeof(buf), &res), 0);
	assert_null(res);
}

/* setsgent/getsgent_r/endsgent list every group once, as group does. */
static void test_enumerate_gshadow(void **state)
{
	struct sgrp sg, *res;
	char buf[1024];
	int n = 0, readers = 0;

	setsgent();
	while (getsgent_r(&sg, buf, sizeof(buf), &res) == 0 && res != NULL) {
		assert_string_not_equal(sg.sg_namp, "svc-gone");
		assert_string_equal(sg.sg_passwd, "!");
		if (strcmp(sg.sg_namp, "svc-readers") == 0)
			readers++;
		n++;
	}
	endsgent();
	assert_int_equal(readers, 1);
	assert_int_equal(n, 5 + 2 + N_EXTRA_GROUPS);
}

/* Every buffer below the one needed: TRYAGAIN/ERANGE and nothing written
 * past it; the first that suffices: the whole answer. */
static void test_gshadow_erange(void **state)
{
	sgnam_fn sgnam = (sgnam_fn)sym("_nss_nhi_getsgnam_r");
	char *buf = NULL;
	size_t len;
	int err;
	enum nss_status st;

	for (len = 0;; len++) {
		struct sgrp sg;

		free(buf);
		buf = malloc(len ? len : 1);
		err = 0;
		st = sgnam("svc-readers", &sg, buf, len, &err);
		if (st == NSS_STATUS_SUCCESS) {
			assert_string_equal(sg.sg_namp, "svc-readers");
			assert_string_equal(sg.sg_passwd, "!");
			assert_null(sg.sg_adm[0]);
			assert_string_equal(sg.sg_mem[0], "svc-web");
			assert_string_equal(sg.sg_mem[1], "agent-x");
			assert_null(sg.sg_mem[2]);
			break;
		}
		assert_int_equal(st, NSS_STATUS_TRYAGAIN);
		assert_int_equal(err, ERANGE);
		assert_true(len < 4096);
	}
	/* two member pointers and the NULL, the sg_adm NULL, the four strings
	 * (the members' 16 bytes keep sg_adm aligned): nothing more */
	assert_int_equal(len, 4 * sizeof(char *) + sizeof("svc-readers" "!" "svc-web" "agent-x") + 3);
	free(buf);
}

static void test_enumerate_passwd(void **state)
{
	static const char *want[] = { "agent-x", "svc-exp", "svc-long", "svc-susp", "svc-web" };
	struct passwd pw, *res;
	char buf[1024];
	int n = 0;

	setpwent();
	while (getpwent_r(&pw, buf, sizeof(buf), &res) == 0 && res != NULL) {
		assert_true(n < 5);
		assert_string_equal(pw.pw_name, want[n]);  /* sorted by name */
		n++;
	}
	endpwent();
	assert_int_equal(n, 5);
}

static void test_enumerate_group(void **state)
{
	struct group gr, *res;
	char buf[1024];
	int n = 0, readers = 0;

	setgrent();
	while (getgrent_r(&gr, buf, sizeof(buf), &res) == 0 && res != NULL) {
		assert_string_not_equal(gr.gr_name, "svc-gone");
		if (strcmp(gr.gr_name, "svc-readers") == 0)
			readers++;
		n++;
	}
	endgrent();
	assert_int_equal(readers, 1);
	assert_int_equal(n, 5 + 2 + N_EXTRA_GROUPS);
}

static void test_initgroups(void **state)
{
	gid_t groups[64];
	int ng = 64, seen = 0;

	assert_true(getgrouplist("svc-web", 3001, groups, &ng) >= 0);
	assert_int_equal(ng, 1 + 2 + N_EXTRA_GROUPS);
	assert_int_equal(groups[0], 3001);
	for (int i = 0; i < ng; i++)
		if (groups[i] == 3100 || groups[i] == 3101 ||
		    (groups[i] >= 3200 && groups[i] < 3200 + N_EXTRA_GROUPS))
			seen++;
	assert_int_equal(seen, 2 + N_EXTRA_GROUPS);

	ng = 64;
	assert_true(getgrouplist("agent-x", 3005, groups, &ng) >= 0);
	assert_int_equal(ng, 2);
	assert_int_equal(groups[1], 3100);

	/* retired: only the primary group glibc was given */
	ng = 64;
	assert_true(getgrouplist("svc-gone", 3004, groups, &ng) >= 0);
	assert_int_equal(ng, 1);

	/* too small an array: -1 and the number needed */
	ng = 3;
	assert_int_equal(getgrouplist("svc-web", 3001, groups, &ng), -1);
	assert_int_equal(ng, 1 + 2 + N_EXTRA_GROUPS);
}

/* svc-web's groups into an array of 'size' holding its primary group,
 * with 'limit': filled to the limit exactly, and grown to it, no more. */
static void limited_growth(initgroups_fn fn, long int size, long int limit)
{
	long int start = 1;
	gid_t *groups = malloc((size_t)size * sizeof(gid_t));
	int err = 0;

	assert_non_null(groups);
	groups[0] = 3001;
	assert_int_equal(fn("svc-web", 3001, &start, &size, &groups, limit, &err),
			 NSS_STATUS_SUCCESS);
	assert_int_equal(start, limit);
	assert_int_equal(size, limit);
	free(groups);
}

static void test_initgroups_dyn_growth(void **state)
{
	initgroups_fn fn = (initgroups_fn)sym("_nss_nhi_initgroups_dyn");
	long int start = 1, size = 1;
	gid_t *groups = malloc(sizeof(gid_t));
	int err = 0;

	assert_non_null(groups);
	groups[0] = 3001;
	/* unlimited: grows as needed */
	assert_int_equal(fn("svc-web", 3001, &start, &size, &groups, 0, &err), NSS_STATUS_SUCCESS);
	assert_int_equal(start, 1 + 2 + N_EXTRA_GROUPS);
	assert_true(size >= start);
	/* again: nothing is added twice */
	assert_int_equal(fn("svc-web", 3001, &start, &size, &groups, 0, &err), NSS_STATUS_SUCCESS);
	assert_int_equal(start, 1 + 2 + N_EXTRA_GROUPS);
	free(groups);

	/* limit 4: stops there, never writes past it; a doubling that would
	 * pass the limit (3 -> 6) is cut to it */
	limited_growth(fn, 2, 4);
	limited_growth(fn, 3, 4);

	/* the group the caller names is never added, even when the array
	 * does not hold it yet (nss_files' rule; glibc puts it first) */
	start = 0;
	size = 0;
	groups = NULL;
	assert_int_equal(fn("svc-web", 3100, &start, &size, &groups, 0, &err), NSS_STATUS_SUCCESS);
	assert_int_equal(start, 1 + N_EXTRA_GROUPS);
	for (long int i = 0; i < start; i++)
		assert_int_not_equal(groups[i], 3100);
	free(groups);

	/* unknown user: NOTFOUND, nothing touched */
	start = 0;
	size = 0;
	groups = NULL;
	assert_int_equal(fn("nobody-here", 1, &start, &size, &groups, 0, &err), NSS_STATUS_NOTFOUND);
	assert_int_equal(err, ENOENT);
	assert_int_equal(start, 0);
}

static void test_shadow_root(void **state)
{
	struct spwd sp, *res = NULL;
	char buf[1024];
	time_t exp = now - 3600;

	if (geteuid() != 0)
		skip();
	assert_int_equal(getspnam_r("svc-web", &sp, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_string_equal(sp.sp_pwdp, "*");
	/* not yet expired: the first day expired all day (rounded up) */
	assert_int_equal(sp.sp_expire, (now + 30 * 86400 + 86399) / 86400);
	assert_int_equal(sp.sp_lstchg, (now - 10 * 86400) / 86400);
	assert_int_equal(sp.sp_max, -1);
	assert_int_equal(getspnam_r("svc-exp", &sp, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_string_equal(sp.sp_pwdp, "!");
	assert_int_equal(sp.sp_expire, exp / 86400);
	assert_true(sp.sp_expire <= now / 86400);  /* pam_unix: expired today */
	assert_int_equal(getspnam_r("svc-susp", &sp, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_string_equal(sp.sp_pwdp, "!");
	res = &sp;
	assert_int_equal(getspnam_r("svc-gone", &sp, buf, sizeof(buf), &res), 0);
	assert_null(res);

	/* enumeration */
	{
		setent_fn set = (setent_fn)sym("_nss_nhi_setspent");
		spent_fn get = (spent_fn)sym("_nss_nhi_getspent_r");
		endent_fn end = (endent_fn)sym("_nss_nhi_endspent");
		int n = 0, err;
		assert_int_equal(set(0), NSS_STATUS_SUCCESS);
		while (get(&sp, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS)
			n++;
		assert_int_equal(err, ENOENT);
		end();
		assert_int_equal(n, 5);
	}
}

/* sp_expire at the day boundaries: while an identity is not expired, the
 * first day on which it is expired all day (pam_unix refuses the whole
 * of day sp_expire, so "expires later today" must not be today); once
 * expired, the day it expired (pam_unix refuses at once). */
static void test_shadow_expire_boundary(void **state)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	struct spwd sp, *res = NULL;
	char buf[1024], err[256];
	long today = (long)(now / 86400);
	time_t midnight = (time_t)(today + 2) * 86400;
	static const struct { const char *name; int off; } cases[] = {
		{ "svc-mid", 0 }, { "svc-mid1", 1 }, { "svc-mid-1", -1 },
	};

	if (geteuid() != 0)
		skip();
	assert_non_null(w);
	for (unsigned i = 0; i < 3; i++)
		add(w, cases[i].name, 3301 + i, "boundary", "/bin/sh", NHI_STATE_ACTIVE,
		    NHI_KIND_SERVICE, midnight + cases[i].off);
	add(w, "svc-later", 3304, "later today", "/bin/sh", NHI_STATE_ACTIVE,
	    NHI_KIND_SERVICE, now + 120);
	add(w, "svc-past", 3305, "a second ago", "/bin/sh", NHI_STATE_ACTIVE,
	    NHI_KIND_SERVICE, now - 1);
	if (nhi_snapw_publish(w, env.cache, 3, now, err, sizeof(err)) != 0)
		fail_msg("publish: %s", err);
	nhi_snapw_free(w);

	/* exactly midnight: expired all of that day */
	assert_int_equal(getspnam_r("svc-mid", &sp, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_int_equal(sp.sp_expire, today + 2);
	/* one second after midnight: that day still has a second to live */
	assert_int_equal(getspnam_r("svc-mid1", &sp, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_int_equal(sp.sp_expire, today + 3);
	/* one second before midnight */
	assert_int_equal(getspnam_r("svc-mid-1", &sp, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_int_equal(sp.sp_expire, today + 2);
	/* later today: pam_unix (expired when today >= sp_expire) allows */
	assert_int_equal(getspnam_r("svc-later", &sp, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_int_equal(sp.sp_expire, (long)((now + 120 + 86399) / 86400));
	assert_true(sp.sp_expire > (long)(time(NULL) / 86400));
	assert_string_equal(sp.sp_pwdp, "*");
	/* expired a second ago: the day it expired, refused at once */
	assert_int_equal(getspnam_r("svc-past", &sp, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_int_equal(sp.sp_expire, (long)((now - 1) / 86400));
	assert_true(sp.sp_expire <= (long)(time(NULL) / 86400));
	assert_string_equal(sp.sp_pwdp, "!");
	publish_world(1);
}

/* ---- passwords: nhi.shadow beside the snapshot --------------------------- */

#define HASH_NEW "$y$j9T$abcdefghijklmnopqrstu.$0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg"
#define HASH_OLD "$y$j9T$zyxwvutsrqponmlkjihgfe$gfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA9876543210"

/* Put nhi.shadow in place as nhictl writes it (header: generation, count,
 * checksum of the records), with 'mode'; 'cut' bytes cut off the end,
 * 'flip' >= 0 flips a bit of that byte after the checksum was taken. */
static void write_pwfile(uint64_t gen, const char *recs, mode_t mode, size_t cut, long flip)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], buf[2048];
	size_t n = strlen(recs), count = 0;
	int len, fd;

	for (size_t i = 0; i < n; i++)
		count += recs[i] == '\n';
	len = snprintf(buf, sizeof(buf), "# nhi-shadow 1 %llu %zu %016llx\n%s",
		       (unsigned long long)gen, count,
		       (unsigned long long)nhi_checksum(recs, n, gen), recs);
	assert_true(len > 0 && (size_t)len < sizeof(buf) && (size_t)len > cut);
	if (flip >= 0)
		buf[flip] ^= 1;
	snprintf(path, sizeof(path), "%s/nhi.shadow", env.dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, (size_t)len - cut), (ssize_t)((size_t)len - cut));
	close(fd);
	assert_int_equal(chmod(tmp, mode), 0);
	assert_int_equal(rename(tmp, path), 0);
}

/* nhi.shadow with the header line 'head' (printf: the generation, the
 * count and the checksum of 'recs', in that order) before 'recs'. */
static void write_pwhead(const char *head, const char *recs)
{
	char path[PATH_MAX], buf[2048];
	size_t n = strlen(recs), count = 0;
	int len, fd;

	for (size_t i = 0; i < n; i++)
		count += recs[i] == '\n';
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	len = snprintf(buf, sizeof(buf), head, 1ULL, count, (unsigned long long)nhi_checksum(recs, n, 1));
#pragma GCC diagnostic pop
	assert_true(len > 0 && (size_t)len + n < sizeof(buf));
	memcpy(buf + len, recs, n);
	snprintf(path, sizeof(path), "%s/nhi.shadow", env.dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, (size_t)len + n), (ssize_t)((size_t)len + n));
	close(fd);
}

/* sp_pwdp of name through glibc ("" when not found). */
static const char *pwdp(const char *name)
{
	static char buf[1024];
	static struct spwd sp;
	struct spwd *res = NULL;

	if (getspnam_r(name, &sp, buf, sizeof(buf), &res) != 0 || res == NULL)
		return "";
	return sp.sp_pwdp;
}

/* getspnam serves the newest active hash of nhi.shadow; a file that is
 * not root's 0600, damaged, cut short or older than the snapshot serves
 * none ("*"), and so does a hash in grace, expired or of a locked
 * identity. */
static void test_shadow_passwords(void **state)
{
	char recs[1024], path[PATH_MAX];
	struct spwd sp;
	char buf[1024];
	int found = 0, err;

	if (geteuid() != 0)
		skip();
	publish_world(1);   /* keys_generation 0: the generation, 1 */
	snprintf(path, sizeof(path), "%s/nhi.shadow", env.dir);
	snprintf(recs, sizeof(recs), "svc-susp 0 0 %s\nsvc-web 0 %lld %s\nsvc-web %lld 0 %s\n",
		 HASH_NEW, (long long)now + 3600, HASH_NEW, (long long)now + 3600, HASH_OLD);
	write_pwfile(1, recs, 0600, 0, -1);
	assert_string_equal(pwdp("svc-web"), HASH_NEW);
	assert_string_equal(pwdp("svc-susp"), "!");       /* locked: never a hash */
	assert_string_equal(pwdp("svc-long"), "*");       /* no password */
	{	/* the enumeration serves it too */
		setent_fn set = (setent_fn)sym("_nss_nhi_setspent");
		spent_fn get = (spent_fn)sym("_nss_nhi_getspent_r");
		endent_fn end = (endent_fn)sym("_nss_nhi_endspent");

		assert_int_equal(set(0), NSS_STATUS_SUCCESS);
		while (get(&sp, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS)
			found += strcmp(sp.sp_namp, "svc-web") == 0 &&
				 strcmp(sp.sp_pwdp, HASH_NEW) == 0;
		end();
		assert_int_equal(found, 1);
	}
	{	/* a buffer too small for the hash: ERANGE, glibc retries */
		spnam_fn spnam = (spnam_fn)sym("_nss_nhi_getspnam_r");
		size_t need = strlen("svc-web") + 1 + strlen(HASH_NEW) + 1;

		assert_int_equal(spnam("svc-web", &sp, buf, need - 1, &err), NSS_STATUS_TRYAGAIN);
		assert_int_equal(err, ERANGE);
		assert_int_equal(spnam("svc-web", &sp, buf, need, &err), NSS_STATUS_SUCCESS);
		assert_string_equal(sp.sp_pwdp, HASH_NEW);
	}
	/* a newer generation is fine */
	write_pwfile(7, recs, 0600, 0, -1);
	assert_string_equal(pwdp("svc-web"), HASH_NEW);

	/* only the old hash, in grace: pam_nhi's auth accepts it, not served */
	snprintf(recs, sizeof(recs), "svc-web %lld 0 %s\n", (long long)now + 3600, HASH_OLD);
	write_pwfile(1, recs, 0600, 0, -1);
	assert_string_equal(pwdp("svc-web"), "*");
	/* past its not-after; a grace that ended */
	snprintf(recs, sizeof(recs), "svc-web 0 %lld %s\nsvc-web %lld 0 %s\n",
		 (long long)now - 1, HASH_NEW, (long long)now - 1, HASH_OLD);
	write_pwfile(1, recs, 0600, 0, -1);
	assert_string_equal(pwdp("svc-web"), "*");

	snprintf(recs, sizeof(recs), "svc-web 0 0 %s\n", HASH_NEW);
	write_pwfile(1, recs, 0640, 0, -1);               /* readable by the group */
	assert_string_equal(pwdp("svc-web"), "*");
	write_pwfile(1, recs, 0604, 0, -1);               /* readable by others */
	assert_string_equal(pwdp("svc-web"), "*");
	write_pwfile(1, recs, 0600, 1, -1);               /* cut short */
	assert_string_equal(pwdp("svc-web"), "*");
	write_pwfile(1, recs, 0600, 0, 60);               /* a bit flipped in the record */
	assert_string_equal(pwdp("svc-web"), "*");
	write_pwfile(0, recs, 0600, 0, -1);               /* older than the snapshot */
	assert_string_equal(pwdp("svc-web"), "*");
	snprintf(recs, sizeof(recs), "svc-web 0 0 $y$a b\n");  /* a bad record, checksum right */
	write_pwfile(1, recs, 0600, 0, -1);
	assert_string_equal(pwdp("svc-web"), "*");
	snprintf(recs, sizeof(recs), "svc-web 0 0 %s\n", HASH_NEW);
	/* the header exactly as nhictl writes it, or refused */
	write_pwhead("# nhi-shadow 1 %llu %zu %016llx\n", recs);
	assert_string_equal(pwdp("svc-web"), HASH_NEW);
	write_pwhead("# nhi-shadow 1 %llu %zu %016llX\n", recs);   /* hex digits in capitals */
	assert_string_equal(pwdp("svc-web"), HASH_NEW);
	write_pwhead("# nhi-shadow 1 %llu  %zu %016llx\n", recs);  /* two spaces */
	assert_string_equal(pwdp("svc-web"), "*");
	write_pwhead("# nhi-shadow 1 +%llu %zu %016llx\n", recs);  /* a sign */
	assert_string_equal(pwdp("svc-web"), "*");
	write_pwhead("# nhi-shadow 1 %llu %zu %016llx \n", recs);  /* something after */
	assert_string_equal(pwdp("svc-web"), "*");
	write_pwhead("# nhi-shadow 1 %llu %zu %017llx\n", recs);   /* 17 hex digits */
	assert_string_equal(pwdp("svc-web"), "*");
	write_pwhead("# nhi-shadow 1 %llu 1%zu0000000000000000000 %016llx\n", recs);  /* > 2^64 */
	assert_string_equal(pwdp("svc-web"), "*");
	write_pwfile(1, recs, 0600, 0, -1);
	assert_int_equal(chown(path, 65534, 65534), 0);   /* not root's */
	assert_string_equal(pwdp("svc-web"), "*");
	assert_int_equal(unlink(path), 0);                /* missing */
	assert_string_equal(pwdp("svc-web"), "*");
	write_pwfile(1, recs, 0600, 0, -1);               /* and back */
	assert_string_equal(pwdp("svc-web"), HASH_NEW);
	assert_int_equal(unlink(path), 0);
}

static void test_shadow_refused_for_others(void **state)
{
	pid_t pid;
	int status;

	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		spnam_fn fn = (spnam_fn)dlsym(mod, "_nss_nhi_getspnam_r");
		struct spwd sp, *res = &sp;
		char buf[1024];
		int err = 0, bad = 0;

		if (seteuid(65534) != 0)
			_exit(3);
		if (getspnam_r("svc-web", &sp, buf, sizeof(buf), &res) == 0 && res != NULL)
			bad |= 1;
		if (fn("svc-web", &sp, buf, sizeof(buf), &err) != NSS_STATUS_UNAVAIL || err != EACCES)
			bad |= 2;
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_erange_glibc(void **state)
{
	struct passwd pw, *res = &pw;
	struct group gr, *gres = &gr;
	char buf[8];

	assert_int_equal(getpwnam_r("svc-web", &pw, buf, sizeof(buf), &res), ERANGE);
	assert_null(res);
	assert_int_equal(getpwuid_r(3001, &pw, buf, sizeof(buf), &res), ERANGE);
	assert_null(res);
	assert_int_equal(getgrnam_r("svc-readers", &gr, buf, sizeof(buf), &gres), ERANGE);
	assert_null(gres);
}

/* Every buffer size below the one needed gives TRYAGAIN/ERANGE; the first
 * that suffices gives the full, correct answer. */
static void test_erange_entry_points(void **state)
{
	pwnam_fn pwnam = (pwnam_fn)sym("_nss_nhi_getpwnam_r");
	pwuid_fn pwuid = (pwuid_fn)sym("_nss_nhi_getpwuid_r");
	grnam_fn grnam = (grnam_fn)sym("_nss_nhi_getgrnam_r");
	grgid_fn grgid = (grgid_fn)sym("_nss_nhi_getgrgid_r");
	spnam_fn spnam = (spnam_fn)sym("_nss_nhi_getspnam_r");
	char *buf = NULL;
	size_t len;
	int err;
	enum nss_status st;

	/* the record's strings copied at once: exactly what they need */
	for (len = 0;; len++) {
		struct passwd pw;
		free(buf);
		buf = malloc(len ? len : 1);
		err = 0;
		st = pwnam("svc-web", &pw, buf, len, &err);
		if (st == NSS_STATUS_SUCCESS) {
			assert_int_equal(len, sizeof("svc-web" "Web service" "/srv/svc-web" "/bin/bash" "x") + 4);
			assert_string_equal(pw.pw_name, "svc-web");
			assert_string_equal(pw.pw_gecos, "Web service");
			assert_string_equal(pw.pw_dir, "/srv/svc-web");
			assert_string_equal(pw.pw_shell, "/bin/bash");
			assert_string_equal(pw.pw_passwd, "x");
			break;
		}
		assert_int_equal(st, NSS_STATUS_TRYAGAIN);
		assert_int_equal(err, ERANGE);
		assert_true(len < 4096);
	}
	/* strings replaced (home and shell): copied one by one */
	for (len = 0;; len++) {
		struct passwd pw;
		free(buf);
		buf = malloc(len ? len : 1);
		err = 0;
		st = pwnam("svc-long", &pw, buf, len, &err);
		if (st == NSS_STATUS_SUCCESS) {
			assert_string_equal(pw.pw_gecos,
					    "A rather long gecos field to make the buffer arithmetic count");
			assert_string_equal(pw.pw_shell, "/bin/sh");
			assert_string_equal(pw.pw_dir, "/nonexistent");
			assert_int_equal(pw.pw_uid, 3006);
			break;
		}
		assert_int_equal(st, NSS_STATUS_TRYAGAIN);
		assert_int_equal(err, ERANGE);
		assert_true(len < 4096);
	}
	for (len = 0;; len++) {
		struct passwd pw;
		free(buf);
		buf = malloc(len ? len : 1);
		st = pwuid(3002, &pw, buf, len, &err);
		if (st == NSS_STATUS_SUCCESS) {
			assert_string_equal(pw.pw_shell, "/usr/sbin/nologin");
			break;
		}
		assert_int_equal(st, NSS_STATUS_TRYAGAIN);
		assert_int_equal(err, ERANGE);
		assert_true(len < 4096);
	}
	for (len = 0;; len++) {
		struct group gr;
		free(buf);
		buf = malloc(len ? len : 1);
		st = grnam("svc-readers", &gr, buf, len, &err);
		if (st == NSS_STATUS_SUCCESS) {
			assert_int_equal(gr.gr_gid, 3100);
			assert_string_equal(gr.gr_mem[0], "svc-web");
			assert_string_equal(gr.gr_mem[1], "agent-x");
			assert_null(gr.gr_mem[2]);
			break;
		}
		assert_int_equal(st, NSS_STATUS_TRYAGAIN);
		assert_int_equal(err, ERANGE);
		assert_true(len < 4096);
	}
	for (len = 0;; len++) {
		struct group gr;
		free(buf);
		buf = malloc(len ? len : 1);
		st = grgid(3001, &gr, buf, len, &err);
		if (st == NSS_STATUS_SUCCESS) {
			assert_string_equal(gr.gr_name, "svc-web");
			assert_null(gr.gr_mem[0]);
			break;
		}
		assert_int_equal(st, NSS_STATUS_TRYAGAIN);
		assert_int_equal(err, ERANGE);
		assert_true(len < 4096);
	}
	if (geteuid() == 0) {
		for (len = 0;; len++) {
			struct spwd sp;
			free(buf);
			buf = malloc(len ? len : 1);
			st = spnam("svc-exp", &sp, buf, len, &err);
			if (st == NSS_STATUS_SUCCESS) {
				assert_string_equal(sp.sp_namp, "svc-exp");
				assert_string_equal(sp.sp_pwdp, "!");
				break;
			}
			assert_int_equal(st, NSS_STATUS_TRYAGAIN);
			assert_int_equal(err, ERANGE);
			assert_true(len < 4096);
		}
	}
	/* absent is NOTFOUND/ENOENT, whatever the buffer */
	{
		struct passwd pw;
		char small[4];
		assert_int_equal(pwnam("no-such-svc", &pw, small, sizeof(small), &err), NSS_STATUS_NOTFOUND);
		assert_int_equal(err, ENOENT);
		assert_int_equal(pwuid(2999, &pw, small, sizeof(small), &err), NSS_STATUS_NOTFOUND);
		assert_int_equal(err, ENOENT);
		assert_int_equal(pwnam("svc-gone", &pw, small, sizeof(small), &err), NSS_STATUS_NOTFOUND);
	}
	free(buf);
}

/* getpwent_r with a small buffer must not skip the entry. */
/* No entry point writes past the buffer it was given, at any size: the
 * bytes after it (a guard) are untouched whether it answers or not. */
static enum nss_status lookup_into(int which, char *buf, size_t len, int *err)
{
	struct passwd pw;
	struct group gr;
	struct spwd sp;

	switch (which) {
	case 0: return ((pwnam_fn)sym("_nss_nhi_getpwnam_r"))("svc-web", &pw, buf, len, err);
	case 1: return ((pwnam_fn)sym("_nss_nhi_getpwnam_r"))("svc-long", &pw, buf, len, err);
	case 2: return ((grnam_fn)sym("_nss_nhi_getgrnam_r"))("svc-readers", &gr, buf, len, err);
	case 3: return ((grgid_fn)sym("_nss_nhi_getgrgid_r"))(3001, &gr, buf, len, err);
	default: return ((spnam_fn)sym("_nss_nhi_getspnam_r"))("svc-exp", &sp, buf, len, err);
	}
}

static void test_no_write_past_buffer(void **state)
{
	enum { GUARD = 64 };

	for (int which = 0; which < (geteuid() == 0 ? 5 : 4); which++) {
		enum nss_status st = NSS_STATUS_TRYAGAIN;

		for (size_t len = 0; st != NSS_STATUS_SUCCESS; len++) {
			unsigned char *block = malloc(len + GUARD);
			int err = 0;

			assert_non_null(block);
			assert_true(len < 4096);
			memset(block, 0xa5, len + GUARD);
			st = lookup_into(which, (char *)block, len, &err);
			assert_true(st == NSS_STATUS_SUCCESS || st == NSS_STATUS_TRYAGAIN);
			for (size_t i = len; i < len + GUARD; i++)
				if (block[i] != 0xa5)
					fail_msg("lookup %d with a %zu-byte buffer wrote byte %zu past it",
						 which, len, i - len);
			free(block);
		}
	}
}

/* At the second of its expiry an identity is expired (now >= expires):
 * the nologin shell, and a locked shadow entry.  svc-exp expires at
 * now - 3600, so the world is published with now one hour ahead; retried
 * when the second ticks over between publishing and looking up. */
static void test_locked_at_expiry(void **state)
{
	pwnam_fn pwnam = (pwnam_fn)sym("_nss_nhi_getpwnam_r");
	spnam_fn spnam = (spnam_fn)sym("_nss_nhi_getspnam_r");
	time_t saved = now;
	int done = 0;

	for (int tries = 0; tries < 10 && !done; tries++) {
		time_t t0 = time(NULL);
		struct passwd pw;
		struct spwd sp;
		char buf[1024], sbuf[1024];
		int err = 0;
		enum nss_status st, sst = NSS_STATUS_SUCCESS;

		now = t0 + 3600;
		publish_world(1);
		st = pwnam("svc-exp", &pw, buf, sizeof(buf), &err);
		if (geteuid() == 0)
			sst = spnam("svc-exp", &sp, sbuf, sizeof(sbuf), &err);
		if (time(NULL) != t0)
			continue;
		assert_int_equal(st, NSS_STATUS_SUCCESS);
		assert_string_equal(pw.pw_shell, "/usr/sbin/nologin");
		if (geteuid() == 0) {
			assert_int_equal(sst, NSS_STATUS_SUCCESS);
			assert_string_equal(sp.sp_pwdp, "!");
		}
		done = 1;
	}
	now = saved;
	publish_world(1);
	assert_true(done);
}

static void test_enumerate_erange(void **state)
{
	setent_fn set = (setent_fn)sym("_nss_nhi_setpwent");
	pwent_fn get = (pwent_fn)sym("_nss_nhi_getpwent_r");
	endent_fn end = (endent_fn)sym("_nss_nhi_endpwent");
	setent_fn gset = (setent_fn)sym("_nss_nhi_setgrent");
	grent_fn gget = (grent_fn)sym("_nss_nhi_getgrent_r");
	struct passwd pw;
	struct group gr;
	char small[8], buf[1024];
	int err, n = 0;

	assert_int_equal(set(1), NSS_STATUS_SUCCESS);
	for (;;) {
		enum nss_status st = get(&pw, small, sizeof(small), &err);
		if (st == NSS_STATUS_NOTFOUND)
			break;
		assert_int_equal(st, NSS_STATUS_TRYAGAIN);
		assert_int_equal(err, ERANGE);
		assert_int_equal(get(&pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
		n++;
	}
	assert_int_equal(err, ENOENT);
	assert_int_equal(n, 5);
	assert_int_equal(end(), NSS_STATUS_SUCCESS);

	n = 0;
	assert_int_equal(gset(1), NSS_STATUS_SUCCESS);
	for (;;) {
		enum nss_status st = gget(&gr, small, sizeof(small), &err);
		if (st == NSS_STATUS_NOTFOUND)
			break;
		assert_int_equal(st, NSS_STATUS_TRYAGAIN);
		assert_int_equal(gget(&gr, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
		n++;
	}
	assert_int_equal(n, 5 + 2 + N_EXTRA_GROUPS);
}

/* A republished snapshot is seen at the next lookup (the old file is
 * marked stale by the writer). */
static void test_republish_seen_at_once(void **state)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	publish_world(2);
	assert_int_equal(getpwnam_r("svc-web", &pw, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_int_equal(pw.pw_uid, 4001);
	res = &pw;
	assert_int_equal(getpwuid_r(3001, &pw, buf, sizeof(buf), &res), 0);
	assert_null(res);
	publish_world(1);
	assert_int_equal(getpwnam_r("svc-web", &pw, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_int_equal(pw.pw_uid, 3001);
}

/* A snapshot replaced by other means than nhictl's writer (renamed into
 * place, the old file not marked stale) is noticed by the stat fallback:
 * once NSS_NHI_RECHECK_SECS (2) have passed, within 16 lookups of a
 * thread (nss_nhi(8)). */
static void test_replaced_without_stale(void **state)
{
	struct passwd pw, *res = NULL;
	char buf[1024], other[PATH_MAX + 16];
	int seen = 0;

	publish_world(1);
	assert_int_equal(getpwnam_r("svc-web", &pw, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
	assert_int_equal(pw.pw_uid, 3001);
	snprintf(other, sizeof(other), "%s.other", env.cache);
	publish_world_at(other, 2);
	assert_int_equal(rename(other, env.cache), 0);
	/* a lookup every 100 ms for up to 5 s: 50 lookups, so the 16th,
	 * 32nd and 48th of them check the file */
	for (int i = 0; i < 50 && !seen; i++) {
		usleep(100000);
		assert_int_equal(getpwnam_r("svc-web", &pw, buf, sizeof(buf), &res), 0);
		assert_non_null(res);
		seen = pw.pw_uid == 4001;
	}
	assert_true(seen);
	publish_world(1);
}

static void expect_unavail(const char *what)
{
	pwnam_fn pwnam = (pwnam_fn)sym("_nss_nhi_getpwnam_r");
	pwuid_fn pwuid = (pwuid_fn)sym("_nss_nhi_getpwuid_r");
	grnam_fn grnam = (grnam_fn)sym("_nss_nhi_getgrnam_r");
	initgroups_fn ig = (initgroups_fn)sym("_nss_nhi_initgroups_dyn");
	setent_fn set = (setent_fn)sym("_nss_nhi_setpwent");
	pwent_fn get = (pwent_fn)sym("_nss_nhi_getpwent_r");
	struct passwd pw, *res = &pw;
	struct group gr;
	char buf[1024];
	long int start = 0, size = 0;
	gid_t *groups = NULL;
	int err = 0;

	if (pwnam("svc-web", &pw, buf, sizeof(buf), &err) != NSS_STATUS_UNAVAIL || err != ENOENT)
		fail_msg("%s: getpwnam_r not UNAVAIL/ENOENT", what);
	assert_int_equal(pwuid(3001, &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	assert_int_equal(grnam("svc-web", &gr, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	assert_int_equal(ig("svc-web", 3001, &start, &size, &groups, 0, &err), NSS_STATUS_UNAVAIL);
	set(0);
	assert_int_equal(get(&pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	/* through glibc: no entry, no crash */
	getpwnam_r("svc-web", &pw, buf, sizeof(buf), &res);
	assert_null(res);
}

static void test_missing_snapshot(void **state)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	nsst_remove(env.cache);
	expect_unavail("missing");
	/* the first publish is visible at once */
	publish_world(1);
	assert_int_equal(getpwnam_r("svc-web", &pw, buf, sizeof(buf), &res), 0);
	assert_non_null(res);
}

static void recompute_header(unsigned char *p)
{
	struct nhi_snap_hdr h;

	memcpy(&h, p, sizeof(h));
	h.hdr_checksum = nhi_snap_hdr_checksum(&h);
	memcpy(p, &h, sizeof(h));
}

/* Lookups of everything; any answer but a crash is fine. */
static void poke_everything(void)
{
	static const char *names[] = { "svc-web", "svc-susp", "svc-exp", "svc-gone", "agent-x",
				       "svc-long", "svc-readers", "extra3", "nope" };
	struct passwd pw, *res;
	struct group gr, *gres;
	struct spwd sp, *sres;
	gid_t groups[64];
	char buf[2048];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int ng = 64;
		getpwnam_r(names[i], &pw, buf, sizeof(buf), &res);
		getgrnam_r(names[i], &gr, buf, sizeof(buf), &gres);
		getspnam_r(names[i], &sp, buf, sizeof(buf), &sres);
		getgrouplist(names[i], 3001, groups, &ng);
	}
	for (uint32_t id = 3000; id < 3110; id++) {
		getpwuid_r(id, &pw, buf, sizeof(buf), &res);
		getgrgid_r(id, &gr, buf, sizeof(buf), &gres);
	}
	setpwent();
	for (int i = 0; i < 100 && getpwent_r(&pw, buf, sizeof(buf), &res) == 0 && res; i++)
		;
	endpwent();
	setgrent();
	for (int i = 0; i < 100 && getgrent_r(&gr, buf, sizeof(buf), &gres) == 0 && gres; i++)
		;
	endgrent();
}

static void test_corrupt_snapshot(void **state)
{
	unsigned char *good, *bad;
	size_t n = 0;
	struct nhi_snap_hdr h;
	unsigned seed = 12345;

	publish_world(1);
	good = nsst_slurp(env.cache, &n);
	assert_non_null(good);
	bad = malloc(n);
	assert_non_null(bad);
	memcpy(&h, good, sizeof(h));

	/* empty, shorter than a header, truncated in the middle */
	assert_int_equal(nsst_install_bytes(env.cache, good, 0), 0);
	expect_unavail("empty");
	assert_int_equal(nsst_install_bytes(env.cache, good, 100), 0);
	expect_unavail("short");
	assert_int_equal(nsst_install_bytes(env.cache, good, n / 2), 0);
	expect_unavail("truncated");
	assert_int_equal(nsst_install_bytes(env.cache, good, n - 1), 0);
	expect_unavail("one byte short");

	/* bad magic, a header bit flip, wrong version, wrong byte order */
	memcpy(bad, good, n);
	bad[0] ^= 0x20;
	assert_int_equal(nsst_install_bytes(env.cache, bad, n), 0);
	expect_unavail("magic");
	memcpy(bad, good, n);
	bad[offsetof(struct nhi_snap_hdr, n_idents)] ^= 0x4;
	assert_int_equal(nsst_install_bytes(env.cache, bad, n), 0);
	expect_unavail("header bit flip");
	memcpy(bad, good, n);
	((struct nhi_snap_hdr *)bad)->version = NHI_SNAP_VERSION + 1;
	recompute_header(bad);
	assert_int_equal(nsst_install_bytes(env.cache, bad, n), 0);
	expect_unavail("version");
	/* a section pointing outside the file, with a valid header checksum */
	memcpy(bad, good, n);
	((struct nhi_snap_hdr *)bad)->strings_off = (uint32_t)n - 4;
	recompute_header(bad);
	assert_int_equal(nsst_install_bytes(env.cache, bad, n), 0);
	expect_unavail("section out of bounds");
	memcpy(bad, good, n);
	((struct nhi_snap_hdr *)bad)->n_idents = 1u << 30;
	recompute_header(bad);
	assert_int_equal(nsst_install_bytes(env.cache, bad, n), 0);
	expect_unavail("count out of bounds");

	/* The data checksum is not verified by NSS (see nss_common.h): random
	 * damage to records, indexes and strings must never crash a lookup. */
	for (int round = 0; round < 300; round++) {
		memcpy(bad, good, n);
		for (int k = 0; k < 1 + round % 8; k++) {
			size_t at = sizeof(h) + (size_t)rand_r(&seed) % (n - sizeof(h));
			if (round % 3 == 0)
				bad[at] = 0xff;
			else
				bad[at] ^= (unsigned char)(1u << (rand_r(&seed) % 8));
		}
		assert_int_equal(nsst_install_bytes(env.cache, bad, n), 0);
		poke_everything();
	}

	/* and back to a good file */
	publish_world(1);
	{
		struct passwd pw, *res = NULL;
		char buf[1024];
		assert_int_equal(getpwnam_r("svc-web", &pw, buf, sizeof(buf), &res), 0);
		assert_non_null(res);
		assert_int_equal(pw.pw_uid, 3001);
	}
	free(good);
	free(bad);
}

/* A snapshot writable by others is not trusted (NHI_SNAP_TRUST). */
static void test_untrusted_snapshot(void **state)
{
	unsigned char *good;
	size_t n = 0;

	publish_world(1);
	good = nsst_slurp(env.cache, &n);
	assert_non_null(good);
	assert_int_equal(nsst_install_bytes_mode(env.cache, good, n, 0666), 0);
	expect_unavail("world-writable");
	free(good);
	publish_world(1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passwd_by_name),
		cmocka_unit_test(test_passwd_by_uid),
		cmocka_unit_test(test_passwd_absent),
		cmocka_unit_test(test_locked_get_nologin),
		cmocka_unit_test(test_retired_vanish),
		cmocka_unit_test(test_group),
		cmocka_unit_test(test_enumerate_passwd),
		cmocka_unit_test(test_enumerate_group),
		cmocka_unit_test(test_gshadow),
		cmocka_unit_test(test_enumerate_gshadow),
		cmocka_unit_test(test_gshadow_erange),
		cmocka_unit_test(test_initgroups),
		cmocka_unit_test(test_initgroups_dyn_growth),
		cmocka_unit_test(test_shadow_root),
		cmocka_unit_test(test_shadow_expire_boundary),
		cmocka_unit_test(test_shadow_passwords),
		cmocka_unit_test(test_shadow_refused_for_others),
		cmocka_unit_test(test_erange_glibc),
		cmocka_unit_test(test_erange_entry_points),
		cmocka_unit_test(test_no_write_past_buffer),
		cmocka_unit_test(test_locked_at_expiry),
		cmocka_unit_test(test_enumerate_erange),
		cmocka_unit_test(test_republish_seen_at_once),
		cmocka_unit_test(test_replaced_without_stale),
		cmocka_unit_test(test_missing_snapshot),
		cmocka_unit_test(test_corrupt_snapshot),
		cmocka_unit_test(test_untrusted_snapshot),
	};
	int r;

	mod = nsst_load_module();
	now = time(NULL);
	if (nsst_setup(&env, NULL) < 0) {
		perror("setup");
		return 99;
	}
	/* This process's lookups go to the module only. */
	if (__nss_configure_lookup("passwd", "nhi") != 0 ||
	    __nss_configure_lookup("group", "nhi") != 0 ||
	    __nss_configure_lookup("shadow", "nhi") != 0 ||
	    __nss_configure_lookup("gshadow", "nhi") != 0 ||
	    __nss_configure_lookup("initgroups", "nhi") != 0) {
		fprintf(stderr, "__nss_configure_lookup failed\n");
		return 99;
	}
	r = cmocka_run_group_tests_name("nss_nhi", tests, setup, NULL);
	nsst_cleanup(&env);
	return r;
}

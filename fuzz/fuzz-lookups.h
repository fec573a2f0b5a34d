/* fuzz-lookups.h - every lookup of an open snapshot (lib's reader) and of
 * nss_nhi's entry points over the same file, with the properties that must
 * hold whatever the file says: an answer by name has that name, one by uid
 * that uid, each string is as long as its length says (a NUL inside a
 * string would let "root\0..." answer as root), and nss_nhi's answer does
 * not depend on the size of the caller's buffer: the smallest buffer that
 * works is found with exact-size heap buffers (so ASan sees one byte
 * written past it), and one byte less gives ERANGE.
 *
 * Shared by fuzz-snapshot.c (a base alone) and fuzz-delta.c (a delta
 * beside a valid base); the harness compiles nss_nhi's sources in and points
 * NHI_CONF at a configuration whose cache_path is the fuzzed file. */
#ifndef NHI_FUZZ_LOOKUPS_H
#define NHI_FUZZ_LOOKUPS_H

#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <shadow.h>
#include "fuzz.h"

/* nss_nhi's entry points (exported from libnss_nhi.so.2; compiled in) */
enum nss_status _nss_nhi_getpwnam_r(const char *, struct passwd *, char *, size_t, int *);
enum nss_status _nss_nhi_getpwuid_r(uid_t, struct passwd *, char *, size_t, int *);
enum nss_status _nss_nhi_setpwent(int);
enum nss_status _nss_nhi_getpwent_r(struct passwd *, char *, size_t, int *);
enum nss_status _nss_nhi_endpwent(void);
enum nss_status _nss_nhi_getgrnam_r(const char *, struct group *, char *, size_t, int *);
enum nss_status _nss_nhi_getgrgid_r(gid_t, struct group *, char *, size_t, int *);
enum nss_status _nss_nhi_setgrent(int);
enum nss_status _nss_nhi_getgrent_r(struct group *, char *, size_t, int *);
enum nss_status _nss_nhi_endgrent(void);
enum nss_status _nss_nhi_getspnam_r(const char *, struct spwd *, char *, size_t, int *);
enum nss_status _nss_nhi_setspent(int);
enum nss_status _nss_nhi_getspent_r(struct spwd *, char *, size_t, int *);
enum nss_status _nss_nhi_endspent(void);
enum nss_status _nss_nhi_initgroups_dyn(const char *, gid_t, long int *, long int *,
					gid_t **, long int, int *);

/* At most this many records of each kind are looked at per input by
 * lib's reader, and by nss_nhi (where each costs some twenty calls). */
#define FUZZ_MAX_RECS 32
#define FUZZ_MAX_NSS 8
/* The largest answer nss_nhi can give from a file the harness accepts. */
#define FUZZ_NSS_BIG (1u << 20)

/* Write the configuration nss_nhi reads (cache_path = the fuzzed file) and
 * point NHI_CONF at it: once, before the first lookup. */
static inline void fuzz_nss_setup(const char *cache)
{
	char conf[512], text[700];

	fuzz_path(conf, sizeof(conf), "nhi.conf");
	snprintf(text, sizeof(text), "cache_path = %s\n", cache);
	fuzz_replace(conf, text, strlen(text), 0);
	if (setenv("NHI_CONF", conf, 1) < 0)
		abort();
}

/* ---- lib's reader ------------------------------------------------------ */

static inline void check_ident(const struct nhi_ident *id)
{
	FUZZ_ASSERT(strlen(id->name) == id->name_len);
	FUZZ_ASSERT(strlen(id->gecos) == id->gecos_len);
	FUZZ_ASSERT(strlen(id->home) == id->home_len);
	FUZZ_ASSERT(strlen(id->shell) == id->shell_len);
	/* the cold strings are read to their NUL: they must end in the file */
	(void)strlen(id->owner);
	(void)strlen(id->purpose);
	(void)strlen(id->hosts);
	(void)strlen(id->services);
	FUZZ_ASSERT(id->state >= NHI_STATE_ACTIVE && id->state <= NHI_STATE_RETIRED);
}

static inline void check_pw(const struct nhi_pw *p)
{
	FUZZ_ASSERT(strlen(p->name) == p->name_len);
	FUZZ_ASSERT(strlen(nhi_pw_gecos(p)) == p->gecos_len);
	FUZZ_ASSERT(strlen(nhi_pw_home(p)) == p->home_len);
	FUZZ_ASSERT(strlen(nhi_pw_shell(p)) == p->shell_len);
}

/* Look an identity up every way the reader offers. */
static inline void lookup_ident(const struct nhi_snap *s, const char *name, uint32_t uid)
{
	struct nhi_ident id;
	struct nhi_pw pw;
	const uint32_t *gids;
	uint32_t n;

	if (nhi_snap_ident_by_name(s, name, &id) == 0) {
		check_ident(&id);
		FUZZ_ASSERT(strcmp(id.name, name) == 0);
	}
	if (nhi_snap_pw_by_name(s, name, &pw) == 0) {
		check_pw(&pw);
		FUZZ_ASSERT(strcmp(pw.name, name) == 0);
	}
	if (nhi_snap_ident_by_uid(s, uid, &id) == 0) {
		check_ident(&id);
		FUZZ_ASSERT(id.uid == uid);
	}
	if (nhi_snap_pw_by_uid(s, uid, &pw) == 0) {
		check_pw(&pw);
		FUZZ_ASSERT(pw.uid == uid);
	}
	if (nhi_snap_user_gids(s, name, &gids, &n) == 0) {
		uint32_t sum = 0;

		for (uint32_t i = 0; i < n; i++)
			sum += gids[i];
		fuzz_sink ^= sum;
	}
}

static inline void lookup_group(const struct nhi_snap *s, const struct nhi_group *g)
{
	struct nhi_group o;
	const char *m;

	(void)strlen(g->name);
	for (uint32_t i = 0; i < g->n_members && i < FUZZ_MAX_RECS; i++)
		if ((m = nhi_snap_group_member(s, g, i)) != NULL)
			(void)strlen(m);
	FUZZ_ASSERT(nhi_snap_group_member(s, g, g->n_members) == NULL);
	if (nhi_snap_group_by_name(s, g->name, &o) == 0)
		FUZZ_ASSERT(strcmp(o.name, g->name) == 0);
	if (nhi_snap_group_by_gid(s, g->gid, &o) == 0)
		FUZZ_ASSERT(o.gid == g->gid);
}

/* Names and ids no record need have: misses walk the probe sequences. */
static const char *const fuzz_names[] = { "root", "svc-web", "agent-ci", "svc-db", "svc-old",
					  "webteam", "svc000", "", "a" };
static const uint32_t fuzz_ids[] = { 0, 990001, 990002, 990004, 995000, 991000, 65534,
				     UINT32_MAX };

static inline void fuzz_snap_lookups(const struct nhi_snap *s)
{
	uint32_t n = nhi_snap_n_idents(s), ng = nhi_snap_n_groups(s);
	const struct nhi_snap_hdr *h = nhi_snap_header(s);
	struct nhi_ident id;
	struct nhi_pw pw;
	struct nhi_group g;

	FUZZ_ASSERT(h != NULL);
	(void)nhi_snap_delta_header(s);
	(void)nhi_snap_generation(s);
	(void)nhi_snap_keys_generation(s);
	(void)nhi_snap_stale(s);
	for (uint32_t i = 0, seen = 0; i < n && seen < FUZZ_MAX_RECS; i++) {
		if (nhi_snap_pw_at(s, i, &pw) == 0)
			check_pw(&pw);
		if (nhi_snap_ident_at(s, i, &id) != 0)
			continue;
		seen++;
		check_ident(&id);
		lookup_ident(s, id.name, id.uid);
	}
	(void)nhi_snap_ident_at(s, n, &id);
	for (uint32_t i = 0, seen = 0; i < ng && seen < FUZZ_MAX_RECS; i++) {
		if (nhi_snap_group_at(s, i, &g) != 0)
			continue;
		seen++;
		lookup_group(s, &g);
	}
	(void)nhi_snap_group_at(s, ng, &g);
	for (size_t i = 0; i < sizeof(fuzz_names) / sizeof(fuzz_names[0]); i++)
		lookup_ident(s, fuzz_names[i], fuzz_ids[i % (sizeof(fuzz_ids) / sizeof(fuzz_ids[0]))]);
	for (size_t i = 0; i < sizeof(fuzz_ids) / sizeof(fuzz_ids[0]); i++) {
		if (nhi_snap_group_by_gid(s, fuzz_ids[i], &g) == 0)
			lookup_group(s, &g);
		if (nhi_snap_group_by_name(s, fuzz_names[i], &g) == 0)
			lookup_group(s, &g);
	}
}

/* Open 'path' with each combination of flags a reader uses and look
 * everything up. */
static inline void fuzz_snap_all(const char *path)
{
	static const int flags[] = { 0, NHI_SNAP_VERIFY, NHI_SNAP_VERIFY_READ,
				     NHI_SNAP_VERIFY_READ | NHI_SNAP_TRUST, NHI_SNAP_NO_DELTA };
	char err[1024];

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct nhi_snap *s = NULL;

		if (nhi_snap_open(path, flags[i], &s, err, sizeof(err)) == 0) {
			fuzz_snap_lookups(s);
			nhi_snap_close(s);
		} else {
			FUZZ_ASSERT(s == NULL && err[0] != '\0');
		}
	}
	{
		uint64_t gen;

		(void)nhi_snap_base_generation(path, &gen, err, sizeof(err));
	}
}

/* ---- nss_nhi ------------------------------------------------------------ */

enum nss_q { Q_PWNAM, Q_PWUID, Q_GRNAM, Q_GRGID, Q_SPNAM };
union nss_res {
	struct passwd pw;
	struct group gr;
	struct spwd sp;
};

static inline enum nss_status nss_call(enum nss_q q, const char *name, uint32_t id, union nss_res *res,
				char *buf, size_t len, int *e)
{
	switch (q) {
	case Q_PWNAM: return _nss_nhi_getpwnam_r(name, &res->pw, buf, len, e);
	case Q_PWUID: return _nss_nhi_getpwuid_r(id, &res->pw, buf, len, e);
	case Q_GRNAM: return _nss_nhi_getgrnam_r(name, &res->gr, buf, len, e);
	case Q_GRGID: return _nss_nhi_getgrgid_r(id, &res->gr, buf, len, e);
	case Q_SPNAM: return _nss_nhi_getspnam_r(name, &res->sp, buf, len, e);
	}
	abort();
}

/* The strings of an answer, one after another, for comparing answers. */
static inline size_t nss_flat(enum nss_q q, const union nss_res *r, char *out, size_t outlen)
{
	size_t n = 0;
	int w;

#define FLAT(...) do { w = snprintf(out + n, outlen - n, __VA_ARGS__); \
		FUZZ_ASSERT(w >= 0 && (size_t)w < outlen - n); n += (size_t)w; } while (0)
	switch (q) {
	case Q_PWNAM:
	case Q_PWUID:
		FLAT("%s:%s:%u:%u:%s:%s:%s", r->pw.pw_name, r->pw.pw_passwd, r->pw.pw_uid,
		     r->pw.pw_gid, r->pw.pw_gecos, r->pw.pw_dir, r->pw.pw_shell);
		break;
	case Q_GRNAM:
	case Q_GRGID:
		FLAT("%s:%s:%u:", r->gr.gr_name, r->gr.gr_passwd, r->gr.gr_gid);
		for (char **m = r->gr.gr_mem; *m != NULL; m++)
			FLAT("%s,", *m);
		break;
	case Q_SPNAM:
		FLAT("%s:%s:%ld:%ld", r->sp.sp_namp, r->sp.sp_pwdp, r->sp.sp_lstchg,
		     r->sp.sp_expire);
		break;
	}
#undef FLAT
	return n;
}

/* One query: answered with a large buffer, then the smallest buffer that
 * works must give the same answer and one byte less ERANGE. */
static inline void nss_exact(enum nss_q q, const char *name, uint32_t id)
{
	static char *big, *want, *got;
	union nss_res res;
	enum nss_status st;
	size_t lo = 0, hi = 64, wl;
	int e = 0;

	if (big == NULL && ((big = malloc(FUZZ_NSS_BIG)) == NULL ||
			    (want = malloc(3 * FUZZ_NSS_BIG)) == NULL ||
			    (got = malloc(3 * FUZZ_NSS_BIG)) == NULL))
		abort();
	st = nss_call(q, name, id, &res, big, FUZZ_NSS_BIG, &e);
	if (st != NSS_STATUS_SUCCESS) {
		FUZZ_ASSERT(st != NSS_STATUS_TRYAGAIN);  /* 1 MiB holds any answer */
		return;
	}
	if (q == Q_PWNAM || q == Q_SPNAM || q == Q_GRNAM)
		FUZZ_ASSERT(strcmp(q == Q_SPNAM ? res.sp.sp_namp :
				   q == Q_GRNAM ? res.gr.gr_name : res.pw.pw_name, name) == 0);
	if (q == Q_PWUID)
		FUZZ_ASSERT(res.pw.pw_uid == id);
	if (q == Q_GRGID)
		FUZZ_ASSERT(res.gr.gr_gid == id);
	wl = nss_flat(q, &res, want, 3 * FUZZ_NSS_BIG);
	/* the smallest length that works, each try in a buffer of exactly
	 * that many bytes: doubling from 64, then halving */
	for (;; lo = hi + 1, hi *= 2) {
		char *b = malloc(hi);

		if (b == NULL)
			abort();
		st = nss_call(q, name, id, &res, b, hi, &e);
		free(b);
		if (st == NSS_STATUS_SUCCESS)
			break;
		FUZZ_ASSERT(st == NSS_STATUS_TRYAGAIN && e == ERANGE && hi < FUZZ_NSS_BIG);
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		char *b = malloc(mid > 0 ? mid : 1);

		if (b == NULL)
			abort();
		st = nss_call(q, name, id, &res, b, mid, &e);
		if (st == NSS_STATUS_SUCCESS)
			hi = mid;
		else {
			FUZZ_ASSERT(st == NSS_STATUS_TRYAGAIN && e == ERANGE);
			lo = mid + 1;
		}
		free(b);
	}
	{
		char *b = malloc(lo > 0 ? lo : 1);

		if (b == NULL)
			abort();
		st = nss_call(q, name, id, &res, b, lo, &e);
		FUZZ_ASSERT(st == NSS_STATUS_SUCCESS);
		FUZZ_ASSERT(nss_flat(q, &res, got, 3 * FUZZ_NSS_BIG) == wl && memcmp(got, want, wl) == 0);
		free(b);
		if (lo > 0) {
			b = malloc(lo - 1 > 0 ? lo - 1 : 1);
			if (b == NULL)
				abort();
			st = nss_call(q, name, id, &res, b, lo - 1, &e);
			FUZZ_ASSERT(st == NSS_STATUS_TRYAGAIN && e == ERANGE);
			free(b);
		}
	}
}

static inline void nss_initgroups(const char *user, gid_t group)
{
	long int start = 0, size = 1;
	gid_t *groups = malloc(sizeof(gid_t));
	int e = 0;

	if (groups == NULL)
		abort();
	(void)_nss_nhi_initgroups_dyn(user, group, &start, &size, &groups, 0, &e);
	FUZZ_ASSERT(start >= 0 && start <= size);
	for (long int i = 0; i < start; i++)
		FUZZ_ASSERT(groups[i] != group);
	free(groups);
	start = 0;
	size = 1;
	groups = malloc(sizeof(gid_t));
	if (groups == NULL)
		abort();
	(void)_nss_nhi_initgroups_dyn(user, group, &start, &size, &groups, 2, &e);
	FUZZ_ASSERT(start <= 2);
	free(groups);
}

/* Every nss_nhi entry point over the file the configuration names: what
 * the enumerations return is looked up again by name and by id. */
static inline void fuzz_nss_all(void)
{
	static char *buf;
	union nss_res res;
	int e, count;

	if (buf == NULL && (buf = malloc(FUZZ_NSS_BIG)) == NULL)
		abort();
	_nss_nhi_setpwent(0);
	for (count = 0; count < FUZZ_MAX_NSS &&
	     _nss_nhi_getpwent_r(&res.pw, buf, FUZZ_NSS_BIG, &e) == NSS_STATUS_SUCCESS; count++) {
		char name[NHI_SNAP_STR_MAX + 1];
		uint32_t uid = res.pw.pw_uid;
		gid_t gid = res.pw.pw_gid;

		snprintf(name, sizeof(name), "%s", res.pw.pw_name);
		nss_exact(Q_PWNAM, name, 0);
		nss_exact(Q_PWUID, NULL, uid);
		nss_exact(Q_SPNAM, name, 0);
		nss_initgroups(name, gid);
	}
	_nss_nhi_endpwent();
	_nss_nhi_setgrent(0);
	for (count = 0; count < FUZZ_MAX_NSS &&
	     _nss_nhi_getgrent_r(&res.gr, buf, FUZZ_NSS_BIG, &e) == NSS_STATUS_SUCCESS; count++) {
		char name[NHI_SNAP_STR_MAX + 1];
		gid_t gid = res.gr.gr_gid;

		snprintf(name, sizeof(name), "%s", res.gr.gr_name);
		nss_exact(Q_GRNAM, name, 0);
		nss_exact(Q_GRGID, NULL, gid);
	}
	_nss_nhi_endgrent();
	_nss_nhi_setspent(0);
	for (count = 0; count < FUZZ_MAX_NSS &&
	     _nss_nhi_getspent_r(&res.sp, buf, FUZZ_NSS_BIG, &e) == NSS_STATUS_SUCCESS; count++)
		;
	_nss_nhi_endspent();
	for (size_t i = 0; i < sizeof(fuzz_names) / sizeof(fuzz_names[0]); i++) {
		if (fuzz_names[i][0] == '\0')
			continue;
		nss_exact(Q_PWNAM, fuzz_names[i], 0);
		nss_exact(Q_GRNAM, fuzz_names[i], 0);
		nss_exact(Q_SPNAM, fuzz_names[i], 0);
		nss_initgroups(fuzz_names[i], 100);
	}
	for (size_t i = 0; i < sizeof(fuzz_ids) / sizeof(fuzz_ids[0]); i++) {
		nss_exact(Q_PWUID, NULL, fuzz_ids[i]);
		nss_exact(Q_GRGID, NULL, fuzz_ids[i]);
	}
}

#endif

/* Unit tests: the snapshot writer and reader, including damaged files. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "nhi_err.h"
#include "nhi_hash.h"
#include "nhi_snapshot.h"
#include "testtmp.h"

static char dir[300];
static char path[512];

/* The sample identity NAME (gid = uid). */
static void sample(struct nhi_ident *ip, const char *name, uint32_t uid, int state)
{
	struct nhi_ident id;

	memset(&id, 0, sizeof(id));
	id.name = name;
	id.uid = uid;
	id.gid = uid;
	id.gecos = "test identity";
	id.home = "/srv/x";
	id.shell = "/bin/sh";
	id.owner = "alice";
	id.purpose = "testing";
	id.hosts = "web-*,db-1";
	id.services = "";
	id.kind = NHI_KIND_AGENT;
	id.state = state;
	id.created = 1000;
	id.expires = 2000000000;
	id.review_interval = 86400;
	id.review_due = 1900000000;
	*ip = id;
}

static void add(struct nhi_snap_writer *w, const char *name, uint32_t uid, int state)
{
	struct nhi_ident id;

	sample(&id, name, uid, state);
	assert_int_equal(nhi_snapw_add_ident(w, &id), 0);
}

static void publish_sample(uint64_t gen, int n)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	const char *members[] = { "svc-0", "svc-1", "dave" };
	char name[32], err[256];

	assert_non_null(w);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		add(w, name, 2000000 + (uint32_t)i, i == 3 ? NHI_STATE_RETIRED : NHI_STATE_ACTIVE);
	}
	assert_int_equal(nhi_snapw_add_group(w, "robots", 1500, members, 3), 0);
	assert_int_equal(nhi_snapw_add_group(w, "deployers", 1501, members + 1, 1), 0);
	assert_int_equal(nhi_snapw_publish(w, path, gen, 12345, err, sizeof(err)), 0);
	nhi_snapw_free(w);
}

static void test_roundtrip(void **state)
{
	struct nhi_snap *s;
	struct nhi_ident id;
	struct nhi_pw pw;
	struct nhi_group g;
	const uint32_t *gids;
	uint32_t n;
	char err[256];
	struct stat st;

	publish_sample(7, 1000);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_header(s)->generation, 7);
	assert_int_equal(nhi_snap_header(s)->built_at, 12345);
	assert_int_equal(nhi_snap_n_idents(s), 1000);
	/* every identity by name and by uid */
	for (int i = 0; i < 1000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "svc-%d", i);
		assert_int_equal(nhi_snap_ident_by_name(s, name, &id), 0);
		assert_string_equal(id.name, name);
		assert_int_equal(id.uid, 2000000 + i);
		assert_int_equal(nhi_snap_ident_by_uid(s, 2000000 + (uint32_t)i, &id), 0);
		assert_string_equal(id.name, name);
	}
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-3", &id), 0);
	assert_int_equal(id.state, NHI_STATE_RETIRED);
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-0", &id), 0);
	assert_string_equal(id.owner, "alice");
	assert_string_equal(id.hosts, "web-*,db-1");
	assert_string_equal(id.services, "");
	assert_int_equal(id.kind, NHI_KIND_AGENT);
	assert_int_equal(id.expires, 2000000000);
	assert_int_equal(id.review_due, 1900000000);
	assert_int_equal(id.created, 1000);
	assert_int_equal(id.review_interval, 86400);
	/* the hot-record view NSS uses: what passwd needs, with lengths */
	assert_int_equal(nhi_snap_pw_by_name(s, "svc-12", &pw), 0);
	assert_string_equal(pw.name, "svc-12");
	assert_int_equal(pw.name_len, 6);
	assert_string_equal(nhi_pw_gecos(&pw), "test identity");
	assert_int_equal(pw.gecos_len, strlen("test identity"));
	assert_string_equal(nhi_pw_home(&pw), "/srv/x");
	assert_int_equal(pw.home_len, 6);
	assert_string_equal(nhi_pw_shell(&pw), "/bin/sh");
	assert_int_equal(pw.shell_len, 7);
	assert_int_equal(nhi_pw_strings_len(&pw), 7 + 14 + 7 + 8);
	assert_int_equal(pw.uid, 2000012);
	assert_int_equal(pw.gid, 2000012);
	assert_int_equal(pw.state, NHI_STATE_ACTIVE);
	assert_int_equal(pw.expires, 2000000000);
	assert_int_equal(nhi_snap_pw_by_uid(s, 2000012, &pw), 0);
	assert_string_equal(pw.name, "svc-12");
	assert_int_equal(nhi_snap_pw_by_name(s, "svc-3", &pw), 0);
	assert_int_equal(pw.state, NHI_STATE_RETIRED);
	assert_int_equal(nhi_snap_pw_by_name(s, "svc-1000", &pw), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_pw_by_name(s, "svc-1", &pw), 0);   /* a prefix of svc-12 */
	assert_int_equal(pw.uid, 2000001);
	assert_int_equal(nhi_snap_pw_by_uid(s, 1999999, &pw), NHI_ERR_NOTFOUND);
	/* the passwd view in name order agrees with the whole one */
	for (uint32_t i = 0; i < 1000; i++) {
		assert_int_equal(nhi_snap_ident_at(s, i, &id), 0);
		assert_int_equal(nhi_snap_pw_at(s, i, &pw), 0);
		assert_string_equal(pw.name, id.name);
		assert_ptr_equal(nhi_pw_shell(&pw), id.shell);
		assert_int_equal(pw.uid, id.uid);
		assert_int_equal(pw.state, id.state);
	}
	assert_int_equal(nhi_snap_pw_at(s, 1000, &pw), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_ident_by_name(s, "nobody", &id), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_ident_by_uid(s, 42, &id), NHI_ERR_NOTFOUND);
	/* enumeration is sorted by name */
	assert_int_equal(nhi_snap_ident_at(s, 0, &id), 0);
	assert_string_equal(id.name, "svc-0");
	assert_int_equal(nhi_snap_ident_at(s, 1000, &id), NHI_ERR_NOTFOUND);
	/* groups: 2 registry groups + one per non-retired identity */
	assert_int_equal(nhi_snap_n_groups(s), 2 + 999);
	assert_int_equal(nhi_snap_group_by_name(s, "robots", &g), 0);
	assert_int_equal(g.gid, 1500);
	assert_int_equal(g.n_members, 3);
	assert_string_equal(nhi_snap_group_member(s, &g, 2), "dave");
	assert_null(nhi_snap_group_member(s, &g, 3));
	assert_int_equal(nhi_snap_group_by_gid(s, 2000005, &g), 0);
	assert_string_equal(g.name, "svc-5");
	assert_int_equal(g.n_members, 0);
	assert_int_equal(nhi_snap_group_by_name(s, "svc-3", &g), NHI_ERR_NOTFOUND);
	/* memberships */
	assert_int_equal(nhi_snap_user_gids(s, "svc-1", &gids, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(gids[0], 1500);
	assert_int_equal(gids[1], 1501);
	assert_int_equal(nhi_snap_user_gids(s, "dave", &gids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(nhi_snap_user_gids(s, "svc-9", &gids, &n), NHI_ERR_NOTFOUND);
	assert_false(nhi_snap_stale(s));
	assert_false(nhi_snap_replaced(s));
	/* republish: the old mapping learns it is stale */
	publish_sample(8, 10);
	assert_true(nhi_snap_stale(s));
	assert_true(nhi_snap_replaced(s));
	nhi_snap_close(s);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_header(s)->generation, 8);
	assert_int_equal(nhi_snap_n_idents(s), 10);
	nhi_snap_close(s);
}

static void test_empty(void **state)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	struct nhi_snap *s;
	struct nhi_ident id;
	char err[256];

	assert_int_equal(nhi_snapw_publish(w, path, 1, 1, err, sizeof(err)), 0);
	nhi_snapw_free(w);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_n_idents(s), 0);
	assert_int_equal(nhi_snap_ident_by_name(s, "x", &id), NHI_ERR_NOTFOUND);
	nhi_snap_close(s);
}

static void test_duplicates(void **state)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	char err[256] = "";
	struct stat before, after;

	publish_sample(1, 5);
	assert_int_equal(stat(path, &before), 0);
	add(w, "svc-a", 2000000, 0);
	add(w, "svc-b", 2000000, 0);
	assert_int_equal(nhi_snapw_publish(w, path, 2, 1, err, sizeof(err)), NHI_ERR_EXISTS);
	assert_non_null(strstr(err, "duplicate uid 2000000"));
	nhi_snapw_free(w);
	/* nothing half-written: the old file is still in place */
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	w = nhi_snapw_new();
	add(w, "svc-a", 2000000, 0);
	add(w, "svc-a", 2000001, 0);
	assert_int_equal(nhi_snapw_publish(w, path, 2, 1, err, sizeof(err)), NHI_ERR_EXISTS);
	assert_non_null(strstr(err, "duplicate identity name 'svc-a'"));
	nhi_snapw_free(w);
}

/* A string of an identity is at most NHI_SNAP_STR_MAX bytes (its length
 * is a 16-bit field of the record); the longest one round-trips. */
static void test_long_strings(void **state)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	struct nhi_snap *s;
	struct nhi_ident id;
	char *big = malloc(NHI_SNAP_STR_MAX + 2), err[256];

	assert_non_null(big);
	memset(big, 'p', NHI_SNAP_STR_MAX + 1);
	big[NHI_SNAP_STR_MAX + 1] = '\0';
	memset(&id, 0, sizeof(id));
	id.name = "svc-long";
	id.uid = id.gid = 4242;
	id.purpose = big;
	assert_int_equal(nhi_snapw_add_ident(w, &id), NHI_ERR_RANGE);
	/* nothing is published after a failed add, and the error says why */
	assert_int_equal(nhi_snapw_publish(w, path, 1, 1, err, sizeof(err)), NHI_ERR_RANGE);
	assert_non_null(strstr(err, "an earlier add failed"));
	nhi_snapw_free(w);
	w = nhi_snapw_new();
	big[NHI_SNAP_STR_MAX] = '\0';
	id.gecos = big;
	assert_int_equal(nhi_snapw_add_ident(w, &id), 0);
	assert_int_equal(nhi_snapw_publish(w, path, 1, 1, err, sizeof(err)), 0);
	nhi_snapw_free(w);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_ident_by_uid(s, 4242, &id), 0);
	assert_int_equal(strlen(id.purpose), NHI_SNAP_STR_MAX);
	assert_int_equal(id.gecos_len, NHI_SNAP_STR_MAX);
	assert_int_equal(strlen(id.gecos), NHI_SNAP_STR_MAX);
	nhi_snap_close(s);
	free(big);
}

static unsigned char *slurp_path(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	unsigned char *b;
	struct stat st;

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	b = malloc((size_t)st.st_size);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	*n = (size_t)st.st_size;
	return b;
}

static unsigned char *slurp(size_t *n)
{
	return slurp_path(path, n);
}

static void spit(const char *p, const unsigned char *b, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	close(fd);
}

/* Use whatever a damaged file yields: every lookup must return, not crash. */
static void exercise(struct nhi_snap *s)
{
	struct nhi_ident id;
	struct nhi_pw pw;
	struct nhi_group g;
	const uint32_t *gids;
	uint32_t n;
	char name[32];

	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		(void)nhi_snap_ident_by_name(s, name, &id);
		(void)nhi_snap_ident_by_uid(s, 2000000 + (uint32_t)i, &id);
		/* the passwd view: NSS copies its strings whole, so each must
		 * end where its length says, or before (a damaged byte may be
		 * a NUL: wrong but bounded) */
		if (nhi_snap_pw_by_name(s, name, &pw) == 0)
			assert_true(strlen(nhi_pw_shell(&pw)) <= pw.shell_len);
		if (nhi_snap_pw_by_uid(s, 2000000 + (uint32_t)i, &pw) == 0)
			assert_true(strlen(pw.name) <= pw.name_len);
		if (nhi_snap_pw_at(s, (uint32_t)i, &pw) == 0)
			assert_true(strlen(nhi_pw_gecos(&pw)) <= pw.gecos_len &&
				    strlen(nhi_pw_home(&pw)) <= pw.home_len);
		(void)nhi_snap_group_by_name(s, name, &g);
		(void)nhi_snap_group_by_gid(s, 2000000 + (uint32_t)i, &g);
		(void)nhi_snap_user_gids(s, name, &gids, &n);
		if (nhi_snap_ident_at(s, (uint32_t)i, &id) == 0)
			assert_non_null(id.name);
		if (nhi_snap_group_at(s, (uint32_t)i, &g) == 0)
			for (uint32_t m = 0; m < g.n_members && m < 10; m++)
				(void)nhi_snap_group_member(s, &g, m);
	}
}

/* What a writer of another version would have made of the header. */
static void rehash_header(unsigned char *b)
{
	struct nhi_snap_hdr h;

	memcpy(&h, b, sizeof(h));
	h.hdr_checksum = nhi_snap_hdr_checksum(&h);
	memcpy(b, &h, sizeof(h));
}

/* Open b (n bytes) as a snapshot without VERIFY: the damage below is in
 * the data, which only the data checksum would notice. */
static struct nhi_snap *open_bytes(const unsigned char *b, size_t n)
{
	char bad[600], err[256];
	struct nhi_snap *s;

	snprintf(bad, sizeof(bad), "%s/rec.cache", dir);
	spit(bad, b, n);
	assert_int_equal(nhi_snap_open(bad, 0, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_open(bad, NHI_SNAP_VERIFY, &(struct nhi_snap *){ NULL }, err,
				       sizeof(err)), NHI_ERR_FORMAT);
	return s;
}

/* The bucket of the name index that holds 'name' (the key is present). */
static struct nhi_snap_bucket *name_bucket(unsigned char *b, const char *name)
{
	const struct nhi_snap_hdr *h = (const void *)b;
	struct nhi_snap_bucket *idx = (void *)(b + h->name_idx_off);
	uint64_t hv = nhi_hash_str(name);
	uint32_t pos = (uint32_t)hv & (h->name_idx_size - 1);

	while (idx[pos].tag != (uint32_t)(hv >> 32))
		pos = (pos + 1) & (h->name_idx_size - 1);
	return &idx[pos];
}

/* Format version 2 damage that passes the header checks: every record
 * reference, size, length and terminator is checked at the lookup, which
 * answers NHI_ERR_FORMAT, never reads outside the file. */
static void test_bad_records(void **state)
{
	unsigned char *orig, *b;
	size_t n;
	struct nhi_snap *s;
	struct nhi_snap_ident_rec *rec;
	struct nhi_snap_ident_cold *cold;
	struct nhi_snap_bucket *bk;
	struct nhi_ident id;
	struct nhi_pw pw;

	publish_sample(4, 30);
	orig = slurp(&n);
	b = malloc(n);
	assert_non_null(b);
#define RESET() do { memcpy(b, orig, n); bk = name_bucket(b, "svc-7"); \
		     rec = (void *)(b + bk->ref); cold = (void *)(b + rec->cold); } while (0)

	/* a bucket pointing outside the idents section, or misaligned */
	RESET();
	bk->ref = (uint32_t)n - 8;
	s = open_bytes(b, n);
	assert_int_equal(nhi_snap_pw_by_name(s, "svc-7", &pw), NHI_ERR_FORMAT);
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-8", &id), 0);
	nhi_snap_close(s);
	RESET();
	bk->ref += 4;
	s = open_bytes(b, n);
	assert_int_equal(nhi_snap_pw_by_name(s, "svc-7", &pw), NHI_ERR_FORMAT);
	nhi_snap_close(s);
	/* a state no writer makes (one past retired): a format error, both
	 * for the passwd view and the whole identity */
	RESET();
	rec->state = NHI_STATE_RETIRED + 1;
	s = open_bytes(b, n);
	assert_int_equal(nhi_snap_pw_by_name(s, "svc-7", &pw), NHI_ERR_FORMAT);
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-7", &id), NHI_ERR_FORMAT);
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-8", &id), 0);
	nhi_snap_close(s);
	/* a record whose strings would run past its size, or past the section */
	RESET();
	rec->len[NHI_SNAP_S_GECOS] = 60000;
	s = open_bytes(b, n);
	assert_int_equal(nhi_snap_pw_by_name(s, "svc-7", &pw), NHI_ERR_FORMAT);
	assert_int_equal(nhi_snap_pw_by_uid(s, 2000007, &pw), NHI_ERR_FORMAT);
	nhi_snap_close(s);
	RESET();
	rec = (void *)(b + ((uint32_t *)(b + ((struct nhi_snap_hdr *)b)->order_off))[29]);
	rec->len[NHI_SNAP_S_SHELL] += 64;  /* the last record: now past the section */
	s = open_bytes(b, n);
	assert_int_equal(nhi_snap_pw_by_name(s, "svc-9", &pw), NHI_ERR_FORMAT);
	assert_int_equal(nhi_snap_ident_at(s, 29, &id), NHI_ERR_FORMAT);
	assert_int_equal(nhi_snap_ident_at(s, 28, &id), 0);
	nhi_snap_close(s);
	/* a string without its NUL: each of the four hot ones */
	for (int i = 0; i < NHI_SNAP_NHOT; i++) {
		size_t at = 0;

		RESET();
		for (int j = 0; j <= i; j++)
			at += rec->len[j] + (j < i);
		((char *)(rec + 1))[at] = 'x';
		s = open_bytes(b, n);
		assert_int_equal(nhi_snap_pw_by_name(s, "svc-8", &pw), 0);
		assert_int_equal(nhi_snap_pw_by_uid(s, 2000007, &pw), NHI_ERR_FORMAT);
		assert_int_equal(nhi_snap_ident_by_uid(s, 2000007, &id), NHI_ERR_FORMAT);
		nhi_snap_close(s);
	}
	/* a NUL inside a string (its length disagrees with its first NUL):
	 * "svc-7" must not answer as "sv"; each hot string, then each cold one */
	for (int i = 0; i < NHI_SNAP_NHOT; i++) {
		size_t at = 0;

		RESET();
		for (int j = 0; j < i; j++)
			at += rec->len[j] + 1u;
		if (rec->len[i] < 2)
			continue;
		((char *)(rec + 1))[at + 1] = '\0';
		s = open_bytes(b, n);
		assert_int_equal(nhi_snap_pw_by_uid(s, 2000007, &pw), NHI_ERR_FORMAT);
		assert_int_equal(nhi_snap_ident_by_uid(s, 2000007, &id), NHI_ERR_FORMAT);
		assert_int_equal(nhi_snap_pw_by_uid(s, 2000008, &pw), 0);
		nhi_snap_close(s);
	}
	for (int i = 0; i < NHI_SNAP_NSTR - NHI_SNAP_NHOT; i++) {
		size_t at = 0;

		RESET();
		for (int j = 0; j < i; j++)
			at += cold->len[j] + 1u;
		if (cold->len[i] < 2)
			continue;
		((char *)(cold + 1))[at + 1] = '\0';
		s = open_bytes(b, n);
		assert_int_equal(nhi_snap_ident_by_uid(s, 2000007, &id), NHI_ERR_FORMAT);
		assert_int_equal(nhi_snap_ident_by_uid(s, 2000008, &id), 0);
		nhi_snap_close(s);
	}
	/* an unknown state */
	RESET();
	rec->state = 9;
	s = open_bytes(b, n);
	assert_int_equal(nhi_snap_pw_by_name(s, "svc-7", &pw), NHI_ERR_FORMAT);
	nhi_snap_close(s);
	/* the cold record: outside its section, or a string past its size;
	 * the hot view does not read it */
	RESET();
	rec->cold = rec->cold + 4;
	s = open_bytes(b, n);
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-7", &id), NHI_ERR_FORMAT);
	assert_int_equal(nhi_snap_pw_by_name(s, "svc-7", &pw), 0);
	nhi_snap_close(s);
	RESET();
	rec->cold = (uint32_t)n;
	s = open_bytes(b, n);
	assert_int_equal(nhi_snap_ident_by_uid(s, 2000007, &id), NHI_ERR_FORMAT);
	nhi_snap_close(s);
	RESET();
	cold->len[NHI_SNAP_S_HOSTS - NHI_SNAP_NHOT] = 65535;
	s = open_bytes(b, n);
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-7", &id), NHI_ERR_FORMAT);
	nhi_snap_close(s);
	/* a group record whose members run past the u32 pool, start past it,
	 * or whose name lies outside the string table; a member name outside
	 * it: each lookup of that group is a format error, the others answer */
	{
		const struct nhi_snap_hdr *h = (const void *)b;
		struct nhi_snap_group_rec *g = NULL;
		struct nhi_group grp;

		for (int round = 0; round < 4; round++) {
			RESET();
			g = (void *)(b + h->groups_off);
			while (g->gid != 1500)
				g++;
			switch (round) {
			case 0: g->n_members = h->u32_count - g->members_off + 1; break;
			case 1: g->members_off = h->u32_count + 1; g->n_members = 0; break;
			case 2: g->name = h->strings_size; break;
			case 3: ((uint32_t *)(b + h->u32_off))[g->members_off + 1] = h->strings_size + 7;
				break;
			}
			s = open_bytes(b, n);
			if (round < 3) {
				assert_int_equal(nhi_snap_group_by_gid(s, 1500, &grp), NHI_ERR_FORMAT);
				if (round < 2)
					assert_int_equal(nhi_snap_group_by_name(s, "robots", &grp),
							 NHI_ERR_FORMAT);
			} else {
				assert_int_equal(nhi_snap_group_by_gid(s, 1500, &grp), 0);
				assert_non_null(nhi_snap_group_member(s, &grp, 0));
				assert_null(nhi_snap_group_member(s, &grp, 1));
			}
			assert_int_equal(nhi_snap_group_by_gid(s, 1501, &grp), 0);
			nhi_snap_close(s);
		}
	}
	/* the same for a group whose members do not start the pool: its count
	 * alone fits the pool, its end (members_off + n_members) does not */
	{
		const struct nhi_snap_hdr *h = (const void *)b;
		struct nhi_snap_group_rec *g;
		struct nhi_group grp;

		RESET();
		g = (void *)(b + h->groups_off);
		while (g->gid != 1501)
			g++;
		assert_true(g->members_off > 0);
		g->n_members = h->u32_count - g->members_off + 1;
		s = open_bytes(b, n);
		assert_int_equal(nhi_snap_group_by_gid(s, 1501, &grp), NHI_ERR_FORMAT);
		assert_int_equal(nhi_snap_group_by_name(s, "deployers", &grp), NHI_ERR_FORMAT);
		assert_int_equal(nhi_snap_group_by_gid(s, 1500, &grp), 0);
		nhi_snap_close(s);
	}
	/* the enumeration table pointing into the middle of a record */
	RESET();
	((uint32_t *)(b + ((struct nhi_snap_hdr *)b)->order_off))[0] += 8;
	s = open_bytes(b, n);
	assert_int_equal(nhi_snap_ident_at(s, 0, &id), NHI_ERR_FORMAT);
	nhi_snap_close(s);
#undef RESET
	free(b);
	free(orig);
}

/* A NUL anywhere inside the strings of a hot record, at every position
 * and for records of every size around the reader's 16-byte steps (the
 * four strings take n = 9 to 120 bytes with their NULs), and a
 * terminator replaced: every lookup by uid answers NHI_ERR_FORMAT; the
 * intact record answers. */
/* The string table's final NUL: checked at open when verifying; without
 * verification (nss_nhi) at each use, so opening does not read the page
 * it lies on, and a string of a table without it is a format error. */
static void test_string_table_end(void **state)
{
	struct nhi_snap_hdr *h;
	struct nhi_snap *s;
	struct nhi_group g;
	struct nhi_pw pw;
	unsigned char *b;
	char err[256];
	size_t n;

	(void)state;
	publish_sample(40, 4);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_group_by_name(s, "robots", &g), 0);
	assert_string_equal(nhi_snap_group_member(s, &g, 0), "svc-0");
	nhi_snap_close(s);
	b = slurp(&n);
	h = (struct nhi_snap_hdr *)b;
	assert_int_equal(b[h->strings_off + h->strings_size - 1], '\0');
	b[h->strings_off + h->strings_size - 1] = 'x';
	spit(path, b, n);
	for (int f = 0; f < 2; f++) {
		int flags = f ? NHI_SNAP_VERIFY : NHI_SNAP_VERIFY_READ;

		assert_int_equal(nhi_snap_open(path, flags, &s, err, sizeof(err)), NHI_ERR_FORMAT);
		assert_non_null(strstr(err, "bad string table"));
	}
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_pw_by_name(s, "svc-1", &pw), 0);  /* no table string */
	assert_int_equal(nhi_snap_group_by_name(s, "robots", &g), NHI_ERR_FORMAT);
	assert_int_equal(nhi_snap_group_by_gid(s, 1500, &g), NHI_ERR_FORMAT);
	nhi_snap_close(s);
	free(b);
}

static void test_inner_nul(void **state)
{
	static const unsigned sizes[] = { 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 80, 120 };
	char gecos[128], err[256];

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct nhi_snap_writer *w = nhi_snapw_new();
		struct nhi_ident id;
		struct nhi_pw pw;
		struct nhi_snap *s;
		unsigned char *orig, *b;
		size_t n;
		unsigned len = sizes[k];

		memset(gecos, 'g', len - 9);
		gecos[len - 9] = '\0';
		memset(&id, 0, sizeof(id));
		id.name = "s";
		id.uid = id.gid = 4343;
		id.gecos = gecos;
		id.home = "/h";
		id.shell = "/x";
		id.owner = "alice";
		id.expires = 2000000000;
		assert_int_equal(nhi_snapw_add_ident(w, &id), 0);
		assert_int_equal(nhi_snapw_publish(w, path, 1, 1, err, sizeof(err)), 0);
		nhi_snapw_free(w);
		orig = slurp(&n);
		b = malloc(n);
		assert_non_null(b);
		for (unsigned at = 0; at <= len; at++) {
			struct nhi_snap_ident_rec *rec;
			char *str;
			int want_ok;

			memcpy(b, orig, n);
			rec = (void *)(b + name_bucket(b, "s")->ref);
			assert_int_equal(rec->len[NHI_SNAP_S_GECOS], len - 9);
			str = (char *)(rec + 1);
			if (at == len) {
				want_ok = 1;  /* intact */
			} else if (str[at] == '\0') {
				str[at] = 'x';  /* a terminator gone */
				want_ok = 0;
			} else {
				str[at] = '\0';  /* a NUL inside */
				want_ok = 0;
			}
			if (want_ok)
				assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY, &s, err,
							       sizeof(err)), 0);
			else
				s = open_bytes(b, n);
			assert_int_equal(nhi_snap_pw_by_uid(s, 4343, &pw), want_ok ? 0 : NHI_ERR_FORMAT);
			assert_int_equal(nhi_snap_ident_by_uid(s, 4343, &id), want_ok ? 0 : NHI_ERR_FORMAT);
			nhi_snap_close(s);
		}
		free(b);
		free(orig);
	}
}

/* Damage the file victim (whose intact bytes are orig, n of them; b is
 * scratch of n bytes) and open the snapshot at open_path each time: one
 * bit flipped anywhere, which VERIFY always notices (but for the stale
 * word, which no checksum covers) and which without VERIFY may be
 * accepted but never crashes a lookup; then garbage bytes in the data
 * under a valid header. */
static void flip_and_scramble(const char *victim, const char *open_path,
			      const unsigned char *orig, unsigned char *b, size_t n)
{
	struct nhi_snap *s;
	char err[256];
	int r;

	for (size_t off = 0; off < n; off += 3) {
		memcpy(b, orig, n);
		b[off] ^= (unsigned char)(1u << (off % 8));
		spit(victim, b, n);
		r = nhi_snap_open(open_path, NHI_SNAP_VERIFY, &s, err, sizeof(err));
		if (off >= offsetof(struct nhi_snap_hdr, stale) &&
		    off < offsetof(struct nhi_snap_hdr, stale) + 4) {
			assert_int_equal(r, 0);
			nhi_snap_close(s);
		} else {
			assert_true(r == NHI_ERR_FORMAT || r == NHI_ERR_VERSION);
		}
		if (nhi_snap_open(open_path, 0, &s, err, sizeof(err)) == 0) {
			exercise(s);
			nhi_snap_close(s);
		}
	}
	for (int seed = 1; seed < 50; seed++) {
		memcpy(b, orig, n);
		srand((unsigned)seed);
		for (size_t off = sizeof(struct nhi_snap_hdr); off < n; off++)
			if (rand() % 16 == 0)
				b[off] = (unsigned char)rand();
		spit(victim, b, n);
		if (nhi_snap_open(open_path, 0, &s, err, sizeof(err)) == 0) {
			exercise(s);
			nhi_snap_close(s);
		}
		assert_int_equal(nhi_snap_open(open_path, NHI_SNAP_VERIFY, &s, err, sizeof(err)),
				 NHI_ERR_FORMAT);
	}
}

/* A section that starts inside the file but runs past its end (its size
 * alone would fit): refused at open, even with a valid header checksum. */
static void test_section_past_end(void **state)
{
	char bad[600], err[256];
	unsigned char *orig, *b;
	size_t n;
	struct nhi_snap *s = NULL;

	publish_sample(3, 30);
	orig = slurp(&n);
	b = malloc(n);
	assert_non_null(b);
	snprintf(bad, sizeof(bad), "%s/past.cache", dir);
	for (int round = 0; round < 3; round++) {
		struct nhi_snap_hdr *h = (struct nhi_snap_hdr *)b;

		memcpy(b, orig, n);
		switch (round) {
		case 0: h->strings_size = (uint32_t)(h->file_size - h->strings_off + 1); break;
		case 1: h->idents_size = (uint32_t)(h->file_size - h->idents_off + 8); break;
		case 2: h->u32_count = (uint32_t)((h->file_size - h->u32_off) / 4 + 1); break;
		}
		rehash_header(b);
		spit(bad, b, n);
		err[0] = '\0';
		assert_int_equal(nhi_snap_open(bad, 0, &s, err, sizeof(err)), NHI_ERR_FORMAT);
		assert_non_null(strstr(err, "past.cache: a section lies outside the file"));
	}
	free(b);
	free(orig);
}

static void test_damaged(void **state)
{
	char bad[600], err[256];
	unsigned char *orig, *b;
	size_t n;
	struct nhi_snap *s;
	int r;

	publish_sample(3, 30);
	orig = slurp(&n);
	b = malloc(n);
	assert_non_null(b);
	snprintf(bad, sizeof(bad), "%s/bad.cache", dir);

	/* truncated at every length from 0 up to the whole file (step 7) */
	for (size_t len = 0; len < n; len += 7) {
		spit(bad, orig, len);
		err[0] = '\0';
		r = nhi_snap_open(bad, 0, &s, err, sizeof(err));
		assert_int_equal(r, NHI_ERR_FORMAT);
		assert_non_null(strstr(err, "bad.cache"));
	}
	flip_and_scramble(bad, bad, orig, b, n);
	/* wrong version: a clear error, also with a valid header checksum */
	memcpy(b, orig, n);
	{
		struct nhi_snap_hdr *h = (struct nhi_snap_hdr *)b;
		h->version = 99;
	}
	spit(bad, b, n);
	assert_int_equal(nhi_snap_open(bad, 0, &s, err, sizeof(err)), NHI_ERR_VERSION);
	assert_non_null(strstr(err, "version 99"));
	/* format version 1 (the one before): refused, saying how to mend it */
	((struct nhi_snap_hdr *)b)->version = 1;
	rehash_header(b);
	spit(path, b, n);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_TRUST, &s, err, sizeof(err)), NHI_ERR_VERSION);
	assert_non_null(strstr(err, "nhi.cache: snapshot format version 1, this build reads version 2"));
	assert_non_null(strstr(err, "nhictl publish"));
	/* and publishing replaces it, marking the old file stale (the stale
	 * word is where it was in version 1) */
	{
		int fd = open(path, O_RDONLY);
		uint32_t stale = 0;

		assert_true(fd >= 0);
		publish_sample(5, 3);
		assert_int_equal(pread(fd, &stale, sizeof(stale), offsetof(struct nhi_snap_hdr, stale)),
				 sizeof(stale));
		assert_int_equal(stale, 1);
		close(fd);
	}
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_header(s)->version, NHI_SNAP_VERSION);
	nhi_snap_close(s);
	/* not a snapshot at all */
	spit(bad, (const unsigned char *)"hello world, this is not a snapshot at all......", 48);
	assert_int_equal(nhi_snap_open(bad, 0, &s, err, sizeof(err)), NHI_ERR_FORMAT);
	/* missing */
	assert_int_equal(nhi_snap_open("/nonexistent/nhi.cache", 0, &s, err, sizeof(err)), NHI_ERR_NOTFOUND);
	/* untrusted: group-writable */
	spit(bad, orig, n);
	chmod(bad, 0664);
	assert_int_equal(nhi_snap_open(bad, NHI_SNAP_TRUST, &s, err, sizeof(err)), NHI_ERR_PERM);
	free(b);
	free(orig);
}

/* ---- verifying what is read (NHI_SNAP_VERIFY_READ) ------------------- */

/* n sample identities in blocks of 4 KiB, so that even a small file has
 * more blocks than NHI_SNAP_VERIFY_READ_WHOLE. */
static void publish_blocks(uint64_t gen, int n)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	char name[32], err[256];

	assert_non_null(w);
	assert_int_equal(nhi_snapw_set_block_shift(w, NHI_SNAP_BLOCK_SHIFT_MIN - 1), NHI_ERR_INVAL);
	assert_int_equal(nhi_snapw_set_block_shift(w, NHI_SNAP_BLOCK_SHIFT_MAX + 1), NHI_ERR_INVAL);
	assert_int_equal(nhi_snapw_set_block_shift(w, 12), 0);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		add(w, name, 2000000 + (uint32_t)i, NHI_STATE_ACTIVE);
	}
	assert_int_equal(nhi_snapw_publish(w, path, gen, 12345, err, sizeof(err)), 0);
	nhi_snapw_free(w);
}

/* Look every identity up by name, uid and position: 0 with the right
 * answer or NHI_ERR_FORMAT, never a wrong answer.  Returns how many of
 * the n failed; *failed_k says whether identity k did. */
static int lookups_failing(struct nhi_snap *s, int n, int k, int *failed_k)
{
	struct nhi_ident id;
	char name[32];
	int failed = 0;

	*failed_k = 0;
	for (int i = 0; i < n; i++) {
		int a, b;

		snprintf(name, sizeof(name), "svc-%d", i);
		a = nhi_snap_ident_by_name(s, name, &id);
		assert_true(a == 0 || a == NHI_ERR_FORMAT);
		if (a == 0) {
			assert_string_equal(id.name, name);
			assert_int_equal(id.uid, 2000000 + (uint32_t)i);
			assert_string_equal(id.owner, "alice");
			assert_string_equal(id.hosts, "web-*,db-1");
		}
		b = nhi_snap_ident_by_uid(s, 2000000 + (uint32_t)i, &id);
		assert_true(b == 0 || b == NHI_ERR_FORMAT);
		if (b == 0) {
			assert_string_equal(id.name, name);
			assert_string_equal(id.purpose, "testing");
		}
		if (a < 0)
			failed++;
		if (i == k)
			*failed_k = a < 0;
	}
	for (uint32_t i = 0; i < (uint32_t)n; i++) {
		int r = nhi_snap_ident_at(s, i, &id);
		assert_true(r == 0 || r == NHI_ERR_FORMAT);
		if (r == 0)
			assert_string_equal(id.owner, "alice");
	}
	return failed;
}

static void test_verify_read(void **state)
{
	const int n = 300;
	char bad[600], err[256];
	unsigned char *orig, *b;
	struct nhi_snap_hdr h;
	struct nhi_snap *s;
	size_t len;
	int failed_k, idents_blocks = 0;

	publish_blocks(7, n);
	orig = slurp(&len);
	memcpy(&h, orig, sizeof(h));
	assert_int_equal(h.block_shift, 12);
	assert_true(h.n_blocks > NHI_SNAP_VERIFY_READ_WHOLE);
	assert_int_equal(h.blocks_off + 8ull * h.n_blocks, h.file_size);
	b = malloc(len);
	assert_non_null(b);
	snprintf(bad, sizeof(bad), "%s/blocks.cache", dir);

	/* intact: every lookup answers */
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY_READ, &s, err, sizeof(err)), 0);
	assert_int_equal(lookups_failing(s, n, 0, &failed_k), 0);
	nhi_snap_close(s);

	/* one bit flipped in each block in turn: the whole check refuses the
	 * file; the block check opens it and fails exactly the lookups that
	 * read the block, here the identity whose hot record is in it */
	for (uint32_t blk = 0; blk < h.n_blocks; blk++) {
		uint64_t at = h.hdr_size + ((uint64_t)blk << h.block_shift) + 40;
		const uint32_t *order = (const void *)(orig + h.order_off);
		int k = -1, failed;

		if (at >= h.blocks_off)
			at = h.blocks_off - 1;
		/* an identity whose hot record (its first 32 bytes) holds 'at' */
		for (int i = 0; i < n; i++) {
			if (order[i] <= at && at < order[i] + 32) {
				k = (int)strtol((const char *)orig + order[i] + 32 + 4, NULL, 10);
				break;
			}
		}
		memcpy(b, orig, len);
		b[at] ^= 0x04;
		spit(bad, b, len);
		assert_int_equal(nhi_snap_open(bad, NHI_SNAP_VERIFY, &s, err, sizeof(err)),
				 NHI_ERR_FORMAT);
		assert_int_equal(nhi_snap_open(bad, NHI_SNAP_VERIFY_READ, &s, err, sizeof(err)), 0);
		failed = lookups_failing(s, n, k, &failed_k);
		nhi_snap_close(s);
		if (k >= 0) {
			assert_true(failed_k);
			assert_true(failed < n);  /* not everything: only what reads the block */
			idents_blocks++;
		}
	}
	assert_true(idents_blocks >= 3);

	/* the block table itself damaged: refused at open */
	memcpy(b, orig, len);
	b[h.blocks_off + 3] ^= 0x01;
	spit(bad, b, len);
	assert_int_equal(nhi_snap_open(bad, NHI_SNAP_VERIFY_READ, &s, err, sizeof(err)), NHI_ERR_FORMAT);
	assert_non_null(strstr(err, "block table checksum mismatch"));
	/* a table that does not fit the header (with a valid header checksum) */
	memcpy(b, orig, len);
	((struct nhi_snap_hdr *)b)->n_blocks = h.n_blocks - 1;
	rehash_header(b);
	spit(bad, b, len);
	assert_int_equal(nhi_snap_open(bad, 0, &s, err, sizeof(err)), NHI_ERR_FORMAT);
	assert_non_null(strstr(err, "bad block table"));
	((struct nhi_snap_hdr *)b)->n_blocks = h.n_blocks;
	((struct nhi_snap_hdr *)b)->block_shift = NHI_SNAP_BLOCK_SHIFT_MAX + 1;
	rehash_header(b);
	spit(bad, b, len);
	assert_int_equal(nhi_snap_open(bad, 0, &s, err, sizeof(err)), NHI_ERR_FORMAT);
	/* a file of a writer before the table (n_blocks 0) is verified whole */
	memcpy(b, orig, len);
	((struct nhi_snap_hdr *)b)->n_blocks = 0;
	rehash_header(b);
	spit(bad, b, len);
	assert_int_equal(nhi_snap_open(bad, NHI_SNAP_VERIFY_READ, &s, err, sizeof(err)), 0);
	assert_int_equal(lookups_failing(s, n, 0, &failed_k), 0);
	nhi_snap_close(s);
	b[h.groups_off + 1] ^= 0x01;   /* a block no identity lookup reads */
	spit(bad, b, len);
	assert_int_equal(nhi_snap_open(bad, NHI_SNAP_VERIFY_READ, &s, err, sizeof(err)), NHI_ERR_FORMAT);
	assert_non_null(strstr(err, "data checksum mismatch"));
	/* and so is a file of a few blocks (nhictl's 16 KiB blocks: up to
	 * about 128 KiB): a flip anywhere fails the open */
	publish_sample(8, 30);
	free(orig);
	orig = slurp(&len);
	memcpy(&h, orig, sizeof(h));
	assert_int_equal(h.block_shift, NHI_SNAP_BLOCK_SHIFT);
	assert_true(h.n_blocks >= 1 && h.n_blocks <= NHI_SNAP_VERIFY_READ_WHOLE);
	free(b);
	b = malloc(len);
	assert_non_null(b);
	memcpy(b, orig, len);
	b[h.strings_off + 1] ^= 0x01;
	spit(bad, b, len);
	assert_int_equal(nhi_snap_open(bad, NHI_SNAP_VERIFY_READ, &s, err, sizeof(err)), NHI_ERR_FORMAT);
	free(b);
	free(orig);
}

/* ---- deltas ---------------------------------------------------------- */

static char dpath[600];

/* A delta over the base of generation base, itself generation gen. */
static void publish_delta(uint64_t base, uint64_t gen)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	const char *members[] = { "svc-0", "svc-1", "dave" };
	struct nhi_ident id;
	char err[256];

	assert_non_null(w);
	/* changed: a new uid, suspended, another gecos */
	sample(&id, "svc-1", 2100001, NHI_STATE_SUSPENDED);
	id.gecos = "changed";
	id.owner = "bob";
	id.kind = NHI_KIND_SERVICE;
	assert_int_equal(nhi_snapw_add_ident(w, &id), 0);
	assert_int_equal(nhi_snapw_add_gone(w, "svc-2"), 0);
	add(w, "svc-new", 2000002, NHI_STATE_ACTIVE);      /* svc-2's uid, reused */
	add(w, "svc-4", 2000004, NHI_STATE_RETIRED);       /* retired since */
	add(w, "svc-g", 1500, NHI_STATE_ACTIVE);           /* the gid of 'robots' */
	/* the registry groups, which a delta leaves out */
	assert_int_equal(nhi_snapw_add_group(w, "robots", 1500, members, 3), 0);
	assert_int_equal(nhi_snapw_add_group(w, "deployers", 1501, members + 1, 1), 0);
	nhi_snapw_set_delta(w, base);
	assert_int_equal(nhi_snapw_publish(w, dpath, gen, 12346, err, sizeof(err)), 0);
	nhi_snapw_free(w);
}

/* Every uid of publish_sample(10, 10) + publish_delta(), by uid, through
 * both views: the answer, or NULL for none. */
static void check_delta_by_uid(const struct nhi_snap *s)
{
	static const struct { uint32_t uid; const char *name; } want[] = {
		{ 2000000, "svc-0" }, { 2000001, NULL },        /* svc-1 moved to 2100001 */
		{ 2000002, "svc-new" },                         /* svc-2 gone, its uid reused */
		{ 2000003, "svc-3" }, { 2000004, "svc-4" },     /* the delta's svc-4 */
		{ 2000005, "svc-5" }, { 2000009, "svc-9" }, { 2000010, NULL },
		{ 2100001, "svc-1" }, { 1500, "svc-g" },
	};
	struct nhi_ident id;
	struct nhi_pw pw;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int r = nhi_snap_ident_by_uid(s, want[i].uid, &id);

		if (want[i].name == NULL) {
			assert_int_equal(r, NHI_ERR_NOTFOUND);
			assert_int_equal(nhi_snap_pw_by_uid(s, want[i].uid, &pw), NHI_ERR_NOTFOUND);
			continue;
		}
		assert_int_equal(r, 0);
		assert_string_equal(id.name, want[i].name);
		assert_int_equal(nhi_snap_pw_by_uid(s, want[i].uid, &pw), 0);
		assert_string_equal(pw.name, want[i].name);
	}
	assert_int_equal(nhi_snap_pw_by_uid(s, 2000004, &pw), 0);
	assert_int_equal(pw.state, NHI_STATE_RETIRED);
}

/* The groups of the same world, by gid and by name. */
static void check_delta_groups(const struct nhi_snap *s)
{
	struct nhi_group g;

	assert_int_equal(nhi_snap_group_by_name(s, "svc-1", &g), 0);
	assert_int_equal(g.gid, 2100001);
	assert_int_equal(nhi_snap_group_by_gid(s, 2100001, &g), 0);
	assert_string_equal(g.name, "svc-1");
	assert_int_equal(nhi_snap_group_by_gid(s, 2000001, &g), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_group_by_name(s, "svc-2", &g), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_group_by_gid(s, 2000002, &g), 0);
	assert_string_equal(g.name, "svc-new");
	assert_int_equal(nhi_snap_group_by_name(s, "svc-4", &g), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_group_by_gid(s, 2000004, &g), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_group_by_name(s, "svc-5", &g), 0);
	assert_int_equal(g.gid, 2000005);
	assert_int_equal(nhi_snap_group_by_gid(s, 2000005, &g), 0);
	assert_string_equal(g.name, "svc-5");
	assert_int_equal(nhi_snap_group_by_gid(s, 1500, &g), 0);
	assert_string_equal(g.name, "robots");
}

/* Rewrite the delta's header in place (no reader has it mapped). */
static void patch_delta_header(uint32_t flags, uint32_t shadow_size, uint32_t gshadow_size)
{
	struct nhi_snap_hdr h;
	int fd = open(dpath, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &h, sizeof(h), 0), sizeof(h));
	h.flags = flags;
	h.shadow_idx_size = shadow_size;
	h.gshadow_idx_size = gshadow_size;
	h.hdr_checksum = nhi_snap_hdr_checksum(&h);
	assert_int_equal(pwrite(fd, &h, sizeof(h), 0), sizeof(h));
	close(fd);
}

/* Rewrite the base's flags in place (no reader has it mapped). */
static void set_base_flags(uint32_t flags)
{
	struct nhi_snap_hdr h;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &h, sizeof(h), 0), sizeof(h));
	h.flags = flags;
	h.hdr_checksum = nhi_snap_hdr_checksum(&h);
	assert_int_equal(pwrite(fd, &h, sizeof(h), 0), sizeof(h));
	close(fd);
}

static void test_delta(void **state)
{
	struct nhi_snap *s, *s2;
	struct nhi_ident id;
	struct nhi_pw pw;
	struct nhi_group g;
	const uint32_t *gids;
	uint32_t n, seen_idents = 0, seen_groups = 0;
	char err[256], names[4096] = "", gnames[8192] = "";

	(void)state;
	snprintf(dpath, sizeof(dpath), "%s%s", path, NHI_SNAP_DELTA_SUFFIX);
	publish_sample(10, 10);
	/* a base comes with an empty delta over it, and a mark that says no
	 * other delta has been published over it yet: the delta is not even
	 * opened, and the base's stale word is the one to watch */
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_int_equal(access(dpath, F_OK), 0);
	assert_null(nhi_snap_delta_header(s));
	assert_int_equal(nhi_snap_generation(s), 10);
	assert_ptr_equal(nhi_snap_stale_word(s), &nhi_snap_header(s)->stale);
	assert_int_equal(nhi_snap_header(s)->flags,
			 NHI_SNAP_F_BASE | NHI_SNAP_F_DELEG | NHI_SNAP_F_DMARK);
	assert_int_equal(nhi_snap_header(s)->stale, 0);
	assert_int_equal(nhi_snap_header(s)->n_reg_groups, 2);
	assert_int_equal(nhi_snap_n_idents(s), 10);
	assert_false(nhi_snap_replaced(s));
	nhi_snap_close(s);
	/* an unmarked base (a writer before the mark): its empty delta is
	 * read, and its stale word watched, as before */
	set_base_flags(NHI_SNAP_F_BASE | NHI_SNAP_F_DELEG);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_non_null(nhi_snap_delta_header(s));
	assert_int_equal(nhi_snap_delta_header(s)->n_idents, 0);
	assert_int_equal(nhi_snap_delta_header(s)->base_generation, 10);
	assert_int_equal(nhi_snap_generation(s), 10);
	assert_ptr_equal(nhi_snap_stale_word(s), &nhi_snap_delta_header(s)->stale);
	nhi_snap_close(s);
	set_base_flags(NHI_SNAP_F_BASE | NHI_SNAP_F_DELEG | NHI_SNAP_F_DMARK);
	/* no delta at all (a writer before deltas): the base alone */
	assert_int_equal(unlink(dpath), 0);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_null(nhi_snap_delta_header(s));
	assert_int_equal(nhi_snap_generation(s), 10);
	assert_ptr_equal(nhi_snap_stale_word(s), &nhi_snap_header(s)->stale);
	assert_false(nhi_snap_replaced(s));
	nhi_snap_close(s);

	/* a reader of the base alone sees the next delta's mark, set in the
	 * base before the delta is renamed into place */
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_false(nhi_snap_stale(s));
	publish_delta(10, 11);
	assert_int_equal(*nhi_snap_stale_word(s), NHI_SNAP_STALE_DELTA);
	assert_true(nhi_snap_stale(s));
	nhi_snap_close(s);
	/* the delta lost (removed by hand, a copy of the base alone): the
	 * base would undo what the delta changed (svc-1 suspended, svc-4
	 * retired), so the pair is refused */
	{
		char aside[sizeof(dpath) + 8];

		snprintf(aside, sizeof(aside), "%s.aside", dpath);
		assert_int_equal(rename(dpath, aside), 0);
		err[0] = '\0';
		assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY | NHI_SNAP_TRUST, &s, err,
					       sizeof(err)), NHI_ERR_FORMAT);
		assert_non_null(strstr(err, "is missing, but a delta was published over"));
		assert_int_equal(nhi_snap_open(path, 0, &s, err, sizeof(err)), NHI_ERR_FORMAT);
		assert_int_equal(rename(aside, dpath), 0);
	}
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_non_null(nhi_snap_delta_header(s));
	/* the base's mark does not make the pair stale */
	assert_int_equal(nhi_snap_header(s)->stale, NHI_SNAP_STALE_DELTA);
	assert_false(nhi_snap_stale(s));
	/* with shadow indexes: the base uids of svc-1, svc-2 and svc-4, and
	 * the gids of their base groups */
	assert_int_equal(nhi_snap_delta_header(s)->flags, NHI_SNAP_F_DELTA | NHI_SNAP_F_SHADOW);
	assert_int_equal(nhi_snap_delta_header(s)->shadow_idx_size, 16);  /* a quarter full at most */
	assert_int_equal(nhi_snap_delta_header(s)->gshadow_idx_size, 16);
	assert_int_equal(nhi_snap_delta_header(s)->base_generation, 10);
	assert_int_equal(nhi_snap_generation(s), 11);
	check_delta_by_uid(s);
	check_delta_groups(s);
	assert_ptr_equal(nhi_snap_stale_word(s), &nhi_snap_delta_header(s)->stale);
	/* the delta's version replaces the base's */
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-1", &id), 0);
	assert_string_equal(id.gecos, "changed");
	assert_string_equal(id.owner, "bob");
	assert_int_equal(id.state, NHI_STATE_SUSPENDED);
	assert_int_equal(id.uid, 2100001);
	assert_int_equal(nhi_snap_pw_by_uid(s, 2100001, &pw), 0);
	assert_string_equal(pw.name, "svc-1");
	assert_int_equal(nhi_snap_ident_by_uid(s, 2000001, &id), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_pw_by_uid(s, 2000001, &pw), NHI_ERR_NOTFOUND);
	/* a tombstone hides the base's record; its uid went to another */
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-2", &id), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_pw_by_name(s, "svc-2", &pw), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_ident_by_uid(s, 2000002, &id), 0);
	assert_string_equal(id.name, "svc-new");
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-4", &id), 0);
	assert_int_equal(id.state, NHI_STATE_RETIRED);
	/* what the delta does not hold comes from the base */
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-5", &id), 0);
	assert_string_equal(id.gecos, "test identity");
	assert_int_equal(nhi_snap_pw_by_uid(s, 2000005, &pw), 0);
	assert_string_equal(pw.name, "svc-5");
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-99", &id), NHI_ERR_NOTFOUND);
	/* identity groups follow their identities */
	assert_int_equal(nhi_snap_group_by_name(s, "svc-1", &g), 0);
	assert_int_equal(g.gid, 2100001);
	assert_int_equal(nhi_snap_group_by_gid(s, 2000001, &g), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_group_by_name(s, "svc-2", &g), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_group_by_gid(s, 2000002, &g), 0);
	assert_string_equal(g.name, "svc-new");
	assert_int_equal(nhi_snap_group_by_name(s, "svc-4", &g), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_group_by_name(s, "svc-5", &g), 0);
	assert_int_equal(g.gid, 2000005);
	/* no own group where a registry group has the gid; those stay the base's */
	assert_int_equal(nhi_snap_group_by_name(s, "svc-g", &g), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_group_by_gid(s, 1500, &g), 0);
	assert_string_equal(g.name, "robots");
	assert_int_equal(g.n_members, 3);
	assert_string_equal(nhi_snap_group_member(s, &g, 1), "svc-1");
	assert_int_equal(nhi_snap_user_gids(s, "dave", &gids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(gids[0], 1500);
	/* enumerations: every identity and group once, the current version */
	for (uint32_t i = 0; i < nhi_snap_n_idents(s); i++) {
		int r = nhi_snap_ident_at(s, i, &id);

		assert_true(r == 0 || r == NHI_ERR_NOTFOUND);
		if (r == 0) {
			strcat(names, id.name);
			strcat(names, id.state == NHI_STATE_SUSPENDED ? "(s) " : " ");
			seen_idents++;
		}
	}
	assert_int_equal(nhi_snap_n_idents(s), 10 + 5);
	assert_int_equal(seen_idents, 11);
	assert_string_equal(names, "svc-0 svc-3 svc-5 svc-6 svc-7 svc-8 svc-9 "
			    "svc-1(s) svc-4 svc-g svc-new ");
	for (uint32_t i = 0; i < nhi_snap_n_groups(s); i++) {
		int r = nhi_snap_group_at(s, i, &g);

		assert_true(r == 0 || r == NHI_ERR_NOTFOUND);
		if (r == 0) {
			strcat(gnames, g.name);
			strcat(gnames, " ");
			seen_groups++;
		}
	}
	assert_int_equal(seen_groups, 2 + 6 + 2);
	assert_non_null(strstr(gnames, "robots deployers "));
	assert_null(strstr(gnames, "svc-2 "));
	assert_null(strstr(gnames, "svc-4 "));
	assert_non_null(strstr(gnames, "svc-1 "));
	assert_non_null(strstr(gnames, "svc-new "));

	nhi_snap_close(s);

	/* the same answers from a delta without the shadow index (a writer
	 * before it): asked by name */
	patch_delta_header(NHI_SNAP_F_DELTA, 0, 0);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_delta_header(s)->flags, NHI_SNAP_F_DELTA);
	check_delta_by_uid(s);
	check_delta_groups(s);
	nhi_snap_close(s);
	/* a shadow index of a bad size, or in a base */
	patch_delta_header(NHI_SNAP_F_DELTA | NHI_SNAP_F_SHADOW, 3, 16);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_TRUST, &s, err, sizeof(err)), NHI_ERR_FORMAT);
	assert_non_null(strstr(err, "bad shadow index"));
	patch_delta_header(NHI_SNAP_F_DELTA | NHI_SNAP_F_SHADOW, 1u << 30, 16);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_TRUST, &s, err, sizeof(err)), NHI_ERR_FORMAT);
	patch_delta_header(NHI_SNAP_F_DELTA | NHI_SNAP_F_SHADOW, 16, 3);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_TRUST, &s, err, sizeof(err)), NHI_ERR_FORMAT);
	assert_non_null(strstr(err, "bad shadow index"));
	/* a uid set without a gid set: groups asked by name */
	patch_delta_header(NHI_SNAP_F_DELTA | NHI_SNAP_F_SHADOW, 16, 0);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	check_delta_by_uid(s);
	check_delta_groups(s);
	nhi_snap_close(s);
	/* a delta for another base than the one beside it gets none */
	publish_delta(9, 11);
	{
		struct nhi_snap_hdr h;
		int fd = open(dpath, O_RDONLY);

		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &h, sizeof(h), 0), sizeof(h));
		close(fd);
		assert_int_equal(h.flags, NHI_SNAP_F_DELTA);
	}
	/* NHI_SNAP_NO_DELTA: the base alone */
	publish_delta(10, 11);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_NO_DELTA, &s, err, sizeof(err)), 0);
	assert_null(nhi_snap_delta_header(s));
	assert_int_equal(nhi_snap_pw_by_uid(s, 2000001, &pw), 0);
	assert_string_equal(pw.name, "svc-1");
	nhi_snap_close(s);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);

	/* another delta: the mapped pair goes stale through the delta's word */
	assert_false(nhi_snap_stale(s));
	publish_delta(10, 12);
	assert_true(nhi_snap_stale(s));
	assert_int_equal(*nhi_snap_stale_word(s), 1);
	assert_true(nhi_snap_replaced(s));
	nhi_snap_close(s);

	/* a full publication replaces the delta too */
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY, &s, err, sizeof(err)), 0);
	{
		char saved[700], cmd[1500];

		/* a copy: as it was before being replaced (and marked stale) */
		snprintf(saved, sizeof(saved), "%s.saved", dpath);
		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", dpath, saved);
		assert_int_equal(system(cmd), 0);
		publish_sample(13, 10);
		assert_true(nhi_snap_stale(s));
		assert_int_equal(*nhi_snap_stale_word(s), 1);
		nhi_snap_close(s);
		/* a delta left for an older base (nhictl died between the
		 * two) is ignored, but watched */
		assert_int_equal(rename(saved, dpath), 0);
	}
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY, &s, err, sizeof(err)), 0);
	assert_null(nhi_snap_delta_header(s));
	assert_int_equal(nhi_snap_generation(s), 13);
	assert_int_equal(nhi_snap_n_idents(s), 10);
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-2", &id), 0);
	assert_int_equal(nhi_snap_ident_by_uid(s, 2000001, &id), 0);
	assert_false(nhi_snap_stale(s));
	/* the delta left for the older base is not read (the new base has
	 * no mark yet): the next delta reaches the reader through the base's
	 * mark */
	assert_ptr_equal(nhi_snap_stale_word(s), &nhi_snap_header(s)->stale);
	assert_false(nhi_snap_replaced(s));
	publish_delta(13, 14);
	assert_int_equal(*nhi_snap_stale_word(s), NHI_SNAP_STALE_DELTA);
	assert_true(nhi_snap_stale(s));
	nhi_snap_close(s);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_generation(s), 14);
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-2", &id), NHI_ERR_NOTFOUND);

	/* a delta for a newer base than the one there: refused after retries */
	publish_delta(99, 100);
	assert_int_equal(nhi_snap_open(path, 0, &s2, err, sizeof(err)), NHI_ERR_FORMAT);
	assert_non_null(strstr(err, "names base generation 99"));
	/* the open pair stays usable */
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-1", &id), 0);
	assert_string_equal(id.gecos, "changed");
	nhi_snap_close(s);

	/* a damaged delta fails the open like a damaged base */
	publish_delta(13, 15);
	{
		FILE *f = fopen(dpath, "r+b");
		long size;

		assert_non_null(f);
		fseek(f, 0, SEEK_END);
		size = ftell(f);
		fseek(f, size - 3, SEEK_SET);
		fputc(0x5a, f);
		fclose(f);
		assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY, &s, err, sizeof(err)), NHI_ERR_FORMAT);
		assert_non_null(strstr(err, "nhi.cache.delta: data checksum mismatch"));
		assert_int_equal(truncate(dpath, size / 2), 0);
		assert_int_equal(nhi_snap_open(path, 0, &s, err, sizeof(err)), NHI_ERR_FORMAT);
		assert_non_null(strstr(err, "nhi.cache.delta: "));
	}
	/* one in place of the other */
	publish_delta(13, 15);
	assert_int_equal(rename(dpath, path), 0);
	assert_int_equal(nhi_snap_open(path, 0, &s, err, sizeof(err)), NHI_ERR_FORMAT);
	assert_non_null(strstr(err, "a delta where the base should be"));
	publish_sample(16, 3);
	publish_delta(16, 17);  /* a marked base: its delta is read */
	assert_int_equal(unlink(dpath), 0);
	assert_int_equal(link(path, dpath), 0);
	assert_int_equal(nhi_snap_open(path, 0, &s, err, sizeof(err)), NHI_ERR_FORMAT);
	assert_non_null(strstr(err, "nhi.cache.delta: not a delta"));
	unlink(dpath);
	/* an untrusted delta is refused under NHI_SNAP_TRUST */
	publish_delta(16, 17);
	chmod(dpath, 0666);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_TRUST, &s, err, sizeof(err)), NHI_ERR_PERM);
	unlink(dpath);
	/* keys_generation: the file's generation unless set; a base's empty
	 * delta carries the base's */
	publish_sample(30, 3);
	assert_int_equal(nhi_snap_open(path, 0, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_keys_generation(s), 30);
	nhi_snap_close(s);
	{
		struct nhi_snap_writer *w = nhi_snapw_new();

		add(w, "svc-k", 2000100, NHI_STATE_ACTIVE);
		nhi_snapw_set_keys_generation(w, 27);
		assert_int_equal(nhi_snapw_publish(w, path, 31, 1, err, sizeof(err)), 0);
		nhi_snapw_free(w);
	}
	assert_int_equal(nhi_snap_open(path, 0, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_keys_generation(s), 27);
	assert_null(nhi_snap_delta_header(s));  /* empty: not read */
	nhi_snap_close(s);
	{
		struct nhi_snap_hdr h;
		int fd = open(dpath, O_RDONLY);

		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &h, sizeof(h), 0), sizeof(h));
		close(fd);
		assert_int_equal(h.base_generation, 31);
		assert_int_equal(h.keys_generation, 27);
	}
	/* a base may hold no tombstone */
	{
		struct nhi_snap_writer *w = nhi_snapw_new();

		assert_int_equal(nhi_snapw_add_gone(w, "svc-2"), 0);
		assert_int_equal(nhi_snapw_publish(w, path, 18, 1, err, sizeof(err)), NHI_ERR_INVAL);
		nhi_snapw_free(w);
	}
}

/* A damaged delta beside a good base: an error or bounded answers, never
 * a crash, exactly as for a damaged base. */
static void test_damaged_delta(void **state)
{
	unsigned char *orig, *b;
	struct nhi_snap *s;
	char err[256];
	size_t n;

	(void)state;
	snprintf(dpath, sizeof(dpath), "%s%s", path, NHI_SNAP_DELTA_SUFFIX);
	publish_sample(20, 10);
	publish_delta(20, 21);
	orig = slurp_path(dpath, &n);
	b = malloc(n);
	assert_non_null(b);
	for (size_t len = 0; len < n; len += 7) {
		spit(dpath, orig, len);
		err[0] = '\0';
		assert_int_equal(nhi_snap_open(path, 0, &s, err, sizeof(err)), NHI_ERR_FORMAT);
		assert_non_null(strstr(err, "nhi.cache.delta"));
	}
	flip_and_scramble(dpath, path, orig, b, n);
	/* a consistent header naming another base: older, ignored; newer,
	 * refused; a delta's generation below its base's, refused */
	{
		struct nhi_snap_hdr *h = (struct nhi_snap_hdr *)b;
		struct nhi_ident id;

		memcpy(b, orig, n);
		h->base_generation = 19;
		rehash_header(b);
		spit(dpath, b, n);
		assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY, &s, err, sizeof(err)), 0);
		assert_null(nhi_snap_delta_header(s));
		assert_int_equal(nhi_snap_ident_by_name(s, "svc-2", &id), 0);
		nhi_snap_close(s);
		h->base_generation = 21;
		rehash_header(b);
		spit(dpath, b, n);
		assert_int_equal(nhi_snap_open(path, 0, &s, err, sizeof(err)), NHI_ERR_FORMAT);
		h->base_generation = 20;
		h->generation = 7;
		rehash_header(b);
		spit(dpath, b, n);
		assert_int_equal(nhi_snap_open(path, 0, &s, err, sizeof(err)), NHI_ERR_FORMAT);
		assert_non_null(strstr(err, "does not fit its base"));
	}
	free(b);
	free(orig);
}

/* ---- delegation edges (NHI_SNAP_F_DELEG) ------------------------------ */

/* A base of n identities svc-I (uid 2000000 + I) and, for every i < n - 1,
 * the edge svc-i -> svc-(i+1) expiring at 3000000000 + i, added in
 * reverse order (the writer sorts). */
static void publish_delegs(uint64_t gen, int n, unsigned shift)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	char name[32], err[256];

	assert_non_null(w);
	if (shift != 0)
		assert_int_equal(nhi_snapw_set_block_shift(w, shift), 0);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		add(w, name, 2000000 + (uint32_t)i, NHI_STATE_ACTIVE);
	}
	for (int i = n - 2; i >= 0; i--)
		assert_int_equal(nhi_snapw_add_delegation(w, 2000000 + (uint32_t)i,
							  2000001 + (uint32_t)i,
							  3000000000LL + i), 0);
	assert_int_equal(nhi_snapw_publish(w, path, gen, 12345, err, sizeof(err)), 0);
	nhi_snapw_free(w);
}

/* Every edge of publish_delegs(n) found, none the other way. */
static void check_delegs(const struct nhi_snap *s, int n)
{
	struct nhi_deleg g;

	assert_true(nhi_snap_has_delegations(s));
	assert_int_equal(nhi_snap_n_delegations(s), (uint32_t)(n - 1));
	for (int i = 0; i < n - 1; i++) {
		assert_int_equal(nhi_snap_delegation(s, 2000000 + (uint32_t)i, 2000001 + (uint32_t)i, &g), 0);
		assert_int_equal(g.from_uid, 2000000 + (uint32_t)i);
		assert_int_equal(g.to_uid, 2000001 + (uint32_t)i);
		assert_int_equal(g.expires, 3000000000LL + i);
		assert_int_equal(nhi_snap_delegation(s, 2000001 + (uint32_t)i, 2000000 + (uint32_t)i, &g),
				 NHI_ERR_NOTFOUND);
	}
	assert_int_equal(nhi_snap_delegation(s, 2000000, 2000002, &g), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_delegation(s, 0, 0, &g), NHI_ERR_NOTFOUND);
}

/* The slot of edge FROM -> TO in a file's delegation table (present;
 * FROM is svc-(from - 2000000)). */
static struct nhi_snap_deleg_rec *deleg_slot(unsigned char *b, uint32_t from, uint32_t to)
{
	const struct nhi_snap_hdr *h = (const void *)b;
	struct nhi_snap_deleg_rec *t = (void *)(b + h->delegs_off);
	char name[32];
	uint32_t pos;

	snprintf(name, sizeof(name), "svc-%u", from - 2000000);
	pos = (uint32_t)nhi_hash_edge(name, strlen(name), to) & (h->deleg_slots - 1);
	while (t[pos].from_uid != from || t[pos].to_uid != to)
		pos = (pos + 1) & (h->deleg_slots - 1);
	return &t[pos];
}

/* publish_delegs(gen, 3000) in 4 KiB blocks (more than are verified
 * whole at open): its bytes (*orig, *len, *h), and a copy to damage. */
static unsigned char *big_delegs(uint64_t gen, unsigned char **orig, size_t *len,
				 struct nhi_snap_hdr *h)
{
	unsigned char *b;

	publish_delegs(gen, 3000, 12);
	*orig = slurp(len);
	memcpy(h, *orig, sizeof(*h));
	assert_true(h->n_blocks > NHI_SNAP_VERIFY_READ_WHOLE);
	b = malloc(*len);
	assert_non_null(b);
	memcpy(b, *orig, *len);
	return b;
}

static void test_delegations(void **state)
{
	int r;
	struct nhi_snap_writer *w;
	struct nhi_snap *s;
	struct nhi_snap_hdr h;
	struct nhi_deleg g;
	struct nhi_ident id;
	unsigned char *orig, *b;
	char err[256], bad[600];
	size_t len;

	(void)state;
	snprintf(dpath, sizeof(dpath), "%s%s", path, NHI_SNAP_DELTA_SUFFIX);
	snprintf(bad, sizeof(bad), "%s/deleg.cache", dir);
	publish_delegs(20, 10, 0);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_header(s)->flags,
			 NHI_SNAP_F_BASE | NHI_SNAP_F_DELEG | NHI_SNAP_F_DMARK);
	assert_null(nhi_snap_delta_header(s));  /* its empty delta is not read */
	check_delegs(s, 10);
	nhi_snap_close(s);
	/* and through a delta over the base: edges from the base, identity
	 * states from the delta (a suspension there is seen at once) */
	w = nhi_snapw_new();
	assert_non_null(w);
	add(w, "svc-4", 2000004, NHI_STATE_SUSPENDED);
	nhi_snapw_set_delta(w, 20);
	assert_int_equal(nhi_snapw_publish(w, dpath, 21, 12345, err, sizeof(err)), 0);
	nhi_snapw_free(w);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY_READ | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_generation(s), 21);
	check_delegs(s, 10);
	assert_int_equal(nhi_snap_ident_by_uid(s, 2000004, &id), 0);
	assert_int_equal(id.state, NHI_STATE_SUSPENDED);
	nhi_snap_close(s);

	/* the writer refuses a loop, a duplicate, and edges in a delta */
	w = nhi_snapw_new();
	assert_non_null(w);
	add(w, "svc-0", 2000000, NHI_STATE_ACTIVE);
	assert_int_equal(nhi_snapw_add_delegation(w, 7, 7, 1), NHI_ERR_INVAL);
	assert_int_equal(nhi_snapw_add_delegation(w, 7, 8, 1), 0);
	assert_int_equal(nhi_snapw_add_delegation(w, 7, 8, 2), 0);
	r = nhi_snapw_publish(w, bad, 5, 1, err, sizeof(err));
	assert_int_equal(r, NHI_ERR_EXISTS);
	assert_non_null(strstr(err, "duplicate delegation 7 -> 8"));
	nhi_snapw_set_delta(w, 4);
	assert_int_equal(nhi_snapw_publish(w, dpath, 5, 1, err, sizeof(err)), NHI_ERR_INVAL);
	nhi_snapw_free(w);

	/* an empty section: present, holds nothing */
	publish_sample(22, 5);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY, &s, err, sizeof(err)), 0);
	assert_true(nhi_snap_has_delegations(s));
	assert_int_equal(nhi_snap_n_delegations(s), 0);
	assert_int_equal(nhi_snap_delegation(s, 2000000, 2000001, &g), NHI_ERR_NOTFOUND);
	nhi_snap_close(s);

	/* header damage that passes the header checksum: refused at open */
	publish_delegs(23, 10, 0);
	orig = slurp(&len);
	b = malloc(len);
	assert_non_null(b);
	memcpy(&h, orig, sizeof(h));
	struct { uint32_t off, n, slots, flags; const char *why; } cases[] = {
		{ (uint32_t)len, h.n_delegs, h.deleg_slots, h.flags, "section past the end" },
		{ h.delegs_off + 4, h.n_delegs, h.deleg_slots, h.flags, "misaligned" },
		{ h.delegs_off, h.n_delegs, 12, h.flags, "slots not a power of two" },
		{ h.delegs_off, 0, 0, h.flags, "no slots" },
		{ h.delegs_off, h.deleg_slots, h.deleg_slots, h.flags, "no empty slot" },
		{ h.delegs_off, h.n_delegs, 1u << 30, h.flags, "slots past the end" },
		{ h.delegs_off, h.n_delegs, h.deleg_slots, h.flags | NHI_SNAP_F_DELTA, "in a delta" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nhi_snap_hdr *bh = (void *)b;

		memcpy(b, orig, len);
		bh->delegs_off = cases[i].off;
		bh->n_delegs = cases[i].n;
		bh->deleg_slots = cases[i].slots;
		bh->flags = cases[i].flags;
		rehash_header(b);
		spit(bad, b, len);
		print_message("# delegation section: %s\n", cases[i].why);
		assert_int_equal(nhi_snap_open(bad, NHI_SNAP_NO_DELTA, &s, err, sizeof(err)), NHI_ERR_FORMAT);
	}
	/* a base of a writer before the flag: no edges (fields ignored) */
	memcpy(b, orig, len);
	((struct nhi_snap_hdr *)b)->flags = NHI_SNAP_F_BASE;
	rehash_header(b);
	spit(bad, b, len);
	assert_int_equal(nhi_snap_open(bad, NHI_SNAP_NO_DELTA | NHI_SNAP_VERIFY, &s, err, sizeof(err)), 0);
	assert_false(nhi_snap_has_delegations(s));
	assert_int_equal(nhi_snap_n_delegations(s), 0);
	assert_int_equal(nhi_snap_delegation(s, 2000000, 2000001, &g), NHI_ERR_NOTFOUND);
	nhi_snap_close(s);
	/* a table without an empty slot (damaged): a lookup of an absent
	 * edge still ends, after one pass */
	memcpy(b, orig, len);
	{
		struct nhi_snap_deleg_rec *t = (void *)(b + h.delegs_off);

		for (uint32_t i = 0; i < h.deleg_slots; i++)
			if (t[i].from_len == 0) {
				t[i].from_len = 1;
				t[i].from_name[0] = 'x';
			}
	}
	s = open_bytes(b, len);
	assert_int_equal(nhi_snap_delegation(s, 2000001, 2000000, &g), NHI_ERR_NOTFOUND);
	assert_int_equal(nhi_snap_delegation(s, 2000000, 2000001, &g), 0);
	nhi_snap_close(s);
	free(b);
	free(orig);

	/* a damaged block under NHI_SNAP_VERIFY_READ: the edges it holds fail
	 * (fail closed), the identities and the other edges still answer */
	b = big_delegs(24, &orig, &len, &h);
	/* edge 1500 (svc-1500 -> svc-1501): its expiry's low byte */
	((unsigned char *)&deleg_slot(b, 2001500, 2001501)->expires)[0] ^= 0x01;
	spit(bad, b, len);
	assert_int_equal(nhi_snap_open(bad, NHI_SNAP_VERIFY, &s, err, sizeof(err)), NHI_ERR_FORMAT);
	assert_int_equal(nhi_snap_open(bad, NHI_SNAP_NO_DELTA | NHI_SNAP_VERIFY_READ, &s, err,
				       sizeof(err)), 0);
	assert_int_equal(nhi_snap_delegation(s, 2001500, 2001501, &g), NHI_ERR_FORMAT);
	assert_int_equal(nhi_snap_delegation(s, 2000000, 2000001, &g), 0);
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-1500", &id), 0);
	nhi_snap_close(s);
	/* without verification the flipped expiry is a bounded wrong answer */
	assert_int_equal(nhi_snap_open(bad, NHI_SNAP_NO_DELTA, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_delegation(s, 2001500, 2001501, &g), 0);
	assert_int_equal(g.expires, (3000000000LL + 1500) ^ 1);
	nhi_snap_close(s);
	free(b);
	free(orig);
}

/* A delta over the base of publish_delegs(gen - 1, 10, 0) with one
 * identity (or tombstone when state is NHI_SNAP_STATE_GONE). */
static void delta_one(uint64_t gen, const char *name, uint32_t uid, int state)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	char err[256];

	assert_non_null(w);
	if (state == NHI_SNAP_STATE_GONE)
		assert_int_equal(nhi_snapw_add_gone(w, name), 0);
	else
		add(w, name, uid, state);
	nhi_snapw_set_delta(w, gen - 1);
	assert_int_equal(nhi_snapw_publish(w, dpath, gen, 12345, err, sizeof(err)), 0);
	nhi_snapw_free(w);
}

/* nhi_snap_ruser_delegation(s, NAME, TO): r, and FROM's state when 0. */
static int ruser_edge(const struct nhi_snap *s, const char *name, uint32_t to, int *state)
{
	struct nhi_deleg g;
	struct nhi_pw from;
	int r = nhi_snap_ruser_delegation(s, name, to, &g, &from);

	if (r == 0) {
		assert_string_equal(from.name, name);
		assert_int_equal(g.from_uid, from.uid);
		assert_int_equal(g.to_uid, to);
		*state = from.state;
	}
	return r;
}

/* The PAM_RUSER lookup: the edge by FROM's name, FROM as the slot has it,
 * the delta's record of FROM winning; and one slot read, verified alone. */
static void test_ruser_delegation(void **state)
{
	struct nhi_snap *s;
	struct nhi_snap_hdr h;
	struct nhi_deleg g;
	struct nhi_pw from;
	unsigned char *orig, *b, *at;
	char err[256], bad[600];
	size_t len;
	int st;

	(void)state;
	snprintf(dpath, sizeof(dpath), "%s%s", path, NHI_SNAP_DELTA_SUFFIX);
	snprintf(bad, sizeof(bad), "%s/ruser.cache", dir);
	publish_delegs(40, 10, 0);
	unlink(dpath);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY_READ | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_ruser_delegation(s, "svc-3", 2000004, &g, &from), 0);
	assert_int_equal(from.uid, 2000003);
	assert_int_equal(from.state, NHI_STATE_ACTIVE);
	assert_int_equal(g.expires, 3000000000LL + 3);
	assert_int_equal(ruser_edge(s, "svc-4", 2000003, &st), NHI_ERR_NOTFOUND);
	assert_int_equal(ruser_edge(s, "svc-3", 2000005, &st), NHI_ERR_NOTFOUND);
	assert_int_equal(ruser_edge(s, "nobody", 2000004, &st), NHI_ERR_NOTFOUND);
	assert_int_equal(ruser_edge(s, "", 2000004, &st), NHI_ERR_NOTFOUND);
	nhi_snap_close(s);

	/* a delta that suspends FROM: its state wins over the slot's copy */
	delta_one(41, "svc-3", 2000003, NHI_STATE_SUSPENDED);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY_READ | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_generation(s), 41);
	assert_int_equal(ruser_edge(s, "svc-3", 2000004, &st), 0);
	assert_int_equal(st, NHI_STATE_SUSPENDED);
	assert_int_equal(ruser_edge(s, "svc-2", 2000003, &st), 0);
	assert_int_equal(st, NHI_STATE_ACTIVE);
	nhi_snap_close(s);
	/* FROM deleted: no edge */
	delta_one(41, "svc-3", 0, NHI_SNAP_STATE_GONE);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY_READ | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_int_equal(ruser_edge(s, "svc-3", 2000004, &st), NHI_ERR_NOTFOUND);
	nhi_snap_close(s);
	/* another identity by FROM's name now (another uid): not its edge */
	delta_one(41, "svc-3", 2000099, NHI_STATE_ACTIVE);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY_READ | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_int_equal(ruser_edge(s, "svc-3", 2000004, &st), NHI_ERR_NOTFOUND);
	nhi_snap_close(s);
	/* FROM renamed (as nhictl writes it: the new name, a tombstone for
	 * the old): neither name has the edge until the next base */
	{
		struct nhi_snap_writer *w = nhi_snapw_new();

		assert_non_null(w);
		add(w, "svc-3-new", 2000003, NHI_STATE_ACTIVE);
		assert_int_equal(nhi_snapw_add_gone(w, "svc-3"), 0);
		nhi_snapw_set_delta(w, 40);
		assert_int_equal(nhi_snapw_publish(w, dpath, 41, 12345, err, sizeof(err)), 0);
		nhi_snapw_free(w);
	}
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY_READ | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	assert_true(nhi_snap_delta_header(s)->flags & NHI_SNAP_F_SHADOW);
	assert_int_equal(ruser_edge(s, "svc-3", 2000004, &st), NHI_ERR_NOTFOUND);
	assert_int_equal(ruser_edge(s, "svc-3-new", 2000004, &st), NHI_ERR_NOTFOUND);
	nhi_snap_close(s);
	unlink(dpath);

	/* under NHI_SNAP_VERIFY_READ the lookup reads the slot and nothing
	 * else of the base: a damaged block holding FROM's record does not
	 * touch it (the ordinary lookup of FROM fails closed on it), a
	 * damaged slot fails it */
	b = big_delegs(42, &orig, &len, &h);
	at = memmem(b + h.idents_off, h.idents_size, "svc-1500", sizeof("svc-1500"));
	assert_non_null(at);
	at[sizeof("svc-1500")] ^= 0x01;    /* its gecos */
	spit(bad, b, len);
	assert_int_equal(nhi_snap_open(bad, NHI_SNAP_NO_DELTA | NHI_SNAP_VERIFY_READ, &s, err,
				       sizeof(err)), 0);
	assert_int_equal(ruser_edge(s, "svc-1500", 2001501, &st), 0);
	assert_int_equal(st, NHI_STATE_ACTIVE);
	assert_int_equal(nhi_snap_pw_by_name_verified(s, "svc-1500", &from), NHI_ERR_FORMAT);
	nhi_snap_close(s);
	memcpy(b, orig, len);
	deleg_slot(b, 2001500, 2001501)->from_state ^= 0x01;
	spit(bad, b, len);
	assert_int_equal(nhi_snap_open(bad, NHI_SNAP_NO_DELTA | NHI_SNAP_VERIFY_READ, &s, err,
				       sizeof(err)), 0);
	assert_int_equal(ruser_edge(s, "svc-1500", 2001501, &st), NHI_ERR_FORMAT);
	assert_int_equal(ruser_edge(s, "svc-1499", 2001500, &st), 0);
	nhi_snap_close(s);
	free(b);
	free(orig);
}

static int setup(void **state)
{
	if (mkdtemp(test_tmpdir(dir, sizeof(dir), "nhi-snap-test")) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/nhi.cache", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The nhi.conf settings of a base (NHI_SNAP_F_CONF): written and read
 * back as given; a base without them and a delta have none; a section
 * whose string lengths disagree with its NULs, or that lies past the
 * file, is a format error (the module then reads nhi.conf). */
static void test_settings(void **state)
{
	struct nhi_snap_settings in = {
		.flags = NHI_SNAP_CONF_ENUMERATE, .dev = 2049, .ino = 131077, .size = 85,
		.mtime_sec = 1765000000, .mtime_nsec = 123456789, .ctime_sec = 1765000001,
		.ctime_nsec = 987654321, .conf_path = "/etc/nhi/nhi.conf",
		.cache_path = "/var/lib/nhi/nhi.cache", .default_shell = "/bin/bash",
		.nologin_shell = "", .shadow_file = "/var/lib/nhi/nhi.shadow",
	}, out;
	struct nhi_snap_writer *w = nhi_snapw_new();
	struct nhi_snap *s = NULL;
	char err[256], bad[600];
	unsigned char *orig, *b;
	size_t n;

	(void)state;
	/* none recorded */
	publish_sample(4, 5);
	assert_int_equal(nhi_snap_open(path, 0, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_settings(s, &out), NHI_ERR_NOTFOUND);
	nhi_snap_close(s);
	/* recorded */
	assert_non_null(w);
	add(w, "svc-0", 2000000, NHI_STATE_ACTIVE);
	assert_int_equal(nhi_snapw_set_settings(w, &in), 0);
	assert_int_equal(nhi_snapw_publish(w, path, 5, 1, err, sizeof(err)), 0);
	nhi_snapw_free(w);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_VERIFY, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_settings(s, &out), 0);
	assert_int_equal(out.flags, NHI_SNAP_CONF_ENUMERATE);
	assert_true(out.dev == 2049 && out.ino == 131077 && out.size == 85);
	assert_true(out.mtime_sec == 1765000000 && out.mtime_nsec == 123456789);
	assert_true(out.ctime_sec == 1765000001 && out.ctime_nsec == 987654321);
	assert_string_equal(out.conf_path, "/etc/nhi/nhi.conf");
	assert_string_equal(out.cache_path, "/var/lib/nhi/nhi.cache");
	assert_string_equal(out.default_shell, "/bin/bash");
	assert_string_equal(out.nologin_shell, "");
	assert_string_equal(out.shadow_file, "/var/lib/nhi/nhi.shadow");
	nhi_snap_close(s);
	/* a delta records none, even when given them */
	w = nhi_snapw_new();
	add(w, "svc-1", 2000001, NHI_STATE_ACTIVE);
	assert_int_equal(nhi_snapw_set_settings(w, &in), 0);
	nhi_snapw_set_delta(w, 5);
	snprintf(bad, sizeof(bad), "%s%s", path, NHI_SNAP_DELTA_SUFFIX);
	assert_int_equal(nhi_snapw_publish(w, bad, 6, 1, err, sizeof(err)), 0);
	nhi_snapw_free(w);
	assert_int_equal(nhi_snap_open(path, 0, &s, err, sizeof(err)), 0);
	assert_non_null(nhi_snap_delta_header(s));
	assert_false(nhi_snap_delta_header(s)->flags & NHI_SNAP_F_CONF);
	assert_int_equal(nhi_snap_settings(s, &out), 0);   /* the base's */
	nhi_snap_close(s);
	unlink(bad);
	/* damaged: a length past its NUL, one short of it (an inner NUL), the
	 * section past the end of the file */
	orig = slurp(&n);
	b = malloc(n);
	assert_non_null(b);
	snprintf(bad, sizeof(bad), "%s/conf.cache", dir);
	for (int round = 0; round < 4; round++) {
		struct nhi_snap_hdr *h = (struct nhi_snap_hdr *)b;
		struct nhi_snap_conf_rec *rec;

		memcpy(b, orig, n);
		rec = (struct nhi_snap_conf_rec *)(b + h->conf_off);
		switch (round) {
		case 0: rec->len[1]++; break;
		case 1: rec->len[0]--; break;
		case 2: rec->len[4] = 60000; break;
		case 3: h->conf_size = (uint32_t)(h->file_size - h->conf_off + 1); break;
		}
		h->stale = 0;   /* a base alone: no delta was published over this copy */
		rehash_header(b);
		spit(bad, b, n);
		assert_int_equal(nhi_snap_open(bad, 0, &s, err, sizeof(err)), 0);
		assert_int_equal(nhi_snap_settings(s, &out), NHI_ERR_FORMAT);
		nhi_snap_close(s);
	}
	unlink(bad);
	free(b);
	free(orig);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_long_strings),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_inner_nul),
		cmocka_unit_test(test_string_table_end),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_section_past_end),
		cmocka_unit_test(test_verify_read),
		cmocka_unit_test(test_delta),
		cmocka_unit_test(test_damaged_delta),
		cmocka_unit_test(test_delegations),
		cmocka_unit_test(test_ruser_delegation),
		cmocka_unit_test(test_settings),
	};
	return cmocka_run_group_tests_name("snapshot", tests, setup, teardown);
}

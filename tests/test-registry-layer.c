/* test-registry-layer.c - nhictl's registry layer (nhictl/registry/) linked
 * alone, with util/ and lib/ below it and nothing above: no verb, no
 * store, no directory.  A call from registry/ upward (into store/ or
 * cmd/) or sideways (into ldap/) breaks this program's link, so the build
 * itself keeps the layers (tests/layers.mk, HACKING.md).
 *
 * What it checks, through the registry's own functions on a real
 * registry.db: a committed identity reaches the published snapshot (read
 * back with lib's reader, as the modules do), the audit chain verifies,
 * and an event changed behind the registry's back is found; the actions
 * formatted as snprintf did. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "registry.h"
#include "access.h"
#include "testtmp.h"

static char dir[PATH_MAX];

static int setup(struct nhictl *x)
{
	char err[PATH_MAX + 256];

	memset(x, 0, sizeof(*x));
	nhi_conf_init(&x->conf);
	if (nhi_conf_set(&x->conf, "state_dir", dir, "test", err, sizeof(err)) < 0 ||
	    nhi_conf_finish(&x->conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "config: %s\n", err);
		return -1;
	}
	x->verb = "test";
	x->now = time(NULL);
	snprintf(x->actor, sizeof(x->actor), "test-registry-layer");
	return 0;
}

static void add_ident(struct nhictl *x, const char *name, uint32_t uid)
{
	assert_int_equal(reg_begin(x), 0);
	assert_int_equal(reg_exec(x, "INSERT INTO identity (name, kind, uid, gid, home, shell, "
				  "owner, created, expires, review_interval, state) VALUES "
				  "(?, 'service', ?, ?, '/nonexistent', '/usr/sbin/nologin', "
				  "'alice', ?, ?, 7776000, 'active')", "suuii", name, uid, uid,
				  (int64_t)x->now, (int64_t)x->now + 86400 * 30), 0);
	assert_int_equal(reg_event(x, "create", name, "ok", "uid=%u", uid), 0);
	assert_int_equal(reg_commit(x), 0);
}

static void test_commit_publishes(void **state)
{
	struct nhictl x;
	struct nhi_snap *s = NULL;
	struct nhi_ident id;
	char err[512];
	int64_t n = 0;

	(void)state;
	assert_int_equal(setup(&x), 0);
	assert_int_equal(reg_open(&x), 0);
	add_ident(&x, "svc-layer", 61234);
	add_ident(&x, "svc-other", 61235);
	/* what the modules read */
	assert_int_equal(nhi_snap_open(x.conf.cache_path, NHI_SNAP_VERIFY, &s, err, sizeof(err)), 0);
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-layer", &id), 0);
	assert_int_equal(id.uid, 61234);
	assert_string_equal(id.owner, "alice");
	assert_int_equal(nhi_snap_ident_by_uid(s, 61235, &id), 0);
	assert_string_equal(id.name, "svc-other");
	assert_int_equal(nhi_snap_ident_by_name(s, "svc-none", &id), NHI_ERR_NOTFOUND);
	nhi_snap_close(s);
	/* the chain holds both events */
	assert_int_equal(reg_verify_log(&x, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	reg_close(&x);
}

static void test_tamper_found(void **state)
{
	struct nhictl x;
	char why[512];
	int64_t n = 0;

	(void)state;
	assert_int_equal(setup(&x), 0);
	assert_int_equal(reg_open(&x), 0);
	assert_int_equal(reg_verify_log(&x, &n, why, sizeof(why)), 0);
	/* an event's detail changed behind the registry's back */
	assert_int_equal(reg_exec(&x, "UPDATE event SET detail = 'uid=0' WHERE target = ?", "s",
				  "svc-layer"), 0);
	assert_int_equal(reg_verify_log(&x, &n, why, sizeof(why)), NHI_ERR_FORMAT);
	assert_non_null(strstr(why, "1"));
	reg_close(&x);
}

/* access_actions_format (written by hand, no snprintf) gives what the
 * snprintf of each ",name" gave: every set of actions, every buffer size,
 * cut short the same way. */
static void test_actions_format(void **state)
{
	static const char *const names[] = { "read", "write", "exec", "admin" };
	char got[32], want[32];
	unsigned a;
	size_t len, used, i;

	(void)state;
	for (a = 0; a < 16; a++)
		for (len = 1; len <= sizeof(got); len++) {
			memset(got, 'x', sizeof(got));
			memset(want, 'x', sizeof(want));
			want[0] = '\0';
			for (i = 0, used = 0; i < 4; i++) {
				int n;

				if (!(a & (1u << i)))
					continue;
				n = snprintf(want + used, len - used, "%s%s", used ? "," : "", names[i]);
				if (n < 0 || (size_t)n >= len - used)
					break;
				used += (size_t)n;
			}
			assert_ptr_equal(access_actions_format(a, got, len), got);
			assert_memory_equal(got, want, sizeof(got));
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_publishes),
		cmocka_unit_test(test_tamper_found),
		cmocka_unit_test(test_actions_format),
	};
	char tmpl[PATH_MAX - 16];
	int r;

	umask(022);
	if (mkdtemp(test_tmpdir(tmpl, sizeof(tmpl), "registry-layer")) == NULL ||
	    chmod(tmpl, 0755) < 0)
		return 99;
	snprintf(dir, sizeof(dir), "%s/state", tmpl);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	if (r == 0) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
		if (system(cmd) != 0)
			r = 1;
	}
	return r;
}

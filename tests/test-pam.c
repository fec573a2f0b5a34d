/* The built pam_nhi.so through libpam: pam_start_confdir() with a service
 * file in a temp dir naming the module by absolute path ($PAM_NHI_SO), for
 * every row of docs/design.md's decision table, the session and password
 * phases, the conversation and quiet/PAM_SILENT.  Nothing in /etc is read
 * or changed.
 *
 * Each service file stacks the module so that its own return code comes
 * out of libpam unchanged, and PAM_IGNORE becomes a sentinel:
 *   TYPE [success=done ignore=ignore default=die] $PAM_NHI_SO config=... ARGS
 *   TYPE required pam_debug.so ...=no_module_data
 * so pam_acct_mgmt() returns PAM_NO_MODULE_DATA exactly when pam_nhi said
 * PAM_IGNORE (a bare ignore-only stack would give PAM_PERM_DENIED). */
#include <dlfcn.h>
#include <crypt.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <security/pam_appl.h>
#include <security/pam_modules.h>
#include "nhi_hash.h"
#include "nhi_snapshot.h"
#include "testtmp.h"

#define DAY 86400
#define IGNORED PAM_NO_MODULE_DATA

static const char *module;
static char T[200];
static char confdir[260], conf[260], cache[300], usage[300], state[260];
static time_t now;
static const char *ruser;    /* PAM_RUSER for run(), when not NULL */
static const char *owner = "alice";  /* of the identities ident() adds */

/* ---- the conversation: record every message ----------------------------- */

static char said[4096];
static const char *answer;   /* what a password prompt is answered with */

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		/* pam_debug, the sentinel, announces itself: not ours */
		if (msg[i]->msg != NULL && strstr(msg[i]->msg, "=no_module_data") != NULL)
			continue;
		/* a password prompt gets 'answer' */
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
			r[i].resp = strdup(answer != NULL ? answer : "");
		const char *kind = msg[i]->msg_style == PAM_ERROR_MSG ? "E" :
				   msg[i]->msg_style == PAM_TEXT_INFO ? "I" : "?";
		size_t used = strlen(said);
		snprintf(said + used, sizeof(said) - used, "%s:%s\n", kind, msg[i]->msg);
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* ---- fixtures ------------------------------------------------------------ */

/* Write a file atomically (forked tests rewrite service files at once). */
static void write_file(const char *path, mode_t mode, const char *fmt, ...)
{
	char tmp[800];
	va_list ap;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	f = fopen(tmp, "w");
	assert_non_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(tmp, mode), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static void ident(struct nhi_snap_writer *w, const char *name, uint32_t uid, int st,
		  int64_t expires, int64_t review_due, int64_t orphaned_since,
		  const char *hosts, const char *services)
{
	struct nhi_ident id;

	memset(&id, 0, sizeof(id));
	id.name = name;
	id.gecos = "test identity";
	id.home = "/nonexistent";
	id.shell = "/bin/sh";
	id.owner = owner;
	id.purpose = "pam test";
	id.hosts = hosts;
	id.services = services;
	id.uid = id.gid = uid;
	id.kind = NHI_KIND_SERVICE;
	id.state = st;
	id.created = now - 10 * DAY;
	id.expires = expires;
	id.review_interval = review_due ? 90 * DAY : 0;
	id.review_due = review_due;
	id.orphaned_since = orphaned_since;
	assert_int_equal(nhi_snapw_add_ident(w, &id), 0);
}

static int group_setup(void **st)
{
	struct nhi_snap_writer *w;
	char err[256];
	int64_t far = now + 200 * DAY, rev = now + 60 * DAY;

	module = getenv("PAM_NHI_SO");
	if (module == NULL || module[0] != '/' || access(module, R_OK) != 0) {
		fprintf(stderr, "PAM_NHI_SO must name the built pam_nhi.so\n");
		return -1;
	}
	if (mkdtemp(test_tmpdir(T, sizeof(T), "nhi-pam-test")) == NULL)
		return -1;
	chmod(T, 0755);
	snprintf(confdir, sizeof(confdir), "%s/pam.d", T);
	snprintf(state, sizeof(state), "%s/state", T);
	snprintf(conf, sizeof(conf), "%s/nhi.conf", T);
	snprintf(cache, sizeof(cache), "%s/nhi.cache", state);
	snprintf(usage, sizeof(usage), "%s/usage.log", state);
	if (mkdir(confdir, 0755) < 0 || mkdir(state, 0755) < 0)
		return -1;
	write_file(conf, 0644,
		   "# pam_nhi test\n"
		   "state_dir = %s\n"
		   "host = testhost\n"
		   "service_names = svc-* agent-*\n"
		   "review = enforce\n"
		   "review_grace = 14d\n"
		   "orphan_grace = 7d\n"
		   "warn_before = 14d\n", state);

	w = nhi_snapw_new();
	assert_non_null(w);
	ident(w, "svc-ok", 2000001, NHI_STATE_ACTIVE, far, rev, 0, "", "");
	ident(w, "svc-expired", 2000002, NHI_STATE_ACTIVE, now - DAY, rev, 0, "", "");
	ident(w, "svc-susp", 2000003, NHI_STATE_SUSPENDED, far, rev, 0, "", "");
	ident(w, "svc-retired", 2000004, NHI_STATE_RETIRED, far, rev, 0, "", "");
	ident(w, "svc-orphan", 2000005, NHI_STATE_ORPHANED, far, rev, now - 30 * DAY, "", "");
	ident(w, "svc-orphan-new", 2000006, NHI_STATE_ORPHANED, far, rev, now - DAY, "", "");
	ident(w, "svc-review", 2000007, NHI_STATE_ACTIVE, far, now - 30 * DAY, 0, "", "");
	ident(w, "svc-hosts", 2000008, NHI_STATE_ACTIVE, far, rev, 0, "web*,db1", "");
	ident(w, "svc-hosts-ok", 2000009, NHI_STATE_ACTIVE, far, rev, 0, "web*,test*", "");
	ident(w, "svc-cron", 2000010, NHI_STATE_ACTIVE, far, rev, 0, "", "cron,systemd-*");
	ident(w, "svc-near", 2000011, NHI_STATE_ACTIVE, now + 2 * DAY, rev, 0, "", "");
	/* registered, but outside every classification pattern */
	ident(w, "robot7", 2000012, NHI_STATE_ACTIVE, now - DAY, rev, 0, "", "");
	/* PAM_RUSER: agents and delegations (test_ruser_*) */
	ident(w, "agent-a", 2000020, NHI_STATE_ACTIVE, far, rev, 0, "", "");
	ident(w, "agent-b", 2000021, NHI_STATE_ACTIVE, far, rev, 0, "", "");
	ident(w, "agent-c", 2000022, NHI_STATE_ACTIVE, far, rev, 0, "", "");
	owner = "daemon";
	ident(w, "svc-daemon", 2000023, NHI_STATE_ACTIVE, far, rev, 0, "", "");
	owner = "alice";
	assert_int_equal(nhi_snapw_add_delegation(w, 2000020, 2000001, far), 0);     /* agent-a -> svc-ok */
	assert_int_equal(nhi_snapw_add_delegation(w, 2000021, 2000001, now - DAY), 0); /* expired */
	assert_int_equal(nhi_snapw_add_delegation(w, 2000003, 2000001, far), 0);     /* svc-susp -> svc-ok */
	assert_int_equal(nhi_snapw_add_delegation(w, 2000020, 2000003, far), 0);     /* agent-a -> svc-susp */
	assert_int_equal(nhi_snapw_publish(w, cache, 1, now, err, sizeof(err)), 0);
	nhi_snapw_free(w);
	return 0;
}

static int group_teardown(void **st)
{
	char cmd[700];

	if (getenv("KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

/* ---- running the stack --------------------------------------------------- */

enum phase { ACCT, SESSION, PASSWORD };

/* Write the service file 'svc' for a phase, with extra module arguments. */
static void service_file(const char *svc, enum phase ph, const char *args)
{
	static const char *types[] = { "account", "session", "password" };
	static const char *sentinel[] = { "acct=no_module_data",
		"open_session=no_module_data close_session=no_module_data",
		"prechauthtok=no_module_data chauthtok=no_module_data" };
	char path[700];

	snprintf(path, sizeof(path), "%s/%s", confdir, svc);
	write_file(path, 0644,
		   "%s [success=done ignore=ignore default=die] %s config=%s %s\n"
		   "%s required pam_debug.so %s\n",
		   types[ph], module, conf, args ? args : "", types[ph], sentinel[ph]);
}

/* Run one phase of 'svc' for 'user'; the conversation goes to said[]. */
static int run(enum phase ph, const char *svc, const char *user, const char *args, int flags)
{
	struct pam_conv pc = { conv, NULL };
	pam_handle_t *pamh = NULL;
	int r, e;

	service_file(svc, ph, args);
	said[0] = '\0';
	r = pam_start_confdir(svc, user, &pc, confdir, &pamh);
	assert_int_equal(r, PAM_SUCCESS);
	assert_int_equal(pam_set_item(pamh, PAM_RHOST, "192.0.2.7"), PAM_SUCCESS);
	if (ruser != NULL)
		assert_int_equal(pam_set_item(pamh, PAM_RUSER, ruser), PAM_SUCCESS);
	switch (ph) {
	case ACCT:
		r = pam_acct_mgmt(pamh, flags);
		break;
	case SESSION:
		r = pam_open_session(pamh, flags);
		if (r == PAM_SUCCESS)
			(void)pam_close_session(pamh, flags);
		break;
	case PASSWORD:
		r = pam_chauthtok(pamh, flags);
		break;
	}
	e = pam_end(pamh, r);
	assert_int_equal(e, PAM_SUCCESS);
	return r;
}

static int acct_check(const char *user, const char *args)
{
	return run(ACCT, "sshd", user, args, 0);
}

#define assert_pam(got, want) do { \
	int g_ = (got), w_ = (want); \
	if (g_ != w_) \
		fail_msg("PAM returned %d (%s), expected %d (%s); said: %s", g_, \
			 pam_strerror(NULL, g_), w_, pam_strerror(NULL, w_), said); \
} while (0)

#define assert_said(s) do { \
	if (strstr(said, (s)) == NULL) \
		fail_msg("conversation lacks \"%s\"; said: %s", (s), said); \
} while (0)

/* ---- the decision table --------------------------------------------------- */

static void test_root_ignored(void **st)
{
	assert_pam(acct_check("root", NULL), IGNORED);
	assert_string_equal(said, "");
	/* even with the snapshot gone, and even in a broken configuration */
	assert_pam(acct_check("root", "cache_path=/nonexistent/nhi.cache"), IGNORED);
	assert_pam(acct_check("root", "no_such_key=1"), IGNORED);
}

static void test_human_ignored(void **st)
{
	assert_pam(acct_check("no-such-human-xq", NULL), IGNORED);
	assert_string_equal(said, "");
	/* a human NSS knows is not affected by a missing snapshot (daemon,
	 * uid 1, is a human once "system" is out of service_uids) */
	assert_pam(acct_check("daemon", "service_uids=5000 cache_path=/nonexistent/nhi.cache"),
		   IGNORED);
	assert_string_equal(said, "");
	/* but a name NSS cannot resolve then is not assumed human: nhi's own
	 * identities vanish from NSS with the snapshot */
	assert_pam(acct_check("no-such-human-xq", "cache_path=/nonexistent/nhi.cache"),
		   PAM_AUTHINFO_UNAVAIL);
	assert_said("E:service account no-such-human-xq: the nhi registry snapshot is unavailable");
}

static void test_unregistered(void **st)
{
	assert_pam(acct_check("svc-nobody", NULL), PAM_PERM_DENIED);
	assert_said("E:unregistered service account");
}

static void test_all_good(void **st)
{
	assert_pam(acct_check("svc-ok", NULL), PAM_SUCCESS);
	assert_string_equal(said, "");
	/* registered but matching no name pattern: still subject */
	assert_pam(acct_check("robot7", NULL), PAM_ACCT_EXPIRED);
}

static void test_expired(void **st)
{
	assert_pam(acct_check("svc-expired", NULL), PAM_ACCT_EXPIRED);
	assert_said("E:identity svc-expired expired on ");
}

static void test_suspended_retired(void **st)
{
	assert_pam(acct_check("svc-susp", NULL), PAM_PERM_DENIED);
	assert_said("E:identity svc-susp is suspended");
	assert_pam(acct_check("svc-retired", NULL), PAM_PERM_DENIED);
	assert_said("E:identity svc-retired is retired");
}

static void test_orphaned(void **st)
{
	assert_pam(acct_check("svc-orphan", NULL), PAM_PERM_DENIED);
	assert_said("E:identity svc-orphan has no live owner");
	/* within the grace: allowed, with a warning */
	assert_pam(acct_check("svc-orphan-new", NULL), PAM_SUCCESS);
	assert_said("I:warning: identity svc-orphan-new has no live owner");
	/* the grace comes from the configuration (and module arguments) */
	assert_pam(acct_check("svc-orphan", "orphan_grace=60d"), PAM_SUCCESS);
	assert_pam(acct_check("svc-orphan-new", "orphan_grace=1h"), PAM_PERM_DENIED);
}

static void test_review(void **st)
{
	assert_pam(acct_check("svc-review", NULL), PAM_PERM_DENIED);
	assert_said("E:identity svc-review: review overdue");
	assert_pam(acct_check("svc-review", "review=enforce"), PAM_PERM_DENIED);
	assert_pam(acct_check("svc-review", "review=warn"), PAM_SUCCESS);
	assert_said("I:warning: identity svc-review: review overdue");
	assert_pam(acct_check("svc-review", "review=off"), PAM_SUCCESS);
	assert_string_equal(said, "");
	/* a longer grace: overdue but within it, allowed with a warning */
	assert_pam(acct_check("svc-review", "review_grace=60d"), PAM_SUCCESS);
	assert_said("I:warning:");
}

static void test_near_warnings(void **st)
{
	assert_pam(acct_check("svc-near", NULL), PAM_SUCCESS);
	assert_said("I:warning: identity svc-near expires on ");
	assert_pam(acct_check("svc-near", "warn_before=1d"), PAM_SUCCESS);
	assert_string_equal(said, "");
	/* review due within warn_before */
	assert_pam(acct_check("svc-ok", "warn_before=90d"), PAM_SUCCESS);
	assert_said("I:warning: identity svc-ok: review due on ");
}

static void test_host_scope(void **st)
{
	assert_pam(acct_check("svc-hosts", NULL), PAM_PERM_DENIED);
	assert_said("E:identity svc-hosts may not be used on host testhost");
	assert_pam(acct_check("svc-hosts-ok", NULL), PAM_SUCCESS);
	/* this host's name from a module argument; globs */
	assert_pam(acct_check("svc-hosts", "host=web7"), PAM_SUCCESS);
	assert_pam(acct_check("svc-hosts", "host=db1"), PAM_SUCCESS);
	assert_pam(acct_check("svc-hosts", "host=db2"), PAM_PERM_DENIED);
}

static void test_service_scope(void **st)
{
	assert_pam(run(ACCT, "sshd", "svc-cron", NULL, 0), PAM_PERM_DENIED);
	assert_said("E:identity svc-cron may not be used through sshd");
	assert_pam(run(ACCT, "cron", "svc-cron", NULL, 0), PAM_SUCCESS);
	assert_pam(run(ACCT, "systemd-user", "svc-cron", NULL, 0), PAM_SUCCESS);
	assert_pam(run(ACCT, "su", "svc-cron", NULL, 0), PAM_PERM_DENIED);
}

/* ---- the snapshot: missing, corrupt, untrusted --------------------------- */

static void copy_cache(const char *dst, mode_t mode, long truncate_to, long flip_at)
{
	FILE *in = fopen(cache, "rb"), *out = fopen(dst, "wb");
	unsigned char buf[1 << 16];
	size_t n;

	assert_non_null(in);
	assert_non_null(out);
	n = fread(buf, 1, sizeof(buf), in);
	assert_true(n > 256 && n < sizeof(buf));
	if (flip_at >= 0) {
		if (flip_at >= (long)n)
			flip_at = (long)n - 1;
		buf[flip_at] ^= 0x10;
	}
	if (truncate_to >= 0 && (size_t)truncate_to < n)
		n = (size_t)truncate_to;
	assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(chmod(dst, mode), 0);
}

static void test_snapshot_missing(void **st)
{
	assert_pam(acct_check("svc-ok", "cache_path=/nonexistent/nhi.cache"), PAM_AUTHINFO_UNAVAIL);
	assert_said("E:service account svc-ok: the nhi registry snapshot is unavailable");
	assert_pam(acct_check("svc-nobody", "cache_path=/nonexistent/nhi.cache"), PAM_AUTHINFO_UNAVAIL);
	/* on_unavailable = ignore */
	assert_pam(acct_check("svc-ok", "cache_path=/nonexistent/nhi.cache on_unavailable=ignore"),
		   IGNORED);
	assert_string_equal(said, "");
	/* a missing state_dir is the same answer */
	assert_pam(acct_check("svc-ok", "state_dir=/nonexistent/state"), PAM_AUTHINFO_UNAVAIL);
}

/* The file offset of NAME's hot record in the snapshot image b. */
static uint32_t hot_record(const unsigned char *b, const char *name)
{
	const struct nhi_snap_hdr *h = (const void *)b;
	const uint32_t *order = (const void *)(b + h->order_off);

	for (uint32_t i = 0; i < h->n_idents; i++)
		if (strcmp((const char *)b + order[i] + sizeof(struct nhi_snap_ident_rec), name) == 0)
			return order[i];
	fail_msg("%s not in the snapshot", name);
	return 0;
}

/* A snapshot of many blocks is verified block by block (what a lookup
 * reads): damage to svc-ok's record fails svc-ok closed, and only it. */
static void test_snapshot_block_damage(void **st)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	char big[700], args[800], err[256], name[32];
	int64_t far = now + 200 * DAY, rev = now + 60 * DAY;
	unsigned char *b;
	struct stat sb;
	uint32_t at;
	FILE *f;

	snprintf(big, sizeof(big), "%s/big.cache", T);
	snprintf(args, sizeof(args), "cache_path=%s", big);
	assert_non_null(w);
	ident(w, "svc-ok", 2000001, NHI_STATE_ACTIVE, far, rev, 0, "", "");
	for (int i = 0; i < 1500; i++) {
		snprintf(name, sizeof(name), "svc-many-%04d", i);
		ident(w, name, 2100000 + (uint32_t)i, NHI_STATE_ACTIVE, far, rev, 0, "", "");
	}
	assert_int_equal(nhi_snapw_publish(w, big, 1, now, err, sizeof(err)), 0);
	nhi_snapw_free(w);
	assert_int_equal(stat(big, &sb), 0);
	b = malloc((size_t)sb.st_size);
	assert_non_null(b);
	f = fopen(big, "rb");
	assert_non_null(f);
	assert_int_equal(fread(b, 1, (size_t)sb.st_size, f), (size_t)sb.st_size);
	fclose(f);
	assert_true(((const struct nhi_snap_hdr *)b)->n_blocks > NHI_SNAP_VERIFY_READ_WHOLE);
	assert_pam(acct_check("svc-ok", args), PAM_SUCCESS);
	assert_pam(acct_check("svc-many-1400", args), PAM_SUCCESS);

	/* one bit of svc-ok's gecos: its lookup fails closed and says so */
	at = hot_record(b, "svc-ok") + (uint32_t)sizeof(struct nhi_snap_ident_rec) + 8;
	b[at] ^= 0x02;
	f = fopen(big, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, (size_t)sb.st_size, f), (size_t)sb.st_size);
	assert_int_equal(fclose(f), 0);
	assert_pam(acct_check("svc-ok", args), PAM_AUTHINFO_UNAVAIL);
	assert_said("E:service account svc-ok: the nhi registry snapshot is unavailable");
	/* a human is still left alone, and an identity in another block works */
	assert_pam(acct_check("no-such-human-xq", args), IGNORED);
	at = hot_record(b, "svc-many-1400");
	assert_true((at - 256) >> NHI_SNAP_BLOCK_SHIFT !=
		    (hot_record(b, "svc-ok") - 256) >> NHI_SNAP_BLOCK_SHIFT);
	assert_pam(acct_check("svc-many-1400", args), PAM_SUCCESS);
	free(b);
	unlink(big);
}

static void test_snapshot_corrupt(void **st)
{
	char bad[700], args[800];
	struct stat sb;
	long size;

	assert_int_equal(stat(cache, &sb), 0);
	size = (long)sb.st_size;
	snprintf(bad, sizeof(bad), "%s/bad.cache", T);
	snprintf(args, sizeof(args), "cache_path=%s", bad);

	/* an intact copy works (the harness is right) */
	copy_cache(bad, 0644, -1, -1);
	assert_pam(acct_check("svc-ok", args), PAM_SUCCESS);
	/* bit flips: in the header, in the records, in the strings at the end */
	for (long at = 0; at < size; at += size / 7 + 1) {
		copy_cache(bad, 0644, -1, at);
		assert_pam(acct_check("svc-ok", args), PAM_AUTHINFO_UNAVAIL);
	}
	copy_cache(bad, 0644, -1, size - 2);
	assert_pam(acct_check("svc-ok", args), PAM_AUTHINFO_UNAVAIL);
	/* truncated: mid-file, inside the header, empty */
	copy_cache(bad, 0644, size / 2, -1);
	assert_pam(acct_check("svc-ok", args), PAM_AUTHINFO_UNAVAIL);
	copy_cache(bad, 0644, 100, -1);
	assert_pam(acct_check("svc-ok", args), PAM_AUTHINFO_UNAVAIL);
	copy_cache(bad, 0644, 0, -1);
	assert_pam(acct_check("svc-ok", args), PAM_AUTHINFO_UNAVAIL);
	/* not trusted: writable by others */
	copy_cache(bad, 0666, -1, -1);
	assert_pam(acct_check("svc-ok", args), PAM_AUTHINFO_UNAVAIL);
	/* a directory */
	unlink(bad);
	assert_int_equal(mkdir(bad, 0755), 0);
	assert_pam(acct_check("svc-ok", args), PAM_AUTHINFO_UNAVAIL);
	rmdir(bad);
}

/* Run the account phase in a child that must finish within 5 seconds;
 * returns its PAM code, or -1 when it hung (and was killed). */
static int acct_check_timed(const char *user, const char *args)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(acct_check(user, args) & 0x7f);
	for (int i = 0; i < 500; i++) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		assert_true(w >= 0);
		if (w == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* A FIFO where the snapshot or the configuration should be: an answer,
 * never a hang (a login would wait forever). */
static void test_fifo_no_hang(void **st)
{
	char fifo[700], args[800];
	int r;

	snprintf(fifo, sizeof(fifo), "%s/fifo", T);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	said[0] = '\0';
	snprintf(args, sizeof(args), "cache_path=%s", fifo);
	r = acct_check_timed("svc-ok", args);
	if (r == -1)
		fail_msg("pam_acct_mgmt hung on a FIFO as cache_path (open without O_NONBLOCK)");
	assert_pam(r, PAM_AUTHINFO_UNAVAIL);
	snprintf(args, sizeof(args), "config=%s", fifo);
	r = acct_check_timed("svc-ok", args);
	if (r == -1)
		fail_msg("pam_acct_mgmt hung on a FIFO as config= (open without O_NONBLOCK)");
	assert_pam(r, PAM_AUTHINFO_UNAVAIL);  /* not a regular file: broken */
	unlink(fifo);
}

/* ---- mode = audit, quiet, PAM_SILENT -------------------------------------- */

static void test_audit(void **st)
{
	/* every would-deny is allowed, and the user is told nothing */
	assert_pam(acct_check("svc-expired", "mode=audit"), PAM_SUCCESS);
	assert_string_equal(said, "");
	assert_pam(acct_check("svc-expired", "audit"), PAM_SUCCESS);
	assert_pam(acct_check("svc-susp", "audit"), PAM_SUCCESS);
	assert_pam(acct_check("svc-nobody", "audit"), PAM_SUCCESS);
	assert_pam(acct_check("svc-hosts", "audit"), PAM_SUCCESS);
	assert_pam(acct_check("svc-ok", "audit cache_path=/nonexistent/nhi.cache"), PAM_SUCCESS);
	/* warnings are still shown */
	assert_pam(acct_check("svc-near", "audit"), PAM_SUCCESS);
	assert_said("I:warning: identity svc-near expires");
	/* humans are still ignored */
	assert_pam(acct_check("no-such-human-xq", "audit"), IGNORED);
}

static void test_quiet(void **st)
{
	assert_pam(acct_check("svc-expired", "quiet"), PAM_ACCT_EXPIRED);
	assert_string_equal(said, "");
	assert_pam(acct_check("svc-near", "quiet"), PAM_SUCCESS);
	assert_string_equal(said, "");
	assert_pam(acct_check("svc-susp", "quiet=yes"), PAM_PERM_DENIED);
	assert_string_equal(said, "");
	/* quiet = no brings the messages back */
	assert_pam(acct_check("svc-susp", "quiet=no"), PAM_PERM_DENIED);
	assert_said("E:identity svc-susp is suspended");
	/* PAM_SILENT from the application */
	assert_pam(run(ACCT, "sshd", "svc-expired", NULL, PAM_SILENT), PAM_ACCT_EXPIRED);
	assert_string_equal(said, "");
	assert_pam(run(ACCT, "sshd", "svc-near", NULL, PAM_SILENT), PAM_SUCCESS);
	assert_string_equal(said, "");
	/* debug changes no answer */
	assert_pam(acct_check("svc-expired", "debug"), PAM_ACCT_EXPIRED);
	assert_pam(acct_check("no-such-human-xq", "debug"), IGNORED);
}

/* ---- a broken configuration ----------------------------------------------- */

/* A configuration error never locks a human out: the module classifies
 * with what it could read (the built-in classification at least), leaves
 * humans and root alone in every phase and refuses every service account
 * (PAM_AUTHINFO_UNAVAIL, reason config-error).  A bad value of a key only
 * nhictl reads breaks nothing. */
static void test_bad_config(void **st)
{
	char path[400], args[800];
	static const char *broken[] = {
		"no_such_key=1", "bogusflag", "review=sometimes", "mode=lenient", "uid_min=abc",
	};

	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		assert_pam(acct_check("svc-ok", broken[i]), PAM_AUTHINFO_UNAVAIL);
		assert_said("E:service account svc-ok: refused while the nhi configuration is broken");
		assert_pam(acct_check("no-such-human-xq", broken[i]), IGNORED);
		assert_pam(acct_check("root", broken[i]), IGNORED);
		/* registered in the snapshot, or by the built-in ranges */
		assert_pam(acct_check("svc-cron", broken[i]), PAM_AUTHINFO_UNAVAIL);
		assert_pam(acct_check("nobody", broken[i]), PAM_AUTHINFO_UNAVAIL);
	}
	/* a bad value of a key only nhictl reads: nothing broken */
	assert_pam(acct_check("svc-ok", "max_lifetime=90"), PAM_SUCCESS);
	assert_pam(acct_check("svc-expired", "ldap_uri=http://x"), PAM_ACCT_EXPIRED);
	/* the named config file is missing, relative, untrusted or bad */
	assert_pam(run(ACCT, "sshd", "svc-ok", "config=/nonexistent/nhi.conf", 0),
		   PAM_AUTHINFO_UNAVAIL);
	snprintf(args, sizeof(args), "config=/nonexistent/nhi.conf cache_path=%s", cache);
	assert_pam(run(ACCT, "sshd", "no-such-human-xq", args, 0), IGNORED);
	assert_pam(run(ACCT, "sshd", "svc-ok", "config=relative.conf", 0), PAM_AUTHINFO_UNAVAIL);
	snprintf(path, sizeof(path), "%s/untrusted.conf", T);
	write_file(path, 0666, "state_dir = %s\nservice_uids = 7\n", state);
	/* (its state_dir is not used either: the snapshot named here) */
	snprintf(args, sizeof(args), "config=%s cache_path=%s", path, cache);
	assert_pam(acct_check("svc-ok", args), PAM_AUTHINFO_UNAVAIL);
	assert_pam(acct_check("no-such-human-xq", args), IGNORED);
	/* nothing of an untrusted file is used: "system" still classifies */
	assert_pam(acct_check("daemon", args), PAM_AUTHINFO_UNAVAIL);
	write_file(path, 0644, "state_dir = %s\nfrobnicate = yes\n", state);
	snprintf(args, sizeof(args), "config=%s", path);
	assert_pam(acct_check("svc-ok", args), PAM_AUTHINFO_UNAVAIL);
	assert_pam(acct_check("no-such-human-xq", args), IGNORED);
	/* the good lines of a trusted file count: this one's service_names */
	write_file(path, 0644, "state_dir = %s\nservice_names = robot*\nmax_lifetime = 90\n"
		   "warn_before = soon\n", state);
	assert_pam(acct_check("robot9", args), PAM_AUTHINFO_UNAVAIL);
	assert_pam(acct_check("no-such-human-xq", args), IGNORED);
	/* a good one named by a later config= argument is used */
	write_file(path, 0644, "state_dir = %s\nhost = testhost\nservice_names = svc-*\n"
		   "max_lifetime = 90\n", state);
	assert_pam(acct_check("svc-ok", args), PAM_SUCCESS);
	assert_pam(acct_check("svc-expired", args), PAM_ACCT_EXPIRED);
	/* mode = audit read from the file (or an argument) still only logs */
	assert_pam(acct_check("svc-ok", "audit no_such_key=1"), PAM_SUCCESS);
	/* password phase: the same */
	assert_pam(run(PASSWORD, "passwd", "svc-ok", "no_such_key=1", 0), PAM_PERM_DENIED);
	assert_pam(run(PASSWORD, "passwd", "nobody", "no_such_key=1", 0), PAM_AUTHINFO_UNAVAIL);
	assert_pam(run(PASSWORD, "passwd", "no-such-human-xq", "no_such_key=1", 0), IGNORED);
	/* session: the service account is refused, the human is not */
	assert_pam(run(SESSION, "sshd", "svc-ok", "no_such_key=1", 0), PAM_AUTHINFO_UNAVAIL);
	assert_pam(run(SESSION, "sshd", "no-such-human-xq", "no_such_key=1", 0), IGNORED);
	assert_pam(run(SESSION, "sshd", "root", "no_such_key=1", 0), IGNORED);
}

/* ---- session: usage records ----------------------------------------------- */

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_session(void **st)
{
	char *log, expect[200];
	struct stat sb;
	time_t t0 = time(NULL);
	long long epoch;

	unlink(usage);
	assert_pam(run(SESSION, "sshd", "svc-ok", NULL, 0), PAM_SUCCESS);
	log = slurp(usage);
	assert_non_null(log);
	/* "EPOCH USER SERVICE HOST RHOST\n" */
	assert_int_equal(sscanf(log, "%lld ", &epoch), 1);
	assert_true(epoch >= (long long)t0 && epoch <= (long long)time(NULL));
	snprintf(expect, sizeof(expect), "%lld svc-ok sshd testhost 192.0.2.7\n", epoch);
	assert_string_equal(log, expect);
	assert_int_equal(stat(usage, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	/* appended, not rewritten */
	assert_pam(run(SESSION, "cron", "svc-cron", NULL, 0), PAM_SUCCESS);
	log = slurp(usage);
	assert_non_null(strstr(log, "svc-ok sshd testhost 192.0.2.7\n"));
	assert_non_null(strstr(log, " svc-cron cron testhost 192.0.2.7\n"));

	/* humans and unregistered accounts: ignored, nothing recorded */
	assert_pam(run(SESSION, "sshd", "no-such-human-xq", NULL, 0), IGNORED);
	assert_pam(run(SESSION, "sshd", "root", NULL, 0), IGNORED);
	assert_pam(run(SESSION, "sshd", "svc-nobody", NULL, 0), IGNORED);
	log = slurp(usage);
	assert_null(strstr(log, "no-such-human"));
	assert_null(strstr(log, "root"));
	assert_null(strstr(log, "svc-nobody"));

	/* a denied identity is refused in the session phase too (runuser's
	 * stack has no account phase), with the account phase's code and
	 * message; nothing recorded */
	assert_pam(run(SESSION, "runuser", "svc-susp", NULL, 0), PAM_PERM_DENIED);
	assert_said("E:identity svc-susp is suspended");
	assert_pam(run(SESSION, "runuser", "svc-expired", NULL, 0), PAM_ACCT_EXPIRED);
	assert_pam(run(SESSION, "runuser", "svc-hosts", NULL, 0), PAM_PERM_DENIED);
	assert_null(strstr(slurp(usage), " runuser "));
	/* mode = audit: only logged, the session opens (and is recorded) */
	said[0] = '\0';
	assert_pam(run(SESSION, "runuser", "svc-susp", "audit", 0), PAM_SUCCESS);
	assert_string_equal(said, "");
	assert_non_null(strstr(slurp(usage), " svc-susp runuser "));
}

/* ---- PAM_RUSER (su, runuser): delegations and human use ------------------ */

static int as(const char *requester, enum phase ph, const char *user, const char *args)
{
	int r;

	ruser = requester;
	r = run(ph, ph == SESSION ? "runuser" : "su", user, args, 0);
	ruser = NULL;
	return r;
}

static void test_ruser_delegation(void **st)
{
	/* a live delegation agent-a -> svc-ok */
	assert_pam(as("agent-a", ACCT, "svc-ok", NULL), PAM_SUCCESS);
	assert_pam(as("agent-a", SESSION, "svc-ok", NULL), PAM_SUCCESS);
	/* none agent-c -> svc-ok, nor svc-ok -> agent-a (the other way) */
	assert_pam(as("agent-c", ACCT, "svc-ok", NULL), PAM_PERM_DENIED);
	assert_said("E:agent-c may not act as svc-ok: no delegation agent-c -> svc-ok");
	assert_pam(as("svc-ok", ACCT, "agent-a", NULL), PAM_PERM_DENIED);
	/* runuser has no account phase: the session refuses */
	assert_pam(as("agent-c", SESSION, "svc-ok", NULL), PAM_PERM_DENIED);
	assert_said("no delegation agent-c -> svc-ok");
	/* an expired edge; a suspended FROM (svc-susp -> svc-ok) */
	assert_pam(as("agent-b", ACCT, "svc-ok", NULL), PAM_PERM_DENIED);
	assert_said("delegation cut: the delegation expired on");
	assert_pam(as("svc-susp", ACCT, "svc-ok", NULL), PAM_PERM_DENIED);
	assert_said("delegation cut: svc-susp is suspended");
	/* a suspended TO: its own denial */
	assert_pam(as("agent-a", ACCT, "svc-susp", NULL), PAM_PERM_DENIED);
	assert_said("E:identity svc-susp is suspended");
	/* an unregistered service account has no delegation */
	assert_pam(as("svc-nobody", ACCT, "svc-ok", NULL), PAM_PERM_DENIED);
	assert_said("svc-nobody is a service account nhi does not know");
	/* root, an empty RUSER and the identity itself: unaffected */
	assert_pam(as("root", ACCT, "svc-ok", NULL), PAM_SUCCESS);
	assert_pam(as("", ACCT, "svc-ok", NULL), PAM_SUCCESS);
	assert_pam(as("svc-ok", ACCT, "svc-ok", NULL), PAM_SUCCESS);
	/* a human target is not ours, whoever asks */
	assert_pam(as("agent-c", ACCT, "no-such-human-xq", NULL), IGNORED);
	/* mode = audit: let through, not told */
	assert_pam(as("agent-c", ACCT, "svc-ok", "audit"), PAM_SUCCESS);
	assert_string_equal(said, "");
	/* no snapshot: fail closed as ever, RUSER or not */
	assert_pam(as("agent-a", ACCT, "svc-ok", "cache_path=/nonexistent/nhi.cache"),
		   PAM_AUTHINFO_UNAVAIL);
}

static void test_ruser_human(void **st)
{
	/* daemon (uid 1) is a human once "system" is out of service_uids */
	const char *h = "service_uids=5000";
	char args[200];

	/* log (the default) and allow: through */
	assert_pam(as("daemon", ACCT, "svc-ok", h), PAM_SUCCESS);
	assert_pam(as("daemon", SESSION, "svc-ok", h), PAM_SUCCESS);
	snprintf(args, sizeof(args), "%s human_use=allow", h);
	assert_pam(as("daemon", ACCT, "svc-ok", args), PAM_SUCCESS);
	/* deny: refused in account and session */
	snprintf(args, sizeof(args), "%s human_use=deny", h);
	assert_pam(as("daemon", ACCT, "svc-ok", args), PAM_PERM_DENIED);
	assert_said("humans may not use identities (human_use = deny)");
	assert_pam(as("daemon", SESSION, "svc-ok", args), PAM_PERM_DENIED);
	/* root is no human use */
	assert_pam(as("root", ACCT, "svc-ok", args), PAM_SUCCESS);
	/* owner: the owner through, anyone else not */
	snprintf(args, sizeof(args), "%s human_use=owner", h);
	assert_pam(as("daemon", ACCT, "svc-daemon", args), PAM_SUCCESS);
	assert_pam(as("daemon", ACCT, "svc-ok", args), PAM_PERM_DENIED);
	assert_said("only its owner may");
	/* a bad value breaks the configuration: service accounts fail closed */
	snprintf(args, sizeof(args), "%s human_use=sometimes", h);
	assert_pam(as("daemon", ACCT, "svc-ok", args), PAM_AUTHINFO_UNAVAIL);
}

static void test_session_failures(void **st)
{
	char link[700], target[700], args[800];
	struct stat sb;

	/* an unwritable place: logged, the login goes on */
	assert_pam(run(SESSION, "sshd", "svc-ok", "usage_log=/nonexistent/dir/usage.log", 0),
		   PAM_SUCCESS);
	/* a symlink is not followed */
	snprintf(link, sizeof(link), "%s/link.log", T);
	snprintf(target, sizeof(target), "%s/target.log", T);
	write_file(target, 0600, "");
	unlink(link);
	assert_int_equal(symlink(target, link), 0);
	snprintf(args, sizeof(args), "usage_log=%s", link);
	assert_pam(run(SESSION, "sshd", "svc-ok", args, 0), PAM_SUCCESS);
	assert_int_equal(stat(target, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	/* a usage log others may write is not trusted */
	write_file(target, 0666, "");
	snprintf(args, sizeof(args), "usage_log=%s", target);
	assert_pam(run(SESSION, "sshd", "svc-ok", args, 0), PAM_SUCCESS);
	assert_int_equal(stat(target, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	/* a FIFO: not opened for writing (it would block), not a regular file */
	snprintf(link, sizeof(link), "%s/usage.fifo", T);
	assert_int_equal(mkfifo(link, 0600), 0);
	snprintf(args, sizeof(args), "usage_log=%s", link);
	assert_pam(run(SESSION, "sshd", "svc-ok", args, 0), PAM_SUCCESS);
	unlink(link);
	/* no snapshot: a service account fails closed, nothing recorded;
	 * unless told to ignore; a human NSS knows is left alone */
	unlink(target);
	snprintf(args, sizeof(args), "usage_log=%s cache_path=/nonexistent/nhi.cache", target);
	assert_pam(run(SESSION, "sshd", "svc-ok", args, 0), PAM_AUTHINFO_UNAVAIL);
	assert_int_equal(stat(target, &sb), -1);
	snprintf(args, sizeof(args), "usage_log=%s cache_path=/nonexistent/nhi.cache "
		 "on_unavailable=ignore", target);
	assert_pam(run(SESSION, "sshd", "svc-ok", args, 0), IGNORED);
	snprintf(args, sizeof(args), "usage_log=%s cache_path=/nonexistent/nhi.cache "
		 "service_uids=5000", target);
	assert_pam(run(SESSION, "sshd", "daemon", args, 0), IGNORED);
	assert_int_equal(stat(target, &sb), -1);
}

/* Several processes open sessions at once: every line arrives whole. */
static void test_session_concurrent(void **st)
{
	enum { KIDS = 4, EACH = 25 };
	pid_t kids[KIDS];
	char *log, *line;
	int lines = 0;

	unlink(usage);
	for (int k = 0; k < KIDS; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (kids[k] == 0) {
			int bad = 0;
			for (int i = 0; i < EACH; i++)
				if (run(SESSION, k % 2 ? "cron" : "sshd", k % 2 ? "svc-cron" : "svc-ok",
					NULL, 0) != PAM_SUCCESS)
					bad++;
			_exit(bad ? 1 : 0);
		}
	}
	for (int k = 0; k < KIDS; k++) {
		int status;
		assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	log = slurp(usage);
	assert_non_null(log);
	for (line = strtok(log, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		char user[64], svc[64], host[64], rhost[64], extra[8];
		long long epoch;

		assert_int_equal(sscanf(line, "%lld %63s %63s %63s %63s %7s", &epoch, user, svc,
					host, rhost, extra), 5);
		assert_true((strcmp(user, "svc-ok") == 0 && strcmp(svc, "sshd") == 0) ||
			    (strcmp(user, "svc-cron") == 0 && strcmp(svc, "cron") == 0));
		assert_string_equal(host, "testhost");
		assert_string_equal(rhost, "192.0.2.7");
		lines++;
	}
	assert_int_equal(lines, KIDS * EACH);
}

/* ---- password: managed identities are refused ----------------------------- */

static void test_password(void **st)
{
	assert_pam(run(PASSWORD, "passwd", "svc-ok", NULL, 0), PAM_PERM_DENIED);
	assert_said("E:password of svc-ok is managed by nhi; use nhictl rotate");
	/* also for a suspended or expired identity, and when only the
	 * expired-token path is asked for */
	assert_pam(run(PASSWORD, "passwd", "svc-susp", NULL, PAM_CHANGE_EXPIRED_AUTHTOK),
		   PAM_PERM_DENIED);
	assert_pam(run(PASSWORD, "passwd", "robot7", NULL, 0), PAM_PERM_DENIED);
	/* quiet */
	assert_pam(run(PASSWORD, "passwd", "svc-ok", "quiet", 0), PAM_PERM_DENIED);
	assert_string_equal(said, "");
	/* humans, root and unregistered accounts: not ours */
	assert_pam(run(PASSWORD, "passwd", "no-such-human-xq", NULL, 0), IGNORED);
	assert_pam(run(PASSWORD, "passwd", "root", NULL, 0), IGNORED);
	assert_pam(run(PASSWORD, "passwd", "svc-nobody", NULL, 0), IGNORED);
	/* audit mode refuses nothing */
	assert_pam(run(PASSWORD, "passwd", "svc-ok", "audit", 0), IGNORED);
	/* no snapshot: a service account fails closed, unless told to ignore */
	assert_pam(run(PASSWORD, "passwd", "svc-ok", "cache_path=/nonexistent/nhi.cache", 0),
		   PAM_AUTHINFO_UNAVAIL);
	assert_pam(run(PASSWORD, "passwd", "svc-ok",
		       "cache_path=/nonexistent/nhi.cache on_unavailable=ignore", 0), IGNORED);
	assert_pam(run(PASSWORD, "passwd", "daemon",
		       "cache_path=/nonexistent/nhi.cache service_uids=5000", 0), IGNORED);
}

/* Each phase of the password module on its own: the refusal comes already
 * in PAM_PRELIM_CHECK (before any module asks for a password).  The built
 * module's entry point is called on a handle from pam_start_confdir(). */
static void test_password_phases(void **st)
{
	typedef int (*sm_fn)(pam_handle_t *, int, int, const char **);
	struct pam_conv pc = { conv, NULL };
	pam_handle_t *pamh = NULL;
	const char *argv[] = { NULL };
	char arg[300];
	void *h;
	sm_fn chauthtok;

	snprintf(arg, sizeof(arg), "config=%s", conf);
	argv[0] = arg;
	h = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	chauthtok = (sm_fn)dlsym(h, "pam_sm_chauthtok");
	assert_non_null(chauthtok);
	/* any service file will do: the handle only carries user and conv */
	service_file("passwd", PASSWORD, NULL);
	assert_int_equal(pam_start_confdir("passwd", "svc-ok", &pc, confdir, &pamh), PAM_SUCCESS);
	said[0] = '\0';
	assert_pam(chauthtok(pamh, PAM_PRELIM_CHECK, 1, argv), PAM_PERM_DENIED);
	assert_said("E:password of svc-ok is managed by nhi");
	assert_pam(chauthtok(pamh, PAM_UPDATE_AUTHTOK, 1, argv), PAM_PERM_DENIED);
	assert_pam(chauthtok(pamh, PAM_PRELIM_CHECK | PAM_SILENT, 1, argv), PAM_PERM_DENIED);
	pam_end(pamh, PAM_SUCCESS);
	assert_int_equal(pam_start_confdir("passwd", "no-such-human-xq", &pc, confdir, &pamh),
			 PAM_SUCCESS);
	assert_pam(chauthtok(pamh, PAM_PRELIM_CHECK, 1, argv), PAM_IGNORE);
	assert_pam(chauthtok(pamh, PAM_UPDATE_AUTHTOK, 1, argv), PAM_IGNORE);
	pam_end(pamh, PAM_SUCCESS);
	dlclose(h);
}

/* ---- auth: the passwords nhictl issued ------------------------------------ */

/* A yescrypt hash of pw, as nhictl makes them. */
static void yescrypt(const char *pw, char *out, size_t len)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *h;

	assert_non_null(cd);
	assert_non_null(crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof(setting)));
	h = crypt_rn(pw, setting, cd, (int)sizeof(*cd));
	assert_true(h != NULL && h[0] == '$' && strlen(h) < len);
	snprintf(out, len, "%s", h);
	free(cd);
}

/* state/nhi.shadow as nhictl writes it, for generation 1, with 'mode'. */
static void pwfile(const char *recs, mode_t mode)
{
	char path[700], buf[2048];
	size_t n = strlen(recs), count = 0;

	for (size_t i = 0; i < n; i++)
		count += recs[i] == '\n';
	snprintf(path, sizeof(path), "%s/nhi.shadow", state);
	snprintf(buf, sizeof(buf), "# nhi-shadow 1 1 %zu %016llx\n%s", count,
		 (unsigned long long)nhi_checksum(recs, n, 1), recs);
	write_file(path, mode, "%s", buf);
}

/* pam_authenticate (and pam_setcred, into *cred) for user with password pw. */
static int auth_as(const char *user, const char *pw, int *cred)
{
	struct pam_conv pc = { conv, NULL };
	pam_handle_t *pamh = NULL;
	int r;

	said[0] = '\0';
	answer = pw;
	assert_int_equal(pam_start_confdir("authsvc", user, &pc, confdir, &pamh), PAM_SUCCESS);
	r = pam_authenticate(pamh, 0);
	if (cred != NULL)
		*cred = pam_setcred(pamh, PAM_ESTABLISH_CRED);
	pam_end(pamh, r);
	answer = NULL;
	return r;
}

/* Who is not a registered identity is not asked for a password; a
 * registered one is asked and accepted with any usable hash of
 * nhi.shadow (the active one, the old one in grace), refused with a wrong
 * password or when it has none usable (suspended, expired); without a
 * usable file it is refused as unavailable, without a prompt.  With the
 * real pam_unix beside it: tests/test-pam-unix.sh. */
static void test_auth(void **st)
{
	char path[700], h_new[256], h_old[256], h_susp[256], h_exp[256], recs[2048];
	int cred = -1;

	snprintf(path, sizeof(path), "%s/authsvc", confdir);
	write_file(path, 0644,
		   "auth [success=done ignore=ignore default=die] %s config=%s try_first_pass\n"
		   "auth required pam_debug.so auth=no_module_data cred=no_module_data\n",
		   module, conf);
	assert_pam(auth_as("no-such-human-xq", "x", &cred), IGNORED);
	assert_pam(cred, IGNORED);
	assert_null(strstr(said, "?:"));   /* no prompt */
	/* no password file yet */
	assert_pam(auth_as("svc-ok", "x", NULL), PAM_AUTHINFO_UNAVAIL);
	assert_null(strstr(said, "?:"));

	yescrypt("new-pw", h_new, sizeof(h_new));
	yescrypt("old-pw", h_old, sizeof(h_old));
	yescrypt("susp-pw", h_susp, sizeof(h_susp));
	yescrypt("exp-pw", h_exp, sizeof(h_exp));
	snprintf(recs, sizeof(recs), "svc-expired 0 0 %s\nsvc-ok 0 0 %s\nsvc-ok %lld 0 %s\n"
		 "svc-susp 0 0 %s\n", h_exp, h_new, (long long)now + 3600, h_old, h_susp);
	pwfile(recs, 0600);
	assert_pam(auth_as("svc-ok", "new-pw", &cred), PAM_SUCCESS);
	assert_pam(cred, PAM_SUCCESS);
	assert_non_null(strstr(said, "?:"));   /* asked */
	assert_pam(auth_as("svc-ok", "old-pw", &cred), PAM_SUCCESS);   /* in its grace */
	assert_pam(auth_as("svc-ok", "wrong", NULL), PAM_AUTH_ERR);
	assert_pam(auth_as("svc-ok", "", NULL), PAM_AUTH_ERR);
	assert_pam(auth_as("svc-susp", "susp-pw", NULL), PAM_AUTH_ERR);
	assert_pam(auth_as("svc-expired", "exp-pw", NULL), PAM_AUTH_ERR);
	assert_pam(auth_as("no-such-human-xq", "new-pw", NULL), IGNORED);
	/* the grace ended */
	snprintf(recs, sizeof(recs), "svc-ok 0 0 %s\nsvc-ok %lld 0 %s\n", h_new,
		 (long long)now - 1, h_old);
	pwfile(recs, 0600);
	assert_pam(auth_as("svc-ok", "old-pw", NULL), PAM_AUTH_ERR);
	assert_pam(auth_as("svc-ok", "new-pw", NULL), PAM_SUCCESS);
	/* another identity's password is not svc-ok's, even when its name
	 * begins with svc-ok's */
	snprintf(recs, sizeof(recs), "svc-ok 0 0 %s\nsvc-okx 0 0 %s\n", h_new, h_old);
	pwfile(recs, 0600);
	assert_pam(auth_as("svc-ok", "old-pw", NULL), PAM_AUTH_ERR);
	assert_pam(auth_as("svc-ok", "new-pw", NULL), PAM_SUCCESS);
	/* pam_setcred without pam_authenticate (cron, sshd after a public
	 * key): this module authenticated nobody, so it must not end the
	 * stack with success before the modules after it set theirs */
	{
		struct pam_conv pc = { conv, NULL };
		pam_handle_t *pamh = NULL;

		assert_int_equal(pam_start_confdir("authsvc", "svc-ok", &pc, confdir, &pamh),
				 PAM_SUCCESS);
		assert_pam(pam_setcred(pamh, PAM_ESTABLISH_CRED), IGNORED);
		pam_end(pamh, PAM_SUCCESS);
	}
	/* a file others may read is not trusted: unavailable, not asked */
	pwfile(recs, 0644);
	assert_pam(auth_as("svc-ok", "new-pw", NULL), PAM_AUTHINFO_UNAVAIL);
	assert_null(strstr(said, "?:"));
	snprintf(path, sizeof(path), "%s/nhi.shadow", state);
	unlink(path);
}

/* ---- hostile input ------------------------------------------------------- */

static void test_odd_users(void **st)
{
	char longname[2000];

	/* names that cannot be registered are never a crash */
	assert_pam(acct_check("svc-a b;c=d\nx", NULL), PAM_PERM_DENIED);   /* svc-* pattern */
	assert_pam(acct_check("x y", NULL), IGNORED);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_pam(acct_check(longname, NULL), IGNORED);
	memcpy(longname, "svc-", 4);
	assert_pam(acct_check(longname, NULL), PAM_PERM_DENIED);
	/* a session of an odd name records nothing and crashes nothing */
	assert_pam(run(SESSION, "sshd", "svc-a b", NULL, 0), IGNORED);
}

/* ---- trust of the directories above --------------------------------------- */

/* A configuration or a snapshot below a directory others may write to (a
 * group-writable parent, or sticky /tmp's kind) is not trusted: the
 * configuration counts as broken (humans ignored, service accounts fail
 * closed), the snapshot as unavailable. */
static void test_untrusted_dirs(void **st)
{
	char sub[220], etc[240], path[260], snap[260], args[600], cmd[700];

	snprintf(sub, sizeof(sub), "%s/shared", T);
	snprintf(etc, sizeof(etc), "%s/etc", sub);
	snprintf(path, sizeof(path), "%s/nhi.conf", etc);
	snprintf(snap, sizeof(snap), "%s/nhi.cache", etc);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(mkdir(etc, 0755), 0);
	write_file(path, 0644, "state_dir = %s\nhost = testhost\nservice_names = svc-*\n", state);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", cache, snap);
	assert_int_equal(system(cmd), 0);
	snprintf(args, sizeof(args), "config=%s", path);
	assert_pam(acct_check("svc-susp", args), PAM_PERM_DENIED);
	snprintf(args, sizeof(args), "cache_path=%s", snap);
	assert_pam(acct_check("svc-susp", args), PAM_PERM_DENIED);

	assert_int_equal(chmod(sub, 0775), 0);
	/* (the snapshot named here: an untrusted file's state_dir is not used) */
	snprintf(args, sizeof(args), "config=%s cache_path=%s", path, cache);
	assert_pam(acct_check("svc-susp", args), PAM_AUTHINFO_UNAVAIL);
	assert_pam(acct_check("svc-ok", args), PAM_AUTHINFO_UNAVAIL);
	assert_pam(acct_check("no-such-human-xq", args), IGNORED);
	assert_pam(acct_check("root", args), IGNORED);
	snprintf(args, sizeof(args), "cache_path=%s", snap);
	assert_pam(acct_check("svc-susp", args), PAM_AUTHINFO_UNAVAIL);
	assert_said("the nhi registry snapshot is unavailable");
	/* a human NSS knows (daemon, once service_uids leaves out "system") */
	snprintf(args, sizeof(args), "cache_path=%s service_uids=5000", snap);
	assert_pam(acct_check("daemon", args), IGNORED);
	snprintf(args, sizeof(args), "cache_path=%s", snap);
	/* sticky: trusted only when root's (as /tmp) */
	assert_int_equal(chmod(sub, 01777), 0);
	assert_pam(acct_check("svc-ok", args), geteuid() == 0 ? PAM_SUCCESS : PAM_AUTHINFO_UNAVAIL);
	if (geteuid() == 0) {
		assert_int_equal(chown(sub, 65534, 0), 0);
		assert_pam(acct_check("svc-ok", args), PAM_AUTHINFO_UNAVAIL);
		assert_int_equal(chown(sub, 0, 0), 0);
	}
	assert_int_equal(chmod(sub, 0755), 0);
	assert_pam(acct_check("svc-ok", args), PAM_SUCCESS);
}

/* ---- a small thread stack ------------------------------------------------ */

#define SMALL_STACK 16384       /* PTHREAD_STACK_MIN: the least glibc gives a thread */

typedef int (*pam_sm_fn)(pam_handle_t *, int, int, const char **);

struct small_call {
	pam_handle_t *pamh;
	pam_sm_fn fn;
	int argc;
	const char *argv[2];
	int r;
};

static void *small_call_run(void *arg)
{
	struct small_call *c = arg;

	c->r = c->fn(c->pamh, 0, c->argc, c->argv);
	return NULL;
}

/* One entry point of pam_nhi (the module libpam loaded), called on a
 * thread whose whole stack is SMALL_STACK bytes (glibc keeps the thread's
 * own data at its top too) above an inaccessible guard page, in a child:
 * an overflow is a SIGSEGV there, reported here.  The stack is painted
 * first; the child prints how much of it the call used.  NSS loads its
 * modules beforehand, in the main thread.  (libpam itself is not asked:
 * its own audit logging needs more than 16 KB.) */
static int small_stack(const char *entry, const char *user)
{
	struct pam_conv pc = { conv, NULL };
	char arg[300];
	pid_t pid;
	int status;

	snprintf(arg, sizeof(arg), "config=%s", conf);
	service_file("small", ACCT, NULL);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct small_call c = { NULL, NULL, 1, { arg, NULL }, -1 };
		size_t page = (size_t)sysconf(_SC_PAGESIZE), used;
		pthread_attr_t attr;
		pthread_t t;
		unsigned char *mem, *stack;
		void *h;

		(void)getpwnam("root");
		if (pam_start_confdir("small", user, &pc, confdir, &c.pamh) != PAM_SUCCESS ||
		    (h = dlopen(module, RTLD_NOW | RTLD_NOLOAD)) == NULL ||
		    (c.fn = (pam_sm_fn)dlsym(h, entry)) == NULL)
			_exit(250);
		mem = mmap(NULL, page + SMALL_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED || mprotect(mem, page, PROT_NONE) != 0)
			_exit(251);
		stack = mem + page;
		memset(stack, 0xa5, SMALL_STACK);
		if (pthread_attr_init(&attr) != 0 ||
		    pthread_attr_setstack(&attr, stack, SMALL_STACK) != 0 ||
		    pthread_create(&t, &attr, small_call_run, &c) != 0 ||
		    pthread_join(t, NULL) != 0)
			_exit(252);
		/* valgrind takes the ended thread's stack for freed memory: the
		 * call still runs on it, but its depth is not read there */
		if (getenv("LD_PRELOAD") != NULL && strstr(getenv("LD_PRELOAD"), "vgpreload") != NULL) {
			printf("# %s (%s) on a %d-byte thread stack: depth not read under valgrind\n",
			       entry, user, SMALL_STACK);
		} else {
			for (used = SMALL_STACK; used > 0 && stack[SMALL_STACK - used] == 0xa5; used--)
				;
			printf("# %s (%s) on a %d-byte thread stack: %zu bytes used, thread data "
			       "included\n", entry, user, SMALL_STACK, used);
		}
		fflush(stdout);
		pam_end(c.pamh, c.r);
		_exit(c.r);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("pam_nhi %s (%s) on a %d-byte stack: killed by signal %d", entry, user,
			 SMALL_STACK, WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_true(WEXITSTATUS(status) < 250);
	return WEXITSTATUS(status);
}

static void test_small_stack(void **st)
{
	assert_pam(small_stack("pam_sm_acct_mgmt", "svc-ok"), PAM_SUCCESS);
	assert_pam(small_stack("pam_sm_acct_mgmt", "svc-near"), PAM_SUCCESS);
	assert_pam(small_stack("pam_sm_acct_mgmt", "svc-susp"), PAM_PERM_DENIED);
	assert_pam(small_stack("pam_sm_acct_mgmt", "svc-unknown"), PAM_PERM_DENIED);
	assert_pam(small_stack("pam_sm_acct_mgmt", "no-such-human-xq"), PAM_IGNORE);
	assert_pam(small_stack("pam_sm_open_session", "svc-ok"), PAM_SUCCESS);
	assert_pam(small_stack("pam_sm_chauthtok", "svc-ok"), PAM_PERM_DENIED);
}

/* Some cases name no snapshot (a broken or missing config= leaves the
 * module with the built-in state_dir): they must not depend on what the
 * host keeps there.  When the built-in state_dir exists (a registry left by
 * a run without NHI_CONF), hide it for this process: a private mount
 * namespace with an empty tmpfs over it.  The host's directory is never
 * touched; without the privilege, a note says the answers are the host's. */
static void hide_builtin_statedir(void)
{
	const char *d = getenv("NHI_BUILTIN_STATEDIR");
	struct stat sb;

	if (d == NULL || *d != '/' || stat(d, &sb) != 0)
		return;
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", d, "tmpfs", 0, "mode=755") != 0)
		printf("# note: %s exists and cannot be hidden (%s): answers are the host's\n",
		       d, strerror(errno));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_ignored),
		cmocka_unit_test(test_human_ignored),
		cmocka_unit_test(test_unregistered),
		cmocka_unit_test(test_all_good),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_suspended_retired),
		cmocka_unit_test(test_orphaned),
		cmocka_unit_test(test_review),
		cmocka_unit_test(test_near_warnings),
		cmocka_unit_test(test_host_scope),
		cmocka_unit_test(test_service_scope),
		cmocka_unit_test(test_snapshot_missing),
		cmocka_unit_test(test_snapshot_corrupt),
		cmocka_unit_test(test_snapshot_block_damage),
		cmocka_unit_test(test_fifo_no_hang),
		cmocka_unit_test(test_audit),
		cmocka_unit_test(test_quiet),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_session_failures),
		cmocka_unit_test(test_ruser_delegation),
		cmocka_unit_test(test_ruser_human),
		cmocka_unit_test(test_session_concurrent),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_password_phases),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_odd_users),
		cmocka_unit_test(test_small_stack),
		cmocka_unit_test(test_untrusted_dirs),
	};

	now = time(NULL);
	hide_builtin_statedir();
	return cmocka_run_group_tests_name("pam_nhi", tests, group_setup, group_teardown);
}

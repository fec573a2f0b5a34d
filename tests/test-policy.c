/* Unit tests: the account policy (docs/design.md, "PAM decisions"), every row of
 * the table, through nhi_policy_decide() (the pure decision) and
 * nhi_account_check() (classification, mode=audit, on_unavailable) over a
 * real snapshot written with the library's writer. */
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
#include "nhi_conf.h"
#include "nhi_err.h"
#include "nhi_policy.h"
#include "nhi_snapshot.h"
#include "testtmp.h"

#define DAY 86400
/* a fixed "now": 2026-06-01T00:00:00Z */
static const time_t NOW = 1780272000;

static struct nhi_conf conf;

static void conf_reset(void)
{
	char err[256];

	nhi_conf_init(&conf);
	conf.orphan_grace = 7 * DAY;
	conf.review_grace = 14 * DAY;
	conf.warn_before = 14 * DAY;
	conf.review = NHI_REVIEW_ENFORCE;
	conf.host = "testhost";
	assert_int_equal(nhi_conf_finish(&conf, err, sizeof(err)), 0);
}

static struct nhi_ident good(void)
{
	struct nhi_ident id;

	memset(&id, 0, sizeof(id));
	id.name = "svc-a";
	id.gecos = "";
	id.home = "/srv/svc-a";
	id.shell = "/bin/sh";
	id.owner = "alice";
	id.purpose = "test";
	id.hosts = "";
	id.services = "";
	id.uid = 2000001;
	id.gid = 2000001;
	id.kind = NHI_KIND_SERVICE;
	id.state = NHI_STATE_ACTIVE;
	id.created = NOW - 10 * DAY;
	id.expires = NOW + 100 * DAY;
	id.review_interval = 90 * DAY;
	id.review_due = NOW + 60 * DAY;
	return id;
}

static int setup(void **state)
{
	conf_reset();
	return 0;
}

static void decide(const struct nhi_ident *id, const char *host, const char *svc,
		   struct nhi_decision *d)
{
	memset(d, 0xa5, sizeof(*d));  /* the function must set everything */
	nhi_policy_decide(&conf, id, NOW, host, svc, d);
	/* nhi_policy_decide never applies mode=audit */
	assert_int_equal(d->verdict, d->would);
	assert_true(d->service_account);
	assert_int_equal(d->registered, id != NULL);
	assert_non_null(memchr(d->message, '\0', sizeof(d->message)));
}

#define assert_decision(d, v, r) do { \
	assert_string_equal(nhi_verdict_str((d)->verdict), nhi_verdict_str(v)); \
	assert_string_equal(nhi_reason_str((d)->reason), nhi_reason_str(r)); \
} while (0)

/* ---- strings ------------------------------------------------------------- */

static void test_strings(void **state)
{
	assert_string_equal(nhi_verdict_str(NHI_V_IGNORE), "ignore");
	assert_string_equal(nhi_verdict_str(NHI_V_ALLOW), "allow");
	assert_string_equal(nhi_verdict_str(NHI_V_DENY), "deny");
	assert_string_equal(nhi_verdict_str(NHI_V_EXPIRED), "expired");
	assert_string_equal(nhi_verdict_str(NHI_V_UNAVAIL), "unavailable");
	assert_string_equal(nhi_reason_str(NHI_R_ROOT), "root");
	assert_string_equal(nhi_reason_str(NHI_R_HUMAN), "not-a-service-account");
	assert_string_equal(nhi_reason_str(NHI_R_OK), "ok");
	assert_string_equal(nhi_reason_str(NHI_R_UNREGISTERED), "unregistered");
	assert_string_equal(nhi_reason_str(NHI_R_EXPIRED), "expired");
	assert_string_equal(nhi_reason_str(NHI_R_SUSPENDED), "suspended");
	assert_string_equal(nhi_reason_str(NHI_R_RETIRED), "retired");
	assert_string_equal(nhi_reason_str(NHI_R_ORPHANED), "orphaned");
	assert_string_equal(nhi_reason_str(NHI_R_REVIEW_OVERDUE), "review-overdue");
	assert_string_equal(nhi_reason_str(NHI_R_HOST_SCOPE), "host-out-of-scope");
	assert_string_equal(nhi_reason_str(NHI_R_SERVICE_SCOPE), "service-out-of-scope");
	assert_string_equal(nhi_reason_str(NHI_R_NO_SNAPSHOT), "snapshot-unavailable");
	assert_string_equal(nhi_reason_str(NHI_R_NO_DELEGATION), "no-delegation");
	assert_string_equal(nhi_reason_str(NHI_R_HUMAN_USE), "human-use");
}

/* ---- classification ------------------------------------------------------ */

static void test_classify(void **state)
{
	char err[256];

	/* root never, whatever the name patterns say */
	assert_int_equal(nhi_conf_set(&conf, "service_names", "r* svc-*", "t", err, sizeof(err)), 0);
	assert_false(nhi_classify_static(&conf, "root", 0));
	assert_false(nhi_classify_static(&conf, "svc-x", 0));
	/* nhi's own allocation range, inclusive at both ends */
	assert_true(nhi_classify_static(&conf, "x", conf.uid_min));
	assert_true(nhi_classify_static(&conf, "x", conf.uid_max));
	assert_false(nhi_classify_static(&conf, "x", conf.uid_max + 1));
	/* the system range from login.defs */
	assert_true(nhi_classify_static(&conf, "x", conf.sys_uid_min));
	assert_true(nhi_classify_static(&conf, "x", conf.sys_uid_max));
	/* "system" is also Debian's static system accounts 1..99 (below
	 * SYS_UID_MIN) and nobody (65534), as nhi.conf(5) says; not 65533 */
	assert_true(nhi_classify_static(&conf, "daemon", 1));
	assert_true(nhi_classify_static(&conf, "x", 99));
	assert_true(nhi_classify_static(&conf, "nobody", 65534));
	assert_false(nhi_classify_static(&conf, "x", 65533));
	assert_false(nhi_classify_static(&conf, "x", conf.sys_uid_max + 1));
	/* a human */
	assert_false(nhi_classify_static(&conf, "alice", 1000));
	/* name patterns (fnmatch), also for an unknown uid */
	assert_true(nhi_classify_static(&conf, "svc-x", 1000));
	assert_true(nhi_classify_static(&conf, "svc-x", (uid_t)-1));
	assert_false(nhi_classify_static(&conf, "alice", (uid_t)-1));
	assert_true(nhi_classify_static(&conf, "robot", 1000));
	/* explicit ranges; without "system" the system range no longer counts */
	assert_int_equal(nhi_conf_set(&conf, "service_uids", "5000-5009, 7000", "t", err, sizeof(err)), 0);
	assert_true(nhi_classify_static(&conf, "x", 5000));
	assert_true(nhi_classify_static(&conf, "x", 5009));
	assert_false(nhi_classify_static(&conf, "x", 5010));
	assert_true(nhi_classify_static(&conf, "x", 7000));
	assert_false(nhi_classify_static(&conf, "x", conf.sys_uid_min));
	assert_false(nhi_classify_static(&conf, "x", 1));
	assert_false(nhi_classify_static(&conf, "nobody", 65534));
	assert_int_equal(nhi_conf_set(&conf, "service_uids", "system 5000-5009", "t", err, sizeof(err)), 0);
	assert_true(nhi_classify_static(&conf, "x", conf.sys_uid_min));
}

/* the rule that matched, as config check names it: the first in order */
static void test_classify_rule(void **state)
{
	struct nhi_rule_match m;
	char err[256];

	(void)state;
	assert_int_equal(nhi_conf_set(&conf, "service_names", "r* svc-*", "t", err, sizeof(err)), 0);
	assert_int_equal(nhi_conf_set(&conf, "service_uids", "system, 5000-5009, 7000", "t", err,
				      sizeof(err)), 0);
	assert_int_equal(nhi_classify_rule(&conf, "svc-x", 0, &m), NHI_RULE_NONE);
	assert_int_equal(nhi_classify_rule(&conf, "svc-x", conf.uid_min, &m), NHI_RULE_UID_RANGE);
	assert_int_equal(nhi_classify_rule(&conf, "x", 1, &m), NHI_RULE_SYSTEM);
	assert_int_equal(nhi_classify_rule(&conf, "x", 7000, &m), NHI_RULE_SERVICE_UIDS);
	assert_int_equal(m.index, 1);   /* "system" is a flag, not a range */
	assert_int_equal(conf.service_uids[m.index].lo, 7000);
	assert_int_equal(nhi_classify_rule(&conf, "x", 5003, &m), NHI_RULE_SERVICE_UIDS);
	assert_int_equal(conf.service_uids[m.index].hi, 5009);
	/* an uid rule comes before a name glob */
	assert_int_equal(nhi_classify_rule(&conf, "svc-x", 5003, &m), NHI_RULE_SERVICE_UIDS);
	assert_int_equal(nhi_classify_rule(&conf, "svc-x", 1000, &m), NHI_RULE_SERVICE_NAMES);
	assert_string_equal(m.pattern, "svc-*");
	assert_int_equal(nhi_classify_rule(&conf, "robot", 1000, &m), NHI_RULE_SERVICE_NAMES);
	assert_string_equal(m.pattern, "r*");
	assert_int_equal(nhi_classify_rule(&conf, "alice", 1000, &m), NHI_RULE_NONE);
	assert_null(m.pattern);
	assert_int_equal(nhi_classify_rule(&conf, "alice", 1000, NULL), NHI_RULE_NONE);
	assert_int_equal(nhi_classify_rule(&conf, "svc-y", 1000, NULL), NHI_RULE_SERVICE_NAMES);
}

/* ---- the decision table, row by row -------------------------------------- */

static void test_unregistered(void **state)
{
	struct nhi_decision d;

	decide(NULL, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_UNREGISTERED);
	assert_non_null(strstr(d.message, "unregistered service account"));
}

static void test_all_good(void **state)
{
	struct nhi_ident id = good();
	struct nhi_decision d;

	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_int_equal(d.warnings, 0);
	assert_string_equal(d.message, "");
	/* no host and no service: no scope check on either axis */
	decide(&id, NULL, NULL, &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
}

static void test_expired(void **state)
{
	struct nhi_ident id = good();
	struct nhi_decision d;

	id.expires = NOW - DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_EXPIRED, NHI_R_EXPIRED);
	assert_non_null(strstr(d.message, "svc-a"));
	assert_non_null(strstr(d.message, "expired"));
	/* now >= expires: the very second of expiry is expired */
	id.expires = NOW;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_EXPIRED, NHI_R_EXPIRED);
	/* one second before: allowed, with a warning */
	id.expires = NOW + 1;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_true(d.warnings & NHI_W_EXPIRY_NEAR);
	/* 0 = never expires (nhictl does not allow it, the format does) */
	id.expires = 0;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_int_equal(d.warnings, 0);
}

static void test_suspended_retired(void **state)
{
	struct nhi_ident id = good();
	struct nhi_decision d;

	id.state = NHI_STATE_SUSPENDED;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_SUSPENDED);
	assert_non_null(strstr(d.message, "suspended"));
	id.state = NHI_STATE_RETIRED;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_RETIRED);
	assert_non_null(strstr(d.message, "retired"));
	/* precedence: retired wins over expired; expired over suspended */
	id.expires = NOW - DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_RETIRED);
	id.state = NHI_STATE_SUSPENDED;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_EXPIRED, NHI_R_EXPIRED);
}

static void test_orphaned(void **state)
{
	struct nhi_ident id = good();
	struct nhi_decision d;

	id.state = NHI_STATE_ORPHANED;
	/* grace (7d) passed */
	id.orphaned_since = NOW - 8 * DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_ORPHANED);
	assert_non_null(strstr(d.message, "owner"));
	/* exactly at the end of the grace: denied */
	id.orphaned_since = NOW - 7 * DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_ORPHANED);
	/* within the grace: allowed with a warning naming the owner problem */
	id.orphaned_since = NOW - 1 * DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_true(d.warnings & NHI_W_ORPHANED);
	assert_non_null(strstr(d.message, "no live owner"));
	/* orphaned without a time: no grace to give */
	id.orphaned_since = 0;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_ORPHANED);
	/* orphan_grace = 0: denied at once */
	conf.orphan_grace = 0;
	id.orphaned_since = NOW - 1;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_ORPHANED);
}

/* Extreme times from a damaged snapshot or configuration saturate: the
 * end of a grace past the end of time has not come (UBSan, in the
 * sanitizer build, would stop at an overflow). */
static void test_extreme_times(void **state)
{
	struct nhi_ident id = good();
	struct nhi_decision d;

	id.state = NHI_STATE_ORPHANED;
	id.orphaned_since = INT64_MAX - 10;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_true(d.warnings & NHI_W_ORPHANED);
	conf.orphan_grace = INT64_MAX;
	id.orphaned_since = NOW - DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	conf_reset();
	id = good();
	id.review_due = INT64_MAX - 10;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_false(d.warnings & (NHI_W_REVIEW_OVERDUE | NHI_W_REVIEW_NEAR));
	conf.review_grace = INT64_MAX;
	id.review_due = NOW - DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_true(d.warnings & NHI_W_REVIEW_OVERDUE);
	conf_reset();
	conf.warn_before = INT64_MAX;
	id = good();
	id.review_due = NOW + DAY;
	id.expires = NOW + 2 * DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_true(d.warnings & NHI_W_REVIEW_NEAR);
	assert_true(d.warnings & NHI_W_EXPIRY_NEAR);
	id.review_due = INT64_MIN + 10;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_REVIEW_OVERDUE);
	conf_reset();
}

static void test_review(void **state)
{
	struct nhi_ident id = good();
	struct nhi_decision d;

	/* overdue past interval + grace (14d) */
	id.review_due = NOW - 20 * DAY;
	conf.review = NHI_REVIEW_ENFORCE;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_REVIEW_OVERDUE);
	assert_non_null(strstr(d.message, "review"));
	conf.review = NHI_REVIEW_WARN;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_true(d.warnings & NHI_W_REVIEW_OVERDUE);
	assert_non_null(strstr(d.message, "review overdue"));
	conf.review = NHI_REVIEW_OFF;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_int_equal(d.warnings, 0);
	assert_string_equal(d.message, "");

	/* boundary: due + grace == now is overdue under enforce */
	conf.review = NHI_REVIEW_ENFORCE;
	id.review_due = NOW - 14 * DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_REVIEW_OVERDUE);
	/* due but within the grace: allowed under enforce, with a warning */
	id.review_due = NOW - 1 * DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_true(d.warnings & NHI_W_REVIEW_OVERDUE);
	/* due soon (within warn_before): review-near */
	id.review_due = NOW + 3 * DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_int_equal(d.warnings, NHI_W_REVIEW_NEAR);
	assert_non_null(strstr(d.message, "review due"));
	/* far away: nothing */
	id.review_due = NOW + 30 * DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_int_equal(d.warnings, 0);
	/* no review schedule */
	id.review_due = 0;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_int_equal(d.warnings, 0);
	/* review = off: not even a warning when near */
	conf.review = NHI_REVIEW_OFF;
	id.review_due = NOW + 3 * DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_int_equal(d.warnings, 0);
}

static void test_warnings(void **state)
{
	struct nhi_ident id = good();
	struct nhi_decision d;

	id.expires = NOW + 2 * DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_int_equal(d.warnings, NHI_W_EXPIRY_NEAR);
	assert_non_null(strstr(d.message, "expires"));
	/* exactly warn_before away: warned */
	id.expires = NOW + 14 * DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_int_equal(d.warnings, NHI_W_EXPIRY_NEAR);
	id.expires = NOW + 14 * DAY + 1;
	decide(&id, "testhost", "sshd", &d);
	assert_int_equal(d.warnings, 0);
	/* both near: both flags, the message names the expiry (more urgent) */
	id.expires = NOW + 2 * DAY;
	id.review_due = NOW + 3 * DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_int_equal(d.warnings, NHI_W_EXPIRY_NEAR | NHI_W_REVIEW_NEAR);
	assert_non_null(strstr(d.message, "expires"));
	/* warn_before = 0: no warnings */
	conf.warn_before = 0;
	decide(&id, "testhost", "sshd", &d);
	assert_int_equal(d.warnings, 0);
	assert_string_equal(d.message, "");
}

static void test_host_scope(void **state)
{
	struct nhi_ident id = good();
	struct nhi_decision d;

	id.hosts = "web1,db*";
	decide(&id, "web1", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	decide(&id, "db7.example.org", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	/* host names compare without case */
	decide(&id, "DB7", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	decide(&id, "web2", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_HOST_SCOPE);
	assert_non_null(strstr(d.message, "web2"));
	/* a glob is a whole-name match, not a prefix */
	decide(&id, "web10", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_HOST_SCOPE);
	decide(&id, "xdb1", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_HOST_SCOPE);
	id.hosts = "web?";
	decide(&id, "web3", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	/* empty list = any host */
	id.hosts = "";
	decide(&id, "anything", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	/* precedence: an expired identity out of scope is reported expired */
	id.hosts = "web1";
	id.expires = NOW - 1;
	decide(&id, "other", "sshd", &d);
	assert_decision(&d, NHI_V_EXPIRED, NHI_R_EXPIRED);
}

static void test_service_scope(void **state)
{
	struct nhi_ident id = good();
	struct nhi_decision d;

	id.services = "sshd,cron,systemd-*";
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	decide(&id, "testhost", "cron", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	decide(&id, "testhost", "systemd-user", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	decide(&id, "testhost", "su", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_SERVICE_SCOPE);
	assert_non_null(strstr(d.message, "su"));
	decide(&id, "testhost", "sshd-extra", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_SERVICE_SCOPE);
	/* both scopes wrong: the host is reported */
	id.hosts = "web1";
	decide(&id, "testhost", "su", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_HOST_SCOPE);
}

static void test_scope_before_review(void **state)
{
	struct nhi_ident id = good();
	struct nhi_decision d;

	/* out of scope and review overdue: scope is the reason */
	id.services = "cron";
	id.review_due = NOW - 30 * DAY;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_SERVICE_SCOPE);
}

static void test_decide_ignores_audit(void **state)
{
	struct nhi_ident id = good();
	struct nhi_decision d;

	conf.mode = NHI_MODE_AUDIT;
	id.expires = NOW - 1;
	decide(&id, "testhost", "sshd", &d);
	assert_decision(&d, NHI_V_EXPIRED, NHI_R_EXPIRED);
	assert_false(d.warnings & NHI_W_AUDIT);
}

/* ---- nhi_account_check over a real snapshot ------------------------------ */

static char dir[300];
static char cache[600];

static void add(struct nhi_snap_writer *w, const char *name, uint32_t uid, int st,
		int64_t expires, const char *hosts)
{
	struct nhi_ident id = good();

	id.name = name;
	id.uid = id.gid = uid;
	id.state = st;
	id.expires = expires;
	id.hosts = hosts;
	assert_int_equal(nhi_snapw_add_ident(w, &id), 0);
}

/* For the PAM_RUSER rule: agents and the edges between them and svc-a
 * (uid 2000001, owner alice), svc-own (owners daemon and bob) and
 * agent-orph (orphaned, within the grace). */
static void add_delegations(struct nhi_snap_writer *w)
{
	struct nhi_ident id;

	add(w, "agent-a", 2000010, NHI_STATE_ACTIVE, NOW + 100 * DAY, "");
	add(w, "agent-b", 2000011, NHI_STATE_ACTIVE, NOW + 100 * DAY, "");
	add(w, "agent-c", 2000012, NHI_STATE_ACTIVE, NOW + 100 * DAY, "");
	add(w, "agent-r", 2000013, NHI_STATE_RETIRED, NOW + 100 * DAY, "");
	id = good();
	id.name = "svc-own";
	id.uid = id.gid = 2000020;
	id.owner = "daemon,bob";
	assert_int_equal(nhi_snapw_add_ident(w, &id), 0);
	id = good();
	id.name = "agent-orph";
	id.uid = id.gid = 2000021;
	id.state = NHI_STATE_ORPHANED;
	id.orphaned_since = NOW - DAY;
	assert_int_equal(nhi_snapw_add_ident(w, &id), 0);
	/* live */
	assert_int_equal(nhi_snapw_add_delegation(w, 2000010, 2000001, NOW + 10 * DAY), 0);
	/* expired edge */
	assert_int_equal(nhi_snapw_add_delegation(w, 2000011, 2000001, NOW - DAY), 0);
	/* from a suspended (agent-z), expired (svc-old) and retired one */
	assert_int_equal(nhi_snapw_add_delegation(w, 2000005, 2000001, NOW + 10 * DAY), 0);
	assert_int_equal(nhi_snapw_add_delegation(w, 2000002, 2000001, NOW + 10 * DAY), 0);
	assert_int_equal(nhi_snapw_add_delegation(w, 2000013, 2000001, NOW + 10 * DAY), 0);
	/* to an orphaned one (allowed alone, within the grace) */
	assert_int_equal(nhi_snapw_add_delegation(w, 2000010, 2000021, NOW + 10 * DAY), 0);
	/* the other way round from the live one: direction matters */
	assert_int_equal(nhi_snapw_add_delegation(w, 2000001, 2000012, NOW + 10 * DAY), 0);
}

static int group_setup(void **state)
{
	struct nhi_snap_writer *w;
	char err[256];

	assert_non_null(mkdtemp(test_tmpdir(dir, sizeof(dir), "nhi-policy-test")));
	snprintf(cache, sizeof(cache), "%s/nhi.cache", dir);
	w = nhi_snapw_new();
	assert_non_null(w);
	add(w, "svc-a", 2000001, NHI_STATE_ACTIVE, NOW + 100 * DAY, "");
	add(w, "svc-old", 2000002, NHI_STATE_ACTIVE, NOW - DAY, "");
	add(w, "svc-here", 2000003, NHI_STATE_ACTIVE, NOW + 100 * DAY, "testhost");
	add(w, "svc-there", 2000004, NHI_STATE_ACTIVE, NOW + 100 * DAY, "otherhost");
	add(w, "agent-z", 2000005, NHI_STATE_SUSPENDED, NOW + 100 * DAY, "");
	add(w, "sneaky", 0, NHI_STATE_RETIRED, NOW - DAY, "");
	add_delegations(w);
	assert_int_equal(nhi_snapw_publish(w, cache, 1, NOW, err, sizeof(err)), 0);
	nhi_snapw_free(w);
	return 0;
}

static int group_teardown(void **state)
{
	unlink(cache);
	rmdir(dir);
	return 0;
}

static struct nhi_snap *open_snap(void)
{
	struct nhi_snap *s = NULL;
	char err[256];

	assert_int_equal(nhi_snap_open(cache, NHI_SNAP_VERIFY | NHI_SNAP_TRUST, &s, err, sizeof(err)), 0);
	return s;
}

static void check(const struct nhi_snap *s, const char *user, const char *host,
		  const char *svc, struct nhi_decision *d)
{
	memset(d, 0xa5, sizeof(*d));
	nhi_account_check(&conf, s, user, host, svc, NOW, d);
	assert_non_null(memchr(d->message, '\0', sizeof(d->message)));
}

static void test_account_check(void **state)
{
	struct nhi_snap *s = open_snap();
	struct nhi_decision d;
	char err[256];

	assert_int_equal(nhi_conf_set(&conf, "service_names", "svc-*", "t", err, sizeof(err)), 0);

	/* root: never subject, by name, even with no snapshot */
	check(s, "root", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_IGNORE, NHI_R_ROOT);
	check(NULL, "root", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_IGNORE, NHI_R_ROOT);
	/* a registered identity with uid 0 is root too */
	check(s, "sneaky", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_IGNORE, NHI_R_ROOT);

	/* a human (unknown to NSS, no pattern): ignored */
	check(s, "no-such-human-xq", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_IGNORE, NHI_R_HUMAN);
	assert_false(d.registered);
	/* but not while the snapshot is unavailable: nhi's own identities
	 * are exactly the names NSS cannot resolve then */
	check(NULL, "no-such-human-xq", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_UNAVAIL, NHI_R_NO_SNAPSHOT);
	assert_true(d.service_account);

	/* registered: the policy */
	check(s, "svc-a", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_true(d.registered);
	assert_true(d.service_account);
	check(s, "svc-old", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_EXPIRED, NHI_R_EXPIRED);
	assert_int_equal(d.would, NHI_V_EXPIRED);
	/* registered, whatever the name: classification includes the registry */
	check(s, "agent-z", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_SUSPENDED);

	/* host NULL = this host (conf.host) */
	check(s, "svc-here", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	check(s, "svc-there", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_HOST_SCOPE);
	check(s, "svc-there", "otherhost", "sshd", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);

	/* a service account by name pattern, not registered */
	check(s, "svc-unknown", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_UNREGISTERED);
	assert_false(d.registered);
	assert_true(d.service_account);

	nhi_snap_close(s);
}

static void check_ruser(const struct nhi_snap *s, const char *user, const char *ruser,
			struct nhi_decision *d)
{
	memset(d, 0xa5, sizeof(*d));
	nhi_account_check_ruser(&conf, s, user, ruser, NULL, "su", NOW, d);
	assert_non_null(memchr(d->message, '\0', sizeof(d->message)));
}

static void test_ruser_delegation(void **state)
{
	struct nhi_snap *s = open_snap();
	struct nhi_decision d;
	char err[256];

	assert_int_equal(nhi_conf_set(&conf, "service_names", "svc-*", "t", err, sizeof(err)), 0);
	/* no RUSER, root, or the identity itself: the plain decision */
	check_ruser(s, "svc-a", NULL, &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	check_ruser(s, "svc-a", "", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	check_ruser(s, "svc-a", "root", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	check_ruser(s, "svc-a", "svc-a", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	/* a registered uid 0 counts as root */
	check_ruser(s, "svc-a", "sneaky", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);

	/* a live delegation agent-a -> svc-a */
	check_ruser(s, "svc-a", "agent-a", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	assert_true(d.registered);
	/* no delegation agent-c -> svc-a (svc-a -> agent-c is the other way) */
	check_ruser(s, "svc-a", "agent-c", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_NO_DELEGATION);
	assert_non_null(strstr(d.message, "no delegation agent-c -> svc-a"));
	check_ruser(s, "agent-c", "svc-a", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	/* cut: an expired edge, a suspended, expired or retired FROM, an
	 * orphaned TO */
	check_ruser(s, "svc-a", "agent-b", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_NO_DELEGATION);
	assert_non_null(strstr(d.message, "the delegation expired on"));
	check_ruser(s, "svc-a", "agent-z", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_NO_DELEGATION);
	assert_non_null(strstr(d.message, "agent-z is suspended"));
	check_ruser(s, "svc-a", "svc-old", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_NO_DELEGATION);
	assert_non_null(strstr(d.message, "svc-old expired on"));
	check_ruser(s, "svc-a", "agent-r", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_NO_DELEGATION);
	assert_non_null(strstr(d.message, "agent-r is retired"));
	check_ruser(s, "agent-orph", NULL, &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	check_ruser(s, "agent-orph", "agent-a", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_NO_DELEGATION);
	assert_non_null(strstr(d.message, "agent-orph is orphaned"));
	/* an unregistered service account has no delegation either */
	check_ruser(s, "svc-a", "svc-unknown", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_NO_DELEGATION);
	/* the target's own denial comes first */
	check_ruser(s, "agent-z", "agent-a", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_SUSPENDED);
	/* and a human target is not ours */
	check_ruser(s, "no-such-human-xq", "agent-a", &d);
	assert_decision(&d, NHI_V_IGNORE, NHI_R_HUMAN);
	/* mode = audit: logged, not denied */
	conf.mode = NHI_MODE_AUDIT;
	check_ruser(s, "svc-a", "agent-c", &d);
	assert_int_equal(d.verdict, NHI_V_ALLOW);
	assert_int_equal(d.would, NHI_V_DENY);
	assert_int_equal(d.reason, NHI_R_NO_DELEGATION);
	assert_true(d.warnings & NHI_W_AUDIT);
	nhi_snap_close(s);
}

static void test_ruser_human(void **state)
{
	struct nhi_snap *s = open_snap();
	struct nhi_decision d;
	char err[256];

	/* daemon (uid 1) is a human once "system" is out of service_uids */
	assert_int_equal(nhi_conf_set(&conf, "service_uids", "5000-5999", "t", err, sizeof(err)), 0);
	/* log, the default: allowed, reason human-use */
	assert_int_equal(conf.human_use, NHI_HUMAN_LOG);
	check_ruser(s, "svc-a", "daemon", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_HUMAN_USE);
	check_ruser(s, "svc-a", "no-such-human-xq", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_HUMAN_USE);
	/* allow: as without RUSER */
	assert_int_equal(nhi_conf_set(&conf, "human_use", "allow", "t", err, sizeof(err)), 0);
	check_ruser(s, "svc-a", "daemon", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	/* deny */
	assert_int_equal(nhi_conf_set(&conf, "human_use", "deny", "t", err, sizeof(err)), 0);
	check_ruser(s, "svc-a", "daemon", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_HUMAN_USE);
	/* root is never a human use */
	check_ruser(s, "svc-a", "root", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	/* owner: the owner (one of a list) through, others not, nor a name
	 * NSS does not know even when it is listed (bob) */
	assert_int_equal(nhi_conf_set(&conf, "human_use", "owner", "t", err, sizeof(err)), 0);
	check_ruser(s, "svc-own", "daemon", &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_HUMAN_USE);
	check_ruser(s, "svc-a", "daemon", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_HUMAN_USE);
	assert_non_null(strstr(d.message, "only its owner"));
	check_ruser(s, "svc-own", "bob", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_HUMAN_USE);
	check_ruser(s, "svc-own", "daemo", &d);
	assert_decision(&d, NHI_V_DENY, NHI_R_HUMAN_USE);
	/* a bad value */
	assert_int_not_equal(nhi_conf_set(&conf, "human_use", "maybe", "t", err, sizeof(err)), 0);
	nhi_snap_close(s);
}

/* A snapshot whose delegation table is damaged: fail closed.  (Checked
 * block by block, as pam_nhi opens it: a file of more than
 * NHI_SNAP_VERIFY_READ_WHOLE blocks of 4 KiB.) */
static void test_ruser_damaged(void **state)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	struct nhi_snap *s;
	struct nhi_snap_hdr h;
	struct nhi_snap_deleg_rec *t;
	struct nhi_decision d;
	char path[700], name[32], err[256];
	FILE *f;
	unsigned char *b;
	long len;

	snprintf(path, sizeof(path), "%s/damaged.cache", dir);
	assert_non_null(w);
	assert_int_equal(nhi_snapw_set_block_shift(w, 12), 0);
	add(w, "svc-a", 2000001, NHI_STATE_ACTIVE, NOW + 100 * DAY, "");
	add(w, "agent-a", 2000010, NHI_STATE_ACTIVE, NOW + 100 * DAY, "");
	for (int i = 0; i < 400; i++) {
		snprintf(name, sizeof(name), "filler-%d", i);
		add(w, name, 3000000 + (uint32_t)i, NHI_STATE_ACTIVE, NOW + 100 * DAY, "");
	}
	assert_int_equal(nhi_snapw_add_delegation(w, 2000010, 2000001, NOW + DAY), 0);
	assert_int_equal(nhi_snapw_publish(w, path, 1, NOW, err, sizeof(err)), 0);
	nhi_snapw_free(w);
	/* one bit of the edge's slot flipped */
	f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	b = malloc((size_t)len);
	assert_non_null(b);
	rewind(f);
	assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
	memcpy(&h, b, sizeof(h));
	assert_true(h.n_blocks > NHI_SNAP_VERIFY_READ_WHOLE);
	t = (void *)(b + h.delegs_off);
	for (uint32_t i = 0; i < h.deleg_slots; i++)
		if (t[i].from_uid == 2000010)
			t[i].expires ^= 1;
	rewind(f);
	assert_int_equal(fwrite(b, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	free(b);
	assert_int_equal(nhi_snap_open(path, NHI_SNAP_NO_DELTA | NHI_SNAP_VERIFY_READ, &s, err,
				       sizeof(err)), 0);
	check_ruser(s, "svc-a", NULL, &d);
	assert_decision(&d, NHI_V_ALLOW, NHI_R_OK);
	check_ruser(s, "svc-a", "agent-a", &d);
	assert_decision(&d, NHI_V_UNAVAIL, NHI_R_NO_SNAPSHOT);
	assert_true(d.snapshot_damaged);
	nhi_snap_close(s);
	unlink(path);
	snprintf(path, sizeof(path), "%s/damaged.cache%s", dir, NHI_SNAP_DELTA_SUFFIX);
	unlink(path);
}

static void test_account_check_unavailable(void **state)
{
	struct nhi_decision d;
	char err[256];

	assert_int_equal(nhi_conf_set(&conf, "service_names", "svc-*", "t", err, sizeof(err)), 0);
	/* fail closed for a service account */
	check(NULL, "svc-a", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_UNAVAIL, NHI_R_NO_SNAPSHOT);
	assert_true(d.service_account);
	assert_non_null(strstr(d.message, "unavailable"));
	/* a name NSS resolves to a human (daemon, uid 1, is one once
	 * "system" is out of service_uids) is still left alone */
	assert_int_equal(nhi_conf_set(&conf, "service_uids", "5000-5999", "t", err, sizeof(err)), 0);
	check(NULL, "daemon", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_IGNORE, NHI_R_HUMAN);
	/* on_unavailable = ignore */
	conf.on_unavailable = NHI_UNAVAIL_IGNORE;
	check(NULL, "svc-a", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_IGNORE, NHI_R_NO_SNAPSHOT);
	assert_int_equal(d.would, NHI_V_UNAVAIL);
}

/* nhi.conf broken (a lenient load set conf.broken): humans and root are
 * left alone, every service account fails closed, registered or not,
 * whatever on_unavailable says; mode = audit still only logs. */
static void test_account_check_broken_conf(void **state)
{
	struct nhi_snap *s = open_snap();
	struct nhi_decision d;
	char err[256];

	assert_int_equal(nhi_conf_set(&conf, "service_names", "svc-*", "t", err, sizeof(err)), 0);
	conf.broken = 1;
	conf.on_unavailable = NHI_UNAVAIL_IGNORE;
	check(s, "svc-a", NULL, "sshd", &d);          /* registered, allowed otherwise */
	assert_decision(&d, NHI_V_UNAVAIL, NHI_R_CONFIG);
	assert_true(d.registered);
	assert_non_null(strstr(d.message, "configuration is broken"));
	check(s, "svc-unknown", NULL, "sshd", &d);    /* by pattern, unregistered */
	assert_decision(&d, NHI_V_UNAVAIL, NHI_R_CONFIG);
	check(NULL, "svc-a", NULL, "sshd", &d);       /* and no snapshot either */
	assert_decision(&d, NHI_V_UNAVAIL, NHI_R_CONFIG);
	check(s, "no-such-human-xq", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_IGNORE, NHI_R_HUMAN);
	check(NULL, "root", NULL, "sshd", &d);
	assert_decision(&d, NHI_V_IGNORE, NHI_R_ROOT);
	assert_string_equal(nhi_reason_str(NHI_R_CONFIG), "config-error");
	conf.mode = NHI_MODE_AUDIT;
	check(s, "svc-a", NULL, "sshd", &d);
	assert_int_equal(d.verdict, NHI_V_ALLOW);
	assert_int_equal(d.would, NHI_V_UNAVAIL);
	assert_true(d.warnings & NHI_W_AUDIT);
	nhi_snap_close(s);
}

static void test_account_check_audit(void **state)
{
	struct nhi_snap *s = open_snap();
	struct nhi_decision d;
	char err[256];

	assert_int_equal(nhi_conf_set(&conf, "service_names", "svc-*", "t", err, sizeof(err)), 0);
	assert_int_equal(nhi_conf_set(&conf, "mode", "audit", "t", err, sizeof(err)), 0);
	/* every would-deny is allowed and flagged */
	check(s, "svc-old", NULL, "sshd", &d);
	assert_int_equal(d.verdict, NHI_V_ALLOW);
	assert_int_equal(d.would, NHI_V_EXPIRED);
	assert_int_equal(d.reason, NHI_R_EXPIRED);
	assert_true(d.warnings & NHI_W_AUDIT);
	check(s, "agent-z", NULL, "sshd", &d);
	assert_int_equal(d.verdict, NHI_V_ALLOW);
	assert_int_equal(d.would, NHI_V_DENY);
	assert_int_equal(d.reason, NHI_R_SUSPENDED);
	check(s, "svc-unknown", NULL, "sshd", &d);
	assert_int_equal(d.verdict, NHI_V_ALLOW);
	assert_int_equal(d.would, NHI_V_DENY);
	assert_int_equal(d.reason, NHI_R_UNREGISTERED);
	check(NULL, "svc-a", NULL, "sshd", &d);
	assert_int_equal(d.verdict, NHI_V_ALLOW);
	assert_int_equal(d.would, NHI_V_UNAVAIL);
	/* a would-allow is a plain allow */
	check(s, "svc-a", NULL, "sshd", &d);
	assert_int_equal(d.verdict, NHI_V_ALLOW);
	assert_int_equal(d.would, NHI_V_ALLOW);
	assert_false(d.warnings & NHI_W_AUDIT);
	/* humans and root are still ignored */
	check(s, "root", NULL, "sshd", &d);
	assert_int_equal(d.verdict, NHI_V_IGNORE);
	check(s, "no-such-human-xq", NULL, "sshd", &d);
	assert_int_equal(d.verdict, NHI_V_IGNORE);
	nhi_snap_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test_setup(test_classify_rule, setup),
		cmocka_unit_test_setup(test_classify, setup),
		cmocka_unit_test_setup(test_unregistered, setup),
		cmocka_unit_test_setup(test_all_good, setup),
		cmocka_unit_test_setup(test_expired, setup),
		cmocka_unit_test_setup(test_suspended_retired, setup),
		cmocka_unit_test_setup(test_orphaned, setup),
		cmocka_unit_test_setup(test_extreme_times, setup),
		cmocka_unit_test_setup(test_review, setup),
		cmocka_unit_test_setup(test_warnings, setup),
		cmocka_unit_test_setup(test_host_scope, setup),
		cmocka_unit_test_setup(test_service_scope, setup),
		cmocka_unit_test_setup(test_scope_before_review, setup),
		cmocka_unit_test_setup(test_decide_ignores_audit, setup),
		cmocka_unit_test_setup(test_account_check, setup),
		cmocka_unit_test_setup(test_account_check_unavailable, setup),
		cmocka_unit_test_setup(test_account_check_broken_conf, setup),
		cmocka_unit_test_setup(test_account_check_audit, setup),
		cmocka_unit_test_setup(test_ruser_delegation, setup),
		cmocka_unit_test_setup(test_ruser_human, setup),
		cmocka_unit_test_setup(test_ruser_damaged, setup),
	};

	return cmocka_run_group_tests_name("policy", tests, group_setup, group_teardown);
}

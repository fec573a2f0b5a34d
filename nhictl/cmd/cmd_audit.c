/* cmd_audit.c - audit (re-evaluate owners, ingest usage, report findings)
 * and publish (compile the snapshot again). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmd.h"
#include "cmd_reach.h"
#include "audit_checks.h"

struct audit_opts {
	int force;
	int fail_on;            /* enum finding_sev, -1: no --fail-on */
	int host;
	const char *root;
};

static const char audit_help[] =
	"usage: nhictl audit [--force] [--fail-on low|medium|high] [--root DIR] [--no-host]\n"
	"                    [--json]\n"
	"\n"
	"1. Ingest the usage records pam_nhi's session phase appended to usage_log\n"
	"   (\"EPOCH USER SERVICE HOST ...\") into each identity's last use; the\n"
	"   ingested records are removed from the file.\n"
	"2. Re-evaluate every owner: an identity whose owner is no longer a live\n"
	"   human becomes orphaned (orphaned_since = now; PAM denies it after\n"
	"   orphan_grace); 'nhictl transfer' gives it a new owner.  When that\n"
	"   would orphan more than orphan_max identities at once, audit stops\n"
	"   before changing anything (exit 1); --force orphans them anyway.\n"
	"   The owner's uid is recorded at create, adopt and transfer: a new\n"
	"   user under the old name orphans the identity; identities orphaned\n"
	"   because their owner was locked come back when that owner is live\n"
	"   again (usermod -U).\n"
	"   Resources' owners are re-checked the same way (resource-orphan).\n"
	"3. With stale_action = suspend (nhi.conf), suspend the active identities\n"
	"   not used for longer than stale_after, each audited as 'nhictl suspend'\n"
	"   is (\"suspended now: NAME\"; JSON: suspended_now).\n"
	"4. Report findings, each with a stable code, a severity (info, low,\n"
	"   medium, high), the OWASP NHI Top 10 risk it belongs to (NHI1..NHI10),\n"
	"   its subject, the evidence and the command that remedies it.  The host\n"
	"   checks scan / (or --root DIR, a tree laid out like a host) as\n"
	"   'nhictl discover' does; --no-host skips them.\n"
	"Changes are audited and published like any other.  Exit 0 (findings are\n"
	"not failures), 1 when the audit itself failed; with --fail-on LEVEL, 3\n"
	"when a finding at or above LEVEL was reported.\n";

/* Re-check every owner; first find what to change, then (within
 * orphan_max, or with force) orphan, and record the owner uids the
 * registry did not know. */
static int orphan_check(struct nhictl *x, int force, int *n_orphaned, struct json *j)
{
	struct owner_plan *v = NULL, *nv;
	size_t n = 0, i;
	long n_orph = 0;
	sqlite3_stmt *st;
	int r;

	*n_orphaned = 0;
	st = reg_prep(x, "SELECT id, name, owner, state, coalesce(owner_id, '') FROM identity "
		      "WHERE orphaned_since = 0 AND state IN ('active', 'suspended') ORDER BY name", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		char owner[64], had[32], now[32], why[256];
		struct owner_plan o;

		snprintf(owner, sizeof(owner), "%s", (const char *)sqlite3_column_text(st, 2));
		snprintf(had, sizeof(had), "%s", (const char *)sqlite3_column_text(st, 4));
		r = owner_now(x, owner, NULL, now, sizeof(now), why, sizeof(why));
		if (r == NHI_ERR_DB)
			break;
		memset(&o, 0, sizeof(o));
		if (!owner_decide(&o, owner, had, now, r, why, "uid"))
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (nv == NULL) {
			r = nerr(x, NHI_ERR_NOMEM, "out of memory");
			break;
		}
		v = nv;
		o.id = sqlite3_column_int64(st, 0);
		snprintf(o.name, sizeof(o.name), "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(o.state, sizeof(o.state), "%s", (const char *)sqlite3_column_text(st, 3));
		v[n++] = o;
		n_orph += o.orphan;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		free(v);
		return r < 0 && r != NHI_ERR_DB ? r : NHI_ERR_DB;
	}
	r = orphan_limit(x, n_orph, force);
	for (i = 0; r == 0 && i < n; i++) {
		if (!v[i].orphan) {
			r = reg_exec(x, "UPDATE identity SET owner_id = ? WHERE id = ?", "si",
				     v[i].owner_id, v[i].id);
			if (r == 0)
				r = reg_event(x, "owner-id", v[i].name, "ok", "%s", v[i].why);
			continue;
		}
		r = reg_exec(x, "UPDATE identity SET orphaned_since = ?, state = ?, orphan_cause = ?, "
			     "owner_id = nullif(?, '') WHERE id = ?", "isssi", (int64_t)x->now,
			     strcmp(v[i].state, "active") == 0 ? "orphaned" : v[i].state,
			     v[i].cause, v[i].owner_id, v[i].id);
		if (r == 0)
			r = reg_event(x, "orphan", v[i].name, "ok", "%s", v[i].why);
		if (r < 0)
			break;
		(*n_orphaned)++;
		if (j != NULL)
			json_str(j, v[i].name);
		else
			printf("orphaned now: %s (%s)\n", v[i].name, v[i].why);
	}
	free(v);
	return r;
}

/* Identities orphaned because their owner was locked (or expired) come
 * back when that same owner (same uid) is live again; not those orphaned
 * for other reasons, not for a different person under the name. */
static int owner_live_again(struct nhictl *x, int *n_back, struct json *j)
{
	sqlite3_stmt *st;
	int r;

	*n_back = 0;
	st = reg_prep(x, "SELECT id, name, owner, state, owner_id FROM identity WHERE "
		      "orphan_cause = 'locked' AND orphaned_since != 0 AND owner_id IS NOT NULL "
		      "AND state IN ('orphaned', 'suspended') ORDER BY name", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		char name[64], owner[64], state[16], had[32], now[32], why[256];

		snprintf(name, sizeof(name), "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(owner, sizeof(owner), "%s", (const char *)sqlite3_column_text(st, 2));
		snprintf(state, sizeof(state), "%s", (const char *)sqlite3_column_text(st, 3));
		snprintf(had, sizeof(had), "%s", (const char *)sqlite3_column_text(st, 4));
		r = owner_now(x, owner, NULL, now, sizeof(now), why, sizeof(why));
		if (r == NHI_ERR_DB)
			break;
		if (r != 0 || strcmp(had, now) != 0)
			continue;
		r = reg_exec(x, "UPDATE identity SET orphaned_since = 0, state = ?, orphan_cause = '' "
			     "WHERE id = ?", "si", strcmp(state, "orphaned") == 0 ? "active" : state,
			     sqlite3_column_int64(st, 0));
		if (r == 0)
			r = reg_event(x, "owner-live", name, "ok", "owner live again: '%s' (uid %s)",
				      owner, now);
		if (r < 0)
			break;
		(*n_back)++;
		if (j != NULL)
			json_str(j, name);
		else
			printf("owner live again: %s (owner %s)\n", name, owner);
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE || r == 0 ? 0 : NHI_ERR_DB;
}

/* The identities' own findings (NHI1): expired, review overdue, orphaned,
 * suspended, never used past never_used_grace. */
int audit_identities(struct nhictl *x, struct audit_ctx *a)
{
	sqlite3_stmt *st;
	char fix[256];
	int r;

	st = reg_prep(x, "SELECT " IDENT_COLS " FROM identity WHERE state != 'retired' "
		      "ORDER BY name", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct ident id;

		if (ident_from_row(x, st, &id) < 0) {
			sqlite3_finalize(st);
			return NHI_ERR_DB;
		}
		if (id.expires != 0 && x->now >= id.expires) {
			snprintf(fix, sizeof(fix), "nhictl retire %s (or nhictl extend %s --expires DATE)",
				 id.name, id.name);
			finding_add(x, a->f, "NHI1-EXPIRED", id.name, id.expires, fix,
				    "expired and not retired (state %s)", id.state);
		}
		if (id.review_due != 0 && x->now >= id.review_due) {
			snprintf(fix, sizeof(fix), "nhictl review %s", id.name);
			finding_add(x, a->f, "NHI1-REVIEW-OVERDUE", id.name, id.review_due, fix,
				    "owner %s has not reviewed it", id.owner);
		}
		if (id.orphaned_since != 0) {
			snprintf(fix, sizeof(fix), "nhictl transfer %s NEW-OWNER (or nhictl retire %s)",
				 id.name, id.name);
			finding_add(x, a->f, "NHI1-ORPHANED", id.name, id.orphaned_since, fix,
				    "owner '%s' is not a live human", id.owner);
		}
		if (strcmp(id.state, "suspended") == 0) {
			snprintf(fix, sizeof(fix), "nhictl retire %s (or nhictl resume %s)", id.name,
				 id.name);
			finding_add(x, a->f, "NHI1-SUSPENDED", id.name, 0, fix, "suspended");
		}
		if (id.last_used == 0 && x->conf.never_used_grace > 0 &&
		    x->now >= id.created + x->conf.never_used_grace) {
			snprintf(fix, sizeof(fix), "nhictl retire %s", id.name);
			finding_add(x, a->f, "NHI1-NEVER-USED", id.name, id.created, fix,
				    "never used since it was created (never_used_grace %llds)",
				    (long long)x->conf.never_used_grace);
		}
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

/* What audit runs, in order (audit_checks.h). */
static const struct {
	const char *name;
	int (*fn)(struct nhictl *x, struct audit_ctx *a);
} checks[] = {
	{ "identities", audit_identities },
	{ "resources", audit_resources },
	{ "expired-access", audit_expired_access },
	{ "stale", audit_stale },
	{ "external", audit_external },
	{ "password-with-key", audit_password_with_key },
	{ "over-cap", audit_over_cap },
	{ "widening", audit_widening },
	{ "cred-age", audit_cred_age },
	{ "env", audit_env },
	{ "out-of-scope-use", audit_out_of_scope },
	{ "shared", audit_shared },
	{ "dir-conflict", audit_dir_conflict },
	{ "human-use", audit_human_use },
	{ "host", audit_host },
};

int audit_checks_run(struct nhictl *x, struct audit_ctx *a)
{
	size_t i;
	int r;

	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		if ((r = checks[i].fn(x, a)) < 0)
			return r;
	return 0;
}

/* The audit; JSON (jp not NULL) goes to jp. */
static int audit(struct nhictl *x, const struct audit_opts *o, struct json *jp)
{
	char ingest_path[PATH_MAX + 16];
	long records = 0, bad = 0;
	int r, n_orphaned = 0, n_back = 0, n0, n_res = 0, n_susp = 0, force = o->force, fail_on = o->fail_on;
	int writes = x->conf.backend == NHI_BACKEND_LOCAL;
	struct findings f;
	struct audit_ctx a = { &f, o->root, o->host };
	size_t i;

	ingest_path[0] = '\0';
	/* backend = ldap: the directory is the truth, and usage, owners and
	 * orphans are sync's (written there first); stale_action is not
	 * applied here.  The findings are of the registry as last synced. */
	if (!writes)
		nerr(x, 0, "note: backend = ldap: usage, owners and stale_action are left to "
		     "'nhictl sync' (not run here); the findings are of the registry as last synced");
	if (reg_begin(x) < 0)
		return EXIT_FAIL;
	r = writes ? usage_ingest(x, ingest_path, sizeof(ingest_path), &records, &bad) : 0;
	if (r == 0 && records + bad > 0)
		r = reg_event(x, "usage-ingest", x->conf.usage_log, "ok",
			      "%ld records, %ld malformed", records, bad);
	if (r < 0) {
		reg_rollback(x);
		return EXIT_FAIL;
	}
	if (jp != NULL) {
		json_obj(jp);
		json_kint(jp, "usage_records", records);
		json_kint(jp, "usage_malformed", bad);
		json_key(jp, "orphaned_now");
		json_arr(jp);
	}
	n0 = sqlite3_total_changes(x->db);
	r = writes ? orphan_check(x, force, &n_orphaned, jp) : 0;
	if (jp != NULL) {
		json_arr_end(jp);
		json_key(jp, "owner_live_again");
		json_arr(jp);
	}
	if (r == 0 && writes)
		r = owner_live_again(x, &n_back, jp);
	if (jp != NULL)
		json_arr_end(jp);
	/* and the resources' owners (issue 14) */
	if (jp != NULL) {
		json_key(jp, "resources_orphaned_now");
		json_arr(jp);
	}
	if (r == 0 && writes)
		r = reach_owner_check(x, jp, &n_res);
	if (jp != NULL) {
		json_arr_end(jp);
		json_key(jp, "suspended_now");
		json_arr(jp);
	}
	/* stale_action = suspend */
	if (r == 0 && writes)
		r = audit_stale_suspend(x, jp, &n_susp);
	if (jp != NULL)
		json_arr_end(jp);
	if (r < 0) {
		reg_rollback(x);
		return EXIT_FAIL;
	}
	if (records + bad > 0 || sqlite3_total_changes(x->db) != n0) {
		if (reg_commit(x) < 0)
			return EXIT_FAIL;
	} else {
		reg_rollback(x);
	}
	if (ingest_path[0] != '\0' && unlink(ingest_path) < 0 && errno != ENOENT)
		nerr(x, 0, "%s: %s", ingest_path, strerror(errno));
	if (jp == NULL && records + bad > 0)
		printf("usage records ingested: %ld (%ld malformed)\n", records, bad);

	findings_init(&f, NULL);
	if (jp != NULL) {
		json_key(jp, "findings");
		json_arr(jp);
		f.j = jp;
	}
	if (audit_checks_run(x, &a) < 0)
		return EXIT_FAIL;
	if (jp != NULL) {
		json_arr_end(jp);
		json_key(jp, "counts");
		json_obj(jp);
		for (i = 0; i < 4; i++)
			json_kint(jp, finding_sev_name((enum finding_sev)i), f.by_sev[i]);
		json_obj_end(jp);
		json_obj_end(jp);
		json_end(jp);
	} else if (f.n == 0) {
		printf("no findings\n");
	}
	return findings_exit(&f, fail_on);
}

int cmd_audit(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "fail-on", required_argument, NULL, 'F' },
		{ "root", required_argument, NULL, 'R' },
		{ "no-host", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_opts o = { 0, -1, 1, "" };
	enum finding_sev sev;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = NULL;
	struct json j;
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': x->json = 1; break;
		case 'f': o.force = 1; break;
		case 'F':
			if (finding_sev_parse(optarg, &sev) < 0 || sev == SEV_INFO)
				return nerr(x, EXIT_USAGE, "--fail-on: expected low, medium or high, "
					    "not '%s'", optarg);
			o.fail_on = (int)sev;
			break;
		case 'R':
			if (optarg[0] != '/')
				return nerr(x, EXIT_USAGE, "--root: '%s' is not an absolute path", optarg);
			o.root = optarg;
			break;
		case 'N': o.host = 0; break;
		case 'h': fputs(audit_help, stdout); return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	if (optind < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (!x->json)
		return audit(x, &o, NULL);
	/* the JSON is printed only when the audit went through: no half
	 * object on stdout when it stops (orphan_max) or fails */
	f = open_memstream(&buf, &len);
	if (f == NULL)
		return nerr(x, EXIT_FAIL, "out of memory");
	json_init(&j, f);
	r = audit(x, &o, &j);
	if (fclose(f) != 0 && r != EXIT_FAIL && r != EXIT_USAGE)
		r = nerr(x, EXIT_FAIL, "out of memory");
	if (r == EXIT_OK || r == EXIT_FINDINGS)
		fwrite(buf, 1, len, stdout);
	free(buf);
	return r;
}

int cmd_publish(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t gen = 0;
	struct json j;
	int c;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': x->json = 1; break;
		case 'h':
			fputs("usage: nhictl publish [--json]\n\n"
			      "Compile the snapshot from registry.db and publish it again (after\n"
			      "a restore, or when the snapshot was lost).  Every change publishes\n"
			      "on its own; this changes nothing in the registry.\n", stdout);
			return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	if (optind < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (reg_publish(x, 1, &gen) < 0)
		return EXIT_FAIL;
	if (x->json) {
		json_init(&j, stdout);
		json_obj(&j);
		json_kstr(&j, "path", x->conf.cache_path);
		json_kint(&j, "generation", (long long)gen);
		json_obj_end(&j);
		json_end(&j);
	} else {
		printf("published %s (generation %llu)\n", x->conf.cache_path,
		       (unsigned long long)gen);
	}
	return EXIT_OK;
}

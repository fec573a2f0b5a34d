/* cmd_resource.c - resources: resource add|list|show|remove, and the
 * owner re-check of resources (audit).
 *
 * A resource is a downstream system identities reach (access.h).  Its
 * owner is a live human, checked as an identity's (the store's
 * owner_resolve).  Adding a resource again with the same values changes
 * nothing (exit 0); with other values it is updated (options not given
 * keep their value).  Removing one that has grants is refused unless
 * --force, which removes them first (each audited).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "cmd_reach.h"
#include "audit_checks.h"

/* ---- resources ---- */

static const char resource_help[] =
	"usage: nhictl resource add NAME --kind KIND --uri URI --owner USER\n"
	"                           [--data-class CLASS] [--external[=yes|no]] [--purpose TEXT]\n"
	"                           [--label KEY=VALUE]...\n"
	"       nhictl resource list [--label KEY=VALUE]... [--json]\n"
	"       nhictl resource show NAME [--json]\n"
	"       nhictl resource remove NAME [--force] [--json]\n"
	"\n"
	"Resources: the downstream systems identities reach (an API, database,\n"
	"host, queue, bucket, SaaS tenant, MCP server).  Each has a live human\n"
	"owner.  Adding one again with the same values changes nothing (exit 0);\n"
	"with other values it is updated (options not given keep their value).\n"
	"Removing one that identities have grants on is refused unless --force,\n"
	"which removes the grants too.\n"
	"\n"
	"  -k, --kind KIND          what it is: api, database, host, queue, mcp ...\n"
	"  -u, --uri URI            where it is (no spaces, control characters, * ( ) \\)\n"
	"  -o, --owner USER         its owner, a live human\n"
	"  -d, --data-class CLASS   " DATA_CLASSES " (default internal)\n"
	"      --external[=yes|no]  outside the organisation (a SaaS, a third party)\n"
	"  -p, --purpose TEXT       why it is there\n"
	"  -l, --label KEY=VALUE    add: set a label (env=prod; repeatable; others kept;\n"
	"                           'nhictl label --resource' also removes); list: only\n"
	"                           resources labelled so (all of them)\n"
	"  -f, --force              remove: its grants too\n"
	"      --json               machine-readable output\n";

int uri_why(const char *uri, char *why, size_t len)
{
	size_t n = strlen(uri);

	for (size_t i = 0, k; i < n; i += k) {
		unsigned char c = (unsigned char)uri[i];

		if ((k = nhi_utf8_len(uri + i, n - i)) == 0 || nhi_utf8_is_c1(uri + i)) {
			snprintf(why, len, "%s at byte %zu (a URI is UTF-8 text)", k == 0 ?
				 "not UTF-8" : "a control character", i + 1);
			return -1;
		}
		if (c <= 0x20 || c == 0x7f || strchr("*()\\", c) != NULL) {
			snprintf(why, len, "%s at byte %zu (no spaces, control characters or "
				 "* ( ) \\)", c <= 0x20 || c == 0x7f ? "a space or control character" :
				 "an LDAP filter metacharacter", i + 1);
			return -1;
		}
	}
	if (n == 0 || n >= RES_URI_MAX) {
		snprintf(why, len, "1 to %d bytes", RES_URI_MAX - 1);
		return -1;
	}
	return 0;
}

static int check_uri(struct nhictl *x, const char *uri)
{
	char why[128];

	if (uri_why(uri, why, sizeof(why)) < 0)
		return nerr(x, EXIT_USAGE, "bad --uri: %s", why);
	return 0;
}

static void resource_json_fields(struct json *j, const struct resource_row *r, int64_t grants)
{
	json_kstr(j, "name", r->name);
	json_kstr(j, "kind", r->kind);
	json_kstr(j, "uri", r->uri);
	json_kstr(j, "owner", r->owner);
	if (r->owner_dn[0])
		json_kstr(j, "owner_dn", r->owner_dn);
	json_kstr(j, "data_class", r->data_class);
	json_kbool(j, "external", r->external);
	json_kstr(j, "purpose", r->purpose);
	json_klabels(j, "labels", r->labels);
	json_kbool(j, "applied", r->applied);
	json_ktime(j, "created", r->created);
	json_ktime(j, "orphaned_since", r->orphaned_since);
	json_kint(j, "grants", grants);
}

static int64_t grant_count(struct nhictl *x, int64_t res)
{
	int64_t n = 0;

	if (reg_int(x, &n, 0, "SELECT count(*) FROM access WHERE resource_id = ?", "i", res) < 0)
		return -1;
	return n;
}

/* The answer of add and remove: a line, or the resource as JSON with
 * "result" (added, updated, unchanged, removed). */
static int resource_answer(struct nhictl *x, const struct resource_row *r, const char *result,
			   int64_t grants_removed)
{
	struct json j;

	if (!x->json) {
		if (strcmp(result, "unchanged") == 0)
			printf("resource %s: unchanged (nothing changed)\n", r->name);
		else if (strcmp(result, "removed") == 0)
			printf("resource %s removed%s%lld grant%s with it\n", r->name,
			       grants_removed ? "; " : "", (long long)grants_removed,
			       grants_removed == 1 ? "" : "s");
		else
			printf("resource %s %s: kind %s, owner %s, data class %s%s\n", r->name,
			       result, r->kind, r->owner, r->data_class,
			       r->external ? ", external" : "");
		return EXIT_OK;
	}
	json_init(&j, stdout);
	json_obj(&j);
	resource_json_fields(&j, r, strcmp(result, "removed") == 0 ? 0 : grant_count(x, r->id));
	json_kstr(&j, "result", result);
	json_kbool(&j, "changed", strcmp(result, "unchanged") != 0);
	if (strcmp(result, "removed") == 0)
		json_kint(&j, "grants_removed", grants_removed);
	json_obj_end(&j);
	json_end(&j);
	return EXIT_OK;
}

/* The change is written (open transaction): audit, commit, answer. */
static int resource_commit(struct nhictl *x, const struct resource_row *r, const char *result,
			   int64_t grants_removed)
{
	if (reg_commit(x) < 0)
		return EXIT_FAIL;
	return resource_answer(x, r, result, grants_removed);
}

/* What differs between old and new, for the audit event ("" nothing). */
static void resource_diff(const struct resource_row *o, const struct resource_row *n, char *buf,
			  size_t len)
{
	size_t u = 0;

	buf[0] = '\0';
#define DIFF(f, fmt, a, b) \
	if (u < len && strcmp(a, b) != 0) \
		u += (size_t)snprintf(buf + u, len - u, "%s" f " " fmt " -> " fmt, u ? " " : "", a, b)
	DIFF("kind", "%s", o->kind, n->kind);
	DIFF("uri", "%s", o->uri, n->uri);
	DIFF("owner", "%s", o->owner, n->owner);
	DIFF("data_class", "%s", o->data_class, n->data_class);
	DIFF("purpose", "'%s'", o->purpose, n->purpose);
	DIFF("labels", "%s", o->labels[0] ? o->labels : "-", n->labels[0] ? n->labels : "-");
#undef DIFF
	if (u < len && o->external != n->external)
		snprintf(buf + u, len - u, "%sexternal %s -> %s", u ? " " : "",
			 o->external ? "yes" : "no", n->external ? "yes" : "no");
}

int resource_write(struct nhictl *x, const struct resource_row *old, struct resource_row *r)
{
	char why[1024], det[2600 + 2 * LABELS_BUFSZ];
	int rc;

	/* who the owner is, not only the name (issue 12) */
	rc = x->store->owner_now(x, r->owner, r->owner_dn, r->owner_id, sizeof(r->owner_id), why,
				 sizeof(why));
	if (rc != 0 && rc != NHI_ERR_PERM)
		r->owner_id[0] = '\0';
	if (old != NULL) {
		resource_diff(old, r, det, sizeof(det));
		r->orphaned_since = strcmp(old->owner, r->owner) != 0 ? 0 : old->orphaned_since;
		if ((rc = x->store->resource_update(x, old, r)) < 0)
			return rc;
		rc = reg_event(x, "resource-update", r->name, "ok", "%s%s", det, x->store->audit_tag);
	} else {
		if ((rc = x->store->resource_add(x, r)) < 0)
			return rc;
		rc = reg_event(x, "resource-add", r->name, "ok", "kind=%s uri=%s owner=%s "
			       "data_class=%s external=%s%s%s%s%s%s%s%s", r->kind, r->uri, r->owner,
			       r->data_class, r->external ? "yes" : "no", r->purpose[0] ? " purpose='" : "",
			       r->purpose, r->purpose[0] ? "'" : "", r->labels[0] ? " labels=" : "",
			       r->labels, r->applied ? " (nhictl apply)" : "", x->store->audit_tag);
	}
	if (rc < 0)
		x->store->abort(x);
	return rc;
}

static int resource_add(struct nhictl *x, struct reach_args *a)
{
	char owner[64], dn[1024], why[1024] = "", det[2600 + 2 * LABELS_BUFSZ];
	struct resource_row old, r;
	int have, rc;

	if ((rc = reach_check_resource_name(x, a->arg[0])) != 0)
		return rc;
	if (a->kind == NULL || a->uri == NULL || a->owner == NULL)
		return nerr(x, EXIT_USAGE, "--kind, --uri and --owner are required");
	if (!reach_word_ok(a->kind, RES_KIND_MAX - 1, ""))
		return nerr(x, EXIT_USAGE, "bad --kind '%s' (letters, digits, '.', '_', '-'; at "
			    "most %d)", a->kind, RES_KIND_MAX - 1);
	if ((rc = check_uri(x, a->uri)) != 0)
		return rc;
	if (!nhi_valid_name(a->owner) && !(x->store->owner_dn_ok && strchr(a->owner, '=')))
		return nerr(x, EXIT_USAGE, "invalid owner '%s': a user name", a->owner);
	if (a->data_class != NULL && !data_class_valid(a->data_class))
		return nerr(x, EXIT_USAGE, "bad --data-class '%s' (" DATA_CLASSES ")", a->data_class);
	if (a->purpose != NULL && !nhi_valid_text(a->purpose, RES_TEXT_MAX, 0))
		return nerr(x, EXIT_USAGE, "bad --purpose: printable text of at most %d bytes",
			    RES_TEXT_MAX);
	if (x->store->reach_lock(x, &(const struct reach_scope){ .resource = a->arg[0] }) < 0)
		return EXIT_FAIL;
	rc = x->store->owner_resolve(x, a->owner, owner, sizeof(owner), dn, sizeof(dn), why,
				     sizeof(why));
	if (rc == NHI_ERR_DB || (rc < 0 && why[0] == '\0'))
		return EXIT_FAIL;
	if (rc < 0)
		return nerr(x, EXIT_FAIL, "%s", why);
	rc = resource_load(x, a->arg[0], &old);
	if (rc < 0 && rc != NHI_ERR_NOTFOUND)
		return EXIT_FAIL;
	have = rc == 0;
	if (have) {
		r = old;
	} else {
		memset(&r, 0, sizeof(r));
		snprintf(r.name, sizeof(r.name), "%s", a->arg[0]);
		snprintf(r.data_class, sizeof(r.data_class), "internal");
		r.created = (int64_t)x->now;
	}
	snprintf(r.kind, sizeof(r.kind), "%s", a->kind);
	snprintf(r.uri, sizeof(r.uri), "%s", a->uri);
	snprintf(r.owner, sizeof(r.owner), "%s", owner);
	snprintf(r.owner_dn, sizeof(r.owner_dn), "%s", dn);
	if (a->data_class != NULL)
		snprintf(r.data_class, sizeof(r.data_class), "%s", a->data_class);
	if (a->external >= 0)
		r.external = a->external;
	if (a->purpose != NULL)
		snprintf(r.purpose, sizeof(r.purpose), "%s", a->purpose);
	if (labels_apply(r.labels, sizeof(r.labels), a->label, a->nlabel, why, sizeof(why)) < 0)
		return nerr(x, EXIT_USAGE, "%s", why);
	if (have) {
		resource_diff(&old, &r, det, sizeof(det));
		if (det[0] == '\0')
			return resource_answer(x, &old, "unchanged", 0);
	}
	if (resource_write(x, have ? &old : NULL, &r) < 0)
		return EXIT_FAIL;
	return resource_commit(x, &r, have ? "updated" : "added", 0);
}

static void resource_row(struct nhictl *x, sqlite3_stmt *st, struct json *j)
{
	struct resource_row res;
	int64_t n = sqlite3_column_int64(st, RESOURCE_NCOLS);

	(void)x;
	resource_from_row(st, &res);
	if (j != NULL) {
		json_obj(j);
		resource_json_fields(j, &res, n);
		json_obj_end(j);
	} else {
		printf("%-24s %-10s %-12s %-3s %-12s %6lld %s\n", res.name, res.kind, res.data_class,
		       res.external ? "yes" : "no", res.owner, (long long)n, res.uri);
	}
}

static int resource_list(struct nhictl *x, struct reach_args *a)
{
	char header[128], sql[512 + LABELS_MAX * 64];
	sqlite3_stmt *st;
	size_t u;
	int i;

	snprintf(header, sizeof(header), "%-24s %-10s %-12s %-3s %-12s %6s %s\n", "NAME", "KIND",
		 "DATA_CLASS", "EXT", "OWNER", "GRANTS", "URI");
	u = (size_t)snprintf(sql, sizeof(sql), "SELECT " RESOURCE_COLS ", (SELECT count(*) FROM "
			     "access g WHERE g.resource_id = r.id) FROM resource r WHERE 1");
	/* --label K=V: ",K=V," within ",labels," (sorted, checked words) */
	for (i = 0; i < a->nlabel && u < sizeof(sql); i++)
		u += (size_t)snprintf(sql + u, sizeof(sql) - u, " AND instr(',' || r.labels || ',', "
				      "',' || ?%d || ',') > 0", i + 1);
	if (u < sizeof(sql))
		snprintf(sql + u, sizeof(sql) - u, " ORDER BY r.name");
	st = reg_prep(x, sql, "");
	for (i = 0; st != NULL && i < a->nlabel; i++)
		if (sqlite3_bind_text(st, i + 1, a->label[i], -1, SQLITE_STATIC) != SQLITE_OK) {
			sqlite3_finalize(st);
			st = NULL;
			reg_dberr(x);
		}
	return reach_list(x, st, header, resource_row);
}

static int resource_show(struct nhictl *x, struct reach_args *a)
{
	char b1[NHI_TIME_BUFSZ], b2[NHI_TIME_BUFSZ], acts[ACT_BUFSZ], why[256];
	struct resource_row res;
	sqlite3_stmt *st;
	struct json j;
	int r;

	if ((r = reach_resource(x, a->arg[0], &res)) != 0)
		return r;
	st = reg_prep(x, "SELECT " GRANT_COLS " FROM " GRANT_FROM " WHERE a.resource_id = ? "
		      "ORDER BY i.name, a.id", "i", res.id);
	if (st == NULL)
		return EXIT_FAIL;
	if (x->json) {
		json_init(&j, stdout);
		json_obj(&j);
		resource_json_fields(&j, &res, grant_count(x, res.id));
		json_key(&j, "granted");
		json_arr(&j);
	} else {
		printf("name:        %s\nkind:        %s\nuri:         %s\nowner:       %s\n"
		       "data class:  %s\nexternal:    %s\npurpose:     %s\nlabels:      %s\n"
		       "created:     %s\n", res.name, res.kind, res.uri, res.owner, res.data_class,
		       res.external ? "yes" : "no", res.purpose, res.labels[0] ? res.labels : "-",
		       nhi_format_time((time_t)res.created, b1));
		if (res.orphaned_since)
			printf("orphaned:    since %s\n", nhi_format_time((time_t)res.orphaned_since, b1));
		printf("granted to:\n");
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct access_row g;
		const char *state;

		grant_from_row(st, &g);
		state = reach_grant_state(x, &g, why, sizeof(why));
		if (x->json) {
			json_obj(&j);
			json_kstr(&j, "identity", g.identity);
			json_kstr(&j, "credential", g.cred[0] ? g.cred : NULL);
			json_klist(&j, "actions", access_actions_format(g.actions, acts, sizeof(acts)));
			json_klist(&j, "scopes", g.scopes);
			json_ktime(&j, "expires", g.expires);
			json_kstr(&j, "state", state);
			json_kstr(&j, "reason", why[0] ? why : NULL);
			json_obj_end(&j);
		} else {
			printf("  %-20s %-22s%s%s until %s  %s%s%s\n", g.identity,
			       access_actions_format(g.actions, acts, sizeof(acts)),
			       g.cred[0] ? " cred " : "", g.cred, nhi_format_time((time_t)g.expires, b2),
			       state, why[0] ? ": " : "", why);
		}
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return exit_code(reg_dberr(x));
	if (x->json) {
		json_arr_end(&j);
		json_obj_end(&j);
		json_end(&j);
	}
	return EXIT_OK;
}

static int resource_remove(struct nhictl *x, struct reach_args *a)
{
	struct resource_row res;
	/* the resource's row and every grant on it */
	const struct reach_scope s = { .resource = a->arg[0], .grants_on = 1 };
	int64_t n, done = 0;
	int r;

	if ((r = reach_check_resource_name(x, a->arg[0])) != 0)
		return r;
	if (x->store->reach_lock(x, &s) < 0)
		return EXIT_FAIL;
	if ((r = reach_resource(x, a->arg[0], &res)) != 0)
		return r;
	if ((n = grant_count(x, res.id)) < 0)
		return EXIT_FAIL;
	if (n > 0 && !a->force)
		return nerr(x, EXIT_FAIL, "resource '%s' has %lld grant%s: remove %s first ('nhictl "
			    "grant list --resource %s') or use --force", res.name, (long long)n,
			    n == 1 ? "" : "s", n == 1 ? "it" : "them", res.name);
	if (resource_remove_write(x, &res, "resource removed (--force)", &done) < 0)
		return EXIT_FAIL;
	return resource_commit(x, &res, "removed", done);
}

int resource_remove_write(struct nhictl *x, const struct resource_row *res, const char *why,
			  int64_t *done)
{
	char acts[ACT_BUFSZ];
	sqlite3_stmt *st;
	int r;

	*done = 0;
	st = reg_prep(x, "SELECT " GRANT_COLS " FROM " GRANT_FROM " WHERE a.resource_id = ? "
		      "ORDER BY a.id", "i", res->id);
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct access_row g;

		grant_from_row(st, &g);
		if (x->store->grant_remove(x, &g) < 0 ||
		    reg_event(x, "grant-remove", g.identity, "ok", "resource=%s actions=%s%s%s: "
			      "%s%s", g.resource,
			      access_actions_format(g.actions, acts, sizeof(acts)),
			      g.cred[0] ? " cred=" : "", g.cred, why, x->store->audit_tag) < 0) {
			r = -1;
			break;
		}
		++*done;
	}
	sqlite3_finalize(st);
	if (r == SQLITE_DONE && x->store->resource_remove(x, res) == 0 &&
	    reg_event(x, "resource-remove", res->name, "ok", "kind=%s uri=%s owner=%s; %lld "
		      "grant%s removed%s", res->kind, res->uri, res->owner, (long long)*done,
		      *done == 1 ? "" : "s", x->store->audit_tag) == 0)
		return 0;
	if (r != SQLITE_DONE && r != -1)
		reg_dberr(x);
	x->store->abort(x);
	return NHI_ERR_DB;
}

int resource_label(struct nhictl *x, const char *name, const char *const *ops, int nops)
{
	char why[256], det[2 * LABELS_BUFSZ + 32];
	struct resource_row old, r;
	int rc;

	if ((rc = reach_check_resource_name(x, name)) != 0)
		return rc;
	if (x->store->reach_lock(x, &(const struct reach_scope){ .resource = name }) < 0)
		return EXIT_FAIL;
	if ((rc = reach_resource(x, name, &old)) != 0)
		return rc;
	r = old;
	if (labels_apply(r.labels, sizeof(r.labels), ops, nops, why, sizeof(why)) < 0)
		return nerr(x, EXIT_USAGE, "%s", why);
	if (strcmp(r.labels, old.labels) == 0)
		return resource_answer(x, &old, "unchanged", 0);
	snprintf(det, sizeof(det), "labels %s -> %s", old.labels[0] ? old.labels : "-",
		 r.labels[0] ? r.labels : "-");
	if (x->store->resource_update(x, &old, &r) < 0)
		return EXIT_FAIL;
	if (reg_event(x, "resource-update", r.name, "ok", "%s%s", det, x->store->audit_tag) < 0) {
		x->store->abort(x);
		return EXIT_FAIL;
	}
	return resource_commit(x, &r, "updated", 0);
}

/* ---- audit: resources' owners ---- */

int reach_owner_check(struct nhictl *x, struct json *j, int *n)
{
	sqlite3_stmt *st;
	int r;

	*n = 0;
	st = reg_prep(x, "SELECT " RESOURCE_COLS " FROM resource r ORDER BY r.name", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		char now[64] = "", why[1024] = "";
		struct resource_row res;
		int live, same;

		resource_from_row(st, &res);
		r = x->store->owner_now(x, res.owner, res.owner_dn, now, sizeof(now), why,
					sizeof(why));
		if (r == NHI_ERR_DB || r == NHI_ERR_IO)
			break;
		same = res.owner_id[0] == '\0' || now[0] == '\0' || strcmp(res.owner_id, now) == 0;
		live = r == 0 && same;
		if (!same)
			snprintf(why, sizeof(why), "owner '%s' is another person now (%s %s, was %s)",
				 res.owner, x->store->owner_dn_ok ? "entryUUID" : "uid", now,
				 res.owner_id);
		if (live == (res.orphaned_since == 0))
			continue;
		if (!live) {
			r = reg_exec(x, "UPDATE resource SET orphaned_since = ? WHERE id = ?", "ii",
				     (int64_t)x->now, res.id);
			if (r == 0)
				r = reg_event(x, "resource-orphan", res.name, "ok", "%s", why);
			if (r == 0 && j != NULL)
				json_str(j, res.name);
			else if (r == 0)
				printf("resource orphaned now: %s (%s)\n", res.name, why);
		} else {
			r = reg_exec(x, "UPDATE resource SET orphaned_since = 0 WHERE id = ?", "i",
				     res.id);
			if (r == 0)
				r = reg_event(x, "resource-owner-live", res.name, "ok",
					      "owner '%s' is live again", res.owner);
		}
		if (r < 0)
			break;
		++*n;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return r < 0 ? r : reg_dberr(x);
	return 0;
}

int audit_resources(struct nhictl *x, struct audit_ctx *a)
{
	sqlite3_stmt *st = reg_prep(x, "SELECT name, orphaned_since, owner FROM resource WHERE "
				    "orphaned_since != 0 ORDER BY name", "");
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		char fix[256];

		snprintf(fix, sizeof(fix), "nhictl resource remove %s", name);
		finding_add(x, a->f, "NHI1-RESOURCE-ORPHANED", name, sqlite3_column_int64(st, 1), fix,
			    "owner '%s' is not a live human", (const char *)sqlite3_column_text(st, 2));
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

int cmd_resource(struct nhictl *x, int argc, char **argv)
{
	static const struct reach_sub subs[] = {
		{ "add", resource_add, 1, 1, "kuodXpl" },
		{ "list", resource_list, 0, 0, "l" },
		{ "show", resource_show, 1, 1, "" },
		{ "remove", resource_remove, 1, 1, "f" },
	};

	return reach_run(x, argc, argv, subs, sizeof(subs) / sizeof(subs[0]), resource_help);
}

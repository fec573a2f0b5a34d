/* cmd_group.c - registry groups: supplementary groups that NSS serves
 * (each identity also has its own group, name = identity, gid = its gid). */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"

static const char group_help[] =
	"usage: nhictl group create GROUP [--gid N] [--json]\n"
	"       nhictl group delete GROUP [--json]\n"
	"       nhictl group add-member GROUP USER... [--json]\n"
	"       nhictl group remove-member GROUP USER... [--json]\n"
	"       nhictl group list [--json]\n"
	"\n"
	"Registry groups, served by nss_nhi with their members (registered\n"
	"identities or local users).  A gid is allocated in uid_min..uid_max\n"
	"unless --gid is given.  Adding a member twice, or removing one that is\n"
	"not there, changes nothing (exit 0).\n";

static int group_id(struct nhictl *x, const char *name, int64_t *id, int64_t *gid)
{
	sqlite3_stmt *st = reg_prep(x, "SELECT id, gid FROM grp WHERE name = ?", "s", name);
	int r;

	if (st == NULL)
		return EXIT_FAIL;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*gid = sqlite3_column_int64(st, 1);
		r = 0;
	} else if (r == SQLITE_DONE) {
		r = nerr(x, EXIT_FAIL, "no registry group '%s'", name);
	} else {
		reg_dberr(x);
		r = EXIT_FAIL;
	}
	sqlite3_finalize(st);
	return r;
}

/* --json after a change: the group as 'group list --json' shows it (no
 * members once deleted), what happened, how many members changed. */
static void group_json(struct nhictl *x, const char *name, int64_t gid, const char *what,
		       int changed)
{
	char members[4096] = "";
	sqlite3_stmt *st = NULL;
	struct json j;

	if (strcmp(what, "deleted") != 0)
		st = reg_prep(x, "SELECT group_concat(member, ',') FROM (SELECT member FROM "
			      "grp_member m JOIN grp g ON g.id = m.grp_id WHERE g.name = ? "
			      "ORDER BY member)", "s", name);
	if (st != NULL && sqlite3_step(st) == SQLITE_ROW)
		col_cpy(members, sizeof(members), st, 0);
	sqlite3_finalize(st);
	json_init(&j, stdout);
	json_obj(&j);
	json_kstr(&j, "name", name);
	json_kint(&j, "gid", gid);
	if (strcmp(what, "deleted") == 0) {
		json_key(&j, "members");
		json_null(&j);
	} else {
		json_klist(&j, "members", members);
	}
	json_kstr(&j, "result", what);
	json_kint(&j, "changed", changed);
	json_obj_end(&j);
	json_end(&j);
}

static int finish(struct nhictl *x, int r)
{
	if (r < 0) {
		reg_rollback(x);
		return EXIT_FAIL;
	}
	return reg_commit(x) < 0 ? EXIT_FAIL : EXIT_OK;
}

static int group_create(struct nhictl *x, const char *name, const char *gid_s)
{
	int64_t n = 0;
	uint32_t gid;
	int r;

	if (reg_int(x, &n, 0, "SELECT (SELECT count(*) FROM grp WHERE name = ?1) + "
		    "(SELECT count(*) FROM identity WHERE name = ?1)", "s", name) < 0)
		return EXIT_FAIL;
	if (n)
		return nerr(x, EXIT_FAIL, "a registry group or identity '%s' exists", name);
	if (getgrnam(name) != NULL)
		return nerr(x, EXIT_FAIL, "a local group '%s' exists", name);
	if (gid_s != NULL) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(gid_s, &end, 10);
		if (errno || *end || end == gid_s || gid_s[0] == '-' || v == 0 || v >= 0xffffffffUL)
			return nerr(x, EXIT_USAGE, "bad --gid '%s'", gid_s);
		gid = (uint32_t)v;
		r = id_free(x, gid);
		if (r < 0)
			return EXIT_FAIL;
		if (!r)
			return nerr(x, EXIT_FAIL, "gid %u is already in use", gid);
	} else if (alloc_id(x, &gid) < 0) {
		return EXIT_FAIL;
	}
	if (reg_begin(x) < 0)
		return EXIT_FAIL;
	r = reg_exec(x, "INSERT INTO grp (name, gid, created) VALUES (?, ?, ?)", "sui",
		     name, gid, (int64_t)x->now);
	if (r == 0)
		r = reg_event(x, "group-create", name, "ok", "gid=%u", gid);
	r = finish(x, r);
	if (r == EXIT_OK && x->json)
		group_json(x, name, gid, "created", 1);
	else if (r == EXIT_OK)
		printf("group %s created: gid %u\n", name, gid);
	return r;
}

static int group_delete(struct nhictl *x, const char *name)
{
	int64_t id, gid;
	int r;

	if ((r = group_id(x, name, &id, &gid)) != 0)
		return r;
	if (reg_begin(x) < 0)
		return EXIT_FAIL;
	r = reg_exec(x, "DELETE FROM grp WHERE id = ?", "i", id);
	if (r == 0)
		r = reg_event(x, "group-delete", name, "ok", "gid=%lld", (long long)gid);
	r = finish(x, r);
	if (r == EXIT_OK && x->json)
		group_json(x, name, gid, "deleted", 1);
	else if (r == EXIT_OK)
		printf("group %s deleted\n", name);
	return r;
}

static int group_members(struct nhictl *x, const char *name, int add, int argc, char **argv)
{
	int64_t id, gid, n;
	int i, r, changes = 0;

	if (argc < 1)
		return nerr(x, EXIT_USAGE, "name at least one USER");
	for (i = 0; i < argc; i++)
		if (!nhi_valid_name(argv[i]))
			return nerr(x, EXIT_USAGE, "invalid user name '%s'", argv[i]);
	if ((r = group_id(x, name, &id, &gid)) != 0)
		return r;
	if (reg_begin(x) < 0)
		return EXIT_FAIL;
	for (i = 0; i < argc; i++) {
		const char *u = argv[i];

		r = reg_int(x, &n, 0, "SELECT count(*) FROM grp_member WHERE grp_id = ? AND member = ?",
			    "is", id, u);
		if (r < 0)
			break;
		if (add && n == 0) {
			int64_t reg = 0;

			r = reg_int(x, &reg, 0, "SELECT count(*) FROM identity WHERE name = ? "
				    "AND state != 'retired'", "s", u);
			if (r < 0)
				break;
			if (!reg && getpwnam(u) == NULL) {
				reg_rollback(x);
				return nerr(x, EXIT_FAIL, "'%s' is neither a registered identity nor "
					    "a local user", u);
			}
			r = reg_exec(x, "INSERT INTO grp_member VALUES (?, ?)", "is", id, u);
			if (r == 0)
				r = reg_event(x, "group-add-member", name, "ok", "member %s", u);
			changes++;
		} else if (!add && n > 0) {
			r = reg_exec(x, "DELETE FROM grp_member WHERE grp_id = ? AND member = ?",
				     "is", id, u);
			if (r == 0)
				r = reg_event(x, "group-remove-member", name, "ok", "member %s", u);
			changes++;
		} else if (!x->json) {
			printf("%s: %s %s a member (nothing changed)\n", name, u,
			       add ? "is already" : "is not");
		}
		if (r < 0)
			break;
	}
	if (r < 0 || changes == 0) {
		reg_rollback(x);
		if (r >= 0 && x->json)
			group_json(x, name, gid, "unchanged", 0);
		return r < 0 ? EXIT_FAIL : EXIT_OK;
	}
	r = finish(x, 0);
	if (r == EXIT_OK && x->json)
		group_json(x, name, gid, add ? "members-added" : "members-removed", changes);
	else if (r == EXIT_OK)
		printf("group %s: %d member%s %s\n", name, changes, changes == 1 ? "" : "s",
		       add ? "added" : "removed");
	return r;
}

static int group_list(struct nhictl *x)
{
	sqlite3_stmt *st;
	struct json j;
	int r;

	st = reg_prep(x, "SELECT g.name, g.gid, (SELECT group_concat(member, ',') FROM "
		      "(SELECT member FROM grp_member m WHERE m.grp_id = g.id ORDER BY member)) "
		      "FROM grp g ORDER BY g.name", "");
	if (st == NULL)
		return EXIT_FAIL;
	if (x->json) {
		json_init(&j, stdout);
		json_arr(&j);
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *mem = (const char *)sqlite3_column_text(st, 2);

		if (x->json) {
			json_obj(&j);
			json_kstr(&j, "name", name);
			json_kint(&j, "gid", sqlite3_column_int64(st, 1));
			json_klist(&j, "members", mem ? mem : "");
			json_obj_end(&j);
		} else {
			printf("%s:%lld:%s\n", name, (long long)sqlite3_column_int64(st, 1),
			       mem ? mem : "");
		}
	}
	sqlite3_finalize(st);
	if (x->json) {
		json_arr_end(&j);
		json_end(&j);
	}
	if (r != SQLITE_DONE)
		return reg_dberr(x), EXIT_FAIL;
	return EXIT_OK;
}

/* group's option (subcmd_run) */
enum { GROUP_GID = 1 };

/* GROUP, the first operand of the sub-commands that change one */
static int group_target(struct nhictl *x, const char *sub, const char *name)
{
	if (!x->store->groups)
		return nerr(x, EXIT_FAIL, "group %s: registry groups are not kept in the directory; "
			    "with backend = ldap manage groups as posixGroup entries there", sub);
	if (!nhi_valid_name(name))
		return nerr(x, EXIT_USAGE, "invalid group name '%s'", name);
	return 0;
}

static int sub_list(struct nhictl *x, int argc, char **argv, void *opt)
{
	(void)argc, (void)argv, (void)opt;
	return group_list(x);
}

static int sub_create(struct nhictl *x, int argc, char **argv, void *opt)
{
	int r = group_target(x, "create", argv[0]);

	(void)argc;
	return r ? r : group_create(x, argv[0], *(const char **)opt);
}

static int sub_delete(struct nhictl *x, int argc, char **argv, void *opt)
{
	int r = group_target(x, "delete", argv[0]);

	(void)argc, (void)opt;
	return r ? r : group_delete(x, argv[0]);
}

static int sub_add_member(struct nhictl *x, int argc, char **argv, void *opt)
{
	int r = group_target(x, "add-member", argv[0]);

	(void)opt;
	return r ? r : group_members(x, argv[0], 1, argc - 1, argv + 1);
}

static int sub_remove_member(struct nhictl *x, int argc, char **argv, void *opt)
{
	int r = group_target(x, "remove-member", argv[0]);

	(void)opt;
	return r ? r : group_members(x, argv[0], 0, argc - 1, argv + 1);
}

static const struct subcmd group_subs[] = {
	{ "create", sub_create, 1, 1, GROUP_GID, "GROUP" },
	{ "delete", sub_delete, 1, 1, 0, "GROUP" },
	{ "add-member", sub_add_member, 1, -1, 0, "GROUP" },
	{ "remove-member", sub_remove_member, 1, -1, 0, "GROUP" },
	{ "list", sub_list, 0, 0, 0, NULL },
	{ NULL, NULL, 0, 0, 0, NULL },
};

int cmd_group(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "gid", required_argument, NULL, 'g' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *gid = NULL;
	int c;

	/* options may come before or after the sub-verb */
	while ((c = getopt_long(argc, argv, ":g:h", opts, NULL)) != -1) {
		switch (c) {
		case 'g': gid = optarg; break;
		case 'j': x->json = 1; break;
		case 'h': fputs(group_help, stdout); return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	return subcmd_run(x, group_subs, argc, argv, &gid, gid != NULL ? GROUP_GID : 0,
			  "--gid is only for 'group create'");
}

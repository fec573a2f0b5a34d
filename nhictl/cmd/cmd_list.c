/* cmd_list.c - list and show. */
#include <getopt.h>
#include <string.h>
#include "cmd.h"

static const char list_help[] =
	"usage: nhictl list [OPTIONS]\n"
	"\n"
	"List registered identities (retired ones only with --all or --state retired).\n"
	"\n"
	"  -o, --owner USER        owned by USER\n"
	"  -s, --state STATE       active, suspended, orphaned or retired\n"
	"  -e, --expiring DUR      expiring within DUR (or already expired)\n"
	"  -r, --overdue           review overdue\n"
	"  -O, --orphaned          without a live owner\n"
	"  -S, --stale DUR         not used for longer than DUR (never used: counted\n"
	"                          from its creation)\n"
	"  -a, --all               include retired identities\n"
	"  -l, --label KEY=VALUE   labelled so (repeatable: all of them)\n"
	"      --json              a JSON array of objects\n";

int cmd_list(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "owner", required_argument, NULL, 'o' },
		{ "state", required_argument, NULL, 's' },
		{ "expiring", required_argument, NULL, 'e' },
		{ "overdue", no_argument, NULL, 'r' },
		{ "orphaned", no_argument, NULL, 'O' },
		{ "stale", required_argument, NULL, 'S' },
		{ "all", no_argument, NULL, 'a' },
		{ "label", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *owner = NULL, *state = NULL, *label[LABELS_MAX];
	int nlabel = 0;
	int64_t within = -1, stale = -1;
	int overdue = 0, orphaned = 0, all = 0, c, r, n = 0;
	int64_t wname = 0, wowner = 0, wlabels = 0;
	char err[256], b1[NHI_TIME_BUFSZ], b2[NHI_TIME_BUFSZ];
	sqlite3_stmt *st;
	struct json j;

	while ((c = getopt_long(argc, argv, ":o:s:e:l:rOS:ah", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!nhi_valid_name(optarg))
				return nerr(x, EXIT_USAGE, "--owner: invalid user name '%s'", optarg);
			owner = optarg;
			break;
		case 's':
			if (nhi_state_parse(optarg) < 0)
				return nerr(x, EXIT_USAGE, "bad --state '%s' (active, suspended, "
					    "orphaned, retired)", optarg);
			state = optarg;
			break;
		case 'e':
			if (nhi_parse_duration(optarg, &within, err, sizeof(err)) < 0)
				return nerr(x, EXIT_USAGE, "bad --expiring '%s': %s", optarg, err);
			break;
		case 'S':
			if (nhi_parse_duration(optarg, &stale, err, sizeof(err)) < 0)
				return nerr(x, EXIT_USAGE, "bad --stale '%s': %s", optarg, err);
			break;
		case 'r': overdue = 1; break;
		case 'O': orphaned = 1; break;
		case 'a': all = 1; break;
		case 'l':
			if (label_check(optarg, 0, err, sizeof(err)) < 0)
				return nerr(x, EXIT_USAGE, "%s", err);
			if (nlabel >= LABELS_MAX)
				return nerr(x, EXIT_USAGE, "too many --label options (at most %d)",
					    LABELS_MAX);
			label[nlabel++] = optarg;
			break;
		case 'j': x->json = 1; break;
		case 'h': fputs(list_help, stdout); return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	if (optind < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	st = reg_prep(x, "SELECT " IDENT_COLS " FROM identity ORDER BY name", "");
	if (st == NULL)
		return EXIT_FAIL;
	if (x->json) {
		json_init(&j, stdout);
		json_arr(&j);
		json_end(&j);   /* one object per line between the brackets */
	} else {
		/* columns as wide as the longest name and owner (up to 32
		 * characters each), so that every row stays aligned */
		if (reg_int(x, &wname, 0, "SELECT max(length(name)) FROM identity", "") < 0 ||
		    reg_int(x, &wowner, 0, "SELECT max(length(owner)) FROM identity", "") < 0 ||
		    reg_int(x, &wlabels, 0, "SELECT max(length(labels)) FROM identity", "") < 0) {
			sqlite3_finalize(st);
			return EXIT_FAIL;
		}
		wname = wname < 20 ? 20 : wname;
		wowner = wowner < 10 ? 10 : wowner;
		/* a LABELS column only when some identity has labels */
		wlabels = wlabels == 0 ? 0 : wlabels < 6 ? 6 : wlabels > 64 ? 64 : wlabels;
		printf("%-*s %-7s %-8s %-*s %-9s %-20s %-20s %s%*s%s\n", (int)wname, "NAME", "KIND",
		       "UID", (int)wowner, "OWNER", "STATE", "EXPIRES", "REVIEW DUE",
		       wlabels ? "LABELS" : "", wlabels ? (int)wlabels - 5 : 0, "", "PURPOSE");
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct ident id;
		int retired;

		if (ident_from_row(x, st, &id) < 0) {
			sqlite3_finalize(st);
			return EXIT_FAIL;
		}
		retired = strcmp(id.state, "retired") == 0;
		if (owner && strcmp(owner, id.owner) != 0)
			continue;
		if (!labels_match(id.labels, label, nlabel))
			continue;
		if (state ? strcmp(state, id.state) != 0 : (retired && !all))
			continue;
		if (within >= 0 && (retired || id.expires > (int64_t)x->now + within))
			continue;
		if (stale >= 0 && (retired || (int64_t)x->now -
					      (id.last_used ? id.last_used : id.created) <= stale))
			continue;
		if (overdue && (retired || id.review_due == 0 || id.review_due > (int64_t)x->now))
			continue;
		if (orphaned && (retired || (id.orphaned_since == 0 && strcmp(id.state, "orphaned") != 0)))
			continue;
		if (x->json) {
			if (n > 0)
				fputs(",\n", stdout);
			ident_json(x, &id);
		} else {
			printf("%-*s %-7s %-8u %-*s %-9s %-20s %-20s ", (int)wname, id.name,
			       id.kind, id.uid, (int)wowner, id.owner,
			       !retired && x->now >= id.expires ? "expired" : id.state,
			       nhi_format_time((time_t)id.expires, b1),
			       id.review_due ? nhi_format_time((time_t)id.review_due, b2) : "-");
			if (wlabels)
				printf("%-*s ", (int)wlabels, id.labels[0] ? id.labels : "-");
			printf("%s\n", id.purpose);
		}
		n++;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return reg_dberr(x), EXIT_FAIL;
	if (x->json)
		fputs("]\n", stdout);
	return EXIT_OK;
}

int cmd_show(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name;
	struct ident id;
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': x->json = 1; break;
		case 'h':
			fputs("usage: nhictl show NAME [--json]\n\n"
			      "Everything the registry knows about one identity (also retired).\n",
			      stdout);
			return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	if ((r = one_name(x, argc, argv, &name, "identity name")) != 0)
		return r;
	if ((r = ident_get(x, name, &id)) != 0)
		return r;
	if (x->json)
		ident_json(x, &id);
	else
		ident_text(x, &id);
	return EXIT_OK;
}

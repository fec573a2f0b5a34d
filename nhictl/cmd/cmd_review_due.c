/* cmd_review_due.c - review --due: what each owner must attest, soonest
 * first, for a review campaign run from cron and mailed.  `review NAME`
 * (recording one review) is cmd_mover.c's. */
#include <getopt.h>
#include <string.h>
#include "cmd.h"

static const char due_help[] =
	"usage: nhictl review --due [--owner USER] [--json]\n"
	"\n"
	"What each owner must review ('nhictl review NAME' records it): the\n"
	"identities whose review is overdue or due within warn_before, grouped by\n"
	"owner, the owner with the soonest review first, and soonest first within\n"
	"each owner.  Retired and orphaned identities are left out (an orphaned\n"
	"one needs 'nhictl transfer' first; 'nhictl audit' reports it).  Changes\n"
	"nothing; exit 0 also when nothing is due.\n"
	"\n"
	"      --owner USER      only what USER must review\n"
	"      --json            {\"warn_before\", \"owners\": [{\"owner\",\n"
	"                        \"identities\": [{\"name\", \"kind\", \"purpose\",\n"
	"                        \"review_due\", \"overdue\"}]}]}\n";

int cmd_review_due(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "due", no_argument, NULL, 'd' },
		{ "owner", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char last[64] = "", b[NHI_TIME_BUFSZ];
	const char *owner = NULL;
	sqlite3_stmt *st;
	struct json j;
	long n = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': break;
		case 'o':
			if (!nhi_valid_name(optarg))
				return nerr(x, EXIT_USAGE, "--owner: invalid user name '%s'", optarg);
			owner = optarg;
			break;
		case 'j': x->json = 1; break;
		case 'h': fputs(due_help, stdout); return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	if (optind < argc)
		return nerr(x, EXIT_USAGE, "review --due: unexpected argument '%s' (review one "
			    "identity with 'nhictl review NAME')", argv[optind]);
	/* each owner's soonest review orders the owners */
	st = reg_prep(x, "SELECT owner, name, kind, purpose, review_due, "
		      "min(review_due) OVER (PARTITION BY owner) AS first FROM identity "
		      "WHERE state != 'retired' AND orphaned_since = 0 AND review_due != 0 "
		      "AND review_due <= ?1 AND (?2 = '' OR owner = ?2) "
		      "ORDER BY first, owner, review_due, name", "is",
		      (int64_t)x->now + x->conf.warn_before, owner ? owner : "");
	if (st == NULL)
		return EXIT_FAIL;
	if (x->json) {
		json_init(&j, stdout);
		json_obj(&j);
		json_kint(&j, "warn_before", (long long)x->conf.warn_before);
		json_key(&j, "owners");
		json_arr(&j);
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *o = (const char *)sqlite3_column_text(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		int64_t due = sqlite3_column_int64(st, 4);
		int overdue = (int64_t)x->now >= due, next = strcmp(o, last) != 0;

		if (next && x->json) {
			if (n > 0) {
				json_arr_end(&j);
				json_obj_end(&j);
			}
			json_obj(&j);
			json_kstr(&j, "owner", o);
			json_key(&j, "identities");
			json_arr(&j);
		} else if (next) {
			printf("%sowner %s:\n", n > 0 ? "\n" : "", o);
		}
		snprintf(last, sizeof(last), "%s", o);
		n++;
		if (x->json) {
			json_obj(&j);
			json_kstr(&j, "name", name);
			json_kstr(&j, "kind", (const char *)sqlite3_column_text(st, 2));
			json_kstr(&j, "purpose", (const char *)sqlite3_column_text(st, 3));
			json_ktime(&j, "review_due", due);
			json_kbool(&j, "overdue", overdue);
			json_obj_end(&j);
		} else {
			printf("  %-24s %s %s  nhictl review %s\n", name,
			       overdue ? "overdue since" : "due          ",
			       nhi_format_time((time_t)due, b), name);
		}
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		reg_dberr(x);
		return EXIT_FAIL;
	}
	if (x->json) {
		if (n > 0) {
			json_arr_end(&j);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_obj_end(&j);
		json_end(&j);
	} else if (n == 0) {
		printf("nothing due for review%s%s\n", owner ? " by " : "", owner ? owner : "");
	}
	return EXIT_OK;
}

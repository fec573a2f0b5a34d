/* cmd_log.c - log: print or verify the hash-chained audit log. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"

static const char log_help[] =
	"usage: nhictl log [--verify] [--target NAME] [--json]\n"
	"\n"
	"Print the audit log (oldest first), or verify its hash chain: --verify\n"
	"exits 1 naming the first event that was altered or removed, or when the\n"
	"chain does not reach the head recorded outside the registry (in\n"
	"registry.state: a registry restored from an older backup or recreated).\n"
	"\n"
	"  -v, --verify        check the chain instead of printing it\n"
	"  -t, --target NAME   only events about NAME\n"
	"      --json          a JSON array of events {id, time, actor, action,\n"
	"                      target, outcome, detail, prev_hash, hash}\n";

int cmd_log(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verify", no_argument, NULL, 'v' },
		{ "target", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *target = NULL;
	char why[PATH_MAX + 256], b[NHI_TIME_BUFSZ];
	sqlite3_stmt *st;
	struct json j;
	int64_t n;
	int verify = 0, c, r;

	while ((c = getopt_long(argc, argv, ":vt:h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': verify = 1; break;
		case 't': target = optarg; break;
		case 'j': x->json = 1; break;
		case 'h': fputs(log_help, stdout); return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	if (optind < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (verify) {
		r = reg_verify_log(x, &n, why, sizeof(why));
		if (x->json) {
			json_init(&j, stdout);
			json_obj(&j);
			json_kbool(&j, "intact", r == 0);
			json_kint(&j, "events", n);
			json_kstr(&j, "error", r == 0 ? NULL : why);
			json_obj_end(&j);
			json_end(&j);
		}
		if (r == NHI_ERR_DB || r == NHI_ERR_IO)
			return EXIT_FAIL;   /* said on stderr */
		if (r == NHI_ERR_STATE)
			return nerr(x, EXIT_FAIL, "audit log incomplete: the chain does not reach "
				    "its recorded head: %s", why);
		if (r < 0)
			return nerr(x, EXIT_FAIL, "audit log tampered: %s", why);
		if (!x->json)
			printf("audit log intact: %lld events, hash chain verified\n", (long long)n);
		return EXIT_OK;
	}
	st = reg_prep(x, "SELECT id, ts, actor, action, target, outcome, detail, prev_hash, hash "
		      "FROM event WHERE ?1 IS NULL OR target = ?1 ORDER BY id", "s", target);
	if (st == NULL)
		return EXIT_FAIL;
	if (x->json) {
		json_init(&j, stdout);
		json_arr(&j);
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *col[9];
		int i;

		for (i = 2; i < 9; i++) {
			const unsigned char *t = sqlite3_column_text(st, i);

			col[i] = t ? (const char *)t : "";
		}
		nhi_format_time((time_t)sqlite3_column_int64(st, 1), b);
		if (x->json) {
			json_obj(&j);
			json_kint(&j, "id", sqlite3_column_int64(st, 0));
			json_kstr(&j, "time", b);
			json_kstr(&j, "actor", col[2]);
			json_kstr(&j, "action", col[3]);
			json_kstr(&j, "target", col[4]);
			json_kstr(&j, "outcome", col[5]);
			json_kstr(&j, "detail", col[6]);
			json_kstr(&j, "prev_hash", col[7]);
			json_kstr(&j, "hash", col[8]);
			json_obj_end(&j);
		} else {
			printf("%lld %s %s %s %s %s %s\n", (long long)sqlite3_column_int64(st, 0), b,
			       col[2], col[3], col[4], col[5], col[6]);
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

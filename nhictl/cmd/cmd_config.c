/* cmd_config.c - `nhictl config check [FILE]`: every problem of nhi.conf,
 * as `sssctl config-check` does for sssd.conf.  Runs without loading the
 * configuration first (nhictl.c: NO_CONF), since a broken one is the
 * point.  The reading is the modules' own (nhi_conf_check: the lenient
 * parser of pam_nhi and nss_nhi, reporting every problem, the owner/mode
 * check included) and nothing is changed. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmd.h"

static const char config_help[] =
	"usage: nhictl config check [FILE] [--json]\n"
	"\n"
	"Read nhi.conf (FILE, else -c FILE, else $NHI_CONF or " NHI_CONF_DEFAULT ")\n"
	"as pam_nhi, nss_nhi and nhictl read it and list every problem, one line\n"
	"each, as FILE:LINE: message (FILE: message for the checks across keys\n"
	"and for the owner/mode check).  A problem marked [modules] is one the\n"
	"modules cannot skip (unknown key, line without '=', bad value of a key\n"
	"they read, untrusted file): until it is fixed pam_nhi refuses every\n"
	"service account (humans are left alone) and uses the built-in\n"
	"classification.  The others concern keys only nhictl reads; every\n"
	"other verb refuses to run on any problem.  A missing default file is\n"
	"fine (every key has its default); a missing FILE named is a problem.\n"
	"\n"
	"      --json   {file, ok, problems: [{line, message, modules}]}\n"
	"\n"
	"exit status: 0 no problem, 1 problems found, 2 usage.\n";

struct found {
	struct json j;
	int json;
	const char *path;
	unsigned n, n_modules;
};

/* The line number of "PATH:LINE: ...", 0 when the message has none. */
static unsigned line_of(const char *path, const char *msg)
{
	size_t n = strlen(path);
	unsigned long line;
	char *end;

	if (strncmp(msg, path, n) != 0 || msg[n] != ':' || msg[n + 1] < '0' || msg[n + 1] > '9')
		return 0;
	line = strtoul(msg + n + 1, &end, 10);
	return *end == ':' && line <= 0xffffffffUL ? (unsigned)line : 0;
}

static void report(void *arg, const char *msg, int breaks)
{
	struct found *f = arg;
	unsigned line = line_of(f->path, msg);

	f->n++;
	f->n_modules += breaks != 0;
	if (f->json) {
		json_obj(&f->j);
		if (line)
			json_kint(&f->j, "line", line);
		else
			(json_key(&f->j, "line"), json_null(&f->j));
		json_kstr(&f->j, "message", msg);
		json_kbool(&f->j, "modules", breaks);
		json_obj_end(&f->j);
	} else {
		printf("%s%s\n", msg, breaks ? " [modules]" : "");
	}
}

int cmd_config(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct found f;
	const char *path = x->conf_path;
	int c, missing;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': x->json = 1; break;
		case 'h': fputs(config_help, stdout); return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	if (optind >= argc || strcmp(argv[optind], "check") != 0)
		return nerr(x, EXIT_USAGE, "%s%s%s (try 'nhictl config --help')",
			    optind >= argc ? "missing subcommand 'check'" : "unknown subcommand '",
			    optind >= argc ? "" : argv[optind], optind >= argc ? "" : "'");
	optind++;   /* (getopt_long took the options wherever they were) */
	if (optind < argc)
		path = argv[optind++];
	if (optind < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	/* the default file may be absent: then every key has its default */
	missing = path == NULL && access(nhi_conf_default_path(), F_OK) != 0 && errno == ENOENT;
	if (path == NULL)
		path = nhi_conf_default_path();

	memset(&f, 0, sizeof(f));
	f.json = x->json;
	f.path = path;
	if (f.json) {
		json_init(&f.j, stdout);
		json_obj(&f.j);
		json_kstr(&f.j, "file", path);
		json_key(&f.j, "problems");
		json_arr(&f.j);
	}
	if (!missing)
		nhi_conf_check(path, report, &f);
	if (f.json) {
		json_arr_end(&f.j);
		json_kbool(&f.j, "ok", f.n == 0);
		json_kbool(&f.j, "present", !missing);
		json_obj_end(&f.j);
		json_end(&f.j);
	} else if (f.n == 0) {
		printf("%s: %s\n", path, missing ? "not present: every key has its default" : "ok");
	} else {
		nerr(x, 0, "%s: %u problem%s, %u of them [modules]: %s", path, f.n,
		     f.n == 1 ? "" : "s", f.n_modules,
		     f.n_modules ? "pam_nhi refuses every service account until fixed"
				 : "pam_nhi and nss_nhi are not affected, nhictl refuses to run");
	}
	return f.n == 0 ? EXIT_OK : EXIT_FAIL;
}

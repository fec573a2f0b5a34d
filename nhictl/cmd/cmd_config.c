/* cmd_config.c - `nhictl config check [FILE]`: every problem of nhi.conf,
 * as `sssctl config-check` does for sssd.conf.  Runs without loading the
 * configuration first (nhictl.c: NO_CONF), since a broken one is the
 * point.  The reading is the modules' own (nhi_conf_check: the lenient
 * parser of pam_nhi and nss_nhi, reporting every problem, the owner/mode
 * check included) and nothing is changed. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "nhi_policy.h"
#include "cmd.h"
#include "nhi_file.h"

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
	"Then the people: an account in login.defs' human range (UID_MIN..UID_MAX)\n"
	"that uid_min..uid_max, service_uids, service_names or service_groups make\n"
	"a service account and the snapshot does not hold is a problem too:\n"
	"pam_nhi would refuse that person's logins.\n"
	"\n"
	"      --json   {file, ok, problems: [{line, message, modules}]}\n"
	"\n"
	"exit status: 0 no problem, 1 problems found, 2 usage.\n";

struct found {
	struct json j;
	int json;
	const char *path;
	unsigned n, n_modules, n_humans;
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

/* Which rule makes the account a service account, into why; 0 if none.
 * The classification pam_nhi makes (nhi_classify_rule, then
 * service_groups), named. */
static int service_rule(const struct nhi_conf *c, const struct passwd *pw, char *why, size_t len)
{
	struct nhi_rule_match m;
	const char *g;

	switch (nhi_classify_rule(c, pw->pw_name, pw->pw_uid, &m)) {
	case NHI_RULE_UID_RANGE:
		snprintf(why, len, "uid_min..uid_max (%u..%u)", c->uid_min, c->uid_max);
		return 1;
	case NHI_RULE_SYSTEM:
		snprintf(why, len, "service_uids = system (1..%u, 65534)", c->sys_uid_max);
		return 1;
	case NHI_RULE_SERVICE_UIDS:
		snprintf(why, len, "service_uids %u-%u", c->service_uids[m.index].lo,
			 c->service_uids[m.index].hi);
		return 1;
	case NHI_RULE_SERVICE_NAMES:
		snprintf(why, len, "service_names '%s'", m.pattern);
		return 1;
	case NHI_RULE_NONE:
		break;
	}
	if (pw->pw_uid != 0 && (g = nhi_service_group(c, pw->pw_name, pw->pw_gid)) != NULL) {
		snprintf(why, len, "service_groups '%s'", g);
		return 1;
	}
	return 0;
}

/* The people the file's classification would make service accounts:
 * every account NSS lists (getpwent) in login.defs' human range, unless
 * the snapshot holds it (registered on purpose). */
static void humans_check(const struct nhi_conf *c, const char *path, struct found *f)
{
	unsigned long lo, hi;
	struct nhi_snap *snap = NULL;
	struct passwd *pw;
	char why[160], msg[512];

	login_defs_humans(&lo, &hi);
	if (nhi_snap_open(c->cache_path, 0, &snap, NULL, 0) < 0)
		snap = NULL;
	setpwent();
	while ((pw = getpwent()) != NULL) {
		struct nhi_ident id;

		if (pw->pw_uid < lo || pw->pw_uid > hi || !service_rule(c, pw, why, sizeof(why)))
			continue;
		if (snap != NULL && nhi_snap_ident_by_name(snap, pw->pw_name, &id) == 0)
			continue;
		snprintf(msg, sizeof(msg), "%s: %s makes %s (uid %u, in the human range %lu..%lu "
			 "of /etc/login.defs) a service account that is not registered: pam_nhi "
			 "refuses its logins", path, why, pw->pw_name, (unsigned)pw->pw_uid, lo, hi);
		report(f, msg, 0);
		f->n_humans++;
	}
	endpwent();
	nhi_snap_close(snap);
}

/* state_dir where only root can change it, and every directory above
 * (nhi_dir_check): nhictl refuses to write anywhere else, and the modules
 * refuse a snapshot there ([modules]).  A part not made yet is made by
 * nhictl, root's. */
static void state_dir_check(const struct nhi_conf *c, const char *path, struct found *f)
{
	char err[2 * PATH_MAX + 256], name[PATH_MAX + 16], msg[3 * PATH_MAX + 512];

	snprintf(name, sizeof(name), "state_dir %s", c->state_dir);
	if (nhi_dir_check(c->state_dir, name, err, sizeof(err)) == 0)
		return;
	snprintf(msg, sizeof(msg), "%s: %s: nhictl refuses to write there and pam_nhi and "
		 "nss_nhi refuse its snapshot", path, err);
	report(f, msg, 1);
}

/* The checks of what the file's values name: the state directory, the
 * people.  A file that does not load was reported already. */
static void values_check(const char *path, struct found *f)
{
	static struct nhi_conf c;   /* large; nhictl only, one thread */

	nhi_conf_init(&c);
	if (nhi_conf_load_file(&c, path, 0, NULL, 0) < 0 || nhi_conf_finish(&c, NULL, 0) < 0)
		return;
	state_dir_check(&c, path, f);
	humans_check(&c, path, f);
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
	if (!missing && nhi_conf_check(path, report, &f) == 0)
		values_check(path, &f);
	if (f.json) {
		json_arr_end(&f.j);
		json_kbool(&f.j, "ok", f.n == 0);
		json_kbool(&f.j, "present", !missing);
		json_obj_end(&f.j);
		json_end(&f.j);
	} else if (f.n == 0) {
		printf("%s: %s\n", path, missing ? "not present: every key has its default" : "ok");
	} else if (f.n_humans > 0) {
		nerr(x, 0, "%s: %u %s the configuration makes service accounts: pam_nhi would "
		     "lock them out (register them, or narrow the rule)", path, f.n_humans,
		     f.n_humans == 1 ? "person" : "people");
	} else {
		nerr(x, 0, "%s: %u problem%s, %u of them [modules]: %s", path, f.n,
		     f.n == 1 ? "" : "s", f.n_modules,
		     f.n_modules ? "pam_nhi refuses every service account until fixed"
				 : "pam_nhi and nss_nhi are not affected, nhictl refuses to run");
	}
	return f.n == 0 ? EXIT_OK : EXIT_FAIL;
}

/* nhictl.c - the command table, global options and configuration.
 *
 *   nhictl [-c FILE] [--json] [--changed-exit N] VERB [OPTIONS] [ARGS]
 *
 * Each verb is a function cmd_<verb>() in cmd_<group>.c that parses its own
 * options with getopt_long, and returns the exit code (see nhictl.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmd.h"

#define NEED_DB 0x1    /* opens registry.db (created on a fresh host only) */
#define WRITES  0x2    /* changes the registry (in one write transaction) */
#define LOCAL   0x4    /* backend = local only: with ldap the directory decides */
#define NO_CONF 0x8    /* reads nhi.conf itself (a broken one is no reason to stop) */
#define RECOVERS 0x10  /* writes in its own transactions: resolves a killed run's intents first */

struct cmd {
	const char *name;
	int (*fn)(struct nhictl *, int, char **);
	unsigned flags;
	const char *summary;
};

static const struct cmd commands[] = {
	{ "create", cmd_create, NEED_DB | WRITES, "register a new service identity or agent" },
	{ "adopt", cmd_adopt, NEED_DB | WRITES, "register an existing local account" },
	{ "list", cmd_list, NEED_DB, "list identities" },
	{ "show", cmd_show, NEED_DB, "show one identity" },
	{ "extend", cmd_extend, NEED_DB | WRITES, "set a new expiry" },
	{ "label", cmd_label, NEED_DB | WRITES, "set or remove labels of an identity or resource" },
	{ "suspend", cmd_suspend, NEED_DB | WRITES, "suspend an identity" },
	{ "resume", cmd_resume, NEED_DB | WRITES, "resume a suspended identity" },
	{ "retire", cmd_retire, NEED_DB | WRITES, "retire an identity for good" },
	{ "release", cmd_release, NEED_DB | WRITES, "unregister an adopted account, keeping it" },
	{ "review", cmd_review, NEED_DB | WRITES, "record the owner's review" },
	{ "transfer", cmd_transfer, NEED_DB | WRITES, "give an identity a new owner" },
	{ "modify", cmd_modify, NEED_DB | WRITES, "change purpose, review interval, hosts, services" },
	{ "check", cmd_check, 0, "the account decision PAM would make" },
	{ "log", cmd_log, NEED_DB, "show or verify the audit log" },
	{ "group", cmd_group, NEED_DB | WRITES, "registry groups" },
	{ "publish", cmd_publish, NEED_DB, "compile and publish the snapshot again" },
	{ "audit", cmd_audit, NEED_DB | WRITES, "re-check owners, ingest usage, report findings" },
	{ "discover", cmd_discover, NEED_DB, "what the host has that nhi does not govern" },
	{ "directory", cmd_directory, 0, "check the LDAP directory configuration" },
	{ "sync", cmd_sync, 0, "bring the registry up to date with the directory" },
	{ "cred", cmd_cred, NEED_DB | RECOVERS, "issue, list, revoke and verify credentials" },
	{ "rotate", cmd_rotate, NEED_DB | WRITES, "replace a credential, the old one kept for a grace" },
	{ "authorized-keys", cmd_authorized_keys, 0, "SSH public keys for sshd's AuthorizedKeysCommand" },
	{ "config", cmd_config, NO_CONF, "check nhi.conf: every problem, as FILE:LINE" },
	{ "init", cmd_init, 0, "create the registry explicitly" },
	{ "backup", cmd_backup, NEED_DB, "an online, verified copy of the registry" },
	{ "resource", cmd_resource, NEED_DB | RECOVERS, "the systems identities reach: add, list, show, remove" },
	{ "grant", cmd_grant, NEED_DB | RECOVERS, "what an identity may do on a resource" },
	{ "delegate", cmd_delegate, NEED_DB | RECOVERS, "which identity may act through which" },
	{ "reach", cmd_reach, NEED_DB, "every resource an identity reaches, and through whom" },
	{ "who-can", cmd_who_can, NEED_DB, "every identity that reaches a resource, and through whom" },
	{ "chain", cmd_chain, NEED_DB, "an agent's chains: data source, agent, tool, system" },
	{ "graph", cmd_graph, NEED_DB, "the registry as a graph (JSON Graph Format, DOT)" },
	{ "apply", cmd_apply, NEED_DB | WRITES, "make the registry agree with a file (YAML, JSON)" },
	{ "report", cmd_report, NEED_DB, "the registry as one self-contained HTML page for an auditor" },
};

static void usage(FILE *f)
{
	size_t i;

	fputs("usage: nhictl [-c FILE] [--json] [--changed-exit N] VERB [OPTIONS] [ARGS]\n"
	      "\n"
	      "Non-human identity governance: the registry's only writer.\n"
	      "\n"
	      "global options:\n"
	      "  -c, --config FILE     configuration (default: $NHI_CONF or " NHI_CONF_DEFAULT ")\n"
	      "      --json            machine-readable output where a verb prints data\n"
	      "      --changed-exit N  exit N instead of 0 when the registry was changed\n"
	      "  -h, --help            this help; 'nhictl VERB --help' for a verb\n"
	      "      --version         the version\n"
	      "\nverbs:\n", f);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-15s %s\n", commands[i].name, commands[i].summary);
	fputs("\nexit status: 0 done (or nothing to change), 1 failed or refused,\n"
	      "2 usage error (unknown option, missing or malformed argument);\n"
	      "check: 0 allowed, 1 denied, 2 error or no usable snapshot;\n"
	      "config check: 0 no problem, 1 problems found, 2 usage.\n", f);
}

/* The audit session's login uid (/proc/self/loginuid: set at login by
 * pam_loginuid, kept across sudo and su, and not changeable by root
 * without CAP_AUDIT_CONTROL); (uid_t)-1 when unset or unknown. */
static uid_t login_uid(void)
{
	char buf[16];
	ssize_t n = -1;
	int fd = open("/proc/self/loginuid", O_RDONLY | O_CLOEXEC);
	unsigned long v;
	char *end;

	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n <= 0)
		return (uid_t)-1;
	buf[n] = '\0';
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\0' && *end != '\n') || v >= 4294967295UL)
		return (uid_t)-1;
	return (uid_t)v;
}

/* The actor of the audit log: the login user of the audit session (else
 * the real uid), by name ("uid N" without one).  SUDO_USER is any value
 * root sets, so it is only a note beside it when it names someone else:
 * "alice (SUDO_USER=bob)". */
static void set_actor(struct nhictl *x)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw;
	uid_t uid = login_uid();
	size_t n;

	if (uid == (uid_t)-1)
		uid = getuid();
	pw = getpwuid(uid);
	if (pw != NULL && nhi_valid_name(pw->pw_name))
		snprintf(x->actor, sizeof(x->actor), "%s", pw->pw_name);
	else
		snprintf(x->actor, sizeof(x->actor), "uid %u", (unsigned)uid);
	n = strlen(x->actor);
	if (sudo != NULL && *sudo != '\0' && strcmp(sudo, x->actor) != 0)
		snprintf(x->actor + n, sizeof(x->actor) - n, " (SUDO_USER=%s)",
			 nhi_valid_name(sudo) ? sudo : "?");
}

/* Standard output written out: EXIT_OK, or EXIT_FAIL said on stderr
 * (a full disk, a closed pipe). */
static int flushed(struct nhictl *x)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return EXIT_OK;
	return nerr(x, EXIT_FAIL, "error writing the output: %s", strerror(errno));
}

/* path: -c's or NHI_CONF's (from_env), else NULL for the default file */
static int load_config(struct nhictl *x, const char *path, int from_env)
{
	char err[PATH_MAX + 256];
	int r;

	nhi_conf_init(&x->conf);
	if (path != NULL)
		r = nhi_conf_load_file(&x->conf, path, 0, err, sizeof(err));
	else
		r = nhi_conf_load_file(&x->conf, nhi_conf_default_path(), NHI_CONF_MISSING_OK,
				       err, sizeof(err));
	if (r == 0)
		r = nhi_conf_finish(&x->conf, err, sizeof(err));
	if (r < 0)
		return nerr(x, EXIT_FAIL, "%s%s", err, from_env ? " (the file NHI_CONF names)" : "");
	x->store = store_select(x->conf.backend);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option gopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "changed-exit", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct nhictl ctx;
	struct nhictl *x = &ctx;
	const struct cmd *cmd = NULL;
	const char *conf_path = NULL, *env = NULL;
	char *end;
	size_t i;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:c:h", gopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf_path = optarg;
			break;
		case 'j':
			x->json = 1;
			break;
		case 'x':
			errno = 0;
			x->changed_exit = (int)strtol(optarg, &end, 10);
			if (errno || *end || !isdigit((unsigned char)optarg[0]) ||
			    x->changed_exit < 1 || x->changed_exit > 255)
				return nerr(NULL, EXIT_USAGE, "bad --changed-exit '%s' (1 to 255)", optarg);
			break;
		case 'h':
			usage(stdout);
			return flushed(NULL);
		case 'V':
			printf("nhictl %s\n", PACKAGE_VERSION);
			return flushed(NULL);
		case ':':
			nerr(NULL, 0, "option '%s' needs a value", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			if (optopt)
				nerr(NULL, 0, "unknown option '-%c' (try 'nhictl --help')", optopt);
			else
				nerr(NULL, 0, "unknown option '%s' (try 'nhictl --help')",
				     argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		if (optind + 1 >= argc) {
			usage(stdout);
			return EXIT_OK;
		}
		/* nhictl help VERB = nhictl VERB --help */
		argv[optind] = argv[optind + 1];
		argv[optind + 1] = (char *)"--help";
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, argv[optind]) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		return nerr(NULL, EXIT_USAGE, "unknown verb '%s' (try 'nhictl --help')", argv[optind]);
	}
	x->verb = cmd->name;
	argc -= optind;
	argv += optind;
	/* --help needs neither the config nor the registry */
	for (c = 1; c < argc && strcmp(argv[c], "--") != 0; c++)
		if (strcmp(argv[c], "--help") == 0 || strcmp(argv[c], "-h") == 0)
			goto run;
	/* NHI_CONF binds like -c: a job that names its file by a typo must
	 * not get the default registry instead (an empty value is unset) */
	if (conf_path == NULL && (env = secure_getenv("NHI_CONF")) != NULL && env[0] != '\0') {
		if (env[0] != '/')
			return nerr(x, EXIT_USAGE, "NHI_CONF '%s': not an absolute path", env);
		conf_path = env;
	}
	x->conf_path = conf_path;
	if (cmd->flags & NO_CONF)
		goto run;
	if (load_config(x, conf_path, env != NULL && conf_path == env) != 0)
		return EXIT_FAIL;
	if ((cmd->flags & LOCAL) && x->conf.backend != NHI_BACKEND_LOCAL)
		return nerr(x, EXIT_FAIL, "not available with backend = ldap (the directory "
			    "is the truth there)");
	x->now = time(NULL);
	set_actor(x);
	x->want_write = (cmd->flags & WRITES) != 0;
	if ((cmd->flags & NEED_DB) && reg_open(x) < 0)
		return EXIT_FAIL;
	/* a run killed between its commit and its publication left the
	 * snapshot behind the registry: the next writing verb (or the daily
	 * audit) publishes it first, even when it then has nothing to do */
	if ((cmd->flags & WRITES) && reg_publish_behind(x) < 0)
		nerr(x, 0, "warning: the snapshot is behind registry.db and could not be "
		     "published again now ('nhictl publish' retries)");
	/* backend = ldap: a run killed between a directory write and its
	 * commit left its intent; resolved before anything else is written
	 * (the verb's audit event recovered, exactly once: upkeep.c) */
	if ((cmd->flags & (WRITES | RECOVERS)) && intent_recover(x, &c) < 0)
		nerr(x, 0, "warning: the intents of interrupted runs could not be resolved now "
		     "(the next writing run retries)");
	/* a writing verb checks and changes under one write lock */
	if ((cmd->flags & WRITES) && reg_begin(x) < 0) {
		reg_close(x);
		return EXIT_FAIL;
	}
run:
	optind = 0;   /* GNU getopt: start over for the verb's own options */
	rc = cmd->fn(x, argc, argv);
	reg_rollback(x);   /* whatever a verb did not commit */
	reg_close(x);
	/* one error a run: a verb that failed has said why (its own write
	 * error included) */
	if (rc == EXIT_OK)
		rc = flushed(x);
	else
		(void)fflush(stdout);
	if (rc == EXIT_OK && x->changed && x->changed_exit)
		rc = x->changed_exit;
	return rc;
}

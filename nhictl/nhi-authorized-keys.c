/* nhi-authorized-keys - sshd's AuthorizedKeysCommand: the SSH keys of a
 * user, as `nhictl authorized-keys USER` prints them, from a program that
 * links only libc.
 *
 *   nhi-authorized-keys [-c FILE] [--] USER
 *
 * sshd runs the command at every public-key login.  nhictl links SQLite,
 * OpenSSL and libldap (with GnuTLS, SASL and their dependencies): loading
 * and relocating them costs about 4 ms and 9 M instructions per run
 * before any work, where this program needs the snapshot and the key
 * index only (lib/nhi_keys.c, shared with nhictl).  Exit 0 (also when it
 * prints nothing), 1 when the configuration, snapshot or key index is
 * unusable (one line on stderr), 2 on bad usage.
 *
 * When it serves no key for a user nhi governs it says why to syslog
 * (LOG_AUTHPRIV), one line without secrets, so an ssh denial leaves a
 * reason in the log:
 *   nhi-authorized-keys: withheld; user=NAME reason=REASON
 * REASON is pam_nhi's (suspended, expired, retired, unregistered,
 * host-out-of-scope, ...), snapshot-unavailable when the snapshot or key
 * index cannot be used, or no-active-key for an allowed identity without
 * a key to serve.  Humans and root are not nhi's business: not logged. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include "nhi_conf.h"
#include "nhi_keys.h"
#include "nhi_time.h"

static int print_key(void *ctx, const struct nhi_key *k)
{
	++*(int *)ctx;
	fwrite(k->line, 1, k->len, stdout);
	putchar('\n');
	return 0;
}

/* The syslog line; the name as sshd passed it, made one printable word. */
static void withheld(const char *user, const char *reason)
{
	char name[65];
	size_t i;

	for (i = 0; user[i] != '\0' && i < sizeof(name) - 1; i++)
		name[i] = (unsigned char)user[i] > 0x20 && (unsigned char)user[i] < 0x7f
			  ? user[i] : '?';
	name[i] = '\0';
	openlog("nhi-authorized-keys", LOG_NDELAY, LOG_AUTHPRIV);
	syslog(LOG_NOTICE, "withheld; user=%s%s reason=%s", name, user[i] ? "..." : "", reason);
	closelog();
}

static int usage(FILE *f)
{
	fputs("usage: nhi-authorized-keys [-c FILE] [--] USER\n"
	      "\n"
	      "For sshd's AuthorizedKeysCommand: print the SSH public keys of USER that\n"
	      "may log in now, exactly as 'nhictl authorized-keys USER' does, without\n"
	      "loading nhictl's libraries.  See nhi-authorized-keys(8).\n"
	      "\n"
	      "  -c, --config FILE   configuration (default: $NHI_CONF or " NHI_CONF_DEFAULT ")\n"
	      "  -h, --help          this help\n", f);
	return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	struct nhi_conf conf;
	struct nhi_decision d;
	const char *path = NULL, *user = NULL;
	char err[PATH_MAX + 256];
	int i, r, served = 0, keys = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0 && i + 1 < argc) {
			/* the end of the options: a name that starts with '-' */
			if (user != NULL || i + 2 < argc) {
				fprintf(stderr, "nhi-authorized-keys: one user name\n");
				return 2;
			}
			user = argv[++i];
			break;
		}
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return usage(stdout);
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			if (++i >= argc) {
				fprintf(stderr, "nhi-authorized-keys: %s needs a file\n", argv[i - 1]);
				return 2;
			}
			path = argv[i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			path = argv[i] + 9;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "nhi-authorized-keys: unknown option '%s'\n", argv[i]);
			return usage(stderr);
		} else if (user == NULL) {
			user = argv[i];
		} else {
			fprintf(stderr, "nhi-authorized-keys: unexpected argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (user == NULL) {
		fputs("nhi-authorized-keys: missing user name (try --help)\n", stderr);
		return 2;
	}
	nhi_conf_init(&conf);
	r = path != NULL ? nhi_conf_load_file(&conf, path, 0, err, sizeof(err))
			 : nhi_conf_load_file(&conf, nhi_conf_default_path(), NHI_CONF_MISSING_OK,
					      err, sizeof(err));
	if (r == 0)
		r = nhi_conf_finish(&conf, err, sizeof(err));
	if (r == 0) {
		keys = 1;
		r = nhi_keys_for(&conf, user, time(NULL), print_key, &served, &d, err, sizeof(err));
	}
	if (r == 0 && d.registered && d.verdict != NHI_V_ALLOW)
		fprintf(stderr, "nhi-authorized-keys: %s: %s (%s): no keys\n", user,
			nhi_verdict_str(d.verdict), nhi_reason_str(d.reason));
	/* the configuration, snapshot or key index unusable withholds every
	 * identity's keys (the details are on stderr) */
	if (r < 0 && nhi_valid_name(user) && strcmp(user, "root") != 0)
		withheld(user, keys ? nhi_reason_str(NHI_R_NO_SNAPSHOT) : "configuration-unusable");
	else if (r == 0 && d.verdict != NHI_V_ALLOW && d.verdict != NHI_V_IGNORE)
		withheld(user, nhi_reason_str(d.reason));
	else if (r == 0 && d.verdict == NHI_V_ALLOW && d.registered && served == 0)
		withheld(user, "no-active-key");
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fputs("nhi-authorized-keys: write error on standard output\n", stderr);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "nhi-authorized-keys: %s\n", err);
		return 1;
	}
	return 0;
}

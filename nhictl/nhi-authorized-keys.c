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
 * unusable (one line on stderr), 2 on bad usage. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "nhi_conf.h"
#include "nhi_keys.h"

static int print_key(void *ctx, const struct nhi_key *k)
{
	(void)ctx;
	fwrite(k->line, 1, k->len, stdout);
	putchar('\n');
	return 0;
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
	int i, r;

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
	if (r == 0)
		r = nhi_keys_for(&conf, user, time(NULL), print_key, NULL, &d, err, sizeof(err));
	if (r == 0 && d.registered && d.verdict != NHI_V_ALLOW)
		fprintf(stderr, "nhi-authorized-keys: %s: %s (%s): no keys\n", user,
			nhi_verdict_str(d.verdict), nhi_reason_str(d.reason));
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

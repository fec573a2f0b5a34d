/* fuzz-conf.c - the configuration parser (lib/nhi_conf.c): the input is an
 * nhi.conf.  It is loaded strictly (nhictl's way) and leniently (the
 * modules' way), checked as `nhictl config check` does, and each of its
 * lines is applied as a module argument, alone (nhi_conf_set_arg) and as
 * PAM's argv (nhi_conf_load_args).  Properties: the lenient load, finish
 * and the module path never fail (a broken configuration must not lock a
 * human out); a file `config check` finds clean loads strictly; a strict
 * failure has a message. */
#include <limits.h>
#include "fuzz.h"
#include "nhi_conf.h"

#define MAX_ARGS 64

static char path[512], argpath[600];
static struct nhi_conf *conf;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_path(path, sizeof(path), "nhi.conf");
	snprintf(argpath, sizeof(argpath), "config=%s", path);
	conf = malloc(sizeof(*conf));
	if (conf == NULL)
		abort();
	return 0;
}

static void count(void *arg, const char *msg, int breaks)
{
	FUZZ_ASSERT(msg != NULL && msg[0] != '\0');
	(*(unsigned *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024], *text, *line, *next;
	const char *argv[MAX_ARGS];
	unsigned problems = 0, n;
	int strict, argc = 0, r;

	if (size > 65536)
		return 0;
	fuzz_replace(path, data, size, 0);

	/* strictly, as nhictl reads it */
	nhi_conf_init(conf);
	err[0] = '\0';
	strict = nhi_conf_load_file(conf, path, 0, err, sizeof(err));
	if (strict == 0)
		strict = nhi_conf_finish(conf, err, sizeof(err));
	if (strict < 0)
		FUZZ_ASSERT(err[0] != '\0');

	/* leniently, as pam_nhi and nss_nhi read it */
	nhi_conf_init(conf);
	r = nhi_conf_load_file(conf, path, NHI_CONF_LENIENT, err, sizeof(err));
	FUZZ_ASSERT(r == 0);
	r = nhi_conf_finish(conf, err, sizeof(err));
	FUZZ_ASSERT(r == 0);
	FUZZ_ASSERT(conf->cache_path[0] != '\0');
	if (conf->broken || conf->n_problems > 0)
		FUZZ_ASSERT(conf->problem[0] != '\0');

	/* `nhictl config check`: clean means nhictl loads it */
	n = nhi_conf_check(path, count, &problems);
	FUZZ_ASSERT(n == problems);
	if (n == 0)
		FUZZ_ASSERT(strict == 0);

	/* each line as a module argument ("config=" always names this file) */
	text = malloc(size + 1);
	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	nhi_conf_init(conf);
	for (line = text; line != NULL && argc < MAX_ARGS; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (strncmp(line, "config=", 7) == 0)
			line = argpath;
		else
			(void)nhi_conf_set_arg(conf, line, err, sizeof(err));
		argv[argc++] = line;
	}
	nhi_conf_init(conf);
	r = nhi_conf_load_args(conf, argc, argv, err, sizeof(err));
	FUZZ_ASSERT(r == 0);
	free(text);
	return 0;
}

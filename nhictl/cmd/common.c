/* common.c - what several verbs share (cmd.h): the exit code from an
 * internal result, option and argument errors, loading an identity with
 * the verb's message, printing one, expiry bounds, the orphan limit. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "nhi_policy.h"
#include "cmd.h"

int exit_code(int r)
{
	return r < 0 ? EXIT_FAIL : r;
}

int opt_error(struct nhictl *x, int c, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";

	if (c == ':')
		nerr(x, 0, "option '%s' needs a value", arg);
	else if (optopt != 0)
		nerr(x, 0, "unknown option '-%c' (try 'nhictl %s --help')", optopt, x->verb);
	else
		nerr(x, 0, "unknown option '%s' (try 'nhictl %s --help')", arg, x->verb);
	return EXIT_USAGE;
}

int one_name(struct nhictl *x, int argc, char **argv, const char **name, const char *what)
{
	if (optind >= argc)
		return nerr(x, EXIT_USAGE, "missing %s (try 'nhictl %s --help')", what, x->verb);
	if (optind + 1 < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind + 1]);
	*name = argv[optind];
	if (!nhi_valid_name(*name))
		return nerr(x, EXIT_USAGE, "invalid %s '%s' (lower case letters, digits, '_', "
			    "'.', '-'; starting with a letter or '_'; at most 32)", what, *name);
	return 0;
}

int ident_get(struct nhictl *x, const char *name, struct ident *id)
{
	int r = ident_load(x, name, id);

	if (r == NHI_ERR_NOTFOUND)
		return nerr(x, EXIT_FAIL, "no identity '%s' in the registry", name);
	return r < 0 ? EXIT_FAIL : 0;
}

void ident_json(struct nhictl *x, const struct ident *id)
{
	struct json j;

	json_init(&j, stdout);
	json_obj(&j);
	ident_json_fields(x, id, &j);
	json_obj_end(&j);
	json_end(&j);
}

void ident_json_fields(struct nhictl *x, const struct ident *id, struct json *j)
{
	json_kstr(j, "name", id->name);
	json_kstr(j, "kind", id->kind);
	json_kint(j, "uid", id->uid);
	json_kint(j, "gid", id->gid);
	json_kstr(j, "owner", id->owner);
	json_kstr(j, "purpose", id->purpose);
	json_kstr(j, "gecos", id->gecos);
	json_kstr(j, "home", id->home);
	json_kstr(j, "shell", id->shell);
	json_ktime(j, "created", id->created);
	json_ktime(j, "expires", id->expires);
	json_kbool(j, "expired", id->expires != 0 && x->now >= id->expires);
	json_kint(j, "review_interval", id->review_interval);
	json_ktime(j, "last_review", id->last_review);
	json_ktime(j, "review_due", id->review_due);
	json_kbool(j, "review_overdue", id->review_due != 0 && x->now >= id->review_due &&
		   strcmp(id->state, "retired") != 0);
	json_kstr(j, "state", id->state);
	json_klist(j, "hosts", id->hosts);
	json_klist(j, "services", id->services);
	json_klabels(j, "labels", id->labels);
	json_kbool(j, "applied", id->applied);
	json_ktime(j, "last_used", id->last_used);
	json_ktime(j, "orphaned_since", id->orphaned_since);
	json_ktime(j, "retired_at", id->retired_at);
	json_key(j, "retire_reason");
	json_str(j, id->retired_at ? id->retire_reason : NULL);
}

static const char *tm_or(int64_t t, char *buf, const char *none)
{
	return t ? nhi_format_time((time_t)t, buf) : none;
}

void ident_text(struct nhictl *x, const struct ident *id)
{
	char b[NHI_TIME_BUFSZ], d[32];
	const char *st = id->state;

	printf("name:            %s\n", id->name);
	printf("kind:            %s\n", id->kind);
	if (strcmp(st, "retired") != 0 && id->expires != 0 && x->now >= id->expires)
		printf("state:           %s (expired)\n", st);
	else
		printf("state:           %s\n", st);
	printf("uid/gid:         %u/%u\n", id->uid, id->gid);
	printf("owner:           %s\n", id->owner);
	printf("purpose:         %s\n", id->purpose);
	printf("home:            %s\n", id->home);
	printf("shell:           %s\n", id->shell);
	printf("created:         %s\n", tm_or(id->created, b, "-"));
	printf("expires:         %s\n", tm_or(id->expires, b, "-"));
	printf("review every:    %s\n", nhi_format_duration(id->review_interval, d, sizeof(d)));
	printf("last review:     %s\n", tm_or(id->last_review, b, "never"));
	printf("review due:      %s\n", tm_or(id->review_due, b, "-"));
	printf("hosts:           %s\n", id->hosts[0] ? id->hosts : "any");
	printf("services:        %s\n", id->services[0] ? id->services : "any");
	printf("labels:          %s\n", id->labels[0] ? id->labels : "-");
	printf("last used:       %s\n", tm_or(id->last_used, b, "never"));
	if (id->orphaned_since)
		printf("orphaned since:  %s\n", tm_or(id->orphaned_since, b, "-"));
	if (id->retired_at)
		printf("retired:         %s (%s)\n", tm_or(id->retired_at, b, "-"),
		       id->retire_reason[0] ? id->retire_reason : "no reason given");
}

int expiry_why(struct nhictl *x, time_t t, int64_t max, const char *maxkey, char *why,
	       size_t len)
{
	char b1[NHI_TIME_BUFSZ], d[32];

	if (t <= x->now) {
		snprintf(why, len, "expiry %s is not in the future", nhi_format_time(t, b1));
		return -1;
	}
	if ((int64_t)t - (int64_t)x->now > max) {
		snprintf(why, len, "expiry %s is beyond %s (%s from now)", nhi_format_time(t, b1),
			 maxkey, nhi_format_duration(max, d, sizeof(d)));
		return -1;
	}
	return 0;
}

int parse_expiry(struct nhictl *x, const char *s, time_t *out)
{
	char err[256];

	if (nhi_parse_time(s, x->now, out, err, sizeof(err)) < 0)
		return nerr(x, EXIT_USAGE, "bad --expires '%s': %s", s, err);
	if (expiry_why(x, *out, x->conf.max_lifetime, "max_lifetime", err, sizeof(err)) < 0)
		return nerr(x, EXIT_FAIL, "%s", err);
	return 0;
}

int orphan_limit(struct nhictl *x, long n, int force)
{
	const struct nhi_conf *c = &x->conf;
	int64_t total = 0;
	char limit[32];

	if (n <= 0 || force || c->orphan_max == 0)
		return 0;
	if (c->orphan_max_percent) {
		if (reg_int(x, &total, 0, "SELECT count(*) FROM identity WHERE state != 'retired'",
			    "") < 0)
			return NHI_ERR_DB;
		if ((int64_t)n * 100 <= (int64_t)c->orphan_max * total)
			return 0;
		snprintf(limit, sizeof(limit), "%u%% of %lld", (unsigned)c->orphan_max,
			 (long long)total);
	} else {
		if (n <= (long)c->orphan_max)
			return 0;
		snprintf(limit, sizeof(limit), "%u", (unsigned)c->orphan_max);
	}
	return nerr(x, NHI_ERR_PERM, "stopped: the owner re-check would orphan %ld identities "
		    "at once, more than orphan_max (%s); nothing was changed.  If their owners "
		    "really are gone, run it again with --force, or raise orphan_max in %s "
		    "(a broken ldap_owner_filter or people base looks like this)", n, limit,
		    c->path[0] ? c->path : "nhi.conf");
}

/* "a, b, c": the names of a sub-command table. */
static void subcmd_names(const struct subcmd *tab, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (; tab->name != NULL && off < len; tab++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", tab->name);
}

int subcmd_run(struct nhictl *x, const struct subcmd *tab, int argc, char **argv, void *opt,
	       unsigned given, const char *only_msg)
{
	const struct subcmd *t;
	char names[256];
	const char *sub;
	int n;

	subcmd_names(tab, names, sizeof(names));
	if (optind >= argc)
		return nerr(x, EXIT_USAGE, "missing sub-command (%s)", names);
	sub = argv[optind++];
	for (t = tab; t->name != NULL && strcmp(t->name, sub) != 0; t++)
		;
	if (t->name == NULL)
		return nerr(x, EXIT_USAGE, "unknown sub-command '%s' (%s)", sub, names);
	n = argc - optind;
	if (n < t->min)
		return nerr(x, EXIT_USAGE, "%s: missing %s", sub, t->missing);
	if (t->max >= 0 && n > t->max)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind + t->max]);
	if (given & ~t->only)
		return nerr(x, EXIT_USAGE, "%s", only_msg);
	return t->fn(x, n, argv + optind, opt);
}

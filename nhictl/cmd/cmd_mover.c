/* cmd_mover.c - movers: extend (a new expiry), review (a human confirms
 * the identity is still needed), transfer (a new owner), modify (purpose,
 * review interval, host and service scope).  See lifecycle.h. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include "nhi_policy.h"
#include "cmd.h"
#include "lifecycle.h"

int cmd_extend(struct nhictl *x, int argc, char **argv)
{
	struct one o = { .help = "usage: nhictl extend NAME --expires WHEN [--json]\n\n"
			 "Set a new expiry (at most max_lifetime from now; may also shorten,\n"
			 "and then says so: '(shortened from ...)', JSON \"shortened\": true).\n" };
	char b1[NHI_TIME_BUFSZ], b2[NHI_TIME_BUFSZ], msg[128], det[128];
	struct store_change c = { 0 };
	struct ident id;
	time_t exp;
	int r;

	if ((r = parse_one(x, argc, argv, &o, 'e')) != 0)
		return r < 0 ? EXIT_OK : r;
	if (o.expires == NULL)
		return nerr(x, EXIT_USAGE, "--expires WHEN is required");
	if ((r = parse_expiry(x, o.expires, &exp)) != 0)
		return r;
	if ((r = fetch(x, o.name, &id)) != 0 || (r = not_retired(x, &id)) != 0)
		return r;
	lc_report.extend_from = id.expires;
	if (id.expires == (int64_t)exp)
		return unchanged(x, &id, "already expires then");
	c.expires = exp;
	/* "extend" may shorten: say so, it can cut a job's life short */
	nhi_format_time((time_t)id.expires, b1);
	nhi_format_time(exp, b2);
	snprintf(msg, sizeof(msg), "expires %s%s%s%s", b2,
		 (int64_t)exp < id.expires ? " (shortened from " : "",
		 (int64_t)exp < id.expires ? b1 : "", (int64_t)exp < id.expires ? ")" : "");
	/* the store caps every credential's not-after at the new expiry */
	snprintf(det, sizeof(det), "expires %s -> %s", b1, b2);
	return apply(x, &id, &c, "extend", det, msg);
}

int cmd_review(struct nhictl *x, int argc, char **argv)
{
	struct one o = { .help = "usage: nhictl review NAME [--json]\n"
			 "       nhictl review --due [--owner USER] [--json]\n\n"
			 "Record that the owner reviewed the identity: the next review is due\n"
			 "one review interval from now.  --due lists what each owner must\n"
			 "review (see 'nhictl review --due --help').\n" };
	char b1[NHI_TIME_BUFSZ], msg[128], det[256];
	struct store_change c = { 0 };
	struct ident id;
	int64_t due;
	int r;

	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--due") == 0)
			return cmd_review_due(x, argc, argv);
	if ((r = parse_one(x, argc, argv, &o, 0)) != 0)
		return r < 0 ? EXIT_OK : r;
	if ((r = fetch(x, o.name, &id)) != 0 || (r = not_retired(x, &id)) != 0)
		return r;
	if (id.orphaned_since != 0)
		return nerr(x, EXIT_FAIL, "identity '%s' has no live owner to review it: "
			    "'nhictl transfer %s --to USER' first", id.name, id.name);
	due = (int64_t)x->now + (id.review_interval > 0 ? id.review_interval
						       : x->conf.review_interval);
	c.last_review = x->now;
	c.review_due = due;
	snprintf(det, sizeof(det), "owner %s; next review due %s", id.owner,
		 nhi_format_time((time_t)due, b1));
	snprintf(msg, sizeof(msg), "reviewed; next review due %s", b1);
	return apply(x, &id, &c, "review", det, msg);
}

int cmd_transfer(struct nhictl *x, int argc, char **argv)
{
	struct one o = { .help = "usage: nhictl transfer NAME --to USER [--json]\n\n"
			 "Give the identity a new owner, a live human.  An orphaned identity\n"
			 "becomes active again (transferring it to its old owner, alive\n"
			 "again, is allowed).\n" };
	struct store_change c = { 0 };
	struct ident id;
	const char *state;
	char msg[128], det[256], to[64], to_dn[1024];
	int r;

	if ((r = parse_one(x, argc, argv, &o, 't')) != 0)
		return r < 0 ? EXIT_OK : r;
	if (o.to == NULL)
		return nerr(x, EXIT_USAGE, "--to USER is required");
	/* with ldap also a DN (dir_owner_resolve checks it) */
	if (!nhi_valid_name(o.to) && !(x->store->owner_dn_ok && strchr(o.to, '=') != NULL))
		return nerr(x, EXIT_USAGE, "invalid user name '%s'", o.to);
	if ((r = not_self(x, o.name, o.to)) != 0)
		return r;
	if ((r = fetch(x, o.name, &id)) != 0 || (r = not_retired(x, &id)) != 0)
		return r;
	if ((r = check_owner(x, o.to, to, sizeof(to), to_dn, sizeof(to_dn))) != 0 ||
	    (r = not_self(x, o.name, to)) != 0)
		return r;
	if (strcmp(id.owner, to) == 0 && id.orphaned_since == 0)
		return unchanged(x, &id, "already owned by that user");
	state = strcmp(id.state, "orphaned") == 0 ? "active" : id.state;
	c.owner = to;
	c.owner_dn = to_dn;
	c.clear_orphaned = 1;
	if (strcmp(state, id.state) != 0) {
		c.state_from = id.state;
		c.state_to = state;
	}
	snprintf(det, sizeof(det), "owner %s -> %s%s", id.owner, to,
		 id.orphaned_since ? " (was orphaned)" : "");
	snprintf(msg, sizeof(msg), "owner is now %s", to);
	return apply(x, &id, &c, "transfer", det, msg);
}


static const char modify_help[] =
	"usage: nhictl modify NAME [--purpose TEXT] [--review-every DUR] [--host H]...\n"
	"                          [--service SVC]... [--any-host] [--any-service] [--json]\n"
	"\n"
	"Change what an identity is for and where it may be used; what is not given\n"
	"stays.  Values are checked as create checks them.  A retired identity\n"
	"cannot be modified.  Prints each change ('purpose: \"a\" -> \"b\"'), or says\n"
	"unchanged (exit 0; with 'nhictl --changed-exit N modify ...' N when something\n"
	"changed).  The snapshot is published at once: PAM and NSS see a new scope\n"
	"with the next login.\n"
	"\n"
	"  -p, --purpose TEXT        what it is for ('' none)\n"
	"  -r, --review-every DUR    a new review interval (also --review-interval); the\n"
	"                            next review is due one interval after the last\n"
	"                            review (or the creation when there was none)\n"
	"  -H, --host H              the hosts it may be used on, replaced whole by the\n"
	"                            --host options given (repeatable; globs)\n"
	"  -S, --service SVC         the PAM services, replaced whole likewise\n"
	"      --any-host            no host restriction any more\n"
	"      --any-service         no PAM service restriction any more\n"
	"      --json                the identity as JSON, with \"changed\" and \"changes\"\n";

struct modify_spec {
	const char *name, *purpose, *review_every;
	const char *hosts[MAX_SCOPE], *services[MAX_SCOPE];
	int n_hosts, n_services, any_host, any_service;
};

static int modify_parse(struct nhictl *x, int argc, char **argv, struct modify_spec *s)
{
	static const struct option opts[] = {
		{ "purpose", required_argument, NULL, 'p' },
		{ "review-every", required_argument, NULL, 'r' },
		{ "review-interval", required_argument, NULL, 'r' },
		{ "host", required_argument, NULL, 'H' },
		{ "service", required_argument, NULL, 'S' },
		{ "any-host", no_argument, NULL, 'A' },
		{ "any-service", no_argument, NULL, 'V' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r;

	memset(s, 0, sizeof(*s));
	while ((c = getopt_long(argc, argv, ":p:r:H:S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': s->purpose = optarg; break;
		case 'r': s->review_every = optarg; break;
		case 'H': case 'S':
			r = c == 'H' ? scope_add(x, s->hosts, &s->n_hosts, optarg, 1)
				     : scope_add(x, s->services, &s->n_services, optarg, 0);
			if (r != 0)
				return r;
			break;
		case 'A': s->any_host = 1; break;
		case 'V': s->any_service = 1; break;
		case 'j': x->json = 1; break;
		case 'h':
			fputs(modify_help, stdout);
			return -1;
		default:
			return opt_error(x, c, argv);
		}
	}
	if (s->any_host && s->n_hosts > 0)
		return nerr(x, EXIT_USAGE, "--any-host and --host exclude each other");
	if (s->any_service && s->n_services > 0)
		return nerr(x, EXIT_USAGE, "--any-service and --service exclude each other");
	return one_name(x, argc, argv, &s->name, "identity name");
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The list as the registry shows it: sorted, without duplicates, "a,b"
 * ("" any); the array is sorted and deduplicated in place (*n). */
static void scope_csv(const char **v, int *n, char *out, size_t len)
{
	size_t u = 0;
	int i, k = 0;

	qsort(v, (size_t)*n, sizeof(*v), cmp_cstr);
	out[0] = '\0';
	for (i = 0; i < *n; i++) {
		if (k > 0 && strcmp(v[k - 1], v[i]) == 0)
			continue;
		v[k++] = v[i];
		if (u < len)
			u += (size_t)snprintf(out + u, len - u, "%s%s", u ? "," : "", v[i]);
	}
	*n = k;
}

/* One field's change: a text line, the audit detail, the JSON. */
#define MODIFY_FIELDS 5   /* purpose, gecos, review_interval, hosts, services */
struct modify_diff {
	char text[2048], audit[2048];
	const char *field[MODIFY_FIELDS], *from[MODIFY_FIELDS], *to[MODIFY_FIELDS];
	char buf[MODIFY_FIELDS][2][1024];
	int n;
};

static void diff_add(struct modify_diff *d, const char *field, const char *from,
		     const char *to, int quote)
{
	size_t t = strlen(d->text), a = strlen(d->audit);
	const char *q = quote ? "\"" : "";

	snprintf(d->text + t, sizeof(d->text) - t, "%s: %s%s%s -> %s%s%s\n", field, q, from, q,
		 q, to, q);
	snprintf(d->audit + a, sizeof(d->audit) - a, "%s%s %s%s%s -> %s%s%s", a ? "; " : "",
		 field, q, from, q, q, to, q);
	snprintf(d->buf[d->n][0], sizeof(d->buf[d->n][0]), "%s", from);
	snprintf(d->buf[d->n][1], sizeof(d->buf[d->n][1]), "%s", to);
	d->field[d->n] = field;
	d->from[d->n] = d->buf[d->n][0];
	d->to[d->n] = d->buf[d->n][1];
	d->n++;
}

static int modify_answer(struct nhictl *x, const char *name, const struct modify_diff *d)
{
	struct ident id;
	struct json j;

	if (!x->json) {
		if (d->n == 0)
			printf("%s: unchanged\n", name);
		else
			printf("%s: modified\n%s", name, d->text);
		return EXIT_OK;
	}
	if (ident_load(x, name, &id) < 0)
		return EXIT_FAIL;
	json_init(&j, stdout);
	json_obj(&j);
	ident_json_fields(x, &id, &j);
	json_kbool(&j, "changed", d->n > 0);
	json_key(&j, "changes");
	json_obj(&j);
	for (int i = 0; i < d->n; i++) {
		json_key(&j, d->field[i]);
		json_obj(&j);
		json_kstr(&j, "from", d->from[i]);
		json_kstr(&j, "to", d->to[i]);
		json_obj_end(&j);
	}
	json_obj_end(&j);
	json_obj_end(&j);
	json_end(&j);
	return EXIT_OK;
}

int cmd_modify(struct nhictl *x, int argc, char **argv)
{
	struct modify_spec s;
	struct store_change c = { 0 };
	struct modify_diff d;
	struct ident id;
	char hosts[sizeof(((struct ident *)0)->hosts)], services[sizeof(hosts)], b1[32], b2[32];
	int64_t interval = 0;
	int r;

	if ((r = modify_parse(x, argc, argv, &s)) != 0)
		return r < 0 ? EXIT_OK : r;
	if ((r = purpose_check(x, s.purpose)) != 0 ||
	    (s.review_every != NULL && (r = review_every_parse(x, s.review_every, &interval)) != 0))
		return r;
	if ((r = fetch(x, s.name, &id)) != 0 || (r = not_retired(x, &id)) != 0)
		return r;
	memset(&d, 0, sizeof(d));
	if (s.purpose != NULL && strcmp(s.purpose, id.purpose) != 0) {
		c.purpose = s.purpose;
		diff_add(&d, "purpose", id.purpose, s.purpose, 1);
		if ((c.gecos = gecos_follow(&id, s.purpose)) != NULL)
			diff_add(&d, "gecos", id.gecos, c.gecos, 1);
	}
	if (interval != 0 && interval != id.review_interval) {
		c.interval = interval;
		diff_add(&d, "review_interval", nhi_format_duration(id.review_interval, b1, sizeof(b1)),
			 nhi_format_duration(interval, b2, sizeof(b2)), 0);
	}
	scope_csv(s.hosts, &s.n_hosts, hosts, sizeof(hosts));
	if ((s.any_host || s.n_hosts > 0) && strcmp(hosts, id.hosts) != 0) {
		c.set_hosts = 1;
		c.hosts = s.hosts;
		c.n_hosts = s.n_hosts;
		diff_add(&d, "hosts", id.hosts[0] ? id.hosts : "any", hosts[0] ? hosts : "any", 0);
	}
	scope_csv(s.services, &s.n_services, services, sizeof(services));
	if ((s.any_service || s.n_services > 0) && strcmp(services, id.services) != 0) {
		c.set_services = 1;
		c.services = s.services;
		c.n_services = s.n_services;
		diff_add(&d, "services", id.services[0] ? id.services : "any",
			 services[0] ? services : "any", 0);
	}
	if (d.n == 0)
		return modify_answer(x, id.name, &d);
	if (x->store->update(x, &id, &c) < 0)
		return EXIT_FAIL;
	if (reg_event(x, "modify", id.name, "ok", "%s%s", d.audit, x->store->audit_tag) < 0)
		return not_stored(x);
	if (reg_commit(x) < 0)
		return EXIT_FAIL;
	return modify_answer(x, id.name, &d);
}

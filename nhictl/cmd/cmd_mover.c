/* cmd_mover.c - movers: extend (a new expiry), review (a human confirms
 * the identity is still needed), transfer (a new owner).  See lifecycle.h. */
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


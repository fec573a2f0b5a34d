/* dirmap-probe.c - drives nhictl/ldap/dirmap.c against a real directory for
 * tests/test-dirmap.sh (the directory side of dirmap.h, without the verbs).
 *
 *   dirmap-probe CONF dn NAME        print the DN of identity NAME
 *   dirmap-probe CONF owner OWNER    "rc=N dn=DN name=NAME why=WHY"
 *   dirmap-probe CONF read NAME      "rc=N" and the fields, or why
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "util.h"
#include "dirmap.h"

/* nhictl.c's message function (dir_open reports through it) */
int main(int argc, char **argv)
{
	static struct nhictl ctx;
	struct nhictl *x = &ctx;
	char err[1024], dn[1024], name[64], why[1024], uuid[64];
	struct ident id;
	struct dir d = { .ld = NULL };
	int r;

	if (argc != 4) {
		fputs("usage: dirmap-probe CONF dn|owner|read ARG\n", stderr);
		return 2;
	}
	x->verb = "probe";
	x->now = time(NULL);
	nhi_conf_init(&x->conf);
	if (nhi_conf_load_file(&x->conf, argv[1], 0, err, sizeof(err)) < 0 ||
	    nhi_conf_finish(&x->conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (strcmp(argv[2], "dn") == 0) {
		r = dir_ident_dn(&x->conf, argv[3], dn, sizeof(dn));
		printf("rc=%d dn=%s\n", r, dn);
		return 0;
	}
	if (dir_open(x, &d) != 0)
		return 1;
	if (strcmp(argv[2], "owner") == 0) {
		why[0] = '\0';
		r = dir_owner_resolve(&d, argv[3], dn, sizeof(dn), name, sizeof(name), why, sizeof(why));
		printf("rc=%d dn=%s name=%s why=%s\n", r, dn, name, why);
	} else {
		r = dir_ident_read(&d, argv[3], &id, dn, sizeof(dn), uuid, sizeof(uuid), why, sizeof(why));
		printf("rc=%d\n", r);
		if (r == 0)
			printf("name=%s kind=%s state=%s uid=%u gid=%u home=%s shell=%s gecos=%s\n"
			       "owner=%s owner_dn=%s purpose=%s reason=%s hosts=%s services=%s\n"
			       "expires=%lld created=%lld interval=%lld last_review=%lld due=%lld\n"
			       "orphaned=%lld retired=%lld last_used=%lld uuid=%s\n",
			       id.name, id.kind, id.state, id.uid, id.gid, id.home, id.shell, id.gecos,
			       id.owner, dn, id.purpose, id.retire_reason, id.hosts, id.services,
			       (long long)id.expires, (long long)id.created, (long long)id.review_interval,
			       (long long)id.last_review, (long long)id.review_due,
			       (long long)id.orphaned_since, (long long)id.retired_at,
			       (long long)id.last_used, uuid);
		else
			printf("why=%s\n", why);
	}
	dir_close(&d);
	return 0;
}

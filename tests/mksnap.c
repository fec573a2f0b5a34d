/* mksnap - build an nhi snapshot from a small text description with lib's
 * writer (for the NSS tests and the benchmark; nhictl is the real writer).
 *
 *   mksnap [-g GENERATION] OUT < DESCRIPTION
 *   mksnap -n COUNT [-u FIRST_UID] [-p PREFIX] [-g GENERATION] OUT [PASSWD [GROUP]]
 *
 * DESCRIPTION lines ('#' comments and blank lines are ignored):
 *   ident NAME:UID:GID:GECOS:HOME:SHELL:STATE:EXPIRES[:OWNER[:KIND]]
 *   group NAME:GID:MEMBER,MEMBER,...
 *   deleg FROM_UID:TO_UID:EXPIRES       (a delegation edge FROM -> TO)
 * STATE is active|suspended|orphaned|retired; EXPIRES an ISO 8601 time, a
 * relative time ("+30d", "-1h" meaning in the past) or "now".
 * With -n, COUNT identities PREFIX000000.. (default "svc-") with uids and
 * gids from FIRST_UID (default 2000000) are generated, expiring in a year,
 * and written in passwd(5)/group(5) form to PASSWD/GROUP when given (for
 * comparing with nss_files on the same accounts).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "nhi_err.h"
#include "nhi_snapshot.h"
#include "nhi_time.h"

static void usage(void)
{
	fprintf(stderr, "usage: mksnap [-g GEN] OUT < DESCRIPTION\n"
		"       mksnap -n COUNT [-u FIRST_UID] [-p PREFIX] [-g GEN] OUT [PASSWD [GROUP]]\n");
	exit(2);
}

/* Split s at ':' into at most max fields; returns the count. */
static int split(char *s, char sep, char **f, int max)
{
	int n = 0;

	f[n++] = s;
	while (n < max && (s = strchr(s, sep)) != NULL) {
		*s++ = '\0';
		f[n++] = s;
	}
	return n;
}

static int parse_when(const char *s, time_t now, time_t *out)
{
	char err[128];

	if (s[0] == '-') {
		int64_t d;
		if (nhi_parse_duration(s + 1, &d, err, sizeof(err)) < 0)
			return -1;
		*out = now - d;
		return 0;
	}
	return nhi_parse_time(s, now, out, err, sizeof(err)) < 0 ? -1 : 0;
}

static int read_description(struct nhi_snap_writer *w, FILE *in)
{
	char line[8192];
	time_t now = time(NULL);
	int lineno = 0;

	while (fgets(line, sizeof(line), in) != NULL) {
		char *f[12], *p = line;
		int n;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (strncmp(p, "ident ", 6) == 0) {
			struct nhi_ident id;
			time_t exp = 0;

			memset(&id, 0, sizeof(id));
			n = split(p + 6, ':', f, 10);
			if (n < 8)
				goto bad;
			id.name = f[0];
			id.uid = (uint32_t)strtoul(f[1], NULL, 10);
			id.gid = (uint32_t)strtoul(f[2], NULL, 10);
			id.gecos = f[3];
			id.home = f[4];
			id.shell = f[5];
			id.state = nhi_state_parse(f[6]);
			if (id.state < 0 || parse_when(f[7], now, &exp) < 0)
				goto bad;
			id.expires = exp;
			id.created = now - 86400;
			id.owner = n > 8 ? f[8] : "alice";
			id.kind = n > 9 ? nhi_kind_parse(f[9]) : NHI_KIND_SERVICE;
			if (id.kind < 0)
				goto bad;
			id.purpose = "test";
			if (nhi_snapw_add_ident(w, &id) < 0)
				goto bad;
		} else if (strncmp(p, "group ", 6) == 0) {
			char *m[1024];
			int nm = 0;

			n = split(p + 6, ':', f, 3);
			if (n < 2)
				goto bad;
			if (n == 3 && f[2][0] != '\0')
				nm = split(f[2], ',', m, 1024);
			if (nhi_snapw_add_group(w, f[0], (uint32_t)strtoul(f[1], NULL, 10),
						(const char *const *)m, (size_t)nm) < 0)
				goto bad;
		} else if (strncmp(p, "deleg ", 6) == 0) {
			time_t exp = 0;

			n = split(p + 6, ':', f, 3);
			if (n < 3 || parse_when(f[2], now, &exp) < 0 ||
			    nhi_snapw_add_delegation(w, (uint32_t)strtoul(f[0], NULL, 10),
						     (uint32_t)strtoul(f[1], NULL, 10), exp) < 0)
				goto bad;
		} else {
			goto bad;
		}
		continue;
bad:
		fprintf(stderr, "mksnap: line %d: bad description\n", lineno);
		return -1;
	}
	return 0;
}

static int generate(struct nhi_snap_writer *w, long count, uint32_t first, const char *prefix,
		    const char *passwd, const char *group)
{
	FILE *pf = NULL, *gf = NULL;
	time_t now = time(NULL);
	int r = -1;

	if (passwd != NULL && (pf = fopen(passwd, "w")) == NULL)
		goto out;
	if (group != NULL && (gf = fopen(group, "w")) == NULL)
		goto out;
	for (long i = 0; i < count; i++) {
		char name[64], home[96];
		struct nhi_ident id;

		snprintf(name, sizeof(name), "%s%06ld", prefix, i);
		snprintf(home, sizeof(home), "/srv/%s", name);
		memset(&id, 0, sizeof(id));
		id.name = name;
		id.uid = id.gid = first + (uint32_t)i;
		id.gecos = "generated service";
		id.home = home;
		id.shell = "/bin/sh";
		id.owner = "alice";
		id.purpose = "benchmark";
		id.created = now - 86400;
		id.expires = now + 365 * 86400;
		if (nhi_snapw_add_ident(w, &id) < 0)
			goto out;
		if (pf != NULL)
			fprintf(pf, "%s:x:%u:%u:%s:%s:%s\n", name, id.uid, id.gid, id.gecos, home, id.shell);
		if (gf != NULL)
			fprintf(gf, "%s:x:%u:\n", name, id.gid);
	}
	r = 0;
out:
	if (pf != NULL && fclose(pf) != 0)
		r = -1;
	if (gf != NULL && fclose(gf) != 0)
		r = -1;
	if (r < 0)
		fprintf(stderr, "mksnap: %s\n", strerror(errno));
	return r;
}

int main(int argc, char **argv)
{
	struct nhi_snap_writer *w;
	const char *prefix = "svc-";
	unsigned long long gen = 1;
	long count = -1;
	uint32_t first = 2000000;
	char err[256];
	int c, r = 1;

	while ((c = getopt(argc, argv, "g:n:u:p:")) != -1) {
		switch (c) {
		case 'g': gen = strtoull(optarg, NULL, 10); break;
		case 'n': count = strtol(optarg, NULL, 10); break;
		case 'u': first = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'p': prefix = optarg; break;
		default: usage();
		}
	}
	if (optind >= argc || (count < 0 && argc - optind != 1) || argc - optind > 3)
		usage();
	w = nhi_snapw_new();
	if (w == NULL)
		return 1;
	if (count >= 0) {
		if (generate(w, count, first, prefix, optind + 1 < argc ? argv[optind + 1] : NULL,
			     optind + 2 < argc ? argv[optind + 2] : NULL) < 0)
			goto out;
	} else if (read_description(w, stdin) < 0) {
		goto out;
	}
	if (nhi_snapw_publish(w, argv[optind], gen, time(NULL), err, sizeof(err)) < 0) {
		fprintf(stderr, "mksnap: %s\n", err);
		goto out;
	}
	r = 0;
out:
	nhi_snapw_free(w);
	return r;
}

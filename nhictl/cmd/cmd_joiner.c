/* cmd_joiner.c - joiners: create (a new service account or agent) and
 * adopt (register an account the host already has).  See lifecycle.h. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include "nhi_policy.h"
#include "cmd.h"
#include "lifecycle.h"

struct spec {
	const char *owner, *expires, *purpose, *kind, *review_every;
	const char *uid, *shell, *home;
	const char *hosts[MAX_SCOPE], *services[MAX_SCOPE];
	int n_hosts, n_services;
	int force;   /* adopt: also an account classified as a human */
	int create_home;   /* create: 1 --create-home, 0 --no-create-home, -1 create_home */
	const char *label[LABELS_MAX + 1];
	int n_label;
	char labels[LABELS_BUFSZ];   /* --label, checked and sorted */
};

static const char create_help[] =
	"usage: nhictl create NAME --owner USER --expires WHEN [OPTIONS]\n"
	"\n"
	"Register a new service identity (or AI agent) owned by a live human.  A\n"
	"free uid in uid_min..uid_max is allocated (gid = uid) unless --uid is given.\n"
	"\n"
	"  -o, --owner USER          the human owner (must resolve, not locked/expired)\n"
	"  -e, --expires WHEN        2027-01-31, 2027-01-31T12:00:00Z or +90d; at most\n"
	"                            max_lifetime from now\n"
	"  -p, --purpose TEXT        what it is for\n"
	"  -k, --kind service|agent  (default: service)\n"
	"  -r, --review-every DUR    review interval (default: review_interval)\n"
	"  -H, --host H              may be used only on host H (repeatable; globs)\n"
	"  -S, --service SVC         may be used only through PAM service SVC (repeatable)\n"
	"  -u, --uid N               this uid (and gid) instead of the lowest free one\n"
	"  -s, --shell PATH          login shell (default: default_shell)\n"
	"  -d, --home DIR            home directory (default: home_base/NAME)\n"
	"  -m, --create-home         make it as useradd -m does (/etc/skel, owned by\n"
	"                            the identity, mode HOME_MODE or 0750); an existing\n"
	"                            path is accepted only as its directory\n"
	"  -M, --no-create-home      do not (default: create_home in nhi.conf)\n"
	"  -l, --label KEY=VALUE     a label, e.g. env=prod (repeatable; a-z 0-9 _ . -,\n"
	"                            at most 63 each, 16 labels; 'nhictl label' changes them)\n"
	"      --json                print the new identity as JSON\n";

static const char adopt_help[] =
	"usage: nhictl adopt NAME --owner USER --expires WHEN [OPTIONS]\n"
	"\n"
	"Register an existing local account (e.g. from /etc/passwd), keeping its\n"
	"uid, gid, home, shell and gecos.  Options as for create, without\n"
	"--uid, --shell, --home and --(no-)create-home (--label KEY=VALUE too).  An account pam_nhi\n"
	"classifies as a human (no service uid range, service group or name\n"
	"pattern) is refused:\n"
	"\n"
	"      --force               adopt it all the same\n"
	"      --json                print the new identity as JSON\n"
	"\n"
	"'nhictl release NAME' undoes an adoption.\n";

static int parse_spec(struct nhictl *x, int argc, char **argv, struct spec *s, int adopt)
{
	static const struct option opts[] = {
		{ "owner", required_argument, NULL, 'o' },
		{ "expires", required_argument, NULL, 'e' },
		{ "purpose", required_argument, NULL, 'p' },
		{ "kind", required_argument, NULL, 'k' },
		{ "review-every", required_argument, NULL, 'r' },
		{ "host", required_argument, NULL, 'H' },
		{ "service", required_argument, NULL, 'S' },
		{ "uid", required_argument, NULL, 'u' },
		{ "shell", required_argument, NULL, 's' },
		{ "home", required_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'F' },
		{ "create-home", no_argument, NULL, 'm' },
		{ "no-create-home", no_argument, NULL, 'M' },
		{ "label", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r;

	memset(s, 0, sizeof(*s));
	s->create_home = -1;
	while ((c = getopt_long(argc, argv, ":o:e:p:k:r:H:S:u:s:d:l:mMh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': s->owner = optarg; break;
		case 'e': s->expires = optarg; break;
		case 'p': s->purpose = optarg; break;
		case 'k': s->kind = optarg; break;
		case 'r': s->review_every = optarg; break;
		case 'H': case 'S':
			r = c == 'H' ? scope_add(x, s->hosts, &s->n_hosts, optarg, 1)
				     : scope_add(x, s->services, &s->n_services, optarg, 0);
			if (r != 0)
				return r;
			break;
		case 'u': case 's': case 'd': case 'm': case 'M':
			if (adopt)
				return nerr(x, EXIT_USAGE, "adopt keeps the account's uid, home "
					    "and shell: --%s is not allowed", c == 'u' ? "uid" :
					    c == 's' ? "shell" : c == 'd' ? "home" :
					    c == 'm' ? "create-home" : "no-create-home");
			if (c == 'm' || c == 'M')
				s->create_home = c == 'm';
			else if (c == 'u')
				s->uid = optarg;
			else if (c == 's')
				s->shell = optarg;
			else
				s->home = optarg;
			break;
		case 'l':
			if (s->n_label >= LABELS_MAX)
				return nerr(x, EXIT_USAGE, "too many --label options (at most %d)",
					    LABELS_MAX);
			s->label[s->n_label++] = optarg;
			break;
		case 'F':
			if (!adopt)
				return nerr(x, EXIT_USAGE, "option '--force' is not accepted here "
					    "(try 'nhictl %s --help')", x->verb);
			s->force = 1;
			break;
		case 'j': x->json = 1; break;
		case 'h':
			fputs(adopt ? adopt_help : create_help, stdout);
			return -1;
		default:
			return opt_error(x, c, argv);
		}
	}
	return 0;
}

/* --home, --shell: an absolute path that a passwd line can hold */
static int passwd_path(struct nhictl *x, const char *opt, const char *v)
{
	if (v == NULL)
		return 0;
	if (v[0] != '/')
		return nerr(x, EXIT_USAGE, "bad %s '%s': an absolute path", opt, v);
	if (strlen(v) > PATH_MAX - 1)
		return nerr(x, EXIT_USAGE, "bad %s: longer than %d bytes", opt, PATH_MAX - 1);
	if (!nhi_valid_text(v, PATH_MAX - 1, 1))
		return nerr(x, EXIT_USAGE, "bad %s '%s': a passwd field holds no ':', ',' or control "
			    "character, and only UTF-8", opt, v);
	return 0;
}

/* Everything about the spec that does not need NSS or the registry. */
static int check_spec(struct nhictl *x, struct spec *s, int *kind, int64_t *interval,
		      time_t *expires)
{
	char err[256];
	int r;

	if (s->owner == NULL)
		return nerr(x, EXIT_USAGE, "--owner USER is required");
	/* with ldap also a DN (dir_owner_resolve checks it), as transfer --to */
	if (!nhi_valid_name(s->owner) && !(x->store->owner_dn_ok && strchr(s->owner, '=') != NULL))
		return nerr(x, EXIT_USAGE, "--owner: invalid user name '%s'", s->owner);
	if (s->expires == NULL)
		return nerr(x, EXIT_USAGE, "--expires WHEN is required (identities always expire)");
	*kind = s->kind ? nhi_kind_parse(s->kind) : NHI_KIND_SERVICE;
	if (*kind < 0)
		return nerr(x, EXIT_USAGE, "bad --kind '%s' (service or agent)", s->kind);
	*interval = x->conf.review_interval;
	if (s->review_every != NULL && (r = review_every_parse(x, s->review_every, interval)) != 0)
		return r;
	if ((r = purpose_check(x, s->purpose)) != 0)
		return r;
	if ((r = passwd_path(x, "--home", s->home)) != 0 ||
	    (r = passwd_path(x, "--shell", s->shell)) != 0)
		return r;
	for (int i = 0; i < s->n_label; i++)
		if (label_check(s->label[i], 0, err, sizeof(err)) < 0)
			return nerr(x, EXIT_USAGE, "%s", err);
	if (label_dup(s->label, s->n_label, err, sizeof(err)) >= 0)
		return nerr(x, EXIT_USAGE, "%s", err);
	s->labels[0] = '\0';
	if (labels_apply(s->labels, sizeof(s->labels), s->label, s->n_label, err, sizeof(err)) < 0)
		return nerr(x, EXIT_USAGE, "%s", err);
	r = parse_expiry(x, s->expires, expires);
	return r;
}

/* Write the new identity through the store, its owner's id and the audit
 * event, in the open transaction (lifecycle.h). */
int ident_add_audited(struct nhictl *x, const struct store_new *n, struct ident *got)
{
	char b1[NHI_TIME_BUFSZ];
	int r;

	if ((r = x->store->add(x, n, got)) < 0)
		return r;
	/* who the owner is, not only the name (issue 12) */
	r = owner_id_record(x, n->name);
	if (r == 0)
		r = reg_event(x, n->adopted ? "adopt" : "create", n->name, "ok",
			      "kind=%s uid=%u gid=%u owner=%s expires=%s%s%s%s%s", nhi_kind_str(n->kind),
			      got->uid, got->gid, got->owner, nhi_format_time((time_t)got->expires, b1),
			      n->labels && n->labels[0] ? " labels=" : "", n->labels ? n->labels : "",
			      n->applied ? " (nhictl apply)" : "", x->store->audit_tag);
	if (r < 0)
		x->store->abort(x);
	return r;
}

/* Write the new identity, commit and the answer. */
static int insert_ident(struct nhictl *x, const struct store_new *n)
{
	char b1[NHI_TIME_BUFSZ], line[512];
	struct ident got;

	if (ident_add_audited(x, n, &got) < 0)
		return EXIT_FAIL;
	snprintf(line, sizeof(line), "%s %s: uid %u, owner %s, expires %s",
		 n->adopted ? "adopted" : "created", n->name, got.uid, got.owner,
		 nhi_format_time((time_t)got.expires, b1));
	return done_line(x, n->name, line);
}

/* The new identity from the spec and what the verb found. */
static void new_from_spec(struct store_new *n, const char *name, int kind, const struct spec *s,
			  const char *owner, const char *owner_dn, time_t expires,
			  int64_t interval, int adopted)
{
	memset(n, 0, sizeof(*n));
	n->name = name;
	n->kind = kind;
	n->purpose = s->purpose;
	n->owner = owner;
	n->owner_dn = owner_dn;
	n->expires = expires;
	n->interval = interval;
	n->adopted = adopted;
	n->hosts = s->hosts;
	n->services = s->services;
	n->n_hosts = s->n_hosts;
	n->n_services = s->n_services;
	n->labels = s->labels;
}

/* The name is not registered yet (the directory's answer with ldap). */
static int name_free(struct nhictl *x, const char *name, const char *what)
{
	return exit_code(x->store->name_free(x, name, what));
}

int cmd_create(struct nhictl *x, int argc, char **argv)
{
	char home[PATH_MAX], gecos[264], owner[64], owner_dn[1024];
	const char *name;
	struct store_new n;
	struct spec s;
	time_t expires;
	int64_t interval;
	uint32_t uid = 0;
	int kind, r, mkhome, home_there = 0;

	if ((r = parse_spec(x, argc, argv, &s, 0)) != 0)
		return r < 0 ? EXIT_OK : r;
	if ((r = one_name(x, argc, argv, &name, "identity name")) != 0)
		return r;
	if ((r = not_self(x, name, s.owner)) != 0)
		return r;
	if (s.uid != NULL) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(s.uid, &end, 10);
		/* digits only (strtoul would skip blanks and take a sign);
		 * (uid_t)-1 and -2 are "no uid" and nobody's to many tools */
		if (errno || *end || !isdigit((unsigned char)s.uid[0]) || v == 0 ||
		    v >= 0xfffffffeUL)
			return nerr(x, EXIT_USAGE, "bad --uid '%s': a number from 1 to 4294967293",
				    s.uid);
		uid = (uint32_t)v;
	}
	if ((r = check_spec(x, &s, &kind, &interval, &expires)) != 0)
		return r;
	if ((r = name_free(x, name, "identity ")) != 0)
		return r;
	if (getpwnam(name) != NULL)
		return nerr(x, EXIT_FAIL, "a local account '%s' exists (register it with "
			    "'nhictl adopt')", name);
	if (getgrnam(name) != NULL)
		return nerr(x, EXIT_FAIL, "a local group '%s' exists", name);
	if ((r = check_owner(x, s.owner, owner, sizeof(owner), owner_dn, sizeof(owner_dn))) != 0)
		return r;
	if (s.uid != NULL) {
		r = x->store->uid_free(x, uid);
		if (r < 0)
			return EXIT_FAIL;
		if (!r)
			return nerr(x, EXIT_FAIL, "uid/gid %u is already in use", uid);
	} else if (x->store->alloc_uid(x, &uid) < 0) {
		return EXIT_FAIL;
	}
	if (s.home != NULL)
		snprintf(home, sizeof(home), "%s", s.home);
	else if ((size_t)snprintf(home, sizeof(home), "%s/%s", x->conf.home_base, name) >= sizeof(home))
		return nerr(x, EXIT_FAIL, "home directory path too long");
	/* the gecos field shows the purpose where it is safe in passwd */
	snprintf(gecos, sizeof(gecos), "%s", purpose_gecos(s.purpose));
	ident_warnings(x, name, uid, s.shell ? s.shell : x->conf.default_shell);
	/* the home before the registry: a failed insert takes it away again */
	mkhome = s.create_home >= 0 ? s.create_home : x->conf.create_home;
	if (mkhome && ((r = home_check(x, home, uid, &home_there)) != 0 ||
		       (!home_there && (r = home_make(x, home, uid, uid)) != 0)))
		return exit_code(r);
	new_from_spec(&n, name, kind, &s, owner, owner_dn, expires, interval, 0);
	n.uid = n.gid = uid;
	n.gecos = gecos;
	n.home = home;
	n.shell = s.shell ? s.shell : x->conf.default_shell;
	r = insert_ident(x, &n);
	if (r != EXIT_OK && !x->changed && mkhome && !home_there)
		home_unmake(home);
	return r;
}

int cmd_adopt(struct nhictl *x, int argc, char **argv)
{
	char gecos[264];
	struct passwd *pw;
	const char *name;
	struct store_new n;
	struct spec s;
	time_t expires;
	int64_t interval;
	uint32_t uid, gid;
	char home[PATH_MAX], shell[PATH_MAX], owner[64], owner_dn[1024];
	struct nhi_decision dec;
	int kind, r;

	if ((r = parse_spec(x, argc, argv, &s, 1)) != 0)
		return r < 0 ? EXIT_OK : r;
	if ((r = one_name(x, argc, argv, &name, "account name")) != 0)
		return r;
	if ((r = not_self(x, name, s.owner)) != 0)
		return r;
	if ((r = check_spec(x, &s, &kind, &interval, &expires)) != 0)
		return r;
	if ((r = name_free(x, name, "")) != 0)
		return r;
	pw = getpwnam(name);
	if (pw == NULL)
		return nerr(x, EXIT_FAIL, "no local account '%s' to adopt (use 'nhictl create')", name);
	if (pw->pw_uid == 0)
		return nerr(x, EXIT_FAIL, "'%s' has uid 0: root is never adopted", name);
	uid = (uint32_t)pw->pw_uid;
	gid = (uint32_t)pw->pw_gid;
	snprintf(gecos, sizeof(gecos), "%s", pw->pw_gecos ? pw->pw_gecos : "");
	snprintf(home, sizeof(home), "%s", pw->pw_dir ? pw->pw_dir : "/");
	snprintf(shell, sizeof(shell), "%s", pw->pw_shell ? pw->pw_shell : x->conf.nologin_shell);
	/* pam_nhi's own classification (uid ranges, service_groups, name
	 * patterns): adopting a person would put them under nhi's policy */
	nhi_account_check(&x->conf, NULL, name, NULL, NULL, x->now, &dec);
	if (dec.reason == NHI_R_HUMAN && !s.force)
		return nerr(x, EXIT_FAIL, "'%s' (uid %u) is a human account to pam_nhi (outside "
			    "uid_min..uid_max and service_uids, in no service_groups, matching no "
			    "service_names): refused; if it is a service account, add it to "
			    "service_uids or service_names, or adopt with --force", name, uid);
	r = x->store->uid_registered(x, uid);
	if (r < 0)
		return EXIT_FAIL;
	if (r)
		return nerr(x, EXIT_FAIL, "uid %u is already registered%s", uid, x->store->where);
	if ((r = check_owner(x, s.owner, owner, sizeof(owner), owner_dn, sizeof(owner_dn))) != 0)
		return r;
	/* (without a usable snapshot pam_nhi still knows it from
	 * registered.uids, which every publication writes) */
	ident_warnings(x, name, uid, shell);
	new_from_spec(&n, name, kind, &s, owner, owner_dn, expires, interval, 1);
	n.uid = uid;
	n.gid = gid;
	n.gecos = gecos;
	n.home = home;
	n.shell = shell;
	return insert_ident(x, &n);
}


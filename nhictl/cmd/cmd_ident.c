/* cmd_ident.c - the lifecycle verbs: create, adopt, extend, suspend,
 * resume, retire, review, transfer.
 *
 * Every change is one transaction holding the change and its audit event,
 * followed by publishing the snapshot.  Asking for the state an identity is
 * already in (suspend a suspended one, retire a retired one, extend to the
 * same expiry, transfer to the current owner) changes nothing: a message,
 * exit 0, no audit event, no republish ("--changed-exit N" tells them apart).
 *
 * Every read of the truth and every write goes through the store
 * (store.h: registry.db with backend = local, the directory with ldap);
 * the audit text and the answer are built here, once for both.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include "nhi_policy.h"
#include "nhictl.h"
#include "store.h"
#include "reach.h"
#include "cmd_reach.h"

#define MAX_SCOPE 64

struct spec {
	const char *owner, *expires, *purpose, *kind, *review_every;
	const char *uid, *shell, *home;
	const char *hosts[MAX_SCOPE], *services[MAX_SCOPE];
	int n_hosts, n_services;
	int force;   /* adopt: also an account classified as a human */
	int create_home;   /* create: 1 --create-home, 0 --no-create-home, -1 create_home */
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
	"      --json                print the new identity as JSON\n";

static const char adopt_help[] =
	"usage: nhictl adopt NAME --owner USER --expires WHEN [OPTIONS]\n"
	"\n"
	"Register an existing local account (e.g. from /etc/passwd), keeping its\n"
	"uid, gid, home, shell and gecos.  Options as for create, without\n"
	"--uid, --shell, --home and --(no-)create-home.  An account pam_nhi\n"
	"classifies as a human (no service uid range, service group or name\n"
	"pattern) is refused:\n"
	"\n"
	"      --force               adopt it all the same\n"
	"      --json                print the new identity as JSON\n"
	"\n"
	"'nhictl release NAME' undoes an adoption.\n";

static int scope_add(struct nhictl *x, const char **arr, int *n, const char *v, int host)
{
	if (host ? !nhi_valid_host(v) : !nhi_valid_service(v))
		return nerr(x, EXIT_USAGE, "invalid %s '%s'", host ? "host" : "PAM service", v);
	if (*n >= MAX_SCOPE)
		return nerr(x, EXIT_USAGE, "too many --%s options", host ? "host" : "service");
	arr[(*n)++] = v;
	return 0;
}

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
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r;

	memset(s, 0, sizeof(*s));
	s->create_home = -1;
	while ((c = getopt_long(argc, argv, ":o:e:p:k:r:H:S:u:s:d:mMh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': s->owner = optarg; break;
		case 'e': s->expires = optarg; break;
		case 'p': s->purpose = optarg; break;
		case 'k': s->kind = optarg; break;
		case 'r': s->review_every = optarg; break;
		case 'H':
			if ((r = scope_add(x, s->hosts, &s->n_hosts, optarg, 1)) != 0)
				return r;
			break;
		case 'S':
			if ((r = scope_add(x, s->services, &s->n_services, optarg, 0)) != 0)
				return r;
			break;
		case 'u': case 's': case 'd': case 'm': case 'M':
			if (adopt)
				return nerr(x, EXIT_USAGE, "adopt keeps the account's uid, home "
					    "and shell: '%s' is not allowed", argv[optind - 1]);
			if (c == 'm' || c == 'M')
				s->create_home = c == 'm';
			else if (c == 'u')
				s->uid = optarg;
			else if (c == 's')
				s->shell = optarg;
			else
				s->home = optarg;
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

/* Everything about the spec that does not need NSS or the registry. */
static int check_spec(struct nhictl *x, struct spec *s, int *kind, int64_t *interval,
		      time_t *expires)
{
	char err[256];
	int r;

	if (s->owner == NULL)
		return nerr(x, EXIT_USAGE, "--owner USER is required");
	if (s->expires == NULL)
		return nerr(x, EXIT_USAGE, "--expires WHEN is required (identities always expire)");
	*kind = s->kind ? nhi_kind_parse(s->kind) : NHI_KIND_SERVICE;
	if (*kind < 0)
		return nerr(x, EXIT_USAGE, "bad --kind '%s' (service or agent)", s->kind);
	*interval = x->conf.review_interval;
	if (s->review_every != NULL) {
		if (nhi_parse_duration(s->review_every, interval, err, sizeof(err)) < 0)
			return nerr(x, EXIT_USAGE, "bad --review-every '%s': %s", s->review_every, err);
		if (*interval <= 0)
			return nerr(x, EXIT_USAGE, "bad --review-every '%s': must be positive",
				    s->review_every);
	}
	if (s->purpose != NULL && !nhi_valid_text(s->purpose, 256, 0))
		return nerr(x, EXIT_USAGE, "bad --purpose: printable text of at most 256 bytes");
	if (s->shell != NULL && s->shell[0] != '/')
		return nerr(x, EXIT_USAGE, "bad --shell '%s': an absolute path", s->shell);
	if (s->home != NULL && (s->home[0] != '/' || !nhi_valid_text(s->home, PATH_MAX - 1, 1)))
		return nerr(x, EXIT_USAGE, "bad --home '%s': an absolute path", s->home);
	if (s->shell != NULL && !nhi_valid_text(s->shell, PATH_MAX - 1, 1))
		return nerr(x, EXIT_USAGE, "bad --shell '%s'", s->shell);
	r = parse_expiry(x, s->expires, expires);
	return r;
}

/* The owner must be a live human: through NSS (local), or a person in
 * ldap_people_base (ldap: a user name or a DN).  'name' gets the user
 * name, 'dn' the DN (ldap; "" for local). */
static int check_owner(struct nhictl *x, const char *owner, char *name, size_t name_len,
		       char *dn, size_t dn_len)
{
	char why[1024] = "";
	int r;

	r = x->store->owner_resolve(x, owner, name, name_len, dn, dn_len, why, sizeof(why));
	if (r == NHI_ERR_DB || (r < 0 && why[0] == '\0'))
		return EXIT_FAIL;
	if (r < 0)
		return nerr(x, EXIT_FAIL, "%s", why);
	return 0;
}

/* create, adopt, transfer: nobody owns themselves */
static int not_self(struct nhictl *x, const char *name, const char *owner)
{
	if (owner != NULL && strcmp(owner, name) == 0)
		return nerr(x, EXIT_FAIL, "an identity cannot own itself: '%s' needs a human "
			    "owner other than itself", name);
	return 0;
}

/* suspend and retire: after the change (or none), what the identity has
 * on this host (reach.c), its processes stopped with --terminate.  Set by
 * those verbs before they print anything. */
static struct {
	int on, terminate, files;
} reach_req;
/* extend: the expiry before, for "previous_expires" and "shortened" */
static int64_t extend_from;

/* Print 'line' (or the identity as JSON), with the reach report. */
static int answer(struct nhictl *x, const struct ident *id, const char *line)
{
	struct reach r;
	struct json j;
	int rc = EXIT_OK;

	if (reach_req.on && reach_scan(x, id, reach_req.terminate, reach_req.files, &r) < 0)
		return EXIT_FAIL;
	if (x->json) {
		json_init(&j, stdout);
		json_obj(&j);
		ident_json_fields(x, id, &j);
		if (extend_from != 0) {
			json_ktime(&j, "previous_expires", extend_from);
			json_kbool(&j, "shortened", id->expires < extend_from);
		}
		if (reach_req.on)
			reach_json(&j, &r);
		json_obj_end(&j);
		json_end(&j);
	} else {
		printf("%s\n", line);
		if (reach_req.on)
			reach_text(&r, id->name);
	}
	if (reach_req.on) {
		if (r.survivors > 0)
			rc = nerr(x, EXIT_FAIL, "%d process%s of '%s' still running after SIGKILL",
				  r.survivors, r.survivors == 1 ? "" : "es", id->name);
		reach_free(&r);
	}
	return rc;
}

/* Commit a change already written; print 'line' (or the identity as JSON). */
static int done_line(struct nhictl *x, const char *name, const char *line)
{
	struct ident id;

	if (reg_commit(x) < 0)
		return EXIT_FAIL;
	if (!x->json && !reach_req.on) {
		printf("%s\n", line);
		return EXIT_OK;
	}
	if (ident_load(x, name, &id) < 0)
		return EXIT_FAIL;
	return answer(x, &id, line);
}

/* The change is written (an open transaction), but what follows failed:
 * roll back (the store says when the directory was changed already). */
static int not_stored(struct nhictl *x)
{
	x->store->abort(x);
	return EXIT_FAIL;
}

/* Write the new identity through the store, then the audit event, commit
 * and the answer. */
static int insert_ident(struct nhictl *x, const struct store_new *n)
{
	char b1[NHI_TIME_BUFSZ], line[512];
	struct ident got;
	int r;

	if (x->store->add(x, n, &got) < 0)
		return EXIT_FAIL;
	/* who the owner is, not only the name (issue 12) */
	r = owner_id_record(x, n->name);
	if (r == 0)
		r = reg_event(x, n->adopted ? "adopt" : "create", n->name, "ok",
			      "kind=%s uid=%u gid=%u owner=%s expires=%s%s", nhi_kind_str(n->kind),
			      got.uid, got.gid, got.owner, nhi_format_time((time_t)got.expires, b1),
			      x->store->audit_tag);
	if (r < 0)
		return not_stored(x);
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
		if (errno || *end || end == s.uid || s.uid[0] == '-' || v == 0 || v >= 0xffffffffUL)
			return nerr(x, EXIT_USAGE, "bad --uid '%s': a number from 1", s.uid);
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
	snprintf(gecos, sizeof(gecos), "%s",
		 s.purpose && nhi_valid_text(s.purpose, 256, 1) ? s.purpose : "");
	ident_warnings(x, name, uid, s.shell ? s.shell : x->conf.default_shell);
	/* the home before the registry: a failed insert takes it away again */
	mkhome = s.create_home >= 0 ? s.create_home : x->conf.create_home;
	if (mkhome && ((r = home_check(x, home, uid, &home_there)) != 0 ||
		       (!home_there && (r = home_make(x, home, uid, uid)) != 0)))
		return r;
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

/* ---- verbs on one existing identity ---------------------------------- */

struct one {
	const char *help;
	const char *name;
	const char *expires, *reason, *to;
	int terminate_ok, terminate;   /* --terminate (suspend, retire) */
};

/* Options shared by the one-identity verbs: --help, --json and the one
 * value option the verb takes ('e' expires, 'r' reason, 't' to). */
static int parse_one(struct nhictl *x, int argc, char **argv, struct one *o, int want)
{
	static const struct option opts[] = {
		{ "expires", required_argument, NULL, 'e' },
		{ "reason", required_argument, NULL, 'r' },
		{ "to", required_argument, NULL, 't' },
		{ "terminate", no_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, ":e:r:t:h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(o->help, stdout);
			return -1;
		}
		if (c == 'j') {
			x->json = 1;
			continue;
		}
		if (c == 'T' && o->terminate_ok) {
			o->terminate = 1;
			continue;
		}
		if (c == 'T')
			return nerr(x, EXIT_USAGE, "option '--terminate' is not accepted here "
				    "(try 'nhictl %s --help')", x->verb);
		if (c == 'e' || c == 'r' || c == 't') {
			if (c != want)
				return nerr(x, EXIT_USAGE, "option '--%s' is not accepted here "
					    "(try 'nhictl %s --help')",
					    c == 'e' ? "expires" : c == 'r' ? "reason" : "to", x->verb);
		} else {
			return opt_error(x, c, argv);
		}
		if (c == 'e')
			o->expires = optarg;
		else if (c == 'r')
			o->reason = optarg;
		else
			o->to = optarg;
	}
	return one_name(x, argc, argv, &o->name, "identity name");
}

/* Commit a change already written, print the result. */
static int done(struct nhictl *x, const char *name, const char *msg)
{
	char line[512];

	snprintf(line, sizeof(line), "%s: %s", name, msg);
	return done_line(x, name, line);
}

/* The identity as it is now (the store's truth).  0 or an exit code
 * (printed). */
static int fetch(struct nhictl *x, const char *name, struct ident *id)
{
	return exit_code(x->store->fetch(x, name, id));
}

/* Write the change through the store, then the audit event ('detail' and
 * the store's tag), commit, and the answer ("NAME: msg"). */
static int apply(struct nhictl *x, const struct ident *id, struct store_change *c,
		 const char *action, const char *detail, const char *msg)
{
	if (x->store->update(x, id, c) < 0)
		return EXIT_FAIL;
	if (c->owner != NULL && owner_id_record(x, id->name) < 0)
		return not_stored(x);
	if (reg_event(x, action, id->name, "ok", "%s%s", detail, x->store->audit_tag) < 0)
		return not_stored(x);
	return done(x, id->name, msg);
}

static int unchanged(struct nhictl *x, const struct ident *id, const char *what)
{
	char line[256];

	snprintf(line, sizeof(line), "%s: %s (nothing changed)", id->name, what);
	return answer(x, id, line);
}

static int not_retired(struct nhictl *x, const struct ident *id)
{
	if (strcmp(id->state, "retired") == 0)
		return nerr(x, EXIT_FAIL, "identity '%s' is retired", id->name);
	return 0;
}

static int set_state(struct nhictl *x, struct ident *id, const char *state, const char *action,
		     const char *detail)
{
	struct store_change c = { .state_from = id->state, .state_to = state };
	char det[512];

	snprintf(det, sizeof(det), "state %s -> %s%s%.300s", id->state, state,
		 detail ? ": " : "", detail ? detail : "");
	return apply(x, id, &c, action, det, state);
}

int cmd_suspend(struct nhictl *x, int argc, char **argv)
{
	struct one o = { .help = "usage: nhictl suspend NAME [--terminate] [--json]\n\n"
			 "Suspend an identity: PAM denies it, NSS gives it the nologin shell,\n"
			 "its credentials are refused (cred verify) and its SSH keys are not\n"
			 "served (authorized-keys) until it is resumed.\n"
			 "Suspending a suspended identity changes nothing (exit 0).\n"
			 "Then lists what still runs as it on this host: its processes, its\n"
			 "crontab, systemd units with User= it.\n"
			 "\n"
			 "      --terminate   stop its processes: SIGTERM, up to 5 s, then SIGKILL\n"
			 "                    (exit 1 if one survives)\n"
			 "      --json        the identity as JSON, with the report\n",
			 .terminate_ok = 1 };
	struct ident id;
	int r;

	if ((r = parse_one(x, argc, argv, &o, 0)) != 0)
		return r < 0 ? EXIT_OK : r;
	reach_req.on = 1;
	reach_req.terminate = o.terminate;
	if ((r = fetch(x, o.name, &id)) != 0 || (r = not_retired(x, &id)) != 0)
		return r;
	if (strcmp(id.state, "suspended") == 0)
		return unchanged(x, &id, "already suspended");
	return set_state(x, &id, "suspended", "suspend", NULL);
}

int cmd_resume(struct nhictl *x, int argc, char **argv)
{
	struct one o = { .help = "usage: nhictl resume NAME [--json]\n\n"
			 "Resume a suspended identity.  One whose owner has gone in the\n"
			 "meantime becomes orphaned (transfer it to a new owner).\n"
			 "Resuming an active identity changes nothing (exit 0).\n" };
	struct ident id;
	int r;

	if ((r = parse_one(x, argc, argv, &o, 0)) != 0)
		return r < 0 ? EXIT_OK : r;
	if ((r = fetch(x, o.name, &id)) != 0 || (r = not_retired(x, &id)) != 0)
		return r;
	if (strcmp(id.state, "active") == 0)
		return unchanged(x, &id, "already active");
	if (strcmp(id.state, "orphaned") == 0)
		return nerr(x, EXIT_FAIL, "identity '%s' is orphaned, not suspended: give it a "
			    "live owner with 'nhictl transfer %s --to USER'", id.name, id.name);
	return set_state(x, &id, id.orphaned_since ? "orphaned" : "active", "resume", NULL);
}

int cmd_retire(struct nhictl *x, int argc, char **argv)
{
	struct one o = { .help = "usage: nhictl retire NAME [--reason TEXT] [--terminate] [--json]\n\n"
			 "Retire an identity for good: NSS no longer shows it, PAM denies it.\n"
			 "Its name and uid stay reserved; its credentials are revoked, its\n"
			 "grants and delegations (from and to it) removed.\n"
			 "Retiring a retired identity changes nothing (exit 0).\n"
			 "Then lists what is left of it on this host: its processes, its\n"
			 "crontab, systemd units with User= it, its home directory and mail.\n"
			 "\n"
			 "      --terminate   stop its processes: SIGTERM, up to 5 s, then SIGKILL\n"
			 "                    (exit 1 if one survives)\n"
			 "      --json        the identity as JSON, with the report\n",
			 .terminate_ok = 1 };
	struct store_change c = { .state_to = "retired" };
	struct ident id;
	char det[600];
	int r, ng, nd;

	if ((r = parse_one(x, argc, argv, &o, 'r')) != 0)
		return r < 0 ? EXIT_OK : r;
	reach_req.on = 1;
	reach_req.terminate = o.terminate;
	reach_req.files = 1;
	if (o.reason != NULL && !nhi_valid_text(o.reason, 256, 0))
		return nerr(x, EXIT_USAGE, "bad --reason: printable text of at most 256 bytes");
	if ((r = fetch(x, o.name, &id)) != 0)
		return r;
	if (strcmp(id.state, "retired") == 0)
		return unchanged(x, &id, "already retired");
	c.state_from = id.state;
	c.retired_at = x->now;
	c.reason = o.reason ? o.reason : "";
	/* its credentials die with it: revoked now, rotations cancelled */
	if (x->store->update(x, &id, &c) < 0)
		return EXIT_FAIL;
	snprintf(det, sizeof(det), "state %s -> retired%s%s", id.state,
		 o.reason ? ": " : "", o.reason ? o.reason : "");
	if (c.revoked >= 0)
		snprintf(det + strlen(det), sizeof(det) - strlen(det), "; %d credential%s revoked",
			 c.revoked, c.revoked == 1 ? "" : "s");
	/* and its grants and delegations, each audited */
	if (reach_retire(x, &id, "retired", &ng, &nd) < 0)
		return not_stored(x);
	if (ng + nd > 0)
		snprintf(det + strlen(det), sizeof(det) - strlen(det), "; %d grant%s and %d "
			 "delegation%s removed", ng, ng == 1 ? "" : "s", nd, nd == 1 ? "" : "s");
	if (reg_event(x, "retire", id.name, "ok", "%s%s", det, x->store->audit_tag) < 0)
		return not_stored(x);
	return done(x, id.name, "retired");
}

int cmd_release(struct nhictl *x, int argc, char **argv)
{
	struct one o = { .help = "usage: nhictl release NAME [--json]\n\n"
			 "Undo 'nhictl adopt': the identity leaves the registry and the\n"
			 "snapshot, the local account stays exactly as it is (pam_nhi then\n"
			 "classifies it as before the adoption).  Credentials nhictl issued\n"
			 "to it are dropped, its grants and delegations removed.  Only for\n"
			 "adopted identities: one nhictl created is retired, not released.\n" };
	struct ident id;
	struct json j;
	int64_t ncred = 0;
	int r, adopted, ng, nd;

	if ((r = parse_one(x, argc, argv, &o, 0)) != 0)
		return r < 0 ? EXIT_OK : r;
	/* with ldap the directory says what it is; the registry row (if
	 * this host has synced it) goes with the entry */
	if ((r = fetch(x, o.name, &id)) != 0)
		return r;
	adopted = x->store->adopted(x, &id);
	if (adopted < 0 || reg_int(x, &ncred, 0, "SELECT count(*) FROM credential c JOIN identity "
				   "i ON i.id = c.identity_id WHERE i.name = ?", "s", id.name) < 0)
		return EXIT_FAIL;
	if (!adopted)
		return nerr(x, EXIT_FAIL, "'%s' was created by nhictl, not adopted: there is no "
			    "account to give back (retire it: 'nhictl retire %s')", id.name, id.name);
	/* its grants and delegations first, each audited */
	if (reach_retire(x, &id, "released", &ng, &nd) < 0)
		return not_stored(x);
	if (x->store->release(x, &id) < 0)
		return EXIT_FAIL;
	if (reg_begin(x) < 0)
		return not_stored(x);
	/* what hangs off the row without ON DELETE CASCADE, then the row
	 * (its hosts, services and usage cascade; the snapshot gets a
	 * tombstone through the snap_pending trigger) */
	r = reg_exec(x, "DELETE FROM rotation WHERE credential_id IN (SELECT c.id FROM credential "
		     "c JOIN identity i ON i.id = c.identity_id WHERE i.name = ?)", "s", id.name);
	if (r == 0)
		r = reg_exec(x, "DELETE FROM credential WHERE identity_id IN "
			     "(SELECT id FROM identity WHERE name = ?)", "s", id.name);
	if (r == 0)
		r = reg_exec(x, "DELETE FROM identity WHERE name = ?", "s", id.name);
	if (r == 0)
		r = reg_event(x, "release", id.name, "ok", "uid=%u state was %s; unregistered, the "
			      "local account kept; %lld credential%s dropped%s%s", id.uid, id.state,
			      (long long)ncred, ncred == 1 ? "" : "s",
			      ng + nd > 0 ? "; its grants and delegations removed" : "",
			      x->store->audit_tag);
	if (r < 0 || reg_commit(x) < 0)
		return not_stored(x);
	if (x->json) {
		json_init(&j, stdout);
		json_obj(&j);
		json_kstr(&j, "name", id.name);
		json_kint(&j, "uid", id.uid);
		json_kstr(&j, "state", "released");
		json_kstr(&j, "was", id.state);
		json_kint(&j, "credentials_dropped", ncred);
		json_obj_end(&j);
		json_end(&j);
	} else {
		printf("released %s: uid %u is no longer registered; the local account is "
		       "unchanged\n", id.name, id.uid);
	}
	return EXIT_OK;
}

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
	extend_from = id.expires;
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
	struct one o = { .help = "usage: nhictl review NAME [--json]\n\n"
			 "Record that the owner reviewed the identity: the next review is due\n"
			 "one review interval from now.\n" };
	char b1[NHI_TIME_BUFSZ], msg[128], det[256];
	struct store_change c = { 0 };
	struct ident id;
	int64_t due;
	int r;

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

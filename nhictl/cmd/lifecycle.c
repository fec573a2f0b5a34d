/* lifecycle.c - what the lifecycle verbs share (lifecycle.h): the owner
 * checks, writing a change through the store with its audit event, and
 * the answer (a line, or the identity as JSON, with what it reaches on
 * this host after suspend and retire).
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
#include <sys/stat.h>
#include <unistd.h>
#include "nhi_policy.h"
#include "cmd.h"
#include "lifecycle.h"
#include "reach.h"

/* The owner must be a live human: through NSS (local), or a person in
 * ldap_people_base (ldap: a user name or a DN).  'name' gets the user
 * name, 'dn' the DN (ldap; "" for local). */
int check_owner(struct nhictl *x, const char *owner, char *name, size_t name_len,
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
int not_self(struct nhictl *x, const char *name, const char *owner)
{
	if (owner != NULL && strcmp(owner, name) == 0)
		return nerr(x, EXIT_FAIL, "an identity cannot own itself: '%s' needs a human "
			    "owner other than itself", name);
	return 0;
}


struct lc_report lc_report;

/* Is there a PAM configuration for service 'v' on this host?  1 when
 * there is, or when PAM's configuration directory is not where Linux-PAM
 * keeps it (nothing to tell). */
static int pam_service_here(const char *v)
{
	char p[128];
	struct stat st;

	if (stat("/etc/pam.d", &st) != 0 || !S_ISDIR(st.st_mode))
		return 1;
	snprintf(p, sizeof(p), "/etc/pam.d/%s", v);
	if (access(p, F_OK) == 0)
		return 1;
	snprintf(p, sizeof(p), "/usr/lib/pam.d/%s", v);
	return access(p, F_OK) == 0;
}

int scope_add(struct nhictl *x, const char **arr, int *n, const char *v, int host)
{
	if (host ? !nhi_valid_host(v) : !nhi_valid_service(v))
		return nerr(x, EXIT_USAGE, "invalid %s '%s'", host ? "host" : "PAM service", v);
	if (!host && nhi_service_upper(v))
		return nerr(x, EXIT_USAGE, "PAM service '%s' " SERVICE_UPPER_WHY, v);
	/* a scope may be meant for other hosts: said, not refused */
	if (!host && strpbrk(v, "*?") == NULL && !pam_service_here(v))
		nerr(x, 0, "warning: no PAM service '%s' on this host (no /etc/pam.d/%s): here "
		     "the identity can log in only through a service of that name", v, v);
	if (*n >= MAX_SCOPE)
		return nerr(x, EXIT_USAGE, "too many --%s options", host ? "host" : "service");
	arr[(*n)++] = v;
	return 0;
}

int review_every_parse(struct nhictl *x, const char *s, int64_t *interval)
{
	char err[256];

	if (nhi_parse_duration(s, interval, err, sizeof(err)) < 0)
		return nerr(x, EXIT_USAGE, "bad --review-every '%s': %s", s, err);
	if (*interval <= 0)
		return nerr(x, EXIT_USAGE, "bad --review-every '%s': must be positive", s);
	return 0;
}

int purpose_check(struct nhictl *x, const char *purpose)
{
	if (purpose != NULL && !nhi_valid_text(purpose, 256, 0))
		return nerr(x, EXIT_USAGE, "bad --purpose: printable text of at most 256 bytes");
	return 0;
}

const char *purpose_gecos(const char *purpose)
{
	return purpose != NULL && nhi_valid_text(purpose, 256, 1) ? purpose : "";
}

const char *gecos_follow(const struct ident *id, const char *purpose)
{
	const char *g = purpose_gecos(purpose);

	if (strcmp(id->gecos, purpose_gecos(id->purpose)) != 0 || strcmp(id->gecos, g) == 0)
		return NULL;
	return g;
}

/* Print 'line' (or the identity as JSON), with the reach report. */
int answer(struct nhictl *x, const struct ident *id, const char *line)
{
	struct reach r;
	struct json j;
	int rc = EXIT_OK;

	if (lc_report.on && reach_scan(x, id, lc_report.terminate, lc_report.files, &r) < 0)
		return EXIT_FAIL;
	if (x->json) {
		json_init(&j, stdout);
		json_obj(&j);
		ident_json_fields(x, id, &j);
		if (lc_report.extend_from != 0) {
			json_ktime(&j, "previous_expires", lc_report.extend_from);
			json_kbool(&j, "shortened", id->expires < lc_report.extend_from);
		}
		if (lc_report.on)
			reach_json(&j, &r);
		json_obj_end(&j);
		json_end(&j);
	} else {
		printf("%s\n", line);
		if (lc_report.on)
			reach_text(&r, id->name);
	}
	if (lc_report.on) {
		if (r.survivors > 0)
			rc = nerr(x, EXIT_FAIL, "%d process%s of '%s' still running after SIGKILL",
				  r.survivors, r.survivors == 1 ? "" : "es", id->name);
		reach_free(&r);
	}
	return rc;
}

/* Commit a change already written; print 'line' (or the identity as JSON). */
int done_line(struct nhictl *x, const char *name, const char *line)
{
	struct ident id;

	if (reg_commit(x) < 0)
		return EXIT_FAIL;
	if (!x->json && !lc_report.on) {
		printf("%s\n", line);
		return EXIT_OK;
	}
	if (ident_load(x, name, &id) < 0)
		return EXIT_FAIL;
	return answer(x, &id, line);
}

/* The change is written (an open transaction), but what follows failed:
 * roll back (the store says when the directory was changed already). */
int not_stored(struct nhictl *x)
{
	x->store->abort(x);
	return EXIT_FAIL;
}

/* Options shared by the one-identity verbs: --help, --json and the one
 * value option the verb takes ('e' expires, 'r' reason, 't' to). */
int parse_one(struct nhictl *x, int argc, char **argv, struct one *o, int want)
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
int done(struct nhictl *x, const char *name, const char *msg)
{
	char line[512];

	snprintf(line, sizeof(line), "%s: %s", name, msg);
	return done_line(x, name, line);
}

/* The identity as it is now (the store's truth).  0 or an exit code
 * (printed). */
int fetch(struct nhictl *x, const char *name, struct ident *id)
{
	return exit_code(x->store->fetch(x, name, id));
}

/* Write the change through the store, then the audit event ('detail' and
 * the store's tag), commit, and the answer ("NAME: msg"). */
int apply(struct nhictl *x, const struct ident *id, struct store_change *c,
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

int unchanged(struct nhictl *x, const struct ident *id, const char *what)
{
	char line[256];

	snprintf(line, sizeof(line), "%s: %s (nothing changed)", id->name, what);
	return answer(x, id, line);
}

int not_retired(struct nhictl *x, const struct ident *id)
{
	if (strcmp(id->state, "retired") == 0)
		return nerr(x, EXIT_FAIL, "identity '%s' is retired", id->name);
	return 0;
}

int set_state(struct nhictl *x, struct ident *id, const char *state, const char *action,
		     const char *detail)
{
	struct store_change c = { .state_from = id->state, .state_to = state };
	char det[512];

	snprintf(det, sizeof(det), "state %s -> %s%s%.300s", id->state, state,
		 detail ? ": " : "", detail ? detail : "");
	return apply(x, id, &c, action, det, state);
}


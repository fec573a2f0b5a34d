/* cmd_leaver.c - leavers: suspend, resume, retire, and release (an
 * adopted account given back to the host).  See lifecycle.h. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include "nhi_policy.h"
#include "cmd.h"
#include "lifecycle.h"
#include "reach.h"
#include "cmd_reach.h"

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
	lc_report.on = 1;
	lc_report.terminate = o.terminate;
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

/* Retire id (not retired yet): the state, its credentials revoked, its
 * grants and delegations removed, one audit event (lifecycle.h). */
int ident_retire(struct nhictl *x, const struct ident *id, const char *reason)
{
	struct store_change c = { .state_to = "retired" };
	char det[600];
	int r, ng, nd;

	c.state_from = id->state;
	c.retired_at = x->now;
	c.reason = reason ? reason : "";
	/* its credentials die with it: revoked now, rotations cancelled */
	if ((r = x->store->update(x, id, &c)) < 0)
		return r;
	snprintf(det, sizeof(det), "state %s -> retired%s%s", id->state,
		 reason ? ": " : "", reason ? reason : "");
	if (c.revoked >= 0)
		snprintf(det + strlen(det), sizeof(det) - strlen(det), "; %d credential%s revoked",
			 c.revoked, c.revoked == 1 ? "" : "s");
	/* and its grants and delegations, each audited */
	if ((r = reach_retire(x, id, "retired", &ng, &nd)) < 0)
		goto fail;
	if (ng + nd > 0)
		snprintf(det + strlen(det), sizeof(det) - strlen(det), "; %d grant%s and %d "
			 "delegation%s removed", ng, ng == 1 ? "" : "s", nd, nd == 1 ? "" : "s");
	if ((r = reg_event(x, "retire", id->name, "ok", "%s%s", det, x->store->audit_tag)) < 0)
		goto fail;
	return 0;
fail:
	x->store->abort(x);
	return r;
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
	struct ident id;
	int r;

	if ((r = parse_one(x, argc, argv, &o, 'r')) != 0)
		return r < 0 ? EXIT_OK : r;
	lc_report.on = 1;
	lc_report.terminate = o.terminate;
	lc_report.files = 1;
	if (o.reason != NULL && !nhi_valid_text(o.reason, 256, 0))
		return nerr(x, EXIT_USAGE, "bad --reason: printable text of at most 256 bytes");
	if ((r = fetch(x, o.name, &id)) != 0)
		return r;
	if (strcmp(id.state, "retired") == 0)
		return unchanged(x, &id, "already retired");
	if (ident_retire(x, &id, o.reason) < 0)
		return EXIT_FAIL;
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
	r = ident_unregister(x, id.name);
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


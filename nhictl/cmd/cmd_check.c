/* cmd_check.c - check: the account decision pam_nhi would make, made by the
 * same code (nhi_account_check) on the same published snapshot. */
#include <getopt.h>
#include <string.h>
#include "cmd.h"
#include "nhi_policy.h"

static const char check_help[] =
	"usage: nhictl check USER [--service SVC] [--host H] [--ruser A] [--json]\n"
	"\n"
	"Run the account policy pam_nhi runs, on the published snapshot, and print\n"
	"the decision and its reason.  Without a usable snapshot the decision is\n"
	"'unavailable' for every user (whether USER is registered cannot be told),\n"
	"and the message says what pam_nhi does meanwhile.  Exit 0 allowed (or not\n"
	"a service account), 1 denied or expired, 2 unavailable (no usable\n"
	"snapshot) or bad arguments.\n"
	"\n"
	"  -s, --service SVC   the PAM service, lower-cased as Linux-PAM does\n"
	"                      (default: no service scope check)\n"
	"  -H, --host H        the host (default: this host, or 'host' in nhi.conf)\n"
	"  -r, --ruser A       the requesting user of su/runuser (PAM_RUSER): an\n"
	"                      identity needs a live delegation A -> USER, a human\n"
	"                      meets human_use\n"
	"      --json          {user, ruser, decision, would, reason, registered,\n"
	"                       service_account, warnings, message}\n";

int cmd_check(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "host", required_argument, NULL, 'H' },
		{ "ruser", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct { unsigned bit; const char *name; } wnames[] = {
		{ NHI_W_EXPIRY_NEAR, "expiry-near" }, { NHI_W_REVIEW_NEAR, "review-near" },
		{ NHI_W_REVIEW_OVERDUE, "review-overdue" }, { NHI_W_ORPHANED, "orphaned" },
		{ NHI_W_AUDIT, "audit-mode" },
	};
	const char *service = NULL, *host = NULL, *ruser = NULL, *user;
	char err[512], hostbuf[256];
	struct nhi_snap *snap = NULL;
	struct nhi_decision d;
	struct json j;
	size_t i;
	int c, r;

	while ((c = getopt_long(argc, argv, ":s:H:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!nhi_valid_service(optarg))
				return nerr(x, EXIT_USAGE, "invalid PAM service '%s'", optarg);
			/* as Linux-PAM's pam_start gives it to the modules */
			for (char *p = optarg; *p != '\0'; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
			service = optarg;
			break;
		case 'H':
			if (!nhi_valid_host(optarg))
				return nerr(x, EXIT_USAGE, "invalid host '%s'", optarg);
			host = optarg;
			break;
		case 'r':
			if (!nhi_valid_name(optarg) && strcmp(optarg, "root") != 0)
				return nerr(x, EXIT_USAGE, "invalid user name '%s'", optarg);
			ruser = optarg;
			break;
		case 'j': x->json = 1; break;
		case 'h': fputs(check_help, stdout); return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	if ((r = one_name(x, argc, argv, &user, "user name")) != 0)
		return r;
	r = nhi_snap_open(x->conf.cache_path, NHI_SNAP_VERIFY_READ | NHI_SNAP_TRUST, &snap,
			  err, sizeof(err));
	if (r < 0) {
		snap = NULL;
		nerr(x, 0, "snapshot unusable: %s", err);
	}
	if (host == NULL)
		host = nhi_conf_hostname(&x->conf, hostbuf, sizeof(hostbuf));
	nhi_account_check_ruser(&x->conf, snap, user, ruser, host, service, x->now, &d);
	if (d.snapshot_damaged)
		nerr(x, 0, "snapshot unusable: %s: checksum mismatch in what the lookup of %s read "
		     "(corrupt file)", x->conf.cache_path, user);
	if ((snap == NULL || d.snapshot_damaged) && d.verdict != NHI_V_UNAVAIL) {
		/* registered or not cannot be told: not "ignore", whatever the
		 * classification says (pam_nhi's answer meanwhile is the message) */
		char meanwhile[sizeof(d.message)];

		snprintf(meanwhile, sizeof(meanwhile), "no usable snapshot; pam_nhi meanwhile: %s (%s)",
			 nhi_verdict_str(d.verdict), nhi_reason_str(d.reason));
		d.verdict = d.would = NHI_V_UNAVAIL;
		d.reason = NHI_R_NO_SNAPSHOT;
		d.warnings = 0;
		memcpy(d.message, meanwhile, sizeof(d.message));
	}
	if (x->json) {
		json_init(&j, stdout);
		json_obj(&j);
		json_kstr(&j, "user", user);
		json_kstr(&j, "host", host);
		json_kstr(&j, "service", service);
		json_kstr(&j, "ruser", ruser);
		json_kstr(&j, "decision", nhi_verdict_str(d.verdict));
		json_kstr(&j, "would", nhi_verdict_str(d.would));
		json_kstr(&j, "reason", nhi_reason_str(d.reason));
		json_kbool(&j, "registered", d.registered);
		json_kbool(&j, "service_account", d.service_account);
		json_key(&j, "warnings");
		json_arr(&j);
		for (i = 0; i < sizeof(wnames) / sizeof(wnames[0]); i++)
			if (d.warnings & wnames[i].bit)
				json_str(&j, wnames[i].name);
		json_arr_end(&j);
		json_kstr(&j, "message", d.message);
		json_obj_end(&j);
		json_end(&j);
	} else {
		printf("%s: %s (%s)", user, nhi_verdict_str(d.verdict), nhi_reason_str(d.reason));
		if (d.would != d.verdict)
			printf(" [mode=audit: enforce would %s]", nhi_verdict_str(d.would));
		fputc('\n', stdout);
		if (d.message[0])
			printf("%s\n", d.message);
	}
	nhi_snap_close(snap);
	switch (d.verdict) {
	case NHI_V_IGNORE:
	case NHI_V_ALLOW:
		return EXIT_OK;
	case NHI_V_DENY:
	case NHI_V_EXPIRED:
		return EXIT_FAIL;
	default:
		return EXIT_USAGE;
	}
}

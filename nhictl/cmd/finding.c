/* finding.c - the catalogue of finding codes and how a finding is printed
 * (see finding.h).  Codes are stable: add new ones, never rename. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "finding.h"

const struct finding_kind finding_kinds[] = {
	/* NHI1 improper offboarding */
	{ "NHI1-ORPHANED", "orphaned", "NHI1", SEV_HIGH,
	  "the identity's owner left (or is another person now)" },
	{ "NHI1-RESOURCE-ORPHANED", "resource-orphaned", "NHI1", SEV_MEDIUM,
	  "the resource's owner left" },
	{ "NHI1-EXPIRED", "expired", "NHI1", SEV_MEDIUM,
	  "the identity expired and was not retired" },
	{ "NHI1-EXPIRED-ACCESS", "expired-access", "NHI1", SEV_HIGH,
	  "an expired identity still holds active credentials, grants or delegations" },
	{ "NHI1-REVIEW-OVERDUE", "review-overdue", "NHI1", SEV_MEDIUM,
	  "the owner's review is overdue" },
	{ "NHI1-STALE", "stale", "NHI1", SEV_MEDIUM,
	  "not used for longer than stale_after" },
	{ "NHI1-NEVER-USED", "never-used", "NHI1", SEV_LOW,
	  "never used, longer than never_used_grace after creation" },
	{ "NHI1-SUSPENDED", "suspended", "NHI1", SEV_INFO,
	  "suspended, neither resumed nor retired" },
	{ "NHI1-UNREGISTERED", "unregistered", "NHI1", SEV_MEDIUM,
	  "a service account on the host that nhi does not govern" },
	{ "NHI1-SYSTEM-LOGIN", "system-login", "NHI1", SEV_MEDIUM,
	  "a system account with a usable login shell or password" },
	{ "NHI1-SHADOWED", "shadowed", "NHI1", SEV_HIGH,
	  "a local account with an identity's name (another uid) or its uid (another name)" },
	/* NHI2 secret leakage */
	{ "NHI2-TOKEN-READABLE", "token-readable", "NHI2", SEV_HIGH,
	  "an nhi token in a file others can read" },
	{ "NHI2-KEY-READABLE", "key-readable", "NHI2", SEV_HIGH,
	  "a private key in a file others can read" },
	{ "NHI2-CRED-FILE-READABLE", "cred-file-readable", "NHI2", SEV_HIGH,
	  "an account's credential file (key, token, password file) others can read" },
	/* NHI3 vulnerable third-party NHI */
	{ "NHI3-EXTERNAL-LONG-GRANT", "external-long-grant", "NHI3", SEV_HIGH,
	  "write or admin on an external resource that outlives external_grant_max" },
	{ "NHI3-EXTERNAL-OWNER-LEFT", "external-owner-left", "NHI3", SEV_HIGH,
	  "a grant on an external resource held by an identity whose owner left" },
	/* NHI4 insecure authentication */
	{ "NHI4-PASSWORD-WITH-KEY", "password-with-key", "NHI4", SEV_MEDIUM,
	  "a password credential beside a key or token: the weaker one is not needed" },
	{ "NHI4-KEY-NOT-ISSUED", "key-not-issued", "NHI4", SEV_HIGH,
	  "an authorized_keys entry of a registered identity that nhi did not issue" },
	{ "NHI4-KEY-NO-FROM", "key-no-from", "NHI4", SEV_MEDIUM,
	  "an authorized_keys entry without from= for an identity scoped to hosts" },
	/* NHI5 overprivileged NHI */
	{ "NHI5-OVER-CAP", "over-cap", "NHI5", SEV_MEDIUM,
	  "more grants or delegations than max_grants or max_delegations" },
	{ "NHI5-WIDENING", "widening", "NHI5", SEV_HIGH,
	  "a delegation lets an agent reach what it holds no grant for itself" },
	{ "NHI5-SUDO", "sudo", "NHI5", SEV_MEDIUM,
	  "a sudoers rule names a service account" },
	/* NHI6 insecure deployment configuration */
	{ "NHI6-UNIT-ENV-SECRET", "unit-env-secret", "NHI6", SEV_HIGH,
	  "a secret in a systemd unit's Environment= line" },
	{ "NHI6-UNIT-READABLE", "unit-readable", "NHI6", SEV_MEDIUM,
	  "a unit drop-in with Environment= that others can read, or a unit others can write" },
	/* NHI7 long-lived secrets */
	{ "NHI7-CRED-OLD", "cred-old", "NHI7", SEV_MEDIUM,
	  "a credential older than max_credential_age" },
	{ "NHI7-CRED-NO-EXPIRY", "cred-no-expiry", "NHI7", SEV_HIGH,
	  "a credential without an expiry" },
	{ "NHI7-NOT-ROTATED", "not-rotated", "NHI7", SEV_MEDIUM,
	  "a credential not rotated within rotation_interval" },
	/* NHI8 environment isolation */
	{ "NHI8-CROSS-ENV", "cross-env", "NHI8", SEV_HIGH,
	  "one identity granted on resources of different environments (label env)" },
	/* NHI9 NHI reuse */
	{ "NHI9-OUT-OF-SCOPE-USE", "out-of-scope-use", "NHI9", SEV_MEDIUM,
	  "used from more hosts or services than its scope" },
	{ "NHI9-SHARED", "shared", "NHI9", SEV_MEDIUM,
	  "delegated to by agents with different owners" },
	{ "NHI9-DIR-CONFLICT", "dir-conflict", "NHI9", SEV_HIGH,
	  "two directory entries with one name or uidNumber (a replication conflict): both denied" },
	/* NHI10 human use of NHI */
	{ "NHI10-HUMAN-USE", "human-use", "NHI10", SEV_HIGH,
	  "a human used the identity (an interactive session or a human RUSER)" },
	{ NULL, NULL, NULL, SEV_INFO, NULL },
};

static const char *const sev_names[] = { "info", "low", "medium", "high" };

const struct finding_kind *finding_kind(const char *code)
{
	for (const struct finding_kind *k = finding_kinds; k->code != NULL; k++)
		if (strcmp(k->code, code) == 0)
			return k;
	return NULL;
}

const char *finding_sev_name(enum finding_sev s)
{
	return (unsigned)s < 4 ? sev_names[s] : "?";
}

int finding_sev_parse(const char *s, enum finding_sev *out)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, sev_names[i]) == 0) {
			*out = (enum finding_sev)i;
			return 0;
		}
	return -1;
}

void findings_init(struct findings *f, struct json *j)
{
	memset(f, 0, sizeof(*f));
	f->j = j;
	f->max_sev = -1;
}

void finding_add(struct nhictl *x, struct findings *f, const char *code, const char *subject,
		 int64_t since, const char *remedy, const char *fmt, ...)
{
	const struct finding_kind *k = finding_kind(code);
	char ev[1024], b[NHI_TIME_BUFSZ];
	va_list ap;

	if (k == NULL) {
		nerr(x, 0, "internal error: unknown finding code '%s'", code);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(ev, sizeof(ev), fmt, ap);
	va_end(ap);
	f->n++;
	f->by_sev[k->sev]++;
	if ((int)k->sev > f->max_sev)
		f->max_sev = (int)k->sev;
	if (f->collect != NULL) {
		f->collect(f->arg, k, subject, since, ev, remedy != NULL ? remedy : "");
		return;
	}
	if (f->j != NULL) {
		json_obj(f->j);
		json_kstr(f->j, "code", k->code);
		json_kstr(f->j, "risk", k->risk);
		json_kstr(f->j, "severity", sev_names[k->sev]);
		json_kstr(f->j, "name", subject);
		json_kstr(f->j, "finding", k->slug);
		json_ktime(f->j, "since", since);
		json_kstr(f->j, "evidence", ev);
		json_kstr(f->j, "remedy", remedy != NULL ? remedy : "");
		json_obj_end(f->j);
		return;
	}
	printf("%-6s %-24s %s", sev_names[k->sev], k->code, subject);
	if (since != 0)
		printf(" since %s", nhi_format_time((time_t)since, b));
	printf(": %s\n", ev);
	if (remedy != NULL && remedy[0] != '\0')
		printf("       fix: %s\n", remedy);
}

int findings_exit(const struct findings *f, int at)
{
	return at >= 0 && f->max_sev >= at ? EXIT_FINDINGS : EXIT_OK;
}

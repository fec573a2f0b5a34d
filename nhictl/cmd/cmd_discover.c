/* cmd_discover.c - discover (what the host has that nhi does not govern)
 * and audit's host check: the scan of util/discover.c against what the
 * registry knows, reported as findings (finding.h). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cmd.h"
#include "audit_checks.h"
#include "discover.h"

static const char discover_help[] =
	"usage: nhictl discover [--json] [--root DIR] [--fail-on low|medium|high]\n"
	"\n"
	"Scan the host (or --root DIR, a tree laid out like a host: a chroot or an\n"
	"image) for what nhi does not govern: ROOT/etc/passwd, shadow and group\n"
	"(not NSS), each account's authorized_keys entries, crontab entries,\n"
	"systemd units with User=, sudoers rules, processes (only without --root)\n"
	"and credential files others can read; and secrets lying around under\n"
	"discover_paths (nhi tokens, private keys in files others can read,\n"
	"secrets in units' Environment=).  Accounts are classified as pam_nhi\n"
	"does.  Symlinks are never followed, files over discover_max_size are\n"
	"skipped (and listed), what cannot be read is a note.  Findings carry a\n"
	"code, severity, evidence and remedy; no secret value is ever printed.\n"
	"Exit 0 (findings are not failures); with --fail-on LEVEL, 3 when a\n"
	"finding at or above LEVEL was reported.\n";

struct known {
	int64_t id;
	int hosts;           /* identity_host rows: scoped to hosts */
	uint32_t uid;
};

/* Is the account a registered identity (not retired)?  1, 0 or NHI_ERR_DB. */
static int registered(struct nhictl *x, const char *name, struct known *k)
{
	sqlite3_stmt *st = reg_prep_cached(x, "SELECT id, (SELECT count(*) FROM identity_host h "
					   "WHERE h.identity_id = identity.id), uid FROM identity "
					   "WHERE name = ? AND state != 'retired'", "s", name);
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		k->id = sqlite3_column_int64(st, 0);
		k->hosts = sqlite3_column_int(st, 1);
		k->uid = (uint32_t)sqlite3_column_int64(st, 2);
	}
	reg_release(st);
	return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : reg_dberr(x);
}

/* The registered identity (not retired) that has uid, into name; 1, 0 or
 * NHI_ERR_DB. */
static int uid_owner(struct nhictl *x, uint32_t uid, char *name, size_t len)
{
	sqlite3_stmt *st = reg_prep_cached(x, "SELECT name FROM identity WHERE uid = ? AND "
					   "state != 'retired'", "u", uid);
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		col_cpy(name, len, st, 0);
	reg_release(st);
	return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : reg_dberr(x);
}

/* Did nhi issue this key ("type base64") to the identity?  1, 0, NHI_ERR_DB. */
static int issued(struct nhictl *x, int64_t id, const char *key)
{
	sqlite3_stmt *st = reg_prep_cached(x, "SELECT public_part FROM credential WHERE "
					   "identity_id = ? AND kind = 'ssh-key' AND state != 'revoked'",
					   "i", id);
	size_t k = strlen(key);
	int r, found = 0;

	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *pub = (const char *)sqlite3_column_text(st, 0);

		if (pub != NULL && strncmp(pub, key, k) == 0 && (pub[k] == '\0' || pub[k] == ' '))
			found = 1;
	}
	reg_release(st);
	return r == SQLITE_DONE ? found : reg_dberr(x);
}

static const char *art_name(enum disc_art k)
{
	static const char *const n[] = { "authorized key", "crontab entry", "systemd unit",
					 "sudoers rule", "process", "credential file" };
	return n[k];
}

/* The findings of a scan.  accounts: also NHI1-UNREGISTERED and
 * NHI1-SYSTEM-LOGIN (discover; audit reports what nhi governs and leaks,
 * NHI1-SHADOWED included). */
static int disc_findings(struct nhictl *x, const struct disc *d, struct findings *f,
			 int accounts)
{
	char fix[512];

	for (size_t i = 0; i < d->n_acc; i++) {
		const struct disc_account *a = &d->acc[i];
		struct known k = { 0, 0, 0 };
		int reg = registered(x, a->name, &k);

		if (reg < 0)
			return reg;
		/* a local account that takes an identity's name or uid: with
		 * 'files' before nhi in nsswitch.conf it is what programs get
		 * (pam_nhi refuses the name: uid-mismatch) */
		if (reg && a->uid != k.uid) {
			snprintf(fix, sizeof(fix), "userdel %s (the local account), or give the "
				 "identity up: nhictl retire %s", a->name, a->name);
			finding_add(x, f, "NHI1-SHADOWED", a->name, 0, fix,
				    "a local account of this name has uid %u; the identity's is %u",
				    a->uid, k.uid);
		} else if (!reg) {
			char other[64];
			int o = uid_owner(x, a->uid, other, sizeof(other));

			if (o < 0)
				return o;
			if (o == 1) {
				snprintf(fix, sizeof(fix), "userdel %s, or give it another uid "
					 "(usermod -u)", a->name);
				finding_add(x, f, "NHI1-SHADOWED", a->name, 0, fix,
					    "local account with uid %u, the uid of identity %s: files "
					    "and processes of one are the other's", a->uid, other);
			}
		}
		if (accounts && a->service && !reg) {
			snprintf(fix, sizeof(fix), "nhictl adopt %s --owner OWNER --expires DATE",
				 a->name);
			finding_add(x, f, "NHI1-UNREGISTERED", a->name, 0, fix,
				    "uid %u is a service account by nhi's classification, not registered",
				    a->uid);
		}
		if (accounts && a->system && (a->login_shell || a->password)) {
			snprintf(fix, sizeof(fix), "usermod -s /usr/sbin/nologin -L %s", a->name);
			finding_add(x, f, "NHI1-SYSTEM-LOGIN", a->name, 0, fix,
				    "system account (uid %u)%s%s%s", a->uid,
				    a->login_shell ? " with login shell " : "",
				    a->login_shell ? (a->shell[0] ? a->shell : "/bin/sh") : "",
				    a->password == 1 ? " with a usable password hash" :
				    a->password == 2 ? " with an empty password" : "");
		}
		for (size_t n = 0; n < a->n_items; n++) {
			const struct disc_item *it = &a->items[n];
			int r;

			if (it->kind == DISC_CRED) {
				snprintf(fix, sizeof(fix), "chmod 600 %s (or move it out of reach)", it->path);
				finding_add(x, f, "NHI2-CRED-FILE-READABLE", a->name, 0, fix,
					    "%s: %s, mode %04o", it->path, it->text, it->mode);
			} else if (it->kind == DISC_SUDO && (reg || a->service)) {
				snprintf(fix, sizeof(fix), "remove or narrow the rule in %s line %ld "
					 "(visudo -f %s)", it->path, it->line, it->path);
				finding_add(x, f, "NHI5-SUDO", a->name, 0, fix, "%s:%ld: a sudoers rule names %s",
					    it->path, it->line, a->name);
			} else if (it->kind == DISC_AKEY && reg) {
				if ((r = issued(x, k.id, it->key)) < 0)
					return r;
				if (r == 0) {
					snprintf(fix, sizeof(fix), "remove line %ld of %s; issue keys with "
						 "'nhictl cred add %s --kind ssh-key'", it->line, it->path,
						 a->name);
					finding_add(x, f, "NHI4-KEY-NOT-ISSUED", a->name, 0, fix,
						    "%s:%ld: %s key nhi did not issue", it->path, it->line,
						    it->text);
				}
				if (k.hosts > 0 && it->from == NULL) {
					snprintf(fix, sizeof(fix), "add from=\"HOSTS\" to line %ld of %s",
						 it->line, it->path);
					finding_add(x, f, "NHI4-KEY-NO-FROM", a->name, 0, fix,
						    "%s:%ld: %s key without from=, the identity is scoped "
						    "to %d host(s)", it->path, it->line, it->text, k.hosts);
				}
			}
		}
	}
	for (size_t i = 0; i < d->n_leaks; i++) {
		const struct disc_leak *l = &d->leaks[i];

		switch (l->kind) {
		case DISC_TOKEN:
			snprintf(fix, sizeof(fix), "chmod 600 %s (or move it), then 'nhictl rotate' "
				 "the token", l->path);
			finding_add(x, f, "NHI2-TOKEN-READABLE", l->path, 0, fix,
				    "%s:%ld: an nhi token, file mode %04o", l->path, l->line, l->mode);
			break;
		case DISC_PRIVKEY:
			snprintf(fix, sizeof(fix), "chmod 600 %s (or move it), then replace the key",
				 l->path);
			finding_add(x, f, "NHI2-KEY-READABLE", l->path, 0, fix,
				    "%s:%ld: %s, file mode %04o", l->path, l->line, l->what, l->mode);
			break;
		case DISC_UNIT_ENV:
			snprintf(fix, sizeof(fix), "move the secret out of %s into a credential "
				 "(LoadCredential=) or a root-only EnvironmentFile=", l->path);
			finding_add(x, f, "NHI6-UNIT-ENV-SECRET", l->path, 0, fix,
				    "%s:%ld: Environment= holds a secret (%s)", l->path, l->line, l->what);
			break;
		case DISC_UNIT_DROPIN:
		case DISC_UNIT_WRITABLE:
			snprintf(fix, sizeof(fix), "chmod %s %s", l->kind == DISC_UNIT_DROPIN ?
				 "600" : "go-w", l->path);
			finding_add(x, f, "NHI6-UNIT-READABLE", l->path, 0, fix, "%s: %s %s, mode %04o",
				    l->path, l->what, l->kind == DISC_UNIT_DROPIN ?
				    "others can read" : "others can write", l->mode);
			break;
		}
	}
	return 0;
}

int audit_host(struct nhictl *x, struct audit_ctx *a)
{
	struct disc d;
	int r;

	if (!a->host)
		return 0;
	r = disc_scan(x, a->root, 0, &d);
	if (r == 0)
		r = disc_findings(x, &d, a->f, 0);
	disc_free(&d);
	return r;
}

static void item_json(struct json *j, const struct disc_item *it)
{
	json_obj(j);
	switch (it->kind) {
	case DISC_PROC:
		json_kint(j, "pid", it->line);
		json_kstr(j, "comm", it->text);
		break;
	case DISC_AKEY:
		json_kstr(j, "path", it->path);
		json_kint(j, "line", it->line);
		json_kstr(j, "type", it->text);
		json_kstr(j, "from", it->from);
		json_kbool(j, "command", it->command);
		json_klist(j, "options", it->options);
		break;
	case DISC_CRED:
		json_kstr(j, "path", it->path);
		json_kstr(j, "kind", it->text);
		{
			char m[8];

			snprintf(m, sizeof(m), "%04o", it->mode);
			json_kstr(j, "mode", m);
		}
		break;
	default:
		json_kstr(j, "path", it->path);
		json_kint(j, "line", it->line);
		json_kstr(j, it->kind == DISC_CRON ? "schedule" : it->kind == DISC_UNIT ? "setting" :
			  "rule", it->text);
		break;
	}
	json_obj_end(j);
}

static const char *const art_keys[] = { "authorized_keys", "crontab", "units", "sudoers",
					"processes", "credential_files" };

static int account_json(struct nhictl *x, struct json *j, const struct disc *d)
{
	json_key(j, "accounts");
	json_arr(j);
	for (size_t i = 0; i < d->n_acc; i++) {
		const struct disc_account *a = &d->acc[i];
		struct known k;
		int reg = registered(x, a->name, &k);

		if (reg < 0)
			return reg;
		json_obj(j);
		json_kstr(j, "name", a->name);
		json_kint(j, "uid", a->uid);
		json_kint(j, "gid", a->gid);
		json_kstr(j, "home", a->home);
		json_kstr(j, "shell", a->shell);
		json_kbool(j, "service", a->service);
		json_kbool(j, "system", a->system);
		json_kbool(j, "registered", reg);
		json_kbool(j, "login_shell", a->login_shell);
		json_kstr(j, "password", a->password == 1 ? "usable" : a->password == 2 ? "empty" :
			  "none");
		for (int kind = DISC_AKEY; kind <= DISC_CRED; kind++) {
			if (kind == DISC_PROC && !d->procs) {
				json_key(j, art_keys[kind]);
				json_null(j);
				continue;
			}
			json_key(j, art_keys[kind]);
			json_arr(j);
			for (size_t n = 0; n < a->n_items; n++)
				if ((int)a->items[n].kind == kind)
					item_json(j, &a->items[n]);
			json_arr_end(j);
		}
		json_obj_end(j);
	}
	json_arr_end(j);
	return 0;
}

static void account_text(const struct disc *d)
{
	for (size_t i = 0; i < d->n_acc; i++) {
		const struct disc_account *a = &d->acc[i];

		if (a->n_items == 0)
			continue;
		printf("%s (uid %u%s):\n", a->name, a->uid, a->service ? ", service account" : "");
		for (size_t n = 0; n < a->n_items; n++) {
			const struct disc_item *it = &a->items[n];

			if (it->kind == DISC_PROC)
				printf("  process: pid %ld %s\n", it->line, it->text);
			else if (it->kind == DISC_AKEY)
				printf("  %s: %s:%ld %s%s%s%s\n", art_name(it->kind), it->path, it->line,
				       it->text, it->from ? " from=" : " (no from=)",
				       it->from ? it->from : "", it->command ? " command=" : "");
			else if (it->kind == DISC_CRED)
				printf("  %s: %s (%s, mode %04o)\n", art_name(it->kind), it->path,
				       it->text, it->mode);
			else
				printf("  %s: %s:%ld %s\n", art_name(it->kind), it->path, it->line, it->text);
		}
	}
}

static int discover(struct nhictl *x, const char *root, int fail_on)
{
	struct findings f;
	struct json j;
	struct disc d;
	int r;

	r = disc_scan(x, root, 1, &d);
	if (r < 0)
		return EXIT_FAIL;
	findings_init(&f, NULL);
	if (x->json) {
		json_init(&j, stdout);
		json_obj(&j);
		json_kstr(&j, "root", root[0] ? root : "/");
		json_kint(&j, "files_seen", d.files_seen);
		json_kint(&j, "files_read", d.files_read);
		r = account_json(x, &j, &d);
		json_key(&j, "findings");
		json_arr(&j);
		f.j = &j;
	} else {
		account_text(&d);
	}
	if (r == 0)
		r = disc_findings(x, &d, &f, 1);
	if (x->json) {
		json_arr_end(&j);
		for (int sk = 0; sk < 2; sk++) {
			json_key(&j, sk ? "skipped" : "notes");
			json_arr(&j);
			for (size_t i = 0; i < d.n_notes; i++)
				if (d.notes[i].skipped == sk) {
					json_obj(&j);
					json_kstr(&j, "path", d.notes[i].path);
					json_kstr(&j, "why", d.notes[i].why);
					json_obj_end(&j);
				}
			json_arr_end(&j);
		}
		json_key(&j, "counts");
		json_obj(&j);
		for (int i = 0; i < 4; i++)
			json_kint(&j, finding_sev_name((enum finding_sev)i), f.by_sev[i]);
		json_obj_end(&j);
		json_obj_end(&j);
		json_end(&j);
	} else {
		for (size_t i = 0; i < d.n_notes; i++)
			printf("note: %s: %s\n", d.notes[i].path, d.notes[i].why);
		if (f.n == 0)
			printf("no findings\n");
	}
	disc_free(&d);
	if (r < 0)
		return EXIT_FAIL;
	return findings_exit(&f, fail_on);
}

int cmd_discover(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "root", required_argument, NULL, 'R' },
		{ "fail-on", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = "";
	int c, fail_on = -1;
	enum finding_sev sev;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': x->json = 1; break;
		case 'R':
			if (optarg[0] != '/')
				return nerr(x, EXIT_USAGE, "--root: '%s' is not an absolute path", optarg);
			root = strcmp(optarg, "/") == 0 ? "" : optarg;
			break;
		case 'F':
			if (finding_sev_parse(optarg, &sev) < 0 || sev == SEV_INFO)
				return nerr(x, EXIT_USAGE, "--fail-on: expected low, medium or high, "
					    "not '%s'", optarg);
			fail_on = (int)sev;
			break;
		case 'h': fputs(discover_help, stdout); return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	if (optind < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	return discover(x, root, fail_on);
}

/* pam_nhi.c - enforce nhi's policy for non-human identities at login.
 *
 * account   the decision of docs/design.md's table (nhi_account_check(), the
 *           very code `nhictl check` runs), logged and told to the user.
 *           With PAM_RUSER set (su, runuser) and USER a registered
 *           identity: a registered RUSER needs a live delegation RUSER ->
 *           USER in the snapshot (else "no-delegation"), a human RUSER
 *           meets human_use (logged "human-use"); root and an empty RUSER
 *           change nothing (nhi_account_check_ruser);
 * session   the same decision again, for stacks without an account phase
 *           (runuser: auth pam_rootok, session only): a registered identity
 *           the policy denies is refused (PAM_PERM_DENIED, PAM_ACCT_EXPIRED),
 *           a service account while the snapshot or nhi.conf is unusable
 *           too (PAM_AUTHINFO_UNAVAIL), logged "session-deny" and told;
 *           humans, root and unregistered accounts are PAM_IGNORE (the
 *           account phase answers for those).  An allowed registered
 *           identity gets one usage record "EPOCH USER SERVICE HOST RHOST
 *           [ruser=R] [tty=T] [human=REASON] [key=TYPE:BASE64]" appended
 *           to usage_log (record_usage);
 * password  refuses a manual password change of a registered identity
 *           (rotation goes through nhictl);
 * auth      the passwords nhictl issued to registered identities, old
 *           ones in a rotation's grace too (root-only nhi.shadow, checked
 *           with crypt(3) from libcrypt, which libpam and pam_unix use as
 *           well); PAM_IGNORE, without a prompt, for everyone else.
 *
 * Arguments: config=FILE, and every key of nhi.conf as key=value (bare
 * "debug", "quiet", "audit").  The module reads the snapshot only; it
 * never writes anything but the usage record, never links anything but
 * libc, libpam and nhi's own libc-only library.
 *
 * Failure policy:
 *  - a configuration error never locks a human out.  nhi.conf and the
 *    arguments are read leniently (NHI_CONF_LENIENT): a bad line is
 *    skipped, an untrusted or unreadable file gives the defaults.  When a
 *    problem touches what the module uses (unknown key, line without '=',
 *    bad value of a key pam_nhi reads, untrusted file) the configuration
 *    is broken: users are still classified (built-in classification plus
 *    the good lines), humans and root get PAM_IGNORE in every phase and
 *    every service account is refused (PAM_AUTHINFO_UNAVAIL, reason
 *    config-error) in account, session and password.  A bad value of a
 *    key only nhictl reads (max_lifetime, ldap_*, ...) changes nothing
 *    here.  Either way the first problem is logged once per PAM handle,
 *    with file, line and value, and "run 'nhictl config check'";
 *  - a missing, corrupt or untrusted snapshot fails closed for service
 *    accounts (PAM_AUTHINFO_UNAVAIL) unless on_unavailable = ignore;
 *    humans are not affected (PAM_IGNORE);
 *  - mode = audit logs "audit-deny" for what would have been denied and
 *    returns PAM_SUCCESS; the user is not told about the denial (a silent
 *    roll-out), only about warnings.  In the password phase audit mode
 *    returns PAM_IGNORE instead of refusing.
 *
 * Every decision is logged through one sink (nhi_log()) as
 * "EVENT; user=NAME service=SVC [rhost=HOST] reason=REASON [warn=...]".
 * Decisions about humans and root are logged only with "debug".  Nothing
 * secret ever reaches the log: the only secret the module sees is the
 * password typed in the auth phase, which is compared and never logged.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#define PAM_SM_PASSWORD
#define PAM_SM_AUTH
#include <security/pam_modules.h>
#include <security/pam_ext.h>

#include "nhi_ascii.h"
#include "nhi_conf.h"
#include "nhi_err.h"
#include "nhi_policy.h"
#include "nhi_pwhash.h"
#include "nhi_snapshot.h"

/* Longest field copied into a log line or usage record. */
#define FIELD_MAX 128

/* The one logging sink of the module. */
static void nhi_log(pam_handle_t *pamh, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void nhi_log(pam_handle_t *pamh, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pam_vsyslog(pamh, prio, fmt, ap);
	va_end(ap);
}

/* Copy a string from an untrusted source (PAM_USER, PAM_RHOST, the service
 * name) into dst so that it is one printable word: no spaces, no control
 * characters, no '=' or ';' (which would forge a log field).  NULL or ""
 * gives "-". */
static const char *safe_word(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	if (src == NULL || *src == '\0')
		src = "-";
	for (; *src != '\0' && i + 1 < len; src++) {
		unsigned char ch = (unsigned char)*src;

		dst[i++] = (ch > 0x20 && ch < 0x7f && ch != '=' && ch != ';') ? (char)ch : '?';
	}
	dst[i] = '\0';
	return dst;
}

struct ctx {
	pam_handle_t *pamh;
	struct nhi_conf conf;
	int silent;                  /* PAM_SILENT or quiet: no conversation */
	const char *user;
	const char *ruser;           /* PAM_RUSER, or NULL */
	char s_user[FIELD_MAX], s_service[FIELD_MAX], s_rhost[FIELD_MAX], s_ruser[FIELD_MAX];
	char err[NHI_CONF_MSG_MAX];
};

/* The first problem of nhi.conf or the arguments, once per PAM handle
 * (every phase reads the configuration again). */
static void log_conf_problem(struct ctx *x, int argc, const char **argv)
{
	static const char logged_key[] = "pam_nhi_conf_logged";
	const void *seen = NULL;
	const char *file = NULL;
	char more[64] = "";

	if (pam_get_data(x->pamh, logged_key, &seen) == PAM_SUCCESS && seen != NULL)
		return;
	pam_set_data(x->pamh, logged_key, (void *)logged_key, NULL);
	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], "config=", 7) == 0)
			file = argv[i] + 7;
	if (file == NULL)
		file = nhi_conf_default_path();
	if (x->conf.n_problems > 1)
		snprintf(more, sizeof(more), " (and %u more problem%s)", x->conf.n_problems - 1,
			 x->conf.n_problems > 2 ? "s" : "");
	/* an argument's problem is in the PAM service file, which
	 * 'nhictl config check' does not read: say where it is */
	if (x->conf.broken && nhi_prefix(x->conf.problem, "module argument"))
		nhi_log(x->pamh, LOG_ERR, "configuration broken: %s%s; humans are left alone, "
			"service accounts are refused until it is fixed: correct pam_nhi's "
			"arguments in the PAM configuration of service '%s' (/etc/pam.d/%s)",
			x->conf.problem, more, x->s_service, x->s_service);
	else if (x->conf.broken)
		nhi_log(x->pamh, LOG_ERR, "configuration broken: %s%s; humans are left alone, "
			"service accounts are refused until it is fixed: run 'nhictl config check %s'",
			x->conf.problem, more, file);
	else
		nhi_log(x->pamh, LOG_WARNING, "configuration: %s%s; not used by pam_nhi, but "
			"nhictl refuses it: run 'nhictl config check %s'", x->conf.problem, more, file);
}

/* Common start of every phase: user, service, rhost, configuration.
 * Returns PAM_SUCCESS or the code the phase should return. */
static int ctx_init(struct ctx *x, pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const void *item = NULL;
	int r;

	memset(x, 0, sizeof(*x));
	x->pamh = pamh;
	r = pam_get_user(pamh, &x->user, NULL);
	if (r != PAM_SUCCESS) {
		nhi_log(pamh, LOG_ERR, "cannot get the user name: %s", pam_strerror(pamh, r));
		return r == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_USER_UNKNOWN;
	}
	if (x->user == NULL || *x->user == '\0')
		return PAM_USER_UNKNOWN;
	safe_word(x->s_user, sizeof(x->s_user), x->user);
	if (pam_get_item(pamh, PAM_SERVICE, &item) != PAM_SUCCESS)
		item = NULL;
	safe_word(x->s_service, sizeof(x->s_service), item);
	item = NULL;
	if (pam_get_item(pamh, PAM_RHOST, &item) != PAM_SUCCESS)
		item = NULL;
	safe_word(x->s_rhost, sizeof(x->s_rhost), item);
	item = NULL;
	if (pam_get_item(pamh, PAM_RUSER, &item) != PAM_SUCCESS)
		item = NULL;
	x->ruser = item;
	safe_word(x->s_ruser, sizeof(x->s_ruser), item);

	nhi_conf_load_args(&x->conf, argc, argv, x->err, sizeof(x->err));
	if (x->conf.n_problems > 0)
		log_conf_problem(x, argc, argv);
	x->silent = (flags & PAM_SILENT) != 0 || x->conf.quiet;
	return PAM_SUCCESS;
}

/* Open the snapshot (NULL when missing or unusable; logged). */
static struct nhi_snap *open_snapshot(struct ctx *x)
{
	struct nhi_snap *snap = NULL;
	int r;

	r = nhi_snap_open(x->conf.cache_path, NHI_SNAP_VERIFY_READ | NHI_SNAP_TRUST, &snap,
			  x->err, sizeof(x->err));
	if (r < 0)
		return NULL;  /* logged by decide() when it matters */
	return snap;
}

/* Run the account check.  The snapshot error, if any, is in x->err. */
static void decide(struct ctx *x, struct nhi_decision *d)
{
	struct nhi_snap *snap = open_snapshot(x);
	const void *svc = NULL;

	if (pam_get_item(x->pamh, PAM_SERVICE, &svc) != PAM_SUCCESS)
		svc = NULL;
	nhi_account_check_ruser(&x->conf, snap, x->user, x->ruser, NULL, svc, time(NULL), d);
	if (snap == NULL && d->would == NHI_V_UNAVAIL)
		nhi_log(x->pamh, LOG_ERR, "snapshot unavailable: %s", x->err);
	else if (d->snapshot_damaged && d->would == NHI_V_UNAVAIL)
		nhi_log(x->pamh, LOG_ERR, "snapshot unavailable: %s: checksum mismatch in what the "
			"lookup of %s read (corrupt file)", x->conf.cache_path, x->user);
	nhi_snap_close(snap);
}

static void warn_words(unsigned w, char *buf, size_t len)
{
	static const struct { unsigned bit; const char *word; } names[] = {
		{ NHI_W_EXPIRY_NEAR, "expiry-near" },
		{ NHI_W_REVIEW_NEAR, "review-near" },
		{ NHI_W_REVIEW_OVERDUE, "review-overdue" },
		{ NHI_W_ORPHANED, "orphaned" },
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(w & names[i].bit))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? "," : " warn=",
				 names[i].word);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

/* Log one decision: "EVENT; user=.. service=.. [rhost=..] reason=.. [ruser=..]
 * [warn=..]". */
static void log_decision(struct ctx *x, int prio, const char *event, const char *reason,
			 unsigned warnings)
{
	/* the optional fields as pieces of the format, not copies: a PAM
	 * call's stack stays small (test-pam's 16 KB thread, under ASan too) */
	int rh = strcmp(x->s_rhost, "-") != 0, ru = strcmp(x->s_ruser, "-") != 0;
	char warn[128];

	warn_words(warnings, warn, sizeof(warn));
	nhi_log(x->pamh, prio, "%s; user=%s service=%s%s%s reason=%s%s%s%s", event, x->s_user,
		x->s_service, rh ? " rhost=" : "", rh ? x->s_rhost : "", reason,
		ru ? " ruser=" : "", ru ? x->s_ruser : "", warn);
}

static void tell(struct ctx *x, int style, const char *msg)
{
	if (x->silent || msg == NULL || *msg == '\0')
		return;
	if (style == PAM_ERROR_MSG)
		pam_error(x->pamh, "%s", msg);
	else
		pam_info(x->pamh, "%s", msg);
}

/* A denial (or mode=audit's would-be denial) as PAM's code, logged as
 * PREFIX "deny" / PREFIX "audit-deny" and told to the user. */
static int refuse(struct ctx *x, const struct nhi_decision *d, const char *prefix)
{
	char event[32];
	int r;

	switch (d->verdict) {
	case NHI_V_ALLOW:  /* mode = audit: told nothing */
		snprintf(event, sizeof(event), "%saudit-deny", prefix);
		log_decision(x, LOG_NOTICE, event, nhi_reason_str(d->reason), d->warnings);
		return PAM_SUCCESS;
	case NHI_V_EXPIRED:
		r = PAM_ACCT_EXPIRED;
		break;
	case NHI_V_UNAVAIL:
		r = PAM_AUTHINFO_UNAVAIL;
		break;
	case NHI_V_DENY:
	default:
		r = PAM_PERM_DENIED;
		break;
	}
	snprintf(event, sizeof(event), "%sdeny", prefix);
	log_decision(x, LOG_NOTICE, event, nhi_reason_str(d->reason), d->warnings);
	tell(x, PAM_ERROR_MSG, d->message);
	return r;
}

/* Run one phase with its context on the heap: the configuration and the
 * messages are some 9 KB, and a caller's thread may have a 16 KB stack.
 * 'no_user' is what the phase returns when ctx_init fails (-1: its code). */
static int run_phase(pam_handle_t *pamh, int flags, int argc, const char **argv,
		     int (*phase)(struct ctx *x), int no_user)
{
	struct ctx *x = malloc(sizeof(*x));
	int r;

	if (x == NULL) {
		nhi_log(pamh, LOG_CRIT, "out of memory");
		return PAM_BUF_ERR;
	}
	r = ctx_init(x, pamh, flags, argc, argv);
	if (r == PAM_SUCCESS)
		r = phase(x);
	else if (no_user >= 0)
		r = no_user;
	free(x);
	return r;
}

static int acct_mgmt(struct ctx *x)
{
	struct nhi_decision d;
	int r;

	decide(x, &d);

	switch (d.verdict) {
	case NHI_V_IGNORE:
		if (d.would == NHI_V_UNAVAIL) {
			/* on_unavailable = ignore: worth a line even without debug */
			log_decision(x, LOG_WARNING, "ignore", nhi_reason_str(d.reason), 0);
		} else if (x->conf.debug) {
			log_decision(x, LOG_DEBUG, "ignore", nhi_reason_str(d.reason), 0);
		}
		r = PAM_IGNORE;
		break;
	case NHI_V_ALLOW:
		if (d.warnings & NHI_W_AUDIT)
			return refuse(x, &d, "");
		/* a human's use of an identity stands out (OWASP NHI10) */
		log_decision(x, d.reason == NHI_R_HUMAN_USE ? LOG_NOTICE : LOG_INFO, "allow",
			     nhi_reason_str(d.reason), d.warnings);
		tell(x, PAM_TEXT_INFO, d.message);
		r = PAM_SUCCESS;
		break;
	default:
		r = refuse(x, &d, "");
		break;
	}
	return r;
}

/* An interactive terminal (a tty or pty), not a pseudo name such as
 * sshd's "ssh" or cron's "cron": a person is at the keyboard. */
static int interactive_tty(const char *tty)
{
	return strncmp(tty, "/dev/", 5) == 0 || strncmp(tty, "tty", 3) == 0 ||
	       strncmp(tty, "pts/", 4) == 0 || strcmp(tty, "console") == 0;
}

/* The key sshd accepted, from SSH_AUTH_INFO_0 in the PAM environment
 * ("publickey TYPE BASE64", one method a line; sshd sets it with
 * ExposeAuthInfo): "TYPE:BASE64" into dst, or "" when there is none or it
 * is not well formed (nothing of it is then recorded). */
static void auth_key(pam_handle_t *pamh, char *dst, size_t len)
{
	const char *info = pam_getenv(pamh, "SSH_AUTH_INFO_0"), *p, *t, *b;
	size_t tl, bl;

	dst[0] = '\0';
	for (p = info; p != NULL && *p != '\0'; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, "publickey ", 10) != 0)
			continue;
		t = p + 10;
		tl = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@.-");
		if (tl == 0 || tl > 64 || t[tl] != ' ')
			return;
		b = t + tl + 1;
		bl = strspn(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=");
		if (bl == 0 || (b[bl] != '\0' && b[bl] != '\n' && b[bl] != ' ') ||
		    tl + bl + 2 > len)
			return;
		snprintf(dst, len, "%.*s:%.*s", (int)tl, t, (int)bl, b);
		return;
	}
}

/* Append one usage record (docs/design.md "Usage records"):
 *   EPOCH USER SERVICE HOST RHOST [ruser=R] [tty=T] [human=REASON] [key=TYPE:B64]
 * the optional fields only when known; every value one printable word
 * (safe_word: RUSER and TTY come from the client side).  human= is
 * "human-use" (a human RUSER, as the account phase decided) or
 * "interactive" (a session on a terminal).  Failures are logged, never
 * returned. */
#define KEY_MAX 4096
static void record_usage(struct ctx *x, const struct nhi_decision *d)
{
	/* on the heap: a PAM call's stack stays small */
	struct { char line[6 * FIELD_MAX + KEY_MAX + 128], key[KEY_MAX]; } *b = malloc(sizeof(*b));
	char hostbuf[256], s_host[FIELD_MAX], s_tty[FIELD_MAX], *line, *key;
	const char *human = NULL;
	const void *tty = NULL;
	size_t cap = sizeof(b->line);
	int fd = -1, n;

	if (b == NULL) {
		nhi_log(x->pamh, LOG_ERR, "out of memory (usage of %s not recorded)", x->s_user);
		return;
	}
	line = b->line;
	key = b->key;
	nhi_conf_hostname(&x->conf, hostbuf, sizeof(hostbuf));
	safe_word(s_host, sizeof(s_host), hostbuf);
	if (pam_get_item(x->pamh, PAM_TTY, &tty) != PAM_SUCCESS)
		tty = NULL;
	safe_word(s_tty, sizeof(s_tty), tty);
	if (d->reason == NHI_R_HUMAN_USE)
		human = nhi_reason_str(d->reason);
	else if (interactive_tty(s_tty))
		human = "interactive";
	auth_key(x->pamh, key, KEY_MAX);
	n = snprintf(line, cap, "%lld %s %s %s %s%s%s%s%s%s%s%s%s\n", (long long)time(NULL),
		     x->s_user, x->s_service, s_host, x->s_rhost,
		     strcmp(x->s_ruser, "-") ? " ruser=" : "", strcmp(x->s_ruser, "-") ? x->s_ruser : "",
		     strcmp(s_tty, "-") ? " tty=" : "", strcmp(s_tty, "-") ? s_tty : "",
		     human ? " human=" : "", human ? human : "", key[0] ? " key=" : "", key);
	if (n < 0 || (size_t)n >= cap) {
		nhi_log(x->pamh, LOG_ERR, "usage record too long; user=%s", x->s_user);
		goto out;
	}
	/* O_NONBLOCK: a FIFO planted there must not hang the login (it is then
	 * refused below as not a regular file) */
	fd = open(x->conf.usage_log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
		  O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0) {
		nhi_log(x->pamh, LOG_ERR, "%s: %s (usage of %s not recorded)", x->conf.usage_log,
			strerror(errno), x->s_user);
		goto out;
	}
	if (nhi_check_trusted_fd(fd, x->conf.usage_log, x->err, sizeof(x->err)) < 0) {
		nhi_log(x->pamh, LOG_ERR, "%s (usage of %s not recorded)", x->err, x->s_user);
		goto out;
	}
	/* one write(2) with O_APPEND: concurrent sessions never interleave */
	if (write(fd, line, (size_t)n) != n)
		nhi_log(x->pamh, LOG_ERR, "%s: write: %s (usage of %s not recorded)",
			x->conf.usage_log, strerror(errno), x->s_user);
out:
	if (fd >= 0)
		close(fd);
	free(b);
}

PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return run_phase(pamh, flags, argc, argv, acct_mgmt, -1);
}

static int open_session(struct ctx *x)
{
	struct nhi_decision d;
	int r;

	decide(x, &d);
	/* humans, root, on_unavailable = ignore; and accounts nhi does not
	 * know (unregistered service accounts are the account phase's) */
	if (d.verdict == NHI_V_IGNORE || (!d.registered && d.would != NHI_V_UNAVAIL)) {
		if (x->conf.debug)
			log_decision(x, LOG_DEBUG, "session-ignore", nhi_reason_str(d.reason), 0);
		return PAM_IGNORE;
	}
	/* a registered identity the policy denies, or a service account nhi
	 * cannot decide about (snapshot or nhi.conf unusable): refused here
	 * too, since runuser's stack has no account phase */
	if (d.verdict != NHI_V_ALLOW || (d.warnings & NHI_W_AUDIT)) {
		r = refuse(x, &d, "session-");
		if (r != PAM_SUCCESS || !d.registered)
			return r;
	}
	record_usage(x, &d);
	/* runuser has no account phase: a human's use is logged here too */
	if (d.reason == NHI_R_HUMAN_USE && !(d.warnings & NHI_W_AUDIT))
		log_decision(x, LOG_NOTICE, "session", nhi_reason_str(d.reason), 0);
	else if (x->conf.debug)
		log_decision(x, LOG_DEBUG, "session", "recorded", 0);
	return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	/* no user name: the account phase answers that */
	return run_phase(pamh, flags, argc, argv, open_session, PAM_IGNORE);
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_IGNORE;
}

static int chauthtok(struct ctx *x)
{
	struct nhi_decision d;
	char msg[256];

	decide(x, &d);
	if (d.registered) {
		/* refuse in PAM_PRELIM_CHECK too, before anyone is asked for a password */
		if (x->conf.mode == NHI_MODE_AUDIT) {
			log_decision(x, LOG_NOTICE, "audit-deny", "password-managed", 0);
			return PAM_IGNORE;
		}
		/* logged and told once: libpam skips PAM_UPDATE_AUTHTOK after a
		 * refused PAM_PRELIM_CHECK */
		log_decision(x, LOG_NOTICE, "deny", "password-managed", 0);
		snprintf(msg, sizeof(msg), "password of %s is managed by nhi; use nhictl rotate",
			 x->s_user);
		tell(x, PAM_ERROR_MSG, msg);
		return PAM_PERM_DENIED;
	}
	if (d.would == NHI_V_UNAVAIL) {
		/* a service account while the snapshot is unusable: fail closed */
		if (d.verdict == NHI_V_IGNORE)
			return PAM_IGNORE;
		if (x->conf.mode == NHI_MODE_AUDIT) {
			log_decision(x, LOG_NOTICE, "audit-deny", nhi_reason_str(d.reason), 0);
			return PAM_IGNORE;
		}
		log_decision(x, LOG_NOTICE, "deny", nhi_reason_str(d.reason), 0);
		return PAM_AUTHINFO_UNAVAIL;
	}
	return PAM_IGNORE;
}

PAM_EXTERN int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return run_phase(pamh, flags, argc, argv, chauthtok, -1);
}

/* ---- auth: the passwords nhictl issued ------------------------------- */

/* pam_set_data key: this module's authenticate accepted the password (for
 * setcred, which then answers PAM_SUCCESS). */
#define AUTH_DATA "pam_nhi_auth"

/* The options pam_get_authtok(3) reads from the module's own arguments
 * (try_first_pass: take the password an earlier module read; ...): not
 * nhi.conf keys, so they are left out of what the configuration parses. */
static int authtok_option(const char *arg)
{
	return strcmp(arg, "try_first_pass") == 0 || strcmp(arg, "use_first_pass") == 0 ||
	       strcmp(arg, "use_authtok") == 0;
}

/* Equal strings, compared in time that depends only on their lengths
 * (the length of a crypt(3) hash is no secret). */
static int const_equal(const char *a, const char *b)
{
	size_t n = strlen(a);
	unsigned char d = 0;

	if (n != strlen(b))
		return 0;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

struct pwcheck {
	const char *password;
	struct crypt_data *cd;       /* 32 KiB: on the heap, wiped */
	int matched, grace;
};

/* One usable hash of the identity (nhi_pwh_each): does the password give it? */
static int try_hash(void *ctx, const char *hash, int grace)
{
	struct pwcheck *c = ctx;
	const char *h = crypt_rn(c->password, hash, c->cd, (int)sizeof(*c->cd));
	int ok = h != NULL && h[0] != '*' && const_equal(h, hash);

	explicit_bzero(c->cd, sizeof(*c->cd));
	if (!ok)
		return 0;
	c->matched = 1;
	c->grace = grace;
	return 1;
}

/* Accept a password nhictl issued to a registered identity: any of its
 * usable hashes in the root-only password file (the active ones and, during
 * a rotation's grace, the old one), checked with crypt(3).  pam_unix
 * accepts the newest active one through nss_nhi's shadow entry already;
 * this phase is what makes the old one work during the grace (stack it
 * "[success=end default=ignore]" or "sufficient" next to pam_unix).
 *  - PAM_IGNORE, without asking for a password: root, humans, anyone not
 *    registered, and whenever the configuration or the snapshot is not
 *    usable (this phase never grants on doubt; pam_unix still decides);
 *  - PAM_SUCCESS: the password matches one of the hashes;
 *  - PAM_AUTH_ERR: it does not (or the identity has no usable password:
 *    suspended, expired, retired, revoked, past not-after);
 *  - PAM_AUTHINFO_UNAVAIL: the password file is missing, untrusted or
 *    damaged (logged).
 * The password is never logged; buffers that held work on it are wiped. */
static int authenticate(struct ctx *x)
{
	pam_handle_t *pamh = x->pamh;
	const char *pw = NULL;
	const void *svc = NULL;
	struct nhi_snap *snap = NULL;
	struct nhi_pwh *f = NULL;
	struct pwcheck c = { .matched = 0 };
	struct nhi_decision d;
	time_t now = time(NULL);
	int r, ret = PAM_IGNORE;

	snap = open_snapshot(x);
	if (snap == NULL) {
		if (x->conf.debug)
			nhi_log(pamh, LOG_DEBUG, "auth-ignore; user=%s: snapshot unavailable: %s",
				x->s_user, x->err);
		return PAM_IGNORE;
	}
	if (pam_get_item(pamh, PAM_SERVICE, &svc) != PAM_SUCCESS)
		svc = NULL;
	nhi_account_check(&x->conf, snap, x->user, NULL, svc, now, &d);
	if (!d.registered) {
		if (x->conf.debug)
			log_decision(x, LOG_DEBUG, "auth-ignore", nhi_reason_str(d.reason), 0);
		goto out;
	}
	/* the identity's password must not open the account that shadows
	 * it (whatever mode = audit would let the account phase do) */
	if (d.reason == NHI_R_UID_MISMATCH) {
		log_decision(x, LOG_NOTICE, "auth-deny", nhi_reason_str(d.reason), 0);
		ret = PAM_AUTH_ERR;
		goto out;
	}
	r = nhi_pwh_load(x->conf.shadow_file, snap, &f, x->err, sizeof(x->err));
	if (r < 0) {
		nhi_log(pamh, LOG_ERR, "password file unusable: %s", x->err);
		ret = PAM_AUTHINFO_UNAVAIL;
		goto out;
	}
	r = pam_get_authtok(pamh, PAM_AUTHTOK, &pw, NULL);
	if (r != PAM_SUCCESS || pw == NULL) {
		ret = r == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_AUTH_ERR;
		goto out;
	}
	c.password = pw;
	c.cd = calloc(1, sizeof(*c.cd));
	if (c.cd == NULL) {
		ret = PAM_BUF_ERR;
		goto out;
	}
	nhi_pwh_each(f, snap, x->user, now, try_hash, &c);
	if (c.matched) {
		log_decision(x, LOG_INFO, "auth", c.grace ? "password-in-grace" : "password", 0);
		pam_set_data(pamh, AUTH_DATA, (void *)AUTH_DATA, NULL);
		ret = PAM_SUCCESS;
	} else {
		log_decision(x, LOG_NOTICE, "auth-fail", "no-matching-password", 0);
		ret = PAM_AUTH_ERR;
	}
out:
	if (c.cd != NULL) {
		explicit_bzero(c.cd, sizeof(*c.cd));
		free(c.cd);
	}
	nhi_pwh_free(f);
	nhi_snap_close(snap);
	return ret;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const char *args[64];
	int n = 0;

	pam_set_data(pamh, AUTH_DATA, NULL, NULL);
	if (argc > (int)(sizeof(args) / sizeof(args[0]))) {
		nhi_log(pamh, LOG_ERR, "configuration error: more than %zu module arguments",
			sizeof(args) / sizeof(args[0]));
		return PAM_IGNORE;
	}
	for (int i = 0; i < argc; i++)
		if (!authtok_option(argv[i]))
			args[n++] = argv[i];
	/* no user or no memory: not ours to decide (logged by run_phase) */
	return run_phase(pamh, flags, n, args, authenticate, PAM_IGNORE);
}

/* Nothing to establish; PAM_SUCCESS after our own successful
 * authenticate (a stack that ended there takes setcred's answer from this
 * module alone), PAM_IGNORE otherwise. */
PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const void *ok = NULL;

	if (pam_get_data(pamh, AUTH_DATA, &ok) == PAM_SUCCESS && ok != NULL)
		return PAM_SUCCESS;
	return PAM_IGNORE;
}

/* ldap.c - connecting and binding to the directory (issue 3).
 *
 * One function, nhi_ldap_connect(), turns the ldap_* keys of nhi.conf into
 * a bound connection: each URI of ldap_uri in order, LDAPv3, no referrals,
 * timeouts so that a dead server costs seconds, certificates always
 * verified, StartTLS required on ldap:// unless configured otherwise.
 * nhi_ldap_connect_write() does the same with ldap_write_uri (the
 * providers) when set.  libldap's own referral chasing stays off (it
 * would rebind anonymously); nhi_ldap_follow_referral() follows a write's
 * referral with the same settings instead.
 *
 * TLS options are set on the connection handle, never globally, and are
 * followed by LDAP_OPT_X_TLS_NEWCTX: Debian's libldap uses GnuTLS, which
 * otherwise keeps using the global context (and fails with "Connect error").
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include "nhi_err.h"
#include "ldap.h"

#define PASSWORD_MAX 1024

const char *nhi_ldap_tls_name(enum nhi_ldap_tls t)
{
	switch (t) {
	case NHI_LDAP_TLS_STARTTLS:
		return "starttls";
	case NHI_LDAP_TLS_LDAPS:
		return "ldaps";
	case NHI_LDAP_TLS_LDAPI:
		return "ldapi";
	default:
		return "none";
	}
}

void nhi_ldap_reason(LDAP *ld, int rc, char *buf, size_t len)
{
	char *diag = NULL;

	if (ld != NULL)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	if (diag != NULL && *diag != '\0' && strcmp(diag, "(unknown error code)") != 0)
		snprintf(buf, len, "%s: %s", ldap_err2string(rc), diag);
	else
		snprintf(buf, len, "%s", ldap_err2string(rc));
	if (diag != NULL)
		ldap_memfree(diag);
}

int nhi_ldap_read_password(const char *path, char *out, size_t outlen,
			   char *err, size_t errlen)
{
	struct stat st;
	size_t n = 0;
	ssize_t k;
	int fd = -1, r = 0;

	if (outlen == 0)
		return NHI_ERR_RANGE;
	out[0] = '\0';
	if (path == NULL || *path == '\0')
		return nhi_seterr(err, errlen, NHI_ERR_INVAL,
				  "ldap_bind = simple needs ldap_bind_password_file");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		r = nhi_seterr(err, errlen, errno == ELOOP ? NHI_ERR_PERM : NHI_ERR_IO,
			       "password file %s: %s", path,
			       errno == ELOOP ? "is a symbolic link" : strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "password file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = nhi_seterr(err, errlen, NHI_ERR_PERM, "password file %s is not a regular file", path);
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		r = nhi_seterr(err, errlen, NHI_ERR_PERM,
			       "password file %s is owned by uid %u (must be root)",
			       path, (unsigned)st.st_uid);
		goto out;
	}
	if ((st.st_mode & 07777 & ~0600) != 0) {
		r = nhi_seterr(err, errlen, NHI_ERR_PERM,
			       "password file %s has mode %04o (must be 0600 or 0400)",
			       path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	for (;;) {
		if (n + 1 >= outlen) {
			r = nhi_seterr(err, errlen, NHI_ERR_RANGE, "password file %s is too long", path);
			goto out;
		}
		k = read(fd, out + n, outlen - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = nhi_seterr(err, errlen, NHI_ERR_IO, "password file %s: %s", path, strerror(errno));
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	out[n] = '\0';
	if (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	if (n > 0 && out[n - 1] == '\r')
		out[--n] = '\0';
	if (memchr(out, '\0', n) != NULL || strchr(out, '\n') != NULL) {
		r = nhi_seterr(err, errlen, NHI_ERR_INVAL,
			       "password file %s must hold one line", path);
		goto out;
	}
	if (n == 0)   /* an empty password would be an unauthenticated bind */
		r = nhi_seterr(err, errlen, NHI_ERR_INVAL, "password file %s is empty", path);
out:
	if (r < 0)
		explicit_bzero(out, outlen);
	if (fd >= 0)
		close(fd);
	return r;
}

/* The layout of Cyrus SASL's sasl_interact_t (stable since SASL 2.0), so
 * that nhictl needs no SASL headers to answer EXTERNAL's optional prompts
 * (the authorization identity) with their defaults. */
struct sasl_prompt {
	unsigned long id;
	const char *challenge, *prompt, *defresult;
	const void *result;
	unsigned len;
};
#define SASL_CB_LIST_END_ 0

static int sasl_defaults(LDAP *ld, unsigned flags, void *defaults, void *in)
{
	struct sasl_prompt *p;

	(void)ld;
	(void)flags;
	(void)defaults;
	for (p = in; p != NULL && p->id != SASL_CB_LIST_END_; p++) {
		p->result = p->defresult != NULL ? p->defresult : "";
		p->len = (unsigned)strlen(p->result);
	}
	return LDAP_SUCCESS;
}

/* libldap explains a failed TLS handshake (untrusted certificate, name
 * mismatch) only in its debug log; the error itself is "Connect error".
 * While connecting, the log goes to tls_log(), which keeps the last "TLS:"
 * line, so the message can say what was wrong with the certificate. */
static char tls_detail[256];

static void tls_log(const char *msg)
{
	size_t n;

	if (strncmp(msg, "TLS: ", 5) != 0 || strstr(msg, "can't connect") != NULL)
		return;
	snprintf(tls_detail, sizeof(tls_detail), "%s", msg);
	n = strlen(tls_detail);
	while (n > 0 && (tls_detail[n - 1] == '\n' || tls_detail[n - 1] == '.'))
		tls_detail[--n] = '\0';
}

static BER_LOG_PRINT_FN saved_print;
static int saved_level;

static void tls_log_start(int on)
{
	int level = 0x1;   /* LDAP_DEBUG_TRACE: certificate checks log there */

	tls_detail[0] = '\0';
	if (on) {
		saved_print = NULL;
		saved_level = 0;
		ber_get_option(NULL, LBER_OPT_LOG_PRINT_FN, &saved_print);
		ldap_get_option(NULL, LDAP_OPT_DEBUG_LEVEL, &saved_level);
		ber_set_option(NULL, LBER_OPT_LOG_PRINT_FN, (void *)tls_log);
		ldap_set_option(NULL, LDAP_OPT_DEBUG_LEVEL, &level);
	} else {
		ldap_set_option(NULL, LDAP_OPT_DEBUG_LEVEL, &saved_level);
		if (saved_print != NULL)
			ber_set_option(NULL, LBER_OPT_LOG_PRINT_FN, (void *)saved_print);
	}
}

/* The reason of a failure, with the TLS detail when there is one. */
static void fail_reason(LDAP *ld, int rc, const struct nhi_conf *c, char *buf, size_t len)
{
	char why[512];

	nhi_ldap_reason(ld, rc, why, sizeof(why));
	if (tls_detail[0] != '\0' && (rc == LDAP_CONNECT_ERROR || rc == LDAP_SERVER_DOWN))
		snprintf(buf, len, "%s (%s; certificate checked against %.200s)", why, tls_detail,
			 c->ldap_tls_cacert[0] ? c->ldap_tls_cacert : "the system's CAs");
	else
		snprintf(buf, len, "%s", why);
}

static int set_opt(LDAP *ld, int opt, const void *val, const char *what,
		   char *reason, size_t len)
{
	int rc = ldap_set_option(ld, opt, val);

	if (rc != LDAP_OPT_SUCCESS)
		snprintf(reason, len, "cannot set %s: %s", what, ldap_err2string(rc));
	return rc;
}

/* Connect to one URI and bind.  0 with *out, or -1 with the reason. */
static int try_uri(const struct nhi_conf *c, const char *uri, const char *password,
		   LDAP **out, enum nhi_ldap_tls *tls, char *reason, size_t len)
{
	struct timeval tv = { .tv_sec = (time_t)c->ldap_timeout, .tv_usec = 0 };
	int version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND;
	int proto = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, zero = 0;
	LDAP *ld = NULL;
	int rc, r = -1;

	*out = NULL;
	if (strncmp(uri, "ldapi://", 8) == 0)
		*tls = NHI_LDAP_TLS_LDAPI;
	else if (strncmp(uri, "ldaps://", 8) == 0)
		*tls = NHI_LDAP_TLS_LDAPS;
	else if (strncmp(uri, "ldap://", 7) == 0)
		*tls = c->ldap_starttls ? NHI_LDAP_TLS_STARTTLS : NHI_LDAP_TLS_NONE;
	else {
		snprintf(reason, len, "not an ldap://, ldaps:// or ldapi:// URI");
		goto out;
	}
	rc = ldap_initialize(&ld, uri);
	if (rc != LDAP_SUCCESS) {
		nhi_ldap_reason(NULL, rc, reason, len);
		goto out;
	}
	if (tv.tv_sec <= 0)
		tv.tv_sec = 10;
	if (set_opt(ld, LDAP_OPT_PROTOCOL_VERSION, &version, "protocol version", reason, len) ||
	    set_opt(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv, "network timeout", reason, len) ||
	    set_opt(ld, LDAP_OPT_TIMEOUT, &tv, "timeout", reason, len) ||
	    set_opt(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF, "referrals", reason, len))
		goto out;
	if (*tls == NHI_LDAP_TLS_STARTTLS || *tls == NHI_LDAP_TLS_LDAPS ||
	    c->ldap_tls_cert[0] != '\0') {
		if (set_opt(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand, "TLS certificate checks", reason, len) ||
		    set_opt(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &proto, "TLS minimum version", reason, len))
			goto out;
		if (c->ldap_tls_cacert[0] != '\0' &&
		    set_opt(ld, LDAP_OPT_X_TLS_CACERTFILE, c->ldap_tls_cacert, "ldap_tls_cacert", reason, len))
			goto out;
		if (c->ldap_tls_cert[0] != '\0' &&
		    set_opt(ld, LDAP_OPT_X_TLS_CERTFILE, c->ldap_tls_cert, "ldap_tls_cert", reason, len))
			goto out;
		if (c->ldap_tls_key[0] != '\0' &&
		    set_opt(ld, LDAP_OPT_X_TLS_KEYFILE, c->ldap_tls_key, "ldap_tls_key", reason, len))
			goto out;
		/* a context of this connection's own, with the settings above */
		if (set_opt(ld, LDAP_OPT_X_TLS_NEWCTX, &zero, "a TLS context (check "
			    "ldap_tls_cacert, ldap_tls_cert and ldap_tls_key)", reason, len))
			goto out;
	}
	if (*tls == NHI_LDAP_TLS_STARTTLS) {
		rc = ldap_start_tls_s(ld, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			char why[1024];

			fail_reason(ld, rc, c, why, sizeof(why));
			snprintf(reason, len, "StartTLS failed: %.900s", why);
			goto out;
		}
	}
	if (c->ldap_bind == NHI_LDAP_BIND_SIMPLE) {
		struct berval cred;

		cred.bv_val = (char *)password;
		cred.bv_len = strlen(password);
		rc = ldap_sasl_bind_s(ld, c->ldap_bind_dn, LDAP_SASL_SIMPLE, &cred,
				      NULL, NULL, NULL);
	} else
		rc = ldap_sasl_interactive_bind_s(ld, NULL, "EXTERNAL", NULL, NULL,
						  LDAP_SASL_QUIET, sasl_defaults, NULL);
	if (rc != LDAP_SUCCESS) {
		char why[1024];

		fail_reason(ld, rc, c, why, sizeof(why));
		snprintf(reason, len, "%s bind%s%s failed: %.900s",
			 c->ldap_bind == NHI_LDAP_BIND_SIMPLE ? "simple" : "SASL EXTERNAL",
			 c->ldap_bind == NHI_LDAP_BIND_SIMPLE ? " as " : "",
			 c->ldap_bind == NHI_LDAP_BIND_SIMPLE ? c->ldap_bind_dn : "", why);
		goto out;
	}
	*out = ld;
	ld = NULL;
	r = 0;
out:
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	return r;
}

/* A watchdog for what the timeouts do not cover.  libldap 2.5 (GnuTLS)
 * ignores LDAP_OPT_NETWORK_TIMEOUT during the TLS handshake of ldaps://:
 * a server that accepts the TCP connection but never answers (stopped,
 * hung) keeps it spinning in gnutls_handshake() for ever (ldapsearch
 * -o nettimeout=2 too).  There is no safe way back out of libldap from a
 * signal, so when a connection attempt overruns twice its timeout nhictl
 * says so and exits (status 1).  Nothing has been changed at that point. */
static char watchdog_msg[1400];
static size_t watchdog_len;

static void watchdog(int sig)
{
	(void)sig;
	if (write(STDERR_FILENO, watchdog_msg, watchdog_len) < 0) {
		/* nothing left to do */
	}
	_exit(1);
}

static void watchdog_arm(const char *uri, unsigned secs, struct sigaction *old)
{
	struct sigaction sa;

	snprintf(watchdog_msg, sizeof(watchdog_msg), "nhictl: %.1000s: no answer within %u "
		 "seconds (is the server stopped or hung?); giving up\n", uri, secs);
	watchdog_len = strlen(watchdog_msg);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watchdog;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, old);
	alarm(secs);
}

static void watchdog_disarm(const struct sigaction *old)
{
	alarm(0);
	sigaction(SIGALRM, old, NULL);
}

/* Add "URI: reason" to the list of failures. */
static void add_failure(char *buf, size_t len, const char *uri, const char *reason)
{
	size_t n = strlen(buf);

	if (n < len)
		snprintf(buf + n, len - n, "%s%.500s: %.1200s", n ? "; " : "", uri, reason);
}

/* Connect to the first URI of 'list' that answers and binds. */
static int connect_list(const struct nhi_conf *c, const char *list, const char *key,
			LDAP **out, struct nhi_ldap_info *info, char *err, size_t errlen)
{
	char uris[NHI_CONF_URI_MAX], password[PASSWORD_MAX];
	char reason[2048], failed[2048] = "";
	char *uri, *save = NULL;
	enum nhi_ldap_tls tls = NHI_LDAP_TLS_NONE;
	struct sigaction old_alrm;
	int r, tried = 0;

	*out = NULL;
	password[0] = '\0';
	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (list[0] == '\0') {
		r = nhi_seterr(err, errlen, NHI_ERR_INVAL, "no %s in %s", key,
			       c->path[0] ? c->path : "the configuration");
		goto out;
	}
	if (c->ldap_bind == NHI_LDAP_BIND_SIMPLE) {
		if (c->ldap_bind_dn[0] == '\0') {
			r = nhi_seterr(err, errlen, NHI_ERR_INVAL,
				       "ldap_bind = simple needs ldap_bind_dn");
			goto out;
		}
		r = nhi_ldap_read_password(c->ldap_bind_password_file, password,
					   sizeof(password), err, errlen);
		if (r < 0)
			goto out;
	}
	snprintf(uris, sizeof(uris), "%s", list);
	for (uri = strtok_r(uris, " \t", &save); uri != NULL; uri = strtok_r(NULL, " \t", &save)) {
		tried++;
		tls_log_start(1);
		watchdog_arm(uri, (unsigned)(c->ldap_timeout > 0 ? c->ldap_timeout : 10) * 2 + 1, &old_alrm);
		r = try_uri(c, uri, password, out, &tls, reason, sizeof(reason));
		watchdog_disarm(&old_alrm);
		tls_log_start(0);
		if (r == 0) {
			if (info != NULL) {
				snprintf(info->uri, sizeof(info->uri), "%s", uri);
				info->tls = tls;
				snprintf(info->failed, sizeof(info->failed), "%s", failed);
			}
			r = 0;
			goto out;
		}
		add_failure(failed, sizeof(failed), uri, reason);
	}
	r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s%s", tried > 1 ? "no directory server answered: " : "",
		       failed);
out:
	explicit_bzero(password, sizeof(password));
	return r;
}

int nhi_ldap_connect_info(const struct nhi_conf *c, LDAP **out,
			  struct nhi_ldap_info *info, char *err, size_t errlen)
{
	return connect_list(c, c->ldap_uri, "ldap_uri", out, info, err, errlen);
}

int nhi_ldap_connect(const struct nhi_conf *c, LDAP **out, char *err, size_t errlen)
{
	return nhi_ldap_connect_info(c, out, NULL, err, errlen);
}

const char *nhi_ldap_write_uris(const struct nhi_conf *c)
{
	return c->ldap_write_uri != NULL && c->ldap_write_uri[0] != '\0' ? c->ldap_write_uri
									 : c->ldap_uri;
}

int nhi_ldap_connect_write(const struct nhi_conf *c, LDAP **out, struct nhi_ldap_info *info,
			   char *err, size_t errlen)
{
	return connect_list(c, nhi_ldap_write_uris(c),
			    c->ldap_write_uri != NULL && c->ldap_write_uri[0] != '\0' ?
			    "ldap_write_uri" : "ldap_uri", out, info, err, errlen);
}

int nhi_ldap_referral_base(const char *url, char *out, size_t len)
{
	const char *host;
	size_t n;

	if (strncasecmp(url, "ldap://", 7) == 0)
		host = url + 7;
	else if (strncasecmp(url, "ldaps://", 8) == 0 || strncasecmp(url, "ldapi://", 8) == 0)
		host = url + 8;
	else
		return -1;
	n = (size_t)(host - url) + strcspn(host, "/?");
	if (n >= len || n == (size_t)(host - url))
		return -1;
	memcpy(out, url, n);
	out[n] = '\0';
	return 0;
}

/* 1 if 'uri' is one of the space-separated 'list'. */
static int in_list(const char *list, const char *uri)
{
	size_t n = strlen(uri);
	const char *p = list;

	while ((p = strstr(p, uri)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return 1;
		p += n;
	}
	return 0;
}

int nhi_ldap_follow_referral(const struct nhi_conf *c, LDAP **ld, char *seen, size_t seenlen,
			     char *to, size_t tolen, char *err, size_t errlen)
{
	char **urls = NULL, base[1024] = "";
	struct nhi_ldap_info info;
	LDAP *nld = NULL;
	int i, hops = 0, r;
	size_t n;

	for (n = 0; seen[n] != '\0'; n++)
		hops += seen[n] == ' ';
	if (ldap_get_option(*ld, LDAP_OPT_REFERRAL_URLS, &urls) != LDAP_OPT_SUCCESS ||
	    urls == NULL || urls[0] == NULL) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "%s answered a write with a referral "
			       "naming no server", seen);
		goto out;
	}
	for (i = 0; urls[i] != NULL; i++)
		if (nhi_ldap_referral_base(urls[i], base, sizeof(base)) == 0)
			break;
	if (urls[i] == NULL) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "referral to %.500s not followed: not an "
			       "ldap://, ldaps:// or ldapi:// URI (set ldap_write_uri to a provider)",
			       urls[0]);
		goto out;
	}
	if (in_list(seen, base) || hops >= 4) {
		r = nhi_seterr(err, errlen, NHI_ERR_IO, "referral loop: %.1000s -> %s (set "
			       "ldap_write_uri to a provider)", seen, base);
		goto out;
	}
	r = connect_list(c, base, "referral", &nld, &info, err, errlen);
	if (r < 0)
		goto out;
	n = strlen(seen);
	snprintf(seen + n, seenlen > n ? seenlen - n : 0, " %s", base);
	snprintf(to, tolen, "%s", base);
	ldap_unbind_ext_s(*ld, NULL, NULL);
	*ld = nld;
	r = 0;
out:
	ldap_memvfree((void **)urls);
	return r;
}

int nhi_ldap_whoami(LDAP *ld, char *out, size_t outlen, char *err, size_t errlen)
{
	struct berval *authzid = NULL;
	char reason[512];
	int rc, r = 0;

	if (outlen == 0)
		return NHI_ERR_RANGE;
	out[0] = '\0';
	rc = ldap_whoami_s(ld, &authzid, NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		nhi_ldap_reason(ld, rc, reason, sizeof(reason));
		return nhi_seterr(err, errlen, NHI_ERR_IO, "who am I: %s", reason);
	}
	if (authzid != NULL && authzid->bv_val != NULL) {
		if (authzid->bv_len >= outlen)
			r = nhi_seterr(err, errlen, NHI_ERR_RANGE, "who am I: answer too long");
		else {
			memcpy(out, authzid->bv_val, authzid->bv_len);
			out[authzid->bv_len] = '\0';
		}
	}
	if (authzid != NULL)
		ber_bvfree(authzid);
	return r;
}

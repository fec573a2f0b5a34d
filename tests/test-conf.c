/* Unit tests: the configuration parser shared by nhictl, PAM and NSS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "nhi_conf.h"
#include "nhi_err.h"
#include "testtmp.h"

static char dir[300];

static const char *write_conf(const char *name, const char *text, mode_t mode)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

static void test_defaults(void **state)
{
	struct nhi_conf c;
	char err[256];

	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_finish(&c, err, sizeof(err)), 0);
	assert_string_equal(c.state_dir, NHI_STATEDIR);
	assert_string_equal(c.registry_path, NHI_STATEDIR "/registry.db");
	assert_string_equal(c.cache_path, NHI_STATEDIR "/nhi.cache");
	assert_string_equal(c.usage_log, NHI_STATEDIR "/usage.log");
	assert_int_equal(c.mode, NHI_MODE_ENFORCE);
	assert_int_equal(c.review, NHI_REVIEW_WARN);
	assert_int_equal(c.max_lifetime, 365 * 86400);
	assert_true(c.enumerate);
	assert_true(c.service_uids_system);
	assert_true(c.sys_uid_min >= 1 && c.sys_uid_max >= c.sys_uid_min);
}

static void test_file(void **state)
{
	struct nhi_conf c;
	char err[256] = "";
	const char *p = write_conf("good.conf",
		"# a comment\n"
		"\n"
		"state_dir = /srv/nhi\n"
		"  cache_path=/run/nhi/nhi.cache   \n"
		"mode = audit\n"
		"review = enforce\n"
		"max_lifetime = 30d\n"
		"service_uids = system 5000-5999, 7000\n"
		"service_groups = svc robots\n"
		"service_names = svc-* *-bot\n"
		"on_unavailable = ignore\n"
		"enumerate = no\n"
		"host = \"web-01.example.org\"\n", 0644);

	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, p, 0, err, sizeof(err)), 0);
	assert_int_equal(nhi_conf_finish(&c, err, sizeof(err)), 0);
	assert_string_equal(c.path, p);
	assert_string_equal(c.registry_path, "/srv/nhi/registry.db");
	assert_string_equal(c.cache_path, "/run/nhi/nhi.cache");
	assert_string_equal(c.usage_log, "/srv/nhi/usage.log");
	assert_int_equal(c.mode, NHI_MODE_AUDIT);
	assert_int_equal(c.review, NHI_REVIEW_ENFORCE);
	assert_int_equal(c.max_lifetime, 30 * 86400);
	assert_int_equal(c.n_service_uids, 2);
	assert_int_equal(c.service_uids[0].lo, 5000);
	assert_int_equal(c.service_uids[0].hi, 5999);
	assert_int_equal(c.service_uids[1].lo, 7000);
	assert_int_equal(c.service_uids[1].hi, 7000);
	assert_true(c.service_uids_system);
	assert_int_equal(c.service_groups.n, 2);
	assert_string_equal(nhi_strlist_first(&c.service_groups), "svc");
	assert_string_equal(nhi_strlist_next(&c.service_groups, nhi_strlist_first(&c.service_groups)), "robots");
	assert_null(nhi_strlist_next(&c.service_groups,
		nhi_strlist_next(&c.service_groups, nhi_strlist_first(&c.service_groups))));
	assert_int_equal(c.service_names.n, 2);
	assert_int_equal(c.on_unavailable, NHI_UNAVAIL_IGNORE);
	assert_false(c.enumerate);
	assert_string_equal(c.host, "web-01.example.org");
}

/* A UTF-8 byte-order mark at the start (Windows editors write one) is
 * not part of the first key. */
static void test_bom(void **state)
{
	struct nhi_conf c;
	char err[512] = "";
	const char *p = write_conf("bom.conf", "\xef\xbb\xbfstate_dir = /srv/nhi\nmode = audit\n", 0644);

	(void)state;
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, p, 0, err, sizeof(err)), 0);
	assert_string_equal(c.state_dir, "/srv/nhi");
	assert_int_equal(c.mode, NHI_MODE_AUDIT);
}

/* Each bad file gives one error naming file and line, and changes nothing
 * the caller relies on beyond what was parsed before the error. */
static void bad_file(const char *text, int code, const char *needle)
{
	struct nhi_conf c;
	char err[512] = "", want[600];
	const char *p = write_conf("bad.conf", text, 0644);

	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, p, 0, err, sizeof(err)), code);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, needle);
	snprintf(want, sizeof(want), "%s:", p);
	assert_non_null(strstr(err, want));
	assert_null(strchr(err, '\n'));
}

static void test_bad(void **state)
{
	bad_file("bogus = 1\n", NHI_ERR_INVAL, "bad.conf:1: unknown key 'bogus'");
	bad_file("# x\nmode = maybe\n", NHI_ERR_INVAL, "bad.conf:2: bad value for 'mode' ('maybe'): expected enforce or audit");
	bad_file("max_lifetime = 90\n", NHI_ERR_INVAL, "missing unit");
	bad_file("state_dir = relative/dir\n", NHI_ERR_INVAL, "absolute path");
	bad_file("just words\n", NHI_ERR_INVAL, "bad.conf:1: expected 'key = value'");
	/* a byte-order mark is skipped at the start only */
	bad_file("mode = audit\n\xef\xbb\xbfmode = audit\n", NHI_ERR_INVAL, "bad.conf:2: unknown key");
	bad_file(" = x\n", NHI_ERR_INVAL, "missing key");
	bad_file("uid_min = -1\n", NHI_ERR_INVAL, "uid_min");
	bad_file("uid_min = 12abc\n", NHI_ERR_INVAL, "uid_min");
	bad_file("service_uids = 10-5\n", NHI_ERR_INVAL, "end before start");
	bad_file("service_uids = x-y\n", NHI_ERR_INVAL, "bad uid range");
	bad_file("service_groups = Bad,Group\n", NHI_ERR_INVAL, "not valid");
	bad_file("enumerate = perhaps\n", NHI_ERR_INVAL, "expected yes or no");
	bad_file("review = sometimes\n", NHI_ERR_INVAL, "expected enforce, warn or off");
	bad_file("host = bad host\n", NHI_ERR_INVAL, "not a host name");
	bad_file("backend = ad\n", NHI_ERR_INVAL, "expected local or ldap");
	bad_file("ldap_uri = http://x\n", NHI_ERR_INVAL, "not an ldap://");
	bad_file("ldap_uri = ldap://a ftp://b\n", NHI_ERR_INVAL, "'ftp://b' is not an ldap://");
	bad_file("ldap_base = nhi\n", NHI_ERR_INVAL, "expected a DN");
	bad_file("ldap_owner_filter = uid=x\n", NHI_ERR_INVAL, "in parentheses");
	bad_file("ldap_owner_filter = (&(uid=x)\n", NHI_ERR_INVAL, "unbalanced");
	bad_file("ldap_bind = kerberos\n", NHI_ERR_INVAL, "expected external or simple");
	bad_file("ldap_timeout = 10\n", NHI_ERR_INVAL, "missing unit");
	bad_file("ldap_settle_wait = 2h\n", NHI_ERR_INVAL, "at most 1h");
	bad_file("ldap_settle_wait = soon\n", NHI_ERR_INVAL, "bad duration");
	bad_file("orphan_max = 101%\n", NHI_ERR_INVAL, "a count or a percentage");
	bad_file("orphan_max = ten\n", NHI_ERR_INVAL, "a count or a percentage");
	bad_file("orphan_max = %\n", NHI_ERR_INVAL, "a count or a percentage");
}

static void test_ldap_keys(void **state)
{
	struct nhi_conf c;
	char err[256] = "";
	const char *p = write_conf("ldap.conf",
		"ldap_uri = ldapi://%2Frun%2Fslapd%2Fldapi ldap://ldap1.example.org\n"
		"ldap_base = ou=nhi,dc=example,dc=org\n"
		"ldap_people_base = ou=people,dc=example,dc=org\n"
		"ldap_owner_filter = (&(objectClass=posixAccount)(!(pwdAccountLockedTime=*)))\n"
		"ldap_bind = simple\n"
		"ldap_bind_dn = cn=nhictl,dc=example,dc=org\n"
		"ldap_bind_password_file = /etc/nhi/ldap.secret\n"
		"ldap_starttls = no\n"
		"ldap_tls_cacert = /etc/ssl/certs/ca.pem\n"
		"ldap_timeout = 5s\n"
		"ldap_settle_wait = 0s\n"
		"orphan_max = 25%\n", 0644);

	nhi_conf_init(&c);
	assert_int_equal(c.ldap_bind, NHI_LDAP_BIND_EXTERNAL);
	assert_true(c.ldap_starttls);
	assert_int_equal(c.ldap_timeout, 10);
	assert_int_equal(c.ldap_settle_wait, 10);
	assert_int_equal(c.orphan_max, 10);
	assert_false(c.orphan_max_percent);
	assert_int_equal(nhi_conf_load_file(&c, p, 0, err, sizeof(err)), 0);
	assert_int_equal(c.orphan_max, 25);
	assert_true(c.orphan_max_percent);
	assert_string_equal(c.ldap_uri, "ldapi://%2Frun%2Fslapd%2Fldapi ldap://ldap1.example.org");
	assert_string_equal(c.ldap_base, "ou=nhi,dc=example,dc=org");
	assert_string_equal(c.ldap_owner_filter, "(&(objectClass=posixAccount)(!(pwdAccountLockedTime=*)))");
	assert_int_equal(c.ldap_bind, NHI_LDAP_BIND_SIMPLE);
	assert_string_equal(c.ldap_bind_password_file, "/etc/nhi/ldap.secret");
	assert_false(c.ldap_starttls);
	assert_int_equal(c.ldap_timeout, 5);
	assert_int_equal(c.ldap_settle_wait, 0);
}

/* backend = ldap needs ldap_uri and ldap_base: nhi_conf_finish names the
 * file and line of the backend key and what is missing. */
static void ldap_finish(const char *text, int code, const char *needle)
{
	struct nhi_conf c;
	char err[512] = "";
	const char *p = write_conf("backend.conf", text, 0644);

	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, p, 0, err, sizeof(err)), 0);
	assert_int_equal(nhi_conf_finish(&c, err, sizeof(err)), code);
	if (needle != NULL && strstr(err, needle) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, needle);
	if (code == 0)
		assert_int_equal(c.backend, NHI_BACKEND_LDAP);
}

static void test_backend_ldap(void **state)
{
	(void)state;
	ldap_finish("# directory\nbackend = ldap\n", NHI_ERR_INVAL,
		    "backend.conf:2: backend = ldap needs ldap_uri");
	ldap_finish("backend = ldap\nldap_uri = ldapi:///\n", NHI_ERR_INVAL,
		    "backend.conf:1: backend = ldap needs ldap_base");
	ldap_finish("ldap_uri = ldapi:///\nldap_base = ou=nhi,dc=x\nbackend = ldap\n", 0, NULL);
}

static void test_cred_keys(void **state)
{
	struct nhi_conf c;
	char err[256] = "";
	const char *p = write_conf("cred.conf",
		"state_dir = /srv/nhi\n"
		"ca_cert = /etc/nhi/ca.pem\n"
		"ca_key = /etc/nhi/ca.key\n"
		"max_credential_age = 30d\n"
		"cert_lifetime = 12h\n"
		"rotation_grace = 0s\n", 0644);

	nhi_conf_init(&c);
	assert_int_equal(c.max_credential_age, 90 * 86400);
	assert_int_equal(c.cert_lifetime, 7 * 86400);
	assert_int_equal(c.rotation_grace, 86400);
	assert_int_equal(nhi_conf_load_file(&c, p, 0, err, sizeof(err)), 0);
	assert_int_equal(nhi_conf_finish(&c, err, sizeof(err)), 0);
	assert_string_equal(c.ca_cert, "/etc/nhi/ca.pem");
	assert_string_equal(c.ca_key, "/etc/nhi/ca.key");
	assert_int_equal(c.max_credential_age, 30 * 86400);
	assert_int_equal(c.cert_lifetime, 12 * 3600);
	assert_int_equal(c.rotation_grace, 0);
	assert_string_equal(c.token_pepper_file, "/srv/nhi/token.pepper");
	assert_string_equal(c.key_index, "/srv/nhi/authorized_keys.idx");

	bad_file("ca_key = key.pem\n", NHI_ERR_INVAL, "absolute path");
	bad_file("rotation_grace = soon\n", NHI_ERR_INVAL, "rotation_grace");
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_set(&c, "ca_cert", "/etc/nhi/ca.pem", "t", err, sizeof(err)), 0);
	assert_int_equal(nhi_conf_finish(&c, err, sizeof(err)), NHI_ERR_INVAL);
	assert_non_null(strstr(err, "ca_cert and ca_key go together"));
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_set(&c, "max_credential_age", "0s", "t", err, sizeof(err)), 0);
	assert_int_equal(nhi_conf_finish(&c, err, sizeof(err)), NHI_ERR_INVAL);
	assert_non_null(strstr(err, "max_credential_age must be positive"));
	/* the other durations that must be positive: 0 is refused, 1s is not */
	{
		static const char *const keys[] = { "max_lifetime", "review_interval",
						    "cert_lifetime" };

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			char want[64];

			nhi_conf_init(&c);
			assert_int_equal(nhi_conf_set(&c, keys[i], "0s", "t", err, sizeof(err)), 0);
			assert_int_equal(nhi_conf_finish(&c, err, sizeof(err)), NHI_ERR_INVAL);
			snprintf(want, sizeof(want), "%s must be positive", keys[i]);
			assert_non_null(strstr(err, want));
			nhi_conf_init(&c);
			assert_int_equal(nhi_conf_set(&c, keys[i], "1s", "t", err, sizeof(err)), 0);
			assert_int_equal(nhi_conf_finish(&c, err, sizeof(err)), 0);
		}
	}
}

static void test_trust(void **state)
{
	struct nhi_conf c;
	char err[512] = "";
	const char *p = write_conf("open.conf", "mode = audit\n", 0666);

	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, p, 0, err, sizeof(err)), NHI_ERR_PERM);
	assert_non_null(strstr(err, "writable by group or others"));
	assert_int_equal(c.mode, NHI_MODE_ENFORCE);
	/* the parser alone can be tested without the check */
	assert_int_equal(nhi_conf_load_file(&c, p, NHI_CONF_NO_TRUST, err, sizeof(err)), 0);
	if (geteuid() == 0) {
		/* owned by another user: refused */
		assert_int_equal(chmod(p, 0644), 0);
		assert_int_equal(chown(p, 12345, 0), 0);
		assert_int_equal(nhi_conf_load_file(&c, p, 0, err, sizeof(err)), NHI_ERR_PERM);
		assert_non_null(strstr(err, "owned by uid 12345"));
	}
}

/* The directories above the file count too (OpenSSH's safe_path): none
 * may be writable by group or others, sticky or not, nor owned by another
 * user; a symbolic link on the way is judged by where it leads. */
static void test_trust_dirs(void **state)
{
	struct nhi_conf c;
	char err[1024] = "", sub[320], deep[330], path[350], link[340];
	FILE *f;

	snprintf(sub, sizeof(sub), "%s/shared", dir);
	snprintf(deep, sizeof(deep), "%s/etc", sub);
	snprintf(path, sizeof(path), "%s/nhi.conf", deep);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(mkdir(deep, 0755), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("mode = audit\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, path, 0, err, sizeof(err)), 0);
	assert_int_equal(c.mode, NHI_MODE_AUDIT);

	/* a group-writable parent, two levels up: refused, named */
	assert_int_equal(chmod(sub, 0775), 0);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, path, 0, err, sizeof(err)), NHI_ERR_PERM);
	assert_non_null(strstr(err, "not trusted: directory"));
	assert_non_null(strstr(err, "/shared is writable by group or others (mode 0775)"));
	assert_int_equal(c.mode, NHI_MODE_ENFORCE);
	/* the modules' lenient read: nothing from it, and broken */
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, path, NHI_CONF_LENIENT, err, sizeof(err)), 0);
	assert_true(c.broken);
	assert_int_equal(c.mode, NHI_MODE_ENFORCE);
	assert_non_null(strstr(c.problem, "/shared is writable by group or others"));
	/* sticky is no excuse unless the directory is root's (as /tmp): then
	 * only root and an entry's owner may rename the entry below it, which
	 * the walk checks is root's (or ours) */
	assert_int_equal(chmod(sub, 01777), 0);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, path, 0, err, sizeof(err)),
			 geteuid() == 0 ? 0 : NHI_ERR_PERM);
	if (geteuid() == 0) {
		assert_int_equal(chown(sub, 65534, 0), 0);
		nhi_conf_init(&c);
		assert_int_equal(nhi_conf_load_file(&c, path, 0, err, sizeof(err)), NHI_ERR_PERM);
		assert_non_null(strstr(err, "owned by uid 65534"));
		assert_int_equal(chown(sub, 0, 0), 0);
	} else {
		assert_non_null(strstr(err, "(mode 1777)"));
	}
	assert_int_equal(chmod(sub, 0775), 0);
	/* a relative name is judged by its real path */
	assert_int_equal(chdir(deep), 0);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, "nhi.conf", 0, err, sizeof(err)), NHI_ERR_PERM);
	assert_non_null(strstr(err, "/shared is writable"));
	assert_int_equal(chdir("/"), 0);
	/* a link from a safe place into the unsafe one: where it leads counts */
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(deep, link), 0);
	snprintf(path, sizeof(path), "%s/nhi.conf", link);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, path, 0, err, sizeof(err)), NHI_ERR_PERM);
	assert_non_null(strstr(err, "/shared is writable"));
	assert_int_equal(chmod(sub, 0755), 0);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, path, 0, err, sizeof(err)), 0);
	/* the file itself a link, into the unsafe one */
	snprintf(link, sizeof(link), "%s/nhi-link.conf", dir);
	snprintf(path, sizeof(path), "%s/nhi.conf", deep);
	assert_int_equal(symlink(path, link), 0);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, link, 0, err, sizeof(err)), 0);
	assert_int_equal(chmod(sub, 0757), 0);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, link, 0, err, sizeof(err)), NHI_ERR_PERM);
	assert_non_null(strstr(err, "/shared is writable"));
	/* a link kept in the unsafe directory, leading to a safe file: the
	 * link could be replaced, so refused too */
	snprintf(link, sizeof(link), "%s/to-safe.conf", sub);
	assert_int_equal(symlink(write_conf("target.conf", "mode = audit\n", 0644), link), 0);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, link, 0, err, sizeof(err)), NHI_ERR_PERM);
	assert_non_null(strstr(err, "/shared is writable"));
	assert_int_equal(chmod(sub, 0755), 0);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, link, 0, err, sizeof(err)), 0);
	if (geteuid() == 0) {
		/* a parent owned by another user */
		assert_int_equal(chown(sub, 12345, 0), 0);
		nhi_conf_init(&c);
		assert_int_equal(nhi_conf_load_file(&c, link, 0, err, sizeof(err)), NHI_ERR_PERM);
		assert_non_null(strstr(err, "/shared is owned by uid 12345, not root"));
		assert_int_equal(chown(sub, 0, 0), 0);
	}
}

static void test_missing(void **state)
{
	struct nhi_conf c;
	char err[512] = "";

	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, "/nonexistent/nhi.conf", 0, err, sizeof(err)),
			 NHI_ERR_NOTFOUND);
	assert_non_null(strstr(err, "/nonexistent/nhi.conf"));
	assert_int_equal(nhi_conf_load_file(&c, "/nonexistent/nhi.conf", NHI_CONF_MISSING_OK,
					    err, sizeof(err)), 0);
}

static void test_args(void **state)
{
	struct nhi_conf c;
	char err[512] = "", arg[600];
	const char *p = write_conf("pam.conf", "mode = audit\nreview = off\n", 0644);
	const char *argv1[] = { arg, "review=enforce", "debug", "quiet" };
	const char *argv2[] = { arg, "nosuchkey=1" };
	const char *argv3[] = { arg, "audit" };
	const char *argv4[] = { "config=relative.conf" };
	const char *argv5[] = { "config=/nonexistent/x.conf" };

	snprintf(arg, sizeof(arg), "config=%s", p);
	assert_int_equal(nhi_conf_load_args(&c, 4, argv1, err, sizeof(err)), 0);
	assert_int_equal(c.mode, NHI_MODE_AUDIT);          /* from the file */
	assert_int_equal(c.review, NHI_REVIEW_ENFORCE);    /* argument wins */
	assert_true(c.debug);
	assert_true(c.quiet);
	assert_false(c.broken);
	assert_int_equal(c.n_problems, 0);
	/* the modules' reading never fails: a problem is noted, the rest used */
	assert_int_equal(nhi_conf_load_args(&c, 2, argv2, err, sizeof(err)), 0);
	assert_true(c.broken);
	assert_string_equal(c.problem, "module argument: unknown key 'nosuchkey'");
	assert_int_equal(c.mode, NHI_MODE_AUDIT);          /* the file still read */
	assert_int_equal(nhi_conf_load_args(&c, 2, argv3, err, sizeof(err)), 0);
	assert_int_equal(c.mode, NHI_MODE_AUDIT);
	assert_false(c.broken);
	assert_int_equal(nhi_conf_load_args(&c, 1, argv4, err, sizeof(err)), 0);
	assert_true(c.broken);
	assert_non_null(strstr(c.problem, "must be an absolute path"));
	assert_int_equal(nhi_conf_load_args(&c, 1, argv5, err, sizeof(err)), 0);
	assert_true(c.broken);
	assert_non_null(strstr(c.problem, "/nonexistent/x.conf: no such file"));
	/* the same handler serves a bare key that is not a boolean: an error */
	assert_int_equal(nhi_conf_set_arg(&c, "mode", err, sizeof(err)), NHI_ERR_INVAL);
	assert_non_null(strstr(err, "expected key=value"));
}

/* The modules' way (NHI_CONF_LENIENT): every good line is applied, a bad
 * one skipped; a problem with a key the modules read (or an unknown key, a
 * line without '=', an untrusted file) marks the configuration broken, a
 * bad value of a key only nhictl reads does not. */
static void test_lenient(void **state)
{
	struct nhi_conf c;
	char err[512] = "";
	const char *p;

	p = write_conf("len1.conf", "max_lifetime = 90\nstate_dir = /srv/nhi\n"
		       "ldap_uri = http://x\nmode = audit\n", 0644);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, p, NHI_CONF_LENIENT, err, sizeof(err)), 0);
	assert_int_equal(nhi_conf_finish(&c, err, sizeof(err)), 0);
	assert_false(c.broken);
	assert_int_equal(c.n_problems, 2);
	assert_non_null(strstr(c.problem, "len1.conf:1: bad value for 'max_lifetime'"));
	assert_int_equal(c.max_lifetime, 365 * 86400);      /* the default */
	assert_string_equal(c.cache_path, "/srv/nhi/nhi.cache");
	assert_int_equal(c.mode, NHI_MODE_AUDIT);
	/* strict (nhictl), the same file is an error */
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, p, 0, err, sizeof(err)), NHI_ERR_INVAL);

	/* broken, but the good state_dir line kept beside a bad cache_path */
	p = write_conf("len2.conf", "cache_path = relative\nstate_dir = /srv/nhi\nbogus = 1\n"
		       "just words\nuid_min = 5\nuid_max = 4\n", 0644);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, p, NHI_CONF_LENIENT, err, sizeof(err)), 0);
	assert_int_equal(nhi_conf_finish(&c, err, sizeof(err)), 0);
	assert_true(c.broken);
	assert_int_equal(c.n_problems, 4);
	assert_non_null(strstr(c.problem, "len2.conf:1: bad value for 'cache_path' ('relative')"));
	assert_string_equal(c.cache_path, "/srv/nhi/nhi.cache");
	assert_int_equal(c.uid_min, 2000000);               /* the range fell back */
	assert_int_equal(c.uid_max, 2999999);

	/* untrusted: nothing of it is used */
	p = write_conf("len3.conf", "state_dir = /srv/nhi\nservice_uids = 7\n", 0664);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, p, NHI_CONF_LENIENT, err, sizeof(err)), 0);
	assert_int_equal(nhi_conf_finish(&c, err, sizeof(err)), 0);
	assert_true(c.broken);
	assert_non_null(strstr(c.problem, "not trusted"));
	assert_string_equal(c.cache_path, NHI_STATEDIR "/nhi.cache");
	assert_true(c.service_uids_system);
	assert_int_equal(c.n_service_uids, 0);
}

struct seen { char all[4096]; unsigned breaking; };

static void collect(void *arg, const char *msg, int breaks)
{
	struct seen *s = arg;

	snprintf(s->all + strlen(s->all), sizeof(s->all) - strlen(s->all), "%s\n", msg);
	s->breaking += breaks != 0;
}

/* nhi_conf_check: every problem, in order, the owner/mode one included,
 * and the checks across keys. */
static void test_check(void **state)
{
	struct seen s;
	const char *p;

	memset(&s, 0, sizeof(s));
	p = write_conf("chk.conf", "mode = audit\n", 0644);
	assert_int_equal(nhi_conf_check(p, collect, &s), 0);
	assert_string_equal(s.all, "");

	p = write_conf("chk.conf", "bogus = 1\nmax_lifetime = 90\n# fine\nwords\n"
		       "ca_cert = /etc/ca.pem\n", 0666);
	assert_int_equal(nhi_conf_check(p, collect, &s), 5);
	assert_int_equal(s.breaking, 3);
	if (strstr(s.all, "chk.conf: not trusted: writable by group or others (mode 0666)\n") == NULL ||
	    strstr(s.all, "chk.conf:1: unknown key 'bogus'\n") == NULL ||
	    strstr(s.all, "chk.conf:2: bad value for 'max_lifetime': bad duration '90'") == NULL ||
	    strstr(s.all, "chk.conf:4: expected 'key = value'\n") == NULL ||
	    strstr(s.all, "chk.conf: ca_cert and ca_key go together") == NULL)
		fail_msg("problems:\n%s", s.all);
	memset(&s, 0, sizeof(s));
	assert_int_equal(nhi_conf_check("/nonexistent/nhi.conf", collect, &s), 1);
	assert_string_equal(s.all, "/nonexistent/nhi.conf: no such file\n");
}

static void test_env(void **state)
{
	const char *p = write_conf("env.conf", "mode = audit\n", 0644);

	setenv("NHI_CONF", p, 1);
	assert_string_equal(nhi_conf_default_path(), p);
	setenv("NHI_CONF", "relative", 1);
	assert_string_equal(nhi_conf_default_path(), NHI_CONF_DEFAULT);
	unsetenv("NHI_CONF");
	assert_string_equal(nhi_conf_default_path(), NHI_CONF_DEFAULT);
}

static int setup(void **state)
{
	return mkdtemp(test_tmpdir(dir, sizeof(dir), "nhi-conf-test")) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The string values share one arena of NHI_CONF_ARENA bytes inside the
 * struct: the struct stays small, and a file that overfills it gets one
 * clear message (strict) or keeps the defaults of what did not fit
 * (lenient), never a write past it. */
static void test_arena(void **state)
{
	static const char *const k[] = { "ca_cert", "ca_key", "ldap_tls_cert", "ldap_tls_key",
					 "ldap_tls_cacert", "ldap_bind_password_file" };
	struct nhi_conf c;
	char err[512] = "", text[8192], val[701];
	const char *p;
	size_t n = 0;

	assert_true(sizeof(struct nhi_conf) <= 8192);
	memset(val, 'a', sizeof(val) - 1);
	val[0] = '/';
	val[sizeof(val) - 1] = '\0';
	for (int i = 0; i < 6; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s = %s\n", k[i], val);
	p = write_conf("arena.conf", text, 0644);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, p, 0, err, sizeof(err)), NHI_ERR_INVAL);
	assert_non_null(strstr(err, "arena.conf:6: bad value for 'ldap_bind_password_file'"));
	assert_non_null(strstr(err, "at most 3584 bytes in all"));
	/* lenient: the first five values are kept, the paths still derived */
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, p, NHI_CONF_LENIENT, err, sizeof(err)), 0);
	assert_int_equal(c.n_problems, 1);
	assert_string_equal(c.ca_cert, val);
	assert_string_equal(c.ldap_tls_cacert, val);
	assert_string_equal(c.ldap_bind_password_file, "");
	assert_string_equal(c.path, p);
	assert_int_equal(nhi_conf_finish(&c, err, sizeof(err)), 0);
	assert_string_equal(c.cache_path, NHI_STATEDIR "/nhi.cache");
	assert_string_equal(c.key_index, NHI_STATEDIR "/authorized_keys.idx");
	/* a state_dir past the limit: refused (broken), the default state_dir's paths */
	n = strlen(text);
	snprintf(text + n, sizeof(text) - n, "state_dir = /%.*s\n", 400, val + 1);
	p = write_conf("arena2.conf", text, 0644);
	nhi_conf_init(&c);
	assert_int_equal(nhi_conf_load_file(&c, p, NHI_CONF_LENIENT, err, sizeof(err)), 0);
	assert_int_equal(nhi_conf_finish(&c, err, sizeof(err)), 0);
	assert_string_equal(c.cache_path, NHI_STATEDIR "/nhi.cache");
	assert_string_equal(c.usage_log, NHI_STATEDIR "/usage.log");
	assert_true(c.broken);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_ldap_keys),
		cmocka_unit_test(test_backend_ldap),
		cmocka_unit_test(test_cred_keys),
		cmocka_unit_test(test_trust),
		cmocka_unit_test(test_trust_dirs),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_lenient),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_arena),
	};
	return cmocka_run_group_tests_name("conf", tests, setup, teardown);
}

/* nhi_conf.h - the one configuration parser of nhi.
 *
 * /etc/nhi/nhi.conf is read by nhictl, pam_nhi and nss_nhi through this
 * code; pam_nhi also takes the same keys as module arguments ("key=value",
 * or a bare boolean key such as "debug" meaning "debug=yes").  One handler,
 * nhi_conf_set(), serves both.  struct nhi_conf holds no heap memory and
 * needs nothing freed; it is small (about 7 KB: its strings live in one
 * arena inside it, and nhi_conf_init() zeroes only the first part), so a
 * PAM call keeps it on its stack and NSS's first lookup pays little for it.
 * The string fields are never NULL ("" when unset) and point into the
 * arena or at constants, so the struct must not be copied by value; a
 * caller may point one at a string of its own that outlives the struct.
 */
#ifndef NHI_CONF_H
#define NHI_CONF_H

#include <limits.h>
#include <stdint.h>
#include <stddef.h>

#ifndef NHI_SYSCONFDIR
#define NHI_SYSCONFDIR "/etc"
#endif
#ifndef NHI_STATEDIR
#define NHI_STATEDIR "/var/lib/nhi"
#endif
#define NHI_CONF_DEFAULT NHI_SYSCONFDIR "/nhi/nhi.conf"

enum nhi_backend { NHI_BACKEND_LOCAL = 0, NHI_BACKEND_LDAP = 1 };
enum nhi_mode { NHI_MODE_ENFORCE = 0, NHI_MODE_AUDIT = 1 };
enum nhi_review_policy { NHI_REVIEW_ENFORCE = 0, NHI_REVIEW_WARN = 1, NHI_REVIEW_OFF = 2 };
enum nhi_unavail { NHI_UNAVAIL_DENY = 0, NHI_UNAVAIL_IGNORE = 1 };
/* human_use: what pam_nhi does when a human (PAM_RUSER) becomes a
 * registered identity through su/runuser (OWASP NHI10) */
enum nhi_stale_action { NHI_STALE_REPORT = 0, NHI_STALE_SUSPEND = 1 };
enum nhi_human_use { NHI_HUMAN_LOG = 0, NHI_HUMAN_ALLOW = 1, NHI_HUMAN_OWNER = 2,
		     NHI_HUMAN_DENY = 3 };
enum nhi_ldap_bind { NHI_LDAP_BIND_EXTERNAL = 0, NHI_LDAP_BIND_SIMPLE = 1 };

#define NHI_CONF_MAX_RANGES 16
#define NHI_CONF_LIST_SZ 1024
#define NHI_CONF_ARENA 4096    /* every string value together, NULs included */

/* The longest value of each kind of string key (NUL included). */
#define NHI_CONF_HOST_MAX 256
#define NHI_CONF_URI_MAX 1024
#define NHI_CONF_DN_MAX 512
/* A message about the configuration (a longer one is cut). */
#define NHI_CONF_MSG_MAX 1024

struct nhi_uid_range { uint32_t lo, hi; };

/* A list of words: NUL-separated in buf, n of them. */
struct nhi_strlist {
	unsigned n;
	char buf[NHI_CONF_LIST_SZ];
};
/* Iterate: for (const char *w = nhi_strlist_first(l); w; w = nhi_strlist_next(l, w)) */
const char *nhi_strlist_first(const struct nhi_strlist *l);
const char *nhi_strlist_next(const struct nhi_strlist *l, const char *w);

struct nhi_conf {
	const char *path;               /* file read, "" if none */
	enum nhi_backend backend;
	const char *state_dir;
	const char *registry_path;      /* "" until nhi_conf_finish(): state_dir/registry.db */
	const char *cache_path;         /* state_dir/nhi.cache */
	const char *usage_log;          /* state_dir/usage.log */

	uint32_t uid_min, uid_max;      /* nhi's own allocation range */
	uint32_t uid_block_size;        /* backend = ldap: ids per host block (issue 17) */
	/* classification: who is a service account (and the lists below) */
	struct nhi_uid_range service_uids[NHI_CONF_MAX_RANGES];
	unsigned n_service_uids;
	int service_uids_system;        /* "system": uids 1..SYS_UID_MAX (login.defs) and 65534 */

	int64_t max_lifetime;           /* seconds; cap on expiry at create/extend */
	int64_t review_interval;        /* default review interval */
	int64_t review_grace;           /* after review_due, before enforce denies */
	int64_t orphan_grace;           /* after orphaned_since, before deny */
	uint32_t orphan_max;            /* owner re-checks orphan at most this many at once (0 = no limit) */
	int orphan_max_percent;         /* orphan_max is a percentage of the identities */
	uint32_t apply_max_retire;      /* nhictl apply --prune removes at most this many (0 = no limit) */
	int apply_max_retire_percent;   /* ... percent of the objects apply manages (default 10%) */
	int64_t warn_before;            /* warn when expiry/review closer than this */
	enum nhi_mode mode;
	enum nhi_review_policy review;
	enum nhi_unavail on_unavailable;
	enum nhi_human_use human_use;

	const char *default_shell;
	const char *nologin_shell;
	const char *home_base;
	int create_home;                /* nhictl create: make the home (useradd -m) */
	const char *host;               /* this host's name for scopes; "" = gethostname() */
	int enumerate;                  /* NSS enumeration on/off */
	int debug;                      /* PAM: log more */
	int quiet;                      /* PAM: no messages to the user */

	/* the directory (backend = ldap; read by nhictl only) */
	const char *ldap_uri;           /* space-separated URIs, tried in order */
	const char *ldap_write_uri;     /* where writes go ("" = ldap_uri, referrals followed) */
	const char *ldap_base;          /* where identities live */
	const char *ldap_people_base;   /* where owners (humans) live */
	const char *ldap_owner_filter;  /* what a live owner is ("" = built-in) */
	int ldap_bind;                  /* NHI_LDAP_BIND_* */
	const char *ldap_bind_dn;
	const char *ldap_bind_password_file;
	int ldap_starttls;              /* ldap:// must use StartTLS (default yes) */
	const char *ldap_tls_cacert;
	const char *ldap_tls_cert;
	const char *ldap_tls_key;
	int64_t ldap_timeout;           /* seconds, per operation and connect */
	int64_t ldap_settle_wait;       /* seconds a write waits for ldap_uri to agree */

	const char *backend_where;      /* "FILE:LINE" of backend = ldap */
	/* credentials (nhictl only) */
	const char *ca_cert;            /* the CA certificate that signs "certificate" credentials */
	const char *ca_key;             /* its private key (root-only; checked at use) */
	int64_t max_credential_age;     /* cap on a credential's lifetime */
	int64_t cert_lifetime;          /* default lifetime of a certificate */
	int64_t rotation_grace;         /* default overlap of old and new at rotation */
	const char *token_pepper_file;  /* HMAC key of tokens: "" until finish(): state_dir/token.pepper */
	const char *key_index;          /* derived: state_dir/authorized_keys.idx */
	const char *registered_path;    /* derived: state_dir/registered.uids */
	const char *shadow_file;        /* derived: state_dir/nhi.shadow (password hashes, root-only) */
	/* publishing (nhictl only): at most this many identities changed
	 * since the full snapshot go into nhi.cache.delta; one more and the
	 * next publication is full (0 = always full) */
	uint32_t snapshot_delta_max;
	/* reach (nhictl only): every grant and delegation expires */
	int64_t grant_lifetime;         /* default lifetime of a grant */
	int64_t grant_max_lifetime;     /* cap on a grant's lifetime */
	int64_t delegation_lifetime;    /* default lifetime of a delegation */
	int64_t delegation_max_lifetime;/* cap on a delegation's lifetime */
	uint32_t max_delegations;       /* per identity, each direction (0 = no limit) */
	/* audit and discover (nhictl only; issue 15): 0 = that check is off */
	uint32_t max_grants;            /* grants held by one identity before NHI5 */
	int64_t stale_after;            /* unused this long (from last use): stale (NHI1) */
	int stale_action;               /* NHI_STALE_*: what audit does to a stale identity */
	int64_t never_used_grace;       /* never used this long after creation: a finding */
	int64_t rotation_interval;      /* a credential not rotated within this: NHI7 */
	int64_t external_grant_max;     /* write/admin on an external resource: expiry within this */
	const char *discover_paths;     /* space-separated trees discover and audit scan */
	uint32_t discover_max_size;     /* bytes: larger files are skipped (and reported) */

	/* filled by nhi_conf_finish() */
	uint32_t sys_uid_min, sys_uid_max;

	/* What a lenient load (NHI_CONF_LENIENT: the modules) skipped.
	 * 'broken' is set by a problem in what pam_nhi or nss_nhi use (an
	 * unknown key, a line without '=', a bad value of a key they read, a
	 * file that cannot be read or trusted); a bad value of a key only
	 * nhictl reads is counted and logged but breaks nothing. */
	int lenient;
	int broken;
	unsigned n_problems;
	size_t arena_used;

	/* Not zeroed by nhi_conf_init() (each is empty by its own count). */
	struct nhi_strlist service_groups;
	struct nhi_strlist service_names; /* fnmatch(3) patterns */
	char problem[512];              /* the first that broke it, else the first */
	char arena[NHI_CONF_ARENA];     /* the string values */
};

/* Defaults (see nhi.conf(5)). */
void nhi_conf_init(struct nhi_conf *c);

/* Set one key.  'where' names the source for the message ("FILE:LINE" or
 * "module argument").  Unknown keys and bad values are NHI_ERR_INVAL with
 * "WHERE: unknown key 'k'" / "WHERE: bad value for 'k' ('value'): why" in
 * err (the value is left out when 'why' already quotes it). */
int nhi_conf_set(struct nhi_conf *c, const char *key, const char *value,
		 const char *where, char *err, size_t errlen);

/* A module argument: "key=value" or a bare boolean key ("debug", "quiet").
 * "config=FILE" is not handled here (see nhi_conf_load_args). */
int nhi_conf_set_arg(struct nhi_conf *c, const char *arg, char *err, size_t errlen);

#define NHI_CONF_MISSING_OK 0x1 /* a missing file is not an error */
#define NHI_CONF_NO_TRUST   0x2 /* skip the owner/mode check (tests of the parser only) */
#define NHI_CONF_LENIENT    0x4 /* the modules' way: never fail, skip what is bad (below) */

/* Read a file of "key = value" lines, '#' comments and blank lines.  The
 * file must be owned by root (or the effective uid) and writable by no one
 * else.  Returns 0, NHI_ERR_NOTFOUND (missing and not MISSING_OK),
 * NHI_ERR_PERM, NHI_ERR_IO or NHI_ERR_INVAL, with one line in err.
 *
 * NHI_CONF_LENIENT (pam_nhi, nss_nhi: a configuration error must never
 * lock a human out nor make identities vanish): returns 0 and sets the
 * problem fields of struct nhi_conf instead.  A file that cannot be read
 * or trusted gives nothing (every key keeps its default, the paths too);
 * otherwise every good line is applied and a bad line is skipped (its key
 * keeps its default), so a good state_dir or cache_path line is kept
 * beside a broken one.  nhi_conf_finish() is lenient the same way. */
int nhi_conf_load_file(struct nhi_conf *c, const char *path, int flags,
		       char *err, size_t errlen);

/* The path nhi reads by default: $NHI_CONF (through secure_getenv, so a
 * setuid program never honours it) or NHI_CONF_DEFAULT. */
const char *nhi_conf_default_path(void);

/* Derive what was not set: registry/cache/usage paths from state_dir,
 * the system uid range from /etc/login.defs.  Call once after loading. */
int nhi_conf_finish(struct nhi_conf *c, char *err, size_t errlen);

/* Of nhi_conf_finish() after a lenient load, only what it does to the
 * paths (those derived from state_dir, a state_dir too long for them
 * falling back to the default): for nss_nhi, which reads the paths, the
 * shells and enumerate, and nothing nhi_conf_finish() checks besides
 * (its other checks never fail a lenient load).  Nothing is recorded in
 * the problem fields. */
void nhi_conf_finish_paths(struct nhi_conf *c);

/* What nss_nhi makes of the file at path (init, a lenient load with a
 * missing file fine, nhi_conf_finish_paths): the module's own reading,
 * and what nhictl publish records in the snapshot for it
 * (NHI_SNAP_F_CONF), so the two cannot differ.  Returns the load's
 * result (negative only when it could not run at all). */
int nhi_conf_load_module(struct nhi_conf *c, const char *path);

/* Everything PAM does with its argv: init, find "config=FILE" (else the
 * default path), load it leniently (missing default file is fine:
 * defaults), apply the other arguments (a bad one is a problem of the same
 * kind), finish.  Returns 0; see c->broken and c->problem. */
int nhi_conf_load_args(struct nhi_conf *c, int argc, const char **argv,
		       char *err, size_t errlen);

/* `nhictl config check`: read 'path' as every reader would and call
 * report(arg, message, breaks) for every problem, in file order, then the
 * checks across keys: "FILE:LINE: ..." or "FILE: ...".  'breaks' is 1 when
 * the problem makes the modules fall back (see NHI_CONF_LENIENT).  The
 * owner/mode check is reported too, and the rest of the file still read.
 * Returns the number of problems (0: clean). */
unsigned nhi_conf_check(const char *path,
			void (*report)(void *arg, const char *msg, int breaks), void *arg);

/* This host's name for scope checks (c->host or gethostname()). */
const char *nhi_conf_hostname(const struct nhi_conf *c, char *buf, size_t len);

/* Check that an open file is owned by root (or euid) and not writable by
 * group or others, and so is every directory above 'path' up to "/"
 * (sticky or not, as OpenSSH's safe_path: a symbolic link on the way is
 * followed and where it leads checked).  'path' is the name it was
 * opened by (relative to the working directory when not absolute). */
int nhi_check_trusted_fd(int fd, const char *path, char *err, size_t errlen);

/* The same; with NHI_TRUST_DIRS_CHECKED the directories 'path' is named
 * by were checked already (a file beside one just checked, as the
 * snapshot's delta): only the file, and where it leads if it is a link. */
#define NHI_TRUST_DIRS_CHECKED 0x1
/* NHI_TRUST_NOT_LINK: the file was opened with O_NOFOLLOW, so 'path'
 * itself is no symbolic link (nhi_open_trusting): no lstat(2) of it. */
#define NHI_TRUST_NOT_LINK 0x2
/* st (when not NULL) gets the open file's fstat(2), which the check made
 * anyway: a caller need not make it again. */
struct stat;
int nhi_check_trusted(int fd, const char *path, int flags, struct stat *st,
		      char *err, size_t errlen);

/* open(2) 'path' with oflags for nhi_check_trusted: first with O_NOFOLLOW
 * (NHI_TRUST_NOT_LINK added to *trust_flags when that opened it), again
 * without it when 'path' is a symbolic link (allowed: where it leads is
 * checked too).  The fd, or -1 with errno set. */
int nhi_open_trusting(const char *path, int oflags, int *trust_flags);

#endif

/* nhi_policy.h - who is a service account, and may it be used here, now?
 *
 * The decision is a pure function of (config, identity record, now, host,
 * service).  pam_nhi's account phase and `nhictl check` both call
 * nhi_account_check(), so nhictl answers exactly what PAM will decide.
 */
#ifndef NHI_POLICY_H
#define NHI_POLICY_H

#include <sys/types.h>
#include <time.h>
#include "nhi_conf.h"
#include "nhi_snapshot.h"

enum nhi_verdict {
	NHI_V_IGNORE = 0,  /* not ours (root, a human): PAM_IGNORE */
	NHI_V_ALLOW,       /* PAM_SUCCESS (maybe with a warning) */
	NHI_V_DENY,        /* PAM_PERM_DENIED */
	NHI_V_EXPIRED,     /* PAM_ACCT_EXPIRED */
	NHI_V_UNAVAIL,     /* PAM_AUTHINFO_UNAVAIL: no usable snapshot */
};

enum nhi_reason {
	NHI_R_ROOT = 0,         /* "root" */
	NHI_R_HUMAN,            /* "not-a-service-account" */
	NHI_R_OK,               /* "ok" */
	NHI_R_UNREGISTERED,     /* "unregistered" */
	NHI_R_EXPIRED,          /* "expired" */
	NHI_R_SUSPENDED,        /* "suspended" */
	NHI_R_RETIRED,          /* "retired" */
	NHI_R_ORPHANED,         /* "orphaned" (grace passed) */
	NHI_R_REVIEW_OVERDUE,   /* "review-overdue" */
	NHI_R_HOST_SCOPE,       /* "host-out-of-scope" */
	NHI_R_SERVICE_SCOPE,    /* "service-out-of-scope" */
	NHI_R_NO_SNAPSHOT,      /* "snapshot-unavailable" */
	NHI_R_CONFIG,           /* "config-error": nhi.conf broken (c->broken), fail closed */
	NHI_R_NO_DELEGATION,    /* "no-delegation": RUSER, an identity, has no live delegation to USER */
	NHI_R_HUMAN_USE,        /* "human-use": RUSER, a human, uses USER (human_use) */
	NHI_R_UID_MISMATCH,     /* "uid-mismatch": NSS resolves USER to another uid (a
				 * local account of the same name shadows the identity) */
};

enum nhi_warning {
	NHI_W_NONE = 0,
	NHI_W_EXPIRY_NEAR = 0x1,     /* expires within warn_before */
	NHI_W_REVIEW_NEAR = 0x2,     /* review due within warn_before */
	NHI_W_REVIEW_OVERDUE = 0x4,  /* overdue, allowed under review=warn */
	NHI_W_ORPHANED = 0x8,        /* orphaned, still within the grace */
	NHI_W_AUDIT = 0x10,          /* mode=audit turned a denial into an allow */
};

struct nhi_decision {
	enum nhi_verdict verdict;     /* what PAM returns (after mode=audit) */
	enum nhi_verdict would;       /* what enforce mode would return */
	enum nhi_reason reason;
	unsigned warnings;            /* NHI_W_* */
	int registered;
	int service_account;
	int snapshot_damaged;         /* the lookup found the snapshot corrupt */
	char message[256];            /* for the user (conversation); no secrets */
};

const char *nhi_verdict_str(enum nhi_verdict v);  /* "ignore","allow","deny","expired","unavailable" */
const char *nhi_reason_str(enum nhi_reason r);
/* Does 'what' match a comma-separated list of fnmatch(3) globs (an
 * identity's hosts, casefold, or services)?  "" or NULL matches
 * everything.  The very match the decision uses (nhictl audit's NHI9). */
int nhi_scope_match(const char *list, const char *what, int casefold);

/* Which rule of the configuration makes name/uid a service account: the
 * first of uid_min..uid_max, service_uids = system, service_uids ranges,
 * service_names globs that matches (no NSS calls; root never).  m, when
 * not NULL, gets which range (index into c->service_uids) or glob (points
 * into c). */
enum nhi_rule {
	NHI_RULE_NONE = 0,
	NHI_RULE_UID_RANGE,       /* uid_min..uid_max */
	NHI_RULE_SYSTEM,          /* service_uids = system */
	NHI_RULE_SERVICE_UIDS,    /* a service_uids range: m->index */
	NHI_RULE_SERVICE_NAMES,   /* a service_names glob: m->pattern */
};
struct nhi_rule_match {
	unsigned index;
	const char *pattern;
};
enum nhi_rule nhi_classify_rule(const struct nhi_conf *c, const char *name, uid_t uid,
				struct nhi_rule_match *m);
/* The same as a yes/no: 1 if the name/uid is a service account by
 * configuration. */
int nhi_classify_static(const struct nhi_conf *c, const char *name, uid_t uid);
/* The service_groups entry the user (primary group pgid) is a member of,
 * through NSS (getgrouplist, getgrnam_r); NULL when none (or NSS fails).
 * Points into c. */
const char *nhi_service_group(const struct nhi_conf *c, const char *user, gid_t pgid);

/* The pure policy for a registered identity (id != NULL) or an
 * unregistered service account (id == NULL).  host/service may be NULL
 * (no scope check on that axis).  Does not apply mode=audit. */
void nhi_policy_decide(const struct nhi_conf *c, const struct nhi_ident *id,
		       time_t now, const char *host, const char *service,
		       struct nhi_decision *d);

/* The whole account check as PAM runs it: classify 'user' (root never;
 * registered in the snapshot; uid ranges, service_groups and name patterns
 * via NSS), decide, apply mode=audit and on_unavailable.  'snap' may be
 * NULL when the snapshot could not be opened: a name NSS cannot resolve
 * then is a service account (nhi's own identities are exactly the names
 * that vanish with the snapshot), never assumed human.  With c->broken (a
 * lenient load found nhi.conf broken) every service account is
 * NHI_V_UNAVAIL, reason config-error (on_unavailable does not apply; mode =
 * audit, if it was read, does); humans and root are still ignored.
 * host NULL = this host. */
void nhi_account_check(const struct nhi_conf *c, const struct nhi_snap *snap,
		       const char *user, const char *host, const char *service,
		       time_t now, struct nhi_decision *d);

/* The same with the requesting user of su/runuser (PAM_RUSER; NULL or ""
 * = none).  When USER is a registered identity the policy allows and
 * RUSER is neither root nor USER:
 *  - RUSER a registered identity: allowed only along a live delegation
 *    RUSER -> USER in the snapshot (the edge unexpired, both identities
 *    active and unexpired, hence owners live), else NHI_V_DENY reason
 *    no-delegation, the message naming where the path is cut;
 *  - RUSER an unregistered service account: no-delegation as well;
 *  - RUSER a human (or a name NSS does not know): c->human_use: allow
 *    (no change), log (allowed, reason human-use), owner (allowed, reason
 *    human-use, when RUSER resolves and is USER's owner or one of a comma
 *    list of owners; else denied, human-use), deny (denied, human-use).
 * A lookup that finds the snapshot damaged fails closed, as for USER.
 * mode=audit and on_unavailable apply as in nhi_account_check. */
void nhi_account_check_ruser(const struct nhi_conf *c, const struct nhi_snap *snap,
			     const char *user, const char *ruser, const char *host,
			     const char *service, time_t now, struct nhi_decision *d);

#endif

/* dirwrite.h - the write verbs' side of the directory (backend = ldap):
 * adding and modifying identity entries and reading a written entry back
 * into the registry (uid allocation: diralloc.h).
 *
 * Every function here prints its own message ("nhictl: VERB: ...") and
 * returns 0 or a negative NHI_ERR_* code (NHI_ERR_IO: the directory
 * failed or refused).  A refused write changes nothing locally.
 */
#ifndef NHICTL_DIRWRITE_H
#define NHICTL_DIRWRITE_H

#include "dirmap.h"

#define MAX_MODS 32
#define MAX_SLOTS 192
#define MAX_STRS 24

/* LDAPMods built on the stack: no allocation, nothing to free (also
 * used by diraccess.c).  Start with struct mods ms = { .n = 0 }; ms.p is
 * the NULL-terminated array for ldap_add_ext_s / ldap_modify_ext_s. */
struct mods {
	LDAPMod m[MAX_MODS];
	LDAPMod *p[MAX_MODS + 1];
	char *slots[MAX_SLOTS];
	char strs[MAX_STRS][32];
	int n, n_slots, n_strs;
};
/* One modification with 'n' values (n = 0: no values), one with val
 * (NULL: none); a number and a GeneralizedTime kept in ms. */
void mod(struct mods *ms, int op, const char *attr, const char *const *vals, int n);
void mod1(struct mods *ms, int op, const char *attr, const char *val);
const char *str_int(struct mods *ms, long long v);
const char *str_time(struct mods *ms, int64_t t);

/* A new identity entry (create, adopt). */
struct dw_new {
	const char *name, *kind, *gecos, *home, *shell, *owner_dn, *purpose;
	uint32_t uid, gid;
	time_t expires;
	int64_t interval;
	int adopted;
	const char *const *hosts, *const *services;
	int n_hosts, n_services;
	const char *labels;                  /* "k=v,k=v" (nhiLabel values), NULL/"" none */
	int applied;                         /* nhiApplied TRUE */
};

/* A change of an existing entry; NULL / 0 = leave alone. */
struct dw_change {
	const char *state_from, *state_to;   /* delete old value, add new */
	time_t expires;
	int64_t last_review, review_due;
	const char *owner_dn;
	/* with owner_dn: the owner DN the verb read.  Its value is deleted and
	 * the new one added, a compare and swap (another writer's transfer
	 * meanwhile refuses this one: NHI_ERR_CONFLICT); NULL or "": replaced */
	const char *owner_from;
	int clear_orphaned;                  /* remove nhiOrphanedSince */
	int64_t retired_at;
	const char *reason;                  /* with retired_at; "" removes it */
	const char *labels;                  /* replace nhiLabel ("" removes); NULL leave */
	/* modify / apply (issue 16); compared and swapped: the Modify asserts
	 * the entry still has state_from, purpose_from, interval_from, and
	 * hosts_from / services_from when they are replaced */
	const char *purpose, *purpose_from; /* description ("" removes); NULL leave */
	const char *gecos;                   /* gecos ("" removes); NULL leave */
	int64_t interval, interval_from;     /* nhiReviewInterval, with review_due; 0 leave */
	int set_hosts, set_services;         /* replace host / nhiPamService (n 0: none) */
	const char *const *hosts, *const *services;
	int n_hosts, n_services;
	/* with set_hosts / set_services: the values the verb read (comma-
	 * separated, "" none), each asserted still there (a replaced or
	 * removed value is another writer's change; an added one is not seen) */
	const char *hosts_from, *services_from;
	int applied;                         /* 1 nhiApplied TRUE, -1 removed, 0 leave */
};
/* nhiLabel with the values of the label string 'labels' (split into
 * buf, which must live until the operation is sent); op ADD with none
 * adds nothing, REPLACE with none removes them. */
void mod_labels(struct mods *ms, int op, const char *labels, char *buf, size_t len,
		const char **vals);

/* Refuse a name the directory already has under ldap_base (an identity
 * or any other entry with that uid). */
int dw_name_free(struct dir *d, const char *name);
/* 1 if 'id' is a uidNumber or gidNumber under ldap_base or
 * ldap_people_base (uid_only: a uidNumber under ldap_base), 0 if not,
 * NHI_ERR_* on error (printed). */
int dw_id_in_use(struct dir *d, uint32_t id, int uid_only);
/* uuid (ulen bytes): the entryUUID of the entry made, returned by the
 * Post-Read control (RFC 4527), lower case. */
int dw_add(struct dir *d, const struct dw_new *n, char *uuid, size_t ulen);
int dw_modify(struct dir *d, const char *name, const struct dw_change *c);
/* release: 1 if identity 'name' was adopted (nhiAdopted TRUE), 0 if
 * not, NHI_ERR_* on error (printed). */
int dw_adopted(struct dir *d, const char *name);
/* release: delete the identity's entry and the credential entries below
 * it. */
int dw_delete(struct dir *d, const char *name);

#endif

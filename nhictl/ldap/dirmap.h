/* dirmap.h - identities between the directory and the local registry
 * (backend = ldap, issue 3).
 *
 * The directory is the source of truth; registry.db on each host is an
 * offline-capable cache of it, filled by `nhictl sync` and, after each
 * successful write verb, by reading the written entry back (read your own
 * writes).  Everything here is used by both the write verbs (store_ldap.c,
 * dirwrite.c) and sync (cmd_sync.c); nothing here touches registry.db
 * (store/dirstore.h is the registry side).
 *
 * Mapping (schema/README):
 *   DN           uid=<name, RFC 4514 escaped>,<ldap_base>
 *   name         uid              uid, gid      uidNumber, gidNumber
 *   home, shell  homeDirectory, loginShell      gecos  gecos
 *   owner        owner (a DN in ldap_people_base); the registry keeps the
 *                owner's user name (the uid of that person entry) in
 *                identity.owner and the DN in identity.owner_dn
 *   purpose      description        kind     nhiKind     state  nhiState
 *   expires      nhiExpires         created  nhiCreated
 *   review       nhiReviewInterval (seconds), nhiLastReview, nhiReviewDue
 *   orphaned     nhiOrphanedSince   retired  nhiRetiredAt, nhiReason
 *   scope        host (multi), nhiPamService (multi)
 *   last used    nhiLastUsed        adopted  nhiAdopted
 *   applied      nhiApplied (TRUE: managed by nhictl apply; resources, grants
 *                and delegations too)
 *   identity     entryUUID (operational; the key sync uses for deletes)
 *
 * Ownership: a struct dir owns its LDAP handle; dir_close() releases it.
 * Functions that fill caller buffers never allocate.
 */
#ifndef NHICTL_DIRMAP_H
#define NHICTL_DIRMAP_H

#include <stddef.h>
#include "ldapdl.h"
#include "util.h"

struct dir {
	LDAP *ld;
	struct nhictl *x;
	char seen[2048];   /* the server ld is connected to, after the ones it referred from */
	int referred;      /* a referral was followed (said once) */
};

/* Connect and bind with the configuration (nhi_ldap_connect: ldap_uri,
 * for reads and sync); on failure print "nhictl: VERB: directory
 * unreachable: <reason>" and return NHI_ERR_INVAL (no ldap_base) or the
 * connection's NHI_ERR_*.  0 on success. */
int dir_open(struct nhictl *x, struct dir *d);
void dir_close(struct dir *d);

/* The process's one connection for the write verbs (their writes, the
 * reads that guard them and the read-back), to ldap_write_uri when set,
 * else ldap_uri (nhi_ldap_connect_write), opened by dir_need() on first
 * use (0, or NHI_ERR_* printed) and closed at exit. */
extern struct dir dir_conn;
int dir_need(struct nhictl *x);

/* After a write on d->ld answered rc: when rc is LDAP_REFERRAL (a
 * read-only consumer with olcUpdateref), follow it (nhi_ldap_follow_referral:
 * d->ld becomes the provider, with the same bind settings; said once on
 * stderr) and return 1: do the write again on d->ld.  Otherwise 0; when
 * the referral cannot be followed, its reason is put on d->ld as the
 * diagnostic message, so the caller's "refused: Referral: ..." line says
 * it.  Use: do rc = ldap_modify_ext_s(d->ld, ...); while (dir_referral(d, rc));
 * An rc that is no answer from the server (libldap's negative codes: a
 * timeout, the connection lost) sets d->x->write_unsure: the write may
 * have landed (registry/intent.c keeps its intent for the next run). */
int dir_referral(struct dir *d, int rc);

/* The first value of 'attr' as a string in buf: 1 present, 0 absent,
 * -1 too long or containing a NUL. */
int dir_first_value(LDAP *ld, LDAPMessage *e, const char *attr, char *buf, size_t len);
/* 1 if dn is base or below it (DNs compared as strings, case ignored). */
int dir_dn_under(const char *dn, const char *base);
/* The naming context holding base: the longest of 'contexts' (the root
 * DSE's namingContexts) that base is, or is below, into out ("" when none;
 * one longer than len - 1 is skipped). */
void dir_context_of(const char *base, struct berval **contexts, char *out, size_t len);
/* The per-operation timeout (ldap_timeout, default 10 s). */
struct timeval dir_timeout(const struct nhi_conf *c);
/* A search read in pages (the paged results control, RFC 2696), so that
 * more entries than the server's size limit for this bind are read too
 * (slapd's default limit for binds other than the rootdn is 500): fn is
 * called with each page's result (it does not free it; its non-zero
 * return stops the search and is returned).  A base that does not exist
 * is no entries.  0, or NHI_ERR_IO / NHI_ERR_NOMEM / NHI_ERR_FORMAT with
 * the reason in why (not printed). */
typedef int (*dir_page_fn)(LDAP *ld, LDAPMessage *res, void *ctx);
int dir_search_paged(const struct nhi_conf *c, LDAP *ld, const char *base, int scope,
		     const char *filter, char **attrs, dir_page_fn fn, void *ctx, char *why,
		     size_t len);
/* t as a GeneralizedTime value, "YYYYMMDDHHMMSSZ". */
void dir_gentime(int64_t t, char out[16]);
/* A GeneralizedTime attribute: 0 (absent: *out = 0) or -1 (bad, or
 * outside 1970..9999, what nhictl itself accepts and writes). */
int dir_time_attr(LDAP *ld, LDAPMessage *e, const char *attr, int64_t *out);

/* The nhiLabel values of an entry ("key=value" each, at most LABELS_MAX)
 * as one label string, sorted by key (labels.c): 0, or -1 with the reason
 * in bad. */
int dir_labels(LDAP *ld, LDAPMessage *e, char *out, size_t len, char *bad, size_t badlen);
/* A BOOLEAN attribute (nhiApplied): *out 1 for TRUE, 0 for FALSE or
 * absent; -1 when the value is neither. */
int dir_bool_attr(LDAP *ld, LDAPMessage *e, const char *attr, int *out);
/* The DN of identity 'name' under ldap_base.  0 or NHI_ERR_RANGE. */
int dir_ident_dn(const struct nhi_conf *c, const char *name, char *out, size_t len);

/* The attributes to request for identities (NULL-terminated; includes
 * entryUUID). */
extern char *dir_ident_attrs[];

/* Convert one search result entry of an identity into *id (id->id = 0)
 * and its entryUUID (uuid may be NULL).  The owner DN is kept in owner_dn
 * and mapped to the user name in id->owner (the uid RDN value when the DN
 * is in ldap_people_base, else the whole DN).  0, or NHI_ERR_FORMAT with
 * "DN: what is wrong" in why (missing MUST attribute, bad time, bad
 * number, name that is not a valid user name). */
int dir_entry_to_ident(struct dir *d, LDAPMessage *e, struct ident *id,
		       char *owner_dn, size_t owner_dn_len,
		       char *uuid, size_t uuid_len, char *why, size_t why_len);

/* Read identity 'name' from the directory (base search on its DN).
 * 0, NHI_ERR_NOTFOUND, NHI_ERR_FORMAT or NHI_ERR_IO (reason in why). */
int dir_ident_read(struct dir *d, const char *name, struct ident *id,
		   char *owner_dn, size_t owner_dn_len,
		   char *uuid, size_t uuid_len, char *why, size_t why_len);

/* Resolve an owner given as a user name or a DN to the DN of a person
 * entry in ldap_people_base and that person's user name (uid), and tell
 * whether the person is a live human (see dir_owner_lookup).  Returns 0 (live), NHI_ERR_NOTFOUND (no such person;
 * why says so), NHI_ERR_PERM (exists but not live: locked, expired;
 * why says which), NHI_ERR_IO (directory failure, why has the reason).
 * dn/name may be NULL. */
int dir_owner_resolve(struct dir *d, const char *owner, char *dn, size_t dn_len,
		      char *name, size_t name_len, char *why, size_t why_len);

/* The same, filling *o: the person's DN, user name and entryUUID (lower
 * case; "" when the server keeps none), set with 0 and NHI_ERR_PERM.
 * Liveness is decided from attributes, so it works on any directory:
 * not an nhiIdentity, no pwdAccountLockedTime (ppolicy; any value),
 * nsAccountLock not TRUE (389-ds, FreeIPA), shadowExpire not past, and,
 * only when ldap_owner_filter is set, a base search with that filter. */
struct dir_owner {
	char dn[1024];
	char name[64];
	char uuid[64];
};
int dir_owner_lookup(struct dir *d, const char *owner, struct dir_owner *o,
		     char *why, size_t why_len);

/* The owner's user name for an owner DN read from an entry: the uid of a
 * person in ldap_people_base, else the DN itself (cut to len), as
 * dir_entry_to_ident does.  0, or -1 when 'dn' is not a DN. */
int dir_owner_name(const struct nhi_conf *c, const char *dn, char *name, size_t len);

#endif

/* dirsettle.h - waiting until a written entry is the same on every server
 * of ldap_uri (replicated directories, issue 17).
 *
 * Plain syncrepl between providers replicates whole entries: when two
 * hosts change one entry on two providers at once, the entry with the
 * later entryCSN replaces the other on every server, and a change read
 * back at once from the provider it was sent to may still be lost a
 * moment later.  dir_settle() is the wait before that read-back: it
 * reads the entry's entryCSN on the connection written through, then
 * polls every server of ldap_uri until each holds the entry with one and
 * the same entryCSN, at least the one read (replication has delivered
 * this write, or a later one, everywhere).  What the read-back then finds
 * is what stands.  With one URI in ldap_uri it returns at once.
 */
#ifndef NHICTL_DIRSETTLE_H
#define NHICTL_DIRSETTLE_H

#include "dirmap.h"

/* 0: every server of ldap_uri holds the entry 'dn' with one entryCSN
 * (or ldap_uri has one URI, or ldap_settle_wait is 0: nothing is waited
 * for); 1: not within ldap_settle_wait (nhi.conf), or a server
 * did not answer: a warning naming it is printed ("NAME: ... not yet the
 * same on every server"), the caller reads back what its server holds;
 * NHI_ERR_* when the entry cannot be read on the connection written
 * through (printed). */
int dir_settle(struct dir *d, const char *dn, const char *name);

/* dir_settle, for an entry that two providers may change at once (a
 * credential entry that two rotations move to grace): plain syncrepl can
 * apply each provider's change over the other's, and the servers then
 * hold each other's version for good, with nothing left to replicate.
 * When every server has seen the same changes (contextCSN) and still
 * holds the entry with another entryCSN, it is written again through d
 * ('attr' replaced by the values it has there: what the server written
 * through holds, with a new entryCSN that replicates everywhere; a note
 * says so) and waited for once more.  The host whose server holds the
 * newest version mends at once (4 polls), another only when nobody has
 * after 30 polls: two mends at once could swap again (at most 3 mends).
 * Once the entryCSNs agree, the values of 'attr' are compared too: two
 * providers' concurrent changes of a multi-valued attribute (two hashes
 * added to userPassword) were seen merged differently under one
 * entryCSN; that is mended the same way (a note names 'attr'), first by
 * the host whose server holds every value any server holds.
 * Returns as dir_settle. */
int dir_settle_mend(struct dir *d, const char *dn, const char *name, const char *attr);

/* The same after a delete of 'dn' through d: waits until every server of
 * ldap_uri lacks the entry, or all hold it with one entryCSN (another
 * writer's change of it, replicated after the delete, stands: plain
 * syncrepl re-adds an entry that a concurrent modify on another provider
 * carries, issue 17).  Then 0: the server written through lacks it (the
 * removal stands there; a server still holding it when the wait ran out
 * was warned about: "NAME: the entry is not yet gone from every server
 * ...; still held by: URI"); 1: the server written through holds it
 * again; NHI_ERR_* when it cannot be read there (printed).  With one URI
 * in ldap_uri, or ldap_settle_wait 0, 0 at once. */
int dir_settle_gone(struct dir *d, const char *dn, const char *name);

/* Do the servers of ldap_uri hold the same entries?  Each one's entries
 * under ldap_base (identities, credentials, grants, delegations,
 * resources, uid blocks: the DN below ldap_base and entryCSN) are compared
 * with the first server's: the number of differences (an entry of one name
 * with another entryCSN counts on both sides; 0 with one URI), the first
 * named in 'first' ("uid=NAME: entryCSN CSN on URI, not on URI";
 * "nhiGrantId=R,uid=NAME: entryCSN ... on URI, not on URI" when only a
 * grant differs).  Replication in
 * progress differs too: a difference that stays is servers that disagree
 * for good.  NHI_ERR_IO when a server cannot be read (its reason in
 * 'first', not printed), NHI_ERR_NOMEM. */
int dir_servers_compare(struct nhictl *x, char *first, size_t len);

#endif

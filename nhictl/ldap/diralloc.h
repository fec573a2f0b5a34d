/* diralloc.h - uids (and gids) for backend = ldap from per-host blocks
 * (issue 17): hosts writing to different providers of a replicated
 * directory never hand out the same id.
 *
 * A host (nhi.conf 'host', else gethostname) claims a block of
 * uid_block_size ids in uid_min..uid_max and gives out ids from its own
 * blocks only.  A block is recorded as entries
 *   cn=uid-block-FIRST-HOST-N,<ldap_base>   (objectClass nhiCounter)
 *   description: uid block FIRST-LAST of HOST: claiming | held
 *   nhiNextUid:  the next id to try (moved on by this host only)
 * one copy N per URI of ldap_write_uri (else ldap_uri), each added on that server (so no two
 * servers ever create the same DN, and no other host writes it).
 *
 * Claim: add the claim on EVERY server of ldap_write_uri (else ldap_uri), then read EVERY
 * server for an overlapping block of another host; seen one: withdraw
 * (delete the copies) and try again (the host with the lower name tries
 * the same block again, the others move past it); none: mark it held.
 * Two claimants that both write-all-then-read-all: at least one sees the
 * other (each server serialises its own writes and reads), so two hosts
 * never both hold one block.  A server of that list that does not answer
 * makes a claim fail; ids of a block already held are still given out.
 *
 * 'floor' is the host's local high-water mark (the highest id it gave out
 * from a block, kept in its registry): ids up to it are never given out
 * again, even through a server that has not yet seen the block's latest
 * nhiNextUid, and new blocks are claimed above it.  Ids in use in the
 * directory (dw_id_in_use) or refused by free_here (registry, NSS) are
 * skipped.  0 with *uid, or NHI_ERR_* (printed).
 */
#ifndef NHICTL_DIRALLOC_H
#define NHICTL_DIRALLOC_H

#include "dirmap.h"

int dw_alloc_uid(struct dir *d, int (*free_here)(struct nhictl *x, uint32_t id), uint64_t floor,
		 uint32_t *uid);

#endif

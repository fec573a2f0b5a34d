/* nss_initgroups.c - initgroups_dyn of libnss_nhi.so.2: the supplementary
 * groups of a user from the snapshot's membership index (one hash lookup,
 * so `id NAME` never walks every group). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "nhi_err.h"
#include "nss_common.h"

NSS_NHI_ENTRY enum nss_status _nss_nhi_initgroups_dyn(const char *user, gid_t group,
						      long int *start, long int *size,
						      gid_t **groupsp, long int limit,
						      int *errnop);

/* Append gid unless it is the primary group or already listed, growing
 * the array as glibc's own modules do (double it, capped by limit). */
static enum nss_status add_gid(gid_t gid, gid_t group, long int *start, long int *size,
			       gid_t **groupsp, long int limit, int *errnop)
{
	gid_t *groups = *groupsp;

	if (gid == group)
		return NSS_STATUS_SUCCESS;
	for (long int i = 0; i < *start; i++)
		if (groups[i] == gid)
			return NSS_STATUS_SUCCESS;
	if (*start == *size) {
		long int newsize;
		gid_t *ng;

		if (limit > 0 && *size >= limit)
			return NSS_STATUS_RETURN;  /* full: stop quietly */
		newsize = *size > 0 ? 2 * *size : 8;
		if (limit > 0 && newsize > limit)
			newsize = limit;
		ng = realloc(groups, (size_t)newsize * sizeof(*ng));
		if (ng == NULL) {
			*errnop = ENOMEM;
			return NSS_STATUS_TRYAGAIN;
		}
		*groupsp = groups = ng;
		*size = newsize;
	}
	groups[(*start)++] = gid;
	return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_nhi_initgroups_dyn(const char *user, gid_t group,
					long int *start, long int *size,
					gid_t **groupsp, long int limit, int *errnop)
{
	const struct nhi_snap *s;
	struct nss_nhi_ref ref;
	const uint32_t *gids = NULL;
	uint32_t n = 0;
	struct nhi_pw pw;
	enum nss_status st;
	int r, known;

	if (user == NULL || user[0] == '\0')
		return nss_nhi_notfound(errnop);
	st = nss_nhi_acquire(&s, &ref, errnop);
	if (st != NSS_STATUS_SUCCESS)
		return st;
	r = nhi_snap_pw_by_name(s, user, &pw);
	if (r == 0 && !nss_nhi_visible(pw.state)) {
		st = nss_nhi_notfound(errnop);  /* retired: no groups at all */
		goto out;
	}
	known = r == 0;
	r = nhi_snap_user_gids(s, user, &gids, &n);
	if (r == NHI_ERR_NOTFOUND) {
		/* An identity in no registry group has only its own group. */
		st = known ? NSS_STATUS_SUCCESS : nss_nhi_notfound(errnop);
		goto out;
	}
	if (r < 0) {
		*errnop = ENOENT;
		st = NSS_STATUS_UNAVAIL;
		goto out;
	}
	st = NSS_STATUS_SUCCESS;
	for (uint32_t i = 0; i < n; i++) {
		enum nss_status a = add_gid(gids[i], group, start, size, groupsp, limit, errnop);
		if (a == NSS_STATUS_RETURN)
			break;
		if (a != NSS_STATUS_SUCCESS) {
			st = a;
			break;
		}
	}
out:
	nss_nhi_release(&ref);
	return st;
}

/* nss_group.c - the group database of libnss_nhi.so.2: each identity's own
 * group (the writer adds it) and the groups of the registry. */
#include <errno.h>
#include <string.h>
#include "nhi_err.h"
#include "nss_common.h"

NSS_NHI_ENTRY enum nss_status _nss_nhi_getgrnam_r(const char *name, struct group *gr,
						  char *buf, size_t len, int *errnop);
NSS_NHI_ENTRY enum nss_status _nss_nhi_getgrgid_r(gid_t gid, struct group *gr,
						  char *buf, size_t len, int *errnop);
NSS_NHI_ENTRY enum nss_status _nss_nhi_setgrent(int stayopen);
NSS_NHI_ENTRY enum nss_status _nss_nhi_getgrent_r(struct group *gr, char *buf, size_t len,
						  int *errnop);
NSS_NHI_ENTRY enum nss_status _nss_nhi_endgrent(void);

static struct nss_nhi_cursor grcur = NSS_NHI_CURSOR_INIT;

static enum nss_status answer(const struct nhi_snap *s, int r, const struct nhi_group *g,
			      struct group *gr, char *buf, size_t len, int *errnop)
{
	if (r == NHI_ERR_NOTFOUND)
		return nss_nhi_notfound(errnop);
	if (r < 0) {
		*errnop = ENOENT;
		return NSS_STATUS_UNAVAIL;
	}
	return nss_nhi_fill_group(s, g, gr, buf, len, errnop);
}

enum nss_status _nss_nhi_getgrnam_r(const char *name, struct group *gr,
				    char *buf, size_t len, int *errnop)
{
	const struct nhi_snap *s;
	struct nss_nhi_ref ref;
	struct nhi_group g;
	enum nss_status st;

	if (name == NULL || name[0] == '\0')
		return nss_nhi_notfound(errnop);
	st = nss_nhi_acquire(&s, &ref, errnop);
	if (st != NSS_STATUS_SUCCESS)
		return st;
	st = answer(s, nhi_snap_group_by_name(s, name, &g), &g, gr, buf, len, errnop);
	nss_nhi_release(&ref);
	return st;
}

enum nss_status _nss_nhi_getgrgid_r(gid_t gid, struct group *gr,
				    char *buf, size_t len, int *errnop)
{
	const struct nhi_snap *s;
	struct nss_nhi_ref ref;
	struct nhi_group g;
	enum nss_status st;

	st = nss_nhi_acquire(&s, &ref, errnop);
	if (st != NSS_STATUS_SUCCESS)
		return st;
	st = answer(s, nhi_snap_group_by_gid(s, gid, &g), &g, gr, buf, len, errnop);
	nss_nhi_release(&ref);
	return st;
}

enum nss_status _nss_nhi_setgrent(int stayopen)
{
	return nss_nhi_setent(&grcur);
}

enum nss_status _nss_nhi_endgrent(void)
{
	return nss_nhi_endent(&grcur);
}

enum nss_status _nss_nhi_getgrent_r(struct group *gr, char *buf, size_t len, int *errnop)
{
	const struct nhi_snap *s;
	struct nss_nhi_ref ref;
	enum nss_status st;

	pthread_mutex_lock(&grcur.mu);
	st = nss_nhi_acquire(&s, &ref, errnop);
	if (st != NSS_STATUS_SUCCESS)
		goto out;
	st = nss_nhi_notfound(errnop);
	if (nss_nhi_conf()->enumerate) {
		uint32_t n = nhi_snap_n_groups(s);
		for (; grcur.next < n; grcur.next++) {
			struct nhi_group g;
			if (nhi_snap_group_at(s, grcur.next, &g) < 0)
				continue;
			st = nss_nhi_fill_group(s, &g, gr, buf, len, errnop);
			if (st == NSS_STATUS_SUCCESS)
				grcur.next++;
			break;
		}
	}
	nss_nhi_release(&ref);
out:
	pthread_mutex_unlock(&grcur.mu);
	return st;
}

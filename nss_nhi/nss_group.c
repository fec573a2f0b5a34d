/* nss_group.c - the group database of libnss_nhi.so.2: each identity's own
 * group (the writer adds it) and the groups of the registry.  Its lookups
 * and enumeration serve gshadow too (nss_gshadow.c), with another fill. */
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

/* A group looked up by name (name != NULL) or gid. */
static enum nss_status lookup(const char *name, gid_t gid, nss_nhi_group_fill *fill, void *out,
			      char *buf, size_t len, int *errnop)
{
	const struct nhi_snap *s;
	struct nss_nhi_ref ref;
	struct nhi_group g;
	enum nss_status st;
	int r;

	st = nss_nhi_acquire(&s, &ref, errnop);
	if (st != NSS_STATUS_SUCCESS)
		return st;
	r = name != NULL ? nhi_snap_group_by_name(s, name, &g) : nhi_snap_group_by_gid(s, gid, &g);
	if (r == NHI_ERR_NOTFOUND) {
		st = nss_nhi_notfound(errnop);
	} else if (r < 0) {
		*errnop = ENOENT;
		st = NSS_STATUS_UNAVAIL;
	} else {
		st = fill(s, &g, out, buf, len, errnop);
	}
	nss_nhi_release(&ref);
	return st;
}

enum nss_status nss_nhi_group_byname(const char *name, nss_nhi_group_fill *fill, void *out,
				     char *buf, size_t len, int *errnop)
{
	if (name == NULL || name[0] == '\0')
		return nss_nhi_notfound(errnop);
	return lookup(name, 0, fill, out, buf, len, errnop);
}

enum nss_status nss_nhi_group_bygid(gid_t gid, nss_nhi_group_fill *fill, void *out,
				    char *buf, size_t len, int *errnop)
{
	return lookup(NULL, gid, fill, out, buf, len, errnop);
}

enum nss_status nss_nhi_group_next(struct nss_nhi_cursor *c, nss_nhi_group_fill *fill,
				   void *out, char *buf, size_t len, int *errnop)
{
	const struct nhi_snap *s;
	struct nss_nhi_ref ref;
	enum nss_status st;

	pthread_mutex_lock(&c->mu);
	st = nss_nhi_acquire(&s, &ref, errnop);
	if (st != NSS_STATUS_SUCCESS)
		goto out;
	st = nss_nhi_notfound(errnop);
	if (nss_nhi_conf()->enumerate) {
		uint32_t n = nhi_snap_n_groups(s);
		for (; c->next < n; c->next++) {
			struct nhi_group g;
			if (nhi_snap_group_at(s, c->next, &g) < 0)
				continue;
			st = fill(s, &g, out, buf, len, errnop);
			if (st == NSS_STATUS_SUCCESS)
				c->next++;
			break;
		}
	}
	nss_nhi_release(&ref);
out:
	pthread_mutex_unlock(&c->mu);
	return st;
}

enum nss_status _nss_nhi_getgrnam_r(const char *name, struct group *gr,
				    char *buf, size_t len, int *errnop)
{
	return nss_nhi_group_byname(name, nss_nhi_fill_group, gr, buf, len, errnop);
}

enum nss_status _nss_nhi_getgrgid_r(gid_t gid, struct group *gr,
				    char *buf, size_t len, int *errnop)
{
	return nss_nhi_group_bygid(gid, nss_nhi_fill_group, gr, buf, len, errnop);
}

enum nss_status _nss_nhi_setgrent(int stayopen)
{
	(void)stayopen;
	return nss_nhi_setent(&grcur);
}

enum nss_status _nss_nhi_endgrent(void)
{
	return nss_nhi_endent(&grcur);
}

enum nss_status _nss_nhi_getgrent_r(struct group *gr, char *buf, size_t len, int *errnop)
{
	return nss_nhi_group_next(&grcur, nss_nhi_fill_group, gr, buf, len, errnop);
}

/* nss_passwd.c - the passwd database of libnss_nhi.so.2. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include "nhi_err.h"
#include "nss_common.h"

NSS_NHI_ENTRY enum nss_status _nss_nhi_getpwnam_r(const char *name, struct passwd *pw,
						  char *buf, size_t len, int *errnop);
NSS_NHI_ENTRY enum nss_status _nss_nhi_getpwuid_r(uid_t uid, struct passwd *pw,
						  char *buf, size_t len, int *errnop);
NSS_NHI_ENTRY enum nss_status _nss_nhi_setpwent(int stayopen);
NSS_NHI_ENTRY enum nss_status _nss_nhi_getpwent_r(struct passwd *pw, char *buf, size_t len,
						  int *errnop);
NSS_NHI_ENTRY enum nss_status _nss_nhi_endpwent(void);

static struct nss_nhi_cursor pwcur = NSS_NHI_CURSOR_INIT;

/* Map a reader result for one identity to an answer. */
static enum nss_status answer(int r, const struct nhi_ident *id, struct passwd *pw,
			      char *buf, size_t len, int *errnop)
{
	if (r == NHI_ERR_NOTFOUND || (r == 0 && !nss_nhi_visible(id)))
		return nss_nhi_notfound(errnop);
	if (r < 0) {
		*errnop = ENOENT;
		return NSS_STATUS_UNAVAIL;  /* a record points outside the file */
	}
	return nss_nhi_fill_passwd(id, time(NULL), pw, buf, len, errnop);
}

enum nss_status _nss_nhi_getpwnam_r(const char *name, struct passwd *pw,
				    char *buf, size_t len, int *errnop)
{
	const struct nhi_snap *s;
	struct nss_nhi_ref ref;
	struct nhi_ident id;
	enum nss_status st;

	if (name == NULL || name[0] == '\0')
		return nss_nhi_notfound(errnop);
	st = nss_nhi_acquire(&s, &ref, errnop);
	if (st != NSS_STATUS_SUCCESS)
		return st;
	st = answer(nhi_snap_pw_by_name(s, name, &id), &id, pw, buf, len, errnop);
	nss_nhi_release(&ref);
	return st;
}

enum nss_status _nss_nhi_getpwuid_r(uid_t uid, struct passwd *pw,
				    char *buf, size_t len, int *errnop)
{
	const struct nhi_snap *s;
	struct nss_nhi_ref ref;
	struct nhi_ident id;
	enum nss_status st;

	st = nss_nhi_acquire(&s, &ref, errnop);
	if (st != NSS_STATUS_SUCCESS)
		return st;
	st = answer(nhi_snap_pw_by_uid(s, uid, &id), &id, pw, buf, len, errnop);
	nss_nhi_release(&ref);
	return st;
}

enum nss_status _nss_nhi_setpwent(int stayopen)
{
	return nss_nhi_setent(&pwcur);
}

enum nss_status _nss_nhi_endpwent(void)
{
	return nss_nhi_endent(&pwcur);
}

enum nss_status _nss_nhi_getpwent_r(struct passwd *pw, char *buf, size_t len, int *errnop)
{
	const struct nhi_snap *s;
	struct nss_nhi_ref ref;
	enum nss_status st;
	time_t now = time(NULL);

	pthread_mutex_lock(&pwcur.mu);
	st = nss_nhi_acquire(&s, &ref, errnop);
	if (st != NSS_STATUS_SUCCESS)
		goto out;
	st = nss_nhi_notfound(errnop);
	if (nss_nhi_conf()->enumerate) {
		uint32_t n = nhi_snap_n_idents(s);
		for (; pwcur.next < n; pwcur.next++) {
			struct nhi_ident id;
			if (nhi_snap_ident_at(s, pwcur.next, &id) < 0 || !nss_nhi_visible(&id))
				continue;
			st = nss_nhi_fill_passwd(&id, now, pw, buf, len, errnop);
			if (st == NSS_STATUS_SUCCESS)
				pwcur.next++;  /* on ERANGE glibc retries the same entry */
			break;
		}
	}
	nss_nhi_release(&ref);
out:
	pthread_mutex_unlock(&pwcur.mu);
	return st;
}

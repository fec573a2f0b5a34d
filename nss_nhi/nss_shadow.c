/* nss_shadow.c - the shadow database of libnss_nhi.so.2.
 *
 * Answers only when the effective uid is 0, like /etc/shadow (mode 0640
 * root:shadow).  For anyone else the answer is NSS_STATUS_UNAVAIL with
 * errno EACCES, which is what glibc's nss_files gives when it cannot open
 * /etc/shadow.  There is never a password in the snapshot: sp_pwdp is "*"
 * or "!" (locked: suspended or expired), and sp_expire carries the expiry
 * (see nss_nhi_fill_spwd) so plain pam_unix blocks an expired identity. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "nhi_err.h"
#include "nss_common.h"

NSS_NHI_ENTRY enum nss_status _nss_nhi_getspnam_r(const char *name, struct spwd *sp,
						  char *buf, size_t len, int *errnop);
NSS_NHI_ENTRY enum nss_status _nss_nhi_setspent(int stayopen);
NSS_NHI_ENTRY enum nss_status _nss_nhi_getspent_r(struct spwd *sp, char *buf, size_t len,
						  int *errnop);
NSS_NHI_ENTRY enum nss_status _nss_nhi_endspent(void);

static struct nss_nhi_cursor spcur = NSS_NHI_CURSOR_INIT;

static int refused(int *errnop)
{
	if (geteuid() == 0)
		return 0;
	*errnop = EACCES;
	return 1;
}

enum nss_status _nss_nhi_getspnam_r(const char *name, struct spwd *sp,
				    char *buf, size_t len, int *errnop)
{
	const struct nhi_snap *s;
	struct nss_nhi_ref ref;
	struct nhi_ident id;
	enum nss_status st;
	int r;

	if (refused(errnop))
		return NSS_STATUS_UNAVAIL;
	if (name == NULL || name[0] == '\0')
		return nss_nhi_notfound(errnop);
	st = nss_nhi_acquire(&s, &ref, errnop);
	if (st != NSS_STATUS_SUCCESS)
		return st;
	r = nhi_snap_ident_by_name(s, name, &id);
	if (r == NHI_ERR_NOTFOUND || (r == 0 && !nss_nhi_visible(id.state))) {
		st = nss_nhi_notfound(errnop);
	} else if (r < 0) {
		*errnop = ENOENT;
		st = NSS_STATUS_UNAVAIL;
	} else {
		st = nss_nhi_fill_spwd(&id, time(NULL), sp, buf, len, errnop);
	}
	nss_nhi_release(&ref);
	return st;
}

enum nss_status _nss_nhi_setspent(int stayopen)
{
	if (geteuid() != 0)
		return NSS_STATUS_UNAVAIL;
	return nss_nhi_setent(&spcur);
}

enum nss_status _nss_nhi_endspent(void)
{
	return nss_nhi_endent(&spcur);
}

enum nss_status _nss_nhi_getspent_r(struct spwd *sp, char *buf, size_t len, int *errnop)
{
	const struct nhi_snap *s;
	struct nss_nhi_ref ref;
	enum nss_status st;
	time_t now = time(NULL);

	if (refused(errnop))
		return NSS_STATUS_UNAVAIL;
	pthread_mutex_lock(&spcur.mu);
	st = nss_nhi_acquire(&s, &ref, errnop);
	if (st != NSS_STATUS_SUCCESS)
		goto out;
	st = nss_nhi_notfound(errnop);
	if (nss_nhi_conf()->enumerate) {
		uint32_t n = nhi_snap_n_idents(s);
		for (; spcur.next < n; spcur.next++) {
			struct nhi_ident id;
			if (nhi_snap_ident_at(s, spcur.next, &id) < 0 || !nss_nhi_visible(id.state))
				continue;
			st = nss_nhi_fill_spwd(&id, now, sp, buf, len, errnop);
			if (st == NSS_STATUS_SUCCESS)
				spcur.next++;
			break;
		}
	}
	nss_nhi_release(&ref);
out:
	pthread_mutex_unlock(&spcur.mu);
	return st;
}

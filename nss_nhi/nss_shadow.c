/* nss_shadow.c - the shadow database of libnss_nhi.so.2.
 *
 * Answers only when the effective uid is 0, like /etc/shadow (mode 0640
 * root:shadow).  For anyone else the answer is NSS_STATUS_UNAVAIL with
 * errno EACCES, which is what glibc's nss_files gives when it cannot open
 * /etc/shadow.  There is never a password in the snapshot: sp_pwdp is the
 * crypt(3) hash of the identity's newest active password from the
 * root-only password file nhi.shadow (nhi_pwhash.h; the file is read only
 * after its owner, mode, size, checksum and generation are checked), so
 * plain pam_unix accepts the current password; "*" when there is none (or
 * no usable file), "!" when the identity is locked (suspended or
 * expired).  sp_expire carries the expiry (see nss_nhi_fill_spwd) so
 * plain pam_unix blocks an expired identity. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "nhi_err.h"
#include "nhi_pwhash.h"
#include "nss_common.h"

NSS_NHI_ENTRY enum nss_status _nss_nhi_getspnam_r(const char *name, struct spwd *sp,
						  char *buf, size_t len, int *errnop);
NSS_NHI_ENTRY enum nss_status _nss_nhi_setspent(int stayopen);
NSS_NHI_ENTRY enum nss_status _nss_nhi_getspent_r(struct spwd *sp, char *buf, size_t len,
						  int *errnop);
NSS_NHI_ENTRY enum nss_status _nss_nhi_endspent(void);

static struct nss_nhi_cursor spcur = NSS_NHI_CURSOR_INIT;
/* The password file of an enumeration, read at its first entry (under
 * spcur.mu), wiped and freed by set/endspent. */
static struct nhi_pwh *spfile;
static int spfile_read;

/* The password file, or NULL when it is missing or not usable (then no
 * identity gets a password: "*"). */
static struct nhi_pwh *pwfile_load(const struct nhi_snap *s)
{
	struct nhi_pwh *f = NULL;

	if (nhi_pwh_load(nss_nhi_conf()->shadow_file, s, &f, NULL, 0) < 0)
		return NULL;
	return f;
}

struct newest {
	char hash[NHI_PWH_HASH_MAX + 1];
	int found;
};

static int take_active(void *ctx, const char *hash, int grace)
{
	struct newest *n = ctx;

	if (grace)
		return 0;   /* pam_nhi's auth phase accepts those */
	nhi_format(n->hash, sizeof(n->hash), "%s", hash);
	n->found = 1;
	return 1;
}

/* Fill sp for id with the newest active hash of f (may be NULL). */
static enum nss_status fill(const struct nhi_pwh *f, const struct nhi_snap *s,
			    const struct nhi_ident *id, time_t now, struct spwd *sp, char *buf,
			    size_t len, int *errnop)
{
	struct newest n = { .found = 0 };
	enum nss_status st;

	if (f != NULL)
		nhi_pwh_each(f, s, id->name, now, take_active, &n);
	st = nss_nhi_fill_spwd(id, now, n.found ? n.hash : NULL, sp, buf, len, errnop);
	explicit_bzero(&n, sizeof(n));
	return st;
}

static void spfile_drop(void)
{
	nhi_pwh_free(spfile);
	spfile = NULL;
	spfile_read = 0;
}

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
		time_t now = time(NULL);
		struct nhi_pwh *f = NULL;

		/* a locked identity gets "!" without reading the file */
		if (!nss_nhi_locked(id.state, id.expires, now))
			f = pwfile_load(s);
		st = fill(f, s, &id, now, sp, buf, len, errnop);
		nhi_pwh_free(f);
	}
	nss_nhi_release(&ref);
	return st;
}

enum nss_status _nss_nhi_setspent(int stayopen)
{
	if (geteuid() != 0)
		return NSS_STATUS_UNAVAIL;
	pthread_mutex_lock(&spcur.mu);
	spfile_drop();
	pthread_mutex_unlock(&spcur.mu);
	return nss_nhi_setent(&spcur);
}

enum nss_status _nss_nhi_endspent(void)
{
	pthread_mutex_lock(&spcur.mu);
	spfile_drop();
	pthread_mutex_unlock(&spcur.mu);
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
			if (!spfile_read) {
				spfile = pwfile_load(s);
				spfile_read = 1;
			}
			st = fill(spfile, s, &id, now, sp, buf, len, errnop);
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

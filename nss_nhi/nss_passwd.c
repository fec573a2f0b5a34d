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

/* Copy n bytes and a NUL to *p (the room was checked). */
static inline char *put(char **p, const char *s, size_t n)
{
	char *d = *p;

	memcpy(d, s, n);
	d[n] = '\0';
	*p = d + n + 1;
	return d;
}

/* Fill a passwd from an identity's passwd view; NSS_STATUS_TRYAGAIN with
 * *errnop = ERANGE when it does not fit. */
static inline __attribute__((always_inline)) enum nss_status
fill_passwd(const struct nhi_pw *id, time_t now, struct passwd *pw, char *buf, size_t len,
	    int *errnop)
{
	static const char nohome[] = "/nonexistent";
	const char *shell = NULL;  /* a shell in place of the record's */
	char *p = buf;

	if (nss_nhi_locked(id->state, id->expires, now))
		shell = nss_nhi_conf()->nologin_shell;
	else if (id->shell_len == 0)
		shell = nss_nhi_conf()->default_shell;
	if (shell == NULL && id->home_len != 0) {
		/* the record's four strings as they lie, NULs and all, at once
		 * (their lengths come from the snapshot: at most 64 KiB each) */
		size_t n = nhi_pw_strings_len(id);

		if (n + 2 > len)
			return nss_nhi_erange(errnop);
		memcpy(p, id->name, n);
		pw->pw_name = p;
		pw->pw_gecos = p + id->name_len + 1;
		pw->pw_dir = pw->pw_gecos + id->gecos_len + 1;
		pw->pw_shell = pw->pw_dir + id->home_len + 1;
		p += n;
	} else {
		const char *home = id->home_len != 0 ? nhi_pw_home(id) : nohome;
		size_t home_len = id->home_len != 0 ? id->home_len : sizeof(nohome) - 1;
		size_t shell_len = shell != NULL ? strlen(shell) : id->shell_len;

		if (shell == NULL)
			shell = nhi_pw_shell(id);
		if (id->name_len + id->gecos_len + home_len + shell_len + 6 > len)
			return nss_nhi_erange(errnop);
		pw->pw_name = put(&p, id->name, id->name_len);
		pw->pw_gecos = put(&p, nhi_pw_gecos(id), id->gecos_len);
		pw->pw_dir = put(&p, home, home_len);
		pw->pw_shell = put(&p, shell, shell_len);
	}
	pw->pw_passwd = put(&p, "x", 1);
	pw->pw_uid = id->uid;
	pw->pw_gid = id->gid;
	return NSS_STATUS_SUCCESS;
}

/* Map a reader result for one identity to an answer. */
static inline __attribute__((always_inline)) enum nss_status
answer(int r, const struct nhi_pw *id, struct passwd *pw, char *buf, size_t len, int *errnop)
{
	if (r == NHI_ERR_NOTFOUND || (r == 0 && !nss_nhi_visible(id->state)))
		return nss_nhi_notfound(errnop);
	if (r < 0) {
		*errnop = ENOENT;
		return NSS_STATUS_UNAVAIL;  /* a record points outside the file */
	}
	return fill_passwd(id, time(NULL), pw, buf, len, errnop);
}

enum nss_status _nss_nhi_getpwnam_r(const char *name, struct passwd *pw,
				    char *buf, size_t len, int *errnop)
{
	const struct nhi_snap *s;
	struct nss_nhi_ref ref;
	struct nhi_pw id;
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
	struct nhi_pw id;
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
			struct nhi_pw id;
			if (nhi_snap_pw_at(s, pwcur.next, &id) < 0 || !nss_nhi_visible(id.state))
				continue;
			st = fill_passwd(&id, now, pw, buf, len, errnop);
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

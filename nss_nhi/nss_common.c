/* nss_common.c - configuration, the shared mapping and buffer packing of
 * libnss_nhi.so.2 (see nss_common.h for the locking and remap rules). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include "nhi_conf.h"
#include "nhi_err.h"
#include "nhi_snapshot.h"
#include "nhi_time.h"
#include "nss_common.h"

/* The process-wide words a first lookup reads and then writes live in
 * .data, not .bss: .data is the page ld.so has already written (its
 * relocations, and the zeroed start of .bss after it), where .bss past
 * it is untouched until used, and a read then a write of a word on an
 * untouched page is two page faults (the zero page, then its copy),
 * about 1 us of every process's first lookup.  conf (7 KB) stays in
 * .bss: it only starts on that page. */
#define NSS_NHI_DIRTY __attribute__((section(".data")))
static int conf_done NSS_NHI_DIRTY;      /* load_conf has run (under mu); atomic */
int nss_nhi_ready NSS_NHI_DIRTY;         /* and both conf_ok and tls_ok; atomic */
static struct nhi_conf conf;
static int conf_ok NSS_NHI_DIRTY;

/* The maps (struct nss_nhi_map in nss_common.h): every reference count
 * changes under 'mu'. */
static pthread_mutex_t mu NSS_NHI_DIRTY = PTHREAD_MUTEX_INITIALIZER;
static struct nss_nhi_map *cur NSS_NHI_DIRTY;          /* guarded by mu */
uint64_t nss_nhi_cur_serial NSS_NHI_DIRTY;             /* serial of cur (0: none); atomic */
static uint64_t serials NSS_NHI_DIRTY;                 /* guarded by mu */
static int64_t next_check NSS_NHI_DIRTY;               /* CLOCK_MONOTONIC_COARSE seconds; atomic */
pthread_key_t nss_nhi_tls_key NSS_NHI_DIRTY;
static int tls_ok NSS_NHI_DIRTY;
/* The snapshot at the built-in path when load_conf opened it: the first
 * remap takes it instead of opening it again (written and taken under
 * mu). */
static struct nhi_snap *first_snap NSS_NHI_DIRTY;
/* The shells and the shadow file a snapshot recorded, copied (the mapping
 * they were read from may be replaced) */
static char conf_strs[1024] NSS_NHI_DIRTY;

#define NSS_NHI_BUILTIN_CACHE NHI_STATEDIR "/nhi.cache"

static void map_put(struct nss_nhi_map *m)
{
	if (m != NULL && --m->refs == 0) {
		nhi_snap_close(m->snap);
		free(m);
	}
}

/* fork(2) while another thread holds 'mu' (remapping, or a thread's
 * end) would leave it locked for ever in the child, whose next lookup
 * would hang.  So fork waits for 'mu' and both sides release it (the
 * rationale of pthread_atfork(3)).  Registered when the module is
 * loaded; glibc drops the handlers if it is ever unloaded. */
static void fork_prepare(void)
{
	pthread_mutex_lock(&mu);
}

static void fork_release(void)
{
	pthread_mutex_unlock(&mu);
}

__attribute__((constructor)) static void nss_nhi_init(void)
{
	pthread_atfork(fork_prepare, fork_release, fork_release);
}

/* A thread ends: drop the reference it held. */
static void tls_free(void *p)
{
	struct nss_nhi_tls *t = p;

	pthread_mutex_lock(&mu);
	map_put(t->m);
	pthread_mutex_unlock(&mu);
	free(t);
}

/* Read once per process, leniently (NHI_CONF_LENIENT): a broken nhi.conf
 * must not make every identity vanish.  The rule for the paths: a file
 * that cannot be read or trusted gives the defaults (the snapshot in the
 * default state_dir); otherwise the good lines count and a bad line is
 * skipped, so a good state_dir or cache_path line is kept beside a broken
 * one, and a broken one of those gives the default.  Nothing is logged
 * here (NSS runs in every process): pam_nhi logs the problem and
 * `nhictl config check` lists it. */
/* 1 when r records the file at 'path' as stat finds it now: the same
 * file (device, inode), unchanged (size, mtime, ctime: nothing but root
 * can set a ctime back), or missing then and now. */
static int same_conf(const char *path, const struct nhi_snap_settings *r)
{
	struct stat st;

	if (strcmp(r->conf_path, path) != 0)
		return 0;
	if (fstatat(AT_FDCWD, path, &st, 0) < 0)
		return errno == ENOENT && (r->flags & NHI_SNAP_CONF_MISSING);
	return !(r->flags & NHI_SNAP_CONF_MISSING) && r->dev == (uint64_t)st.st_dev &&
	       r->ino == (uint64_t)st.st_ino && r->size == (uint64_t)st.st_size &&
	       r->mtime_sec == st.st_mtim.tv_sec && r->mtime_nsec == st.st_mtim.tv_nsec &&
	       r->ctime_sec == st.st_ctim.tv_sec && r->ctime_nsec == st.st_ctim.tv_nsec;
}

/* The settings from the snapshot at the built-in path when it records
 * them for the nhi.conf at 'path', unchanged since (NHI_SNAP_F_CONF):
 * then nhi.conf is not opened, checked, read or parsed, which was most
 * of a process's first lookup (7 of its 21 system calls, 13 of its 57
 * µs).  1 and conf set; 0 and nothing set (first_snap holds the
 * snapshot when it could be opened). */
static int conf_recorded(const char *path)
{
	struct nhi_snap_settings r;
	size_t a, b, c;

	if (nhi_snap_open(NSS_NHI_BUILTIN_CACHE, NHI_SNAP_TRUST, &first_snap, NULL, 0) != 0) {
		first_snap = NULL;
		return 0;
	}
	if (nhi_snap_settings(first_snap, &r) != 0 ||
	    strcmp(r.cache_path, NSS_NHI_BUILTIN_CACHE) != 0 || !same_conf(path, &r))
		return 0;
	a = strlen(r.default_shell) + 1;
	b = strlen(r.nologin_shell) + 1;
	c = strlen(r.shadow_file) + 1;
	if (a + b + c > sizeof(conf_strs))
		return 0;
	memcpy(conf_strs, r.default_shell, a);
	memcpy(conf_strs + a, r.nologin_shell, b);
	memcpy(conf_strs + a + b, r.shadow_file, c);
	nhi_conf_init(&conf);
	conf.cache_path = NSS_NHI_BUILTIN_CACHE;
	conf.default_shell = conf_strs;
	conf.nologin_shell = conf_strs + a;
	conf.shadow_file = conf_strs + a + b;
	conf.enumerate = (r.flags & NHI_SNAP_CONF_ENUMERATE) != 0;
	return 1;
}

static void load_conf(void)
{
	const char *path = nhi_conf_default_path();

	tls_ok = pthread_key_create(&nss_nhi_tls_key, tls_free) == 0;
	/* Else read leniently (no error to report; a problem is in
	 * conf.problem), and of nhi_conf_finish() only the paths: NSS does
	 * not classify accounts, so it needs neither the system uid range
	 * that nhi_conf_finish() reads from /etc/login.defs (that parse was a
	 * third of the instructions of a whole `id NAME` process) nor its
	 * checks of what only nhictl and pam_nhi read; and leaving them out
	 * keeps stdio and sscanf out of the module (fewer symbols for ld.so to
	 * bind when a process loads it). */
	if (!conf_recorded(path) &&
	    (nhi_conf_load_module(&conf, path) < 0 || conf.cache_path[0] == '\0' ||
	     strcmp(conf.cache_path, NSS_NHI_BUILTIN_CACHE) != 0) && first_snap != NULL) {
		nhi_snap_close(first_snap);
		first_snap = NULL;
	}
	if (conf.cache_path[0] == '\0')
		return;
	conf_ok = 1;
	__atomic_store_n(&nss_nhi_ready, tls_ok, __ATOMIC_RELEASE);
}

/* load_conf once, under 'mu'; after that one load, an atomic load.  Not
 * pthread_once: glibc's wakes possible waiters with a futex call when the
 * routine returns, a system call in every process's first lookup; an
 * uncontended mutex makes none, and 'mu' is already safe
 * across fork (fork_prepare). */
static void conf_once_run(void)
{
	if (!__atomic_load_n(&conf_done, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&mu);
		if (!__atomic_load_n(&conf_done, __ATOMIC_RELAXED)) {
			load_conf();
			__atomic_store_n(&conf_done, 1, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&mu);
	}
}

/* If the module is ever unloaded, no thread destructor may point into it. */
__attribute__((destructor)) static void nss_nhi_fini(void)
{
	__atomic_store_n(&nss_nhi_ready, 0, __ATOMIC_RELEASE);
	if (tls_ok)
		pthread_key_delete(nss_nhi_tls_key);
	tls_ok = 0;
}

const struct nhi_conf *nss_nhi_conf(void)
{
	return &conf;
}

static int64_t mono_secs(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) < 0)
		return 0;
	return ts.tv_sec;
}

/* 1 for the one thread that should stat the path now (at most every
 * NSS_NHI_RECHECK_SECS seconds); no syscall otherwise. */
static int stat_due(void)
{
	int64_t now = mono_secs();
	int64_t due = __atomic_load_n(&next_check, __ATOMIC_RELAXED);

	if (now < due)
		return 0;
	return __atomic_compare_exchange_n(&next_check, &due, now + NSS_NHI_RECHECK_SECS, 0,
					   __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/* With mu held: map the snapshot again (none mapped, or the mapped one
 * was replaced).  On failure nothing is current. */
static void remap_locked(void)
{
	struct nss_nhi_map *m = NULL, *old = cur;
	struct nhi_snap *s = first_snap;

	first_snap = NULL;
	if (s != NULL || nhi_snap_open(conf.cache_path, NHI_SNAP_TRUST, &s, NULL, 0) == 0) {
		m = malloc(sizeof(*m));
		if (m == NULL) {
			nhi_snap_close(s);
		} else {
			m->snap = s;
			m->stale = nhi_snap_stale_word(s);
			m->refs = 1;  /* the process's reference */
			m->serial = ++serials;
		}
	}
	cur = m;
	__atomic_store_n(&nss_nhi_cur_serial, m ? m->serial : 0, __ATOMIC_RELEASE);
	map_put(old);
	__atomic_store_n(&next_check, mono_secs() + NSS_NHI_RECHECK_SECS, __ATOMIC_RELAXED);
}

static struct nss_nhi_tls *tls_get(void)
{
	struct nss_nhi_tls *t;

	/* (pthread_getspecific, not __thread: that would make the module
	 * need ld.so's __tls_get_addr, and it links only libc) */
	if (!tls_ok)
		return NULL;
	t = pthread_getspecific(nss_nhi_tls_key);
	if (t == NULL) {
		t = calloc(1, sizeof(*t));
		if (t != NULL && pthread_setspecific(nss_nhi_tls_key, t) != 0) {
			free(t);
			t = NULL;
		}
	}
	return t;
}

/* Everything nss_nhi_acquire's inline fast path does not do: the first
 * call, every 16th lookup of a thread (the stat fallback), a new or stale
 * snapshot. */
enum nss_status nss_nhi_acquire_slow(const struct nhi_snap **snap, struct nss_nhi_ref *ref,
				     int *errnop)
{
	struct nss_nhi_tls *t;
	int replaced = 0;

	ref->locked = 0;
	conf_once_run();
	if (!conf_ok)
		goto unavail;
	t = tls_get();
	/* The map is current: the fast path came here for the 16th lookup
	 * (its counter is at a multiple of 16 now). */
	if (t != NULL && t->m != NULL &&
	    t->m->serial == __atomic_load_n(&nss_nhi_cur_serial, __ATOMIC_RELAXED) &&
	    __atomic_load_n(t->m->stale, __ATOMIC_RELAXED) == 0 &&
	    !((t->calls & 15) == 0 && stat_due() && (replaced = nhi_snap_replaced(t->m->snap)))) {
		*snap = t->m->snap;
		return NSS_STATUS_SUCCESS;
	}

	pthread_mutex_lock(&mu);
	if (cur == NULL || nhi_snap_stale(cur->snap) ||
	    (replaced && t != NULL && t->m == cur))
		remap_locked();
	if (t != NULL) {
		if (t->m != cur) {
			map_put(t->m);
			t->m = cur;
			if (cur != NULL)
				cur->refs++;
		}
		pthread_mutex_unlock(&mu);
		if (t->m == NULL)
			goto unavail;
		*snap = t->m->snap;
		return NSS_STATUS_SUCCESS;
	}
	/* No thread-specific slot (out of memory): read under the mutex. */
	if (cur == NULL) {
		pthread_mutex_unlock(&mu);
		goto unavail;
	}
	ref->locked = 1;
	*snap = cur->snap;
	return NSS_STATUS_SUCCESS;
unavail:
	*errnop = ENOENT;
	return NSS_STATUS_UNAVAIL;
}

void nss_nhi_unlock(struct nss_nhi_ref *ref)
{
	pthread_mutex_unlock(&mu);
	ref->locked = 0;
}

/* ---- buffer packing ---------------------------------------------------- */

void *nss_nhi_bufalloc(struct nss_nhi_buf *b, size_t n)
{
	size_t pad = (-(uintptr_t)b->p) & (sizeof(void *) - 1);
	void *p;

	if (pad > b->left || n > b->left - pad)
		return NULL;
	p = b->p + pad;
	b->p += pad + n;
	b->left -= pad + n;
	return p;
}

/* A member is shown unless it names a retired identity. */
static int member_visible(const struct nhi_snap *s, const char *name)
{
	struct nhi_pw pw;

	if (nhi_snap_pw_by_name(s, name, &pw) == 0)
		return nss_nhi_visible(pw.state);
	return 1;
}

/* The group's visible members as a NULL-terminated list in b (first,
 * pointer-aligned: its size known from a count); NULL when it does not fit. */
static char **pack_members(const struct nhi_snap *s, const struct nhi_group *g,
			   struct nss_nhi_buf *b)
{
	uint32_t n = 0;
	char **mem;

	for (uint32_t i = 0; i < g->n_members; i++) {
		const char *m = nhi_snap_group_member(s, g, i);
		if (m != NULL && m[0] != '\0' && member_visible(s, m))
			n++;
	}
	if ((size_t)n + 1 > b->left / sizeof(char *) ||
	    (mem = nss_nhi_bufalloc(b, ((size_t)n + 1) * sizeof(char *))) == NULL)
		return NULL;
	n = 0;
	for (uint32_t i = 0; i < g->n_members; i++) {
		const char *m = nhi_snap_group_member(s, g, i);
		if (m == NULL || m[0] == '\0' || !member_visible(s, m))
			continue;
		if ((mem[n++] = nss_nhi_bufstr(b, m)) == NULL)
			return NULL;
	}
	mem[n] = NULL;
	return mem;
}

enum nss_status nss_nhi_fill_group(const struct nhi_snap *s, const struct nhi_group *g,
				   void *out, char *buf, size_t len, int *errnop)
{
	struct group *gr = out;
	struct nss_nhi_buf b = { buf, len };

	if ((gr->gr_mem = pack_members(s, g, &b)) == NULL ||
	    (gr->gr_name = nss_nhi_bufstr(&b, g->name)) == NULL ||
	    (gr->gr_passwd = nss_nhi_bufstr(&b, "x")) == NULL)
		return nss_nhi_erange(errnop);
	gr->gr_gid = g->gid;
	return NSS_STATUS_SUCCESS;
}

enum nss_status nss_nhi_fill_sgrp(const struct nhi_snap *s, const struct nhi_group *g,
				  void *out, char *buf, size_t len, int *errnop)
{
	struct sgrp *sg = out;
	struct nss_nhi_buf b = { buf, len };

	/* no group password ("!": newgrp asks none of it), no administrators */
	if ((sg->sg_mem = pack_members(s, g, &b)) == NULL ||
	    (sg->sg_adm = nss_nhi_bufalloc(&b, sizeof(char *))) == NULL ||
	    (sg->sg_namp = nss_nhi_bufstr(&b, g->name)) == NULL ||
	    (sg->sg_passwd = nss_nhi_bufstr(&b, "!")) == NULL)
		return nss_nhi_erange(errnop);
	sg->sg_adm[0] = NULL;
	return NSS_STATUS_SUCCESS;
}

enum nss_status nss_nhi_fill_spwd(const struct nhi_ident *id, time_t now, const char *pwdp,
				  struct spwd *sp, char *buf, size_t len, int *errnop)
{
	struct nss_nhi_buf b = { buf, len };

	/* No password is ever stored in the snapshot: the hash of the
	 * identity's newest password from the root-only password file, or
	 * "*" (no password login; keys and other methods still work), or "!"
	 * (locked) for a suspended or expired identity. */
	if (nss_nhi_locked(id->state, id->expires, now))
		pwdp = "!";
	else if (pwdp == NULL)
		pwdp = "*";
	if ((sp->sp_namp = nss_nhi_bufstr(&b, id->name)) == NULL ||
	    (sp->sp_pwdp = nss_nhi_bufstr(&b, pwdp)) == NULL)
		return nss_nhi_erange(errnop);
	/* sp_lstchg 0 would mean "must change the password now" to pam_unix. */
	sp->sp_lstchg = id->created > 0 ? nhi_days_floor(id->created) : -1;
	sp->sp_min = -1;
	sp->sp_max = -1;
	sp->sp_warn = -1;
	sp->sp_inact = -1;
	/* shadow(5)'s expiry day: the first day the identity is expired all
	 * day (rounded up) while it is not yet expired, so one that expires
	 * later today still logs in through pam_unix; the day it expired once
	 * it has (pam_unix refuses at once).  See nhi_expire_days(). */
	sp->sp_expire = id->expires != 0 ? nhi_expire_days(id->expires, (int64_t)now) : -1;
	sp->sp_flag = ~0UL;
	return NSS_STATUS_SUCCESS;
}

/* ---- enumeration --------------------------------------------------------- */

enum nss_status nss_nhi_setent(struct nss_nhi_cursor *c)
{
	conf_once_run();
	pthread_mutex_lock(&c->mu);
	c->next = 0;
	pthread_mutex_unlock(&c->mu);
	return conf_ok ? NSS_STATUS_SUCCESS : NSS_STATUS_UNAVAIL;
}

enum nss_status nss_nhi_endent(struct nss_nhi_cursor *c)
{
	pthread_mutex_lock(&c->mu);
	c->next = 0;
	pthread_mutex_unlock(&c->mu);
	return NSS_STATUS_SUCCESS;
}

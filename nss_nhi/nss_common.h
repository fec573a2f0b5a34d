/* nss_common.h - what the databases of libnss_nhi.so.2 share: the
 * configuration, the mapped snapshot, buffer packing and enumeration.
 *
 * The module is loaded into every process that names a user, so it only
 * links libc, prints nothing, never exits and reads no environment except
 * through lib's secure_getenv("NHI_CONF").
 *
 * Mapping and threads.  A mapping is shared by reference: the process
 * holds one reference on the current map and every thread one on the map
 * it used last (thread-specific data, dropped when the thread ends).  A
 * lookup on the thread's own current map takes no lock and does no atomic
 * read-modify-write: it reads the map's 'stale' word and a serial number
 * (two memory reads) and copies the answer.  Reference counts change under
 * one mutex, only when a thread moves to a new map, and a map is unmapped
 * when its last reference goes - never while another thread reads it.
 * (A thread that stops doing lookups keeps the map it last used mapped
 * until it does one again or ends.)  A remap happens when
 *   - the writer marked the mapped file stale (nhictl publish makes a
 *     change visible to running processes at their next lookup), or
 *   - at most every NSS_NHI_RECHECK_SECS seconds (CLOCK_MONOTONIC_COARSE,
 *     read on every 16th lookup of a thread; no syscall) one thread stats
 *     the path as a fallback (a file replaced by something other than
 *     nhictl's writer), or
 *   - no snapshot is mapped (every call tries to open it again, so the
 *     first publish is visible at once).
 * The snapshot is opened with NHI_SNAP_TRUST but without NHI_SNAP_VERIFY:
 * verifying the data checksum is O(file size) in every process that looks
 * up a user; the header checksum, the section bounds and every offset are
 * still checked, so a corrupt file gives wrong-but-bounded answers at
 * worst, never a crash.  PAM and nhictl do verify.
 * A published snapshot must only ever be replaced by rename (as nhictl's
 * writer does): truncating or rewriting it in place (cp over it) would make
 * readers that have it mapped fault (SIGBUS) on the pages that vanished,
 * as with any mmap'd cache (SSSD's memory cache has the same rule).
 */
#ifndef NSS_NHI_COMMON_H
#define NSS_NHI_COMMON_H

#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <grp.h>
#include <gshadow.h>
#include <shadow.h>
#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include "nhi_conf.h"
#include "nhi_snapshot.h"

#define NSS_NHI_RECHECK_SECS 2

/* Every entry point is exported through exports.map; this only marks them. */
#define NSS_NHI_ENTRY __attribute__((visibility("default")))

/* A hold on the current snapshot (see the top of this file). */
struct nss_nhi_ref {
	int locked;
};

/* One mapped snapshot, shared by reference: the process holds one
 * reference on the current map, and every thread one on the map it used
 * last (its struct nss_nhi_tls, the value of nss_nhi_tls_key).  All
 * counts change under a mutex in nss_common.c; a map is unmapped when its
 * last reference goes, so never while a thread may read it. */
struct nss_nhi_map {
	struct nhi_snap *snap;
	const volatile uint32_t *stale;  /* the word that turns 1 when it is replaced (nhi_snap_stale_word) */
	unsigned long refs;
	uint64_t serial;
};
struct nss_nhi_tls {
	struct nss_nhi_map *m;
	unsigned calls;                  /* lookups by this thread */
};
/* Owned by nss_common.c; read by the fast path below (not exported:
 * -fvisibility=hidden and exports.map). */
extern int nss_nhi_ready;                /* configuration and key are usable */
extern uint64_t nss_nhi_cur_serial;      /* serial of the current map */
extern pthread_key_t nss_nhi_tls_key;

enum nss_status nss_nhi_acquire_slow(const struct nhi_snap **snap, struct nss_nhi_ref *ref,
				     int *errnop);
/* On NSS_STATUS_SUCCESS *snap is usable until nss_nhi_release(ref);
 * otherwise nothing is held and *errnop is set (UNAVAIL/ENOENT: no usable
 * configuration or snapshot).  Inline, so that a lookup on the thread's
 * current map costs a few loads and no call but pthread_getspecific. */
static inline enum nss_status nss_nhi_acquire(const struct nhi_snap **snap,
					      struct nss_nhi_ref *ref, int *errnop)
{
	struct nss_nhi_tls *t;

	if (__atomic_load_n(&nss_nhi_ready, __ATOMIC_ACQUIRE) &&
	    (t = pthread_getspecific(nss_nhi_tls_key)) != NULL && t->m != NULL &&
	    t->m->serial == __atomic_load_n(&nss_nhi_cur_serial, __ATOMIC_RELAXED) &&
	    __atomic_load_n(t->m->stale, __ATOMIC_RELAXED) == 0 &&
	    (++t->calls & 15) != 0) {
		ref->locked = 0;
		*snap = t->m->snap;
		return NSS_STATUS_SUCCESS;
	}
	return nss_nhi_acquire_slow(snap, ref, errnop);
}
void nss_nhi_unlock(struct nss_nhi_ref *ref);
static inline void nss_nhi_release(struct nss_nhi_ref *ref)
{
	if (ref->locked)
		nss_nhi_unlock(ref);  /* only without a thread-specific slot */
}
/* The configuration (valid after a successful nss_nhi_acquire). */
const struct nhi_conf *nss_nhi_conf(void);

/* Retired identities are not shown at all. */
static inline int nss_nhi_visible(int state)
{
	return state != NHI_STATE_RETIRED;
}
/* Suspended and expired (now >= expires) identities keep their entry but
 * get the nologin shell and a locked shadow password. */
static inline int nss_nhi_locked(int state, int64_t expires, time_t now)
{
	return state == NHI_STATE_SUSPENDED || (expires != 0 && now >= expires);
}

/* Packing into the caller's buffer. */
struct nss_nhi_buf {
	char *p;
	size_t left;
};
/* Copy s into the buffer; NULL when it does not fit. */
static inline char *nss_nhi_bufstr(struct nss_nhi_buf *b, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	if (n > b->left)
		return NULL;
	p = memcpy(b->p, s, n);
	b->p += n;
	b->left -= n;
	return p;
}
/* n bytes aligned for a pointer; NULL when they do not fit. */
void *nss_nhi_bufalloc(struct nss_nhi_buf *b, size_t n);

/* Fill a group/sgrp/spwd from a snapshot record (read lock held).
 * Return NSS_STATUS_SUCCESS or NSS_STATUS_TRYAGAIN with *errnop = ERANGE.
 * A group record goes into 'out': a struct group (nss_nhi_fill_group) or
 * a struct sgrp (nss_nhi_fill_sgrp: gshadow, password "!", no
 * administrators); the members are the visible ones. */
typedef enum nss_status nss_nhi_group_fill(const struct nhi_snap *s, const struct nhi_group *g,
					   void *out, char *buf, size_t len, int *errnop);
nss_nhi_group_fill nss_nhi_fill_group, nss_nhi_fill_sgrp;
/* pwdp: the password hash to serve (see nss_shadow.c), NULL for none. */
enum nss_status nss_nhi_fill_spwd(const struct nhi_ident *id, time_t now, const char *pwdp,
				  struct spwd *sp, char *buf, size_t len, int *errnop);

/* Enumeration state of one database: a cursor (record index) under a
 * mutex.  glibc already serialises set/get/end*ent per database; the mutex
 * makes the module safe on its own.  The cursor is an index into the
 * snapshot: if the snapshot is republished during an enumeration, the
 * enumeration continues at the same index in the new one (entries may be
 * skipped or repeated, as with a file rewritten under nss_files). */
struct nss_nhi_cursor {
	pthread_mutex_t mu;
	uint32_t next;
};
#define NSS_NHI_CURSOR_INIT { PTHREAD_MUTEX_INITIALIZER, 0 }

/* The group database's lookups and enumeration (nss_group.c), for
 * group and gshadow alike: by name, by gid, the next record of cursor c
 * (when enumerate is on). */
enum nss_status nss_nhi_group_byname(const char *name, nss_nhi_group_fill *fill, void *out,
				     char *buf, size_t len, int *errnop);
enum nss_status nss_nhi_group_bygid(gid_t gid, nss_nhi_group_fill *fill, void *out,
				    char *buf, size_t len, int *errnop);
enum nss_status nss_nhi_group_next(struct nss_nhi_cursor *c, nss_nhi_group_fill *fill,
				   void *out, char *buf, size_t len, int *errnop);

/* set*ent: rewind; UNAVAIL when there is no configuration. */
enum nss_status nss_nhi_setent(struct nss_nhi_cursor *c);
enum nss_status nss_nhi_endent(struct nss_nhi_cursor *c);

static inline enum nss_status nss_nhi_notfound(int *errnop)
{
	*errnop = ENOENT;
	return NSS_STATUS_NOTFOUND;
}
static inline enum nss_status nss_nhi_erange(int *errnop)
{
	*errnop = ERANGE;
	return NSS_STATUS_TRYAGAIN;
}

#endif

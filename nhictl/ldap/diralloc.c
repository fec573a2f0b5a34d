/* diralloc.c - uids (and gids) for backend = ldap from per-host blocks
 * (issue 17), so that hosts writing to different providers of a
 * replicated directory never hand out the same id.  See diralloc.h for
 * the protocol and docs/replication.md for its guarantee and limits.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>
#include "ldap.h"
#include "dirwrite.h"
#include "diralloc.h"

#define CLAIM_TRIES 32
#define MAX_PROVIDERS 16

/* One block entry (one copy of one host's claim). */
struct blk {
	uint32_t first, last;
	uint64_t next;
	int held;                       /* "held": the claim passed its check */
	int copy;                       /* the N of cn=uid-block-FIRST-HOST-N */
	char host[NHI_CONF_HOST_MAX];
	char dn[1024];
};

struct blks {
	struct blk *b;
	size_t n, cap;
};

static void blks_free(struct blks *s)
{
	free(s->b);
	s->b = NULL;
	s->n = s->cap = 0;
}

static int overlaps(const struct blk *b, uint32_t first, uint32_t last)
{
	return b->first <= last && first <= b->last;
}

/* A short random pause, so that racing claimants spread out. */
static void pause_a_little(int attempt)
{
	unsigned char r = 0;
	struct timespec ts;

	if (RAND_bytes(&r, 1) != 1)
		r = 0x80;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(1 + (attempt < 5 ? attempt : 5)) * (2000000L + r * 40000L);
	nanosleep(&ts, NULL);
}

/* The description of a block entry: "uid block FIRST-LAST of HOST: held"
 * (or ": claiming").  0, or -1 when v is not one. */
static int parse_desc(const char *v, struct blk *b)
{
	char state[16];
	unsigned first, last;

	if (sscanf(v, "uid block %u-%u of %255[^:]: %15s", &first, &last, b->host, state) != 4 ||
	    first > last || !nhi_valid_host(b->host))
		return -1;
	b->first = first;
	b->last = last;
	if (strcmp(state, "held") == 0)
		b->held = 1;
	else if (strcmp(state, "claiming") == 0)
		b->held = 0;
	else
		return -1;
	return 0;
}

static int one_value(LDAP *ld, LDAPMessage *e, const char *attr, char *buf, size_t len)
{
	struct berval **v = ldap_get_values_len(ld, e, attr);
	int r = -1;

	if (v != NULL && v[0] != NULL && v[1] == NULL && v[0]->bv_len < len) {
		memcpy(buf, v[0]->bv_val, v[0]->bv_len);
		buf[v[0]->bv_len] = '\0';
		r = 0;
	}
	ldap_value_free_len(v);
	return r;
}

/* The entries of one page of the search res into out. */
static int blocks_add(struct nhictl *x, LDAP *ld, LDAPMessage *res, struct blks *out)
{
	LDAPMessage *e;

	for (e = ldap_first_entry(ld, res); e != NULL; e = ldap_next_entry(ld, e)) {
		struct blk b;
		char desc[512], next[32], *dn, *end, *p;

		memset(&b, 0, sizeof(b));
		if (one_value(ld, e, "description", desc, sizeof(desc)) < 0 ||
		    parse_desc(desc, &b) < 0)
			continue;
		b.next = b.first;
		if (one_value(ld, e, "nhiNextUid", next, sizeof(next)) == 0) {
			unsigned long long n = strtoull(next, &end, 10);

			if (*end == '\0' && next[0] != '-')
				b.next = n;
		}
		dn = ldap_get_dn(ld, e);
		if (dn == NULL)
			continue;
		snprintf(b.dn, sizeof(b.dn), "%s", dn);
		/* the copy number: after the last '-' of the RDN value */
		p = strchr(dn, ',');
		if (p != NULL)
			*p = '\0';
		p = strrchr(dn, '-');
		b.copy = p != NULL ? atoi(p + 1) : 0;
		ldap_memfree(dn);
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 32;
			struct blk *nb = realloc(out->b, cap * sizeof(*nb));

			if (nb == NULL)
				return nerr(x, NHI_ERR_NOMEM, "out of memory");
			out->b = nb;
			out->cap = cap;
		}
		out->b[out->n++] = b;
	}
	return 0;
}

struct blocks_ctx {
	struct nhictl *x;
	struct blks *out;
};

static int blocks_page(LDAP *ld, LDAPMessage *res, void *ctx)
{
	struct blocks_ctx *b = ctx;

	return blocks_add(b->x, ld, res, b->out);
}

/* Every block entry under ldap_base on ld (entries that do not parse are
 * skipped), read in pages (dir_search_paged) so that more blocks than the
 * server's size limit for this bind are read too.  0 or NHI_ERR_*
 * (printed, naming 'where'). */
static int blocks_read(struct nhictl *x, LDAP *ld, const char *where, struct blks *out)
{
	char *attrs[] = { "description", "nhiNextUid", NULL }, why[1024] = "";
	struct blocks_ctx b = { x, out };
	int r;

	out->n = 0;
	r = dir_search_paged(&x->conf, ld, x->conf.ldap_base, LDAP_SCOPE_ONELEVEL,
			     "(&(objectClass=nhiCounter)(cn=uid-block-*))", attrs, blocks_page, &b,
			     why, sizeof(why));
	if (r < 0 && r != NHI_ERR_NOMEM && why[0] != '\0')
		return nerr(x, r, "reading the uid blocks on %s: %s", where, why);
	return r;
}

/* ---- the providers: every URI of ldap_write_uri (else ldap_uri) ------- */

struct providers {
	LDAP *ld[MAX_PROVIDERS];
	char uri[MAX_PROVIDERS][256];
	int n;
};

static void providers_close(struct providers *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		if (p->ld[i] != NULL)
			ldap_unbind_ext_s(p->ld[i], NULL, NULL);
	p->n = 0;
}

/* Connect to each URI of ldap_write_uri (else ldap_uri) on its own.  0,
 * or NHI_ERR_IO naming the one that failed (printed). */
static int providers_open(struct nhictl *x, struct providers *p)
{
	char uris[NHI_CONF_URI_MAX], err[2048], *uri, *save = NULL;
	struct nhi_conf *one;
	int r = 0;

	memset(p, 0, sizeof(*p));
	one = malloc(sizeof(*one));
	if (one == NULL)
		return nerr(x, NHI_ERR_NOMEM, "out of memory");
	snprintf(uris, sizeof(uris), "%s", nhi_ldap_write_uris(&x->conf));
	for (uri = strtok_r(uris, " \t", &save); uri != NULL; uri = strtok_r(NULL, " \t", &save)) {
		if (p->n == MAX_PROVIDERS) {
			r = nerr(x, NHI_ERR_RANGE, "claiming a uid block: more than %d URIs in %s",
				 MAX_PROVIDERS, x->conf.ldap_write_uri[0] ? "ldap_write_uri" : "ldap_uri");
			break;
		}
		*one = x->conf;
		one->ldap_uri = uri;
		snprintf(p->uri[p->n], sizeof(p->uri[p->n]), "%s", uri);
		if (nhi_ldap_connect(one, &p->ld[p->n], err, sizeof(err)) < 0) {
			r = nerr(x, NHI_ERR_IO, "cannot claim a new uid block: %s is unreachable "
				 "(a claim is written to every server in %s; ids of a block "
				 "already held are still given out): %s", uri,
				 x->conf.ldap_write_uri[0] ? "ldap_write_uri" : "ldap_uri", err);
			break;
		}
		p->n++;
	}
	free(one);
	if (r < 0)
		providers_close(p);
	return r;
}

static int block_dn(const struct nhi_conf *c, const char *host, uint32_t first, int copy,
		    char *dn, size_t len)
{
	/* host names are [A-Za-z0-9.-]: nothing to escape in a DN */
	return (size_t)snprintf(dn, len, "cn=uid-block-%u-%s-%d,%s", first, host, copy,
				c->ldap_base) >= len ? -1 : 0;
}

static int block_desc(char *buf, size_t len, uint32_t first, uint32_t last, const char *host,
		      int held)
{
	return snprintf(buf, len, "uid block %u-%u of %s: %s", first, last, host,
			held ? "held" : "claiming");
}

/* Server i of the list answered a claim with a referral (a consumer):
 * claim on the provider it names instead (a second copy there when the
 * list names it too: harmless).  0 (write again), or -1 (the reason set
 * on p->ld[i]: the caller's line says it). */
static int provider_referred(struct dir *d, struct providers *p, int i)
{
	char seen[1024], to[256], err[1024];

	snprintf(seen, sizeof(seen), "%s", p->uri[i]);
	if (nhi_ldap_follow_referral(&d->x->conf, &p->ld[i], seen, sizeof(seen), to, sizeof(to),
				     err, sizeof(err)) < 0) {
		ldap_set_option(p->ld[i], LDAP_OPT_DIAGNOSTIC_MESSAGE, err);
		return -1;
	}
	snprintf(p->uri[i], sizeof(p->uri[i]), "%s", to);
	return 0;
}

/* Add this host's claim (copy i on provider i), or set its state. */
static int claim_write(struct dir *d, struct providers *p, const char *host, uint32_t first,
		       uint32_t last, int held)
{
	char dn[1024], desc[512], cn[512], reason[512];
	int i, rc;

	block_desc(desc, sizeof(desc), first, last, host, held);
	for (i = 0; i < p->n; i++) {
		struct mods ms = { .n = 0 };

		if (block_dn(&d->x->conf, host, first, i + 1, dn, sizeof(dn)) < 0)
			return nerr(d->x, NHI_ERR_IO, "ldap_base too long");
		if (!held) {
			snprintf(cn, sizeof(cn), "uid-block-%u-%s-%d", first, host, i + 1);
			mod1(&ms, LDAP_MOD_ADD, "objectClass", "nhiCounter");
			mod1(&ms, LDAP_MOD_ADD, "cn", cn);
			mod1(&ms, LDAP_MOD_ADD, "nhiNextUid", str_int(&ms, first));
			mod1(&ms, LDAP_MOD_ADD, "description", desc);
			while ((rc = ldap_add_ext_s(p->ld[i], dn, ms.p, NULL, NULL)) == LDAP_REFERRAL &&
			       provider_referred(d, p, i) == 0)
				;
			NHI_CRASH_POINT("ldap-write", "add");
			if (rc == LDAP_ALREADY_EXISTS)
				rc = LDAP_SUCCESS;   /* a claim resumed, or the same host racing */
		} else {
			mod1(&ms, LDAP_MOD_REPLACE, "description", desc);
			rc = ldap_modify_ext_s(p->ld[i], dn, ms.p, NULL, NULL);
			NHI_CRASH_POINT("ldap-write", "modify");
			if (rc == LDAP_NO_SUCH_OBJECT)
				rc = LDAP_SUCCESS;   /* not there yet: 'claiming' copies count as held by us */
		}
		if (rc != LDAP_SUCCESS) {
			nhi_ldap_reason(p->ld[i], rc, reason, sizeof(reason));
			return nerr(d->x, NHI_ERR_IO, "directory refused claiming uid block %u-%u on %s: %s", first, last,
				    p->uri[i], reason);
		}
	}
	return 0;
}

/* Withdraw a claim: delete copy i on provider i (where it was made, so
 * the delete follows the add in that provider's replication stream). */
static void claim_withdraw(struct dir *d, struct providers *p, const char *host, uint32_t first)
{
	char dn[1024];
	int i;

	for (i = 0; i < p->n; i++)
		if (block_dn(&d->x->conf, host, first, i + 1, dn, sizeof(dn)) == 0)
			ldap_delete_ext_s(p->ld[i], dn, NULL, NULL);
}

/* The claim protocol for block first..last: write the claim to every
 * provider, then read every provider; a claim of another host that
 * overlaps means withdraw.  1 won (held), 0 lost (withdrawn; *lower set
 * when a host with a lower name wants it too), NHI_ERR_* (printed). */
static int claim(struct dir *d, const char *host, uint32_t first, uint32_t last, int *lower)
{
	struct providers p;
	struct blks seen = { NULL, 0, 0 };
	int i, r, other = 0;
	size_t k;

	*lower = 0;
	if ((r = providers_open(d->x, &p)) < 0)
		return r;
	if ((r = claim_write(d, &p, host, first, last, 0)) < 0)
		goto out;
	for (i = 0; i < p.n; i++) {
		if ((r = blocks_read(d->x, p.ld[i], p.uri[i], &seen)) < 0)
			goto out;
		for (k = 0; k < seen.n; k++) {
			if (strcmp(seen.b[k].host, host) == 0 || !overlaps(&seen.b[k], first, last))
				continue;
			other = 1;
			if (strcmp(seen.b[k].host, host) < 0)
				*lower = 1;
		}
	}
	if (other) {
		claim_withdraw(d, &p, host, first);
		r = 0;
		goto out;
	}
	r = claim_write(d, &p, host, first, last, 1);
	if (r == 0)
		r = 1;
out:
	blks_free(&seen);
	providers_close(&p);
	return r;
}

/* The next block start above 'floor' that no block entry overlaps and
 * that is not 'skip' (a block just lost); 0 when none is left. */
static uint32_t free_block(const struct nhi_conf *c, const struct blks *all, uint64_t floor,
			   uint64_t skip)
{
	uint64_t size = c->uid_block_size, first;
	size_t k;

	for (first = c->uid_min; first <= c->uid_max; first += size) {
		uint64_t last = first + size - 1 > c->uid_max ? c->uid_max : first + size - 1;
		int taken = last <= floor || first == skip;

		for (k = 0; !taken && k < all->n; k++)
			taken = overlaps(&all->b[k], (uint32_t)first, (uint32_t)last);
		if (!taken)
			return (uint32_t)first;
	}
	return 0;
}

/* Allocate from this host's held block b (the copy to move on) starting
 * at next: 1 and *uid, 0 the block is full, 2 it moved under us (another
 * nhictl of this host: read again), NHI_ERR_* (printed). */
static int from_block(struct dir *d, const struct blk *b, uint64_t next, uint64_t floor,
		      int (*free_here)(struct nhictl *x, uint32_t id), uint32_t *uid)
{
	struct mods ms = { .n = 0 };
	uint64_t cand = next;
	char cur[32], nxt[32];
	int rc;

	if (cand <= floor)
		cand = floor + 1;
	if (cand < b->first)
		cand = b->first;
	for (; cand <= b->last; cand++) {
		int used = dw_id_in_use(d, (uint32_t)cand, 0);

		if (used < 0)
			return NHI_ERR_IO;
		if (!used) {
			int f = free_here(d->x, (uint32_t)cand);

			if (f < 0)
				return NHI_ERR_IO;
			used = !f;
		}
		if (!used)
			break;
	}
	if (cand > b->last)
		return 0;
	/* move the block's next value on: compare and swap against another
	 * nhictl of this host (no other host writes this entry) */
	snprintf(cur, sizeof(cur), "%llu", (unsigned long long)b->next);
	snprintf(nxt, sizeof(nxt), "%llu", (unsigned long long)cand + 1);
	mod1(&ms, LDAP_MOD_DELETE, "nhiNextUid", cur);
	mod1(&ms, LDAP_MOD_ADD, "nhiNextUid", nxt);
	do
		rc = ldap_modify_ext_s(d->ld, b->dn, ms.p, NULL, NULL);
	while (dir_referral(d, rc));
	NHI_CRASH_POINT("ldap-write", "modify");
	if (rc == LDAP_NO_SUCH_ATTRIBUTE || rc == LDAP_TYPE_OR_VALUE_EXISTS ||
	    rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_BUSY)
		return 2;
	if (rc != LDAP_SUCCESS) {
		char reason[512];

		nhi_ldap_reason(d->ld, rc, reason, sizeof(reason));
		return nerr(d->x, NHI_ERR_IO, "directory refused moving on uid block %u-%u: %s", b->first, b->last,
			    reason);
	}
	*uid = (uint32_t)cand;
	return 1;
}

/* host, then first, then copy */
static int by_host_first(const void *a, const void *b)
{
	const struct blk *x = a, *y = b;
	int h = strcmp(x->host, y->host);

	if (h != 0)
		return h;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return x->copy - y->copy;
}

/* This host's blocks, lowest first: 1 and *uid, 0 no room in any,
 * 2 read again (a claim lost or a block moved under us), NHI_ERR_*. */
static int from_own_blocks(struct dir *d, const char *host, struct blks *all, uint64_t floor,
			   int (*free_here)(struct nhictl *x, uint32_t id), uint32_t *uid)
{
	size_t k, j;
	int r;

	if (all->n > 1)
		qsort(all->b, all->n, sizeof(*all->b), by_host_first);
	for (k = 0; k < all->n; k = j) {
		const struct blk *b = &all->b[k];
		uint64_t next = b->next;
		int held = b->held, lower;

		/* the copies of one block: the first (lowest N) is the one
		 * moved on; next is the highest of them all */
		for (j = k + 1; j < all->n && all->b[j].first == b->first &&
		     strcmp(all->b[j].host, b->host) == 0; j++) {
			if (all->b[j].next > next)
				next = all->b[j].next;
			held |= all->b[j].held;
		}
		if (strcmp(b->host, host) != 0 || b->last <= floor)
			continue;
		if (!held && floor < b->first) {
			/* a claim this host began and did not finish: check it
			 * again (one it allocated from, floor >= first, is its) */
			r = claim(d, host, b->first, b->last, &lower);
			if (r <= 0)
				return r < 0 ? r : 2;
		}
		r = from_block(d, b, next, floor, free_here, uid);
		if (r != 0)
			return r;
	}
	return 0;
}

int dw_alloc_uid(struct dir *d, int (*free_here)(struct nhictl *x, uint32_t id), uint64_t floor,
		 uint32_t *uid)
{
	const struct nhi_conf *c = &d->x->conf;
	char hbuf[NHI_CONF_HOST_MAX];
	const char *host = nhi_conf_hostname(c, hbuf, sizeof(hbuf));
	struct blks all = { NULL, 0, 0 };
	uint64_t skip = 0;
	int round, r = 0;

	if (host == NULL || !nhi_valid_host(host))
		return nerr(d->x, NHI_ERR_INVAL, "allocating a uid needs a valid host name (set "
			    "'host' in nhi.conf)");
	for (round = 0; round < CLAIM_TRIES; round++) {
		uint64_t last;
		uint32_t first;
		int lower = 0;

		if (round > 0)
			pause_a_little(round);
		if ((r = blocks_read(d->x, d->ld, "the directory", &all)) < 0)
			goto out;
		r = from_own_blocks(d, host, &all, floor, free_here, uid);
		if (r < 0 || r == 1)
			goto out;
		if (r == 2)
			continue;
		/* no room in this host's blocks: claim the next free one */
		first = free_block(c, &all, floor, skip);
		if (first == 0) {
			r = nerr(d->x, NHI_ERR_RANGE, "no free uid block of %u ids left in %u..%u "
				 "(uid_min..uid_max)", c->uid_block_size, c->uid_min, c->uid_max);
			goto out;
		}
		last = (uint64_t)first + c->uid_block_size - 1;
		r = claim(d, host, first, last > c->uid_max ? c->uid_max : (uint32_t)last, &lower);
		if (r < 0)
			goto out;
		/* lost to a concurrent claim (both withdrew): a host with a
		 * lower name than ours wanted it too, so we move past it; the
		 * lowest tries it again */
		skip = r == 0 && lower ? first : 0;
	}
	r = nerr(d->x, NHI_ERR_IO, "could not allocate a uid after %d tries (other hosts "
		 "claiming blocks at the same time?); try again", CLAIM_TRIES);
out:
	blks_free(&all);
	return r < 0 ? r : 0;
}

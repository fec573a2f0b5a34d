/* fuzz-dirmap.c - LDAP entry decoding (nhictl/ldap/dirmap.c,
 * dir_entry_to_ident): what sync and every directory read turn an
 * identity's entry into.  No server: libldap talks to one end of a
 * socketpair, and the harness answers its search on the other end with a
 * SearchResultEntry built (with liblber) from the input, then
 * SearchResultDone.  The input is text: the entry's DN on the first line,
 * then "attribute: value" lines (values may hold any byte but a newline,
 * NULs included).  Properties: a refused entry gives a message and an
 * all-zero identity; an accepted one is a valid identity (name, kind,
 * state, uid, home, expiry); and written back the way nhictl writes it
 * (times through dir_gentime), it decodes to the same identity. */
#include <sys/socket.h>
#include <lber.h>
#include <ldap.h>
#include <openldap.h>   /* ldap_init_fd */
#include "fuzz.h"
#include "nhi_time.h"
#include "util.h"
#include "dirmap.h"

#define MAX_ATTRS 64

struct attr {
	const char *name;
	size_t name_len;
	const char *vals[MAX_ATTRS];
	size_t lens[MAX_ATTRS];
	int n;
};

struct entry {
	const char *dn;
	size_t dn_len;
	struct attr attrs[MAX_ATTRS];
	int n;
};

static struct nhictl *x;

/* nhictl.c's message function (dir_open would report through it) */
int nerr(struct nhictl *ctx, int code, const char *fmt, ...)
{
	return code;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	x = calloc(1, sizeof(*x));
	if (x == NULL)
		abort();
	x->verb = "fuzz";
	nhi_conf_init(&x->conf);
	if (nhi_conf_set(&x->conf, "ldap_base", "dc=example,dc=org", "fuzz", err, sizeof(err)) < 0 ||
	    nhi_conf_set(&x->conf, "ldap_people_base", "ou=people,dc=example,dc=org", "fuzz", err,
			 sizeof(err)) < 0)
		abort();
	return 0;
}

static void add_value(struct entry *e, const char *name, size_t nlen, const char *v, size_t vlen)
{
	struct attr *a = NULL;

	for (int i = 0; i < e->n; i++)
		if (e->attrs[i].name_len == nlen && memcmp(e->attrs[i].name, name, nlen) == 0)
			a = &e->attrs[i];
	if (a == NULL) {
		if (e->n == MAX_ATTRS)
			return;
		a = &e->attrs[e->n++];
		a->name = name;
		a->name_len = nlen;
		a->n = 0;
	}
	if (a->n < MAX_ATTRS) {
		a->vals[a->n] = v;
		a->lens[a->n++] = vlen;
	}
}

/* The BER of the answer to search 'msgid': the entry, then success. */
static struct berval *encode(const struct entry *e, int msgid)
{
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	struct berval *bv = NULL;

	if (ber == NULL)
		abort();
	if (ber_printf(ber, "{it{o{", msgid, (ber_tag_t)LDAP_RES_SEARCH_ENTRY, e->dn,
		       (ber_len_t)e->dn_len) < 0)
		abort();
	for (int i = 0; i < e->n; i++) {
		const struct attr *a = &e->attrs[i];

		if (ber_printf(ber, "{o[", a->name, (ber_len_t)a->name_len) < 0)
			abort();
		for (int j = 0; j < a->n; j++)
			if (ber_printf(ber, "o", a->vals[j], (ber_len_t)a->lens[j]) < 0)
				abort();
		if (ber_printf(ber, "]}") < 0)
			abort();
	}
	if (ber_printf(ber, "}}}") < 0 ||
	    ber_printf(ber, "{it{ess}}", msgid + 0, (ber_tag_t)LDAP_RES_SEARCH_RESULT,
		       (ber_int_t)LDAP_SUCCESS, "", "") < 0 ||
	    ber_flatten(ber, &bv) < 0)
		abort();
	ber_free(ber, 1);
	return bv;
}

/* Serve the entry to a real libldap handle and decode it: what
 * dir_entry_to_ident returns, *id, and why. */
static int decode(const struct entry *e, struct ident *id, char *why, size_t whylen)
{
	static char *attrs[] = { "*", "+", NULL };
	struct timeval tv = { 5, 0 };
	LDAPMessage *res = NULL, *m;
	struct berval *bv;
	LDAP *ld = NULL;
	struct dir d;
	char owner_dn[1024], uuid[64];
	int sv[2], msgid = 0, v3 = LDAP_VERSION3, r = -1000, rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    ldap_init_fd(sv[0], LDAP_PROTO_TCP, "ldap://fuzz.invalid", &ld) != LDAP_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != LDAP_OPT_SUCCESS ||
	    ldap_search_ext(ld, "uid=x,dc=example,dc=org", LDAP_SCOPE_BASE, "(objectClass=*)",
			    attrs, 0, NULL, NULL, NULL, 0, &msgid) != LDAP_SUCCESS)
		abort();
	bv = encode(e, msgid);
	/* the answer fits the socket buffer: inputs are small */
	if (write(sv[1], bv->bv_val, bv->bv_len) != (ssize_t)bv->bv_len)
		abort();
	ber_bvfree(bv);
	rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &res);
	if (rc == LDAP_RES_SEARCH_RESULT && (m = ldap_first_entry(ld, res)) != NULL) {
		d.ld = ld;
		d.x = x;
		r = dir_entry_to_ident(&d, m, id, owner_dn, sizeof(owner_dn), uuid, sizeof(uuid),
				       why, whylen);
	}
	ldap_msgfree(res);
	ldap_unbind_ext(ld, NULL, NULL);  /* closes sv[0] */
	close(sv[1]);
	return r;
}

static int all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

/* nhictl's way of writing an identity (the parts read back here). */
static void write_back(const struct ident *id, struct entry *e, char times[7][16], char nums[3][32],
		       char *lists)
{
	const int64_t tv[7] = { id->expires, id->created, id->last_review, id->review_due,
				id->orphaned_since, id->retired_at, id->last_used };
	static const char *const tnames[7] = { "nhiExpires", "nhiCreated", "nhiLastReview",
					       "nhiReviewDue", "nhiOrphanedSince", "nhiRetiredAt",
					       "nhiLastUsed" };
#define ADD(n, v) add_value(e, n, strlen(n), v, strlen(v))
	memset(e, 0, sizeof(*e));
	e->dn = "uid=x,dc=example,dc=org";
	e->dn_len = strlen(e->dn);
	ADD("uid", id->name);
	ADD("nhiKind", id->kind);
	ADD("nhiState", id->state);
	snprintf(nums[0], 32, "%u", id->uid);
	snprintf(nums[1], 32, "%u", id->gid);
	snprintf(nums[2], 32, "%lld", (long long)id->review_interval);
	ADD("uidNumber", nums[0]);
	ADD("gidNumber", nums[1]);
	ADD("nhiReviewInterval", nums[2]);
	ADD("homeDirectory", id->home);
	ADD("loginShell", id->shell);
	if (id->gecos[0] != '\0')
		ADD("gecos", id->gecos);
	if (id->purpose[0] != '\0')
		ADD("description", id->purpose);
	if (id->retire_reason[0] != '\0')
		ADD("nhiReason", id->retire_reason);
	for (int i = 0; i < 7; i++) {
		if (tv[i] == 0)
			continue;
		dir_gentime(tv[i], times[i]);
		ADD(tnames[i], times[i]);
	}
	/* the lists: one value per comma-separated item */
	snprintf(lists, 2 * 1024 + 2, "%s", id->hosts);
	snprintf(lists + 1025, 1025, "%s", id->services);
	for (int k = 0; k < 2; k++) {
		char *s = lists + 1025 * k, *tok, *save = NULL;

		for (tok = strtok_r(s, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
			ADD(k == 0 ? "host" : "nhiPamService", tok);
	}
#undef ADD
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct entry e, e2;
	static struct ident id, id2;
	char why[2048], why2[2048], times[7][16], nums[3][32], lists[2 * 1025];
	const char *p = (const char *)data, *end = p + size, *nl;
	int r;

	if (size > 16384)
		return 0;
	memset(&e, 0, sizeof(e));
	nl = memchr(p, '\n', size);
	e.dn = p;
	e.dn_len = nl != NULL ? (size_t)(nl - p) : size;
	for (p = nl != NULL ? nl + 1 : end; p < end; p = nl + 1) {
		const char *colon;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		colon = memchr(p, ':', (size_t)(nl - p));
		if (colon != NULL && colon > p) {
			const char *v = colon + 1;

			if (v < nl && *v == ' ')
				v++;
			add_value(&e, p, (size_t)(colon - p), v, (size_t)(nl - v));
		}
	}
	why[0] = '\0';
	r = decode(&e, &id, why, sizeof(why));
	if (r == -1000)
		return 0;        /* libldap refused the message itself */
	if (r < 0) {
		if (getenv("FUZZ_DEBUG") != NULL)   /* what a seed runs into */
			fprintf(stderr, "refused: %s\n", why);
		FUZZ_ASSERT(r == NHI_ERR_FORMAT && why[0] != '\0' && all_zero(&id, sizeof(id)));
		return 0;
	}
	FUZZ_ASSERT(r == 0 && nhi_valid_name(id.name) && nhi_kind_parse(id.kind) >= 0 &&
		    nhi_state_parse(id.state) >= 0 && id.uid > 0 && id.home[0] == '/' &&
		    id.shell[0] == '/' && id.expires != 0 && id.review_interval > 0);
	/* every time in the range nhictl writes (dir_time_attr) */
	FUZZ_ASSERT(id.expires >= NHI_TIME_MIN && id.expires <= NHI_TIME_MAX);
	{
		const int64_t t[] = { id.created, id.last_review, id.review_due,
				      id.orphaned_since, id.retired_at, id.last_used };

		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
			FUZZ_ASSERT(t[i] >= 0 && t[i] <= NHI_TIME_MAX);
	}
	/* written back and read again: the same identity (owner aside: it
	 * is the person's name, not the DN nhictl writes) */
	write_back(&id, &e2, times, nums, lists);
	why2[0] = '\0';
	r = decode(&e2, &id2, why2, sizeof(why2));
	if (r != 0)
		fprintf(stderr, "written back, refused: %s\n", why2);
	FUZZ_ASSERT(r == 0);
	memset(id.owner, 0, sizeof(id.owner));
	memset(id2.owner, 0, sizeof(id2.owner));
	FUZZ_ASSERT(memcmp(&id, &id2, sizeof(id)) == 0);
	return 0;
}

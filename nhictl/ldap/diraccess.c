/* diraccess.c - resources, grants and delegations as directory entries
 * (backend = ldap, issue 14): DNs, reading entries into structs, and the
 * writes with their compare-and-swap.  See diraccess.h; no SQLite here.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "ldap.h"
#include "dirwrite.h"
#include "diraccess.h"

#define SERIAL_TRIES 8
#define DN_MAX 1600

static const char *const act_names[] = { "read", "write", "exec", "admin" };

char *da_sync_attrs[] = {
	/* identities: as dir_ident_attrs */
	"uid", "uidNumber", "gidNumber", "homeDirectory", "loginShell", "gecos",
	"owner", "description", "nhiKind", "nhiState", "nhiExpires", "nhiCreated",
	"nhiReviewInterval", "nhiLastReview", "nhiReviewDue", "nhiOrphanedSince",
	"nhiRetiredAt", "nhiReason", "host", "nhiPamService", "nhiLastUsed",
	"nhiAdopted", "nhiSerial", "entryUUID",
	/* which kind of entry, and the attributes of the other three */
	"objectClass", "cn", "nhiResourceURI", "nhiDataClass", "nhiExternal",
	"nhiGrantId", "nhiResourceName", "nhiAction", "nhiScope", "nhiCredentialId",
	"nhiDelegateTo", "nhiLabel", "nhiApplied", NULL
};

const char *da_actions_str(int actions, char *buf, size_t len)
{
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < 4; i++)
		if (actions & (1 << i)) {
			int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", act_names[i]);

			if (n < 0 || (size_t)n >= len - used)
				break;
			used += (size_t)n;
		}
	return buf;
}

static int failed(struct dir *d, int rc, const char *what, const char *dn)
{
	char reason[1024];

	nhi_ldap_reason(d->ld, rc, reason, sizeof(reason));
	return nerr(d->x, NHI_ERR_IO, "directory: %s %s: %s", what, dn, reason);
}

/* A name nhictl puts into a DN or filter: printable, no control
 * characters, nothing an LDAP filter or DN would read as syntax even
 * escaped by mistake.  The verbs refuse such names first; this is the
 * last line, so nothing is written. */
static int name_ok(struct dir *d, const char *what, const char *s, size_t max)
{
	if (s[0] == '\0' || !nhi_valid_text(s, max - 1, 1) || strpbrk(s, "*()\\=+<>;\"#/") != NULL)
		return nerr(d->x, NHI_ERR_INVAL, "%s '%s' cannot be written to the directory "
			    "(control characters or LDAP syntax)", what, s);
	return 0;
}

/* ---- DNs ---------------------------------------------------------------- */

static int resources_base(struct dir *d, char *out, size_t len)
{
	if ((size_t)snprintf(out, len, "ou=resources,%s", d->x->conf.ldap_base) >= len)
		return nerr(d->x, NHI_ERR_RANGE, "ldap_base too long");
	return 0;
}

static int resource_dn(struct dir *d, const char *name, char *out, size_t len)
{
	char esc[3 * DA_NAME_MAX + 1], base[1100];

	if (name_ok(d, "resource", name, DA_NAME_MAX) < 0)
		return NHI_ERR_INVAL;
	if (resources_base(d, base, sizeof(base)) < 0 ||
	    nhi_ldap_escape_dn_value(name, esc, sizeof(esc)) < 0 ||
	    (size_t)snprintf(out, len, "cn=%s,%s", esc, base) >= len)
		return nerr(d->x, NHI_ERR_RANGE, "resource '%s': DN too long", name);
	return 0;
}

/* attr=<value escaped>,uid=<ident>,<ldap_base> */
static int child_dn(struct dir *d, const char *ident, const char *attr, const char *value,
		    char *out, size_t len)
{
	char idn[1024], esc[3 * 256 + 1];

	if (dir_ident_dn(&d->x->conf, ident, idn, sizeof(idn)) < 0 ||
	    nhi_ldap_escape_dn_value(value, esc, sizeof(esc)) < 0 ||
	    (size_t)snprintf(out, len, "%s=%s,%s", attr, esc, idn) >= len)
		return nerr(d->x, NHI_ERR_RANGE, "identity '%s': %s DN too long", ident, attr);
	return 0;
}

static int grant_dn(struct dir *d, const char *ident, const char *resource, const char *cred_id,
		    char *out, size_t len)
{
	char id[DA_NAME_MAX + CRED_ID_MAX + 2];

	if (name_ok(d, "resource", resource, DA_NAME_MAX) < 0 ||
	    (cred_id[0] != '\0' && name_ok(d, "credential", cred_id, CRED_ID_MAX) < 0))
		return NHI_ERR_INVAL;
	snprintf(id, sizeof(id), "%s%s%s", resource, cred_id[0] ? ":" : "", cred_id);
	return child_dn(d, ident, "nhiGrantId", id, out, len);
}

static int deleg_dn(struct dir *d, const char *from, const char *to, char *out, size_t len)
{
	if (name_ok(d, "identity", to, 64) < 0)
		return NHI_ERR_INVAL;
	return child_dn(d, from, "nhiDelegateTo", to, out, len);
}

/* A DN in its LDAPv3 string form, for comparing.  0 or -1. */
static int dn_str(LDAPDN dn, char *out, size_t len)
{
	char *s = NULL;
	int r = -1;

	if (ldap_dn2str(dn, &s, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS && s != NULL &&
	    strlen(s) < len) {
		memcpy(out, s, strlen(s) + 1);
		r = 0;
	}
	ldap_memfree(s);
	return r;
}

/* 'dn' is a0=v0,a1=v1,<base> (two single-valued RDNs of these attribute
 * types right above base): v0 and v1.  0 or -1. */
static int dn_two_above(const char *dn_s, const char *base_s, const char *a0, const char *a1,
			char *v0, size_t l0, char *v1, size_t l1)
{
	LDAPDN dn = NULL, base = NULL;
	char rest[1100], b[1100];
	const char *attrs[2] = { a0, a1 };
	char *vals[2] = { v0, v1 };
	size_t lens[2] = { l0, l1 };
	int i, r = -1;

	if (ldap_str2dn(dn_s, &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || dn == NULL ||
	    ldap_str2dn(base_s, &base, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || base == NULL)
		goto out;
	for (i = 0; i < 2; i++) {
		LDAPAVA *ava;

		if (dn[i] == NULL || dn[i][0] == NULL || dn[i][1] != NULL)
			goto out;
		ava = dn[i][0];
		if (ava->la_attr.bv_len != strlen(attrs[i]) ||
		    strncasecmp(ava->la_attr.bv_val, attrs[i], ava->la_attr.bv_len) != 0 ||
		    ava->la_value.bv_len == 0 || ava->la_value.bv_len >= lens[i] ||
		    memchr(ava->la_value.bv_val, '\0', ava->la_value.bv_len) != NULL)
			goto out;
		memcpy(vals[i], ava->la_value.bv_val, ava->la_value.bv_len);
		vals[i][ava->la_value.bv_len] = '\0';
	}
	if (dn_str(dn + 2, rest, sizeof(rest)) < 0 || dn_str(base, b, sizeof(b)) < 0 ||
	    strcasecmp(rest, b) != 0)
		goto out;
	r = 0;
out:
	ldap_dnfree(dn);
	ldap_dnfree(base);
	return r;
}

/* ---- reading -------------------------------------------------------------- */

static int has_class(LDAP *ld, LDAPMessage *e, const char *oc)
{
	struct berval **v = ldap_get_values_len(ld, e, "objectClass");
	int i, found = 0;

	for (i = 0; v != NULL && v[i] != NULL && !found; i++)
		found = v[i]->bv_len == strlen(oc) && strncasecmp(v[i]->bv_val, oc, v[i]->bv_len) == 0;
	ldap_value_free_len(v);
	return found;
}

enum da_type da_entry_type(LDAP *ld, LDAPMessage *e)
{
	if (has_class(ld, e, "nhiIdentity"))
		return DA_IDENTITY;
	if (has_class(ld, e, "nhiResource"))
		return DA_RESOURCE;
	if (has_class(ld, e, "nhiGrant"))
		return DA_GRANT;
	if (has_class(ld, e, "nhiDelegation"))
		return DA_DELEG;
	return DA_OTHER;
}

/* nhiAction values into bits: 0, or -1 (an unknown action, none, or too long). */
static int read_actions(LDAP *ld, LDAPMessage *e, int *out)
{
	struct berval **v = ldap_get_values_len(ld, e, "nhiAction");
	int i, k, r = 0;

	*out = 0;
	for (i = 0; v != NULL && v[i] != NULL && r == 0; i++) {
		for (k = 0; k < 4; k++)
			if (v[i]->bv_len == strlen(act_names[k]) &&
			    strncasecmp(v[i]->bv_val, act_names[k], v[i]->bv_len) == 0)
				break;
		if (k == 4)
			r = -1;
		else
			*out |= 1 << k;
	}
	ldap_value_free_len(v);
	return r == 0 && *out != 0 ? 0 : -1;
}

static int cmp_bv(const void *a, const void *b)
{
	const struct berval *x = *(struct berval *const *)a, *y = *(struct berval *const *)b;
	int c = memcmp(x->bv_val, y->bv_val, x->bv_len < y->bv_len ? x->bv_len : y->bv_len);

	return c != 0 ? c : (x->bv_len > y->bv_len) - (x->bv_len < y->bv_len);
}

/* nhiScope values, sorted and comma-separated as the registry keeps them
 * (the order of LDAP values means nothing): 0, or -1 (a value with a
 * comma or control character, or too many). */
static int read_scopes(LDAP *ld, LDAPMessage *e, char *out, size_t len)
{
	struct berval **v = ldap_get_values_len(ld, e, "nhiScope");
	size_t used = 0, n_v = 0;
	int i, r = 0;

	out[0] = '\0';
	while (v != NULL && v[n_v] != NULL)
		n_v++;
	if (n_v > 1)
		qsort(v, n_v, sizeof(v[0]), cmp_bv);
	for (i = 0; v != NULL && v[i] != NULL && r == 0; i++) {
		char val[256];
		int n;

		if (v[i]->bv_len == 0 || v[i]->bv_len >= sizeof(val)) {
			r = -1;
			break;
		}
		memcpy(val, v[i]->bv_val, v[i]->bv_len);
		val[v[i]->bv_len] = '\0';
		if (strlen(val) != v[i]->bv_len || !nhi_valid_text(val, sizeof(val) - 1, 0) ||
		    strchr(val, ',') != NULL)
			r = -1;
		else if (i > 0 && cmp_bv(&v[i], &v[i - 1]) == 0)
			continue;
		else if ((n = snprintf(out + used, len - used, "%s%s", used ? "," : "", val)) < 0 ||
			 (size_t)n >= len - used)
			r = -1;
		else
			used += (size_t)n;
	}
	ldap_value_free_len(v);
	return r;
}

/* The entry's DN (ldap_memfree it) and why's "DN: " prefix. */
#define BAD(...) do { snprintf(bad, sizeof(bad), __VA_ARGS__); goto out; } while (0)

static int bad_entry(char *why, size_t len, const char *dn, const char *bad)
{
	return nhi_seterr(why, len, NHI_ERR_FORMAT, "%s: %s", dn != NULL ? dn : "(entry without a DN)",
			  bad);
}

int da_entry_to_resource(struct dir *d, LDAPMessage *e, struct da_resource *r,
			 char *why, size_t len)
{
	char *dn = ldap_get_dn(d->ld, e), base[1100], cn[DA_NAME_MAX], ou[32], buf[16];
	char bad[256] = "";
	int k;

	memset(r, 0, sizeof(*r));
	if (resources_base(d, base, sizeof(base)) < 0)
		BAD("ldap_base too long");
	if (dn == NULL || dn_two_above(dn, d->x->conf.ldap_base, "cn", "ou", cn, sizeof(cn), ou,
				       sizeof(ou)) < 0 || strcasecmp(ou, "resources") != 0)
		BAD("not a resource of %.200s", base);
	if (dir_first_value(d->ld, e, "cn", r->name, sizeof(r->name)) != 1 ||
	    strcmp(r->name, cn) != 0 || !nhi_valid_text(r->name, sizeof(r->name) - 1, 1))
		BAD("cn missing, not the RDN, or not a valid name");
	if (dir_first_value(d->ld, e, "nhiKind", r->kind, sizeof(r->kind)) != 1 ||
	    !nhi_valid_text(r->kind, sizeof(r->kind) - 1, 1))
		BAD("nhiKind missing or not a word");
	if (dir_first_value(d->ld, e, "nhiResourceURI", r->uri, sizeof(r->uri)) < 0 ||
	    !nhi_valid_text(r->uri, sizeof(r->uri) - 1, 0))
		BAD("nhiResourceURI too long or with control characters");
	k = dir_first_value(d->ld, e, "nhiDataClass", r->data_class, sizeof(r->data_class));
	if (k == 0)
		snprintf(r->data_class, sizeof(r->data_class), "internal");
	for (char *p = r->data_class; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	if (k < 0 || (strcmp(r->data_class, "public") != 0 && strcmp(r->data_class, "internal") != 0 &&
		      strcmp(r->data_class, "confidential") != 0 && strcmp(r->data_class, "pii") != 0 &&
		      strcmp(r->data_class, "secret") != 0))
		BAD("nhiDataClass is not public/internal/confidential/pii/secret");
	k = dir_first_value(d->ld, e, "nhiExternal", buf, sizeof(buf));
	if (k < 0 || (k == 1 && strcmp(buf, "TRUE") != 0 && strcmp(buf, "FALSE") != 0))
		BAD("nhiExternal is not TRUE/FALSE");
	r->external = k == 1 && strcmp(buf, "TRUE") == 0;
	if (dir_first_value(d->ld, e, "description", r->purpose, sizeof(r->purpose)) < 0 ||
	    !nhi_valid_text(r->purpose, 256, 0))
		BAD("description is not printable text of at most 256 bytes");
	if (dir_time_attr(d->ld, e, "nhiCreated", &r->created) < 0)
		BAD("nhiCreated is not a GeneralizedTime from 1970 to 9999");
	if (dir_labels(d->ld, e, r->labels, sizeof(r->labels), bad, sizeof(bad)) < 0)
		goto out;
	if (dir_bool_attr(d->ld, e, "nhiApplied", &r->applied) < 0)
		BAD("nhiApplied is not TRUE/FALSE");
	k = dir_first_value(d->ld, e, "owner", r->owner_dn, sizeof(r->owner_dn));
	if (k < 0 || (k == 1 && dir_owner_name(&d->x->conf, r->owner_dn, r->owner,
						sizeof(r->owner)) < 0))
		BAD("owner is not a DN");
	if (dir_first_value(d->ld, e, "entryUUID", r->uuid, sizeof(r->uuid)) < 0)
		BAD("entryUUID too long");
out:
	k = bad[0] ? bad_entry(why, len, dn, bad) : 0;
	ldap_memfree(dn);
	return k;
}

int da_entry_to_grant(struct dir *d, LDAPMessage *e, struct da_grant *g, char *why, size_t len)
{
	char *dn = ldap_get_dn(d->ld, e), gid[DA_NAME_MAX + CRED_ID_MAX + 2], want[sizeof(gid)];
	char bad[256] = "";
	int k;

	memset(g, 0, sizeof(*g));
	if (dn == NULL || dn_two_above(dn, d->x->conf.ldap_base, "nhiGrantId", "uid", gid,
				       sizeof(gid), g->ident, sizeof(g->ident)) < 0 ||
	    !nhi_valid_name(g->ident))
		BAD("not a grant directly below an identity of %.200s", d->x->conf.ldap_base);
	if (dir_first_value(d->ld, e, "nhiResourceName", g->resource, sizeof(g->resource)) != 1 ||
	    !nhi_valid_text(g->resource, sizeof(g->resource) - 1, 1))
		BAD("nhiResourceName missing or not a valid name");
	if (dir_first_value(d->ld, e, "nhiCredentialId", g->cred_id, sizeof(g->cred_id)) < 0 ||
	    !nhi_valid_text(g->cred_id, sizeof(g->cred_id) - 1, 1))
		BAD("nhiCredentialId is not a credential id");
	snprintf(want, sizeof(want), "%s%s%s", g->resource, g->cred_id[0] ? ":" : "", g->cred_id);
	if (strcasecmp(want, gid) != 0)
		BAD("nhiGrantId is not %s", want);
	if (read_actions(d->ld, e, &g->actions) < 0)
		BAD("nhiAction missing or not read/write/exec/admin");
	if (read_scopes(d->ld, e, g->scopes, sizeof(g->scopes)) < 0)
		BAD("nhiScope: a value with a comma or control character, or too many");
	if (dir_time_attr(d->ld, e, "nhiCreated", &g->created) < 0 ||
	    dir_time_attr(d->ld, e, "nhiExpires", &g->expires) < 0 || g->expires == 0)
		BAD("nhiExpires missing, or a time is not a GeneralizedTime from 1970 to 9999");
	if (dir_first_value(d->ld, e, "entryUUID", g->uuid, sizeof(g->uuid)) < 0)
		BAD("entryUUID too long");
	if (dir_bool_attr(d->ld, e, "nhiApplied", &g->applied) < 0)
		BAD("nhiApplied is not TRUE/FALSE");
out:
	k = bad[0] ? bad_entry(why, len, dn, bad) : 0;
	ldap_memfree(dn);
	return k;
}

int da_entry_to_deleg(struct dir *d, LDAPMessage *e, struct da_deleg *g, char *why, size_t len)
{
	char *dn = ldap_get_dn(d->ld, e), to[64], bad[256] = "";
	int k;

	memset(g, 0, sizeof(*g));
	if (dn == NULL || dn_two_above(dn, d->x->conf.ldap_base, "nhiDelegateTo", "uid", to,
				       sizeof(to), g->from, sizeof(g->from)) < 0 ||
	    !nhi_valid_name(g->from))
		BAD("not a delegation directly below an identity of %.200s", d->x->conf.ldap_base);
	if (dir_first_value(d->ld, e, "nhiDelegateTo", g->to, sizeof(g->to)) != 1 ||
	    !nhi_valid_name(g->to) || strcmp(g->to, to) != 0)
		BAD("nhiDelegateTo missing, not the RDN, or not a valid name");
	if (strcmp(g->from, g->to) == 0)
		BAD("a delegation to itself");
	if (read_actions(d->ld, e, &g->actions) < 0)
		BAD("nhiAction missing or not read/write/exec/admin");
	if (read_scopes(d->ld, e, g->scopes, sizeof(g->scopes)) < 0)
		BAD("nhiScope: a value with a comma or control character, or too many");
	if (dir_first_value(d->ld, e, "nhiReason", g->reason, sizeof(g->reason)) < 0 ||
	    !nhi_valid_text(g->reason, 256, 0))
		BAD("nhiReason is not printable text of at most 256 bytes");
	if (dir_time_attr(d->ld, e, "nhiCreated", &g->created) < 0 ||
	    dir_time_attr(d->ld, e, "nhiExpires", &g->expires) < 0 || g->expires == 0)
		BAD("nhiExpires missing, or a time is not a GeneralizedTime from 1970 to 9999");
	if (dir_first_value(d->ld, e, "entryUUID", g->uuid, sizeof(g->uuid)) < 0)
		BAD("entryUUID too long");
	if (dir_bool_attr(d->ld, e, "nhiApplied", &g->applied) < 0)
		BAD("nhiApplied is not TRUE/FALSE");
out:
	k = bad[0] ? bad_entry(why, len, dn, bad) : 0;
	ldap_memfree(dn);
	return k;
}
#undef BAD

/* A base search on dn for 'filter': 0 with *res (ldap_msgfree it) and
 * *e, NHI_ERR_NOTFOUND (not printed), NHI_ERR_IO (printed). */
static int read_entry(struct dir *d, const char *dn, const char *filter, LDAPMessage **res,
		      LDAPMessage **e)
{
	struct timeval tv = dir_timeout(&d->x->conf);
	int rc;

	*res = NULL;
	*e = NULL;
	rc = ldap_search_ext_s(d->ld, dn, LDAP_SCOPE_BASE, filter, da_sync_attrs, 0, NULL, NULL,
			       &tv, 1, res);
	if (rc == LDAP_SUCCESS && (*e = ldap_first_entry(d->ld, *res)) != NULL)
		return 0;
	ldap_msgfree(*res);
	*res = NULL;
	if (rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_SUCCESS)
		return NHI_ERR_NOTFOUND;
	return failed(d, rc, "reading", dn);
}

/* Read dn and convert it with 'conv' (one of da_entry_to_*). */
static int read_conv(struct dir *d, const char *dn, const char *filter, const char *what,
		     int (*conv)(struct dir *, LDAPMessage *, void *, char *, size_t), void *out)
{
	LDAPMessage *res, *e;
	char why[1024];
	int r = read_entry(d, dn, filter, &res, &e);

	if (r == NHI_ERR_NOTFOUND)
		return nerr(d->x, r, "no %s in the directory (%s)", what, dn);
	if (r == 0 && (r = conv(d, e, out, why, sizeof(why))) < 0)
		nerr(d->x, r, "%s", why);
	ldap_msgfree(res);
	return r;
}

static int conv_resource(struct dir *d, LDAPMessage *e, void *o, char *why, size_t len)
{
	return da_entry_to_resource(d, e, o, why, len);
}

static int conv_grant(struct dir *d, LDAPMessage *e, void *o, char *why, size_t len)
{
	return da_entry_to_grant(d, e, o, why, len);
}

static int conv_deleg(struct dir *d, LDAPMessage *e, void *o, char *why, size_t len)
{
	return da_entry_to_deleg(d, e, o, why, len);
}

int da_resource_read(struct dir *d, const char *name, struct da_resource *r)
{
	char dn[DN_MAX], what[DA_NAME_MAX + 16];
	int rc = resource_dn(d, name, dn, sizeof(dn));

	snprintf(what, sizeof(what), "resource '%s'", name);
	return rc < 0 ? rc : read_conv(d, dn, "(objectClass=nhiResource)", what, conv_resource, r);
}

int da_grant_read(struct dir *d, const char *ident, const char *resource, const char *cred_id,
		  struct da_grant *g)
{
	char dn[DN_MAX], what[256];
	int rc = grant_dn(d, ident, resource, cred_id, dn, sizeof(dn));

	snprintf(what, sizeof(what), "grant of %s on %s", ident, resource);
	return rc < 0 ? rc : read_conv(d, dn, "(objectClass=nhiGrant)", what, conv_grant, g);
}

int da_deleg_read(struct dir *d, const char *from, const char *to, struct da_deleg *g)
{
	char dn[DN_MAX], what[192];
	int rc = deleg_dn(d, from, to, dn, sizeof(dn));

	snprintf(what, sizeof(what), "delegation from %s to %s", from, to);
	return rc < 0 ? rc : read_conv(d, dn, "(objectClass=nhiDelegation)", what, conv_deleg, g);
}

/* ---- writing -------------------------------------------------------------- */

/* The comma-separated list as values in 'vals' (pointers into buf). */
static int split(char *buf, const char **vals, int max)
{
	char *p, *save = NULL;
	int n = 0;

	for (p = strtok_r(buf, ",", &save); p != NULL && n < max; p = strtok_r(NULL, ",", &save))
		if (*p != '\0')
			vals[n++] = p;
	return n;
}

static int actions_vals(int actions, const char **vals)
{
	int i, n = 0;

	for (i = 0; i < 4; i++)
		if (actions & (1 << i))
			vals[n++] = act_names[i];
	return n;
}

static int add_entry(struct dir *d, const char *dn, struct mods *ms)
{
	int rc;

	do
		rc = ldap_add_ext_s(d->ld, dn, ms->p, NULL, NULL);
	while (dir_referral(d, rc));

	NHI_CRASH_POINT("ldap-write", "add");
	return rc;
}

static int ensure_ou(struct dir *d)
{
	struct mods ms = { .n = 0 };
	char dn[1100];
	int rc;

	if (resources_base(d, dn, sizeof(dn)) < 0)
		return NHI_ERR_RANGE;
	mod1(&ms, LDAP_MOD_ADD, "objectClass", "organizationalUnit");
	mod1(&ms, LDAP_MOD_ADD, "ou", "resources");
	rc = add_entry(d, dn, &ms);
	if (rc != LDAP_SUCCESS && rc != LDAP_ALREADY_EXISTS)
		return failed(d, rc, "adding", dn);
	return 0;
}

int da_resource_add(struct dir *d, const struct da_resource *r)
{
	struct mods ms = { .n = 0 };
	char dn[DN_MAX], lbuf[LABELS_BUFSZ];
	const char *lvals[LABELS_MAX];
	int rc;

	if ((rc = resource_dn(d, r->name, dn, sizeof(dn))) < 0)
		return rc;
	if (!nhi_valid_text(r->kind, sizeof(r->kind) - 1, 1) || r->kind[0] == '\0' ||
	    !nhi_valid_text(r->uri, sizeof(r->uri) - 1, 0) || !nhi_valid_text(r->purpose, 256, 0))
		return nerr(d->x, NHI_ERR_INVAL, "resource '%s': kind, URI or purpose with control "
			    "characters: not written", r->name);
	mod1(&ms, LDAP_MOD_ADD, "objectClass", "nhiResource");
	mod1(&ms, LDAP_MOD_ADD, "cn", r->name);
	mod1(&ms, LDAP_MOD_ADD, "nhiKind", r->kind);
	if (r->uri[0] != '\0')
		mod1(&ms, LDAP_MOD_ADD, "nhiResourceURI", r->uri);
	if (r->owner_dn[0] != '\0')
		mod1(&ms, LDAP_MOD_ADD, "owner", r->owner_dn);
	mod1(&ms, LDAP_MOD_ADD, "nhiDataClass", r->data_class[0] ? r->data_class : "internal");
	mod1(&ms, LDAP_MOD_ADD, "nhiExternal", r->external ? "TRUE" : "FALSE");
	if (r->purpose[0] != '\0')
		mod1(&ms, LDAP_MOD_ADD, "description", r->purpose);
	mod1(&ms, LDAP_MOD_ADD, "nhiCreated", str_time(&ms, r->created ? r->created : d->x->now));
	mod_labels(&ms, LDAP_MOD_ADD, r->labels, lbuf, sizeof(lbuf), lvals);
	if (r->applied)
		mod1(&ms, LDAP_MOD_ADD, "nhiApplied", "TRUE");
	rc = add_entry(d, dn, &ms);
	if (rc == LDAP_NO_SUCH_OBJECT) {   /* the first resource: its ou */
		if (ensure_ou(d) < 0)
			return NHI_ERR_IO;
		rc = add_entry(d, dn, &ms);
	}
	if (rc == LDAP_ALREADY_EXISTS)
		return nerr(d->x, NHI_ERR_EXISTS, "resource '%s' already exists in the directory",
			    r->name);
	if (rc != LDAP_SUCCESS)
		return failed(d, rc, "adding", dn);
	return 0;
}

/* The resource's nhiSerial (0 when absent).  NHI_ERR_NOTFOUND (printed). */
static int resource_serial(struct dir *d, const char *dn, const char *name, long long *serial)
{
	LDAPMessage *res, *e;
	char buf[32];
	int r = read_entry(d, dn, "(objectClass=nhiResource)", &res, &e);

	*serial = 0;
	if (r == NHI_ERR_NOTFOUND)
		return nerr(d->x, r, "no resource '%s' in the directory", name);
	if (r == 0 && dir_first_value(d->ld, e, "nhiSerial", buf, sizeof(buf)) > 0)
		*serial = strtoll(buf, NULL, 10);
	ldap_msgfree(res);
	return r;
}

static int serial_assertion(struct dir *d, long long serial, LDAPControl **ctrl)
{
	char a[64];

	if (serial > 0)
		snprintf(a, sizeof(a), "(nhiSerial=%lld)", serial);
	else
		snprintf(a, sizeof(a), "(!(nhiSerial=*))");
	if (ldap_create_assertion_control(d->ld, a, 1, ctrl) != LDAP_SUCCESS)
		return nerr(d->x, NHI_ERR_NOMEM, "cannot build an assertion control");
	return 0;
}

/* Move the resource's nhiSerial on (compare and swap, retried when
 * another writer moved it).  NHI_ERR_NOTFOUND: the resource is gone. */
static int resource_bump(struct dir *d, const char *name)
{
	char dn[DN_MAX], next[32], *v[2] = { next, NULL };
	LDAPMod m = { LDAP_MOD_REPLACE, "nhiSerial", { v } }, *mods[2] = { &m, NULL };
	LDAPControl *ctrl, *ctrls[2] = { NULL, NULL };
	long long serial;
	int i, r, rc = LDAP_ASSERTION_FAILED;

	if ((r = resource_dn(d, name, dn, sizeof(dn))) < 0)
		return r;
	for (i = 0; i < SERIAL_TRIES && rc == LDAP_ASSERTION_FAILED; i++) {
		if ((r = resource_serial(d, dn, name, &serial)) < 0 ||
		    (r = serial_assertion(d, serial, &ctrl)) < 0)
			return r;
		snprintf(next, sizeof(next), "%lld", serial + 1);
		ctrls[0] = ctrl;
		do
			rc = ldap_modify_ext_s(d->ld, dn, mods, ctrls, NULL);
		while (dir_referral(d, rc));
		NHI_CRASH_POINT("ldap-write", "modify");
		ldap_control_free(ctrl);
	}
	if (rc == LDAP_NO_SUCH_OBJECT)
		return nerr(d->x, NHI_ERR_NOTFOUND, "no resource '%s' in the directory", name);
	if (rc == LDAP_ASSERTION_FAILED)
		return nerr(d->x, NHI_ERR_CONFLICT, "resource '%s' keeps changing in the directory; "
			    "try again", name);
	if (rc != LDAP_SUCCESS)
		return failed(d, rc, "modifying", dn);
	return 0;
}

/* Delete every entry 'filter' finds below base (scope): counted by type
 * in *grants and *delegs (may be NULL).  Gone already is fine. */
static int delete_found(struct dir *d, const char *base, int scope, const char *filter,
			int *grants, int *delegs)
{
	char *attrs[] = { "objectClass", NULL };
	struct timeval tv = dir_timeout(&d->x->conf);
	LDAPMessage *res = NULL, *e;
	int rc, r = 0;

	rc = ldap_search_ext_s(d->ld, base, scope, filter, attrs, 0, NULL, NULL, &tv,
			       LDAP_NO_LIMIT, &res);
	if (rc == LDAP_NO_SUCH_OBJECT) {
		ldap_msgfree(res);
		return 0;
	}
	if (rc != LDAP_SUCCESS) {
		ldap_msgfree(res);
		return failed(d, rc, "searching", base);
	}
	for (e = ldap_first_entry(d->ld, res); r == 0 && e != NULL; e = ldap_next_entry(d->ld, e)) {
		char *dn = ldap_get_dn(d->ld, e);
		enum da_type t = da_entry_type(d->ld, e);

		do
			rc = dn != NULL ? ldap_delete_ext_s(d->ld, dn, NULL, NULL) : LDAP_NO_MEMORY;
		while (dir_referral(d, rc));
		NHI_CRASH_POINT("ldap-write", "delete");
		if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT)
			r = failed(d, rc, "deleting", dn != NULL ? dn : "?");
		else if (rc == LDAP_SUCCESS && t == DA_GRANT && grants != NULL)
			(*grants)++;
		else if (rc == LDAP_SUCCESS && t == DA_DELEG && delegs != NULL)
			(*delegs)++;
		ldap_memfree(dn);
	}
	ldap_msgfree(res);
	return r;
}

int da_resource_remove(struct dir *d, const char *name, int *grants)
{
	char dn[DN_MAX], esc[3 * DA_NAME_MAX + 1], filter[3 * DA_NAME_MAX + 64];
	LDAPControl *ctrl, *ctrls[2] = { NULL, NULL };
	long long serial;
	int i, r, rc = LDAP_ASSERTION_FAILED, n = 0;

	if ((r = resource_dn(d, name, dn, sizeof(dn))) < 0)
		return r;
	if (nhi_ldap_escape_filter(name, esc, sizeof(esc)) < 0)
		return nerr(d->x, NHI_ERR_RANGE, "resource '%s': name too long", name);
	snprintf(filter, sizeof(filter), "(&(objectClass=nhiGrant)(nhiResourceName=%s))", esc);
	for (i = 0; i < SERIAL_TRIES && rc == LDAP_ASSERTION_FAILED; i++) {
		if ((r = resource_serial(d, dn, name, &serial)) < 0 ||
		    (r = delete_found(d, d->x->conf.ldap_base, LDAP_SCOPE_SUBTREE, filter, &n,
				      NULL)) < 0 ||
		    (r = serial_assertion(d, serial, &ctrl)) < 0)
			return r;
		ctrls[0] = ctrl;
		do
			rc = ldap_delete_ext_s(d->ld, dn, ctrls, NULL);
		while (dir_referral(d, rc));
		NHI_CRASH_POINT("ldap-write", "delete");
		ldap_control_free(ctrl);
	}
	if (grants != NULL)
		*grants = n;
	if (rc == LDAP_NO_SUCH_OBJECT)
		return nerr(d->x, NHI_ERR_NOTFOUND, "no resource '%s' in the directory", name);
	if (rc == LDAP_ASSERTION_FAILED)
		return nerr(d->x, NHI_ERR_CONFLICT, "resource '%s' keeps getting grants in the "
			    "directory; try again", name);
	if (rc != LDAP_SUCCESS)
		return failed(d, rc, "deleting", dn);
	return 0;
}

/* The grant's entry (exists_ok: one there already is fine). */
static int grant_entry_add(struct dir *d, const struct da_grant *g, const char *dn, int exists_ok)
{
	struct mods ms = { .n = 0 };
	char sbuf[DA_SCOPES_MAX], gid[DA_NAME_MAX + CRED_ID_MAX + 2];
	const char *acts[4], *scopes[64];
	int na = actions_vals(g->actions, acts), ns, rc;

	snprintf(sbuf, sizeof(sbuf), "%s", g->scopes);
	ns = split(sbuf, scopes, 64);
	snprintf(gid, sizeof(gid), "%s%s%s", g->resource, g->cred_id[0] ? ":" : "", g->cred_id);
	mod1(&ms, LDAP_MOD_ADD, "objectClass", "nhiGrant");
	mod1(&ms, LDAP_MOD_ADD, "nhiGrantId", gid);
	mod1(&ms, LDAP_MOD_ADD, "nhiResourceName", g->resource);
	mod(&ms, LDAP_MOD_ADD, "nhiAction", acts, na);
	mod1(&ms, LDAP_MOD_ADD, "nhiExpires", str_time(&ms, g->expires));
	mod1(&ms, LDAP_MOD_ADD, "nhiCreated", str_time(&ms, g->created ? g->created : d->x->now));
	if (g->cred_id[0] != '\0')
		mod1(&ms, LDAP_MOD_ADD, "nhiCredentialId", g->cred_id);
	if (ns > 0)
		mod(&ms, LDAP_MOD_ADD, "nhiScope", scopes, ns);
	if (g->applied)
		mod1(&ms, LDAP_MOD_ADD, "nhiApplied", "TRUE");
	rc = add_entry(d, dn, &ms);
	if (rc == LDAP_ALREADY_EXISTS && !exists_ok)
		return nerr(d->x, NHI_ERR_EXISTS, "%s%s%s already has a grant on %s in the directory",
			    g->ident, g->cred_id[0] ? " credential " : "", g->cred_id, g->resource);
	if (rc == LDAP_NO_SUCH_OBJECT)
		return nerr(d->x, NHI_ERR_NOTFOUND, "no identity '%s' in the directory", g->ident);
	if (rc != LDAP_SUCCESS && rc != LDAP_ALREADY_EXISTS)
		return failed(d, rc, "adding", dn);
	return 0;
}

/* Valid values (the verbs checked them; nothing odd reaches the directory). */
static int grant_ok(struct dir *d, const struct da_grant *g)
{
	if (g->actions < 1 || g->actions > 15 || g->expires <= 0 ||
	    !nhi_valid_text(g->scopes, sizeof(g->scopes) - 1, 0))
		return nerr(d->x, NHI_ERR_INVAL, "grant of %s on %s: bad actions, expiry or scopes: "
			    "not written", g->ident, g->resource);
	return 0;
}

/* Add the entry, make it count on its resource; undone when that is gone. */
static int grant_entry_put(struct dir *d, const struct da_grant *g, int exists_ok)
{
	char dn[DN_MAX], rdn[DN_MAX];
	long long serial;
	int r;

	if ((r = grant_ok(d, g)) < 0 || (r = grant_dn(d, g->ident, g->resource, g->cred_id, dn,
						     sizeof(dn))) < 0 ||
	    (r = resource_dn(d, g->resource, rdn, sizeof(rdn))) < 0 ||
	    /* no entry for a resource that is not there (the bump below
	     * closes the race with a removal) */
	    (r = resource_serial(d, rdn, g->resource, &serial)) < 0 ||
	    (r = grant_entry_add(d, g, dn, exists_ok)) < 0)
		return r;
	r = resource_bump(d, g->resource);
	if (r < 0) {
		int rc;

		do
			rc = ldap_delete_ext_s(d->ld, dn, NULL, NULL);
		while (dir_referral(d, rc));

		NHI_CRASH_POINT("ldap-write", "delete");
		if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT)
			failed(d, rc, "deleting", dn);
	}
	return r;
}

int da_grant_add(struct dir *d, const struct da_grant *g)
{
	return grant_entry_put(d, g, 0);
}

static int delete_one(struct dir *d, const char *dn, const char *what)
{
	int rc;

	do
		rc = ldap_delete_ext_s(d->ld, dn, NULL, NULL);
	while (dir_referral(d, rc));

	NHI_CRASH_POINT("ldap-write", "delete");
	if (rc == LDAP_NO_SUCH_OBJECT)
		return nerr(d->x, NHI_ERR_NOTFOUND, "no %s in the directory", what);
	if (rc != LDAP_SUCCESS)
		return failed(d, rc, "deleting", dn);
	return 0;
}

int da_grant_remove(struct dir *d, const char *ident, const char *resource, const char *cred_id)
{
	char dn[DN_MAX], what[256];
	int r = grant_dn(d, ident, resource, cred_id, dn, sizeof(dn));

	snprintf(what, sizeof(what), "grant of %s%s%s on %s", ident, cred_id[0] ? " credential " : "",
		 cred_id, resource);
	return r < 0 ? r : delete_one(d, dn, what);
}

int da_cred_grants(struct dir *d, const char *ident, const char *cred_id, da_fn fn, void *ctx)
{
	char idn[1024], esc[3 * CRED_ID_MAX + 1], filter[3 * CRED_ID_MAX + 64];

	if (dir_ident_dn(&d->x->conf, ident, idn, sizeof(idn)) < 0 ||
	    nhi_ldap_escape_filter(cred_id, esc, sizeof(esc)) < 0)
		return nerr(d->x, NHI_ERR_RANGE, "identity '%s': DN too long", ident);
	snprintf(filter, sizeof(filter), "(&(objectClass=nhiGrant)(nhiCredentialId=%s))", esc);
	return da_each(d, idn, LDAP_SCOPE_ONELEVEL, filter, fn, ctx);
}

struct rebind {
	struct dir *d;
	const char *new_id;
	int n;
};

/* One grant of the old credential: added for the new one (there already
 * is fine: repeatable), then the old entry deleted. */
static int rebind_one(void *ctx, enum da_type t, const void *entry, const char *why)
{
	struct rebind *rb = ctx;
	struct da_grant g;
	char dn[DN_MAX];
	int r, rc;

	if (entry == NULL) {
		nerr(rb->d->x, 0, "warning: %s; not carried", why);
		return 0;
	}
	if (t != DA_GRANT)
		return 0;
	g = *(const struct da_grant *)entry;
	if ((r = grant_dn(rb->d, g.ident, g.resource, g.cred_id, dn, sizeof(dn))) < 0)
		return r;
	snprintf(g.cred_id, sizeof(g.cred_id), "%s", rb->new_id);
	if ((r = grant_entry_put(rb->d, &g, 1)) < 0)
		return r;
	do
		rc = ldap_delete_ext_s(rb->d->ld, dn, NULL, NULL);
	while (dir_referral(rb->d, rc));
	NHI_CRASH_POINT("ldap-write", "delete");
	if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT)
		return failed(rb->d, rc, "deleting", dn);
	rb->n++;
	return 0;
}

int da_grant_rebind(struct dir *d, const char *ident, const char *old_id, const char *new_id,
		    int *n)
{
	struct rebind rb = { .d = d, .new_id = new_id, .n = 0 };
	int r;

	if (name_ok(d, "credential", new_id, CRED_ID_MAX) < 0)
		return NHI_ERR_INVAL;
	r = da_cred_grants(d, ident, old_id, rebind_one, &rb);
	if (n != NULL)
		*n = rb.n;
	return r;
}

int da_deleg_add(struct dir *d, const struct da_deleg *g)
{
	struct mods ms = { .n = 0 };
	char dn[DN_MAX], tdn[1024], sbuf[DA_SCOPES_MAX];
	const char *acts[4], *scopes[64];
	LDAPMessage *res, *e;
	int na = actions_vals(g->actions, acts), ns, rc, r;

	if ((r = deleg_dn(d, g->from, g->to, dn, sizeof(dn))) < 0)
		return r;
	if (strcmp(g->from, g->to) == 0 || g->actions < 1 || g->actions > 15 || g->expires <= 0 ||
	    !nhi_valid_text(g->scopes, sizeof(g->scopes) - 1, 0) || !nhi_valid_text(g->reason, 256, 0))
		return nerr(d->x, NHI_ERR_INVAL, "delegation from %s to %s: bad target, actions, "
			    "expiry, scopes or reason: not written", g->from, g->to);
	/* the identity it delegates to must be there */
	if (dir_ident_dn(&d->x->conf, g->to, tdn, sizeof(tdn)) < 0)
		return nerr(d->x, NHI_ERR_RANGE, "identity '%s': DN too long", g->to);
	r = read_entry(d, tdn, "(objectClass=nhiIdentity)", &res, &e);
	ldap_msgfree(res);
	if (r == NHI_ERR_NOTFOUND)
		return nerr(d->x, r, "no identity '%s' in the directory", g->to);
	if (r < 0)
		return r;
	snprintf(sbuf, sizeof(sbuf), "%s", g->scopes);
	ns = split(sbuf, scopes, 64);
	mod1(&ms, LDAP_MOD_ADD, "objectClass", "nhiDelegation");
	mod1(&ms, LDAP_MOD_ADD, "nhiDelegateTo", g->to);
	mod(&ms, LDAP_MOD_ADD, "nhiAction", acts, na);
	mod1(&ms, LDAP_MOD_ADD, "nhiExpires", str_time(&ms, g->expires));
	mod1(&ms, LDAP_MOD_ADD, "nhiCreated", str_time(&ms, g->created ? g->created : d->x->now));
	if (ns > 0)
		mod(&ms, LDAP_MOD_ADD, "nhiScope", scopes, ns);
	if (g->reason[0] != '\0')
		mod1(&ms, LDAP_MOD_ADD, "nhiReason", g->reason);
	if (g->applied)
		mod1(&ms, LDAP_MOD_ADD, "nhiApplied", "TRUE");
	rc = add_entry(d, dn, &ms);
	if (rc == LDAP_ALREADY_EXISTS)
		return nerr(d->x, NHI_ERR_EXISTS, "%s already delegates to %s in the directory",
			    g->from, g->to);
	if (rc == LDAP_NO_SUCH_OBJECT)
		return nerr(d->x, NHI_ERR_NOTFOUND, "no identity '%s' in the directory", g->from);
	if (rc != LDAP_SUCCESS)
		return failed(d, rc, "adding", dn);
	return 0;
}

int da_deleg_remove(struct dir *d, const char *from, const char *to)
{
	char dn[DN_MAX], what[192];
	int r = deleg_dn(d, from, to, dn, sizeof(dn));

	snprintf(what, sizeof(what), "delegation from %s to %s", from, to);
	return r < 0 ? r : delete_one(d, dn, what);
}

int da_cut(struct dir *d, const char *name, int *grants, int *delegs)
{
	char idn[1024], esc[3 * 64 + 1], filter[3 * 64 + 64];
	int g = 0, dl = 0, r;

	if (dir_ident_dn(&d->x->conf, name, idn, sizeof(idn)) < 0 ||
	    nhi_ldap_escape_filter(name, esc, sizeof(esc)) < 0)
		return nerr(d->x, NHI_ERR_RANGE, "identity '%s': DN too long", name);
	snprintf(filter, sizeof(filter), "(&(objectClass=nhiDelegation)(nhiDelegateTo=%s))", esc);
	r = delete_found(d, idn, LDAP_SCOPE_ONELEVEL,
			 "(|(objectClass=nhiGrant)(objectClass=nhiDelegation))", &g, &dl);
	if (r == 0)
		r = delete_found(d, d->x->conf.ldap_base, LDAP_SCOPE_SUBTREE, filter, NULL, &dl);
	if (grants != NULL)
		*grants = g;
	if (delegs != NULL)
		*delegs = dl;
	return r;
}

/* ---- changing entries: one Modify under an assertion of what the verb
 * read (compare and swap: another writer's change in between makes it
 * fail with NHI_ERR_CONFLICT, nothing changed) ---- */

/* "(nhiAction=read)(!(nhiAction=write))..." for the four actions. */
static void actions_assertion(int actions, char *out, size_t len)
{
	size_t used = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < 4; i++) {
		int n = snprintf(out + used, len - used, actions & (1 << i) ? "(nhiAction=%s)" :
				 "(!(nhiAction=%s))", act_names[i]);

		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

static int modify_if(struct dir *d, const char *dn, const char *assertion, struct mods *ms,
		     const char *what)
{
	LDAPControl *ctrl = NULL, *ctrls[2] = { NULL, NULL };
	int rc;

	if (ldap_create_assertion_control(d->ld, (char *)assertion, 1, &ctrl) != LDAP_SUCCESS)
		return nerr(d->x, NHI_ERR_NOMEM, "cannot build an assertion control");
	ctrls[0] = ctrl;
	do
		rc = ldap_modify_ext_s(d->ld, dn, ms->p, ctrls, NULL);
	while (dir_referral(d, rc));
	NHI_CRASH_POINT("ldap-write", "modify");
	ldap_control_free(ctrl);
	if (rc == LDAP_ASSERTION_FAILED)
		return nerr(d->x, NHI_ERR_CONFLICT, "%s was changed in the directory meanwhile; "
			    "nothing done, try again", what);
	/* the caller read the entry just before: another host removed it */
	if (rc == LDAP_NO_SUCH_OBJECT)
		return nerr(d->x, NHI_ERR_CONFLICT, "%s was removed in the directory meanwhile; "
			    "nothing done, try again", what);
	if (rc != LDAP_SUCCESS)
		return failed(d, rc, "modifying", dn);
	return 0;
}

/* Replace an edge's actions, scopes and expiry. */
static void edge_mods(struct mods *ms, int actions, const char *scopes, char *sbuf, size_t slen,
		      int64_t expires, const char **acts, const char **sv)
{
	int na = actions_vals(actions, acts), ns;

	snprintf(sbuf, slen, "%s", scopes);
	ns = split(sbuf, sv, 64);
	mod(ms, LDAP_MOD_REPLACE, "nhiAction", acts, na);
	mod(ms, LDAP_MOD_REPLACE, "nhiScope", sv, ns);
	mod1(ms, LDAP_MOD_REPLACE, "nhiExpires", str_time(ms, expires));
}

/* reason: a delegation's new nhiReason ("" none), NULL to leave it. */
static int edge_modify(struct dir *d, const char *dn, int old_actions, int64_t old_expires,
		       int actions, const char *scopes, int64_t expires, const char *reason,
		       int applied, const char *what)
{
	struct mods ms = { .n = 0 };
	char sbuf[DA_SCOPES_MAX], acts_a[160], assertion[256], t[16];
	const char *acts[4], *sv[64];

	if (actions < 1 || actions > 15 || expires <= 0 || !nhi_valid_text(scopes, DA_SCOPES_MAX - 1, 0))
		return nerr(d->x, NHI_ERR_INVAL, "%s: bad actions, expiry or scopes: not written", what);
	actions_assertion(old_actions, acts_a, sizeof(acts_a));
	dir_gentime(old_expires, t);
	snprintf(assertion, sizeof(assertion), "(&(nhiExpires=%s)%s)", t, acts_a);
	edge_mods(&ms, actions, scopes, sbuf, sizeof(sbuf), expires, acts, sv);
	if (reason != NULL)
		mod1(&ms, LDAP_MOD_REPLACE, "nhiReason", reason[0] ? reason : NULL);
	mod1(&ms, LDAP_MOD_REPLACE, "nhiApplied", applied ? "TRUE" : NULL);
	return modify_if(d, dn, assertion, &ms, what);
}

int da_grant_modify(struct dir *d, const struct da_grant *old, const struct da_grant *g)
{
	char dn[DN_MAX], what[256];
	int r = grant_dn(d, old->ident, old->resource, old->cred_id, dn, sizeof(dn));

	snprintf(what, sizeof(what), "the grant of %s on %s", old->ident, old->resource);
	return r < 0 ? r : edge_modify(d, dn, old->actions, old->expires, g->actions, g->scopes,
				       g->expires, NULL, g->applied, what);
}

int da_deleg_modify(struct dir *d, const struct da_deleg *old, const struct da_deleg *g)
{
	char dn[DN_MAX], what[192];
	int r = deleg_dn(d, old->from, old->to, dn, sizeof(dn));

	snprintf(what, sizeof(what), "the delegation from %s to %s", old->from, old->to);
	if (r == 0 && !nhi_valid_text(g->reason, 256, 0))
		r = nerr(d->x, NHI_ERR_INVAL, "%s: reason with control characters: not written", what);
	return r < 0 ? r : edge_modify(d, dn, old->actions, old->expires, g->actions, g->scopes,
				       g->expires, strcmp(old->reason, g->reason) != 0 ? g->reason : NULL,
				       g->applied, what);
}

int da_resource_modify(struct dir *d, const struct da_resource *old, const struct da_resource *r)
{
	struct mods ms = { .n = 0 };
	char dn[DN_MAX], what[DA_NAME_MAX + 16], ek[3 * 32 + 1], eo[3 * 1024 + 1];
	char assertion[3 * 1024 + 3 * 32 + 128], lbuf[LABELS_BUFSZ];
	const char *lvals[LABELS_MAX];
	int rc;

	if ((rc = resource_dn(d, old->name, dn, sizeof(dn))) < 0)
		return rc;
	snprintf(what, sizeof(what), "resource '%s'", old->name);
	if (!nhi_valid_text(r->kind, sizeof(r->kind) - 1, 1) || r->kind[0] == '\0' ||
	    !nhi_valid_text(r->uri, sizeof(r->uri) - 1, 0) || !nhi_valid_text(r->purpose, 256, 0))
		return nerr(d->x, NHI_ERR_INVAL, "%s: kind, URI or purpose with control characters: "
			    "not written", what);
	if (nhi_ldap_escape_filter(old->kind, ek, sizeof(ek)) < 0 ||
	    nhi_ldap_escape_filter(old->owner_dn, eo, sizeof(eo)) < 0)
		return nerr(d->x, NHI_ERR_RANGE, "%s: values too long", what);
	/* as the verb read it: kind, owner, data class, external */
	if (old->owner_dn[0] != '\0')
		snprintf(assertion, sizeof(assertion), "(&(nhiKind=%s)(owner=%s)(nhiExternal=%s))",
			 ek, eo, old->external ? "TRUE" : "FALSE");
	else
		snprintf(assertion, sizeof(assertion), "(&(nhiKind=%s)(!(owner=*))(nhiExternal=%s))",
			 ek, old->external ? "TRUE" : "FALSE");
	mod1(&ms, LDAP_MOD_REPLACE, "nhiKind", r->kind);
	mod1(&ms, LDAP_MOD_REPLACE, "nhiResourceURI", r->uri[0] ? r->uri : NULL);
	mod1(&ms, LDAP_MOD_REPLACE, "owner", r->owner_dn[0] ? r->owner_dn : NULL);
	mod1(&ms, LDAP_MOD_REPLACE, "nhiDataClass", r->data_class[0] ? r->data_class : "internal");
	mod1(&ms, LDAP_MOD_REPLACE, "nhiExternal", r->external ? "TRUE" : "FALSE");
	mod1(&ms, LDAP_MOD_REPLACE, "description", r->purpose[0] ? r->purpose : NULL);
	mod_labels(&ms, LDAP_MOD_REPLACE, r->labels, lbuf, sizeof(lbuf), lvals);
	mod1(&ms, LDAP_MOD_REPLACE, "nhiApplied", r->applied ? "TRUE" : NULL);
	return modify_if(d, dn, assertion, &ms, what);
}

/* ---- many entries ---------------------------------------------------- */

int da_convert(struct dir *d, LDAPMessage *e, da_fn fn, void *ctx)
{
	union {
		struct da_resource r;
		struct da_grant g;
		struct da_deleg dl;
	} u;
	enum da_type t = da_entry_type(d->ld, e);
	char why[1024];
	int r;

	switch (t) {
	case DA_RESOURCE:
		r = da_entry_to_resource(d, e, &u.r, why, sizeof(why));
		break;
	case DA_GRANT:
		r = da_entry_to_grant(d, e, &u.g, why, sizeof(why));
		break;
	case DA_DELEG:
		r = da_entry_to_deleg(d, e, &u.dl, why, sizeof(why));
		break;
	default:
		return 0;
	}
	return r < 0 ? fn(ctx, t, NULL, why) : fn(ctx, t, &u, NULL);
}

struct each_ctx {
	struct dir *d;
	da_fn fn;
	void *ctx;
};

static int each_page(LDAP *ld, LDAPMessage *res, void *ctx)
{
	struct each_ctx *c = ctx;
	LDAPMessage *e;
	int r = 0;

	for (e = ldap_first_entry(ld, res); r == 0 && e != NULL; e = ldap_next_entry(ld, e))
		r = da_convert(c->d, e, c->fn, c->ctx);
	return r;
}

/* In pages (dir_search_paged): more entries than the size limit of
 * nhictl's bind are read too. */
int da_each(struct dir *d, const char *base, int scope, const char *filter, da_fn fn, void *ctx)
{
	struct each_ctx c = { d, fn, ctx };
	char why[1024] = "";
	int r;

	r = dir_search_paged(&d->x->conf, d->ld, base, scope, filter, da_sync_attrs, each_page,
			     &c, why, sizeof(why));
	if (r < 0 && why[0] != '\0')
		return nerr(d->x, r, "directory: searching %s", why);
	return r;
}

int da_dn_of(struct dir *d, enum da_type t, const void *entry, char *out, size_t len)
{
	const struct da_grant *g = entry;
	const struct da_deleg *dl = entry;
	const struct da_resource *r = entry;

	out[0] = '\0';
	if (t == DA_GRANT)
		return grant_dn(d, g->ident, g->resource, g->cred_id, out, len);
	if (t == DA_DELEG)
		return deleg_dn(d, dl->from, dl->to, out, len);
	if (t == DA_RESOURCE)
		return resource_dn(d, r->name, out, len);
	return NHI_ERR_INVAL;
}

int da_ident_in_place(struct dir *d, LDAPMessage *e)
{
	char *dn_s = ldap_get_dn(d->ld, e), rest[1100], b[1100];
	LDAPDN dn = NULL, base = NULL;
	int ok = 0;

	if (dn_s != NULL && ldap_str2dn(dn_s, &dn, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS &&
	    dn != NULL && dn[0] != NULL && dn[0][0] != NULL && dn[0][1] == NULL &&
	    ldap_str2dn(d->x->conf.ldap_base, &base, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS &&
	    base != NULL && dn_str(dn + 1, rest, sizeof(rest)) == 0 &&
	    dn_str(base, b, sizeof(b)) == 0)
		ok = strcasecmp(rest, b) == 0;
	ldap_dnfree(dn);
	ldap_dnfree(base);
	ldap_memfree(dn_s);
	return ok;
}

/* The entries of class cls whose attr equals value (escaped), below base
 * (scope). */
static int each_equal(struct dir *d, const char *base, int scope, const char *cls,
		      const char *attr, const char *value, da_fn fn, void *ctx)
{
	char esc[3 * DA_NAME_MAX + 1], filter[3 * DA_NAME_MAX + 128];

	if (nhi_ldap_escape_filter(value, esc, sizeof(esc)) < 0)
		return nerr(d->x, NHI_ERR_RANGE, "'%s': too long for a filter", value);
	snprintf(filter, sizeof(filter), "(&(objectClass=%s)(%s=%s))", cls, attr, esc);
	return da_each(d, base, scope, filter, fn, ctx);
}

/* Below identity 'ident' (one level), through fn. */
static int each_below(struct dir *d, const char *ident, const char *filter, da_fn fn, void *ctx)
{
	char idn[1024];

	if (dir_ident_dn(&d->x->conf, ident, idn, sizeof(idn)) < 0)
		return nerr(d->x, NHI_ERR_RANGE, "identity '%s': DN too long", ident);
	return da_each(d, idn, LDAP_SCOPE_ONELEVEL, filter, fn, ctx);
}

int da_delegs_to(struct dir *d, const char *to, da_fn fn, void *ctx)
{
	return each_equal(d, d->x->conf.ldap_base, LDAP_SCOPE_SUBTREE, "nhiDelegation",
			  "nhiDelegateTo", to, fn, ctx);
}

int da_delegs_from(struct dir *d, const char *from, da_fn fn, void *ctx)
{
	return each_below(d, from, "(objectClass=nhiDelegation)", fn, ctx);
}

int da_ident_grants(struct dir *d, const char *ident, const char *resource, da_fn fn, void *ctx)
{
	char idn[1024];

	if (resource == NULL)
		return each_below(d, ident, "(objectClass=nhiGrant)", fn, ctx);
	if (dir_ident_dn(&d->x->conf, ident, idn, sizeof(idn)) < 0)
		return nerr(d->x, NHI_ERR_RANGE, "identity '%s': DN too long", ident);
	return each_equal(d, idn, LDAP_SCOPE_ONELEVEL, "nhiGrant", "nhiResourceName", resource,
			  fn, ctx);
}

/* By an equality filter, not by its DN: any name a grant entry gives is
 * looked up without being refused (named_resources, store_ldap_access.c). */
int da_resource_entries(struct dir *d, const char *name, int grants, da_fn fn, void *ctx)
{
	char base[1100];
	int r = resources_base(d, base, sizeof(base));

	if (r == 0)
		r = each_equal(d, base, LDAP_SCOPE_ONELEVEL, "nhiResource", "cn", name, fn, ctx);
	if (r == 0 && grants)
		r = each_equal(d, d->x->conf.ldap_base, LDAP_SCOPE_SUBTREE, "nhiGrant",
			       "nhiResourceName", name, fn, ctx);
	return r;
}

int da_ident_edges(struct dir *d, const char *name, da_fn fn, void *ctx)
{
	int r = each_below(d, name, "(|(objectClass=nhiGrant)(objectClass=nhiDelegation))", fn,
			   ctx);

	return r < 0 ? r : da_delegs_to(d, name, fn, ctx);
}

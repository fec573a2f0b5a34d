/* dirwrite.c - adding and modifying identity entries in the directory for
 * the write verbs (backend = ldap) and reading a written entry back into
 * the registry (read your own writes); uids come from diralloc.c.
 */
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "ldap.h"
#include "dirwrite.h"

/* One modification with 'n' values (n = 0: no values). */
void mod(struct mods *ms, int op, const char *attr, const char *const *vals, int n)
{
	LDAPMod *m;
	int i;

	if (ms->n >= MAX_MODS || ms->n_slots + n + 1 > MAX_SLOTS)
		abort();   /* the callers' sizes are fixed: a bug, not input */
	m = &ms->m[ms->n];
	m->mod_op = op;
	m->mod_type = (char *)attr;
	m->mod_values = &ms->slots[ms->n_slots];
	for (i = 0; i < n; i++)
		ms->slots[ms->n_slots++] = (char *)vals[i];
	ms->slots[ms->n_slots++] = NULL;
	ms->p[ms->n++] = m;
	ms->p[ms->n] = NULL;
}

void mod1(struct mods *ms, int op, const char *attr, const char *val)
{
	mod(ms, op, attr, &val, val != NULL);
}

const char *str_int(struct mods *ms, long long v)
{
	char *s;

	if (ms->n_strs >= MAX_STRS)
		abort();
	s = ms->strs[ms->n_strs++];
	snprintf(s, 32, "%lld", v);
	return s;
}

const char *str_time(struct mods *ms, int64_t t)
{
	char *s;

	if (ms->n_strs >= MAX_STRS)
		abort();
	s = ms->strs[ms->n_strs++];
	dir_gentime(t, s);
	return s;
}

/* shadowExpire for an expiry: the first day on which the identity is
 * expired all day (rounded up; nhi_expire_days with no "now").  A client
 * that reads shadowExpire (pam_unix through nss-pam-ldapd or sssd on a
 * host without nhi) treats the whole of that day as expired: rounded
 * down, an identity expiring later today would be refused from the start
 * of today.  The value is written once, so it cannot move to the day of
 * expiry when that passes, as nss_nhi's sp_expire does: such a client
 * allows it until the end of its last day at most; pam_nhi enforces the
 * exact time (nhiExpires). */
static long long expire_days(int64_t t)
{
	return nhi_expire_days(t, 0);
}

static int refused(struct dir *d, int rc, const char *what)
{
	char reason[1024];

	nhi_ldap_reason(d->ld, rc, reason, sizeof(reason));
	return nerr(d->x, NHI_ERR_IO, "directory refused%s%s: %s", what ? " " : "",
		    what ? what : "", reason);
}

/* Entries under 'base' matching 'filter' (at most one wanted): 1 found,
 * 0 none, -1 error (printed). */
static int any_entry(struct dir *d, const char *base, const char *filter)
{
	char *attrs[] = { LDAP_NO_ATTRS, NULL };
	struct timeval tv = dir_timeout(&d->x->conf);
	LDAPMessage *res = NULL;
	int rc, n;

	rc = ldap_search_ext_s(d->ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 1, NULL, NULL,
			       &tv, 1, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED && rc != LDAP_NO_SUCH_OBJECT) {
		char reason[512];

		ldap_msgfree(res);
		nhi_ldap_reason(d->ld, rc, reason, sizeof(reason));
		nerr(d->x, 0, "searching %s: %s", base, reason);
		return -1;
	}
	n = res != NULL ? ldap_count_entries(d->ld, res) : 0;
	ldap_msgfree(res);
	return n > 0 || rc == LDAP_SIZELIMIT_EXCEEDED;
}

int dw_name_free(struct dir *d, const char *name)
{
	char esc[3 * 64 + 1], filter[256];
	int r;

	if (nhi_ldap_escape_filter(name, esc, sizeof(esc)) < 0)
		return nerr(d->x, NHI_ERR_IO, "name '%s' too long", name);
	snprintf(filter, sizeof(filter), "(uid=%s)", esc);
	r = any_entry(d, d->x->conf.ldap_base, filter);
	if (r < 0)
		return NHI_ERR_IO;
	if (r > 0)
		return nerr(d->x, NHI_ERR_EXISTS, "identity '%s' is already registered in the directory", name);
	return 0;
}

int dw_id_in_use(struct dir *d, uint32_t id, int uid_only)
{
	const struct nhi_conf *c = &d->x->conf;
	char filter[128];
	int r;

	if (uid_only)
		snprintf(filter, sizeof(filter), "(uidNumber=%u)", id);
	else
		snprintf(filter, sizeof(filter), "(|(uidNumber=%u)(gidNumber=%u))", id, id);
	r = any_entry(d, c->ldap_base, filter);
	if (r == 0 && !uid_only && c->ldap_people_base[0] != '\0')
		r = any_entry(d, c->ldap_people_base, filter);
	return r < 0 ? NHI_ERR_IO : r;
}

void mod_labels(struct mods *ms, int op, const char *labels, char *buf, size_t len,
		const char **vals)
{
	int n = 0;

	snprintf(buf, len, "%s", labels != NULL ? labels : "");
	if (buf[0] != '\0')
		n = labels_split(buf, vals, LABELS_MAX);
	if (n > 0 || op == LDAP_MOD_REPLACE)
		mod(ms, op, "nhiLabel", vals, n);
}

/* The Post-Read control (RFC 4527) asking for entryUUID, critical: a
 * server that cannot say which entry it made refuses the write. */
static int postread_ctrl(LDAPControl **out)
{
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	struct berval bv = { 0, NULL };
	int rc = LDAP_NO_MEMORY;

	*out = NULL;
	if (ber != NULL && ber_printf(ber, "{s}", "entryUUID") != -1 && ber_flatten2(ber, &bv, 0) == 0)
		rc = ldap_control_create(LDAP_CONTROL_POST_READ, 1, &bv, 1, out);
	if (ber != NULL)
		ber_free(ber, 1);
	return rc;
}

/* The entryUUID of the Post-Read response control's entry
 * (SearchResultEntry: DN, then the attributes asked for), lower case. */
static void postread_uuid(LDAPControl **ctrls, char *uuid, size_t len)
{
	LDAPControl *c = ldap_control_find(LDAP_CONTROL_POST_READ, ctrls, NULL);
	BerElement *ber;
	struct berval dn, type, val;
	size_t i;

	uuid[0] = '\0';
	if (c == NULL || c->ldctl_value.bv_len == 0 || (ber = ber_init(&c->ldctl_value)) == NULL)
		return;
	if (ber_scanf(ber, "{m{{m{m" /*}}}}*/, &dn, &type, &val) != LBER_ERROR &&
	    type.bv_len == 9 && strncasecmp(type.bv_val, "entryUUID", 9) == 0 && val.bv_len < len) {
		for (i = 0; i < val.bv_len; i++)
			uuid[i] = (char)tolower((unsigned char)val.bv_val[i]);
		uuid[i] = '\0';
	}
	ber_free(ber, 1);
}

int dw_add(struct dir *d, const struct dw_new *n, char *uuid, size_t ulen)
{
	char lbuf[LABELS_BUFSZ];
	const char *lvals[LABELS_MAX];
	static const char *const ocs[] = { "account", "posixAccount", "shadowAccount", "nhiIdentity" };
	struct mods ms = { .n = 0 };
	LDAPControl *pr = NULL, *sctrls[2] = { NULL, NULL }, **rctrls = NULL;
	LDAPMessage *res = NULL;
	char dn[1024];
	int rc, msgid = 0, err = 0;

	uuid[0] = '\0';
	if (dir_ident_dn(&d->x->conf, n->name, dn, sizeof(dn)) < 0)
		return nerr(d->x, NHI_ERR_IO, "identity '%s': DN too long", n->name);
	mod(&ms, LDAP_MOD_ADD, "objectClass", ocs, 4);
	mod1(&ms, LDAP_MOD_ADD, "uid", n->name);
	mod1(&ms, LDAP_MOD_ADD, "cn", n->name);
	mod1(&ms, LDAP_MOD_ADD, "uidNumber", str_int(&ms, n->uid));
	mod1(&ms, LDAP_MOD_ADD, "gidNumber", str_int(&ms, n->gid));
	mod1(&ms, LDAP_MOD_ADD, "homeDirectory", n->home);
	mod1(&ms, LDAP_MOD_ADD, "loginShell", n->shell);
	if (n->gecos != NULL && n->gecos[0] != '\0')
		mod1(&ms, LDAP_MOD_ADD, "gecos", n->gecos);
	if (n->purpose != NULL && n->purpose[0] != '\0')
		mod1(&ms, LDAP_MOD_ADD, "description", n->purpose);
	mod1(&ms, LDAP_MOD_ADD, "owner", n->owner_dn);
	mod1(&ms, LDAP_MOD_ADD, "nhiKind", n->kind);
	mod1(&ms, LDAP_MOD_ADD, "nhiState", "active");
	mod1(&ms, LDAP_MOD_ADD, "nhiExpires", str_time(&ms, n->expires));
	mod1(&ms, LDAP_MOD_ADD, "shadowExpire", str_int(&ms, expire_days(n->expires)));
	mod1(&ms, LDAP_MOD_ADD, "nhiCreated", str_time(&ms, d->x->now));
	mod1(&ms, LDAP_MOD_ADD, "nhiReviewInterval", str_int(&ms, n->interval));
	mod1(&ms, LDAP_MOD_ADD, "nhiReviewDue", str_time(&ms, (int64_t)d->x->now + n->interval));
	if (n->adopted)
		mod1(&ms, LDAP_MOD_ADD, "nhiAdopted", "TRUE");
	if (n->applied)
		mod1(&ms, LDAP_MOD_ADD, "nhiApplied", "TRUE");
	if (n->n_hosts > 0)
		mod(&ms, LDAP_MOD_ADD, "host", n->hosts, n->n_hosts);
	if (n->n_services > 0)
		mod(&ms, LDAP_MOD_ADD, "nhiPamService", n->services, n->n_services);
	mod_labels(&ms, LDAP_MOD_ADD, n->labels, lbuf, sizeof(lbuf), lvals);
	/* the entry made, by its entryUUID (RFC 4527): what the read-back
	 * must find under the name */
	rc = postread_ctrl(&pr);
	sctrls[0] = pr;
	do {
		if (rc == LDAP_SUCCESS || rc == LDAP_REFERRAL)
			rc = ldap_add_ext(d->ld, dn, ms.p, sctrls, NULL, &msgid);
		if (rc == LDAP_SUCCESS) {
			struct timeval tv = dir_timeout(&d->x->conf);

			ldap_controls_free(rctrls);
			rctrls = NULL;
			if (ldap_result(d->ld, msgid, LDAP_MSG_ALL, &tv, &res) <= 0)
				rc = LDAP_TIMEOUT;
			else if (ldap_parse_result(d->ld, res, &err, NULL, NULL, NULL, &rctrls, 1) !=
				 LDAP_SUCCESS)
				rc = LDAP_DECODING_ERROR;
			else
				rc = err;
		}
	} while (dir_referral(d, rc));
	ldap_control_free(pr);
	if (rc == LDAP_SUCCESS)
		postread_uuid(rctrls, uuid, ulen);
	ldap_controls_free(rctrls);
	NHI_CRASH_POINT("ldap-write", "add");
	if (rc == LDAP_SUCCESS && uuid[0] == '\0')
		return nerr(d->x, NHI_ERR_IO, "identity '%s' was added, but the directory did not "
			    "return its entryUUID (post-read control)", n->name);
	if (rc == LDAP_ALREADY_EXISTS)
		return nerr(d->x, NHI_ERR_EXISTS, "identity '%s' is already registered in the directory",
			    n->name);
	if (rc != LDAP_SUCCESS)
		return refused(d, rc, NULL);
	return 0;
}

/* Append to the assertion out (used u of len) that attribute 'attr'
 * still has each value of the comma-separated 'from' ("" none: absent). */
static int assert_values(const char *attr, const char *from, char *out, size_t len, size_t *u)
{
	char one[1024], esc[3 * sizeof(one) + 1];
	const char *p = from != NULL ? from : "", *e;

	if (*p == '\0') {
		*u += (size_t)snprintf(out + *u, *u < len ? len - *u : 0, "(!(%s=*))", attr);
		return 0;
	}
	for (; *p != '\0'; p = *e ? e + 1 : e) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) >= sizeof(one))
			return -1;
		memcpy(one, p, (size_t)(e - p));
		one[e - p] = '\0';
		if (one[0] == '\0')
			continue;
		if (nhi_ldap_escape_filter(one, esc, sizeof(esc)) < 0)
			return -1;
		*u += (size_t)snprintf(out + *u, *u < len ? len - *u : 0, "(%s=%s)", attr, esc);
	}
	return 0;
}

/* The assertion of a change without a new state (modify, apply): the
 * state, purpose, review interval, hosts and services the verb read and
 * replaces ("" none needed). */
static int change_assertion(const struct dw_change *c, char *out, size_t len)
{
	char es[64], ep[3 * 264 + 1];
	size_t u = 0;

	out[0] = '\0';
	if (c->state_to != NULL || (c->purpose == NULL && c->interval == 0 && !c->set_hosts &&
				    !c->set_services && c->applied == 0))
		return 0;
	if (nhi_ldap_escape_filter(c->state_from ? c->state_from : "", es, sizeof(es)) < 0 ||
	    nhi_ldap_escape_filter(c->purpose_from ? c->purpose_from : "", ep, sizeof(ep)) < 0)
		return -1;
	u += (size_t)snprintf(out + u, len - u, "(&(nhiState=%s)", es);
	if (c->purpose != NULL && u < len)
		u += (size_t)snprintf(out + u, len - u, ep[0] ? "(description=%s)" :
				      "(!(description=*))", ep);
	if (c->interval != 0 && c->interval_from != 0 && u < len)
		u += (size_t)snprintf(out + u, len - u, "(nhiReviewInterval=%lld)",
				      (long long)c->interval_from);
	if ((c->set_hosts && assert_values("host", c->hosts_from, out, len, &u) < 0) ||
	    (c->set_services && assert_values("nhiPamService", c->services_from, out, len,
					      &u) < 0))
		return -1;
	if (u < len)
		u += (size_t)snprintf(out + u, len - u, ")");
	return u < len ? 0 : -1;
}

int dw_modify(struct dir *d, const char *name, const struct dw_change *c)
{
	struct mods ms = { .n = 0 };
	char dn[1024], lbuf[LABELS_BUFSZ], assertion[8192];
	const char *lvals[LABELS_MAX];
	LDAPControl *ctrl = NULL, *ctrls[2] = { NULL, NULL };
	/* the owner compared and swapped: a transfer from the owner read */
	int owner_cas = c->owner_dn != NULL && c->owner_from != NULL &&
			c->owner_from[0] != '\0' && strcasecmp(c->owner_from, c->owner_dn) != 0;
	int rc;

	if (dir_ident_dn(&d->x->conf, name, dn, sizeof(dn)) < 0)
		return nerr(d->x, NHI_ERR_IO, "identity '%s': DN too long", name);
	if (c->state_to != NULL) {
		/* compare and swap: fails if someone changed the state meanwhile */
		mod1(&ms, LDAP_MOD_DELETE, "nhiState", c->state_from);
		mod1(&ms, LDAP_MOD_ADD, "nhiState", c->state_to);
	}
	if (c->expires != 0) {
		mod1(&ms, LDAP_MOD_REPLACE, "nhiExpires", str_time(&ms, c->expires));
		mod1(&ms, LDAP_MOD_REPLACE, "shadowExpire", str_int(&ms, expire_days(c->expires)));
	}
	if (c->last_review != 0) {
		mod1(&ms, LDAP_MOD_REPLACE, "nhiLastReview", str_time(&ms, c->last_review));
		mod1(&ms, LDAP_MOD_REPLACE, "nhiReviewDue", str_time(&ms, c->review_due));
	}
	if (owner_cas) {
		mod1(&ms, LDAP_MOD_DELETE, "owner", c->owner_from);
		mod1(&ms, LDAP_MOD_ADD, "owner", c->owner_dn);
	} else if (c->owner_dn != NULL) {
		mod1(&ms, LDAP_MOD_REPLACE, "owner", c->owner_dn);
	}
	if (c->clear_orphaned)   /* replace with no values: gone, absent or not */
		mod1(&ms, LDAP_MOD_REPLACE, "nhiOrphanedSince", NULL);
	if (c->retired_at != 0) {
		mod1(&ms, LDAP_MOD_REPLACE, "nhiRetiredAt", str_time(&ms, c->retired_at));
		mod1(&ms, LDAP_MOD_REPLACE, "nhiReason",
		     c->reason != NULL && c->reason[0] != '\0' ? c->reason : NULL);
	}
	if (c->labels != NULL)
		mod_labels(&ms, LDAP_MOD_REPLACE, c->labels, lbuf, sizeof(lbuf), lvals);
	if (c->purpose != NULL)
		mod1(&ms, LDAP_MOD_REPLACE, "description", c->purpose[0] ? c->purpose : NULL);
	if (c->gecos != NULL)
		mod1(&ms, LDAP_MOD_REPLACE, "gecos", c->gecos[0] ? c->gecos : NULL);
	if (c->interval != 0) {
		mod1(&ms, LDAP_MOD_REPLACE, "nhiReviewInterval", str_int(&ms, c->interval));
		mod1(&ms, LDAP_MOD_REPLACE, "nhiReviewDue", str_time(&ms, c->review_due));
	}
	if (c->set_hosts)
		mod(&ms, LDAP_MOD_REPLACE, "host", c->hosts, c->n_hosts);
	if (c->set_services)
		mod(&ms, LDAP_MOD_REPLACE, "nhiPamService", c->services, c->n_services);
	if (c->applied != 0)
		mod1(&ms, LDAP_MOD_REPLACE, "nhiApplied", c->applied > 0 ? "TRUE" : NULL);
	if (change_assertion(c, assertion, sizeof(assertion)) < 0)
		return nerr(d->x, NHI_ERR_RANGE, "identity '%s': values too long", name);
	if (assertion[0] != '\0') {
		if (ldap_create_assertion_control(d->ld, assertion, 1, &ctrl) != LDAP_SUCCESS)
			return nerr(d->x, NHI_ERR_NOMEM, "cannot build an assertion control");
		ctrls[0] = ctrl;
	}
	do
		rc = ldap_modify_ext_s(d->ld, dn, ms.p, ctrl != NULL ? ctrls : NULL, NULL);
	while (dir_referral(d, rc));
	NHI_CRASH_POINT("ldap-write", "modify");
	if (ctrl != NULL)
		ldap_control_free(ctrl);
	if (rc == LDAP_ASSERTION_FAILED)
		return nerr(d->x, NHI_ERR_CONFLICT, "identity '%s' was changed in the directory "
			    "meanwhile; nothing done, try again", name);
	if (rc == LDAP_NO_SUCH_ATTRIBUTE && c->state_to != NULL && !owner_cas)
		return nerr(d->x, NHI_ERR_CONFLICT, "identity '%s' was changed in the directory meanwhile "
			    "(its state is no longer %s); nothing done, try again", name, c->state_from);
	if (rc == LDAP_NO_SUCH_ATTRIBUTE && owner_cas)
		return nerr(d->x, NHI_ERR_CONFLICT, "identity '%s' was changed in the directory meanwhile "
			    "(its owner is no longer %s%s%s); nothing done, try again", name,
			    c->owner_from, c->state_to != NULL ? " or its state no longer " : "",
			    c->state_to != NULL ? c->state_from : "");
	if (rc == LDAP_NO_SUCH_OBJECT)
		return nerr(d->x, NHI_ERR_NOTFOUND, "identity '%s' is gone from the directory", name);
	if (rc != LDAP_SUCCESS)
		return refused(d, rc, NULL);
	return 0;
}

int dw_adopted(struct dir *d, const char *name)
{
	char dn[1024];

	if (dir_ident_dn(&d->x->conf, name, dn, sizeof(dn)) < 0)
		return nerr(d->x, NHI_ERR_INVAL, "identity '%s': DN too long", name);
	return any_entry(d, dn, "(&(objectClass=nhiIdentity)(nhiAdopted=TRUE))");
}

int dw_delete(struct dir *d, const char *name)
{
	char *attrs[] = { LDAP_NO_ATTRS, NULL };
	struct timeval tv = dir_timeout(&d->x->conf);
	LDAPMessage *res = NULL, *e;
	char dn[1024];
	int rc;

	if (dir_ident_dn(&d->x->conf, name, dn, sizeof(dn)) < 0)
		return nerr(d->x, NHI_ERR_IO, "identity '%s': DN too long", name);
	/* its credential entries first: a directory deletes leaves only */
	rc = ldap_search_ext_s(d->ld, dn, LDAP_SCOPE_ONELEVEL, "(objectClass=*)", attrs, 1, NULL,
			       NULL, &tv, LDAP_NO_LIMIT, &res);
	for (e = rc == LDAP_SUCCESS ? ldap_first_entry(d->ld, res) : NULL; e != NULL;
	     e = ldap_next_entry(d->ld, e)) {
		char *child = ldap_get_dn(d->ld, e);

		do
			rc = child != NULL ? ldap_delete_ext_s(d->ld, child, NULL, NULL) : LDAP_NO_MEMORY;
		while (dir_referral(d, rc));
		NHI_CRASH_POINT("ldap-write", "delete");
		ldap_memfree(child);
		if (rc == LDAP_NO_SUCH_OBJECT)
			rc = LDAP_SUCCESS;
		if (rc != LDAP_SUCCESS)
			break;
	}
	ldap_msgfree(res);
	if (rc == LDAP_SUCCESS)
		do
			rc = ldap_delete_ext_s(d->ld, dn, NULL, NULL);
		while (dir_referral(d, rc));
	NHI_CRASH_POINT("ldap-write", "delete");
	if (rc == LDAP_NO_SUCH_OBJECT)
		return nerr(d->x, NHI_ERR_NOTFOUND, "identity '%s' is gone from the directory", name);
	if (rc != LDAP_SUCCESS)
		return refused(d, rc, NULL);
	return 0;
}

/* dircred.c - credentials in the directory (backend = ldap): the identity
 * entry's compare-and-swap serial and password hashes, the credential
 * entries below it, and pulling those into the registry.  See dircred.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ldap.h"
#include "dircred.h"
#include "dirsettle.h"



static int cred_dn(struct dir *d, const char *name, const char *cid, char *out, size_t len)
{
	char idn[1024], esc[3 * CRED_ID_MAX + 1];

	if (dir_ident_dn(&d->x->conf, name, idn, sizeof(idn)) < 0 ||
	    nhi_ldap_escape_dn_value(cid, esc, sizeof(esc)) < 0 ||
	    (size_t)snprintf(out, len, "nhiCredentialId=%s,%s", esc, idn) >= len)
		return nerr(d->x, NHI_ERR_IO, "identity '%s': credential DN too long", name);
	return 0;
}

static int failed(struct dir *d, int rc, const char *what, const char *dn)
{
	char reason[1024];

	nhi_ldap_reason(d->ld, rc, reason, sizeof(reason));
	return nerr(d->x, NHI_ERR_IO, "directory: %s %s: %s", what, dn, reason);
}

int dc_read(struct dir *d, const char *name, long long *serial, char *state, size_t len)
{
	char dn[1024], buf[64], *attrs[] = { "nhiSerial", "nhiState", NULL };
	struct timeval tv = dir_timeout(&d->x->conf);
	LDAPMessage *res = NULL, *e;
	int rc, r = 0;

	*serial = 0;
	if (state != NULL && len > 0)
		state[0] = '\0';
	if (dir_ident_dn(&d->x->conf, name, dn, sizeof(dn)) < 0)
		return nerr(d->x, NHI_ERR_IO, "identity '%s': DN too long", name);
	rc = ldap_search_ext_s(d->ld, dn, LDAP_SCOPE_BASE, "(objectClass=nhiIdentity)", attrs, 0,
			       NULL, NULL, &tv, 1, &res);
	if (rc == LDAP_NO_SUCH_OBJECT || (rc == LDAP_SUCCESS &&
					  (e = ldap_first_entry(d->ld, res)) == NULL)) {
		r = nerr(d->x, NHI_ERR_NOTFOUND, "no identity '%s' in the directory", name);
		goto out;
	}
	if (rc != LDAP_SUCCESS) {
		r = failed(d, rc, "reading", dn);
		goto out;
	}
	if (dir_first_value(d->ld, e, "nhiSerial", buf, sizeof(buf)) > 0)
		*serial = strtoll(buf, NULL, 10);
	if (state != NULL && dir_first_value(d->ld, e, "nhiState", state, len) < 0)
		state[0] = '\0';
	if (*serial < 0) {
		r = nerr(d->x, NHI_ERR_IO, "identity '%s': bad nhiSerial in the directory", name);
		goto out;
	}
out:
	ldap_msgfree(res);
	return r;
}

int dc_bump(struct dir *d, const char *name, long long from, const char *add_pw,
	    const char *del_pw, const char *const *set_pw)
{
	char dn[1024], assertion[64], next[32];
	char *v_next[2] = { next, NULL }, *v_add[2] = { (char *)add_pw, NULL };
	char *v_del[2] = { (char *)del_pw, NULL };
	LDAPMod m_ser = { LDAP_MOD_REPLACE, "nhiSerial", { v_next } };
	LDAPMod m_add = { LDAP_MOD_ADD, "userPassword", { v_add } };
	LDAPMod m_del = { LDAP_MOD_DELETE, "userPassword", { v_del } };
	LDAPMod m_set = { LDAP_MOD_REPLACE, "userPassword", { (char **)set_pw } };
	LDAPMod *mods[5];
	LDAPControl *assert_c = NULL, *ctrls[2];
	int rc, n = 0;

	if (dir_ident_dn(&d->x->conf, name, dn, sizeof(dn)) < 0)
		return nerr(d->x, NHI_ERR_IO, "identity '%s': DN too long", name);
	snprintf(next, sizeof(next), "%lld", from + 1);
	if (from > 0)
		snprintf(assertion, sizeof(assertion), "(nhiSerial=%lld)", from);
	else
		snprintf(assertion, sizeof(assertion), "(!(nhiSerial=*))");
	mods[n++] = &m_ser;
	if (set_pw != NULL)
		mods[n++] = &m_set;
	if (del_pw != NULL)
		mods[n++] = &m_del;
	if (add_pw != NULL)
		mods[n++] = &m_add;
	mods[n] = NULL;
	rc = ldap_create_assertion_control(d->ld, assertion, 1, &assert_c);
	if (rc != LDAP_SUCCESS)
		return nerr(d->x, NHI_ERR_IO, "cannot build an assertion control");
	ctrls[0] = assert_c;
	ctrls[1] = NULL;
	do
		rc = ldap_modify_ext_s(d->ld, dn, mods, ctrls, NULL);
	while (dir_referral(d, rc));
	NHI_CRASH_POINT("ldap-write", "modify");
	ldap_control_free(assert_c);
	if (rc == LDAP_ASSERTION_FAILED)
		return NHI_ERR_CONFLICT;
	if (rc == LDAP_NO_SUCH_OBJECT)
		return nerr(d->x, NHI_ERR_NOTFOUND, "identity '%s' is gone from the directory", name);
	if (rc != LDAP_SUCCESS)
		return failed(d, rc, "modifying", dn);
	return 0;
}

int dc_add(struct dir *d, const char *name, const struct newcred *n, const char *replaces)
{
	char dn[1200], created[16], not_after[16];
	char *oc[] = { "nhiCredential", NULL }, *v_id[] = { (char *)n->id, NULL };
	char *v_kind[] = { (char *)n->kind, NULL }, *v_state[] = { "active", NULL };
	char *v_fp[] = { (char *)n->fingerprint, NULL }, *v_cr[] = { created, NULL };
	char *v_na[] = { not_after, NULL }, *v_pub[] = { n->public_part, NULL };
	char *v_hash[] = { (char *)n->hash, NULL }, *v_rep[] = { (char *)replaces, NULL };
	char *v_ser[] = { (char *)n->serial, NULL };
	LDAPMod m[11] = {
		{ LDAP_MOD_ADD, "objectClass", { oc } },
		{ LDAP_MOD_ADD, "nhiCredentialId", { v_id } },
		{ LDAP_MOD_ADD, "nhiKind", { v_kind } },
		{ LDAP_MOD_ADD, "nhiState", { v_state } },
		{ LDAP_MOD_ADD, "nhiFingerprint", { v_fp } },
		{ LDAP_MOD_ADD, "nhiCreated", { v_cr } },
	};
	LDAPMod *mods[12];
	int i, k = 6, rc;

	if (cred_dn(d, name, n->id, dn, sizeof(dn)) != 0)
		return NHI_ERR_IO;
	dir_gentime((int64_t)d->x->now, created);
	if (n->not_after > 0) {
		dir_gentime(n->not_after, not_after);
		m[k++] = (LDAPMod){ LDAP_MOD_ADD, "nhiNotAfter", { v_na } };
	}
	if (n->public_part != NULL && n->public_part[0] != '\0')
		m[k++] = (LDAPMod){ LDAP_MOD_ADD, "nhiPublicPart", { v_pub } };
	if (n->hash[0] != '\0')
		m[k++] = (LDAPMod){ LDAP_MOD_ADD, "nhiSecretHash", { v_hash } };
	if (replaces != NULL && replaces[0] != '\0')
		m[k++] = (LDAPMod){ LDAP_MOD_ADD, "nhiReplaces", { v_rep } };
	if (n->serial[0] != '\0')
		m[k++] = (LDAPMod){ LDAP_MOD_ADD, "nhiCertSerial", { v_ser } };
	for (i = 0; i < k; i++)
		mods[i] = &m[i];
	mods[k] = NULL;
	do
		rc = ldap_add_ext_s(d->ld, dn, mods, NULL, NULL);
	while (dir_referral(d, rc));
	NHI_CRASH_POINT("ldap-write", "add");
	if (rc == LDAP_ALREADY_EXISTS)
		return 0;   /* a repeated step (roll forward): the id is random */
	if (rc != LDAP_SUCCESS)
		return failed(d, rc, "adding", dn);
	return 0;
}

int dc_set_state(struct dir *d, const char *name, const char *cid, const char *state,
		 int64_t when, int missing_ok)
{
	char dn[1200], t[16];
	char *v_state[] = { (char *)state, NULL }, *v_t[] = { t, NULL };
	LDAPMod m_state = { LDAP_MOD_REPLACE, "nhiState", { v_state } };
	LDAPMod m_grace = { LDAP_MOD_REPLACE, "nhiGraceUntil", { NULL } };
	LDAPMod m_rev = { LDAP_MOD_REPLACE, "nhiRevokedAt", { NULL } };
	LDAPMod *mods[] = { &m_state, &m_grace, &m_rev, NULL };
	int rc;

	if (cred_dn(d, name, cid, dn, sizeof(dn)) != 0)
		return NHI_ERR_IO;
	dir_gentime(when, t);
	if (strcmp(state, "grace") == 0)
		m_grace.mod_values = v_t;
	else if (strcmp(state, "revoked") == 0)
		m_rev.mod_values = v_t;
	do
		rc = ldap_modify_ext_s(d->ld, dn, mods, NULL, NULL);
	while (dir_referral(d, rc));
	NHI_CRASH_POINT("ldap-write", "modify");
	if (rc == LDAP_NO_SUCH_OBJECT && missing_ok)
		return 0;
	if (rc != LDAP_SUCCESS)
		return failed(d, rc, "modifying", dn);
	return 0;
}

int dc_settle(struct dir *d, const char *name, const char *cid)
{
	char dn[1200];

	if (cred_dn(d, name, cid, dn, sizeof(dn)) != 0)
		return NHI_ERR_IO;
	return dir_settle_mend(d, dn, name, "nhiState");
}

int dc_settle_ident(struct dir *d, const char *name)
{
	char dn[1024];

	if (dir_ident_dn(&d->x->conf, name, dn, sizeof(dn)) < 0)
		return nerr(d->x, NHI_ERR_IO, "identity '%s': DN too long", name);
	return dir_settle_mend(d, dn, name, "nhiSerial");
}

int dc_delete(struct dir *d, const char *name, const char *cid)
{
	char dn[1200];
	int rc;

	if (cred_dn(d, name, cid, dn, sizeof(dn)) != 0)
		return NHI_ERR_IO;
	do
		rc = ldap_delete_ext_s(d->ld, dn, NULL, NULL);
	while (dir_referral(d, rc));
	NHI_CRASH_POINT("ldap-write", "delete");
	if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT)
		return failed(d, rc, "deleting", dn);
	return 0;
}

static char *cred_attrs[] = {
	"nhiCredentialId", "nhiKind", "nhiState", "nhiFingerprint", "nhiPublicPart",
	"nhiSecretHash", "nhiCreated", "nhiNotAfter", "nhiGraceUntil", "nhiRevokedAt",
	"nhiReplaces", "nhiCertSerial", NULL
};

/* The credential entries below identity 'name' (one level).  *res to be
 * freed with ldap_msgfree. */
static int search_creds(struct dir *d, const char *name, LDAPMessage **res)
{
	char dn[1024];
	struct timeval tv = dir_timeout(&d->x->conf);
	int rc;

	*res = NULL;
	if (dir_ident_dn(&d->x->conf, name, dn, sizeof(dn)) < 0)
		return nerr(d->x, NHI_ERR_IO, "identity '%s': DN too long", name);
	rc = ldap_search_ext_s(d->ld, dn, LDAP_SCOPE_ONELEVEL, "(objectClass=nhiCredential)",
			       cred_attrs, 0, NULL, NULL, &tv, 0, res);
	if (rc != LDAP_SUCCESS) {
		ldap_msgfree(*res);
		*res = NULL;
		return failed(d, rc, "searching the credentials of", dn);
	}
	return 0;
}

/* One credential entry into *c (row fields unset).  0, or -1 (a bad
 * entry: named in why). */
static int entry_to_cred(struct dir *d, LDAPMessage *e, struct cred *c, char *why, size_t len)
{
	char *dn = ldap_get_dn(d->ld, e);

	memset(c, 0, sizeof(*c));
	if (dir_first_value(d->ld, e, "nhiCredentialId", c->id, sizeof(c->id)) <= 0 ||
	    !nhi_valid_text(c->id, CRED_ID_MAX - 1, 1) ||
	    dir_first_value(d->ld, e, "nhiKind", c->kind, sizeof(c->kind)) <= 0 ||
	    !cred_kind_valid(c->kind) ||
	    dir_first_value(d->ld, e, "nhiState", c->state, sizeof(c->state)) <= 0 ||
	    (strcmp(c->state, "active") != 0 && strcmp(c->state, "grace") != 0 &&
	     strcmp(c->state, "revoked") != 0) ||
	    dir_first_value(d->ld, e, "nhiFingerprint", c->fingerprint, sizeof(c->fingerprint)) <= 0 ||
	    dir_first_value(d->ld, e, "nhiPublicPart", c->public_part, sizeof(c->public_part)) < 0 ||
	    dir_first_value(d->ld, e, "nhiSecretHash", c->hash, sizeof(c->hash)) < 0 ||
	    dir_first_value(d->ld, e, "nhiReplaces", c->replaces, sizeof(c->replaces)) < 0 ||
	    dir_first_value(d->ld, e, "nhiCertSerial", c->serial, sizeof(c->serial)) < 0 ||
	    dir_time_attr(d->ld, e, "nhiCreated", &c->created) < 0 ||
	    dir_time_attr(d->ld, e, "nhiNotAfter", &c->not_after) < 0 ||
	    dir_time_attr(d->ld, e, "nhiGraceUntil", &c->grace_until) < 0 ||
	    dir_time_attr(d->ld, e, "nhiRevokedAt", &c->revoked_at) < 0 ||
	    (strcmp(c->state, "grace") == 0 && c->grace_until == 0)) {
		snprintf(why, len, "%s: not a valid credential entry", dn ? dn : "?");
		ldap_memfree(dn);
		return -1;
	}
	ldap_memfree(dn);
	return 0;
}

int dc_creds(struct dir *d, const char *name, struct cred **out, size_t *n)
{
	LDAPMessage *res = NULL, *e;
	struct cred *v = NULL;
	char why[1400];
	size_t k = 0;
	int r = 0;

	*out = NULL;
	*n = 0;
	if (search_creds(d, name, &res) != 0)
		return NHI_ERR_IO;
	if (ldap_count_entries(d->ld, res) > 0) {
		v = calloc((size_t)ldap_count_entries(d->ld, res), sizeof(*v));
		if (v == NULL)
			r = nerr(d->x, NHI_ERR_NOMEM, "out of memory");
	}
	for (e = ldap_first_entry(d->ld, res); r == 0 && e != NULL;
	     e = ldap_next_entry(d->ld, e)) {
		if (entry_to_cred(d, e, &v[k], why, sizeof(why)) < 0) {
			nerr(d->x, 0, "warning: %s; ignored", why);
			continue;
		}
		k++;
	}
	ldap_msgfree(res);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = k;
	return 0;
}

int dc_password_hashes(struct dir *d, const char *name, char (*hashes)[256],
		       const char **out, int max)
{
	LDAPMessage *res = NULL, *e;
	char why[1400];
	int n = 0;

	if (search_creds(d, name, &res) != 0)
		return NHI_ERR_IO;
	for (e = ldap_first_entry(d->ld, res); e != NULL && n < max - 1;
	     e = ldap_next_entry(d->ld, e)) {
		struct cred c;

		if (entry_to_cred(d, e, &c, why, sizeof(why)) < 0 ||
		    strcmp(c.kind, "password") != 0 || !cred_usable(&c, d->x->now) ||
		    c.hash[0] == '\0')
			continue;
		snprintf(hashes[n], 256, "%s", c.hash);
		out[n] = hashes[n];
		n++;
	}
	out[n] = NULL;
	ldap_msgfree(res);
	return 0;
}

/* ---- rotation ---------------------------------------------------------- */

static int is_password(const struct dc_rot *r)
{
	return strcmp(r->kind, "password") == 0;
}

static int rot_entries(struct dir *d, const struct dc_rot *r)
{
	int rc = dc_add(d, r->name, r->n, r->old_id);

	if (rc == 0)
		rc = dc_set_state(d, r->name, r->old_id, r->grace_until ? "grace" : "revoked",
				  r->grace_until ? r->grace_until : (int64_t)d->x->now, 0);
	return rc;
}

int dc_rot_apply(struct dir *d, const struct dc_rot *r, long long serial)
{
	int pw = is_password(r);
	int rc = dc_bump(d, r->name, serial, pw ? r->n->hash : NULL,
			 pw && !r->grace_until ? r->old_hash : NULL, NULL);

	return rc != 0 ? rc : rot_entries(d, r);
}

/* Does the identity entry hold userPassword value 'pw'?  1, 0, or -1
 * (failed, printed); *serial its nhiSerial. */
static int has_password(struct dir *d, const char *name, const char *pw, long long *serial)
{
	char dn[1024], buf[64], *attrs[] = { "nhiSerial", "userPassword", NULL };
	struct timeval tv = dir_timeout(&d->x->conf);
	LDAPMessage *res = NULL, *e;
	struct berval **v = NULL;
	int rc, i, found = 0;

	*serial = 0;
	if (dir_ident_dn(&d->x->conf, name, dn, sizeof(dn)) < 0)
		return nerr(d->x, -1, "identity '%s': DN too long", name);
	rc = ldap_search_ext_s(d->ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
			       &tv, 1, &res);
	if (rc != LDAP_SUCCESS || (e = ldap_first_entry(d->ld, res)) == NULL) {
		ldap_msgfree(res);
		failed(d, rc, "reading", dn);
		return -1;
	}
	if (dir_first_value(d->ld, e, "nhiSerial", buf, sizeof(buf)) > 0)
		*serial = strtoll(buf, NULL, 10);
	if (pw != NULL && (v = ldap_get_values_len(d->ld, e, "userPassword")) != NULL)
		for (i = 0; v[i] != NULL && !found; i++)
			found = v[i]->bv_len == strlen(pw) && memcmp(v[i]->bv_val, pw, v[i]->bv_len) == 0;
	ldap_value_free_len(v);
	ldap_msgfree(res);
	return found;
}

int dc_has_password(struct dir *d, const char *name, const char *pw)
{
	long long serial;
	int h = has_password(d, name, pw, &serial);

	return h < 0 ? NHI_ERR_IO : h;
}

/* A bump from the entry's current serial, retried when another writer
 * moves it in between (bounded).  Repeatable: a hash to add that is
 * there already, one to delete that is gone, is left alone (read first:
 * slapd's permissive modify control does not cover a missing value). */
static int bump_now(struct dir *d, const char *name, const char *add_pw, const char *del_pw,
		    const char *const *set_pw)
{
	long long serial;
	int i, rc = NHI_ERR_CONFLICT, h;

	for (i = 0; i < 5 && rc == NHI_ERR_CONFLICT; i++) {
		const char *a = add_pw, *dl = del_pw;

		if ((h = has_password(d, name, add_pw, &serial)) < 0)
			return NHI_ERR_IO;
		if (h)
			a = NULL;
		if (del_pw != NULL && (h = has_password(d, name, del_pw, &serial)) < 0)
			return NHI_ERR_IO;
		if (del_pw != NULL && !h)
			dl = NULL;
		rc = dc_bump(d, name, serial, a, dl, set_pw);
	}
	if (rc == NHI_ERR_CONFLICT)
		return nerr(d->x, NHI_ERR_IO, "identity '%s': its credentials keep changing in the "
			    "directory; try again", name);
	return rc;
}

int dc_rot_redo(struct dir *d, const struct dc_rot *r)
{
	int pw = is_password(r);
	int rc = bump_now(d, r->name, pw ? r->n->hash : NULL,
			  pw && !r->grace_until ? r->old_hash : NULL, NULL);

	return rc != 0 ? rc : rot_entries(d, r);
}

int dc_rot_undo(struct dir *d, const struct dc_rot *r)
{
	int pw = is_password(r);
	int rc = dc_delete(d, r->name, r->n->id);

	if (rc == 0)
		rc = dc_set_state(d, r->name, r->old_id, "active", 0, 1);
	if (rc == 0)
		rc = bump_now(d, r->name, pw ? r->old_hash : NULL, pw ? r->n->hash : NULL, NULL);
	return rc;
}

/* ---- the identity's state ------------------------------------------------ */

int dc_lock_creds(struct dir *d, const char *name, int how)
{
	char hashes[16][256];
	const char *set[17] = { NULL };
	LDAPMessage *res = NULL, *e;
	char why[1400];
	int rc = 0;

	if (how == DC_RESUME && dc_password_hashes(d, name, hashes, set, 17) != 0)
		return NHI_ERR_IO;
	if (how == DC_RETIRE) {
		if (search_creds(d, name, &res) != 0)
			return NHI_ERR_IO;
		for (e = ldap_first_entry(d->ld, res); rc == 0 && e != NULL;
		     e = ldap_next_entry(d->ld, e)) {
			struct cred c;

			if (entry_to_cred(d, e, &c, why, sizeof(why)) == 0 &&
			    strcmp(c.state, "revoked") != 0)
				rc = dc_set_state(d, name, c.id, "revoked", (int64_t)d->x->now, 1);
		}
		ldap_msgfree(res);
	}
	return rc != 0 ? rc : bump_now(d, name, NULL, NULL, set);
}

int dc_unadd(struct dir *d, const char *name, const struct newcred *n)
{
	int rc = dc_delete(d, name, n->id);

	return rc != 0 ? rc : bump_now(d, name, NULL,
				       strcmp(n->kind, "password") == 0 ? n->hash : NULL, NULL);
}

int dc_revoke(struct dir *d, const char *name, const char *cid, const char *del_pw, int64_t when)
{
	int rc = dc_set_state(d, name, cid, "revoked", when, 1);

	return rc != 0 ? rc : bump_now(d, name, NULL, del_pw, NULL);
}

int dc_cap_not_after(struct dir *d, const char *name, int64_t until)
{
	LDAPMessage *res = NULL, *e;
	char dn[1200], t[16], why[1400];
	char *v_t[] = { t, NULL };
	LDAPMod m_na = { LDAP_MOD_REPLACE, "nhiNotAfter", { v_t } };
	LDAPMod *mods[] = { &m_na, NULL };
	int rc = 0, n = 0;

	if (search_creds(d, name, &res) != 0)
		return NHI_ERR_IO;
	dir_gentime(until, t);
	for (e = ldap_first_entry(d->ld, res); rc == 0 && e != NULL;
	     e = ldap_next_entry(d->ld, e)) {
		struct cred c;
		int lrc;

		if (entry_to_cred(d, e, &c, why, sizeof(why)) != 0 ||
		    (c.not_after != 0 && c.not_after <= until))
			continue;
		if ((rc = cred_dn(d, name, c.id, dn, sizeof(dn))) != 0)
			break;
		do
			lrc = ldap_modify_ext_s(d->ld, dn, mods, NULL, NULL);
		while (dir_referral(d, lrc));
		if (lrc != LDAP_SUCCESS && lrc != LDAP_NO_SUCH_OBJECT)
			rc = failed(d, lrc, "modifying", dn);
		n++;
	}
	ldap_msgfree(res);
	/* the serial moves: every host's sync pulls the capped entries */
	return rc != 0 || n == 0 ? rc : bump_now(d, name, NULL, NULL, NULL);
}

/* cmd_directory.c - `nhictl directory check`: is the directory configured
 * right?  Connects and binds with the ldap_* keys exactly as every other
 * directory operation will, reads the root DSE, checks that ldap_base (and
 * ldap_people_base) exist, and says who nhictl is bound as.  It changes
 * nothing, locally or in the directory.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include "cmd.h"
#include "ldap.h"
#include "dirsettle.h"

#define SYNC_REQUEST_OID "1.3.6.1.4.1.4203.1.9.1.1"   /* RFC 4533 */
#define MAX_MSGS 16
#define MAX_SIDS 16

static const char directory_help[] =
	"usage: nhictl directory check [--json]\n"
	"\n"
	"Check the directory configuration (the ldap_* keys of nhi.conf): connect\n"
	"to the URIs of ldap_uri in order, with TLS (StartTLS on ldap:// unless\n"
	"ldap_starttls = no; ldaps://; none needed on ldapi://) and certificate\n"
	"checks, bind (ldap_bind = external: SASL EXTERNAL; simple: ldap_bind_dn\n"
	"with the password in ldap_bind_password_file, a root-owned 0600 file),\n"
	"read the root DSE, and check that ldap_base and ldap_people_base exist.\n"
	"Tells the topology from the contextCSN of ldap_base's naming context\n"
	"(one server ID: a single provider; two: a mirror pair or multi-provider;\n"
	"more: multi-provider) and warns when ldap_write_uri (else ldap_uri)\n"
	"lists fewer servers than the directory has providers (uid blocks are\n"
	"claimed on that list's only).  Shows the read server (ldap_uri) and the\n"
	"write server (ldap_write_uri, else ldap_uri) and whether it takes\n"
	"writes (a Modify of no entry, which changes nothing): a provider, or a\n"
	"consumer that refers them to a provider or refuses them (a warning).\n"
	"With several URIs in ldap_uri, compares the entries under ldap_base\n"
	"(identities, credentials, grants, delegations, resources: DN and\n"
	"entryCSN) on each and warns when the servers do not hold the same.\n"
	"Warns when ldap_owner_filter names an attribute the server's schema\n"
	"(its subschema subentry) does not define.\n"
	"Prints the URI used, TLS, the identity bound as, whether the server\n"
	"offers RFC 4533 content synchronisation (syncrepl), and the bases.\n"
	"Changes nothing.\n"
	"\n"
	"exit status: 0 all well, 1 a check failed (the message names the URI\n"
	"and the server's reason), 2 usage.\n";

struct dcheck {
	struct nhi_ldap_info info;
	int connected;
	char bound_as[1024];
	int syncrepl;
	struct berval **contexts, **extensions;
	int base_ok, people_ok;       /* 1 ok, 0 failed, -1 not checked */
	char subschema[1024];         /* the root DSE's subschemaSubentry */
	char suffix[1024];            /* the naming context holding ldap_base */
	int n_csn;                    /* its contextCSN values; -1 not read */
	char sids[MAX_SIDS][8];       /* their server IDs, distinct */
	int n_sids, n_uris;
	char write_uri[1024];         /* the server writes go to ("" = none answered) */
	char write_to[1024];          /* where its referral points ("" = none) */
	const char *writes;           /* "provider", "consumer (referral)", ... NULL not checked */
	const char *write_key;        /* "ldap_write_uri" when set, else NULL (ldap_uri) */
	char msgs[MAX_MSGS][1024];    /* warnings and errors */
	int is_err[MAX_MSGS];
	int n_msgs, n_err;
};

__attribute__((format(printf, 3, 4)))
static void note(struct dcheck *d, int is_err, const char *fmt, ...)
{
	va_list ap;

	if (is_err)
		d->n_err++;
	if (d->n_msgs >= MAX_MSGS)
		return;
	va_start(ap, fmt);
	vsnprintf(d->msgs[d->n_msgs], sizeof(d->msgs[0]), fmt, ap);
	va_end(ap);
	d->is_err[d->n_msgs++] = is_err;
}

static void read_root_dse(LDAP *ld, const struct nhi_conf *c, struct dcheck *d)
{
	char *attrs[] = { "namingContexts", "supportedControl", "supportedExtension",
			  "subschemaSubentry", NULL };
	struct timeval tv = { .tv_sec = (time_t)c->ldap_timeout, .tv_usec = 0 };
	LDAPMessage *res = NULL, *e;
	struct berval **ctrls;
	char reason[512];
	int rc, i;

	rc = ldap_search_ext_s(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
			       NULL, NULL, &tv, 1, &res);
	if (rc != LDAP_SUCCESS) {
		nhi_ldap_reason(ld, rc, reason, sizeof(reason));
		note(d, 1, "%s: cannot read the root DSE: %s", d->info.uri, reason);
		goto out;
	}
	e = ldap_first_entry(ld, res);
	if (e == NULL) {
		note(d, 1, "%s: the root DSE is not readable", d->info.uri);
		goto out;
	}
	ctrls = ldap_get_values_len(ld, e, "subschemaSubentry");
	if (ctrls != NULL && ctrls[0] != NULL && ctrls[0]->bv_len < sizeof(d->subschema))
		snprintf(d->subschema, sizeof(d->subschema), "%.*s", (int)ctrls[0]->bv_len,
			 ctrls[0]->bv_val);
	ldap_value_free_len(ctrls);
	d->contexts = ldap_get_values_len(ld, e, "namingContexts");
	d->extensions = ldap_get_values_len(ld, e, "supportedExtension");
	ctrls = ldap_get_values_len(ld, e, "supportedControl");
	for (i = 0; ctrls != NULL && ctrls[i] != NULL; i++)
		if (ctrls[i]->bv_len == strlen(SYNC_REQUEST_OID) &&
		    memcmp(ctrls[i]->bv_val, SYNC_REQUEST_OID, ctrls[i]->bv_len) == 0)
			d->syncrepl = 1;
	ldap_value_free_len(ctrls);
out:
	ldap_msgfree(res);
}

/* The topology: the contextCSN values of the naming context that holds
 * ldap_base, one per server ID that wrote to it (RFC 4533's CSN:
 * time#count#sid#mod).  Several server IDs: several providers. */
static void read_topology(LDAP *ld, const struct nhi_conf *c, struct dcheck *d)
{
	char *attrs[] = { "contextCSN", NULL };
	struct timeval tv = { .tv_sec = (time_t)c->ldap_timeout, .tv_usec = 0 };
	LDAPMessage *res = NULL, *e;
	struct berval **v = NULL;
	const char *p;
	int rc, i, k;

	d->n_csn = -1;
	for (p = nhi_ldap_write_uris(c); p != NULL && *p != '\0';) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		d->n_uris++;
		p += strcspn(p, " \t");
	}
	dir_context_of(c->ldap_base, d->contexts, d->suffix, sizeof(d->suffix));
	if (d->suffix[0] == '\0')
		return;
	rc = ldap_search_ext_s(ld, d->suffix, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
			       NULL, NULL, &tv, 1, &res);
	if (rc != LDAP_SUCCESS || (e = ldap_first_entry(ld, res)) == NULL)
		goto out;
	v = ldap_get_values_len(ld, e, "contextCSN");
	d->n_csn = 0;
	for (i = 0; v != NULL && v[i] != NULL; i++) {
		char csn[128], *sid, *end;

		if (v[i]->bv_len >= sizeof(csn))
			continue;
		snprintf(csn, sizeof(csn), "%.*s", (int)v[i]->bv_len, v[i]->bv_val);
		d->n_csn++;
		/* time#count#sid#mod */
		if ((sid = strchr(csn, '#')) == NULL || (sid = strchr(sid + 1, '#')) == NULL)
			continue;
		sid++;
		if ((end = strchr(sid, '#')) == NULL || end - sid >= (ptrdiff_t)sizeof(d->sids[0]))
			continue;
		*end = '\0';
		for (k = 0; k < d->n_sids && strcmp(d->sids[k], sid) != 0; k++)
			;
		if (k == d->n_sids && d->n_sids < MAX_SIDS)
			snprintf(d->sids[d->n_sids++], sizeof(d->sids[0]), "%s", sid);
	}
	/* server ID 0 is a server without one (a single provider, or the
	 * data loaded before replication was set up): multi-provider needs
	 * non-zero IDs, so beside them it names no provider */
	for (k = 0; d->n_sids > 1 && k < d->n_sids; k++)
		if (strspn(d->sids[k], "0") == strlen(d->sids[k])) {
			memmove(d->sids[k], d->sids[k + 1],
				sizeof(d->sids[0]) * (size_t)(d->n_sids - k - 1));
			d->n_sids--;
			break;
		}
out:
	ldap_value_free_len(v);
	ldap_msgfree(res);
}

static const char *topology_name(const struct dcheck *d)
{
	if (d->n_csn < 0 || d->n_sids == 0)
		return "unknown";
	return d->n_sids == 1 ? "single provider" : d->n_sids == 2 ?
	       "two providers (a mirror pair or multi-provider)" : "multi-provider";
}

/* What holds on it, one line (in buf when it names the write list). */
static const char *topology_guarantees(const struct dcheck *d, char *buf, size_t len)
{
	const char *key = d->write_key != NULL ? d->write_key : "ldap_uri";

	if (d->n_csn < 0 || d->n_sids == 0)
		return "no contextCSN on the naming context (no syncprov, or nothing written "
		       "yet): the topology is not known";
	if (d->n_sids == 1)
		return "one writer: compare-and-swap writes and uid blocks hold on that server";
	if (d->n_uris < d->n_sids)
		snprintf(buf, len, "several writers: uid blocks are distinct only when every "
			 "host lists every provider in %s (this one does not); sync's conflict "
			 "rule holds back entries that collide", key);
	else
		snprintf(buf, len, "several writers: uid blocks are claimed on every server of "
			 "%s, sync's conflict rule holds back entries that collide, writes are "
			 "confirmed by reading them back", key);
	return buf;
}

/* 1 if the entry 'dn' exists, else 0 with an error noted. */
static int entry_exists(LDAP *ld, const struct nhi_conf *c, struct dcheck *d,
			const char *key, const char *dn)
{
	char *attrs[] = { LDAP_NO_ATTRS, NULL };
	struct timeval tv = { .tv_sec = (time_t)c->ldap_timeout, .tv_usec = 0 };
	LDAPMessage *res = NULL;
	char reason[512];
	int rc, r = 0;

	rc = ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 1,
			       NULL, NULL, &tv, 1, &res);
	if (rc == LDAP_SUCCESS && ldap_count_entries(ld, res) == 1)
		r = 1;
	else if (rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_SUCCESS)
		note(d, 1, "%s: %s '%s' does not exist (or is not visible to %s)",
		     d->info.uri, key, dn, d->bound_as[0] ? d->bound_as : "this bind");
	else {
		nhi_ldap_reason(ld, rc, reason, sizeof(reason));
		note(d, 1, "%s: %s '%s': %s", d->info.uri, key, dn, reason);
	}
	ldap_msgfree(res);
	return r;
}

/* Does one attributeTypes value (RFC 4512 4.1.2) define 'attr', by its
 * OID or one of its NAMEs ("NAME 'a'" or "NAME ( 'a' 'b' )")? */
static int defines(const struct berval *def, const char *attr)
{
	char buf[2048], *p, *q;
	size_t n = strlen(attr);

	if (def->bv_len >= sizeof(buf))
		return 0;
	memcpy(buf, def->bv_val, def->bv_len);
	buf[def->bv_len] = '\0';
	p = buf;
	while (*p == '(' || isspace((unsigned char)*p))
		p++;
	if (strncasecmp(p, attr, n) == 0 && (p[n] == ' ' || p[n] == ')'))
		return 1;   /* the OID */
	p = strstr(p, " NAME ");
	if (p == NULL)
		return 0;
	p += 6;
	/* the names end at ')' (a list) or after the closing quote */
	q = *p == '(' ? strchr(p, ')') : strchr(p + 1, '\'');
	if (q == NULL)
		return 0;
	q[*p == '(' ? 0 : 1] = '\0';
	while ((p = strchr(p, '\'')) != NULL) {
		p++;
		if (strncasecmp(p, attr, n) == 0 && p[n] == '\'')
			return 1;
		p = strchr(p, '\'');
		if (p == NULL)
			break;
		p++;
	}
	return 0;
}

/* Warn about each attribute ldap_owner_filter names that the server's
 * schema (the subschema subentry's attributeTypes) does not define: an
 * item on an unknown attribute is Undefined, even under '!', so such a
 * filter finds no live owner at all. */
static void check_filter_schema(LDAP *ld, const struct nhi_conf *c, struct dcheck *d)
{
	char *attrs[] = { "attributeTypes", NULL }, reason[512], attr[128];
	struct timeval tv = { .tv_sec = (time_t)c->ldap_timeout, .tv_usec = 0 };
	LDAPMessage *res = NULL, *e;
	struct berval **types = NULL;
	const char *p, *f = c->ldap_owner_filter;
	int rc, i, k;

	if (f[0] == '\0')
		return;
	if (d->subschema[0] == '\0') {
		note(d, 0, "%s: the root DSE names no subschemaSubentry: ldap_owner_filter "
		     "cannot be checked against the schema", d->info.uri);
		return;
	}
	rc = ldap_search_ext_s(ld, d->subschema, LDAP_SCOPE_BASE, "(objectClass=subschema)",
			       attrs, 0, NULL, NULL, &tv, 1, &res);
	if (rc != LDAP_SUCCESS || (e = ldap_first_entry(ld, res)) == NULL ||
	    (types = ldap_get_values_len(ld, e, "attributeTypes")) == NULL) {
		nhi_ldap_reason(ld, rc, reason, sizeof(reason));
		note(d, 0, "%s: cannot read the schema (%s): ldap_owner_filter not checked",
		     d->info.uri, rc != LDAP_SUCCESS ? reason : "no attributeTypes");
		goto out;
	}
	/* each item "(attr[;options](=|~=|>=|<=|:=)...)" of the filter */
	for (p = f; (p = strchr(p, '(')) != NULL; ) {
		p++;
		if (*p == '&' || *p == '|' || *p == '!' || *p == '(')
			continue;
		for (k = 0; (isalnum((unsigned char)p[k]) || p[k] == '-' || p[k] == '.') &&
			    k < (int)sizeof(attr) - 1; k++)
			attr[k] = p[k];
		attr[k] = '\0';
		if (k == 0)
			continue;   /* an extensible match without an attribute */
		for (i = 0; types[i] != NULL; i++)
			if (defines(types[i], attr))
				break;
		if (types[i] == NULL)
			note(d, 0, "ldap_owner_filter names '%s', which the schema of %s does not "
			     "know: that item is Undefined for every entry (even under '!'), so "
			     "the filter may find no live owner at all (create refuses every "
			     "owner, sync orphans every identity); fix the filter, or leave "
			     "ldap_owner_filter unset for the built-in checks", attr, d->info.uri);
	}
out:
	ldap_value_free_len(types);
	ldap_msgfree(res);
}

/* Where writes go, found without changing anything: a Modify of an entry
 * that does not exist (cn=nhi-write-probe,<ldap_base>) under an assertion
 * no entry meets (RFC 4528).  A provider answers noSuchObject (or
 * assertionFailed, insufficientAccess); a read-only consumer answers
 * before looking: a referral (olcUpdateref) or unwillingToPerform. */
static void check_writes(struct nhictl *x, LDAP *rld, struct dcheck *d)
{
	const struct nhi_conf *c = &x->conf;
	char dn[1200], err[2048], *vals[2] = { "probe", NULL }, **urls = NULL;
	LDAPMod m = { LDAP_MOD_REPLACE, "description", { vals } };
	LDAPMod *mods[2] = { &m, NULL };
	LDAPControl *ctrl = NULL, *ctrls[2] = { NULL, NULL };
	struct nhi_ldap_info wi;
	LDAP *ld = rld;
	int rc;

	if (c->ldap_write_uri[0] != '\0') {
		if (nhi_ldap_connect_write(c, &ld, &wi, err, sizeof(err)) < 0) {
			ld = NULL;
			note(d, 1, "writes: %s", err);
			goto out;
		}
		snprintf(d->write_uri, sizeof(d->write_uri), "%s", wi.uri);
	} else
		snprintf(d->write_uri, sizeof(d->write_uri), "%s", d->info.uri);
	snprintf(dn, sizeof(dn), "cn=nhi-write-probe,%.1000s", c->ldap_base);
	if (ldap_create_assertion_control(ld, "(!(objectClass=*))", 1, &ctrl) != LDAP_SUCCESS)
		goto out;
	ctrls[0] = ctrl;
	rc = ldap_modify_ext_s(ld, dn, mods, ctrls, NULL);
	if (rc == LDAP_REFERRAL) {
		if (ldap_get_option(ld, LDAP_OPT_REFERRAL_URLS, &urls) == LDAP_OPT_SUCCESS &&
		    urls != NULL && urls[0] != NULL &&
		    nhi_ldap_referral_base(urls[0], d->write_to, sizeof(d->write_to)) < 0)
			snprintf(d->write_to, sizeof(d->write_to), "%.900s (not followed: not an "
				 "ldap://, ldaps:// or ldapi:// URI)", urls[0]);
		d->writes = "consumer (referral)";
		note(d, 0, "writes would go to a consumer: %s answers them with a referral to %s, "
		     "which nhictl follows; set ldap_write_uri to the providers to write there directly",
		     d->write_uri, d->write_to[0] ? d->write_to : "no server");
	} else if (rc == LDAP_UNWILLING_TO_PERFORM) {
		char why[512];

		nhi_ldap_reason(ld, rc, why, sizeof(why));
		d->writes = "refused (read-only)";
		note(d, 0, "writes would go to a consumer: %s refuses them (%s) and names no "
		     "provider (no olcUpdateref): every write verb fails; set ldap_write_uri to the "
		     "providers", d->write_uri, why);
	} else if (rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT || rc == LDAP_CONNECT_ERROR) {
		nhi_ldap_reason(ld, rc, err, sizeof(err));
		note(d, 1, "writes: %s: %s", d->write_uri, err);
	} else
		d->writes = "provider";
out:
	ldap_memvfree((void **)urls);
	ldap_control_free(ctrl);
	if (ld != NULL && ld != rld)
		ldap_unbind_ext_s(ld, NULL, NULL);
}

static void json_bervals(struct json *j, const char *key, struct berval **v)
{
	int i;

	json_key(j, key);
	json_arr(j);
	for (i = 0; v != NULL && v[i] != NULL; i++) {
		char buf[1024];

		snprintf(buf, sizeof(buf), "%.*s", (int)v[i]->bv_len, v[i]->bv_val);
		json_str(j, buf);
	}
	json_arr_end(j);
}

static void print_json(struct nhictl *x, const struct dcheck *d)
{
	const struct nhi_conf *c = &x->conf;
	char buf[512];
	struct json j;
	int i, pass;

	json_init(&j, stdout);
	json_obj(&j);
	json_kbool(&j, "ok", d->n_err == 0);
	json_kstr(&j, "uri", d->connected ? d->info.uri : NULL);
	if (d->connected) {
		json_kbool(&j, "tls", d->info.tls == NHI_LDAP_TLS_STARTTLS ||
			   d->info.tls == NHI_LDAP_TLS_LDAPS);
		json_kstr(&j, "tls_mode", nhi_ldap_tls_name(d->info.tls));
		json_kstr(&j, "bind", c->ldap_bind == NHI_LDAP_BIND_SIMPLE ? "simple" : "external");
		json_kstr(&j, "bound_as", d->bound_as);
		json_kbool(&j, "syncrepl", d->syncrepl);
	} else {
		json_key(&j, "tls"); json_null(&j);
		json_key(&j, "tls_mode"); json_null(&j);
		json_kstr(&j, "bind", c->ldap_bind == NHI_LDAP_BIND_SIMPLE ? "simple" : "external");
		json_key(&j, "bound_as"); json_null(&j);
		json_key(&j, "syncrepl"); json_null(&j);
	}
	json_kstr(&j, "base", c->ldap_base[0] ? c->ldap_base : NULL);
	json_key(&j, "base_ok");
	if (d->base_ok < 0)
		json_null(&j);
	else
		json_bool(&j, d->base_ok);
	json_kstr(&j, "people_base", c->ldap_people_base[0] ? c->ldap_people_base : NULL);
	json_key(&j, "people_base_ok");
	if (d->people_ok < 0)
		json_null(&j);
	else
		json_bool(&j, d->people_ok);
	json_bervals(&j, "naming_contexts", d->contexts);
	json_key(&j, "topology");
	json_obj(&j);
	json_kstr(&j, "kind", topology_name(d));
	json_key(&j, "server_ids");
	json_arr(&j);
	for (i = 0; i < d->n_sids; i++)
		json_str(&j, d->sids[i]);
	json_arr_end(&j);
	json_kint(&j, "uris", d->n_uris);
	json_kstr(&j, "guarantees", topology_guarantees(d, buf, sizeof(buf)));
	json_obj_end(&j);
	json_kstr(&j, "read_uri", d->connected ? d->info.uri : NULL);
	json_kstr(&j, "write_uri", d->write_uri[0] ? d->write_uri : NULL);
	json_kstr(&j, "writes", d->writes);
	json_kstr(&j, "write_referral", d->write_to[0] ? d->write_to : NULL);
	json_bervals(&j, "supported_extensions", d->extensions);
	for (pass = 0; pass < 2; pass++) {
		json_key(&j, pass ? "errors" : "warnings");
		json_arr(&j);
		for (i = 0; i < d->n_msgs; i++)
			if (d->is_err[i] == pass)
				json_str(&j, d->msgs[i]);
		json_arr_end(&j);
	}
	json_obj_end(&j);
	json_end(&j);
}

static void print_bervals(const char *label, struct berval **v)
{
	int i;

	printf("%-16s", label);
	if (v == NULL || v[0] == NULL)
		fputs(" -", stdout);
	for (i = 0; v != NULL && v[i] != NULL; i++)
		printf("%s%.*s", i ? ", " : " ", (int)v[i]->bv_len, v[i]->bv_val);
	fputc('\n', stdout);
}

static void print_text(struct nhictl *x, const struct dcheck *d)
{
	const struct nhi_conf *c = &x->conf;
	char buf[512];
	int i;

	if (d->connected) {
		printf("%-16s %s\n", "uri:", d->info.uri);
		if (d->info.tls == NHI_LDAP_TLS_NONE)
			printf("%-16s no\n", "tls:");
		else if (d->info.tls == NHI_LDAP_TLS_LDAPI)
			printf("%-16s no (ldapi: local socket)\n", "tls:");
		else
			printf("%-16s yes (%s)\n", "tls:", nhi_ldap_tls_name(d->info.tls));
		printf("%-16s %s (%s)\n", "bound as:", d->bound_as[0] ? d->bound_as : "anonymous",
		       c->ldap_bind == NHI_LDAP_BIND_SIMPLE ? "simple" : "SASL EXTERNAL");
		printf("%-16s %s\n", "syncrepl:", d->syncrepl ? "yes (RFC 4533)" : "no");
		print_bervals("naming contexts:", d->contexts);
	}
	if (d->base_ok >= 0)
		printf("%-16s %s (%s)\n", "base:", d->base_ok ? "ok" : "MISSING", c->ldap_base);
	if (d->people_ok >= 0)
		printf("%-16s %s (%s)\n", "people base:", d->people_ok ? "ok" : "MISSING",
		       c->ldap_people_base);
	if (d->connected && d->base_ok >= 0) {
		printf("%-16s %s", "topology:", topology_name(d));
		for (i = 0; i < d->n_sids; i++)
			printf("%s%s", i ? ", " : " (server IDs ", d->sids[i]);
		printf("%s\n", d->n_sids ? ")" : "");
		printf("%-16s %s\n", "guarantees:", topology_guarantees(d, buf, sizeof(buf)));
	}
	if (d->writes != NULL) {
		printf("%-16s %s\n", "read server:", d->info.uri);
		printf("%-16s %s (%s%s%s)\n", "write server:", d->write_uri, d->writes,
		       d->write_to[0] ? ": to " : "", d->write_to);
	}
	for (i = 0; i < d->n_msgs; i++)
		if (!d->is_err[i])
			printf("warning: %s\n", d->msgs[i]);
}

/* Several servers in ldap_uri: do they hold the same entries
 * (entryCSN)?  A difference is a warning: replication behind, or servers
 * that diverged (a difference that stays when run again). */
static void check_servers_agree(struct nhictl *x, struct dcheck *d)
{
	char first[1024];
	int n = dir_servers_compare(x, first, sizeof(first));

	if (n < 0)
		note(d, 0, "cannot compare the servers of ldap_uri: %s",
		     first[0] ? first : "out of memory");
	else if (n > 0)
		note(d, 0, "the servers of ldap_uri do not hold the same entries "
		     "(%d difference%s; %s): replication is behind, or the servers diverged "
		     "(if it stays when run again: see docs/replication.md)", n,
		     n == 1 ? "" : "s", first);
}

static int directory_check(struct nhictl *x)
{
	const struct nhi_conf *c = &x->conf;
	static struct dcheck d;
	char err[2048];
	LDAP *ld = NULL;
	int i, r;

	memset(&d, 0, sizeof(d));
	d.base_ok = d.people_ok = -1;
	d.n_csn = -1;
	d.write_key = c->ldap_write_uri[0] != '\0' ? "ldap_write_uri" : NULL;
	r = nhi_ldap_connect_info(c, &ld, &d.info, err, sizeof(err));
	if (r < 0) {
		note(&d, 1, "%s", err);
		goto report;
	}
	d.connected = 1;
	if (d.info.failed[0])
		note(&d, 0, "skipped: %s", d.info.failed);
	if (d.info.tls == NHI_LDAP_TLS_NONE)
		note(&d, 0, "%s: no TLS (ldap_starttls = no): the bind and all data cross "
		     "the network in the clear", d.info.uri);
	if (nhi_ldap_whoami(ld, d.bound_as, sizeof(d.bound_as), err, sizeof(err)) < 0)
		note(&d, 1, "%s: %s", d.info.uri, err);
	read_root_dse(ld, c, &d);
	if (!d.syncrepl)
		note(&d, 0, "%s: no RFC 4533 sync control (syncprov): 'nhictl sync' will "
		     "need full scans", d.info.uri);
	if (c->ldap_base[0] == '\0')
		note(&d, 1, "no ldap_base in %s", c->path[0] ? c->path : "the configuration");
	else
		d.base_ok = entry_exists(ld, c, &d, "ldap_base", c->ldap_base);
	if (c->ldap_people_base[0] != '\0')
		d.people_ok = entry_exists(ld, c, &d, "ldap_people_base", c->ldap_people_base);
	check_filter_schema(ld, c, &d);
	if (c->ldap_base[0] != '\0') {
		read_topology(ld, c, &d);
		if (d.n_sids > 1 && d.n_uris < d.n_sids)
			note(&d, 0, "the directory has %d providers (server IDs in the contextCSN "
			     "of %s) but %s lists %d server%s: list every provider, or "
			     "two hosts writing to different ones can claim one uid block",
			     d.n_sids, d.suffix, d.write_key != NULL ? d.write_key : "ldap_uri",
			     d.n_uris, d.n_uris == 1 ? "" : "s");
		check_servers_agree(x, &d);
		check_writes(x, ld, &d);
	}
report:
	if (x->json)
		print_json(x, &d);
	else
		print_text(x, &d);
	for (i = 0; i < d.n_msgs; i++)
		if (d.is_err[i])
			nerr(x, 0, "%s", d.msgs[i]);
	if (d.n_msgs >= MAX_MSGS && d.n_err > 0)
		nerr(x, 0, "(more errors not shown)");
	ldap_value_free_len(d.contexts);
	ldap_value_free_len(d.extensions);
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	return d.n_err ? EXIT_FAIL : EXIT_OK;
}

static int sub_check(struct nhictl *x, int argc, char **argv, void *opt)
{
	(void)argc, (void)argv, (void)opt;
	return directory_check(x);
}

static const struct subcmd directory_subs[] = {
	{ "check", sub_check, 0, 0, 0, NULL },
	{ NULL, NULL, 0, 0, 0, NULL },
};

int cmd_directory(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': x->json = 1; break;
		case 'h': fputs(directory_help, stdout); return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	return subcmd_run(x, directory_subs, argc, argv, NULL, 0, "");
}

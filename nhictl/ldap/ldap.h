/* ldap.h - nhictl's connection to the directory (issue 3).
 *
 * Only nhictl links libldap; the PAM and NSS modules never do.  Everything
 * that puts input into an LDAP filter or DN goes through the escapes
 * below (RFC 4515 for filters, RFC 4514 for DN attribute values).
 */
#ifndef NHICTL_LDAP_H
#define NHICTL_LDAP_H

#include <stddef.h>
#include "ldapdl.h"
#include "nhi_conf.h"

/* ---- ldap_escape.c -------------------------------------------------- */

/* An assertion value for a search filter (RFC 4515 section 3): '*', '(',
 * ')', '\' and every byte outside printable ASCII (controls, DEL, all
 * bytes >= 0x80, so UTF-8 is escaped byte by byte) become "\xx" (lower
 * case hex).  Returns 0 or NHI_ERR_RANGE ('out' too small; then out is "").
 * At most 3 * strlen(value) + 1 bytes are needed. */
int nhi_ldap_escape_filter(const char *value, char *out, size_t outlen);

/* An attribute value for a DN (RFC 4514 section 2.4): '"', '+', ',', ';',
 * '<', '>', '\', '=' become "\c"; a leading ' ' or '#' and a trailing ' '
 * become "\ " / "\#"; control bytes (and DEL) become "\xx".  UTF-8 is kept
 * as is.  Returns 0 or NHI_ERR_RANGE (then out is "").  At most
 * 3 * strlen(value) + 1 bytes are needed. */
int nhi_ldap_escape_dn_value(const char *value, char *out, size_t outlen);

/* ---- ldap.c --------------------------------------------------------- */

enum nhi_ldap_tls {
	NHI_LDAP_TLS_NONE = 0,     /* ldap:// with ldap_starttls = no */
	NHI_LDAP_TLS_STARTTLS = 1, /* ldap:// + StartTLS */
	NHI_LDAP_TLS_LDAPS = 2,    /* ldaps:// */
	NHI_LDAP_TLS_LDAPI = 3,    /* ldapi:// (local socket, no TLS needed) */
};

/* What nhi_ldap_connect_info() found out. */
struct nhi_ldap_info {
	char uri[1024];            /* the URI that answered */
	enum nhi_ldap_tls tls;
	char failed[2048];         /* "URI: reason; ..." of URIs tried before it */
};

/* "none", "starttls", "ldaps", "ldapi" */
const char *nhi_ldap_tls_name(enum nhi_ldap_tls t);

/* Connect and bind with the configuration: each URI of ldap_uri in order
 * until one connects and binds.  LDAPv3, no referrals, network and
 * operation timeouts of ldap_timeout, server certificates verified
 * (ldap_tls_cacert, ldap_tls_cert/key per connection), StartTLS on
 * ldap:// unless ldap_starttls = no.  ldap_bind = external: SASL EXTERNAL;
 * simple: ldap_bind_dn with the password read from ldap_bind_password_file
 * (a regular file owned by root or the euid, mode 0600 or 0400).
 * Returns 0 with *out set (ldap_unbind_ext_s() it), or NHI_ERR_INVAL (no
 * ldap_uri / incomplete config), NHI_ERR_PERM (password file not trusted),
 * NHI_ERR_IO (no URI worked) with one line in err naming each URI tried
 * and the server's reason. */
int nhi_ldap_connect_info(const struct nhi_conf *c, LDAP **out,
			  struct nhi_ldap_info *info, char *err, size_t errlen);
int nhi_ldap_connect(const struct nhi_conf *c, LDAP **out, char *err, size_t errlen);

/* Where writes go: ldap_write_uri when set, else ldap_uri. */
const char *nhi_ldap_write_uris(const struct nhi_conf *c);
/* nhi_ldap_connect_info() on nhi_ldap_write_uris(): the first of them
 * that answers (failover as for ldap_uri). */
int nhi_ldap_connect_write(const struct nhi_conf *c, LDAP **out, struct nhi_ldap_info *info,
			   char *err, size_t errlen);

/* The scheme and host part of a referral URL: "ldap://h:389/dn" ->
 * "ldap://h:389".  0, or -1 (not ldap://, ldaps:// or ldapi://; too long). */
int nhi_ldap_referral_base(const char *url, char *out, size_t len);

/* An operation on *ld was answered LDAP_REFERRAL (a read-only consumer
 * with olcUpdateref): connect to the server of its first ldap://,
 * ldaps:// or ldapi:// URL (scheme and host only; the DN part dropped)
 * with the configuration's bind (SASL EXTERNAL or simple) and TLS
 * settings, never anonymously, and replace *ld by that connection (the
 * old one unbound).  'seen' is the space-separated URIs written to so
 * far (the first: where *ld was connected); the new one is appended and
 * copied to 'to'.  NHI_ERR_IO with one line in err (and *ld kept) when
 * no URL has one of those schemes, the URL is already in 'seen' (a loop)
 * or after 4 hops, or the server does not answer or bind. */
int nhi_ldap_follow_referral(const struct nhi_conf *c, LDAP **ld, char *seen, size_t seenlen,
			     char *to, size_t tolen, char *err, size_t errlen);

/* "Who am I" (RFC 4532): the authorization identity of the connection,
 * e.g. "dn:cn=admin,dc=example,dc=org" ("" = anonymous).  0 or NHI_ERR_IO
 * (err has the server's reason) / NHI_ERR_RANGE. */
int nhi_ldap_whoami(LDAP *ld, char *out, size_t outlen, char *err, size_t errlen);

/* The server's reason for the last failure on ld: "ldap_err2string(rc)"
 * plus ": diagnostic message" when the server or TLS layer gave one. */
void nhi_ldap_reason(LDAP *ld, int rc, char *buf, size_t len);

/* Read a password file for a simple bind: a regular file owned by root
 * (or the euid), mode 0600 or 0400, trailing newline stripped, not empty.
 * Wipe 'out' with explicit_bzero() after use.  0, NHI_ERR_PERM,
 * NHI_ERR_IO, NHI_ERR_INVAL (empty) or NHI_ERR_RANGE (too long). */
int nhi_ldap_read_password(const char *path, char *out, size_t outlen,
			   char *err, size_t errlen);

#endif

/* ldapdl.h - libldap loaded when the directory is first used (issue 14).
 *
 * Linked into nhictl, libldap would be mapped and relocated, with its
 * closure (liblber, GnuTLS, nettle, hogweed, gmp, libunistring, p11-kit,
 * libidn2, libtasn1, libffi, libsasl2: 12 libraries, about 4,500 symbol
 * relocations and GnuTLS's constructor), by every run of every verb,
 * also with backend = local where nothing of it is called: 5.2 million
 * of the 19 million instructions of `nhictl reach` on the example fleet.
 * With NHI_LDAP_DLOPEN (nhictl's build) each libldap/liblber function
 * the ldap/ layer calls is a pointer of the table below, filled from
 * dlopen(LDAP_SONAME) on the first call; without it (the test programs
 * and fuzzers that link ldap/ files alone) they are the linked functions.
 * A libldap that cannot be loaded is one line and exit status 1 (the
 * package depends on it: a broken installation).
 */
#ifndef NHICTL_LDAPDL_H
#define NHICTL_LDAPDL_H

#include <ldap.h>

#define NHI_LDAP_FNS(X) \
	X(ber_alloc_t) \
	X(ber_bvarray_free) \
	X(ber_bvfree) \
	X(ber_flatten2) \
	X(ber_free) \
	X(ber_get_option) \
	X(ber_init) \
	X(ber_memfree) \
	X(ber_peek_tag) \
	X(ber_printf) \
	X(ber_scanf) \
	X(ber_set_option) \
	X(ldap_abandon_ext) \
	X(ldap_add_ext) \
	X(ldap_add_ext_s) \
	X(ldap_control_create) \
	X(ldap_control_find) \
	X(ldap_control_free) \
	X(ldap_controls_free) \
	X(ldap_count_entries) \
	X(ldap_create_assertion_control) \
	X(ldap_create_page_control) \
	X(ldap_delete_ext_s) \
	X(ldap_dn2str) \
	X(ldap_dnfree) \
	X(ldap_err2string) \
	X(ldap_first_entry) \
	X(ldap_get_dn) \
	X(ldap_get_entry_controls) \
	X(ldap_get_option) \
	X(ldap_get_values_len) \
	X(ldap_initialize) \
	X(ldap_memfree) \
	X(ldap_memvfree) \
	X(ldap_modify_ext_s) \
	X(ldap_msgfree) \
	X(ldap_next_entry) \
	X(ldap_parse_intermediate) \
	X(ldap_parse_pageresponse_control) \
	X(ldap_parse_result) \
	X(ldap_result) \
	X(ldap_sasl_bind_s) \
	X(ldap_sasl_interactive_bind_s) \
	X(ldap_search_ext) \
	X(ldap_search_ext_s) \
	X(ldap_set_option) \
	X(ldap_start_tls_s) \
	X(ldap_str2dn) \
	X(ldap_unbind_ext_s) \
	X(ldap_value_free_len) \
	X(ldap_whoami_s)

#ifdef NHI_LDAP_DLOPEN
#define NHI_LDAP_PTR(f) __typeof__(f) *f;
struct nhi_ldapdl {
	NHI_LDAP_FNS(NHI_LDAP_PTR)
};
#undef NHI_LDAP_PTR
/* The table, libldap loaded on the first call; never NULL (exits when
 * libldap cannot be loaded). */
const struct nhi_ldapdl *nhi_ldapdl(void);
/* 1 when libldap has been loaded in this process (for the tests) */
int nhi_ldapdl_loaded(void);
#ifndef NHI_LDAPDL_IMPL
#define ber_alloc_t (nhi_ldapdl()->ber_alloc_t)
#define ber_bvarray_free (nhi_ldapdl()->ber_bvarray_free)
#define ber_bvfree (nhi_ldapdl()->ber_bvfree)
#define ber_flatten2 (nhi_ldapdl()->ber_flatten2)
#define ber_free (nhi_ldapdl()->ber_free)
#define ber_get_option (nhi_ldapdl()->ber_get_option)
#define ber_init (nhi_ldapdl()->ber_init)
#define ber_memfree (nhi_ldapdl()->ber_memfree)
#define ber_peek_tag (nhi_ldapdl()->ber_peek_tag)
#define ber_printf (nhi_ldapdl()->ber_printf)
#define ber_scanf (nhi_ldapdl()->ber_scanf)
#define ber_set_option (nhi_ldapdl()->ber_set_option)
#define ldap_abandon_ext (nhi_ldapdl()->ldap_abandon_ext)
#define ldap_add_ext (nhi_ldapdl()->ldap_add_ext)
#define ldap_add_ext_s (nhi_ldapdl()->ldap_add_ext_s)
#define ldap_control_create (nhi_ldapdl()->ldap_control_create)
#define ldap_control_find (nhi_ldapdl()->ldap_control_find)
#define ldap_control_free (nhi_ldapdl()->ldap_control_free)
#define ldap_controls_free (nhi_ldapdl()->ldap_controls_free)
#define ldap_count_entries (nhi_ldapdl()->ldap_count_entries)
#define ldap_create_assertion_control (nhi_ldapdl()->ldap_create_assertion_control)
#define ldap_create_page_control (nhi_ldapdl()->ldap_create_page_control)
#define ldap_delete_ext_s (nhi_ldapdl()->ldap_delete_ext_s)
#define ldap_dn2str (nhi_ldapdl()->ldap_dn2str)
#define ldap_dnfree (nhi_ldapdl()->ldap_dnfree)
#define ldap_err2string (nhi_ldapdl()->ldap_err2string)
#define ldap_first_entry (nhi_ldapdl()->ldap_first_entry)
#define ldap_get_dn (nhi_ldapdl()->ldap_get_dn)
#define ldap_get_entry_controls (nhi_ldapdl()->ldap_get_entry_controls)
#define ldap_get_option (nhi_ldapdl()->ldap_get_option)
#define ldap_get_values_len (nhi_ldapdl()->ldap_get_values_len)
#define ldap_initialize (nhi_ldapdl()->ldap_initialize)
#define ldap_memfree (nhi_ldapdl()->ldap_memfree)
#define ldap_memvfree (nhi_ldapdl()->ldap_memvfree)
#define ldap_modify_ext_s (nhi_ldapdl()->ldap_modify_ext_s)
#define ldap_msgfree (nhi_ldapdl()->ldap_msgfree)
#define ldap_next_entry (nhi_ldapdl()->ldap_next_entry)
#define ldap_parse_intermediate (nhi_ldapdl()->ldap_parse_intermediate)
#define ldap_parse_pageresponse_control (nhi_ldapdl()->ldap_parse_pageresponse_control)
#define ldap_parse_result (nhi_ldapdl()->ldap_parse_result)
#define ldap_result (nhi_ldapdl()->ldap_result)
#define ldap_sasl_bind_s (nhi_ldapdl()->ldap_sasl_bind_s)
#define ldap_sasl_interactive_bind_s (nhi_ldapdl()->ldap_sasl_interactive_bind_s)
#define ldap_search_ext (nhi_ldapdl()->ldap_search_ext)
#define ldap_search_ext_s (nhi_ldapdl()->ldap_search_ext_s)
#define ldap_set_option (nhi_ldapdl()->ldap_set_option)
#define ldap_start_tls_s (nhi_ldapdl()->ldap_start_tls_s)
#define ldap_str2dn (nhi_ldapdl()->ldap_str2dn)
#define ldap_unbind_ext_s (nhi_ldapdl()->ldap_unbind_ext_s)
#define ldap_value_free_len (nhi_ldapdl()->ldap_value_free_len)
#define ldap_whoami_s (nhi_ldapdl()->ldap_whoami_s)
#endif
#endif

#endif

/* ldapdl.c - libldap loaded on first use (ldapdl.h). */
#define NHI_LDAPDL_IMPL
#include "ldapdl.h"
#ifdef NHI_LDAP_DLOPEN
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LDAP_SONAME
#error "LDAP_SONAME: libldap's soname, from configure"
#endif

static struct nhi_ldapdl fns;
static int loaded;

int nhi_ldapdl_loaded(void)
{
	return loaded;
}

static void fail(const char *what)
{
	fprintf(stderr, "nhictl: cannot load %s (OpenLDAP's libldap, needed with backend "
		"= ldap): %s\n", LDAP_SONAME, what);
	exit(1);
}

const struct nhi_ldapdl *nhi_ldapdl(void)
{
	void *h, *p;

	if (loaded)
		return &fns;
	/* RTLD_NOW: a missing symbol is found here, not in a call later */
	h = dlopen(LDAP_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		fail(dlerror());
#define NHI_LDAP_SYM(f) \
	if ((p = dlsym(h, #f)) == NULL) \
		fail(#f " not found"); \
	memcpy(&fns.f, &p, sizeof(p));
	NHI_LDAP_FNS(NHI_LDAP_SYM)
#undef NHI_LDAP_SYM
	loaded = 1;
	return &fns;
}
#endif

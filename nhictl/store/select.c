/* select.c - the one place `backend =` picks code: the store's table
 * (store.h).  Above both backends, so they can share store.c below them.
 */
#include "store.h"

const struct store_ops *store_select(int backend)
{
	return backend == NHI_BACKEND_LDAP ? &store_ldap : &store_local;
}

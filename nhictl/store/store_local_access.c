/* store_local_access.c - the reach operations of backend = local
 * (store.h): registry.db is the truth, so each is its row write
 * (access.h) in the open transaction. */
#include "store.h"

int local_reach_lock(struct nhictl *x, const struct reach_scope *s)
{
	(void)s;
	return reg_begin(x) < 0 ? NHI_ERR_DB : 0;
}

int local_resource_add(struct nhictl *x, struct resource_row *r)
{
	return resource_put(x, r);
}

int local_resource_update(struct nhictl *x, const struct resource_row *old,
			  struct resource_row *r)
{
	(void)old;
	return resource_put(x, r);
}

int local_resource_remove(struct nhictl *x, const struct resource_row *r)
{
	return resource_delete(x, r->id);
}

int local_grant_add(struct nhictl *x, struct access_row *g)
{
	return grant_put(x, g);
}

int local_grant_update(struct nhictl *x, const struct access_row *old, struct access_row *g)
{
	(void)old;
	return grant_put(x, g);
}

int local_grant_remove(struct nhictl *x, const struct access_row *g)
{
	return grant_delete(x, g->id);
}

int local_delegation_add(struct nhictl *x, struct delegation_row *d)
{
	return delegation_put(x, d);
}

int local_delegation_update(struct nhictl *x, const struct delegation_row *old,
			    struct delegation_row *d)
{
	(void)old;
	return delegation_put(x, d);
}

int local_delegation_remove(struct nhictl *x, const struct delegation_row *d)
{
	return delegation_delete(x, d->id);
}

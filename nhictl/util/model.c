/* model.c - the pure functions on nhictl's records (model.h). */
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include "nhi_err.h"
#include "secret.h"
#include "model.h"

void ident_to_nhi(const struct ident *id, struct nhi_ident *ni)
{
	memset(ni, 0, sizeof(*ni));
	ni->name = id->name;
	ni->gecos = id->gecos;
	ni->home = id->home;
	ni->shell = id->shell;
	ni->owner = id->owner;
	ni->purpose = id->purpose;
	ni->hosts = id->hosts;
	ni->services = id->services;
	ni->uid = id->uid;
	ni->gid = id->gid;
	ni->kind = nhi_kind_parse(id->kind);
	ni->state = nhi_state_parse(id->state);
	ni->created = id->created;
	ni->expires = id->expires;
	ni->review_interval = id->review_interval;
	ni->review_due = id->review_due;
	ni->orphaned_since = id->orphaned_since;
	ni->last_used = id->last_used;
}

int owner_decide(struct owner_plan *o, const char *owner, const char *had, const char *now,
		 int r, const char *why, const char *what)
{
	o->orphan = 1;
	snprintf(o->owner_id, sizeof(o->owner_id), "%s", had[0] ? had : now);
	if (had[0] && now[0] && strcmp(had, now) != 0) {
		snprintf(o->cause, sizeof(o->cause), "other");
		snprintf(o->why, sizeof(o->why), "owner '%.200s' is now %s %s, not %s %s the "
			 "identity was given to: another person under that name", owner, what,
			 now, what, had);
		return 1;
	}
	if (r == 0) {
		o->orphan = 0;
		snprintf(o->why, sizeof(o->why), "owner '%.200s' is %s %s (recorded now: "
			 "the registry did not know it)", owner, what, now);
		return !had[0] && now[0];
	}
	snprintf(o->cause, sizeof(o->cause), "%s", r == NHI_ERR_PERM ? "locked" : "gone");
	snprintf(o->why, sizeof(o->why), "%s", why);
	return 1;
}

const char *cred_state(const struct cred *c, time_t now)
{
	if (strcmp(c->state, "revoked") == 0)
		return "revoked";
	if (strcmp(c->state, "grace") == 0 && c->grace_until <= (int64_t)now)
		return "revoked";   /* lazily: the next rotate or sync records it */
	if (c->not_after != 0 && c->not_after <= (int64_t)now)
		return "expired";
	return c->state;
}

int cred_usable(const struct cred *c, time_t now)
{
	const char *s = cred_state(c, now);

	return strcmp(s, "active") == 0 || strcmp(s, "grace") == 0;
}

int cred_kind_valid(const char *kind)
{
	return strcmp(kind, "password") == 0 || strcmp(kind, "token") == 0 ||
	       strcmp(kind, "ssh-key") == 0 || strcmp(kind, "certificate") == 0;
}

void newcred_free(struct newcred *n)
{
	free(n->public_part);
	secret_free(n->secret);
	OPENSSL_cleanse(n->hash, sizeof(n->hash));
	memset(n, 0, sizeof(*n));
}

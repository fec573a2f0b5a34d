/* model.h - the records every layer of nhictl passes: an identity and a
 * credential as the registry and the directory both hold them, a
 * credential just generated, and an owner re-check's outcome; with the
 * pure functions on them (model.c).  No I/O here.
 */
#ifndef NHICTL_MODEL_H
#define NHICTL_MODEL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "nhi_snapshot.h"

/* Labels (labels.c): "k=v,k=v" sorted by key; keys and values
 * [a-z0-9_.-], 1 to LABEL_WORD_MAX bytes; at most LABELS_MAX. */
#define LABELS_MAX 16
#define LABEL_WORD_MAX 63
#define LABELS_BUFSZ (LABELS_MAX * (2 * LABEL_WORD_MAX + 2))
/* One KEY=VALUE (or, with allow_remove, KEY-): 0 or NHI_ERR_FORMAT with
 * the reason in why. */
int label_check(const char *op, int allow_remove, char *why, size_t len);
/* The first op among ops[0..n) that names the key of an earlier one (set
 * or remove: "a=b a=c" and "a=b a-" are ambiguous): its index and the
 * reason in why, or -1.  Each op already passed label_check. */
int label_dup(const char *const *ops, int n, char *why, size_t len);
/* Apply KEY=VALUE (set) and KEY- (remove) to labels (len bytes), kept
 * sorted: 0, NHI_ERR_FORMAT or NHI_ERR_RANGE (more than LABELS_MAX) with
 * why; labels unchanged on error. */
int labels_apply(char *labels, size_t len, const char *const *ops, int nops, char *why,
		 size_t wlen);
/* Split a copy of labels in place at the commas: the values (at most
 * max) into out; their number. */
int labels_split(char *s, const char **out, int max);
/* The value of key in labels (into val), or NULL. */
const char *labels_get(const char *labels, const char *key, char *val, size_t len);
/* 1 if labels has every KEY=VALUE of want. */
int labels_match(const char *labels, const char *const *want, int n);

struct ident {
	int64_t id;
	char name[64], kind[16], state[16];
	char gecos[264], home[PATH_MAX], shell[PATH_MAX];
	char owner[64], purpose[264], retire_reason[264];
	char hosts[1024], services[1024];   /* comma-separated, "" = any */
	uint32_t uid, gid;
	int64_t created, expires, review_interval, last_review, review_due;
	int64_t orphaned_since, retired_at, last_used;
	char labels[LABELS_BUFSZ];           /* "k=v,k=v" sorted, "" none */
	int applied;                         /* managed by `nhictl apply` (issue 16) */
};
/* The policy record of an identity row (pointers into 'id'). */
void ident_to_nhi(const struct ident *id, struct nhi_ident *ni);

#define CRED_ID_MAX 24
#define CRED_FP_MAX 128
#define CRED_PUB_MAX 8192

struct cred {
	int64_t row, identity_id;
	char id[CRED_ID_MAX], kind[16], state[16];
	char fingerprint[CRED_FP_MAX], serial[80], replaces[CRED_ID_MAX];
	char public_part[CRED_PUB_MAX];
	char hash[256];
	int64_t created, not_after, grace_until, revoked_at, last_used;
	int64_t use_count;           /* uses counted (cred verify, SSH logins) */
	int rotating;                /* a rotation of it is pending */
};

/* A credential just generated, before it is handed over.  'secret' is what
 * the holder receives (password, token, OpenSSH private key, certificate
 * PEM followed by its key): wiped and freed by newcred_free(). */
struct newcred {
	char id[CRED_ID_MAX], kind[16], fingerprint[CRED_FP_MAX], serial[80];
	char hash[256];
	char *public_part;           /* heap */
	char *secret;                /* heap, wiped */
	size_t secret_len;
	int64_t not_after;
};
void newcred_free(struct newcred *n);
/* The state at 'now': "active", "grace", "revoked" (also a grace window
 * that has ended) or "expired" (past not_after). */
const char *cred_state(const struct cred *c, time_t now);
/* 1 if the credential may be used at 'now' (active or in its grace window,
 * before not_after). */
int cred_usable(const struct cred *c, time_t now);
/* 1 if kind names a credential kind. */
int cred_kind_valid(const char *kind);

/* One identity after its owner's re-check (audit, sync). */
struct owner_plan {
	int64_t id;
	char name[64], state[16], why[1280], cause[8], owner_id[64];
	int orphan;                   /* 1 orphan it; 0 only record owner_id */
};
/* Decide from the re-check's result r (0 live, NHI_ERR_PERM not live,
 * else gone; why its reason) and the owner's id as recorded ('had', ""
 * if unknown) and now ('now', "" if unknown; 'what' names it: "uid",
 * "entryUUID"): orphan ('other' when had and now differ: another person
 * under the name; 'locked'; 'gone'), record owner_id, or nothing (0). */
int owner_decide(struct owner_plan *o, const char *owner, const char *had, const char *now,
		 int r, const char *why, const char *what);

#endif

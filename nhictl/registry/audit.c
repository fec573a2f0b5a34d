/* audit.c - the hash-chained audit log: each event's hash is
 * hex(SHA-256(prev_hash || canonical row text)), prev_hash of the first
 * event is 64 zeros; meta keeps the head hash and the count, so removing
 * the newest rows is detected as well (verify.c checks the chain).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "internal.h"

static void put_field(EVP_MD_CTX *md, const char *s)
{
	char len[32];
	int n = snprintf(len, sizeof(len), "%zu:", strlen(s));

	EVP_DigestUpdate(md, len, (size_t)n);
	EVP_DigestUpdate(md, s, strlen(s));
	EVP_DigestUpdate(md, "\n", 1);
}

/* hex(SHA-256(prev || canonical text)); the canonical text is every
 * column but the hashes, each as "<length>:<bytes>\n". */
int reg_event_hash(int64_t id, int64_t ts, const char *actor, const char *action,
		      const char *target, const char *outcome, const char *detail,
		      const char *prev, char out[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	char num[32];
	int ok;

	if (md == NULL)
		return NHI_ERR_NOMEM;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	if (ok) {
		EVP_DigestUpdate(md, prev, strlen(prev));
		snprintf(num, sizeof(num), "%lld", (long long)id);
		put_field(md, num);
		snprintf(num, sizeof(num), "%lld", (long long)ts);
		put_field(md, num);
		put_field(md, actor);
		put_field(md, action);
		put_field(md, target);
		put_field(md, outcome);
		put_field(md, detail);
		ok = EVP_DigestFinal_ex(md, dig, &n);
	}
	EVP_MD_CTX_free(md);
	if (!ok || n != 32)
		return NHI_ERR_IO;
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", dig[i]);
	return 0;
}

static int event_v(struct nhictl *x, const char *actor, int64_t ts, const char *action,
		   const char *target, const char *outcome, const char *fmt, va_list ap)
	__attribute__((format(printf, 7, 0)));
static int event_v(struct nhictl *x, const char *actor, int64_t ts, const char *action,
		   const char *target, const char *outcome, const char *fmt, va_list ap)
{
	char detail[1024], prev[80], hash[65];
	int64_t id;
	int r;

	vsnprintf(detail, sizeof(detail), fmt, ap);
	r = reg_meta_get(x, "log_head", prev, sizeof(prev));
	if (r == NHI_ERR_NOTFOUND)
		snprintf(prev, sizeof(prev), "%s", ZERO_HASH);
	else if (r < 0)
		return r;
	if (reg_int(x, &id, 0, "SELECT max(id) FROM event", "") < 0)
		return NHI_ERR_DB;
	id++;
	r = reg_event_hash(id, ts, actor, action, target, outcome, detail, prev, hash);
	if (r < 0)
		return nerr(x, r, "cannot hash the audit event");
	r = reg_exec(x, "INSERT INTO event (id, ts, actor, action, target, outcome, detail, "
		     "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", "iisssssss",
		     id, ts, actor, action, target, outcome, detail, prev, hash);
	if (r == 0)
		r = reg_exec(x, "INSERT OR REPLACE INTO meta VALUES ('log_head', ?)", "s", hash);
	if (r == 0)
		r = reg_exec(x, "INSERT OR REPLACE INTO meta VALUES ('log_count', ?)", "i", id);
	/* the event of this run's announced change: its intent ends with it,
	 * in this transaction (intent.c) */
	if (r == 0)
		r = reg_intent_clear(x, action, target);
	if (r == 0)
		NHI_CRASH_POINT("audit-event", action);
	return r;
}

int reg_event(struct nhictl *x, const char *action, const char *target,
	      const char *outcome, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = event_v(x, x->actor, (int64_t)x->now, action, target, outcome, fmt, ap);
	va_end(ap);
	return r;
}

int reg_event_as(struct nhictl *x, const char *actor, int64_t ts, const char *action,
		 const char *target, const char *outcome, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = event_v(x, actor, ts, action, target, outcome, fmt, ap);
	va_end(ap);
	return r;
}

/* fuzz-keys.c - the key index (lib/nhi_keys.c): the input is an
 * authorized_keys.idx beside a valid snapshot (built once with lib's
 * writer, fuzz.h).  Keys are asked for the identities of the snapshot
 * (svc-web is allowed through sshd on this "host", the others are
 * suspended, expired or retired), a name no identity has, and the first
 * word of the input's second line.  Properties: every key served is a
 * non-empty part of one line of the file, after "USER GRACE NOT_AFTER ",
 * neither in its grace period's end nor expired at 'now'; the same
 * question gives the same answer twice; an identity that pam_nhi would
 * not let in gets no key. */
#include "fuzz.h"
#include "nhi_conf.h"
#include "nhi_keys.h"

#define NOW 1750000000

static struct nhi_conf *conf;
static char cache[512], index_path[512];
static const uint8_t *cur;
static size_t cur_size;

struct seen {
	unsigned n;
	uint64_t sum;
	const char *user;
};

static int on_key(void *ctx, const struct nhi_key *k)
{
	struct seen *s = ctx;
	size_t ulen = strlen(s->user);

	FUZZ_ASSERT(k->len > 0 && memchr(k->line, '\n', k->len) == NULL);
	FUZZ_ASSERT(k->grace_until == 0 || k->grace_until > NOW);
	FUZZ_ASSERT(k->not_after == 0 || k->not_after > NOW);
	/* the same bytes are in the file, on a line of this user's */
	for (size_t off = 0; off < cur_size;) {
		const uint8_t *nl = memchr(cur + off, '\n', cur_size - off);
		size_t end = nl != NULL ? (size_t)(nl - cur) : cur_size;

		if (end - off > ulen && memcmp(cur + off, s->user, ulen) == 0 &&
		    cur[off + ulen] == ' ' && end - off >= k->len &&
		    memcmp(cur + end - k->len, k->line, k->len) == 0) {
			s->n++;
			s->sum = nhi_checksum(k->line, k->len, s->sum);
			return 0;
		}
		off = end + 1;
	}
	FUZZ_ASSERT(!"a key that is on no line of the user's");
	return 0;
}

static void ask(const char *user)
{
	struct nhi_decision d1, d2;
	struct seen a = { 0, 0, user }, b = { 0, 0, user };
	char err[1024];
	int r1, r2;

	r1 = nhi_keys_for(conf, user, NOW, on_key, &a, &d1, err, sizeof(err));
	r2 = nhi_keys_for(conf, user, NOW, on_key, &b, &d2, err, sizeof(err));
	FUZZ_ASSERT(r1 == r2 && a.n == b.n && a.sum == b.sum && d1.verdict == d2.verdict);
	if (d1.verdict != NHI_V_ALLOW)
		FUZZ_ASSERT(a.n == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[1024], text[700], path[512];
	struct nhi_decision d;
	struct seen seen = { 0, 0, "svc-web" };
	int r;

	conf = malloc(sizeof(*conf));
	if (conf == NULL)
		abort();
	fuzz_path(cache, sizeof(cache), "nhi.cache");
	fuzz_path(index_path, sizeof(index_path), "authorized_keys.idx");
	fuzz_build_base(cache, 7, 8);
	fuzz_path(path, sizeof(path), "nhi.conf");
	snprintf(text, sizeof(text), "state_dir = %s\nhost = web1\n", fuzz_tmpdir());
	fuzz_replace(path, text, strlen(text), 0);
	nhi_conf_init(conf);
	if (nhi_conf_load_file(conf, path, 0, err, sizeof(err)) < 0 ||
	    nhi_conf_finish(conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	FUZZ_ASSERT(strcmp(conf->cache_path, cache) == 0 &&
		    strcmp(conf->key_index, index_path) == 0);
	/* the harness is no use unless svc-web may have keys */
	cur = (const uint8_t *)"# nhi-keys 1 7\nsvc-web 0 0 ssh-ed25519 AAAA\n";
	cur_size = strlen((const char *)cur);
	fuzz_replace(index_path, cur, cur_size, 0);
	r = nhi_keys_for(conf, "svc-web", NOW, on_key, &seen, &d, err, sizeof(err));
	if (r != 0 || d.verdict != NHI_V_ALLOW || seen.n != 1) {
		fprintf(stderr, "svc-web is not allowed: %d %s %s\n", r, err, d.message);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const users[] = { "svc-web", "agent-ci", "svc-db", "svc-old",
					     "svc000", "nobody-here" };
	char word[40];
	const uint8_t *p, *q;

	cur = data;
	cur_size = size;
	fuzz_replace(index_path, data, size, 0);
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		ask(users[i]);
	/* the first word of the second line */
	if ((p = memchr(data, '\n', size)) != NULL) {
		p++;
		q = memchr(p, ' ', size - (size_t)(p - data));
		if (q != NULL && (size_t)(q - p) < sizeof(word) && memchr(p, '\0', (size_t)(q - p)) == NULL) {
			memcpy(word, p, (size_t)(q - p));
			word[q - p] = '\0';
			ask(word);
		}
	}
	return 0;
}

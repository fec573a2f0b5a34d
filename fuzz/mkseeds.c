/* mkseeds.c - write the seed snapshots of fuzz/corpus with lib's writer:
 *   mkseeds CORPUS_DIR
 * CORPUS_DIR/snapshot/: bases (fuzz-snapshot); CORPUS_DIR/delta/: deltas
 * over the base fuzz-delta and fuzz-keys build (fuzz_build_base, generation
 * 7, 40 extra identities); CORPUS_DIR/keys/snapshot-seed: that base (for
 * reference; fuzz-keys builds its own).  Deterministic: the same files
 * every time. */
#include <errno.h>
#include <sys/stat.h>
#include "fuzz.h"

static const char *out_dir;

/* Copy the file at 'from' to OUT/sub/name. */
static void keep(const char *from, const char *sub, const char *name)
{
	char to[1024], buf[65536];
	FILE *in, *out;
	size_t n;

	snprintf(to, sizeof(to), "%s/%s", out_dir, sub);
	if (mkdir(to, 0755) < 0 && errno != EEXIST)
		abort();
	snprintf(to, sizeof(to), "%s/%s/%s", out_dir, sub, name);
	if ((in = fopen(from, "rb")) == NULL || (out = fopen(to, "wb")) == NULL)
		abort();
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			abort();
	if (fclose(in) != 0 || fclose(out) != 0)
		abort();
	printf("%s\n", to);
}

static struct nhi_ident ident(const char *name, uint32_t uid, int state)
{
	struct nhi_ident id;

	memset(&id, 0, sizeof(id));
	id.name = name;
	id.gecos = "changed";
	id.home = "/srv/x";
	id.shell = "";
	id.owner = "bob";
	id.purpose = "a delta's identity";
	id.hosts = "*";
	id.services = "sshd";
	id.uid = id.gid = uid;
	id.kind = NHI_KIND_SERVICE;
	id.state = state;
	id.created = 1700000000;
	id.expires = 4102444800;
	return id;
}

/* A delta over the base at 'cache' (generation 7). */
static void delta(const char *cache, const char *dpath, const char *name, int what)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	struct nhi_ident id;
	char err[512];

	if (w == NULL)
		abort();
	nhi_snapw_set_delta(w, 7);
	fuzz_add_reg_groups(w);
	if (what & 1) {          /* svc-web changed: another uid, suspended */
		id = ident("svc-web", 990101, NHI_STATE_SUSPENDED);
		if (nhi_snapw_add_ident(w, &id) < 0)
			abort();
	}
	if (what & 2) {          /* a new identity */
		id = ident("svc-new", 990200, NHI_STATE_ACTIVE);
		if (nhi_snapw_add_ident(w, &id) < 0)
			abort();
	}
	if ((what & 4) && nhi_snapw_add_gone(w, "svc-db") < 0)   /* one deleted */
		abort();
	if (nhi_snapw_publish(w, dpath, 8, 1750000100, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	nhi_snapw_free(w);
	keep(dpath, "delta", name);
	(void)cache;
}

int main(int argc, char **argv)
{
	char cache[512], dpath[600];

	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds CORPUS_DIR\n");
		return 2;
	}
	out_dir = argv[1];
	fuzz_path(cache, sizeof(cache), "nhi.cache");
	snprintf(dpath, sizeof(dpath), "%s%s", cache, NHI_SNAP_DELTA_SUFFIX);

	fuzz_build_base(cache, 3, 0);
	keep(cache, "snapshot", "base-small");
	fuzz_build_base(cache, 7, 40);
	keep(cache, "snapshot", "base-40");
	delta(cache, dpath, "delta-changed", 1);
	delta(cache, dpath, "delta-new", 2);
	delta(cache, dpath, "delta-gone", 4);
	delta(cache, dpath, "delta-all", 7);
	delta(cache, dpath, "delta-empty", 0);
	/* the base's own empty delta, as every full publication leaves it */
	fuzz_build_base(cache, 7, 40);
	keep(dpath, "delta", "delta-of-base");
	{       /* a base of many small blocks: lookups verify block by block */
		struct nhi_snap_writer *w = nhi_snapw_new();
		char err[512], name[32];
		struct nhi_ident id;

		if (w == NULL || nhi_snapw_set_block_shift(w, NHI_SNAP_BLOCK_SHIFT_MIN) < 0)
			abort();
		for (unsigned i = 0; i < 160; i++) {
			snprintf(name, sizeof(name), "s%04u", i);
			id = ident(name, 980000 + i, i % 4);
			if (nhi_snapw_add_ident(w, &id) < 0)
				abort();
		}
		fuzz_add_reg_groups(w);
		if (nhi_snapw_publish(w, cache, 9, 1750000200, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			abort();
		}
		nhi_snapw_free(w);
		keep(cache, "snapshot", "base-blocks");
	}
	return 0;
}

/* fuzz.h - what the libFuzzer harnesses in fuzz/ share: a private
 * temporary directory, files replaced the way nhictl's writer replaces
 * them, snapshot checksums fixed up so that mutated files get past the
 * checksums to the lookups, and the valid snapshot some targets need
 * beside the fuzzed file (built with lib's writer).
 *
 * Every helper is static: each harness is one program compiled from its
 * own .c file and the lib/ sources it needs (see fuzz/local.mk). */
#ifndef NHI_FUZZ_H
#define NHI_FUZZ_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "nhi_err.h"
#include "nhi_hash.h"
#include "nhi_snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property of the code under test does not hold: report and abort, so
 * libFuzzer saves the input like a crash. */
#define FUZZ_ASSERT(cond)                                                         \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__,  \
				__LINE__, #cond);                                 \
			abort();                                                  \
		}                                                                 \
	} while (0)

/* Where a harness puts what it reads only so that it is read. */
static volatile uint32_t fuzz_sink;

/* The harness's own directory under $TMPDIR (made once, removed at exit). */
static char fuzz_dir[256];

static inline void fuzz_rmdir(void)
{
	char cmd[300];

	if (fuzz_dir[0] != '\0' && snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fuzz_dir) <
	    (int)sizeof(cmd) && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fuzz_dir);
}

static inline const char *fuzz_tmpdir(void)
{
	if (fuzz_dir[0] == '\0') {
		const char *t = getenv("TMPDIR");

		snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/nhi-fuzz.XXXXXX",
			 t != NULL && t[0] == '/' ? t : "/tmp");
		if (mkdtemp(fuzz_dir) == NULL) {
			perror("mkdtemp");
			abort();
		}
		atexit(fuzz_rmdir);
	}
	return fuzz_dir;
}

/* DIR/name in buf. */
static inline const char *fuzz_path(char *buf, size_t len, const char *name)
{
	if (snprintf(buf, len, "%s/%s", fuzz_tmpdir(), name) >= (int)len)
		abort();
	return buf;
}

/* Replace 'path' with n bytes (mode 0644) by rename, as the writer does;
 * first mark the file it replaces stale (byte 'stale_off' of the header
 * set to 1) when stale_off is not 0, so that a reader that has it mapped
 * (nss_nhi) maps the new one at its next lookup. */
static inline void fuzz_replace(const char *path, const void *data, size_t n, size_t stale_off)
{
	char tmp[512];
	int fd;

	if (stale_off != 0 && (fd = open(path, O_WRONLY | O_CLOEXEC)) >= 0) {
		uint32_t one = 1;

		if (pwrite(fd, &one, sizeof(one), (off_t)stale_off) != (ssize_t)sizeof(one))
			abort();
		close(fd);
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		abort();
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || (n > 0 && write(fd, data, n) != (ssize_t)n) || close(fd) < 0 ||
	    rename(tmp, path) < 0) {
		perror(path);
		abort();
	}
}

/* Make a mutated snapshot pass the checks a mutation would only ever fail
 * (magic, version, byte order, header size, file size, every checksum),
 * so that the fuzzer's effort goes into the sections and the lookups.
 * buf is a copy of the input (n bytes) and is changed in place. */
static inline void fuzz_fix_snapshot(unsigned char *buf, size_t n)
{
	struct nhi_snap_hdr h;

	if (n < sizeof(h))
		return;
	memcpy(&h, buf, sizeof(h));
	memcpy(h.magic, NHI_SNAP_MAGIC, sizeof(h.magic));
	h.version = NHI_SNAP_VERSION;
	h.endian = NHI_SNAP_ENDIAN;
	h.hdr_size = sizeof(h);
	h.file_size = n;
	h.stale = 0;
	/* the block table, when its layout is one the reader accepts */
	if (h.n_blocks != 0 && h.block_shift >= NHI_SNAP_BLOCK_SHIFT_MIN &&
	    h.block_shift <= NHI_SNAP_BLOCK_SHIFT_MAX && h.blocks_off % 8 == 0 &&
	    h.blocks_off > h.hdr_size && h.blocks_off + (uint64_t)h.n_blocks * 8 == n &&
	    h.n_blocks == ((uint64_t)h.blocks_off - h.hdr_size + (1u << h.block_shift) - 1) >>
			  h.block_shift) {
		for (uint64_t b = 0; b < h.n_blocks; b++) {
			uint64_t at = h.hdr_size + (b << h.block_shift), len = h.blocks_off - at, sum;

			if (len > (1ULL << h.block_shift))
				len = 1ULL << h.block_shift;
			sum = nhi_checksum(buf + at, (size_t)len, h.generation + b);
			memcpy(buf + h.blocks_off + 8 * b, &sum, 8);
		}
		h.blocks_checksum = nhi_checksum(buf + h.blocks_off, (size_t)h.n_blocks * 8,
						 h.generation);
	}
	h.data_checksum = nhi_checksum(buf + sizeof(h), n - sizeof(h), h.generation);
	h.hdr_checksum = nhi_snap_hdr_checksum(&h);
	memcpy(buf, &h, sizeof(h));
}

/* A copy of the input with its snapshot checksums fixed up (free()). */
static inline unsigned char *fuzz_fixed_copy(const uint8_t *data, size_t size)
{
	unsigned char *buf = malloc(size > 0 ? size : 1);

	if (buf == NULL)
		abort();
	if (size > 0)
		memcpy(buf, data, size);
	fuzz_fix_snapshot(buf, size);
	return buf;
}

/* The registry groups of the base (a delta's writer is given them too). */
static inline void fuzz_add_reg_groups(struct nhi_snap_writer *w)
{
	static const char *const members[] = { "svc-web", "agent-ci", "svc-db" };
	static const char *const members2[] = { "svc-db" };

	if (nhi_snapw_add_group(w, "webteam", 995000, members, 3) < 0 ||
	    nhi_snapw_add_group(w, "dbteam", 995001, members2, 1) < 0 ||
	    nhi_snapw_add_group(w, "empty", 995002, NULL, 0) < 0)
		abort();
}

/* Set NHI_SNAP_STALE_DELTA in the base at path, as the writer does before
 * it publishes a delta over it (docs/snapshot-format.md, Deltas). */
static inline void fuzz_mark_base(const char *path)
{
	uint32_t word = NHI_SNAP_STALE_DELTA;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || pwrite(fd, &word, sizeof(word), offsetof(struct nhi_snap_hdr, stale)) !=
			      (ssize_t)sizeof(word))
		abort();
	close(fd);
}

/* The valid snapshot beside fuzzed files, published at 'path' (and its
 * empty delta at path.delta) with lib's writer: a few identities of each
 * kind and state, registry groups with members, and supplementary groups.
 * 'extra' more identities svcNNN make it span several blocks. */
static inline void fuzz_build_base(const char *path, uint64_t generation, unsigned extra)
{
	struct nhi_snap_writer *w = nhi_snapw_new();
	char err[512], name[32];
	struct nhi_ident id;
	int r = 0;

	if (w == NULL)
		abort();
	memset(&id, 0, sizeof(id));
	id.name = "svc-web";
	id.gecos = "web front end";
	id.home = "/var/lib/svc-web";
	id.shell = "/bin/sh";
	id.owner = "alice";
	id.purpose = "serves the web site";
	id.hosts = "web*";
	id.services = "sshd,su";
	id.uid = id.gid = 990001;
	id.kind = NHI_KIND_SERVICE;
	id.state = NHI_STATE_ACTIVE;
	id.created = 1700000000;
	id.expires = 4102444800;
	id.review_interval = 7776000;
	id.review_due = 1800000000;
	r |= nhi_snapw_add_ident(w, &id);
	id.name = "agent-ci";
	id.gecos = "";
	id.home = "/nonexistent";
	id.shell = "/usr/sbin/nologin";
	id.uid = id.gid = 990002;
	id.kind = NHI_KIND_AGENT;
	id.state = NHI_STATE_SUSPENDED;
	id.hosts = "*";
	id.services = "*";
	r |= nhi_snapw_add_ident(w, &id);
	id.name = "svc-db";
	id.uid = id.gid = 990003;
	id.kind = NHI_KIND_SERVICE;
	id.state = NHI_STATE_ORPHANED;
	id.orphaned_since = 1750000000;
	id.expires = 1600000000;        /* expired */
	r |= nhi_snapw_add_ident(w, &id);
	id.name = "svc-old";
	id.uid = id.gid = 990004;
	id.state = NHI_STATE_RETIRED;
	r |= nhi_snapw_add_ident(w, &id);
	id.state = NHI_STATE_ACTIVE;
	id.orphaned_since = 0;
	id.expires = 4102444800;
	for (unsigned i = 0; i < extra; i++) {
		snprintf(name, sizeof(name), "svc%03u", i);
		id.name = name;
		id.uid = id.gid = 991000 + i;
		r |= nhi_snapw_add_ident(w, &id);
	}
	fuzz_add_reg_groups(w);
	if (r != 0 || nhi_snapw_publish(w, path, generation, 1750000000, err, sizeof(err)) < 0) {
		fprintf(stderr, "building the base: %s\n", err);
		abort();
	}
	nhi_snapw_free(w);
}

#endif

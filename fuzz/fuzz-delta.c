/* fuzz-delta.c - the delta overlay: the input is a delta (nhi.cache.delta)
 * beside a valid base built once with lib's writer (fuzz.h).  The delta's
 * header is made to name that base (so it applies) and its checksums are
 * fixed up; then every lookup of lib's reader and of nss_nhi runs over the
 * pair, as in fuzz-snapshot.c. */
#include <stddef.h>
#include "fuzz-lookups.h"

#define BASE_GENERATION 7

static char cache[512], delta[520];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_path(cache, sizeof(cache), "nhi.cache");
	snprintf(delta, sizeof(delta), "%s%s", cache, NHI_SNAP_DELTA_SUFFIX);
	fuzz_build_base(cache, BASE_GENERATION, 40);
	/* marked, as nhictl's writer marks a base before the first delta over
	 * it: readers of an unmarked base (stale word 0) never open the delta */
	fuzz_mark_base(cache);
	fuzz_nss_setup(cache);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *buf = malloc(size > 0 ? size : 1);
	struct nhi_snap_hdr h;

	if (buf == NULL)
		abort();
	if (size > 0)
		memcpy(buf, data, size);
	if (size >= sizeof(h)) {
		/* a delta for this base (an older base's delta is ignored, a
		 * newer one's fails the open: both are dull) */
		memcpy(&h, buf, sizeof(h));
		h.base_generation = BASE_GENERATION;
		h.flags |= NHI_SNAP_F_DELTA;
		if (h.generation < BASE_GENERATION)
			h.generation = BASE_GENERATION + 1;
		memcpy(buf, &h, sizeof(h));
	}
	fuzz_fix_snapshot(buf, size);
	/* every publication replaces the delta and marks the old one stale:
	 * the word nss_nhi watches when a delta is mapped */
	fuzz_replace(delta, buf, size, offsetof(struct nhi_snap_hdr, stale));
	free(buf);
	fuzz_snap_all(cache);
	fuzz_nss_all();
	return 0;
}

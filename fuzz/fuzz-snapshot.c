/* fuzz-snapshot.c - the snapshot reader over a base alone: the input is a
 * snapshot file (nhi.cache).  Its checksums are fixed up (fuzz.h) so that
 * a mutated file reaches the lookups; it is opened with every combination
 * of verification flags and every lookup of lib's reader runs on it, then
 * every entry point of nss_nhi (compiled in) with exact-size buffers.
 * No delta lies beside it. */
#include <stddef.h>
#include "fuzz-lookups.h"

static char cache[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_path(cache, sizeof(cache), "nhi.cache");
	fuzz_nss_setup(cache);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *buf = fuzz_fixed_copy(data, size);

	/* mark the file nss_nhi has mapped stale, as nhictl does */
	fuzz_replace(cache, buf, size, offsetof(struct nhi_snap_hdr, stale));
	free(buf);
	fuzz_snap_all(cache);
	fuzz_nss_all();
	return 0;
}

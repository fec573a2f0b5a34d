/* nhi_hash.c - hash functions fixed by the snapshot format. */
#include <string.h>
#include "nhi_hash.h"

uint64_t nhi_hash_str(const char *s)
{
	size_t len;

	return nhi_hash_str_len(s, &len);
}

/* Four independent lanes of multiply-rotate over 8-byte words, so the
 * loop runs near memory speed; the tail and the length are folded in. */
uint64_t nhi_checksum(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *b = p;
	uint64_t l[4] = { seed ^ 0x9e3779b97f4a7c15ULL, seed + 1, seed ^ 0xc2b2ae3d27d4eb4fULL, seed - 1 };
	size_t i = 0;
	uint64_t w, h;

	for (; i + 32 <= n; i += 32) {
		for (int k = 0; k < 4; k++) {
			memcpy(&w, b + i + 8 * k, 8);
			l[k] = (l[k] ^ w) * 0x9fb21c651e98df25ULL;
			l[k] = (l[k] << 29) | (l[k] >> 35);
		}
	}
	h = nhi_mix64(l[0]) ^ nhi_mix64(l[1] + 1) ^ nhi_mix64(l[2] + 2) ^ nhi_mix64(l[3] + 3);
	for (; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return nhi_mix64(h ^ (uint64_t)n);
}

/* nhi_hash.h - the hash functions of the snapshot format (fixed forever
 * for a given snapshot version: writer and reader must agree). */
#ifndef NHI_HASH_H
#define NHI_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t nhi_hash_str(const char *s);      /* FNV-1a 64 */
/* The same hash, and strlen(s) in *len: one pass over the key (inline:
 * the snapshot reader's lookups by name start with it). */
static inline uint64_t nhi_hash_str_len(const char *s, size_t *len)
{
	const char *p = s;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3ULL;
	}
	*len = (size_t)(p - s);
	return h;
}
/* The same hash of len bytes (no NUL needed). */
static inline uint64_t nhi_hash_mem(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
/* splitmix64's finaliser */
static inline uint64_t nhi_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
/* The hash of a uid or gid (inline: every lookup by id starts with it). */
static inline uint64_t nhi_hash_u32(uint32_t v)
{
	return nhi_mix64((uint64_t)v + 0x9e3779b97f4a7c15ULL);
}
/* The hash of a delegation edge: FROM's name (len bytes), TO's uid. */
static inline uint64_t nhi_hash_edge(const char *name, size_t len, uint32_t to)
{
	return nhi_mix64(nhi_hash_mem(name, len) ^ ((uint64_t)to * 0x9e3779b97f4a7c15ULL));
}
/* A fast 64-bit checksum of a byte range (not cryptographic; detects
 * truncation, bit flips and torn files). */
uint64_t nhi_checksum(const void *p, size_t n, uint64_t seed);

#endif

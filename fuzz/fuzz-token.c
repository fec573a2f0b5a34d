/* fuzz-token.c - token parsing (nhictl/util/secret.c): "nhi_" + 12-character
 * id + "_" + 43-character secret + 6-character base62 CRC-32.
 *   - the input itself is parsed (only crashes, and a token accepted has
 *     the shape and gives its id back);
 *   - a token is built from the input with this file's own CRC-32 (a
 *     table-driven one, not secret.c's) and must parse with its id; the
 *     same token with one character changed (position and character from
 *     the input) must not: the checksum catches every single substitution;
 *   - its HMAC (a fixed pepper) verifies, the changed token's does not,
 *     and a MAC of the wrong length is a format error;
 *   - the SSH public key fingerprint parser runs on the input too.
 * Links OpenSSL and libcrypt as nhictl does. */
#include "fuzz.h"
#include "secret.h"

#define ID_LEN SECRET_TOKEN_ID_LEN
#define SECRET_LEN 43
#define BODY_LEN (4 + ID_LEN + 1 + SECRET_LEN)
#define TOK_LEN (BODY_LEN + 6)

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static uint32_t crc_table[256];
static const unsigned char pepper[SECRET_PEPPER_LEN] = "a fixed pepper for the harness..";

static uint32_t crc32_ref(const char *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ (unsigned char)p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char tok[SECRET_TOKEN_MAX], id[ID_LEN + 1], id2[ID_LEN + 1];

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
	/* a token nhictl makes parses, here and with the reference CRC */
	FUZZ_ASSERT(secret_token_new(tok, sizeof(tok), id, sizeof(id)) == 0);
	FUZZ_ASSERT(strlen(tok) == TOK_LEN && secret_token_parse(tok, id2, sizeof(id2)) == 0);
	FUZZ_ASSERT(strcmp(id, id2) == 0);
	return 0;
}

/* The token the input describes: 55 bytes give id and secret. */
static void build(const uint8_t *data, char tok[TOK_LEN + 1])
{
	uint32_t c;

	memcpy(tok, "nhi_", 4);
	for (int i = 0; i < ID_LEN; i++)
		tok[4 + i] = b62[data[i] % 62];
	tok[4 + ID_LEN] = '_';
	for (int i = 0; i < SECRET_LEN; i++)
		tok[4 + ID_LEN + 1 + i] = b62[data[ID_LEN + i] % 62];
	c = crc32_ref(tok, BODY_LEN);
	for (int i = 5; i >= 0; i--) {
		tok[BODY_LEN + i] = b62[c % 62];
		c /= 62;
	}
	tok[TOK_LEN] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), id[ID_LEN + 1], fp[SECRET_FP_MAX];
	char tok[TOK_LEN + 1], bad[TOK_LEN + 1], mac[SECRET_MAC_HEX], mac2[SECRET_MAC_HEX];

	if (in == NULL)
		abort();
	memcpy(in, data, size);
	in[size] = '\0';
	if (secret_token_parse(in, id, sizeof(id)) == 0) {
		FUZZ_ASSERT(strlen(in) == TOK_LEN && memcmp(in, "nhi_", 4) == 0);
		FUZZ_ASSERT(memcmp(id, in + 4, ID_LEN) == 0 && id[ID_LEN] == '\0');
		FUZZ_ASSERT(secret_token_parse(in, id, ID_LEN) == NHI_ERR_RANGE);
	}
	FUZZ_ASSERT(secret_token_parse(in, NULL, 0) == secret_token_parse(in, id, sizeof(id)));
	if (secret_ssh_fingerprint(in, fp, sizeof(fp)) == 0)
		FUZZ_ASSERT(strncmp(fp, "SHA256:", 7) == 0);
	(void)secret_ssh_fingerprint(in, fp, 8);
	free(in);

	if (size < ID_LEN + SECRET_LEN + 2)
		return 0;
	build(data, tok);
	FUZZ_ASSERT(secret_token_parse(tok, id, sizeof(id)) == 0);
	FUZZ_ASSERT(memcmp(id, tok + 4, ID_LEN) == 0);
	/* one character changed, to any other byte but NUL */
	memcpy(bad, tok, sizeof(bad));
	{
		size_t pos = data[ID_LEN + SECRET_LEN] % TOK_LEN;
		unsigned char ch = data[ID_LEN + SECRET_LEN + 1];

		if (ch == 0 || ch == (unsigned char)bad[pos])
			ch = bad[pos] == 'A' ? 'B' : 'A';
		bad[pos] = (char)ch;
	}
	FUZZ_ASSERT(secret_token_parse(bad, id, sizeof(id)) == NHI_ERR_FORMAT);
	FUZZ_ASSERT(secret_token_mac(pepper, sizeof(pepper), tok, mac, sizeof(mac)) == 0);
	FUZZ_ASSERT(strlen(mac) == SECRET_MAC_HEX - 1);
	FUZZ_ASSERT(secret_token_verify(pepper, sizeof(pepper), tok, mac) == 0);
	FUZZ_ASSERT(secret_token_verify(pepper, sizeof(pepper), bad, mac) == NHI_ERR_PERM);
	FUZZ_ASSERT(secret_token_mac(pepper, sizeof(pepper), bad, mac2, sizeof(mac2)) == 0 &&
		    strcmp(mac, mac2) != 0);
	mac[SECRET_MAC_HEX - 2] = '\0';
	FUZZ_ASSERT(secret_token_verify(pepper, sizeof(pepper), tok, mac) == NHI_ERR_FORMAT);
	return 0;
}

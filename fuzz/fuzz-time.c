/* fuzz-time.c - the time and duration parser (lib/nhi_time.c), with
 * round trips: whatever nhi_parse_time accepts lies in [NHI_TIME_MIN,
 * NHI_TIME_MAX] and formats into a string it parses back to the same
 * time; whatever nhi_parse_duration accepts formats into a duration it
 * parses back to the same value.  The first 8 bytes of the input are also
 * taken as a time and a duration to format and parse back, so that the
 * whole range is exercised, not only what the text parses to.  The name
 * and text validators run on the input too. */
#include "fuzz.h"
#include "nhi_time.h"

#define NOW 1750000000
/* nhi_time.c's bound for a duration (200 years): the parser refuses more */
#define DURATION_MAX (200LL * 366 * 86400)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static void time_round_trip(time_t t)
{
	char buf[NHI_TIME_BUFSZ], err[256];
	time_t back = 0;

	nhi_format_time(t, buf);
	FUZZ_ASSERT(nhi_parse_time(buf, NOW, &back, err, sizeof(err)) == 0);
	FUZZ_ASSERT(back == t);
}

static void duration_round_trip(int64_t d)
{
	char buf[64], err[256];
	int64_t back = -1;

	nhi_format_duration(d, buf, sizeof(buf));
	FUZZ_ASSERT(nhi_parse_duration(buf, &back, err, sizeof(err)) == 0);
	FUZZ_ASSERT(back == d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[256], err[256];
	time_t t;
	int64_t d;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	err[0] = '\0';
	if (nhi_parse_time(s, NOW, &t, err, sizeof(err)) == 0) {
		FUZZ_ASSERT(t >= NHI_TIME_MIN && t <= NHI_TIME_MAX);
		time_round_trip(t);
	} else {
		FUZZ_ASSERT(err[0] != '\0');
	}
	err[0] = '\0';
	if (nhi_parse_duration(s, &d, err, sizeof(err)) == 0) {
		FUZZ_ASSERT(d >= 0 && d <= DURATION_MAX);
		duration_round_trip(d);
	} else {
		FUZZ_ASSERT(err[0] != '\0');
	}
	if (size >= 8) {
		int64_t v;

		memcpy(&v, data, 8);
		if (v >= NHI_TIME_MIN && v <= NHI_TIME_MAX)
			time_round_trip((time_t)v);
		else
			time_round_trip((time_t)(NHI_TIME_MIN + (uint64_t)v % NHI_TIME_MAX));
		duration_round_trip((int64_t)((uint64_t)v % (DURATION_MAX + 1)));
	}
	(void)nhi_valid_name(s);
	(void)nhi_valid_host(s);
	(void)nhi_valid_service(s);
	(void)nhi_valid_text(s, 64, 1);
	(void)nhi_valid_text(s, sizeof(s), 0);
	return 0;
}

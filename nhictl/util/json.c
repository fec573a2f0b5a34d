/* json.c - a small streaming JSON emitter with correct string escaping. */
#include <stdio.h>
#include <string.h>
#include "nhi_time.h"
#include "util.h"

void json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->first[0] = 1;
}

/* Before a value: a comma unless first at this depth or after a key. */
static void sep(struct json *j)
{
	if (j->after_key) {
		j->after_key = 0;
		return;
	}
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = 0;
}

static void open_(struct json *j, int c)
{
	sep(j);
	fputc(c, j->f);
	if (j->depth + 1 < (int)sizeof(j->first))
		j->depth++;
	j->first[j->depth] = 1;
}

static void close_(struct json *j, int c)
{
	if (j->depth > 0)
		j->depth--;
	fputc(c, j->f);
}

void json_obj(struct json *j) { open_(j, '{'); }
void json_obj_end(struct json *j) { close_(j, '}'); }
void json_arr(struct json *j) { open_(j, '['); }
void json_arr_end(struct json *j) { close_(j, ']'); }

/* Does c end a run of bytes that go out as they are?  (Escapes, and
 * bytes past ASCII, which are checked for well-formed UTF-8.) */
static int stops_run(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\' || c >= 0x7f;
}

/* A quoted string: the runs that need no escape go out in one write each
 * (JSON output of a big fleet is mostly such runs).  A byte that does not
 * begin a well-formed UTF-8 sequence (stored before nhictl checked text,
 * or from elsewhere) goes out as U+FFFD, so the output is always valid
 * JSON (RFC 8259 wants UTF-8); the data itself is left as it is. */
static void put_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run;
	size_t k;

	fputc('"', f);
	for (;;) {
		for (run = p; *p != '\0' && !stops_run(*p); p++)
			;
		if (p > run)
			fwrite(run, 1, (size_t)(p - run), f);
		if (*p == '\0')
			break;
		if (*p >= 0x80) {
			k = nhi_utf8_len_str((const char *)p);
			if (k == 0)
				fputs("\\ufffd", f);
			else
				fwrite(p, 1, k, f);
			p += k == 0 ? 1 : k;
			continue;
		}
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default: fprintf(f, "\\u%04x", *p); break;
		}
		p++;
	}
	fputc('"', f);
}

void json_key(struct json *j, const char *k)
{
	sep(j);
	put_string(j->f, k);
	fputc(':', j->f);
	j->after_key = 1;
}

void json_str(struct json *j, const char *s)
{
	sep(j);
	if (s == NULL)
		fputs("null", j->f);
	else
		put_string(j->f, s);
}

void json_int(struct json *j, long long v)
{
	sep(j);
	fprintf(j->f, "%lld", v);
}

/* A number with three decimals (durations in seconds). */
void json_num(struct json *j, double v)
{
	sep(j);
	fprintf(j->f, "%.3f", v);
}

void json_bool(struct json *j, int v)
{
	sep(j);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j)
{
	sep(j);
	fputs("null", j->f);
}

void json_time(struct json *j, int64_t t)
{
	char buf[NHI_TIME_BUFSZ];

	if (t == 0)
		json_null(j);
	else
		json_str(j, nhi_format_time((time_t)t, buf));
}

void json_kstr(struct json *j, const char *k, const char *s) { json_key(j, k); json_str(j, s); }
void json_kint(struct json *j, const char *k, long long v) { json_key(j, k); json_int(j, v); }
void json_kbool(struct json *j, const char *k, int v) { json_key(j, k); json_bool(j, v); }
void json_ktime(struct json *j, const char *k, int64_t t) { json_key(j, k); json_time(j, t); }

void json_klist(struct json *j, const char *k, const char *csv)
{
	char item[1024];
	const char *p = csv, *e;
	size_t n;

	json_key(j, k);
	json_arr(j);
	while (p != NULL && *p != '\0') {
		e = strchr(p, ',');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n >= sizeof(item))
			n = sizeof(item) - 1;
		memcpy(item, p, n);
		item[n] = '\0';
		if (n > 0)
			json_str(j, item);
		p = e ? e + 1 : NULL;
	}
	json_arr_end(j);
}

void json_end(struct json *j)
{
	fputc('\n', j->f);
}

/* labels.c - labels on identities and resources (NHI8 environment
 * isolation): "key=value" pairs, stored as one string "k=v,k=v" sorted by
 * key (registry columns identity.labels, resource.labels; the directory's
 * multi-valued nhiLabel).  Keys and values are [a-z0-9_.-], 1 to 63 bytes;
 * at most LABELS_MAX labels.  Pure functions, and their JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

static int word_ok(const char *s, size_t n)
{
	if (n == 0 || n > LABEL_WORD_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

int label_check(const char *op, int allow_remove, char *why, size_t len)
{
	const char *eq = strchr(op, '=');
	size_t n = strlen(op);

	if (eq == NULL && allow_remove && n > 1 && op[n - 1] == '-' && word_ok(op, n - 1))
		return 0;
	if (eq == NULL)
		return nhi_seterr(why, len, NHI_ERR_FORMAT, "bad label '%s': KEY=VALUE%s", op,
				  allow_remove ? " or KEY- to remove" : "");
	if (!word_ok(op, (size_t)(eq - op)))
		return nhi_seterr(why, len, NHI_ERR_FORMAT, "bad label '%s': the key is 1 to %d of "
				  "a-z 0-9 _ . -", op, LABEL_WORD_MAX);
	if (!word_ok(eq + 1, strlen(eq + 1)))
		return nhi_seterr(why, len, NHI_ERR_FORMAT, "bad label '%s': the value is 1 to %d "
				  "of a-z 0-9 _ . -", op, LABEL_WORD_MAX);
	return 0;
}

static size_t op_keylen(const char *op)
{
	const char *eq = strchr(op, '=');

	return eq != NULL ? (size_t)(eq - op) : strlen(op) - 1;  /* KEY=VALUE, KEY- */
}

int label_dup(const char *const *ops, int n, char *why, size_t len)
{
	for (int i = 1; i < n; i++) {
		size_t kl = op_keylen(ops[i]);

		for (int k = 0; k < i; k++)
			if (op_keylen(ops[k]) == kl && strncmp(ops[k], ops[i], kl) == 0) {
				nhi_seterr(why, len, NHI_ERR_FORMAT, "label key '%.*s' given twice "
					   "('%s', '%s'): say once what it becomes", (int)kl, ops[i],
					   ops[k], ops[i]);
				return i;
			}
	}
	return -1;
}

/* The entries of a label string, split in place (at most max). */
static int split(char *s, char **out, int max)
{
	int n = 0;

	for (char *p = s; *p && n < max;) {
		char *c = strchr(p, ',');

		out[n++] = p;
		if (c == NULL)
			break;
		*c = '\0';
		p = c + 1;
	}
	return n;
}

static size_t keylen(const char *kv)
{
	const char *e = strchr(kv, '=');

	return e ? (size_t)(e - kv) : strlen(kv);
}

/* By key alone: "k1=" before "k10=" */
static int by_key(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t kx = keylen(x), ky = keylen(y);
	int c = strncmp(x, y, kx < ky ? kx : ky);

	return c != 0 ? c : (kx > ky) - (kx < ky);
}

int labels_apply(char *labels, size_t len, const char *const *ops, int nops, char *why,
		 size_t wlen)
{
	char buf[LABELS_BUFSZ], *e[LABELS_MAX + 2];
	int n, r, i, k;
	size_t used = 0;

	if (strlen(labels) >= sizeof(buf))
		return nhi_seterr(why, wlen, NHI_ERR_RANGE, "labels too long");
	memcpy(buf, labels, strlen(labels) + 1);
	n = split(buf, e, LABELS_MAX + 1);
	for (i = 0; i < nops; i++) {
		const char *op = ops[i];
		size_t kl;
		int rm;

		if ((r = label_check(op, 1, why, wlen)) < 0)
			return r;
		rm = strchr(op, '=') == NULL;
		kl = rm ? strlen(op) - 1 : keylen(op);
		for (k = 0; k < n; k++)
			if (keylen(e[k]) == kl && strncmp(e[k], op, kl) == 0)
				break;
		if (rm) {
			if (k < n)
				e[k] = e[--n];
			continue;
		}
		if (k < n) {
			e[k] = (char *)op;
			continue;
		}
		if (n >= LABELS_MAX)
			return nhi_seterr(why, wlen, NHI_ERR_RANGE, "too many labels (at most %d)",
					  LABELS_MAX);
		e[n++] = (char *)op;
	}
	qsort(e, (size_t)n, sizeof(e[0]), by_key);
	{
		char out[LABELS_BUFSZ];

		out[0] = '\0';
		for (k = 0; k < n; k++) {
			int w = snprintf(out + used, sizeof(out) - used, "%s%s", k ? "," : "", e[k]);

			if (w < 0 || (size_t)w >= sizeof(out) - used)
				return nhi_seterr(why, wlen, NHI_ERR_RANGE, "labels too long");
			used += (size_t)w;
		}
		if (used >= len)
			return nhi_seterr(why, wlen, NHI_ERR_RANGE, "labels too long");
		memcpy(labels, out, used + 1);
	}
	return 0;
}

int labels_split(char *s, const char **out, int max)
{
	char *v[LABELS_MAX + 1];
	int n = split(s, v, max < LABELS_MAX + 1 ? max : LABELS_MAX + 1);

	for (int i = 0; i < n; i++)
		out[i] = v[i];
	return n;
}

const char *labels_get(const char *labels, const char *key, char *val, size_t len)
{
	size_t kl = strlen(key);

	for (const char *p = labels; p && *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		if (n > kl && p[kl] == '=' && strncmp(p, key, kl) == 0) {
			snprintf(val, len, "%.*s", (int)(n - kl - 1), p + kl + 1);
			return val;
		}
		p = c ? c + 1 : NULL;
	}
	return NULL;
}

int labels_match(const char *labels, const char *const *want, int n)
{
	char v[LABEL_WORD_MAX + 1];

	for (int i = 0; i < n; i++) {
		const char *eq = strchr(want[i], '=');
		char key[LABEL_WORD_MAX + 1];

		if (eq == NULL || (size_t)(eq - want[i]) > LABEL_WORD_MAX)
			return 0;
		snprintf(key, sizeof(key), "%.*s", (int)(eq - want[i]), want[i]);
		if (labels_get(labels, key, v, sizeof(v)) == NULL || strcmp(v, eq + 1) != 0)
			return 0;
	}
	return 1;
}

void json_klabels(struct json *j, const char *k, const char *labels)
{
	json_key(j, k);
	json_obj(j);
	for (const char *p = labels; p && *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		char key[LABEL_WORD_MAX + 1], val[LABEL_WORD_MAX + 1];

		if (eq != NULL) {
			snprintf(key, sizeof(key), "%.*s", (int)(eq - p), p);
			snprintf(val, sizeof(val), "%.*s", (int)(n - (size_t)(eq - p) - 1), eq + 1);
			json_kstr(j, key, val);
		}
		p = c ? c + 1 : NULL;
	}
	json_obj_end(j);
}

/* applyfile.h - the file of `nhictl apply` (applyfile.c): a YAML mapping
 * (a JSON document too: libyaml reads JSON's flow style) with the lists
 * identities, resources, grants and delegations, read into plain strings
 * with the line and column of each value.
 *
 * The parser checks the shape only: YAML syntax, unknown keys, a list
 * where a string belongs and the like, duplicate keys, names given twice.
 * The values (names, times, actions, labels, owners) are the verb's to
 * check with the validators the single verbs use (cmd_apply.c).  Every
 * problem goes to the error callback with its position; parsing goes on
 * after one, so that a file shows all of its errors at once.  No I/O,
 * no printing.
 */
#ifndef NHICTL_APPLYFILE_H
#define NHICTL_APPLYFILE_H

#include <stddef.h>

struct af_pos {
	int line, col;                 /* 1-based; 0: not known */
};

/* A scalar: v NULL when the key is not given. */
struct af_str {
	char *v;
	struct af_pos pos;
};

/* A list of scalars (labels: "KEY=VALUE" each). */
struct af_list {
	char **v;
	struct af_pos *pos;
	int n, given;
	struct af_pos at;
};

struct af_ident {
	struct af_pos at;
	struct af_str name, kind, owner, expires, purpose, review_interval;
	struct af_list hosts, services, labels;
};

struct af_resource {
	struct af_pos at;
	struct af_str name, kind, uri, owner, data_class, external, purpose;
	struct af_list labels;
};

/* A grant (from = identity, to = resource) or a delegation (from -> to):
 * actions as "read,write" (a list is joined). */
struct af_edge {
	struct af_pos at;
	struct af_str from, to, actions, expires, reason;
	struct af_list scopes;
};

struct applyfile {
	struct af_ident *idents;
	struct af_resource *resources;
	struct af_edge *grants, *delegations;
	int n_idents, n_resources, n_grants, n_delegations;
};

/* Called for each problem: where, and what (one line, no position). */
typedef void (*af_error_fn)(void *ctx, int line, int col, const char *what);

/* Parse len bytes of buf into f (zeroed here; applyfile_free it even on
 * errors).  Returns the number of problems reported (0: f is complete),
 * or -1 when out of memory. */
int applyfile_parse(const char *buf, size_t len, struct applyfile *f, af_error_fn err, void *ctx);
void applyfile_free(struct applyfile *f);

#endif

/* finding.h - what `audit` and `discover` report: one catalogue of
 * stable finding codes, each with its severity and the OWASP Non-Human
 * Identities Top 10 (2025) risk it belongs to, and one way to print them.
 *
 * A finding is (code, subject, since, evidence, remedy):
 *   code     stable, "NHI<risk>-<WORD>" from finding_kinds[] (never
 *            renamed: monitoring and CI gates match on it)
 *   subject  what it is about: an identity, resource, account or file
 *   since    when it began (0: not known or not a point in time)
 *   evidence one line: what was seen, where
 *   remedy   one line: the command that fixes it, or the file to fix
 * The kinds table owns its strings; finding_add() copies nothing it keeps.
 */
#ifndef NHICTL_FINDING_H
#define NHICTL_FINDING_H

#include "cmd.h"

enum finding_sev { SEV_INFO = 0, SEV_LOW = 1, SEV_MEDIUM = 2, SEV_HIGH = 3 };

struct finding_kind {
	const char *code;       /* "NHI1-ORPHANED" */
	const char *slug;       /* the short name of JSON's "finding" ("orphaned") */
	const char *risk;       /* "NHI1" .. "NHI10" */
	enum finding_sev sev;
	const char *title;      /* what it means, one line (the man page's list) */
};

/* The catalogue, ended by a NULL code. */
extern const struct finding_kind finding_kinds[];
/* The kind of a code, NULL if it is not in the catalogue. */
const struct finding_kind *finding_kind(const char *code);
/* "info", "low", "medium", "high" */
const char *finding_sev_name(enum finding_sev s);
/* A severity by name: 0 and *out, or -1 (not one of the four). */
int finding_sev_parse(const char *s, enum finding_sev *out);

/* One finding handed to a collector (report keeps them to lay them out). */
typedef void (*finding_fn)(void *arg, const struct finding_kind *k, const char *subject,
			   int64_t since, const char *evidence, const char *remedy);

/* Where findings go: to collect(arg, ...) when set, else JSON objects
 * into j's open array (j != NULL), else text lines on stdout.  Counts
 * what was reported. */
struct findings {
	struct json *j;
	finding_fn collect;
	void *arg;
	long n;                 /* findings reported */
	long by_sev[4];
	int max_sev;            /* highest severity reported, -1: none */
};

void findings_init(struct findings *f, struct json *j);
/* Report one finding (code must be in the catalogue: an unknown code is a
 * bug and is reported as such on stderr, not printed). */
void finding_add(struct nhictl *x, struct findings *f, const char *code, const char *subject,
		 int64_t since, const char *remedy, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* --fail-on: 3 (EXIT_FINDINGS) when a finding at or above 'at' was
 * reported, else 0; at < 0 (no --fail-on): 0. */
int findings_exit(const struct findings *f, int at);

#endif

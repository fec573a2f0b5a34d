/* cmd_report.c - report --html FILE: the registry as one self-contained
 * HTML page for an auditor (inline CSS and SVG, no script, nothing
 * fetched): a summary, the inventory, the expiry and review timeline, the
 * findings of audit's checks (run read-only: audit_checks_run, nothing is
 * ingested, orphaned or suspended) by OWASP NHI risk, the credentials by
 * age, and the delegation graph drawn by Graphviz from graph's DOT (or,
 * for a fleet too big to draw, each agent's chains as `chain` prints
 * them).  The counts sit in data-count attributes for machines. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cmd.h"
#include "chain.h"
#include "audit_checks.h"

#define REPORT_GRAPH_MAX 250     /* nodes drawn at most by default (--graph-max) */
#define REPORT_DOT_TIMEOUT 30    /* seconds dot may take */
#define REPORT_WEEKS 8           /* the timeline's default span */
#define DAY 86400

struct rfinding {
	const struct finding_kind *k;
	char *subject, *evidence, *remedy;
	int64_t since;
};

struct rcred {
	char id[CRED_ID_MAX], kind[16], state[16], holder[64];
	int64_t created, not_after;
};

struct report {
	struct nhictl *x;
	FILE *o;
	struct ident *id;
	size_t n_id;
	struct rcred *cred;
	size_t n_cred;
	struct rfinding *fd;
	size_t n_fd, cap_fd;
	int failed;              /* out of memory while collecting */
	int weeks, graph_max;
	const char *dot;
};

/* ---- HTML ---------------------------------------------------------------- */

/* Text or an attribute value: & < > " ' escaped, control characters '?',
 * a byte that begins no well-formed UTF-8 sequence U+FFFD (the page says
 * it is UTF-8). */
static void h(FILE *o, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		size_t k;

		if (c >= 0x80) {
			if ((k = nhi_utf8_len_str(s)) == 0)
				fputs("&#xfffd;", o);
			else
				fwrite(s, 1, k, o);
			s += k == 0 ? 0 : k - 1;
			continue;
		}
		switch (c) {
		case '&': fputs("&amp;", o); break;
		case '<': fputs("&lt;", o); break;
		case '>': fputs("&gt;", o); break;
		case '"': fputs("&quot;", o); break;
		case '\'': fputs("&#39;", o); break;
		default: fputc((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : c, o);
		}
	}
}

static void h_time(FILE *o, int64_t t, const char *none)
{
	char b[NHI_TIME_BUFSZ];

	if (t == 0)
		fputs(none, o);
	else
		h(o, nhi_format_time((time_t)t, b));
}

/* <td>TEXT</td> */
static void td(FILE *o, const char *s)
{
	fputs("<td>", o);
	h(o, s);
	fputs("</td>", o);
}

/* <td data-count="KEY">N</td> */
static void count_td(FILE *o, const char *key, long n)
{
	fputs("<td class=\"n\" data-count=\"", o);
	h(o, key);
	fprintf(o, "\">%ld</td>", n);
}

/* <tr><td>NAME</td><td data-count="PREFIX-NAME">N</td></tr> (cls: the
 * name cell's class, or NULL) */
static void count_row(FILE *o, const char *prefix, const char *name, const char *cls, long n)
{
	char key[96];

	snprintf(key, sizeof(key), "%s-%s", prefix, name);
	fputs(cls ? "<tr><td class=\"" : "<tr>", o);
	if (cls) {
		h(o, cls);
		fputs("\">", o);
		h(o, name);
		fputs("</td>", o);
	} else {
		td(o, name);
	}
	count_td(o, key, n);
	fputs("</tr>\n", o);
}

static const char css[] =
	"body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
	"margin:1.5em auto;max-width:1200px;color:#1a1a1a;padding:0 1em}"
	"h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #ccd;padding-bottom:.2em;"
	"margin-top:1.8em}h3{margin-bottom:.3em}"
	"table{border-collapse:collapse;margin:.5em 0 1em}"
	"th,td{border:1px solid #ccd;padding:.25em .6em;text-align:left;vertical-align:top;font-size:.92em}"
	"th{background:#eef}td.n{text-align:right;font-variant-numeric:tabular-nums}"
	".cards{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}.cards table{min-width:14em}"
	".sev-high{color:#fff;background:#b00020}.sev-medium{background:#f5a623}"
	".sev-low{background:#fff3b0}.sev-info{background:#dde}"
	".st-suspended,.st-orphaned{background:#fde2c0}.st-retired{color:#888}.st-expired{background:#f8c8c8}"
	".muted{color:#666}.warn{background:#fff3b0;border:1px solid #e0c000;padding:.6em}"
	"pre{background:#f6f6fa;padding:.6em;overflow-x:auto}"
	".graph svg{max-width:100%;height:auto}"
	"code{font-size:.92em}";

/* ---- collecting ---------------------------------------------------------- */

static char *dup_s(struct report *rp, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		rp->failed = 1;
	return d;
}

static void collect(void *arg, const struct finding_kind *k, const char *subject, int64_t since,
		    const char *evidence, const char *remedy)
{
	struct report *rp = arg;
	struct rfinding *f;

	if (rp->n_fd == rp->cap_fd) {
		size_t cap = rp->cap_fd ? rp->cap_fd * 2 : 64;
		struct rfinding *v = realloc(rp->fd, cap * sizeof(*v));

		if (v == NULL) {
			rp->failed = 1;
			return;
		}
		rp->fd = v;
		rp->cap_fd = cap;
	}
	f = &rp->fd[rp->n_fd++];
	f->k = k;
	f->since = since;
	f->subject = dup_s(rp, subject);
	f->evidence = dup_s(rp, evidence);
	f->remedy = dup_s(rp, remedy);
}

static int load_idents(struct report *rp)
{
	struct nhictl *x = rp->x;
	sqlite3_stmt *st = reg_prep(x, "SELECT " IDENT_COLS " FROM identity ORDER BY name", "");
	size_t cap = 0;
	int r;

	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (rp->n_id == cap) {
			struct ident *v;

			cap = cap ? cap * 2 : 32;
			v = realloc(rp->id, cap * sizeof(*v));
			if (v == NULL) {
				sqlite3_finalize(st);
				return nerr(x, NHI_ERR_NOMEM, "out of memory");
			}
			rp->id = v;
		}
		if (ident_from_row(x, st, &rp->id[rp->n_id]) < 0) {
			sqlite3_finalize(st);
			return NHI_ERR_DB;
		}
		rp->n_id++;
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

static int load_creds(struct report *rp)
{
	struct nhictl *x = rp->x;
	sqlite3_stmt *st = reg_prep(x, "SELECT " CRED_COLS ", i.name FROM credential c "
				    "JOIN identity i ON i.id = c.identity_id ORDER BY c.created, c.cred_id", "");
	struct cred *c = malloc(sizeof(*c));
	size_t cap = 0;
	int r = SQLITE_DONE;

	if (st == NULL || c == NULL) {
		sqlite3_finalize(st);
		free(c);
		return st == NULL ? NHI_ERR_DB : nerr(x, NHI_ERR_NOMEM, "out of memory");
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct rcred *k;

		if (rp->n_cred == cap) {
			struct rcred *v;

			cap = cap ? cap * 2 : 32;
			v = realloc(rp->cred, cap * sizeof(*v));
			if (v == NULL) {
				r = nerr(x, NHI_ERR_NOMEM, "out of memory");
				break;
			}
			rp->cred = v;
		}
		cred_from_row(st, c);
		k = &rp->cred[rp->n_cred++];
		snprintf(k->id, sizeof(k->id), "%s", c->id);
		snprintf(k->kind, sizeof(k->kind), "%s", c->kind);
		snprintf(k->state, sizeof(k->state), "%s", cred_state(c, x->now));
		col_cpy(k->holder, sizeof(k->holder), st, 17);
		k->created = c->created;
		k->not_after = c->not_after;
	}
	sqlite3_finalize(st);
	free(c);
	if (r < 0)
		return r;
	return r == SQLITE_DONE ? 0 : reg_dberr(x);
}

static int live_cred(const struct rcred *k)
{
	return strcmp(k->state, "active") == 0 || strcmp(k->state, "grace") == 0;
}

/* ---- the sections -------------------------------------------------------- */

static const char *const states[] = { "active", "suspended", "orphaned", "retired" };

static int risk_num(const char *risk)
{
	return atoi(risk + 3);
}

static void summary(struct report *rp)
{
	FILE *o = rp->o;
	const char *kinds[8];
	long n_kind[8] = { 0 }, n, by_sev[4] = { 0 };
	int nk = 0, i;
	size_t k;
	static const char *const cstates[] = { "active", "grace", "expired", "revoked" };

	fputs("<h2 id=\"summary\">Summary</h2>\n<div class=\"cards\">\n"
	      "<table><tr><th>Identities by state</th><th>n</th></tr>\n", o);
	for (i = 0; i < 4; i++) {
		for (n = 0, k = 0; k < rp->n_id; k++)
			n += strcmp(rp->id[k].state, states[i]) == 0;
		count_row(o, "identities", states[i], NULL, n);
	}
	for (n = 0, k = 0; k < rp->n_id; k++)
		n += strcmp(rp->id[k].state, "retired") != 0;
	fputs("<tr><th>registered (not retired)</th>", o);
	count_td(o, "identities-total", n);
	fputs("</tr>\n", o);
	for (n = 0, k = 0; k < rp->n_id; k++)
		n += strcmp(rp->id[k].state, "retired") != 0 && rp->id[k].expires != 0 &&
		     rp->id[k].expires <= (int64_t)rp->x->now;
	fputs("<tr><td>expired, not retired</td>", o);
	count_td(o, "identities-expired", n);
	fputs("</tr></table>\n", o);

	/* by kind (not retired) */
	for (k = 0; k < rp->n_id; k++) {
		if (strcmp(rp->id[k].state, "retired") == 0)
			continue;
		for (i = 0; i < nk && strcmp(kinds[i], rp->id[k].kind) != 0; i++)
			;
		if (i == nk && nk < 8)
			kinds[nk++] = rp->id[k].kind;
		if (i < nk)
			n_kind[i]++;
	}
	fputs("<table><tr><th>Identities by kind</th><th>n</th></tr>\n", o);
	for (i = 0; i < nk; i++)
		count_row(o, "identities-kind", kinds[i], NULL, n_kind[i]);
	fputs("</table>\n<table><tr><th>Credentials</th><th>n</th></tr>\n", o);
	for (i = 0; i < 4; i++) {
		for (n = 0, k = 0; k < rp->n_cred; k++)
			n += strcmp(rp->cred[k].state, cstates[i]) == 0;
		count_row(o, "credentials", cstates[i], NULL, n);
	}
	fputs("<tr><th>all</th>", o);
	count_td(o, "credentials-total", (long)rp->n_cred);
	fputs("</tr></table>\n<table><tr><th>Findings by severity</th><th>n</th></tr>\n", o);
	for (k = 0; k < rp->n_fd; k++)
		by_sev[rp->fd[k].k->sev]++;
	for (i = 3; i >= 0; i--) {
		const char *sv = finding_sev_name((enum finding_sev)i);
		char cls[16];

		snprintf(cls, sizeof(cls), "sev-%s", sv);
		count_row(o, "findings", sv, cls, by_sev[i]);
	}
	fputs("<tr><th>all</th>", o);
	count_td(o, "findings-total", (long)rp->n_fd);
	fputs("</tr></table>\n</div>\n", o);
}

static void inventory(struct report *rp)
{
	FILE *o = rp->o;
	size_t k;
	long retired = 0;

	fputs("<h2 id=\"inventory\">Inventory</h2>\n<table id=\"inventory-table\"><tr><th>name</th>"
	      "<th>kind</th><th>owner</th><th>expires</th><th>last use</th><th>state</th>"
	      "<th>purpose</th><th>labels</th></tr>\n", o);
	for (k = 0; k < rp->n_id; k++) {
		const struct ident *d = &rp->id[k];
		int expired = d->expires != 0 && d->expires <= (int64_t)rp->x->now;

		if (strcmp(d->state, "retired") == 0) {
			retired++;
			continue;
		}
		fputs("<tr data-identity=\"", o);
		h(o, d->name);
		fputs("\">", o);
		td(o, d->name);
		td(o, d->kind);
		td(o, d->owner);
		fprintf(o, "<td%s>", expired ? " class=\"st-expired\"" : "");
		h_time(o, d->expires, "never");
		fputs("</td><td>", o);
		h_time(o, d->last_used, "<span class=\"muted\">never</span>");
		fprintf(o, "</td><td class=\"st-%s\">", expired ? "expired" : d->state);
		h(o, d->state);
		if (expired)
			fputs(" (expired)", o);
		fputs("</td>", o);
		td(o, d->purpose);
		td(o, d->labels);
		fputs("</tr>\n", o);
	}
	fprintf(o, "</table>\n<p class=\"muted\">Retired identities are not listed (%ld).</p>\n",
		retired);
}

/* One dated thing of the timeline. */
struct tev {
	int64_t t;
	const char *what;        /* "expires", "review due", "credential expires" */
	const char *name;
	const char *cred;        /* credential id or NULL */
};

static int tev_cmp(const void *a, const void *b)
{
	const struct tev *p = a, *q = b;

	return p->t < q->t ? -1 : p->t > q->t;
}

static void tev_row(FILE *o, const struct tev *e)
{
	fputs("<tr><td>", o);
	h_time(o, e->t, "");
	fputs("</td><td>", o);
	h(o, e->what);
	fputs("</td><td>", o);
	h(o, e->name);
	if (e->cred) {
		fputs(" <code>", o);
		h(o, e->cred);
		fputs("</code>", o);
	}
	fputs("</td></tr>\n", o);
}

static int timeline(struct report *rp)
{
	FILE *o = rp->o;
	int64_t now = (int64_t)rp->x->now, end = now + (int64_t)rp->weeks * 7 * DAY;
	struct tev *ev = malloc(sizeof(*ev) * (2 * rp->n_id + rp->n_cred + 1));
	long *per = calloc((size_t)rp->weeks, sizeof(long) * 3), max = 1, n_over = 0;
	size_t n = 0, k;
	int w, bw = 60, H = 120;

	if (ev == NULL || per == NULL) {
		free(ev);
		free(per);
		return nerr(rp->x, NHI_ERR_NOMEM, "out of memory");
	}
	for (k = 0; k < rp->n_id; k++) {
		const struct ident *d = &rp->id[k];

		if (strcmp(d->state, "retired") == 0)
			continue;
		if (d->expires != 0 && d->expires <= end)
			ev[n++] = (struct tev){ d->expires, "expires", d->name, NULL };
		if (d->review_due != 0 && d->review_due <= end)
			ev[n++] = (struct tev){ d->review_due, "review due", d->name, NULL };
	}
	for (k = 0; k < rp->n_cred; k++)
		if (live_cred(&rp->cred[k]) && rp->cred[k].not_after != 0 && rp->cred[k].not_after <= end)
			ev[n++] = (struct tev){ rp->cred[k].not_after, "credential expires",
						rp->cred[k].holder, rp->cred[k].id };
	qsort(ev, n, sizeof(*ev), tev_cmp);
	for (k = 0; k < n; k++) {
		int kind = strcmp(ev[k].what, "expires") == 0 ? 0 : strcmp(ev[k].what, "review due") == 0 ? 1 : 2;

		if (ev[k].t <= now) {
			n_over++;
			continue;
		}
		w = (int)((ev[k].t - now - 1) / (7 * DAY));
		per[w * 3 + kind]++;
		if (per[w * 3] + per[w * 3 + 1] + per[w * 3 + 2] > max)
			max = per[w * 3] + per[w * 3 + 1] + per[w * 3 + 2];
	}
	fprintf(o, "<h2 id=\"timeline\">Expiry and review timeline</h2>\n"
		"<p>What expires or is due for review in the next %d weeks (identities not retired, "
		"live credentials).</p>\n", rp->weeks);
	/* the bar chart: one stacked bar a week */
	fprintf(o, "<svg role=\"img\" aria-label=\"due per week\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\">\n", rp->weeks * bw + 20, H + 40, rp->weeks * bw + 20, H + 40);
	for (w = 0; w < rp->weeks; w++) {
		static const char *const col[] = { "#b00020", "#3060c0", "#f5a623" };
		static const char *const lab[] = { "identities expire", "reviews due", "credentials expire" };
		int y = H + 10, i;

		for (i = 0; i < 3; i++) {
			int hh = (int)(per[w * 3 + i] * H / max);

			if (per[w * 3 + i] == 0)
				continue;
			y -= hh;
			fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">"
				"<title>week %d: %ld %s</title></rect>\n", 10 + w * bw + 8, y, bw - 16, hh,
				col[i], w + 1, per[w * 3 + i], lab[i]);
		}
		fprintf(o, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">wk %d</text>\n",
			10 + w * bw + bw / 2, H + 26, w + 1);
		fprintf(o, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%ld</text>\n",
			10 + w * bw + bw / 2, y - 3, per[w * 3] + per[w * 3 + 1] + per[w * 3 + 2]);
	}
	fputs("</svg>\n<p><span style=\"color:#b00020\">&#9632;</span> identity expires "
	      "<span style=\"color:#3060c0\">&#9632;</span> review due "
	      "<span style=\"color:#f5a623\">&#9632;</span> credential expires</p>\n", o);
	fputs("<table><tr><th>week</th><th>from</th><th>identities expire</th><th>reviews due</th>"
	      "<th>credentials expire</th></tr>\n", o);
	for (w = 0; w < rp->weeks; w++) {
		char key[48];

		fprintf(o, "<tr><td>%d</td><td>", w + 1);
		h_time(o, now + (int64_t)w * 7 * DAY, "");
		fputs("</td>", o);
		snprintf(key, sizeof(key), "timeline-week%d-expires", w + 1);
		count_td(o, key, per[w * 3]);
		snprintf(key, sizeof(key), "timeline-week%d-review", w + 1);
		count_td(o, key, per[w * 3 + 1]);
		snprintf(key, sizeof(key), "timeline-week%d-credentials", w + 1);
		count_td(o, key, per[w * 3 + 2]);
		fputs("</tr>\n", o);
	}
	fputs("</table>\n<h3>Overdue</h3>\n", o);
	fputs("<table id=\"overdue\"><tr><th>since</th><th>what</th><th>name</th></tr>\n", o);
	for (k = 0; k < n; k++)
		if (ev[k].t <= now)
			tev_row(o, &ev[k]);
	fputs("</table>\n<p>Overdue: ", o);
	fputs("<span data-count=\"timeline-overdue\">", o);
	fprintf(o, "%ld</span></p>\n<h3>Coming</h3>\n", n_over);
	fputs("<table id=\"coming\"><tr><th>when</th><th>what</th><th>name</th></tr>\n", o);
	for (k = 0; k < n; k++)
		if (ev[k].t > now)
			tev_row(o, &ev[k]);
	fputs("</table>\n", o);
	free(ev);
	free(per);
	return 0;
}

static const char *const risk_titles[] = {
	"", "Improper Offboarding", "Secret Leakage", "Vulnerable Third-Party NHI",
	"Insecure Authentication", "Overprivileged NHI", "Insecure Cloud Deployment Configurations",
	"Long-Lived Secrets", "Environment Isolation", "NHI Reuse", "Human Use of NHI",
};

static int fd_cmp(const void *a, const void *b)
{
	const struct rfinding *p = a, *q = b;
	int r = risk_num(p->k->risk) - risk_num(q->k->risk);

	if (r == 0)
		r = (int)q->k->sev - (int)p->k->sev;
	if (r == 0)
		r = strcmp(p->k->code, q->k->code);
	if (r == 0)
		r = strcmp(p->subject, q->subject);
	return r;
}

static void findings_html(struct report *rp)
{
	FILE *o = rp->o;
	const struct finding_kind *k;
	size_t i;
	int risk;

	if (rp->n_fd > 1)
		qsort(rp->fd, rp->n_fd, sizeof(*rp->fd), fd_cmp);
	fputs("<h2 id=\"findings\">Findings by OWASP NHI risk</h2>\n"
	      "<p>The checks of <code>nhictl audit</code>, run read-only (no usage ingested, no "
	      "owner re-checked, nothing suspended).</p>\n"
	      "<table><tr><th>code</th><th>risk</th><th>severity</th><th>n</th><th>meaning</th></tr>\n",
	      o);
	for (k = finding_kinds; k->code != NULL; k++) {
		long n = 0;
		char key[64];

		for (i = 0; i < rp->n_fd; i++)
			n += rp->fd[i].k == k;
		if (n == 0)
			continue;
		snprintf(key, sizeof(key), "finding-%s", k->code);
		fprintf(o, "<tr><td><code>%s</code></td><td>%s</td><td class=\"sev-%s\">%s</td>", k->code,
			k->risk, finding_sev_name(k->sev), finding_sev_name(k->sev));
		count_td(o, key, n);
		fputs("<td>", o);
		h(o, k->title);
		fputs("</td></tr>\n", o);
	}
	fputs("</table>\n", o);
	if (rp->n_fd == 0)
		fputs("<p>No findings.</p>\n", o);
	for (risk = 1, i = 0; risk <= 10; risk++) {
		size_t start = i;
		char key[32];

		while (i < rp->n_fd && risk_num(rp->fd[i].k->risk) == risk)
			i++;
		if (i == start)
			continue;
		snprintf(key, sizeof(key), "risk-NHI%d", risk);
		fprintf(o, "<h3 id=\"NHI%d\">NHI%d: %s (<span data-count=\"%s\">%zu</span>)</h3>\n", risk,
			risk, risk_titles[risk], key, i - start);
		fputs("<table><tr><th>severity</th><th>code</th><th>subject</th><th>since</th>"
		      "<th>evidence</th><th>remedy</th></tr>\n", o);
		for (; start < i; start++) {
			const struct rfinding *f = &rp->fd[start];
			const char *s = finding_sev_name(f->k->sev);

			fprintf(o, "<tr><td class=\"sev-%s\">%s</td><td><code>%s</code></td><td>", s, s,
				f->k->code);
			h(o, f->subject);
			fputs("</td><td>", o);
			h_time(o, f->since, "");
			fputs("</td><td>", o);
			h(o, f->evidence);
			fputs("</td><td><code>", o);
			h(o, f->remedy);
			fputs("</code></td></tr>\n", o);
		}
		fputs("</table>\n", o);
	}
}

static void cred_ages(struct report *rp)
{
	static const char *const key[] = { "cred-age-lt30d", "cred-age-30-90d", "cred-age-90-365d",
					   "cred-age-gt1y" };
	static const char *const lab[] = { "&lt; 30 days", "30 to 90 days", "90 days to a year",
					   "more than a year" };
	static const int64_t lim[] = { 30 * DAY, 90 * DAY, 365 * DAY };
	FILE *o = rp->o;
	long n[4] = { 0 }, max = 1;
	size_t k;
	int b;

	for (k = 0; k < rp->n_cred; k++) {
		int64_t age = (int64_t)rp->x->now - rp->cred[k].created;

		if (!live_cred(&rp->cred[k]))
			continue;
		for (b = 0; b < 3 && age >= lim[b]; b++)
			;
		n[b]++;
	}
	for (b = 0; b < 4; b++)
		if (n[b] > max)
			max = n[b];
	fputs("<h2 id=\"credentials\">Credentials by age</h2>\n<p>Live credentials (active or in "
	      "their grace), by the time since they were issued.</p>\n"
	      "<table><tr><th>age</th><th>n</th><th></th></tr>\n", o);
	for (b = 0; b < 4; b++) {
		fprintf(o, "<tr><td>%s</td>", lab[b]);
		count_td(o, key[b], n[b]);
		fprintf(o, "<td><svg width=\"300\" height=\"14\"><rect width=\"%ld\" height=\"14\" "
			"fill=\"%s\"/></svg></td></tr>\n", n[b] * 300 / max,
			b == 3 ? "#b00020" : b == 2 ? "#f5a623" : "#3060c0");
	}
	fputs("</table>\n<table><tr><th>credential</th><th>holder</th><th>kind</th><th>state</th>"
	      "<th>issued</th><th>expires</th></tr>\n", o);
	for (k = 0; k < rp->n_cred; k++) {
		const struct rcred *c = &rp->cred[k];

		if (!live_cred(c))
			continue;
		fputs("<tr><td><code>", o);
		h(o, c->id);
		fputs("</code></td>", o);
		td(o, c->holder);
		td(o, c->kind);
		td(o, c->state);
		fputs("<td>", o);
		h_time(o, c->created, "");
		fputs("</td><td>", o);
		h_time(o, c->not_after, "never");
		fputs("</td></tr>\n", o);
	}
	fputs("</table>\n", o);
}

/* ---- the graph: dot -Tsvg ------------------------------------------------- */

/* Run dot -Tsvg on in (no shell), its SVG into *svg (malloc'd), within
 * REPORT_DOT_TIMEOUT.  0, or -1 with why. */
static int run_dot(const char *dot, const char *in, size_t in_len, char **svg, char *why, size_t wlen)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, st = 0, r = -1;
	size_t off = 0, len = 0, cap = 0;
	char *buf = NULL;
	time_t deadline = time(NULL) + REPORT_DOT_TIMEOUT;
	void (*old)(int);
	pid_t pid;

	*svg = NULL;
	if (access(dot, X_OK) < 0) {
		snprintf(why, wlen, "%s: %s", dot, strerror(errno));
		return -1;
	}
	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0) {
		snprintf(why, wlen, "pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(why, wlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (dup2(pin[0], 0) < 0 || dup2(pout[1], 1) < 0 || (null >= 0 && dup2(null, 2) < 0))
			_exit(127);
		execl(dot, "dot", "-Tsvg", (char *)NULL);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	pin[0] = pout[1] = -1;
	fcntl(pin[1], F_SETFL, O_NONBLOCK);
	old = signal(SIGPIPE, SIG_IGN);
	for (;;) {
		struct pollfd p[2] = { { pout[0], POLLIN, 0 }, { pin[1], POLLOUT, 0 } };
		int np = pin[1] >= 0 ? 2 : 1, left = (int)(deadline - time(NULL));
		ssize_t n;

		if (left <= 0) {
			snprintf(why, wlen, "%s took longer than %d s", dot, REPORT_DOT_TIMEOUT);
			kill(pid, SIGKILL);
			break;
		}
		if (poll(p, (nfds_t)np, left * 1000) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(why, wlen, "poll: %s", strerror(errno));
			kill(pid, SIGKILL);
			break;
		}
		if (np == 2 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = write(pin[1], in + off, in_len - off);
			if (n > 0)
				off += (size_t)n;
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				off = in_len;   /* dot went away: its status says why */
			if (off == in_len) {
				close(pin[1]);
				pin[1] = -1;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (len + 65536 > cap) {
				char *nb = realloc(buf, cap = cap ? cap * 2 : 131072);

				if (nb == NULL) {
					snprintf(why, wlen, "out of memory");
					kill(pid, SIGKILL);
					break;
				}
				buf = nb;
			}
			n = read(pout[0], buf + len, cap - len - 1);
			if (n == 0) {
				r = 0;
				break;
			}
			if (n < 0 && errno != EINTR && errno != EAGAIN) {
				snprintf(why, wlen, "read: %s", strerror(errno));
				kill(pid, SIGKILL);
				break;
			}
			if (n > 0)
				len += (size_t)n;
		}
	}
	signal(SIGPIPE, old);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
		r = -1;
		if (WIFEXITED(st))
			snprintf(why, wlen, "%s exited with status %d", dot, WEXITSTATUS(st));
		else
			snprintf(why, wlen, "%s was killed by signal %d", dot, WTERMSIG(st));
	}
	if (r == 0) {
		buf[len] = '\0';
		*svg = buf;
		buf = NULL;
	}
out:
	if (pin[0] >= 0) close(pin[0]);
	if (pin[1] >= 0) close(pin[1]);
	if (pout[0] >= 0) close(pout[0]);
	if (pout[1] >= 0) close(pout[1]);
	free(buf);
	return r;
}

/* each agent's chains, as `nhictl chain` prints them */
static int chains(struct report *rp, int n_nodes)
{
	struct nhictl *x = rp->x;
	FILE *o = rp->o;
	struct chain_graph g;
	int i, r, json = x->json, n = 0;

	fprintf(o, "<p>The fleet has %d nodes, more than the %d drawn at most: each agent's chains "
		"(<code>nhictl chain NAME</code>) instead.</p>\n", n_nodes, rp->graph_max);
	if (chain_load(x, &g, 0) < 0)
		return NHI_ERR_DB;
	x->json = 0;
	for (i = 0, r = 0; r == 0 && i < g.n_ident; i++) {
		char *text = NULL;
		size_t len = 0;
		FILE *f;

		if (strcmp(g.ident[i].kind, "agent") != 0 || strcmp(g.ident[i].state, "retired") == 0)
			continue;
		if ((f = open_memstream(&text, &len)) == NULL) {
			r = nerr(x, NHI_ERR_NOMEM, "out of memory");
			break;
		}
		r = chain_agent(x, &g, i, f);
		fclose(f);
		if (r == 0 && text != NULL) {
			fputs("<h3>", o);
			h(o, g.ident[i].name);
			fputs("</h3>\n<pre>", o);
			h(o, text);
			fputs("</pre>\n", o);
			n++;
		}
		free(text);
	}
	x->json = json;
	chain_free(&g);
	if (r == 0 && n == 0)
		fputs("<p>No agents.</p>\n", o);
	return r;
}

static int graph(struct report *rp)
{
	struct nhictl *x = rp->x;
	FILE *o = rp->o, *f;
	char *dot = NULL, *svg = NULL, why[PATH_MAX + 128];
	size_t len = 0;
	int r, n_nodes = 0;
	const char *p;

	fputs("<h2 id=\"graph\">Delegation graph</h2>\n", o);
	if ((f = open_memstream(&dot, &len)) == NULL)
		return nerr(x, NHI_ERR_NOMEM, "out of memory");
	r = graph_dot(x, f, rp->graph_max, &n_nodes);
	if (fclose(f) != 0 && r == 0)
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
	if (r < 0)
		goto out;
	if (r == 1) {
		r = chains(rp, n_nodes);
		goto out;
	}
	fputs("<p>Owners (ellipses), identities (boxes; agents rounded), credentials (notes) and "
	      "resources (cylinders); owner, grant (green), delegation (blue) and credential edges. "
	      "What is cut (suspended, retired, orphaned, expired, revoked) is dashed and red.</p>\n", o);
	if (run_dot(rp->dot, dot, len, &svg, why, sizeof(why)) < 0) {
		nerr(x, 0, "warning: the graph is not drawn: %s", why);
		fputs("<p class=\"warn\" id=\"no-graph\">The graph is not drawn: Graphviz could not "
		      "be run (", o);
		h(o, why);
		fputs(").  <code>nhictl graph --format dot | dot -Tsvg</code> draws it where Graphviz "
		      "is installed.</p>\n", o);
		r = 0;
		goto out;
	}
	/* inline: without the XML prolog, DOCTYPE and comments before <svg */
	p = strstr(svg, "<svg");
	if (p == NULL) {
		nerr(x, 0, "warning: the graph is not drawn: %s gave no <svg>", rp->dot);
		fputs("<p class=\"warn\" id=\"no-graph\">The graph is not drawn: dot gave no SVG.</p>\n", o);
	} else {
		fputs("<div class=\"graph\">\n", o);
		fputs(p, o);
		fputs("</div>\n", o);
	}
	r = 0;
out:
	free(dot);
	free(svg);
	return r;
}

/* ---- the page ------------------------------------------------------------ */

static int page(struct report *rp)
{
	FILE *o = rp->o;
	char host[256] = "", b[NHI_TIME_BUFSZ];
	int r;

	gethostname(host, sizeof(host) - 1);
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"nhictl report\">\n<title>nhi report: ", o);
	h(o, host);
	fputs("</title>\n<style>", o);
	fputs(css, o);
	fputs("</style>\n</head>\n<body>\n<h1>Non-human identities: ", o);
	h(o, host);
	fputs("</h1>\n<p class=\"muted\">Generated by <code>nhictl report</code> at ", o);
	h(o, nhi_format_time(rp->x->now, b));
	fputs(" from the registry (backend ", o);
	h(o, rp->x->conf.backend == NHI_BACKEND_LDAP ? "ldap" : "local");
	fputs(").  <a href=\"#summary\">Summary</a> &middot; <a href=\"#inventory\">Inventory</a> "
	      "&middot; <a href=\"#timeline\">Timeline</a> &middot; <a href=\"#findings\">Findings</a> "
	      "&middot; <a href=\"#credentials\">Credentials</a> &middot; <a href=\"#graph\">Graph</a>"
	      "</p>\n", o);
	summary(rp);
	inventory(rp);
	if ((r = timeline(rp)) < 0)
		return r;
	findings_html(rp);
	cred_ages(rp);
	if ((r = graph(rp)) < 0)
		return r;
	fputs("</body>\n</html>\n", o);
	return 0;
}

/* Write buf to path atomically (a temporary file renamed), or stdout for "-". */
static int write_out(struct nhictl *x, const char *path, const char *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd;
	FILE *f;

	if (strcmp(path, "-") == 0) {
		if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)
			return nerr(x, NHI_ERR_IO, "stdout: %s", strerror(errno));
		return 0;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
		return nerr(x, NHI_ERR_IO, "%s: path too long", path);
	if ((fd = mkstemp(tmp)) < 0)
		return nerr(x, NHI_ERR_IO, "%s: %s", tmp, strerror(errno));
	fchmod(fd, 0644);
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return nerr(x, NHI_ERR_IO, "%s: %s", tmp, strerror(errno));
	}
	if (fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		unlink(tmp);
		return nerr(x, NHI_ERR_IO, "%s: %s", path, strerror(errno));
	}
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return nerr(x, NHI_ERR_IO, "%s: %s", path, strerror(e));
	}
	return 0;
}

static const char report_help[] =
	"usage: nhictl report --html FILE [--weeks N] [--root DIR] [--no-host] [--dot PATH]\n"
	"                     [--graph-max N]\n"
	"\n"
	"Write the registry as one self-contained HTML page (FILE, or - for stdout):\n"
	"inline CSS and SVG, no script, nothing fetched, readable offline.  It shows\n"
	"a summary (identities by state and kind, credentials, findings by severity),\n"
	"the inventory, the expiry and review timeline (the next N weeks, overdue\n"
	"apart), the findings of audit's checks by OWASP NHI risk with their remedies,\n"
	"the credentials by age, and the delegation graph drawn by Graphviz (a fleet\n"
	"of more than --graph-max nodes: each agent's chains instead).  Nothing is written to\n"
	"the registry: the checks run read-only (usage is not ingested, owners are\n"
	"not re-checked, stale_action is not applied), so the counts agree with\n"
	"'nhictl audit --json' when audit has nothing to change.  Without Graphviz\n"
	"the page says so and the command succeeds with a warning.\n"
	"\n"
	"  -o, --html FILE         where the page goes (- for stdout)\n"
	"  -w, --weeks N           the timeline's span in weeks (1..52, default 8)\n"
	"  -R, --root DIR          the host checks scan DIR as audit --root does\n"
	"  -N, --no-host           skip the host checks (as audit --no-host)\n"
	"  -D, --dot PATH          the Graphviz dot to run (default " NHI_DOT "; it has\n"
	"                          30 s)\n"
	"  -G, --graph-max N       draw the graph up to N nodes (default 250); a bigger\n"
	"                          fleet shows each agent's chains ('nhictl chain')\n";

int cmd_report(struct nhictl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "html", required_argument, NULL, 'o' },
		{ "weeks", required_argument, NULL, 'w' },
		{ "root", required_argument, NULL, 'R' },
		{ "no-host", no_argument, NULL, 'N' },
		{ "dot", required_argument, NULL, 'D' },
		{ "graph-max", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct report rp;
	struct findings f;
	struct audit_ctx a = { &f, "", 1 };
	const char *path = NULL;
	char *buf = NULL, *end;
	size_t len = 0, i;
	int c, r;
	long w;

	memset(&rp, 0, sizeof(rp));
	rp.x = x;
	rp.weeks = REPORT_WEEKS;
	rp.dot = NHI_DOT;
	rp.graph_max = REPORT_GRAPH_MAX;
	while ((c = getopt_long(argc, argv, ":o:w:R:ND:G:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': path = optarg; break;
		case 'w':
			errno = 0;
			w = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || w < 1 || w > 52)
				return nerr(x, EXIT_USAGE, "--weeks: expected 1 to 52, not '%s'", optarg);
			rp.weeks = (int)w;
			break;
		case 'R':
			if (optarg[0] != '/')
				return nerr(x, EXIT_USAGE, "--root: '%s' is not an absolute path", optarg);
			a.root = optarg;
			break;
		case 'N': a.host = 0; break;
		case 'D': rp.dot = optarg; break;
		case 'G':
			errno = 0;
			w = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || w < 0 || w > 100000)
				return nerr(x, EXIT_USAGE, "--graph-max: expected 0 to 100000, not '%s'", optarg);
			rp.graph_max = (int)w;
			break;
		case 'h': fputs(report_help, stdout); return EXIT_OK;
		default: return opt_error(x, c, argv);
		}
	}
	if (optind < argc)
		return nerr(x, EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (path == NULL)
		return nerr(x, EXIT_USAGE, "--html FILE is required (- for stdout)");
	findings_init(&f, NULL);
	f.collect = collect;
	f.arg = &rp;
	if ((r = load_idents(&rp)) < 0 || (r = load_creds(&rp)) < 0 ||
	    (r = audit_checks_run(x, &a)) < 0)
		goto out;
	if (rp.failed) {
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rp.o = open_memstream(&buf, &len)) == NULL) {
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = page(&rp);
	if (fclose(rp.o) != 0 && r == 0)
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
	if (r == 0)
		r = write_out(x, path, buf, len);
out:
	for (i = 0; i < rp.n_fd; i++) {
		free(rp.fd[i].subject);
		free(rp.fd[i].evidence);
		free(rp.fd[i].remedy);
	}
	free(rp.fd);
	free(rp.id);
	free(rp.cred);
	free(buf);
	return exit_code(r);
}

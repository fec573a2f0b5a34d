/* intent.c - the intent journal (backend = ldap, issue 18).  A verb
 * writes the directory first, then commits the change to registry.db with
 * its audit event; a kill in between would lose the event (the next sync
 * imports the change under its own).  So the change is announced first:
 * a row in 'intent' (the audit action and target, what the directory
 * write is and what shows it there, the actor, the reason, the time, the
 * process), committed before the write; the verb's event deletes it in
 * its own transaction.  A row whose process is gone is resolved by the
 * next writing run (store/upkeep.c: intent_recover), as rotate's journal
 * (cred.c, upkeep.c) is.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

int reg_intent(struct nhictl *x, const char *action, const char *target, const char *kind,
	       const char *key, const char *reason, const char *fmt, ...)
{
	char change[512], start[32] = "";
	int was_open = !sqlite3_get_autocommit(x->db), k = x->n_intents;
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(change, sizeof(change), fmt, ap);
	va_end(ap);
	if (k == (int)(sizeof(x->intents) / sizeof(x->intents[0])))
		return nerr(x, NHI_ERR_STATE, "%s of %s: more than %d changes announced at once",
			    action, target, k);
	if (proc_start_time(getpid(), start, sizeof(start)) < 0)
		return nerr(x, NHI_ERR_IO, "cannot read /proc/self/stat: %s", strerror(errno));
	r = reg_begin(x);
	if (r == 0)
		r = reg_exec(x, "INSERT INTO intent (action, target, kind, key, change, actor, reason, "
			     "started, pid, pid_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			     "sssssssiis", action, target, kind, key, change, x->actor,
			     reason ? reason : "", (int64_t)x->now, (int64_t)getpid(), start);
	/* the transaction's own changes (the row just inserted not counted)
	 * are committed with it: a kill before the verb's commit must leave
	 * them published by the next run (reg_publish_behind) */
	if (r == 0 && sqlite3_total_changes(x->db) - x->tx_changes > 1)
		r = reg_exec(x, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
			     "WHERE key = 'generation'", "");
	if (r == 0) {
		x->intents[k].row = sqlite3_last_insert_rowid(x->db);
		x->intents[k].refused = 0;
		snprintf(x->intents[k].action, sizeof(x->intents[k].action), "%s", action);
		snprintf(x->intents[k].target, sizeof(x->intents[k].target), "%s", target);
		x->n_intents++;
		x->write_unsure = 0;
		r = reg_exec_plain(x, "COMMIT");
	}
	if (r < 0) {
		reg_rollback(x);
		return r;
	}
	return was_open ? reg_begin(x) : 0;
}

void reg_intent_void(struct nhictl *x)
{
	int k = x->n_intents - 1;

	if (k < 0)
		return;
	if (!x->write_unsure) {
		x->intents[k].refused = 1;
		return;
	}
	/* unanswered, not refused: the change may be in the directory.  The
	 * row stays (not this run's any more: neither its commit nor its
	 * rollback deletes it) for the next run, which asks the directory
	 * (store/upkeep.c intent_recover) */
	nerr(x, 0, "the directory did not answer the %s of %s: whether it was made is not known; "
	     "the next nhictl run that writes (or 'nhictl sync') asks the directory and records it",
	     x->intents[k].action, x->intents[k].target);
	x->n_intents--;
	x->write_unsure = 0;
}

int reg_intent_clear(struct nhictl *x, const char *action, const char *target)
{
	int i, r = 0;

	for (i = x->n_intents - 1; r == 0 && i >= 0; i--) {
		if (action != NULL && (strcmp(action, x->intents[i].action) != 0 ||
				       strcmp(target, x->intents[i].target) != 0))
			continue;
		r = reg_exec(x, "DELETE FROM intent WHERE id = ?", "i", x->intents[i].row);
		if (r < 0)
			break;
		memmove(&x->intents[i], &x->intents[i + 1],
			(size_t)(x->n_intents - i - 1) * sizeof(x->intents[0]));
		x->n_intents--;
		if (action != NULL)
			break;
	}
	return r;
}

int reg_intents_stale(struct nhictl *x, struct intent **v, size_t *n)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int r;

	*v = NULL;
	*n = 0;
	st = reg_prep(x, "SELECT id, action, target, kind, key, change, actor, reason, started, "
		      "pid, pid_start FROM intent ORDER BY started, pid, pid_start, id DESC", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct intent *it;

		if (proc_alive(sqlite3_column_int64(st, 9), (const char *)sqlite3_column_text(st, 10)))
			continue;   /* in progress in another nhictl */
		if (*n == cap) {
			struct intent *nv = realloc(*v, (cap ? 2 * cap : 4) * sizeof(**v));

			if (nv == NULL) {
				r = nerr(x, NHI_ERR_NOMEM, "out of memory");
				goto out;
			}
			*v = nv;
			cap = cap ? 2 * cap : 4;
		}
		it = &(*v)[(*n)++];
		it->id = sqlite3_column_int64(st, 0);
		col_cpy(it->action, sizeof(it->action), st, 1);
		col_cpy(it->target, sizeof(it->target), st, 2);
		col_cpy(it->kind, sizeof(it->kind), st, 3);
		col_cpy(it->key, sizeof(it->key), st, 4);
		col_cpy(it->change, sizeof(it->change), st, 5);
		col_cpy(it->actor, sizeof(it->actor), st, 6);
		col_cpy(it->reason, sizeof(it->reason), st, 7);
		it->started = sqlite3_column_int64(st, 8);
		it->pid = sqlite3_column_int64(st, 9);
		col_cpy(it->pid_start, sizeof(it->pid_start), st, 10);
	}
	r = r == SQLITE_DONE ? 0 : reg_dberr(x);
out:
	sqlite3_finalize(st);
	if (r < 0) {
		free(*v);
		*v = NULL;
		*n = 0;
	}
	return r;
}

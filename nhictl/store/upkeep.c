/* upkeep.c - what time and crashes leave behind, for every backend:
 * credentials whose grace window ended (cred_sweep) and rotations whose
 * process died (rotation_recover), both in the caller's transaction; the
 * intents of killed runs (intent_recover, backend = ldap), in their own. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "dircred.h"
#include "store.h"

int cred_sweep(struct nhictl *x, struct dir *d, int *n)
{
	sqlite3_stmt *st;
	char b1[NHI_TIME_BUFSZ];
	int r;

	*n = 0;
	st = reg_prep(x, "SELECT i.name, c.cred_id, c.kind, c.fingerprint, c.grace_until, "
		      "c.secret_hash, c.id "
		      "FROM credential c JOIN identity i ON i.id = c.identity_id "
		      "WHERE c.state = 'grace' AND c.grace_until <= ? ORDER BY c.id", "i",
		      (int64_t)x->now);
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *cid = (const char *)sqlite3_column_text(st, 1);
		const char *kind = (const char *)sqlite3_column_text(st, 2);

		/* the directory first (the old password stops binding); one
		 * that cannot be written now stays 'grace' here, to be retried
		 * (cred_state already answers 'revoked' for it) */
		if (d != NULL && dc_revoke(d, name, cid, strcmp(kind, "password") == 0 ?
					   (const char *)sqlite3_column_text(st, 5) : NULL,
					   sqlite3_column_int64(st, 4)) != 0) {
			nerr(x, 0, "warning: %s credential %s: its grace ended, but the directory "
			     "could not be updated; retried next time", name, cid);
			continue;
		}
		r = reg_exec(x, "UPDATE credential SET state = 'revoked', revoked_at = grace_until "
			     "WHERE id = ?", "i", sqlite3_column_int64(st, 6));
		if (r == 0)
			r = reg_event(x, "cred-revoke", name, "ok", "id=%s kind=%s fingerprint=%s: "
			      "grace ended %s", sqlite3_column_text(st, 1),
			      sqlite3_column_text(st, 2), sqlite3_column_text(st, 3),
			      nhi_format_time((time_t)sqlite3_column_int64(st, 4), b1));
		if (r < 0)
			goto out;
		(*n)++;
	}
	r = r == SQLITE_DONE ? 0 : reg_dberr(x);
out:
	sqlite3_finalize(st);
	return r;
}

#define RECOVER_MAX_ATTEMPTS 3

/* Where did an interrupted rotation get to?  The rule of both backends:
 * once the new secret may have been handed over (journal step
 * 'handed-over', written just before the handover) its holder may have
 * it, so the rotation is completed (roll forward: the new credential
 * valid, the old one in its grace); before that nobody has it, so it is
 * undone (roll back: the old credential alone, as before).
 * With the local backend the registry is the truth and the journal row
 * says which.  A directory backend also makes the directory agree (redo
 * or undo its part); directory unreachable -> unknown, try again next
 * run.  The test faults recover-forward and recover-unknown stand in for
 * a directory's answers. */
static enum resolution rotation_resolve(struct nhictl *x, int64_t rid, const char *name,
					const char *step)
{
	if (fault("recover-forward"))
		return ROLL_FORWARD;
	if (fault("recover-unknown"))
		return UNKNOWN;
	return x->store->rot_resolve(x, rid, name, step);
}

struct pending {
	int64_t rid, cred_row, attempts, grace;
	char newid[CRED_ID_MAX], oldid[CRED_ID_MAX], name[64], step[32];
	char out[PATH_MAX];
};

/* The pending rows whose process is gone (collected first: they are then
 * changed one by one). */
static int stale_rows(struct nhictl *x, struct pending **rows, size_t *n)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int r;

	*rows = NULL;
	*n = 0;
	st = reg_prep(x, "SELECT r.id, r.pid, r.pid_start, r.attempts, r.new_cred_id, "
		      "r.out_path, c.cred_id, i.name, r.step, r.credential_id, r.grace "
		      "FROM rotation r JOIN credential c ON c.id = r.credential_id "
		      "JOIN identity i ON i.id = c.identity_id "
		      "WHERE r.state = 'pending' ORDER BY r.id", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct pending *p;

		if (proc_alive(sqlite3_column_int64(st, 1), (const char *)sqlite3_column_text(st, 2)))
			continue;   /* in progress in another nhictl */
		if (*n == cap) {
			struct pending *nr = realloc(*rows, (cap ? 2 * cap : 4) * sizeof(**rows));

			if (nr == NULL) {
				r = nerr(x, NHI_ERR_NOMEM, "out of memory");
				goto out;
			}
			*rows = nr;
			cap = cap ? 2 * cap : 4;
		}
		p = &(*rows)[(*n)++];
		p->rid = sqlite3_column_int64(st, 0);
		p->attempts = sqlite3_column_int64(st, 3);
		col_cpy(p->newid, sizeof(p->newid), st, 4);
		col_cpy(p->out, sizeof(p->out), st, 5);
		col_cpy(p->oldid, sizeof(p->oldid), st, 6);
		col_cpy(p->name, sizeof(p->name), st, 7);
		col_cpy(p->step, sizeof(p->step), st, 8);
		p->cred_row = sqlite3_column_int64(st, 9);
		p->grace = sqlite3_column_int64(st, 10);
	}
	r = r == SQLITE_DONE ? 0 : reg_dberr(x);
out:
	sqlite3_finalize(st);
	return r;
}

static int recover_one(struct nhictl *x, const struct pending *p)
{
	enum resolution res = rotation_resolve(x, p->rid, p->name, p->step);
	int64_t attempts = p->attempts + 1;
	int r;

	if (res == UNKNOWN && attempts < RECOVER_MAX_ATTEMPTS) {
		fprintf(stderr, "nhictl: %s: the interrupted rotation of %s credential %s cannot be "
			"resolved yet (attempt %lld of %d); %s stays valid\n", x->verb, p->name,
			p->oldid, (long long)attempts, RECOVER_MAX_ATTEMPTS, p->oldid);
		return reg_exec(x, "UPDATE rotation SET attempts = ? WHERE id = ?", "ii",
				attempts, p->rid);
	}
	if (res == UNKNOWN) {
		r = reg_exec(x, "UPDATE rotation SET state = 'failed', finished = ?, attempts = ? "
			     "WHERE id = ?", "iii", (int64_t)x->now, attempts, p->rid);
		if (r == 0)
			r = reg_event(x, "rotate", p->name, "failed", "id=%s -> %s: unresolved after "
				      "%lld attempts; set aside", p->oldid, p->newid, (long long)attempts);
		fprintf(stderr, "nhictl: %s: the interrupted rotation of %s credential %s could not "
			"be resolved in %d attempts: set aside as failed; %s stays valid\n", x->verb,
			p->name, p->oldid, RECOVER_MAX_ATTEMPTS, p->oldid);
		return r;
	}
	if (res == ROLL_FORWARD) {
		/* with a directory, what it now holds is read back */
		r = x->store->rot_forward(x, p->rid, p->cred_row, p->grace, p->name);
		if (r == 0)
			r = reg_exec(x, "UPDATE rotation SET state = 'done', finished = ?, attempts = ? "
				     "WHERE id = ?", "iii", (int64_t)x->now, attempts, p->rid);
		if (r == 0)
			r = reg_event(x, "rotate", p->name, "rolled-forward", "id=%s -> %s: "
				      "interrupted after step %s", p->oldid, p->newid, p->step);
		fprintf(stderr, "nhictl: %s: rolled forward the interrupted rotation of %s "
			"credential %s: %s is valid, %s stays valid for its grace\n", x->verb,
			p->name, p->oldid, p->newid, p->oldid);
		return r;
	}
	r = x->store->rot_back(x, p->name);
	if (r == 0)
		r = reg_exec(x, "UPDATE rotation SET state = 'rolled-back', finished = ?, "
			     "attempts = ? WHERE id = ?", "iii", (int64_t)x->now, attempts, p->rid);
	if (r == 0)
		r = reg_event(x, "rotate", p->name, "rolled-back", "id=%s -> %s: interrupted after "
			      "step %s", p->oldid, p->newid, p->step);
	fprintf(stderr, "nhictl: %s: rolled back the interrupted rotation of %s credential %s "
		"(stopped after '%s'): %s stays valid, %s was never made valid%s%s\n", x->verb,
		p->name, p->oldid, p->step, p->oldid, p->newid, p->out[0] ? "; discard " : "",
		p->out);
	return r;
}

int rotation_recover(struct nhictl *x, int *n)
{
	struct pending *rows;
	size_t i, k;
	int r;

	*n = 0;
	r = stale_rows(x, &rows, &k);
	for (i = 0; r == 0 && i < k; i++) {
		r = recover_one(x, &rows[i]);
		(*n)++;
	}
	free(rows);
	return r;
}

/* One intent: its event and its deletion in one transaction, so that a
 * kill during the recovery leaves it whole for the next run. */
static int intent_one(struct nhictl *x, const struct intent *it)
{
	char when[NHI_TIME_BUFSZ];
	int res, r;

	if ((r = reg_begin(x)) < 0)
		return r;
	res = x->store->intent_resolve(x, it);
	if (res < 0) {
		reg_rollback(x);
		fprintf(stderr, "nhictl: %s: warning: the interrupted %s of %s (%s at %s) cannot be "
			"resolved now; retried next time\n", x->verb, it->action, it->target,
			it->actor, nhi_format_time((time_t)it->started, when));
		return res;
	}
	if (res == 1)
		r = reg_event_as(x, it->actor, it->started, it->action, it->target, "recovered",
				 "%s%s%s; recovered by %s: the run (pid %lld) was killed after the "
				 "directory write and before its audit event%s", it->change,
				 it->reason[0] ? "; reason: " : "", it->reason, x->actor,
				 (long long)it->pid, x->store->audit_tag);
	else
		r = reg_event_as(x, it->actor, it->started, it->action, it->target, "not-done",
				 "%s%s%s; found by %s: the run (pid %lld) was killed before the "
				 "directory took the change; nothing was changed%s", it->change,
				 it->reason[0] ? "; reason: " : "", it->reason, x->actor,
				 (long long)it->pid, x->store->audit_tag);
	if (r == 0)
		r = reg_exec(x, "DELETE FROM intent WHERE id = ?", "i", it->id);
	if (r == 0)
		r = reg_commit(x);
	else
		reg_rollback(x);
	if (r == 0)
		fprintf(stderr, "nhictl: %s: the interrupted %s of %s (%s at %s) %s\n", x->verb,
			it->action, it->target, it->actor,
			nhi_format_time((time_t)it->started, when),
			res == 1 ? "had reached the directory: recorded as recovered" :
			"had not reached the directory: recorded as not done");
	return r;
}

int intent_recover(struct nhictl *x, int *n)
{
	struct intent *v;
	size_t i, k;
	int r;

	*n = 0;
	if (x->store->intent_resolve == NULL || x->db == NULL)
		return 0;
	if ((r = reg_intents_stale(x, &v, &k)) < 0)
		return r;
	for (i = 0; i < k; i++) {
		r = intent_one(x, &v[i]);
		if (r == NHI_ERR_DB)
			break;
		if (r == 0)
			(*n)++;
		r = 0;
	}
	free(v);
	return r;
}

/* verify.c - `nhictl log --verify`: the audit chain recomputed, its head
 * and length compared with meta and with registry.state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

int reg_verify_log(struct nhictl *x, int64_t *n, char *why, size_t len)
{
	char prev[80] = ZERO_HASH, hash[65], head[80], count[32];
	sqlite3_stmt *st;
	int64_t expect = 1;
	int r;

	*n = 0;
	st = reg_prep(x, "SELECT id, ts, actor, action, target, outcome, detail, prev_hash, hash "
		      "FROM event ORDER BY id", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *col[8];
		int i;

		for (i = 1; i < 9; i++) {
			const unsigned char *t = sqlite3_column_text(st, i);

			col[i - 1] = t ? (const char *)t : "";
		}
		if (id != expect) {
			r = nhi_seterr(why, len, NHI_ERR_FORMAT,
				       "event %lld is missing (next row is event %lld): rows removed",
				       (long long)expect, (long long)id);
			goto out;
		}
		if (strcmp(col[6], prev) != 0) {
			r = nhi_seterr(why, len, NHI_ERR_FORMAT,
				       "event %lld: prev_hash does not match event %lld: "
				       "row altered or removed", (long long)id, (long long)id - 1);
			goto out;
		}
		if (reg_event_hash(id, sqlite3_column_int64(st, 1), col[1], col[2], col[3], col[4],
			       col[5], prev, hash) < 0) {
			r = nhi_seterr(why, len, NHI_ERR_IO, "cannot hash event %lld", (long long)id);
			goto out;
		}
		if (strcmp(hash, col[7]) != 0) {
			r = nhi_seterr(why, len, NHI_ERR_FORMAT,
				       "event %lld: hash mismatch: row altered", (long long)id);
			goto out;
		}
		snprintf(prev, sizeof(prev), "%s", hash);
		expect++;
		(*n)++;
	}
	if (r != SQLITE_DONE) {
		r = reg_dberr(x);
		goto out;
	}
	r = reg_meta_get(x, "log_head", head, sizeof(head));
	if (r == NHI_ERR_NOTFOUND && *n == 0) {
		r = 0;
		goto out;
	}
	if (r == 0)
		r = reg_meta_get(x, "log_count", count, sizeof(count));
	if (r == NHI_ERR_NOTFOUND)
		r = nhi_seterr(why, len, NHI_ERR_FORMAT, "the log's head record is missing");
	if (r < 0)
		goto out;
	if (strtoll(count, NULL, 10) != *n || strcmp(head, prev) != 0) {
		r = nhi_seterr(why, len, NHI_ERR_FORMAT,
			       "the log ends at event %lld but %s events were written: "
			       "newest rows removed", (long long)*n, count);
		goto out;
	}
	r = 0;
out:
	/* an intact chain may still lack the head recorded outside
	 * registry.db: a restored or recreated registry (regstate.c) */
	if (r == 0) {
		struct reg_state rs;

		r = regstate_load(x, &rs);
		if (r == 0)
			r = regstate_check_log(x, &rs, why, len);
		else   /* (what is wrong with it is said on stderr already) */
			r = nhi_seterr(why, len, NHI_ERR_IO, "the registry's state file cannot be read");
	}
	sqlite3_finalize(st);
	return r;
}

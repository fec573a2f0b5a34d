/* snapdeleg.c - the delegation edges of a full snapshot (issue 14):
 * every delegation FROM -> TO whose two identities exist, by their uids,
 * with its expiry; the writer keys each slot by FROM's name and copies
 * FROM's state and expiry into it (docs/snapshot-format.md).  Whether an
 * edge is live (both identities active and unexpired, the edge
 * unexpired) is decided at use, by lib/nhi_policy.c, with a delta's
 * record of FROM winning over the copy, so a suspension that a delta
 * carries cuts it at once. */
#include "registry.h"

int reg_snap_delegations(struct nhictl *x, struct nhi_snap_writer *w)
{
	sqlite3_stmt *st;
	int r;

	st = reg_prep(x, "SELECT f.uid, t.uid, d.expires FROM delegation d"
		      " JOIN identity f ON f.id = d.from_id JOIN identity t ON t.id = d.to_id", "");
	if (st == NULL)
		return NHI_ERR_DB;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		r = nhi_snapw_add_delegation(w, (uint32_t)sqlite3_column_int64(st, 0),
					     (uint32_t)sqlite3_column_int64(st, 1),
					     sqlite3_column_int64(st, 2));
		if (r < 0) {
			r = nerr(x, r, "snapshot: delegation: %s", nhi_strerror(r));
			goto out;
		}
	}
	r = r == SQLITE_DONE ? 0 : reg_dberr(x);
out:
	sqlite3_finalize(st);
	return r;
}

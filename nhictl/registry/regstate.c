/* regstate.c - what must outlive registry.db.
 *
 * Losing registry.db must not go unnoticed.  Three things guard it:
 *
 *  - reg_open() refuses to create a registry from nothing when other nhi
 *    state shows that one existed (a snapshot, its delta, usage.log, the
 *    token pepper, the key index, or the state file below): restore it
 *    from a backup, or `nhictl init --force` to start anew knowingly.
 *    A state directory with none of these is a fresh host: the registry
 *    is created on first use, as before (config management creates
 *    identities on new hosts without a separate init step).
 *  - The state file (registry_path with ".db" replaced by ".state",
 *    /var/lib/nhi/registry.state; root-only, written atomically after
 *    every publication) keeps the id high-water mark and the audit chain's
 *    head.  alloc_id() never hands out an id at or below the mark, even
 *    from a registry restored from an old backup or recreated.
 *  - `log --verify` fails when the chain does not hold the head the state
 *    file recorded (events lost).  The next publication records that gap
 *    as an audit event of its own (log-gap), so the chain says what
 *    happened and verifies again.
 *
 * The state file is not secret (hashes and counts) but is root-only like
 * the registry: nobody else needs it, and the world-readable snapshot
 * should not tell how busy the audit log is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "registry.h"
#include "nhi_file.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

int regstate_path(struct nhictl *x, char *buf, size_t len)
{
	const char *p = x->conf.registry_path;
	size_t n = strlen(p);

	if (n > 3 && strcmp(p + n - 3, ".db") == 0)
		n -= 3;
	if ((size_t)snprintf(buf, len, "%.*s.state", (int)n, p) >= len)
		return nerr(x, NHI_ERR_RANGE, "%s: path too long", p);
	return 0;
}

/* the keys every state file has (*seen's bits) */
#define SEEN_ID_HIGH 1u
#define SEEN_LOG_COUNT 2u
#define SEEN_LOG_HEAD 4u
#define SEEN_ALL (SEEN_ID_HIGH | SEEN_LOG_COUNT | SEEN_LOG_HEAD)

/* one "key value" line of the state file into s (and its bit into *seen) */
static int parse_line(struct reg_state *s, char *line, unsigned *seen)
{
	char *val = strchr(line, ' '), *end;
	long long v;

	if (val == NULL)
		return -1;
	*val++ = '\0';
	if (strcmp(line, "log_head") == 0) {
		if (strlen(val) != 64 || strspn(val, "0123456789abcdef") != 64)
			return -1;
		memcpy(s->log_head, val, 65);
		*seen |= SEEN_LOG_HEAD;
		return 0;
	}
	errno = 0;
	v = strtoll(val, &end, 10);
	if (errno || end == val || *end || v < 0)
		return strcmp(line, "id_high") && strcmp(line, "log_count") &&
		       strcmp(line, "generation") ? 0 : -1;
	if (strcmp(line, "id_high") == 0) {
		s->id_high = v;
		*seen |= SEEN_ID_HIGH;
	} else if (strcmp(line, "log_count") == 0) {
		s->log_count = v;
		*seen |= SEEN_LOG_COUNT;
	} else if (strcmp(line, "generation") == 0) {
		s->generation = v;
	}
	return 0;   /* a key of a newer nhictl: kept for it, ignored here */
}

int regstate_load(struct nhictl *x, struct reg_state *s)
{
	char path[PATH_MAX], buf[4096], copy[48], *line, *next;
	struct stat st;
	ssize_t n;
	int fd, lineno = 0;
	unsigned seen = 0;

	memset(s, 0, sizeof(*s));
	if (regstate_path(x, path, sizeof(path)) < 0)
		return NHI_ERR_RANGE;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		nerr(x, 0, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NHI_ERR_IO;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & 022))
		return nerr(x, NHI_ERR_PERM, "%s: not trusted (owner uid %u, mode %04o): it must "
			    "be owned by root and writable by nobody else", path,
			    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	if (n < 0 || n == (ssize_t)sizeof(buf) - 1)
		return nerr(x, NHI_ERR_IO, "%s: %s", path, n < 0 ? strerror(errno) : "too long");
	buf[n] = '\0';
	for (line = buf; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		lineno++;
		if (next == NULL)
			return nerr(x, NHI_ERR_FORMAT, "%s:%d: truncated (no newline): restore it "
				    "or remove it (losing the id high-water mark)", path, lineno);
		*next++ = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		snprintf(copy, sizeof(copy), "%.40s", line);
		if (parse_line(s, line, &seen) < 0)
			return nerr(x, NHI_ERR_FORMAT, "%s:%d: malformed line '%s': restore it "
				    "or remove it (losing the id high-water mark)", path, lineno, copy);
	}
	/* (an empty file too: it would skip the checks it is there for) */
	if (seen != SEEN_ALL)
		return nerr(x, NHI_ERR_FORMAT, "%s: incomplete (no %s line): restore it or remove "
			    "it (losing the id high-water mark)", path, !(seen & SEEN_ID_HIGH) ?
			    "id_high" : !(seen & SEEN_LOG_COUNT) ? "log_count" : "log_head");
	s->present = 1;
	return 0;
}

int regstate_save(struct nhictl *x, const struct reg_state *s)
{
	char path[PATH_MAX], buf[512], err[PATH_MAX + 128];
	int n, r;

	if (regstate_path(x, path, sizeof(path)) < 0)
		return NHI_ERR_RANGE;
	n = snprintf(buf, sizeof(buf),
		     "# nhi: what must outlive %s (written by nhictl after each\n"
		     "# publication; see nhictl(8), FILES).  Do not edit, do not restore.\n"
		     "id_high %lld\nlog_count %lld\nlog_head %s\ngeneration %lld\n",
		     x->conf.registry_path, (long long)s->id_high, (long long)s->log_count,
		     s->log_head[0] ? s->log_head : ZERO_HASH, (long long)s->generation);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return nerr(x, NHI_ERR_RANGE, "%s: path too long", path);
	r = nhi_write_atomic(path, buf, (size_t)n, 0600, 0, 0, NHI_WRITE_SAFE_DIR, err, sizeof(err));
	return r < 0 ? nerr(x, r, "%s", err) : 0;
}

/* the chain's last event when the registry was opened: a gap found while
 * publishing is described before the events the verb itself added.  Its
 * rowid, a lookup at the end of the table (every verb opens the registry,
 * most never publish); the events up to it are counted only to describe a
 * gap. */
static int64_t events_max_at_open = -1;

int regstate_opened(struct nhictl *x)
{
	return reg_int(x, &events_max_at_open, 0, "SELECT max(id) FROM event", "");
}

int regstate_check_log(struct nhictl *x, const struct reg_state *s, char *why, size_t len)
{
	char path[PATH_MAX], hash[80] = "";
	sqlite3_stmt *st;
	int64_t have = 0;
	int r;

	if (!s->present || s->log_count == 0)
		return 0;
	if (regstate_path(x, path, sizeof(path)) < 0)
		return NHI_ERR_RANGE;
	st = reg_prep(x, "SELECT hash FROM event WHERE id = ?", "i", s->log_count);
	if (st == NULL)
		return NHI_ERR_DB;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		col_cpy(hash, sizeof(hash), st, 0);
	sqlite3_finalize(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return reg_dberr(x);
	if (r == SQLITE_ROW && strcmp(hash, s->log_head) == 0)
		return 0;
	if (events_max_at_open >= 0 ?
	    reg_int(x, &have, 0, "SELECT count(*) FROM event WHERE id <= ?", "i",
		    events_max_at_open) < 0 :
	    reg_int(x, &have, 0, "SELECT count(*) FROM event", "") < 0)
		return NHI_ERR_DB;
	if (have < s->log_count)
		return nhi_seterr(why, len, NHI_ERR_STATE,
				  "%s recorded %lld events (head %.12s), this registry holds %lld: "
				  "it was restored from an older backup or recreated; events "
				  "%lld..%lld are lost", path, (long long)s->log_count, s->log_head,
				  (long long)have, (long long)have + 1, (long long)s->log_count);
	return nhi_seterr(why, len, NHI_ERR_STATE,
			  "%s recorded event %lld with head %.12s, this registry's event %lld "
			  "differs: the registry was replaced; the recorded events are not in it",
			  path, (long long)s->log_count, s->log_head, (long long)s->log_count);
}

int regstate_reconcile(struct nhictl *x, struct reg_state *s)
{
	char why[PATH_MAX + 256];
	int64_t high = 0;
	int r;

	r = regstate_load(x, s);
	if (r < 0 || !s->present)
		return r;
	if (reg_int(x, &high, 0, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'id_high'",
		    "") < 0)
		return NHI_ERR_DB;
	if (s->id_high > high &&
	    reg_exec(x, "INSERT OR REPLACE INTO meta VALUES ('id_high', ?)", "i", s->id_high) < 0)
		return NHI_ERR_DB;
	r = regstate_check_log(x, s, why, sizeof(why));
	if (r != NHI_ERR_STATE)
		return r;
	nerr(x, 0, "warning: %s; recorded in the audit log as event 'log-gap'", why);
	return reg_event(x, "log-gap", x->conf.registry_path, "ok", "%s", why);
}

int regstate_fill(struct nhictl *x, struct reg_state *s, int64_t generation)
{
	sqlite3_stmt *st;
	int r;

	if (reg_int(x, &s->id_high, s->id_high, "SELECT max(CAST(value AS INTEGER), ?) FROM meta "
		    "WHERE key = 'id_high'", "i", s->id_high) < 0 ||
	    reg_int(x, &s->log_count, 0, "SELECT max(id) FROM event", "") < 0)
		return NHI_ERR_DB;
	s->log_head[0] = '\0';
	st = reg_prep(x, "SELECT hash FROM event WHERE id = ?", "i", s->log_count);
	if (st == NULL)
		return NHI_ERR_DB;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		col_cpy(s->log_head, sizeof(s->log_head), st, 0);
	sqlite3_finalize(st);
	s->generation = generation;
	return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : reg_dberr(x);
}

/* the files that show an earlier registry existed, as one list */
static size_t evidence(struct nhictl *x, char *out, size_t len)
{
	char delta[PATH_MAX + 8], state[PATH_MAX];
	const char *files[6];
	size_t i, n = 0, used = 0;
	struct stat st;

	snprintf(delta, sizeof(delta), "%s%s", x->conf.cache_path, NHI_SNAP_DELTA_SUFFIX);
	files[0] = regstate_path(x, state, sizeof(state)) == 0 ? state : NULL;
	files[1] = x->conf.cache_path;
	files[2] = delta;
	files[3] = x->conf.usage_log;
	files[4] = x->conf.token_pepper_file;
	files[5] = x->conf.key_index;
	out[0] = '\0';
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i] == NULL || files[i][0] == '\0' || lstat(files[i], &st) < 0)
			continue;
		if (used < len)
			used += (size_t)snprintf(out + used, len - used, "%s%s", n ? ", " : "",
						 files[i]);
		n++;
	}
	return n;
}

int regstate_missing(struct nhictl *x, const char *how)
{
	char found[4 * PATH_MAX];
	const char *reg = x->conf.registry_path;
	size_t n = evidence(x, found, sizeof(found));

	if (n == 0)
		return 0;   /* a fresh host: first use creates the registry */
	if (x->reg_how == REG_FORCE) {
		nerr(x, 0, "%s is %s but %s %s: starting a new registry (init --force); "
		     "the id high-water mark is kept", reg, how, found, n > 1 ? "exist" : "exists");
		return 0;
	}
	if (x->conf.backend == NHI_BACKEND_LDAP && x->reg_how == REG_CACHE) {
		nerr(x, 0, "%s is %s: backend = ldap, where it is a cache of the directory: "
		     "rebuilding it from the directory", reg, how);
		return 0;
	}
	if (x->conf.backend == NHI_BACKEND_LDAP)
		return nerr(x, NHI_ERR_STATE, "%s is %s but %s %s: run 'nhictl sync' to "
			    "rebuild it from the directory (backend = ldap: it is a cache)",
			    reg, how, found, n > 1 ? "exist" : "exists");
	return nerr(x, NHI_ERR_STATE, "%s is %s but %s %s: restore it from a backup "
		    "(nhictl(8), RESTORE) or run 'nhictl init --force' to start a new, empty "
		    "registry knowingly", reg, how, found, n > 1 ? "exist" : "exists");
}

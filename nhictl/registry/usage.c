/* usage.c - pam_nhi's usage records (usage_log) into the registry:
 * identity.last_used and the usage table.  Used by `audit` and `sync`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "registry.h"

/* Read the whole (trusted) file. */
static int slurp(struct nhictl *x, const char *path, char **out, size_t *len)
{
	char err[PATH_MAX + 128];
	size_t cap = 8192, n = 0;
	char *buf = NULL, *nb;
	ssize_t k;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? NHI_ERR_NOTFOUND
				       : nerr(x, NHI_ERR_IO, "%s: %s", path, strerror(errno));
	if (nhi_check_trusted_fd(fd, path, err, sizeof(err)) < 0) {
		r = nerr(x, NHI_ERR_PERM, "%s", err);
		goto out;
	}
	buf = malloc(cap + 1);
	if (buf == NULL) {
		r = nerr(x, NHI_ERR_NOMEM, "out of memory");
		goto out;
	}
	while ((k = read(fd, buf + n, cap - n)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = nerr(x, NHI_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		n += (size_t)k;
		if (n == cap) {
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				r = nerr(x, NHI_ERR_NOMEM, "out of memory");
				goto out;
			}
			buf = nb;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}

/* usage_log is renamed to usage_log.ingest first, so pam_nhi's next
 * records go to a fresh file and nothing is lost; the renamed file is
 * removed once its records are committed.  A leftover .ingest file from an
 * interrupted run is read again: last_used takes the maximum, so that is
 * harmless. */
int usage_ingest(struct nhictl *x, char *ingest_path, size_t plen, long *records, long *bad)
{
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0;
	struct stat st;
	int r;

	*records = *bad = 0;
	if ((size_t)snprintf(ingest_path, plen, "%s.ingest", x->conf.usage_log) >= plen)
		return nerr(x, NHI_ERR_RANGE, "usage_log path too long");
	if (lstat(ingest_path, &st) < 0) {
		if (errno != ENOENT)
			return nerr(x, NHI_ERR_IO, "%s: %s", ingest_path, strerror(errno));
		if (rename(x->conf.usage_log, ingest_path) < 0) {
			if (errno == ENOENT) {
				ingest_path[0] = '\0';
				return 0;
			}
			return nerr(x, NHI_ERR_IO, "%s: %s", x->conf.usage_log, strerror(errno));
		}
	}
	r = slurp(x, ingest_path, &buf, &len);
	if (r < 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char user[64], svc[128], host[256];
		long long t;
		int64_t id = 0;

		if (sscanf(line, "%lld %63s %127s %255s", &t, user, svc, host) != 4 || t <= 0 ||
		    !nhi_valid_name(user)) {
			(*bad)++;
			continue;
		}
		r = reg_int(x, &id, 0, "SELECT id FROM identity WHERE name = ?", "s", user);
		if (r < 0)
			goto out;
		(*records)++;
		if (id == 0)
			continue;   /* not (or no longer) registered */
		r = reg_exec(x, "UPDATE identity SET last_used = max(last_used, ?) WHERE id = ?",
			     "ii", (int64_t)t, id);
		if (r == 0)
			r = reg_exec(x, "INSERT INTO usage (identity_id, host, service, last_used, count) "
				     "VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT (identity_id, host, service) "
				     "DO UPDATE SET last_used = max(last_used, ?4), count = count + 1",
				     "issi", id, host, svc, (int64_t)t);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	free(buf);
	return r;
}

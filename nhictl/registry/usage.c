/* usage.c - pam_nhi's usage records (usage_log) into the registry:
 * identity.last_used, the usage table, human_use and the credentials'
 * last use and use count.  Used by `audit` and `sync`; usage_append()
 * writes a record of nhictl's own (cred verify).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "secret.h"
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

/* One record: "EPOCH USER SERVICE HOST RHOST" then optional KEY=VALUE
 * words (pam_nhi's record_usage; docs/design.md "Usage records"): ruser=,
 * tty=, human=REASON, key=TYPE:BASE64 (the SSH key sshd accepted), cred=ID
 * (cred verify).  Unknown keys are skipped (a newer pam_nhi); old
 * five-field lines have none. */
struct urec {
	long long at;
	char *user, *svc, *host, *ruser, *tty, *human, *key, *cred;
};

/* Split a record into *u (pointers into line).  0, or -1: malformed. */
static int urec_parse(char *line, struct urec *u)
{
	char *w[5], *tok, *save = NULL, *end;
	int n = 0;

	memset(u, 0, sizeof(*u));
	for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		if (n < 5 && eq == NULL) {
			w[n++] = tok;
			continue;
		}
		if (n < 4 || eq == NULL)
			return -1;
		*eq++ = '\0';
		if (*eq == '\0')
			continue;
		if (strcmp(tok, "ruser") == 0)
			u->ruser = eq;
		else if (strcmp(tok, "tty") == 0)
			u->tty = eq;
		else if (strcmp(tok, "human") == 0)
			u->human = eq;
		else if (strcmp(tok, "key") == 0)
			u->key = eq;
		else if (strcmp(tok, "cred") == 0)
			u->cred = eq;
	}
	if (n < 4)
		return -1;
	errno = 0;
	u->at = strtoll(w[0], &end, 10);
	if (errno != 0 || *end != '\0' || u->at <= 0 || !nhi_valid_name(w[1]) ||
	    strlen(w[2]) > 127 || strlen(w[3]) > 255)
		return -1;
	u->user = w[1];
	u->svc = w[2];
	u->host = w[3];
	return 0;
}

/* The credential a record names: its SSH key (by fingerprint) or its id;
 * its last use and use count.  A key that is no credential of the
 * identity (a key nhi did not issue) changes nothing. */
static int urec_cred(struct nhictl *x, int64_t id, const struct urec *u)
{
	char pub[8192], fp[CRED_FP_MAX];
	const char *colon;

	if (u->cred != NULL)
		return reg_exec(x, "UPDATE credential SET last_used = max(last_used, ?1), "
				"use_count = use_count + 1 WHERE identity_id = ?2 AND cred_id = ?3",
				"iis", (int64_t)u->at, id, u->cred);
	if (u->key == NULL || (colon = strchr(u->key, ':')) == NULL ||
	    (size_t)snprintf(pub, sizeof(pub), "%.*s %s", (int)(colon - u->key), u->key,
			     colon + 1) >= sizeof(pub) ||
	    secret_ssh_fingerprint(pub, fp, sizeof(fp)) < 0)
		return 0;
	return reg_exec(x, "UPDATE credential SET last_used = max(last_used, ?1), "
			"use_count = use_count + 1 WHERE identity_id = ?2 AND kind = 'ssh-key' "
			"AND fingerprint = ?3", "iis", (int64_t)u->at, id, fp);
}

/* One record of a registered identity into the registry.  SERVICE "-"
 * (cred verify) is no login: no usage row (host and service scope are
 * about PAM logins), the identity's and the credential's last use only. */
static int urec_apply(struct nhictl *x, int64_t id, const struct urec *u)
{
	int r;

	r = reg_exec(x, "UPDATE identity SET last_used = max(last_used, ?) WHERE id = ?",
		     "ii", (int64_t)u->at, id);
	if (r == 0 && strcmp(u->svc, "-") != 0)
		r = reg_exec(x, "INSERT INTO usage (identity_id, host, service, last_used, count) "
			     "VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT (identity_id, host, service) "
			     "DO UPDATE SET last_used = max(last_used, ?4), count = count + 1",
			     "issi", id, u->host, u->svc, (int64_t)u->at);
	/* a leftover .ingest file read again must not count a human use twice */
	if (r == 0 && u->human != NULL)
		r = reg_exec(x, "INSERT INTO human_use (identity_id, at, host, service, ruser, tty, "
			     "reason) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE NOT EXISTS (SELECT 1 "
			     "FROM human_use WHERE identity_id = ?1 AND at = ?2 AND host = ?3 AND "
			     "service = ?4 AND ruser = ?5 AND tty = ?6)", "iisssss", id,
			     (int64_t)u->at, u->host, u->svc, u->ruser ? u->ruser : "",
			     u->tty ? u->tty : "", u->human);
	if (r == 0)
		r = urec_cred(x, id, u);
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
		struct urec u;
		int64_t id = 0;

		if (urec_parse(line, &u) < 0) {
			(*bad)++;
			continue;
		}
		r = reg_int(x, &id, 0, "SELECT id FROM identity WHERE name = ?", "s", u.user);
		if (r < 0)
			goto out;
		(*records)++;
		if (id == 0)
			continue;   /* not (or no longer) registered */
		if ((r = urec_apply(x, id, &u)) < 0)
			goto out;
	}
	r = 0;
out:
	free(buf);
	return r;
}

int usage_append(struct nhictl *x, const char *user, const char *cred_id)
{
	char line[512], host[256], err[PATH_MAX + 128];
	int fd, n, r = 0;

	nhi_conf_hostname(&x->conf, host, sizeof(host));
	for (char *p = host; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '=')
			*p = '?';
	if (!nhi_valid_name(user) || !nhi_valid_text(cred_id, CRED_ID_MAX - 1, 1) ||
	    strchr(cred_id, ' ') != NULL)
		return NHI_ERR_INVAL;
	n = snprintf(line, sizeof(line), "%lld %s - %s - cred=%s\n", (long long)x->now, user,
		     host[0] ? host : "-", cred_id);
	if (n < 0 || (size_t)n >= sizeof(line))
		return NHI_ERR_RANGE;
	fd = open(x->conf.usage_log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
		  O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0)
		return errno == EACCES || errno == EPERM || errno == EROFS ? NHI_ERR_PERM : NHI_ERR_IO;
	if (nhi_check_trusted_fd(fd, x->conf.usage_log, err, sizeof(err)) < 0)
		r = NHI_ERR_PERM;
	else if (write(fd, line, (size_t)n) != n)
		r = NHI_ERR_IO;
	close(fd);
	return r;
}

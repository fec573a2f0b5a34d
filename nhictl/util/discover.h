/* discover.h - what a host has (discover.c): its accounts and, for each,
 * the artefacts that let it act (authorized_keys entries, crontab
 * entries, systemd units, sudoers rules, processes, credential files
 * others can read), and the secrets lying around (nhi tokens and private
 * keys in files others can read, secrets in systemd units' Environment=).
 *
 * Everything is read under a root prefix ("" = /): ROOT/etc/passwd,
 * ROOT/etc/shadow and ROOT/etc/group, not NSS, so a chroot or an image is
 * scanned as it is.  Processes (/proc) only when root is "".
 *
 * Bounded: files are opened with O_NOFOLLOW, symlinks are never followed
 * (neither while walking nor at the end of a path looked at), files
 * larger than max_size are skipped (each reported), a walk goes at most
 * DISC_DEPTH_MAX directories deep; what cannot be read is a note, not a
 * failure.  "Readable by others": mode & 004, or mode & 040 with a group
 * other than the owning account's primary group.  Only such files are
 * searched for secrets.  Nothing here keeps or prints a secret's value:
 * a finding names the file, the line and the kind.
 */
#ifndef NHICTL_DISCOVER_H
#define NHICTL_DISCOVER_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include "nhictl.h"

#define DISC_DEPTH_MAX 32

/* An artefact of one account. */
enum disc_art {
	DISC_AKEY,       /* authorized_keys entry: text "type", key "type blob" */
	DISC_CRON,       /* crontab entry: text = the schedule (not the command) */
	DISC_UNIT,       /* systemd unit setting User= */
	DISC_SUDO,       /* sudoers rule naming it: text = the rule */
	DISC_PROC,       /* a process: line = pid, text = comm */
	DISC_CRED,       /* a credential file others can read: text = the kind */
};

struct disc_item {
	enum disc_art kind;
	char *path;
	long line;
	char *text;
	char *key;       /* DISC_AKEY: "type base64" (public, to compare) */
	char *from;      /* DISC_AKEY: the from= value, NULL = none */
	char *options;   /* DISC_AKEY: the option names, comma-separated ("" none) */
	int command;     /* DISC_AKEY: has command= */
	unsigned mode;   /* DISC_CRED: the file's mode */
};

struct disc_account {
	char *name, *home, *shell;
	uint32_t uid, gid;
	int service;     /* nhi_classify_static or a service_groups member */
	int system;      /* uid 1..SYS_UID_MAX or 65534 (not root) */
	int login_shell; /* a shell that is not nologin/false */
	int password;    /* a usable password hash in shadow (1), empty (2) */
	struct disc_item *items;
	size_t n_items, cap_items;
};

/* A secret lying around, or a unit's problem. */
enum disc_leak_kind {
	DISC_TOKEN,          /* an nhi token (checksum verified) */
	DISC_PRIVKEY,        /* a PEM or OpenSSH private key */
	DISC_UNIT_ENV,       /* a secret in a unit's Environment= line */
	DISC_UNIT_DROPIN,    /* a drop-in with Environment= others can read */
	DISC_UNIT_WRITABLE,  /* a unit or drop-in others can write */
};

struct disc_leak {
	enum disc_leak_kind kind;
	char *path;
	long line;
	char *what;          /* "token", "OPENSSH private key", "variable DB_PASSWORD" */
	unsigned mode;
};

struct disc_note {
	char *path;
	char *why;           /* "permission denied", "skipped: 2000000 bytes > discover_max_size" */
	int skipped;         /* 1: a file over max_size */
};

struct disc {
	const char *root;    /* "" or the root without a trailing '/' */
	char rootbuf[PATH_MAX];
	struct disc_account *acc;
	size_t n_acc;
	struct disc_leak *leaks;
	size_t n_leaks, cap_leaks;
	struct disc_note *notes;
	size_t n_notes, cap_notes;
	long files_seen, files_read;
	int procs;           /* processes were scanned (root "") */
};

/* Scan the host under root with the configuration's classification and
 * discover_paths / discover_max_size; procs: also /proc (root "" only).
 * 0, or NHI_ERR_NOMEM / NHI_ERR_IO (ROOT/etc/passwd unreadable) printed. */
int disc_scan(struct nhictl *x, const char *root, int procs, struct disc *d);
void disc_free(struct disc *d);
/* The account of a name, NULL if none. */
struct disc_account *disc_account(const struct disc *d, const char *name);

#endif

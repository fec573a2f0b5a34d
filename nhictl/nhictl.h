/* nhictl.h - the context every layer of nhictl is given (struct nhictl)
 * and the exit codes.
 *
 * nhictl is the only writer of the registry (registry.db) and of the
 * snapshot (nhi.cache).  Every verb lives in a cmd_<group>.c file and is
 * listed in the table of nhictl.c.  A verb returns its exit code:
 *
 *   0  done (also: nothing to do, e.g. suspending a suspended identity)
 *   1  failed: refused by validation or policy, not found, I/O, database
 *   2  usage: unknown option, missing or malformed argument (a name, time
 *      or duration that does not parse)
 *
 * `check` answers 0 allowed, 1 denied, 2 error.  With the global option
 * --changed-exit=N a verb that changed the registry exits N instead of 0
 * (for configuration management).
 */
#ifndef NHICTL_H
#define NHICTL_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <sqlite3.h>
#include "nhi_conf.h"
#include "nhi_err.h"
#include "nhi_time.h"
#include "nhi_snapshot.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_FINDINGS 3   /* audit --fail-on: a finding at or above the level */

struct store_ops;

struct nhictl {
	struct nhi_conf conf;
	const struct store_ops *store;   /* the backend's (store.h), chosen once */
	sqlite3 *db;
	time_t now;
	const char *verb;        /* for messages */
	int json;                /* --json given (globally or to the verb) */
	int changed;             /* a transaction was committed */
	int changed_exit;        /* --changed-exit N, 0 = off */
	char actor[96];          /* who runs nhictl, for the audit log */
	const char *conf_path;   /* -c FILE; NULL: the default */
	int reg_how;             /* a missing registry.db: REG_USE, REG_FORCE, REG_CACHE */
	int reg_created;         /* reg_open() created registry.db */
	int want_write;          /* the verb changes the registry (reg_open) */
	int db_readonly;         /* registry.db opened read-only: its filesystem is */
	/* the intent journal (registry/intent.c): this run's intents not yet
	 * matched by their audit events, innermost last (a retire's cascade
	 * announces its grant removals inside the retire's), each with its
	 * row, its event's action and target, and whether the directory
	 * refused the write it announced (nothing changed) */
	struct {
		int64_t row;
		char action[32], target[256];
		int refused;
	} intents[8];
	int n_intents;
	/* the directory did not answer a write (a timeout, the connection
	 * lost: ldap/dirmap.c dir_referral): it may have landed.  Cleared by
	 * each reg_intent; reg_intent_void then leaves the intent for the
	 * next run's recovery, which asks the directory. */
	int write_unsure;
	int tx_changes;          /* sqlite3_total_changes() at the last BEGIN */
};

/* How reg_open() treats a missing registry.db (regstate.c): create it on
 * a fresh host only (REG_USE); also over the state of a lost one
 * (REG_FORCE: init --force); with backend = ldap, as a cache the directory
 * fills again (REG_CACHE: sync). */
enum { REG_USE = 0, REG_FORCE, REG_CACHE };


#endif

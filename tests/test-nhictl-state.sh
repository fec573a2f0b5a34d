#!/bin/bash
# Losing registry.db is noticed, never papered over: with a snapshot or
# other nhi state left, every verb that opens the registry refuses (one
# line, exit 1, nothing created, the snapshot untouched) until it is
# restored or `nhictl init --force` starts anew; the id high-water mark
# and the audit chain's head live in registry.state beside it, so a
# registry restored from an older backup or recreated never hands out a
# uid again and `log --verify` says events were lost.  `nhictl backup`
# makes the backups (SQLite's online backup, verified, 0600, atomic).
# The real nhictl binary, the test world of tests/common.sh.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
ST=$T/state DB=$T/state/registry.db
uid_of() { nhictl show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["uid"])'; }
# what the state directory holds, with sizes and checksums
stfp() { (cd "$ST" && for f in $(ls -A | sort); do echo "$f $(md5sum <"$f")"; done); }

# ---- a fresh host: first use creates the registry, as before ----
expect 0 "fresh state dir: list works" nhictl list
check "and created registry.db" test -f "$DB"
expect 0 "create svc-a" nhictl create svc-a --owner alice --expires +30d
expect 0 "create svc-b" nhictl create svc-b --owner alice --expires +30d
check "registry.state written beside registry.db, 0600" \
	test "$(stat -c %a "$ST/registry.state")" = 600
uid_b=$(uid_of svc-b)
has_state() { grep -qx "$1" "$ST/registry.state"; }
check "registry.state: id_high is svc-b's uid ($uid_b)" has_state "id_high $uid_b"
check "registry.state: log_count is the chain's length" \
	has_state "log_count $(sqlite3 "$DB" 'SELECT count(*) FROM event')"
check "registry.state: log_head is the newest event's hash" \
	has_state "log_head $(sqlite3 "$DB" 'SELECT hash FROM event ORDER BY id DESC LIMIT 1')"

# ---- backup ----
expect 0 "backup FILE" nhictl backup "$T/b1.db"
has out "backup says what it copied" "^backup $T/b1.db: [0-9]+ bytes, 2 identities, [0-9]+ events, .*integrity ok"
eqv "the backup is 0600" 600 "$(stat -c %a "$T/b1.db")"
eqv "the backup passes integrity_check" ok "$(sqlite3 "$T/b1.db" 'PRAGMA integrity_check')"
eqv "the backup is one file (rollback journal, no -wal)" "delete " \
	"$(sqlite3 "$T/b1.db" 'PRAGMA journal_mode') $(ls "$T" | grep -c 'b1.db-' | grep -v '^0$')"
eqv "the backup holds the identities" "svc-a svc-b" "$(sqlite3 "$T/b1.db" 'SELECT name FROM identity ORDER BY name' | xargs)"
check "no temp file left" bash -c "! ls '$T' | grep -q 'b1.db.tmp'"
sum=$(md5sum <"$T/b1.db")
fails backup 1 "an existing FILE is refused" "$T/b1.db exists \\(--force replaces it\\)" \
	nhictl backup "$T/b1.db"
eqv "and left as it was" "$sum" "$(md5sum <"$T/b1.db")"
fails backup 1 "a directory as FILE is refused" "exists and is a directory" nhictl backup --force "$T"
fails backup 1 "a FILE in a missing directory" "$T/nodir/b.db.tmp.*: No such file" \
	nhictl backup "$T/nodir/b.db"
expect 0 "backup --force --json replaces it" nhictl backup --force --json "$T/b2.db"
expect 0 "backup --force --json over an existing file" nhictl backup --force --json "$T/b1.db"
eqv "backup --json" "$T/b1.db 2 ok True" \
	"$(pyjson 'd["path"], d["identities"], d["integrity"], d["bytes"] > 0' | tr -d "(),'")"
eqv "still 0600 after --force" 600 "$(stat -c %a "$T/b1.db")"
fails backup 2 "backup without FILE is a usage error" "missing FILE" nhictl backup

# ---- restore an older backup: uids stay retired, the log says what is lost ----
expect 0 "create svc-c" nhictl create svc-c --owner alice --expires +30d
expect 0 "create svc-d" nhictl create svc-d --owner alice --expires +30d
expect 0 "retire svc-d" nhictl retire svc-d --reason "gone"
uid_d=$(uid_of svc-d)
events=$(sqlite3 "$DB" 'SELECT count(*) FROM event')
old_events=$(sqlite3 "$T/b1.db" 'SELECT count(*) FROM event')
rm -f "$DB" "$DB-wal" "$DB-shm"
cp "$T/b1.db" "$DB"
fails log 1 "log --verify after restoring an older backup: the head does not match" \
	"audit log incomplete: .*registry.state recorded $events events .*holds $old_events.*events $((old_events + 1))\\.\\.$events are lost" \
	nhictl log --verify
expect 1 "log --verify --json" nhictl log --verify --json
eqv "--json: not intact" False "$(pyjson 'd["intact"]')"
expect 0 "the restored registry serves: create svc-e" nhictl create svc-e --owner alice --expires +30d
uid_e=$(uid_of svc-e)
check "svc-e's uid $uid_e is above the high-water mark (retired svc-d had $uid_d)" \
	test "$uid_e" -gt "$uid_d"
has err "the change records the gap, with a warning" "warning: .*recorded in the audit log as event 'log-gap'"
expect 0 "log --verify: intact again, the gap is in the chain" nhictl log --verify
expect 0 "log" nhictl log
has out "the log-gap event says what was lost" "log-gap $DB ok .*events $((old_events + 1))\\.\\.$events are lost"

# ---- registry.db lost: every verb refuses, nothing is created ----
expect 0 "publish" nhictl publish
rm -f "$DB" "$DB-wal" "$DB-shm"
before=$(stfp)
lost="$DB is missing but $ST/registry.state, $ST/nhi.cache.* exist: restore it from a backup .*'nhictl init --force'"
for v in "list" "show svc-a" "log" "log --verify" "create svc-x --owner alice --expires +1d" \
	"extend svc-a --expires +5d" "suspend svc-a" "retire svc-a" "publish" "audit" \
	"cred list svc-a" "group list" "backup $T/b3.db" "init"; do
	read -ra args <<<"$v"
	fails "${args[0]}" 1 "registry.db lost: '$v' refuses" "$lost" nhictl "${args[@]}"
done
eqv "nothing was created, the snapshot is unchanged" "$before" "$(stfp)"
check "no backup written" test ! -e "$T/b3.db"
expect 0 "nhictl check still answers from the snapshot" nhictl check svc-a

# ---- a 0-byte registry.db is no registry either (SQLite would take it
# for a new, empty one, and the next publish would empty the snapshot) ----
: >"$DB"
before=$(stfp)
empty="$DB is empty \\(0 bytes\\) but $ST/registry.state, $ST/nhi.cache.* exist: restore it from a backup"
for v in "list" "publish" "log --verify" "init"; do
	read -ra args <<<"$v"
	fails "${args[0]}" 1 "registry.db emptied: '$v' refuses" "$empty" nhictl "${args[@]}"
done
eqv "nothing changed: registry.db still 0 bytes, the snapshot as it was" "$before" "$(stfp)"
expect 0 "nhictl check still answers from the snapshot" nhictl check svc-a
has out "svc-a still allowed" "allow"
rm -f "$DB"

# ---- init --force starts anew knowingly ----
expect 0 "init --force" nhictl init --force
has err "it says what it does" "$DB is missing but .* exist: starting a new registry \\(init --force\\); the id high-water mark is kept"
has out "and that it created the registry" "^registry $DB created"
expect 0 "log --verify after init --force: intact" nhictl log --verify
eqv "the new log: init, then the gap" "init log-gap" "$(sqlite3 "$DB" 'SELECT action FROM event ORDER BY id' | xargs)"
expect 0 "create svc-f in the new registry" nhictl create svc-f --owner alice --expires +30d
check "svc-f's uid $(uid_of svc-f) is above svc-e's $uid_e" test "$(uid_of svc-f)" -gt "$uid_e"
expect 0 "init on an existing registry: unchanged" nhictl --changed-exit 3 init
has out "says so" "^registry $DB exists \\(schema version [0-9]+\\): unchanged"
expect 0 "init --force on an existing registry: unchanged too" nhictl init --force --json
eqv "init --json" "False" "$(pyjson 'd["created"]')"

# ---- any nhi state counts; a fresh directory does not ----
rm -f "$DB" "$DB-wal" "$DB-shm" "$ST"/nhi.cache* "$ST"/authorized_keys.idx
fails list 1 "registry.state alone: refused" "$DB is missing but $ST/registry.state exists" nhictl list
check "nothing created" test ! -e "$DB"
mkdir "$T/fresh"
printf 'state_dir = %s\n' "$T/fresh" >"$T/etc/fresh.conf"
expect 3 "init on a fresh host: created (--changed-exit 3)" nhictl -c "$T/etc/fresh.conf" --changed-exit 3 init --json
eqv "init --json: created" "True" "$(pyjson 'd["created"]')"
check "registry.state written" test -f "$T/fresh/registry.state"
chmod 666 "$T/fresh/registry.state"
fails create 1 "a registry.state others may write is not trusted" "registry.state: not trusted" \
	nhictl -c "$T/etc/fresh.conf" create svc-g --owner alice --expires +1d
chmod 600 "$T/fresh/registry.state"
echo "id_high x" >>"$T/fresh/registry.state"
fails create 1 "a malformed registry.state names file:line" "registry.state:7: malformed line 'id_high x'" \
	nhictl -c "$T/etc/fresh.conf" create svc-g --owner alice --expires +1d
: >"$T/fresh/registry.state"
for v in "log --verify" "create svc-g --owner alice --expires +1d"; do
	read -ra args <<<"$v"
	fails "${args[0]}" 1 "an empty registry.state: '$v' refuses (it would skip the head check)" \
		"registry.state: incomplete \\(no id_high line\\)" nhictl -c "$T/etc/fresh.conf" "${args[@]}"
done
printf 'id_high 5\nlog_count 1\n' >"$T/fresh/registry.state"
fails log 1 "a registry.state without log_head: refused" "incomplete \\(no log_head line\\)" \
	nhictl -c "$T/etc/fresh.conf" log --verify

# ---- backend = ldap: registry.db is a cache; sync rebuilds it ----
if command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ]; then
	set +u; . "$top_srcdir/tests/slapd.sh"; set -u
	ldap_hermetic
	slapd_start >/dev/null || { nok "slapd did not start"; finish; }
	slapd_conf "$T/etc/ldap.conf" "$T/state-ldap"
	expect 0 "ldap: sync on a fresh host" nhictl -c "$T/etc/ldap.conf" sync
	rm -f "$T/state-ldap/registry.db"*
	fails list 1 "ldap: registry.db lost: list says to sync" \
		"registry.db is missing but .*nhi.cache.* exist: run 'nhictl sync' to rebuild it" \
		nhictl -c "$T/etc/ldap.conf" list
	expect 0 "ldap: sync rebuilds the cache" nhictl -c "$T/etc/ldap.conf" sync
	has err "and says so" "registry.db is missing: backend = ldap, where it is a cache of the directory: rebuilding it"
	expect 0 "ldap: list works again" nhictl -c "$T/etc/ldap.conf" list
	slapd_stop
else
	echo "# slapd not installed: the backend = ldap part not run"
fi

# ---- a hardened umask: the state directory is still reachable by all ----
U=$T/umask/var/lib/nhi
printf 'state_dir = %s\nhost = testhost\n' "$U" >"$T/etc/umask.conf"
mask=$(umask); umask 077
nrun nhictl -c "$T/etc/umask.conf" create svc-u --owner alice --expires +30d
umask "$mask"
eqv "umask 077: create works" 0 "$rc"
eqv "... and the directories it made are 0755, not 0700" "755 755 755 755" \
	"$(stat -c %a "$T/umask" "$T/umask/var" "$T/umask/var/lib" "$U" | xargs)"
eqv "... the snapshot 0644, the registry 0600" "644 600" "$(stat -c %a "$U/nhi.cache" "$U/registry.db" | xargs)"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	check "... so a process that is not root reads the snapshot" \
		sh -c 'setpriv --reuid=65534 --regid=65534 --clear-groups cat "$1" >/dev/null' _ "$U/nhi.cache"
fi
chmod 700 "$T/umask/var"
nrun nhictl -c "$T/etc/umask.conf" list
eqv "a state directory that others cannot reach: still works" 0 "$rc"
has err "... with a warning naming the directory and the fix" \
	"warning: $T/umask/var is mode 0700: only root can reach the snapshot .*chmod o\+x $T/umask/var"
chmod 755 "$T/umask/var"

# ---- a state directory someone else could change: refused before writing --
# (a directory on the way owned by another user, or writable by a group:
# that user could swap the registry or the snapshot; publish would refuse
# only after the commit).  A sticky world-writable one (/tmp) is fine.
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$T/u/own" "$T/u/grp" "$T/u/sticky"
	chown 54321 "$T/u/own"
	chmod 775 "$T/u/grp"
	chmod 1777 "$T/u/sticky"
	for d in own grp sticky; do
		printf 'state_dir = %s\nhost = testhost\n' "$T/u/$d/var/nhi" >"$T/etc/u-$d.conf"
	done
	fails create 1 "state_dir under a directory another user owns: refused, one line" \
		"state_dir $T/u/own/var/nhi: directory $T/u/own belongs to uid 54321, who could swap what it holds .*\(nothing written\)" \
		nhictl -c "$T/etc/u-own.conf" create svc-u --owner alice --expires +30d
	check "... nothing written there (no state directory made)" test ! -e "$T/u/own/var"
	fails create 1 "state_dir under a group-writable directory: refused" \
		"state_dir $T/u/grp/var/nhi: directory $T/u/grp is writable by others \(owner uid 0, mode 0775\)" \
		nhictl -c "$T/etc/u-grp.conf" create svc-u --owner alice --expires +30d
	check "... nothing written there" test ! -e "$T/u/grp/var"
	fails list 1 "a reading verb that would make the registry: refused too" \
		"directory $T/u/own belongs to uid 54321" nhictl -c "$T/etc/u-own.conf" list
	nrun nhictl config check "$T/etc/u-own.conf"
	eqv "config check: exit 1" 1 "$rc"
	has out "config check names state_dir and the directory, [modules]" \
		"^$T/etc/u-own.conf: state_dir $T/u/own/var/nhi: directory $T/u/own belongs to uid 54321, .*: nhictl refuses to write there and pam_nhi and nss_nhi refuse its snapshot \[modules\]$"
	expect 0 "state_dir under a sticky world-writable directory (as /tmp): create works" \
		nhictl -c "$T/etc/u-sticky.conf" create svc-u --owner alice --expires +30d
	expect 0 "... and config check says ok" nhictl config check "$T/etc/u-sticky.conf"
	# the directory made writable by others after the registry was made
	chmod 777 "$T/u/sticky/var"
	fails suspend 1 "state_dir that became writable by others: the next writing verb refuses" \
		"directory $T/u/sticky/var is writable by others \(owner uid 0, mode 0777\)" \
		nhictl -c "$T/etc/u-sticky.conf" suspend svc-u
	eqv "... and changed nothing" active \
		"$(sqlite3 "$T/u/sticky/var/nhi/registry.db" "SELECT state FROM identity WHERE name = 'svc-u'")"
	chmod 755 "$T/u/sticky/var"
else
	echo "# skip: state_dir ownership (needs root to chown)"
fi

# ---- a read-only filesystem, a full disk: said, and reading still works ----
# (a private mount namespace: the state directory bound read-only over
# itself, or copied into a full tmpfs; not under ASan, as test-nhictl-usage)
if [ "$(id -u)" = 0 ] && [ -z "${NHI_ASAN_LIB:-}" ] &&
	unshare -m --propagation private true 2>/dev/null; then
	R=$T/ro F=$T/full
	mkdir -p "$F"
	printf 'state_dir = %s\nhost = testhost\n' "$R" >"$T/etc/ro.conf"
	printf 'state_dir = %s\nhost = testhost\n' "$F" >"$T/etc/full.conf"
	expect 0 "ro: create svc-r" nhictl -c "$T/etc/ro.conf" create svc-r --owner alice --expires +30d
	# in-ns SETUP CMD...: CMD in a private mount namespace after SETUP
	printf '#!/bin/sh\nsetup=$1; shift\nexec unshare -m --propagation private sh -c "$setup"'"'"' && exec "$@"'"'"' in-ns "$@"\n' >"$T/in-ns"
	chmod +x "$T/in-ns"
	ro="mount --bind $R $R && mount -o remount,bind,ro $R"
	nro() { NHICTL=$T/in-ns nhictl "$ro" "$NHICTL" -c "$T/etc/ro.conf" "$@"; }
	expect 0 "read-only state dir: list works" nro list
	has out "... and shows svc-r" "^svc-r "
	expect 0 "read-only: show --json" nro show svc-r --json
	expect 0 "read-only: log --verify" nro log --verify
	fails create 1 "read-only: create says why, one line" \
		"$R is on a read-only filesystem: 'create' changes the registry \(remount it read-write\)" \
		nro create svc-r2 --owner alice --expires +30d
	fails suspend 1 "read-only: suspend too" "read-only filesystem: 'suspend' changes" nro suspend svc-r
	fails publish 1 "read-only: publish names the filesystem" "Read-only file system" nro publish
	check "... nothing left in the state dir by the read-only runs" test ! -e "$R/registry.db-wal"
	# a committed transaction still in the write-ahead log (a writer that
	# died before its checkpoint): an immutable read would miss it
	python3 -c 'import os,sqlite3,sys
c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA wal_autocheckpoint = 0")
c.execute("UPDATE identity SET purpose = ? WHERE name = ?", ("in the wal", "svc-r")); c.commit()
os._exit(0)' "$R/registry.db"
	check "... (the write-ahead log holds it)" test -s "$R/registry.db-wal"
	fails list 1 "read-only with a write-ahead log: refused, not read stale" \
		"read-only filesystem and $R/registry.db-wal holds changes not yet in registry.db" nro list
	expect 0 "read-write again: show has the change" nhictl -c "$T/etc/ro.conf" show svc-r --json
	eqv "... the purpose from the log" "in the wal" "$(pyjson 'd["purpose"]')"
	# a full disk: the state copied into a 1 MiB tmpfs, then filled
	full="mount -t tmpfs -o size=1m nhi-full $F && cp -a $R/. $F/ && { dd if=/dev/zero of=$F/fill bs=4k >/dev/null 2>&1; true; }"
	nfull() { NHICTL=$T/in-ns nhictl "$full" "$NHICTL" -c "$T/etc/full.conf" "$@"; }
	fails create 1 "a full disk: the cause named, one line" "No space left on device|disk is full" \
		nfull create svc-f --owner alice --expires +30d
else
	echo "# skip: read-only filesystem and full disk (need root, unshare -m, no ASan)"
fi
finish

#!/bin/bash
# nhictl config check [FILE]: every problem of nhi.conf, one line each as
# FILE:LINE: message (owner/mode included), exit 0 clean / 1 problems /
# 2 usage, --json; it runs where every other verb refuses the file.  And
# nhictl check without a usable snapshot: 'unavailable', exit 2.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"

E=$T/etc
printf 'state_dir = %s\nhost = testhost\n' "$T/state" > "$E/good.conf"
cat > "$E/bad.conf" <<C
# four problems and a good line
state_dir = $T/state
frobnicate = 1
max_lifetime = 90
just words
uid_min = abc
C
chmod 644 "$E/good.conf" "$E/bad.conf"

expect 0 "good file: exit 0" "$NHICTL" config check "$E/good.conf"
has out "good file: says ok" "^$E/good.conf: ok$"
expect 0 "good file by -c" "$NHICTL" -c "$E/good.conf" config check
expect 0 "good file by NHI_CONF" env NHI_CONF="$E/good.conf" "$NHICTL" config check

expect 1 "bad file: exit 1" "$NHICTL" config check "$E/bad.conf"
has out "unknown key, with file:line" "^$E/bad.conf:3: unknown key 'frobnicate' \[modules\]$"
has out "nhictl-only key: its value, not marked [modules]" \
	"^$E/bad.conf:4: bad value for 'max_lifetime': bad duration '90': missing unit \(s, m, h, d or w\)$"
has out "line without '='" "^$E/bad.conf:5: expected 'key = value' \[modules\]$"
has out "bad value names the value read" "^$E/bad.conf:6: bad value for 'uid_min' \('abc'\): "
eqv "every problem listed, one line each" 4 "$(wc -l < "$T/out")"
has err "a summary on stderr" "^nhictl: config: $E/bad.conf: 4 problems, 3 of them \[modules\]"
# every other verb still refuses it, naming the first problem
fails list 1 "list refuses the bad file" "bad.conf:3: unknown key 'frobnicate'" nhictl -c "$E/bad.conf" list

# trust: reported with the rest
cp "$E/bad.conf" "$E/loose.conf"; chmod 664 "$E/loose.conf"
expect 1 "group-writable: exit 1" "$NHICTL" config check "$E/loose.conf"
has out "group-writable: reported" "^$E/loose.conf: not trusted: writable by group or others \(mode 0664\) \[modules\]$"
eqv "group-writable: and the lines still checked" 5 "$(wc -l < "$T/out")"
cp "$E/good.conf" "$E/loose2.conf"; chmod 666 "$E/loose2.conf"
expect 1 "world-writable, otherwise good: exit 1" "$NHICTL" config check "$E/loose2.conf"
# trust of the directories above it (as OpenSSH's safe_path): a group-
# writable parent makes a good file untrusted; sticky is no excuse
mkdir -p "$T/shared/etc" && cp "$E/good.conf" "$T/shared/etc/nhi.conf"
expect 0 "good file below safe directories: list works" nhictl -c "$T/shared/etc/nhi.conf" list
chmod 775 "$T/shared"
fails list 1 "a group-writable parent: list refuses the file" \
	"$T/shared/etc/nhi.conf: not trusted: directory $T/shared is writable by group or others \(mode 0775\)" \
	nhictl -c "$T/shared/etc/nhi.conf" list
expect 1 "config check reports it" "$NHICTL" config check "$T/shared/etc/nhi.conf"
has out "config check: the directory named" "directory $T/shared is writable by group or others \(mode 0775\) \[modules\]$"
chmod 1777 "$T/shared"
expect 0 "a sticky world-writable parent of root's (as /tmp): trusted" nhictl -c "$T/shared/etc/nhi.conf" list
chown 65534 "$T/shared"
fails list 1 "a sticky world-writable parent that is not root's: refused" \
	"directory $T/shared is owned by uid 65534, not root" nhictl -c "$T/shared/etc/nhi.conf" list
chown 0 "$T/shared"
chmod 755 "$T/shared"
# a snapshot below such a directory: nhictl check calls it unavailable
cp "$E/good.conf" "$E/snapdir.conf"
printf 'cache_path = %s\n' "$T/shared/etc/nhi.cache" >> "$E/snapdir.conf"
expect 0 "create (snapshot below $T/shared)" nhictl -c "$E/snapdir.conf" create svc-dirs --owner alice --expires +30d
expect 0 "check: allowed" nhictl -c "$E/snapdir.conf" check svc-dirs
chmod 775 "$T/shared"
expect 2 "check: snapshot below a group-writable directory: unavailable" \
	nhictl -c "$E/snapdir.conf" check svc-dirs
has err "check says why" "directory $T/shared is writable by group or others"
chmod 755 "$T/shared"
# a check across keys
printf 'ca_cert = /etc/nhi/ca.pem\n' > "$E/ca.conf"; chmod 644 "$E/ca.conf"
expect 1 "ca_cert without ca_key: exit 1" "$NHICTL" config check "$E/ca.conf"
has out "ca_cert without ca_key: named" "^$E/ca.conf: ca_cert and ca_key go together"

# --json
expect 1 "--json: exit 1" "$NHICTL" config check --json "$E/bad.conf"
eqv "--json: ok false, 4 problems" "False 4" "$(pyjson 'd["ok"], len(d["problems"])')"
eqv "--json: lines" "[3, 4, 5, 6]" "$(pyjson '[p["line"] for p in d["problems"]]')"
eqv "--json: which break the modules" "[True, False, True, True]" "$(pyjson '[p["modules"] for p in d["problems"]]')"
eqv "--json: the file" "$E/bad.conf" "$(pyjson 'd["file"]')"
expect 0 "--json (global): clean file" "$NHICTL" --json config check "$E/good.conf"
eqv "--json: ok true, no problems" "True []" "$(pyjson 'd["ok"], d["problems"]')"

# missing files: the default one may be absent, a named one (-c, the
# argument, NHI_CONF) may not
expect 0 "missing default file: fine" clean_statedir env -u NHI_CONF "$NHICTL" config check
has out "missing default file: says so" "^$NHI_BUILTIN_CONF: not present: every key has its default$"
expect 1 "NHI_CONF naming a missing file: exit 1" env NHI_CONF="$E/none.conf" "$NHICTL" config check
has out "NHI_CONF naming a missing file: says so" "^$E/none.conf: no such file"
expect 1 "missing named file: exit 1" "$NHICTL" config check "$E/none.conf"
has out "missing named file: says so" "^$E/none.conf: no such file"

# usage
fails config 2 "no subcommand" "missing subcommand 'check'" "$NHICTL" config
fails config 2 "unknown subcommand" "unknown subcommand 'frob'" "$NHICTL" config frob
fails config 2 "two files" "unexpected argument" "$NHICTL" config check "$E/good.conf" "$E/bad.conf"
fails config 2 "unknown option" "unknown option" "$NHICTL" config check --frob
expect 0 "--help" "$NHICTL" config --help
has out "--help: the exit codes" "exit status: 0 no problem, 1 problems found, 2 usage"

# the Ansible example validates the file it writes with exactly this
v=$(sed -n "s/^ *validate: \(nhictl config .*\)/\1/p" "$top_srcdir/examples/ansible/nhi.yml")
eqv "the Ansible example validates with config check" "nhictl config check %s" "$v"
cmd=${v#nhictl }
expect 1 "that validation refuses the bad file" "$NHICTL" ${cmd/\%s/$E/bad.conf}
expect 0 "and passes the good one" "$NHICTL" ${cmd/\%s/$E/good.conf}

# nhictl check without a snapshot: unavailable, exit 2 (not "ignore", 0)
expect 2 "check, no snapshot, a human: exit 2" nhictl check alice
has out "check, no snapshot: unavailable" "^alice: unavailable \(snapshot-unavailable\)$"
has out "check, no snapshot: what pam_nhi does meanwhile" "pam_nhi meanwhile: ignore \(not-a-service-account\)"
expect 2 "check --json, no snapshot: exit 2" nhictl check --json legacy-svc
eqv "check --json, no snapshot: decision" "unavailable unavailable snapshot-unavailable" \
	"$(pyjson '" ".join([d["decision"], d["would"], d["reason"]])')"
expect 0 "setup: create svc-a" nhictl create svc-a --owner alice --expires +30d
expect 0 "check with the snapshot: alice ignored again" nhictl check alice
expect 0 "check with the snapshot: svc-a allowed" nhictl check svc-a

# ---- people the classification would make service accounts ----
# (the test world's accounts through nss_wrapper: alice, bob, carol and
# dave in login.defs' human range, legacy-svc below it)
lo=$(awk '$1 == "UID_MIN" { print $2 }' /etc/login.defs 2>/dev/null); lo=${lo:-1000}
hi=$(awk '$1 == "UID_MAX" { print $2 }' /etc/login.defs 2>/dev/null); hi=${hi:-60000}
humans() {  # humans NAME "KEY = VALUE": a copy of the test's nhi.conf with that line
	{ cat "$NHI_CONF"; echo "$2"; } >"$E/$1.conf"
	nrun nhictl config check "$E/$1.conf"
}
humans names 'service_names = a*'
eqv "service_names 'a*': exit 1" 1 "$rc"
has out "  ... names alice, the rule and the range" \
	"^$E/names.conf: service_names 'a\*' makes alice \(uid 1000, in the human range $lo..$hi of /etc/login.defs\) a service account that is not registered: pam_nhi refuses its logins$"
eqv "  ... and only alice" 1 "$(wc -l <"$T/out")"
has err "  ... the summary says people would be locked out" "^nhictl: config: $E/names.conf: 1 person the configuration makes service accounts: pam_nhi would lock them out"
humans range 'uid_min = 1000'
eqv "uid_min = 1000: exit 1, alice, bob, carol and dave" "1 4" "$rc $(grep -c 'uid_min..uid_max (1000\.\.' "$T/out")"
humans uids 'service_uids = 1001'
has out "service_uids = 1001: bob" "^$E/uids.conf: service_uids 1001-1001 makes bob \(uid 1001"
humans groups 'service_groups = carol'
has out "service_groups = carol: carol (her primary group)" "^$E/groups.conf: service_groups 'carol' makes carol \(uid 1002"
humans below 'service_names = legacy-*'
eqv "a rule that matches only accounts below the human range: ok" "0 $E/below.conf: ok" "$rc $(cat "$T/out")"
# a person registered on purpose (in the snapshot) is not reported
humans dave 'service_names = dave'
eqv "service_names = dave, dave not registered: exit 1" 1 "$rc"
expect 0 "adopt dave (--force: outside the test's classification)" nhictl adopt dave --owner alice --expires +30d --force
humans dave 'service_names = dave'
eqv "  ... registered: ok" "0 $E/dave.conf: ok" "$rc $(cat "$T/out")"
finish

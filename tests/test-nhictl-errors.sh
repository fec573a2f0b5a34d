#!/bin/bash
# nhictl's bad-input errors: each is one line "nhictl: VERB: ..." on stderr,
# nothing on stdout, exit 2 for usage (options, malformed names, times and
# durations) and 1 for refusals, and nothing is half-written.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
ST=$T/state

expect 0 "setup: create svc-a" nhictl create svc-a --owner alice --expires +30d
expect 0 "setup: create svc-old" nhictl create svc-old --owner alice --expires +30d
expect 0 "setup: retire svc-old" nhictl retire svc-old
snap_before=$(cat "$ST/nhi.cache" "$ST/nhi.cache.delta" | md5sum)
db_state() {
	sqlite3 "$ST/registry.db" "SELECT (SELECT count(*) FROM identity), (SELECT count(*) FROM event),
		(SELECT value FROM meta WHERE key = 'generation'), (SELECT count(*) FROM grp),
		(SELECT group_concat(name || state || owner || expires, ';') FROM identity)"
}
before=$(db_state)

# ---- global ----
nrun nhictl
eqv "no verb: exit 2" 2 "$rc"
nrun nhictl frob
if [ "$rc" -eq 2 ] && grep -q "^nhictl: unknown verb 'frob'" "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ]; then
	ok "unknown verb: one line, exit 2"; else nok "unknown verb: $rc $(cat "$T/err")"; fi
nrun nhictl --bogus list
if [ "$rc" -eq 2 ] && grep -q "unknown option '--bogus'" "$T/err"; then
	ok "unknown global option: exit 2"; else nok "unknown global option: $rc $(cat "$T/err")"; fi
nrun nhictl -c
eqv "-c without a file: exit 2" 2 "$rc"
nrun nhictl --changed-exit x list
eqv "bad --changed-exit: exit 2" 2 "$rc"
for v in 0 256 ' 3' +3; do
	nrun nhictl --changed-exit "$v" list
	eqv "--changed-exit '$v': exit 2 (1 to 255)" "2 nhictl: bad --changed-exit '$v' (1 to 255)" "$rc $(cat "$T/err")"
done
for o in --help --version; do
	nhictl $o >/dev/full 2>"$T/err"; rc=$?
	eqv "$o to a full disk: exit 1, said in one line" "1 nhictl: error writing the output: No space left on device" \
		"$rc $(cat "$T/err")"
done

# ---- configuration ----
printf 'state_dir = %s\n# a comment\nbogus_key = 1\n' "$ST" >"$T/etc/bad.conf"
fails list 1 "-c: unknown key names file:line" "bad.conf:3: .*bogus_key" nhictl -c "$T/etc/bad.conf" list
printf 'state_dir = %s\nmax_lifetime = soon\n' "$ST" >"$T/etc/bad2.conf"
fails list 1 "-c: bad value names file:line" "bad2.conf:2: .*max_lifetime" nhictl -c "$T/etc/bad2.conf" list
fails list 1 "NHI_CONF with a bad line" "bad.conf:3" env NHI_CONF="$T/etc/bad.conf" "$NHICTL" list
fails list 1 "-c: a missing file is an error" "nope.conf" nhictl -c "$T/etc/nope.conf" list
cp "$NHI_CONF" "$T/etc/loose.conf"; chmod 666 "$T/etc/loose.conf"
fails list 1 "-c: a world-writable config is refused" "writable" nhictl -c "$T/etc/loose.conf" list
# NHI_CONF binds like -c: a file it names must exist, and be named by an
# absolute path; -c wins over it; an empty NHI_CONF is no NHI_CONF
fails list 1 "NHI_CONF naming a missing file" "$T/etc/none.conf: no such file \(the file NHI_CONF names\)" \
	env NHI_CONF="$T/etc/none.conf" "$NHICTL" list
fails list 2 "NHI_CONF with a relative path" "NHI_CONF 'etc/nhi.conf': not an absolute path" \
	env -C "$T" NHI_CONF=etc/nhi.conf "$NHICTL" list
expect 0 "-c wins over NHI_CONF" env NHI_CONF="$T/etc/none.conf" "$NHICTL" -c "$NHI_CONF" list
# no config at all means defaults (no snapshot in the default state_dir
# either: check says so, exit 2; clean_statedir hides what the host has)
expect 2 "no config file at all means defaults" \
	clean_statedir env NHI_CONF= "$NHICTL" check root
has out "check without a snapshot: unavailable, not ignore" "^root: unavailable \(snapshot-unavailable\)$"
printf 'state_dir = %s\nmax_lifetime = 7d\nhost = testhost\n' "$ST" >"$T/etc/short.conf"
fails create 1 "max_lifetime from the config" "beyond max_lifetime \(1w from now\)" \
	nhictl -c "$T/etc/short.conf" create svc-x --owner alice --expires +8d
fails extend 1 "extend beyond max_lifetime from the config" "beyond max_lifetime" \
	nhictl -c "$T/etc/short.conf" extend svc-a --expires +8d

# ---- create ----
fails create 2 "create: missing name" "missing identity name" nhictl create --owner alice --expires +1d
fails create 2 "create: extra argument" "unexpected argument 'b'" nhictl create a b --owner alice --expires +1d
fails create 2 "create: invalid name (upper case)" "invalid identity name 'Svc'" nhictl create Svc --owner alice --expires +1d
fails create 2 "create: invalid name (starts with a digit)" "invalid identity name" nhictl create 9svc --owner alice --expires +1d
fails create 2 "create: invalid name (too long)" "invalid identity name" nhictl create "s$(printf 'x%.0s' $(seq 40))" --owner alice --expires +1d
fails create 2 "create: invalid name (colon)" "invalid identity name" nhictl create "a:b" --owner alice --expires +1d
fails create 2 "create: missing --owner" "--owner USER is required" nhictl create svc-x --expires +1d
fails create 2 "create: missing --expires" "--expires WHEN is required" nhictl create svc-x --owner alice
fails create 2 "create: bad date" "bad --expires '2027-13-45'" nhictl create svc-x --owner alice --expires 2027-13-45
fails create 2 "create: bad relative time" "bad --expires '\+9x'" nhictl create svc-x --owner alice --expires +9x
fails create 1 "create: expiry in the past" "not in the future" nhictl create svc-x --owner alice --expires 2020-01-01
fails create 1 "create: expiry beyond max_lifetime (365d)" "beyond max_lifetime" nhictl create svc-x --owner alice --expires +400d
fails create 1 "create: owner is a service account" "legacy-svc' is a service account" nhictl create svc-x --owner legacy-svc --expires +1d
fails create 1 "create: owner is a registered identity" "svc-a' is a service account|registered identity" nhictl create svc-x --owner svc-a --expires +1d
fails create 1 "create: owner bob is locked" "bob' is locked" nhictl create svc-x --owner bob --expires +1d
# useradd without a password leaves "!" (a key-only human: live);
# usermod -L on such an account gives "!!" (locked)
printf 'kim:x:1010:1010:Kim Keys:/home/kim:/bin/bash\nlee:x:1011:1011:Lee Locked:/home/lee:/bin/bash\n' >>"$T/etc/passwd"
printf 'kim:!:19000:0:99999:7:::\nlee:!!:19000:0:99999:7:::\n' >>"$T/etc/shadow"
fails create 1 "create: owner lee locked ('!!')" "lee' is locked" nhictl create svc-x --owner lee --expires +1d
expect 0 "create: owner kim without a password ('!') is live" nhictl create svc-kim --owner kim --expires +1d
expect 0 "retire svc-kim again (keep the registry as before)" nhictl retire svc-kim
before=$(db_state); snap_before=$(cat "$ST/nhi.cache" "$ST/nhi.cache.delta" | md5sum)
fails create 1 "create: owner carol expired" "carol': the account expired" nhictl create svc-x --owner carol --expires +1d
fails create 1 "create: unknown owner" "owner 'zed': no such user" nhictl create svc-x --owner zed --expires +1d
fails create 1 "create: owner root" "root is not a person" nhictl create svc-x --owner root --expires +1d
echo "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin" >>"$T/etc/passwd"
echo "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin" >>"$T/etc/passwd"
fails create 1 "create: owner a static system account (uid 1)" "daemon' is a system account" nhictl create svc-x --owner daemon --expires +1d
fails create 1 "create: owner nobody" "nobody' is a system account" nhictl create svc-x --owner nobody --expires +1d
fails create 1 "create: name registered" "'svc-a' is already registered" nhictl create svc-a --owner alice --expires +1d
fails create 1 "create: name registered and retired" "'svc-old' is already registered" nhictl create svc-old --owner alice --expires +1d
fails create 1 "create: a local account of that name" "local account 'dave' exists" nhictl create dave --owner alice --expires +1d
fails create 1 "create: a local group of that name" "local group 'svcusers' exists" nhictl create svcusers --owner alice --expires +1d
fails create 2 "create: bad --kind" "bad --kind 'robot'" nhictl create svc-x --owner alice --expires +1d --kind robot
fails create 2 "create: bad --review-every" "bad --review-every '3q'" nhictl create svc-x --owner alice --expires +1d --review-every 3q
fails create 2 "create: bad --host" "invalid host 'a b'" nhictl create svc-x --owner alice --expires +1d --host 'a b'
fails create 2 "create: bad --service" "invalid PAM service 'ss/hd'" nhictl create svc-x --owner alice --expires +1d --service ss/hd
fails create 2 "create: an upper-case --service (PAM lower-cases service names)" \
	"PAM service 'CRON' would never match: Linux-PAM lower-cases the service name" \
	nhictl create svc-x --owner alice --expires +1d --service CRON
fails modify 2 "modify: an upper-case --service too" "PAM service 'Sshd' would never match" \
	nhictl modify svc-a --service Sshd
fails create 2 "create: bad --uid" "bad --uid '-5'" nhictl create svc-x --owner alice --expires +1d --uid -5
fails create 2 "create: --uid 0" "bad --uid '0'" nhictl create svc-x --owner alice --expires +1d --uid 0
for u in ' 3000000' +3000001 4294967294 4294967295 3e6; do
	fails create 2 "create: --uid '$u' refused" "bad --uid '.*': a number from 1 to 4294967293" \
		nhictl create svc-x --owner alice --expires +1d --uid "$u"
done
fails create 2 "create: relative --shell" "bad --shell 'sh'" nhictl create svc-x --owner alice --expires +1d --shell sh
fails create 2 "create: relative --home" "bad --home 'home'" nhictl create svc-x --owner alice --expires +1d --home home
fails create 2 "create: --home with a ':' says so (not 'absolute')" "bad --home '/a:b': a passwd field holds no ':'" \
	nhictl create svc-x --owner alice --expires +1d --home /a:b
fails create 2 "create: --shell with a ':' says so" "bad --shell '/bin/a:b': a passwd field holds no ':'" \
	nhictl create svc-x --owner alice --expires +1d --shell /bin/a:b
fails create 2 "create: malformed --owner is a usage error" "--owner: invalid user name 'B A D'" \
	nhictl create svc-x --owner 'B A D' --expires +1d
fails create 2 "create: the same label key twice" "label key 'team' given twice \('team=a', 'team=b'\)" \
	nhictl create svc-x --owner alice --expires +1d --label team=a --label team=b
fails create 2 "create: control character in --purpose" "bad --purpose" nhictl create svc-x --owner alice --expires +1d --purpose "$(printf 'a\tb')"
fails create 2 "create: a newline and an escape in the name: one line, escaped" "invalid identity name 'a\\\\nb\\\\x1b\\[31m'" \
	nhictl create "$(printf 'a\nb\033[31m')" --owner alice --expires +1d
fails create 2 "create: a 100,000-byte name: one line, cut" "invalid identity name 'aaaa.*\\.\\.\\. \\([0-9]+ bytes more\\)$" \
	nhictl create "$(head -c 100000 /dev/zero | tr '\0' a)" --owner alice --expires +1d
check "  ... of at most 4.2 KB" test "$(wc -c <"$T/err")" -lt 4300
fails create 2 "create: --purpose that is not UTF-8" "bad --purpose" nhictl create svc-x --owner alice --expires +1d --purpose "$(printf 'bad \xff\xfe')"
fails create 2 "create: --purpose with a C1 control (CSI)" "bad --purpose" nhictl create svc-x --owner alice --expires +1d --purpose "$(printf 'a\xc2\x9b31m')"
fails create 2 "create: --purpose with an overlong form" "bad --purpose" nhictl create svc-x --owner alice --expires +1d --purpose "$(printf '\xc0\xaf')"
fails create 2 "create: unknown option" "unknown option '--colour'" nhictl create svc-x --owner alice --expires +1d --colour
fails create 2 "create: option without its value" "option '--owner' needs a value" nhictl create svc-x --owner

# ---- adopt ----
fails adopt 2 "adopt: missing --owner" "--owner USER is required" nhictl adopt legacy-svc --expires +1d
fails adopt 1 "adopt: locked owner" "locked" nhictl adopt legacy-svc --owner bob --expires +1d
fails adopt 1 "adopt: past expiry" "not in the future" nhictl adopt legacy-svc --owner alice --expires 2001-01-01
fails adopt 2 "adopt: invalid name" "invalid account name" nhictl adopt 'Legacy' --owner alice --expires +1d
fails adopt 2 "adopt: malformed --owner" "--owner: invalid user name 'B A D'" nhictl adopt legacy-svc --owner 'B A D' --expires +1d
for o in "--uid 5000:uid" "--uid=5000:uid" "--shell /bin/sh:shell" "--home /x:home" "-m:create-home"; do
	# shellcheck disable=SC2086
	fails adopt 2 "adopt: ${o%%:*} refused, the option named" "adopt keeps the account's uid, home and shell: --${o##*:} is not allowed" \
		nhictl adopt legacy-svc --owner alice --expires +1d ${o%%:*}
done

# ---- list / show ----
fails list 2 "list: bad --state" "bad --state 'gone'" nhictl list --state gone
fails list 2 "list: bad --expiring" "bad --expiring 'soon'" nhictl list --expiring soon
fails list 2 "list: extra argument" "unexpected argument 'x'" nhictl list x
fails list 2 "list: malformed --owner (as review --due)" "--owner: invalid user name 'B A D'" nhictl list --owner 'B A D'
fails show 1 "show: unknown identity" "no identity 'nobody-here'" nhictl show nobody-here
fails show 2 "show: missing name" "missing identity name" nhictl show
fails show 2 "show: bad name" "invalid identity name" nhictl show 'A B'

# ---- the one-identity verbs ----
for v in suspend resume retire review; do
	fails "$v" 1 "$v: unknown identity" "no identity 'ghost'" nhictl "$v" ghost
	fails "$v" 2 "$v: missing name" "missing identity name" nhictl "$v"
	fails "$v" 2 "$v: bad name" "invalid identity name" nhictl "$v" 'Bad!'
	fails "$v" 2 "$v: unknown option" "unknown option" nhictl "$v" svc-a --frob
done
fails suspend 2 "suspend: --expires not accepted" "'--expires' is not accepted" nhictl suspend svc-a --expires +1d
fails extend 2 "extend: missing --expires" "--expires WHEN is required" nhictl extend svc-a
fails extend 2 "extend: bad date" "bad --expires 'tomorrow'" nhictl extend svc-a --expires tomorrow
fails extend 1 "extend: past" "not in the future" nhictl extend svc-a --expires 2001-01-01
fails extend 1 "extend: now is not in the future either" "not in the future" nhictl extend svc-a --expires now
fails create 1 "create: an hour ago" "not in the future" nhictl create svc-x --owner alice \
	--expires "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)"
fails extend 1 "extend: beyond max_lifetime (400d)" "beyond max_lifetime" nhictl extend svc-a --expires +400d
fails extend 1 "extend: unknown identity" "no identity 'ghost'" nhictl extend ghost --expires +1d
fails retire 2 "retire: control character in --reason" "bad --reason" nhictl retire svc-a --reason "$(printf 'a\001b')"
fails retire 2 "retire: --reason that is not UTF-8" "bad --reason" nhictl retire svc-a --reason "$(printf 'gone \xe2\x82')"
fails transfer 2 "transfer: missing --to" "--to USER is required" nhictl transfer svc-a
fails transfer 2 "transfer: bad user name" "invalid user name" nhictl transfer svc-a --to 'X Y'
fails transfer 1 "transfer: unknown owner" "no such user" nhictl transfer svc-a --to zed
fails transfer 1 "transfer: expired owner" "expired" nhictl transfer svc-a --to carol
fails transfer 1 "transfer: to a service account" "service account" nhictl transfer svc-a --to legacy-svc
fails transfer 1 "transfer: unknown identity" "no identity 'ghost'" nhictl transfer ghost --to dave

# ---- check, log, group, publish, audit ----
fails check 2 "check: missing user" "missing user name" nhictl check
fails check 2 "check: bad --service" "invalid PAM service" nhictl check svc-a --service 'a/b'
fails check 2 "check: bad --host" "invalid host" nhictl check svc-a --host 'a b'
fails log 2 "log: extra argument" "unexpected argument" nhictl log extra
fails log 2 "log: unknown option" "unknown option '--all'" nhictl log --all
fails group 2 "group: missing sub-command" "missing sub-command" nhictl group
fails group 2 "group create: bad name" "invalid group name" nhictl group create 'G!'
fails group 2 "group create: bad --gid" "bad --gid" nhictl group create g1 --gid x
fails group 2 "group add-member: no users" "at least one USER" nhictl group add-member g1
fails group 2 "group add-member: --gid" "only for 'group create'" nhictl group add-member g1 svc-a --gid 5
fails group 1 "group add-member: unknown group" "no registry group 'g1'" nhictl group add-member g1 svc-a
fails publish 2 "publish: extra argument" "unexpected argument" nhictl publish now
fails audit 2 "audit: extra argument" "unexpected argument" nhictl audit now

# ---- nothing half-written ----
eqv "registry unchanged by every refused command" "$before" "$(db_state)"
eqv "snapshot not republished by refused commands" "$snap_before" "$(cat "$ST/nhi.cache" "$ST/nhi.cache.delta" | md5sum)"
expect 0 "log --verify still intact" nhictl log --verify

# ---- output stays valid when stored text is not UTF-8 (written before
# nhictl checked it, or by hand): U+FFFD in its place ----
expect 0 "a purpose in UTF-8 is taken" nhictl modify svc-a --purpose "$(printf 'caf\xc3\xa9')"
sqlite3 "$ST/registry.db" "UPDATE identity SET purpose = CAST(x'62616420fffe2ce282ac' AS TEXT) WHERE name = 'svc-a'"
strict() { python3 -c 'import json,sys; d=json.loads(open(sys.argv[1],"rb").read().decode("utf-8")); print(eval(sys.argv[2]))' "$T/out" "$1"; }
expect 0 "show --json" nhictl show svc-a --json
eqv "show --json: strict UTF-8, valid JSON, U+FFFD for each bad byte" "bad $(printf '\xef\xbf\xbd\xef\xbf\xbd'),$(printf '\xe2\x82\xac')" "$(strict 'd["purpose"]')"
expect 0 "list --json" nhictl list --json
eqv "list --json: the same" "bad $(printf '\xef\xbf\xbd\xef\xbf\xbd'),$(printf '\xe2\x82\xac')" \
	"$(strict '[i["purpose"] for i in d if i["name"] == "svc-a"][0]')"
# (report names the host: nss_wrapper would then dlopen libc with
# RTLD_DEEPBIND, which AddressSanitizer refuses; as test-nhictl-report.sh)
export NSS_WRAPPER_DISABLE_DEEPBIND=1
expect 0 "report --html" nhictl report --html - --no-host
check "report --html: &#xfffd; for each bad byte, the euro sign kept" grep -q 'bad &#xfffd;&#xfffd;,€' "$T/out"
nhictl report --html - --no-host >/dev/full 2>"$T/err"; rc=$?
eqv "report --html - to a full disk: exit 1, one line" "1 1" "$rc $(wc -l <"$T/err")"
has err "  ... naming the cause" "^nhictl: report: stdout: No space left on device$"
nhictl list >/dev/full 2>"$T/err"; rc=$?
eqv "list to a full disk: exit 1, one line" "1 nhictl: list: error writing the output: No space left on device" "$rc $(cat "$T/err")"
# a service with no PAM configuration here: made (the scope may be meant
# for other hosts), with a warning
if [ -d /etc/pam.d ] && [ ! -e /etc/pam.d/nhi-no-such-svc ] && [ ! -e /usr/lib/pam.d/nhi-no-such-svc ]; then
	expect 0 "create --service with no /etc/pam.d file: made" \
		nhictl create svc-nopam --owner alice --expires +1d --service nhi-no-such-svc
	has err "... with a warning naming the service and the file" \
		"^nhictl: create: warning: no PAM service 'nhi-no-such-svc' on this host \(no /etc/pam.d/nhi-no-such-svc\)"
	eqv "... one line" 1 "$(grep -c . "$T/err")"
	expect 0 "a pattern is not checked" nhictl create svc-nopat --owner alice --expires +1d --service 'nhi-no-*'
	eqv "... no warning" "" "$(cat "$T/err")"
fi
finish

#!/bin/bash
# nhictl discover (issue 15): a host tree under $T/host with every kind of
# artefact and leak, scanned with --root; each finding asserted by code;
# a clean tree gives none; audit's host check reports the same leaks;
# then the real machine in a private mount namespace (a key planted under
# a tmpfs /srv is found without --root).
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"
H=$T/host
sed -i "s|^discover_paths = .*|discover_paths = /etc /home /opt /srv /var/lib|" "$NHI_CONF"
echo "discover_max_size = 4096" >>"$NHI_CONF"

# ---- registered identities: real create and cred add ----
expect 0 "create svc-reg" nhictl create svc-reg --owner alice --expires +30d --json
ureg=$(pyjson 'd["uid"]')
expect 0 "create svc-scoped, scoped to a host" nhictl create svc-scoped --owner alice --expires +30d --host testhost --json
uscp=$(pyjson 'd["uid"]')
expect 0 "create svc-twin (a local account will take its name)" nhictl create svc-twin --owner alice --expires +30d
expect 0 "ssh-key for svc-reg" nhictl cred add svc-reg --kind ssh-key --out "$T/reg.key"
expect 0 "ssh-key for svc-scoped" nhictl cred add svc-scoped --kind ssh-key --out "$T/scp.key"
expect 0 "a token for svc-reg" nhictl cred add svc-reg --kind token
tok=$(grep -o 'nhi_[A-Za-z0-9_]*' "$T/out" | head -1)
check "the token has nhi's shape" [ ${#tok} -eq 66 ]
regpub=$(ssh-keygen -y -f "$T/reg.key")
scppub=$(ssh-keygen -y -f "$T/scp.key")
ssh-keygen -q -t ed25519 -N '' -C foreign -f "$T/foreign" && foreign=$(cat "$T/foreign.pub")

# ---- the host tree ----
mkdir -p "$H/etc/systemd/system/legacy.service.d" "$H/lib/systemd/system" "$H/etc/sudoers.d" \
	"$H/etc/cron.d" "$H/var/spool/cron/crontabs" "$H/home/svc-reg/.ssh" "$H/home/svc-scoped/.ssh" \
	"$H/srv/legacy" "$H/opt/app" "$H/srv/keys" "$H/srv/locked" "$H/var/lib" "$T/outside"
cat >"$H/etc/passwd" <<P
root:x:0:0:root:/root:/bin/bash
daemon5:x:5:5:sys with a shell:/usr/sbin/nologin
sysbash:x:6:6:sys with a shell:/nonexistent:/bin/bash
alice:x:1000:1000:Alice:/home/alice:/bin/bash
legacy:x:850:850:old service:/srv/legacy:/usr/sbin/nologin
svc-reg:x:$ureg:$ureg::/home/svc-reg:/usr/sbin/nologin
svc-scoped:x:$uscp:$uscp::/home/svc-scoped:/usr/sbin/nologin
svc-twin:x:4001:4001:a local twin:/nonexistent:/usr/sbin/nologin
uidtwin:x:$uscp:$uscp:svc-scoped's uid:/nonexistent:/usr/sbin/nologin
P
cat >"$H/etc/group" <<G
root:x:0:
alice:x:1000:
legacy:x:850:
ops:x:1600:legacy
G
cat >"$H/etc/shadow" <<S
root:*:19000:0:99999:7:::
daemon5:*:19000:0:99999:7:::
sysbash:*:19000:0:99999:7:::
alice:\$y\$j9T\$x:19000:0:99999:7:::
legacy:!:19000:0:99999:7:::
S
# authorized_keys: svc-reg: its issued key with from=, a foreign key;
# svc-scoped: its issued key without from=
{ echo "from=\"10.0.0.0/8\",no-pty $regpub"; echo "command=\"/bin/true\" $foreign"; } \
	>"$H/home/svc-reg/.ssh/authorized_keys"
echo "$scppub" >"$H/home/svc-scoped/.ssh/authorized_keys"
# legacy: a crontab, a unit with User= and a secret, a world-readable
# drop-in with a token, a sudoers rule, a world-readable .pgpass
printf 'MAILTO=x\n*/5 * * * * /srv/legacy/run --pass s3cret\n' >"$H/var/spool/cron/crontabs/legacy"
printf '# m h dom mon dow user command\n@daily legacy /srv/legacy/nightly\n' >"$H/etc/cron.d/legacy"
printf '[Service]\nUser=legacy\nEnvironment=DB_PASSWORD=hunter2 MODE=prod\nExecStart=/bin/true\n' \
	>"$H/lib/systemd/system/legacy.service"
printf '[Service]\nEnvironment="EXTRA=%s"\n' "$tok" >"$H/etc/systemd/system/legacy.service.d/env.conf"
chmod 644 "$H/etc/systemd/system/legacy.service.d/env.conf"
echo 'legacy ALL=(root) NOPASSWD: /usr/bin/systemctl restart legacy' >"$H/etc/sudoers.d/legacy"
echo '%ops ALL=(ALL) ALL' >"$H/etc/sudoers.d/ops"
echo 'localhost:5432:*:legacy:pw' >"$H/srv/legacy/.pgpass"; chmod 644 "$H/srv/legacy/.pgpass"
# leaks: a token in /opt, a PEM key under /srv, both world-readable; a
# look-alike token with a bad checksum; a symlink out of the tree to a key
echo "TOKEN=$tok" >"$H/opt/app/env"; chmod 644 "$H/opt/app/env"
bad=${tok%??????}AAAAAA
echo "TOKEN=$bad" >"$H/opt/app/notatoken"; chmod 644 "$H/opt/app/notatoken"
openssl genpkey -algorithm ed25519 -out "$H/srv/keys/tls.pem" 2>/dev/null; chmod 644 "$H/srv/keys/tls.pem"
cp "$T/foreign" "$T/outside/id_leak"; chmod 644 "$T/outside/id_leak"
ln -s "$T/outside" "$H/srv/escape"
head -c 8192 /dev/zero >"$H/srv/big.bin"; chmod 644 "$H/srv/big.bin"
chmod 000 "$H/srv/locked"

# without CAP_DAC_OVERRIDE a root-owned mode-000 directory is unreadable
disc() { nhictl "$@"; }
if [ "$(id -u)" -eq 0 ]; then
	disc() {
		_nsswrap libnss_wrapper.so "${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0" \
			setpriv --bounding-set=-dac_override,-dac_read_search "$NHICTL" "$@"
	}
fi
expect 0 "discover --root (findings are no failure)" disc discover --root "$H" --json
cp "$T/out" "$T/disc.json"
codes() { pyjson '" ".join(sorted(set(f["code"] for f in d["findings"])))'; }
count() { pyjson "len([f for f in d['findings'] if f['code']=='$1' and '$2' in f['name']+f['evidence']])"; }
eqv "every kind of finding" "NHI1-SHADOWED NHI1-SYSTEM-LOGIN NHI1-UNREGISTERED NHI2-CRED-FILE-READABLE NHI2-KEY-READABLE NHI2-TOKEN-READABLE NHI4-KEY-NO-FROM NHI4-KEY-NOT-ISSUED NHI5-SUDO NHI6-UNIT-ENV-SECRET NHI6-UNIT-READABLE" "$(codes)"
eqv "legacy unregistered" 1 "$(count NHI1-UNREGISTERED legacy)"
eqv "remedy: the adopt line" "nhictl adopt legacy --owner OWNER --expires DATE" \
	"$(pyjson "[f['remedy'] for f in d['findings'] if f['code']=='NHI1-UNREGISTERED' and f['name']=='legacy'][0]")"
eqv "registered ones are not unregistered" 0 "$(count NHI1-UNREGISTERED svc-)"
eqv "sysbash: system login" 1 "$(count NHI1-SYSTEM-LOGIN sysbash)"
eqv "svc-twin: a local account with the identity's name, another uid" 1 \
	"$(count NHI1-SHADOWED 'svc-twina local account of this name has uid 4001')"
eqv "uidtwin: a local account with svc-scoped's uid" 1 "$(count NHI1-SHADOWED "uidtwinlocal account with uid $uscp, the uid of identity svc-scoped")"
eqv "svc-reg and svc-scoped themselves (adopted-like, same uid): not shadowed" 0 \
	"$(pyjson "len([f for f in d['findings'] if f['code']=='NHI1-SHADOWED' and f['name'] in ('svc-reg','svc-scoped')])")"
eqv "daemon5 (nologin, locked): no system login" 0 "$(count NHI1-SYSTEM-LOGIN daemon5)"
eqv "the foreign key of svc-reg" 1 "$(count NHI4-KEY-NOT-ISSUED svc-reg)"
eqv "the issued keys are not flagged" 1 "$(count NHI4-KEY-NOT-ISSUED '')"
eqv "svc-scoped's key without from=" 1 "$(count NHI4-KEY-NO-FROM svc-scoped)"
eqv "svc-reg (no host scope): no from= finding" 0 "$(count NHI4-KEY-NO-FROM svc-reg)"
eqv "sudo: legacy by name and through %ops" 2 "$(count NHI5-SUDO legacy)"
eqv "token in /opt/app/env" 1 "$(count NHI2-TOKEN-READABLE opt/app/env)"
eqv "the bad checksum is no token" 0 "$(count NHI2-TOKEN-READABLE notatoken)"
eqv "PEM key under /srv" 1 "$(count NHI2-KEY-READABLE srv/keys/tls.pem)"
eqv "the symlink out of the tree is not followed" 0 "$(pyjson "len([f for f in d['findings'] if 'outside' in f['evidence'] or 'escape' in f['evidence']])")"
eqv ".pgpass readable" 1 "$(count NHI2-CRED-FILE-READABLE .pgpass)"
eqv "DB_PASSWORD and the token in the drop-in" 2 "$(count NHI6-UNIT-ENV-SECRET legacy)"
eqv "the drop-in readable" 1 "$(count NHI6-UNIT-READABLE env.conf)"
eqv "no secret value in the output" 0 "$(grep -c -e hunter2 -e "$tok" -e s3cret "$T/disc.json")"
eqv "big.bin skipped and listed" 1 "$(pyjson "len([s for s in d['skipped'] if s['path'].endswith('/srv/big.bin')])")"
eqv "the locked dir is a note" 1 "$(pyjson "len([s for s in d['notes'] if s['path'].endswith('/srv/locked')])")"
# the artefacts of each account
eqv "legacy's crontab entries (spool and cron.d)" "*/5 * * * *,@daily" "$(pyjson "','.join(c['schedule'] for a in d['accounts'] if a['name']=='legacy' for c in a['crontab'])")"
eqv "legacy's unit" "User=legacy" "$(pyjson "','.join(u['setting'] for a in d['accounts'] if a['name']=='legacy' for u in a['units'])")"
eqv "svc-reg's keys: from= and command=" "10.0.0.0/8 False|None True" "$(pyjson "'|'.join('%s %s' % (k['from'], k['command']) for a in d['accounts'] if a['name']=='svc-reg' for k in a['authorized_keys'])")"
eqv "registered: svc-reg yes, legacy no" "True False" "$(pyjson "' '.join(str(a['registered']) for n in ('svc-reg','legacy') for a in d['accounts'] if a['name']==n)")"
eqv "processes not scanned with --root" "None" "$(pyjson "d['accounts'][0]['processes']")"

expect 3 "--fail-on high: exit 3" disc discover --root "$H" --fail-on high
expect 0 "text output" disc discover --root "$H"
has out "text: the adopt line" 'fix: nhictl adopt legacy --owner OWNER --expires DATE'
has out "text: artefacts" 'crontab entry: .*/var/spool/cron/crontabs/legacy:2'
fails discover 2 "--root must be absolute" 'not an absolute path' nhictl discover --root rel

# ---- audit's host check: the same leaks, not the account classification ----
expect 0 "audit --root" nhictl audit --root "$H" --json
eqv "audit host findings" "NHI2-CRED-FILE-READABLE NHI2-KEY-READABLE NHI2-TOKEN-READABLE NHI4-KEY-NO-FROM NHI4-KEY-NOT-ISSUED NHI5-SUDO NHI6-UNIT-ENV-SECRET NHI6-UNIT-READABLE" \
	"$(pyjson '" ".join(sorted(set(f["code"] for f in d["findings"] if f["code"][:4] != "NHI1")))')"
eqv "audit: no NHI1-UNREGISTERED" 0 "$(count NHI1-UNREGISTERED '')"
eqv "audit: but the local accounts that shadow identities (pam_nhi refuses svc-twin)" \
	"svc-twin uidtwin" "$(pyjson "' '.join(sorted(f['name'] for f in d['findings'] if f['code'] == 'NHI1-SHADOWED'))")"
expect 0 "audit --no-host" nhictl audit --root "$H" --no-host --json
eqv "--no-host: no host findings" 0 "$(pyjson "len([f for f in d['findings'] if f['code'][:4] in ('NHI2','NHI6')])")"

# ---- a clean tree gives none ----
chmod 755 "$H/srv/locked"
rm -rf "$H/srv/keys" "$H/srv/escape" "$H/srv/big.bin" "$H/opt/app/env" "$H/etc/sudoers.d"/* \
	"$H/etc/systemd/system/legacy.service.d" "$H/srv/legacy/.pgpass" \
	"$H/home/svc-reg/.ssh/authorized_keys"
sed -i '/^legacy:/d; /^sysbash:/d; /^svc-twin:/d; /^uidtwin:/d' "$H/etc/passwd"
sed -i 's/DB_PASSWORD=hunter2 //' "$H/lib/systemd/system/legacy.service"
echo "from=\"10.0.0.1\" $scppub" >"$H/home/svc-scoped/.ssh/authorized_keys"
expect 0 "discover a clean tree" nhictl discover --root "$H" --json
eqv "a clean tree: no findings" "" "$(codes)"
eqv "nothing skipped" 0 "$(pyjson 'len(d["skipped"])')"

# ---- the real machine, in a private mount namespace: a key under /srv ----
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	sed -i "s|^discover_paths = .*|discover_paths = /srv|" "$NHI_CONF"
	cat >"$T/ns.sh" <<EOF
set -e
mount --make-rprivate /
mkdir -p /srv
mount -t tmpfs tmpfs /srv
mkdir /srv/app
cp "$T/foreign" /srv/app/deploy_key
chmod 644 /srv/app/deploy_key
exec "$NHICTL" discover --json
EOF
	expect 0 "discover on the real machine (mount namespace)" unshare -m bash "$T/ns.sh"
	eqv "the planted key is found" 1 "$(count NHI2-KEY-READABLE /srv/app/deploy_key)"
	eqv "processes are scanned without --root" "True" "$(pyjson "any(a['processes'] for a in d['accounts'])")"
	check "the host's /srv is untouched" [ ! -e /srv/app/deploy_key ]
else
	ok "# SKIP the mount namespace part needs root and unshare -m"
fi
finish

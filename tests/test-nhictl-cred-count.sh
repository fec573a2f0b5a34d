#!/bin/bash
# cred add --count N (issue 14's fleet): N credentials in one transaction
# and one snapshot publication; N distinct secrets handed over once (stdout,
# one --out file, a --json list), only their hashes stored, one audit event
# each; bad counts refused with nothing written.
. "$top_srcdir/tests/common.sh"
. "$top_srcdir/tests/nhictl-lib.sh"

ST=$T/state
db() { sqlite3 "$ST/registry.db" "$1"; }
expect 0 "create svc-a" nhictl create svc-a --owner alice --expires +60d
ncred() { db "SELECT count(*) FROM credential"; }
nevent() { db "SELECT count(*) FROM event WHERE action = 'cred-add'"; }

# ---- bad input: nothing written ----
before=$(ncred); snap0=$(stat -c %Y.%i "$ST/nhi.cache" 2>/dev/null)
for c in 0 -1 abc 10001 1x 01 ""; do
	fails cred 2 "--count '$c' refused" "bad --count '$c'" nhictl cred add svc-a --kind token --count "$c"
done
fails cred 2 "--count with list" "are for 'cred add'" nhictl cred list svc-a --count 2
fails cred 2 "--count without --kind" "--kind is required" nhictl cred add svc-a --count 2
fails cred 1 "--count for an unknown identity" "no-such" nhictl cred add no-such --kind token --count 3
eqv "nothing written on bad input" "$before" "$(ncred)"
eqv "no snapshot published on bad input" "$snap0" "$(stat -c %Y.%i "$ST/nhi.cache" 2>/dev/null)"

# ---- tokens on stdout ----
expect 0 "cred add --count 50 (tokens, stdout)" nhictl cred add svc-a --kind token --count 50
cp "$T/out" "$T/tokens"; cp "$T/err" "$T/tokens.err"
eqv "50 secrets on stdout" 50 "$(wc -l <"$T/tokens")"
eqv "50 distinct secrets" 50 "$(sort -u "$T/tokens" | wc -l)"
eqv "50 credentials stored" 50 "$(db "SELECT count(*) FROM credential WHERE kind = 'token' AND state = 'active'")"
eqv "50 distinct hashes" 50 "$(db "SELECT count(DISTINCT secret_hash) FROM credential")"
eqv "one stderr line each" 50 "$(grep -c 'issued token .*(secret [0-9]* of 50 above is shown once)' "$T/tokens.err")"
eqv "no secret stored" 0 "$(while read -r s; do grep -rlaF -- "$s" "$ST"; done <"$T/tokens" | wc -l)"
eqv "no secret on stderr" 0 "$(grep -cF -f "$T/tokens" "$T/tokens.err")"
ok=0
for s in $(sed -n '1p;25p;50p' "$T/tokens"); do
	printf '%s\n' "$s" | nhictl cred verify svc-a >/dev/null 2>&1 && ok=$((ok + 1))
done
eqv "secrets 1, 25 and 50 verify" 3 "$ok"
expect 0 "cred list" nhictl cred list svc-a --json
eqv "listed" 50 "$(pyjson 'len(d)')"

# one transaction: one publication (the snapshot's generation moves by one)
gen() { db "SELECT value FROM meta WHERE key = 'generation'"; }
g0=$(gen)
expect 0 "cred add --count 20 --json" nhictl cred add svc-a --kind password --count 20 --json
g1=$(gen)
eqv "one snapshot publication for 20" "$((g0 + 1))" "$g1"
eqv "--json: a list of 20" 20 "$(pyjson 'len(d)')"
eqv "--json: 20 distinct secrets" 20 "$(pyjson 'len(set(c["secret"] for c in d))')"
eqv "--json: 20 distinct ids" 20 "$(pyjson 'len(set(c["id"] for c in d))')"
eqv "--json: every object a password of svc-a" 1 "$(pyjson 'int(all(c["kind"] == "password" and c["identity"] == "svc-a" for c in d))')"
eqv "--json: stderr quiet" 0 "$(wc -c <"$T/err")"
eqv "70 credentials" 70 "$(ncred)"
eqv "70 cred-add events" 70 "$(nevent)"
eqv "no password stored" 0 "$(pyjson '"\n".join(c["secret"] for c in d)' | while read -r s; do grep -rlaF -- "$s" "$ST"; done | wc -l)"

# --count 1 --json is a list too; without --count an object as before
expect 0 "--count 1 --json" nhictl cred add svc-a --kind token --count 1 --json
eqv "--count 1 --json: a list of one" "list 1" "$(pyjson '"%s %d" % (type(d).__name__, len(d))')"
expect 0 "no --count --json" nhictl cred add svc-a --kind token --json
eqv "without --count: an object" dict "$(pyjson 'type(d).__name__')"

# ---- --out: every secret in one 0600 file ----
expect 0 "cred add --count 5 --out" nhictl cred add svc-a --kind ssh-key --count 5 --out "$T/keys"
eqv "5 private keys in the file" 5 "$(grep -c 'BEGIN OPENSSH PRIVATE KEY' "$T/keys")"
eqv "the file is 0600" 600 "$(stat -c %a "$T/keys")"
eqv "one stdout line each, no secret" 5 "$(grep -c 'issued ssh-key .*written to' "$T/out")"
eqv "no key on stdout" 0 "$(grep -c PRIVATE "$T/out")"
expect 0 "--out --json" nhictl cred add svc-a --kind token --count 3 --out "$T/toks" --json
eqv "--out --json: 3 objects without secrets" "3 0" "$(pyjson '"%d %d" % (len(d), sum("secret" in c for c in d))')"
eqv "--out: 3 tokens in the file" 3 "$(wc -l <"$T/toks")"

# a refused identity: nothing written
expect 0 "suspend svc-a" nhictl suspend svc-a
before=$(ncred)
fails cred 1 "--count for a suspended identity refused" "refused" nhictl cred add svc-a --kind token --count 10
eqv "nothing written when refused" "$before" "$(ncred)"
finish

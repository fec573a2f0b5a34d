#!/bin/bash
# bench/run.sh - reproduce nhi's NSS benchmark with one command (as root):
#
#     bench/run.sh [BUILD_DIR]
#
# Builds nhi with -O2 (unless BUILD_DIR already holds a build), then for
# 1k, 10k and 100k accounts (svc-000000.., uids from 2,000,000):
#   1. nhi-bench: ns per getpwnam_r/getpwuid_r lookup - bare hash, the
#      module's entry point, through glibc (nsswitch.conf) to nss_nhi and to
#      nss_files on the same accounts (median of 15 rounds in which the
#      in-process modes take turns, random names, every answer checked),
#      and which of PERFORMANCE.md's targets are met;
#   2. instructions per lookup with valgrind --tool=callgrind (repeatable
#      on a noisy machine);
#   3. the whole process `id NAME` with hyperfine: nss_nhi (a small
#      /etc/passwd, the accounts in nhi) against nss_files (the accounts in
#      /etc/passwd and /etc/group);
#   4. what a pam_nhi call spends in the snapshot (nhi-bench -O): open,
#      one lookup, close, for each way of checking the data.
# Everything that touches /etc happens in private mount namespaces
# (unshare -m, bind mounts): the host's files are never changed.
# Results replace this script's own section of bench/RESULTS.md (between its
# markers; the raw data in $W); every other section and note stays. bench/sssd.sh
# sets SSSD's memory cache beside nss_nhi in a section of its own, which
# this script keeps, as it keeps bench/sync.sh's.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/common.sh"
B=${1:-/tmp/nhi-bench-build}
# (not under /tmp: the modules trust no file below a directory others may
# write to, sticky or not, so the accounts would not be served there)
W=${NHI_BENCH_DIR:-/var/cache/nhi-bench-work}
OUT=${NHI_BENCH_OUT:-$SRC/bench/RESULTS.md}
SIZES=${NHI_BENCH_SIZES:-1000 10000 100000}
K=${NHI_BENCH_CALLGRIND_LOOKUPS:-20000}

[ "$(id -u)" = 0 ] || { echo "run.sh: run as root (private mount namespaces)" >&2; exit 1; }
for t in hyperfine valgrind unshare ldconfig; do
	command -v $t >/dev/null || { echo "run.sh: $t is needed" >&2; exit 1; }
done

# ---- build ---------------------------------------------------------------
"$SRC/bench/build.sh" "$B"
BENCH=$B/bench/nhi-bench
MODDIR=$B/nss_nhi/.libs
export LD_LIBRARY_PATH=$MODDIR

rm -rf "$W"
mkdir -p "$W"
chmod 755 "$W"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 1. ns per lookup -------------------------------------------------------
csv_sizes=$(echo $SIZES | tr ' ' ',')
echo "== nhi-bench -n $csv_sizes" >&2
"$BENCH" -n "$csv_sizes" -r 15 -t 0.05 -d "$W/ns" > "$W/ns.md"
cat "$W/ns.md" >&2
# the same with a delta of 1000 changed accounts beside the snapshot (the
# most nhictl lets a delta hold by default, docs/snapshot-format.md)
echo "== nhi-bench -n $csv_sizes -D 1000" >&2
"$BENCH" -n "$csv_sizes" -r 15 -t 0.05 -m "bare,bare+copy,entry,glibc-nhi" -D 1000 \
	-d "$W/nsd" > "$W/ns-delta.md"
cat "$W/ns-delta.md" >&2

# ---- the accounts for callgrind and id -----------------------------------------
# A private ld.so.cache that also knows the module's directory (as if it
# were installed), and nsswitch.conf files for the two cases.
echo "$MODDIR" > "$W/ld.so.conf"
echo "include /etc/ld.so.conf.d/*.conf" >> "$W/ld.so.conf"
ldconfig -X -C "$W/ld.so.cache" -f "$W/ld.so.conf"
printf 'passwd: files nhi\ngroup: files nhi\nshadow: files\nhosts: files\n' > "$W/nsswitch.nhi"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' > "$W/nsswitch.files"
printf 'passwd: nhi\ngroup: nhi\nshadow: files\nhosts: files\n' > "$W/nsswitch.nhionly"
for n in $SIZES; do
	d=$W/$n
	mkdir -p "$d"
	echo "== generating $n accounts" >&2
	"$BENCH" -G -n "$n" -d "$d"
	# and the same with a delta of 1000 of them beside the snapshot
	mkdir -p "$d-delta"
	"$BENCH" -G -n "$n" -D 1000 -d "$d-delta"
	# nss_files case: the host's accounts plus the generated ones
	{ cat /etc/passwd; grep -v '^root:' "$d/passwd"; } > "$d/passwd.files"
	{ cat /etc/group; grep -v '^root:' "$d/group"; } > "$d/group.files"
done

# in_ns NSSWITCH [PASSWD GROUP] -- CMD...: run CMD with those files over
# /etc in a private mount namespace.
in_ns() {
	local nsw=$1 pw=-- gr=--
	shift
	if [ "$1" != -- ]; then pw=$1 gr=$2; shift 2; fi
	shift
	unshare -m --propagation private bash -c '
		mount --bind "$0" /etc/nsswitch.conf
		mount --bind "'"$W"'/ld.so.cache" /etc/ld.so.cache
		if [ "$1" != -- ]; then mount --bind "$1" /etc/passwd; mount --bind "$2" /etc/group; fi
		shift 2
		exec "$@"' "$nsw" "$pw" "$gr" "$@"
}

# ---- 2. instructions per lookup -------------------------------------------
# cg MODE N COUNT [ns-args...]: instructions of COUNT lookups minus those of 0
# (CGDIR=DIR: the accounts in DIR instead of $W/N)
cg_count() {
	local mode=$1 n=$2 k=$3; shift 3
	local dir=${CGDIR:-$W/$n}
	local out=$W/cg.$mode.$n.$k${CGDIR:+.delta}
	"$@" env NHI_CONF="$dir/nhi.conf" valgrind --tool=callgrind --callgrind-out-file="$out" \
		"$BENCH" -c "$mode" -n "$n" -k "$k" -d "$dir" >/dev/null 2>"$out.log"
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out.log"
}
cg() {
	local mode=$1 n=$2 k=$3; shift 3
	local a b
	a=$(cg_count "$mode" "$n" 0 "$@") || return 1
	b=$(cg_count "$mode" "$n" "$k" "$@") || return 1
	echo $(( (b - a) / k ))
}
declare -A IR
for n in $SIZES; do
	echo "== callgrind, $n accounts" >&2
	for mode in bare bare+copy entry glibc-nhi; do
		IR[$mode,$n]=$(cg $mode $n "$K" || echo n/a)
	done
	IR[entry+delta,$n]=$(CGDIR=$W/$n-delta cg entry $n "$K" || echo n/a)
	IR[nsswitch-nhi,$n]=$(cg nsswitch-nhi $n "$K" in_ns "$W/nsswitch.nhionly" -- || echo n/a)
	fk=$(( n >= 100000 ? 5 : n >= 10000 ? 20 : 200 ))
	IR[glibc-files,$n]=$(cg glibc-files $n $fk in_ns "$W/nsswitch.files" "$W/$n/passwd" "$W/$n/group" -- || echo n/a)
done

# ---- 3. whole process: id NAME ------------------------------------------------
# hyperfine medians of 100 runs, the cases interleaved over 3 rounds (this
# kind of machine is noisy), and instructions of one run with callgrind.
declare -A IDMS IDIR
hf() { # hf KEY CMD...: median ms of 100 runs of `id svc-000500`
	local key=$1; shift
	"$@" hyperfine -N --style none --warmup 20 --runs 100 \
		--export-json "$W/hf.$key.json" "$ID_CMD" >/dev/null 2>&1 || return 1
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.3f" % (r["median"]*1000))' \
		"$W/hf.$key.json"
}
med() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'; }
idcg() { # idcg CMD...: instructions of one `id svc-000500`
	"$@" valgrind --tool=callgrind --callgrind-out-file="$W/cg.id" $ID_CMD 2>&1 >/dev/null |
		sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
ID_CMD="id svc-000500"
nhi_ns() { in_ns "$W/nsswitch.nhi" -- env NHI_CONF="$W/$1/nhi.conf" "${@:2}"; }
files_ns() { in_ns "$W/nsswitch.files" "$W/$1/passwd.files" "$W/$1/group.files" -- "${@:2}"; }
for n in $SIZES; do
	# the answers must agree
	a=$(nhi_ns "$n" $ID_CMD)
	b=$(files_ns "$n" $ID_CMD)
	[ "$a" = "$b" ] || { echo "run.sh: id differs: '$a' vs '$b'" >&2; exit 1; }
	IDIR[nhi,$n]=$(nhi_ns "$n" bash -c "$(declare -f idcg); W='$W' ID_CMD='$ID_CMD' idcg")
	IDIR[files,$n]=$(files_ns "$n" bash -c "$(declare -f idcg); W='$W' ID_CMD='$ID_CMD' idcg")
done
declare -A R
for round in 1 2 3; do
	R[true]="${R[true]:-} $(hyperfine -N --style none --warmup 20 --runs 100 --export-json "$W/hf.true.json" \
		/usr/bin/true >/dev/null 2>&1 && python3 -c 'import json; print("%.3f" % (json.load(open("'"$W"'/hf.true.json"))["results"][0]["median"]*1000))')"
	for n in $SIZES; do
		echo "== id svc-000500, $n accounts, round $round" >&2
		R[nhi,$n]="${R[nhi,$n]:-} $(hf nhi.$n nhi_ns "$n" || echo 999)"
		R[files,$n]="${R[files,$n]:-} $(hf files.$n files_ns "$n" || echo 999)"
	done
done
true_ms=$(med ${R[true]})
for n in $SIZES; do
	IDMS[nhi,$n]=$(med ${R[nhi,$n]})
	IDMS[files,$n]=$(med ${R[files,$n]})
done
# the target: `id` with nss_nhi no slower at any size than with nss_files
# on the smallest /etc/passwd
small=${SIZES%% *}
id_verdict=met id_ir_verdict=met
for n in $SIZES; do
	awk -v a="${IDMS[nhi,$n]}" -v b="${IDMS[files,$small]}" 'BEGIN { exit !(a <= b) }' ||
		id_verdict="NOT met at $((n / 1000))k"
	awk -v a="${IDIR[nhi,$n]}" -v b="${IDIR[files,$small]}" 'BEGIN { exit !(a + 0 <= b + 0) }' ||
		id_ir_verdict="NOT met at $((n / 1000))k"
done

# ---- 4. a PAM call's snapshot open -----------------------------------------------
# pam_nhi opens the snapshot on every call, looks the user up and closes
# it: nhi-bench -O times that in-process for each way of checking the data.
echo "== nhi-bench -O -n $csv_sizes" >&2
"$BENCH" -O -n "$csv_sizes" -r 15 -t 0.1 -d "$W/open" > "$W/open.md"
cat "$W/open.md" >&2

# ---- RESULTS.md ------------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
text=$({
	echo "<!-- bench/run.sh: begin -->"
	echo "Produced by \`bench/run.sh\` (as root; it builds with \`-O2\`, needs hyperfine and"
	echo "valgrind, and changes nothing on the host: /etc files are bind-mounted in private"
	echo "mount namespaces). $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs"
	echo "($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), Linux $(uname -r),"
	echo "$(ldd --version | head -1 | sed 's/^ldd //'). Accounts svc-000000.. with uids from"
	echo "2,000,000, the same ones in the snapshot and in the passwd file; random names,"
	echo "every answer checked, median of 15 rounds. Load average $load_start at the start,"
	echo "$load_end at the end: times on a shared machine are noisy, the instruction counts"
	echo "are not."
	echo
	echo "## Nanoseconds per lookup"
	echo
	cat "$W/ns.md"
	echo
	echo "### With a delta of 1000 accounts"
	echo
	echo "The same accounts, and beside the snapshot a delta (\`nhi.cache.delta\`) holding"
	echo "1000 of them (every n/1000-th), as after 1000 changes, the most a delta holds by"
	echo "default: every lookup asks the delta first, a thousandth or more are answered"
	echo "from it. The rest of the time the delta is empty and costs one test."
	echo
	cat "$W/ns-delta.md"
	echo
	echo "## Instructions per lookup by name (callgrind)"
	echo
	printf '| method |'; for n in $SIZES; do printf ' %sk |' $((n / 1000)); done; echo
	printf '| --- |'; for n in $SIZES; do printf ' --- |'; done; echo
	for mode in bare bare+copy entry entry+delta glibc-nhi nsswitch-nhi glibc-files; do
		printf '| %s |' "$mode"
		for n in $SIZES; do printf ' %s |' "${IR[$mode,$n]}"; done
		echo
	done
	echo
	echo "## Whole process: \`id svc-000500\`"
	echo
	echo "Milliseconds: hyperfine, median of 100 runs, the median of 3 rounds with the cases"
	echo "interleaved; in brackets the instructions of one run (callgrind)."
	echo
	printf '| nsswitch |'; for n in $SIZES; do printf ' %sk accounts |' $((n / 1000)); done; echo
	printf '| --- |'; for n in $SIZES; do printf ' --- |'; done; echo
	printf '| `files nhi` (host /etc/passwd, accounts in nhi) |'
	for n in $SIZES; do printf ' %s ms [%s] |' "${IDMS[nhi,$n]}" "${IDIR[nhi,$n]}"; done; echo
	printf '| `files` (accounts in /etc/passwd and /etc/group) |'
	for n in $SIZES; do printf ' %s ms [%s] |' "${IDMS[files,$n]}" "${IDIR[files,$n]}"; done; echo
	echo
	echo "\`/usr/bin/true\`: $true_ms ms. Target: \`id\` with nss_nhi no slower at any size than"
	echo "with nss_files on $((small / 1000))k accounts (${IDMS[files,$small]} ms, ${IDIR[files,$small]} instructions):"
	echo "by time $id_verdict; by instructions $id_ir_verdict."
	echo
	echo "## A PAM call's snapshot open"
	echo
	echo "pam_nhi opens the snapshot on every call, looks the user up and closes it"
	echo "(\`nhi-bench -O\`: in-process, a random identity by \`nhi_snap_ident_by_name\`, median of"
	echo "15 rounds). Checking the whole data checksum is O(file size); checking the 16 KiB"
	echo "blocks a lookup reads is not (docs/snapshot-format.md, \"Block checksums\")."
	echo
	cat "$W/open.md"
	echo
	echo "Modes: *bare* is an open-addressing hash in an mmap'd file with the same hash"
	echo "functions and fixed-size records (lookup only: the limit, as in PERFORMANCE.md);"
	echo "*bare+copy* also copies the answer into struct passwd"
	echo "and the caller's buffer, as every NSS module must (its records hold name, home"
	echo "and uid; gecos and shell are the same for every account, so it copies them from"
	echo "constants); the *full records* row is the same hash with records that hold every"
	echo "passwd field (84 bytes, about a snapshot hot record's size): a reference for what"
	echo "the data alone costs as it grows, with no target of its own; *entry* calls"
	echo "\`_nss_nhi_getpwnam_r\` directly (*entry+delta*: with a delta of 1000 accounts"
	echo "beside the snapshot, as above); *glibc-nhi* goes through \`getpwnam_r\` with"
	echo "\`__nss_configure_lookup(\"passwd\", \"nhi\")\`, which skips glibc's per-call check of"
	echo "/etc/nsswitch.conf; *nsswitch-nhi* is what a real process pays (nsswitch.conf"
	echo "\`passwd: nhi\`); *glibc-files* is nss_files on the same accounts. The first five"
	echo "take turns within each of the 15 rounds, so load from other programs hits them"
	echo "alike; the last two run in child processes after them."
	echo
	echo "Reading the numbers: through a real nsswitch.conf, glibc itself costs most of a"
	echo "lookup (it stats /etc/nsswitch.conf on every call; compare *nsswitch-nhi* with"
	echo "*glibc-nhi*). The entry point's instructions do not depend on the number of"
	echo "accounts. A lookup by name reads one 8-byte index bucket (its 32-bit hash tag"
	echo "lets a probe pass over other keys) and one hot record of about 90 bytes holding"
	echo "the numbers and name, gecos, home and shell (snapshot format 2,"
	echo "docs/snapshot-format.md); what NSS never reads is in cold records elsewhere."
	echo "Its time still grows with the number of accounts, like the bare hash's: at 100k"
	echo "the hot records (about 9 MB) and the index (2 MB) outgrow the per-core caches and"
	echo "the TLB, and a lookup waits for two memory loads. The bare hash's records are"
	echo "smaller (44 bytes: it stores no gecos or shell), so it misses less; the bare"
	echo "hash with full records, which holds the snapshot's data, grows about as much as"
	echo "the entry point does."
	echo "\`id NAME\` with nss_nhi does the same work at every size (one hash lookup for"
	echo "the user, one for its groups: initgroups_dyn); with nss_files it reads the whole"
	echo "/etc/passwd and /etc/group."
	echo "<!-- bench/run.sh: end -->"
})
# only this script's section is replaced: the other scripts' sections and
# the notes between them stay as they are
[ -f "$OUT" ] || printf '# nss_nhi benchmark results\n' > "$OUT"
bench_section run "$text" "$OUT" >/dev/null
echo "== wrote $OUT" >&2
printf '%s\n' "$text"

# bench/common.sh - sourced by the bench scripts (SRC: the source tree).
# bench_nhictl BUILD_DIR: nhictl and the NSS module (the test world's
# nss_wrapper resolves owners through it) built with -O2 there unless they are.
bench_nhictl() {
	local b=$1
	[ -x "$b/nhictl/nhictl" ] && [ -f "$b/nss_nhi/.libs/libnss_nhi.so.2" ] && return 0
	[ -x "$SRC/configure" ] || (cd "$SRC" && autoreconf -fi)
	mkdir -p "$b"
	(cd "$b" && { [ -f Makefile ] || "$SRC/configure" CFLAGS="-O2 -g" >/dev/null; } &&
		make -j"$(nproc)" nhictl/nhictl nss_nhi/libnss_nhi.la >/dev/null)
}
# bench_section NAME TEXT FILE: TEXT (from "<!-- bench/NAME.sh: begin -->"
# to its end marker) replaces that section of FILE, or is appended.
bench_section() {
	local name=$1 text=$2 out=$3
	if [ -f "$out" ] && grep -q "<!-- bench/$name.sh: begin -->" "$out"; then
		python3 - "$out" "$text" "$name" <<-'EOF'
		import sys, re
		p, new, name = sys.argv[1], sys.argv[2], sys.argv[3]
		s = open(p).read()
		s = re.sub(r"<!-- bench/%s.sh: begin -->.*<!-- bench/%s.sh: end -->" % (name, name),
		           lambda m: new, s, flags=re.S)
		open(p, "w").write(s)
		EOF
	else
		printf '\n%s\n' "$text" >> "$out"
	fi
	printf '%s\n' "$text"
}

#!/bin/bash
# test-man.sh - the man pages render without a warning; they (and
# examples/nhi.conf) name every nhictl verb and option and every key of
# nhi.conf that the code knows; the example configurations parse.
. "$top_srcdir/tests/common.sh"

pages="doc/nhictl.8 doc/nhi-authorized-keys.8 doc/pam_nhi.8 doc/nss_nhi.8 doc/nhi.conf.5"
# the PAM module's own page, while it still has one
[ -f "$top_srcdir/pam_nhi/pam_nhi.8" ] && pages="$pages pam_nhi/pam_nhi.8"
conf5=$top_srcdir/doc/nhi.conf.5
ctl8=$top_srcdir/doc/nhictl.8
pam8=$top_srcdir/doc/pam_nhi.8
example=$top_srcdir/examples/nhi.conf

# render PAGE: print the warnings (stderr) of formatting it at 80 columns
if command -v man >/dev/null 2>&1; then
	render() {
		LC_ALL=C.UTF-8 MANWIDTH=80 MAN_KEEP_STDERR=1 \
			man --warnings -E UTF-8 -l "$1" 2>&1 >/dev/null
	}
elif command -v groff >/dev/null 2>&1; then
	echo "# man not found, using groff -man -ww -z"
	render() { groff -t -man -Tutf8 -ww -z "$1" 2>&1; }
else
	echo "# neither man (man-db) nor groff is installed: skip"
	exit 77
fi

for p in $pages; do
	f=$top_srcdir/$p
	if [ ! -f "$f" ]; then
		nok "$p exists"
		continue
	fi
	w=$(render "$f")
	if [ -z "$w" ]; then
		ok "$p renders without warnings"
	else
		nok "$p renders without warnings"
		printf '%s\n' "$w" | sed 's/^/#   /'
	fi
	# a page without the sections every page needs is a broken page
	for s in NAME SYNOPSIS DESCRIPTION FILES "SEE ALSO"; do
		grep -q "^\.SH \"\{0,1\}$s\"\{0,1\}\$" "$f" || nok "$p has a $s section"
	done
done

# Every key of lib/nhi_conf.c's keys[] table is documented in nhi.conf(5)
# and shown (commented out, with its default) in examples/nhi.conf.
keys=$(sed -n '/^} keys\[\] = {/,/^};/s/^[[:space:]]*{ "\([a-z_]*\)",.*/\1/p' \
	"$top_srcdir/lib/nhi_conf.c")
if [ -z "$keys" ]; then
	nok "found the keys[] table in lib/nhi_conf.c"
fi
nkeys=0 missing5="" missingex=""
for k in $keys; do
	nkeys=$((nkeys + 1))
	grep -Eq "^\.B[IR]? $k \" = \"" "$conf5" || missing5="$missing5 $k"
	grep -Eq "^#$k =( |$)" "$example" || missingex="$missingex $k"
done
check "nhi.conf.5 documents all $nkeys keys${missing5:+ (missing:$missing5)}" \
	test -z "$missing5"
check "examples/nhi.conf shows all $nkeys keys${missingex:+ (missing:$missingex)}" \
	test -z "$missingex"
# ... and documents no key the parser does not know
extra=""
for k in $(sed -n 's/^\.B[IR]\{0,1\} \([a-z_]*\) " = ".*/\1/p; s/^\.BR \([a-z_]*\) " = " .*/\1/p' "$conf5" | sort -u); do
	printf '%s\n' $keys | grep -qx "$k" || extra="$extra $k"
done
check "nhi.conf.5 documents no unknown key${extra:+ (unknown:$extra)}" test -z "$extra"

# Every finding code of nhictl/cmd/finding.c's catalogue is in nhictl(8)'s
# FINDINGS section (codes are what monitoring matches on).
codes=$(sed -n 's/^[[:space:]]*{ "\(NHI[0-9]*-[A-Z-]*\)",.*/\1/p' "$top_srcdir/nhictl/cmd/finding.c")
[ -n "$codes" ] || nok "found the finding codes in nhictl/cmd/finding.c"
missing=""
findings=$(sed -n '/^\.SH FINDINGS/,/^\.SH /p' "$ctl8" | sed 's/\\-/-/g')
for c in $codes; do
	grep -q "^\.BR $c " <<<"$findings" || missing="$missing $c"
done
check "nhictl.8 lists all $(wc -w <<<"$codes") finding codes${missing:+ (missing:$missing)}" test -z "$missing"

# pam_nhi(8) documents the module arguments that are not nhi.conf keys.
for a in 'config=' debug quiet audit; do
	check "pam_nhi.8 documents the argument $a" grep -q "^\.B[IR]\{0,1\} $a" "$pam8"
done

# Every verb and option nhictl --help lists is in nhictl(8).
if [ ! -x "$NHICTL" ]; then
	echo "# $NHICTL is not built: skipping the nhictl verb checks"
	finish
fi
help=$("$NHICTL" --help 2>&1)

# The defaults shown in examples/nhi.conf, uncommented, are a valid
# configuration (nhictl config check finds no problem), and so is the
# example of nhi.conf(5).
sed -n 's/^#\([a-z_]*\) = \(..*\)$/\1 = \2/p' "$example" > "$T/example.conf"
chmod 644 "$T/example.conf"
check "examples/nhi.conf, uncommented, is accepted by the parser" \
	"$NHICTL" config check "$T/example.conf"
"$NHICTL" config check "$T/example.conf" 2>&1 | sed 's/^/#   /'
sed -n '/^\.SH EXAMPLES/,/^\.SH/{/^# \/etc\/nhi\/nhi.conf/,/^\.fi/p}' "$conf5" |
	sed '/^\.fi/d; s/\\-/-/g' > "$T/man-example.conf"
chmod 644 "$T/man-example.conf"
check "the example of nhi.conf(5) is accepted by the parser" \
	bash -c "[ -s '$T/man-example.conf' ] && '$NHICTL' config check '$T/man-example.conf' >/dev/null"
# verbs: the first word of the indented lines of the usage text
verbs=$(printf '%s\n' "$help" | sed -n 's/^  \{1,\}\([a-z][a-z-]*\)\( .*\)\{0,1\}$/\1/p' | sort -u)
if [ -z "$verbs" ]; then
	nok "nhictl --help lists verbs"
	printf '%s\n' "$help" | sed 's/^/#   /'
	finish
fi
# the global options
missing=""
for o in $(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	grep -q -- "$(printf '%s' "$o" | sed 's/-/\\\\-/g')" "$ctl8" || missing="$missing $o"
done
check "nhictl.8 documents the global options${missing:+ (missing:$missing)}" test -z "$missing"
for v in $verbs; do
	# a verb is documented as a tagged paragraph: ".TP" then ".B verb ..."
	# (".B group verb ..." for the group verbs)
	# (a '-' in the verb is written '\-' in the page)
	vre=$(printf '%s' "$v" | sed 's/-/\\\\\\\\-/g')
	if awk -v re="^[.]B (group )?$vre( |$)" \
		'prev == ".TP" && $0 ~ re { found = 1 } { prev = $0 } END { exit !found }' "$ctl8"; then
		ok "nhictl.8 documents the verb $v"
	else
		nok "nhictl.8 documents the verb $v"
		continue
	fi
	vhelp=$("$NHICTL" "$v" --help 2>&1)
	# sub-verbs ("nhictl group add-member ...") each have their paragraph
	for sub in $(printf '%s\n' "$vhelp" | grep -o "nhictl $v [a-z][a-z-]*" | sed "s/^nhictl $v //" | sort -u); do
		re=$(printf '%s' "$sub" | sed 's/-/\\\\-/g')
		check "nhictl.8 documents '$v $sub'" grep -q "^\.B $v $re\( \|\$\)" "$ctl8"
	done
	# every long option of 'nhictl VERB --help' appears in the page
	opts=$(printf '%s\n' "$vhelp" | grep -o -- '--[a-z][a-z-]*' | sort -u)
	missing=""
	for o in $opts; do
		grep -q -- "$(printf '%s' "$o" | sed 's/-/\\\\-/g')" "$ctl8" || missing="$missing $o"
	done
	check "nhictl.8 documents the options of $v${missing:+ (missing:$missing)}" \
		test -z "$missing"
done

# the pam-auth-update profile and what README and pam_nhi(8) say it adds
prof=$top_srcdir/debian/pam-configs/nhi
if [ -f "$prof" ]; then
	for t in Auth Account Session Password; do
		line=$(awk -v t="$t:" '$0 == t { getline; sub(/^[ \t]+/, ""); gsub(/[ \t]+/, " "); print; exit }' "$prof")
		if [ -z "$line" ]; then
			check "README says the profile has no ${t} line" \
				grep -qi "profile has no $t line" "$top_srcdir/README.md"
			continue
		fi
		ctl=${line%% pam_nhi.so*}
		check "README shows the profile's $t line ($line)" \
			grep -qF "$line" <(sed 's/  */ /g' "$top_srcdir/README.md")
		check "pam_nhi(8) names the profile's $t control ($ctl)" \
			grep -qF "$ctl pam_nhi.so" "$top_srcdir/doc/pam_nhi.8"
	done
fi
finish

#!/bin/bash
# bash completion of nhictl: verbs and options come from the built binary.
. "$top_srcdir/tests/common.sh"
bc=/usr/share/bash-completion/bash_completion
[ -r "$bc" ] || { echo "skip: bash-completion not installed"; exit 77; }
bindir=$T/bin; mkdir -p "$bindir"; ln -s "$NHICTL" "$bindir/nhictl"

complete_line() {  # LINE -> the candidates, one per line
	PATH=$bindir:$PATH bash -c '
		. "$1"; . "$2"
		read -ra COMP_WORDS <<<"$3"
		[[ $3 == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
		COMP_LINE=$3; COMP_POINT=${#3}
		_nhictl nhictl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$bc" "$top_srcdir/contrib/bash-completion/nhictl" "$1"
}
has() { complete_line "$1" | grep -qx -- "$2"; }
hasnt() { ! complete_line "$1" | grep -qx -- "$2"; }

check "verbs: 'nhictl cre' offers create" has "nhictl cre" create
for v in create adopt list show extend suspend resume retire review transfer modify check log group publish audit; do
	check "verb $v offered" has "nhictl " "$v"
done
check "create options: --owner" has "nhictl create --ow" --owner
check "create options: --expires" has "nhictl create x --exp" --expires
check "list options: --expiring" has "nhictl list --exp" --expiring
check "global option before the verb: -c FILE then verb" has "nhictl -c /etc/x.conf sho" show
check "kind values" has "nhictl create x --kind " agent
check "group subverbs" has "nhictl group add" add-member
for v in cred rotate authorized-keys; do
	check "verb $v offered" has "nhictl " "$v"
done
check "cred subverbs" has "nhictl cred re" revoke
check "cred kinds" has "nhictl cred add x --kind " ssh-key
check "create kinds are not cred kinds" hasnt "nhictl create x --kind " token
check "cred add options: --out" has "nhictl cred add x --o" --out
check "cred add options: --count" has "nhictl cred add x --co" --count
check "cred --count N then the sub-verb" has "nhictl cred --count 5 " add
check "rotate options: --grace" has "nhictl rotate x --gr" --grace
check "modify options: --any-service" has "nhictl modify x --any-s" --any-service
for o in --purpose --review-every --review-interval --host --service --any-host --json; do
	check "modify options: $o" has "nhictl modify x --" "$o"
done
check "modify --review-interval takes a duration, not a file" hasnt "nhictl modify x --review-interval " modify-me.yaml
check "apply offered" has "nhictl " apply
for o in --file --dry-run --prune --force --json --changed-exit; do
	check "apply options: $o" has "nhictl apply -f f.yaml --" "$o"
done
mkdir -p "$T/files/sub" && touch "$T/files/fleet.yaml" "$T/files/fleet.json" "$T/files/notes.txt"
# a file name, completed in a directory of three files
infiles() {  # LINE WORD: WORD is among the candidates in $T/files
	local src
	src=$(cd "$top_srcdir" && pwd)
	(cd "$T/files" && top_srcdir=$src complete_line "$1") | grep -qx -- "$2"
}
check "apply -f offers a YAML file" infiles "nhictl apply -f fl" fleet.yaml
check "apply --file offers a JSON file" infiles "nhictl apply --file fl" fleet.json
notinfiles() { ! infiles "$@"; }
check "apply -f offers no text file" notinfiles "nhictl apply -f no" notes.txt
check "apply -f offers a directory" infiles "nhictl apply -f " sub
for v in sync directory; do
	check "verb $v offered" has "nhictl " "$v"
done
check "directory subverb: check" has "nhictl directory " check
for v in resource grant delegate; do
	check "verb $v offered" has "nhictl " "$v"
done
check "resource subverbs" has "nhictl resource sh" show
check "grant subverbs" has "nhictl grant re" remove
check "delegate subverbs" has "nhictl delegate " add
check "grant add options: --actions" has "nhictl grant add x y --act" --actions
check "grant add options: --cred" has "nhictl grant add x y --cr" --cred
check "resource add options: --data-class" has "nhictl resource add x --data" --data-class
check "delegate add options: --reason" has "nhictl delegate add x y --rea" --reason
check "actions values" has "nhictl grant add x y --actions " exec
check "data classes" has "nhictl resource add x --data-class " pii
check "--scope takes free text, not a shell" hasnt "nhictl grant add x y --scope " /bin/sh
check "sync options: --full" has "nhictl sync --fu" --full
check "sync options: --condition" has "nhictl sync --con" --condition
for v in reach who-can chain graph report; do
	check "verb $v offered" has "nhictl " "$v"
done
check "graph options: --format" has "nhictl graph --fo" --format
check "graph formats" has "nhictl graph --format " dot
check "report options: --html" has "nhictl report --ht" --html
check "report options: --graph-max" has "nhictl report --gr" --graph-max
check "who-can options: --action" has "nhictl who-can x --ac" --action
check "who-can actions" has "nhictl who-can x --action " write
finish

#!/bin/bash
# Bash completion (scripts/shipd.bash-completion, installed by make
# install): sourced in bash, the functions complete verbs, options, order
# ids, node names, classes and states from a real configuration and queue.
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((20000 + RANDOM % 20000))
node_add A $((base + 1)) "CLASS docs docs_bay"
node_add B $((base + 2))
node_peer A B
echo x >"$NODES/x.txt"
id=$(ctl A submit --copy --to B "$NODES/x.txt")
export PATH=$TOP/bin:$PATH
. "$TOP/scripts/shipd.bash-completion"

# complete FUNCTION WORDS...: COMPREPLY for the last word, one per line
complete_line() {
	local fn=$1; shift
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	"$fn"
	printf '%s\n' "${COMPREPLY[@]}"
}
has() { grep -qxF -- "$2" <<<"$1"; }
C=$(conf A)

r=$(complete_line _shipctl shipctl s)
has "$r" submit && has "$r" show && has "$r" stats && has "$r" ship && ! has "$r" ls &&
	ok "shipctl s<TAB>: the verbs starting with s" || fail "verbs" "$r"
r=$(complete_line _shipctl shipctl -c "$C" submit --w)
has "$r" --wait && ok "submit --w<TAB>: --wait" || fail "submit options" "$r"
r=$(complete_line _shipctl shipctl -c "$C" submit --to "")
has "$r" B && has "$r" A && ok "submit --to <TAB>: node names" || fail "node names" "$r"
r=$(complete_line _shipctl shipctl -c "$C" show "${id:0:8}")
has "$r" "$id" && ok "show <TAB>: order ids" || fail "order ids" "$r"
r=$(complete_line _shipctl shipctl -c "$C" ls --class d)
has "$r" docs && ok "ls --class <TAB>: classes" || fail "classes" "$r"
r=$(complete_line _shipctl shipctl ls --state de)
[ "$r" = deferred ] && ok "ls --state de<TAB>: deferred" || fail "states" "$r"
r=$(complete_line _shipctl shipctl -c "$C" stats --p)
has "$r" --prometheus && ok "stats --p<TAB>: --prometheus" || fail "stats options" "$r"
r=$(complete_line _mkorder mkorder -conf "$C" -data x.txt "")
has "$r" B && ok "mkorder ... <TAB>: destinations" || fail "mkorder destinations" "$r"
r=$(complete_line _mkorder mkorder -f)
[ "$r" = -fship ] && ok "mkorder -f<TAB>: -fship" || fail "mkorder options" "$r"
r=$(complete_line _shipping_server shipping_server -p)
[ "$r" = -poll ] && ok "shipping_server -p<TAB>: -poll" || fail "shipping_server" "$r"
r=$(complete_line _lspacket lspacket -s)
[ "$r" = -short ] && ok "lspacket -s<TAB>: -short" || fail "lspacket" "$r"
finish

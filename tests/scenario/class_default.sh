#!/bin/bash
# class_default.sh - a relay set up with -default only (as the shipped
# exposed-host examples are) forwards packets of classes it does not
# define, stored in its -default bays, and logs that once per class
# (issue 14); the destination, which defines the class, delivers into
# that class's bay; checkconf says where such packets go.
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((20000 + RANDOM % 20000))
work=$NODES/work; mkdir -p "$work"
node_add A $((base + 1)) "CLASS vobs spool/vobs_bay"
node_add X $((base + 2))
node_add B $((base + 3)) "CLASS vobs spool/vobs_bay"
node_peer A X; node_peer X A; node_peer X B; node_peer B X
node_key A B; node_key B A
node_route A X B
node_start A && node_start X && node_start B || { fail "start"; finish; }

"$SHIPCTL" -c "$(conf X)" checkconf >"$work/cc.out" 2>&1
check "checkconf on X says where unknown classes go" \
	grep -q "packets of a class not defined here are stored in class -default" "$work/cc.out"
echo one >"$work/v1.txt"; echo two >"$work/v2.txt"
ctl A submit --class vobs --to B "$work/v1.txt" >/dev/null
ctl A submit --class vobs --to B "$work/v2.txt" >/dev/null
vin=$(spool B)/vobs_bay/incoming
check "B delivers the first into its vobs bay" wait_for test -f "$vin/v1.txt"
check "B delivers the second into its vobs bay" wait_for test -f "$vin/v2.txt"
check "nothing turned back" sh -c "! grep -q 'unknown storage class' '$NODES/A/shipd.log' '$NODES/X/shipd.log'"
n=$(grep -c "class vobs is not defined here" "$NODES/X/shipd.log")
check "X logged the unknown class once (got $n)" test "$n" -eq 1
finish

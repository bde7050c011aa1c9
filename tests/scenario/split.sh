#!/bin/bash
# MAX-DATA-SIZE: a file larger than the packet limit is split into parts,
# each shipped as its own packet (here through a relay), and joined exactly
# once at the destination when all parts are there; a missing part waits.
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((20000 + RANDOM % 20000))
node_add A $((base + 1)) "MAX-DATA-SIZE 256k"
node_add X $((base + 2))
node_add B $((base + 3))
node_peer A X; node_peer X A; node_peer X B; node_peer B X
node_key A B; node_key B A
node_route A X B
work=$NODES/work; mkdir -p "$work"
head -c 2000000 /dev/urandom >"$work/big.bin"
ids=$(ctl A submit --copy --to B "$work/big.bin")
n=$(echo "$ids" | wc -l)
echo "# 2,000,000 bytes with MAX-DATA-SIZE 256k: $n parts"
check "split into several parts ($n)" test "$n" -ge 8
big=0
for f in "$(bay A)"/data/*; do [ "$(stat -c %s "$f")" -gt $((256 * 1024)) ] && big=$((big + 1)); done
check "every part file within MAX-DATA-SIZE" test "$big" -eq 0

# hold one part back: the others wait at B in joining/, nothing delivered
last=$(echo "$ids" | tail -n 1)
ctl A hold "$last" >/dev/null
for n2 in A X B; do node_start "$n2" || { fail "start $n2"; finish; }; done
check "the other parts wait at B" wait_for at_least $((n - 1)) "$(bay B)/joining"
check "nothing delivered while a part is missing" test ! -e "$(bay B)/incoming/big.bin"
ctl A release "$last" >/dev/null
check "joined and delivered once the last part arrives" wait_for delivered B big.bin
cmp -s "$work/big.bin" "$(bay B)/incoming/big.bin" && ok "joined file is byte-identical" || fail "content differs"
sleep 1
check "delivered exactly once" test ! -e "$(bay B)/incoming/big.bin_1"
check "no part left at B" test "$(count_files "$(bay B)/joining")" -eq 0 -a "$(count_files "$(bay B)/outgoing")" -eq 0
finish

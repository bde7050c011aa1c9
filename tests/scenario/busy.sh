#!/bin/bash
# "Busy" is not "down": B takes one inbound hop at a time (MAX-RECEIVERS 1)
# while A sends to it from four workers at once (MAX-CHILDREN 4). The
# workers B tells "busy" try again shortly; none defers an order for the
# order back-off (RETRY-MIN, 10 minutes here, so a deferral would show as
# orders never delivered) and B is never marked down.
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((30000 + (RANDOM % 1000) * 20))
node_add A "$base" "MAX-CHILDREN 4" "RETRY-MIN 10m" "RETRY-MAX 1h"
node_add B $((base + 1)) "MAX-RECEIVERS 1"
node_peer A B; node_peer B A
work=$NODES/work; mkdir -p "$work"
n=40
for i in $(seq $n); do
	head -c 4096 /dev/urandom >"$work/f$i.bin"
	ctl A submit --to B "$work/f$i.bin" >/dev/null 2>&1 || fail "submit f$i"
done
node_start B || { fail "start B"; finish; }
node_start A || { fail "start A"; finish; }
WAIT=90 check "all $n orders delivered to B" wait_for at_least $n "$(bay B)/incoming"
busy=$(grep -c "all 1 receivers busy" "$NODES/B/shipd.log")
echo "# B told a sender busy $busy times"
check "B really was busy (told a sender so $busy times)" test "$busy" -gt 0
deferred=$(grep -c "order .*: deferred:" "$NODES/A/shipd.log")
check "A deferred no order ($deferred deferrals)" test "$deferred" -eq 0
check "A never marked B down" bash -c "! grep -q 'next hop B down' '$NODES/A/shipd.log'"
check "A logs that B was busy and it tries again shortly" log_has A "B busy .*trying again in"
finish

#!/bin/bash
# "Busy" is not "down": B takes one inbound hop at a time (MAX-RECEIVERS 1)
# while A sends to it from four workers at once (MAX-CHILDREN 4). The
# workers B tells "busy" try again shortly; none defers an order for the
# order back-off (RETRY-MIN, 10 minutes here, so a deferral would show as
# orders never delivered) and B is never marked down.
# Then H, another peer of B, holds B's one slot far longer than A's eight
# short tries last: A puts its order back for a short while, without
# counting a failed attempt, and it arrives once H has left (B waits 60 s
# for a silent peer: IO-TIMEOUT).
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((30000 + (RANDOM % 1000) * 20))
node_add A "$base" "MAX-CHILDREN 4" "RETRY-MIN 10m" "RETRY-MAX 1h"
node_add B $((base + 1)) "MAX-RECEIVERS 1" "IO-TIMEOUT 60s"
node_add H $((base + 2))
node_peer A B; node_peer B A; node_peer H B; node_peer B H
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

# --- busy for longer than the tries: put back, not a failed attempt ---
# A's send workers keep a connection open a moment after their batch
# (pool.c), and that one holds B's one slot: H must come after it closed
to_b() { [ "$(ss -tnH state established "( dport = :$((base + 1)) )" | wc -l)" -eq 0 ]; }
check "A's kept connection to B is closed" wait_for to_b
amark=$(wc -l <"$NODES/A/shipd.log"); bmark=$(wc -l <"$NODES/B/shipd.log")
"${HOSTILE:-$TOP/build/tests/hostile}" -c "$(conf H)" hold B 45 >"$work/hold.out" 2>&1 &
hpid=$!
check "H is connected to B" wait_for grep -q "result: connected" "$work/hold.out"
echo "long $RANDOM" >"$work/long.txt"
ctl A submit --to B "$work/long.txt" >/dev/null 2>&1 || fail "submit long.txt"
put_back() { tail -n +$((amark + 1)) "$NODES/A/shipd.log" |
	grep -q "put back for [0-9]*s: B busy: .*(8 tries) (a busy next hop: not a failed attempt)"; }
WAIT=60 check "A puts the order back after its tries" wait_for put_back
check "H held B's one slot (B never told H busy)" \
	sh -c "! tail -n +$((bmark + 1)) '$NODES/B/shipd.log' | grep -q 'inbound hop from H .*busy'"
check "the order put back counts no failed attempt" \
	test "$(ctl A ls --json | jq '[.[] | select(.attempts > 0)] | length')" -eq 0
wait $hpid
WAIT=90 check "it arrives once H has left" wait_for delivered B long.txt
if tail -n +$((amark + 1)) "$NODES/A/shipd.log" | grep -E "next hop B down|deferred: " >"$work/long.bad"; then
	fail "A neither marked B down nor deferred the order" "$(head -n 2 "$work/long.bad")"
else
	ok "A neither marked B down nor deferred the order"
fi
finish

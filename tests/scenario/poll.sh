#!/bin/bash
# shipd --poll, the cron job: one pass over every bay, then exit. Its exit
# status tells whether everything due went out (0) or not (75).
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((20000 + RANDOM % 20000))
node_add A $((base + 1))
node_add B $((base + 2))
node_peer A B; node_peer B A
work=$NODES/work; mkdir -p "$work"
echo "polled" >"$work/p.txt"
id=$(ctl A submit --copy --to B "$work/p.txt")
$SHIPD -c "$(conf A)" --poll >"$work/poll1.log" 2>&1
rc=$?
check "poll with B down exits 75 (try again later), got $rc" test "$rc" -eq 75
ctl A ls --json | jq -e --arg id "$id" '.[] | select(.id == $id) | .state == "deferred"' >/dev/null &&
	ok "order deferred after the failed poll" || fail "order not deferred"
node_start B || { fail "start B"; finish; }
$SHIPD -c "$(conf A)" --poll >"$work/poll2.log" 2>&1
rc=$?
check "poll with B up exits 0, got $rc" test "$rc" -eq 0
check "delivered by the poll" wait_for delivered B p.txt
test "$(ctl A ls --json | jq length)" -eq 0 && ok "queue empty after the poll" || fail "queue not empty"
finish

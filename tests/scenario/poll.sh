#!/bin/bash
# shipd --poll, the cron job: one pass over every bay, then exit. Its exit
# status tells whether everything due went out (0) or not (75).
. "$TOP/tests/lib/nodes.sh"
pair_init
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

# Many orders for a next hop that is down: a pass tries it once, not once
# per order; the others stay queued untouched, and go when it is back.
node_stop B
# a back-off longer than the test: B stays known down for the whole pass
# and while ls looks (the suite's RETRY-MIN of 1s would let it lapse)
sed -i 's/^RETRY-MIN .*/RETRY-MIN 60s/; s/^RETRY-MAX .*/RETRY-MAX 60s/' "$(conf A)"
n=40
for i in $(seq $n); do
	echo "many $i" >"$work/m$i.txt"
	ctl A submit --copy --to B "$work/m$i.txt" >/dev/null || fail "submit m$i"
done
$SHIPD -c "$(conf A)" --poll >"$work/poll3.log" 2>&1
rc=$?
check "poll over $n orders with B down exits 75, got $rc" test "$rc" -eq 75
tries=$(grep -c "]: hop to B (.*): tcp: " "$work/poll3.log")
check "B tried once in the pass, not once per order (got $tries)" test "$tries" -eq 1
failed=$(grep -c "attempt to B failed" "$work/poll3.log")
check "one failed attempt logged, not $n (got $failed)" test "$failed" -eq 1
grep -q "next hop B down: $((n - 1)) orders for it not tried in this pass, left queued" \
	"$work/poll3.log" && ok "the pass names what it left queued" || fail "no summary of the orders left"
grep -q "poll done: 1 attempt failed, $((n - 1)) orders left for a next hop down" "$work/poll3.log" &&
	ok "the pass counts one attempt, not $n" || fail "poll done line"
check "all $n orders still queued" test "$(ctl A ls --json | jq length)" -eq "$n"
check "one order carries the attempt" \
	test "$(ctl A ls --json | jq '[.[] | select(.attempts > 0)] | length')" -eq 1
waiting=$(ctl A ls | grep -c "waiting: next hop B down until")
check "ls says why the untried ones wait (got $waiting of $((n - 1)))" test "$waiting" -eq $((n - 1))
node_start B || { fail "start B"; finish; }
$SHIPD -c "$(conf A)" --poll >"$work/poll4.log" 2>&1
rc=$?
check "poll with B back exits 0, got $rc" test "$rc" -eq 0
check "all $n delivered" wait_for delivered B m$n.txt
test "$(ctl A ls --json | jq length)" -eq 0 && ok "queue empty after the poll" || fail "queue not empty"
finish

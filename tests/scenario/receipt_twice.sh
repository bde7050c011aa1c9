#!/bin/bash
# tests/scenario/receipt_twice.sh - a second receipt for an order its
# origin still has queued. B's receiver dies at its group's commit point,
# before its ACK (the test-hook build): the file is delivered and its
# receipt marked owed, but A never heard, so A keeps the order and tries
# it again later. B's next start sends the receipt its mark holds; A takes
# it while the order is still queued, which begins A's history record of
# the order without the "sent to B" line that only its end writes. A's
# next try then finds B's receipt without its seen/ marker, and B confirms
# the delivery again: a second receipt. A used to refuse that one as a
# forgery ("B was not a destination of order ... from here") and move the
# whole receipt packet, with every other order's receipt in it, to
# corrupt/; batch.sh met it after a kill -9 of B, when the second receipt
# came before A had recorded the end of its next try. Here A's worker (the
# test-hook build) pauses 3 s after B's answer to that try, before the
# end's record, so that the receipt always lands in that moment. It is
# now taken as known already, and both queues end empty.
. "$TOP/tests/lib/nodes.sh"
pair_init "RETRY-MIN 30s" "RETRY-MAX 30s"
flag=$NODES/committed.flag; touch "$flag"
SHIPD="env SHIPD_TEST_FORBIDDEN=receiver-committed:$flag $TOP/build/tests/shipd-hooks" \
	node_start B || { fail "start B (test hooks)"; finish; }
node_start A || { fail "start A"; finish; }
echo "a small packet $RANDOM" >"$work/f1"
ctl A submit --to B "$work/f1" >"$work/ids" 2>"$work/submit.err"
id=$(cat "$work/ids")
check "B's receiver died at its group's commit point" \
	wait_for log_has B "receiver-committed tries a forbidden system call"
check "A keeps the order for a later try" wait_for log_has A "order $id: deferred"

node_stop B
node_start B || { fail "restart B"; finish; }
check "B's start sent the receipt its mark held" \
	wait_for log_has B "order $id: delivery receipt .* queued for A"
check "A took it, the order still queued" wait_for receipted "$work/ids"
check "... and still queued" test -n "$(ctl A ls --short 2>/dev/null | grep -F "$id")"

node_stop A
SHIPD="env SHIPD_TEST_END_PAUSE=3 $TOP/build/tests/shipd-hooks" node_start A ||
	{ fail "restart A (test hooks)"; finish; }
ctl A retry "$id" >/dev/null 2>&1 || fail "shipctl retry $id"
check "A's next try: B confirms the delivery again" \
	wait_for log_has B "packet $id: delivered here before"
check "... and sends a second receipt" \
	wait_for eval '[ "$(grep -c "order $id: delivery receipt .* queued for A" "$NODES/B/shipd.log")" -ge 2 ]'
check "A took the second one as known already" \
	wait_for log_has A "order $id: delivered to B at .*, known already"
check "... not refused as a forgery" eval '! log_has A "refused packet .* was not a destination"'
empty() { [ "$(ctl "$1" ls --json | jq length)" -eq 0 ]; }
check "A's queue empty (nothing in corrupt/)" wait_for empty A
check "B's queue empty" wait_for empty B
check "f1 delivered once" test "$(count_files "$(bay B)/incoming")" -eq 1
finish

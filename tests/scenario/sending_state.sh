#!/bin/bash
# sending_state.sh - an order sent while it was sealed is shown, counted
# and refused as active while its send goes on. The daemon sends a large
# file as `shipctl submit` seals it and does not claim the order into
# active/ once it is committed: it stays in outgoing/ until B answers.
# A's sends are slowed (SHIPD_TEST_RATE) so that the send outlasts the
# seal by seconds (the seal takes 2 s, the send 8 s). While it goes on:
#   - `shipctl ls` and `ls --json` say active, `ls --state active` lists it;
#   - `shipctl stats --json` counts it as active, not outgoing;
#   - hold and rm refuse it as busy (75), as for any order being sent,
#     instead of moving or removing the order under its sender, and
#     hold --all passes over it as over an order in active/;
# and it is delivered once, its order ended in done/.
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/chaos.sh"
WAIT=60
pair_init || { fail "set-up"; finish; }
SHIPD="env SHIPD_TEST_RATE=$((2 << 20)) $SHIPD" node_start A && node_start B ||
	{ fail "start"; finish; }
head -c $((16 << 20)) /dev/urandom >"$work/big.dat"
id=$(SHIPD_TEST_SEAL_RATE=$((8 << 20)) "$SHIPCTL" -c "$(conf A)" submit --copy --to B \
	"$work/big.dat" 2>"$work/submit.err")
check "submit of a 16 MiB file ($(head -c 200 "$work/submit.err"))" test -n "$id"
inflight() { [ -e "$(bay A)/inflight/$id" ]; }
from_outgoing() { inflight && [ -e "$(bay A)/outgoing/$id" ]; }
check "A is sending it (inflight/$id) with its order in outgoing/" from_outgoing
state=$(ctl A ls --json | jq -r --arg id "$id" '.[] | select(.id == $id) | .state')
check "ls --json says active while it is sent (got '$state')" test "$state" = active
ctl A ls | grep "$id" | grep -qw active && ok "ls says active" || fail "ls" "$(ctl A ls)"
check "ls --state active lists it" sh -c "'$SHIPCTL' -c '$(conf A)' ls --state active | grep -q '$id'"
st=$(ctl A stats --json)
n_active=$(jq '[.. | objects | select(.state? == "active") | .count] | add // 0' <<<"$st")
n_out=$(jq '[.. | objects | select(.state? == "outgoing") | .count] | add // 0' <<<"$st")
check "stats counts it as active ($n_active), not outgoing ($n_out)" \
	test "$n_active" -eq 1 -a "$n_out" -eq 0
ctl A hold "$id" >/dev/null 2>"$work/hold.err"
rc=$?
check "hold refuses it as busy: 75 (got $rc: $(cat "$work/hold.err"))" \
	sh -c "[ $rc -eq 75 ] && grep -q 'busy: being sent' '$work/hold.err'"
ctl A rm "$id" >/dev/null 2>"$work/rm.err"
rc=$?
check "rm refuses it as busy: 75 (got $rc: $(cat "$work/rm.err"))" test "$rc" -eq 75
ctl A hold --all >/dev/null 2>"$work/holdall.err"
rc=$?
check "hold --all passes over it, as over an order in active/ (exit $rc: $(cat "$work/holdall.err"))" \
	sh -c "[ $rc -eq 0 ] && grep -q '0 orders held' '$work/holdall.err'"
check "... the order is still in outgoing/, not held nor removed" \
	test -e "$(bay A)/outgoing/$id" -o -e "$(bay A)/done/$id"
# the send was still going on when all that was looked at
check "... and A was still sending it" inflight
check "delivered at B" wait_for delivered B big.dat
cmp -s "$work/big.dat" "$(bay B)/incoming/big.dat" && ok "byte-identical" || fail "content differs"
check "A's order ended in done/" wait_for test -e "$(bay A)/done/$id"
check "A's queue drains" wait_for queue_empty A
check "nothing in hold/" test "$(count_files "$(bay A)/hold")" -eq 0
finish

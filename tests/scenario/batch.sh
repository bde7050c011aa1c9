#!/bin/bash
# Many orders, few connections, and a dead next hop that is not hammered:
# 1. 200 orders queued for one peer go over far fewer connections than
#    orders (A logs one "connection to B ... closed" line per connection),
#    every one delivered once.
# 2. The receiving shipd is killed (-9) in the middle of a batch of 200 and
#    started again: every order is delivered exactly once, none is lost,
#    both queues end empty.
# 3. A next hop that is down costs one connection attempt per back-off
#    period, not one per order, in the daemon and in one --poll pass; each
#    order still shows why it waits.
. "$TOP/tests/lib/nodes.sh"
WAIT=60

pair_init "BAY-SIZE-LIMIT 0" -- "BAY-SIZE-LIMIT 0"
inc=$(bay B)/incoming

# submit N files named PREFIX1..PREFIXN to B while A is stopped
queue() {
	local p=$1 n=$2 i
	for i in $(seq "$n"); do
		head -c 4096 /dev/urandom >"$work/$p$i"
		ctl A submit --copy --to B "$work/$p$i" >/dev/null 2>&1 || fail "submit $p$i"
	done
}
received() { grep -c "received .* from A" "$NODES/B/shipd.log"; }
received_ge() { [ "$(received)" -ge "$1" ]; }
conns() { grep -c "connection to B .* closed" "$NODES/A/shipd.log"; }
# A keeps a connection open for a moment after its batch (pool.c): the
# count is final once no TCP connection to B's port is left
all_closed() { [ "$(ss -tnH state established "( dport = :$((base + 2)) )" | wc -l)" -eq 0 ]; }

# 1. few connections for many orders
node_start B || { fail "start B"; finish; }
queue f 200
node_start A || { fail "start A"; finish; }
check "200 queued orders delivered" wait_for at_least 200 "$inc"
check "A's connections to B closed once idle" wait_for all_closed
c=$(conns) r=$(received)
echo "# $r orders received over $c connections"
check "far fewer connections than orders ($c for $r)" test "$c" -ge 1 -a $((c * 3)) -le "$r"
check "each order received once ($r)" test "$r" -eq 200

# 2. the receiver killed in the middle of a batch
node_stop A
queue g 200
before=$(received)
node_start A || { fail "restart A"; finish; }
check "B is receiving the batch" wait_for received_ge $((before + 30))
node_kill B
got=$(count_files "$inc")
echo "# B killed with $((got - 200)) of the second 200 delivered"
check "killed in the middle of the batch" test "$got" -lt 400
sleep 1
node_start B || { fail "restart B"; finish; }
check "every order delivered after B came back" wait_for at_least 400 "$inc"
empty() { [ "$(ctl "$1" ls --json | jq length)" -eq 0 ]; }
check "A's queue empty" wait_for empty A
check "B's queue empty" wait_for empty B
sleep 1
n=$(count_files "$inc")
check "exactly 400 files in incoming, none twice ($n)" test "$n" -eq 400
dups=$(find "$inc" -name '*_[0-9]*' | wc -l)
check "no file delivered a second time under a new name ($dups)" test "$dups" -eq 0
for i in 1 77 200; do
	cmp -s "$work/g$i" "$inc/g$i" || fail "g$i differs after the kill"
done
node_stop A; node_stop B

# 3. a dead next hop: one attempt per back-off period, not one per order
node_add C $((base + 3)) "RETRY-MIN 60s" "RETRY-MAX 60s"
node_add D $((base + 4))
node_peer C D; node_peer D C
for i in $(seq 40); do
	echo "d$i" >"$work/d$i"
	ctl C submit --to D "$work/d$i" >/dev/null 2>&1 || fail "submit d$i"
done
sleep 1		# the orders are older than the failure to come
node_start C || { fail "start C"; finish; }
ndeferred() { find "$(bay C)/deferred" -type f | wc -l; }
deferred_ge() { [ "$(ndeferred)" -ge "$1" ]; }
tried() { grep "attempt to D failed" "$NODES/C/shipd.log" | grep -vc "not tried again"; }
check "all 40 orders deferred while D is down" wait_for deferred_ge 40
attempts=$(tried)
echo "# daemon: $attempts connection attempts for 40 orders"
check "one connection attempt in the back-off period, not one per order ($attempts)" \
	test "$attempts" -eq 1
check "the master says once that D is down" \
	test "$(grep -c "next hop D down" "$NODES/C/shipd.log")" -eq 1
n=$(ctl C ls --json | jq '[.[] | select(.state == "deferred" and .attempts >= 1 and (.last_error | test("unreachable")))] | length')
check "every order shows why it waits ($n of 40)" test "$n" -eq 40
# an order submitted after the failure gets a try of its own: a peer that
# came back is used at once, not after the back-off
echo late >"$work/late"
ctl C submit --to D "$work/late" >/dev/null 2>&1
check "an order submitted after the failure is tried once more" wait_for deferred_ge 41
check "... which is one more attempt, not one per waiting order ($(tried))" test "$(tried)" -eq 2
node_stop C
sleep 1		# order times have one-second resolution: all older than the poll
$SHIPD -c "$(conf C)" --poll >"$work/poll.log" 2>&1
rc=$?
check "--poll with D down exits 75, got $rc" test "$rc" -eq 75
attempts=$(grep "attempt to D failed" "$work/poll.log" | grep -vc "not tried again")
echo "# --poll: $attempts connection attempts for 40 orders"
check "one --poll pass tries the dead peer once ($attempts)" test "$attempts" -eq 1
check "all 41 deferred again by the poll" test "$(ndeferred)" -eq 41
finish

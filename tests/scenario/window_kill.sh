#!/bin/bash
# A full window in flight, and the receiver killed -9 in the middle of it,
# again and again (hop protocol 4): A holds ORDERS small and medium packets
# for B, queued before A starts, so that every connection carries a full
# window of offers and bodies; each time B's receiver is serving one,
# kill -9 hits it. In the end every packet is delivered at B exactly once
# and byte-identical, and nothing is left queued on either node.
# Default 400 orders and 10 kills; SOAK=1: 1,000 orders and 20 kills.
# ORDERS=, KILLS= override. SMALL=1 (small_kill.sh): 800 packets of 1-8
# KiB (SOAK=1: 3,000 and 20 kills), each whole inside its offer, which B's
# receiver opens itself, its receipt marked owed on disk: every receipt
# reaches A, no mark is left.
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/chaos.sh"
if [ -n "${SMALL:-}" ] && [ -n "${SOAK:-}" ]; then
	: "${ORDERS:=3000}" "${KILLS:=20}"
elif [ -n "${SMALL:-}" ]; then
	: "${ORDERS:=800}" "${KILLS:=6}"
elif [ -n "${SOAK:-}" ]; then
	: "${ORDERS:=1000}" "${KILLS:=20}"
else
	: "${ORDERS:=400}" "${KILLS:=10}"
fi
pair_init
# bodies of 70-100 KiB: each streams after its ACCEPT (not inline), slowly
mkdir -p "$work/files"
for ((i = 1; i <= ORDERS; i++)); do
	if [ -n "${SMALL:-}" ]; then size=$((1000 + RANDOM % 7000)); else size=$((70000 + RANDOM % 30000)); fi
	head -c "$size" /dev/urandom >"$work/files/$(printf 'p%05d.dat' "$i")"
done
(cd "$work/files" && sha256sum -- *.dat) >"$work/files.sums"
(cd "$work/files" && ls | xargs -n 100 "$SHIPCTL" -c "$(conf A)" submit --to B) >"$work/ids" 2>"$work/submit.err"
check "$ORDERS orders queued at A before it starts" test "$(wc -l <"$work/ids")" -eq "$ORDERS"
# bodies stream at 150 KB/s per connection, so that windows stay open long
# enough to be cut (400 orders take about 25 s, 1,000 about a minute). The
# rate is the connection's: SHIPD_TEST_RATE slows each order from its
# ACCEPT, and the bodies queued in a window behind others went at full
# speed (1,000 orders drained in 11 s, before 9 of 20 kills)
# Small packets travel inside their offers: 40 KB/s a connection, so that
# 3,000 of them (SMALL=1 SOAK=1) take about 35 s, not 12 s before 10-13
# of the 20 kills. A only: B's receipts to A go at full speed.
rate=150000
[ -n "${SMALL:-}" ] && rate=40000
node_start B && SHIPD="env SHIPD_TEST_LINK_RATE=$rate $SHIPD" node_start A ||
	{ fail "start"; finish; }

# one of B's receivers (shipd-recv: not a sender of B's delivery receipts
# to A, nor a delivery worker), mostly with a window open: kill it
# (a pause first, then the kill as soon as a receiver is seen: a window
# now drains in a second or two, and a victim picked before the pause had
# often ended by the kill; a kill that finds it gone does not count)
# a receiver reading bodies now (A keeps an idle connection open for a
# moment after a batch, shipd/pool.c: its receiver has nothing open)
rchar() { awk '/^rchar/ {print $2}' "/proc/$1/io" 2>/dev/null || echo 0; }
reading_receiver() {
	local p a
	for p in $(pgrep -P "${PID[B]}" -x shipd-recv); do
		a=$(rchar "$p"); sleep 0.05
		[ "$(rchar "$p")" -gt "$a" ] && { echo "$p"; return; }
	done
}
kills=0
for ((k = 0; k < 3 * KILLS && kills < KILLS; k++)); do
	sleep 0.$((RANDOM % 10))
	victim=
	for ((t = 0; t < 200; t++)); do
		victim=$(reading_receiver)
		[ -n "$victim" ] && break
		sleep 0.05
	done
	[ -n "$victim" ] || break
	kill -KILL "$victim" 2>/dev/null && kills=$((kills + 1))
	sleep 0.1
done
echo "# killed $kills receivers of B; $(count_incoming B) of $ORDERS delivered by then"
# the schedule ends early when the queue has drained before it: at least 3
# must land in make check's run, every one in the soak's (the issue's 20)
need=3
[ -n "${SOAK:-}" ] && need=$KILLS
check "receivers were killed mid-window ($kills of $KILLS, $need needed)" test "$kills" -ge "$need"
check "connections broke with orders open" log_has A "orders open\|closed by the receiver\|connection closed in mid-frame\|closed without a close message\|Connection reset\|the connection broke"

drained() { incoming_at_least B "$ORDERS" && queue_empty A && queue_empty B &&
	[ -z "$(leftovers A)" ] && [ -z "$(leftovers B)" ]; }
WAIT=180 wait_for drained
sleep 1
verify_incoming B "$work/files.sums"
echo "# orders $ORDERS, delivered $((ORDERS - MISSING)), duplicates $DUPS, losses $MISSING, corrupted $BAD, unexpected $EXTRA"
check "no order lost ($MISSING missing)" test "$MISSING" -eq 0
check "no order delivered twice ($DUPS duplicates)" test "$DUPS" -eq 0
check "every packet byte-identical ($BAD differ)" test "$BAD" -eq 0
for n in A B; do
	left=$(leftovers "$n")
	check "$n: no leftovers in state directories${left:+ ($left)}" test -z "$left"
	check "$n: shipctl ls lists nothing" queue_empty "$n"
done
if [ -n "${SMALL:-}" ]; then
	check "B's receivers opened the small packets themselves" \
		log_has B "delivered into .* while received"
	check "A took a receipt for every order" wait_for receipted "$work/ids"
	marks() { ls "$(bay B)/receipts" | grep -c '\.owed$'; }
	nomarks() { [ "$(marks)" -eq 0 ]; }
	check "B: no receipt left marked owed" wait_for nomarks
fi
echo "# B's group commits: $(grep -c 'group of' "$NODES/B/shipd.log") orders logged; groups larger than 1: $(grep -c 'group of [2-9]\|group of [1-9][0-9]' "$NODES/B/shipd.log")"
for n in "${!PID[@]}"; do node_stop "$n"; done
check "no sanitizer report in any log ($(sanitizer_reports))" test "$(sanitizer_reports)" -eq 0
finish

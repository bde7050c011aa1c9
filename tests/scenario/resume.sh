#!/bin/bash
# Custody and interruptions: a transfer cut in the middle resumes where it
# stopped; a packet offered again after the receiver took custody is
# acknowledged, not stored twice; SIGTERM during a transfer puts the order
# back in the queue; SIGHUP with a broken configuration keeps the old one.
# The large packets go to C through B: B stores them in partial/ (a large
# packet whose last hop is B would be opened while received, and a cut
# transfer of it starts afresh: stream_deliver.sh).
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((20000 + RANDOM % 20000))
node_add A $((base + 1))
node_add B $((base + 2)) "IO-TIMEOUT 3s"
node_add C $((base + 3))
node_peer A B; node_peer B A; node_peer B C; node_peer C B
node_key A C; node_key C A
node_route A B C
work=$NODES/work; mkdir -p "$work"
export SHIPD_TEST_RATE=$((4 * 1024 * 1024))	# 4 MB/s: a 16 MB packet takes ~4 s
node_start A && node_start B && node_start C || { fail "start"; finish; }
head -c $((16 * 1024 * 1024)) /dev/urandom >"$work/big.bin"

# 1. cut the transfer: kill B's receiver half way, A resumes from there
id=$(ctl A submit --copy --to C "$work/big.bin")
half() { local d; d=$(awk '{print $5}' "$(bay A)/inflight/$id" 2>/dev/null); [ "${d:-0}" -gt $((6 * 1024 * 1024)) ]; }
check "transfer under way (progress record shows bytes moving)" wait_for half
pkill -KILL -P "${PID[B]}"
# (16 MiB of random data is sent while it is sealed: a cut in that first
# attempt sends the order the ordinary way instead of deferring it)
check "A defers after the cut" wait_for grep -E -q \
	"order $id: (deferred|not sent on to B while sealed: .* it goes the ordinary way)" \
	"$NODES/A/shipd.log"
check "A resumes instead of restarting" wait_for log_has A "order $id: resuming at byte"
check "B logs a resumed receipt" wait_for log_has B "received $id .*(resumed)"
check "delivered after the resume" wait_for delivered C big.bin
cmp -s "$work/big.bin" "$(bay C)/incoming/big.bin" && ok "resumed file is byte-identical" || fail "content differs"
at=$(grep -o "order $id: resuming at byte [0-9]*" "$NODES/A/shipd.log" | awk '{print $NF}')
echo "# resumed at byte $at of $((16 * 1024 * 1024))"

# 2. the same packet offered again, as if A crashed after B took custody
#    but before A recorded it: B answers HAVE and stores nothing twice
unset SHIPD_TEST_RATE
node_stop A
head -c 100000 /dev/urandom >"$work/again.bin"
id2=$(ctl A submit --copy --to B "$work/again.bin")
cp "$(bay A)/outgoing/$id2" "$work/order.$id2"
cp "$(bay A)/data/$id2" "$work/data.$id2"
node_start A || { fail "restart A"; finish; }
check "second packet delivered" wait_for delivered B again.bin
check "A finished it" wait_for log_has A "order $id2: done"
cp "$work/data.$id2" "$(bay A)/data/$id2"
cp "$work/order.$id2" "$(bay A)/outgoing/.tmp.replay" && mv "$(bay A)/outgoing/.tmp.replay" "$(bay A)/outgoing/$id2"
check "B acknowledges the repeat without storing it" wait_for log_has B "packet $id2 from A: already accepted here"
check "A treats the acknowledgement as custody" wait_for log_has A "order $id2: B already has it"
sleep 0.5
check "exactly one copy at B (no again.bin_1)" test ! -e "$(bay B)/incoming/again.bin_1"

# 3. SIGTERM in the middle of a transfer: the order goes back to the queue
node_stop A
export SHIPD_TEST_RATE=$((2 * 1024 * 1024))
id3=$(ctl A submit --copy --to C "$work/big.bin")
node_start A || { fail "restart A"; finish; }
moving() { local d; d=$(awk '{print $5}' "$(bay A)/inflight/$id3" 2>/dev/null); [ "${d:-0}" -gt 1000000 ]; }
check "transfer under way before SIGTERM" wait_for moving
t0=$(date +%s.%N)
node_stop A
echo "# shipd stopped $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo '?') s after SIGTERM"
state=$(ctl A ls --json | jq -r --arg id "$id3" '.[] | select(.id == $id) | .state')
check "after SIGTERM the order is queued again (state $state)" test "$state" = outgoing -o "$state" = deferred
# what B kept of it no longer verifies (a byte of its signed header
# changed on disk): B starts afresh with a new verifier, shown the
# offered header again, instead of refusing the packet
check "B logged the cut" wait_for log_has B "packet $id3 from A: transfer interrupted"
part="$(bay B)/partial/$id3"
check "B kept a partial of more than the header" test "$(stat -c %s "$part" 2>/dev/null || echo 0)" -gt 4096
b=$(od -An -tu1 -j40 -N1 "$part" | tr -d ' ')
printf "\\$(printf %o $((${b:-0} ^ 255)))" | dd of="$part" bs=1 seek=40 conv=notrunc status=none
unset SHIPD_TEST_RATE
node_start A || { fail "restart A"; finish; }
check "and is delivered after the restart" wait_for delivered C big.bin_1
cmp -s "$work/big.bin" "$(bay C)/incoming/big.bin_1" && ok "content identical" || fail "content differs"
check "B started afresh: the partial's header did not verify" \
	log_has B "packet $id3 from A: the last attempt's [0-9]* bytes do not verify; starting afresh"
check "B did not refuse the packet" sh -c "! grep -q 'refused packet $id3' '$NODES/B/shipd.log'"

# 4. SIGHUP with a broken configuration keeps the running one
cp "$(conf A)" "$work/good.conf"
echo "THIS-IS-NOT-A-DIRECTIVE 1" >>"$(conf A)"
kill -HUP "${PID[A]}"
check "reload refused with the file:line error" wait_for log_has A "reload refused, keeping the running configuration: .*shipping.conf:[0-9]*"
cp "$work/good.conf" "$(conf A)"
echo tiny >"$work/after.txt"
ctl A submit --copy --to B "$work/after.txt" >/dev/null
check "still shipping on the old configuration" wait_for delivered B after.txt
kill -HUP "${PID[A]}"
check "a good configuration reloads" wait_for log_has A "reloaded"
finish

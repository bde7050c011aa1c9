#!/bin/bash
# Tampering on the hop means a retry, never a delivered bad file: a relay
# between A and B (tests/lib/slowproxy.py, at full speed) changes one byte
# in the middle of a packet's body on the first connection. Since hop
# protocol 5 those bytes cross as they are (end-to-end encrypted already),
# authenticated under the tag of their encrypted head: B fails the frame
# and drops the connection, A defers the order and offers it again, and B
# delivers the file once, byte-identical. (A uses sendfile as towards
# another host; every other scenario covers the writev path of loopback.)
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((20000 + RANDOM % 20000))
node_add A $((base + 1))
node_add B $((base + 2))
node_peer B A
# A reaches B through the relay
awk -v p=$((base + 3)) '{ $4 = p; print }' "$NODES/B/peerline" >>"$(conf A)"
work=$NODES/work; mkdir -p "$work"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$work/big.bin"
python3 "$TOP/tests/lib/slowproxy.py" $((base + 3)) $((base + 2)) 0 $((4 * 1024 * 1024)) \
	>"$NODES/proxy.out" 2>&1 &
proxy=$!
trap 'kill $proxy 2>/dev/null; nodes_cleanup' EXIT
wait_for grep -q listening "$NODES/proxy.out" || fail "relay did not start"
# A sends bodies as it would to another host: by sendfile from the file
SHIPD_TEST_SENDFILE=1 node_start A && node_start B || { fail "start"; finish; }

id=$(ctl A submit --copy --to B "$work/big.bin")
check "the relay changed a byte of the first connection" wait_for grep -q "flipped at" "$NODES/proxy.out"
check "B fails the frame" wait_for log_has B "failed authentication"
grep -m1 "failed authentication" "$NODES/B/shipd.log" | sed 's/^/# B: /'
# (8 MiB of random data is sent while it is sealed: that first attempt's
# failure sends the order the ordinary way instead of deferring it)
check "A defers the order instead of finishing it" wait_for \
	grep -E -q "order $id: (deferred|not sent on to B while sealed: .* it goes the ordinary way)" \
	"$NODES/A/shipd.log"
check "delivered after the retry" wait_for delivered B big.bin
cmp -s "$work/big.bin" "$(bay B)/incoming/big.bin" && ok "the delivered file is byte-identical" ||
	fail "content differs"
sleep 0.5
check "exactly one copy at B" test "$(count_files "$(bay B)/incoming")" -eq 1
check "B refused nothing and delivered nothing altered" \
	sh -c "! grep -Eq 'refused packet $id|corrupt' '$NODES/B/shipd.log'"
check "A finished the order" wait_for log_has A "order $id: done"
finish

#!/bin/bash
# Deliver while receiving (issue 16): a large packet whose only remaining
# destination is B is opened by B's receiver as its bytes arrive.
#  1. one large file A -> B: byte-identical in incoming/, and B never held
#     its ciphertext (partial/ and data/ stay empty all along: sampled
#     while it streams);
#  2. the same size again, B's receiver killed -9 at random offsets KILLS
#     times while it reads the body: delivered exactly once,
#     byte-identical, nothing left in unpack/ or partial/ (or anywhere);
#  3. B's receiver killed after the receipt, before seen/ID and the ACK:
#     the next offer gets HAVE, the file is there once;
#  4. a packet whose trailer signature was altered on A's disk: refused
#     by B, nothing in incoming/, unpack/ empty.
# Default 96 MiB and 5 kills; SOAK=1: 1 GiB and 10 kills. SIZE_MB=, KILLS=
# override.
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/chaos.sh"
if [ -n "${SOAK:-}" ]; then
	: "${SIZE_MB:=1024}" "${KILLS:=10}"
else
	: "${SIZE_MB:=96}" "${KILLS:=5}"
fi
pair_init "IO-TIMEOUT 10s" -- "IO-TIMEOUT 10s"
mkdir -p "$work/files"
head -c $((SIZE_MB << 20)) /dev/urandom >"$work/files/big.dat"
cp "$work/files/big.dat" "$work/files/again.dat"
printf 'x%.0s' $(seq 4096) >>"$work/files/again.dat"	# another packet id, same size class
(cd "$work/files" && sha256sum -- big.dat again.dat) >"$work/files.sums"
# A sends at most 40 MB/s, so that B's receiver can be caught mid-stream
export SHIPD_TEST_RATE=40000000
node_start A && node_start B || { fail "start"; finish; }

# bytes of packet $1 under B's partial/ and data/ (its ciphertext at rest)
stored() { find "$(bay B)/partial" "$(bay B)/data" -type f -name "$1*" -printf '%s\n' \
	2>/dev/null | awk '{s += $1} END {print s + 0}'; }

# 1. one transfer, watched
ctl A submit --copy --to B "$work/files/big.dat" >"$work/id1" || fail "submit big.dat"
id1=$(cat "$work/id1")
maxstored=0 samples=0
for ((i = 0; i < 1200; i++)); do
	s=$(stored "$id1"); samples=$((samples + 1))
	[ "$s" -gt "$maxstored" ] && maxstored=$s
	delivered B big.dat && break
	sleep 0.05
done
check "big.dat delivered at B" wait_for delivered B big.dat
echo "# $samples samples of B's partial/ and data/ while it streamed; at most $maxstored bytes"
check "B never wrote the ciphertext to partial/ or data/ (at most $maxstored bytes seen)" \
	test "$maxstored" -eq 0
# (the file is in incoming/ a moment before these lines are written)
check "B's receiver delivered it while receiving" \
	wait_for log_has B "received $id1 .*delivered into .* while received"
check "B logged the delivery" wait_for log_has B "delivered $id1 from A"
check "B queued its delivery receipt for A" \
	wait_for log_has B "order $id1: delivery receipt .* queued for A"

# 2. again, with B's receiver killed -9 mid-stream
rchar() { awk '/^rchar/ {print $2}' "/proc/$1/io" 2>/dev/null || echo 0; }
reading_receiver() {
	local p a
	for p in $(pgrep -P "${PID[B]}" -x shipd-recv); do
		a=$(rchar "$p"); sleep 0.05
		[ "$(rchar "$p")" -gt "$((a + 65536))" ] && { echo "$p"; return; }
	done
}
ctl A submit --copy --to B "$work/files/again.dat" >"$work/id2" || fail "submit again.dat"
kills=0
for ((k = 0; k < 4 * KILLS && kills < KILLS; k++)); do
	victim=
	for ((t = 0; t < 300; t++)); do
		victim=$(reading_receiver)
		[ -n "$victim" ] && break
		delivered B again.dat && break
		sleep 0.05
	done
	[ -n "$victim" ] || break
	sleep 0.$((RANDOM % 8))
	kill -KILL "$victim" 2>/dev/null && kills=$((kills + 1))
done
echo "# killed $kills receivers of B during again.dat"
check "B's receiver was killed mid-stream ($kills of $KILLS)" test "$kills" -ge 3
drained() { delivered B again.dat && queue_empty A && queue_empty B &&
	[ -z "$(leftovers A)" ] && [ -z "$(leftovers B)" ]; }
WAIT=$((60 + SIZE_MB / 4)) wait_for drained
verify_incoming B "$work/files.sums"
echo "# delivered $((2 - MISSING)) of 2, duplicates $DUPS, corrupted $BAD, unexpected $EXTRA"
check "both delivered ($MISSING missing)" test "$MISSING" -eq 0
check "each delivered exactly once ($DUPS duplicates)" test "$DUPS" -eq 0
check "byte-identical ($BAD differ)" test "$BAD" -eq 0
for n in A B; do
	left=$(leftovers "$n")
	check "$n: nothing left in unpack/, partial/ or any state directory${left:+ ($left)}" \
		test -z "$left"
done
check "B's seen/ holds both ids" test -e "$(bay B)/seen/$(cat "$work/id2")" -a \
	-e "$(bay B)/seen/$(cat "$work/id1")"

# 3. B's receiver killed after the receipt was committed, before seen/ID
#    and the ACK (the test build's hook: a forbidden call, killed by the
#    filter): the next offer is answered HAVE, the file is there once
node_stop B
flag=$NODES/delivered.flag
touch "$flag"
SHIPD="env SHIPD_TEST_FORBIDDEN=receiver-delivered:$flag $TOP/build/tests/shipd-hooks" \
	node_start B || { fail "start B with the hook"; finish; }
head -c $((3 << 20)) /dev/urandom >"$work/files/late.dat"
(cd "$work/files" && sha256sum -- late.dat) >>"$work/files.sums"
id4=$(ctl A submit --copy --to B "$work/files/late.dat") || fail "submit late.dat"
check "B's receiver was killed after its receipt" \
	wait_for log_has B "receiver-delivered tries a forbidden system call"
check "the next offer finds the receipt" \
	wait_for log_has B "packet $id4: delivered here before"
check "and is answered HAVE" wait_for log_has A "order $id4: B already has it"
check "A finished it" wait_for log_has A "order $id4: done"
check "B queued its delivery receipt for A" \
	wait_for log_has B "order $id4: delivery receipt .* queued for A"
check "B's seen/ names it" test -e "$(bay B)/seen/$id4"
verify_incoming B "$work/files.sums"
check "late.dat delivered once, byte-identical ($MISSING missing, $DUPS twice, $BAD differ)" \
	test "$MISSING$DUPS$BAD" = 000
left=$(leftovers B)
check "B: nothing left${left:+ ($left)}" test -z "$left"

# 4. a tampered trailer: the origin's signature altered in A's data/ID
node_stop A
head -c $((2 << 20)) /dev/urandom >"$work/files/bad.dat"
id3=$(ctl A submit --copy --to B "$work/files/bad.dat") || fail "submit bad.dat"
data=$(bay A)/data/$id3
size=$(stat -c %s "$data")
# a character in the middle of the trailer's base64 signature, changed
at=$((size - 40))
c=$(dd if="$data" bs=1 skip=$at count=1 2>/dev/null)
[ "$c" = A ] && n=B || n=A
printf '%s' "$n" | dd of="$data" bs=1 seek=$at conv=notrunc 2>/dev/null
node_restart A || { fail "restart A"; finish; }
check "B refused the packet with the altered trailer" \
	wait_for log_has B "refused packet $id3 .*trailer"
sleep 1
check "nothing of it reached B's incoming/" test ! -e "$(bay B)/incoming/bad.dat"
check "B's unpack/ is empty" test -z "$(find "$(bay B)/unpack" -mindepth 1 2>/dev/null)"
finish

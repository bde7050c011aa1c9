#!/bin/bash
# cutthrough.sh - a relay sends a large packet on while it receives it
# (issue 16). A -> X -> B, A's sends slowed (SHIPD_TEST_RATE on A only)
# so that the first hop takes a few seconds.
#  1. one packet, watched: B starts receiving it while X still holds it in
#     partial/ only (X has not committed it: no data/ID); B ends with one
#     byte-identical copy; X's order ends in done/ on B's answer, with
#     X's log saying it was sent on while received;
#  2. X's receiver killed -9 while X sends on what it receives;
#  3. X's cut-through send worker killed -9 mid-transfer;
#  4. B's receiver killed -9 while X sends on what it receives:
#     each delivered exactly once, byte-identical, nothing left queued.
# Default 64 MiB at 16 MiB/s; SOAK=1: 256 MiB and every kill three times.
# MB= and RATE= override.
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/chaos.sh"
nodes_init
if [ -n "${SOAK:-}" ]; then : "${MB:=256}" "${ROUNDS:=3}"; else : "${MB:=64}" "${ROUNDS:=1}"; fi
: "${RATE:=$((16 << 20))}"
base=$((20000 + RANDOM % 20000))
node_add A $((base + 1)) "IO-TIMEOUT 5s"
node_add X $((base + 2)) "IO-TIMEOUT 5s"
node_add B $((base + 3)) "IO-TIMEOUT 5s"
node_peer A X; node_peer X A; node_peer X B; node_peer B X
node_key A B; node_key B A
node_route A X B
work=$NODES/work; mkdir -p "$work/files"
SHIPD="env SHIPD_TEST_RATE=$RATE $SHIPD" node_start A || { fail "start A"; finish; }
node_start X && node_start B || { fail "start"; finish; }

# X holds ID in partial/ only: received in part, not committed
x_receiving() { [ -e "$(bay X)/partial/$1" ] && [ ! -e "$(bay X)/data/$1" ]; }
# B has begun on ID: its transfer's lock, its unpack area, or the file
b_started() { [ -e "$(bay B)/partial/$1" ] || [ -e "$(bay B)/unpack/$1" ] ||
	[ -e "$(bay B)/receipts/$1" ]; }
xbytes() { stat -c %s "$(bay X)/partial/$1" 2>/dev/null || echo 0; }
size=$((MB << 20))
n=0
newfile() {	# a new packet: its file name in $f
	n=$((n + 1))
	f=f$n.dat
	head -c "$size" /dev/urandom >"$work/files/$f"
	(cd "$work/files" && sha256sum -- "$f") >>"$work/files.sums"
}
drained() { queue_empty A && queue_empty X && queue_empty B &&
	[ -z "$(leftovers A)" ] && [ -z "$(leftovers X)" ] && [ -z "$(leftovers B)" ]; }

# 1. watched
newfile
id=$(ctl A submit --copy --to B "$work/files/$f") || fail "submit $f"
early=0
for ((i = 0; i < 1200; i++)); do
	x_receiving "$id" && b_started "$id" && { early=1; break; }
	delivered B "$f" && break
	sleep 0.05
done
check "B began receiving $id while X had not yet committed it" test "$early" -eq 1
WAIT=120 check "$f delivered at B" wait_for delivered B "$f"
check "X sent it on while receiving it" \
	wait_for log_has X "sent $id to B .* while receiving it"
check "X finished its order on B's answer" \
	wait_for log_has X "order $id: done (forwarded to B while it was received)"
check "X's order ended in done/" test -e "$(bay X)/done/$id"
check "X did not send it a second time" \
	sh -c "! grep -q 'B already has it' '$NODES/X/shipd.log'"
check "B received it from X once" test "$(grep -c "received $id from X" "$NODES/B/shipd.log")" -eq 1

# victim_recv NODE: its receive worker's pid
victim_recv() { ps --ppid "${PID[$1]}" -o pid=,comm= 2>/dev/null |
	awk '$2 == "shipd-recv" {print $1; exit}'; }
# X's send worker for ID (its progress record names it)
victim_cut() { awk '{print $8}' "$(bay X)/inflight/$1" 2>/dev/null; }

# kill_during WHAT: a new packet; once X has a random share of it in
# partial/ and B has begun, WHAT is killed -9; then it must drain
kill_during() {
	local what=$1 id at victim killed=0
	newfile
	id=$(ctl A submit --copy --to B "$work/files/$f") || { fail "submit $f"; return; }
	at=$((size * (15 + RANDOM % 50) / 100))
	for ((i = 0; i < 2400; i++)); do
		if x_receiving "$id" && b_started "$id" && [ "$(xbytes "$id")" -ge "$at" ]; then
			case $what in
			"X's receiver") victim=$(victim_recv X) ;;
			"X's send worker") victim=$(victim_cut "$id") ;;
			"B's receiver") victim=$(victim_recv B) ;;
			esac
			if [ -n "$victim" ] && x_receiving "$id" && kill -KILL "$victim" 2>/dev/null; then
				killed=1
				echo "# killed $what ($victim) with $(xbytes "$id") of $size bytes at X"
				break
			fi
		fi
		delivered B "$f" && break
		sleep 0.05
	done
	check "$what killed -9 while X sent $f on as it received it" test "$killed" -eq 1
	WAIT=180 check "$f delivered at B after $what was killed" wait_for delivered B "$f"
	WAIT=60 check "then every queue drained" wait_for drained
}
for ((r = 0; r < ROUNDS; r++)); do
	kill_during "X's receiver"
	kill_during "X's send worker"
	kill_during "B's receiver"
done

WAIT=60 wait_for drained
verify_incoming B "$work/files.sums"
echo "# delivered $((n - MISSING)) of $n, duplicates $DUPS, corrupted $BAD, unexpected $EXTRA"
check "every packet delivered ($MISSING missing)" test "$MISSING" -eq 0
check "each exactly once ($DUPS duplicates, $EXTRA unexpected)" test "$DUPS$EXTRA" = 00
check "byte-identical ($BAD differ)" test "$BAD" -eq 0
for node in A X B; do
	l=$(leftovers "$node")
	check "$node: nothing left queued or half-written${l:+ ($l)}" test -z "$l"
done
finish

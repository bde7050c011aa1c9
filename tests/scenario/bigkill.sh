#!/bin/bash
# bigkill.sh - one large packet A -> X (relay) -> B while kill -9 hits the
# process moving it at random offsets: A's send worker and X's receiver
# during the first hop, X's send worker and B's receiver during the
# second (issue 16; X sends it on while it receives it, so the second
# hop's kills mostly land during the first). Each attempt after a kill
# resumes or restarts; in the end the file is delivered exactly once,
# byte-identical, and nothing is left queued or half-written on any node.
# make check: 48 MiB, 3 kills per process; SOAK=1: 1 GiB, 10 kills each.
# SEED=N replays the offsets; MB= and KILLS= override.
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/chaos.sh"
nodes_init
SEED=${SEED:-$(($(date +%s) % 100000))}
RANDOM=$SEED
if [ -n "${SOAK:-}" ]; then : "${MB:=1024}" "${KILLS:=10}"; else : "${MB:=48}" "${KILLS:=3}"; fi
echo "# seed $SEED, $MB MiB, $KILLS kills of each of 4 processes"
base=$((20000 + RANDOM % 20000))
work=$NODES/work; mkdir -p "$work"
node_add A $((base + 1))
node_add X $((base + 2)) "IO-TIMEOUT 3s"
node_add B $((base + 3)) "IO-TIMEOUT 3s" "MIN-FREE-DISK 1m"
node_peer A X; node_peer X A; node_peer X B; node_peer B X
node_key A B; node_key B A
node_route A X B
# slow enough that a kill lands in the middle on any machine
[ -z "${SOAK:-}" ] && export SHIPD_TEST_RATE=$((12 * 1024 * 1024))
node_start A && node_start X && node_start B || { fail "start"; finish; }
head -c $((MB * 1048576)) /dev/urandom >"$work/big.bin"
size=$(stat -c %s "$work/big.bin")

# bytes of ID that NODE's sender has handed on (its progress record), and its PID
sent() { awk '{print $5}' "$(bay "$1")/inflight/$2" 2>/dev/null; }
sender_pid() { awk '{print $8}' "$(bay "$1")/inflight/$2" 2>/dev/null; }
recv_pid() { ps --ppid "${PID[$1]}" -o pid=,comm= 2>/dev/null | awk '$2 == "shipd-recv" {print $1; exit}'; }
# NODE still has the order: queued, or a sender has it in hand before it
# is committed there (X sending on while it receives; A sending while
# shipctl still seals), or at A shipctl is still sealing it
has() {
	ctl "$1" ls 2>/dev/null | grep -q "$id" || [ -e "$(bay "$1")/inflight/$id" ] ||
		{ [ "$1" = A ] && kill -0 "$subpid" 2>/dev/null; }
}
# FROM has sent at least N bytes, or the order has left it
past_or_gone() {
	local d; d=$(sent "$1" "$id")
	[ "${d:-0}" -ge "$2" ] || ! has "$1"
}

# a large random file is sent while it is sealed: the kills start then,
# with the order's id from A's progress record (or from shipctl, done)
ctl A submit --copy --to B "$work/big.bin" >"$work/id" &
subpid=$!
first_id() {
	id=$(ls "$(bay A)/inflight" 2>/dev/null | head -n 1)
	[ -n "$id" ] || { [ -s "$work/id" ] && id=$(cat "$work/id"); }
	[ -n "$id" ]
}
WAIT=120 wait_for first_id || { fail "submit"; finish; }

# kill_round FROM TO: KILLS kills of FROM's sender and of TO's receiver,
# alternating, each once FROM has sent a random share of the file
kills=0
kill_round() {
	local from=$1 to=$2 k victim what target d at
	for ((k = 0; k < 2 * KILLS; k++)); do
		d=$(sent "$from" "$id"); d=${d:-0}
		target=$((d + (size - d) * (3 + RANDOM % 30) / 100))
		WAIT=120 wait_for past_or_gone "$from" "$target" || break
		has "$from" || break
		at=$(sent "$from" "$id")
		if ((k % 2 == 0)); then
			victim=$(sender_pid "$from" "$id"); what="$from's sender"
		else
			victim=$(recv_pid "$to"); what="$to's receiver"
		fi
		# X sends the packet on while it receives it (cut-through): the
		# second hop runs during the first, and every other pair of kills
		# goes to its processes while X's send worker has it in hand
		if [ "$from" = A ] && ((k % 4 >= 2)) && [ -n "$(sender_pid X "$id")" ]; then
			if ((k % 2 == 0)); then
				victim=$(sender_pid X "$id"); what="X's sender (sending on while receiving)"
			else
				victim=$(recv_pid B); what="B's receiver (X sending on while receiving)"
			fi
		fi
		[ -n "$victim" ] || continue
		kill -KILL "$victim" 2>/dev/null || continue
		kills=$((kills + 1))
		echo "# killed $what at byte ${at:-?} of $size"
		# the order must be back in FROM's queue before the next attempt is watched
		wait_for sh -c "! kill -0 $victim 2>/dev/null"
	done
}
kill_round A X
wait "$subpid"; rc=$?
check "shipctl submit succeeded and printed the id the kills aimed at" \
	test "$rc" -eq 0 -a "$(cat "$work/id")" = "$id"
WAIT=300 check "A hands the packet to X in the end" wait_for queue_empty A
kill_round X B
WAIT=300 check "delivered at B in the end" wait_for delivered B big.bin
echo "# $kills kills in all"
check "most kills landed (at least $KILLS of $((4 * KILLS)))" test "$kills" -ge "$KILLS"
check "byte-identical" cmp -s "$work/big.bin" "$(bay B)/incoming/big.bin"
check "delivered exactly once" test "$(count_incoming B)" -eq 1
WAIT=60 check "A's queue empty" wait_for queue_empty A
WAIT=60 check "X's queue empty" wait_for queue_empty X
WAIT=60 check "B's queue empty" wait_for queue_empty B
node_stop A; node_stop X; node_stop B
for n in A X B; do
	l=$(leftovers "$n")
	check "$n: no leftovers${l:+ ($l)}" test -z "$l"
done
finish

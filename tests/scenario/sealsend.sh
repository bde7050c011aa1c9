#!/bin/bash
# sealsend.sh - the origin sends a large file while it seals it (issue 16).
# A -> B; `shipctl submit` seals on A with its reading slowed
# (SHIPD_TEST_SEAL_RATE) so that a seal takes a few seconds.
#  1. one file, watched: B begins receiving it while A's shipctl submit is
#     still sealing it (the submit has not returned); B ends with one
#     byte-identical copy; A's log says it was sent while sealed, and A's
#     order ends in done/;
#  2. shipctl submit killed -9 mid-seal: nothing delivered at B, nothing
#     queued at A, nothing left half-written on either side;
#  3. A's send worker killed -9 while it sends what is being sealed;
#  4. B's receiver killed -9 likewise: each delivered exactly once,
#     byte-identical, nothing left queued.
# Default 64 MiB sealed at 16 MiB/s. MB= and RATE= override; ROUNDS=.
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/chaos.sh"
nodes_init
: "${MB:=64}" "${ROUNDS:=1}" "${RATE:=$((16 << 20))}"
base=$((20000 + RANDOM % 20000))
node_add A $((base + 1)) "IO-TIMEOUT 5s"
node_add B $((base + 2)) "IO-TIMEOUT 5s"
node_peer A B; node_peer B A
node_start A && node_start B || { fail "start"; finish; }
work=$NODES/work; mkdir -p "$work/files"
size=$((MB << 20))
n=0
newfile() {	# a new file: its name in $f
	n=$((n + 1))
	f=f$n.dat
	head -c "$size" /dev/urandom >"$work/files/$f"
}
keep_sum() { (cd "$work/files" && sha256sum -- "$f") >>"$work/files.sums"; }
# B has begun on some packet: a transfer's lock or its unpack area
b_started() { [ -n "$(ls -A "$(bay B)/partial" "$(bay B)/unpack" 2>/dev/null | grep -v :)" ]; }
# A's file being sealed, and its size
sealing_bytes() { find "$(bay A)/tmp" -maxdepth 1 -name '.tmp.*' -size +0 -printf '%s\n' 2>/dev/null |
	sort -n | tail -1; }
drained() { queue_empty A && queue_empty B && [ -z "$(leftovers A)" ] &&
	[ -z "$(leftovers B)" ]; }
submit_bg() {	# shipctl submit of $f in the background, slowed: pid in $spid
	# exec: $! is shipctl itself, not a subshell around it
	(SHIPD_TEST_SEAL_RATE=$RATE exec "$SHIPCTL" -c "$(conf A)" submit --copy --to B \
		"$work/files/$f" >"$work/submit.out" 2>"$work/submit.err") &
	spid=$!
}

# 1. watched
newfile; keep_sum
submit_bg
early=0
for ((i = 0; i < 1200; i++)); do
	kill -0 "$spid" 2>/dev/null || break
	b_started && { early=1; break; }
	sleep 0.05
done
wait "$spid" || fail "submit $f: $(cat "$work/submit.err")"
id=$(cat "$work/submit.out")
check "B began receiving $id while A's shipctl submit was still sealing it" test "$early" -eq 1
WAIT=120 check "$f delivered at B" wait_for delivered B "$f"
check "A sent it while sealing it" wait_for log_has A "sent $id to B .* while sealing it"
check "A finished its order on B's answer" \
	wait_for log_has A "order $id: done (sent to B while it was sealed)"
check "A's order ended in done/" test -e "$(bay A)/done/$id"
check "B received it once" test "$(grep -c "received $id from A" "$NODES/B/shipd.log")" -eq 1

# 2. shipctl submit killed -9 mid-seal, once B has begun
newfile
submit_bg
at=$((size * (15 + RANDOM % 60) / 100))
killed=0
for ((i = 0; i < 2400; i++)); do
	kill -0 "$spid" 2>/dev/null || break
	if b_started && [ "$(sealing_bytes)" -ge "$at" ] 2>/dev/null; then
		kill -KILL "$spid" && killed=1
		echo "# killed shipctl submit ($spid) with $(sealing_bytes) of $size bytes sealed"
		break
	fi
	sleep 0.05
done
wait "$spid" 2>/dev/null
check "shipctl submit killed -9 mid-seal while B received it" test "$killed" -eq 1
WAIT=90 check "then nothing queued or half-written at A or B" wait_for drained
check "and $f not delivered at B" sh -c "! test -e '$(bay B)/incoming/$f'"

# victim_recv NODE: its receive worker's pid
victim_recv() { ps --ppid "${PID[$1]}" -o pid=,comm= 2>/dev/null |
	awk '$2 == "shipd-recv" {print $1; exit}'; }
# A's send worker (its progress record names it)
victim_send() { awk '{print $8; exit}' "$(bay A)"/inflight/* 2>/dev/null; }

# kill_during WHAT: a new file; once a random share of it is sealed and B
# has begun, WHAT is killed -9 while the seal goes on; then it must drain
kill_during() {
	local what=$1 at victim killed=0
	newfile; keep_sum
	submit_bg
	at=$((size * (15 + RANDOM % 50) / 100))
	for ((i = 0; i < 2400; i++)); do
		kill -0 "$spid" 2>/dev/null || break
		if b_started && [ "$(sealing_bytes)" -ge "$at" ] 2>/dev/null; then
			case $what in
			"A's send worker") victim=$(victim_send) ;;
			"B's receiver") victim=$(victim_recv B) ;;
			esac
			if [ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null; then
				killed=1
				echo "# killed $what ($victim) with $(sealing_bytes) of $size bytes sealed"
				break
			fi
		fi
		sleep 0.05
	done
	wait "$spid" || fail "submit $f: $(cat "$work/submit.err")"
	check "$what killed -9 while A sent $f as it sealed it" test "$killed" -eq 1
	WAIT=180 check "$f delivered at B after $what was killed" wait_for delivered B "$f"
	WAIT=90 check "then every queue drained" wait_for drained
}
for ((r = 0; r < ROUNDS; r++)); do
	kill_during "A's send worker"
	kill_during "B's receiver"
done

WAIT=60 wait_for drained
verify_incoming B "$work/files.sums"
echo "# delivered $((n - 1 - MISSING)) of $((n - 1)), duplicates $DUPS, corrupted $BAD, unexpected $EXTRA"
check "every packet delivered ($MISSING missing)" test "$MISSING" -eq 0
check "each exactly once ($DUPS duplicates, $EXTRA unexpected)" test "$DUPS$EXTRA" = 00
check "byte-identical ($BAD differ)" test "$BAD" -eq 0
for node in A B; do
	l=$(leftovers "$node")
	check "$node: nothing left queued or half-written${l:+ ($l)}" test -z "$l"
done
finish

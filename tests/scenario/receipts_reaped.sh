#!/bin/bash
# tests/scenario/receipts_reaped.sh - a receiver tells its master the
# receipts it marked owed (one "O" line per group commit, door.c), says
# "D" and ends; a master busy elsewhere reaps it before it has read all
# its lines. The receipts those lines named still go at once, none left
# for the sweep to find a minute later (OWED_ORPHAN_AGE): load.sh took
# 3-4 minutes instead of 1 when that happened (a few receipts of 2,000,
# each holding its order's drain 60-90 s). Here B's master is stopped
# (SIGSTOP) once its receiver is taking a window of small packets, and let
# go once that receiver has ended: every receipt reaches A, none of them
# through B's sweep, no mark left at B.
. "$TOP/tests/lib/nodes.sh"
N=${N:-150}
pair_init "MAX-CHILDREN 1"	# A: one sender, one connection carries the orders
mkdir -p "$work/files"
for ((i = 1; i <= N; i++)); do echo "small $i $RANDOM" >"$work/files/$(printf 's%04d.txt' "$i")"; done
(cd "$work/files" && ls | xargs -n 100 "$SHIPCTL" -c "$(conf A)" submit --to B) >"$work/ids" \
	2>"$work/submit.err"
check "$N orders queued at A before it starts" test "$(grep -c . "$work/ids")" -eq "$N"
node_start B && node_start A || { fail "start"; finish; }

check "B's receiver opens the small packets itself" \
	wait_for log_has B "delivered into .* while received"
recv=$(pgrep -P "${PID[B]}" -x shipd-recv)
kill -STOP "${PID[B]}"
# each receiver of the window ends (a zombie: its master cannot reap it)
ended() {
	local p s
	for p in $recv; do
		s=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)
		[ -z "$s" ] || [ "$s" = Z ] || return 1
	done
}
check "B's receivers ($(echo $recv)) ended while B's master was stopped" \
	eval 'WAIT=60 wait_for ended'
echo "# delivered at B by then: $(count_files "$(bay B)/incoming") of $N"
kill -CONT "${PID[B]}"

check "all $N delivered at B" eval 'WAIT=120 wait_for at_least "$N" "$(bay B)/incoming"'
check "A took B's receipt for every order" eval 'WAIT=150 wait_for receipted "$work/ids"'
late=$(grep -c "was not sent yet; sending it now" "$NODES/B/shipd.log")
check "... none of them left for B's sweep ($late were)" test "$late" -eq 0
nomarks() { ! ls "$(bay B)/receipts" | grep -q '\.owed$'; }
check "... no receipt left marked owed at B" wait_for nomarks
finish

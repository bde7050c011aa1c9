#!/bin/bash
# Crash safety of the directory hop (issue 20): A exports to B through a
# directory, B imports and writes receipts back; both daemons (and their
# workers) are killed with SIGKILL at random moments, ROUNDS times, and
# restarted. Afterwards every file is at B exactly once, byte-identical,
# and A has closed every order by receipt (nothing left in its bay), and
# B every delivery receipt it sent back through the other directory.
. "$TOP/tests/lib/nodes.sh"
nodes_init
echo "# nodes in $NODES"
base=$((20000 + RANDOM % 20000))
ROUNDS=${ROUNDS:-20}
N=${N:-40}
WAIT=240
MED=$NODES/medium; RET=$NODES/toA
mkdir -p "$MED" "$RET"
dirpeer() {	# dirpeer A B DIR: A reaches B through DIR
	awk -v d="dir:$3" '{print "PEER", $2, d, $5}' "$NODES/$2/peerline" >>"$(conf "$1")"
}
node_add A $((base + 1)) "IMPORT-DIR $RET"	# B's delivery receipts come back here
node_add B $((base + 2)) "IMPORT-DIR $MED"
dirpeer A B "$MED"; dirpeer B A "$RET"

crash() {	# SIGKILL a daemon and its workers, then start it again
	local n=$1 p=${PID[$1]:-}
	[ -n "$p" ] || return 0
	kill -KILL $(pgrep -P "$p") "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	unset "PID[$n]"
	echo "# round $2: killed $n"
	node_start "$n" >/dev/null || fail "restart $n"
}

work=$NODES/work; mkdir -p "$work/src"
for i in $(seq 1 "$N"); do head -c $((20000 + RANDOM * 4)) /dev/urandom >"$work/src/f$i"; done
head -c $((8 << 20)) /dev/urandom >"$work/src/big"
(cd "$work/src" && sha256sum -- * | sort -k2) >"$work/sums"
for n in A B; do node_start "$n" || { fail "start $n"; finish; }; done
# the crashes fall among the submissions, while exports, imports and
# receipts are under way
r=0 k=0 every=$(( (N + 1) / ROUNDS )); [ "$every" -ge 1 ] || every=1
for f in "$work"/src/*; do
	cp "$f" "$work/in"
	ctl A submit --name "$(basename "$f")" --to B "$work/in" >/dev/null || fail "submit $f"
	k=$((k + 1))
	if [ $((k % every)) -eq 0 ] && [ "$r" -lt "$ROUNDS" ]; then
		r=$((r + 1))
		sleep "0.$((RANDOM % 5))"
		if [ $((RANDOM % 2)) -eq 0 ]; then crash A "$r"; else crash B "$r"; fi
	fi
done
while [ "$r" -lt "$ROUNDS" ]; do
	r=$((r + 1)); sleep "0.$((RANDOM % 5))"
	if [ $((RANDOM % 2)) -eq 0 ]; then crash A "$r"; else crash B "$r"; fi
done
total=$((N + 1))
check "all $total files at B after $ROUNDS crashes" wait_for at_least "$total" "$(bay B)/incoming"
sleep 2
(cd "$(bay B)/incoming" && sha256sum -- * | sort -k2) >"$work/got"
check "byte-identical, each exactly once" cmp -s "$work/sums" "$work/got"
# (a function, so that each try counts again: "$(count_files ...)" as an
# argument of wait_for is counted once, and a file present at that moment
# failed the check after the whole wait, though the sweep removed it)
data_empty() { [ "$(count_files "$(bay "$1")/data")" -eq 0 ]; }
check "A closed every order by receipt" wait_for data_empty A
check "no refused files" test ! -d "$MED/refused"
check "B's bay holds nothing more" wait_for data_empty B
finish

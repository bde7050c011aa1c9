#!/bin/bash
# The path lookups an order costs, with both daemons under strace: 30
# small files submitted to A (stopped), then A and B started and every
# file delivered at B once. Per order, nothing looks for a file that is
# not there more than it needs to:
#   - B asks "is this packet known here?" (accept_known) in a few lookups
#     per bay (data/, corrupt/, seen/), not one per order state;
#   - A's master does not look for a finished order in deferred/ or
#     outgoing/ (its send worker says it finished it);
#   - TRUST-DIR/revoked is listed once per process, not on every
#     signature check;
#   - B opens a small packet that came whole in its offer from memory
#     (no pipe of its own), makes no partial/ID lock file for it, and
#     does not trim and regrow its heap for each one (brk);
#   - B looks at its disk's free space (statfs) about once a second per
#     receiver while far from MIN-FREE-DISK, not once or twice per packet.
# The counts are of failed lookups of the test's own order ids, so they
# hold on any machine; the delivery is checked first.
. "$TOP/tests/lib/nodes.sh"
WAIT=60
N=30

command -v strace >/dev/null || { echo "not ok - strace is needed"; exit 1; }
pair_init

mkdir -p "$work/in"
for i in $(seq -w $N); do head -c 2048 /dev/urandom >"$work/in/f$i"; cp "$work/in/f$i" "$work/f$i.orig"; done
ctl A submit --to B "$work"/in/f* >"$work/ids" 2>"$work/submit.err"
check "$N files queued at A" test "$(wc -l <"$work/ids")" -eq $N

declare -A SPID
tstart() {
	local n=$1
	: >>"$NODES/$n/shipd.log"
	strace -ff -qq -e trace=%file,pipe2,brk -o "$work/$n.strace" \
		"$SHIPD" -c "$(conf "$n")" -f >>"$NODES/$n/shipd.log" 2>&1 &
	SPID[$n]=$!
	wait_for grep -q "started" "$NODES/$n/shipd.log" || { echo "# $n did not start"; return 1; }
	PID[$n]=$(pgrep -P "${SPID[$n]}" -x shipd)	# node_stop stops shipd, not strace
}
tstart B || { fail "B starts"; finish; }
tstart A || { fail "A starts"; finish; }

inb=$(bay B)/incoming
wait_for test "$(count_files "$inb")" -ge $N
queued() {
	find "$(bay A)"/{outgoing,active,deferred} "$(bay B)"/{outgoing,active,deferred} \
		-maxdepth 1 -type f ! -name '.*' 2>/dev/null | wc -l
}
wait_for test "$(queued)" -eq 0
node_stop A; node_stop B
wait "${SPID[A]}" "${SPID[B]}" 2>/dev/null

same=0
for i in $(seq -w $N); do cmp -s "$inb/f$i" "$work/f$i.orig" && same=$((same + 1)); done
check "every file delivered at B, intact ($same/$N)" test $same -eq $N
check "each once (no f*_1 copies)" test "$(count_files "$inb")" -eq $N
check "both queues empty" test "$(queued)" -eq 0

# failed lookups naming one of the test's ids, in DIR/ID (one trace file
# per process: -ff, so that no call is split across lines)
ids_re=$(paste -sd'|' "$work/ids")
failed() {	# NODE DIR-REGEX
	cat "$work/$1.strace".* | grep -E "= -1 ENOENT" | grep -cE "/($2)/($ids_re)\""
}
states='outgoing|active|deferred|hold|joining|return|corrupt'
b_states=$(failed B "$states")
echo "# B: $b_states failed lookups in order states for $N new packets (two bays; was 14 per packet)"
check "B: at most 3 failed state lookups per new packet ($b_states)" test "$b_states" -le $((3 * N))
a_master=$(failed A 'deferred|outgoing')
echo "# A: $a_master failed lookups in deferred/ or outgoing/ (was 2 per order)"
check "A: a finished order is not looked for in deferred/ or outgoing/ ($a_master)" \
	test "$a_master" -le $((N / 10))
for n in A B; do
	lists=$(cat "$work/$n.strace".* | grep -cE "open(at)?\(.*/trust/revoked\"")
	procs=$(ls "$work/$n.strace".* | wc -l)
	echo "# $n: revoked/ opened $lists times by $procs processes"
	check "$n: revoked/ opened at most once per process ($lists, $procs processes)" \
		test "$lists" -le "$procs"
done
# B's receivers, per small packet: no pipe, no partial/ID file, no brk
pipes=$(cat "$work/B.strace".* | grep -c "^pipe2(")
echo "# B: $pipes pipes made for $N packets (was one each)"
check "B: no pipe per small packet ($pipes for $N)" test "$pipes" -le $((N / 10))
locks=$(cat "$work/B.strace".* | grep -E "O_CREAT" | grep -cE "/partial/($ids_re)\"")
echo "# B: $locks partial/ID files made for $N small packets (was one each)"
check "B: no partial/ID lock file for a small packet ($locks)" test "$locks" -eq 0
brks=$(cat "$work/B.strace".* | grep -c "^brk(")
procs=$(ls "$work/B.strace".* | wc -l)
echo "# B: $brks brk calls by $procs processes for $N packets (was 5.7 per packet)"
check "B: the heap is not trimmed and regrown per packet ($brks brk, $procs processes)" \
	test "$brks" -le $((N + 4 * procs))
# receipts/: its directory is made sure of once per process, not per
# packet; a receipt the receiver just committed is not looked for again
rdir=$(cat "$work/B.strace".* | grep -cE "(stat|access)[a-z]*\(.*/receipts\"")
echo "# B: receipts/ itself looked at $rdir times by $procs processes for $N packets"
check "B: receipts/ not looked at per packet ($rdir)" test "$rdir" -le "$procs"
racc=$(cat "$work/B.strace".* | grep -cE "access\(.*/receipts/($ids_re)\"")
echo "# B: $racc lookups of the test's receipts/ID (was three per packet)"
check "B: at most two receipt lookups per packet ($racc)" test "$racc" -le $((2 * N))
# receivers' statfs calls (the master's own, at start-up and per sweep, aside)
recv_statfs=0 nrecv=0
for f in "$work/B.strace".*; do
	grep -q '/unpack/' "$f" || continue
	nrecv=$((nrecv + 1))
	recv_statfs=$((recv_statfs + $(grep -c '^statfs(' "$f")))
done
echo "# B: $recv_statfs statfs calls by its $nrecv receivers for $N packets (was two per packet)"
check "B: free space looked at about once per receiver, not per packet ($recv_statfs)" \
	test "$recv_statfs" -le $((nrecv + N / 10))
finish

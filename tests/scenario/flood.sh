#!/bin/bash
# Connection floods and slow connections against a receiving shipd (B),
# issue 14: idle connections from an allowed address must not starve a
# real peer (A), and a connection that says nothing useful must not keep a
# receiver.
#
#  1. The flood: FLOOD_N (5,000) silent TCP connections from 127.0.0.2 (an
#     allowed address, not A's) opened over FLOOD_S (40) seconds and held,
#     while A ships 20 files to B: all 20 arrive while the flood goes on,
#     A never marks B down nor defers an order, `shipctl peers` shows B
#     up, and B's children stay bounded (MAX-RECEIVERS + MAX-HANDSHAKES
#     + MAX-CHILDREN for its own deliveries).
#  2. The same flood from A's own address (127.0.0.1), shorter: A's
#     connections are not the ones B drops.
#  3. Slow loris: a HELLO begun and sent one byte a second is dropped
#     after HANDSHAKE-TIMEOUT (2 s here, IO-TIMEOUT 60 s), long before it
#     could finish, and the refusal is logged.
#  4. Busy: real peers hold every MAX-RECEIVERS slot; A's offer gets a
#     temporary "busy" refusal, A tries again shortly (no deferral for
#     its back-off) without marking B down, and the file arrives once a
#     slot is free.
# SOAK=1: 20,000 connections over 120 s.
. "$TOP/tests/lib/nodes.sh"
HOSTILE=${HOSTILE:-$TOP/build/tests/hostile}
nodes_init
[ -x "$HOSTILE" ] || { fail "hostile tool built" "run make tests"; finish; }
if [ -n "${SOAK:-}" ]; then FLOOD_N=${FLOOD_N:-20000} FLOOD_S=${FLOOD_S:-120}; fi
FLOOD_N=${FLOOD_N:-5000}
FLOOD_S=${FLOOD_S:-40}
NFILES=20
# the flood tool may hold every connection it opened: one descriptor each
nofile=$((FLOOD_N + 256)) hard=$(ulimit -Hn)
[ "$hard" != unlimited ] && [ "$nofile" -gt "$hard" ] && nofile=$hard
ulimit -n "$nofile" 2>/dev/null ||
	{ fail "raise RLIMIT_NOFILE to $nofile" "hard limit $hard"; finish; }
base=$((20000 + RANDOM % 20000))
bport=$((base + 1))
node_add A $((base + 2))
node_add B $bport "ALLOW 127.0.0.0/8" "IO-TIMEOUT 60s" "HANDSHAKE-TIMEOUT 2s" \
	"MAX-RECEIVERS 5" "MAX-HANDSHAKES 10" "MAX-HANDSHAKES-PER-SOURCE 4" "MAX-CHILDREN 4"
node_add H $((base + 3))
node_peer A B; node_peer B A; node_peer H B; node_peer B H
for n in A B; do node_start "$n" || { fail "start $n"; finish; }; done
alog=$NODES/A/shipd.log blog=$NODES/B/shipd.log
work=$NODES/work; mkdir -p "$work"
# an idle send worker (shipd-idle, pool.c) holds nothing: not counted
kids() { ps --ppid "${PID[B]}" -o comm= | grep -vxc shipd-idle; }
no_kids() { [ "$(kids)" -eq 0 ]; }
arrived() { count_files "$(bay B)/incoming"; }
blog_has() { tail -n +$((bmark + 1)) "$blog" | grep -qE -- "$1"; }

# flood_case NAME SRC N SECONDS FILES: the flood from SRC while A ships FILES
flood_case() {
	local name=$1 src=$2 n=$3 secs=$4 nf=$5 fpid spid max i got amark bmark still
	amark=$(wc -l <"$alog"); bmark=$(wc -l <"$blog")
	local have=$(arrived)
	"$HOSTILE" -b "$src" flood 127.0.0.1 $bport "$n" $((secs + 5)) "$secs" \
		>"$work/$name.out" 2>&1 &
	fpid=$!
	( while kill -0 $fpid 2>/dev/null; do kids; sleep 0.2; done ) >"$work/$name.kids" &
	spid=$!
	sleep 2
	# the files go one after another over the first half of the flood
	for ((i = 1; i <= nf; i++)); do
		head -c $((1000 + RANDOM)) /dev/urandom >"$work/$name$i.bin"
		ctl A submit --to B "$work/$name$i.bin" >/dev/null 2>&1 ||
			fail "$name: submit file $i"
		sleep $(awk -v s="$secs" -v n="$nf" 'BEGIN { printf "%.2f", s / 2 / n }')
	done
	WAIT=$((secs + 5)) wait_for at_least $((have + nf)) "$(bay B)/incoming"
	got=$(($(arrived) - have))
	kill -0 $fpid 2>/dev/null && still=1 || still=0
	wait $fpid; wait $spid
	max=$(sort -n "$work/$name.kids" | tail -n 1)
	echo "# $name: $(sed 's/^result: //' "$work/$name.out")"
	echo "# $name: B had at most ${max:-?} children; $got of $nf files arrived"
	check "$name: the flood tool opened $n connections" \
		grep -q "result: $n of $n connections opened" "$work/$name.out"
	check "$name: all $nf files arrived ($got)" test "$got" -eq "$nf"
	check "$name: ... while the flood was still going on" test "$still" -eq 1
	if tail -n +$((amark + 1)) "$alog" | grep -E "next hop B down|deferred: |unreachable" >"$work/$name.bad"; then
		fail "$name: A never marked B down nor deferred an order" "$(head -n 3 "$work/$name.bad")"
	else
		ok "$name: A never marked B down nor deferred an order"
	fi
	# receive workers, plus B's own delivery workers (MAX-CHILDREN 4)
	check "$name: B's children stay bounded: MAX-RECEIVERS 5 + MAX-HANDSHAKES 10 + MAX-CHILDREN 4 (max ${max:-?})" \
		test "${max:-99}" -le 19
	check "$name: B dropped flood connections to make room, and said so" \
		blog_has "dropped .*(oldest|handshake)"
	check "$name: B's children back to none after the flood" wait_for no_kids
}

flood_case flood 127.0.0.2 "$FLOOD_N" "$FLOOD_S" $NFILES
if ctl A peers --json >"$work/peers.json" 2>&1 &&
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));
p=[x for x in d["peers"] if x["name"]=="B"]; sys.exit(0 if p and p[0]["state"].startswith("up") else 1)' \
		"$work/peers.json"; then
	ok "flood: shipctl peers --json on A shows B up"
else
	fail "flood: shipctl peers --json on A shows B up" "$(head -c 300 "$work/peers.json")"
fi

# the flood from the real peer's own address: a smaller one is enough to
# fill every slot that source may hold many times over
flood_case "same-source flood" 127.0.0.1 $((FLOOD_N / 5)) $((FLOOD_S / 2)) 5

# --- slow loris: one byte a second of a HELLO that never ends ---
bmark=$(wc -l <"$blog")
res=$("$HOSTILE" slow 127.0.0.1 $bport 40)
echo "# slow loris: $res"
bytes=$(echo "$res" | sed -n 's/.*after [0-9.]* s and \([0-9]*\) bytes.*/\1/p')
check "slow loris: dropped by B" grep -q "closed by the server" <<<"$res"
# 2 s of HANDSHAKE-TIMEOUT at a byte a second: far fewer than the
# bytes IO-TIMEOUT or a per-read timeout would let through (15 before)
check "slow loris: dropped long before it could finish (${bytes:-?} bytes sent)" \
	test "${bytes:-999}" -lt 10
check "slow loris: B logged the handshake deadline" \
	wait_for blog_has "refused hop from 127\.0\.0\.1:[0-9]+ via tcp: .*timeout in handshake"
check "slow loris: B's children back to none" wait_for no_kids
# --- busy: every MAX-RECEIVERS slot held by real peers ---
# H (a peer of B) holds all five slots, silent; A's offer meets a temporary
# "busy" refusal: A tries again shortly over new connections (never a
# deferral with the order's back-off) without marking B down, and the
# file arrives once a slot is free again.
amark=$(wc -l <"$alog"); bmark=$(wc -l <"$blog")
hpids=
for i in 1 2 3 4 5; do
	"$HOSTILE" -c "$(conf H)" hold B 12 >"$work/hold$i.out" 2>&1 &
	hpids="$hpids $!"
	# one after another: five handshakes at once from one address meet
	# MAX-HANDSHAKES-PER-SOURCE (4), which evicts the oldest, and on a
	# loaded machine a slot stayed free (a full check, once)
	WAIT=20 wait_for grep -q "result: connected" "$work/hold$i.out" ||
		fail "busy: holder $i did not connect ($(cat "$work/hold$i.out"))"
done
echo "busy $RANDOM" >"$work/busy.txt"
ctl A submit --to B "$work/busy.txt" >/dev/null 2>&1 || fail "busy: submit"
check "busy: A is told busy and tries again shortly" \
	wait_for sh -c "tail -n +$((amark + 1)) '$alog' | grep -q 'B busy (all 5 receivers are taken.*trying again in'"
check "busy: B logged that its receivers were busy" wait_for blog_has "all 5 receivers busy"
wait $hpids
WAIT=40 check "busy: the file arrives once a slot is free" wait_for delivered B busy.txt
if tail -n +$((amark + 1)) "$alog" | grep -E "next hop B down|unreachable|deferred: " >"$work/busy.bad"; then
	fail "busy: A never marked B down nor deferred the order" "$(head -n 2 "$work/busy.bad")"
else
	ok "busy: A never marked B down nor deferred the order"
fi

check "B is still running" kill -0 "${PID[B]}"
check "B's log has no crash or panic" sh -c "! grep -qiE 'panic|fatal' '$blog'"
finish

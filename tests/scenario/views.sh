#!/bin/bash
# tests/scenario/views.sh - the operator views with real daemons on
# loopback: `stats` totals agree with `ls --json` (count and bytes per
# state) with orders deferred (peer down) and held; `stats --json` parses;
# `top --once` names the bays and their counts; `top` live in tmux shows a
# sender in flight and quits on q with the terminal restored; `submit
# --wait` draws a bar in a pseudo-terminal and exits 0 on delivery, prints
# one plain line when stderr is not a terminal, exits 75 when the peer is
# down (deferred), and at once when no daemon runs. A -> B goes through
# tests/lib/slowproxy.py (25 MB/s) so transfers can be watched in flight.
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((20000 + RANDOM % 20000))
RATE=${RATE:-25000000}

# A: a refused peer fails after IO-TIMEOUT (the UDP fallback waits that
# long), and RETRY-MIN keeps deferred orders deferred for the test
node_add A $((base + 1)) "IO-TIMEOUT 4s" "RETRY-MIN 5m" "RETRY-MAX 10m"
node_add B $((base + 2)) "IO-TIMEOUT 15s"
# A reaches B through the slow relay on base+3
sed "s/ $((base + 2)) / $((base + 3)) /" "$NODES/B/peerline" >>"$(conf A)"
node_peer B A
work=$NODES/work; mkdir -p "$work"
out=$NODES/out err=$NODES/err

# 1. stats with orders deferred (B down) and held, compared with ls --json
node_start A || { fail "start A"; finish; }
for i in 1 2 3 4 5; do head -c $((i * 70000)) /dev/urandom >"$work/f$i"; done
ids=()
for i in 1 2 3 4 5; do ids+=("$(ctl A submit --to B "$work/f$i")"); done
deferred_n() { ctl A ls --json | jq -e "[.[] | select(.state == \"deferred\")] | length == $1" >/dev/null; }
check "five orders deferred with B down" wait_for deferred_n 5
ctl A hold "${ids[0]}" "${ids[1]}" >/dev/null 2>&1
node_stop A		# a still queue, so ls and stats see the same thing
ctl A ls --json >"$NODES/ls.json"
ctl A stats --json >"$NODES/stats.json"; rc=$?
check "stats --json exits 0 and parses" test "$rc" -eq 0 -a -n "$(jq -c .total "$NODES/stats.json")"
for st in deferred hold outgoing; do
	want=$(jq -c "[.[] | select(.state == \"$st\")] | [length, (map(.size) | add // 0)]" "$NODES/ls.json")
	got=$(jq -c "[.rows[] | select(.state == \"$st\")] | [(map(.count) | add // 0), (map(.bytes) | add // 0)]" "$NODES/stats.json")
	[ "$want" = "$got" ] && ok "stats $st count/bytes match ls --json ($got)" ||
		fail "stats $st: ls says $want, stats says $got"
done
check "stats: 3 deferred, 2 held" jq -e '.states.deferred.count == 3 and .states.hold.count == 2' "$NODES/stats.json"
check "stats: total matches ls --json" jq -e --slurpfile l "$NODES/ls.json" \
	'.total.count == ($l[0] | length) and .total.bytes == ($l[0] | map(.size) | add)' "$NODES/stats.json"
check "stats: every failed order counted in the last hour" \
	jq -e '.total.failures_last_hour == 5' "$NODES/stats.json"
check "stats: deferred row has a next retry in the future" \
	jq -e '.rows[] | select(.state == "deferred") | .next_retry_in_seconds > 0' "$NODES/stats.json"
ctl A stats >"$out"
check "stats table has a deferred row for -default with count 3" \
	awk '$1 == "-default" && $2 == "deferred" && $3 == 3 { f = 1 } END { exit !f }' "$out"
check "stats table ends with a TOTAL of 5" awk '$1 == "TOTAL" && $2 == 5 { f = 1 } END { exit !f }' "$out"
ctl A stats --class nosuch >/dev/null 2>"$err"; rc=$?
check "stats --class unknown exits 65" test "$rc" -eq 65

ctl A top --once >"$out"; rc=$?
check "top --once exits 0" test "$rc" -eq 0
check "top --once names A's bay with 3 deferred, 2 held" \
	awk -v b="$(bay A)" '$1 == b && $2 == 0 && $4 == 3 && $5 == 2 { f = 1 } END { exit !f }' "$out"
check "top --once lists no sender in flight" grep -q "SENDERS IN FLIGHT: 0" "$out"
if grep -q $'\033' "$out"; then fail "top --once wrote escape sequences"; else ok "top --once is plain text"; fi

# 2. submit --wait without a daemon: fails at once (75), saying why
head -c 100000 /dev/urandom >"$work/t1"
ctl A submit --wait --timeout 30 --to B "$work/t1" >"$out" 2>"$err"; rc=$?
check "submit --wait with no daemon exits 75" test "$rc" -eq 75
check "... saying no shipd runs" grep -q "no shipd runs on" "$err"

# 3. submit --wait with the daemon up and B down: deferred, 75, last error shown
node_start A || { fail "restart A"; finish; }
ctl A rm $(ctl A ls --short) >/dev/null 2>&1
head -c 100000 /dev/urandom >"$work/t2"
timeout 30 "$SHIPCTL" -c "$(conf A)" submit --wait --to B "$work/t2" >"$out" 2>"$err"; rc=$?
check "submit --wait with the peer down exits 75" test "$rc" -eq 75
check "... and prints the order's last error" grep -q "deferred after attempt 1: .*unreachable" "$err"
ctl A rm $(ctl A ls --short) >/dev/null 2>&1

# 4. B up behind the slow relay
python3 "$TOP/tests/lib/slowproxy.py" $((base + 3)) $((base + 2)) "$RATE" >"$NODES/proxy.out" 2>&1 &
proxy=$!
node_start B || { fail "start B"; finish; }
wait_for grep -q listening "$NODES/proxy.out" || fail "slow relay did not start"

head -c 2000000 /dev/urandom >"$work/plain.bin"
ctl A submit --wait --to B "$work/plain.bin" >"$out" 2>"$err"; rc=$?
check "submit --wait (stderr a file) exits 0 on delivery" test "$rc" -eq 0
check "... with exactly one plain line besides the queued log line" \
	test "$(grep -vc 'queued 1 part' "$err")" -eq 1
check "... saying it is done" grep -q "1 order done here: 1.9M in" "$err"
if grep -q $'\r\|\033' "$err"; then fail "plain line has no bar escapes"; else ok "no bar when stderr is not a terminal"; fi
check "... and B has the file" wait_for delivered B plain.bin

head -c 40000000 /dev/urandom >"$work/bar.bin"
script -qfec "$SHIPCTL -c $(conf A) submit --wait --to B $work/bar.bin" /dev/null >"$NODES/pty.out" 2>&1; rc=$?
check "submit --wait in a pty exits 0 on delivery" test "$rc" -eq 0
tr '\r' '\n' <"$NODES/pty.out" >"$NODES/pty.lines"
if grep -qE '^\[#*-+\] +[0-9]+% [0-9.]+[KM]/38M [0-9.]+[KM]/s ETA [0-9]+s  sending to B' "$NODES/pty.lines"; then
	ok "pty: a bar with percent, bytes and rate while sending"
else	# say what was drawn instead: a timing-dependent check on a loaded machine
	fail "pty: a bar with percent, bytes and rate while sending" \
		"frames drawn: $(sed 's/\x1b\[K//g' "$NODES/pty.lines" | sort | uniq -c | sort -rn | head -n 6 | tr '\n' '|')"
fi
check "pty: the last frame is 100% done" grep -qE '^\[#+\] 100% 38M/38M .*done' "$NODES/pty.lines"
check "B has bar.bin" wait_for delivered B bar.bin

# 5. top live in tmux during a 200 MB transfer (8 s through the relay)
dd if=/dev/urandom of="$work/big.bin" bs=1M count=200 status=none
sock=$NODES/tmux.sock
tmux -S "$sock" new-session -d -s top -x 180 -y 40 \
	"$SHIPCTL -c $(conf A) top; echo top-exit=\$? >$NODES/top.rc; sleep 60"
bigid=$(ctl A submit --to B "$work/big.bin")
pane() { tmux -S "$sock" capture-pane -p -t top >"$NODES/pane"; }
in_flight() { pane; grep -qE "^$bigid +B +tcp +[0-9]+ +[0-9.]+[KM]/200M +[0-9]+% +[0-9.]+[KM]/s +[0-9]+s" "$NODES/pane"; }
check "top shows the sender in flight (peer, tcp, port, done/total, rate, ETA)" wait_for in_flight
# (200 MB of random data is sent while shipctl seals it: the order stays
# in outgoing/ until that send ends, then it is finished; sent the
# ordinary way it would be in active/)
if awk -v b="$(bay A)" '$1 == b && $2 + $3 == 1 { f = 1 } END { exit !f }' "$NODES/pane"; then
	ok "top shows the bay with the one order being sent"
else
	fail "top shows the bay with the one order being sent"; sed 's/^/# pane: /' "$NODES/pane"
fi
check "top's header says q quits" grep -q "(q quits)" "$NODES/pane"
tmux -S "$sock" send-keys -t top q
check "q quits top with status 0" wait_for grep -q "top-exit=0" "$NODES/top.rc" 2>/dev/null
pane
if grep -q "SENDERS IN FLIGHT" "$NODES/pane"; then fail "screen not restored after q"; else ok "screen restored after q"; fi
tmux -S "$sock" kill-server 2>/dev/null
WAIT=60 check "the 200 MB file arrives" wait_for delivered B big.bin

kill "$proxy" 2>/dev/null; wait "$proxy" 2>/dev/null
finish

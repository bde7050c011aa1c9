#!/bin/bash
# One daemon per spool, and commands that say when none runs: a second
# shipd on the same configuration refuses naming the first one's pid and
# never works its bays; `shipd --poll` with a daemon running asks it for
# the pass; without a daemon `submit --wait` fails at once, `top` says so
# in its header and `ls` notes it. Also: ls shows a refused drop's real
# reason (its .why), and on a terminal never cuts an error's cause.
. "$TOP/tests/lib/nodes.sh"
pair_init

# ---- no daemon: every command that depends on one says so
echo "wait for me" >"$work/w.txt"
start=$SECONDS
ctl A submit --wait --copy --to B "$work/w.txt" >"$work/w.out" 2>"$work/w.err" </dev/null &
wpid=$!
for _ in $(seq 100); do kill -0 $wpid 2>/dev/null || break; sleep 0.1; done
if kill -0 $wpid 2>/dev/null; then
	kill $wpid; wait $wpid
	fail "submit --wait without a daemon still waits after 10 s"
else
	wait $wpid; rc=$?
	check "submit --wait without a daemon fails at once with 75 (got $rc)" test "$rc" -eq 75
	grep -q "no shipd runs on" "$work/w.err" && ok "... saying no shipd runs" ||
		fail "submit --wait message" "$(cat "$work/w.err")"
fi
grep -qE '^[0-9]{8}T' "$work/w.out" && ok "... after printing the queued id" || fail "no id printed"
ctl A top --once >"$work/top.out" 2>&1
head -n 1 "$work/top.out" | grep -q "SHIPD NOT RUNNING" && ok "top's header says no shipd runs" ||
	fail "top header" "$(head -n 1 "$work/top.out")"
ctl A ls >/dev/null 2>"$work/ls.err"
grep -q "no shipd runs" "$work/ls.err" && ok "ls notes that no shipd runs while orders wait" ||
	fail "ls note" "$(cat "$work/ls.err")"

# ---- the lock
node_start A || { fail "start A"; finish; }
apid=${PID[A]}
check "the daemon wrote its pid in SPOOL/shipd.pid" test "$(cat "$(spool A)/shipd.pid")" = "$apid"
ctl A top --once | head -n 1 | grep -q "shipd running (pid $apid)" && ok "top's header names the running daemon" ||
	fail "top header with a daemon" "$(ctl A top --once | head -n 1)"
timeout 20 $SHIPD -c "$(conf A)" -f >"$work/second.log" 2>&1
rc=$?
check "a second shipd on the same conf exits non-zero (got $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
grep -q "another shipd (pid $apid) is running" "$work/second.log" && ok "... naming the running one's pid" ||
	fail "second daemon's message" "$(cat "$work/second.log")"
check "... in one line" test "$(grep -c "fatal:" "$work/second.log")" -eq 1
grep -q "recovered bay\|started" "$work/second.log" && fail "the second daemon touched the bays" ||
	ok "the second daemon never recovered or started on the bays"
check "the first daemon still runs" kill -0 "$apid"
check "the pid file still names the first daemon" test "$(cat "$(spool A)/shipd.pid")" = "$apid"

# ---- --poll while the daemon runs: asks it, exit 0
$SHIPD -c "$(conf A)" --poll >"$work/poll.log" 2>&1
rc=$?
check "shipd --poll with a daemon running exits 0 (got $rc)" test "$rc" -eq 0
grep -q "asked it to make the poll's pass" "$work/poll.log" && ok "... saying it asked the daemon" ||
	fail "poll message" "$(cat "$work/poll.log")"
check "the daemon made the pass" wait_for log_has A "poll requested"

# ---- a long error keeps its cause on a terminal (B is down)
check "order for B deferred" wait_for sh -c "'$SHIPCTL' -c '$(conf A)' ls --state deferred --short | grep -q ."
script -qc "stty cols 100; '$SHIPCTL' -c '$(conf A)' ls --state deferred" /dev/null >"$work/tty.out" 2>&1
err=$(ctl A ls --json | jq -r '.[0].last_error')
cause=${err##*: }; cause=${cause%% (*}
grep -qF -- "$cause" "$work/tty.out" && ok "ls on a terminal keeps the cause \"$cause\"" ||
	fail "ls on a terminal lost the cause \"$cause\"" "$(tr -d '\r' <"$work/tty.out")"
ctl A ls --state deferred | grep -qF -- "$err" && ok "ls on a pipe shows the error whole" ||
	fail "ls on a pipe cut the error"

# ---- a refused drop: its real reason, not "corrupt?"
mkdir -p "$(bay A)/drop/Nowhere"
echo "lost" >"$work/lost.txt" && mv "$work/lost.txt" "$(bay A)/drop/Nowhere/"
check "the drop to an unroutable node is refused" wait_for test -e "$(bay A)/corrupt/drop.Nowhere.lost.txt.why"
row=$(ctl A ls --state corrupt | grep drop.Nowhere)
echo "$row" | grep -q "corrupt?" && fail "ls shows the refused drop as corrupt?" "$row" || ok "ls does not say corrupt? for a refused drop"
echo "$row" | grep -q "no route and no peer for Nowhere" && ok "ls shows the refused drop's reason" ||
	fail "ls refused drop reason" "$row"
ctl A ls --json | jq -e '.[] | select(.id == "drop.Nowhere.lost.txt") | .reason | test("no route")' >/dev/null &&
	ok "ls --json gives the reason" || fail "ls --json reason"
finish

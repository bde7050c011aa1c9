#!/bin/bash
# tests/scenario/receipts.sh - delivery confirmed end to end (issue 21):
# A -> relay R -> C on loopback. `submit --wait` returns only once C's
# signed receipt came back through R (it is still waiting while R holds
# the packet and C is down, and its progress line says where the packet
# is); afterwards `show ID` on A, R and C gives the order's history (role,
# result, route, when) and `ls --done` lists it; `--hop` keeps the old
# meaning (done once R has it); a receipt that R forges for C, or one
# tampered with, is refused, and R drops a refused receipt instead of
# returning it; the sweep purges history older than HISTORY-DAYS.
WAIT=${WAIT:-40}		# a loaded machine: three daemons, back-offs
. "$TOP/tests/lib/nodes.sh"
HOSTILE=${HOSTILE:-$TOP/build/tests/hostile}
nodes_init
base=$((20000 + RANDOM % 20000))
work=$NODES/work; mkdir -p "$work"
[ -x "$HOSTILE" ] || { fail "hostile tool built" "run make tests"; finish; }

node_add A $((base + 1))
node_add R $((base + 2)) "HISTORY-DAYS 30"
node_add C $((base + 3))
node_peer A R; node_peer R A; node_peer R C; node_peer C R
node_key A C; node_key C A
node_route A R C; node_route C R A
node_start A && node_start R || { fail "start A and R"; finish; }

# 1. --wait waits for C's receipt: C is down, R holds the packet
head -c 300000 /dev/urandom >"$work/far.bin"
script -qfec "$SHIPCTL -c $(conf A) submit --wait --timeout 120 --to C $work/far.bin; echo rc=\$? >$work/wait.rc" \
	/dev/null >"$work/wait.pty" 2>&1 &
waiter=$!
id=""
have_id() { id=$(tr '\r' '\n' <"$work/wait.pty" | grep -oE '^[0-9]{8}T[0-9]{6}Z-A-[0-9a-f]+' | head -n 1); [ -n "$id" ]; }
check "submit printed the order id" wait_for have_id
check "A handed it to R" wait_for log_has A "sent $id to R"
check "R holds it, C being down" wait_for log_has R "order $id: deferred"
sleep 1
if kill -0 "$waiter" 2>/dev/null && [ ! -e "$work/wait.rc" ]; then
	ok "--wait has not returned while R holds the packet"
else
	fail "--wait returned before C delivered" "$(tr '\r' '\n' <"$work/wait.pty" | tail -n 3)"
fi
check "its progress line says R has it and C's receipt is awaited" \
	grep -q "handed to R, waiting for C's receipt" "$work/wait.pty"
node_start C || { fail "start C"; finish; }
"$SHIPD" -c "$(conf R)" --poll >/dev/null 2>&1	# R tries now, not after its back-off
check "--wait returns once C delivered" wait_for test -e "$work/wait.rc"
check "... with status 0 ($(cat "$work/wait.rc" 2>/dev/null))" grep -q "rc=0" "$work/wait.rc"
check "... and C has the file" delivered C far.bin
check "... saying it was delivered" grep -q "done, delivered" "$work/wait.pty"
check "C queued a receipt for A" log_has C "order $id: delivery receipt .* queued for A"
check "A recorded it" log_has A "order $id: delivered to C at [0-9]* by route A,R,C"
wait "$waiter" 2>/dev/null

# 2. the history on all three nodes
ctl A show "$id" >"$work/show.A" 2>&1
ctl R show "$id" >"$work/show.R" 2>&1
ctl C show "$id" >"$work/show.C" 2>&1
sed 's/^/# A: /' "$work/show.A"
check "show on A: the origin, sent" grep -qE '^ended: .*: sent$' "$work/show.A"
check "show on A: to C via R" grep -qE '^to: +C via R, ' "$work/show.A"
check "show on A: C delivered it by route A,R,C as far.bin" \
	grep -qE '^delivered: +C, .*route A,R,C, as far\.bin$' "$work/show.A"
check "show on R: a relay that came from A and forwarded it to C" \
	sh -c "grep -qE '^role: +relay' '$work/show.R' && grep -qE '^came from: +A' '$work/show.R' &&
	       grep -qE '^ended: .*: forwarded' '$work/show.R' && grep -qE '^to: +C directly' '$work/show.R'"
check "show on C: the destination, from R, delivered as far.bin" \
	sh -c "grep -qE '^role: +destination' '$work/show.C' && grep -qE '^came from: +R' '$work/show.C' &&
	       grep -qE '^ended: .*: delivered' '$work/show.C' && grep -qE '^delivered: +C, .*as far\.bin' '$work/show.C'"
json_ok() { ctl A show --json "$id" |
	jq -e '.order == null and .history.result == "sent" and .history.delivered[0].dest == "C"' >/dev/null; }
check "show --json on A: the history's receipt names C" json_ok
for n in A R C; do
	check "ls --done on $n lists it" sh -c "'$SHIPCTL' -c '$(conf $n)' ls --done | grep -q '^$id '"
done
check "ls --done --json on A parses" sh -c "'$SHIPCTL' -c '$(conf A)' ls --done --json | jq -e 'length >= 1' >/dev/null"
check "no plaintext of the receipt at R (sealed for A)" \
	sh -c "! grep -rqa 'shipd-receipt' '$(spool R)'"

# 3. --hop: done once R has it, C down
node_stop C
echo "hop only $RANDOM" >"$work/hop.txt"
timeout 60 "$SHIPCTL" -c "$(conf A)" submit --wait --hop --to C "$work/hop.txt" >"$work/hop.id" 2>"$work/hop.err"; rc=$?
hid=$(head -n 1 "$work/hop.id")
check "--hop returns 0 with C down ($rc)" test "$rc" -eq 0
check "... saying it is done here, no receipt awaited" \
	sh -c "grep -q 'done here' '$work/hop.err' && ! grep -q 'confirmed' '$work/hop.err'"
check "... C has not got it" test ! -e "$(bay C)/incoming/hop.txt"
check "show on A: no receipt yet from C" sh -c "'$SHIPCTL' -c '$(conf A)' show '$hid' | grep -q 'C: no receipt yet'"

# 4. a receipt R forges for C, and a tampered one: refused at A
now=$(date +%s)
printf 'shipd-receipt 1\norder: %s\norigin: A\ndest: C\ndelivered: %s\nroute: A,R,C\nname: hop.txt\nend\n' \
	"$hid" "$now" >"$work/forged"
"$HOSTILE" -c "$(conf R)" -t "$work" -k receipt good A "$work/forged" A >"$work/forge.out" 2>&1
sed 's/^/# forge: /' "$work/forge.out" | head -n 3
check "A refuses the receipt R signed for C" wait_for log_has A "forged receipt: signed by R, but says C delivered $hid"
check "... and keeps it in corrupt/ with the reason" \
	sh -c "grep -lq 'forged receipt' '$(bay A)'/corrupt/*.why"
check "A's history of $hid still has no receipt from C" \
	sh -c "'$SHIPCTL' -c '$(conf A)' show '$hid' | grep -q 'C: no receipt yet'"
"$HOSTILE" -c "$(conf R)" -t "$work" -k receipt tamper-body A "$work/forged" A >"$work/tamper.out" 2>&1
check "A refuses a tampered receipt" grep -q "^result: REFUSE .*signature" "$work/tamper.out"
sed -n 's/^result: /# tamper: /p' "$work/tamper.out"

# 5. a receipt tampered with at the relay: A refuses it, R drops it (a
#    receipt is never returned), C is not sent anything back
node_stop A
node_start C || { fail "restart C"; finish; }
"$SHIPD" -c "$(conf R)" --poll >/dev/null 2>&1
rid=""
have_rid() { rid=$(sed -n "s/.*order $hid: delivery receipt \([^ ]*\) queued for A.*/\1/p" "$NODES/C/shipd.log" | head -n 1); [ -n "$rid" ]; }
check "C delivered $hid and queued its receipt" wait_for have_rid
check "R holds the receipt, A being down" wait_for log_has R "order $rid: deferred"
f=$(bay R)/data/$rid
printf 'X' | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") - 200)) conv=notrunc status=none
node_start A || { fail "restart A"; finish; }
check "A refuses the altered receipt" wait_for log_has A "$rid.*signature"
check "R drops it with a log line, never returns it" \
	wait_for log_has R "order $rid: delivery receipt from C to A dropped: refused by A"
check "... no return journey of the receipt anywhere" \
	sh -c "! ls '$(bay R)'/*/'$rid.ret' '$(bay C)'/*/'$rid.ret' '$(spool R)'/ms_rtn/*/'$rid.ret' 2>/dev/null | grep -q ."
check "A's history of $hid still says no receipt from C" \
	sh -c "'$SHIPCTL' -c '$(conf A)' show '$hid' | grep -q 'C: no receipt yet'"

# 6. HISTORY-DAYS: the sweep purges older records (shipd --poll asks the running daemon)
touch -d '40 days ago' "$(bay R)/done/$id"
"$SHIPD" -c "$(conf R)" --poll >/dev/null 2>&1
check "R's history of $id is purged after HISTORY-DAYS" wait_for test ! -e "$(bay R)/done/$id"
check "... show on R then says no order" sh -c "! '$SHIPCTL' -c '$(conf R)' show '$id' 2>/dev/null"
check "... while R's newer record stays" test -e "$(bay R)/done/$hid"
check "checkconf shows the setting" sh -c "'$SHIPCTL' -c '$(conf R)' checkconf | grep -qE '^history +30 days'"
finish

#!/bin/bash
# An order that expires at a relay travels back to its origin through the
# network (kept in return bays on the way), the administrators are told at
# expiry and on arrival home, and `shipctl resubmit` sends it again through
# the same relay, which must not take the new journey for a replay.
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((20000 + RANDOM % 20000))
work=$NODES/work; mkdir -p "$work"
cat >"$work/notify" <<EON
#!/bin/sh
{ echo "ARGS: \$*"; cat "\$4"; echo; } >>"$work/notices"
EON
chmod +x "$work/notify"
node_add A $((base + 1)) "NOTIFICATION-PROGRAM $work/notify" "ADMINISTRATOR admin@A"
node_add X $((base + 2)) "NOTIFICATION-PROGRAM $work/notify" "ADMINISTRATOR admin@X"
node_add B $((base + 3))
node_peer A X; node_peer X A; node_peer X B; node_peer B X
node_key A B; node_key B A
node_route A X B
node_start A && node_start X || { fail "start"; finish; }

head -c 30000 /dev/urandom >"$work/r.bin"
# room for A to hand it to X first on a loaded machine (6 s was once too
# little for a like case in split_return.sh)
exp=$(date -d '+12 seconds' '+%Y-%m-%dT%H:%M:%S')
id=$(ctl A submit --copy --pexpire "$exp" --to B "$work/r.bin")
check "A hands it to X at once" wait_for log_has A "sent $id to X"
check "X cannot reach B and defers" wait_for log_has X "order $id: deferred"
WAIT=40 check "X turns it around at expiry" wait_for log_has X "expired $id: returning toward A"
check "X told its administrator" wait_for grep -q "ARGS: .* admin@X" "$work/notices"
check "the return travels X -> A" wait_for log_has X "sent $id.ret to A"
check "it rests in A's return bay" wait_for test -e "$(spool A)/ms_rtn/return/$id.ret"
returned_here() { ctl A show "$id" | grep -qE '^ended: .*: returned$'; }
check "A's history of $id says it was returned" wait_for returned_here
check "X's history of $id says it returned it, and why" \
	sh -c "'$SHIPCTL' -c '$(conf X)' show '$id' | grep -qE '^why: +expired before delivery'"
check "A told its administrator it came home" wait_for grep -q "ARGS: -s shipd: returned packet arrived home .* admin@A" "$work/notices"
if grep -rqa "$(head -c 64 "$work/r.bin" | base64 | head -c 40)" "$NODES/X/spool" 2>/dev/null; then
	fail "plaintext at the relay"
else
	ok "the relay held only sealed data"
fi

rid=$(ctl A resubmit "$id.ret")
check "resubmit prints the new journey's id ($rid)" test "$rid" = "$id.r1"
node_start B || { fail "start B"; finish; }
check "the resubmitted packet reaches B through X" wait_for delivered B r.bin
cmp -s "$work/r.bin" "$(bay B)/incoming/r.bin" && ok "content identical" || fail "content differs"
check "X did not take the new journey for a replay" sh -c "! grep -q 'packet $rid from A: already accepted' '$NODES/X/shipd.log'"
finish

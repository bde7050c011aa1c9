#!/bin/bash
# notify_inject.sh - the notify address cannot inject arguments into
# NOTIFICATION-PROGRAM, and no relay can change it (issue 14):
#   - `shipctl submit --notify '--exec=...'` is refused (address grammar);
#   - the program gets "--" before the addresses;
#   - a relay that rewrites an order's notify (here X, by editing the order
#     it holds) does not change whom the origin tells: the origin takes
#     notify from the packet's signed header and logs the mismatch.
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((20000 + RANDOM % 20000))
work=$NODES/work; mkdir -p "$work"
cat >"$work/notify" <<EON
#!/bin/sh
{ echo "ARGS: \$*"; } >>"$work/notices"
EON
chmod +x "$work/notify"
node_add A $((base + 1)) "NOTIFICATION-PROGRAM $work/notify" "ADMINISTRATOR admin@A"
node_add X $((base + 2))
node_add B $((base + 3))
node_peer A X; node_peer X A; node_peer X B; node_peer B X
node_key A B; node_key B A
node_route A X B
node_start A && node_start X || { fail "start"; finish; }
head -c 5000 /dev/urandom >"$work/n.bin"

# 1. An option as the notify address is refused at submission.
if ctl A submit --copy --notify "--exec=touch $work/pwned" --to B "$work/n.bin" \
	>"$work/sub.out" 2>"$work/sub.err"; then
	fail "submit accepted --notify '--exec=...'"
else
	check "submit refuses an option as notify address" grep -q "bad notify address" "$work/sub.err"
fi

# 2. A relay rewrites notify; the origin still tells the signed address.
exp=$(date -d '+20 seconds' '+%Y-%m-%dT%H:%M:%S')
id=$(ctl A submit --copy --notify ops@example.org --pexpire "$exp" --to B "$work/n.bin")
check "X holds it, B being down" wait_for log_has X "order $id: deferred"
ctl X hold "$id" >/dev/null 2>&1
held=$(spool X)/ms_ship/hold/$id
if [ -f "$held" ] && grep -q "^notify: ops@example.org$" "$held"; then
	sed -i 's/^notify: .*/notify: attacker@evil.example/' "$held"
	ok "X's copy of the order rewritten (notify: attacker@evil.example)"
else
	fail "X did not hold the order with its notify line"
fi
ctl X release "$id" >/dev/null 2>&1
WAIT=60 check "the order comes home to A" wait_for test -e "$(spool A)/ms_rtn/return/$id.ret"
check "A told admin@A and the signed address, after --" \
	wait_for grep -q "ARGS: -s shipd: returned packet arrived home -f .* -- admin@A ops@example.org$" "$work/notices"
check "the relay's address was never told" sh -c "! grep -q 'attacker' '$work/notices'"
check "A logged the rewritten notify" log_has A "is not the one the origin signed"
test -e "$work/pwned" && fail "the notification program ran an injected option" ||
	ok "nothing injected"
finish

#!/bin/bash
# tests/scenario/reload_receiver.sh - a receiver older than its node's
# reload, offered a packet sealed to the key the reload brought. B rotates
# its key (shipctl keygen --rotate, SIGHUP) while A's one send worker
# holds a connection to B (slowed to last, MAX-CHILDREN 1), and A then
# seals a packet to B's new key (its shipping.conf names it; submit reads
# it) that goes over that same connection. B's receiver there was forked
# before the reload and asks the old key process, which does not hold the
# new key: it used to refuse the packet for good ("cannot unwrap the packet
# key", turned back toward A). authority_rotate.sh met it once in a full
# check. Now that receiver leaves it to one forked since: it answers
# "later" and closes its connection, and the packet is delivered over the
# next one, once, nothing refused.
. "$TOP/tests/lib/nodes.sh"
WAIT=90
pair_init "MAX-CHILDREN 1"
node_start B && SHIPD="env SHIPD_TEST_LINK_RATE=20000 $SHIPD" node_start A ||
	{ fail "start"; finish; }
for i in $(seq 30); do head -c 3000 /dev/urandom | base64 -w 0 >"$work/f$i"; done
ctl A submit --to B "$work"/f{1..30} >/dev/null 2>"$work/submit.err" ||
	fail "submit 30" "$(tail -n 1 "$work/submit.err")"
some() { [ "$(count_files "$(bay B)/incoming")" -ge 2 ]; }
check "A's connection to B carries the first ones" wait_for some

old=$(ctl B pubkey)
ctl B keygen --rotate >/dev/null 2>"$work/rotate.err" || fail "rotate B's key" "$(cat "$work/rotate.err")"
kill -HUP "${PID[B]}"
check "B reloaded with its new key" wait_for log_has B "reloaded"
new=$(ctl B pubkey)
check "B's key changed" test -n "$new" -a "$new" != "$old"
# A's daemon is not reloaded yet: its worker keeps its connection; only
# the submission (which reads shipping.conf) seals to B's new key
sed -i "s|${old##* }|${new##* }|" "$(conf A)"
echo "sealed to B's new key $RANDOM" >"$work/late"
id=$(ctl A submit --to B "$work/late" 2>>"$work/submit.err") || fail "submit late"
check "the late packet came first over the connection older than B's reload" \
	wait_for log_has B "packet $id from A: not opened by a receiver older than this node's reload"
# now A's daemon learns B's new key too: its next connections shake hands
kill -HUP "${PID[A]}"
check "A reloaded" wait_for log_has A "reloaded"
check "the late packet was delivered, over a new connection" wait_for delivered B late
check "... and none was refused" eval '! log_has B "refused packet"'
check "A turned nothing back" eval '! log_has A "returning toward"'
all() { [ "$(count_files "$(bay B)/incoming")" -ge 31 ]; }
check "all 31 delivered, once each" wait_for all
check "... none twice" test "$(count_files "$(bay B)/incoming")" -eq 31
finish

#!/bin/bash
# The queue seen from outside, with real daemons (issue 14's queue items):
#  1. A delivered name of 255 bytes that is already in incoming/: the new
#     copy arrives as the name shortened to fit "_1" (NAME_MAX), its order
#     ends done, nothing stays in unpack/. (It used to end "done" with the
#     file left in unpack/.)
#  2. What a crash leaves while the daemon keeps running is found by its
#     sweep within BAY_SWEEP_INTERVAL (30 s): the data of a finished order,
#     a dead writer's temporary in active/, and an order in active/ that no
#     worker holds (as a full disk at its defer record could leave it),
#     which is then sent. (The daemon used to look once, 5 s after start.)
. "$TOP/tests/lib/nodes.sh"
pair_init
for n in A B; do node_start "$n" || { fail "start $n"; finish; }; done
work=$NODES/work; mkdir -p "$work"

# --- 1. a 255-byte name, twice
name=$(head -c 251 /dev/zero | tr '\0' L).dat
short=${name:0:253}_1
echo "first copy" >"$work/$name"
id1=$(ctl A submit --to B "$work/$name")
check "1: a 255-byte name is delivered" wait_for delivered B "$name"
echo "second copy" >"$work/$name"
id2=$(ctl A submit --to B "$work/$name")
check "1: the second copy arrives as the name shortened to fit _1" wait_for delivered B "$short"
check "1: ... with its own content" grep -qx "second copy" "$(bay B)/incoming/$short"
check "1: the first copy is untouched" grep -qx "first copy" "$(bay B)/incoming/$name"
check "1: B finished the order" wait_for log_has B "order $id2: done"
check "1: nothing left in B's unpack/" test -z "$(ls -A "$(bay B)/unpack")"
check "1: both orders done at A" wait_for eval 'log_has A "order $id1: done" && log_has A "order $id2: done"'

# --- 2. leftovers appear while the daemons run, after their first sweep
node_stop B
echo "stuck" >"$work/stuck.txt"
id=$(ctl A submit --to B "$work/stuck.txt")
check "2: with B down the order is deferred" wait_for test -f "$(bay A)/deferred/$id"
held() { ctl A hold "$id" >/dev/null 2>&1 && test -f "$(bay A)/hold/$id"; }
check "2: held (to take it from the daemon's hands)" wait_for held
# as a worker whose defer record could not be written leaves it
mv "$(bay A)/hold/$id" "$(bay A)/active/$id"
node_start B || { fail "restart B"; finish; }
sleep 7		# B's start-up look (5 s) is over: what follows is the sweep's
dead=$(sh -c 'echo $$')
fin=20990101T000000Z-Z-0badc0de
echo "sealed" >"$(bay B)/data/$fin"
echo "0" >"$(bay B)/seen/$fin"
echo "version: 1" >"$(bay B)/active/.tmp.$dead.1.1"
echo "partial seal" >"$(bay B)/tmp/.tmp.$dead.2.2"
WAIT=90
check "2: the sweep removes a finished order's data" wait_for test ! -e "$(bay B)/data/$fin"
check "2: ... a dead writer's temporary in active/" test ! -e "$(bay B)/active/.tmp.$dead.1.1"
check "2: ... and in tmp/" test ! -e "$(bay B)/tmp/.tmp.$dead.2.2"
check "2: an order in active/ no worker holds goes back and is sent" wait_for delivered B stuck.txt
check "2: A says why" log_has A "order $id: back to outgoing, no live worker held it"
a_empty() { [ -z "$(find "$(bay A)/active" "$(bay A)/outgoing" "$(bay A)/deferred" -type f)" ]; }
check "2: A's queue is empty" wait_for a_empty
finish

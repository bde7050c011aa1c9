#!/bin/bash
# A split packet whose parts expire before the destination comes up: every
# part travels back to the origin's return bay, the operator resubmits
# them (`shipctl resubmit`, one id at a time as in MultiSite), and the
# destination joins the resubmitted parts exactly once - also when one
# part got through on the first journey and the others on the second.
. "$TOP/tests/lib/nodes.sh"
pair_init "MAX-DATA-SIZE 128k"
node_start A || { fail "start A"; finish; }

head -c 600000 /dev/urandom >"$work/parts.bin"
exp=$(date -d '+3 seconds' '+%Y-%m-%dT%H:%M:%S')
ids=$(ctl A submit --copy --pexpire "$exp" --to B "$work/parts.bin")
n=$(echo "$ids" | grep -c .)
check "split into several parts ($n)" test "$n" -ge 4 || finish
rtn="$(spool A)/ms_rtn/return"
check "every part comes back to A's return bay" wait_for at_least "$n" "$rtn"
ls "$rtn" | sed 's/^/# returned: /'

rids=""
for f in "$rtn"/*; do
	[ -f "$f" ] || continue
	r=$(ctl A resubmit "${f##*/}") || fail "resubmit ${f##*/}"
	rids="$rids $r"
done
check "resubmit gives every part a new journey id" test "$(echo $rids | wc -w)" -eq "$n"
check "the return bay is empty again" test "$(count_files "$rtn")" -eq 0
node_start B || { fail "start B"; finish; }
check "the resubmitted parts are joined and delivered" wait_for delivered B parts.bin
cmp -s "$work/parts.bin" "$(bay B)/incoming/parts.bin" && ok "joined file is byte-identical" ||
	fail "content differs"
sleep 2
check "delivered exactly once" test ! -e "$(bay B)/incoming/parts.bin_1"
check "no part left waiting at B" test "$(count_files "$(bay B)/joining")" -eq 0
check "nothing left queued at A" test "$(ctl A ls --short 2>/dev/null | grep -c .)" -eq 0

# mixed journeys: part 1 reaches B at once, the others return and go again
node_stop A
head -c 600000 /dev/urandom >"$work/mixed.bin"
# part 1 must reach B before the expiry: 6 s was too short once on a
# loaded machine (A restarting, nine holds), and part 1 came back too
exp=$(date -d '+20 seconds' '+%Y-%m-%dT%H:%M:%S')
ids=$(ctl A submit --copy --pexpire "$exp" --to B "$work/mixed.bin")
n=$(echo "$ids" | grep -c .)
echo "$ids" | tail -n +2 | while read -r i; do ctl A hold "$i" >/dev/null; done
node_start A || { fail "restart A"; finish; }
check "part 1 waits at B for the others" wait_for at_least 1 "$(bay B)/joining"
node_stop B
echo "$ids" | tail -n +2 | while read -r i; do ctl A release "$i" >/dev/null; done
WAIT=60 check "the other $((n - 1)) parts come back to A" wait_for at_least $((n - 1)) "$rtn"
for f in "$rtn"/*; do [ -f "$f" ] && ctl A resubmit "${f##*/}" >/dev/null; done
node_start B || { fail "restart B"; finish; }
check "part 1 (first journey) joined with the resubmitted parts" wait_for delivered B mixed.bin
cmp -s "$work/mixed.bin" "$(bay B)/incoming/mixed.bin" && ok "mixed: byte-identical" ||
	fail "mixed: content differs"
sleep 2
check "mixed: delivered exactly once, nothing left waiting" \
	test ! -e "$(bay B)/incoming/mixed.bin_1" -a "$(count_files "$(bay B)/joining")" -eq 0
finish

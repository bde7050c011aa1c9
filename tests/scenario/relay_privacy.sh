#!/bin/bash
# relay_privacy.sh - a relay learns ids, sizes of sealed packets, origin
# and destinations, never the file's name or the origin's comment (issue
# 14): A -> X -> B delivers a file, and a second one expires at X (C is
# down) and travels home; nothing at X - bay files, log, its notices -
# holds the name or the comment, while B's receipt has both.
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((20000 + RANDOM % 20000))
work=$NODES/work; mkdir -p "$work"
cat >"$work/notify" <<EON
#!/bin/sh
{ echo "ARGS: \$*"; cat "\$4"; echo; } >>"$work/notices-X"
EON
chmod +x "$work/notify"
node_add A $((base + 1))
node_add X $((base + 2)) "NOTIFICATION-PROGRAM $work/notify" "ADMINISTRATOR admin@X"
node_add B $((base + 3))
node_add C $((base + 4))
node_peer A X; node_peer X A; node_peer X B; node_peer B X; node_peer X C
node_key A B; node_key B A; node_key A C
node_route A X B C
node_start A && node_start X && node_start B || { fail "start"; finish; }

head -c 20000 /dev/urandom >"$work/a1-secretname.dat"
head -c 20000 /dev/urandom >"$work/a2-secretname.dat"
id1=$(ctl A submit --copy --comment "secret-comment-text" --to B "$work/a1-secretname.dat")
check "delivered through X" wait_for delivered B a1-secretname.dat
# room for A to hand it to X first on a loaded machine (6 s was once too
# little for a like case in split_return.sh)
exp=$(date -d '+12 seconds' '+%Y-%m-%dT%H:%M:%S')
id2=$(ctl A submit --copy --comment "secret-comment-text" --pexpire "$exp" --to C \
	"$work/a2-secretname.dat")
check "X holds the second while C is down" wait_for log_has X "order $id2: deferred"
leaks=$(grep -rla -e secretname -e secret-comment "$(spool X)" 2>/dev/null)
check "X's bay holds no name or comment while it waits${leaks:+: $leaks}" test -z "$leaks"
WAIT=40 check "X turns the second around at expiry" wait_for log_has X "expired $id2: returning toward A"
check "X sent the return notice" wait_for grep -q "could not be delivered" "$work/notices-X"
check "the return reaches A" wait_for test -e "$(spool A)/ms_rtn/return/$id2.ret"

leaks=$(grep -rla -e secretname -e secret-comment "$NODES/X" "$work/notices-X" 2>/dev/null)
check "no trace of the name or comment at X${leaks:+: $leaks}" test -z "$leaks"
receipt=$(bay B)/receipts/$id1
check "B's receipt names the file" grep -q "^name: a1-secretname.dat$" "$receipt"
check "B's receipt has the comment" grep -q "^comment: secret-comment-text$" "$receipt"
finish

#!/bin/bash
# Delivery with real daemons on loopback: direct, two hops through an
# exposed host, one order to several destinations on different routes, and
# a file dropped into a bay picked up with no poll. Also: what rests on the
# exposed host is never readable.
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((20000 + RANDOM % 20000))

# A (replica) -> X (exposed) -> B (far replica); A also talks to C directly.
node_add A $((base + 1))
node_add X $((base + 2))
node_add B $((base + 3))
node_add C $((base + 4))
node_peer A X; node_peer X A; node_peer X B; node_peer B X
node_peer A C; node_peer C A
node_key A B; node_key B A; node_key X C; node_key C X; node_key B C; node_key C B
node_route A X B
for n in A X B C; do node_start "$n" || { fail "start $n"; finish; }; done

marker="MARKER-$RANDOM-$RANDOM-plaintext"
work=$NODES/work; mkdir -p "$work"
{ echo "$marker"; head -c 300000 /dev/urandom | base64; echo "$marker"; } >"$work/report.txt"
sum=$(sha256sum <"$work/report.txt" | cut -d' ' -f1)

# 1. direct: A -> C
cp "$work/report.txt" "$work/direct.txt"
id=$(ctl A submit --to C "$work/direct.txt") && ok "submit prints an order id ($id)" || fail "submit"
[ ! -e "$work/direct.txt" ] && ok "without --copy the source is consumed once queued" ||
	fail "source still there without --copy"
check "direct delivery A -> C" wait_for delivered C direct.txt
[ "$(sha256sum <"$(bay C)/incoming/direct.txt" | cut -d' ' -f1)" = "$sum" ] &&
	ok "direct: content identical" || fail "direct: content differs"
check "A logs the send with peer, protocol and port" log_has A "sent $id to C (127.0.0.1:$((base + 4))) via tcp from port"

# 2. two hops: A -> X -> B
cp "$work/report.txt" "$work/twohop.txt"
id=$(ctl A submit --copy --to B "$work/twohop.txt")
[ -e "$work/twohop.txt" ] && ok "--copy keeps the source" || fail "--copy lost the source"
check "two hops A -> X -> B" wait_for delivered B twohop.txt
[ "$(sha256sum <"$(bay B)/incoming/twohop.txt" | cut -d' ' -f1)" = "$sum" ] &&
	ok "two hops: content identical" || fail "two hops: content differs"
check "X received and forwarded at once" log_has X "sent $id to B"
if grep -rqa -- "$marker" "$NODES/X/spool" "$NODES/A/spool"; then
	fail "plaintext marker found in the exposed host's or sender's bays"
else
	ok "no plaintext on the exposed host or in the sender's bays"
fi

# 3. one order, several destinations on different routes (B via X, C direct)
cp "$work/report.txt" "$work/multi.txt"
id=$(ctl A submit --to B --to C "$work/multi.txt")
check "multi: arrives at B (via X)" wait_for delivered B multi.txt
check "multi: arrives at C (direct)" wait_for delivered C multi.txt
check "multi: one send per next hop" test "$(grep -c "sent $id to" "$NODES/A/shipd.log")" -eq 2
check "multi: order finished at A" wait_for log_has A "order $id: done"

# 4. name clash: the same name again is delivered as name_1, never overwritten
cp "$work/report.txt" "$work/direct.txt"
ctl A submit --to C "$work/direct.txt" >/dev/null
check "name clash resolved as direct.txt_1, never overwritten" wait_for delivered C direct.txt_1

# 5. drop-a-file: closed file in BAY/drop/DEST is picked up with no poll
mkdir -p "$(bay A)/drop/B"
echo "dropped $marker" >"$work/dropped.txt"
t_drop=$(date +%s.%N)
mv "$work/dropped.txt" "$(bay A)/drop/B/dropped.txt"
echo "partial" >"$(bay A)/drop/B/.hidden"
check "dropped file delivered to B" wait_for delivered B dropped.txt
# how fast inotify started it moving (printed, never asserted: tests do not time)
t_pick=$(grep "picked up $(bay A)/drop/B/dropped.txt" "$NODES/A/shipd.log" | head -n 1 | cut -c12-23)
[ -n "$t_pick" ] && echo "# drop -> picked up and sealed as an order: $(python3 -c "
import datetime,sys
d=datetime.datetime.fromtimestamp(float('$t_drop'))
p=datetime.datetime.combine(d.date(), datetime.time.fromisoformat('$t_pick'))
print('%.0f ms' % ((p-d).total_seconds()*1000))")"
check "dotfiles in drop/ are left alone" test -e "$(bay A)/drop/B/.hidden"
check "dropped file consumed" test ! -e "$(bay A)/drop/B/dropped.txt"
# a dropped file that cannot be shipped (no route to its directory's name)
# is kept for the operator in corrupt/, with the reason beside it
mkdir -p "$(bay A)/drop/NOWHERE"
echo "lost?" >"$work/stray.txt"
mv "$work/stray.txt" "$(bay A)/drop/NOWHERE/stray.txt"
check "undeliverable drop moved to corrupt/" wait_for test -f "$(bay A)/corrupt/drop.NOWHERE.stray.txt"
check "undeliverable drop: reason beside it names the destination" \
	wait_for grep -q NOWHERE "$(bay A)/corrupt/drop.NOWHERE.stray.txt.why"
check "undeliverable drop: refusal logged" wait_for log_has A "pickup .*stray.txt: refused"
rm -f "$(bay A)/corrupt/drop.NOWHERE.stray.txt" "$(bay A)/corrupt/drop.NOWHERE.stray.txt.why"

# nothing left behind
sleep 0.5
for n in A X B C; do
	left=$(( $(count_files "$(bay "$n")/active") + $(count_files "$(bay "$n")/outgoing") + $(count_files "$(bay "$n")/corrupt") ))
	check "$n: no order left in active/, outgoing/ or corrupt/" test "$left" -eq 0
done
finish

#!/bin/bash
# tests/scenario/receipts_batch.sh - the delivery receipts of many orders
# travel as few packets (issue 15): 40 orders queued at A while A is
# stopped, then A started; B delivers all 40 and A's history shows each
# one delivered to B, while B queued far fewer receipt packets than
# orders (a version 2 receipt lists many). At the origin a receipt of
# many orders is checked whole: one entry that was not the signer's to
# confirm (B's own order to A) refuses the packet, and the other entry
# (an order A still holds for B) stays without receipt; the same packet
# without the bad entry is taken. B's worker killed with the receipts
# owed (orders delivered, not yet finished): they are sent once the
# orders are delivered again, each file delivered once. Small packets
# delivered by B's receiver, their receipts marked owed on disk, B's
# master dead before it sent them: sent at B's next start, even when
# more are marked than one receipt packet holds.
WAIT=${WAIT:-60}		# a loaded machine
. "$TOP/tests/lib/nodes.sh"
HOSTILE=${HOSTILE:-$TOP/build/tests/hostile}
nodes_init
base=$((20000 + RANDOM % 20000))
work=$NODES/work; mkdir -p "$work"
[ -x "$HOSTILE" ] || { fail "hostile tool built" "run make tests"; finish; }
N=40

node_add A $((base + 1))
# one worker at B: it delivers at once whatever arrived while it was busy
# (as on a loaded node), so its batches, and their receipts, are many
# orders, not the one or two each of the receiver's group commits brings
node_add B $((base + 3)) "MAX-CHILDREN 1"
node_peer A B; node_peer B A
node_start B || { fail "start B"; finish; }

# 1. 40 orders queued while A is stopped, then A started
for i in $(seq $N); do
	head -c 2000 /dev/urandom >"$work/f$i"
	ctl A submit --to B "$work/f$i" >>"$work/ids" 2>>"$work/submit.err"
done
check "$N orders queued at A" test "$(grep -c . "$work/ids")" -eq $N
node_start A || { fail "start A"; finish; }
check "B delivered all $N" wait_for at_least $N "$(bay B)/incoming"
check "A took B's receipt for every order" wait_for receipted "$work/ids"
nshow=0
while read -r id; do
	ctl A show "$id" 2>/dev/null | grep -qE '^delivered: +B, .*route A,B, as f[0-9]+$' &&
		nshow=$((nshow + 1))
done <"$work/ids"
check "A's history shows all $N delivered to B ($nshow)" test "$nshow" -eq $N
# B: one "order ID: delivery receipt RID queued for A" line per order;
# how many distinct RIDs is how many receipt packets it queued
sed -n 's/.*order \([^ ]*\): delivery receipt \([^ ]*\) queued for A.*/\1 \2/p' \
	"$NODES/B/shipd.log" >"$work/queued"
norders=$(cut -d' ' -f1 "$work/queued" | sort -u | wc -l)
npackets=$(cut -d' ' -f2 "$work/queued" | sort -u | wc -l)
echo "# B queued the receipts of $norders orders in $npackets packets"
check "B queued a receipt for each of the $N orders ($norders)" test "$norders" -eq $N
check "... in at most 10 packets ($npackets)" test "$npackets" -ge 1 -a "$npackets" -le 10
nrecv=$(sed -n 's/.*: delivered to B at .* (receipt \([^ )]*\))$/\1/p' "$NODES/A/shipd.log" | sort -u | wc -l)
check "A received them as the same few packets ($nrecv)" test "$nrecv" -eq "$npackets"
check "A refused none" sh -c "! grep -q 'refused packet' '$NODES/A/shipd.log'"

# 2. a receipt of two orders signed by B, one of them not B's to confirm
echo "from B $RANDOM" >"$work/w.txt"
wid=$(ctl B submit --to A "$work/w.txt" 2>/dev/null | head -n 1)
check "B's own order $wid delivered at A" wait_for delivered A w.txt
node_stop B
echo "held $RANDOM" >"$work/z.txt"
zid=$(ctl A submit --to B "$work/z.txt" 2>/dev/null | head -n 1)
check "A holds $zid for B, B being down" wait_for log_has A "order $zid: deferred"
first=$(head -n 1 "$work/ids")
now=$(date +%s)
receipt() {	# ORDER...: a version 2 receipt from B for A
	printf 'shipd-receipt 2\norigin: A\ndest: B\n'
	for o in "$@"; do printf 'order: %s\ndelivered: %s\nroute: A,B\nname: z.txt\n' "$o" "$now"; done
	printf 'end\n'
}
receipt "$zid" "$wid" >"$work/mixed"
"$HOSTILE" -c "$(conf B)" -t "$work" -k receipt good A "$work/mixed" A >"$work/mixed.out" 2>&1
sed 's/^/# mixed: /' "$work/mixed.out" | head -n 3
check "A refuses the whole receipt, naming the bad entry" \
	wait_for log_has A "refused packet .* from B: B was not a destination of order $wid from here"
check "... keeps it in corrupt/ with the reason" \
	sh -c "grep -lq 'not a destination of order $wid' '$(bay A)'/corrupt/*.why"
shows_receipt() { ctl A show "$1" 2>/dev/null | grep -qE '^delivered: +B, '; }
check "... and records nothing of its good entry ($zid)" \
	sh -c "! grep -q 'order $zid: delivered to B' '$NODES/A/shipd.log'"
check "... A's history of $zid has no receipt from B" eval '! shows_receipt "$zid"'
receipt "$zid" "$first" >"$work/good"
"$HOSTILE" -c "$(conf B)" -t "$work" -k receipt good A "$work/good" A >"$work/good.out" 2>&1
check "the same receipt without the bad entry is taken" \
	wait_for log_has A "order $zid: delivered to B at $now by route A,B (receipt"
check "... the order it knew already said so" \
	wait_for log_has A "order $first: delivered to B at $now by route A,B, known already"

# 3. B's worker killed with the receipts owed (the orders delivered, not
#    yet finished): the orders are queued again, found delivered before,
#    and their receipts sent then; each file delivered once. Files too
#    large to travel inside their offer: those are stored, then delivered
#    by a worker (small ones are delivered by the receiver: part 4)
flag=$NODES/kill-owed; : >"$flag"
for i in 1 2 3 4 5; do
	{ echo "crash $i $RANDOM"; head -c 70000 /dev/urandom; } >"$work/k$i.txt"
	ctl A submit --to B "$work/k$i.txt" >>"$work/kids" 2>/dev/null
done
SHIPD="env SHIPD_TEST_FORBIDDEN=receipts-owed:$flag $TOP/build/tests/shipd-hooks" \
	node_start B || { fail "start B (test hooks)"; finish; }
check "B's worker was killed with receipts owed" \
	wait_for log_has B "receipts-owed tries a forbidden system call"
check "A got B's receipt for every order all the same" wait_for receipted "$work/kids"
check "... each file delivered once" \
	sh -c "ls '$(bay B)/incoming' | grep -c '^k[1-5]' | grep -qx 5"
# the orders delivered in part 3 before the kill: their receipts were
# owed when it came, and are queued after it (delivered again, found
# delivered before)
blog=$NODES/B/shipd.log
hook=$(grep -n "receipts-owed tries" "$blog" | head -n 1 | cut -d: -f1)
owed=$(head -n "${hook:-0}" "$blog" | sed -n 's/.*delivered \([^ ]*\) from A: .*\/incoming\/k[1-5].*/\1/p' | sort -u)
echo "# owed when killed: $(echo $owed)"
again() {
	local id
	[ -n "$owed" ] || return 1
	for id in $owed; do
		tail -n +"$hook" "$blog" | grep -q "order $id: delivery receipt .* queued for A" || return 1
	done
}
check "... the receipts owed at the kill were queued after it" again

# 4. Small packets are delivered by B's receiver, which marks each receipt
#    owed on disk (receipts/ID.owed) and leaves sending them to the
#    master, many to a packet. B's master dies before it sends them: the
#    marks outlive it, and B's next start sends every receipt; each file
#    delivered once, no mark left
node_stop B
flag=$NODES/kill-notes; : >"$flag"
: >"$work/sids"
for i in 1 2 3 4 5 6; do
	echo "small $i $RANDOM" >"$work/s$i.txt"
	ctl A submit --to B "$work/s$i.txt" >>"$work/sids" 2>/dev/null
done
SHIPD="env SHIPD_TEST_FORBIDDEN=owed-notes:$flag $TOP/build/tests/shipd-hooks" \
	node_start B || { fail "start B (test hooks)"; finish; }
check "B's master died with receipts owed" \
	wait_for log_has B "owed-notes tries a forbidden system call"
byrecv() {	# each one of them opened by the receiver, never stored first
	local id	# (the master's death kills a receiver, which may be between
			# a group's commit point and its "delivered" lines: A's
			# next offer, after its back-off, finds the receipt, says
			# so and answers HAVE; the marks' receipts may come first)
	while read -r id; do
		log_has B "delivered $id from A" ||
			log_has B "packet $id: delivered here before" || return 1
		! log_has B "received $id from A .* for B into " || return 1
	done <"$work/sids"
}
nmarks() { ls "$(bay B)/receipts" | grep -c '\.owed$'; }
check "... their receipts marked owed on disk ($(nmarks))" test "$(nmarks)" -ge 1
pkill -KILL -f "$(conf B)" 2>/dev/null
sleep 0.5
node_start B || { fail "restart B"; finish; }
check "B's next start sent the receipts the marks held" wait_for receipted "$work/sids"
check "... each one opened by B's receiver as it came" wait_for byrecv
check "... each small file delivered once" \
	sh -c "ls '$(bay B)/incoming' | grep -c '^s[1-6]' | grep -qx 6"
check "... no mark left" wait_for sh -c "! ls '$(bay B)/receipts' | grep -q '\.owed\$'"

# 5. The master takes from a receiver (it reads the network) only a bay of
#    its own and order ids: a line naming another directory, or a path
#    for an id, is refused with a line saying so, and nothing is sent
node_stop B
lines="O $NODES/A/spool/ms_ship"$'\n'"20261207T000000Z-A-00000001"$'\t'"O $(bay B)"$'\n'"../../../etc/x"
export SHIPD_TEST_OWED_LINES=$lines	# spaces and a newline: not through SHIPD
SHIPD=$TOP/build/tests/shipd-hooks node_start B || { fail "start B (test hooks)"; finish; }
unset SHIPD_TEST_OWED_LINES
echo "bad line $RANDOM" >"$work/bad.txt"
bid=$(ctl A submit --to B "$work/bad.txt")
check "a receiver's line naming another directory is refused" \
	wait_for log_has B "receipts owed in $NODES/A/spool/ms_ship, not a bay of ours"
check "... and one naming a path for an order id" \
	wait_for log_has B "receipt owed for ../../../etc/x, not an order id"
check "... the order itself still confirmed" wait_for log_has A "order $bid: delivered to B at"

# 6. More receipts marked owed at B's start than one receipt packet holds
#    (64): B's master queues them all, the first 64 as soon as they fill a
#    packet, with its own flush, never a worker's (whose test hook,
#    receipts-owed, would end the master here). The marks are those a
#    receiver that died leaves (a mark is a second name of receipts/ID),
#    made again for orders B delivered and confirmed already: A takes
#    each receipt again, as known.
M=70
for i in $(seq $M); do echo "mark $i $RANDOM" >"$work/m$i.txt"; done
(cd "$work" && ctl A submit --to B m[0-9]*.txt) >"$work/mids" 2>/dev/null
check "$M orders queued at A" test "$(grep -c . "$work/mids")" -eq $M
check "A took B's receipt for each of them" wait_for receipted "$work/mids"
node_stop B
while read -r id; do ln "$(bay B)/receipts/$id" "$(bay B)/receipts/$id.owed"; done <"$work/mids"
check "$M receipts marked owed at B, B stopped ($(nmarks))" test "$(nmarks)" -ge $M
alog=$(wc -l <"$NODES/A/shipd.log")
flag=$NODES/kill-master-owed; : >"$flag"
SHIPD="env SHIPD_TEST_FORBIDDEN=receipts-owed:$flag $TOP/build/tests/shipd-hooks" \
	node_start B || fail "start B with $M marks (test hooks)"
again_known() {
	local id
	while read -r id; do
		tail -n +"$((alog + 1))" "$NODES/A/shipd.log" |
			grep -q "order $id: delivered to B at .*, known already" || return 1
	done <"$work/mids"
}
check "B's start sent the receipts of all $M marks" wait_for again_known
check "... its master never ran a worker's flush (hook unfired)" test -e "$flag"
check "... no mark left" wait_for sh -c "! ls '$(bay B)/receipts' | grep -q '\.owed\$'"
finish

#!/bin/bash
# Drops: what lands in BAY/drop/DEST/ is taken only when it is complete,
# and nothing else that lands there is followed, opened or ignored silently.
#  1. A writer that writes in place, in three 1 MiB pieces with 3 s pauses,
#     the file open all along: nothing is taken while it is open (though
#     every pause outlasts A's DROP-QUIET-TIME of 1s), then it arrives
#     whole, byte for byte, once. A deferred order keeps A's queue manager
#     waking every few seconds meanwhile, as in the report that found it.
#  2. A writer that writes elsewhere and renames into drop/ on C, whose
#     DROP-QUIET-TIME is an hour: it arrives (a rename is complete at once).
#  3. The same slow writer on C, in place: still there, untaken, an hour
#     being the quiet period (so 2 did not arrive by waiting).
#  4. A file closed, then rewritten in place within the quiet period: what
#     arrives is the final content.
#  5. A symlink, a FIFO, a device node and a directory in drop/B/, and a
#     DEST directory that is a symlink: none is followed or opened (the
#     daemon never blocks on the FIFO; the symlinks' targets stay where
#     they are, unshipped); each is moved to corrupt/ with ID.why naming
#     what it is, logged once, and listed by `shipctl ls`.
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/chaos.sh"
nodes_init
base=$((20000 + RANDOM % 20000))
work=$NODES/work; mkdir -p "$work"

node_add A $((base + 1)) "DROP-QUIET-TIME 1s"
node_add B $((base + 2))
node_add C $((base + 3)) "DROP-QUIET-TIME 1h"
node_add D $((base + 4))	# never started: keeps a deferred order on A
node_peer A B; node_peer B A; node_peer C B; node_peer B C; node_peer A D
for n in A B C; do node_start "$n" || { fail "start $n"; finish; }; done

echo "for D, who is down" >"$work/tod.txt"
ctl A submit --to D "$work/tod.txt" >/dev/null
check "a deferred order keeps A's timer busy" wait_for eval 'ctl A ls --json | grep -q "\"deferred\""'

head -c $((3 * 1048576)) /dev/urandom >"$work/src.dat"
sum=$(sha256sum <"$work/src.dat" | cut -d' ' -f1)

# slow_write FILE: the three pieces of src.dat through one open descriptor;
# $work/closed appears once it is closed
slow_write() {
	local fd i
	rm -f "$work/closed"
	exec {fd}>"$1"
	for i in 0 1 2; do
		dd if="$work/src.dat" bs=1048576 skip=$i count=1 status=none >&"$fd"
		[ "$i" -lt 2 ] && sleep 3
	done
	exec {fd}>&-
	: >"$work/closed"
}
taken_early=0
watch_open() {	# until the writer closed FILE: is it ever gone from drop/?
	wait_for test -e "$1"
	until [ -e "$work/closed" ]; do
		[ -e "$1" ] || [ -e "$work/closed" ] || taken_early=1
		sleep 0.2
	done
}

# --- 1. in place, slowly, with pauses longer than the quiet period
mkdir -p "$(bay A)/drop/B"
slow_write "$(bay A)/drop/B/slow.dat" &
wpid=$!
watch_open "$(bay A)/drop/B/slow.dat"
wait "$wpid"
check "1: nothing taken while the writer held the file open" test "$taken_early" -eq 0
check "1: the slow drop arrives" wait_for delivered B slow.dat
[ "$(sha256sum <"$(bay B)/incoming/slow.dat" 2>/dev/null | cut -d' ' -f1)" = "$sum" ] &&
	ok "1: whole, byte for byte ($(stat -c %s "$(bay B)/incoming/slow.dat" 2>/dev/null) bytes)" ||
	fail "1: content differs" "$(stat -c %s "$(bay B)/incoming/slow.dat" 2>/dev/null) bytes of $((3 * 1048576))"
sleep 2
check "1: delivered once (no second, partial copy)" test -z "$(ls "$(bay B)/incoming" | grep '^slow.dat_')"
check "1: one pickup logged" test "$(grep -c "picked up .*/drop/B/slow.dat" "$NODES/A/shipd.log")" -eq 1

# --- 2. write elsewhere, rename in: taken at once, whatever the quiet period
mkdir -p "$(bay C)/drop/B"
cp "$work/src.dat" "$work/renamed.dat"
mv "$work/renamed.dat" "$(bay C)/drop/B/renamed.dat"
check "2: a drop renamed in arrives with DROP-QUIET-TIME 1h" wait_for delivered B renamed.dat
[ "$(sha256sum <"$(bay B)/incoming/renamed.dat" 2>/dev/null | cut -d' ' -f1)" = "$sum" ] &&
	ok "2: byte for byte" || fail "2: content differs"

# --- 3. in place on C: closed, but not yet quiet for an hour: left alone
slow_write "$(bay C)/drop/B/inplace.dat"
sleep 3
check "3: a drop written in place waits out C's quiet period" test -f "$(bay C)/drop/B/inplace.dat"
check "3: and is not picked up" eval '! log_has C "picked up .*inplace.dat"'

# --- 4. closed, then rewritten in place before the quiet period ended
printf 'first version\n' >"$(bay A)/drop/B/twice.txt"
printf 'second, final version\n' >"$(bay A)/drop/B/twice.txt"
check "4: a file rewritten in place arrives" wait_for delivered B twice.txt
check "4: with its final content" grep -q "final version" "$(bay B)/incoming/twice.txt"
sleep 2
check "4: and only once" test -z "$(ls "$(bay B)/incoming" | grep '^twice.txt_')"

# --- 5. what is not a regular file
echo "secret $RANDOM" >"$work/secret.txt"
mkdir -p "$work/victim"; echo "victim $RANDOM" >"$work/victim/v.txt"
ln -s "$work/secret.txt" "$(bay A)/drop/B/link.txt"
mkfifo "$(bay A)/drop/B/pipe"
mknod "$(bay A)/drop/B/null" c 1 3
mkdir "$work/subdir"; echo inside >"$work/subdir/f.txt"; mv "$work/subdir" "$(bay A)/drop/B/subdir"
ln -s "$work/victim" "$(bay A)/drop/V"
aside() { [ -e "$(bay A)/corrupt/$1.why" ]; }
check "5: symlink moved to corrupt/" wait_for aside drop.B.link.txt
check "5: FIFO moved to corrupt/" wait_for aside drop.B.pipe
check "5: device moved to corrupt/" wait_for aside drop.B.null
check "5: directory moved to corrupt/" wait_for aside drop.B.subdir
check "5: symlinked DEST directory moved to corrupt/" wait_for aside drop.V
for what in "drop.B.link.txt:symbolic link" "drop.B.pipe:FIFO" "drop.B.null:device" \
	"drop.B.subdir:directory" "drop.V:symbolic link"; do
	id=${what%%:*} kind=${what#*:}
	grep -q "$kind" "$(bay A)/corrupt/$id.why" 2>/dev/null && ok "5: $id.why says $kind" ||
		fail "5: $id.why" "$(cat "$(bay A)/corrupt/$id.why" 2>/dev/null)"
	ctl A ls --state corrupt 2>/dev/null | grep -q "$id" && ok "5: shipctl ls lists $id" ||
		fail "5: shipctl ls does not list $id"
done
check "5: the symlink's target was not moved" test -f "$work/secret.txt"
check "5: the symlink's target was not shipped" eval '! delivered B secret.txt && ! delivered B link.txt'
check "5: files behind a symlinked DEST left alone" test -f "$work/victim/v.txt"
check "5: the FIFO is still a FIFO, the device still a device" \
	eval 'test -p "$(bay A)/corrupt/drop.B.pipe" && test -c "$(bay A)/corrupt/drop.B.null"'
check "5: the directory kept its content" test -f "$(bay A)/corrupt/drop.B.subdir/f.txt"
sleep 3	# more scans: still one line each
for n in link.txt pipe null subdir; do
	c=$(grep -c "drop/B/$n:" "$NODES/A/shipd.log")
	check "5: drop/B/$n logged once ($c)" test "$c" -eq 1
done
# the daemon is not stuck (on the FIFO, say): a new drop still goes through
echo "after the odd ones" >"$work/after.txt"
mv "$work/after.txt" "$(bay A)/drop/B/after.txt"
check "5: A still picks up drops" wait_for delivered B after.txt
finish

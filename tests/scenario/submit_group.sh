#!/bin/bash
# One `shipctl submit` of many files (src/global/submit.c's submit batch):
# the files share the queue's directory fsyncs (data/ and outgoing/ once
# per batch of up to 64 orders, not once per file), every file is
# delivered, and each id is printed only once its file is durable. A
# kill -9 of shipctl in the middle of a multi-file submission leaves every
# file queued (and delivered, exactly once) or still where it was, and
# nothing half-written in the bay: every id printed is delivered.
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/chaos.sh"
WAIT=60

pair_init
obay=$(bay A)

command -v strace >/dev/null || { fail "strace is needed"; finish; }

# 1. 20 files in one call, no daemon running: count the directory fsyncs
mkdir -p "$work/g"
for i in $(seq -w 20); do head -c 4096 /dev/urandom >"$work/g/g$i"; cp "$work/g/g$i" "$work/g$i.orig"; done
strace -f -qq -y -e trace=fsync,fdatasync -o "$work/g.strace" \
	"$SHIPCTL" -c "$(conf A)" submit --to B "$work"/g/g* >"$work/g.ids" 2>"$work/g.err"
rc=$?
check "a 20-file submit succeeds" test "$rc" -eq 0
check "it prints 20 ids" test "$(wc -l <"$work/g.ids")" -eq 20
check "every source is removed once queued" test "$(count_files "$work/g")" -eq 0
dirs=$(grep -cE "fsync\([0-9]+<$obay/(data|outgoing)>\)" "$work/g.strace")
files=$(grep -cE "fsync\(" "$work/g.strace")
echo "# 20 files: $files fsyncs, $dirs of them of data/ or outgoing/ (one per file per directory: 40)"
check "data/ and outgoing/ fsynced once for the group, not once per file ($dirs)" test "$dirs" -eq 2
check "fewer fsyncs than 4 per file ($files)" test "$files" -lt 80

# 2. kill -9 in the middle of a 100-file submission, three times: while
# the first batch is sealed, just after it was reported, and a little later
sealing() { [ "$(find "$obay/tmp" -type f | wc -l)" -ge 2 ]; }
printed() { [ -s "$1" ]; }
for k in 1 2 3; do
	d=$work/k$k; mkdir -p "$d"
	for i in $(seq -w 100); do
		head -c $((1024 + RANDOM % 4096)) /dev/urandom >"$d/k${k}_$i"
		cp "$d/k${k}_$i" "$work/k${k}_$i.orig"
	done
	: >"$work/k$k.ids"
	"$SHIPCTL" -c "$(conf A)" submit --to B "$d"/k* >>"$work/k$k.ids" 2>/dev/null &
	sp=$!
	case $k in
	1) wait_for sealing ;;
	2) wait_for printed "$work/k$k.ids" ;;
	*) wait_for printed "$work/k$k.ids"; sleep 0.$((RANDOM % 5)) ;;
	esac
	kill -9 "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
	echo "# kill $k: $(wc -l <"$work/k$k.ids") ids printed, $(count_files "$d") sources left"
done

# the daemons' recovery, then everything goes to B
node_start B || { fail "start B"; finish; }
node_start A || { fail "start A"; finish; }
check "A's queue drains" wait_for queue_empty A
inc=$(bay B)/incoming
tally() {	# lost, twice, bad over every file submitted
	lost=0 twice=0 bad=0 early=0
	local orig name src n
	for orig in "$work"/*.orig; do
		name=$(basename "$orig" .orig)
		case $name in g*) src=$work/g/$name ;; *) src=$work/k${name:1:1}/$name ;; esac
		n=$(find "$inc" -maxdepth 1 -name "$name*" | wc -l)
		if [ "$n" -gt 1 ]; then twice=$((twice + 1)); fi
		if [ "$n" -eq 0 ] && [ ! -e "$src" ]; then lost=$((lost + 1)); fi
		if [ "$n" -ge 1 ] && [ -e "$src" ]; then early=$((early + 1)); fi
		if [ "$n" -ge 1 ] && ! cmp -s "$orig" "$inc/$name"; then bad=$((bad + 1)); fi
	done
}
accounted() { tally; [ "$lost" -eq 0 ]; }
# B acknowledges custody before it delivers: wait for its deliveries too
wait_for accounted
printed_lost=0
# every id printed was delivered: its order names the file
for f in "$work"/k*.ids "$work/g.ids"; do
	while read -r id; do
		[ -e "$(bay B)/receipts/$id" ] || printed_lost=$((printed_lost + 1))
	done <"$f"
done
echo "# delivered $(count_files "$inc") of $(ls "$work"/*.orig | wc -l); lost $lost, twice $twice, altered $bad, printed but not delivered $printed_lost"
echo "# queued by a killed call before it could print their ids (their sources stay): $early"
check "no file lost: delivered, or still where it was" test "$lost" -eq 0
check "no file delivered twice" test "$twice" -eq 0
check "every delivered file is intact" test "$bad" -eq 0
check "every id printed was delivered" test "$printed_lost" -eq 0
# what a kill left in tmp/ and data/ (a sealed packet no order names) is
# removed by recovery once BAY_ORPHAN_AGE old: age it, restart A
node_stop A
left=$(find "$obay/tmp" "$obay/data" -type f | wc -l)
find "$obay/tmp" "$obay/data" -type f -exec touch -d '-5 minutes' {} +
node_start A || fail "restart A"
all_gone() { [ "$(find "$obay/tmp" "$obay/data" -type f | wc -l)" -eq 0 ]; }
check "recovery removes what the kills left in tmp/ and data/ ($left files)" wait_for all_gone
check "and no order was left without its data" wait_for queue_empty A
finish

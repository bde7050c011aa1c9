#!/bin/bash
# bench/profile.sh - where shipd's time goes on one hop (issue 7's note):
# callgrind (perf has no hardware counters on this VM) of the submission
# (shipctl submit: the seal) and of the receiving daemon with its children
# (receiver, delivery), then the receiving side again under strace -f -c -w
# for the wall time spent in system calls (fsync, read, write). Prints the
# top self-cost functions of each and the syscall summary. Not part of
# make bench (it takes minutes under valgrind); run it by hand.
#
#   bench/profile.sh [MB]      (default 64)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/lib/nodes.sh"
. "$TOP/bench/lib.sh"
MB=${1:-64}
NSMALL=${NSMALL:-30}
WAIT=600
nodes_init
P=$NODES/prof; mkdir -p "$P"
base=$((20000 + RANDOM % 20000))
head -c "$((MB * 1048576))" /dev/urandom >"$P/in.bin"

net() {	# fresh A -> B, B started with the given command prefix
	rm -rf "$NODES/A" "$NODES/B"
	node_add A $((base + 1)) "IO-TIMEOUT 120s"; node_add B $((base + 2)) "IO-TIMEOUT 120s"
	node_peer A B; node_peer B A
	SHIPD="$* $TOP/bin/shipd" node_start B || exit 1
	node_start A || exit 1
}
top_cg() {	# top self-cost functions over callgrind files
	callgrind_annotate --inclusive=no "$@" 2>/dev/null | sed -n '/^-* *$/d; /Ir/,$p' | head -n 18
}

echo "== seal: shipctl submit of $MB MiB under callgrind"
net
ln "$P/in.bin" "$P/a.bin"
valgrind --tool=callgrind --callgrind-out-file="$P/submit.cg" \
	"$SHIPCTL" -c "$(conf A)" submit --to B "$P/a.bin" >/dev/null 2>"$P/submit.vg"
top_cg "$P/submit.cg"
wait_files "$(bay B)/incoming" 1 600
node_stop A; node_stop B

echo "== receiving daemon (master, receiver, delivery) under callgrind"
net valgrind --tool=callgrind --trace-children=yes "--callgrind-out-file=$P/recv.%p.cg"
ln "$P/in.bin" "$P/b.bin"
ctl A submit --to B "$P/b.bin" >/dev/null 2>&1
wait_files "$(bay B)/incoming" 1 600
node_stop A; node_stop B
top_cg $(ls -S "$P"/recv.*.cg | head -n 2)

echo "== small files: seal of one 4 KiB file, and the receiving daemon over $NSMALL of them"
net valgrind --tool=callgrind --trace-children=yes "--callgrind-out-file=$P/small.%p.cg"
mkdir -p "$P/small"
for i in $(seq "$NSMALL"); do head -c 4096 /dev/urandom >"$P/small/f$i"; done
valgrind --tool=callgrind --callgrind-out-file="$P/submit1.cg" \
	"$SHIPCTL" -c "$(conf A)" submit --to B "$P/small/f1" >/dev/null 2>&1
top_cg "$P/submit1.cg"
for i in $(seq 2 "$NSMALL"); do ctl A submit --to B "$P/small/f$i" >/dev/null 2>&1; done
wait_files "$(bay B)/incoming" "$NSMALL" 600
node_stop A; node_stop B
echo "-- receiving side, all processes"
top_cg "$P"/small.*.cg

echo "== receiving daemon under strace -f -c -w (wall time in system calls)"
net strace -f -c -w -o "$P/recv.strace"
ln "$P/in.bin" "$P/c.bin"
t0=$(now); ctl A submit --to B "$P/c.bin" >/dev/null 2>&1; t1=$(now)
wait_files "$(bay B)/incoming" 1 600; t2=$(now)
node_stop A; node_stop B
echo "submit $(elapsed "$t0" "$t1") s, then delivered after $(elapsed "$t1" "$t2") s"
head -n 14 "$P/recv.strace"
echo "== phases on the receiving side (log)"
grep -E "accept|received|deliver|sent|incoming" "$NODES/B/shipd.log" | tail -n 8

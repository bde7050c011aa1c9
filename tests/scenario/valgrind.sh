#!/bin/bash
# A short daemon scenario under valgrind (memcheck): A ships a file to B
# over TCP, B also refuses a connection speaking garbage, then both stop.
# Every process (the masters, each forked worker, shipctl) writes its own
# report; each must show no invalid access or other memcheck error and no
# definitely or indirectly lost bytes. Skipped (ok, with a note) when
# valgrind is missing.
. "$TOP/tests/lib/nodes.sh"
command -v valgrind >/dev/null || { echo "# valgrind not installed: skipped"; ok "valgrind (skipped)"; exit 0; }
nodes_init
vg=$NODES/vg; mkdir -p "$vg"
VG="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --trace-children=yes --trace-children-skip=/bin/*,/usr/bin/*,*/sh --log-file=$vg/%p.log"
SHIPD="$VG $TOP/bin/shipd"
WAIT=90
base=$((20000 + RANDOM % 20000))
node_add A $((base + 1))
node_add B $((base + 2)) "IO-TIMEOUT 10s"
node_peer A B; node_peer B A
for n in A B; do node_start "$n" || { fail "start $n under valgrind"; finish; }; done
work=$NODES/work; mkdir -p "$work"
head -c 200000 /dev/urandom >"$work/v.bin"
sum=$(sha256sum <"$work/v.bin" | cut -d' ' -f1)

$VG "$SHIPCTL" -c "$(conf A)" submit --to B "$work/v.bin" >/dev/null 2>&1 &&
	ok "submit under valgrind" || fail "submit under valgrind"
check "delivered A -> B under valgrind" wait_for delivered B v.bin
[ "$(sha256sum <"$(bay B)/incoming/v.bin" | cut -d' ' -f1)" = "$sum" ] &&
	ok "content identical" || fail "content differs"
if [ -x "$TOP/build/tests/hostile" ]; then
	"$TOP/build/tests/hostile" garbage 127.0.0.1 $((base + 2)) 3000 >/dev/null
	check "B refuses a garbage connection under valgrind" wait_for log_has B "not a shipd peer"
fi
# let B's delivery worker and A's bookkeeping finish, then stop both
wait_for log_has A "done (sent to B)"
sleep 1
node_stop A; node_stop B
n=$(ls "$vg" | wc -l)
echo "# valgrind reports: $n processes"
check "valgrind ran (at least masters, workers and shipctl reported)" test "$n" -ge 4
bad=0
for f in "$vg"/*.log; do
	if [ -s "$f" ]; then
		bad=$((bad + 1))
		echo "# ---- ${f##*/}"; head -n 40 "$f" | sed 's/^/# /'
	fi
done
check "no memcheck error and no definite leak in $n processes" test "$bad" -eq 0
finish

#!/bin/bash
# Pickup, join and submission workers live on (src/shipd/pool.c), as send
# workers do:
#  1. twenty files dropped into a shipping bay one at a time are picked up
#     by one or two pickup processes, not a fork each, and all arrive once;
#  2. and are delivered at B by one or two processes (single packets are
#     opened by send workers, which live on; a group of parts is joined by
#     the worker that delivers its last part, or by a join worker);
#  2b. ten `shipctl submit`s through the submission socket are sealed by
#     one or two submission workers;
#  3. an idle pickup worker killed -9 costs nothing (the next drop goes,
#     the master says which worker died);
#  4. a join worker killed -9 in the middle of a large group: the group is
#     joined again and delivered exactly once;
#  5. a reload retires idle workers (they hold the old configuration), and
#     a stop leaves none behind.
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/chaos.sh"
WAIT=60

pair_init "MAX-DATA-SIZE 256k" "SUBMIT-SOCKET submit.sock"
mkdir -p "$(bay A)/drop/B"
node_start B || { fail "start B"; finish; }
node_start A || { fail "start A"; finish; }

# the distinct processes that logged lines matching $2 in $1's log
pids_of() { grep -E "$2" "$NODES/$1/shipd.log" | sed -E 's/.*shipd\[([0-9]+)\].*/\1/' | sort -u; }
kids() { pgrep -P "${PID[$1]}" -x "$2" | wc -l; }
no_idle_a() { [ "$(kids A 'shipd-idle|shipd-pickup|shipd-join|shipd-submit')" -eq 0 ]; }
gone() { [ ! -e "$1" ]; }

# 1. drops one at a time, each renamed in (complete at once)
n=20
for i in $(seq $n); do
	head -c 1024 /dev/urandom >"$work/drop$i"
	mv "$work/drop$i" "$(bay A)/drop/B/drop$i"
	wait_for gone "$(bay A)/drop/B/drop$i" || fail "drop$i not picked up"
done
for i in $(seq $n); do wait_for delivered B "drop$i" || fail "drop$i not delivered"; done
np=$(pids_of A ": picked up .*/drop/B/drop[0-9]+ for B" | wc -l)
echo "# $n drops one at a time: picked up by $np processes"
check "all $n drops arrived once" test "$(ls "$(bay B)/incoming" | grep -c '^drop[0-9]*$')" -eq $n
check "one or two pickup processes took them, not one each ($np for $n)" \
	test "$np" -ge 1 -a "$np" -le 2

# 2. and delivered at B by one or two processes (received packets are
# opened by send workers that live on, a batch for "@local")
nd=$(pids_of B "delivered .*/incoming/drop[0-9]+ " | wc -l)
echo "# $n packets one at a time: delivered at B by $nd processes"
check "a few processes delivered them at B, not one each ($nd for $n)" test "$nd" -ge 1 -a "$nd" -le 5

# 2b. shipctl submit through the submission socket, one at a time: one or
# two submission workers seal them
check "A listens on its submission socket" wait_for test -S "$NODES/A/submit.sock"
for i in $(seq 10); do
	head -c 1024 /dev/urandom >"$work/sub$i"
	ctl A submit --copy --to B "$work/sub$i" >/dev/null || fail "submit sub$i"
done
for i in $(seq 10); do wait_for delivered B "sub$i" || fail "sub$i not delivered"; done
ns=$(pids_of A "submission from uid 0 .*/sub[0-9]+: 1 order" | wc -l)
echo "# 10 submissions one at a time: sealed by $ns processes"
check "all 10 submissions sealed by the daemon" \
	test "$(grep -cE "submission from uid 0 .*/sub[0-9]+: 1 order" "$NODES/A/shipd.log")" -eq 10
check "one or two submission workers sealed them ($ns for 10)" test "$ns" -ge 1 -a "$ns" -le 2

# 3. the pickup worker, idle now, killed: nothing lost, the next drop goes
last=$(pids_of A ": picked up .*/drop/B/drop$n for B" | tail -n 1)
check "the pickup worker waits for the next drop (shipd-idle)" \
	test "$(ps -o comm= -p "$last" 2>/dev/null)" = shipd-idle
kill -9 "$last" 2>/dev/null
echo after >"$work/after_kill"
mv "$work/after_kill" "$(bay A)/drop/B/after_kill"
check "a drop after the idle pickup worker was killed arrives" wait_for delivered B after_kill
check "the master says which idle pickup worker died" \
	wait_for log_has A "idle pickup worker $last killed by signal 9"

# 4. a join worker killed -9 mid-job: the group is joined again, once
caught=0
for try in 1 2 3 4 5; do
	head -c 12000000 /dev/urandom >"$work/big$try"
	ctl A submit --copy --to B "$work/big$try" >/dev/null || fail "submit big$try"
	for _ in $(seq 600); do
		j=$(pgrep -P "${PID[B]}" -x shipd-join | head -n 1)
		if [ -n "$j" ]; then kill -9 "$j"; caught=$try; break; fi
		delivered B "big$try" && break
		sleep 0.02
	done
	wait_for delivered B "big$try" || fail "big$try not delivered"
	[ "$caught" -ne 0 ] && break
done
echo "# a join worker killed mid-job on try $caught"
check "a busy join worker was caught and killed" test "$caught" -ne 0
if [ "$caught" -ne 0 ]; then
	check "B warns about the join worker it lost" log_has B "pickup/join worker $j for .* killed by signal 9"
	check "the group killed mid-join is delivered" wait_for delivered B "big$caught"
	check "byte for byte" cmp -s "$work/big$caught" "$(bay B)/incoming/big$caught"
	sleep 1
	check "exactly once" test "$(ls "$(bay B)/incoming" | grep -c "^big$caught")" -eq 1
	check "no part left at B" wait_for eval "[ \$(count_files '$(bay B)/joining') -eq 0 ]"
fi

# 5. a reload retires idle workers; a stop leaves none
check "A's queue is empty before the reload" wait_for queue_empty A
check "A has idle workers before the reload" test "$(kids A shipd-idle)" -ge 1
kill -HUP "${PID[A]}"
check "a reload retires A's idle workers" wait_for no_idle_a
echo after >"$work/after_hup"
mv "$work/after_hup" "$(bay A)/drop/B/after_hup"
check "a drop after the reload arrives" wait_for delivered B after_hup
workers=$(pgrep -P "${PID[A]}"; pgrep -P "${PID[B]}")
node_stop A
node_stop B
alive() { for p in $workers; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
check "stopping A retired its idle workers without a warning" \
	sh -c "! grep 'idle .* worker .* killed by signal' '$NODES/A/shipd.log' | grep -qv 'worker $last '"
check "no worker outlives its master" wait_for eval '! alive'
finish

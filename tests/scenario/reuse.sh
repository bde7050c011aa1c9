#!/bin/bash
# Send workers that live on (src/shipd/pool.c): orders that arrive one at a
# time, each its own batch, share a few workers and connections instead of
# a fork and a handshake each; an idle connection is closed with BYE after
# a moment; a reload and a stop retire idle workers; a worker killed while
# idle costs nothing; an order still arrives exactly once.
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/chaos.sh"
WAIT=30

pair_init
node_start B || { fail "start B"; finish; }
node_start A || { fail "start A"; finish; }

senders() { pgrep -P "${PID[A]}" -x "shipd-send|shipd-idle" | wc -l; }
open_to_b() { ss -tnH state established "( dport = :$((base + 2)) )" | wc -l; }
none_open() { [ "$(open_to_b)" -eq 0 ]; }
no_senders() { [ "$(senders)" -eq 0 ]; }

# 1. twenty orders, each submitted once the one before has arrived
n=20
for i in $(seq $n); do
	head -c 2048 /dev/urandom >"$work/one$i"
	ctl A submit --copy --to B "$work/one$i" >/dev/null 2>&1 || fail "submit one$i"
	wait_for delivered B "one$i" || fail "one$i not delivered"
done
pids=$(grep -E "shipd\[[0-9]+\]: sent [^ ]+ to B " "$NODES/A/shipd.log" | sed -E 's/.*shipd\[([0-9]+)\].*/\1/' | sort -u | wc -l)
ports=$(grep -E "shipd\[[0-9]+\]: sent [^ ]+ to B " "$NODES/A/shipd.log" | sed -E 's/.* from port ([0-9]+):.*/\1/' | sort -u | wc -l)
echo "# $n orders one at a time: sent by $pids workers over $ports connections"
check "all $n arrived once" test "$(ls "$(bay B)/incoming" | grep -c '^one')" -eq $n
check "a few workers sent them, not one each ($pids for $n)" test "$pids" -ge 1 -a "$pids" -le 4
check "a few connections carried them, not one each ($ports for $n)" test "$ports" -ge 1 -a "$ports" -le 4

# 2. the kept connection is closed with BYE once unused
check "the idle connection to B is closed after a moment" wait_for none_open
check "A said how many orders the kept connection carried (more than 1)" \
	grep -qE "connection to B .* closed: ([2-9]|[1-9][0-9]+) orders offered" "$NODES/A/shipd.log"
check "B saw BYE, not a broken connection" \
	sh -c "! grep -q 'hop from A .*closed without a close message' '$NODES/B/shipd.log'"

# 3. a worker killed while idle: nothing lost, the next order goes
idle=$(pgrep -P "${PID[A]}" -x shipd-idle | head -n 1)
check "an idle send worker (shipd-idle) waits for the next batch" test -n "$idle"
[ -n "$idle" ] && kill -9 "$idle"
head -c 2048 /dev/urandom >"$work/after_kill"
ctl A submit --copy --to B "$work/after_kill" >/dev/null 2>&1
check "an order after an idle worker was killed arrives" wait_for delivered B after_kill
check "the master warns about the killed idle worker" log_has A "idle send worker $idle killed by signal 9"

# 4. a reload retires idle workers (they hold the old configuration);
# once the last receipt is in, so that no new work starts a new one
check "A's queue is empty before the reload" wait_for queue_empty A
kill -HUP "${PID[A]}"
check "a reload retires the idle send workers" wait_for no_senders
head -c 2048 /dev/urandom >"$work/after_hup"
ctl A submit --copy --to B "$work/after_hup" >/dev/null 2>&1
check "an order after the reload arrives" wait_for delivered B after_hup

# 5. a stop: idle workers leave with BYE, nothing is killed (once the
# last receipt is in: a worker at work when its master stops is killed)
check "A's queue is empty before the stop" wait_for queue_empty A
node_stop A
check "no send worker outlives its master" wait_for no_senders
check "stopping A left no warning about killed workers" \
	sh -c "! grep 'killed by signal' '$NODES/A/shipd.log' | grep -qv 'idle send worker $idle '"
node_stop B
finish

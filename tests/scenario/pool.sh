#!/bin/bash
# Bounded senders inside a 20-port range: 50 orders queued at once never run
# more than MAX-CHILDREN senders, and every socket of every shipd process
# stays inside CLEARCASE_MIN_PORT..CLEARCASE_MAX_PORT the whole time.
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/chaos.sh"
nodes_init
min=$((30000 + (RANDOM % 1000) * 20)); max=$((min + 19))
range=("CLEARCASE_MIN_PORT $min" "CLEARCASE_MAX_PORT $max")
node_add A "$min" "${range[@]}" "MAX-CHILDREN 10"
node_add B $((min + 1)) "${range[@]}"
node_peer A B; node_peer B A
work=$NODES/work; mkdir -p "$work"
node_start B || { fail "start B"; finish; }
for i in $(seq 50); do head -c $((20000 + i * 1000)) /dev/urandom >"$work/f$i.bin"; ctl A submit --to B "$work/f$i.bin" >/dev/null; done
# bodies at 300 KB/s per connection: with a window of orders per
# connection the 50 went in well under a second, between two samples
export SHIPD_TEST_RATE=300000
node_start A || { fail "start A"; finish; }

maxkids=0 outside=0 samples=0
pa=${PID[A]} pb=${PID[B]}
for _ in $(seq 600); do
	kids=$(workers "$pa")
	[ "$kids" -gt "$maxkids" ] && maxkids=$kids
	ports=$(ss -tuanpH 2>/dev/null | grep -E "pid=($pa|$pb|$(pgrep -d'|' -P "$pa" || echo 0)|$(pgrep -d'|' -P "$pb" || echo 0))," |
		awk '{print $5}' | sed 's/.*://')
	for p in $ports; do
		samples=$((samples + 1))
		if [ "$p" -lt "$min" ] || [ "$p" -gt "$max" ]; then outside=$((outside + 1)); echo "# port $p outside"; fi
	done
	[ "$(count_files "$(bay B)/incoming")" -ge 50 ] && break
	sleep 0.05
done
echo "# max senders seen $maxkids, socket samples $samples, outside range $outside"
check "all 50 delivered" wait_for at_least 50 "$(bay B)/incoming"
check "never more than 10 senders at once (saw $maxkids)" test "$maxkids" -le 10
check "saw senders working in parallel (saw $maxkids)" test "$maxkids" -ge 2
check "sockets sampled ($samples)" test "$samples" -gt 0
check "every socket inside $min-$max ($outside outside)" test "$outside" -eq 0
finish

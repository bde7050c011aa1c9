#!/bin/bash
# 200 small files over UDP (TCP refused by nftables inside a namespace this
# test creates) within a 20-port CLEARCASE_MIN_PORT..MAX_PORT range. Each
# new connection binds the lowest free port again, so consecutive UDP
# sessions come from the same address:port: none may be taken for a repeat
# of the last one. The symptom asserted (never a time): HELLOs sent per
# UDP session (a stalled connection repeats its HELLO for seconds), orders
# deferred, HELLOs the receiving master dropped.
. "$TOP/tests/lib/nodes.sh"
[ "$(id -u)" -eq 0 ] || { fail "needs root for ip netns (CI runs as root)"; finish; }
ns="shipd-udpr-$$"
ip netns add "$ns" || { fail "ip netns add"; finish; }
nodes_init
trap 'nodes_cleanup; ip netns del "$ns" 2>/dev/null' EXIT
ip -n "$ns" link set lo up
SHIPD="ip netns exec $ns $SHIPD"
N=${UDPR_FILES:-200}

min=40100 max=40119
node_add A 40200 "CLEARCASE_MIN_PORT $min" "CLEARCASE_MAX_PORT $max"
node_add B 40201 "CLEARCASE_MIN_PORT $min" "CLEARCASE_MAX_PORT $max"
node_peer A B; node_peer B A
# TCP to B refused at once (a reset), so every hop falls back to UDP
# without a connect timeout; every datagram to B's listening port counted
ip netns exec "$ns" nft -f - <<EON || { fail "nft rules"; finish; }
table inet shipdtest {
	counter hellos { }
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 40201 reject with tcp reset
		udp dport 40201 counter name hellos
	}
}
EON
node_start A && node_start B || { fail "start"; finish; }
work=$NODES/work; mkdir -p "$work"
for i in $(seq 1 "$N"); do
	head -c $((500 + RANDOM % 3000)) /dev/urandom >"$work/f$i.bin"
done
t0=$(date +%s.%N)
for i in $(seq 1 "$N"); do
	ctl A submit --copy --to B "$work/f$i.bin" >/dev/null 2>&1 || fail "submit f$i.bin"
done
WAIT=300 check "$N small files delivered over UDP" wait_for at_least "$N" "$(bay B)/incoming"
echo "# $(count_files "$(bay B)/incoming") files in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s (a figure, not asserted)"
bad=0
for i in $(seq 1 "$N"); do
	cmp -s "$work/f$i.bin" "$(bay B)/incoming/f$i.bin" || bad=$((bad + 1))
done
check "every file byte-identical" test "$bad" -eq 0
sleep 1
alog=$NODES/A/shipd.log blog=$NODES/B/shipd.log
sessions=$(grep -c "connection to B .* via udp from port" "$alog")
tcp=$(grep -c "connection to B .* via tcp from port" "$alog")
hellos=$(ip netns exec "$ns" nft list counter inet shipdtest hellos | grep -o 'packets [0-9]*' | awk '{print $2}')
deferred=$(grep -c "deferred" "$alog")
dropped=$(grep -c "dropped UDP HELLO" "$blog")
echo "# $sessions UDP sessions, $hellos HELLO datagrams, $deferred deferrals, $dropped HELLOs dropped by B's master"
check "every hop went over UDP" test "$sessions" -gt 0 -a "$tcp" -eq 0
# a HELLO answered at once is sent once; allow a few repeats for a loaded machine
check "no session repeated its HELLO while waiting (HELLOs $hellos <= sessions $sessions + slack)" \
	test "${hellos:-0}" -le $((sessions + sessions / 5 + 3))
check "no order deferred" test "$deferred" -eq 0
check "B's master dropped no HELLO of a new session" test "$dropped" -le $((sessions / 5 + 3))
ports=$(grep -o "via udp from port [0-9]*" "$alog" | awk '{print $NF}' | sort -un)
out=$(for p in $ports; do [ "$p" -ge $min ] && [ "$p" -le $max ] || echo "$p"; done)
check "every UDP source port inside $min-$max (used: $(echo $ports | tr ' ' ','))" test -z "$out"
finish

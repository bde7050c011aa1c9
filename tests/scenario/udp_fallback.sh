#!/bin/bash
# TCP blocked by nftables inside a network namespace this test creates
# (never the machine's own firewall): the sender falls back to UDP on the
# same port and the packet is still delivered, inside the port range.
# Then A remembers that TCP to B is dropped: later connections go over UDP
# first and never wait for a TCP connect timeout again (no new SYN in the
# firewall's counter, one "connect timed out" line in A's log).
. "$TOP/tests/lib/nodes.sh"
[ "$(id -u)" -eq 0 ] || { fail "needs root for ip netns (CI runs as root)"; finish; }
ns="shipd-udp-$$"
ip netns add "$ns" || { fail "ip netns add"; finish; }
nodes_init
trap 'nodes_cleanup; ip netns del "$ns" 2>/dev/null' EXIT
ip -n "$ns" link set lo up
SHIPD="ip netns exec $ns $TOP/bin/shipd"
SHIPCTL="$TOP/bin/shipctl"

min=40000 max=40019
node_add A 40000 "CLEARCASE_MIN_PORT $min" "CLEARCASE_MAX_PORT $max" "IO-TIMEOUT 5s"
node_add B 40001 "CLEARCASE_MIN_PORT $min" "CLEARCASE_MAX_PORT $max" "IO-TIMEOUT 5s"
node_peer A B; node_peer B A
ip netns exec "$ns" nft -f - <<EON || { fail "nft rules"; finish; }
table inet shipdtest {
	counter tcp_dropped { }
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 40001 counter name tcp_dropped drop
	}
}
EON
node_start A && node_start B || { fail "start"; finish; }
work=$NODES/work; mkdir -p "$work"
head -c 3000000 /dev/urandom >"$work/big.bin"
id=$(ctl A submit --copy --to B "$work/big.bin")
WAIT=60 check "delivered over UDP with TCP dropped" wait_for delivered B big.bin
cmp -s "$work/big.bin" "$(bay B)/incoming/big.bin" && ok "3 MB intact over UDP" || fail "content differs"
check "A logs the send via udp" log_has A "sent $id to B .* via udp from port"
port=$(grep -o "sent $id to B .* via udp from port [0-9]*" "$NODES/A/shipd.log" | awk '{print $NF}')
check "UDP source port $port inside $min-$max" test "${port:-0}" -ge $min -a "${port:-0}" -le $max
dropped=$(ip netns exec "$ns" nft list counter inet shipdtest tcp_dropped | grep -o 'packets [0-9]*' | awk '{print $2}')
echo "# TCP SYNs dropped by the namespace firewall: $dropped"
check "the firewall really dropped TCP ($dropped packets)" test "${dropped:-0}" -gt 0

check "A logs once that it goes UDP first to B" \
	test "$(grep -c 'next hop B: tcp connect timed out but udp works: udp first' "$NODES/A/shipd.log")" -eq 1
check "A's peer file remembers TCP to B is blocked" grep -q '^tcp-blocked-until: [1-9]' "$(spool A)/peers/B"
for i in 2 3 4; do
	head -c 20000 /dev/urandom >"$work/small$i.bin"
	ctl A submit --copy --to B "$work/small$i.bin" >/dev/null 2>&1 || fail "submit small$i"
	WAIT=60 check "small$i delivered (a connection of its own)" wait_for delivered B small$i.bin
done
later=$(ip netns exec "$ns" nft list counter inet shipdtest tcp_dropped | grep -o 'packets [0-9]*' | awk '{print $2}')
echo "# TCP SYNs dropped: $dropped after the first send, $later after three more"
check "no TCP connect tried for the later sends ($dropped then $later SYNs dropped)" \
	test "${later:-0}" -eq "${dropped:-0}"
timeouts=$(grep -c 'hop to B .*tcp: connect timed out' "$NODES/A/shipd.log")
check "one TCP connect timeout to B in the whole run (saw $timeouts)" test "$timeouts" -eq 1
check "the later sends went via udp" log_has A "sent .* to B .* via udp"
finish

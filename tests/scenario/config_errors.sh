#!/bin/bash
# config_errors.sh - configuration that must not look fine when it is not
# (issue 14): checkconf flags a missing KEY-FILE (shipd exits 2 without
# it); every exit with an error says why on stderr, also with LOG syslog;
# shipd -f honours LOG file:; CONNECT-TIMEOUT sets the TCP connect time
# before the UDP fallback (TCP is dropped by nftables in a network
# namespace this test creates).
. "$TOP/tests/lib/nodes.sh"
nodes_init
work=$NODES/work; mkdir -p "$work"

# 1. checkconf with the key file missing: a problem, exit 2, naming it.
mkdir -p "$work/nokey"
printf 'NODE n\nSPOOL spool\nKEY-FILE missing.key\n' >"$work/nokey/shipping.conf"
"$SHIPCTL" -c "$work/nokey/shipping.conf" checkconf >"$work/cc.out" 2>"$work/cc.err"
rc=$?
check "checkconf with no key file exits 2 (got $rc)" test "$rc" -eq 2
check "checkconf names the missing key file" grep -q "$work/nokey/missing.key: No such file" "$work/cc.out"
check "checkconf does not say no problems" sh -c "! grep -q 'no problems' '$work/cc.out'"

# 2. shipd --poll with the default LOG (syslog) and no key: exit 2, the
#    reason on stderr all the same.
$SHIPD -c "$work/nokey/shipping.conf" --poll >"$work/poll.out" 2>"$work/poll.err"
rc=$?
check "shipd --poll with no key exits 2 (got $rc)" test "$rc" -eq 2
check "and says why on stderr" grep -q "missing.key: No such file" "$work/poll.err"

# 3. shipd -f with LOG file:PATH logs to the file (and to stderr).
node_add F $((20000 + RANDOM % 20000)) "LOG file:$NODES/F/file.log"
node_start F || fail "start F with LOG file:"
check "shipd -f writes LOG file:" wait_for grep -qs "started" "$NODES/F/file.log"
check "shipd -f also writes stderr" grep -q "started" "$NODES/F/shipd.log"
node_stop F

# 4. CONNECT-TIMEOUT: TCP to B dropped, the sender gives up on TCP after
#    the configured time and falls back to UDP.
[ "$(id -u)" -eq 0 ] || { fail "needs root for ip netns (CI runs as root)"; finish; }
ns="shipd-ct-$$"
ip netns add "$ns" || { fail "ip netns add"; finish; }
trap 'nodes_cleanup; ip netns del "$ns" 2>/dev/null' EXIT
ip -n "$ns" link set lo up
SHIPD="ip netns exec $ns $TOP/bin/shipd"
node_add A 40100 "CONNECT-TIMEOUT 2s" "IO-TIMEOUT 10s"
node_add B 40101
node_peer A B; node_peer B A
ip netns exec "$ns" nft -f - <<EON || { fail "nft rules"; finish; }
table inet shipdtest {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 40101 drop
	}
}
EON
"$SHIPCTL" -c "$(conf A)" checkconf >"$work/cc2.out" 2>&1
check "checkconf shows the connect timeout" grep -q "^connect timeout  *2s" "$work/cc2.out"
node_start A && node_start B || { fail "start"; finish; }
echo "over udp" >"$work/c.txt"
id=$(ctl A submit --copy --to B "$work/c.txt")
WAIT=60 check "delivered over UDP with TCP dropped" wait_for delivered B c.txt
check "TCP connect gave up after CONNECT-TIMEOUT" log_has A "connect timed out after 2 s"
finish

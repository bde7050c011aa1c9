#!/bin/bash
# shipctl routes and shipctl firewall, as an administrator uses them: the
# route table and graph of an exposed host (accepted by Graphviz), and its
# firewall - checked by nft and iptables-restore, then really loaded into a
# network namespace and probed over veth pairs from a peer, a stranger and
# an ALLOW'ed address, in and out. Namespaces and listeners are removed
# even when a check fails.
: "${TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
FAILS=0
ok() { echo "ok - $1"; }
fail() { echo "not ok - $1${2:+: $2}"; FAILS=$((FAILS + 1)); }
check() { local n=$1; shift; if "$@"; then ok "$n"; else fail "$n"; fi; }
not() { ! "$@"; }
SHIPCTL=${SHIPCTL:-$TOP/bin/shipctl}
tmp=$(mktemp -d /tmp/shipd-routes.XXXXXX)
NS="sfw$$ spe$$ sst$$ sal$$"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in $NS; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
unset SHIPD_CONF CLEARCASE_MIN_PORT CLEARCASE_MAX_PORT
cd "$tmp" || exit 1

# keys for the nodes the configuration names (keygen is not under test:
# always the normal build, even when SHIPCTL names a sanitizer build)
key() {
	printf 'NODE %s\nKEY-FILE %s.key\nLISTEN 127.0.0.1 4590\n' "$1" "$1" >"k-$1.conf"
	"$TOP/bin/shipctl" -c "k-$1.conf" keygen 2>/dev/null | awk '{print $5}'
}
declare -A K
for n in SSA SSB SiteA_host1 SiteB_host1 lo6 named; do K[$n]=$(key "$n"); done
if [ -z "${K[SSB]}" ]; then
	fail "shipctl keygen" "$("$SHIPCTL" -c k-SSB.conf pubkey 2>&1 | head -n 1)"
	exit 1
fi

# The exposed host SSA: a peer through the firewall (SSB, which carries
# SiteB's traffic), a replica host inside, a far node known by key only.
cat >ssa.conf <<EOF
NODE SSA
LISTEN 0.0.0.0 4590
CLEARCASE_MIN_PORT 49152
CLEARCASE_MAX_PORT 49161
KEY-FILE k-SSA.key
SPOOL spool
PEER SSB 10.77.1.2 4590 ${K[SSB]}
PEER SiteA_host1 10.77.9.11 4590 ${K[SiteA_host1]}
PEER lo6 ::1 4590 ${K[lo6]}
PEER named localhost 4591 ${K[named]}
KEY SiteB_host1 ${K[SiteB_host1]}
ALLOW 10.77.3.0/24
ROUTE SSB SiteB_host1 SiteB_host2
EOF
route_line=$(grep -n '^ROUTE' ssa.conf | cut -d: -f1)

# ---- routes: the table ----
"$SHIPCTL" -c ssa.conf routes >routes.txt 2>routes.err
check "routes exits 0 (exit $?)" test $? -eq 0
row() { awk -v d="$1" '$1 == d' routes.txt; }
check "SiteB_host1 goes via SSB at 10.77.1.2:4590, by the ROUTE line" \
	grep -Eq "^SiteB_host1 +SSB +10\.77\.1\.2:4590 +tcp, udp fallback +ROUTE ssa.conf:$route_line\$" routes.txt
check "SiteB_host2 (no key here) goes via SSB too" sh -c "awk '\$1 == \"SiteB_host2\"' routes.txt | grep -q ' SSB '"
check "SiteA_host1 goes straight to its PEER address" sh -c "awk '\$1 == \"SiteA_host1\"' routes.txt | grep -q 'SiteA_host1 *10.77.9.11:4590'"
check "an IPv6 peer shows as [addr]:port" grep -q '\[::1\]:4590' routes.txt
check "this node is local delivery" sh -c "awk '\$1 == \"SSA\"' routes.txt | grep -q 'local delivery'"
check "the header names the port range" grep -q 'local ports: 49152-49161' routes.txt
[ -n "$(row SSB)" ] && ok "every PEER is listed" || fail "SSB missing from the table"

# ---- routes: the graph ----
"$SHIPCTL" -c ssa.conf routes --dot >routes.dot 2>routes.err
check "routes --dot exits 0" test $? -eq 0
dot -Tsvg routes.dot >routes.svg 2>dot.err
check "dot -Tsvg accepts routes --dot" test $? -eq 0 -a -s routes.svg
check "... and draws every node" sh -c 'for n in SSA SSB SiteA_host1 SiteB_host1 SiteB_host2; do grep -q ">$n<" routes.svg || exit 1; done'
check "the exposed host SSB is drawn apart (hexagon)" grep -q '^	"SSB" \[label=.*exposed host.*shape=hexagon' routes.dot
check "a KEY-only far node is dashed" grep -q '^	"SiteB_host1" \[label="SiteB_host1\\nfar node (KEY)", shape=ellipse, style=dashed' routes.dot
check "the edge to SSB is labelled with what goes that way" \
	grep -q '^	"SSA" -> "SSB" \[label="SSB\\nSiteB_host1\\nSiteB_host2"' routes.dot
check "a dashed edge from the next hop to the destination" grep -q '^	"SSB" -> "SiteB_host1" \[style=dashed\]' routes.dot
"$SHIPCTL" -c ssa.conf routes --svg out.svg
check "routes --svg FILE renders an SVG" grep -q '<svg' out.svg
"$SHIPCTL" -c ssa.conf routes --png out.png
check "routes --png FILE renders a PNG" sh -c 'head -c 8 out.png | grep -q PNG'
check "... leaving no temporary file" sh -c '! ls out.*.tmp* 2>/dev/null | grep -q .'
PATH=/nonexistent "$SHIPCTL" -c ssa.conf routes --svg nodot.svg 2>nodot.err
check "routes --svg without graphviz exits 69 (exit $?)" test $? -eq 69
check "... saying dot is missing, writing nothing" sh -c 'grep -q "dot(1) not found" nodot.err && test ! -e nodot.svg'
"$SHIPCTL" -c ssa.conf routes --bogus 2>/dev/null
check "routes --bogus is a usage error (exit $?)" test $? -eq 64
{ cat ssa.conf; echo "ROUTE SiteB_host1 Faraway"; } >badhop.conf
"$SHIPCTL" -c badhop.conf routes >/dev/null 2>badhop.err
check "a ROUTE via a KEY-only node exits 65 (exit $?)" test $? -eq 65
check "... naming the file:line" grep -q "badhop.conf:$((route_line + 1)): next hop SiteB_host1 of Faraway is not a PEER" badhop.err

# ---- firewall: the text ----
"$SHIPCTL" -c ssa.conf firewall >fw.nft 2>fw.err
check "firewall exits 0 (exit $?)" test $? -eq 0
check "nft -c accepts the ruleset" nft -c -f fw.nft
check "peers, ALLOW and resolved host names are admitted" sh -c \
	'grep -q "elements = { 10.77.1.2, 10.77.9.11, 127.0.0.1, 10.77.3.0/24 }" fw.nft && grep -q "::1" fw.nft'
check "the listen port and the range are guarded" grep -q 'th dport { 4590, 49152-49161 } counter drop' fw.nft
check "traffic from the range goes to peers only" grep -q 'th sport 49152-49161 ip daddr @peers_v4 counter accept' fw.nft
check "ALLOW is not a place senders go" sh -c '! sed -n "/set peers_v4/,/}/p" fw.nft | grep -q 10.77.3.0'
sed -e 's|^ALLOW.*|ALLOW 10.77.1.0/24 10.77.1.7|' ssa.conf >cover.conf
"$SHIPCTL" -c cover.conf firewall >cover.nft 2>/dev/null
check "an ALLOW range swallows the addresses it covers (nft -c)" nft -c -f cover.nft
check "... listing the range once" sh -c 'sed -n "/set allowed_v4/,/}/p" cover.nft | grep -q "{ 10.77.9.11, 127.0.0.1, 10.77.1.0/24 }"'
grep -v CLEARCASE ssa.conf >norange.conf
"$SHIPCTL" -c norange.conf firewall >norange.nft 2>norange.err
check "without a port range: exit 0 and a loud warning" grep -q 'ephemeral ports cannot be firewalled' norange.err
check "... in the ruleset too" grep -q '^# WARNING: no CLEARCASE_MIN_PORT' norange.nft
check "... guarding the listening port only" sh -c 'grep -q "th dport { 4590 } counter drop" norange.nft && ! grep -q 49152-49161 norange.nft'
check "... and nft -c accepts it" nft -c -f norange.nft
grep -v -e CLEARCASE -e LISTEN ssa.conf >nothing.conf
"$SHIPCTL" -c nothing.conf firewall >nothing.nft 2>/dev/null
check "no LISTEN, no range: nothing to guard, still a valid script" nft -c -f nothing.nft
{ cat ssa.conf; echo "PEER ghost no-such-host.invalid 4590 ${K[named]}"; } >ghost.conf
"$SHIPCTL" -c ghost.conf firewall >ghost.nft 2>ghost.err
rc=$?
check "an unresolvable PEER host fails (exit $rc: 65, or 75 without a resolver)" test $rc -eq 65 -o $rc -eq 75
check "... naming file:line and the PEER" grep -q "ghost.conf:$(wc -l <ghost.conf): PEER ghost: cannot resolve no-such-host.invalid" ghost.err
"$SHIPCTL" -c ssa.conf firewall --bogus 2>/dev/null
check "firewall --bogus is a usage error (exit $?)" test $? -eq 64
"$SHIPCTL" -c ssa.conf firewall --iptables >fw.ipt 2>/dev/null
check "firewall --iptables exits 0" test $? -eq 0
"$SHIPCTL" -c ssa.conf firewall --ip6tables >fw.ip6t 2>/dev/null
check "firewall --ip6tables has the IPv6 peer only" sh -c 'grep -q "^-A SHIPD-IN -s ::1 " fw.ip6t && ! grep -q 10.77 fw.ip6t'

# ---- firewall: loaded for real into namespaces, then probed ----
for n in $NS; do ip netns add "$n" || { fail "ip netns add $n"; exit 1; }; done
read -r FW PE ST AL <<<"$NS"
link() {	# link NS ADDR-FW ADDR-NS: a veth between the firewall and NS
	ip -n "$FW" link add "v$3" type veth peer name v0 netns "$1" &&
	ip -n "$FW" addr add "$2/24" dev "v$3" && ip -n "$FW" link set "v$3" up &&
	ip -n "$1" addr add "${2%.1}.2/24" dev v0 && ip -n "$1" link set v0 up &&
	ip -n "$1" link set lo up
}
ip -n "$FW" link set lo up
link "$PE" 10.77.1.1 pe && link "$ST" 10.77.2.1 st && link "$AL" 10.77.3.1 al ||
	{ fail "veth set-up"; exit 1; }
command -v socat >/dev/null || { fail "socat is needed for the probes (scripts/install-deps)"; exit 1; }
listen() {	# listen NS PROTO PORT [FILE]
	ip netns exec "$1" socat -u "$2-LISTEN:$3,fork,reuseaddr" "OPEN:${4:-/dev/null},creat,append" 2>/dev/null &
	pids+=($!)
}
for p in 4590 49155 8080; do listen "$FW" TCP $p; done
ip netns exec "$FW" socat -u UDP-RECV:49156,reuseaddr OPEN:"$tmp/udp.got",creat,append 2>/dev/null &
pids+=($!)
listen "$PE" TCP 9000; listen "$ST" TCP 9000
sleep 0.5
tcp() { ip netns exec "$1" timeout 2 bash -c "echo > /dev/tcp/$2/$3" 2>/dev/null; }
tcp_from() {	# tcp_from NS SRC-ADDR:PORT DST:PORT - a connection from a chosen port
	ip netns exec "$1" timeout 2 socat -u OPEN:/dev/null "TCP:$3,bind=$2" 2>/dev/null
}
udp() { echo "$4" | ip netns exec "$1" socat -u - "UDP:$2:$3" 2>/dev/null; }

probe() {	# probe LABEL PORT: the same walk for whatever rules are loaded;
	# PORT, PORT+1 are local source ports in the range (fresh per walk,
	# since a closed connection's port lingers in TIME_WAIT)
	local l=$1 p=$2
	check "$l: a peer reaches the listening port" tcp "$PE" 10.77.1.1 4590
	check "$l: a peer reaches a port in the range" tcp "$PE" 10.77.1.1 49155
	check "$l: an ALLOW'ed address reaches the range" tcp "$AL" 10.77.3.1 49155
	check "$l: a stranger does not reach the range" not tcp "$ST" 10.77.2.1 49155
	check "$l: a stranger does not reach the listening port" not tcp "$ST" 10.77.2.1 4590
	check "$l: a stranger still reaches an unrelated port (8080)" tcp "$ST" 10.77.2.1 8080
	: >"$tmp/udp.got"
	udp "$PE" 10.77.1.1 49156 "from-peer-$l"; udp "$ST" 10.77.2.1 49156 "from-stranger-$l"
	sleep 0.5
	check "$l: UDP from a peer to the range arrives" grep -q "from-peer-$l" "$tmp/udp.got"
	check "$l: UDP from a stranger to the range does not" sh -c "! grep -q from-stranger '$tmp/udp.got'"
	check "$l: the node's range port may go to a peer" tcp_from "$FW" "10.77.1.1:$p" 10.77.1.2:9000
	check "$l: ... not to a stranger" not tcp_from "$FW" "10.77.2.1:$((p + 1))" 10.77.2.2:9000
	check "$l: other ports still go anywhere" tcp_from "$FW" "10.77.2.1:$((p + 30000 - 49152))" 10.77.2.2:9000
}
# sanity: with no rules the stranger gets through, so a "blocked" below means the rules
check "without rules a stranger reaches the range (the probe works)" tcp "$ST" 10.77.2.1 49155
ip netns exec "$FW" nft -f fw.nft
check "nft -f loads the ruleset in the firewall namespace" test $? -eq 0
probe nft 49157
drops=$(ip netns exec "$FW" nft list chain inet shipd input |
	awk '/counter packets .* drop$/ { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }')
check "the drop counter counted the stranger's packets ($drops)" test "${drops:-0}" -gt 0
ip netns exec "$FW" nft -f fw.nft
check "loading the ruleset again replaces it (one table, one input chain)" \
	test "$(ip netns exec "$FW" nft list ruleset | grep -c 'chain input')" -eq 1
if command -v iptables-restore >/dev/null; then
	ip netns exec "$FW" nft flush ruleset
	ip netns exec "$FW" iptables-restore --test --noflush <fw.ipt
	check "iptables-restore --test accepts --iptables" test $? -eq 0
	ip netns exec "$FW" ip6tables-restore --test --noflush <fw.ip6t
	check "ip6tables-restore --test accepts --ip6tables" test $? -eq 0
	ip netns exec "$FW" iptables-restore --noflush <fw.ipt
	check "iptables-restore --noflush loads it" test $? -eq 0
	probe iptables 49159
else
	fail "iptables-restore is needed to check --iptables (scripts/install-deps)"
fi

exit $((FAILS > 0))

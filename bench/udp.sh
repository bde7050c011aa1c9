#!/bin/bash
# bench/udp.sh - the UDP transport's figures (issue 17): the hop channel
# (bench/wan_bench.c: handshake, transport, AEAD; no spool, no disk)
# moving one file over UDP and over TCP through an emulated path
# (tests/tools/wanlink between two namespaces: rate cap, drop-tail queue
# of one bandwidth-delay product, delay, random loss both ways), medians
# of WAN_REPEAT runs; then a UDP and a TCP flow at once on the lossy path
# (fairness); then 200 small packets over UDP by shipd itself, with and
# without a 20-port range. Prints markdown. Needs root (namespaces).
# Never asserts: it measures.
#
#   WAN_MB=64 WAN_REPEAT=3 WAN_RATE=100 (Mbit/s) WAN_FAIR_S=30
#   WAN_PATHS="0:0 20:0 100:0 50:2"   RTT_MS:LOSS% pairs; RTT 0 = loopback, no link
#   WAN_FILES=200                     small packets (0: skip that part)
#   WAN_OLD=DIR   also measure DIR/wan_bench (a build of older code)
# TCP runs twice: with CUBIC (Linux's and Debian's default, the "standard
# TCP flow") and with this machine's default if that differs (BBR here).
set -u
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$TOP" || exit 1
MB=${WAN_MB:-64} REPEAT=${WAN_REPEAT:-3} RATE=${WAN_RATE:-100} FAIR_S=${WAN_FAIR_S:-30}
PATHS=${WAN_PATHS:-"0:0 20:0 100:0 50:2"} FILES=${WAN_FILES:-200}
PORT=4790
. tests/lib/netns.sh
. tests/lib/wan.sh

make --no-print-directory -s all tests >&2 || exit 1
mkdir -p build/bench
# shellcheck disable=SC2046
cc -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Isrc \
	$(pkg-config --cflags libgcrypt libarchive) -o build/bench/wan_bench bench/wan_bench.c \
	build/libshipd.a $(pkg-config --libs libgcrypt libarchive) || exit 1
BENCHES="new:$TOP/build/bench/wan_bench"
[ -n "${WAN_OLD:-}" ] && BENCHES="$BENCHES old:$WAN_OLD/wan_bench"
DEFCC=$(cat /proc/sys/net/ipv4/tcp_congestion_control)
KINDS="udp tcp:cubic"
[ "$DEFCC" != cubic ] && KINDS="$KINDS tcp:$DEFCC"

ns_init || exit 1
wan_up -t 20 -r "$RATE" || { echo "bench/udp.sh: no link" >&2; exit 1; }
ns_add lo || exit 1
mkdir -p "$NS_WORK/keys"

# server NS ADDR BIN: (re)start the sink.
SRV=
server() {
	[ -n "$SRV" ] && ns_stop "$SRV" 2
	: >"$NS_WORK/server.log"
	ns_bg "$1" "$NS_WORK/server.log" "$3" server "$NS_WORK/keys" "$2" $PORT
	SRV=$NS_LASTPID
	for _ in $(seq 50); do grep -q listening "$NS_WORK/server.log" && return 0; sleep 0.1; done
	echo "bench/udp.sh: server did not start: $(cat "$NS_WORK/server.log")" >&2
	return 1
}

# run NS ADDR BIN KIND [MIB [SECONDS]]: one client run; its result line.
run() {
	local proto=${4%%:*} cc=${4#*:}
	[ "$proto" = udp ] && cc=
	WAN_TCP_CC=$cc ns_exec "$1" "$3" client "$NS_WORK/keys" "$2" $PORT "$proto" "${5:-$MB}" ${6:-} \
		2>>"$NS_WORK/client.err" | grep '^proto' || echo "proto $proto failed"
}

# field NAME < lines: each line's value of NAME
field() { awk -v f="$1" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }

echo "## WAN: one ${MB} MiB file over the hop channel (bench/udp.sh)"
echo
echo "Link (tests/tools/wanlink): ${RATE} Mbit/s, drop-tail queue of one bandwidth-delay"
echo "product, loss both ways; RTT 0 is loopback without the link. Medians of $REPEAT."
echo "MB/s = MiB moved per second of wall time (handshake to the receiver's answer);"
echo "% of link = that in Mbit/s over ${RATE}; CPU = both ends, user + system."
echo
echo "| code | path | flow | wall s | MB/s | % of link | CPU s | datagrams lost |"
echo "|---|---|---|---|---|---|---|---|"
for b in $BENCHES; do
	name=${b%%:*} bin=${b#*:} kinds=$KINDS
	[ "$name" = old ] && kinds=udp		# an older wan_bench cannot choose TCP's controller
	for p in $PATHS; do
		rtt=${p%%:*} loss=${p#*:}
		if [ "$rtt" = 0 ]; then
			ns=lo addr=127.0.0.1 where="loopback"
		else
			ns=wa addr=$WAN_B where="RTT $rtt ms, $loss% loss"
			wan_restart -t "$rtt" -r "$RATE" -l "$loss" || exit 1
		fi
		server "$([ "$ns" = lo ] && echo lo || echo wb)" "$addr" "$bin" || exit 1
		for k in $kinds; do
			lines=$(for _ in $(seq "$REPEAT"); do run $ns "$addr" "$bin" "$k"; done)
			echo "$lines" | sed "s|^|$name $rtt $loss $k |" >>"$NS_WORK/runs"
			wall=$(field wall <<<"$lines" | median)
			cpu=$(awk '{ for (i = 1; i < NF; i++) { if ($i == "cpu_client") c = $(i + 1); if ($i == "cpu_server") s = $(i + 1) } print c + s }' <<<"$lines" | median)
			lost=$(field lost <<<"$lines" | median)
			awk -v n="$name" -v w="$wall" -v c="$cpu" -v l="$lost" -v k="$k" -v where="$where" \
				-v mb="$MB" -v rate="$RATE" -v lo="$([ "$ns" = lo ] && echo 1)" 'BEGIN {
				if (w == "-" || w == 0) { printf "| %s | %s | %s | failed | | | | |\n", n, where, k; exit }
				mbs = mb / w
				printf "| %s | %s | %s | %.2f | %.2f | %s | %.2f | %s |\n", n, where, k, w, mbs,
					lo ? "-" : sprintf("%.0f%%", mbs * 1.048576 * 8 / rate * 100), c,
					k == "udp" ? l : "-" }'
		done
	done
	# fairness: UDP and each TCP at once on the lossy path, FAIR_S seconds
	wan_restart -t 50 -r "$RATE" -l 2 || exit 1
	server wb "$WAN_B" "$bin" || exit 1
	for k in $kinds; do
		[ "$k" = udp ] && continue
		run wa "$WAN_B" "$bin" udp 100000 "$FAIR_S" >"$NS_WORK/fair.udp" &
		u=$!
		run wa "$WAN_B" "$bin" "$k" 100000 "$FAIR_S" >"$NS_WORK/fair.tcp"
		wait $u
		awk -v n="$name" -v s="$FAIR_S" -v k="$k" '
			FILENAME ~ /udp$/ { for (i = 1; i < NF; i++) if ($i == "mbit") u = $(i + 1) }
			FILENAME ~ /tcp$/ { for (i = 1; i < NF; i++) if ($i == "mbit") t = $(i + 1) }
			END { printf "\n%s: UDP and %s together for %s s at RTT 50 ms, 2%% loss: UDP %.2f Mbit/s, TCP %.2f Mbit/s, UDP/TCP = %.2f\n",
				n, k, s, u, t, (t > 0 ? u / t : 0) }' "$NS_WORK/fair.udp" "$NS_WORK/fair.tcp"
	done
	echo
done
wan_down >/dev/null

# ---- shipd itself: small packets over UDP, with and without a port range ----
[ "$FILES" -gt 0 ] || exit 0
. tests/lib/nodes.sh
SHIPD="ip netns exec $(ns_name lo) $TOP/bin/shipd"
ns_exec lo nft -f - <<EON || exit 1
table inet shipdbench {
	counter hellos { }
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 40501 reject with tcp reset
		udp dport 40501 counter name hellos
	}
}
EON
echo "## $FILES small packets over UDP by shipd (TCP refused), loopback"
echo
echo "Submitted while the sender is stopped, then timed from its start to the last delivery."
echo
echo "| port range | wall s | UDP sessions | HELLO datagrams | orders deferred |"
echo "|---|---|---|---|---|"
for range in none 40400-40419; do
	nodes_init
	trap 'nodes_cleanup; ns_cleanup' EXIT
	extra=()
	[ "$range" != none ] && extra=("CLEARCASE_MIN_PORT ${range%-*}" "CLEARCASE_MAX_PORT ${range#*-}")
	node_add A 40500 "${extra[@]}" >/dev/null 2>&1
	node_add B 40501 "${extra[@]}" >/dev/null 2>&1
	node_peer A B; node_peer B A
	node_start B >/dev/null
	mkdir -p "$NODES/work"
	queued=0
	for i in $(seq "$FILES"); do
		head -c $((500 + RANDOM % 3000)) /dev/urandom >"$NODES/work/f$i"
		ctl A submit --copy --to B "$NODES/work/f$i" >/dev/null 2>&1 && queued=$((queued + 1))
	done
	h0=$(ns_exec lo nft list counter inet shipdbench hellos | grep -o 'packets [0-9]*' | awk '{print $2}')
	t0=$(date +%s.%N)
	node_start A >/dev/null
	WAIT=600 wait_for at_least "$queued" "$(bay B)/incoming"
	t1=$(date +%s.%N)
	h1=$(ns_exec lo nft list counter inet shipdbench hellos | grep -o 'packets [0-9]*' | awk '{print $2}')
	[ "$queued" -lt "$FILES" ] && range="$range ($queued queued: shipctl failed)"
	printf "| %s | %.1f | %s | %s | %s |\n" "$range" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
		"$(grep -c 'connection to B .* via udp from port' "$NODES/A/shipd.log")" $((h1 - h0)) "$(grep -c deferred "$NODES/A/shipd.log")"
	nodes_cleanup
done
echo

#!/bin/bash
# Packets over the UDP transport across a bad wide-area link between two
# namespaces this test creates (tests/tools/wanlink: RTT 20 ms, 5% of the
# datagrams lost each way, 5% held back 8 ms so later ones overtake them,
# 5% duplicated), TCP refused so every hop is UDP: every file arrives
# byte-identical, exactly once, and the link's counters show it really
# lost, reordered and duplicated. Then a forged and a replayed datagram
# on such a hop are never delivered (hostile's udp-bad).
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/netns.sh"
. "$TOP/tests/lib/wan.sh"
[ "$(id -u)" -eq 0 ] || { fail "needs root for ip netns (CI runs as root)"; finish; }
nodes_init
ns_init || { fail "netns harness"; finish; }
trap 'nodes_cleanup; ns_cleanup' EXIT
wan_up -t 20 -r 50 -l 5 -o 5 -j 8 -D 5 -s $$ || { fail "the emulated link"; finish; }

min=40300 max=40319
node_add A 40320 "LISTEN $WAN_A 40320" "CLEARCASE_MIN_PORT $min" "CLEARCASE_MAX_PORT $max" "IO-TIMEOUT 20s"
node_add B 40321 "LISTEN $WAN_B 40321" "CLEARCASE_MIN_PORT $min" "CLEARCASE_MAX_PORT $max" "IO-TIMEOUT 20s"
node_peer A B; node_peer B A
ns_exec wb nft -f - <<EON || { fail "nft rules"; finish; }
table inet shipdtest {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 40321 reject with tcp reset
	}
}
EON
bin=$SHIPD		# nodes.sh's (the ASan build under sanitizers.sh)
SHIPD="ip netns exec $(ns_name wa) $bin" node_start A &&
	SHIPD="ip netns exec $(ns_name wb) $bin" node_start B || { fail "start"; finish; }

work=$NODES/work; mkdir -p "$work"
head -c 2000000 /dev/urandom >"$work/big.bin"
files=(big.bin)
for i in 1 2 3 4 5 6; do
	head -c $((1000 + i * 7919)) /dev/urandom >"$work/s$i.bin"
	files+=("s$i.bin")
done
for f in "${files[@]}"; do
	ctl A submit --copy --to B "$work/$f" >/dev/null 2>&1 || fail "submit $f"
done
WAIT=240 check "${#files[@]} packets delivered over the lossy link" \
	wait_for at_least ${#files[@]} "$(bay B)/incoming"
bad=0
for f in "${files[@]}"; do
	cmp -s "$work/$f" "$(bay B)/incoming/$f" || { bad=$((bad + 1)); echo "# $f differs or is missing"; }
done
check "every file byte-identical" test "$bad" -eq 0
sleep 2
check "each exactly once (nothing else in incoming/)" test "$(count_files "$(bay B)/incoming")" -eq ${#files[@]}
check "every hop went over UDP" eval '! grep -q "via tcp from port" "$NODES/A/shipd.log" && grep -q "via udp from port" "$NODES/A/shipd.log"'
echo "# A: $(grep -o 'hop to [^ ]*: udp: .*' "$NODES/A/shipd.log" | tail -n 1)"
echo "# B: $(grep -o 'hop from [^ ]*: dropped .*' "$NODES/B/shipd.log" | tail -n 1)"

# the link really was that bad, both ways
counters=$(wan_down)
echo "$counters" | sed 's/^/# /'
for d in "A->B" "B->A"; do
	line=$(grep "$d" <<<"$counters")
	lost=$(sed 's/.* \([0-9]*\) lost at random.*/\1/' <<<"$line")
	reord=$(sed 's/.* \([0-9]*\) reordered.*/\1/' <<<"$line")
	dup=$(sed 's/.* \([0-9]*\) duplicated.*/\1/' <<<"$line")
	check "the link lost, reordered and duplicated $d ($lost, $reord, $dup)" \
		test "${lost:-0}" -gt 0 -a "${reord:-0}" -gt 0 -a "${dup:-0}" -gt 0
done

# forged and replayed datagrams on a hop over the same path (a clean link now)
wan_restart -t 20 || { fail "link restart"; finish; }
mark=$(wc -l <"$NODES/B/shipd.log")
head -c 3000 /dev/urandom >"$work/h.bin"
out=$(ip netns exec "$(ns_name wa)" "${HOSTILE:-$TOP/build/tests/hostile}" -c "$(conf A)" -t "$work" udp-bad B \
	"$work/h.bin" B 2>&1)
echo "$out" | grep -E '^(result|#)' | sed 's/^#* */# hostile: /'
check "hostile's good packet after the bad datagrams is accepted" grep -q '^result: ACK' <<<"$out"
check "bad tags, out-of-window and replays counted, none delivered" wait_for eval \
	'tail -n +$((mark + 1)) "$NODES/B/shipd.log" | grep -q "dropped [1-9][0-9]* datagrams failing authentication, [1-9][0-9]* out of window, [1-9][0-9]* duplicate or replayed"'
check "only the good packet arrived" wait_for at_least $((${#files[@]} + 1)) "$(bay B)/incoming"
sleep 1
check "nothing else arrived" test "$(count_files "$(bay B)/incoming")" -eq $((${#files[@]} + 1))
finish

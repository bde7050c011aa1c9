#!/bin/bash
# A hostile peer against a running shipd (T). Each attack must be refused
# and logged by T with the peer's address and the reason, leave nothing
# stored outside tmp/ and partial/ (corrupt/ keeps a verified-bad packet
# with a .why for the administrator: "quarantine"), let T's receiver
# children fall back to none, and a legitimate packet from L sent right
# after must still arrive. The attacker is build/tests/hostile (hostile.c):
# H is a PEER of T (a known key turned bad), I claims to be H with another
# key, S is a stranger, A a far node whose name H forges.
. "$TOP/tests/lib/nodes.sh"
HOSTILE=${HOSTILE:-$TOP/build/tests/hostile}
nodes_init
base=$((20000 + RANDOM % 20000))
tport=$((base + 1))
[ -x "$HOSTILE" ] || { fail "hostile tool built" "run make tests"; finish; }

node_add T $tport "MAX-DATA-SIZE 200k" "IO-TIMEOUT 5s" "MAX-RECEIVERS 10"
node_add L $((base + 2))
node_add H $((base + 3))
node_add I $((base + 4)) "NODE H"
node_add S $((base + 5))
node_add A $((base + 6))
node_peer T L; node_peer L T; node_peer T H; node_peer H T; node_peer I T; node_peer S T
node_key T A; node_key H A; node_key I A
for n in T L; do node_start "$n" || { fail "start $n"; finish; }; done
tlog=$NODES/T/shipd.log
work=$NODES/work; mkdir -p "$work"

# files T holds anywhere but its temporary areas and quarantine (and
# what T itself queues: the delivery receipts for L's legitimate packets,
# their seen/ markers and the history of what T delivered)
stored() { (cd "$(spool T)" && find . -type f ! -path '*/tmp/*' ! -path '*/partial/*' \
	! -path '*/corrupt/*' ! -path '*/inflight/*' ! -path '*/done/*' ! -name '*-T-*' | sort); }
quarantined() { find "$(spool T)" -path '*/corrupt/*' -type f | wc -l; }
# an idle send worker (shipd-idle, pool.c) holds nothing: not counted
kids() { ps --ppid "${PID[T]}" -o comm= | grep -vxc shipd-idle; }
# receiver children: T's children holding a connection to T's port (a
# sender child carrying a delivery receipt back to L is not one)
receivers() { ss -Htnp state established "( sport = :$tport )" 2>/dev/null |
	grep -o 'pid=[0-9]*' | sort -u | grep -vxc "pid=${PID[T]}"; }
no_kids() { [ "$(kids)" -eq 0 ]; }
newlog() { tail -n +$((mark + 1)) "$tlog"; }
newlog_has() { newlog | grep -qE -- "$1"; }
brief() { sed 's/^[^ ]* [^ ]* //' | head -n 1; }	# a log line without time and pid
nlegit=0

legit_after() {		# legit_after CASE: a packet from L still arrives at T
	nlegit=$((nlegit + 1))
	local f=legit$nlegit.txt
	echo "legitimate $nlegit $RANDOM" >"$work/$f"
	local lid rid=
	lid=$(ctl L submit --to T "$work/$f" 2>/dev/null) || { fail "$1: legitimate submit"; return; }
	if wait_for delivered T "$f"; then
		ok "$1: a legitimate packet sent right after arrives"
	else
		fail "$1: a legitimate packet sent right after arrives"
	fi
	# T done with it (seen/ marker, its delivery receipt gone to L) before the next case
	receipt_gone() { rid=$(sed -n "s/.*order $lid: delivery receipt \([^ ]*\) queued.*/\1/p" "$tlog" | head -n 1)
		[ -n "$rid" ] && grep -q "order $rid: done" "$tlog"; }
	wait_for receipt_gone || echo "# $1: T's receipt for $lid not seen leaving"
}

# hcase NAME LOG-REGEX QUARANTINE(0|1) CMD...: run one attack, check all
# the promises, print the refusal line.
hcase() {
	local name=$1 re=$2 q=$3 before new q0 out line
	shift 3
	before=$(stored); q0=$(quarantined); mark=$(wc -l <"$tlog")
	out=$("$@" 2>&1)
	echo "$out" | grep -E '^(result|#)' | sed "s/^#* */# $name: /; s/^result: /# $name: hostile saw: /"
	if wait_for newlog_has "$re"; then
		line=$(newlog | grep -E -- "$re" | head -n 1)
		ok "$name: refused and logged with the reason"
		echo "# refusal [$name]: $(echo "$line" | brief)"
	else
		fail "$name: refused and logged with the reason" "no log line matching /$re/"
		newlog | tail -n 5 | sed 's/^/# T: /'
	fi
	check "$name: T's receiver children back to none" wait_for no_kids
	# new files only: the previous legitimate order may still be finishing
	new=$(comm -13 <(echo "$before") <(stored))
	if [ -z "$new" ]; then
		ok "$name: nothing stored outside tmp/ and partial/"
	else
		fail "$name: nothing stored outside tmp/ and partial/" "new: $(echo $new)"
	fi
	if [ "$q" = 1 ]; then
		if [ "$(quarantined)" -gt "$q0" ] && ls "$(bay T)"/corrupt/*.why >/dev/null 2>&1; then
			ok "$name: the bad packet is quarantined in corrupt/ with a .why"
		else
			fail "$name: the bad packet is quarantined in corrupt/ with a .why"
		fi
	else
		check "$name: nothing quarantined" test "$(quarantined)" -eq "$q0"
	fi
	legit_after "$name"
}

peerre='from (H )?\(?127\.0\.0\.1:[0-9]+'
hop() { "$HOSTILE" -c "$(conf "$1")" -t "$work" "$2" T "$3" T "${@:4}"; }
small() { head -c "${2:-3000}" /dev/urandom >"$work/$1"; echo "$work/$1"; }

# --- no protocol at all ---
hcase "random bytes" "refused hop from 127\.0\.0\.1:[0-9]+ via tcp: " 0 \
	"$HOSTILE" garbage 127.0.0.1 $tport 5000
# (the master drops datagrams that are not a HELLO before forking anything)
hcase "random datagrams" "refused UDP datagram from 127\.0\.0\.1:[0-9]+: not a shipd HELLO" 0 \
	"$HOSTILE" udp-garbage 127.0.0.1 $tport 30
hcase "source outside the allow list" \
	"refused connection from 127\.0\.0\.2:[0-9]+: address not in the allow list" 0 \
	"$HOSTILE" -b 127.0.0.2 garbage 127.0.0.1 $tport 100

# half-open: dropped after HANDSHAKE-TIMEOUT (5 s by default)
mark=$(wc -l <"$tlog")
res=$("$HOSTILE" silent 127.0.0.1 $tport 60)
secs=$(echo "$res" | sed -n 's/.*after \([0-9.]*\) s.*/\1/p')
echo "# half-open: $res"
if [ -n "$secs" ] && awk -v s="$secs" 'BEGIN { exit !(s >= 4 && s <= 8) }'; then
	ok "half-open connection dropped after ${secs}s (HANDSHAKE-TIMEOUT 5s)"
else
	fail "half-open connection dropped after about 5 s" "$res"
fi
check "half-open: refused and logged with the reason" \
	wait_for newlog_has "refused hop from 127\.0\.0\.1:[0-9]+ via tcp: .*timeout"
echo "# refusal [half-open]: $(newlog | grep 'refused hop' | brief)"
check "half-open: T's receiver children back to none" wait_for no_kids

# --- the handshake ---
hcase "unknown key (claims to be H)" "refused hop from 127\.0\.0\.1:[0-9]+ via tcp: .*signature" 0 \
	hop I good "$(small i.bin)"
hcase "unknown peer" "refused hop from 127\.0\.0\.1:[0-9]+ via tcp: .*unknown peer S" 0 \
	hop S good "$(small s.bin)"

# --- packets from a known peer turned hostile ---
hcase "tampered header" "refused packet .* $peerre.*: " 0 hop H tamper-header "$(small th.bin)"
hcase "tampered body" "refused packet .* $peerre.*: " 1 hop H tamper-body "$(small tb.bin)"
hcase "truncated" "refused packet .* $peerre.*: truncated" 0 hop H truncate "$(small tr.bin 100000)"
hcase "more data than announced" "refused packet .* $peerre.*: more data than announced" 0 \
	hop H extra-data "$(small ex.bin)"
hcase "size over MAX-DATA-SIZE" "refused packet .* $peerre.*: .*exceeds MAX-DATA-SIZE" 0 \
	hop H good "$(small big.bin 400000)"
hcase "order lies about the size" "refused packet .* $peerre.*: order does not match" 0 \
	hop H lie-size "$(small ls.bin)"
hcase "forged origin" "refused packet .* $peerre.*: " 0 hop H forge-origin "$(small fo.bin)" A
hcase "unknown origin" "refused packet .* $peerre.*: " 0 hop H unknown-origin "$(small uo.bin)"
hcase "re-signed header" "refused packet .* $peerre.*: " 1 hop H resign "$(small rs.bin)"
hcase "replayed hop frame" "from H: .*hop from 127\.0\.0\.1:[0-9]+: frame [0-9]+ failed authentication" 0 \
	hop H frame-replay "$(small fr.bin)"

# replayed packet: the first copy is a legitimate delivery, the second is HAVE
mark=$(wc -l <"$tlog")
out=$(hop H replay "$(small replay.bin)" 2>&1)
echo "$out" | grep '^result' | sed 's/^result: /# replayed packet: hostile saw: /'
check "replayed packet: first copy accepted, second answered HAVE" \
	test "$(echo "$out" | grep -c '^result: ')" -eq 2 -a "$(echo "$out" | grep -c '^result: HAVE')" -eq 1
check "replayed packet: logged as already accepted" wait_for newlog_has "already accepted here"
check "replayed packet: delivered once" wait_for delivered T replay.bin
sleep 1
check "replayed packet: not delivered twice" test ! -e "$(bay T)/incoming/replay_1.bin"

# UDP session: bad tags, stream bytes beyond the window and replayed packets
# are dropped and counted; the good packet on the same session arrives
mark=$(wc -l <"$tlog")
out=$(hop H udp-bad "$(small udp.bin)" 2>&1)
echo "$out" | grep -E '^(result|#)' | sed 's/^#* */# udp session: /; s/^result: /# udp session: hostile saw: /'
check "udp session: the packet after the bad datagrams is accepted" \
	grep -q '^result: ACK' <<<"$out"
check "udp session: bad tags, out-of-window and replayed datagrams counted in T's log" \
	wait_for newlog_has "dropped [1-9][0-9]* datagrams failing authentication, [1-9][0-9]* out of window, [1-9][0-9]* duplicate or replayed"
echo "# refusal [udp session]: $(newlog | grep 'dropped' | brief)"
check "udp session: delivered" wait_for delivered T udp.bin

# --- flood: 200 silent connections; children stay bounded, L gets through ---
mark=$(wc -l <"$tlog")
"$HOSTILE" flood 127.0.0.1 $tport 200 40 >"$work/flood.out" 2>&1 &
fpid=$!
( while kill -0 $fpid 2>/dev/null; do receivers; sleep 0.1; done ) >"$work/kids.samples" &
spid=$!
sleep 0.5
echo "flooded $RANDOM" >"$work/flood.txt"
t0=$(date +%s.%N)
ctl L submit --to T "$work/flood.txt" >/dev/null 2>&1
WAIT=60 wait_for delivered T flood.txt && took=$(echo "$(date +%s.%N) - $t0" | bc) || took=
wait $fpid; wait $spid
max=$(sort -n "$work/kids.samples" | tail -n 1)
echo "# flood: $(sed 's/^result: //' "$work/flood.out")"
echo "# flood: at most ${max:-?} receiver children ($(wc -l <"$work/kids.samples") samples)"
# one source holds at most MAX-HANDSHAKES-PER-SOURCE (10) at the door, costing no process
check "flood: children stay bounded (max ${max:-?})" test "${max:-99}" -le 10
check "flood: the oldest idle connections dropped to make room, and logged" \
	newlog_has "dropped connection from 127\.0\.0\.1:[0-9]+, the oldest silent one of MAX-HANDSHAKES-PER-SOURCE 10"
echo "# refusal [flood]: $(newlog | grep 'dropped connection' | brief) ($(newlog | grep -c 'dropped connection') times)"
if [ -n "$took" ]; then
	ok "flood: a legitimate packet still arrives (after ${took%.*}.${took#*.} s)"
	printf '# flood: legitimate packet arrived %.1f s after it was submitted\n' "$took"
else
	fail "flood: a legitimate packet still arrives"
fi
check "flood: T's receiver children back to none" wait_for no_kids
check "T is still running" kill -0 "${PID[T]}"
check "T's log has no crash or panic" sh -c "! grep -qiE 'panic|killed by signal|fatal' '$tlog'"
finish

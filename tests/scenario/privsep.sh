#!/bin/bash
# Privilege separation (issue 18), seen from outside:
#  1. the secret keys are in the key process and in no receiver or sender:
#     the memory of a live receiver (on B) and sender (on A), read through
#     /proc/PID/mem while a transfer runs, holds no byte string of either
#     secret key; the same scan of the key process finds them (the check
#     can fail);
#  2. a receiver that makes a forbidden system call (the test build's hook,
#     build/tests/shipd-hooks) is killed by its seccomp filter, the master
#     logs it, and the transfer resumes on the next connection, the file
#     delivered whole;
#  3. the submission socket: a user in SUBMIT-GROUP, who can read neither
#     the key nor the spool, ships a file; one outside is refused in one
#     line; the order records the submitter's uid.
# Needs root (reads other processes' memory, adds users). Runs in a network
# namespace of its own, where lo is slowed (tbf) so the workers live long
# enough to be read.
[ -n "${PRIVSEP_NETNS:-}" ] ||
	exec unshare -n env PRIVSEP_NETNS=1 bash -c 'ip link set lo up && exec bash "$0"' "$0"
. "$TOP/tests/lib/nodes.sh"
nodes_init
if [ "$(id -u)" -ne 0 ]; then
	echo "ok - skipped: needs root"
	exit 0
fi
HOOKS=$TOP/build/tests/shipd-hooks
[ -x "$HOOKS" ] || { fail "test build" "$HOOKS missing (make tests)"; finish; }

# The secret halves, as the key file holds them (base64) -> hex.
secrets() {	# secrets KEYFILE -> "SIGN_HEX KX_HEX"
	python3 - "$1" <<'PY'
import base64, sys
k = dict(l.split(": ", 1) for l in open(sys.argv[1]).read().splitlines() if ": " in l)
print(base64.b64decode(k["sign"]).hex(), base64.b64decode(k["kx"]).hex())
PY
}
keyproc_of() { grep -o 'key process [0-9]* holds' "$NODES/$1/shipd.log" | tail -n 1 | awk '{print $3}'; }
scan() {	# scan PID NODE -> memscan's output
	python3 "$TOP/tests/tools/memscan.py" "$1" $(secrets "$NODES/$2/shipd.key")
}

node_add A 31801
node_add B 31802
node_peer A B
node_peer B A
node_start A
node_start B

# ---- 1. the memory of live workers
tc qdisc add dev lo root tbf rate 30mbit burst 1mb latency 200ms 2>/dev/null ||
	echo "# tbf unavailable: the workers may finish before they are read"
big=$NODES/big.dat
head -c $((48 * 1024 * 1024)) /dev/urandom >"$big"
sum=$(sha256sum <"$big" | cut -c1-64)
ctl A submit --to B --copy "$big" >/dev/null || fail "submit the big file"
rscan="" sscan=""
for _ in $(seq 400); do
	r=$(pgrep -P "${PID[B]}" | head -n 1)
	s=$(pgrep -P "${PID[A]}" | head -n 1)
	[ -n "${DEBUG:-}" ] && echo "# r=$r s=$s"
	if [ -z "$rscan" ] && [ -n "$r" ] && out=$(scan "$r" B) &&
		grep -q '^scanned [1-9]' <<<"$out"; then
		rscan=$out
		echo "# receiver $r on B: $(tail -n 1 <<<"$out")"
	fi
	if [ -z "$sscan" ] && [ -n "$s" ] && out=$(scan "$s" A) &&
		grep -q '^scanned [1-9]' <<<"$out"; then
		sscan=$out
		echo "# sender $s on A: $(tail -n 1 <<<"$out")"
	fi
	[ -n "$rscan" ] && [ -n "$sscan" ] && break
	sleep 0.05
done
check "a live receiver was read" test -n "$rscan"
check "a live sender was read" test -n "$sscan"
check "the receiver holds neither secret key" eval '[ -n "$rscan" ] && ! grep -q "^found" <<<"$rscan"'
check "the sender holds neither secret key" eval '[ -n "$sscan" ] && ! grep -q "^found" <<<"$sscan"'
grep '^# ' <<<"$rscan$sscan"
kb=$(keyproc_of B)
kscan=$(scan "$kb" B)
echo "# key process $kb on B: $(tail -n 1 <<<"$kscan")"
check "the same scan finds both keys in the key process" \
	test "$(grep -c '^found' <<<"$kscan")" -eq 2
check "the key process is no child of the master" eval '! pgrep -P "${PID[B]}" | grep -qx "$kb"'
check "the big file arrives whole" wait_for eval \
	'[ -f "$(bay B)/incoming/big.dat" ] && [ "$(sha256sum <"$(bay B)/incoming/big.dat" | cut -c1-64)" = "$sum" ]'
tc qdisc del dev lo root 2>/dev/null

# ---- 2. a forbidden system call in a receiver
node_stop B
flag=$NODES/forbidden.flag
touch "$flag"
SHIPD="env SHIPD_TEST_FORBIDDEN=receiver-data:$flag $HOOKS" node_start B
mid=$NODES/mid.dat
head -c $((6 * 1024 * 1024)) /dev/urandom >"$mid"
msum=$(sha256sum <"$mid" | cut -c1-64)
ctl A submit --to B --copy "$mid" >/dev/null || fail "submit the second file"
check "the receiver is killed by its filter" \
	wait_for log_has B "forbidden system call execve"
check "the master logs the worker's death" \
	wait_for grep -qE "receive worker [0-9]+ .* killed by signal 31" "$NODES/B/shipd.log"
check "the hook fired once" test ! -e "$flag"
check "the transfer resumes and the file arrives whole" wait_for eval \
	'[ -f "$(bay B)/incoming/mid.dat" ] && [ "$(sha256sum <"$(bay B)/incoming/mid.dat" | cut -c1-64)" = "$msum" ]'
check "it was resumed, not sent again from the start" log_has B "(resumed)"
check "bin/shipd has no test hook" eval '! grep -q SHIPD_TEST_FORBIDDEN "$TOP/bin/shipd"'
finish

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
# each scan runs in the background: on a loaded machine one scan takes
# seconds, and scanning the two workers one after the other outlived them
rscan="" sscan="" rjob="" sjob=""
scan_bg() {	# scan_bg PID NODE OUT: the scan, then "alive" if it succeeded
	{ scan "$1" "$2" && echo alive; } >"$3" 2>&1
}
scan_done() {	# scan_done JOB OUT: JOB has ended; 0 when OUT holds a good scan
	wait "$1"
	grep -q '^alive' "$2" && grep -q '^scanned [1-9]' "$2"
}
for _ in $(seq 400); do
	r=$(pgrep -P "${PID[B]}" -x shipd-recv | head -n 1)
	s=$(pgrep -P "${PID[A]}" -x shipd-send | head -n 1)
	[ -n "${DEBUG:-}" ] && echo "# r=$r s=$s"
	if [ -z "$rscan" ] && [ -z "$rjob" ] && [ -n "$r" ]; then
		scan_bg "$r" B "$NODES/rscan" & rjob=$! rpid=$r
	fi
	if [ -z "$sscan" ] && [ -z "$sjob" ] && [ -n "$s" ]; then
		scan_bg "$s" A "$NODES/sscan" & sjob=$! spid=$s
	fi
	if [ -n "$rjob" ] && ! kill -0 "$rjob" 2>/dev/null; then
		scan_done "$rjob" "$NODES/rscan" && rscan=$(cat "$NODES/rscan") &&
			echo "# receiver $rpid on B: $(grep '^scanned' <<<"$rscan")"
		rjob=""
	fi
	if [ -n "$sjob" ] && ! kill -0 "$sjob" 2>/dev/null; then
		scan_done "$sjob" "$NODES/sscan" && sscan=$(cat "$NODES/sscan") &&
			echo "# sender $spid on A: $(grep '^scanned' <<<"$sscan")"
		sjob=""
	fi
	[ -n "$rscan" ] && [ -n "$sscan" ] && break
	sleep 0.05
done
for j in $rjob $sjob; do wait "$j"; done	# the scans only (the daemons are children too)
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
# B is the packet's last hop: it opens it while receiving, and a cut
# transfer of it starts afresh (stream_deliver.sh), nothing half-kept
check "it was sent again from the start and delivered while received" \
	log_has B "received .* from A .*delivered into .* while received"
check "bin/shipd has no test hook" eval '! grep -q SHIPD_TEST_FORBIDDEN "$TOP/bin/shipd"'

# ---- 3. the submission socket
grp=pssub$$ uin=psin$$ uout=psout$$
users_cleanup() {
	userdel "$uin" 2>/dev/null
	userdel "$uout" 2>/dev/null
	groupdel "$grp" 2>/dev/null
	nodes_cleanup
}
trap users_cleanup EXIT
groupadd "$grp" && useradd -M -N -s /usr/sbin/nologin -G "$grp" "$uin" &&
	useradd -M -N -s /usr/sbin/nologin "$uout" || { fail "users for the test"; finish; }
node_stop A
echo "SUBMIT-SOCKET submit.sock" >>"$(conf A)"
echo "SUBMIT-GROUP $grp" >>"$(conf A)"
chmod 711 "$NODES" "$NODES/A"
chmod 644 "$(conf A)"
node_start A
check "the daemon listens on the submission socket" wait_for test -S "$NODES/A/submit.sock"
home=$(mktemp -d /tmp/privsep-user.XXXXXX)
chmod 1777 "$home"
as() { local u=$1; shift; runuser -u "$u" -- "$@"; }
as "$uin" sh -c "head -c 300000 /dev/urandom >'$home/in.dat'; chmod 600 '$home/in.dat'"
usum=$(sha256sum <"$home/in.dat" | cut -c1-64)
check "the submitter cannot read the key" eval '! as "$uin" cat "$NODES/A/shipd.key" >/dev/null 2>&1'
check "the submitter cannot read the spool" eval '! as "$uin" ls "$(bay A)" >/dev/null 2>&1'
id=$(as "$uin" "$SHIPCTL" -c "$(conf A)" submit --to B --hold-for-poll --copy "$home/in.dat" 2>"$NODES/in.err")
rc=$?
check "a member of SUBMIT-GROUP submits (exit $rc: $(head -n 1 "$NODES/in.err"))" test "$rc" -eq 0 -a -n "$id"
uid=$(id -u "$uin")
check "the order records the submitter's uid" 	eval 'grep -qx "submitter: uid $uid ($uin)" "$(bay A)/deferred/$id"'
id2=$(as "$uin" "$SHIPCTL" -c "$(conf A)" submit --to B "$home/in.dat" 2>>"$NODES/in.err")
check "without --copy the submitter's own file is removed, by the submitter" 	test -n "$id2" -a ! -e "$home/in.dat"
check "the member's file arrives whole" wait_for eval \
	'[ -f "$(bay B)/incoming/in.dat" ] && [ "$(sha256sum <"$(bay B)/incoming/in.dat" | cut -c1-64)" = "$usum" ]'
as "$uout" sh -c "echo hello >'$home/out.dat'"
as "$uout" "$SHIPCTL" -c "$(conf A)" submit --to B "$home/out.dat" >"$NODES/out.out" 2>"$NODES/out.err"
rc=$?
echo "# outsider: exit $rc: $(cat "$NODES/out.err")"
check "a user outside SUBMIT-GROUP is refused (exit 77)" test "$rc" -eq 77
check "with one line naming the group" \
	eval '[ "$(wc -l <"$NODES/out.err")" -eq 1 ] && grep -q "may not submit: not in SUBMIT-GROUP $grp" "$NODES/out.err"'
check "nothing queued for the outsider" test ! -s "$NODES/out.out" -a -e "$home/out.dat"
check "the refusal is logged" log_has A "submission refused: uid $(id -u "$uout") ($uout)"
node_stop A
echo fallback >"$NODES/fb.dat"
check "no daemon: root seals in process (the key is readable)" \
	eval 'ctl A submit --to B "$NODES/fb.dat" >/dev/null 2>&1'
rm -rf "$home"
finish

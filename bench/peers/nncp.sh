#!/bin/bash
# bench/peers/nncp.sh - one benchmark run of NNCP on loopback, the same
# cases and output as bench/shipd.sh: a fresh rig of two nodes (A sends,
# B runs nncp-daemon) or three (A -> R -> B, R a relay also running
# nncp-daemon) with exchanged keys, then nncp-file + nncp-call + nncp-toss.
#
#   bench/peers/nncp.sh hop1|hop2 FILE | files DIR
#   bench/peers/nncp.sh queued DIR   every file queued by nncp-file first; then
#                                    the call + toss alone are timed
#   bench/peers/nncp.sh submit DIR   nncp-file of each file alone, its CPU taken
#                                    per call by build/bench/runeach (no daemon)
# BENCH_PORT_B sets B's daemon port, BENCH_PEER_PORT the port A calls it on
# (bench/wan.sh puts bench/delayproxy between the two; one hop only).
# Prints "RESULT SECONDS CPU MAXRSS_KIB DETAIL". One hop, DETAIL also has
# "idle_excluded:S": t0 to the last packet B received (its log's last
# sp-file-done) plus the toss's own wall time, i.e. without the second or
# two nncp-call stays connected and idle (-onlinedeadline 1, its least)
# before it hangs up and the toss can start. Everything lives in a temp
# dir removed on exit; daemons are stopped by their pid.
set -u
case_=${1:?usage: nncp.sh hop1|hop2|files|queued|submit SRC}; src=${2:?usage: nncp.sh CASE SRC}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/bench/lib.sh"
command -v nncp-daemon >/dev/null || { echo "nncp.sh: nncp not installed (scripts/install-deps --bench)" >&2; exit 69; }
R=$(mktemp -d /tmp/nncp-bench.XXXXXX)
declare -A DPID
cleanup() {
	local p
	for p in "${DPID[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$R"
}
trap cleanup EXIT; [ -n "${KEEP:-}" ] && trap "" EXIT
trap 'exit 130' INT TERM
base=$((20000 + RANDOM % 20000))
port_b=${BENCH_PORT_B:-$((base + 3))}; dial=${BENCH_PEER_PORT:-$port_b}

# keys of node N in $R/N/keys (the "self" block of nncp-cfgnew)
mkkeys() {
	mkdir -p "$R/$1/spool" "$R/$1/in"
	nncp-cfgnew -nocomments | awk '/^  self: \{/ {on=1; next} on && /^  \}/ {exit} on {print}' >"$R/$1/keys"
}
key() { awk -v k="$2:" '$1 == k {print $2}' "$R/$1/keys"; }
neigh() {	# neigh NAME [extra hjson lines]
	local n=$1; shift
	echo "    $n: {"
	echo "      id: $(key "$n" id)"
	echo "      exchpub: $(key "$n" exchpub)"
	echo "      signpub: $(key "$n" signpub)"
	echo "      noisepub: $(key "$n" noisepub)"
	for l in "$@"; do echo "      $l"; done
	echo "    }"
}
mkconf() {	# mkconf NODE then neigh blocks on stdin
	{
		echo "{"
		echo "  spool: $R/$1/spool"
		echo "  log: $R/$1/log"
		echo "  self: {"; sed 's/^/  /' "$R/$1/keys"; echo "  }"
		echo "  neigh: {"
		neigh "$1" | sed "1s/^    [A-Za-z]*:/    self:/"
		cat
		echo "  }"
		echo "}"
	} >"$R/$1/conf"
}
run() {	# run LABEL CMD... : under /usr/bin/time into $R/LABEL.time (appended runs add up)
	local lab=$1; shift
	/usr/bin/time -f "$TIMEFMT" -a -o "$R/$lab.time" "$@" >>"$R/out.log" 2>&1
}
daemon() {	# daemon NODE PORT
	/usr/bin/time -f "$TIMEFMT" -o "$R/daemon-$1.time" \
		nncp-daemon -cfg "$R/$1/conf" -bind "127.0.0.1:$2" -quiet -noprogress >>"$R/$1/daemon.log" 2>&1 &
	DPID[$1]=$!
	for _ in $(seq 100); do ss -ltn | grep -q ":$2 " && return 0; sleep 0.05; done
	echo "nncp.sh: daemon $1 did not listen" >&2; return 1
}
dstop() { local t=${DPID[$1]}; pkill -TERM -P "$t" -x nncp-daemon; wait "$t" 2>/dev/null; unset "DPID[$1]"; }

if [ "$case_" = hop2 ]; then
	for n in A X B; do mkkeys $n; done
	neigh X "addrs: {lo: \"127.0.0.1:$((base + 2))\"}" | cat - <(neigh B "via: [\"X\"]") | mkconf A
	{ neigh A; neigh B "addrs: {lo: \"127.0.0.1:$((base + 3))\"}"; } | mkconf X
	{ neigh X; neigh A "incoming: \"$R/B/in\"" "via: [\"X\"]"; } | mkconf B
	daemon X $((base + 2)) && daemon B $((base + 3)) || exit 1
	nodes="A X B"
else
	for n in A B; do mkkeys $n; done
	neigh B "addrs: {lo: \"127.0.0.1:$dial\"}" | mkconf A
	neigh A "incoming: \"$R/B/in\"" | mkconf B
	nodes="A B"
	if [ "$case_" = submit ]; then	# the submissions alone, no daemon
		line=$("$TOP/build/bench/runeach" "$src" -- nncp-file -quiet -noprogress \
			-cfg "$R/A/conf" {} B:) || { echo "nncp.sh: $line" >&2; exit 1; }
		read -r _ n failed wall cpu rss _ _ mean _ med _ min _ _ _ <<<"$line"
		echo "RESULT $wall $cpu $rss nncp-file:$((rss / 1024))M/${cpu}s,cpu_ms_per_call:$mean/$med/$min(mean/median/min),calls:$n,failed:$failed"
		exit 0
	fi
	daemon B "$port_b" || exit 1
fi
q=(-quiet -noprogress)
ship() {	# one submission then the calls and tosses to move it all the way
	if [ "$case_" = hop2 ]; then
		run call nncp-call -cfg "$R/A/conf" "${q[@]}" -onlinedeadline 1 X &&
		run toss nncp-toss -cfg "$R/X/conf" "${q[@]}" &&
		run call nncp-call -cfg "$R/X/conf" "${q[@]}" -onlinedeadline 1 B &&
		run toss nncp-toss -cfg "$R/B/conf" "${q[@]}"
	else
		run call nncp-call -cfg "$R/A/conf" "${q[@]}" -onlinedeadline 1 B || return 1
		tt0=$(now)
		run toss nncp-toss -cfg "$R/B/conf" "${q[@]}"
		t_toss=$(elapsed "$tt0" "$(now)")
	fi
}
t_toss=0
t0=$(now)
if [ "$case_" = queued ]; then
	want=$(nfiles "$src")
	for f in "$src"/*; do run file nncp-file "${q[@]}" -cfg "$R/A/conf" "$f" "B:" || break; done
	t0=$(now)
	ship
elif [ "$case_" = files ]; then
	want=$(nfiles "$src")
	# each file submitted separately, and called + tossed as it comes, the
	# way a queue that ships at once would be driven
	for f in "$src"/*; do run file nncp-file "${q[@]}" -cfg "$R/A/conf" "$f" "B:" || break; done
	ship
else
	want=1
	run file nncp-file "${q[@]}" -cfg "$R/A/conf" "$src" "B:" && ship
fi
wait_files "$R/B/in" "$want" 5; rc=$?
t1=$(now)
got=$(nfiles "$R/B/in")
for n in $nodes; do [ -n "${DPID[$n]:-}" ] && dstop "$n"; done
pairs=()
for l in file call toss; do pairs+=("nncp-$l=$R/$l.time"); done
for n in $nodes; do [ -f "$R/daemon-$n.time" ] && pairs+=("daemon-$n=$R/daemon-$n.time"); done
read -r cpu rss detail < <(sum_times "${pairs[@]}")
if [ "$case_" != hop2 ]; then	# the last packet in, from B's log (UTC, ns)
	last=$(awk '/^When: / { w = $2 } /^Who: sp-file-done/ { l = w } END { print l }' "$R/B/log" 2>/dev/null)
	[ -n "$last" ] && last=$(date -d "$last" +%s.%N 2>/dev/null) &&
		detail="$detail,idle_excluded:$(awk -v a="$t0" -v b="$last" -v t="$t_toss" 'BEGIN { printf "%.3f", b - a + t }')"
fi
echo "RESULT $(elapsed "$t0" "$t1") $cpu $rss $detail,delivered:$got/$want"
[ $rc -eq 0 ] || { tail -n 5 "$R/out.log" >&2; exit 1; }

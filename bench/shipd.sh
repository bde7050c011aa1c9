#!/bin/bash
# bench/shipd.sh - one benchmark run of shipd on loopback with real daemons
# (tests/lib/nodes.sh): a fresh network per run, daemons run under
# /usr/bin/time so their CPU and peak RSS include every reaped worker.
#
#   bench/shipd.sh hop1  FILE   A -> B, one file, submit to delivered
#   bench/shipd.sh hop2  FILE   A -> X (exposed relay) -> B
#   bench/shipd.sh files DIR    A -> B, every file of DIR submitted separately,
#                               first submission to last delivery
#   bench/shipd.sh queued DIR   the same files, all submitted while A is
#                               stopped; then A's start to last delivery
#                               (the send rate without the submissions)
#   bench/shipd.sh drops DIR    A -> B, the daemons running, every file of DIR
#                               renamed into A's shipping bay (drop/B/) one
#                               at a time, each once the one before was
#                               picked up; first drop to last delivery
#   bench/shipd.sh idle  SECS   A and B running with nothing to do: CPU
#                               ticks of both masters (+ reaped children)
#   bench/shipd.sh submit DIR   every file submitted by its own shipctl, no
#                               daemon running, each call's CPU taken from
#                               wait4() by build/bench/runeach
# For bench/wan.sh (one hop): BENCH_PORT_B sets B's LISTEN port,
# BENCH_PEER_PORT the port on A's PEER line for B (where bench/delayproxy
# listens), BENCH_CONF_A / BENCH_CONF_B extra shipping.conf lines (one a
# line) for A / B.
# Prints "RESULT SECONDS CPU MAXRSS_KIB DETAIL" (see bench/lib.sh). Never
# asserts on the figures; exits non-zero only if nothing was delivered.
set -u
case_=${1:?usage: shipd.sh hop1|hop2|files|queued|drops|submit|idle SRC}; src=${2:?usage: shipd.sh CASE SRC}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/lib/nodes.sh"
. "$TOP/bench/lib.sh"
WAIT=30
nodes_init
declare -A TPID

bstart() {	# like node_start, under /usr/bin/time; PID[] is shipd itself
	local n=$1
	/usr/bin/time -f "$TIMEFMT" -o "$NODES/$n/time" \
		"$SHIPD" -c "$(conf "$n")" -f >>"$NODES/$n/shipd.log" 2>&1 &
	TPID[$n]=$!
	wait_for grep -qs "started" "$NODES/$n/shipd.log" || { echo "# $n did not start" >&2; return 1; }
	PID[$n]=$(pgrep -P "${TPID[$n]}" -x shipd)
}
bstop() { node_stop "$1"; wait "${TPID[$1]}" 2>/dev/null; }

base=$((20000 + RANDOM % 20000))
port_b=${BENCH_PORT_B:-$((base + 3))}
big="BAY-SIZE-LIMIT 0"
extra_a=(); extra_b=()
[ -n "${BENCH_CONF_A:-}" ] && mapfile -t extra_a <<<"$BENCH_CONF_A"
[ -n "${BENCH_CONF_B:-}" ] && mapfile -t extra_b <<<"$BENCH_CONF_B"
node_add A $((base + 1)) "$big" "${extra_a[@]}"
node_add B "$port_b" "$big" "${extra_b[@]}"
nodes="A B"
if [ "$case_" = hop2 ]; then
	node_add X $((base + 2)) "$big"
	node_peer A X; node_peer X A; node_peer X B; node_peer B X
	node_key A B; node_key B A
	node_route A X B
	nodes="A X B"
else
	# A reaches B at BENCH_PEER_PORT when set (the proxy), else at its LISTEN port
	awk -v p="${BENCH_PEER_PORT:-$port_b}" '{ $4 = p; print }' "$NODES/B/peerline" >>"$(conf A)"
	node_peer B A
fi
if [ "$case_" = submit ]; then	# the submissions alone, no daemon
	cp -al "$src" "$NODES/in"
	line=$("$TOP/build/bench/runeach" "$NODES/in" -- "$SHIPCTL" -c "$(conf A)" submit --to B {}) ||
		{ echo "shipd.sh: $line" >&2; exit 1; }
	read -r _ n failed wall cpu rss _ _ mean _ med _ min _ _ _ <<<"$line"
	echo "RESULT $wall $cpu $rss submit:$((rss / 1024))M/${cpu}s,cpu_ms_per_call:$mean/$med/$min(mean/median/min),calls:$n,failed:$failed"
	exit 0
fi
for n in $nodes; do
	[ "$case_" = queued ] && [ "$n" = A ] && continue
	bstart "$n" || exit 1
done

# idle: CPU seconds both daemons use in SECS with nothing to do
ticks() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"; }
if [ "$case_" = idle ]; then
	sleep 1
	a0=$(ticks "${PID[A]}"); b0=$(ticks "${PID[B]}")
	sleep "$src"
	a1=$(ticks "${PID[A]}"); b1=$(ticks "${PID[B]}")
	hz=$(getconf CLK_TCK)
	echo "RESULT $src $(awk -v t=$((a1 - a0 + b1 - b0)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }') 0 ticks:A=$((a1 - a0)),B=$((b1 - b0))"
	exit 0
fi

# the input is hard-linked in, so the submission consumes a link, not a copy
work=$NODES/work; mkdir -p "$work"
inc=$(bay B)/incoming
if [ "$case_" = files ]; then
	cp -al "$src" "$work/in"
	want=$(nfiles "$work/in")
	t0=$(now)
	/usr/bin/time -f "$TIMEFMT" -o "$NODES/submit.time" bash -c '
		for f in "$2"/*; do "$1" -c "$3" submit --to B "$f" >/dev/null 2>&1 || exit 1; done
	' sh "$SHIPCTL" "$work/in" "$(conf A)" || echo "# submit failed" >&2
elif [ "$case_" = drops ]; then
	cp -al "$src" "$work/in"
	want=$(nfiles "$work/in")
	drop=$(bay A)/drop/B
	mkdir -p "$drop"
	sleep 0.5	# A watches the new DEST directory
	t0=$(now)
	for f in "$work/in"/*; do
		mv "$f" "$drop/"
		t=$SECONDS
		while [ -e "$drop/${f##*/}" ] && [ $((SECONDS - t)) -lt 60 ]; do sleep 0.01; done
	done
elif [ "$case_" = queued ]; then
	cp -al "$src" "$work/in"
	want=$(nfiles "$work/in")
	/usr/bin/time -f "$TIMEFMT" -o "$NODES/submit.time" bash -c '
		for f in "$2"/*; do "$1" -c "$3" submit --to B "$f" >/dev/null 2>&1 || exit 1; done
	' sh "$SHIPCTL" "$work/in" "$(conf A)" || echo "# submit failed" >&2
	t0=$(now)
	bstart A || exit 1
else
	ln "$src" "$work/$(basename "$src")" 2>/dev/null || cp "$src" "$work/"
	want=1
	t0=$(now)
	/usr/bin/time -f "$TIMEFMT" -o "$NODES/submit.time" \
		"$SHIPCTL" -c "$(conf A)" submit --to B "$work/$(basename "$src")" >/dev/null 2>&1 ||
		echo "# submit failed" >&2
fi
t_sub=$(elapsed "$t0" "$(now)")
wait_files "$inc" "$want" 900; rc=$?
t1=$(now)
for n in $nodes; do bstop "$n"; done
pairs=(submit="$NODES/submit.time")
for n in $nodes; do pairs+=("shipd-$n=$NODES/$n/time"); done
read -r cpu rss detail < <(sum_times "${pairs[@]}")
echo "RESULT $(elapsed "$t0" "$t1") $cpu $rss $detail,submit_wall:${t_sub}s,delivered:$(nfiles "$inc")/$want"
[ $rc -eq 0 ] || { FAILS=1; exit 1; }
exit 0

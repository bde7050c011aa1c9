#!/bin/bash
# bench/fsyncs.sh - how many fsyncs and renames an order costs, per
# directory, on each node: N files of 4 KiB submitted to A while A is
# stopped (the submissions traced as S), then A started and everything
# shipped over one hop to B, both daemons under strace -f -y.
#
#   bench/fsyncs.sh [N]        (default 300)
#
# Prints per node a table "what per-order count" where "what" is
# "dir:NAME" (a directory fsync), "file:NAME" (a file fsynced in directory
# NAME), "rename:FROM>TO" and "unlink:NAME", and a total line. Diagnostic
# only: never asserts.
#
#   FSYNCS_COUNT=1 bench/fsyncs.sh [N]
#
# counts every system call instead (strace -c): per node the calls and
# failed calls per order of each system call, most frequent first, over
# the daemon and all its children (the submissions, S, included). The
# counts hardly move from run to run, unlike times on a shared machine.
# Needs strace; run it in a network namespace of its own (unshare -n)
# when other engineers share the loopback ports.
set -u
N=${1:-300}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/lib/nodes.sh"
. "$TOP/bench/lib.sh"
nodes_init
TR="strace -f -qq -y -e trace=fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat"
[ -n "${FSYNCS_COUNT:-}" ] && TR="strace -f -qq -c -S calls"

base=$((20000 + RANDOM % 20000))
node_add A $((base + 1)) "BAY-SIZE-LIMIT 0"
node_add B $((base + 3)) "BAY-SIZE-LIMIT 0"
node_peer A B; node_peer B A

mkdir -p "$NODES/in"
for i in $(seq "$N"); do head -c 4096 /dev/urandom >"$NODES/in/f$i"; done
$TR -o "$NODES/S.trace" bash -c '
	for f in "$2"/*; do "$1" -c "$3" submit --to B "$f" >/dev/null 2>&1 || exit 1; done
' sh "$SHIPCTL" "$NODES/in" "$(conf A)" || echo "# submit failed" >&2

tstart() {
	local n=$1
	: >>"$NODES/$n/shipd.log"
	$TR -o "$NODES/$n.trace" "$SHIPD" -c "$(conf "$n")" -f >>"$NODES/$n/shipd.log" 2>&1 &
	SPID[$n]=$!
	wait_for grep -q "started" "$NODES/$n/shipd.log" || { echo "# $n did not start"; return 1; }
	PID[$n]=$(pgrep -P "${SPID[$n]}" -x shipd)	# stopped itself, not strace
}
declare -A SPID
tstart B || exit 1
tstart A || exit 1
wait_files "$(bay B)/incoming" "$N" 600 || echo "# only $(nfiles "$(bay B)/incoming")/$N delivered" >&2
# then every receipt home and every order finished: both queues empty
queued() {
	find "$(bay A)"/{outgoing,active,deferred,partial} "$(bay B)"/{outgoing,active,deferred,partial} \
		-maxdepth 1 -type f ! -name '.*' 2>/dev/null | wc -l
}
for _ in $(seq 600); do [ "$(queued)" -eq 0 ] && break; sleep 0.2; done
[ "$(queued)" -eq 0 ] || echo "# $(queued) orders still queued" >&2
node_stop A; node_stop B
wait "${SPID[A]}" "${SPID[B]}" 2>/dev/null

# fsync(3</x/y/spool/ms_ship/outgoing>) = 0: a directory when the path is a
# bay directory itself; renameat2(AT_FDCWD</..>, "/x/a/ID", ..., "/x/b/ID")
summary() {
	awk -v n="$N" '
	# where in a bay: "outgoing" for BAY/outgoing, "outgoing/" for a file
	# in it, "unpack/*/" for a file deeper down; outside a spool: "other"
	function where(p,   a, k, i, r, d) {
		if (!match(p, /\/spool\//)) return "other"
		k = split(substr(p, RSTART + RLENGTH), a, "/"); i = 1
		if (k > 1 && a[1] !~ /^(tmp|drop|data|partial|inflight|unpack|incoming|receipts|seen|done|outgoing|active|deferred|hold|joining|return|corrupt|peers)$/) i = 2
		if (i > k) return "spool"
		d = k - i
		return a[i] (d == 0 ? "" : d == 1 ? "/" : "/*/")
	}
	/ = -1/ { next }
	/fsync\(|fdatasync\(/ {
		if (match($0, /<[^>]*>/)) { w = where(substr($0, RSTART + 1, RLENGTH - 2)); c["fsync " w]++; fs++ }
		next
	}
	/rename/ {
		k = 0; s = $0
		while (match(s, /"[^"]*"/)) { q[++k] = substr(s, RSTART + 1, RLENGTH - 2); s = substr(s, RSTART + RLENGTH) }
		if (k >= 2) { c["rename " where(q[1]) ">" where(q[2])]++; rn++ }
		next
	}
	/unlink/ {
		if (match($0, /"[^"]*"/)) c["unlink " where(substr($0, RSTART + 1, RLENGTH - 2))]++
		next
	}
	END {
		for (k in c) printf "  %-30s %7.2f\n", k, c[k] / n
		printf "  %-30s %7.2f\n", "TOTAL fsync", fs / n
		printf "  %-30s %7.2f\n", "TOTAL rename", rn / n
	}' "$1" | sort
}
[ -n "${FSYNCS_KEEP:-}" ] && mkdir -p "$FSYNCS_KEEP" && for n in A B; do cp "$NODES/$n.trace" "$NODES/$n/shipd.log" "$FSYNCS_KEEP"/ 2>/dev/null; cp "$NODES/$n/shipd.log" "$FSYNCS_KEEP/$n.log"; done
# strace -c's table: "% time seconds usecs/call calls [errors] syscall"
counts() {
	awk -v n="$N" '
	$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
		e = NF == 6 ? $5 : 0
		printf "  %-20s %8.2f %8.2f\n", $NF, $4 / n, e / n
	}
	$NF == "total" { printf "  %-20s %8.2f %8.2f\n", "TOTAL", $(NF - 2) / n, (NF == 6 ? $(NF - 1) : 0) / n }
	' "$1"
}
for n in S A B; do
	echo "== $n (per order, $N orders)"
	if [ -n "${FSYNCS_COUNT:-}" ]; then
		printf '  %-20s %8s %8s\n' syscall calls errors
		counts "$NODES/$n.trace"
	else
		summary "$NODES/$n.trace"
	fi
done

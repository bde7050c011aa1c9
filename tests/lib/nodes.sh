# tests/lib/nodes.sh - build small shipd networks on loopback for scenario
# tests: one directory per node (conf, key, spool), real daemons, and
# bounded waits. Source it; call nodes_init first. Everything lives under
# $NODES (a temp dir) and is removed, daemons stopped, on exit.
#
#   node_add NAME PORT [extra conf lines...]   create a node (key generated)
#   node_peer A B                               A knows B as a PEER (and vice versa: call twice)
#   node_key A B                                A knows B's key only (a far node)
#   node_route A NEXTHOP DEST...                A routes DEST... via NEXTHOP
#   node_start NAME / node_stop NAME / node_kill NAME
#   ctl NAME ARGS...                            bin/shipctl -c NAME's conf ARGS...
#   wait_for CMD... (within $WAIT seconds)      poll a condition, 0.1 s steps
#   receipted IDFILE [ORIGIN DEST]              ORIGIN (A) has DEST's (B) receipt for every id
#   ok NAME / fail NAME WHY / check NAME CMD...

: "${TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SHIPD=${SHIPD:-$TOP/bin/shipd}
SHIPCTL=${SHIPCTL:-$TOP/bin/shipctl}
WAIT=${WAIT:-20}
FAILS=0
declare -A PID

nodes_init() {
	NODES=$(mktemp -d /tmp/shipd-nodes.XXXXXX)
	trap nodes_cleanup EXIT
	trap 'exit 130' INT TERM
}

# pair_init [A-DIRECTIVE...] [-- B-DIRECTIVE...]: the two-node start most
# scenarios share: nodes_init, base (a random port base), work (a scratch
# directory), node A on base+1 and B on base+2 with their directives, each
# the other's peer. Neither is started.
pair_init() {
	local a=() b=() into=a
	for d in "$@"; do
		if [ "$d" = -- ]; then into=b; elif [ $into = a ]; then a+=("$d"); else b+=("$d"); fi
	done
	nodes_init
	base=$((20000 + RANDOM % 20000))
	work=$NODES/work; mkdir -p "$work"
	node_add A $((base + 1)) "${a[@]}" || return 1
	node_add B $((base + 2)) "${b[@]}" || return 1
	node_peer A B; node_peer B A
}

nodes_cleanup() {
	local n
	for n in "${!PID[@]}"; do node_stop "$n" 2>/dev/null; done
	if [ "$FAILS" -gt 0 ] || [ -n "${KEEP:-}" ]; then
		for f in "$NODES"/*/shipd.log; do
			[ -f "$f" ] && { echo "# ---- ${f#$NODES/}"; tail -n 40 "$f" | sed 's/^/# /'; }
		done
	fi
	[ -n "${KEEP:-}" ] || rm -rf "$NODES"
}

ok() { echo "ok - $1"; }
fail() { echo "not ok - $1${2:+: $2}"; FAILS=$((FAILS + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else fail "$name"; fi; }
finish() { exit $((FAILS > 0)); }

wait_for() {
	local i
	for ((i = 0; i < WAIT * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

conf() { echo "$NODES/$1/shipping.conf"; }
spool() { echo "$NODES/$1/spool"; }
bay() { echo "$NODES/$1/spool/ms_ship"; }
ctl() { local n=$1; shift; "$SHIPCTL" -c "$(conf "$n")" "$@"; }

node_add() {
	local name=$1 port=$2; shift 2
	mkdir -p "$NODES/$name/spool"
	local defaults=("NODE $name" "LISTEN 127.0.0.1 $port" "SPOOL spool" "KEY-FILE shipd.key"
		"LOG stderr" "RETRY-MIN 1s" "RETRY-MAX 4s" "IO-TIMEOUT 5s" "MIN-FREE-DISK 1m")
	{
		# a directive the test gives replaces the default (none may repeat)
		for d in "${defaults[@]}"; do
			for l in "$@"; do [ "${l%% *}" = "${d%% *}" ] && continue 2; done
			echo "$d"
		done
		for l in "$@"; do echo "$l"; done
	} >"$(conf "$name")"
	ctl "$name" keygen >"$NODES/$name/peerline" 2>/dev/null ||
		{ echo "# keygen failed for $name"; return 1; }
}

node_peer() {	# A learns B as a direct peer
	cat "$NODES/$2/peerline" >>"$(conf "$1")"
}

node_key() {	# A learns B's key only
	awk '{print "KEY", $2, $5}' "$NODES/$2/peerline" >>"$(conf "$1")"
}

node_route() {
	local n=$1; shift
	echo "ROUTE $*" >>"$(conf "$n")"
}

node_start() {
	local n=$1 log=$NODES/$1/shipd.log before
	: >>"$log"
	# ready when this start says so (a line of an earlier start does not
	# count), or when it died
	before=$(grep -c "shipd .* started" "$log")
	$SHIPD -c "$(conf "$n")" -f >>"$log" 2>&1 &
	PID[$n]=$!
	wait_for node_started "$log" "$before" || { echo "# $n did not start"; return 1; }
}
node_started() { [ "$(grep -c "shipd .* started" "$1")" -gt "$2" ]; }

node_stop() {
	local n=$1 p=${PID[$1]:-}
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	unset "PID[$n]"
}

node_kill() {
	local n=$1 p=${PID[$1]:-}
	[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	unset "PID[$n]"
}

log_has() { grep -q -- "$2" "$NODES/$1/shipd.log"; }
# receipted IDFILE [ORIGIN DEST]: ORIGIN's log (default A) says of every
# order in IDFILE (one id a line) that DEST (default B) delivered it: its
# receipt came back. One pass over the log, however many ids.
receipted() {
	local o=${2:-A} d=${3:-B}
	[ -z "$(sed -n "s/.*order \([^ ]*\): delivered to $d at.*/\1/p" "$NODES/$o/shipd.log" |
		sort -u | comm -23 <(sort -u "$1") -)" ]
}
delivered() { [ -f "$(bay "$1")/incoming/$2" ]; }
count_files() { find "$1" -maxdepth 1 -type f ! -name '.*' 2>/dev/null | wc -l; }
# at_least N DIR: DIR holds N or more files (for wait_for: evaluated on each poll)
at_least() { [ "$(count_files "$2")" -ge "$1" ]; }

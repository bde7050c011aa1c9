# tests/lib/netns.sh - network-namespace helpers for scenario tests.
#
# Offers: namespaces, switches (a bridge alone in its own namespace), veth
# links, addresses, routes, sysctls, per-namespace /etc/netns/NAME/hosts,
# nft ruleset loading and counter/set reading, background processes and
# packet captures inside a namespace, and TCP/UDP reachability probes.
#
# Every name this run creates carries a prefix unique to the run
# ($NS_PREFIX, e.g. "sd4k2x9q"), so parallel runs and leftovers never clash.
# ns_init installs a trap that removes EVERYTHING the run created (its
# namespaces with every process inside them, its /etc/netns/NAME dirs, its
# background processes, its work dir) on exit, failure or interruption.
# A run killed with SIGKILL leaves a state file in $NS_STATE_DIR; the next
# ns_init reaps the namespaces of runs whose owner process is gone.
#
# Must never: touch a namespace, route, firewall or process it did not
# create; kill anything by name; be used other than as root.
#
# Usage: . "$TOP/tests/lib/netns.sh"; ns_init; ns_add a; ns_exec a ip addr
# shellcheck shell=bash

NS_STATE_DIR=${NS_STATE_DIR:-/run/shipd-netns}
NS_PREFIX=
NS_WORK=
NS_LIST=()		# full namespace names, in creation order
NS_PIDS=()		# background processes started by ns_bg
NS_MADE_ETC_NETNS=0

# ns_init: pick the run's prefix, make its work dir, install the cleanup trap.
ns_init() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "netns.sh: must run as root" >&2
		return 1
	fi
	local t
	for t in ip nft jq; do
		command -v "$t" >/dev/null || { echo "netns.sh: $t not installed" >&2; return 1; }
	done
	mkdir -p "$NS_STATE_DIR" || return 1
	# Remove /etc/netns at the end only if no one had it before (rmdir
	# leaves it to a parallel run still using it).
	[ -d /etc/netns ] || NS_MADE_ETC_NETNS=1
	ns_reap_stale
	NS_WORK=$(mktemp -d /tmp/shipd-netns.XXXXXXXX) || return 1
	# The prefix is the work dir's random part, so one name
	# ties the dir, the namespaces and the state file together.
	NS_PREFIX=sd$(basename "$NS_WORK" | sed 's/^shipd-netns\.//')
	echo "owner $$" >"$NS_STATE_DIR/$NS_PREFIX"
	echo "work $NS_WORK" >>"$NS_STATE_DIR/$NS_PREFIX"
	[ "$NS_MADE_ETC_NETNS" = 1 ] && echo "made-etc-netns" >>"$NS_STATE_DIR/$NS_PREFIX"
	trap 'ns_cleanup; exit 130' INT
	trap 'ns_cleanup; exit 143' TERM
	trap 'ns_cleanup; exit 129' HUP
	trap 'ns_cleanup' EXIT
}

# ns_reap_stale: remove what earlier runs left behind when their owner died.
ns_reap_stale() {
	local f owner ns pid work
	for f in "$NS_STATE_DIR"/sd*; do
		[ -f "$f" ] || continue
		owner=$(awk '$1 == "owner" { print $2 }' "$f")
		if [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; then
			continue
		fi
		for ns in $(awk '$1 == "ns" { print $2 }' "$f"); do
			for pid in $(ip netns pids "$ns" 2>/dev/null); do
				kill -KILL "$pid" 2>/dev/null
			done
			ip netns del "$ns" 2>/dev/null
			rm -rf "/etc/netns/$ns"
		done
		work=$(awk '$1 == "work" { print $2 }' "$f")
		case "$work" in /tmp/shipd-netns.*) rm -rf "$work" ;; esac
		grep -qx made-etc-netns "$f" && rmdir /etc/netns 2>/dev/null
		echo "netns.sh: reaped leftovers of run ${f##*/}" >&2
		rm -f "$f"
	done
}

# ns_cleanup: kill our processes, delete our namespaces and files. Idempotent.
ns_cleanup() {
	trap - EXIT INT TERM HUP
	local pid ns i
	for pid in "${NS_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	[ ${#NS_PIDS[@]} -gt 0 ] && sleep 0.3
	for ((i = ${#NS_LIST[@]} - 1; i >= 0; i--)); do
		ns=${NS_LIST[i]}
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	done
	for pid in "${NS_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	NS_PIDS=()
	for ((i = ${#NS_LIST[@]} - 1; i >= 0; i--)); do
		ns=${NS_LIST[i]}
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	done
	NS_LIST=()
	[ "$NS_MADE_ETC_NETNS" = 1 ] && rmdir /etc/netns 2>/dev/null
	if [ -n "$NS_WORK" ] && [ -d "$NS_WORK" ]; then
		if [ -n "${KEEP_WORK:-}" ]; then
			echo "netns.sh: kept $NS_WORK" >&2
		else
			rm -rf "$NS_WORK"
		fi
	fi
	[ -n "$NS_PREFIX" ] && rm -f "$NS_STATE_DIR/$NS_PREFIX"
	return 0
}

# ns_name SHORT: the full name of one of this run's namespaces.
ns_name() { echo "$NS_PREFIX-$1"; }

# ns_exec SHORT CMD...: run CMD inside the namespace.
ns_exec() {
	local ns=$NS_PREFIX-$1
	shift
	ip netns exec "$ns" "$@"
}

# ns_add SHORT: create a namespace with lo up and IPv6 off (no stray
# router solicitations in captures or counters).
ns_add() {
	local ns=$NS_PREFIX-$1
	ip netns add "$ns" || return 1
	NS_LIST+=("$ns")
	echo "ns $ns" >>"$NS_STATE_DIR/$NS_PREFIX"
	ip -n "$ns" link set lo up
	ns_sysctl "$1" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# ns_sysctl SHORT KEY=VALUE...
ns_sysctl() {
	local s=$1
	shift
	ns_exec "$s" sysctl -q -w "$@" >/dev/null
}

# ns_switch SHORT: a namespace holding nothing but bridge br0 (a hub for a
# segment). Bridged frames never meet a firewall's rules this way, even
# where br_netfilter is loaded.
ns_switch() {
	ns_add "$1" || return 1
	ip -n "$NS_PREFIX-$1" link add br0 type bridge || return 1
	ip -n "$NS_PREFIX-$1" link set br0 up
}

# ns_plug SWITCH PORT HOST IFNAME ADDR/PREFIX: veth from HOST's IFNAME to a
# port named PORT on SWITCH's bridge; ADDR may be "-" for none.
ns_plug() {
	local sw=$NS_PREFIX-$1 port=$2 host=$NS_PREFIX-$3 ifn=$4 addr=$5
	ip -n "$sw" link add "$port" type veth peer name "$ifn" netns "$host" || return 1
	ip -n "$sw" link set "$port" master br0 up || return 1
	[ "$addr" != - ] && { ip -n "$host" addr add "$addr" dev "$ifn" || return 1; }
	ip -n "$host" link set "$ifn" up
}

# ns_link A IFA ADDRA B IFB ADDRB: point-to-point veth between two namespaces.
ns_link() {
	local a=$NS_PREFIX-$1 ifa=$2 addra=$3 b=$NS_PREFIX-$4 ifb=$5 addrb=$6
	ip -n "$a" link add "$ifa" type veth peer name "$ifb" netns "$b" || return 1
	[ "$addra" != - ] && { ip -n "$a" addr add "$addra" dev "$ifa" || return 1; }
	[ "$addrb" != - ] && { ip -n "$b" addr add "$addrb" dev "$ifb" || return 1; }
	ip -n "$a" link set "$ifa" up && ip -n "$b" link set "$ifb" up
}

# ns_route SHORT DEST GATEWAY: DEST is a prefix or "default".
ns_route() { ip -n "$NS_PREFIX-$1" route add "$2" via "$3"; }

# ns_hosts SHORT < lines: the namespace's own /etc/hosts (ip netns exec
# bind-mounts /etc/netns/NAME/hosts over /etc/hosts for what runs inside).
ns_hosts() {
	local ns=$NS_PREFIX-$1
	mkdir -p "/etc/netns/$ns" || return 1
	cat >"/etc/netns/$ns/hosts"
}

# ns_nft SHORT FILE: load an nft ruleset file inside the namespace.
ns_nft() { ns_exec "$1" nft -f "$2"; }

# ns_counter SHORT TABLE NAME: packets seen by a named counter (inet family).
ns_counter() {
	ns_exec "$1" nft -j list counter inet "$2" "$3" 2>/dev/null |
		jq -r '[.nftables[] | select(.counter) | .counter.packets][0] // "?"'
}

# ns_counters SHORT TABLE: "name=packets ..." for every named counter.
ns_counters() {
	ns_exec "$1" nft -j list counters table inet "$2" 2>/dev/null |
		jq -r '[.nftables[] | select(.counter) | "\(.counter.name)=\(.counter.packets)"] | join(" ")'
}

# ns_set_elems SHORT TABLE SET: one element a line; concatenations are
# printed with their parts separated by blanks.
ns_set_elems() {
	ns_exec "$1" nft -j list set inet "$2" "$3" 2>/dev/null |
		jq -r '.nftables[] | select(.set) | .set.elem[]? |
			(if type == "object" and has("elem") then .elem.val else . end) |
			(if type == "object" and has("concat") then .concat | map(tostring) | join(" ")
			 else tostring end)'
}

# ns_bg SHORT LOG CMD...: start CMD in the namespace in the background,
# stdout+stderr to LOG; prints its pid (also remembered for cleanup).
# Call as: pid=$(ns_bg ...) is wrong (subshell); use ns_bg, then $NS_LASTPID.
NS_LASTPID=
ns_bg() {
	local ns=$NS_PREFIX-$1 log=$2
	shift 2
	ip netns exec "$ns" "$@" >>"$log" 2>&1 </dev/null &
	NS_LASTPID=$!
	NS_PIDS+=("$NS_LASTPID")
}

# ns_stop PID [SECS]: SIGTERM one of our background processes, wait up to
# SECS (default 5) for it, then SIGKILL. Returns 0 if it ended on SIGTERM.
ns_stop() {
	local pid=$1 secs=${2:-5} i rc=0
	kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		rc=1
	fi
	wait "$pid" 2>/dev/null
	local p keep=()
	for p in "${NS_PIDS[@]}"; do
		[ "$p" != "$pid" ] && keep+=("$p")
	done
	NS_PIDS=("${keep[@]}")
	return $rc
}

# ns_capture_start SHORT IFACE FILE [FILTER...]: tcpdump in the namespace,
# packet-buffered so FILE can be read while it runs; returns once tcpdump
# is listening. The pid is in $NS_LASTPID.
ns_capture_start() {
	local s=$1 ifn=$2 file=$3 i
	shift 3
	command -v tcpdump >/dev/null || { echo "netns.sh: tcpdump not installed" >&2; return 1; }
	ns_bg "$s" "$file.log" tcpdump -n -U -s 0 -i "$ifn" -w "$file" "$@"
	for ((i = 0; i < 50; i++)); do
		grep -q 'listening on' "$file.log" 2>/dev/null && return 0
		kill -0 "$NS_LASTPID" 2>/dev/null || break
		sleep 0.1
	done
	echo "netns.sh: tcpdump in $s did not start: $(tail -n 1 "$file.log")" >&2
	return 1
}

# ns_capture_stop PID: stop a capture so its file is complete.
ns_capture_stop() { ns_stop "$1" 3; }

# ns_tcp_probe SHORT ADDR PORT [SECS] [PAYLOAD]: try a TCP connection from
# the namespace. Prints and returns: "open" (0), "refused" (1, an answer
# came back: RST or ICMP), "timeout" (2, silently dropped).
ns_tcp_probe() {
	local s=$1 addr=$2 port=$3 secs=${4:-2} payload=${5:-}
	timeout "$secs" ip netns exec "$NS_PREFIX-$s" bash -c \
		'exec 3<>"/dev/tcp/$1/$2" || exit 1; [ -n "$3" ] && printf "%s\n" "$3" >&3; exec 3>&-' \
		probe "$addr" "$port" "$payload" 2>/dev/null
	case $? in
	0) echo open; return 0 ;;
	124) echo timeout; return 2 ;;
	*) echo refused; return 1 ;;
	esac
}

# ns_udp_send SHORT ADDR PORT PAYLOAD [SPORT]: one datagram (needs socat).
ns_udp_send() {
	local s=$1 addr=$2 port=$3 payload=$4 sport=${5:-}
	printf '%s\n' "$payload" | timeout 3 ip netns exec "$NS_PREFIX-$s" \
		socat -u - "UDP4-SENDTO:$addr:$port${sport:+,sourceport=$sport}" 2>/dev/null
}

# ns_listen SHORT PROTO PORT FILE: a socat listener (tcp|udp) appending
# what it receives to FILE; pid in $NS_LASTPID. Returns once it is bound.
ns_listen() {
	local s=$1 proto=$2 port=$3 file=$4 i spec
	command -v socat >/dev/null || { echo "netns.sh: socat not installed" >&2; return 1; }
	: >"$file"
	case $proto in
	tcp) spec="TCP4-LISTEN:$port,reuseaddr,fork" ;;
	udp) spec="UDP4-RECVFROM:$port,reuseaddr,fork" ;;
	*) echo "netns.sh: ns_listen: unknown protocol $proto" >&2; return 1 ;;
	esac
	ns_bg "$s" "$file.log" socat -u "$spec" "OPEN:$file,creat,append"
	for ((i = 0; i < 30; i++)); do
		ns_exec "$s" ss -Hlntu "sport = :$port" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	echo "netns.sh: listener $proto/$port in $s did not start" >&2
	return 1
}

# ns_wait_listen SHORT PROTO ADDR:PORT SECS: wait until a socket listens.
ns_wait_listen() {
	local s=$1 proto=$2 ap=$3 secs=$4 i flag=-Hltn
	[ "$proto" = udp ] && flag=-Hlun
	for ((i = 0; i < secs * 10; i++)); do
		ns_exec "$s" ss $flag 2>/dev/null | awk '{ print $4 }' | grep -qx "$ap" && return 0
		sleep 0.1
	done
	return 1
}

# ns_sample_start SHORT FILE [INTERVAL]: record `ss -tuanp` inside the
# namespace every INTERVAL seconds (default 0.1) to FILE; pid in $NS_LASTPID.
ns_sample_start() {
	local s=$1 file=$2 iv=${3:-0.1}
	ns_bg "$s" "$file.err" bash -c 'while :; do ss -Htuanp; sleep "$2"; done >>"$1"' \
		sample "$file" "$iv"
}

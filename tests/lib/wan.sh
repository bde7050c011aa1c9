# tests/lib/wan.sh - two namespaces joined by an emulated wide-area link
# (tests/tools/wanlink: loss, a rate-limited drop-tail queue, delay,
# reordering, duplication), for scenario tests and bench/wan.sh.
#
#   wan_up [wanlink options...]   namespaces "wa" (10.9.0.1) and "wb"
#                                 (10.9.0.2), the link between them
#   wan_down                      stop the link (prints its counters)
#   wan_restart [options...]      new link settings on the same namespaces
#
# Needs netns.sh sourced and ns_init called (the namespaces and the
# wanlink process are removed by its trap). $WANLINK names the tool
# (default build/tests/wanlink). Must never touch a namespace it did not
# create.
# shellcheck shell=bash

WANLINK=${WANLINK:-$TOP/build/tests/wanlink}
WAN_A=10.9.0.1 WAN_B=10.9.0.2
WAN_PID= WAN_LOG= WAN_RUNS=0

wan_up() {
	local s
	[ -x "$WANLINK" ] || { echo "wan.sh: $WANLINK not built (make tests)" >&2; return 1; }
	ns_add wa && ns_add wb || return 1
	for s in wa wb; do
		ns_exec $s ip tuntap add dev wl0 mode tun || return 1
		ns_exec $s ip link set wl0 txqueuelen 10000 || return 1
	done
	ns_exec wa ip addr add $WAN_A peer $WAN_B dev wl0 &&
		ns_exec wb ip addr add $WAN_B peer $WAN_A dev wl0 || return 1
	wan_restart "$@"
}

wan_restart() {
	local i
	[ -n "$WAN_PID" ] && wan_down >/dev/null
	WAN_LOG=$NS_WORK/wanlink.$((++WAN_RUNS)).log
	: >"$WAN_LOG"
	"$WANLINK" "$@" "/run/netns/$(ns_name wa):wl0" "/run/netns/$(ns_name wb):wl0" \
		>"$WAN_LOG" 2>&1 </dev/null &
	WAN_PID=$!
	NS_PIDS+=("$WAN_PID")
	for ((i = 0; i < 50; i++)); do
		grep -q '^wanlink: rtt' "$WAN_LOG" && break
		kill -0 "$WAN_PID" 2>/dev/null || { cat "$WAN_LOG" >&2; return 1; }
		sleep 0.1
	done
	ns_exec wa ip link set wl0 up && ns_exec wb ip link set wl0 up
}

# wan_down: stop the link; its counters go to stdout.
wan_down() {
	[ -n "$WAN_PID" ] || return 0
	ns_stop "$WAN_PID" 3
	WAN_PID=
	grep -v '^wanlink: rtt' "$WAN_LOG"
}

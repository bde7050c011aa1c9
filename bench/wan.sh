#!/bin/bash
# bench/wan.sh - the WAN section of `make bench`: shipd and NNCP through an
# emulated wide-area link (bench/delayproxy: delay, rate cap with a drop-tail
# queue, UDP loss), plus the small-file and submission rates on loopback.
# Runs alone or from bench/run; re-executes itself in a private network
# namespace (unshare -n) so its fixed ports never meet anyone else's.
#
# Each link setting is checked first with `delayproxy --selftest` (RTT over
# UDP and TCP against 2 x delay, throughput against the cap); a setting
# that fails twice gets no runs and its rows show "-". Every case runs
# BENCH_RUNS times with the systems alternated (the order rotates each run);
# the report takes medians. Never asserts on the figures.
#
#   bench/wan.sh            run, print the section and put it in
#                           bench/results/latest.md (replacing an older one)
#   bench/wan.sh --print    run and print only (bench/run's section_wan)
#   bench/wan.sh --report   no runs: the section again from the last raw file
#
#   BENCH_RUNS=3  BENCH_QUICK=1 (one run, smaller counts: a few minutes)
#   BENCH_WAN_FILES=200 BENCH_WAN_LOFILES=1000 BENCH_WAN_SUBFILES=1000
#   BENCH_WAN_CALLS=100 BENCH_WAN_MB=64 BENCH_WAN_FAIRMB=16 BENCH_WAN_RTTS="0 20 100"
#   BENCH_WAN_BIGRTTS="20 100" BENCH_WAN_RATE=100 BENCH_WAN_POLL=10000
#   BENCH_WAN_CASES="small lo submit big loss fair range poll"
#   BENCH_WAN_TIMEOUT=600 (seconds per run)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
print_only=; [ "${1:-}" = --print ] && print_only=1
RAW=$TOP/bench/results/wan-raw.txt

# the section from RAW, printed, and (unless --print) put into latest.md
# between its markers, replacing an older WAN section
publish() {
	local sec out=bench/results/latest.md
	sec=$(bench/wanreport.sh "$RAW") || return 1
	if [ -z "$print_only" ]; then
		touch "$out"
		{
			awk '/^<!-- wan begin -->$/ { skip = 1 } !skip { print } /^<!-- wan end -->$/ { skip = 0 }' "$out"
			echo
			echo "$sec"
		} | cat -s >"$out.tmp" && mv "$out.tmp" "$out"
		echo "wan: figures in $out (raw: $RAW)" >&2
	fi
	echo "$sec"
}
if [ "${1:-}" = --report ]; then
	publish
	exit
fi

if [ -z "${BENCH_NETNS:-}" ]; then
	if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
		export BENCH_NETNS=1
		exec unshare -n bash -c 'ip link set lo up && exec "$@"' wan.sh "$0" "$@"
	fi
	echo "bench/wan.sh: no private network namespace (needs root): on the host's loopback" >&2
	export BENCH_NETNS=host
fi

if [ -n "${BENCH_QUICK:-}" ]; then
	: "${BENCH_RUNS:=1}" "${BENCH_WAN_LOFILES:=300}" "${BENCH_WAN_SUBFILES:=200}"
	: "${BENCH_WAN_CALLS:=50}" "${BENCH_WAN_MB:=16}" "${BENCH_WAN_FAIRMB:=8}" "${BENCH_WAN_POLL:=2000}"
	: "${BENCH_WAN_TIMEOUT:=300}"
fi
: "${BENCH_RUNS:=3}" "${BENCH_WAN_FILES:=200}" "${BENCH_WAN_LOFILES:=1000}" "${BENCH_WAN_SUBFILES:=1000}"
: "${BENCH_WAN_CALLS:=100}" "${BENCH_WAN_MB:=64}" "${BENCH_WAN_FAIRMB:=16}" "${BENCH_WAN_RTTS:=0 20 100}"
: "${BENCH_WAN_BIGRTTS:=20 100}"
: "${BENCH_WAN_RATE:=100}" "${BENCH_WAN_POLL:=10000}" "${BENCH_WAN_TIMEOUT:=600}"
: "${BENCH_WAN_CASES:=small lo submit big loss fair range poll}"
export BENCH_RUNS BENCH_WAN_FILES BENCH_WAN_LOFILES BENCH_WAN_SUBFILES BENCH_WAN_CALLS BENCH_WAN_MB BENCH_WAN_FAIRMB
export BENCH_WAN_RTTS BENCH_WAN_BIGRTTS BENCH_WAN_RATE BENCH_WAN_POLL BENCH_QUICK

say() { echo "wan: $*" >&2; }
want() { case " $BENCH_WAN_CASES " in *" $1 "*) return 0 ;; esac; return 1; }

[ -x bin/shipd ] && [ -x bin/shipctl ] || make -s all || exit 1
mkdir -p build/bench bench/results
for p in delayproxy wanprobe runeach; do
	lm=; [ $p = wanprobe ] && lm=-lm
	cc -O2 -g -std=c11 -Wall -Wextra -Werror -o build/bench/$p bench/$p.c $lm || exit 1
done
PROXY=$TOP/build/bench/delayproxy PROBE=$TOP/build/bench/wanprobe
BPORT=45000 PPORT=45001 SINK=45010 SINKP=45011	# fixed: the namespace is ours (shipd.sh picks 20001-40002)
command -v nncp-daemon >/dev/null || say "nncp not installed (scripts/install-deps --bench): its cells show -"

W=$(mktemp -d /tmp/shipd-wan.XXXXXX)
SRV=
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
: >"$RAW"
{
	echo "start $(date -u +%Y-%m-%dT%H:%M:%SZ) runs $BENCH_RUNS quick ${BENCH_QUICK:-0} netns $BENCH_NETNS"
	echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "params FILES=$BENCH_WAN_FILES LOFILES=$BENCH_WAN_LOFILES SUBFILES=$BENCH_WAN_SUBFILES" \
		"CALLS=$BENCH_WAN_CALLS MB=$BENCH_WAN_MB FAIRMB=$BENCH_WAN_FAIRMB RATE=$BENCH_WAN_RATE" \
		"POLLN=$BENCH_WAN_POLL RTTS=${BENCH_WAN_RTTS// /,} BIGRTTS=${BENCH_WAN_BIGRTTS// /,}"
} >>"$RAW"

# inputs: N x 4 KiB in $W/fN, files of BENCH_WAN_MB and BENCH_WAN_FAIRMB MiB of random data
mksmall() {
	[ -d "$W/f$1" ] && return
	mkdir -p "$W/f$1"
	head -c "$(($1 * 4096))" /dev/urandom | (cd "$W/f$1" && split -b 4096 -a 6 - f)
}
head -c "$((BENCH_WAN_MB * 1048576))" /dev/urandom >"$W/big.bin"
head -c "$((BENCH_WAN_FAIRMB * 1048576))" /dev/urandom >"$W/fair.bin"

# check KEY PROXYOPTS...: the proxy's selftest at this setting, twice at most
declare -A OK
check() {
	local key=$1 line; shift
	for _ in 1 2; do
		line=$(timeout 120 "$PROXY" --selftest "$@" 2>>"$W/selftest.log" | grep '^selftest ')
		case $line in *verdict=ok*) break ;; esac
	done
	echo "check $key ${line:-selftest failed}" >>"$RAW"
	say "check $key: ${line:-selftest failed}"
	case $line in *verdict=ok*) OK[$key]=1 ;; *) OK[$key]= ;; esac
}

proxy_start() {	# PROXYOPTS... : on PPORT -> BPORT, stats (if asked) in $W/stats
	"$PROXY" --listen $PPORT --target $BPORT "$@" >"$W/stats" 2>"$W/proxy.err" &
	PXY=$!
	for _ in $(seq 100); do grep -qs ready "$W/proxy.err" && return 0; sleep 0.02; done
	say "proxy did not start: $(tail -n 1 "$W/proxy.err")"
	return 1
}
proxy_stop() {
	kill -TERM "$PXY" 2>/dev/null
	wait "$PXY" 2>/dev/null
	grep '^delayproxy: [0-9]' "$W/proxy.err" | tail -n 1
}

# one KEY SYS RUN CASE SRC [PROXYOPTS...]: one run of one system, through the
# proxy when options are given; ENV_RUN holds extra VAR=value for the script
ENV_RUN=()
one() {
	local key=$1 sys=$2 run=$3 case_=$4 src=$5 script line px=
	shift 5
	case $sys in
	shipd*) script=bench/shipd.sh ;;
	nncp) script=bench/peers/nncp.sh; command -v nncp-daemon >/dev/null || return ;;
	esac
	local env=("${ENV_RUN[@]}")
	if [ $# -gt 0 ]; then
		proxy_start "$@" || return
		env+=("BENCH_PORT_B=$BPORT" "BENCH_PEER_PORT=$PPORT")
	fi
	line=$(env "${env[@]}" timeout "$BENCH_WAN_TIMEOUT" "$script" "$case_" "$src" 2>>"$W/errors" | grep '^RESULT ')
	[ $# -gt 0 ] && px=$(proxy_stop)
	if [ -n "$line" ]; then
		echo "run $key $sys $run ${line#RESULT }" >>"$RAW"
		say "run $run $key $sys: ${line#RESULT }"
	else
		say "run $run $key $sys: failed ($(tail -n 1 "$W/errors" 2>/dev/null))"
	fi
	[ -n "$px" ] && echo "proxy $key $sys $run ${px#delayproxy: }" >>"$RAW"
	return 0
}

# rotate WORDS by RUN: the order of the systems in that run
rot() { local r=$1; shift; local a=("$@") n=$#; echo "${a[@]:$(((r - 1) % n))}" "${a[@]:0:$(((r - 1) % n))}"; }

rate=$BENCH_WAN_RATE
delay() { awk -v r="$1" 'BEGIN { printf "%g", r / 2 }'; }

# the link settings in use, each checked once
if want small; then for r in $BENCH_WAN_RTTS; do check "rtt$r" --delay-ms "$(delay "$r")"; done; fi
if want big; then for r in $BENCH_WAN_BIGRTTS; do check "rtt$r-${rate}m" --delay-ms "$(delay "$r")" --rate-mbit "$rate"; done; fi
if want loss || want fair; then
	check "rtt50-${rate}m-loss2" --delay-ms 25 --rate-mbit "$rate" --loss 0.02
	check "rtt50-${rate}m" --delay-ms 25 --rate-mbit "$rate"
fi
want range && check rtt20 --delay-ms 10

for ((run = 1; run <= BENCH_RUNS; run++)); do
	say "run $run of $BENCH_RUNS (load $(cut -d' ' -f1 /proc/loadavg))"
	ENV_RUN=()
	if want small; then
		mksmall "$BENCH_WAN_FILES"
		for r in $BENCH_WAN_RTTS; do
			[ -n "${OK[rtt$r]:-}" ] || continue
			for s in $(rot $run shipd-tcp nncp); do
				one "q$BENCH_WAN_FILES-rtt$r" $s $run queued "$W/f$BENCH_WAN_FILES" \
					--delay-ms "$(delay "$r")" --tcp-only
			done
		done
	fi
	if want lo; then
		mksmall "$BENCH_WAN_LOFILES"
		for s in $(rot $run shipd nncp); do one "q$BENCH_WAN_LOFILES-lo" $s $run queued "$W/f$BENCH_WAN_LOFILES"; done
	fi
	if want submit; then
		mksmall "$BENCH_WAN_SUBFILES"; mksmall "$BENCH_WAN_CALLS"
		for s in $(rot $run shipd nncp); do one "files$BENCH_WAN_SUBFILES" $s $run files "$W/f$BENCH_WAN_SUBFILES"; done
		for s in $(rot $run shipd nncp); do one "submit$BENCH_WAN_CALLS" $s $run submit "$W/f$BENCH_WAN_CALLS"; done
	fi
	if want big; then
		for r in $BENCH_WAN_BIGRTTS; do
			[ -n "${OK[rtt$r-${rate}m]:-}" ] || continue
			o=(--delay-ms "$(delay "$r")" --rate-mbit "$rate")
			for s in $(rot $run shipd-udp shipd-tcp nncp); do
				case $s in shipd-udp) m=--udp-only ;; *) m=--tcp-only ;; esac
				one "big-rtt$r" $s $run hop1 "$W/big.bin" "${o[@]}" $m
			done
		done
	fi
	if want loss && [ -n "${OK[rtt50-${rate}m-loss2]:-}" ]; then
		for s in $(rot $run shipd-udp shipd-tcp); do
			case $s in shipd-udp) m=--udp-only ;; *) m=--tcp-only ;; esac
			one "loss2-rtt50" $s $run hop1 "$W/big.bin" --delay-ms 25 --rate-mbit "$rate" --loss 0.02 $m
		done
	fi
	if want fair && [ -n "${OK[rtt50-${rate}m]:-}" ]; then
		# shipd over UDP and a TCP bulk flow (wanprobe bulk -> wanprobe serve)
		# through the same proxy, so through the same two queues
		"$PROBE" serve $SINK 2>>"$W/errors" &
		SRV=$!
		if proxy_start --delay-ms 25 --rate-mbit "$rate" --udp-only --map $SINKP:$SINK:tcp --stats-ms 250; then
			"$PROBE" bulk $SINKP 2>>"$W/errors" &
			bulk=$!
			sleep 2	# the TCP flow fills the queue first
			line=$(env BENCH_PORT_B=$BPORT BENCH_PEER_PORT=$PPORT timeout "$BENCH_WAN_TIMEOUT" \
				bench/shipd.sh hop1 "$W/fair.bin" 2>>"$W/errors" | grep '^RESULT ')
			sleep 1
			kill "$bulk" 2>/dev/null; wait "$bulk" 2>/dev/null
			px=$(proxy_stop)
			[ -n "$line" ] && echo "run fair-rtt50 shipd-udp $run ${line#RESULT }" >>"$RAW"
			echo "proxy fair-rtt50 shipd-udp+bulk $run ${px#delayproxy: }" >>"$RAW"	# both flows
			# the 250 ms intervals in which shipd moved data: both flows' bytes there
			awk -v run="$run" -v cap="$rate" '$1 == "stats" {
					n++; u[n] = $4; t[n] = $7
					if ($4 > cap * 1e6 / 8 * 0.25 * 0.02) { if (!a) a = n; b = n }
				}
				END { if (a) { for (i = a; i <= b; i++) { su += u[i]; st += t[i] }
					printf "fair %d %d %d %.2f\n", run, su, st, (b - a + 1) * 0.25 } }' "$W/stats" >>"$RAW"
			say "run $run fairness: $(tail -n 1 "$RAW")"
		fi
		kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=
	fi
	if want range && [ -n "${OK[rtt20]:-}" ]; then
		mksmall "$BENCH_WAN_FILES"
		for s in $(rot $run shipd-udp shipd-udp-range); do
			ENV_RUN=()
			[ $s = shipd-udp-range ] && ENV_RUN=(
				"BENCH_CONF_A=CLEARCASE_MIN_PORT 61000
CLEARCASE_MAX_PORT 61019" "BENCH_CONF_B=CLEARCASE_MIN_PORT 61100
CLEARCASE_MAX_PORT 61119")
			one "range-q$BENCH_WAN_FILES-rtt20" $s $run queued "$W/f$BENCH_WAN_FILES" --delay-ms 10 --udp-only
		done
		ENV_RUN=()
	fi
	if want poll; then
		line=$(BENCH_POLL_N=$BENCH_WAN_POLL bench/scale.sh 2>>"$W/errors" | grep '^pollpeerdown ')
		[ -n "$line" ] && echo "poll $run ${line#pollpeerdown }" >>"$RAW"
		say "run $run poll: ${line:-failed}"
	fi
done
echo "end $(date -u +%Y-%m-%dT%H:%M:%SZ) load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW"
[ -s "$W/errors" ] && { say "errors (last lines):"; tail -n 5 "$W/errors" >&2; }

publish

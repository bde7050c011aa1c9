#!/bin/bash
# bench/wanreport.sh - turn bench/wan.sh's raw lines into the markdown of
# the WAN section (printed on stdout, between "<!-- wan begin/end -->"
# markers): the proxy's checks, then medians per case and system with
# ratios shipd/NNCP, CPU seconds and peak RSS beside each figure, the
# fairness, port-range and --poll lines, and every run's raw line.
# Computes only from RAW; a cell with no run shows "-".
#
#   bench/wanreport.sh [RAW]     (default bench/results/wan-raw.txt)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
RAW=${1:-$TOP/bench/results/wan-raw.txt}
FILES=${BENCH_WAN_FILES:-200} LOFILES=${BENCH_WAN_LOFILES:-1000} SUBFILES=${BENCH_WAN_SUBFILES:-1000}
CALLS=${BENCH_WAN_CALLS:-100} MB=${BENCH_WAN_MB:-64} FAIRMB=${BENCH_WAN_FAIRMB:-16} RATE=${BENCH_WAN_RATE:-100}
RTTS=${BENCH_WAN_RTTS:-0 20 100} BIGRTTS=${BENCH_WAN_BIGRTTS:-20 100} POLLN=${BENCH_WAN_POLL:-10000}
# the run's own settings, when its raw file names them ("params NAME=VALUE ...")
while IFS="=" read -r k val; do
	case $k in
	FILES | LOFILES | SUBFILES | CALLS | MB | FAIRMB | RATE | POLLN) printf -v "$k" %s "$val" ;;
	RTTS | BIGRTTS) printf -v "$k" %s "${val//,/ }" ;;
	esac
done < <(awk '$1 == "params" { for (i = 2; i <= NF; i++) print $i }' "$RAW")

# medians per KEY.SYS: t (seconds; NNCP's without its idle deadline when
# known), traw, cpu, cpusend (without the submissions), rss (KiB), cpc (CPU
# ms per call, median of each run's median), n
declare -A V
while read -r k v; do V[$k]=$v; done < <(awk '
	function med(s,    a, n, i, j, x) {
		n = split(s, a, " ")
		for (i = 2; i <= n; i++) { x = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function add(k, v) { S[k] = S[k] " " v; K[k] = 1 }
	$1 == "run" {
		ks = $2 "." $3; t = $5; sub_ = 0; cpc = ""
		nd = split($8, d, ",")
		for (i = 1; i <= nd; i++) {
			split(d[i], kv, ":")
			if (kv[1] == "idle_excluded") t = kv[2]
			if (kv[1] == "submit" || kv[1] == "nncp-file") { x = kv[2]; sub(/.*\//, "", x); sub(/s$/, "", x); sub_ = x }
			if (kv[1] == "cpu_ms_per_call") { split(kv[2], c, "/"); cpc = c[2] }
		}
		add(ks ".t", t); add(ks ".traw", $5); add(ks ".cpu", $6); add(ks ".rss", $7)
		add(ks ".cpusend", $6 - sub_); add(ks ".subcpu", sub_)
		if (cpc != "") add(ks ".cpc", cpc)
		N[ks]++
	}
	$1 == "proxy" {	# the totals of the proxy: what crossed the link
		ks = $2 "." $3
		for (i = 5; i <= NF; i++) {
			if ($i == "up;" || $i == "up") { add(ks ".px_up_pkts", $(i + 1)); add(ks ".px_up_mb", $(i + 3) / 1e6)
				add(ks ".px_up_lost", $(i + 6)); add(ks ".px_up_qdrop", $(i + 8)) }
			if ($i == "down") { add(ks ".px_down_mb", $(i + 3) / 1e6); add(ks ".px_down_lost", $(i + 6)); add(ks ".px_down_qdrop", $(i + 8)) }
			if ($i == "tcp") add(ks ".px_conns", $(i + 1))
			if ($i == "udp") add(ks ".px_flows", $(i + 1))
			if ($i == "cpu") add(ks ".px_cpu", $(i + 1))
		}
		if (!(ks in PX)) { PX[ks] = 1; print "pxorder." (++npx), ks }
	}
	$1 == "fair" && $5 > 0 { add("fair.udp", $3 * 8 / $5 / 1e6); add("fair.tcp", $4 * 8 / $5 / 1e6); add("fair.secs", $5) }
	$1 == "poll" { add("poll.secs", $4); add("poll.exit", $5) }
	END {
		for (k in K) print k, med(S[k])
		for (k in N) print k ".n", N[k]
	}' "$RAW")

v() { echo "${V[$1]:--}"; }
calc() { awk "BEGIN { if ($2) printf \"$1\", $3; else print \"-\" }" 2>/dev/null || echo -; }
is() { [ "$1" != - ] && [ -n "$1" ]; }
fps() { local t; t=$(v "$1.t"); is "$t" && calc "%.0f" "$t > 0" "$2 / $t" || echo -; }
ratio() { is "$1" && is "$2" && calc "%.2fx" "$2 > 0" "$1 / $2" || echo -; }
num() { is "$1" && calc "$2" 1 "$1" || echo -; }
mib() { is "$1" && calc "%.1f" 1 "$1 / 1024" || echo -; }
mbs() { local t; t=$(v "$1.t"); is "$t" && calc "%.2f" "$t > 0" "$MB * 1.048576 / $t" || echo -; }
link() { is "$1" && calc "%.2f (%.0f%%)" 1 "$1, $1 * 800 / $RATE" || echo -; }

# small-file row: LABEL KEY SYS_SHIPD COUNT CPUKEY
frow() {
	local s n
	s=$(fps "$2.$3" "$4"); n=$(fps "$2.nncp" "$4")
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$s" "$n" "$(ratio "$s" "$n")" \
		"$(num "$(v "$2.$3.$5")" %.2f)" "$(num "$(v "$2.nncp.$5")" %.2f)" \
		"$(mib "$(v "$2.$3.rss")")" "$(mib "$(v "$2.nncp.rss")")"
}
# large-file row: LABEL KEY
brow() {
	local u t n
	u=$(mbs "$2.shipd-udp"); t=$(mbs "$2.shipd-tcp"); n=$(mbs "$2.nncp")
	printf '| %s | %s | %s | %s | %s | %s | %s / %s / %s | %s / %s / %s |\n' "$1" \
		"$(link "$u")" "$(link "$t")" "$(link "$n")" "$(ratio "$u" "$n")" "$(ratio "$t" "$n")" \
		"$(num "$(v "$2.shipd-udp.cpu")" %.1f)" "$(num "$(v "$2.shipd-tcp.cpu")" %.1f)" "$(num "$(v "$2.nncp.cpu")" %.1f)" \
		"$(mib "$(v "$2.shipd-udp.rss")")" "$(mib "$(v "$2.shipd-tcp.rss")")" "$(mib "$(v "$2.nncp.rss")")"
}
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

start=$(awk '$1 == "start" { print $2 }' "$RAW"); end=$(awk '$1 == "end" { print $2 }' "$RAW")
runs=$(awk '$1 == "start" { print $4 }' "$RAW"); quick=$(awk '$1 == "start" { print $6 }' "$RAW")
echo "<!-- wan begin -->"
echo "## WAN: shipd vs NNCP through an emulated link (bench/wan.sh)"
echo
echo "- ${start:-?} to ${end:-?}; load average $(awk '$1 == "load" { print $2, $3, $4 }' "$RAW") at the start, $(awk '$1 == "end" { print $4, $5, $6 }' "$RAW") at the end"
echo "- \`$(uname -srm)\`, $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo); $(nncp-file -version 2>/dev/null | head -n 1 || echo 'NNCP not installed')"
echo "- medians of ${runs:-?} run(s) per cell, systems alternated$([ "${quick:-0}" != 0 ] && echo ", quick mode (BENCH_QUICK: smaller counts)"); CPU is user + system seconds of every process of the system (daemons with their reaped children, submitting and calling commands), RSS the largest process's peak"
echo "- link: bench/delayproxy in a private network namespace: a fixed delay each way (RTT = 2 x delay), a ${RATE} Mbit/s cap each way with a drop-tail queue of one bandwidth-delay product (at least 64 KiB) where stated, random loss of UDP datagrams where stated; TCP is split at the proxy (see bench/README.md, \"WAN\")"
echo
echo "### The proxy, checked before use (delayproxy --selftest)"
echo
echo "| link setting | RTT set, ms | UDP RTT, ms | TCP RTT, ms | TCP Mbit/s | UDP Mbit/s | loss set / measured | verdict |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
while read -r _ key rest; do
	if [ "${rest%% *}" != selftest ]; then
		echo "| $key | | | | | | | failed to run |"
		continue
	fi
	r=$(kv rate_mbit "$rest"); l=$(kv loss "$rest"); vd=$(kv verdict "$rest")
	why=; [ "$vd" = ok ] || why=" (${rest#*# }: its rows are not run)"
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$key" "$(kv want_rtt_ms "$rest")" \
		"$(kv udp_rtt_ms "$rest")" "$(kv tcp_rtt_ms "$rest")" \
		"$([ "$r" = 0.0 ] && echo - || kv tcp_mbit "$rest")" "$([ "$r" = 0.0 ] && echo - || kv udp_mbit "$rest")" \
		"$([ "$l" = 0.000 ] && echo - || echo "$l / $(kv loss_measured "$rest")")" "$vd$why"
done < <(awk '$1 == "check"' "$RAW")
echo
echo "Verdict ok: both RTTs within 20% or 3 ms (the larger) of the setting, and TCP held a rate cap within -25%/+10% (the UDP rate, from a"
echo "busy echo loop, is shown, not judged). A setting checked twice without an ok gets no runs: its cells show \"-\"."
echo
echo "### Small files: files/s"
echo
echo "| case | shipd | NNCP | shipd/NNCP | shipd CPU s | NNCP CPU s | shipd peak RSS MiB | NNCP peak RSS MiB |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for r in $RTTS; do
	frow "$FILES x 4 KiB queued, one hop over TCP, RTT $r ms (through the proxy)" "q$FILES-rtt$r" shipd-tcp "$FILES" cpusend
done
frow "$LOFILES x 4 KiB queued, one hop, loopback (goal: >= 1,000 files/s and >= 5x NNCP)" "q$LOFILES-lo" shipd "$LOFILES" cpusend
frow "$SUBFILES x 4 KiB, each submitted by its own command, first submission to last delivery" "files$SUBFILES" shipd "$SUBFILES" cpu
s=$(calc "%.1f" 1 "$(v "files$SUBFILES.shipd.subcpu") * 1000 / $SUBFILES"); n=$(calc "%.1f" 1 "$(v "files$SUBFILES.nncp.subcpu") * 1000 / $SUBFILES")
printf '| CPU ms per submission in that run (shipctl submit / nncp-file, with the shell loop) | %s | %s | %s | | | | |\n' "$s" "$n" "$(ratio "$s" "$n")"
s=$(num "$(v "submit$CALLS.shipd.cpc")" %.1f); n=$(num "$(v "submit$CALLS.nncp.cpc")" %.1f)
printf '| CPU ms of one submission of a 4 KiB file, median of %s calls (wait4, no daemon running) | %s | %s | %s | | | %s | %s |\n' \
	"$CALLS" "$s" "$n" "$(ratio "$s" "$n")" "$(mib "$(v "submit$CALLS.shipd.rss")")" "$(mib "$(v "submit$CALLS.nncp.rss")")"
echo
echo "Queued rows: every file is queued first (shipd: \`shipctl submit\` with A's daemon stopped; NNCP: \`nncp-file\`), then timed from"
echo "starting A's daemon (shipd) or \`nncp-call\` (NNCP) to the last file in B's incoming directory; their CPU leaves the submissions out."
echo "NNCP's time is the last packet B received (its log) plus \`nncp-toss\`'s wall time: it leaves out the 1-2 s nncp-call stays"
echo "connected and idle before hanging up (\`-onlinedeadline 1\`, its least). A ratio above 1 means shipd is faster (or, for CPU ms, costlier)."
echo
echo "### One ${MB} MiB file through a ${RATE} Mbit/s link: MB/s (share of the link)"
echo
echo "| case | shipd over UDP | shipd over TCP | NNCP (TCP) | UDP/NNCP | TCP/NNCP | CPU s UDP / TCP / NNCP | peak RSS MiB UDP / TCP / NNCP |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for r in $BIGRTTS; do brow "RTT $r ms" "big-rtt$r"; done
brow "RTT 50 ms, 2% random loss (UDP datagrams only: the proxy's TCP is not lost)" "loss2-rtt50"
echo
echo "From submission to the file in B's incoming directory; shipd over UDP: the proxy's TCP port is closed, so shipd falls back at"
echo "once; over TCP: its UDP port is closed. Link share = MB/s / (${RATE} Mbit/s / 8)."
echo
echo "### Sharing the bottleneck, the port range, the queue"
echo
if is "$(v fair.secs)"; then
	echo "- fairness, RTT 50 ms, ${RATE} Mbit/s, no random loss: shipd over UDP ($FAIRMB MiB) and a TCP bulk flow (wanprobe) through the same"
	echo "  queue at once; over the $(v fair.secs) s shipd was sending, shipd had $(num "$(v fair.udp)" %.1f) Mbit/s ($(calc "%.0f%%" 1 "$(v fair.udp) * 100 / $RATE")), TCP $(num "$(v fair.tcp)" %.1f) Mbit/s ($(calc "%.0f%%" 1 "$(v fair.tcp) * 100 / $RATE"))"
	echo "  (bytes each mapping delivered through the proxy, 250 ms intervals; shipd's run: $(num "$(v fair-rtt50.shipd-udp.t)" %.1f) s)"
else
	echo "- fairness: -"
fi
a=$(fps "range-q$FILES-rtt20.shipd-udp-range" "$FILES"); b=$(fps "range-q$FILES-rtt20.shipd-udp" "$FILES")
echo "- port range: $FILES x 4 KiB queued, one hop over UDP, RTT 20 ms: with 20-port ranges (CLEARCASE_MIN_PORT..MAX_PORT on A and"
echo "  on B) $a files/s, without $b files/s ($(ratio "$a" "$b"))"
echo "- \`shipd --poll\` over $POLLN outgoing orders whose next hop is down (bench/scale.sh): $(num "$(v poll.secs)" %.2f) s (exit $(v poll.exit))"
echo
echo "### What crossed the link (the proxy's counters, medians)"
echo
echo "| case | system | client to server: packets, MB | lost / queue-dropped | server to client: MB | lost / dropped | TCP connections / UDP flows | proxy CPU s |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for ((i = 1; ; i++)); do
	ks=${V[pxorder.$i]:-}; [ -n "$ks" ] || break
	printf '| %s | %s | %s, %s | %s / %s | %s | %s / %s | %s / %s | %s |\n' "${ks%.*}" "${ks##*.}" \
		"$(num "$(v "$ks.px_up_pkts")" %.0f)" "$(num "$(v "$ks.px_up_mb")" %.2f)" \
		"$(num "$(v "$ks.px_up_lost")" %.0f)" "$(num "$(v "$ks.px_up_qdrop")" %.0f)" "$(num "$(v "$ks.px_down_mb")" %.2f)" \
		"$(num "$(v "$ks.px_down_lost")" %.0f)" "$(num "$(v "$ks.px_down_qdrop")" %.0f)" \
		"$(num "$(v "$ks.px_conns")" %.0f)" "$(num "$(v "$ks.px_flows")" %.0f)" "$(num "$(v "$ks.px_cpu")" %.2f)"
done
echo
echo "Packets are TCP segments (up to 16 KiB, as read) or UDP datagrams. A ${FILES}-file row's payload is about $(calc "%.2f" 1 "$FILES * 4096 / 1e6") MB and the"
echo "large file's $(calc "%.2f" 1 "$MB * 1.048576") MB. shipd's datagrams hold at most 1,200 bytes (1,174 of data: wire_udp.c at this writing),"
echo "so the large file takes about $(calc "%.0f" 1 "$MB * 1048576 / 1174") of them; the rest are retransmissions."
echo
echo "### Every run"
echo
echo '```'
awk '$1 == "run" { printf "%-22s %-16s %s: %8.3f s %7.2f cpu %7d KiB  %s\n", $2, $3, $4, $5, $6, $7, $8 }
	$1 == "proxy" { l = $0; sub(/^proxy [^ ]* [^ ]* [^ ]* /, "", l); printf "%-22s %-16s %s: proxy %s\n", $2, $3, $4, l }
	$1 == "fair" { printf "fairness run %s: shipd %d B, TCP %d B over %s s\n", $2, $3, $4, $5 }
	$1 == "poll" { printf "poll run %s: %s orders, %s s, exit %s\n", $2, $3, $4, $5 }' "$RAW"
echo '```'
echo "<!-- wan end -->"

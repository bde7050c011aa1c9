#!/bin/bash
# tests/scenario/firewall_topology.sh - issue 5: the MultiSite "exposed
# host" checklist on a real network. Three sites behind nftables firewalls,
# exposed hosts SSA/SSB/SSC, ROUTE lines exactly as the manual writes them,
# a hostile host on the internet segment (tests/lib/topology.sh builds it;
# conf/examples/firewall-topology.md draws it).
#
# First block: the network and firewalls alone (probes, counters, capture).
# Then the seven checks with the real bin/shipd and bin/shipctl. Prints
# "ok - ..." / "not ok - ..." and "# " lines with what each check measured;
# exits non-zero on any failure. Needs root. Bounded: BUDGET seconds
# (default 240) for the checks, every wait a bounded poll; under 5 minutes.
#
# Environment: TOP (repo root), SHIPD / SHIPCTL (binaries, e.g. the ASan
# build under build/asan/bin), BUDGET, KEEP_WORK=1 (keep confs and logs).
#
# Must never: touch the host's own network, firewall or processes; leave a
# namespace, /etc/netns entry or process behind (netns.sh's trap).

TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
SHIPD=${SHIPD:-$TOP/bin/shipd}
SHIPCTL=${SHIPCTL:-$TOP/bin/shipctl}
BUDGET=${BUDGET:-240}
MIN=49200 MAX=49219 LISTEN=4590	# a 20-port range, listen port outside it
. "$TOP/tests/lib/netns.sh"
. "$TOP/tests/lib/topology.sh"

FAILS=0
ok() { echo "ok - $*"; }
nok() { echo "not ok - $*"; FAILS=$((FAILS + 1)); }
say() { echo "#   $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
left() { echo $((BUDGET - SECONDS)); }

# poll SECS CMD...: retry CMD every 0.2s for up to SECS (never past the
# budget). Returns CMD's success.
poll() {
	local secs=$1 end
	shift
	[ "$secs" -gt "$(left)" ] && secs=$(left)
	end=$((SECONDS + secs))
	while :; do
		"$@" && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.2
	done
}

for t in ip nft jq tcpdump socat ss sha256sum timeout; do
	command -v "$t" >/dev/null || { nok "prerequisites: $t not installed (scripts/install-deps)"; exit 1; }
done
ns_init || { nok "prerequisites: netns harness (root needed)"; exit 1; }
NODES=$NS_WORK/nodes DATA=$NS_WORK/data CAP=$NS_WORK/cap
mkdir -p "$NODES" "$DATA" "$CAP"

if ! topo_build $MIN $MAX $LISTEN; then
	nok "topology: build failed"
	exit 1
fi
ok "topology: 3 sites x (3 replica hosts, exposed host, firewall), internet, hostile host: ${#NS_LIST[@]} namespaces"

# ---- markers and what a capture or a bay must not contain ----------------

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
MARKER=SHIPD-MARKER-$(rand_hex 8)
CONTROL=SHIPD-CONTROL-$(rand_hex 8)

# variants MARK: the marker as is, in hex and in base64 at all 3 alignments.
variants() {
	local m=$1 k enc
	echo "$m"
	printf %s "$m" | od -An -tx1 | tr -d ' \n'
	echo
	for k in 0 1 2; do
		enc=$(printf "%*s%s" "$k" "" "$m" | base64 -w0)
		[ "$k" -gt 0 ] && enc=${enc:4}
		echo "${enc:0:${#enc}-4}"
	done
}

# traces FILE...: how many copies of any variant of $MARKER the files hold.
traces() {
	[ $# -eq 0 ] && { echo 0; return; }
	grep -a -o -F -f <(variants "$MARKER") -- "$@" 2>/dev/null | wc -l
}

# mkdata NAME: a 60 KB file carrying the marker on every line; prints its path.
mkdata() {
	local f=$DATA/$1
	head -c 45000 /dev/urandom | base64 -w 112 | awk -v m="$MARKER" '{ print m " " $0 }' >"$f"
	echo "$f"
}

# pcap_summary FILE: "PACKETS BYTES".
pcap_summary() {
	echo "$(tcpdump -nn -r "$1" 2>/dev/null | wc -l) $(stat -c %s "$1")"
}

# pcap_ports FILE: "proto sport dport" for every TCP/UDP packet, deduplicated.
pcap_ports() {
	tcpdump -nn -r "$1" 'tcp or udp' 2>/dev/null | awk '
		{ for (i = 1; i < NF; i++) if ($i ~ /^[0-9.]+$/ && $(i+1) == ">") {
			s = $i; d = $(i+2); sub(/:$/, "", d)
			n = split(s, a, "."); m = split(d, b, ".")
			p = ($0 ~ / UDP,|udp/) ? "udp" : "tcp"
			print p, a[n], b[m]; break } }' | sort -u
}

# ---- block 1: the network and firewalls alone ------------------------------

# probe NAME FROM ADDR PORT EXPECT FW COUNTER: a TCP probe whose outcome
# must be EXPECT (open|timeout); a drop must also move FW's COUNTER.
probe() {
	local name=$1 from=$2 addr=$3 port=$4 expect=$5 fw=$6 ctr=$7 before after got
	before=$(topo_fw_counter "$fw" "$ctr")
	got=$(ns_tcp_probe "$from" "$addr" "$port" 1.5 "$CONTROL")
	after=$(topo_fw_counter "$fw" "$ctr")
	say "probe $name: $addr:$port/tcp $got; fw$fw $ctr $before -> $after"
	if [ "$got" != "$expect" ]; then
		nok "firewall: $name (expected $expect, got $got)"
	elif [ "$expect" = timeout ] && [ "$after" -le "$before" ]; then
		nok "firewall: $name dropped but fw$fw $ctr did not count it"
	else
		ok "firewall: $name"
	fi
}

CAP0=$CAP/probes.pcap
ns_capture_start inet br0 "$CAP0" || nok "capture: tcpdump on the internet segment"
CAP0_PID=$NS_LASTPID
L=$NS_WORK/listen
ns_listen ssb tcp $MIN "$L.ssb.tcp" && ns_listen ssb udp $((MIN + 1)) "$L.ssb.udp" &&
	ns_listen ssb tcp 8080 "$L.ssb.8080" && ns_listen b1 tcp $LISTEN "$L.b1" &&
	ns_listen ssa tcp $LISTEN "$L.ssa" && ns_listen ssa tcp $MIN "$L.ssa.min" &&
	ns_listen a1 tcp $LISTEN "$L.a1" || nok "firewall: probe listeners"
SSA=${T_ADDR[SSA]} SSB=${T_ADDR[SSB]} SSC=${T_ADDR[SSC]}

probe "SSA reaches SSB on a range port" ssa "$SSB" $MIN open A admitted
poll 3 grep -q "$CONTROL" "$L.ssb.tcp" && ok "firewall: SSB received SSA's bytes ($(wc -c <"$L.ssb.tcp") bytes)" ||
	nok "firewall: SSB did not receive SSA's bytes"
ns_udp_send ssa "$SSB" $((MIN + 1)) "$CONTROL" $MIN
poll 3 grep -q "$CONTROL" "$L.ssb.udp" && ok "firewall: SSA reaches SSB over UDP in the range" ||
	nok "firewall: SSA's UDP datagram to SSB:$((MIN + 1)) was not received"
probe "SiteA_host1 reaches its exposed host SSA" a1 "$SSA" $LISTEN open A admitted
probe "SSA cannot reach SSB outside the range (8080)" ssa "$SSB" 8080 timeout A drop_dmz
probe "SiteA_host1 cannot reach SSB" a1 "$SSB" $MIN timeout A drop_lan_out
probe "SiteA_host1 cannot reach SiteB_host1" a1 "${T_ADDR[SiteB_host1]}" $LISTEN timeout A drop_lan_out
probe "SSA cannot reach SiteB_host1" ssa "${T_ADDR[SiteB_host1]}" $LISTEN timeout A drop_dmz
probe "hostile host cannot reach SSA's listen port" evil "$SSA" $LISTEN timeout A drop_shipd
probe "hostile host cannot reach SSA's range" evil "$SSA" $MIN timeout A drop_wan_in
probe "hostile host cannot reach SiteA_host1" evil "${T_ADDR[SiteA_host1]}" $LISTEN timeout A drop_wan_in
for s in A B C; do say "fw$s counters: $(ns_counters "$(topo_fw $s)" $TOPO_TABLE)"; done
ns_capture_stop "$CAP0_PID"
read -r pk by < <(pcap_summary "$CAP0")
n=$(grep -a -o -F "$CONTROL" "$CAP0" | wc -l)
say "internet capture: $pk packets, $by bytes, cleartext control marker seen $n times"
# The capture and the grep do find cleartext: check 3's "no trace" means something.
[ "$n" -ge 2 ] && ok "capture: cleartext on the internet segment is detected" ||
	nok "capture: the cleartext control marker was not found in the capture"
for p in "${NS_PIDS[@]}"; do ns_stop "$p" 2; done	# the probe listeners
# The probes' sockets linger in TIME-WAIT: the port checks leave them out.
for h in "${!T_NS[@]}"; do ns_exec "${T_NS[$h]}" ss -Htuan; done >"$CAP/ss.base"

# ---- the daemons -------------------------------------------------------------

CHECKS=(
	"1 deliveries through the exposed hosts arrive intact"
	"2 no shipd traffic dropped, every crossing inside the port range"
	"3 no trace of the packet contents on the internet or in exposed bays"
	"4 hostile host refused by the firewall, the allow list and the key check"
	"5 deliveries over UDP when TCP to the exposed hosts is blocked"
	"6 10 packets at once with a 20-port range"
	"7 packets wait at SSA while SSB is down and are delivered after"
)
skip_all() {
	local c
	for c in "${CHECKS[@]}"; do nok "$c ($1)"; done
	echo "$FAILS failed"
	exit 1
}
conf() { echo "$NODES/$1/shipping.conf"; }
log() { echo "$NODES/$1/shipd.log"; }
incoming() { echo "$NODES/$1/spool/ms_ship/incoming"; }
ctl() {
	local n=$1
	shift
	ns_exec "${T_NS[$n]}" env -u CLEARCASE_MIN_PORT -u CLEARCASE_MAX_PORT "$SHIPCTL" -c "$(conf "$n")" "$@"
}
[ -x "$SHIPD" ] || skip_all "bin/shipd missing"
[ -x "$SHIPCTL" ] || skip_all "bin/shipctl missing"

# Base confs, then keys: every node's "PEER name addr port key" line.
declare -A KEY
base_conf() {	# base_conf NAME LISTEN-ADDR|- [NODE-NAME]
	mkdir -p "$NODES/$1/spool"
	{
		echo "# $1: generated by tests/scenario/firewall_topology.sh"
		echo "NODE ${3:-$1}"
		[ "$2" != - ] && echo "LISTEN $2 $LISTEN"
		echo "SPOOL spool"
		echo "KEY-FILE shipd.key"
		echo "LOG stderr"
	} >"$(conf "$1")"
}
keygen() {	# keygen NAME: KEY[NAME] from the "PEER node addr port key" line
	local line
	line=$(ctl "$1" keygen 2>"$NODES/$1/keygen.err") || return 1
	set -- "$1" $line
	[ "$2" = PEER ] && [ -n "${6:-}" ] || return 1
	KEY[$1]=$6
}
for h in "${T_SHIPD_HOSTS[@]}" Hostile; do
	if [ "$h" = Hostile ]; then
		base_conf Hostile - SSB		# it will pose as SSB
	else
		base_conf "$h" "${T_ADDR[$h]}"
	fi
	keygen "$h" || skip_all "shipctl keygen failed: $(tail -n 1 "$NODES/$h/keygen.err")"
done
say "keys: ${#KEY[@]} nodes ran shipctl keygen"

# Full confs: the port range, quick retries, the ROUTE lines of the manual.
replica_dests() {	# every replica host outside site $1
	local o n
	for o in $TOPO_SITES; do
		[ "$o" = "$1" ] && continue
		for n in 1 2 3; do printf ' Site%s_host%s' "$o" "$n"; done
	done
}
full_conf() {	# full_conf NAME
	local h=$1 s=${T_SITE[$1]} o n d
	base_conf "$h" "${T_ADDR[$h]}"
	{
		echo "CLEARCASE_MIN_PORT $MIN"
		echo "CLEARCASE_MAX_PORT $MAX"
		echo "MAX-CHILDREN 10"
		echo "RETRY-MIN 1s"
		echo "RETRY-MAX 4s"
		echo "IO-TIMEOUT 5s"
		if [ "${T_ROLE[$h]}" = replica ]; then
			echo "ROUTE SS$s$(replica_dests "$s")"
			echo "PEER SS$s ${T_ADDR[SS$s]} $LISTEN ${KEY[SS$s]}"
			for d in $(replica_dests "$s"); do echo "KEY $d ${KEY[$d]}"; done
		else
			local route=""
			for o in $TOPO_SITES; do
				[ "$o" = "$s" ] && continue
				route="$route${route:+ }ROUTE SS$o"
				for n in 1 2 3; do route="$route Site${o}_host$n"; done
			done
			echo "$route"
			for n in 1 2 3; do
				d=Site${s}_host$n
				echo "PEER $d ${T_ADDR[$d]} $LISTEN ${KEY[$d]}"
			done
			for o in $TOPO_SITES; do
				[ "$o" = "$s" ] && continue
				echo "PEER SS$o ${T_ADDR[SS$o]} $LISTEN ${KEY[SS$o]}"
			done
			for d in $(replica_dests "$s"); do echo "KEY $d ${KEY[$d]}"; done
		fi
	} >>"$(conf "$h")"
}
for h in "${T_SHIPD_HOSTS[@]}"; do full_conf "$h"; done
# The hostile host poses as SSB, with its own key, knowing SSA's public key.
cat >>"$(conf Hostile)" <<EOF
RETRY-MIN 1s
RETRY-MAX 2s
IO-TIMEOUT 5s
ROUTE SSA SiteA_host1
PEER SSA $SSA $LISTEN ${KEY[SSA]}
KEY SiteA_host1 ${KEY[SiteA_host1]}
EOF

declare -A PID
start_shipd() {	# start_shipd NAME: start, wait until it listens (or runs)
	local h=$1 ns=${T_NS[$1]}
	echo "=== start $(date +%T.%N)" >>"$(log "$h")"
	ns_bg "$ns" "$(log "$h")" env -u CLEARCASE_MIN_PORT -u CLEARCASE_MAX_PORT \
		"$SHIPD" -c "$(conf "$h")"
	PID[$h]=$NS_LASTPID
}
ready() {	# ready NAME
	local h=$1
	kill -0 "${PID[$h]}" 2>/dev/null || return 1
	[ "$h" = Hostile ] && return 0
	ns_wait_listen "${T_NS[$h]}" tcp "${T_ADDR[$h]}:$LISTEN" 10
}
stop_shipd() { ns_stop "${PID[$1]}" 5; }
for h in "${T_SHIPD_HOSTS[@]}"; do start_shipd "$h"; done
for h in "${T_SHIPD_HOSTS[@]}"; do
	if ! ready "$h"; then
		grep -q 'not built yet' "$(log "$h")" && skip_all "bin/shipd missing"
		tail -n 5 "$(log "$h")" | sed "s/^/  $h: /"
		skip_all "shipd on $h did not start: $(tail -n 1 "$(log "$h")")"
	fi
done
ok "daemons: ${#T_SHIPD_HOSTS[@]} shipd running, each listening on its $LISTEN"

dump() {	# dump NAME...: the last lines of nodes' logs, for a failure
	local h
	for h in "$@"; do tail -n 6 "$(log "$h")" 2>/dev/null | sed "s/^/  $h: /"; done
}
# submit FROM FILE DEST...: queue FILE; the order id in $SUBMIT_ID, on
# failure shipctl's last words in $SUBMIT_ERR (both also in files, for
# submits run in the background).
submit() {
	local from=$1 f=$2 args=() d rc e=$NS_WORK/submit.$BASHPID
	shift 2
	for d in "$@"; do args+=(--to "$d"); done
	ctl "$from" submit "${args[@]}" "$f" >"$e.out" 2>"$e.err"
	rc=$?
	SUBMIT_ID=$(tail -n 1 "$e.out") SUBMIT_ERR=
	[ $rc -eq 0 ] || SUBMIT_ERR="$(basename "$f"): $(tail -n 1 "$e.err" | cut -c1-160) (exit $rc)"
	[ $rc -eq 0 ] || echo "$SUBMIT_ERR" >>"$NS_WORK/submit.failed"
	cat "$e.err" >>"$NODES/$from/submit.err"
	rm -f "$e.out" "$e.err"
	return $rc
}
arrived() { [ -f "$(incoming "$1")/$(basename "$2")" ]; }
# intact DEST FILE: prints "DEST: BYTES bytes, sha256 match|MISMATCH".
intact() {
	local got a b
	got=$(incoming "$1")/$(basename "$2")
	a=$(sha256sum <"$2" | cut -c1-64)
	b=$(sha256sum <"$got" 2>/dev/null | cut -c1-64)
	if [ "$a" = "$b" ]; then
		echo "$1: $(stat -c %s "$got") bytes, sha256 match"
		return 0
	fi
	echo "$1: $(stat -c %s "$got" 2>/dev/null || echo 0) bytes, sha256 MISMATCH"
	return 1
}
# deliver_all SECS FILE:DEST...: wait for every delivery; report each.
deliver_all() {
	local secs=$1 t0 pair bad=0
	shift
	t0=$(now)
	all_arrived() {
		local p
		for p in "$@"; do arrived "${p#*:}" "${p%%:*}" || return 1; done
	}
	poll "$secs" all_arrived "$@"
	local good=0 bytes=0 line
	for pair in "$@"; do
		if arrived "${pair#*:}" "${pair%%:*}"; then
			if line=$(intact "${pair#*:}" "${pair%%:*}"); then
				good=$((good + 1)) bytes=$((bytes + $(stat -c %s "${pair%%:*}")))
				[ $# -le 3 ] && say "$line ($(basename "${pair%%:*}"))"
			else
				say "$line ($(basename "${pair%%:*}"))"
				bad=1
			fi
		else
			say "${pair#*:}: $(basename "${pair%%:*}") not delivered"
			bad=1
		fi
	done
	say "$good of $# deliveries intact ($bytes bytes), waited $(since "$t0")s"
	return $bad
}
# ports_report LABEL FILE...: from ss samples, every local port a socket
# used; fails if one is outside the range and not the listen port.
ports_report() {
	local label=$1 ports bad
	shift
	ports=$(cat "$@" 2>/dev/null | awk -v base="$CAP/ss.base" '
		BEGIN { while ((getline l < base) > 0) { split(l, f); old[f[5] " " f[6]] = 1 } }
		!(($5 " " $6) in old) { n = split($5, a, ":"); print a[n] }' | sort -un)
	bad=""
	for p in $ports; do topo_port_ok "$p" || bad="$bad $p"; done
	say "$label: local ports seen by ss: $(echo $ports | tr ' ' ',' | cut -c1-200) ($(echo $ports | wc -w) distinct, $(cat "$@" 2>/dev/null | wc -l) socket samples)"
	[ -z "$bad" ] || { say "$label: ports OUTSIDE $MIN-$MAX/$LISTEN:$(echo "$bad" | cut -c1-200)"; return 1; }
}
# logports_report: the sender ports the daemons' own logs admit to
# ("... from port N"); fails on one outside the range.
logports_report() {
	local ports bad="" p
	ports=$(cat "$NODES"/*/shipd.log 2>/dev/null | grep -o -i -E 'from port [0-9]+' | awk '{ print $3 }' | sort -un)
	for p in $ports; do topo_port_ok "$p" || bad="$bad $p"; done
	say "sender ports in the daemons' logs so far: $(echo $ports | tr ' ' ',' | cut -c1-200)"
	[ -z "$bad" ] || { say "logged sender ports OUTSIDE $MIN-$MAX:$bad"; return 1; }
}
# flows_report: what every firewall admitted since the last flush; fails on
# a port outside the range/listen port or when nothing crossed at all.
flows_report() {
	local s f bad=0 total=0 n
	for s in $TOPO_SITES; do
		f=$(topo_fw_flows "$s")
		n=$(echo -n "$f" | grep -c .)
		total=$((total + n))
		if [ "$n" -le 4 ]; then
			say "fw$s admitted $n flows: $(echo "$f" | awk 'NF { printf "%s%s %s:%s>%s:%s", sep, $1, $2, $3, $4, $5; sep = ", " }')"
		else
			say "fw$s admitted $n flows: $(echo "$f" | awk 'NF { p[$1]++; s[$3]; d[$5] }
				function span(a, k, lo, hi, c) { lo = 99999; hi = 0; c = 0
					for (k in a) { c++; if (k + 0 < lo) lo = k + 0; if (k + 0 > hi) hi = k + 0 }
					return (c == 1 ? lo : lo "-" hi " (" c " distinct)") }
				END { for (k in p) printf "%s %d, ", k, p[k]; printf "source ports %s, destination ports %s", span(s), span(d) }')"
		fi
		while read -r pr sa sp da dp; do
			[ -n "$pr" ] || continue
			topo_port_ok "$sp" && topo_port_ok "$dp" && continue
			bad=$((bad + 1))
			[ $bad -le 5 ] && say "fw$s: flow $pr $sa:$sp > $da:$dp uses a port outside $MIN-$MAX/$LISTEN"
		done <<<"$f"
	done
	[ $bad -gt 5 ] && say "... and $((bad - 5)) more flows outside the range"
	[ "$total" -gt 0 ] || { say "no flow crossed any firewall"; bad=1; }
	[ $bad -eq 0 ]
}
flush_flows() { local s; for s in $TOPO_SITES; do topo_fw_flush_flows "$s"; done; }
declare -A DROPS0
drops_mark() { local s; for s in $TOPO_SITES; do DROPS0[$s]=$(topo_fw_drops "$s"); done; }
# drops_report: every firewall's drops since drops_mark; fails if any.
drops_report() {
	local s bad=0 t0 sh0 t1 sh1
	for s in $TOPO_SITES; do
		read -r t0 sh0 <<<"${DROPS0[$s]}"
		read -r t1 sh1 < <(topo_fw_drops "$s")
		say "fw$s drops: shipd ports +$((sh1 - sh0)), all +$((t1 - t0)) (totals $sh1/$t1)"
		[ $((t1 - t0)) -eq 0 ] && [ $((sh1 - sh0)) -eq 0 ] || bad=1
	done
	return $bad
}
declare -a SAMPLERS=()
samplers_start() {	# samplers_start TAG NAME...
	local tag=$1 h
	shift
	for h in "$@"; do
		ns_sample_start "${T_NS[$h]}" "$CAP/ss.$tag.$h"
		SAMPLERS+=("$NS_LASTPID")
	done
}
samplers_stop() { local p; for p in "${SAMPLERS[@]}"; do ns_stop "$p" 2; done; SAMPLERS=(); }
budget_ok() { [ "$(left)" -gt 20 ] || { nok "$1 (time budget of ${BUDGET}s exhausted)"; return 1; }; }

# ---- check 1: deliveries --------------------------------------------------------
flush_flows
drops_mark
CAP1=$CAP/deliveries.pcap
ns_capture_start inet br0 "$CAP1"
CAP1_PID=$NS_LASTPID
samplers_start c1 SSA SSB SSC SiteA_host1 SiteC_host1
F1=$(mkdata check1-a1.dat) F2=$(mkdata check1-c1.dat)
check1() {
	local id1
	submit SiteA_host1 "$F1" SiteB_host2 SiteC_host3 || { nok "${CHECKS[0]} (submit failed: $SUBMIT_ERR)"; return; }
	id1=$SUBMIT_ID
	submit SiteC_host1 "$F2" SiteA_host3 || { nok "${CHECKS[0]} (submit failed: $SUBMIT_ERR)"; return; }
	say "submitted $(stat -c %s "$F1") bytes as ${id1:-?} (A1 -> B2, C3), $(stat -c %s "$F2") bytes as ${SUBMIT_ID:-?} (C1 -> A3)"
	if deliver_all 60 "$F1:SiteB_host2" "$F1:SiteC_host3" "$F2:SiteA_host3"; then
		ok "${CHECKS[0]}"
	else
		nok "${CHECKS[0]}"
		dump SiteA_host1 SSA SSB SSC SiteB_host2 SiteC_host3 SiteC_host1 SiteA_host3
	fi
}
check1
sleep 1		# let closing handshakes cross before counting
samplers_stop

# ---- check 2: counters and ports -------------------------------------------------
r=0
drops_report || r=1
flows_report || r=1
ports_report "exposed hosts and senders" "$CAP"/ss.c1.* || r=1
logports_report || r=1
pp=$(pcap_ports "$CAP1")
say "ports on the internet segment: $(echo "$pp" | awk 'NF { printf "%s%s/%s>%s", sep, $1, $2, $3; sep = "," }' | cut -c1-300)"
nb=0
while read -r pr sp dp; do
	[ -n "$pr" ] || continue
	topo_port_ok "$sp" && topo_port_ok "$dp" && continue
	nb=$((nb + 1))
	[ $nb -le 5 ] && say "internet capture: $pr $sp > $dp outside $MIN-$MAX/$LISTEN"
done <<<"$pp"
[ $nb -eq 0 ] || { say "internet capture: $nb port pairs outside the range"; r=1; }
[ $r -eq 0 ] && ok "${CHECKS[1]}" || nok "${CHECKS[1]}"

# ---- check 3: no trace of the contents -------------------------------------------
ns_capture_stop "$CAP1_PID"
read -r pk by < <(pcap_summary "$CAP1")
pt=$(traces "$CAP1")
say "internet capture during check 1: $pk packets, $by bytes; marker traces: $pt"
bay_files=$(find "$NODES"/SS?/spool -type f 2>/dev/null)
bt=$(traces $bay_files)
say "exposed hosts' spools: $(echo -n "$bay_files" | grep -c .) files, $(cat $bay_files 2>/dev/null | wc -c) bytes; marker traces: $bt"
dt=$(traces "$(incoming SiteB_host2)/$(basename "$F1")")
say "for comparison, the delivered file at SiteB_host2 holds $dt marker copies"
if [ "$pk" -gt 0 ] && [ "$pt" -eq 0 ] && [ "$bt" -eq 0 ]; then
	ok "${CHECKS[2]}"
else
	[ "$pk" -gt 0 ] || say "the capture saw nothing: no shipd traffic crossed the internet"
	nok "${CHECKS[2]}"
fi

# ---- check 4: the hostile host ------------------------------------------------------
check4() {
	local r=0 c0 c1 got lines0 stamp=$NS_WORK/stamp4 want=2 stored
	budget_ok "${CHECKS[3]}" || return
	# 4a: the firewall. shipd runs on SSA now; the packets must not reach it.
	c0=$(topo_fw_counter A drop_wan_in)
	got=$(ns_tcp_probe evil "$SSA" $LISTEN 1.5 "$CONTROL")
	ns_udp_send evil "$SSA" $LISTEN "$CONTROL"
	sleep 0.5
	c1=$(topo_fw_counter A drop_wan_in)
	say "4a firewall: hostile -> SSA:$LISTEN/tcp $got, udp sent; fwA drop_wan_in $c0 -> $c1"
	[ "$got" = timeout ] && [ "$c1" -ge $((c0 + 2)) ] || r=1
	grep -q "$TOPO_HOSTILE_ADDR" "$(log SSA)" && { say "4a: SSA's log names the hostile host: it got through"; r=1; }
	# 4b: the firewall opened for it: shipd's allow list refuses.
	topo_fw_open A "$TOPO_HOSTILE_ADDR"
	touch "$stamp"
	lines0=$(wc -l <"$(log SSA)")
	got=$(ns_tcp_probe evil "$SSA" $LISTEN 2 "GARBAGE $CONTROL")
	start_shipd Hostile
	F4=$(mkdata check4-hostile.dat)
	if submit Hostile "$F4" SiteA_host1; then
		say "4b firewall opened: raw connection $got; hostile shipd (posing as SSB) queued $SUBMIT_ID for SiteA_host1"
	else
		say "4b: the hostile node could not submit: $SUBMIT_ERR"
		r=1 want=1
	fi
	# refusals SINCE [SKIP-ERE]: SSA's log lines since line SINCE that refuse
	# the hostile host (less those matching SKIP-ERE).
	refusals() {
		tail -n +$(($1 + 1)) "$(log SSA)" | grep -i 'refus' | grep -F "$TOPO_HOSTILE_ADDR" |
			grep -v -i -E "${2:-^\$}"
	}
	has_refusal() { [ "$(refusals "$1" "${3:-}" | grep -c .)" -ge "$2" ]; }
	if poll 15 has_refusal "$lines0" $want; then
		say "4b allow list: $(refusals "$lines0" | grep -c .) refusals logged; first: $(refusals "$lines0" | head -n 1 | cut -c1-160)"
	else
		say "4b allow list: $(refusals "$lines0" | grep -c .) 'refused ... $TOPO_HOSTILE_ADDR' lines in SSA's log (want $want: raw + shipd)"
		r=1
	fi
	# 4c: allow list opened too (the admin's mistake): the key check refuses.
	stop_shipd SSA
	echo "ALLOW $TOPO_HOSTILE_ADDR/32" >>"$(conf SSA)"
	lines0=$(wc -l <"$(log SSA)")
	start_shipd SSA
	ready SSA || { say "4c: SSA did not restart"; r=1; }
	# Now a refusal must come from something other than the allow list.
	if [ $want -lt 2 ]; then
		say "4c key check: not tried (the hostile node has nothing queued)"
	elif poll 20 has_refusal "$lines0" 1 'allow list'; then
		say "4c key check: $(refusals "$lines0" 'allow list' | grep -c .) refusals; first: $(refusals "$lines0" 'allow list' | head -n 1 | cut -c1-160)"
	else
		say "4c key check: no refusal of $TOPO_HOSTILE_ADDR but by the allow list in SSA's log after the restart"
		r=1
	fi
	stop_shipd Hostile
	# Nothing stored: no new file in SSA's spool, nothing at SiteA_host1.
	stored=$(find "$NODES/SSA/spool" -type f -size +0 -newer "$stamp" ! -name '*.pid' ! -name '*.lock' | sed "s|$NODES/||")
	say "files written in SSA's spool since the attack: $(echo -n "$stored" | grep -c .)${stored:+ ($(echo "$stored" | tr '\n' ' ' | cut -c1-200))}"
	[ -z "$stored" ] || r=1
	arrived SiteA_host1 "$F4" && { say "the hostile packet was DELIVERED to SiteA_host1"; r=1; }
	# Back to normal.
	stop_shipd SSA
	sed -i "/^ALLOW $TOPO_HOSTILE_ADDR/d" "$(conf SSA)"
	start_shipd SSA
	ready SSA || { say "SSA did not restart"; r=1; }
	topo_fw_close A "$TOPO_HOSTILE_ADDR"
	[ $r -eq 0 ] && ok "${CHECKS[3]}" || { nok "${CHECKS[3]}"; dump SSA Hostile; }
}
check4

# ---- check 5: UDP when TCP to the exposed hosts is blocked --------------------------
check5() {
	local r=0 s f protos
	budget_ok "${CHECKS[4]}" || return
	for s in $TOPO_SITES; do topo_fw_tcp "$s" off; done
	flush_flows
	local d0 l0
	d0=$(topo_fw_counter A drop_shipd)
	l0=$(wc -l <"$(log SSA)")
	F5=$(mkdata check5-a1.dat) F6=$(mkdata check5-c1.dat)
	if submit SiteA_host1 "$F5" SiteB_host2 SiteC_host3 && submit SiteC_host1 "$F6" SiteA_host3; then
		deliver_all 90 "$F5:SiteB_host2" "$F5:SiteC_host3" "$F6:SiteA_host3" || r=1
	else
		say "submit failed: $SUBMIT_ERR"
		r=1
	fi
	flows_report || r=1
	# What each firewall let in to its own exposed host, by protocol.
	protos=$(for s in $TOPO_SITES; do topo_fw_flows "$s" | awk -v e="${T_ADDR[SS$s]}" '$4 == e { print $1 }'; done |
		sort | uniq -c | awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }')
	say "flows admitted into the exposed hosts: ${protos:-none}; fwA drops to shipd ports (the TCP attempts): +$(($(topo_fw_counter A drop_shipd) - d0))"
	for s in $TOPO_SITES; do
		topo_fw_flows "$s" | awk -v e="${T_ADDR[SS$s]}" '$1 == "tcp" && $4 == e' | grep -q . &&
			{ say "fw$s admitted TCP to SS$s"; r=1; }
	done
	say "SSA log lines naming udp since the block: $(tail -n +$((l0 + 1)) "$(log SSA)" | grep -ci 'udp')"
	tail -n +$((l0 + 1)) "$(log SSA)" | grep -qi 'udp' || r=1
	for s in $TOPO_SITES; do topo_fw_tcp "$s" on; done
	[ $r -eq 0 ] && ok "${CHECKS[4]}" || { nok "${CHECKS[4]}"; dump SiteA_host1 SSA SSB SSC; }
}
check5

# ---- check 6: 10 packets at once, 20 ports -------------------------------------------
check6() {
	local r=0 i pairs=() files=() sp=() f p
	budget_ok "${CHECKS[5]}" || return
	flush_flows
	drops_mark
	samplers_start c6 SiteA_host1 SSA SSB
	for i in $(seq 1 10); do files+=("$(mkdata "check6-$i.dat")"); done
	for f in "${files[@]}"; do
		submit SiteA_host1 "$f" SiteB_host1 &
		sp+=($!)
	done
	local nf=0
	for p in "${sp[@]}"; do wait "$p" || nf=$((nf + 1)); done
	for f in "${files[@]}"; do pairs+=("$f:SiteB_host1"); done
	if [ $nf -gt 0 ]; then
		say "$nf of 10 submits failed: $(tail -n 1 "$NS_WORK/submit.failed")"
		r=1
	else
		deliver_all 90 "${pairs[@]}" || r=1
	fi
	say "delivered at SiteB_host1: $(find "$(incoming SiteB_host1)" -name 'check6-*' 2>/dev/null | grep -c .) of 10"
	sleep 1
	samplers_stop
	ports_report "SiteA_host1, SSA, SSB" "$CAP"/ss.c6.* || r=1
	logports_report || r=1
	flows_report || r=1
	drops_report || r=1
	[ $r -eq 0 ] && ok "${CHECKS[5]}" || { nok "${CHECKS[5]}"; dump SiteA_host1 SSA SSB SiteB_host1; }
}
check6

# ---- check 7: an exposed host down for a while ----------------------------------------
check7() {
	local r=0 l0 t0 n q files t
	budget_ok "${CHECKS[6]}" || return
	stop_shipd SSB || say "SSB's shipd needed SIGKILL"
	l0=$(wc -l <"$(log SSA)")
	F7=$(mkdata check7-a1.dat)
	submit SiteA_host1 "$F7" SiteB_host3 || { nok "${CHECKS[6]} (submit failed: $SUBMIT_ERR)"; start_shipd SSB; return; }
	t0=$(now)
	deferred() { [ "$(tail -n +$((l0 + 1)) "$(log SSA)" | grep -ci 'deferred')" -ge "$1" ]; }
	poll 30 deferred 2
	sleep 2
	n=$(tail -n +$((l0 + 1)) "$(log SSA)" | grep -ci 'deferred')
	q=$(ctl SSA ls --json 2>/dev/null | jq -s 'if length == 1 and (.[0] | type) == "array" then .[0] | length
		elif length == 1 and (.[0] | type) == "object" and (.[0] | has("orders")) then .[0].orders | length
		else length end' 2>/dev/null)
	files=$(find "$NODES/SSA/spool" -type f -size +0)
	t=$(traces $files)
	say "SSB down $(since "$t0")s: SSA logged $n 'deferred' lines, 'ls --json' lists ${q:-?} orders, spool holds $(echo -n "$files" | grep -c .) files ($(cat $files 2>/dev/null | wc -c) bytes), marker traces $t"
	[ "$n" -ge 2 ] && [ "${q:-0}" -ge 1 ] || r=1
	[ "$t" -eq 0 ] && ok "3b the packet waiting at SSA carries no trace of its contents" ||
		nok "3b the packet waiting at SSA carries no trace of its contents"
	arrived SiteB_host3 "$F7" && { say "delivered while SSB was down?"; r=1; }
	start_shipd SSB
	ready SSB || { say "SSB did not restart"; r=1; }
	t0=$(now)
	deliver_all 40 "$F7:SiteB_host3" || r=1
	say "delivered $(since "$t0")s after SSB came back"
	[ $r -eq 0 ] && ok "${CHECKS[6]}" || { nok "${CHECKS[6]}"; dump SiteA_host1 SSA SSB; }
}
check7

# ---- shutdown ----------------------------------------------------------------------------
# All at once, 5 seconds for all: a daemon that ignores SIGTERM costs 5s, not 60.
for h in "${T_SHIPD_HOSTS[@]}"; do kill -TERM "${PID[$h]}" 2>/dev/null; done
all_gone() { local h; for h in "${T_SHIPD_HOSTS[@]}"; do kill -0 "${PID[$h]}" 2>/dev/null && return 1; done; return 0; }
BUDGET=$((BUDGET + 10)) poll 5 all_gone
bad=""
for h in "${T_SHIPD_HOSTS[@]}"; do kill -0 "${PID[$h]}" 2>/dev/null && bad="$bad $h"; ns_stop "${PID[$h]}" 0; done
[ -z "$bad" ] && ok "daemons: every shipd stopped on SIGTERM within 5s" ||
	nok "daemons: shipd needed SIGKILL on:$bad"
say "run took ${SECONDS}s"
[ "$FAILS" -eq 0 ]

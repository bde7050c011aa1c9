#!/bin/bash
# bench/peers/uucp.sh - one benchmark run of Taylor UUCP over TCP on
# 127.0.0.1, the same cases and output as bench/shipd.sh: a fresh rig of
# two nodes with their own config (uucp -I), B answering calls through
# socat + "uucico -l" (the inetd way), A queueing with uucp -r and calling
# with uucico -S (protocol t: TCP is reliable). Two hops: A -> X -> B,
# "uucp FILE X!B!~/" forwarded by X (uuxqt runs the forwarding uucp there).
#
#   bench/peers/uucp.sh hop1|hop2 FILE | files DIR
# Prints "RESULT SECONDS CPU MAXRSS_KIB DETAIL". The rig is owned by the
# uucp user (uucico is setuid uucp) and removed on exit.
set -u
case_=${1:?usage: uucp.sh hop1|hop2|files SRC}; src=${2:?usage: uucp.sh CASE SRC}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/bench/lib.sh"
UUCICO=/usr/sbin/uucico
[ -x "$UUCICO" ] || { echo "uucp.sh: uucp not installed (scripts/install-deps --bench)" >&2; exit 69; }
R=$(mktemp -d /tmp/uucp-bench.XXXXXX)
declare -A DPID
cleanup() {
	local p
	for p in "${DPID[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] || rm -rf "$R"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
base=$((20000 + RANDOM % 20000))
declare -A PORT=([A]=$((base + 1)) [X]=$((base + 2)) [B]=$((base + 3)))

mknode() {	# mknode NAME CALLS... : config, sys entries for the nodes it calls
	local n=$1 d=$R/$1; shift
	mkdir -p "$d/spool" "$d/pub" "$d/lock"
	cat >"$d/config" <<-C
	nodename $n
	spool $d/spool
	pubdir $d/pub
	lockdir $d/lock
	logfile $d/Log
	statfile $d/Stats
	debugfile $d/Debug
	sysfile $d/sys
	passwdfile $d/passwd
	C
	: >"$d/sys"
	for p in "$@"; do
		cat >>"$d/sys" <<-S
		system $p
		time any
		port type tcp
		port service ${PORT[$p]}
		address 127.0.0.1
		chat ogin: U$n ssword: pw$n
		protocol t
		commands uucp rmail
		command-path $d/bin
		local-send /
		local-receive /
		remote-send /
		remote-receive /
		forward ANY

		S
	done
}
callin() {	# callin NODE FROM... : NODE accepts calls from FROM
	local n=$1 f; shift
	mkdir -p "$R/$n/bin"	# what uuxqt runs for a forward: uucp on this rig's config
	printf '#!/bin/sh\nexec /usr/bin/uucp -I %s -r "$@"\n' "$R/$n/config" >"$R/$n/bin/uucp"
	chmod 755 "$R/$n/bin/uucp"
	for f in "$@"; do
		echo "U$f pw$f" >>"$R/$n/passwd"
		grep -q "^system $f\$" "$R/$n/sys" || cat >>"$R/$n/sys" <<-S
		system $f
		called-login U$f
		protocol t
		commands uucp rmail
		command-path $R/$n/bin
		local-send /
		local-receive /
		remote-send /
		remote-receive /
		forward ANY

		S
	done
}
listen() {	# listen NODE : socat + uucico -l, under /usr/bin/time
	local n=$1
	/usr/bin/time -f "$TIMEFMT" -o "$R/daemon-$n.time" \
		socat TCP-LISTEN:${PORT[$n]},bind=127.0.0.1,reuseaddr,fork \
		EXEC:"$UUCICO -I $R/$n/config -l" >>"$R/$n/listen.log" 2>&1 &
	DPID[$n]=$!
	for _ in $(seq 100); do ss -ltn | grep -q ":${PORT[$n]} " && return 0; sleep 0.05; done
	echo "uucp.sh: $n did not listen" >&2; return 1
}
run() {	# run LABEL CMD... : under /usr/bin/time into $R/LABEL.time (runs add up)
	local lab=$1; shift
	/usr/bin/time -f "$TIMEFMT" -a -o "$R/$lab.time" "$@" >>"$R/out.log" 2>&1
}

if [ "$case_" = hop2 ]; then
	mknode A X; mknode X B; mknode B
	callin X A; callin B X
	nodes="X B"; dest='X!B!~/'
else
	mknode A B; mknode B
	callin B A
	nodes="B"; dest='B!~/'
fi
chown -R uucp:uucp "$R"; chmod 1777 "$R"/*/pub
for n in $nodes; do listen "$n" || exit 1; done
mkdir -p "$R/in"
if [ -d "$src" ]; then cp -al "$src/." "$R/in/" 2>/dev/null || cp -a "$src/." "$R/in/"
else ln "$src" "$R/in/" 2>/dev/null || cp "$src" "$R/in/"; fi
chown -R uucp:uucp "$R/in"
ship() {
	run uucico $UUCICO -I "$R/A/config" -D -S "${dest%%!*}" || return 1
	if [ "$case_" = hop2 ]; then	# X runs the forwarding uucp, then calls B
		run uuxqt /usr/sbin/uuxqt -I "$R/X/config"
		run uucico $UUCICO -I "$R/X/config" -D -S B
	fi
}
t0=$(now)
if [ "$case_" = files ]; then
	want=$(nfiles "$R/in")
	for f in "$R/in"/*; do run uucp uucp -I "$R/A/config" -r "$f" "$dest" || break; done
	ship
else
	want=1
	run uucp uucp -I "$R/A/config" -r "$R/in/$(basename "$src")" "$dest" && ship
fi
wait_files "$R/B/pub" "$want" 5; rc=$?
t1=$(now)
got=$(nfiles "$R/B/pub")
# the answering uucico lingers after "Call complete": end it (it exits
# cleanly on TERM) and let socat reap it, so its usage is counted
for n in $nodes; do
	s=$(pgrep -P "${DPID[$n]}" -x socat)
	for _ in $(seq 50); do
		kids=$(pgrep -P "$s" | tr '\n' ' ')
		[ -z "$kids" ] && break
		kill -TERM $kids 2>/dev/null; sleep 0.1
	done
	kill -TERM "$s" 2>/dev/null; wait "${DPID[$n]}" 2>/dev/null; unset "DPID[$n]"
done
pairs=()
for l in uucp uucico uuxqt; do pairs+=("$l=$R/$l.time"); done
for n in $nodes; do pairs+=("socat+uucico-$n=$R/daemon-$n.time"); done
read -r cpu rss detail < <(sum_times "${pairs[@]}")
echo "RESULT $(elapsed "$t0" "$t1") $cpu $rss $detail,delivered:$got/$want"
[ $rc -eq 0 ] || { tail -n 5 "$R/out.log" "$R"/*/Log >&2; exit 1; }

#!/bin/bash
# bench/bytes.sh - the per-byte accounting of one large packet (issue 16):
# how many times each node reads and writes the packet's bytes from files,
# moves them through sockets and pipes, and how many fsyncs it makes,
# counted by strace(1) on real daemons (tests/lib/nodes.sh), as multiples
# of the file's size.
#
#   bench/bytes.sh [hop1|hop2] [MiB]     default: hop1 64
#
# "submit" is `shipctl submit` (it seals), A/X/B the daemons with all their
# workers. Reads of the source file and writes of the delivered file count
# too. Hashes and cipher passes are not visible to strace: bench/README.md
# lists them from the code. Never asserts; strace slows the run, so no
# time is printed.
set -u
case_=${1:-hop1}; mb=${2:-64}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/lib/nodes.sh"
command -v strace >/dev/null || { echo "bytes.sh: strace is not installed" >&2; exit 1; }
WAIT=300
nodes_init
base=$((20000 + RANDOM % 20000))
node_add A $((base + 1)) "BAY-SIZE-LIMIT 0"
node_add B $((base + 3)) "BAY-SIZE-LIMIT 0"
nodes="A B"
if [ "$case_" = hop2 ]; then
	node_add X $((base + 2)) "BAY-SIZE-LIMIT 0"
	node_peer A X; node_peer X A; node_peer X B; node_peer B X
	node_key A B; node_key B A
	node_route A X B
	nodes="A X B"
else
	node_peer A B; node_peer B A
fi
declare -A SPID
mkdir -p "$NODES/st"
calls=read,write,pread64,pwrite64,readv,writev,preadv,pwritev,sendfile,splice,copy_file_range,sendmsg,recvmsg,sendto,recvfrom,fsync,fdatasync,sync_file_range
for n in $nodes; do
	node_start "$n" || exit 1
	strace -ff -y -qq -e trace=$calls -o "$NODES/st/$n" -p "${PID[$n]}" 2>/dev/null &
	SPID[$n]=$!
done
sleep 1	# strace attached to the masters (their workers are followed from their fork)
work=$NODES/work; mkdir -p "$work"
head -c $((mb * 1048576)) /dev/urandom >"$work/big.bin"
strace -ff -y -qq -e trace=$calls -o "$NODES/st/submit" \
	"$SHIPCTL" -c "$(conf A)" submit --to B "$work/big.bin" >/dev/null 2>&1
wait_for delivered B big.bin || echo "# not delivered" >&2
sleep 1
for n in $nodes; do kill "${SPID[$n]}" 2>/dev/null; done
for n in $nodes; do node_stop "$n"; done
size=$((mb * 1048576))
printf '%-7s %10s %10s %10s %10s %10s %10s %7s\n' who file-rd file-wr sock-in sock-out pipe-rd pipe-wr fsyncs
for w in submit $nodes; do
	awk -v size="$size" -v who="$w" '
	function kind(s) {
		if (s ~ /<(socket|TCP|UDP|TCPv6|UDPv6|UNIX)/) return "sock"
		if (s ~ /<pipe:/) return "pipe"
		if (s ~ /<\/dev\//) return ""
		if (s ~ /<\//) return "file"
		return ""
	}
	{
		if (!match($0, / = [0-9]+/)) next
		ret = substr($0, RSTART + 3, RLENGTH - 3) + 0
		call = $0; sub(/\(.*/, "", call)
		args = $0; sub(/^[^(]*\(/, "", args)
		k = kind(args)
		if (call ~ /^(fsync|fdatasync)$/) { fs++; next }
		if (call == "sendfile" || call == "splice" || call == "copy_file_range") {
			# out fd first for sendfile; in fd first for splice and copy_file_range
			split(args, a, ", ")
			o = kind(a[1]); i = kind(a[2])
			if (call != "sendfile") { t = o; o = i; i = t }
			rd[i] += ret; wr[o] += ret; next
		}
		if (call ~ /^(read|pread64|readv|preadv|recvmsg|recvfrom)$/) rd[k] += ret
		else if (call ~ /^(write|pwrite64|writev|pwritev|sendmsg|sendto)$/) wr[k] += ret
	}
	END {
		printf "%-7s %9.2fx %9.2fx %9.2fx %9.2fx %9.2fx %9.2fx %7d\n", who,
			rd["file"] / size, wr["file"] / size, rd["sock"] / size, wr["sock"] / size,
			rd["pipe"] / size, wr["pipe"] / size, fs
	}' "$NODES/st/$w".*
done

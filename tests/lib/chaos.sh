# tests/lib/chaos.sh - helpers for the reliability scenarios (crash, full
# disk, load): restarting a killed node, making a manifest of unique files
# and checking a far node's incoming/ against it, finding leftovers in state
# directories, and sampling a master's file descriptors, RSS and children.
# Source after nodes.sh. Never touches anything outside $NODES.
#
#   node_restart NAME           start NAME again after a kill (waits for a new
#                               "started" line; retries while the port is busy)
#   make_files DIR N BIG        N files of varied sizes (BIG of several MiB),
#                               manifest DIR.sums ("sha256  name")
#   verify_incoming NAME SUMS   sets MISSING, DUPS, BAD, EXTRA for NAME's incoming/
#   leftovers NAME              state dirs of NAME's bays that hold files
#   queue_empty NAME            `shipctl ls --json` lists nothing
#   master_fds PID / master_rss PID / master_anon PID (kB: resident, and
#                               of that the process's own memory, which a
#                               leak grows; library pages touched late do not)
#   role_counts PID             "WORKERS RECEIVERS": children by role (their
#                               process names); workers PID
#   small_fs DIR SIZE           a tmpfs of SIZE on DIR (root), unmounted on
#                               exit once the daemons are stopped
#   free_bytes DIR              bytes available on DIR's file system

node_restart() {
	local n=$1 tries lines
	for tries in 1 2 3 4 5 6 7 8 9 10; do
		lines=$(wc -l <"$NODES/$n/shipd.log")
		$SHIPD -c "$(conf "$n")" -f >>"$NODES/$n/shipd.log" 2>&1 &
		PID[$n]=$!
		if wait_for _started_since "$n" "$lines" "${PID[$n]}"; then
			kill -0 "${PID[$n]}" 2>/dev/null && return 0
		fi
		wait "${PID[$n]}" 2>/dev/null
		unset "PID[$n]"
		RESTART_RETRIES=$((${RESTART_RETRIES:-0} + 1))
		sleep 0.5
	done
	echo "# $n could not be restarted"
	return 1
}

_started_since() {	# NAME LINES PID: a new "started" line, or the process died
	tail -n +"$(($2 + 1))" "$NODES/$1/shipd.log" | grep -q " started" && return 0
	! kill -0 "$3" 2>/dev/null
}

# Random sizes come from bash's $RANDOM, so a seeded RANDOM replays them.
make_files() {
	local dir=$1 n=$2 big=$3 i size r name
	mkdir -p "$dir"
	for ((i = 1; i <= n; i++)); do
		name=$(printf 'p%05d.dat' "$i")
		r=$((RANDOM % 100))
		if ((i <= big)); then
			size=$((2 * 1048576 + (RANDOM * 32 + RANDOM % 32) % (4 * 1048576)))
		elif ((r < 85)); then
			size=$((1 + RANDOM % 4096))
		else
			size=$((4096 + (RANDOM * 8) % 262144))
		fi
		head -c "$size" /dev/urandom >"$dir/$name"
	done
	(cd "$dir" && sha256sum -- *.dat) >"$dir.sums"
}

verify_incoming() {
	local inc=$(bay "$1")/incoming sums=$2 res
	res=$(cd "$inc" && LC_ALL=C sha256sum -c "$sums" 2>/dev/null | grep -v ': OK$')
	MISSING=$(grep -c 'FAILED open or read$' <<<"$res")
	BAD=$(grep -c ': FAILED$' <<<"$res")
	grep -m 5 'FAILED' <<<"$res" | sed 's/^/# /'
	# a second copy of NAME is delivered as NAME_1, NAME_2, ...
	DUPS=$(find "$inc" -maxdepth 1 -type f -name '*.dat_*' | wc -l)
	EXTRA=$(($(find "$inc" -maxdepth 1 -type f | wc -l) - $(wc -l <"$sums") + MISSING - DUPS))
	[ "$DUPS" -gt 0 ] && find "$inc" -maxdepth 1 -type f -name '*.dat_*' | head -n 5 | sed 's/^/# duplicate: /'
	return 0
}

# State directories that must be empty once the queue has drained.
LEFTOVER_DIRS="tmp active outgoing deferred hold joining partial unpack inflight data corrupt"
leftovers() {
	local b d out=
	for b in "$(spool "$1")"/*/; do
		for d in $LEFTOVER_DIRS; do
			[ -d "$b$d" ] || continue
			[ -n "$(find "$b$d" -mindepth 1 -print -quit)" ] &&
				out="$out ${b#$(spool "$1")/}$d($(find "$b$d" -mindepth 1 -maxdepth 1 | wc -l))"
		done
	done
	echo "${out# }"
}

# nothing queued, and no delivery receipt still owed (receipts/ID.owed: a
# small packet a receiver opened, its receipt not yet queued by the master)
queue_empty() {
	! find "$(spool "$1")" -path '*/receipts/*.owed' -print -quit 2>/dev/null | grep -q . &&
		[ "$(ctl "$1" ls --json 2>/dev/null | tr -d ' \n')" = "[]" ]
}

count_incoming() { find "$(bay "$1")/incoming" -maxdepth 1 -type f | wc -l; }
incoming_at_least() { [ "$(count_incoming "$1")" -ge "$2" ]; }

master_fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
master_rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
master_anon() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# "anon N file N shmem N" (kB): what of the RSS is the process's own memory
master_rss_parts() { awk '/^RssAnon:/ {a=$2} /^RssFile:/ {f=$2} /^RssShmem:/ {s=$2} END {print "anon " a " file " f " shmem " s}' "/proc/$1/status" 2>/dev/null; }
# children of master $1 by role (the name each child gives itself, see
# shipd(8) PROCESSES): workers are every job MAX-CHILDREN bounds, receivers
# what MAX-RECEIVERS bounds
# "WORKERS RECEIVERS" from one look at the children's names; a child that
# has not named itself yet (still "shipd", an instant after its fork) is
# neither: a real excess stays, and is counted once it has its name
# (shipd-recv: it holds a slot; shipd-door, at the door, and shipd-closing,
# done and closing its connection, hold none and are neither)
role_counts() { ps --ppid "$1" -o comm= | awk '$1 == "shipd-recv" { r++; next }
	$1 == "shipd-door" || $1 == "shipd-closing" { next }
	$1 ~ /^shipd-/ { w++ } END { print w + 0, r + 0 }'; }
workers() { local w r; read -r w r < <(role_counts "$1"); echo "$w"; }

# "N reason, N reason" for every refusal logged by any node (receiver and
# master side) and every failed send attempt (sender side).
refusals() {
	cat "$NODES"/*/shipd.log 2>/dev/null | grep -E 'refused|attempt to .* failed' |
	sed -E 's/.*(receivers busy|bay full|allow list|unreachable|timed out|Connection reset|No space left|too large).*/\1/; t
		s/.*(closed the connection in handshake|[Hh]andshake).*/handshake/; t
		s/.*(connection closed|closed by|EOF).*/connection closed/;
		t; s/.*/other/' | sort | uniq -c | awk '{n=$1; $1=""; printf "%s%d%s", (NR>1?", ":""), n, $0} END {if (!NR) printf "none"}'
}

# With SHIPD/SHIPCTL pointing at the ASan+UBSan build (build/asan/bin):
# no sanitizer report in any node's log. Call after the nodes are stopped.
sanitizer_reports() {
	cat "$NODES"/*/shipd.log 2>/dev/null |
		grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:'
}

MOUNTS=()
small_fs() {
	mkdir -p "$1" && mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" || return 1
	MOUNTS+=("$1")
	trap _small_fs_cleanup EXIT
}
_small_fs_cleanup() {
	local n m
	for n in "${!PID[@]}"; do node_stop "$n" 2>/dev/null; done
	for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null; done
	nodes_cleanup
}
free_bytes() { df -B1 --output=avail "$1" | tail -n 1 | tr -d ' '; }

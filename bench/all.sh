#!/bin/bash
# bench/all.sh - shipd side by side with NNCP and UUCP on loopback, and
# against the machine's limits (issue 7). Runnable on its own; bench/run
# calls it last. Generates the inputs once, measures the limits, then runs
# every case BENCH_RUNS times alternating the systems (the order rotates
# each run), the queue-scale timings, and hands the raw figures to
# bench/report.sh, which prints the table and writes bench/results/latest.md.
# Never asserts on the figures; a system that is missing or fails a case
# shows as "-" in the table.
#
#   BENCH_MB=1024 BENCH_FILES=1000 BENCH_RUNS=3 BENCH_SCALE="1000 10000 100000"
#   BENCH_SYSTEMS="shipd nncp uucp"
#   bench/all.sh [--append]   --append (from bench/run): add the section to the
#                             latest.md bench/run just wrote instead of replacing it
set -u
[ "${1:-}" = --append ] && export BENCH_APPEND=1
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
: "${BENCH_MB:=1024}" "${BENCH_FILES:=1000}" "${BENCH_RUNS:=3}"
: "${BENCH_SCALE:=1000 10000 100000}" "${BENCH_SYSTEMS:=shipd nncp uucp}" "${BENCH_POLL_LIMIT:=150}"
export BENCH_MB BENCH_FILES BENCH_RUNS BENCH_SCALE BENCH_POLL_LIMIT
[ -x bin/shipd ] && [ -x bin/shipctl ] || make -s all || exit 1
W=$(mktemp -d /tmp/shipd-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM
RAW=$TOP/bench/results/raw.txt
mkdir -p bench/results build/bench
: >"$RAW"
say() { echo "bench: $*" >&2; }

# limits (the small C tool links the project's crypto adapters)
if cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Isrc \
	bench/limits.c build/libshipd.a -lgcrypt -larchive -o build/bench/limits; then
	say "limits (AEAD, loopback TCP, fsync'd write, create+fsync+rename)"
	lmb=$BENCH_MB; [ "$lmb" -gt 1024 ] && lmb=1024
	build/bench/limits "$W/limits" "$lmb" | sed 's/^/limit /' >>"$RAW"
fi

say "inputs: one ${BENCH_MB} MiB file of random data, ${BENCH_FILES} x 4 KiB"
head -c "$((BENCH_MB * 1048576))" /dev/urandom >"$W/big.bin"
mkdir -p "$W/small"
head -c "$((BENCH_FILES * 4096))" /dev/urandom | (cd "$W/small" && split -b 4096 -a 6 - f)

runner() {
	case $1 in
	shipd) echo bench/shipd.sh ;;
	nncp) echo bench/peers/nncp.sh ;;
	uucp) echo bench/peers/uucp.sh ;;
	esac
}
read -r -a systems <<<"$BENCH_SYSTEMS"
for ((run = 1; run <= BENCH_RUNS; run++)); do
	# rotate the order so no system always runs first (cold or warm)
	order=("${systems[@]:$(((run - 1) % ${#systems[@]}))}" "${systems[@]:0:$(((run - 1) % ${#systems[@]}))}")
	for c in hop1 hop2 files; do
		src=$W/big.bin; [ "$c" = files ] && src=$W/small
		for s in "${order[@]}"; do
			line=$(timeout 900 "$(runner "$s")" "$c" "$src" 2>>"$W/errors" | grep '^RESULT ')
			if [ -n "$line" ]; then
				echo "run $s $c $run ${line#RESULT }" >>"$RAW"
				say "run $run $s $c: ${line#RESULT }"
			else
				say "run $run $s $c: failed ($(tail -n 1 "$W/errors" 2>/dev/null))"
			fi
		done
	done
done

say "idle CPU of a running shipd (10 s)"
bench/shipd.sh idle 10 2>/dev/null | sed -n 's/^RESULT /idle /p' >>"$RAW"
say "queue scale: shipctl ls and shipd --poll at $BENCH_SCALE orders"
bench/scale.sh $BENCH_SCALE 2>>"$W/errors" | grep '^scale ' >>"$RAW"
bench/report.sh "$RAW"

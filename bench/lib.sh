# bench/lib.sh - helpers shared by the benchmark scripts (source it): a
# clock, waiting for N delivered files, reading /usr/bin/time's output.
# Each system's script runs ONE case once and prints one line:
#   RESULT SECONDS CPU_SECONDS MAX_RSS_KIB DETAIL
# where CPU and RSS cover every process of that system involved (daemons
# with their reaped children, and the submitting commands), and DETAIL is
# "proc:rssKiB/cpus,..." per process group.

: "${TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
TIMEFMT="%e %U %S %M"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# how many regular files (not dot-files) are directly in DIR
nfiles() { find "$1" -maxdepth 1 -type f ! -name '.*' 2>/dev/null | wc -l; }

# wait (at most LIMIT seconds, 20 ms steps) until DIR holds N files
wait_files() {
	local dir=$1 n=$2 limit=${3:-600} t0=$SECONDS
	while [ "$(nfiles "$dir")" -lt "$n" ]; do
		[ $((SECONDS - t0)) -ge "$limit" ] && return 1
		sleep 0.02
	done
}

# Sum "/usr/bin/time -f '%e %U %S %M'" files (appended runs add up; the
# peak is the largest of them): prints "CPU MAXRSS_KIB DETAIL".
# Arguments are LABEL=FILE pairs; a missing file counts as nothing.
sum_times() {
	local a
	for a in "$@"; do
		[ -f "${a#*=}" ] || continue
		awk -v lab="${a%%=*}" 'NF == 4 && $1 ~ /^[0-9.]+$/ { c += $2 + $3; if ($4 > m) m = $4 }
			END { printf "%s %.2f %d\n", lab, c, m }' "${a#*=}"
	done | awk '{ c += $2; if ($3 > m) m = $3
			d = d (d == "" ? "" : ",") sprintf("%s:%dM/%.1fs", $1, $3 / 1024, $2) }
		END { printf "%.2f %d %s\n", c, m, d }'
}

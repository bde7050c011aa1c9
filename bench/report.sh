#!/bin/bash
# bench/report.sh - turn bench/all.sh's raw figures into one markdown
# report: the side-by-side table (medians of the runs; ratios shipd/NNCP,
# shipd/UUCP, shipd/limit), the machine's limits, idle CPU, queue scale,
# and every run's per-process detail. Writes bench/results/latest.md
# (with the date, uname -a and the CPU model) and prints it; with
# BENCH_APPEND=1 (make bench) the section is appended to the latest.md that
# bench/run's earlier sections wrote (never to one that already holds it). Reads only
# RAW; computes nothing that the raw lines do not hold.
#
#   bench/report.sh [RAW]    (default bench/results/raw.txt)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
RAW=${1:-$TOP/bench/results/raw.txt}
OUT=$TOP/bench/results/latest.md
MB=${BENCH_MB:-1024}; FILES=${BENCH_FILES:-1000}

# median of field F (1-based, after "run SYS CASE RUN") for SYS CASE, or "-"
med() {
	local v
	v=$(awk -v s="$1" -v c="$2" -v f="$3" '$1 == "run" && $2 == s && $3 == c { print $(4 + f) }' "$RAW" |
		sort -g | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }')
	echo "${v:--}"
}
nruns() { awk -v s="$1" -v c="$2" '$1 == "run" && $2 == s && $3 == c' "$RAW" | wc -l; }
limit() { awk -v k="$1" '$1 == "limit" && $2 == k { print $3 }' "$RAW"; }
calc() { awk "BEGIN { if ($2) printf \"$1\", $3; else print \"-\" }" 2>/dev/null || echo -; }
# rate: units per second from a median time; "-" passes through
rate() { [ "$2" = - ] && { echo -; return; }; calc "$3" "$2 > 0" "$1 / $2"; }
ratio() { { [ "$1" = - ] || [ "$2" = - ] || [ -z "$2" ]; } && { echo -; return; }; calc "%.2fx" "$2 > 0" "$1 / $2"; }

declare -A V
for s in shipd nncp uucp; do
	for c in hop1 hop2; do
		t=$(med $s $c 1)
		V[$s.$c.mbs]=$(rate "$MB * 1048576 / 1e6" "$t" "%.0f")
		V[$s.$c.rss]=$(r=$(med $s $c 3); [ "$r" = - ] && echo - || calc "%.1f" 1 "$r / 1024")
		V[$s.$c.cpu]=$(c_=$(med $s $c 2); [ "$c_" = - ] && echo - || calc "%.2f" 1 "$c_ / ($MB / 1024)")
	done
	t=$(med $s files 1)
	V[$s.files.fps]=$(rate "$FILES" "$t" "%.0f")
	V[$s.files.rss]=$(r=$(med $s files 3); [ "$r" = - ] && echo - || calc "%.1f" 1 "$r / 1024")
	V[$s.files.cpu]=$(c_=$(med $s files 2); [ "$c_" = - ] && echo - || calc "%.2f" 1 "$c_ * 1000 / $FILES")
done
disk=$(limit disk_mbs); tcp=$(limit tcp_mbs); aead=$(limit aead_mbs)
commit=$(limit commit_dirsync_rate)
hoplim=$(printf '%s\n' "$disk" "$tcp" "$aead" | grep . | sort -n | head -n 1)
# issue 16: write the file once with fsync, then read it once
dread=$(limit disk_read_mbs)
wrlim=$( [ -n "$disk" ] && [ -n "$dread" ] && calc "%.0f" 1 "1 / (1 / $disk + 1 / $dread)")

row() {	# row LABEL KEY LIMIT
	local s=${V[shipd.$2]:--} n=${V[nncp.$2]:--} u=${V[uucp.$2]:--} l=${3:--}
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$s" "$n" "$u" "$l" \
		"$(ratio "$s" "$n")" "$(ratio "$s" "$u")" "$(ratio "$s" "$l")"
}
runs=$(awk '$1 == "run" { print $4 }' "$RAW" | sort -n | tail -n 1)
{
	echo "# shipd vs NNCP vs UUCP vs the machine: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- machine: \`$(uname -a)\`"
	echo "- CPU: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) memory"
	echo "- spool file system: $(df -T /tmp | awk 'NR == 2 { print $2 " on " $1 }')"
	echo "- versions: $(nncp-file -version 2>/dev/null | head -n 1 || echo nncp -), $(uucp --version 2>/dev/null | head -n 1 || echo uucp -)"
	echo "- inputs: one ${MB} MiB file of random data; ${FILES} files of 4 KiB, each submitted separately; medians of ${runs:-0} runs, systems alternated"
	echo
	echo "| case | shipd | NNCP | UUCP | limit | shipd/NNCP | shipd/UUCP | shipd/limit |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	row "${MB} MiB one hop, MB/s (limit: slowest of disk/TCP/AEAD)" hop1.mbs "$hoplim"
	row "${MB} MiB two hops via a relay, MB/s" hop2.mbs "$hoplim"
	row "${MB} MiB one hop, MB/s, against writing it once with fsync + reading it once" hop1.mbs "${wrlim:--}"
	row "${FILES} x 4 KiB one hop, files/s (limit: create+fsync+rename+dir fsync)" files.fps "$commit"
	row "peak RSS of any process, ${MB} MiB one hop, MiB (goal 32)" hop1.rss 32
	row "peak RSS of any process, two hops, MiB" hop2.rss 32
	row "peak RSS of any process, ${FILES} files, MiB" files.rss 32
	row "CPU s per delivered GiB, one hop (all processes)" hop1.cpu
	row "CPU s per delivered GiB, two hops" hop2.cpu
	row "CPU s per 1,000 files delivered" files.cpu
	echo
	echo "Goals (issue 7): one hop >= 3x NNCP and >= 1.5x UUCP; >= 1,000 files/s; RSS <= 32 MiB; idle CPU ~ 0."
	echo "NNCP: nncp-file, then nncp-call and nncp-toss (the files case calls once after all submissions)."
	echo "UUCP: uucp -r, then uucico -S (protocol t); it does not fsync what it receives. shipd fsyncs every"
	echo "state change and seals (zstd + ChaCha20-Poly1305 + Ed25519) end to end."
	echo
	echo "## Limits of this machine"
	echo
	echo "| limit | value |"
	echo "| --- | ---: |"
	echo "| libgcrypt ChaCha20-Poly1305, one core, 64 KiB buffers | ${aead:--} MB/s |"
	echo "| libgcrypt SHA-256, one core (the packet digests) | $(limit sha256_mbs) MB/s |"
	echo "| loopback TCP | ${tcp:--} MB/s |"
	echo "| sequential write + fsync, spool file system | ${disk:--} MB/s |"
	echo "| create + 4 KiB + fsync + rename | $(limit commit_rate) files/s |"
	echo "| the same + fsync of the directory (what safe_commit does) | ${commit:--} files/s |"
	echo
	echo "## Idle and queue scale"
	echo
	awk '$1 == "idle" { printf "- idle: two running shipd daemons used %s CPU s in %s s (%s)\n", $3, $2, $5 }' "$RAW"
	echo
	echo "| orders queued (deferred, peer down) | shipctl ls, s | start-up pass (recovery + scan), s | shipd --poll pass, s | per order, ms |"
	echo "| ---: | ---: | ---: | ---: | ---: |"
	awk '$1 == "scale" { printf "| %s | %s | %s | %s%s | %s |\n", $2, $3, $4, $5, ($6 == 124 ? " (cut)" : ""), ($6 == 124 ? "> " sprintf("%.2f", $5 * 1000 / $2) : sprintf("%.2f", $5 * 1000 / $2)) }' "$RAW"
	awk '$1 == "pollpeerdown" { printf "\n- shipd --poll over %s outgoing orders whose peer is down: %s s (exit %s)\n", $2, $3, $4 }' "$RAW"
	echo
	echo "## Every run (seconds, CPU s, peak RSS KiB, per process: peak RSS / CPU)"
	echo
	echo '```'
	awk '$1 == "run" { printf "%-5s %-5s run %s: %8.3f s %7.2f cpu %7d KiB  %s\n", $2, $3, $4, $5, $6, $7, $8 }' "$RAW"
	echo '```'
} >"$OUT.new"
# append only to a file bench/run's earlier sections just wrote (it holds
# no section of ours yet); a leftover of an earlier run is replaced
if [ -n "${BENCH_APPEND:-}" ] && [ -f "$OUT" ] && ! grep -q '^#* *shipd vs NNCP' "$OUT"; then
	{ cat "$OUT"; echo; sed '1s/^# /## /; 2,$s/^## /### /' "$OUT.new"; } >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
else
	mv "$OUT.new" "$OUT"
fi
rm -f "$OUT.new"
cat "$OUT"

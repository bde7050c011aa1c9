#!/bin/bash
# The loopback scenarios (and the hostile peer), and UDP across a lossy
# emulated WAN, again with the ASan + UBSan daemons and shipctl
# (build/asan/bin, `make asan`). Each scenario must pass as it does in the
# normal build, and neither sanitizer may report anything: every process
# writes its reports to its own file under a per-scenario directory
# (log_path), and any such file fails the test and is shown. Leaks are
# checked (detect_leaks=1) with tests/lsan.supp, which only excuses
# libgcrypt's process-lifetime pools.
: "${TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$TOP" || exit 2
FAILS=0
ok() { echo "ok - $1"; }
fail() { echo "not ok - $1${2:+: $2}"; FAILS=$((FAILS + 1)); }

if [ ! -x build/asan/bin/shipd ] || [ ! -x build/asan/bin/shipctl ]; then
	fail "sanitizer build present" "run make asan first"
	exit 1
fi
san=$(mktemp -d /tmp/shipd-san.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$san"' EXIT

for s in ${SAN_SCENARIOS:-delivery retry poll hostile udp_wan}; do
	d=$san/$s; mkdir -p "$d"
	start=$(date +%s)
	SHIPD=$TOP/build/asan/bin/shipd SHIPCTL=$TOP/build/asan/bin/shipctl \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:log_path=$d/asan \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$d/ubsan \
	LSAN_OPTIONS=suppressions=$TOP/tests/lsan.supp:print_suppressions=0 \
		timeout 300 bash "tests/scenario/$s.sh" >"$d/out" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	grep -E '^(ok|not ok) - ' "$d/out" | sed "s/^\(ok\|not ok\) - /\1 - [asan $s] /"
	if [ "$rc" -ne 0 ]; then
		fail "$s under ASan/UBSan exits 0" "exited $rc after ${took}s"
		tail -n 20 "$d/out" | sed 's/^/# /'
	else
		ok "$s under ASan/UBSan exits 0 (${took}s)"
	fi
	# a report is any line a sanitizer writes for a finding (an empty file
	# or a bare suppression summary is none)
	reports=$(find "$d" \( -name 'asan.*' -o -name 'ubsan.*' \) -size +0 \
		-exec grep -lE 'ERROR: |runtime error|SUMMARY: ' {} + | sort)
	if [ -n "$reports" ]; then
		fail "$s: no sanitizer report" "$(echo "$reports" | wc -l) report file(s)"
		for r in $reports; do
			echo "# ---- ${r#$san/}"
			head -n 30 "$r" | sed 's/^/# /'
		done
	else
		ok "$s: no sanitizer report from any daemon, worker or shipctl"
	fi
done
exit $((FAILS > 0))

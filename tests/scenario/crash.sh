#!/bin/bash
# Crashes: packets of varied sizes (a few bytes to several MiB) shipped
# replica R -> exposed X -> far F while kill -9 hits a randomly chosen shipd
# master at random moments (restarted after a random pause), and between
# those a single worker (sender or receiver) of a random node. In the end every
# packet is delivered exactly once and byte-identical, nothing is left in any
# state directory, and `shipctl ls` on every node is empty.
# Seeded: SEED=N replays the same files and kill schedule. SOAK=1: more
# packets and kills. PACKETS=, KILLS= override.
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/chaos.sh"
nodes_init
SEED=${SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$SEED
if [ -n "${SOAK:-}" ]; then
	: "${PACKETS:=5000}" "${KILLS:=100}" "${BIG:=20}" "${DRAIN:=900}"
else
	: "${PACKETS:=1000}" "${KILLS:=20}" "${BIG:=5}" "${DRAIN:=120}"
fi
echo "# seed $SEED (replay: SEED=$SEED bash tests/scenario/crash.sh), $PACKETS packets ($BIG of several MiB), $KILLS kills"
base=$((20000 + RANDOM % 20000))

node_add R $((base + 1))
node_add X $((base + 2))
node_add F $((base + 3))
node_peer R X; node_peer X R; node_peer X F; node_peer F X
node_key R F; node_key F R
node_route R X F
for n in R X F; do node_start "$n" || { fail "start $n"; finish; }; done

work=$NODES/work
make_files "$work/files" "$PACKETS" "$BIG"
ok "made $PACKETS files ($(du -sh "$work/files" | cut -f1))"

# The kill schedule is drawn up front so the seed alone replays it.
nodes=(R X F)
sched=()
for ((k = 0; k < KILLS; k++)); do
	# master to kill, tenths before, tenths down; a worker of another node
	# (sender or receiver, if one is running) is killed halfway before
	sched+=("${nodes[RANDOM % 3]} $((RANDOM % 25 + 3)) $((RANDOM % 15)) ${nodes[RANDOM % 3]}")
done

# Submitter: batches of 25 files, the big ones spread through the run.
(
	cd "$work/files" || exit 1
	ls | awk -v n=25 '{ printf "%s%s", $0, (NR % n ? " " : "\n") } END { print "" }' |
	while read -r batch; do
		[ -n "$batch" ] || continue
		# shellcheck disable=SC2086
		ctl R submit --to F $batch >>"$work/ids" 2>>"$work/submit.log" ||
			echo "submit failed ($?): $batch" >>"$work/submit.err"
		sleep 0.$((RANDOM % 5))
	done
) &
submitter=$!

declare -A killed=([R]=0 [X]=0 [F]=0)
wkills=0
start=$(date +%s)
for s in "${sched[@]}"; do
	read -r n before down w <<<"$s"
	half=$((before / 2))
	sleep "$((half / 10)).$((half % 10))"
	if [ -n "${PID[$w]:-}" ] && victim=$(pgrep -P "${PID[$w]}" | head -n 1) && [ -n "$victim" ]; then
		kill -KILL "$victim" 2>/dev/null && wkills=$((wkills + 1))
	fi
	half=$((before - half))
	sleep "$((half / 10)).$((half % 10))"
	node_kill "$n"
	killed[$n]=$((killed[$n] + 1))
	sleep "$((down / 10)).$((down % 10))"
	node_restart "$n" || fail "restart $n"
done
wait "$submitter"
kill_secs=$(($(date +%s) - start))
echo "# kills of masters: R ${killed[R]}, X ${killed[X]}, F ${killed[F]}; of single workers: $wkills; in ${kill_secs}s; restarts retried: ${RESTART_RETRIES:-0}"
submitted=$(wc -l <"$work/ids")
check "every file submitted (submitted $submitted)" test "$submitted" -eq "$PACKETS" -a ! -s "$work/submit.err"
[ -s "$work/submit.err" ] && head -n 5 "$work/submit.err" | sed 's/^/# /'

# Drain: everything at F and every queue empty.
drained() { incoming_at_least F "$PACKETS" && queue_empty R && queue_empty X && queue_empty F; }
t0=$(date +%s)
WAIT=$DRAIN wait_for drained
echo "# drained in $(($(date +%s) - t0))s after the last kill: F holds $(count_incoming F) files"
sleep 1	# anything still in flight would show as a duplicate

verify_incoming F "$work/files.sums"
echo "# packets $PACKETS, kills $KILLS (+$wkills workers), delivered $(($PACKETS - MISSING)), duplicates $DUPS, losses $MISSING, corrupted $BAD, unexpected $EXTRA"
check "no packet lost ($MISSING missing)" test "$MISSING" -eq 0
check "no packet duplicated ($DUPS duplicates)" test "$DUPS" -eq 0
check "every packet byte-identical ($BAD differ)" test "$BAD" -eq 0
check "nothing unexpected in F's incoming/ ($EXTRA)" test "$EXTRA" -eq 0
# a worker of the master killed last may die only after its successor's
# start-up looked (in the middle of a write): the first sweep, 5 s after
# start-up, removes what it left; a leftover that stays is a failure
no_leftovers() { [ -z "$(leftovers R)$(leftovers X)$(leftovers F)" ]; }
WAIT=10 wait_for no_leftovers
for n in R X F; do
	left=$(leftovers "$n")
	check "$n: no leftovers in state directories${left:+ ($left)}" test -z "$left"
	check "$n: shipctl ls lists nothing" queue_empty "$n"
done
echo "# refusals and failed attempts by reason: $(refusals)"
echo "# deferrals: $(cat "$NODES"/*/shipd.log | grep -c ': deferred: '); start-up recoveries: $(cat "$NODES"/*/shipd.log | grep -c 'recovered bay')"
for n in "${!PID[@]}"; do node_stop "$n"; done
check "no sanitizer report in any log ($(sanitizer_reports))" test "$(sanitizer_reports)" -eq 0
finish

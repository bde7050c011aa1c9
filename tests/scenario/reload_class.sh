#!/bin/bash
# reload_class.sh - SIGHUP with a new storage class creates and watches its
# bays at once (issue 14: they were missing until a restart, and every
# packet for them failed with "bay full: cannot commit"); a new
# configuration whose bays cannot be made is refused as a whole, with the
# reason, and the running one kept.
. "$TOP/tests/lib/nodes.sh"
pair_init
node_start A && node_start B || { fail "start"; finish; }

# 1. a new class, by reload on both sides
echo "CLASS vobs spool/vobs_bay" >>"$(conf A)"
echo "CLASS vobs spool/vobs_bay" >>"$(conf B)"
kill -HUP "${PID[A]}" "${PID[B]}"
check "A reloaded" wait_for log_has A "reloaded"
check "B reloaded" wait_for log_has B "reloaded"
check "B made the new class's bays" test -d "$(spool B)/vobs_bay/outgoing" -a -d "$(spool B)/vobs_bay/data"
echo "after reload" >"$work/r1.txt"
ctl A submit --class vobs --to B "$work/r1.txt" >/dev/null
check "a packet of the new class is delivered into its bay" \
	wait_for test -f "$(spool B)/vobs_bay/incoming/r1.txt"
echo "dropped" >"$work/r2.txt"
mkdir -p "$(spool A)/vobs_bay/drop/B" && cp "$work/r2.txt" "$(spool A)/vobs_bay/drop/B/.r2.tmp" &&
	mv "$(spool A)/vobs_bay/drop/B/.r2.tmp" "$(spool A)/vobs_bay/drop/B/r2.txt"
check "the new bay's drop/ is watched" wait_for test -f "$(spool B)/vobs_bay/incoming/r2.txt"
check "no missing watch" sh -c "! grep -q 'inotify watch on' '$NODES/A/shipd.log' '$NODES/B/shipd.log'"
check "no failed commit" sh -c "! grep -q 'cannot commit' '$NODES/A/shipd.log' '$NODES/B/shipd.log'"

# 2. a class whose bay cannot be made: the whole reload is refused
cp "$(conf A)" "$work/A.conf.good"
echo "CLASS broken /proc/shipd-no-such-dir/bay" >>"$(conf A)"
kill -HUP "${PID[A]}"
check "the reload is refused, naming the bay" wait_for log_has A \
	"reload refused, keeping the running configuration: .*/proc/shipd-no-such-dir/bay"
cp "$work/A.conf.good" "$(conf A)"
echo "still running" >"$work/r3.txt"
ctl A submit --class vobs --to B "$work/r3.txt" >/dev/null
check "the running configuration still ships" wait_for test -f "$(spool B)/vobs_bay/incoming/r3.txt"
finish

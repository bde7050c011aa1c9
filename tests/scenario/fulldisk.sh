#!/bin/bash
# Full disks: bays on small tmpfs mounts.
#  1. A receiver whose bay is full refuses with the temporary "bay full"
#     error; the sender keeps every packet and retries; once space is freed
#     everything arrives, byte-identical.
#  2. A disk that fits the packet exactly (its order, let alone the opened
#     file, does not): refused as "bay full" too - since a destination counts
#     room to unpack (noroom.sh), up front rather than by ENOSPC mid-commit -
#     nothing accepted by half, delivered once space is back.
#     2b: two packets that fit alone but not together: ENOSPC while
#     receiving or while opening the packet for delivery is temporary too
#     (deferred, never moved to corrupt/).
#  3. The sender's own bay full: submit refused (exit 75, "bay full"), and
#     ENOSPC in the middle of sealing: exit 75; nothing half-written in
#     data/, tmp/ or outgoing/ either way.
# Needs root (mount); skipped otherwise.
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/chaos.sh"
if [ "$(id -u)" -ne 0 ]; then echo "ok - fulldisk skipped: needs root to mount tmpfs # SKIP"; exit 0; fi
nodes_init
base=$((20000 + RANDOM % 20000))
work=$NODES/work; mkdir -p "$work/out"

# Orders whose files in BAY/tmp, data, outgoing... are partial would show
# as "corrupt?" in ls; a delivered file that differs shows in the sums.
no_broken_orders() { ! ctl "$1" ls 2>/dev/null | grep -q 'corrupt?'; }

node_add A $((base + 1))
node_add B $((base + 2)) "MIN-FREE-DISK 1m"
node_add C $((base + 3)) "MIN-FREE-DISK 0"
node_peer A B; node_peer B A; node_peer A C; node_peer C A
small_fs "$NODES/B/spool" 4m || { fail "mount tmpfs for B"; finish; }
small_fs "$NODES/C/spool" 4m || { fail "mount tmpfs for C"; finish; }
for n in A B C; do node_start "$n" || { fail "start $n"; finish; }; done

# --- 1. receiver's bay full: 6 x 640 KiB into 3 MiB above the floor
make_files "$work/f1" 6 0 >/dev/null
for f in "$work"/f1/*.dat; do head -c 655360 /dev/urandom >"$f"; done
(cd "$work/f1" && sha256sum -- *.dat) >"$work/f1.sums"
ctl A submit --copy --to B "$work"/f1/*.dat >/dev/null 2>&1
check "1: receiver refuses with the temporary \"bay full\" error" wait_for log_has B "refused packet .*bay full"
deferred_full() { ctl A ls --json | grep -q '"last_error": *"[^"]*bay full'; }
check "1: the sender keeps the refused packets, deferred with \"bay full\"" wait_for deferred_full
sleep 3	# a few retries against the full bay
got=$(count_incoming B)
check "1: B holds only what fits ($got of 6)" test "$got" -ge 1 -a "$got" -lt 6
check "1: no broken order on A or B while full" eval 'no_broken_orders A && no_broken_orders B'
retries=$(grep -c "refused packet .*bay full" "$NODES/B/shipd.log")
# free space: take the delivered files off B's disk
moved=0
drain_b() {
	local f
	for f in "$(bay B)"/incoming/*; do [ -f "$f" ] && mv "$f" "$work/out/" && moved=$((moved + 1)); done
	[ "$moved" -ge 6 ]
}
WAIT=60 wait_for drain_b
check "1: everything delivered once space was freed ($moved of 6, after $retries refusals)" test "$moved" -eq 6
cp "$work/f1.sums" "$work/out.sums"
(cd "$work/out" && sha256sum -c --quiet "$work/f1.sums") >/dev/null 2>&1 &&
	ok "1: delivered files byte-identical" || fail "1: delivered files differ"
check "1: no duplicates" test "$(find "$work/out" -name '*_[0-9]*' | wc -l)" -eq 0
check "1: A's queue drained" wait_for queue_empty A
check "1: B left nothing in its state directories ($(leftovers B))" test -z "$(leftovers B)"

# --- 2. the packet fits exactly, the order (and the opened file) cannot
head -c 1500000 /dev/urandom >"$work/exact.dat"
sum=$(sha256sum <"$work/exact.dat" | cut -d' ' -f1)
node_stop C
id=$(ctl A submit --copy --to C "$work/exact.dat" 2>/dev/null)
size=$(stat -c %s "$(bay A)/data/$id")
pages=$(((size + 4095) / 4096))
fill=$(($(free_bytes "$NODES/C/spool") - pages * 4096))
fallocate -l "$fill" "$NODES/C/spool/filler" 2>/dev/null || head -c "$fill" /dev/zero >"$NODES/C/spool/filler"
echo "# 2: packet $size bytes, C free $(free_bytes "$NODES/C/spool") bytes after the filler"
node_restart C
check "2: C refuses as \"bay full\" when the packet alone would fill its disk" \
	wait_for log_has C "refused packet $id.*\(bay full\|No space\)"
log_has C "refused packet $id.*bay full" && ok "2: the refusal says \"bay full\" (temporary)" ||
	fail "2: refusal reason" "$(grep "refused packet $id" "$NODES/C/shipd.log" | head -n 1)"
grep "refused packet $id" "$NODES/C/shipd.log" | head -n 1 | sed 's/^.*refused/# 2: refused/'
check "2: A keeps the order" eval 'ctl A ls --json | grep -q "$id"'
check "2: nothing accepted by half on C" test -z "$(leftovers C | sed 's/ms_ship\/partial([0-9]*)//; s/ //g')"
check "2: no order on C" queue_empty C
rm -f "$NODES/C/spool/filler"
check "2: delivered once space is back" wait_for delivered C exact.dat
[ "$(sha256sum <"$(bay C)/incoming/exact.dat" | cut -d' ' -f1)" = "$sum" ] &&
	ok "2: byte-identical" || fail "2: content differs"
check "2: A's queue drained" wait_for queue_empty A
check "2: C left nothing in its state directories ($(leftovers C))" test -z "$(leftovers C)"

# --- 2b. ENOSPC in the middle of a transfer: two packets that each pass
# the space check but not together (which one hits ENOSPC mid-write, or
# is refused up front, is a race; either must end in full delivery)
head -c 1300000 /dev/urandom >"$work/race1.dat"
head -c 1300000 /dev/urandom >"$work/race2.dat"
(cd "$work" && sha256sum race1.dat race2.dat) >"$work/race.sums"
fill=$(($(free_bytes "$NODES/C/spool") - 2 * 1048576))
fallocate -l "$fill" "$NODES/C/spool/filler" 2>/dev/null || head -c "$fill" /dev/zero >"$NODES/C/spool/filler"
before=$(grep -c 'refused packet' "$NODES/C/shipd.log")
ctl A submit --copy --to C "$work/race1.dat" "$work/race2.dat" >/dev/null 2>&1
refused_again() { [ "$(grep -c 'refused packet' "$NODES/C/shipd.log")" -gt "$before" ]; }
check "2b: one of two packets that together overfill C is refused" wait_for refused_again
midwrite=$(tail -n +"$((before + 1))" <(grep 'refused packet' "$NODES/C/shipd.log") | grep -c 'bay full: No space left')
echo "# 2b: refusals mid-write (ENOSPC while streaming): $midwrite; up front: $(($(grep -c 'refused packet' "$NODES/C/shipd.log") - before - midwrite))"
check "2b: every refusal is the temporary \"bay full\"" \
	test -z "$(grep 'refused packet' "$NODES/C/shipd.log" | tail -n +"$((before + 1))" | grep -v 'bay full')"
# free space: the filler, and each delivered file taken off C's disk (a
# delivery needs room for the packet and its opened copy at once)
rm -f "$NODES/C/spool/filler"
mkdir -p "$work/outC"
both() {
	local f
	for f in "$(bay C)"/incoming/*; do [ -f "$f" ] && mv "$f" "$work/outC/"; done
	[ -f "$work/outC/race1.dat" ] && [ -f "$work/outC/race2.dat" ]
}
check "2b: both delivered once space is back" eval 'WAIT=60 wait_for both'
(cd "$work/outC" && sha256sum -c --quiet "$work/race.sums") >/dev/null 2>&1 &&
	ok "2b: byte-identical" || fail "2b: content differs"
check "2b: no duplicates" test -z "$(find "$work/outC" "$(bay C)/incoming" -name 'race*_[0-9]*')"
check "2b: A's queue drained" wait_for queue_empty A
c_clean() { [ -z "$(leftovers C)" ]; }
wait_for c_clean
echo "# 2b: deliveries at C deferred by ENOSPC while opening the packet: $(grep -c 'deliver .*bay full.*will retry' "$NODES/C/shipd.log")"
check "2b: C left nothing in its state directories ($(leftovers C))" c_clean

# --- 3. the sender's own bay full
node_add S $((base + 4)) "MIN-FREE-DISK 256k"
node_key S B
node_route S A B
small_fs "$NODES/S/spool" 2m || { fail "mount tmpfs for S"; finish; }
head -c 3000000 /dev/urandom >"$work/big.dat"
ctl S submit --to B "$work/big.dat" >/dev/null 2>"$work/s.err"; rc=$?
check "3: submission into a full bay exits 75 (got $rc)" test "$rc" -eq 75
grep -q "bay full" "$work/s.err" && ok "3: clear \"bay full\" message" || fail "3: message" "$(tail -n 1 "$work/s.err")"
grep "bay full" "$work/s.err" | head -n 1 | sed 's/^/# 3: /'
check "3: the source is kept" test -f "$work/big.dat"
check "3: nothing half-written in S's bay ($(leftovers S))" test -z "$(leftovers S)"
# ENOSPC while sealing: the file passes the check, its sealed packet does not fit
sed -i 's/^MIN-FREE-DISK.*/MIN-FREE-DISK 0/' "$(conf S)"
head -c $(($(free_bytes "$NODES/S/spool") - 2048)) /dev/urandom >"$work/edge.dat"
ctl S submit --to B "$work/edge.dat" >/dev/null 2>"$work/s.err"; rc=$?
check "3: ENOSPC while sealing exits 75 (got $rc)" test "$rc" -eq 75
tail -n 1 "$work/s.err" | sed 's/^/# 3: /'
grep -qi "bay full\|no space" "$work/s.err" && ok "3: the message names the full disk" ||
	fail "3: message" "$(tail -n 1 "$work/s.err")"
check "3: nothing half-written in S's data/, tmp/, outgoing/ ($(leftovers S))" test -z "$(leftovers S)"
check "3: S lists no order" queue_empty S
echo "# refusals by reason: $(refusals)"
for n in "${!PID[@]}"; do node_stop "$n"; done
check "no sanitizer report in any log ($(sanitizer_reports))" test "$(sanitizer_reports)" -eq 0
finish

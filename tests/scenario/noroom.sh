#!/bin/bash
# No room at the destination: B's bay is a small tmpfs that can hold the
# packet but not the packet and its unpacked file together (the file does
# not compress, so it is stored plain: unpacked it is as big as sealed).
#  - B refuses the offer at once with "busy, no room" (a temporary
#    refusal) and stores nothing: no order, no partial transfer, no packet;
#  - A keeps the order deferred with that reason: not returned, not done,
#    and B is not marked down (A logs no "next hop B down"; a small file
#    that fits goes through meanwhile);
#  - once room is made on B, the order arrives, byte for byte.
# Needs root (mount); skipped otherwise.
. "$TOP/tests/lib/nodes.sh"
. "$TOP/tests/lib/chaos.sh"
if [ "$(id -u)" -ne 0 ]; then echo "ok - noroom skipped: needs root to mount tmpfs # SKIP"; exit 0; fi

pair_init -- "MIN-FREE-DISK 1m"
small_fs "$NODES/B/spool" 16m || { fail "mount tmpfs for B"; finish; }
for n in A B; do node_start "$n" || { fail "start $n"; finish; }; done

# 4 MiB that does not compress; B keeps 1 MiB free and has 4 MiB + 2 MiB:
# room for the packet (with the floor), not for the packet and the file
head -c $((4 * 1048576)) /dev/urandom >"$work/big.dat"
sum=$(sha256sum <"$work/big.dat" | cut -d' ' -f1)
fill=$(($(free_bytes "$NODES/B/spool") - 6 * 1048576))
fallocate -l "$fill" "$NODES/B/spool/filler" 2>/dev/null ||
	head -c "$fill" /dev/zero >"$NODES/B/spool/filler"
echo "# B: $(free_bytes "$NODES/B/spool") bytes free after the filler"
id=$(ctl A submit --copy --to B "$work/big.dat")
check "B refuses with \"busy, no room\"" wait_for log_has B "refused packet $id.*busy, no room"
grep "refused packet $id" "$NODES/B/shipd.log" | head -n 1 | sed 's/^.*refused/# refused/'
check "the refusal counts the unpacked file" log_has B "refused packet $id.*to unpack"
deferred_noroom() { ctl A ls --json | grep -q "\"last_error\": *\"[^\"]*busy, no room"; }
check "A keeps the order, deferred with \"busy, no room\"" wait_for deferred_noroom
ctl A ls | grep -q "$id.*deferred" && ok "the order is deferred (not returned, not done)" ||
	fail "state" "$(ctl A ls | grep "$id")"
check "B stored nothing: no order, no partial transfer, no packet ($(leftovers B))" \
	test -z "$(leftovers B)"
check "B has not delivered it" eval '! delivered B big.dat'
# the hop is not down: a small file goes through at once meanwhile
echo "small enough" >"$work/small.txt"
ctl A submit --copy --to B "$work/small.txt" >/dev/null
check "a file that fits is delivered meanwhile" wait_for delivered B small.txt
sleep 2	# a few more refused retries (RETRY-MIN 1s)
refusals=$(grep -c "refused packet $id" "$NODES/B/shipd.log")
check "retried ($refusals refusals), B never marked down at A" eval '! log_has A "next hop B down"'
check "never returned" eval '! log_has A "returning"'
# make room
rm -f "$NODES/B/spool/filler"
check "delivered once room is made" eval 'WAIT=60 wait_for delivered B big.dat'
[ "$(sha256sum <"$(bay B)/incoming/big.dat" 2>/dev/null | cut -d' ' -f1)" = "$sum" ] &&
	ok "byte for byte" || fail "content differs"
check "A's queue drained" wait_for queue_empty A
finish

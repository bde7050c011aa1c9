#!/bin/bash
# permissions.sh - modes that would expose plaintext or trust (issue 14):
#   - a bay and its incoming/ made 0777 before start-up are tightened
#     (0750: no one but the owner and a reading group), its other
#     directories to 0700, each with a log line naming the path;
#   - a KEYS-DIR or a .pub file writable by group or others is refused,
#     by shipd (exit 2, naming the path) and by checkconf;
#   - delivered files get the class's DELIVER-MODE (default 0640), even
#     when the origin's file is 0666 and everything runs with umask 000.
. "$TOP/tests/lib/nodes.sh"
umask 000
pair_init "CLASS docs spool/docs_bay" -- "CLASS docs spool/docs_bay -deliver-mode 0600"
b=$(bay B)
mkdir -p "$b/incoming" "$b/data"
chmod 0777 "$b" "$b/incoming" "$b/data"
node_start A && node_start B || { fail "start"; finish; }
mode() { stat -c %a "$1"; }
check "bay tightened to 750 (got $(mode "$b"))" test "$(mode "$b")" = 750
check "incoming/ tightened to 750 (got $(mode "$b/incoming"))" test "$(mode "$b/incoming")" = 750
check "data/ tightened to 700 (got $(mode "$b/data"))" test "$(mode "$b/data")" = 700
check "the tightening is logged with the path" log_has B "mode of $b/incoming was 0777"

# delivered files: the class's mode, whatever the origin's mode and umask
echo "world readable at the origin" >"$work/open.txt"
chmod 0666 "$work/open.txt"
cp "$work/open.txt" "$work/doc.txt"
ctl A submit --copy --to B "$work/open.txt" >/dev/null
ctl A submit --copy --class docs --to B "$work/doc.txt" >/dev/null
check "delivered" wait_for delivered B open.txt
check "delivered with DELIVER-MODE's default 640 (got $(mode "$b/incoming/open.txt"))" \
	test "$(mode "$b/incoming/open.txt")" = 640
d=$(spool B)/docs_bay/incoming/doc.txt
check "delivered into docs" wait_for test -f "$d"
check "the class's -deliver-mode 0600 (got $(mode "$d"))" test "$(mode "$d")" = 600

# KEYS-DIR and .pub files writable by others are not trusted
mkdir -p -m 0755 "$NODES/K" "$NODES/K/keys" "$NODES/K/spool"
printf 'NODE K\nSPOOL spool\nKEY-FILE k.key\nKEYS-DIR keys\nLOG stderr\n' >"$(conf K)"
"$SHIPCTL" -c "$(conf K)" keygen >/dev/null 2>&1 || fail "keygen for K"
cp "$NODES/K/keys/K.pub" "$NODES/K/keys/A.pub"
chmod 0777 "$NODES/K/keys"
timeout 20 $SHIPD -c "$(conf K)" -f >"$work/k1.out" 2>&1 & kp=$!
wait $kp; rc=$?
check "shipd refuses a world-writable KEYS-DIR (exit $rc)" test "$rc" -eq 2
check "... naming it" grep -q "KEYS-DIR $NODES/K/keys: writable by group or others" "$work/k1.out"
"$SHIPCTL" -c "$(conf K)" checkconf >"$work/k1.cc" 2>&1
check "checkconf refuses it too" grep -q "$NODES/K/keys: writable by group or others" "$work/k1.cc"
chmod 0755 "$NODES/K/keys"; chmod 0666 "$NODES/K/keys/A.pub"
timeout 20 $SHIPD -c "$(conf K)" -f >"$work/k2.out" 2>&1 & kp=$!
wait $kp; rc=$?
check "shipd refuses a world-writable .pub file (exit $rc)" test "$rc" -eq 2
check "... naming it" grep -q "$NODES/K/keys/A.pub: writable by group or others" "$work/k2.out"
finish

#!/bin/bash
# tests/scenario/authority_rotate.sh - issue 19: rotating keys under load.
# Three nodes on loopback, all certified by one authority and configured
# with PEER lines without keys: origin O, relay R (throttled, so that
# packets pile up there), destination D. 200 packets go from O to D; while
# the first 100 are in flight across R, O rotates its key (shipctl keygen
# --rotate, a new certificate, SIGHUP), and so does D, whose old key must
# still open the packets sealed to it before. Then 100 more. Every packet
# must arrive exactly once, none refused anywhere.
#
# Prints ok/not ok lines; exits non-zero on any failure. $TOP is the root.

TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/lib/nodes.sh"
WAIT=${WAIT:-90}
nodes_init
base=$((25000 + $$ % 4000))
CA=$NODES/authority
"$SHIPCTL" authority init --dir "$CA" >"$NODES/authority.line" 2>/dev/null ||
	{ fail "shipctl authority init"; finish; }
AUTHORITY=$(cat "$NODES/authority.line")

certify() {	# certify NAME ROLE: a certificate of NAME's current key
	"$SHIPCTL" certify "$NODES/$1/shipd.key.pub" --name "$1" --role "$2" --dir "$CA" \
		-o "$NODES/$1/$1.cert" >/dev/null 2>>"$NODES/$1/certify.err"
}
node_add O $base "$AUTHORITY" "CERT-FILE O.cert" "PEER R 127.0.0.1 $((base + 1))" "ROUTE R D" &&
node_add R $((base + 1)) "$AUTHORITY" "CERT-FILE R.cert" "MAX-CHILDREN 2" \
	"PEER O 127.0.0.1 $base" "PEER D 127.0.0.1 $((base + 2))" &&
node_add D $((base + 2)) "$AUTHORITY" "CERT-FILE D.cert" "PEER R 127.0.0.1 $((base + 1))" "ROUTE R O" &&
certify O node && certify R relay && certify D node || { fail "keys and certificates"; finish; }
check "no node pins a key (PEER lines without keys)" \
	test "$(grep -cE '^(PEER|KEY) .* shipd1:' "$NODES"/*/shipping.conf | awk -F: '{ s += $2 } END { print s }')" = 0

node_start O && SHIPD_TEST_RATE=4000 node_start R && node_start D || { fail "start"; finish; }
knows() { [ -f "$(spool "$1")/trust/certs/$2.cert" ]; }
check "O learned D's certificate through R" wait_for knows O D

mkdir -p "$NODES/data"
for i in $(seq -w 1 200); do
	printf 'packet %s of the rotation test\n%s\n' "$i" "$(head -c 300 /dev/urandom | base64 -w 0)" \
		>"$NODES/data/f$i"
done
ctl O submit --copy --to D "$NODES"/data/f{001..100} >/dev/null 2>"$NODES/submit1.err" ||
	fail "submit the first 100" "$(tail -n 1 "$NODES/submit1.err")"
in_flight() { [ "$(count_files "$(bay D)/incoming")" -ge 5 ]; }
wait_for in_flight
before_o=$(count_files "$(bay D)/incoming")

# O rotates: new key, the old kept; a new certificate; reload.
rotate() {	# rotate NAME ROLE
	ctl "$1" keygen --rotate >/dev/null 2>>"$NODES/$1/rotate.err" && certify "$1" "$2" &&
		kill -HUP "${PID[$1]}" && wait_for log_has "$1" "reloaded"
}
rotate O node || fail "rotate O" "$(tail -n 1 "$NODES/O/rotate.err")"
check "O keeps its old key as shipd.key.old" test -f "$NODES/O/shipd.key.old"
before_d=$(count_files "$(bay D)/incoming")
rotate D node || fail "rotate D" "$(tail -n 1 "$NODES/D/rotate.err")"
echo "# O rotated with $before_o of the first 100 at D, D rotated with $before_d at D"
check "packets were still in flight to D's old key when D rotated" test "$before_d" -lt 100
# R and O learn D's new certificate through the network; the next seals use it
newer() { grep -q "role node, serial 5$" "$(spool O)/trust/certs/D.cert" 2>/dev/null; }
wait_for newer || echo "# O had not learned D's new certificate before the second 100"
ctl O submit --copy --to D "$NODES"/data/f{101..200} >/dev/null 2>"$NODES/submit2.err" ||
	fail "submit the second 100" "$(tail -n 1 "$NODES/submit2.err")"

all_there() { [ "$(count_files "$(bay D)/incoming")" -ge 200 ]; }
WAIT=180 wait_for all_there
got=$(count_files "$(bay D)/incoming")
dups=$(find "$(bay D)/incoming" -name 'f*_[0-9]*' | wc -l)
same=0
for i in $(seq -w 1 200); do cmp -s "$NODES/data/f$i" "$(bay D)/incoming/f$i" && same=$((same + 1)); done
echo "# D holds $got files, $same of the 200 byte for byte, $dups second copies"
check "all 200 packets delivered exactly once across the relay while O and D rotated" \
	test "$got" = 200 -a "$same" = 200 -a "$dups" = 0
refusals() { grep -h -E "refused (packet|hop)|moved to corrupt|returning toward" "$NODES"/{O,R,D}/shipd.log; }
refused=$(refusals | wc -l)
[ "$refused" -eq 0 ] || refusals | head -3 | cut -c1-240 | sed 's/^/# /'
check "none refused (no refused packet or hop, nothing to corrupt/ or turned back)" test "$refused" = 0
# both of O's certificates were seen on the way: the old one on packets
# sealed before the rotation, the new one after
serials=$(grep -ho "learned O (certificate serial [0-9]*" "$NODES/R/shipd.log" | awk '{ print $5 }' | sort -u | tr '\n' ' ')
echo "# R learned O's certificates: serials $serials"
check "packets under O's old and new certificates both crossed R" \
	test "$(echo $serials | wc -w)" -ge 2
finish

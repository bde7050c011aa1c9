#!/bin/bash
# tests/scenario/shipctl.sh - the operator verbs against a real bay, with
# the real bin/shipctl: submit (ids printed, files in outgoing/ and data/),
# ls (table, --short, --long, --json checked with jq), show, hold/release,
# retry, rm, resubmit, and every refusal with its exit code and message.
# The daemon is not started: where a state needs the daemon (deferred,
# active, return) the test puts the order there by hand, as the daemon
# would. SHIPCTL=path overrides the binary under test.
cd "$(dirname "$0")/../.." || exit 2
TOP=$PWD
SHIPCTL=${SHIPCTL:-$TOP/bin/shipctl}
tmp=$(mktemp -d /tmp/shipctl-scenario.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

ok() { echo "ok - $1"; pass=$((pass + 1)); }
nok() { echo "not ok - $1"; fail=$((fail + 1)); }
check() {	# check NAME CMD...: ok if CMD succeeds
	local name=$1; shift
	if "$@"; then ok "$name"; else nok "$name"; fi
}
# run [-c CONF] ARGS...: shipctl with stdout in $out, stderr in $err, status in $rc
run() {
	"$SHIPCTL" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}
# expect NAME STATUS PATTERN: last run exited STATUS and stderr matches PATTERN
expect() {
	if [ "$rc" -eq "$2" ] && grep -qE -- "$3" "$tmp/err"; then
		ok "$1"
	else
		nok "$1 (exit $rc, want $2; stderr: $(head -c 300 "$tmp/err"))"
	fi
}

A=$tmp/a/shipping.conf B=$tmp/b/shipping.conf C=$tmp/c/shipping.conf
mkdir -p "$tmp/a" "$tmp/b" "$tmp/c" "$tmp/files"
cat >"$B" <<EOF
NODE siteB
LISTEN 127.0.0.1 4591
SPOOL spool
KEY-FILE b.key
EOF

run -c "$B" keygen
expect "keygen for siteB" 0 "wrote .*b.key"
bkey=$(awk '$1 == "PEER" { print $5 } $1 == "KEY" { print $3 }' "$tmp/out")
check "keygen prints a PEER line with a shipd1: key" test "${bkey#shipd1:}" != "$bkey"
printf 'NODE siteC\nKEY-FILE c.key\n' >"$C"
run -c "$C" keygen
ckey=$(awk '$1 == "PEER" { print $5 } $1 == "KEY" { print $3 }' "$tmp/out")

# relative paths resolve against the conf's directory
cat >"$A" <<EOF
# siteA: a replica host that only sends
NODE siteA
SPOOL spool
KEY-FILE a.key
MIN-FREE-DISK 0
PEER siteB 127.0.0.1 4591 $bkey
KEY siteC $ckey
ROUTE siteB siteC
CLASS docs docs_bay -return docs_rtn -expiration 3
EOF
run -c "$A" keygen
expect "keygen for siteA" 0 "wrote"
SP=$tmp/a/spool

# ---- empty queue
run -c "$A" ls
check "ls on an empty queue prints the header only" \
	test "$(echo "$out" | wc -l)" = 1 -a "$(echo "$out" | awk '{print $1}')" = ID
run -c "$A" ls --json
check "ls --json on an empty queue is []" test "$(echo "$out" | jq -c .)" = "[]"

# ---- submit
echo "hello from A" >"$tmp/files/report.txt"
run -c "$A" submit --to siteB --comment "nightly export" --notify ops@example.com \
	"$tmp/files/report.txt"
id1=$out
check "submit exits 0 ($err)" test "$rc" = 0
check "submit prints one order id" test "$(echo "$out" | grep -cE '^[0-9]{8}T[0-9]{6}Z-siteA-[0-9a-f]{8}$')" = 1
check "order is in outgoing/" test -f "$SP/ms_ship/outgoing/$id1"
check "sealed packet is in data/" test -s "$SP/ms_ship/data/$id1"
check "order file is private (0600)" test "$(stat -c %a "$SP/ms_ship/outgoing/$id1")" = 600
check "source removed without --copy" test ! -e "$tmp/files/report.txt"
check "order names its destination, origin and class" \
	grep -qx "dest: siteB" "$SP/ms_ship/outgoing/$id1"
check "order ends with end" test "$(tail -n 1 "$SP/ms_ship/outgoing/$id1")" = end

echo "kept" >"$tmp/files/keep.txt"
run -c "$A" submit --to siteB --to siteC --class docs --expire 2 --copy "$tmp/files/keep.txt"
id2=$out
check "submit --copy --class docs exits 0 ($err)" test "$rc" = 0
check "--copy keeps the source" test -f "$tmp/files/keep.txt"
check "class docs goes to its own bay" test -f "$tmp/a/docs_bay/outgoing/$id2"
check "a ROUTEd destination is accepted" grep -qx "dest: siteC" "$tmp/a/docs_bay/outgoing/$id2"
exp=$(awk '$1 == "expires:" { print $2 }' "$tmp/a/docs_bay/outgoing/$id2")
now=$(date +%s)
check "--expire 2 means two days" test $((exp - now)) -gt $((2 * 86400 - 60)) -a $((exp - now)) -le $((2 * 86400))

run -c "$A" submit --to siteB --pexpire "$(date -d 'tomorrow' +%d-%b-%Y).18:30" --copy "$tmp/files/keep.txt"
id3=$out
check "submit --pexpire DD-Mon-YYYY.HH:MM ($err)" test "$rc" = 0
want=$(date -d "tomorrow 18:30" +%s)
check "--pexpire is local time" grep -qx "expires: $want" "$SP/ms_ship/outgoing/$id3"
run -c "$A" submit --to siteA --pexpire "$(date -d 'tomorrow' +%Y-%m-%d)T06:00:30" --copy "$tmp/files/keep.txt"
id4=$out
check "submit to this node itself, --pexpire ISO form ($err)" test "$rc" = 0

# ---- ls
run -c "$A" ls
check "ls exits 0" test "$rc" = 0
check "ls has a header and four rows" test "$(echo "$out" | wc -l)" = 5
check "ls header names the columns" \
	grep -qE '^ID +STATE +CLASS +SIZE +AGE +DEST +TRIES +NEXT +LAST ERROR$' "$tmp/out"
check "ls shows remaining destinations" grep -qE "^$id2 +outgoing +docs .*siteB,siteC" "$tmp/out"
run -c "$A" ls --short
check "ls --short prints ids only" test "$(echo "$out" | sort)" = "$(printf '%s\n' "$id1" "$id2" "$id3" "$id4" | sort)"
run -c "$A" ls --json
check "ls --json is valid JSON with four orders" test "$(echo "$out" | jq length)" = 4
check "ls --json fields" test "$(echo "$out" | jq -r --arg id "$id2" \
	'.[] | select(.id == $id) | [.state, .class, (.remaining | join(",")), .origin, .hops[0], .attempts, .returning, .part, .nparts] | map(tostring) | join(" ")')" \
	= "outgoing docs siteB,siteC siteA siteA 0 false 1 1"
check "ls --json carries comment and notify" test "$(echo "$out" | jq -r --arg id "$id1" \
	'.[] | select(.id == $id) | .comment + "|" + .notify')" = "nightly export|ops@example.com"
run -c "$A" ls --class docs --short
check "ls --class filters" test "$out" = "$id2"
run -c "$A" ls --state hold --short
check "ls --state hold is empty" test -z "$out"
run -c "$A" ls --state bogus
expect "ls --state with an unknown state is a usage error" 64 "unknown state"
run -c "$A" ls --long
check "ls --long shows the bay path of each order" test "$(grep -c "^bay: *$SP/ms_ship$" "$tmp/out")" = 3

# ---- show
run -c "$A" show "$id1"
check "show exits 0" test "$rc" = 0
check "show gives the state" grep -qE "^state: +outgoing$" "$tmp/out"
check "show gives the order path" grep -qF "$SP/ms_ship/outgoing/$id1" "$tmp/out"
size=$(stat -c %s "$SP/ms_ship/data/$id1")
check "show gives the data file size" grep -qE "^data: .*\($size bytes\)$" "$tmp/out"
check "show gives the comment" grep -qE "^comment: +nightly export$" "$tmp/out"
run -c "$A" show 20000101T000000Z-nowhere-00000000
expect "show of an unknown id exits 1" 1 "no order 20000101T000000Z-nowhere-00000000"

# ---- hold / release
run -c "$A" hold "$id1"
check "hold exits 0 ($err)" test "$rc" = 0
check "held order moved to hold/" test -f "$SP/ms_ship/hold/$id1" -a ! -e "$SP/ms_ship/outgoing/$id1"
check "hold logs who did it" grep -q "hold: $id1 held.* by " "$tmp/err"
run -c "$A" ls --state hold --short
check "ls --state hold lists it" test "$out" = "$id1"
run -c "$A" hold "$id1"
expect "hold of a held order is a no-op" 0 "already held"
run -c "$A" release "$id1"
check "release exits 0 ($err)" test "$rc" = 0
check "released order is back in outgoing/" test -f "$SP/ms_ship/outgoing/$id1" -a ! -e "$SP/ms_ship/hold/$id1"
run -c "$A" release "$id1"
expect "release of an order not held exits 65" 65 "not held \(outgoing\)"

# ---- retry (the daemon would have deferred it: do as it does)
mv "$SP/ms_ship/outgoing/$id3" "$SP/ms_ship/deferred/$id3"
sed -i "s/^end\$/attempts: 2\nnext-attempt: $((now + 3600))\nlast-error: connect siteB: Connection refused\nend/" \
	"$SP/ms_ship/deferred/$id3"
touch -d "@$((now + 3600))" "$SP/ms_ship/deferred/$id3"
run -c "$A" ls
check "ls shows tries, next attempt and last error of a deferred order" \
	grep -qE "^$id3 +deferred .* 2 +in (59|60)m +connect siteB: Connection refused$" "$tmp/out"
run -c "$A" retry "$id3"
check "retry exits 0 ($err)" test "$rc" = 0
check "retried order is in outgoing/" test -f "$SP/ms_ship/outgoing/$id3"
check "retry clears the next attempt, keeps the count" \
	sh -c "! grep -q next-attempt '$SP/ms_ship/outgoing/$id3' && grep -qx 'attempts: 2' '$SP/ms_ship/outgoing/$id3'"
run -c "$A" retry "$id3"
expect "retry of an order not deferred exits 65" 65 "not deferred"
mv "$SP/ms_ship/outgoing/$id3" "$SP/ms_ship/deferred/$id3"
mv "$tmp/a/docs_bay/outgoing/$id2" "$tmp/a/docs_bay/deferred/$id2"
run -c "$A" retry --all
expect "retry --all" 0 "2 deferred orders due now"
check "retry --all moved both" test -f "$SP/ms_ship/outgoing/$id3" -a -f "$tmp/a/docs_bay/outgoing/$id2"

# ---- every ID verb takes --all and a state filter the same way
run -c "$A" hold --all
expect "hold --all holds every outgoing and deferred order" 0 "4 orders held"
check "hold --all moved them to hold/" test -f "$SP/ms_ship/hold/$id3" -a -f "$tmp/a/docs_bay/hold/$id2"
run -c "$A" release --all --class docs
expect "release --all --class docs" 0 "1 held order released"
check "release --all --class docs released the docs order only" \
	test -f "$tmp/a/docs_bay/outgoing/$id2" -a -f "$SP/ms_ship/hold/$id3"
run -c "$A" release --all --state hold
expect "release --all --state hold releases the rest" 0 "3 held orders released"
check "every order is back in outgoing/" test "$(ls "$SP/ms_ship/hold" | wc -l)" = 0
run -c "$A" retry --all --state hold
expect "--state names a state the verb does not act on: usage" 64 "retry takes no order in hold"
run -c "$A" rm --all --state bogus
expect "--state with an unknown state: usage" 64 "unknown state"
run -c "$A" hold "$id3" --state outgoing
expect "--state goes with --all only" 64 "usage: shipctl hold ID\.\.\. \| --all"
run -c "$A" resubmit --all
expect "resubmit --all with nothing returned" 0 "0 returned orders resubmitted"

# ---- busy: an order being sent (active/) is not touched
mv "$SP/ms_ship/outgoing/$id4" "$SP/ms_ship/active/$id4"
run -c "$A" hold "$id4"
expect "hold of an active order exits 75" 75 "$id4: busy: being sent"
run -c "$A" rm "$id4"
expect "rm of an active order exits 75" 75 "busy: being sent"
check "the active order is untouched" test -f "$SP/ms_ship/active/$id4" -a -f "$SP/ms_ship/data/$id4"
mv "$SP/ms_ship/active/$id4" "$SP/ms_ship/outgoing/$id4"

# ---- rm
run -c "$A" rm "$id4"
check "rm exits 0 ($err)" test "$rc" = 0
check "rm removes order and data" test ! -e "$SP/ms_ship/outgoing/$id4" -a ! -e "$SP/ms_ship/data/$id4"
check "rm logs who and what" grep -q "rm: $id4 removed from outgoing.* by " "$tmp/err"
check "rm does not mark it seen" test ! -e "$SP/ms_ship/seen/$id4"
run -c "$A" rm "$id4"
expect "rm of an unknown id exits 1" 1 "no order $id4"
run -c "$A" hold nosuch "$id1"
check "hold continues past an unknown id, exits 1" test "$rc" = 1 -a -f "$SP/ms_ship/hold/$id1"
run -c "$A" release "$id1"

# ---- resubmit (the daemon would have brought it home into the return bay)
mv "$SP/ms_ship/outgoing/$id1" "$SP/ms_rtn/return/$id1" 2>/dev/null ||
	{ mkdir -p "$SP/ms_rtn/return" "$SP/ms_rtn/data"; mv "$SP/ms_ship/outgoing/$id1" "$SP/ms_rtn/return/$id1"; }
mv "$SP/ms_ship/data/$id1" "$SP/ms_rtn/data/$id1"
sed -i "s/^end\$/attempts: 9\nlast-error: expired\nreturning: 1\nreturn-reason: expired after 14 days\nhop: siteX\nend/" \
	"$SP/ms_rtn/return/$id1"
sed -i "s/^expires: .*/expires: $((now - 10))/" "$SP/ms_rtn/return/$id1"
run -c "$A" ls --json
check "a returning order is listed as such" test "$(echo "$out" | jq -r --arg id "$id1" \
	'.[] | select(.id == $id) | .state + " " + (.returning | tostring)')" = "return true"
run -c "$A" resubmit "$id1"
check "resubmit exits 0 ($err)" test "$rc" = 0
# a new journey has a new order id (relays keep seen/ markers per journey)
rid=$out
check "resubmit prints the new journey's id $id1.r1" test "$rid" = "$id1.r1"
check "resubmitted order is in the storage bay's outgoing/" test -f "$SP/ms_ship/outgoing/$rid"
check "its data moved with it" test -s "$SP/ms_ship/data/$rid" -a ! -e "$SP/ms_rtn/data/$id1"
check "the return copy is gone" test ! -e "$SP/ms_rtn/return/$id1"
o=$SP/ms_ship/outgoing/$rid
check "resubmit resets returning, attempts and errors" \
	sh -c "! grep -qE '^(returning|attempts|last-error|return-reason):' '$o'"
check "resubmit keeps the destination, restarts the hops" \
	sh -c "grep -qx 'dest: siteB' '$o' && test \"\$(grep -c '^hop:' '$o')\" = 1"
exp=$(awk '$1 == "expires:" { print $2 }' "$o")
check "resubmit sets a new expiry (class expiration, 14 days)" test $((exp - now)) -gt $((14 * 86400 - 60))
run -c "$A" resubmit "$rid"
expect "resubmit of an order not returned exits 65" 65 "not a returned order \(outgoing\)"

# ---- a corrupt order is listed, not crashed on
printf 'version: 1\nid: 20000101T000000Z-x-deadbeef\n' >"$SP/ms_ship/outgoing/20000101T000000Z-x-deadbeef"
run -c "$A" ls
check "ls lists an unparseable order as corrupt?" \
	grep -qE '^20000101T000000Z-x-deadbeef +corrupt\? .*missing "end"' "$tmp/out"
run -c "$A" ls --json
check "ls --json stays valid with a corrupt order" test "$(echo "$out" | jq -r \
	'.[] | select(.state == "corrupt?") | .error | test("missing")')" = true
run -c "$A" show 20000101T000000Z-x-deadbeef
check "show of an unparseable order gives its error" grep -qE '^error: .*missing "end"' "$tmp/out"
run -c "$A" rm 20000101T000000Z-x-deadbeef
check "rm removes an unparseable order" test "$rc" = 0 -a ! -e "$SP/ms_ship/outgoing/20000101T000000Z-x-deadbeef"

# ---- refusals: exit status and one clear message, nothing queued
before=$(ls "$SP/ms_ship/outgoing" | wc -l)
echo data >"$tmp/files/f.txt"
run -c "$A" submit --to siteB --class nosuch "$tmp/files/f.txt"
expect "unknown class exits 65" 65 "^shipctl: submit: $tmp/files/f.txt: unknown class \"nosuch\"$"
run -c "$A" submit --to siteZ "$tmp/files/f.txt"
expect "unroutable destination exits 65" 65 "^shipctl: submit: $tmp/files/f.txt: no route and no peer for siteZ$"
run -c "$A" submit --to siteB "$tmp/files/missing.txt"
expect "unreadable file exits 66" 66 "^shipctl: submit: $tmp/files/missing.txt: No such file or directory$"
run -c "$A" submit --to siteB "$tmp/files"
expect "a directory exits 66" 66 "not a regular file"
run -c "$A" submit --to siteB "$tmp/files/f.txt" "$tmp/files/missing.txt"
expect "one unreadable file of two queues neither" 66 "missing.txt"
run -c "$A" submit --to siteB --pexpire 31-Feb-2030.10:00 "$tmp/files/f.txt"
expect "impossible --pexpire is a usage error, 64" 64 "not a real date"
run -c "$A" submit --to siteB --pexpire 2001-01-01T00:00 "$tmp/files/f.txt"
expect "past --pexpire exits 65" 65 "expiry is not in the future"
run -c "$A" submit --to siteB --expire soon "$tmp/files/f.txt"
expect "bad --expire exits 65" 65 "bad --expire"
run -c "$A" submit "$tmp/files/f.txt"
expect "submit without --to exits 64" 64 "usage: shipctl submit"
run -c "$A" submit --to siteB --bogus "$tmp/files/f.txt"
expect "unknown option exits 64" 64 "usage"
check "refused submissions queued nothing" test "$(ls "$SP/ms_ship/outgoing" | wc -l)" = "$before"
check "refused submissions left the file" test -f "$tmp/files/f.txt"

# bay full: the same node with a 1 KB bay limit (a bare size is KB)
sed 's/^MIN-FREE-DISK 0$/MIN-FREE-DISK 0\nBAY-SIZE-LIMIT 1/' "$A" >"$tmp/a/full.conf"
head -c 4096 /dev/urandom >"$tmp/files/big.bin"
run -c "$tmp/a/full.conf" submit --to siteB "$tmp/files/big.bin"
expect "bay full exits 75" 75 "^shipctl: submit: $tmp/files/big.bin: bay full: "
check "bay full keeps the file" test -f "$tmp/files/big.bin"
run -c "$tmp/a/nope.conf" ls
expect "a missing configuration exits 2" 2 "nope.conf"

# several files in one call: one start-up (configuration, key) for all,
# one id per file in order, each file queued with its own sealed packet
before=$(ls "$SP/ms_ship/outgoing" | wc -l)
for i in 1 2 3; do echo "batch file $i" >"$tmp/files/batch$i.txt"; done
run -c "$A" submit --to siteB "$tmp/files/batch1.txt" "$tmp/files/batch2.txt" "$tmp/files/batch3.txt"
check "three files in one submit exit 0" test "$rc" = 0
check "three files in one submit print three ids" \
	test "$(echo "$out" | grep -cE '^[0-9]{8}T[0-9]{6}Z-siteA-[0-9a-f]{8}$')" = 3 -a \
	"$(echo "$out" | sort -u | wc -l)" = 3
check "each of the three is queued with its packet" \
	bash -c 'for id in $1; do [ -f "$2/outgoing/$id" ] && [ -s "$2/data/$id" ] || exit 1; done' _ "$out" "$SP/ms_ship"
check "each order names its own file, in the order given" \
	test "$(for id in $out; do awk '$1 == "name:" { print $2 }' "$SP/ms_ship/outgoing/$id"; done | tr '\n' ' ')" = \
	"batch1.txt batch2.txt batch3.txt "
check "three more orders in outgoing/" test "$(ls "$SP/ms_ship/outgoing" | wc -l)" = $((before + 3))

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

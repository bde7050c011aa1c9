#!/bin/bash
# `make demo` (scripts/demo), run twice in a copy of the tree: the story it
# prints is this run's events only (one submit, of this run's order), in
# time order across the three nodes, and the relay (exposed1) says
# "forwarded", never "delivered". Uses the demo's fixed loopback ports, so
# like every scenario it runs inside tests/run's network namespace.
: "${TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
FAILS=0
ok() { echo "ok - $1"; }
fail() { echo "not ok - $1${2:+: $2}"; FAILS=$((FAILS + 1)); }
tree=$(mktemp -d /tmp/shipd-demo.XXXXXX)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/scripts" "$tree/spool"
cp -r "$TOP/bin" "$TOP/conf" "$tree/" && cp "$TOP/scripts/demo" "$tree/scripts/"
rm -rf "$tree/conf/keys"
for run in 1 2; do
	"$tree/scripts/demo" >"$tree/out$run" 2>&1 || { fail "demo run $run" "$(tail -n 5 "$tree/out$run")"; exit 1; }
	grep -q "checksums match" "$tree/out$run" && ok "demo run $run delivers" || fail "demo run $run"
done
story=$(sed -n '/what happened/,/== delivered/p' "$tree/out2" | sed '1d;$d' | sed '/^$/d')
id=$(grep '^order: ' "$tree/out2" | head -n 1 | cut -d' ' -f2)
[ -n "$id" ] && ok "the second run's order is $id" || fail "no order id in the demo's output"
n=$(echo "$story" | grep -c .)
others=$(echo "$story" | grep -vc -- "$id")
[ "$n" -ge 6 ] && [ "$others" -eq 0 ] && ok "the story tells only this run's order ($n lines)" ||
	fail "the story has other runs' lines" "$story"
[ "$(echo "$story" | grep -c 'submit: ')" -eq 1 ] && ok "... one submit" || fail "submits in the story" "$story"
[ "$(echo "$story" | awk '{print $1}')" = "$(echo "$story" | awk '{print $1}' | sort)" ] &&
	ok "... in time order" || fail "the story is not in time order" "$story"
for n in replica1 exposed1 far1; do
	echo "$story" | grep -q "^[0-9:.]* $n " && ok "... with $n's events" || fail "no $n line" "$story"
done
echo "$story" | grep -q "exposed1 .*done (forwarded to far1)" && ok "the relay says forwarded" ||
	fail "relay forwarded" "$story"
echo "$story" | grep "^[0-9:.]* exposed1 " | grep -q "delivered" && fail "the relay says delivered" "$story" ||
	ok "the relay never says delivered"
echo "$story" | grep -q "far1 .*delivered $id" && ok "far1 says delivered" || fail "far1 delivered" "$story"
exit $((FAILS > 0))

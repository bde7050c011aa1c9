#!/bin/bash
# tests/soak/oldpeer.sh - the previous release against this one, for real
# (issue 15: "an old-protocol peer, the previous release's binary, built in
# the test"). Builds shipd and shipctl from OLD_REV of this repository's
# own history (default: the last commit before hop protocol 5), then:
#   new A -> old B and old B -> new A: each connection is refused, and
#   each side's log names both protocol versions in one line; nothing is
#   delivered, nothing is lost or returned: every order stays queued;
#   B upgraded in place (the new binary on the old one's spool): both
#   queued orders are delivered, each exactly once.
# Run by `make soak` (the build of the old release takes a minute or two of
# CPU, too long for make check, where test_wire's refuse_old_version checks
# the same refusal against a version-3/4 client's bytes). Needs the git
# history: a shallow clone without OLD_REV fails with a line saying so.
#
#   OLD_REV=<commit> tests/soak/oldpeer.sh
#   OLD_BUILD=<dir> tests/soak/oldpeer.sh   (a tree of OLD_REV built already)
: "${TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP/tests/lib/nodes.sh"
OLD_REV=${OLD_REV:-de94dc5^}
WAIT=30
nodes_init

old=${OLD_BUILD:-$NODES/old}	# OLD_BUILD: a tree of OLD_REV already built
mkdir -p "$old"
if [ -n "${OLD_BUILD:-}" ]; then
	: # built already
elif ! git -C "$TOP" rev-parse -q --verify "$OLD_REV^{commit}" >/dev/null ||
	! git -C "$TOP" archive "$OLD_REV" | tar -x -C "$old"; then
	fail "previous release $OLD_REV not in this clone's history (a shallow clone?)"
	finish
fi
if [ -z "${OLD_BUILD:-}" ] && ! make -C "$old" -s -j2 bin/shipd bin/shipctl >"$old/build.log" 2>&1; then
	fail "build of $OLD_REV" "$(tail -n 3 "$old/build.log")"
	finish
fi
oldv=$(awk '$2 == "HOP_VERSION" {print $3}' "$old/src/wire/wire_int.h")
newv=$(awk '$2 == "HOP_VERSION" {print $3}' "$TOP/src/wire/wire_int.h")
echo "# $OLD_REV speaks hop protocol $oldv, this tree $newv"
[ -n "$oldv" ] && [ "$oldv" != "$newv" ] || { fail "versions differ" "old '$oldv' new '$newv'"; finish; }

base=$((20000 + RANDOM % 20000))
node_add A $((base + 1))
SHIPCTL=$old/bin/shipctl node_add B $((base + 2))
node_peer A B; node_peer B A
node_start A || finish
SHIPD=$old/bin/shipd node_start B || finish

head -c 5000 /dev/urandom >"$NODES/a.orig"
head -c 7000 /dev/urandom >"$NODES/b.orig"
cp "$NODES/a.orig" "$NODES/a.bin"; cp "$NODES/b.orig" "$NODES/b.bin"	# submit takes the file
ctl A submit --to B "$NODES/a.bin" >/dev/null || fail "submit at new A"
SHIPCTL=$old/bin/shipctl ctl B submit --to A "$NODES/b.bin" >/dev/null || fail "submit at old B"

line="unsupported hop protocol version"
check "new A names both versions when old B refuses it" \
	wait_for grep -q "$line $oldv (this shipd speaks $newv)" "$NODES/A/shipd.log"
check "old B names both versions when new A refuses it" \
	wait_for grep -q "$line $newv (this shipd speaks $oldv)" "$NODES/B/shipd.log"
check "new A logs its refusal of old B's hop, naming both versions" \
	wait_for grep -q "refused hop from .*$line $oldv (this shipd speaks $newv)" "$NODES/A/shipd.log"
sleep 2
check "nothing delivered across the version gap" \
	test -z "$(ls "$(bay A)/incoming" "$(bay B)/incoming" 2>/dev/null | grep -v ':$' | grep .)"
check "A's order stays queued (not lost, not returned)" \
	bash -c "'$SHIPCTL' -c '$(conf A)' ls 2>/dev/null | grep -q 'Z-A-.* B '"
check "no order returned on either side" \
	bash -c "! grep -qi 'returned\|return journey' '$NODES/A/shipd.log' '$NODES/B/shipd.log'"

# the upgrade: B's own spool, the new binary
node_stop B
node_start B || finish
check "after B's upgrade, A's order is delivered at B" \
	wait_for bash -c "cmp -s '$NODES/a.orig' '$(bay B)/incoming/a.bin'"
check "and old B's queued order is delivered at A" \
	wait_for bash -c "cmp -s '$NODES/b.orig' '$(bay A)/incoming/b.bin'"
sleep 2
check "each exactly once" \
	test "$(ls "$(bay A)/incoming" | wc -l) $(ls "$(bay B)/incoming" | wc -l)" = "1 1"
finish

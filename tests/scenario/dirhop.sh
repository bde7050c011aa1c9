#!/bin/bash
# Shipping without a network (issue 20): A ships to C through B, where the
# A-to-B hop is a directory (PEER B dir:MEDIUM, IMPORT-DIR on B) and B-to-C
# is TCP. Shows: every file delivered byte-identical exactly once; the
# medium's size limit stops the export cleanly and it resumes once B has
# emptied it; A keeps custody ("exported" in shipctl ls) until B's signed
# receipts close its orders; importing the same files again delivers
# nothing new; a hostile medium (flipped, truncated, renamed, symlink,
# FIFO, an unknown node) is refused with a reason while the good packets
# are delivered. SOAK=1: the large file is 100 MiB (else 12 MiB).
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((20000 + RANDOM % 20000))
NSMALL=${NSMALL:-200}
BIG_MB=$([ -n "${SOAK:-}" ] && echo 100 || echo 12)
# the medium must fill: the big packet and the smalls (about 3.2 MB of
# random sizes, plus envelopes) exceed it by over a MiB; with 4 MiB of room
# they fitted in once (15.7 MB on a 16 MiB medium: no "medium full")
LIMIT_MB=$((BIG_MB + 2))
WAIT=$([ -n "${SOAK:-}" ] && echo 600 || echo 180)
MED=$NODES/medium; RET=$NODES/toA
mkdir -p "$MED" "$RET"
dirpeer() {	# dirpeer A B DIR [LIMIT]: A reaches B through DIR
	awk -v d="dir:$3" -v l="${4:-}" '{print "PEER", $2, d, l, $5}' "$NODES/$2/peerline" >>"$(conf "$1")"
}

node_add A $((base + 1))
node_add B $((base + 2)) "IMPORT-DIR $MED"
node_add C $((base + 3))
node_add Z $((base + 4))			# a node B does not know
dirpeer A B "$MED" "${LIMIT_MB}m"; node_key A C; node_route A B C
dirpeer B A "$RET"; node_peer B C
node_peer C B; node_key C A
dirpeer Z B "$MED"; node_key Z C; node_route Z B C
for n in A C; do node_start "$n" || { fail "start $n"; finish; }; done

check "checkconf accepts the directory PEER and IMPORT-DIR" sh -c "'$SHIPCTL' -c '$(conf B)' checkconf >/dev/null"
ctl A routes >"$NODES/routes.txt" 2>&1
check "routes draws the directory hop" grep -q "dir:$MED" "$NODES/routes.txt"

work=$NODES/work; mkdir -p "$work/src"
for i in $(seq 1 "$NSMALL"); do head -c $((1000 + RANDOM % 30000)) /dev/urandom >"$work/src/small$i"; done
head -c $((BIG_MB << 20)) /dev/urandom >"$work/src/big"
(cd "$work/src" && sha256sum -- * | sort -k2) >"$work/sums"
for f in "$work"/src/*; do cp "$f" "$work/in.$(basename "$f")"; done
for i in 1 2 3 4 5; do echo "hostile $i $RANDOM" >"$work/in.h$i"; done
# 1. hostile medium: five packets of A's, tampered with on the medium, and
# one from a node B does not know (shipctl export, no daemon)
for i in 1 2 3 4 5; do eval "h$i=\$(ctl A submit --name h$i --to C \"$work/in.h$i\")"; done
for i in 1 2 3 4 5; do eval "id=\$h$i"; wait_for test -f "$MED/$id.env" || fail "h$i on the medium"; done
check "shipctl ls shows exported orders with where and when" \
	wait_for sh -c "'$SHIPCTL' -c '$(conf A)' ls | grep -q 'exported.*exported to B ($MED) at'"
# a byte of the trailer's signature changed (to X, or to Y where it was
# X already: writing X alone left the packet intact one time in 64)
at=$(($(stat -c %s "$MED/$h1.pkt") - 40))
was=$(dd if="$MED/$h1.pkt" bs=1 skip="$at" count=1 2>/dev/null)
if [ "$was" = X ]; then new=Y; else new=X; fi
printf '%s' "$new" | dd of="$MED/$h1.pkt" bs=1 seek="$at" conv=notrunc 2>/dev/null
truncate -s 100 "$MED/$h2.pkt"
mv "$MED/$h3.env" "$MED/renamed-$h3.env"
cp "$MED/$h4.pkt" "$NODES/h4copy"; rm "$MED/$h4.pkt"; ln -s "$NODES/h4copy" "$MED/$h4.pkt"
rm "$MED/$h5.env"; mkfifo "$MED/$h5.env"
echo "from Z $RANDOM" >"$work/z.txt"
zid=$(ctl Z submit --to C "$work/z.txt") && ctl Z export --to B "$MED" >/dev/null
check "shipctl export writes Z's order to the medium" test -f "$MED/$zid.env"

ctl A submit --name big --to C "$work"/in.big >/dev/null || fail "submit big"
for f in "$work"/src/small*; do ctl A submit --name "$(basename "$f")" --to C "$work/in.$(basename "$f")" >/dev/null; done

# 2. B is not running: A fills the medium up to its limit, the rest waits
check "export stops at the medium's limit with a clear reason" wait_for log_has A "medium full: $MED holds"
used=$(du -sb --exclude=refused "$MED" | cut -f1)
check "the medium holds no more than its limit ($used bytes)" test "$used" -le $((LIMIT_MB << 20))
check "no .tmp leftovers on the medium" test -z "$(find "$MED" -name '.tmp*')"
mkdir -p "$NODES/snapshot"
for e in "$MED"/*.env; do	# the good packets, to import a second time later
	[ -f "$e" ] && [ -f "${e%.env}.pkt" ] && [ ! -L "${e%.env}.pkt" ] && cp "$e" "${e%.env}.pkt" "$NODES/snapshot/"
done

# 3. B runs: imports, forwards over TCP, writes receipts; A resumes
node_start B || { fail "start B"; finish; }
total=$((NSMALL + 1))
check "all $total files delivered to C" wait_for at_least "$total" "$(bay C)/incoming"
sleep 2
(cd "$(bay C)/incoming" && sha256sum -- small* big | sort -k2) >"$work/got"
check "byte-identical" cmp -s "$work/sums" "$work/got"
check "exactly once (no duplicate names at C)" test -z "$(ls "$(bay C)/incoming" | grep '_[0-9]*$')"
check "A resumed after the medium was emptied" test "$(grep -c "exported to B in directory" "$NODES/A/shipd.log")" -ge "$total"
check "receipts close A's orders" wait_for log_has A "receipt from B (accepted): custody of C moved; done"
for i in 1 3 4 5; do eval "id=\$h$i"; check "hostile h$i not delivered" test ! -e "$(bay C)/incoming/h$i"; done
check "flipped packet refused with its reason" grep -qs "SHA-256\|verif\|signature" "$MED/refused/$h1.pkt.why"
check "truncated packet left for later, not taken" log_has B "$h2.env: left for later: incomplete"
check "renamed envelope refused" grep -qs "renamed" "$MED/refused/renamed-$h3.env.why"
check "symlinked packet refused" grep -qs "symbolic link" "$MED/refused/$h4.pkt.why"
check "FIFO refused" grep -qs "not a regular file" "$MED/refused/$h5.env.why"
check "unknown node refused" grep -qs "from Z, which is not a PEER" "$MED/refused/$zid.env.why"
check "nothing of Z's at C" test ! -e "$(bay C)/incoming/z.txt"
check "B still runs after the hostile files" kill -0 "${PID[B]}"

# 4. the same packets imported again: acknowledged, nothing new delivered
before=$(count_files "$(bay C)/incoming")
out=$(ctl B import "$NODES/snapshot" 2>&1)
echo "# $out"
check "a second import takes nothing" grep -q " 0 taken" <<<"$out"
sleep 3
check "a second import delivers nothing new" test "$(count_files "$(bay C)/incoming")" -eq "$before"
few_exported() { [ "$(ctl A ls | grep -c exported)" -le 5 ]; }	# counted at each try
check "good orders closed at A, only the hostile ones wait" wait_for few_exported
finish

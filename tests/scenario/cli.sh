#!/bin/bash
# The command line as an administrator meets it: --version on every
# program; --help on every verb exits 0 without reading the configuration;
# --json on show, checkconf, routes, top --once, stats and peers shares one
# envelope (schema, kind, node, now); stats --prometheus passes promtool
# and --textfile writes DIR/shipd.prom; peers shows each next hop up after
# a delivery through it, then down with its error in full once it stops.
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((20000 + RANDOM % 20000))
work=$NODES/work; mkdir -p "$work"

# ---- --version and --help, with no configuration at all
for p in "$SHIPD" "$SHIPCTL" "$TOP/scripts/mkorder" "$TOP/scripts/shipping_server" "$TOP/scripts/lspacket"; do
	out=$(PATH=$TOP/bin:$PATH "$p" --version 2>&1); rc=$?
	[ $rc -eq 0 ] && echo "$out" | grep -qE '^[a-z_]+ (\(shipd\) )?[0-9]+\.[0-9]+' &&
		ok "${p##*/} --version: $out" || fail "${p##*/} --version" "exit $rc: $out"
done
verbs=$("$SHIPCTL" --help | awk '$1 == "shipctl" && $2 !~ /^-/ {print $2}' | sort -u)
check "shipctl --help lists the verbs and exits 0" test -n "$verbs"
for v in $verbs; do
	out=$("$SHIPCTL" -c /nonexistent/shipping.conf "$v" --help 2>&1); rc=$?
	[ $rc -eq 0 ] && echo "$out" | grep -q "^usage: shipctl .*$v" &&
		ok "shipctl $v --help exits 0 without reading the configuration" ||
		fail "shipctl $v --help" "exit $rc: $out"
done

# ---- a relay network: A -> R -> C
node_add A $((base + 1)) "RETRY-MIN 30s" "RETRY-MAX 60s"
node_add R $((base + 2))
node_add C $((base + 3))
node_peer A R; node_peer R A; node_peer R C; node_peer C R
node_key A C; node_key C A
node_route A R C; node_route C R A
for n in A R C; do node_start $n || { fail "start $n"; finish; }; done
echo "through the relay" >"$work/r.txt"
id=$(ctl A submit --copy --to C "$work/r.txt")
check "delivered through R" wait_for delivered C r.txt
check "the relay logs the order forwarded" wait_for log_has R "order $id: done (forwarded to C)"
grep "$id" "$NODES/R/shipd.log" | grep -qi "delivered" && fail "the relay says delivered" "$(grep "$id" "$NODES/R/shipd.log")" ||
	ok "... and never says delivered"
check "the origin logs it sent to C via R" wait_for log_has A "order $id: done (sent to C via R)"

envelope() {	# envelope NAME KIND: the last --json output has the one schema
	jq -e --arg k "$2" '.schema == 1 and .kind == $k and (.node | type) == "string" and (.now | type) == "number"' \
		"$work/j" >/dev/null && ok "$1: one envelope (schema 1, kind $2)" || fail "$1 envelope" "$(head -c 300 "$work/j")"
}
ctl A checkconf --json >"$work/j"; envelope "checkconf --json" checkconf
jq -e '.config.routes[0].next_hop == "R" and .ok == true' "$work/j" >/dev/null && ok "... with the routes" || fail "checkconf --json routes"
ctl A routes --json >"$work/j"; envelope "routes --json" routes
jq -e '.destinations[] | select(.name == "C") | .next_hop == "R" and .decided_by == "ROUTE"' "$work/j" >/dev/null &&
	ok "... C goes via R" || fail "routes --json C"
ctl A top --once --json >"$work/j"; envelope "top --once --json" top
jq -e --arg p "${PID[A]}" '.daemon_running == true and (.daemon_pid | tostring) == $p' "$work/j" >/dev/null &&
	ok "... names the running daemon" || fail "top --json daemon" "$(cat "$work/j")"
ctl A stats --json >"$work/j"; envelope "stats --json" stats
echo "held" >"$work/h.txt"
hid=$(ctl A submit --copy --to C "$work/h.txt")
ctl A hold "$hid" >/dev/null 2>&1 || { wait_for delivered C h.txt; hid=""; }
if [ -n "$hid" ]; then
	ctl A show --json "$hid" >"$work/j"; envelope "show --json" show
	jq -e --arg id "$hid" '.order.id == $id and .order.state == "hold"' "$work/j" >/dev/null &&
		ok "... the order as ls --json lists it" || fail "show --json order"
fi

# ---- peers: up after the delivery
ctl A peers --json >"$work/j"; envelope "peers --json" peers
jq -e '.peers[] | select(.name == "R") | .state == "up" and .transport == "tcp" and .last_success != null and .last_hour.sent_orders >= 1' \
	"$work/j" >/dev/null && ok "peers --json: R up, over tcp, one order sent in the last hour" ||
	fail "peers --json R up" "$(cat "$work/j")"
ctl R peers --json >"$work/j"
jq -e '.peers[] | select(.name == "A") | .last_hour.received_orders >= 1' "$work/j" >/dev/null &&
	ok "peers on the relay: received from A in the last hour" || fail "relay peers" "$(cat "$work/j")"
ctl A peers | grep -E "^R +up" >/dev/null && ok "peers: the table says R up" || fail "peers table" "$(ctl A peers)"

# ---- the relay stops: down, with its error in full and what waits
node_stop R
echo "after the stop" >"$work/s.txt"
sid=$(ctl A submit --copy --to C "$work/s.txt")
check "the order is deferred" wait_for sh -c "'$SHIPCTL' -c '$(conf A)' ls --state deferred --short | grep -q '$sid'"
ctl A peers --json >"$work/j"
err=$(ctl A show --json "$sid" | jq -r .order.last_error)
jq -e --arg e "$err" '.peers[] | select(.name == "R") | .state == "down" and .down_until != null and .last_error == $e and .waiting_orders >= 1' \
	"$work/j" >/dev/null && ok "peers --json: R down, with the order's error in full, and the order waiting" ||
	fail "peers --json R down" "$(cat "$work/j") / $err"
ctl A peers | grep -E "^R +down until [0-9]{2}:[0-9]{2}" >/dev/null && ok "peers: 'down until HH:MM'" ||
	fail "peers table down" "$(ctl A peers)"

# ---- metrics
if command -v promtool >/dev/null; then
	ctl A stats --prometheus >"$work/m.prom"
	promtool check metrics <"$work/m.prom" >"$work/promtool.out" 2>&1 &&
		ok "stats --prometheus passes promtool check metrics" || fail "promtool" "$(cat "$work/promtool.out")"
else
	fail "promtool is not installed (scripts/install-deps installs prometheus)"
fi
grep -qx 'shipd_up{node="A"} 1' "$work/m.prom" && ok "... shipd_up 1 with the daemon running" || fail "shipd_up"
grep -qE '^shipd_queue_orders\{class="-default",state="deferred"\} [1-9]' "$work/m.prom" &&
	ok "... queue depth by class and state" || fail "shipd_queue_orders deferred"
grep -qE '^shipd_peer_up\{peer="R"\} 0$' "$work/m.prom" && grep -qE '^shipd_peer_failures_total\{peer="R"\} [1-9]' "$work/m.prom" &&
	grep -qE '^shipd_peer_sent_orders_total\{peer="R"\} [1-9]' "$work/m.prom" &&
	ok "... per-peer state, failures and transfer counters" || fail "peer metrics" "$(grep peer "$work/m.prom" | head)"
mkdir -p "$work/textfile"
ctl A stats --textfile "$work/textfile" && test -s "$work/textfile/shipd.prom" &&
	ok "stats --textfile DIR writes DIR/shipd.prom" || fail "stats --textfile"
check "... and nothing else there (no temporaries)" test "$(ls -A "$work/textfile")" = shipd.prom
finish

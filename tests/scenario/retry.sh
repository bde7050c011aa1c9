#!/bin/bash
# Failures the queue must ride out: a peer that is down and comes back
# (back-off visible in ls), a receiver whose bay is full (temporary, then
# delivered once space frees), an order that expires (returned home, with
# the notification program called at expiry and on arrival), and the
# receipt handler called with MultiSite's arguments.
. "$TOP/tests/lib/nodes.sh"
nodes_init
base=$((20000 + RANDOM % 20000))
work=$NODES/work; mkdir -p "$work"

cat >"$work/notify" <<EON
#!/bin/sh
# called as: notify -s SUBJECT -f MESSAGE-FILE ADDRESS...
{ echo "ARGS: \$*"; cat "\$4"; echo; } >>"$work/notices"
EON
cat >"$work/handler" <<EOH
#!/bin/sh
echo "\$*" >>"$work/handled"
EOH
chmod +x "$work/notify" "$work/handler"

node_add A $((base + 1)) "NOTIFICATION-PROGRAM $work/notify" "ADMINISTRATOR ops@siteA"
node_add B $((base + 2)) "BAY-SIZE-LIMIT 400k" "CLASS -default spool/ms_ship -receipt-handler $work/handler"
node_peer A B; node_peer B A
node_start A || { fail "start A"; finish; }

# 1. B is down: the order is deferred with back-off and the reason
head -c 50000 /dev/urandom >"$work/one.bin"
id=$(ctl A submit --copy --to B "$work/one.bin")
check "deferred while B is down" wait_for log_has A "order $id: deferred"
# (each look waits: a slow run may catch the order between two attempts)
json_deferred() {
	json=$(ctl A ls --json)
	echo "$json" | jq -e --arg id "$id" '.[] | select(.id == $id) | .state == "deferred" and .attempts >= 1 and (.last_error | test("unreachable"))' >/dev/null
}
wait_for json_deferred &&
	ok "ls --json shows deferred, attempts and the reason" || fail "ls --json: $json"
table_deferred() { ctl A ls | grep -q "$id.*deferred"; }
check "ls table shows it deferred" wait_for table_deferred
attempts() { ctl A ls --json | jq --arg id "$id" '.[] | select(.id == $id) | .attempts'; }
attempts_ge() { test "$(attempts)" -ge "$1"; }
check "retried with back-off" wait_for attempts_ge 2
ctl A ls --json | jq -e --arg id "$id" '.[] | select(.id == $id) | .next_attempt > 0' >/dev/null &&
	ok "the next attempt time is shown (attempts $(attempts))" || fail "no next attempt time"

# 2. B comes up: delivered on the next retry, receipt handler runs
node_start B || { fail "start B"; finish; }
check "delivered once B is up" wait_for delivered B one.bin
cmp -s "$work/one.bin" "$(bay B)/incoming/one.bin" && ok "content identical" || fail "content differs"
check "receipt handler ran" wait_for test -s "$work/handled"
grep -q -- "-data $(bay B)/incoming/one.bin -actual $(bay B)/receipts/$id -sclass -default -origin A" "$work/handled" &&
	ok "handler got -data FILE -actual ORDER -sclass CLASS -origin HOST" ||
	fail "handler arguments: $(cat "$work/handled")"

# 3. bay full at B: temporary refusal, kept at A, delivered when space frees
head -c 350000 /dev/urandom >"$(bay B)/data/filler"
head -c 100000 /dev/urandom >"$work/two.bin"
id=$(ctl A submit --copy --to B "$work/two.bin")
check "B refuses with bay full" wait_for log_has B "refused packet $id.*bay full"
check "A keeps it deferred" wait_for log_has A "order $id: deferred.*bay full"
test ! -e "$(bay B)/incoming/two.bin" && ok "nothing stored at B while full" || fail "stored while full"
rm -f "$(bay B)/data/filler"
check "delivered after space freed" wait_for delivered B two.bin

# 4. expiry: B down, order expires, comes home to A's return bay, two notices
node_stop B
head -c 1000 /dev/urandom >"$work/late.bin"
exp=$(date -d '+3 seconds' '+%Y-%m-%dT%H:%M:%S')
id=$(ctl A submit --copy --notify owner@siteA --pexpire "$exp" --to B "$work/late.bin")
check "expired order returned home to the return bay" wait_for test -e "$(spool A)/ms_rtn/return/$id.ret"
check "notice at expiry" wait_for grep -q "expired or undeliverable" "$work/notices"
check "notice on arrival home" wait_for grep -q "arrived home" "$work/notices"
grep -q "ARGS: -s .* -f .* ops@siteA owner@siteA" "$work/notices" &&
	ok "notification program called as PROGRAM -s SUBJECT -f FILE ADMIN NOTIFY" ||
	fail "notify args: $(grep ARGS "$work/notices")"
ctl A ls --json | jq -e --arg id "$id.ret" '.[] | select(.id == $id) | .state == "return"' >/dev/null &&
	ok "ls shows it in the return bay" || fail "ls does not show the return"
finish

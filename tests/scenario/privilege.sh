#!/bin/bash
# The privilege split: started as root with USER, shipd reads its key and
# becomes USER before it opens a socket or a bay, so no process that reads
# network bytes runs as root or can read the key file again; a key file
# readable by group or others is refused at start, like ssh.
. "$TOP/tests/lib/nodes.sh"
[ "$(id -u)" -eq 0 ] || { fail "needs root (CI runs as root)"; finish; }
user=shipdtest$$
useradd --system --no-create-home --shell /usr/sbin/nologin "$user" || { fail "useradd"; finish; }
nodes_init
trap 'nodes_cleanup; userdel "$user" 2>/dev/null' EXIT
base=$((20000 + RANDOM % 20000))
node_add A $((base + 1)) "USER $user"
node_add B $((base + 2)) "USER $user"
node_peer A B; node_peer B A
chmod 755 "$NODES"
for n in A B; do chown -R "$user" "$(spool "$n")"; chmod 755 "$NODES/$n"; done
check "key files belong to root, mode 0600" test "$(stat -c '%U %a' "$NODES/A/shipd.key")" = "root 600"

node_start A && node_start B || { fail "start"; finish; }
check "A says it dropped to $user" log_has A "running as $user"
work=$NODES/work; mkdir -p "$work"; chmod 755 "$work"
head -c 200000 /dev/urandom >"$work/p.bin"; chmod 644 "$work/p.bin"
ctl A submit --copy --to B "$work/p.bin" >/dev/null
check "delivered with both daemons unprivileged" wait_for delivered B p.bin
uids=$(for p in ${PID[A]} ${PID[B]} $(pgrep -P "${PID[A]}") $(pgrep -P "${PID[B]}"); do
	awk '/^Uid:/ {print $2, $3}' "/proc/$p/status" 2>/dev/null; done | sort -u)
echo "# real/effective uids of every shipd process: $(echo $uids)"
want=$(id -u "$user")
check "no shipd process runs as root" test -n "$uids" -a -z "$(echo "$uids" | tr ' ' '\n' | grep -vx "$want")"
check "$user cannot read the key file" sh -c "! su -s /bin/sh $user -c 'cat $NODES/A/shipd.key' >/dev/null 2>&1"
check "bays are owned by $user" test "$(stat -c %U "$(bay B)/incoming")" = "$user"
kill -HUP "${PID[A]}"
check "SIGHUP reload works after the split (key kept in memory)" wait_for log_has A "reloaded"

node_stop A
chmod 640 "$NODES/A/shipd.key"
out=$($SHIPD -c "$(conf A)" -f 2>&1); rc=$?
check "a group-readable key refuses to start (exit $rc)" test "$rc" -eq 2
echo "$out" | grep -q "accessible by group or others" && ok "... and says why: $(echo "$out" | tail -n 1 | sed 's/^[^ ]* //')" ||
	fail "no clear message: $out"
finish

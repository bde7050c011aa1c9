#!/bin/bash
# The MultiSite front ends (mkorder, shipping_server, lspacket): each
# MultiSite command line must become the right shipctl/shipd command line,
# with its exit status passed back. A fake shipctl/shipd records its argv;
# then one real mkorder -> lspacket -> shipping_server round on a temporary
# node, through the real shipctl.
: "${TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
FAILS=0
ok() { echo "ok - $1"; }
fail() { echo "not ok - $1${2:+: $2}"; FAILS=$((FAILS + 1)); }
tmp=$(mktemp -d /tmp/shipd-compat.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
unset SHIPD_CONF
MKORDER=$TOP/scripts/mkorder SS=$TOP/scripts/shipping_server LSPACKET=$TOP/scripts/lspacket

# The fake: one line per call, its arguments joined by "|"; prints FAKE_IDS
# for submit; exits FAKE_RC_<verb> or FAKE_RC.
cat >"$tmp/fake" <<'EOF'
#!/bin/bash
line="${0##*/}"
for a in "$@"; do line="$line|$a"; done
echo "$line" >>"$FAKE_LOG"
verb=""
for a in "$@"; do case $a in -c) ;; submit|hold|release|ls|show|--poll) verb=${a#--}; break ;; esac; done
[ "$verb" = submit ] && printf '%s\n' ${FAKE_IDS:-0a1b2c3d}
[ "$verb" = show ] && echo "order ${!#}"
rc_var=FAKE_RC_$verb
exit "${!rc_var:-${FAKE_RC:-0}}"
EOF
chmod +x "$tmp/fake"
mkdir -p "$tmp/bin" && cp "$tmp/fake" "$tmp/bin/shipctl" && cp "$tmp/fake" "$tmp/bin/shipd"
export FAKE_LOG=$tmp/calls SHIPCTL=$tmp/bin/shipctl SHIPD=$tmp/bin/shipd

# expect NAME WANT-RC WANT-CALLS CMD...: run CMD; its status and the fake's
# calls (newline-separated, "" = none) must match.
expect() {
	local name=$1 want_rc=$2 want=$3 rc got
	shift 3
	: >"$FAKE_LOG"
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	got=$(cat "$FAKE_LOG")
	if [ "$rc" -eq "$want_rc" ] && [ "$got" = "$want" ]; then
		ok "$name"
	else
		fail "$name" "exit $rc (want $want_rc), calls [$got] (want [$want]) $(head -c 200 "$tmp/err")"
	fi
}

echo data >"$tmp/f.txt"
F=$tmp/f.txt

# ---- mkorder ----
expect "mkorder -data F -fship B" 0 "shipctl|submit|--to|B|$F" \
	"$MKORDER" -data "$F" -fship B
expect "mkorder: every option, abbreviated as MultiSite allows" 0 \
	"shipctl|submit|--class|vobs|--pexpire|01-Dec-2026.10:00|--notify|ops@example.org|--comment|two words|--copy|--to|B|--to|C|$F" \
	"$MKORDER" -da "$F" -scl vobs -pex 01-Dec-2026.10:00 -not ops@example.org -c "two words" -fs -cop B C
expect "mkorder: full option names" 0 \
	"shipctl|submit|--class|vobs|--notify|a@b|--comment|x|--to|B|$F" \
	"$MKORDER" -data "$F" -sclass vobs -notify a@b -comment x -fship B
expect "mkorder -ship implies -copy (MultiSite required it)" 0 "shipctl|submit|--copy|--to|B|$F" \
	"$MKORDER" -data "$F" -ship B
expect "mkorder -ship -copy" 0 "shipctl|submit|--copy|--to|B|$F" "$MKORDER" -data "$F" -ship -copy B
expect "mkorder without -ship/-fship/-out is -fship" 0 "shipctl|submit|--to|B|$F" "$MKORDER" -data "$F" B
expect "mkorder -nc drops the comment" 0 "shipctl|submit|--to|B|$F" "$MKORDER" -c x -nc -data "$F" B
expect "mkorder -conf CONF passes -c CONF" 0 "shipctl|-c|/x/s.conf|submit|--to|B|$F" \
	"$MKORDER" -conf /x/s.conf -data "$F" B
expect "mkorder: a data file named like an option stays a file" 0 "shipctl|submit|--to|B|./-odd" \
	"$MKORDER" -data -odd B
expect "mkorder -out ORDER: submit, then hold the new ids" 0 \
	"shipctl|-c|c.conf|submit|--to|B|$F
shipctl|-c|c.conf|hold|id1|id2" \
	env FAKE_IDS="id1 id2" "$MKORDER" -conf c.conf -data "$F" -out "$tmp/ord" B
if [ "$(cat "$tmp/ord" 2>/dev/null)" = "$(printf 'id1\nid2')" ] && [ "$(cat "$tmp/out")" = "$(printf 'id1\nid2')" ]; then
	ok "mkorder -out writes the ids to ORDER and prints them"
else
	fail "mkorder -out writes the ids to ORDER" "ORDER: $(cat "$tmp/ord" 2>&1 | tr '\n' ' ')"
fi
rm -f "$tmp/ord2"
expect "mkorder -out: a failed submit writes no ORDER and passes its status" 65 "shipctl|submit|--to|B|$F" \
	env FAKE_RC_submit=65 "$MKORDER" -data "$F" -ou "$tmp/ord2" B
[ ! -e "$tmp/ord2" ] && ok "... no ORDER file" || fail "ORDER written after a failed submit"
expect "mkorder -out: hold refused (already being sent) is a warning" 0 \
	"shipctl|submit|--to|B|$F
shipctl|hold|0a1b2c3d" env FAKE_RC_hold=75 "$MKORDER" -data "$F" -out "$tmp/ord3" B
grep -q "being sent" "$tmp/err" && ok "... and says so" || fail "no warning when hold failed"
expect "mkorder passes shipctl's 75 (try again later)" 75 "shipctl|submit|--to|B|$F" \
	env FAKE_RC=75 "$MKORDER" -data "$F" -fship B
expect "mkorder passes shipctl's 66 (unreadable file)" 66 "shipctl|submit|--to|B|/nonexistent" \
	env FAKE_RC=66 "$MKORDER" -data /nonexistent B
expect "mkorder without -data: usage, 64" 64 "" "$MKORDER" -fship B
expect "mkorder without a destination: usage, 64" 64 "" "$MKORDER" -data "$F"
expect "mkorder -ship -fship: usage, 64" 64 "" "$MKORDER" -data "$F" -ship -fship B
expect "mkorder -co is ambiguous (-comment, -copy): usage, 64" 64 "" "$MKORDER" -data "$F" -co B
expect "mkorder: a destination that is no node name: usage, 64" 64 "" "$MKORDER" -data "$F" 'B C'
expect "mkorder -c without its value: usage, 64" 64 "" "$MKORDER" -data "$F" -c
expect "mkorder: an option after the destinations: usage, 64" 64 "" "$MKORDER" -data "$F" B -copy
grep -q "^usage: mkorder" "$tmp/err" && ok "... with the usage line" || fail "no usage line"
# finds shipctl beside itself
mkdir -p "$tmp/beside" && cp "$MKORDER" "$tmp/beside/" && cp "$tmp/fake" "$tmp/beside/shipctl"
expect "mkorder runs the shipctl beside it" 0 "shipctl|submit|--to|B|$F" \
	env -u SHIPCTL PATH=/usr/bin:/bin "$tmp/beside/mkorder" -data "$F" B
mkdir -p "$tmp/lone/bin" && cp "$MKORDER" "$tmp/lone/bin/"
expect "mkorder with no shipctl anywhere: 69" 69 "" \
	env -u SHIPCTL PATH=/usr/bin:/bin "$tmp/lone/bin/mkorder" -data "$F" B
grep -q "cannot find shipctl" "$tmp/err" && ok "... saying so" || fail "no message when shipctl is missing"

# ---- shipping_server ----
expect "shipping_server -poll -> shipd --poll" 0 "shipd|--poll" "$SS" -poll
expect "shipping_server -c CONF -scl C -pol -> shipd -c CONF --poll -sclass C" 0 \
	"shipd|-c|/x/s.conf|--poll|-sclass|vobs" "$SS" -c /x/s.conf -scl vobs -pol
expect "shipping_server -poll passes 75 (something still waits)" 75 "shipd|--poll" env FAKE_RC=75 "$SS" -poll
expect "shipping_server -poll passes 2 (configuration error)" 2 "shipd|--poll" env FAKE_RC=2 "$SS" -poll
printf 'id1\n\nid2\n' >"$tmp/order"
printf 'id3' >"$tmp/order2"
expect "shipping_server ORDER... releases the orders' ids" 0 "shipctl|-c|c.conf|release|id1|id2|id3" \
	"$SS" -c c.conf "$tmp/order" "$tmp/order2"
expect "shipping_server passes release's 1 (not found)" 1 "shipctl|release|id1|id2" \
	env FAKE_RC=1 "$SS" "$tmp/order"
expect "shipping_server with an unreadable ORDER: 66" 66 "" "$SS" "$tmp/nonexistent"
printf 'not an id; rm -rf /\n' >"$tmp/badorder"
expect "shipping_server with a malformed ORDER: 65" 65 "" "$SS" "$tmp/badorder"
expect "shipping_server without -poll or ORDER: usage, 64" 64 "" "$SS"
expect "shipping_server -poll ORDER: usage, 64" 64 "" "$SS" -poll "$tmp/order"
mkdir -p "$tmp/sbin" && cp "$SS" "$tmp/sbin/" && cp "$tmp/fake" "$tmp/sbin/shipd"
expect "shipping_server runs the shipd beside it" 0 "shipd|--poll" \
	env -u SHIPD PATH=/usr/bin:/bin "$tmp/sbin/shipping_server" -poll

# ---- lspacket ----
expect "lspacket -> shipctl ls" 0 "shipctl|ls" "$LSPACKET"
expect "lspacket -long -> ls --long" 0 "shipctl|ls|--long" "$LSPACKET" -long
expect "lspacket -s -> ls --short" 0 "shipctl|-c|c.conf|ls|--short" "$LSPACKET" -c c.conf -s
expect "lspacket FILE... -> show ID per file" 0 "shipctl|show|id1
shipctl|show|id2" "$LSPACKET" /var/spool/shipd/ms_ship/deferred/id1 id2
expect "lspacket passes the worst status (1: not found)" 1 "shipctl|show|id1
shipctl|show|id2" env FAKE_RC_show=1 "$LSPACKET" -short id1 id2
expect "lspacket -bogus: usage, 64" 64 "" "$LSPACKET" -bogus

# ---- a real round through the real shipctl ----
real="$TOP/bin/shipctl"
unset SHIPCTL SHIPD
"$real" -c /dev/null submit >"$tmp/probe" 2>&1
if grep -q "not built yet" "$tmp/probe"; then
	fail "real mkorder run" "bin/shipctl has no submit or no configuration parser yet: $(head -n 1 "$tmp/probe")"
	exit 1
fi
N=$tmp/node && mkdir -p "$N/spool"
{ echo "NODE B"; echo "LISTEN 127.0.0.1 4999"; echo "KEY-FILE b.key"; echo "SPOOL spool-b"; } >"$N/b.conf"
{ echo "NODE A"; echo "SPOOL spool"; echo "KEY-FILE a.key"; echo "MIN-FREE-DISK 1m"; echo "LOG stderr"; } >"$N/a.conf"
"$real" -c "$N/a.conf" keygen >/dev/null 2>&1 && "$real" -c "$N/b.conf" keygen 2>/dev/null >>"$N/a.conf" ||
	{ fail "real mkorder run" "keygen failed"; exit 1; }
echo "payload $RANDOM" >"$N/real.txt"
id=$(PATH=$TOP/bin:$PATH "$MKORDER" -conf "$N/a.conf" -data "$N/real.txt" -fship B 2>"$tmp/err")
rc=$?
[ $rc -eq 0 ] && [ -n "$id" ] && ok "real mkorder -data F -fship B queues an order ($id)" ||
	fail "real mkorder -data F -fship B" "exit $rc: $(head -n 2 "$tmp/err")"
[ ! -e "$N/real.txt" ] && ok "... and, without -copy, consumed the file once queued" ||
	fail "the file is still there after mkorder without -copy"
"$LSPACKET" -c "$N/a.conf" -short | grep -qx "$id" && ok "real lspacket -short lists it" ||
	fail "lspacket -short does not list $id"
echo "payload $RANDOM" >"$N/held.txt"
held=$("$MKORDER" -conf "$N/a.conf" -data "$N/held.txt" -out "$N/ORDER" -copy B 2>"$tmp/err")
st=$("$real" -c "$N/a.conf" ls --json 2>/dev/null | jq -r --arg id "$held" '.[] | select(.id == $id) | .state')
[ "$st" = hold ] && ok "real mkorder -out: the order waits in hold ($held)" || fail "mkorder -out order in state '$st'"
[ -e "$N/held.txt" ] && ok "... and -copy kept the file" || fail "-copy did not keep the file"
PATH=$TOP/bin:$PATH "$SS" -c "$N/a.conf" "$N/ORDER" >/dev/null 2>"$tmp/err"
st=$("$real" -c "$N/a.conf" ls --json 2>/dev/null | jq -r --arg id "$held" '.[] | select(.id == $id) | .state')
[ "$st" = outgoing ] && ok "real shipping_server ORDER releases it to outgoing" ||
	fail "after shipping_server ORDER the order is '$st'" "$(head -n 2 "$tmp/err")"
"$MKORDER" -conf "$N/a.conf" -data "$N/held.txt" -copy NoSuchNode >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 65 ] && ok "real mkorder to an unroutable destination: 65" || fail "unroutable destination gave $rc"

exit $((FAILS > 0))

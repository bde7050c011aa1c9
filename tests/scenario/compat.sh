#!/bin/bash
# The MultiSite front ends (mkorder, shipping_server, lspacket), option by
# option against their reference pages: each MultiSite command line must
# become the right shipctl/shipd command line, with its exit status passed
# back (a fake shipctl/shipd records its argv); then every option for real,
# on two running nodes A -> B, with the manual's default behaviour: mkorder
# without -ship/-fship/-out writes an order beside the file and ships
# nothing, -out writes it where asked and the daemon never takes it,
# shipping_server ORDER ships it, -ship waits for the next poll, -fship
# goes at once, the file goes only when shipped without -copy; lspacket
# lists bays, directories, order files and received packets by path.
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
for a in "$@"; do case $a in -c) ;; submit|ship|lspacket|--poll|--version) verb=${a#--}; break ;; esac; done
[ "$verb" = version ] && echo "shipctl (shipd) 9.8.7"
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
expect "mkorder -ship: held for the next poll, and implies -copy (MultiSite required it)" 0 \
	"shipctl|submit|--copy|--hold-for-poll|--to|B|$F" "$MKORDER" -data "$F" -ship B
expect "mkorder -shi -cop" 0 "shipctl|submit|--copy|--hold-for-poll|--to|B|$F" "$MKORDER" -data "$F" -shi -cop B
expect "mkorder without -ship/-fship/-out: an order file beside the data (sh_o_NAME)" 0 \
	"shipctl|submit|--out|$tmp/sh_o_f.txt|--to|B|$F" "$MKORDER" -data "$F" B
expect "mkorder with a relative data file: the order beside it" 0 \
	"shipctl|submit|--out|./sh_o_f.txt|--to|B|f.txt" sh -c "cd '$tmp' && '$MKORDER' -data f.txt B"
expect "mkorder -nc drops the comment" 0 "shipctl|submit|--to|B|$F" "$MKORDER" -c x -nc -data "$F" -fship B
expect "mkorder -ncomment" 0 "shipctl|submit|--to|B|$F" "$MKORDER" -c x -ncomment -data "$F" -fship B
expect "mkorder -conf CONF passes -c CONF" 0 "shipctl|-c|/x/s.conf|submit|--to|B|$F" \
	"$MKORDER" -conf /x/s.conf -data "$F" -fship B
expect "mkorder: a data file named like an option stays a file" 0 "shipctl|submit|--to|B|./-odd" \
	"$MKORDER" -data -odd -fship B
expect "mkorder -out ORDER: the order file at ORDER" 0 \
	"shipctl|-c|c.conf|submit|--out|$tmp/ord|--to|B|$F" "$MKORDER" -conf c.conf -data "$F" -out "$tmp/ord" B
expect "mkorder -ou ORDER -copy" 0 "shipctl|submit|--copy|--out|$tmp/ord|--to|B|$F" \
	"$MKORDER" -data "$F" -ou "$tmp/ord" -copy B
expect "mkorder: a colon in the file name becomes a period" 0 \
	"shipctl|submit|--name|a.b.c|--to|B|$tmp/a:b:c" "$MKORDER" -data "$tmp/a:b:c" -fship B
expect "mkorder -cq: the comment from standard input, up to a line \".\"" 0 \
	"shipctl|submit|--comment|line one
line two|--to|B|$F" sh -c "printf 'line one\nline two\n.\nnot this\n' | '$MKORDER' -data '$F' -cq -fship B"
expect "mkorder -cquery to end of input" 0 "shipctl|submit|--comment|only line|--to|B|$F" \
	sh -c "printf 'only line' | '$MKORDER' -data '$F' -cquery -fship B"
expect "mkorder -cqe (query for each: one file here)" 0 "shipctl|submit|--comment|each|--to|B|$F" \
	sh -c "echo each | '$MKORDER' -data '$F' -cqe -fship B"
expect "mkorder -cqeach" 0 "shipctl|submit|--comment|each|--to|B|$F" \
	sh -c "echo each | '$MKORDER' -data '$F' -cqeach -fship B"
expect "mkorder --version asks shipctl" 0 "shipctl|--version" "$MKORDER" --version
grep -qx "mkorder (shipd) 9.8.7" "$tmp/out" && ok "... and prints mkorder's" || fail "mkorder --version: $(cat "$tmp/out")"
expect "mkorder --help: exit 0" 0 "" "$MKORDER" --help
grep -q "^usage: mkorder" "$tmp/out" && ok "... usage on stdout" || fail "mkorder --help output"
expect "mkorder passes shipctl's 75 (try again later)" 75 "shipctl|submit|--to|B|$F" \
	env FAKE_RC=75 "$MKORDER" -data "$F" -fship B
expect "mkorder -data /f: the order file /sh_o_f" 0 "shipctl|submit|--out|/sh_o_f|--to|B|/f" \
	"$MKORDER" -data /f B
expect "mkorder passes shipctl's 66 (unreadable file)" 66 "shipctl|submit|--to|B|/nonexistent" \
	env FAKE_RC=66 "$MKORDER" -data /nonexistent -fship B
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
	env -u SHIPCTL PATH=/usr/bin:/bin "$tmp/beside/mkorder" -data "$F" -fship B
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
: >"$tmp/order"; : >"$tmp/order2"
expect "shipping_server ORDER... -> shipctl ship ORDER..." 0 "shipctl|-c|c.conf|ship|--|$tmp/order|$tmp/order2" \
	"$SS" -c c.conf "$tmp/order" "$tmp/order2"
expect "shipping_server -sclass C ORDER -> ship --class C" 0 "shipctl|ship|--class|vobs|--|$tmp/order" \
	"$SS" -scl vobs "$tmp/order"
expect "shipping_server passes ship's 1 (not found)" 1 "shipctl|ship|--|id1" env FAKE_RC=1 "$SS" id1
expect "shipping_server --version" 0 "shipctl|--version" "$SS" --version
grep -qx "shipping_server (shipd) 9.8.7" "$tmp/out" && ok "... prints shipping_server's" || fail "shipping_server --version"
expect "shipping_server --help: exit 0" 0 "" "$SS" --help
expect "shipping_server without -poll or ORDER: usage, 64" 64 "" "$SS"
expect "shipping_server -poll ORDER: usage, 64" 64 "" "$SS" -poll "$tmp/order"
mkdir -p "$tmp/sbin" && cp "$SS" "$tmp/sbin/" && cp "$tmp/fake" "$tmp/sbin/shipd"
expect "shipping_server runs the shipd beside it" 0 "shipd|--poll" \
	env -u SHIPD PATH=/usr/bin:/bin "$tmp/sbin/shipping_server" -poll

# ---- lspacket ----
expect "lspacket -> shipctl lspacket" 0 "shipctl|lspacket" "$LSPACKET"
expect "lspacket -long -> lspacket --long" 0 "shipctl|lspacket|--long" "$LSPACKET" -long
expect "lspacket -s -> lspacket --short" 0 "shipctl|-c|c.conf|lspacket|--short" "$LSPACKET" -c c.conf -s
expect "lspacket PATH... -> lspacket -- PATH..." 0 "shipctl|lspacket|--short|--|/var/spool/shipd/ms_ship|id2" \
	"$LSPACKET" -sh /var/spool/shipd/ms_ship id2
expect "lspacket passes shipctl's status (1: no packet there)" 1 "shipctl|lspacket|--|x" env FAKE_RC=1 "$LSPACKET" x
expect "lspacket -bogus: usage, 64" 64 "" "$LSPACKET" -bogus
expect "lspacket -long -short: usage, 64" 64 "" "$LSPACKET" -long -short
expect "lspacket --version" 0 "shipctl|--version" "$LSPACKET" --version
expect "lspacket --help: exit 0" 0 "" "$LSPACKET" --help

# ---- every option for real: A -> B, both daemons running ----
unset SHIPCTL SHIPD
real="$TOP/bin/shipctl"
export PATH=$TOP/bin:$PATH
. "$TOP/tests/lib/nodes.sh"
FAILS=$FAILS
pair_init "CLASS docs docs_bay -expiration 3" -- "CLASS docs docs_bay"
node_start A || { fail "start A"; finish; }
node_start B || { fail "start B"; finish; }
W=$NODES/work && mkdir -p "$W"
AC=$(conf A)
js() { ctl A ls --json | jq -r --arg id "$1" ".[] | select(.id == \$id) | $2"; }
# A's own orders (B's delivery receipts pass through A's queue on their way in)
queue_len() { ctl A ls --json | jq '[.[] | select(.origin == "A")] | length'; }
queue_empty() { test "$(queue_len)" -eq 0; }
mk() { "$MKORDER" -conf "$AC" "$@"; }

# default: an order beside the file, nothing shipped, nothing removed
echo "payload one" >"$W/p1:x.txt"
o=$(mk -data "$W/p1:x.txt" B 2>"$tmp/err")
rc=$?
check "mkorder -data F B (the default) exits 0 ($(head -c 200 "$tmp/err"))" test $rc -eq 0
check "... prints the order file it wrote beside F, MultiSite's sh_o_NAME" test "$o" = "$W/sh_o_p1.x.txt" -a -f "$o"
check "... keeps the data file" test -f "$W/p1:x.txt"
check "... and queues nothing (with the daemon running)" test "$(queue_len)" -eq 0
mk -data "$W/p1:x.txt" B >/dev/null 2>"$tmp/err" && ok "a second mkorder on the same file works" ||
	fail "a second mkorder -data F" "$(cat "$tmp/err")"
"$LSPACKET" -c "$AC" "$W" >"$tmp/out" 2>&1
grep -qF "Packet is: $W/p1:x.txt" "$tmp/out" && grep -qF "shipping_server $o" "$tmp/out" &&
	ok "lspacket DIR lists the order file's packet and how to ship it" || fail "lspacket DIR" "$(cat "$tmp/out")"
check "lspacket -short DIR prints the path name" test "$("$LSPACKET" -c "$AC" -short "$W")" = "$W/p1:x.txt"
check "lspacket ORDER-FILE" sh -c "'$LSPACKET' -c '$AC' '$o' | grep -qF 'Packet intended for the following targets: B'"
id=$("$SS" -c "$AC" "$o" 2>"$tmp/err")
rc=$?
check "shipping_server ORDER ships the order file (exit $rc: $(head -c 200 "$tmp/err"))" test $rc -eq 0 -a -n "$id"
check "... and removes it" test ! -e "$o"
check "... delivered, the colon turned into a period" wait_for delivered B p1.x.txt
check "... the data file removed once shipped without -copy" test ! -e "$W/p1:x.txt"
"$SS" -c "$AC" "$o" >/dev/null 2>&1
check "shipping_server on an order already shipped: 66 (gone)" test $? -eq 66
"$LSPACKET" -c "$(conf B)" "$(bay B)/incoming/p1.x.txt" >"$tmp/out" 2>&1
grep -q "Received here: order $id" "$tmp/out" && grep -q "Origin: A" "$tmp/out" &&
	ok "lspacket on a received packet in incoming/ tells its order and origin" || fail "lspacket incoming" "$(cat "$tmp/out")"
"$LSPACKET" -c "$(conf B)" -short "$(bay B)/incoming" | grep -qx "$(bay B)/incoming/p1.x.txt" &&
	ok "lspacket -short incoming/ lists received packets by path" || fail "lspacket -short incoming"

# -out ORDER: the daemon never takes it until shipping_server ORDER
echo "payload two" >"$W/p2.txt" && mkdir -p "$W/orders"
o=$(mk -data "$W/p2.txt" -out "$W/orders/ORD" -copy B 2>"$tmp/err")
check "mkorder -out ORDER writes ORDER ($(head -c 200 "$tmp/err"))" test -f "$W/orders/ORD" -a "$o" = "$W/orders/ORD"
echo "payload three" >"$W/p3.txt"
id3=$(mk -data "$W/p3.txt" -fship B)
check "mkorder -fship ships at once" wait_for delivered B p3.txt
check "... and removes the file without -copy" test ! -e "$W/p3.txt"
# p3.txt shows in B's incoming/ before B's ACK reaches A: wait for A's queue
# to empty (p3's order closing), then look for the -out order
out_untouched() { wait_for queue_empty && test ! -e "$(bay B)/incoming/p2.txt"; }
check "meanwhile the -out order was never queued nor sent" out_untouched
"$SS" -c "$AC" "$W/orders/ORD" >/dev/null 2>"$tmp/err"
check "shipping_server ORDER (the -out file) exits 0 ($(head -c 200 "$tmp/err"))" test $? -eq 0
check "... delivered" wait_for delivered B p2.txt
check "... -copy kept the data file" test -f "$W/p2.txt"
echo "payload four" >"$W/p4.txt"
mk -data "$W/p4.txt" -fship -copy B >/dev/null
check "mkorder -fship -copy: delivered" wait_for delivered B p4.txt
check "... and the file kept" test -f "$W/p4.txt"

# -ship: held in the bay for the next poll
echo "payload five" >"$W/p5.txt"
id5=$(mk -data "$W/p5.txt" -ship B 2>"$tmp/err")
check "mkorder -ship queues an order ($(head -c 200 "$tmp/err"))" test -n "$id5"
check "... held in deferred/ for the next poll" test "$(js "$id5" .state)" = deferred
ctl A ls | grep "$id5" | grep -q "next poll" && ok "... ls says: next poll" || fail "ls NEXT for a -ship order"
echo "payload six" >"$W/p6.txt"
mk -data "$W/p6.txt" -fship B >/dev/null
check "an order after it goes at once" wait_for delivered B p6.txt
check "... while the -ship order still waits for the poll" test "$(js "$id5" .state)" = deferred -a ! -e "$(bay B)/incoming/p5.txt"
check "... and -ship kept the data file" test -f "$W/p5.txt"
"$SS" -c "$AC" -poll >"$tmp/out" 2>&1
check "shipping_server -poll with the daemon running: 0" test $? -eq 0
check "... the poll sends the -ship order" wait_for delivered B p5.txt

# -pexpire: ClearCase date-times
expires_of() { js "$1" .expires; }
echo "e" >"$W/e.txt"
id=$(mk -data "$W/e.txt" -copy -ship -pexpire 01-Jan-2099 B)
check "-pexpire 01-Jan-2099: the end of that day" test "$(expires_of "$id")" = "$(date -d '2099-01-01 23:59:59' +%s)"
id=$(mk -data "$W/e.txt" -copy -ship -pex 01-Jan-2099.08:30 B)
check "-pexpire 01-Jan-2099.08:30" test "$(expires_of "$id")" = "$(date -d '2099-01-01 08:30' +%s)"
for d in 10-Dec 10-Dec.14:00 Monday today tomorrow_no 14:00UTC+2 yesterday 32-Jan; do
	mk -data "$W/e.txt" -copy -ship -pexpire "$d" B >/dev/null 2>"$tmp/err"
	rc=$?
	case $d in
	tomorrow_no | 32-Jan) check "-pexpire $d: a bad date is a usage error, 64 (got $rc)" test $rc -eq 64 ;;
	yesterday) check "-pexpire yesterday: accepted but in the past, 65 (got $rc)" test $rc -eq 65 ;;
	*) check "-pexpire $d accepted (got $rc: $(head -c 150 "$tmp/err"))" test $rc -eq 0 ;;
	esac
done

# -notify, -c, -nc, -cq, -sclass
id=$(mk -data "$W/e.txt" -copy -ship -notify ops@example.org -c "a remark" B)
check "-notify recorded" test "$(js "$id" .notify)" = ops@example.org
check "-c recorded" test "$(js "$id" .comment)" = "a remark"
id=$(mk -data "$W/e.txt" -copy -ship -c x -nc B)
check "-nc: no comment" test "$(js "$id" .comment)" = null
id=$(printf 'asked\n.\n' | mk -data "$W/e.txt" -copy -ship -cq B)
check "-cq: the comment read from standard input" test "$(js "$id" .comment)" = asked
id=$(mk -data "$W/e.txt" -copy -ship -sclass docs B)
check "-sclass docs: the order is of class docs" test "$(js "$id" .class)" = docs
mk -data "$W/e.txt" -copy -ship -sclass nosuch B >/dev/null 2>&1
check "-sclass with an unknown class: 65" test $? -eq 65
mk -data "$W/e.txt" -copy NoSuchNode >/dev/null 2>&1
check "an unroutable destination fails at mkorder time: 65" test $? -eq 65

# shipping_server -sclass and order paths in a bay
echo "held" >"$W/h.txt"
o=$(mk -data "$W/h.txt" -copy -sclass docs -out "$W/orders/H" B)
"$SS" -c "$AC" -sclass -default "$W/orders/H" >/dev/null 2>&1
check "shipping_server -sclass other ORDER leaves it alone (1)" test $? -eq 1 -a -f "$W/orders/H"
idh=$("$SS" -c "$AC" -sclass docs "$W/orders/H")
check "shipping_server -sclass docs ORDER ships it" wait_for test -f "$NODES/B/docs_bay/incoming/h.txt"
echo "by path" >"$W/bp.txt"
idb=$(mk -data "$W/bp.txt" -copy -ship B)
"$SS" -c "$AC" "$(bay A)/deferred/$idb" >/dev/null 2>"$tmp/err"
check "shipping_server BAY/deferred/ID (an order by its path) exits 0 ($(head -c 100 "$tmp/err"))" test $? -eq 0
check "... and it is sent" wait_for delivered B bp.txt
"$SS" -c "$AC" "$W/h.txt" >/dev/null 2>&1
check "shipping_server on a file that is no order: 65" test $? -eq 65

# lspacket over the bays
"$LSPACKET" -c "$AC" >"$tmp/out" 2>&1
grep -qF "Packet is: $(bay A)/data/" "$tmp/out" && ok "lspacket lists the packets in every bay by path" ||
	fail "lspacket (all bays)" "$(head -c 300 "$tmp/out")"
"$LSPACKET" -c "$AC" -short | grep -q "^$(bay A)/data/" && ok "lspacket -short prints path names, not ids" ||
	fail "lspacket -short"
"$LSPACKET" -c "$AC" -long "$(bay A)/deferred" | grep -q "^digest:" && ok "lspacket -long BAY/deferred gives the full record" ||
	fail "lspacket -long"
"$LSPACKET" -c "$AC" -short "$(bay A)" | grep -c . | grep -qv '^0$' && ok "lspacket BAY lists that bay" || fail "lspacket BAY"
"$LSPACKET" -c "$AC" "$W/nothing-here" >/dev/null 2>&1
check "lspacket on a path with no packet: 1" test $? -eq 1
finish

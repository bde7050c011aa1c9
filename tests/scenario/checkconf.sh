#!/bin/bash
# checkconf.sh - `shipctl checkconf` the way an administrator meets it:
# the in-tree conf passes from any directory and shows its class and bays;
# a bad line exits 2 with "shipctl: file:line: message" on stderr; routing
# problems exit 2 with each problem as a file:line line; the environment's
# port variables win over the file. Prints ok/not ok lines; non-zero exit
# on any failure. $TOP is the repository root.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
TOP=$(cd "$TOP" && pwd -P)
CTL=$TOP/bin/shipctl
tmp=$(mktemp -d /tmp/checkconf.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
unset CLEARCASE_MIN_PORT CLEARCASE_MAX_PORT SHIPD_CONF
failed=0

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; failed=1; sed 's/^/#   /' "$tmp/out" "$tmp/err" 2>/dev/null | head -40; }
run() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
rc() { cat "$tmp/rc"; }
has() { grep -qF -- "$2" "$tmp/$1"; }

# The in-tree conf's key is made by `make demo`; without it checkconf
# must report exactly that one problem (shipd would exit 2).
intree_ok() {
	if [ -f "$TOP/conf/keys/replica1.key" ]; then
		[ "$(rc)" = 0 ] && has out "no problems found"
	else
		[ "$(rc)" = 2 ] && has out "KEY-FILE $TOP/conf/keys/replica1.key: No such file" &&
			has err "1 problem found"
	fi
}

# 1. The in-tree default, from another directory.
(cd / && run "$CTL" -c "$TOP/conf/shipping.conf" checkconf)
if intree_ok && has out "node                     replica1" &&
   has out "listen                   127.0.0.1:4591" &&
   has out "class -default" &&
   has out "  bays                   $TOP/spool/replica1/ms_ship" &&
   has out "  return bay             $TOP/spool/replica1/ms_rtn" &&
   has out "port range               none: ephemeral ports"; then
	ok "default conf: exit 0, class -default with its bays"
else
	not_ok "default conf: exit 0, class -default with its bays (exit $(rc))"
fi

# 2. The same through $SHIPD_CONF, without -c.
(cd / && SHIPD_CONF="$TOP/conf/shipping.conf" run "$CTL" checkconf)
if intree_ok && has out "class -default"; then
	ok "SHIPD_CONF names the conf"
else
	not_ok "SHIPD_CONF names the conf (exit $(rc))"
fi

# 3. A bad line: exit 2, one line on stderr with file:line, nothing on stdout.
printf 'NODE n\n# children\nMAX-CHILDREN lots\nFROBNICATE\n' >"$tmp/bad.conf"
run "$CTL" -c "$tmp/bad.conf" checkconf
want="shipctl: $tmp/bad.conf:3: MAX-CHILDREN: bad number \"lots\" (want 1..64)"
if [ "$(rc)" = 2 ] && [ "$(cat "$tmp/err")" = "$want" ] && [ ! -s "$tmp/out" ]; then
	ok "bad file: exit 2, file:line message on stderr"
else
	not_ok "bad file: exit 2, file:line message on stderr (exit $(rc))"
fi

# 4. A missing file.
run "$CTL" -c "$tmp/none.conf" checkconf
if [ "$(rc)" = 2 ] && has err "shipctl: $tmp/none.conf: No such file or directory"; then
	ok "missing file: exit 2"
else
	not_ok "missing file: exit 2 (exit $(rc))"
fi

# 5. Routing problems: a loop and an unknown next hop, each on its line.
key="shipd1:$(printf 'A%.0s' $(seq 86))=="
: >"$tmp/k.key"; chmod 600 "$tmp/k.key"	# checkconf only looks whether it is there
cat >"$tmp/loop.conf" <<EOC
NODE me
KEY-FILE $tmp/k.key
PEER A 10.0.0.1 4590 $key
PEER B 10.0.0.2 4590 $key
ROUTE A B
ROUTE B A ROUTE nope far
EOC
run "$CTL" -c "$tmp/loop.conf" checkconf
if [ "$(rc)" = 2 ] &&
   has out "$tmp/loop.conf:6: ROUTE: cyclic delivery route: A -> B -> A" &&
   has out "$tmp/loop.conf:6: ROUTE: unknown next hop nope" &&
   has out "  far                    via nope" &&
   has err "2 problems found"; then
	ok "routing problems: exit 2, cyclic route and unknown next hop named"
else
	not_ok "routing problems: exit 2, cyclic route and unknown next hop named (exit $(rc))"
fi

# 6. The environment's port range wins over the file, and is checked.
printf 'NODE n\nKEY-FILE %s\nCLEARCASE_MIN_PORT 49152\nCLEARCASE_MAX_PORT 65535\n' "$tmp/k.key" >"$tmp/ports.conf"
CLEARCASE_MIN_PORT=50000 CLEARCASE_MAX_PORT=50029 run "$CTL" -c "$tmp/ports.conf" checkconf
if [ "$(rc)" = 0 ] && has out "port range               50000-50029 (30 ports)"; then
	ok "environment port range wins over the file"
else
	not_ok "environment port range wins over the file (exit $(rc))"
fi
CLEARCASE_MIN_PORT=abc run "$CTL" -c "$tmp/ports.conf" checkconf
if [ "$(rc)" = 2 ] && has err 'shipctl: environment variable CLEARCASE_MIN_PORT="abc"'; then
	ok "bad environment port: exit 2 naming the variable"
else
	not_ok "bad environment port: exit 2 naming the variable (exit $(rc))"
fi

# 7. The seed's exposed host with pinned keys: routes as the manual says; placeholders flagged.
run "$CTL" -c "$TOP/conf/examples/SSA-pinned.conf" checkconf
if [ "$(rc)" = 2 ] && has out "  SiteB_host1            via SSB" &&
   has out "  SiteC_host3            via SSC" &&
   has out "  SiteA_host2            direct to 10.1.0.12:4590" &&
   [ "$(grep -c 'example placeholder' "$tmp/out")" = 5 ] && ! has out "cyclic"; then
	ok "SSA example: routes through SSB/SSC, placeholder keys reported"
else
	not_ok "SSA example: routes through SSB/SSC, placeholder keys reported (exit $(rc))"
fi

# 8. Usage.
run "$CTL" -c "$TOP/conf/shipping.conf" checkconf extra
if [ "$(rc)" = 64 ]; then ok "checkconf with arguments: usage, exit 64"; else not_ok "checkconf with arguments: usage, exit 64 (exit $(rc))"; fi

exit $failed

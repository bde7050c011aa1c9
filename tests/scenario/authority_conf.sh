#!/bin/bash
# tests/scenario/authority_conf.sh - the authority and key checking the way
# an administrator meets them, no network needed:
#
#   - shipctl authority init: the key is 0600, a second init refuses to
#     overwrite it; certify writes a certificate; bad arguments are refused
#   - shipctl authority revoke: each list a serial higher; install applies
#     it, refuses an older one replayed after it, a forged or truncated one
#   - shipctl checkconf (issue 14): an exposed host that cannot check the
#     signatures of the nodes it relays for gets a warning naming the line
#     to add, instead of "no problems found"; with an AUTHORITY it says the
#     authority checks them; a PEER at 0.0.0.0 is a problem
#   - shipctl keygen with LISTEN 0.0.0.0 never prints a PEER line with
#     0.0.0.0 (issue 14)
#   - the example topology in conf/examples is the authority way
#
# Prints ok/not ok lines; non-zero exit on any failure. $TOP is the root.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
TOP=$(cd "$TOP" && pwd -P)
CTL=${SHIPCTL:-$TOP/bin/shipctl}
tmp=$(mktemp -d /tmp/authority_conf.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
unset CLEARCASE_MIN_PORT CLEARCASE_MAX_PORT SHIPD_CONF SHIPD_AUTHORITY
failed=0
ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; failed=1; sed 's/^/#   /' "$tmp/out" "$tmp/err" 2>/dev/null | head -30; }
run() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
rc() { cat "$tmp/rc"; }
has() { grep -qF -- "$2" "$tmp/$1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name (exit $(rc))"; fi; }

# ---- the authority ----------------------------------------------------------------
CA=$tmp/ca
run "$CTL" authority init --dir "$CA"
AUTH=$(cat "$tmp/out")
check "authority init: key mode 0600, prints the AUTHORITY line, says keep it offline" \
	eval '[ "$(rc)" = 0 ] && [ "$(stat -c %a "$CA/authority.key")" = 600 ] &&
	      [[ "$AUTH" == "AUTHORITY shipd1:"* ]] && has err "keep it offline"'
sum=$(sha256sum <"$CA/authority.key")
run "$CTL" authority init --dir "$CA"
check "a second authority init refuses to overwrite the key" \
	eval '[ "$(rc)" != 0 ] && has err "refusing to overwrite" && [ "$(sha256sum <"$CA/authority.key")" = "$sum" ]'

node() {	# node NAME [LINES...]: a node directory with a key
	local n=$1
	shift
	mkdir -p "$tmp/$n"
	{ echo "NODE $n"; echo "SPOOL spool"; echo "KEY-FILE shipd.key"; echo "$AUTH"
	  echo "CERT-FILE $n.cert"; for l in "$@"; do echo "$l"; done; } >"$tmp/$n/shipping.conf"
	"$CTL" -c "$tmp/$n/shipping.conf" keygen >/dev/null 2>&1
}
node A "PEER R 10.0.0.2 4590"
run "$CTL" certify "$tmp/A/shipd.key.pub" --name A --dir "$CA" -o "$tmp/A/A.cert"
check "certify writes NODE.cert naming the node, role and serial" \
	eval '[ "$(rc)" = 0 ] && grep -q "^# shipd certificate of A: role node, serial 1$" "$tmp/A/A.cert" &&
	      grep -q "^shipd-cert1:" "$tmp/A/A.cert"'
run "$CTL" certify "$tmp/A/shipd.key.pub" --name A --role king --dir "$CA"
check "certify --role king: usage error" eval '[ "$(rc)" = 64 ] && has err "want relay or node"'
run "$CTL" certify "$tmp/nothere.pub" --name A --dir "$CA"
check "certify of a missing NODE.pub: exit 66" eval '[ "$(rc)" = 66 ]'
run "$CTL" -c "$tmp/A/shipping.conf" checkconf
check "checkconf: a node with its certificate and AUTHORITY checks clean" \
	eval '[ "$(rc)" = 0 ] && has out "  R                      certificate of authority" && has out "no problems found"'

# ---- revocation lists ------------------------------------------------------------------
run "$CTL" authority revoke --dir "$CA" B
cp "$CA/revocations" "$tmp/list1"
run "$CTL" authority revoke --dir "$CA" "$tmp/A/A.cert"
cp "$CA/revocations" "$tmp/list2"
check "revoke: each list a serial higher, every entry kept" \
	eval 'grep -q "^serial: 1$" "$tmp/list1" && grep -q "^serial: 2$" "$tmp/list2" &&
	      grep -q "^revoke: node B 1$" "$tmp/list2" && grep -q "^revoke: serial 1$" "$tmp/list2"'
mkdir -p "$tmp/A/spool"
run "$CTL" -c "$tmp/A/shipping.conf" authority install "$tmp/list2"
check "install applies the list to the node" \
	eval '[ "$(rc)" = 0 ] && has err "applied revocation list serial 2" && ls "$tmp/A/spool/trust/revoked/" | grep -q .'
run "$CTL" -c "$tmp/A/shipping.conf" authority install "$tmp/list1"
check "an older list replayed after a newer one changes nothing" \
	eval '[ "$(rc)" = 0 ] && has err "holds serial 2" && has err "changes nothing"'
sed 's/^revoke: node B 1$/revoke: node C 1/' "$tmp/list2" >"$tmp/forged"
run "$CTL" -c "$tmp/A/shipping.conf" authority install "$tmp/forged"
check "a forged list is refused" eval '[ "$(rc)" = 65 ] && has err "bad authority signature"'
head -c 80 "$tmp/list2" >"$tmp/truncated"
run "$CTL" -c "$tmp/A/shipping.conf" authority install "$tmp/truncated"
check "a truncated list is refused" eval '[ "$(rc)" = 65 ] && has err "revocation list"'

# ---- checkconf: how keys are checked (issue 14) ------------------------------------------
key="shipd1:$(printf 'A%.0s' $(seq 86))=="
cat >"$tmp/ssa.conf" <<EOF
NODE SSA
LISTEN 0.0.0.0 4590
KEY-FILE $tmp/A/shipd.key
PEER SSB 203.0.113.10 4590 $key
PEER SiteA_host1 10.1.0.11 4590 $key
ROUTE SSB SiteB_host1 SiteB_host2
EOF
run "$CTL" -c "$tmp/ssa.conf" checkconf
check "exposed host without keys for the far nodes: warns, naming the KEY line or AUTHORITY to add" \
	eval 'has out "$tmp/ssa.conf:6: warning: no way to check the signature of SiteB_host1" &&
	      has out "add \`KEY SiteB_host1 shipd1:...\`" && has out "or an AUTHORITY line" &&
	      has out "  SiteB_host2            NONE: its packets are refused here"'
echo "$AUTH" >>"$tmp/ssa.conf"
run "$CTL" -c "$tmp/ssa.conf" checkconf
check "with an AUTHORITY line: the authority checks them, no warning" \
	eval '[ "$(rc)" = 0 ] && has out "  SiteB_host1            certificate of authority" &&
	      has out "  SSB                    pinned key (PEER line 4)" && ! has out "no way to check"'
echo "PEER Wild 0.0.0.0 4590 $key" >>"$tmp/ssa.conf"
run "$CTL" -c "$tmp/ssa.conf" checkconf
check "a PEER at 0.0.0.0 is a problem (exit 2)" \
	eval '[ "$(rc)" = 2 ] && has out "PEER Wild: address 0.0.0.0 is unspecified"'

# ---- keygen with LISTEN 0.0.0.0 (issue 14) -----------------------------------------------
mkdir -p "$tmp/w"
printf 'NODE wild\nLISTEN 0.0.0.0 4590\nKEY-FILE shipd.key\nSPOOL spool\n' >"$tmp/w/shipping.conf"
run "$CTL" -c "$tmp/w/shipping.conf" keygen
line=$(cat "$tmp/out")
check "keygen with LISTEN 0.0.0.0 prints a usable PEER line, never 0.0.0.0" \
	eval '[ "$(rc)" = 0 ] && [[ "$line" == "PEER wild "* ]] && [[ "$line" != *0.0.0.0* ]] &&
	      has err "LISTEN 0.0.0.0 is every address of this host"'
echo "#   keygen printed: ${line:0:60}..."

# ---- the example topology, the authority way ---------------------------------------------
run "$CTL" -c "$TOP/conf/examples/SSA.conf" checkconf
check "conf/examples/SSA.conf: AUTHORITY, PEER lines without keys, families by pattern" \
	eval 'has out "  SiteB_*                via SSB" && has out "  SiteA_*                direct to %n:4590" &&
	      has out "certificate of authority" && ! grep -q "^PEER .* shipd1:" "$TOP/conf/examples/SSA.conf"'
run "$CTL" -c "$TOP/conf/examples/SiteA_host1.conf" checkconf
check "conf/examples/SiteA_host1.conf: the same" \
	eval 'has out "  SiteC_*                via SSA" && has out "certificate of authority"'
exit $failed

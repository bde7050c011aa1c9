#!/bin/bash
# bench/scale.sh - cost growth with the queue. For each N, a bay holding N
# deferred orders (not yet due) for a peer that is down, then the wall time
# of "shipctl ls", of the daemon's start-up pass (recovery + one queue
# scan: shipd -f started, stopped with TERM as soon as it says "started";
# the TERM is handled after the scan) and of one "shipd --poll" pass, which
# retries every deferred order against the down peer (a refused connection
# each) and defers it again; cut at BENCH_POLL_LIMIT seconds (300, exit
# 124). Last, --poll over BENCH_POLL_N (default 50) outgoing orders.
# Orders are made fast: one real submission, then its order file cloned
# with new ids (perl: link the sealed data, write the order) - the data
# content is never looked at while the peer is down.
#
#   bench/scale.sh N...  prints "scale N LS_S STARTSCAN_S POLL_S POLL_EXIT" per N and
#                        "pollpeerdown N POLL_S EXIT"
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/bench/lib.sh"
SHIPCTL=$TOP/bin/shipctl; SHIPD=$TOP/bin/shipd
R=$(mktemp -d /tmp/shipd-scale.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$R"' EXIT
trap 'exit 130' INT TERM

mkdir -p "$R/B"
printf 'NODE B\nKEY-FILE shipd.key\nLOG stderr\n' >"$R/B/shipping.conf"
bkey=$("$SHIPCTL" -c "$R/B/shipping.conf" keygen 2>/dev/null | awk '{print $NF}')
port=$((40000 + RANDOM % 20000))

# mkbay DIR N STATE: a node dir whose bay holds N orders in STATE
mkbay() {
	local d=$1 n=$2 st=$3 id
	mkdir -p "$d/spool"
	printf 'NODE A\nSPOOL spool\nKEY-FILE shipd.key\nLOG stderr\nMIN-FREE-DISK 1m\nIO-TIMEOUT 2s\nPEER B 127.0.0.1 %s %s\n' \
		"$port" "$bkey" >"$d/shipping.conf"
	"$SHIPCTL" -c "$d/shipping.conf" keygen >/dev/null 2>&1
	echo hello >"$d/f"
	id=$("$SHIPCTL" -c "$d/shipping.conf" submit --to B "$d/f" 2>/dev/null) ||
		{ echo "scale: submit failed" >&2; return 1; }
	perl -e '
		my ($bay, $id, $n, $st) = @ARGV;
		open(my $fh, "<", "$bay/outgoing/$id") or die "$bay/outgoing/$id: $!";
		my $o = do { local $/; <$fh> }; close $fh;
		(my $stem = $id) =~ s/-[0-9a-f]+$//;
		open($fh, "<", "$bay/data/$id") or die "$bay/data/$id: $!";
		my $data = do { local $/; <$fh> }; close $fh;
		my $due = time + 86400;
		my $src;
		for my $i (0 .. $n - 1) {
			my $new = sprintf("%s-%08x", $stem, $i);
			if ($i % 50000 == 0) {	# ext4 allows 65,000 links to a file
				open(my $d, ">", "$bay/data/$new") or die "$new: $!";
				print $d $data; close $d;
				$src = $new;
			} else {
				link("$bay/data/$src", "$bay/data/$new") or die "link: $!";
			}
			(my $t = $o) =~ s/\Q$id\E/$new/g;
			open(my $w, ">", "$bay/$st/$new") or die "$new: $!";
			print $w $t; close $w;
			utime($due, $due, "$bay/$st/$new") if $st eq "deferred";
		}
		unlink("$bay/outgoing/$id", "$bay/data/$id");' "$d/spool/ms_ship" "$id" "$n" "$st"
}

for n in "$@"; do
	d=$R/A$n
	mkbay "$d" "$n" deferred || exit 1
	sync
	t0=$(now); "$SHIPCTL" -c "$d/shipping.conf" ls >/dev/null 2>&1; t1=$(now)
	"$SHIPD" -c "$d/shipping.conf" -f >"$d/log" 2>&1 &
	p=$!
	for _ in $(seq 6000); do grep -qs started "$d/log" && break; sleep 0.01; done
	kill -TERM "$p"; wait "$p"; t2=$(now)
	timeout "${BENCH_POLL_LIMIT:-300}" "$SHIPD" -c "$d/shipping.conf" --poll >"$d/poll.log" 2>&1
	prc=$?; t3=$(now)
	echo "scale $n $(elapsed "$t0" "$t1") $(elapsed "$t1" "$t2") $(elapsed "$t2" "$t3") $prc"
	echo "scale: $n orders: ls $(elapsed "$t0" "$t1") s, start-up scan $(elapsed "$t1" "$t2") s," \
		"--poll $(elapsed "$t2" "$t3") s (exit $prc), deferred $(nfiles "$d/spool/ms_ship/deferred")" >&2
	rm -rf "$d"
done

n=${BENCH_POLL_N:-50}
d=$R/poll
mkbay "$d" "$n" outgoing || exit 1
t0=$(now); timeout 600 "$SHIPD" -c "$d/shipping.conf" --poll >"$d/log" 2>&1; prc=$?; t1=$(now)
echo "pollpeerdown $n $(elapsed "$t0" "$t1") $prc"
echo "scale: --poll over $n orders, peer down: $(elapsed "$t0" "$t1") s, exit $prc" >&2

# tests/lib/topology.sh - the firewall topology of the MultiSite "exposed
# host" checklist, built from netns.sh: sites A, B, C, each with three
# replica hosts on a site LAN, an exposed host (SSA, SSB, SSC) and a
# firewall routing between LAN, exposed host and a shared "internet"
# segment, plus a hostile host on the internet. conf/examples/
# firewall-topology.md draws it and gives the address plan and the rules.
#
# Offers: topo_build, name -> namespace/address lookups (T_NS, T_ADDR,
# T_SITE), firewall controls (open to the hostile host, TCP block) and
# readers for the firewalls' counters and recorded flows.
#
# Must never: use an address outside 10.231.0.0/16 or touch anything
# outside the namespaces netns.sh created for this run.
#
# Requires netns.sh sourced and ns_init done.
# shellcheck shell=bash

TOPO_SITES="A B C"
TOPO_NET=10.231
TOPO_INET=$TOPO_NET.100		# the internet segment, /24
TOPO_HOSTILE_ADDR=$TOPO_INET.66
TOPO_TABLE=shipd_fw
declare -A T_NS T_ADDR T_SITE T_ROLE
T_SHIPD_HOSTS=()		# every node that runs shipd, replica hosts first

_topo_idx() { case $1 in A) echo 1 ;; B) echo 2 ;; C) echo 3 ;; esac; }
_topo_lc() { echo "$1" | tr 'A-Z' 'a-z'; }

# Addresses, by site index i: LAN 10.231.i.0/24 (firewall .1, replica
# hosts .11-.13); exposed host segment 10.231.1i.0/24 (firewall .1,
# exposed host .10); internet 10.231.100.0/24 (firewall .i, hostile .66).
topo_lan() { echo "$TOPO_NET.$(_topo_idx "$1")"; }
topo_dmz() { echo "$TOPO_NET.1$(_topo_idx "$1")"; }
topo_exposed() { echo "SS$1"; }
topo_fw() { echo "fw$(_topo_lc "$1")"; }

# topo_build MIN MAX LISTEN: create the whole network, load the firewalls.
topo_build() {
	TOPO_MIN=$1 TOPO_MAX=$2 TOPO_LISTEN=$3
	local s i n lan dmz fw o oi h hs e es
	T_SHIPD_HOSTS=()
	ns_switch inet || return 1
	for s in $TOPO_SITES; do
		i=$(_topo_idx "$s") lan=$(topo_lan "$s") dmz=$(topo_dmz "$s") fw=$(topo_fw "$s")
		ns_add "$fw" || return 1
		ns_sysctl "$fw" net.ipv4.ip_forward=1
		ns_switch "lan$(_topo_lc "$s")" || return 1
		ns_plug "lan$(_topo_lc "$s")" pfw "$fw" lan "$lan.1/24" || return 1
		ns_plug inet "p$fw" "$fw" wan "$TOPO_INET.$i/24" || return 1
		for n in 1 2 3; do
			h=Site${s}_host$n hs=$(_topo_lc "$s")$n
			ns_add "$hs" || return 1
			ns_plug "lan$(_topo_lc "$s")" "p$n" "$hs" eth0 "$lan.1$n/24" || return 1
			# The firewall, not a missing route, keeps replica hosts home.
			ns_route "$hs" default "$lan.1" || return 1
			T_NS[$h]=$hs T_ADDR[$h]=$lan.1$n T_SITE[$h]=$s T_ROLE[$h]=replica
			T_SHIPD_HOSTS+=("$h")
		done
		e=SS$s es=ss$(_topo_lc "$s")
		ns_add "$es" || return 1
		ns_link "$fw" dmz "$dmz.1/24" "$es" eth0 "$dmz.10/24" || return 1
		ns_route "$es" default "$dmz.1" || return 1
		T_NS[$e]=$es T_ADDR[$e]=$dmz.10 T_SITE[$e]=$s T_ROLE[$e]=exposed
		T_NS[fw$s]=$fw T_ADDR[fw$s]=$TOPO_INET.$i T_SITE[fw$s]=$s T_ROLE[fw$s]=firewall
	done
	for s in $TOPO_SITES; do T_SHIPD_HOSTS+=("SS$s"); done
	# The internet routes every site's networks to that site's firewall
	# (no NAT): only the firewall rules keep traffic out.
	for s in $TOPO_SITES; do
		for o in $TOPO_SITES; do
			[ "$o" = "$s" ] && continue
			oi=$(_topo_idx "$o")
			ns_route "$(topo_fw "$s")" "$(topo_lan "$o").0/24" "$TOPO_INET.$oi" || return 1
			ns_route "$(topo_fw "$s")" "$(topo_dmz "$o").0/24" "$TOPO_INET.$oi" || return 1
		done
	done
	ns_add evil || return 1
	ns_plug inet pevil evil eth0 "$TOPO_HOSTILE_ADDR/24" || return 1
	for o in $TOPO_SITES; do
		oi=$(_topo_idx "$o")
		ns_route evil "$(topo_lan "$o").0/24" "$TOPO_INET.$oi" || return 1
		ns_route evil "$(topo_dmz "$o").0/24" "$TOPO_INET.$oi" || return 1
	done
	T_NS[Hostile]=evil T_ADDR[Hostile]=$TOPO_HOSTILE_ADDR T_ROLE[Hostile]=hostile
	_topo_hosts || return 1
	for s in $TOPO_SITES; do
		topo_fw_rules "$s" >"$NS_WORK/fw$s.nft"
		ns_nft "$(topo_fw "$s")" "$NS_WORK/fw$s.nft" || {
			echo "topology.sh: loading $NS_WORK/fw$s.nft failed" >&2
			return 1
		}
	done
}

# Per-namespace /etc/hosts: every node knows its own site and the exposed
# hosts; the hostile host knows the exposed hosts.
_topo_hosts() {
	local h s o n
	for h in "${!T_NS[@]}"; do
		s=${T_SITE[$h]:-}
		{
			echo "127.0.0.1 localhost"
			for o in $TOPO_SITES; do
				echo "${T_ADDR[SS$o]} SS$o"
				[ "$o" = "$s" ] || continue
				for n in 1 2 3; do
					echo "${T_ADDR[Site${o}_host$n]} Site${o}_host$n"
				done
				echo "$(topo_lan "$o").1 fw$o"
			done
			[ "${T_ROLE[$h]}" = hostile ] && echo "$TOPO_HOSTILE_ADDR Hostile"
		} | ns_hosts "${T_NS[$h]}" || return 1
	done
}

# topo_fw_rules SITE: the nft ruleset of SITE's firewall on stdout.
# Interfaces: lan (site LAN), dmz (the exposed host), wan (internet).
topo_fw_rules() {
	local s=$1 o peers="" all=""
	local e=${T_ADDR[SS$s]} lan dmz
	lan=$(topo_lan "$s").0/24 dmz=$(topo_dmz "$s").0/24
	for o in $TOPO_SITES; do
		all="$all${all:+, }${T_ADDR[SS$o]}"
		[ "$o" = "$s" ] || peers="$peers${peers:+, }${T_ADDR[SS$o]}"
	done
	local ports="$TOPO_MIN-$TOPO_MAX"
	if [ "$TOPO_LISTEN" -lt "$TOPO_MIN" ] || [ "$TOPO_LISTEN" -gt "$TOPO_MAX" ]; then
		ports="$ports, $TOPO_LISTEN"
	fi
	cat <<EOF
# Firewall of site $s: LAN $lan on "lan", exposed host SS$s ($e) on "dmz",
# the internet on "wan". Generated by tests/lib/topology.sh.
table inet $TOPO_TABLE {
	# Who may come in from the internet: the peer exposed hosts only.
	set exposed_peers {
		type ipv4_addr
		elements = { $peers }
	}
	# shipd's port range (CLEARCASE_MIN_PORT..MAX_PORT) plus its listen port.
	set shipd_ports {
		type inet_service
		flags interval
		elements = { $ports }
	}
	# Protocols admitted to the exposed host (the UDP-only check drops tcp).
	set to_exposed_protos {
		type inet_proto
		elements = { tcp, udp }
	}
	# Every new flow admitted, as proto . saddr . sport . daddr . dport.
	set flows {
		type inet_proto . ipv4_addr . inet_service . ipv4_addr . inet_service
		flags dynamic
		size 65535
	}
	counter admitted { }
	counter drop_shipd { comment "dropped packets to a shipd port" }
	counter drop_wan_in { comment "from the internet" }
	counter drop_lan_out { comment "replica hosts towards the internet" }
	counter drop_lan_other { comment "replica hosts, anything else" }
	counter drop_dmz { comment "exposed host, not to a peer shipd port" }
	counter drop_other { }
	counter drop_input { comment "to the firewall itself" }

	chain input {
		type filter hook input priority filter; policy drop;
		iif "lo" accept
		ct state established,related accept
		counter name drop_input drop
	}
	chain output {
		type filter hook output priority filter; policy accept;
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		ct state invalid jump refuse
		meta l4proto != { tcp, udp } jump refuse
		# Site LAN -> own exposed host, shipd ports only.
		iifname "lan" oifname "dmz" ip saddr $lan ip daddr $e meta l4proto @to_exposed_protos th dport @shipd_ports jump admit
		# Own exposed host -> site LAN (delivery to the replica hosts).
		iifname "dmz" oifname "lan" ip saddr $e ip daddr $lan th dport @shipd_ports jump admit
		# Own exposed host -> the peer exposed hosts.
		iifname "dmz" oifname "wan" ip saddr $e ip daddr @exposed_peers th dport @shipd_ports jump admit
		# The peer exposed hosts -> own exposed host; nothing else comes in.
		iifname "wan" oifname "dmz" ip saddr @exposed_peers ip daddr $e meta l4proto @to_exposed_protos th dport @shipd_ports jump admit
		jump refuse
	}
	chain admit {
		add @flows { meta l4proto . ip saddr . th sport . ip daddr . th dport }
		counter name admitted accept
	}
	chain refuse {
		meta l4proto { tcp, udp } th dport @shipd_ports counter name drop_shipd
		iifname "wan" counter name drop_wan_in drop
		iifname "lan" oifname "wan" counter name drop_lan_out drop
		iifname "lan" counter name drop_lan_other drop
		iifname "dmz" counter name drop_dmz drop
		counter name drop_other drop
	}
}
EOF
}

# topo_fw_open SITE ADDR / topo_fw_close SITE ADDR: admit (or no longer)
# ADDR from the internet as if it were a peer exposed host.
topo_fw_open() { ns_exec "$(topo_fw "$1")" nft add element inet $TOPO_TABLE exposed_peers "{ $2 }"; }
topo_fw_close() { ns_exec "$(topo_fw "$1")" nft delete element inet $TOPO_TABLE exposed_peers "{ $2 }"; }

# topo_fw_tcp SITE on|off: admit TCP to the exposed host or drop it (UDP stays).
topo_fw_tcp() {
	local verb=add
	[ "$2" = off ] && verb=delete
	ns_exec "$(topo_fw "$1")" nft $verb element inet $TOPO_TABLE to_exposed_protos "{ tcp }"
}

# topo_fw_counter SITE NAME: packets counted by one of SITE's firewall counters.
topo_fw_counter() { ns_counter "$(topo_fw "$1")" $TOPO_TABLE "$2"; }

# topo_fw_drops SITE: the sum of every drop_* counter except drop_shipd
# (which double-counts), and drop_shipd, as "TOTAL SHIPD".
topo_fw_drops() {
	ns_exec "$(topo_fw "$1")" nft -j list counters table inet $TOPO_TABLE 2>/dev/null |
		jq -r '[.nftables[] | select(.counter) | .counter] as $c |
			"\([$c[] | select(.name | startswith("drop_")) | select(.name != "drop_shipd") | .packets] | add) \([$c[] | select(.name == "drop_shipd") | .packets] | add)"'
}

# topo_fw_flows SITE: the flows SITE's firewall admitted, one a line:
# "PROTO SADDR SPORT DADDR DPORT". topo_fw_flush_flows SITE forgets them.
topo_fw_flows() {
	ns_set_elems "$(topo_fw "$1")" $TOPO_TABLE flows | awk '{
		p = $1; if (p == "6") p = "tcp"; else if (p == "17") p = "udp"; $1 = p; print }'
}
topo_fw_flush_flows() { ns_exec "$(topo_fw "$1")" nft flush set inet $TOPO_TABLE flows; }

# topo_port_ok PORT: inside the range or the listen port.
topo_port_ok() {
	[ "$1" -ge "$TOPO_MIN" ] && [ "$1" -le "$TOPO_MAX" ] && return 0
	[ "$1" -eq "$TOPO_LISTEN" ]
}

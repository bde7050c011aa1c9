/*
 * firewall.c - "shipctl firewall [--iptables | --ip6tables]": print the
 * packet filter this node's shipping.conf needs, as nftables text (an
 * "inet shipd" table) or as iptables-restore text.
 *
 * Offers cmd_firewall(). Inbound: TCP and UDP to the LISTEN port and to
 * the CLEARCASE_MIN_PORT..MAX_PORT range are accepted only from the PEERs'
 * addresses (host names resolved now, with getaddrinfo) and the ALLOW
 * list; other new traffic to those ports is counted and dropped.
 * Outbound: traffic leaving from the range goes to the PEERs only.
 * Without a range, ephemeral ports cannot be described: it says so loudly
 * and guards the listening port alone.
 *
 * Prints text only: never loads rules, never touches the spool; the only
 * network traffic is the name lookups of PEER host names.
 */
#include "shipctl.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nets {
	struct cidr *v;
	int n;
};

/* Clear the host bits: nft refuses 10.0.0.1/8, and it would mislead. */
static void
cidr_mask(struct cidr *c)
{
	int len = c->family == AF_INET ? 4 : 16;

	for (int i = 0; i < len; i++) {
		int keep = c->prefix - i * 8;

		if (keep <= 0)
			c->addr[i] = 0;
		else if (keep < 8)
			c->addr[i] &= 0xff << (8 - keep);
	}
}

/* Does a cover b (same family, shorter or equal prefix, same leading bits)? */
static int
cidr_covers(const struct cidr *a, const struct cidr *b)
{
	int bytes = a->prefix / 8, rest = a->prefix % 8;

	if (a->family != b->family || a->prefix > b->prefix)
		return 0;
	if (memcmp(a->addr, b->addr, bytes) != 0)
		return 0;
	return rest == 0 || ((a->addr[bytes] ^ b->addr[bytes]) & (0xff << (8 - rest))) == 0;
}

/* Add c unless something already there covers it; drop what it covers. */
static void
nets_add(struct nets *s, struct cidr c)
{
	int j = 0;

	cidr_mask(&c);
	for (int i = 0; i < s->n; i++)
		if (cidr_covers(&s->v[i], &c))
			return;
	for (int i = 0; i < s->n; i++)
		if (!cidr_covers(&c, &s->v[i]))
			s->v[j++] = s->v[i];
	s->n = j;
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = c;
}

static void
cidr_fmt(const struct cidr *c, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];
	int full = c->family == AF_INET ? 32 : 128;

	inet_ntop(c->family, c->addr, a, sizeof(a));
	if (c->prefix == full)
		snprintf(buf, size, "%s", a);
	else
		snprintf(buf, size, "%s/%d", a, c->prefix);
}

static int
nets_count(const struct nets *s, int family)
{
	int n = 0;

	for (int i = 0; i < s->n; i++)
		n += s->v[i].family == family;
	return n;
}

/*
 * Every address of every PEER (literal, or resolved now). On a lookup
 * failure: one line naming the PEER's file:line, and 65 (the name does
 * not exist) or 75 (the resolver could not answer: try again).
 */
static int
resolve_peers(const struct config *cf, struct nets *out)
{
	for (int i = 0; i < cf->npeers; i++) {
		const struct peer *p = &cf->peers[i];
		struct addrinfo hints, *res, *ai;
		struct cidr c;
		int e;

		if (p->host == NULL)
			continue;		/* KEY-only: never connects here directly */
		if (cidr_parse(p->host, &c) == 0) {
			nets_add(out, c);
			continue;
		}
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		if ((e = getaddrinfo(p->host, NULL, &hints, &res)) != 0) {
			fprintf(stderr, "shipctl: firewall: %s:%d: PEER %s: cannot resolve %s: %s\n",
				p->file ? p->file : cf->path, p->line, p->name, p->host,
				gai_strerror(e));
			return e == EAI_AGAIN ? EX_TEMPFAIL : EX_DATAERR;
		}
		for (ai = res; ai; ai = ai->ai_next) {
			memset(&c, 0, sizeof(c));
			c.family = ai->ai_family;
			if (ai->ai_family == AF_INET) {
				memcpy(c.addr, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
				c.prefix = 32;
			} else if (ai->ai_family == AF_INET6) {
				memcpy(c.addr, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
				c.prefix = 128;
			} else
				continue;
			nets_add(out, c);
		}
		freeaddrinfo(res);
	}
	return EX_OK;
}

struct fw {
	const struct config *cf;
	struct nets allowed;		/* may connect in: peers + ALLOW */
	struct nets peers;		/* may be sent to: peers */
	char ports[64];			/* nft: "4590, 49152-49200" */
	char range[32];			/* nft: "49152-49200", or "" */
	int nports;
};

static void
nft_set(const struct fw *f, const char *name, const struct nets *s, int family,
	const char *comment)
{
	char a[INET6_ADDRSTRLEN + 8];
	int first = 1;

	printf("\t# %s\n", comment);
	printf("\tset %s_v%d {\n\t\ttype %s\n\t\tflags interval\n", name,
	       family == AF_INET ? 4 : 6, family == AF_INET ? "ipv4_addr" : "ipv6_addr");
	if (nets_count(s, family)) {
		printf("\t\telements = {");
		for (int i = 0; i < s->n; i++) {
			if (s->v[i].family != family)
				continue;
			cidr_fmt(&s->v[i], a, sizeof(a));
			printf("%s %s", first ? "" : ",", a);
			first = 0;
		}
		printf(" }\n");
	}
	printf("\t}\n");
}

static void
print_nft(const struct fw *f)
{
	const struct config *cf = f->cf;

	printf("#!/usr/sbin/nft -f\n"
	       "# shipd firewall for node %s, written by `shipctl firewall` from %s.\n"
	       "# Load it with `nft -f FILE` (as root). It replaces the table \"inet shipd\"\n"
	       "# as a whole, so loading it again after a change is safe, and\n"
	       "# `nft delete table inet shipd` removes it. Other tables are not touched:\n"
	       "# where another table drops by policy, admit these ports there too.\n",
	       cf->node ? cf->node : "?", cf->path ? cf->path : "?");
	if (!f->range[0])
		printf("#\n"
		       "# WARNING: no CLEARCASE_MIN_PORT/CLEARCASE_MAX_PORT in the configuration:\n"
		       "# shipd's senders and UDP sessions use ephemeral ports, which no rule can\n"
		       "# describe. Only the listening port is guarded below. Set a range (e.g.\n"
		       "# 49152-49200: 2 ports per sender and receiver, with room to spare) to\n"
		       "# firewall the rest.\n");
	else
		printf("#\n"
		       "# Keep other programs' ephemeral ports out of the range, or they fall\n"
		       "# under these rules (shipd binds its ports explicitly, which is allowed):\n"
		       "#   sysctl -w net.ipv4.ip_local_reserved_ports=%s\n", f->range);
	printf("\ntable inet shipd\ndelete table inet shipd\n");
	if (f->nports == 0) {
		printf("# Nothing to guard: no LISTEN and no port range.\n");
		return;
	}
	printf("\ntable inet shipd {\n");
	nft_set(f, "allowed", &f->allowed, AF_INET,
		"who may connect to shipd: every PEER's address (host names as resolved\n"
		"\t# now: run this again when a peer moves) and the ALLOW list");
	nft_set(f, "allowed", &f->allowed, AF_INET6, "the same, IPv6");
	if (f->range[0]) {
		nft_set(f, "peers", &f->peers, AF_INET,
			"where shipd's senders go: every PEER's address");
		nft_set(f, "peers", &f->peers, AF_INET6, "the same, IPv6");
	}
	printf("\n\tchain input {\n"
	       "\t\ttype filter hook input priority filter; policy accept;\n"
	       "\t\t# replies within connections already admitted\n"
	       "\t\tct state established,related accept\n"
	       "\t\t# shipd's %s, TCP and UDP (the fallback), from allowed addresses\n"
	       "\t\tmeta l4proto { tcp, udp } th dport { %s } ip saddr @allowed_v4 counter accept\n"
	       "\t\tmeta l4proto { tcp, udp } th dport { %s } ip6 saddr @allowed_v6 counter accept\n"
	       "\t\t# anything else new to those ports: counted and dropped\n"
	       "\t\tmeta l4proto { tcp, udp } th dport { %s } counter drop\n"
	       "\t}\n",
	       cf->listen_addr && f->range[0] ? "listening port and port range"
	       : cf->listen_addr ? "listening port" : "port range",
	       f->ports, f->ports, f->ports);
	if (f->range[0])
		printf("\n\tchain output {\n"
		       "\t\ttype filter hook output priority filter; policy accept;\n"
		       "\t\tct state established,related accept\n"
		       "\t\t# shipd's senders and UDP sessions leave from the range, to peers only\n"
		       "\t\tmeta l4proto { tcp, udp } th sport %s ip daddr @peers_v4 counter accept\n"
		       "\t\tmeta l4proto { tcp, udp } th sport %s ip6 daddr @peers_v6 counter accept\n"
		       "\t\t# nothing else leaves from shipd's range\n"
		       "\t\tmeta l4proto { tcp, udp } th sport %s counter drop\n"
		       "\t}\n", f->range, f->range, f->range);
	printf("}\n");
}

static void
print_iptables(const struct fw *f, int family)
{
	const struct config *cf = f->cf;
	const char *prog = family == AF_INET ? "iptables" : "ip6tables";
	char dports[64], sports[32], a[INET6_ADDRSTRLEN + 8];
	static const char *proto[] = {"tcp", "udp"};

	/* iptables spells a range MIN:MAX and a list with commas */
	snprintf(dports, sizeof(dports), "%s", f->ports);
	for (char *p = dports, *q = dports;; p++) {
		if (*p == ' ')
			continue;
		if ((*q++ = *p == '-' ? ':' : *p) == 0)
			break;
	}
	snprintf(sports, sizeof(sports), "%d:%d", cf->min_port, cf->max_port);

	printf("# shipd firewall for node %s (%s), written by `shipctl firewall --%s`\n"
	       "# from %s. Load it with `%s-restore --noflush FILE` (as root): it\n"
	       "# refills the chains SHIPD-IN and SHIPD-OUT and puts a jump to each first\n"
	       "# in INPUT and OUTPUT; before loading it again, remove the old jumps with\n"
	       "# `%s -D INPUT -j SHIPD-IN; %s -D OUTPUT -j SHIPD-OUT`.\n",
	       cf->node ? cf->node : "?", family == AF_INET ? "IPv4" : "IPv6", prog,
	       cf->path ? cf->path : "?", prog, prog, prog);
	if (!f->range[0])
		printf("#\n# WARNING: no CLEARCASE_MIN_PORT/CLEARCASE_MAX_PORT: shipd's senders and\n"
		       "# UDP sessions use ephemeral ports, which no rule can describe. Only the\n"
		       "# listening port is guarded below.\n");
	else
		printf("#\n# Keep other programs' ephemeral ports out of the range:\n"
		       "#   sysctl -w net.ipv4.ip_local_reserved_ports=%s\n", f->range);
	printf("*filter\n:SHIPD-IN - [0:0]\n:SHIPD-OUT - [0:0]\n");
	if (f->nports) {
		printf("# replies within admitted connections go on to the host's own rules\n"
		       "-A SHIPD-IN -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN\n"
		       "# shipd's ports (%s), TCP and UDP, from the PEERs and the ALLOW list\n", dports);
		for (int i = 0; i < f->allowed.n; i++) {
			if (f->allowed.v[i].family != family)
				continue;
			cidr_fmt(&f->allowed.v[i], a, sizeof(a));
			for (int p = 0; p < 2; p++)
				printf("-A SHIPD-IN -s %s -p %s -m multiport --dports %s -j ACCEPT\n",
				       a, proto[p], dports);
		}
		printf("# anything else new to those ports: dropped (iptables -L -v counts it)\n");
		for (int p = 0; p < 2; p++)
			printf("-A SHIPD-IN -p %s -m multiport --dports %s -j DROP\n", proto[p], dports);
	}
	if (f->range[0]) {
		printf("-A SHIPD-OUT -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN\n"
		       "# shipd's senders and UDP sessions leave from the range, to peers only\n");
		for (int i = 0; i < f->peers.n; i++) {
			if (f->peers.v[i].family != family)
				continue;
			cidr_fmt(&f->peers.v[i], a, sizeof(a));
			for (int p = 0; p < 2; p++)
				printf("-A SHIPD-OUT -d %s -p %s --sport %s -j ACCEPT\n", a, proto[p], sports);
		}
		printf("# nothing else leaves from shipd's range\n");
		for (int p = 0; p < 2; p++)
			printf("-A SHIPD-OUT -p %s --sport %s -j DROP\n", proto[p], sports);
	}
	printf("-I INPUT 1 -j SHIPD-IN\n-I OUTPUT 1 -j SHIPD-OUT\nCOMMIT\n");
}

/*
 * Warn when this host's ephemeral ports overlap the range and are not
 * reserved: the output chain would then drop other programs' traffic.
 */
static void
check_ephemeral(int min, int max)
{
	char buf[4096], *p, *end;
	int lo, hi;
	FILE *f;

	if ((f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) == NULL)
		return;
	if (fscanf(f, "%d %d", &lo, &hi) != 2 || hi < min || lo > max) {
		fclose(f);
		return;
	}
	fclose(f);
	if ((f = fopen("/proc/sys/net/ipv4/ip_local_reserved_ports", "r")) != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL)
			for (p = buf; *p && *p != '\n';) {
				long a = strtol(p, &end, 10), b = a;

				if (end == p)
					break;
				if (*end == '-')
					b = strtol(end + 1, &end, 10);
				if (a <= (lo > min ? lo : min) && b >= (hi < max ? hi : max)) {
					fclose(f);
					return;		/* the overlap is reserved */
				}
				p = *end == ',' ? end + 1 : end;
			}
		fclose(f);
	}
	fprintf(stderr, "shipctl: firewall: warning: this host's ephemeral ports (%d-%d) overlap "
		"the range %d-%d: reserve it (sysctl -w net.ipv4.ip_local_reserved_ports=%d-%d) "
		"or other programs' traffic from it is dropped\n", lo, hi, min, max, min, max);
}

static int
usage(void)
{
	fprintf(stderr, "usage: shipctl [-c CONF] firewall [--iptables | --ip6tables]\n");
	return EX_USAGE;
}

VERB(firewall)
{
	struct fw f;
	int family = 0, rc;

	if (argc > 2)
		return usage();
	if (argc == 2) {
		if (strcmp(argv[1], "--iptables") == 0)
			family = AF_INET;
		else if (strcmp(argv[1], "--ip6tables") == 0)
			family = AF_INET6;
		else
			return usage();
	}
	memset(&f, 0, sizeof(f));
	f.cf = ctl_config(c);
	if ((rc = resolve_peers(f.cf, &f.peers)) != EX_OK) {
		free(f.peers.v);
		return rc;
	}
	for (int i = 0; i < f.peers.n; i++)
		nets_add(&f.allowed, f.peers.v[i]);
	for (int i = 0; i < f.cf->nallow; i++)
		nets_add(&f.allowed, f.cf->allow[i]);

	if (f.cf->listen_addr) {
		snprintf(f.ports, sizeof(f.ports), "%d", f.cf->listen_port);
		f.nports++;
	}
	if (f.cf->min_port > 0 && f.cf->max_port > f.cf->min_port) {
		snprintf(f.range, sizeof(f.range), "%d-%d", f.cf->min_port, f.cf->max_port);
		snprintf(f.ports + strlen(f.ports), sizeof(f.ports) - strlen(f.ports), "%s%s",
			 f.nports ? ", " : "", f.range);
		f.nports++;
		check_ephemeral(f.cf->min_port, f.cf->max_port);
	} else
		fprintf(stderr, "shipctl: firewall: warning: %s: no CLEARCASE_MIN_PORT/"
			"CLEARCASE_MAX_PORT: ephemeral ports cannot be firewalled; %s\n",
			f.cf->path, f.cf->listen_addr ? "only the listening port is guarded"
			: "and without LISTEN there is nothing to guard");
	if (f.nports && f.allowed.n == 0)
		fprintf(stderr, "shipctl: firewall: warning: %s: no PEER and no ALLOW: "
			"every new connection to shipd's ports is dropped\n", f.cf->path);
	if (family && f.nports && nets_count(&f.allowed, family == AF_INET ? AF_INET6 : AF_INET))
		fprintf(stderr, "shipctl: firewall: note: addresses of the other family are "
			"left out: see --%s\n", family == AF_INET ? "ip6tables" : "iptables");

	if (family)
		print_iptables(&f, family);
	else
		print_nft(&f);
	free(f.peers.v);
	free(f.allowed.v);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		perror("shipctl: firewall: writing output");
		return EX_TEMPFAIL;
	}
	return EX_OK;
}

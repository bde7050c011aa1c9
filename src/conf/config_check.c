/*
 * config_check.c - the check mode (after `postfix check` and `smtpd -n`):
 * print the effective configuration, then what a parse cannot see: ROUTE
 * next hops that are not PEERs, a destination routed two ways, routes for
 * this node, cyclic delivery routes, placeholder keys, PEER addresses
 * nothing can connect to, and for every node this one ships to or takes
 * packets from, how their signatures will be checked (a pinned key, an
 * authority's certificate, or nothing: then a warning names the line to
 * add).
 *
 * Offers config_check(). Problems are "file:line: message" lines and are
 * counted; warnings ("file:line: warning: ...") are printed, not counted.
 * Never prints a secret (a peer shows a 16-character key fingerprint) and
 * reads nothing but whether the key file exists and the (public)
 * certificate CERT-FILE. Work is O(n log n) in the
 * number of names, so no file can make it hang.
 */
#include "config.h"
#include "../crypto/cert.h"
#include "../util/safefile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define COL		24	/* label column width */
#define FPR_LEN		16	/* key fingerprint: the key string's first 16 chars */
#define CYCLE_SHOW	12	/* longest cycle spelled out in full */
#define PLACEHOLDER	"PLACEHOLDER"	/* marks the example keys in conf/examples */

struct problem {
	int line;		/* 0: the file as a whole */
	int seq;		/* report order, to keep qsort stable */
	int warning;
	char *msg;
};

struct report {
	const struct config *cf;
	struct problem *v;
	int n, cap;
};

/* One occurrence of a name as a ROUTE destination. */
struct rdest {
	const char *name;
	int route;
};

/* Every distinct name: destinations, next hops, PEERs and KEYs. */
struct name {
	const char *name;
	int route;		/* first ROUTE listing it as a destination, or -1 */
	const struct peer *peer;
	const char *next_hop;	/* as config_next_hop() resolves it */
	int next;		/* index of the next hop in names[], -1: the walk ends here */
	int state;		/* cycle search: 0 new, 1 on the current walk, 2 done */
	int walk;
};

static void PRINTF(4, 5)
report(struct report *r, int line, int warning, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg_fatal("out of memory formatting a problem");
	va_end(ap);
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
	}
	r->v[r->n] = (struct problem){line, r->n, warning, msg};
	r->n++;
}

static int
problem_cmp(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int
is_node(const struct config *cf, const char *name)
{
	return cf->node && strcmp(cf->node, name) == 0;
}

static const char *
size_str(uint64_t v, char *buf, size_t size)
{
	static const struct { char suffix; uint64_t mult; } u[] = {
		{'g', 1ULL << 30}, {'m', 1ULL << 20}, {'k', 1ULL << 10},
	};

	if (v == 0) {
		snprintf(buf, size, "0");
		return buf;
	}
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (v % u[i].mult == 0) {
			snprintf(buf, size, "%llu%c", (unsigned long long)(v / u[i].mult), u[i].suffix);
			return buf;
		}
	snprintf(buf, size, "%llu bytes", (unsigned long long)v);
	return buf;
}

static const char *
dur_str(int s, char *buf, size_t size)
{
	if (s > 0 && s % 86400 == 0)
		snprintf(buf, size, "%dd", s / 86400);
	else if (s > 0 && s % 3600 == 0)
		snprintf(buf, size, "%dh", s / 3600);
	else if (s > 0 && s % 60 == 0)
		snprintf(buf, size, "%dm", s / 60);
	else
		snprintf(buf, size, "%ds", s);
	return buf;
}

static const char *
cidr_str(const struct cidr *c, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(c->family, c->addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(buf, size, "%s/%d", a, c->prefix);
	return buf;
}

static const char *
hostport_str(const char *host, int port, char *buf, size_t size)
{
	snprintf(buf, size, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
	return buf;
}

static int
rdest_cmp(const void *a, const void *b)
{
	const struct rdest *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->route > y->route) - (x->route < y->route);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
peer_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct peer *const *)a)->name, (*(const struct peer *const *)b)->name);
}

static const struct peer *
peer_find(const struct peer **sorted, int n, const char *name)
{
	struct peer key = {.name = (char *)name};
	const struct peer *kp = &key, **hit;

	hit = bsearch(&kp, sorted, n, sizeof(*sorted), peer_cmp);
	return hit ? *hit : NULL;
}

static int
name_find(const struct name *names, int n, const char *s)
{
	int lo = 0, hi = n - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2, c = strcmp(names[mid].name, s);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* The first ROUTE (in file order) naming s as a destination, or -1. */
static int
route_find(const struct rdest *rd, int n, const char *s)
{
	int lo = 0, hi = n - 1, found = -1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2, c = strcmp(rd[mid].name, s);

		if (c == 0)
			found = mid;
		if (c >= 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return found < 0 ? -1 : rd[found].route;
}

static void
print_settings(const struct config *cf, FILE *out)
{
	char a[128], b[128];

	fprintf(out, "# effective configuration of %s\n", cf->path);
	fprintf(out, "%-*s %s\n", COL, "node", cf->node ? cf->node : "(unset)");
	if (cf->listen_addr)
		fprintf(out, "%-*s %s\n", COL, "listen",
			hostport_str(cf->listen_addr, cf->listen_port, a, sizeof(a)));
	else
		fprintf(out, "%-*s %s\n", COL, "listen", "none: sends only, never accepts");
	if (cf->min_port)
		fprintf(out, "%-*s %d-%d (%d ports)\n", COL, "port range", cf->min_port,
			cf->max_port, cf->max_port - cf->min_port + 1);
	else
		fprintf(out, "%-*s %s\n", COL, "port range", "none: ephemeral ports");
	fprintf(out, "%-*s %s\n", COL, "spool", cf->spool ? cf->spool : "(unset)");
	fprintf(out, "%-*s %s\n", COL, "key file", cf->key_file ? cf->key_file : "(unset)");
	fprintf(out, "%-*s %s\n", COL, "administrator", cf->administrator ? cf->administrator : "(unset)");
	fprintf(out, "%-*s %s\n", COL, "notification program",
		cf->notify_program ? cf->notify_program : "none: log only");
	fprintf(out, "%-*s %s\n", COL, "max data size", size_str(cf->max_data_size, a, sizeof(a)));
	fprintf(out, "%-*s %d days\n", COL, "expiration", cf->expiration_days);
	fprintf(out, "%-*s %d senders, %d receivers\n", COL, "children",
		cf->max_children, cf->max_receivers);
	fprintf(out, "%-*s %s .. %s\n", COL, "retry", dur_str(cf->retry_min, a, sizeof(a)),
		dur_str(cf->retry_max, b, sizeof(b)));
	fprintf(out, "%-*s %d at once, %d per source address, each within %s\n", COL,
		"handshakes", cf->max_handshakes, cf->max_handshakes_per_source,
		dur_str(cf->handshake_timeout, a, sizeof(a)));
	fprintf(out, "%-*s %s\n", COL, "io timeout", dur_str(cf->io_timeout, a, sizeof(a)));
	fprintf(out, "%-*s %s\n", COL, "connect timeout", dur_str(cf->connect_timeout, a, sizeof(a)));
	fprintf(out, "%-*s %s\n", COL, "bay size limit",
		cf->bay_size_limit ? size_str(cf->bay_size_limit, a, sizeof(a)) : "none");
	fprintf(out, "%-*s %s\n", COL, "min free disk", size_str(cf->min_free_disk, a, sizeof(a)));
	fprintf(out, "%-*s %s\n", COL, "drop quiet time", dur_str(cf->drop_quiet, a, sizeof(a)));
	fprintf(out, "%-*s %d days\n", COL, "history", cf->history_days);
	fprintf(out, "%-*s %s\n", COL, "log", cf->log_dest ? cf->log_dest : "syslog");
	fprintf(out, "%-*s %s\n", COL, "user", cf->spool_user ? cf->spool_user : "none: runs as started");
	fprintf(out, "%-*s %s\n", COL, "submit-socket", cf->submit_socket ? cf->submit_socket :
		"none: shipctl submit seals in process");
	fprintf(out, "%-*s %s\n", COL, "submit-group", cf->submit_group ? cf->submit_group :
		"none: root and USER only");
	fprintf(out, "%-*s %s\n", COL, "certificate", cf->cert_file ? cf->cert_file : "none");
	fprintf(out, "%-*s %s\n", COL, "trust dir", cf->trust_dir ? cf->trust_dir : "(unset)");
	fprintf(out, "%-*s", COL, "authorities");
	if (cf->nauth == 0)
		fprintf(out, " none: every key is pinned (PEER, KEY, KEYS-DIR)");
	for (int i = 0; i < cf->nauth; i++) {
		char hex[AUTH_ID_HEX];

		cert_id_hex(cf->auth[i].id, hex);
		if (cf->auth[i].line)
			fprintf(out, " %s (line %d)", hex, cf->auth[i].line);
		else
			fprintf(out, " %s (KEYS-DIR)", hex);
	}
	fprintf(out, "\n");
}

/* ALLOW entries, four to a line under the label. */
static void
print_allow(const struct config *cf, FILE *out)
{
	char a[80];

	fprintf(out, "%-*s", COL, "allow");
	if (cf->nallow == 0)
		fprintf(out, " nobody (no PEER address, no ALLOW)");
	for (int i = 0; i < cf->nallow; i++) {
		if (i && i % 4 == 0)
			fprintf(out, "\n%-*s", COL, "");
		fprintf(out, " %s", cidr_str(&cf->allow[i], a, sizeof(a)));
	}
	fprintf(out, "\n");
}

static void
print_classes(const struct config *cf, FILE *out)
{
	for (int i = 0; i < cf->nclasses; i++) {
		const struct sclass *c = &cf->classes[i];

		fprintf(out, "class %s\n", c->name);
		for (int b = 0; b < c->bays.n; b++)
			fprintf(out, "  %-*s %s\n", COL - 2, b ? "" : "bays", c->bays.v[b]);
		fprintf(out, "  %-*s %s\n", COL - 2, "return bay", c->return_bay);
		fprintf(out, "  %-*s %d days\n", COL - 2, "expiration", c->expiration_days);
		fprintf(out, "  %-*s %s\n", COL - 2, "receipt handler",
			c->receipt_handler ? c->receipt_handler : "none");
		fprintf(out, "  %-*s %04o\n", COL - 2, "deliver mode", (unsigned)c->deliver_mode);
	}
	fprintf(out, "note: packets of a class not defined here are stored in class %s "
		"(relayed, or delivered into its incoming/)\n", DEFAULT_CLASS);
}

static void
print_peers(const struct config *cf, FILE *out)
{
	char key[PUBKEY_STRLEN], hp[320];

	fprintf(out, "peers:%s\n", cf->npeers ? "" : " none");
	for (int i = 0; i < cf->npeers; i++) {
		const struct peer *p = &cf->peers[i];

		pubkey_format(&p->key, key);
		key[FPR_LEN] = 0;
		fprintf(out, "  %-*s %-28s ", COL - 2, p->name,
			p->host ? hostport_str(p->host, p->port, hp, sizeof(hp)) :
			p->dir ? p->dir : "KEY only: via ROUTE");
		if (p->has_key)
			fprintf(out, "key %s...\n", key);
		else
			fprintf(out, "%s\n", cf->nauth ? "key from its certificate" : "no key");
	}
}

/* The next hop of each name, the same answer config_next_hop() gives. */
static const char *
resolve(const struct config *cf, const struct name *nm)
{
	if (is_node(cf, nm->name))
		return cf->node;
	if (nm->route >= 0)
		return cf->routes[nm->route].next_hop;
	if (nm->peer && PEER_REACHABLE(nm->peer))
		return nm->name;
	return NULL;
}

static void
print_destinations(const struct config *cf, const struct name *names, int n, FILE *out)
{
	char hp[320];

	fprintf(out, "destinations:%s\n", n ? "" : " none");
	for (int i = 0; i < n; i++) {
		const struct name *nm = &names[i];

		fprintf(out, "  %-*s ", COL - 2, nm->name);
		if (is_node(cf, nm->name))
			fprintf(out, "this node\n");
		else if (nm->next_hop == NULL)
			fprintf(out, "UNROUTABLE\n");
		else if (nm->route < 0 && nm->peer->dir)
			fprintf(out, "direct through directory %s\n", nm->peer->dir);
		else if (nm->route < 0)	/* no ROUTE: only a PEER with an address resolves */
			fprintf(out, "direct to %s\n",
				hostport_str(nm->peer->host, nm->peer->port, hp, sizeof(hp)));
		else
			fprintf(out, "via %s (ROUTE at line %d)\n", nm->next_hop,
				cf->routes[nm->route].line);
	}
}

/*
 * How the signatures of each node this one ships to or takes packets from
 * will be checked: every ROUTE destination (on a relay, also an origin it
 * forwards for), PEER and KEY.
 */
static void
print_keys(struct report *r, const struct name *names, int n, FILE *out)
{
	const struct config *cf = r->cf;
	char hex[AUTH_ID_HEX] = "";

	if (cf->nauth)
		cert_id_hex(cf->auth[0].id, hex);
	fprintf(out, "keys:%s\n", n ? "" : " none");
	for (int i = 0; i < n; i++) {
		const struct name *nm = &names[i];
		const struct peer *p = nm->peer;
		int line = nm->route >= 0 ? cf->routes[nm->route].line : p ? p->line : 0;

		if (is_node(cf, nm->name))
			continue;
		fprintf(out, "  %-*s ", COL - 2, nm->name);
		if (p && p->has_key)
			fprintf(out, "pinned key (%s line %d)\n", p->host ? "PEER" : "KEY", p->line);
		else if (cf->nauth)
			fprintf(out, "certificate of authority %s%s\n", hex,
				cf->nauth > 1 ? " or another AUTHORITY" : "");
		else {
			fprintf(out, "NONE: its packets are refused here\n");
			if (config_is_pattern(nm->name))
				report(r, line, 0, "%s names nodes by pattern, which only an AUTHORITY "
				       "can certify: add an AUTHORITY line", nm->name);
			else
				report(r, line, 1, "no way to check the signature of %s: its packets "
				       "are refused here (\"unknown origin\") and nothing can be sealed "
				       "for it; add `KEY %s shipd1:...` (what `shipctl pubkey` prints on "
				       "%s), or an AUTHORITY line for the authority that certifies it",
				       nm->name, nm->name, nm->name);
		}
	}
}

/* CERT-FILE: there, a certificate, for this node, not expired, from an authority. */
static void
check_cert_file(struct report *r)
{
	const struct config *cf = r->cf;

	for (int i = 0; i < cf->nauth; i++) {
		char key[PUBKEY_STRLEN];

		pubkey_format(&cf->auth[i].key, key);
		if (strstr(key, PLACEHOLDER))
			report(r, cf->auth[i].line, 0, "AUTHORITY: the key is an example placeholder; "
			       "paste the AUTHORITY line `shipctl authority init` printed");
	}
	struct cert c;
	char *text, t[24], hex[AUTH_ID_HEX];
	size_t len;

	if (cf->cert_file == NULL)
		return;
	if ((text = read_file(cf->cert_file, 4096, &len)) == NULL) {
		report(r, 0, 0, "CERT-FILE: %s (on the authority's host: shipctl certify "
		       "%s.pub --name %s)", err_get(), cf->key_file ? cf->key_file :
		       "shipd.key", cf->node ? cf->node : "NODE");
		return;
	}
	if (cert_file_parse(text, len, &c) < 0) {
		report(r, 0, 0, "CERT-FILE %s: %s", cf->cert_file, err_get());
		free(text);
		return;
	}
	free(text);
	cert_id_hex(c.authority, hex);
	if (cf->node && strcmp(c.name, cf->node) != 0)
		report(r, 0, 0, "CERT-FILE %s certifies %s, not this node %s", cf->cert_file,
		       c.name, cf->node);
	if ((uint64_t)time(NULL) >= c.not_after) {
		cert_time_str(c.not_after, t);
		report(r, 0, 0, "CERT-FILE %s expired at %s: certify this node again",
		       cf->cert_file, t);
	}
	if (config_authority(cf, c.authority) == NULL)
		report(r, 0, 1, "CERT-FILE %s is signed by authority %s, which no AUTHORITY line "
		       "here names", cf->cert_file, hex);
}

/* A cycle found from names[start]: report it once, from its smallest name. */
static void
report_cycle(struct report *r, const struct name *names, int start)
{
	struct sbuf b;
	int first = start, len = 0, i;

	i = start;
	do {
		if (strcmp(names[i].name, names[first].name) < 0)
			first = i;
		len++;
		i = names[i].next;
	} while (i != start);
	sbuf_init(&b);
	i = first;
	for (int k = 0; k < len; k++, i = names[i].next) {
		if (k == CYCLE_SHOW - 1 && len > CYCLE_SHOW) {
			sbuf_printf(&b, "... (%d more) -> ", len - k);
			break;
		}
		sbuf_printf(&b, "%s -> ", names[i].name);
	}
	sbuf_puts(&b, names[first].name);
	report(r, r->cf->routes[names[first].route].line, 0, "ROUTE: cyclic delivery route: %s", b.s);
	sbuf_free(&b);
}

/* Walk next hops from every name; each node is walked once in all. */
static void
find_cycles(struct report *r, struct name *names, int n)
{
	for (int s = 0; s < n; s++) {
		int i = s;

		while (i >= 0 && names[i].state == 0) {
			names[i].state = 1;
			names[i].walk = s;
			i = names[i].next;
		}
		if (i >= 0 && names[i].state == 1 && names[i].walk == s)
			report_cycle(r, names, i);
		for (i = s; i >= 0 && names[i].state == 1; i = names[i].next)
			names[i].state = 2;
	}
}

static void
check_routes(struct report *r, const struct rdest *rd, int nrd,
	     const struct peer **peers, int npeers)
{
	const struct config *cf = r->cf;

	for (int i = 0; i < cf->nroutes; i++) {
		const struct route *rt = &cf->routes[i];
		const struct peer *p = peer_find(peers, npeers, rt->next_hop);

		if (is_node(cf, rt->next_hop))
			report(r, rt->line, 0, "ROUTE: next hop %s is this node", rt->next_hop);
		else if (p == NULL)
			report(r, rt->line, 0, "ROUTE: unknown next hop %s (no PEER %s)",
			       rt->next_hop, rt->next_hop);
		else if (!PEER_REACHABLE(p))
			report(r, rt->line, 0,
			       "ROUTE: unknown next hop %s (a KEY node, line %d, has no address; a next hop must be a PEER)",
			       rt->next_hop, p->line);
	}
	/* rd is sorted by name, then file order: each run starts with the route that wins. */
	for (int i = 0, f = 0; i < nrd; i++) {
		const struct route *rt = &cf->routes[rd[i].route];
		const struct route *first;

		if (i > 0 && strcmp(rd[i - 1].name, rd[i].name) != 0)
			f = i;
		if (is_node(cf, rd[i].name))
			report(r, rt->line, 0, "ROUTE: destination %s is this node", rd[i].name);
		first = &cf->routes[rd[f].route];
		if (strcmp(first->next_hop, rt->next_hop) != 0)
			report(r, rt->line, 0,
			       "ROUTE: destination %s is already routed via %s at line %d; this route says %s",
			       rd[i].name, first->next_hop, first->line, rt->next_hop);
	}
}

static void
check_peers(struct report *r)
{
	const struct config *cf = r->cf;
	char key[PUBKEY_STRLEN];
	int literal = 0;

	for (int i = 0; i < cf->npeers; i++) {
		const struct peer *p = &cf->peers[i];
		unsigned char a[16];

		if (p->host && !p->pattern &&
		    ((inet_pton(AF_INET, p->host, a) == 1 && memcmp(a, "\0\0\0\0", 4) == 0) ||
		     (inet_pton(AF_INET6, p->host, a) == 1 &&
		      memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0)))
			report(r, p->line, 0, "PEER %s: address %s is unspecified (\"every address\" "
			       "of a listener): nothing can connect to it; use the address or host "
			       "name %s is reached at", p->name, p->host, p->name);
		if (!p->has_key) {
			/* with an AUTHORITY its certificate will say; else a normal state
			 * while keys are being exchanged: warn, do not fail */
			if (cf->nauth == 0)
				report(r, p->line, 1, "PEER %s: no key yet, so it cannot connect: run "
				       "`shipctl keygen` on %s and put %s.pub in KEYS-DIR %s", p->name,
				       p->name, p->name, cf->keys_dir);
			continue;
		}
		pubkey_format(&p->key, key);
		if (strstr(key, PLACEHOLDER))
			report(r, p->line, 0,
			       "%s %s: the key is an example placeholder; paste the one `shipctl pubkey` prints on %s",
			       PEER_REACHABLE(p) ? "PEER" : "KEY", p->name, p->name);
		if (p->host && (inet_pton(AF_INET, p->host, a) == 1 || inet_pton(AF_INET6, p->host, a) == 1))
			literal++;
	}
	/* The parser appends every literal PEER address after the ALLOW entries. */
	if (cf->nallow - literal > 0)
		return;
	for (int i = 0; i < cf->npeers; i++) {
		const struct peer *p = &cf->peers[i];
		unsigned char a[16];

		if (p->host && inet_pton(AF_INET, p->host, a) != 1 && inet_pton(AF_INET6, p->host, a) != 1)
			report(r, p->line, 1,
			       "PEER %s: host %s is a name, not an address: %s cannot connect here unless an ALLOW covers its address",
			       p->name, p->host, p->name);
	}
}

static void
check_host(struct report *r)
{
	const struct config *cf = r->cf;
	struct stat st;

	if (cf->listen_addr && cf->min_port &&
	    (cf->listen_port < cf->min_port || cf->listen_port > cf->max_port))
		report(r, 0, 1, "LISTEN port %d is outside the port range %d-%d: the firewall must open it too",
		       cf->listen_port, cf->min_port, cf->max_port);
	/* shipd exits 2 without its key: a problem, not a warning */
	if (cf->key_file && stat(cf->key_file, &st) < 0)
		report(r, 0, 0, "KEY-FILE %s: %s%s; shipd will not start", cf->key_file,
		       strerror(errno), errno == ENOENT ? " (create it with `shipctl keygen`)" : "");
	else if (cf->key_file && (st.st_mode & 077))
		report(r, 0, 0, "KEY-FILE %s: readable by group or others (mode %03o); shipd "
		       "refuses it: chmod 600 it", cf->key_file, (unsigned)(st.st_mode & 0777));
}

int
config_check(const struct config *cf, FILE *out)
{
	struct report r = {cf, NULL, 0, 0};
	struct rdest *rd;
	const struct peer **peers;
	const char **all;
	struct name *names;
	int nrd = 0, nall = 0, n = 0, problems = 0;

	for (int i = 0; i < cf->nroutes; i++)
		nrd += cf->routes[i].dests.n;
	rd = xcalloc(nrd + 1, sizeof(*rd));
	all = xcalloc(nrd + cf->nroutes + cf->npeers + 1, sizeof(*all));
	peers = xcalloc(cf->npeers + 1, sizeof(*peers));
	nrd = 0;
	for (int i = 0; i < cf->nroutes; i++) {
		all[nall++] = cf->routes[i].next_hop;
		for (int d = 0; d < cf->routes[i].dests.n; d++) {
			rd[nrd++] = (struct rdest){cf->routes[i].dests.v[d], i};
			all[nall++] = cf->routes[i].dests.v[d];
		}
	}
	for (int i = 0; i < cf->npeers; i++) {
		peers[i] = &cf->peers[i];
		all[nall++] = cf->peers[i].name;
	}
	qsort(rd, nrd, sizeof(*rd), rdest_cmp);
	qsort(peers, cf->npeers, sizeof(*peers), peer_cmp);
	qsort(all, nall, sizeof(*all), str_cmp);
	names = xcalloc(nall + 1, sizeof(*names));
	for (int i = 0; i < nall; i++) {
		if (n && strcmp(names[n - 1].name, all[i]) == 0)
			continue;
		names[n].name = all[i];
		names[n].route = route_find(rd, nrd, all[i]);
		names[n].peer = peer_find(peers, cf->npeers, all[i]);
		names[n].next_hop = resolve(cf, &names[n]);
		n++;
	}
	for (int i = 0; i < n; i++)
		names[i].next = names[i].next_hop && strcmp(names[i].next_hop, names[i].name) != 0
			? name_find(names, n, names[i].next_hop) : -1;

	print_settings(cf, out);
	print_allow(cf, out);
	print_classes(cf, out);
	print_peers(cf, out);
	print_destinations(cf, names, n, out);
	print_keys(&r, names, n, out);

	check_routes(&r, rd, nrd, peers, cf->npeers);
	find_cycles(&r, names, n);
	check_peers(&r);
	check_host(&r);
	check_cert_file(&r);
	if (r.n > 1)
		qsort(r.v, r.n, sizeof(*r.v), problem_cmp);
	if (r.n)
		fprintf(out, "\n");
	for (int i = 0; i < r.n; i++) {
		if (r.v[i].line > 0)
			fprintf(out, "%s:%d: %s%s\n", cf->path, r.v[i].line,
				r.v[i].warning ? "warning: " : "", r.v[i].msg);
		else
			fprintf(out, "%s: %s%s\n", cf->path, r.v[i].warning ? "warning: " : "", r.v[i].msg);
		problems += !r.v[i].warning;
		free(r.v[i].msg);
	}
	free(r.v);
	free(names);
	free(all);
	free(peers);
	free(rd);
	return problems;
}

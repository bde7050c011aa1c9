/*
 * routes.c - "shipctl routes [--dot | --svg FILE | --png FILE]": where each
 * destination this node knows goes, read from shipping.conf alone.
 *
 * Offers cmd_routes(). Without options a table: destination, next hop,
 * the next hop's address:port, transport, and the line that decided it;
 * --json the same in json.h's envelope ("destinations").
 * --dot prints a Graphviz digraph of this node, its peers (exposed hosts,
 * i.e. peers that carry packets for others, drawn apart), the KEY-only far
 * nodes, edges to each next hop labelled with what goes that way and
 * dashed edges on from the next hop; --svg/--png render it with dot(1)
 * (exit 69 when graphviz is missing).
 *
 * Never touches the network or the spool; never writes a half-rendered
 * file (dot writes a temporary that is renamed on success).
 */
#include "shipctl.h"
#include "json.h"
#include "queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


struct dest {
	const char *name;
	const char *hop;		/* config_next_hop(); NULL: unroutable */
	const struct peer *via;		/* the next hop's PEER entry, if it has one */
	const char *rule;		/* "ROUTE", "PEER", "NODE" or NULL */
	const char *file;
	int line;
};

struct table {
	struct dest *v;
	int n;
};

static void
dest_add(const struct config *cf, struct table *t, const char *name)
{
	struct dest *d;

	for (int i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return;
	t->v = xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
	d = &t->v[t->n++];
	memset(d, 0, sizeof(*d));
	d->name = name;
	d->hop = config_next_hop(cf, name);
	if (d->hop == NULL)
		return;
	if (cf->node && strcmp(d->hop, cf->node) == 0) {
		d->rule = "NODE";
		return;
	}
	d->via = config_peer(cf, d->hop);
	if (d->via && !PEER_REACHABLE(d->via))
		d->via = NULL;		/* a KEY-only node cannot be a next hop */
	for (int i = 0; i < cf->nroutes; i++)
		if (strv_has(&cf->routes[i].dests, name)) {
			d->rule = "ROUTE";
			d->file = cf->routes[i].file;
			d->line = cf->routes[i].line;
			return;
		}
	if (d->via) {
		d->rule = "PEER";
		d->file = d->via->file;
		d->line = d->via->line;
	}
}

/* Every destination this node knows, in the order the file names them. */
static void
table_build(const struct config *cf, struct table *t)
{
	if (cf->node)
		dest_add(cf, t, cf->node);
	for (int i = 0; i < cf->npeers; i++)
		dest_add(cf, t, cf->peers[i].name);
	for (int i = 0; i < cf->nroutes; i++)
		for (int j = 0; j < cf->routes[i].dests.n; j++)
			dest_add(cf, t, cf->routes[i].dests.v[j]);
}

static char *
hostport(const char *host, int port)
{
	return xasprintf(strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

/* A ROUTE whose next hop has no address: the one thing that makes routes fail. */
static int
report_problems(const struct config *cf, const struct table *t)
{
	int problems = 0;

	for (int i = 0; i < t->n; i++) {
		const struct dest *d = &t->v[i];

		if (d->hop == NULL || d->via || (d->rule && strcmp(d->rule, "NODE") == 0))
			continue;
		fprintf(stderr, "shipctl: routes: %s:%d: next hop %s of %s is not a PEER with an address\n",
			d->file ? d->file : cf->path, d->line, d->hop, d->name);
		problems++;
	}
	return problems;
}

static int
print_table(const struct config *cf, const struct table *t)
{
	enum { C_DEST, C_HOP, C_ADDR, C_PROTO, C_RULE, NCOL };
	static const char *head[NCOL] = {"DESTINATION", "NEXT-HOP", "ADDRESS", "TRANSPORT", "DECIDED BY"};
	char ***cell = xcalloc(t->n, sizeof(*cell));
	size_t w[NCOL];

	if (cf->listen_addr) {
		char *hp = hostport(cf->listen_addr, cf->listen_port);

		printf("node %s listens on %s (tcp, and udp for the fallback)\n",
		       cf->node ? cf->node : "?", hp);
		free(hp);
	} else
		printf("node %s does not listen (no LISTEN): it only sends\n", cf->node ? cf->node : "?");
	if (cf->min_port)
		printf("local ports: %d-%d (CLEARCASE_MIN_PORT..CLEARCASE_MAX_PORT)\n",
		       cf->min_port, cf->max_port);
	else
		printf("local ports: any free port (no CLEARCASE_MIN_PORT/MAX_PORT: "
		       "senders cannot be firewalled)\n");
	printf("\n");

	for (int c = 0; c < NCOL; c++)
		w[c] = strlen(head[c]);
	for (int i = 0; i < t->n; i++) {
		const struct dest *d = &t->v[i];
		char **r = cell[i] = xcalloc(NCOL, sizeof(char *));

		r[C_DEST] = xstrdup(d->name);
		if (d->hop == NULL) {
			r[C_HOP] = xstrdup("-");
			r[C_ADDR] = xstrdup("-");
			r[C_PROTO] = xstrdup("none: no ROUTE and not a PEER");
			r[C_RULE] = xstrdup("-");
		} else if (strcmp(d->rule ? d->rule : "", "NODE") == 0) {
			r[C_HOP] = xstrdup("(this node)");
			r[C_ADDR] = xstrdup("-");
			r[C_PROTO] = xstrdup("local delivery");
			r[C_RULE] = xstrdup("NODE");
		} else {
			r[C_HOP] = xstrdup(d->hop);
			r[C_ADDR] = d->via && d->via->dir ? xasprintf("dir:%s", d->via->dir) :
				    d->via ? hostport(d->via->host, d->via->port)
					   : xstrdup("? (next hop is not a PEER)");
			r[C_PROTO] = xstrdup(d->via && d->via->dir ? "directory (export, receipts)" :
					     "tcp, udp fallback");
			r[C_RULE] = d->file ? xasprintf("%s %s:%d", d->rule, d->file, d->line)
					    : xstrdup(d->rule ? d->rule : "-");
		}
		for (int c = 0; c < NCOL; c++)
			if (strlen(r[c]) > w[c])
				w[c] = strlen(r[c]);
	}
	for (int c = 0; c < NCOL - 1; c++)
		printf("%-*s  ", (int)w[c], head[c]);
	printf("%s\n", head[NCOL - 1]);
	for (int i = 0; i < t->n; i++) {
		for (int c = 0; c < NCOL - 1; c++)
			printf("%-*s  ", (int)w[c], cell[i][c]);
		printf("%s\n", cell[i][NCOL - 1]);
		for (int c = 0; c < NCOL; c++)
			free(cell[i][c]);
		free(cell[i]);
	}
	free(cell);
	return 0;
}

/* A Graphviz double-quoted string. */
static void
dot_str(struct sbuf *b, const char *s)
{
	sbuf_puts(b, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sbuf_add(b, "\\", 1);
		if (*s == '\n')
			sbuf_puts(b, "\\n");
		else if ((unsigned char)*s >= ' ')
			sbuf_add(b, s, 1);
	}
	sbuf_puts(b, "\"");
}

/* Is name a next hop for some destination other than itself? */
static int
is_exposed(const struct table *t, const char *name)
{
	for (int i = 0; i < t->n; i++)
		if (t->v[i].hop && strcmp(t->v[i].hop, name) == 0 &&
		    strcmp(t->v[i].name, name) != 0)
			return 1;
	return 0;
}

static void
dot_node(struct sbuf *b, const char *name, const char *label, const char *attrs)
{
	sbuf_puts(b, "\t");
	dot_str(b, name);
	sbuf_puts(b, " [label=");
	dot_str(b, label);
	sbuf_printf(b, ", %s];\n", attrs);
}

static void
build_dot(const struct config *cf, const struct table *t, struct sbuf *b)
{
	const char *self = cf->node ? cf->node : "this node";
	char *label;

	sbuf_puts(b, "// shipd routes of ");
	sbuf_puts(b, self);
	sbuf_printf(b, " from %s (shipctl routes --dot)\n", cf->path ? cf->path : "?");
	sbuf_puts(b, "digraph shipd {\n\trankdir=LR;\n"
		  "\tnode [fontname=\"Helvetica\", fontsize=10];\n"
		  "\tedge [fontname=\"Helvetica\", fontsize=9];\n");

	/* this node */
	label = cf->listen_addr
		? xasprintf("%s\nthis node\n%s:%d", self, cf->listen_addr, cf->listen_port)
		: xasprintf("%s\nthis node\n(sends only)", self);
	dot_node(b, self, label, "shape=box, style=\"rounded,filled,bold\", fillcolor=\"#cfe2ff\"");
	free(label);

	/* peers and KEY-only nodes, as the file lists them */
	for (int i = 0; i < cf->npeers; i++) {
		const struct peer *p = &cf->peers[i];

		if (cf->node && strcmp(p->name, cf->node) == 0)
			continue;
		if (p->dir) {
			label = xasprintf("%s\nthrough a directory\n%s", p->name, p->dir);
			dot_node(b, p->name, label, "shape=folder, style=filled, fillcolor=\"#d3f9d8\"");
		} else if (p->host == NULL) {
			label = xasprintf("%s\nfar node (KEY)", p->name);
			dot_node(b, p->name, label, "shape=ellipse, style=dashed");
		} else if (is_exposed(t, p->name)) {
			label = xasprintf("%s\nexposed host\n%s:%d", p->name, p->host, p->port);
			dot_node(b, p->name, label,
				 "shape=hexagon, style=\"filled,bold\", fillcolor=\"#ffd8a8\"");
		} else {
			label = xasprintf("%s\npeer\n%s:%d", p->name, p->host, p->port);
			dot_node(b, p->name, label, "shape=box, style=filled, fillcolor=\"#e9ecef\"");
		}
		free(label);
	}
	/* names only ROUTE mentions: a far destination whose key this node
	 * does not need (an exposed host forwards without opening), a bad hop */
	for (int i = 0; i < t->n; i++) {
		const struct dest *d = &t->v[i];

		if (config_peer(cf, d->name) == NULL && !(cf->node && strcmp(d->name, cf->node) == 0)) {
			label = xasprintf("%s\nfar node", d->name);
			dot_node(b, d->name, label, "shape=ellipse, style=dotted");
			free(label);
		}
		if (d->hop && d->via == NULL && strcmp(d->rule ? d->rule : "", "NODE") != 0 &&
		    config_peer(cf, d->hop) == NULL && strcmp(d->hop, d->name) != 0) {
			label = xasprintf("%s\nnot a PEER", d->hop);
			dot_node(b, d->hop, label, "shape=octagon, color=red, fontcolor=red");
			free(label);
		}
	}

	/* this node -> each next hop, labelled with the destinations sent that way */
	for (int i = 0; i < t->n; i++) {
		const char *hop = t->v[i].hop;
		struct sbuf l;
		int first = 1;

		if (hop == NULL || strcmp(t->v[i].rule ? t->v[i].rule : "", "NODE") == 0)
			continue;
		for (int k = 0; k < i; k++)
			if (t->v[k].hop && strcmp(t->v[k].hop, hop) == 0)
				first = 0;
		if (!first)
			continue;
		sbuf_init(&l);
		for (int k = i; k < t->n; k++)
			if (t->v[k].hop && strcmp(t->v[k].hop, hop) == 0)
				sbuf_printf(&l, "%s%s", l.len ? "\n" : "", t->v[k].name);
		sbuf_puts(b, "\t");
		dot_str(b, self);
		sbuf_puts(b, " -> ");
		dot_str(b, hop);
		sbuf_puts(b, " [label=");
		dot_str(b, l.s);
		/* a directory hop: a dotted double line (no connection, a medium) */
		sbuf_puts(b, t->v[i].via && t->v[i].via->dir ? ", style=dotted, penwidth=3, "
			  "color=\"#2b8a3e:#2b8a3e\"];\n" : t->v[i].via ? ", penwidth=2];\n" :
			  ", color=red];\n");
		sbuf_free(&l);
	}
	/* next hop -> final destination, dashed: the next hop's business */
	for (int i = 0; i < t->n; i++) {
		const struct dest *d = &t->v[i];

		if (d->hop == NULL || strcmp(d->hop, d->name) == 0 ||
		    strcmp(d->rule ? d->rule : "", "NODE") == 0)
			continue;
		sbuf_puts(b, "\t");
		dot_str(b, d->hop);
		sbuf_puts(b, " -> ");
		dot_str(b, d->name);
		sbuf_puts(b, " [style=dashed];\n");
	}
	sbuf_puts(b, "}\n");
}

/* Is prog an executable somewhere on PATH? */
static int
in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (path == NULL || *path == 0)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (path_fmt(buf, sizeof(buf), "%.*s/%s", (int)n, n ? path : ".", prog) == 0 &&
		    access(buf, X_OK) == 0)
			return 1;
		path += n;
		if (*path == ':')
			path++;
	}
	return 0;
}

/* Pipe the graph through dot -TFORMAT into out, atomically. */
static int
render(const char *format, const char *out, const struct sbuf *graph)
{
	char *tmp = xasprintf("%s.tmp%ld", out, (long)getpid()), *fmt = xasprintf("-T%s", format);
	int fd[2], status, rc = EX_OK;
	size_t off = 0;
	pid_t pid;

	if (!in_path("dot")) {
		fprintf(stderr, "shipctl: routes: dot(1) not found on PATH: install graphviz "
			"(apt-get install graphviz) or use --dot and render elsewhere\n");
		rc = EX_UNAVAILABLE;
		goto out;
	}
	if (pipe(fd) < 0 || (pid = fork()) < 0) {
		fprintf(stderr, "shipctl: routes: cannot run dot: %s\n", strerror(errno));
		rc = EX_TEMPFAIL;
		goto out;
	}
	if (pid == 0) {
		dup2(fd[0], 0);
		close(fd[0]);
		close(fd[1]);
		execlp("dot", "dot", fmt, "-o", tmp, (char *)NULL);
		_exit(127);
	}
	close(fd[0]);
	while (off < graph->len) {
		ssize_t w = write(fd[1], graph->s + off, graph->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += w;
	}
	close(fd[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "shipctl: routes: dot -%s failed (%s %d); %s not written\n", fmt,
			WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), out);
		unlink(tmp);
		rc = WIFEXITED(status) && WEXITSTATUS(status) == 127 ? EX_UNAVAILABLE : EX_TEMPFAIL;
	} else if (off < graph->len || rename(tmp, out) < 0) {
		fprintf(stderr, "shipctl: routes: %s: %s\n", out,
			off < graph->len ? "dot stopped reading its input" : strerror(errno));
		unlink(tmp);
		rc = EX_TEMPFAIL;
	}
out:
	free(tmp);
	free(fmt);
	return rc;
}

static int
usage(void)
{
	fprintf(stderr, "usage: shipctl [-c CONF] routes [--json | --dot | --svg FILE | --png FILE]\n");
	return EX_USAGE;
}

/* The table as json.h's envelope: "listen", "ports", "destinations". */
static void
print_json(const struct config *cf, const struct table *t)
{
	struct sbuf b;

	json_begin(&b, "routes", cf, time(NULL));
	sbuf_puts(&b, ",");
	json_listen(&b, cf);
	sbuf_puts(&b, ",\"destinations\":[");
	for (int i = 0; i < t->n; i++) {
		const struct dest *d = &t->v[i];

		sbuf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
		json_str(&b, d->name);
		sbuf_puts(&b, ",\"next_hop\":");
		json_str(&b, d->hop);
		sbuf_puts(&b, ",\"host\":");
		json_str(&b, d->via ? d->via->host : NULL);
		if (d->via && d->via->dir) {
			sbuf_puts(&b, ",\"port\":null,\"transport\":\"dir\",\"dir\":");
			json_str(&b, d->via->dir);
		} else if (d->via)
			sbuf_printf(&b, ",\"port\":%d,\"transport\":\"tcp+udp\"", d->via->port);
		else
			sbuf_puts(&b, ",\"port\":null,\"transport\":null");
		sbuf_puts(&b, ",\"decided_by\":");
		json_str(&b, d->rule);
		sbuf_puts(&b, ",\"file\":");
		json_str(&b, d->file);
		sbuf_printf(&b, ",\"line\":%d,\"ok\":%s}", d->line,
			    d->hop && (d->via || (d->rule && strcmp(d->rule, "NODE") == 0)) ? "true"
											 : "false");
	}
	sbuf_puts(&b, "]");
	json_end(&b);
}

VERB(routes)
{
	const char *format = NULL, *out = NULL;
	struct config *cf;
	struct table t = {0};
	struct sbuf graph;
	int dot = 0, json = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && !dot && !format && !json)
			json = 1;
		else if (strcmp(argv[i], "--dot") == 0 && !dot && !format && !json)
			dot = 1;
		else if ((strcmp(argv[i], "--svg") == 0 || strcmp(argv[i], "--png") == 0) &&
			 i + 1 < argc && !dot && !format && !json && argv[i + 1][0]) {
			format = argv[i] + 2;
			out = argv[++i];
		} else
			return usage();
	}
	cf = ctl_config(c);
	table_build(cf, &t);
	if (json)
		print_json(cf, &t);
	else if (!dot && !format) {
		print_table(cf, &t);
		fflush(stdout);
	} else {
		sbuf_init(&graph);
		build_dot(cf, &t, &graph);
		if (dot)
			fwrite(graph.s, 1, graph.len, stdout);
		else if ((rc = render(format, out, &graph)) != EX_OK) {
			sbuf_free(&graph);
			free(t.v);
			return rc;
		}
		sbuf_free(&graph);
	}
	rc = report_problems(cf, &t) ? EX_DATAERR : EX_OK;
	free(t.v);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "shipctl: routes: writing output: %s\n", strerror(errno));
		return EX_TEMPFAIL;
	}
	return rc;
}

/*
 * peers.c - "shipctl peers [--json]": every next hop this node sends to,
 * with its state (up; down until HH:MM; never tried), last success, last
 * error in full, the orders and bytes waiting for it, what was sent to and
 * received from it in the last hour, and the transport it last used.
 *
 * The state comes from the files the daemon publishes (SPOOL/peers/NAME,
 * queue/peerfile.h), the waiting orders from the queue itself. Next hops
 * are the PEERs with an address and every ROUTE's next hop. Read-only.
 */
#include "shipctl.h"
#include "json.h"
#include "queue.h"
#include "../util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
row_add(struct peerrow **rows, int *n, const char *name)
{
	for (int i = 0; i < *n; i++)
		if (strcmp((*rows)[i].name, name) == 0)
			return i;
	*rows = xrealloc(*rows, (*n + 1) * sizeof(**rows));
	memset(&(*rows)[*n], 0, sizeof(**rows));
	(*rows)[*n].name = name;
	return (*n)++;
}

void
peers_collect(const struct config *cf, const struct qentry *v, int n, time_t now,
	      struct peerrow **rows, int *nrows)
{
	*rows = NULL;
	*nrows = 0;
	for (int i = 0; i < cf->npeers; i++)
		if (PEER_REACHABLE(&cf->peers[i]) && !(cf->node && strcmp(cf->peers[i].name, cf->node) == 0))
			row_add(rows, nrows, cf->peers[i].name);
	for (int i = 0; i < cf->nroutes; i++)
		row_add(rows, nrows, cf->routes[i].next_hop);
	for (int i = 0; i < *nrows; i++) {
		struct peerrow *r = &(*rows)[i];

		peerfile_read(cf->spool, r->name, &r->pf);
		peerfile_last_hour(&r->pf, now, &r->hour);
	}
	/* what waits: orders not yet gone, counted once per next hop they need */
	for (int k = 0; k < n; k++) {
		const struct qentry *e = &v[k];
		struct strv hops = {0};

		if (!e->ok || !(e->st == Q_OUTGOING || e->st == Q_ACTIVE || e->st == Q_DEFERRED ||
				e->st == Q_HOLD))
			continue;
		if (e->o.returning) {
			const char *nh = config_next_hop(cf, e->o.origin);

			if (nh && !strv_has(&hops, nh))
				strv_add(&hops, nh);
		} else
			for (int d = 0; d < e->o.dests.n; d++) {
				const char *nh = config_next_hop(cf, e->o.dests.v[d]);

				if (nh && !(cf->node && strcmp(nh, cf->node) == 0) && !strv_has(&hops, nh))
					strv_add(&hops, nh);
			}
		for (int h = 0; h < hops.n; h++)
			for (int i = 0; i < *nrows; i++)
				if (strcmp((*rows)[i].name, hops.v[h]) == 0) {
					(*rows)[i].waiting++;
					(*rows)[i].waiting_bytes += e->o.size;
				}
		strv_free(&hops);
	}
}

void
peers_free(struct peerrow *rows, int n)
{
	for (int i = 0; i < n; i++)
		peerfile_free(&rows[i].pf);
	free(rows);
}

/* "up", "down until 14:05", "down" (back-off over: tried again when due), "never tried". */
static const char *
state_text(const struct peerfile *pf, time_t now, char *buf, size_t size)
{
	struct tm tm;
	char hm[16];

	if (pf->state == 1)
		return "up";
	if (pf->state < 0)
		return "never tried";
	if (pf->down_until > now) {
		localtime_r(&pf->down_until, &tm);
		strftime(hm, sizeof(hm), "%H:%M", &tm);
		snprintf(buf, size, "down until %s", hm);
		return buf;
	}
	return "down (retried when due)";
}

static const char *
when(time_t t, time_t now, char *buf, size_t size)
{
	char d[32];

	if (t == 0)
		return "-";
	snprintf(buf, size, "%s ago", fmt_dur(now - t, d, sizeof(d)));
	return buf;
}

static void
print_table(const struct peerrow *r, int n, time_t now)
{
	char st[64], ok[48], w[32], sb[32], rb[32], buf[4096];

	printf("%-20s %-22s %-10s %-5s %14s %16s %16s  %s\n", "NEXT HOP", "STATE", "SUCCESS",
	       "PROTO", "WAITING", "SENT/1H", "RECEIVED/1H", "LAST ERROR");
	for (int i = 0; i < n; i++) {
		char waiting[48], sent[48], recv[48];

		snprintf(waiting, sizeof(waiting), "%ld (%s)", r[i].waiting,
			 fmt_size(r[i].waiting_bytes, w, sizeof(w)));
		snprintf(sent, sizeof(sent), "%llu (%s)", (unsigned long long)r[i].hour.sent_orders,
			 fmt_size(r[i].hour.sent_bytes, sb, sizeof(sb)));
		snprintf(recv, sizeof(recv), "%llu (%s)", (unsigned long long)r[i].hour.recv_orders,
			 fmt_size(r[i].hour.recv_bytes, rb, sizeof(rb)));
		printf("%-20s %-22s %-10s %-5s %14s %16s %16s  %s\n", r[i].name,
		       state_text(&r[i].pf, now, st, sizeof(st)),
		       when(r[i].pf.last_success, now, ok, sizeof(ok)),
		       r[i].pf.transport[0] ? r[i].pf.transport : "-", waiting, sent, recv,
		       r[i].pf.last_error && r[i].pf.state == 0
			       ? fmt_safe(r[i].pf.last_error, sizeof(buf) - 1, buf, sizeof(buf)) : "-");
	}
}

static int
print_json(const struct config *cf, const struct peerrow *r, int n, time_t now)
{
	struct sbuf b;
	char st[64];

	json_begin(&b, "peers", cf, now);
	sbuf_puts(&b, ",\"peers\":[");
	for (int i = 0; i < n; i++) {
		const struct peerfile *pf = &r[i].pf;

		sbuf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
		json_str(&b, r[i].name);
		sbuf_printf(&b, ",\"state\":\"%s\",\"state_text\":",
			    pf->state == 1 ? "up" : pf->state == 0 ? "down" : "never");
		json_str(&b, state_text(pf, now, st, sizeof(st)));
		sbuf_puts(&b, ",\"down_until\":");
		if (pf->state == 0 && pf->down_until)
			sbuf_printf(&b, "%lld", (long long)pf->down_until);
		else
			sbuf_puts(&b, "null");
		sbuf_puts(&b, ",\"last_success\":");
		if (pf->last_success)
			sbuf_printf(&b, "%lld", (long long)pf->last_success);
		else
			sbuf_puts(&b, "null");
		sbuf_puts(&b, ",\"last_failure\":");
		if (pf->last_failure)
			sbuf_printf(&b, "%lld", (long long)pf->last_failure);
		else
			sbuf_puts(&b, "null");
		sbuf_puts(&b, ",\"last_error\":");
		json_str(&b, pf->last_error);
		sbuf_printf(&b, ",\"failures_in_a_row\":%d,\"failures_total\":%llu,\"transport\":",
			    pf->failures, (unsigned long long)pf->failures_total);
		json_str(&b, pf->transport[0] ? pf->transport : NULL);
		sbuf_puts(&b, ",\"tcp_blocked_until\":");
		if (pf->tcp_blocked_until > now)
			sbuf_printf(&b, "%lld", (long long)pf->tcp_blocked_until);
		else
			sbuf_puts(&b, "null");
		sbuf_printf(&b, ",\"waiting_orders\":%ld,\"waiting_bytes\":%llu,"
			    "\"last_hour\":{\"sent_orders\":%llu,\"sent_bytes\":%llu,"
			    "\"received_orders\":%llu,\"received_bytes\":%llu},"
			    "\"total\":{\"sent_orders\":%llu,\"sent_bytes\":%llu,"
			    "\"received_orders\":%llu,\"received_bytes\":%llu}}",
			    r[i].waiting, (unsigned long long)r[i].waiting_bytes,
			    (unsigned long long)r[i].hour.sent_orders,
			    (unsigned long long)r[i].hour.sent_bytes,
			    (unsigned long long)r[i].hour.recv_orders,
			    (unsigned long long)r[i].hour.recv_bytes,
			    (unsigned long long)pf->sent_orders, (unsigned long long)pf->sent_bytes,
			    (unsigned long long)pf->recv_orders, (unsigned long long)pf->recv_bytes);
	}
	sbuf_puts(&b, "]");
	return json_end(&b) == 0 ? EX_OK : EX_TEMPFAIL;
}

VERB(peers)
{
	struct config *cf;
	struct qentry *v;
	struct peerrow *rows;
	int json = 0, n, nrows, rc = EX_OK;
	time_t now = time(NULL);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else {
			fprintf(stderr, "usage: shipctl peers [--json]\n");
			return EX_USAGE;
		}
	}
	cf = ctl_config(c);
	q_collect(cf, &v, &n);
	peers_collect(cf, v, n, now, &rows, &nrows);
	if (json)
		rc = print_json(cf, rows, nrows, now);
	else {
		print_table(rows, nrows, now);
		ctl_daemon_note(c, "peers");
		rc = fflush(stdout) == 0 ? EX_OK : EX_TEMPFAIL;
	}
	peers_free(rows, nrows);
	q_free(v, n);
	return rc;
}

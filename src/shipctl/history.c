/*
 * history.c - shipctl's views of the done/ records (queue/history.h):
 * one record in full for `show` (print_history, json_history) and the
 * table of every record for `ls --done` (ls_done). Read-only: the daemon
 * writes the records, shipctl never changes them.
 */
#include "shipctl.h"
#include "json.h"
#include "queue.h"
#include "../queue/history.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
stamp(time_t t, time_t now, char *buf, size_t size)
{
	char s[64], d[32];
	struct tm tm;

	if (t == 0)
		return "-";
	localtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S %Z", &tm);
	snprintf(buf, size, "%s (%s ago)", s, fmt_dur(t <= now ? now - t : 0, d, sizeof(d)));
	return buf;
}

void
print_history(FILE *f, const char *bay, const struct history *h, time_t now)
{
	char path[PATH_MAX], buf[4096], t[128], sz[32];

	bay_path(path, sizeof(path), bay, Q_DONE, h->id);
	fprintf(f, "%-14s%s\n", "id:", h->id);
	fprintf(f, "%-14s%s\n", "history:", path);
	fprintf(f, "%-14s%s\n", "role:", h->role ? h->role : "-");
	fprintf(f, "%-14s%s\n", "origin:", h->origin ? h->origin : "-");
	fprintf(f, "%-14s%s\n", "class:", h->sclass ? h->sclass : "-");
	fprintf(f, "%-14s%s\n", "name:", fmt_safe(h->name ? h->name : "-", 4000, buf, sizeof(buf)));
	fprintf(f, "%-14s%s (%d part%s)\n", "group:", h->group ? h->group : h->id, h->nparts,
		h->nparts == 1 ? "" : "s");
	fprintf(f, "%-14s%llu (%s)\n", "size:", (unsigned long long)h->size,
		fmt_size(h->size, sz, sizeof(sz)));
	fprintf(f, "%-14s%s\n", "created:", stamp(h->created, now, t, sizeof(t)));
	if (h->from)
		fprintf(f, "%-14s%s\n", "came from:", h->from);
	if (h->ended)
		fprintf(f, "%-14s%s: %s\n", "ended:", stamp(h->ended, now, t, sizeof(t)),
			h->result ? h->result : "-");
	else
		fprintf(f, "%-14s%s\n", "ended:", "not yet here");
	if (h->why)
		fprintf(f, "%-14s%s\n", "why:", fmt_safe(h->why, 4000, buf, sizeof(buf)));
	for (int i = 0; i < h->nto; i++) {
		if (strcmp(h->to[i].via, h->to[i].dest) == 0)
			fprintf(f, "%-14s%s directly, %s\n", "to:", h->to[i].dest,
				stamp(h->to[i].at, now, t, sizeof(t)));
		else
			fprintf(f, "%-14s%s via %s, %s\n", "to:", h->to[i].dest, h->to[i].via,
				stamp(h->to[i].at, now, t, sizeof(t)));
	}
	for (int i = 0; i < h->nrcpt; i++) {
		const struct hist_receipt *r = &h->rcpt[i];

		fprintf(f, "%-14s%s, %s, route %s%s%s\n", "delivered:", r->dest,
			stamp(r->at, now, t, sizeof(t)), r->route, r->name ? ", as " : "",
			r->name ? fmt_safe(r->name, 1000, buf, sizeof(buf)) : "");
	}
	/* a destination handed on whose receipt is not in: say so */
	if (h->origin && h->role && strcmp(h->role, "origin") == 0)
		for (int i = 0; i < h->nto; i++)
			if (hist_receipt_of(h, h->to[i].dest) == NULL)
				fprintf(f, "%-14s%s: no receipt yet\n", "delivered:", h->to[i].dest);
}

void
json_history(struct sbuf *b, const struct history *h)
{
	sbuf_puts(b, "{\"id\":");
	json_str(b, h->id);
	sbuf_puts(b, ",\"group\":");
	json_str(b, h->group);
	sbuf_printf(b, ",\"parts\":%d,\"origin\":", h->nparts);
	json_str(b, h->origin);
	sbuf_puts(b, ",\"class\":");
	json_str(b, h->sclass);
	sbuf_puts(b, ",\"name\":");
	json_str(b, h->name);
	sbuf_printf(b, ",\"size\":%llu,\"created\":%lld,\"role\":", (unsigned long long)h->size,
		    (long long)h->created);
	json_str(b, h->role);
	sbuf_puts(b, ",\"from\":");
	json_str(b, h->from);
	if (h->ended)
		sbuf_printf(b, ",\"ended\":%lld", (long long)h->ended);
	else
		sbuf_puts(b, ",\"ended\":null");
	sbuf_puts(b, ",\"result\":");
	json_str(b, h->result);
	sbuf_puts(b, ",\"why\":");
	json_str(b, h->why);
	sbuf_puts(b, ",\"to\":[");
	for (int i = 0; i < h->nto; i++) {
		sbuf_puts(b, i ? ",{\"dest\":" : "{\"dest\":");
		json_str(b, h->to[i].dest);
		sbuf_puts(b, ",\"via\":");
		json_str(b, h->to[i].via);
		sbuf_printf(b, ",\"at\":%lld}", (long long)h->to[i].at);
	}
	sbuf_puts(b, "],\"delivered\":[");
	for (int i = 0; i < h->nrcpt; i++) {
		sbuf_puts(b, i ? ",{\"dest\":" : "{\"dest\":");
		json_str(b, h->rcpt[i].dest);
		sbuf_printf(b, ",\"at\":%lld,\"route\":", (long long)h->rcpt[i].at);
		json_str(b, h->rcpt[i].route);
		sbuf_puts(b, ",\"name\":");
		json_str(b, h->rcpt[i].name);
		sbuf_puts(b, "}");
	}
	sbuf_puts(b, "]}");
}

int
find_history(const struct config *cf, const char *id, char *bay, size_t size,
	     struct history *h)
{
	if (hist_locate(cf, id, bay, size) < 0)
		return 1;
	if (hist_load(bay, id, h) != 0) {
		fprintf(stderr, "shipctl: history of %s: %s\n", id, err_get());
		return -1;
	}
	return 0;
}

/* "C via R" for every destination, with its receipt's state. */
static char *
route_cell(const struct history *h, time_t now)
{
	struct sbuf b;
	char d[32];

	sbuf_init(&b);
	for (int i = 0; i < h->nto; i++) {
		const struct hist_receipt *r = hist_receipt_of(h, h->to[i].dest);

		sbuf_printf(&b, "%s%s", i ? ", " : "", h->to[i].dest);
		if (strcmp(h->to[i].via, h->to[i].dest) != 0)
			sbuf_printf(&b, " via %s", h->to[i].via);
		if (h->role && strcmp(h->role, "origin") == 0)
			sbuf_printf(&b, r ? " (delivered %s ago)" : " (no receipt yet)",
				    r ? fmt_dur(now - r->at, d, sizeof(d)) : "");
	}
	for (int i = 0; i < h->nrcpt; i++)
		if (hist_to_of(h, h->rcpt[i].dest) == NULL)
			sbuf_printf(&b, "%s%s (delivered here)", b.len ? ", " : "", h->rcpt[i].dest);
	if (b.len == 0)
		sbuf_puts(&b, "-");
	return b.s;
}

int
ls_done(const struct config *cf, int json, int shortf)
{
	struct strv bays = {0};
	struct sbuf b;
	time_t now = time(NULL);
	int n = 0;

	sbuf_init(&b);
	bay_all(cf, &bays);
	if (json)
		sbuf_puts(&b, "[");
	else if (!shortf)
		printf("%-44s  %-8s  %-11s  %-9s  %s\n", "ID", "ENDED", "ROLE", "RESULT",
		       "DESTINATIONS");
	for (int i = 0; i < bays.n; i++) {
		struct strv ids = {0};

		if (hist_list(bays.v[i], &ids) < 0)
			fprintf(stderr, "shipctl: ls --done: %s: %s\n", bays.v[i], err_get());
		for (int k = 0; k < ids.n; k++) {
			struct history h;
			char d[32], *cell;

			if (hist_load(bays.v[i], ids.v[k], &h) != 0) {
				fprintf(stderr, "shipctl: ls --done: %s\n", err_get());
				continue;
			}
			if (json) {
				sbuf_puts(&b, n ? ",\n  " : "\n  ");
				json_history(&b, &h);
			} else if (shortf)
				printf("%s\n", h.id);
			else {
				cell = route_cell(&h, now);
				printf("%-44s  %-8s  %-11s  %-9s  %s\n", h.id,
				       h.ended ? fmt_dur(now - h.ended, d, sizeof(d)) : "-",
				       h.role ? h.role : "-", h.result ? h.result : "not yet", cell);
				free(cell);
			}
			n++;
			hist_free(&h);
		}
		strv_free(&ids);
	}
	if (json) {
		sbuf_puts(&b, n ? "\n]\n" : "]\n");
		fputs(b.s, stdout);
	}
	sbuf_free(&b);
	strv_free(&bays);
	return fflush(stdout) == 0 ? EX_OK : EX_TEMPFAIL;
}

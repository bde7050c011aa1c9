/*
 * peerfile.c - the per-peer state files (peerfile.h): read, apply an
 * event, write back whole under one lock per spool.
 */
#include "peerfile.h"
#include "order.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define PEERFILE_MAX	(32 * 1024)

void
peerfile_free(struct peerfile *pf)
{
	free(pf->last_error);
	memset(pf, 0, sizeof(*pf));
}

static int
peer_dir(const char *spool, char *buf, size_t size)
{
	if ((size_t)snprintf(buf, size, "%s/%s", spool, PEERFILE_DIR) >= size) {
		err_set("spool path too long: %s", spool);
		return -1;
	}
	return 0;
}

static void
parse_line(struct peerfile *pf, char *key, char *val)
{
	long long a, b, c, d, e;

	if (strcmp(key, "peer") == 0)
		snprintf(pf->peer, sizeof(pf->peer), "%s", val);
	else if (strcmp(key, "state") == 0)
		pf->state = strcmp(val, "up") == 0 ? 1 : strcmp(val, "down") == 0 ? 0 : -1;
	else if (strcmp(key, "updated") == 0)
		pf->updated = atoll(val);
	else if (strcmp(key, "down-until") == 0)
		pf->down_until = atoll(val);
	else if (strcmp(key, "tcp-blocked-until") == 0)
		pf->tcp_blocked_until = atoll(val);
	else if (strcmp(key, "down-since") == 0)
		pf->down_since = atoll(val);
	else if (strcmp(key, "last-success") == 0)
		pf->last_success = atoll(val);
	else if (strcmp(key, "last-failure") == 0)
		pf->last_failure = atoll(val);
	else if (strcmp(key, "failures") == 0)
		pf->failures = atoi(val);
	else if (strcmp(key, "failures-total") == 0)
		pf->failures_total = strtoull(val, NULL, 10);
	else if (strcmp(key, "transport") == 0)
		snprintf(pf->transport, sizeof(pf->transport), "%s", val);
	else if (strcmp(key, "last-error") == 0) {
		free(pf->last_error);
		pf->last_error = order_text_unescape(val, strlen(val));
	} else if (strcmp(key, "sent") == 0 && sscanf(val, "%lld %lld", &a, &b) == 2) {
		pf->sent_orders = a;
		pf->sent_bytes = b;
	} else if (strcmp(key, "received") == 0 && sscanf(val, "%lld %lld", &a, &b) == 2) {
		pf->recv_orders = a;
		pf->recv_bytes = b;
	} else if (strcmp(key, "minute") == 0 && pf->nmin < PEERFILE_MINUTES &&
		   sscanf(val, "%lld %lld %lld %lld %lld", &a, &b, &c, &d, &e) == 5) {
		pf->min[pf->nmin++] = (struct peer_minute){a, b, c, d, e};
	}
	/* unknown keys are a newer shipd's: skipped, this is monitoring state */
}

int
peerfile_read(const char *spool, const char *peer, struct peerfile *pf)
{
	char dir[PATH_MAX], path[PATH_MAX], *buf, *line, *save = NULL;
	size_t len;

	memset(pf, 0, sizeof(*pf));
	pf->state = -1;
	snprintf(pf->peer, sizeof(pf->peer), "%s", peer);
	if (!order_name_valid(peer) || peer_dir(spool, dir, sizeof(dir)) < 0 ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, peer) >= sizeof(path) ||
	    (buf = read_file(path, PEERFILE_MAX, &len)) == NULL)
		return -1;
	if (strncmp(buf, "version: 1\n", 11) != 0) {
		free(buf);
		return -1;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strstr(line, ": ");

		if (colon) {
			*colon = 0;
			parse_line(pf, line, colon + 2);
		}
	}
	free(buf);
	return 0;
}

static struct peer_minute *
this_minute(struct peerfile *pf, time_t now)
{
	long m = (long)(now / 60);
	int k = 0;

	/* drop what is an hour old, then find or add this minute */
	for (int i = 0; i < pf->nmin; i++)
		if (pf->min[i].minute > m - PEERFILE_MINUTES)
			pf->min[k++] = pf->min[i];
	pf->nmin = k;
	for (int i = 0; i < pf->nmin; i++)
		if (pf->min[i].minute == m)
			return &pf->min[i];
	if (pf->nmin == PEERFILE_MINUTES)
		memmove(pf->min, pf->min + 1, --pf->nmin * sizeof(pf->min[0]));
	pf->min[pf->nmin] = (struct peer_minute){.minute = m};
	return &pf->min[pf->nmin++];
}

void
peerfile_last_hour(const struct peerfile *pf, time_t now, struct peer_minute *sum)
{
	long m = (long)(now / 60);

	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < pf->nmin; i++)
		if (pf->min[i].minute > m - PEERFILE_MINUTES && pf->min[i].minute <= m) {
			sum->sent_orders += pf->min[i].sent_orders;
			sum->sent_bytes += pf->min[i].sent_bytes;
			sum->recv_orders += pf->min[i].recv_orders;
			sum->recv_bytes += pf->min[i].recv_bytes;
		}
}

static void
apply(struct peerfile *pf, const struct peer_event *ev, time_t now)
{
	struct peer_minute *m;

	if (ev->transport)
		snprintf(pf->transport, sizeof(pf->transport), "%s", ev->transport);
	switch (ev->kind) {
	case PE_DOWN:
		if (pf->state != 0)
			pf->down_since = now;
		pf->state = 0;
		pf->failures++;
		pf->failures_total++;
		pf->last_failure = now;
		pf->down_until = ev->down_until;
		free(pf->last_error);
		pf->last_error = xstrdup(ev->error ? ev->error : "unknown error");
		break;
	case PE_TCP:
		pf->tcp_blocked_until = ev->down_until;
		break;
	case PE_UP:
	case PE_SENT:
	case PE_RECEIVED:
		if (ev->kind != PE_RECEIVED) {	/* a connection we made worked */
			pf->state = 1;
			pf->failures = 0;
			pf->down_until = pf->down_since = 0;
			pf->last_success = now;
		}
		m = this_minute(pf, now);
		if (ev->kind == PE_SENT) {
			pf->sent_orders += ev->orders;
			pf->sent_bytes += ev->bytes;
			m->sent_orders += ev->orders;
			m->sent_bytes += ev->bytes;
		} else if (ev->kind == PE_RECEIVED) {
			pf->recv_orders += ev->orders;
			pf->recv_bytes += ev->bytes;
			m->recv_orders += ev->orders;
			m->recv_bytes += ev->bytes;
		}
		break;
	default:
		msg_panic("peerfile: unknown event %d", ev->kind);
	}
	pf->updated = now;
}

static char *
format(const struct peerfile *pf)
{
	struct sbuf b;

	sbuf_init(&b);
	sbuf_printf(&b, "version: 1\npeer: %s\nstate: %s\nupdated: %lld\n", pf->peer,
		    pf->state == 1 ? "up" : pf->state == 0 ? "down" : "never",
		    (long long)pf->updated);
	sbuf_printf(&b, "down-until: %lld\ndown-since: %lld\nlast-success: %lld\n"
		    "last-failure: %lld\nfailures: %d\nfailures-total: %" PRIu64 "\n",
		    (long long)pf->down_until, (long long)pf->down_since,
		    (long long)pf->last_success, (long long)pf->last_failure, pf->failures,
		    pf->failures_total);
	if (pf->transport[0])
		sbuf_printf(&b, "transport: %s\n", pf->transport);
	if (pf->tcp_blocked_until)
		sbuf_printf(&b, "tcp-blocked-until: %lld\n", (long long)pf->tcp_blocked_until);
	if (pf->last_error) {
		sbuf_puts(&b, "last-error: ");
		order_text_escape(&b, pf->last_error);
		sbuf_puts(&b, "\n");
	}
	sbuf_printf(&b, "sent: %" PRIu64 " %" PRIu64 "\nreceived: %" PRIu64 " %" PRIu64 "\n",
		    pf->sent_orders, pf->sent_bytes, pf->recv_orders, pf->recv_bytes);
	for (int i = 0; i < pf->nmin; i++)
		sbuf_printf(&b, "minute: %ld %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			    pf->min[i].minute, pf->min[i].sent_orders, pf->min[i].sent_bytes,
			    pf->min[i].recv_orders, pf->min[i].recv_bytes);
	sbuf_puts(&b, "end\n");
	return b.s;
}

int
peerfile_note(const char *spool, const struct peer_event *ev)
{
	char dir[PATH_MAX], lock[PATH_MAX];
	struct peerfile pf;
	time_t now = time(NULL);
	char *text;
	int fd, rc;

	if (!order_name_valid(ev->peer)) {
		err_set("peerfile: bad peer name \"%.64s\"", ev->peer);
		return -1;
	}
	if (peer_dir(spool, dir, sizeof(dir)) < 0 || mkdirs(dir, 0700) < 0 ||
	    (size_t)snprintf(lock, sizeof(lock), "%s/.lock", dir) >= sizeof(lock))
		return -1;
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		err_set("%s: %s", lock, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX) < 0) {
		err_set("lock %s: %s", lock, strerror(errno));
		close(fd);
		return -1;
	}
	peerfile_read(spool, ev->peer, &pf);
	apply(&pf, ev, now);
	text = format(&pf);
	/* monitoring state (see peerfile.h): atomic, never fsynced */
	rc = safe_write_volatile(dir, ev->peer, text, strlen(text), 0600);
	free(text);
	peerfile_free(&pf);
	close(fd);		/* and the lock with it */
	return rc;
}

/*
 * control.c - the daemon's side of certificates and revocation: what a
 * packet of another kind than data does at its destination, what a
 * handshake or a packet header teaches, and this node's announcement of
 * itself to its neighbours.
 *
 *   control_deliver   the destination's dispatch on the signed "kind:":
 *                     data goes on to be delivered as a file; a revocation
 *                     list is applied if newer and passed on; certificates
 *                     are learned and the new ones passed on; a delivery
 *                     receipt is recorded (history.c); any other kind is
 *                     refused, loudly
 *   control_hop       a peer proved itself with a certificate: learn it;
 *                     if it was news, pass it on and send that neighbour
 *                     what this node holds (flood_directory)
 *   control_offer     before a byte of an offered packet is taken: a hop
 *                     certified as a plain node hands over its own packets
 *                     only; the origin's certificate is learned
 *   control_announce  (a child, at start-up and reload) shake hands with
 *                     every neighbour whose key is not known yet, and with
 *                     all of them when this node's certificate changed;
 *                     again with the queue's back-off while one is down
 *
 * The hooks in sender.c, receiver.c and deliver.c are one call each, so
 * the transfer code around them can change without this file.
 * Never stores anything of a refused packet; never blocks the master.
 */
#include "shipd.h"
#include "../global/confirm.h"
#include "../global/flood.h"
#include "../packet/packet.h"
#include "../trust/trust.h"
#include "../wire/wire.h"
#include "../wire/xfer.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <inttypes.h>
#include <sys/wait.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum kind { KIND_DATA, KIND_REVOCATION, KIND_CERTS, KIND_RECEIPT, KIND_UNKNOWN };

static const struct {
	const char *name;
	enum kind kind;
} kinds[] = {
	{PKT_KIND_DATA, KIND_DATA},
	{FLOOD_REVOCATION, KIND_REVOCATION},
	{FLOOD_CERTS, KIND_CERTS},
	{CONFIRM_KIND, KIND_RECEIPT},
};

static enum kind
kind_of(const char *name)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, name) == 0)
			return kinds[i].kind;
	return KIND_UNKNOWN;
}

/* The one file a control packet holds, read whole (at most max bytes). */
static char *
body(const struct order *o, const char *dir, const struct strv *names, size_t max, size_t *len)
{
	char path[PATH_MAX], *text;

	if (names->n != 1 || path_fmt(path, sizeof(path), "%s/%s", dir, names->v[0]) < 0) {
		err_set("a control packet holds one file, this one %d", names->n);
		return NULL;
	}
	if ((text = read_file(path, max, len)) == NULL) {
		char e[400];

		snprintf(e, sizeof(e), "%s", err_get());
		err_set("control packet body: %s", e);
	}
	return text;
}

static int
take_revocation(const struct order *o, const char *text, size_t len)
{
	struct revlist rl;
	struct strv to = {0};
	char id[AUTH_ID_HEX];
	uint64_t have;
	int sent, r;

	if (revlist_parse(text, len, &rl) == 0 && config_authority(S->cf, rl.authority) == NULL) {
		/* not ours to judge: nodes that trust it got it their own way */
		cert_id_hex(rl.authority, id);
		msg_info("revocation list serial %" PRIu64 " of authority %s from %s: not an "
			 "AUTHORITY here; dropped", rl.serial, id, o->origin);
		revlist_free(&rl);
		return 0;
	}
	revlist_free(&rl);
	if (trust_revlist_check(S->cf, text, len, &rl) < 0) {
		msg_warnx("refused packet %s from %s: %s", o->id, o->origin, err_get());
		return -1;
	}
	cert_id_hex(rl.authority, id);
	if (!trust_revlist_newer(S->cf, &rl, &have)) {
		msg_info("revocation list serial %" PRIu64 " of authority %s from %s: this node has "
			 "serial %" PRIu64 " already; acknowledged and dropped", rl.serial, id,
			 o->origin, have);
		revlist_free(&rl);
		return 0;
	}
	/* pass it on before applying: a crash between the two passes it on twice
	 * (harmless: the second is dropped as not newer), never not at all */
	flood_targets(S->cf, o->origin, &to);
	flood_drop_revoked(S->cf, &rl, &to);
	sent = flood_queue(S->cf, S->keys, FLOOD_REVOCATION, "revocation-list", text, len, &to);
	if ((r = trust_revlist_apply(S->cf, &rl, text, len, &have)) < 0) {
		msg_warnx("revocation list serial %" PRIu64 " of authority %s: %s; will retry",
			  rl.serial, id, err_get());
		revlist_free(&rl);
		strv_free(&to);
		return BAY_LATER;
	}
	if (r == 1)
		msg_info("applied revocation list serial %" PRIu64 " of authority %s (%d entr%s) "
			 "from %s; passed on to %d neighbour%s", rl.serial, id, rl.n,
			 rl.n == 1 ? "y" : "ies", o->origin, sent, sent == 1 ? "" : "s");
	revlist_free(&rl);
	strv_free(&to);
	return 0;
}

static int
take_certs(const struct order *o, const char *text, size_t len)
{
	struct sbuf news;
	struct strv to = {0};
	const char *p = text, *end = text + len;
	int nnew = 0, nknown = 0, nbad = 0, origin_new = 0;
	char line[CERT_TOKEN_MAX + 8];
	time_t now = time(NULL);

	sbuf_init(&news);
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct cert c;

		if (n && n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = 0;
			if (cert_token_parse(line, &c) < 0 ||
			    trust_check_cert(S->cf, &c, c.name, now) < 0) {
				if (nbad++ == 0)
					msg_info("certificates from %s: one not taken: %s", o->origin,
						 err_get());
			} else if (trust_learn(S->cf, &c) == 1) {
				flood_cert_line(&c, &news);
				origin_new |= strcmp(c.name, o->origin) == 0;
				nnew++;
			} else
				nknown++;
		} else if (n)
			nbad++;
		p = nl ? nl + 1 : end;
	}
	if (nnew) {
		flood_targets(S->cf, o->origin, &to);
		flood_queue(S->cf, S->keys, FLOOD_CERTS, "certificates", news.s, news.len, &to);
	}
	/* a neighbour this node did not know: tell it all this node holds */
	if (origin_new)
		flood_directory(S->cf, S->keys, o->origin);
	msg_info("certificates from %s: %d new, %d known, %d not taken", o->origin, nnew, nknown,
		 nbad);
	sbuf_free(&news);
	strv_free(&to);
	return 0;
}

int
control_deliver(const struct order *o, const char *kind, const char *signer, const char *dir,
		const struct strv *names)
{
	char *text = NULL;
	size_t len;
	int rc;

	switch (kind_of(kind)) {
	case KIND_DATA:
		return CONTROL_DATA;
	case KIND_REVOCATION:
		if ((text = body(o, dir, names, REV_MAX_SIZE, &len)) == NULL)
			return -1;
		rc = take_revocation(o, text, len);
		break;
	case KIND_CERTS:
		if ((text = body(o, dir, names, FLOOD_CERTS_MAX, &len)) == NULL)
			return -1;
		rc = take_certs(o, text, len);
		break;
	case KIND_RECEIPT:
		if ((text = body(o, dir, names, CONFIRM_MAX, &len)) == NULL)
			return -1;
		rc = history_receipt(o, signer, text, len);
		break;
	case KIND_UNKNOWN:
	default:
		err_set("unknown packet kind \"%s\" (this shipd knows data, %s, %s and %s)", kind,
			FLOOD_REVOCATION, FLOOD_CERTS, CONFIRM_KIND);
		msg_warnx("refused packet %s from %s: %s", o->id, o->origin, err_get());
		return -1;
	}
	free(text);
	return rc;
}

/* A certificate that was news here: pass it on (not back to from). */
static void
pass_on(const struct cert *c, const char *from)
{
	struct strv to = {0};
	struct sbuf line;

	sbuf_init(&line);
	flood_cert_line(c, &line);
	flood_targets(S->cf, from, &to);
	flood_queue(S->cf, S->keys, FLOOD_CERTS, "certificates", line.s, line.len, &to);
	strv_free(&to);
	sbuf_free(&line);
}

void
control_hop(struct hop *h)
{
	const struct cert *c = hop_cert(h);
	char what[200];

	if (c == NULL || trust_learn(S->cf, c) != 1)
		return;
	trust_cert_str(c, what, sizeof(what));
	msg_info("learned %s from its handshake", what);
	pass_on(c, c->name);
	flood_directory(S->cf, S->keys, c->name);
}

int
control_offer(struct hop *h, const struct pkt_info *pi, struct sbuf *why)
{
	const struct cert *hc = hop_cert(h);
	char what[200];

	if (hc && hc->role != CERT_RELAY && strcmp(hc->name, pi->origin) != 0) {
		trust_cert_str(hc, what, sizeof(what));
		sbuf_printf(why, "hop %s has role %s: it may hand over its own packets only, "
			    "not one from %s", what, cert_role_name(hc->role), pi->origin);
		return -1;
	}
	if (pi->has_cert && trust_learn(S->cf, &pi->cert) == 1) {
		trust_cert_str(&pi->cert, what, sizeof(what));
		msg_info("learned %s from packet %s", what, pi->id);
		pass_on(&pi->cert, hop_peer(h) ? hop_peer(h)->name : NULL);
	}
	return 0;
}

int
control_held(const char *bay, const struct order *o)
{
	struct pubkey pk;
	struct pkt_info pi;
	char data[PATH_MAX], why[600];
	int rc = 0;

	if (S->cf->nauth == 0 || strcmp(o->origin, S->cf->node) == 0 ||
	    bay_data_path(data, sizeof(data), bay, o->id) < 0 || packet_file_header(data, &pi) < 0)
		return 0;	/* what cannot be read here fails where it is sent */
	if (pi.has_cert)
		rc = trust_check_revoked(S->cf, &pi.cert);
	else if (trust_node_key(S->cf, S->keys, o->origin, &pk) == TK_NONE)
		rc = -1;	/* its pinned key or learned certificate: revoked since */
	if (rc < 0) {
		snprintf(why, sizeof(why), "origin %s", err_get());
		err_set("%s", why);
	}
	pkt_info_free(&pi);
	return rc;
}

/* TRUST-DIR/announced: the digest of the certificate last announced. */
static int
announced(const char *hex, int write)
{
	char path[PATH_MAX], *old;
	int same;

	if (path_fmt(path, sizeof(path), "%s/announced", S->cf->trust_dir) < 0)
		return 0;
	if (write) {
		char line[80];

		snprintf(line, sizeof(line), "%s\n", hex);
		mkdirs(S->cf->trust_dir, 0700);
		return safe_write(S->cf->trust_dir, "announced", line, strlen(line), 0600);
	}
	if ((old = read_file(path, 256, NULL)) == NULL)
		return 0;
	same = strncmp(old, hex, strlen(hex)) == 0;
	free(old);
	return same;
}

int
control_announce(void)
{
	struct strv to = {0};
	char hex[2 * SHA256_LEN + 1] = "";
	int changed = 0, fails = 0;

	if (S->keys->cert) {
		uint8_t d[SHA256_LEN];

		sha256(S->keys->cert, S->keys->certlen, d);
		hex_encode(d, sizeof(d), hex);
		changed = !announced(hex, 0);
	}
	flood_targets(S->cf, NULL, &to);
	for (int i = 0; i < to.n; i++) {
		const struct peer *p = config_peer(S->cf, to.v[i]);
		struct pubkey pk;
		struct hop *h;

		if (p == NULL || (!changed && trust_node_key(S->cf, S->keys, to.v[i], &pk) != TK_NONE))
			continue;
		if ((h = hop_connect_via(S->cf, S->keys, p, S->cf->io_timeout,
					 peer_udp_first(&S->sched, to.v[i], time(NULL)) ?
					 HOP_UDP_FIRST : 0)) == NULL) {
			msg_info("announce: %s (%s port %d) not reached: %s; it learns this node's "
				 "certificate when they next connect", to.v[i], p->host, p->port,
				 err_get());
			fails++;
			continue;
		}
		control_hop(h);
		xmsg_send_bye(h);
		hop_close(h);
		if (S->keys->cert)
			msg_info("announce: shook hands with %s", to.v[i]);
	}
	if (changed && fails == 0 && announced(hex, 1) < 0)
		msg_warnx("announce: %s", err_get());
	strv_free(&to);
	return fails ? 75 : 0;
}

void
control_exited(int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		S->trust_tries = 0;
		S->trust_due = 0;
		return;
	}
	if (S->poll_mode || S->stopping)
		return;
	/* a neighbour was down: try again with the queue's back-off */
	S->trust_tries++;
	S->trust_due = time(NULL) + bay_backoff(S->cf, S->trust_tries);
}

void
control_tick(void)
{
	if (S->trust_due && time(NULL) >= S->trust_due) {
		S->trust_due = 0;
		control_start();
	}
}

void
control_start(void)
{
	struct job *j;

	if (S->cf->nauth == 0 && S->keys->cert == NULL)
		return;		/* nothing to learn or announce: pinned keys only */
	j = xcalloc(1, sizeof(*j));
	j->kind = J_TRUST;
	j->statfd = -1;
	if (!pool_make_room() || master_fork(j) < 0)
		job_free(j);
}

/*
 * receiver.c - the receive worker, one inbound hop per child. For each
 * OFFER it checks, before accepting a byte of body: the order parses, the
 * packet's outer header is signed by a known origin and agrees with the
 * order, the class exists, the id was not accepted before (else HAVE),
 * this node is not already on the route (cyclic), the size fits the
 * packet and bay limits and the disk floor (else temporary "bay full").
 * The body goes to the bay's partial transfer (bay_partial_open: kept
 * across a dropped connection so the next attempt resumes) and through the
 * streaming verifier on the way (packet_verifier_*: header signature, body
 * hash, trailer signature; a resumed transfer first feeds it what the last
 * attempt left), so the file is never read back; a header that fails is
 * refused at once, and the whole file must verify, and be the packet
 * offered, before it is committed with bay_accept (its data, then its
 * order with the packet digest the verifier yields), and only then ACKed.
 * What fails verification is kept in corrupt/ with a .why. Anything
 * refused is logged with the peer and the reason.
 */
#include "shipd.h"
#include "../crypto/crypto.h"
#include "../packet/packet.h"
#include "../wire/wire.h"
#include "../wire/xfer.h"
#include "../util/addr.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>


static int recv_orders;			/* accepted over this hop (queue/peerfile.h) */
static uint64_t recv_bytes;

static uint8_t *msg;

/* Was this order id accepted here before (or is it queued here now)? */
static int
known_here(const char *id)
{
	struct strv bays = {0};
	enum qstate st;
	int found = 0;

	bay_all(S->cf, &bays);
	for (int i = 0; i < bays.n && !found; i++)
		found = bay_seen(bays.v[i], id) || bay_find(bays.v[i], id, &st) == 0;
	strv_free(&bays);
	return found;
}

static int
refuse(struct hop *h, int type, const char *id, const char *why)
{
	const struct peer *p = hop_peer(h);

	msg_warnx("refused packet %s from %s (%s) via %s: %s", id ? id : "(unknown)",
		  p ? p->name : "?", hop_remote(h), hop_proto(h), why);
	return xfer_send_str(h, type, why);
}

/* Check an OFFER; on success *bayp is the bay to receive into. */
static int
check_offer(struct hop *h, struct order *o, struct pkt_info *pi, const uint8_t *hdr,
	    size_t hdrlen, const char **bayp, int *reply, struct sbuf *why)
{
	const struct sclass *cls;
	char base[ORDER_ID_MAX];

	*reply = XF_REFUSE;
	if (packet_check_header(S->cf, hdr, hdrlen, pi) <= 0) {
		sbuf_puts(why, err_get());
		return -1;
	}
	if (control_offer(h, pi, why) < 0)	/* a hop's role; learns the origin's certificate */
		return -1;
	if (order_packet_id(o->id, base, sizeof(base)) < 0)
		base[0] = 0;
	if (strcmp(base, pi->id) != 0 || strcmp(o->origin, pi->origin) != 0 ||
	    o->size != pi->file_size) {
		sbuf_printf(why, "order does not match the signed packet header "
			    "(id %s/%s, origin %s/%s, size %llu/%llu)", o->id, pi->id, o->origin,
			    pi->origin, (unsigned long long)o->size,
			    (unsigned long long)pi->file_size);
		return -1;
	}
	/* notify is the origin's, signed in the header: never a hop's word */
	if (o->notify ? strcmp(o->notify, pi->notify) != 0 : pi->notify[0] != 0) {
		msg_warnx("packet %s from %s: the order's notify \"%s\" is not the one the origin "
			  "signed (\"%s\"): using the signed one", o->id,
			  hop_peer(h) ? hop_peer(h)->name : "?",
			  o->notify ? o->notify : "", pi->notify);
		free(o->notify);
		o->notify = pi->notify[0] ? xstrdup(pi->notify) : NULL;
	}
	/* a class not defined here is kept in -default (shipping.conf(5)) */
	if ((cls = config_class(S->cf, o->sclass)) == NULL) {
		char key[160];

		cls = config_class_or_default(S->cf, o->sclass);
		snprintf(key, sizeof(key), "class %s", o->sclass);
		if (once_first(key))
			msg_info("class %s is not defined here: its packets are stored in class %s "
				 "(logged once)", o->sclass, cls->name);
	}
	if (o->dests.n == 0) {
		sbuf_puts(why, "no destinations");
		return -1;
	}
	for (int i = 0; i < o->dests.n; i++) {
		const char *d = o->dests.v[i];

		if (!strv_has(&pi->dests, d)) {
			sbuf_printf(why, "destination %s is not among the packet's signed "
				    "destinations", d);
			return -1;
		}
	}
	if (known_here(o->id)) {
		*reply = XF_HAVE;
		return -1;
	}
	if (strv_has(&o->hops, S->cf->node)) {
		sbuf_printf(why, "cyclic delivery route: %s already passed through %s",
			    o->id, S->cf->node);
		return -1;
	}
	if (o->size > S->cf->max_data_size) {
		sbuf_printf(why, "packet of %llu bytes exceeds MAX-DATA-SIZE %llu",
			    (unsigned long long)o->size, (unsigned long long)S->cf->max_data_size);
		return -1;
	}
	if (S->cf->bay_size_limit && o->size > S->cf->bay_size_limit) {
		sbuf_printf(why, "packet of %llu bytes exceeds BAY-SIZE-LIMIT %llu",
			    (unsigned long long)o->size, (unsigned long long)S->cf->bay_size_limit);
		return -1;
	}
	*bayp = o->returning ? cls->return_bay : bay_choose(cls);
	/* "busy": temporary, about room, never about reaching us (the sender
	 * defers the order and keeps the hop up); a destination needs room to
	 * unpack too (shipping.conf(5), MIN-FREE-DISK) */
	if (bay_room_ok(S->cf, *bayp, o->size, o->returning || !strv_has(&o->dests, S->cf->node) ?
			0 : pi->total_size) < 0) {
		*reply = XF_TEMPFAIL;
		sbuf_printf(why, "busy, no room: %s", err_get());
		return -1;
	}
	return 0;
}

/* Feed the verifier what a previous attempt left, so it sees the whole
 * file; -1 if that cannot be read or is already bad (start afresh). */
static int
rehash(int fd, struct pkt_verifier *v, uint64_t len)
{
	uint64_t done = 0;

	while (done < len) {
		size_t want = len - done < HOP_MAX_MSG ? len - done : HOP_MAX_MSG;
		ssize_t n = pread(fd, msg, want, done);

		if (n <= 0 || packet_verifier_feed(v, msg, n) < 0)
			return -1;
		done += n;
	}
	return 0;
}

static int
take_offer(struct hop *h, const uint8_t *p, size_t n)
{
	const uint8_t *hdr;
	const char *text, *bay = NULL, *peer = hop_peer(h) ? hop_peer(h)->name : "?";
	size_t hdrlen, textlen;
	struct order o;
	struct pkt_info pi;
	struct sbuf why = {0};
	char offered[ORDER_ID_MAX], *otext;
	const struct order *accept[1];
	struct pkt_verifier *v = NULL;
	uint64_t off = 0, got;
	int reply, fd = -1, type, rc = -1;
	ssize_t m;

	memset(&pi, 0, sizeof(pi));
	order_init(&o);
	if (xfer_parse_offer(p, n, &hdr, &hdrlen, &text, &textlen) < 0) {
		refuse(h, XF_REFUSE, NULL, "malformed offer");
		goto out;
	}
	otext = xstrndup(text, textlen);
	if (order_parse(otext, textlen, &o) < 0) {
		sbuf_printf(&why, "malformed order: %s", err_get());
		free(otext);
		refuse(h, XF_REFUSE, NULL, why.s);
		goto out;
	}
	free(otext);
	if (check_offer(h, &o, &pi, hdr, hdrlen, &bay, &reply, &why) < 0) {
		if (reply == XF_HAVE) {
			msg_info("packet %s from %s: already accepted here; acknowledged again",
				 o.id, peer);
			rc = xfer_send(h, XF_HAVE, NULL, 0);
		} else
			rc = refuse(h, reply, o.id, why.s);
		goto out;
	}
	/* resume what an interrupted transfer of this packet left */
	if ((fd = bay_partial_open(bay, o.id, o.size, &off)) < 0) {
		if (fd == BAY_BUSY)
			rc = refuse(h, XF_TEMPFAIL, o.id, err_get());
		else {
			msg_warnx("packet %s: partial file in %s: %s", o.id, bay, err_get());
			rc = refuse(h, XF_TEMPFAIL, o.id, "cannot create a temporary file");
		}
		fd = -1;
		goto out;
	}
	if (off == 0 && ftruncate(fd, 0) < 0)
		goto out;
	v = packet_verifier_new(S->cf, o.id);
	if (off && rehash(fd, v, off) < 0) {
		msg_info("packet %s from %s: the last attempt's %llu bytes do not verify; "
			 "starting afresh", o.id, peer, (unsigned long long)off);
		off = 0;
		packet_verifier_free(v);
		v = packet_verifier_new(S->cf, o.id);
		if (ftruncate(fd, 0) < 0)
			goto out;
	}
	if (lseek(fd, off, SEEK_SET) < 0 || xfer_send_offset(h, off) < 0)
		goto out;
	for (got = off;;) {
		if ((m = xfer_recv(h, &type, msg, HOP_MAX_MSG, S->cf->io_timeout)) < 0) {
			msg_warnx("packet %s from %s: transfer interrupted at byte %llu of %llu: %s",
				  o.id, peer, (unsigned long long)got, (unsigned long long)o.size,
				  err_get());
			fsync(fd);	/* keep it for the resume */
			goto out;
		}
		if (type == XF_END)
			break;
		if (type != XF_DATA) {
			rc = refuse(h, XF_REFUSE, o.id, "unexpected message during data");
			goto out;
		}
		if (got + m > o.size) {
			bay_partial_drop(bay, o.id);
			rc = refuse(h, XF_REFUSE, o.id, "more data than announced");
			goto out;
		}
		/* what fails before the end (a header that does not verify) is
		 * refused at once: it costs no more disk than what came so far */
		if (packet_verifier_feed(v, msg, m) < 0) {
			sbuf_puts(&why, err_get());
			bay_partial_drop(bay, o.id);
			rc = refuse(h, XF_REFUSE, o.id, why.s);
			goto out;
		}
		if (write_all(fd, msg, m) < 0) {
			int e = errno;

			sbuf_printf(&why, "%s: %s", e == ENOSPC || e == EDQUOT ? "bay full" :
				    "write error", strerror(e));
			ftruncate(fd, got);
			rc = refuse(h, XF_TEMPFAIL, o.id, why.s);
			goto out;
		}
		got += m;
		sandbox_test_hook("receiver-data");	/* test builds: a forbidden call */
	}
	if (got != o.size) {
		sbuf_printf(&why, "truncated: %llu of %llu bytes", (unsigned long long)got,
			    (unsigned long long)o.size);
		bay_partial_drop(bay, o.id);
		rc = refuse(h, XF_REFUSE, o.id, why.s);
		goto out;
	}
	if (fsync(fd) < 0) {
		sbuf_printf(&why, "bay full: fsync: %s", strerror(errno));
		rc = refuse(h, XF_TEMPFAIL, o.id, why.s);
		goto out;
	}
	snprintf(offered, sizeof(offered), "%s", pi.id);
	pkt_info_free(&pi);
	memset(&pi, 0, sizeof(pi));
	if (packet_verifier_end(v, &pi) < 0 || strcmp(pi.id, offered) != 0) {
		if (pi.id[0] && strcmp(pi.id, offered) != 0)
			sbuf_printf(&why, "packet %s: the file is packet %s, not the one offered",
				    offered, pi.id);
		else
			sbuf_puts(&why, err_get());
		/* keep the refused file for the administrator, with the reason */
		if (bay_partial_corrupt(bay, o.id, why.s) < 0) {
			msg_warnx("packet %s: cannot keep it in corrupt/: %s", o.id, err_get());
			bay_partial_drop(bay, o.id);
		}
		rc = refuse(h, XF_REFUSE, o.id, why.s);
		goto out;
	}
	hex_encode(pi.digest, sizeof(pi.digest), o.digest);
	/*
	 * commit: data, then the order (acceptance), then ACK. No seen/ marker
	 * here: while the order exists in any state known_here() finds it, and
	 * bay_finish() writes the marker before it removes the order.
	 */
	strv_add(&o.hops, S->cf->node);
	o.attempts = 0;
	o.next_attempt = 0;
	free(o.last_error);
	o.last_error = NULL;
	accept[0] = &o;
	if (bay_accept(bay, accept, 1) < 0) {
		/* not accepted: the bytes stay in partial/ to resume */
		sbuf_printf(&why, "bay full: cannot commit: %s", err_get());
		rc = refuse(h, XF_TEMPFAIL, o.id, why.s);
		goto out;
	}
	rc = xfer_send(h, XF_ACK, NULL, 0);
	{
		struct sbuf d = {0};

		for (int i = 0; i < o.dests.n; i++)
			sbuf_printf(&d, "%s%s", i ? "," : "", o.dests.v[i]);
		msg_info("received %s from %s (%s) via %s: %llu bytes%s for %s into %s", o.id, peer,
			 hop_remote(h), hop_proto(h), (unsigned long long)(got - off),
			 off ? " (resumed)" : "", d.s, bay);
		recv_orders++;
		recv_bytes += got - off;
		sbuf_free(&d);
	}
out:
	packet_verifier_free(v);
	if (fd >= 0)
		close(fd);
	pkt_info_free(&pi);
	order_free(&o);
	sbuf_free(&why);
	return rc;
}

static int
serve(struct hop *h)
{
	int type;
	ssize_t n;

	msg = xmalloc(HOP_MAX_MSG);
	control_hop(h);		/* a certificate it showed may be news here */
	for (;;) {
		if ((n = xfer_recv(h, &type, msg, HOP_MAX_MSG, S->cf->io_timeout)) < 0) {
			msg_info("hop from %s (%s) closed: %s", hop_peer(h)->name, hop_remote(h),
				 err_get());
			break;
		}
		if (type == XF_BYE)
			break;
		if (type != XF_OFFER) {
			refuse(h, XF_REFUSE, NULL, "expected OFFER");
			break;
		}
		if (take_offer(h, msg, n) < 0)
			break;
	}
	if (recv_orders)
		peer_note(&S->sched, hop_peer(h)->name, PE_RECEIVED, hop_proto(h), NULL, recv_orders, recv_bytes);
	hop_close(h);
	return 0;
}

int
receiver_tcp(int fd, const struct sockaddr *from)
{
	char who[128];
	struct hop *h;

	sandbox_enter(SANDBOX_RECEIVER);	/* before a byte from the network */
	h = hop_accept_tcp(S->cf, S->keys, fd, S->cf->io_timeout < 15 ? S->cf->io_timeout : 15);
	if (h == NULL) {
		msg_warnx("refused hop from %s via tcp: %s", addr_str(from, who, sizeof(who)),
			  err_get());
		return 1;
	}
	return serve(h);
}

int
receiver_udp(const void *dgram, size_t len, const struct sockaddr *from, socklen_t fromlen)
{
	char who[128];
	struct hop *h;

	sandbox_enter(SANDBOX_RECEIVER);
	h = hop_accept_udp(S->cf, S->keys, dgram, len, from, fromlen,
			   S->cf->io_timeout < 15 ? S->cf->io_timeout : 15);
	if (h == NULL) {
		msg_warnx("refused hop from %s via udp: %s", addr_str(from, who, sizeof(who)),
			  err_get());
		return 1;
	}
	return serve(h);
}

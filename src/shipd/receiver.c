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
 *
 * Before that, the worker is at the door (door.c): its handshake must end
 * within HANDSHAKE-TIMEOUT, then it asks the master for one of the
 * MAX-RECEIVERS slots; when none is free it answers the peer's offers
 * with a temporary "busy" refusal (busy() below), and takes nothing.
 */
#include "shipd.h"
#include "../global/accept.h"
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

static int
refuse(struct hop *h, int type, const char *id, const char *why)
{
	const struct peer *p = hop_peer(h);

	msg_warnx("refused packet %s from %s (%s) via %s: %s", id ? id : "(unknown)",
		  p ? p->name : "?", hop_remote(h), hop_proto(h), why);
	return xfer_send_str(h, type, why);
}

/* Check an OFFER (its header through v, which then verifies the data);
 * on success *bayp is the bay to receive into. */
static int
check_offer(struct hop *h, struct pkt_verifier *v, struct order *o, struct pkt_info *pi,
	    const uint8_t *hdr, size_t hdrlen, const char **bayp, int *reply, struct sbuf *why)
{
	*reply = XF_REFUSE;
	/* the header's signature, verified once: v knows it when it comes
	 * again at the start of the data */
	if (packet_verifier_offer(v, hdr, hdrlen, pi) <= 0) {
		sbuf_puts(why, err_get());
		return -1;
	}
	if (control_offer(h, pi, why) < 0)	/* a hop's role; learns the origin's certificate */
		return -1;
	/* the custody rules shared with the directory import */
	switch (accept_check(S->cf, hop_peer(h) ? hop_peer(h)->name : "?", o, pi, bayp,
			     once_first, why)) {
	case ACC_OK:
		return 0;
	case ACC_HAVE:
		*reply = XF_HAVE;
		return -1;
	case ACC_LATER:
		*reply = XF_TEMPFAIL;
		return -1;
	case ACC_REFUSE:
		return -1;
	default:
		msg_panic("accept_check: unknown verdict");
	}
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
	struct pkt_verifier *v = NULL;
	uint64_t off = 0, got;
	off_t wb;			/* where writeback was last started */
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
	v = packet_verifier_new(S->cf, o.id);
	if (check_offer(h, v, &o, &pi, hdr, hdrlen, &bay, &reply, &why) < 0) {
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
	if (off && rehash(fd, v, off) < 0) {
		struct pkt_info again;

		msg_info("packet %s from %s: the last attempt's %llu bytes do not verify; "
			 "starting afresh", o.id, peer, (unsigned long long)off);
		off = 0;
		packet_verifier_free(v);
		v = packet_verifier_new(S->cf, o.id);
		if (packet_verifier_offer(v, hdr, hdrlen, &again) <= 0 || ftruncate(fd, 0) < 0) {
			pkt_info_free(&again);
			goto out;
		}
		pkt_info_free(&again);
	}
	/* the disk's room for the rest, taken now: concurrent receivers that
	 * all passed the first look must not all count the same free bytes */
	if (accept_reserve(S->cf, bay, fd, off, &o, &pi, &why) != ACC_OK) {
		if (off == 0)
			bay_partial_drop(bay, o.id);
		rc = refuse(h, XF_TEMPFAIL, o.id, why.s);
		goto out;
	}
	if (lseek(fd, off, SEEK_SET) < 0 || xfer_send_offset(h, off) < 0)
		goto out;
	wb = (off_t)off;
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
		writeback_start(fd, &wb, (off_t)got);
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
	/* commit: data, then the order (acceptance), then ACK */
	if (accept_commit(S->cf, bay, &o, &pi) < 0) {
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
		/* the sender paused (its batch done; it may keep the connection,
		 * shipd/pool.c): `shipctl peers` learns what came so far */
		if (recv_orders && hop_reusable(h)) {
			peer_note(&S->sched, hop_peer(h)->name, PE_RECEIVED, hop_proto(h), NULL,
				  recv_orders, recv_bytes);
			recv_orders = 0;
			recv_bytes = 0;
		}
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
	/* everything it took is committed and answered: the slot is free for
	 * the next hop now, not when this process has been reaped (door.c) */
	door_tell(S->statfd, "D");
	if (recv_orders)
		peer_note(&S->sched, hop_peer(h)->name, PE_RECEIVED, hop_proto(h), NULL, recv_orders, recv_bytes);
	hop_close(h);
	return 0;
}

/*
 * No receiver slot: every offer is refused for now (the sender defers it,
 * the next hop stays up) until the peer says BYE or is silent for
 * HANDSHAKE-TIMEOUT; meanwhile the worker is still at the door, where a
 * newcomer may evict it.
 */
static int
busy(struct hop *h)
{
	char why[128];
	int type;

	snprintf(why, sizeof(why), XF_BUSY_REASON " all %d receivers are taken; try again later",
		 S->cf->max_receivers);
	msg = xmalloc(HOP_MAX_MSG);
	while (xfer_recv(h, &type, msg, HOP_MAX_MSG, S->cf->handshake_timeout) >= 0 &&
	       type == XF_OFFER)
		if (xfer_send_str(h, XF_TEMPFAIL, why) < 0)
			break;
	hop_close(h);
	return 0;
}

/* An authenticated hop: serve it if the master gives us a slot. */
static int
admitted(struct hop *h)
{
	switch (door_ask(S->statfd, hop_peer(h)->name, S->cf->handshake_timeout)) {
	case 1:
		return serve(h);
	case 0:
		return busy(h);
	default:
		msg_warnx("hop from %s (%s): %s", hop_peer(h)->name, hop_remote(h), err_get());
		hop_close(h);
		return 1;
	}
}

int
receiver_tcp(int fd, const struct sockaddr *from)
{
	char who[128], name[256];
	time_t t0;
	int left;
	struct hop *h;
	const struct peer *p;

	sandbox_enter(SANDBOX_RECEIVER);	/* before a byte from the network */
	t0 = time(NULL);
	/* a HELLO naming a peer of ours ranks this connection above silent
	 * ones at the door (door.c); the handshake proves it or not */
	if (hop_peek_hello(fd, S->cf->handshake_timeout * 1000, name, sizeof(name)) &&
	    (p = config_peer(S->cf, name)) != NULL && p->host && (p->has_key || S->cf->nauth))
		door_tell(S->statfd, "H");
	if ((left = S->cf->handshake_timeout - (int)(time(NULL) - t0)) <= 0) {
		msg_warnx("refused hop from %s via tcp: timeout in handshake (HANDSHAKE-TIMEOUT %ds)",
			  addr_str(from, who, sizeof(who)), S->cf->handshake_timeout);
		close(fd);
		return 1;
	}
	h = hop_accept_tcp(S->cf, S->keys, fd, left);
	if (h == NULL) {
		msg_warnx("refused hop from %s via tcp: %s", addr_str(from, who, sizeof(who)),
			  err_get());
		return 1;
	}
	return admitted(h);
}

int
receiver_udp(const void *dgram, size_t len, const struct sockaddr *from, socklen_t fromlen)
{
	char who[128];
	struct hop *h;

	sandbox_enter(SANDBOX_RECEIVER);
	h = hop_accept_udp(S->cf, S->keys, dgram, len, from, fromlen, S->cf->handshake_timeout);
	if (h == NULL) {
		msg_warnx("refused hop from %s via udp: %s", addr_str(from, who, sizeof(who)),
			  err_get());
		return 1;
	}
	return admitted(h);
}

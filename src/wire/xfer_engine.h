/*
 * xfer_engine.h - the two ends of hop protocol 4's window (xfer.h) as
 * engines that know nothing of bays or packets: the caller plugs in what
 * to do with an order through callbacks.
 *
 * xsend (xfer_send.c): the sending end of one connection. The caller
 * hands it orders (an open packet file, its header, the order text) while
 * the window has room; it offers each at once (inline when the file is
 * small), streams accepted bodies one after the other, reads answers
 * between two DATA messages, and reports each order's final answer: ACK
 * or HAVE (custody moved), TEMPFAIL, REFUSE, or XS_LOST when the
 * connection broke first (the order stays the caller's, resumable).
 *
 * xrecv (xfer_recv.c): the receiving end. For each OFFER the caller
 * decides (accept with a resume offset, HAVE, refuse ...); body bytes go
 * to the caller in order per slot; a complete order waits for a group
 * commit, which the engine asks for when its input runs dry (or
 * XR_GROUP_MAX orders, XR_GROUP_BYTES or XR_GROUP_WAIT_US are reached) and
 * then acknowledges every committed order in one ACK. A connection lost
 * mid-window releases every open slot (the caller keeps what it has for
 * the resume).
 *
 * Layer src/wire/. Never touches a bay, never parses a packet, never
 * keeps a byte of body beyond the message in hand.
 */
#ifndef SHIPD_XFER_ENGINE_H
#define SHIPD_XFER_ENGINE_H

#include <stdint.h>
#include <sys/types.h>
#include "xfer.h"

/* ---- sending ---- */

#define XS_LOST		(-1)	/* answer: the connection broke before one came */

struct xs_item {
	void *ctx;			/* the caller's; handed back with the answer */
	const char *id;			/* for messages */
	int fd;				/* the packet file, open for reading */
	uint64_t size;			/* its size */
	const uint8_t *hdr;		/* its signed header (the OFFER carries it) */
	size_t hdrlen;
	const char *order;		/* the order as this hop hands it over */
	size_t orderlen;
	/*
	 * NULL for a file complete on disk. For one still being written (a
	 * relay's cut-through): the bytes there from off on, never beyond
	 * size, after a short bounded wait (0: none yet, asked again on the
	 * next pump; -1: give up, the order is aborted and answered XS_LOST).
	 */
	int64_t (*ready)(void *ctx, uint64_t off);
};

struct xs_ops {
	/* The order's final answer: XF_ACK, XF_HAVE, XF_TEMPFAIL, XF_REFUSE
	 * (why: the peer's reason) or XS_LOST (why: ours). The item is the
	 * caller's again from here on. */
	void (*answer)(void *arg, void *ctx, int type, const char *why);
	/* Body bytes sent so far (progress records); may be NULL. */
	void (*progress)(void *arg, void *ctx, uint64_t off, uint64_t size);
	/* ACCEPT: the body goes from off (> 0: a resume); may be NULL. */
	void (*accepted)(void *arg, void *ctx, uint64_t off, uint64_t size);
};

struct xsend;
/* Start on a hop (the caller keeps owning it). */
struct xsend *xsend_new(struct hop *h, const struct xs_ops *ops, void *arg);
/* Free slots in the window (0 once the connection broke). */
int xsend_room(const struct xsend *s);
int xsend_open(const struct xsend *s);		/* slots open */
int xsend_broken(const struct xsend *s);
/* Answers received so far on this connection (0: it never worked). */
unsigned long xsend_answers(const struct xsend *s);
/* Offer one order now; the item must stay valid until its answer. 0, or
 * -1 when the connection broke (every open order is then answered XS_LOST). */
int xsend_offer(struct xsend *s, const struct xs_item *it);
/*
 * Read the answers that are there and stream accepted bodies; when there
 * is nothing to send, wait up to timeout_ms for an answer. 0, or -1 when
 * the connection broke (every open order answered XS_LOST).
 */
int xsend_pump(struct xsend *s, int timeout_ms);
/* Nothing open any more: say BYE. */
int xsend_bye(struct xsend *s);
/* Give up: every open order is answered XS_LOST with why. */
void xsend_abandon(struct xsend *s, const char *why);
void xsend_free(struct xsend *s);

/* ---- receiving ---- */

#define XR_COMPLETE	1	/* offer/body: every byte is in; commit it */
#define XR_ABORT	2	/* offer: the connection is to carry nothing more (why) */
enum { XR_COMMITTED, XR_ANSWERED, XR_REFUSED, XR_CUT };	/* release: how */
#define XR_GROUP_MAX	64
#define XR_GROUP_BYTES	(64ULL << 20)
#define XR_GROUP_WAIT_US	20000

struct xr_ops {
	/*
	 * An OFFER (m: header, order, and with XF_INLINE the rest of the
	 * file). Return XF_ACCEPT with *offset (where the body should start)
	 * and *size (the file's), XR_COMPLETE when every byte is in already
	 * (inline: the callback has taken m's bytes; or a complete earlier
	 * attempt), or XF_HAVE, XF_TEMPFAIL, XF_REFUSE with why, or XR_ABORT
	 * with why: the connection is closed at once, nothing answered (the
	 * sender offers its open orders again on a new one). *ctx is the
	 * caller's for this order (set it even when refusing, or leave NULL).
	 */
	int (*offer)(void *arg, const struct xmsg *m, void **ctx, uint64_t *offset,
		     uint64_t *size, char *why, size_t whylen);
	/* Body bytes at off (in order, never beyond size). 0, XR_COMPLETE
	 * after the last, or XF_TEMPFAIL / XF_REFUSE with why (closed). */
	int (*body)(void *arg, void *ctx, uint64_t off, const uint8_t *p, size_t n, char *why,
		    size_t whylen);
	/* Make every order of the group durable; ok[i] = 1 committed (it is
	 * ACKed), else why[i] (a TEMPFAIL reason). */
	void (*commit)(void *arg, void **ctx, int n, int *ok, char (*why)[XF_REASON_MAX + 1]);
	/*
	 * The slot is closed; free ctx. how: XR_COMMITTED (ACK sent),
	 * XR_ANSWERED (the callback's own answer: it has done what that
	 * needs), XR_REFUSED (the engine refused it, why: truncated, more data
	 * than announced: log it, drop what came), XR_CUT (aborted by the
	 * sender or the connection lost, why: keep what can be resumed).
	 */
	void (*release)(void *arg, void *ctx, int how, const char *why);
};

struct xr_stats {
	unsigned long offers, inline_offers, acked, have, refused, tempfail, aborted;
	unsigned long commits;		/* group commits made */
	unsigned long bytes;		/* body bytes taken */
};

/*
 * Serve one connection until BYE, close, or io_s of silence. 0 on a clean
 * end, -1 (err_set) when it broke; every open slot is released.
 */
int xrecv_serve(struct hop *h, const struct xr_ops *ops, void *arg, int io_s,
		struct xr_stats *st);

#endif

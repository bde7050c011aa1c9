/*
 * xfer.h - the transfer protocol spoken over an authenticated hop (wire.h),
 * hop protocol version 5: a window of orders in flight on one connection.
 * Each message is one hop message: a type byte and a payload; integers are
 * big-endian. DATA's bytes and an inline OFFER's file are the message's
 * body (hop_send_body): sent as they are, authenticated with the encrypted
 * rest of the message (version 5; 4 encrypted them again). `slot` is a
 * number the sender gives each order it offers on a connection, starting
 * at 1 and only growing (never reused).
 *
 *   sender                              receiver
 *   OFFER slot flags hdrlen orderlen header order [file]  ->
 *        (up to XF_WINDOW offers open, sent without waiting)
 *                                    <- ACCEPT slot offset | HAVE slot
 *                                       | TEMPFAIL slot reason | REFUSE slot reason
 *   DATA slot offset bytes ...       ->  (from offset, slot after slot)
 *   [END slot: the file ended early] ->
 *                                    <- ACK n slot... (after one group commit)
 *                                       | TEMPFAIL slot reason | REFUSE slot reason
 *   ABORT slot reason                ->  (the sender gives a slot up)
 *   BYE                              ->  (nothing open any more)
 *
 * OFFER carries the packet's signed outer header (checked before a byte of
 * body is accepted) and the order as this hop hands it over (the receiver
 * takes custody of exactly the destinations listed); with the INLINE flag
 * it also carries the rest of the packet file (a file of at most
 * XF_INLINE_MAX bytes travels in its offer: no ACCEPT round trip). ACK is
 * sent only after the receiver's copies and orders are fsynced; it names
 * every order of one group commit. HAVE means the packet id was accepted
 * here before (custody already moved). TEMPFAIL is retry-later (bay full,
 * busy); REFUSE is permanent (unroutable, cyclic, forged). A slot closes on
 * its final answer (ACK, HAVE, TEMPFAIL, REFUSE) or the sender's ABORT;
 * an order whose slot was open when the connection broke is the sender's
 * still, and is offered again later (the receiver resumes it).
 *
 * "Busy" (since the door): a TEMPFAIL whose reason begins with
 * XF_BUSY_REASON ("busy:") says this receiver has no free slot
 * (MAX-RECEIVERS) right now; nothing is wrong with the order, the hop or
 * the connection, and every further OFFER on that connection gets the
 * same answer. The sender says BYE (once its other slots are answered)
 * and offers those orders again shortly over a new connection. Other
 * temporary reasons never start with "busy:" (a full bay says "busy, no
 * room: ...").
 *
 * This file: the messages (parse, send). The two ends of the window are
 * xfer_engine.h.
 */
#ifndef SHIPD_XFER_H
#define SHIPD_XFER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "wire.h"

enum xfer_type {
	XF_OFFER = 'O',
	XF_ACCEPT = 'A',
	XF_HAVE = 'H',
	XF_TEMPFAIL = 'T',
	XF_REFUSE = 'R',
	XF_DATA = 'D',
	XF_END = 'E',
	XF_ACK = 'K',
	XF_ABORT = 'X',
	XF_BYE = 'B',
};

#define XF_WINDOW	128		/* orders open on one connection, at most */
#define XF_INLINE_MAX	(64 * 1024)	/* the largest file sent inside its OFFER */
#define XF_REASON_MAX	256
#define XF_OFFER_HEAD	13		/* slot, flags, hdrlen, orderlen */
#define XF_DATA_HEAD	12		/* slot, offset */
#define XF_DATA_MAX	(HOP_MAX_MSG - 1 - XF_DATA_HEAD)	/* body bytes per DATA */
#define XF_ACK_MAX	XF_WINDOW	/* slots named by one ACK */
#define XF_INLINE	0x01		/* OFFER flag: the rest of the file follows */

/* One parsed message; pointers point into the buffer it was parsed from. */
struct xmsg {
	int type;
	uint32_t slot;
	unsigned flags;
	const uint8_t *hdr;		/* OFFER */
	size_t hdrlen;
	const char *order;
	size_t orderlen;
	const uint8_t *data;		/* OFFER with XF_INLINE: the file after the header; DATA */
	size_t datalen;
	uint64_t offset;		/* ACCEPT, DATA */
	const char *reason;		/* TEMPFAIL, REFUSE, ABORT */
	size_t reasonlen;
	unsigned nslots;		/* ACK */
	const uint8_t *slots;
};

/* Parse one message (type byte first); -1 (err_set) if malformed. */
int xmsg_parse(const uint8_t *p, size_t n, struct xmsg *m);
/*
 * Receive and parse the next message into buf (HOP_MAX_MSG bytes): 1, 0 when
 * the peer closed, -1 on error, timeout or a malformed message (err_set).
 */
int xmsg_recv(struct hop *h, uint8_t *buf, struct xmsg *m, int timeout_s);
uint32_t xmsg_ack_slot(const struct xmsg *m, unsigned i);
const char *xmsg_type_name(int type);

/* 1 if an OFFER with these lengths fits one hop message. */
int xmsg_offer_fits(size_t hdrlen, size_t orderlen, size_t restlen);
/* The senders take a staging buffer of HOP_MAX_MSG bytes (buf), so that
 * nothing is allocated per message. */
int xmsg_send_offer(struct hop *h, uint8_t *buf, uint32_t slot, unsigned flags,
		    const void *hdr, size_t hdrlen, const char *order, size_t orderlen,
		    const void *rest, size_t restlen);
int xmsg_send_accept(struct hop *h, uint32_t slot, uint64_t offset);
int xmsg_send_have(struct hop *h, uint32_t slot);
int xmsg_send_ack(struct hop *h, const uint32_t *slots, unsigned n);
/* TEMPFAIL, REFUSE, ABORT: the reason is cut to one printable line. */
int xmsg_send_reason(struct hop *h, int type, uint32_t slot, const char *reason);
int xmsg_send_end(struct hop *h, uint32_t slot);
int xmsg_send_bye(struct hop *h);
/* DATA: the n body bytes are at buf + 1 + XF_DATA_HEAD already (read there
 * by the caller, so they are never copied); fd >= 0: read from that file
 * at offset, so the kernel may send them from it (hop_send_body). */
int xmsg_send_data(struct hop *h, uint8_t *buf, uint32_t slot, uint64_t offset, size_t n,
		   int fd);
/* The same for bytes that are not end-to-end ciphertext (a packet's signed
 * header, readable text): the whole message encrypted. */
int xmsg_send_data_sealed(struct hop *h, uint8_t *buf, uint32_t slot, uint64_t offset,
			  size_t n);

#define XF_BUSY_REASON	"busy:"
/* Is this TEMPFAIL reason the receiver's "no free slot, try again shortly"? */
int xfer_is_busy(const uint8_t *reason, size_t n);

#endif

/*
 * xfer.h - the transfer protocol spoken over an authenticated hop (wire.h).
 * Each message is one hop message: a type byte and a payload.
 *
 *   sender                            receiver
 *   OFFER  hdrlen(4) header order  ->
 *                                  <- ACCEPT offset(8)  | HAVE
 *                                     | TEMPFAIL reason | REFUSE reason
 *   DATA bytes ... END             ->                     (from offset)
 *                                  <- ACK | TEMPFAIL reason | REFUSE reason
 *   (further OFFERs on the same hop)
 *   BYE                            ->
 *
 * OFFER carries the packet's signed outer header (checked before a byte of
 * body is accepted) and the order as this hop hands it over (the receiver
 * takes custody of exactly the destinations listed). ACK is sent only after
 * the receiver's copy and order are fsynced; HAVE means the packet id was
 * accepted here before (custody already moved). TEMPFAIL is retry-later
 * (bay full, busy); REFUSE is permanent (unroutable, cyclic, forged).
 *
 * "Busy" (hop protocol 3, since the door): a TEMPFAIL answering an OFFER
 * whose reason begins with XF_BUSY_REASON ("busy:") says this receiver
 * has no free slot (MAX-RECEIVERS) right now; nothing is wrong with the
 * order, the hop or the connection, and every further OFFER on that
 * connection gets the same answer. A sender that knows it says BYE and
 * tries again shortly over a new connection; one that does not (any
 * shipd speaking protocol 3) still reads a plain TEMPFAIL and defers the
 * order, as before. Other temporary reasons never start with "busy:"
 * (a full bay says "busy, no room: ...").
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
	XF_BYE = 'B',
};

#define XF_DATA_MAX	(HOP_MAX_MSG - 1)

int xfer_send(struct hop *h, int type, const void *p, size_t n);
int xfer_send_str(struct hop *h, int type, const char *s);
int xfer_send_offer(struct hop *h, const void *hdr, size_t hdrlen, const char *order);
int xfer_send_offset(struct hop *h, uint64_t off);

/* Receive one message into buf (size >= HOP_MAX_MSG recommended): returns
 * the payload length and sets *type; -1 on error/timeout/EOF (err_set). */
ssize_t xfer_recv(struct hop *h, int *type, uint8_t *buf, size_t size, int timeout_s);
/* Split an OFFER payload; -1 if malformed. */
int xfer_parse_offer(const uint8_t *p, size_t n, const uint8_t **hdr, size_t *hdrlen,
		     const char **order, size_t *orderlen);
const char *xfer_type_name(int type);

#define XF_BUSY_REASON	"busy:"
/* Is this TEMPFAIL reason the receiver's "no free slot, try again shortly"? */
int xfer_is_busy(const uint8_t *reason, size_t n);

#endif

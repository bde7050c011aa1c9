/*
 * udp_pair.h - two ends of a UDP transport over a socketpair, keys shared
 * and an RTT of 20 ms set as a handshake would have measured it, for the
 * module tests that carry (and may drop or change) each datagram by hand
 * (test_udp.c, test_udpbody.c). Include after wire/udp_int.h.
 */
#ifndef SHIPD_UDP_PAIR_H
#define SHIPD_UDP_PAIR_H

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct pair {
	int sv[2];
	struct hop *a, *b;
	struct peer pa, pb;
};

static void
pair_open(struct pair *x)
{
	uint8_t k1[AEAD_KEY_LEN], k2[AEAD_KEY_LEN];

	memset(x, 0, sizeof(*x));
	x->pa.name = "A";
	x->pb.name = "B";
	crypto_random(k1, sizeof(k1));
	crypto_random(k2, sizeof(k2));
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, x->sv) < 0)
		abort();
	fcntl(x->sv[0], F_SETFL, O_NONBLOCK);
	fcntl(x->sv[1], F_SETFL, O_NONBLOCK);
	x->a = wire_hop_new(x->sv[0], HOP_UDP, 0, 5, &x->pb, aead_new(k1), aead_new(k2), "a");
	x->b = wire_hop_new(x->sv[1], HOP_UDP, 1, 5, &x->pa, aead_new(k2), aead_new(k1), "b");
	rtt_update(&x->a->u->rtt, 20000, 0);
	rtt_update(&x->b->u->rtt, 20000, 0);
	x->a->u->first_rtt_t = x->b->u->first_rtt_t = wire_now_us();
}

static void
pair_close(struct pair *x)
{
	x->a->dead = x->b->dead = 1;
	hop_close(x->a);
	hop_close(x->b);
}

#endif

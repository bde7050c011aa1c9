/*
 * fuzz_xfer.c - libFuzzer target over what a receiver does with an OFFER
 * before it accepts a byte of body: parse the message (xmsg_parse, any of
 * hop protocol 4's transfer messages; an OFFER is then taken further),
 * parse the order, check the signed packet header against the known
 * origin keys (packet_check_header), and compare the two as receiver.c
 * does. Any byte string must be refused with a reason or pass with
 * consistent results: never crash, leak, hang or read out of bounds.
 *
 * The seeds (fuzz/corpus/fuzz_xfer) are genuine protocol-3 OFFER payloads
 * made by build/tests/hostile offer-file with a throwaway key whose public
 * half is the KEY H line below (the secret half was not kept); under
 * protocol 4 they are whole messages of unknown types, which the fuzzer
 * mutates into OFFERs.
 */
#include "conf/config.h"
#include "crypto/crypto.h"
#include "queue/order.h"
#include "packet/packet.h"
#include "wire/xfer.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char conf[] =
	"NODE T\n"
	"SPOOL /nonexistent/spool\n"
	"KEY-FILE /nonexistent/t.key\n"
	"MAX-DATA-SIZE 200k\n"
	"KEY H shipd1:nU/E6iuhWuip+iKNsMJQ4oDY5Rz+1ya13Qfp2GNqgYMAY0Bcd9FD8ZTmj/t4TO7//uzYj14vzXInxRDl3/OXNA==\n";
static struct config *cf;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	crypto_init();
	if ((cf = config_load_buf("/shipping.conf", conf, sizeof(conf) - 1)) == NULL) {
		fprintf(stderr, "fuzz_xfer: %s\n", err_get());
		abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *hdr;
	const char *text;
	size_t hl, tl;
	struct order o;
	struct pkt_info pi;
	char *otext, base[ORDER_ID_MAX];
	ssize_t r;
	int order_ok;

	struct xmsg m;

	err_set("%s", "");
	if (xmsg_parse(data, size, &m) < 0) {
		if (err_get()[0] == 0)
			abort();	/* a refusal always says why */
		return 0;
	}
	if (m.type != XF_OFFER)
		return 0;
	hdr = m.hdr;
	hl = m.hdrlen;
	text = m.order;
	tl = m.orderlen;
	/* every part inside the message, and the parts add up to it */
	if (hdr != data + 1 + XF_OFFER_HEAD || (const uint8_t *)text != hdr + hl ||
	    1 + XF_OFFER_HEAD + hl + tl + m.datalen != size || hl == 0 || tl == 0)
		abort();

	order_init(&o);
	otext = xstrndup(text, tl);
	err_set("%s", "");
	order_ok = order_parse(otext, tl, &o) == 0;
	if (!order_ok && err_get()[0] == 0)
		abort();	/* a refusal always says why */
	free(otext);

	memset(&pi, 0, sizeof(pi));
	err_set("%s", "");
	r = packet_check_header(cf, hdr, hl, &pi);
	if (r < 0 && err_get()[0] == 0)
		abort();
	if (r > 0) {
		/* a verified header: inside the bytes given, from a known origin */
		if ((size_t)r > hl || (uint64_t)r != pi.header_len || config_peer(cf, pi.origin) == NULL)
			abort();
		if (pi.part < 1 || pi.part > pi.nparts || pi.dests.n < 1)
			abort();
		if (order_ok) {
			/* the receiver's comparisons, as in receiver.c check_offer */
			int same = order_packet_id(o.id, base, sizeof(base)) == 0 &&
				   strcmp(base, pi.id) == 0 && strcmp(o.origin, pi.origin) == 0 &&
				   o.size == pi.file_size;

			for (int i = 0; same && i < o.dests.n; i++)
				same = strv_has(&pi.dests, o.dests.v[i]);
			(void)config_class(cf, o.sclass);
			(void)same;
		}
	}
	pkt_info_free(&pi);
	order_free(&o);
	return 0;
}

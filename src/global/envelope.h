/*
 * envelope.h - the signed hop envelope and receipt of a directory hop
 * (dirhop.h): small "key: value" text, "shipd-envelope: 1" first, a
 * "signature:" line last over every byte before it (with a domain
 * prefix), by the Ed25519 key of the node named in from:.
 *
 * Parsing never trusts: an incomplete text (no signature line yet: a copy
 * in progress) is told apart from a bad one, and a signature is checked
 * against the configured key of from: only. Internal to src/global/,
 * but for envelope_sign, which the key process (shipd/keyproc.c) serves.
 */
#ifndef SHIPD_ENVELOPE_H
#define SHIPD_ENVELOPE_H

#include <stdint.h>
#include <time.h>
#include "../conf/config.h"
#include "../crypto/keys.h"
#include "../queue/order.h"

#define ENV_PACKET	"packet"
#define ENV_RECEIPT	"receipt"
/* The most an envelope's signed text may be: one key-process message
 * (keyproto.h); a hop order that large would list thousands of nodes. */
#define ENV_SIGN_MAX	(60 * 1024)

struct envelope {
	char kind[16];			/* ENV_PACKET or ENV_RECEIPT */
	char from[256], to[256];
	char id[ORDER_ID_MAX];
	time_t created;
	uint64_t size;			/* packet: bytes of ID.pkt */
	char sha256[65];		/* packet: hex SHA-256 of ID.pkt */
	char *order;			/* packet: the hop order text */
	struct strv dests;		/* receipt: destinations taken */
	char status[16];		/* receipt: "accepted" or "had" */
};

void envelope_free(struct envelope *e);
/* The signed text (allocated, *len set), or NULL with err_set (the key
 * process refused or is gone). */
char *envelope_format(const struct envelope *e, const struct keys *me, size_t *len);
/*
 * Sign an envelope's text (every line before the signature line) with
 * me's key, here or through its key agent. node non-NULL (the key process
 * asked by a worker): only a whole envelope from node is signed. 0, or -1
 * with err_set.
 */
int envelope_sign(const struct keys *me, const char *node, const char *text, size_t len,
		  uint8_t sig[ED25519_SIG_LEN]);
/*
 * Parse and check: 1 good (signed by e->from's configured key), 0
 * incomplete (no signature line yet), -1 bad (err_set with the reason:
 * malformed, unknown node, bad signature).
 */
int envelope_parse(const struct config *cf, const char *buf, size_t len, struct envelope *e);

#endif

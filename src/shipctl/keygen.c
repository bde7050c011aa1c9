/*
 * keygen.c - "shipctl keygen": create this node's secret key file (0600,
 * never overwriting) and print the PEER line other nodes paste; "shipctl
 * pubkey" prints that line again from the existing key.
 */
#include "shipctl.h"
#include "../global/keys.h"

#include <stdio.h>

static void
print_peer_line(const struct config *cf, const struct keys *k)
{
	char pk[PUBKEY_STRLEN];

	pubkey_format(&k->pub, pk);
	printf("PEER %s %s %d %s\n", cf->node, cf->listen_addr ? cf->listen_addr : "-",
	       cf->listen_port, pk);
}

VERB(keygen)
{
	struct config *cf = ctl_config(c);
	struct keys *k;

	if (argc != 1) {
		fprintf(stderr, "usage: shipctl keygen\n");
		return EX_USAGE;
	}
	if (keys_generate(cf->key_file, &k) < 0) {
		fprintf(stderr, "shipctl: keygen: %s\n", err_get());
		return EX_DATAERR;
	}
	fprintf(stderr, "shipctl: wrote %s; add this line to the shipping.conf of %s's peers:\n",
		cf->key_file, cf->node);
	print_peer_line(cf, k);
	keys_free(k);
	return EX_OK;
}

VERB(pubkey)
{
	struct config *cf = ctl_config(c);
	struct keys *k;

	if (argc != 1) {
		fprintf(stderr, "usage: shipctl pubkey\n");
		return EX_USAGE;
	}
	if (keys_load(cf->key_file, &k) < 0) {
		fprintf(stderr, "shipctl: pubkey: %s\n", err_get());
		return EX_NOINPUT;
	}
	print_peer_line(cf, k);
	keys_free(k);
	return EX_OK;
}

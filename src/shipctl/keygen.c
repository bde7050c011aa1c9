/*
 * keygen.c - "shipctl keygen": create this node's secret key file (0600,
 * never overwriting) and print the PEER line other nodes paste; "shipctl
 * pubkey" prints that line again from the existing key.
 */
#include "shipctl.h"
#include "../crypto/keys.h"

#include "../util/safefile.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A node that listens is a PEER for its neighbours; one that does not is
 * only a KEY (its packets are checked, it is never dialled). */
static void
print_peer_line(const struct config *cf, const struct keys *k)
{
	char pk[PUBKEY_STRLEN];

	pubkey_format(&k->pub, pk);
	if (cf->listen_addr)
		printf("PEER %s %s %d %s\n", cf->node, cf->listen_addr, cf->listen_port, pk);
	else
		printf("KEY %s %s\n", cf->node, pk);
}

/* With KEYS-DIR, also publish NODE.pub there for the other nodes to read. */
static void
publish(const struct config *cf, const struct keys *k)
{
	char pk[PUBKEY_STRLEN + 1], name[NAME_MAX + 1];

	if (cf->keys_dir == NULL)
		return;
	pubkey_format(&k->pub, pk);
	strcat(pk, "\n");
	snprintf(name, sizeof(name), "%s.pub", cf->node);
	if (mkdirs(cf->keys_dir, 0755) < 0 ||
	    safe_write(cf->keys_dir, name, pk, strlen(pk), 0644) < 0)
		fprintf(stderr, "shipctl: keygen: cannot publish %s/%s: %s\n", cf->keys_dir, name,
			err_get());
	else
		fprintf(stderr, "shipctl: published %s/%s\n", cf->keys_dir, name);
}

VERB(keygen)
{
	struct config *cf;

	c->keep_root = 1;	/* the key file is written as whoever runs this */
	cf = ctl_config(c);
	struct keys *k;

	if (argc != 1) {
		fprintf(stderr, "usage: shipctl keygen\n");
		return EX_USAGE;
	}
	{
		char *dir = xstrdup(cf->key_file), *slash = strrchr(dir, '/');

		if (slash && slash != dir) {
			*slash = 0;
			mkdirs(dir, 0700);	/* keys_generate reports what fails */
		}
		free(dir);
	}
	if (keys_generate(cf->key_file, &k) < 0) {
		fprintf(stderr, "shipctl: keygen: %s\n", err_get());
		return EX_DATAERR;
	}
	fprintf(stderr, "shipctl: wrote %s; add this line to the shipping.conf of %s's peers:\n",
		cf->key_file, cf->node);
	publish(cf, k);
	print_peer_line(cf, k);
	keys_free(k);
	return EX_OK;
}

VERB(pubkey)
{
	struct config *cf;

	c->keep_root = 1;
	cf = ctl_config(c);
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

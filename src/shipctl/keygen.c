/*
 * keygen.c - "shipctl keygen [--rotate | --upgrade]": create this node's
 * secret key file (0600, never overwriting) and KEY-FILE.pub beside it,
 * and print the PEER line other nodes paste; "shipctl pubkey" prints that
 * line again from the existing key, its public halves first derived from
 * the secret ones and compared (keys_verify: what is published must be
 * this key's).
 *
 * --upgrade rewrites a key file written before its kx-pub and check lines
 * in the current form (keys.c), with the same secrets and owner: loading
 * it then costs no curve operation (every `shipctl submit` loads it).
 *
 * --rotate makes a new key while packets sealed to the old one are still
 * travelling: the old key moves to KEY-FILE.old (shipd opens packets with
 * either, and signs with the one CERT-FILE certifies, so the switch
 * happens when the new certificate is installed). At every step KEY-FILE
 * exists: the new key is written beside it, the old one linked to .old,
 * then the new one renamed over it.
 *
 * The printed PEER line carries an address the peers can reach: LISTEN's,
 * or, when LISTEN is a wildcard (0.0.0.0, ::), the host's name, or a
 * placeholder that it says to fill in - never the wildcard itself.
 */
#include "shipctl.h"
#include "../crypto/keys.h"
#include "../trust/trust.h"
#include "../util/safefile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 1 if addr is the unspecified address of its family (0.0.0.0, ::). */
static int
unspecified(const char *addr)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return a4.s_addr == htonl(INADDR_ANY);
	return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_UNSPECIFIED(&a6);
}

/*
 * Where the peers reach this node: LISTEN's address, else the host name
 * when it is a usable one (resolvable, not localhost), else NULL.
 */
static const char *
reach_addr(const struct config *cf, char *buf, size_t size)
{
	struct addrinfo hints = {0}, *ai = NULL;

	if (!unspecified(cf->listen_addr))
		return cf->listen_addr;
	if (gethostname(buf, size) < 0 || buf[0] == 0 || strcmp(buf, "localhost") == 0 ||
	    strspn(buf, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_") !=
	    strlen(buf))
		return NULL;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(buf, NULL, &hints, &ai) != 0)
		return NULL;
	freeaddrinfo(ai);
	return buf;
}

/* A node that listens is a PEER for its neighbours; one that does not is
 * only a KEY (its packets are checked, it is never dialled). */
static void
print_peer_line(const struct config *cf, const struct keys *k)
{
	char pk[PUBKEY_STRLEN], host[256];
	const char *addr;

	pubkey_format(&k->pub, pk);
	if (cf->listen_addr == NULL) {
		printf("KEY %s %s\n", cf->node, pk);
		return;
	}
	if ((addr = reach_addr(cf, host, sizeof(host))) == NULL) {
		fprintf(stderr, "shipctl: LISTEN %s is every address of this host: replace ADDRESS "
			"below with the address the peers reach %s at\n", cf->listen_addr, cf->node);
		addr = "ADDRESS";
	} else if (addr == host)
		fprintf(stderr, "shipctl: LISTEN %s is every address of this host: the line names "
			"it by its host name %s; use an address if the peers cannot resolve it\n",
			cf->listen_addr, host);
	printf("PEER %s %s %d %s\n", cf->node, addr, cf->listen_port, pk);
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

/* KEY-FILE.pub: what `shipctl certify` reads on the authority's host. */
static void
write_pub(const struct config *cf, const struct keys *k)
{
	char pk[PUBKEY_STRLEN + 1], path[PATH_MAX], *dir, *slash;

	pubkey_format(&k->pub, pk);
	strcat(pk, "\n");
	if (path_fmt(path, sizeof(path), "%s.pub", cf->key_file) < 0)
		return;
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	if (safe_write(slash ? (slash == dir ? "/" : dir) : ".", slash ? slash + 1 : path, pk,
		       strlen(pk), 0644) < 0)
		fprintf(stderr, "shipctl: keygen: %s: %s\n", path, err_get());
	free(dir);
}

/* --rotate: the new key beside the old, old -> KEY-FILE.old, new -> KEY-FILE. */
static int
rotate(const struct config *cf, struct keys **k)
{
	char newpath[PATH_MAX], oldpath[PATH_MAX], tmp[PATH_MAX];

	if (access(cf->key_file, F_OK) < 0) {
		fprintf(stderr, "shipctl: keygen --rotate: %s: %s (nothing to rotate: run "
			"shipctl keygen)\n", cf->key_file, strerror(errno));
		return -1;
	}
	if (path_fmt(newpath, sizeof(newpath), "%s.new", cf->key_file) < 0 ||
	    path_fmt(tmp, sizeof(tmp), "%s.old.tmp", cf->key_file) < 0 ||
	    trust_old_key_path(cf->key_file, oldpath, sizeof(oldpath)) < 0)
		return -1;
	unlink(newpath);	/* a rotation that died before its last step */
	unlink(tmp);
	if (keys_generate(newpath, k) < 0) {
		fprintf(stderr, "shipctl: keygen --rotate: %s\n", err_get());
		return -1;
	}
	if (link(cf->key_file, tmp) < 0 || rename(tmp, oldpath) < 0) {
		fprintf(stderr, "shipctl: keygen --rotate: keeping the old key as %s: %s\n",
			oldpath, strerror(errno));
		goto undo;
	}
	if (safe_rename(newpath, cf->key_file) < 0) {
		fprintf(stderr, "shipctl: keygen --rotate: %s\n", err_get());
		goto undo;
	}
	fprintf(stderr, "shipctl: rotated: the new key is %s; the old one is kept as %s to "
		"open packets still sealed to it (remove it once its certificate has ended)\n",
		cf->key_file, oldpath);
	return 0;
undo:
	unlink(newpath);
	unlink(tmp);
	keys_free(*k);
	return -1;
}

VERB(keygen)
{
	struct config *cf;
	struct keys *k;
	int rot = argc == 2 && strcmp(argv[1], "--rotate") == 0;
	int up = argc == 2 && strcmp(argv[1], "--upgrade") == 0;

	c->keep_root = 1;	/* the key file is written as whoever runs this */
	cf = ctl_config(c);
	if (argc != 1 && !rot && !up) {
		fprintf(stderr, "usage: shipctl keygen [--rotate | --upgrade]\n");
		return EX_USAGE;
	}
	if (up) {
		char oldpath[PATH_MAX];
		int r = keys_upgrade(cf->key_file);

		if (r >= 0 && trust_old_key_path(cf->key_file, oldpath, sizeof(oldpath)) == 0 &&
		    access(oldpath, F_OK) == 0) {
			int r2 = keys_upgrade(oldpath);

			if (r2 > 0)
				fprintf(stderr, "shipctl: keygen --upgrade: rewrote %s\n", oldpath);
			r = r2 < 0 ? -1 : r;
		}
		if (r < 0) {
			fprintf(stderr, "shipctl: keygen --upgrade: %s\n", err_get());
			return EX_DATAERR;
		}
		fprintf(stderr, "shipctl: keygen --upgrade: %s %s\n", cf->key_file,
			r ? "rewritten in the current form" : "is in the current form already");
		return EX_OK;
	}
	{
		char *dir = xstrdup(cf->key_file), *slash = strrchr(dir, '/');

		if (slash && slash != dir) {
			*slash = 0;
			mkdirs(dir, 0700);	/* keys_generate reports what fails */
		}
		free(dir);
	}
	if (rot) {
		if (rotate(cf, &k) < 0)
			return EX_DATAERR;
	} else if (keys_generate(cf->key_file, &k) < 0) {
		fprintf(stderr, "shipctl: keygen: %s\n", err_get());
		return EX_DATAERR;
	}
	write_pub(cf, k);
	publish(cf, k);
	if (cf->nauth || cf->cert_file)
		fprintf(stderr, "shipctl: wrote %s; on the authority's host, certify it: shipctl "
			"certify %s.pub --name %s [--role relay], then install the certificate as "
			"%s's CERT-FILE%s\n", cf->key_file, cf->key_file, cf->node, cf->node,
			rot ? " and reload shipd (it signs with the old key until then)" : "");
	fprintf(stderr, "shipctl: wrote %s; for nodes that pin keys, add this line to the "
		"shipping.conf of %s's peers:\n", cf->key_file, cf->node);
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
	if (keys_load(cf->key_file, &k) < 0 || keys_verify(k, cf->key_file) < 0) {
		fprintf(stderr, "shipctl: pubkey: %s\n", err_get());
		return EX_NOINPUT;
	}
	print_peer_line(cf, k);
	keys_free(k);
	return EX_OK;
}

/*
 * keys.c - node key files (see keys.h). Never prints or logs a secret.
 */
#include "keys.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYFILE_MAGIC "shipd-secret-key 1\n"

void
pubkey_format(const struct pubkey *pk, char out[PUBKEY_STRLEN])
{
	uint8_t raw[64];

	memcpy(raw, pk->sign, 32);
	memcpy(raw + 32, pk->kx, 32);
	strcpy(out, PUBKEY_PREFIX);
	b64_encode(raw, sizeof(raw), out + strlen(PUBKEY_PREFIX),
		   PUBKEY_STRLEN - strlen(PUBKEY_PREFIX));
}

int
pubkey_parse(const char *s, struct pubkey *pk)
{
	uint8_t raw[66];
	size_t n;

	if (strncmp(s, PUBKEY_PREFIX, strlen(PUBKEY_PREFIX)) != 0 ||
	    b64_decode(s + strlen(PUBKEY_PREFIX), raw, sizeof(raw), &n) < 0 || n != 64) {
		err_set("malformed public key (want %s followed by 88 base64 characters)",
			PUBKEY_PREFIX);
		return -1;
	}
	memcpy(pk->sign, raw, 32);
	memcpy(pk->kx, raw + 32, 32);
	return 0;
}

static struct keys *
keys_alloc(void)
{
	struct keys *k = xcalloc(1, sizeof(*k));

	k->sign_sec = crypto_secure_alloc(ED25519_SEC_LEN);
	k->kx_sec = crypto_secure_alloc(X25519_LEN);
	return k;
}

void
keys_free(struct keys *k)
{
	if (k == NULL)
		return;
	crypto_secure_free(k->sign_sec, ED25519_SEC_LEN);
	crypto_secure_free(k->kx_sec, X25519_LEN);
	keys_free(k->prev);
	free(k->cert);
	free(k);
}

void
keys_forget(struct keys *k, const struct key_agent *agent)
{
	for (; k; k = k->prev) {
		crypto_secure_free(k->sign_sec, ED25519_SEC_LEN);
		crypto_secure_free(k->kx_sec, X25519_LEN);
		k->sign_sec = k->kx_sec = NULL;
		k->agent = agent;
	}
}

int
keys_local(const struct keys *k)
{
	return k->sign_sec != NULL;
}

int
keys_ask(const struct keys *k, const struct keyreq *rq, void *out, size_t outlen)
{
	if (k->agent == NULL) {
		err_set("no secret key in this process and no key process to ask");
		return -1;
	}
	return k->agent->ask(k->agent->ctx, rq, out, outlen);
}

int
keys_generate(const char *path, struct keys **out)
{
	struct keys *k = keys_alloc();
	char sbuf[64], kbuf[64], pbuf[64], *text = NULL;
	int fd, rc = -1;

	if (ed25519_keypair(k->sign_sec, k->pub.sign) < 0 ||
	    x25519_keypair(k->kx_sec, k->pub.kx) < 0)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_set("%s: %s", path, errno == EEXIST ? "key file exists; refusing to overwrite"
			: strerror(errno));
		goto out;
	}
	b64_encode(k->sign_sec, ED25519_SEC_LEN, sbuf, sizeof(sbuf));
	b64_encode(k->kx_sec, X25519_LEN, kbuf, sizeof(kbuf));
	b64_encode(k->pub.sign, ED25519_PUB_LEN, pbuf, sizeof(pbuf));
	text = xasprintf(KEYFILE_MAGIC "sign: %s\nsign-pub: %s\nkx: %s\nend\n",
			 sbuf, pbuf, kbuf);
	crypto_wipe(sbuf, sizeof(sbuf));
	crypto_wipe(kbuf, sizeof(kbuf));
	if (write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		err_set("%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		goto out;
	}
	close(fd);
	fsync_parent(path);
	rc = 0;
out:
	if (text) {
		crypto_wipe(text, strlen(text));
		free(text);
	}
	if (rc == 0 && out)
		*out = k;
	else
		keys_free(k);
	return rc;
}

static int
keyline(const char *text, const char *name, uint8_t *out, size_t len)
{
	char want[16], b[128];
	const char *p, *e;
	size_t n;

	snprintf(want, sizeof(want), "\n%s: ", name);
	if ((p = strstr(text, want)) == NULL)
		return -1;
	p += strlen(want);
	e = strchr(p, '\n');
	if (e == NULL || (size_t)(e - p) >= sizeof(b))
		return -1;
	memcpy(b, p, e - p);
	b[e - p] = 0;
	if (b64_decode(b, out, len, &n) < 0 || n != len) {
		crypto_wipe(b, sizeof(b));
		return -1;
	}
	crypto_wipe(b, sizeof(b));
	return 0;
}

/*
 * The stored public half must belong to the secret one: derive it from
 * the seed and compare. ed25519_public keeps every copy of the seed in
 * secure memory, so the caller's heap never holds one (shipd's workers
 * are forked from a process that loaded the key: keys_forget). It used
 * to be a sign and a verify in a forked child, because signing leaves
 * copies of the seed in freed heap: a fork and three curve operations
 * on every key load, most of a `shipctl submit`'s start-up.
 */
static int
halves_match(const struct keys *k)
{
	uint8_t pub[ED25519_PUB_LEN];

	return ed25519_public(k->sign_sec, pub) == 0 &&
	       crypto_memeq(pub, k->pub.sign, ED25519_PUB_LEN) ? 0 : -1;
}

int
keys_load(const char *path, struct keys **out)
{
	struct stat st;
	struct keys *k;
	char *text;
	size_t len;
	int rc = -1;

	if (stat(path, &st) < 0) {
		err_set("%s: %s (create one with: shipctl keygen)", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & 077) {
		err_set("%s: key file is accessible by group or others (mode %03o); "
			"chmod 600 it", path, (unsigned)(st.st_mode & 0777));
		return -1;
	}
	if ((text = read_file(path, 4096, &len)) == NULL)
		return -1;
	k = keys_alloc();
	if (strncmp(text, KEYFILE_MAGIC, strlen(KEYFILE_MAGIC)) != 0 ||
	    keyline(text, "sign", k->sign_sec, ED25519_SEC_LEN) < 0 ||
	    keyline(text, "kx", k->kx_sec, X25519_LEN) < 0 ||
	    strstr(text, "\nend\n") == NULL)
		err_set("%s: not a shipd secret key file", path);
	else if (keyline(text, "sign-pub", k->pub.sign, ED25519_PUB_LEN) < 0)
		err_set("%s: not a shipd secret key file (no sign-pub)", path);
	else
		rc = 0;
	crypto_wipe(text, len);
	free(text);
	if (rc == 0) {
		rc = -1;
		if (x25519_public(k->kx_sec, k->pub.kx) < 0)
			;
		else if (halves_match(k) < 0)
			err_set("%s: signing key halves do not match", path);
		else
			rc = 0;
	}
	if (rc == 0)
		*out = k;
	else
		keys_free(k);
	return rc;
}

/*
 * keys.c - node key files (see keys.h). Never prints or logs a secret.
 *
 * The file, text, mode 0600 (the secrets first, then their public halves
 * and a check binding the two):
 *	shipd-secret-key 1
 *	sign: base64(Ed25519 seed)
 *	sign-pub: base64(Ed25519 public key)
 *	kx: base64(X25519 secret)
 *	kx-pub: base64(X25519 public key)
 *	check: base64(HMAC-SHA-256(sign || kx, "shipd key check 1\n" || sign-pub || kx-pub))
 *	end
 * Files written before kx-pub and check still load (both public halves
 * are then derived, at the cost of two curve operations per load); an
 * older shipd reads the new form, its lines found by name.
 */
#include "keys.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/*
 * The check line: HMAC-SHA-256, keyed by both secret halves, over both
 * public halves. It lets keys_load trust the stored public halves without
 * a curve operation (two scalar multiplications, 6.3 M instructions, were
 * most of a `shipctl submit`): only a writer who held the secrets could
 * make a check that matches, and a file damaged or pieced together from
 * two keys fails it.
 */
static int
halves_check(const struct keys *k, uint8_t out[SHA256_LEN])
{
	static const char label[] = "shipd key check 1\n";
	uint8_t *key = crypto_secure_alloc(ED25519_SEC_LEN + X25519_LEN);
	uint8_t msg[sizeof(label) - 1 + ED25519_PUB_LEN + X25519_LEN];
	int rc;

	memcpy(key, k->sign_sec, ED25519_SEC_LEN);
	memcpy(key + ED25519_SEC_LEN, k->kx_sec, X25519_LEN);
	memcpy(msg, label, sizeof(label) - 1);
	memcpy(msg + sizeof(label) - 1, k->pub.sign, ED25519_PUB_LEN);
	memcpy(msg + sizeof(label) - 1 + ED25519_PUB_LEN, k->pub.kx, X25519_LEN);
	rc = crypto_hmac_sha256(key, ED25519_SEC_LEN + X25519_LEN, msg, sizeof(msg), out);
	crypto_secure_free(key, ED25519_SEC_LEN + X25519_LEN);
	return rc;
}

/* The key file's text for k (secrets in it: the caller wipes it). */
static char *
keyfile_text(const struct keys *k)
{
	char sbuf[64], kbuf[64], pbuf[64], xbuf[64], cbuf[64];
	uint8_t check[SHA256_LEN];
	char *text;

	if (halves_check(k, check) < 0)
		return NULL;
	b64_encode(k->sign_sec, ED25519_SEC_LEN, sbuf, sizeof(sbuf));
	b64_encode(k->kx_sec, X25519_LEN, kbuf, sizeof(kbuf));
	b64_encode(k->pub.sign, ED25519_PUB_LEN, pbuf, sizeof(pbuf));
	b64_encode(k->pub.kx, X25519_LEN, xbuf, sizeof(xbuf));
	b64_encode(check, sizeof(check), cbuf, sizeof(cbuf));
	text = xasprintf(KEYFILE_MAGIC "sign: %s\nsign-pub: %s\nkx: %s\nkx-pub: %s\n"
			 "check: %s\nend\n", sbuf, pbuf, kbuf, xbuf, cbuf);
	crypto_wipe(sbuf, sizeof(sbuf));
	crypto_wipe(kbuf, sizeof(kbuf));
	return text;
}

/* Write k to a new file at path (O_EXCL), fsync'd with its directory. */
static int
keyfile_write(const char *path, const struct keys *k)
{
	char *text = keyfile_text(k);
	int fd, rc = -1;

	if (text == NULL)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_set("%s: %s", path, errno == EEXIST ? "key file exists; refusing to overwrite"
			: strerror(errno));
		goto out;
	}
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
	crypto_wipe(text, strlen(text));
	free(text);
	return rc;
}

int
keys_generate(const char *path, struct keys **out)
{
	struct keys *k = keys_alloc();
	int rc = -1;

	if (ed25519_keypair(k->sign_sec, k->pub.sign) == 0 &&
	    x25519_keypair(k->kx_sec, k->pub.kx) == 0 &&
	    keyfile_write(path, k) == 0)
		rc = 0;
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
 * Do the public halves belong to the secret ones? Both are derived from
 * the secrets and compared: two scalar multiplications. ed25519_public
 * keeps every copy of the seed in secure memory, so the caller's heap
 * never holds one (shipd's workers are forked from a process that loaded
 * the key: keys_forget).
 */
static int
halves_derive_match(const struct keys *k)
{
	uint8_t sign[ED25519_PUB_LEN], kx[X25519_LEN];

	return ed25519_public(k->sign_sec, sign) == 0 && x25519_public(k->kx_sec, kx) == 0 &&
	       crypto_memeq(sign, k->pub.sign, ED25519_PUB_LEN) &&
	       crypto_memeq(kx, k->pub.kx, X25519_LEN) ? 0 : -1;
}

int
keys_verify(const struct keys *k, const char *path)
{
	for (int old = 0; k; k = k->prev, old = 1)
		if (keys_local(k) && halves_derive_match(k) < 0) {
			err_set("%s%s: public key halves do not match the secret ones "
				"(a damaged key file? make a new one: shipctl keygen --rotate)",
				path, old ? " (the other key of its rotation)" : "");
			return -1;
		}
	return 0;
}

/*
 * A file from before the kx-pub and check lines (it has sign-pub): the
 * X25519 public half is derived, the signing one derived and compared.
 * `shipctl keygen --upgrade` rewrites it in the current form.
 */
static int
load_old_form(struct keys *k, const char *path)
{
	uint8_t sign[ED25519_PUB_LEN];

	if (x25519_public(k->kx_sec, k->pub.kx) < 0)
		return -1;
	if (ed25519_public(k->sign_sec, sign) < 0)
		return -1;
	if (!crypto_memeq(sign, k->pub.sign, ED25519_PUB_LEN)) {
		err_set("%s: signing key halves do not match", path);
		return -1;
	}
	return 0;
}

int
keys_load_form(const char *path, struct keys **out, int *current)
{
	struct stat st;
	struct keys *k;
	uint8_t check[SHA256_LEN], want[SHA256_LEN];
	char *text;
	size_t len;
	int rc = -1, form = 0;	/* 1: kx-pub and check lines */

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
	else if (strstr(text, "\ncheck: ") == NULL)
		rc = 0;		/* the old form: no kx-pub, no check */
	else if (keyline(text, "kx-pub", k->pub.kx, X25519_LEN) < 0 ||
		 keyline(text, "check", check, sizeof(check)) < 0)
		err_set("%s: not a shipd secret key file (bad kx-pub or check line)", path);
	else
		rc = 0, form = 1;
	crypto_wipe(text, len);
	free(text);
	if (rc == 0 && form == 0)
		rc = load_old_form(k, path);
	else if (rc == 0 && (halves_check(k, want) < 0 || !crypto_memeq(want, check, sizeof(want)))) {
		err_set("%s: public key halves do not match the secret ones (check line; "
			"a damaged key file? make a new one: shipctl keygen --rotate)", path);
		rc = -1;
	}
	if (rc == 0) {
		*out = k;
		if (current)
			*current = form;
	} else
		keys_free(k);
	return rc;
}

int
keys_load(const char *path, struct keys **out)
{
	return keys_load_form(path, out, NULL);
}

int
keys_upgrade(const char *path)
{
	struct keys *k;
	struct stat st;
	char tmp[PATH_MAX];
	int current, rc = -1;

	if (keys_load_form(path, &k, &current) < 0)
		return -1;
	if (stat(path, &st) < 0) {
		err_set("%s: %s", path, strerror(errno));
		keys_free(k);
		return -1;
	}
	if (current) {
		keys_free(k);
		return 0;
	}
	if (path_fmt(tmp, sizeof(tmp), "%s.upgrade", path) == 0) {
		unlink(tmp);	/* an upgrade that died before its rename */
		if (keyfile_write(tmp, k) == 0) {
			/* the same owner as the file it replaces (keygen may run as root) */
			if (chown(tmp, st.st_uid, st.st_gid) < 0)
				err_set("%s: %s", tmp, strerror(errno));
			else if (safe_rename(tmp, path) == 0)
				rc = 1;
			else
				unlink(tmp);
		}
	}
	keys_free(k);
	return rc;
}

/*
 * trust.c - checking certificates and keys, this node's identity, and the
 * certificates learned in TRUST-DIR/certs (trust.h). Revocation lists are
 * trust_rev.c's.
 *
 * Never logs a secret; never touches a bay, a packet or the network.
 */
#include "trust_int.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/safefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CERT_FILE_MAX	4096

int
trust_lock(const struct config *cf)
{
	char path[PATH_MAX];
	int fd;

	if (cf->trust_dir == NULL) {
		err_set("no TRUST-DIR to keep what this node learns in");
		return -1;
	}
	if (mkdirs(cf->trust_dir, 0700) < 0 ||
	    path_fmt(path, sizeof(path), "%s/.lock", cf->trust_dir) < 0)
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 || flock(fd, LOCK_EX) < 0) {
		err_set("TRUST-DIR lock %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

void
trust_cert_str(const struct cert *c, char *out, size_t size)
{
	char id[AUTH_ID_HEX];

	cert_id_hex(c->authority, id);
	snprintf(out, size, "%s (certificate serial %" PRIu64 " of authority %s)", c->name,
		 c->serial, id);
}

/* A PEER, KEY or KEYS-DIR key an administrator wrote for name, or NULL. */
static const struct peer *
pinned(const struct config *cf, const char *name)
{
	const struct peer *p = config_peer(cf, name);

	/* config_add_self's entry (no file) is this node's own key, not a pin */
	return p && p->has_key && p->file ? p : NULL;
}

int
trust_check_cert(const struct config *cf, const struct cert *c, const char *name, time_t now)
{
	const struct authority *a = config_authority(cf, c->authority);
	const struct peer *p;
	char what[160], t[24];

	trust_cert_str(c, what, sizeof(what));
	if (a == NULL) {
		err_set("%s: not signed by an AUTHORITY trusted here", what);
		return -1;
	}
	if (cert_verify(c, a->key.sign) < 0) {
		err_set("%s: forged or altered: the authority's signature does not verify", what);
		return -1;
	}
	if (name && strcmp(c->name, name) != 0) {
		err_set("%s is for %s, not %s", what, c->name, name);
		return -1;
	}
	if ((uint64_t)now < c->not_before) {
		cert_time_str(c->not_before, t);
		err_set("%s is not valid before %s", what, t);
		return -1;
	}
	if ((uint64_t)now >= c->not_after) {
		cert_time_str(c->not_after, t);
		err_set("%s expired at %s", what, t);
		return -1;
	}
	if ((p = pinned(cf, c->name)) != NULL &&
	    (memcmp(p->key.sign, c->key.sign, ED25519_PUB_LEN) != 0 ||
	     memcmp(p->key.kx, c->key.kx, X25519_LEN) != 0)) {
		err_set("%s is for another key than the one pinned for %s at %s:%d (a pinned key "
			"wins)", what, c->name, p->file, p->line);
		return -1;
	}
	return trust_revoked(cf, c, NULL);
}

int
trust_check_raw(const struct config *cf, const uint8_t *raw, size_t len, const char *name,
		time_t now, struct cert *out)
{
	if (cert_decode(raw, len, out) < 0) {
		char e[256];

		snprintf(e, sizeof(e), "%s", err_get());
		err_set("certificate of %s: %s", name ? name : "a node", e);
		return -1;
	}
	return trust_check_cert(cf, out, name, now);
}

int
trust_check_revoked(const struct config *cf, const struct cert *c)
{
	return trust_revoked(cf, c, NULL);
}

int
trust_check_pinned(const struct config *cf, const char *name, const uint8_t sign[ED25519_PUB_LEN])
{
	if (trust_revoked(cf, NULL, sign) < 0) {
		char e[400];

		snprintf(e, sizeof(e), "%s", err_get());
		err_set("%s: %s", name, e);
		return -1;
	}
	return 0;
}

/* 0 read, -2 no such file, -1 unreadable or malformed (err_set). */
static int
read_cert(const char *path, struct cert *c)
{
	char *text;
	size_t len;
	int rc;

	if (access(path, F_OK) < 0 && errno == ENOENT)
		return -2;
	if ((text = read_file(path, CERT_FILE_MAX, &len)) == NULL)
		return -1;
	rc = cert_file_parse(text, len, c);
	free(text);
	if (rc < 0) {
		char e[256];

		snprintf(e, sizeof(e), "%s", err_get());
		err_set("%s: %s", path, e);
	}
	return rc;
}

/* Is a newer than b (the one to keep when both are good)? */
static int
newer(const struct cert *a, const struct cert *b)
{
	if (a->not_before != b->not_before)
		return a->not_before > b->not_before;
	return a->serial > b->serial;
}

/* The newest good certificate of name; why gets the last refusal ("" if none). */
static int
node_cert(const struct config *cf, const char *name, struct cert *out, char *why, size_t whysz)
{
	const char *dirs[2] = {cf->trust_dir, cf->keys_dir}, *sub[2] = {"certs", NULL};
	struct cert c, best = {0};
	char path[PATH_MAX];
	int have = 0;
	time_t now = time(NULL);

	why[0] = 0;
	for (int i = 0; i < 2; i++) {
		int r;

		if (dirs[i] == NULL ||
		    (sub[i] ? path_fmt(path, sizeof(path), "%s/%s/%s.cert", dirs[i], sub[i], name)
			    : path_fmt(path, sizeof(path), "%s/%s.cert", dirs[i], name)) < 0)
			continue;
		if ((r = read_cert(path, &c)) == -2)
			continue;
		if (r < 0 || trust_check_cert(cf, &c, name, now) < 0) {
			snprintf(why, whysz, "%s", err_get());
			continue;
		}
		if (!have || newer(&c, &best))
			best = c;
		have = 1;
	}
	if (have)
		*out = best;
	return have ? 0 : -1;
}

int
trust_node_cert(const struct config *cf, const char *name, struct cert *out)
{
	char why[512];

	if (node_cert(cf, name, out, why, sizeof(why)) == 0)
		return 0;
	err_set("%s", why[0] ? why : "no certificate known");
	return -1;
}

int
trust_node_key(const struct config *cf, const struct keys *self, const char *name,
	       struct pubkey *out)
{
	const struct peer *p = config_peer(cf, name);
	struct cert best;
	char why[512];

	if (p && p->has_key) {
		if (p->file && trust_check_pinned(cf, name, p->key.sign) < 0)
			return TK_NONE;
		*out = p->key;
		return p->file ? TK_PINNED : TK_SELF;
	}
	if (self && cf->node && strcmp(name, cf->node) == 0) {
		*out = self->pub;
		return TK_SELF;
	}
	if (node_cert(cf, name, &best, why, sizeof(why)) == 0) {
		*out = best.key;
		return TK_CERT;
	}
	if (why[0])
		err_set("no good key for %s: %s", name, why);
	else if (cf->nauth)
		err_set("no key for %s: no PEER or KEY line gives one, and no certificate of %s "
			"has reached this node yet", name, name);
	else
		err_set("no key for %s (add a PEER or KEY line, or an AUTHORITY)", name);
	return TK_NONE;
}

int
trust_learn(const struct config *cf, const struct cert *c)
{
	char dir[PATH_MAX], path[PATH_MAX], name[CERT_NAME_MAX + 8], *text;
	struct cert old;
	int lock, rc = 0;

	if (!cert_name_ok(c->name) || cf->trust_dir == NULL)
		return 0;
	if (path_fmt(dir, sizeof(dir), "%s/certs", cf->trust_dir) < 0 ||
	    path_fmt(path, sizeof(path), "%s/%s.cert", dir, c->name) < 0)
		return -1;
	snprintf(name, sizeof(name), "%s.cert", c->name);
	if ((lock = trust_lock(cf)) < 0)
		return -1;
	if (read_cert(path, &old) == 0 &&
	    ((old.rawlen == c->rawlen && memcmp(old.raw, c->raw, c->rawlen) == 0) ||
	     (!newer(c, &old) && trust_check_cert(cf, &old, c->name, time(NULL)) == 0)))
		goto out;	/* known, or what is known is newer and still good */
	text = cert_file_text(c);
	if (mkdirs(dir, 0700) < 0 || safe_write(dir, name, text, strlen(text), 0600) < 0) {
		char e[512];

		snprintf(e, sizeof(e), "%s", err_get());
		err_set("cannot keep the certificate of %s in %s: %s", c->name, dir, e);
		rc = -1;
	} else
		rc = 1;
	free(text);
out:
	close(lock);
	return rc;
}

int
trust_learned(const struct config *cf, trust_cert_fn fn, void *arg)
{
	char dir[PATH_MAX], path[PATH_MAX], name[NAME_MAX + 1];
	struct dirent *de;
	struct cert c;
	time_t now = time(NULL);
	DIR *d;
	int rc = 0;

	if (cf->trust_dir == NULL || path_fmt(dir, sizeof(dir), "%s/certs", cf->trust_dir) < 0 ||
	    (d = opendir(dir)) == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n < 6 || de->d_name[0] == '.' || strcmp(de->d_name + n - 5, ".cert") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(n - 5), de->d_name);
		if (path_fmt(path, sizeof(path), "%s/%s", dir, de->d_name) < 0 ||
		    read_cert(path, &c) < 0 || trust_check_cert(cf, &c, name, now) < 0)
			continue;
		rc = fn(arg, &c);
	}
	closedir(d);
	return rc;
}

int
trust_old_key_path(const char *key_file, char *out, size_t size)
{
	return path_fmt(out, size, "%s.old", key_file);
}

int
trust_identity(const struct config *cf, struct keys **out)
{
	struct keys *cur = NULL, *old = NULL, *me;
	char oldpath[PATH_MAX], t[24], e[512];
	struct cert c;
	time_t now = time(NULL);
	int r;

	if (keys_load(cf->key_file, &cur) < 0)
		return -1;
	if (trust_old_key_path(cf->key_file, oldpath, sizeof(oldpath)) == 0 &&
	    access(oldpath, F_OK) == 0 && keys_load(oldpath, &old) < 0)
		goto fail;
	if (cf->cert_file == NULL) {
		cur->prev = old;
		*out = cur;
		return 0;
	}
	if ((r = read_cert(cf->cert_file, &c)) < 0) {
		if (r == -2)
			err_set("CERT-FILE %s: no such file (get one: shipctl certify %s.pub --name %s, "
				"on the authority's host)", cf->cert_file, cf->node, cf->node);
		goto fail;
	}
	if (strcmp(c.name, cf->node) != 0) {
		err_set("CERT-FILE %s certifies %s, not this node (%s)", cf->cert_file, c.name,
			cf->node);
		goto fail;
	}
	if ((uint64_t)now >= c.not_after || (uint64_t)now < c.not_before) {
		cert_time_str((uint64_t)now >= c.not_after ? c.not_after : c.not_before, t);
		err_set("CERT-FILE %s %s %s: certify this node again", cf->cert_file,
			(uint64_t)now >= c.not_after ? "expired at" : "is not valid before", t);
		goto fail;
	}
	if (memcmp(c.key.sign, cur->pub.sign, ED25519_PUB_LEN) == 0 &&
	    memcmp(c.key.kx, cur->pub.kx, X25519_LEN) == 0) {
		me = cur;
		me->prev = old;
	} else if (old && memcmp(c.key.sign, old->pub.sign, ED25519_PUB_LEN) == 0 &&
		   memcmp(c.key.kx, old->pub.kx, X25519_LEN) == 0) {
		/* a rotation under way: sign with the certified key until the new
		 * certificate comes; the new key already opens what is sealed to it */
		me = old;
		me->prev = cur;
	} else {
		err_set("CERT-FILE %s certifies another key than KEY-FILE %s%s", cf->cert_file,
			cf->key_file, old ? " (and its .old)" : "");
		goto fail;
	}
	me->cert = xmalloc(c.rawlen);
	memcpy(me->cert, c.raw, c.rawlen);
	me->certlen = c.rawlen;
	if (config_authority(cf, c.authority) == NULL) {
		cert_id_hex(c.authority, t);
		msg_warnx("CERT-FILE %s is signed by authority %s, which this node does not "
			  "trust itself (no AUTHORITY line for it)", cf->cert_file, t);
	}
	*out = me;
	return 0;
fail:
	snprintf(e, sizeof(e), "%s", err_get());
	keys_free(cur);
	keys_free(old);
	err_set("%s", e);
	return -1;
}

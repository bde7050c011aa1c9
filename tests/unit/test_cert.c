/*
 * test_cert.c - certificates, revocation lists and the trust layer, the
 * way a node meets them: a good certificate is believed; a forged,
 * expired, not-yet-valid, wrong-name or wrong-authority one is refused
 * with a line naming it; a pinned key wins over a certificate; revocation
 * by node, serial and key; a truncated or forged revocation list is
 * refused, and an older one replayed after a newer changes nothing; a
 * packet carrying its origin's certificate is checked by a node that
 * knows only the authority; a rotated destination opens packets sealed to
 * its old key; the identity loader signs with the certified key. With
 * the cache a daemon keeps (trust_attach), a list added, rewritten in
 * place or removed counts from the next check, and a check while nothing
 * changed lists no directory.
 *
 * Configurations are built by hand; keys and TRUST-DIR live in a
 * temporary directory.
 */
#include "t.h"
#include "conf/config.h"
#include "crypto/cert.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "packet/packet.h"
#include "trust/trust.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/safefile.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

/* directory listings and stats the code under test makes, while counting */
static int counting, n_opendir, n_stat;

DIR *
opendir(const char *name)
{
	DIR *d;
	int fd;

	n_opendir += counting;
	if ((fd = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		close(fd);
	return d;
}

int
stat(const char *path, struct stat *sb)
{
	n_stat += counting;
	return fstatat(AT_FDCWD, path, sb, 0);
}

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libgcrypt.so\nleak:archive_write_open2\n";
}

#define CHECK_ERR(sub) do { const char *_e = err_get(); if (strstr(_e, (sub)) == NULL) { \
	printf("#   %s:%d: error \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, _e, (sub)); \
	t_case_failed = 1; } } while (0)

static char root[64];
static struct keys *auth1, *auth2, *kA, *kB, *kR;
static time_t now;
static int seq;

static struct keys *
newkey(const char *name)
{
	char path[PATH_MAX];
	struct keys *k;

	snprintf(path, sizeof(path), "%s/%s.%d.key", root, name, ++seq);
	if (keys_generate(path, &k) < 0) {
		printf("# keygen: %s\n", err_get());
		exit(2);
	}
	return k;
}

static char *
newdir(const char *what)
{
	char *p = xasprintf("%s/%s.%d", root, what, ++seq);

	mkdirs(p, 0700);
	return p;
}

/* A node's configuration trusting the given authorities, nothing pinned. */
static struct config *
mkconf(const char *node, struct keys *a, struct keys *b)
{
	struct config *cf = xcalloc(1, sizeof(*cf));
	struct keys *as[2] = {a, b};

	cf->node = xstrdup(node);
	cf->path = xstrdup("test.conf");
	cf->trust_dir = newdir("trust");
	for (int i = 0; i < 2; i++) {
		if (as[i] == NULL)
			continue;
		cf->auth = xrealloc(cf->auth, (cf->nauth + 1) * sizeof(*cf->auth));
		memset(&cf->auth[cf->nauth], 0, sizeof(cf->auth[0]));
		cf->auth[cf->nauth].key = as[i]->pub;
		cert_authority_id(as[i]->pub.sign, cf->auth[cf->nauth].id);
		cf->auth[cf->nauth].line = 1 + i;
		cf->nauth++;
	}
	return cf;
}

static void
addpeer(struct config *cf, const char *name, const struct keys *pinned)
{
	struct peer *p;

	cf->peers = xrealloc(cf->peers, (cf->npeers + 1) * sizeof(*cf->peers));
	p = &cf->peers[cf->npeers++];
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name);
	p->host = xstrdup("127.0.0.1");
	p->port = 4590;
	p->file = "test.conf";
	p->line = 10 + cf->npeers;
	if (pinned) {
		p->key = pinned->pub;
		p->has_key = 1;
	}
}

static struct cert
mkcert(struct keys *auth, const char *name, const struct keys *k, int64_t from, int64_t until,
       uint64_t serial, int role)
{
	struct cert c;

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	c.key = k->pub;
	c.not_before = (uint64_t)(now + from);
	c.not_after = (uint64_t)(now + until);
	c.serial = serial;
	c.role = role;
	if (cert_sign(&c, auth) < 0) {
		printf("# cert_sign: %s\n", err_get());
		exit(2);
	}
	return c;
}

/* ---- certificates ---- */

static void
cert_round_trip(void)
{
	struct cert c = mkcert(auth1, "SiteA_host1", kA, -10, 86400, 7, CERT_RELAY), d, e;
	char tok[CERT_TOKEN_MAX], *text;

	CHECK(c.rawlen <= CERT_MAX_LEN);
	CHECK(cert_verify(&c, auth1->pub.sign) == 0);
	cert_token(&c, tok);
	CHECK(strlen(tok) + 6 < 512);		/* fits one packet header line */
	CHECK_INT(cert_token_parse(tok, &d), 0);
	CHECK_STR(d.name, "SiteA_host1");
	CHECK_INT(d.role, CERT_RELAY);
	CHECK_INT(d.serial, 7);
	CHECK(memcmp(d.key.sign, kA->pub.sign, 32) == 0 && memcmp(d.key.kx, kA->pub.kx, 32) == 0);
	CHECK(cert_verify(&d, auth1->pub.sign) == 0);
	text = cert_file_text(&c);
	CHECK(strstr(text, "# shipd certificate of SiteA_host1: role relay, serial 7") != NULL);
	CHECK_INT(cert_file_parse(text, strlen(text), &e), 0);
	CHECK(e.rawlen == c.rawlen && memcmp(e.raw, c.raw, c.rawlen) == 0);
	free(text);
	/* two certificates in one file, or none, are refused */
	text = xasprintf("%s\n%s\n", tok, tok);
	CHECK_INT(cert_file_parse(text, strlen(text), &e), -1);
	CHECK_ERR("a second certificate");
	free(text);
	CHECK_INT(cert_file_parse("# nothing\n", 10, &e), -1);
	CHECK_ERR("no certificate");
}

static void
cert_refusals(void)
{
	struct config *cf = mkconf("Relay", auth1, NULL);
	struct cert good = mkcert(auth1, "A", kA, -10, 86400, 1, CERT_NODE), c;

	CHECK_INT(trust_check_cert(cf, &good, "A", now), 0);

	/* forged: one byte of what the authority signed changed */
	{
		uint8_t raw[CERT_MAX_LEN];

		memcpy(raw, good.raw, good.rawlen);
		raw[7] ^= 1;	/* the name: "A" becomes "@" - decode refuses that */
		CHECK_INT(trust_check_raw(cf, raw, good.rawlen, "A", now, &c), -1);
		memcpy(raw, good.raw, good.rawlen);
		raw[20] ^= 1;	/* inside the signing key */
		CHECK_INT(trust_check_raw(cf, raw, good.rawlen, "A", now, &c), -1);
		CHECK_ERR("A (certificate serial 1 of authority");
		CHECK_ERR("forged or altered");
	}
	c = good;
	c.raw[c.rawlen - 64 - 20] ^= 0x40;	/* inside not-after */
	if (cert_decode(c.raw, c.rawlen, &c) == 0) {
		CHECK_INT(trust_check_cert(cf, &c, "A", now), -1);
		CHECK_ERR("forged or altered: the authority's signature does not verify");
	}

	/* expired, not yet valid */
	c = mkcert(auth1, "A", kA, -200, -100, 2, CERT_NODE);
	CHECK_INT(trust_check_cert(cf, &c, "A", now), -1);
	CHECK_ERR("expired at");
	c = mkcert(auth1, "A", kA, 3600, 7200, 3, CERT_NODE);
	CHECK_INT(trust_check_cert(cf, &c, "A", now), -1);
	CHECK_ERR("is not valid before");

	/* wrong name: a certificate for A presented as B */
	CHECK_INT(trust_check_cert(cf, &good, "B", now), -1);
	CHECK_ERR("is for A, not B");

	/* wrong authority: signed by one this node does not trust */
	c = mkcert(auth2, "A", kA, -10, 86400, 1, CERT_NODE);
	CHECK_INT(trust_check_cert(cf, &c, "A", now), -1);
	CHECK_ERR("not signed by an AUTHORITY trusted here");

	/* a pinned key wins: a certificate for another key is refused */
	addpeer(cf, "A", kB);
	CHECK_INT(trust_check_cert(cf, &good, "A", now), -1);
	CHECK_ERR("another key than the one pinned for A at test.conf:");
	c = mkcert(auth1, "A", kB, -10, 86400, 4, CERT_NODE);
	CHECK_INT(trust_check_cert(cf, &c, "A", now), 0);	/* the pinned key's own */
	config_free(cf);
}

static void
cert_decode_garbage(void)
{
	struct cert good = mkcert(auth1, "NodeX", kA, -10, 86400, 1, CERT_NODE), c;
	uint8_t b[CERT_MAX_LEN + 8];

	for (size_t n = 0; n < good.rawlen; n++)
		CHECK_INT(cert_decode(good.raw, n, &c), -1);	/* every truncation */
	memcpy(b, good.raw, good.rawlen);
	b[good.rawlen] = 0;
	CHECK_INT(cert_decode(b, good.rawlen + 1, &c), -1);	/* trailing byte */
	memcpy(b, good.raw, good.rawlen);
	b[4] = 2;
	CHECK_INT(cert_decode(b, good.rawlen, &c), -1);
	CHECK_ERR("unsupported certificate version 2");
	memcpy(b, good.raw, good.rawlen);
	b[5] = 9;
	CHECK_INT(cert_decode(b, good.rawlen, &c), -1);
	CHECK_ERR("unknown role");
	memcpy(b, good.raw, good.rawlen);
	b[8] = '/';
	CHECK_INT(cert_decode(b, good.rawlen, &c), -1);
	CHECK_ERR("bad node name");
	CHECK_INT(cert_token_parse("shipd-cert1:AAAA", &c), -1);
	CHECK_INT(cert_token_parse("shipd1:AAAA", &c), -1);
}

/* ---- revocation lists ---- */

static char *
mklist(struct keys *auth, uint64_t serial, const struct rev_entry *e, int n, size_t *len)
{
	struct revlist rl;
	char *text;

	revlist_init(&rl);
	for (int i = 0; i < n; i++)
		revlist_add(&rl, &e[i]);
	rl.serial = serial;
	rl.created = (uint64_t)now;
	text = revlist_sign(&rl, auth, len);
	revlist_free(&rl);
	return text;
}

static int
apply(struct config *cf, const char *text, size_t len, uint64_t *have)
{
	struct revlist rl;
	int r;

	if (trust_revlist_check(cf, text, len, &rl) < 0)
		return -1;
	r = trust_revlist_apply(cf, &rl, text, len, have);
	revlist_free(&rl);
	return r;
}

static void
revocation_lists(void)
{
	struct config *cf = mkconf("Relay", auth1, NULL);
	struct rev_entry e[3];
	struct cert a1 = mkcert(auth1, "A", kA, -10, 86400, 5, CERT_NODE);
	struct cert a2 = mkcert(auth1, "A", kB, -5, 86400, 9, CERT_NODE);
	struct cert r1 = mkcert(auth1, "R", kR, -10, 86400, 6, CERT_RELAY);
	struct revlist rl;
	char *l1, *l2, *l3, *forged;
	size_t n1, n2, n3;
	uint64_t have;

	memset(e, 0, sizeof(e));
	e[0].kind = REV_NODE;
	snprintf(e[0].name, sizeof(e[0].name), "A");
	e[0].serial = 5;		/* A's certificates up to serial 5 */
	l1 = mklist(auth1, 1, e, 1, &n1);
	e[1].kind = REV_SERIAL;
	e[1].serial = 6;		/* R's certificate by serial */
	l2 = mklist(auth1, 2, e, 2, &n2);
	e[2].kind = REV_KEY;
	memcpy(e[2].key, kB->pub.sign, 32);
	l3 = mklist(auth1, 3, e, 3, &n3);

	CHECK_INT(revlist_parse(l3, n3, &rl), 0);
	CHECK_INT(rl.n, 3);
	CHECK_INT(rl.serial, 3);
	revlist_free(&rl);

	/* every truncation is refused, none crashes */
	for (size_t n = 0; n < n3; n++) {
		CHECK(revlist_parse(l3, n, &rl) == -1);
		revlist_free(&rl);
	}
	CHECK_INT(trust_revlist_check(cf, l3, n3 - 10, &rl), -1);
	CHECK_ERR("revocation list");

	/* forged: an entry changed after signing; signed by another authority */
	forged = xstrdup(l1);
	*strstr(forged, "node A 5") = 'm';	/* "mode" */
	CHECK_INT(trust_revlist_check(cf, forged, n1, &rl), -1);
	free(forged);
	forged = xstrdup(l1);
	strstr(forged, "node A 5")[7] = '4';
	CHECK_INT(trust_revlist_check(cf, forged, n1, &rl), -1);
	CHECK_ERR("bad authority signature");
	free(forged);
	{
		size_t nx;
		char *other = mklist(auth2, 9, e, 1, &nx);

		CHECK_INT(trust_revlist_check(cf, other, nx, &rl), -1);
		CHECK_ERR("not an AUTHORITY trusted here");
		free(other);
	}

	/* before any list: all good */
	CHECK_INT(trust_check_cert(cf, &a1, "A", now), 0);
	CHECK_INT(trust_check_cert(cf, &r1, "R", now), 0);
	/* list 2: A up to serial 5 and R's serial 6 */
	CHECK_INT(apply(cf, l2, n2, &have), 1);
	CHECK_INT(trust_check_cert(cf, &a1, "A", now), -1);
	CHECK_ERR("A (certificate serial 5 of authority");
	CHECK_ERR("is revoked (revocation list serial 2");
	CHECK_INT(trust_check_cert(cf, &r1, "R", now), -1);
	CHECK_ERR("certificate serial 6");
	CHECK_INT(trust_check_cert(cf, &a2, "A", now), 0);	/* re-certified later: good */
	/* an older list replayed after a newer one changes nothing */
	CHECK_INT(apply(cf, l1, n1, &have), 0);
	CHECK_INT(have, 2);
	CHECK_INT(trust_check_cert(cf, &r1, "R", now), -1);	/* still revoked */
	CHECK_INT(apply(cf, l2, n2, &have), 0);			/* equal: nothing */
	/* list 3 adds a key: every certificate (and pin) of that key */
	CHECK_INT(apply(cf, l3, n3, &have), 1);
	CHECK_INT(trust_check_cert(cf, &a2, "A", now), -1);
	CHECK_ERR("key");
	CHECK_INT(trust_check_pinned(cf, "B", kB->pub.sign), -1);
	CHECK_INT(trust_check_pinned(cf, "A", kA->pub.sign), 0);
	/* a damaged held list fails closed for its authority */
	{
		char dir[PATH_MAX], hex[AUTH_ID_HEX];

		cert_id_hex(a1.authority, hex);
		snprintf(dir, sizeof(dir), "%s/revoked", cf->trust_dir);
		safe_write(dir, hex, "shipd-revocations 1\nauthority: x\n", 33, 0600);
		CHECK_INT(trust_check_cert(cf, &r1, "R", now), -1);
		CHECK_ERR("is damaged");
	}
	free(l1);
	free(l2);
	free(l3);
	config_free(cf);
}

/* n checks of c, each answering want; counts what they looked at */
static void
checks(struct config *cf, const struct cert *c, const char *name, int want, int n)
{
	counting = 1;
	n_opendir = n_stat = 0;
	for (int i = 0; i < n; i++)
		CHECK_INT(trust_check_cert(cf, c, name, now), want);
	counting = 0;
}

static void
revocation_cached(void)
{
	struct config *cf = mkconf("Relay", auth1, NULL);
	struct cert a1 = mkcert(auth1, "A", kA, -10, 86400, 5, CERT_NODE);
	struct cert r1 = mkcert(auth1, "R", kR, -10, 86400, 6, CERT_RELAY);
	struct cert b1 = mkcert(auth1, "B", kB, -10, 86400, 7, CERT_NODE);
	struct rev_entry e[3];
	char *l1, *l2, *l3, path[PATH_MAX], hex[AUTH_ID_HEX];
	size_t n1, n2, n3;
	uint64_t have;
	int fd;

	memset(e, 0, sizeof(e));
	e[0].kind = REV_NODE;
	snprintf(e[0].name, sizeof(e[0].name), "A");
	e[0].serial = 5;
	l1 = mklist(auth1, 1, e, 1, &n1);
	e[1].kind = REV_SERIAL;
	e[1].serial = 6;
	l2 = mklist(auth1, 2, e, 2, &n2);
	e[2].kind = REV_KEY;
	memcpy(e[2].key, kB->pub.sign, 32);
	l3 = mklist(auth1, 3, e, 3, &n3);
	cert_id_hex(a1.authority, hex);
	snprintf(path, sizeof(path), "%s/revoked/%s", cf->trust_dir, hex);
	trust_attach(cf);

	/* no revoked/ yet: nothing to list, check after check */
	CHECK_INT(trust_check_cert(cf, &a1, "A", now), 0);
	checks(cf, &a1, "A", 0, 10);
	CHECK_INT(n_opendir, 0);
	/* a list installed while running counts at the next check */
	CHECK_INT(apply(cf, l1, n1, &have), 1);
	CHECK_INT(trust_check_cert(cf, &a1, "A", now), -1);
	CHECK_INT(trust_check_cert(cf, &r1, "R", now), 0);
	CHECK_INT(apply(cf, l2, n2, &have), 1);
	CHECK_INT(trust_check_cert(cf, &r1, "R", now), -1);
	/* once revoked/ is older than its times can tell apart, a check that
	 * finds it unchanged lists nothing: a stat of it and of the list */
	sleep(3);
	CHECK_INT(trust_check_cert(cf, &a1, "A", now), -1);
	checks(cf, &r1, "R", -1, 10);
	CHECK_INT(n_opendir, 0);
	printf("# 10 checks: %d opendir, %d stat\n", n_opendir, n_stat);
	CHECK(n_stat <= 20);
	/* rewritten in place (revoked/ itself unchanged): the next check */
	CHECK((fd = open(path, O_WRONLY | O_TRUNC)) >= 0);
	CHECK(write(fd, l3, n3) == (ssize_t)n3);
	close(fd);
	CHECK_INT(trust_check_cert(cf, &b1, "B", now), -1);
	CHECK_ERR("key");
	/* removed: nothing revoked any more */
	CHECK(unlink(path) == 0);
	CHECK_INT(trust_check_cert(cf, &a1, "A", now), 0);
	CHECK_INT(trust_check_cert(cf, &r1, "R", now), 0);
	CHECK_INT(trust_check_cert(cf, &b1, "B", now), 0);
	free(l1);
	free(l2);
	free(l3);
	config_free(cf);
}

/* ---- learning, sealing and rotation ---- */

struct got {
	char path[PATH_MAX];
};

static int
keep_part(void *arg, const char *path, const struct pkt_info *pi)
{
	struct got *g = arg;
	char *dir = newdir("bay");

	snprintf(g->path, sizeof(g->path), "%s/%s", dir, pi->id);
	free(dir);
	return rename(path, g->path);
}

static void
packet_with_certificate(void)
{
	struct config *ca = mkconf("A", auth1, NULL), *cr = mkconf("R", auth1, NULL);
	struct config *cb = mkconf("B", auth1, NULL), *cx = mkconf("X", auth2, NULL);
	struct cert ac = mkcert(auth1, "A", kA, -10, 86400, 11, CERT_NODE);
	struct cert bc = mkcert(auth1, "B", kB, -10, 86400, 12, CERT_NODE);
	struct pkt_info pi;
	struct strv dests = {0}, names = {0};
	struct pubkey pk;
	struct got g;
	char *src = xasprintf("%s/src.%d", root, ++seq), *tmp = newdir("tmp");
	const char *parts[1];

	safe_write(root, strrchr(src, '/') + 1, "payload\n", 8, 0600);
	strv_add(&dests, "B");
	kA->cert = xmalloc(ac.rawlen);
	memcpy(kA->cert, ac.raw, ac.rawlen);
	kA->certlen = ac.rawlen;
	/* A knows nothing of B yet: sealing for it needs its key */
	CHECK_INT(packet_seal(ca, kA, "A", src, "f", &dests, "-default", "g1", now, now + 99, 0,
			      tmp, keep_part, &g), -1);
	CHECK_ERR("no certificate of B has reached this node yet");
	/* once B's certificate is learned, A seals for it */
	CHECK_INT(trust_learn(ca, &bc), 1);
	CHECK_INT(trust_learn(ca, &bc), 0);
	CHECK_INT(trust_node_key(ca, NULL, "B", &pk), TK_CERT);
	CHECK_INT(packet_seal(ca, kA, "A", src, "f", &dests, "-default", "g2", now, now + 99, 0,
			      tmp, keep_part, &g), 0);
	/* a relay that knows only the authority checks the whole packet */
	CHECK_INT(packet_verify_file(cr, g.path, &pi), 0);
	CHECK(pi.has_cert && strcmp(pi.cert.name, "A") == 0 && pi.cert.serial == 11);
	CHECK_STR(pi.kind, "data");
	pkt_info_free(&pi);
	/* one that trusts another authority refuses it, naming the certificate */
	CHECK_INT(packet_verify_file(cx, g.path, &pi), -1);
	CHECK_ERR("origin A (certificate serial 11 of authority");
	CHECK_ERR("not signed by an AUTHORITY trusted here");
	/* the destination opens it */
	parts[0] = g.path;
	{
		char *out = newdir("out");

		CHECK_INT(packet_open(cb, kB, parts, 1, out, &names), 0);
		free(out);
	}
	strv_free(&names);
	/* a packet of another kind says so in its signed header */
	{
		struct pkt_extra x = { NULL, NULL, "revocation", 0, -1, NULL };

		CHECK_INT(packet_seal_extra(ca, kA, "A", src, "f", &dests, "-default", "g3",
					    now, now + 99, 0, tmp, &x, keep_part, &g), 0);
	}
	CHECK_INT(packet_verify_file(cr, g.path, &pi), 0);
	CHECK_STR(pi.kind, "revocation");
	pkt_info_free(&pi);
	free(kA->cert);
	kA->cert = NULL;
	kA->certlen = 0;
	strv_free(&dests);
	config_free(ca);
	config_free(cr);
	config_free(cb);
	config_free(cx);
	free(src);
	free(tmp);
}

static void
rotated_destination_opens_old_packets(void)
{
	struct config *ca = mkconf("A", auth1, NULL), *cb = mkconf("B", auth1, NULL);
	struct keys *bold = newkey("Bold"), *bnew = newkey("Bnew");
	struct cert oldc = mkcert(auth1, "B", bold, -20, 86400, 21, CERT_NODE);
	struct strv dests = {0}, names = {0};
	struct got g;
	char *src = xasprintf("%s/src.%d", root, ++seq), *tmp = newdir("tmp"), *out;
	const char *parts[1];

	safe_write(root, strrchr(src, '/') + 1, "in flight\n", 10, 0600);
	strv_add(&dests, "B");
	trust_learn(ca, &oldc);
	addpeer(cb, "A", kA);		/* B checks A's signature with a pinned key */
	/* sealed for B's old key while B rotates */
	CHECK_INT(packet_seal(ca, kA, "A", src, "f", &dests, "-default", "rot", now, now + 99, 0,
			      tmp, keep_part, &g), 0);
	parts[0] = g.path;
	/* B now holds only its new key: the packet does not open */
	out = newdir("out");
	CHECK_INT(packet_open(cb, bnew, parts, 1, out, &names), -1);
	CHECK_ERR("sealed for another key");
	free(out);
	/* with the old key kept (keygen --rotate), it does */
	bnew->prev = bold;
	out = newdir("out");
	CHECK_INT(packet_open(cb, bnew, parts, 1, out, &names), 0);
	CHECK(names.n == 1);
	free(out);
	strv_free(&names);
	strv_free(&dests);
	keys_free(bnew);	/* frees bold too */
	config_free(ca);
	config_free(cb);
	free(src);
	free(tmp);
}

/* The identity loader: the certified key signs; a rotation under way keeps the old one. */
static void
identity_follows_certificate(void)
{
	struct config *cf = mkconf("N", auth1, NULL);
	struct keys *k, *cur, *old;
	struct cert c;
	char *text, old_path[PATH_MAX];

	cf->key_file = xasprintf("%s/n.key", root);
	cf->cert_file = xasprintf("%s/n.cert", root);
	CHECK(keys_generate(cf->key_file, &cur) == 0);
	c = mkcert(auth1, "N", cur, -10, 86400, 31, CERT_NODE);
	text = cert_file_text(&c);
	safe_write(root, "n.cert", text, strlen(text), 0644);
	free(text);
	CHECK_INT(trust_identity(cf, &k), 0);
	CHECK(k && k->cert && memcmp(k->pub.sign, cur->pub.sign, 32) == 0 && k->prev == NULL);
	keys_free(k);
	/* keygen --rotate: the old key moves to .old, a new one takes its place;
	 * the certificate still names the old key, which keeps signing */
	snprintf(old_path, sizeof(old_path), "%s.old", cf->key_file);
	CHECK(rename(cf->key_file, old_path) == 0);
	CHECK(keys_generate(cf->key_file, &k) == 0);
	keys_free(k);
	CHECK_INT(trust_identity(cf, &k), 0);
	CHECK(k && memcmp(k->pub.sign, cur->pub.sign, 32) == 0 && k->prev != NULL);
	old = k;
	/* the new certificate arrives: the new key signs, the old one opens */
	c = mkcert(auth1, "N", old->prev, -5, 86400, 32, CERT_NODE);
	text = cert_file_text(&c);
	safe_write(root, "n.cert", text, strlen(text), 0644);
	free(text);
	CHECK_INT(trust_identity(cf, &k), 0);
	CHECK(k && memcmp(k->pub.sign, old->prev->pub.sign, 32) == 0 && k->prev &&
	      memcmp(k->prev->pub.sign, cur->pub.sign, 32) == 0);
	keys_free(k);
	keys_free(old);
	/* a certificate of another node or key is refused */
	c = mkcert(auth1, "M", cur, -10, 86400, 33, CERT_NODE);
	text = cert_file_text(&c);
	safe_write(root, "n.cert", text, strlen(text), 0644);
	free(text);
	CHECK_INT(trust_identity(cf, &k), -1);
	CHECK_ERR("certifies M, not this node (N)");
	c = mkcert(auth1, "N", kR, -10, 86400, 34, CERT_NODE);
	text = cert_file_text(&c);
	safe_write(root, "n.cert", text, strlen(text), 0644);
	free(text);
	CHECK_INT(trust_identity(cf, &k), -1);
	CHECK_ERR("certifies another key");
	keys_free(cur);
	config_free(cf);
}

int
main(void)
{
	crypto_init();
	log_open("test_cert", "stderr");
	snprintf(root, sizeof(root), "/tmp/test_cert.XXXXXX");
	if (mkdtemp(root) == NULL)
		return 2;
	now = time(NULL);
	auth1 = newkey("auth1");
	auth2 = newkey("auth2");
	kA = newkey("A");
	kB = newkey("B");
	kR = newkey("R");
	TEST(cert_round_trip);
	TEST(cert_refusals);
	TEST(cert_decode_garbage);
	TEST(revocation_lists);
	TEST(revocation_cached);
	TEST(packet_with_certificate);
	TEST(rotated_destination_opens_old_packets);
	TEST(identity_follows_certificate);
	keys_free(auth1);
	keys_free(auth2);
	keys_free(kA);
	keys_free(kB);
	keys_free(kR);
	{
		char *cmd = xasprintf("rm -rf %s", root);

		if (system(cmd) != 0)
			printf("# could not remove %s\n", root);
		free(cmd);
	}
	T_DONE();
}

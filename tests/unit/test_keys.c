/*
 * test_keys.c - loading a node's secret key file: keygen writes both
 * public halves and a check line (an HMAC keyed by the secret halves)
 * that loading verifies instead of deriving them; an old file without
 * them still loads (the halves derived, the signing one compared) and
 * `keygen --upgrade` (keys_upgrade) rewrites it; a file whose halves do
 * not match is refused in one line, in either form; keys_verify derives
 * and compares; and loading
 * leaves no copy of the seed, nor of the scalar hashed from it, in this
 * process's ordinary heap (libgcrypt's secure memory holds them, and is
 * wiped), which is what lets shipd fork workers from a process that
 * loaded its key. The check is in process: no child is forked.
 *
 * Keys are made in a child (key generation itself leaves copies in the
 * heap that makes them) and read back here through stack buffers only.
 */
#include "t.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "util/log.h"

#include <fcntl.h>
#include <limits.h>
#include <gcrypt.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/test_keys.XXXXXX";

/* A key file made in a child, so this heap never saw its seed. */
static int
keyfile_in_child(const char *path)
{
	int st;
	pid_t pid = fork();

	if (pid == 0)
		_exit(keys_generate(path, NULL) == 0 ? 0 : 1);
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* The file's "NAME: base64" line decoded into out, through the stack only. */
static int
field(const char *path, const char *name, uint8_t *out, size_t len)
{
	char text[1024], want[32], b[128];
	const char *p, *e;
	size_t n = 0;
	ssize_t k;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	k = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (k <= 0)
		return -1;
	text[k] = 0;
	snprintf(want, sizeof(want), "\n%s: ", name);
	if ((p = strstr(text, want)) == NULL || (e = strchr(p += strlen(want), '\n')) == NULL ||
	    (size_t)(e - p) >= sizeof(b))
		return -1;
	memcpy(b, p, e - p);
	b[e - p] = 0;
	k = b64_decode(b, out, len, &n) == 0 && n == len ? 0 : -1;
	crypto_wipe(text, sizeof(text));
	crypto_wipe(b, sizeof(b));
	return (int)k;
}

/* The whole file, into buf (NUL-terminated); its length or -1. */
static ssize_t
slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n;
}

/*
 * Rewrite path: each line "NAME: ..." whose NAME is drop is left out, and
 * the value of the line named set (if any) becomes value. Through the
 * stack only (the file holds secrets).
 */
static int
rewrite(const char *path, const char *drop1, const char *drop2, const char *set,
	const char *value)
{
	char in[1024], out[1024];
	size_t o = 0;
	int fd, rc;

	if (slurp(path, in, sizeof(in)) <= 0)
		return -1;
	for (char *l = in, *e; *l; l = e + 1) {
		size_t nl;

		if ((e = strchr(l, '\n')) == NULL)
			break;
		nl = (size_t)(e - l);
		if ((drop1 && strncmp(l, drop1, strlen(drop1)) == 0 && l[strlen(drop1)] == ':') ||
		    (drop2 && strncmp(l, drop2, strlen(drop2)) == 0 && l[strlen(drop2)] == ':'))
			continue;
		if (set && strncmp(l, set, strlen(set)) == 0 && l[strlen(set)] == ':')
			o += snprintf(out + o, sizeof(out) - o, "%s: %s\n", set, value);
		else
			o += snprintf(out + o, sizeof(out) - o, "%.*s\n", (int)nl, l);
		if (o >= sizeof(out))
			return -1;
	}
	fd = open(path, O_WRONLY | O_TRUNC);
	rc = fd >= 0 && write(fd, out, o) == (ssize_t)o ? 0 : -1;
	if (fd >= 0)
		close(fd);
	crypto_wipe(in, sizeof(in));
	crypto_wipe(out, sizeof(out));
	return rc;
}

/* The base64 value of line name in path, into out (a stack buffer). */
static int
value_of(const char *path, const char *name, char *out, size_t size)
{
	char text[1024], want[32];
	const char *p, *e;
	int rc = -1;

	if (slurp(path, text, sizeof(text)) <= 0)
		return -1;
	snprintf(want, sizeof(want), "\n%s: ", name);
	if ((p = strstr(text, want)) && (e = strchr(p += strlen(want), '\n')) &&
	    (size_t)(e - p) < size) {
		memcpy(out, p, e - p);
		out[e - p] = 0;
		rc = 0;
	}
	crypto_wipe(text, sizeof(text));
	return rc;
}

/* Does [heap] hold any 12-byte window (at 0, 10, 20) of the 32 bytes s? */
static int
heap_holds(const uint8_t s[32])
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	if (f == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (strstr(line, "[heap]") == NULL || sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		for (const uint8_t *p = (const uint8_t *)lo; !found && p + 12 <= (uint8_t *)hi; p++)
			for (int off = 0; off <= 20; off += 10)
				if (p[0] == s[off] && memcmp(p, s + off, 12) == 0) {
					found = 1;
					break;
				}
	}
	fclose(f);
	return found;
}

static void
test_public_matches_keypair(void)
{
	for (int i = 0; i < 8; i++) {
		uint8_t *sec = crypto_secure_alloc(ED25519_SEC_LEN);
		uint8_t pub[ED25519_PUB_LEN], derived[ED25519_PUB_LEN];

		CHECK(ed25519_keypair(sec, pub) == 0);
		CHECK(ed25519_public(sec, derived) == 0);
		CHECK(memcmp(pub, derived, sizeof(pub)) == 0);
		crypto_secure_free(sec, ED25519_SEC_LEN);
	}
}

static void
test_load_leaves_no_seed_in_heap(void)
{
	char path[PATH_MAX];
	uint8_t seed[ED25519_SEC_LEN], scalar[64];
	gcry_md_hd_t h;
	struct keys *k = NULL;

	snprintf(path, sizeof(path), "%s/clean.key", dir);
	CHECK(keyfile_in_child(path) == 0);
	CHECK(field(path, "sign", seed, sizeof(seed)) == 0);
	/* the scalar (the first half of SHA-512(seed)), hashed in secure memory */
	CHECK(gcry_md_open(&h, GCRY_MD_SHA512, GCRY_MD_FLAG_SECURE) == 0);
	gcry_md_write(h, seed, sizeof(seed));
	memcpy(scalar, gcry_md_read(h, GCRY_MD_SHA512), sizeof(scalar));
	gcry_md_close(h);
	CHECK_INT(heap_holds(seed), 0);		/* the test's own reading left none */
	CHECK(keys_load(path, &k) == 0);
	CHECK(k && memcmp(k->sign_sec, seed, sizeof(seed)) == 0);
	keys_free(k);
	CHECK_INT(heap_holds(seed), 0);
	CHECK_INT(heap_holds(scalar), 0);
	crypto_wipe(seed, sizeof(seed));
	crypto_wipe(scalar, sizeof(scalar));
	unlink(path);
}

static void
test_mismatched_halves_refused(void)
{
	char a[PATH_MAX], b[PATH_MAX], text[1024], *p, *q;
	struct keys *k = NULL;
	ssize_t n;
	int fd;

	snprintf(a, sizeof(a), "%s/a.key", dir);
	snprintf(b, sizeof(b), "%s/b.key", dir);
	CHECK(keyfile_in_child(a) == 0);
	CHECK(keyfile_in_child(b) == 0);
	CHECK(keys_load(a, &k) == 0);
	keys_free(k);
	k = NULL;
	/* a's secret halves with b's public signing half */
	fd = open(b, O_RDONLY);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	CHECK(n > 0);
	text[n > 0 ? n : 0] = 0;
	p = strstr(text, "\nsign-pub: ");
	CHECK(p != NULL);
	if (p == NULL)
		return;
	p += strlen("\nsign-pub: ");
	q = strchr(p, '\n');
	*q = 0;
	{
		char mixed[1024], at[1024], *s;
		int m;

		fd = open(a, O_RDONLY);
		n = read(fd, at, sizeof(at) - 1);
		close(fd);
		at[n > 0 ? n : 0] = 0;
		s = strstr(at, "\nsign-pub: ");
		CHECK(s != NULL);
		if (s == NULL)
			return;
		s += strlen("\nsign-pub: ");
		m = snprintf(mixed, sizeof(mixed), "%.*s%s%s", (int)(s - at), at, p, strchr(s, '\n'));
		fd = open(a, O_WRONLY | O_TRUNC);
		CHECK(write(fd, mixed, m) == m);
		close(fd);
		crypto_wipe(at, sizeof(at));
		crypto_wipe(mixed, sizeof(mixed));
	}
	crypto_wipe(text, sizeof(text));
	CHECK(keys_load(a, &k) < 0);
	CHECK(k == NULL);
	CHECK(strstr(err_get(), "a.key: public key halves do not match the secret ones") != NULL);
	unlink(a);
	unlink(b);
}

/* keygen's file: both public halves and the check line, loaded as they are */
static void
test_keygen_writes_public_halves(void)
{
	char path[PATH_MAX], text[1024];
	uint8_t sign[ED25519_PUB_LEN], kx[X25519_LEN], check[SHA256_LEN];
	struct keys *k = NULL;
	int current = -1;

	snprintf(path, sizeof(path), "%s/new.key", dir);
	CHECK(keyfile_in_child(path) == 0);
	CHECK(slurp(path, text, sizeof(text)) > 0);
	CHECK(strncmp(text, "shipd-secret-key 1\n", 19) == 0);
	CHECK(strstr(text, "\nkx-pub: ") != NULL);
	CHECK(strstr(text, "\ncheck: ") != NULL);
	CHECK(strstr(text, "\nend\n") != NULL);
	crypto_wipe(text, sizeof(text));
	CHECK(field(path, "sign-pub", sign, sizeof(sign)) == 0);
	CHECK(field(path, "kx-pub", kx, sizeof(kx)) == 0);
	CHECK(field(path, "check", check, sizeof(check)) == 0);
	CHECK(keys_load_form(path, &k, &current) == 0);
	CHECK_INT(current, 1);
	if (k) {
		uint8_t derived[X25519_LEN];

		CHECK(memcmp(k->pub.sign, sign, sizeof(sign)) == 0);
		CHECK(memcmp(k->pub.kx, kx, sizeof(kx)) == 0);
		CHECK(x25519_public(k->kx_sec, derived) == 0);
		CHECK(memcmp(derived, kx, sizeof(kx)) == 0);
		CHECK(keys_verify(k, path) == 0);
	}
	keys_free(k);
	unlink(path);
}

/* A file from before kx-pub and check: loads, derived; --upgrade rewrites it */
static void
test_old_form_loads_and_upgrades(void)
{
	char path[PATH_MAX], text[1024];
	uint8_t sign[ED25519_PUB_LEN], kx[X25519_LEN];
	struct keys *k = NULL, *k2 = NULL;
	struct stat st;
	int current = -1;

	snprintf(path, sizeof(path), "%s/old.key", dir);
	CHECK(keyfile_in_child(path) == 0);
	CHECK(field(path, "sign-pub", sign, sizeof(sign)) == 0);
	CHECK(field(path, "kx-pub", kx, sizeof(kx)) == 0);
	CHECK(rewrite(path, "kx-pub", "check", NULL, NULL) == 0);
	CHECK(slurp(path, text, sizeof(text)) > 0);
	CHECK(strstr(text, "kx-pub") == NULL && strstr(text, "check") == NULL);
	crypto_wipe(text, sizeof(text));
	CHECK(keys_load_form(path, &k, &current) == 0);
	CHECK_INT(current, 0);
	CHECK(k && memcmp(k->pub.sign, sign, sizeof(sign)) == 0 &&
	      memcmp(k->pub.kx, kx, sizeof(kx)) == 0);
	CHECK_INT(keys_upgrade(path), 1);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(keys_load_form(path, &k2, &current) == 0);
	CHECK_INT(current, 1);
	CHECK(k && k2 && memcmp(k->sign_sec, k2->sign_sec, ED25519_SEC_LEN) == 0 &&
	      memcmp(k->kx_sec, k2->kx_sec, X25519_LEN) == 0 &&
	      memcmp(k2->pub.sign, sign, sizeof(sign)) == 0 &&
	      memcmp(k2->pub.kx, kx, sizeof(kx)) == 0);
	CHECK_INT(keys_upgrade(path), 0);	/* current already: untouched */
	keys_free(k);
	keys_free(k2);
	unlink(path);
}

/*
 * Another key's public half put in a file is refused, whichever half and
 * whichever form; so is a changed check line. keys_verify finds halves
 * that do not match (the check at a daemon's start and for pubkey).
 */
static void
test_foreign_public_half_refused(void)
{
	static const char *const halves[] = { "sign-pub", "kx-pub", "check" };
	char a[PATH_MAX], b[PATH_MAX], v[128];
	struct keys *k = NULL;

	snprintf(a, sizeof(a), "%s/a.key", dir);
	snprintf(b, sizeof(b), "%s/b.key", dir);
	CHECK(keyfile_in_child(b) == 0);
	for (int i = 0; i < 3; i++) {
		unlink(a);
		CHECK(keyfile_in_child(a) == 0);
		CHECK(value_of(b, halves[i], v, sizeof(v)) == 0);
		CHECK(rewrite(a, NULL, NULL, halves[i], v) == 0);
		k = NULL;
		CHECK(keys_load(a, &k) < 0);
		CHECK(k == NULL);
		CHECK(strstr(err_get(), "a.key: public key halves do not match the secret ones") != NULL);
		if (strstr(err_get(), "a.key: public key halves") == NULL)
			printf("#   %s: %s\n", halves[i], err_get());
		keys_free(k);
	}
	/* the old form with b's signing half: refused on the derived one */
	unlink(a);
	CHECK(keyfile_in_child(a) == 0);
	CHECK(value_of(b, "sign-pub", v, sizeof(v)) == 0);
	CHECK(rewrite(a, "kx-pub", "check", "sign-pub", v) == 0);
	k = NULL;
	CHECK(keys_load(a, &k) < 0);
	CHECK(strstr(err_get(), "a.key: signing key halves do not match") != NULL);
	/* loaded keys whose public half is changed in memory: keys_verify says so */
	unlink(a);
	CHECK(keyfile_in_child(a) == 0);
	k = NULL;
	CHECK(keys_load(a, &k) == 0);
	if (k) {
		CHECK(keys_verify(k, a) == 0);
		k->pub.kx[3] ^= 1;
		CHECK(keys_verify(k, a) < 0);
		CHECK(strstr(err_get(), "a.key: public key halves do not match") != NULL);
		k->pub.kx[3] ^= 1;
		k->pub.sign[0] ^= 1;
		CHECK(keys_verify(k, a) < 0);
	}
	keys_free(k);
	unlink(a);
	unlink(b);
}

int
main(void)
{
	log_open("test_keys", "stderr");
	crypto_init();
	if (mkdtemp(dir) == NULL)
		return 1;
	TEST(test_load_leaves_no_seed_in_heap);	/* first: before any keypair in this heap */
	TEST(test_public_matches_keypair);
	TEST(test_mismatched_halves_refused);
	TEST(test_keygen_writes_public_halves);
	TEST(test_old_form_loads_and_upgrades);
	TEST(test_foreign_public_half_refused);
	rmdir(dir);
	T_DONE();
}

/*
 * test_keys.c - loading a node's secret key file: the public half is
 * derived from the seed (ed25519_public) and must be the one stored; a
 * file whose halves do not match is refused in one line; and loading
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
	CHECK(strstr(err_get(), "a.key: signing key halves do not match") != NULL);
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
	rmdir(dir);
	T_DONE();
}

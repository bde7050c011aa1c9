/*
 * fuzz_packet.c - libFuzzer target for the packet format's untrusted-input
 * paths.
 *
 * An input starting with "shipd-packet" is a packet file: it goes through
 * packet_check_header, the header parser, the chunk decoder over whatever
 * body bytes follow (with our unwrapped key when the header is addressed
 * to us, else a fixed key), packet_open (verify, reader, libarchive,
 * extraction), and packet_open_stream over the same bytes (delivery while
 * receiving), which must never open what packet_open refuses, and
 * packet_verifier_whole (an inline offer's one-signature check), which
 * must never take what the two-signature check refuses. Any other input
 * is taken as the plaintext archive stream:
 * it is sealed with the real sealer and opened, so libarchive's zstd and
 * tar readers and our entry checks see arbitrary archives.
 *
 * The two keys below are FUZZ-ONLY (published here; never use them for
 * anything): FuzzA seals, FuzzB receives, so seed packets verify and
 * mutations get past the signatures into the deeper paths.
 *
 * Seeds: FUZZ_PACKET_MKSEED=DIR build/fuzz/fuzz_packet writes a few real
 * packets and archive streams into DIR and exits.
 */
#include "conf/config.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "packet/packet.h"
#include "packet/packet_int.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/safefile.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char key_a[] =
	"shipd-secret-key 1\n"
	"sign: VJNfsA4VucXWlkd6I9fzmmg1+vuadBdljXdj6AG7V+w=\n"
	"sign-pub: 19W8UHkCI92tFCFdJVFT2IGyMT+5/OTAnbc/JiV71ks=\n"
	"kx: 8f3+ctQXtCT5zOuAvjA/Ogxr7s47UUb6y3UZ5rJvMyY=\n"
	"end\n";
static const char key_b[] =
	"shipd-secret-key 1\n"
	"sign: XHvSS0JDAj624bvqXWUjp3v8HySkUN3auwW/uODO2vI=\n"
	"sign-pub: ExdSEcM1S+fjufziKOqYKmNtG5elufKr6TRaM2xgWME=\n"
	"kx: r24hriZnM2dNXn/eVjX8Kf68F0c2Uj/iaVmp6TivESs=\n"
	"end\n";

static struct keys *ka, *kb;
static struct config *cf_a, *cf_b;
static struct strv to_b;
static char work[64], tmpdir[PATH_MAX], destdir[PATH_MAX];

static struct keys *
load_key(const char *text)
{
	char path[PATH_MAX];
	struct keys *k;

	snprintf(path, sizeof(path), "%s/k.XXXXXX", work);
	int fd = mkstemp(path);

	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || close(fd) < 0 ||
	    keys_load(path, &k) < 0) {
		fprintf(stderr, "fuzz_packet: key: %s\n", err_get());
		exit(2);
	}
	unlink(path);
	return k;
}

static struct config *
mkconf(const char *self, const char *other, const struct keys *ok)
{
	struct config *cf = xcalloc(1, sizeof(*cf));

	cf->node = xstrdup(self);
	cf->peers = xcalloc(1, sizeof(*cf->peers));
	cf->peers[0].name = xstrdup(other);
	cf->peers[0].key = ok->pub;
	cf->peers[0].has_key = 1;
	cf->npeers = 1;
	return cf;
}

static void
empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[PATH_MAX * 2];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	closedir(d);
}

/* ---- sealing helpers (fuzzing and seeds) ---- */

struct parts {
	char path[8][PATH_MAX];
	const char *pp[8];
	int n;
};

static int
keep(void *arg, const char *path, const struct pkt_info *pi)
{
	struct parts *p = arg;

	if (p->n >= 8)
		return -1;
	snprintf(p->path[p->n], PATH_MAX, "%s", path);
	p->pp[p->n] = p->path[p->n];
	p->n++;
	return 0;
}

static int
seal_stream(const uint8_t *data, size_t size, uint64_t max_part, struct parts *out)
{
	struct pkt_seal_params sp = { "FuzzA", "-default", "fuzz", &to_b, 1, 2, max_part,
				      tmpdir, NULL };
	struct pkt_sealer *s = pkt_sealer_new(cf_a, ka, &sp);
	int rc;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	rc = pkt_sealer_write(s, data, size) == 0 ? pkt_sealer_finish(s, keep, out) : -1;
	pkt_sealer_free(s);
	return rc;
}

/* ---- the packet-file path ---- */

static void
fuzz_chunks(const uint8_t *data, size_t size, const struct pkt_hdr *h)
{
	static const uint8_t fixed[AEAD_KEY_LEN];
	uint8_t *key = crypto_secure_alloc(AEAD_KEY_LEN), *buf = xmalloc(PKT_CCHUNK);
	const uint8_t *body = data + h->info.header_len;
	uint64_t avail = size - h->info.header_len, nch;
	struct aead *a;
	int me = -1;

	for (int i = 0; i < h->info.dests.n; i++)
		if (strcmp(h->info.dests.v[i], "FuzzB") == 0)
			me = i;
	if (me >= 0 && pkt_unwrap(kb, h->eph, h->info.group, "FuzzB", h->wraps[me], key) == 0)
		a = aead_new(key);
	else
		a = aead_new(fixed);
	if (avail > h->body_len)
		avail = h->body_len;
	if (pkt_stream_chunks(h->info.total_size, &nch) == 0)
		for (uint64_t i = 0, off = 0; off < avail; i++) {
			size_t clen = avail - off < PKT_CCHUNK ? avail - off : PKT_CCHUNK;

			memcpy(buf, body + off, clen);
			if (pkt_chunk_open(a, h->info.group, h->first_chunk + i,
					   h->first_chunk + i + 1 == nch, buf, clen) < 0)
				break;
			off += clen;
		}
	aead_free(a);
	crypto_secure_free(key, AEAD_KEY_LEN);
	free(buf);
}

/*
 * The same bytes delivered while received (packet_open_stream, as rstream.c
 * does at a destination): the header as the offer shows it, the rest from a
 * descriptor. The two readers must agree: a packet the stream path opens
 * must open from the file too (file_rc), with the same names.
 */
static void
fuzz_open_stream(const uint8_t *data, size_t size, uint64_t hdrlen, int file_rc,
		 const struct strv *file_names)
{
	struct strv names = {0};
	uint8_t digest[PKT_DIGEST_LEN];
	char *comment = NULL;
	int fd, rc;

	if (hdrlen == 0 || hdrlen > size || (fd = memfd_create("body", MFD_CLOEXEC)) < 0)
		return;
	if (write_all(fd, data + hdrlen, size - hdrlen) == 0 && lseek(fd, 0, SEEK_SET) == 0) {
		rc = packet_open_stream(cf_b, kb, data, hdrlen, fd, NULL, -1, destdir, &names, &comment,
					digest);
		if (rc == 0 && file_rc != 0)
			abort();	/* the stream opened what the file refused */
		if (rc == 0 && file_rc == 0) {
			if (names.n != file_names->n)
				abort();
			for (int i = 0; i < names.n; i++)
				if (strcmp(names.v[i], file_names->v[i]) != 0)
					abort();
		}
		free(comment);
		strv_free(&names);
		empty_dir(destdir);
	}
	close(fd);
}

/*
 * The whole packet at once (packet_verifier_whole, as the receiver checks
 * an inline offer: one signature, the trailer's) must never take what the
 * offer-then-stream check (both signatures) refuses, nor find another
 * digest.
 */
static void
fuzz_whole(const uint8_t *data, size_t size, uint64_t hdrlen)
{
	struct pkt_info pi, out, opi, oout;
	struct pkt_verifier *v;
	int whole, ordinary;

	if (hdrlen == 0 || hdrlen > size)
		return;
	v = packet_verifier_new(cf_b, "fuzz");
	whole = packet_verifier_whole(v, data, hdrlen, data + hdrlen, size - hdrlen, &pi,
				      &out) > 0;
	packet_verifier_free(v);
	memset(&oout, 0, sizeof(oout));
	v = packet_verifier_new(cf_b, "fuzz");
	ordinary = packet_verifier_offer(v, data, hdrlen, &opi) > 0 &&
		   packet_verifier_feed(v, data, size) == 0 && packet_verifier_end(v, &oout) == 0;
	packet_verifier_free(v);
	if (whole && (!ordinary || memcmp(out.digest, oout.digest, PKT_DIGEST_LEN) != 0))
		abort();	/* one signature took what two refused */
	pkt_info_free(&pi);
	pkt_info_free(&out);
	pkt_info_free(&opi);
	pkt_info_free(&oout);
}

static void
fuzz_file(const uint8_t *data, size_t size)
{
	uint64_t hdrlen = 0;
	int rc = -1;
	struct pkt_info pi;
	struct pkt_hdr h;
	struct strv names = {0};
	char path[64];
	const char *pp[1] = { path };
	int fd;

	memset(&pi, 0, sizeof(pi));
	packet_check_header(cf_b, data, size, &pi);
	pkt_info_free(&pi);
	if (pkt_hdr_parse(data, size, &h) == 1) {
		fuzz_chunks(data, size, &h);
		hdrlen = h.info.header_len;
	}
	pkt_hdr_free(&h);
	/* the whole open path, on a memory file */
	if ((fd = memfd_create("pkt", MFD_CLOEXEC)) < 0)
		return;
	if (write_all(fd, data, size) == 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		rc = packet_open(cf_b, kb, pp, 1, destdir, &names);
		empty_dir(destdir);
	}
	close(fd);
	fuzz_open_stream(data, size, hdrlen, rc, &names);
	fuzz_whole(data, size, hdrlen);
	strv_free(&names);
}

/* ---- the archive-stream path ---- */

static void
fuzz_stream(const uint8_t *data, size_t size)
{
	struct parts p;
	struct strv names = {0};

	if (seal_stream(data, size, 0, &p) == 0)
		packet_open(cf_b, kb, p.pp, p.n, destdir, &names);
	for (int i = 0; i < p.n; i++)
		unlink(p.path[i]);
	strv_free(&names);
	empty_dir(destdir);
}

/* ---- seeds ---- */

static size_t
mem_archive(uint8_t *out, size_t cap, const char *name, int type, const char *link)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t used = 0;

	archive_write_add_filter_zstd(a);
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_per_block(a, 0);
	archive_write_open_memory(a, out, cap, &used);
	archive_entry_copy_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, 0644);
	if (link)
		archive_entry_copy_symlink(e, link);
	archive_entry_set_size(e, type == AE_IFREG ? 6 : 0);
	archive_write_header(a, e);
	if (type == AE_IFREG)
		archive_write_data(a, "hello\n", 6);
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	return used;
}

static void
copy_to(const char *dir, const char *name, const char *from)
{
	size_t n;
	char *b = read_file(from, 1 << 20, &n);

	if (b == NULL || safe_write(dir, name, b, n, 0644) < 0) {
		fprintf(stderr, "fuzz_packet: seed %s: %s\n", name, err_get());
		exit(2);
	}
	free(b);
}

static void
make_seeds(const char *dir)
{
	uint8_t arc[8192], big[2 * PKT_CHUNK + 100];
	struct parts p;
	size_t n;

	n = mem_archive(arc, sizeof(arc), "hello.txt", AE_IFREG, NULL);
	safe_write(dir, "stream-regular", arc, n, 0644);
	if (seal_stream(arc, n, 0, &p) < 0)
		exit(2);
	copy_to(dir, "packet-regular", p.path[0]);
	unlink(p.path[0]);
	n = mem_archive(arc, sizeof(arc), "link", AE_IFLNK, "/etc/passwd");
	safe_write(dir, "stream-symlink", arc, n, 0644);
	n = mem_archive(arc, sizeof(arc), "../up", AE_IFREG, NULL);
	safe_write(dir, "stream-dotdot", arc, n, 0644);
	/* three chunks in parts of one chunk each: keep the small last part
	 * whole and the head of a middle one (its header is what differs) */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 2654435761u >> 13);
	if (seal_stream(big, sizeof(big), 2 * PKT_CCHUNK, &p) < 0 || p.n != 3) {
		fprintf(stderr, "fuzz_packet: seed: %s\n", err_get());
		exit(2);
	}
	copy_to(dir, "packet-part3of3", p.path[2]);
	if (truncate(p.path[1], 1200) < 0)
		exit(2);
	copy_to(dir, "packet-part2of3-head", p.path[1]);
	for (int i = 0; i < p.n; i++)
		unlink(p.path[i]);
}

static void
cleanup(void)
{
	empty_dir(tmpdir);
	empty_dir(destdir);
	rmdir(tmpdir);
	rmdir(destdir);
	rmdir(work);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seed = getenv("FUZZ_PACKET_MKSEED");

	crypto_init();
	log_open("fuzz_packet", "stderr");
	snprintf(work, sizeof(work), "%s/fuzz_packet.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(work) == NULL) {
		perror(work);
		exit(2);
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", work);
	snprintf(destdir, sizeof(destdir), "%s/dest", work);
	if (mkdir(tmpdir, 0700) < 0 || mkdir(destdir, 0700) < 0) {
		perror(work);
		exit(2);
	}
	atexit(cleanup);
	ka = load_key(key_a);
	kb = load_key(key_b);
	cf_a = mkconf("FuzzA", "FuzzB", kb);
	cf_b = mkconf("FuzzB", "FuzzA", ka);
	strv_add(&to_b, "FuzzB");
	if (seed) {
		make_seeds(seed);
		exit(0);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 12 && memcmp(data, "shipd-packet", 12) == 0)
		fuzz_file(data, size);
	else if (size <= 4 * PKT_CHUNK)
		fuzz_stream(data, size);
	return 0;
}

/*
 * packet_bench.c - how fast sealing and opening are, against the raw AEAD
 * they are built on, and how much memory they take.
 *
 * Prints markdown: the component speeds (ChaCha20-Poly1305 on 64 KiB
 * chunks, SHA-256, SHA-512, writing a new file, the pax+zstd archive
 * writer alone) and the best seal those allow on two cores, then seal and
 * open of a BENCH_MB file (default 1024) of random and of compressible
 * data with throughput, ratio to raw AEAD and peak RSS (random data also
 * sealed with zstd forced on, as before sampling), then sealing
 * compressible data with other zstd settings. Every operation runs in a
 * forked child so its ru_maxrss is its own. Files go to BENCH_DIR
 * (default /dev/shm when writable, so the disk is not what is measured).
 *
 * Built and run by bench/run; never part of the daemon.
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
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK	(1 << 20)

static uint64_t mib;
static char dir[PATH_MAX], tmpdir[PATH_MAX + 8];
static struct keys *ko, *kd;
static struct config *cfo, *cfd;
static struct strv dests;

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

struct result {
	double secs;
	long rss_kb;
	int ok;
	double cpu;		/* user + system seconds, all threads */
};

/* Run fn in a child; its time and peak RSS. */
static struct result
in_child(int (*fn)(void *), void *arg)
{
	struct result r = { 0, 0, 0, 0 };
	struct rusage ru;
	int p[2], st;
	pid_t pid;

	if (pipe(p) < 0)
		msg_fatal("pipe: %m");
	if ((pid = fork()) < 0)
		msg_fatal("fork: %m");
	if (pid == 0) {
		double t0 = now(), t;
		int rc = fn(arg);

		t = now() - t0;
		if (rc < 0)
			fprintf(stderr, "packet_bench: %s\n", err_get());
		if (write(p[1], &t, sizeof(t)) != sizeof(t))
			_exit(2);
		_exit(rc < 0);
	}
	close(p[1]);
	if (read(p[0], &r.secs, sizeof(r.secs)) != sizeof(r.secs))
		r.secs = 0;
	close(p[0]);
	if (wait4(pid, &st, 0, &ru) < 0)
		msg_fatal("wait4: %m");
	r.rss_kb = ru.ru_maxrss;
	r.cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
		ru.ru_stime.tv_usec / 1e6;
	r.ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	return r;
}

static int repeat;

/* The best of `repeat` runs (a VM's memory makes single runs noisy);
 * cleanup, if any, runs after each. */
static struct result
best(int (*fn)(void *), void *arg, void (*cleanup)(void *))
{
	struct result b = { 0, 0, 1, 0 }, r;

	for (int i = 0; i < repeat; i++) {
		r = in_child(fn, arg);
		if (i == 0 || r.secs < b.secs)
			b.secs = r.secs;
		if (i == 0 || r.cpu < b.cpu)
			b.cpu = r.cpu;
		if (r.rss_kb > b.rss_kb)
			b.rss_kb = r.rss_kb;
		b.ok &= r.ok;
		if (cleanup && i + 1 < repeat)
			cleanup(arg);
	}
	return b;
}

static double
mbps(const struct result *r)
{
	return r->secs > 0 ? mib / r->secs : 0;
}

/* ---- inputs ---- */

static void
make_input(const char *path, int text)
{
	uint64_t x = 0x243f6a8885a308d3ULL, line = 0;
	uint8_t *b = xmalloc(BLOCK);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		msg_fatal("%s: %m", path);
	for (uint64_t m = 0; m < mib; m++) {
		if (text) {
			size_t o = 0;

			while (o < BLOCK) {
				char l[96];
				int n = snprintf(l, sizeof(l), "%08llu 2026-11-24 shipd order "
						 "SiteA_host1 -> SiteB_host2 ok\n",
						 (unsigned long long)line++);

				memcpy(b + o, l, o + n <= BLOCK ? (size_t)n : BLOCK - o);
				o += n;
			}
		} else
			for (size_t i = 0; i < BLOCK; i += 8) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				memcpy(b + i, &x, 8);
			}
		if (write_all(fd, b, BLOCK) < 0)
			msg_fatal("%s: %m", path);
	}
	close(fd);
	free(b);
}

/* ---- components ---- */

static int
raw_aead(void *arg)
{
	uint8_t key[32] = { 1 }, nonce[12] = { 0 }, ad[32] = { 0 };
	uint8_t *b = xmalloc(PKT_CCHUNK);
	struct aead *a = aead_new(key);

	memset(b, 0x5a, PKT_CCHUNK);
	for (uint64_t i = 0; i < mib * 16; i++) {
		nonce[11] = i;
		aead_seal(a, nonce, ad, sizeof(ad), b, PKT_CHUNK, b, b + PKT_CHUNK);
	}
	aead_free(a);
	free(b);
	return 0;
}

static int
hash_speed(void *arg)
{
	uint8_t *b = xmalloc(PKT_CCHUNK), d[64];
	struct hash *h = *(int *)arg == 256 ? hash_new_sha256() : hash_new_sha512();

	memset(b, 0x5a, PKT_CCHUNK);
	for (uint64_t i = 0; i < mib * 16; i++)
		hash_update(h, b, PKT_CCHUNK);
	hash_final(h, d);
	free(b);
	return 0;
}

/* Writing a new file in 64 KiB blocks: the kernel's copy and page allocation. */
static int
write_only(void *arg)
{
	char p[PATH_MAX + 16];
	uint8_t *b = xmalloc(PKT_CCHUNK);
	int fd, rc = 0;

	memset(b, 0x5a, PKT_CCHUNK);
	snprintf(p, sizeof(p), "%s/write-only", dir);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -1;
	for (uint64_t i = 0; rc == 0 && i < mib * 16; i++)
		rc = write_all(fd, b, PKT_CHUNK);
	close(fd);
	unlink(p);
	free(b);
	return rc;
}

static la_ssize_t
discard(struct archive *a, void *arg, const void *buf, size_t n)
{
	*(uint64_t *)arg += n;
	return (la_ssize_t)n;
}

/* The archive writer alone (read + pax + zstd), output discarded. */
static int
archive_only(void *arg)
{
	const char *src = arg;
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	uint8_t *b = xmalloc(256 * 1024);
	uint64_t out = 0;
	int fd = open(src, O_RDONLY);
	ssize_t n;

	archive_write_add_filter_zstd(a);
	archive_write_set_format_pax_restricted(a);
	archive_write_set_options(a, pkt_zstd_options);
	archive_write_set_bytes_per_block(a, 0);
	archive_write_open2(a, &out, NULL, discard, NULL, NULL);
	archive_entry_copy_pathname(e, "data");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (int64_t)mib << 20);
	archive_write_header(a, e);
	while ((n = read(fd, b, 256 * 1024)) > 0)
		archive_write_data(a, b, n);
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	close(fd);
	free(b);
	return 0;
}

/* ---- seal and open ---- */

struct job {
	const char *src;
	char sealed[PATH_MAX + 32];
	char dest[PATH_MAX + 32];
};

static int
keep(void *arg, const char *path, const struct pkt_info *pi)
{
	struct job *j = arg;

	return rename(path, j->sealed) < 0 ? -1 : 0;
}

static int
do_seal(void *arg)
{
	struct job *j = arg;

	return packet_seal(cfo, ko, "Origin", j->src, "data", &dests, "-default", "bench",
			   1700000000, 1800000000, 0, tmpdir, keep, j);
}

static int
do_open(void *arg)
{
	struct job *j = arg;
	struct strv names = {0};
	const char *pp[1] = { j->sealed };
	int rc = packet_open(cfd, kd, pp, 1, j->dest, &names);

	strv_free(&names);
	return rc;
}

static int
do_verify(void *arg)
{
	struct job *j = arg;
	struct pkt_info pi;
	int rc = packet_verify_file(cfd, j->sealed, &pi);

	pkt_info_free(&pi);
	return rc;
}

static void rm(const char *p);

static void
rm_sealed(void *arg)
{
	rm(((struct job *)arg)->sealed);
}

static void
rm_opened(void *arg)
{
	char out[PATH_MAX + 64];

	snprintf(out, sizeof(out), "%s/data", ((struct job *)arg)->dest);
	rm(out);
}

static uint64_t
fsize(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void
row(const char *what, const char *data, const struct result *r, double raw, const char *note)
{
	printf("| %-22s | %-12s | %8.0f | %5.0f%% | %7.1f | %s%s\n", what, data, mbps(r),
	       raw > 0 ? 100 * mbps(r) / raw : 0, r->rss_kb / 1024.0, r->ok ? "" : "FAILED ",
	       note);
}

static struct config *
mkconf(const char *self, const char *other, const struct keys *k)
{
	struct config *cf = xcalloc(1, sizeof(*cf));

	cf->node = xstrdup(self);
	cf->peers = xcalloc(1, sizeof(*cf->peers));
	cf->peers[0].name = xstrdup(other);
	cf->peers[0].key = k->pub;
	cf->peers[0].has_key = 1;
	cf->npeers = 1;
	return cf;
}

static void
rm(const char *p)
{
	if (unlink(p) < 0 && errno != ENOENT)
		msg_warn("unlink %s", p);
}

int
main(void)
{
	const char *m = getenv("BENCH_MB"), *bd = getenv("BENCH_DIR");
	const char *rp = getenv("BENCH_REPEAT");
	char kp[PATH_MAX + 16], src[2][PATH_MAX + 16];
	const char *kinds[2] = { "random", "compressible" };
	struct result raw, r;
	struct job j[2];
	double rawv, shav;
	char note[128];
	int bits;

	crypto_init();
	log_open("packet_bench", "stderr");
	mib = m && atoi(m) > 0 ? (uint64_t)atoi(m) : 1024;
	repeat = rp && atoi(rp) > 0 ? atoi(rp) : 3;
	if (bd == NULL)
		bd = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/packet_bench.XXXXXX", bd);
	if (mkdtemp(dir) == NULL)
		msg_fatal("mkdtemp %s: %m", dir);
	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", dir);
	mkdir(tmpdir, 0700);
	snprintf(kp, sizeof(kp), "%s/o.key", dir);
	if (keys_generate(kp, &ko) < 0)
		msg_fatal("%s", err_get());
	snprintf(kp, sizeof(kp), "%s/d.key", dir);
	if (keys_generate(kp, &kd) < 0)
		msg_fatal("%s", err_get());
	cfo = mkconf("Origin", "Dest", kd);
	cfd = mkconf("Dest", "Origin", ko);
	strv_add(&dests, "Dest");

	/* first touch of a VM's memory can cost more than everything measured
	 * here: write and drop as much as the runs will hold, once */
	{
		char w[PATH_MAX + 16];

		snprintf(w, sizeof(w), "%s/warmup", dir);
		mib *= 4;
		make_input(w, 1);
		mib /= 4;
		rm(w);
	}
	printf("%llu MiB per run, best of %d runs, files in %s, zstd options \"%s\". Seal "
	       "stores data whose sample does not shrink without zstd; a helper thread hashes, "
	       "both threads write. Open reads and hashes on a second thread, both share the "
	       "decrypting, a third writes.\nMiB/s are MiB of input per second; RSS is the peak "
	       "of the process doing the operation; CPU is user + system time of all its threads "
	       "(steadier than MiB/s on a shared machine).\n\n", (unsigned long long)mib, repeat,
	       bd, pkt_zstd_options);
	printf("| operation              | data         |    MiB/s | of raw | RSS MiB | notes\n");
	printf("|------------------------|--------------|----------|--------|---------|------\n");
	raw = best(raw_aead, NULL, NULL);
	rawv = mbps(&raw);
	row("raw ChaCha20-Poly1305", "64 KiB chunks", &raw, rawv, "libgcrypt, no I/O");
	bits = 256;
	r = best(hash_speed, &bits, NULL);
	row("SHA-256", "64 KiB blocks", &r, rawv, "trailer and relay hash");
	shav = mbps(&r);
	bits = 512;
	r = best(hash_speed, &bits, NULL);
	row("SHA-512", "64 KiB blocks", &r, rawv, "for comparison");
	r = best(write_only, NULL, NULL);
	row("write a new file", "64 KiB blocks", &r, rawv, "kernel copy + page allocation");
	{
		/* every sealed byte is encrypted, hashed and written once */
		double ms = 1000 / rawv + 1000 / shav + 1000 / mbps(&r);

		printf("\nSeal's floor: ChaCha20-Poly1305 + SHA-256 + writing cost %.2f ms/MiB, so "
		       "two cores seal at most %.0f MiB/s (%.0f%% of raw) before reading and "
		       "archiving.\n\n", ms, 2000 / ms, 100 * 2000 / ms / rawv);
		printf("| operation              | data         |    MiB/s | of raw | RSS MiB "
		       "| notes\n");
		printf("|------------------------|--------------|----------|--------|---------"
		       "|------\n");
	}
	fflush(stdout);

	for (int k = 0; k < 2; k++) {
		snprintf(src[k], sizeof(src[k]), "%s/src-%s", dir, kinds[k]);
		make_input(src[k], k);
		r = best(archive_only, src[k], NULL);
		row("pax+zstd writer only", kinds[k], &r, rawv, "read + archive + compress");
		j[k].src = src[k];
		snprintf(j[k].sealed, sizeof(j[k].sealed), "%s/sealed-%s", dir, kinds[k]);
		snprintf(j[k].dest, sizeof(j[k].dest), "%s/dest-%s", dir, kinds[k]);
		mkdir(j[k].dest, 0700);
		if (k == 0) {
			pkt_zstd_always = 1;
			r = best(do_seal, &j[k], rm_sealed);
			pkt_zstd_always = 0;
			snprintf(note, sizeof(note), "no sampling, as before; CPU %.2f ms/MiB",
				 1000 * r.cpu / mib);
			row("seal, zstd forced on", kinds[k], &r, rawv, note);
			rm(j[k].sealed);
		}
		r = best(do_seal, &j[k], rm_sealed);
		snprintf(note, sizeof(note), "sealed size %.1f%% of input; CPU %.2f ms/MiB",
			 100.0 * fsize(j[k].sealed) / ((double)mib * BLOCK), 1000 * r.cpu / mib);
		row("seal", kinds[k], &r, rawv, note);
		r = best(do_verify, &j[k], NULL);
		row("verify (relay)", kinds[k], &r, rawv, "header + trailer signatures");
		r = best(do_open, &j[k], rm_opened);
		row("open", kinds[k], &r, rawv, "one read: verify, decrypt, extract (fsync)");
		fflush(stdout);
		{
			char out[PATH_MAX + 64];

			snprintf(out, sizeof(out), "%s/data", j[k].dest);
			if (fsize(out) != mib * BLOCK)
				printf("| open produced %llu bytes, want %llu: FAILED\n",
				       (unsigned long long)fsize(out),
				       (unsigned long long)(mib * BLOCK));
			rm(out);
			rmdir(j[k].dest);
		}
		rm(j[k].sealed);
	}

	/* other zstd settings on compressible data (random data is stored) */
	{
		const char *opts[] = { "zstd:compression-level=2", "zstd:compression-level=1",
				       "zstd:compression-level=-1", "zstd:compression-level=-5",
				       "zstd:compression-level=3,zstd:threads=2",
				       "zstd:compression-level=2,zstd:threads=2", NULL };

		printf("\nSealing compressible data with other zstd settings (size after "
		       "sealing):\n\n");
		printf("| zstd options                              |    MiB/s | sealed %% | RSS MiB\n");
		printf("|-------------------------------------------|----------|----------|--------\n");
		for (int i = 0; opts[i]; i++) {
			pkt_zstd_options = opts[i];
			r = best(do_seal, &j[1], rm_sealed);
			printf("| %-41s | %8.0f | %7.2f%% | %6.1f%s\n", opts[i], mbps(&r),
			       100.0 * fsize(j[1].sealed) / ((double)mib * BLOCK),
			       r.rss_kb / 1024.0, r.ok ? "" : " FAILED");
			rm(j[1].sealed);
			fflush(stdout);
		}
	}
	rm(src[0]);
	rm(src[1]);
	snprintf(kp, sizeof(kp), "%s/o.key", dir);
	rm(kp);
	snprintf(kp, sizeof(kp), "%s/d.key", dir);
	rm(kp);
	rmdir(tmpdir);
	rmdir(dir);
	keys_free(ko);
	keys_free(kd);
	config_free(cfo);
	config_free(cfd);
	strv_free(&dests);
	return 0;
}

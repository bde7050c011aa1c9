/*
 * limits.c - the machine's ceilings that bound any shipping server here,
 * measured in the same run as the benchmarks so the ratios mean something:
 * ChaCha20-Poly1305 and SHA-256 through libgcrypt on one core (64 KiB
 * buffers, the way the packet sealer uses them), loopback TCP bandwidth, sequential write with
 * fsync on the spool's file system, and the rate of create+write+fsync+
 * rename (and the same plus a directory fsync, what safe_commit does).
 *
 * Prints "name value unit" lines for bench/report.sh. Writes only under
 * DIR (removed afterwards); never touches a spool.
 *
 *   limits DIR [MB]
 */
#include "crypto/crypto.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK	(64 * 1024)

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
aead_speed(void)
{
	uint8_t key[AEAD_KEY_LEN], nonce[AEAD_NONCE_LEN] = {0}, tag[AEAD_TAG_LEN];
	static uint8_t buf[CHUNK];
	struct aead *a;
	double t0, t;
	uint64_t n = 0;

	crypto_random(key, sizeof(key));
	crypto_random(buf, sizeof(buf));
	if ((a = aead_new(key)) == NULL)
		msg_fatal("aead_new: %s", err_get());
	t0 = now();
	do {
		for (int i = 0; i < 256; i++, n++) {
			memcpy(nonce, &n, sizeof(n));
			if (aead_seal(a, nonce, NULL, 0, buf, sizeof(buf), buf, tag) < 0)
				msg_fatal("aead_seal: %s", err_get());
		}
	} while ((t = now() - t0) < 1.0);
	aead_free(a);
	memset(key, 0, sizeof(key));
	printf("aead_mbs %.0f MB/s\n", n * (double)CHUNK / t / 1e6);
}

/* SHA-256 (the packet and order digests) on one core, 64 KiB updates. */
static void
sha256_speed(void)
{
	static uint8_t buf[CHUNK];
	uint8_t md[SHA256_LEN];
	struct hash *h = hash_new_sha256();
	double t0, t;
	uint64_t n = 0;

	crypto_random(buf, sizeof(buf));
	t0 = now();
	do {
		for (int i = 0; i < 256; i++, n++)
			hash_update(h, buf, sizeof(buf));
	} while ((t = now() - t0) < 1.0);
	hash_final(h, md);
	printf("sha256_mbs %.0f MB/s\n", n * (double)CHUNK / t / 1e6);
}

static void
tcp_speed(uint64_t bytes)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	static char buf[256 * 1024];
	int ls, s, status;
	uint64_t got = 0;
	ssize_t r;
	pid_t pid;
	double t0, t;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(ls, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&sin, &len) < 0)
		msg_fatal("loopback listen: %s", strerror(errno));
	if ((pid = fork()) < 0)
		msg_fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		uint64_t sent = 0;

		close(ls);
		if ((s = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
		    connect(s, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			_exit(1);
		while (sent < bytes) {
			if ((r = write(s, buf, sizeof(buf))) <= 0)
				_exit(1);
			sent += r;
		}
		_exit(0);
	}
	if ((s = accept(ls, NULL, NULL)) < 0)
		msg_fatal("accept: %s", strerror(errno));
	t0 = now();
	while ((r = read(s, buf, sizeof(buf))) > 0)
		got += r;
	t = now() - t0;
	close(s);
	close(ls);
	waitpid(pid, &status, 0);
	if (got < bytes)
		msg_fatal("loopback: got %llu of %llu bytes", (unsigned long long)got,
			  (unsigned long long)bytes);
	printf("tcp_mbs %.0f MB/s\n", got / t / 1e6);
}

static void
disk_write(const char *dir, uint64_t bytes)
{
	static char buf[1024 * 1024];
	char path[4096];
	uint64_t done = 0;
	double t0, t;
	int fd;

	memset(buf, 0xa5, sizeof(buf));
	snprintf(path, sizeof(path), "%s/seq", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		msg_fatal("%s: %s", path, strerror(errno));
	t0 = now();
	while (done < bytes) {
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			msg_fatal("%s: write: %s", path, strerror(errno));
		done += sizeof(buf);
	}
	if (fsync(fd) < 0)
		msg_fatal("%s: fsync: %s", path, strerror(errno));
	t = now() - t0;
	close(fd);
	printf("disk_mbs %.0f MB/s\n", done / t / 1e6);
	/* read it once, from the disk (the written pages dropped first): with
	 * the write, issue 16's "physical limit" of one hop */
	if ((fd = open(path, O_RDONLY)) < 0)
		msg_fatal("%s: %s", path, strerror(errno));
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	t0 = now();
	for (done = 0;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0)
			msg_fatal("%s: read: %s", path, strerror(errno));
		if (r == 0)
			break;
		done += r;
	}
	t = now() - t0;
	close(fd);
	unlink(path);
	printf("disk_read_mbs %.0f MB/s\n", done / t / 1e6);
}

/* create+write 4 KiB+fsync+rename (+ fsync of the directory if dirsync). */
static void
commit_rate(const char *dir, int dirsync)
{
	char tmp[4096], dst[4096];
	static char buf[4096];
	double t0, t;
	int fd, dfd, n = 0;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
		msg_fatal("%s: %s", dir, strerror(errno));
	t0 = now();
	do {
		snprintf(tmp, sizeof(tmp), "%s/t.%d", dir, n);
		snprintf(dst, sizeof(dst), "%s/f.%d", dir, n);
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 ||
		    write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fsync(fd) < 0 ||
		    close(fd) < 0 || rename(tmp, dst) < 0 || (dirsync && fsync(dfd) < 0))
			msg_fatal("%s: %s", tmp, strerror(errno));
		n++;
	} while ((t = now() - t0) < 2.0 && n < 20000);
	for (int i = 0; i < n; i++) {
		snprintf(dst, sizeof(dst), "%s/f.%d", dir, i);
		unlink(dst);
	}
	close(dfd);
	printf("%s %.0f files/s\n", dirsync ? "commit_dirsync_rate" : "commit_rate", n / t);
}

int
main(int argc, char **argv)
{
	uint64_t mb;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: limits DIR [MB]\n");
		return 64;
	}
	mb = argc == 3 ? strtoull(argv[2], NULL, 10) : 1024;
	if (mb == 0)
		mb = 1;
	if (mkdir(argv[1], 0700) < 0 && errno != EEXIST)
		msg_fatal("%s: %s", argv[1], strerror(errno));
	crypto_init();
	aead_speed();
	sha256_speed();
	tcp_speed(mb << 20);
	disk_write(argv[1], mb << 20);
	commit_rate(argv[1], 0);
	commit_rate(argv[1], 1);
	rmdir(argv[1]);
	return 0;
}

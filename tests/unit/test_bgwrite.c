/*
 * test_bgwrite.c - the background writer (util/bgwrite.c) that extraction
 * writes delivered files through: every byte lands in order whatever the
 * pieces; a small stream (a typical delivery) costs no second thread; a
 * large one gets it; a failed write comes back as -1 with its errno.
 */
#include "t.h"
#include "util/bgwrite.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static int
threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Write len pattern bytes in pieces of step; the file must hold them. */
static void
stream(size_t len, size_t step, int want_threads)
{
	char path[] = "/tmp/test_bgwrite.XXXXXX";
	int fd = mkstemp(path), most = 0;
	uint8_t *b = malloc(len), *back = malloc(len);
	struct bgwrite *w;

	CHECK(fd >= 0 && b && back);
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 7 + i / 251);
	w = bgw_new(fd);
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;

		CHECK_INT(bgw_write(w, b + off, n), 0);
		if (threads() > most)
			most = threads();
	}
	CHECK_INT(bgw_finish(w), 0);
	bgw_free(w);
	CHECK_INT(most, want_threads);
	CHECK_INT(pread(fd, back, len, 0), (long long)len);
	CHECK(memcmp(b, back, len) == 0);
	close(fd);
	unlink(path);
	free(b);
	free(back);
}

static void
small_inline(void)
{
	stream(4096, 4096, 1);		/* no thread for a 4 KiB file */
	stream(BGW_BUF, 1000, 1);	/* nor for one buffer's worth */
}

static void
large_threaded(void)
{
	stream(3 * BGW_BUF + 123, 65536, 2);
	stream(BGW_BUF + 1, BGW_BUF + 1, 2);	/* one piece larger than a buffer */
}

static void
failure(void)
{
	int fd = open("/dev/null", O_RDONLY);
	struct bgwrite *w = bgw_new(fd);
	static uint8_t b[2 * BGW_BUF];

	CHECK_INT(bgw_write(w, b, 10), -1);
	CHECK_INT(errno, EBADF);
	CHECK_INT(bgw_finish(w), -1);
	bgw_free(w);
	w = bgw_new(fd);		/* the same on the thread's side */
	bgw_write(w, b, sizeof(b));
	CHECK_INT(bgw_finish(w), -1);
	CHECK_INT(errno, EBADF);
	bgw_free(w);
	close(fd);
}

int
main(void)
{
	TEST(small_inline);
	TEST(large_threaded);
	TEST(failure);
	T_DONE();
}

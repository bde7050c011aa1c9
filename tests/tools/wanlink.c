/*
 * wanlink.c - a wide-area link between two network namespaces, for the
 * scenario tests and the WAN benchmark: a userspace router between two
 * persistent TUN devices (one in each namespace), so TCP and UDP cross the
 * same emulated path, packet by packet, both ways:
 *
 *   random loss -> drop-tail queue (QUEUE bytes) -> serialisation at RATE
 *   -> propagation delay (RTT/2) -> reordering (a packet held JITTER ms
 *   longer) and duplication -> the other namespace
 *
 * Usage: wanlink [-t RTT_MS] [-r MBIT] [-q BYTES] [-l LOSS%] [-o REORDER%]
 *                [-j JITTER_MS] [-D DUP%] [-s SEED] NETNS_PATH:DEV NETNS_PATH:DEV
 * e.g.   wanlink -t 50 -r 100 -l 2 /run/netns/x-a:wl0 /run/netns/x-b:wl0
 * The devices must exist (ip tuntap add dev wl0 mode tun, in each
 * namespace); addresses and routes are the caller's. The queue defaults
 * to one bandwidth-delay product (at least 64 KiB). On SIGTERM or SIGINT it
 * prints per-direction counters on stderr and exits 0.
 *
 * A test tool: never for production, never touches a namespace it was not
 * named, holds at most 64 MiB of packets.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define PKT_MAX		65536
#define HELD_MAX	(64u << 20)

struct pkt {
	int64_t due;
	uint64_t order;
	int to;				/* 0: to A, 1: to B */
	uint16_t len;
	uint8_t data[];
};

struct dir {
	int64_t free_at;		/* when the serialiser is next idle */
	uint64_t qbytes;		/* accepted, not yet serialised */
	int64_t *dep;			/* ring of (departure, len) still queued */
	uint32_t *deplen;
	size_t dh, dn, dcap;
	unsigned long in, out, lost, qdrop, reord, dup;
};

static struct pkt **heap;
static size_t nheap, capheap, held;
static uint64_t order_ctr, rng = 0x9e3779b97f4a7c15ULL;
static volatile sig_atomic_t stop;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double
urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / (double)(1ULL << 53);
}

static int
before(const struct pkt *a, const struct pkt *b)
{
	return a->due < b->due || (a->due == b->due && a->order < b->order);
}

static void
heap_push(struct pkt *p)
{
	size_t i;

	if (nheap == capheap) {
		capheap = capheap ? 2 * capheap : 1024;
		heap = realloc(heap, capheap * sizeof(*heap));
		if (heap == NULL) {
			perror("wanlink: realloc");
			exit(1);
		}
	}
	i = nheap++;
	while (i > 0 && before(p, heap[(i - 1) / 2])) {
		heap[i] = heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap[i] = p;
	held += p->len;
}

static struct pkt *
heap_pop(void)
{
	struct pkt *top = heap[0], *last = heap[--nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= nheap)
			break;
		if (c + 1 < nheap && before(heap[c + 1], heap[c]))
			c++;
		if (!before(heap[c], last))
			break;
		heap[i] = heap[c];
		i = c;
	}
	if (nheap)
		heap[i] = last;
	held -= top->len;
	return top;
}

static int
tun_open(const char *spec)
{
	char path[512], *dev;
	struct ifreq ifr;
	int nsfd, fd;

	snprintf(path, sizeof(path), "%s", spec);
	if ((dev = strrchr(path, ':')) == NULL) {
		fprintf(stderr, "wanlink: %s: want NETNS_PATH:DEV\n", spec);
		exit(2);
	}
	*dev++ = 0;
	if ((nsfd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "wanlink: enter %s: %s\n", path, strerror(errno));
		exit(1);
	}
	close(nsfd);
	if ((fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		perror("wanlink: /dev/net/tun");
		exit(1);
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "wanlink: attach %s in %s: %s\n", dev, path, strerror(errno));
		exit(1);
	}
	return fd;
}

static void
on_signal(int sig)
{
	stop = 1;
}

/* Forget what the serialiser has finished by t. */
static void
dir_drain(struct dir *d, int64_t t)
{
	while (d->dn && d->dep[d->dh] <= t) {
		d->qbytes -= d->deplen[d->dh];
		d->dh = (d->dh + 1) % d->dcap;
		d->dn--;
	}
}

static void
dir_note(struct dir *d, int64_t dep, uint32_t len)
{
	if (d->dn == d->dcap) {
		size_t ncap = d->dcap ? 2 * d->dcap : 4096;
		int64_t *nd = malloc(ncap * sizeof(*nd));
		uint32_t *nl = malloc(ncap * sizeof(*nl));

		if (nd == NULL || nl == NULL) {
			perror("wanlink: malloc");
			exit(1);
		}
		for (size_t i = 0; i < d->dn; i++) {
			nd[i] = d->dep[(d->dh + i) % d->dcap];
			nl[i] = d->deplen[(d->dh + i) % d->dcap];
		}
		free(d->dep);
		free(d->deplen);
		d->dep = nd;
		d->deplen = nl;
		d->dh = 0;
		d->dcap = ncap;
	}
	d->dep[(d->dh + d->dn) % d->dcap] = dep;
	d->deplen[(d->dh + d->dn) % d->dcap] = len;
	d->dn++;
	d->qbytes += len;
}

struct link {
	int64_t delay_ns, jitter_ns;
	double rate_bps, loss, reorder, dup;
	uint64_t qlimit;
};

static void
enqueue(const struct link *L, struct dir *d, int to, const uint8_t *b, size_t n, int64_t t)
{
	int64_t dep = t;
	struct pkt *p;
	int copies = 1;

	d->in++;
	if (L->loss > 0 && urand() < L->loss) {
		d->lost++;
		return;
	}
	if (held + n > HELD_MAX) {
		d->qdrop++;
		return;
	}
	if (L->rate_bps > 0) {
		dir_drain(d, t);
		if (d->qbytes + n > L->qlimit) {
			d->qdrop++;
			return;
		}
		dep = (d->free_at > t ? d->free_at : t) + (int64_t)(n * 8 * 1e9 / L->rate_bps);
		d->free_at = dep;
		dir_note(d, dep, n);
	}
	if (L->dup > 0 && urand() < L->dup) {
		d->dup++;
		copies = 2;
	}
	for (int c = 0; c < copies; c++) {
		if ((p = malloc(sizeof(*p) + n)) == NULL) {
			perror("wanlink: malloc");
			exit(1);
		}
		p->due = dep + L->delay_ns + c * 1000;
		if (c == 0 && L->reorder > 0 && urand() < L->reorder) {
			p->due += L->jitter_ns;
			d->reord++;
		}
		p->order = order_ctr++;
		p->to = to;
		p->len = n;
		memcpy(p->data, b, n);
		heap_push(p);
	}
}

int
main(int argc, char **argv)
{
	struct link L = { 0 };
	struct dir dirs[2];
	double rtt_ms = 0, mbit = 0, loss = 0, reorder = 0, dup = 0, jitter_ms = 10;
	long long qbytes = 0;
	static uint8_t buf[PKT_MAX];
	int fd[2], c;

	memset(dirs, 0, sizeof(dirs));
	while ((c = getopt(argc, argv, "t:r:q:l:o:j:D:s:")) != -1) {
		switch (c) {
		case 't': rtt_ms = atof(optarg); break;
		case 'r': mbit = atof(optarg); break;
		case 'q': qbytes = atoll(optarg); break;
		case 'l': loss = atof(optarg); break;
		case 'o': reorder = atof(optarg); break;
		case 'j': jitter_ms = atof(optarg); break;
		case 'D': dup = atof(optarg); break;
		case 's': rng ^= strtoull(optarg, NULL, 0) * 0x2545f4914f6cdd1dULL; break;
		default:
			fprintf(stderr, "usage: wanlink [-t RTT_MS] [-r MBIT] [-q BYTES] [-l LOSS%%] "
				"[-o REORDER%%] [-j JITTER_MS] [-D DUP%%] [-s SEED] NS:DEV NS:DEV\n");
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "wanlink: two NETNS_PATH:DEV arguments wanted\n");
		return 2;
	}
	if (rng == 0)
		rng = 1;
	L.delay_ns = (int64_t)(rtt_ms * 1e6 / 2);
	L.jitter_ns = (int64_t)(jitter_ms * 1e6);
	L.rate_bps = mbit * 1e6;
	L.loss = loss / 100;
	L.reorder = reorder / 100;
	L.dup = dup / 100;
	L.qlimit = qbytes > 0 ? (uint64_t)qbytes : (uint64_t)(L.rate_bps / 8 * rtt_ms / 1000);
	if (L.qlimit < 65536)
		L.qlimit = 65536;
	fd[0] = tun_open(argv[optind]);
	fd[1] = tun_open(argv[optind + 1]);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	fprintf(stderr, "wanlink: rtt %.1f ms, rate %.1f Mbit/s, queue %llu bytes, loss %.2f%%, "
		"reorder %.2f%% (+%.1f ms), duplicate %.2f%%\n", rtt_ms, mbit,
		(unsigned long long)L.qlimit, loss, reorder, jitter_ms, dup);
	while (!stop) {
		int64_t t = now_ns(), wait_ns = 1000000000;
		struct pollfd pf[2] = { { fd[0], POLLIN, 0 }, { fd[1], POLLIN, 0 } };
		struct timespec ts;

		while (nheap && heap[0]->due <= t) {
			struct pkt *p = heap_pop();

			if (write(fd[p->to], p->data, p->len) == (ssize_t)p->len)
				dirs[p->to].out++;	/* counted by destination */
			free(p);
		}
		if (nheap)
			wait_ns = heap[0]->due - t;
		ts.tv_sec = wait_ns / 1000000000;
		ts.tv_nsec = wait_ns % 1000000000;
		if (ppoll(pf, 2, &ts, NULL) < 0) {
			if (errno == EINTR)
				continue;
			perror("wanlink: ppoll");
			return 1;
		}
		for (int i = 0; i < 2; i++) {
			if (!(pf[i].revents & POLLIN))
				continue;
			for (int k = 0; k < 256; k++) {
				ssize_t n = read(fd[i], buf, sizeof(buf));

				if (n <= 0)
					break;
				/* from A (i = 0) goes to B (1): direction index = destination */
				enqueue(&L, &dirs[1 - i], 1 - i, buf, n, now_ns());
			}
		}
	}
	for (int i = 0; i < 2; i++)
		fprintf(stderr, "wanlink: %s: %lu in, %lu out, %lu lost at random, %lu dropped by "
			"the queue, %lu reordered, %lu duplicated\n", i ? "A->B" : "B->A",
			dirs[i].in, dirs[i].out, dirs[i].lost, dirs[i].qdrop, dirs[i].reord,
			dirs[i].dup);
	return 0;
}

/*
 * test_submit.c - file-to-order submission: what lands in outgoing/ and
 * data/, parts, copy vs. remove, every refusal with its permanent or
 * temporary nature, and roll-back when sealing fails half-way.
 *
 * TEST-ONLY STUB: packet_seal_extra() below stands in for packet.c (being
 * written by another engineer). It "seals" by copying the source in
 * max_part-sized pieces behind a fake header; it checks nothing.
 */
#include "t.h"
#include "queue/bay.h"
#include "crypto/crypto.h"
#include "packet/packet.h"
#include "global/submit.h"
#include "util/log.h"
#include "util/safefile.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[64], bay[128];
static int stub_fail_part;	/* the stub fails when asked for this part */
static int stub_calls;
static const char *stub_append;	/* a writer appends to it while the stub seals */

/* ---- TEST-ONLY STUB of packet.c's packet_seal_extra ---- */
int
packet_seal_extra(const struct config *cf, const struct keys *me, const char *origin,
		  const char *src, const char *name, const struct strv *dests,
		  const char *sclass, const char *group, time_t created, time_t expires,
		  uint64_t max_part, const char *tmpdir, const struct pkt_extra *x,
		  packet_part_fn fn, void *arg)
{
	size_t len;
	char *buf = read_file(src, 1 << 20, &len);
	size_t piece = max_part ? max_part : len ? len : 1;
	int nparts = len ? (int)((len + piece - 1) / piece) : 1;

	stub_calls++;
	if (buf == NULL)
		return -1;
	if (stub_append) {
		FILE *w = fopen(stub_append, "a");

		fputs("more\n", w);
		fclose(w);
	}
	for (int i = 0; i < nparts; i++) {
		struct pkt_info pi;
		char path[PATH_MAX];
		size_t off = i * piece, n = len - off < piece ? len - off : piece;
		FILE *f;

		if (i + 1 == stub_fail_part) {
			err_set("write %s/.seal: No space left on device", tmpdir);
			free(buf);
			return -1;
		}
		memset(&pi, 0, sizeof(pi));
		if (nparts == 1)
			snprintf(pi.id, sizeof(pi.id), "%s", group);
		else
			snprintf(pi.id, sizeof(pi.id), "%s.p%dof%d", group, i + 1, nparts);
		snprintf(pi.group, sizeof(pi.group), "%s", group);
		pi.part = i + 1;
		pi.nparts = nparts;
		/* unique, as the sealer's: a batch keeps several sealed files in tmp/ */
		snprintf(path, sizeof(path), "%s/.seal.%d.%d", tmpdir, stub_calls, i);
		f = fopen(path, "w");
		fprintf(f, "FAKE-SEAL %s %s %s\n", pi.id, origin, sclass);
		fwrite(buf + off, 1, n, f);
		fclose(f);
		{
			/* the contract: the part's size and packet digest come with it
			 * (the stub's digest: its fake file's SHA-256) */
			size_t flen;
			char *fb = read_file(path, 2 << 20, &flen);

			if (fb) {
				pi.file_size = flen;
				sha256(fb, flen, pi.digest);
			}
			free(fb);
		}
		if (fn(arg, path, &pi) < 0) {
			free(buf);
			return -1;
		}
	}
	free(buf);
	return 0;
}
/* ---- end of stub ---- */

static struct config cf;
static struct peer peers[2];

static void
setup_conf(void)
{
	memset(&cf, 0, sizeof(cf));
	cf.node = "A";
	cf.nclasses = 2;
	cf.classes[0].name = DEFAULT_CLASS;
	strv_add(&cf.classes[0].bays, bay);
	cf.classes[0].expiration_days = 14;
	cf.classes[1].name = "docs";
	strv_add(&cf.classes[1].bays, bay);
	cf.classes[1].expiration_days = 2;
	peers[0].name = "B";
	peers[0].host = "127.0.0.1";
	peers[0].has_key = 1;
	peers[1].name = "Far";	/* KEY only: reached by ROUTE */
	peers[1].has_key = 1;
	cf.peers = peers;
	cf.npeers = 2;
	cf.retry_min = 60;
	cf.retry_max = 3600;
}

static char *
make_src(const char *name, const char *content)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, name);
	f = fopen(path, "w");
	fputs(content, f);
	fclose(f);
	return path;
}

static int
count(const char *sub)
{
	char cmd[PATH_MAX + 64];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A %s/%s | wc -l", bay, sub);
	p = popen(cmd, "r");
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

static void
req_init(struct submit_req *r, const char *path, const char *dest)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	strv_add(&r->dests, dest);
}

static void
basic(void)
{
	struct submit_req r;
	struct strv ids = {0};
	struct order o;
	char data[PATH_MAX], hex[65];
	uint8_t md[SHA256_LEN];
	char *buf;
	size_t len;
	int tf = -1;
	time_t before = time(NULL);
	const char *src = make_src("report.txt", "hello world\n");

	req_init(&r, src, "B");
	r.comment = "nightly\nexport";
	r.notify = "ops@example.com";
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) == 0);
	CHECK_INT(tf, 0);
	CHECK_INT(ids.n, 1);
	CHECK(access(src, F_OK) < 0);	/* no --copy: source removed */
	if (ids.n == 1) {
		CHECK(order_id_valid(ids.v[0]) && strstr(ids.v[0], "Z-A-") != NULL);
		CHECK(bay_load(bay, ids.v[0], Q_OUTGOING, &o) == 0);
		CHECK_STR(o.origin, "A");
		CHECK_STR(o.sclass, DEFAULT_CLASS);
		CHECK(o.dests.n == 1 && strcmp(o.dests.v[0], "B") == 0);
		CHECK(o.hops.n == 1 && strcmp(o.hops.v[0], "A") == 0);
		CHECK_STR(o.name, "report.txt");
		CHECK_STR(o.source, src);
		CHECK_STR(o.comment, "nightly\nexport");
		CHECK_STR(o.notify, "ops@example.com");
		CHECK_STR(o.group, ids.v[0]);
		CHECK(o.part == 1 && o.nparts == 1);
		CHECK(o.created >= before && o.expires == o.created + 14 * 86400);
		bay_data_path(data, sizeof(data), bay, ids.v[0]);
		buf = read_file(data, 4096, &len);
		CHECK(buf != NULL && strstr(buf, "hello world") != NULL);
		CHECK(o.size == len);
		if (buf) {
			sha256(buf, len, md);
			hex_encode(md, sizeof(md), hex);
			CHECK_STR(o.digest, hex);
		}
		free(buf);
		order_free(&o);
	}
	CHECK_INT(count("tmp"), 0);
	strv_free(&ids);
	strv_free(&r.dests);
}

static void
copy_class_expiry(void)
{
	struct submit_req r;
	struct strv ids = {0};
	struct order o;
	int tf;
	const char *src = make_src("keep.txt", "data");

	req_init(&r, src, "Far");	/* a KEY node is routable only through a ROUTE */
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0);
	CHECK_STR(err_get(), "no route and no peer for Far");
	cf.nroutes = 1;
	cf.routes = xcalloc(1, sizeof(*cf.routes));
	cf.routes[0].next_hop = "B";
	strv_add(&cf.routes[0].dests, "Far");
	r.copy = 1;
	r.sclass = "docs";
	r.name = "renamed.txt";
	strv_add(&r.dests, "A");	/* this node: delivered locally */
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) == 0);
	CHECK(access(src, F_OK) == 0);	/* --copy keeps it */
	CHECK(ids.n == 1 && bay_load(bay, ids.v[0], Q_OUTGOING, &o) == 0);
	CHECK_STR(o.sclass, "docs");
	CHECK_STR(o.name, "renamed.txt");
	CHECK_INT(o.keep_data, 1);
	CHECK_INT(o.dests.n, 2);
	CHECK(o.expires == o.created + 2 * 86400);
	order_free(&o);
	/* an explicit expiry */
	r.expires = time(NULL) + 3600;
	strv_free(&ids);
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) == 0);
	CHECK(ids.n == 1 && bay_load(bay, ids.v[0], Q_OUTGOING, &o) == 0);
	CHECK(o.expires == r.expires);
	order_free(&o);
	strv_free(&cf.routes[0].dests);
	free(cf.routes);
	cf.routes = NULL;
	cf.nroutes = 0;
	strv_free(&ids);
	strv_free(&r.dests);
}

static void
parts(void)
{
	struct submit_req r;
	struct strv ids = {0};
	struct order o;
	int tf;
	const char *src = make_src("big.bin", "0123456789abcdefghijklmnopqrstuvwxyz");

	cf.max_data_size = 16;
	req_init(&r, src, "B");
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) == 0);
	CHECK_INT(ids.n, 3);
	for (int i = 0; i < ids.n; i++) {
		CHECK(bay_load(bay, ids.v[i], Q_OUTGOING, &o) == 0);
		CHECK_INT(o.part, i + 1);
		CHECK_INT(o.nparts, 3);
		CHECK(o.group && strncmp(ids.v[i], o.group, strlen(o.group)) == 0);
		order_free(&o);
	}
	cf.max_data_size = 0;
	strv_free(&ids);
	strv_free(&r.dests);
}

/* Each refusal: permanent or temporary, the message, and nothing queued. */
static void
refusals(void)
{
	struct submit_req r;
	struct strv ids = {0};
	int tf, before = count("outgoing"), calls = stub_calls;
	const char *src = make_src("x.txt", "x");
	char dir[PATH_MAX];

	req_init(&r, src, "B");
	r.sclass = "nope";
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0 && tf == 0);
	CHECK_STR(err_get(), "unknown class \"nope\"");
	r.sclass = NULL;

	r.path = "/nonexistent/file";
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0 && tf == 0);
	CHECK_STR(err_get(), "No such file or directory");
	r.path = top;
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0 && tf == 0);
	CHECK_STR(err_get(), "not a regular file");
	r.path = src;

	strv_add(&r.dests, "Nowhere");
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0 && tf == 0);
	CHECK_STR(err_get(), "no route and no peer for Nowhere");
	strv_free(&r.dests);
	strv_add(&r.dests, "bad/name");
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0 && tf == 0);
	CHECK(strstr(err_get(), "bad destination name") != NULL);
	strv_free(&r.dests);
	strv_add(&r.dests, "B");
	strv_add(&r.dests, "B");	/* would make an order that cannot be read back */
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0 && tf == 0);
	CHECK_STR(err_get(), "destination B given twice");
	strv_free(&r.dests);
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0 && tf == 0);
	CHECK_STR(err_get(), "no destination");
	strv_add(&r.dests, "B");

	peers[0].has_key = 0;
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0 && tf == 0);
	CHECK(strstr(err_get(), "no key for B") != NULL);
	peers[0].has_key = 1;

	r.expires = time(NULL) - 1;
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0 && tf == 0);
	CHECK_STR(err_get(), "expiry is not in the future");
	r.expires = 0;

	cf.bay_size_limit = 1;	/* temporary: bay full */
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0 && tf == 1);
	CHECK(strncmp(err_get(), "bay full: ", 10) == 0);
	cf.bay_size_limit = 0;

	/* a class whose bay cannot be created: temporary (I/O) */
	snprintf(dir, sizeof(dir), "%s/x.txt/bay", top);
	strv_free(&cf.classes[1].bays);
	strv_add(&cf.classes[1].bays, dir);
	r.sclass = "docs";
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0 && tf == 1);
	strv_free(&cf.classes[1].bays);
	strv_add(&cf.classes[1].bays, bay);
	r.sclass = NULL;

	CHECK_INT(stub_calls, calls);	/* all refused before sealing */
	CHECK_INT(ids.n, 0);
	CHECK_INT(count("outgoing"), before);
	CHECK(access(src, F_OK) == 0);	/* a refused file is never removed */
	strv_free(&r.dests);
}

static void
rollback(void)
{
	struct submit_req r;
	struct strv ids = {0};
	int tf, out = count("outgoing"), data = count("data");
	const char *src = make_src("half.bin", "0123456789abcdefghijklmnopqrstuvwxyz");

	cf.max_data_size = 16;
	stub_fail_part = 2;	/* part 1 is queued, then the disk fills */
	req_init(&r, src, "B");
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0);
	CHECK_INT(tf, 1);
	CHECK(strstr(err_get(), "No space left") != NULL);
	CHECK_INT(ids.n, 0);
	CHECK_INT(count("outgoing"), out);	/* part 1 was taken back */
	CHECK_INT(count("data"), data);
	CHECK(access(src, F_OK) == 0);
	stub_fail_part = 0;
	cf.max_data_size = 0;
	strv_free(&r.dests);
}

/* A drop (r->expect): sealed from its descriptor, refused as changed
 * before or after sealing, never unlinked by submit. */
static void
drop_expect(void)
{
	struct submit_req r;
	struct strv ids = {0};
	struct stat snap, moved;
	int tf, fd, out = count("outgoing"), data = count("data"), calls;
	const char *src = make_src("drop.dat", "complete content\n");
	char path[PATH_MAX], dpath[PATH_MAX], *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s", src);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
	CHECK(fd >= 0 && fstat(fd, &snap) == 0);
	/* not the file judged complete: refused before sealing */
	moved = snap;
	moved.st_size++;
	req_init(&r, path, "B");
	r.expect = &moved;
	r.fd = fd;
	calls = stub_calls;
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0);
	CHECK_INT(tf, SUBMIT_CHANGED);
	CHECK_INT(stub_calls, calls);
	CHECK(strstr(err_get(), "changed since it was judged complete") != NULL);
	/* written to while it was sealed: the sealed result is thrown away */
	r.expect = &snap;
	stub_append = path;
	CHECK(submit_file(&cf, NULL, &r, &ids, &tf) < 0);
	stub_append = NULL;
	CHECK_INT(tf, SUBMIT_CHANGED);
	CHECK(strstr(err_get(), "changed while it was sealed") != NULL);
	CHECK_INT(ids.n, 0);
	CHECK_INT(count("outgoing"), out);
	CHECK_INT(count("data"), data);
	CHECK_INT(count("tmp"), 0);
	CHECK(access(path, F_OK) == 0);
	/* unchanged: queued from the descriptor, the drop left to the caller */
	CHECK_INT(fstat(fd, &snap), 0);
	CHECK_INT(submit_file(&cf, NULL, &r, &ids, &tf), 0);
	CHECK_INT(ids.n, 1);
	CHECK(access(path, F_OK) == 0);
	snprintf(dpath, sizeof(dpath), "%s/data/%s", bay, ids.n ? ids.v[0] : "-");
	buf = read_file(dpath, 4096, &len);
	CHECK(buf && strstr(buf, "complete content\nmore\n") != NULL);
	free(buf);
	close(fd);
	strv_free(&ids);
	strv_free(&r.dests);
}

static void
dates(void)
{
	struct tm tm;
	time_t t;

	setenv("TZ", "UTC", 1);
	tzset();
	CHECK(submit_parse_date("2030-01-02T03:04", &t) == 0);
	CHECK_INT(t, 1893553440);
	CHECK(submit_parse_date("2030-01-02T03:04:05", &t) == 0);
	CHECK_INT(t, 1893553445);
	CHECK(submit_parse_date("02-Jan-2030.03:04", &t) == 0);
	CHECK_INT(t, 1893553440);
	CHECK(submit_parse_date("02-jan-2030.03:04", &t) == 0);
	/* local time, not UTC */
	setenv("TZ", "EST5", 1);
	tzset();
	CHECK(submit_parse_date("2030-01-02T03:04", &t) == 0);
	CHECK_INT(t, 1893553440 + 5 * 3600);
	localtime_r(&t, &tm);
	CHECK_INT(tm.tm_hour, 3);
	static const char *bad[] = {"2030-02-30T00:00", "2030-13-01T00:00", "2030-01-01T24:00",
				    "2030-01-01 03:04", "2030-1-01T03:04", "2030-01-01T03:04:",
				    "2030-01-01T03:04x", "32-Jan-2030.03:04", "02-Foo-2030.03:04",
				    "02-Jan-2030 03:04", "tomorrow", "", "+030-01-01T03:04"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (submit_parse_date(bad[i], &t) == 0)
			printf("#   accepted \"%s\"\n", bad[i]);
		CHECK(submit_parse_date(bad[i], &t) < 0);
	}
	CHECK(strstr(err_get(), "bad date-time") != NULL);
	CHECK(submit_parse_date("2030-02-30T00:00", &t) < 0);
	CHECK(strstr(err_get(), "not a real date") != NULL);
	unsetenv("TZ");
	tzset();
}

/* ---- a batch (shipctl submit FILE...) ---- */

static char told[8][PATH_MAX + 8];
static int ntold;

static void
batch_done(void *arg, const char *path, const struct strv *ids, const char *err, int tempfail)
{
	const char *slash = strrchr(path, '/');

	if (ntold < 8)
		snprintf(told[ntold++], sizeof(told[0]), "%s %s", err ? "err" : "ok",
			 slash ? slash + 1 : path);
	if (ids)
		CHECK_INT(ids->n, 1);
	if (err)
		CHECK_INT(tempfail, 1);
}

static void
batch(void)
{
	struct submit_req r;
	struct submit_batch *b = submit_batch_new(&cf, NULL, batch_done, NULL);
	int out = count("outgoing"), data = count("data");
	char a[PATH_MAX], c[PATH_MAX], d[PATH_MAX];

	ntold = 0;
	snprintf(a, sizeof(a), "%s", make_src("ba", "first\n"));
	snprintf(c, sizeof(c), "%s", make_src("bc", "second\n"));
	snprintf(d, sizeof(d), "%s", make_src("bd", "third, which fails\n"));
	req_init(&r, a, "B");
	CHECK_INT(submit_batch_add(b, &r), 0);
	r.path = c;
	CHECK_INT(submit_batch_add(b, &r), 0);
	/* sealed, not queued: nothing in outgoing/ or data/, nobody told, sources kept */
	CHECK_INT(count("outgoing"), out);
	CHECK_INT(count("data"), data);
	CHECK_INT(ntold, 0);
	CHECK(access(a, F_OK) == 0 && access(c, F_OK) == 0);
	/* the third fails while sealed: the first two are queued and told first */
	stub_fail_part = 1;
	r.path = d;
	CHECK(submit_batch_add(b, &r) < 0);
	stub_fail_part = 0;
	CHECK_INT(ntold, 3);
	CHECK_STR(told[0], "ok ba");
	CHECK_STR(told[1], "ok bc");
	CHECK_STR(told[2], "err bd");
	CHECK_INT(count("outgoing"), out + 2);
	CHECK_INT(count("data"), data + 2);
	CHECK(access(a, F_OK) < 0 && access(c, F_OK) < 0);	/* queued: removed */
	CHECK(access(d, F_OK) == 0);				/* refused: kept */
	CHECK_INT(count("tmp"), 0);
	CHECK_INT(submit_batch_flush(b), 0);	/* nothing left to flush */
	CHECK_INT(ntold, 3);
	submit_batch_free(b);
	strv_free(&r.dests);
}

int
main(void)
{
	char cmd[128];

	crypto_init();
	log_open("test_submit", "stderr");
	snprintf(top, sizeof(top), "/tmp/test_submit.XXXXXX");
	if (mkdtemp(top) == NULL)
		return 1;
	snprintf(bay, sizeof(bay), "%s/spool/ms_ship", top);
	setup_conf();
	TEST(basic);
	TEST(copy_class_expiry);
	TEST(parts);
	TEST(refusals);
	TEST(rollback);
	TEST(drop_expect);
	TEST(dates);
	TEST(batch);
	strv_free(&cf.classes[0].bays);
	strv_free(&cf.classes[1].bays);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	if (system(cmd) != 0)
		return 1;
	T_DONE();
}

/*
 * test_history.c - the done/ records (queue/history.h) and the receipt
 * text (global/confirm.h): round trips, what is refused, the locked
 * update under two writers at once, the ids of a split packet, the
 * purge by age.
 */
#include "t.h"
#include "global/confirm.h"
#include "queue/history.h"
#include "queue/bay.h"
#include "util/log.h"
#include "util/mem.h"

#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

static char bay[PATH_MAX];

static void
sample(struct history *h)
{
	hist_init(h, "20261206T061500Z-A-1a2b3c4d");
	h->group = xstrdup(h->id);
	h->origin = xstrdup("A");
	h->sclass = xstrdup("-default");
	h->name = xstrdup("a file\twith a tab");
	h->size = 1234;
	h->created = 1800000000;
	h->role = xstrdup("origin");
	h->ended = 1800000005;
	h->result = xstrdup("sent");
	hist_set_to(h, "C", "R", 1800000005);
	hist_add_receipt(h, "C", 1800000009, "A,R,C", "a file\twith a tab");
}

static void
round_trip(void)
{
	struct history h, back;
	size_t len;
	char *text;

	sample(&h);
	text = hist_format(&h, &len);
	CHECK(hist_parse(text, len, &back) == 0);
	CHECK_STR(back.id, h.id);
	CHECK_STR(back.name, "a file\twith a tab");
	CHECK_STR(back.role, "origin");
	CHECK_INT(back.ended, 1800000005);
	CHECK_INT(back.nto, 1);
	CHECK_STR(hist_to_of(&back, "C")->via, "R");
	CHECK(hist_receipt_of(&back, "C") != NULL);
	CHECK_STR(hist_receipt_of(&back, "C")->route, "A,R,C");
	CHECK_STR(hist_receipt_of(&back, "C")->name, "a file\twith a tab");
	CHECK(hist_receipt_of(&back, "R") == NULL);
	/* the first receipt of a destination stays */
	CHECK_INT(hist_add_receipt(&back, "C", 1900000000, "-", NULL), 0);
	CHECK_INT(hist_receipt_of(&back, "C")->at, 1800000009);
	hist_free(&back);
	hist_free(&h);
	free(text);
}

static void
refuses(void)
{
	static const char *const bad[] = {
		"version: 1\nid: X-1\nrole: origin\n",			/* no end */
		"version: 2\nid: X-1\nend\n",				/* unknown version */
		"id: X-1\nversion: 1\nend\n",				/* version not first */
		"version: 1\nid: X-1\ncolour: red\nend\n",		/* unknown key */
		"version: 1\nid: X-1\nrole: origin\nrole: relay\nend\n",	/* repeated */
		"version: 1\nid: X-1\nto: C R\nend\n",			/* to: wants a time */
		"version: 1\nid: X-1\nreceipt: C soon A,C\nend\n",	/* bad time */
		"version: 1\nid: X-1\nreceipt: C 5 A,,C\nend\n",	/* bad route */
		"version: 1\nid: ../x\nend\n",				/* bad id */
		"version: 1\nid: X-1\nend\nmore: 1\n",			/* after end */
	};
	struct history h;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (hist_parse(bad[i], strlen(bad[i]), &h) == 0) {
			printf("#   accepted: %s\n", bad[i]);
			hist_free(&h);
			CHECK(0);
		}
	}
}

static int
add_dest(void *arg, struct history *h, int exists)
{
	hist_add_receipt(h, arg, 1800000000, "-", NULL);
	return 0;
}

/* Two processes adding 40 receipts each to one record: none is lost. */
static void
two_writers(void)
{
	const char *id = "20261206T061500Z-A-00000001";
	struct history h;
	pid_t pid[2];

	for (int p = 0; p < 2; p++)
		if ((pid[p] = fork()) == 0) {
			for (int i = 0; i < 40; i++) {
				char d[32];

				snprintf(d, sizeof(d), "N%d_%d", p, i);
				if (hist_update(bay, id, add_dest, d) < 0)
					_exit(1);
			}
			_exit(0);
		}
	for (int p = 0; p < 2; p++) {
		int st;

		CHECK(waitpid(pid[p], &st, 0) == pid[p] && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	CHECK_INT(hist_load(bay, id, &h), 0);
	CHECK_INT(h.nrcpt, 80);
	hist_free(&h);
	CHECK_INT(hist_load(bay, "20261206T061500Z-A-00000002", &h), 1);	/* none */
	hist_free(&h);
}

static void
split_ids(void)
{
	struct strv ids = {0};

	hist_ids("G-1.p2of3.r1", &ids);
	CHECK_INT(ids.n, 3);
	if (ids.n == 3) {
		CHECK_STR(ids.v[0], "G-1.p1of3.r1");
		CHECK_STR(ids.v[2], "G-1.p3of3.r1");
	}
	strv_free(&ids);
	hist_ids("G-1", &ids);
	CHECK_INT(ids.n, 1);
	strv_free(&ids);
}

static void
purge(void)
{
	char path[PATH_MAX];
	struct utimbuf old = {1000000000, 1000000000};
	struct strv ids = {0};

	CHECK(hist_update(bay, "20261206T061500Z-A-00000003", add_dest, "C") == 0);
	bay_path(path, sizeof(path), bay, Q_DONE, "20261206T061500Z-A-00000003");
	CHECK(utime(path, &old) == 0);
	CHECK_INT(bay_purge_history(bay, time(NULL) - 86400), 1);
	CHECK(access(path, F_OK) < 0);
	CHECK(hist_list(bay, &ids) == 0);
	CHECK_INT(ids.n, 1);		/* two_writers' record is young */
	strv_free(&ids);
}

static void
receipt_text(void)
{
	struct confirm c, *back = xcalloc(CONFIRM_ORDERS, sizeof(*back));
	struct order o;
	struct sbuf b;

	order_init(&o);
	snprintf(o.id, sizeof(o.id), "20261206T061500Z-A-1a2b3c4d");
	o.origin = xstrdup("A");
	strv_add(&o.hops, "A");
	strv_add(&o.hops, "R");
	strv_add(&o.hops, "C");
	confirm_of(&c, &o, "C", 1800000009, "x.bin");
	sbuf_init(&b);
	confirm_format(&c, 1, &b);
	if (confirm_parse(b.s, b.len, back) < 0)
		printf("#   %s\n%s", err_get(), b.s);
	CHECK_INT(confirm_parse(b.s, b.len, back), 1);
	CHECK_STR(back->order, o.id);
	CHECK_STR(back->origin, "A");
	CHECK_STR(back->dest, "C");
	CHECK_STR(back->route, "A,R,C");
	CHECK_STR(back->name, "x.bin");
	CHECK_INT(back->delivered, 1800000009);
	/* what is not a whole, well-formed receipt is refused */
	CHECK(confirm_parse(b.s, b.len - 4, back) < 0);		/* no end */
	CHECK(confirm_parse(b.s + 1, b.len - 1, back) < 0);		/* no magic */
	{
		const char *dup = "shipd-receipt 1\norder: X-1\norigin: A\ndest: C\ndest: D\n"
				  "delivered: 5\nroute: A,C\nend\n";
		const char *slash = "shipd-receipt 1\norder: X-1\norigin: A\ndest: C\n"
				    "delivered: 5\nroute: A,C\nname: ../etc\nend\n";
		const char *nodest = "shipd-receipt 1\norder: X-1\norigin: A\ndelivered: 5\n"
				     "route: A,C\nend\n";

		CHECK(confirm_parse(dup, strlen(dup), back) < 0);
		CHECK(confirm_parse(slash, strlen(slash), back) < 0);
		CHECK(confirm_parse(nodest, strlen(nodest), back) < 0);
	}
	sbuf_free(&b);
	order_free(&o);
	free(back);
}

int
main(void)
{
	char tmpl[] = "/tmp/test_history.XXXXXX";

	log_open("test_history", "stderr");
	if (mkdtemp(tmpl) == NULL)
		return 2;
	snprintf(bay, sizeof(bay), "%s/bay", tmpl);
	if (bay_init(bay) < 0)
		return 2;
	TEST(round_trip);
	TEST(refuses);
	TEST(two_writers);
	TEST(split_ids);
	TEST(purge);
	TEST(receipt_text);
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
		if (system(cmd) != 0)
			return 2;
	}
	T_DONE();
}

/*
 * test_confirm.c - the receipt text of many orders (global/confirm.h,
 * version 2) and of one (version 1, what older releases send): round
 * trips, how many one packet holds, and what is refused, each refusal
 * naming its line.
 */
#include "t.h"
#include "global/confirm.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>

static struct confirm *v, *back;

/* n receipts from C for A: order i delivered at 1800000000 + i. */
static void
receipts(int n, size_t route_len)
{
	memset(v, 0, 100 * sizeof(*v));
	for (int i = 0; i < n; i++) {
		struct confirm *c = &v[i];

		snprintf(c->order, sizeof(c->order), "20261206T061500Z-A-%08x", 0x1000 + i);
		snprintf(c->origin, sizeof(c->origin), "A");
		snprintf(c->dest, sizeof(c->dest), "C");
		c->delivered = 1800000000 + i;
		if (route_len) {
			/* A,R,R,...,C */
			size_t k = snprintf(c->route, sizeof(c->route), "A");

			while (k + 4 < route_len && k + 4 < sizeof(c->route))
				k += snprintf(c->route + k, sizeof(c->route) - k, ",R");
			snprintf(c->route + k, sizeof(c->route) - k, ",C");
		} else
			snprintf(c->route, sizeof(c->route), "A,R,C");
		if (i % 3)
			snprintf(c->name, sizeof(c->name), "file %d\twith a tab", i);
	}
}

/* text is refused with an error that contains want (a line number). */
static int
refused(const char *what, const char *text, const char *want)
{
	if (confirm_parse(text, strlen(text), back) >= 0) {
		printf("#   %s: taken\n", what);
		return 0;
	}
	if (strstr(err_get(), want) == NULL) {
		printf("#   %s: \"%s\" does not say \"%s\"\n", what, err_get(), want);
		return 0;
	}
	return 1;
}

static void
many_round_trip(void)
{
	struct sbuf b;

	receipts(CONFIRM_ORDERS, 0);
	sbuf_init(&b);
	confirm_format(v, CONFIRM_ORDERS, &b);
	CHECK(strncmp(b.s, "shipd-receipt 2\n", 16) == 0);
	CHECK(b.len <= CONFIRM_MAX);
	if (confirm_parse(b.s, b.len, back) < 0)
		printf("#   %s\n", err_get());
	CHECK_INT(confirm_parse(b.s, b.len, back), CONFIRM_ORDERS);
	for (int i = 0; i < CONFIRM_ORDERS; i++) {
		CHECK_STR(back[i].order, v[i].order);
		CHECK_STR(back[i].origin, "A");
		CHECK_STR(back[i].dest, "C");
		CHECK_STR(back[i].route, "A,R,C");
		CHECK_STR(back[i].name, v[i].name);
		CHECK_INT(back[i].delivered, v[i].delivered);
	}
	/* one order: version 1, which every release reads */
	sbuf_free(&b);
	sbuf_init(&b);
	confirm_format(v + 1, 1, &b);
	CHECK(strncmp(b.s, "shipd-receipt 1\n", 16) == 0);
	CHECK_INT(confirm_parse(b.s, b.len, back), 1);
	CHECK_STR(back[0].order, v[1].order);
	CHECK_STR(back[0].name, v[1].name);
	sbuf_free(&b);
}

static void
version1_as_sent_before(void)
{
	/* the text exactly as the previous release writes it */
	const char *old = "shipd-receipt 1\norder: 20261206T061500Z-A-1a2b3c4d\norigin: A\n"
			  "dest: C\ndelivered: 1800000009\nroute: A,R,C\nname: x.bin\nend\n";
	const char *noroute = "shipd-receipt 1\norder: 20261206T061500Z-A-1a2b3c4d\norigin: A\n"
			      "dest: C\ndelivered: 1800000009\nend\n";

	CHECK_INT(confirm_parse(old, strlen(old), back), 1);
	CHECK_STR(back[0].order, "20261206T061500Z-A-1a2b3c4d");
	CHECK_STR(back[0].origin, "A");
	CHECK_STR(back[0].dest, "C");
	CHECK_STR(back[0].route, "A,R,C");
	CHECK_STR(back[0].name, "x.bin");
	CHECK_INT(back[0].delivered, 1800000009);
	CHECK_INT(confirm_parse(noroute, strlen(noroute), back), 1);
	CHECK_STR(back[0].route, "-");
	/* version 1 speaks for one order only */
	CHECK(refused("v1 with two orders",
		      "shipd-receipt 1\norder: X-1\norigin: A\ndest: C\ndelivered: 5\n"
		      "order: X-2\nend\n", "line 6: repeated \"order\""));
}

static void
fit(void)
{
	struct sbuf b;
	int k;

	receipts(100, 0);
	CHECK_INT(confirm_fit(v, 100), CONFIRM_ORDERS);
	CHECK_INT(confirm_fit(v, 5), 5);
	CHECK_INT(confirm_fit(v, 1), 1);
	/* long routes: fewer per packet, never more than CONFIRM_MAX bytes */
	receipts(100, sizeof(v->route) - 1);
	k = confirm_fit(v, 100);
	CHECK(k > 1 && k < CONFIRM_ORDERS);
	sbuf_init(&b);
	confirm_format(v, k, &b);
	CHECK(b.len <= CONFIRM_MAX);
	CHECK_INT(confirm_parse(b.s, b.len, back), k);
	sbuf_free(&b);
	sbuf_init(&b);
	confirm_format(v, k + 1, &b);
	CHECK(b.len > CONFIRM_MAX);
	CHECK(refused("oversize", b.s, "larger than"));
	sbuf_free(&b);
}

static void
refusals(void)
{
	struct sbuf b;

	receipts(CONFIRM_ORDERS + 1, 0);
	sbuf_init(&b);
	confirm_format(v, CONFIRM_ORDERS + 1, &b);
	/* line 1 + origin + dest + 3 or 4 lines an order: the 65th order's line */
	CHECK(refused("65 orders", b.s, ": more than 64 orders"));
	CHECK(strstr(err_get(), "receipt line ") != NULL);
	sbuf_free(&b);
	sbuf_init(&b);
	confirm_format(v, 3, &b);
	b.s[b.len - 4] = 0;	/* truncated: no "end" */
	CHECK(refused("truncated", b.s, "missing \"end\""));
	b.s[b.len - 4] = 'e';
	sbuf_free(&b);

#define H2 "shipd-receipt 2\norigin: A\ndest: C\n"
#define E1 "order: X-1\ndelivered: 5\nroute: A,C\n"
#define E2 "order: X-2\ndelivered: 6\nroute: A,C\n"
	CHECK_INT(confirm_parse(H2 E1 E2 "end\n", strlen(H2 E1 E2 "end\n"), back), 2);
	CHECK(refused("an order twice", H2 E1 E2 "order: X-1\ndelivered: 7\nroute: A,C\nend\n",
		      "line 10: order X-1 listed twice (line 4)"));
	CHECK(refused("no delivered", H2 "order: X-1\nroute: A,C\n" E2 "end\n",
		      "line 4: order X-1 has no \"delivered\""));
	CHECK(refused("no route, last", H2 E1 "order: X-2\ndelivered: 6\nend\n",
		      "line 7: order X-2 has no \"route\""));
	CHECK(refused("a key twice", H2 E1 "route: A,C\n" E2 "end\n", "line 7: repeated \"route\""));
	CHECK(refused("origin in a block", H2 E1 "origin: B\n" E2 "end\n",
		      "line 7: \"origin\" after the first order"));
	CHECK(refused("dest twice", "shipd-receipt 2\norigin: A\ndest: C\ndest: D\n" E1 E2 "end\n",
		      "line 4: repeated \"dest\""));
	CHECK(refused("order first", "shipd-receipt 2\norigin: A\n" E1 "dest: C\n" E2 "end\n",
		      "line 3: \"order\" before \"origin\" and \"dest\""));
	CHECK(refused("unknown key", H2 E1 "size: 5\n" E2 "end\n", "line 7: unknown key \"size\""));
	CHECK(refused("one order in v2", H2 E1 "end\n", "line 1: version 2 with 1 order"));
	CHECK(refused("after end", H2 E1 E2 "end\norder: X-3\n", "line 11: data after \"end\""));
	CHECK(refused("bad time", H2 E1 "order: X-2\ndelivered: soon\nroute: A,C\nend\n",
		      "line 8: bad \"delivered\""));
	CHECK(refused("a path as name", H2 E1 E2 "name: ../etc\nend\n", "line 10: bad \"name\""));
	CHECK(refused("bad order id", H2 E1 "order: ../x\ndelivered: 6\nroute: A,C\nend\n",
		      "line 7: bad \"order\""));
	CHECK(refused("bad route", H2 E1 "order: X-2\ndelivered: 6\nroute: A,,C\nend\n",
		      "line 7: order X-2: bad \"route\""));
	CHECK(refused("not key: value", H2 E1 E2 "X-3\nend\n", "line 10: not \"key: value\""));
	CHECK(refused("another version", "shipd-receipt 3\norigin: A\ndest: C\n" E1 E2 "end\n",
		      "line 1: not a receipt"));
	CHECK(refused("no origin", "shipd-receipt 2\ndest: C\n" E1 E2 "end\n",
		      "line 3: \"order\" before \"origin\" and \"dest\""));
#undef H2
#undef E1
#undef E2
}

int
main(void)
{
	log_open("test_confirm", "stderr");
	v = xcalloc(100, sizeof(*v));
	back = xcalloc(CONFIRM_ORDERS, sizeof(*back));
	TEST(many_round_trip);
	TEST(version1_as_sent_before);
	TEST(fit);
	TEST(refusals);
	free(v);
	free(back);
	T_DONE();
}

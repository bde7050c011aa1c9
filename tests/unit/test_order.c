/*
 * test_order.c - the order file: exact round trip (lists, special
 * characters), and one case per kind of malformation, each of which must be
 * refused with "line N: ..." rather than guessed at.
 */
#include "t.h"
#include "util/mailaddr.h"
#include "crypto/crypto.h"
#include "queue/order.h"
#include "util/log.h"
#include "util/safefile.h"

#include <sys/stat.h>
#include <unistd.h>

#define DIGEST "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static const char *good =
	"version: 1\n"
	"id: 20261124T034500Z-SiteA_host1-9f3a1c2e\n"
	"part: 1/1\n"
	"origin: SiteA_host1\n"
	"class: -default\n"
	"dest: SiteB_host1\n"
	"created: 1700000000\n"
	"expires: 1701209600\n"
	"size: 1234\n"
	"digest: " DIGEST "\n"
	"end\n";

static void
fill(struct order *o)
{
	order_init(o);
	snprintf(o->id, sizeof(o->id), "20261124T034500Z-SiteA_host1-9f3a1c2e.p2of3");
	o->group = xstrdup("20261124T034500Z-SiteA_host1-9f3a1c2e");
	o->part = 2;
	o->nparts = 3;
	o->origin = xstrdup("SiteA_host1");
	o->sclass = xstrdup("-default");
	strv_add(&o->dests, "SiteB_host1");
	strv_add(&o->dests, "SiteC.host-2");
	strv_add(&o->delivered, "SiteB_host2");
	strv_add(&o->hops, "SiteA_host1");
	strv_add(&o->hops, "SSA");
	o->created = 1700000000;
	o->expires = 1701209600;
	o->size = 18446744073709551615ULL;
	memcpy(o->digest, DIGEST, 65);
	o->name = xstrdup("file with\nnewline\tand \\ back\\nslash\x01\x7f é.tar");
	o->source = xstrdup("/home/u/file");
	o->keep_data = 1;
	o->notify = xstrdup("ops@example.com");
	o->comment = xstrdup("line1\nversion: 2\nend\n  trailing  ");
	o->attempts = 3;
	o->next_attempt = 1700000600;
	o->last_error = xstrdup("connect SSA: Connection refused\r\nend");
	o->returning = 1;
	o->return_reason = xstrdup("expired");
}

static void
round_trip(void)
{
	struct order o, p;
	size_t len, len2;
	char *a, *b;

	fill(&o);
	a = order_format(&o, &len);
	CHECK(strlen(a) == len);
	/* free text cannot add lines: count them (25 fields + end) */
	{
		int lines = 0;

		for (char *q = a; *q; q++)
			lines += *q == '\n';
		CHECK_INT(lines, 26);
	}
	CHECK(order_parse(a, len, &p) == 0);
	CHECK_STR(p.id, o.id);
	CHECK_STR(p.group, o.group);
	CHECK_INT(p.part, 2);
	CHECK_INT(p.nparts, 3);
	CHECK_STR(p.origin, o.origin);
	CHECK_STR(p.sclass, "-default");
	CHECK_INT(p.dests.n, 2);
	CHECK_STR(p.dests.v[1], "SiteC.host-2");
	CHECK_INT(p.delivered.n, 1);
	CHECK_INT(p.hops.n, 2);
	CHECK_STR(p.hops.v[1], "SSA");
	CHECK_INT(p.created, 1700000000);
	CHECK_INT(p.expires, 1701209600);
	CHECK(p.size == 18446744073709551615ULL);
	CHECK_STR(p.digest, DIGEST);
	CHECK_STR(p.name, o.name);
	CHECK_STR(p.source, o.source);
	CHECK_INT(p.keep_data, 1);
	CHECK_STR(p.notify, o.notify);
	CHECK_STR(p.comment, o.comment);
	CHECK_INT(p.attempts, 3);
	CHECK_INT(p.next_attempt, 1700000600);
	CHECK_STR(p.last_error, o.last_error);
	CHECK_INT(p.returning, 1);
	CHECK_STR(p.return_reason, "expired");
	b = order_format(&p, &len2);
	CHECK(len == len2 && memcmp(a, b, len) == 0);
	free(a);
	free(b);
	order_free(&o);
	order_free(&p);
}

static void
minimal(void)
{
	struct order o;
	size_t len;
	char *b;

	CHECK(order_parse(good, strlen(good), &o) == 0);
	CHECK_STR(o.id, "20261124T034500Z-SiteA_host1-9f3a1c2e");
	CHECK(o.group == NULL && o.comment == NULL && o.attempts == 0);
	b = order_format(&o, &len);
	CHECK_STR(b, good);	/* optional fields stay absent */
	free(b);
	order_free(&o);
	/* "end" as the last line without a newline is complete */
	CHECK(order_parse(good, strlen(good) - 1, &o) == 0);
	order_free(&o);
	/* empty text values are kept as empty, not dropped */
	{
		struct order e;

		fill(&e);
		free(e.comment);
		e.comment = xstrdup("");
		b = order_format(&e, &len);
		order_free(&e);
		CHECK(order_parse(b, len, &e) == 0);
		CHECK_STR(e.comment, "");
		order_free(&e);
		free(b);
	}
}

/* Replace line `at` of good (1-based) by `with` ("" deletes it). */
static char *
edit(int at, const char *with)
{
	struct sbuf b;
	const char *p = good;
	int line = 1;

	sbuf_init(&b);
	while (*p) {
		const char *nl = strchr(p, '\n');

		if (line == at)
			sbuf_puts(&b, with);
		else
			sbuf_add(&b, p, nl - p + 1);
		p = nl + 1;
		line++;
	}
	return b.s;
}

/* buf must be refused with an error starting with want. */
static int
refused(const char *buf, size_t len, const char *want)
{
	struct order o;

	if (order_parse(buf, len, &o) == 0) {
		printf("#   accepted: %s\n", buf);
		order_free(&o);
		return 0;
	}
	if (strncmp(err_get(), want, strlen(want)) != 0) {
		printf("#   error \"%s\", want \"%s...\"\n", err_get(), want);
		return 0;
	}
	/* a refused parse leaves o empty, safe to free again */
	order_free(&o);
	return 1;
}

#define REFUSE_EDIT(at, with, want) do { char *_b = edit(at, with); \
	CHECK(refused(_b, strlen(_b), want)); free(_b); } while (0)

static void
unknown_key(void)
{
	REFUSE_EDIT(5, "colour: blue\n", "line 5: unknown key \"colour\"");
	REFUSE_EDIT(5, "Class: -default\n", "line 5: unknown key");	/* case matters */
}

static void
repeated_scalar(void)
{
	REFUSE_EDIT(5, "class: -default\nclass: other\n", "line 6: repeated key \"class\"");
	REFUSE_EDIT(9, "size: 1\nsize: 1\n", "line 10: repeated key \"size\"");
}

static void
lists_repeat(void)
{
	struct order o;
	char *b = edit(6, "dest: A\ndest: B\nhop: X\nhop: Y\nhop: X\ndelivered: C\n");

	CHECK(order_parse(b, strlen(b), &o) == 0);
	CHECK_INT(o.dests.n, 2);
	CHECK_INT(o.hops.n, 3);
	order_free(&o);
	free(b);
	REFUSE_EDIT(6, "dest: A\ndest: A\n", "line 7: duplicate dest \"A\"");
}

static void
missing_required(void)
{
	static const char *names[] = {"", "version", "id", "part", "origin", "class",
				      "", "created", "expires", "size", "digest"};

	for (int line = 2; line <= 10; line++) {
		char want[64];

		if (line == 6)	/* dest is a list, not required */
			continue;
		snprintf(want, sizeof(want), "line 10: missing required key \"%s\"", names[line]);
		REFUSE_EDIT(line, "", want);
	}
	/* without version the first line is something else */
	REFUSE_EDIT(1, "", "line 1: \"version\" must come first");
}

static void
bad_numbers(void)
{
	REFUSE_EDIT(7, "created: -5\n", "line 7: bad created time");
	REFUSE_EDIT(7, "created: 12x\n", "line 7: bad created time");
	REFUSE_EDIT(7, "created: \n", "line 7: bad created time");
	REFUSE_EDIT(7, "created:  17\n", "line 7: bad created time");
	REFUSE_EDIT(8, "expires: 99999999999999999999999\n", "line 8: bad expires time");
	REFUSE_EDIT(9, "size: 18446744073709551616\n", "line 9: bad size");
	REFUSE_EDIT(9, "size: 0x10\n", "line 9: bad size");
	REFUSE_EDIT(3, "part: 2/1\n", "line 3: bad part");
	REFUSE_EDIT(3, "part: 0/1\n", "line 3: bad part");
	REFUSE_EDIT(3, "part: 1\n", "line 3: bad part");
	REFUSE_EDIT(3, "part: 1/1/1\n", "line 3: bad part");
	REFUSE_EDIT(10, "digest: abc\n", "line 10: bad digest");
	REFUSE_EDIT(10, "digest: " "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\n",
		    "line 10: bad digest");
	REFUSE_EDIT(5, "class: -default\nattempts: 2147483648\n", "line 6: bad attempts");
	REFUSE_EDIT(5, "class: -default\nreturning: yes\n", "line 6: bad returning");
}

static void
bad_ids(void)
{
	REFUSE_EDIT(2, "id: ../../etc/passwd\n", "line 2: bad id");
	REFUSE_EDIT(2, "id: .tmp.123\n", "line 2: bad id");
	REFUSE_EDIT(2, "id: \n", "line 2: bad id");
	REFUSE_EDIT(2, "id: a b\n", "line 2: bad id");
	REFUSE_EDIT(2, "id: x.why\n", "line 2: bad id");
	REFUSE_EDIT(4, "origin: Site/A\n", "line 4: bad origin name");
	REFUSE_EDIT(6, "dest: B;rm\n", "line 6: bad dest name");
	{
		char line[300];

		memset(line, 'a', sizeof(line));
		memcpy(line, "id: ", 4);
		memcpy(line + 4 + ORDER_ID_MAX, "\n", 2);
		REFUSE_EDIT(2, line, "line 2: bad id");
	}
	CHECK(order_id_valid("20261124T034500Z-n-0a1b2c3d.p1of2"));
	CHECK(!order_id_valid(".."));
	CHECK(!order_id_valid(NULL));
}

static void
version_mismatch(void)
{
	REFUSE_EDIT(1, "version: 2\n", "line 1: version 2, this shipd reads version 1");
	REFUSE_EDIT(1, "version: one\n", "line 1: bad version");
}

static void
missing_end(void)
{
	size_t n = strlen(good) - strlen("end\n");

	CHECK(refused(good, n, "line 10: missing \"end\""));
	/* truncated in the middle of the last line */
	CHECK(refused(good, strlen(good) - 2, "line 11: not \"key: value\""));
	CHECK(refused("", 0, "empty order"));
}

static void
trailing_garbage(void)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%sdest: X\n", good);
	CHECK(refused(buf, strlen(buf), "line 12: data after \"end\""));
	snprintf(buf, sizeof(buf), "%s\n", good);
	CHECK(refused(buf, strlen(buf), "line 12: data after \"end\""));
	snprintf(buf, sizeof(buf), "%send\n", good);
	CHECK(refused(buf, strlen(buf), "line 12: data after \"end\""));
}

static void
control_chars(void)
{
	char buf[1024];
	size_t n;

	REFUSE_EDIT(5, "class: -default\ncomment: a\rb\n", "line 6: control character 0x0d");
	REFUSE_EDIT(5, "class: -default\ncomment: a\tb\n", "line 6: control character 0x09");
	/* a NUL byte inside the buffer */
	n = strlen(good);
	memcpy(buf, good, n);
	buf[20] = 0;
	CHECK(refused(buf, n, "line 2: control character 0x00"));
	REFUSE_EDIT(5, "class: -default\ncomment: bad \\q escape\n", "line 6: unknown escape");
	REFUSE_EDIT(5, "class: -default\ncomment: trailing \\\n", "line 6: backslash at end");
	REFUSE_EDIT(5, "class: -default\ncomment: \\x00\n", "line 6: bad \\x escape");
	REFUSE_EDIT(5, "class: -default\ncomment: \\xZZ\n", "line 6: bad \\x escape");
	REFUSE_EDIT(5, "class:-default\n", "line 5: want \"class: value\"");
	REFUSE_EDIT(5, "just words\n", "line 5: not \"key: value\"");
	REFUSE_EDIT(5, "\n", "line 5: empty line");
}

static void
too_big(void)
{
	char *big = xmalloc(ORDER_MAX_SIZE + 2);

	memset(big, 'a', ORDER_MAX_SIZE + 1);
	big[ORDER_MAX_SIZE + 1] = 0;
	CHECK(refused(big, ORDER_MAX_SIZE + 1, "order larger than"));
	free(big);
}

static void
new_id(void)
{
	char a[ORDER_ID_MAX], b[ORDER_ID_MAX];
	char long_node[200];

	order_new_id(a, sizeof(a), "SiteA_host1");
	order_new_id(b, sizeof(b), "SiteA_host1");
	CHECK(order_id_valid(a));
	CHECK_INT(strlen(a), 16 + 1 + 11 + 1 + 8);
	CHECK(a[8] == 'T' && a[15] == 'Z' && a[16] == '-');
	CHECK(strncmp(a + 17, "SiteA_host1-", 12) == 0);
	CHECK(strspn(a + 29, "0123456789abcdef") == 8);
	CHECK(strcmp(a, b) != 0);	/* random suffix */
	memset(long_node, 'n', sizeof(long_node) - 1);
	long_node[sizeof(long_node) - 1] = 0;
	order_new_id(a, sizeof(a), long_node);
	CHECK(order_id_valid(a));
	CHECK(strlen(a) + strlen(".p1000000of1000000") < ORDER_ID_MAX);
}

static void
save_load(void)
{
	char dir[] = "/tmp/test_order.XXXXXX", path[256];
	struct order o, p;
	struct stat st;

	CHECK(mkdtemp(dir) != NULL);
	fill(&o);
	CHECK(order_save(dir, &o) == 0);
	snprintf(path, sizeof(path), "%s/%s", dir, o.id);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(order_load(path, &p) == 0);
	CHECK_STR(p.comment, o.comment);
	order_free(&p);
	/* a bad file names its path and line */
	{
		FILE *f = fopen(path, "w");

		fputs("version: 1\nid: x\n", f);
		fclose(f);
	}
	CHECK(order_load(path, &p) < 0);
	CHECK(strstr(err_get(), path) != NULL && strstr(err_get(), "line 2: missing \"end\"") != NULL);
	unlink(path);
	CHECK(order_load(path, &p) < 0);
	/* a bad id is never written */
	snprintf(o.id, sizeof(o.id), "../escape");
	CHECK(order_save(dir, &o) < 0);
	order_free(&o);
	rmdir(dir);
}

/* a part is recognised whatever journey suffix its order id carries */
static void
part_of(void)
{
	char g[ORDER_ID_MAX];
	int n, m;

	CHECK(order_part_of("20261124T000000Z-A-1234abcd.p3of10", g, sizeof(g), &n, &m) == 0);
	CHECK(strcmp(g, "20261124T000000Z-A-1234abcd") == 0 && n == 3 && m == 10);
	CHECK(order_part_of("G.p10of10.r2", g, sizeof(g), &n, &m) == 0);
	CHECK(strcmp(g, "G") == 0 && n == 10 && m == 10);
	CHECK(order_part_of("G.p1of2.ret", g, sizeof(g), &n, &m) == 0 && n == 1 && m == 2);
	CHECK(order_part_of("G.p1of2.r1.ret", g, sizeof(g), &n, &m) == 0 && n == 1 && m == 2);
	/* not parts: no split, one part, out of range, trailing junk */
	CHECK(order_part_of("G", g, sizeof(g), &n, &m) < 0);
	CHECK(order_part_of("G.r1", g, sizeof(g), &n, &m) < 0);
	CHECK(order_part_of("G.p1of1", g, sizeof(g), &n, &m) < 0);
	CHECK(order_part_of("G.p0of3", g, sizeof(g), &n, &m) < 0);
	CHECK(order_part_of("G.p4of3", g, sizeof(g), &n, &m) < 0);
	CHECK(order_part_of("G.p1of3x", g, sizeof(g), &n, &m) < 0);
	/* the group must fit */
	CHECK(order_part_of("GROUP.p1of3", g, 3, &n, &m) < 0);
}

/* notify is an address (mailaddr.h): an option or a shell word is malformed. */
static void
notify_address(void)
{
	static const char *const bad[] = {
		"--exec=touch /tmp/x", "-oQ/tmp/x", "a b@example.com", "a;id@example.com",
		"$(id)@x", "a@b@c", "a..b@x", ".a@x", "a@-x", "a@x-", "a@", "@x", "",
		"a@x..y", "`id`", "a|b", "a\\x01b",
	};
	static const char *const good_addr[] = {
		"ops@example.com", "root", "first.last+tag@mail.example.co.uk", "a=b_c-d@x1",
	};
	char buf[1024];
	struct order o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "%.*snotify: %s\nend\n",
			 (int)(strlen(good) - 4), good, bad[i]);
		if (order_parse(buf, strlen(buf), &o) == 0) {
			printf("#   accepted notify \"%s\"\n", bad[i]);
			CHECK(0);
			order_free(&o);
		}
		CHECK(mailaddr_bad(bad[i]) != NULL);
	}
	for (size_t i = 0; i < sizeof(good_addr) / sizeof(good_addr[0]); i++) {
		snprintf(buf, sizeof(buf), "%.*snotify: %s\nend\n",
			 (int)(strlen(good) - 4), good, good_addr[i]);
		CHECK(order_parse(buf, strlen(buf), &o) == 0);
		CHECK_STR(o.notify, good_addr[i]);
		order_free(&o);
	}
	/* 64-byte local part and 63-byte labels are the limits */
	memset(buf, 'a', 65);
	buf[65] = 0;
	CHECK(mailaddr_bad(buf) != NULL);
	buf[64] = 0;
	CHECK(mailaddr_bad(buf) == NULL);
}

int
main(void)
{
	crypto_init();
	TEST(round_trip);
	TEST(minimal);
	TEST(unknown_key);
	TEST(repeated_scalar);
	TEST(lists_repeat);
	TEST(missing_required);
	TEST(bad_numbers);
	TEST(bad_ids);
	TEST(version_mismatch);
	TEST(missing_end);
	TEST(trailing_garbage);
	TEST(control_chars);
	TEST(too_big);
	TEST(new_id);
	TEST(save_load);
	TEST(part_of);
	TEST(notify_address);
	T_DONE();
}

/*
 * test_dirhop.c - module tests of the directory hop's pieces that a
 * scenario cannot reach cheaply: the signed envelope (good, tampered,
 * incomplete, unknown signer, wrong key) and the order's exported: field.
 */
#include "t.h"
#include "../../src/crypto/crypto.h"
#include "../../src/global/envelope.h"
#include "../../src/global/dirhop.h"
#include "../../src/util/log.h"

#include <unistd.h>

static struct keys *ka, *kz;
static struct config *cf;

static char *
packet_env(size_t *len)
{
	struct envelope e;
	char *text;

	memset(&e, 0, sizeof(e));
	strcpy(e.kind, ENV_PACKET);
	strcpy(e.from, "A");
	strcpy(e.to, "B");
	strcpy(e.id, "20261206T000000Z-A-00000001");
	e.created = 1700000000;
	e.size = 1234;
	memset(e.sha256, 'a', 64);
	e.order = strdup("version: 1\nid: x\nend\n");
	text = envelope_format(&e, ka, len);
	envelope_free(&e);
	return text;
}

static void
envelope_round_trip(void)
{
	size_t len;
	char *t = packet_env(&len);
	struct envelope e;

	CHECK_INT(envelope_parse(cf, t, len, &e), 1);
	CHECK_STR(e.from, "A");
	CHECK_STR(e.to, "B");
	CHECK_INT((long long)e.size, 1234);
	CHECK_STR(e.order, "version: 1\nid: x\nend\n");
	envelope_free(&e);
	free(t);
}

static void
envelope_tampered(void)
{
	size_t len;
	char *t = packet_env(&len), *p = strstr(t, "size: 1234");
	struct envelope e;

	p[6] = '9';		/* the size a thief would like */
	CHECK_INT(envelope_parse(cf, t, len, &e), -1);
	CHECK(strstr(err_get(), "does not verify") != NULL);
	envelope_free(&e);
	free(t);
}

static void
envelope_incomplete(void)
{
	size_t len;
	char *t = packet_env(&len);
	struct envelope e;

	/* every prefix is "still being copied", never good, never "bad" */
	for (size_t n = 0; n < len; n += 7) {
		int r = envelope_parse(cf, t, n, &e);

		if (r != 0) {
			printf("#   prefix %zu: %d (%s)\n", n, r, err_get());
			CHECK(r == 0);
			break;
		}
		envelope_free(&e);
	}
	free(t);
}

/* A receipt signed by k, naming from as its signer. */
static char *
receipt_env(const char *from, const struct keys *k, size_t *len)
{
	struct envelope e;
	char *t;

	memset(&e, 0, sizeof(e));
	strcpy(e.kind, ENV_RECEIPT);
	strcpy(e.from, from);
	strcpy(e.to, "B");
	strcpy(e.id, "x1");
	e.created = 1;
	strcpy(e.status, "accepted");
	strv_add(&e.dests, "C");
	t = envelope_format(&e, k, len);
	envelope_free(&e);
	return t;
}

static void
envelope_unknown_signer(void)
{
	struct envelope e;
	size_t len;
	char *t = receipt_env("Z", kz, &len);

	CHECK_INT(envelope_parse(cf, t, len, &e), -1);
	CHECK(strstr(err_get(), "not a PEER") != NULL);
	free(t);
	/* A's name with Z's key: a forgery */
	t = receipt_env("A", kz, &len);
	CHECK_INT(envelope_parse(cf, t, len, &e), -1);
	CHECK(strstr(err_get(), "does not verify") != NULL);
	free(t);
	/* and with A's own key it is good */
	t = receipt_env("A", ka, &len);
	CHECK_INT(envelope_parse(cf, t, len, &e), 1);
	envelope_free(&e);
	free(t);
}

static void
order_exported_field(void)
{
	struct order o, p;
	struct strv d = {0};
	char hop[64], *text;
	time_t when;

	order_init(&o);
	strcpy(o.id, "x1");
	o.origin = strdup("A");
	o.sclass = strdup("-default");
	strv_add(&o.dests, "C");
	strv_add(&o.dests, "D");
	o.created = 1;
	o.expires = 2;
	memset(o.digest, 'a', 64);
	strv_add(&d, "C");
	dirhop_mark_exported(&o, &d, "B", 1700000000);
	CHECK(!dirhop_all_exported(&o));
	text = order_format(&o, NULL);
	CHECK_INT(order_parse(text, strlen(text), &p), 0);
	CHECK(order_exported(&p, "C") != NULL);
	CHECK(order_exported(&p, "D") == NULL);
	CHECK_INT(order_export_parse(order_exported(&p, "C"), hop, sizeof(hop), &when), 0);
	CHECK_STR(hop, "B");
	CHECK_INT((long long)when, 1700000000);
	/* what the next hop gets carries no export records */
	free(text);
	text = dirhop_hop_order_text(&p, &p.dests);
	CHECK(strstr(text, "exported") == NULL);
	free(text);
	order_free(&p);
	{
		const char *bad = "version: 1\nid: x\nexported: C B\nend\n";

		CHECK_INT(order_parse(bad, strlen(bad), &p), -1);
		CHECK(strstr(err_get(), "bad exported") != NULL);
	}
	strv_free(&d);
	order_free(&o);
}

int
main(void)
{
	char dir[] = "/tmp/test_dirhop.XXXXXX", path[256], conf[2048];
	char pa[PUBKEY_STRLEN];

	crypto_init();
	if (mkdtemp(dir) == NULL)
		return 2;
	snprintf(path, sizeof(path), "%s/a.key", dir);
	keys_generate(path, &ka);
	snprintf(path, sizeof(path), "%s/z.key", dir);
	keys_generate(path, &kz);
	pubkey_format(&ka->pub, pa);
	snprintf(conf, sizeof(conf), "NODE B\nSPOOL %s\nPEER A dir:%s/m %s\n", dir, dir, pa);
	if ((cf = config_load_buf("test.conf", conf, strlen(conf))) == NULL) {
		printf("# config: %s\n", err_get());
		return 2;
	}
	TEST(envelope_round_trip);
	TEST(envelope_tampered);
	TEST(envelope_incomplete);
	TEST(envelope_unknown_signer);
	TEST(order_exported_field);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0)
		return 2;
	T_DONE();
}

/*
 * fuzz_cert.c - libFuzzer target over what an authority signs and a node
 * reads from the network: certificates (binary, as in a packet header or
 * a handshake; the text file form) and revocation lists. The first byte
 * picks the reader, the rest is its input. Any input must be read or
 * refused with a reason, never crash, leak or read out of bounds; what a
 * reader takes must come out again the same (a certificate's bytes and
 * token, a list re-signed and read back with the same entries); nothing
 * unsigned by the trusted authority may pass the trust layer's check.
 */
#include "conf/config.h"
#include "crypto/cert.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "trust/trust.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libgcrypt's random pool lives as long as the process: not a leak of ours */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libgcrypt.so\n";
}

static struct keys *auth;		/* the one authority the fuzzed node trusts */
static struct config cf;
static struct authority ca;

static void
setup(void)
{
	char path[64];

	crypto_init();
	log_open("fuzz_cert", "file:/dev/null");
	snprintf(path, sizeof(path), "/tmp/fuzz_cert.%ld.key", (long)getpid());
	unlink(path);
	if (keys_generate(path, &auth) < 0)
		abort();
	unlink(path);
	ca.key = auth->pub;
	cert_authority_id(auth->pub.sign, ca.id);
	cf.node = "Fuzz";
	cf.path = "fuzz.conf";
	cf.auth = &ca;
	cf.nauth = 1;
}

static void
one_cert(const uint8_t *p, size_t n)
{
	struct cert c, d;
	char tok[CERT_TOKEN_MAX], *text;

	if (cert_decode(p, n, &c) < 0) {
		if (err_get()[0] == 0)
			abort();
		return;
	}
	if (c.rawlen != n || memcmp(c.raw, p, n) != 0)
		abort();
	cert_token(&c, tok);
	if (cert_token_parse(tok, &d) < 0 || d.rawlen != n || memcmp(d.raw, p, n) != 0)
		abort();
	text = cert_file_text(&c);
	if (cert_file_parse(text, strlen(text), &d) < 0 || d.rawlen != n)
		abort();
	free(text);
	/* the fuzzer cannot sign with the authority's key: never believed */
	if (trust_check_cert(&cf, &c, c.name, (time_t)c.not_before) == 0)
		abort();
}

static void
one_list(const char *p, size_t n)
{
	struct revlist rl, again;
	char *text;
	size_t len;

	if (revlist_parse(p, n, &rl) < 0) {
		if (err_get()[0] == 0)
			abort();
		return;
	}
	if (trust_revlist_check(&cf, p, n, &again) == 0)
		abort();	/* not signed by our authority */
	text = revlist_sign(&rl, auth, &len);
	if (text == NULL || revlist_parse(text, len, &again) < 0 || again.n != rl.n ||
	    again.serial != rl.serial || revlist_verify(&again, text, auth->pub.sign) < 0)
		abort();
	for (int i = 0; i < rl.n; i++)
		if (rl.v[i].kind != again.v[i].kind || rl.v[i].serial != again.v[i].serial ||
		    strcmp(rl.v[i].name, again.v[i].name) != 0 ||
		    memcmp(rl.v[i].key, again.v[i].key, sizeof(rl.v[i].key)) != 0)
			abort();
	free(text);
	revlist_free(&again);
	revlist_free(&rl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct cert c;
	char *s;

	if (!ready++)
		setup();
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		one_cert(data + 1, size - 1);
		break;
	case 1:
		s = xmalloc(size);
		memcpy(s, data + 1, size - 1);
		s[size - 1] = 0;
		if (cert_file_parse(s, size - 1, &c) == 0)
			one_cert(c.raw, c.rawlen);
		free(s);
		break;
	default:
		one_list((const char *)data + 1, size - 1);
		break;
	}
	return 0;
}

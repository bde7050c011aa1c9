/*
 * fuzz_envelope.c - libFuzzer target over what a directory hop's import
 * reads from a medium anyone may have written on: hop envelopes and
 * receipts (global/envelope.h). Any input must be parsed, called
 * incomplete, or refused with a reason; never crash, leak or read out of
 * bounds; nothing unsigned by the one known PEER may be called good, and
 * what is good must format back to a text that parses the same.
 */
#include "conf/config.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "global/envelope.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libgcrypt.so\n";
}

static struct keys *peer;		/* the one PEER whose envelopes may be good */
static struct config *cf;

static void
setup(void)
{
	char path[64], text[512], pk[PUBKEY_STRLEN];

	crypto_init();
	log_open("fuzz_envelope", "file:/dev/null");
	snprintf(path, sizeof(path), "/tmp/fuzz_envelope.%ld.key", (long)getpid());
	unlink(path);
	if (keys_generate(path, &peer) < 0)
		abort();
	unlink(path);
	pubkey_format(&peer->pub, pk);
	snprintf(text, sizeof(text), "NODE B\nSPOOL /nonexistent\nPEER A dir:/nonexistent %s\n", pk);
	if ((cf = config_load_buf("fuzz.conf", text, strlen(text))) == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope e, f;
	char *buf, *again;
	size_t len;
	int r;

	if (peer == NULL)
		setup();
	buf = xmalloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = 0;
	r = envelope_parse(cf, buf, size, &e);
	if (r == 1) {
		/* good means signed by A: formatting it again (signed by A) reads the same */
		if (strcmp(e.from, "A") != 0)
			abort();
		again = envelope_format(&e, peer, &len);
		if (envelope_parse(cf, again, len, &f) != 1 || strcmp(f.id, e.id) != 0 ||
		    f.size != e.size || f.dests.n != e.dests.n)
			abort();
		envelope_free(&f);
		free(again);
	}
	envelope_free(&e);
	free(buf);
	return 0;
}

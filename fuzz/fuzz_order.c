/*
 * fuzz_order.c - libFuzzer target over order_parse: any byte string must
 * be parsed or refused with an error, never crash, leak or read out of
 * bounds; whatever parses must format and re-parse to the same text.
 */
#include "queue/order.h"
#include "util/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct order o, p;
	size_t len, len2;
	char *a, *b;

	if (order_parse((const char *)data, size, &o) < 0) {
		if (err_get()[0] == 0)
			abort();	/* a refusal always says why */
		return 0;
	}
	a = order_format(&o, &len);
	if (order_parse(a, len, &p) < 0)
		abort();	/* we must read what we write */
	b = order_format(&p, &len2);
	if (len != len2 || memcmp(a, b, len) != 0)
		abort();
	free(a);
	free(b);
	order_free(&o);
	order_free(&p);
	return 0;
}

/*
 * test_decimal.c - strict decimal numbers (src/util/decimal.h): what every
 * text format of shipd accepts as a number, and what it refuses.
 */
#include "t.h"
#include "util/decimal.h"

#include <stdint.h>

static void
accepts(void)
{
	uint64_t v = 1;

	CHECK(decimal_parse("0", 10, &v) == 0 && v == 0);
	CHECK(decimal_parse("10", 10, &v) == 0 && v == 10);
	CHECK(decimal_parse("007", 10, &v) == 0 && v == 7);
	CHECK(decimal_parse("18446744073709551615", UINT64_MAX, &v) == 0 && v == UINT64_MAX);
	CHECK(decimal_parse_canonical("0", 10, &v) == 0 && v == 0);
	CHECK(decimal_parse_canonical("9", 10, &v) == 0 && v == 9);
}

static void
refuses(void)
{
	const char *bad[] = {"", " 1", "1 ", "+1", "-1", "1x", "0x10", "1.0", "١"};
	uint64_t v = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(decimal_parse(bad[i], UINT64_MAX, &v) < 0);
	CHECK(decimal_parse("11", 10, &v) < 0);			/* above max */
	CHECK(decimal_parse("18446744073709551616", UINT64_MAX, &v) < 0);	/* overflow */
	CHECK(decimal_parse("99999999999999999999999", UINT64_MAX, &v) < 0);
	CHECK(decimal_parse_canonical("007", 10, &v) < 0);	/* one spelling only */
	CHECK(decimal_parse_canonical("00", 10, &v) < 0);
	CHECK(v == 42);						/* untouched on failure */
}

int
main(void)
{
	TEST(accepts);
	TEST(refuses);
	T_DONE();
}

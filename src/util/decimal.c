/*
 * decimal.c - strict unsigned decimal numbers (decimal.h). Pure: no
 * allocation, no errno, no locale.
 */
#include "decimal.h"

int
decimal_parse(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == 0)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int
decimal_parse_canonical(const char *s, uint64_t max, uint64_t *out)
{
	if (s[0] == '0' && s[1] != 0)
		return -1;
	return decimal_parse(s, max, out);
}

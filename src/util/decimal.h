/*
 * decimal.h - strict unsigned decimal numbers, as every text format of
 * shipd writes them (orders, packet headers, certificates, envelopes):
 * digits only, no sign, no blanks, no overflow. Never accepts what strtoull
 * would quietly take (" 12", "+1", "12x", an overflowing value).
 */
#ifndef SHIPD_DECIMAL_H
#define SHIPD_DECIMAL_H

#include <stdint.h>

/* s as a number <= max into *out: 0, or -1 (not strict decimal, or > max). */
int decimal_parse(const char *s, uint64_t max, uint64_t *out);
/* The same, and in canonical form only (no leading zero but "0" itself):
 * for signed text, where one value must have one spelling. */
int decimal_parse_canonical(const char *s, uint64_t max, uint64_t *out);

#endif

/*
 * t.h - the module-test harness: each test program prints one line per
 * case, "ok - NAME" or "not ok - NAME: why", and exits non-zero if any
 * case failed. tests/run adds the lines up.
 */
#ifndef SHIPD_T_H
#define SHIPD_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed, t_case_failed;
static const char *t_name;

#define CHECK(cond) do { if (!(cond)) { \
	printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
	t_case_failed = 1; } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
	if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0) { \
	printf("#   %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, _a ? _a : "(null)", _b ? _b : "(null)"); \
	t_case_failed = 1; } } while (0)
#define CHECK_INT(a, b) do { long long _a = (a), _b = (b); if (_a != _b) { \
	printf("#   %s:%d: %s == %lld, want %lld\n", __FILE__, __LINE__, #a, _a, _b); \
	t_case_failed = 1; } } while (0)

#define TEST(fn) do { t_name = #fn; t_case_failed = 0; fn(); \
	printf("%s - %s\n", t_case_failed ? "not ok" : "ok", t_name); \
	fflush(stdout); t_failed |= t_case_failed; } while (0)

#define T_DONE() return t_failed ? 1 : 0

#endif

/*
 * clock.c - the two clocks the programs read, as seconds with a fraction:
 * now_real() for times shown to people or stored in progress records,
 * now_mono() for measuring intervals (never jumps with the wall clock).
 * Knows nothing of shipping.
 */
#include "clock.h"

#include <time.h>

static double
now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double
now_real(void)
{
	return now(CLOCK_REALTIME);
}

double
now_mono(void)
{
	return now(CLOCK_MONOTONIC);
}

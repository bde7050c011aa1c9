/*
 * clock.c - the two clocks the programs read, as seconds with a fraction:
 * now_real() for times shown to people or stored in progress records,
 * now_mono() for measuring intervals (never jumps with the wall clock).
 * Knows nothing of shipping.
 */
#include "clock.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

void
clock_throttle(const char *env, uint64_t done, double t0)
{
	static const char *warned[4];
	const char *e = getenv(env);
	double rate = e ? atof(e) : 0, ahead;
	int i;

	if (rate <= 0)
		return;
	for (i = 0; i < 4 && warned[i] && strcmp(warned[i], env) != 0; i++)
		;
	if (i < 4 && warned[i] == NULL) {
		warned[i] = env;
		msg_warnx("%s=%.0f: slowed down for a test (test only)", env, rate);
	}
	if ((ahead = done / rate - (now_mono() - t0)) > 0)
		usleep(ahead * 1e6);
}

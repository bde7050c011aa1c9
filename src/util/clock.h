#ifndef UTIL_CLOCK_H
#define UTIL_CLOCK_H

#include <stdint.h>

/* Wall-clock and monotonic time as seconds with a fraction. */
double now_real(void);
double now_mono(void);

/*
 * Tests only: with the environment variable env set to BYTES_PER_SECOND,
 * sleep until done bytes since t0 (now_mono) are no faster than that, so
 * that a test can watch or interrupt the work in the middle. Says so on
 * stderr the first time. Unset (always, outside tests): returns at once.
 */
void clock_throttle(const char *env, uint64_t done, double t0);

#endif

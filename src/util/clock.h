#ifndef UTIL_CLOCK_H
#define UTIL_CLOCK_H

/* Wall-clock and monotonic time as seconds with a fraction. */
double now_real(void);
double now_mono(void);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The absolute CLOCK_REALTIME time ms milliseconds from now, as
 * pthread_cond_timedwait() and pthread_mutex_timedlock() want it. Host-only
 * (the daemon's threads and its stores).
 */
#ifndef WGNET_HOST_DEADLINE_H
#define WGNET_HOST_DEADLINE_H

#include <stdint.h>
#include <time.h>

static inline void deadline_in_ms(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

#endif

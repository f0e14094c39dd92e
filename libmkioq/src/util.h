/* SPDX-License-Identifier: MIT */
/*
 * Small helpers that several of libmkioq's files (and libmkioq-uring's)
 * need, written once: array sizes and the monotonic clock of deadlines.
 */
#ifndef MKIOQ_LIB_UTIL_H
#define MKIOQ_LIB_UTIL_H

#include <stdint.h>
#include <time.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* CLOCK_MONOTONIC in nanoseconds: spins, timeouts, deadlines. */
static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t mono_ms(void)
{
	return mono_ns() / 1000000;
}

#endif

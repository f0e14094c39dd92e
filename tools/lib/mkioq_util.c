// SPDX-License-Identifier: GPL-2.0
/* Byte patterns, the clock and record draining for the tools and tests. */
#include <time.h>

#include "mkioq_util.h"

void pattern_fill(uint8_t *p, size_t n, uint32_t seed, uint64_t start)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = pattern_byte(seed, start + i);
}

size_t pattern_check(const uint8_t *p, size_t n, uint32_t seed,
		     uint64_t start)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != pattern_byte(seed, start + i))
			return i;
	return n;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int drain_cqes(struct mkioq_queue *q)
{
	struct mkioq_cqe cqes[64];
	int n, total = 0;

	while ((n = mkioq_read_cqes(q, cqes, 64, 0)) > 0)
		total += n;
	return total;
}

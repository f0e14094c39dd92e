/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the tools (mkioq-demo, mkioq-bench) that the VM tests use
 * too: the device node, byte patterns to fill and check buffers with, the
 * monotonic clock, draining a queue's completion records, and reading a
 * queue's fdinfo and a task's CPU time from /proc.
 */
#ifndef MKIOQ_TOOLS_UTIL_H
#define MKIOQ_TOOLS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "libmkioq.h"

#define MKIOQ_DEV	"/dev/mkioq0"

/* Byte i of pattern @seed; distinct seeds give distinct patterns. */
static inline uint8_t pattern_byte(uint32_t seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed * 0xff51afd7ULL;

	return (uint8_t)(x >> 29 ^ x >> 7);
}

void pattern_fill(uint8_t *p, size_t n, uint32_t seed, uint64_t start);
/* Returns the index of the first wrong byte, or n if all are right. */
size_t pattern_check(const uint8_t *p, size_t n, uint32_t seed,
		     uint64_t start);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);
/* Drain every completion record waiting; returns how many. */
int drain_cqes(struct mkioq_queue *q);
/* The fdinfo of our @fd, read whole into @buf of @len bytes: 0 or -errno. */
int fdinfo_read(int fd, char *buf, size_t len);
/* The number after "@key:<TAB>" in the fdinfo of our @fd, or -1. */
long fdinfo_number(int fd, const char *key);
/* utime + stime of task @pid, in clock ticks; -1 if unreadable. */
long task_cpu_ticks(long pid);

#endif

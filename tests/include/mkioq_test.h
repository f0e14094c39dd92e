/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the VM selftests and the demo: vgem dma-bufs, byte
 * patterns, and waiting for completions.
 */
#ifndef MKIOQ_TEST_H
#define MKIOQ_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mkioq.h"

#define MKIOQ_DEV	"/dev/mkioq0"

/* A vgem dumb buffer exported as a dma-buf and mapped for the CPU. */
struct test_buf {
	int drm_fd;
	uint32_t gem_handle;
	int fd;			/* dma-buf */
	uint8_t *map;		/* CPU mapping through the DRM device */
	size_t size;
};

int vgem_open(void);
int test_buf_create(int drm_fd, size_t size, bool writable,
		    struct test_buf *b);
void test_buf_destroy(struct test_buf *b);

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

/*
 * Wait until @slot holds OK or ERROR, watching its STATUS word and leaving
 * completion records unread; returns the STATUS value, or -ETIMEDOUT.
 */
int wait_slot(struct mkioq_queue *q, uint32_t slot, int timeout_ms);
/* Drain every completion record waiting; returns how many. */
int drain_cqes(struct mkioq_queue *q);
uint64_t now_ns(void);

#endif

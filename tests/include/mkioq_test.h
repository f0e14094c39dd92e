/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the VM selftests and the demo: dma-bufs (vgem, udmabuf
 * or the system dma-heap), byte patterns, and waiting for completions.
 */
#ifndef MKIOQ_TEST_H
#define MKIOQ_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "libmkioq.h"

#define MKIOQ_DEV	"/dev/mkioq0"

/* Who exported a struct test_buf. */
enum test_buf_kind {
	TEST_BUF_VGEM,		/* vgem dumb buffer (zero: the default) */
	TEST_BUF_UDMABUF,	/* /dev/udmabuf over a sealed memfd */
	TEST_BUF_HEAP,		/* /dev/dma_heap/system */
};

/*
 * A dma-buf mapped for the CPU. Writable buffers come from the exporter
 * named by the environment variable MKIOQ_EXPORTER (see test_exporter()),
 * read-only ones always from vgem.
 */
struct test_buf {
	int drm_fd;		/* vgem: the DRM device it was made on */
	uint32_t gem_handle;	/* vgem: the dumb buffer */
	int fd;			/* dma-buf */
	uint8_t *map;		/* CPU mapping, size bytes */
	size_t size;		/* >= the size asked for (page-rounded) */
	enum test_buf_kind kind;
	int memfd;		/* udmabuf: the memfd holding the pages */
};

int vgem_open(void);
/*
 * The exporter of writable test buffers: $MKIOQ_EXPORTER, one of "vgem"
 * (the default when unset or empty), "udmabuf" or "heap".
 */
const char *test_exporter(void);
/*
 * Make a dma-buf of at least @size bytes, zero-filled and mapped at b->map.
 * @drm_fd is a vgem device (vgem_open()); it is used for read-only buffers
 * and when the exporter is vgem. Returns 0, -ENODEV if the exporter's
 * device is missing, -EINVAL for an unknown MKIOQ_EXPORTER, or another
 * negative errno.
 */
int test_buf_create(int drm_fd, size_t size, bool writable,
		    struct test_buf *b);
/* Unmap and close everything test_buf_create() made; safe to repeat. */
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
uint64_t env_u64(const char *name, uint64_t def);

#endif

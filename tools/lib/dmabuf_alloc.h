/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dma-bufs for the tools (mkioq-demo, mkioq-bench) and the VM tests,
 * mapped for the CPU: vgem dumb buffers exported with PRIME (libdrm),
 * udmabufs over sealed memfds, or the system dma-heap. Link -ldrm.
 */
#ifndef MKIOQ_TOOLS_DMABUF_ALLOC_H
#define MKIOQ_TOOLS_DMABUF_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* The DRM node whose driver is vgem, opened; -ENODEV if there is none. */
int vgem_open(void);
/*
 * The exporter of writable buffers: $MKIOQ_EXPORTER, one of "vgem" (the
 * default when unset or empty), "udmabuf" or "heap".
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

#endif

// SPDX-License-Identifier: MIT
/*
 * dmabuf_read: a CPU producer reads from one dma-buf into another through
 * the mkioq module.
 *
 * What it shows: the whole request cycle on one device queue, with no
 * notification at all.
 *   1. Two dma-bufs from vgem (a DRM dumb buffer exported with PRIME,
 *      DRM_RDWR so that it can be mapped and written): a source filled
 *      with a pattern and a destination.
 *   2. A queue (/dev/mkioq0, DOORBELL mode); the source registered once
 *      for READ, the destination as one WRITE handle per slot (a READ
 *      copies source bytes at OFFSET to the destination handle's start).
 *   3. One READ per slot (mkioq_submit()), one doorbell: the calling
 *      thread services every published request before mkioq_doorbell()
 *      returns.
 *   4. The results straight from the slots' STATUS words
 *      (mkioq_completion()), every byte checked, each slot recycled.
 *   5. A request past the end of the source: it completes with ERROR
 *      and ERANGE, and nothing else changes.
 *
 * Needs: vgem and mkioq loaded (modprobe vgem; insmod mkioq.ko), root or
 * access to /dev/dri/card* and /dev/mkioq0. Prints what it did; exits 0
 * when every byte arrived, 1 on any failure.
 *
 * Build against the installed library:
 *   cc -o dmabuf_read dmabuf_read.c $(pkg-config --cflags --libs mkioq libdrm)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <xf86drm.h>

#include <libmkioq.h>

#define DEVICE		"/dev/mkioq0"
#define SLOTS		8
#define SRC_BYTES	(1u << 20)
#define REGION_BYTES	(64u << 10)	/* each slot's part of the destination */

/* ----- dma-bufs from vgem: a dumb buffer, exported and mapped ----- */

struct dmabuf {
	int fd;
	uint8_t *map;
	size_t size;
};

/* The first DRM card node whose driver is vgem (dumb buffers need a card node). */
static int vgem_open(void)
{
	char path[32];
	int i, fd;

	for (i = 0; i < 16; i++) {
		drmVersionPtr v;
		int is_vgem;

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		v = drmGetVersion(fd);
		is_vgem = v && strcmp(v->name, "vgem") == 0;
		drmFreeVersion(v);
		if (is_vgem)
			return fd;
		close(fd);
	}
	return -1;
}

static int dmabuf_new(int drm, size_t size, struct dmabuf *b)
{
	struct drm_mode_create_dumb create = {
		.width = 4096, .height = (uint32_t)((size + 4095) / 4096),
		.bpp = 8,
	};

	if (drmIoctl(drm, DRM_IOCTL_MODE_CREATE_DUMB, &create))
		return -errno;
	/* The dma-buf keeps the buffer alive; the GEM handle is not needed. */
	if (drmPrimeHandleToFD(drm, create.handle, DRM_CLOEXEC | DRM_RDWR,
			       &b->fd))
		return -errno;
	b->size = create.size;
	b->map = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      b->fd, 0);
	return b->map == MAP_FAILED ? -errno : 0;
}

/* Bracket CPU access to a mapped dma-buf, as the dma-buf API asks. */
static void cpu_access(const struct dmabuf *b, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags | DMA_BUF_SYNC_RW };

	ioctl(b->fd, DMA_BUF_IOCTL_SYNC, &sync);
}

/* ------------------------------------------------------------------ */

/*
 * Say what failed and return 1. For a libmkioq call's name,
 * mkioq_strerror_call() says why that call fails so and how to fix it;
 * for anything else it falls back to mkioq_strerror() of the errno.
 */
static int failed(const char *what, int err)
{
	fprintf(stderr, "dmabuf_read: %s: %s\n", what, mkioq_strerror_call(what, err));
	return 1;
}

int main(void)
{
	struct dmabuf src, dst;
	struct mkioq_queue *q;
	struct mkioq_completion c;
	uint32_t hsrc, hdst[SLOTS], s, bad = 0;
	uint64_t moved = 0;
	int drm, ret;
	size_t i;

	drm = vgem_open();
	if (drm < 0) {
		fprintf(stderr, "dmabuf_read: no vgem DRM node in /dev/dri (modprobe vgem)\n");
		return 1;
	}
	ret = dmabuf_new(drm, SRC_BYTES, &src);
	if (!ret)
		ret = dmabuf_new(drm, SLOTS * REGION_BYTES, &dst);
	if (ret)
		return failed("vgem dma-buf", ret);
	cpu_access(&src, DMA_BUF_SYNC_START);
	for (i = 0; i < src.size; i++)
		src.map[i] = (uint8_t)((i * 2654435761u) >> 13);
	cpu_access(&src, DMA_BUF_SYNC_END);
	cpu_access(&dst, DMA_BUF_SYNC_START);
	memset(dst.map, 0, dst.size);
	cpu_access(&dst, DMA_BUF_SYNC_END);
	printf("dmabuf_read: vgem dma-bufs: source %zu B (fd %d), destination %zu B (fd %d)\n",
	       src.size, src.fd, dst.size, dst.fd);

	ret = mkioq_queue_open(DEVICE, SLOTS, 0, &q);
	if (ret)
		return failed("mkioq_queue_open", ret);
	ret = mkioq_register(q, src.fd, 0, src.size, MKIOQ_ACCESS_READ, &hsrc);
	for (s = 0; !ret && s < SLOTS; s++)
		ret = mkioq_register(q, dst.fd, (uint64_t)s * REGION_BYTES,
				     REGION_BYTES, MKIOQ_ACCESS_WRITE, &hdst[s]);
	if (ret)
		return failed("mkioq_register", ret);
	printf("dmabuf_read: queue on %s, %u slots, DOORBELL mode; source handle %u, %u destination handles\n",
	       DEVICE, mkioq_queue_slot_count(q), hsrc, SLOTS);

	/* One READ per slot: slot s reads (s + 1) * 4 KiB + s bytes at s * 100 KiB + s. */
	for (s = 0; s < SLOTS; s++) {
		struct mkioq_request req = {
			.op = MKIOQ_OP_READ,
			.src_handle = hsrc,
			.dst_handle = hdst[s],
			.offset = (uint64_t)s * 102400 + s,
			.byte_count = (s + 1) * 4096 + s,
			.tag = 100 + s,
		};

		ret = mkioq_submit(q, s, &req);
		if (ret)
			return failed("mkioq_submit", ret);
	}
	/* DOORBELL mode: this call services every published slot. */
	ret = mkioq_doorbell(q);
	if (ret)
		return failed("mkioq_doorbell", ret);

	cpu_access(&dst, DMA_BUF_SYNC_START);
	for (s = 0; s < SLOTS; s++) {
		uint64_t off = (uint64_t)s * 102400 + s;
		uint32_t len = (s + 1) * 4096 + s;

		ret = mkioq_completion(q, s, &c);
		if (ret)
			return failed("mkioq_completion", ret);
		if (c.status != MKIOQ_RESULT_OK || c.byte_count != len ||
		    c.tag != 100 + s) {
			fprintf(stderr, "dmabuf_read: slot %u: status 0x%x, %u bytes, tag %u (%s)\n",
				s, c.status, c.byte_count, c.tag,
				c.status == MKIOQ_RESULT_ERROR ?
				mkioq_strerror_call("request", (int)c.tag) : "");
			bad++;
		} else if (memcmp(dst.map + (size_t)s * REGION_BYTES,
				  src.map + off, len)) {
			fprintf(stderr, "dmabuf_read: slot %u: the bytes differ from the source\n",
				s);
			bad++;
		} else {
			moved += len;
		}
		mkioq_recycle(q, s);
	}
	cpu_access(&dst, DMA_BUF_SYNC_END);
	printf("dmabuf_read: %u READs completed OK, %llu bytes moved and verified, %u bad\n",
	       SLOTS - bad, (unsigned long long)moved, bad);

	/* A request that runs past the end of the source fails, alone. */
	{
		struct mkioq_request req = {
			.op = MKIOQ_OP_READ, .src_handle = hsrc,
			.dst_handle = hdst[1], .offset = src.size - 100,
			.byte_count = 200, .tag = 8,
		};

		ret = mkioq_submit(q, 1, &req);
	}
	if (!ret)
		ret = mkioq_doorbell(q);
	if (!ret)
		ret = mkioq_completion(q, 1, &c);
	if (ret)
		return failed("the bad request", ret);
	if (c.status == MKIOQ_RESULT_ERROR && c.tag == ERANGE) {
		printf("dmabuf_read: a READ past the end of the source: ERROR, errno %u = ERANGE: %s\n",
		       c.tag, mkioq_strerror_call("request", (int)c.tag));
	} else {
		fprintf(stderr, "dmabuf_read: a READ past the end: status 0x%x, tag %u, expected ERROR ERANGE\n",
			c.status, c.tag);
		bad++;
	}
	mkioq_recycle(q, 1);

	mkioq_queue_free(q);	/* closes the queue: its handles go too */
	munmap(src.map, src.size);
	munmap(dst.map, dst.size);
	close(src.fd);
	close(dst.fd);
	close(drm);
	printf("dmabuf_read: %s\n", bad ? "FAILED" : "done");
	return bad ? 1 : 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * dma-bufs for the tools and the VM tests: vgem dumb buffers exported
 * with PRIME (libdrm), udmabufs over sealed memfds, and the system
 * dma-heap, chosen by MKIOQ_EXPORTER.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <xf86drm.h>

#include "dmabuf_alloc.h"

/* The DRM node whose driver is vgem: the stock dma-buf exporter. */
int vgem_open(void)
{
	char path[64];
	int i, fd;

	for (i = 0; i < 16; i++) {
		drmVersionPtr v;

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		v = drmGetVersion(fd);
		if (v && strcmp(v->name, "vgem") == 0) {
			drmFreeVersion(v);
			return fd;
		}
		if (v)
			drmFreeVersion(v);
		close(fd);
	}
	return -ENODEV;
}

const char *test_exporter(void)
{
	const char *e = getenv("MKIOQ_EXPORTER");

	return e && *e ? e : "vgem";
}

static int exporter_kind(void)
{
	const char *e = test_exporter();

	if (strcmp(e, "vgem") == 0)
		return TEST_BUF_VGEM;
	if (strcmp(e, "udmabuf") == 0)
		return TEST_BUF_UDMABUF;
	if (strcmp(e, "heap") == 0)
		return TEST_BUF_HEAP;
	fprintf(stderr, "MKIOQ_EXPORTER=%s: unknown (vgem, udmabuf, heap)\n",
		e);
	return -EINVAL;
}

/* Open an exporter's device node; a missing node or driver is -ENODEV. */
static int open_exporter(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
		return -ENODEV;
	return -errno;
}

static size_t page_round(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (size + page - 1) / page * page;
}

static int vgem_buf_create(int drm_fd, size_t size, bool writable,
			   struct test_buf *b)
{
	struct drm_mode_create_dumb create = {
		.width = 4096,
		.height = (uint32_t)((size + 4095) / 4096),
		.bpp = 8,
	};
	struct drm_mode_map_dumb map = { 0 };
	void *p;

	b->kind = TEST_BUF_VGEM;
	b->drm_fd = drm_fd;
	if (drmIoctl(drm_fd, DRM_IOCTL_MODE_CREATE_DUMB, &create))
		return -errno;
	b->gem_handle = create.handle;
	if (drmPrimeHandleToFD(drm_fd, create.handle,
			       DRM_CLOEXEC | (writable ? DRM_RDWR : 0), &b->fd))
		return -errno;
	map.handle = create.handle;
	if (drmIoctl(drm_fd, DRM_IOCTL_MODE_MAP_DUMB, &map))
		return -errno;
	p = mmap(NULL, create.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 drm_fd, map.offset);
	if (p == MAP_FAILED)
		return -errno;
	b->map = p;
	b->size = create.size;
	return 0;
}

/*
 * udmabuf: the pages of a sealed memfd as a dma-buf. The memfd must be
 * sealed against shrinking (and not against writes), and the range must be
 * whole pages. The CPU writes through a shared mapping of the memfd: the
 * very pages the dma-buf is made of.
 */
static int udmabuf_buf_create(size_t size, struct test_buf *b)
{
	struct udmabuf_create create = { 0 };
	size_t len = page_round(size);
	int dev, ret;
	void *p;

	b->kind = TEST_BUF_UDMABUF;
	dev = open_exporter("/dev/udmabuf", O_RDWR);
	if (dev < 0)
		return dev;
	/* MFD_CLOEXEC too: forked children that exec must not keep it. */
	b->memfd = memfd_create("mkioq", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (b->memfd < 0) {
		ret = -errno;
		goto out;
	}
	if (ftruncate(b->memfd, (off_t)len) ||
	    fcntl(b->memfd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		ret = -errno;
		goto out;
	}
	create.memfd = (uint32_t)b->memfd;
	create.flags = UDMABUF_FLAGS_CLOEXEC;
	create.offset = 0;
	create.size = len;
	b->fd = ioctl(dev, UDMABUF_CREATE, &create);
	if (b->fd < 0) {
		b->fd = -1;
		ret = -errno;
		goto out;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, b->memfd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto out;
	}
	b->map = p;
	b->size = len;
	ret = 0;
out:
	close(dev);
	return ret;
}

/*
 * The system dma-heap: a dma-buf of page-rounded length, mapped for the
 * CPU through the dma-buf itself. Its pages are ordinary cached memory, so
 * on x86 the CPU mapping needs no DMA_BUF_IOCTL_SYNC around accesses.
 */
static int heap_buf_create(size_t size, struct test_buf *b)
{
	struct dma_heap_allocation_data alloc = {
		.len = page_round(size),
		.fd_flags = O_RDWR | O_CLOEXEC,
	};
	int dev, ret;
	void *p;

	b->kind = TEST_BUF_HEAP;
	dev = open_exporter("/dev/dma_heap/system", O_RDONLY);
	if (dev < 0)
		return dev;
	if (ioctl(dev, DMA_HEAP_IOCTL_ALLOC, &alloc)) {
		ret = -errno;
		goto out;
	}
	b->fd = (int)alloc.fd;
	p = mmap(NULL, alloc.len, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd,
		 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto out;
	}
	b->map = p;
	b->size = alloc.len;
	ret = 0;
out:
	close(dev);
	return ret;
}

int test_buf_create(int drm_fd, size_t size, bool writable,
		    struct test_buf *b)
{
	int kind, ret;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->memfd = -1;
	b->drm_fd = drm_fd;
	/*
	 * Read-only buffers are always vgem: a udmabuf is always exported
	 * O_RDWR (its fd cannot be made read-only), and vgem's PRIME export
	 * without DRM_RDWR is the read-only dma-buf the tests need.
	 */
	kind = writable ? exporter_kind() : TEST_BUF_VGEM;
	switch (kind) {
	case TEST_BUF_VGEM:
		ret = vgem_buf_create(drm_fd, size, writable, b);
		break;
	case TEST_BUF_UDMABUF:
		ret = udmabuf_buf_create(size, b);
		break;
	case TEST_BUF_HEAP:
		ret = heap_buf_create(size, b);
		break;
	default:
		return kind;
	}
	if (ret)
		test_buf_destroy(b);
	return ret;
}

void test_buf_destroy(struct test_buf *b)
{
	if (b->map)
		munmap(b->map, b->size);
	if (b->fd >= 0)
		close(b->fd);
	if (b->kind == TEST_BUF_UDMABUF && b->memfd >= 0)
		close(b->memfd);
	if (b->kind == TEST_BUF_VGEM && b->gem_handle) {
		struct drm_mode_destroy_dumb destroy = {
			.handle = b->gem_handle,
		};

		drmIoctl(b->drm_fd, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
	}
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->memfd = -1;
}

// SPDX-License-Identifier: GPL-2.0
/* vgem dma-bufs, patterns and completion waits for the VM tests. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>

#include "mkioq_test.h"

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

int test_buf_create(int drm_fd, size_t size, bool writable,
		    struct test_buf *b)
{
	struct drm_mode_create_dumb create = {
		.width = 4096,
		.height = (uint32_t)((size + 4095) / 4096),
		.bpp = 8,
	};
	struct drm_mode_map_dumb map = { 0 };
	int ret;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->drm_fd = drm_fd;
	if (drmIoctl(drm_fd, DRM_IOCTL_MODE_CREATE_DUMB, &create))
		return -errno;
	b->gem_handle = create.handle;
	b->size = size;
	ret = drmPrimeHandleToFD(drm_fd, create.handle,
				 DRM_CLOEXEC | (writable ? DRM_RDWR : 0),
				 &b->fd);
	if (ret) {
		ret = -errno;
		goto err;
	}
	map.handle = create.handle;
	if (drmIoctl(drm_fd, DRM_IOCTL_MODE_MAP_DUMB, &map)) {
		ret = -errno;
		goto err;
	}
	b->map = mmap(NULL, create.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      drm_fd, map.offset);
	if (b->map == MAP_FAILED) {
		b->map = NULL;
		ret = -errno;
		goto err;
	}
	b->size = create.size;
	return 0;
err:
	test_buf_destroy(b);
	return ret;
}

void test_buf_destroy(struct test_buf *b)
{
	struct drm_mode_destroy_dumb destroy = { .handle = b->gem_handle };

	if (b->map)
		munmap(b->map, b->size);
	if (b->fd >= 0)
		close(b->fd);
	if (b->gem_handle)
		drmIoctl(b->drm_fd, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
	memset(b, 0, sizeof(*b));
	b->fd = -1;
}

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

int wait_slot(struct mkioq_queue *q, uint32_t slot, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	int status;

	for (;;) {
		status = mkioq_slot_status(q, slot);
		if (status == MKIOQ_SLOT_OK || status == MKIOQ_SLOT_ERROR)
			return status;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		/* Leave the records to the caller: watch STATUS only. */
		usleep(50);
	}
}

// SPDX-License-Identifier: MIT
/*
 * completions_poll: completions through poll().
 *
 * What it shows: an event loop that sleeps in poll(2) on the queue's file
 * and, on each POLLIN, drains the completion records with non-blocking
 * read()s until EAGAIN: one wakeup, many completions.
 *   - The queue is in DOORBELL mode (the default): a producer thread
 *     publishes READs (mkioq_submit()) and rings the doorbell
 *     (mkioq_doorbell()), which services them in that thread.
 *   - The main thread is the consumer: poll() reports POLLIN while a
 *     record waits (POLLOUT always: the doorbell never blocks); the
 *     file is O_NONBLOCK as libmkioq opens it, so read() ends with
 *     EAGAIN once the records are drained (mkioq_read_cqes(q, .., 0)
 *     does the same).
 *   - Each record's bytes are checked, its slot recycled; the producer
 *     reuses the slot for its next request. The same loop works with
 *     epoll(7) or a multishot IORING_OP_POLL_ADD.
 *
 * Needs: vgem and mkioq loaded. Exits 0 when every request completed OK
 * with the right bytes, 1 otherwise (or if poll() waits 10 s in vain).
 *
 * Build against the installed library:
 *   cc -pthread -o completions_poll completions_poll.c \
 *      $(pkg-config --cflags --libs mkioq libdrm)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
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
#define SLOTS		32
#define REQUESTS	1024
#define SRC_BYTES	(4u << 20)
#define REQ_BYTES	(8u << 10)

/* ----- dma-bufs from vgem: a dumb buffer, exported and mapped ----- */

struct dmabuf {
	int fd;
	uint8_t *map;
	size_t size;
};

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
	if (drmPrimeHandleToFD(drm, create.handle, DRM_CLOEXEC | DRM_RDWR,
			       &b->fd))
		return -errno;
	b->size = create.size;
	b->map = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      b->fd, 0);
	return b->map == MAP_FAILED ? -errno : 0;
}

static void cpu_access(const struct dmabuf *b, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags | DMA_BUF_SYNC_RW };

	ioctl(b->fd, DMA_BUF_IOCTL_SYNC, &sync);
}

/* ------------------------------------------------------------------ */

static struct mkioq_queue *q;
static uint32_t hsrc, hdst[SLOTS];
static int producer_err;

static uint64_t tag_offset(uint32_t t)
{
	return (uint64_t)t * 4099 % (SRC_BYTES - REQ_BYTES);
}

/*
 * The producer: request t goes into the next EMPTY slot; mkioq_submit()
 * is -EBUSY while the consumer has not recycled a slot yet. Each request
 * is rung at once, as a CPU producer that wants it serviced would.
 */
static void *producer(void *arg)
{
	uint32_t t = 0, slot = 0;
	int ret;

	(void)arg;
	while (t < REQUESTS) {
		struct mkioq_request req = {
			.op = MKIOQ_OP_READ,
			.src_handle = hsrc,
			.dst_handle = hdst[slot],
			.offset = tag_offset(t),
			.byte_count = REQ_BYTES,
			.tag = t,
		};

		ret = mkioq_submit(q, slot, &req);
		if (ret == 0) {
			t++;
			ret = mkioq_doorbell(q);
		} else if (ret == -EBUSY) {
			ret = 0;
			sched_yield();	/* in flight or not recycled yet */
		}
		if (ret) {
			producer_err = ret;
			break;
		}
		slot = (slot + 1) % SLOTS;
	}
	return NULL;
}

/*
 * Say what failed and return 1. For a libmkioq call's name,
 * mkioq_strerror_call() says why that call fails so and how to fix it;
 * for anything else it falls back to mkioq_strerror() of the errno.
 */
static int failed(const char *what, int err)
{
	fprintf(stderr, "completions_poll: %s: %s\n", what, mkioq_strerror_call(what, err));
	return 1;
}

int main(void)
{
	struct mkioq_cqe recs[16];
	struct dmabuf src, dst;
	uint32_t done = 0, bad = 0, wakeups = 0, s;
	struct pollfd pfd;
	pthread_t th;
	int drm, ret, i, n;
	size_t k;

	drm = vgem_open();
	if (drm < 0) {
		fprintf(stderr, "completions_poll: no vgem DRM node in /dev/dri (modprobe vgem)\n");
		return 1;
	}
	ret = dmabuf_new(drm, SRC_BYTES, &src);
	if (!ret)
		ret = dmabuf_new(drm, (size_t)SLOTS * REQ_BYTES, &dst);
	if (ret)
		return failed("vgem dma-buf", ret);
	cpu_access(&src, DMA_BUF_SYNC_START);
	for (k = 0; k < src.size; k++)
		src.map[k] = (uint8_t)((k * 2654435761u) >> 13);
	cpu_access(&src, DMA_BUF_SYNC_END);

	ret = mkioq_queue_open(DEVICE, SLOTS, 0, &q);
	if (ret)
		return failed("mkioq_queue_open", ret);
	ret = mkioq_register(q, src.fd, 0, SRC_BYTES, MKIOQ_ACCESS_READ, &hsrc);
	for (s = 0; !ret && s < SLOTS; s++)
		ret = mkioq_register(q, dst.fd, (uint64_t)s * REQ_BYTES,
				     REQ_BYTES, MKIOQ_ACCESS_WRITE, &hdst[s]);
	if (ret)
		return failed("mkioq_register", ret);
	printf("completions_poll: DOORBELL-mode queue, %u slots; a producer thread submits and rings, poll() + read() here; %u READs of %u B\n",
	       SLOTS, REQUESTS, REQ_BYTES);

	if (pthread_create(&th, NULL, producer, NULL))
		return failed("pthread_create", -EAGAIN);
	pfd.fd = mkioq_queue_fd(q);
	pfd.events = POLLIN;
	while (done < REQUESTS) {
		ret = poll(&pfd, 1, 10000);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return failed("poll", -errno);
		if (ret == 0) {
			fprintf(stderr, "completions_poll: no completion in 10 s (%u of %u)\n",
				done, REQUESTS);
			return 1;
		}
		if (pfd.revents & POLLERR)
			return failed("poll: POLLERR (the queue shut down)", -ENXIO);
		wakeups++;
		/* Drain: read() until EAGAIN, 16 records at most per call. */
		cpu_access(&dst, DMA_BUF_SYNC_START);
		for (;;) {
			ssize_t got = read(pfd.fd, recs, sizeof(recs));

			if (got < 0 && errno == EAGAIN)
				break;
			if (got < 0)
				return failed("read", -errno);
			n = (int)(got / (ssize_t)sizeof(recs[0]));
			for (i = 0; i < n; i++) {
				const struct mkioq_cqe *c = &recs[i];

				if (c->flags & MKIOQ_CQE_F_NOTICE)
					continue;
				done++;
				if (c->status != MKIOQ_RESULT_OK) {
					fprintf(stderr, "completions_poll: tag %u: %s\n",
						c->tag, mkioq_strerror_call("request", c->result));
					bad++;
				} else if ((uint32_t)c->result != REQ_BYTES ||
					   memcmp(dst.map + (size_t)c->slot * REQ_BYTES,
						  src.map + tag_offset(c->tag),
						  REQ_BYTES)) {
					fprintf(stderr, "completions_poll: tag %u: wrong bytes\n",
						c->tag);
					bad++;
				}
				/* Verified: the producer may reuse the slot. */
				ret = mkioq_recycle(q, c->slot);
				if (ret)
					return failed("mkioq_recycle", ret);
			}
		}
		cpu_access(&dst, DMA_BUF_SYNC_END);
	}
	pthread_join(th, NULL);
	if (producer_err)
		return failed("producer", producer_err);
	printf("completions_poll: %u completions in %u poll() wakeups (%.1f per wakeup), %u bad\n",
	       done, wakeups, (double)done / wakeups, bad);

	mkioq_queue_free(q);
	munmap(src.map, src.size);
	munmap(dst.map, dst.size);
	close(src.fd);
	close(dst.fd);
	close(drm);
	printf("completions_poll: %s\n", bad ? "FAILED" : "done");
	return bad ? 1 : 0;
}

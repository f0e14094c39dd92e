// SPDX-License-Identifier: MIT
/*
 * completions_read: completions through read().
 *
 * What it shows: the megakernel's flow with the producer making no system
 * call, and the host sleeping in a blocking read(2) of the queue's file
 * for struct mkioq_cqe completion records.
 *   - The queue is opened in POLL mode (MKIOQ_OPEN_POLL): a kernel thread
 *     of the module finds PUBLISHED slots by itself, so the producer
 *     (here the CPU, as a GPU would) only writes slots: no doorbell.
 *   - libmkioq opens the file O_NONBLOCK (mkioq_read_cqes() waits in
 *     poll()); a plain blocking read() needs the flag cleared (fcntl).
 *   - Each read() returns every record waiting (up to the buffer), oldest
 *     first; each names its slot, status, result (bytes or -errno) and
 *     the request's tag. The slot is recycled and used for the next
 *     request, so 64 slots carry REQUESTS requests.
 *
 * Needs: vgem and mkioq loaded. Exits 0 when every request completed OK
 * with the right bytes, 1 otherwise (or if nothing arrives in 30 s).
 *
 * Build against the installed library:
 *   cc -o completions_read completions_read.c \
 *      $(pkg-config --cflags --libs mkioq libdrm)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
#define SLOTS		64
#define REQUESTS	1024
#define SRC_BYTES	(4u << 20)
#define REQ_BYTES	(16u << 10)

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

/* The request with tag t reads REQ_BYTES from here. */
static uint64_t tag_offset(uint32_t t)
{
	return (uint64_t)t * 4099 % (SRC_BYTES - REQ_BYTES);
}

/* Publish request @tag into @slot: plain stores, no system call. */
static int publish(uint32_t slot, uint32_t tag)
{
	struct mkioq_request req = {
		.op = MKIOQ_OP_READ,
		.src_handle = hsrc,
		.dst_handle = hdst[slot],
		.offset = tag_offset(tag),
		.byte_count = REQ_BYTES,
		.tag = tag,
	};

	return mkioq_submit(q, slot, &req);
}

static void watchdog(int sig)
{
	static const char msg[] = "completions_read: no completion for 30 s: FAILED\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

/*
 * Say what failed and return 1. For a libmkioq call's name,
 * mkioq_strerror_call() says why that call fails so and how to fix it;
 * for anything else it falls back to mkioq_strerror() of the errno.
 */
static int failed(const char *what, int err)
{
	fprintf(stderr, "completions_read: %s: %s\n", what, mkioq_strerror_call(what, err));
	return 1;
}

int main(void)
{
	struct mkioq_cqe recs[SLOTS];
	struct dmabuf src, dst;
	uint32_t next = 0, done = 0, bad = 0, reads = 0, s;
	int drm, fd, ret, i, n;
	size_t k;

	drm = vgem_open();
	if (drm < 0) {
		fprintf(stderr, "completions_read: no vgem DRM node in /dev/dri (modprobe vgem)\n");
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

	ret = mkioq_queue_open(DEVICE, SLOTS, MKIOQ_OPEN_POLL, &q);
	if (ret)
		return failed("mkioq_queue_open", ret);
	ret = mkioq_register(q, src.fd, 0, SRC_BYTES, MKIOQ_ACCESS_READ, &hsrc);
	for (s = 0; !ret && s < SLOTS; s++)
		ret = mkioq_register(q, dst.fd, (uint64_t)s * REQ_BYTES,
				     REQ_BYTES, MKIOQ_ACCESS_WRITE, &hdst[s]);
	if (ret)
		return failed("mkioq_register", ret);

	/* A blocking read(): clear the O_NONBLOCK the library set. */
	fd = mkioq_queue_fd(q);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		return failed("fcntl", -errno);
	printf("completions_read: POLL-mode queue, %u slots, blocking read() of fd %d; %u READs of %u B\n",
	       SLOTS, fd, REQUESTS, REQ_BYTES);

	signal(SIGALRM, watchdog);
	for (s = 0; s < SLOTS; s++) {
		ret = publish(s, next++);
		if (ret)
			return failed("mkioq_submit", ret);
	}
	while (done < REQUESTS) {
		ssize_t got;

		alarm(30);
		/* Sleeps until at least one record waits; returns whole records. */
		got = read(fd, recs, sizeof(recs));
		if (got < 0)
			return failed("read", -errno);
		n = (int)(got / (ssize_t)sizeof(recs[0]));
		reads++;
		cpu_access(&dst, DMA_BUF_SYNC_START);
		for (i = 0; i < n; i++) {
			const struct mkioq_cqe *c = &recs[i];

			if (c->flags & MKIOQ_CQE_F_OVERFLOW)
				fprintf(stderr, "completions_read: %u records dropped\n",
					c->dropped);
			if (c->flags & MKIOQ_CQE_F_NOTICE)
				continue;	/* a notice, not a completion */
			done++;
			if (c->status != MKIOQ_RESULT_OK) {
				fprintf(stderr, "completions_read: tag %u: %s\n",
					c->tag, mkioq_strerror_call("request", c->result));
				bad++;
			} else if ((uint32_t)c->result != REQ_BYTES ||
				   memcmp(dst.map + (size_t)c->slot * REQ_BYTES,
					  src.map + tag_offset(c->tag),
					  REQ_BYTES)) {
				fprintf(stderr, "completions_read: tag %u: wrong bytes\n",
					c->tag);
				bad++;
			}
			/* The result is read: hand the slot back, reuse it. */
			ret = mkioq_recycle(q, c->slot);
			if (!ret && next < REQUESTS)
				ret = publish(c->slot, next++);
			if (ret)
				return failed("recycle and publish", ret);
		}
		cpu_access(&dst, DMA_BUF_SYNC_END);
	}
	alarm(0);
	printf("completions_read: %u completions in %u read() calls (%.1f per call), %u bad\n",
	       done, reads, (double)done / reads, bad);

	mkioq_queue_free(q);
	munmap(src.map, src.size);
	munmap(dst.map, dst.size);
	close(src.fd);
	close(dst.fd);
	close(drm);
	printf("completions_read: %s\n", bad ? "FAILED" : "done");
	return bad ? 1 : 0;
}

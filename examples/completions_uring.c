// SPDX-License-Identifier: MIT
/*
 * completions_uring: completions through io_uring.
 *
 * What it shows, in two parts, both on DOORBELL-mode queues:
 *   1. The application's own io_uring (liburing, with IORING_SETUP_CQE32)
 *      and the SQE helpers of <mkioq_uring.h>: one MKIOQ_URING_CMD_WAIT
 *      parked per slot (mkioq_prep_wait()), and the doorbell as a
 *      uring_cmd too (mkioq_prep_doorbell()), so the re-armed WAITs and
 *      the doorbell for the next requests go in with one
 *      io_uring_enter(). Each completion is a CQE: res = bytes or
 *      -errno, res2 = tag << 32 | slot, user_data as set; the whole
 *      struct mkioq_cqe is also written where the WAIT asked.
 *   2. The ring libmkioq-uring owns, for programs without an io_uring
 *      loop of their own: mkioq_uring_init(), mkioq_submit_and_ring()
 *      (publish a batch and ring in one io_uring_enter()) and
 *      mkioq_wait_completions().
 * On kernels before 6.7 a WAIT parked 10 s completes with -ETIME and a
 * notice (MKIOQ_WAIT_TIMEOUT_MS): it is parked again.
 *
 * Needs: vgem and mkioq loaded, io_uring enabled. Exits 0 when every
 * request of both parts completed OK with the right bytes, 1 otherwise.
 *
 * Build against the installed library:
 *   cc -o completions_uring completions_uring.c \
 *      $(pkg-config --cflags --libs mkioq-uring libdrm)
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
#include <mkioq_uring.h>	/* includes <liburing.h> */

#define DEVICE		"/dev/mkioq0"
#define SLOTS		16
#define REQUESTS	512
#define SRC_BYTES	(4u << 20)
#define REQ_BYTES	(8u << 10)
#define UD_DOORBELL	UINT64_MAX	/* user_data of the doorbell commands */

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

static struct dmabuf src, dst;

struct queue {
	struct mkioq_queue *q;
	uint32_t hsrc, hdst[SLOTS];
};

static uint64_t tag_offset(uint32_t t)
{
	return (uint64_t)t * 4099 % (SRC_BYTES - REQ_BYTES);
}

static struct mkioq_request request(const struct queue *qu, uint32_t slot,
				    uint32_t tag)
{
	struct mkioq_request req = {
		.op = MKIOQ_OP_READ,
		.src_handle = qu->hsrc,
		.dst_handle = qu->hdst[slot],
		.offset = tag_offset(tag),
		.byte_count = REQ_BYTES,
		.tag = tag,
	};

	return req;
}

/*
 * A DOORBELL-mode queue with the source and one destination per slot;
 * *@call names the call that failed.
 */
static int queue_open(struct queue *qu, const char **call)
{
	uint32_t s;
	int ret;

	*call = "mkioq_queue_open";
	ret = mkioq_queue_open(DEVICE, SLOTS, 0, &qu->q);
	if (ret)
		return ret;
	*call = "mkioq_register";
	ret = mkioq_register(qu->q, src.fd, 0, SRC_BYTES, MKIOQ_ACCESS_READ,
			     &qu->hsrc);
	for (s = 0; !ret && s < SLOTS; s++)
		ret = mkioq_register(qu->q, dst.fd, (uint64_t)s * REQ_BYTES,
				     REQ_BYTES, MKIOQ_ACCESS_WRITE, &qu->hdst[s]);
	return ret;
}

/* Check one completion's bytes; returns 0 when right. */
static int check(uint32_t slot, uint32_t tag, int32_t result)
{
	int ret;

	if (result < 0) {
		fprintf(stderr, "completions_uring: tag %u: %s\n", tag,
			mkioq_strerror_call("request", result));
		return -1;
	}
	cpu_access(&dst, DMA_BUF_SYNC_START);
	ret = (uint32_t)result != REQ_BYTES ||
	      memcmp(dst.map + (size_t)slot * REQ_BYTES,
		     src.map + tag_offset(tag), REQ_BYTES);
	cpu_access(&dst, DMA_BUF_SYNC_END);
	if (ret)
		fprintf(stderr, "completions_uring: tag %u: wrong bytes\n", tag);
	return ret ? -1 : 0;
}

/*
 * Say what failed and return 1. For a libmkioq call's name,
 * mkioq_strerror_call() says why that call fails so and how to fix it;
 * for anything else it falls back to mkioq_strerror() of the errno.
 */
static int failed(const char *what, int err)
{
	fprintf(stderr, "completions_uring: %s: %s\n", what, mkioq_strerror_call(what, err));
	return 1;
}

/*
 * Park a WAIT for @slot's next completion, whose record the kernel stores
 * in *@rec before it posts the CQE. The record is cleared first: a WAIT
 * that ends without a completion (-ETIME, -ECANCELED) leaves a notice or
 * nothing there.
 */
static void arm_wait(struct io_uring *ring, int fd, uint32_t slot,
		     struct mkioq_cqe *rec)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	memset(rec, 0, sizeof(*rec));
	mkioq_prep_wait(ring, sqe, fd, slot, rec);
	io_uring_sqe_set_data64(sqe, slot);
}

/* Part 1: the application's own ring, one WAIT per slot. */
static int own_ring(void)
{
	static struct mkioq_cqe recs[SLOTS];	/* outlive the parked WAITs */
	struct io_uring_params p = { .flags = IORING_SETUP_CQE32 };
	uint32_t next = 0, done = 0, bad = 0, enters = 0, s;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct mkioq_request req;
	struct io_uring ring;
	struct queue qu;
	const char *call;
	int fd, ret;

	ret = queue_open(&qu, &call);
	if (ret)
		return failed(call, ret);
	fd = mkioq_queue_fd(qu.q);
	ret = io_uring_queue_init_params(2 * SLOTS + 2, &ring, &p);
	if (ret)
		return failed("io_uring_queue_init_params(CQE32)", ret);

	/* Every slot: a request, and a WAIT parked for its completion. */
	for (s = 0; s < SLOTS; s++) {
		req = request(&qu, s, next++);
		ret = mkioq_submit(qu.q, s, &req);
		if (ret)
			return failed("mkioq_submit", ret);
		arm_wait(&ring, fd, s, &recs[s]);
	}
	/* The doorbell in the same io_uring_enter() as the WAITs. */
	sqe = io_uring_get_sqe(&ring);
	mkioq_prep_doorbell(&ring, sqe, fd);
	io_uring_sqe_set_data64(sqe, UD_DOORBELL);

	while (done < REQUESTS) {
		unsigned int head, seen = 0, rung = 0;

		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0)
			return failed("io_uring_submit_and_wait", ret);
		enters++;
		io_uring_for_each_cqe(&ring, head, cqe) {
			uint64_t ud = io_uring_cqe_get_data64(cqe);
			uint32_t slot = (uint32_t)ud;	/* as arm_wait() set it */
			/* CQE32: res2 = tag << 32 | slot. */
			uint32_t res2_slot = (uint32_t)cqe->big_cqe[0];
			uint32_t tag = (uint32_t)(cqe->big_cqe[0] >> 32);

			seen++;
			if (ud == UD_DOORBELL) {
				if (cqe->res < 0)
					return failed("doorbell", cqe->res);
				continue;
			}
			if (recs[slot].status == MKIOQ_STATE_EMPTY ||
			    recs[slot].flags & MKIOQ_CQE_F_NOTICE) {
				/* No completion: expired (re-arm it) or failed. */
				if (cqe->res != -ETIME)
					return failed("WAIT", cqe->res);
			} else {
				/* res2 and the record agree; check the bytes. */
				if (res2_slot != slot || tag != recs[slot].tag ||
				    check(slot, tag, cqe->res))
					bad++;
				done++;
				ret = mkioq_recycle(qu.q, slot);
				if (ret)
					return failed("mkioq_recycle", ret);
				if (next >= REQUESTS)
					continue;	/* nothing more to wait for */
				req = request(&qu, slot, next++);
				ret = mkioq_submit(qu.q, slot, &req);
				if (ret)
					return failed("mkioq_submit", ret);
				rung = 1;
			}
			/* Park the slot's WAIT again (goes in with the next enter). */
			arm_wait(&ring, fd, slot, &recs[slot]);
		}
		io_uring_cq_advance(&ring, seen);
		if (rung) {
			sqe = io_uring_get_sqe(&ring);
			mkioq_prep_doorbell(&ring, sqe, fd);
			io_uring_sqe_set_data64(sqe, UD_DOORBELL);
		}
	}
	printf("completions_uring: own ring (CQE32): %u completions as CQEs, %u io_uring_enter() waits, %u bad\n",
	       done, enters, bad);
	/* No WAIT is parked any more; closing the queue would cancel them. */
	mkioq_queue_free(qu.q);
	io_uring_queue_exit(&ring);
	return bad ? 1 : 0;
}

/* Part 2: the ring libmkioq-uring owns. */
static int library_ring(void)
{
	struct mkioq_request reqs[SLOTS];
	struct mkioq_cqe cqes[SLOTS];
	uint32_t slots[SLOTS], next = 0, done = 0, bad = 0, s;
	struct queue qu;
	const char *call;
	int ret, i, n;

	ret = queue_open(&qu, &call);
	if (ret)
		return failed(call, ret);
	ret = mkioq_uring_init(qu.q, 0);	/* 0: one WAIT per slot */
	if (ret)
		return failed("mkioq_uring_init", ret);

	/* Batches of SLOTS requests, each published and rung with one enter. */
	while (done < REQUESTS) {
		for (s = 0; s < SLOTS; s++) {
			slots[s] = s;
			reqs[s] = request(&qu, s, next++);
		}
		ret = mkioq_submit_and_ring(qu.q, slots, reqs, SLOTS);
		if (ret != SLOTS)
			return failed("mkioq_submit_and_ring", ret < 0 ? ret : -EIO);
		for (s = 0; s < SLOTS; s += n) {
			n = mkioq_wait_completions(qu.q, cqes, SLOTS, 10000);
			if (n < 0)
				return failed("mkioq_wait_completions", n);
			for (i = 0; i < n; i++) {
				if (check(cqes[i].slot, cqes[i].tag, cqes[i].result))
					bad++;
				ret = mkioq_recycle(qu.q, cqes[i].slot);
				if (ret)
					return failed("mkioq_recycle", ret);
			}
		}
		done += SLOTS;
	}
	printf("completions_uring: library-owned ring: %u completions in batches of %u, %u bad\n",
	       done, SLOTS, bad);
	mkioq_queue_free(qu.q);		/* frees the library's ring too */
	return bad ? 1 : 0;
}

int main(void)
{
	int drm, ret;
	size_t k;

	drm = vgem_open();
	if (drm < 0) {
		fprintf(stderr, "completions_uring: no vgem DRM node in /dev/dri (modprobe vgem)\n");
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
	printf("completions_uring: DOORBELL-mode queues, %u slots, %u READs of %u B per part\n",
	       SLOTS, REQUESTS, REQ_BYTES);

	ret = own_ring();
	if (!ret)
		ret = library_ring();

	munmap(src.map, src.size);
	munmap(dst.map, dst.size);
	close(src.fd);
	close(dst.fd);
	close(drm);
	printf("completions_uring: %s\n", ret ? "FAILED" : "done");
	return ret ? 1 : 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * mkioq-demo: the main job, end to end.
 *
 * A producer thread plays the GPU megakernel: it never makes a system
 * call, it only writes requests into EMPTY slots of the mapped ring (DMA
 * reads from a source dma-buf into a per-slot region of a destination
 * dma-buf). The module's poll thread services them. The main thread plays
 * the host application: it receives completions through io_uring (one
 * uring_cmd WAIT parked per slot, each completion its own CQE), checks
 * every byte that arrived against the source (whose pattern is checked
 * at the end), and hands the slot back. Then the same with the other
 * notification paths (multishot poll plus read(), blocking read()) and
 * with the producer ringing the doorbell.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmabuf_alloc.h"
#include "mkioq_util.h"
#include "mkioq_uring.h"

#define SRC_BYTES	(32u << 20)

enum notify {
	NOTIFY_URING_WAIT,	/* a uring_cmd WAIT parked per slot */
	NOTIFY_POLL_READ,	/* multishot IORING_OP_POLL_ADD, then read() */
	NOTIFY_READ,		/* poll() and read() */
};

static const char *const notify_names[] = {
	[NOTIFY_URING_WAIT] = "uring_cmd wait",
	[NOTIFY_POLL_READ] = "multishot poll",
	[NOTIFY_READ] = "read",
};

struct demo {
	struct mkioq_queue *q;
	struct io_uring ring;
	struct mkioq_cqe recs[MKIOQ_MAX_SLOTS];
	enum notify notify;
	uint32_t slots, requests, req_bytes, region_bytes;
	uint32_t src, dst[MKIOQ_MAX_SLOTS];
	struct test_buf srcbuf, dstbuf;
	bool doorbell;
	atomic_bool stop;
};

/* The request with tag @tag reads @req_bytes at this source offset. */
static uint64_t tag_offset(const struct demo *d, uint32_t tag)
{
	return (uint64_t)tag * 4099 % (SRC_BYTES - d->req_bytes);
}

static void *megakernel(void *arg)
{
	struct demo *d = arg;
	uint32_t tag = 0, slot = 0;

	while (tag < d->requests && !atomic_load(&d->stop)) {
		struct mkioq_request req = {
			.op = MKIOQ_OP_READ,
			.src_handle = d->src,
			.dst_handle = d->dst[slot],
			.byte_count = d->req_bytes,
			.offset = tag_offset(d, tag),
			.tag = tag,
		};

		if (mkioq_submit(d->q, slot, &req) == 0) {
			tag++;
			if (d->doorbell)
				mkioq_doorbell(d->q);
		}
		slot = (slot + 1) % d->slots;
	}
	return NULL;
}

static void arm_poll_again(struct demo *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	io_uring_prep_poll_multishot(sqe, mkioq_queue_fd(d->q), POLLIN);
	io_uring_sqe_set_data64(sqe, UINT64_MAX);
}

static int arm(struct demo *d)
{
	struct io_uring_sqe *sqe;
	uint32_t s;
	int ret;

	ret = io_uring_queue_init(2 * MKIOQ_MAX_SLOTS, &d->ring, 0);
	if (ret)
		return ret;
	if (d->notify == NOTIFY_URING_WAIT) {
		for (s = 0; s < d->slots; s++) {
			sqe = io_uring_get_sqe(&d->ring);
			mkioq_prep_wait(&d->ring, sqe, mkioq_queue_fd(d->q), s,
					&d->recs[s]);
			io_uring_sqe_set_data64(sqe, s);
		}
	} else if (d->notify == NOTIFY_POLL_READ) {
		arm_poll_again(d);
	}
	ret = io_uring_submit(&d->ring);
	return ret < 0 ? ret : 0;
}

static void rearm(struct demo *d, uint32_t slot);

/* The next completions, by the chosen notification path. */
static int next_completions(struct demo *d, struct mkioq_cqe *out,
			    unsigned int max)
{
	struct __kernel_timespec ts = { .tv_sec = 10 };
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0, n = 0;
	int ret;

	if (d->notify == NOTIFY_READ)
		return mkioq_read_cqes(d->q, out, max, 10000);

	ret = io_uring_submit_and_wait_timeout(&d->ring, &cqe, 1, &ts, NULL);
	if (ret < 0)
		return ret == -ETIME ? -ETIMEDOUT : ret;
	if (d->notify == NOTIFY_POLL_READ) {
		io_uring_cq_advance(&d->ring, io_uring_cq_ready(&d->ring));
		/* Re-arm if the kernel ended the multishot poll. */
		if (!(cqe->flags & IORING_CQE_F_MORE))
			arm_poll_again(d);
		ret = mkioq_read_cqes(d->q, out, max, 0);
		return ret == -ETIMEDOUT ? 0 : ret;
	}
	io_uring_for_each_cqe(&d->ring, head, cqe) {
		uint32_t slot = (uint32_t)io_uring_cqe_get_data64(cqe);

		if (n == max)
			break;
		seen++;
		/* Parked too long (MKIOQ_WAIT_TIMEOUT_MS): park it again. */
		if (cqe->res == -ETIME) {
			rearm(d, slot);
			continue;
		}
		out[n++] = d->recs[slot];
	}
	io_uring_cq_advance(&d->ring, seen);
	return (int)n;
}

/* The slot is handed back: park its WAIT again (goes in with the next wait). */
static void rearm(struct demo *d, uint32_t slot)
{
	struct io_uring_sqe *sqe;

	if (d->notify != NOTIFY_URING_WAIT)
		return;
	sqe = io_uring_get_sqe(&d->ring);
	mkioq_prep_wait(&d->ring, sqe, mkioq_queue_fd(d->q), slot,
			&d->recs[slot]);
	io_uring_sqe_set_data64(sqe, slot);
}

static int run(struct demo *d, const char *name)
{
	uint64_t t0, t1, bytes = 0, done = 0, bad = 0, errors = 0;
	struct mkioq_cqe cqes[64];
	pthread_t th;
	int n, i;

	n = arm(d);
	if (n)
		return n;
	t0 = now_ns();
	if (pthread_create(&th, NULL, megakernel, d))
		return -errno;
	while (done < d->requests) {
		n = next_completions(d, cqes, 64);
		if (n < 0) {
			fprintf(stderr, "mkioq-demo: waiting for completions: %s\n",
				mkioq_strerror(n));
			break;
		}
		for (i = 0; i < n; i++) {
			const struct mkioq_cqe *c = &cqes[i];
			uint8_t *got;

			if (c->slot == MKIOQ_ANY_SLOT)
				continue;
			done++;
			if (c->status != MKIOQ_RESULT_OK) {
				errors++;
			} else {
				/*
				 * Against the source mapped here (whose
				 * pattern main() checks): a vector compare,
				 * so the figures are the service's rather
				 * than a byte loop's.
				 */
				got = d->dstbuf.map +
				      (size_t)c->slot * d->region_bytes;
				if (memcmp(got, d->srcbuf.map +
					   tag_offset(d, c->tag),
					   d->req_bytes))
					bad++;
				bytes += (uint64_t)c->result;
			}
			mkioq_recycle(d->q, c->slot);
			rearm(d, c->slot);
		}
	}
	atomic_store(&d->stop, true);
	pthread_join(th, NULL);
	t1 = now_ns();
	/* Closing the queue completes the WAITs still parked. */

	printf("mkioq-demo: %-8s %-14s %5lu x %u B, %6.1f MiB in %6.3f s: "
	       "%7.1f MiB/s, %7.0f completions/s, %lu errors, %lu bad\n",
	       name, notify_names[d->notify], (unsigned long)done,
	       d->req_bytes,
	       bytes / 1048576.0, (t1 - t0) / 1e9,
	       bytes / 1048576.0 / ((t1 - t0) / 1e9),
	       done / ((t1 - t0) / 1e9), (unsigned long)errors,
	       (unsigned long)bad);
	return (done == d->requests && !bad && !errors) ? 0 : -EIO;
}

static int setup(struct demo *d, int drm, unsigned int flags)
{
	uint32_t s;
	int ret;

	ret = mkioq_queue_open(MKIOQ_DEV, d->slots, flags, &d->q);
	if (ret)
		return ret;
	ret = mkioq_register(d->q, d->srcbuf.fd, 0, SRC_BYTES,
			     MKIOQ_ACCESS_READ, &d->src);
	for (s = 0; !ret && s < d->slots; s++)
		ret = mkioq_register(d->q, d->dstbuf.fd,
				     (uint64_t)s * d->region_bytes,
				     d->region_bytes, MKIOQ_ACCESS_WRITE,
				     &d->dst[s]);
	return ret;
}

static void usage(void)
{
	printf("usage: mkioq-demo [-s slots] [-n requests] [-b bytes]\n"
	       "  -s  ring slots, 1..64 (default 64)\n"
	       "  -n  requests per run (default 2048)\n"
	       "  -b  bytes per request (default 65536)\n");
}

int main(int argc, char **argv)
{
	struct demo d = { .slots = 64, .requests = 2048, .req_bytes = 65536 };
	int drm, opt, ret, mode;

	while ((opt = getopt(argc, argv, "s:n:b:h")) != -1) {
		switch (opt) {
		case 's':
			d.slots = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'n':
			d.requests = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'b':
			d.req_bytes = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!d.slots || d.slots > MKIOQ_MAX_SLOTS || !d.req_bytes ||
	    d.req_bytes > (1u << 20)) {
		usage();
		return 2;
	}
	d.region_bytes = (d.req_bytes + 4095) & ~4095u;

	drm = vgem_open();
	if (drm < 0) {
		fprintf(stderr, "mkioq-demo: no vgem device: %s\n",
			strerror(-drm));
		return 1;
	}
	ret = test_buf_create(drm, SRC_BYTES, true, &d.srcbuf);
	if (!ret)
		ret = test_buf_create(drm, (size_t)d.slots * d.region_bytes,
				      true, &d.dstbuf);
	if (ret) {
		fprintf(stderr, "mkioq-demo: vgem buffers: %s\n",
			strerror(-ret));
		return 1;
	}
	pattern_fill(d.srcbuf.map, SRC_BYTES, 1, 0);
	printf("mkioq-demo: %u slots, source %u MiB vgem dma-buf, "
	       "destination %u x %u B regions\n", d.slots, SRC_BYTES >> 20,
	       d.slots, d.region_bytes);

	for (mode = 0; !ret && mode < 2; mode++) {
		for (d.notify = 0; !ret && d.notify <= NOTIFY_READ; d.notify++) {
			d.doorbell = mode == 1;
			atomic_store(&d.stop, false);
			ret = setup(&d, drm, d.doorbell ? 0 : MKIOQ_OPEN_POLL);
			if (!ret)
				ret = run(&d, d.doorbell ? "doorbell" : "poll");
			/* Close first: that completes the parked WAITs. */
			mkioq_queue_free(d.q);
			io_uring_queue_exit(&d.ring);
		}
	}
	/* The source the copies were compared with still holds its pattern. */
	if (!ret && pattern_check(d.srcbuf.map, SRC_BYTES, 1, 0) != SRC_BYTES)
		ret = -EIO;
	if (ret)
		fprintf(stderr, "mkioq-demo: FAILED: %s\n", mkioq_strerror(ret));
	else
		printf("mkioq-demo: all data verified\n");
	test_buf_destroy(&d.srcbuf);
	test_buf_destroy(&d.dstbuf);
	return ret ? 1 : 0;
}

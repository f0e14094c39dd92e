// SPDX-License-Identifier: GPL-2.0
/*
 * mkioq-bench: mkioq against the memory limit and against what users would
 * build instead, measured side by side in one run.
 *
 *   bandwidth   DMA reads of 4 KiB .. 64 MiB between two vgem dma-bufs,
 *               beside memcpy() between the same two buffers mapped here
 *               and beside the "userspace pump": libmkioq's userspace
 *               engine (<mkioq_engine.h>, one worker thread by default)
 *               servicing a host-owned ring of the same format, with the
 *               same two dma-bufs registered with it.
 *   small       completions/s and latency (submit to completion seen,
 *               median and p99) of 64 B and 4 KiB requests at depth 1, 8
 *               and 64, in each service mode and notification path, beside
 *               the io_uring NOP round trip and the userspace pump.
 *   scaling     two queues driven from two threads against one.
 *
 * Every figure is printed in a table and as a "csv," line; ratios are to
 * peers measured in the same run. Under emulation only ratios mean much.
 * Without /dev/mkioq0 or vgem (a host that cannot load the module), only
 * memcpy() and the userspace engine are measured, over host memory.
 */
#include <errno.h>
#include <getopt.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mkioq_engine.h"
#include "dmabuf_alloc.h"
#include "mkioq_util.h"
#include "mkioq_uring.h"

#ifndef fallthrough
#define fallthrough __attribute__((__fallthrough__))
#endif

#define SRC_BYTES	(64u << 20)
#define REGION_BYTES	(64u << 10)	/* per-slot destination region */
#define MAX_SAMPLES	(1u << 20)

enum notify {
	NOTIFY_SPIN,	/* watch STATUS words, as a GPU producer does */
	NOTIFY_URING,	/* one uring_cmd WAIT per slot */
	NOTIFY_MPOLL,	/* multishot poll, then read() */
	NOTIFY_READ,	/* poll() and read() */
	NOTIFY_COUNT,
};

static const char *const notify_names[] = {
	"spin", "uring_cmd", "mshot_poll", "read",
};

struct env {
	const char *filter;	/* run only small-request cases naming it */
	int drm;
	struct test_buf src, dst;
	double seconds;		/* per measured point */
	bool smoke;
	bool have_dev;		/* /dev/mkioq0 and vgem: the module's rows */
	unsigned int engine_workers;
	uint64_t *samples;
};

struct result {
	double ops, bytes_per_s, p50_us, p99_us;
};

static struct env env;

/* Where the run is, for a log that a person watches: see progress(). */
static struct {
	unsigned int section, sections;
	uint64_t start_ns, last_ns;
} run;

/* Progress every 10 s at most, whole lines: a CI log shows each one. */
#define PROGRESS_EVERY_NS	(10 * 1000000000ULL)

static void progress_line(const char *what)
{
	uint64_t now = now_ns();

	run.last_ns = now;
	fprintf(stderr, "mkioq-bench: [section %u/%u, %.0f s] %s\n",
		run.section, run.sections, (now - run.start_ns) / 1e9, what);
}

static void progress(const char *what)
{
	if (now_ns() - run.last_ns >= PROGRESS_EVERY_NS)
		progress_line(what);
}

static void section_begin(const char *name)
{
	run.section++;
	progress_line(name);
}

static void emit(const char *section, const char *name, const char *param,
		 double value, const char *unit, double ratio,
		 const char *peer)
{
	printf("  %-10s %-32s %-14s %12.2f %-6s", section, name, param, value,
	       unit);
	if (ratio > 0)
		printf("  %6.3fx %s", ratio, peer);
	printf("\n");
	printf("csv,%s,%s,%s,%.4f,%s,%.4f,%s\n", section, name, param, value,
	       unit, ratio, ratio > 0 ? peer : "");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void latency(uint32_t n, struct result *r)
{
	if (!n)
		return;
	qsort(env.samples, n, sizeof(env.samples[0]), cmp_u64);
	r->p50_us = env.samples[n / 2] / 1e3;
	r->p99_us = env.samples[(uint64_t)n * 99 / 100] / 1e3;
}

/* ------------------------------------------------------------------ */
/* The client: keep @depth requests in flight, see their completions.  */
/* ------------------------------------------------------------------ */

struct client {
	struct mkioq_queue *q;
	struct mkioq_engine *engine;	/* the userspace pump, or NULL */
	uint32_t depth, bytes, src, dst[MKIOQ_MAX_SLOTS];
	enum notify notify;
	bool doorbell;		/* ring after each batch of submissions */
	struct io_uring ring;
	struct mkioq_cqe recs[MKIOQ_MAX_SLOTS];
	uint64_t t0[MKIOQ_MAX_SLOTS];
	uint32_t nsamples;
	uint64_t *samples;	/* NULL: no latency */
};

static void client_arm(struct client *c, uint32_t slot)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

	mkioq_prep_wait(&c->ring, sqe, mkioq_queue_fd(c->q), slot,
			&c->recs[slot]);
	io_uring_sqe_set_data64(sqe, slot);
}

static int client_init(struct client *c)
{
	struct io_uring_sqe *sqe;
	uint32_t s;
	int ret;

	if (c->notify != NOTIFY_URING && c->notify != NOTIFY_MPOLL)
		return 0;
	ret = io_uring_queue_init(2 * MKIOQ_MAX_SLOTS, &c->ring, 0);
	if (ret)
		return ret;
	if (c->notify == NOTIFY_URING) {
		for (s = 0; s < c->depth; s++)
			client_arm(c, s);
	} else {
		sqe = io_uring_get_sqe(&c->ring);
		io_uring_prep_poll_multishot(sqe, mkioq_queue_fd(c->q), POLLIN);
		io_uring_sqe_set_data64(sqe, UINT64_MAX);
	}
	ret = io_uring_submit(&c->ring);
	return ret < 0 ? ret : 0;
}

static void client_exit(struct client *c)
{
	if (c->notify == NOTIFY_URING || c->notify == NOTIFY_MPOLL)
		io_uring_queue_exit(&c->ring);
}

static void client_reap(struct client *c, uint32_t slot, uint64_t *done)
{
	if (c->samples && c->nsamples < MAX_SAMPLES)
		c->samples[c->nsamples++] = now_ns() - c->t0[slot];
	mkioq_recycle(c->q, slot);
	(*done)++;
}

/* Wait for at least one completion; reap all that are there. */
static int client_wait(struct client *c, uint64_t *done)
{
	struct mkioq_cqe cqes[MKIOQ_MAX_SLOTS];
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0;
	uint64_t before = *done;
	uint32_t s;
	int n, i;

	switch (c->notify) {
	case NOTIFY_SPIN:
		while (*done == before)
			for (s = 0; s < c->depth; s++) {
				int st = mkioq_slot_status(c->q, s);

				if (st == MKIOQ_RESULT_OK ||
				    st == MKIOQ_RESULT_ERROR)
					client_reap(c, s, done);
			}
		return 0;
	case NOTIFY_URING:
		n = io_uring_submit_and_wait(&c->ring, 1);
		if (n < 0)
			return n;
		io_uring_for_each_cqe(&c->ring, head, cqe) {
			uint64_t ud = io_uring_cqe_get_data64(cqe);

			seen++;
			if (ud >= MKIOQ_MAX_SLOTS)
				continue;
			/* Parked too long (MKIOQ_WAIT_TIMEOUT_MS): re-arm. */
			if (cqe->res != -ETIME)
				client_reap(c, (uint32_t)ud, done);
			client_arm(c, (uint32_t)ud);
		}
		io_uring_cq_advance(&c->ring, seen);
		return 0;
	case NOTIFY_MPOLL:
		n = io_uring_submit_and_wait(&c->ring, 1);
		if (n < 0)
			return n;
		io_uring_cq_advance(&c->ring, io_uring_cq_ready(&c->ring));
		/* The records the poll announced: read them. */
		fallthrough;
	default:
		n = mkioq_read_cqes(c->q, cqes, MKIOQ_MAX_SLOTS,
				    c->notify == NOTIFY_READ ? 10000 : 0);
		if (n == -ETIMEDOUT && c->notify == NOTIFY_MPOLL)
			return 0;
		if (n < 0)
			return n;
		for (i = 0; i < n; i++)
			if (cqes[i].slot < MKIOQ_MAX_SLOTS)
				client_reap(c, cqes[i].slot, done);
		return 0;
	}
}

static void client_ring(struct client *c)
{
	struct io_uring_sqe *sqe;

	if (c->engine) {
		mkioq_engine_doorbell(c->engine);
		return;
	}
	if (c->notify != NOTIFY_URING) {
		mkioq_doorbell(c->q);
		return;
	}
	/* Goes in with the re-armed WAITs: one io_uring_enter() for both. */
	sqe = io_uring_get_sqe(&c->ring);
	mkioq_prep_doorbell(&c->ring, sqe, mkioq_queue_fd(c->q));
	io_uring_sqe_set_data64(sqe, UINT64_MAX);
}

/* Run for env.seconds; @r gets completions and bytes per second. */
static int client_run(struct client *c, struct result *r)
{
	uint64_t done = 0, sent = 0, t_start, t_end, t;
	uint32_t s;
	int ret;

	ret = client_init(c);
	if (ret)
		return ret;
	t_start = now_ns();
	t_end = t_start + (uint64_t)(env.seconds * 1e9);
	for (;;) {
		bool submitted = false;

		t = now_ns();
		for (s = 0; s < c->depth && t < t_end; s++) {
			struct mkioq_request req = {
				.op = MKIOQ_OP_READ, .src_handle = c->src,
				.dst_handle = c->dst[s],
				.byte_count = c->bytes,
				.offset = sent * 4096 % (SRC_BYTES - c->bytes),
				.tag = (uint32_t)sent,
			};

			if (mkioq_slot_status(c->q, s) != MKIOQ_STATE_EMPTY)
				continue;
			c->t0[s] = t;
			if (mkioq_submit(c->q, s, &req) == 0) {
				submitted = true;
				sent++;
			}
		}
		if (submitted && c->doorbell)
			client_ring(c);
		if (done == sent)
			break;
		ret = client_wait(c, &done);
		if (ret)
			break;
	}
	t = now_ns() - t_start;
	client_exit(c);
	r->ops = done / (t / 1e9);
	r->bytes_per_s = r->ops * c->bytes;
	return ret;
}

/* A device queue with the source and per-slot destination regions. */
static int open_queue(struct client *c, unsigned int flags, uint32_t dst_base)
{
	uint32_t s;
	int ret;

	ret = mkioq_queue_open(MKIOQ_DEV, MKIOQ_MAX_SLOTS, flags, &c->q);
	if (ret)
		return ret;
	ret = mkioq_register(c->q, env.src.fd, 0, SRC_BYTES,
			     MKIOQ_ACCESS_READ, &c->src);
	for (s = 0; !ret && s < MKIOQ_MAX_SLOTS; s++)
		ret = mkioq_register(c->q, env.dst.fd,
				     (uint64_t)(dst_base + s) * REGION_BYTES,
				     REGION_BYTES, MKIOQ_ACCESS_WRITE,
				     &c->dst[s]);
	return ret;
}

/* ------------------------------------------------------------------ */
/* The userspace pump: libmkioq's userspace engine on a host ring.     */
/* ------------------------------------------------------------------ */

struct pump {
	struct mkioq_queue *q;
	struct mkioq_engine *e;
};

/* Handles of the pump's engine, registered in this order. */
#define PUMP_SRC	1		/* the source */
#define PUMP_REGION(s)	(2 + (s))	/* the destination region of slot s */
#define PUMP_DST_ALL	(2 + MKIOQ_MAX_SLOTS)	/* the whole destination */

static int pump_register(struct pump *p, struct test_buf *b, uint64_t off,
			 uint64_t len, uint32_t access, uint32_t want)
{
	uint32_t h;
	int ret;

	if (b->fd >= 0)
		ret = mkioq_engine_register_dmabuf(p->e, b->fd, off, len,
						   access, &h);
	else
		ret = mkioq_engine_register_mem(p->e, b->map + off, len,
						access, &h);
	return ret ? ret : h == want ? 0 : -EPROTO;
}

static int pump_start(struct pump *p, struct client *c)
{
	struct mkioq_engine_params prm = {
		.size = sizeof(prm), .workers = env.engine_workers,
	};
	uint32_t s;
	int ret;

	memset(p, 0, sizeof(*p));
	ret = mkioq_queue_new(MKIOQ_MAX_SLOTS, &p->q);
	if (ret)
		return ret;
	ret = mkioq_engine_new(p->q, &prm, &p->e);
	if (!ret)
		ret = pump_register(p, &env.src, 0, SRC_BYTES,
				    MKIOQ_ACCESS_READ, PUMP_SRC);
	for (s = 0; !ret && s < MKIOQ_MAX_SLOTS; s++)
		ret = pump_register(p, &env.dst, (uint64_t)s * REGION_BYTES,
				    REGION_BYTES, MKIOQ_ACCESS_WRITE,
				    PUMP_REGION(s));
	if (!ret)
		ret = pump_register(p, &env.dst, 0, SRC_BYTES,
				    MKIOQ_ACCESS_WRITE, PUMP_DST_ALL);
	if (!ret)
		ret = mkioq_engine_start(p->e);
	if (ret) {
		mkioq_engine_free(p->e);
		mkioq_queue_free(p->q);
		return ret;
	}
	c->q = p->q;
	c->engine = p->e;
	c->src = PUMP_SRC;
	for (s = 0; s < MKIOQ_MAX_SLOTS; s++)
		c->dst[s] = PUMP_REGION(s);
	c->notify = NOTIFY_SPIN;
	/* Costs no system call while the engine's workers poll. */
	c->doorbell = true;
	return 0;
}

static void pump_stop(struct pump *p)
{
	mkioq_engine_free(p->e);
	mkioq_queue_free(p->q);
}

/* ------------------------------------------------------------------ */
/* Sections                                                            */
/* ------------------------------------------------------------------ */

static double memcpy_bw(uint32_t bytes)
{
	uint64_t t0 = now_ns(), t, moved = 0;

	do {
		memcpy(env.dst.map, env.src.map, bytes);
		moved += bytes;
		t = now_ns() - t0;
	} while (t < env.seconds * 1e9);
	return moved / (t / 1e9);
}

/* One request at a time, so a large one is measured alone. */
static int big_client(struct client *c, uint32_t bytes, struct result *r)
{
	uint64_t t0 = now_ns(), t, moved = 0;
	struct mkioq_request req = {
		.op = MKIOQ_OP_READ, .src_handle = c->src,
		.dst_handle = c->dst[0], .byte_count = bytes,
	};
	int st;

	do {
		if (mkioq_submit(c->q, 0, &req))
			return -EIO;
		if (c->doorbell)
			client_ring(c);
		do {
			st = mkioq_slot_status(c->q, 0);
		} while (st != MKIOQ_RESULT_OK && st != MKIOQ_RESULT_ERROR);
		if (st != MKIOQ_RESULT_OK)
			return -EIO;
		mkioq_recycle(c->q, 0);
		moved += bytes;
		t = now_ns() - t0;
	} while (t < env.seconds * 1e9);
	if (!c->engine)
		drain_cqes(c->q);
	r->bytes_per_s = moved / (t / 1e9);
	return 0;
}

static int section_bandwidth(void)
{
	static const uint32_t sizes[] = {
		4u << 10, 16u << 10, 64u << 10, 256u << 10, 1u << 20,
		4u << 20, 16u << 20, 64u << 20,
	};
	struct client c = { 0 }, pc = { 0 };
	struct result r = { 0 }, pr = { 0 };
	struct pump p;
	char param[32], line[80];
	unsigned int i;
	int ret;

	printf("\nbandwidth: one request at a time, MiB/s\n");
	/* The large destination: a region the size of the largest request. */
	ret = env.have_dev ? mkioq_queue_open(MKIOQ_DEV, MKIOQ_MAX_SLOTS, 0,
					      &c.q) : 0;
	if (!ret && env.have_dev)
		ret = mkioq_register(c.q, env.src.fd, 0, SRC_BYTES,
				     MKIOQ_ACCESS_READ, &c.src);
	if (!ret && env.have_dev)
		ret = mkioq_register(c.q, env.dst.fd, 0, SRC_BYTES,
				     MKIOQ_ACCESS_WRITE, &c.dst[0]);
	if (ret)
		return ret;
	c.doorbell = true;
	ret = pump_start(&p, &pc);
	if (ret)
		return ret;
	/* The pump's slot 0 writes from the start of the destination. */
	pc.dst[0] = PUMP_DST_ALL;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double mc;

		if (env.smoke && sizes[i] > (1u << 20))
			break;
		snprintf(line, sizeof(line), "bandwidth %u KiB", sizes[i] >> 10);
		progress(line);
		snprintf(param, sizeof(param), "%uKiB", sizes[i] >> 10);
		mc = memcpy_bw(sizes[i]);
		ret = env.have_dev ? big_client(&c, sizes[i], &r) : 0;
		if (!ret)
			ret = big_client(&pc, sizes[i], &pr);
		if (ret)
			break;
		emit("bandwidth", "memcpy", param, mc / 1048576, "MiB/s", 0,
		     "");
		if (env.have_dev)
			emit("bandwidth", "mkioq doorbell", param,
			     r.bytes_per_s / 1048576, "MiB/s",
			     r.bytes_per_s / mc, "of memcpy");
		emit("bandwidth", "userspace pump", param,
		     pr.bytes_per_s / 1048576, "MiB/s", pr.bytes_per_s / mc,
		     "of memcpy");
	}
	pump_stop(&p);
	if (c.q)
		mkioq_queue_free(c.q);
	return ret;
}

static int nop_round_trip(uint32_t depth, struct result *r)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	uint64_t t0, t = 0, done = 0, n = 0;
	uint32_t i;
	int ret;

	ret = io_uring_queue_init(MKIOQ_MAX_SLOTS, &ring, 0);
	if (ret)
		return ret;
	t0 = now_ns();
	do {
		uint64_t ts = now_ns();

		for (i = 0; i < depth; i++)
			io_uring_prep_nop(io_uring_get_sqe(&ring));
		ret = io_uring_submit_and_wait(&ring, depth);
		if (ret < 0)
			break;
		for (i = 0; i < depth; i++) {
			if (io_uring_wait_cqe(&ring, &cqe))
				break;
			io_uring_cqe_seen(&ring, cqe);
		}
		if (n < MAX_SAMPLES)
			env.samples[n++] = now_ns() - ts;
		done += depth;
		t = now_ns() - t0;
	} while (t < env.seconds * 1e9);
	io_uring_queue_exit(&ring);
	r->ops = done / (t / 1e9);
	latency((uint32_t)n, r);
	return ret < 0 ? ret : 0;
}

static int section_small(void)
{
	static const uint32_t sizes[] = { 64, 4096 };
	static const uint32_t depths[] = { 1, 8, 64 };
	struct result nop[3], pump[2][3];
	unsigned int si, di, mode, nt;
	char name[64], param[32], line[96];
	int ret;

	printf("\nsmall requests: completions/s; latency submit -> seen, us\n");
	for (di = 0; di < 3; di++) {
		snprintf(line, sizeof(line), "io_uring NOP depth %u",
			 depths[di]);
		progress(line);
		ret = nop_round_trip(depths[di], &nop[di]);
		if (ret)
			return ret;
		snprintf(param, sizeof(param), "qd%u", depths[di]);
		emit("small", "io_uring NOP", param, nop[di].ops, "ops/s", 0,
		     "");
		if (depths[di] == 1)
			emit("small", "io_uring NOP p50", param,
			     nop[di].p50_us, "us", 0, "");
	}
	for (si = 0; si < 2; si++)
		for (di = 0; di < 3; di++) {
			struct client c = {
				.depth = depths[di], .bytes = sizes[si],
				.samples = env.samples,
			};
			struct pump p;

			snprintf(line, sizeof(line), "userspace pump %u B qd%u",
				 sizes[si], depths[di]);
			progress(line);
			ret = pump_start(&p, &c);
			if (!ret)
				ret = client_run(&c, &pump[si][di]);
			pump_stop(&p);
			if (ret)
				return ret;
			latency(c.nsamples, &pump[si][di]);
			snprintf(param, sizeof(param), "%uB qd%u", sizes[si],
				 depths[di]);
			emit("small", "userspace pump", param,
			     pump[si][di].ops, "ops/s", 0, "");
			emit("small", "userspace pump p50", param,
			     pump[si][di].p50_us, "us", 0, "");
			emit("small", "userspace pump p99", param,
			     pump[si][di].p99_us, "us", 0, "");
		}

	for (mode = 0; mode < 2; mode++)
		for (nt = 0; nt < NOTIFY_COUNT; nt++)
			for (si = 0; si < 2; si++)
				for (di = 0; di < 3; di++) {
					struct client c = {
						.depth = depths[di],
						.bytes = sizes[si],
						.notify = nt,
						.doorbell = mode == 0,
						.samples = env.samples,
					};
					struct result r = { 0 };

					if (!env.have_dev ||
					    (env.smoke && (si || di == 1)))
						continue;
					snprintf(line, sizeof(line),
						 "mkioq %s %s %u B qd%u",
						 mode ? "poll" : "doorbell",
						 notify_names[nt], sizes[si],
						 depths[di]);
					if (env.filter &&
					    !strstr(line, env.filter))
						continue;
					progress(line);
					ret = open_queue(&c, mode ?
						MKIOQ_OPEN_POLL : 0, 0);
					if (!ret)
						ret = client_run(&c, &r);
					mkioq_queue_free(c.q);
					if (ret)
						return ret;
					latency(c.nsamples, &r);
					snprintf(name, sizeof(name),
						 "mkioq %s %s",
						 mode ? "poll" : "doorbell",
						 notify_names[nt]);
					snprintf(param, sizeof(param),
						 "%uB qd%u", sizes[si],
						 depths[di]);
					emit("small", name, param, r.ops,
					     "ops/s", r.ops / pump[si][di].ops,
					     "of pump");
					strcat(name, " p50");
					emit("small", name, param, r.p50_us,
					     "us", r.p50_us / nop[0].p50_us,
					     "of NOP p50");
					name[strlen(name) - 4] = '\0';
					strcat(name, " p99");
					emit("small", name, param, r.p99_us,
					     "us", r.p99_us /
					     pump[si][di].p99_us,
					     "of pump p99");
				}
	return 0;
}

struct scale_arg {
	struct client c;
	struct result r;
	int ret;
};

static void *scale_main(void *arg)
{
	struct scale_arg *a = arg;

	a->ret = client_run(&a->c, &a->r);
	return NULL;
}

static int section_scaling(void)
{
	struct scale_arg a[2];
	pthread_t th[2];
	double one, two;
	int i, n, ret = 0;

	printf("\nscaling: 4 KiB requests, depth 64, doorbell, per queue thread\n");
	if (!env.have_dev) {
		printf("  (skipped: no /dev/mkioq0)\n");
		return 0;
	}
	for (n = 1; n <= 2; n++) {
		progress(n == 1 ? "scaling: one queue" : "scaling: two queues");
		for (i = 0; i < n; i++) {
			memset(&a[i], 0, sizeof(a[i]));
			a[i].c.depth = 64;
			a[i].c.bytes = 4096;
			a[i].c.doorbell = true;
			a[i].ret = open_queue(&a[i].c, 0, i * MKIOQ_MAX_SLOTS);
			if (a[i].ret)
				return a[i].ret;
		}
		for (i = 0; i < n; i++)
			pthread_create(&th[i], NULL, scale_main, &a[i]);
		two = 0;
		for (i = 0; i < n; i++) {
			pthread_join(th[i], NULL);
			two += a[i].r.ops;
			ret = ret ?: a[i].ret;
			mkioq_queue_free(a[i].c.q);
		}
		if (n == 1)
			one = two;
	}
	emit("scaling", "one queue", "4KiB qd64", one, "ops/s", 0, "");
	emit("scaling", "two queues", "4KiB qd64", two, "ops/s", two / one,
	     "of one queue");
	return ret;
}

static void usage(void)
{
	printf("usage: mkioq-bench [--smoke] [--seconds S] [--only SECTION]\n"
	       "  --smoke       a few seconds in all: small sizes, few points\n"
	       "  --seconds S   time per measured point (default 1)\n"
	       "  --engine-workers N  worker threads of the userspace pump's\n"
	       "                engine (default 1)\n"
	       "  --only NAME   bandwidth, small or scaling\n"
	       "  --filter TEXT small: only mkioq cases whose name contains TEXT,\n"
	       "                e.g. \"doorbell spin 64 B qd64\"\n"
	       "Prints a table and csv,section,name,param,value,unit,ratio,peer\n"
	       "lines; needs /dev/mkioq0 and a vgem DRM device for the module's\n"
	       "rows (without them: memcpy and the userspace engine only).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "smoke", no_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "only", required_argument, NULL, 'o' },
		{ "filter", required_argument, NULL, 'f' },
		{ "engine-workers", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *only = NULL;
	int opt, ret = 0;

	env.seconds = 1.0;
	env.engine_workers = 1;
	while ((opt = getopt_long(argc, argv, "st:o:f:w:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			env.smoke = true;
			env.seconds = 0.05;
			break;
		case 't':
			env.seconds = strtod(optarg, NULL);
			break;
		case 'o':
			only = optarg;
			break;
		case 'f':
			env.filter = optarg;
			break;
		case 'w':
			env.engine_workers = (unsigned int)strtoul(optarg,
								   NULL, 0);
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	env.samples = calloc(MAX_SAMPLES, sizeof(*env.samples));
	if (!env.samples) {
		fprintf(stderr, "mkioq-bench: no memory\n");
		return 1;
	}
	env.drm = vgem_open();
	env.have_dev = env.drm >= 0 && access(MKIOQ_DEV, R_OK | W_OK) == 0;
	if (env.drm >= 0) {
		ret = test_buf_create(env.drm, SRC_BYTES, true, &env.src);
		if (!ret)
			ret = test_buf_create(env.drm, SRC_BYTES, true,
					      &env.dst);
		if (ret) {
			fprintf(stderr, "mkioq-bench: vgem buffers: %s\n",
				strerror(-ret));
			return 1;
		}
	} else {
		/* Host memory for memcpy() and the userspace engine. */
		env.src = (struct test_buf){ .fd = -1, .memfd = -1 };
		env.dst = env.src;
		env.src.map = calloc(1, SRC_BYTES);
		env.dst.map = calloc(1, SRC_BYTES);
		if (!env.src.map || !env.dst.map) {
			fprintf(stderr, "mkioq-bench: no memory\n");
			return 1;
		}
	}
	if (!env.have_dev)
		fprintf(stderr, "mkioq-bench: no %s or vgem: memcpy and the "
			"userspace engine only\n", MKIOQ_DEV);
	pattern_fill(env.src.map, 1 << 20, 3, 0);
	printf("mkioq-bench: %s, %.2f s per point\n",
	       env.smoke ? "smoke" : "full", env.seconds);
	run.sections = only ? 1 : 3;
	run.start_ns = now_ns();
	if (!ret && (!only || !strcmp(only, "bandwidth"))) {
		section_begin("bandwidth");
		ret = section_bandwidth();
	}
	if (!ret && (!only || !strcmp(only, "small"))) {
		section_begin("small requests");
		ret = section_small();
	}
	if (!ret && (!only || !strcmp(only, "scaling"))) {
		section_begin("scaling");
		ret = section_scaling();
	}
	if (ret)
		fprintf(stderr, "mkioq-bench: FAILED: %s\n", mkioq_strerror(ret));
	else
		printf("mkioq-bench: done\n");
	if (env.drm >= 0) {
		test_buf_destroy(&env.src);
		test_buf_destroy(&env.dst);
	} else {
		free(env.src.map);
		free(env.dst.map);
	}
	return ret ? 1 : 0;
}

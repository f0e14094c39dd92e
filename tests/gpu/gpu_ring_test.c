// SPDX-License-Identifier: GPL-2.0
/*
 * A GPU drives an mkioq ring that libmkioq's userspace engine services:
 * the host that lends this project a GPU refuses kernel modules, so the
 * engine stands in for /dev/mkioq0 there. Each test runs with the ring in
 * cudaHostAlloc'ed memory and in a memfd mapped shared and registered
 * with cudaHostRegister (shmem pages, as /dev/mkioq0's ring is), where
 * the engine uses a second mapping of the memfd, as the module uses its
 * own view of the ring's page.
 *
 * Environment: MKIOQ_GPU_REQUESTS (default 1000000), MKIOQ_GPU_WORKERS
 * (engine threads, default 4).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cuda_runtime_api.h>

#include "kselftest_harness.h"
#include "libmkioq.h"
#include "mkioq_engine.h"
#include "gpu_kernels.h"

#define SLOTS		64
#define RING_BYTES	4096
#define SRC_BYTES	(64ull << 20)
#define WARPS		128
#define WARPS_PER_BLOCK	8
#define DST_STRIDE	(1ull << 20)
#define BIG_BYTES	(5ull << 30)	/* a source past 4 GiB */
#define BIG_AT		((4ull << 30) + 12345)
#define SEC		1000000000ull

static uint64_t env_num(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

/* Records the engine posts, counted per tag by a drain thread. */
struct drain {
	struct mkioq_engine *e;
	uint8_t *seen;			/* per tag: how many records */
	uint64_t tags;
	atomic_bool stop;
	uint64_t records, unknown, overflows, dropped;
};

static void *drain_thread(void *arg)
{
	struct drain *d = arg;
	struct mkioq_cqe cqes[256];

	for (;;) {
		int n = mkioq_engine_read_cqes(d->e, cqes, 256, 20), i;

		if (n == -ETIMEDOUT) {
			if (atomic_load(&d->stop))
				break;
			continue;
		}
		if (n < 0)
			break;
		for (i = 0; i < n; i++) {
			uint32_t warp = cqes[i].tag >> 20;
			uint64_t t = (uint64_t)warp * (d->tags / WARPS) +
				     (cqes[i].tag & 0xfffff);

			if (cqes[i].flags & MKIOQ_CQE_F_OVERFLOW) {
				d->overflows++;
				d->dropped += cqes[i].dropped;
			}
			if (cqes[i].flags & MKIOQ_CQE_F_NOTICE)
				continue;
			d->records++;
			if (warp >= WARPS || t >= d->tags)
				d->unknown++;
			else if (d->seen[t] < 255)
				d->seen[t]++;
		}
	}
	return NULL;
}

FIXTURE(gpu) {
	void *ring_mem;			/* what the GPU maps */
	void *engine_view;		/* memfd: the engine's own mapping */
	int memfd;
	struct mkioq_queue *gq, *eq;	/* GPU's and engine's queue */
	struct mkioq_engine *e;
	struct gk_ring *ring;
	uint8_t *src, *dst, *dst_dev;
	uint32_t hsrc, hdst0, hwo;
	unsigned int workers;
};

FIXTURE_VARIANT(gpu) {
	bool memfd;
};

FIXTURE_VARIANT_ADD(gpu, hostalloc) {
	.memfd = false,
};

FIXTURE_VARIANT_ADD(gpu, memfd) {
	.memfd = true,
};

FIXTURE_SETUP(gpu)
{
	struct mkioq_engine_params p = { .size = sizeof(p) };
	const char *hint = "";
	uint64_t i;
	uint32_t h, w;
	int ndev = 0;

	if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0)
		SKIP(return, "no CUDA device");
	self->memfd = -1;
	if (variant->memfd) {
		self->memfd = memfd_create("mkioq-ring", MFD_CLOEXEC);
		ASSERT_GE(self->memfd, 0);
		ASSERT_EQ(0, ftruncate(self->memfd, RING_BYTES));
		self->ring_mem = mmap(NULL, RING_BYTES, PROT_READ | PROT_WRITE,
				      MAP_SHARED, self->memfd, 0);
		self->engine_view = mmap(NULL, RING_BYTES,
					 PROT_READ | PROT_WRITE, MAP_SHARED,
					 self->memfd, 0);
		ASSERT_NE(MAP_FAILED, self->ring_mem);
		ASSERT_NE(MAP_FAILED, self->engine_view);
	} else {
		ASSERT_EQ(cudaSuccess, cudaHostAlloc(&self->ring_mem,
						     RING_BYTES,
						     cudaHostAllocMapped));
		memset(self->ring_mem, 0, RING_BYTES);
		self->engine_view = self->ring_mem;
	}
	ASSERT_EQ(0, mkioq_queue_wrap(self->ring_mem, RING_BYTES, SLOTS,
				      &self->gq));
	ASSERT_EQ(0, mkioq_queue_wrap(self->engine_view, RING_BYTES, SLOTS,
				      &self->eq));
	ASSERT_EQ(0, gk_ring_map(self->gq, &self->ring, &hint))
		TH_LOG("mapping the ring: %s", hint);
	TH_LOG("%s ring, host-native atomics %d", variant->memfd ?
	       "memfd + cudaHostRegister" : "cudaHostAlloc",
	       gk_host_native_atomics(self->ring));

	self->workers = env_num("MKIOQ_GPU_WORKERS", 4);
	p.workers = self->workers;
	ASSERT_EQ(0, mkioq_engine_new(self->eq, &p, &self->e));
	self->src = malloc(SRC_BYTES);
	ASSERT_NE(NULL, self->src);
	for (i = 0; i < SRC_BYTES; i++)
		self->src[i] = gk_pattern(1, i);
	ASSERT_EQ(0, mkioq_engine_register_mem(self->e, self->src, SRC_BYTES,
					       MKIOQ_ACCESS_READ,
					       &self->hsrc));
	ASSERT_EQ(cudaSuccess, cudaHostAlloc((void **)&self->dst,
					     WARPS * DST_STRIDE,
					     cudaHostAllocMapped));
	ASSERT_EQ(cudaSuccess, cudaHostGetDevicePointer(
				       (void **)&self->dst_dev, self->dst, 0));
	for (w = 0; w < WARPS; w++) {
		ASSERT_EQ(0, mkioq_engine_register_mem(self->e,
						       self->dst + w * DST_STRIDE,
						       DST_STRIDE,
						       MKIOQ_ACCESS_WRITE, &h));
		if (w == 0)
			self->hdst0 = h;
		ASSERT_EQ(self->hdst0 + w, h);
	}
	/* Write-only: a READ's source it cannot be (EACCES). */
	self->hwo = self->hdst0;
	ASSERT_EQ(0, mkioq_engine_start(self->e));
}

FIXTURE_TEARDOWN(gpu)
{
	if (self->e)
		mkioq_engine_free(self->e);
	gk_ring_unmap(self->ring);
	mkioq_queue_free(self->gq);
	mkioq_queue_free(self->eq);
	free(self->src);
	if (self->dst)
		cudaFreeHost(self->dst);
	if (self->memfd >= 0) {
		munmap(self->ring_mem, RING_BYTES);
		munmap(self->engine_view, RING_BYTES);
		close(self->memfd);
	} else if (self->ring_mem) {
		cudaFreeHost(self->ring_mem);
	}
}

/*
 * 128 warps share the 64 slots (taken from a device-memory pool) and
 * issue at least 10^6 READs of log-uniform random sizes from 1 B to
 * 1 MiB at random offsets; the GPU checks every byte it gets, the tag and
 * the byte count; the host counts the engine's records per tag.
 */
TEST_F_TIMEOUT(gpu, many_warps_random_reads, 600)
{
	uint64_t want = env_num("MKIOQ_GPU_REQUESTS", 1000000);
	uint32_t per_warp = (uint32_t)((want + WARPS - 1) / WARPS);
	struct drain d = { .e = self->e, .tags = (uint64_t)per_warp * WARPS };
	struct mkioq_engine_stats es = { .completed = 0 };
	struct gk_stress_stats st;
	uint64_t t0, t1, i, once = 0, dup = 0;
	pthread_t t;

	d.seen = calloc(d.tags, 1);
	ASSERT_NE(NULL, d.seen);
	ASSERT_EQ(0, pthread_create(&t, NULL, drain_thread, &d));
	t0 = mono_ns();
	ASSERT_EQ(0, gk_stress(self->ring, WARPS, WARPS_PER_BLOCK, per_warp,
			       self->hsrc, SRC_BYTES, 1, self->hdst0,
			       self->dst_dev, DST_STRIDE, 1u << 20, 10 * SEC,
			       &st));
	t1 = mono_ns();
	/* Every record is posted before its STATUS: one drain pass more. */
	usleep(100000);
	atomic_store(&d.stop, true);
	ASSERT_EQ(0, pthread_join(t, NULL));
	for (i = 0; i < d.tags; i++) {
		once += d.seen[i] == 1;
		dup += d.seen[i] > 1;
	}
	TH_LOG("%" PRIu64 " requests, %.2f GiB verified in %.2f s: %.2f M req/s, %.2f GiB/s, %u engine workers",
	       st.ok, st.bytes / 1073741824.0, (t1 - t0) / 1e9,
	       st.ok / ((t1 - t0) / 1e3), st.bytes / 1073741824.0 /
	       ((t1 - t0) / 1e9), self->workers);
	EXPECT_EQ(d.tags, st.ok);
	EXPECT_EQ(0, st.errors);
	EXPECT_EQ(0, st.bad_bytes);
	EXPECT_EQ(0, st.bad_tags);
	EXPECT_EQ(0, st.bad_counts);
	EXPECT_EQ(0, st.timeouts);
	/*
	 * 0 lost, 0 duplicated, as the engine's records count them: each
	 * tag once, but for the records the engine said it dropped when
	 * this drain thread fell 1024 behind (the slots' STATUS held those
	 * results, which the GPU checked above), and as many as its stats
	 * count.
	 */
	ASSERT_EQ(0, mkioq_engine_stats(self->e, &es));
	if (d.overflows)
		TH_LOG("%" PRIu64 " records dropped (record queue full), %" PRIu64 " overflow marks",
		       d.dropped, d.overflows);
	EXPECT_EQ(es.cq_overflow, d.dropped);
	EXPECT_EQ(0, d.unknown);
	EXPECT_EQ(0, dup);
	EXPECT_EQ(d.tags, once + d.dropped);
	free(d.seen);
}

/* Bad requests from the GPU come back ERROR with the module's errnos. */
TEST_F(gpu, bad_requests)
{
	struct {
		const char *what;
		struct gk_req req;
		int32_t res;
	} cases[] = {
		{ "unknown handle", { MKIOQ_OP_READ, 999, self->hdst0, 64, 1, 0 },
		  -ENOENT },
		{ "no access", { MKIOQ_OP_READ, self->hwo, self->hdst0, 64, 2, 0 },
		  -EACCES },
		{ "range past the end", { MKIOQ_OP_READ, self->hsrc,
		  self->hdst0, 100, 3, SRC_BYTES - 10 }, -ERANGE },
		{ "offset past 4 GiB of a 64 MiB handle", { MKIOQ_OP_READ,
		  self->hsrc, self->hdst0, 64, 4, 1ull << 32 }, -ERANGE },
		{ "unknown op", { 0x77, self->hsrc, self->hdst0, 64, 5, 0 },
		  -EOPNOTSUPP },
		{ "more bytes than the destination", { MKIOQ_OP_READ,
		  self->hsrc, self->hdst0, DST_STRIDE + 1, 6, 0 }, -ERANGE },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int32_t res = 0;
		uint32_t tag = 0;

		ASSERT_EQ(0, gk_one(self->ring, &cases[i].req, 10 * SEC, &res,
				    &tag));
		EXPECT_EQ(cases[i].res, res) TH_LOG("%s", cases[i].what);
		EXPECT_EQ(cases[i].req.tag, tag);
	}
}

/*
 * The GPU reads STATUS, BYTE_COUNT and TAG in one 16-byte load
 * (mkioq_cuda.cuh's load_tail_acquire()). 64 warps alternate a good READ
 * and one past the end of its handle on every slot of the ring, half a
 * million requests: every ERROR must carry ERANGE (a load that saw ERROR
 * before the engine's TAG would return the lane's own tag), every OK its
 * tag and byte count.
 */
TEST_F_TIMEOUT(gpu, results_are_never_stale, 300)
{
	const struct gk_req good = { MKIOQ_OP_READ, self->hsrc, self->hdst0,
				     64, 0, 0 };
	const struct gk_req bad = { MKIOQ_OP_READ, self->hsrc, self->hdst0,
				    100, 0, SRC_BYTES - 10 };
	struct gk_alternate_stats st = { 0 };
	const uint32_t warps = 64, per_warp = 8192;
	uint64_t t0 = mono_ns(), ns;

	ASSERT_EQ(0, gk_alternate(self->ring, warps, 4, per_warp, &good, &bad,
				  ERANGE, 10 * SEC, &st));
	ns = mono_ns() - t0;
	TH_LOG("%" PRIu64 " OK, %" PRIu64 " ERROR in %.2f s; stale or wrong: "
	       "%" PRIu64 " OK, %" PRIu64 " errno, %" PRIu64 " kind; "
	       "%" PRIu64 " time-outs", st.ok, st.errors, ns / 1e9, st.bad_ok,
	       st.bad_errno, st.wrong_kind, st.timeouts);
	EXPECT_EQ(0, st.timeouts);
	EXPECT_EQ((uint64_t)warps * per_warp / 2, st.ok);
	EXPECT_EQ((uint64_t)warps * per_warp / 2, st.errors);
	EXPECT_EQ(0, st.bad_ok);
	EXPECT_EQ(0, st.bad_errno);
	EXPECT_EQ(0, st.wrong_kind);
}

/* A READ at an offset past 4 GiB: OFFSET_HI is honoured, bytes arrive. */
TEST_F(gpu, offset_past_4gib)
{
	struct gk_req req = { MKIOQ_OP_READ, 0, self->hdst0, 4096, 9,
			      BIG_AT };
	uint8_t *big = mmap(NULL, BIG_BYTES, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int32_t res = 0;
	uint32_t tag = 0, i;

	ASSERT_NE(MAP_FAILED, big);
	for (i = 0; i < 4096; i++)
		big[BIG_AT + i] = gk_pattern(7, i);
	ASSERT_EQ(0, mkioq_engine_register_mem(self->e, big, BIG_BYTES,
					       MKIOQ_ACCESS_READ,
					       &req.src));
	ASSERT_EQ(0, gk_one(self->ring, &req, 10 * SEC, &res, &tag));
	EXPECT_EQ(4096, res);
	for (i = 0; i < 4096; i++)
		if (self->dst[i] != gk_pattern(7, i))
			break;
	EXPECT_EQ(4096, i);
	/* Past the end of the 5 GiB handle: ERANGE, no byte moved. */
	req.offset = BIG_BYTES - 100;
	req.tag = 10;
	ASSERT_EQ(0, gk_one(self->ring, &req, 10 * SEC, &res, &tag));
	EXPECT_EQ(-ERANGE, res);
	munmap(big, BIG_BYTES);
}

/*
 * The GPU submits large READs, then a FENCE: when the FENCE completes,
 * every earlier request has completed, though several engine workers
 * service the ring at once.
 */
TEST_F(gpu, fence_orders_earlier_requests)
{
	struct gk_req reqs[17];
	uint32_t i, not_done = 99, round;
	int32_t fres = 1;

	for (round = 0; round < 20; round++) {
		for (i = 0; i < 16; i++)
			reqs[i] = (struct gk_req){
				MKIOQ_OP_READ, self->hsrc, self->hdst0 + i,
				(uint32_t)DST_STRIDE, i, (uint64_t)i << 20 };
		reqs[16] = (struct gk_req){ MKIOQ_OP_FENCE, 1, 0, 0, 16, 0 };
		ASSERT_EQ(0, gk_fence(self->ring, reqs, 17, 10 * SEC,
				      &not_done, &fres));
		EXPECT_EQ(0, fres);
		EXPECT_EQ(0, not_done) TH_LOG("round %u", round);
	}
}

/*
 * The engine stops; the GPU's wait then ends with its time limit, and
 * nothing hangs. The stopped engine left the request PUBLISHED, not
 * CLAIMED.
 */
TEST_F(gpu, stopped_engine_times_out)
{
	struct gk_req req = { MKIOQ_OP_READ, self->hsrc, self->hdst0, 64, 3, 0 };
	uint32_t tag, s, published = 0, claimed = 0;
	uint64_t t0;
	int32_t res;

	ASSERT_EQ(0, mkioq_engine_stop(self->e));
	t0 = mono_ns();
	EXPECT_EQ(-ETIME, gk_one(self->ring, &req, SEC / 5, &res, &tag));
	EXPECT_GE(mono_ns() - t0, SEC / 5);
	EXPECT_LT(mono_ns() - t0, 30 * SEC);
	for (s = 0; s < SLOTS; s++) {
		int st = mkioq_slot_status(self->eq, s);

		published += st == MKIOQ_STATE_PUBLISHED;
		claimed += st == MKIOQ_STATE_CLAIMED;
	}
	EXPECT_EQ(1, published);
	EXPECT_EQ(0, claimed);
}

TEST_HARNESS_MAIN

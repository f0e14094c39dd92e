// SPDX-License-Identifier: GPL-2.0
/*
 * Copy workers (struct mkioq_setup.copy_workers): a pass's copies shared
 * with helpers give the bytes, STATUS words, records and FENCEs that claim
 * order gives. Many 1 MiB requests and one of 64 MiB, every byte checked;
 * dependent requests and a memmove stay with the servicer; a FENCE after a
 * shared pass; a request failing validation inside one; the limit; close
 * and exit with requests in flight. Both modes, 2 and 4 workers. fdinfo's
 * shared-passes says whether a pass was shared: in DOORBELL mode one
 * doorbell is exactly one pass, so there the count is exact.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mkioq_test.h"

#define MIB		(1u << 20)
#define BUF_BYTES	(66u * MIB)
#define BIG_BYTES	(64u * MIB)
#define SLICES		64
#define FILL		0xa5
#define WAIT_MS		120000

FIXTURE(cw) {
	struct mkioq_queue *q;
	int drm;
	struct test_buf src, dst;
	uint32_t hsrc, hdst;
	uint32_t slice[SLICES];	/* dst MiB i, write-only */
};

FIXTURE_VARIANT(cw) {
	uint32_t mode;
	uint32_t workers;
};

FIXTURE_VARIANT_ADD(cw, doorbell_2) {
	.mode = MKIOQ_MODE_DOORBELL, .workers = 2,
};

FIXTURE_VARIANT_ADD(cw, doorbell_4) {
	.mode = MKIOQ_MODE_DOORBELL, .workers = 4,
};

FIXTURE_VARIANT_ADD(cw, poll_2) {
	.mode = MKIOQ_MODE_POLL, .workers = 2,
};

FIXTURE_VARIANT_ADD(cw, poll_4) {
	.mode = MKIOQ_MODE_POLL, .workers = 4,
};

static int open_queue(uint32_t mode, uint32_t workers,
		      struct mkioq_queue **qp)
{
	struct mkioq_setup s = {
		.slot_count = 64, .mode = mode, .copy_workers = workers,
	};

	return mkioq_queue_open_setup(MKIOQ_DEV, &s, qp);
}

FIXTURE_SETUP(cw)
{
	unsigned int i;

	self->drm = vgem_open();
	ASSERT_GE(self->drm, 0);
	ASSERT_EQ(0, open_queue(variant->mode, variant->workers, &self->q));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->src));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->dst));
	ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_READ, &self->hsrc));
	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_RW, &self->hdst));
	for (i = 0; i < SLICES; i++)
		ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd,
					    (uint64_t)i * MIB, MIB,
					    MKIOQ_ACCESS_WRITE,
					    &self->slice[i]));
	memset(self->dst.map, FILL, BUF_BYTES);
}

FIXTURE_TEARDOWN(cw)
{
	mkioq_queue_free(self->q);
	test_buf_destroy(&self->src);
	test_buf_destroy(&self->dst);
	close(self->drm);
}

static void publish_read(struct mkioq_queue *q, uint32_t slot, uint32_t src,
			 uint64_t offset, uint32_t dst, uint32_t len)
{
	struct mkioq_request req = {
		.op = MKIOQ_OP_READ, .src_handle = src, .dst_handle = dst,
		.byte_count = len, .offset = offset, .tag = 1000 + slot,
	};

	publish_words(q->words, slot, &req);
}

/* A number from the queue's fdinfo, or -1. */
static long fdinfo_num(struct mkioq_queue *q, const char *key)
{
	return fdinfo_number(mkioq_queue_fd(q), key);
}

/* Ring, then wait for slots 0..n-1; returns how many ended OK. */
static unsigned int ring_and_wait(struct __test_metadata *_metadata,
				  struct mkioq_queue *q, uint32_t n)
{
	unsigned int ok = 0;
	uint32_t slot;
	int st;

	EXPECT_EQ(0, mkioq_doorbell(q));
	/* DOORBELL: serviced in the call; POLL: look back often. */
	for (slot = n; slot-- > 0;) {
		st = wait_slot(q, slot, WAIT_MS);
		EXPECT_NE(-ETIMEDOUT, st) TH_LOG("slot %u", slot);
		ok += st == MKIOQ_RESULT_OK;
	}
	return ok;
}

static void expect_recycled(struct __test_metadata *_metadata,
			    struct mkioq_queue *q, uint32_t n)
{
	uint32_t slot;

	for (slot = 0; slot < n; slot++)
		EXPECT_EQ(0, mkioq_recycle(q, slot));
	drain_cqes(q);
}

static size_t count_not(const uint8_t *p, size_t n, uint8_t v)
{
	size_t i, bad = 0;

	for (i = 0; i < n; i++)
		bad += p[i] != v;
	return bad;
}

/*
 * The last byte of every page of @d, last page first, against pattern
 * @seed at @start: quick enough to run the moment a slot completes, when
 * a share still being copied (a helper the pass did not wait for) would
 * show. Returns the pages wrong.
 */
static size_t spot_check(const uint8_t *d, size_t len, uint32_t seed,
			 uint64_t start)
{
	size_t bad = 0, i;

	for (i = len; i >= 4096; i -= 4096)
		bad += d[i - 1] != pattern_byte(seed, start + i - 1);
	return bad;
}

/* Slot i's source MiB: a permutation, so no destination is its source's. */
static uint32_t src_mib(uint32_t i)
{
	return (i * 37 + 5) % SLICES;
}

TEST_F_TIMEOUT(cw, many_1m_requests, 600)
{
	long shared = fdinfo_num(self->q, "shared-passes");
	unsigned int round, seed = 11;
	uint32_t i;

	EXPECT_EQ(variant->workers, fdinfo_num(self->q, "copy-workers"));
	for (round = 0; round < 3; round++, seed++) {
		pattern_fill(self->src.map, SLICES * MIB, seed, 0);
		memset(self->dst.map, FILL, BUF_BYTES);
		for (i = 0; i < SLICES; i++)
			publish_read(self->q, i, self->hsrc,
				     (uint64_t)src_mib(i) * MIB,
				     self->slice[i], MIB);
		EXPECT_EQ(SLICES, ring_and_wait(_metadata, self->q, SLICES));
		/* The last slots' last pages are the last shares. */
		for (i = SLICES; i-- > 0;)
			EXPECT_EQ(0, spot_check(self->dst.map +
						(size_t)i * MIB, MIB, seed,
						(uint64_t)src_mib(i) * MIB));
		for (i = 0; i < SLICES; i++) {
			struct mkioq_completion c;

			EXPECT_EQ(0, mkioq_completion(self->q, i, &c));
			EXPECT_EQ(MIB, c.byte_count);
			EXPECT_EQ(MIB, pattern_check(self->dst.map +
						     (size_t)i * MIB, MIB,
						     seed,
						     (uint64_t)src_mib(i) * MIB))
				TH_LOG("round %u slot %u", round, i);
		}
		EXPECT_EQ(0, count_not(self->dst.map + SLICES * MIB,
				       BUF_BYTES - SLICES * MIB, FILL));
		expect_recycled(_metadata, self->q, SLICES);
	}
	/* One doorbell, one pass: every round's was shared. */
	if (variant->mode == MKIOQ_MODE_DOORBELL) {
		EXPECT_EQ(shared + 3, fdinfo_num(self->q, "shared-passes"));
	} else {
		EXPECT_LT(shared, fdinfo_num(self->q, "shared-passes"));
	}
	TH_LOG("shared-passes %ld, helper-chunks %ld",
	       fdinfo_num(self->q, "shared-passes"),
	       fdinfo_num(self->q, "helper-chunks"));
}

/* One 64 MiB request, unaligned on both sides, is cut into shares too. */
TEST_F_TIMEOUT(cw, one_64m_request, 600)
{
	long shared = fdinfo_num(self->q, "shared-passes");
	const uint64_t soff = 4093, doff = 13;
	uint32_t hd;

	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, doff,
				    BIG_BYTES + 100, MKIOQ_ACCESS_WRITE, &hd));
	pattern_fill(self->src.map, BUF_BYTES, 21, 0);
	publish_read(self->q, 0, self->hsrc, soff, hd, BIG_BYTES);
	ASSERT_EQ(1, ring_and_wait(_metadata, self->q, 1));
	EXPECT_EQ(0, spot_check(self->dst.map + doff, BIG_BYTES, 21, soff));
	EXPECT_EQ(0, count_not(self->dst.map, doff, FILL));
	EXPECT_EQ(BIG_BYTES, pattern_check(self->dst.map + doff, BIG_BYTES,
					   21, soff));
	EXPECT_EQ(0, count_not(self->dst.map + doff + BIG_BYTES,
			       BUF_BYTES - doff - BIG_BYTES, FILL));
	EXPECT_EQ(shared + 1, fdinfo_num(self->q, "shared-passes"));
	TH_LOG("helper-chunks %ld", fdinfo_num(self->q, "helper-chunks"));
}

/*
 * Request k reads the MiB request k - 1 writes, in one dma-buf: the bytes
 * must be those of the copies run one by one in claim order, which the
 * records give (a pass posts them in claim order). In DOORBELL mode one
 * pass claims all in slot order and is not shared; a poll thread may
 * claim a slot before a lower one published earlier, and may claim one
 * request alone, in a pass that is shared.
 */
TEST_F_TIMEOUT(cw, dependent_requests_keep_claim_order, 600)
{
	long shared = fdinfo_num(self->q, "shared-passes");
	const uint32_t n = 16;
	const size_t span = (size_t)(n + 1) * MIB;
	uint8_t *want = malloc(span);
	struct mkioq_cqe cqe[16];
	unsigned int round;
	int got, ret;
	uint32_t k;

	ASSERT_NE(NULL, want);
	for (round = 0; round < 3; round++) {
		memset(self->dst.map, FILL, BUF_BYTES);
		pattern_fill(self->dst.map, MIB, 31 + round, 0);
		memcpy(want, self->dst.map, span);
		for (k = 0; k < n; k++)
			publish_read(self->q, k, self->hdst,
				     (uint64_t)k * MIB, self->slice[k + 1],
				     MIB);
		EXPECT_EQ(n, ring_and_wait(_metadata, self->q, n));
		for (got = 0; got < (int)n; got += ret) {
			ret = mkioq_read_cqes(self->q, cqe + got, n - got,
					      5000);
			ASSERT_LT(0, ret);
		}
		for (k = 0; k < n; k++) {
			uint32_t slot = cqe[k].slot;

			ASSERT_GT(n, slot);
			memcpy(want + (size_t)(slot + 1) * MIB,
			       want + (size_t)slot * MIB, MIB);
		}
		if (variant->mode == MKIOQ_MODE_DOORBELL) {
			for (k = 0; k < n; k++)
				EXPECT_EQ(k, cqe[k].slot);
		}
		EXPECT_EQ(0, memcmp(want, self->dst.map, span)) {
			TH_LOG("round %u", round);
		}
		for (k = 0; k < n; k++)
			EXPECT_EQ(0, mkioq_recycle(self->q, k));
	}
	if (variant->mode == MKIOQ_MODE_DOORBELL)
		EXPECT_EQ(shared, fdinfo_num(self->q, "shared-passes"));
	free(want);
}

/* A request whose source and destination overlap is one memmove. */
TEST_F_TIMEOUT(cw, overlapping_request_is_a_memmove, 300)
{
	long shared = fdinfo_num(self->q, "shared-passes");
	const uint32_t len = 4 * MIB;
	const uint64_t doff = 256 * 1024 + 13;
	uint8_t *want = malloc(len + doff);
	uint32_t hd;

	ASSERT_NE(NULL, want);
	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, doff, len,
				    MKIOQ_ACCESS_WRITE, &hd));
	pattern_fill(self->dst.map, len + doff, 41, 0);
	memcpy(want, self->dst.map, len + doff);
	memmove(want + doff, want, len);
	publish_read(self->q, 0, self->hdst, 0, hd, len);
	ASSERT_EQ(1, ring_and_wait(_metadata, self->q, 1));
	EXPECT_EQ(0, memcmp(want, self->dst.map, len + doff));
	EXPECT_EQ(shared, fdinfo_num(self->q, "shared-passes"));
	free(want);
}

/*
 * A FENCE published after a shared pass's requests completes after every
 * one of them: its record is the last, and when its STATUS is OK every
 * request's bytes are in place.
 */
TEST_F_TIMEOUT(cw, fence_after_shared_pass, 600)
{
	struct mkioq_request fence = {
		.op = MKIOQ_OP_FENCE, .src_handle = 1, .tag = 77,
	};
	const uint32_t n = 32;
	struct mkioq_cqe cqe[64];
	int got = 0, ret, st;
	uint32_t i;

	pattern_fill(self->src.map, SLICES * MIB, 51, 0);
	for (i = 0; i < n; i++)
		publish_read(self->q, i, self->hsrc,
			     (uint64_t)src_mib(i) * MIB, self->slice[i], MIB);
	publish_words(self->q->words, n, &fence);
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	st = wait_slot(self->q, n, WAIT_MS);
	ASSERT_EQ(MKIOQ_RESULT_OK, st);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(MKIOQ_RESULT_OK, mkioq_slot_status(self->q, i));
		EXPECT_EQ(MIB, pattern_check(self->dst.map + (size_t)i * MIB,
					     MIB, 51,
					     (uint64_t)src_mib(i) * MIB));
	}
	while (got < (int)n + 1) {
		ret = mkioq_read_cqes(self->q, cqe + got, 64 - got, 5000);
		ASSERT_LT(0, ret);
		got += ret;
	}
	ASSERT_EQ(n + 1, got);
	EXPECT_EQ(n, cqe[n].slot);
	EXPECT_EQ(77, cqe[n].tag);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(i, cqe[i].slot);
		EXPECT_EQ(MIB, cqe[i].result);
	}
}

/* A request failing validation inside a shared pass fails alone. */
TEST_F_TIMEOUT(cw, invalid_request_fails_alone, 600)
{
	long shared = fdinfo_num(self->q, "shared-passes");
	const uint32_t n = 16, bad = 5, bad2 = 9;
	struct mkioq_completion c;
	uint32_t i;

	pattern_fill(self->src.map, SLICES * MIB, 61, 0);
	for (i = 0; i < n; i++)
		publish_read(self->q, i, self->hsrc,
			     (uint64_t)src_mib(i) * MIB, self->slice[i],
			     i == bad ? MIB + 1 : MIB);
	/* And one naming a handle that does not exist. */
	publish_read(self->q, bad2, self->hsrc, 0, 4000, MIB);
	EXPECT_EQ(n - 2, ring_and_wait(_metadata, self->q, n));
	for (i = 0; i < n; i++) {
		uint8_t *d = self->dst.map + (size_t)i * MIB;

		ASSERT_EQ(0, mkioq_completion(self->q, i, &c));
		if (i == bad || i == bad2) {
			EXPECT_EQ(MKIOQ_RESULT_ERROR, c.status);
			EXPECT_EQ(i == bad ? ERANGE : ENOENT, c.tag);
			EXPECT_EQ(0, count_not(d, MIB, FILL)) {
				TH_LOG("%u", i);
			}
		} else {
			EXPECT_EQ(MKIOQ_RESULT_OK, c.status);
			EXPECT_EQ(MIB, pattern_check(d, MIB, 61,
						     (uint64_t)src_mib(i) *
						     MIB)) TH_LOG("%u", i);
		}
	}
	EXPECT_EQ(0, count_not(self->dst.map + (size_t)n * MIB,
			       BUF_BYTES - (size_t)n * MIB, FILL));
	if (variant->mode == MKIOQ_MODE_DOORBELL)
		EXPECT_EQ(shared + 1, fdinfo_num(self->q, "shared-passes"));
}

static void *ring_doorbell(void *q)
{
	mkioq_doorbell(q);
	return NULL;
}

/*
 * Close, and exit, while a shared pass runs: the pass completes or the
 * queue shuts down cleanly, and the module serves the next queue.
 */
TEST_F_TIMEOUT(cw, close_and_exit_with_requests_in_flight, 600)
{
	struct mkioq_queue *q2;
	pthread_t th;
	pid_t pid;
	int status;
	uint32_t i;

	for (i = 0; i < SLICES; i++)
		publish_read(self->q, i, self->hsrc,
			     (uint64_t)src_mib(i) * MIB, self->slice[i], MIB);
	ASSERT_EQ(0, pthread_create(&th, NULL, ring_doorbell, self->q));
	usleep(1000);
	close(self->q->fd);
	self->q->fd = -1;
	pthread_join(th, NULL);

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct mkioq_queue *q;
		uint32_t h, h2;

		if (open_queue(variant->mode, variant->workers, &q) ||
		    mkioq_register(q, self->src.fd, 0, BUF_BYTES,
				   MKIOQ_ACCESS_READ, &h) ||
		    mkioq_register(q, self->dst.fd, 0, BUF_BYTES,
				   MKIOQ_ACCESS_WRITE, &h2))
			_exit(2);
		publish_read(q, 0, h, 0, h2, BIG_BYTES);
		/* Exit while another thread is inside the service. */
		pthread_create(&th, NULL, ring_doorbell, q);
		usleep(2000);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	/* The module still serves a fresh queue. */
	ASSERT_EQ(0, open_queue(variant->mode, variant->workers, &q2));
	mkioq_queue_free(self->q);
	self->q = q2;
	ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_READ, &self->hsrc));
	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_RW, &self->hdst));
	pattern_fill(self->src.map, BIG_BYTES, 71, 0);
	publish_read(self->q, 0, self->hsrc, 0, self->hdst, BIG_BYTES);
	ASSERT_EQ(1, ring_and_wait(_metadata, self->q, 1));
	EXPECT_EQ(BIG_BYTES, pattern_check(self->dst.map, BIG_BYTES, 71, 0));
}

/*
 * 0..MKIOQ_MAX_COPY_WORKERS are taken, in both modes, and INFO and fdinfo
 * report them; above is EINVAL.
 */
TEST(copy_workers_above_max)
{
	static const uint32_t good[] = { 0, 1, 2, MKIOQ_MAX_COPY_WORKERS };
	static const uint32_t bad[] = {
		MKIOQ_MAX_COPY_WORKERS + 1, 64, 1u << 31, UINT32_MAX,
	};
	struct mkioq_queue *q;
	uint32_t mode;
	unsigned int i;

	for (mode = MKIOQ_MODE_DOORBELL; mode <= MKIOQ_MODE_POLL; mode++) {
		for (i = 0; i < ARRAY_SIZE(good); i++) {
			struct mkioq_info info = { .size = sizeof(info) };

			ASSERT_EQ(0, open_queue(mode, good[i], &q));
			ASSERT_EQ(0, mkioq_info(q, &info));
			EXPECT_EQ(good[i] ?: 1, info.copy_workers);
			EXPECT_EQ(good[i] ?: 1, fdinfo_num(q, "copy-workers"));
			EXPECT_EQ(0, fdinfo_num(q, "shared-passes"));
			mkioq_queue_free(q);
		}
		for (i = 0; i < ARRAY_SIZE(bad); i++)
			EXPECT_EQ(-EINVAL, open_queue(mode, bad[i], &q))
				TH_LOG("copy_workers %u", bad[i]);
	}
}

/* With copy_workers 1 no pass is shared, however large. */
TEST(one_worker_never_shares)
{
	struct mkioq_queue *q;
	struct test_buf a, b;
	uint32_t ha, hb;
	int drm = vgem_open();

	ASSERT_GE(drm, 0);
	ASSERT_EQ(0, open_queue(MKIOQ_MODE_DOORBELL, 1, &q));
	ASSERT_EQ(0, test_buf_create(drm, 8 * MIB, true, &a));
	ASSERT_EQ(0, test_buf_create(drm, 8 * MIB, true, &b));
	ASSERT_EQ(0, mkioq_register(q, a.fd, 0, 8 * MIB, MKIOQ_ACCESS_READ,
				    &ha));
	ASSERT_EQ(0, mkioq_register(q, b.fd, 0, 8 * MIB, MKIOQ_ACCESS_WRITE,
				    &hb));
	pattern_fill(a.map, 8 * MIB, 81, 0);
	publish_read(q, 0, ha, 0, hb, 8 * MIB);
	ASSERT_EQ(1, ring_and_wait(_metadata, q, 1));
	EXPECT_EQ(8 * MIB, pattern_check(b.map, 8 * MIB, 81, 0));
	EXPECT_EQ(0, fdinfo_num(q, "shared-passes"));
	mkioq_queue_free(q);
	test_buf_destroy(&a);
	test_buf_destroy(&b);
	close(drm);
}

TEST_HARNESS_MAIN

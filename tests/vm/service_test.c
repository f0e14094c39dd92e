// SPDX-License-Identifier: GPL-2.0
/*
 * The service: data integrity over sizes and unaligned offsets, each op,
 * every request error, completion records, slots with source 0, producers
 * on both vCPUs, and close or exit with requests in flight. Every test
 * runs in both service modes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mkioq_test.h"

#define BUF_BYTES	(8u << 20)
#define FILL		0xa5

FIXTURE(svc) {
	struct mkioq_queue *q;
	int drm;
	struct test_buf src, dst, ro;
	uint32_t hsrc, hdst, hro;
};

FIXTURE_VARIANT(svc) {
	unsigned int open_flags;
};

FIXTURE_VARIANT_ADD(svc, doorbell) {
	.open_flags = 0,
};

FIXTURE_VARIANT_ADD(svc, poll) {
	.open_flags = MKIOQ_OPEN_POLL,
};

FIXTURE_SETUP(svc)
{
	self->drm = vgem_open();
	ASSERT_GE(self->drm, 0);
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 64, variant->open_flags,
				      &self->q));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->src));
	ASSERT_EQ(0, test_buf_create(self->drm, BUF_BYTES, true, &self->dst));
	ASSERT_EQ(0, test_buf_create(self->drm, 65536, false, &self->ro));
	ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_READ, &self->hsrc));
	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_RW, &self->hdst));
	ASSERT_EQ(0, mkioq_register(self->q, self->ro.fd, 0, 65536,
				    MKIOQ_ACCESS_READ, &self->hro));
}

FIXTURE_TEARDOWN(svc)
{
	mkioq_queue_free(self->q);
	test_buf_destroy(&self->src);
	test_buf_destroy(&self->dst);
	test_buf_destroy(&self->ro);
	close(self->drm);
}

/* Publish as a GPU would (see publish_words()). */
static void raw_publish(struct mkioq_queue *q, uint32_t slot,
			const struct mkioq_request *req)
{
	publish_words(q->words, slot, req);
}

/* Submit one request into @slot, ring, wait, and return its STATUS. */
static int run_one(struct mkioq_queue *q, uint32_t slot,
		   const struct mkioq_request *req)
{
	int ret;

	raw_publish(q, slot, req);
	ret = mkioq_doorbell(q);
	if (ret)
		return ret;
	return wait_slot(q, slot, 20000);
}

static size_t count_not(const uint8_t *p, size_t n, uint8_t v)
{
	size_t i, bad = 0;

	for (i = 0; i < n; i++)
		bad += p[i] != v;
	return bad;
}

TEST_F_TIMEOUT(svc, read_sizes_unaligned, 300)
{
	static const uint32_t sizes[] = {
		1, 3, 64, 4095, 4096, 4097, 65537, (1u << 20) + 13,
		(6u << 20) + 4093,
	};
	static const uint64_t offsets[] = { 0, 1, 7, 4093, 65536 + 3 };
	unsigned int i, j, seed = 1;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		for (j = 0; j < ARRAY_SIZE(offsets); j++, seed++) {
			struct mkioq_request req = {
				.op = MKIOQ_OP_READ, .src_handle = self->hsrc,
				.dst_handle = self->hdst,
				.byte_count = sizes[i], .offset = offsets[j],
				.tag = seed,
			};
			uint32_t slot = seed % 64;
			size_t n = sizes[i];

			pattern_fill(self->src.map + offsets[j], n, seed,
				     offsets[j]);
			memset(self->dst.map, FILL, n + 4096);
			ASSERT_EQ(MKIOQ_RESULT_OK, run_one(self->q, slot, &req));
			EXPECT_EQ(n, self->q->words[slot * 8 +
						    MKIOQ_WORD_BYTE_COUNT]);
			EXPECT_EQ(seed, self->q->words[slot * 8 +
						       MKIOQ_WORD_TAG]);
			ASSERT_EQ(n, pattern_check(self->dst.map, n, seed,
						   offsets[j]))
				TH_LOG("size %zu offset %lu", n,
				       (unsigned long)offsets[j]);
			/* Not one byte past the request. */
			ASSERT_EQ(0, count_not(self->dst.map + n, 4096, FILL));
			ASSERT_EQ(0, mkioq_recycle(self->q, slot));
		}
	}
	drain_cqes(self->q);
}

TEST_F(svc, write_op)
{
	struct mkioq_request req = {
		.op = MKIOQ_OP_WRITE, .src_handle = self->hsrc,
		.dst_handle = self->hdst, .byte_count = 10000,
		.offset = 123457, .tag = 5,
	};

	pattern_fill(self->src.map, 10000, 99, 0);
	memset(self->dst.map, FILL, 200000);
	ASSERT_EQ(MKIOQ_RESULT_OK, run_one(self->q, 9, &req));
	/* WRITE: from the source's start to the destination's offset. */
	EXPECT_EQ(0, count_not(self->dst.map, 123457, FILL));
	EXPECT_EQ(10000, pattern_check(self->dst.map + 123457, 10000, 99, 0));
	EXPECT_EQ(0, count_not(self->dst.map + 133457, 200000 - 133457, FILL));
}

TEST_F(svc, ranges_are_relative)
{
	struct mkioq_request req = {
		.op = MKIOQ_OP_READ, .byte_count = 4096, .offset = 100,
		.tag = 6,
	};
	uint32_t hs, hd;

	/* Handles on sub-ranges: offsets count from the range's start. */
	ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 1 << 20, 65536,
				    MKIOQ_ACCESS_READ, &hs));
	ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, 3 << 20, 8192,
				    MKIOQ_ACCESS_WRITE, &hd));
	req.src_handle = hs;
	req.dst_handle = hd;
	pattern_fill(self->src.map + (1 << 20) + 100, 4096, 3, 0);
	memset(self->dst.map + (3 << 20), FILL, 8192);
	ASSERT_EQ(MKIOQ_RESULT_OK, run_one(self->q, 1, &req));
	EXPECT_EQ(4096, pattern_check(self->dst.map + (3 << 20), 4096, 3, 0));
	EXPECT_EQ(0, count_not(self->dst.map + (3 << 20) + 4096, 4096, FILL));
}

struct bad_case {
	const char *what;
	struct mkioq_request req;
	int err;
};

TEST_F(svc, errors_change_nothing)
{
	const uint32_t S = self->hsrc, D = self->hdst, R = self->hro;
	const struct bad_case cases[] = {
		{ "unknown op", { 0x7, S, D, 16, 0, 0 }, EOPNOTSUPP },
		{ "op zero", { 0x0, S, D, 16, 0, 0 }, EOPNOTSUPP },
		{ "unknown src", { MKIOQ_OP_READ, 999, D, 16, 0, 0 }, ENOENT },
		{ "unknown dst", { MKIOQ_OP_READ, S, 0, 16, 0, 0 }, ENOENT },
		{ "dst read-only", { MKIOQ_OP_READ, S, R, 16, 0, 0 }, EACCES },
		{ "src write-only", { MKIOQ_OP_WRITE, D, D, 16, 0, 0 }, 0 },
		{ "range overflow", { MKIOQ_OP_READ, S, D, 16,
				      UINT64_MAX - 4, 0 }, EOVERFLOW },
		{ "offset past end", { MKIOQ_OP_READ, S, D, 1,
				       BUF_BYTES, 0 }, ERANGE },
		{ "count past end", { MKIOQ_OP_READ, S, D, 4097,
				      BUF_BYTES - 4096, 0 }, ERANGE },
		{ "past dst end", { MKIOQ_OP_READ, R, D, 0, 0, 0 }, 0 },
		{ "write past dst", { MKIOQ_OP_WRITE, S, D, 2,
				      BUF_BYTES - 1, 0 }, ERANGE },
		{ "offset_hi only", { MKIOQ_OP_READ, S, D, 1,
				      1ULL << 32, 0 }, ERANGE },
		{ "too large", { MKIOQ_OP_READ, S, D, 0x80000000u, 0, 0 },
		  EFBIG },
	};
	uint8_t *snap_dst = malloc(65536), *snap_src = malloc(65536);
	uint32_t ring_before[64 * 8];
	unsigned int i;

	ASSERT_NE(NULL, snap_dst);
	ASSERT_NE(NULL, snap_src);
	pattern_fill(self->src.map, 65536, 11, 0);
	pattern_fill(self->dst.map, 65536, 12, 0);
	memcpy(snap_src, self->src.map, 65536);
	memcpy(snap_dst, self->dst.map, 65536);

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mkioq_request req = cases[i].req;
		struct mkioq_cqe cqe;
		uint32_t slot = 20 + i;
		int n;

		if (!cases[i].err)	/* valid, for contrast: skipped */
			continue;
		req.tag = 1000 + i;
		memcpy(ring_before, self->q->words, sizeof(ring_before));
		ASSERT_EQ(MKIOQ_RESULT_ERROR, run_one(self->q, slot, &req));
		EXPECT_EQ(cases[i].err,
			  self->q->words[slot * 8 + MKIOQ_WORD_TAG])
			TH_LOG("%s", cases[i].what);
		/* Only this slot changed: the request, then TAG and STATUS. */
		request_words(&ring_before[slot * 8], &req);
		ring_before[slot * 8 + MKIOQ_WORD_TAG] = cases[i].err;
		ring_before[slot * 8 + MKIOQ_WORD_STATUS] = MKIOQ_RESULT_ERROR;
		EXPECT_EQ(0, memcmp(ring_before, self->q->words,
				    sizeof(ring_before)))
			TH_LOG("%s", cases[i].what);
		/* The record carries the original tag and -errno. */
		n = mkioq_read_cqes(self->q, &cqe, 1, 1000);
		ASSERT_EQ(1, n);
		EXPECT_EQ(slot, cqe.slot);
		EXPECT_EQ(MKIOQ_RESULT_ERROR, cqe.status);
		EXPECT_EQ(-cases[i].err, cqe.result);
		EXPECT_EQ(1000 + i, cqe.tag);
		EXPECT_EQ(0, memcmp(snap_src, self->src.map, 65536));
		EXPECT_EQ(0, memcmp(snap_dst, self->dst.map, 65536));
		EXPECT_EQ(0, self->dst.map[BUF_BYTES - 1]);
	}
	free(snap_src);
	free(snap_dst);
}

/*
 * A FENCE in a lower slot than the requests published before it still
 * completes after all of them: claim order is not publication order.
 */
TEST_F(svc, fence_after_earlier_requests)
{
	struct mkioq_request fence = {
		.op = MKIOQ_OP_FENCE, .src_handle = 1, .tag = 77,
	};
	struct mkioq_cqe cqes[8];
	int n = 0, got, i;

	for (i = 1; i <= 3; i++)
		ASSERT_EQ(0, mkioq_submit_dma_read(self->q, i, self->hsrc,
						   self->hdst, 1 << 20, i));
	ASSERT_EQ(0, mkioq_submit(self->q, 0, &fence));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	while (n < 4) {
		got = mkioq_read_cqes(self->q, cqes + n, 8 - n, 20000);
		ASSERT_GT(got, 0);
		n += got;
	}
	ASSERT_EQ(4, n);
	/* The fence's record follows every earlier request's. */
	EXPECT_EQ(0, cqes[3].slot);
	EXPECT_EQ(77, cqes[3].tag);
	EXPECT_EQ(MKIOQ_RESULT_OK, cqes[3].status);
	EXPECT_EQ(0, cqes[3].result);
	for (i = 1; i <= 3; i++)
		EXPECT_EQ(MKIOQ_RESULT_OK, mkioq_slot_status(self->q, i));
}

TEST_F(svc, source_zero_left_alone)
{
	uint32_t before[8];

	ASSERT_EQ(0, mkioq_publish_slot(self->q, 2, 7, 4096, 99));
	memcpy(before, &self->q->words[2 * 8], sizeof(before));
	ASSERT_EQ(0, mkioq_submit_dma_read(self->q, 3, self->hsrc, self->hdst,
					   64, 1));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 3, 20000));
	usleep(20000);
	EXPECT_EQ(0, memcmp(before, &self->q->words[2 * 8], sizeof(before)));
	EXPECT_EQ(MKIOQ_STATE_PUBLISHED, mkioq_slot_status(self->q, 2));
}

TEST_F(svc, records_read_and_poll)
{
	int fd = mkioq_queue_fd(self->q);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct mkioq_cqe cqe;
	char small[8];

	/* Nothing yet: not readable, non-blocking read says EAGAIN. */
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(-1, read(fd, &cqe, sizeof(cqe)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, read(fd, small, sizeof(small)));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, mkioq_submit_dma_read(self->q, 5, self->hsrc, self->hdst,
					   300, 0xabcd));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ASSERT_EQ(1, poll(&pfd, 1, 20000));
	EXPECT_TRUE(pfd.revents & POLLIN);
	memset(&cqe, 0xff, sizeof(cqe));
	ASSERT_EQ(sizeof(cqe), read(fd, &cqe, sizeof(cqe)));
	EXPECT_EQ(5, cqe.slot);
	EXPECT_EQ(MKIOQ_RESULT_OK, cqe.status);
	EXPECT_EQ(300, cqe.result);
	EXPECT_EQ(0xabcd, cqe.tag);
	EXPECT_EQ(0, cqe.flags);
	EXPECT_EQ(0, cqe.dropped);
	EXPECT_EQ(0, poll(&pfd, 1, 0));
}

/* More completions than the record queue holds: counted, never lost. */
TEST_F(svc, record_overflow_reported)
{
	struct mkioq_cqe cqes[64];
	struct mkioq_info info;
	uint32_t total = 0, dropped = 0, rounds, slot;
	int n, i;

	ASSERT_EQ(0, mkioq_info(self->q, &info));
	rounds = info.cq_entries / 64 + 2;
	for (uint32_t r = 0; r < rounds; r++) {
		for (slot = 0; slot < 64; slot++)
			ASSERT_EQ(0, mkioq_submit_dma_read(self->q, slot,
				self->hsrc, self->hdst, 8, r * 64 + slot));
		ASSERT_EQ(0, mkioq_doorbell(self->q));
		for (slot = 0; slot < 64; slot++) {
			uint64_t t0 = now_ns();

			while (mkioq_slot_status(self->q, slot) !=
			       MKIOQ_RESULT_OK)
				ASSERT_LT(now_ns() - t0, 20000000000ULL);
			ASSERT_EQ(0, mkioq_recycle(self->q, slot));
		}
	}
	while ((n = mkioq_read_cqes(self->q, cqes, 64, 0)) > 0) {
		for (i = 0; i < n; i++) {
			if (cqes[i].flags & MKIOQ_CQE_F_OVERFLOW)
				dropped += cqes[i].dropped;
			if (cqes[i].slot != MKIOQ_ANY_SLOT)
				total++;
		}
	}
	ASSERT_EQ(0, mkioq_info(self->q, &info));
	EXPECT_EQ(rounds * 64, info.completed);
	EXPECT_EQ(rounds * 64, total + dropped);
	EXPECT_EQ(info.cq_overflow, dropped);
	EXPECT_GT(dropped, 0);
}

/* Producers on both vCPUs, each owning half the slots, like GPU lanes. */
struct producer {
	struct mkioq_queue *q;
	uint32_t id, first, nslots, requests, src, *dst_handles;
	bool ring_doorbell;
	uint8_t *dst_map;
	_Atomic uint32_t *done;		/* per request: times reaped */
	uint32_t bad_data, bad_tag;
};

#define REGION_BYTES	4096
#define REQ_BYTES	64
#define PRODUCERS	2
#define PER_PRODUCER	20000

static uint64_t req_offset(uint32_t seq)
{
	/* Odd stride: sources at every alignment. */
	return (uint64_t)seq * 72 % (BUF_BYTES - 4096);
}

static void reap(struct producer *p, uint32_t slot, uint32_t seq)
{
	struct mkioq_completion c;

	if (mkioq_completion(p->q, slot, &c) || c.status != MKIOQ_RESULT_OK ||
	    c.tag != (p->id << 24 | seq))
		p->bad_tag++;
	if (pattern_check(p->dst_map + slot * REGION_BYTES, REQ_BYTES, 5,
			  req_offset(seq)) != REQ_BYTES)
		p->bad_data++;
	atomic_fetch_add(&p->done[p->id * PER_PRODUCER + seq], 1);
	if (mkioq_recycle(p->q, slot))
		p->bad_tag++;
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	uint32_t seq[64], sent = 0, reaped = 0, i;
	bool busy[64] = { false };

	while (reaped < p->requests) {
		for (i = 0; i < p->nslots; i++) {
			uint32_t slot = p->first + i;
			int st = mkioq_slot_status(p->q, slot);
			struct mkioq_request req = {
				.op = MKIOQ_OP_READ, .src_handle = p->src,
				.dst_handle = p->dst_handles[slot],
				.byte_count = REQ_BYTES,
			};

			if (busy[i] && (st == MKIOQ_RESULT_OK ||
					st == MKIOQ_RESULT_ERROR)) {
				reap(p, slot, seq[i]);
				busy[i] = false;
				reaped++;
			}
			if (busy[i] || sent == p->requests)
				continue;
			req.tag = p->id << 24 | sent;
			req.offset = req_offset(sent);
			if (mkioq_submit(p->q, slot, &req) == 0) {
				seq[i] = sent++;
				busy[i] = true;
			}
		}
		if (p->ring_doorbell)
			mkioq_doorbell(p->q);
	}
	return NULL;
}

/* Counts the completion records of every request, from its own thread. */
struct record_reader {
	struct mkioq_queue *q;
	_Atomic uint32_t *seen;
	uint32_t records, dropped, bad;
};

static void *reader_main(void *arg)
{
	struct record_reader *r = arg;
	struct mkioq_cqe cqes[64];
	int n, i;

	while (r->records + r->dropped < PRODUCERS * PER_PRODUCER) {
		n = mkioq_read_cqes(r->q, cqes, 64, 30000);
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			uint32_t id = cqes[i].tag >> 24, seq = cqes[i].tag & 0xffffff;

			r->dropped += cqes[i].dropped;
			if (cqes[i].slot == MKIOQ_ANY_SLOT)
				continue;
			r->records++;
			if (id >= PRODUCERS || seq >= PER_PRODUCER) {
				r->bad++;
				continue;
			}
			atomic_fetch_add(&r->seen[id * PER_PRODUCER + seq], 1);
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(svc, producers_on_both_cpus, 600)
{
	_Atomic uint32_t *done = calloc(PRODUCERS * PER_PRODUCER,
					sizeof(*done));
	_Atomic uint32_t *seen = calloc(PRODUCERS * PER_PRODUCER,
					sizeof(*seen));
	struct record_reader reader = { .q = self->q, .seen = seen };
	uint32_t dst_handles[64], slot, t, i, bad_done = 0, bad_seen = 0;
	struct producer prod[PRODUCERS];
	pthread_t th[PRODUCERS], rth;
	uint64_t t0;

	ASSERT_NE(NULL, done);
	ASSERT_NE(NULL, seen);
	pattern_fill(self->src.map, BUF_BYTES, 5, 0);
	/* One destination range per slot, so each slot's data is checkable. */
	for (slot = 0; slot < 64; slot++)
		ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd,
					    slot * REGION_BYTES, REGION_BYTES,
					    MKIOQ_ACCESS_WRITE,
					    &dst_handles[slot]));
	t0 = now_ns();
	ASSERT_EQ(0, pthread_create(&rth, NULL, reader_main, &reader));
	for (t = 0; t < PRODUCERS; t++) {
		prod[t] = (struct producer) {
			.q = self->q, .id = t, .first = t * 32, .nslots = 32,
			.requests = PER_PRODUCER, .src = self->hsrc,
			.dst_handles = dst_handles, .dst_map = self->dst.map,
			.done = done,
			/* POLL mode: no system call, like a GPU. */
			.ring_doorbell = !(variant->open_flags &
					   MKIOQ_OPEN_POLL),
		};
		ASSERT_EQ(0, pthread_create(&th[t], NULL, producer_main,
					    &prod[t]));
	}
	for (t = 0; t < PRODUCERS; t++) {
		pthread_join(th[t], NULL);
		EXPECT_EQ(0, prod[t].bad_tag);
		EXPECT_EQ(0, prod[t].bad_data);
	}
	pthread_join(rth, NULL);
	for (i = 0; i < PRODUCERS * PER_PRODUCER; i++) {
		bad_done += done[i] != 1;
		bad_seen += seen[i] > 1;
	}
	/* Every request reaped exactly once from its slot... */
	EXPECT_EQ(0, bad_done);
	/* ...and its record delivered at most once, none lost uncounted. */
	EXPECT_EQ(0, bad_seen);
	EXPECT_EQ(0, reader.bad);
	EXPECT_EQ(PRODUCERS * PER_PRODUCER, reader.records + reader.dropped);
	ksft_print_msg("%s: %u requests in %.2f s, records %u, dropped %u\n",
		       variant->open_flags ? "poll" : "doorbell",
		       PRODUCERS * PER_PRODUCER, (now_ns() - t0) / 1e9,
		       reader.records, reader.dropped);
	free(done);
	free(seen);
}

/* Close with requests in flight: no hang, no leak, the device stays usable. */
TEST_F(svc, close_with_requests_in_flight)
{
	struct mkioq_queue *q2;
	uint32_t slot;

	for (slot = 0; slot < 64; slot++)
		ASSERT_EQ(0, mkioq_submit_dma_read(self->q, slot, self->hsrc,
						   self->hdst, 1 << 20, slot));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	mkioq_queue_free(self->q);
	self->q = NULL;
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, 64, variant->open_flags,
				      &q2));
	self->q = q2;
}

static void *ring_doorbell(void *q)
{
	mkioq_doorbell(q);
	return NULL;
}

TEST_F(svc, exit_with_requests_in_flight)
{
	pid_t pid = fork();
	int status;

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct mkioq_queue *q;
		pthread_t th;
		uint32_t h, slot;

		if (mkioq_queue_open(MKIOQ_DEV, 64, variant->open_flags, &q) ||
		    mkioq_register(q, self->src.fd, 0, BUF_BYTES,
				   MKIOQ_ACCESS_RW, &h))
			_exit(2);
		for (slot = 0; slot < 64; slot++)
			mkioq_submit_dma_read(q, slot, h, h, 1 << 20, slot);
		/* Exit while another thread is inside the service. */
		pthread_create(&th, NULL, ring_doorbell, q);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* Unregister while requests use the handle: deferred, never unsafe. */
TEST_F(svc, unregister_during_service)
{
	uint32_t h, slot;
	int st;

	ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_READ, &h));
	for (slot = 0; slot < 16; slot++)
		ASSERT_EQ(0, mkioq_submit_dma_read(self->q, slot, h,
						   self->hdst, 1 << 20, slot));
	if (variant->open_flags == 0) {
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0) {
			mkioq_doorbell(self->q);
			_exit(0);
		}
		usleep(1000);
		EXPECT_EQ(0, mkioq_unregister(self->q, h));
		waitpid(pid, NULL, 0);
	} else {
		usleep(1000);
		EXPECT_EQ(0, mkioq_unregister(self->q, h));
	}
	for (slot = 0; slot < 16; slot++) {
		st = wait_slot(self->q, slot, 20000);
		ASSERT_TRUE(st == MKIOQ_RESULT_OK || st == MKIOQ_RESULT_ERROR);
		if (st == MKIOQ_RESULT_ERROR)
			EXPECT_EQ(ENOENT, self->q->words[slot * 8 +
							 MKIOQ_WORD_TAG]);
	}
}

/* Spin until slot @slot reads @status; false after @ms milliseconds. */
static bool spin_status(struct mkioq_queue *q, uint32_t slot, int status,
			int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000;

	while (mkioq_slot_status(q, slot) != status)
		if (now_ns() > end)
			return false;
	return true;
}

static void *ring_thread(void *q)
{
	mkioq_doorbell(q);
	return NULL;
}

/*
 * A request's handles are resolved and referenced when it is claimed: an
 * unregister that comes after the claim, while earlier requests of the
 * same pass still copy, cannot fail it. Slots 0..LAST are published
 * first and claimed in one pass, which the doorbell starts (POLL: the
 * thread sleeps meanwhile, for up to 10 s); slot 0 copies 8 MiB and slots
 * 1..LAST-1 1 MiB each before LAST, whose own source handle is
 * unregistered as soon as it reads CLAIMED.
 */
TEST_F_TIMEOUT(svc, unregister_after_claim_keeps_request, 300)
{
	const uint32_t last = 40, mib = 1u << 20;
	uint32_t hlast, slot, before;
	pthread_t ringer;
	size_t bad;

	if (variant->open_flags & MKIOQ_OPEN_POLL) {
		struct mkioq_setup setup = {
			.size = sizeof(setup), .slot_count = 64,
			.mode = MKIOQ_MODE_POLL, .poll_idle_us = 1000,
			.poll_period_us = 10000000,
		};

		/*
		 * Not a thread that polls while the slots are published: it
		 * could claim them in several passes, LAST alone in the last.
		 */
		mkioq_queue_free(self->q);
		ASSERT_EQ(0, mkioq_queue_open_setup(MKIOQ_DEV, &setup,
						    &self->q));
		ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 0,
					    BUF_BYTES, MKIOQ_ACCESS_READ,
					    &self->hsrc));
		ASSERT_EQ(0, mkioq_register(self->q, self->dst.fd, 0,
					    BUF_BYTES, MKIOQ_ACCESS_RW,
					    &self->hdst));
		/* 1 ms without work and it sleeps until the doorbell. */
		usleep(100 * 1000);
	}
	pattern_fill(self->src.map, BUF_BYTES, 41, 0);
	ASSERT_EQ(0, mkioq_register(self->q, self->src.fd, 0, BUF_BYTES,
				    MKIOQ_ACCESS_READ, &hlast));
	ASSERT_EQ(0, mkioq_submit_dma_read(self->q, 0, self->hsrc, self->hdst,
					   BUF_BYTES, 0));
	for (slot = 1; slot < last; slot++)
		ASSERT_EQ(0, mkioq_submit_dma_read(self->q, slot, self->hsrc,
						   self->hdst, mib, slot));
	ASSERT_EQ(0, mkioq_submit(self->q, last, &(struct mkioq_request){
		.op = MKIOQ_OP_READ, .src_handle = hlast,
		.dst_handle = self->hdst, .byte_count = mib,
		.offset = 7ull * mib, .tag = last }));
	ASSERT_EQ(0, pthread_create(&ringer, NULL, ring_thread, self->q));
	ASSERT_TRUE(spin_status(self->q, last, MKIOQ_STATE_CLAIMED, 20000));
	ASSERT_EQ(0, mkioq_unregister(self->q, hlast));
	before = mkioq_slot_status(self->q, last);
	ASSERT_EQ(0, pthread_join(ringer, NULL));
	for (slot = 0; slot <= last; slot++)
		ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, slot, 60000))
			TH_LOG("slot %u: tag %u", slot,
			       self->q->words[slot * 8 + MKIOQ_WORD_TAG]);
	/* The unregister came while the request was claimed, not done. */
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, before);
	/* LAST copied last, from its own (unregistered) handle. */
	bad = pattern_check(self->dst.map, mib, 41, 7ull * mib);
	EXPECT_EQ(mib, bad);
	/* Gone for requests claimed after the unregister. */
	EXPECT_EQ(MKIOQ_RESULT_ERROR, run_one(self->q, 2, &(struct mkioq_request){
		.op = MKIOQ_OP_READ, .src_handle = hlast,
		.dst_handle = self->hdst, .byte_count = 1 }));
	EXPECT_EQ(ENOENT, self->q->words[2 * 8 + MKIOQ_WORD_TAG]);
}

/* Read every record waiting (for up to @ms), into @cqes. */
static int collect_cqes(struct mkioq_queue *q, struct mkioq_cqe *cqes,
			int max, int ms)
{
	int n = 0, got;

	while (n < max) {
		got = mkioq_read_cqes(q, cqes + n, max - n, ms);
		if (got <= 0)
			break;
		n += got;
	}
	return n;
}

/*
 * A FENCE completes only when every slot that read CLAIMED when it was
 * claimed has left CLAIMED, whoever claimed it: here a userspace engine
 * (mkioq_claim() on the same ring). Nobody rings after the engine
 * completes: the held FENCE is looked at again on its own (DOORBELL: the
 * recheck timer; POLL: the thread's passes). No record comes for the slot
 * the module did not claim.
 */
TEST_F(svc, fence_waits_for_another_engines_claim)
{
	struct mkioq_cqe cqes[4];

	uint32_t *w = &self->q->words[5 * MKIOQ_SLOT_WORDS];

	if (variant->open_flags & MKIOQ_OPEN_POLL) {
		/* The poll thread would win a claim race: claim it in place. */
		request_words(w, &(struct mkioq_request){
			.op = MKIOQ_OP_READ, .src_handle = self->hsrc,
			.dst_handle = self->hdst, .byte_count = 64 });
		__atomic_store_n(&w[MKIOQ_WORD_STATUS], MKIOQ_STATE_CLAIMED,
				 __ATOMIC_RELEASE);
	} else {
		ASSERT_EQ(0, mkioq_submit_dma_read(self->q, 5, self->hsrc,
						   self->hdst, 64, 5));
		ASSERT_EQ(0, mkioq_claim(self->q, 5));
	}
	ASSERT_EQ(0, mkioq_submit(self->q, 0, &(struct mkioq_request){
		.op = MKIOQ_OP_FENCE, .src_handle = 1, .tag = 70 }));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ASSERT_TRUE(spin_status(self->q, 0, MKIOQ_STATE_CLAIMED, 20000));
	usleep(100000);
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, mkioq_slot_status(self->q, 0));
	EXPECT_EQ(-ETIMEDOUT, mkioq_read_cqes(self->q, cqes, 4, 0));

	ASSERT_EQ(0, mkioq_complete_bytes(self->q, 5, 64));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 0, 5000));
	ASSERT_EQ(1, collect_cqes(self->q, cqes, 4, 200));
	EXPECT_EQ(0, cqes[0].slot);
	EXPECT_EQ(70, cqes[0].tag);
	EXPECT_EQ(0, cqes[0].result);
}

/*
 * A producer's reservation (libmkioq reserves a slot EMPTY -> CLAIMED
 * while it fills the words) is a claim too: a FENCE claimed meanwhile
 * waits until the slot is published.
 */
TEST_F(svc, fence_waits_for_a_reservation)
{
	uint32_t *w = &self->q->words[9 * MKIOQ_SLOT_WORDS];
	uint32_t empty = MKIOQ_STATE_EMPTY;

	ASSERT_TRUE(__atomic_compare_exchange_n(&w[MKIOQ_WORD_STATUS], &empty,
						MKIOQ_STATE_CLAIMED, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED));
	ASSERT_EQ(0, mkioq_submit(self->q, 0, &(struct mkioq_request){
		.op = MKIOQ_OP_FENCE, .src_handle = 1, .tag = 71 }));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ASSERT_TRUE(spin_status(self->q, 0, MKIOQ_STATE_CLAIMED, 20000));
	usleep(100000);
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, mkioq_slot_status(self->q, 0));

	/* The producer finishes filling slot 9 and publishes it. */
	raw_publish(self->q, 9, &(struct mkioq_request){
		.op = MKIOQ_OP_READ, .src_handle = self->hsrc,
		.dst_handle = self->hdst, .byte_count = 64, .tag = 9 });
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 0, 5000));
	ASSERT_EQ(0, mkioq_doorbell(self->q));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_slot(self->q, 9, 5000));
}

TEST_HARNESS_MAIN

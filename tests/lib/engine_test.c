// SPDX-License-Identifier: GPL-2.0
/*
 * libmkioq's userspace engine (<mkioq_engine.h>) on host-owned rings, no
 * kernel needed: the module's semantics, errno for errno.
 *
 *  - arguments: params, registration and unregistration errnos, handle
 *    numbers (1..4096, lowest free first, ENOSPC when full);
 *  - requests: every request errno, in the module's order of checks, with
 *    nothing changed by a failed request but its TAG and STATUS; byte
 *    counts of 0; data byte for byte for READ and WRITE at random sizes
 *    and offsets, overlapping copies, an offset past 4 GiB;
 *  - 1, 2 and 8 workers against 3 producer threads: every request
 *    serviced exactly once, with its tag and its bytes;
 *  - FENCEs: after requests published before them (several workers),
 *    after a slot claimed by a mkioq_claim() caller and a producer's
 *    EMPTY -> CLAIMED reservation, chains, ECANCELED at stop;
 *  - unregister after the claim keeps the request; stop with requests
 *    in flight leaves nothing CLAIMED; records and their overflow; SRC=0
 *    slots untouched; doorbell and sleep; a ring in a memfd mapping
 *    (mkioq_queue_wrap()).
 *
 * MKIOQ_ENGINE_REQUESTS sets the stress tests' requests (default 10^5).
 * The same source is built with -fsanitize=thread (make tsan).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <libmkioq.h>
#include <mkioq_engine.h>

#include "kselftest_harness.h"

#define SLOTS		MKIOQ_MAX_SLOTS
#define BUF		(1u << 20)
#define SMALL		4096
#define FILL		0xa5
#define REG		(BUF / SLOTS)
#define SEC		1000000000ULL

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define UNDER_TSAN	1
#else
#define UNDER_TSAN	0
#endif

#define eng_msg(...) do {			\
	ksft_print_msg(__VA_ARGS__);		\
	fflush(stdout);				\
} while (0)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t env_num(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static uint8_t pat(uint32_t seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed * 0xff51afd7ULL;

	return (uint8_t)(x >> 29 ^ x >> 7);
}

static void fill(uint8_t *p, size_t n, uint32_t seed, uint64_t start)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = pat(seed, start + i);
}

/* Index of the first wrong byte, or n. */
static size_t check(const uint8_t *p, size_t n, uint32_t seed, uint64_t start)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != pat(seed, start + i))
			return i;
	return n;
}

static size_t count_not(const uint8_t *p, size_t n, uint8_t v)
{
	size_t i, bad = 0;

	for (i = 0; i < n; i++)
		bad += p[i] != v;
	return bad;
}

static uint32_t *wp(struct mkioq_queue *q, uint32_t slot, unsigned int w)
{
	return &q->words[slot * MKIOQ_SLOT_WORDS + w];
}

static uint32_t word(struct mkioq_queue *q, uint32_t slot, unsigned int w)
{
	return __atomic_load_n(wp(q, slot, w), __ATOMIC_ACQUIRE);
}

/*
 * The ring's words, read atomically: the engine writes some of them
 * meanwhile. (A plain memcpy() of words that are then published with a
 * release store and claimed by compare-and-swap is race-free in C11, but
 * ThreadSanitizer checks a compare-and-swap before its acquire.)
 */
static void ring_snap(struct mkioq_queue *q, uint32_t *out)
{
	uint32_t i;

	for (i = 0; i < q->slot_count * MKIOQ_SLOT_WORDS; i++)
		out[i] = __atomic_load_n(&q->words[i], __ATOMIC_RELAXED);
}

/* Publish as a GPU would, with no library checks (any op, SRC 0...). */
static void raw_store(struct mkioq_queue *q, uint32_t slot, uint32_t state,
		      uint32_t op, uint32_t src, uint32_t dst, uint64_t off,
		      uint32_t n, uint32_t tag)
{
	__atomic_store_n(wp(q, slot, MKIOQ_WORD_OP), op, __ATOMIC_RELAXED);
	__atomic_store_n(wp(q, slot, MKIOQ_WORD_SRC_HANDLE), src, __ATOMIC_RELAXED);
	__atomic_store_n(wp(q, slot, MKIOQ_WORD_DST_HANDLE), dst, __ATOMIC_RELAXED);
	__atomic_store_n(wp(q, slot, MKIOQ_WORD_OFFSET_LO), (uint32_t)off,
			 __ATOMIC_RELAXED);
	__atomic_store_n(wp(q, slot, MKIOQ_WORD_OFFSET_HI),
			 (uint32_t)(off >> 32), __ATOMIC_RELAXED);
	__atomic_store_n(wp(q, slot, MKIOQ_WORD_BYTE_COUNT), n,
			 __ATOMIC_RELAXED);
	__atomic_store_n(wp(q, slot, MKIOQ_WORD_TAG), tag, __ATOMIC_RELAXED);
	/* Release: pairs with the engine's acquiring claim. */
	__atomic_store_n(wp(q, slot, MKIOQ_WORD_STATUS), state,
			 __ATOMIC_RELEASE);
}

static void raw_publish(struct mkioq_queue *q, uint32_t slot, uint32_t op,
			uint32_t src, uint32_t dst, uint64_t off, uint32_t n,
			uint32_t tag)
{
	raw_store(q, slot, MKIOQ_STATE_PUBLISHED, op, src, dst, off, n, tag);
}

/*
 * A request that another claimer (a mkioq_claim() caller) holds: it goes
 * straight to CLAIMED, never through a PUBLISHED that a spinning worker
 * could claim first.
 */
static void raw_claimed(struct mkioq_queue *q, uint32_t slot, uint32_t op,
			uint32_t src, uint32_t dst, uint64_t off, uint32_t n,
			uint32_t tag)
{
	raw_store(q, slot, MKIOQ_STATE_CLAIMED, op, src, dst, off, n, tag);
}

/* Wait until @slot reads OK or ERROR; its STATUS, or -ETIMEDOUT. */
static int wait_done(struct mkioq_queue *q, uint32_t slot, int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000;
	uint32_t st;

	for (;;) {
		st = word(q, slot, MKIOQ_WORD_STATUS);
		if (st == MKIOQ_RESULT_OK || st == MKIOQ_RESULT_ERROR)
			return (int)st;
		if (now_ns() > end)
			return -ETIMEDOUT;
		sched_yield();
	}
}

static bool wait_status(struct mkioq_queue *q, uint32_t slot, uint32_t want,
			int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000;

	while (word(q, slot, MKIOQ_WORD_STATUS) != want) {
		if (now_ns() > end)
			return false;
		sched_yield();
	}
	return true;
}

/* Read records for up to @ms until @want came; returns how many. */
static int collect(struct mkioq_engine *e, struct mkioq_cqe *cqes, int want,
		   int ms)
{
	int n = 0, got;

	while (n < want) {
		got = mkioq_engine_read_cqes(e, cqes + n, want - n, ms);
		if (got <= 0)
			break;
		n += got;
	}
	return n;
}

static struct mkioq_engine *new_engine(struct mkioq_queue *q,
				       unsigned int workers, uint32_t spin_us,
				       uint32_t sleep_us)
{
	struct mkioq_engine_params p = {
		.size = sizeof(p), .workers = workers, .spin_us = spin_us,
		.sleep_us = sleep_us,
	};
	struct mkioq_engine *e = NULL;

	if (mkioq_engine_new(q, &p, &e))
		return NULL;
	return e;
}

/* ------------------------------------------------------------------ */
/* Arguments                                                           */
/* ------------------------------------------------------------------ */

TEST(params)
{
	struct mkioq_engine_params p = { .size = sizeof(p) };
	struct {
		struct mkioq_engine_params p;
		uint32_t tail[4];
	} big = { .p = { .size = sizeof(big) } };
	struct mkioq_engine *e = NULL;
	struct mkioq_queue *q;

	ASSERT_EQ(0, mkioq_queue_new(8, &q));
	EXPECT_EQ(-EINVAL, mkioq_engine_new(NULL, &p, &e));
	EXPECT_EQ(-EINVAL, mkioq_engine_new(q, &p, NULL));
	p.size = MKIOQ_ENGINE_PARAMS_SIZE_VER0 - 1;
	EXPECT_EQ(-EINVAL, mkioq_engine_new(q, &p, &e));
	p.size = sizeof(p);
	p.flags = MKIOQ_ENGINE_F_ALL << 1;
	EXPECT_EQ(-EINVAL, mkioq_engine_new(q, &p, &e));
	p.flags = 0;
	p.workers = MKIOQ_ENGINE_MAX_WORKERS + 1;
	EXPECT_EQ(-EINVAL, mkioq_engine_new(q, &p, &e));
	p.workers = 0;
	p.spin_us = MKIOQ_ENGINE_SPIN_MAX_US + 1;
	EXPECT_EQ(-EINVAL, mkioq_engine_new(q, &p, &e));
	p.spin_us = 0;
	p.sleep_us = MKIOQ_ENGINE_SLEEP_MAX_US + 1;
	EXPECT_EQ(-EINVAL, mkioq_engine_new(q, &p, &e));
	p.sleep_us = 0;
	p.look_gap_ns = MKIOQ_ENGINE_LOOK_GAP_MAX_NS + 1;
	EXPECT_EQ(-EINVAL, mkioq_engine_new(q, &p, &e));
	p.look_gap_ns = 0;
	EXPECT_EQ(MKIOQ_ENGINE_PARAMS_SIZE_VER1, sizeof(p));
	/* Larger than ours: fine while the unknown bytes are zero. */
	ASSERT_EQ(0, mkioq_engine_new(q, &big.p, &e));
	mkioq_engine_free(e);
	big.tail[3] = 1;
	EXPECT_EQ(-E2BIG, mkioq_engine_new(q, &big.p, &e));
	p.size = 8192;
	EXPECT_EQ(-E2BIG, mkioq_engine_new(q, &p, &e));

	/* NULL params: the defaults; 64 workers is allowed. */
	e = NULL;
	ASSERT_EQ(0, mkioq_engine_new(q, NULL, &e));
	mkioq_engine_free(e);
	p = (struct mkioq_engine_params){ .size = MKIOQ_ENGINE_PARAMS_SIZE_VER0,
					  .workers = 64 };
	ASSERT_EQ(0, mkioq_engine_new(q, &p, &e));
	ASSERT_EQ(0, mkioq_engine_start(e));
	EXPECT_EQ(-EBUSY, mkioq_engine_start(e));
	ASSERT_EQ(0, mkioq_engine_stop(e));
	ASSERT_EQ(0, mkioq_engine_stop(e));
	/* Stopped engines start again. */
	ASSERT_EQ(0, mkioq_engine_start(e));
	mkioq_engine_free(e);
	mkioq_engine_free(NULL);

	EXPECT_EQ(-EINVAL, mkioq_engine_start(NULL));
	EXPECT_EQ(-EINVAL, mkioq_engine_stop(NULL));
	EXPECT_EQ(-EINVAL, mkioq_engine_doorbell(NULL));
	EXPECT_EQ(-EINVAL, mkioq_engine_stats(NULL, NULL));
	EXPECT_EQ(-EINVAL, mkioq_engine_unregister(NULL, 1));
	EXPECT_EQ(-EINVAL, mkioq_engine_read_cqes(NULL, NULL, 1, 0));
	mkioq_queue_free(q);
}

/*
 * MKIOQ_ENGINE_F_NO_RECORDS: 8 workers complete rounds of every slot, good
 * READs and past-the-end ones, with a FENCE in the last slot; each result
 * is in its slot alone, the counters add up, and no record is kept.
 */
TEST(no_records)
{
	struct mkioq_engine_params p = {
		.size = sizeof(p), .workers = 8,
		.flags = MKIOQ_ENGINE_F_NO_RECORDS,
	};
	const uint32_t rounds = UNDER_TSAN ? 20 : 200, reg = BUF / SLOTS;
	struct mkioq_engine_stats st;
	struct mkioq_engine *e = NULL;
	uint32_t hsrc, hdst[SLOTS], r, s, bad = 0;
	uint8_t *src = malloc(BUF), *dst = malloc(BUF);
	struct mkioq_cqe cqe;
	struct mkioq_queue *q;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	fill(src, BUF, 3, 0);
	ASSERT_EQ(0, mkioq_queue_new(SLOTS, &q));
	ASSERT_EQ(0, mkioq_engine_new(q, &p, &e));
	ASSERT_EQ(0, mkioq_engine_register_mem(e, src, BUF, MKIOQ_ACCESS_READ,
					       &hsrc));
	for (s = 0; s < SLOTS; s++)
		ASSERT_EQ(0, mkioq_engine_register_mem(e, dst + s * reg, reg,
						       MKIOQ_ACCESS_WRITE,
						       &hdst[s]));
	ASSERT_EQ(0, mkioq_engine_start(e));
	for (r = 0; r < rounds; r++) {
		memset(dst, FILL, BUF);
		for (s = 0; s < SLOTS - 1; s++) {
			/* Every 7th request runs past the source's end. */
			uint64_t off = (s + r) % 7 ? (uint64_t)(s + r) * 64 :
				       BUF - reg / 2;

			raw_publish(q, s, MKIOQ_OP_READ, hsrc, hdst[s], off,
				    reg, r);
		}
		raw_publish(q, SLOTS - 1, MKIOQ_OP_FENCE, hsrc, 0, 0, 0, r);
		mkioq_engine_doorbell(e);
		for (s = 0; s < SLOTS; s++) {
			bool past = s < SLOTS - 1 && !((s + r) % 7);

			ASSERT_EQ(past ? MKIOQ_RESULT_ERROR : MKIOQ_RESULT_OK,
				  wait_done(q, s, 20000));
			if (past) {
				bad++;
				EXPECT_EQ(ERANGE, word(q, s, MKIOQ_WORD_TAG));
				EXPECT_EQ(0, count_not(dst + s * reg, reg,
							 FILL));
			} else if (s < SLOTS - 1) {
				EXPECT_EQ(reg, word(q, s,
						    MKIOQ_WORD_BYTE_COUNT));
				EXPECT_EQ(reg, check(dst + s * reg, reg, 3,
						     (uint64_t)(s + r) * 64));
			}
		}
	}
	EXPECT_EQ(-EOPNOTSUPP, mkioq_engine_read_cqes(e, &cqe, 1, 0));
	EXPECT_NE(NULL, strstr(mkioq_strerror_call("mkioq_engine_read_cqes",
						   -EOPNOTSUPP), ". Fix: "));
	ASSERT_EQ(0, mkioq_engine_stats(e, &st));
	EXPECT_EQ((uint64_t)rounds * SLOTS, st.completed);
	EXPECT_EQ(bad, st.errors);
	EXPECT_EQ(0, st.cq_overflow);
	EXPECT_EQ((uint64_t)(rounds * (SLOTS - 1) - bad) * reg, st.bytes);
	mkioq_engine_free(e);
	mkioq_queue_free(q);
	free(src);
	free(dst);
}

/*
 * A request whose owner is busy is taken by another worker: with 2
 * workers, slots 0-7 are worker 0's; while it copies 256 MiB in slot 0,
 * a small READ in slot 1 completes, the long copy still in hand.
 */
TEST(busy_owner_slot_is_taken)
{
	const size_t big = 256u << 20;
	uint8_t *src = malloc(big), *dst = malloc(big), small[64] = { 0 };
	struct mkioq_engine *e;
	struct mkioq_queue *q;
	uint32_t hsrc, hdst, hsmall;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	memset(src, 0x3c, big);
	memset(dst, 0, big);
	ASSERT_EQ(0, mkioq_queue_new(SLOTS, &q));
	e = new_engine(q, 2, 0, 0);
	ASSERT_NE(NULL, e);
	ASSERT_EQ(0, mkioq_engine_register_mem(e, src, big, MKIOQ_ACCESS_READ,
					       &hsrc));
	ASSERT_EQ(0, mkioq_engine_register_mem(e, dst, big, MKIOQ_ACCESS_RW,
					       &hdst));
	ASSERT_EQ(0, mkioq_engine_register_mem(e, small, sizeof(small),
					       MKIOQ_ACCESS_WRITE, &hsmall));
	ASSERT_EQ(0, mkioq_engine_start(e));
	raw_publish(q, 0, MKIOQ_OP_READ, hsrc, hdst, 0, (uint32_t)big, 1);
	mkioq_engine_doorbell(e);
	ASSERT_TRUE(wait_status(q, 0, MKIOQ_STATE_CLAIMED, 20000));
	raw_publish(q, 1, MKIOQ_OP_READ, hsrc, hsmall, 0, sizeof(small), 2);
	mkioq_engine_doorbell(e);
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_done(q, 1, 20000));
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, word(q, 0, MKIOQ_WORD_STATUS));
	EXPECT_EQ(0, count_not(small, sizeof(small), 0x3c));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_done(q, 0, 60000));
	EXPECT_EQ(0, memcmp(src, dst, big));
	mkioq_engine_free(e);
	mkioq_queue_free(q);
	free(src);
	free(dst);
}

TEST(register_errors)
{
	static uint8_t mem[SMALL];
	struct mkioq_engine_stats st;
	struct mkioq_engine *e;
	struct mkioq_queue *q;
	struct mkioq_cqe cqe;
	uint32_t h = 0, h1, h2, h3, i;
	int memfd;

	ASSERT_EQ(0, mkioq_queue_new(8, &q));
	ASSERT_EQ(0, mkioq_engine_new(q, NULL, &e));
	EXPECT_EQ(-EINVAL, mkioq_engine_register_mem(NULL, mem, 1, 1, &h));
	EXPECT_EQ(-EINVAL, mkioq_engine_register_mem(e, NULL, 1, 1, &h));
	EXPECT_EQ(-EINVAL, mkioq_engine_register_mem(e, mem, 1, 1, NULL));
	EXPECT_EQ(-EINVAL, mkioq_engine_register_mem(e, mem, 1, 0, &h));
	EXPECT_EQ(-EINVAL, mkioq_engine_register_mem(e, mem, 1, 4, &h));
	EXPECT_EQ(-EINVAL, mkioq_engine_register_mem(e, mem, 1,
						     MKIOQ_ACCESS_RW | 8, &h));
	EXPECT_EQ(-EINVAL, mkioq_engine_register_mem(e, mem, 0,
						     MKIOQ_ACCESS_READ, &h));
	/* Access is checked before length, length before the range. */
	EXPECT_EQ(-EINVAL, mkioq_engine_register_mem(e, mem, 0, 0, &h));
	EXPECT_EQ(-EOVERFLOW, mkioq_engine_register_mem(e, mem, UINT64_MAX,
							MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(0, h);

	/* dma-bufs: the descriptor, then what it is. */
	EXPECT_EQ(-EINVAL, mkioq_engine_register_dmabuf(e, 0, 0, 1, 0, &h));
	EXPECT_EQ(-EINVAL, mkioq_engine_register_dmabuf(e, -1, 0, 0,
						MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-EBADF, mkioq_engine_register_dmabuf(e, -1, 0, 1,
						MKIOQ_ACCESS_READ, &h));
	EXPECT_EQ(-EINVAL, mkioq_engine_register_dmabuf(NULL, -1, 0, 1,
						MKIOQ_ACCESS_READ, &h));
	memfd = memfd_create("not-a-dmabuf", MFD_CLOEXEC);
	ASSERT_GE(memfd, 0);
	ASSERT_EQ(0, ftruncate(memfd, 4096));
	EXPECT_EQ(-EINVAL, mkioq_engine_register_dmabuf(e, memfd, 0, 4096,
						MKIOQ_ACCESS_READ, &h));
	close(memfd);
	EXPECT_EQ(-EBADF, mkioq_engine_register_dmabuf(e, memfd, 0, 4096,
						MKIOQ_ACCESS_READ, &h));

	/* Numbers: from 1, the lowest free one first. */
	ASSERT_EQ(0, mkioq_engine_register_mem(e, mem, 1, 1, &h1));
	ASSERT_EQ(0, mkioq_engine_register_mem(e, mem, 2, 2, &h2));
	ASSERT_EQ(0, mkioq_engine_register_mem(e, mem, 3, 3, &h3));
	EXPECT_EQ(1, h1);
	EXPECT_EQ(2, h2);
	EXPECT_EQ(3, h3);
	EXPECT_EQ(0, mkioq_engine_unregister(e, h2));
	EXPECT_EQ(-ENOENT, mkioq_engine_unregister(e, h2));
	EXPECT_EQ(-ENOENT, mkioq_engine_unregister(e, 0));
	EXPECT_EQ(-ENOENT, mkioq_engine_unregister(e, 4));
	EXPECT_EQ(-ENOENT, mkioq_engine_unregister(e, 4097));
	EXPECT_EQ(-ENOENT, mkioq_engine_unregister(e, UINT32_MAX));
	ASSERT_EQ(0, mkioq_engine_register_mem(e, mem, 2, 2, &h));
	EXPECT_EQ(2, h);

	/* Full at 4096: ENOSPC, after the argument checks. */
	for (i = 4; i <= MKIOQ_ENGINE_MAX_HANDLES; i++) {
		ASSERT_EQ(0, mkioq_engine_register_mem(e, mem, 1, 1, &h));
		ASSERT_EQ(i, h);
	}
	EXPECT_EQ(-ENOSPC, mkioq_engine_register_mem(e, mem, 1, 1, &h));
	EXPECT_EQ(-EINVAL, mkioq_engine_register_mem(e, mem, 0, 1, &h));
	ASSERT_EQ(0, mkioq_engine_stats(e, &st));
	EXPECT_EQ(MKIOQ_ENGINE_MAX_HANDLES, st.handles);
	EXPECT_EQ(0, st.workers);
	EXPECT_EQ(0, mkioq_engine_unregister(e, 4000));
	ASSERT_EQ(0, mkioq_engine_register_mem(e, mem, 1, 1, &h));
	EXPECT_EQ(4000, h);

	/* No record before anything completed. */
	EXPECT_EQ(-ETIMEDOUT, mkioq_engine_read_cqes(e, &cqe, 1, 0));
	EXPECT_EQ(-ETIMEDOUT, mkioq_engine_read_cqes(e, &cqe, 1, 20));
	EXPECT_EQ(-EINVAL, mkioq_engine_read_cqes(e, &cqe, 0, 0));
	EXPECT_EQ(-EINVAL, mkioq_engine_read_cqes(e, NULL, 1, 0));
	mkioq_engine_free(e);
	mkioq_queue_free(q);
}

TEST(strerror_texts)
{
	static const int errs[] = {
		EINVAL, E2BIG, EBADF, EACCES, EOVERFLOW, ERANGE, ENOSPC,
		ENOENT, ENOMEM, EBUSY, EAGAIN, ETIMEDOUT, EOPNOTSUPP, EFBIG,
		ECANCELED, ENOBUFS,
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errs); i++) {
		const char *t = mkioq_engine_strerror(-errs[i]);

		ASSERT_NE(NULL, t);
		EXPECT_STREQ(t, mkioq_engine_strerror(errs[i]));
		EXPECT_LT(20, strlen(t));
	}
	EXPECT_STREQ(mkioq_strerror(EPROTO), mkioq_engine_strerror(-EPROTO));
	EXPECT_STREQ("success", mkioq_engine_strerror(0));
	EXPECT_NE(NULL, strstr(mkioq_strerror_call(
		"mkioq_engine_register_dmabuf", -EACCES), ". Fix: "));
}

/* ------------------------------------------------------------------ */
/* The fixture: an engine of 1, 2 or 8 workers over a 64-slot ring      */
/* ------------------------------------------------------------------ */

FIXTURE(eng) {
	struct mkioq_queue *q;
	struct mkioq_engine *e;
	uint8_t *src, *dst, *ro, *small;
	uint32_t hsrc, hdst, hro, hwo, hsmall, hstale;
	uint32_t hreg[SLOTS];	/* dst + s * REG: requests in flight together */
};

FIXTURE_VARIANT(eng) {
	unsigned int workers;
};

FIXTURE_VARIANT_ADD(eng, w1) {
	.workers = 1,
};

FIXTURE_VARIANT_ADD(eng, w2) {
	.workers = 2,
};

FIXTURE_VARIANT_ADD(eng, w8) {
	.workers = 8,
};

FIXTURE_SETUP(eng)
{
	uint32_t s;

	memset(self, 0, sizeof(*self));
	ASSERT_EQ(0, mkioq_queue_new(SLOTS, &self->q));
	self->e = new_engine(self->q, variant->workers, 0, 0);
	ASSERT_NE(NULL, self->e);
	self->src = malloc(BUF);
	self->dst = malloc(BUF);
	self->ro = malloc(BUF);
	self->small = malloc(SMALL);
	ASSERT_NE(NULL, self->src);
	ASSERT_NE(NULL, self->dst);
	ASSERT_NE(NULL, self->ro);
	ASSERT_NE(NULL, self->small);
	fill(self->src, BUF, 1, 0);
	memset(self->dst, FILL, BUF);
	fill(self->ro, BUF, 2, 0);
	memset(self->small, FILL, SMALL);
	/* Handles 1..5, 6..69 the regions, then 70 unregistered (stale). */
	ASSERT_EQ(0, mkioq_engine_register_mem(self->e, self->src, BUF,
					       MKIOQ_ACCESS_READ, &self->hsrc));
	ASSERT_EQ(0, mkioq_engine_register_mem(self->e, self->dst, BUF,
					       MKIOQ_ACCESS_RW, &self->hdst));
	ASSERT_EQ(0, mkioq_engine_register_mem(self->e, self->ro, BUF,
					       MKIOQ_ACCESS_READ, &self->hro));
	ASSERT_EQ(0, mkioq_engine_register_mem(self->e, self->dst, BUF,
					       MKIOQ_ACCESS_WRITE, &self->hwo));
	ASSERT_EQ(0, mkioq_engine_register_mem(self->e, self->small, SMALL,
					       MKIOQ_ACCESS_RW,
					       &self->hsmall));
	for (s = 0; s < SLOTS; s++)
		ASSERT_EQ(0, mkioq_engine_register_mem(self->e,
						       self->dst + s * REG,
						       REG, MKIOQ_ACCESS_WRITE,
						       &self->hreg[s]));
	ASSERT_EQ(0, mkioq_engine_register_mem(self->e, self->src, BUF,
					       MKIOQ_ACCESS_RW,
					       &self->hstale));
	ASSERT_EQ(0, mkioq_engine_unregister(self->e, self->hstale));
	ASSERT_EQ(0, mkioq_engine_start(self->e));
}

FIXTURE_TEARDOWN(eng)
{
	mkioq_engine_free(self->e);
	mkioq_queue_free(self->q);
	free(self->src);
	free(self->dst);
	free(self->ro);
	free(self->small);
}

/* Publish, ring, wait: the final STATUS. */
static int run_one(struct mkioq_queue *q, struct mkioq_engine *e,
		   uint32_t slot, uint32_t op, uint32_t src, uint32_t dst,
		   uint64_t off, uint32_t n, uint32_t tag)
{
	raw_publish(q, slot, op, src, dst, off, n, tag);
	mkioq_engine_doorbell(e);
	return wait_done(q, slot, 20000);
}

struct bad_case {
	const char *what;
	uint32_t op, src, dst;
	uint64_t off;
	uint32_t n;
	int err;		/* 0: completes OK with BYTE_COUNT n */
};

/*
 * Every request errno, where two apply the first in the module's order
 * (op, size, handles, access, source range, destination range), and the
 * byte counts of 0: a failed request changes nothing but TAG and
 * STATUS, its record carries the tag and -errno.
 */
TEST_F(eng, request_errors)
{
	const uint32_t S = self->hsrc, D = self->hdst, R = self->hro,
		       W = self->hwo, M = self->hsmall, X = self->hstale;
	const uint32_t RD = MKIOQ_OP_READ, WR = MKIOQ_OP_WRITE;
	const struct bad_case cases[] = {
		{ "op 0", 0, S, D, 0, 16, EOPNOTSUPP },
		{ "op 7, bad handles", 7, 999, 0, 0, 16, EOPNOTSUPP },
		{ "op ~0, too large", 0xffffffff, S, D, 0, 0x80000000u,
		  EOPNOTSUPP },
		{ "too large", RD, S, D, 0, 0x80000000u, EFBIG },
		{ "too large, bad handles", WR, 999, 0, 0, 0xffffffffu, EFBIG },
		{ "unknown src", RD, 999, D, 0, 16, ENOENT },
		{ "dst 0", RD, S, 0, 0, 16, ENOENT },
		{ "dst 4097", RD, S, 4097, 0, 16, ENOENT },
		{ "src 4096 (free)", RD, 4096, D, 0, 16, ENOENT },
		{ "stale src", RD, X, D, 0, 16, ENOENT },
		{ "unknown src, read-only dst", RD, 999, R, 0, 16, ENOENT },
		{ "read-only dst, unknown src", RD, S, 0xffffffff, 0, 16,
		  ENOENT },
		{ "dst read-only", RD, S, R, 0, 16, EACCES },
		{ "src write-only", RD, W, D, 0, 16, EACCES },
		{ "no access, past the end", RD, S, R, UINT64_MAX, 16, EACCES },
		{ "overflow", RD, S, D, UINT64_MAX - 4, 16, EOVERFLOW },
		{ "offset past end", RD, S, D, BUF, 1, ERANGE },
		{ "count past end", RD, S, D, BUF - 4096, 4097, ERANGE },
		{ "past the dst's end", RD, S, M, 0, SMALL + 1, ERANGE },
		{ "write past dst", WR, S, D, BUF - 1, 2, ERANGE },
		{ "write: src range before dst overflow", WR, M, D,
		  UINT64_MAX, SMALL + 1, ERANGE },
		{ "write overflow", WR, S, D, UINT64_MAX, 2, EOVERFLOW },
		{ "offset_hi only", RD, S, D, 1ULL << 32, 1, ERANGE },
		{ "offset_hi, write", WR, S, D, 5ULL << 32, 0, ERANGE },
		{ "0 bytes at the end", RD, S, D, BUF, 0, 0 },
		{ "0 bytes past the end", RD, S, D, BUF + 1, 0, ERANGE },
		{ "0 bytes, write at the end", WR, S, D, BUF, 0, 0 },
		{ "0 bytes, overflow", RD, S, D, UINT64_MAX, 0, ERANGE },
		{ "0 bytes, read-only dst", RD, S, R, 0, 0, EACCES },
	};
	uint8_t *snap_src = malloc(BUF), *snap_dst = malloc(BUF);
	uint32_t before[SLOTS * MKIOQ_SLOT_WORDS], after[SLOTS * MKIOQ_SLOT_WORDS];
	struct mkioq_engine_stats st;
	unsigned int i, errors = 0;

	ASSERT_NE(NULL, snap_src);
	ASSERT_NE(NULL, snap_dst);
	memcpy(snap_src, self->src, BUF);
	memcpy(snap_dst, self->dst, BUF);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct bad_case *c = &cases[i];
		uint32_t slot = (7 * i) % SLOTS, *b = &before[slot * 8];
		struct mkioq_cqe cqe;

		ring_snap(self->q, before);
		ASSERT_EQ(c->err ? MKIOQ_RESULT_ERROR : MKIOQ_RESULT_OK,
			  run_one(self->q, self->e, slot, c->op, c->src,
				  c->dst, c->off, c->n, 1000 + i))
			TH_LOG("%s: TAG %u", c->what,
			       word(self->q, slot, MKIOQ_WORD_TAG));
		/* Only this slot changed: the request, then TAG/STATUS. */
		b[MKIOQ_WORD_OP] = c->op;
		b[MKIOQ_WORD_SRC_HANDLE] = c->src;
		b[MKIOQ_WORD_DST_HANDLE] = c->dst;
		b[MKIOQ_WORD_OFFSET_LO] = (uint32_t)c->off;
		b[MKIOQ_WORD_OFFSET_HI] = (uint32_t)(c->off >> 32);
		b[MKIOQ_WORD_BYTE_COUNT] = c->n;
		b[MKIOQ_WORD_TAG] = c->err ? (uint32_t)c->err : 1000 + i;
		b[MKIOQ_WORD_STATUS] = c->err ? MKIOQ_RESULT_ERROR :
						MKIOQ_RESULT_OK;
		ring_snap(self->q, after);
		EXPECT_EQ(0, memcmp(before, after, sizeof(before)))
			TH_LOG("%s", c->what);
		ASSERT_EQ(1, collect(self->e, &cqe, 1, 5000));
		EXPECT_EQ(slot, cqe.slot);
		EXPECT_EQ(c->err ? MKIOQ_RESULT_ERROR : MKIOQ_RESULT_OK,
			  cqe.status);
		EXPECT_EQ(c->err ? -c->err : (int)c->n, cqe.result)
			TH_LOG("%s", c->what);
		EXPECT_EQ(1000 + i, cqe.tag);
		EXPECT_EQ(0, cqe.flags);
		EXPECT_EQ(0, memcmp(snap_src, self->src, BUF));
		EXPECT_EQ(0, memcmp(snap_dst, self->dst, BUF));
		EXPECT_EQ(0, count_not(self->small, SMALL, FILL));
		errors += c->err != 0;
		ASSERT_EQ(0, mkioq_recycle(self->q, slot));
	}
	ASSERT_EQ(0, mkioq_engine_stats(self->e, &st));
	EXPECT_EQ(ARRAY_SIZE(cases), st.completed);
	EXPECT_EQ(errors, st.errors);
	EXPECT_EQ(0, st.cq_overflow);
	EXPECT_EQ(variant->workers, st.workers);
	free(snap_src);
	free(snap_dst);
}

/* READ and WRITE at random sizes and offsets: every byte, none more. */
TEST_F(eng, data_random)
{
	uint64_t rng = 0x9e3779b97f4a7c15ULL ^ variant->workers;
	unsigned int i, rounds = 300;

	for (i = 0; i < rounds; i++) {
		bool wr = rnd(&rng) & 1;
		uint32_t n = (uint32_t)(1 + rnd(&rng) % (rnd(&rng) & 1 ?
							 256 : 200000));
		uint64_t off = rnd(&rng) % (BUF - n + 1);
		uint32_t slot = (uint32_t)(rnd(&rng) % SLOTS), seed = 100 + i;
		uint64_t from = wr ? 0 : off, to = wr ? off : 0;

		fill(self->src + from, n, seed, from);
		ASSERT_EQ(MKIOQ_RESULT_OK,
			  run_one(self->q, self->e, slot,
				  wr ? MKIOQ_OP_WRITE : MKIOQ_OP_READ,
				  self->hsrc, self->hwo, off, n, i));
		EXPECT_EQ(n, word(self->q, slot, MKIOQ_WORD_BYTE_COUNT));
		EXPECT_EQ(i, word(self->q, slot, MKIOQ_WORD_TAG));
		ASSERT_EQ(n, check(self->dst + to, n, seed, from))
			TH_LOG("%s of %u at %" PRIu64, wr ? "WRITE" : "READ",
			       n, off);
		/* Not one byte outside the request's range. */
		ASSERT_EQ(0, count_not(self->dst, to, FILL));
		ASSERT_EQ(0, count_not(self->dst + to + n, BUF - to - n,
				       FILL));
		memset(self->dst + to, FILL, n);
		ASSERT_EQ(0, mkioq_recycle(self->q, slot));
	}
}

/* Overlapping ranges of one buffer: a memmove, in both directions. */
TEST_F(eng, overlapping_copies)
{
	uint32_t hsub, n = 100000;
	uint8_t *want = malloc(BUF);

	ASSERT_NE(NULL, want);
	/* A READ handle on dst + 1000: source overlaps the destination. */
	ASSERT_EQ(0, mkioq_engine_register_mem(self->e, self->dst + 1000,
					       BUF - 1000, MKIOQ_ACCESS_READ,
					       &hsub));
	fill(self->dst, BUF, 7, 0);
	memcpy(want, self->dst, BUF);
	memmove(want, want + 1000 + 50, n);
	/* READ: sub@50 -> dst@0, the source above the destination. */
	ASSERT_EQ(MKIOQ_RESULT_OK, run_one(self->q, self->e, 3, MKIOQ_OP_READ,
					 hsub, self->hdst, 50, n, 1));
	EXPECT_EQ(0, memcmp(want, self->dst, BUF));
	/* WRITE: dst@0 -> dst@700, the destination above the source. */
	memmove(want + 700, want, n);
	ASSERT_EQ(MKIOQ_RESULT_OK, run_one(self->q, self->e, 4, MKIOQ_OP_WRITE,
					 self->hdst, self->hdst, 700, n, 2));
	EXPECT_EQ(0, memcmp(want, self->dst, BUF));
	free(want);
}

/* OFFSET_HI counts: a READ from past 4 GiB of a 5 GiB handle. */
TEST_F(eng, offset_past_4gib)
{
	const uint64_t big = 5ULL << 30, at = (4ULL << 30) + 12345;
	uint8_t *p = mmap(NULL, big, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint32_t h;

	ASSERT_NE(MAP_FAILED, p);
	fill(p + at, 4096, 9, 0);
	ASSERT_EQ(0, mkioq_engine_register_mem(self->e, p, big,
					       MKIOQ_ACCESS_READ, &h));
	ASSERT_EQ(MKIOQ_RESULT_OK, run_one(self->q, self->e, 1, MKIOQ_OP_READ,
					 h, self->hdst, at, 4096, 1));
	EXPECT_EQ(4096, check(self->dst, 4096, 9, 0));
	EXPECT_EQ(MKIOQ_RESULT_ERROR, run_one(self->q, self->e, 2,
					    MKIOQ_OP_READ, h, self->hdst,
					    big - 100, 101, 2));
	EXPECT_EQ(ERANGE, word(self->q, 2, MKIOQ_WORD_TAG));
	munmap(p, big);
}

/* SRC=0 slots are the consumer's: never claimed, never a record. */
TEST_F(eng, source_zero_untouched)
{
	uint32_t before[8][MKIOQ_SLOT_WORDS], all[SLOTS * 8], s, i;
	struct mkioq_cqe cqes[8];
	struct mkioq_engine_stats st;

	for (i = 0; i < 8; i++) {
		s = 8 * i;
		if (i % 2) {
			ASSERT_EQ(0, mkioq_publish_slot(self->q, s, 7, 4096,
							99 + i));
		} else {
			/* Any op, any other word: SRC 0 decides. */
			raw_publish(self->q, s, i == 4 ? MKIOQ_OP_FENCE :
				    MKIOQ_OP_WRITE, 0, self->hdst, 12, 34,
				    99 + i);
		}
		ring_snap(self->q, all);
		memcpy(before[i], &all[s * 8], sizeof(before[i]));
	}
	for (i = 0; i < 8; i++)
		raw_publish(self->q, 8 * i + 1, MKIOQ_OP_READ, self->hsrc,
			    self->hreg[i], 0, 64, i);
	mkioq_engine_doorbell(self->e);
	for (i = 0; i < 8; i++)
		ASSERT_EQ(MKIOQ_RESULT_OK, wait_done(self->q, 8 * i + 1, 20000));
	usleep(20000);
	ring_snap(self->q, all);
	for (i = 0; i < 8; i++)
		EXPECT_EQ(0, memcmp(before[i], &all[8 * i * 8],
				    sizeof(before[i])));
	ASSERT_EQ(8, collect(self->e, cqes, 8, 1000));
	for (i = 0; i < 8; i++)
		EXPECT_EQ(1, cqes[i].slot % 8);
	EXPECT_EQ(-ETIMEDOUT, mkioq_engine_read_cqes(self->e, cqes, 8, 20));
	ASSERT_EQ(0, mkioq_engine_stats(self->e, &st));
	EXPECT_EQ(8, st.completed);
	EXPECT_EQ(8, st.claimed);
}

/*
 * Ingests and requests churn through the same slots: a slot recycled
 * and re-published with SRC 0 between a worker's sweep and its claim is
 * handed back (ABA), so no ingest is ever completed by the engine.
 */
TEST_F(eng, ingest_churn)
{
	struct mkioq_engine_stats st;
	uint32_t s, round, bad = 0;
	struct mkioq_cqe cqes[64];
	int n, i;

	for (round = 0; round < 2000; round++) {
		for (s = 0; s < 16; s++)
			raw_publish(self->q, s, MKIOQ_OP_READ, self->hsrc,
				    self->hreg[s], s, 8, round << 8 | s);
		for (s = 0; s < 16; s++) {
			if (wait_done(self->q, s, 20000) != MKIOQ_RESULT_OK)
				bad++;
			mkioq_recycle(self->q, s);
			/* An ingest, seen and consumed by its consumer. */
			mkioq_publish_slot(self->q, s, 5, 64, 0xfff00000 | s);
		}
		for (s = 0; s < 16; s++) {
			if (word(self->q, s, MKIOQ_WORD_STATUS) !=
			    MKIOQ_STATE_PUBLISHED ||
			    word(self->q, s, MKIOQ_WORD_TAG) !=
			    (0xfff00000 | s))
				bad++;
			mkioq_recycle(self->q, s);
		}
		while ((n = mkioq_engine_read_cqes(self->e, cqes, 64, 0)) > 0)
			for (i = 0; i < n; i++)
				bad += cqes[i].tag >= 0xfff00000;
	}
	EXPECT_EQ(0, bad);
	ASSERT_EQ(0, mkioq_engine_stats(self->e, &st));
	EXPECT_EQ(2000 * 16, st.completed);
	eng_msg("%u workers: %" PRIu64 " claim races, %" PRIu64
		" handed back\n", variant->workers, st.claim_races,
		st.handed_back);
}

/* ------------------------------------------------------------------ */
/* Producers                                                           */
/* ------------------------------------------------------------------ */

#define PRODUCERS	3
#define REGION		512	/* per-slot destination region */

struct producer {
	struct mkioq_queue *q;
	struct mkioq_engine *e;
	const uint8_t *src;
	uint8_t *dst;
	const uint32_t *hdst;
	uint32_t hsrc, id, first, nslots, quota;
	bool ring;
	uint64_t rng;
	uint64_t sent, reaped, bad_status, bad_tag, bad_count, bad_data,
		 bad_submit, stalls;
};

struct drain {
	struct mkioq_engine *e;
	_Atomic uint8_t *seen;		/* per tag: records */
	uint32_t tags;
	atomic_bool stop;
	uint64_t records, dropped, unknown, notices;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	struct mkioq_cqe cqes[256];
	int n, i;

	for (;;) {
		n = mkioq_engine_read_cqes(d->e, cqes, 256, 20);
		if (n == -ETIMEDOUT) {
			if (atomic_load(&d->stop))
				break;
			continue;
		}
		if (n < 0)
			break;
		for (i = 0; i < n; i++) {
			d->dropped += cqes[i].dropped;
			if (cqes[i].flags & MKIOQ_CQE_F_NOTICE) {
				d->notices++;
				continue;
			}
			d->records++;
			if (cqes[i].tag >= d->tags || cqes[i].status !=
			    MKIOQ_RESULT_OK)
				d->unknown++;
			else
				atomic_fetch_add(&d->seen[cqes[i].tag], 1);
		}
	}
	return NULL;
}

/* Tag t: producer t % 3's request t / 3, READ of a size and offset of t. */
static uint32_t req_bytes(uint32_t tag)
{
	return 1 + tag * 2654435761u % REGION;
}

static uint64_t req_off(uint32_t tag)
{
	return (uint64_t)tag * 7919 % (BUF - REGION);
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	uint32_t tag[SLOTS], i;
	bool busy[SLOTS] = { false };
	uint64_t last = now_ns();

	while (p->reaped < p->quota) {
		bool sent = false;

		for (i = 0; i < p->nslots; i++) {
			uint32_t slot = p->first + i;
			int st = mkioq_slot_status(p->q, slot);
			struct mkioq_completion c;
			struct mkioq_request req;

			if (busy[i]) {
				if (st != MKIOQ_RESULT_OK &&
				    st != MKIOQ_RESULT_ERROR)
					continue;
				if (mkioq_completion(p->q, slot, &c) ||
				    c.status != MKIOQ_RESULT_OK)
					p->bad_status++;
				else if (c.tag != tag[i])
					p->bad_tag++;
				else if (c.byte_count != req_bytes(tag[i]))
					p->bad_count++;
				else if (check(p->dst + slot * REGION,
					       req_bytes(tag[i]), 1,
					       req_off(tag[i])) !=
					 req_bytes(tag[i]))
					p->bad_data++;
				mkioq_recycle(p->q, slot);
				busy[i] = false;
				p->reaped++;
				last = now_ns();
			}
			if (p->sent == p->quota)
				continue;
			tag[i] = (uint32_t)(p->sent * PRODUCERS + p->id);
			req = (struct mkioq_request){
				.op = MKIOQ_OP_READ, .src_handle = p->hsrc,
				.dst_handle = p->hdst[slot],
				.byte_count = req_bytes(tag[i]),
				.offset = req_off(tag[i]), .tag = tag[i],
			};
			if (mkioq_submit(p->q, slot, &req)) {
				p->bad_submit++;
				continue;
			}
			busy[i] = true;
			p->sent++;
			sent = true;
		}
		if (sent && p->ring)
			mkioq_engine_doorbell(p->e);
		if (now_ns() - last > 60 * SEC) {
			p->stalls++;
			break;
		}
		if (!sent)
			sched_yield();
	}
	return NULL;
}

/*
 * Three producer threads own a third of the slots each (as GPU lanes
 * own theirs) and issue READs into per-slot regions; the workers contend
 * for the slots. Every request completes exactly once, OK, with its tag,
 * byte count and bytes; every record is delivered once.
 */
TEST_F_TIMEOUT(eng, producers, 900)
{
	uint32_t total = (uint32_t)env_num("MKIOQ_ENGINE_REQUESTS", 100000);
	uint32_t per = (total + PRODUCERS - 1) / PRODUCERS, hdst[SLOTS], s, t;
	struct drain d = { .e = self->e, .tags = per * PRODUCERS };
	struct producer prod[PRODUCERS];
	pthread_t th[PRODUCERS], dth;
	struct mkioq_engine_stats st;
	uint64_t t0, once = 0, dup = 0, i;

	d.seen = calloc(d.tags, 1);
	ASSERT_NE(NULL, d.seen);
	for (s = 0; s < SLOTS; s++)
		ASSERT_EQ(0, mkioq_engine_register_mem(self->e,
						       self->dst + s * REGION,
						       REGION,
						       MKIOQ_ACCESS_WRITE,
						       &hdst[s]));
	ASSERT_EQ(0, pthread_create(&dth, NULL, drain_main, &d));
	t0 = now_ns();
	for (t = 0; t < PRODUCERS; t++) {
		prod[t] = (struct producer){
			.q = self->q, .e = self->e, .src = self->src,
			.dst = self->dst, .hdst = hdst, .hsrc = self->hsrc,
			.id = t, .first = t * 21, .nslots = t < 2 ? 21 : 22,
			.quota = per, .ring = t != 1,
		};
		ASSERT_EQ(0, pthread_create(&th[t], NULL, producer_main,
					    &prod[t]));
	}
	for (t = 0; t < PRODUCERS; t++) {
		struct producer *p = &prod[t];

		pthread_join(th[t], NULL);
		EXPECT_EQ(per, p->sent);
		EXPECT_EQ(per, p->reaped);
		EXPECT_EQ(0, p->bad_status);
		EXPECT_EQ(0, p->bad_tag);
		EXPECT_EQ(0, p->bad_count);
		EXPECT_EQ(0, p->bad_data);
		EXPECT_EQ(0, p->bad_submit);
		EXPECT_EQ(0, p->stalls);
	}
	t0 = now_ns() - t0;
	/* Each record is posted after its STATUS: drain a little more. */
	usleep(50000);
	atomic_store(&d.stop, true);
	pthread_join(dth, NULL);
	for (i = 0; i < d.tags; i++) {
		once += d.seen[i] == 1;
		dup += d.seen[i] > 1;
	}
	ASSERT_EQ(0, mkioq_engine_stats(self->e, &st));
	/* 0 lost, 0 duplicated: by the slots, the records, the counters. */
	EXPECT_EQ(0, dup);
	EXPECT_EQ(0, d.unknown);
	EXPECT_EQ(d.tags, once + d.dropped);
	EXPECT_EQ(d.tags, st.completed);
	EXPECT_EQ(d.tags, st.claimed);
	EXPECT_EQ(0, st.errors);
	EXPECT_EQ(st.cq_overflow, d.dropped);
	eng_msg("%u workers, %u producers: %u requests in %.2f s (%.0f/s), "
		"%" PRIu64 " records, %" PRIu64 " dropped, %" PRIu64
		" passes, %" PRIu64 " claim races, %" PRIu64 " sleeps\n",
		variant->workers, PRODUCERS, d.tags, t0 / 1e9,
		d.tags / (t0 / 1e9), d.records, d.dropped, st.passes,
		st.claim_races, st.sleeps);
	free(d.seen);
}

/* ------------------------------------------------------------------ */
/* FENCEs                                                              */
/* ------------------------------------------------------------------ */

/*
 * Large READs, then a FENCE in a lower slot (claim order is not
 * publication order): when the FENCE's OK is seen, every earlier request
 * has completed, though several workers service them at once; its
 * record follows theirs.
 */
TEST_F(eng, fence_after_earlier_requests)
{
	struct mkioq_cqe cqes[32];
	uint32_t round, s, not_done;
	int n;

	for (round = 0; round < 30; round++) {
		for (s = 1; s <= 16; s++)
			raw_publish(self->q, s, MKIOQ_OP_READ, self->hsrc,
				    self->hreg[s], 0, REG, s);
		raw_publish(self->q, 0, MKIOQ_OP_FENCE, 1, 0, 0, 0, 77);
		mkioq_engine_doorbell(self->e);
		ASSERT_EQ(MKIOQ_RESULT_OK, wait_done(self->q, 0, 20000));
		not_done = 0;
		for (s = 1; s <= 16; s++)
			not_done += word(self->q, s, MKIOQ_WORD_STATUS) !=
				    MKIOQ_RESULT_OK;
		EXPECT_EQ(0, not_done) TH_LOG("round %u", round);
		EXPECT_EQ(0, word(self->q, 0, MKIOQ_WORD_BYTE_COUNT));
		EXPECT_EQ(77, word(self->q, 0, MKIOQ_WORD_TAG));
		n = collect(self->e, cqes, 17, 5000);
		ASSERT_EQ(17, n);
		EXPECT_EQ(0, cqes[16].slot);
		EXPECT_EQ(77, cqes[16].tag);
		EXPECT_EQ(0, cqes[16].result);
		EXPECT_EQ(MKIOQ_RESULT_OK, cqes[16].status);
		for (s = 0; s <= 16; s++)
			ASSERT_EQ(0, mkioq_recycle(self->q, s));
	}
}

/* A FENCE with nothing before it completes at once; a chain in order. */
TEST_F(eng, fence_alone_and_chained)
{
	struct mkioq_cqe cqes[4];
	uint32_t s;

	ASSERT_EQ(MKIOQ_RESULT_OK, run_one(self->q, self->e, 9, MKIOQ_OP_FENCE,
					 0xffffffff, 5, 6, 7, 8));
	EXPECT_EQ(0, word(self->q, 9, MKIOQ_WORD_BYTE_COUNT));
	ASSERT_EQ(1, collect(self->e, cqes, 1, 1000));
	EXPECT_EQ(8, cqes[0].tag);
	EXPECT_EQ(0, cqes[0].result);
	ASSERT_EQ(0, mkioq_recycle(self->q, 9));

	/* A slot held by a claimer; two FENCEs wait, then complete. */
	raw_claimed(self->q, 20, MKIOQ_OP_READ, self->hsrc, self->hdst, 0, 8,
		    20);
	raw_publish(self->q, 30, MKIOQ_OP_FENCE, 1, 0, 0, 0, 30);
	mkioq_engine_doorbell(self->e);
	ASSERT_TRUE(wait_status(self->q, 30, MKIOQ_STATE_CLAIMED, 5000));
	raw_publish(self->q, 10, MKIOQ_OP_FENCE, 1, 0, 0, 0, 10);
	mkioq_engine_doorbell(self->e);
	ASSERT_TRUE(wait_status(self->q, 10, MKIOQ_STATE_CLAIMED, 5000));
	usleep(50000);
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, word(self->q, 30, MKIOQ_WORD_STATUS));
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, word(self->q, 10, MKIOQ_WORD_STATUS));
	ASSERT_EQ(0, mkioq_complete_bytes(self->q, 20, 8));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_done(self->q, 10, 5000));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_done(self->q, 30, 5000));
	/* The later FENCE waited for the earlier one: records in order. */
	ASSERT_EQ(2, collect(self->e, cqes, 2, 1000));
	EXPECT_EQ(30, cqes[0].tag);
	EXPECT_EQ(10, cqes[1].tag);
	for (s = 0; s < SLOTS; s++)
		EXPECT_NE(MKIOQ_STATE_CLAIMED,
			  word(self->q, s, MKIOQ_WORD_STATUS));
}

/*
 * A FENCE waits for a slot claimed by a mkioq_claim() caller (another
 * engine), and posts no record for that slot; held, its slot stays
 * CLAIMED while the workers service other requests.
 */
TEST_F(eng, fence_waits_for_another_claimer)
{
	struct mkioq_cqe cqes[4];

	/* Claimed in place: the engine never sees it PUBLISHED. */
	raw_claimed(self->q, 5, MKIOQ_OP_READ, self->hsrc, self->hdst, 0, 64,
		    5);
	raw_publish(self->q, 0, MKIOQ_OP_FENCE, 1, 0, 0, 0, 70);
	mkioq_engine_doorbell(self->e);
	ASSERT_TRUE(wait_status(self->q, 0, MKIOQ_STATE_CLAIMED, 5000));
	/* Other requests go on meanwhile. */
	ASSERT_EQ(MKIOQ_RESULT_OK, run_one(self->q, self->e, 9, MKIOQ_OP_READ,
					 self->hsrc, self->hdst, 0, 64, 9));
	ASSERT_EQ(1, collect(self->e, cqes, 1, 1000));
	EXPECT_EQ(9, cqes[0].slot);
	usleep(100000);
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, word(self->q, 0, MKIOQ_WORD_STATUS));
	EXPECT_EQ(-ETIMEDOUT, mkioq_engine_read_cqes(self->e, cqes, 4, 0));

	ASSERT_EQ(0, mkioq_complete_bytes(self->q, 5, 64));
	/* No doorbell: the held FENCE is looked at on its own. */
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_done(self->q, 0, 5000));
	ASSERT_EQ(1, collect(self->e, cqes, 4, 200));
	EXPECT_EQ(0, cqes[0].slot);
	EXPECT_EQ(70, cqes[0].tag);
	EXPECT_EQ(0, cqes[0].result);

	/* The same with mkioq_claim() proper, as a second engine would. */
	ASSERT_EQ(0, mkioq_engine_stop(self->e));
	ASSERT_EQ(0, mkioq_recycle(self->q, 0));
	ASSERT_EQ(0, mkioq_recycle(self->q, 5));
	ASSERT_EQ(0, mkioq_submit_dma_read(self->q, 5, self->hsrc,
					   self->hdst, 64, 5));
	ASSERT_EQ(0, mkioq_claim(self->q, 5));
	ASSERT_EQ(0, mkioq_engine_start(self->e));
	raw_publish(self->q, 0, MKIOQ_OP_FENCE, 1, 0, 0, 0, 71);
	mkioq_engine_doorbell(self->e);
	ASSERT_TRUE(wait_status(self->q, 0, MKIOQ_STATE_CLAIMED, 5000));
	usleep(50000);
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, word(self->q, 0, MKIOQ_WORD_STATUS));
	ASSERT_EQ(0, mkioq_complete(self->q, 5));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_done(self->q, 0, 5000));
}

/*
 * A producer's EMPTY -> CLAIMED reservation is a claim too: a FENCE
 * claimed meanwhile waits until the slot is published, and then for its
 * request, which the engine services first.
 */
TEST_F(eng, fence_waits_for_a_reservation)
{
	uint32_t empty = MKIOQ_STATE_EMPTY;
	struct mkioq_cqe cqes[4];

	ASSERT_TRUE(__atomic_compare_exchange_n(wp(self->q, 9,
						   MKIOQ_WORD_STATUS), &empty,
						MKIOQ_STATE_CLAIMED, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED));
	raw_publish(self->q, 0, MKIOQ_OP_FENCE, 1, 0, 0, 0, 71);
	mkioq_engine_doorbell(self->e);
	ASSERT_TRUE(wait_status(self->q, 0, MKIOQ_STATE_CLAIMED, 5000));
	usleep(100000);
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, word(self->q, 0, MKIOQ_WORD_STATUS));

	/* The producer finishes filling slot 9 and publishes it. */
	raw_publish(self->q, 9, MKIOQ_OP_READ, self->hsrc, self->hdst, 0,
		    64 << 10, 9);
	mkioq_engine_doorbell(self->e);
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_done(self->q, 0, 5000));
	EXPECT_EQ(MKIOQ_RESULT_OK, wait_done(self->q, 9, 5000));
	ASSERT_EQ(2, collect(self->e, cqes, 2, 1000));
	EXPECT_EQ(9, cqes[0].slot);
	EXPECT_EQ(0, cqes[1].slot);
}

/* ------------------------------------------------------------------ */
/* Handles, stop, records                                              */
/* ------------------------------------------------------------------ */

/*
 * A request's handles are resolved and referenced when it is claimed: an
 * unregister while it copies does not fail it, and its bytes come from
 * the unregistered handle. A request claimed after fails with ENOENT.
 */
TEST_F(eng, unregister_after_claim_keeps_request)
{
	const uint64_t big = 256u << 20;
	uint8_t *from = malloc(big), *to = malloc(big);
	uint32_t hf, ht, before, round, kept = 0;

	ASSERT_NE(NULL, from);
	ASSERT_NE(NULL, to);
	fill(from, big, 41, 0);
	for (round = 0; round < 5 && !kept; round++) {
		memset(to, 0, big);
		ASSERT_EQ(0, mkioq_engine_register_mem(self->e, from, big,
						       MKIOQ_ACCESS_READ,
						       &hf));
		ASSERT_EQ(0, mkioq_engine_register_mem(self->e, to, big,
						       MKIOQ_ACCESS_WRITE,
						       &ht));
		raw_publish(self->q, 7, MKIOQ_OP_READ, hf, ht, 0,
			    (uint32_t)big, 7);
		mkioq_engine_doorbell(self->e);
		ASSERT_TRUE(wait_status(self->q, 7, MKIOQ_STATE_CLAIMED,
					20000));
		ASSERT_EQ(0, mkioq_engine_unregister(self->e, hf));
		ASSERT_EQ(0, mkioq_engine_unregister(self->e, ht));
		before = word(self->q, 7, MKIOQ_WORD_STATUS);
		ASSERT_EQ(MKIOQ_RESULT_OK, wait_done(self->q, 7, 60000));
		EXPECT_EQ(big, check(to, big, 41, 0));
		/* The unregister came while the request was in hand. */
		kept += before == MKIOQ_STATE_CLAIMED;
		ASSERT_EQ(0, mkioq_recycle(self->q, 7));
	}
	EXPECT_LT(0, kept);
	/* Gone for requests claimed after the unregister. */
	EXPECT_EQ(MKIOQ_RESULT_ERROR, run_one(self->q, self->e, 2,
					    MKIOQ_OP_READ, hf, self->hdst, 0,
					    1, 2));
	EXPECT_EQ(ENOENT, word(self->q, 2, MKIOQ_WORD_TAG));
	free(from);
	free(to);
}

/*
 * Stop with requests in flight: workers end after the request in hand;
 * nothing stays CLAIMED, every slot is PUBLISHED (untouched) or
 * completed, one record per completion; a held FENCE completes ERROR
 * ECANCELED. After stop nothing is claimed.
 */
TEST_F(eng, stop_with_requests_in_flight)
{
	struct mkioq_cqe cqes[SLOTS + 8];
	uint32_t s, published = 0, done = 0, h[62];
	uint8_t *big = malloc(62 * (size_t)BUF);
	struct mkioq_engine_stats st;
	int n;

	/* A foreign claim that a FENCE in slot 63 waits for. */
	raw_claimed(self->q, 62, MKIOQ_OP_READ, self->hsrc, self->hdst, 0, 8,
		    62);
	raw_publish(self->q, 63, MKIOQ_OP_FENCE, 1, 0, 0, 0, 63);
	mkioq_engine_doorbell(self->e);
	ASSERT_TRUE(wait_status(self->q, 63, MKIOQ_STATE_CLAIMED, 5000));
	/* 1 MiB each, into a region of its own. */
	ASSERT_NE(NULL, big);
	for (s = 0; s < 62; s++) {
		ASSERT_EQ(0, mkioq_engine_register_mem(self->e, big + s * BUF,
						       BUF, MKIOQ_ACCESS_WRITE,
						       &h[s]));
		raw_publish(self->q, s, MKIOQ_OP_READ, self->hsrc, h[s], 0,
			    BUF, s);
	}
	mkioq_engine_doorbell(self->e);
	usleep(2000);
	ASSERT_EQ(0, mkioq_engine_stop(self->e));
	for (s = 0; s < 62; s++) {
		uint32_t st_s = word(self->q, s, MKIOQ_WORD_STATUS);

		published += st_s == MKIOQ_STATE_PUBLISHED;
		done += st_s == MKIOQ_RESULT_OK;
		EXPECT_TRUE(st_s == MKIOQ_STATE_PUBLISHED ||
			    st_s == MKIOQ_RESULT_OK) TH_LOG("slot %u: %u", s,
							 st_s);
	}
	EXPECT_EQ(62, published + done);
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, word(self->q, 62, MKIOQ_WORD_STATUS));
	EXPECT_EQ(MKIOQ_RESULT_ERROR, word(self->q, 63, MKIOQ_WORD_STATUS));
	EXPECT_EQ(ECANCELED, word(self->q, 63, MKIOQ_WORD_TAG));
	n = collect(self->e, cqes, ARRAY_SIZE(cqes), 100);
	EXPECT_EQ(done + 1, n);
	ASSERT_GT(n, 0);
	EXPECT_EQ(63, cqes[n - 1].slot);
	EXPECT_EQ(-ECANCELED, cqes[n - 1].result);
	EXPECT_EQ(63, cqes[n - 1].tag);
	EXPECT_EQ(MKIOQ_RESULT_ERROR, cqes[n - 1].status);
	ASSERT_EQ(0, mkioq_engine_stats(self->e, &st));
	EXPECT_EQ(0, st.fences_held);
	EXPECT_EQ(0, st.workers);
	EXPECT_EQ(done + 1, st.completed);
	/* Stopped: nothing more is serviced, doorbell or not. */
	mkioq_engine_doorbell(self->e);
	usleep(20000);
	for (s = 0; s < 62; s++)
		if (word(self->q, s, MKIOQ_WORD_STATUS) == MKIOQ_STATE_PUBLISHED)
			published--;
	EXPECT_EQ(0, published);
	EXPECT_EQ(0, mkioq_engine_stop(self->e));
	free(big);
}

/*
 * More completions than the record queue holds: counted, never lost:
 * records + dropped = completions, the first record after the drop
 * carries the count, stats.cq_overflow agrees.
 */
TEST_F(eng, records_overflow)
{
	const uint32_t rounds = MKIOQ_ENGINE_CQ_ENTRIES / SLOTS + 3;
	uint32_t r, s, total = 0, dropped = 0, flagged = 0;
	struct mkioq_engine_stats st;
	struct mkioq_cqe cqes[SLOTS];
	int n, i;

	for (r = 0; r < rounds; r++) {
		for (s = 0; s < SLOTS; s++)
			raw_publish(self->q, s, MKIOQ_OP_READ, self->hsrc,
				    self->hreg[s], s, 8, r * SLOTS + s);
		mkioq_engine_doorbell(self->e);
		for (s = 0; s < SLOTS; s++) {
			ASSERT_EQ(MKIOQ_RESULT_OK, wait_done(self->q, s, 20000));
			ASSERT_EQ(0, mkioq_recycle(self->q, s));
		}
	}
	while ((n = mkioq_engine_read_cqes(self->e, cqes, SLOTS, 0)) > 0) {
		for (i = 0; i < n; i++) {
			if (cqes[i].flags & MKIOQ_CQE_F_OVERFLOW) {
				dropped += cqes[i].dropped;
				flagged++;
				/* The oldest record carries the count. */
				EXPECT_EQ(0, total);
			}
			if (!(cqes[i].flags & MKIOQ_CQE_F_NOTICE))
				total++;
		}
	}
	ASSERT_EQ(0, mkioq_engine_stats(self->e, &st));
	EXPECT_EQ(rounds * SLOTS, st.completed);
	EXPECT_EQ(MKIOQ_ENGINE_CQ_ENTRIES, total);
	EXPECT_EQ(rounds * SLOTS, total + dropped);
	EXPECT_EQ(st.cq_overflow, dropped);
	EXPECT_EQ(1, flagged);
	/* The count was delivered once: the next record carries none. */
	ASSERT_EQ(MKIOQ_RESULT_OK, run_one(self->q, self->e, 0, MKIOQ_OP_READ,
					 self->hsrc, self->hdst, 0, 8, 1));
	ASSERT_EQ(1, collect(self->e, cqes, 1, 1000));
	EXPECT_EQ(0, cqes[0].flags);
	EXPECT_EQ(0, cqes[0].dropped);
}

/* A reader blocked in mkioq_engine_read_cqes() gets the record. */
static void *blocked_reader(void *arg)
{
	static struct mkioq_cqe cqe;

	return mkioq_engine_read_cqes(arg, &cqe, 1, -1) == 1 ? &cqe : NULL;
}

TEST_F(eng, blocking_read)
{
	struct mkioq_cqe *cqe;
	pthread_t th;
	void *ret;

	ASSERT_EQ(0, pthread_create(&th, NULL, blocked_reader, self->e));
	usleep(20000);
	raw_publish(self->q, 3, MKIOQ_OP_READ, self->hsrc, self->hdst, 10,
		    300, 0xabcd);
	mkioq_engine_doorbell(self->e);
	ASSERT_EQ(0, pthread_join(th, &ret));
	cqe = ret;
	ASSERT_NE(NULL, cqe);
	EXPECT_EQ(3, cqe->slot);
	EXPECT_EQ(MKIOQ_RESULT_OK, cqe->status);
	EXPECT_EQ(300, cqe->result);
	EXPECT_EQ(0xabcd, cqe->tag);
	EXPECT_EQ(300, check(self->dst, 300, 1, 10));
}

/* ------------------------------------------------------------------ */
/* Sleep and doorbell; wrapped rings                                   */
/* ------------------------------------------------------------------ */

/*
 * After spin_us without work the workers sleep: a request published
 * then is serviced at the next doorbell (sleep_us 10 s here), or at the
 * next period without one.
 */
/*
 * The longest look gap (100 us) with workers that never sleep: each
 * request, published at a random moment of a worker's waits, is served;
 * the waits end at a request and start again from the shortest.
 */
TEST(longest_look_gap_serves_every_request)
{
	struct mkioq_engine_params p = {
		.size = sizeof(p), .workers = 2,
		.spin_us = MKIOQ_ENGINE_SPIN_MAX_US,
		.look_gap_ns = MKIOQ_ENGINE_LOOK_GAP_MAX_NS,
	};
	struct mkioq_engine_stats st;
	struct mkioq_engine *e = NULL;
	struct mkioq_queue *q;
	uint8_t src[4096], dst[16];
	uint32_t hs, hd, i, slot;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 1);
	ASSERT_EQ(0, mkioq_queue_new(8, &q));
	ASSERT_EQ(0, mkioq_engine_new(q, &p, &e));
	ASSERT_EQ(0, mkioq_engine_register_mem(e, src, sizeof(src),
					       MKIOQ_ACCESS_READ, &hs));
	ASSERT_EQ(0, mkioq_engine_register_mem(e, dst, sizeof(dst),
					       MKIOQ_ACCESS_WRITE, &hd));
	ASSERT_EQ(0, mkioq_engine_start(e));
	srand(11);
	for (i = 0; i < 256; i++) {
		slot = i % 8;
		usleep((useconds_t)(rand() % 300));
		raw_publish(q, slot, MKIOQ_OP_READ, hs, hd, i * 16, 16, i);
		ASSERT_EQ(MKIOQ_RESULT_OK, wait_done(q, slot, 5000));
		EXPECT_EQ(16, word(q, slot, MKIOQ_WORD_BYTE_COUNT));
		EXPECT_EQ(i, word(q, slot, MKIOQ_WORD_TAG));
		/* A READ lands at the start of its destination. */
		EXPECT_EQ(0, memcmp(src + i * 16, dst, 16));
		ASSERT_EQ(0, mkioq_recycle(q, slot));
	}
	ASSERT_EQ(0, mkioq_engine_stats(e, &st));
	EXPECT_EQ(256, st.completed);
	EXPECT_EQ(0, st.sleeps);
	mkioq_engine_free(e);
	mkioq_queue_free(q);
}

TEST(sleep_and_doorbell)
{
	struct mkioq_engine_stats st;
	struct mkioq_queue *q;
	struct mkioq_engine *e;
	uint8_t src[64], dst[64];
	uint32_t hs, hd;
	uint64_t t0;

	memset(src, 7, sizeof(src));
	ASSERT_EQ(0, mkioq_queue_new(4, &q));
	e = new_engine(q, 2, 100, MKIOQ_ENGINE_SLEEP_MAX_US);
	ASSERT_NE(NULL, e);
	ASSERT_EQ(0, mkioq_engine_register_mem(e, src, 64, MKIOQ_ACCESS_READ,
					       &hs));
	ASSERT_EQ(0, mkioq_engine_register_mem(e, dst, 64,
					       MKIOQ_ACCESS_WRITE, &hd));
	ASSERT_EQ(0, mkioq_engine_start(e));
	usleep(50000);
	ASSERT_EQ(0, mkioq_engine_stats(e, &st));
	EXPECT_LE(2, st.sleeps);
	raw_publish(q, 1, MKIOQ_OP_READ, hs, hd, 0, 64, 1);
	usleep(50000);
	EXPECT_EQ(MKIOQ_STATE_PUBLISHED, word(q, 1, MKIOQ_WORD_STATUS));
	t0 = now_ns();
	ASSERT_EQ(0, mkioq_engine_doorbell(e));
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_done(q, 1, 5000));
	EXPECT_GT(2 * SEC, now_ns() - t0);
	EXPECT_EQ(0, memcmp(src, dst, 64));
	ASSERT_EQ(0, mkioq_engine_stats(e, &st));
	EXPECT_EQ(1, st.doorbells);
	mkioq_engine_free(e);

	/* sleep_us 5 ms, nobody rings: serviced within a few periods. */
	e = new_engine(q, 1, 100, 5000);
	ASSERT_NE(NULL, e);
	ASSERT_EQ(0, mkioq_engine_register_mem(e, src, 64, MKIOQ_ACCESS_READ,
					       &hs));
	ASSERT_EQ(0, mkioq_engine_register_mem(e, dst, 64,
					       MKIOQ_ACCESS_WRITE, &hd));
	ASSERT_EQ(0, mkioq_engine_start(e));
	usleep(50000);
	raw_publish(q, 2, MKIOQ_OP_READ, hs, hd, 0, 64, 2);
	ASSERT_EQ(MKIOQ_RESULT_OK, wait_done(q, 2, 5000));
	mkioq_engine_free(e);
	mkioq_queue_free(q);
}

TEST(queue_wrap_errors)
{
	static uint32_t mem[64 * 8 + 1];
	struct mkioq_queue *q = NULL;

	EXPECT_EQ(-EINVAL, mkioq_queue_wrap(NULL, 2048, 64, &q));
	EXPECT_EQ(-EINVAL, mkioq_queue_wrap(mem, 2048, 64, NULL));
	EXPECT_EQ(-EINVAL, mkioq_queue_wrap(mem, 2048, 0, &q));
	EXPECT_EQ(-EINVAL, mkioq_queue_wrap(mem, 4096, 65, &q));
	EXPECT_EQ(-EINVAL, mkioq_queue_wrap(mem, 2047, 64, &q));
	EXPECT_EQ(-EINVAL, mkioq_queue_wrap((char *)mem + 2, 2048, 64, &q));
	EXPECT_EQ(NULL, q);
	/* 4-byte alignment is enough; the memory is used as it is. */
	mem[1 + MKIOQ_WORD_STATUS] = MKIOQ_RESULT_OK;
	ASSERT_EQ(0, mkioq_queue_wrap(mem + 1, 32, 1, &q));
	EXPECT_EQ(1, mkioq_queue_slot_count(q));
	EXPECT_EQ(MKIOQ_RESULT_OK, mkioq_slot_status(q, 0));
	EXPECT_EQ(-1, mkioq_queue_fd(q));
	EXPECT_EQ(-ENOTTY, mkioq_doorbell(q));
	ASSERT_EQ(0, mkioq_recycle(q, 0));
	mkioq_queue_free(q);
	/* Not freed: still ours. */
	EXPECT_EQ(MKIOQ_STATE_EMPTY, mem[1 + MKIOQ_WORD_STATUS]);
	mem[0] = 1;
}

/*
 * The ring in a memfd mapped twice MAP_SHARED (as a GPU host maps it
 * once for the device and once for the engine): producers write one
 * view, the engine services the other, the mappings survive
 * mkioq_queue_free().
 */
TEST(queue_wrap_memfd)
{
	uint32_t per = (uint32_t)env_num("MKIOQ_ENGINE_REQUESTS", 100000) / 10;
	struct mkioq_queue *gq, *eq, *pq;
	struct mkioq_engine *e;
	uint32_t hs, hd[SLOTS], s, sent = 0, done = 0, bad = 0, tag[SLOTS];
	uint8_t *src = malloc(BUF), *dst = malloc(SLOTS * REGION);
	void *v1, *v2;
	int fd;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	fill(src, BUF, 1, 0);
	fd = memfd_create("mkioq-ring", MFD_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ftruncate(fd, 4096));
	v1 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	v2 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, v1);
	ASSERT_NE(MAP_FAILED, v2);
	ASSERT_NE(v1, v2);
	ASSERT_EQ(0, mkioq_queue_wrap(v1, 4096, SLOTS, &gq));
	ASSERT_EQ(0, mkioq_queue_wrap(v2, 4096, SLOTS, &eq));
	e = new_engine(eq, 2, 0, 0);
	ASSERT_NE(NULL, e);
	ASSERT_EQ(0, mkioq_engine_register_mem(e, src, BUF, MKIOQ_ACCESS_READ,
					       &hs));
	for (s = 0; s < SLOTS; s++)
		ASSERT_EQ(0, mkioq_engine_register_mem(e, dst + s * REGION,
						       REGION,
						       MKIOQ_ACCESS_WRITE,
						       &hd[s]));
	ASSERT_EQ(0, mkioq_engine_start(e));
	/*
	 * ThreadSanitizer pairs releases and acquires by address, and
	 * cannot see that the two views are one page: under it, submit
	 * and recycle through the engine's view, still reading the results
	 * through the producer's.
	 */
	pq = UNDER_TSAN ? eq : gq;
	while (done < per) {
		for (s = 0; s < SLOTS; s++) {
			int st = mkioq_slot_status(gq, s);

			if (st == MKIOQ_RESULT_OK || st == MKIOQ_RESULT_ERROR) {
				/* Acquire, on the view that published it. */
				(void)word(pq, s, MKIOQ_WORD_STATUS);
				if (st != MKIOQ_RESULT_OK ||
				    word(gq, s, MKIOQ_WORD_TAG) != tag[s] ||
				    check(dst + s * REGION, req_bytes(tag[s]),
					  1, req_off(tag[s])) !=
				    req_bytes(tag[s]))
					bad++;
				ASSERT_EQ(0, mkioq_recycle(pq, s));
				done++;
			}
			if (mkioq_slot_status(pq, s) != MKIOQ_STATE_EMPTY ||
			    sent == per)
				continue;
			tag[s] = sent;
			ASSERT_EQ(0, mkioq_submit(pq, s, &(struct mkioq_request){
				.op = MKIOQ_OP_READ, .src_handle = hs,
				.dst_handle = hd[s],
				.byte_count = req_bytes(sent),
				.offset = req_off(sent), .tag = sent }));
			sent++;
		}
		mkioq_engine_doorbell(e);
	}
	EXPECT_EQ(0, bad);
	mkioq_engine_free(e);
	mkioq_queue_free(gq);
	mkioq_queue_free(eq);
	/* Both mappings are the caller's, still mapped and shared. */
	*(volatile uint32_t *)v1 = 0x12345678;
	EXPECT_EQ(0x12345678, *(volatile uint32_t *)v2);
	munmap(v1, 4096);
	munmap(v2, 4096);
	close(fd);
	free(src);
	free(dst);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace engine against the module: the same registrations and the
 * same hostile requests, one at a time, on a /dev/mkioq0 queue (DOORBELL
 * mode, handles from mkioq_register()) and on a host-owned queue serviced
 * by mkioq_engine (the same vgem dma-bufs registered with
 * mkioq_engine_register_dmabuf() in the same order, so the handle numbers
 * match). Compared: every registration's return value and handle number;
 * after each request, all eight words of its slot, its completion record
 * (or the absence of one), and every byte of every buffer. Any difference
 * fails with both values printed.
 *
 * Request sets: curated (unknown ops, bad and stale handles, no access,
 * ranges past the end, offsets past 4 GiB, 64-bit overflow, byte counts
 * of 0 and above INT32_MAX, overlapping copies within one dma-buf,
 * FENCEs, SRC 0), then MKIOQ_PARITY_REQUESTS (default 3000) random ones:
 * half the words uniformly random, the rest biased towards handle
 * numbers, ops, range lengths and boundaries.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mkioq_engine.h"
#include "mkioq_test.h"

#define NSLOTS		64
#define SRC_LEN		(64u << 10)
#define DST_LEN		(64u << 10)
#define ADV_LEN		(64u << 10)
#define RO_LEN		8192
#define NBUFS		4

#define DEFAULT_REQUESTS 3000

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* A request: the slot's words but STATUS. */
struct preq {
	uint32_t w[MKIOQ_SLOT_WORDS];
};

FIXTURE(parity) {
	int drm;
	struct mkioq_queue *mq;		/* the module's */
	struct mkioq_queue *eq;		/* the engine's */
	struct mkioq_engine *e;
	struct test_buf buf[NBUFS];	/* src, dst, adv, ro */
	uint8_t *base[NBUFS];		/* the contents every request starts from */
	uint8_t *after[NBUFS];		/* the module's result */
	uint32_t h[16];			/* the handles, both sides */
	unsigned int nh;
	uint32_t stale;
	uint64_t compared, differences, serviced, errors, left_alone;
};

static const char *const buf_names[NBUFS] = { "src", "dst", "adv", "ro" };

/* Register on both; the return values and numbers must agree. */
static int reg_both(struct __test_metadata *_metadata,
		    FIXTURE_DATA(parity) *self, int fd, uint64_t off,
		    uint64_t len, uint32_t access, const char *what)
{
	uint32_t hm = 0, he = 0;
	int rm = mkioq_register(self->mq, fd, off, len, access, &hm);
	int re = mkioq_engine_register_dmabuf(self->e, fd, off, len, access,
					      &he);

	EXPECT_EQ(rm, re)
		TH_LOG("register %s: module %d (%s), engine %d (%s)", what,
		       rm, strerror(-rm), re, strerror(-re));
	if (!rm && !re) {
		EXPECT_EQ(hm, he) TH_LOG("register %s: module handle %u, "
					 "engine handle %u", what, hm, he);
		self->h[self->nh++] = hm;
	}
	return rm ? rm : (int)hm;
}

FIXTURE_SETUP(parity)
{
	static const size_t sizes[NBUFS] = { SRC_LEN, DST_LEN, ADV_LEN,
					     RO_LEN };
	struct mkioq_engine_params p = { .size = sizeof(p), .workers = 2 };
	unsigned int i;
	uint32_t hm, he;
	int memfd, rm, re;

	memset(self, 0, sizeof(*self));
	self->drm = vgem_open();
	ASSERT_GE(self->drm, 0);
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, NSLOTS, 0, &self->mq));
	ASSERT_EQ(0, mkioq_queue_new(NSLOTS, &self->eq));
	ASSERT_EQ(0, mkioq_engine_new(self->eq, &p, &self->e));
	for (i = 0; i < NBUFS; i++) {
		ASSERT_EQ(0, test_buf_create(self->drm, sizes[i], i != 3,
					     &self->buf[i]));
		self->base[i] = malloc(self->buf[i].size);
		self->after[i] = malloc(self->buf[i].size);
		ASSERT_NE(NULL, self->base[i]);
		ASSERT_NE(NULL, self->after[i]);
		pattern_fill(self->base[i], self->buf[i].size, 0x100 + i, 0);
		memcpy(self->buf[i].map, self->base[i], self->buf[i].size);
	}

	/* Registrations that fail: the same errno, no number used. */
	reg_both(_metadata, self, self->buf[0].fd, 0, 16, 0, "access 0");
	reg_both(_metadata, self, self->buf[0].fd, 0, 16, 4, "access 4");
	reg_both(_metadata, self, self->buf[0].fd, 0, 0, MKIOQ_ACCESS_READ,
		 "length 0");
	reg_both(_metadata, self, self->buf[3].fd, 0, 16, MKIOQ_ACCESS_WRITE,
		 "read-only buffer for WRITE");
	reg_both(_metadata, self, self->buf[3].fd, 0, 16, MKIOQ_ACCESS_RW,
		 "read-only buffer for RW");
	reg_both(_metadata, self, self->buf[0].fd, UINT64_MAX, 2,
		 MKIOQ_ACCESS_READ, "offset + length overflows");
	reg_both(_metadata, self, self->buf[0].fd, 1ULL << 32, 1,
		 MKIOQ_ACCESS_READ, "offset past 4 GiB");
	reg_both(_metadata, self, self->buf[0].fd, self->buf[0].size, 1,
		 MKIOQ_ACCESS_READ, "range past the end");
	reg_both(_metadata, self, self->buf[0].fd, 1, self->buf[0].size,
		 MKIOQ_ACCESS_READ, "range one past the end");
	reg_both(_metadata, self, -1, 0, 16, MKIOQ_ACCESS_READ, "fd -1");
	reg_both(_metadata, self, 999, 0, 16, MKIOQ_ACCESS_READ,
		 "closed fd");
	memfd = memfd_create("not-a-dmabuf", MFD_CLOEXEC);
	ASSERT_GE(memfd, 0);
	ASSERT_EQ(0, ftruncate(memfd, 65536));
	reg_both(_metadata, self, memfd, 0, 16, MKIOQ_ACCESS_READ, "memfd");
	close(memfd);
	ASSERT_EQ(0, self->nh);

	/*
	 * The handles the requests name: sub-ranges at odd offsets,
	 * overlapping ranges of one buffer with every access, a
	 * read-only buffer, and one unregistered.
	 */
	ASSERT_LT(0, reg_both(_metadata, self, self->buf[0].fd, 77,
			      SRC_LEN - 200, MKIOQ_ACCESS_READ, "src"));
	ASSERT_LT(0, reg_both(_metadata, self, self->buf[1].fd, 0, DST_LEN,
			      MKIOQ_ACCESS_RW, "dst RW"));
	ASSERT_LT(0, reg_both(_metadata, self, self->buf[1].fd, 100, 3000,
			      MKIOQ_ACCESS_WRITE, "dst+100 WRITE"));
	ASSERT_LT(0, reg_both(_metadata, self, self->buf[2].fd, 0, ADV_LEN,
			      MKIOQ_ACCESS_RW, "adv RW"));
	ASSERT_LT(0, reg_both(_metadata, self, self->buf[2].fd, 4097,
			      ADV_LEN / 2, MKIOQ_ACCESS_READ, "adv+4097 READ"));
	ASSERT_LT(0, reg_both(_metadata, self, self->buf[2].fd, 333, 5000,
			      MKIOQ_ACCESS_WRITE, "adv+333 WRITE"));
	ASSERT_LT(0, reg_both(_metadata, self, self->buf[3].fd, 0, RO_LEN,
			      MKIOQ_ACCESS_READ, "ro"));
	ASSERT_LT(0, reg_both(_metadata, self, self->buf[0].fd, 0, 4096,
			      MKIOQ_ACCESS_RW, "stale"));
	self->stale = self->h[--self->nh];
	rm = mkioq_unregister(self->mq, self->stale);
	re = mkioq_engine_unregister(self->e, self->stale);
	EXPECT_EQ(0, rm);
	EXPECT_EQ(0, re);
	rm = mkioq_unregister(self->mq, self->stale);
	re = mkioq_engine_unregister(self->e, self->stale);
	EXPECT_EQ(-ENOENT, rm);
	EXPECT_EQ(rm, re);
	rm = mkioq_unregister(self->mq, 0);
	re = mkioq_engine_unregister(self->e, 0);
	EXPECT_EQ(rm, re);
	/* The freed number is the next one given, on both. */
	hm = he = 0;
	EXPECT_EQ(0, mkioq_register(self->mq, self->buf[0].fd, 0, 64,
				    MKIOQ_ACCESS_READ, &hm));
	EXPECT_EQ(0, mkioq_engine_register_dmabuf(self->e, self->buf[0].fd,
						  0, 64, MKIOQ_ACCESS_READ,
						  &he));
	EXPECT_EQ(self->stale, hm);
	EXPECT_EQ(hm, he);
	EXPECT_EQ(0, mkioq_unregister(self->mq, hm));
	EXPECT_EQ(0, mkioq_engine_unregister(self->e, he));
	ASSERT_EQ(0, mkioq_engine_start(self->e));
}

FIXTURE_TEARDOWN(parity)
{
	unsigned int i;

	mkioq_engine_free(self->e);
	mkioq_queue_free(self->eq);
	mkioq_queue_free(self->mq);
	for (i = 0; i < NBUFS; i++) {
		test_buf_destroy(&self->buf[i]);
		free(self->base[i]);
		free(self->after[i]);
	}
	close(self->drm);
}

static uint32_t ring_word(struct mkioq_queue *q, uint32_t slot,
			  unsigned int w)
{
	return __atomic_load_n(&q->words[slot * MKIOQ_SLOT_WORDS + w],
			       __ATOMIC_ACQUIRE);
}

/* Publish @r into @slot as a GPU would: no library checks. */
static void raw_publish(struct mkioq_queue *q, uint32_t slot,
			const struct preq *r)
{
	uint32_t *w = &q->words[slot * MKIOQ_SLOT_WORDS];
	unsigned int i;

	for (i = 0; i < MKIOQ_SLOT_WORDS; i++)
		if (i != MKIOQ_WORD_STATUS)
			__atomic_store_n(&w[i], r->w[i], __ATOMIC_RELAXED);
	/* Release: pairs with the module's and the engine's claims. */
	__atomic_store_n(&w[MKIOQ_WORD_STATUS], MKIOQ_STATE_PUBLISHED,
			 __ATOMIC_RELEASE);
}

static void restore(FIXTURE_DATA(parity) *self)
{
	unsigned int i;

	for (i = 0; i < NBUFS; i++)
		if (i != 3)	/* the read-only one cannot be written */
			memcpy(self->buf[i].map, self->base[i],
			       self->buf[i].size);
}

/*
 * Run @r in @slot on one side: publish, ring, wait until it completes (or
 * a while, for a request that must be left alone), take its record.
 * Returns the number of records taken (0 or 1).
 */
static int run_side(FIXTURE_DATA(parity) *self, bool engine, uint32_t slot,
		    const struct preq *r, uint32_t *words,
		    struct mkioq_cqe *cqe)
{
	struct mkioq_queue *q = engine ? self->eq : self->mq;
	bool left_alone = r->w[MKIOQ_WORD_SRC_HANDLE] == MKIOQ_HANDLE_NONE;
	unsigned int i;
	int n;

	raw_publish(q, slot, r);
	if (engine)
		mkioq_engine_doorbell(self->e);
	else
		mkioq_doorbell(q);
	if (left_alone)
		usleep(engine ? 5000 : 0);
	else
		wait_slot(q, slot, 20000);
	for (i = 0; i < MKIOQ_SLOT_WORDS; i++)
		words[i] = ring_word(q, slot, i);
	memset(cqe, 0, sizeof(*cqe));
	/*
	 * A module's storage worker posts the record just after STATUS:
	 * wait for it a while (a serviced request has one).
	 */
	n = engine ? mkioq_engine_read_cqes(self->e, cqe, 1, 0) :
		     mkioq_read_cqes(q, cqe, 1, left_alone ? 0 : 2000);
	/* Leave the slot EMPTY for the next request. */
	mkioq_recycle(q, slot);
	return n == 1;
}

static const char *const word_names[MKIOQ_SLOT_WORDS] = {
	"OP", "SRC", "DST", "OFFSET_LO", "OFFSET_HI", "BYTE_COUNT", "STATUS",
	"TAG",
};

/* Run @r on both sides and compare everything; false on a difference. */
static bool compare_one(struct __test_metadata *_metadata,
			FIXTURE_DATA(parity) *self, uint32_t slot,
			const struct preq *r, const char *what)
{
	uint32_t wm[MKIOQ_SLOT_WORDS], we[MKIOQ_SLOT_WORDS];
	struct mkioq_cqe cm, ce;
	unsigned int i, bad = 0;
	int nm, ne;
	size_t j;

	restore(self);
	nm = run_side(self, false, slot, r, wm, &cm);
	for (i = 0; i < NBUFS; i++)
		memcpy(self->after[i], self->buf[i].map, self->buf[i].size);
	restore(self);
	ne = run_side(self, true, slot, r, we, &ce);

	for (i = 0; i < MKIOQ_SLOT_WORDS; i++) {
		if (wm[i] == we[i])
			continue;
		TH_LOG("%s: %s: module 0x%x, engine 0x%x", what,
		       word_names[i], wm[i], we[i]);
		bad++;
	}
	if (nm != ne) {
		TH_LOG("%s: records: module %d, engine %d", what, nm, ne);
		bad++;
	} else if (nm && (cm.slot != ce.slot || cm.status != ce.status ||
			  cm.result != ce.result || cm.tag != ce.tag ||
			  cm.flags != ce.flags || cm.dropped != ce.dropped)) {
		TH_LOG("%s: record: module {slot %u status 0x%x result %d tag "
		       "%u flags %u}, engine {slot %u status 0x%x result %d "
		       "tag %u flags %u}", what, cm.slot, cm.status, cm.result,
		       cm.tag, cm.flags, ce.slot, ce.status, ce.result, ce.tag,
		       ce.flags);
		bad++;
	}
	for (i = 0; i < NBUFS; i++) {
		const uint8_t *m = self->after[i], *en = self->buf[i].map;
		size_t first = SIZE_MAX, count = 0;

		if (!memcmp(m, en, self->buf[i].size))
			continue;
		for (j = 0; j < self->buf[i].size; j++) {
			if (m[j] == en[j])
				continue;
			if (first == SIZE_MAX)
				first = j;
			count++;
		}
		TH_LOG("%s: %s: %zu bytes differ, the first at %zu: module "
		       "0x%02x, engine 0x%02x", what, buf_names[i], count,
		       first, m[first], en[first]);
		bad++;
	}
	self->compared++;
	if (r->w[MKIOQ_WORD_SRC_HANDLE] == MKIOQ_HANDLE_NONE)
		self->left_alone++;
	else
		self->serviced++;
	self->errors += wm[MKIOQ_WORD_STATUS] == MKIOQ_RESULT_ERROR;
	if (bad) {
		TH_LOG("%s: request {op 0x%x src %u dst %u offset 0x%x%08x "
		       "count %u tag %u} in slot %u", what,
		       r->w[MKIOQ_WORD_OP], r->w[MKIOQ_WORD_SRC_HANDLE],
		       r->w[MKIOQ_WORD_DST_HANDLE], r->w[MKIOQ_WORD_OFFSET_HI],
		       r->w[MKIOQ_WORD_OFFSET_LO],
		       r->w[MKIOQ_WORD_BYTE_COUNT], r->w[MKIOQ_WORD_TAG],
		       slot);
		self->differences++;
	}
	return !bad;
}

static struct preq req_of(uint32_t op, uint32_t src, uint32_t dst,
			  uint64_t off, uint32_t n, uint32_t tag)
{
	struct preq r = { { 0 } };

	r.w[MKIOQ_WORD_OP] = op;
	r.w[MKIOQ_WORD_SRC_HANDLE] = src;
	r.w[MKIOQ_WORD_DST_HANDLE] = dst;
	r.w[MKIOQ_WORD_OFFSET_LO] = (uint32_t)off;
	r.w[MKIOQ_WORD_OFFSET_HI] = (uint32_t)(off >> 32);
	r.w[MKIOQ_WORD_BYTE_COUNT] = n;
	r.w[MKIOQ_WORD_TAG] = tag;
	return r;
}

/* Every FENCE, valid and failing request of the module's tests, and more. */
TEST_F_TIMEOUT(parity, curated, 600)
{
	/* Handles: see FIXTURE_SETUP. */
	const uint32_t S = self->h[0], D = self->h[1], D2 = self->h[2],
		       A = self->h[3], AR = self->h[4], AW = self->h[5],
		       R = self->h[6], X = self->stale;
	const uint32_t RD = MKIOQ_OP_READ, WR = MKIOQ_OP_WRITE,
		       FE = MKIOQ_OP_FENCE;
	const uint32_t SL = SRC_LEN - 200;
	const struct {
		const char *what;
		struct preq r;
	} cases[] = {
		{ "read", req_of(RD, S, D, 100, 5000, 1) },
		{ "read all of src", req_of(RD, S, D, 0, SL, 2) },
		{ "write", req_of(WR, S, D, 1234, 4097, 3) },
		{ "write into a sub-range", req_of(WR, S, D2, 7, 2993, 4) },
		{ "write one past a sub-range", req_of(WR, S, D2, 7, 2994, 5) },
		{ "read into a sub-range", req_of(RD, S, D2, 0, 3000, 6) },
		{ "overlap: adv+4097 -> adv@0", req_of(RD, AR, A, 50, 10000, 7) },
		{ "overlap: adv@0 -> adv@700", req_of(WR, A, A, 700, 20000, 8) },
		{ "overlap: adv@300 -> adv@0", req_of(RD, A, A, 300, 9000, 9) },
		{ "adv -> adv+333", req_of(RD, A, AW, 1, 5000, 10) },
		{ "same range, no overlap", req_of(WR, A, A, 32768, 32768, 11) },
		{ "op 0", req_of(0, S, D, 0, 16, 12) },
		{ "op 4", req_of(4, S, D, 0, 16, 13) },
		{ "op ~0, bad handles", req_of(0xffffffff, 999, 0, 0, 16, 14) },
		{ "too large", req_of(RD, S, D, 0, 0x80000000u, 15) },
		{ "~0 bytes, bad handles", req_of(WR, 999, 0, 0, ~0u, 16) },
		{ "INT32_MAX bytes", req_of(RD, S, D, 0, 0x7fffffff, 17) },
		{ "unknown src", req_of(RD, 999, D, 0, 16, 18) },
		{ "dst 0", req_of(RD, S, 0, 0, 16, 19) },
		{ "dst 4096", req_of(RD, S, 4096, 0, 16, 20) },
		{ "dst 4097", req_of(RD, S, 4097, 0, 16, 21) },
		{ "dst ~0", req_of(RD, S, 0xffffffff, 0, 16, 22) },
		{ "stale src", req_of(RD, X, D, 0, 16, 23) },
		{ "stale dst", req_of(RD, S, X, 0, 16, 24) },
		{ "unknown src, read-only dst", req_of(RD, 999, R, 0, 16, 25) },
		{ "dst read-only", req_of(RD, S, R, 0, 16, 26) },
		{ "src write-only", req_of(RD, AW, D, 0, 16, 27) },
		{ "write: src write-only", req_of(WR, D2, D, 0, 16, 28) },
		{ "no access, past the end", req_of(RD, S, R, ~0ULL, 16, 29) },
		{ "overflow", req_of(RD, S, D, ~0ULL - 4, 16, 30) },
		{ "write overflow", req_of(WR, S, D, ~0ULL, 2, 31) },
		{ "write: src range first", req_of(WR, R, D, ~0ULL, RO_LEN + 1,
						   32) },
		{ "offset past end", req_of(RD, S, D, SL, 1, 33) },
		{ "count past end", req_of(RD, S, D, SL - 4096, 4097, 34) },
		{ "past the dst's end", req_of(RD, S, D2, 0, 3001, 35) },
		{ "write past dst", req_of(WR, S, D, DST_LEN - 1, 2, 36) },
		{ "offset 4 GiB", req_of(RD, S, D, 1ULL << 32, 1, 37) },
		{ "offset 4 GiB + 1, write", req_of(WR, S, D, (1ULL << 32) + 1,
						    1, 38) },
		{ "offset_hi ~0", req_of(RD, S, D, 0xffffffff00000000ULL, 16,
					 39) },
		{ "0 bytes", req_of(RD, S, D, 0, 0, 40) },
		{ "0 bytes at the end", req_of(RD, S, D, SL, 0, 41) },
		{ "0 bytes past the end", req_of(RD, S, D, SL + 1, 0, 42) },
		{ "0 bytes, write at the end", req_of(WR, S, D, DST_LEN, 0,
						      43) },
		{ "0 bytes, overflow", req_of(RD, S, D, ~0ULL, 0, 44) },
		{ "0 bytes, no access", req_of(RD, S, R, 0, 0, 45) },
		{ "0 bytes, unknown op", req_of(9, S, D, 0, 0, 46) },
		{ "fence", req_of(FE, 1, 0, 0, 0, 47) },
		{ "fence, garbage words", req_of(FE, ~0u, 999, ~0ULL, ~0u, 48) },
		{ "src 0: ingest", req_of(RD, 0, 7, 0, 4096, 49) },
		{ "src 0: write", req_of(WR, 0, D, 0, 16, 50) },
		{ "src 0: fence", req_of(FE, 0, 0, 0, 0, 51) },
		{ "src 0: unknown op", req_of(77, 0, 1, 2, 3, 52) },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		EXPECT_TRUE(compare_one(_metadata, self, (i * 5) % NSLOTS,
					&cases[i].r, cases[i].what));
	ksft_print_msg("curated: %" PRIu64 " requests compared (%" PRIu64
		       " serviced, %" PRIu64 " errors, %" PRIu64
		       " left alone), %" PRIu64 " differ\n", self->compared,
		       self->serviced, self->errors, self->left_alone,
		       self->differences);
}

/* A word that means something half the time (hostile_test's adv_value). */
static uint32_t hostile_word(FIXTURE_DATA(parity) *self, uint64_t *rng,
			     unsigned int word)
{
	static const uint32_t odd[] = {
		0, 1, 2, 3, 4, 0x10, 0x11, 0x12, 0xff, 0x7fffffff,
		0x80000000, 0xfffffffe, 0xffffffff,
	};
	static const uint32_t lens[] = {
		SRC_LEN - 200, SRC_LEN - 201, SRC_LEN - 199, DST_LEN,
		DST_LEN + 1, ADV_LEN / 2, 3000, 5000, 4096, RO_LEN,
		RO_LEN + 1, 4097,
	};
	uint64_t r = rnd(rng);

	switch (r & 7) {
	case 4:
		if (r >> 8 & 1)
			return self->stale + (uint32_t)(r >> 9) % 3;
		return self->h[(r >> 9) % self->nh];
	case 5:
		return odd[(r >> 8) % ARRAY_SIZE(odd)];
	case 6:
		return (uint32_t)((r >> 8) % (ADV_LEN + 2));
	case 7:
		return lens[(r >> 8) % ARRAY_SIZE(lens)];
	default:
		return word == MKIOQ_WORD_OFFSET_HI && (r >> 8 & 3) ?
		       0 : (uint32_t)(r >> 32);
	}
}

/*
 * Random requests: half plausible (a known op, known handles, offsets
 * and counts near the ranges' sizes), half hostile words in every field.
 */
TEST_F_TIMEOUT(parity, random_words, 1800)
{
	uint64_t n = env_u64("MKIOQ_PARITY_REQUESTS", DEFAULT_REQUESTS);
	uint64_t rng = env_u64("MKIOQ_PARITY_SEED", 0x243f6a8885a308d3ULL);
	uint64_t i, seed = rng, t0 = now_ns();
	char what[64];

	for (i = 0; i < n && self->differences < 10; i++) {
		struct preq r;
		unsigned int w;

		for (w = 0; w < MKIOQ_SLOT_WORDS; w++)
			r.w[w] = hostile_word(self, &rng, w);
		if (rnd(&rng) & 1) {
			uint64_t x = rnd(&rng);

			r.w[MKIOQ_WORD_OP] = 1 + x % 3;
			r.w[MKIOQ_WORD_SRC_HANDLE] = self->h[(x >> 8) % self->nh];
			r.w[MKIOQ_WORD_DST_HANDLE] = self->h[(x >> 16) % self->nh];
			r.w[MKIOQ_WORD_OFFSET_LO] = (x >> 24) % 70000;
			r.w[MKIOQ_WORD_OFFSET_HI] = (x >> 41) % 64 ? 0 : 1;
			r.w[MKIOQ_WORD_BYTE_COUNT] = rnd(&rng) % 70000;
		}
		r.w[MKIOQ_WORD_TAG] = (uint32_t)i;
		snprintf(what, sizeof(what), "random request %" PRIu64, i);
		EXPECT_TRUE(compare_one(_metadata, self, (uint32_t)(i % NSLOTS),
					&r, what));
	}
	ksft_print_msg("random (seed 0x%" PRIx64 "): %" PRIu64
		       " requests compared in %.1f s (%" PRIu64
		       " serviced, %" PRIu64 " errors, %" PRIu64
		       " left alone), %" PRIu64 " differ\n", seed,
		       self->compared, (now_ns() - t0) / 1e9, self->serviced,
		       self->errors, self->left_alone, self->differences);
	EXPECT_EQ(0, self->differences);
}

/* The counters agree too, after the same requests. */
TEST_F(parity, counters)
{
	struct mkioq_engine_stats st;
	struct mkioq_info info;
	struct preq r;
	unsigned int i;

	for (i = 0; i < 40; i++) {
		r = req_of(i % 4 ? MKIOQ_OP_READ : 7, self->h[i % self->nh],
			   self->h[(i / 2) % self->nh], i * 97, i * 31, i);
		EXPECT_TRUE(compare_one(_metadata, self, i, &r, "counters"));
	}
	ASSERT_EQ(0, mkioq_info(self->mq, &info));
	ASSERT_EQ(0, mkioq_engine_stats(self->e, &st));
	EXPECT_EQ(info.completed, st.completed);
	EXPECT_EQ(info.errors, st.errors);
	EXPECT_EQ(info.cq_overflow, st.cq_overflow);
	EXPECT_EQ(info.handles, st.handles);
	EXPECT_EQ(40, st.completed);
	EXPECT_EQ(MKIOQ_ENGINE_CQ_ENTRIES, info.cq_entries);
	EXPECT_EQ(MKIOQ_ENGINE_MAX_HANDLES, info.max_handles);
}

/*
 * File handles (MKIOQ_REG_F_FILE): one tmpfs file per side with the same
 * bytes, registered in the same order (so the numbers match) with the
 * same failures first; then READs from and WRITEs to them, every request
 * error a file handle adds, end of file; then the two files compared.
 */
static int reg_file_both(struct __test_metadata *_metadata,
			 FIXTURE_DATA(parity) *self, int fdm, int fde,
			 uint64_t off, uint64_t len, uint32_t access,
			 const char *what)
{
	uint32_t hm = 0, he = 0;
	int rm = mkioq_register_file(self->mq, fdm, off, len, access, &hm);
	int re = mkioq_engine_register_file(self->e, fde, off, len, access,
					    &he);

	EXPECT_EQ(rm, re)
		TH_LOG("register file %s: module %d (%s), engine %d (%s)",
		       what, rm, strerror(-rm), re, strerror(-re));
	if (!rm && !re)
		EXPECT_EQ(hm, he) TH_LOG("register file %s: module handle "
					 "%u, engine handle %u", what, hm, he);
	return rm ? rm : (int)hm;
}

#define FILE_LEN	(100000u)

static int parity_file(const char *name, int flags)
{
	char path[64];
	uint8_t *b = malloc(FILE_LEN);
	int fd;

	snprintf(path, sizeof(path), "/tmp/parity-%s.%d", name, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0 && b) {
		pattern_fill(b, FILE_LEN, 0x77, 0);
		if (pwrite(fd, b, FILE_LEN, 0) != FILE_LEN) {
			close(fd);
			fd = -1;
		}
	}
	free(b);
	if (fd >= 0 && flags != O_RDWR) {
		int again = open(path, flags);

		close(fd);
		fd = again;
	}
	unlink(path);
	return fd;
}

TEST_F_TIMEOUT(parity, file_handles, 300)
{
	const uint32_t S = self->h[0], D = self->h[1];
	int fm = parity_file("m", O_RDWR), fe = parity_file("e", O_RDWR);
	int rom = parity_file("rom", O_RDONLY), roe = parity_file("roe",
								  O_RDONLY);
	int pipefd[2], dir = open("/tmp", O_RDONLY | O_DIRECTORY);
	uint32_t F, FR, FS;
	uint8_t *bm, *be;
	unsigned int i;

	ASSERT_LE(0, fm);
	ASSERT_LE(0, fe);
	ASSERT_LE(0, rom);
	ASSERT_LE(0, roe);
	ASSERT_LE(0, dir);
	ASSERT_EQ(0, pipe(pipefd));

	reg_file_both(_metadata, self, fm, fe, 0, 0, MKIOQ_ACCESS_READ,
		      "length 0");
	reg_file_both(_metadata, self, 999, 999, 0, 16, MKIOQ_ACCESS_READ,
		      "closed fd");
	reg_file_both(_metadata, self, dir, dir, 0, 16, MKIOQ_ACCESS_READ,
		      "directory");
	reg_file_both(_metadata, self, pipefd[0], pipefd[0], 0, 16,
		      MKIOQ_ACCESS_READ, "pipe");
	reg_file_both(_metadata, self, self->buf[0].fd, self->buf[0].fd, 0,
		      16, MKIOQ_ACCESS_READ, "dma-buf");
	reg_file_both(_metadata, self, rom, roe, 0, 16, MKIOQ_ACCESS_WRITE,
		      "read-only file for WRITE");
	reg_file_both(_metadata, self, fm, fe, UINT64_MAX, 2,
		      MKIOQ_ACCESS_READ, "offset + length overflows");
	reg_file_both(_metadata, self, fm, fe, 1ULL << 63, 1,
		      MKIOQ_ACCESS_READ, "past the largest file");
	F = reg_file_both(_metadata, self, fm, fe, 0, 1 << 20,
			  MKIOQ_ACCESS_RW, "file RW");
	FR = reg_file_both(_metadata, self, rom, roe, 0, 1 << 20,
			   MKIOQ_ACCESS_READ, "read-only file");
	FS = reg_file_both(_metadata, self, fm, fe, 5000, 3000,
			   MKIOQ_ACCESS_READ, "file+5000 READ");
	ASSERT_LT(0, (int)F);
	ASSERT_LT(0, (int)FR);
	ASSERT_LT(0, (int)FS);

	const struct preq reqs[] = {
		req_of(MKIOQ_OP_READ, F, D, 0, 4096, 1),
		req_of(MKIOQ_OP_READ, F, D, 13, 60000, 2),
		req_of(MKIOQ_OP_READ, FR, D, 77, 1000, 3),
		req_of(MKIOQ_OP_READ, FS, D, 1000, 2000, 4),
		/* End of file: short, then 0. */
		req_of(MKIOQ_OP_READ, F, D, FILE_LEN - 100, 4096, 5),
		req_of(MKIOQ_OP_READ, F, D, FILE_LEN + 5, 4096, 6),
		req_of(MKIOQ_OP_READ, F, D, 0, 0, 7),
		/* Errors, in the module's order. */
		req_of(7, F, D, 0, 1, 8),
		req_of(MKIOQ_OP_READ, F, D, 0, 1u << 31, 9),
		req_of(MKIOQ_OP_READ, F, self->stale, 0, 1, 10),
		req_of(MKIOQ_OP_READ, F, F, 0, 1, 11),
		req_of(MKIOQ_OP_READ, S, F, 0, 1, 12),
		req_of(MKIOQ_OP_WRITE, F, D, 0, 1, 13),
		req_of(MKIOQ_OP_WRITE, S, FR, 0, 1, 14),
		req_of(MKIOQ_OP_READ, FS, D, 2999, 2, 15),
		req_of(MKIOQ_OP_READ, FS, D, UINT64_MAX, 2, 16),
		req_of(MKIOQ_OP_READ, F, D, 0, DST_LEN + 1, 17),
		/* WRITEs into the file, past its end too. */
		req_of(MKIOQ_OP_WRITE, S, F, 3, 5000, 18),
		req_of(MKIOQ_OP_WRITE, S, F, FILE_LEN + 10, 300, 19),
		req_of(MKIOQ_OP_READ, F, D, FILE_LEN, 4096, 20),
	};

	for (i = 0; i < ARRAY_SIZE(reqs); i++)
		EXPECT_TRUE(compare_one(_metadata, self, i % NSLOTS,
					&reqs[i], "file"));
	bm = malloc(FILE_LEN + 1000);
	be = malloc(FILE_LEN + 1000);
	ASSERT_NE(NULL, bm);
	ASSERT_NE(NULL, be);
	EXPECT_EQ(FILE_LEN + 310, pread(fm, bm, FILE_LEN + 1000, 0));
	EXPECT_EQ(FILE_LEN + 310, pread(fe, be, FILE_LEN + 1000, 0));
	EXPECT_EQ(0, memcmp(bm, be, FILE_LEN + 310));
	free(bm);
	free(be);
	close(fm);
	close(fe);
	close(rom);
	close(roe);
	close(dir);
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile ring: an adversary thread scribbles random 32-bit words over
 * random fields (STATUS included) of random slots of a device queue's
 * mapped ring, while producer threads submit valid DMA READs and the module
 * services both. Every test runs in both service modes; in DOORBELL mode
 * the producers (and, now and then, the adversary) ring the doorbell, in
 * POLL mode nobody does, as with a GPU.
 *
 * partitioned: the adversary owns slots ADV_FIRST.. and never writes the
 *   number of a producer's destination handle, so it can neither touch a
 *   producer's slot nor name a producer's destination: every producer
 *   request must complete OK with exactly the right bytes, and nothing
 *   else in its destination range may change.
 * all_slots: the adversary hits every slot and may name every handle.
 *   Producers carry on as best they can; only the absence of crashes and
 *   splats (the VM checks the kernel log) and the guards are asserted.
 *
 * Every registered range is the middle of a bigger dma-buf whose other
 * bytes (the guards) hold a known pattern. At the end, with the queue
 * closed and so its service stopped, no guard byte may have changed
 * (nothing was written outside a registered range), and neither may any
 * byte of the buffers registered for READ only.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mkioq_test.h"

#define NSLOTS		64
#define ADV_FIRST	48	/* partitioned: the adversary's first slot */
#define PRODUCERS	2
#define PER_PRODUCER	10000	/* partitioned: requests per producer */

/* Odd sizes, so ranges start and end at every alignment. */
#define GUARD		3001	/* bytes before and after every range */
#define SRC_LEN		((256u << 10) + 77)
#define DST_LEN		5003	/* one destination range per slot */
#define ADV_LEN		(64u << 10)
#define RO_LEN		8192

#define SRC_SEED	0x5eed
#define RO_SEED		0x0e0e
#define GUARD_SEED	0x9a4d
#define FILL		0xa5

#define SEC		1000000000ULL
#define REQ_TIMEOUT	(20 * SEC)	/* partitioned: a request is lost */
#define ABANDON		(1 * SEC)	/* all_slots: give up on a request */
#define ADV_MIN_TIME	(3 * SEC)	/* all_slots: the adversary runs >= this */
#define ADV_MAX_TIME	(240 * SEC)	/* adversary: stop waiting for producers */

#define DEFAULT_WRITES	100000

/* A dma-buf with registered ranges; every other byte is a guard. */
struct gbuf {
	struct test_buf b;
	uint8_t *covered;	/* per byte: inside some registered range */
};

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static int gbuf_create(int drm, size_t size, bool writable, struct gbuf *g)
{
	int ret = test_buf_create(drm, size, writable, &g->b);

	if (ret)
		return ret;
	g->covered = calloc(1, g->b.size);
	if (!g->covered)
		return -ENOMEM;
	/* Everything is a guard until a range is registered over it. */
	pattern_fill(g->b.map, g->b.size, GUARD_SEED, 0);
	return 0;
}

static void gbuf_destroy(struct gbuf *g)
{
	test_buf_destroy(&g->b);
	free(g->covered);
	g->covered = NULL;
}

static int gbuf_register(struct mkioq_queue *q, struct gbuf *g, size_t off,
			 size_t len, uint32_t access, uint32_t *handle)
{
	int ret = mkioq_register(q, g->b.fd, off, len, access, handle);

	if (!ret)
		memset(g->covered + off, 1, len);
	return ret;
}

/* Guard bytes that changed; the first one's offset in *first. */
static size_t gbuf_check_guards(const struct gbuf *g, size_t *first)
{
	size_t i, bad = 0;

	*first = g->b.size;
	for (i = 0; i < g->b.size; i++) {
		if (g->covered[i] || g->b.map[i] == pattern_byte(GUARD_SEED, i))
			continue;
		if (!bad++)
			*first = i;
	}
	return bad;
}

static size_t count_not(const uint8_t *p, size_t n, uint8_t v)
{
	size_t i, bad = 0;

	for (i = 0; i < n; i++)
		bad += p[i] != v;
	return bad;
}

FIXTURE(hostile) {
	struct mkioq_queue *q;
	int drm;
	struct gbuf src, dst, adv, ro;
	uint8_t *src_snap, *ro_snap;
	uint32_t hsrc, hro, hstale, hdst[NSLOTS], hadv[3];
	uint32_t max_handle;
};

FIXTURE_VARIANT(hostile) {
	unsigned int open_flags;
	const char *mode;
};

FIXTURE_VARIANT_ADD(hostile, doorbell) {
	.open_flags = 0,
	.mode = "doorbell",
};

FIXTURE_VARIANT_ADD(hostile, poll) {
	.open_flags = MKIOQ_OPEN_POLL,
	.mode = "poll",
};

static uint8_t *dst_range(struct gbuf *dst, uint32_t slot)
{
	return dst->b.map + GUARD + (size_t)slot * (DST_LEN + GUARD);
}

FIXTURE_SETUP(hostile)
{
	struct mkioq_queue *q;
	uint32_t s;

	self->drm = vgem_open();
	ASSERT_GE(self->drm, 0);
	ASSERT_EQ(0, mkioq_queue_open(MKIOQ_DEV, NSLOTS, variant->open_flags,
				      &self->q));
	q = self->q;

	/* The producers' source: READ only, so it must never change. */
	ASSERT_EQ(0, gbuf_create(self->drm, 2 * GUARD + SRC_LEN, true,
				 &self->src));
	pattern_fill(self->src.b.map + GUARD, SRC_LEN, SRC_SEED, 0);
	ASSERT_EQ(0, gbuf_register(q, &self->src, GUARD, SRC_LEN,
				   MKIOQ_ACCESS_READ, &self->hsrc));

	/* One WRITE range per slot, guards between them. */
	ASSERT_EQ(0, gbuf_create(self->drm,
				 GUARD + NSLOTS * (DST_LEN + GUARD), true,
				 &self->dst));
	for (s = 0; s < NSLOTS; s++) {
		memset(dst_range(&self->dst, s), FILL, DST_LEN);
		ASSERT_EQ(0, gbuf_register(q, &self->dst,
					   GUARD + s * (DST_LEN + GUARD),
					   DST_LEN, MKIOQ_ACCESS_WRITE,
					   &self->hdst[s]));
	}

	/*
	 * Handles for the adversary to name: overlapping ranges of one
	 * buffer (RW, READ, WRITE: copies within one dma-buf, overlapping
	 * or not), a read-only vgem buffer, and a handle that is gone.
	 */
	ASSERT_EQ(0, gbuf_create(self->drm, 2 * GUARD + ADV_LEN, true,
				 &self->adv));
	ASSERT_EQ(0, gbuf_register(q, &self->adv, GUARD, ADV_LEN,
				   MKIOQ_ACCESS_RW, &self->hadv[0]));
	ASSERT_EQ(0, gbuf_register(q, &self->adv, GUARD + 4097, ADV_LEN / 2,
				   MKIOQ_ACCESS_READ, &self->hadv[1]));
	ASSERT_EQ(0, gbuf_register(q, &self->adv, GUARD + 100, 3000,
				   MKIOQ_ACCESS_WRITE, &self->hadv[2]));
	ASSERT_EQ(0, gbuf_create(self->drm, 2 * GUARD + RO_LEN, false,
				 &self->ro));
	pattern_fill(self->ro.b.map + GUARD, RO_LEN, RO_SEED, 0);
	ASSERT_EQ(0, gbuf_register(q, &self->ro, GUARD, RO_LEN,
				   MKIOQ_ACCESS_READ, &self->hro));
	ASSERT_EQ(0, mkioq_register(q, self->adv.b.fd, 0, 4096,
				    MKIOQ_ACCESS_RW, &self->hstale));
	ASSERT_EQ(0, mkioq_unregister(q, self->hstale));
	self->max_handle = self->hstale;

	self->src_snap = malloc(self->src.b.size);
	self->ro_snap = malloc(self->ro.b.size);
	ASSERT_NE(NULL, self->src_snap);
	ASSERT_NE(NULL, self->ro_snap);
	memcpy(self->src_snap, self->src.b.map, self->src.b.size);
	memcpy(self->ro_snap, self->ro.b.map, self->ro.b.size);
}

FIXTURE_TEARDOWN(hostile)
{
	mkioq_queue_free(self->q);
	gbuf_destroy(&self->src);
	gbuf_destroy(&self->dst);
	gbuf_destroy(&self->adv);
	gbuf_destroy(&self->ro);
	free(self->src_snap);
	free(self->ro_snap);
	close(self->drm);
}

/* ------------------------------------------------------------------ */
/* The adversary                                                       */
/* ------------------------------------------------------------------ */

struct adversary {
	struct mkioq_queue *q;
	uint32_t first, nslots;		/* the slots it writes */
	uint32_t names[NSLOTS + 16];	/* handle numbers it likes to write */
	unsigned int nnames;
	const bool *forbidden;		/* DST values it must never write */
	uint64_t target;		/* writes at least this many */
	bool wait_producers;		/* ...and until the producers are done */
	bool ring;			/* ring the doorbell now and then */
	_Atomic unsigned int *producers_running;
	uint64_t rng;
	uint64_t writes, requests, doorbells;
};

#define FORBIDDEN_MAX	4100	/* handle numbers are 1..4096 */

static uint32_t adv_value(struct adversary *a)
{
	static const uint32_t odd[] = {
		0, 1, 2, 3, 4, 0x10, 0x11, 0x12, 0xff, 0x7fffffff,
		0x80000000, 0xfffffffe, 0xffffffff,
	};
	static const uint32_t lens[] = {
		SRC_LEN, SRC_LEN - 1, SRC_LEN + 1, DST_LEN, DST_LEN + 1,
		ADV_LEN, ADV_LEN + 1, ADV_LEN / 2, 3000, 4096, RO_LEN,
	};
	uint64_t r = rnd(&a->rng);

	/*
	 * Half the words are uniformly random 32-bit values; the rest are
	 * biased towards values that mean something (handle numbers, ops,
	 * states, in-range and boundary sizes), or valid handles and ops
	 * would almost never appear and the copy paths would go untested.
	 */
	switch (r & 7) {
	case 4:
		return a->names[(r >> 8) % a->nnames];
	case 5:
		return odd[(r >> 8) % ARRAY_SIZE(odd)];
	case 6:
		return (uint32_t)((r >> 8) % (ADV_LEN + 2));
	case 7:
		return lens[(r >> 8) % ARRAY_SIZE(lens)];
	default:
		return (uint32_t)(r >> 32);
	}
}

static void adv_store(struct adversary *a, uint32_t slot, uint32_t word,
		      uint32_t v, bool release)
{
	uint32_t *w = &a->q->words[slot * MKIOQ_SLOT_WORDS + word];

	if (release)
		__atomic_store_n(w, v, __ATOMIC_RELEASE);
	else
		__atomic_store_n(w, v, __ATOMIC_RELAXED);
	a->writes++;
	if (a->ring && a->writes % 1024 == 0) {
		mkioq_doorbell(a->q);
		a->doorbells++;
	}
}

/*
 * Partitioned: a DST_HANDLE word never holds a producer's destination handle, so
 * no adversary request writes a producer's range. (As SRC those handles
 * are harmless: they are registered WRITE only.)
 */
static bool forbidden(const struct adversary *a, uint32_t v)
{
	return a->forbidden && v < FORBIDDEN_MAX && a->forbidden[v];
}

/*
 * Partitioned: at least the target, and until the producers are done.
 * All slots: at least the target, and for ADV_MIN_TIME, so that the
 * producers get some requests through while it runs (10^5 writes alone
 * take a few tens of milliseconds).
 */
static bool adv_done(struct adversary *a, uint64_t t0)
{
	if (a->writes < a->target)
		return false;
	if (!a->wait_producers)
		return now_ns() - t0 >= ADV_MIN_TIME;
	if (!atomic_load(a->producers_running))
		return true;
	return now_ns() - t0 > ADV_MAX_TIME;
}

static void *adversary_main(void *arg)
{
	struct adversary *a = arg;
	uint64_t t0 = now_ns();

	while (!adv_done(a, t0)) {
		uint64_t r = rnd(&a->rng);
		uint32_t slot = a->first + (uint32_t)(r % a->nslots);
		uint32_t word = (r >> 8) & 7, v, i;

		if ((r >> 16) % 64 == 0) {
			/*
			 * Now and then a plausible request, published: so
			 * that copies really run while the words change.
			 */
			uint32_t req[MKIOQ_SLOT_WORDS];

			for (i = 0; i < MKIOQ_SLOT_WORDS; i++)
				req[i] = adv_value(a);
			req[MKIOQ_WORD_OP] = 1 + (r >> 24) % 3;
			req[MKIOQ_WORD_SRC_HANDLE] = a->names[(r >> 28) % a->nnames];
			req[MKIOQ_WORD_DST_HANDLE] = a->names[(r >> 36) % a->nnames];
			req[MKIOQ_WORD_OFFSET_LO] = (r >> 44) % 8192;
			req[MKIOQ_WORD_OFFSET_HI] = 0;
			req[MKIOQ_WORD_BYTE_COUNT] = rnd(&a->rng) % 8192;
			for (i = 0; i < MKIOQ_SLOT_WORDS; i++) {
				if (i == MKIOQ_WORD_STATUS ||
				    (i == MKIOQ_WORD_DST_HANDLE && forbidden(a, req[i])))
					continue;
				adv_store(a, slot, i, req[i], false);
			}
			adv_store(a, slot, MKIOQ_WORD_STATUS,
				  MKIOQ_STATE_PUBLISHED, true);
			a->requests++;
			continue;
		}
		if (word == MKIOQ_WORD_STATUS && (r >> 24) & 1) {
			v = MKIOQ_STATE_PUBLISHED;
		} else {
			do
				v = adv_value(a);
			while (word == MKIOQ_WORD_DST_HANDLE && forbidden(a, v));
		}
		adv_store(a, slot, word, v, (r >> 25) & 1);
		if (a->writes % 4096 == 0)
			sched_yield();
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The producers                                                       */
/* ------------------------------------------------------------------ */

struct producer {
	struct mkioq_queue *q;
	struct gbuf *dst;
	const uint32_t *hdst;
	uint32_t hsrc, id, first, nslots;
	uint32_t quota;			/* strict: requests; else 0 */
	bool strict;			/* partitioned: assert everything */
	bool ring;
	atomic_bool *stop;		/* all_slots: the adversary is done */
	_Atomic unsigned int *running;
	uint64_t rng;
	/* Results. */
	uint64_t sent, verified, bad_status, bad_count, bad_tag, bad_data,
		 bad_outside, bad_recycle, bad_submit, timeouts, clobbered;
};

struct inflight {
	bool busy;
	uint32_t tag, n;
	uint64_t off, t0;
};

static void reap(struct producer *p, uint32_t slot, struct inflight *f)
{
	uint8_t *range = dst_range(p->dst, slot);
	struct mkioq_completion c;
	bool ok = false;

	if (mkioq_completion(p->q, slot, &c) || c.status != MKIOQ_RESULT_OK)
		p->bad_status++;
	else if (c.byte_count != f->n)
		p->bad_count++;
	else if (c.tag != f->tag)
		p->bad_tag++;
	else if (pattern_check(range, f->n, SRC_SEED, f->off) != f->n)
		p->bad_data++;
	else if (count_not(range + f->n, DST_LEN - f->n, FILL))
		p->bad_outside++;
	else
		ok = true;
	if (ok)
		p->verified++;
	else if (!p->strict)
		p->clobbered++;
	if (mkioq_recycle(p->q, slot) && p->strict)
		p->bad_recycle++;
	f->busy = false;
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	struct inflight f[NSLOTS] = { { 0 } };
	uint64_t reaped = 0, seq = 0;
	uint32_t busy = 0, i;

	for (;;) {
		bool stopping = p->strict ? p->sent >= p->quota :
					    atomic_load(p->stop);
		bool submitted = false, progress = false;
		uint64_t now = now_ns();

		if (stopping && !busy)
			break;
		for (i = 0; i < p->nslots; i++) {
			uint32_t slot = p->first + i;
			int st = mkioq_slot_status(p->q, slot);
			struct mkioq_request req = {
				.op = MKIOQ_OP_READ, .src_handle = p->hsrc,
				.dst_handle = p->hdst[slot],
			};

			if (f[i].busy) {
				if (st == MKIOQ_RESULT_OK ||
				    st == MKIOQ_RESULT_ERROR) {
					reap(p, slot, &f[i]);
				} else if (now - f[i].t0 >
					   (p->strict ? REQ_TIMEOUT : ABANDON)) {
					/* Lost (strict) or clobbered. */
					if (p->strict)
						p->timeouts++;
					else
						p->clobbered++;
					f[i].busy = false;
				} else {
					continue;
				}
				busy--;
				reaped++;
				progress = true;
			}
			if (stopping)
				continue;
			if (!p->strict && st != MKIOQ_STATE_EMPTY) {
				/* Left over by the adversary: tidy up. */
				mkioq_recycle(p->q, slot);
			}
			f[i].n = 1 + (uint32_t)(rnd(&p->rng) % DST_LEN);
			f[i].off = rnd(&p->rng) % (SRC_LEN - f[i].n + 1);
			f[i].tag = p->id << 24 | (uint32_t)(seq & 0xffffff);
			memset(dst_range(p->dst, slot), FILL, DST_LEN);
			req.byte_count = f[i].n;
			req.offset = f[i].off;
			req.tag = f[i].tag;
			if (mkioq_submit(p->q, slot, &req)) {
				/* A strict producer's slot is always EMPTY. */
				if (p->strict)
					p->bad_submit++;
				continue;
			}
			f[i].busy = true;
			f[i].t0 = now;
			busy++;
			seq++;
			submitted = progress = true;
			if (++p->sent == p->quota && p->strict)
				stopping = true;
		}
		if (p->ring && submitted)
			mkioq_doorbell(p->q);
		if (!progress)
			sched_yield();
	}
	atomic_fetch_sub(p->running, 1);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The tests                                                           */
/* ------------------------------------------------------------------ */

static void adversary_init(struct adversary *a,
			   FIXTURE_DATA(hostile) *self, bool all)
{
	unsigned int i;

	memset(a, 0, sizeof(*a));
	a->q = self->q;
	a->first = all ? 0 : ADV_FIRST;
	a->nslots = NSLOTS - a->first;
	a->target = env_u64("MKIOQ_ADVERSARY_WRITES", DEFAULT_WRITES);
	a->rng = 0x243f6a8885a308d3ULL ^ now_ns();
	a->names[a->nnames++] = MKIOQ_HANDLE_NONE;
	a->names[a->nnames++] = self->hsrc;
	a->names[a->nnames++] = self->hro;
	a->names[a->nnames++] = self->hstale;
	for (i = 0; i < 3; i++)
		a->names[a->nnames++] = self->hadv[i];
	/* Numbers that were never handles. */
	a->names[a->nnames++] = self->max_handle + 1;
	a->names[a->nnames++] = self->max_handle + 100;
	a->names[a->nnames++] = 4096;
	a->names[a->nnames++] = 4097;
	if (all)
		for (i = 0; i < NSLOTS; i++)
			a->names[a->nnames++] = self->hdst[i];
}

/* The checks after the queue is closed and its service has stopped. */
static void check_buffers(struct __test_metadata *_metadata,
			  FIXTURE_DATA(hostile) *self)
{
	struct gbuf *all[] = { &self->src, &self->dst, &self->adv, &self->ro };
	static const char *const names[] = { "src", "dst", "adv", "ro" };
	size_t bad, first;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(all); i++) {
		bad = gbuf_check_guards(all[i], &first);
		EXPECT_EQ(0, bad)
			TH_LOG("%s: %zu guard bytes changed, the first at %zu",
			       names[i], bad, first);
	}
	EXPECT_EQ(0, memcmp(self->src_snap, self->src.b.map,
			    self->src.b.size));
	EXPECT_EQ(0, memcmp(self->ro_snap, self->ro.b.map, self->ro.b.size));
}

static void run(struct __test_metadata *_metadata,
		FIXTURE_DATA(hostile) *self,
		const FIXTURE_VARIANT(hostile) *variant, bool all)
{
	bool ring = !(variant->open_flags & MKIOQ_OPEN_POLL);
	static bool forbidden[FORBIDDEN_MAX];
	_Atomic unsigned int running = PRODUCERS;
	atomic_bool stop = false;
	struct producer prod[PRODUCERS];
	pthread_t th[PRODUCERS], ath;
	struct adversary adv;
	struct mkioq_info info;
	uint64_t t0, verified = 0, sent = 0, clobbered = 0;
	uint32_t t, s;

	adversary_init(&adv, self, all);
	adv.ring = ring;
	adv.wait_producers = !all;
	adv.producers_running = &running;
	if (!all) {
		/* No DST_HANDLE word names a producer's destination. */
		for (s = 0; s < NSLOTS; s++)
			forbidden[self->hdst[s]] = true;
		adv.forbidden = forbidden;
	}

	t0 = now_ns();
	ASSERT_EQ(0, pthread_create(&ath, NULL, adversary_main, &adv));
	for (t = 0; t < PRODUCERS; t++) {
		prod[t] = (struct producer) {
			.q = self->q, .dst = &self->dst, .hdst = self->hdst,
			.hsrc = self->hsrc, .id = t,
			.first = t * (ADV_FIRST / PRODUCERS),
			.nslots = ADV_FIRST / PRODUCERS,
			.quota = all ? 0 : PER_PRODUCER, .strict = !all,
			.ring = ring, .stop = &stop, .running = &running,
			.rng = 0x9e3779b97f4a7c15ULL * (t + 1) ^ t0,
		};
		ASSERT_EQ(0, pthread_create(&th[t], NULL, producer_main,
					    &prod[t]));
	}
	pthread_join(ath, NULL);
	atomic_store(&stop, true);
	for (t = 0; t < PRODUCERS; t++)
		pthread_join(th[t], NULL);

	ASSERT_EQ(0, mkioq_info(self->q, &info));
	/* Closing stops the service: nothing writes the buffers after. */
	mkioq_queue_free(self->q);
	self->q = NULL;

	for (t = 0; t < PRODUCERS; t++) {
		struct producer *p = &prod[t];

		verified += p->verified;
		sent += p->sent;
		clobbered += p->clobbered;
		if (!all) {
			EXPECT_EQ(PER_PRODUCER, p->sent);
			EXPECT_EQ(PER_PRODUCER, p->verified);
			EXPECT_EQ(0, p->timeouts);
			EXPECT_EQ(0, p->bad_status);
			EXPECT_EQ(0, p->bad_count);
			EXPECT_EQ(0, p->bad_tag);
			EXPECT_EQ(0, p->bad_data);
			EXPECT_EQ(0, p->bad_outside);
			EXPECT_EQ(0, p->bad_recycle);
			EXPECT_EQ(0, p->bad_submit);
		}
	}
	check_buffers(_metadata, self);
	EXPECT_GE(adv.writes, adv.target);
	/* The adversary's own requests were serviced too. */
	EXPECT_GT(info.completed, verified);

	ksft_print_msg("%s %s, exporter %s: %lu adversary writes (%lu whole requests) on slots %u..%u in %.1f s\n",
		       variant->mode, all ? "all_slots" : "partitioned",
		       test_exporter(), (unsigned long)adv.writes,
		       (unsigned long)adv.requests, adv.first, NSLOTS - 1,
		       (now_ns() - t0) / 1e9);
	ksft_print_msg("producer requests: %lu sent, %lu verified, %lu %s; module: %llu completed, %llu errors\n",
		       (unsigned long)sent, (unsigned long)verified,
		       (unsigned long)(all ? clobbered : sent - verified),
		       all ? "clobbered or abandoned" : "failed",
		       (unsigned long long)info.completed,
		       (unsigned long long)info.errors);
}

TEST_F_TIMEOUT(hostile, partitioned, 600)
{
	run(_metadata, self, variant, false);
}

TEST_F_TIMEOUT(hostile, all_slots, 600)
{
	run(_metadata, self, variant, true);
}

TEST_HARNESS_MAIN

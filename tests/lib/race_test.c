// SPDX-License-Identifier: GPL-2.0
/*
 * libmkioq under concurrency, on a host-owned queue (no kernel needed).
 *
 * race_1m: producers and claimers hammer one 64-slot ring with 10^6
 * requests (MKIOQ_RACE_REQUESTS overrides the count). Every request must
 * be claimed exactly once and its completion seen exactly once by the
 * producer that submitted it: the crate's plain load/store claim failed
 * exactly this.
 *
 * contended_submit: threads race mkioq_submit() on the same EMPTY slots.
 * Exactly one wins each slot, the others get -EBUSY, and the slot holds
 * the winner's words, never a mix of two producers'.
 *
 * The same source is built with -fsanitize=thread (make tsan).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmkioq.h>

#include "kselftest_harness.h"

#define SLOTS		MKIOQ_MAX_SLOTS
#define PRODUCERS	3
#define CLAIMERS	3
#define DEFAULT_REQUESTS 1000000U
/* No completion reaped for this long means a request was lost. */
#define STALL_SECONDS	60

/*
 * The test child runs to _exit(), which drops buffered stdout: flush
 * each message so the figures reach a pipe too.
 */
#define race_msg(...) do {			\
	ksft_print_msg(__VA_ARGS__);		\
	fflush(stdout);				\
} while (0)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* race_1m                                                             */
/* ------------------------------------------------------------------ */

/*
 * Every word of a request is a function of its tag, so a claimer can
 * tell a slot it claimed holds one whole request, not parts of two.
 */
static void request_of(uint32_t tag, struct mkioq_request *req)
{
	req->op = tag & 1 ? MKIOQ_OP_WRITE : MKIOQ_OP_READ;
	req->src_handle = tag * 2 + 1;		/* never HANDLE_NONE */
	req->dst_handle = ~tag;
	req->byte_count = 512 + tag % 4096;
	req->offset = (uint64_t)tag << 20 | 0x123;	/* > 4 GiB too */
	req->tag = tag;
}

/* One request in eight completes with an error: errno in TAG. */
static bool fails(uint32_t tag)
{
	return tag % 8 == 7;
}

static int errno_of(uint32_t tag)
{
	return 1 + tag % 100;
}

struct race {
	struct mkioq_queue *q;
	uint32_t nreq;
	_Atomic uint32_t *claims;	/* per tag: times claimed */
	_Atomic uint32_t *seen;		/* per tag: completions reaped */
	atomic_ulong reaped;		/* completions reaped, all producers */
	atomic_uint producers_done;
	atomic_bool stop;
	/* Anything unexpected, counted by threads, asserted by the test. */
	atomic_ulong bad_words;		/* claimed slot not one whole request */
	atomic_ulong bad_result;	/* completion not what was submitted */
	atomic_ulong bad_return;	/* a call returned an unexpected code */
	atomic_ulong claim_calls;	/* successful claims, all claimers */
};

struct worker {
	struct race *r;
	unsigned int id;
	pthread_t thread;
};

/*
 * A lane of the megakernel: producer p owns the slots s with
 * s % PRODUCERS == p, submits into them, reaps their completions and
 * recycles them. Its tags are p, p + PRODUCERS, ...
 */
static void *producer(void *arg)
{
	struct worker *w = arg;
	struct race *r = w->r;
	uint32_t cur[SLOTS], next = w->id, outstanding = 0, s;
	struct mkioq_completion rec;
	struct mkioq_request req;
	bool progress;
	int st, ret;

	for (s = 0; s < SLOTS; s++)
		cur[s] = UINT32_MAX;
	while (!atomic_load(&r->stop)) {
		progress = false;
		for (s = w->id; s < SLOTS; s += PRODUCERS) {
			if (cur[s] != UINT32_MAX) {
				st = mkioq_slot_status(r->q, s);
				if (st == MKIOQ_STATE_PUBLISHED ||
				    st == MKIOQ_STATE_CLAIMED)
					continue;
				if (mkioq_completion(r->q, s, &rec) ||
				    rec.status != (uint32_t)st) {
					atomic_fetch_add(&r->bad_result, 1);
					continue;
				}
				request_of(cur[s], &req);
				if (fails(cur[s]) ?
				    st != MKIOQ_RESULT_ERROR ||
				    rec.tag != (uint32_t)errno_of(cur[s]) :
				    st != MKIOQ_RESULT_OK || rec.tag != cur[s] ||
				    rec.byte_count != req.byte_count ||
				    rec.src_handle != req.src_handle)
					atomic_fetch_add(&r->bad_result, 1);
				atomic_fetch_add(&r->seen[cur[s]], 1);
				ret = mkioq_recycle(r->q, s);
				if (ret)
					atomic_fetch_add(&r->bad_return, 1);
				cur[s] = UINT32_MAX;
				outstanding--;
				atomic_fetch_add(&r->reaped, 1);
				progress = true;
			}
			if (next < r->nreq) {
				request_of(next, &req);
				/* Our own slot, and EMPTY: cannot be busy. */
				ret = mkioq_submit(r->q, s, &req);
				if (ret) {
					atomic_fetch_add(&r->bad_return, 1);
					continue;
				}
				cur[s] = next;
				next += PRODUCERS;
				outstanding++;
				progress = true;
			}
		}
		if (next >= r->nreq && !outstanding)
			break;
		if (!progress)
			sched_yield();
	}
	atomic_fetch_add(&r->producers_done, 1);
	return NULL;
}

/*
 * What a servicing engine does with a slot it claimed: check it holds
 * one whole request, count the claim against its tag, and say whether
 * to complete it with an error.
 */
static bool serve(struct race *r, uint32_t slot, int *err)
{
	struct mkioq_completion rec;
	struct mkioq_request req;

	atomic_fetch_add(&r->claim_calls, 1);
	if (mkioq_completion(r->q, slot, &rec) ||
	    rec.status != MKIOQ_STATE_CLAIMED || rec.tag >= r->nreq) {
		atomic_fetch_add(&r->bad_words, 1);
		return false;
	}
	request_of(rec.tag, &req);
	if (rec.op != req.op || rec.src_handle != req.src_handle ||
	    rec.dst_handle != req.dst_handle ||
	    rec.byte_count != req.byte_count || rec.offset != req.offset)
		atomic_fetch_add(&r->bad_words, 1);
	atomic_fetch_add(&r->claims[rec.tag], 1);
	*err = fails(rec.tag) ? errno_of(rec.tag) : 0;
	return true;
}

/* Claimer 0 claims slot by slot; the others in batches of 64 or 4. */
static void *claimer(void *arg)
{
	struct worker *w = arg;
	struct race *r = w->r;
	uint32_t slots[SLOTS], ok[SLOTS], nok, start = 0, s, i;
	int n, ret, err;

	while (!atomic_load(&r->stop)) {
		n = 0;
		if (w->id % 3 == 0) {
			/* Start where the last scan ended: no favourites. */
			for (i = 0; i < SLOTS; i++) {
				s = (start + i) % SLOTS;
				ret = mkioq_claim(r->q, s);
				if (ret == -EAGAIN)
					continue;
				if (ret) {
					atomic_fetch_add(&r->bad_return, 1);
					continue;
				}
				n++;
				if (!serve(r, s, &err))
					continue;
				ret = err ? mkioq_complete_error(r->q, s, err) :
					    mkioq_complete(r->q, s);
				if (ret)
					atomic_fetch_add(&r->bad_return, 1);
			}
			start += 7;
		} else {
			n = mkioq_claim_batch(r->q, slots,
					      w->id % 3 == 1 ? SLOTS : 4);
			if (n < 0) {
				atomic_fetch_add(&r->bad_return, 1);
				n = 0;
			}
			nok = 0;
			for (i = 0; i < (uint32_t)n; i++) {
				if (!serve(r, slots[i], &err))
					continue;
				if (!err)
					ok[nok++] = slots[i];
				else if (mkioq_complete_error(r->q, slots[i],
							      err))
					atomic_fetch_add(&r->bad_return, 1);
			}
			if (mkioq_complete_batch(r->q, ok, nok))
				atomic_fetch_add(&r->bad_return, 1);
		}
		if (!n)
			sched_yield();
	}
	return NULL;
}

static uint32_t requests_wanted(void)
{
	const char *env = getenv("MKIOQ_RACE_REQUESTS");
	unsigned long n;
	char *end;

	if (!env || !*env)
		return DEFAULT_REQUESTS;
	n = strtoul(env, &end, 0);
	if (*end || n == 0 || n > UINT32_MAX / 2)
		return DEFAULT_REQUESTS;
	return (uint32_t)n;
}

FIXTURE(race) {
	struct mkioq_queue *q;
	struct race r;
};

FIXTURE_SETUP(race)
{
	ASSERT_EQ(0, mkioq_queue_new(SLOTS, &self->q));
	self->r.q = self->q;
}

FIXTURE_TEARDOWN(race)
{
	free((void *)self->r.claims);
	free((void *)self->r.seen);
	mkioq_queue_free(self->q);
}

/* TSan runs this ~10x slower than a normal build: allow 15 minutes. */
TEST_F_TIMEOUT(race, race_1m, 900)
{
	struct worker prod[PRODUCERS], cons[CLAIMERS];
	struct race *r = &self->r;
	unsigned long dups = 0, losses = 0, last = 0, busy = 0;
	double t0, t1, last_progress;
	unsigned int i;
	uint32_t tag, s;

	r->nreq = requests_wanted();
	r->claims = calloc(r->nreq, sizeof(*r->claims));
	r->seen = calloc(r->nreq, sizeof(*r->seen));
	ASSERT_NE(NULL, r->claims);
	ASSERT_NE(NULL, r->seen);

	t0 = now();
	for (i = 0; i < CLAIMERS; i++) {
		cons[i] = (struct worker){ .r = r, .id = i };
		ASSERT_EQ(0, pthread_create(&cons[i].thread, NULL, claimer,
					    &cons[i]));
	}
	for (i = 0; i < PRODUCERS; i++) {
		prod[i] = (struct worker){ .r = r, .id = i };
		ASSERT_EQ(0, pthread_create(&prod[i].thread, NULL, producer,
					    &prod[i]));
	}

	/*
	 * A lost request would leave its producer waiting forever: stop
	 * everyone when nothing is reaped for STALL_SECONDS, so the test
	 * reports the loss instead of timing out.
	 */
	last_progress = now();
	while (atomic_load(&r->producers_done) < PRODUCERS) {
		unsigned long reaped = atomic_load(&r->reaped);

		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 },
			  NULL);
		if (reaped != last) {
			last = reaped;
			last_progress = now();
		} else if (now() - last_progress > STALL_SECONDS) {
			TH_LOG("no completion for %d s at %lu of %u: stopping",
			       STALL_SECONDS, reaped, r->nreq);
			break;
		}
	}
	atomic_store(&r->stop, true);
	for (i = 0; i < PRODUCERS; i++)
		pthread_join(prod[i].thread, NULL);
	for (i = 0; i < CLAIMERS; i++)
		pthread_join(cons[i].thread, NULL);
	t1 = now();

	for (tag = 0; tag < r->nreq; tag++) {
		uint32_t c = atomic_load(&r->claims[tag]);
		uint32_t n = atomic_load(&r->seen[tag]);

		dups += (c > 1 ? c - 1 : 0) + (n > 1 ? n - 1 : 0);
		losses += !c || !n;
	}
	race_msg("race_1m: requests %u, producers %d, claimers %d, slots %d\n",
		 r->nreq, PRODUCERS, CLAIMERS, SLOTS);
	race_msg("race_1m: claimed %lu, reaped %lu, duplicates %lu, "
		 "losses %lu\n", atomic_load(&r->claim_calls),
		 atomic_load(&r->reaped), dups, losses);
	race_msg("race_1m: torn %lu, bad results %lu, bad returns %lu\n",
		 atomic_load(&r->bad_words), atomic_load(&r->bad_result),
		 atomic_load(&r->bad_return));
	race_msg("race_1m: %.2f s, %.0f requests/s\n", t1 - t0,
		 r->nreq / (t1 - t0));

	EXPECT_EQ(0, dups);
	EXPECT_EQ(0, losses);
	EXPECT_EQ(r->nreq, atomic_load(&r->claim_calls));
	EXPECT_EQ(r->nreq, atomic_load(&r->reaped));
	EXPECT_EQ(0, atomic_load(&r->bad_words));
	EXPECT_EQ(0, atomic_load(&r->bad_result));
	EXPECT_EQ(0, atomic_load(&r->bad_return));
	/* Every slot was recycled by its producer. */
	for (s = 0; s < SLOTS; s++)
		busy += !mkioq_is_recycled(self->q, s);
	EXPECT_EQ(0, busy);
}

/* ------------------------------------------------------------------ */
/* contended_submit                                                    */
/* ------------------------------------------------------------------ */

#define SUBMITTERS	4
#define ROUNDS		2000

/* Every word names its submitter, round and slot: a mix shows. */
static void contender_request(unsigned int t, uint32_t round, uint32_t slot,
			      struct mkioq_request *req)
{
	static const uint32_t ops[] = {
		MKIOQ_OP_READ, MKIOQ_OP_WRITE, MKIOQ_OP_FENCE,
	};

	req->op = ops[(t + round) % 3];
	req->src_handle = 1 + t;
	req->dst_handle = 0x100 * (t + 1) + slot;
	req->offset = (uint64_t)(t + 1) << 40 | (uint64_t)round << 8 | slot;
	req->byte_count = (t + 1) * 100000 + slot;
	req->tag = (round * SLOTS + slot) * SUBMITTERS + t;
}

struct contest {
	struct mkioq_queue *q;
	pthread_barrier_t start, end;
	atomic_uint ready;		/* submitters past start, all rounds */
	atomic_bool quit;
	/* ret[t][slot] of the current round: written by t between barriers. */
	int ret[SUBMITTERS][SLOTS];
};

struct contender {
	struct contest *c;
	unsigned int t;
	pthread_t thread;
};

static void *contender(void *arg)
{
	struct contender *me = arg;
	struct contest *c = me->c;
	struct mkioq_request req;
	uint32_t round, i, s;

	for (round = 0;; round++) {
		pthread_barrier_wait(&c->start);
		if (atomic_load(&c->quit))
			break;
		/*
		 * The barrier wakes its waiters one by one, long enough
		 * apart for the first to fill every slot alone: wait until
		 * all are awake so that the submits really overlap.
		 */
		atomic_fetch_add(&c->ready, 1);
		while (atomic_load(&c->ready) < (round + 1) * SUBMITTERS)
			sched_yield();
		for (i = 0; i < SLOTS; i++) {
			/*
			 * Even rounds: all in the same order, so the CASes
			 * on one slot collide; odd rounds: staggered.
			 */
			s = round % 2 ?
			    (i + me->t * SLOTS / SUBMITTERS) % SLOTS : i;
			contender_request(me->t, round, s, &req);
			c->ret[me->t][s] = mkioq_submit(c->q, s, &req);
		}
		pthread_barrier_wait(&c->end);
	}
	return NULL;
}

TEST_F_TIMEOUT(race, contended_submit, 300)
{
	struct contender th[SUBMITTERS];
	struct contest *c;
	unsigned long wins[SUBMITTERS] = { 0 }, busy = 0, mixed_rounds = 0;
	unsigned long bad_wins = 0, bad_words = 0, bad_returns = 0;
	struct mkioq_completion rec;
	struct mkioq_request want;
	uint32_t round, s, batch[SLOTS];
	unsigned int t, winner, nwin;
	double t0;

	c = calloc(1, sizeof(*c));
	ASSERT_NE(NULL, c);
	c->q = self->q;
	ASSERT_EQ(0, pthread_barrier_init(&c->start, NULL, SUBMITTERS + 1));
	ASSERT_EQ(0, pthread_barrier_init(&c->end, NULL, SUBMITTERS + 1));
	for (t = 0; t < SUBMITTERS; t++) {
		th[t] = (struct contender){ .c = c, .t = t };
		ASSERT_EQ(0, pthread_create(&th[t].thread, NULL, contender,
					    &th[t]));
	}

	t0 = now();
	for (round = 0; round < ROUNDS; round++) {
		unsigned int first = SUBMITTERS;
		bool mixed = false;

		pthread_barrier_wait(&c->start);
		pthread_barrier_wait(&c->end);
		/* The submitters wait at start: the ring is ours to check. */
		for (s = 0; s < SLOTS; s++) {
			nwin = 0;
			winner = SUBMITTERS;
			for (t = 0; t < SUBMITTERS; t++) {
				if (c->ret[t][s] == 0) {
					nwin++;
					winner = t;
				} else if (c->ret[t][s] == -EBUSY) {
					busy++;
				} else {
					bad_returns++;
				}
			}
			if (nwin != 1) {
				bad_wins++;
				continue;
			}
			wins[winner]++;
			if (first == SUBMITTERS)
				first = winner;
			mixed |= winner != first;
			contender_request(winner, round, s, &want);
			if (mkioq_completion(self->q, s, &rec) ||
			    rec.status != MKIOQ_STATE_PUBLISHED ||
			    rec.op != want.op ||
			    rec.src_handle != want.src_handle ||
			    rec.dst_handle != want.dst_handle ||
			    rec.offset != want.offset ||
			    rec.byte_count != want.byte_count ||
			    rec.tag != want.tag)
				bad_words++;
		}
		mixed_rounds += mixed;
		/* Back to EMPTY through the engine, for the next round. */
		if (mkioq_claim_batch(self->q, batch, SLOTS) != SLOTS ||
		    mkioq_complete_batch(self->q, batch, SLOTS))
			bad_returns++;
		for (s = 0; s < SLOTS; s++)
			if (mkioq_recycle(self->q, s))
				bad_returns++;
	}
	atomic_store(&c->quit, true);
	pthread_barrier_wait(&c->start);
	for (t = 0; t < SUBMITTERS; t++)
		pthread_join(th[t].thread, NULL);

	race_msg("contended_submit: %d rounds x %d slots x %d submitters, "
		 "%.2f s\n", ROUNDS, SLOTS, SUBMITTERS, now() - t0);
	race_msg("contended_submit: wins %lu/%lu/%lu/%lu, -EBUSY %lu, "
		 "rounds won by several %lu\n", wins[0], wins[1], wins[2],
		 wins[3], busy, mixed_rounds);
	EXPECT_EQ(0, bad_wins);
	EXPECT_EQ(0, bad_words);
	EXPECT_EQ(0, bad_returns);
	EXPECT_EQ((unsigned long)ROUNDS * SLOTS * (SUBMITTERS - 1), busy);
	pthread_barrier_destroy(&c->start);
	pthread_barrier_destroy(&c->end);
	free(c);
}

TEST_HARNESS_MAIN

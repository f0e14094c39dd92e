// SPDX-License-Identifier: MIT
/*
 * The engine's completions: the result written into the ring, and the
 * record that goes with it, as driver/mkioq_backlog.c keeps them for read().
 *
 * A completion's STATUS store and its record are made under the record
 * queue's lock, so records are in the order the STATUS words were
 * written, whichever worker wrote them. The queue holds
 * MKIOQ_ENGINE_CQ_ENTRIES records. When it is full the record is dropped
 * and counted, never blocking a worker: the next record delivered carries
 * MKIOQ_CQE_F_OVERFLOW and the number dropped (saturating at UINT32_MAX),
 * and if no record is left to carry it, mkioq_engine_read_cqes() returns
 * a notice (MKIOQ_CQE_F_NOTICE) with slot MKIOQ_ANY_SLOT that does. The
 * slot's STATUS word always holds the result.
 *
 * With MKIOQ_ENGINE_F_NO_RECORDS no record is kept, and a worker's batch
 * completes without the lock, counted in the worker's counters: with 8
 * workers completing 64 KiB requests the shared lock cost a futex wait
 * about every 30 completions and a tenth of the throughput (measured on
 * the H200 host, README). The lock is adaptive: a waiter spins briefly
 * before it sleeps, as the hold is a few stores.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include "engine.h"
#include "util.h"

int engine_cq_init(struct engine_cq *cq, bool records)
{
	pthread_mutexattr_t mattr;
	pthread_condattr_t attr;
	int ret;

	memset(cq, 0, sizeof(*cq));
	cq->records = records;
	ret = pthread_mutexattr_init(&mattr);
	if (ret)
		return -ret;
	ret = pthread_mutexattr_settype(&mattr, PTHREAD_MUTEX_ADAPTIVE_NP);
	if (!ret)
		ret = pthread_mutex_init(&cq->lock, &mattr);
	pthread_mutexattr_destroy(&mattr);
	if (ret)
		return -ret;
	ret = pthread_condattr_init(&attr);
	if (!ret) {
		/* Deadlines on the monotonic clock, as poll(2)'s are. */
		ret = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (!ret)
			ret = pthread_cond_init(&cq->cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (ret) {
		pthread_mutex_destroy(&cq->lock);
		return -ret;
	}
	return 0;
}

void engine_cq_destroy(struct engine_cq *cq)
{
	pthread_cond_destroy(&cq->cond);
	pthread_mutex_destroy(&cq->lock);
}

/* Queue @cqe, or drop and count it: mkioq_cq_enqueue()/mkioq_cq_alloc(). */
static bool engine_cq_enqueue(struct engine_cq *cq,
			      const struct mkioq_cqe *cqe)
{
	if (cq->count == MKIOQ_ENGINE_CQ_ENTRIES) {
		if (cq->dropped != UINT32_MAX)
			cq->dropped++;
		cq->overflow++;
		return false;
	}
	cq->rec[(cq->head + cq->count) % MKIOQ_ENGINE_CQ_ENTRIES] = *cqe;
	cq->count++;
	return true;
}

/*
 * Write the result of @req, a request this engine claimed, into its slot
 * and count the slot's completion: the module's mkioq_complete(). @result:
 * bytes moved, or a negative errno. Returns the STATUS written.
 */
static uint32_t engine_complete_slot(struct mkioq_engine *e,
				     const struct engine_req *req, int result)
{
	uint32_t status;

	/*
	 * Release (ring_complete()): the copied bytes and BYTE_COUNT/TAG are
	 * visible before the result; pairs with the producer's acquiring
	 * load of STATUS (ring_status() in libmkioq, or the GPU's acquire
	 * load).
	 */
	if (result >= 0) {
		status = MKIOQ_RESULT_OK;
		ring_complete(e->q, req->slot, MKIOQ_WORD_BYTE_COUNT,
			      (uint32_t)result, status);
	} else {
		status = MKIOQ_RESULT_ERROR;
		ring_complete(e->q, req->slot, MKIOQ_WORD_TAG,
			      (uint32_t)-result, status);
	}
	/*
	 * Release, after STATUS: pairs with the acquiring load in
	 * engine_service.c's fence_slot_done(), so a FENCE that sees this
	 * count move sees the completion, and its own release of OK passes
	 * it on to whoever acquires that.
	 */
	atomic_fetch_add_explicit(&e->comp_seq[req->slot], 1,
				  memory_order_release);
	return status;
}

/*
 * engine_complete_slot(), then queue the record (mkioq_cq_post()) if the
 * engine keeps them. cq->lock held, so that records are in the order of
 * the STATUS stores; returns whether a record was queued.
 */
static bool engine_complete_locked(struct mkioq_engine *e,
				   const struct engine_req *req, int result)
{
	struct engine_cq *cq = &e->cq;
	struct mkioq_cqe cqe = {
		.slot = req->slot,
		.result = result,
		.tag = req->rq.tag,
	};

	cqe.status = engine_complete_slot(e, req, result);
	cq->completed++;
	if (cqe.status == MKIOQ_RESULT_ERROR)
		cq->errors++;
	return cq->records && engine_cq_enqueue(cq, &cqe);
}

void engine_complete(struct mkioq_engine *e, const struct engine_req *req,
		     int result)
{
	struct engine_cq *cq = &e->cq;

	pthread_mutex_lock(&cq->lock);
	if (engine_complete_locked(e, req, result) && cq->waiters)
		pthread_cond_broadcast(&cq->cond);
	pthread_mutex_unlock(&cq->lock);
}

/*
 * Complete @n requests of worker @w's pass, in order: under one hold of
 * the lock, or without records in the worker's own counters.
 */
void engine_complete_batch(struct mkioq_engine *e, struct engine_worker *w,
			   const struct engine_done *done, unsigned int n)
{
	struct engine_cq *cq = &e->cq;
	unsigned int i, errors = 0;
	bool queued = false;

	if (!cq->records) {
		for (i = 0; i < n; i++)
			errors += engine_complete_slot(e, &done[i].req,
						       done[i].result) ==
				  MKIOQ_RESULT_ERROR;
		WORKER_COUNT(w->completed, n);
		WORKER_COUNT(w->errors, errors);
		return;
	}
	pthread_mutex_lock(&cq->lock);
	for (i = 0; i < n; i++)
		queued |= engine_complete_locked(e, &done[i].req,
						 done[i].result);
	if (queued && cq->waiters)
		pthread_cond_broadcast(&cq->cond);
	pthread_mutex_unlock(&cq->lock);
}

/*
 * Take up to @max records, oldest first, the first of them carrying the
 * count of records dropped; or, with none left, the notice that carries
 * it (mkioq_cq_take_locked() for MKIOQ_ANY_SLOT).
 */
static unsigned int engine_cq_take(struct engine_cq *cq,
				   struct mkioq_cqe *cqes, unsigned int max)
{
	unsigned int n = 0;

	while (n < max && cq->count) {
		cqes[n] = cq->rec[cq->head];
		cq->head = (cq->head + 1) % MKIOQ_ENGINE_CQ_ENTRIES;
		cq->count--;
		if (cq->dropped) {
			cqes[n].flags |= MKIOQ_CQE_F_OVERFLOW;
			cqes[n].dropped = cq->dropped;
			cq->dropped = 0;
		}
		n++;
	}
	if (!n && cq->dropped) {
		memset(cqes, 0, sizeof(*cqes));
		cqes->slot = MKIOQ_ANY_SLOT;
		cqes->result = -ENOBUFS;
		cqes->flags = MKIOQ_CQE_F_OVERFLOW | MKIOQ_CQE_F_NOTICE;
		cqes->dropped = cq->dropped;
		cq->dropped = 0;
		n = 1;
	}
	return n;
}

/* @ms from now on CLOCK_MONOTONIC, the clock of the record queue's cond. */
static void deadline_after(struct timespec *ts, int ms)
{
	uint64_t t = mono_ns() + (uint64_t)ms * 1000000;

	ts->tv_sec = (time_t)(t / 1000000000);
	ts->tv_nsec = (long)(t % 1000000000);
}

/*
 * As mkioq_read_cqes() on a device queue: up to @max records, waiting up
 * to @timeout_ms for the first (-1: forever, 0: not at all); -ETIMEDOUT
 * if none came.
 */
int mkioq_engine_read_cqes(struct mkioq_engine *e, struct mkioq_cqe *cqes,
			   unsigned int max, int timeout_ms)
{
	struct engine_cq *cq;
	struct timespec deadline;
	unsigned int n;
	int ret = 0;

	if (!e || !cqes || !max)
		return -EINVAL;
	cq = &e->cq;
	if (!cq->records)
		return -EOPNOTSUPP;
	if (timeout_ms > 0)
		deadline_after(&deadline, timeout_ms);
	pthread_mutex_lock(&cq->lock);
	for (;;) {
		n = engine_cq_take(cq, cqes, max);
		if (n || !timeout_ms || ret == ETIMEDOUT)
			break;
		cq->waiters++;
		if (timeout_ms < 0)
			ret = pthread_cond_wait(&cq->cond, &cq->lock);
		else
			ret = pthread_cond_timedwait(&cq->cond, &cq->lock,
						     &deadline);
		cq->waiters--;
	}
	pthread_mutex_unlock(&cq->lock);
	return n ? (int)n : -ETIMEDOUT;
}

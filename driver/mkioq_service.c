// SPDX-License-Identifier: GPL-2.0
/*
 * The service: claim PUBLISHED slots, copy between dma-bufs, complete.
 *
 * One agent services a queue at a time (service_lock): the doorbell caller
 * in DOORBELL mode, the queue's kernel thread in POLL mode. Requests are
 * therefore executed one by one in the order they were claimed.
 *
 * A FENCE completes only when everything claimed before it has completed,
 * whoever claimed it. It is held (struct mkioq_fence) until both:
 *  - one more full pass over the ring has been serviced after the one that
 *    claimed it: every request published before the FENCE was visible when
 *    the FENCE was claimed, so this service has claimed and completed it
 *    by then, whatever its slot index;
 *  - every slot that read CLAIMED just after the FENCE was claimed (another
 *    engine's claim, a producer's reservation) has been seen to leave
 *    CLAIMED. Held FENCEs are examined at the end of every pass; in
 *    DOORBELL mode, while one waits for another engine and nobody rings,
 *    also every MKIOQ_FENCE_RECHECK_MS (mkioq_fence_recheck()).
 *
 * The ring is shared with userspace and devices that may write anything at
 * any time. A slot is claimed with a compare-and-swap, its words are read
 * exactly once into a struct mkioq_req, and after that the ring is written
 * only at BYTE_COUNT/TAG and STATUS of a slot this service claimed.
 */
#include <linux/bitops.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>

#include "mkioq.h"

/* Write the result of @req into its slot and fill its record. */
static void mkioq_complete(struct mkioq_queue *q, const struct mkioq_req *req,
			   int result, struct mkioq_cqe *cqe)
{
	struct mkioq_slot *slot = &q->ring[req->slot];

	*cqe = (struct mkioq_cqe) {
		.slot = req->slot,
		.result = result,
		.tag = req->tag,
	};
	if (result >= 0) {
		cqe->status = MKIOQ_RESULT_OK;
		WRITE_ONCE(slot->byte_count, result);
	} else {
		cqe->status = MKIOQ_RESULT_ERROR;
		WRITE_ONCE(slot->tag, -result);
	}
	/*
	 * Release: the copied bytes and BYTE_COUNT/TAG are visible before
	 * the result; pairs with the producer's acquiring load of STATUS
	 * (ring_status() in libmkioq, or the GPU's acquire load).
	 */
	smp_store_release(&slot->status, cqe->status);
}

/*
 * The slots whose STATUS reads @state, in one branch-free sweep: a pass
 * over a mostly idle ring costs a few instructions per slot, not a claim
 * attempt each.
 */
static u64 mkioq_slots_in(struct mkioq_queue *q, u32 state)
{
	u64 mask = 0;
	u32 i;

	for (i = 0; i < q->slot_count; i++)
		mask |= (u64)(READ_ONCE(q->ring[i].status) == state) << i;
	return mask;
}

static u64 mkioq_published(struct mkioq_queue *q)
{
	u64 published = mkioq_slots_in(q, MKIOQ_STATE_PUBLISHED);

	/*
	 * The other words of those slots are read after their STATUS:
	 * pairs with the producer's release store of PUBLISHED.
	 */
	smp_rmb();
	return published;
}

/*
 * Claim slot @index, seen PUBLISHED, if it holds a request for us. Slots
 * whose source is handle 0 are host-published ingests that belong to
 * their consumer.
 */
static bool mkioq_claim(struct mkioq_queue *q, u32 index, struct mkioq_req *req)
{
	struct mkioq_slot *slot = &q->ring[index];

	if (READ_ONCE(slot->src_handle) == MKIOQ_HANDLE_NONE)
		return false;
	/* Fully ordered: only one claimer wins, and it sees the words. */
	if (cmpxchg(&slot->status, MKIOQ_STATE_PUBLISHED,
		    MKIOQ_STATE_CLAIMED) != MKIOQ_STATE_PUBLISHED)
		return false;

	req->src = READ_ONCE(slot->src_handle);
	/*
	 * Another claimer took, completed and the producer recycled and
	 * re-published the slot as a source-0 ingest since the SRC check
	 * above (ABA): it belongs to its consumer, hand it back untouched.
	 */
	if (req->src == MKIOQ_HANDLE_NONE) {
		/* Release: pairs with the consumer's acquire of STATUS. */
		smp_store_release(&slot->status, MKIOQ_STATE_PUBLISHED);
		return false;
	}
	req->slot = index;
	req->op = READ_ONCE(slot->op);
	req->dst = READ_ONCE(slot->dst_handle);
	req->offset = (u64)READ_ONCE(slot->offset_hi) << 32 |
		      READ_ONCE(slot->offset_lo);
	req->byte_count = READ_ONCE(slot->byte_count);
	req->tag = READ_ONCE(slot->tag);
	return true;
}

/*
 * We claimed slot @index: it read PUBLISHED, so it has left whatever
 * CLAIMED a held FENCE saw there (the claim that FENCE waits for ended,
 * and another began since: ABA). Only a claim of ours can tell.
 */
static void mkioq_fences_saw_claim(struct mkioq_queue *q, u32 index)
{
	u64 held;

	for (held = q->fences_held; held; held &= held - 1)
		q->fences[__ffs64(held)].waits_on &= ~BIT_ULL(index);
}

/* Hold FENCE @req, just claimed, until what it follows has completed. */
static void mkioq_fence_hold(struct mkioq_queue *q, const struct mkioq_req *req)
{
	struct mkioq_fence *f = &q->fences[req->slot];

	f->req = *req;
	/*
	 * After our claim's full barrier: every claim that a STATUS of
	 * CLAIMED shows was made before this FENCE was claimed.
	 */
	f->waits_on = mkioq_slots_in(q, MKIOQ_STATE_CLAIMED) & ~BIT_ULL(req->slot);
	f->passed = false;
	q->fences_held |= BIT_ULL(req->slot);
}

/*
 * Complete the held FENCEs whose pass is done and whose slots left
 * CLAIMED, filling their records at @cqe; returns how many. A FENCE may
 * wait for an earlier one (it read CLAIMED too): look again after each
 * round that completed some, so a chain completes at once.
 */
static unsigned int mkioq_fences_complete(struct mkioq_queue *q,
					  struct mkioq_cqe *cqe)
{
	unsigned int n = 0;
	u64 held, left, due;
	u32 i;

	while (q->fences_held) {
		/*
		 * Read before our release stores of the FENCEs' OK, which
		 * are cumulative: the other engines' completions seen here
		 * (their own release stores) are visible to whoever
		 * acquires a FENCE's OK.
		 */
		left = ~mkioq_slots_in(q, MKIOQ_STATE_CLAIMED);
		due = 0;
		for (held = q->fences_held; held; held &= held - 1) {
			struct mkioq_fence *f = &q->fences[__ffs64(held)];

			f->waits_on &= ~left;
			if (f->passed && !f->waits_on)
				due |= BIT_ULL(f->req.slot);
		}
		if (!due)
			break;
		q->fences_held &= ~due;
		for (; due; due &= due - 1) {
			i = __ffs64(due);
			mkioq_complete(q, &q->fences[i].req, 0, &cqe[n++]);
		}
	}
	return n;
}

/* Does a held FENCE still need a pass of this service? */
static bool mkioq_fences_need_pass(struct mkioq_queue *q)
{
	u64 held;

	for (held = q->fences_held; held; held &= held - 1)
		if (!q->fences[__ffs64(held)].passed)
			return true;
	return false;
}

/*
 * One pass over the ring: claim every request, execute them as a batch,
 * complete them, then the held FENCEs that may complete, and post their
 * records together. Returns the number of requests serviced and FENCEs
 * claimed or completed.
 */
static unsigned int mkioq_service_ring(struct mkioq_queue *q)
{
	struct mkioq_batch *b = q->batch;
	unsigned int n, fences = 0;
	struct mkioq_req req;
	u64 candidates, held;
	u32 i;

	lockdep_assert_held(&q->service_lock);
	/* FENCEs held from earlier passes have had their pass now. */
	for (held = q->fences_held; held; held &= held - 1)
		q->fences[__ffs64(held)].passed = true;

	mkioq_batch_begin(b);
	/*
	 * Claims and handle lookups in one section of the handle table's
	 * lock: MKIOQ_IOC_UNREGISTER, which takes it too, cannot fall
	 * between a request's claim and the references to its buffers.
	 */
	xa_lock(&q->handles);
	/*
	 * A held FENCE's slot is ours until we complete it, whatever a
	 * producer wrote there since.
	 */
	for (candidates = mkioq_published(q) & ~q->fences_held; candidates;
	     candidates &= candidates - 1) {
		i = __ffs64(candidates);
		if (!mkioq_claim(q, i, &req))
			continue;
		mkioq_fences_saw_claim(q, i);
		if (req.op == MKIOQ_OP_FENCE) {
			mkioq_fence_hold(q, &req);
			fences++;
		} else {
			mkioq_batch_add_locked(q, b, &req);
		}
	}
	xa_unlock(&q->handles);

	if (b->nr)
		mkioq_batch_execute(q, b);
	for (i = 0; i < b->nr; i++)
		mkioq_complete(q, &b->req[i], b->result[i], &b->cqe[i]);
	/* Requests and held FENCEs are distinct slots: at most 64 records. */
	n = b->nr + mkioq_fences_complete(q, &b->cqe[b->nr]);
	if (n)
		mkioq_cq_post(q, b->cqe, n);
	return n + fences;
}

/* Look at held FENCEs again soon: DOORBELL mode, where nobody may ring. */
static void mkioq_fence_recheck_arm(struct mkioq_queue *q)
{
	lockdep_assert_held(&q->service_lock);
	if (q->fences_held && !q->service_stopped)
		schedule_delayed_work(&q->fence_recheck,
				      msecs_to_jiffies(MKIOQ_FENCE_RECHECK_MS));
}

/*
 * Complete the held FENCEs that may complete, without a pass: a pass is
 * what the doorbell asks for, and the requests a FENCE still needs a pass
 * for wait for that doorbell too.
 */
static void mkioq_fence_recheck(struct work_struct *work)
{
	struct mkioq_queue *q = container_of(to_delayed_work(work),
					     struct mkioq_queue, fence_recheck);
	unsigned int n;

	mutex_lock(&q->service_lock);
	if (!q->service_stopped) {
		n = mkioq_fences_complete(q, q->batch->cqe);
		if (n)
			mkioq_cq_post(q, q->batch->cqe, n);
		mkioq_fence_recheck_arm(q);
	}
	mutex_unlock(&q->service_lock);
}

/*
 * DOORBELL mode: service in the caller's context, one pass per ring seen
 * (every request published before a ring is visible to the pass that
 * follows it) plus one more while a FENCE waits for its pass, for at most
 * MKIOQ_DOORBELL_PASSES passes (a producer that never stops must not keep
 * the caller in the kernel); what is left waits for the next doorbell. A
 * caller that finds another servicing leaves a RESCAN for it instead of
 * waiting.
 */
static void mkioq_service_now(struct mkioq_queue *q)
{
	unsigned int passes = 0;

	/*
	 * Full barriers around the unordered set_bit(): the producer's
	 * PUBLISHED store is ordered before RESCAN (pairing with the fully
	 * ordered test_and_clear_bit() before the servicer's loads of
	 * STATUS), and RESCAN before our mutex_trylock(), pairing with the
	 * smp_mb() between a servicer's mutex_unlock() and test_bit().
	 */
	smp_mb__before_atomic();
	set_bit(MKIOQ_RESCAN, &q->service_flags);
	/* RESCAN before the trylock: pairs with the servicer's smp_mb(). */
	smp_mb__after_atomic();
	while (test_bit(MKIOQ_RESCAN, &q->service_flags) &&
	       mutex_trylock(&q->service_lock)) {
		/* Its owner closed it: see mkioq_queue_shutdown(). */
		if (READ_ONCE(q->dead)) {
			mutex_unlock(&q->service_lock);
			return;
		}
		while (passes < MKIOQ_DOORBELL_PASSES &&
		       test_and_clear_bit(MKIOQ_RESCAN, &q->service_flags)) {
			do {
				mkioq_service_ring(q);
				cond_resched();
				if (fatal_signal_pending(current))
					passes = MKIOQ_DOORBELL_PASSES;
			} while (++passes < MKIOQ_DOORBELL_PASSES &&
				 mkioq_fences_need_pass(q));
		}
		mkioq_fence_recheck_arm(q);
		mutex_unlock(&q->service_lock);
		if (passes >= MKIOQ_DOORBELL_PASSES)
			break;
		/* Pairs with smp_mb__after_atomic() above (a ringer's). */
		smp_mb();
	}
}

void mkioq_doorbell(struct mkioq_queue *q)
{
	if (q->mode == MKIOQ_MODE_DOORBELL) {
		mkioq_service_now(q);
		return;
	}
	/* Ordered as in mkioq_service_now(), paired in mkioq_poll_sleep(). */
	smp_mb__before_atomic();
	set_bit(MKIOQ_RESCAN, &q->service_flags);
	wake_up(&q->poll_wait);
}

/* Sleep until the doorbell, the period or a stop request. */
static void mkioq_poll_sleep(struct mkioq_queue *q)
{
	wait_event_interruptible_timeout(q->poll_wait,
					 test_and_clear_bit(MKIOQ_RESCAN,
							    &q->service_flags) ||
					 kthread_should_stop(),
					 q->poll_period);
}

/*
 * POLL mode: look at the ring continuously while requests arrive, so a
 * GPU that cannot ring the doorbell is served at memory speed; after
 * poll_idle without work, sleep and look only on the doorbell or every
 * poll_period.
 */
static int mkioq_poll_thread(void *data)
{
	struct mkioq_queue *q = data;
	unsigned long idle_since = jiffies;

	while (!kthread_should_stop()) {
		unsigned int n;

		mutex_lock(&q->service_lock);
		n = mkioq_service_ring(q);
		mutex_unlock(&q->service_lock);

		if (n) {
			idle_since = jiffies;
		} else if (time_after(jiffies, idle_since + q->poll_idle)) {
			mkioq_poll_sleep(q);
			idle_since = jiffies;
		}
		cond_resched();
	}
	return 0;
}

int mkioq_service_start(struct mkioq_queue *q)
{
	struct task_struct *t;

	q->batch = kvzalloc(sizeof(*q->batch), GFP_KERNEL | __GFP_NOWARN);
	if (!q->batch)
		return -ENOMEM;
	INIT_DELAYED_WORK(&q->fence_recheck, mkioq_fence_recheck);
	if (q->mode != MKIOQ_MODE_POLL)
		return 0;
	t = kthread_run(mkioq_poll_thread, q, "mkioq-poll/%d",
			task_pid_nr(current));
	if (IS_ERR(t)) {
		kvfree(q->batch);
		q->batch = NULL;
		return PTR_ERR(t);
	}
	q->poll_thread = t;
	return 0;
}

/*
 * Stop servicing: the poll thread ends after the request in hand, a
 * doorbell that follows finds the queue dead, and FENCEs still held
 * complete with -ECANCELED. Idempotent; the batch stays until
 * mkioq_service_free().
 */
void mkioq_service_stop(struct mkioq_queue *q)
{
	unsigned int n = 0;
	u64 held;

	/* kthread_stop() wakes the thread and waits for the request in hand. */
	if (q->poll_thread)
		kthread_stop(q->poll_thread);
	q->poll_thread = NULL;

	/* Under service_lock, so that no recheck arms itself after this. */
	mutex_lock(&q->service_lock);
	q->service_stopped = true;
	mutex_unlock(&q->service_lock);
	cancel_delayed_work_sync(&q->fence_recheck);

	mutex_lock(&q->service_lock);
	for (held = q->fences_held; held; held &= held - 1)
		mkioq_complete(q, &q->fences[__ffs64(held)].req, -ECANCELED,
			       &q->batch->cqe[n++]);
	if (n)
		mkioq_cq_post(q, q->batch->cqe, n);
	q->fences_held = 0;
	mutex_unlock(&q->service_lock);
}

void mkioq_service_free(struct mkioq_queue *q)
{
	kvfree(q->batch);
	q->batch = NULL;
}

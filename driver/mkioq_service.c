// SPDX-License-Identifier: GPL-2.0
/*
 * The service: claim PUBLISHED slots, copy between dma-bufs, complete.
 *
 * One agent services a queue at a time (service_lock): the doorbell caller
 * in DOORBELL mode, the queue's kernel thread in POLL mode. Requests are
 * therefore executed one by one in the order they were claimed. A FENCE is
 * held back until one more full pass over the ring has been serviced after
 * the one that claimed it: every request published before the FENCE was
 * visible when the FENCE was claimed, so it is claimed and completed by
 * then, whatever its slot index.
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
		cqe->status = MKIOQ_SLOT_OK;
		WRITE_ONCE(slot->byte_count, result);
	} else {
		cqe->status = MKIOQ_SLOT_ERROR;
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
 * The slots whose STATUS reads PUBLISHED, in one branch-free sweep: a pass
 * over a mostly idle ring costs a few instructions per slot, not a claim
 * attempt each.
 */
static u64 mkioq_published(struct mkioq_queue *q)
{
	u64 published = 0;
	u32 i;

	for (i = 0; i < q->slot_count; i++)
		published |= (u64)(READ_ONCE(q->ring[i].status) ==
				   MKIOQ_SLOT_PUBLISHED) << i;
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
	if (cmpxchg(&slot->status, MKIOQ_SLOT_PUBLISHED,
		    MKIOQ_SLOT_CLAIMED) != MKIOQ_SLOT_PUBLISHED)
		return false;

	req->src = READ_ONCE(slot->src_handle);
	/*
	 * Another claimer took, completed and the producer recycled and
	 * re-published the slot as a source-0 ingest since the SRC check
	 * above (ABA): it belongs to its consumer, hand it back untouched.
	 */
	if (req->src == MKIOQ_HANDLE_NONE) {
		/* Release: pairs with the consumer's acquire of STATUS. */
		smp_store_release(&slot->status, MKIOQ_SLOT_PUBLISHED);
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
 * One pass over the ring: claim every request, execute them as a batch,
 * complete them, and post their records together. Returns the number of
 * requests serviced and FENCEs completed; FENCEs claimed in this pass are
 * completed at the end of the next one.
 */
static unsigned int mkioq_service_ring(struct mkioq_queue *q)
{
	struct mkioq_batch *b = q->batch;
	u64 due = q->fences_claimed;
	struct mkioq_req req;
	unsigned int n;
	u64 candidates;
	u32 i;

	lockdep_assert_held(&q->service_lock);
	q->fences_claimed = 0;
	b->nr = 0;
	/*
	 * A held-back FENCE's slot is ours until we complete it, whatever a
	 * producer wrote there since.
	 */
	for (candidates = mkioq_published(q) & ~due; candidates;
	     candidates &= candidates - 1) {
		i = __ffs64(candidates);
		if (!mkioq_claim(q, i, &req))
			continue;
		if (req.op == MKIOQ_OP_FENCE) {
			q->fences[i] = req;
			q->fences_claimed |= BIT_ULL(i);
		} else {
			b->req[b->nr++] = req;
		}
	}
	if (b->nr)
		mkioq_batch_execute(q, b);
	n = b->nr;
	for (i = 0; i < b->nr; i++)
		mkioq_complete(q, &b->req[i], b->result[i], &b->cqe[i]);
	/* Requests and due FENCEs are distinct slots: at most 64 records. */
	for (; due; due &= due - 1)
		mkioq_complete(q, &q->fences[__ffs64(due)], 0, &b->cqe[n++]);
	if (n)
		mkioq_cq_post(q, b->cqe, n);
	return n + hweight64(q->fences_claimed);
}

/*
 * DOORBELL mode: service in the caller's context, one pass per ring seen
 * (every request published before a ring is visible to the pass that
 * follows it) plus one more while a FENCE is held back, for at most
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
				 q->fences_claimed);
		}
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
 * doorbell that follows finds the queue dead, and FENCEs still held back
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

	mutex_lock(&q->service_lock);
	for (held = q->fences_claimed; held; held &= held - 1)
		mkioq_complete(q, &q->fences[__ffs64(held)], -ECANCELED,
			       &q->batch->cqe[n++]);
	if (n)
		mkioq_cq_post(q, q->batch->cqe, n);
	q->fences_claimed = 0;
	mutex_unlock(&q->service_lock);
}

void mkioq_service_free(struct mkioq_queue *q)
{
	kvfree(q->batch);
	q->batch = NULL;
}

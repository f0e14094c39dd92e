// SPDX-License-Identifier: GPL-2.0
/*
 * Completion records: the one place a completion goes after the service
 * wrote it into the ring.
 *
 * A completion is delivered exactly once: to a parked uring_cmd WAIT that
 * matches it (one for its slot first, then one for any slot), or else to
 * the backlog, where read() and later WAITs take it in completion order.
 * The backlog holds MKIOQ_CQ_ENTRIES records. When it is full the record
 * is dropped and counted, never blocking the service: the next record
 * delivered carries MKIOQ_CQE_F_OVERFLOW and the number dropped, a WAIT
 * for a slot whose record was dropped completes with -ENOBUFS once the
 * slot's queued records are taken (the notice stays until a WAIT for that
 * slot comes: read() readers get the count instead), and if no
 * record follows, read() returns one with slot MKIOQ_ANY_SLOT that carries
 * the count. The slot's STATUS word always holds the result.
 */
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "mkioq.h"

/* A record in the backlog, on the completion-order and per-slot lists. */
struct mkioq_rec {
	struct list_head node;
	struct list_head slot_node;
	struct mkioq_cqe cqe;
};

int mkioq_cq_init(struct mkioq_queue *q)
{
	unsigned int i;

	/* Setup reports the failure: no allocator splat needed. */
	q->cq_pool = kvcalloc(MKIOQ_CQ_ENTRIES, sizeof(*q->cq_pool),
			      GFP_KERNEL | __GFP_NOWARN);
	if (!q->cq_pool)
		return -ENOMEM;
	INIT_LIST_HEAD(&q->cq_free);
	INIT_LIST_HEAD(&q->cq_list);
	INIT_LIST_HEAD(&q->waits_any);
	for (i = 0; i < MKIOQ_MAX_SLOTS; i++) {
		INIT_LIST_HEAD(&q->cq_slot[i]);
		INIT_LIST_HEAD(&q->waits_slot[i]);
	}
	for (i = 0; i < MKIOQ_CQ_ENTRIES; i++)
		list_add_tail(&q->cq_pool[i].node, &q->cq_free);
	return 0;
}

void mkioq_cq_free(struct mkioq_queue *q)
{
	kvfree(q->cq_pool);
	q->cq_pool = NULL;
}

/* Count @n more dropped records; the count saturates rather than wraps. */
static void mkioq_cq_count_dropped(struct mkioq_queue *q, u32 n)
{
	lockdep_assert_held(&q->cq_lock);
	q->cq_dropped = min_t(u64, (u64)q->cq_dropped + n, U32_MAX);
}

/* Attach the count of records dropped since the last one delivered. */
static void mkioq_cq_mark_overflow(struct mkioq_queue *q,
				   struct mkioq_cqe *cqe)
{
	lockdep_assert_held(&q->cq_lock);
	if (q->cq_dropped) {
		cqe->flags |= MKIOQ_CQE_F_OVERFLOW;
		cqe->dropped = q->cq_dropped;
		q->cq_dropped = 0;
	}
}

static void mkioq_cq_unlink(struct mkioq_queue *q, struct mkioq_rec *rec)
{
	list_del(&rec->node);
	list_del(&rec->slot_node);
}

/* A free record for @cqe, or NULL with the drop counted: see top. */
static struct mkioq_rec *mkioq_cq_alloc(struct mkioq_queue *q,
					const struct mkioq_cqe *cqe)
{
	struct mkioq_rec *rec;

	lockdep_assert_held(&q->cq_lock);
	rec = list_first_entry_or_null(&q->cq_free, struct mkioq_rec, node);
	if (!rec) {
		mkioq_cq_count_dropped(q, 1);
		q->cq_overflow++;
		q->cq_dropped_slots |= BIT_ULL(cqe->slot);
		return NULL;
	}
	list_del(&rec->node);
	rec->cqe = *cqe;
	return rec;
}

static void mkioq_cq_enqueue(struct mkioq_queue *q,
			     const struct mkioq_cqe *cqe)
{
	struct mkioq_rec *rec = mkioq_cq_alloc(q, cqe);

	if (!rec)
		return;
	list_add_tail(&rec->node, &q->cq_list);
	list_add_tail(&rec->slot_node, &q->cq_slot[cqe->slot]);
}

/* Deliver @n records: one lock, one wakeup, for a whole pass. */
void mkioq_cq_post(struct mkioq_queue *q, const struct mkioq_cqe *cqes,
		   unsigned int n)
{
	struct mkioq_wait *wait;
	bool queued = false;
	LIST_HEAD(done);
	unsigned int i;

	spin_lock(&q->cq_lock);
	for (i = 0; i < n; i++) {
		const struct mkioq_cqe *cqe = &cqes[i];

		q->completed++;
		if (cqe->status == MKIOQ_RESULT_ERROR)
			q->errors++;
		wait = list_first_entry_or_null(&q->waits_slot[cqe->slot],
						struct mkioq_wait, node);
		if (!wait)
			wait = list_first_entry_or_null(&q->waits_any,
							struct mkioq_wait,
							node);
		if (wait) {
			list_move_tail(&wait->node, &done);
			q->nr_waits--;
			wait->cqe = *cqe;
			mkioq_cq_mark_overflow(q, &wait->cqe);
		} else {
			mkioq_cq_enqueue(q, cqe);
			queued = true;
		}
	}
	spin_unlock(&q->cq_lock);

	mkioq_uring_waits_done(&done);
	/* Pairs with the barrier in the readers' prepare_to_wait(). */
	if (queued && wq_has_sleeper(&q->cq_wait))
		wake_up_interruptible_poll(&q->cq_wait, EPOLLIN | EPOLLRDNORM);
}

/*
 * Take the oldest backlog record for @slot (or any slot), or the overflow
 * notice that stands for dropped ones. Returns false if there is neither.
 */
bool mkioq_cq_take_locked(struct mkioq_queue *q, u32 slot,
			  struct mkioq_cqe *cqe)
{
	struct list_head *head;
	struct mkioq_rec *rec;

	lockdep_assert_held(&q->cq_lock);
	if (slot == MKIOQ_ANY_SLOT) {
		head = &q->cq_list;
		rec = list_first_entry_or_null(head, struct mkioq_rec, node);
	} else {
		head = &q->cq_slot[slot];
		rec = list_first_entry_or_null(head, struct mkioq_rec,
					       slot_node);
	}
	if (rec) {
		*cqe = rec->cqe;
		mkioq_cq_unlink(q, rec);
		list_add(&rec->node, &q->cq_free);
		mkioq_cq_mark_overflow(q, cqe);
		return true;
	}

	memset(cqe, 0, sizeof(*cqe));
	cqe->slot = slot;
	cqe->result = -ENOBUFS;
	cqe->flags = MKIOQ_CQE_F_OVERFLOW | MKIOQ_CQE_F_NOTICE;
	if (slot == MKIOQ_ANY_SLOT && q->cq_dropped) {
		cqe->dropped = q->cq_dropped;
		q->cq_dropped = 0;
		return true;
	}
	if (slot != MKIOQ_ANY_SLOT && q->cq_dropped_slots & BIT_ULL(slot)) {
		q->cq_dropped_slots &= ~BIT_ULL(slot);
		return true;
	}
	return false;
}

/* Hand backlog records to parked WAITs that match them; see top. */
static void mkioq_cq_match_waits_locked(struct mkioq_queue *q,
					struct list_head *done)
{
	struct mkioq_wait *wait;
	unsigned int s;

	lockdep_assert_held(&q->cq_lock);
	for (s = 0; s < MKIOQ_MAX_SLOTS; s++) {
		while (!list_empty(&q->cq_slot[s]) &&
		       !list_empty(&q->waits_slot[s])) {
			wait = list_first_entry(&q->waits_slot[s],
						struct mkioq_wait, node);
			list_move_tail(&wait->node, done);
			q->nr_waits--;
			mkioq_cq_take_locked(q, s, &wait->cqe);
		}
	}
	while (!list_empty(&q->cq_list) && !list_empty(&q->waits_any)) {
		wait = list_first_entry(&q->waits_any, struct mkioq_wait, node);
		list_move_tail(&wait->node, done);
		q->nr_waits--;
		mkioq_cq_take_locked(q, MKIOQ_ANY_SLOT, &wait->cqe);
	}
}

bool mkioq_cq_readable(struct mkioq_queue *q)
{
	return !list_empty_careful(&q->cq_list) || READ_ONCE(q->cq_dropped);
}

/* Put a record, or an overflow notice, taken but not delivered back. */
static void mkioq_cq_requeue_locked(struct mkioq_queue *q,
				    const struct mkioq_cqe *cqe)
{
	struct mkioq_rec *rec;

	lockdep_assert_held(&q->cq_lock);
	mkioq_cq_count_dropped(q, cqe->dropped);
	/*
	 * A notice carries no completion: an overflow notice only its count
	 * or slot bit, an expiry or cancel notice nothing to keep.
	 */
	if (cqe->flags & MKIOQ_CQE_F_NOTICE) {
		if ((cqe->flags & MKIOQ_CQE_F_OVERFLOW) &&
		    cqe->slot != MKIOQ_ANY_SLOT)
			q->cq_dropped_slots |= BIT_ULL(cqe->slot);
		return;
	}
	/* A post may have used the nodes while the lock was dropped. */
	rec = mkioq_cq_alloc(q, cqe);
	if (!rec)
		return;
	rec->cqe.flags &= ~MKIOQ_CQE_F_OVERFLOW;
	rec->cqe.dropped = 0;
	list_add(&rec->node, &q->cq_list);
	list_add(&rec->slot_node, &q->cq_slot[cqe->slot]);
}

/*
 * Give back @n records taken in completion order whose delivery failed (a
 * faulting read() buffer or WAIT cqe_addr): they go back to the front of
 * the backlog in their order, and WAITs that parked meanwhile take them.
 */
void mkioq_cq_give_back(struct mkioq_queue *q, const struct mkioq_cqe *cqes,
			unsigned int n)
{
	LIST_HEAD(done);

	spin_lock(&q->cq_lock);
	while (n--)
		mkioq_cq_requeue_locked(q, &cqes[n]);
	mkioq_cq_match_waits_locked(q, &done);
	spin_unlock(&q->cq_lock);
	mkioq_uring_waits_done(&done);
	/* Pairs with the barrier in the readers' prepare_to_wait(). */
	if (wq_has_sleeper(&q->cq_wait))
		wake_up_interruptible_poll(&q->cq_wait, EPOLLIN | EPOLLRDNORM);
}

/* At most this many records per copy, so they fit on the stack. */
#define MKIOQ_READ_BATCH	16

/*
 * Whole records only, oldest first. Records are taken out under the lock
 * and copied afterwards; if the copy faults they are given back, so a bad
 * buffer loses nothing.
 */
static ssize_t mkioq_cq_read_batch(struct mkioq_queue *q, char __user *buf,
				   size_t max)
{
	struct mkioq_cqe cqes[MKIOQ_READ_BATCH];
	size_t n = 0;

	spin_lock(&q->cq_lock);
	while (n < max && mkioq_cq_take_locked(q, MKIOQ_ANY_SLOT, &cqes[n]))
		n++;
	spin_unlock(&q->cq_lock);
	if (!n)
		return 0;
	if (!copy_to_user(buf, cqes, n * sizeof(cqes[0])))
		return n * sizeof(cqes[0]);
	mkioq_cq_give_back(q, cqes, n);
	return -EFAULT;
}

ssize_t mkioq_cq_read(struct mkioq_queue *q, char __user *buf, size_t count,
		      bool nonblock)
{
	size_t max = count / sizeof(struct mkioq_cqe);
	ssize_t ret, done = 0;

	if (!max)
		return -EINVAL;
	for (;;) {
		while (max) {
			ret = mkioq_cq_read_batch(q, buf + done,
						  min_t(size_t, max,
							MKIOQ_READ_BATCH));
			if (ret < 0)
				return done ?: ret;
			if (!ret)
				break;
			done += ret;
			max -= ret / sizeof(struct mkioq_cqe);
		}
		if (done)
			return done;
		if (nonblock)
			return -EAGAIN;
		/* The owner's close wakes us: see mkioq_cq_shutdown(). */
		if (wait_event_interruptible(q->cq_wait, mkioq_cq_readable(q) ||
					     READ_ONCE(q->dead)))
			return -ERESTARTSYS;
		if (READ_ONCE(q->dead))
			return -ENXIO;
	}
}

/*
 * The queue is dead (its owner closed it): readers blocked in read() and
 * poll() wake and find it so (-ENXIO, EPOLLERR) rather than sleeping
 * until a signal.
 */
void mkioq_cq_shutdown(struct mkioq_queue *q)
{
	wake_up_interruptible_poll(&q->cq_wait, EPOLLERR);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The backlog of completion records that no WAIT took.
 *
 * It holds MKIOQ_CQ_ENTRIES records. When it is full the record is
 * dropped and counted, never blocking the service: the next record
 * delivered carries MKIOQ_CQE_F_OVERFLOW and the number dropped, a WAIT
 * for a slot whose record was dropped completes with -ENOBUFS once the
 * slot's queued records are taken (the notice stays until a WAIT for that
 * slot comes: read() readers get the count instead), and if no record
 * follows, read() returns one with slot MKIOQ_ANY_SLOT that carries the
 * count. The slot's STATUS word always holds the result.
 */
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "mkioq_backlog.h"

/* A record in the backlog, on the completion-order and per-slot lists. */
struct mkioq_rec {
	struct list_head node;
	struct list_head slot_node;
	struct mkioq_cqe cqe;
};

int mkioq_backlog_alloc(struct mkioq_backlog *bl)
{
	unsigned int i;

	/* Setup reports the failure: no allocator splat needed. */
	bl->pool = kvcalloc(MKIOQ_CQ_ENTRIES, sizeof(*bl->pool),
			    GFP_KERNEL | __GFP_NOWARN);
	if (!bl->pool)
		return -ENOMEM;
	INIT_LIST_HEAD(&bl->free);
	INIT_LIST_HEAD(&bl->list);
	for (i = 0; i < MKIOQ_MAX_SLOTS; i++)
		INIT_LIST_HEAD(&bl->slot[i]);
	for (i = 0; i < MKIOQ_CQ_ENTRIES; i++)
		list_add_tail(&bl->pool[i].node, &bl->free);
	return 0;
}

void mkioq_backlog_free(struct mkioq_backlog *bl)
{
	kvfree(bl->pool);
	bl->pool = NULL;
}

/* Count @n more dropped records; the count saturates rather than wraps. */
static void mkioq_backlog_count_dropped(struct mkioq_backlog *bl, u32 n)
{
	bl->dropped = min_t(u64, (u64)bl->dropped + n, U32_MAX);
}

/* Attach the count of records dropped since the last one delivered. */
void mkioq_backlog_mark_overflow(struct mkioq_backlog *bl,
				 struct mkioq_cqe *cqe)
{
	if (bl->dropped) {
		cqe->flags |= MKIOQ_CQE_F_OVERFLOW;
		cqe->dropped = bl->dropped;
		bl->dropped = 0;
	}
}

/* A free record for @cqe, or NULL with the drop counted: see top. */
static struct mkioq_rec *mkioq_backlog_get_rec(struct mkioq_backlog *bl,
					       const struct mkioq_cqe *cqe)
{
	struct mkioq_rec *rec;

	rec = list_first_entry_or_null(&bl->free, struct mkioq_rec, node);
	if (!rec) {
		mkioq_backlog_count_dropped(bl, 1);
		bl->overflow++;
		bl->dropped_slots |= BIT_ULL(cqe->slot);
		return NULL;
	}
	list_del(&rec->node);
	rec->cqe = *cqe;
	return rec;
}

/* Queue @cqe after every record waiting; false if dropped: see top. */
bool mkioq_backlog_add(struct mkioq_backlog *bl, const struct mkioq_cqe *cqe)
{
	struct mkioq_rec *rec = mkioq_backlog_get_rec(bl, cqe);

	if (!rec)
		return false;
	list_add_tail(&rec->node, &bl->list);
	list_add_tail(&rec->slot_node, &bl->slot[cqe->slot]);
	bl->nr++;
	return true;
}

/*
 * Take the oldest record for @slot (or any slot), or the overflow notice
 * that stands for dropped ones. Returns false if there is neither.
 */
bool mkioq_backlog_take(struct mkioq_backlog *bl, u32 slot,
			struct mkioq_cqe *cqe)
{
	struct mkioq_rec *rec;

	if (slot == MKIOQ_ANY_SLOT)
		rec = list_first_entry_or_null(&bl->list, struct mkioq_rec,
					       node);
	else
		rec = list_first_entry_or_null(&bl->slot[slot],
					       struct mkioq_rec, slot_node);
	if (rec) {
		*cqe = rec->cqe;
		list_del(&rec->node);
		list_del(&rec->slot_node);
		list_add(&rec->node, &bl->free);
		bl->nr--;
		mkioq_backlog_mark_overflow(bl, cqe);
		return true;
	}

	memset(cqe, 0, sizeof(*cqe));
	cqe->slot = slot;
	cqe->result = -ENOBUFS;
	cqe->flags = MKIOQ_CQE_F_OVERFLOW | MKIOQ_CQE_F_NOTICE;
	if (slot == MKIOQ_ANY_SLOT && bl->dropped) {
		cqe->dropped = bl->dropped;
		bl->dropped = 0;
		return true;
	}
	if (slot != MKIOQ_ANY_SLOT && bl->dropped_slots & BIT_ULL(slot)) {
		bl->dropped_slots &= ~BIT_ULL(slot);
		return true;
	}
	return false;
}

/*
 * Put a record, or an overflow notice, taken but not delivered back at the
 * front, as if it had never been taken. False if it had to be dropped.
 */
bool mkioq_backlog_put_back(struct mkioq_backlog *bl,
			    const struct mkioq_cqe *cqe)
{
	struct mkioq_rec *rec;

	mkioq_backlog_count_dropped(bl, cqe->dropped);
	/*
	 * A notice carries no completion: an overflow notice only its count
	 * or slot bit, an expiry or cancel notice nothing to keep.
	 */
	if (cqe->flags & MKIOQ_CQE_F_NOTICE) {
		if ((cqe->flags & MKIOQ_CQE_F_OVERFLOW) &&
		    cqe->slot != MKIOQ_ANY_SLOT)
			bl->dropped_slots |= BIT_ULL(cqe->slot);
		return true;
	}
	/* A post may have used the records while the lock was dropped. */
	rec = mkioq_backlog_get_rec(bl, cqe);
	if (!rec)
		return false;
	rec->cqe.flags &= ~MKIOQ_CQE_F_OVERFLOW;
	rec->cqe.dropped = 0;
	list_add(&rec->node, &bl->list);
	list_add(&rec->slot_node, &bl->slot[cqe->slot]);
	bl->nr++;
	return true;
}

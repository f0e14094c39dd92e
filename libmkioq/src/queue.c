// SPDX-License-Identifier: MIT
/*
 * Queue lifetime: every queue handle (device.c's too), host-owned queues
 * in ordinary memory, deep copies, and the raw bytes of any queue.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ring.h"

/* A queue handle with no ring and no file; mkioq_queue_free() frees it. */
struct mkioq_queue *queue_alloc(void)
{
	struct mkioq_queue *q = calloc(1, sizeof(*q));

	if (q)
		q->fd = -1;
	return q;
}

/* A zeroed host-owned ring of @slot_count slots: the seed's Vec<u32>. */
int ring_alloc(uint32_t slot_count, struct mkioq_queue **qp)
{
	struct mkioq_queue *q;

	if (!qp)
		return -EINVAL;
	if (!ring_slot_count_valid(slot_count))
		return -EINVAL;
	q = queue_alloc();
	if (!q)
		return -ENOMEM;
	q->map_bytes = (size_t)slot_count * MKIOQ_SLOT_BYTES;
	/* Slot-aligned so no STATUS word straddles a cache line. */
	q->words = aligned_alloc(MKIOQ_SLOT_BYTES, q->map_bytes);
	if (!q->words) {
		free(q);
		return -ENOMEM;
	}
	memset(q->words, 0, q->map_bytes);
	q->slot_count = slot_count;
	*qp = q;
	return 0;
}

int mkioq_queue_new(uint32_t slot_count, struct mkioq_queue **qp)
{
	return ring_alloc(slot_count, qp);
}

/*
 * A queue over ring memory the caller owns (cudaHostAlloc()ed, a memfd
 * mapped MAP_SHARED, ...), used as it is: not zeroed, never freed here.
 */
int mkioq_queue_wrap(void *mem, size_t len, uint32_t slot_count,
		     struct mkioq_queue **qp)
{
	struct mkioq_queue *q;

	if (!qp || !mem)
		return -EINVAL;
	if (!ring_slot_count_valid(slot_count))
		return -EINVAL;
	/* Whole words, so that every word can be accessed atomically. */
	if ((uintptr_t)mem % sizeof(uint32_t) ||
	    len / MKIOQ_SLOT_BYTES < slot_count)
		return -EINVAL;
	q = queue_alloc();
	if (!q)
		return -ENOMEM;
	q->words = mem;
	q->slot_count = slot_count;
	q->map_bytes = len;
	q->flags = MKIOQ_QUEUE_F_WRAPPED;
	*qp = q;
	return 0;
}

/*
 * The seed's Clone: a host-owned deep copy of the ring as it is now. A
 * device queue's copy is a snapshot, detached from the device.
 */
int mkioq_queue_clone(const struct mkioq_queue *q, struct mkioq_queue **qp)
{
	struct mkioq_queue *copy;
	uint32_t slot;
	unsigned int w;
	int ret;

	if (!q || !qp)
		return -EINVAL;
	ret = ring_alloc(q->slot_count, &copy);
	if (ret)
		return ret;
	for (slot = 0; slot < q->slot_count; slot++) {
		/*
		 * STATUS first with acquire (pairs with the writer's release
		 * store), so the other words are at least as new as it.
		 */
		ring_set(copy, slot, MKIOQ_WORD_STATUS, ring_status(q, slot));
		for (w = 0; w < MKIOQ_SLOT_WORDS; w++)
			if (w != MKIOQ_WORD_STATUS)
				ring_set(copy, slot, w, ring_get(q, slot, w));
	}
	*qp = copy;
	return 0;
}

void mkioq_queue_free(struct mkioq_queue *q)
{
	if (!q)
		return;
	if (q->flags & MKIOQ_QUEUE_F_DEVICE)
		device_release(q);
	else if (!(q->flags & MKIOQ_QUEUE_F_WRAPPED))
		free(q->words);
	/*
	 * What a helper attached, freed by the helper that made it; after
	 * the close, which cancelled the WAITs parked by a helper's ring.
	 */
	if (q->helper_release)
		q->helper_release(q);
	free(q);
}

const void *mkioq_queue_bytes(const struct mkioq_queue *q, size_t *len)
{
	if (!q)
		return NULL;
	if (len)
		*len = (size_t)q->slot_count * MKIOQ_SLOT_BYTES;
	return q->words;
}

/* The same bytes, writable: @q is not const. */
void *mkioq_queue_mut_bytes(struct mkioq_queue *q, size_t *len)
{
	return (void *)mkioq_queue_bytes(q, len);
}

/* SPDX-License-Identifier: MIT */
/*
 * Word access to a ring that other agents write concurrently. Every word
 * is accessed atomically: STATUS carries the ordering (acquire/release),
 * the other words are relaxed because the STATUS access that publishes or
 * consumes them orders them.
 */
#ifndef MKIOQ_RING_H
#define MKIOQ_RING_H

#include <stdatomic.h>
#include "libmkioq.h"

_Static_assert(sizeof(struct mkioq_slot) == MKIOQ_SLOT_BYTES,
	       "slot layout is the wire ABI");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the ring is little-endian; big-endian hosts need byte swaps");

static inline _Atomic uint32_t *ring_word(const struct mkioq_queue *q,
					  uint32_t slot, unsigned int word)
{
	return (_Atomic uint32_t *)&q->words[(size_t)slot * MKIOQ_SLOT_WORDS +
					     word];
}

static inline uint32_t ring_get(const struct mkioq_queue *q, uint32_t slot,
				unsigned int word)
{
	return atomic_load_explicit(ring_word(q, slot, word),
				    memory_order_relaxed);
}

static inline void ring_set(struct mkioq_queue *q, uint32_t slot,
			    unsigned int word, uint32_t val)
{
	atomic_store_explicit(ring_word(q, slot, word), val,
			      memory_order_relaxed);
}

/*
 * Acquire: pairs with the release store of STATUS by whoever last wrote
 * the slot, so the words read after it are the ones written before it.
 */
static inline uint32_t ring_status(const struct mkioq_queue *q, uint32_t slot)
{
	return atomic_load_explicit(ring_word(q, slot, MKIOQ_WORD_STATUS),
				    memory_order_acquire);
}

/*
 * Queue lifetime. queue.c makes and frees every struct mkioq_queue and
 * the memory of host-owned rings; device.c opens and maps a device
 * queue's file and unmaps and closes it; a helper library frees what it
 * attached (struct mkioq_queue's helper_release).
 */
struct mkioq_queue *queue_alloc(void);
int ring_alloc(uint32_t slot_count, struct mkioq_queue **qp);
/* Unmap a device queue's ring and close its file: mkioq_queue_free(). */
void device_release(struct mkioq_queue *q);

#endif

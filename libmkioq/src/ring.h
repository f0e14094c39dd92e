/* SPDX-License-Identifier: MIT */
/*
 * Word access to a ring that other agents write concurrently, and the
 * steps of the slot protocol that both the ring calls (ring.c) and the
 * userspace engine (engine_*.c) take, written once: the claim, reading a
 * request, completing. Every word is accessed atomically: STATUS carries
 * the ordering (acquire/release), the other words are relaxed because the
 * STATUS access that publishes or consumes them orders them.
 */
#ifndef MKIOQ_RING_H
#define MKIOQ_RING_H

#include <stdatomic.h>
#include "libmkioq.h"

_Static_assert(sizeof(struct mkioq_slot) == MKIOQ_SLOT_BYTES,
	       "slot layout is the wire ABI");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the ring is little-endian; big-endian hosts need byte swaps");

/* A ring has 1 to MKIOQ_MAX_SLOTS slots (a STATUS bit each in a u64). */
static inline bool ring_slot_count_valid(uint32_t slot_count)
{
	return slot_count && slot_count <= MKIOQ_MAX_SLOTS;
}

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
 * Release: the words written before it are visible before STATUS; pairs
 * with the acquiring load (ring_status(), a claim's compare-and-swap, the
 * GPU's acquire load, the kernel's smp_load_acquire()) of whoever reads
 * the slot next.
 */
static inline void ring_set_status(struct mkioq_queue *q, uint32_t slot,
				   uint32_t status)
{
	atomic_store_explicit(ring_word(q, slot, MKIOQ_WORD_STATUS), status,
			      memory_order_release);
}

/*
 * Move STATUS from @from to @to if it still holds @from. Acquire on
 * success pairs with the release store that set @from, so the words the
 * previous owner wrote are visible to the new owner; release orders the
 * caller's earlier accesses of the slot before the change.
 */
static inline bool ring_status_cas(struct mkioq_queue *q, uint32_t slot,
				   uint32_t from, uint32_t to)
{
	return atomic_compare_exchange_strong_explicit(
		ring_word(q, slot, MKIOQ_WORD_STATUS), &from, to,
		memory_order_acq_rel, memory_order_acquire);
}

/*
 * The request words of @slot (all but STATUS), each read once. Relaxed:
 * call it after the acquire of STATUS that made them visible.
 */
static inline void ring_get_request(const struct mkioq_queue *q,
				    uint32_t slot, struct mkioq_request *req)
{
	req->op = ring_get(q, slot, MKIOQ_WORD_OP);
	req->src_handle = ring_get(q, slot, MKIOQ_WORD_SRC_HANDLE);
	req->dst_handle = ring_get(q, slot, MKIOQ_WORD_DST_HANDLE);
	req->offset = (uint64_t)ring_get(q, slot, MKIOQ_WORD_OFFSET_HI) << 32 |
		      ring_get(q, slot, MKIOQ_WORD_OFFSET_LO);
	req->byte_count = ring_get(q, slot, MKIOQ_WORD_BYTE_COUNT);
	req->tag = ring_get(q, slot, MKIOQ_WORD_TAG);
}

/*
 * Complete a slot the caller holds CLAIMED: a result word (TAG or
 * BYTE_COUNT), then the final STATUS with release, so the result (and the
 * bytes the claimer moved) is visible before the STATUS that announces
 * it. A CLAIMED slot belongs to its claimer: nobody else writes the word
 * in between.
 */
static inline void ring_complete(struct mkioq_queue *q, uint32_t slot,
				 unsigned int word, uint32_t value,
				 uint32_t status)
{
	ring_set(q, slot, word, value);
	ring_set_status(q, slot, status);
}

/* What ring_claim() did with a slot that read PUBLISHED. */
enum ring_claim {
	RING_CLAIMED,		/* it is the caller's; *req holds its words */
	RING_CLAIM_INGEST,	/* SRC 0: the consumer's, left alone */
	RING_CLAIM_LOST,	/* another claimer won the compare-and-swap */
	RING_CLAIM_HANDED_BACK,	/* became an ingest meanwhile (ABA): given back */
};

/* ring.c: the claim of a request, by mkioq_claim() and the engine. */
enum ring_claim ring_claim(struct mkioq_queue *q, uint32_t slot,
			   struct mkioq_request *req);

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

// SPDX-License-Identifier: MIT
/*
 * The slot state machine: producer (submit, publish, recycle) and consumer
 * (claim, complete) transitions. Who may write which transition is in
 * Documentation/protocol.rst; every STATUS change here is an atomic
 * compare-and-swap or a release store, never a plain store.
 */
#include <errno.h>
#include <limits.h>
#include "ring.h"

static int check_slot(const struct mkioq_queue *q, uint32_t slot)
{
	if (!q)
		return -EINVAL;
	if (slot >= q->slot_count)
		return -ERANGE;
	return 0;
}

/*
 * Move STATUS from @from to @to if it still holds @from. Acquire on
 * success pairs with the release store that set @from, so the words the
 * previous owner wrote are visible to the new owner.
 */
static bool status_cas(struct mkioq_queue *q, uint32_t slot, uint32_t from,
		       uint32_t to)
{
	return atomic_compare_exchange_strong_explicit(
		ring_word(q, slot, MKIOQ_WORD_STATUS), &from, to,
		memory_order_acq_rel, memory_order_acquire);
}

static bool valid_op(uint32_t op)
{
	return op == MKIOQ_OP_READ || op == MKIOQ_OP_WRITE ||
	       op == MKIOQ_OP_FENCE;
}

/*
 * Write a request into an EMPTY slot. The slot is first reserved with a
 * compare-and-swap EMPTY -> CLAIMED, so two producers racing for one slot
 * cannot both fill it (one gets -EBUSY and changes nothing), and no
 * servicing engine looks at a CLAIMED slot it did not claim itself.
 */
static int publish(struct mkioq_queue *q, uint32_t slot, uint32_t op,
		   uint32_t src, uint32_t dst, uint64_t offset,
		   uint32_t byte_count, uint32_t tag)
{
	if (!status_cas(q, slot, MKIOQ_STATE_EMPTY, MKIOQ_STATE_CLAIMED))
		return -EBUSY;

	ring_set(q, slot, MKIOQ_WORD_OP, op);
	ring_set(q, slot, MKIOQ_WORD_SRC_HANDLE, src);
	ring_set(q, slot, MKIOQ_WORD_DST_HANDLE, dst);
	ring_set(q, slot, MKIOQ_WORD_OFFSET_LO, (uint32_t)offset);
	ring_set(q, slot, MKIOQ_WORD_OFFSET_HI, (uint32_t)(offset >> 32));
	ring_set(q, slot, MKIOQ_WORD_BYTE_COUNT, byte_count);
	ring_set(q, slot, MKIOQ_WORD_TAG, tag);

	/*
	 * Release: the words above become visible before PUBLISHED. Pairs
	 * with the engine's acquiring load/claim of STATUS (the kernel's
	 * smp_load_acquire and cmpxchg in driver/mkioq_service.c, or
	 * mkioq_claim() here).
	 */
	atomic_store_explicit(ring_word(q, slot, MKIOQ_WORD_STATUS),
			      MKIOQ_STATE_PUBLISHED, memory_order_release);
	return 0;
}

int mkioq_submit(struct mkioq_queue *q, uint32_t slot,
		 const struct mkioq_request *req)
{
	int ret = check_slot(q, slot);

	if (ret)
		return ret;
	if (!req || !valid_op(req->op))
		return -EINVAL;
	/* A request with no source would be left to the GPU as an ingest. */
	if (req->src_handle == MKIOQ_HANDLE_NONE)
		return -EINVAL;
	return publish(q, slot, req->op, req->src_handle, req->dst_handle,
		       req->offset, req->byte_count, req->tag);
}

int mkioq_submit_dma_read(struct mkioq_queue *q, uint32_t slot,
			  uint32_t src_handle, uint32_t dst_handle,
			  uint32_t byte_count, uint32_t tag)
{
	struct mkioq_request req = {
		.op = MKIOQ_OP_READ,
		.src_handle = src_handle,
		.dst_handle = dst_handle,
		.byte_count = byte_count,
		.tag = tag,
	};

	return mkioq_submit(q, slot, &req);
}

int mkioq_publish_slot(struct mkioq_queue *q, uint32_t slot,
		       uint32_t mapped_slot, uint32_t byte_count, uint32_t tag)
{
	int ret = check_slot(q, slot);

	if (ret)
		return ret;
	return publish(q, slot, MKIOQ_OP_READ, MKIOQ_HANDLE_NONE, mapped_slot,
		       0, byte_count, tag);
}

int mkioq_slot_status(const struct mkioq_queue *q, uint32_t slot)
{
	uint32_t status;
	int ret = check_slot(q, slot);

	if (ret)
		return ret;
	status = ring_status(q, slot);
	/*
	 * Garbage that would read as a negative errno (0xffffffde would be
	 * -ERANGE): -ERANGE must only ever mean a bad index.
	 */
	if (status > INT_MAX)
		return -EPROTO;
	return (int)status;
}

int mkioq_completion(const struct mkioq_queue *q, uint32_t slot,
		     struct mkioq_completion *rec)
{
	uint32_t status;
	int ret = check_slot(q, slot);

	if (ret)
		return ret;
	if (!rec)
		return -EINVAL;
	status = ring_status(q, slot);
	if (status == MKIOQ_STATE_EMPTY)
		return -ENODATA;

	rec->slot = slot;
	rec->status = status;
	rec->op = ring_get(q, slot, MKIOQ_WORD_OP);
	rec->src_handle = ring_get(q, slot, MKIOQ_WORD_SRC_HANDLE);
	rec->dst_handle = ring_get(q, slot, MKIOQ_WORD_DST_HANDLE);
	rec->offset = (uint64_t)ring_get(q, slot, MKIOQ_WORD_OFFSET_HI) << 32 |
		      ring_get(q, slot, MKIOQ_WORD_OFFSET_LO);
	rec->byte_count = ring_get(q, slot, MKIOQ_WORD_BYTE_COUNT);
	rec->tag = ring_get(q, slot, MKIOQ_WORD_TAG);
	return 0;
}

/* The seed's is_recycled(): false for a bad index too (see the man page). */
bool mkioq_is_recycled(const struct mkioq_queue *q, uint32_t slot)
{
	return mkioq_slot_recycled(q, slot) == 1;
}

int mkioq_slot_recycled(const struct mkioq_queue *q, uint32_t slot)
{
	int ret = check_slot(q, slot);

	if (ret)
		return ret;
	return ring_status(q, slot) == MKIOQ_STATE_EMPTY;
}

/*
 * The consumer's write of EMPTY: after a completion (OK, ERROR, DONE) was
 * read, or when the GPU consumed a host-published ingest slot (PUBLISHED
 * with source 0). A PUBLISHED request or a CLAIMED slot belongs to the
 * engine and cannot be recycled.
 */
int mkioq_recycle(struct mkioq_queue *q, uint32_t slot)
{
	uint32_t status;
	int ret = check_slot(q, slot);

	if (ret)
		return ret;
	status = ring_status(q, slot);
	switch (status) {
	case MKIOQ_STATE_EMPTY:
		return -EALREADY;
	case MKIOQ_STATE_PUBLISHED:
		if (ring_get(q, slot, MKIOQ_WORD_SRC_HANDLE) != MKIOQ_HANDLE_NONE)
			return -EBUSY;
		break;
	case MKIOQ_STATE_CLAIMED:
		return -EBUSY;
	case MKIOQ_STATE_DONE:
	case MKIOQ_RESULT_OK:
	case MKIOQ_RESULT_ERROR:
		break;
	default:
		return -EPROTO;
	}
	/* Fails only if another agent changed STATUS since the load. */
	return status_cas(q, slot, status, MKIOQ_STATE_EMPTY) ? 0 : -EBUSY;
}

int mkioq_claim(struct mkioq_queue *q, uint32_t slot)
{
	int ret = check_slot(q, slot);

	if (ret)
		return ret;
	if (ring_status(q, slot) != MKIOQ_STATE_PUBLISHED)
		return -EAGAIN;
	/* Host-published ingest: belongs to the GPU consumer. */
	if (ring_get(q, slot, MKIOQ_WORD_SRC_HANDLE) == MKIOQ_HANDLE_NONE)
		return -EPERM;
	if (!status_cas(q, slot, MKIOQ_STATE_PUBLISHED, MKIOQ_STATE_CLAIMED))
		return -EAGAIN;
	/*
	 * Recycled and re-published as an ingest since the SRC check (ABA):
	 * hand it back. Release: pairs with the consumer's acquiring load.
	 */
	if (ring_get(q, slot, MKIOQ_WORD_SRC_HANDLE) == MKIOQ_HANDLE_NONE) {
		atomic_store_explicit(ring_word(q, slot, MKIOQ_WORD_STATUS),
				      MKIOQ_STATE_PUBLISHED,
				      memory_order_release);
		return -EPERM;
	}
	return 0;
}

int mkioq_claim_batch(struct mkioq_queue *q, uint32_t *slots, uint32_t max)
{
	uint32_t slot, n = 0;

	if (!q || (!slots && max))
		return -EINVAL;
	for (slot = 0; slot < q->slot_count && n < max; slot++)
		if (mkioq_claim(q, slot) == 0)
			slots[n++] = slot;
	return (int)n;
}

/*
 * Complete a slot the caller holds CLAIMED with a result word (TAG or
 * BYTE_COUNT) and a final STATUS. A CLAIMED slot belongs to its claimer,
 * so nobody else writes the word in between.
 */
static void complete_claimed(struct mkioq_queue *q, uint32_t slot,
			     unsigned int word, uint32_t value,
			     uint32_t status)
{
	ring_set(q, slot, word, value);
	/*
	 * Release: the result word is visible before the STATUS that
	 * announces it; pairs with the producer's acquiring ring_status().
	 */
	atomic_store_explicit(ring_word(q, slot, MKIOQ_WORD_STATUS), status,
			      memory_order_release);
}

int mkioq_complete(struct mkioq_queue *q, uint32_t slot)
{
	int ret = check_slot(q, slot);

	if (ret)
		return ret;
	/*
	 * Release (in the CAS): the claimer's work on the slot is visible
	 * before OK; pairs with the producer's acquiring ring_status().
	 */
	return status_cas(q, slot, MKIOQ_STATE_CLAIMED, MKIOQ_RESULT_OK) ?
	       0 : -EBADSLT;
}

/* The kernel's MAX_ERRNO: the largest errno a TAG word may carry. */
#define ERRNO_MAX	4095

int mkioq_complete_error(struct mkioq_queue *q, uint32_t slot, int err)
{
	int ret = check_slot(q, slot);

	if (ret)
		return ret;
	/*
	 * Either sign: the positive errno TAG holds, or the negative one
	 * the library's calls return. INT_MIN has no positive counterpart.
	 */
	if (err < 0 && err >= -ERRNO_MAX)
		err = -err;
	if (err <= 0 || err > ERRNO_MAX)
		return -EINVAL;
	if (ring_status(q, slot) != MKIOQ_STATE_CLAIMED)
		return -EBADSLT;
	complete_claimed(q, slot, MKIOQ_WORD_TAG, (uint32_t)err,
			 MKIOQ_RESULT_ERROR);
	return 0;
}

int mkioq_complete_bytes(struct mkioq_queue *q, uint32_t slot,
			 uint32_t byte_count)
{
	int ret = check_slot(q, slot);

	if (ret)
		return ret;
	if (ring_status(q, slot) != MKIOQ_STATE_CLAIMED)
		return -EBADSLT;
	/* A CLAIMED slot belongs to its claimer: BYTE_COUNT is as submitted. */
	if (byte_count > ring_get(q, slot, MKIOQ_WORD_BYTE_COUNT))
		return -EMSGSIZE;
	complete_claimed(q, slot, MKIOQ_WORD_BYTE_COUNT, byte_count,
			 MKIOQ_RESULT_OK);
	return 0;
}

int mkioq_complete_batch(struct mkioq_queue *q, const uint32_t *slots,
			 uint32_t n)
{
	uint64_t seen = 0;
	uint32_t i;
	int ret;

	if (!q || (!slots && n))
		return -EINVAL;
	/* Validate all first: a batch with one bad slot changes nothing. */
	for (i = 0; i < n; i++) {
		ret = check_slot(q, slots[i]);
		if (ret)
			return ret;
		if (seen & (1ULL << slots[i]))
			return -EINVAL;
		seen |= 1ULL << slots[i];
		if (ring_status(q, slots[i]) != MKIOQ_STATE_CLAIMED)
			return -EBADSLT;
	}
	/* CLAIMED slots belong to the caller: none can fail from here. */
	for (i = 0; i < n; i++)
		mkioq_complete(q, slots[i]);
	return 0;
}

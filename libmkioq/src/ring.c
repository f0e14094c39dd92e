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
	if (!ring_status_cas(q, slot, MKIOQ_STATE_EMPTY, MKIOQ_STATE_CLAIMED))
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
	 * with the engine's load of STATUS and its claim (the kernel's
	 * READ_ONCE() then smp_rmb(), and cmpxchg(), in driver/mkioq_ring.c,
	 * or ring_claim() here).
	 */
	ring_set_status(q, slot, MKIOQ_STATE_PUBLISHED);
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
	struct mkioq_request req;
	uint32_t status;
	int ret = check_slot(q, slot);

	if (ret)
		return ret;
	if (!rec)
		return -EINVAL;
	status = ring_status(q, slot);
	if (status == MKIOQ_STATE_EMPTY)
		return -ENODATA;

	ring_get_request(q, slot, &req);
	*rec = (struct mkioq_completion){
		.slot = slot,
		.dst_handle = req.dst_handle,
		.byte_count = req.byte_count,
		.tag = req.tag,
		.status = status,
		.op = req.op,
		.src_handle = req.src_handle,
		.offset = req.offset,
	};
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
	return ring_status_cas(q, slot, status, MKIOQ_STATE_EMPTY) ? 0 : -EBUSY;
}

/*
 * Claim @slot, which read PUBLISHED, if it holds a request: a slot whose
 * SRC is 0 is a host-published ingest that belongs to its consumer. The
 * compare-and-swap PUBLISHED -> CLAIMED lets one claimer win; its acquire
 * pairs with the producer's release of PUBLISHED, so the words read after
 * it, each once into *@req, are the producer's. A slot recycled and
 * re-published as an ingest between the SRC check and the claim (ABA) is
 * handed back PUBLISHED untouched (release: pairs with its consumer's
 * acquiring load). mkioq_claim() and the userspace engine's workers
 * (engine_service.c) claim with this; the module does the same in
 * mkioq_service.c.
 */
enum ring_claim ring_claim(struct mkioq_queue *q, uint32_t slot,
			   struct mkioq_request *req)
{
	if (ring_get(q, slot, MKIOQ_WORD_SRC_HANDLE) == MKIOQ_HANDLE_NONE)
		return RING_CLAIM_INGEST;
	if (!ring_status_cas(q, slot, MKIOQ_STATE_PUBLISHED,
			     MKIOQ_STATE_CLAIMED))
		return RING_CLAIM_LOST;
	ring_get_request(q, slot, req);
	if (req->src_handle == MKIOQ_HANDLE_NONE) {
		ring_set_status(q, slot, MKIOQ_STATE_PUBLISHED);
		return RING_CLAIM_HANDED_BACK;
	}
	return RING_CLAIMED;
}

int mkioq_claim(struct mkioq_queue *q, uint32_t slot)
{
	struct mkioq_request req;
	int ret = check_slot(q, slot);

	if (ret)
		return ret;
	if (ring_status(q, slot) != MKIOQ_STATE_PUBLISHED)
		return -EAGAIN;
	switch (ring_claim(q, slot, &req)) {
	case RING_CLAIMED:
		return 0;
	case RING_CLAIM_LOST:
		return -EAGAIN;
	default:
		/* Host-published ingest: belongs to the GPU consumer. */
		return -EPERM;
	}
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

int mkioq_complete(struct mkioq_queue *q, uint32_t slot)
{
	int ret = check_slot(q, slot);

	if (ret)
		return ret;
	/*
	 * Release (in the CAS): the claimer's work on the slot is visible
	 * before OK; pairs with the producer's acquiring ring_status().
	 */
	return ring_status_cas(q, slot, MKIOQ_STATE_CLAIMED, MKIOQ_RESULT_OK) ?
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
	ring_complete(q, slot, MKIOQ_WORD_TAG, (uint32_t)err,
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
	ring_complete(q, slot, MKIOQ_WORD_BYTE_COUNT, byte_count,
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

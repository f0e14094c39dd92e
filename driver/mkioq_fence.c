// SPDX-License-Identifier: GPL-2.0
/*
 * FENCE: completes only when everything claimed before it has completed,
 * whoever claimed it. A FENCE the service claims is held (struct
 * mkioq_fence) until both:
 *  - one more full pass over the ring has been serviced after the one that
 *    claimed it: every request published before the FENCE was visible when
 *    the FENCE was claimed, so the service has claimed and completed it by
 *    then, whatever its slot index;
 *  - every slot that read CLAIMED just after the FENCE was claimed (another
 *    engine's claim, a producer's reservation) has been seen to leave
 *    CLAIMED.
 * The service looks at held FENCEs at the end of every pass and, in
 * DOORBELL mode while one is held, every MKIOQ_FENCE_RECHECK_MS
 * (mkioq_service.c). Everything here runs under the service's lock.
 */
#include <linux/bitops.h>
#include <linux/errno.h>

#include "mkioq_fence.h"

/* A pass begins: FENCEs held from earlier passes have had theirs. */
void mkioq_fences_begin_pass(struct mkioq_fences *fences)
{
	u64 held;

	for (held = fences->held; held; held &= held - 1) {
		struct mkioq_fence *f = &fences->fence[__ffs64(held)];

		f->past = f->passed;
		f->passed = true;
	}
}

/*
 * The service claimed slot @index: it read PUBLISHED, so it has left
 * whatever CLAIMED a held FENCE saw there (the claim that FENCE waits for
 * ended, and another began since: ABA). Only a claim of ours can tell.
 */
void mkioq_fences_saw_claim(struct mkioq_fences *fences, u32 index)
{
	u64 held;

	for (held = fences->held; held; held &= held - 1)
		fences->fence[__ffs64(held)].waits_on &= ~BIT_ULL(index);
}

/*
 * The service claimed slot @index and handed it to a worker
 * (mkioq_storage.c): it stays CLAIMED past the pass. A FENCE whose pass
 * or next pass this is may follow it (the request may have been published
 * before the FENCE, and the pass's end no longer means it completed), so
 * such a FENCE waits for the slot to leave CLAIMED too; later FENCEs do
 * not (the request was published after them).
 */
void mkioq_fences_saw_async(struct mkioq_fences *fences, u32 index)
{
	u64 held;

	for (held = fences->held; held; held &= held - 1) {
		struct mkioq_fence *f = &fences->fence[__ffs64(held)];

		if (!f->past)
			f->waits_on |= BIT_ULL(index);
	}
}

/* Hold FENCE @req, just claimed, until what it follows has completed. */
void mkioq_fence_hold(struct mkioq_fences *fences,
		      const struct mkioq_ring *ring,
		      const struct mkioq_req *req)
{
	struct mkioq_fence *f = &fences->fence[req->slot];

	f->req = *req;
	/*
	 * After the full barrier of our claim's cmpxchg: every claim that a
	 * STATUS of CLAIMED shows was made before this FENCE was claimed.
	 */
	f->waits_on = mkioq_ring_slots_in(ring, MKIOQ_STATE_CLAIMED) &
		      ~BIT_ULL(req->slot);
	f->passed = false;
	f->past = false;
	fences->held |= BIT_ULL(req->slot);
}

/*
 * Complete the held FENCEs whose pass is done and whose slots left
 * CLAIMED, filling their records at @cqe; returns how many. A FENCE may
 * wait for an earlier one (it read CLAIMED too): look again after each
 * round that completed some, so a chain completes at once.
 */
unsigned int mkioq_fences_complete(struct mkioq_fences *fences,
				   struct mkioq_ring *ring,
				   struct mkioq_cqe *cqe)
{
	unsigned int n = 0;
	u64 held, left, due;
	u32 i;

	while (fences->held) {
		/*
		 * Read before our release stores of the FENCEs' OK, which
		 * are cumulative: the other engines' completions seen here
		 * (their own release stores) are visible to whoever
		 * acquires a FENCE's OK.
		 */
		left = ~mkioq_ring_slots_in(ring, MKIOQ_STATE_CLAIMED);
		due = 0;
		for (held = fences->held; held; held &= held - 1) {
			struct mkioq_fence *f = &fences->fence[__ffs64(held)];

			f->waits_on &= ~left;
			if (f->passed && !f->waits_on)
				due |= BIT_ULL(f->req.slot);
		}
		if (!due)
			break;
		fences->held &= ~due;
		for (; due; due &= due - 1) {
			i = __ffs64(due);
			mkioq_ring_complete(ring, &fences->fence[i].req, 0,
					    &cqe[n++]);
		}
	}
	return n;
}

/* Does a held FENCE still need a pass of the service? */
bool mkioq_fences_need_pass(const struct mkioq_fences *fences)
{
	u64 held;

	for (held = fences->held; held; held &= held - 1)
		if (!fences->fence[__ffs64(held)].passed)
			return true;
	return false;
}

/* The service stops: every FENCE held completes with -ECANCELED. */
unsigned int mkioq_fences_cancel(struct mkioq_fences *fences,
				 struct mkioq_ring *ring,
				 struct mkioq_cqe *cqe)
{
	unsigned int n = 0;
	u64 held;

	for (held = fences->held; held; held &= held - 1)
		mkioq_ring_complete(ring, &fences->fence[__ffs64(held)].req,
				    -ECANCELED, &cqe[n++]);
	fences->held = 0;
	return n;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * FENCEs held until what they follow has completed (mkioq_fence.c).
 */
#ifndef _MKIOQ_FENCE_H
#define _MKIOQ_FENCE_H

#include <linux/types.h>
#include <linux/mkioq.h>

#include "mkioq_ring.h"

/**
 * struct mkioq_fence - a claimed FENCE, held until it may complete
 * @req:	the FENCE as claimed
 * @waits_on:	slots that read CLAIMED when it was claimed (by any engine,
 *		or a producer reserving them) and have not been seen to
 *		leave CLAIMED since
 * @passed:	a whole pass has been serviced since the one that claimed it
 * @past:	two passes have begun since: requests claimed from now on
 *		were published after it
 */
struct mkioq_fence {
	struct mkioq_req req;
	u64 waits_on;
	bool passed;
	bool past;
};

/**
 * struct mkioq_fences - the FENCEs a queue holds, under the service's lock
 * @held:	bitmask of the slots of FENCEs held
 * @fence:	the FENCE held in each slot of @held
 */
struct mkioq_fences {
	u64 held;
	struct mkioq_fence fence[MKIOQ_MAX_SLOTS];
};

void mkioq_fences_begin_pass(struct mkioq_fences *fences);
void mkioq_fences_saw_claim(struct mkioq_fences *fences, u32 index);
void mkioq_fences_saw_async(struct mkioq_fences *fences, u32 index);
void mkioq_fence_hold(struct mkioq_fences *fences,
		      const struct mkioq_ring *ring,
		      const struct mkioq_req *req);
unsigned int mkioq_fences_complete(struct mkioq_fences *fences,
				   struct mkioq_ring *ring,
				   struct mkioq_cqe *cqe);
bool mkioq_fences_need_pass(const struct mkioq_fences *fences);
unsigned int mkioq_fences_cancel(struct mkioq_fences *fences,
				 struct mkioq_ring *ring,
				 struct mkioq_cqe *cqe);

#endif /* _MKIOQ_FENCE_H */

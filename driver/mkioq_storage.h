/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Storage requests: READs from and WRITEs to file handles, served by a
 * worker pool beside the service's passes (mkioq_storage.c).
 */
#ifndef _MKIOQ_STORAGE_H
#define _MKIOQ_STORAGE_H

#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/mkioq.h>

#include "mkioq_ring.h"

struct mkioq_cqe;
struct mkioq_ctx;
struct mkioq_handle;

/* Storage requests in flight at once, module-wide (the pool's max_active). */
#define MKIOQ_STORAGE_MAX_ACTIVE	256

/**
 * struct mkioq_storage_req - a storage request in flight
 * @work:	its item in the module's storage workqueue
 * @ctx:	the queue it belongs to
 * @req:	the request as claimed
 * @file:	the file handle's side, referenced
 * @mem:	the dma-buf handle's side, referenced
 * @file_pos:	where in the file
 * @mem_off:	where in the dma-buf
 * @done:	bytes the pass's try moved; the worker goes on from there
 *
 * One per slot: a slot stays CLAIMED, so unused, until its pass or its
 * worker has completed it. Written by the pass that claims the slot,
 * under the service's lock; read by the worker after queue_work() ordered
 * it, and not after the worker completed the slot.
 */
struct mkioq_storage_req {
	struct work_struct work;
	struct mkioq_ctx *ctx;
	struct mkioq_req req;
	struct mkioq_handle *file;
	struct mkioq_handle *mem;
	u64 file_pos;
	u64 mem_off;
	u32 done;
};

/**
 * struct mkioq_storage - a queue's storage requests
 * @req:		the request in flight in each slot
 * @inline_served:	requests served whole in their pass (fdinfo)
 * @to_workers:		requests handed to a worker (fdinfo)
 *
 * The counters are written under the service's lock and read locklessly.
 */
struct mkioq_storage {
	struct mkioq_storage_req req[MKIOQ_MAX_SLOTS];
	unsigned long inline_served;
	unsigned long to_workers;
};

int mkioq_storage_init(void);
void mkioq_storage_exit(void);
int mkioq_storage_claim_locked(struct mkioq_ctx *ctx,
			       const struct mkioq_req *req);
unsigned int mkioq_storage_start(struct mkioq_ctx *ctx, u64 pending,
				 struct mkioq_cqe *cqe);
void mkioq_storage_init_queue(struct mkioq_ctx *ctx);
void mkioq_storage_drain(struct mkioq_ctx *ctx);

#endif /* _MKIOQ_STORAGE_H */

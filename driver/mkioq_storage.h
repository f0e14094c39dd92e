/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Storage requests: READs from and WRITEs to file handles, served by a
 * worker pool beside the service's passes (mkioq_storage.c).
 */
#ifndef _MKIOQ_STORAGE_H
#define _MKIOQ_STORAGE_H

#include <linux/atomic.h>
#include <linux/pagemap.h>
#include <linux/types.h>
#include <linux/wait.h>
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
 * @done:	bytes the tries moved; the next try or the worker goes on
 *		from there
 * @wpq:	the wait entry a try leaves on a page still being read
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
	struct wait_page_queue wpq;
};

/**
 * struct mkioq_storage - a queue's storage requests
 * @req:		the request in flight in each slot
 * @ready:		slots whose page wait ended, for a reader or @retry
 * @retry:		goes on with the @ready slots (one run for many), at
 *			once if no reader sleeps, else if none did in time
 * @waits:		wait entries left on pages and not yet handled, and
 *			page wakes still telling a reader or @retry; shutdown
 *			waits for 0 (wait_var_event())
 * @inline_served:	requests served whole in their pass, under the
 *			service's lock (fdinfo)
 * @page_waits:		times a request waited on a page (fdinfo)
 * @to_workers:		requests handed to a worker (fdinfo)
 * @reader_retries:	@ready slots gone on with in read() (fdinfo)
 */
struct mkioq_storage {
	struct mkioq_storage_req req[MKIOQ_MAX_SLOTS];
	DECLARE_BITMAP(ready, MKIOQ_MAX_SLOTS);
	struct delayed_work retry;
	atomic_t waits;
	unsigned long inline_served;
	atomic_long_t page_waits;
	atomic_long_t to_workers;
	atomic_long_t reader_retries;
};

/* What a try in the pass or the retry work made of a request. */
enum mkioq_try {
	MKIOQ_TRY_DONE,		/* served: complete it */
	MKIOQ_TRY_WAITING,	/* waits on a page; its unlock retries it */
	MKIOQ_TRY_WORKER,	/* hand it to a worker */
};

int mkioq_storage_init(void);
void mkioq_storage_exit(void);
int mkioq_storage_claim_locked(struct mkioq_ctx *ctx,
			       const struct mkioq_req *req);
unsigned int mkioq_storage_start(struct mkioq_ctx *ctx, u64 pending,
				 struct mkioq_cqe *cqe);
bool mkioq_storage_retry_due(struct mkioq_ctx *ctx);
void mkioq_storage_retry_in_reader(struct mkioq_ctx *ctx);
void mkioq_storage_init_queue(struct mkioq_ctx *ctx);
void mkioq_storage_drain(struct mkioq_ctx *ctx);

#endif /* _MKIOQ_STORAGE_H */

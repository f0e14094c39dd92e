/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parked MKIOQ_URING_CMD_WAITs, from park to completion (mkioq_wait.c).
 */
#ifndef _MKIOQ_WAIT_H
#define _MKIOQ_WAIT_H

#include <linux/fs.h>
#include <linux/list.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/mkioq.h>

struct io_uring_cmd;
struct mkioq_ctx;

#define MKIOQ_MAX_WAITS		4096	/* parked uring_cmd WAITs */
#define MKIOQ_WAIT_EXPIRY_TICK	HZ	/* how often expiry is checked */

/**
 * struct mkioq_wait - a parked MKIOQ_URING_CMD_WAIT
 * @node:	in mkioq_waits.any or .slot[@slot], then on a done list
 * @cmd:	the io_uring command, completed exactly once
 * @owner:	files of the submitter: closing them cancels the wait
 * @cqe_addr:	user address that receives @cqe, or 0
 * @slot:	the slot waited for, or MKIOQ_ANY_SLOT
 * @deadline:	jiffies when it expires with -ETIME
 * @cqe:	the completion delivered
 */
struct mkioq_wait {
	struct list_head node;
	struct io_uring_cmd *cmd;
	fl_owner_t owner;
	u64 cqe_addr;
	u32 slot;
	unsigned long deadline;
	struct mkioq_cqe cqe;
};

/**
 * struct mkioq_waits - the WAITs parked on one queue, under mkioq_cq.lock
 * @any:	parked for any slot, oldest first
 * @slot:	parked for each slot, oldest first
 * @nr:		parked in all
 * @closed:	the queue shut down: WAITs no longer park
 * @expiry:	completes WAITs parked too long (kernels without cancel)
 */
struct mkioq_waits {
	struct list_head any;
	struct list_head slot[MKIOQ_MAX_SLOTS];
	u32 nr;
	bool closed;
	struct delayed_work expiry;
};

void mkioq_waits_init(struct mkioq_ctx *ctx);
int mkioq_wait_park(struct mkioq_ctx *ctx, struct io_uring_cmd *cmd,
		    const struct mkioq_uring_wait *arg,
		    unsigned int issue_flags);
void mkioq_wait_cancel_cmd(struct mkioq_ctx *ctx, struct io_uring_cmd *cmd,
			   unsigned int issue_flags);
bool mkioq_waits_match_locked(struct mkioq_ctx *ctx,
			      const struct mkioq_cqe *cqe,
			      struct list_head *done);
void mkioq_waits_complete(struct list_head *done);
void mkioq_waits_give_back(struct mkioq_ctx *ctx,
			   const struct mkioq_cqe *cqes, unsigned int n);
void mkioq_waits_cancel(struct mkioq_ctx *ctx, fl_owner_t owner);
void mkioq_waits_free(struct mkioq_ctx *ctx);

#endif /* _MKIOQ_WAIT_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Completion delivery: where each completion goes after the service wrote
 * it into the ring, and read()/poll() of the records (mkioq_cq.c).
 */
#ifndef _MKIOQ_CQ_H
#define _MKIOQ_CQ_H

#include <linux/compiler.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/mkioq.h>

#include "mkioq_backlog.h"
#include "mkioq_wait.h"

struct mkioq_ctx;
struct seq_file;

/**
 * struct mkioq_cq - the completion records of one queue
 * @lock:	protects @backlog, @waits and the counters: a completion is
 *		matched to a WAIT or queued in one section of it
 * @backlog:	records no WAIT took yet (mkioq_backlog.c)
 * @waits:	parked WAITs (mkioq_wait.c)
 * @completed:	requests completed
 * @errors:	of those, completed with an error
 * @readers:	readers and pollers of records; no lock
 * @closed:	the queue shut down: readers stop waiting (WRITE_ONCE)
 */
struct mkioq_cq {
	spinlock_t lock;	/* see above */
	struct mkioq_backlog backlog;
	struct mkioq_waits waits;
	u64 completed;
	u64 errors;
	wait_queue_head_t readers;
	bool closed;
};

/* Records were queued or given back: wake who waits for them. */
static inline void mkioq_cq_wake_readers(struct mkioq_cq *cq)
{
	/* Pairs with the barrier in the readers' prepare_to_wait(). */
	if (wq_has_sleeper(&cq->readers))
		wake_up_interruptible_poll(&cq->readers, EPOLLIN | EPOLLRDNORM);
}

void mkioq_cq_init(struct mkioq_ctx *ctx);
int mkioq_cq_alloc(struct mkioq_ctx *ctx);
void mkioq_cq_free(struct mkioq_ctx *ctx);
void mkioq_cq_post(struct mkioq_ctx *ctx, const struct mkioq_cqe *cqes,
		   unsigned int n);
ssize_t mkioq_cq_take(struct mkioq_ctx *ctx, char __user *buf, size_t count);
bool mkioq_cq_readable(struct mkioq_ctx *ctx);
void mkioq_cq_stats(struct mkioq_ctx *ctx, struct mkioq_info *info);
void mkioq_cq_show(struct mkioq_ctx *ctx, struct seq_file *m);
void mkioq_cq_shutdown(struct mkioq_ctx *ctx);

#endif /* _MKIOQ_CQ_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * Completion delivery: the one place a completion goes after the service
 * wrote it into the ring.
 *
 * A completion is delivered exactly once: to a parked uring_cmd WAIT that
 * matches it (mkioq_wait.c), or else to the backlog (mkioq_backlog.c),
 * where read() and later WAITs take it in completion order. read() takes
 * whole records only, oldest first, and never loses one.
 */
#include <linux/poll.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "mkioq_ctx.h"
#include "mkioq_backlog.h"
#include "mkioq_cq.h"
#include "mkioq_trace.h"
#include "mkioq_wait.h"

/* At open: what read(), poll() and shutdown use before setup. */
void mkioq_cq_init(struct mkioq_ctx *ctx)
{
	spin_lock_init(&ctx->cq.lock);
	init_waitqueue_head(&ctx->cq.readers);
}

int mkioq_cq_alloc(struct mkioq_ctx *ctx)
{
	return mkioq_backlog_alloc(&ctx->cq.backlog);
}

void mkioq_cq_free(struct mkioq_ctx *ctx)
{
	mkioq_backlog_free(&ctx->cq.backlog);
}

/* Deliver @n records: one lock, one wakeup, for a whole pass. */
void mkioq_cq_post(struct mkioq_ctx *ctx, const struct mkioq_cqe *cqes,
		   unsigned int n)
{
	bool queued = false;
	LIST_HEAD(done);
	unsigned int i;

	spin_lock(&ctx->cq.lock);
	for (i = 0; i < n; i++) {
		trace_mkioq_complete(ctx->id, &cqes[i]);
		ctx->cq.completed++;
		if (cqes[i].status == MKIOQ_RESULT_ERROR)
			ctx->cq.errors++;
		if (mkioq_waits_match_locked(ctx, &cqes[i], &done))
			continue;
		if (mkioq_backlog_add(&ctx->cq.backlog, &cqes[i]))
			queued = true;
		else
			trace_mkioq_cq_overflow(ctx->id, cqes[i].slot,
						ctx->cq.backlog.dropped);
	}
	spin_unlock(&ctx->cq.lock);

	mkioq_waits_complete(&done);
	if (queued)
		mkioq_cq_wake_readers(&ctx->cq);
}

bool mkioq_cq_readable(struct mkioq_ctx *ctx)
{
	return mkioq_backlog_readable(&ctx->cq.backlog);
}

/* At most this many records per copy, so they fit on the stack. */
#define MKIOQ_READ_BATCH	16

/*
 * Records are taken out under the lock and copied afterwards; if the copy
 * faults they are given back, so a bad buffer loses nothing.
 */
static ssize_t mkioq_cq_read_batch(struct mkioq_ctx *ctx, char __user *buf,
				   size_t max)
{
	struct mkioq_cqe cqes[MKIOQ_READ_BATCH];
	size_t n = 0;

	spin_lock(&ctx->cq.lock);
	while (n < max && mkioq_backlog_take(&ctx->cq.backlog, MKIOQ_ANY_SLOT,
					     &cqes[n]))
		n++;
	spin_unlock(&ctx->cq.lock);
	if (!n)
		return 0;
	if (!copy_to_user(buf, cqes, n * sizeof(cqes[0])))
		return n * sizeof(cqes[0]);
	mkioq_waits_give_back(ctx, cqes, n);
	return -EFAULT;
}

/*
 * read()'s records: as many whole ones as wait and @count holds (at
 * least one), oldest first. Returns the bytes stored, 0 if none waits,
 * or -EFAULT if the first copy faulted.
 */
ssize_t mkioq_cq_take(struct mkioq_ctx *ctx, char __user *buf, size_t count)
{
	size_t max = count / sizeof(struct mkioq_cqe);
	ssize_t ret, done = 0;

	while (max) {
		ret = mkioq_cq_read_batch(ctx, buf + done,
					  min_t(size_t, max, MKIOQ_READ_BATCH));
		if (ret < 0)
			return done ?: ret;
		if (!ret)
			break;
		done += ret;
		max -= ret / sizeof(struct mkioq_cqe);
	}
	return done;
}

/* The counters of MKIOQ_IOC_INFO. */
void mkioq_cq_stats(struct mkioq_ctx *ctx, struct mkioq_info *info)
{
	spin_lock(&ctx->cq.lock);
	info->completed = ctx->cq.completed;
	info->errors = ctx->cq.errors;
	info->cq_overflow = ctx->cq.backlog.overflow;
	spin_unlock(&ctx->cq.lock);
}

/* For fdinfo: the counters, the backlog and the parked WAITs. */
void mkioq_cq_show(struct mkioq_ctx *ctx, struct seq_file *m)
{
	u64 completed, errors, overflow;
	u32 backlog, waits;

	spin_lock(&ctx->cq.lock);
	completed = ctx->cq.completed;
	errors = ctx->cq.errors;
	overflow = ctx->cq.backlog.overflow;
	backlog = ctx->cq.backlog.nr;
	waits = ctx->cq.waits.nr;
	spin_unlock(&ctx->cq.lock);
	seq_printf(m, "completed:\t%llu\n", completed);
	seq_printf(m, "errors:\t%llu\n", errors);
	seq_printf(m, "cq-overflow:\t%llu\n", overflow);
	seq_printf(m, "cq-backlog:\t%u\n", backlog);
	seq_printf(m, "waits-parked:\t%u\n", waits);
}

/*
 * The queue shut down (its owner closed it): readers blocked in read() and
 * poll() wake and find it so (-ENXIO, EPOLLERR) rather than sleeping
 * until a signal.
 */
void mkioq_cq_shutdown(struct mkioq_ctx *ctx)
{
	WRITE_ONCE(ctx->cq.closed, true);
	wake_up_interruptible_poll(&ctx->cq.readers, EPOLLERR);
}

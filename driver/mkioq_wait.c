// SPDX-License-Identifier: GPL-2.0
/*
 * MKIOQ_URING_CMD_WAIT, from park to completion.
 *
 * A WAIT parks until a completion comes for its slot (or any slot), and
 * then completes in its task with res = the transfer result (bytes, or a
 * negative errno), res2 (CQE32 rings) = tag << 32 | slot, and the record
 * written to its cqe_addr. A completion is delivered exactly once: to the
 * oldest WAIT parked for its slot, else to the oldest for any slot, else
 * to the backlog (mkioq_backlog.c), where read() and later WAITs take it
 * in completion order.
 *
 * A WAIT leaves the parked lists exactly once, under mkioq_cq.lock, and
 * whoever unlinks it completes it:
 *  - matched: a completion is posted (mkioq_waits_match_locked()) or a
 *    record is given back (mkioq_waits_give_back());
 *  - cancelled with -ECANCELED: its owner closes the file (->flush, also
 *    on exit), the queue shuts down, or from 6.7 (MKIOQ_HAVE_URING_CANCEL,
 *    MKIOQ_FEAT_WAIT_CANCEL) io_uring cancels it because its ring is torn
 *    down or its task exits or execs (mkioq_wait_cancel_cmd());
 *  - expired with -ETIME: 6.1 cannot cancel a parked uring_cmd, so there
 *    a WAIT parked for MKIOQ_WAIT_TIMEOUT_MS expires (mkioq_waits_expire()).
 * A parked command holds a reference to the file, so release() cannot run
 * while one is parked.
 */
#include <linux/jiffies.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "mkioq_ctx.h"
#include "mkioq_backlog.h"
#include "mkioq_compat.h"
#include "mkioq_cq.h"
#include "mkioq_trace.h"
#include "mkioq_wait.h"

static struct mkioq_wait **mkioq_pdu(struct io_uring_cmd *cmd)
{
	BUILD_BUG_ON(sizeof(struct mkioq_wait *) > sizeof(cmd->pdu));
	return (struct mkioq_wait **)cmd->pdu;
}

static struct list_head *mkioq_waits_list(struct mkioq_waits *waits, u32 slot)
{
	return slot == MKIOQ_ANY_SLOT ? &waits->any : &waits->slot[slot];
}

/* The one way a WAIT leaves the parked lists: onto @to, uncounted. */
static void mkioq_wait_unlink(struct mkioq_ctx *ctx, struct mkioq_wait *wait,
			      struct list_head *to)
{
	lockdep_assert_held(&ctx->cq.lock);
	list_move_tail(&wait->node, to);
	ctx->cq.waits.nr--;
}

/*
 * Runs in the submitter's task, where its memory can be written. A record
 * that cannot be written to cqe_addr is given back to the queue (the
 * command holds the file, so the queue is alive): it completes -EFAULT and
 * the record goes to the next WAIT or read(), never lost.
 */
static void mkioq_wait_task(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct mkioq_wait *wait = *mkioq_pdu(cmd);
	struct mkioq_ctx *ctx = cmd->file->private_data;
	int res = wait->cqe.result;
	u64 res2 = (u64)wait->cqe.tag << 32 | wait->cqe.slot;
	/*
	 * A completion or a notice (expired, cancelled: it says so at
	 * cqe_addr); a WAIT refused before it parked carries neither.
	 */
	bool record = wait->cqe.status || wait->cqe.flags;

	if (record && (issue_flags & MKIOQ_URING_F_TASK_DEAD)) {
		/*
		 * Its task is exiting, or this runs in a kernel thread because
		 * the ring is going away (6.12 says so): no one will see this
		 * CQE, nor may its memory be written. The record goes back to
		 * the queue, for read() or another WAIT, and this WAIT ends
		 * as a cancelled one.
		 */
		mkioq_waits_give_back(ctx, &wait->cqe, 1);
		res = -ECANCELED;
		res2 = wait->cqe.slot;
	} else if (wait->cqe_addr && record &&
		   copy_to_user(u64_to_user_ptr(wait->cqe_addr), &wait->cqe,
				sizeof(wait->cqe))) {
		mkioq_waits_give_back(ctx, &wait->cqe, 1);
		res = -EFAULT;
	}
	trace_mkioq_wait_complete(ctx->id, wait->slot, res, wait->cqe.flags);
	kfree(wait);
	mkioq_cmd_done(cmd, res, res2, issue_flags);
}

/* Complete a WAIT that left the parked lists; @wait->cqe is filled. */
static void mkioq_wait_done(struct mkioq_wait *wait, int res)
{
	wait->cqe.result = res;
	io_uring_cmd_complete_in_task(wait->cmd, mkioq_wait_task);
}

/* Complete the WAITs on @done, each with the result of its record. */
void mkioq_waits_complete(struct list_head *done)
{
	struct mkioq_wait *wait, *tmp;

	/* _safe: a completed WAIT may be freed by its task at once. */
	list_for_each_entry_safe(wait, tmp, done, node)
		mkioq_wait_done(wait, wait->cqe.result);
}

/* Complete the WAITs on @list with @res and a notice, no completion. */
static void mkioq_waits_fail(struct list_head *list, int res)
{
	struct mkioq_wait *wait, *tmp;

	list_for_each_entry_safe(wait, tmp, list, node) {
		memset(&wait->cqe, 0, sizeof(wait->cqe));
		wait->cqe.slot = wait->slot;
		wait->cqe.flags = MKIOQ_CQE_F_NOTICE;
		mkioq_wait_done(wait, res);
	}
}

/*
 * Completion @cqe was just made: the oldest WAIT parked for its slot, else
 * for any slot, takes it onto @done. Returns false if none is parked.
 */
bool mkioq_waits_match_locked(struct mkioq_ctx *ctx,
			      const struct mkioq_cqe *cqe,
			      struct list_head *done)
{
	struct mkioq_waits *waits = &ctx->cq.waits;
	struct mkioq_wait *wait;

	wait = list_first_entry_or_null(&waits->slot[cqe->slot],
					struct mkioq_wait, node);
	if (!wait)
		wait = list_first_entry_or_null(&waits->any, struct mkioq_wait,
						node);
	if (!wait)
		return false;
	mkioq_wait_unlink(ctx, wait, done);
	wait->cqe = *cqe;
	mkioq_backlog_mark_overflow(&ctx->cq.backlog, &wait->cqe);
	return true;
}

/* Hand backlog records to parked WAITs that match them, onto @done. */
static void mkioq_waits_take_backlog(struct mkioq_ctx *ctx,
				     struct list_head *done)
{
	struct mkioq_backlog *bl = &ctx->cq.backlog;
	struct mkioq_waits *waits = &ctx->cq.waits;
	struct mkioq_wait *wait;
	u32 s;

	lockdep_assert_held(&ctx->cq.lock);
	for (s = 0; s < MKIOQ_MAX_SLOTS; s++) {
		while (mkioq_backlog_has(bl, s) &&
		       !list_empty(&waits->slot[s])) {
			wait = list_first_entry(&waits->slot[s],
						struct mkioq_wait, node);
			mkioq_wait_unlink(ctx, wait, done);
			mkioq_backlog_take(bl, s, &wait->cqe);
		}
	}
	while (mkioq_backlog_has(bl, MKIOQ_ANY_SLOT) &&
	       !list_empty(&waits->any)) {
		wait = list_first_entry(&waits->any, struct mkioq_wait, node);
		mkioq_wait_unlink(ctx, wait, done);
		mkioq_backlog_take(bl, MKIOQ_ANY_SLOT, &wait->cqe);
	}
}

/*
 * Give back @n records taken in completion order whose delivery failed (a
 * faulting read() buffer or WAIT cqe_addr): they go back to the front of
 * the backlog in their order, and WAITs that parked meanwhile take them.
 */
void mkioq_waits_give_back(struct mkioq_ctx *ctx,
			   const struct mkioq_cqe *cqes, unsigned int n)
{
	LIST_HEAD(done);

	spin_lock(&ctx->cq.lock);
	while (n--)
		if (!mkioq_backlog_put_back(&ctx->cq.backlog, &cqes[n]))
			trace_mkioq_cq_overflow(ctx->id, cqes[n].slot,
						ctx->cq.backlog.dropped);
	mkioq_waits_take_backlog(ctx, &done);
	spin_unlock(&ctx->cq.lock);
	mkioq_waits_complete(&done);
	mkioq_cq_wake_readers(&ctx->cq);
}

/* Move the parked WAITs that @pick chooses to @out. */
static void mkioq_waits_collect(struct mkioq_ctx *ctx, struct list_head *out,
				bool (*pick)(struct mkioq_wait *, void *),
				void *arg)
{
	struct mkioq_waits *waits = &ctx->cq.waits;
	struct mkioq_wait *wait, *tmp;
	unsigned int i;

	lockdep_assert_held(&ctx->cq.lock);
	for (i = 0; i <= MKIOQ_MAX_SLOTS; i++) {
		struct list_head *head = i < MKIOQ_MAX_SLOTS ?
					 &waits->slot[i] : &waits->any;

		list_for_each_entry_safe(wait, tmp, head, node)
			if (pick(wait, arg))
				mkioq_wait_unlink(ctx, wait, out);
	}
}

static bool mkioq_wait_of(struct mkioq_wait *wait, void *owner)
{
	return !owner || wait->owner == owner;
}

static bool mkioq_wait_late(struct mkioq_wait *wait, void *now)
{
	return time_after_eq(*(unsigned long *)now, wait->deadline);
}

static bool mkioq_wait_is_cmd(struct mkioq_wait *wait, void *cmd)
{
	return wait->cmd == cmd;
}

/*
 * WAITs expire: 6.1 cannot cancel a uring_cmd, and a process that never
 * closes the file (an SQPOLL thread at exit, execve(), a fixed file) would
 * otherwise wait for its WAITs for ever. Expired WAITs complete with
 * -ETIME and no record; applications re-arm them.
 */
static void mkioq_waits_expire(struct work_struct *work)
{
	struct mkioq_ctx *ctx = container_of(to_delayed_work(work),
					     struct mkioq_ctx,
					     cq.waits.expiry);
	unsigned long now = jiffies;
	LIST_HEAD(late);
	bool more;

	spin_lock(&ctx->cq.lock);
	mkioq_waits_collect(ctx, &late, mkioq_wait_late, &now);
	more = ctx->cq.waits.nr;
	spin_unlock(&ctx->cq.lock);
	mkioq_waits_fail(&late, -ETIME);
	if (more)
		schedule_delayed_work(&ctx->cq.waits.expiry,
				      MKIOQ_WAIT_EXPIRY_TICK);
}

/* At open: the lists are empty, and no WAIT parks before setup. */
void mkioq_waits_init(struct mkioq_ctx *ctx)
{
	struct mkioq_waits *waits = &ctx->cq.waits;
	unsigned int i;

	INIT_LIST_HEAD(&waits->any);
	for (i = 0; i < MKIOQ_MAX_SLOTS; i++)
		INIT_LIST_HEAD(&waits->slot[i]);
	INIT_DELAYED_WORK(&waits->expiry, mkioq_waits_expire);
}

/*
 * Complete (with -ECANCELED) the parked WAITs of @owner, whose close of
 * the file this is; or, with @owner NULL, at shutdown, all of them, and
 * no WAIT parks after.
 */
void mkioq_waits_cancel(struct mkioq_ctx *ctx, fl_owner_t owner)
{
	LIST_HEAD(cancelled);

	spin_lock(&ctx->cq.lock);
	if (!owner)
		ctx->cq.waits.closed = true;
	mkioq_waits_collect(ctx, &cancelled, mkioq_wait_of, owner);
	spin_unlock(&ctx->cq.lock);
	mkioq_waits_fail(&cancelled, -ECANCELED);
}

/* At release: no WAIT is parked, none can park; stop the expiry timer. */
void mkioq_waits_free(struct mkioq_ctx *ctx)
{
	cancel_delayed_work_sync(&ctx->cq.waits.expiry);
}

/*
 * A WAIT that did not park ends with @err and no record. Once marked
 * cancelable, io_uring keeps the command listed until io_uring_cmd_done(),
 * so there it must complete like a parked one instead of returning @err.
 */
static int mkioq_wait_refuse(struct mkioq_wait *wait, int err)
{
	if (!MKIOQ_HAVE_URING_CANCEL) {
		kfree(wait);
		return err;
	}
	memset(&wait->cqe, 0, sizeof(wait->cqe));
	mkioq_wait_done(wait, err);
	return -EIOCBQUEUED;
}

/* MKIOQ_URING_CMD_WAIT: take a waiting record, or park until one comes. */
int mkioq_wait_park(struct mkioq_ctx *ctx, struct io_uring_cmd *cmd,
		    const struct mkioq_uring_wait *arg,
		    unsigned int issue_flags)
{
	struct mkioq_waits *waits = &ctx->cq.waits;
	struct mkioq_wait *wait;
	bool ready;

	if (arg->flags)
		return -EINVAL;
	if (arg->slot != MKIOQ_ANY_SLOT && arg->slot >= ctx->ring.slot_count)
		return -EINVAL;

	wait = kzalloc(sizeof(*wait), GFP_KERNEL);
	if (!wait)
		return -ENOMEM;
	wait->cmd = cmd;
	wait->owner = current->files;
	wait->cqe_addr = arg->cqe_addr;
	wait->slot = arg->slot;
	wait->deadline = jiffies + msecs_to_jiffies(MKIOQ_WAIT_TIMEOUT_MS);
	*mkioq_pdu(cmd) = wait;

	/*
	 * Before it can be found in the parked lists: from then on a
	 * completion may end the command at any time (task work, maybe on
	 * another CPU when this runs in io-wq), and marking it after that
	 * would touch a freed request. Marking may sleep (the ring's lock),
	 * so it cannot wait until mkioq_cq.lock is held.
	 */
	mkioq_cmd_mark_cancelable(cmd, issue_flags);

	spin_lock(&ctx->cq.lock);
	/* The queue shut down and cancelled the parked ones: do not park. */
	if (waits->closed) {
		spin_unlock(&ctx->cq.lock);
		return mkioq_wait_refuse(wait, -ENXIO);
	}
	ready = mkioq_backlog_take(&ctx->cq.backlog, arg->slot, &wait->cqe);
	if (!ready) {
		if (waits->nr >= MKIOQ_MAX_WAITS) {
			spin_unlock(&ctx->cq.lock);
			return mkioq_wait_refuse(wait, -EBUSY);
		}
		list_add_tail(&wait->node, mkioq_waits_list(waits, arg->slot));
		waits->nr++;
		trace_mkioq_wait_park(ctx->id, arg->slot, waits->nr);
	}
	spin_unlock(&ctx->cq.lock);
	/*
	 * Only where nothing else can cancel a parked WAIT. No-op while
	 * already pending: one timer serves all WAITs.
	 */
	if (!ready && !MKIOQ_HAVE_URING_CANCEL)
		schedule_delayed_work(&waits->expiry, MKIOQ_WAIT_EXPIRY_TICK);

	/* A record was waiting: complete from task context all the same. */
	if (ready)
		mkioq_wait_done(wait, wait->cqe.result);
	return -EIOCBQUEUED;
}

/*
 * io_uring cancels @cmd (6.7+: its ring is going away, or its task exits
 * or execs), under the ring's lock, with @cmd still not completed. If it
 * is parked it ends here with -ECANCELED; if not, a completion took it off
 * the parked lists first and its task work, already queued, ends it (the
 * canceller runs task work until none is left). The pdu is not trusted
 * here: once unlinked by someone else, its WAIT may be freed.
 */
void mkioq_wait_cancel_cmd(struct mkioq_ctx *ctx, struct io_uring_cmd *cmd,
			   unsigned int issue_flags)
{
	struct mkioq_wait *wait;
	LIST_HEAD(found);
	u32 slot;

	spin_lock(&ctx->cq.lock);
	mkioq_waits_collect(ctx, &found, mkioq_wait_is_cmd, cmd);
	spin_unlock(&ctx->cq.lock);
	wait = list_first_entry_or_null(&found, struct mkioq_wait, node);
	if (!wait)
		return;
	slot = wait->slot;
	kfree(wait);
	trace_mkioq_wait_complete(ctx->id, slot, -ECANCELED, MKIOQ_CQE_F_NOTICE);
	/* As mkioq_waits_fail(): no record, res2 = the slot waited for. */
	mkioq_cmd_done(cmd, -ECANCELED, slot, issue_flags);
}

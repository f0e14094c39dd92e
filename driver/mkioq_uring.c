// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring commands (IORING_OP_URING_CMD) on a queue file.
 *
 * MKIOQ_URING_CMD_DOORBELL rings the doorbell, so a batch of submissions
 * and its doorbell cost one io_uring_enter(). MKIOQ_URING_CMD_WAIT parks
 * until a completion and then posts a CQE with res = the transfer result
 * (bytes, or a negative errno), res2 (CQE32 rings) = tag << 32 | slot, and
 * the submitter's user_data; an application keeps one WAIT per slot (or a
 * few for any slot) outstanding and receives every completion as its own
 * CQE. Which completion a WAIT receives is defined in mkioq_cq.c.
 *
 * A parked command holds a reference to this file, so release() would
 * never run while one is parked: closing the file (->flush, also on exit)
 * completes the closer's parked WAITs with -ECANCELED, and teardown
 * completes any left. Beyond that:
 *  - from 6.7 (MKIOQ_HAVE_URING_CANCEL, MKIOQ_FEAT_WAIT_CANCEL) a parked
 *    WAIT is cancelable: when its ring is torn down or its task exits or
 *    execs, io_uring issues it again with IO_URING_F_CANCEL and it
 *    completes with -ECANCELED (mkioq_uring_cancel_cmd()). WAITs do not
 *    expire there.
 *  - 6.1 cannot cancel a parked uring_cmd, so a WAIT parked for
 *    MKIOQ_WAIT_TIMEOUT_MS completes with -ETIME (mkioq_uring_expire()).
 */
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "mkioq.h"
#include "mkioq_compat.h"

static struct mkioq_wait **mkioq_pdu(struct io_uring_cmd *cmd)
{
	BUILD_BUG_ON(sizeof(struct mkioq_wait *) > sizeof(cmd->pdu));
	return (struct mkioq_wait **)cmd->pdu;
}

/*
 * Runs in the submitter's task, where its memory can be written. A record
 * that cannot be written to cqe_addr is given back to the queue (the
 * command holds the file, so the queue is alive): it completes -EFAULT and
 * the record goes to the next WAIT or read(), never lost.
 */
static void mkioq_uring_wait_task(struct io_uring_cmd *cmd,
				  unsigned int issue_flags)
{
	struct mkioq_wait *wait = *mkioq_pdu(cmd);
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
		mkioq_cq_give_back(cmd->file->private_data, &wait->cqe, 1);
		res = -ECANCELED;
		res2 = wait->cqe.slot;
	} else if (wait->cqe_addr && record &&
		   copy_to_user(u64_to_user_ptr(wait->cqe_addr), &wait->cqe,
				sizeof(wait->cqe))) {
		mkioq_cq_give_back(cmd->file->private_data, &wait->cqe, 1);
		res = -EFAULT;
	}
	kfree(wait);
	mkioq_cmd_done(cmd, res, res2, issue_flags);
}

/* Complete a WAIT that left the parked lists; @wait->cqe is filled. */
void mkioq_uring_wait_done(struct mkioq_wait *wait, int res)
{
	wait->cqe.result = res;
	io_uring_cmd_complete_in_task(wait->cmd, mkioq_uring_wait_task);
}

/* Complete the WAITs on @done, each with the result of its record. */
void mkioq_uring_waits_done(struct list_head *done)
{
	struct mkioq_wait *wait, *tmp;

	/* _safe: a completed WAIT may be freed by its task at once. */
	list_for_each_entry_safe(wait, tmp, done, node)
		mkioq_uring_wait_done(wait, wait->cqe.result);
}

/* Move the parked WAITs that @expired says to @out. Under cq_lock. */
static void mkioq_uring_collect(struct mkioq_queue *q, struct list_head *out,
				bool (*expired)(struct mkioq_wait *, void *),
				void *arg)
{
	struct mkioq_wait *wait, *tmp;
	unsigned int i;

	lockdep_assert_held(&q->cq_lock);
	for (i = 0; i <= MKIOQ_MAX_SLOTS; i++) {
		struct list_head *head = i < MKIOQ_MAX_SLOTS ?
					 &q->waits_slot[i] : &q->waits_any;

		list_for_each_entry_safe(wait, tmp, head, node) {
			if (!expired(wait, arg))
				continue;
			list_move_tail(&wait->node, out);
			q->nr_waits--;
		}
	}
}

/* Complete the WAITs on @list with @res and a notice, no completion. */
static void mkioq_uring_fail(struct list_head *list, int res)
{
	struct mkioq_wait *wait, *tmp;

	list_for_each_entry_safe(wait, tmp, list, node) {
		memset(&wait->cqe, 0, sizeof(wait->cqe));
		wait->cqe.slot = wait->slot;
		wait->cqe.flags = MKIOQ_CQE_F_NOTICE;
		mkioq_uring_wait_done(wait, res);
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

/*
 * WAITs expire: 6.1 cannot cancel a uring_cmd, and a process that never
 * closes the file (an SQPOLL thread at exit, execve(), a fixed file) would
 * otherwise wait for its WAITs for ever. Expired WAITs complete with
 * -ETIME and no record; applications re-arm them.
 */
static void mkioq_uring_expire(struct work_struct *work)
{
	struct mkioq_queue *q = container_of(to_delayed_work(work),
					     struct mkioq_queue, wait_expiry);
	unsigned long now = jiffies;
	LIST_HEAD(late);
	bool more;

	spin_lock(&q->cq_lock);
	mkioq_uring_collect(q, &late, mkioq_wait_late, &now);
	more = q->nr_waits;
	spin_unlock(&q->cq_lock);
	mkioq_uring_fail(&late, -ETIME);
	if (more)
		schedule_delayed_work(&q->wait_expiry, MKIOQ_WAIT_EXPIRY_TICK);
}

void mkioq_waits_init(struct mkioq_queue *q)
{
	INIT_DELAYED_WORK(&q->wait_expiry, mkioq_uring_expire);
}

/* Completes (with -ECANCELED) the parked WAITs of @owner, or all if NULL. */
void mkioq_uring_cancel(struct mkioq_queue *q, fl_owner_t owner)
{
	LIST_HEAD(cancelled);

	spin_lock(&q->cq_lock);
	mkioq_uring_collect(q, &cancelled, mkioq_wait_of, owner);
	spin_unlock(&q->cq_lock);
	mkioq_uring_fail(&cancelled, -ECANCELED);
	if (!owner)
		cancel_delayed_work_sync(&q->wait_expiry);
}

/* The payload beyond struct mkioq_uring_wait must be zero. */
static bool mkioq_payload_tail_zero(const u8 *cmd, size_t from, size_t len)
{
	return !memchr_inv(cmd + from, 0, len - from);
}

/*
 * A WAIT that did not park ends with @err and no record. Once marked
 * cancelable, io_uring keeps the command listed until io_uring_cmd_done(),
 * so there it must complete like a parked one instead of returning @err.
 */
static int mkioq_uring_refuse(struct mkioq_wait *wait, int err)
{
	if (!MKIOQ_HAVE_URING_CANCEL) {
		kfree(wait);
		return err;
	}
	memset(&wait->cqe, 0, sizeof(wait->cqe));
	mkioq_uring_wait_done(wait, err);
	return -EIOCBQUEUED;
}

static int mkioq_uring_wait(struct mkioq_queue *q, struct io_uring_cmd *cmd,
			    const struct mkioq_uring_wait *arg,
			    unsigned int issue_flags)
{
	struct mkioq_wait *wait;
	bool ready;

	if (arg->flags)
		return -EINVAL;
	if (arg->slot != MKIOQ_ANY_SLOT && arg->slot >= q->slot_count)
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
	 * so it cannot wait until cq_lock is held.
	 */
	mkioq_cmd_mark_cancelable(cmd, issue_flags);

	spin_lock(&q->cq_lock);
	/* The owner's close cancelled the parked ones: do not park after. */
	if (READ_ONCE(q->dead)) {
		spin_unlock(&q->cq_lock);
		return mkioq_uring_refuse(wait, -ENXIO);
	}
	ready = mkioq_cq_take_locked(q, arg->slot, &wait->cqe);
	if (!ready) {
		if (q->nr_waits >= MKIOQ_MAX_WAITS) {
			spin_unlock(&q->cq_lock);
			return mkioq_uring_refuse(wait, -EBUSY);
		}
		list_add_tail(&wait->node, arg->slot == MKIOQ_ANY_SLOT ?
			      &q->waits_any : &q->waits_slot[arg->slot]);
		q->nr_waits++;
	}
	spin_unlock(&q->cq_lock);
	/*
	 * Only where nothing else can cancel a parked WAIT. No-op while
	 * already pending: one timer serves all WAITs.
	 */
	if (!ready && !MKIOQ_HAVE_URING_CANCEL)
		schedule_delayed_work(&q->wait_expiry, MKIOQ_WAIT_EXPIRY_TICK);

	/* A record was waiting: complete from task context all the same. */
	if (ready)
		mkioq_uring_wait_done(wait, wait->cqe.result);
	return -EIOCBQUEUED;
}

/*
 * io_uring cancels @cmd (6.7+: its ring is going away, or its task exits
 * or execs), under the ring's lock, with @cmd still not completed. If it
 * is parked it ends here with -ECANCELED; if not, a completion took it off
 * the parked lists first and its task work, already queued, ends it (the
 * canceller runs task work until none is left). The parked lists, under
 * cq_lock, decide which one: a WAIT is completed by whoever unlinks it.
 * The pdu is not trusted here: once unlinked, its WAIT may be freed.
 */
static void mkioq_uring_cancel_cmd(struct mkioq_queue *q,
				   struct io_uring_cmd *cmd,
				   unsigned int issue_flags)
{
	struct mkioq_wait *wait, *found = NULL;
	unsigned int i;
	u32 slot;

	spin_lock(&q->cq_lock);
	for (i = 0; i <= MKIOQ_MAX_SLOTS && !found; i++) {
		struct list_head *head = i < MKIOQ_MAX_SLOTS ?
					 &q->waits_slot[i] : &q->waits_any;

		list_for_each_entry(wait, head, node) {
			if (wait->cmd == cmd) {
				list_del(&wait->node);
				q->nr_waits--;
				found = wait;
				break;
			}
		}
	}
	spin_unlock(&q->cq_lock);
	if (!found)
		return;
	slot = found->slot;
	kfree(found);
	/* As mkioq_uring_fail(): no record, res2 = the slot waited for. */
	mkioq_cmd_done(cmd, -ECANCELED, slot, issue_flags);
}

int mkioq_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct mkioq_queue *q = cmd->file->private_data;
	size_t len = issue_flags & IO_URING_F_SQE128 ? 80 : 16;
	struct mkioq_uring_wait arg;
	u8 payload[80];
	int ret;

	/*
	 * Before anything else: a cancel must find its WAIT even on a dead
	 * queue, and may come without an SQE to read.
	 */
	if (issue_flags & MKIOQ_URING_F_CANCEL) {
		mkioq_uring_cancel_cmd(q, cmd, issue_flags);
		return 0;
	}

	ret = mkioq_usable(q);
	if (ret)
		return ret;

	/* The SQE may still be in shared memory: read it exactly once. */
	memcpy(payload, mkioq_uring_payload(cmd), len);
	switch (cmd->cmd_op) {
	case MKIOQ_URING_CMD_DOORBELL:
		if (!mkioq_payload_tail_zero(payload, 0, len))
			return -EINVAL;
		mkioq_doorbell(q);
		return 0;
	case MKIOQ_URING_CMD_WAIT:
		if (!mkioq_payload_tail_zero(payload, sizeof(arg), len))
			return -EINVAL;
		memcpy(&arg, payload, sizeof(arg));
		return mkioq_uring_wait(q, cmd, &arg, issue_flags);
	}
	return -ENOTTY;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Pollers: the kernel threads of POLL mode, each serving a group of
 * queues, as io_uring's rings share one SQPOLL thread
 * (IORING_SETUP_ATTACH_WQ).
 *
 * A POLL queue set up without MKIOQ_SETUP_ATTACH_POLL creates a group of
 * its own, with one thread, "mkioq-poll/ID" after the creator's queue id;
 * one set up with it joins the group of the queue that attach_fd names.
 * The group's poll_idle and poll_period are the creator's (those of the
 * joiners are checked, not used: one thread has one idle clock, as
 * io_uring's sq_thread_idle is the creating ring's).
 *
 * The thread works in rounds: one pass of every member (a pass claims at
 * most the ring's 64 slots), starting one member later each round, so a
 * queue that is flooded gets one pass per round like every other and
 * cannot starve them. After poll_idle of rounds without work the thread
 * sleeps until a member's doorbell or poll_period; a period's round that
 * finds nothing puts it back to sleep at once, so an idle group costs one
 * round per period. A member leaves at its queue's shutdown, after the
 * round in hand (so its pass in hand completes); the thread ends when the
 * last member leaves, whichever member created the group. The memory of
 * the group lives until the last member's release, since a doorbell may
 * still ring it after shutdown.
 */
#include <linux/bitops.h>
#include <linux/kref.h>
#include <linux/kthread.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "mkioq_ctx.h"
#include "mkioq_poller.h"
#include "mkioq_service.h"
#include "mkioq_trace.h"

/* Bits of mkioq_poller.flags. */
enum {
	MKIOQ_POLLER_RESCAN,	/* a member's doorbell rang since the last look */
};

/**
 * struct mkioq_poller - a group of POLL queues and the thread serving it
 * @ref:		one per queue that joined, put at the queue's release
 * @id:			the creator's queue id: the thread's name, and the
 *			queue= of mkioq_poll_sleep/mkioq_poll_wake events
 * @lock:		the member list; held by the thread for a whole
 *			round, so a leaver waits for the pass in hand
 * @members:		the mkioq_poll_member.node of the queues served (@lock)
 * @nr_members:		queues that joined and have not left, counted from
 *			join (before they are served); 0 for good once the
 *			last left (@lock; WRITE_ONCE for fdinfo's reads)
 * @flags:		MKIOQ_POLLER_RESCAN (atomic bitops, no lock)
 * @thread:		the thread, until the last member stops it (@lock)
 * @thread_pid:		its pid, referenced, for fdinfo
 * @wait:		the thread sleeps here when the group is idle
 * @poll_idle:		jiffies of rounds without work before sleeping
 * @poll_period:	jiffies between rounds while sleeping
 */
struct mkioq_poller {
	struct kref ref;
	u32 id;
	struct mutex lock;	/* the member list */
	struct list_head members;
	unsigned int nr_members;
	unsigned long flags;
	struct task_struct *thread;
	struct pid *thread_pid;
	wait_queue_head_t wait;
	unsigned long poll_idle;
	unsigned long poll_period;
};

/* One pass of every member; returns the work done, 0 for an idle round. */
static unsigned int mkioq_poller_round(struct mkioq_poller *p)
{
	struct mkioq_poll_member *m;
	unsigned int work = 0;

	mutex_lock(&p->lock);
	list_for_each_entry(m, &p->members, node) {
		work += mkioq_service_poll(container_of(m, struct mkioq_ctx,
							poll));
		cond_resched();
	}
	/*
	 * Whoever went first this round goes last in the next. A group of
	 * one has no one to be fair to: no list surgery on its hot loop.
	 */
	if (!list_empty(&p->members) && !list_is_singular(&p->members))
		list_rotate_left(&p->members);
	mutex_unlock(&p->lock);
	return work;
}

/* Sleep until a doorbell, the period or a stop; true unless the period. */
static bool mkioq_poller_sleep(struct mkioq_poller *p)
{
	long left;

	trace_mkioq_poll_sleep(p->id, READ_ONCE(p->nr_members),
			       p->poll_period);
	/*
	 * A true test_and_clear_bit() is fully ordered: it pairs with
	 * smp_mb__before_atomic() in mkioq_poller_kick(), so the round that
	 * follows sees what the ringer published before ringing.
	 */
	left = wait_event_interruptible_timeout(p->wait,
						test_and_clear_bit(MKIOQ_POLLER_RESCAN,
								   &p->flags) ||
						kthread_should_stop(),
						p->poll_period);
	trace_mkioq_poll_wake(p->id, left > 0);
	return left != 0;
}

/*
 * Round after round while any member has work, so a GPU that cannot ring
 * the doorbell is served at memory speed; asleep once the group was idle
 * for poll_idle (see the top of this file).
 */
static int mkioq_poller_thread(void *data)
{
	struct mkioq_poller *p = data;
	unsigned long idle_since = jiffies;

	while (!kthread_should_stop()) {
		if (mkioq_poller_round(p)) {
			idle_since = jiffies;
		} else if (time_after(jiffies, idle_since + p->poll_idle)) {
			while (!mkioq_poller_sleep(p) && !mkioq_poller_round(p))
				;
			idle_since = jiffies;
		}
		cond_resched();
	}
	return 0;
}

static void mkioq_poller_free(struct kref *ref)
{
	struct mkioq_poller *p = container_of(ref, struct mkioq_poller, ref);

	put_pid(p->thread_pid);
	mutex_destroy(&p->lock);
	kfree(p);
}

/* A group of one, @ctx its creator, with its thread running. */
static int mkioq_poller_create(struct mkioq_ctx *ctx, u32 poll_idle_us,
			       u32 poll_period_us)
{
	struct mkioq_poller *p;
	struct task_struct *t;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	kref_init(&p->ref);
	p->id = ctx->id;
	mutex_init(&p->lock);
	INIT_LIST_HEAD(&p->members);
	p->nr_members = 1;
	init_waitqueue_head(&p->wait);
	p->poll_idle = usecs_to_jiffies(poll_idle_us ?:
					MKIOQ_POLL_IDLE_DEFAULT_US);
	p->poll_period = usecs_to_jiffies(poll_period_us ?:
					  MKIOQ_POLL_PERIOD_DEFAULT_US);
	/* Nothing to serve until mkioq_poller_serve(): it finds no member. */
	t = kthread_run(mkioq_poller_thread, p, "mkioq-poll/%u", ctx->id);
	if (IS_ERR(t)) {
		mutex_destroy(&p->lock);
		kfree(p);
		return PTR_ERR(t);
	}
	p->thread = t;
	p->thread_pid = get_task_pid(t, PIDTYPE_PID);
	ctx->poll.poller = p;
	return 0;
}

/*
 * At setup of the POLL queue @ctx: make it a member of @target's group,
 * or of a new group when @target is NULL. @target was seen LIVE and in
 * POLL mode, and the caller holds its file, so its group exists. The
 * member is counted (the group cannot end under it) but not yet served:
 * mkioq_poller_serve() does that once the queue is ready. -ENXIO if the
 * group ended meanwhile (its last member left); a new group's errnos are
 * kzalloc()'s and kthread_run()'s.
 */
int mkioq_poller_join(struct mkioq_ctx *ctx, struct mkioq_ctx *target,
		      u32 poll_idle_us, u32 poll_period_us)
{
	struct mkioq_poller *p;

	INIT_LIST_HEAD(&ctx->poll.node);
	if (!target)
		return mkioq_poller_create(ctx, poll_idle_us, poll_period_us);

	p = target->poll.poller;
	mutex_lock(&p->lock);
	if (!p->nr_members) {
		mutex_unlock(&p->lock);
		return -ENXIO;
	}
	WRITE_ONCE(p->nr_members, p->nr_members + 1);
	kref_get(&p->ref);
	mutex_unlock(&p->lock);
	ctx->poll.poller = p;
	return 0;
}

/* The queue is set up: the thread passes over it from its next round. */
void mkioq_poller_serve(struct mkioq_ctx *ctx)
{
	struct mkioq_poller *p = ctx->poll.poller;

	mutex_lock(&p->lock);
	list_add_tail(&ctx->poll.node, &p->members);
	mutex_unlock(&p->lock);
}

/* The doorbell of a member: wake the group's thread if it sleeps. */
void mkioq_poller_kick(struct mkioq_ctx *ctx)
{
	struct mkioq_poller *p = ctx->poll.poller;

	/*
	 * The ringer's stores (a PUBLISHED it made) before RESCAN: pairs
	 * with the test_and_clear_bit() in mkioq_poller_sleep().
	 */
	smp_mb__before_atomic();
	set_bit(MKIOQ_POLLER_RESCAN, &p->flags);
	wake_up(&p->wait);
}

/*
 * At shutdown, or when setup fails after a join: the queue is no longer
 * served once this returns (the round in hand, whose pass of the queue
 * completes, ends before it); the last member out stops the thread.
 * Nothing if the queue never joined (DOORBELL mode).
 */
void mkioq_poller_leave(struct mkioq_ctx *ctx)
{
	struct mkioq_poller *p = ctx->poll.poller;
	struct task_struct *thread = NULL;

	if (!p)
		return;
	mutex_lock(&p->lock);
	/* A member counted but never served has a node linked to itself. */
	list_del_init(&ctx->poll.node);
	WRITE_ONCE(p->nr_members, p->nr_members - 1);
	if (!p->nr_members) {
		thread = p->thread;
		p->thread = NULL;
	}
	mutex_unlock(&p->lock);
	/* Outside the lock: the thread's round takes it. */
	if (thread)
		kthread_stop(thread);
}

/* At release, after mkioq_poller_leave(): the queue's reference. */
void mkioq_poller_put(struct mkioq_ctx *ctx)
{
	if (ctx->poll.poller)
		kref_put(&ctx->poll.poller->ref, mkioq_poller_free);
	ctx->poll.poller = NULL;
}

/* fdinfo: which thread serves the queue, and how many queues it serves. */
void mkioq_poller_show(struct mkioq_ctx *ctx, struct seq_file *m)
{
	struct mkioq_poller *p = ctx->poll.poller;
	unsigned int members;

	if (!p)
		return;
	members = READ_ONCE(p->nr_members);
	seq_printf(m, "poll-group:\t%u\n", p->id);
	/* In the reader's pid namespace; 0 once the thread ended. */
	seq_printf(m, "poll-thread:\t%d\n",
		   members ? pid_vnr(p->thread_pid) : 0);
	seq_printf(m, "poll-members:\t%u\n", members);
}

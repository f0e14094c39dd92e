// SPDX-License-Identifier: GPL-2.0
/*
 * The service: claim PUBLISHED slots, copy between dma-bufs, complete.
 *
 * One agent services a queue at a time (mkioq_service.lock): the doorbell
 * caller in DOORBELL mode, the queue's kernel thread in POLL mode.
 * Requests are therefore executed one by one in the order they were
 * claimed, and FENCEs (mkioq_fence.c) are held and completed here too.
 */
#include <linux/bitops.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "mkioq_ctx.h"
#include "mkioq_copy.h"
#include "mkioq_cq.h"
#include "mkioq_fence.h"
#include "mkioq_ring.h"
#include "mkioq_service.h"
#include "mkioq_storage.h"
#include "mkioq_trace.h"

/*
 * The service's scratch, used under its lock: the requests of the pass
 * being serviced and the records of every completion it makes (requests
 * and held FENCEs are distinct slots: at most MKIOQ_MAX_SLOTS of them).
 */
struct mkioq_pass {
	struct mkioq_batch batch;
	struct mkioq_cqe cqe[MKIOQ_MAX_SLOTS];
};

/*
 * One pass over the ring: claim every request, execute them as a batch,
 * complete them, then the held FENCEs that may complete, and post their
 * records together. Returns the number of requests serviced and FENCEs
 * claimed or completed.
 */
static unsigned int mkioq_service_pass(struct mkioq_ctx *ctx)
{
	struct mkioq_service *svc = &ctx->service;
	struct mkioq_batch *b = &svc->pass->batch;
	struct mkioq_cqe *cqe = svc->pass->cqe;
	unsigned int n, fences = 0;
	struct mkioq_req req;
	u64 candidates;
	u32 i;
	int ret;

	lockdep_assert_held(&svc->lock);
	mkioq_fences_begin_pass(&svc->fences);
	mkioq_batch_begin(b);
	/*
	 * Claims and handle lookups in one section of the handle table's
	 * lock: MKIOQ_IOC_UNREGISTER, which takes it too, cannot fall
	 * between a request's claim and the references to its buffers.
	 */
	xa_lock(&ctx->handles.table);
	/*
	 * A held FENCE's slot is ours until we complete it, whatever a
	 * producer wrote there since.
	 */
	for (candidates = mkioq_ring_published(&ctx->ring) & ~svc->fences.held;
	     candidates; candidates &= candidates - 1) {
		i = __ffs64(candidates);
		if (!mkioq_ring_claim(&ctx->ring, i, &req))
			continue;
		trace_mkioq_claim(ctx->id, &req);
		mkioq_fences_saw_claim(&svc->fences, i);
		if (req.op == MKIOQ_OP_FENCE) {
			mkioq_fence_hold(&svc->fences, &ctx->ring, &req);
			fences++;
		} else {
			/* Storage requests go to workers (mkioq_storage.c). */
			ret = mkioq_storage_claim_locked(ctx, &req);
			if (ret < 0)
				mkioq_batch_add_failed(b, &req, ret);
			else if (!ret)
				mkioq_batch_add_locked(b, &ctx->handles, &req);
		}
	}
	xa_unlock(&ctx->handles.table);

	if (b->nr)
		mkioq_batch_execute(b);
	for (i = 0; i < b->nr; i++)
		mkioq_ring_complete(&ctx->ring, &b->req[i], b->result[i],
				    &cqe[i]);
	n = b->nr + mkioq_fences_complete(&svc->fences, &ctx->ring,
					  &cqe[b->nr]);
	if (n)
		mkioq_cq_post(ctx, cqe, n);
	/* Only passes that did something: an idle POLL queue spins. */
	if (n || fences)
		trace_mkioq_service_pass(ctx->id, b->nr, fences, n);
	return n + fences;
}

/* Look at held FENCEs again soon: DOORBELL mode, where nobody may ring. */
static void mkioq_fence_recheck_arm(struct mkioq_service *svc)
{
	lockdep_assert_held(&svc->lock);
	if (svc->fences.held && !svc->stopped)
		schedule_delayed_work(&svc->fence_recheck,
				      msecs_to_jiffies(MKIOQ_FENCE_RECHECK_MS));
}

static void mkioq_service_now(struct mkioq_ctx *ctx);

/*
 * Complete the held FENCEs that may complete, without a pass: a pass is
 * what the doorbell asks for, and the requests a FENCE still needs a pass
 * for wait for that doorbell too. A FENCE waiting for a storage request
 * (mkioq_storage.c) is held, and this runs, as long as the storage takes.
 */
static void mkioq_fence_recheck(struct work_struct *work)
{
	struct mkioq_ctx *ctx = container_of(to_delayed_work(work),
					     struct mkioq_ctx,
					     service.fence_recheck);
	struct mkioq_service *svc = &ctx->service;
	unsigned int n;

	mutex_lock(&svc->lock);
	if (!svc->stopped) {
		n = mkioq_fences_complete(&svc->fences, &ctx->ring,
					  svc->pass->cqe);
		if (n)
			mkioq_cq_post(ctx, svc->pass->cqe, n);
		mkioq_fence_recheck_arm(svc);
	}
	mutex_unlock(&svc->lock);
	/*
	 * A doorbell that found the lock ours left its RESCAN to us, as to
	 * any holder: serve it. Pairs with the smp_mb__after_atomic() of
	 * the ringer in mkioq_service_now(), as the smp_mb() there does.
	 */
	smp_mb();
	if (test_bit(MKIOQ_RESCAN, &svc->flags))
		mkioq_service_now(ctx);
}

/*
 * DOORBELL mode: service in the caller's context, one pass per ring seen
 * (every request published before a ring is visible to the pass that
 * follows it) plus one more while a FENCE waits for its pass, for at most
 * MKIOQ_DOORBELL_PASSES passes (a producer that never stops must not keep
 * the caller in the kernel); what is left waits for the next doorbell. A
 * caller that finds another servicing leaves a RESCAN for it instead of
 * waiting.
 */
static void mkioq_service_now(struct mkioq_ctx *ctx)
{
	struct mkioq_service *svc = &ctx->service;
	unsigned int passes = 0;

	/*
	 * The ringer's earlier stores (a PUBLISHED it made) before RESCAN:
	 * pairs with the fully ordered test_and_clear_bit() that precedes
	 * the servicer's loads of STATUS.
	 */
	smp_mb__before_atomic();
	set_bit(MKIOQ_RESCAN, &svc->flags);
	/*
	 * RESCAN before our mutex_trylock(): pairs with the smp_mb() between
	 * a servicer's mutex_unlock() and its test_bit() below, so either we
	 * get the lock or that servicer sees RESCAN and goes round again.
	 */
	smp_mb__after_atomic();
	while (test_bit(MKIOQ_RESCAN, &svc->flags) &&
	       mutex_trylock(&svc->lock)) {
		if (svc->stopped) {
			mutex_unlock(&svc->lock);
			return;
		}
		/* A stop that comes meanwhile ends this after the pass in hand. */
		while (passes < MKIOQ_DOORBELL_PASSES && !READ_ONCE(svc->stopped) &&
		       test_and_clear_bit(MKIOQ_RESCAN, &svc->flags)) {
			do {
				mkioq_service_pass(ctx);
				cond_resched();
				if (fatal_signal_pending(current))
					passes = MKIOQ_DOORBELL_PASSES;
			} while (++passes < MKIOQ_DOORBELL_PASSES &&
				 !READ_ONCE(svc->stopped) &&
				 mkioq_fences_need_pass(&svc->fences));
		}
		mkioq_fence_recheck_arm(svc);
		mutex_unlock(&svc->lock);
		if (passes >= MKIOQ_DOORBELL_PASSES)
			break;
		/* Pairs with smp_mb__after_atomic() above (a ringer's). */
		smp_mb();
	}
}

/* The doorbell: service now (DOORBELL mode) or wake the poll thread. */
void mkioq_service_kick(struct mkioq_ctx *ctx)
{
	struct mkioq_service *svc = &ctx->service;

	trace_mkioq_doorbell(ctx->id, ctx->mode);
	if (ctx->mode == MKIOQ_MODE_DOORBELL) {
		mkioq_service_now(ctx);
		return;
	}
	/*
	 * As in mkioq_service_now(): the ringer's stores before RESCAN,
	 * paired with the test_and_clear_bit() in mkioq_poll_sleep().
	 */
	smp_mb__before_atomic();
	set_bit(MKIOQ_RESCAN, &svc->flags);
	wake_up(&svc->poll_wait);
}

/* Sleep until the doorbell, the period or a stop request. */
static void mkioq_poll_sleep(struct mkioq_ctx *ctx)
{
	struct mkioq_service *svc = &ctx->service;
	long left;

	trace_mkioq_poll_sleep(ctx->id, svc->poll_period);
	left = wait_event_interruptible_timeout(svc->poll_wait,
						test_and_clear_bit(MKIOQ_RESCAN,
								   &svc->flags) ||
						kthread_should_stop(),
						svc->poll_period);
	trace_mkioq_poll_wake(ctx->id, left > 0);
}

/*
 * POLL mode: look at the ring continuously while requests arrive, so a
 * GPU that cannot ring the doorbell is served at memory speed; after
 * poll_idle without work, sleep and look only on the doorbell or every
 * poll_period.
 */
static int mkioq_poll_thread(void *data)
{
	struct mkioq_ctx *ctx = data;
	struct mkioq_service *svc = &ctx->service;
	unsigned long idle_since = jiffies;

	while (!kthread_should_stop()) {
		unsigned int n;

		mutex_lock(&svc->lock);
		n = mkioq_service_pass(ctx);
		mutex_unlock(&svc->lock);

		if (n) {
			idle_since = jiffies;
		} else if (time_after(jiffies, idle_since + svc->poll_idle)) {
			mkioq_poll_sleep(ctx);
			idle_since = jiffies;
		}
		cond_resched();
	}
	return 0;
}

/* At open: what must exist before setup, because stop may look at it. */
void mkioq_service_init(struct mkioq_ctx *ctx)
{
	struct mkioq_service *svc = &ctx->service;

	mutex_init(&svc->lock);
	init_waitqueue_head(&svc->poll_wait);
	INIT_DELAYED_WORK(&svc->fence_recheck, mkioq_fence_recheck);
}

int mkioq_service_start(struct mkioq_ctx *ctx, u32 poll_idle_us,
			u32 poll_period_us)
{
	struct mkioq_service *svc = &ctx->service;
	struct task_struct *t;

	svc->poll_idle = usecs_to_jiffies(poll_idle_us ?:
					  MKIOQ_POLL_IDLE_DEFAULT_US);
	svc->poll_period = usecs_to_jiffies(poll_period_us ?:
					    MKIOQ_POLL_PERIOD_DEFAULT_US);
	/* Setup reports the failure: no allocator splat needed. */
	svc->pass = kvzalloc(sizeof(*svc->pass), GFP_KERNEL | __GFP_NOWARN);
	if (!svc->pass)
		return -ENOMEM;
	if (ctx->mode != MKIOQ_MODE_POLL)
		return 0;
	t = kthread_run(mkioq_poll_thread, ctx, "mkioq-poll/%d",
			task_pid_nr(current));
	if (IS_ERR(t)) {
		kvfree(svc->pass);
		svc->pass = NULL;
		return PTR_ERR(t);
	}
	svc->poll_thread = t;
	return 0;
}

/*
 * Stop servicing, for good: the poll thread and a doorbell servicing now
 * end after the pass in hand (the requests it claimed complete), a
 * doorbell that follows finds the service stopped, and FENCEs
 * still held complete with -ECANCELED. Called once, by the queue's
 * shutdown; the scratch stays until mkioq_service_free().
 */
void mkioq_service_stop(struct mkioq_ctx *ctx)
{
	struct mkioq_service *svc = &ctx->service;
	unsigned int n;

	/* kthread_stop() wakes the thread and waits for the pass in hand. */
	if (svc->poll_thread)
		kthread_stop(svc->poll_thread);
	svc->poll_thread = NULL;

	/*
	 * Without the lock first, so that a doorbell servicing now stops
	 * after its pass in hand; then through the lock, so that every later
	 * holder sees it and no recheck arms itself after the cancel below.
	 */
	WRITE_ONCE(svc->stopped, true);
	mutex_lock(&svc->lock);
	mutex_unlock(&svc->lock);
	cancel_delayed_work_sync(&svc->fence_recheck);

	mutex_lock(&svc->lock);
	n = mkioq_fences_cancel(&svc->fences, &ctx->ring, svc->pass->cqe);
	if (n)
		mkioq_cq_post(ctx, svc->pass->cqe, n);
	mutex_unlock(&svc->lock);
}

/* At release, whether or not the service ever started. */
void mkioq_service_free(struct mkioq_ctx *ctx)
{
	kvfree(ctx->service.pass);
	ctx->service.pass = NULL;
	mutex_destroy(&ctx->service.lock);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The service: claim PUBLISHED slots, copy between dma-bufs, complete.
 *
 * One agent services a queue at a time (mkioq_service.lock): the doorbell
 * caller in DOORBELL mode, the thread of the queue's poller in POLL mode
 * (mkioq_poller.c, which calls mkioq_service_poll() for each pass).
 * Requests are therefore executed in the order they were claimed (with
 * copy_workers, helpers may copy a pass's independent requests at once,
 * inside the pass: see mkioq_copy.c), and FENCEs (mkioq_fence.c) are held
 * and completed here too.
 */
#include <linux/bitops.h>
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
	u64 candidates, storage = 0;
	struct mkioq_req req;
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
			/* Storage requests start after the batch. */
			ret = mkioq_storage_claim_locked(ctx, &req);
			if (ret < 0)
				mkioq_batch_add_failed(b, &req, ret);
			else if (!ret)
				mkioq_batch_add_locked(b, &ctx->handles, &req);
			else
				storage |= BIT_ULL(i);
		}
	}
	xa_unlock(&ctx->handles.table);

	if (b->nr) {
		mkioq_batch_execute(b);
		if (b->shared) {
			WRITE_ONCE(svc->shared_passes, svc->shared_passes + 1);
			WRITE_ONCE(svc->helper_chunks,
				   svc->helper_chunks + b->helper_chunks);
		}
	}
	for (i = 0; i < b->nr; i++)
		mkioq_ring_complete(&ctx->ring, &b->req[i], b->result[i],
				    &cqe[i]);
	n = b->nr;
	/* After the batch: memory requests never wait for storage. */
	if (storage)
		n += mkioq_storage_start(ctx, storage, &cqe[n]);
	n += mkioq_fences_complete(&svc->fences, &ctx->ring, &cqe[n]);
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
	 * the ringer in mkioq_service_kick(), as the smp_mb() there does.
	 */
	smp_mb();
	if (test_bit(MKIOQ_RESCAN, &svc->flags))
		mkioq_service_kick(ctx);
}

/*
 * DOORBELL mode's doorbell (a POLL queue's rings its poller instead):
 * service in the caller's context, one pass per ring seen
 * (every request published before a ring is visible to the pass that
 * follows it) plus one more while a FENCE waits for its pass, for at most
 * MKIOQ_DOORBELL_PASSES passes (a producer that never stops must not keep
 * the caller in the kernel); what is left waits for the next doorbell. A
 * caller that finds another servicing leaves a RESCAN for it instead of
 * waiting.
 */
void mkioq_service_kick(struct mkioq_ctx *ctx)
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

/*
 * POLL mode: one pass, for the poller whose round this is; the work done,
 * 0 once the service stopped.
 */
unsigned int mkioq_service_poll(struct mkioq_ctx *ctx)
{
	struct mkioq_service *svc = &ctx->service;
	unsigned int n = 0;

	/*
	 * Most members of an idle group have nothing: a look at the STATUS
	 * words, without the lock, is their pass. Held FENCEs complete only
	 * in a pass; in POLL mode this thread alone changes them (the stop
	 * comes after the poller let go of the queue), so no lock is needed
	 * to read them. A request published meanwhile is seen next round,
	 * as it would be after a pass.
	 */
	if (!mkioq_ring_published(&ctx->ring) && !READ_ONCE(svc->fences.held))
		return 0;
	mutex_lock(&svc->lock);
	if (!svc->stopped)
		n = mkioq_service_pass(ctx);
	mutex_unlock(&svc->lock);
	return n;
}

/* At open: what must exist before setup, because stop may look at it. */
void mkioq_service_init(struct mkioq_ctx *ctx)
{
	struct mkioq_service *svc = &ctx->service;

	mutex_init(&svc->lock);
	INIT_DELAYED_WORK(&svc->fence_recheck, mkioq_fence_recheck);
}

/* At setup; a failed setup may retry, so the scratch is made once. */
int mkioq_service_start(struct mkioq_ctx *ctx, u32 copy_workers)
{
	struct mkioq_service *svc = &ctx->service;

	if (!svc->pass) {
		/* Setup reports the failure: no allocator splat needed. */
		svc->pass = kvzalloc(sizeof(*svc->pass),
				     GFP_KERNEL | __GFP_NOWARN);
		if (!svc->pass)
			return -ENOMEM;
	}
	/* A retry may ask for other copy workers: no pass has run yet. */
	svc->copy_workers = copy_workers;
	mkioq_batch_init(&svc->pass->batch, copy_workers);
	return 0;
}

/*
 * Stop servicing, for good: a doorbell servicing now ends after the pass
 * in hand (the requests it claimed complete), a doorbell or a poller's
 * pass that follows finds the service stopped, and FENCEs still held
 * complete with -ECANCELED. Called once, by the queue's shutdown, after
 * it left its poller (whose pass in hand completed then); the scratch
 * stays until mkioq_service_free().
 */
void mkioq_service_stop(struct mkioq_ctx *ctx)
{
	struct mkioq_service *svc = &ctx->service;
	unsigned int n;

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

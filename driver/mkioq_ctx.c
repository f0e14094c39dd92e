// SPDX-License-Identifier: GPL-2.0
/*
 * A queue's life: open, setup, shutdown, release, and the mapping of its
 * ring.
 *
 * A queue belongs to the process that set it up: its thread group, with
 * the file table it used then. It is shut down exactly once, by
 * mkioq_ctx_shutdown(): when that process closes its last descriptor of
 * the file (a forked child or a receiver of the fd may still hold the
 * file), or at release. Shutdown stops the service (the pass in hand
 * completes, held FENCEs complete with -ECANCELED, slots still PUBLISHED
 * are not ours and stay as they are), waits for the storage requests in
 * flight to complete, cancels parked WAITs, drops every
 * handle and its dma-buf reference, and wakes readers; every later call
 * but INFO fails with -ENXIO. Mappings of the ring stay valid memory.
 */
#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "mkioq_ctx.h"
#include "mkioq_backlog.h"
#include "mkioq_cq.h"
#include "mkioq_handle.h"
#include "mkioq_ring.h"
#include "mkioq_service.h"
#include "mkioq_storage.h"
#include "mkioq_wait.h"

/* At open; @dma_dev attaches to dma-bufs whose exporter has no vmap. */
struct mkioq_ctx *mkioq_ctx_alloc(u32 id, struct device *dma_dev)
{
	struct mkioq_ctx *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return NULL;
	ctx->id = id;
	mutex_init(&ctx->state_lock);
	mkioq_handles_init(&ctx->handles, dma_dev);
	mkioq_service_init(ctx);
	mkioq_storage_init_queue(ctx);
	mkioq_cq_init(ctx);
	mkioq_waits_init(ctx);
	return ctx;
}

static int mkioq_setup_check(const struct mkioq_setup *setup)
{
	if (setup->flags || setup->attach_fd || setup->copy_workers ||
	    setup->reserved)
		return -EINVAL;
	if (setup->slot_count < 1 || setup->slot_count > MKIOQ_MAX_SLOTS)
		return -EINVAL;
	if (setup->mode != MKIOQ_MODE_DOORBELL &&
	    setup->mode != MKIOQ_MODE_POLL)
		return -EINVAL;
	if (setup->poll_idle_us > MKIOQ_POLL_IDLE_MAX_US ||
	    setup->poll_period_us > MKIOQ_POLL_PERIOD_MAX_US)
		return -EINVAL;
	return 0;
}

/* NEW -> LIVE. */
int mkioq_ctx_setup(struct mkioq_ctx *ctx, struct mkioq_setup *setup)
{
	int ret;

	ret = mkioq_setup_check(setup);
	if (ret)
		return ret;

	mutex_lock(&ctx->state_lock);
	if (ctx->state != MKIOQ_CTX_NEW) {
		ret = -EBUSY;
		goto out_unlock;
	}
	ctx->mode = setup->mode;
	ctx->owner = current->files;

	ret = mkioq_ring_alloc(&ctx->ring, setup->slot_count);
	if (ret)
		goto out_unlock;
	ret = mkioq_cq_alloc(ctx);
	if (ret)
		goto err_ring;
	ret = mkioq_service_start(ctx, setup->poll_idle_us,
				  setup->poll_period_us);
	if (ret)
		goto err_cq;

	/* Last: nothing below fails, so no error path has to put it. */
	ctx->owner_tgid = get_pid(task_tgid(current));
	setup->ring_bytes = PAGE_SIZE;
	setup->cq_entries = MKIOQ_CQ_ENTRIES;
	/* Pairs with smp_load_acquire() in mkioq_ctx_state(). */
	smp_store_release(&ctx->state, MKIOQ_CTX_LIVE);
	mutex_unlock(&ctx->state_lock);
	return 0;

err_cq:
	mkioq_cq_free(ctx);
err_ring:
	mkioq_ring_free(&ctx->ring);
out_unlock:
	mutex_unlock(&ctx->state_lock);
	return ret;
}

/* LIVE -> DEAD, once, whoever calls first: see the top of this file. */
static void mkioq_ctx_shutdown(struct mkioq_ctx *ctx)
{
	mutex_lock(&ctx->state_lock);
	if (ctx->state != MKIOQ_CTX_LIVE) {
		mutex_unlock(&ctx->state_lock);
		return;
	}
	/* Pairs with smp_load_acquire() in mkioq_ctx_state(). */
	smp_store_release(&ctx->state, MKIOQ_CTX_DEAD);
	mutex_unlock(&ctx->state_lock);

	mkioq_service_stop(ctx);
	mkioq_storage_drain(ctx);
	mkioq_waits_cancel(ctx, NULL);
	mkioq_handles_release(&ctx->handles);
	mkioq_cq_shutdown(ctx);
}

/*
 * At the last close, when no ioctl, read, write or uring_cmd can run any
 * more (a parked WAIT holds the file).
 */
void mkioq_ctx_release(struct mkioq_ctx *ctx)
{
	mkioq_ctx_shutdown(ctx);
	mkioq_waits_free(ctx);
	if (ctx->state == MKIOQ_CTX_DEAD) {
		mkioq_cq_free(ctx);
		mkioq_ring_free(&ctx->ring);
		put_pid(ctx->owner_tgid);
	}
	mkioq_service_free(ctx);
	mutex_destroy(&ctx->state_lock);
	kfree(ctx);
}

static int mkioq_same_file(const void *file, struct file *f, unsigned int fd)
{
	return f == file;
}

/*
 * @file was closed by a task whose files are @id: if that was the owner's
 * last descriptor of it, the queue shuts down.
 */
void mkioq_ctx_owner_closed(struct mkioq_ctx *ctx, struct file *file,
			    fl_owner_t id)
{
	/*
	 * The owner's files are compared only while they live (the queue
	 * dies at the owner's last close, which precedes their release);
	 * the thread group, which we hold, is what a later process whose
	 * files reuse the address cannot match.
	 */
	if (id != ctx->owner || task_tgid(current) != ctx->owner_tgid ||
	    iterate_fd(id, 0, mkioq_same_file, file))
		return;
	mkioq_ctx_shutdown(ctx);
}

int mkioq_ctx_mmap(struct mkioq_ctx *ctx, struct vm_area_struct *vma)
{
	int ret = mkioq_ctx_usable(ctx);

	if (ret)
		return ret;
	return mkioq_ring_mmap(&ctx->ring, vma);
}

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
#include <linux/err.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "mkioq_ctx.h"
#include "mkioq_backlog.h"
#include "mkioq_cq.h"
#include "mkioq_handle.h"
#include "mkioq_poller.h"
#include "mkioq_ring.h"
#include "mkioq_service.h"
#include "mkioq_storage.h"
#include "mkioq_trace.h"
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
	bool attach = setup->flags & MKIOQ_SETUP_ATTACH_POLL;

	if ((setup->flags & ~MKIOQ_SETUP_ATTACH_POLL) ||
	    (!attach && setup->attach_fd) ||
	    (attach && setup->mode != MKIOQ_MODE_POLL) || setup->reserved)
		return -EINVAL;
	if (setup->copy_workers > MKIOQ_MAX_COPY_WORKERS)
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

/*
 * MKIOQ_SETUP_ATTACH_POLL: the queue whose poller serves the new one, as
 * io_uring's IORING_SETUP_ATTACH_WQ checks wq_fd. @file is the queue
 * being set up: a file with its file operations is a queue. The target's
 * state is read without its state_lock (see the lock order in
 * mkioq_ctx.h): LIVE, read with acquire, shows its mode and poller set
 * up, and the file reference keeps them until mkioq_poller_join().
 */
static struct file *mkioq_attach_target(struct file *file, int fd)
{
	struct mkioq_ctx *target;
	struct file *f;
	int ret;

	f = fget(fd);
	if (!f)
		return ERR_PTR(-EBADF);
	ret = -EINVAL;
	if (f->f_op != file->f_op)
		goto err;
	target = f->private_data;
	/* A queue not set up yet has no mode: EBADFD before the mode. */
	ret = mkioq_ctx_usable(target);
	if (ret == -EBADFD)
		goto err;
	if (target->mode != MKIOQ_MODE_POLL) {
		ret = -EINVAL;
		goto err;
	}
	if (ret)
		goto err;
	return f;
err:
	fput(f);
	return ERR_PTR(ret);
}

/* NEW -> LIVE; @file is the queue's file. */
int mkioq_ctx_setup(struct mkioq_ctx *ctx, struct file *file,
		    struct mkioq_setup *setup)
{
	struct file *target = NULL;
	int ret;

	ret = mkioq_setup_check(setup);
	if (ret)
		return ret;

	mutex_lock(&ctx->state_lock);
	if (ctx->state != MKIOQ_CTX_NEW) {
		ret = -EBUSY;
		goto out_unlock;
	}
	if (setup->flags & MKIOQ_SETUP_ATTACH_POLL) {
		target = mkioq_attach_target(file, setup->attach_fd);
		if (IS_ERR(target)) {
			ret = PTR_ERR(target);
			target = NULL;
			goto out_unlock;
		}
	}
	ctx->mode = setup->mode;
	ctx->owner = current->files;

	ret = mkioq_ring_alloc(&ctx->ring, setup->slot_count);
	if (ret)
		goto out_unlock;
	ret = mkioq_cq_alloc(ctx);
	if (ret)
		goto err_ring;
	ret = mkioq_service_start(ctx, setup->copy_workers);
	if (ret)
		goto err_cq;
	if (ctx->mode == MKIOQ_MODE_POLL) {
		ret = mkioq_poller_join(ctx, target ? target->private_data :
					NULL, setup->poll_idle_us,
					setup->poll_period_us);
		if (ret)
			goto err_cq;
		/* Last: once served, the poller's thread passes over it. */
		mkioq_poller_serve(ctx);
	}

	/* Last: nothing below fails, so no error path has to put it. */
	ctx->owner_tgid = get_pid(task_tgid(current));
	setup->ring_bytes = PAGE_SIZE;
	setup->cq_entries = MKIOQ_CQ_ENTRIES;
	/* Pairs with smp_load_acquire() in mkioq_ctx_state(). */
	smp_store_release(&ctx->state, MKIOQ_CTX_LIVE);
	mutex_unlock(&ctx->state_lock);
	if (target)
		fput(target);
	return 0;

err_cq:
	mkioq_cq_free(ctx);
err_ring:
	mkioq_ring_free(&ctx->ring);
out_unlock:
	mutex_unlock(&ctx->state_lock);
	if (target)
		fput(target);
	return ret;
}

/*
 * The doorbell (ioctl, write() or uring_cmd) of a usable queue: service
 * now, or wake the poller. Here rather than in the service, which the
 * poller calls: the call graph stays acyclic.
 */
void mkioq_ctx_doorbell(struct mkioq_ctx *ctx)
{
	trace_mkioq_doorbell(ctx->id, ctx->mode);
	if (ctx->mode == MKIOQ_MODE_DOORBELL)
		mkioq_service_kick(ctx);
	else
		mkioq_poller_kick(ctx);
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

	/* Not served any more, then stopped: see mkioq_service_stop(). */
	mkioq_poller_leave(ctx);
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
	mkioq_poller_put(ctx);
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

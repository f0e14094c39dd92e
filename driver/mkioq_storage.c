// SPDX-License-Identifier: GPL-2.0
/*
 * Storage requests: a READ whose source, or a WRITE whose destination, is
 * a file handle (MKIOQ_REG_F_FILE), the other side a dma-buf handle.
 *
 * A pass claims them like any request and validates them at claim time,
 * with their handles looked up and referenced under the handle table's
 * lock (so a later unregister cannot fail them); then, instead of joining
 * the pass's batch, each goes to a worker of the module's storage
 * workqueue, which moves the bytes with kernel_read()/kernel_write()
 * through the page cache and completes the slot. Meanwhile the slot stays
 * CLAIMED: the passes that follow serve memory requests without waiting,
 * and a FENCE after it waits for it (mkioq_fences_saw_async()).
 *
 * Why a worker pool: reads through the page cache block (a cache miss
 * waits for the disk), and the kernel's asynchronous buffered read path
 * (IOCB_NOWAIT plus the page-cache waitqueue callbacks io_uring uses) is
 * not exported to modules. A pool of sleeping workers is what the kernel's
 * own file-backed block targets do: nvme-target's file backend queues
 * buffered I/O to its "nvmet-buffered-io-wq" (drivers/nvme/target/
 * io-cmd-file.c, nvmet_file_submit_buffered_io() from
 * nvmet_file_execute_rw()), and the loop driver serves
 * buffered requests from a worker (drivers/block/loop.c, loop_queue_work()).
 * The pool is one unbound workqueue for the module, so that a queue's
 * storage requests run on any CPU and many at once, at most
 * MKIOQ_STORAGE_MAX_ACTIVE; it is not WQ_MEM_RECLAIM, as nothing in
 * reclaim waits for a ring request.
 */
#include <linux/dma-buf.h>
#include <linux/dma-direction.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/iosys-map.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "mkioq_ctx.h"
#include "mkioq_copy.h"
#include "mkioq_cq.h"
#include "mkioq_fence.h"
#include "mkioq_handle.h"
#include "mkioq_ring.h"
#include "mkioq_storage.h"

/* An I/O-memory dma-buf is reached through a bounce buffer this large. */
#define MKIOQ_STORAGE_BOUNCE	SZ_64K

static struct workqueue_struct *mkioq_storage_wq;

/*
 * Move the request's bytes between the file and the dma-buf's kernel
 * mapping (through @bounce if that is I/O memory, which kernel_read()
 * cannot write to). Returns the bytes moved, fewer than asked only at a
 * READ's end of file, or a negative errno.
 */
static ssize_t mkioq_storage_rw(struct mkioq_storage_req *sr, void *bounce)
{
	const struct iosys_map *map = &sr->mem->map;
	bool is_read = sr->req.op == MKIOQ_OP_READ;
	struct file *file = sr->file->file;
	u32 len = sr->req.byte_count, done = 0;
	loff_t pos = sr->file_pos;
	u64 off = sr->mem_off;
	ssize_t ret;
	size_t n;
	void *buf;

	while (done < len) {
		n = len - done;
		if (bounce) {
			n = min_t(size_t, n, MKIOQ_STORAGE_BOUNCE);
			buf = bounce;
		} else {
			buf = map->vaddr + off + done;
		}
		if (is_read) {
			ret = kernel_read(file, buf, n, &pos);
			if (ret > 0 && bounce)
				memcpy_toio(map->vaddr_iomem + off + done,
					    bounce, ret);
		} else {
			if (bounce)
				memcpy_fromio(bounce,
					      map->vaddr_iomem + off + done, n);
			ret = kernel_write(file, buf, n, &pos);
		}
		if (ret < 0)
			return ret == -ERESTARTSYS ? -EINTR : ret;
		/* End of file (READ), or a file system that wrote nothing. */
		if (!ret)
			break;
		done += ret;
		cond_resched();
	}
	return done;
}

/* The dma-buf side's CPU access, as the batch's for that side. */
static ssize_t mkioq_storage_serve(struct mkioq_storage_req *sr)
{
	enum dma_data_direction dir = sr->req.op == MKIOQ_OP_READ ?
				      DMA_TO_DEVICE : DMA_FROM_DEVICE;
	struct dma_buf *dmabuf = sr->mem->dmabuf;
	void *bounce = NULL;
	ssize_t ret;

	ret = dma_buf_begin_cpu_access(dmabuf, dir);
	if (ret)
		return ret == -ERESTARTSYS ? -EINTR : ret;
	if (sr->mem->map.is_iomem)
		bounce = kvmalloc(MKIOQ_STORAGE_BOUNCE, GFP_KERNEL);
	if (sr->mem->map.is_iomem && !bounce)
		ret = -ENOMEM;
	else
		ret = mkioq_storage_rw(sr, bounce);
	kvfree(bounce);
	/* As in the batch: moved bytes must not turn into an error. */
	if (dma_buf_end_cpu_access(dmabuf, dir))
		pr_warn_ratelimited("mkioq: end_cpu_access failed\n");
	return ret;
}

/*
 * The worker: serve the request, then complete its slot. Not under the
 * service's lock, which only servicers may hold (a doorbell that finds
 * the lock taken leaves its RESCAN to the holder, and a worker would
 * lose it): the slot is ours alone while CLAIMED, mkioq_ring_complete()
 * needs no lock for it, and records are posted under cq.lock. A held
 * FENCE that waits for the slot sees it leave CLAIMED at the service's
 * next look: the end of a pass, and in DOORBELL mode the recheck every
 * MKIOQ_FENCE_RECHECK_MS while a FENCE is held.
 */
static void mkioq_storage_work(struct work_struct *work)
{
	struct mkioq_storage_req *sr =
		container_of(work, struct mkioq_storage_req, work);
	struct mkioq_ctx *ctx = sr->ctx;
	struct mkioq_cqe cqe;
	struct mkioq_req req;
	ssize_t ret;

	ret = mkioq_storage_serve(sr);
	mkioq_handle_put(sr->file);
	mkioq_handle_put(sr->mem);
	/*
	 * Once STATUS is written the slot may be re-published and claimed
	 * again, rewriting *sr: nothing reads *sr after this copy.
	 */
	req = sr->req;
	mkioq_ring_complete(&ctx->ring, &req, ret, &cqe);
	mkioq_cq_post(ctx, &cqe, 1);
}

/*
 * Request @req, just claimed by a pass: if it names a file handle, check
 * it in the order the uapi lists the request errnos, reference its
 * handles and hand it to a worker (1), or return its errno. 0 if it is
 * not a storage request, or fails before its handles are known to name
 * a file (EOPNOTSUPP, EFBIG, ENOENT), which the batch decides as for
 * any request.
 */
int mkioq_storage_claim_locked(struct mkioq_ctx *ctx,
			       const struct mkioq_req *req)
{
	struct mkioq_handles *handles = &ctx->handles;
	struct mkioq_handle *src, *dst, *file, *mem;
	struct mkioq_storage_req *sr;
	u64 src_off = 0, dst_off = 0;
	int ret;

	lockdep_assert_held(&ctx->service.lock);
	lockdep_assert_held(&handles->table.xa_lock);
	/* Ordered after a registration's count by the table's lock. */
	if (!atomic_read(&handles->files))
		return 0;
	if ((req->op != MKIOQ_OP_READ && req->op != MKIOQ_OP_WRITE) ||
	    req->byte_count > MKIOQ_MAX_BYTE_COUNT)
		return 0;
	src = mkioq_handle_find_locked(handles, req->src_handle);
	dst = mkioq_handle_find_locked(handles, req->dst_handle);
	if (!src || !dst || (!src->file && !dst->file))
		return 0;

	if (req->op == MKIOQ_OP_READ) {
		src_off = req->offset;
		file = src;
		mem = dst;
	} else {
		dst_off = req->offset;
		file = dst;
		mem = src;
	}
	if (!file->file || mem->file)
		return -EXDEV;
	if (!(src->access & MKIOQ_ACCESS_READ) ||
	    !(dst->access & MKIOQ_ACCESS_WRITE))
		return -EACCES;
	ret = mkioq_check_range(src, src_off, req->byte_count);
	if (!ret)
		ret = mkioq_check_range(dst, dst_off, req->byte_count);
	if (ret)
		return ret;

	sr = &ctx->storage.req[req->slot];
	sr->ctx = ctx;
	sr->req = *req;
	sr->file = mkioq_handle_hold(file);
	sr->mem = mkioq_handle_hold(mem);
	sr->file_pos = file->offset + req->offset;
	sr->mem_off = mem->offset;
	mkioq_fences_saw_async(&ctx->service.fences, req->slot);
	/* Its stores to *sr are the worker's to see: queue_work() orders. */
	queue_work(mkioq_storage_wq, &sr->work);
	return 1;
}

/* At open: the work items, one per slot. */
void mkioq_storage_init_queue(struct mkioq_ctx *ctx)
{
	unsigned int i;

	for (i = 0; i < MKIOQ_MAX_SLOTS; i++)
		INIT_WORK(&ctx->storage.req[i].work, mkioq_storage_work);
}

/*
 * At shutdown, after the service stopped (no pass queues more): wait for
 * every storage request in flight to complete into its slot, before the
 * WAITs are cancelled and the records shut, so none loses its result.
 */
void mkioq_storage_drain(struct mkioq_ctx *ctx)
{
	unsigned int i;

	for (i = 0; i < MKIOQ_MAX_SLOTS; i++)
		flush_work(&ctx->storage.req[i].work);
}

int mkioq_storage_init(void)
{
	mkioq_storage_wq = alloc_workqueue("mkioq-storage", WQ_UNBOUND,
					   MKIOQ_STORAGE_MAX_ACTIVE);
	return mkioq_storage_wq ? 0 : -ENOMEM;
}

void mkioq_storage_exit(void)
{
	destroy_workqueue(mkioq_storage_wq);
}

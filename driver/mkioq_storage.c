// SPDX-License-Identifier: GPL-2.0
/*
 * Storage requests: a READ whose source, or a WRITE whose destination, is
 * a file handle (MKIOQ_REG_F_FILE), the other side a dma-buf handle.
 *
 * A pass claims them like any request and validates them at claim time,
 * with their handles looked up and referenced under the handle table's
 * lock (so a later unregister cannot fail them); then, instead of joining
 * the pass's batch, they are started after it (mkioq_storage_start()). A
 * small READ through the page cache is first tried in the pass itself,
 * taking only what the page cache already holds (mkioq_storage_try()); at
 * a page still being read it waits on the page without a thread, and when
 * the page is unlocked a reader of the queue's records goes on with it in
 * read() (mkioq_storage_retry_in_reader()), or the queue's retry work
 * does (mkioq_storage_retry()). What the tries cannot finish, and every
 * other storage request, goes to a worker of the module's storage
 * workqueue, which moves the bytes with kernel_read()/kernel_write()
 * through the page cache (or, for a file registered O_DIRECT, with direct
 * I/O through a bounce buffer of pages: mkioq_storage_dio()) and
 * completes the slot. Meanwhile the slot stays
 * CLAIMED: the passes that follow serve memory requests without waiting,
 * and a FENCE after it waits for it (mkioq_fences_saw_async()).
 *
 * Why a worker pool as well: WRITEs (a buffered write sleeps on the inode
 * lock, page allocation, write-back), large READs, direct I/O, files
 * whose reads cannot wait for a page without a thread, and what a try
 * fails to finish need a thread that may sleep. A pool of workers is what
 * the kernel's own file-backed block targets use: nvme-target's file
 * backend queues buffered I/O to its "nvmet-buffered-io-wq"
 * (drivers/nvme/target/io-cmd-file.c, nvmet_file_submit_buffered_io()
 * from nvmet_file_execute_rw()), and the loop driver serves buffered
 * requests from a worker (drivers/block/loop.c, loop_queue_work()).
 * The pool is one unbound workqueue for the module, so that a queue's
 * storage requests run on any CPU and many at once, at most
 * MKIOQ_STORAGE_MAX_ACTIVE; it is not WQ_MEM_RECLAIM, as nothing in
 * reclaim waits for a ring request.
 *
 * Why try small READs in the pass first: a hand-off to a worker costs a
 * wake-up and a context switch on each side, several times the copy of
 * 4 KiB from the page cache, so page-cache hits served only by workers
 * ran at a fraction of io_uring's rate, which serves them inline (its
 * first attempt in io_read()). The pass's try never waits for the disk:
 * it copies what the page cache holds and, like io_uring's attempt,
 * starts the reads that are due on its way (readahead, or the missing
 * page's read). Where the file's read path can wait for a page without
 * sleeping (IOCB_WAITQ: ext4, XFS, block devices), a READ that meets a
 * page still being read leaves a wait entry on that page and no thread
 * behind: the page's unlock (the I/O's completion) marks the slot ready.
 * If a reader sleeps in read() or poll(), it is woken and goes on with
 * every ready slot before it takes records, as io_uring's task work goes
 * on with the reads it retries in the submitter (io_async_buf_func()):
 * one wake-up. Else, or if no reader came in time, the queue's retry
 * work goes on with every ready slot in one run. So 64 cold READs cost
 * one hand-off per batch of completions, not a sleeping worker each.
 * Elsewhere (IOCB_NOWAIT only),
 * a miss goes to a worker, which waits for the I/O the pass started.
 * Memory requests never wait for storage: they run first, in the pass's
 * batch. Large READs go to the workers at once: their copy dwarfs the
 * hand-off, and several workers copy them on several CPUs.
 */
#include <linux/blkdev.h>
#include <linux/bvec.h>
#include <linux/dma-buf.h>
#include <linux/dma-direction.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/iosys-map.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <linux/wait_bit.h>

#include "mkioq_compat.h"
#include "mkioq_ctx.h"
#include "mkioq_copy.h"
#include "mkioq_cq.h"
#include "mkioq_fence.h"
#include "mkioq_handle.h"
#include "mkioq_ring.h"
#include "mkioq_storage.h"

/* An I/O-memory dma-buf is reached through a bounce buffer this large. */
#define MKIOQ_STORAGE_BOUNCE	SZ_64K
/*
 * Direct I/O goes through a bounce buffer of at most this many pages per
 * request, so that MKIOQ_STORAGE_MAX_ACTIVE requests in flight hold at
 * most 64 MiB, while each read or write is large enough (256 KiB) to keep
 * a disk's queue busy.
 */
#define MKIOQ_STORAGE_DIO_PAGES	(SZ_256K / PAGE_SIZE)
/* READs at most this large are tried in the pass before a worker. */
#define MKIOQ_STORAGE_INLINE_MAX	SZ_64K
/*
 * A reader woken for a READ whose page came in has this long to go on
 * with it before the retry work does (mkioq_storage_retry_in_reader()):
 * two ticks, so at least one whole one.
 */
#define MKIOQ_STORAGE_READER_GRACE	2

static struct workqueue_struct *mkioq_storage_wq;

/*
 * Move the request's bytes between the file and the dma-buf's kernel
 * mapping (through @bounce if that is I/O memory, which kernel_read()
 * cannot write to), from where the pass's try left off. Returns the bytes
 * moved, fewer than asked only at a READ's end of file, or a negative
 * errno.
 */
static ssize_t mkioq_storage_rw(struct mkioq_storage_req *sr, void *bounce)
{
	const struct iosys_map *map = &sr->mem->map;
	bool is_read = sr->req.op == MKIOQ_OP_READ;
	struct file *file = sr->file->file;
	u32 len = sr->req.byte_count, done = sr->done;
	loff_t pos = sr->file_pos + done;
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

/*
 * Copy @n bytes between the bounce pages @bv and the dma-buf's mapping at
 * @off: into the mapping if @to_map, else out of it.
 */
static void mkioq_storage_dio_copy(struct iosys_map *map, u64 off,
				   const struct bio_vec *bv, size_t n,
				   bool to_map)
{
	unsigned int i;
	size_t c;
	void *p;

	for (i = 0; n; i++, n -= c, off += c) {
		c = min_t(size_t, n, PAGE_SIZE);
		p = kmap_local_page(bv[i].bv_page);
		if (to_map)
			iosys_map_memcpy_to(map, off, p, c);
		else
			iosys_map_memcpy_from(p, map, off, c);
		kunmap_local(p);
	}
}

/*
 * One direct read or write of @n bytes (aligned, at most the bounce
 * buffer's) at @pos of the file, between the bounce pages and the
 * dma-buf's mapping at @off. IOCB_DIRECT is the handle's, not the file's
 * current flags: an fcntl(F_SETFL) after registration changes nothing.
 */
static ssize_t mkioq_storage_dio_one(struct mkioq_storage_req *sr,
				     struct bio_vec *bv, size_t n, loff_t pos,
				     u64 off)
{
	unsigned int segs = DIV_ROUND_UP(n, PAGE_SIZE);
	struct iosys_map map = sr->mem->map;
	struct file *file = sr->file->file;
	struct iov_iter iter;
	struct kiocb kiocb;
	ssize_t ret;

	init_sync_kiocb(&kiocb, file);
	kiocb.ki_pos = pos;
	kiocb.ki_flags |= IOCB_DIRECT;
	if (sr->req.op == MKIOQ_OP_READ) {
		iov_iter_bvec(&iter, ITER_DEST, bv, segs, n);
		ret = vfs_iocb_iter_read(file, &kiocb, &iter);
		if (ret > 0)
			mkioq_storage_dio_copy(&map, off, bv, ret, true);
	} else {
		mkioq_storage_dio_copy(&map, off, bv, n, false);
		iov_iter_bvec(&iter, ITER_SOURCE, bv, segs, n);
		ret = mkioq_iocb_iter_write(file, &kiocb, &iter);
	}
	return ret;
}

/*
 * A request on a file handle registered O_DIRECT. Direct I/O hands its
 * memory's pages to the block layer, and a dma-buf importer must not use
 * the exporter's struct pages (nor has an I/O-memory buffer any): the
 * bytes go through a bounce buffer of pages of our own, as the loop
 * driver's direct I/O passes bvecs of its pages (lo_rw_aio()). A bvec,
 * not a kvec: 6.1's iov_iter_get_pages() cannot take pages from a kvec
 * (-EFAULT). The claim checked the alignment, so every read and write
 * but a READ's last one at the end of the file is whole; a READ that
 * comes back short has met the end (the next position would not be
 * aligned), as has a WRITE that wrote nothing.
 */
static ssize_t mkioq_storage_dio(struct mkioq_storage_req *sr)
{
	u32 len = sr->req.byte_count, done = 0;
	unsigned int npages, i;
	struct bio_vec *bv;
	struct page *page;
	ssize_t ret = 0;
	size_t n;

	if (!len)
		return 0;
	npages = min_t(unsigned int, DIV_ROUND_UP(len, PAGE_SIZE),
		       MKIOQ_STORAGE_DIO_PAGES);
	bv = kcalloc(npages, sizeof(*bv), GFP_KERNEL);
	if (!bv)
		return -ENOMEM;
	for (i = 0; i < npages; i++) {
		page = alloc_page(GFP_KERNEL);
		if (!page) {
			ret = -ENOMEM;
			goto out;
		}
		bvec_set_page(&bv[i], page, PAGE_SIZE, 0);
	}
	while (done < len) {
		n = min_t(size_t, len - done, (size_t)npages << PAGE_SHIFT);
		ret = mkioq_storage_dio_one(sr, bv, n, sr->file_pos + done,
					    sr->mem_off + done);
		if (ret < 0)
			break;
		done += ret;
		/* Short: the end of the file, or a WRITE cut off its blocks. */
		if ((size_t)ret < n &&
		    (sr->req.op == MKIOQ_OP_READ || !ret ||
		     !IS_ALIGNED(done, sr->file->dio_align)))
			break;
		cond_resched();
	}
	if (ret >= 0)
		ret = done;
	else if (ret == -ERESTARTSYS)
		ret = -EINTR;
out:
	for (i = 0; i < npages && bv[i].bv_page; i++)
		__free_page(bv[i].bv_page);
	kfree(bv);
	return ret;
}

/* The dma-buf side's CPU access, as the batch's for that side. */
static enum dma_data_direction
mkioq_storage_dir(const struct mkioq_storage_req *sr)
{
	return sr->req.op == MKIOQ_OP_READ ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
}

static void mkioq_storage_end_cpu_access(struct mkioq_handle *mem,
					 enum dma_data_direction dir)
{
	/* As in the batch: moved bytes must not turn into an error. */
	if (dma_buf_end_cpu_access(mem->dmabuf, dir))
		pr_warn_ratelimited("mkioq: end_cpu_access failed\n");
}

/* In a worker: the request, or what the pass's try left of it. */
static ssize_t mkioq_storage_serve(struct mkioq_storage_req *sr)
{
	void *bounce = NULL;
	ssize_t ret;

	ret = dma_buf_begin_cpu_access(sr->mem->dmabuf, mkioq_storage_dir(sr));
	if (ret)
		return ret == -ERESTARTSYS ? -EINTR : ret;
	if (sr->file->dio_align) {
		ret = mkioq_storage_dio(sr);
	} else if (sr->file->file->f_flags & O_DIRECT) {
		/*
		 * The file gained O_DIRECT after it was registered
		 * (fcntl(F_SETFL)): kernel_read() would hand the block
		 * layer the dma-buf's pages. A racing fcntl() can still
		 * slip between this test and the read; on 6.1 that read
		 * fails (-EFAULT: no pages from a kvec).
		 */
		ret = -EINVAL;
	} else {
		if (sr->mem->map.is_iomem)
			bounce = kvmalloc(MKIOQ_STORAGE_BOUNCE, GFP_KERNEL);
		if (sr->mem->map.is_iomem && !bounce)
			ret = -ENOMEM;
		else
			ret = mkioq_storage_rw(sr, bounce);
		kvfree(bounce);
	}
	mkioq_storage_end_cpu_access(sr->mem, mkioq_storage_dir(sr));
	return ret;
}

/*
 * A wait entry left on a page is gone (woken and handled, or never set).
 * Once the count is 0 shutdown may free the queue: wake_up_var() looks
 * only at the hashed, module-wide waitqueue, never at *st, where a
 * wake_up() on a waitqueue of the queue's own could still be taking its
 * lock (from the page wake) when the drain, seeing 0, went on.
 */
static void mkioq_storage_wait_put(struct mkioq_storage *st)
{
	/* A value-returning atomic: ordered before wake_up_var()'s look. */
	if (atomic_dec_and_test(&st->waits))
		wake_up_var(&st->waits);
}

/*
 * A page a READ waits for was unlocked: its read finished (or failed).
 * Called under the page's waitqueue lock, interrupts off, often from the
 * I/O's completion: take the entry off, mark the slot ready, and wake a
 * sleeping reader to go on with it, or else queue the retry. As
 * io_uring's io_async_buf_func().
 */
static int mkioq_storage_page_wake(struct wait_queue_entry *wait,
				   unsigned int mode, int sync, void *key)
{
	struct mkioq_storage_req *sr =
		container_of(wait, struct mkioq_storage_req, wpq.wait);
	struct mkioq_ctx *ctx = sr->ctx;
	struct mkioq_storage *st = &ctx->storage;

	if (!wake_page_match(&sr->wpq, key))
		return 0;
	list_del_init(&wait->entry);
	/*
	 * Once the bit is set, the slot may be gone on with, completed and
	 * its count dropped at once: a count of our own keeps shutdown
	 * (mkioq_storage_drain()) from passing us while we queue the retry.
	 */
	atomic_inc(&st->waits);
	/*
	 * Our count before the bit: whoever takes the slot through the bit
	 * must find the count raised, or its drop could reach 0 first.
	 */
	smp_mb__after_atomic();
	/*
	 * The slot's bit before anyone is told: queueing the retry work
	 * orders it before the work's test_and_clear_bit(), and
	 * wq_has_sleeper()'s barrier before its look at the readers, pairing
	 * with the barrier between a reader's going to sleep and its look at
	 * the bits (set_current_state() in prepare_to_wait_event(), from
	 * wait_event_interruptible() in mkioq_read(); smp_mb() in
	 * mkioq_poll()).
	 */
	set_bit(sr->req.slot, st->ready);
	if (wq_has_sleeper(&ctx->cq.readers)) {
		wake_up_interruptible_poll(&ctx->cq.readers,
					   EPOLLIN | EPOLLRDNORM);
		queue_delayed_work(mkioq_storage_wq, &st->retry,
				   MKIOQ_STORAGE_READER_GRACE);
	} else {
		mod_delayed_work(mkioq_storage_wq, &st->retry, 0);
	}
	mkioq_storage_wait_put(st);
	return 1;
}

/*
 * One read of the rest of the request into the dma-buf's mapping, with
 * @flags (IOCB_NOWAIT, or IOCB_WAITQ with @sr->wpq): the bytes read, 0 at
 * the end of the file, -EAGAIN at a page missing or in I/O, or
 * -EIOCBQUEUED once the wait entry is on such a page.
 */
static ssize_t mkioq_storage_read(struct mkioq_storage_req *sr,
				  struct mkioq_handle *mem, int flags)
{
	struct file *file = sr->file->file;
	struct iov_iter iter;
	struct kiocb kiocb;
	struct kvec kvec;

	init_sync_kiocb(&kiocb, file);
	kiocb.ki_pos = sr->file_pos + sr->done;
	kiocb.ki_flags |= flags;
	if (flags & IOCB_WAITQ)
		kiocb.ki_waitq = &sr->wpq;
	kvec.iov_base = mem->map.vaddr + sr->mem_off + sr->done;
	kvec.iov_len = sr->req.byte_count - sr->done;
	iov_iter_kvec(&iter, ITER_DEST, &kvec, 1, kvec.iov_len);
	return vfs_iocb_iter_read(file, &kiocb, &iter);
}

/*
 * Serve a small READ through the page cache as far as the page cache
 * holds it, without waiting for the disk (why: the comment at the top),
 * from where an earlier try left off: in the pass, out of the handle
 * table's lock, and in the retry work. Only for a file whose read path
 * honours IOCB_NOWAIT (FMODE_NOWAIT: ext4, XFS, block devices; not 6.1's
 * tmpfs, whose reads may wait for swap), into a dma-buf in system memory.
 * First with IOCB_NOWAIT, all a hit needs; at a miss, where the file
 * allows, again with IOCB_WAITQ, as io_uring's io_rw_should_retry().
 *
 * Returns MKIOQ_TRY_DONE if the request is served (to its end, or to the
 * end of the file): @sr->done bytes; MKIOQ_TRY_WAITING if it waits on a
 * page, whose unlock hands it to the retry work, which may run at once:
 * nothing of @sr is ours then; else MKIOQ_TRY_WORKER, and @sr->done says
 * how far it got. A failure here is not the request's: the worker's read,
 * which may sleep, decides its errno.
 */
static enum mkioq_try mkioq_storage_try(struct mkioq_storage_req *sr)
{
	struct mkioq_storage *st = &sr->ctx->storage;
	enum mkioq_try res = MKIOQ_TRY_WORKER;
	struct file *file = sr->file->file;
	struct mkioq_handle *mem, *file_h;
	u32 len = sr->req.byte_count;
	ssize_t ret;

	if (sr->req.op != MKIOQ_OP_READ || len > MKIOQ_STORAGE_INLINE_MAX ||
	    sr->file->dio_align || (file->f_flags & O_DIRECT) ||
	    !(file->f_mode & FMODE_NOWAIT) || sr->mem->map.is_iomem)
		return MKIOQ_TRY_WORKER;
	if (dma_buf_begin_cpu_access(sr->mem->dmabuf, DMA_TO_DEVICE))
		return MKIOQ_TRY_WORKER;
	do {
		ret = mkioq_storage_read(sr, sr->mem, IOCB_NOWAIT);
		if (ret > 0)
			sr->done += ret;
	} while (ret > 0 && sr->done < len);
	if (ret >= 0 || sr->done == len || !mkioq_file_buf_rasync(file)) {
		mkioq_storage_end_cpu_access(sr->mem, DMA_TO_DEVICE);
		return ret >= 0 || sr->done == len ? MKIOQ_TRY_DONE :
						     MKIOQ_TRY_WORKER;
	}

	/*
	 * A miss: wait on the page. Our own references to the handles
	 * first: once the entry is queued the retry may complete the
	 * request and drop its references, while this read returns
	 * (file_accessed() of the file) and we end CPU access.
	 */
	mem = mkioq_handle_hold(sr->mem);
	file_h = mkioq_handle_hold(sr->file);
	do {
		/* Counted before the entry is queued: the retry drops it. */
		atomic_inc(&st->waits);
		init_waitqueue_func_entry(&sr->wpq.wait,
					  mkioq_storage_page_wake);
		ret = mkioq_storage_read(sr, mem, IOCB_WAITQ);
		if (ret == -EIOCBQUEUED) {
			res = MKIOQ_TRY_WAITING;
			break;
		}
		mkioq_storage_wait_put(st);
		if (ret > 0)
			sr->done += ret;
	} while (ret > 0 && sr->done < len);
	/* Not a look at *sr once it waits: the retry may own it now. */
	if (res == MKIOQ_TRY_WORKER && (!ret || sr->done == len))
		res = MKIOQ_TRY_DONE;
	mkioq_storage_end_cpu_access(mem, DMA_TO_DEVICE);
	mkioq_handle_put(file_h);
	mkioq_handle_put(mem);
	return res;
}

/*
 * The request is served: drop its references and complete its slot with
 * @ret, posting the record (a worker or the retry; the pass posts its
 * records together).
 */
static void mkioq_storage_finish(struct mkioq_storage_req *sr, ssize_t ret)
{
	struct mkioq_ctx *ctx = sr->ctx;
	struct mkioq_cqe cqe;
	struct mkioq_req req;

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

/* To a worker, from where the tries left off. */
static void mkioq_storage_to_worker(struct mkioq_storage_req *sr)
{
	atomic_long_inc(&sr->ctx->storage.to_workers);
	/* Our stores to *sr are the worker's to see: queue_work() orders. */
	queue_work(mkioq_storage_wq, &sr->work);
}

/*
 * A try, then what it leaves: true if the request is served, for the
 * caller to complete; else it waits on a page or has gone to a worker.
 */
static bool mkioq_storage_advance(struct mkioq_storage_req *sr)
{
	struct mkioq_storage *st = &sr->ctx->storage;

	switch (mkioq_storage_try(sr)) {
	case MKIOQ_TRY_DONE:
		return true;
	case MKIOQ_TRY_WAITING:
		atomic_long_inc(&st->page_waits);
		break;
	case MKIOQ_TRY_WORKER:
		mkioq_storage_to_worker(sr);
		break;
	}
	return false;
}

/*
 * Go on with every READ whose page was unlocked; returns how many. Not
 * under the service's lock, as a worker (see mkioq_storage_work()). The
 * retry work and readers may run it at once: each slot is taken by the
 * one whose test_and_clear_bit() finds its bit.
 */
static unsigned int mkioq_storage_retry_ready(struct mkioq_storage *st)
{
	struct mkioq_storage_req *sr;
	unsigned int slot, n = 0;
	struct blk_plug plug;

	/* Readahead the tries start goes out together, as in the pass. */
	blk_start_plug(&plug);
	for_each_set_bit(slot, st->ready, MKIOQ_MAX_SLOTS) {
		if (!test_and_clear_bit(slot, st->ready))
			continue;
		sr = &st->req[slot];
		if (mkioq_storage_advance(sr))
			mkioq_storage_finish(sr, sr->done);
		/* The wake that brought it here is handled. */
		mkioq_storage_wait_put(st);
		n++;
	}
	blk_finish_plug(&plug);
	return n;
}

static void mkioq_storage_retry(struct work_struct *work)
{
	struct mkioq_storage *st =
		container_of(to_delayed_work(work), struct mkioq_storage, retry);

	mkioq_storage_retry_ready(st);
}

/* Whether a READ's page was unlocked and the READ not yet gone on with. */
bool mkioq_storage_retry_due(struct mkioq_ctx *ctx)
{
	const unsigned long *ready = ctx->storage.ready;
	unsigned int i;

	for (i = 0; i < BITS_TO_LONGS(MKIOQ_MAX_SLOTS); i++)
		if (READ_ONCE(ready[i]))
			return true;
	return false;
}

/*
 * In read(), before it takes records: go on with the READs whose pages
 * were unlocked, here rather than in the retry work, as io_uring goes on
 * with a read it retries in the submitter's task work. A cold READ then
 * costs one wake-up, the reader's, where the retry work adds a kworker's
 * before the record can wake the reader (Documentation/performance.rst).
 * The page's unlock woke us (mkioq_storage_page_wake()); the retry work
 * takes what no reader took after MKIOQ_STORAGE_READER_GRACE, so a
 * sleeper that never reads (an epoll set, a poll() for something else)
 * delays its READs, never loses them.
 */
void mkioq_storage_retry_in_reader(struct mkioq_ctx *ctx)
{
	struct mkioq_storage *st = &ctx->storage;
	unsigned int n;

	if (!mkioq_storage_retry_due(ctx))
		return;
	n = mkioq_storage_retry_ready(st);
	if (n)
		atomic_long_add(n, &st->reader_retries);
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

	mkioq_storage_finish(sr, mkioq_storage_serve(sr));
}

/*
 * Request @req, just claimed by a pass: if it names a file handle, check
 * it in the order the uapi lists the request errnos, reference its
 * handles and keep it for mkioq_storage_start() (1), or return its errno.
 * 0 if it is not a storage request, or fails before its handles are known
 * to name a file (EOPNOTSUPP, EFBIG, ENOENT), which the batch decides as
 * for any request.
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
	/*
	 * Direct I/O: the file position and the byte count keep the file's
	 * alignment (the range's start does, REGISTER checked it). Last, so
	 * that every other errno means what it means for any request.
	 */
	if (file->dio_align &&
	    !IS_ALIGNED(req->offset | req->byte_count, file->dio_align))
		return -EINVAL;

	sr = &ctx->storage.req[req->slot];
	sr->ctx = ctx;
	sr->req = *req;
	sr->file = mkioq_handle_hold(file);
	sr->mem = mkioq_handle_hold(mem);
	sr->file_pos = file->offset + req->offset;
	sr->mem_off = mem->offset;
	sr->done = 0;
	mkioq_fences_saw_async(&ctx->service.fences, req->slot);
	return 1;
}

/*
 * After the pass's batch: start the storage requests it claimed, the
 * slots in @pending. Each is served here if mkioq_storage_try() can, with
 * its record in @cqe; else it waits on a page or goes to a worker.
 * Returns the records written.
 */
unsigned int mkioq_storage_start(struct mkioq_ctx *ctx, u64 pending,
				 struct mkioq_cqe *cqe)
{
	struct mkioq_storage *st = &ctx->storage;
	struct mkioq_storage_req *sr;
	struct blk_plug plug;
	unsigned int n = 0;

	lockdep_assert_held(&ctx->service.lock);
	/*
	 * The reads the tries start go to the disk together, at the end,
	 * as io_uring plugs a submission's: one notification of the device
	 * for the pass, not one per request.
	 */
	blk_start_plug(&plug);
	for (; pending; pending &= pending - 1) {
		sr = &st->req[__ffs64(pending)];
		if (!mkioq_storage_advance(sr))
			continue;
		mkioq_handle_put(sr->file);
		mkioq_handle_put(sr->mem);
		/* Counted before the release store of STATUS. */
		WRITE_ONCE(st->inline_served, st->inline_served + 1);
		mkioq_ring_complete(&ctx->ring, &sr->req, sr->done, &cqe[n++]);
	}
	blk_finish_plug(&plug);
	return n;
}

/* At open: the work items, one per slot, and the retry. */
void mkioq_storage_init_queue(struct mkioq_ctx *ctx)
{
	struct mkioq_storage *st = &ctx->storage;
	unsigned int i;

	for (i = 0; i < MKIOQ_MAX_SLOTS; i++)
		INIT_WORK(&st->req[i].work, mkioq_storage_work);
	INIT_DELAYED_WORK(&st->retry, mkioq_storage_retry);
}

/*
 * At shutdown, after the service stopped (no pass starts more): wait for
 * every storage request in flight to complete into its slot, before the
 * WAITs are cancelled and the records shut, so none loses its result.
 * First the READs waiting on pages (their I/O always ends, in an unlock
 * that wakes them), then the retry work, which hands what it cannot
 * finish to workers before it drops their count, then the workers.
 */
void mkioq_storage_drain(struct mkioq_ctx *ctx)
{
	struct mkioq_storage *st = &ctx->storage;
	unsigned int i;

	wait_var_event(&st->waits, !atomic_read(&st->waits));
	/* Still queued, for slots a reader took: it finds none. */
	flush_delayed_work(&st->retry);
	for (i = 0; i < MKIOQ_MAX_SLOTS; i++)
		flush_work(&st->req[i].work);
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

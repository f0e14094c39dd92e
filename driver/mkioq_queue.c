// SPDX-License-Identifier: GPL-2.0
/*
 * Queue setup, teardown and the mapping of the ring.
 *
 * The ring lives in the single page of a private shmem file. Mapping it
 * hands userspace an ordinary shared shmem mapping: real pages that
 * pin_user_pages() accepts, so io_uring fixed buffers, cudaHostRegister()
 * and RDMA can pin the ring that a GPU then reads and writes. The VMA
 * holds the shmem file, so the page outlives this file until the last
 * mapping goes.
 */
#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>

#include "mkioq.h"
#include "mkioq_compat.h"

static int mkioq_ring_alloc(struct mkioq_queue *q)
{
	struct address_space *mapping;
	struct file *file;
	struct page *page;

	file = shmem_file_setup("mkioq-ring", PAGE_SIZE, VM_NORESERVE);
	if (IS_ERR(file))
		return PTR_ERR(file);
	mapping = file->f_mapping;
	/*
	 * Not highmem, so page_address() is valid; not movable, so neither
	 * compaction nor a long-term pin migrates the page away from
	 * q->ring; unevictable, so it is never swapped out under the GPU.
	 */
	mapping_set_gfp_mask(mapping, GFP_USER);
	mapping_set_unevictable(mapping);
	/* shmem zeroes a page it allocates: no kernel data reaches users. */
	page = shmem_read_mapping_page(mapping, 0);
	if (IS_ERR(page)) {
		fput(file);
		return PTR_ERR(page);
	}
	q->ring_file = file;
	q->ring_page = page;
	q->ring = page_address(page);
	return 0;
}

static void mkioq_ring_free(struct mkioq_queue *q)
{
	put_page(q->ring_page);
	fput(q->ring_file);
	q->ring = NULL;
}

static int mkioq_setup_check(const struct mkioq_setup *setup)
{
	if (setup->flags || setup->reserved[0] || setup->reserved[1])
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

int mkioq_queue_setup(struct mkioq_queue *q, struct mkioq_setup *setup)
{
	int ret;

	ret = mkioq_setup_check(setup);
	if (ret)
		return ret;

	mutex_lock(&q->setup_lock);
	if (q->ready) {
		ret = -EBUSY;
		goto out_unlock;
	}
	q->slot_count = setup->slot_count;
	q->mode = setup->mode;
	q->owner = current->files;
	q->poll_idle = usecs_to_jiffies(setup->poll_idle_us ?:
					MKIOQ_POLL_IDLE_DEFAULT_US);
	q->poll_period = usecs_to_jiffies(setup->poll_period_us ?:
					  MKIOQ_POLL_PERIOD_DEFAULT_US);

	ret = mkioq_ring_alloc(q);
	if (ret)
		goto out_unlock;
	ret = mkioq_cq_init(q);
	if (ret)
		goto err_ring;
	ret = mkioq_service_start(q);
	if (ret)
		goto err_cq;

	/* Last: nothing below fails, so no error path has to put it. */
	q->owner_tgid = get_pid(task_tgid(current));
	setup->ring_bytes = PAGE_SIZE;
	setup->cq_entries = MKIOQ_CQ_ENTRIES;
	/*
	 * Pairs with smp_load_acquire() in mkioq_ready(): whoever sees the
	 * queue ready sees the ring, the record queue and the thread.
	 */
	smp_store_release(&q->ready, true);
	mutex_unlock(&q->setup_lock);
	return 0;

err_cq:
	mkioq_cq_free(q);
err_ring:
	mkioq_ring_free(q);
out_unlock:
	mutex_unlock(&q->setup_lock);
	return ret;
}

/*
 * Called at release, when no ioctl, read, write or uring_cmd can run any
 * more. Stopping the service waits for the request it is copying; slots
 * still PUBLISHED are not ours and stay as they are.
 */
void mkioq_queue_teardown(struct mkioq_queue *q)
{
	if (!q->ready)
		return;
	mkioq_service_stop(q);
	mkioq_uring_cancel(q, NULL);
	mkioq_handles_release(q);
	mkioq_service_free(q);
	mkioq_cq_free(q);
	mkioq_ring_free(q);
	put_pid(q->owner_tgid);
}

static int mkioq_same_file(const void *file, struct file *f, unsigned int fd)
{
	return f == file;
}

/*
 * A queue belongs to the process that set it up: its thread group, with
 * the file table it used then. When that process closes its last
 * descriptor of the file (a forked child or a receiver of the fd may
 * still hold the file), the queue shuts down: the service
 * stops, parked WAITs and held FENCEs are cancelled, every handle and its
 * dma-buf reference is dropped, and every later call but INFO fails with
 * -ENXIO. Mappings of the ring stay valid memory.
 */
void mkioq_queue_owner_closed(struct mkioq_queue *q, struct file *file,
			      fl_owner_t id)
{
	/*
	 * @id: the files of the closing task, whose close removed @file.
	 * The owner's files are compared only while they live (the queue
	 * dies at the owner's last close, which precedes their release);
	 * the thread group, which we hold, is what a later process whose
	 * files reuse the address cannot match.
	 */
	if (id != q->owner || task_tgid(current) != q->owner_tgid ||
	    iterate_fd(id, 0, mkioq_same_file, file))
		return;

	mutex_lock(&q->setup_lock);
	if (q->dead) {
		mutex_unlock(&q->setup_lock);
		return;
	}
	WRITE_ONCE(q->dead, true);
	mutex_unlock(&q->setup_lock);

	mkioq_service_stop(q);
	mkioq_uring_cancel(q, NULL);
	mkioq_handles_release(q);
	mkioq_cq_shutdown(q);
}

int mkioq_queue_mmap(struct mkioq_queue *q, struct vm_area_struct *vma)
{
	int ret = mkioq_usable(q);

	if (ret)
		return ret;
	if (vma->vm_pgoff != 0 || vma->vm_end - vma->vm_start != PAGE_SIZE)
		return -EINVAL;
	/*
	 * A private copy of the ring would never see a completion. (MAYSHARE:
	 * a read-only fd's shared mapping has VM_SHARED cleared.)
	 */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;

	mkioq_vm_flags_mod(vma, VM_DONTEXPAND, VM_MAYEXEC);
	/* The VMA now holds the shmem file instead of this device file. */
	vma_set_file(vma, q->ring_file);
	return call_mmap(q->ring_file, vma);
}

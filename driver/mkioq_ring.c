// SPDX-License-Identifier: GPL-2.0
/*
 * The ring page and every access to its words.
 *
 * The ring lives in the single page of a private shmem file. Mapping it
 * hands userspace an ordinary shared shmem mapping: real pages that
 * pin_user_pages() accepts, so io_uring fixed buffers, cudaHostRegister()
 * and RDMA can pin the ring that a GPU then reads and writes. The VMA
 * holds the shmem file, so the page outlives the queue's file until the
 * last mapping goes.
 *
 * The ring is shared with userspace and devices that may write anything at
 * any time. A slot is claimed with a compare-and-swap, its words are read
 * exactly once into a struct mkioq_req, and after that the ring is written
 * only at BYTE_COUNT/TAG and STATUS of a slot this module claimed.
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>

#include "mkioq_ring.h"
#include "mkioq_compat.h"

int mkioq_ring_alloc(struct mkioq_ring *ring, u32 slot_count)
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
	 * ring->slots; unevictable, so it is never swapped out under the GPU.
	 */
	mapping_set_gfp_mask(mapping, GFP_USER);
	mapping_set_unevictable(mapping);
	/* shmem zeroes a page it allocates: no kernel data reaches users. */
	page = shmem_read_mapping_page(mapping, 0);
	if (IS_ERR(page)) {
		fput(file);
		return PTR_ERR(page);
	}
	ring->file = file;
	ring->page = page;
	ring->slots = page_address(page);
	ring->slot_count = slot_count;
	return 0;
}

void mkioq_ring_free(struct mkioq_ring *ring)
{
	put_page(ring->page);
	fput(ring->file);
	ring->slots = NULL;
}

int mkioq_ring_mmap(struct mkioq_ring *ring, struct vm_area_struct *vma)
{
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
	/* The VMA now holds the shmem file instead of the queue's file. */
	vma_set_file(vma, ring->file);
	return call_mmap(ring->file, vma);
}

/*
 * The slots whose STATUS reads @state, in one branch-free sweep: a pass
 * over a mostly idle ring costs a few instructions per slot, not a claim
 * attempt each.
 */
u64 mkioq_ring_slots_in(const struct mkioq_ring *ring, u32 state)
{
	u64 mask = 0;
	u32 i;

	for (i = 0; i < ring->slot_count; i++)
		mask |= (u64)(READ_ONCE(ring->slots[i].status) == state) << i;
	return mask;
}

u64 mkioq_ring_published(const struct mkioq_ring *ring)
{
	u64 published = mkioq_ring_slots_in(ring, MKIOQ_STATE_PUBLISHED);

	/*
	 * The other words of those slots are read after their STATUS:
	 * pairs with the producer's release store of PUBLISHED.
	 */
	smp_rmb();
	return published;
}

/*
 * Claim slot @index, seen PUBLISHED, if it holds a request for us, and read
 * its words into @req. Slots whose source is handle 0 are host-published
 * ingests that belong to their consumer.
 */
bool mkioq_ring_claim(struct mkioq_ring *ring, u32 index,
		      struct mkioq_req *req)
{
	struct mkioq_slot *slot = &ring->slots[index];

	if (READ_ONCE(slot->src_handle) == MKIOQ_HANDLE_NONE)
		return false;
	/* Fully ordered: only one claimer wins, and it sees the words. */
	if (cmpxchg(&slot->status, MKIOQ_STATE_PUBLISHED,
		    MKIOQ_STATE_CLAIMED) != MKIOQ_STATE_PUBLISHED)
		return false;

	req->src_handle = READ_ONCE(slot->src_handle);
	/*
	 * Another claimer took, completed and the producer recycled and
	 * re-published the slot as a source-0 ingest since the SRC_HANDLE
	 * check above (ABA): it belongs to its consumer, hand it back
	 * untouched.
	 */
	if (req->src_handle == MKIOQ_HANDLE_NONE) {
		/* Release: pairs with the consumer's acquire of STATUS. */
		smp_store_release(&slot->status, MKIOQ_STATE_PUBLISHED);
		return false;
	}
	req->slot = index;
	req->op = READ_ONCE(slot->op);
	req->dst_handle = READ_ONCE(slot->dst_handle);
	req->offset = (u64)READ_ONCE(slot->offset_hi) << 32 |
		      READ_ONCE(slot->offset_lo);
	req->byte_count = READ_ONCE(slot->byte_count);
	req->tag = READ_ONCE(slot->tag);
	return true;
}

/* Write the result of @req, claimed by us, into its slot; fill @cqe. */
void mkioq_ring_complete(struct mkioq_ring *ring, const struct mkioq_req *req,
			 int result, struct mkioq_cqe *cqe)
{
	struct mkioq_slot *slot = &ring->slots[req->slot];

	*cqe = (struct mkioq_cqe) {
		.slot = req->slot,
		.result = result,
		.tag = req->tag,
	};
	if (result >= 0) {
		cqe->status = MKIOQ_RESULT_OK;
		WRITE_ONCE(slot->byte_count, result);
	} else {
		cqe->status = MKIOQ_RESULT_ERROR;
		WRITE_ONCE(slot->tag, -result);
	}
	/*
	 * Release: the copied bytes and BYTE_COUNT/TAG are visible before
	 * the result; pairs with the producer's acquiring load of STATUS
	 * (mkioq_slot_status() in libmkioq, or the GPU's acquire load in
	 * mkioq_cuda.cuh).
	 */
	smp_store_release(&slot->status, cqe->status);
}

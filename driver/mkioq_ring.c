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
#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/string.h>

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
	spin_lock_init(&ring->seen_lock);
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
	/* For fdinfo: how long the module has held the slot. */
	WRITE_ONCE(ring->claimed_at[index], jiffies);
	/* Atomic: a storage worker completes slots without our lock. */
	atomic64_or(BIT_ULL(index), &ring->ours);
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
	 * Before the result: once STATUS leaves CLAIMED the slot may be
	 * claimed again (by a pass, while a storage worker completes).
	 */
	atomic64_andnot(BIT_ULL(req->slot), &ring->ours);
	/*
	 * Release: the copied bytes and BYTE_COUNT/TAG are visible before
	 * the result; pairs with the producer's acquiring load of STATUS
	 * (mkioq_slot_status() in libmkioq, or the GPU's acquire load in
	 * mkioq_cuda.cuh).
	 */
	smp_store_release(&slot->status, cqe->status);
}

static unsigned int mkioq_census_kind(u32 status)
{
	switch (status) {
	case MKIOQ_STATE_EMPTY:
		return MKIOQ_CENSUS_EMPTY;
	case MKIOQ_STATE_PUBLISHED:
		return MKIOQ_CENSUS_PUBLISHED;
	case MKIOQ_STATE_CLAIMED:
		return MKIOQ_CENSUS_CLAIMED;
	case MKIOQ_STATE_DONE:
		return MKIOQ_CENSUS_DONE;
	case MKIOQ_RESULT_OK:
		return MKIOQ_CENSUS_OK;
	case MKIOQ_RESULT_ERROR:
		return MKIOQ_CENSUS_ERROR;
	}
	return MKIOQ_CENSUS_INVALID;
}

static void mkioq_census_note(struct mkioq_census_slot *oldest, u32 i,
			      unsigned long age, bool ours,
			      const struct mkioq_slot *slot)
{
	unsigned int age_ms = jiffies_to_msecs(age);

	if (oldest->slot >= 0 && age_ms <= oldest->age_ms)
		return;
	oldest->slot = i;
	oldest->age_ms = age_ms;
	oldest->ours = ours;
	oldest->words.op = READ_ONCE(slot->op);
	oldest->words.src_handle = READ_ONCE(slot->src_handle);
	oldest->words.dst_handle = READ_ONCE(slot->dst_handle);
	oldest->words.offset_lo = READ_ONCE(slot->offset_lo);
	oldest->words.offset_hi = READ_ONCE(slot->offset_hi);
	oldest->words.byte_count = READ_ONCE(slot->byte_count);
	oldest->words.status = READ_ONCE(slot->status);
	oldest->words.tag = READ_ONCE(slot->tag);
}

/*
 * Count the slots by state and find the oldest PUBLISHED and CLAIMED
 * ones, for fdinfo. A slot's age is the time since the module claimed it
 * or, for slots the module did not claim, since the first of these looks
 * that found it in its state: the ring has no clock, and stamping every
 * state change in the service's path would cost every request.
 */
void mkioq_ring_census(struct mkioq_ring *ring, struct mkioq_census *c)
{
	unsigned long now = jiffies, since;
	u64 ours = atomic64_read(&ring->ours);
	unsigned int kind;
	bool mine;
	u32 i, st;

	memset(c, 0, sizeof(*c));
	c->published.slot = -1;
	c->claimed.slot = -1;
	spin_lock(&ring->seen_lock);
	for (i = 0; i < ring->slot_count; i++) {
		st = READ_ONCE(ring->slots[i].status);
		if (st != ring->seen_status[i]) {
			ring->seen_status[i] = st;
			ring->seen_since[i] = now;
		}
		kind = mkioq_census_kind(st);
		c->count[kind]++;
		mine = kind == MKIOQ_CENSUS_CLAIMED && (ours & BIT_ULL(i));
		since = mine ? READ_ONCE(ring->claimed_at[i]) :
			ring->seen_since[i];
		if (kind == MKIOQ_CENSUS_PUBLISHED)
			mkioq_census_note(&c->published, i, now - since, false,
					  &ring->slots[i]);
		if (kind == MKIOQ_CENSUS_CLAIMED) {
			c->claimed_ours += mine;
			mkioq_census_note(&c->claimed, i, now - since, mine,
					  &ring->slots[i]);
		}
	}
	spin_unlock(&ring->seen_lock);
}

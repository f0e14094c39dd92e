/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ring: the page of slots shared with userspace and GPUs, and the only
 * code that reads or writes its words (mkioq_ring.c).
 */
#ifndef _MKIOQ_RING_H
#define _MKIOQ_RING_H

#include <linux/atomic.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/mkioq.h>

struct file;
struct page;
struct vm_area_struct;

/**
 * struct mkioq_ring - the slots of one queue
 * @file:	shmem file holding the ring page, so that mappings of it are
 *		ordinary shmem mappings that can be pinned
 * @page:	the ring page, referenced while the queue's file is open
 * @slots:	kernel address of the ring
 * @slot_count:	slots in use, fixed at setup
 * @ours:	slots CLAIMED by the module (atomic: a pass claims and
 *		completes under the service's lock, a storage worker
 *		completes without it, fdinfo reads it)
 * @claimed_at:	jiffies of the module's claim of each slot of @ours
 * @seen_lock:	serialises fdinfo's looks at the ring (@seen_*)
 * @seen_status: STATUS of each slot at fdinfo's last look
 * @seen_since:	jiffies of the look that first saw @seen_status
 *
 * @file to @slot_count are set at setup and constant until release; the
 * slots themselves are written by anyone who maps them, so they are read
 * with READ_ONCE() and claimed with a compare-and-swap, never trusted.
 */
struct mkioq_ring {
	struct file *file;
	struct page *page;
	struct mkioq_slot *slots;
	u32 slot_count;
	atomic64_t ours;
	unsigned long claimed_at[MKIOQ_MAX_SLOTS];
	spinlock_t seen_lock;	/* fdinfo's looks */
	u32 seen_status[MKIOQ_MAX_SLOTS];
	unsigned long seen_since[MKIOQ_MAX_SLOTS];
};

/* The slot states and results, in the order fdinfo prints them. */
enum {
	MKIOQ_CENSUS_EMPTY,
	MKIOQ_CENSUS_PUBLISHED,
	MKIOQ_CENSUS_CLAIMED,
	MKIOQ_CENSUS_DONE,
	MKIOQ_CENSUS_OK,
	MKIOQ_CENSUS_ERROR,
	MKIOQ_CENSUS_INVALID,	/* a STATUS the protocol does not have */
	MKIOQ_CENSUS_KINDS,
};

/**
 * struct mkioq_census_slot - the oldest slot in one state
 * @slot:	its index, or -1 if no slot is in that state
 * @age_ms:	since the module claimed it, or since fdinfo first saw it so
 * @ours:	the module claimed it
 * @words:	its words, read once
 */
struct mkioq_census_slot {
	int slot;
	unsigned int age_ms;
	bool ours;
	struct mkioq_slot words;
};

/**
 * struct mkioq_census - what fdinfo reports of the ring
 * @count:		slots per MKIOQ_CENSUS_*
 * @claimed_ours:	of the CLAIMED ones, the module's
 * @published:		the oldest PUBLISHED slot
 * @claimed:		the oldest CLAIMED slot
 */
struct mkioq_census {
	u32 count[MKIOQ_CENSUS_KINDS];
	u32 claimed_ours;
	struct mkioq_census_slot published;
	struct mkioq_census_slot claimed;
};

/**
 * struct mkioq_req - a request as the service read it, once, out of a slot
 * @slot:		its slot index
 * @op:			the OP word, MKIOQ_OP_*
 * @src_handle:		the SRC_HANDLE word
 * @dst_handle:		the DST_HANDLE word
 * @offset:		OFFSET_HI << 32 | OFFSET_LO
 * @byte_count:		the BYTE_COUNT word
 * @tag:		the TAG word
 */
struct mkioq_req {
	u32 slot;
	u32 op;
	u32 src_handle;
	u32 dst_handle;
	u64 offset;
	u32 byte_count;
	u32 tag;
};

int mkioq_ring_alloc(struct mkioq_ring *ring, u32 slot_count);
void mkioq_ring_free(struct mkioq_ring *ring);
int mkioq_ring_mmap(struct mkioq_ring *ring, struct vm_area_struct *vma);
u64 mkioq_ring_slots_in(const struct mkioq_ring *ring, u32 state);
u64 mkioq_ring_published(const struct mkioq_ring *ring);
bool mkioq_ring_claim(struct mkioq_ring *ring, u32 index,
		      struct mkioq_req *req);
void mkioq_ring_complete(struct mkioq_ring *ring, const struct mkioq_req *req,
			 int result, struct mkioq_cqe *cqe);
void mkioq_ring_census(struct mkioq_ring *ring, struct mkioq_census *c);

#endif /* _MKIOQ_RING_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ring: the page of slots shared with userspace and GPUs, and the only
 * code that reads or writes its words (mkioq_ring.c).
 */
#ifndef _MKIOQ_RING_H
#define _MKIOQ_RING_H

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
 *
 * Set at setup and constant until release; the slots themselves are
 * written by anyone who maps them, so they are read with READ_ONCE() and
 * claimed with a compare-and-swap, never trusted.
 */
struct mkioq_ring {
	struct file *file;
	struct page *page;
	struct mkioq_slot *slots;
	u32 slot_count;
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

#endif /* _MKIOQ_RING_H */

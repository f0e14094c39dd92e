/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * mkioq: the host side of a GPU megakernel's IO request ring.
 *
 * This header is shared by the kernel module, libmkioq, the tests and GPU
 * code. It must compile as kernel C, userspace C11 and CUDA C++, so it
 * includes nothing but <linux/types.h> and <linux/ioctl.h>.
 *
 * The ring is an array of slots of eight little-endian 32-bit words. A
 * producer (a GPU megakernel or a CPU thread) writes every word but STATUS,
 * then STATUS = PUBLISHED with release ordering. A servicing engine claims
 * the slot with an atomic compare-and-swap PUBLISHED -> CLAIMED, performs
 * the transfer and writes BYTE_COUNT, then STATUS = OK (or TAG = errno,
 * then STATUS = ERROR) with release ordering. The producer reads the result
 * and recycles the slot to EMPTY. See Documentation/protocol.rst.
 */
#ifndef _UAPI_LINUX_MKIOQ_H
#define _UAPI_LINUX_MKIOQ_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* ------------------------------------------------------------------ */
/* Slot ABI                                                            */
/* ------------------------------------------------------------------ */

#define MKIOQ_SLOT_WORDS	8	/* 32-bit words per slot */
#define MKIOQ_SLOT_BYTES	32	/* MKIOQ_SLOT_WORDS * 4 */
#define MKIOQ_MAX_SLOTS		64	/* the megakernel's fixed poll window */
#define MKIOQ_WINDOW_BYTES	(MKIOQ_MAX_SLOTS * MKIOQ_SLOT_BYTES)

/* Word indices inside a slot. */
#define MKIOQ_WORD_OP		0	/* MKIOQ_OP_* */
#define MKIOQ_WORD_SRC		1	/* source handle, 0 = no source */
#define MKIOQ_WORD_DST		2	/* destination handle ("mapped slot") */
#define MKIOQ_WORD_OFFSET_LO	3	/* byte offset, low 32 bits */
#define MKIOQ_WORD_OFFSET_HI	4	/* byte offset, high 32 bits */
#define MKIOQ_WORD_BYTE_COUNT	5	/* request: bytes; completion: bytes valid */
#define MKIOQ_WORD_STATUS	6	/* MKIOQ_SLOT_* state */
#define MKIOQ_WORD_TAG		7	/* caller's tag; positive errno on ERROR */

/*
 * One slot as a struct, for code that prefers named fields. Field order and
 * size are the wire ABI: word i is at byte offset 4 * i, little-endian.
 */
struct mkioq_slot {
	__u32 op;
	__u32 src_handle;
	__u32 dst_handle;
	__u32 offset_lo;
	__u32 offset_hi;
	__u32 byte_count;
	__u32 status;
	__u32 tag;
};

/* Operation codes (word OP). */
#define MKIOQ_OP_READ		0x01	/* src at offset -> dst at 0 */
#define MKIOQ_OP_WRITE		0x02	/* src at 0 -> dst at offset */
#define MKIOQ_OP_FENCE		0x03	/* completes after all earlier claims */

/* Slot states (word STATUS). */
#define MKIOQ_SLOT_EMPTY	0x00	/* free; only a producer writes it */
#define MKIOQ_SLOT_PUBLISHED	0x01	/* request visible to the engine */
#define MKIOQ_SLOT_CLAIMED	0x02	/* owned by the engine that claimed it */
#define MKIOQ_SLOT_DONE		0x03	/* consumed, awaiting recycle */
/* Completion codes written into STATUS by the servicing engine. */
#define MKIOQ_SLOT_OK		0x10	/* BYTE_COUNT holds the bytes moved */
#define MKIOQ_SLOT_ERROR	0x11	/* TAG holds a positive errno */

/*
 * Handle 0 means "no source". A slot published with SRC = 0 is a
 * host-published ingest completion that belongs to its consumer (the GPU):
 * a servicing engine never claims it. A FENCE therefore carries any
 * non-zero SRC; its other words are ignored.
 */
#define MKIOQ_HANDLE_NONE	0

/* ------------------------------------------------------------------ */
/* ioctls on /dev/mkioqN                                               */
/* ------------------------------------------------------------------ */

#define MKIOQ_IOC_MAGIC		0xE6

/* Service modes (mkioq_setup.mode). */
#define MKIOQ_MODE_DOORBELL	0	/* serviced when the doorbell rings */
#define MKIOQ_MODE_POLL		1	/* a kernel thread polls the ring */

/**
 * struct mkioq_setup - MKIOQ_IOC_SETUP: size the ring and pick the service
 * @size:		in: sizeof(struct mkioq_setup); lets the struct grow
 * @slot_count:		in: slots in the ring, 1..MKIOQ_MAX_SLOTS
 * @mode:		in: MKIOQ_MODE_*
 * @flags:		in: must be 0
 * @poll_idle_us:	in: POLL mode: polling continues this long after the
 *			last request seen, then the thread sleeps; 0 = default
 * @poll_period_us:	in: POLL mode: a sleeping thread also wakes this often
 *			to look at the ring (for producers that cannot ring
 *			the doorbell); 0 = default
 * @ring_bytes:		out: length to pass to mmap() at offset 0
 * @cq_entries:		out: completion records the file buffers before it
 *			reports overflow (see struct mkioq_cqe)
 * @reserved:		must be 0
 *
 * Allowed once per open file, before mmap() and any other ioctl but
 * MKIOQ_IOC_INFO.
 */
struct mkioq_setup {
	__u32 size;
	__u32 slot_count;
	__u32 mode;
	__u32 flags;
	__u32 poll_idle_us;
	__u32 poll_period_us;
	__u32 ring_bytes;
	__u32 cq_entries;
	__u64 reserved[2];
};

/* Access rights of a registered buffer (mkioq_handle_reg.access). */
#define MKIOQ_ACCESS_READ	0x1U	/* may be a request's source */
#define MKIOQ_ACCESS_WRITE	0x2U	/* may be a request's dest */
#define MKIOQ_ACCESS_RW		(MKIOQ_ACCESS_READ | MKIOQ_ACCESS_WRITE)

/**
 * struct mkioq_handle_reg - MKIOQ_IOC_REGISTER: a dma-buf range as a handle
 * @fd:		in: dma-buf file descriptor; may be closed after the call
 * @access:	in: MKIOQ_ACCESS_*; WRITE needs an fd opened for writing
 * @offset:	in: start of the range inside the dma-buf
 * @length:	in: bytes in the range, > 0; offset + length <= dma-buf size
 * @handle:	out: the handle, never MKIOQ_HANDLE_NONE
 * @flags:	in: must be 0
 * @reserved:	must be 0
 */
struct mkioq_handle_reg {
	__s32 fd;
	__u32 access;
	__u64 offset;
	__u64 length;
	__u32 handle;
	__u32 flags;
	__u64 reserved;
};

/**
 * struct mkioq_handle_unreg - MKIOQ_IOC_UNREGISTER: drop a handle
 * @handle:	in: a handle of this open file
 * @flags:	in: must be 0
 *
 * The handle disappears at once: requests claimed after the call fail with
 * ENOENT. A request already being serviced keeps its own reference to the
 * buffer, so unregistering never waits and never frees memory in use.
 */
struct mkioq_handle_unreg {
	__u32 handle;
	__u32 flags;
};

/**
 * struct mkioq_info - MKIOQ_IOC_INFO: the state of this queue
 * @size:	in: sizeof(struct mkioq_info); out: bytes filled
 * @version:	out: MKIOQ_ABI_VERSION
 * @slot_count:	out: slots (0 before setup)
 * @mode:	out: MKIOQ_MODE_*
 * @ring_bytes:	out: mmap length (0 before setup)
 * @handles:	out: registered handles
 * @cq_entries:	out: completion records buffered before overflow
 * @pad:	out: 0
 * @completed:	out: requests completed since setup
 * @errors:	out: of those, completed with MKIOQ_SLOT_ERROR
 * @cq_overflow: out: completion records dropped because the record queue
 *		was full; the slots' STATUS words still hold every result
 * @features:	out: MKIOQ_FEAT_* this module supports
 * @reserved:	out: 0
 */
struct mkioq_info {
	__u32 size;
	__u32 version;
	__u32 slot_count;
	__u32 mode;
	__u32 ring_bytes;
	__u32 handles;
	__u32 cq_entries;
	__u32 pad;
	__u64 completed;
	__u64 errors;
	__u64 cq_overflow;
	__u64 features;
	__u64 reserved;
};

#define MKIOQ_FEAT_WAIT_CANCEL 0x1ULL /* ring or task exit cancels parked WAITs; no expiry */

#define MKIOQ_ABI_VERSION	1

#define MKIOQ_IOC_SETUP		_IOWR(MKIOQ_IOC_MAGIC, 0x00, struct mkioq_setup)
#define MKIOQ_IOC_REGISTER	_IOWR(MKIOQ_IOC_MAGIC, 0x01, struct mkioq_handle_reg)
#define MKIOQ_IOC_UNREGISTER	_IOW(MKIOQ_IOC_MAGIC, 0x02, struct mkioq_handle_unreg)
/* Service every PUBLISHED slot now (DOORBELL) or wake the poll thread. */
#define MKIOQ_IOC_DOORBELL	_IO(MKIOQ_IOC_MAGIC, 0x03)
#define MKIOQ_IOC_INFO		_IOWR(MKIOQ_IOC_MAGIC, 0x04, struct mkioq_info)

/* ------------------------------------------------------------------ */
/* Completion records: read() from the file, uring_cmd WAIT            */
/* ------------------------------------------------------------------ */

/* The record queue dropped records before this one: rescan STATUS words. */
#define MKIOQ_CQE_F_OVERFLOW	0x1U

/**
 * struct mkioq_cqe - one completed request, as read() returns it
 * @slot:	slot index of the request
 * @status:	MKIOQ_SLOT_OK or MKIOQ_SLOT_ERROR, as written into STATUS
 * @result:	bytes transferred, or a negative errno
 * @tag:	the request's TAG as submitted. On ERROR the slot's TAG word
 *		holds the errno, so the record is where the tag travels for
 *		correlation.
 * @flags:	MKIOQ_CQE_F_*
 * @dropped:	with MKIOQ_CQE_F_OVERFLOW: records dropped before this one
 *
 * Records arrive in completion order. The ring's STATUS word is always
 * authoritative: a record is a notification, never the only copy of a
 * result.
 */
struct mkioq_cqe {
	__u32 slot;
	__u32 status;
	__s32 result;
	__u32 tag;
	__u32 flags;
	__u32 dropped;
};

/* ------------------------------------------------------------------ */
/* io_uring IORING_OP_URING_CMD interface                              */
/* ------------------------------------------------------------------ */

/* sqe->cmd_op values. */
#define MKIOQ_URING_CMD_DOORBELL	0x01	/* as MKIOQ_IOC_DOORBELL */
#define MKIOQ_URING_CMD_WAIT		0x02	/* park until a completion */

/* mkioq_uring_wait.slot: take the oldest completion of any slot. */
#define MKIOQ_SLOT_ANY		0xffffffffU

/*
 * A WAIT parked this long completes with res = -ETIME and no record; re-arm
 * it. (6.1 cannot cancel a uring_cmd, so a WAIT must not park for ever.)
 */
#define MKIOQ_WAIT_TIMEOUT_MS	10000

/**
 * struct mkioq_uring_wait - payload of MKIOQ_URING_CMD_WAIT (in sqe->cmd)
 * @cqe_addr:	0, or a user address where the struct mkioq_cqe of the
 *		completion is stored before the CQE is posted
 * @slot:	the slot to wait for, or MKIOQ_SLOT_ANY
 * @flags:	must be 0
 *
 * The command's CQE has res = the transfer result (bytes, or a negative
 * errno) and user_data = the submitter's. It fits the 16-byte payload of
 * a 64-byte SQE; with IORING_SETUP_SQE128 the rest of the payload must be
 * zero. If the record cannot be stored at @cqe_addr the CQE has res =
 * -EFAULT and the record stays queued for the next WAIT or read().
 */
struct mkioq_uring_wait {
	__u64 cqe_addr;
	__u32 slot;
	__u32 flags;
};

#endif /* _UAPI_LINUX_MKIOQ_H */

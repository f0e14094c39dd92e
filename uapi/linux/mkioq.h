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
 * and recycles the slot to EMPTY.
 *
 * Each call below lists the errnos it can return, in the order the module
 * checks them: when two apply, the one listed first wins. The same tables,
 * with every cause in full and the VM test that produces each errno, are
 * in Documentation/protocol.rst.
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
/*
 * Most CPUs that copy one queue's pass (struct mkioq_setup.copy_workers).
 * One CPU copies about 10 GB/s and a PCIe 5 x16 link carries about 55:
 * six CPUs fill a link, and a socket's memory bandwidth is spent by 8-12
 * copying CPUs. Beyond 16, more helpers only contend for the same memory
 * and cut a full pass (64 requests of 1 MiB) into shares too small to
 * pay for waking them.
 */
#define MKIOQ_MAX_COPY_WORKERS	16

/* Word indices inside a slot. */
#define MKIOQ_WORD_OP		0	/* MKIOQ_OP_* */
#define MKIOQ_WORD_SRC_HANDLE	1	/* source handle, 0 = no source */
#define MKIOQ_WORD_DST_HANDLE	2	/* destination handle (seed: mapped_slot) */
#define MKIOQ_WORD_OFFSET_LO	3	/* byte offset, low 32 bits */
#define MKIOQ_WORD_OFFSET_HI	4	/* byte offset, high 32 bits */
#define MKIOQ_WORD_BYTE_COUNT	5	/* request: bytes; completion: bytes valid */
#define MKIOQ_WORD_STATUS	6	/* MKIOQ_STATE_* or MKIOQ_RESULT_* */
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

/*
 * A FENCE that the module claims completes (OK, BYTE_COUNT 0, result 0)
 * only when both hold:
 *  - one more whole pass of the module's service has run after the pass
 *    that claimed it, so every request published before it has been
 *    claimed and completed by the module, whatever its slot index;
 *  - every slot that read CLAIMED just after the FENCE was claimed has
 *    been seen to leave CLAIMED, whoever claimed it: a userspace engine,
 *    or a producer's EMPTY -> CLAIMED reservation.
 * Held FENCEs are examined at the end of every pass. In DOORBELL mode
 * that is on every doorbell (which runs the extra pass itself) and, while
 * one is held, every 1 ms (MKIOQ_FENCE_RECHECK_MS in the driver, rounded
 * up to a jiffy) without servicing new requests; in POLL mode on every
 * pass of the poll thread, so every poll_period_us while it sleeps.
 * A slot seen CLAIMED at every look keeps the FENCE waiting: a FENCE
 * cannot tell one claim of a slot from the next (ABA) unless the module
 * itself claimed that slot in between. While held, the FENCE's own slot is
 * the module's whatever is written there. A FENCE still held when the
 * queue shuts down completes ERROR ECANCELED. A FENCE that a userspace
 * engine claims is that engine's to honour.
 */

/* Slot states (word STATUS). */
#define MKIOQ_STATE_EMPTY	0x00	/* free; only a producer writes it */
#define MKIOQ_STATE_PUBLISHED	0x01	/* request visible to the engine */
#define MKIOQ_STATE_CLAIMED	0x02	/* owned by the engine that claimed it */
#define MKIOQ_STATE_DONE	0x03	/* consumer's: result read, not recycled */
/* Completion codes written into STATUS by the servicing engine. */
#define MKIOQ_RESULT_OK		0x10	/* BYTE_COUNT holds the bytes moved */
#define MKIOQ_RESULT_ERROR	0x11	/* TAG holds a positive errno */

/*
 * Who writes what. A producer writes EMPTY -> PUBLISHED (every other word
 * first; libmkioq reserves the slot EMPTY -> CLAIMED by compare-and-swap
 * while it fills them) and recycles OK, ERROR or DONE -> EMPTY. The slots
 * of one ring have producers of one side only: a PCIe GPU's atomics on
 * host memory are not atomic against the CPU's, so GPU lanes never
 * compare-and-swap a ring word; they own slots taken from a pool in
 * device memory (<mkioq_cuda.cuh>, protocol.rst "GPU producers"). DONE is
 * written only by the consumer (the GPU side), to mark a result read but
 * not yet recycled: no engine claims or writes it, and mkioq_recycle()
 * accepts it.
 *
 * A servicing engine, the module or a userspace engine at the raw ABI,
 * may only
 *  - claim a PUBLISHED slot whose SRC is not MKIOQ_HANDLE_NONE, by a
 *    compare-and-swap PUBLISHED -> CLAIMED (if SRC then reads 0, the slot
 *    was recycled and re-published as an ingest: store PUBLISHED back and
 *    leave it), then read the words once;
 *  - then write, in a slot it claimed, BYTE_COUNT (for OK) or TAG (the
 *    errno, for ERROR), then STATUS = OK or ERROR with release ordering.
 * It writes no other word, no other slot, and never EMPTY. The module
 * posts no completion record, and counts no completion, for a slot it did
 * not claim: a userspace engine's completions are seen only in the ring.
 *
 * Request errnos: TAG on ERROR (the record's result is the negative).
 * Checked when the module claims the request, in this order:
 *   EOPNOTSUPP	OP is neither READ nor WRITE (FENCEs are not validated)
 *   EFBIG	BYTE_COUNT > INT32_MAX (the result must fit a record)
 *   ENOENT	SRC or DST is not a handle of this file (both are looked
 *		up before either's access is checked)
 *   EXDEV	a file handle anywhere but as READ's SRC or WRITE's DST
 *		(a file-to-file request among them): the other side of a
 *		file handle must be a dma-buf
 *   EACCES	SRC not registered for READ, or DST not for WRITE
 *   EOVERFLOW	offset + BYTE_COUNT overflows 64 bits
 *   ERANGE	offset + BYTE_COUNT > the range's length
 *		(these two per side: the source's range, both checks,
 *		before the destination's; READ's offset is the source's,
 *		WRITE's the destination's, the other side's is 0)
 *   EINVAL	a file handle registered O_DIRECT: offset or BYTE_COUNT
 *		is not a multiple of its direct-I/O alignment (see
 *		struct mkioq_handle_reg); checked last, so that every
 *		errno above keeps its meaning for such a request
 * then when the pass begins CPU access to its buffers (once per buffer;
 * every request of the pass that uses the buffer fails with it):
 *   EINTR	dma_buf_begin_cpu_access(), waiting for the buffer's fences,
 *		was interrupted by a signal (DOORBELL mode: to the ringer)
 *   (other)	any other errno of the exporter's begin_cpu_access()
 * and ECANCELED for a FENCE still held at shutdown. A READ or WRITE of
 * BYTE_COUNT 0 is validated alike, then completes OK with BYTE_COUNT 0
 * and moves nothing (its offset may equal the range's length). A failed
 * request changes no byte of any buffer and no word but TAG and STATUS.
 *
 * A request with a file handle (MKIOQ_REG_F_FILE) is validated as above
 * when claimed, then stays CLAIMED while a worker moves its bytes, so a
 * FENCE after it waits for it. It completes OK with BYTE_COUNT rewritten
 * to the bytes moved (and the record's result the same): fewer than asked
 * only for a READ that met the end of the file (or device). Or it
 * completes ERROR with the errno of the file's read or write (EIO, ENOSPC,
 * EFBIG, EINTR...) or of the dma-buf's begin_cpu_access(), ENOMEM (no
 * bounce buffer for an I/O-memory dma-buf or for direct I/O), or EINVAL
 * (a handle registered without O_DIRECT whose file was given O_DIRECT
 * since, by fcntl(F_SETFL)); a READ or WRITE that failed midway may have
 * changed bytes of its destination before the error.
 */

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

/*
 * struct mkioq_setup.flags: POLL mode, served by the thread of the queue
 * that attach_fd names (its group), not by a thread of its own.
 */
#define MKIOQ_SETUP_ATTACH_POLL	0x1U

/*
 * The queue's state, checked first by every call on the queue below but
 * SETUP and INFO (read(), write() and mmap() after the VFS's checks of the
 * file's open mode and of the buffer address):
 *   EBADFD	the file is not set up
 *   ENXIO	its owner closed it (see struct mkioq_setup)
 * poll() reports either as EPOLLERR alone.
 */

/**
 * struct mkioq_setup - MKIOQ_IOC_SETUP: size the ring and pick the service
 * @size:		in: sizeof(struct mkioq_setup); lets the struct grow
 * @slot_count:		in: slots in the ring, 1..MKIOQ_MAX_SLOTS
 * @mode:		in: MKIOQ_MODE_*
 * @flags:		in: 0 or MKIOQ_SETUP_ATTACH_POLL
 * @poll_idle_us:	in: POLL mode: polling continues this long after the
 *			last request seen, then the thread sleeps; 0 = default.
 *			A thread serving several queues uses the value of the
 *			queue that created its group, and polls this long
 *			after the last request seen on any of them
 * @poll_period_us:	in: POLL mode: a sleeping thread also wakes this often
 *			to look at the ring (for producers that cannot ring
 *			the doorbell); 0 = default. As @poll_idle_us, the
 *			group creator's value serves the group
 * @ring_bytes:		out: length to pass to mmap() at offset 0
 * @cq_entries:		out: completion records the file buffers before it
 *			reports overflow (see struct mkioq_cqe)
 * @attach_fd:		in: with MKIOQ_SETUP_ATTACH_POLL, an open file of a
 *			set-up POLL queue: this queue joins the group that
 *			queue's thread serves. Each round of the thread
 *			makes one pass (at most the 64 slots of a ring) of
 *			every queue of the group, the first one changing
 *			every round. The thread ends when the last queue of
 *			the group shuts down, whichever created it. Without
 *			the flag, must be 0
 * @copy_workers:	in: CPUs that may copy one pass's requests: 0 or 1, the
 *			servicer alone; 2..MKIOQ_MAX_COPY_WORKERS, the
 *			servicer and up to @copy_workers - 1 helper threads
 *			of the module share a pass whose copies total at
 *			least 512 KiB and do not overlap one another (see
 *			"Copy workers" in Documentation/protocol.rst).
 *			Requests still complete in claim order.
 * @reserved:		must be 0
 *
 * Allowed once per open file, before mmap() and any other ioctl but
 * MKIOQ_IOC_INFO. Writes back min(@size, sizeof(struct mkioq_setup))
 * bytes (see MKIOQ_SETUP_SIZE_VER0).
 *
 * The caller's thread group, with the file table it calls from, becomes
 * the queue's owner. When the owner closes its last descriptor of the
 * file, the queue shuts down for every holder of the file (a forked child,
 * a receiver of the fd): the service stops, held FENCEs complete
 * ECANCELED, parked WAITs complete -ECANCELED, every handle is dropped,
 * and every later call but INFO fails with ENXIO (SETUP: EBUSY); mappings
 * of the ring stay valid memory. Until then a child that inherited the
 * file uses the same queue. Closes by other processes shut nothing down.
 *
 * Errnos, in the order checked::
 *
 *   EFAULT	@size unreadable
 *   EINVAL	@size < MKIOQ_SETUP_SIZE_VER0
 *   E2BIG	@size > a page
 *   EFAULT	the bytes past the known fields unreadable, or
 *   E2BIG	one of them non-zero (whichever comes first in memory)
 *   EINVAL	@reserved non-zero,
 *		@copy_workers > MKIOQ_MAX_COPY_WORKERS,
 *		@slot_count not 1..64, @mode
 *		unknown, @poll_idle_us > 1000000, @poll_period_us > 10000000
 *		(the limits apply in DOORBELL mode too)
 *   EINVAL	@flags has bits but MKIOQ_SETUP_ATTACH_POLL; the flag
 *		without POLL mode; @attach_fd non-zero without the flag
 *   EBUSY	already set up (also once the owner closed it)
 *   EBADF	MKIOQ_SETUP_ATTACH_POLL: @attach_fd not an open file
 *   EINVAL	... not an mkioq queue file
 *   EBADFD	... a queue not set up (also this very file)
 *   EINVAL	... a DOORBELL queue (also once shut down)
 *   ENXIO	... a POLL queue shut down (its owner closed it)
 *   ENOMEM	the ring, the record queue or the service state
 *   ENOSPC	shmem could not make the ring's inode
 *   ENOMEM, EINTR  POLL mode without MKIOQ_SETUP_ATTACH_POLL:
 *		kthread_run() of the poll thread failed
 *   ENXIO	MKIOQ_SETUP_ATTACH_POLL: the group's last queue shut down
 *		while this SETUP ran
 *   EFAULT	the result could not be written back: the queue IS set up
 *		(MKIOQ_IOC_INFO reports its shape)
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
	__s32 attach_fd;
	__u32 copy_workers;
	__u64 reserved;
};

/* Access rights of a registered buffer (mkioq_handle_reg.access). */
#define MKIOQ_ACCESS_READ	0x1U	/* may be a request's source */
#define MKIOQ_ACCESS_WRITE	0x2U	/* may be a request's dest */
#define MKIOQ_ACCESS_RW		(MKIOQ_ACCESS_READ | MKIOQ_ACCESS_WRITE)

/**
 * struct mkioq_handle_reg - MKIOQ_IOC_REGISTER: a dma-buf or file range as
 * a handle
 * @fd:		in: dma-buf file descriptor, or with MKIOQ_REG_F_FILE a
 *		regular file or block device; may be closed after the call
 * @access:	in: MKIOQ_ACCESS_*; WRITE needs an fd opened for writing
 *		(a file's READ one opened for reading)
 * @offset:	in: start of the range inside the dma-buf or file
 * @length:	in: bytes in the range, > 0; offset + length <= dma-buf size
 *		(file handles: see below)
 * @handle:	out: the handle, never MKIOQ_HANDLE_NONE
 * @flags:	in: 0 for a dma-buf, MKIOQ_REG_F_FILE for a file handle
 * @reserved:	must be 0
 *
 * Handles are numbered 1..max_handles (struct mkioq_info: 4096); a file
 * holds at most max_handles at once, and a freed number is reused. The
 * handle holds its own dma-buf reference and a kernel mapping of the
 * whole dma-buf (dma_buf_vmap(), or for exporters without vmap an
 * attachment's pages, vmapped) until it is unregistered.
 *
 * Errnos, in the order checked::
 *
 *   EBADFD, ENXIO  the queue's state
 *   EFAULT	the struct unreadable
 *   EINVAL	@flags with unknown bits, @reserved non-zero; @access 0 or
 *		with unknown bits; @length 0
 *   EBADF	@fd is not an open file descriptor (dma_buf_get())
 *   EINVAL	@fd is not a dma-buf (dma_buf_get())
 *   EACCES	MKIOQ_ACCESS_WRITE, dma-buf not opened for writing
 *   EOVERFLOW	@offset + @length overflows 64 bits
 *   ERANGE	@offset + @length > the dma-buf's size
 *   ENOMEM	no memory for the handle
 *   (any)	the mapping failed: dma_buf_vmap()'s errno; without vmap,
 *		dma_buf_attach()'s or dma_buf_map_attachment()'s, ENOMEM
 *		(vmap()), EINVAL (fewer pages than the dma-buf's size)
 *   ENOSPC	the file already holds max_handles handles
 *   ENOMEM	the handle table could not grow
 *   EFAULT	@handle could not be written back: nothing stays registered
 *
 * File handles (MKIOQ_REG_F_FILE, MKIOQ_FEAT_FILE): @offset and @length
 * are a byte range of a regular file or a block device, and the handle
 * holds its own reference to the open file (its struct file: the open
 * mode, O_APPEND and O_DIRECT as they were when registered). A file handle
 * can be only the source of a READ or the destination of a WRITE; the
 * other side must be a dma-buf handle. Its requests are served
 * asynchronously through the page cache, beside the memory requests
 * (protocol.rst "File handles"); those of a file opened O_DIRECT with
 * direct I/O, bypassing the page cache, through a bounce buffer of the
 * module's pages. A file opened O_DIRECT has a direct-I/O alignment: a
 * block device's logical block size (BLKSSZGET), a regular file's
 * STATX_DIOALIGN offset alignment as its file system reports it. @offset
 * must be a multiple of it, and so must every request's offset and
 * BYTE_COUNT (else the request fails EINVAL, see the request errnos);
 * a READ that meets the end of the file or device is short, as without
 * O_DIRECT. The range of a regular file may extend past its end: a READ
 * past the end of file is short (OK, BYTE_COUNT the bytes read) and a
 * WRITE extends the file. A truncation while registered
 * makes later READs past the new end short (0 bytes at or past it); an
 * unlink changes nothing (the handle keeps the inode, as an open fd does).
 *
 * The flag, rather than the type of @fd, says what is registered, so that
 * a caller who passes a wrong descriptor where a dma-buf was meant still
 * gets EINVAL (as before file handles existed) instead of a handle on
 * some file, and a caller can probe a module without file handles by the
 * flag's EINVAL.
 *
 * Errnos with MKIOQ_REG_F_FILE, in the order checked::
 *
 *   EBADFD, ENXIO  the queue's state
 *   EFAULT	the struct unreadable
 *   EINVAL	@flags with unknown bits, @reserved non-zero; @access 0 or
 *		with unknown bits; @length 0
 *   EBADF	@fd is not an open file descriptor (O_PATH ones included)
 *   EISDIR	@fd is a directory
 *   ESPIPE	@fd is a pipe, FIFO or socket (no offsets, as for pread())
 *   EINVAL	@fd is neither a regular file nor a block device (a
 *		character device, a dma-buf, an eventfd...), or its file
 *		operations cannot read (write) for the access asked; it was
 *		opened O_DIRECT and its direct-I/O alignment cannot be told
 *		(a regular file whose file system does not report
 *		STATX_DIOALIGN, as tmpfs; one above a page), or @offset is
 *		not a multiple of it; MKIOQ_ACCESS_WRITE on a file opened
 *		O_APPEND (its writes ignore offsets)
 *   EACCES	MKIOQ_ACCESS_READ and @fd not opened for reading, or
 *		MKIOQ_ACCESS_WRITE and not opened for writing
 *   EOVERFLOW	@offset + @length overflows 64 bits
 *   ERANGE	a block device: @offset + @length > its size; a regular
 *		file: > the largest file its file system allows
 *   ENOMEM	no memory for the handle
 *   ENOSPC	the file already holds max_handles handles
 *   ENOMEM	the handle table could not grow
 *   EFAULT	@handle could not be written back: nothing stays registered
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

/* mkioq_handle_reg.flags: @fd is a regular file or block device. */
#define MKIOQ_REG_F_FILE	0x1U

/**
 * struct mkioq_handle_unreg - MKIOQ_IOC_UNREGISTER: drop a handle
 * @handle:	in: a handle of this open file
 * @flags:	in: must be 0
 *
 * The handle's number disappears at once. The module resolves and
 * references a request's handles when it claims the request, under the
 * lock that UNREGISTER takes to remove the number: a request claimed
 * before the call never fails because of it (it keeps the buffer, which
 * is released when the request finishes, so unregistering never waits
 * and never frees memory in use); a request claimed after the call
 * returns fails with ENOENT.
 *
 * Errnos, in the order checked: EBADFD, ENXIO (the queue's state); EFAULT
 * (the struct unreadable); EINVAL (@flags non-zero); ENOENT (@handle is
 * not a handle of this file, e.g. already unregistered, or 0).
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
 * @max_handles: out: most handles one open file may hold at once
 * @completed:	out: requests completed since setup
 * @errors:	out: of those, completed with MKIOQ_RESULT_ERROR
 * @cq_overflow: out: completion records dropped because the record queue
 *		was full; the slots' STATUS words still hold every result
 * @features:	out: MKIOQ_FEAT_* this module supports
 * @copy_workers: out: CPUs that may copy one pass, as set up (1 for a queue
 *		set up without copy_workers; 0 before setup)
 * @reserved:	out: 0
 *
 * Works in every state: before setup (the queue's fields read 0) and after
 * the owner closed the queue (@handles 0). Writes back min(@size,
 * sizeof(struct mkioq_info)) bytes and says how many in @size.
 *
 * Errnos, in the order checked: EFAULT (@size unreadable); EINVAL (@size
 * < MKIOQ_INFO_SIZE_VER0); E2BIG (@size > a page); EFAULT or E2BIG (a byte
 * past the known fields unreadable or non-zero, whichever comes first);
 * EFAULT (the result could not be written back).
 */
struct mkioq_info {
	__u32 size;
	__u32 version;
	__u32 slot_count;
	__u32 mode;
	__u32 ring_bytes;
	__u32 handles;
	__u32 cq_entries;
	__u32 max_handles;
	__u64 completed;
	__u64 errors;
	__u64 cq_overflow;
	__u64 features;
	__u32 copy_workers;
	__u32 reserved;
};

/*
 * Version 2: requests keep the handles they were claimed with across
 * UNREGISTER, FENCEs wait for every claim, SETUP and INFO are
 * size-versioned, notices (MKIOQ_CQE_F_NOTICE), uring_cmd opcodes encoded
 * with their payload's size, the owner is a thread group.
 */
#define MKIOQ_ABI_VERSION	2

/*
 * Sizes of the first published versions of the size-versioned structs,
 * which grow only at the end. A caller puts its own sizeof in .size: below
 * the first version's size is EINVAL, above a page E2BIG; larger than the
 * module's struct is accepted if every byte the module does not know is
 * zero, else E2BIG (the copy_struct_from_user() rule). The module writes
 * back min(.size, its own size) bytes.
 */
#define MKIOQ_SETUP_SIZE_VER0	48
#define MKIOQ_INFO_SIZE_VER0	72

/*
 * mkioq_info.features.
 * MKIOQ_FEAT_WAIT_CANCEL (kernels 6.7 and later, which can cancel a
 * uring_cmd): io_uring cancels a parked MKIOQ_URING_CMD_WAIT
 * when its ring is torn down or its task exits or execs (-ECANCELED), and
 * WAITs never expire. IORING_OP_ASYNC_CANCEL does not reach a uring_cmd
 * on any kernel (-ENOENT, the WAIT stays parked). Without it (6.1), a WAIT expires after
 * MKIOQ_WAIT_TIMEOUT_MS with -ETIME.
 */
#define MKIOQ_FEAT_WAIT_CANCEL	0x1ULL
/*
 * MKIOQ_FEAT_FILE: MKIOQ_IOC_REGISTER takes MKIOQ_REG_F_FILE, and READs
 * from and WRITEs to file handles are served (struct mkioq_handle_reg).
 */
#define MKIOQ_FEAT_FILE		0x2ULL

#define MKIOQ_IOC_SETUP		_IOWR(MKIOQ_IOC_MAGIC, 0x00, struct mkioq_setup)
#define MKIOQ_IOC_REGISTER	_IOWR(MKIOQ_IOC_MAGIC, 0x01, struct mkioq_handle_reg)
#define MKIOQ_IOC_UNREGISTER	_IOW(MKIOQ_IOC_MAGIC, 0x02, struct mkioq_handle_unreg)
/*
 * Service every PUBLISHED slot now, in the caller, before returning
 * (DOORBELL mode), or wake the poll thread (POLL). The argument must be 0.
 * Errnos: EBADFD, ENXIO (the queue's state), then EINVAL (argument not 0).
 */
#define MKIOQ_IOC_DOORBELL	_IO(MKIOQ_IOC_MAGIC, 0x03)
#define MKIOQ_IOC_INFO		_IOWR(MKIOQ_IOC_MAGIC, 0x04, struct mkioq_info)

/*
 * Any other ioctl number, a known one with another size encoded included,
 * is ENOTTY in every state.
 *
 * The other file operations; errnos in the order checked:
 * mmap()	offset 0, length ring_bytes (one page), MAP_SHARED. The VFS:
 *		EACCES (PROT_WRITE on a file not open for writing, any
 *		mapping of a file not open for reading); EPERM (PROT_EXEC on
 *		a noexec mount). Then EBADFD, ENXIO; EINVAL (other offset or
 *		length, MAP_PRIVATE); EPERM (PROT_EXEC); ENOMEM.
 * read()	whole struct mkioq_cqe records, oldest first. The VFS: EBADF
 *		(not open for reading), EFAULT (a kernel address). Then
 *		EBADFD, ENXIO (also for a read() blocked when the owner
 *		closed it); EINVAL (count < one record); EAGAIN
 *		(O_NONBLOCK, nothing waiting); EINTR (a signal while
 *		blocked; restarted instead with SA_RESTART); EFAULT (the buffer
 *		faulted before the first record was stored). Records not
 *		stored go back to the front of the queue, so nothing is lost;
 *		after the first record stored, read() returns the bytes
 *		stored.
 * poll()	EPOLLERR alone while not set up or after the owner closed it;
 *		else EPOLLOUT | EPOLLWRNORM always (the doorbell never
 *		blocks), and EPOLLIN | EPOLLRDNORM while a record waits or
 *		a storage READ's page came in (read() goes on with the READ
 *		and returns its record, or EAGAIN if it waits again).
 * write()	rings the doorbell whatever the bytes (0 bytes too) and
 *		returns the count. The VFS: EBADF (not open for writing),
 *		EFAULT (a kernel address). Then EBADFD, ENXIO.
 */

/* ------------------------------------------------------------------ */
/* Completion records: read() from the file, uring_cmd WAIT            */
/* ------------------------------------------------------------------ */

/*
 * Records were dropped (the record queue was full) since a count was last
 * delivered: this record carries their number in .dropped. It is the next
 * record delivered after the drop, to read() or a WAIT: from the queue
 * that is the oldest record, which completed before the dropped ones.
 * Rescan the STATUS words. A one-slot -ENOBUFS notice has it with
 * .dropped 0.
 */
#define MKIOQ_CQE_F_OVERFLOW	0x1U
/*
 * The record is only a notice, no completion: .status 0, .tag 0, .slot the
 * slot waited for (or MKIOQ_ANY_SLOT), .result
 *   -ENOBUFS	with MKIOQ_CQE_F_OVERFLOW: a record of this slot was
 *		dropped, its result is only in the ring (sent once, to the
 *		next WAIT for that slot); with MKIOQ_ANY_SLOT, .dropped holds
 *		a count that no record was left to carry
 *   -ETIME	a WAIT expired (without MKIOQ_FEAT_WAIT_CANCEL)
 *   -ECANCELED	a WAIT was cancelled: its submitter closed the file, the
 *		queue shut down, or (MKIOQ_FEAT_WAIT_CANCEL) io_uring
 *		cancelled it
 * A FENCE cancelled at shutdown is a completion, not a notice.
 */
#define MKIOQ_CQE_F_NOTICE	0x2U

/**
 * struct mkioq_cqe - one completed request, as read() returns it
 * @slot:	slot index of the request
 * @status:	MKIOQ_RESULT_OK or MKIOQ_RESULT_ERROR, as written into STATUS;
 *		0 on a notice (MKIOQ_CQE_F_NOTICE)
 * @result:	bytes transferred (0 for a FENCE), or a negative errno
 * @tag:	the request's TAG as submitted. On ERROR the slot's TAG word
 *		holds the errno, so the record is where the tag travels for
 *		correlation.
 * @flags:	MKIOQ_CQE_F_*
 * @dropped:	with MKIOQ_CQE_F_OVERFLOW: records dropped since a count was
 *		last delivered (saturates at UINT32_MAX)
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

/* mkioq_uring_wait.slot: take the oldest completion of any slot. */
#define MKIOQ_ANY_SLOT		0xffffffffU

/*
 * Without MKIOQ_FEAT_WAIT_CANCEL, a WAIT parked this long completes with
 * res = -ETIME and a notice, no completion (expiry is checked once a
 * second, so up to a second later); re-arm it. (6.1 cannot cancel a
 * uring_cmd, so a WAIT must not park for ever.)
 */
#define MKIOQ_WAIT_TIMEOUT_MS	10000

/**
 * struct mkioq_uring_wait - payload of MKIOQ_URING_CMD_WAIT (in sqe->cmd)
 * @cqe_addr:	0, or a user address where the struct mkioq_cqe of the
 *		completion is stored before the CQE is posted
 * @slot:	the slot to wait for, or MKIOQ_ANY_SLOT
 * @flags:	must be 0
 *
 * The command's CQE has res = the transfer result (bytes, or a negative
 * errno) and user_data = the submitter's. It fits the 16-byte payload of
 * a 64-byte SQE; with IORING_SETUP_SQE128 the rest of the payload must be
 * zero. If the record cannot be stored at @cqe_addr the CQE has res =
 * -EFAULT and the record stays queued for the next WAIT or read().
 *
 * The CQE's res, in the order checked::
 *
 *   -EBADFD, -ENXIO  the queue's state
 *   -ENOTTY	unknown cmd_op (before the payload is looked at)
 *   -EINVAL	bytes past this struct non-zero (SQE128), @flags non-zero,
 *		@slot neither MKIOQ_ANY_SLOT nor below slot_count
 *   -ENOMEM	no memory for the WAIT
 *   -EBUSY	4096 WAITs already parked on this file and no record
 *		waiting for this one
 *
 * and once it completes: the record's result (bytes, or a request's
 * negative errno); -ENOBUFS, -ETIME or -ECANCELED with a notice; -EFAULT
 * as above.
 */
struct mkioq_uring_wait {
	__u64 cqe_addr;
	__u32 slot;
	__u32 flags;
};

/*
 * sqe->cmd_op values, encoded as ioctl numbers with the payload's size
 * (as ublk's UBLK_U_* commands are), so that a payload of another size is
 * an unknown command (-ENOTTY), not a misread one. Every other cmd_op is
 * -ENOTTY too, after the queue's state (-EBADFD, -ENXIO).
 * MKIOQ_URING_CMD_DOORBELL: as MKIOQ_IOC_DOORBELL, res 0; its payload must
 * be zero (-EINVAL).
 */
#define MKIOQ_URING_CMD_DOORBELL	_IO(MKIOQ_IOC_MAGIC, 0x20)
#define MKIOQ_URING_CMD_WAIT		_IOWR(MKIOQ_IOC_MAGIC, 0x21, \
					      struct mkioq_uring_wait)

#endif /* _UAPI_LINUX_MKIOQ_H */

// SPDX-License-Identifier: MIT
/*
 * What an error from libmkioq means and how to fix it, in one line: the
 * seed's QueueFull "fix" text, for every error the library returns; per
 * errno (mkioq_strerror()) or per call and errno (mkioq_strerror_call()).
 */
#include <errno.h>
#include <string.h>
#include "libmkioq.h"
#include "engine.h"
#include "strerror.h"
#include "util.h"

/* Either sign: the positive errno, or the negative one calls return. */
static int errno_abs(int err)
{
	return err < 0 ? (int)-(unsigned int)err : err;
}

const char *errno_text_find(const struct errno_text *t, size_t n, int err)
{
	size_t i;

	err = errno_abs(err);
	for (i = 0; i < n; i++)
		if (t[i].err == err)
			return t[i].text;
	return NULL;
}

const char *call_text_find(const struct call_text *t, size_t n,
			   const char *call, int err)
{
	size_t i;

	err = errno_abs(err);
	if (!call || !err)
		return NULL;
	for (i = 0; i < n; i++)
		if (t[i].err == err && !strcmp(t[i].call, call))
			return t[i].text;
	return NULL;
}

static const struct errno_text error_texts[] = {
	{ EINVAL, "invalid argument: slot_count must be 1..64, pointers "
		  "non-NULL, op READ/WRITE/FENCE with a non-zero source; "
		  "fix the call" },
	{ ERANGE, "out of range: use a slot below mkioq_queue_slot_count(), "
		  "and keep offset + length inside the registered range" },
	{ EOPNOTSUPP, "unknown op in the slot: use MKIOQ_OP_READ, WRITE or "
		      "FENCE" },
	{ EFBIG, "request too large: split it into requests of at most "
		 "2^31 - 1 bytes" },
	{ EBADFD, "queue not set up: call MKIOQ_IOC_SETUP (mkioq_queue_open() "
		  "does) before mmap and other calls" },
	{ EBUSY, "slot still in flight (not EMPTY, or owned by the engine): "
		 "wait for its completion and mkioq_recycle() it, or use "
		 "another slot" },
	{ EAGAIN, "nothing to take yet (slot not PUBLISHED, or no "
		  "completion waiting): retry after the producer publishes "
		  "or the engine completes" },
	{ EPERM, "slot has source handle 0: it is a host-published ingest "
		 "that belongs to its consumer; do not claim it" },
	{ EBADSLT, "slot is not CLAIMED: claim it with mkioq_claim() before "
		   "completing it, and complete it only once" },
	{ ENODATA, "slot is EMPTY and has no completion: submit into it "
		   "first" },
	{ EALREADY, "slot is already EMPTY: recycle a slot once, after its "
		    "completion" },
	{ EPROTO, "slot STATUS holds an unknown state: another agent wrote "
		  "garbage into the ring; reinitialise the queue" },
	{ ENOTTY, "not a mkioq device queue: device calls need a queue from "
		  "mkioq_queue_open() on /dev/mkioqN of a matching module" },
	{ ENOENT, "no such device or handle: load mkioq.ko, or pass a handle "
		  "that mkioq_register() returned on this queue" },
	{ EBADF, "bad file descriptor: pass an open dma-buf fd" },
	{ EACCES, "permission denied: /dev/mkioqN is root-only unless "
		  "Documentation/99-mkioq.rules is installed; or a dma-buf fd "
		  "not opened for writing was registered for WRITE (export it "
		  "with DRM_RDWR or register it read-only)" },
	{ ENOBUFS, "a completion record was dropped (record queue full): "
		   "read the slots' STATUS words, and read records sooner" },
	{ ECANCELED, "cancelled: the queue file was closed while the wait "
		     "was parked" },
	{ EFAULT, "bad address: a pointer passed to the kernel is not "
		  "writable memory of this process" },
	{ ENOMEM, "out of memory: free some queues or buffers and retry" },
	{ ETIMEDOUT, "timed out waiting for a completion: ring the doorbell "
		     "or raise the timeout" },
	{ EOVERFLOW, "range overflows the buffer: offset + length must fit "
		     "inside the dma-buf" },
	{ EMSGSIZE, "more bytes than requested: a completion reports at most "
		    "the request's BYTE_COUNT" },
	{ ENOSPC, "too many handles on this queue: unregister unused ones" },
	{ ENXIO, "queue shut down: the process that set it up closed its "
		 "last descriptor of it; open a new queue in the process "
		 "that uses it" },
	{ ETIME, "a parked WAIT expired after MKIOQ_WAIT_TIMEOUT_MS with no "
		 "completion: submit it again" },
	{ EIO, "write error: the stream given to mkioq_queue_fprint() "
	       "failed, or a request's buffer exporter reported one" },
	{ EINTR, "interrupted by a signal: retry the call or resubmit the "
		 "request" },
	{ ENODEV, "no device behind the node: load mkioq.ko and open a "
		  "/dev/mkioqN it created" },
	{ EMFILE, "too many open files: free queues you no longer use or "
		  "raise RLIMIT_NOFILE" },
	{ ENOSYS, "the kernel has no io_uring: use mkioq_read_cqes() "
		  "instead of the io_uring calls" },
	{ EXDEV, "a file handle on the wrong side of a request: only a "
		 "READ's source or a WRITE's destination, the other side a "
		 "dma-buf" },
	{ EISDIR, "a directory cannot be a file handle: register a regular "
		  "file or block device" },
	{ ESPIPE, "a pipe, FIFO or socket has no offsets: register a "
		  "regular file or block device" },
};

const char *mkioq_strerror(int err)
{
	const char *text;

	if (err == 0)
		return "success";
	text = errno_text_find(error_texts, ARRAY_SIZE(error_texts), err);
	return text ? text : "unexpected error: see errno(3) for this code";
}

/*
 * mkioq_strerror_call(): the likely cause of an errno from one call, with
 * a fix, for every errno its man page lists (ERRORS), the module's
 * included. Each text is "cause. Fix: hint". Texts shared by several
 * calls are macros.
 */

#define T_QNULL \
	"q is NULL. Fix: pass the queue that mkioq_queue_new() or " \
	"mkioq_queue_open() stored"
#define T_SLOT_RANGE \
	"slot is not below the queue's slot count. Fix: use an index " \
	"below mkioq_queue_slot_count(q); a bad index never becomes valid, " \
	"so do not retry"
#define T_NOT_EMPTY \
	"the slot is not EMPTY: a request is in flight, its result was " \
	"not recycled, or another producer reserved it first. Fix: wait " \
	"for its completion and mkioq_recycle() it, or use another slot"
#define T_NOT_CLAIMED \
	"the slot is not CLAIMED: it was never claimed, or was completed " \
	"already. Fix: complete only slots you took with mkioq_claim(), " \
	"once each"
#define T_HOST_QUEUE \
	"q is a host-owned queue (mkioq_queue_new()), which has no device. " \
	"Fix: open a device queue with mkioq_queue_open() on /dev/mkioqN"
#define T_DEAD \
	"the queue is shut down: the process that set it up closed its " \
	"last descriptor of it (a forked child or a receiver of the fd " \
	"cannot use it after that). Fix: open a new queue in the process " \
	"that uses it"
#define T_OPEN_ENOENT \
	"path does not exist: mkioq.ko is not loaded, or was loaded with " \
	"fewer devices than N in /dev/mkioqN. Fix: modprobe mkioq " \
	"(devices=N for more nodes) and check the path"
#define T_OPEN_EACCES \
	"the caller may not open path: the nodes are mode 0600, root only. " \
	"Fix: run as root, or install Documentation/99-mkioq.rules and " \
	"join group mkioq"
#define T_OPEN_NODEV \
	"path is a device node with no device behind it: a stale node of " \
	"an unloaded module, or of a device number no driver has. " \
	"Fix: load mkioq.ko, and open a node it created"
#define T_OPEN_ENOTTY \
	"path is not a mkioq device (the setup ioctl is unknown to it), or " \
	"the module was built from another uapi header, whose ioctl " \
	"numbers differ. Fix: open /dev/mkioqN of the mkioq.ko built with " \
	"this library"
#define T_OPEN_ENOMEM \
	"the kernel could not allocate the ring, the record queue or the " \
	"poll thread, or the library its handle. Fix: free memory or " \
	"close queues you no longer use, and retry"
#define T_OPEN_EMFILE \
	"the process has its maximum of open files, and every queue holds " \
	"one. Fix: mkioq_queue_free() queues you no longer use, or raise " \
	"RLIMIT_NOFILE"
#define T_CMD_EBADFD \
	"fd is a mkioq file that is not set up. Fix: set it up first " \
	"(mkioq_queue_open() does) and pass mkioq_queue_fd(q)"
#define T_CMD_EOPNOTSUPP \
	"fd is a file without io_uring command support, not a mkioq " \
	"file. Fix: pass mkioq_queue_fd(q)"
#define T_CMD_EINVAL \
	"payload bytes are set where the command takes none (the 16 bytes " \
	"of a DOORBELL, or the bytes past the first 16 of an SQE128 SQE). " \
	"Fix: prepare the SQE with mkioq_prep_doorbell() or " \
	"mkioq_prep_wait() and leave its payload alone"

static const struct call_text call_texts[] = {
	/* queue.c */
	{ "mkioq_queue_new", EINVAL,
	  "slot_count is 0 or above MKIOQ_MAX_SLOTS (64), or qp is NULL. "
	  "Fix: ask for 1..64 slots and pass where to store the queue" },
	{ "mkioq_queue_new", ENOMEM,
	  "the queue handle or its ring could not be allocated. Fix: free "
	  "memory (other queues) and retry" },
	{ "mkioq_queue_clone", EINVAL,
	  "q or qp is NULL. Fix: pass the queue to copy and where to store "
	  "the copy" },
	{ "mkioq_queue_clone", ENOMEM,
	  "the copy's handle or ring could not be allocated. Fix: free "
	  "memory and retry" },
	{ "mkioq_queue_wrap", EINVAL,
	  "mem or qp is NULL, slot_count is not 1..64, mem is not 4-byte "
	  "aligned, or len < slot_count * 32. Fix: pass a 4-byte aligned "
	  "ring of at least slot_count * MKIOQ_SLOT_BYTES bytes" },
	{ "mkioq_queue_wrap", ENOMEM,
	  "no memory for the queue handle. Fix: free memory and retry; the "
	  "ring memory itself is yours and was not touched" },

	/* ring.c: producers */
	{ "mkioq_submit", EINVAL,
	  "q or req is NULL, req->op is not MKIOQ_OP_READ, WRITE or FENCE, "
	  "or req->src_handle is 0, which would publish a host ingest that "
	  "no engine claims. Fix: pass a known op and a source handle from "
	  "mkioq_register(); publish ingests with mkioq_publish_slot()" },
	{ "mkioq_submit", ERANGE, T_SLOT_RANGE },
	{ "mkioq_submit", EBUSY, T_NOT_EMPTY },
	{ "mkioq_submit_dma_read", EINVAL,
	  "q is NULL, or src_handle is 0 (no source). Fix: pass the handle "
	  "that mkioq_register() returned for the source buffer" },
	{ "mkioq_submit_dma_read", ERANGE, T_SLOT_RANGE },
	{ "mkioq_submit_dma_read", EBUSY, T_NOT_EMPTY },
	{ "mkioq_publish_slot", EINVAL, T_QNULL },
	{ "mkioq_publish_slot", ERANGE, T_SLOT_RANGE },
	{ "mkioq_publish_slot", EBUSY,
	  "the slot is not EMPTY: its consumer has not recycled what was "
	  "published in it before. Fix: wait until mkioq_slot_recycled() "
	  "returns 1, or publish into another slot" },

	/* ring.c: readers */
	{ "mkioq_slot_status", EINVAL, T_QNULL },
	{ "mkioq_slot_status", ERANGE, T_SLOT_RANGE },
	{ "mkioq_slot_status", EPROTO,
	  "the STATUS word holds 0x80000000 or more, which is no state: "
	  "another agent wrote garbage into the ring. Fix: find the writer "
	  "that corrupts the ring; mkioq_completion() shows the word" },
	{ "mkioq_completion", EINVAL,
	  "q or rec is NULL. Fix: pass the queue and a struct "
	  "mkioq_completion to fill" },
	{ "mkioq_completion", ERANGE, T_SLOT_RANGE },
	{ "mkioq_completion", ENODATA,
	  "the slot is EMPTY: nothing was submitted into it, or it was "
	  "recycled already. Fix: read the record before mkioq_recycle(), "
	  "and only of a slot that was submitted into" },
	{ "mkioq_slot_recycled", EINVAL, T_QNULL },
	{ "mkioq_slot_recycled", ERANGE,
	  "slot is not below the queue's slot count, so it can never become "
	  "EMPTY. Fix: stop waiting and fix the index; use one below "
	  "mkioq_queue_slot_count(q)" },

	/* ring.c: consumers */
	{ "mkioq_recycle", EINVAL, T_QNULL },
	{ "mkioq_recycle", ERANGE, T_SLOT_RANGE },
	{ "mkioq_recycle", EALREADY,
	  "the slot is EMPTY already: it was recycled before, or never "
	  "used. Fix: recycle each slot once, after reading its result" },
	{ "mkioq_recycle", EBUSY,
	  "the slot is not the caller's to recycle: a PUBLISHED request or "
	  "a CLAIMED slot belongs to the engine (or STATUS changed during "
	  "the call). Fix: wait for OK or ERROR (mkioq_slot_status()), "
	  "then recycle" },
	{ "mkioq_recycle", EPROTO,
	  "STATUS holds a value that is no known state: another agent "
	  "wrote garbage into the ring. Fix: find the writer that corrupts "
	  "the ring, then reinitialise the queue" },
	{ "mkioq_claim", EINVAL, T_QNULL },
	{ "mkioq_claim", ERANGE, T_SLOT_RANGE },
	{ "mkioq_claim", EAGAIN,
	  "the slot is not PUBLISHED, or another claimer won it. Fix: "
	  "nothing to take here; claim again after the producer publishes, "
	  "or use mkioq_claim_batch()" },
	{ "mkioq_claim", EPERM,
	  "the slot is a host-published ingest (source handle 0) that "
	  "belongs to its consumer. Fix: do not claim ingests; their "
	  "consumer recycles them" },
	{ "mkioq_claim_batch", EINVAL,
	  "q is NULL, or slots is NULL with max above 0. Fix: pass an array "
	  "of max slot indices" },
	{ "mkioq_complete", EINVAL, T_QNULL },
	{ "mkioq_complete", ERANGE, T_SLOT_RANGE },
	{ "mkioq_complete", EBADSLT, T_NOT_CLAIMED },
	{ "mkioq_complete_bytes", EINVAL, T_QNULL },
	{ "mkioq_complete_bytes", ERANGE, T_SLOT_RANGE },
	{ "mkioq_complete_bytes", EBADSLT, T_NOT_CLAIMED },
	{ "mkioq_complete_bytes", EMSGSIZE,
	  "byte_count is larger than the request's BYTE_COUNT. Fix: report "
	  "at most the bytes asked for; mkioq_complete() reports them all" },
	{ "mkioq_complete_error", EINVAL,
	  "q is NULL, or err is 0 or beyond 4095 either way. Fix: pass the "
	  "errno that failed the request, with either sign (EIO or -EIO)" },
	{ "mkioq_complete_error", ERANGE, T_SLOT_RANGE },
	{ "mkioq_complete_error", EBADSLT, T_NOT_CLAIMED },
	{ "mkioq_complete_batch", EINVAL,
	  "q is NULL, slots is NULL with n above 0, or a slot is listed "
	  "twice; nothing was completed. Fix: list each claimed slot once" },
	{ "mkioq_complete_batch", ERANGE,
	  "a listed slot is not below the queue's slot count; nothing was "
	  "completed. Fix: list only indices below "
	  "mkioq_queue_slot_count(q)" },
	{ "mkioq_complete_batch", EBADSLT,
	  "a listed slot is not CLAIMED; nothing was completed. Fix: list "
	  "only slots you claimed and have not completed" },

	/* dump.c */
	{ "mkioq_queue_dump", EINVAL,
	  "q is NULL, or buf is NULL with len above 0. Fix: pass a buffer, "
	  "or NULL and 0 to learn the length the dump needs" },
	{ "mkioq_queue_fprint", EINVAL,
	  "q or f is NULL. Fix: pass the queue and an open stream" },
	{ "mkioq_queue_fprint", EIO,
	  "writing to the stream failed. Fix: check the stream (a closed "
	  "pipe, a full disk, a file opened read-only)" },

	/* device.c */
	{ "mkioq_queue_open", EINVAL,
	  "slot_count is 0 or above 64, flags has bits other than "
	  "MKIOQ_OPEN_POLL, or path or qp is NULL; or the module refused "
	  "the setup (built from another uapi header). Fix: ask for 1..64 "
	  "slots with flags 0 or MKIOQ_OPEN_POLL, from the mkioq.ko built "
	  "with this library" },
	{ "mkioq_queue_open", ENOENT, T_OPEN_ENOENT },
	{ "mkioq_queue_open", EACCES, T_OPEN_EACCES },
	{ "mkioq_queue_open", ENODEV, T_OPEN_NODEV },
	{ "mkioq_queue_open", ENXIO, T_OPEN_NODEV },
	{ "mkioq_queue_open", ENOTTY, T_OPEN_ENOTTY },
	{ "mkioq_queue_open", ENOMEM, T_OPEN_ENOMEM },
	{ "mkioq_queue_open", EMFILE, T_OPEN_EMFILE },
	{ "mkioq_queue_open_setup", EINVAL,
	  "path, setup or qp is NULL, or setup->slot_count is 0 or above "
	  "64; or the module refused a field: an unknown mode, a flag but "
	  "MKIOQ_SETUP_ATTACH_POLL, that flag outside POLL mode or "
	  "attach_fd without it, copy_workers above 16, non-zero reserved, "
	  "poll_idle_us above 1000000 or poll_period_us above 10000000; or "
	  "attach_fd is not an mkioq file or is a DOORBELL queue. Fix: zero "
	  "the struct, then set slot_count, mode, copy_workers and the poll "
	  "timings within their limits, and attach only to a POLL queue" },
	{ "mkioq_queue_open_setup", ENOENT, T_OPEN_ENOENT },
	{ "mkioq_queue_open_setup", EACCES, T_OPEN_EACCES },
	{ "mkioq_queue_open_setup", ENODEV, T_OPEN_NODEV },
	{ "mkioq_queue_open_setup", ENXIO,
	  "path is a device node with no device behind it (a stale node of "
	  "an unloaded module, or of a device number no driver has); or, "
	  "with MKIOQ_SETUP_ATTACH_POLL, attach_fd's queue was shut down "
	  "(its owner closed it). Fix: load mkioq.ko and open a node it "
	  "created; attach to a live queue of the group" },
	{ "mkioq_queue_open_setup", EBADF,
	  "setup->flags has MKIOQ_SETUP_ATTACH_POLL and setup->attach_fd is "
	  "not an open file descriptor. Fix: pass the descriptor of a "
	  "set-up POLL queue" },
	{ "mkioq_queue_open_setup", EBADFD,
	  "setup->flags has MKIOQ_SETUP_ATTACH_POLL and attach_fd's queue "
	  "is not set up yet. Fix: set up the queue to attach to first" },
	{ "mkioq_queue_open_setup", ENOTTY, T_OPEN_ENOTTY },
	{ "mkioq_queue_open_setup", ENOMEM, T_OPEN_ENOMEM },
	{ "mkioq_queue_open_setup", EMFILE, T_OPEN_EMFILE },
	{ "mkioq_register", EINVAL,
	  "q or handle is NULL, access is 0 or has bits beyond "
	  "MKIOQ_ACCESS_RW, length is 0, dmabuf_fd is not a dma-buf, or its "
	  "exporter cannot map it into the kernel. Fix: pass a dma-buf fd, "
	  "a non-empty range and MKIOQ_ACCESS_READ and/or WRITE" },
	{ "mkioq_register", ENOTTY, T_HOST_QUEUE },
	{ "mkioq_register", EBADF,
	  "dmabuf_fd is not an open file descriptor. Fix: pass the dma-buf "
	  "fd the exporter returned, still open at the call" },
	{ "mkioq_register", EACCES,
	  "access includes MKIOQ_ACCESS_WRITE but the dma-buf was not "
	  "exported for writing. Fix: export it read-write (DRM_RDWR for a "
	  "PRIME export) or register it MKIOQ_ACCESS_READ" },
	{ "mkioq_register", EOVERFLOW,
	  "offset + length overflows 64 bits. Fix: pass a range that lies "
	  "inside the dma-buf" },
	{ "mkioq_register", ERANGE,
	  "offset + length runs past the end of the dma-buf. Fix: keep the "
	  "range inside the buffer's size" },
	{ "mkioq_register", ENOSPC,
	  "the queue holds its maximum of handles (4096). Fix: "
	  "mkioq_unregister() handles that no request uses any more" },
	{ "mkioq_register", ENOMEM,
	  "the kernel could not allocate the handle or map the buffer. "
	  "Fix: free memory or unregister unused handles, and retry" },
	{ "mkioq_register", ENXIO, T_DEAD },
	{ "mkioq_register_file", EINVAL,
	  "q or handle is NULL, access is 0 or has bits beyond "
	  "MKIOQ_ACCESS_RW, length is 0, or fd is neither a regular file "
	  "nor a block device, was opened O_DIRECT with no direct-I/O "
	  "alignment the kernel reports (tmpfs) or an offset off it, or "
	  "O_APPEND with MKIOQ_ACCESS_WRITE. Fix: pass a block device or "
	  "a file of a file system with STATX_DIOALIGN for O_DIRECT, at an "
	  "offset that is a multiple of its alignment (else open without "
	  "O_DIRECT), without O_APPEND to write it, a non-empty range and "
	  "MKIOQ_ACCESS_READ and/or WRITE" },
	{ "mkioq_register_file", ENOTTY, T_HOST_QUEUE },
	{ "mkioq_register_file", EBADF,
	  "fd is not an open file descriptor (an O_PATH one is not). Fix: "
	  "pass a descriptor from open() of the file, still open at the "
	  "call" },
	{ "mkioq_register_file", EISDIR,
	  "fd is a directory. Fix: open the file in it instead" },
	{ "mkioq_register_file", ESPIPE,
	  "fd is a pipe, FIFO or socket, which has no offsets. Fix: "
	  "register a regular file or block device" },
	{ "mkioq_register_file", EACCES,
	  "access includes MKIOQ_ACCESS_READ but fd was not opened for "
	  "reading, or MKIOQ_ACCESS_WRITE but not for writing. Fix: open "
	  "it O_RDONLY, O_WRONLY or O_RDWR as the handle's use needs" },
	{ "mkioq_register_file", EOVERFLOW,
	  "offset + length overflows 64 bits. Fix: pass a range that lies "
	  "inside the file" },
	{ "mkioq_register_file", ERANGE,
	  "offset + length runs past the end of the block device, or past "
	  "the largest file the file system allows. Fix: keep the range "
	  "inside the device's size" },
	{ "mkioq_register_file", ENOSPC,
	  "the queue holds its maximum of handles (4096). Fix: "
	  "mkioq_unregister() handles that no request uses any more" },
	{ "mkioq_register_file", ENOMEM,
	  "the kernel could not allocate the handle. Fix: free memory or "
	  "unregister unused handles, and retry" },
	{ "mkioq_register_file", ENXIO, T_DEAD },
	{ "mkioq_unregister", EINVAL, T_QNULL },
	{ "mkioq_unregister", ENOTTY, T_HOST_QUEUE },
	{ "mkioq_unregister", ENOENT,
	  "handle is not a handle of this queue: 0, never registered on "
	  "this queue, or unregistered already. Fix: pass a handle that "
	  "mkioq_register() returned on this queue, once" },
	{ "mkioq_unregister", ENXIO,
	  "the queue is shut down (the process that set it up closed it), "
	  "and the shutdown dropped every handle. Fix: nothing is left to "
	  "unregister; open a new queue in the process that uses it" },
	{ "mkioq_doorbell", EINVAL, T_QNULL },
	{ "mkioq_doorbell", ENOTTY,
	  "q is a host-owned queue: no engine services it. Fix: service it "
	  "with mkioq_claim() and mkioq_complete(), or open a device queue" },
	{ "mkioq_doorbell", ENXIO, T_DEAD },
	{ "mkioq_info", EINVAL,
	  "q or info is NULL. Fix: pass the queue and a struct mkioq_info "
	  "to fill" },
	{ "mkioq_info", ENOTTY, T_HOST_QUEUE },
	{ "mkioq_read_cqes", EINVAL,
	  "q or cqes is NULL, or max is 0. Fix: pass an array of max "
	  "records, max above 0" },
	{ "mkioq_read_cqes", ENOTTY,
	  "q is a host-owned queue, which has no completion records. Fix: "
	  "poll its STATUS words (mkioq_slot_status()), or open a device "
	  "queue" },
	{ "mkioq_read_cqes", ETIMEDOUT,
	  "no record arrived within timeout_ms (at once with 0). Fix: ring "
	  "the doorbell after publishing (mkioq_doorbell()), raise the "
	  "timeout, or check that no parked WAIT takes the records first" },
	{ "mkioq_read_cqes", EFAULT,
	  "cqes is not writable memory; the records stay queued. Fix: pass "
	  "a writable array of max records" },
	{ "mkioq_read_cqes", ENXIO, T_DEAD },

	/* libmkioq-uring: libmkioq/uring/uring.c */
	{ "mkioq_uring_init", EINVAL,
	  "q is NULL, the queue has a library-owned ring already, or waits "
	  "is above 4096. Fix: call it once per queue, with waits 0 (one "
	  "per slot) to 4096" },
	{ "mkioq_uring_init", ENOTTY, T_HOST_QUEUE },
	{ "mkioq_uring_init", ENOMEM,
	  "out of memory for the ring or its records, or io_uring's "
	  "locked-memory limit was reached. Fix: ask for fewer waits, free "
	  "memory, or raise RLIMIT_MEMLOCK" },
	{ "mkioq_uring_init", ENOSYS,
	  "the kernel has no io_uring. Fix: use mkioq_read_cqes() or "
	  "poll(2) on mkioq_queue_fd() instead" },
	{ "mkioq_uring_init", EPERM,
	  "io_uring is disabled for this process (sysctl "
	  "kernel.io_uring_disabled, or a seccomp filter). Fix: allow it, "
	  "or use mkioq_read_cqes() instead" },
	{ "mkioq_uring_init", EMFILE,
	  "the process has its maximum of open files, and the ring needs "
	  "one. Fix: close descriptors you no longer use, or raise "
	  "RLIMIT_NOFILE" },
	{ "mkioq_submit_and_ring", EINVAL,
	  "q, slots or reqs is NULL, or the first request is invalid (an "
	  "unknown op, or source handle 0); nothing was published. Fix: "
	  "pass requests that mkioq_submit() accepts" },
	{ "mkioq_submit_and_ring", ENOTTY,
	  "q has no library-owned ring: it is host-owned, or "
	  "mkioq_uring_init() was not called. Fix: call mkioq_uring_init() "
	  "on a device queue first" },
	{ "mkioq_submit_and_ring", ERANGE,
	  "the first slot is not below the queue's slot count; nothing was "
	  "published. Fix: use indices below mkioq_queue_slot_count(q)" },
	{ "mkioq_submit_and_ring", EBUSY,
	  "the first slot is not EMPTY; nothing was published. Fix: wait "
	  "for its completion and mkioq_recycle() it, or use another slot" },
	{ "mkioq_submit_and_ring", ENXIO,
	  "the requests are published, but the queue is shut down (the "
	  "process that set it up closed it), so no doorbell rang. Fix: "
	  "open a new queue in the process that uses it" },
	{ "mkioq_wait_completions", EINVAL,
	  "q or cqes is NULL, or max is 0. Fix: pass an array of max "
	  "records, max above 0" },
	{ "mkioq_wait_completions", ENOTTY,
	  "q has no library-owned ring: it is host-owned, or "
	  "mkioq_uring_init() was not called. Fix: call mkioq_uring_init() "
	  "on a device queue first" },
	{ "mkioq_wait_completions", ETIMEDOUT,
	  "no completion arrived within timeout_ms. Fix: ring the doorbell "
	  "after publishing (mkioq_submit_and_ring() does), or raise the "
	  "timeout" },

	/* mkioq_uring.h: the CQE res of commands on an application's ring */
	{ "mkioq_prep_cmd", EBADFD, T_CMD_EBADFD },
	{ "mkioq_prep_cmd", ENOTTY,
	  "cmd_op is not a mkioq command, or the module was built from "
	  "another uapi header, whose command numbers differ. Fix: use "
	  "MKIOQ_URING_CMD_* with the mkioq.ko built with this library" },
	{ "mkioq_prep_cmd", EINVAL, T_CMD_EINVAL },
	{ "mkioq_prep_cmd", EOPNOTSUPP, T_CMD_EOPNOTSUPP },
	{ "mkioq_prep_cmd", ENXIO, T_DEAD },
	{ "mkioq_prep_doorbell", EBADFD, T_CMD_EBADFD },
	{ "mkioq_prep_doorbell", EINVAL, T_CMD_EINVAL },
	{ "mkioq_prep_doorbell", EOPNOTSUPP, T_CMD_EOPNOTSUPP },
	{ "mkioq_prep_doorbell", ENXIO, T_DEAD },
	{ "mkioq_prep_wait", EINVAL,
	  "slot is neither below the queue's slot count nor MKIOQ_ANY_SLOT "
	  "(the kernel says -EINVAL, not -ERANGE, for a bad index), the "
	  "payload's flags are not 0, or an SQE128 payload has bytes set "
	  "past the first 16. Fix: wait for a slot below "
	  "mkioq_queue_slot_count(q) or MKIOQ_ANY_SLOT, and leave the "
	  "payload as mkioq_prep_wait() wrote it" },
	{ "mkioq_prep_wait", EBADFD, T_CMD_EBADFD },
	{ "mkioq_prep_wait", EOPNOTSUPP,
	  "fd is not a mkioq file; or, if the record's status is "
	  "MKIOQ_RESULT_ERROR, the request had an unknown op. Fix: pass "
	  "mkioq_queue_fd(q), and write READ, WRITE or FENCE into OP" },
	{ "mkioq_prep_wait", ENOMEM,
	  "the kernel could not allocate the wait. Fix: free memory and "
	  "submit the WAIT again" },
	{ "mkioq_prep_wait", EBUSY,
	  "4096 WAITs are parked on the queue already. Fix: park fewer, "
	  "one per slot or a few for MKIOQ_ANY_SLOT, and re-arm each after "
	  "its CQE" },
	{ "mkioq_prep_wait", ENOBUFS,
	  "a record was dropped because the record queue (1024 records) "
	  "was full; out carries MKIOQ_CQE_F_OVERFLOW. Fix: rescan the "
	  "slots' STATUS words, and reap completions sooner" },
	{ "mkioq_prep_wait", ECANCELED,
	  "the process closed a descriptor of the queue's file (any "
	  "close(), a dup()'s included, or exit), or the queue ended; with "
	  "an ERROR record, a FENCE cancelled at shutdown. Fix: keep every "
	  "descriptor of the queue open while WAITs are parked" },
	{ "mkioq_prep_wait", ETIME,
	  "the WAIT was parked for MKIOQ_WAIT_TIMEOUT_MS (10 s) with no "
	  "completion for it; out is not written. Fix: submit it again, "
	  "this is routine" },
	{ "mkioq_prep_wait", EFAULT,
	  "out is not writable memory; the record was given back to the "
	  "queue for the next WAIT or read(). Fix: pass a writable struct "
	  "mkioq_cqe that lives until the CQE arrives" },
	{ "mkioq_prep_wait", ENXIO,
	  "the queue is shut down (the process that set it up closed it), "
	  "so no WAIT parks on it. Fix: open a new queue in the process "
	  "that uses it" },

	/*
	 * "request": the errno of a failed request, from the TAG word of an
	 * ERROR slot or the result of its struct mkioq_cqe.
	 */
	{ "request", EOPNOTSUPP,
	  "the request's OP is no known op. Fix: write MKIOQ_OP_READ, "
	  "MKIOQ_OP_WRITE or MKIOQ_OP_FENCE into word OP" },
	{ "request", ENOENT,
	  "SRC or DST is not a handle of this queue: never registered on "
	  "it, or unregistered before the request was claimed. Fix: use "
	  "handles mkioq_register() returned on this queue, and unregister "
	  "them only after their requests completed" },
	{ "request", EACCES,
	  "the source is not registered for MKIOQ_ACCESS_READ, or the "
	  "destination not for MKIOQ_ACCESS_WRITE. Fix: register each "
	  "buffer with the access its role needs" },
	{ "request", EOVERFLOW,
	  "OFFSET + BYTE_COUNT overflows 64 bits. Fix: write the offset and "
	  "byte count the transfer needs, both inside the handle's range" },
	{ "request", ERANGE,
	  "OFFSET + BYTE_COUNT runs past the end of a handle's range (the "
	  "offset applies to the source of a READ, the destination of a "
	  "WRITE; the other side starts at 0). Fix: keep the transfer "
	  "inside both registered ranges" },
	{ "request", EFBIG,
	  "BYTE_COUNT is above 2^31 - 1, more than a record's result can "
	  "report. Fix: split the transfer into requests of at most 2^31 - "
	  "1 bytes" },
	{ "request", ECANCELED,
	  "a FENCE still held back for earlier requests was cancelled "
	  "because the queue shut down (its owner closed it). Fix: keep "
	  "the queue open until its FENCEs complete" },
	{ "request", EINTR,
	  "a signal interrupted the exporter's wait for the dma-buf's "
	  "fences before the copy. Fix: submit the request again" },
	{ "request", EXDEV,
	  "a file handle is used where only a dma-buf may be: it may be "
	  "only a READ's SRC or a WRITE's DST, the other side a dma-buf "
	  "handle (no file-to-file requests). Fix: stage file-to-file "
	  "copies through a dma-buf, or use copy_file_range()" },
	{ "request", EINVAL,
	  "a request on a file handle registered O_DIRECT has an OFFSET or "
	  "BYTE_COUNT that is not a multiple of the file's direct-I/O "
	  "alignment, or a buffered handle's file was given O_DIRECT by "
	  "fcntl() since. Fix: align OFFSET and BYTE_COUNT to the logical "
	  "block size (BLKSSZGET) or STATX_DIOALIGN, and leave the flag "
	  "alone" },
	{ "request", EIO,
	  "the file's read or write failed (a storage error), or the "
	  "dma-buf's exporter reported one; a storage request may have "
	  "changed bytes of its destination first. Fix: check the device "
	  "(dmesg), then submit the request again" },
	{ "request", ENOSPC,
	  "a WRITE to a file handle ran out of space on its file system "
	  "or device; bytes before the failure may be written. Fix: free "
	  "space, then submit the request again" },
};

const char *mkioq_strerror_call(const char *call, int err)
{
	const char *text;

	text = call_text_find(call_texts, ARRAY_SIZE(call_texts), call, err);
	/* The userspace engine's calls: engine_strerror.c. */
	if (!text)
		text = engine_call_text(call, err);
	return text ? text : mkioq_strerror(err);
}

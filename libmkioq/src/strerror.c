// SPDX-License-Identifier: MIT
/*
 * What an error from libmkioq means and how to fix it, in one line: the
 * seed's QueueFull "fix" text, for every error the library returns.
 */
#include <errno.h>
#include "mkioq.h"

struct mkioq_error_text {
	int err;
	const char *text;
};

static const struct mkioq_error_text error_texts[] = {
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
};

const char *mkioq_strerror(int err)
{
	size_t i;

	if (err < 0)
		err = (int)-(unsigned int)err;
	if (err == 0)
		return "success";
	for (i = 0; i < sizeof(error_texts) / sizeof(error_texts[0]); i++)
		if (error_texts[i].err == err)
			return error_texts[i].text;
	return "unexpected error: see errno(3) for this code";
}

// SPDX-License-Identifier: MIT
/*
 * What an error of the userspace engine means and how to fix it: the
 * texts that mkioq_strerror_call() gives for its calls, one per (call,
 * errno) pair that their man pages list under ERRORS, each "cause. Fix:
 * hint"; and mkioq_engine_strerror(), one text per errno in the engine's
 * words. strerror.c looks them up.
 */
#include <errno.h>
#include "engine.h"
#include "strerror.h"
#include "util.h"

#define T_ENULL(fn) \
	"e is NULL. Fix: pass the engine that mkioq_engine_new() stored " \
	"before calling " fn
#define T_NOMEM_REG \
	"no memory for the handle or its mapping. Fix: free memory or " \
	"unregister handles you no longer use, then retry"
#define T_NOSPC_REG \
	"the engine already holds 4096 handles. Fix: unregister handles " \
	"you no longer use (mkioq_engine_unregister()); numbers are reused"

static const struct call_text engine_texts[] = {
	{ "mkioq_engine_new", EINVAL,
	  "q or ep is NULL, q has no ring, p->size is below "
	  "MKIOQ_ENGINE_PARAMS_SIZE_VER0, p->flags has a bit other than "
	  "MKIOQ_ENGINE_F_NO_RECORDS, p->workers is above 64, or "
	  "spin_us/sleep_us/look_gap_ns is above its limit. Fix: set "
	  "p->size = sizeof(*p), flags 0 or MKIOQ_ENGINE_F_NO_RECORDS, "
	  "workers 0..64, spin_us <= 10^6, sleep_us <= 10^7 and "
	  "look_gap_ns <= 10^5" },
	{ "mkioq_engine_new", E2BIG,
	  "p->size is above a page, or the params carry non-zero bytes this "
	  "library does not know. Fix: zero the struct before filling it and "
	  "set p->size = sizeof(*p) of the header you build with" },
	{ "mkioq_engine_new", ENOMEM,
	  "no memory for the engine or its workers. Fix: free memory, or "
	  "ask for fewer workers, and retry" },

	{ "mkioq_engine_start", EINVAL, T_ENULL("mkioq_engine_start()") },
	{ "mkioq_engine_start", EBUSY,
	  "the engine's workers are already running. Fix: start an engine "
	  "once; mkioq_engine_stop() it before starting it again" },
	{ "mkioq_engine_start", EAGAIN,
	  "a worker thread could not be created (thread or memory limits). "
	  "Fix: ask for fewer workers, or raise RLIMIT_NPROC, then retry" },

	{ "mkioq_engine_doorbell", EINVAL,
	  T_ENULL("mkioq_engine_doorbell()") },
	{ "mkioq_engine_stop", EINVAL, T_ENULL("mkioq_engine_stop()") },
	{ "mkioq_engine_stats", EINVAL,
	  "e or st is NULL. Fix: pass the engine and a struct "
	  "mkioq_engine_stats to fill" },

	{ "mkioq_engine_register_mem", EINVAL,
	  "e, addr or handle is NULL, access is 0 or has bits other than "
	  "MKIOQ_ACCESS_READ/WRITE, or length is 0. Fix: pass a non-empty "
	  "range and MKIOQ_ACCESS_READ, MKIOQ_ACCESS_WRITE or "
	  "MKIOQ_ACCESS_RW" },
	{ "mkioq_engine_register_mem", EOVERFLOW,
	  "addr + length wraps around the address space. Fix: pass the "
	  "length of the memory at addr, not an end address or a garbage "
	  "value" },
	{ "mkioq_engine_register_mem", ENOMEM, T_NOMEM_REG },
	{ "mkioq_engine_register_mem", ENOSPC, T_NOSPC_REG },

	{ "mkioq_engine_register_dmabuf", EINVAL,
	  "e or handle is NULL, access is 0 or has unknown bits, length is "
	  "0, the fd is no dma-buf, or its exporter cannot mmap it. Fix: "
	  "pass a dma-buf fd of an exporter with CPU mmap and a non-empty "
	  "range with MKIOQ_ACCESS_* rights" },
	{ "mkioq_engine_register_dmabuf", EBADF,
	  "dmabuf_fd is not an open file descriptor. Fix: pass the fd that "
	  "the exporter returned, before closing it" },
	{ "mkioq_engine_register_dmabuf", EACCES,
	  "MKIOQ_ACCESS_WRITE on a dma-buf whose fd was not opened for "
	  "writing. Fix: export it O_RDWR (DRM_RDWR for PRIME) or register "
	  "it MKIOQ_ACCESS_READ" },
	{ "mkioq_engine_register_dmabuf", EOVERFLOW,
	  "offset + length overflows 64 bits. Fix: pass the range's start "
	  "and its length, not an end offset" },
	{ "mkioq_engine_register_dmabuf", ERANGE,
	  "offset + length is past the end of the dma-buf. Fix: keep the "
	  "range inside the buffer's size (lseek(fd, 0, SEEK_END))" },
	{ "mkioq_engine_register_dmabuf", ENOMEM, T_NOMEM_REG },
	{ "mkioq_engine_register_dmabuf", ENOSPC, T_NOSPC_REG },

	{ "mkioq_engine_register_file", EINVAL,
	  "e or handle is NULL, access is 0 or has unknown bits, length is "
	  "0, or fd is neither a regular file nor a block device, or was "
	  "opened O_DIRECT with no alignment that statx(STATX_DIOALIGN) or "
	  "BLKSSZGET reports or an offset off it, or O_APPEND with "
	  "MKIOQ_ACCESS_WRITE. Fix: for O_DIRECT pass a block device or a "
	  "file system that reports STATX_DIOALIGN and an aligned offset "
	  "(else open without O_DIRECT), no O_APPEND to write it, and a "
	  "non-empty range with MKIOQ_ACCESS_* rights" },
	{ "mkioq_engine_register_file", EBADF,
	  "fd is not an open file descriptor, or an O_PATH one. Fix: pass "
	  "a descriptor from open() of the file, before closing it" },
	{ "mkioq_engine_register_file", EISDIR,
	  "fd is a directory. Fix: open the file in it instead" },
	{ "mkioq_engine_register_file", ESPIPE,
	  "fd is a pipe, FIFO or socket, which has no offsets. Fix: "
	  "register a regular file or block device" },
	{ "mkioq_engine_register_file", EACCES,
	  "MKIOQ_ACCESS_READ on a file not opened for reading, or "
	  "MKIOQ_ACCESS_WRITE on one not opened for writing. Fix: open it "
	  "with the mode the handle's use needs" },
	{ "mkioq_engine_register_file", EOVERFLOW,
	  "offset + length overflows 64 bits. Fix: pass the range's start "
	  "and its length, not an end offset" },
	{ "mkioq_engine_register_file", ERANGE,
	  "offset + length is past the end of the block device, or past "
	  "INT64_MAX for a regular file. Fix: keep the range inside the "
	  "device (lseek(fd, 0, SEEK_END))" },
	{ "mkioq_engine_register_file", ENOMEM, T_NOMEM_REG },
	{ "mkioq_engine_register_file", ENOSPC, T_NOSPC_REG },

	{ "mkioq_engine_unregister", EINVAL,
	  T_ENULL("mkioq_engine_unregister()") },
	{ "mkioq_engine_unregister", ENOENT,
	  "no such handle on this engine (never registered, 0, or already "
	  "unregistered). Fix: pass a number that mkioq_engine_register_mem() "
	  "or mkioq_engine_register_dmabuf() stored, once" },

	{ "mkioq_engine_read_cqes", EINVAL,
	  "e or cqes is NULL, or max is 0. Fix: pass the engine and an array "
	  "of max >= 1 struct mkioq_cqe" },
	{ "mkioq_engine_read_cqes", EOPNOTSUPP,
	  "the engine was made with MKIOQ_ENGINE_F_NO_RECORDS and keeps no "
	  "records. Fix: read each result from its slot's STATUS word, or "
	  "make the engine without that flag" },
	{ "mkioq_engine_read_cqes", ETIMEDOUT,
	  "no record arrived within timeout_ms. Fix: start the engine and "
	  "ring mkioq_engine_doorbell() after publishing, or wait longer" },
};

const char *engine_call_text(const char *call, int err)
{
	return call_text_find(engine_texts, ARRAY_SIZE(engine_texts), call,
			      err);
}

/* The engine's meaning of each errno it returns or writes into TAG. */
static const struct errno_text engine_errno_texts[] = {
	{ EINVAL, "invalid argument: a NULL engine or pointer, params with "
		  "unknown flags or out-of-range values, access 0 or with "
		  "unknown bits, length 0, or an fd that is no mmap-able "
		  "dma-buf; fix the call" },
	{ E2BIG, "params struct larger than this library knows with "
		 "non-zero bytes past its fields: zero it and set .size = "
		 "sizeof" },
	{ EBADF, "bad file descriptor: pass an open dma-buf fd" },
	{ EACCES, "a dma-buf fd not opened for writing was registered for "
		  "WRITE: export it O_RDWR or register it read-only; as a "
		  "request's errno: SRC lacks READ or DST lacks WRITE" },
	{ EOVERFLOW, "a range overflows 64 bits: offset + length (or "
		     "OFFSET + BYTE_COUNT) must not wrap" },
	{ ERANGE, "past the end: keep offset + length inside the dma-buf, "
		  "and a request's OFFSET + BYTE_COUNT inside its handles' "
		  "ranges" },
	{ ENOSPC, "4096 handles on this engine: unregister unused ones" },
	{ ENOENT, "no such handle on this engine: pass a number that "
		  "mkioq_engine_register_mem() or _dmabuf() returned, and "
		  "not after unregistering it" },
	{ ENOMEM, "out of memory: free memory, or use fewer workers or "
		  "handles, and retry" },
	{ EBUSY, "the engine is already started: stop it before starting "
		 "it again" },
	{ EAGAIN, "no worker thread could be created: use fewer workers or "
		  "raise the thread limit" },
	{ ETIMEDOUT, "no completion record within the timeout: is the "
		     "engine started, and the request published with a "
		     "non-zero SRC?" },
	{ EOPNOTSUPP, "unknown op in a slot: publish MKIOQ_OP_READ, WRITE "
		      "or FENCE" },
	{ EFBIG, "request too large: split it into requests of at most "
		 "2^31 - 1 bytes" },
	{ ECANCELED, "a FENCE still held when the engine stopped: submit it "
		     "again to an engine that runs" },
	{ ENOBUFS, "completion records were dropped (1024 queued): rescan "
		   "the slots' STATUS words, and read records sooner" },
};

const char *mkioq_engine_strerror(int err)
{
	const char *text = errno_text_find(engine_errno_texts,
					   ARRAY_SIZE(engine_errno_texts),
					   err);

	return text ? text : mkioq_strerror(err);
}

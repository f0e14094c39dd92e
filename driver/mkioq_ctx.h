/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The state of one open /dev/mkioqN file: a queue (mkioq_ctx.c).
 *
 * Each concern owns its part of the queue, declared beside the code that
 * uses it:
 *   ring       mkioq_ring.[ch]     the shared slots and every access to them
 *   handles    mkioq_handle.[ch]   registered dma-buf and file ranges
 *   poll       mkioq_poller.[ch]   POLL mode: the group and thread that
 *                                  serve the queue, shared with others
 *   service    mkioq_service.[ch]  claims and completes requests; with
 *              mkioq_copy.[ch]     a pass's copies,
 *              mkioq_copy_pool.[ch] the CPUs that help copy them,
 *              mkioq_storage.[ch]  the workers of file handles' requests,
 *              mkioq_fence.[ch]    and the FENCEs it holds
 *   cq         mkioq_cq.[ch]       completion delivery, read() and poll(); with
 *              mkioq_backlog.[ch]  records not yet delivered, and
 *              mkioq_wait.[ch]     parked uring_cmd WAITs
 * mkioq_uring_cmd.c decodes uring_cmds, mkioq_main.c the file operations
 * and ioctls, mkioq_fdinfo.c shows a queue to its operator, and
 * mkioq_trace.[ch] define the tracepoints. Calls go one way
 * (tests/scripts/source-layout.sh checks it):
 *   main, uring_cmd -> ctx -> poller -> service -> copy -> handle
 *                                                     -> copy_pool
 *                                              -> fence -> ring
 *                                              -> cq -> wait -> backlog
 *   main -> copy_pool (the module's copy workqueue)
 *   service, ctx, main -> storage -> copy, fence, cq, handle, ring
 *   main -> fdinfo -> poller, ring, handle, cq
 * (the doorbell goes through ctx, which picks the service or the poller:
 * the poller calls the service's pass, so the service never calls it)
 * each caller may also call what its callees call, and any file the
 * tracepoints.
 *
 * Locks, outermost first; no other nesting exists:
 *   state_lock			the state's transitions (setup, shutdown);
 *				held only while taking a poller's lock (setup
 *				joins, shutdown leaves with it dropped); never
 *				another queue's state_lock (an attach reads
 *				its target's state locklessly)
 *   poller's lock		a group's members; its thread holds it for a
 *				whole round, taking each member's:
 *     service.lock		one servicer at a time: the ring's claims and
 *				completions, the FENCEs, the pass scratch
 *				(a storage worker completes its slot without
 *				it: mkioq_storage.c)
 *       handles.table's xa_lock a pass's claims and handle references
 *       cq.lock		records, WAITs and counters (a pass or a
 *				storage worker posts)
 * A pass's copy helpers (mkioq_copy_pool.c) take no lock: the servicer
 * waits for them (flush_work()) holding service.lock, and nothing they
 * run waits for it.
 * io_uring's ring lock is outside cq.lock: a cancel arrives under it.
 */
#ifndef _MKIOQ_CTX_H
#define _MKIOQ_CTX_H

#include <linux/compiler.h>
#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/mkioq.h>

#include "mkioq_cq.h"
#include "mkioq_handle.h"
#include "mkioq_poller.h"
#include "mkioq_ring.h"
#include "mkioq_service.h"
#include "mkioq_storage.h"

struct pid;
struct vm_area_struct;

/**
 * enum mkioq_ctx_state - where a queue is in its life
 * @MKIOQ_CTX_NEW:	opened, not set up: only SETUP and INFO work
 * @MKIOQ_CTX_LIVE:	set up and serviced
 * @MKIOQ_CTX_DEAD:	shut down (its owner closed it, or release): calls
 *			but INFO fail with -ENXIO; released at the last close
 *
 * Moves only forward, under mkioq_ctx.state_lock.
 */
enum mkioq_ctx_state {
	MKIOQ_CTX_NEW,
	MKIOQ_CTX_LIVE,
	MKIOQ_CTX_DEAD,
};

/**
 * struct mkioq_ctx - the state of one open file
 * @id:			names the queue in fdinfo and in trace events
 * @state_lock:		serialises setup and shutdown
 * @state:		enum mkioq_ctx_state; written under @state_lock with
 *			a release store, read anywhere with an acquire load
 * @owner:		files of the process that set it up (compared only)
 * @owner_tgid:		its thread group, referenced: unlike @owner, whose
 *			address a later process's files may take, it cannot
 *			be recycled while the queue holds it
 * @mode:		MKIOQ_MODE_*, fixed at setup
 * @ring:		the slots, fixed at setup
 * @handles:		the handle table; its own lock
 * @service:		the service; its own lock
 * @poll:		POLL mode: its place in the poller serving it; the
 *			poller's lock
 * @cq:			completion records and WAITs; its own lock
 * @storage:		storage requests in flight (the service's lock)
 */
struct mkioq_ctx {
	u32 id;
	struct mutex state_lock;	/* serialises setup and shutdown */
	enum mkioq_ctx_state state;
	struct files_struct *owner;
	struct pid *owner_tgid;
	u32 mode;
	struct mkioq_ring ring;
	struct mkioq_handles handles;
	struct mkioq_service service;
	struct mkioq_poll_member poll;
	struct mkioq_cq cq;
	struct mkioq_storage storage;
};

static inline enum mkioq_ctx_state mkioq_ctx_state(struct mkioq_ctx *ctx)
{
	/*
	 * Pairs with the smp_store_release() of each transition: whoever
	 * sees LIVE sees the ring, the records and the service set up.
	 */
	return smp_load_acquire(&ctx->state);
}

/* 0 if the queue can be used: set up, and not shut down. */
static inline int mkioq_ctx_usable(struct mkioq_ctx *ctx)
{
	switch (mkioq_ctx_state(ctx)) {
	case MKIOQ_CTX_LIVE:
		return 0;
	case MKIOQ_CTX_NEW:
		return -EBADFD;
	default:
		return -ENXIO;
	}
}

struct mkioq_ctx *mkioq_ctx_alloc(u32 id, struct device *dma_dev);
void mkioq_ctx_release(struct mkioq_ctx *ctx);
int mkioq_ctx_setup(struct mkioq_ctx *ctx, struct file *file,
		    struct mkioq_setup *setup);
void mkioq_ctx_doorbell(struct mkioq_ctx *ctx);
void mkioq_ctx_owner_closed(struct mkioq_ctx *ctx, struct file *file,
			    fl_owner_t id);
int mkioq_ctx_mmap(struct mkioq_ctx *ctx, struct vm_area_struct *vma);

#endif /* _MKIOQ_CTX_H */

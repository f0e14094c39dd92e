/* SPDX-License-Identifier: MIT */
/*
 * The userspace engine's internals, shared by engine*.c. The engine is
 * the module's service (driver/mkioq_service.c, mkioq_copy.c, mkioq_cq.c,
 * mkioq_backlog.c, mkioq_handle.c) in threads:
 *
 *  - engine.c: lifetime, parameters, the workers' loop (spin, sleep,
 *    doorbell), stop and the counters;
 *  - engine_service.c: one pass over the ring: claim, validate, copy,
 *    complete; FENCEs held until what they follow has completed;
 *  - engine_handle.c: the handle table (host memory ranges, dma-bufs,
 *    files);
 *  - engine_cq.c: the completion records;
 *  - engine_strerror.c: what the engine's errors mean.
 *
 * Locks, outermost first: state_lock (start/stop); table_lock (register,
 * unregister), then every worker's lock in index order (unregister only);
 * fence_lock; cq.lock; buf_lock (leaf). A worker holds its own lock only
 * from a claim's compare-and-swap to the references of the request's
 * handles, as the module holds the handle table's xa_lock, so that an
 * unregister either precedes a claim (ENOENT) or follows its lookups (the
 * request keeps its buffers).
 */
#ifndef MKIOQ_ENGINE_INTERNAL_H
#define MKIOQ_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "mkioq_engine.h"
#include "ring.h"

/* Largest request: its byte count must fit a record's s32 result. */
#define ENGINE_MAX_BYTE_COUNT	((uint32_t)INT32_MAX)

/* A request as a worker read it, once, out of the ring (ring_claim()). */
struct engine_req {
	uint32_t slot;
	struct mkioq_request rq;
};

/*
 * One mapped dma-buf, shared by every handle of it so that two handles of
 * one buffer see the same addresses (overlap is then an address test).
 * Every fd of a dma-buf shares its one file: (dev, ino) names the buffer.
 */
struct engine_buf {
	struct engine_buf *next;
	dev_t dev;
	ino_t ino;
	int fd;			/* our own descriptor, for DMA_BUF_IOCTL_SYNC */
	uint8_t *map;		/* the whole dma-buf */
	size_t size;
	int prot;		/* PROT_* the mapping has now */
	unsigned int refs;	/* handles (buf_lock) */
};

/*
 * A registered range. @ref: one for the handle table, one per request
 * being serviced with it (the module's kref).
 */
struct engine_handle {
	atomic_uint ref;
	uint8_t *base;		/* first byte of the range (NULL: a file) */
	uint64_t length;
	uint32_t access;	/* MKIOQ_ACCESS_* */
	struct engine_buf *buf;	/* dma-buf, or NULL for host memory */
	int fd;			/* a file handle's own descriptor, or -1 */
	uint64_t offset;	/* a file handle's range start in the file */
	uint32_t dio_align;	/* registered O_DIRECT: its alignment, else 0 */
};

/*
 * A worker's bounce buffer for the O_DIRECT file handles' pread() and
 * pwrite(), page-aligned, allocated at its first use: the module's
 * MKIOQ_STORAGE_DIO_PAGES.
 */
#define ENGINE_DIO_BYTES	(256u << 10)

/*
 * A worker's dma-buf bracket of one pass (engine_service.c): the buffers
 * it began CPU access to (DMA_BUF_IOCTL_SYNC START), and the requests
 * copied inside the bracket, completed once it ended.
 */
#define ENGINE_BATCH_BYTES	(1u << 20)	/* ends a bracket early */

struct engine_open {
	const struct engine_buf *buf;
	uint64_t dir;		/* DMA_BUF_SYNC_READ/WRITE/RW */
	int err;		/* START's errno: fails the pass's requests */
};

/*
 * Host-memory requests complete in the pass's batch too, so that a pass
 * takes the record queue's lock once (engine_cq.c), but never after
 * ENGINE_POST_BYTES of copying: their STATUS goes out before a copy that
 * long, or a file request, starts.
 */
#define ENGINE_POST_BYTES	(16u << 10)

struct engine_done {
	struct engine_req req;
	int result;
	struct engine_handle *src, *dst;	/* kept until the END */
	bool src_own, dst_own;			/* references to put then */
};

struct engine_batch {
	unsigned int nopen, ndone;
	uint64_t bytes;
	struct engine_open open[2 * MKIOQ_MAX_SLOTS];
	struct engine_done done[MKIOQ_MAX_SLOTS];
};

/*
 * The handles a worker looked up in its pass, each with one reference
 * that the requests of the pass use instead of their own, dropped when
 * the pass ends: one reference count change per handle and pass, not two
 * per request on a line that every worker writes. Valid while @gen is
 * the engine's table_gen (an unregister moves it).
 */
#define ENGINE_HCACHE_ENTRIES	8

struct engine_hcache {
	unsigned int n;
	unsigned int gen;
	uint32_t id[ENGINE_HCACHE_ENTRIES];
	struct engine_handle *h[ENGINE_HCACHE_ENTRIES];
};

/*
 * Slots a worker sweeps in every pass (engine_service.c): groups of
 * ENGINE_SLOT_GROUP slots (four 64-byte lines of the ring, one line of
 * comp_seq) dealt out to the workers in turn, so that workers serving
 * small requests do not take each other's ring lines. Another worker's
 * slots are looked at every ENGINE_STEAL_PASSES passes, and one that
 * holds the same request at two such looks in a row (PUBLISHED both
 * times, and the engine completed nothing of that slot in between: its
 * owner is busy) is claimed. A slot seen PUBLISHED twice with a
 * completion in between is left to its owner, which keeps up: stealing
 * it would move its buffers' cache lines to another CPU for nothing.
 * With 8 workers copying 64 KiB requests on the H200 host the old rule
 * gave 0.63x of 8-thread memcpy, this one 0.87-0.91x (README, "GPU").
 */
#define ENGINE_SLOT_GROUP	8
#define ENGINE_STEAL_PASSES	16
/* The first wait after an empty look (engine.c: engine_look_gap()). */
#define ENGINE_LOOK_GAP_FIRST_NS	64

struct engine_worker {
	struct mkioq_engine *e;
	struct engine_batch batch;
	struct engine_hcache cache;
	pthread_t thread;
	unsigned int id;
	bool started;
	uint64_t own;		/* slots swept in every pass */
	uint64_t others_seen;	/* others' slots PUBLISHED at the last look */
	uint64_t others_seq[MKIOQ_MAX_SLOTS];	/* their comp_seq then */
	unsigned int steal_tick;
	pthread_mutex_t lock;	/* claim + handle lookups: see engine.h */
	uint8_t *dio_buf;	/* ENGINE_DIO_BYTES, or NULL until used */
	/* Counters, written by the worker only. */
	_Atomic uint64_t passes, sleeps, claimed, claim_races, handed_back,
			 bytes, completed, errors;
} __attribute__((aligned(64)));

/* Add to a per-worker counter: only its worker writes it. */
#define WORKER_COUNT(ctr, n)						\
	atomic_store_explicit(&(ctr), atomic_load_explicit(&(ctr),	\
				memory_order_relaxed) + (n),		\
			      memory_order_relaxed)

/*
 * A claimed FENCE, held until it may complete (engine_service.c):
 * @order:		claim order among FENCEs (a FENCE never waits for a
 *			later one)
 * @wait_claimed:	slots that read CLAIMED, not yet seen to leave it
 * @wait_published:	slots that read PUBLISHED with SRC != 0, not yet
 *			seen to leave PUBLISHED (then CLAIMED)
 * @seq:		the engine's completion count of each slot then
 */
struct engine_fence {
	struct engine_req req;
	uint64_t order;
	uint64_t wait_claimed;
	uint64_t wait_published;
	uint64_t seq[MKIOQ_MAX_SLOTS];
};

/*
 * The record queue: the module's backlog, without uring WAITs. Without
 * @records (MKIOQ_ENGINE_F_NO_RECORDS) it stays empty, and the lock only
 * counts the completions made outside a worker's batch.
 */
struct engine_cq {
	bool records;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* readers, CLOCK_MONOTONIC */
	struct mkioq_cqe rec[MKIOQ_ENGINE_CQ_ENTRIES];
	unsigned int head;		/* oldest record */
	unsigned int count;
	unsigned int waiters;
	uint32_t dropped;		/* since the last count delivered */
	uint64_t completed, errors, overflow;	/* lock; batches: workers' */
};

struct mkioq_engine {
	struct mkioq_queue *q;		/* the ring: ring.h's accessors */
	uint32_t slot_count;
	unsigned int nworkers;
	uint64_t spin_ns;
	uint32_t sleep_us;
	uint64_t look_gap_ns;
	struct engine_worker *workers;

	pthread_mutex_t state_lock;	/* start, stop */
	atomic_bool running;		/* state_lock to change */
	atomic_bool stop;		/* workers: end after the request */
	atomic_uint bell;		/* futex word: doorbells and stop */
	atomic_uint sleepers;
	_Atomic uint64_t doorbells;

	pthread_mutex_t table_lock;	/* register, unregister */
	atomic_uint table_gen;		/* moved by unregister: hcache */
	_Atomic(struct engine_handle *) table[MKIOQ_ENGINE_MAX_HANDLES + 1];
	atomic_uint nhandles;		/* changed under table_lock */
	pthread_mutex_t buf_lock;	/* the list of mapped dma-bufs */
	struct engine_buf *bufs;

	pthread_mutex_t fence_lock;
	_Atomic uint64_t held;		/* slots of held FENCEs */
	uint64_t fence_order;		/* fence_lock */
	struct engine_fence fences[MKIOQ_MAX_SLOTS];
	/* Completions of each slot by this engine (release, after STATUS). */
	_Atomic uint64_t comp_seq[MKIOQ_MAX_SLOTS] __attribute__((aligned(64)));

	struct engine_cq cq;
};

/* engine_service.c */
unsigned int engine_pass(struct mkioq_engine *e, struct engine_worker *w);
uint64_t engine_own_slots(const struct mkioq_engine *e, unsigned int id);
void engine_fences_cancel(struct mkioq_engine *e);

/* engine_handle.c */
struct engine_handle *engine_handle_get_locked(struct mkioq_engine *e,
					       uint32_t id);
struct engine_handle *engine_handle_lookup(struct mkioq_engine *e,
					   struct engine_worker *w,
					   uint32_t id, bool *own);
void engine_hcache_drop(struct mkioq_engine *e, struct engine_worker *w);
void engine_handle_put(struct mkioq_engine *e, struct engine_handle *h);
void engine_handles_release(struct mkioq_engine *e);
int engine_buf_sync(const struct engine_buf *b, uint64_t flags);

/* engine_cq.c */
int engine_cq_init(struct engine_cq *cq, bool records);
void engine_cq_destroy(struct engine_cq *cq);
void engine_complete(struct mkioq_engine *e, const struct engine_req *req,
		     int result);
void engine_complete_batch(struct mkioq_engine *e, struct engine_worker *w,
			   const struct engine_done *done, unsigned int n);

/*
 * engine_strerror.c: the text of mkioq_strerror_call() for an engine
 * call's @err (either sign), or NULL.
 */
const char *engine_call_text(const char *call, int err);

#endif

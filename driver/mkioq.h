/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mkioq internals shared by the driver's files.
 */
#ifndef _MKIOQ_H
#define _MKIOQ_H

#include <linux/dma-direction.h>
#include <linux/fs.h>
#include <linux/iosys-map.h>
#include <linux/list.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <linux/mkioq.h>

struct dma_buf;
struct dma_buf_attachment;
struct sg_table;
struct io_uring_cmd;
struct mkioq_rec;
struct file;
struct task_struct;

#define MKIOQ_MAX_HANDLES	4096	/* per open file */
#define MKIOQ_CQ_ENTRIES	1024	/* completion records buffered */
#define MKIOQ_MAX_WAITS		4096	/* parked uring_cmd WAITs */
#define MKIOQ_WAIT_EXPIRY_TICK	HZ	/* how often expiry is checked */

/* Most passes one doorbell services before returning to its caller. */
#define MKIOQ_DOORBELL_PASSES	64

/* Poll-mode defaults and limits, microseconds. */
#define MKIOQ_POLL_IDLE_DEFAULT_US	2000
#define MKIOQ_POLL_IDLE_MAX_US		1000000
#define MKIOQ_POLL_PERIOD_DEFAULT_US	1000
#define MKIOQ_POLL_PERIOD_MAX_US	10000000

/**
 * struct mkioq_handle - a registered dma-buf range
 * @ref:	one for the handle table, one per request being serviced
 * @dmabuf:	our own reference to the buffer
 * @map:	kernel mapping of the whole buffer, held while registered
 * @attach:	our attachment, when @map is a vmap of its pages
 * @sgt:	the attachment's mapping
 * @offset:	start of the range inside @dmabuf
 * @length:	bytes in the range
 * @access:	MKIOQ_ACCESS_*
 */
struct mkioq_handle {
	struct kref ref;
	struct dma_buf *dmabuf;
	struct iosys_map map;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	u64 offset;
	u64 length;
	u32 access;
};

/* Buckets of a batch's handle table: twice the handles a pass can meet. */
#define MKIOQ_BATCH_BUCKETS	(4 * MKIOQ_MAX_SLOTS)

/* A request as the service read it, once, out of the ring. */
struct mkioq_req {
	u32 slot;
	u32 op;
	u32 src;
	u32 dst;
	u64 offset;
	u32 byte_count;
	u32 tag;
};

/*
 * The requests claimed in one pass, executed together (mkioq_copy.c).
 * Handles and dma-bufs are at most two per request.
 */
struct mkioq_batch {
	unsigned int nr;
	struct mkioq_req req[MKIOQ_MAX_SLOTS];
	int result[MKIOQ_MAX_SLOTS];
	struct mkioq_handle *src[MKIOQ_MAX_SLOTS];
	struct mkioq_handle *dst[MKIOQ_MAX_SLOTS];
	u64 src_off[MKIOQ_MAX_SLOTS];
	u64 dst_off[MKIOQ_MAX_SLOTS];
	u8 src_buf[MKIOQ_MAX_SLOTS];
	u8 dst_buf[MKIOQ_MAX_SLOTS];
	unsigned int nr_handles;
	u32 handle_id[2 * MKIOQ_MAX_SLOTS];
	u8 handle_bucket[2 * MKIOQ_MAX_SLOTS];
	struct mkioq_handle *handle[2 * MKIOQ_MAX_SLOTS];
	u8 bucket[MKIOQ_BATCH_BUCKETS];		/* handle index + 1, or 0 */
	unsigned int nr_bufs;
	struct dma_buf *buf[2 * MKIOQ_MAX_SLOTS];
	enum dma_data_direction dir[2 * MKIOQ_MAX_SLOTS];
	int buf_err[2 * MKIOQ_MAX_SLOTS];
	struct mkioq_cqe cqe[MKIOQ_MAX_SLOTS];
};

/**
 * struct mkioq_fence - a claimed FENCE, held until it may complete
 * @req:	the FENCE as claimed
 * @waits_on:	slots that read CLAIMED when it was claimed (by any engine,
 *		or a producer reserving them) and have not been seen to
 *		leave CLAIMED since
 * @passed:	a whole pass has been serviced since the one that claimed it
 */
struct mkioq_fence {
	struct mkioq_req req;
	u64 waits_on;
	bool passed;
};

/* How often a DOORBELL queue looks at FENCEs waiting for other engines. */
#define MKIOQ_FENCE_RECHECK_MS	1

/* Bits of mkioq_queue.service_flags. */
enum {
	MKIOQ_RESCAN,		/* the doorbell rang since the last scan */
};

/**
 * struct mkioq_wait - a parked MKIOQ_URING_CMD_WAIT
 * @node:	in mkioq_queue.waits_any or .waits_slot[@slot]
 * @cmd:	the io_uring command, completed exactly once
 * @owner:	files of the submitter: closing them cancels the wait
 * @cqe_addr:	user address that receives @cqe, or 0
 * @slot:	the slot waited for, or MKIOQ_ANY_SLOT
 * @deadline:	jiffies when it expires with -ETIME
 * @cqe:	the completion delivered
 */
struct mkioq_wait {
	struct list_head node;
	struct io_uring_cmd *cmd;
	fl_owner_t owner;
	u64 cqe_addr;
	u32 slot;
	unsigned long deadline;
	struct mkioq_cqe cqe;
};

/**
 * struct mkioq_queue - the state of one open file
 * @setup_lock:		serialises setup against itself
 * @ready:		set (release) once setup completed; read with acquire
 * @dead:		set when the owner closed it (mkioq_queue_shutdown())
 * @owner:		files of the process that set it up (compared only)
 * @owner_tgid:		its thread group, referenced: unlike @owner, whose
 *			address a later process's files may take, it cannot
 *			be recycled while the queue holds it
 * @slot_count:		slots in the ring
 * @mode:		MKIOQ_MODE_*
 * @ring_file:		shmem file holding the ring page, so that mappings
 *			of it are ordinary shmem mappings that can be pinned
 * @ring_page:		the ring page, referenced while the file is open
 * @ring:		kernel address of the ring
 * @handles:		handle number -> struct mkioq_handle
 * @service_lock:	held by whoever scans and services the ring
 * @service_flags:	MKIOQ_RESCAN
 * @fences_held:	bitmask of the slots of FENCEs held (service_lock)
 * @fences:		those FENCEs (service_lock)
 * @fence_recheck:	DOORBELL mode: looks at held FENCEs while nobody
 *			rings, every MKIOQ_FENCE_RECHECK_MS
 * @service_stopped:	set under service_lock when the service stops
 * @batch:		the requests of the pass being serviced (service_lock)
 * @poll_thread:	POLL mode service thread
 * @poll_wait:		the poll thread sleeps here when idle
 * @poll_idle:		jiffies of polling without work before sleeping
 * @poll_period:	jiffies between looks at the ring while sleeping
 * @cq_lock:		protects everything below but @cq_wait
 * @cq_pool:		MKIOQ_CQ_ENTRIES records
 * @cq_free:		records of @cq_pool not in use
 * @cq_list:		backlog of undelivered records, oldest first
 * @cq_slot:		the same records, per slot
 * @cq_dropped:		records dropped since the last one delivered
 * @cq_dropped_slots:	slots with a dropped record not yet reported
 * @waits_any:		parked MKIOQ_URING_CMD_WAITs for any slot
 * @waits_slot:		parked MKIOQ_URING_CMD_WAITs, per slot
 * @nr_waits:		parked WAITs in all
 * @wait_expiry:	completes WAITs parked too long (mkioq_uring.c)
 * @cq_wait:		readers and pollers of completion records
 * @completed:		requests completed
 * @errors:		of those, completed with an error
 * @cq_overflow:	records dropped in all
 */
struct mkioq_queue {
	struct mutex setup_lock;	/* serialises setup */
	bool ready;
	bool dead;
	struct files_struct *owner;
	struct pid *owner_tgid;
	u32 slot_count;
	u32 mode;

	struct file *ring_file;
	struct page *ring_page;
	struct mkioq_slot *ring;

	struct xarray handles;

	struct mutex service_lock;	/* one servicer at a time */
	unsigned long service_flags;
	u64 fences_held;
	struct mkioq_fence fences[MKIOQ_MAX_SLOTS];
	struct delayed_work fence_recheck;
	bool service_stopped;
	struct mkioq_batch *batch;
	struct task_struct *poll_thread;
	wait_queue_head_t poll_wait;
	unsigned long poll_idle;
	unsigned long poll_period;

	spinlock_t cq_lock;		/* records, waits, counters */
	struct mkioq_rec *cq_pool;
	struct list_head cq_free;
	struct list_head cq_list;
	struct list_head cq_slot[MKIOQ_MAX_SLOTS];
	u32 cq_dropped;
	u64 cq_dropped_slots;
	struct list_head waits_any;
	struct list_head waits_slot[MKIOQ_MAX_SLOTS];
	u32 nr_waits;
	struct delayed_work wait_expiry;
	wait_queue_head_t cq_wait;
	u64 completed;
	u64 errors;
	u64 cq_overflow;
};

static inline bool mkioq_ready(struct mkioq_queue *q)
{
	/* Pairs with the smp_store_release() that ends a successful setup. */
	return smp_load_acquire(&q->ready);
}

/* 0 if the queue can be used: set up, and its owner has not closed it. */
static inline int mkioq_usable(struct mkioq_queue *q)
{
	if (!mkioq_ready(q))
		return -EBADFD;
	return READ_ONCE(q->dead) ? -ENXIO : 0;
}

/* mkioq_queue.c */
int mkioq_queue_setup(struct mkioq_queue *q, struct mkioq_setup *setup);
void mkioq_queue_teardown(struct mkioq_queue *q);
void mkioq_queue_owner_closed(struct mkioq_queue *q, struct file *file,
			      fl_owner_t id);
int mkioq_queue_mmap(struct mkioq_queue *q, struct vm_area_struct *vma);

/* mkioq_main.c: the device that attaches to dma-bufs without vmap. */
extern struct device *mkioq_dma_dev;

/* mkioq_handle.c */
int mkioq_handle_register(struct mkioq_queue *q, struct mkioq_handle_reg *reg);
int mkioq_handle_unregister(struct mkioq_queue *q, u32 id);
struct mkioq_handle *mkioq_handle_get_locked(struct mkioq_queue *q, u32 id);
void mkioq_handle_put(struct mkioq_handle *h);
void mkioq_handles_release(struct mkioq_queue *q);

/* mkioq_copy.c */
void mkioq_batch_begin(struct mkioq_batch *b);
void mkioq_batch_add_locked(struct mkioq_queue *q, struct mkioq_batch *b,
			    const struct mkioq_req *req);
void mkioq_batch_execute(struct mkioq_queue *q, struct mkioq_batch *b);

/* mkioq_service.c */
void mkioq_doorbell(struct mkioq_queue *q);
int mkioq_service_start(struct mkioq_queue *q);
void mkioq_service_stop(struct mkioq_queue *q);
void mkioq_service_free(struct mkioq_queue *q);

/* mkioq_cq.c */
int mkioq_cq_init(struct mkioq_queue *q);
void mkioq_cq_free(struct mkioq_queue *q);
void mkioq_cq_post(struct mkioq_queue *q, const struct mkioq_cqe *cqes,
		   unsigned int n);
bool mkioq_cq_take_locked(struct mkioq_queue *q, u32 slot,
			  struct mkioq_cqe *cqe);
void mkioq_cq_give_back(struct mkioq_queue *q, const struct mkioq_cqe *cqes,
			unsigned int n);
ssize_t mkioq_cq_read(struct mkioq_queue *q, char __user *buf, size_t count,
		      bool nonblock);
bool mkioq_cq_readable(struct mkioq_queue *q);
void mkioq_cq_shutdown(struct mkioq_queue *q);

/* mkioq_uring.c */
int mkioq_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags);
void mkioq_waits_init(struct mkioq_queue *q);
void mkioq_uring_wait_done(struct mkioq_wait *wait, int res);
void mkioq_uring_waits_done(struct list_head *done);
void mkioq_uring_cancel(struct mkioq_queue *q, fl_owner_t owner);

#endif /* _MKIOQ_H */

/* SPDX-License-Identifier: MIT */
/*
 * libmkioq: the host side of a GPU megakernel's IO request ring.
 *
 * A struct mkioq_queue is a ring of 32-byte slots (see <linux/mkioq.h>).
 * It lives either in ordinary memory (mkioq_queue_new(), the seed's
 * host-owned queue, for tests and for rings uploaded by other means) or in
 * the pages of an mkioq device file (mkioq_queue_open()), shared with the
 * kernel module that services requests. Every ring call works on both.
 *
 * Functions return 0 (or a count) on success and a negative errno on
 * failure; mkioq_strerror() explains an error and how to fix it. A call
 * that fails changes no byte of the ring. A slot index not below the slot
 * count is -ERANGE from every call that takes one, checked first (after
 * a NULL queue, -EINVAL); a busy slot is never -ERANGE.
 */
#ifndef LIBMKIOQ_H
#define LIBMKIOQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/mkioq.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MKIOQ_QUEUE_F_DEVICE	(1U << 0)	/* ring is a device mapping */
#define MKIOQ_QUEUE_F_WRAPPED	(1U << 1)	/* ring is the caller's memory */

/*
 * The queue handle. Fields are read-only for applications. The ring's
 * contents are never cached here: the ring may be written concurrently by a
 * GPU, the kernel or another process, so every call reads it afresh.
 */
struct mkioq_queue {
	uint32_t *words;	/* slot_count * MKIOQ_SLOT_WORDS words */
	uint32_t slot_count;
	uint32_t flags;		/* MKIOQ_QUEUE_F_* */
	int fd;			/* device file, or -1 */
	uint32_t mode;		/* MKIOQ_MODE_* of a device queue */
	size_t map_bytes;	/* bytes allocated or mapped at words */
	/*
	 * What a helper library attached to the queue (libmkioq-uring's
	 * io_uring, see <mkioq_uring.h>), or NULL. The helper makes it and
	 * frees it in @helper_release, which mkioq_queue_free() calls after
	 * closing the queue's file: the attached state outlives every WAIT
	 * parked on the file.
	 */
	void *helper;
	void (*helper_release)(struct mkioq_queue *q);
};

/* A request as mkioq_submit() writes it into a slot. */
struct mkioq_request {
	uint32_t op;		/* MKIOQ_OP_* */
	uint32_t src_handle;	/* non-zero */
	uint32_t dst_handle;
	uint32_t byte_count;
	uint64_t offset;	/* split into OFFSET_LO / OFFSET_HI */
	uint32_t tag;
};

/* A slot read back by mkioq_completion(): the seed's IoCompletion. */
struct mkioq_completion {
	uint32_t slot;
	uint32_t dst_handle;	/* DST_HANDLE (the seed: mapped_slot) */
	uint32_t byte_count;
	uint32_t tag;		/* on MKIOQ_RESULT_ERROR: the positive errno */
	uint32_t status;	/* MKIOQ_STATE_* or MKIOQ_RESULT_* */
	uint32_t op;
	uint32_t src_handle;
	uint64_t offset;
};

/* Queue lifetime: queue.c */
int mkioq_queue_new(uint32_t slot_count, struct mkioq_queue **qp);
int mkioq_queue_wrap(void *mem, size_t len, uint32_t slot_count,
		     struct mkioq_queue **qp);
int mkioq_queue_clone(const struct mkioq_queue *q, struct mkioq_queue **qp);
void mkioq_queue_free(struct mkioq_queue *q);
const void *mkioq_queue_bytes(const struct mkioq_queue *q, size_t *len);
void *mkioq_queue_mut_bytes(struct mkioq_queue *q, size_t *len);

static inline uint32_t mkioq_queue_slot_count(const struct mkioq_queue *q)
{
	return q->slot_count;
}

static inline int mkioq_queue_fd(const struct mkioq_queue *q)
{
	return q->fd;
}

/* Producer side: ring.c */
int mkioq_submit(struct mkioq_queue *q, uint32_t slot,
		 const struct mkioq_request *req);
int mkioq_submit_dma_read(struct mkioq_queue *q, uint32_t slot,
			  uint32_t src_handle, uint32_t dst_handle,
			  uint32_t byte_count, uint32_t tag);
int mkioq_publish_slot(struct mkioq_queue *q, uint32_t slot,
		       uint32_t mapped_slot, uint32_t byte_count, uint32_t tag);
int mkioq_slot_status(const struct mkioq_queue *q, uint32_t slot);
int mkioq_completion(const struct mkioq_queue *q, uint32_t slot,
		     struct mkioq_completion *rec);
bool mkioq_is_recycled(const struct mkioq_queue *q, uint32_t slot);
int mkioq_slot_recycled(const struct mkioq_queue *q, uint32_t slot);
int mkioq_recycle(struct mkioq_queue *q, uint32_t slot);

/* Consumer side (host-owned queues, tests, userspace engines): ring.c */
int mkioq_claim(struct mkioq_queue *q, uint32_t slot);
int mkioq_claim_batch(struct mkioq_queue *q, uint32_t *slots, uint32_t max);
int mkioq_complete(struct mkioq_queue *q, uint32_t slot);
int mkioq_complete_bytes(struct mkioq_queue *q, uint32_t slot,
			 uint32_t byte_count);
int mkioq_complete_error(struct mkioq_queue *q, uint32_t slot, int err);
int mkioq_complete_batch(struct mkioq_queue *q, const uint32_t *slots,
			 uint32_t n);

/* Debug: dump.c */
int mkioq_queue_dump(const struct mkioq_queue *q, char *buf, size_t len);
int mkioq_queue_fprint(const struct mkioq_queue *q, FILE *f);

/* Errors: strerror.c */
const char *mkioq_strerror(int err);
/*
 * @call: the name of the function that returned @err ("mkioq_queue_open"),
 * or "request" for the errno of a failed request.
 */
const char *mkioq_strerror_call(const char *call, int err);

/* Device-backed queues: device.c */
#define MKIOQ_OPEN_POLL		(1U << 0)	/* MKIOQ_MODE_POLL service */

int mkioq_queue_open(const char *path, uint32_t slot_count, unsigned int flags,
		     struct mkioq_queue **qp);
int mkioq_queue_open_setup(const char *path, struct mkioq_setup *setup,
			   struct mkioq_queue **qp);
int mkioq_register(struct mkioq_queue *q, int dmabuf_fd, uint64_t offset,
		   uint64_t length, uint32_t access, uint32_t *handle);
/*
 * A range of a regular file or block device as a handle
 * (MKIOQ_REG_F_FILE): the source of READs or the destination of WRITEs
 * whose other side is a dma-buf handle, served through the page cache.
 */
int mkioq_register_file(struct mkioq_queue *q, int fd, uint64_t offset,
			uint64_t length, uint32_t access, uint32_t *handle);
int mkioq_unregister(struct mkioq_queue *q, uint32_t handle);
int mkioq_doorbell(struct mkioq_queue *q);
int mkioq_info(struct mkioq_queue *q, struct mkioq_info *info);
int mkioq_read_cqes(struct mkioq_queue *q, struct mkioq_cqe *cqes,
		    unsigned int max, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* LIBMKIOQ_H */

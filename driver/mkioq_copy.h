/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Executing the requests claimed in one pass as a batch (mkioq_copy.c).
 */
#ifndef _MKIOQ_COPY_H
#define _MKIOQ_COPY_H

#include <linux/dma-direction.h>
#include <linux/atomic.h>
#include <linux/types.h>
#include <linux/mkioq.h>

#include "mkioq_copy_pool.h"
#include "mkioq_ring.h"

struct dma_buf;
struct mkioq_handle;
struct mkioq_handles;

/* Largest request: its byte count must fit a record's s32 result. */
#define MKIOQ_MAX_BYTE_COUNT	((u32)INT_MAX)

/* Buckets of a batch's handle table: twice the handles a pass can meet. */
#define MKIOQ_BATCH_BUCKETS	(4 * MKIOQ_MAX_SLOTS)

/**
 * struct mkioq_batch - the requests of one pass, and what they touch
 * @nr:			requests
 * @req:		each request as claimed
 * @result:		its bytes moved or negative errno, once executed
 * @src:		its source handle, referenced
 * @dst:		its destination handle, referenced
 * @src_off:		offset of the copy in the source dma-buf
 * @dst_off:		offset of the copy in the destination dma-buf
 * @src_buf:		index of the source dma-buf in @buf
 * @dst_buf:		index of the destination dma-buf in @buf
 * @nr_handles:		distinct handles met, each referenced once
 * @handle_id:		their numbers
 * @handle_bucket:	their buckets in @bucket
 * @handle:		the handles
 * @bucket:		open-addressed index of @handle: index + 1, or 0
 * @nr_bufs:		distinct dma-bufs met
 * @buf:		the dma-bufs, opened for CPU access once per pass
 * @dir:		the CPU access each needs
 * @buf_err:		begin_cpu_access's result for each
 * @nr_copies:		requests that copy (validated, buffers open)
 * @copy_req:		their indices, in claim order
 * @copy_end:		where each one's bytes end in the batch's copy
 *			stream: the sum of its and earlier ones' byte counts
 * @nr_chunks:		shares of the stream, when shared
 * @next_chunk:		the next share to take (atomic: every copier takes
 *			from it)
 * @crew:		the helpers that share a batch's copies
 * @shared:		whether the last execute shared its copies
 * @helper_chunks:	the shares its helpers took
 *
 * Owned by the service, used under its lock only: at most two handles and
 * two dma-bufs per request. While a batch's copies are shared, its helpers
 * read it (the copy fields and handles) and take from @next_chunk.
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
	u8 bucket[MKIOQ_BATCH_BUCKETS];
	unsigned int nr_bufs;
	struct dma_buf *buf[2 * MKIOQ_MAX_SLOTS];
	enum dma_data_direction dir[2 * MKIOQ_MAX_SLOTS];
	int buf_err[2 * MKIOQ_MAX_SLOTS];
	unsigned int nr_copies;
	u8 copy_req[MKIOQ_MAX_SLOTS];
	u64 copy_end[MKIOQ_MAX_SLOTS];
	unsigned int nr_chunks;
	atomic_t next_chunk;
	struct mkioq_crew crew;
	bool shared;
	unsigned int helper_chunks;
};

void mkioq_batch_init(struct mkioq_batch *b, unsigned int copy_workers);
void mkioq_batch_begin(struct mkioq_batch *b);
void mkioq_batch_add_locked(struct mkioq_batch *b,
			    struct mkioq_handles *handles,
			    const struct mkioq_req *req);
void mkioq_batch_add_failed(struct mkioq_batch *b, const struct mkioq_req *req,
			    int err);
void mkioq_batch_execute(struct mkioq_batch *b);
int mkioq_check_range(const struct mkioq_handle *h, u64 off, u32 len);

#endif /* _MKIOQ_COPY_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * Executing a batch: the requests claimed in one pass over the ring.
 *
 * Each request is validated against its handles (op, size, access, 64-bit
 * range of both sides) as it is claimed, with the handles looked up and
 * referenced there (mkioq_batch_add_locked(), under the handle table's
 * lock); then every dma-buf the batch touches is opened for CPU access
 * once, the copies run in claim order, and CPU access ends once per
 * buffer. Per-pass rather than per-request handle lookups and
 * begin/end_cpu_access calls are what make small requests cheap.
 *
 * With copy_workers > 1, a batch whose copies are large enough and
 * independent is shared (mkioq_batch_share()): its copies, laid end to
 * end, are cut into MKIOQ_SHARE_CHUNK shares that the servicer and its
 * crew (mkioq_copy_pool.c) take in order from one cursor. Independent
 * means that no request writes bytes another one reads or writes, and
 * none overlaps itself: then no order of the copies can be told from
 * claim order, which is what the protocol promises. Any other batch is
 * copied by the servicer alone, in claim order. Either way the batch ends
 * (CPU access, results, and after it the records and FENCEs) only when
 * every copy is done.
 */
#include <linux/dma-buf.h>
#include <linux/dma-direction.h>
#include <linux/io.h>
#include <linux/math.h>
#include <linux/minmax.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/string.h>

#include "mkioq_copy.h"
#include "mkioq_copy_pool.h"
#include "mkioq_handle.h"

/* Copy in chunks so a 64 MiB request does not hog the CPU. */
#define MKIOQ_COPY_CHUNK	SZ_1M
/*
 * A shared batch's share: large enough that taking one (an atomic on a
 * line every copier writes) costs nothing beside copying it, small enough
 * that a full pass of 1 MiB requests gives 16 copiers 16 shares each to
 * balance.
 */
#define MKIOQ_SHARE_CHUNK	SZ_256K
/* Smallest batch worth sharing: one share for the servicer, one to lend. */
#define MKIOQ_SHARE_MIN_BYTES	(2 * MKIOQ_SHARE_CHUNK)

static void mkioq_copy_chunk(const struct iosys_map *dst, u64 dst_off,
			     const struct iosys_map *src, u64 src_off,
			     size_t len, bool overlap)
{
	u8 bounce[256];
	size_t n;

	if (!src->is_iomem && !dst->is_iomem) {
		if (overlap)
			memmove(dst->vaddr + dst_off, src->vaddr + src_off, len);
		else
			memcpy(dst->vaddr + dst_off, src->vaddr + src_off, len);
	} else if (!dst->is_iomem) {
		memcpy_fromio(dst->vaddr + dst_off, src->vaddr_iomem + src_off,
			      len);
	} else if (!src->is_iomem) {
		memcpy_toio(dst->vaddr_iomem + dst_off, src->vaddr + src_off,
			    len);
	} else if (overlap && dst_off > src_off) {
		/* Backwards, so an overlapping source is read before written. */
		for (; len; len -= n) {
			n = min(len, sizeof(bounce));
			memcpy_fromio(bounce, src->vaddr_iomem + src_off + len - n,
				      n);
			memcpy_toio(dst->vaddr_iomem + dst_off + len - n, bounce,
				    n);
		}
	} else {
		for (; len; len -= n, src_off += n, dst_off += n) {
			n = min(len, sizeof(bounce));
			memcpy_fromio(bounce, src->vaddr_iomem + src_off, n);
			memcpy_toio(dst->vaddr_iomem + dst_off, bounce, n);
		}
	}
}

/* Offsets are into the dma-bufs. Overlapping ranges need one memmove. */
static void mkioq_copy(const struct mkioq_handle *dst, u64 dst_off,
		       const struct mkioq_handle *src, u64 src_off, u32 len)
{
	bool overlap = dst->dmabuf == src->dmabuf &&
		       dst_off < src_off + len && src_off < dst_off + len;
	u64 done, n;

	for (done = 0; done < len; done += n) {
		n = overlap ? len : min_t(u64, len - done, MKIOQ_COPY_CHUNK);
		mkioq_copy_chunk(&dst->map, dst_off + done, &src->map,
				 src_off + done, n, overlap);
		cond_resched();
	}
}

/* Does [off, off + len) fit the handle's range? */
int mkioq_check_range(const struct mkioq_handle *h, u64 off, u32 len)
{
	u64 end;

	if (check_add_overflow(off, (u64)len, &end))
		return -EOVERFLOW;
	if (end > h->length)
		return -ERANGE;
	return 0;
}

/*
 * A handle of the batch, looked up (and referenced) once per pass. A pass
 * meets at most 2 * MKIOQ_MAX_SLOTS distinct handles, so an open-addressed
 * table of twice that many buckets, keyed by the handle number, finds a
 * repeated one in a probe or two where a list search would cost a scan.
 */
static struct mkioq_handle *mkioq_batch_handle(struct mkioq_batch *b,
					       struct mkioq_handles *handles,
					       u32 id)
{
	unsigned int bucket = id % MKIOQ_BATCH_BUCKETS;
	struct mkioq_handle *h;
	u8 slot;

	while ((slot = b->bucket[bucket])) {
		if (b->handle_id[slot - 1] == id)
			return b->handle[slot - 1];
		bucket = (bucket + 1) % MKIOQ_BATCH_BUCKETS;
	}
	h = mkioq_handle_get_locked(handles, id);
	if (h) {
		b->handle_id[b->nr_handles] = id;
		b->handle_bucket[b->nr_handles] = bucket;
		b->handle[b->nr_handles++] = h;
		b->bucket[bucket] = b->nr_handles;
	}
	return h;
}

/* The batch's index of @dmabuf, adding it with CPU access @dir. */
static u8 mkioq_batch_buf(struct mkioq_batch *b, struct dma_buf *dmabuf,
			  enum dma_data_direction dir)
{
	unsigned int i;

	for (i = 0; i < b->nr_bufs; i++) {
		if (b->buf[i] == dmabuf) {
			if (b->dir[i] != dir)
				b->dir[i] = DMA_BIDIRECTIONAL;
			return i;
		}
	}
	b->buf[i] = dmabuf;
	b->dir[i] = dir;
	b->nr_bufs++;
	return i;
}

/* Validate request @i; 0 if it is to be copied, else its errno. */
static int mkioq_batch_prepare(struct mkioq_batch *b,
			       struct mkioq_handles *handles, unsigned int i)
{
	const struct mkioq_req *req = &b->req[i];
	struct mkioq_handle *src, *dst;
	int ret;

	switch (req->op) {
	case MKIOQ_OP_READ:
		b->src_off[i] = req->offset;
		b->dst_off[i] = 0;
		break;
	case MKIOQ_OP_WRITE:
		b->src_off[i] = 0;
		b->dst_off[i] = req->offset;
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (req->byte_count > MKIOQ_MAX_BYTE_COUNT)
		return -EFBIG;
	src = mkioq_batch_handle(b, handles, req->src_handle);
	dst = mkioq_batch_handle(b, handles, req->dst_handle);
	if (!src || !dst)
		return -ENOENT;
	if (!(src->access & MKIOQ_ACCESS_READ) ||
	    !(dst->access & MKIOQ_ACCESS_WRITE))
		return -EACCES;
	ret = mkioq_check_range(src, b->src_off[i], req->byte_count);
	if (!ret)
		ret = mkioq_check_range(dst, b->dst_off[i], req->byte_count);
	if (ret)
		return ret;

	b->src[i] = src;
	b->dst[i] = dst;
	/* From here on, offsets into the dma-bufs, not the ranges. */
	b->src_off[i] += src->offset;
	b->dst_off[i] += dst->offset;
	b->src_buf[i] = mkioq_batch_buf(b, src->dmabuf, DMA_FROM_DEVICE);
	b->dst_buf[i] = mkioq_batch_buf(b, dst->dmabuf, DMA_TO_DEVICE);
	return 0;
}

void mkioq_batch_begin(struct mkioq_batch *b)
{
	b->nr = 0;
	b->nr_handles = 0;
	b->nr_bufs = 0;
}

/*
 * Add request @req, just claimed, to the batch: validate it and take its
 * handles now, under the handle table's lock (see mkioq_handle.c), so
 * that an unregister cannot fail a request claimed before it.
 */
void mkioq_batch_add_locked(struct mkioq_batch *b,
			    struct mkioq_handles *handles,
			    const struct mkioq_req *req)
{
	unsigned int i = b->nr++;

	b->req[i] = *req;
	b->result[i] = mkioq_batch_prepare(b, handles, i);
}

/* Do [a, a + alen) and [b, b + blen) of one dma-buf overlap? */
static bool mkioq_ranges_meet(struct dma_buf *abuf, u64 a, u32 alen,
			      struct dma_buf *bbuf, u64 b, u32 blen)
{
	return abuf == bbuf && a < b + blen && b < a + alen;
}

/*
 * May the batch's copies run in any order? Not if a copy's destination
 * meets another's source or destination, nor if one's own source and
 * destination meet (a memmove: its chunks must run in one direction). At
 * most MKIOQ_MAX_SLOTS^2 / 2 pairs, looked at only for a batch of at
 * least MKIOQ_SHARE_MIN_BYTES: nothing beside copying it.
 */
static bool mkioq_batch_independent(const struct mkioq_batch *b)
{
	unsigned int k, l, i, j;

	for (k = 0; k < b->nr_copies; k++) {
		struct dma_buf *dbuf;
		u32 len;

		i = b->copy_req[k];
		dbuf = b->dst[i]->dmabuf;
		len = b->req[i].byte_count;
		if (mkioq_ranges_meet(dbuf, b->dst_off[i], len,
				      b->src[i]->dmabuf, b->src_off[i], len))
			return false;
		for (l = 0; l < b->nr_copies; l++) {
			if (l == k)
				continue;
			j = b->copy_req[l];
			if (mkioq_ranges_meet(dbuf, b->dst_off[i], len,
					      b->src[j]->dmabuf, b->src_off[j],
					      b->req[j].byte_count) ||
			    (l > k &&
			     mkioq_ranges_meet(dbuf, b->dst_off[i], len,
					       b->dst[j]->dmabuf, b->dst_off[j],
					       b->req[j].byte_count)))
				return false;
		}
	}
	return true;
}

/*
 * A copier of a shared batch, the servicer or a helper: take shares until
 * none is left, copying the parts of the requests each one covers.
 * Returns the shares taken.
 */
static unsigned int mkioq_batch_copy_shares(struct mkioq_crew *crew)
{
	struct mkioq_batch *b = container_of(crew, struct mkioq_batch, crew);
	unsigned int k = 0, taken = 0, chunk, i;
	u64 at, end, start, n;

	/*
	 * Relaxed: the cursor only hands out distinct shares. What the
	 * shares are was published by queue_work() (mkioq_crew_run()), and
	 * the copies are ordered before the batch ends by flush_work().
	 */
	while ((chunk = atomic_fetch_inc_relaxed(&b->next_chunk)) <
	       b->nr_chunks) {
		at = (u64)chunk * MKIOQ_SHARE_CHUNK;
		end = min(at + MKIOQ_SHARE_CHUNK,
			  b->copy_end[b->nr_copies - 1]);
		/* Shares come in increasing order: requests too. */
		for (; at < end; at += n) {
			while (b->copy_end[k] <= at)
				k++;
			i = b->copy_req[k];
			start = b->copy_end[k] - b->req[i].byte_count;
			n = min(end, b->copy_end[k]) - at;
			mkioq_copy_chunk(&b->dst[i]->map,
					 b->dst_off[i] + at - start,
					 &b->src[i]->map,
					 b->src_off[i] + at - start, n, false);
		}
		taken++;
		cond_resched();
	}
	return taken;
}

/* Share the copies with the crew if that is worth it and allowed. */
static bool mkioq_batch_share(struct mkioq_batch *b)
{
	u64 bytes;

	if (!b->crew.max_helpers || !b->nr_copies)
		return false;
	bytes = b->copy_end[b->nr_copies - 1];
	if (bytes < MKIOQ_SHARE_MIN_BYTES || !mkioq_batch_independent(b))
		return false;
	b->nr_chunks = DIV_ROUND_UP_ULL(bytes, MKIOQ_SHARE_CHUNK);
	atomic_set(&b->next_chunk, 0);
	b->helper_chunks = mkioq_crew_run(&b->crew, b->nr_chunks - 1);
	return true;
}

/* At setup, before any pass: copy_workers as SETUP checked it. */
void mkioq_batch_init(struct mkioq_batch *b, unsigned int copy_workers)
{
	mkioq_crew_init(&b->crew, copy_workers, mkioq_batch_copy_shares);
}

/*
 * Add request @req, just claimed and already failed with @err (a storage
 * request that mkioq_storage.c rejected), so that it completes with the
 * pass's other requests.
 */
void mkioq_batch_add_failed(struct mkioq_batch *b, const struct mkioq_req *req,
			    int err)
{
	unsigned int i = b->nr++;

	b->req[i] = *req;
	b->result[i] = err;
}

/*
 * Execute the batch's requests in order; b->result[i] becomes the bytes
 * moved or a negative errno. A request that fails moves no byte.
 */
void mkioq_batch_execute(struct mkioq_batch *b)
{
	unsigned int i, k;
	u64 bytes = 0;
	int ret;

	for (i = 0; i < b->nr_bufs; i++) {
		ret = dma_buf_begin_cpu_access(b->buf[i], b->dir[i]);
		/* Interrupted fence wait: never show ERESTARTSYS to users. */
		b->buf_err[i] = ret == -ERESTARTSYS ? -EINTR : ret;
	}

	/* Copies cannot fail: a request's result is known before its copy. */
	b->nr_copies = 0;
	for (i = 0; i < b->nr; i++) {
		if (b->result[i])
			continue;
		ret = b->buf_err[b->src_buf[i]] ?: b->buf_err[b->dst_buf[i]];
		if (ret) {
			b->result[i] = ret;
			continue;
		}
		b->result[i] = b->req[i].byte_count;
		bytes += b->req[i].byte_count;
		b->copy_req[b->nr_copies] = i;
		b->copy_end[b->nr_copies++] = bytes;
	}

	b->helper_chunks = 0;
	b->shared = mkioq_batch_share(b);
	for (k = 0; !b->shared && k < b->nr_copies; k++) {
		i = b->copy_req[k];
		mkioq_copy(b->dst[i], b->dst_off[i], b->src[i], b->src_off[i],
			   b->req[i].byte_count);
	}

	/*
	 * The bytes are in place: a failure to flush them for a device is
	 * the exporter's to report, and must not turn done copies into
	 * errors that promise nothing changed.
	 */
	for (i = 0; i < b->nr_bufs; i++)
		if (!b->buf_err[i] &&
		    dma_buf_end_cpu_access(b->buf[i], b->dir[i]))
			pr_warn_ratelimited("mkioq: end_cpu_access failed\n");

	for (i = 0; i < b->nr_handles; i++) {
		b->bucket[b->handle_bucket[i]] = 0;
		mkioq_handle_put(b->handle[i]);
	}
}

// SPDX-License-Identifier: MIT
/*
 * The engine's service: claim PUBLISHED slots, copy between handles,
 * complete. The module's driver/mkioq_service.c and mkioq_copy.c, with
 * several workers instead of one agent:
 *
 *  - each worker sweeps its own slots of the ring in every pass, and the
 *    others' now and then (engine.h: ENGINE_SLOT_GROUP), claims each
 *    request with a compare-and-swap PUBLISHED -> CLAIMED (workers may
 *    contend; each request is serviced exactly once) and copies it before
 *    claiming the next; requests complete when the pass's batch ends
 *    (below: at the end of the pass, before a long copy or a file
 *    request, or when a dma-buf bracket ends), so that a worker told to
 *    stop ends its pass after the request in hand, with nothing left
 *    CLAIMED;
 *  - a claimed slot's words are read exactly once, into a struct
 *    engine_req, and after that the ring is written only at
 *    BYTE_COUNT/TAG and STATUS of a slot this engine claimed;
 *  - slots whose SRC is 0 are host-published ingests that belong to their
 *    consumer: never claimed, and given back PUBLISHED if a claim finds
 *    SRC 0 after all (ABA);
 *  - requests are validated as mkioq_batch_prepare() does, in its order,
 *    with their handles looked up and referenced under the worker's lock
 *    from the claim on (engine_handle.c; one reference per handle and
 *    pass, engine_handle_lookup());
 *  - a FENCE completes only when what it follows has completed, whoever
 *    claimed it (below); while held its slot stays CLAIMED, and other
 *    workers keep servicing.
 *
 * FENCEs. When a FENCE is claimed the engine notes, after the claim's
 * barrier, every other slot that reads CLAIMED (another worker's request
 * in hand, another engine's claim, a producer's EMPTY -> CLAIMED
 * reservation) and every one that reads PUBLISHED with a non-zero SRC: a
 * request published before the FENCE, which the claim of the FENCE
 * synchronised with, reads PUBLISHED or a later state. The FENCE
 * completes OK when each noted slot has been seen to leave its state,
 * a PUBLISHED one that was seen CLAIMED since to leave CLAIMED too, and a
 * CLAIMED one seen PUBLISHED since (a reservation, now a request) to be
 * claimed and completed:
 * the requests published before it have then been claimed and completed
 * first, by any worker. The engine's own completions of a slot are
 * counted (comp_seq), so that one of them after the FENCE was claimed
 * proves the noted state ended, although the slot may read CLAIMED again
 * at every look (ABA). Held FENCEs are looked at after every pass of any
 * worker, so at least every sleep_us while the workers sleep. A FENCE
 * never waits for a FENCE claimed after it (they would wait for each
 * other). FENCEs still held when the engine stops complete ERROR
 * ECANCELED.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include "engine.h"

/*
 * The slots of @mask whose STATUS reads PUBLISHED, in one sweep
 * (mkioq_published()).
 */
static uint64_t engine_published(const struct mkioq_engine *e, uint64_t mask)
{
	uint64_t published = 0;
	uint32_t i;

	for (; mask; mask &= mask - 1) {
		i = (uint32_t)__builtin_ctzll(mask);
		published |= (uint64_t)(ring_get(e->q, i, MKIOQ_WORD_STATUS) ==
					MKIOQ_STATE_PUBLISHED) << i;
	}
	/*
	 * The other words of those slots are read after their STATUS:
	 * pairs with the producer's release store of PUBLISHED.
	 */
	atomic_thread_fence(memory_order_acquire);
	return published;
}

/*
 * Claim slot @i, seen PUBLISHED, if it holds a request for us, and read
 * its words once (ring_claim(), as the module's mkioq_claim() does);
 * count the claims lost to another claimer and the ingests handed back.
 */
static bool engine_claim(struct mkioq_engine *e, struct engine_worker *w,
			 uint32_t i, struct engine_req *req)
{
	switch (ring_claim(e->q, i, &req->rq)) {
	case RING_CLAIMED:
		break;
	case RING_CLAIM_LOST:
		WORKER_COUNT(w->claim_races, 1);
		return false;
	case RING_CLAIM_HANDED_BACK:
		WORKER_COUNT(w->handed_back, 1);
		return false;
	default:
		/* A host-published ingest: its consumer's, left alone. */
		return false;
	}
	req->slot = i;
	WORKER_COUNT(w->claimed, 1);
	return true;
}

/*
 * A validated request: its handles (referenced) and its two addresses;
 * for a request on a file handle, the memory side's address and @pos in
 * the file.
 */
struct engine_job {
	struct engine_handle *src, *dst;
	bool src_own, dst_own;	/* the request's own references */
	uint8_t *from, *to;
	uint64_t pos;
};

/* Drop what a request holds of @h: its own reference only. */
static void engine_job_put(struct mkioq_engine *e, struct engine_handle *h,
			   bool own)
{
	if (h && own)
		engine_handle_put(e, h);
}

/* Does [off, off + len) fit the handle's range? (mkioq_check_range()) */
static int engine_check_range(const struct engine_handle *h, uint64_t off,
			      uint32_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(off, (uint64_t)len, &end))
		return -EOVERFLOW;
	if (end > h->length)
		return -ERANGE;
	return 0;
}

/*
 * Validate @req, just claimed, with the worker's lock held: 0 if it is to
 * be copied, else its errno. mkioq_batch_prepare(), check for check:
 * the op, the size, both handles looked up before either's access is
 * checked, then the source's range and the destination's.
 */
static int engine_prepare(struct mkioq_engine *e, struct engine_worker *w,
			  const struct engine_req *req, struct engine_job *job)
{
	const struct engine_handle *file;
	uint64_t src_off, dst_off;
	int ret;

	switch (req->rq.op) {
	case MKIOQ_OP_READ:
		src_off = req->rq.offset;
		dst_off = 0;
		break;
	case MKIOQ_OP_WRITE:
		src_off = 0;
		dst_off = req->rq.offset;
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (req->rq.byte_count > ENGINE_MAX_BYTE_COUNT)
		return -EFBIG;
	job->src = engine_handle_lookup(e, w, req->rq.src_handle,
					&job->src_own);
	job->dst = engine_handle_lookup(e, w, req->rq.dst_handle,
					&job->dst_own);
	if (!job->src || !job->dst)
		return -ENOENT;
	/* A file handle: only READ's source or WRITE's destination. */
	if (job->src->fd >= 0 || job->dst->fd >= 0) {
		bool rd = req->rq.op == MKIOQ_OP_READ;

		if ((rd ? job->src : job->dst)->fd < 0 ||
		    (rd ? job->dst : job->src)->fd >= 0)
			return -EXDEV;
	}
	if (!(job->src->access & MKIOQ_ACCESS_READ) ||
	    !(job->dst->access & MKIOQ_ACCESS_WRITE))
		return -EACCES;
	ret = engine_check_range(job->src, src_off, req->rq.byte_count);
	if (!ret)
		ret = engine_check_range(job->dst, dst_off, req->rq.byte_count);
	if (ret)
		return ret;
	/* O_DIRECT: OFFSET and BYTE_COUNT keep the alignment, checked last. */
	file = job->src->fd >= 0 ? job->src : job->dst;
	if (file->dio_align &&
	    (req->rq.offset | req->rq.byte_count) % file->dio_align)
		return -EINVAL;
	if (job->src->fd >= 0) {
		job->pos = job->src->offset + src_off;
		job->to = job->dst->base;
	} else if (job->dst->fd >= 0) {
		job->pos = job->dst->offset + dst_off;
		job->from = job->src->base;
	} else {
		job->from = job->src->base + src_off;
		job->to = job->dst->base + dst_off;
	}
	return 0;
}

/*
 * dma-buf brackets. The module begins CPU access to every dma-buf of a
 * pass once, copies, ends the access, then completes the pass's requests
 * (mkioq_batch_execute()). A worker does the same over the requests it
 * services in one pass: DMA_BUF_IOCTL_SYNC START on a buffer's first use
 * in the pass (READ for a source, WRITE for a destination, RW for both),
 * END on every such buffer at the end of the pass, and only then the
 * STATUS of the requests copied inside the bracket, so that a device
 * that sees OK sees the bytes flushed for it. A START that fails fails
 * every request of the bracket that uses the buffer, with its errno, and
 * moves no byte; a failed END is the exporter's to report and does not
 * undo a done copy. Requests between host-memory handles need no bracket;
 * they complete with the batch too, before ENGINE_POST_BYTES of copying
 * follow them (engine.h). A bracket also ends early after
 * ENGINE_BATCH_BYTES, and before a buffer is used in a direction it was
 * not begun for.
 */

static struct engine_open *engine_batch_find(struct engine_batch *b,
					     const struct engine_buf *buf)
{
	unsigned int i;

	for (i = 0; i < b->nopen; i++)
		if (b->open[i].buf == buf)
			return &b->open[i];
	return NULL;
}

/* End the bracket: END every buffer, then complete what was copied. */
static void engine_batch_flush(struct mkioq_engine *e, struct engine_worker *w)
{
	struct engine_batch *b = &w->batch;
	unsigned int i;

	for (i = 0; i < b->nopen; i++)
		if (!b->open[i].err)
			engine_buf_sync(b->open[i].buf,
					DMA_BUF_SYNC_END | b->open[i].dir);
	engine_complete_batch(e, w, b->done, b->ndone);
	for (i = 0; i < b->ndone; i++) {
		engine_job_put(e, b->done[i].src, b->done[i].src_own);
		engine_job_put(e, b->done[i].dst, b->done[i].dst_own);
	}
	b->nopen = 0;
	b->ndone = 0;
	b->bytes = 0;
}

/* START on @buf in this bracket, if not yet; its errno, or 0. */
static int engine_batch_open(struct engine_batch *b,
			     const struct engine_buf *buf, uint64_t dir)
{
	struct engine_open *o = engine_batch_find(b, buf);

	if (o)
		return o->err;
	o = &b->open[b->nopen++];
	o->buf = buf;
	o->dir = dir;
	o->err = engine_buf_sync(buf, DMA_BUF_SYNC_START | dir);
	return o->err;
}

/* Would @buf, if open, need a direction it was not begun for? */
static bool engine_batch_conflicts(struct engine_batch *b,
				   const struct engine_buf *buf, uint64_t dir)
{
	struct engine_open *o = buf ? engine_batch_find(b, buf) : NULL;

	return o && (dir & ~o->dir);
}

/*
 * pread() or pwrite() of @n bytes at @pos of a file handle registered
 * O_DIRECT, through the worker's page-aligned bounce buffer (direct I/O
 * needs aligned memory; the module's mkioq_storage_dio()), until done,
 * the end of the file (a short READ: the next position would not be
 * aligned), or an error. Returns the bytes moved or a negative errno.
 */
static ssize_t engine_dio(struct engine_worker *w, int fd, bool rd,
			  uint8_t *to, const uint8_t *from, size_t n,
			  uint64_t pos, uint32_t align)
{
	size_t done = 0, c;
	ssize_t r;

	if (!n)
		return 0;
	if (!w->dio_buf &&
	    posix_memalign((void **)&w->dio_buf,
			   (size_t)sysconf(_SC_PAGESIZE), ENGINE_DIO_BYTES)) {
		w->dio_buf = NULL;
		return -ENOMEM;
	}
	while (done < n) {
		c = n - done < ENGINE_DIO_BYTES ? n - done : ENGINE_DIO_BYTES;
		if (!rd)
			memcpy(w->dio_buf, from + done, c);
		r = rd ? pread(fd, w->dio_buf, c, (off_t)(pos + done)) :
			 pwrite(fd, w->dio_buf, c, (off_t)(pos + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (rd)
			memcpy(to + done, w->dio_buf, (size_t)r);
		done += (size_t)r;
		if ((size_t)r < c && (rd || !r || done % align))
			break;
	}
	return (ssize_t)done;
}

/* pread() or pwrite() through the page cache until done or end of file. */
static ssize_t engine_buffered(int fd, bool rd, uint8_t *to,
			       const uint8_t *from, size_t n, uint64_t pos)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = rd ? pread(fd, to + done, n - done, (off_t)(pos + done)) :
			 pwrite(fd, from + done, n - done,
				(off_t)(pos + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		/* End of file (READ), or a file system that wrote nothing. */
		if (!r)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/*
 * A request on a file handle, served by worker @w now, as the module's
 * storage worker does (driver/mkioq_storage.c): CPU access to the dma-buf
 * side for this request alone (after ending @w's bracket if that has the
 * buffer open), pread() or pwrite() at the file position until done or
 * end of file (through a bounce buffer for O_DIRECT), errno for errno.
 * Other workers serve the ring meanwhile.
 */
static int engine_file_io(struct mkioq_engine *e, struct engine_worker *w,
			  const struct engine_req *req,
			  const struct engine_job *job)
{
	bool rd = req->rq.op == MKIOQ_OP_READ;
	const struct engine_handle *file = rd ? job->src : job->dst;
	const struct engine_buf *mb = (rd ? job->dst : job->src)->buf;
	uint64_t dir = rd ? DMA_BUF_SYNC_WRITE : DMA_BUF_SYNC_READ;
	size_t n = req->rq.byte_count;
	ssize_t r;
	int ret, fl;

	/*
	 * The batch's completions go out first (a file request may take
	 * milliseconds), and its bracket must end if it has the buffer open.
	 */
	if (w->batch.ndone || (mb && engine_batch_find(&w->batch, mb)))
		engine_batch_flush(e, w);
	if (mb) {
		ret = engine_buf_sync(mb, DMA_BUF_SYNC_START | dir);
		if (ret)
			return ret;
	}
	if (file->dio_align) {
		r = engine_dio(w, file->fd, rd, job->to, job->from, n,
			       job->pos, file->dio_align);
	} else {
		/*
		 * The module's EINVAL for a buffered handle whose file
		 * gained O_DIRECT after registration (fcntl(F_SETFL) on the
		 * shared description): its memory is not aligned for it.
		 */
		fl = fcntl(file->fd, F_GETFL);
		if (fl >= 0 && (fl & O_DIRECT))
			r = -EINVAL;
		else
			r = engine_buffered(file->fd, rd, job->to, job->from,
					    n, job->pos);
	}
	if (mb)
		engine_buf_sync(mb, DMA_BUF_SYNC_END | dir);
	return (int)r;
}

/*
 * Copy a validated request inside worker @w's batch. Returns true if it
 * went into the batch (completed at the flush), false if it is to be
 * completed now with *@result (a file request).
 */
static bool engine_execute(struct mkioq_engine *e, struct engine_worker *w,
			   const struct engine_req *req,
			   const struct engine_job *job, int *result)
{
	const struct engine_buf *sb = job->src->buf, *db = job->dst->buf;
	uint64_t sdir = DMA_BUF_SYNC_READ, ddir = DMA_BUF_SYNC_WRITE;
	uintptr_t from = (uintptr_t)job->from, to = (uintptr_t)job->to;
	struct engine_batch *b = &w->batch;
	size_t n = req->rq.byte_count;
	struct engine_done *d;
	int ret = 0;

	if (job->src->fd >= 0 || job->dst->fd >= 0) {
		*result = engine_file_io(e, w, req, job);
		return false;
	}
	if (sb && sb == db) {
		sdir = DMA_BUF_SYNC_RW;
		db = NULL;
	}
	/* What waits in a host-memory batch does not wait for a long copy. */
	if (b->ndone && !b->nopen && n >= ENGINE_POST_BYTES)
		engine_batch_flush(e, w);
	if (sb || db) {
		if (engine_batch_conflicts(b, sb, sdir) ||
		    engine_batch_conflicts(b, db, ddir))
			engine_batch_flush(e, w);
		if (sb)
			ret = engine_batch_open(b, sb, sdir);
		if (db) {
			int derr = engine_batch_open(b, db, ddir);

			ret = ret ? ret : derr;
		}
	}
	if (!ret) {
		/* Overlapping ranges (of one buffer): one memmove. */
		if (n && to < from + n && from < to + n)
			memmove(job->to, job->from, n);
		else if (n)
			memcpy(job->to, job->from, n);
		ret = (int)n;
	}
	*result = ret;
	d = &b->done[b->ndone++];
	d->req = *req;
	d->result = ret;
	d->src = job->src;
	d->dst = job->dst;
	d->src_own = job->src_own;
	d->dst_own = job->dst_own;
	b->bytes += n;
	if (b->bytes >= (b->nopen ? ENGINE_BATCH_BYTES : ENGINE_POST_BYTES))
		engine_batch_flush(e, w);
	return true;
}

/* ------------------------------------------------------------------ */
/* FENCEs                                                              */
/* ------------------------------------------------------------------ */

/*
 * Does slot @i, whose STATUS read @st, hold a request for an engine:
 * PUBLISHED with a source, not a host-published ingest (SRC 0)?
 */
static bool slot_holds_request(const struct mkioq_engine *e, uint32_t i,
			       uint32_t st)
{
	return st == MKIOQ_STATE_PUBLISHED &&
	       ring_get(e->q, i, MKIOQ_WORD_SRC_HANDLE) != MKIOQ_HANDLE_NONE;
}

/*
 * Has noted slot @i of held FENCE @f left the state it was noted in?
 * Called with fence_lock held. See the top of this file.
 */
static bool fence_slot_done(struct mkioq_engine *e, struct engine_fence *f,
			    uint32_t i)
{
	uint64_t bit = 1ULL << i;
	uint32_t st;

	/*
	 * Acquire: pairs with the release increment in engine_complete(),
	 * after its STATUS store: that completion is visible here.
	 */
	if (atomic_load_explicit(&e->comp_seq[i], memory_order_acquire) !=
	    f->seq[i])
		return true;
	/* A held FENCE: wait for an earlier one, never for a later one. */
	if (atomic_load_explicit(&e->held, memory_order_relaxed) & bit)
		return e->fences[i].order > f->order;
	/*
	 * Acquire: pairs with the release store of STATUS by whoever wrote
	 * it last (producer, another engine, a worker's engine_complete()),
	 * so a completion seen here is visible to whoever acquires the
	 * FENCE's OK that this engine writes after it.
	 */
	st = ring_status(e->q, i);
	if (f->wait_published & bit) {
		if (slot_holds_request(e, i, st))
			return false;
		if (st == MKIOQ_STATE_CLAIMED) {
			/* Claimed since: now wait for that claim to end. */
			f->wait_published &= ~bit;
			f->wait_claimed |= bit;
			return false;
		}
		return true;
	}
	if (slot_holds_request(e, i, st)) {
		/*
		 * A producer's reservation, published since: wait for its
		 * request as for one published before the FENCE, whichever
		 * worker owns the slot (at worst, a later request in the
		 * slot, which this engine completes too).
		 */
		f->wait_claimed &= ~bit;
		f->wait_published |= bit;
		return false;
	}
	return st != MKIOQ_STATE_CLAIMED;
}

/*
 * Complete the held FENCEs whose noted slots all left their state; returns
 * how many. A FENCE may wait for an earlier one: look again after each
 * round that completed some, so a chain completes at once. fence_lock.
 */
static unsigned int engine_fences_complete(struct mkioq_engine *e)
{
	uint64_t held, due, pend;
	unsigned int n = 0;
	uint32_t i, j;

	for (;;) {
		held = atomic_load_explicit(&e->held, memory_order_relaxed);
		due = 0;
		for (; held; held &= held - 1) {
			struct engine_fence *f = &e->fences[__builtin_ctzll(held)];

			pend = f->wait_claimed | f->wait_published;
			for (; pend; pend &= pend - 1) {
				j = (uint32_t)__builtin_ctzll(pend);
				if (fence_slot_done(e, f, j)) {
					f->wait_claimed &= ~(1ULL << j);
					f->wait_published &= ~(1ULL << j);
				}
			}
			if (!(f->wait_claimed | f->wait_published))
				due |= 1ULL << f->req.slot;
		}
		if (!due)
			break;
		for (held = due; held; held &= held - 1) {
			i = (uint32_t)__builtin_ctzll(held);
			engine_complete(e, &e->fences[i].req, 0);
			n++;
		}
		/*
		 * After their OK: until then no worker claims a held slot,
		 * whatever a producer wrote there (the module's rule).
		 */
		atomic_fetch_and_explicit(&e->held, ~due, memory_order_release);
	}
	return n;
}

/* Hold FENCE @req, just claimed, until what it follows has completed. */
static void engine_fence_hold(struct mkioq_engine *e,
			      const struct engine_req *req)
{
	struct engine_fence *f = &e->fences[req->slot];
	uint32_t i, st;

	pthread_mutex_lock(&e->fence_lock);
	f->req = *req;
	f->order = ++e->fence_order;
	f->wait_claimed = 0;
	f->wait_published = 0;
	/*
	 * After the claim's acquire: every request published before the
	 * FENCE (whose PUBLISHED happens before the FENCE's, which the
	 * claim read) reads PUBLISHED or a later state here.
	 */
	for (i = 0; i < e->slot_count; i++) {
		if (i == req->slot)
			continue;
		st = ring_status(e->q, i);
		if (st == MKIOQ_STATE_CLAIMED)
			f->wait_claimed |= 1ULL << i;
		else if (slot_holds_request(e, i, st))
			f->wait_published |= 1ULL << i;
		/* Pairs with the release increment in engine_complete(). */
		f->seq[i] = atomic_load_explicit(&e->comp_seq[i],
						 memory_order_acquire);
	}
	/* Relaxed: the workers' exclusion of held slots needs no order. */
	atomic_fetch_or_explicit(&e->held, 1ULL << req->slot,
				 memory_order_relaxed);
	engine_fences_complete(e);
	pthread_mutex_unlock(&e->fence_lock);
}

/* The engine stopped: complete the FENCEs still held with -ECANCELED. */
void engine_fences_cancel(struct mkioq_engine *e)
{
	uint64_t held;

	pthread_mutex_lock(&e->fence_lock);
	held = atomic_load_explicit(&e->held, memory_order_relaxed);
	for (; held; held &= held - 1)
		engine_complete(e, &e->fences[__builtin_ctzll(held)].req,
				-ECANCELED);
	atomic_store_explicit(&e->held, 0, memory_order_relaxed);
	pthread_mutex_unlock(&e->fence_lock);
}

/* ------------------------------------------------------------------ */
/* Passes                                                              */
/* ------------------------------------------------------------------ */

/* Claim and service slot @i; 1 if the engine took it. */
static unsigned int engine_service_slot(struct mkioq_engine *e,
					struct engine_worker *w, uint32_t i)
{
	struct engine_job job = { .src = NULL };
	struct engine_req req;
	int result;

	pthread_mutex_lock(&w->lock);
	if (!engine_claim(e, w, i, &req)) {
		pthread_mutex_unlock(&w->lock);
		return 0;
	}
	if (req.rq.op == MKIOQ_OP_FENCE) {
		/* FENCEs are not validated: their other words are ignored. */
		pthread_mutex_unlock(&w->lock);
		engine_fence_hold(e, &req);
		return 1;
	}
	result = engine_prepare(e, w, &req, &job);
	pthread_mutex_unlock(&w->lock);

	if (!result && engine_execute(e, w, &req, &job, &result)) {
		/* In the batch: the flush completes it, and puts. */
		if (result > 0)
			WORKER_COUNT(w->bytes, (uint64_t)result);
		return 1;
	}
	if (result > 0)
		WORKER_COUNT(w->bytes, (uint64_t)result);
	engine_job_put(e, job.src, job.src_own);
	engine_job_put(e, job.dst, job.dst_own);
	engine_complete(e, &req, result);
	return 1;
}

/*
 * Worker @id's own slots: groups of ENGINE_SLOT_GROUP slots (fewer when
 * there are more workers than groups) dealt out in turn. One worker owns
 * every slot.
 */
uint64_t engine_own_slots(const struct mkioq_engine *e, unsigned int id)
{
	uint32_t group = e->slot_count / e->nworkers, i;
	uint64_t own = 0;

	if (group > ENGINE_SLOT_GROUP)
		group = ENGINE_SLOT_GROUP;
	if (!group)
		group = 1;
	for (i = 0; i < e->slot_count; i++)
		if (i / group % e->nworkers == id)
			own |= 1ULL << i;
	return own;
}

/*
 * Of the others' slots @now PUBLISHED, those that were PUBLISHED at the
 * previous look with no completion of theirs since: the same request
 * still waiting. Relaxed: a guess that only picks which slots to try to
 * claim; the claim's compare-and-swap decides.
 */
static uint64_t engine_waited(struct mkioq_engine *e, struct engine_worker *w,
			      uint64_t now)
{
	uint64_t waited = 0, m, seq;
	uint32_t i;

	for (m = now; m; m &= m - 1) {
		i = (uint32_t)__builtin_ctzll(m);
		seq = atomic_load_explicit(&e->comp_seq[i],
					   memory_order_relaxed);
		if ((w->others_seen >> i & 1) && w->others_seq[i] == seq)
			waited |= 1ULL << i;
		w->others_seq[i] = seq;
	}
	w->others_seen = now;
	return waited;
}

/*
 * One pass of worker @w over the ring: claim and service every request
 * it can get, then look at the held FENCEs. Returns the requests
 * serviced and FENCEs claimed or completed. The worker sweeps its own
 * slots, in slot order, as the module does; every ENGINE_STEAL_PASSES
 * passes it also looks at the others' and takes those that hold the
 * request they held at its previous look (engine.h), so a request whose
 * owner is busy with a long copy or a file waits a few passes, not the
 * whole copy.
 */
unsigned int engine_pass(struct mkioq_engine *e, struct engine_worker *w)
{
	uint64_t all = e->slot_count == 64 ? ~0ULL :
		       (1ULL << e->slot_count) - 1;
	bool look = e->nworkers > 1 &&
		    ++w->steal_tick % ENGINE_STEAL_PASSES == 0;
	uint64_t published, candidates;
	unsigned int n = 0;

	/*
	 * A held FENCE's slot is ours until we complete it, whatever a
	 * producer wrote there since.
	 */
	published = engine_published(e, look ? all : w->own) &
		    ~atomic_load_explicit(&e->held, memory_order_relaxed);
	candidates = published & w->own;
	if (look)
		candidates |= engine_waited(e, w, published & ~w->own);
	for (; candidates; candidates &= candidates - 1) {
		/* Stop after the request in hand. */
		if (atomic_load_explicit(&e->stop, memory_order_relaxed))
			break;
		n += engine_service_slot(e, w,
					 (uint32_t)__builtin_ctzll(candidates));
	}
	/*
	 * The pass's batch ends before its FENCEs are looked at, and the
	 * handles it used are let go after it.
	 */
	if (w->batch.nopen || w->batch.ndone)
		engine_batch_flush(e, w);
	engine_hcache_drop(e, w);
	if (atomic_load_explicit(&e->held, memory_order_relaxed) &&
	    !pthread_mutex_trylock(&e->fence_lock)) {
		n += engine_fences_complete(e);
		pthread_mutex_unlock(&e->fence_lock);
	}
	WORKER_COUNT(w->passes, 1);
	return n;
}

/* SPDX-License-Identifier: MIT */
/*
 * mkioq_cuda.cuh: the megakernel's side of an mkioq ring, in CUDA C++.
 *
 * A persistent kernel cannot make system calls; it asks the host for data
 * by writing requests into the ring's 32-byte slots (<linux/mkioq.h>),
 * which an engine on the host services: the mkioq kernel module
 * (/dev/mkioqN) or libmkioq's userspace engine (<mkioq_engine.h>). This
 * header is everything the GPU needs: a view of the ring, slot allocation
 * among lanes, submission, completion tests and waits, a warp-level
 * request and a block-level batch reaped out of order. Its host-side part
 * (mkioq_cuda_map_ring()) maps a struct mkioq_queue's ring for the GPU.
 *
 * Requires nvcc with C++17 and sm_70 or later (system-scope acquire and
 * release, __nanosleep, %globaltimer); CUDA 13, whose oldest target is
 * sm_75, builds it for sm_75, sm_80 and sm_90 in `make check`, and it has
 * run on sm_90 (H200, tests/gpu/).
 *
 * The rule that keeps the ring correct on a PCIe GPU (see "GPU producers"
 * in Documentation/protocol.rst): a GPU's system-scope read-modify-write
 * atomics on host memory are not atomic against a CPU's
 * (cudaDevAttrHostNativeAtomicSupported is 0 on PCIe parts), so the GPU
 * never compare-and-swaps a ring word. It owns a slot from the moment it
 * takes it from a slot_pool (device memory, device-scope atomics) until it
 * gives it back; it writes only EMPTY slots' request words and STATUS =
 * PUBLISHED, then after a completion STATUS = EMPTY, with plain stores,
 * system-scope release stores and acquire loads. The host's engine CASes
 * STATUS PUBLISHED -> CLAIMED, which is safe because no GPU writes a slot
 * while it is PUBLISHED or CLAIMED. The slots of one ring have producers
 * of one side only: never mix GPU lanes and CPU producers (which reserve
 * EMPTY slots by CAS) on one ring.
 */
#ifndef MKIOQ_CUDA_CUH
#define MKIOQ_CUDA_CUH

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <cuda/atomic>
#include <linux/mkioq.h>

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 700
#error "mkioq_cuda.cuh needs sm_70 or later"
#endif

namespace mkioq {

/* The GPU's view of a ring: where slot 0 is, in device addresses. */
struct ring {
	uint32_t *words;	/* slot_count * MKIOQ_SLOT_WORDS words */
	uint32_t slot_count;
};

/* A request in flight: its slot and the tag its submitter gave it. */
struct request {
	uint32_t slot;
	uint32_t tag;
};

/* The outcome of a request. */
struct result {
	int32_t res;		/* bytes moved (BYTE_COUNT), or a negative errno */
	uint32_t tag;		/* OK: the slot's TAG word; ERROR: the submitter's */
};

/*
 * Which slots no lane holds, in device memory: bit i set means slot i is
 * EMPTY and free to take. Lanes take and give back slots with
 * device-scope atomics on this word, never with atomics on the ring.
 */
struct slot_pool {
	unsigned long long free;
};

using sys_u32 = cuda::atomic_ref<uint32_t, cuda::thread_scope_system>;
using dev_u64 = cuda::atomic_ref<unsigned long long,
				 cuda::thread_scope_device>;

__device__ inline uint32_t *slot_word(const ring &r, uint32_t slot,
				      uint32_t word)
{
	return r.words + slot * MKIOQ_SLOT_WORDS + word;
}

/* Nanoseconds of the GPU's global timer. */
__device__ inline uint64_t now_ns()
{
	uint64_t t;

	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
	return t;
}

/*
 * Take a free slot of @pool, preferring the one at or after @hint (a warp
 * or block index spreads lanes over the ring). Returns the slot, or
 * -EBUSY if every slot is held.
 */
__device__ inline int slot_alloc(slot_pool *pool, uint32_t hint)
{
	dev_u64 freem(pool->free);
	unsigned long long m = freem.load(cuda::memory_order_relaxed);
	uint32_t h = hint % 64;

	while (m) {
		/* The lowest free bit at or after @hint, else the lowest. */
		unsigned long long above = h ? m & ~((1ULL << h) - 1) : m;
		unsigned long long bit = above ? above & -above : m & -m;

		/*
		 * Acquire: pairs with the release in slot_free(), so the
		 * previous holder's STATUS = EMPTY precedes our stores into
		 * the slot (both are this GPU's: device scope orders them).
		 */
		m = freem.fetch_and(~bit, cuda::memory_order_acquire);
		if (m & bit)
			return __ffsll((long long)bit) - 1;
	}
	return -EBUSY;
}

/* Give back a slot whose STATUS this lane set to EMPTY (recycle()). */
__device__ inline void slot_free(slot_pool *pool, uint32_t slot)
{
	/* Release: pairs with the acquire in slot_alloc(). */
	dev_u64(pool->free).fetch_or(1ULL << slot, cuda::memory_order_release);
}

/*
 * Submit a request into @slot, which the caller holds (slot_alloc()) and
 * which is EMPTY. OFFSET is 64-bit: its high word goes to OFFSET_HI.
 */
__device__ inline request submit(const ring &r, uint32_t slot, uint32_t op,
				 uint32_t src, uint32_t dst, uint64_t offset,
				 uint32_t byte_count, uint32_t tag)
{
	uint32_t *w = slot_word(r, slot, 0);

	/* Plain stores: no engine reads them before STATUS says PUBLISHED. */
	w[MKIOQ_WORD_OP] = op;
	w[MKIOQ_WORD_SRC_HANDLE] = src;
	w[MKIOQ_WORD_DST_HANDLE] = dst;
	w[MKIOQ_WORD_OFFSET_LO] = (uint32_t)offset;
	w[MKIOQ_WORD_OFFSET_HI] = (uint32_t)(offset >> 32);
	w[MKIOQ_WORD_BYTE_COUNT] = byte_count;
	w[MKIOQ_WORD_TAG] = tag;
	/*
	 * Release, system scope: the words above reach host memory before
	 * PUBLISHED does. Pairs with the engine's claim (the acquiring CAS
	 * of libmkioq's engine, the module's smp_rmb() after it reads
	 * PUBLISHED in mkioq_published()).
	 */
	sys_u32(w[MKIOQ_WORD_STATUS]).store(MKIOQ_STATE_PUBLISHED,
					    cuda::memory_order_release);
	return request{ slot, tag };
}

__device__ inline request submit_read(const ring &r, uint32_t slot,
				      uint32_t src, uint32_t dst,
				      uint64_t src_offset, uint32_t byte_count,
				      uint32_t tag)
{
	return submit(r, slot, MKIOQ_OP_READ, src, dst, src_offset,
		      byte_count, tag);
}

__device__ inline request submit_write(const ring &r, uint32_t slot,
				       uint32_t src, uint32_t dst,
				       uint64_t dst_offset, uint32_t byte_count,
				       uint32_t tag)
{
	return submit(r, slot, MKIOQ_OP_WRITE, src, dst, dst_offset,
		      byte_count, tag);
}

/* A FENCE completes after every request claimed before it completed. */
__device__ inline request submit_fence(const ring &r, uint32_t slot,
				       uint32_t tag)
{
	/* Any non-zero SRC: a slot with SRC 0 belongs to its consumer. */
	return submit(r, slot, MKIOQ_OP_FENCE, 1, 0, 0, 0, tag);
}

/*
 * The last four words of a slot (OFFSET_HI, BYTE_COUNT, STATUS, TAG):
 * 16 bytes at a 16-byte aligned address, so that one load brings STATUS
 * and the result words in one PCIe read.
 */
struct slot_tail {
	uint32_t offset_hi, byte_count, status, tag;
};

static_assert(MKIOQ_WORD_OFFSET_HI == 4 && MKIOQ_WORD_BYTE_COUNT == 5 &&
	      MKIOQ_WORD_STATUS == 6 && MKIOQ_WORD_TAG == 7 &&
	      MKIOQ_SLOT_WORDS == 8, "slot_tail follows <linux/mkioq.h>");

/*
 * STATUS, BYTE_COUNT and TAG of @w's slot in one system-scope acquire
 * load of 16 bytes (ld.acquire.sys.b128, a scalar 128-bit access:
 * one PCIe read, where three dependent loads cost three round trips of
 * about a microsecond each). libcu++'s 16-byte atomic_ref load does not
 * assemble with CUDA 13.0 (its generated PTX has the operands swapped),
 * hence the asm.
 *
 * Why the result words read with STATUS are the engine's: the engine
 * writes BYTE_COUNT (or TAG) and then STATUS with a release store, and
 * both are in one 64-byte line of host memory. The host's stores become
 * visible in that order (x86 TSO, an arm64 store-release), and a GPU read
 * of 16 aligned bytes is served from one snapshot of the line, so a read
 * that sees OK or ERROR sees the result word written before it. The PCIe
 * specification leaves the granularity of a read that races a write to
 * the completer; every host this was run on serves such a read from one
 * line (tests/gpu/gpu_ring_test.c: gpu_results_are_never_stale checks it
 * on every run). Define MKIOQ_CUDA_SEPARATE_RESULT_LOADS for a host that
 * does not: STATUS is then loaded alone with acquire and the result
 * words after it (load_tail_separate()), a round trip more;
 * mkioq-gpu-bench measures both in one run.
 */
__device__ inline slot_tail load_tail_one_read(const uint32_t *w)
{
	slot_tail t;
	uint64_t lo, hi;

	/*
	 * Acquire, system scope: pairs with the engine's release store of
	 * OK or ERROR (smp_store_release() in the module's mkioq_complete(),
	 * ring_complete() in libmkioq's engine); the copied bytes are read
	 * after it. "memory": no access of this thread moves above it.
	 */
	asm volatile("{\n\t"
		     ".reg .b128 t;\n\t"
		     "ld.acquire.sys.b128 t, [%2];\n\t"
		     "mov.b128 {%0, %1}, t;\n\t"
		     "}"
		     : "=l"(lo), "=l"(hi)
		     : "l"(w + MKIOQ_WORD_OFFSET_HI)
		     : "memory");
	t.offset_hi = (uint32_t)lo;
	t.byte_count = (uint32_t)(lo >> 32);
	t.status = (uint32_t)hi;
	t.tag = (uint32_t)(hi >> 32);
	return t;
}

/*
 * The same words in separate loads: STATUS alone, and once it reads OK or
 * ERROR the result words after it (two round trips more). OFFSET_HI is
 * not loaded.
 */
__device__ inline slot_tail load_tail_separate(const uint32_t *w)
{
	slot_tail t = {};

	/* Acquire: pairs with the engine's release store of OK or ERROR. */
	t.status = sys_u32(*(uint32_t *)&w[MKIOQ_WORD_STATUS])
			   .load(cuda::memory_order_acquire);
	if (t.status != MKIOQ_RESULT_OK && t.status != MKIOQ_RESULT_ERROR)
		return t;
	/* Relaxed but system scope: not a stale cached copy. */
	t.byte_count = sys_u32(*(uint32_t *)&w[MKIOQ_WORD_BYTE_COUNT])
			       .load(cuda::memory_order_relaxed);
	t.tag = sys_u32(*(uint32_t *)&w[MKIOQ_WORD_TAG])
			.load(cuda::memory_order_relaxed);
	return t;
}

__device__ inline slot_tail load_tail_acquire(const uint32_t *w)
{
#ifdef MKIOQ_CUDA_SEPARATE_RESULT_LOADS
	return load_tail_separate(w);
#else
	return load_tail_one_read(w);
#endif
}

/*
 * Has @q completed? If so, fill @out and return true. One acquire load
 * over PCIe (about a microsecond) per call: load_tail_acquire().
 */
__device__ inline bool test(const ring &r, const request &q, result *out)
{
	slot_tail t = load_tail_acquire(slot_word(r, q.slot, 0));

	if (t.status == MKIOQ_RESULT_OK) {
		out->res = (int32_t)t.byte_count;
		out->tag = t.tag;
		return true;
	}
	if (t.status == MKIOQ_RESULT_ERROR) {
		/* TAG holds the positive errno: the tag is the submitter's. */
		out->res = -(int32_t)t.tag;
		out->tag = q.tag;
		return true;
	}
	return false;
}

/*
 * Wait until @q completes, for at most @timeout_ns (0: for ever), sleeping
 * between looks from @backoff_ns doubling to @backoff_max_ns (0: spin).
 * Returns 0 with @out filled, or -ETIME when the time limit passed (an
 * engine that stopped, a queue nobody services): the slot is then still
 * the engine's, neither recycle it nor give it back.
 */
__device__ inline int wait(const ring &r, const request &q, result *out,
			   uint64_t timeout_ns, uint32_t backoff_ns = 0,
			   uint32_t backoff_max_ns = 0)
{
	uint64_t start = now_ns();
	uint32_t sleep = backoff_ns;

	for (;;) {
		if (test(r, q, out))
			return 0;
		if (timeout_ns && now_ns() - start >= timeout_ns)
			return -ETIME;
		if (sleep) {
			__nanosleep(sleep);
			if (sleep < backoff_max_ns)
				sleep = sleep * 2 < backoff_max_ns ?
					sleep * 2 : backoff_max_ns;
		}
	}
}

/*
 * Hand a completed slot back to EMPTY after its result was read. Engines
 * never look at an EMPTY slot, so no host access pairs with this store;
 * relaxed (but atomic, so it is one system-scope write) is enough because
 * slot_free()'s release orders it before the next holder's stores.
 */
__device__ inline void recycle(const ring &r, const request &q)
{
	sys_u32(*slot_word(r, q.slot, MKIOQ_WORD_STATUS))
		.store(MKIOQ_STATE_EMPTY, cuda::memory_order_relaxed);
}

/* Recycle @q's slot and give it back to @pool. */
__device__ inline void release(const ring &r, slot_pool *pool,
			       const request &q)
{
	recycle(r, q);
	slot_free(pool, q.slot);
}

__device__ inline uint32_t lane_id()
{
	uint32_t lane;

	asm volatile("mov.u32 %0, %%laneid;" : "=r"(lane));
	return lane;
}

/*
 * One request for a whole warp: the lowest active lane takes a slot,
 * submits, waits and recycles; every active lane gets the result. Call it
 * from all active lanes with the same arguments. Returns 0, -ETIME (time
 * limit; the slot stays the engine's and out of the pool) or -EBUSY (no
 * slot freed within the time limit).
 */
__device__ inline int warp_request(const ring &r, slot_pool *pool,
				   uint32_t op, uint32_t src, uint32_t dst,
				   uint64_t offset, uint32_t byte_count,
				   uint32_t tag, result *out,
				   uint64_t timeout_ns,
				   uint32_t backoff_ns = 0)
{
	uint32_t mask = __activemask();
	int leader = __ffs(mask) - 1;
	int ret = 0;
	result res = { 0, tag };

	if ((int)lane_id() == leader) {
		uint64_t start = now_ns();
		int slot;

		while ((slot = slot_alloc(pool, blockIdx.x * 32 +
					  threadIdx.x / 32)) < 0 &&
		       (!timeout_ns || now_ns() - start < timeout_ns))
			__nanosleep(backoff_ns ? backoff_ns : 100);
		if (slot < 0) {
			ret = -EBUSY;
		} else {
			request q = submit(r, slot, op, src, dst, offset,
					   byte_count, tag);

			ret = wait(r, q, &res, timeout_ns, backoff_ns,
				   backoff_ns * 64);
			if (!ret)
				release(r, pool, q);
		}
	}
	/* The leader's result to every lane: shuffles order nothing else. */
	ret = __shfl_sync(mask, ret, leader);
	res.res = __shfl_sync(mask, res.res, leader);
	res.tag = __shfl_sync(mask, res.tag, leader);
	*out = res;
	return ret;
}

/*
 * A block's requests in flight, in shared memory: any thread submits into
 * it, any thread reaps completions from it as they come, out of order.
 * Initialise with batch_init() by one thread, then __syncthreads().
 */
struct block_batch {
	unsigned long long inflight;	/* slots submitted, not reaped */
	uint32_t tag[MKIOQ_MAX_SLOTS];
};

using blk_u64 = cuda::atomic_ref<unsigned long long,
				 cuda::thread_scope_block>;

__device__ inline void batch_init(block_batch *b)
{
	b->inflight = 0;
}

/*
 * Take a slot of @pool and submit a request in it for the batch. Returns
 * the slot, or -EBUSY when none is free (reap some first).
 */
__device__ inline int batch_submit(block_batch *b, const ring &r,
				   slot_pool *pool, uint32_t op, uint32_t src,
				   uint32_t dst, uint64_t offset,
				   uint32_t byte_count, uint32_t tag)
{
	int slot = slot_alloc(pool, blockIdx.x);

	if (slot < 0)
		return slot;
	b->tag[slot] = tag;
	submit(r, slot, op, src, dst, offset, byte_count, tag);
	/*
	 * Release, block scope: tag[slot] is written before a reaper can
	 * see the slot in flight; pairs with the acquire in batch_reap().
	 */
	blk_u64(b->inflight).fetch_or(1ULL << slot, cuda::memory_order_release);
	return slot;
}

/*
 * Reap one completed request of the batch, whichever completes first:
 * returns 1 with @out (and *@slot_out if not NULL) filled and the slot
 * recycled and back in @pool, 0 if none of those in flight has completed
 * yet, -ENOENT if none is in flight. Safe from many threads at once: each
 * completion is reaped exactly once.
 */
__device__ inline int batch_reap(block_batch *b, const ring &r,
				 slot_pool *pool, result *out,
				 uint32_t *slot_out = nullptr)
{
	blk_u64 inflight(b->inflight);
	/* Acquire: pairs with batch_submit()'s release; tag[] is read after. */
	unsigned long long m = inflight.load(cuda::memory_order_acquire);

	if (!m)
		return -ENOENT;
	for (; m; m &= m - 1) {
		uint32_t slot = __ffsll((long long)m) - 1;
		unsigned long long bit = 1ULL << slot;
		request q = { slot, b->tag[slot] };

		if (!test(r, q, out))
			continue;
		/* Another reaper may have taken it: the one to clear it wins. */
		if (!(inflight.fetch_and(~bit, cuda::memory_order_acq_rel) &
		      bit))
			continue;
		if (slot_out)
			*slot_out = slot;
		release(r, pool, q);
		return 1;
	}
	return 0;
}

} /* namespace mkioq */

/* ------------------------------------------------------------------ */
/* Host side: map a struct mkioq_queue's ring for the GPU.              */
/* ------------------------------------------------------------------ */

#include <cuda_runtime.h>
#include "libmkioq.h"

/**
 * struct mkioq_cuda_ring_map - a ring mapped for the current CUDA device
 * @ring:		the device view, to pass to kernels
 * @registered:		host range this helper registered (NULL when the
 *			memory was CUDA's already: cudaHostAlloc, or
 *			registered by the application)
 * @registered_len:	its length
 * @host_native_atomics: cudaDevAttrHostNativeAtomicSupported: 0 on PCIe
 *			GPUs, where GPU atomics on the ring are not atomic
 *			against the CPU's (see the rule at the top)
 */
struct mkioq_cuda_ring_map {
	mkioq::ring ring;
	void *registered;
	size_t registered_len;
	int host_native_atomics;
};

/*
 * Map @q's ring (a /dev/mkioqN mapping, a mkioq_queue_wrap() of
 * cudaHostAlloc'ed or memfd memory, or any host memory) into the current
 * CUDA device's address space: memory CUDA does not know yet is
 * registered with cudaHostRegister(cudaHostRegisterMapped). Returns 0, or
 * a negative errno with *@hint (if not NULL) set to a one-line fix.
 */
static inline int mkioq_cuda_map_ring(struct mkioq_queue *q,
				      struct mkioq_cuda_ring_map *m,
				      const char **hint)
{
	cudaPointerAttributes attr;
	const char *why = "";
	cudaError_t err;
	void *dptr = NULL;
	int dev, can_map = 0;
	int ret = 0;

	*m = mkioq_cuda_ring_map{};
	if (!q || !q->words) {
		why = "no queue: open or create it first (mkioq_queue_open(), mkioq_queue_wrap())";
		ret = -EINVAL;
		goto out;
	}
	err = cudaGetDevice(&dev);
	if (err == cudaSuccess)
		err = cudaDeviceGetAttribute(&can_map,
					     cudaDevAttrCanMapHostMemory, dev);
	if (err != cudaSuccess) {
		why = "no usable CUDA device: check nvidia-smi, the driver and CUDA_VISIBLE_DEVICES";
		ret = -ENODEV;
		goto out;
	}
	if (!can_map) {
		why = "this device cannot map host memory: use a GPU with unified addressing (sm_70 or later, 64-bit)";
		ret = -EOPNOTSUPP;
		goto out;
	}
	cudaDeviceGetAttribute(&m->host_native_atomics,
			       cudaDevAttrHostNativeAtomicSupported, dev);

	err = cudaPointerGetAttributes(&attr, q->words);
	if (err == cudaSuccess && attr.type == cudaMemoryTypeHost) {
		/* cudaHostAlloc'ed or registered already: only ask. */
		err = cudaHostGetDevicePointer(&dptr, q->words, 0);
		if (err != cudaSuccess) {
			why = "host memory is pinned but not mapped: allocate it with cudaHostAllocMapped or register it with cudaHostRegisterMapped";
			ret = -EINVAL;
		}
		goto out;
	}
	(void)cudaGetLastError();
	{
		/* Whole pages: a registration pins pages, not bytes. */
		uintptr_t page = 4096;
		uintptr_t base = (uintptr_t)q->words & ~(page - 1);
		uintptr_t end = ((uintptr_t)q->words + q->map_bytes + page - 1) &
				~(page - 1);

		err = cudaHostRegister((void *)base, end - base,
				       cudaHostRegisterMapped);
		if (err != cudaSuccess) {
			(void)cudaGetLastError();
			if (err == cudaErrorHostMemoryAlreadyRegistered) {
				why = "part of the ring's pages is registered already: register the whole ring once, or let this helper do it";
				ret = -EEXIST;
			} else if (err == cudaErrorNotSupported) {
				why = "the ring's mapping cannot be pinned (VM_PFNMAP or I/O memory): map real pages (the module's ring, a memfd, cudaHostAlloc)";
				ret = -EOPNOTSUPP;
			} else if (err == cudaErrorMemoryAllocation) {
				why = "pinning failed: raise RLIMIT_MEMLOCK or free pinned memory";
				ret = -ENOMEM;
			} else {
				why = "cudaHostRegister() failed: see cudaGetErrorString() of the CUDA error";
				ret = -EIO;
			}
			goto out;
		}
		m->registered = (void *)base;
		m->registered_len = end - base;
	}
	err = cudaHostGetDevicePointer(&dptr, q->words, 0);
	if (err != cudaSuccess) {
		cudaHostUnregister(m->registered);
		m->registered = NULL;
		why = "no device address for the ring: the device cannot map this host memory";
		ret = -EIO;
	}
out:
	if (!ret) {
		m->ring.words = (uint32_t *)dptr;
		m->ring.slot_count = q->slot_count;
	}
	if (hint)
		*hint = ret ? why : "";
	return ret;
}

/* Undo mkioq_cuda_map_ring(): unregister what it registered. */
static inline int mkioq_cuda_unmap_ring(struct mkioq_cuda_ring_map *m)
{
	cudaError_t err = cudaSuccess;

	if (m->registered)
		err = cudaHostUnregister(m->registered);
	*m = mkioq_cuda_ring_map{};
	return err == cudaSuccess ? 0 : -EIO;
}

/* A slot pool in device memory with every slot of @slot_count free. */
static inline int mkioq_cuda_pool_new(uint32_t slot_count,
				      mkioq::slot_pool **poolp)
{
	unsigned long long m = slot_count >= 64 ? ~0ULL :
			       (1ULL << slot_count) - 1;
	mkioq::slot_pool *p;

	if (!slot_count || slot_count > MKIOQ_MAX_SLOTS)
		return -EINVAL;
	if (cudaMalloc((void **)&p, sizeof(*p)) != cudaSuccess)
		return -ENOMEM;
	if (cudaMemcpy(p, &m, sizeof(m), cudaMemcpyHostToDevice) !=
	    cudaSuccess) {
		cudaFree(p);
		return -EIO;
	}
	*poolp = p;
	return 0;
}

static inline void mkioq_cuda_pool_free(mkioq::slot_pool *pool)
{
	cudaFree(pool);
}

#endif /* MKIOQ_CUDA_CUH */

// SPDX-License-Identifier: GPL-2.0
/*
 * Kernels of the GPU tests: many warps driving one ring, bad requests, a
 * FENCE, waits that must time out. Everything the GPU does to the ring
 * goes through <mkioq_cuda.cuh>, as a megakernel's would.
 */
#include <stdlib.h>
#include <string.h>

#include "mkioq_cuda.cuh"
#include "gpu_kernels.h"

struct gk_ring {
	struct mkioq_cuda_ring_map map;
	mkioq::slot_pool *pool;
};

extern "C" int gk_ring_map(struct mkioq_queue *q, struct gk_ring **rp,
			   const char **hint)
{
	struct gk_ring *r = (struct gk_ring *)calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	ret = mkioq_cuda_map_ring(q, &r->map, hint);
	if (!ret) {
		ret = mkioq_cuda_pool_new(q->slot_count, &r->pool);
		if (ret) {
			*hint = "cudaMalloc of the slot pool failed";
			mkioq_cuda_unmap_ring(&r->map);
		}
	}
	if (ret) {
		free(r);
		return ret;
	}
	*rp = r;
	return 0;
}

extern "C" void gk_ring_unmap(struct gk_ring *r)
{
	if (!r)
		return;
	mkioq_cuda_pool_free(r->pool);
	mkioq_cuda_unmap_ring(&r->map);
	free(r);
}

extern "C" int gk_host_native_atomics(const struct gk_ring *r)
{
	return r->map.host_native_atomics;
}

/* xorshift64*: each warp its own stream. */
__device__ static uint64_t gk_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

__device__ static uint8_t gk_pattern_dev(uint32_t seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed * 0xff51afd7ULL;

	return (uint8_t)(x >> 29 ^ x >> 7);
}

/*
 * Check @len bytes at @dst against the pattern from @start, the warp's
 * lanes striding over 4-byte words. The loads bypass L1 (__ldcv): the
 * same destination was read for the previous request. Returns whether
 * every byte of the warp was right.
 */
__device__ static bool gk_verify(const uint8_t *dst, uint32_t len,
				 uint32_t seed, uint64_t start)
{
	uint32_t lane = mkioq::lane_id(), words = len / 4, i;
	bool good = true;

	for (i = lane; i < words; i += 32) {
		uint32_t v = __ldcv((const unsigned int *)dst + i);

		for (int b = 0; b < 4; b++)
			good &= (uint8_t)(v >> (8 * b)) ==
				gk_pattern_dev(seed, start + 4 * i + b);
	}
	for (i = words * 4 + lane; i < len; i += 32)
		good &= __ldcv(dst + i) == gk_pattern_dev(seed, start + i);
	return __all_sync(0xffffffff, good);
}

struct gk_stress_args {
	mkioq::ring ring;
	mkioq::slot_pool *pool;
	uint32_t per_warp, src, seed, dst_first, max_bytes;
	uint64_t src_base, src_bytes, dst_stride, timeout_ns;
	uint8_t *dst;
	struct gk_stress_stats *st;
};

__global__ void gk_stress_kernel(struct gk_stress_args a)
{
	uint32_t warp = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
	uint64_t rng = 0x9e3779b97f4a7c15ULL * (warp + 1) ^ a.seed;
	const uint8_t *dst = a.dst + warp * a.dst_stride;
	struct gk_stress_stats mine = {};
	uint32_t i;

	for (i = 0; i < a.per_warp; i++) {
		/* Log-uniform sizes: as many 1-2 B requests as 0.5-1 MiB. */
		uint64_t r = gk_rand(&rng);
		uint32_t bits = 1 + (uint32_t)(r % 20);
		uint32_t len = 1 + (uint32_t)((r >> 8) % (1u << bits));
		uint64_t off;
		uint32_t tag = warp << 20 | i;
		mkioq::result res;
		int ret;

		if (len > a.max_bytes)
			len = a.max_bytes;
		off = a.src_base + (r >> 32) % (a.src_bytes - len + 1);
		ret = mkioq::warp_request(a.ring, a.pool, MKIOQ_OP_READ, a.src,
					  a.dst_first + warp, off, len, tag,
					  &res, a.timeout_ns, 200);
		if (ret) {
			mine.timeouts++;
			/* The slot stays the engine's: stop, do not hang. */
			break;
		}
		if (res.res < 0) {
			mine.errors++;
			continue;
		}
		mine.bad_tags += res.tag != tag;
		mine.bad_counts += (uint32_t)res.res != len;
		if (gk_verify(dst, len, a.seed, off)) {
			mine.ok++;
			mine.bytes += len;
		} else {
			mine.bad_bytes++;
		}
	}
	if (mkioq::lane_id() == 0) {
		atomicAdd((unsigned long long *)&a.st->ok, mine.ok);
		atomicAdd((unsigned long long *)&a.st->bytes, mine.bytes);
		atomicAdd((unsigned long long *)&a.st->errors, mine.errors);
		atomicAdd((unsigned long long *)&a.st->bad_bytes,
			  mine.bad_bytes);
		atomicAdd((unsigned long long *)&a.st->bad_tags, mine.bad_tags);
		atomicAdd((unsigned long long *)&a.st->bad_counts,
			  mine.bad_counts);
		atomicAdd((unsigned long long *)&a.st->timeouts, mine.timeouts);
	}
}

/* A CUDA failure as a negative errno (the tests print the CUDA name). */
static int gk_cuda(cudaError_t err)
{
	return err == cudaSuccess ? 0 : -EIO;
}

extern "C" int gk_stress_at(struct gk_ring *r, uint32_t warps,
			    uint32_t warps_per_block, uint32_t per_warp,
			    uint32_t src, uint64_t src_base,
			    uint64_t src_bytes, uint32_t seed,
			    uint32_t dst_first, uint8_t *dst_dev,
			    uint64_t dst_stride, uint32_t max_bytes,
			    uint64_t timeout_ns, struct gk_stress_stats *st)
{
	struct gk_stress_args a = {
		.ring = r->map.ring, .pool = r->pool, .per_warp = per_warp,
		.src = src, .seed = seed, .dst_first = dst_first,
		.max_bytes = max_bytes, .src_base = src_base,
		.src_bytes = src_bytes,
		.dst_stride = dst_stride, .timeout_ns = timeout_ns,
		.dst = dst_dev,
	};
	int ret;

	if (!warps || warps % warps_per_block)
		return -EINVAL;
	ret = gk_cuda(cudaMalloc((void **)&a.st, sizeof(*st)));
	if (ret)
		return ret;
	ret = gk_cuda(cudaMemset(a.st, 0, sizeof(*st)));
	if (!ret) {
		gk_stress_kernel<<<warps / warps_per_block,
				   32 * warps_per_block>>>(a);
		ret = gk_cuda(cudaDeviceSynchronize());
	}
	if (!ret)
		ret = gk_cuda(cudaMemcpy(st, a.st, sizeof(*st),
					 cudaMemcpyDeviceToHost));
	cudaFree(a.st);
	return ret;
}

extern "C" int gk_stress(struct gk_ring *r, uint32_t warps,
			 uint32_t warps_per_block, uint32_t per_warp,
			 uint32_t src, uint64_t src_bytes, uint32_t seed,
			 uint32_t dst_first, uint8_t *dst_dev,
			 uint64_t dst_stride, uint32_t max_bytes,
			 uint64_t timeout_ns, struct gk_stress_stats *st)
{
	return gk_stress_at(r, warps, warps_per_block, per_warp, src, 0,
			    src_bytes, seed, dst_first, dst_dev, dst_stride,
			    max_bytes, timeout_ns, st);
}

__global__ void gk_alternate_kernel(mkioq::ring ring, mkioq::slot_pool *pool,
				    uint32_t per_warp, struct gk_req good,
				    struct gk_req err, int want_errno,
				    uint64_t timeout_ns,
				    struct gk_alternate_stats *st)
{
	uint32_t warp = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
	struct gk_alternate_stats mine = {};
	uint32_t i;

	for (i = 0; i < per_warp; i++) {
		bool bad = i & 1;
		const struct gk_req *q = bad ? &err : &good;
		uint32_t tag = warp << 20 | i | (bad ? 1u << 31 : 0);
		mkioq::result res;

		if (mkioq::warp_request(ring, pool, q->op, q->src, q->dst,
					q->offset, q->byte_count, tag, &res,
					timeout_ns, 100)) {
			mine.timeouts++;
			break;
		}
		if (bad && res.res < 0) {
			mine.errors++;
			mine.bad_errno += res.res != -want_errno;
		} else if (!bad && res.res >= 0) {
			mine.ok++;
			mine.bad_ok += res.tag != tag ||
				       (uint32_t)res.res != q->byte_count;
		} else {
			mine.wrong_kind++;
		}
	}
	if (mkioq::lane_id() == 0) {
		atomicAdd((unsigned long long *)&st->ok, mine.ok);
		atomicAdd((unsigned long long *)&st->errors, mine.errors);
		atomicAdd((unsigned long long *)&st->bad_ok, mine.bad_ok);
		atomicAdd((unsigned long long *)&st->bad_errno,
			  mine.bad_errno);
		atomicAdd((unsigned long long *)&st->wrong_kind,
			  mine.wrong_kind);
		atomicAdd((unsigned long long *)&st->timeouts, mine.timeouts);
	}
}

extern "C" int gk_alternate(struct gk_ring *r, uint32_t warps,
			    uint32_t warps_per_block, uint32_t per_warp,
			    const struct gk_req *good,
			    const struct gk_req *err, int want_errno,
			    uint64_t timeout_ns,
			    struct gk_alternate_stats *st)
{
	struct gk_alternate_stats *dst;
	int ret;

	if (!warps || warps % warps_per_block)
		return -EINVAL;
	ret = gk_cuda(cudaMalloc((void **)&dst, sizeof(*dst)));
	if (ret)
		return ret;
	ret = gk_cuda(cudaMemset(dst, 0, sizeof(*dst)));
	if (!ret) {
		gk_alternate_kernel<<<warps / warps_per_block,
				      32 * warps_per_block>>>(
			r->map.ring, r->pool, per_warp, *good, *err,
			want_errno, timeout_ns, dst);
		ret = gk_cuda(cudaDeviceSynchronize());
	}
	if (!ret)
		ret = gk_cuda(cudaMemcpy(st, dst, sizeof(*st),
					 cudaMemcpyDeviceToHost));
	cudaFree(dst);
	return ret;
}

__global__ void gk_one_kernel(mkioq::ring ring, mkioq::slot_pool *pool,
			      struct gk_req req, uint64_t timeout_ns,
			      int *ret, int32_t *res, uint32_t *tag)
{
	mkioq::result out;

	*ret = mkioq::warp_request(ring, pool, req.op, req.src, req.dst,
				   req.offset, req.byte_count, req.tag, &out,
				   timeout_ns, 500);
	if (mkioq::lane_id() == 0) {
		*res = out.res;
		*tag = out.tag;
	}
}

/* Small results come back through mapped host memory. */
struct gk_out {
	int ret;
	int32_t res;
	uint32_t tag;
	uint32_t not_done;
};

static int gk_out_alloc(struct gk_out **o)
{
	if (cudaHostAlloc((void **)o, sizeof(**o), cudaHostAllocMapped) !=
	    cudaSuccess)
		return -ENOMEM;
	memset(*o, 0, sizeof(**o));
	return 0;
}

extern "C" int gk_one(struct gk_ring *r, const struct gk_req *req,
		      uint64_t timeout_ns, int32_t *res, uint32_t *tag)
{
	struct gk_out *o;
	int ret = gk_out_alloc(&o);

	if (ret)
		return ret;
	gk_one_kernel<<<1, 32>>>(r->map.ring, r->pool, *req, timeout_ns,
				 &o->ret, &o->res, &o->tag);
	ret = gk_cuda(cudaDeviceSynchronize());
	if (!ret) {
		*res = o->res;
		*tag = o->tag;
		ret = o->ret;
	}
	cudaFreeHost(o);
	return ret;
}

/*
 * Thread i of the block submits request i (in order: thread i waits for
 * i - 1's submission), the last being the FENCE; thread 0 waits for the
 * FENCE, then counts the earlier slots not yet complete.
 */
__global__ void gk_fence_kernel(mkioq::ring ring, mkioq::slot_pool *pool,
				const struct gk_req *reqs, uint32_t n,
				uint64_t timeout_ns, struct gk_out *o)
{
	__shared__ uint32_t slots[MKIOQ_MAX_SLOTS];
	__shared__ mkioq::request fence;
	uint32_t i;

	if (threadIdx.x == 0) {
		for (i = 0; i < n; i++) {
			int s = mkioq::slot_alloc(pool, i);

			slots[i] = s;
			if (s < 0)
				break;
			fence = mkioq::submit(ring, s, reqs[i].op, reqs[i].src,
					      reqs[i].dst, reqs[i].offset,
					      reqs[i].byte_count, reqs[i].tag);
		}
		if (i < n) {
			o->ret = -EBUSY;
			return;
		}
		mkioq::result res;

		o->ret = mkioq::wait(ring, fence, &res, timeout_ns, 200, 5000);
		o->res = res.res;
		o->not_done = 0;
		for (i = 0; i + 1 < n; i++) {
			mkioq::result early;
			mkioq::request q = { slots[i], reqs[i].tag };

			o->not_done += !mkioq::test(ring, q, &early);
		}
		/* Give back what completed, so the ring can be used again. */
		for (i = 0; i < n; i++) {
			mkioq::result done;
			mkioq::request q = { slots[i], reqs[i].tag };

			if (mkioq::test(ring, q, &done))
				mkioq::release(ring, pool, q);
		}
	}
}

extern "C" int gk_fence(struct gk_ring *r, const struct gk_req *reqs,
			uint32_t n, uint64_t timeout_ns, uint32_t *not_done,
			int32_t *fence_res)
{
	struct gk_req *dreqs;
	struct gk_out *o;
	int ret;

	if (!n || n > r->map.ring.slot_count)
		return -EINVAL;
	ret = gk_out_alloc(&o);
	if (ret)
		return ret;
	ret = gk_cuda(cudaMalloc((void **)&dreqs, n * sizeof(*reqs)));
	if (!ret)
		ret = gk_cuda(cudaMemcpy(dreqs, reqs, n * sizeof(*reqs),
					 cudaMemcpyHostToDevice));
	if (!ret) {
		gk_fence_kernel<<<1, 32>>>(r->map.ring, r->pool, dreqs, n,
					   timeout_ns, o);
		ret = gk_cuda(cudaDeviceSynchronize());
		cudaFree(dreqs);
	}
	if (!ret) {
		ret = o->ret;
		*not_done = o->not_done;
		*fence_res = o->res;
	}
	cudaFreeHost(o);
	return ret;
}

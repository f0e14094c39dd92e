// SPDX-License-Identifier: GPL-2.0
/*
 * Kernels of mkioq-gpu-bench: the ping-pong floor, the QD1 round trip and
 * throughput with every slot in flight, all timed on the GPU's global
 * timer. The ring is driven through <mkioq_cuda.cuh> only.
 */
#include <string.h>

#include "mkioq_cuda.cuh"
#include "gpu_bench_kernels.h"

struct gb_ring {
	struct mkioq_cuda_ring_map map;
};

extern "C" int gb_ring_map(struct mkioq_queue *q, struct gb_ring **rp,
			   const char **hint)
{
	struct gb_ring *r = new gb_ring();
	int ret = mkioq_cuda_map_ring(q, &r->map, hint);

	if (ret) {
		delete r;
		return ret;
	}
	*rp = r;
	return 0;
}

extern "C" void gb_ring_unmap(struct gb_ring *r)
{
	if (r)
		mkioq_cuda_unmap_ring(&r->map);
	delete r;
}

using sys_u32 = mkioq::sys_u32;

/*
 * The floor: the GPU stores a sequence number into @flag (release), a host
 * thread that spins on it stores it into @echo, the GPU sees it there
 * (acquire). Nothing of mkioq: what any GPU-to-host request costs.
 */
__global__ void gb_pingpong_kernel(uint32_t *flag, uint32_t *echo,
				   uint32_t n, uint64_t *ns)
{
	for (uint32_t i = 1; i <= n; i++) {
		uint64_t t0 = mkioq::now_ns();

		/* Release: pairs with the host's acquire load of flag. */
		sys_u32(*flag).store(i, cuda::memory_order_release);
		/* Acquire: pairs with the host's release store of echo. */
		while (sys_u32(*echo).load(cuda::memory_order_acquire) != i)
			;
		ns[i - 1] = mkioq::now_ns() - t0;
	}
	/* Tell the host thread to stop. */
	sys_u32(*flag).store(0xffffffffu, cuda::memory_order_release);
}

extern "C" int gb_pingpong(uint32_t *flag_dev, uint32_t *echo_dev,
			   uint32_t n, uint64_t *ns_host)
{
	uint64_t *ns;
	int ret = 0;

	if (cudaMalloc((void **)&ns, n * sizeof(*ns)) != cudaSuccess)
		return -ENOMEM;
	gb_pingpong_kernel<<<1, 1>>>(flag_dev, echo_dev, n, ns);
	if (cudaDeviceSynchronize() != cudaSuccess ||
	    cudaMemcpy(ns_host, ns, n * sizeof(*ns), cudaMemcpyDeviceToHost) !=
	    cudaSuccess)
		ret = -EIO;
	cudaFree(ns);
	return ret;
}

/*
 * QD1: one lane, one slot, @n requests one after the other; ns[i] is
 * submit (first word stored) to result seen, the figure a megakernel
 * waits for. Recycling comes after the timed part.
 */
/*
 * mkioq::wait() with the result read as MKIOQ_CUDA_SEPARATE_RESULT_LOADS
 * reads it (load_tail_separate()): the QD1 baseline for the one 16-byte
 * load, measured in the same run.
 */
__device__ static int gb_wait_separate(const mkioq::ring &r,
				       const mkioq::request &q,
				       mkioq::result *out, uint64_t timeout_ns)
{
	const uint32_t *w = mkioq::slot_word(r, q.slot, 0);
	uint64_t start = mkioq::now_ns();

	for (;;) {
		mkioq::slot_tail t = mkioq::load_tail_separate(w);

		if (t.status == MKIOQ_RESULT_OK) {
			out->res = (int32_t)t.byte_count;
			return 0;
		}
		if (t.status == MKIOQ_RESULT_ERROR) {
			out->res = -(int32_t)t.tag;
			return 0;
		}
		if (mkioq::now_ns() - start >= timeout_ns)
			return -ETIME;
	}
}

__global__ void gb_qd1_kernel(mkioq::ring r, uint32_t src, uint32_t dst,
			      uint32_t bytes, uint32_t n, bool separate,
			      uint64_t *ns, int *err)
{
	for (uint32_t i = 0; i < n; i++) {
		mkioq::result res;
		uint64_t t0 = mkioq::now_ns();
		mkioq::request q = mkioq::submit_read(r, 0, src, dst, 0, bytes,
						      i);
		int ret = separate ?
			  gb_wait_separate(r, q, &res, 5000000000ull) :
			  mkioq::wait(r, q, &res, 5000000000ull);

		if (ret || res.res < 0) {
			*err = 1;
			return;
		}
		ns[i] = mkioq::now_ns() - t0;
		mkioq::recycle(r, q);
	}
}

extern "C" int gb_qd1(struct gb_ring *r, uint32_t src, uint32_t dst,
		      uint32_t bytes, uint32_t n, int separate,
		      uint64_t *ns_host)
{
	uint64_t *ns;
	int *err, herr = 0, ret = 0;

	if (cudaMalloc((void **)&ns, n * sizeof(*ns)) != cudaSuccess)
		return -ENOMEM;
	cudaMalloc((void **)&err, sizeof(*err));
	cudaMemset(err, 0, sizeof(*err));
	gb_qd1_kernel<<<1, 1>>>(r->map.ring, src, dst, bytes, n, separate != 0,
				ns, err);
	if (cudaDeviceSynchronize() != cudaSuccess ||
	    cudaMemcpy(ns_host, ns, n * sizeof(*ns), cudaMemcpyDeviceToHost) !=
	    cudaSuccess ||
	    cudaMemcpy(&herr, err, sizeof(herr), cudaMemcpyDeviceToHost) !=
	    cudaSuccess)
		ret = -EIO;
	else if (herr)
		ret = -ETIME;
	cudaFree(ns);
	cudaFree(err);
	return ret;
}

/*
 * Every slot in flight: thread s owns slot s and loops submit, wait,
 * recycle for ns_budget nanoseconds of GPU time; the sum of requests over
 * the time is the throughput on one ring. Destination handles are
 * dst_first + s (one region per slot); each slot reads its own window of
 * the source (p.window), as each thread of the memcpy baseline does.
 * Lanes of one block (two warps for 64 slots), or with spread one block
 * of one thread per slot, so that no slot's next request waits for the
 * other lanes of its warp; the span is the longest block's.
 */
struct gb_depth_sums {
	unsigned long long done, span, wait_ns, turn_ns;
	int err;
};

struct gb_depth_lane {
	uint64_t base, span, off, n, wait_ns, turn_ns;
};

/* The next offset of the lane's walk over its window. */
__device__ static uint64_t gb_depth_next(gb_depth_lane *l, uint32_t bytes)
{
	l->off += bytes;
	if (l->off + bytes > l->span)
		l->off = 0;
	return l->base + l->off;
}

/* Each lane waits for its own slot, as a lane with one request would. */
__device__ static int gb_depth_wait(const mkioq::ring &r,
				    const gb_depth_point &p, uint32_t s,
				    uint64_t start, gb_depth_lane *l)
{
	uint64_t seen = start;

	while (mkioq::now_ns() - start < p.ns_budget) {
		mkioq::result res;
		uint64_t t0 = mkioq::now_ns();
		mkioq::request q = mkioq::submit_read(r, s, p.src,
						      p.dst_first + s,
						      l->base + l->off, p.bytes,
						      (uint32_t)l->n);

		if (mkioq::wait(r, q, &res, 5000000000ull, p.backoff_ns,
				p.backoff_ns * 4) || res.res < 0)
			return -EIO;
		if (l->n)
			l->turn_ns += t0 - seen;
		seen = mkioq::now_ns();
		l->wait_ns += seen - t0;
		mkioq::recycle(r, q);
		l->n++;
		gb_depth_next(l, p.bytes);
	}
	return 0;
}

/*
 * The lanes of a warp look together: each round every lane tests its
 * slot (one coalesced load for the warp), and the lanes whose result came
 * recycle and submit their next request, side by side, before the next
 * round. The request in flight when the time is up is waited for and
 * not counted.
 */
__device__ static int gb_depth_together(const mkioq::ring &r,
					const gb_depth_point &p, uint32_t s,
					uint64_t start, gb_depth_lane *l)
{
	uint64_t t0 = mkioq::now_ns(), seen;
	mkioq::request q = mkioq::submit_read(r, s, p.src, p.dst_first + s,
					      l->base, p.bytes, 0);
	mkioq::result res;

	while (mkioq::now_ns() - start < p.ns_budget) {
		if (!mkioq::test(r, q, &res))
			continue;
		if (res.res < 0)
			return -EIO;
		seen = mkioq::now_ns();
		l->wait_ns += seen - t0;
		mkioq::recycle(r, q);
		l->n++;
		t0 = mkioq::now_ns();
		l->turn_ns += t0 - seen;
		q = mkioq::submit_read(r, s, p.src, p.dst_first + s,
				       gb_depth_next(l, p.bytes), p.bytes,
				       (uint32_t)l->n);
	}
	if (mkioq::wait(r, q, &res, 5000000000ull) || res.res < 0)
		return -EIO;
	mkioq::recycle(r, q);
	return 0;
}

__global__ void gb_depth_kernel(mkioq::ring r, struct gb_depth_point p,
				gb_depth_sums *sums)
{
	uint32_t s = p.spread ? blockIdx.x : threadIdx.x;
	gb_depth_lane l = {
		.base = p.window * s,
		.span = p.window ? p.window : p.src_bytes,
	};
	uint64_t start = mkioq::now_ns();

	__syncthreads();
	if ((p.together ? gb_depth_together(r, p, s, start, &l) :
			  gb_depth_wait(r, p, s, start, &l)))
		atomicExch(&sums->err, 1);
	atomicAdd(&sums->done, (unsigned long long)l.n);
	atomicAdd(&sums->wait_ns, (unsigned long long)l.wait_ns);
	atomicAdd(&sums->turn_ns, (unsigned long long)l.turn_ns);
	__syncthreads();
	if (threadIdx.x == 0)
		atomicMax(&sums->span,
			  (unsigned long long)(mkioq::now_ns() - start));
}

extern "C" int gb_depth(struct gb_ring *r, struct gb_depth_point *p)
{
	gb_depth_sums *d, h;
	int ret = 0;

	if (!p->slots || p->slots > r->map.ring.slot_count)
		return -EINVAL;
	if (cudaMalloc((void **)&d, sizeof(*d)) != cudaSuccess)
		return -ENOMEM;
	cudaMemset(d, 0, sizeof(*d));
	gb_depth_kernel<<<p->spread ? p->slots : 1,
			  p->spread ? 1 : p->slots>>>(r->map.ring, *p, d);
	if (cudaDeviceSynchronize() != cudaSuccess ||
	    cudaMemcpy(&h, d, sizeof(h), cudaMemcpyDeviceToHost) !=
	    cudaSuccess)
		ret = -EIO;
	else if (h.err)
		ret = -ETIME;
	else {
		p->requests = h.done;
		p->elapsed_ns = h.span;
		p->wait_ns = h.wait_ns;
		p->turn_ns = h.turn_ns;
	}
	cudaFree(d);
	return ret;
}

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
 * Lanes of one block (two warps for 64 slots), or with spread one block of one thread per slot, so that no
 * slot's next request waits for the other lanes of its warp; the span is
 * the longest block's.
 */
struct gb_depth_sums {
	unsigned long long done, span, wait_ns, turn_ns;
	int err;
};

__global__ void gb_depth_kernel(mkioq::ring r, struct gb_depth_point p,
				gb_depth_sums *sums)
{
	uint32_t s = p.spread ? blockIdx.x : threadIdx.x;
	uint64_t base = p.window * s, span = p.window ? p.window : p.src_bytes;
	uint64_t start = mkioq::now_ns(), n = 0, off = 0, seen = start;
	uint64_t wait_ns = 0, turn_ns = 0;

	__syncthreads();
	while (mkioq::now_ns() - start < p.ns_budget) {
		mkioq::result res;
		uint64_t t0 = mkioq::now_ns();
		mkioq::request q = mkioq::submit_read(r, s, p.src,
						      p.dst_first + s,
						      base + off, p.bytes,
						      (uint32_t)n);

		if (mkioq::wait(r, q, &res, 5000000000ull, p.backoff_ns,
				p.backoff_ns * 4) || res.res < 0) {
			atomicExch(&sums->err, 1);
			break;
		}
		if (n)
			turn_ns += t0 - seen;
		seen = mkioq::now_ns();
		wait_ns += seen - t0;
		mkioq::recycle(r, q);
		n++;
		off += p.bytes;
		if (off + p.bytes > span)
			off = 0;
	}
	atomicAdd(&sums->done, (unsigned long long)n);
	atomicAdd(&sums->wait_ns, (unsigned long long)wait_ns);
	atomicAdd(&sums->turn_ns, (unsigned long long)turn_ns);
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

// SPDX-License-Identifier: MIT
/*
 * gpu_producer: a GPU kernel asks the host for data through an mkioq ring.
 *
 * What it shows: the megakernel's side (<mkioq_cuda.cuh>) with libmkioq's
 * userspace engine (<mkioq_engine.h>) servicing the ring, as on a host
 * where the mkioq module cannot be loaded; with /dev/mkioq0, open the
 * queue with mkioq_queue_open() instead and register dma-bufs.
 *   host:   the ring in cudaHostAlloc'ed (pinned, mapped) memory, wrapped
 *           as a queue (mkioq_queue_wrap()); an engine with two worker
 *           threads; a host memory range (plain malloc) registered as the
 *           READ source, and a pinned, mapped staging buffer as one WRITE
 *           handle per warp; mkioq_cuda_map_ring() gives the GPU the
 *           ring, mkioq_cuda_pool_new() the slot pool in device memory.
 *   device: every warp issues READs with mkioq::warp_request(): its first
 *           active lane takes a slot from the pool, submits (plain stores,
 *           then a system-scope release of PUBLISHED), waits (acquire
 *           loads of STATUS, __nanosleep between looks, a 5 s limit) and
 *           recycles; then the whole warp checks the bytes in staging.
 *           One request past the end of the source comes back -ERANGE.
 *   host:   the counters from the GPU, the engine's completion records and
 *           statistics.
 * The GPU never uses atomics on the ring (see "The rule that keeps it
 * correct" in Documentation/gpu.rst).
 *
 * Needs: an NVIDIA GPU (sm_75 or later) and its driver; without a CUDA
 * device it says so and exits 77 (skipped). Exits 0 when every byte
 * arrived right, 1 on any failure.
 *
 * Build against the installed library:
 *   nvcc -std=c++17 -o gpu_producer gpu_producer.cu \
 *        $(pkg-config --cflags --libs mkioq) -lpthread
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmkioq.h>
#include <mkioq_engine.h>
#include <mkioq_cuda.cuh>	/* device calls, and the host helpers */

#define SLOTS		64
#define RING_BYTES	4096
#define SRC_BYTES	(16u << 20)
#define REQ_BYTES	(4u << 10)
#define WARPS		16
#define WARPS_PER_BLOCK	4
#define PER_WARP	48	/* 768 requests: the engine keeps 1024 records */
#define TIMEOUT_NS	5000000000ull

/* The source's byte at @i: the GPU computes it to check what arrived. */
__host__ __device__ static inline uint8_t pattern(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

/* The destination handle of each warp, passed by value to the kernel. */
struct handles {
	uint32_t src, dst[WARPS];
};

struct counters {
	unsigned long long ok, bytes, bad_bytes, errors, timeouts;
	int erange;	/* the bad request's result */
};

/* Whether the warp's @len bytes at @dst are the source's from @off. */
__device__ static bool verify(const uint8_t *dst, uint32_t len, uint64_t off)
{
	bool good = true;

	/* __ldcv: past L1, which may hold this region from the last request. */
	for (uint32_t i = mkioq::lane_id(); i < len; i += 32)
		good &= __ldcv(dst + i) == pattern(off + i);
	return __all_sync(__activemask(), good);
}

__global__ void producer(mkioq::ring r, mkioq::slot_pool *pool, handles h,
			 const uint8_t *staging, counters *c)
{
	uint32_t warp = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
	const uint8_t *mine = staging + (size_t)warp * REQ_BYTES;
	mkioq::result res;
	int ret;

	for (uint32_t i = 0; i < PER_WARP; i++) {
		uint32_t tag = warp << 16 | i;
		uint64_t off = (uint64_t)tag * 4099 % (SRC_BYTES - REQ_BYTES);

		ret = mkioq::warp_request(r, pool, MKIOQ_OP_READ, h.src,
					  h.dst[warp], off, REQ_BYTES, tag,
					  &res, TIMEOUT_NS, 200);
		if (ret) {
			/* -ETIME / -EBUSY: no engine answered; the slot stays its. */
			if (mkioq::lane_id() == 0)
				atomicAdd(&c->timeouts, 1ull);
			return;
		}
		if (res.res < 0 || res.tag != tag) {
			if (mkioq::lane_id() == 0)
				atomicAdd(&c->errors, 1ull);
			continue;
		}
		if (verify(mine, (uint32_t)res.res, off)) {
			if (mkioq::lane_id() == 0) {
				atomicAdd(&c->ok, 1ull);
				atomicAdd(&c->bytes, (unsigned long long)res.res);
			}
		} else if (mkioq::lane_id() == 0) {
			atomicAdd(&c->bad_bytes, 1ull);
		}
	}
	/* Warp 0: a READ that runs past the end of the source. */
	if (warp == 0) {
		ret = mkioq::warp_request(r, pool, MKIOQ_OP_READ, h.src,
					  h.dst[0], SRC_BYTES - 100, 200, 0xbad, &res,
					  TIMEOUT_NS, 200);
		if (mkioq::lane_id() == 0)
			c->erange = ret ? ret : res.res;
	}
}

static int cuda_failed(const char *what, cudaError_t err)
{
	fprintf(stderr, "gpu_producer: %s: %s\n", what, cudaGetErrorString(err));
	return 1;
}

static int failed(const char *what, int err)
{
	fprintf(stderr, "gpu_producer: %s: %s\n", what,
		mkioq_strerror_call(what, err));
	return 1;
}

int main(void)
{
	struct mkioq_engine_params p;
	struct mkioq_engine_stats st;
	struct mkioq_cuda_ring_map map;
	struct mkioq_engine *e;
	struct mkioq_queue *q;
	struct mkioq_cqe cqes[256];
	mkioq::slot_pool *pool;
	counters *c, host_c;
	uint8_t *src, *staging, *staging_dev;
	void *ring_mem;
	const char *hint;
	uint32_t w, records = 0;
	handles h;
	cudaDeviceProp prop;
	cudaError_t cerr;
	int ndev = 0, ret, n, bad;

	cerr = cudaGetDeviceCount(&ndev);
	if (cerr != cudaSuccess || ndev == 0) {
		printf("gpu_producer: no CUDA device (%s): skipped; this example needs an NVIDIA GPU and its driver\n",
		       cerr != cudaSuccess ? cudaGetErrorString(cerr) : "none found");
		return 77;
	}
	cudaGetDeviceProperties(&prop, 0);

	/* The ring: pinned host memory the GPU maps. */
	cerr = cudaHostAlloc(&ring_mem, RING_BYTES, cudaHostAllocMapped);
	if (cerr != cudaSuccess)
		return cuda_failed("cudaHostAlloc(ring)", cerr);
	memset(ring_mem, 0, RING_BYTES);
	ret = mkioq_queue_wrap(ring_mem, RING_BYTES, SLOTS, &q);
	if (ret)
		return failed("mkioq_queue_wrap", ret);

	/* The engine and its handles: a source in host memory, staging. */
	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.workers = 2;
	ret = mkioq_engine_new(q, &p, &e);
	if (ret)
		return failed("mkioq_engine_new", ret);
	src = (uint8_t *)malloc(SRC_BYTES);
	if (!src)
		return failed("malloc", -ENOMEM);
	for (size_t i = 0; i < SRC_BYTES; i++)
		src[i] = pattern(i);
	cerr = cudaHostAlloc((void **)&staging, (size_t)WARPS * REQ_BYTES,
			     cudaHostAllocMapped);
	if (cerr != cudaSuccess)
		return cuda_failed("cudaHostAlloc(staging)", cerr);
	cudaHostGetDevicePointer((void **)&staging_dev, staging, 0);
	ret = mkioq_engine_register_mem(e, src, SRC_BYTES, MKIOQ_ACCESS_READ,
					&h.src);
	if (ret)
		return failed("mkioq_engine_register_mem", ret);
	/* One destination per warp: a READ lands at its handle's start. */
	for (w = 0; w < WARPS; w++) {
		ret = mkioq_engine_register_mem(e, staging + (size_t)w * REQ_BYTES,
						REQ_BYTES, MKIOQ_ACCESS_WRITE,
						&h.dst[w]);
		if (ret)
			return failed("mkioq_engine_register_mem", ret);
	}
	ret = mkioq_engine_start(e);
	if (ret)
		return failed("mkioq_engine_start", ret);

	/* The GPU's view of the ring, and its slot pool. */
	ret = mkioq_cuda_map_ring(q, &map, &hint);
	if (ret) {
		fprintf(stderr, "gpu_producer: mkioq_cuda_map_ring: %s\n", hint);
		return 1;
	}
	ret = mkioq_cuda_pool_new(SLOTS, &pool);
	if (ret)
		return failed("mkioq_cuda_pool_new", ret);
	cerr = cudaMalloc((void **)&c, sizeof(*c));
	if (cerr == cudaSuccess)
		cerr = cudaMemset(c, 0, sizeof(*c));
	if (cerr != cudaSuccess)
		return cuda_failed("cudaMalloc(counters)", cerr);
	printf("gpu_producer: %s (sm_%d%d), host-native atomics %d; ring of %u slots in pinned host memory, engine with %u workers\n",
	       prop.name, prop.major, prop.minor, map.host_native_atomics,
	       SLOTS, p.workers);

	producer<<<WARPS / WARPS_PER_BLOCK, 32 * WARPS_PER_BLOCK>>>(
		map.ring, pool, h, staging_dev, c);
	cerr = cudaGetLastError();	/* the launch itself */
	if (cerr == cudaSuccess)
		cerr = cudaDeviceSynchronize();
	if (cerr != cudaSuccess)
		return cuda_failed("the kernel", cerr);
	cudaMemcpy(&host_c, c, sizeof(host_c), cudaMemcpyDeviceToHost);

	/*
	 * Stop the workers, then take the engine's records: one per
	 * completion, as the module's read() gives them.
	 */
	mkioq_engine_stop(e);
	while ((n = mkioq_engine_read_cqes(e, cqes, 256, 0)) > 0)
		for (int i = 0; i < n; i++)
			records += !(cqes[i].flags & MKIOQ_CQE_F_NOTICE);
	mkioq_engine_stats(e, &st);

	printf("gpu_producer: %d warps x %d READs of %u B from the GPU: %llu OK (%llu bytes checked on the GPU), %llu wrong bytes, %llu errors, %llu timeouts\n",
	       WARPS, PER_WARP, REQ_BYTES, host_c.ok, host_c.bytes,
	       host_c.bad_bytes, host_c.errors, host_c.timeouts);
	printf("gpu_producer: a READ past the end of the source: %d (%s)\n",
	       host_c.erange, strerror(-host_c.erange));
	printf("gpu_producer: engine: %llu completed, %llu errors, %llu bytes, %u records read\n",
	       (unsigned long long)st.completed, (unsigned long long)st.errors,
	       (unsigned long long)st.bytes, records);
	bad = host_c.ok != (unsigned long long)WARPS * PER_WARP ||
	      host_c.bad_bytes || host_c.errors || host_c.timeouts ||
	      host_c.erange != -ERANGE ||
	      st.completed != (unsigned long long)WARPS * PER_WARP + 1 ||
	      records != WARPS * PER_WARP + 1;

	cudaFree(c);
	mkioq_cuda_pool_free(pool);
	mkioq_cuda_unmap_ring(&map);
	mkioq_engine_free(e);
	mkioq_queue_free(q);	/* a wrapped ring stays the caller's */
	cudaFreeHost(staging);
	cudaFreeHost(ring_mem);
	free(src);
	printf("gpu_producer: %s\n", bad ? "FAILED" : "done");
	return bad ? 1 : 0;
}

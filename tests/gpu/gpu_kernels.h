/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CUDA side of the GPU tests, callable from C: kernels that drive an
 * mkioq ring through <mkioq_cuda.cuh>, and the ring mapping around them.
 * The tests themselves are C (kselftest_harness.h is C, not C++).
 */
#ifndef MKIOQ_GPU_KERNELS_H
#define MKIOQ_GPU_KERNELS_H

#include <stdint.h>
#include "libmkioq.h"

#ifdef __cplusplus
extern "C" {
#endif

struct gk_ring;			/* a mapped ring and its slot pool */

/* 0, or a negative errno with *hint set to a one-line fix. */
int gk_ring_map(struct mkioq_queue *q, struct gk_ring **rp, const char **hint);
void gk_ring_unmap(struct gk_ring *r);
/* cudaDevAttrHostNativeAtomicSupported of the device the ring is on. */
int gk_host_native_atomics(const struct gk_ring *r);

/* What the stress kernel saw, summed over warps. */
struct gk_stress_stats {
	uint64_t ok;		/* requests completed OK, bytes verified */
	uint64_t bytes;		/* bytes verified */
	uint64_t errors;	/* completed ERROR (none expected) */
	uint64_t bad_bytes;	/* requests with a wrong byte */
	uint64_t bad_tags;	/* OK with a TAG word not the one submitted */
	uint64_t bad_counts;	/* OK with a BYTE_COUNT not the one asked */
	uint64_t timeouts;	/* waits that hit the time limit */
};

/*
 * @warps warps (32 per block... blocks of @warps_per_block) each issue
 * @per_warp READs of random size in [1, @max_bytes] (log-uniform) at a
 * random offset of source handle @src (@src_bytes long, byte i being
 * gk_pattern(@seed, i)) into its own destination handle dst_first + warp
 * (mapped at @dst_dev + warp * @dst_stride in device addresses), and
 * verify every byte. Tags are warp << 20 | i.
 */
int gk_stress(struct gk_ring *r, uint32_t warps, uint32_t warps_per_block,
	      uint32_t per_warp, uint32_t src, uint64_t src_bytes,
	      uint32_t seed, uint32_t dst_first, uint8_t *dst_dev,
	      uint64_t dst_stride, uint32_t max_bytes, uint64_t timeout_ns,
	      struct gk_stress_stats *st);
/*
 * gk_stress() over bytes [@src_base, @src_base + @src_bytes) of @src, byte
 * i being gk_pattern(@seed, i): offsets past 4 GiB of a file, say.
 */
int gk_stress_at(struct gk_ring *r, uint32_t warps, uint32_t warps_per_block,
		 uint32_t per_warp, uint32_t src, uint64_t src_base,
		 uint64_t src_bytes, uint32_t seed, uint32_t dst_first,
		 uint8_t *dst_dev, uint64_t dst_stride, uint32_t max_bytes,
		 uint64_t timeout_ns, struct gk_stress_stats *st);

/* One request from one warp: its result (bytes or -errno) in *res. */
struct gk_req {
	uint32_t op, src, dst, byte_count, tag;
	uint64_t offset;
};

/* What gk_alternate() saw, summed over warps. */
struct gk_alternate_stats {
	uint64_t ok, errors;	/* completions of each kind, as expected */
	uint64_t bad_ok;	/* OK with a TAG or BYTE_COUNT not expected */
	uint64_t bad_errno;	/* ERROR with an errno other than @err's */
	uint64_t wrong_kind;	/* OK for @err, ERROR for @good */
	uint64_t timeouts;
};

/*
 * @warps warps (one per block... @warps_per_block a block) each issue
 * @per_warp requests, @good and @err in turn (warp_request(), tags
 * warp << 20 | i | 1 << 31 for @err), and check every result: @good must
 * come back OK with its tag and byte count, @err ERROR with errno
 * @want_errno. The engine turns TAG into the errno for ERROR, so a GPU
 * read that saw ERROR with a stale TAG (its own tag) shows here.
 */
int gk_alternate(struct gk_ring *r, uint32_t warps, uint32_t warps_per_block,
		 uint32_t per_warp, const struct gk_req *good,
		 const struct gk_req *err, int want_errno,
		 uint64_t timeout_ns, struct gk_alternate_stats *st);
int gk_one(struct gk_ring *r, const struct gk_req *req, uint64_t timeout_ns,
	   int32_t *res, uint32_t *tag);

/*
 * @n requests (the last one a FENCE) submitted by one block in order;
 * when the FENCE completes, the kernel looks at every earlier slot:
 * *@not_done counts those not yet OK or ERROR (must be 0), *@fence_res
 * is the FENCE's result.
 */
int gk_fence(struct gk_ring *r, const struct gk_req *reqs, uint32_t n,
	     uint64_t timeout_ns, uint32_t *not_done, int32_t *fence_res);

/* Byte @i of pattern @seed: the same on host and GPU. */
static inline uint8_t gk_pattern(uint32_t seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed * 0xff51afd7ULL;

	return (uint8_t)(x >> 29 ^ x >> 7);
}

#ifdef __cplusplus
}
#endif

#endif

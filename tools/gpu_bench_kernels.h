/* SPDX-License-Identifier: GPL-2.0 */
/* The CUDA side of mkioq-gpu-bench, callable from C. */
#ifndef MKIOQ_GPU_BENCH_KERNELS_H
#define MKIOQ_GPU_BENCH_KERNELS_H

#include <stdint.h>
#include "libmkioq.h"

#ifdef __cplusplus
extern "C" {
#endif

struct gb_ring;

int gb_ring_map(struct mkioq_queue *q, struct gb_ring **rp, const char **hint);
void gb_ring_unmap(struct gb_ring *r);
/* @n round trips through @flag_dev / @echo_dev (device addresses). */
int gb_pingpong(uint32_t *flag_dev, uint32_t *echo_dev, uint32_t n,
		uint64_t *ns_host);
/*
 * @n READs of @bytes one after the other in slot 0: ns each. @separate:
 * the result read in separate loads (load_tail_separate()).
 */
int gb_qd1(struct gb_ring *r, uint32_t src, uint32_t dst, uint32_t bytes,
	   uint32_t n, int separate, uint64_t *ns_host);
/*
 * One throughput point: @slots threads, one slot each, for @ns_budget of
 * GPU time, as lanes of one block or with @spread one block each, READs
 * of @bytes from @src into handles @dst_first + slot, at offsets that walk
 * the slot's own @window bytes of @src (slot * @window on), or with
 * @window 0 all of @src_bytes from 0. @backoff_ns: wait()'s first
 * sleep between looks (0: spin). @together: the lanes of a warp look at
 * their slots together, one test() each per round, and those whose
 * result came submit their next request, where otherwise each lane
 * waits for its own slot in wait(). The rest is what the GPU saw:
 * @requests done in @elapsed_ns (the longest thread's), and summed over
 * the requests the time from submit to result seen (@wait_ns) and from
 * result seen to the next submit (@turn_ns, the GPU's own part of a
 * slot's cycle).
 */
struct gb_depth_point {
	uint32_t slots, src, dst_first, bytes;
	uint64_t src_bytes, window, ns_budget;
	int spread, together;
	uint32_t backoff_ns;
	uint64_t requests, elapsed_ns, wait_ns, turn_ns;
};

int gb_depth(struct gb_ring *r, struct gb_depth_point *p);

#ifdef __cplusplus
}
#endif

#endif

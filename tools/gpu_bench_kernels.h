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
 * @slots threads, one slot each, for @ns_budget of GPU time: lanes of one
 * block, or with @spread one block each.
 */
int gb_depth(struct gb_ring *r, uint32_t slots, uint32_t src,
	     uint32_t dst_first, uint32_t bytes, uint64_t src_bytes,
	     uint64_t ns_budget, int spread, uint64_t *requests,
	     uint64_t *elapsed_ns);

#ifdef __cplusplus
}
#endif

#endif

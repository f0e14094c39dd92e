/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the VM selftests: those they share with the tools (dma-bufs
 * from vgem, udmabuf or the system dma-heap; byte patterns; the clock;
 * draining records) come from tools/lib/, and the tests' own
 * (tests/vm/common/test_util.c) wait for completions and read numbers
 * from the environment.
 */
#ifndef MKIOQ_TEST_H
#define MKIOQ_TEST_H

#include <stdint.h>
#include "libmkioq.h"
#include "dmabuf_alloc.h"
#include "mkioq_util.h"

/*
 * Wait until @slot holds OK or ERROR, watching its STATUS word and leaving
 * completion records unread; returns the STATUS value, or -ETIMEDOUT.
 */
int wait_slot(struct mkioq_queue *q, uint32_t slot, int timeout_ms);
/* A slot's request words from @req: all but STATUS and TAG. */
void request_words(uint32_t *w, const struct mkioq_request *req);
/*
 * Publish @req into @slot of @ring as a GPU would, TAG included, with no
 * library checks, so that requests the library refuses reach the module.
 */
void publish_words(uint32_t *ring, uint32_t slot,
		   const struct mkioq_request *req);
/* A positive number from the environment, or @def. */
uint64_t env_u64(const char *name, uint64_t def);

#endif

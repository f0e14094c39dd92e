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

#include <stddef.h>
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

/* The storage tests' (tests/vm/common/storage_util.c). */
struct mkioq_engine;
/* Word @w of @slot, with acquire ordering. */
uint32_t slot_word(struct mkioq_queue *q, uint32_t slot, unsigned int w);
/* publish_words() of a request made of these fields, TAG 1000 + @slot. */
void publish_raw(struct mkioq_queue *q, uint32_t slot, uint32_t op,
		 uint32_t src, uint32_t dst, uint64_t off, uint32_t count);
/*
 * One request in slot 0, rung through the module (@e NULL) or the engine:
 * its STATUS (or -1 if the doorbell failed, -ETIMEDOUT), and in *@result
 * the bytes moved (BYTE_COUNT) or the negative errno (TAG).
 */
int run_request(struct mkioq_queue *q, struct mkioq_engine *e, uint32_t op,
	    uint32_t src, uint32_t dst, uint64_t off, uint32_t count,
	    int64_t *result);
/*
 * The result of @slot's record, reading the ones before it; a storage
 * worker posts it just after STATUS, so this waits up to 5 s. -ENOENT if
 * none came.
 */
int record_result(struct mkioq_queue *q, uint32_t slot, int32_t *res);
/* The first of @n bytes at @got that differs from @fd at @off, or @n. */
size_t diff_fd(int fd, uint64_t off, const uint8_t *got, size_t n);

#endif

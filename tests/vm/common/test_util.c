// SPDX-License-Identifier: GPL-2.0
/*
 * The VM tests' own helpers: completion waits and numbers from the
 * environment. What they share with the tools (dma-bufs, patterns, the
 * clock) is in tools/lib/.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "mkioq_test.h"

int wait_slot(struct mkioq_queue *q, uint32_t slot, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	int status;

	for (;;) {
		status = mkioq_slot_status(q, slot);
		if (status == MKIOQ_RESULT_OK || status == MKIOQ_RESULT_ERROR)
			return status;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		/* Leave the records to the caller: watch STATUS only. */
		usleep(50);
	}
}

void request_words(uint32_t *w, const struct mkioq_request *req)
{
	w[MKIOQ_WORD_OP] = req->op;
	w[MKIOQ_WORD_SRC_HANDLE] = req->src_handle;
	w[MKIOQ_WORD_DST_HANDLE] = req->dst_handle;
	w[MKIOQ_WORD_OFFSET_LO] = (uint32_t)req->offset;
	w[MKIOQ_WORD_OFFSET_HI] = (uint32_t)(req->offset >> 32);
	w[MKIOQ_WORD_BYTE_COUNT] = req->byte_count;
}

void publish_words(uint32_t *ring, uint32_t slot,
		   const struct mkioq_request *req)
{
	uint32_t *w = &ring[slot * MKIOQ_SLOT_WORDS];

	request_words(w, req);
	w[MKIOQ_WORD_TAG] = req->tag;
	/* Release: pairs with the module's acquire load of STATUS. */
	__atomic_store_n(&w[MKIOQ_WORD_STATUS], MKIOQ_STATE_PUBLISHED,
			 __ATOMIC_RELEASE);
}

/* A positive number from the environment, or @def. */
uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return def;
	v = strtoull(s, &end, 0);
	return *end || !v ? def : v;
}

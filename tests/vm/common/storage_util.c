// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the storage tests (storage_test, storage_disk_test,
 * storage_direct_test): raw slots, one request at a time through the
 * module or the userspace engine, its record, and a file compare.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "mkioq_engine.h"
#include "mkioq_test.h"

uint32_t slot_word(struct mkioq_queue *q, uint32_t slot, unsigned int w)
{
	/* Acquire: pairs with the servicer's release store of STATUS. */
	return __atomic_load_n(&q->words[slot * MKIOQ_SLOT_WORDS + w],
			       __ATOMIC_ACQUIRE);
}

void publish_raw(struct mkioq_queue *q, uint32_t slot, uint32_t op,
		 uint32_t src, uint32_t dst, uint64_t off, uint32_t count)
{
	struct mkioq_request req = {
		.op = op, .src_handle = src, .dst_handle = dst,
		.offset = off, .byte_count = count, .tag = 1000 + slot,
	};

	publish_words(q->words, slot, &req);
}

int run_request(struct mkioq_queue *q, struct mkioq_engine *e, uint32_t op,
	    uint32_t src, uint32_t dst, uint64_t off, uint32_t count,
	    int64_t *result)
{
	int st;

	publish_raw(q, 0, op, src, dst, off, count);
	if (e ? mkioq_engine_doorbell(e) : mkioq_doorbell(q))
		return -1;
	st = wait_slot(q, 0, 20000);
	if (st == MKIOQ_RESULT_OK)
		*result = slot_word(q, 0, MKIOQ_WORD_BYTE_COUNT);
	else if (st == MKIOQ_RESULT_ERROR)
		*result = -(int64_t)slot_word(q, 0, MKIOQ_WORD_TAG);
	return st;
}

int record_result(struct mkioq_queue *q, uint32_t slot, int32_t *res)
{
	uint64_t deadline = now_ns() + 5000000000ULL;
	struct mkioq_cqe cqe[64];
	int n, i, found = -ENOENT;

	while (found && now_ns() < deadline) {
		n = mkioq_read_cqes(q, cqe, 64, 1000);
		for (i = 0; i < n; i++)
			if (cqe[i].slot == slot) {
				*res = cqe[i].result;
				found = 0;
			}
	}
	return found;
}

size_t diff_fd(int fd, uint64_t off, const uint8_t *got, size_t n)
{
	uint8_t *want = malloc(n ? n : 1);
	ssize_t r = pread(fd, want, n, off);
	size_t i = 0;

	if (r == (ssize_t)n)
		for (; i < n && got[i] == want[i]; i++)
			;
	free(want);
	return i;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * libmkioq slot state machine on host-owned queues (no kernel needed):
 * the behaviours the vyre-runtime crate's own tests check, then every
 * error path, which must leave every byte of the ring as it was.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libmkioq.h>
#include <mkioq_uring.h>

#include "kselftest_harness.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Word @w of @slot read from the raw bytes, little-endian as on the wire. */
static uint32_t word(const struct mkioq_queue *q, uint32_t slot,
		     unsigned int w)
{
	const uint8_t *b = (const uint8_t *)mkioq_queue_bytes(q, NULL) +
			   ((size_t)slot * MKIOQ_SLOT_WORDS + w) * 4;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

/* A raw write, as a GPU or a misbehaving agent would do it. */
static void set_word(struct mkioq_queue *q, uint32_t slot, unsigned int w,
		     uint32_t v)
{
	uint8_t *b = (uint8_t *)mkioq_queue_mut_bytes(q, NULL) +
		     ((size_t)slot * MKIOQ_SLOT_WORDS + w) * 4;

	b[0] = v;
	b[1] = v >> 8;
	b[2] = v >> 16;
	b[3] = v >> 24;
}

struct snap {
	uint8_t b[MKIOQ_WINDOW_BYTES];
	size_t len;
};

static void take(const struct mkioq_queue *q, struct snap *s)
{
	const void *b = mkioq_queue_bytes(q, &s->len);

	memcpy(s->b, b, s->len);
}

/*
 * The first byte that differs from @s, skipping the words whose bit is set
 * in masks[slot] (NULL: skip none); -1 if there is none.
 */
static long diff_masked(const struct mkioq_queue *q, const struct snap *s,
			const uint8_t *masks)
{
	size_t len, i;
	const uint8_t *b = mkioq_queue_bytes(q, &len);

	if (len != s->len)
		return 0;
	for (i = 0; i < len; i++) {
		size_t slot = i / MKIOQ_SLOT_BYTES;
		size_t w = i % MKIOQ_SLOT_BYTES / 4;

		if (masks && masks[slot] & 1U << w)
			continue;
		if (b[i] != s->b[i])
			return (long)i;
	}
	return -1;
}

static long diff(const struct mkioq_queue *q, const struct snap *s)
{
	return diff_masked(q, s, NULL);
}

/* As diff(), but the words in @mask of @slot may have changed. */
static long diff_except(const struct mkioq_queue *q, const struct snap *s,
			uint32_t slot, uint8_t mask)
{
	uint8_t masks[MKIOQ_MAX_SLOTS] = { 0 };

	masks[slot] = mask;
	return diff_masked(q, s, masks);
}

#define W(w)		(1U << (w))
#define STATUS_ONLY	W(MKIOQ_WORD_STATUS)

/* Slot indices of a ring filled by fill_every_state(). */
enum {
	S_EMPTY,
	S_PUBLISHED,	/* a request, SRC != 0 */
	S_INGEST,	/* publish_slot(): PUBLISHED with SRC == 0 */
	S_CLAIMED,
	S_OK,
	S_ERROR,
	S_DONE,
	S_UNKNOWN,	/* STATUS = 0x77, no state at all */
	S_COUNT,
};

static const uint32_t unknown_states[] = {
	4, 5, 6, 7, 0x12, 0x77, 0x80000000, UINT32_MAX,
};

static int submit_read(struct mkioq_queue *q, uint32_t slot, uint32_t tag)
{
	return mkioq_submit_dma_read(q, slot, 3, 4, 4096, tag);
}

/* One slot in every state the ring can hold, with distinct words. */
static int fill_every_state(struct mkioq_queue *q)
{
	int ret = 0;

	ret |= submit_read(q, S_PUBLISHED, 101);
	ret |= mkioq_publish_slot(q, S_INGEST, 7, 4096, 102);
	ret |= submit_read(q, S_CLAIMED, 103);
	ret |= mkioq_claim(q, S_CLAIMED);
	ret |= submit_read(q, S_OK, 104);
	ret |= mkioq_claim(q, S_OK);
	ret |= mkioq_complete(q, S_OK);
	ret |= submit_read(q, S_ERROR, 105);
	ret |= mkioq_claim(q, S_ERROR);
	ret |= mkioq_complete_error(q, S_ERROR, EIO);
	/* Nothing in the library writes DONE: a consumer marks it. */
	ret |= submit_read(q, S_DONE, 106);
	set_word(q, S_DONE, MKIOQ_WORD_STATUS, MKIOQ_STATE_DONE);
	set_word(q, S_UNKNOWN, MKIOQ_WORD_OP, MKIOQ_OP_WRITE);
	set_word(q, S_UNKNOWN, MKIOQ_WORD_SRC_HANDLE, 9);
	set_word(q, S_UNKNOWN, MKIOQ_WORD_TAG, 107);
	set_word(q, S_UNKNOWN, MKIOQ_WORD_STATUS, 0x77);
	return ret;
}

FIXTURE(ring) {
	struct mkioq_queue *q;
	struct snap before;
};

FIXTURE_SETUP(ring)
{
	ASSERT_EQ(0, mkioq_queue_new(S_COUNT, &self->q));
}

FIXTURE_TEARDOWN(ring)
{
	mkioq_queue_free(self->q);
}

/* ------------------------------------------------------------------ */
/* The crate's behaviours                                              */
/* ------------------------------------------------------------------ */

/* "a 65th slot index fails", and changes nothing. */
TEST(slot_64_of_64_is_out_of_range)
{
	struct mkioq_request req = { .op = MKIOQ_OP_READ, .src_handle = 1 };
	struct mkioq_completion rec;
	struct mkioq_queue *q;
	struct snap s;
	uint32_t slot = MKIOQ_MAX_SLOTS;

	ASSERT_EQ(0, mkioq_queue_new(MKIOQ_MAX_SLOTS, &q));
	ASSERT_EQ(0, mkioq_submit(q, 63, &req));
	take(q, &s);
	EXPECT_EQ(-ERANGE, mkioq_submit(q, slot, &req));
	EXPECT_EQ(-ERANGE, mkioq_publish_slot(q, slot, 1, 1, 1));
	EXPECT_EQ(-ERANGE, mkioq_claim(q, slot));
	EXPECT_EQ(-ERANGE, mkioq_completion(q, slot, &rec));
	EXPECT_EQ(-1, diff(q, &s));
	mkioq_queue_free(q);
}

/* "a published slot decodes exactly": slot 1, READ, 0x1000, 4096 bytes. */
TEST_F(ring, published_slot_decodes_exactly)
{
	struct mkioq_request req = {
		.op = MKIOQ_OP_READ, .src_handle = 3, .dst_handle = 5,
		.offset = 0x1000, .byte_count = 4096, .tag = 42,
	};
	struct mkioq_completion rec;

	take(self->q, &self->before);
	ASSERT_EQ(0, mkioq_submit(self->q, 1, &req));
	EXPECT_EQ(MKIOQ_OP_READ, word(self->q, 1, MKIOQ_WORD_OP));
	EXPECT_EQ(3, word(self->q, 1, MKIOQ_WORD_SRC_HANDLE));
	EXPECT_EQ(5, word(self->q, 1, MKIOQ_WORD_DST_HANDLE));
	EXPECT_EQ(0x1000, word(self->q, 1, MKIOQ_WORD_OFFSET_LO));
	EXPECT_EQ(0, word(self->q, 1, MKIOQ_WORD_OFFSET_HI));
	EXPECT_EQ(4096, word(self->q, 1, MKIOQ_WORD_BYTE_COUNT));
	EXPECT_EQ(MKIOQ_STATE_PUBLISHED, word(self->q, 1, MKIOQ_WORD_STATUS));
	EXPECT_EQ(42, word(self->q, 1, MKIOQ_WORD_TAG));
	/* No other slot was touched. */
	EXPECT_EQ(-1, diff_except(self->q, &self->before, 1, 0xff));

	ASSERT_EQ(0, mkioq_completion(self->q, 1, &rec));
	EXPECT_EQ(1, rec.slot);
	EXPECT_EQ(MKIOQ_STATE_PUBLISHED, rec.status);
	EXPECT_EQ(MKIOQ_OP_READ, rec.op);
	EXPECT_EQ(3, rec.src_handle);
	EXPECT_EQ(5, rec.dst_handle);
	EXPECT_EQ(0x1000, rec.offset);
	EXPECT_EQ(4096, rec.byte_count);
	EXPECT_EQ(42, rec.tag);
}

/* OFFSET_HI carries bits 32..63 (the crate ignored it on one path). */
TEST_F(ring, offset_above_4g_splits_into_lo_and_hi)
{
	static const uint64_t offsets[] = {
		0x100001000ULL, 0xffffffffULL, 0x100000000ULL,
		0xfedcba9876543210ULL, UINT64_MAX,
	};
	struct mkioq_request req = {
		.op = MKIOQ_OP_WRITE, .src_handle = 1, .byte_count = 4096,
	};
	struct mkioq_completion rec;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(offsets); i++) {
		req.offset = offsets[i];
		ASSERT_EQ(0, mkioq_submit(self->q, 2, &req));
		EXPECT_EQ((uint32_t)offsets[i],
			  word(self->q, 2, MKIOQ_WORD_OFFSET_LO));
		EXPECT_EQ((uint32_t)(offsets[i] >> 32),
			  word(self->q, 2, MKIOQ_WORD_OFFSET_HI));
		ASSERT_EQ(0, mkioq_completion(self->q, 2, &rec));
		EXPECT_EQ(offsets[i], rec.offset);
		/* Through the engine and back to EMPTY for the next one. */
		ASSERT_EQ(0, mkioq_claim(self->q, 2));
		ASSERT_EQ(0, mkioq_complete(self->q, 2));
		ASSERT_EQ(0, mkioq_recycle(self->q, 2));
	}
}

/* submit_dma_read is a READ at offset 0. */
TEST_F(ring, submit_dma_read_words)
{
	ASSERT_EQ(0, mkioq_submit_dma_read(self->q, 6, 11, 12, 13, 14));
	EXPECT_EQ(MKIOQ_OP_READ, word(self->q, 6, MKIOQ_WORD_OP));
	EXPECT_EQ(11, word(self->q, 6, MKIOQ_WORD_SRC_HANDLE));
	EXPECT_EQ(12, word(self->q, 6, MKIOQ_WORD_DST_HANDLE));
	EXPECT_EQ(0, word(self->q, 6, MKIOQ_WORD_OFFSET_LO));
	EXPECT_EQ(0, word(self->q, 6, MKIOQ_WORD_OFFSET_HI));
	EXPECT_EQ(13, word(self->q, 6, MKIOQ_WORD_BYTE_COUNT));
	EXPECT_EQ(MKIOQ_STATE_PUBLISHED, word(self->q, 6, MKIOQ_WORD_STATUS));
	EXPECT_EQ(14, word(self->q, 6, MKIOQ_WORD_TAG));
}

/* Every op is accepted, and each is written as given. */
TEST_F(ring, submit_accepts_every_op)
{
	static const uint32_t ops[] = {
		MKIOQ_OP_READ, MKIOQ_OP_WRITE, MKIOQ_OP_FENCE,
	};
	struct mkioq_request req = { .src_handle = 1 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		req.op = ops[i];
		ASSERT_EQ(0, mkioq_submit(self->q, i, &req));
		EXPECT_EQ(ops[i], word(self->q, i, MKIOQ_WORD_OP));
	}
}

/* "claim turns PUBLISHED into CLAIMED exactly once". */
TEST_F(ring, claim_exactly_once)
{
	ASSERT_EQ(0, submit_read(self->q, 1, 1));
	take(self->q, &self->before);
	ASSERT_EQ(0, mkioq_claim(self->q, 1));
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, mkioq_slot_status(self->q, 1));
	EXPECT_EQ(-1, diff_except(self->q, &self->before, 1, STATUS_ONLY));

	take(self->q, &self->before);
	EXPECT_EQ(-EAGAIN, mkioq_claim(self->q, 1));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/* Claim only takes PUBLISHED: every other state is -EAGAIN. */
TEST_F(ring, claim_needs_published)
{
	static const uint32_t slots[] = {
		S_EMPTY, S_CLAIMED, S_OK, S_ERROR, S_DONE, S_UNKNOWN,
	};
	size_t i;

	ASSERT_EQ(0, fill_every_state(self->q));
	take(self->q, &self->before);
	for (i = 0; i < ARRAY_SIZE(slots); i++)
		EXPECT_EQ(-EAGAIN, mkioq_claim(self->q, slots[i]));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/* "complete after claim gives OK"; completion changes only STATUS. */
TEST_F(ring, complete_after_claim_gives_ok)
{
	ASSERT_EQ(0, fill_every_state(self->q));
	ASSERT_EQ(0, mkioq_claim(self->q, S_PUBLISHED));
	take(self->q, &self->before);
	ASSERT_EQ(0, mkioq_complete(self->q, S_PUBLISHED));
	EXPECT_EQ(MKIOQ_RESULT_OK, mkioq_slot_status(self->q, S_PUBLISHED));
	EXPECT_EQ(-1, diff_except(self->q, &self->before, S_PUBLISHED,
				  STATUS_ONLY));
	/* And only once. */
	take(self->q, &self->before);
	EXPECT_EQ(-EBADSLT, mkioq_complete(self->q, S_PUBLISHED));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/* "completing an unclaimed slot is rejected", whatever its state. */
TEST_F(ring, complete_unclaimed_rejected)
{
	uint32_t slot;

	ASSERT_EQ(0, fill_every_state(self->q));
	take(self->q, &self->before);
	for (slot = 0; slot < S_COUNT; slot++) {
		if (slot == S_CLAIMED)
			continue;
		EXPECT_EQ(-EBADSLT, mkioq_complete(self->q, slot));
		EXPECT_EQ(-EBADSLT, mkioq_complete_error(self->q, slot, EIO));
		EXPECT_EQ(-EBADSLT,
			  mkioq_complete_batch(self->q, &slot, 1));
	}
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/*
 * "batch completion validates every slot first and changes nothing if
 * one is not CLAIMED", wherever the bad slot sits in the batch.
 */
TEST_F(ring, batch_validates_every_slot_first)
{
	uint32_t batch[3];
	uint32_t bad;

	ASSERT_EQ(0, fill_every_state(self->q));
	ASSERT_EQ(0, mkioq_claim(self->q, S_PUBLISHED));
	/* S_PUBLISHED and S_CLAIMED are now CLAIMED. */
	for (bad = 0; bad < S_COUNT; bad++) {
		if (bad == S_PUBLISHED || bad == S_CLAIMED)
			continue;
		batch[0] = S_PUBLISHED;
		batch[1] = S_CLAIMED;
		batch[2] = bad;
		take(self->q, &self->before);
		EXPECT_EQ(-EBADSLT, mkioq_complete_batch(self->q, batch, 3));
		EXPECT_EQ(-1, diff(self->q, &self->before));
		/* First or in the middle: still nothing. */
		batch[0] = bad;
		batch[2] = S_PUBLISHED;
		EXPECT_EQ(-EBADSLT, mkioq_complete_batch(self->q, batch, 3));
		EXPECT_EQ(-1, diff(self->q, &self->before));
		batch[0] = S_CLAIMED;
		batch[1] = bad;
		EXPECT_EQ(-EBADSLT, mkioq_complete_batch(self->q, batch, 3));
		EXPECT_EQ(-1, diff(self->q, &self->before));
	}
	/* An out-of-range slot at the end is caught before any write. */
	batch[0] = S_PUBLISHED;
	batch[1] = S_CLAIMED;
	batch[2] = S_COUNT;
	EXPECT_EQ(-ERANGE, mkioq_complete_batch(self->q, batch, 3));
	batch[2] = UINT32_MAX;
	EXPECT_EQ(-ERANGE, mkioq_complete_batch(self->q, batch, 3));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/* A slot twice in one batch would be completed twice: rejected. */
TEST_F(ring, batch_duplicate_rejected)
{
	uint32_t batch[] = { 1, 2, 1 };

	ASSERT_EQ(0, submit_read(self->q, 1, 1));
	ASSERT_EQ(0, submit_read(self->q, 2, 2));
	ASSERT_EQ(0, mkioq_claim(self->q, 1));
	ASSERT_EQ(0, mkioq_claim(self->q, 2));
	take(self->q, &self->before);
	EXPECT_EQ(-EINVAL, mkioq_complete_batch(self->q, batch, 3));
	EXPECT_EQ(-1, diff(self->q, &self->before));
	batch[1] = 1;
	EXPECT_EQ(-EINVAL, mkioq_complete_batch(self->q, batch, 2));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/* A valid batch completes all its slots, changing only STATUS words. */
TEST_F(ring, batch_completes_every_slot)
{
	static const uint8_t masks[MKIOQ_MAX_SLOTS] = {
		[1] = STATUS_ONLY, [4] = STATUS_ONLY, [7] = STATUS_ONLY,
	};
	const uint32_t batch[] = { 7, 1, 4 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(batch); i++) {
		ASSERT_EQ(0, submit_read(self->q, batch[i], batch[i] + 100));
		ASSERT_EQ(0, mkioq_claim(self->q, batch[i]));
	}
	ASSERT_EQ(0, submit_read(self->q, 2, 2));
	take(self->q, &self->before);
	ASSERT_EQ(0, mkioq_complete_batch(self->q, batch, 3));
	for (i = 0; i < ARRAY_SIZE(batch); i++)
		EXPECT_EQ(MKIOQ_RESULT_OK, mkioq_slot_status(self->q, batch[i]));
	EXPECT_EQ(-1, diff_masked(self->q, &self->before, masks));
	/* An empty batch is a no-op, with or without an array. */
	take(self->q, &self->before);
	EXPECT_EQ(0, mkioq_complete_batch(self->q, NULL, 0));
	EXPECT_EQ(0, mkioq_complete_batch(self->q, batch, 0));
	EXPECT_EQ(-EINVAL, mkioq_complete_batch(self->q, NULL, 1));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/* "publish_slot round-trips (slot 2, mapped 7, 4096 bytes, tag 99)". */
TEST_F(ring, publish_slot_round_trips)
{
	struct mkioq_completion rec;

	take(self->q, &self->before);
	ASSERT_EQ(0, mkioq_publish_slot(self->q, 2, 7, 4096, 99));
	EXPECT_EQ(MKIOQ_OP_READ, word(self->q, 2, MKIOQ_WORD_OP));
	EXPECT_EQ(MKIOQ_HANDLE_NONE, word(self->q, 2, MKIOQ_WORD_SRC_HANDLE));
	EXPECT_EQ(7, word(self->q, 2, MKIOQ_WORD_DST_HANDLE));
	EXPECT_EQ(0, word(self->q, 2, MKIOQ_WORD_OFFSET_LO));
	EXPECT_EQ(0, word(self->q, 2, MKIOQ_WORD_OFFSET_HI));
	EXPECT_EQ(4096, word(self->q, 2, MKIOQ_WORD_BYTE_COUNT));
	EXPECT_EQ(MKIOQ_STATE_PUBLISHED, word(self->q, 2, MKIOQ_WORD_STATUS));
	EXPECT_EQ(99, word(self->q, 2, MKIOQ_WORD_TAG));
	EXPECT_EQ(-1, diff_except(self->q, &self->before, 2, 0xff));

	ASSERT_EQ(0, mkioq_completion(self->q, 2, &rec));
	EXPECT_EQ(2, rec.slot);
	EXPECT_EQ(7, rec.dst_handle);
	EXPECT_EQ(4096, rec.byte_count);
	EXPECT_EQ(99, rec.tag);
	EXPECT_EQ(MKIOQ_STATE_PUBLISHED, rec.status);
	EXPECT_EQ(MKIOQ_HANDLE_NONE, rec.src_handle);
	EXPECT_EQ(0, rec.offset);
}

/*
 * "submit into a busy slot is rejected and leaves the bytes identical",
 * for every state but EMPTY, including states the library never writes.
 */
TEST_F(ring, submit_into_busy_slot_rejected)
{
	struct mkioq_request req = {
		.op = MKIOQ_OP_WRITE, .src_handle = 8, .dst_handle = 8,
		.offset = 0x100001000ULL, .byte_count = 8, .tag = 8,
	};
	uint32_t slot;
	size_t i;

	ASSERT_EQ(0, fill_every_state(self->q));
	take(self->q, &self->before);
	for (slot = S_EMPTY + 1; slot < S_COUNT; slot++) {
		EXPECT_EQ(-EBUSY, mkioq_submit(self->q, slot, &req));
		EXPECT_EQ(-EBUSY, mkioq_submit_dma_read(self->q, slot, 1, 2,
							3, 4));
		EXPECT_EQ(-EBUSY, mkioq_publish_slot(self->q, slot, 1, 2, 3));
	}
	EXPECT_EQ(-1, diff(self->q, &self->before));

	for (i = 0; i < ARRAY_SIZE(unknown_states); i++) {
		set_word(self->q, S_UNKNOWN, MKIOQ_WORD_STATUS,
			 unknown_states[i]);
		take(self->q, &self->before);
		EXPECT_EQ(-EBUSY, mkioq_submit(self->q, S_UNKNOWN, &req));
		EXPECT_EQ(-1, diff(self->q, &self->before));
	}
}

/* ------------------------------------------------------------------ */
/* Error paths change nothing                                          */
/* ------------------------------------------------------------------ */

/* Every slot-taking call, with slots past the end, on a full ring. */
TEST_F(ring, out_of_range_changes_nothing)
{
	static const uint32_t bad[] = { S_COUNT, S_COUNT + 1, MKIOQ_MAX_SLOTS,
					0x80000000, UINT32_MAX };
	struct mkioq_request req = { .op = MKIOQ_OP_READ, .src_handle = 1 };
	struct mkioq_completion rec;
	size_t i;

	ASSERT_EQ(0, fill_every_state(self->q));
	take(self->q, &self->before);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		uint32_t s = bad[i];

		EXPECT_EQ(-ERANGE, mkioq_submit(self->q, s, &req));
		EXPECT_EQ(-ERANGE, mkioq_submit_dma_read(self->q, s, 1, 1, 1,
							 1));
		EXPECT_EQ(-ERANGE, mkioq_publish_slot(self->q, s, 1, 1, 1));
		EXPECT_EQ(-ERANGE, mkioq_slot_status(self->q, s));
		EXPECT_EQ(-ERANGE, mkioq_completion(self->q, s, &rec));
		EXPECT_FALSE(mkioq_is_recycled(self->q, s));
		EXPECT_EQ(-ERANGE, mkioq_slot_recycled(self->q, s));
		EXPECT_EQ(-ERANGE, mkioq_recycle(self->q, s));
		EXPECT_EQ(-ERANGE, mkioq_claim(self->q, s));
		EXPECT_EQ(-ERANGE, mkioq_complete(self->q, s));
		EXPECT_EQ(-ERANGE, mkioq_complete_error(self->q, s, EIO));
		/* The range check comes before the argument checks. */
		EXPECT_EQ(-ERANGE, mkioq_complete_error(self->q, s, 0));
		EXPECT_EQ(-ERANGE, mkioq_complete_error(self->q, s, -EIO));
		EXPECT_EQ(-ERANGE, mkioq_complete_bytes(self->q, s, 0));
		EXPECT_EQ(-ERANGE, mkioq_completion(self->q, s, NULL));
		EXPECT_EQ(-ERANGE, mkioq_submit(self->q, s, NULL));
		EXPECT_EQ(-ERANGE, mkioq_complete_batch(self->q, &s, 1));
	}
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/*
 * Every slot-taking call tells a busy slot from a bad index: on a ring
 * with a slot in every state, no in-range call returns -ERANGE, and each
 * busy state gets the call's own errno.
 */
TEST_F(ring, busy_is_not_out_of_range)
{
	struct mkioq_request req = { .op = MKIOQ_OP_READ, .src_handle = 1 };
	struct mkioq_completion rec;
	uint32_t s;

	ASSERT_EQ(0, fill_every_state(self->q));
	take(self->q, &self->before);
	for (s = 0; s < S_COUNT; s++) {
		int st = mkioq_slot_status(self->q, s);

		EXPECT_NE(-ERANGE, st);
		EXPECT_NE(-ERANGE, mkioq_slot_recycled(self->q, s));
		EXPECT_NE(-ERANGE, mkioq_completion(self->q, s, &rec));
		if (s == S_EMPTY)
			continue;
		/* Producers: any non-EMPTY slot is busy. */
		EXPECT_EQ(-EBUSY, mkioq_submit(self->q, s, &req));
		EXPECT_EQ(-EBUSY, mkioq_submit_dma_read(self->q, s, 1, 1, 1, 1));
		EXPECT_EQ(-EBUSY, mkioq_publish_slot(self->q, s, 1, 1, 1));
		EXPECT_EQ(0, mkioq_slot_recycled(self->q, s));
		EXPECT_FALSE(mkioq_is_recycled(self->q, s));
		if (s == S_CLAIMED)
			continue;
		/* Completers: any slot but the CLAIMED one is refused. */
		EXPECT_EQ(-EBADSLT, mkioq_complete(self->q, s));
		EXPECT_EQ(-EBADSLT, mkioq_complete_bytes(self->q, s, 0));
		EXPECT_EQ(-EBADSLT, mkioq_complete_error(self->q, s, -EIO));
		EXPECT_EQ(-EBADSLT, mkioq_complete_batch(self->q, &s, 1));
	}
	/* The claimer's and the consumer's busy errnos. */
	for (s = 0; s < S_COUNT; s++)
		if (s != S_PUBLISHED && s != S_INGEST)
			EXPECT_EQ(-EAGAIN, mkioq_claim(self->q, s));
	EXPECT_EQ(-EBUSY, mkioq_recycle(self->q, S_CLAIMED));
	EXPECT_EQ(-EBUSY, mkioq_recycle(self->q, S_PUBLISHED));
	EXPECT_EQ(-EALREADY, mkioq_recycle(self->q, S_EMPTY));
	EXPECT_EQ(-EAGAIN, mkioq_claim(self->q, S_EMPTY));
	EXPECT_EQ(-EPERM, mkioq_claim(self->q, S_INGEST));
	EXPECT_EQ(-ENODATA, mkioq_completion(self->q, S_EMPTY, &rec));
	EXPECT_EQ(-EBADSLT, mkioq_complete(self->q, S_EMPTY));
	EXPECT_EQ(1, mkioq_slot_recycled(self->q, S_EMPTY));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/*
 * The seed's "while (!is_recycled(s))" ported to mkioq_slot_recycled()
 * ends on a bad index instead of spinning.
 */
TEST_F(ring, slot_recycled_wait_loop_ends_on_bad_index)
{
	static const uint32_t bad[] = { S_COUNT, MKIOQ_MAX_SLOTS, UINT32_MAX };
	unsigned int spins;
	size_t i;
	int r;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		spins = 0;
		while ((r = mkioq_slot_recycled(self->q, bad[i])) == 0 &&
		       spins < 1000)
			spins++;
		EXPECT_EQ(-ERANGE, r);
		EXPECT_EQ(0, spins);
	}
	/* And on a recycled slot, after the consumer hands it back. */
	ASSERT_EQ(0, mkioq_publish_slot(self->q, 2, 7, 4096, 99));
	EXPECT_EQ(0, mkioq_slot_recycled(self->q, 2));
	ASSERT_EQ(0, mkioq_recycle(self->q, 2));
	EXPECT_EQ(1, mkioq_slot_recycled(self->q, 2));
}

/* Bad requests into an EMPTY slot: the slot stays EMPTY and zero. */
TEST_F(ring, bad_request_changes_nothing)
{
	static const uint32_t bad_ops[] = { 0, 4, 0x10, 0x101, UINT32_MAX };
	struct mkioq_request req = {
		.op = MKIOQ_OP_READ, .src_handle = 1, .dst_handle = 2,
		.byte_count = 3, .offset = 4, .tag = 5,
	};
	size_t i;

	ASSERT_EQ(0, fill_every_state(self->q));
	take(self->q, &self->before);
	for (i = 0; i < ARRAY_SIZE(bad_ops); i++) {
		req.op = bad_ops[i];
		EXPECT_EQ(-EINVAL, mkioq_submit(self->q, S_EMPTY, &req));
	}
	/* Source 0 would turn the request into an ingest for the GPU. */
	req.op = MKIOQ_OP_READ;
	req.src_handle = MKIOQ_HANDLE_NONE;
	EXPECT_EQ(-EINVAL, mkioq_submit(self->q, S_EMPTY, &req));
	EXPECT_EQ(-EINVAL, mkioq_submit_dma_read(self->q, S_EMPTY,
						 MKIOQ_HANDLE_NONE, 2, 3, 4));
	EXPECT_EQ(-EINVAL, mkioq_submit(self->q, S_EMPTY, NULL));
	EXPECT_EQ(-1, diff(self->q, &self->before));
	EXPECT_TRUE(mkioq_is_recycled(self->q, S_EMPTY));
}

/* A NULL queue is -EINVAL (false for the predicate) everywhere. */
TEST(null_queue_rejected)
{
	struct mkioq_request req = { .op = MKIOQ_OP_READ, .src_handle = 1 };
	struct mkioq_completion rec;
	uint32_t slots[2] = { 0, 1 };

	EXPECT_EQ(-EINVAL, mkioq_submit(NULL, 0, &req));
	EXPECT_EQ(-EINVAL, mkioq_submit_dma_read(NULL, 0, 1, 1, 1, 1));
	EXPECT_EQ(-EINVAL, mkioq_publish_slot(NULL, 0, 1, 1, 1));
	EXPECT_EQ(-EINVAL, mkioq_slot_status(NULL, 0));
	EXPECT_EQ(-EINVAL, mkioq_completion(NULL, 0, &rec));
	EXPECT_FALSE(mkioq_is_recycled(NULL, 0));
	EXPECT_EQ(-EINVAL, mkioq_slot_recycled(NULL, 0));
	EXPECT_EQ(-EINVAL, mkioq_slot_recycled(NULL, UINT32_MAX));
	EXPECT_EQ(-EINVAL, mkioq_recycle(NULL, 0));
	EXPECT_EQ(-EINVAL, mkioq_claim(NULL, 0));
	EXPECT_EQ(-EINVAL, mkioq_claim_batch(NULL, slots, 2));
	EXPECT_EQ(-EINVAL, mkioq_complete(NULL, 0));
	EXPECT_EQ(-EINVAL, mkioq_complete_error(NULL, 0, EIO));
	EXPECT_EQ(-EINVAL, mkioq_complete_batch(NULL, slots, 2));
	EXPECT_EQ(0, slots[0]);
	EXPECT_EQ(1, slots[1]);
}

/* ------------------------------------------------------------------ */
/* Host-published ingest slots (SRC = 0) belong to the GPU             */
/* ------------------------------------------------------------------ */

TEST_F(ring, claim_of_ingest_is_eperm)
{
	ASSERT_EQ(0, mkioq_publish_slot(self->q, 3, 7, 4096, 99));
	take(self->q, &self->before);
	EXPECT_EQ(-EPERM, mkioq_claim(self->q, 3));
	EXPECT_EQ(MKIOQ_STATE_PUBLISHED, mkioq_slot_status(self->q, 3));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/*
 * claim_batch takes PUBLISHED requests in slot order, skips ingests and
 * every other state, stops at max, and writes nothing past what it
 * returns.
 */
TEST_F(ring, claim_batch_skips_ingest)
{
	uint32_t out[S_COUNT + 1];
	uint32_t i;

	ASSERT_EQ(0, fill_every_state(self->q));
	/* Requests in 0 and 7 too: the ring is now 0, 1, 7 claimable. */
	ASSERT_EQ(0, submit_read(self->q, S_EMPTY, 200));
	set_word(self->q, S_UNKNOWN, MKIOQ_WORD_STATUS, MKIOQ_STATE_PUBLISHED);

	take(self->q, &self->before);
	EXPECT_EQ(0, mkioq_claim_batch(self->q, out, 0));
	EXPECT_EQ(0, mkioq_claim_batch(self->q, NULL, 0));
	EXPECT_EQ(-EINVAL, mkioq_claim_batch(self->q, NULL, 1));
	EXPECT_EQ(-1, diff(self->q, &self->before));

	for (i = 0; i < ARRAY_SIZE(out); i++)
		out[i] = 0xdead;
	ASSERT_EQ(2, mkioq_claim_batch(self->q, out, 2));
	EXPECT_EQ(S_EMPTY, out[0]);
	EXPECT_EQ(S_PUBLISHED, out[1]);
	EXPECT_EQ(0xdead, out[2]);

	ASSERT_EQ(1, mkioq_claim_batch(self->q, out, S_COUNT + 1));
	EXPECT_EQ(S_UNKNOWN, out[0]);
	EXPECT_EQ(0xdead, out[2]);

	/* Only the ingest is left PUBLISHED, and it is never taken. */
	take(self->q, &self->before);
	EXPECT_EQ(0, mkioq_claim_batch(self->q, out, S_COUNT + 1));
	EXPECT_EQ(MKIOQ_STATE_PUBLISHED, mkioq_slot_status(self->q, S_INGEST));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/* ------------------------------------------------------------------ */
/* complete_error                                                      */
/* ------------------------------------------------------------------ */

/* ERROR puts the positive errno in TAG; nothing else changes. */
TEST_F(ring, complete_error_writes_errno)
{
	struct mkioq_completion rec;

	ASSERT_EQ(0, submit_read(self->q, 4, 1234));
	ASSERT_EQ(0, mkioq_claim(self->q, 4));
	take(self->q, &self->before);
	ASSERT_EQ(0, mkioq_complete_error(self->q, 4, ENOENT));
	EXPECT_EQ(MKIOQ_RESULT_ERROR, word(self->q, 4, MKIOQ_WORD_STATUS));
	EXPECT_EQ(ENOENT, word(self->q, 4, MKIOQ_WORD_TAG));
	EXPECT_EQ(-1, diff_except(self->q, &self->before, 4,
				  STATUS_ONLY | W(MKIOQ_WORD_TAG)));
	ASSERT_EQ(0, mkioq_completion(self->q, 4, &rec));
	EXPECT_EQ(MKIOQ_RESULT_ERROR, rec.status);
	EXPECT_EQ(ENOENT, rec.tag);
	/* A completed slot cannot be completed again either way. */
	take(self->q, &self->before);
	EXPECT_EQ(-EBADSLT, mkioq_complete_error(self->q, 4, EIO));
	EXPECT_EQ(-EBADSLT, mkioq_complete(self->q, 4));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/* A short transfer: BYTE_COUNT becomes the bytes done, then STATUS OK. */
TEST_F(ring, complete_bytes_reports_short_transfer)
{
	struct mkioq_completion rec;

	ASSERT_EQ(0, submit_read(self->q, 4, 1234));
	ASSERT_EQ(0, mkioq_claim(self->q, 4));
	take(self->q, &self->before);
	/* More than requested is refused and changes nothing. */
	EXPECT_EQ(-EMSGSIZE, mkioq_complete_bytes(self->q, 4, 4097));
	EXPECT_EQ(-EMSGSIZE, mkioq_complete_bytes(self->q, 4, UINT32_MAX));
	EXPECT_EQ(-1, diff(self->q, &self->before));
	ASSERT_EQ(0, mkioq_complete_bytes(self->q, 4, 1000));
	EXPECT_EQ(-1, diff_except(self->q, &self->before, 4,
				  STATUS_ONLY | W(MKIOQ_WORD_BYTE_COUNT)));
	ASSERT_EQ(0, mkioq_completion(self->q, 4, &rec));
	EXPECT_EQ(MKIOQ_RESULT_OK, rec.status);
	EXPECT_EQ(1000, rec.byte_count);
	EXPECT_EQ(1234, rec.tag);
	/* Only a CLAIMED slot, and only once. */
	take(self->q, &self->before);
	EXPECT_EQ(-EBADSLT, mkioq_complete_bytes(self->q, 4, 0));
	EXPECT_EQ(-EBADSLT, mkioq_complete_bytes(self->q, S_COUNT - 1, 0));
	EXPECT_EQ(-ERANGE, mkioq_complete_bytes(self->q, 64, 0));
	EXPECT_EQ(-EINVAL, mkioq_complete_bytes(NULL, 4, 0));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/*
 * err is 1..4095 in absolute value: 0, INT_MIN and anything beyond
 * MAX_ERRNO either way are -EINVAL, and change nothing.
 */
TEST_F(ring, complete_error_rejects_bad_errnos)
{
	static const int bad[] = { 0, 4096, -4096, 5000, -5000, INT32_MAX,
				   -INT32_MAX, INT32_MIN };
	size_t i;

	ASSERT_EQ(0, submit_read(self->q, 4, 1234));
	ASSERT_EQ(0, mkioq_claim(self->q, 4));
	take(self->q, &self->before);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(-EINVAL, mkioq_complete_error(self->q, 4, bad[i]));
	EXPECT_EQ(-1, diff(self->q, &self->before));
	EXPECT_EQ(MKIOQ_STATE_CLAIMED, mkioq_slot_status(self->q, 4));
	/* The errno is checked before the state. */
	EXPECT_EQ(-EINVAL, mkioq_complete_error(self->q, S_EMPTY, 0));
	EXPECT_EQ(-EINVAL, mkioq_complete_error(self->q, S_EMPTY, -4096));
}

/*
 * The negative errno the other calls return works as well as the
 * positive one: TAG holds the absolute value, at both ends of 1..4095.
 */
TEST_F(ring, complete_error_takes_either_sign)
{
	static const int errs[] = { -EIO, EIO, -1, 1, -4095, 4095, -ENOENT };
	struct mkioq_completion rec;
	size_t i;
	int r;

	for (i = 0; i < ARRAY_SIZE(errs); i++) {
		ASSERT_EQ(0, submit_read(self->q, 4, 1234));
		ASSERT_EQ(0, mkioq_claim(self->q, 4));
		take(self->q, &self->before);
		ASSERT_EQ(0, mkioq_complete_error(self->q, 4, errs[i]));
		EXPECT_EQ(MKIOQ_RESULT_ERROR, word(self->q, 4, MKIOQ_WORD_STATUS));
		EXPECT_EQ(abs(errs[i]), word(self->q, 4, MKIOQ_WORD_TAG));
		EXPECT_EQ(-1, diff_except(self->q, &self->before, 4,
					  STATUS_ONLY | W(MKIOQ_WORD_TAG)));
		ASSERT_EQ(0, mkioq_recycle(self->q, 4));
	}

	/* The port of "if (r < 0) complete_error(q, s, r)". */
	ASSERT_EQ(0, submit_read(self->q, 4, 1234));
	ASSERT_EQ(0, mkioq_claim(self->q, 4));
	r = mkioq_complete(self->q, S_EMPTY);
	ASSERT_EQ(-EBADSLT, r);
	ASSERT_EQ(0, mkioq_complete_error(self->q, 4, r));
	ASSERT_EQ(0, mkioq_completion(self->q, 4, &rec));
	EXPECT_EQ(MKIOQ_RESULT_ERROR, rec.status);
	EXPECT_EQ(EBADSLT, rec.tag);
}

/* ------------------------------------------------------------------ */
/* Recycle                                                             */
/* ------------------------------------------------------------------ */

/* OK, ERROR and DONE go back to EMPTY; the other words stay as read. */
TEST_F(ring, recycle_completed_slots)
{
	static const uint32_t slots[] = { S_OK, S_ERROR, S_DONE };
	size_t i;

	ASSERT_EQ(0, fill_every_state(self->q));
	for (i = 0; i < ARRAY_SIZE(slots); i++) {
		take(self->q, &self->before);
		EXPECT_FALSE(mkioq_is_recycled(self->q, slots[i]));
		ASSERT_EQ(0, mkioq_recycle(self->q, slots[i]));
		EXPECT_EQ(MKIOQ_STATE_EMPTY,
			  mkioq_slot_status(self->q, slots[i]));
		EXPECT_TRUE(mkioq_is_recycled(self->q, slots[i]));
		EXPECT_EQ(-1, diff_except(self->q, &self->before, slots[i],
					  STATUS_ONLY));
	}
}

/* An ingest the GPU consumed (PUBLISHED with SRC 0) may be recycled. */
TEST_F(ring, recycle_consumed_ingest)
{
	ASSERT_EQ(0, fill_every_state(self->q));
	take(self->q, &self->before);
	ASSERT_EQ(0, mkioq_recycle(self->q, S_INGEST));
	EXPECT_TRUE(mkioq_is_recycled(self->q, S_INGEST));
	EXPECT_EQ(-1, diff_except(self->q, &self->before, S_INGEST,
				  STATUS_ONLY));
}

/*
 * EMPTY is already recycled; a PUBLISHED request and a CLAIMED slot
 * belong to the engine; an unknown STATUS is a protocol error. None
 * changes a byte.
 */
TEST_F(ring, recycle_rejections)
{
	size_t i;

	ASSERT_EQ(0, fill_every_state(self->q));
	take(self->q, &self->before);
	EXPECT_EQ(-EALREADY, mkioq_recycle(self->q, S_EMPTY));
	EXPECT_EQ(-EBUSY, mkioq_recycle(self->q, S_PUBLISHED));
	EXPECT_EQ(-EBUSY, mkioq_recycle(self->q, S_CLAIMED));
	EXPECT_EQ(-EPROTO, mkioq_recycle(self->q, S_UNKNOWN));
	EXPECT_EQ(-1, diff(self->q, &self->before));

	for (i = 0; i < ARRAY_SIZE(unknown_states); i++) {
		set_word(self->q, S_UNKNOWN, MKIOQ_WORD_STATUS,
			 unknown_states[i]);
		take(self->q, &self->before);
		EXPECT_EQ(-EPROTO, mkioq_recycle(self->q, S_UNKNOWN));
		EXPECT_EQ(-1, diff(self->q, &self->before));
	}
	/* Recycled once: the second recycle is -EALREADY. */
	ASSERT_EQ(0, mkioq_recycle(self->q, S_OK));
	EXPECT_EQ(-EALREADY, mkioq_recycle(self->q, S_OK));
}

/* ------------------------------------------------------------------ */
/* Readers                                                             */
/* ------------------------------------------------------------------ */

TEST_F(ring, is_recycled_only_when_empty)
{
	uint32_t slot;

	EXPECT_TRUE(mkioq_is_recycled(self->q, 0));
	ASSERT_EQ(0, fill_every_state(self->q));
	for (slot = 0; slot < S_COUNT; slot++)
		EXPECT_EQ(slot == S_EMPTY, mkioq_is_recycled(self->q, slot));
	EXPECT_FALSE(mkioq_is_recycled(self->q, S_COUNT));
}

/*
 * 1 only for EMPTY, 0 for every other STATUS word, garbage included, and
 * the same answer as mkioq_is_recycled() wherever the index is good.
 */
TEST_F(ring, slot_recycled_only_when_empty)
{
	uint32_t slot;
	size_t i;

	EXPECT_EQ(1, mkioq_slot_recycled(self->q, 0));
	ASSERT_EQ(0, fill_every_state(self->q));
	take(self->q, &self->before);
	for (slot = 0; slot < S_COUNT; slot++) {
		EXPECT_EQ(slot == S_EMPTY, mkioq_slot_recycled(self->q, slot));
		EXPECT_EQ(mkioq_is_recycled(self->q, slot),
			  mkioq_slot_recycled(self->q, slot) == 1);
	}
	for (i = 0; i < ARRAY_SIZE(unknown_states); i++) {
		set_word(self->q, S_UNKNOWN, MKIOQ_WORD_STATUS,
			 unknown_states[i]);
		EXPECT_EQ(0, mkioq_slot_recycled(self->q, S_UNKNOWN));
	}
	set_word(self->q, S_UNKNOWN, MKIOQ_WORD_STATUS, 0x77);
	EXPECT_EQ(-ERANGE, mkioq_slot_recycled(self->q, S_COUNT));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/*
 * A garbage STATUS above INT_MAX is -EPROTO, never a number that reads
 * as another errno (0xffffffde would be -ERANGE); completion() still
 * shows the word as it is.
 */
TEST_F(ring, slot_status_of_garbage_is_eproto)
{
	static const uint32_t garbage[] = { 0x80000000, 0xffffffde,
					    (uint32_t)-EBUSY, UINT32_MAX };
	struct mkioq_completion rec;
	size_t i;

	ASSERT_EQ(0, fill_every_state(self->q));
	for (i = 0; i < ARRAY_SIZE(garbage); i++) {
		set_word(self->q, S_UNKNOWN, MKIOQ_WORD_STATUS, garbage[i]);
		take(self->q, &self->before);
		EXPECT_EQ(-EPROTO, mkioq_slot_status(self->q, S_UNKNOWN));
		ASSERT_EQ(0, mkioq_completion(self->q, S_UNKNOWN, &rec));
		EXPECT_EQ(garbage[i], rec.status);
		EXPECT_EQ(-1, diff(self->q, &self->before));
	}
	set_word(self->q, S_UNKNOWN, MKIOQ_WORD_STATUS, 0x7fffffff);
	EXPECT_EQ(0x7fffffff, mkioq_slot_status(self->q, S_UNKNOWN));
}

TEST_F(ring, slot_status_reports_state)
{
	static const int want[S_COUNT] = {
		[S_EMPTY] = MKIOQ_STATE_EMPTY,
		[S_PUBLISHED] = MKIOQ_STATE_PUBLISHED,
		[S_INGEST] = MKIOQ_STATE_PUBLISHED,
		[S_CLAIMED] = MKIOQ_STATE_CLAIMED,
		[S_OK] = MKIOQ_RESULT_OK,
		[S_ERROR] = MKIOQ_RESULT_ERROR,
		[S_DONE] = MKIOQ_STATE_DONE,
		[S_UNKNOWN] = 0x77,
	};
	uint32_t slot;

	ASSERT_EQ(0, fill_every_state(self->q));
	take(self->q, &self->before);
	for (slot = 0; slot < S_COUNT; slot++)
		EXPECT_EQ(want[slot], mkioq_slot_status(self->q, slot));
	EXPECT_EQ(-ERANGE, mkioq_slot_status(self->q, S_COUNT));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/* Any non-EMPTY slot has a record; EMPTY has none (-ENODATA). */
TEST_F(ring, completion_records)
{
	struct mkioq_completion rec;
	uint32_t slot;

	ASSERT_EQ(0, fill_every_state(self->q));
	take(self->q, &self->before);
	memset(&rec, 0xa5, sizeof(rec));
	EXPECT_EQ(-ENODATA, mkioq_completion(self->q, S_EMPTY, &rec));
	for (slot = S_EMPTY + 1; slot < S_COUNT; slot++) {
		ASSERT_EQ(0, mkioq_completion(self->q, slot, &rec));
		EXPECT_EQ(slot, rec.slot);
		EXPECT_EQ(word(self->q, slot, MKIOQ_WORD_STATUS), rec.status);
		EXPECT_EQ(word(self->q, slot, MKIOQ_WORD_TAG), rec.tag);
		EXPECT_EQ(word(self->q, slot, MKIOQ_WORD_SRC_HANDLE), rec.src_handle);
	}
	ASSERT_EQ(0, mkioq_completion(self->q, S_OK, &rec));
	EXPECT_EQ(104, rec.tag);
	EXPECT_EQ(4096, rec.byte_count);
	EXPECT_EQ(3, rec.src_handle);
	EXPECT_EQ(4, rec.dst_handle);
	ASSERT_EQ(0, mkioq_completion(self->q, S_ERROR, &rec));
	EXPECT_EQ(EIO, rec.tag);
	EXPECT_EQ(-EINVAL, mkioq_completion(self->q, S_OK, NULL));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/* The whole life of a slot, twice, the second time ending in ERROR. */
TEST_F(ring, full_lifecycle)
{
	struct mkioq_completion rec;
	uint32_t claimed = 0;

	ASSERT_EQ(0, submit_read(self->q, 5, 1));
	EXPECT_EQ(-EBUSY, mkioq_recycle(self->q, 5));
	ASSERT_EQ(1, mkioq_claim_batch(self->q, &claimed, 1));
	EXPECT_EQ(5, claimed);
	ASSERT_EQ(0, mkioq_complete(self->q, 5));
	ASSERT_EQ(0, mkioq_completion(self->q, 5, &rec));
	EXPECT_EQ(MKIOQ_RESULT_OK, rec.status);
	EXPECT_EQ(1, rec.tag);
	ASSERT_EQ(0, mkioq_recycle(self->q, 5));
	EXPECT_TRUE(mkioq_is_recycled(self->q, 5));

	ASSERT_EQ(0, submit_read(self->q, 5, 2));
	ASSERT_EQ(0, mkioq_claim(self->q, 5));
	ASSERT_EQ(0, mkioq_complete_error(self->q, 5, EFAULT));
	ASSERT_EQ(0, mkioq_completion(self->q, 5, &rec));
	EXPECT_EQ(MKIOQ_RESULT_ERROR, rec.status);
	EXPECT_EQ(EFAULT, rec.tag);
	ASSERT_EQ(0, mkioq_recycle(self->q, 5));
	EXPECT_TRUE(mkioq_is_recycled(self->q, 5));
}

/* ------------------------------------------------------------------ */
/* Device-only calls                                                   */
/* ------------------------------------------------------------------ */

/* A host-owned queue has no device: -ENOTTY, outputs untouched. */
TEST_F(ring, device_calls_need_a_device)
{
	struct mkioq_cqe cqes[2];
	struct mkioq_info info;
	uint32_t handle = 0xdead;

	ASSERT_EQ(0, fill_every_state(self->q));
	take(self->q, &self->before);
	EXPECT_EQ(-ENOTTY, mkioq_doorbell(self->q));
	EXPECT_EQ(-ENOTTY, mkioq_register(self->q, 0, 0, 4096,
					  MKIOQ_ACCESS_RW, &handle));
	EXPECT_EQ(0xdead, handle);
	EXPECT_EQ(-ENOTTY, mkioq_unregister(self->q, 1));
	EXPECT_EQ(-ENOTTY, mkioq_info(self->q, &info));
	EXPECT_EQ(-ENOTTY, mkioq_read_cqes(self->q, cqes, 2, 0));
	EXPECT_EQ(-ENOTTY, mkioq_read_cqes(self->q, cqes, 2, -1));
	EXPECT_EQ(-1, diff(self->q, &self->before));

	/* Bad arguments are -EINVAL before anything else. */
	EXPECT_EQ(-EINVAL, mkioq_register(self->q, 0, 0, 4096,
					  MKIOQ_ACCESS_RW, NULL));
	EXPECT_EQ(-EINVAL, mkioq_info(self->q, NULL));
	EXPECT_EQ(-EINVAL, mkioq_read_cqes(self->q, NULL, 2, 0));
	EXPECT_EQ(-EINVAL, mkioq_read_cqes(self->q, cqes, 0, 0));
	EXPECT_EQ(-EINVAL, mkioq_doorbell(NULL));
	EXPECT_EQ(-EINVAL, mkioq_unregister(NULL, 1));
	EXPECT_EQ(-EINVAL, mkioq_info(NULL, &info));
	EXPECT_EQ(-EINVAL, mkioq_read_cqes(NULL, cqes, 2, 0));
	EXPECT_EQ(-EINVAL, mkioq_register(NULL, 0, 0, 1, 1, &handle));
	EXPECT_EQ(-1, diff(self->q, &self->before));
}

/*
 * The library-owned io_uring needs a device queue too. submit_and_ring
 * refuses before publishing anything: no request is left PUBLISHED with
 * no doorbell to ring for it.
 */
TEST_F(ring, uring_calls_need_a_device)
{
	const struct mkioq_request req = {
		.op = MKIOQ_OP_READ, .src_handle = 1, .byte_count = 1,
	};
	const uint32_t slot = S_EMPTY;
	struct mkioq_cqe cqes[2];

	ASSERT_EQ(0, fill_every_state(self->q));
	take(self->q, &self->before);
	EXPECT_EQ(-ENOTTY, mkioq_uring_init(self->q, 0));
	EXPECT_EQ(NULL, self->q->helper);
	EXPECT_EQ(-ENOTTY, mkioq_submit_and_ring(self->q, &slot, &req, 1));
	EXPECT_EQ(-ENOTTY, mkioq_wait_completions(self->q, cqes, 2, 0));
	EXPECT_EQ(-1, diff(self->q, &self->before));

	EXPECT_EQ(-EINVAL, mkioq_uring_init(NULL, 0));
	EXPECT_EQ(-EINVAL, mkioq_submit_and_ring(NULL, &slot, &req, 1));
	EXPECT_EQ(-EINVAL, mkioq_wait_completions(NULL, cqes, 2, 0));
}

/*
 * Opening fails cleanly without the module: no such file, a file that is
 * not a mkioq device (its SETUP ioctl is -ENOTTY), bad flags, NULLs.
 */
TEST(open_without_a_device)
{
	struct mkioq_queue *sentinel = (struct mkioq_queue *)0x1;
	struct mkioq_queue *q = sentinel;
	struct mkioq_setup setup = { .slot_count = 8 };

	EXPECT_EQ(-ENOENT, mkioq_queue_open("/nonexistent/mkioq0", 8, 0, &q));
	EXPECT_EQ(-ENOTTY, mkioq_queue_open("/dev/null", 8, 0, &q));
	EXPECT_EQ(-ENOTTY, mkioq_queue_open("/dev/null", 8, MKIOQ_OPEN_POLL,
					    &q));
	EXPECT_EQ(-EINVAL, mkioq_queue_open("/dev/null", 8, 1U << 5, &q));
	EXPECT_EQ(-EINVAL, mkioq_queue_open(NULL, 8, 0, &q));
	EXPECT_EQ(-EINVAL, mkioq_queue_open("/dev/null", 8, 0, NULL));
	EXPECT_EQ(-EINVAL, mkioq_queue_open_setup("/dev/null", NULL, &q));
	EXPECT_EQ(-EINVAL, mkioq_queue_open_setup(NULL, &setup, &q));
	EXPECT_EQ(-ENOTTY, mkioq_queue_open_setup("/dev/null", &setup, &q));
	EXPECT_EQ(sentinel, q);
}

/* Open descriptors of this process, counted in /proc/self/fd. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * Bad arguments are -EINVAL before anything is opened: not -ENOENT for a
 * path that does not exist, not -ENOTTY for a file that is no device,
 * and no descriptor is left behind.
 */
TEST(open_checks_arguments_before_opening)
{
	static const char *const paths[] = { "/nonexistent/mkioq0",
					     "/dev/null" };
	static const uint32_t bad_counts[] = { 0, MKIOQ_MAX_SLOTS + 1,
					       UINT32_MAX };
	static const unsigned int bad_flags[] = { 1U << 1, 1U << 31,
						  ~0U, MKIOQ_OPEN_POLL | 4 };
	struct mkioq_queue *sentinel = (struct mkioq_queue *)0x1;
	struct mkioq_queue *q = sentinel;
	struct mkioq_setup setup;
	int fds = open_fds();
	size_t i, j;

	ASSERT_LT(0, fds);
	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		for (j = 0; j < ARRAY_SIZE(bad_counts); j++) {
			EXPECT_EQ(-EINVAL, mkioq_queue_open(paths[i],
							    bad_counts[j], 0,
							    &q));
			EXPECT_EQ(-EINVAL, mkioq_queue_open(paths[i],
							    bad_counts[j],
							    MKIOQ_OPEN_POLL,
							    &q));
			memset(&setup, 0, sizeof(setup));
			setup.slot_count = bad_counts[j];
			EXPECT_EQ(-EINVAL, mkioq_queue_open_setup(paths[i],
								  &setup, &q));
		}
		for (j = 0; j < ARRAY_SIZE(bad_flags); j++)
			EXPECT_EQ(-EINVAL, mkioq_queue_open(paths[i], 8,
							    bad_flags[j], &q));
		EXPECT_EQ(-EINVAL, mkioq_queue_open(paths[i], 8, 0, NULL));
		EXPECT_EQ(-EINVAL, mkioq_queue_open(paths[i], 0, 0, NULL));
	}
	/* Both ends of 1..64 get as far as open(). */
	EXPECT_EQ(-ENOENT, mkioq_queue_open(paths[0], 1, 0, &q));
	EXPECT_EQ(-ENOENT, mkioq_queue_open(paths[0], MKIOQ_MAX_SLOTS, 0, &q));
	EXPECT_EQ(sentinel, q);
	EXPECT_EQ(fds, open_fds());
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * libmkioq queue lifetime, raw bytes, clone, dump and strerror, on
 * host-owned queues (no kernel needed).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmkioq.h>

#include "kselftest_harness.h"

/* Word @w of @slot as the wire ABI defines it: little-endian. */
static uint32_t le_word(const void *bytes, uint32_t slot, unsigned int w)
{
	const uint8_t *b = (const uint8_t *)bytes +
			   ((size_t)slot * MKIOQ_SLOT_WORDS + w) * 4;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static void set_le_word(void *bytes, uint32_t slot, unsigned int w,
			uint32_t v)
{
	uint8_t *b = (uint8_t *)bytes +
		     ((size_t)slot * MKIOQ_SLOT_WORDS + w) * 4;

	b[0] = v;
	b[1] = v >> 8;
	b[2] = v >> 16;
	b[3] = v >> 24;
}

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

static unsigned int count_char(const char *s, char c)
{
	unsigned int n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

/* The whole dump of @q in a malloc()ed string. */
static char *dump_alloc(const struct mkioq_queue *q)
{
	int n = mkioq_queue_dump(q, NULL, 0);
	char *buf;

	if (n < 0)
		return NULL;
	buf = malloc((size_t)n + 1);
	if (buf && mkioq_queue_dump(q, buf, (size_t)n + 1) != n) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* What mkioq_queue_fprint() writes, captured in memory. */
static char *fprint_alloc(const struct mkioq_queue *q, int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	*ret = mkioq_queue_fprint(q, f);
	fclose(f);
	return buf;
}

/* ------------------------------------------------------------------ */
/* mkioq_queue_new                                                     */
/* ------------------------------------------------------------------ */

/* The crate's new(0) and new(65) fail; a failed call leaves *qp alone. */
TEST(new_rejects_bad_slot_counts)
{
	static const uint32_t bad[] = { 0, MKIOQ_MAX_SLOTS + 1, 1000,
					UINT32_MAX };
	struct mkioq_queue *sentinel = (struct mkioq_queue *)0x1;
	struct mkioq_queue *q;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		q = sentinel;
		EXPECT_EQ(-EINVAL, mkioq_queue_new(bad[i], &q));
		EXPECT_EQ(sentinel, q);
	}
}

TEST(new_rejects_null_result)
{
	EXPECT_EQ(-EINVAL, mkioq_queue_new(1, NULL));
	EXPECT_EQ(-EINVAL, mkioq_queue_new(0, NULL));
}

/* Both ends of 1..64 work and describe a host-owned queue. */
TEST(new_accepts_1_and_64)
{
	static const uint32_t good[] = { 1, MKIOQ_MAX_SLOTS };
	struct mkioq_queue *q;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		q = NULL;
		ASSERT_EQ(0, mkioq_queue_new(good[i], &q));
		ASSERT_NE(NULL, q);
		EXPECT_EQ(good[i], mkioq_queue_slot_count(q));
		EXPECT_EQ(-1, mkioq_queue_fd(q));
		EXPECT_EQ(0, q->flags & MKIOQ_QUEUE_F_DEVICE);
		mkioq_queue_free(q);
	}
}

/* The crate's "encode of an empty queue is all zero", for every size. */
TEST(empty_queue_is_all_zero)
{
	struct mkioq_queue *q;
	const void *bytes;
	uint32_t n;
	size_t len;

	for (n = 1; n <= MKIOQ_MAX_SLOTS; n++) {
		ASSERT_EQ(0, mkioq_queue_new(n, &q));
		len = 0;
		bytes = mkioq_queue_bytes(q, &len);
		ASSERT_NE(NULL, bytes);
		ASSERT_EQ((size_t)n * MKIOQ_SLOT_BYTES, len);
		EXPECT_TRUE(all_zero(bytes, len));
		mkioq_queue_free(q);
	}
}

/* ------------------------------------------------------------------ */
/* Raw bytes                                                           */
/* ------------------------------------------------------------------ */

/* Both views are slot_count * 32 bytes of the same memory. */
TEST(bytes_and_mut_bytes_lengths)
{
	struct mkioq_queue *q;
	size_t len = 0, mlen = 0;
	const void *bytes;
	void *mbytes;

	ASSERT_EQ(0, mkioq_queue_new(13, &q));
	bytes = mkioq_queue_bytes(q, &len);
	mbytes = mkioq_queue_mut_bytes(q, &mlen);
	EXPECT_EQ(13 * MKIOQ_SLOT_BYTES, len);
	EXPECT_EQ(len, mlen);
	EXPECT_EQ(bytes, (const void *)mbytes);
	/* The length is optional. */
	EXPECT_EQ(bytes, mkioq_queue_bytes(q, NULL));
	EXPECT_EQ(mbytes, mkioq_queue_mut_bytes(q, NULL));
	mkioq_queue_free(q);
}

TEST(bytes_of_null_queue)
{
	size_t len = 12345;

	EXPECT_NULL(mkioq_queue_bytes(NULL, &len));
	EXPECT_NULL(mkioq_queue_mut_bytes(NULL, &len));
	/* Nothing to report, so the length is not touched. */
	EXPECT_EQ(12345, len);
}

/*
 * The ring is never cached in the handle: words written through
 * mut_bytes (as a GPU or another process would) are what the next call
 * reads.
 */
TEST(mut_bytes_writes_are_seen)
{
	struct mkioq_completion rec;
	struct mkioq_queue *q;
	void *b;

	ASSERT_EQ(0, mkioq_queue_new(4, &q));
	b = mkioq_queue_mut_bytes(q, NULL);
	set_le_word(b, 3, MKIOQ_WORD_OP, MKIOQ_OP_WRITE);
	set_le_word(b, 3, MKIOQ_WORD_SRC_HANDLE, 11);
	set_le_word(b, 3, MKIOQ_WORD_DST_HANDLE, 22);
	set_le_word(b, 3, MKIOQ_WORD_OFFSET_LO, 0x89abcdef);
	set_le_word(b, 3, MKIOQ_WORD_OFFSET_HI, 0x01234567);
	set_le_word(b, 3, MKIOQ_WORD_BYTE_COUNT, 512);
	set_le_word(b, 3, MKIOQ_WORD_TAG, 0xfeedbeef);
	set_le_word(b, 3, MKIOQ_WORD_STATUS, MKIOQ_RESULT_OK);

	ASSERT_EQ(0, mkioq_completion(q, 3, &rec));
	EXPECT_EQ(3, rec.slot);
	EXPECT_EQ(MKIOQ_RESULT_OK, rec.status);
	EXPECT_EQ(MKIOQ_OP_WRITE, rec.op);
	EXPECT_EQ(11, rec.src_handle);
	EXPECT_EQ(22, rec.dst_handle);
	EXPECT_EQ(0x0123456789abcdefULL, rec.offset);
	EXPECT_EQ(512, rec.byte_count);
	EXPECT_EQ(0xfeedbeef, rec.tag);
	EXPECT_EQ(MKIOQ_RESULT_OK, mkioq_slot_status(q, 3));
	EXPECT_FALSE(mkioq_is_recycled(q, 3));

	/* And a raw EMPTY is seen as recycled at once. */
	set_le_word(b, 3, MKIOQ_WORD_STATUS, MKIOQ_STATE_EMPTY);
	EXPECT_TRUE(mkioq_is_recycled(q, 3));
	EXPECT_EQ(-ENODATA, mkioq_completion(q, 3, &rec));
	mkioq_queue_free(q);
}

/* ------------------------------------------------------------------ */
/* Clone                                                               */
/* ------------------------------------------------------------------ */

TEST(clone_is_a_deep_copy)
{
	struct mkioq_queue *q, *c;
	struct mkioq_request req = {
		.op = MKIOQ_OP_READ, .src_handle = 5, .dst_handle = 6,
		.byte_count = 4096, .offset = 0x100001000ULL, .tag = 77,
	};
	size_t len, clen;
	const void *b, *cb;

	ASSERT_EQ(0, mkioq_queue_new(9, &q));
	ASSERT_EQ(0, mkioq_submit(q, 1, &req));
	ASSERT_EQ(0, mkioq_publish_slot(q, 8, 3, 100, 4));
	/* A garbage word must be copied verbatim too. */
	set_le_word(mkioq_queue_mut_bytes(q, NULL), 5, MKIOQ_WORD_STATUS,
		    0xdeadbeef);

	ASSERT_EQ(0, mkioq_queue_clone(q, &c));
	ASSERT_NE(NULL, c);
	EXPECT_NE(q, c);
	EXPECT_EQ(9, mkioq_queue_slot_count(c));
	EXPECT_EQ(-1, mkioq_queue_fd(c));
	EXPECT_EQ(0, c->flags & MKIOQ_QUEUE_F_DEVICE);
	b = mkioq_queue_bytes(q, &len);
	cb = mkioq_queue_bytes(c, &clen);
	ASSERT_EQ(len, clen);
	EXPECT_NE(b, cb);
	EXPECT_EQ(0, memcmp(b, cb, len));

	/* Independent afterwards, in both directions. */
	ASSERT_EQ(0, mkioq_claim(q, 1));
	EXPECT_EQ(MKIOQ_STATE_PUBLISHED, mkioq_slot_status(c, 1));
	ASSERT_EQ(0, mkioq_submit(c, 0, &req));
	EXPECT_EQ(MKIOQ_STATE_EMPTY, mkioq_slot_status(q, 0));
	set_le_word(mkioq_queue_mut_bytes(c, NULL), 8, MKIOQ_WORD_TAG, 1);
	EXPECT_EQ(4, le_word(b, 8, MKIOQ_WORD_TAG));

	/* Freeing one leaves the other usable. */
	mkioq_queue_free(q);
	EXPECT_EQ(0, mkioq_claim(c, 1));
	mkioq_queue_free(c);
}

TEST(clone_null_arguments)
{
	struct mkioq_queue *sentinel = (struct mkioq_queue *)0x1;
	struct mkioq_queue *q, *c = sentinel;

	EXPECT_EQ(-EINVAL, mkioq_queue_clone(NULL, &c));
	EXPECT_EQ(sentinel, c);
	ASSERT_EQ(0, mkioq_queue_new(2, &q));
	EXPECT_EQ(-EINVAL, mkioq_queue_clone(q, NULL));
	mkioq_queue_free(q);
}

/* Freeing nothing is a no-op, like free(NULL). */
TEST(free_null)
{
	mkioq_queue_free(NULL);
}

/* ------------------------------------------------------------------ */
/* Dump and fprint                                                     */
/* ------------------------------------------------------------------ */

/* An empty queue dumps as its header only: EMPTY slots never appear. */
TEST(dump_empty_queue)
{
	struct mkioq_queue *q;
	char *s;

	ASSERT_EQ(0, mkioq_queue_new(64, &q));
	s = dump_alloc(q);
	ASSERT_NE(NULL, s);
	EXPECT_STREQ("mkioq_queue { slot_count: 64, host-owned }\n", s);
	free(s);
	mkioq_queue_free(q);
}

/* One line per non-EMPTY slot, with readable state and op names. */
TEST(dump_lists_busy_slots)
{
	struct mkioq_request w = {
		.op = MKIOQ_OP_WRITE, .src_handle = 9, .dst_handle = 10,
		.byte_count = 4096, .offset = 0x100001000ULL, .tag = 1234,
	};
	struct mkioq_request f = {
		.op = MKIOQ_OP_FENCE, .src_handle = 1, .tag = 1000,
	};
	struct mkioq_queue *q;
	void *b;
	char *s;

	ASSERT_EQ(0, mkioq_queue_new(64, &q));
	b = mkioq_queue_mut_bytes(q, NULL);
	ASSERT_EQ(0, mkioq_submit(q, 3, &w));
	ASSERT_EQ(0, mkioq_submit_dma_read(q, 10, 1, 2, 64, 6));
	ASSERT_EQ(0, mkioq_claim(q, 10));
	ASSERT_EQ(0, mkioq_complete(q, 10));
	ASSERT_EQ(0, mkioq_submit(q, 20, &f));
	ASSERT_EQ(0, mkioq_claim(q, 20));
	ASSERT_EQ(0, mkioq_complete_error(q, 20, EIO));
	ASSERT_EQ(0, mkioq_publish_slot(q, 33, 7, 4096, 99));
	ASSERT_EQ(0, mkioq_submit_dma_read(q, 40, 1, 2, 64, 6));
	ASSERT_EQ(0, mkioq_claim(q, 40));
	set_le_word(b, 62, MKIOQ_WORD_STATUS, MKIOQ_STATE_DONE);
	/* An unknown state and op still dump, as "?". */
	set_le_word(b, 63, MKIOQ_WORD_STATUS, 0x42);
	set_le_word(b, 63, MKIOQ_WORD_OP, 0x99);

	s = dump_alloc(q);
	ASSERT_NE(NULL, s);
	/* Header plus the seven busy slots. */
	EXPECT_EQ(8, count_char(s, '\n'));
	EXPECT_NE(NULL, strstr(s, "slot  3: PUBLISHED (0x01) op=WRITE(0x2) "
				  "src=9 dst=10 offset=0x100001000 "
				  "bytes=4096 tag=1234\n"));
	EXPECT_NE(NULL, strstr(s, "slot 10: OK        (0x10) op=READ(0x1)"));
	/* ERROR carries the errno in TAG: EIO, not the tag 1000. */
	EXPECT_NE(NULL, strstr(s, "slot 20: ERROR     (0x11) op=FENCE(0x3) "
				  "src=1 dst=0 offset=0x0 bytes=0 tag=5\n"));
	EXPECT_NE(NULL, strstr(s, "slot 33: PUBLISHED (0x01) op=READ(0x1) "
				  "src=0 dst=7 offset=0x0 bytes=4096 "
				  "tag=99\n"));
	EXPECT_NE(NULL, strstr(s, "slot 40: CLAIMED   (0x02)"));
	EXPECT_NE(NULL, strstr(s, "slot 62: DONE      (0x03)"));
	EXPECT_NE(NULL, strstr(s, "slot 63: ?         (0x42) op=?(0x99)"));
	/* EMPTY slots never appear. */
	EXPECT_EQ(NULL, strstr(s, "slot  0:"));
	EXPECT_EQ(NULL, strstr(s, "slot 11:"));
	EXPECT_EQ(NULL, strstr(s, "EMPTY"));
	if (!_metadata->passed)
		TH_LOG("dump:\n%s", s);
	free(s);
	mkioq_queue_free(q);
}

/*
 * snprintf semantics for every buffer length: at most len bytes written
 * including the NUL, the text is a prefix of the whole dump, nothing past
 * len is touched, and the return value is always the full length.
 */
TEST(dump_truncates_like_snprintf)
{
	struct mkioq_queue *q;
	char *full, *buf;
	size_t len, n;
	int ret;

	ASSERT_EQ(0, mkioq_queue_new(8, &q));
	ASSERT_EQ(0, mkioq_submit_dma_read(q, 2, 1, 2, 4096, 3));
	ASSERT_EQ(0, mkioq_publish_slot(q, 7, 7, 4096, 99));
	full = dump_alloc(q);
	ASSERT_NE(NULL, full);
	n = strlen(full);
	ASSERT_EQ((int)n, mkioq_queue_dump(q, NULL, 0));

	buf = malloc(n + 64);
	ASSERT_NE(NULL, buf);
	for (len = 0; len <= n + 8; len++) {
		memset(buf, 0x5a, n + 64);
		ret = mkioq_queue_dump(q, len ? buf : NULL, len);
		ASSERT_EQ((int)n, ret);
		if (len) {
			size_t want = len - 1 < n ? len - 1 : n;

			ASSERT_EQ(want, strlen(buf));
			ASSERT_EQ(0, memcmp(buf, full, want));
		}
		/* Canary: not one byte past len. */
		ASSERT_EQ((char)0x5a, buf[len]);
	}
	/* A zero length with a buffer writes nothing at all. */
	memset(buf, 0x5a, n + 64);
	EXPECT_EQ((int)n, mkioq_queue_dump(q, buf, 0));
	EXPECT_EQ((char)0x5a, buf[0]);
	free(buf);
	free(full);
	mkioq_queue_free(q);
}

TEST(dump_null_arguments)
{
	struct mkioq_queue *q;
	char buf[8] = "xxxxxxx";

	EXPECT_EQ(-EINVAL, mkioq_queue_dump(NULL, buf, sizeof(buf)));
	EXPECT_EQ(-EINVAL, mkioq_queue_dump(NULL, NULL, 0));
	ASSERT_EQ(0, mkioq_queue_new(1, &q));
	EXPECT_EQ(-EINVAL, mkioq_queue_dump(q, NULL, 1));
	EXPECT_STREQ("xxxxxxx", buf);
	mkioq_queue_free(q);
}

/* fprint writes exactly the dump. */
TEST(fprint_matches_dump)
{
	struct mkioq_queue *q;
	char *d, *p;
	int ret = -1;

	ASSERT_EQ(0, mkioq_queue_new(16, &q));
	ASSERT_EQ(0, mkioq_submit_dma_read(q, 4, 1, 2, 4096, 3));
	ASSERT_EQ(0, mkioq_publish_slot(q, 15, 7, 4096, 99));
	d = dump_alloc(q);
	p = fprint_alloc(q, &ret);
	ASSERT_NE(NULL, d);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, ret);
	EXPECT_STREQ(d, p);
	free(d);
	free(p);
	mkioq_queue_free(q);
}

/*
 * The longest possible dump: 64 slots whose every word is 0xffffffff
 * (unknown state and op, ten-digit numbers, 16-digit offset). fprint
 * must not cut it short.
 */
TEST(fprint_longest_dump)
{
	struct mkioq_queue *q;
	size_t len;
	char *d, *p;
	void *b;
	int ret = -1;

	ASSERT_EQ(0, mkioq_queue_new(MKIOQ_MAX_SLOTS, &q));
	b = mkioq_queue_mut_bytes(q, &len);
	memset(b, 0xff, len);
	d = dump_alloc(q);
	p = fprint_alloc(q, &ret);
	ASSERT_NE(NULL, d);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(1 + MKIOQ_MAX_SLOTS, count_char(d, '\n'));
	EXPECT_EQ(strlen(d), strlen(p));
	/* strcmp, not EXPECT_STREQ: a failure would log 9 KiB twice. */
	EXPECT_EQ(0, strcmp(d, p));
	free(d);
	free(p);
	mkioq_queue_free(q);
}

TEST(fprint_null_arguments)
{
	struct mkioq_queue *q;
	FILE *f = fopen("/dev/null", "w");

	ASSERT_NE(NULL, f);
	EXPECT_EQ(-EINVAL, mkioq_queue_fprint(NULL, f));
	ASSERT_EQ(0, mkioq_queue_new(1, &q));
	EXPECT_EQ(-EINVAL, mkioq_queue_fprint(q, NULL));
	mkioq_queue_free(q);
	fclose(f);
}

/* ------------------------------------------------------------------ */
/* mkioq_strerror                                                      */
/* ------------------------------------------------------------------ */

/*
 * Every errno a libmkioq call returns, its own or passed on from the
 * module (ioctls, and the errno an ERROR completion carries in TAG).
 */
static const int lib_errnos[] = {
	EINVAL, ERANGE, EBUSY, EAGAIN, EPERM, EBADSLT, ENODATA, EALREADY,
	EPROTO, ENOTTY, EOPNOTSUPP, EFBIG, EBADFD, ENOENT, EBADF, EACCES,
	ENOMEM, ETIMEDOUT, EOVERFLOW, ENOSPC, EMSGSIZE, ENOBUFS, ECANCELED,
	EFAULT, ENXIO, ETIME, EIO, EINTR, ENODEV, EMFILE, ENOSYS,
};

/*
 * Each has its own text of the form "what went wrong: how to fix it",
 * and the sign of the code does not matter.
 */
TEST(strerror_every_library_errno)
{
	const char *fallback = mkioq_strerror(9999);
	const char *t, *hint;
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(lib_errnos); i++) {
		t = mkioq_strerror(-lib_errnos[i]);
		ASSERT_NE(NULL, t);
		EXPECT_STREQ(t, mkioq_strerror(lib_errnos[i]));
		EXPECT_STRNE(fallback, t);
		hint = strstr(t, ": ");
		EXPECT_NE(NULL, hint);
		if (hint)
			EXPECT_LT(10, strlen(hint + 2));
		for (j = 0; j < i; j++)
			EXPECT_STRNE(mkioq_strerror(-lib_errnos[j]), t);
		if (!_metadata->passed)
			TH_LOG("errno %d: \"%s\"", lib_errnos[i], t);
	}
}

TEST(strerror_unknown_and_zero)
{
	static const int unknown[] = { 9999, -9999, EDOM, -EDOM, INT_MAX,
				       -INT_MAX, INT_MIN };
	const char *fallback = mkioq_strerror(9999);
	size_t i;

	ASSERT_NE(NULL, fallback);
	EXPECT_LT(0, strlen(fallback));
	EXPECT_STRNE("success", fallback);
	for (i = 0; i < ARRAY_SIZE(unknown); i++)
		EXPECT_STREQ(fallback, mkioq_strerror(unknown[i]));
	EXPECT_STREQ("success", mkioq_strerror(0));
}

TEST_HARNESS_MAIN

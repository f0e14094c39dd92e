// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for libmkioq's ring calls (make fuzz).
 *
 * The input is a program: a sequence of operations on two queue handles
 * (each may be NULL), with arbitrary slot indices, request fields, batch
 * lists, buffer lengths and raw writes of any word, STATUS included. The
 * ring is the whole state, so before each call the expected result is
 * computed from a snapshot of it, and after the call this checks:
 *
 *  - the return value is the one the state machine prescribes;
 *  - a call that failed changed no byte of the ring;
 *  - a successful call changed exactly the words it owns (submit: the
 *    slot now holds the request, PUBLISHED; claim: STATUS PUBLISHED ->
 *    CLAIMED and nothing else; complete: STATUS only; ...);
 *  - readers (completion, is_recycled, slot_recycled, slot_status, dump)
 *    change nothing, and completion of an EMPTY slot fails;
 *  - dump never writes past its length, truncates like snprintf and
 *    lists exactly the non-EMPTY slots;
 *  - the other queue is never touched.
 *
 * A violated invariant abort()s; ASan and UBSan catch the rest.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmkioq.h>

/* UB is a finding even though the Makefile does not set UBSAN_OPTIONS. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NWORDS		(MKIOQ_MAX_SLOTS * MKIOQ_SLOT_WORDS)
#define DUMP_MAX	(MKIOQ_MAX_SLOTS * 256 + 256)

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "ring_fuzz: %s:%d: %s\n", __func__,	\
			__LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

#define CHECK_RET(want, got) do {					\
	long __w = (want), __g = (got);					\
	if (__w != __g) {						\
		fprintf(stderr, "ring_fuzz: %s:%d: expected %ld, got %ld\n",\
			__func__, __LINE__, __w, __g);			\
		abort();						\
	}								\
} while (0)

/* ------------------------------------------------------------------ */
/* Input                                                               */
/* ------------------------------------------------------------------ */

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t in8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint32_t in32(struct input *in)
{
	uint32_t v = in8(in);

	v |= (uint32_t)in8(in) << 8;
	v |= (uint32_t)in8(in) << 16;
	return v | (uint32_t)in8(in) << 24;
}

static uint64_t in64(struct input *in)
{
	uint64_t lo = in32(in);

	return lo | (uint64_t)in32(in) << 32;
}

/* Mostly a valid slot, sometimes just past the end, sometimes anything. */
static uint32_t in_slot(struct input *in, const struct mkioq_queue *q)
{
	uint8_t b = in8(in);
	uint32_t count = q ? q->slot_count : 1;

	switch (b >> 6) {
	case 3:
		return b & 0x20 ? in32(in) : count + (b & 3);
	default:
		return (b & 0x3f) % count;
	}
}

/* A small or an arbitrary value: handles, counts, tags. */
static uint32_t in_val(struct input *in)
{
	uint8_t b = in8(in);

	return b & 0x80 ? in32(in) : b & 0x7f;
}

static uint32_t in_status(struct input *in)
{
	static const uint32_t states[] = {
		MKIOQ_STATE_EMPTY, MKIOQ_STATE_PUBLISHED, MKIOQ_STATE_CLAIMED,
		MKIOQ_STATE_DONE, MKIOQ_RESULT_OK, MKIOQ_RESULT_ERROR,
	};
	uint8_t b = in8(in);

	if (b < 0xc0)
		return states[b % 6];
	return b & 1 ? in32(in) : b & 0x1f;
}

/* ------------------------------------------------------------------ */
/* Ring snapshots                                                      */
/* ------------------------------------------------------------------ */

struct snap {
	bool present;
	uint32_t count;
	uint32_t w[NWORDS];
};

static uint32_t word(const struct mkioq_queue *q, uint32_t slot,
		     unsigned int w)
{
	const uint8_t *b = mkioq_queue_bytes(q, NULL);
	uint32_t v;

	memcpy(&v, b + ((size_t)slot * MKIOQ_SLOT_WORDS + w) * 4, 4);
	return v;
}

static void set_word(struct mkioq_queue *q, uint32_t slot, unsigned int w,
		     uint32_t v)
{
	uint8_t *b = mkioq_queue_mut_bytes(q, NULL);

	memcpy(b + ((size_t)slot * MKIOQ_SLOT_WORDS + w) * 4, &v, 4);
}

static void take(const struct mkioq_queue *q, struct snap *s)
{
	size_t len = 0;
	const void *b;

	s->present = q != NULL;
	if (!q)
		return;
	b = mkioq_queue_bytes(q, &len);
	CHECK(b != NULL);
	CHECK(len == (size_t)q->slot_count * MKIOQ_SLOT_BYTES);
	CHECK(q->slot_count >= 1 && q->slot_count <= MKIOQ_MAX_SLOTS);
	s->count = q->slot_count;
	memcpy(s->w, b, len);
}

static uint32_t sw(const struct snap *s, uint32_t slot, unsigned int w)
{
	return s->w[slot * MKIOQ_SLOT_WORDS + w];
}

/*
 * Every word of @q equals the snapshot, except the words in mask[slot]
 * (mask NULL: none).
 */
static void same_masked(const struct mkioq_queue *q, const struct snap *s,
			const uint8_t *mask)
{
	uint32_t slot;
	unsigned int w;

	CHECK(s->present == (q != NULL));
	if (!q)
		return;
	CHECK(q->slot_count == s->count);
	if (!mask) {
		CHECK(!memcmp(mkioq_queue_bytes(q, NULL), s->w,
			      (size_t)s->count * MKIOQ_SLOT_BYTES));
		return;
	}
	for (slot = 0; slot < s->count; slot++)
		for (w = 0; w < MKIOQ_SLOT_WORDS; w++)
			if (!(mask && mask[slot] & 1U << w))
				CHECK(word(q, slot, w) == sw(s, slot, w));
}

static void same(const struct mkioq_queue *q, const struct snap *s)
{
	same_masked(q, s, NULL);
}

static void same_except(const struct mkioq_queue *q, const struct snap *s,
			uint32_t slot, uint8_t mask)
{
	uint8_t m[MKIOQ_MAX_SLOTS] = { 0 };

	m[slot] = mask;
	same_masked(q, s, m);
}

#define W(w)		(1U << (w))
#define STATUS_ONLY	W(MKIOQ_WORD_STATUS)
#define WHOLE_SLOT	0xff

/* The common prefix of every slot call: NULL queue, then range. */
static int slot_error(const struct snap *s, uint32_t slot)
{
	if (!s->present)
		return -EINVAL;
	if (slot >= s->count)
		return -ERANGE;
	return 0;
}

static bool valid_op(uint32_t op)
{
	return op == MKIOQ_OP_READ || op == MKIOQ_OP_WRITE ||
	       op == MKIOQ_OP_FENCE;
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

struct state {
	struct mkioq_queue *qs[2];
	struct snap pre;	/* the queue operated on, before the call */
	char dump[DUMP_MAX];
	char ref[DUMP_MAX];
};

static void op_new(struct state *st, struct input *in, unsigned int i)
{
	struct mkioq_queue *q = NULL;
	uint8_t b = in8(in);
	uint32_t count = b & 0x80 ? in32(in) : b & 0x7f;
	size_t len;
	const uint8_t *bytes;
	int ret;

	ret = mkioq_queue_new(count, &q);
	if (count < 1 || count > MKIOQ_MAX_SLOTS) {
		CHECK_RET(-EINVAL, ret);
		CHECK(q == NULL);
		return;
	}
	CHECK_RET(0, ret);
	CHECK(q && mkioq_queue_slot_count(q) == count);
	bytes = mkioq_queue_bytes(q, &len);
	CHECK(len == (size_t)count * MKIOQ_SLOT_BYTES);
	for (size_t k = 0; k < len; k++)
		CHECK(bytes[k] == 0);
	mkioq_queue_free(st->qs[i]);
	st->qs[i] = q;
}

static void submit_post(struct state *st, struct mkioq_queue *q, int ret,
			int want, uint32_t slot, uint32_t op, uint32_t src,
			uint32_t dst, uint64_t offset, uint32_t bytes,
			uint32_t tag)
{
	CHECK_RET(want, ret);
	if (ret) {
		same(q, &st->pre);
		return;
	}
	CHECK(word(q, slot, MKIOQ_WORD_OP) == op);
	CHECK(word(q, slot, MKIOQ_WORD_SRC_HANDLE) == src);
	CHECK(word(q, slot, MKIOQ_WORD_DST_HANDLE) == dst);
	CHECK(word(q, slot, MKIOQ_WORD_OFFSET_LO) == (uint32_t)offset);
	CHECK(word(q, slot, MKIOQ_WORD_OFFSET_HI) == (uint32_t)(offset >> 32));
	CHECK(word(q, slot, MKIOQ_WORD_BYTE_COUNT) == bytes);
	CHECK(word(q, slot, MKIOQ_WORD_STATUS) == MKIOQ_STATE_PUBLISHED);
	CHECK(word(q, slot, MKIOQ_WORD_TAG) == tag);
	same_except(q, &st->pre, slot, WHOLE_SLOT);
}

/* What any submit into @slot must return, given the request's validity. */
static int submit_want(const struct snap *s, uint32_t slot, bool req_ok)
{
	int err = slot_error(s, slot);

	if (err)
		return err;
	if (!req_ok)
		return -EINVAL;
	if (sw(s, slot, MKIOQ_WORD_STATUS) != MKIOQ_STATE_EMPTY)
		return -EBUSY;
	return 0;
}

static void op_submit(struct state *st, struct input *in,
		      struct mkioq_queue *q)
{
	static const uint32_t ops[] = {
		MKIOQ_OP_READ, MKIOQ_OP_WRITE, MKIOQ_OP_FENCE, 0,
	};
	struct mkioq_request req;
	uint32_t slot = in_slot(in, q);
	uint8_t b = in8(in);
	bool null_req = b == 0xff;
	int want, ret;

	req.op = b & 0x80 ? in32(in) : ops[b & 3];
	req.src_handle = b & 0x40 ? 0 : in_val(in);
	req.dst_handle = in_val(in);
	req.byte_count = in_val(in);
	req.offset = b & 0x20 ? in64(in) : in_val(in);
	req.tag = in_val(in);

	want = submit_want(&st->pre, slot, !null_req && valid_op(req.op) &&
			   req.src_handle != MKIOQ_HANDLE_NONE);
	ret = mkioq_submit(q, slot, null_req ? NULL : &req);
	submit_post(st, q, ret, want, slot, req.op, req.src_handle,
		    req.dst_handle, req.offset, req.byte_count, req.tag);
}

static void op_submit_dma_read(struct state *st, struct input *in,
			       struct mkioq_queue *q)
{
	uint32_t slot = in_slot(in, q);
	uint32_t src = in_val(in), dst = in_val(in), bytes = in_val(in);
	uint32_t tag = in_val(in);
	int want, ret;

	want = submit_want(&st->pre, slot, src != MKIOQ_HANDLE_NONE);
	ret = mkioq_submit_dma_read(q, slot, src, dst, bytes, tag);
	submit_post(st, q, ret, want, slot, MKIOQ_OP_READ, src, dst, 0, bytes,
		    tag);
}

static void op_publish_slot(struct state *st, struct input *in,
			    struct mkioq_queue *q)
{
	uint32_t slot = in_slot(in, q);
	uint32_t mapped = in_val(in), bytes = in_val(in), tag = in_val(in);
	int want, ret;

	want = submit_want(&st->pre, slot, true);
	ret = mkioq_publish_slot(q, slot, mapped, bytes, tag);
	submit_post(st, q, ret, want, slot, MKIOQ_OP_READ, MKIOQ_HANDLE_NONE,
		    mapped, 0, bytes, tag);
}

/* A slot claim may take: a PUBLISHED request, never an ingest. */
static bool claimable(const struct snap *s, uint32_t slot)
{
	return sw(s, slot, MKIOQ_WORD_STATUS) == MKIOQ_STATE_PUBLISHED &&
	       sw(s, slot, MKIOQ_WORD_SRC_HANDLE) != MKIOQ_HANDLE_NONE;
}

static void op_claim(struct state *st, struct input *in,
		     struct mkioq_queue *q)
{
	uint32_t slot = in_slot(in, q);
	int want = slot_error(&st->pre, slot), ret;

	if (!want && sw(&st->pre, slot, MKIOQ_WORD_STATUS) !=
		     MKIOQ_STATE_PUBLISHED)
		want = -EAGAIN;
	else if (!want && !claimable(&st->pre, slot))
		want = -EPERM;
	ret = mkioq_claim(q, slot);
	CHECK_RET(want, ret);
	if (ret) {
		same(q, &st->pre);
		return;
	}
	CHECK(word(q, slot, MKIOQ_WORD_STATUS) == MKIOQ_STATE_CLAIMED);
	same_except(q, &st->pre, slot, STATUS_ONLY);
}

static void op_claim_batch(struct state *st, struct input *in,
			   struct mkioq_queue *q)
{
	/*
	 * max is arbitrary, but a ring has at most 64 slots to claim: out[]
	 * is that long plus a canary, and ASan guards the rest.
	 */
	uint32_t out[MKIOQ_MAX_SLOTS + 8], want_slots[MKIOQ_MAX_SLOTS];
	uint8_t mask[MKIOQ_MAX_SLOTS] = { 0 };
	uint8_t b = in8(in);
	uint32_t max = b & 0x80 ? in32(in) : b & 0x7f;
	bool null_out = (b & 0x7f) == 0x7f;
	uint32_t n = 0, slot, k;
	int want, ret;

	if (!st->pre.present || (null_out && max)) {
		want = -EINVAL;
	} else {
		for (slot = 0; slot < st->pre.count && n < max; slot++)
			if (claimable(&st->pre, slot))
				want_slots[n++] = slot;
		want = (int)n;
	}
	memset(out, 0xa5, sizeof(out));
	ret = mkioq_claim_batch(q, null_out ? NULL : out, max);
	CHECK_RET(want, ret);
	if (ret <= 0) {
		same(q, &st->pre);
	} else {
		for (k = 0; k < n; k++) {
			CHECK(out[k] == want_slots[k]);
			CHECK(word(q, out[k], MKIOQ_WORD_STATUS) ==
			      MKIOQ_STATE_CLAIMED);
			mask[out[k]] = STATUS_ONLY;
		}
		same_masked(q, &st->pre, mask);
	}
	/* Nothing written past what was returned. */
	for (k = ret > 0 ? (uint32_t)ret : 0; k < MKIOQ_MAX_SLOTS + 8; k++)
		CHECK(out[k] == 0xa5a5a5a5);
}

static void op_complete(struct state *st, struct input *in,
			struct mkioq_queue *q)
{
	uint32_t slot = in_slot(in, q);
	int want = slot_error(&st->pre, slot), ret;

	if (!want && sw(&st->pre, slot, MKIOQ_WORD_STATUS) !=
		     MKIOQ_STATE_CLAIMED)
		want = -EBADSLT;
	ret = mkioq_complete(q, slot);
	CHECK_RET(want, ret);
	if (ret) {
		same(q, &st->pre);
		return;
	}
	CHECK(word(q, slot, MKIOQ_WORD_STATUS) == MKIOQ_RESULT_OK);
	same_except(q, &st->pre, slot, STATUS_ONLY);
}

static void op_complete_error(struct state *st, struct input *in,
			      struct mkioq_queue *q)
{
	uint32_t slot = in_slot(in, q);
	uint8_t b = in8(in);
	int err = b & 0x80 ? (int)in32(in) : (int)(b & 0x3f) - 8;
	int want = slot_error(&st->pre, slot), ret;

	/* Either sign, 1..4095 in absolute value (INT_MIN is outside). */
	if (!want && (err == 0 || err < -4095 || err > 4095))
		want = -EINVAL;
	else if (!want && sw(&st->pre, slot, MKIOQ_WORD_STATUS) !=
			  MKIOQ_STATE_CLAIMED)
		want = -EBADSLT;
	ret = mkioq_complete_error(q, slot, err);
	CHECK_RET(want, ret);
	if (ret) {
		same(q, &st->pre);
		return;
	}
	CHECK(word(q, slot, MKIOQ_WORD_STATUS) == MKIOQ_RESULT_ERROR);
	CHECK(word(q, slot, MKIOQ_WORD_TAG) == (uint32_t)(err < 0 ? -err : err));
	same_except(q, &st->pre, slot, STATUS_ONLY | W(MKIOQ_WORD_TAG));
}

static void op_complete_bytes(struct state *st, struct input *in,
			      struct mkioq_queue *q)
{
	uint32_t slot = in_slot(in, q), bytes = in32(in);
	int want = slot_error(&st->pre, slot), ret;

	if (!want && sw(&st->pre, slot, MKIOQ_WORD_STATUS) !=
		     MKIOQ_STATE_CLAIMED)
		want = -EBADSLT;
	else if (!want && bytes > sw(&st->pre, slot, MKIOQ_WORD_BYTE_COUNT))
		want = -EMSGSIZE;
	ret = mkioq_complete_bytes(q, slot, bytes);
	CHECK_RET(want, ret);
	if (ret) {
		same(q, &st->pre);
		return;
	}
	CHECK(word(q, slot, MKIOQ_WORD_STATUS) == MKIOQ_RESULT_OK);
	CHECK(word(q, slot, MKIOQ_WORD_BYTE_COUNT) == bytes);
	same_except(q, &st->pre, slot, STATUS_ONLY | W(MKIOQ_WORD_BYTE_COUNT));
}

static void op_complete_batch(struct state *st, struct input *in,
			      struct mkioq_queue *q)
{
	uint32_t slots[80];
	uint8_t mask[MKIOQ_MAX_SLOTS] = { 0 };
	uint64_t seen = 0;
	uint8_t b = in8(in);
	uint32_t n = b % 80, k;
	bool null_slots = b >= 0xf0;
	int want = 0, ret;

	for (k = 0; k < n; k++)
		slots[k] = in_slot(in, q);
	if (!st->pre.present || (null_slots && n))
		want = -EINVAL;
	/* The first bad entry, in order, decides the error. */
	for (k = 0; !want && !null_slots && k < n; k++) {
		if (slots[k] >= st->pre.count)
			want = -ERANGE;
		else if (seen & 1ULL << slots[k])
			want = -EINVAL;
		else if (sw(&st->pre, slots[k], MKIOQ_WORD_STATUS) !=
			 MKIOQ_STATE_CLAIMED)
			want = -EBADSLT;
		else
			seen |= 1ULL << slots[k];
	}
	ret = mkioq_complete_batch(q, null_slots ? NULL : slots, n);
	CHECK_RET(want, ret);
	if (ret || null_slots) {
		same(q, &st->pre);
		return;
	}
	for (k = 0; k < n; k++) {
		CHECK(word(q, slots[k], MKIOQ_WORD_STATUS) == MKIOQ_RESULT_OK);
		mask[slots[k]] = STATUS_ONLY;
	}
	same_masked(q, &st->pre, mask);
}

static void op_recycle(struct state *st, struct input *in,
		       struct mkioq_queue *q)
{
	uint32_t slot = in_slot(in, q);
	int want = slot_error(&st->pre, slot), ret;

	if (!want) {
		switch (sw(&st->pre, slot, MKIOQ_WORD_STATUS)) {
		case MKIOQ_STATE_EMPTY:
			want = -EALREADY;
			break;
		case MKIOQ_STATE_PUBLISHED:
			if (sw(&st->pre, slot, MKIOQ_WORD_SRC_HANDLE) !=
			    MKIOQ_HANDLE_NONE)
				want = -EBUSY;
			break;
		case MKIOQ_STATE_CLAIMED:
			want = -EBUSY;
			break;
		case MKIOQ_STATE_DONE:
		case MKIOQ_RESULT_OK:
		case MKIOQ_RESULT_ERROR:
			break;
		default:
			want = -EPROTO;
		}
	}
	ret = mkioq_recycle(q, slot);
	CHECK_RET(want, ret);
	if (ret) {
		same(q, &st->pre);
		return;
	}
	CHECK(word(q, slot, MKIOQ_WORD_STATUS) == MKIOQ_STATE_EMPTY);
	same_except(q, &st->pre, slot, STATUS_ONLY);
}

/* The readers: completion, is_recycled, slot_status. */
static void op_read(struct state *st, struct input *in,
		    struct mkioq_queue *q)
{
	struct mkioq_completion rec;
	const struct snap *s = &st->pre;
	uint32_t slot = in_slot(in, q);
	bool null_rec = in8(in) == 0xff;
	int want = slot_error(s, slot), ret;
	uint32_t status = want ? 0 : sw(s, slot, MKIOQ_WORD_STATUS);

	CHECK(mkioq_is_recycled(q, slot) ==
	      (!want && status == MKIOQ_STATE_EMPTY));
	CHECK_RET(want ? want : status == MKIOQ_STATE_EMPTY,
		  mkioq_slot_recycled(q, slot));
	ret = mkioq_slot_status(q, slot);
	/* A garbage STATUS above INT_MAX cannot be returned as itself. */
	if (!want && status > INT32_MAX)
		CHECK_RET(-EPROTO, ret);
	else
		CHECK_RET(want ? want : (int)status, ret);

	if (!want && null_rec)
		want = -EINVAL;
	else if (!want && status == MKIOQ_STATE_EMPTY)
		want = -ENODATA;
	memset(&rec, 0xa5, sizeof(rec));
	ret = mkioq_completion(q, slot, null_rec ? NULL : &rec);
	CHECK_RET(want, ret);
	if (!ret) {
		CHECK(rec.slot == slot);
		CHECK(rec.status == status);
		CHECK(rec.op == sw(s, slot, MKIOQ_WORD_OP));
		CHECK(rec.src_handle == sw(s, slot, MKIOQ_WORD_SRC_HANDLE));
		CHECK(rec.dst_handle == sw(s, slot, MKIOQ_WORD_DST_HANDLE));
		CHECK(rec.offset ==
		      ((uint64_t)sw(s, slot, MKIOQ_WORD_OFFSET_HI) << 32 |
		       sw(s, slot, MKIOQ_WORD_OFFSET_LO)));
		CHECK(rec.byte_count == sw(s, slot, MKIOQ_WORD_BYTE_COUNT));
		CHECK(rec.tag == sw(s, slot, MKIOQ_WORD_TAG));
	}
	same(q, s);
}

/* Clone queue i into the other handle. */
static void op_clone(struct state *st, struct input *in, unsigned int i)
{
	struct mkioq_queue *q = st->qs[i], *c = NULL;
	size_t len, clen;
	const void *b, *cb;
	int ret;

	if (in8(in) == 0xff) {
		CHECK_RET(-EINVAL, mkioq_queue_clone(q, NULL));
		return;
	}
	ret = mkioq_queue_clone(q, &c);
	if (!q) {
		CHECK_RET(-EINVAL, ret);
		CHECK(c == NULL);
		return;
	}
	CHECK_RET(0, ret);
	CHECK(c && c != q);
	CHECK(c->slot_count == q->slot_count);
	CHECK(!(c->flags & MKIOQ_QUEUE_F_DEVICE) && c->fd == -1);
	b = mkioq_queue_bytes(q, &len);
	cb = mkioq_queue_bytes(c, &clen);
	CHECK(len == clen && b != cb && !memcmp(b, cb, len));
	mkioq_queue_free(st->qs[!i]);
	st->qs[!i] = c;
}

static void op_dump(struct state *st, struct input *in,
		    struct mkioq_queue *q)
{
	uint8_t b = in8(in);
	size_t len = b & 0x80 ? in32(in) % DUMP_MAX : b & 0x7f;
	bool null_buf = (b & 0x7f) == 0x7f;
	uint32_t slot, busy = 0, lines = 0;
	int ref, ret;
	size_t k;

	memset(st->dump, 0x5a, sizeof(st->dump));
	ret = mkioq_queue_dump(q, null_buf ? NULL : st->dump, len);
	if (!q || (null_buf && len)) {
		CHECK_RET(-EINVAL, ret);
		for (k = 0; k < sizeof(st->dump); k++)
			CHECK(st->dump[k] == 0x5a);
		return;
	}
	/* The reference: the whole dump, in a buffer that always fits. */
	ref = mkioq_queue_dump(q, st->ref, sizeof(st->ref));
	CHECK(ref > 0 && (size_t)ref < sizeof(st->ref));
	CHECK(strlen(st->ref) == (size_t)ref);
	CHECK_RET(ref, ret);
	if (!null_buf && len) {
		size_t want = len - 1 < (size_t)ref ? len - 1 : (size_t)ref;

		CHECK(strlen(st->dump) == want);
		CHECK(!memcmp(st->dump, st->ref, want));
	}
	/* Never a byte past len (or any byte, with no buffer). */
	for (k = null_buf ? 0 : len; k < sizeof(st->dump); k++)
		CHECK(st->dump[k] == 0x5a);

	/* One header line, then one line per non-EMPTY slot. */
	for (slot = 0; slot < st->pre.count; slot++)
		busy += sw(&st->pre, slot, MKIOQ_WORD_STATUS) !=
			MKIOQ_STATE_EMPTY;
	for (k = 0; k < (size_t)ref; k++)
		lines += st->ref[k] == '\n';
	CHECK(lines == busy + 1);
	same(q, &st->pre);
}

/* fprint writes exactly the dump, however long. */
static void op_fprint(struct state *st, struct mkioq_queue *q)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	ret = mkioq_queue_fprint(q, f);
	fclose(f);
	if (!q) {
		CHECK_RET(-EINVAL, ret);
	} else {
		CHECK_RET(0, ret);
		ret = mkioq_queue_dump(q, st->ref, sizeof(st->ref));
		CHECK(ret >= 0 && (size_t)ret == len);
		CHECK(!memcmp(buf, st->ref, len));
	}
	free(buf);
	CHECK_RET(-EINVAL, mkioq_queue_fprint(q, NULL));
	same(q, &st->pre);
}

/* A GPU, another process or a bug writes any word. */
static void op_raw_write(struct input *in, struct mkioq_queue *q)
{
	uint32_t slot, w;
	uint8_t b = in8(in);

	if (!q)
		return;
	slot = in8(in) % q->slot_count;
	w = b % MKIOQ_SLOT_WORDS;
	set_word(q, slot, w, b & 0x80 ? in_status(in) : in_val(in));
}

static void op_raw_status(struct input *in, struct mkioq_queue *q)
{
	uint32_t slot;

	if (!q)
		return;
	slot = in8(in) % q->slot_count;
	set_word(q, slot, MKIOQ_WORD_STATUS, in_status(in));
}

/*
 * Every word, or every word but STATUS, set at once: reaches full rings
 * and the longest dump in one step.
 */
static void op_raw_fill(struct input *in, struct mkioq_queue *q)
{
	uint8_t b = in8(in);
	uint32_t v = b & 0x80 ? in32(in) : UINT32_MAX, slot;
	unsigned int w;

	if (!q)
		return;
	for (slot = 0; slot < q->slot_count; slot++)
		for (w = 0; w < MKIOQ_SLOT_WORDS; w++)
			if (w != MKIOQ_WORD_STATUS || b & 1)
				set_word(q, slot, w, v);
}

/* Device-only calls: a host queue has no device and nothing changes. */
static void op_device(struct state *st, struct input *in,
		      struct mkioq_queue *q)
{
	struct mkioq_cqe cqes[4];
	struct mkioq_info info;
	uint32_t handle = 0x5a5a5a5a;
	int want = q ? -ENOTTY : -EINVAL;

	switch (in8(in) % 5) {
	case 0:
		CHECK_RET(want, mkioq_doorbell(q));
		break;
	case 1:
		CHECK_RET(want, mkioq_info(q, &info));
		break;
	case 2:
		CHECK_RET(want, mkioq_read_cqes(q, cqes, 4, 0));
		break;
	case 3:
		CHECK_RET(want, mkioq_register(q, 0, 0, 4096, MKIOQ_ACCESS_RW,
					       &handle));
		CHECK(handle == 0x5a5a5a5a);
		break;
	default:
		CHECK_RET(want, mkioq_unregister(q, in_val(in)));
	}
	same(q, &st->pre);
}

static void op_strerror(struct input *in)
{
	/* The edges first: negating INT32_MIN is easy to get wrong. */
	static const int32_t edges[] = { INT32_MIN, INT32_MAX, -1, 0 };
	uint8_t b = in8(in);
	int32_t err = b < 0x80 ? edges[b & 3] : (int32_t)in32(in);
	const char *t = mkioq_strerror(err);

	CHECK(t && *t);
}

enum {
	OP_NEW, OP_FREE, OP_SUBMIT, OP_SUBMIT_DMA_READ, OP_PUBLISH_SLOT,
	OP_CLAIM, OP_CLAIM_BATCH, OP_COMPLETE, OP_COMPLETE_ERROR,
	OP_COMPLETE_BATCH, OP_RECYCLE, OP_READ, OP_CLONE, OP_DUMP, OP_FPRINT,
	OP_RAW_WRITE, OP_RAW_STATUS, OP_RAW_FILL, OP_DEVICE, OP_STRERROR,
	OP_COMPLETE_BYTES, OP_COUNT,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state st;
	struct input in = { .p = data, .n = size };
	struct snap other;
	unsigned int i;

	memset(st.qs, 0, sizeof(st.qs));
	/* Start with one queue so short inputs reach the state machine. */
	if (mkioq_queue_new(1 + in8(&in) % MKIOQ_MAX_SLOTS, &st.qs[0]))
		abort();

	while (in.n) {
		uint8_t op = in8(&in);
		struct mkioq_queue *q;

		i = op >> 7;
		q = st.qs[i];
		take(q, &st.pre);
		take(st.qs[!i], &other);

		switch (op % OP_COUNT) {
		case OP_NEW:
			op_new(&st, &in, i);
			break;
		case OP_FREE:
			mkioq_queue_free(q);
			st.qs[i] = NULL;
			break;
		case OP_SUBMIT:
			op_submit(&st, &in, q);
			break;
		case OP_SUBMIT_DMA_READ:
			op_submit_dma_read(&st, &in, q);
			break;
		case OP_PUBLISH_SLOT:
			op_publish_slot(&st, &in, q);
			break;
		case OP_CLAIM:
			op_claim(&st, &in, q);
			break;
		case OP_CLAIM_BATCH:
			op_claim_batch(&st, &in, q);
			break;
		case OP_COMPLETE:
			op_complete(&st, &in, q);
			break;
		case OP_COMPLETE_ERROR:
			op_complete_error(&st, &in, q);
			break;
		case OP_COMPLETE_BYTES:
			op_complete_bytes(&st, &in, q);
			break;
		case OP_COMPLETE_BATCH:
			op_complete_batch(&st, &in, q);
			break;
		case OP_RECYCLE:
			op_recycle(&st, &in, q);
			break;
		case OP_READ:
			op_read(&st, &in, q);
			break;
		case OP_CLONE:
			op_clone(&st, &in, i);
			/* The target was replaced: compare the source only. */
			same(st.qs[i], &st.pre);
			continue;
		case OP_DUMP:
			op_dump(&st, &in, q);
			break;
		case OP_FPRINT:
			op_fprint(&st, q);
			break;
		case OP_RAW_WRITE:
			op_raw_write(&in, q);
			break;
		case OP_RAW_STATUS:
			op_raw_status(&in, q);
			break;
		case OP_RAW_FILL:
			op_raw_fill(&in, q);
			break;
		case OP_DEVICE:
			op_device(&st, &in, q);
			break;
		case OP_STRERROR:
			op_strerror(&in);
			break;
		}
		/* No call on one queue touches the other. */
		same(st.qs[!i], &other);
	}

	for (i = 0; i < 2; i++)
		mkioq_queue_free(st.qs[i]);
	return 0;
}

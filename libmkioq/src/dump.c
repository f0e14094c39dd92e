// SPDX-License-Identifier: MIT
/* The seed's Debug: a readable dump of every non-EMPTY slot. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include "ring.h"
#include "util.h"

static const char *const state_names[] = {
	[MKIOQ_STATE_EMPTY] = "EMPTY",
	[MKIOQ_STATE_PUBLISHED] = "PUBLISHED",
	[MKIOQ_STATE_CLAIMED] = "CLAIMED",
	[MKIOQ_STATE_DONE] = "DONE",
	[MKIOQ_RESULT_OK] = "OK",
	[MKIOQ_RESULT_ERROR] = "ERROR",
};

static const char *const op_names[] = {
	[MKIOQ_OP_READ] = "READ",
	[MKIOQ_OP_WRITE] = "WRITE",
	[MKIOQ_OP_FENCE] = "FENCE",
};

static const char *name_of(const char *const *names, size_t n, uint32_t v)
{
	return v < n && names[v] ? names[v] : "?";
}

struct out {
	char *buf;
	size_t len;
	size_t used;	/* bytes the whole dump needs, as snprintf counts */
};

__attribute__((format(printf, 2, 3)))
static void out_printf(struct out *o, const char *fmt, ...)
{
	size_t room = o->used < o->len ? o->len - o->used : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->used : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->used += (size_t)n;
}

/*
 * snprintf semantics: writes at most @len bytes including the NUL and
 * returns the length the whole dump needs.
 */
int mkioq_queue_dump(const struct mkioq_queue *q, char *buf, size_t len)
{
	struct mkioq_completion rec;
	struct out o = { .buf = buf, .len = len };
	uint32_t slot;

	if (!q || (!buf && len))
		return -EINVAL;
	if (len)
		buf[0] = '\0';
	out_printf(&o, "mkioq_queue { slot_count: %" PRIu32 ", %s }\n",
		   q->slot_count,
		   q->flags & MKIOQ_QUEUE_F_DEVICE ? "device" : "host-owned");
	for (slot = 0; slot < q->slot_count; slot++) {
		if (mkioq_completion(q, slot, &rec))
			continue;
		out_printf(&o, "  slot %2" PRIu32 ": %-9s (0x%02" PRIx32
			   ") op=%s(0x%" PRIx32 ") src=%" PRIu32
			   " dst=%" PRIu32 " offset=0x%" PRIx64
			   " bytes=%" PRIu32 " tag=%" PRIu32 "\n",
			   slot, name_of(state_names, ARRAY_SIZE(state_names), rec.status),
			   rec.status,
			   name_of(op_names, ARRAY_SIZE(op_names), rec.op), rec.op,
			   rec.src_handle, rec.dst_handle, rec.offset,
			   rec.byte_count, rec.tag);
	}
	return (int)o.used;
}

int mkioq_queue_fprint(const struct mkioq_queue *q, FILE *f)
{
	char buf[MKIOQ_MAX_SLOTS * 160 + 64];
	int n = f ? mkioq_queue_dump(q, buf, sizeof(buf)) : -EINVAL;

	if (n < 0)
		return n;
	if (!f || fputs(buf, f) == EOF)
		return -EIO;
	return 0;
}

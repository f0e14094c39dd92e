/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of the mkioq driver: events/mkioq/ in tracefs. Every event
 * names its queue by the id that the queue's fdinfo shows.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM mkioq

#if !defined(_MKIOQ_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _MKIOQ_TRACE_H

#include <linux/tracepoint.h>
#include <linux/mkioq.h>

#include "mkioq_ring.h"

TRACE_EVENT(mkioq_claim,
	    TP_PROTO(u32 queue, const struct mkioq_req *req),
	    TP_ARGS(queue, req),
	    TP_STRUCT__entry(__field(u32, queue)
			     __field(u32, slot)
			     __field(u32, op)
			     __field(u32, src_handle)
			     __field(u32, dst_handle)
			     __field(u64, offset)
			     __field(u32, byte_count)
			     __field(u32, tag)),
	    TP_fast_assign(__entry->queue = queue;
			   __entry->slot = req->slot;
			   __entry->op = req->op;
			   __entry->src_handle = req->src_handle;
			   __entry->dst_handle = req->dst_handle;
			   __entry->offset = req->offset;
			   __entry->byte_count = req->byte_count;
			   __entry->tag = req->tag;),
	    TP_printk("queue=%u slot=%u op=%u src_handle=%u dst_handle=%u offset=0x%llx byte_count=%u tag=%u",
		      __entry->queue, __entry->slot, __entry->op,
		      __entry->src_handle, __entry->dst_handle, __entry->offset,
		      __entry->byte_count, __entry->tag)
);

TRACE_EVENT(mkioq_complete,
	    TP_PROTO(u32 queue, const struct mkioq_cqe *cqe),
	    TP_ARGS(queue, cqe),
	    TP_STRUCT__entry(__field(u32, queue)
			     __field(u32, slot)
			     __field(u32, status)
			     __field(s32, result)
			     __field(u32, tag)),
	    TP_fast_assign(__entry->queue = queue;
			   __entry->slot = cqe->slot;
			   __entry->status = cqe->status;
			   __entry->result = cqe->result;
			   __entry->tag = cqe->tag;),
	    TP_printk("queue=%u slot=%u status=0x%x result=%d tag=%u",
		      __entry->queue, __entry->slot, __entry->status,
		      __entry->result, __entry->tag)
);

TRACE_EVENT(mkioq_doorbell,
	    TP_PROTO(u32 queue, u32 mode),
	    TP_ARGS(queue, mode),
	    TP_STRUCT__entry(__field(u32, queue)
			     __field(u32, mode)),
	    TP_fast_assign(__entry->queue = queue;
			   __entry->mode = mode;),
	    TP_printk("queue=%u mode=%s", __entry->queue,
		      __entry->mode == MKIOQ_MODE_POLL ? "poll" : "doorbell")
);

TRACE_EVENT(mkioq_service_pass,
	    TP_PROTO(u32 queue, unsigned int requests, unsigned int fences_held,
		     unsigned int completed),
	    TP_ARGS(queue, requests, fences_held, completed),
	    TP_STRUCT__entry(__field(u32, queue)
			     __field(unsigned int, requests)
			     __field(unsigned int, fences_held)
			     __field(unsigned int, completed)),
	    TP_fast_assign(__entry->queue = queue;
			   __entry->requests = requests;
			   __entry->fences_held = fences_held;
			   __entry->completed = completed;),
	    TP_printk("queue=%u requests=%u fences_held=%u completed=%u",
		      __entry->queue, __entry->requests, __entry->fences_held,
		      __entry->completed)
);

/*
 * A poller names its group by the id of the queue that created it (the
 * thread's name is mkioq-poll/ID): a group of one is its queue.
 */
TRACE_EVENT(mkioq_poll_sleep,
	    TP_PROTO(u32 group, u32 members, unsigned long period_jiffies),
	    TP_ARGS(group, members, period_jiffies),
	    TP_STRUCT__entry(__field(u32, group)
			     __field(u32, members)
			     __field(unsigned int, period_us)),
	    TP_fast_assign(__entry->group = group;
			   __entry->members = members;
			   __entry->period_us = jiffies_to_usecs(period_jiffies);),
	    TP_printk("queue=%u members=%u period_us=%u", __entry->group,
		      __entry->members, __entry->period_us)
);

TRACE_EVENT(mkioq_poll_wake,
	    TP_PROTO(u32 group, bool doorbell),
	    TP_ARGS(group, doorbell),
	    TP_STRUCT__entry(__field(u32, group)
			     __field(bool, doorbell)),
	    TP_fast_assign(__entry->group = group;
			   __entry->doorbell = doorbell;),
	    TP_printk("queue=%u reason=%s", __entry->group,
		      __entry->doorbell ? "doorbell" : "period")
);

TRACE_EVENT(mkioq_wait_park,
	    TP_PROTO(u32 queue, u32 slot, u32 parked),
	    TP_ARGS(queue, slot, parked),
	    TP_STRUCT__entry(__field(u32, queue)
			     __field(u32, slot)
			     __field(u32, parked)),
	    TP_fast_assign(__entry->queue = queue;
			   __entry->slot = slot;
			   __entry->parked = parked;),
	    TP_printk("queue=%u slot=%d parked=%u", __entry->queue,
		      (int)__entry->slot, __entry->parked)
);

TRACE_EVENT(mkioq_wait_complete,
	    TP_PROTO(u32 queue, u32 slot, int res, u32 flags),
	    TP_ARGS(queue, slot, res, flags),
	    TP_STRUCT__entry(__field(u32, queue)
			     __field(u32, slot)
			     __field(int, res)
			     __field(u32, flags)),
	    TP_fast_assign(__entry->queue = queue;
			   __entry->slot = slot;
			   __entry->res = res;
			   __entry->flags = flags;),
	    TP_printk("queue=%u slot=%d res=%d flags=0x%x", __entry->queue,
		      (int)__entry->slot, __entry->res, __entry->flags)
);

TRACE_EVENT(mkioq_cq_overflow,
	    TP_PROTO(u32 queue, u32 slot, u32 dropped),
	    TP_ARGS(queue, slot, dropped),
	    TP_STRUCT__entry(__field(u32, queue)
			     __field(u32, slot)
			     __field(u32, dropped)),
	    TP_fast_assign(__entry->queue = queue;
			   __entry->slot = slot;
			   __entry->dropped = dropped;),
	    TP_printk("queue=%u slot=%u dropped=%u", __entry->queue,
		      __entry->slot, __entry->dropped)
);

#endif /* _MKIOQ_TRACE_H */

/* Out of tree: this header is found beside its users (driver/Kbuild). */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE mkioq_trace
#include <trace/define_trace.h>

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The backlog: completion records that no WAIT took yet, for read() and
 * later WAITs (mkioq_backlog.c). Every function runs under mkioq_cq.lock.
 */
#ifndef _MKIOQ_BACKLOG_H
#define _MKIOQ_BACKLOG_H

#include <linux/list.h>
#include <linux/types.h>
#include <linux/mkioq.h>

#define MKIOQ_CQ_ENTRIES	1024	/* completion records buffered */

struct mkioq_rec;

/**
 * struct mkioq_backlog - undelivered records, and what was dropped
 * @pool:		MKIOQ_CQ_ENTRIES records
 * @free:		records of @pool not in use
 * @list:		undelivered records, oldest first
 * @slot:		the same records, per slot
 * @nr:			records on @list
 * @dropped:		records dropped since the last one delivered
 * @dropped_slots:	slots with a dropped record not yet reported
 * @overflow:		records dropped in all
 */
struct mkioq_backlog {
	struct mkioq_rec *pool;
	struct list_head free;
	struct list_head list;
	struct list_head slot[MKIOQ_MAX_SLOTS];
	u32 nr;
	u32 dropped;
	u64 dropped_slots;
	u64 overflow;
};

int mkioq_backlog_alloc(struct mkioq_backlog *bl);
void mkioq_backlog_free(struct mkioq_backlog *bl);
bool mkioq_backlog_add(struct mkioq_backlog *bl, const struct mkioq_cqe *cqe);
bool mkioq_backlog_take(struct mkioq_backlog *bl, u32 slot,
			struct mkioq_cqe *cqe);
bool mkioq_backlog_put_back(struct mkioq_backlog *bl,
			    const struct mkioq_cqe *cqe);
void mkioq_backlog_mark_overflow(struct mkioq_backlog *bl,
				 struct mkioq_cqe *cqe);

/* Is a record for @slot (or any, MKIOQ_ANY_SLOT) waiting? */
static inline bool mkioq_backlog_has(const struct mkioq_backlog *bl, u32 slot)
{
	return !list_empty(slot == MKIOQ_ANY_SLOT ? &bl->list :
			   &bl->slot[slot]);
}

/* Without the lock, for read() and poll(): a hint, rechecked under it. */
static inline bool mkioq_backlog_readable(const struct mkioq_backlog *bl)
{
	return !list_empty_careful(&bl->list) || READ_ONCE(bl->dropped);
}

#endif /* _MKIOQ_BACKLOG_H */

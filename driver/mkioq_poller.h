/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pollers: the kernel threads that service POLL queues, each shared by a
 * group of queues (mkioq_poller.c).
 */
#ifndef _MKIOQ_POLLER_H
#define _MKIOQ_POLLER_H

#include <linux/list.h>
#include <linux/types.h>

struct mkioq_ctx;
struct mkioq_poller;
struct seq_file;

/* Poll-mode defaults and limits, microseconds. */
#define MKIOQ_POLL_IDLE_DEFAULT_US	2000
#define MKIOQ_POLL_IDLE_MAX_US		1000000
#define MKIOQ_POLL_PERIOD_DEFAULT_US	1000
#define MKIOQ_POLL_PERIOD_MAX_US	10000000

/**
 * struct mkioq_poll_member - a POLL queue's place in its poller's group
 * @poller:	the group that serves the queue: set by a successful
 *		mkioq_poller_join() before the queue goes LIVE, referenced
 *		until mkioq_poller_put() at release (a doorbell racing
 *		with shutdown still finds it)
 * @node:	in the group's member list (its lock) from
 *		mkioq_poller_serve() until mkioq_poller_leave()
 */
struct mkioq_poll_member {
	struct mkioq_poller *poller;
	struct list_head node;
};

int mkioq_poller_join(struct mkioq_ctx *ctx, struct mkioq_ctx *target,
		      u32 poll_idle_us, u32 poll_period_us);
void mkioq_poller_serve(struct mkioq_ctx *ctx);
void mkioq_poller_kick(struct mkioq_ctx *ctx);
void mkioq_poller_leave(struct mkioq_ctx *ctx);
void mkioq_poller_put(struct mkioq_ctx *ctx);
void mkioq_poller_show(struct mkioq_ctx *ctx, struct seq_file *m);

#endif /* _MKIOQ_POLLER_H */
